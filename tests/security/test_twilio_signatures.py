"""Twilio signatures checked with the SDK's RequestValidator against the public address."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from intake_service.security.twilio_signatures import is_valid, signed_url

TOKEN = "0123456789abcdef0123456789abcdef"
PARAMS = {"MessageSid": "SM123", "From": "+12133734253", "Body": "STOP"}


def test_the_signed_address_is_the_public_base_url_plus_path_and_query() -> None:
    assert signed_url("https://intake.example/", "/webhooks/twilio/sms") == (
        "https://intake.example/webhooks/twilio/sms"
    )
    assert signed_url("https://intake.example", "/webhooks/twilio/sms", "a=1&b=2") == (
        "https://intake.example/webhooks/twilio/sms?a=1&b=2"
    )


def test_a_signature_made_as_twilio_makes_it_is_valid() -> None:
    url = "https://intake.example/webhooks/twilio/sms"
    signature = RequestValidator(TOKEN).compute_signature(url, PARAMS)

    assert is_valid(TOKEN, url, PARAMS, signature)


def test_other_token_other_address_changed_parameter_or_none_is_not_valid() -> None:
    url = "https://intake.example/webhooks/twilio/sms"
    signature = RequestValidator(TOKEN).compute_signature(url, PARAMS)

    assert not is_valid("f" * 32, url, PARAMS, signature)
    assert not is_valid(TOKEN, "https://old-tunnel.example/webhooks/twilio/sms", PARAMS, signature)
    assert not is_valid(TOKEN, url, {**PARAMS, "Body": "START"}, signature)
    assert not is_valid(TOKEN, url, PARAMS, None)
    assert not is_valid(TOKEN, url, PARAMS, "")
    assert not is_valid(None, url, PARAMS, signature)
