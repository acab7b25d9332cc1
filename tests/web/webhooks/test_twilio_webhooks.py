"""The Twilio webhooks: signatures checked against the public address, repeats processed once,
keywords answered once, and texts from anyone kept."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.domain.compliance.consent import has_consent
from intake_service.domain.leads import replies
from intake_service.models import ConsentEvent, InboundMessage, PendingStatus, ProcessedWebhook
from tests.domain.builders import PATIENT_PHONE, count, database, submit
from tests.support.twilio_webhooks import (
    PUBLIC,
    SMS_PATH,
    STATUS_PATH,
    inbound_params,
    post_signed,
    signature,
    status_params,
    text_in,
)

STRANGER = "+14155550123"


def rows(app: Flask) -> dict[str, int]:
    db = database(app)
    return {
        table: count(db, table)
        for table in ("inbound_messages", "processed_webhooks", "pending_status_events")
    }


NOTHING = {"inbound_messages": 0, "processed_webhooks": 0, "pending_status_events": 0}


# --- signatures ----------------------------------------------------------------------------


REFUSALS = {
    "missing": dict(header=False),
    "empty": dict(header=""),
    "forged": dict(header=base64.b64encode(b"x" * 20).decode()),
    # Signed, but for the address the service had before (an old tunnel or host name).
    "stale_url": dict(signed_for="https://old-tunnel.example.ngrok.app{path}"),
    "other_path": dict(signed_for=PUBLIC + "/webhooks/twilio/other"),
    "http_not_https": dict(signed_for="http://intake.sunrise.example{path}"),
}


@pytest.mark.parametrize("path", [SMS_PATH, STATUS_PATH])
@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_unsigned_forged_or_other_address_signatures_get_403_and_change_nothing(
    sms_app: Callable[..., Flask], path: str, refusal: str
) -> None:
    app = sms_app()
    lead_id = submit(app)
    options = dict(REFUSALS[refusal])
    if isinstance(options.get("signed_for"), str):
        options["signed_for"] = str(options["signed_for"]).format(path=path)
    params = (
        inbound_params(app, "STOP", PATIENT_PHONE)
        if path == SMS_PATH
        else status_params(app, "SM" + "0" * 32, "delivered")
    )

    response = post_signed(app, path, params, **options)  # type: ignore[arg-type]

    assert response.status_code == 403
    assert "not signed by Twilio" in response.get_json()["error"]
    assert rows(app) == NOTHING
    with database(app).session() as session:
        assert has_consent(session, lead_id, "sms")


def test_a_form_changed_after_signing_is_refused(sms_app: Callable[..., Flask]) -> None:
    app = sms_app()
    params = inbound_params(app, "hello", STRANGER)
    header = signature(app, PUBLIC + SMS_PATH, params)

    response = app.test_client().post(
        SMS_PATH, data={**params, "Body": "STOP"}, headers={"X-Twilio-Signature": header}
    )

    assert response.status_code == 403
    assert rows(app) == NOTHING


def test_without_an_auth_token_every_webhook_is_refused(sms_app: Callable[..., Flask]) -> None:
    # Texts go to the dev mailbox: there is no token to check a signature with.
    app = sms_app(TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="", TWILIO_FROM_NUMBER="")
    response = app.test_client().post(
        SMS_PATH, data={"MessageSid": "SM1", "From": STRANGER, "Body": "hi"}
    )

    assert response.status_code == 403
    assert rows(app) == NOTHING


def test_the_signature_covers_the_query_string(sms_app: Callable[..., Flask]) -> None:
    app = sms_app()
    params = inbound_params(app, "hello", STRANGER)
    good = signature(app, f"{PUBLIC}{SMS_PATH}?clinic=main", params)
    client = app.test_client()

    assert client.post(f"{SMS_PATH}?clinic=main", data=params, headers={
        "X-Twilio-Signature": good}).status_code == 200  # fmt: skip
    assert client.post(f"{SMS_PATH}?clinic=other", data=params, headers={
        "X-Twilio-Signature": good}).status_code == 403  # fmt: skip


# --- inbound texts -------------------------------------------------------------------------


def test_a_text_from_a_number_no_lead_gave_is_kept_encrypted_and_listed_for_staff(
    sms_app: Callable[..., Flask],
) -> None:
    app = sms_app()

    response = text_in(app, "Hi, is this the clinic? I'd like an appointment", STRANGER)

    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    assert response.get_data(as_text=True).strip().endswith("<Response />")
    with database(app).session() as session:
        (kept,) = replies.from_unknown_numbers(session)
        raw = session.execute(sa.text("SELECT body FROM inbound_messages")).scalar_one()
    assert (kept.from_number, kept.lead_id, kept.kind) == (STRANGER, None, "reply")
    assert kept.body == "Hi, is this the clinic? I'd like an appointment"
    assert "appointment" not in raw  # encrypted at rest


def test_the_same_message_sid_twice_is_processed_once(sms_app: Callable[..., Flask]) -> None:
    app = sms_app()
    lead_id = submit(app)
    params = inbound_params(app, "STOP", PATIENT_PHONE)

    first = post_signed(app, SMS_PATH, params)
    again = post_signed(app, SMS_PATH, params)

    assert first.status_code == again.status_code == 200
    assert "<Message>" in first.get_data(as_text=True)
    assert "<Message>" not in again.get_data(as_text=True)  # one answer to STOP, not two
    assert rows(app)["inbound_messages"] == 1
    with database(app).session() as session:
        events = session.scalars(
            sa.select(ConsentEvent).where(
                ConsentEvent.lead_id == lead_id, ConsentEvent.action == "opt_out"
            )
        ).all()
    assert len(events) == 1


def test_the_same_status_report_twice_is_processed_once(sms_app: Callable[..., Flask]) -> None:
    app = sms_app()
    params = status_params(app, "SM" + "1" * 32, "delivered")

    first = post_signed(app, STATUS_PATH, params)
    again = post_signed(app, STATUS_PATH, params)

    assert first.status_code == again.status_code == 204
    with database(app).session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(PendingStatus)) == 1
        receipts = session.scalars(sa.select(ProcessedWebhook.key)).all()
    assert receipts == ["SM" + "1" * 32 + ":delivered"]


@pytest.mark.parametrize(
    ("word", "says"),
    [
        ("HELP", ["Sunrise Clinic", "(310) 555-0100", "STOP", "988"]),
        ("info", ["Sunrise Clinic", "(310) 555-0100", "STOP"]),
        ("Ayuda", ["Sunrise Clinic", "(310) 555-0100", "ALTO", "988"]),
    ],
)
def test_help_answers_with_the_clinic_its_phone_and_how_to_stop(
    sms_app: Callable[..., Flask], word: str, says: list[str]
) -> None:
    app = sms_app()
    lead_id = submit(app)

    answer = text_in(app, word, PATIENT_PHONE).get_data(as_text=True)

    for part in says:
        assert part in answer
    with database(app).session() as session:
        (inbound,) = session.scalars(sa.select(InboundMessage)).all()
        assert (inbound.kind, inbound.auto_reply, inbound.lead_id) == ("help", "help", lead_id)
        assert has_consent(session, lead_id, "sms")  # help changes nothing
        assert replies.for_lead(session, lead_id)[0].body == word


def test_stop_in_spanish_is_confirmed_in_spanish(sms_app: Callable[..., Flask]) -> None:
    app = sms_app()
    submit(app)

    answer = text_in(app, "¡Alto!", PATIENT_PHONE).get_data(as_text=True)

    assert "ya no le enviaremos mensajes" in answer


def test_with_advanced_opt_out_twilio_answers_keywords_and_the_service_only_records_them(
    sms_app: Callable[..., Flask],
) -> None:
    app = sms_app(TWILIO_ADVANCED_OPT_OUT="true")
    lead_id = submit(app)

    stop = text_in(app, "STOP", PATIENT_PHONE).get_data(as_text=True)
    help_ = text_in(app, "HELP", PATIENT_PHONE).get_data(as_text=True)

    assert "<Message>" not in stop and "<Message>" not in help_
    with database(app).session() as session:
        assert not has_consent(session, lead_id, "sms")


def test_keyword_answers_are_twiml_recorded_on_the_text_never_a_message_to_send(
    sms_app: Callable[..., Flask],
) -> None:
    # docs/architecture.md, "Keyword answers": the answer rides the webhook's own response,
    # once; a messages row would be a second send (or a refusal: the number just opted out).
    app = sms_app()
    submit(app)
    before = count(database(app), "messages")

    answers = [text_in(app, word, who).get_data(as_text=True) for word, who in (
        ("STOP", PATIENT_PHONE), ("START", PATIENT_PHONE), ("HELP", STRANGER),
        ("AYUDA", STRANGER), ("ALTO", STRANGER),
    )]  # fmt: skip

    assert [a.count("<Message>") for a in answers] == [1, 1, 1, 1, 1]
    assert count(database(app), "messages") == before
    with database(app).session() as session:
        recorded = session.scalars(sa.select(InboundMessage.auto_reply).order_by(InboundMessage.id))
        assert list(recorded) == [
            "stop_confirmation",
            "start_confirmation",
            "help",
            "help",
            "stop_confirmation",
        ]


@pytest.mark.parametrize(
    "params",
    [
        {"From": PATIENT_PHONE, "Body": "hi"},  # no MessageSid
        {"MessageSid": "SM1", "Body": "hi"},  # no From
        {"MessageSid": "SM1\x00", "From": PATIENT_PHONE, "Body": "hi"},
        {"MessageSid": "SM1", "From": "+1 (213) 373-4253; DROP", "Body": "hi"},
        {"MessageSid": "SM1", "From": PATIENT_PHONE, "Body": "x" * 5000},
        {"MessageSid": "SM1", "From": PATIENT_PHONE, "Body": "a\x00b"},
    ],
)
def test_a_signed_but_malformed_inbound_post_is_a_400(
    sms_app: Callable[..., Flask], params: dict[str, str]
) -> None:
    app = sms_app()

    response = post_signed(app, SMS_PATH, params)

    assert response.status_code == 400
    assert rows(app) == NOTHING


@pytest.mark.parametrize(
    "params",
    [
        {"MessageStatus": "delivered"},
        {"MessageSid": "SM1"},
        {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "thirty"},
    ],
)
def test_a_signed_but_malformed_status_post_is_a_400(
    sms_app: Callable[..., Flask], params: dict[str, str]
) -> None:
    app = sms_app()

    assert post_signed(app, STATUS_PATH, params).status_code == 400
    assert rows(app) == NOTHING


def test_a_status_twilio_added_later_is_acknowledged_and_ignored(
    sms_app: Callable[..., Flask],
) -> None:
    app = sms_app()

    response = post_signed(app, STATUS_PATH, status_params(app, "SM2", "partially_delivered"))

    assert response.status_code == 204
    assert rows(app) == NOTHING
