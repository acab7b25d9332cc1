"""Contact details: normalising phones to E.164 and checking email syntax."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from intake_service.domain.intake.rules import MAX_PHONE_CHARS

DEFAULT_REGION = "US"


class InvalidContact(ValueError):
    """A phone number or email address that cannot be used; the message is for the person."""


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return `raw` in E.164 form; raises InvalidContact if it is not a possible, valid number."""
    text = raw.strip()
    if len(text) > MAX_PHONE_CHARS:
        raise InvalidContact(f"Enter a phone number of at most {MAX_PHONE_CHARS} characters.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidContact("Enter a phone number, such as (310) 555-0123.") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact("This phone number does not exist; check the area code and digits.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str:
    """Return the normalised address; raises InvalidContact if its syntax is wrong.

    Syntax only: a DNS lookup has no place inside a request (it can take seconds).
    """
    try:
        result = validate_email(raw.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidContact(f"Enter a valid email address ({error}).") from None
    return str(result.normalized)


def display_phone(e164: str) -> str:
    """A phone number the way people in its country write it."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
