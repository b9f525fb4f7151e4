"""Delivery: SMTP (tls none | starttls | ssl, optional login, timeouts) or, without SMTP, the outbox.

``Mailer.session()`` opens one connection for a burst of messages (reconnecting after a failure), so an
instant batch or a retry sweep costs one TCP/TLS handshake. A message counts as delivered once ``send``
returned and then ``commit`` returned: SMTP accepted it (250 after DATA) in ``send``, and its ``commit``
does nothing; an outbox file is durably in place after ``commit``. Anything else raises
:class:`SendError` and the caller leaves the alert pending for a retry.

Outbox mode stages ``<outbox>/<message-id>.eml`` as a temp file in ``send``; ``commit`` fsyncs the staged
files, renames them into place and fsyncs the folder once, so a burst of mails costs one folder sync and
the file syncs overlap. The same Message-ID overwrites the same file, so a replay cannot double a message
there, and a mail staged but never committed (a crash) is simply sent again. ``group`` is how many
messages a caller may stage before it must commit: 1 for SMTP, where a message is out once accepted.
"""

from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Container, Iterator, Protocol

from indexer.config import MailConfig, SmtpConfig


class SendError(Exception):
    """A message was not accepted; ``temporary`` is False for 5xx answers (still retried).

    ``remaining``: when the message reached some of its recipients before the failure, the ones it
    did not reach; a retry is for them only (None: it reached nobody)."""

    def __init__(self, message: str, temporary: bool = True, remaining: list[str] | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.remaining = remaining


class Sender(Protocol):
    group: int

    def send(self, msg: EmailMessage, to: list[str] | None = None) -> str | None:
        """Deliver or stage; return a note (e.g. refused recipients) or None. Raise SendError if not accepted.
        ``to``: the recipients still owed the message, of those its To header names (None: all of them)."""

    def commit(self) -> None:
        """Make every message sent since the last commit durable. Raise SendError if that failed."""


def envelope(msg: EmailMessage) -> tuple[str, list[str]]:
    """MAIL FROM and RCPT TO of a mail: the address specs of its From and To headers, each once (smtplib
    takes a message refused for every RCPT as sent to someone when an address repeats)."""
    sender, to = msg["From"], msg["To"]
    return (sender.addresses[0].addr_spec if sender is not None and sender.addresses else "",
            list(dict.fromkeys(a.addr_spec for a in to.addresses)) if to is not None else [])


def message_id(msg: EmailMessage) -> str:
    return str(msg["Message-ID"] or "")


class SmtpSender:
    """One (lazily opened) SMTP connection; reconnects on the next send after an error."""

    group = 1

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

    def send(self, msg: EmailMessage, to: list[str] | None = None) -> str | None:
        sender, recipients = envelope(msg)
        recipients = to if to is not None else recipients
        if not recipients:
            raise SendError("message has no recipients", temporary=False)
        waiting, permanent = recipients, {}
        while True:
            try:
                refused = self._transaction(msg, sender, waiting)
            except SendError as err:
                if waiting != recipients:
                    err.remaining = waiting  # the others have the message: a retry is for these only
                raise
            permanent |= {a: code for a, (code, _) in refused.items() if not 400 <= code < 500}
            again = [a for a in waiting if a in refused and 400 <= refused[a][0] < 500]
            if not again:
                break
            if all(a in refused for a in waiting):  # nobody accepted this time: the others are for a retry
                code, reply = refused[again[0]]
                gone = f"; refused: {sorted(permanent)}" if permanent else ""
                raise SendError(f"recipients refused for now: {again} ({code} {_text(reply)}){gone}",
                                remaining=again if again != recipients else None)
            # RFC 5321 4.5.3.1.10: a server's recipient limit answers 452; the rest go in a new transaction
            waiting = again
        if permanent:
            if all(a in permanent for a in recipients):
                raise SendError(f"all recipients refused: {permanent}", temporary=False)
            return f"refused recipients: {sorted(permanent)}"
        return None

    def _transaction(self, msg: EmailMessage, sender: str, recipients: list[str]) -> dict[str, tuple[int, bytes]]:
        """One MAIL/RCPT/DATA; the recipients refused at RCPT (every one of them when nobody was
        accepted, and the message was not sent)."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            international = not "".join([sender, *recipients]).isascii()
            if international and not self._conn.has_extn("smtputf8"):
                raise SendError("a non-ASCII address needs SMTPUTF8, which the server does not offer",
                                temporary=False)
            # send_message asks for SMTPUTF8 (and writes the headers as UTF-8) when an address is not ASCII
            return self._conn.send_message(msg, from_addr=sender, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as err:
            self.close()
            return err.recipients
        except smtplib.SMTPResponseException as err:
            self.close()
            raise SendError(f"SMTP {err.smtp_code}: {_text(err.smtp_error)}",
                            temporary=not 500 <= err.smtp_code < 600) from err
        except (smtplib.SMTPException, OSError, socket.timeout, ssl.SSLError) as err:
            self.close()
            raise SendError(f"{type(err).__name__}: {err}") from err

    def commit(self) -> None:
        pass  # accepted by the server in send()

    def close(self) -> None:
        if self._conn is not None:
            _quietly_close(self._conn)
            self._conn = None


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


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
    group = 200  # staged files held open until commit

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._staged: dict[str, int] = {}  # final file name -> fd of its temp file

    def _tmp(self, name: str) -> Path:
        # Named by the Message-ID (a resend, even after a crash, rewrites the same file), so no random
        # name and exclusive create per mail.
        return self.folder / f".tmp-{name}"

    def _open(self, tmp: Path) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        try:
            return os.open(tmp, flags, 0o600)
        except FileNotFoundError:  # first mail, or the folder was removed: one mkdir, not one per mail
            self.folder.mkdir(parents=True, exist_ok=True)
            return os.open(tmp, flags, 0o600)

    def send(self, msg: EmailMessage, to: list[str] | None = None) -> str | None:
        # one file holds the message for every recipient: a partial delivery never happens here
        try:
            name = eml_name(message_id(msg))
            data = msg.as_bytes()
            again = self._staged.pop(name, None)  # staged twice: one temp file, the last content
            if again is not None:
                os.close(again)
            fd = self._open(self._tmp(name))
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            except BaseException:
                self._discard({name: fd})  # a half-written mail must never be committed
                raise
            self._staged[name] = fd
        except OSError as err:
            raise SendError(f"outbox: {err}") from err
        return None

    def commit(self) -> None:
        staged, self._staged = self._staged, {}
        if not staged:
            return
        placed: set[str] = set()
        try:
            for fd in staged.values():
                os.fsync(fd)
            for name in staged:
                os.replace(self._tmp(name), self.folder / name)
                placed.add(name)
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as err:
            raise SendError(f"outbox: {err}") from err
        finally:
            self._discard(staged, placed)

    def close(self) -> None:
        staged, self._staged = self._staged, {}
        self._discard(staged)  # never committed: those alerts are still pending and will be sent again

    def _discard(self, staged: dict[str, int], placed: Container[str] = ()) -> None:
        """Close the staged files and remove the temp files of those not renamed into place."""
        for name, fd in staged.items():
            try:
                os.close(fd)
            except OSError:
                pass
            if name in placed:
                continue
            try:
                os.unlink(self._tmp(name))
            except FileNotFoundError:
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
            note = sender.send(msg)
            sender.commit()
            return note

    def where(self, message_id: str) -> str:
        """Human-readable destination of a sent message, for the CLI."""
        if self.cfg.smtp is not None:
            return f"smtp {self.cfg.smtp.host}:{self.cfg.smtp.port}, Message-ID {message_id}"
        return str(Path(self.cfg.outbox) / eml_name(message_id))
