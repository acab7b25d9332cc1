"""Email through an SMTP relay: build the MIME message, send it, translate SMTP errors."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import smtplib
import ssl
import threading
import time
from collections.abc import Callable
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr, parseaddr

from intake_service.channels import OutgoingMessage, PermanentError, TransientError, Unusable
from intake_service.config import Settings, SmtpSettings

# Headers the channel owns: letting a template override them would break threading or dedupe.
_OWN_HEADERS = frozenset({"from", "to", "subject", "date", "message-id"})


def message_id_header(message_id: int, mail_from: str) -> str:
    """The Message-ID for our Message row: the same on every retry, so receivers can dedupe."""
    _, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2] or "localhost"
    return f"<intake-message-{message_id}@{domain}>"


# English in short lines goes as it is (7bit); anything else as UTF-8 in quoted-printable, in
# bodies and encoded words alike: 7-bit on the wire for any relay, and lines kept short.
_ASCII = Charset("us-ascii")
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = QP
_UTF8.body_encoding = QP
# RFC 5322 asks for lines of at most 78 characters and allows up to 998. A header is left whole
# up to the limit (a List-Unsubscribe link cut after its name reads back with a leading space);
# encoded words are folded here, where they are made.
_LINE = 78
_MAX_LINE = 998


class _Policy(Compat32):
    """compat32 with lines up to 998, handing back as they are the headers it would not change.

    compat32 runs every header through email.header.Header to fold it, a tenth of an email's
    CPU; one in plain ASCII on one line that fits comes out of that just as it went in.
    """

    # A Header object may come as the value too (typeshed says str): it goes to compat32.
    def fold_binary(self, name: str, value: str) -> bytes:
        if isinstance(value, str) and _as_is(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)

    def fold(self, name: str, value: str) -> str:
        if isinstance(value, str) and _as_is(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)


def _as_is(name: str, value: str) -> bool:
    return (
        value.isascii()
        and value.isprintable()  # no line break, tab or other control character
        and value == value.strip()
        and len(name) + 2 + len(value) <= _MAX_LINE
    )


_POLICY = _Policy(max_line_length=_MAX_LINE)


def _header(name: str, value: str) -> str:
    if value.isascii() and len(name) + 2 + len(value) <= _MAX_LINE:
        return value
    return Header(value, _ASCII if value.isascii() else _UTF8, header_name=name).encode()


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    if not body.endswith("\n"):
        body += "\n"
    plain = body.isascii() and all(len(line) <= _LINE for line in body.splitlines())
    charset = _ASCII if plain else _UTF8
    part = MIMENonMultipart("text", subtype, policy=_POLICY, charset=str(charset))
    part.set_payload(body, charset)
    return part


def _boundary(*parts: MIMENonMultipart) -> str:
    """A boundary no part's encoded text contains. The generator's own check compiles a new
    regular expression for every email; a random token is checked here with `in`."""
    texts = [str(part.get_payload()) for part in parts]
    while True:
        boundary = f"=_intake_{secrets.token_hex(12)}"
        if not any(boundary in text for text in texts):
            return boundary


def build_email(message: OutgoingMessage, mail_from: str) -> Message:
    """The MIME message for `message`: plain text, or text and HTML alternatives.

    Built with the classic email.mime API: EmailMessage parses every header it is given through
    the header registry, which made building a message a tenth of an email's delivery.
    """
    text = _text_part(message.body_text, "plain")
    email: Message = text
    if message.body_html is not None:
        html = _text_part(message.body_html, "html")
        email = MIMEMultipart("alternative", _boundary(text, html), policy=_POLICY)
        for part in (text, html):
            del part["MIME-Version"]  # said once, at the top
            email.attach(part)
    display, address = parseaddr(mail_from)
    email["From"] = formataddr((display, address), charset=_UTF8)
    email["To"] = message.recipient
    email["Subject"] = _header("Subject", message.subject or "")
    email["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    email["Message-ID"] = message_id_header(message.message_id, mail_from)
    for name, value in message.headers.items():
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"header {name} is set by the email channel")
        email[name] = _header(name, value)
    return email


class SmtpChannel:
    kind = "email"

    def __init__(self, smtp: SmtpSettings, settings: Settings) -> None:
        self._smtp = smtp
        self._mail_from = settings.mail_from
        self._envelope_from = parseaddr(settings.mail_from)[1]

    def find_existing(self, message: OutgoingMessage, since: dt.datetime) -> str | None:
        """SMTP cannot be asked what it already took: always None.

        A resend after a crash carries the same Message-ID, by which mail systems drop
        the duplicate (docs/delivery-guarantees.md).
        """
        return None

    def send(self, message: OutgoingMessage) -> str:
        """Send over SMTP and return the Message-ID. Raises TransientError or PermanentError."""
        email = build_email(message, self._mail_from)
        try:
            self._deliver(email, message.recipient)
        except smtplib.SMTPException as error:
            raise _translate_smtp(error) from None
        except TimeoutError:
            raise TransientError("timeout") from None
        except ssl.SSLError as error:
            # Usually a certificate the relay's CA cannot vouch for: fixed by configuration.
            raise TransientError("tls_failed", type(error).__name__) from None
        except OSError as error:
            raise TransientError("connection", type(error).__name__) from None
        return str(email["Message-ID"])

    def _deliver(self, email: Message, recipient: str) -> None:
        connection = connections.take(self._smtp)
        try:
            # One recipient: a refusal raises SMTPRecipientsRefused, so nothing partial to check.
            connection.send_message(email, from_addr=self._envelope_from, to_addrs=[recipient])
        except BaseException:
            # No QUIT after a failure: on a timed-out socket it would wait out the timeout again.
            # A refused recipient leaves the session usable, but a fresh one is the simple truth.
            connection.close()
            raise
        # Once DATA is accepted the mail is the relay's: the connection goes back for the next
        # send in this thread, and nothing that happens to it later can trigger a resend.
        connections.give_back(self._smtp, connection)


@functools.lru_cache(maxsize=8)
def tls_context(cafile: str | None) -> ssl.SSLContext:
    """One TLS context per CA bundle: loading the CA store per email took a third of a worker."""
    return ssl.create_default_context(cafile=cafile)


def connect(smtp: SmtpSettings) -> smtplib.SMTP:
    """A fresh, logged-in SMTP session; TLS set up only when the settings ask for it."""
    context = tls_context(smtp.cafile) if smtp.ssl or smtp.starttls else None
    # The constructors connect; smtplib closes the socket itself if the greeting fails.
    connection = (
        smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        if smtp.ssl
        else smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    )
    try:
        if smtp.starttls:
            connection.starttls(context=context)
        if smtp.username:
            connection.login(smtp.username, smtp.password or "")
    except BaseException:
        connection.close()
        raise
    return connection


# A kept session idle longer than this is closed rather than reused: relays drop idle clients
# (RFC 5321 asks servers to wait 5 minutes, many wait less) and a NOOP into a dead socket can
# cost a timeout.
IDLE_LIMIT = 30.0


class ConnectionCache:
    """At most one idle SMTP session per thread and relay, checked with NOOP before reuse.

    A session is only ever used by the thread holding it (taken out of the cache while a send
    runs), so smtplib needs no locking. Worker shutdown calls close_all().
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[dict[SmtpSettings, tuple[smtplib.SMTP, float]]] = []

    def _idle(self) -> dict[SmtpSettings, tuple[smtplib.SMTP, float]]:
        idle: dict[SmtpSettings, tuple[smtplib.SMTP, float]] | None = getattr(
            self._local, "idle", None
        )
        if idle is None:
            idle = self._local.idle = {}
            with self._lock:
                self._all.append(idle)
        return idle

    def take(self, smtp: SmtpSettings) -> smtplib.SMTP:
        """This thread's kept session to the relay if it still answers, else a new one."""
        kept = self._idle().pop(smtp, None)
        if kept is not None:
            connection, since = kept
            if self._clock() - since < IDLE_LIMIT and _answers(connection):
                return connection
            connection.close()
        return connect(smtp)

    def give_back(self, smtp: SmtpSettings, connection: smtplib.SMTP) -> None:
        previous = self._idle().pop(smtp, None)
        if previous is not None:
            _quit_quietly(previous[0])
        self._idle()[smtp] = (connection, self._clock())

    def close_all(self) -> None:
        """QUIT every kept session of every thread (worker shutdown, tests)."""
        with self._lock:
            pools, self._all = self._all, []
        for idle in pools:
            while idle:
                _, (connection, _) = idle.popitem()
                _quit_quietly(connection)
        self._local = threading.local()


def _answers(connection: smtplib.SMTP) -> bool:
    try:
        code, _ = connection.noop()
    except (smtplib.SMTPException, OSError):
        return False
    return code == 250


connections = ConnectionCache()


def _quit_quietly(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        connection.close()


def _translate_smtp(error: smtplib.SMTPException) -> TransientError | PermanentError:
    """Map an smtplib error to ours. Details carry the SMTP codes only: replies echo addresses."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        # Wrong credentials are fixed by configuration; the message itself is fine.
        return TransientError("auth_failed", _codes(error.smtp_code, error.smtp_error))
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(error.recipients.values()), (0, b""))
        # A 5xx for the recipient (no such mailbox, domain gone) is about the address itself.
        return _by_code(
            code, reply, "recipient_rejected", "recipient_deferred", Unusable("rejected")
        )
    if isinstance(error, smtplib.SMTPSenderRefused):
        return _by_code(error.smtp_code, error.smtp_error, "sender_rejected", "sender_deferred")
    if isinstance(error, smtplib.SMTPDataError):
        return _by_code(error.smtp_code, error.smtp_error, "rejected", "deferred")
    if isinstance(error, smtplib.SMTPServerDisconnected):
        # smtplib turns a socket timeout into "disconnected"; the timeout is still its context.
        if isinstance(error.__context__, TimeoutError):
            return TransientError("timeout")
        return TransientError("connection", "server disconnected")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        # STARTTLS or AUTH asked for but not offered: a configuration mismatch.
        return TransientError("unsupported", "server lacks a configured extension")
    if isinstance(error, smtplib.SMTPResponseException):
        return TransientError("smtp_error", _codes(error.smtp_code, error.smtp_error))
    return TransientError("smtp_error", type(error).__name__)


def _by_code(
    code: int,
    reply: bytes | str,
    permanent: str,
    transient: str,
    unusable: Unusable | None = None,
) -> TransientError | PermanentError:
    detail = _codes(code, reply)
    if 500 <= code < 600:
        return PermanentError(permanent, detail, unusable=unusable)
    return TransientError(transient, detail)


def _codes(code: int, reply: bytes | str) -> str:
    """'550 5.1.1': the reply code and any enhanced status code, never the reply's free text."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    enhanced = first if first.count(".") == 2 and first.replace(".", "").isdigit() else ""
    return f"{code} {enhanced}".strip()
