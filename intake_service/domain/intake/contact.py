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
        raise InvalidContact(email_problem(raw.strip(), str(error))) from None
    return str(result.normalized)


# Our own sentences for what is wrong with an address. email-validator's wording is written for
# developers ("There must be something after the @-sign.") and changes between its releases, so
# it is only read to pick one of these, never shown.
EMAIL_NO_AT = "Enter an email address with an @ in it, such as name@example.com."
EMAIL_TWO_ATS = "Enter an email address with only one @, such as name@example.com."
EMAIL_NOTHING_BEFORE = "Enter the part of your email address before the @, as in name@example.com."
EMAIL_NOTHING_AFTER = "Enter the part of your email address after the @, such as name@example.com."
EMAIL_SPACES = "Remove the spaces from your email address."
EMAIL_BAD_DOMAIN = "Check the part after the @: it should look like example.com."
EMAIL_BAD_LOCAL = "Check the part before the @: it has a character an email address cannot have."
EMAIL_GENERAL = "Enter your email address in the form name@example.com."


def email_problem(address: str, library_reason: str) -> str:
    """Our sentence for an address email-validator refused with `library_reason`."""
    reason = library_reason.casefold()
    if "@" not in address:
        return EMAIL_NO_AT
    if address.count("@") > 1:
        return EMAIL_TWO_ATS
    local, _, domain = address.partition("@")
    if not local:
        return EMAIL_NOTHING_BEFORE
    if not domain:
        return EMAIL_NOTHING_AFTER
    if any(char.isspace() for char in address):
        return EMAIL_SPACES
    if "after the @" in reason or "domain" in reason:
        return EMAIL_BAD_DOMAIN
    if "before the @" in reason:
        return EMAIL_BAD_LOCAL
    return EMAIL_GENERAL


def display_phone(e164: str) -> str:
    """A phone number the way people in its country write it."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
