"""TwilioChannel: the real twilio SDK against the local Twilio stand-in."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any

import pytest
from twilio.rest import Client

from intake_service.channels import OutgoingMessage, PermanentError, TransientError, Unusable
from intake_service.channels.sms import (
    BaseUrlHttpClient,
    TwilioChannel,
    channel_for,
    parse_retry_after,
)
from intake_service.config import Settings
from tests.support.guards import StrayGuard
from tests.support.services import free_port
from tests.support.twilio_standin import TwilioStandin

RECIPIENT = "+13105550123"
CALLBACK = "https://intake.sunrise.example/webhooks/twilio/status/42"


def outgoing(**changes: Any) -> OutgoingMessage:
    values: dict[str, Any] = {
        "message_id": 42,
        "channel": "sms",
        "recipient": RECIPIENT,
        "body_text": "Thanks for contacting Sunrise Clinic. Reply STOP to opt out.",
    }
    values.update(changes)
    return OutgoingMessage(**values)


@pytest.fixture
def make_channel(
    make_settings: Callable[..., Settings], twilio_standin: TwilioStandin
) -> Callable[..., TwilioChannel]:
    """A TwilioChannel on the stand-in; keyword arguments override TWILIO_* variables."""

    def make(**env: str) -> TwilioChannel:
        settings = make_settings(**twilio_standin.env(**env))
        assert settings.twilio is not None
        return TwilioChannel(settings.twilio)

    return make


@pytest.fixture
def channel(make_channel: Callable[..., TwilioChannel]) -> TwilioChannel:
    return make_channel()


def test_send_returns_sid_and_twilio_gets_to_from_body_and_callback(
    channel: TwilioChannel, twilio_standin: TwilioStandin
) -> None:
    sid = channel.send(outgoing(status_callback=CALLBACK))

    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    [accepted] = twilio_standin.messages
    assert accepted["sid"] == sid
    [request] = twilio_standin.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{twilio_standin.account_sid}/Messages.json"
    assert request.form == {
        "To": RECIPIENT,
        "From": "+13105550100",
        "Body": outgoing().body_text,
        "StatusCallback": CALLBACK,
    }
    credentials = f"{twilio_standin.account_sid}:{twilio_standin.auth_token}".encode()
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(credentials).decode()


def test_messaging_service_is_used_instead_of_a_from_number(
    make_channel: Callable[..., TwilioChannel], twilio_standin: TwilioStandin
) -> None:
    service_sid = "MG" + "0" * 32
    channel = make_channel(TWILIO_FROM_NUMBER="", TWILIO_MESSAGING_SERVICE_SID=service_sid)

    channel.send(outgoing())

    form = twilio_standin.requests[0].form
    assert form["MessagingServiceSid"] == service_sid
    assert "From" not in form
    assert "StatusCallback" not in form  # none given, none sent


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (21211, "invalid_number"),
        (21614, "not_mobile"),
        (21408, "region_not_enabled"),
        (21610, "opted_out"),
    ],
)
def test_bad_number_codes_are_permanent(
    channel: TwilioChannel, twilio_standin: TwilioStandin, code: int, reason: str
) -> None:
    twilio_standin.error_next(code=code, status=400)

    with pytest.raises(PermanentError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == reason
    assert RECIPIENT not in str(caught.value)
    assert twilio_standin.messages == []
    # The error itself says the number is dead, and whether the person opted out: domain code
    # marks the lead from this, never from the reason's wording.
    assert caught.value.unusable == Unusable(reason, opted_out=code == 21610)


def test_other_client_errors_are_permanent_with_the_twilio_code(
    channel: TwilioChannel, twilio_standin: TwilioStandin
) -> None:
    twilio_standin.error_next(code=21617, status=400)  # body too long

    with pytest.raises(PermanentError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == "twilio_21617"
    assert caught.value.unusable is None  # this text is refused, the number is fine


def test_rate_limit_is_transient_with_twilios_retry_after(
    channel: TwilioChannel, twilio_standin: TwilioStandin
) -> None:
    twilio_standin.rate_limit_next(retry_after=3)

    with pytest.raises(TransientError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == "rate_limited"
    assert caught.value.retry_after == 3.0
    # The limit was for that request only; the next send goes through.
    assert channel.send(outgoing()).startswith("SM")


def test_rate_limit_without_retry_after_leaves_backoff_to_the_caller(
    channel: TwilioChannel, twilio_standin: TwilioStandin
) -> None:
    twilio_standin.rate_limit_next(retry_after=None)

    with pytest.raises(TransientError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == "rate_limited"
    assert caught.value.retry_after is None


def test_retry_after_accepts_seconds_or_an_http_date() -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
    assert parse_retry_after("5") == 5.0
    assert 25 < (parse_retry_after(format_datetime(soon, usegmt=True)) or 0) <= 30
    assert parse_retry_after("not a date") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(
    channel: TwilioChannel, twilio_standin: TwilioStandin, status: int
) -> None:
    twilio_standin.fail_next(status=status)

    with pytest.raises(TransientError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == "server_error"
    assert channel.send(outgoing()).startswith("SM")


def test_wrong_auth_token_is_transient_auth_failure(
    make_channel: Callable[..., TwilioChannel], twilio_standin: TwilioStandin
) -> None:
    # Transient on purpose: the message and the number are fine, and fixing TWILIO_AUTH_TOKEN
    # makes the same send work, so the message keeps its retries instead of being dropped.
    channel = make_channel(TWILIO_AUTH_TOKEN="0" * 32)

    with pytest.raises(TransientError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == "auth_failed"
    assert twilio_standin.messages == []


def test_slow_twilio_beyond_timeout_is_transient_and_reconcilable(
    make_channel: Callable[..., TwilioChannel], twilio_standin: TwilioStandin
) -> None:
    channel = make_channel(TWILIO_TIMEOUT="0.3")
    since = dt.datetime.now(dt.UTC)
    twilio_standin.delay = 1.0
    started = time.monotonic()

    with pytest.raises(TransientError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 0.9
    # Twilio took the text although its answer never came: exactly what find_existing is for.
    twilio_standin.delay = 0
    [accepted] = twilio_standin.messages
    assert channel.find_existing(outgoing(), since) == accepted["sid"]


def test_unreachable_twilio_is_transient_connection_error(
    make_channel: Callable[..., TwilioChannel],
) -> None:
    channel = make_channel(TWILIO_API_BASE_URL=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(TransientError) as caught:
        channel.send(outgoing())

    assert caught.value.reason == "connection"


def test_proxy_variables_are_honoured_as_requests_would(
    make_channel: Callable[..., TwilioChannel],
    twilio_standin: TwilioStandin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Read once when the client is made, not per request: a proxy that is not there fails the
    # send, and NO_PROXY naming the host lets it through.
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    through_proxy = make_channel()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    around_it = make_channel()

    with pytest.raises(TransientError) as caught:
        through_proxy.send(outgoing())
    sid = around_it.send(outgoing())

    assert caught.value.reason == "connection"
    assert [message["sid"] for message in twilio_standin.messages] == [sid]


def test_find_existing_matches_recipient_and_body(channel: TwilioChannel) -> None:
    since = dt.datetime.now(dt.UTC)
    other_number = "+13105550199"
    channel.send(outgoing(body_text="An earlier text"))
    wanted = channel.send(outgoing())
    channel.send(outgoing(recipient=other_number))

    assert channel.find_existing(outgoing(), since) == wanted
    assert channel.find_existing(outgoing(body_text="Never sent"), since) is None
    assert channel.find_existing(outgoing(recipient="+13105550111"), since) is None


def test_find_existing_ignores_texts_from_before_since(channel: TwilioChannel) -> None:
    channel.send(outgoing())

    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    assert channel.find_existing(outgoing(), later) is None


def test_find_existing_needs_an_aware_datetime(channel: TwilioChannel) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        channel.find_existing(outgoing(), dt.datetime(2026, 1, 1))


def test_sdk_lists_every_page_and_fetches_through_the_base_url_client(
    channel: TwilioChannel, twilio_standin: TwilioStandin
) -> None:
    sids = [channel.send(outgoing(body_text=f"Text {n}")) for n in range(3)]
    client = Client(
        twilio_standin.account_sid,
        twilio_standin.auth_token,
        http_client=BaseUrlHttpClient(twilio_standin.base_url, timeout=2),
        environment={"TWILIO_ACCOUNT_SID": twilio_standin.account_sid},
    )

    listed = client.messages.list(to=RECIPIENT, page_size=2)

    assert [m.sid for m in listed] == list(reversed(sids))  # newest first, over two pages
    assert any("PageToken" in r.query for r in twilio_standin.requests)
    fetched = client.messages(sids[0]).fetch()
    assert (fetched.body, fetched.status, fetched.num_segments) == ("Text 0", "sent", "1")


def test_base_url_client_rewrites_only_twilio_api_urls() -> None:
    http = BaseUrlHttpClient("http://127.0.0.1:9/twilio", timeout=1)
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?Page=1"

    assert http.rewrite(url) == (
        "http://127.0.0.1:9/twilio/2010-04-01/Accounts/AC1/Messages.json?Page=1"
    )
    assert http.rewrite("https://example.com/x") == "https://example.com/x"


def test_standin_reports_the_segments_twilio_would_bill(
    channel: TwilioChannel, twilio_standin: TwilioStandin
) -> None:
    # 306 septets, but the euro's escape pair cannot straddle the first boundary: three parts.
    channel.send(outgoing(body_text="a" * 152 + "\u20ac" + "a" * 152))
    channel.send(outgoing(body_text="\u2019" + "a" * 69))  # a curly quote: UCS-2, 70 units

    assert [m["num_segments"] for m in twilio_standin.messages] == ["3", "1"]


def test_requests_to_the_real_twilio_are_blocked_by_the_guard(
    make_channel: Callable[..., TwilioChannel], no_stray_sends: StrayGuard
) -> None:
    channel = make_channel(TWILIO_API_BASE_URL="https://api.twilio.com")

    with pytest.raises(pytest.fail.Exception, match="stray send blocked"):
        channel.send(outgoing())

    assert len(no_stray_sends.violations) == 1
    no_stray_sends.violations.clear()


def test_each_worker_thread_keeps_one_twilio_client_per_account(
    make_settings: Callable[..., Settings], twilio_standin: TwilioStandin
) -> None:
    twilio = make_settings(**twilio_standin.env()).twilio
    assert twilio is not None
    mine = channel_for(twilio)
    theirs: list[TwilioChannel] = []
    thread = threading.Thread(target=lambda: theirs.append(channel_for(twilio)))
    thread.start()
    thread.join()

    assert channel_for(twilio) is mine
    assert theirs[0] is not mine  # the SDK's requests.Session is not shared between threads
    assert mine.send(outgoing()).startswith("SM")


def test_no_log_line_carries_the_recipients_number(
    make_channel: Callable[..., TwilioChannel],
    twilio_standin: TwilioStandin,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The SDK logs each request at INFO (the service's level); a look-up's query string is the
    # patient's number.
    channel = make_channel()
    since = dt.datetime.now(dt.UTC)
    with caplog.at_level(logging.INFO):
        sid = channel.send(outgoing())
        assert channel.find_existing(outgoing(), since) == sid

    national = RECIPIENT.removeprefix("+1")
    assert [r.method for r in twilio_standin.requests] == ["POST", "GET"]
    assert not [r.getMessage() for r in caplog.records if national in r.getMessage()]
