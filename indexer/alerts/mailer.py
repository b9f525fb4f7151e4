"""Delivery: SMTP (tls none | starttls | ssl, optional login, timeouts) or, without SMTP, the outbox.

``Mailer.session()`` opens one connection for a burst of messages (reconnecting after a failure), so an
instant batch or a retry sweep costs one TCP/TLS handshake. ``send`` returns normally only when the
server accepted the message (250 after DATA) or the .eml file is durably in the outbox; anything else
raises :class:`SendError` and the caller leaves the alert pending for a retry.

Outbox mode writes ``<outbox>/<message-id>.eml`` atomically (temp file, fsync, rename, fsync of the
folder); the same Message-ID overwrites the same file, so a replay cannot double a message there.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
import tempfile
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Iterator, Protocol

from indexer.config import MailConfig, SmtpConfig


class SendError(Exception):
    """A message was not accepted; ``temporary`` is False for 5xx answers (still retried, slower)."""

    def __init__(self, message: str, temporary: bool = True) -> None:
        super().__init__(message)
        self.temporary = temporary


class Sender(Protocol):
    def send(self, msg: EmailMessage) -> str | None:
        """Deliver; return a note (e.g. refused recipients) or None. Raise SendError if not accepted."""


def _recipients(msg: EmailMessage) -> list[str]:
    return [addr for _name, addr in getaddresses([str(v) for v in msg.get_all("To", []) + msg.get_all("Cc", [])]) if addr]


def _sender_addr(msg: EmailMessage) -> str:
    pairs = getaddresses([str(msg["From"])])
    return pairs[0][1] if pairs else ""


class SmtpSender:
    """One (lazily opened) SMTP connection; reconnects on the next send after an error."""

    def __init__(self, cfg: SmtpConfig) -> None:
        self.cfg = cfg
        self._conn: smtplib.SMTP | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.cfg.ca_file)
        if not self.cfg.verify_certs:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _connect(self) -> smtplib.SMTP:
        cfg = self.cfg
        kwargs = {"timeout": cfg.timeout_s, "local_hostname": cfg.local_hostname}
        if cfg.tls == "ssl":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, context=self._ssl_context(), **kwargs)
        else:
            conn = smtplib.SMTP(cfg.host, cfg.port, **kwargs)
        try:
            conn.ehlo()
            if cfg.tls == "starttls":
                conn.starttls(context=self._ssl_context())
                conn.ehlo()
            if cfg.username:
                secret = cfg.password
                password = "" if secret is None else getattr(secret, "get_secret_value", lambda: str(secret))()
                conn.login(cfg.username, password)
        except BaseException:
            _quietly_close(conn)
            raise
        return conn

    def send(self, msg: EmailMessage) -> str | None:
        recipients = _recipients(msg)
        if not recipients:
            raise SendError("message has no recipients", temporary=False)
        try:
            if self._conn is None:
                self._conn = self._connect()
            refused = self._conn.send_message(msg, from_addr=_sender_addr(msg), to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as err:
            self.close()
            raise SendError(f"all recipients refused: {err.recipients}", temporary=False) from err
        except smtplib.SMTPResponseException as err:
            self.close()
            text = err.smtp_error.decode("utf-8", "replace") if isinstance(err.smtp_error, bytes) else str(err.smtp_error)
            raise SendError(f"SMTP {err.smtp_code}: {text}", temporary=not 500 <= err.smtp_code < 600) from err
        except (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError) as err:
            self.close()
            raise SendError(f"{type(err).__name__}: {err}") from err
        if refused:
            return f"refused recipients: {sorted(refused)}"
        return None

    def close(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None


def _quietly_close(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except Exception:
        try:
            conn.close()
        except Exception:
            pass


_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=-]")


def eml_name(message_id: str) -> str:
    """File name for a Message-ID: ``<a.b@c>`` → ``a.b@c.eml`` (anything unusual replaced)."""
    core = _UNSAFE.sub("_", message_id.strip().strip("<>")) or "message"
    return core[:200] + ".eml"


class OutboxSender:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def send(self, msg: EmailMessage) -> str | None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            target = self.folder / eml_name(str(msg["Message-ID"]))
            data = msg.as_bytes()
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".eml", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                raise
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as err:
            raise SendError(f"outbox: {err}") from err
        return None

    def close(self) -> None:
        pass


class Mailer:
    """Chooses SMTP or the outbox from ``MailConfig``."""

    def __init__(self, cfg: MailConfig) -> None:
        self.cfg = cfg

    @property
    def mode(self) -> str:
        return "smtp" if self.cfg.smtp is not None else "outbox"

    def _sender(self) -> SmtpSender | OutboxSender:
        return SmtpSender(self.cfg.smtp) if self.cfg.smtp is not None else OutboxSender(self.cfg.outbox)

    @contextmanager
    def session(self) -> Iterator[SmtpSender | OutboxSender]:
        sender = self._sender()
        try:
            yield sender
        finally:
            sender.close()

    def send(self, msg: EmailMessage) -> str | None:
        with self.session() as sender:
            return sender.send(msg)

    def where(self, message_id: str) -> str:
        """Human-readable destination of a sent message, for the CLI."""
        if self.cfg.smtp is not None:
            return f"smtp {self.cfg.smtp.host}:{self.cfg.smtp.port}, Message-ID {message_id}"
        return str(Path(self.cfg.outbox) / eml_name(message_id))
