"""SmtpChannel against a real in-process SMTP server (aiosmtpd)."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable
from email import message_from_bytes
from email.policy import compat32, default
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake_service.channels import OutgoingMessage, PermanentError, TransientError, Unusable
from intake_service.channels import email as email_channel
from intake_service.channels.email import SmtpChannel, message_id_header
from intake_service.config import Settings
from tests.support.guards import StrayGuard
from tests.support.smtp_server import SmtpServer

RECIPIENT = "jane.doe@patients.example"


def outgoing(**changes: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "message_id": 42,
        "channel": "email",
        "recipient": RECIPIENT,
        "subject": "Thanks for contacting Sunrise Clinic",
        "body_text": "We will call you back today.",
    }
    values.update(changes)
    return OutgoingMessage(**values)


def channel_for(make_settings: Callable[..., Settings], url: str, **env: str) -> SmtpChannel:
    settings = make_settings(SMTP_URL=url, **env)
    assert settings.smtp is not None
    return SmtpChannel(settings.smtp, settings)


@pytest.fixture
def channel(make_settings: Callable[..., Settings], smtp_server: SmtpServer) -> SmtpChannel:
    return channel_for(make_settings, smtp_server.url, SMTP_TIMEOUT="2")


def test_text_and_html_arrive_with_stable_message_id(
    channel: SmtpChannel, smtp_server: SmtpServer
) -> None:
    message = outgoing(
        body_html="<p>We will call you back today.</p>",
        headers={"List-Unsubscribe": "<https://sunrise.example/u/abc>"},
    )

    first = channel.send(message)
    second = channel.send(message)  # a retry of the same Message row

    assert first == second == "<intake-message-42@sunrise.example>"
    received = smtp_server.wait_for(2)
    mail = received[0]
    assert mail.mail_from == "intake@sunrise.example"
    assert mail.rcpt_tos == (RECIPIENT,)
    email = mail.message
    assert email["Message-ID"] == first
    assert received[1].message["Message-ID"] == first
    assert email["From"] == "Sunrise Clinic <intake@sunrise.example>"
    assert email["To"] == RECIPIENT
    assert email["Subject"] == "Thanks for contacting Sunrise Clinic"
    assert email["Date"] is not None
    assert email["List-Unsubscribe"] == "<https://sunrise.example/u/abc>"
    assert email.get_content_type() == "multipart/alternative"
    text = email.get_body(preferencelist=("plain",))
    html = email.get_body(preferencelist=("html",))
    assert text is not None and text.get_content().strip() == "We will call you back today."
    assert html is not None and "<p>We will call you back today.</p>" in html.get_content()


def test_text_only_message_is_not_multipart(channel: SmtpChannel, smtp_server: SmtpServer) -> None:
    channel.send(outgoing())

    email = smtp_server.wait_for(1)[0].message
    assert email.get_content_type() == "text/plain"
    assert email.get_content().strip() == "We will call you back today."


def test_spanish_words_and_long_lines_arrive_intact_in_seven_bit_short_lines(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer
) -> None:
    channel = channel_for(
        make_settings,
        smtp_server.url,
        SMTP_TIMEOUT="2",
        MAIL_FROM="Clínica Sol <intake@sol.example>",
    )
    subject = "Gracias por escribir a Clínica Sol: ¿qué sigue? Le llamaremos en un día hábil"
    body = "Hola Lucía,\n\n" + "Le llamaremos pronto sobre la terapia TMS. " * 40 + "\n"
    html = '<p class="saludo">Hola Lucía,</p>' + "<p>" + "Le llamaremos pronto. " * 40 + "</p>"
    unsubscribe = "<https://sol.example/u/" + "a" * 60 + ">, <mailto:baja@sol.example?subject=baja>"
    channel.send(
        outgoing(
            subject=subject,
            body_text=body,
            body_html=html,
            headers={"List-Unsubscribe": unsubscribe},
        )
    )

    received = smtp_server.wait_for(1)[0]
    email = received.message
    assert str(email["Subject"]) == subject
    assert str(email["From"]) == "Clínica Sol <intake@sol.example>"
    assert email["List-Unsubscribe"] == unsubscribe
    text = email.get_body(preferencelist=("plain",))
    html_part = email.get_body(preferencelist=("html",))
    assert text is not None and html_part is not None
    # Decoded text keeps the wire's CRLF line breaks: compare the lines.
    assert text.get_content().splitlines() == body.splitlines()
    assert html_part.get_content().splitlines() == [html]
    raw = email.as_bytes()
    assert raw.isascii()
    assert max(len(line) for line in raw.splitlines()) <= 998
    assert text["Content-Transfer-Encoding"] == "quoted-printable"


def test_english_in_short_lines_goes_as_it_is(
    channel: SmtpChannel, smtp_server: SmtpServer
) -> None:
    channel.send(outgoing(body_html="<p>We will call you back today.</p>"))

    email = smtp_server.wait_for(1)[0].message
    assert b"We will call you back today." in email.as_bytes()
    assert email["MIME-Version"] == "1.0"
    for part in email.iter_parts():
        assert part["Content-Transfer-Encoding"] == "7bit"
        assert part["MIME-Version"] is None


def _folded(fold: Callable[[], object]) -> object:
    try:
        return fold()
    except Exception as error:  # compat32 refuses some values: ours must refuse the same
        return type(error)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["Subject", "List-Unsubscribe", "X-Intake-Lead"]),
    st.one_of(
        st.text(st.characters(max_codepoint=127), max_size=1100),
        st.text(st.sampled_from("ab <>@.:;=\t"), max_size=1000),
        st.text(max_size=60),
    ),
)
def test_headers_fold_exactly_as_compat32_folds_them(name: str, value: str) -> None:
    # The channel's policy hands plain one-line headers back as they are: only where compat32
    # would have changed nothing.
    ours, theirs = email_channel._POLICY, compat32.clone(max_line_length=998)
    assert _folded(lambda: ours.fold_binary(name, value)) == _folded(
        lambda: theirs.fold_binary(name, value)
    )
    assert _folded(lambda: ours.fold(name, value)) == _folded(lambda: theirs.fold(name, value))


def test_a_boundary_the_text_contains_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = iter(["0" * 24, "1" * 24])
    monkeypatch.setattr(email_channel.secrets, "token_hex", lambda _: next(tokens))
    taken = "=_intake_" + "0" * 24
    message = outgoing(body_text=f"--{taken}\nquoted by a patient", body_html="<p>Hi</p>")

    email = email_channel.build_email(message, "intake@sunrise.example")

    assert email.get_boundary() == "=_intake_" + "1" * 24
    parsed = message_from_bytes(email.as_bytes(), policy=default)
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_message_id_depends_only_on_message_and_mail_from_domain() -> None:
    assert message_id_header(7, "Clinic <intake@sunrise.example>") == (
        "<intake-message-7@sunrise.example>"
    )
    assert message_id_header(7, "intake@other.example") == "<intake-message-7@other.example>"


def test_channel_owned_headers_cannot_be_overridden(channel: SmtpChannel) -> None:
    with pytest.raises(ValueError, match="Message-ID"):
        channel.send(outgoing(headers={"Message-ID": "<forged@example>"}))


def test_starttls_with_auth_delivers_over_tls(
    make_settings: Callable[..., Settings], make_smtp_server: Callable[..., SmtpServer]
) -> None:
    server = make_smtp_server(tls="starttls", auth=("intake", "s3cret/pass"))

    channel_for(make_settings, server.url).send(outgoing())

    mail = server.wait_for(1)[0]
    assert mail.tls
    assert mail.authenticated_as == "intake"


def test_implicit_tls_with_auth_delivers(
    make_settings: Callable[..., Settings], make_smtp_server: Callable[..., SmtpServer]
) -> None:
    server = make_smtp_server(tls="implicit", auth=("intake", "s3cret"))
    assert server.url.startswith("smtps://")

    channel_for(make_settings, server.url).send(outgoing())

    mail = server.wait_for(1)[0]
    assert mail.tls
    assert mail.authenticated_as == "intake"


def test_wrong_password_is_transient_auth_failure(
    make_settings: Callable[..., Settings], make_smtp_server: Callable[..., SmtpServer]
) -> None:
    server = make_smtp_server(tls="starttls", auth=("intake", "s3cret"))
    url = server.url.replace("s3cret", "wrong")

    with pytest.raises(TransientError) as caught:
        channel_for(make_settings, url).send(outgoing())

    assert caught.value.reason == "auth_failed"
    assert server.messages == []


def test_untrusted_certificate_is_transient_tls_failure(
    make_settings: Callable[..., Settings], make_smtp_server: Callable[..., SmtpServer]
) -> None:
    server = make_smtp_server(tls="starttls")
    url = f"smtp://{server.host}:{server.port}?starttls=true"  # no cafile: system CAs only

    with pytest.raises(TransientError) as caught:
        channel_for(make_settings, url).send(outgoing())

    assert caught.value.reason == "tls_failed"


@pytest.mark.parametrize(
    ("stage", "code", "error_type", "reason"),
    [
        ("rcpt", 550, PermanentError, "recipient_rejected"),
        ("rcpt", 451, TransientError, "recipient_deferred"),
        ("data", 554, PermanentError, "rejected"),
        ("data", 451, TransientError, "deferred"),
        ("mail", 553, PermanentError, "sender_rejected"),
        ("mail", 421, TransientError, "sender_deferred"),
    ],
)
def test_smtp_reply_code_decides_permanent_or_transient(
    channel: SmtpChannel,
    smtp_server: SmtpServer,
    stage: Any,
    code: int,
    error_type: type[Exception],
    reason: str,
) -> None:
    smtp_server.reject_next(code, stage=stage)

    with pytest.raises(error_type) as caught:
        channel.send(outgoing())

    assert caught.value.reason == reason  # type: ignore[attr-defined]
    assert str(code) in str(caught.value)
    assert smtp_server.messages == []
    if isinstance(caught.value, PermanentError):
        # Only a refused recipient says the address itself is dead; a refused message or
        # sender says nothing about the patient's address.
        expected = Unusable("rejected") if reason == "recipient_rejected" else None
        assert caught.value.unusable == expected


def test_recipient_rejected_with_550_is_permanent_and_keeps_address_out(
    channel: SmtpChannel, smtp_server: SmtpServer
) -> None:
    smtp_server.reject_next(550, text=f"5.1.1 <{RECIPIENT}>: Recipient address rejected")

    with pytest.raises(PermanentError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == "recipient_rejected"
    assert caught.value.detail == "550 5.1.1"
    assert RECIPIENT not in str(caught.value)


def test_server_down_is_transient_and_recovers_when_back(
    channel: SmtpChannel, smtp_server: SmtpServer
) -> None:
    smtp_server.stop()

    with pytest.raises(TransientError) as caught:
        channel.send(outgoing())
    assert caught.value.reason == "connection"

    smtp_server.start()
    channel.send(outgoing())
    assert len(smtp_server.wait_for(1)) == 1


def test_slow_server_beyond_timeout_is_transient(
    make_settings: Callable[..., Settings], smtp_server: SmtpServer
) -> None:
    channel = channel_for(make_settings, smtp_server.url, SMTP_TIMEOUT="0.3")
    smtp_server.delay = 1.0
    started = time.monotonic()

    with pytest.raises(TransientError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 0.9


def test_smtp_to_a_remote_host_is_blocked_by_the_guard(no_stray_sends: StrayGuard) -> None:
    with pytest.raises(pytest.fail.Exception, match="stray send blocked"):
        smtplib.SMTP("mail.example.com", 25, timeout=1)

    assert no_stray_sends.violations == ["SMTP connection to mail.example.com"]
    no_stray_sends.violations.clear()


@pytest.fixture
def fresh_sessions() -> Any:
    """No SMTP session kept from another test: each of these counts its own."""
    email_channel.connections.close_all()
    yield
    email_channel.connections.close_all()


def counting_connects(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    made: list[int] = []
    real = email_channel.connect

    def connect(smtp: Any) -> smtplib.SMTP:
        made.append(1)
        return real(smtp)

    monkeypatch.setattr(email_channel, "connect", connect)
    return made


@pytest.mark.usefixtures("fresh_sessions")
def test_sends_in_one_thread_share_one_smtp_session(
    channel: SmtpChannel, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = counting_connects(monkeypatch)

    for number in range(3):
        channel.send(outgoing(message_id=number))

    assert len(smtp_server.wait_for(3)) == 3
    assert len(made) == 1


@pytest.mark.usefixtures("fresh_sessions")
def test_a_kept_session_the_relay_dropped_is_replaced_before_sending(
    channel: SmtpChannel, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = counting_connects(monkeypatch)
    channel.send(outgoing(message_id=1))
    smtp_server.stop()  # the relay restarts: the kept session is dead
    smtp_server.start()

    channel.send(outgoing(message_id=2))

    assert len(smtp_server.wait_for(1)) >= 1
    assert len(made) == 2


@pytest.mark.usefixtures("fresh_sessions")
def test_a_failed_send_does_not_keep_its_session(
    channel: SmtpChannel, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = counting_connects(monkeypatch)
    smtp_server.reject_next(550, stage="rcpt")
    with pytest.raises(PermanentError):
        channel.send(outgoing(message_id=1))

    channel.send(outgoing(message_id=2))

    assert len(made) == 2


@pytest.mark.usefixtures("fresh_sessions")
def test_no_tls_context_is_made_for_a_relay_without_tls(
    channel: SmtpChannel, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a TLS context for a plain relay")

    email_channel.tls_context.cache_clear()
    monkeypatch.setattr(ssl, "create_default_context", refuse)

    channel.send(outgoing())

    assert len(smtp_server.wait_for(1)) == 1
