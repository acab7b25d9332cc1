"""A real SMTP server in the test process (aiosmtpd) that records what it is sent.

`SmtpServer` can be used anywhere (an end-to-end run, a script); the `smtp_server` and
`make_smtp_server` fixtures start one per test. Options: AUTH with one user, STARTTLS or
implicit TLS with a self-signed certificate, scripted rejections, slowness, and stop()/start()
on the same port to simulate an outage.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import shutil
import ssl
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlencode

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.services import free_port

Stage = Literal["mail", "rcpt", "data"]
TlsMode = Literal["starttls", "implicit"]

# Replies a real relay would give; the enhanced status code is what the channel keeps.
DEFAULT_REPLIES = {
    421: "4.3.2 Service not available, closing channel",
    450: "4.2.0 Mailbox temporarily unavailable",
    451: "4.3.0 Local error in processing, try again later",
    452: "4.3.1 Insufficient system storage",
    550: "5.1.1 Mailbox unavailable",
    552: "5.3.4 Message size exceeds fixed limit",
    553: "5.1.3 Mailbox name not allowed",
    554: "5.7.1 Message rejected",
}


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    authenticated_as: str | None
    tls: bool


def write_self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 and its key, as PEM files in `directory`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        # A CA certificate, so a client can trust it directly as its cafile.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _QuietController(Controller):
    def factory(self) -> SMTP:
        # AUTH over implicit TLS needs auth_require_tls=False (aiosmtpd only counts STARTTLS as
        # TLS), which makes aiosmtpd warn about plain-text AUTH on every connection.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return super().factory()  # type: ignore[no-any-return]


class SmtpServer:
    """An SMTP server on 127.0.0.1 recording every accepted message (thread-safe)."""

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        tls: TlsMode | None = None,
        auth: tuple[str, str] | None = None,
        cert_dir: Path | None = None,
        port: int | None = None,
    ) -> None:
        self.tls = tls
        self.auth = auth
        self.port = port or free_port()
        self.delay = 0.0  # seconds the server waits before answering DATA
        self._lock = threading.Lock()
        self._received: list[ReceivedMail] = []
        self._rejections: deque[tuple[Stage, str]] = deque()
        self._controller: Controller | None = None
        self._own_dir: Path | None = None
        self.cert_file: Path | None = None
        self.key_file: Path | None = None
        if tls is not None:
            if cert_dir is None:
                cert_dir = self._own_dir = Path(tempfile.mkdtemp(prefix="smtp-cert-"))
            self.cert_file, self.key_file = write_self_signed_certificate(cert_dir)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SmtpServer:
        """Listen on self.port (again, after stop())."""
        if self._controller is not None:
            return self
        options: dict[str, Any] = {}
        context = self._server_context()
        if self.tls == "starttls":
            options.update(tls_context=context, require_starttls=True)
        elif self.tls == "implicit":
            options.update(ssl_context=context)
        if self.auth is not None:
            options.update(
                authenticator=self._authenticate,
                auth_required=True,
                auth_require_tls=self.tls == "starttls",
            )
        # A new controller each time: a stopped one has closed its event loop.
        controller = _QuietController(
            self._Handler(self), hostname=self.host, port=self.port, **options
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening; the port refuses connections until start()."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def close(self) -> None:
        self.stop()
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- what tests use ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """An SMTP_URL that reaches this server with its credentials and certificate."""
        scheme = "smtps" if self.tls == "implicit" else "smtp"
        userinfo = ""
        if self.auth is not None:
            userinfo = f"{quote(self.auth[0], safe='')}:{quote(self.auth[1], safe='')}@"
        query: dict[str, str] = {}
        if self.tls == "starttls":
            query["starttls"] = "true"
        if self.cert_file is not None:
            query["cafile"] = str(self.cert_file)
        suffix = f"?{urlencode(query)}" if query else ""
        return f"{scheme}://{userinfo}{self.host}:{self.port}{suffix}"

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMail]:
        """The received messages once there are at least `count`; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.messages
            if len(received) >= count:
                return received
            time.sleep(0.02)
        raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")

    def reject_next(
        self, code: int = 550, *, stage: Stage = "rcpt", count: int = 1, text: str | None = None
    ) -> None:
        """Answer the next `count` MAIL FROM, RCPT TO or DATA commands with `code`."""
        reply = f"{code} {text or DEFAULT_REPLIES.get(code, 'Rejected')}"
        with self._lock:
            self._rejections.extend([(stage, reply)] * count)

    # -- server side -------------------------------------------------------------------------

    def _server_context(self) -> ssl.SSLContext | None:
        if self.cert_file is None or self.key_file is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def _take_rejection(self, stage: Stage) -> str | None:
        with self._lock:
            if self._rejections and self._rejections[0][0] == stage:
                return self._rejections.popleft()[1]
        return None

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.auth is not None
        user, password = self.auth
        ok = isinstance(data, LoginPassword) and data == (user.encode(), password.encode())
        return AuthResult(success=ok, auth_data=user if ok else None, handled=False)

    def _record(self, session: Session, envelope: Envelope) -> None:
        raw = envelope.original_content or b""
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            message=message,
            authenticated_as=session.auth_data if session.authenticated else None,
            tls=session.ssl is not None or self.tls == "implicit",
        )
        with self._lock:
            self._received.append(mail)

    class _Handler:
        def __init__(self, owner: SmtpServer) -> None:
            self.owner = owner

        async def handle_MAIL(
            self,
            server: SMTP,
            session: Session,
            envelope: Envelope,
            address: str,
            options: list[str],
        ) -> str:
            if reply := self.owner._take_rejection("mail"):
                return reply
            envelope.mail_from = address
            envelope.mail_options.extend(options)
            return "250 OK"

        async def handle_RCPT(
            self,
            server: SMTP,
            session: Session,
            envelope: Envelope,
            address: str,
            options: list[str],
        ) -> str:
            if reply := self.owner._take_rejection("rcpt"):
                return reply
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(options)
            return "250 OK"

        async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
            if self.owner.delay:
                await asyncio.sleep(self.owner.delay)
            if reply := self.owner._take_rejection("data"):
                return reply
            self.owner._record(session, envelope)
            return "250 2.0.0 OK queued"


@pytest.fixture
def make_smtp_server(tmp_path: Path) -> Iterator[Callable[..., SmtpServer]]:
    """Start SMTP servers with options (tls=, auth=); all are stopped after the test."""
    servers: list[SmtpServer] = []

    def make(**options: Any) -> SmtpServer:
        server = SmtpServer(cert_dir=tmp_path / f"smtp-{len(servers)}", **options)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def smtp_server(make_smtp_server: Callable[..., SmtpServer]) -> SmtpServer:
    """A plain SMTP server (no TLS, no AUTH) on 127.0.0.1."""
    return make_smtp_server()
