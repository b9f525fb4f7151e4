"""A real SMTP server for the test suite: aiosmtpd on 127.0.0.1, on a free port, capturing messages.

Controls for fault tests:

* ``down()`` / ``up()`` stop and restart the listener on the *same* port (connections are refused
  while it is down);
* ``drop_next_data(n)`` makes the next ``n`` DATA transactions end with the connection dropped after
  the message body arrived but before the server answered, so the client never sees a 250 and the
  message is *not* captured (what a crash or a network cut mid-DATA looks like to the sender);
* ``fail_next(n, code)`` answers the next ``n`` DATA transactions with a temporary (4xx) or permanent
  (5xx) error instead of accepting them;
* ``delay_s``: every DATA transaction is answered that many seconds after the body arrived (a slow
  server; the message is accepted then, if the client is still waiting);
* optional AUTH (``credentials={"user": "pass"}``) and TLS (``tls="starttls" | "ssl"`` with a
  self-signed certificate whose path is ``ca_file``);
* ``smtputf8=False``: a server that does not offer SMTPUTF8 (non-ASCII addresses);
* ``max_recipients``: at most that many RCPTs accepted in one transaction, the rest answered 452
  (RFC 5321 4.5.3.1.10, a server's recipient limit);
* ``refuse_rcpt(address, code, times)``: RCPT TO that address answered ``code`` (450 greylisting, 550
  no such user), in the next ``times`` transactions that name it or in all of them.

The pytest fixture is ``smtp_server`` (function-scoped): register it from ``tests/conftest.py`` with
``from tests.harness.smtp import smtp_server  # noqa: F401``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import email
import email.policy
import socket
import ssl
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Captured:
    """One message the server accepted (answered 250 to)."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    received_at: float  # time.time() when the server accepted it
    auth_user: str | None = None
    tls: bool = False
    message: EmailMessage = field(init=False)
    # decoded once: tests look for each of hundreds of URLs in each of hundreds of messages
    _parts: dict[str, str] = field(init=False, default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.message = email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[assignment]

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, subtype: str) -> str:
        """The decoded text/<subtype> body part ("plain" or "html")."""
        if subtype not in self._parts:
            body = self.message.get_body(preferencelist=(subtype,))
            if body is None or body.get_content_subtype() != subtype:
                raise KeyError(f"no text/{subtype} part")
            self._parts[subtype] = body.get_content()
        return self._parts[subtype]


class _Handler:
    def __init__(self, server: "SmtpServer") -> None:
        self.server = server

    async def handle_RCPT(self, smtp: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        srv = self.server
        with srv._lock:
            srv.rcpt_attempts.append(address)
            key = address.casefold()
            if key in srv._rcpt_refusals:
                code, times = srv._rcpt_refusals[key]
                if times == 1:
                    del srv._rcpt_refusals[key]
                elif times is not None:
                    srv._rcpt_refusals[key] = (code, times - 1)
                return f"{code} test harness refuses this recipient"
            if srv.max_recipients is not None and len(envelope.rcpt_tos) >= srv.max_recipients:
                return "452 4.5.3 Too many recipients"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        srv = self.server
        with srv._lock:
            srv.data_attempts += 1
            if srv._drop_remaining > 0:
                srv._drop_remaining -= 1
                drop, fail = True, None
            elif srv._fail_remaining > 0:
                srv._fail_remaining -= 1
                drop, fail = False, srv._fail_code
            else:
                drop, fail = False, None
        if drop:
            # The body has arrived; cut the connection before answering: the client never sees 250.
            transport = smtp.transport
            if transport is not None:
                transport.abort()
            return "421 connection dropped by test harness"
        if fail is not None:
            return f"{fail} test harness refuses this message"
        if srv.delay_s:
            await asyncio.sleep(srv.delay_s)
        captured = Captured(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            raw=bytes(envelope.original_content or envelope.content),
            received_at=time.time(),
            auth_user=(session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None),
            tls=smtp.transport is not None and smtp.transport.get_extra_info("ssl_object") is not None,
        )
        with srv._cond:
            srv.messages.append(captured)
            srv._cond.notify_all()
        return "250 OK"


def _self_signed(dirpath: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(days=1))
        .not_valid_after(now + _dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = dirpath / "cert.pem", dirpath / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class SmtpServer:
    """aiosmtpd on 127.0.0.1:<free port>; ``messages`` holds what it accepted."""

    def __init__(self, tls: str = "none", credentials: dict[str, str] | None = None, smtputf8: bool = True) -> None:
        if tls not in ("none", "starttls", "ssl"):
            raise ValueError(tls)
        self.smtputf8 = smtputf8
        self.host = "127.0.0.1"
        self.port = free_port()
        self.tls = tls
        self.credentials = credentials
        self.messages: list[Captured] = []
        self.data_attempts = 0
        self.delay_s = 0.0
        self.max_recipients: int | None = None
        self.rcpt_attempts: list[str] = []
        self._rcpt_refusals: dict[str, tuple[int, int | None]] = {}
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._drop_remaining = 0
        self._fail_remaining = 0
        self._fail_code = 451
        self._controller: Controller | None = None
        self._tmp = Path(tempfile.mkdtemp(prefix="mediawatch-smtp-"))
        self.ca_file: str | None = None
        self._ssl_context: ssl.SSLContext | None = None
        if tls != "none":
            cert, key = _self_signed(self._tmp)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            self._ssl_context = ctx
            self.ca_file = str(cert)

    # -- lifecycle ---------------------------------------------------------------------------
    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        ok = self.credentials.get(user) == password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def up(self) -> None:
        if self._controller is not None:
            return
        kwargs: dict[str, Any] = {"enable_SMTPUTF8": self.smtputf8}
        if self.credentials is not None:
            # AUTH after STARTTLS only, as real servers do; with implicit TLS or plain, AUTH is offered
            # (not required: aiosmtpd warns about "AUTH required without TLS").
            starttls = self.tls == "starttls"
            kwargs.update(authenticator=self._authenticate, auth_require_tls=starttls, auth_required=starttls)
        if self.tls == "starttls":
            kwargs.update(tls_context=self._ssl_context, require_starttls=True)
        elif self.tls == "ssl":
            kwargs.update(ssl_context=self._ssl_context)
        controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, server_hostname="127.0.0.1", ready_timeout=10, **kwargs
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "AUTH without TLS" is deliberate for tls="none"
            controller.start()
        self._controller = controller

    def down(self) -> None:
        """Stop listening (connections are refused until ``up()``)."""
        if self._controller is None:
            return
        self._controller.stop()
        self._controller = None

    start, stop = up, down

    @property
    def is_up(self) -> bool:
        return self._controller is not None

    def close(self) -> None:
        self.down()
        import shutil

        shutil.rmtree(self._tmp, ignore_errors=True)

    # -- fault controls ------------------------------------------------------------------------
    def drop_next_data(self, n: int = 1) -> None:
        with self._lock:
            self._drop_remaining = n

    def fail_next(self, n: int = 1, code: int = 451) -> None:
        with self._lock:
            self._fail_remaining, self._fail_code = n, code

    def refuse_rcpt(self, address: str, code: int, times: int | None = None) -> None:
        with self._lock:
            self._rcpt_refusals[address.casefold()] = (code, times)

    def accept_every_rcpt(self) -> None:
        """No recipient refused, no recipient limit."""
        with self._lock:
            self._rcpt_refusals.clear()
            self.max_recipients = None
            self.rcpt_attempts.clear()

    # -- inspection ------------------------------------------------------------------------------
    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.data_attempts = 0

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Captured]:
        """Block until at least ``count`` messages were accepted; return them (raises on timeout)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"expected {count} messages, got {len(self.messages)}")
                self._cond.wait(remaining)
            return list(self.messages)

    def smtp_config(self, **overrides: Any):
        """An ``indexer.config.SmtpConfig`` pointing at this server."""
        from indexer.config import SmtpConfig

        values: dict[str, Any] = {"host": self.host, "port": self.port, "tls": self.tls, "timeout_s": 5}
        if self.ca_file:
            values["ca_file"] = self.ca_file
        if self.credentials:
            user, password = next(iter(self.credentials.items()))
            values.update(username=user, password=password)
        values.update(overrides)
        return SmtpConfig(**values)

    def __enter__(self) -> "SmtpServer":
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def smtp_server():
    """A running plain-SMTP aiosmtpd server on 127.0.0.1 (see ``SmtpServer`` for the controls)."""
    server = SmtpServer()
    server.up()
    try:
        yield server
    finally:
        server.close()
