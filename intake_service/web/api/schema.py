"""The JSON API's shapes (pydantic v2): types, lengths and trimming only, plus its OpenAPI document.

The rules every door shares (which forms exist, the answers each takes, email or phone, SMS needs
a phone, what a name may hold) stay in domain.intake: check applies them and rules states them,
so the API and the web forms cannot drift apart. The schema reads its caps, enums and character
rules from domain.intake.rules, and runs the name rule itself only so that a bad name is
reported together with the other fields' problems.

Unknown fields are refused (extra="forbid"), not ignored: a misspelt optional field ("mesage",
"treatment") would otherwise be dropped without a word, losing what the patient wrote, whereas a
422 shows up on an integrator's first test. `source` is the exception, an open map of attribution
parameters that sites add to freely. `null` means "not given" for every optional field.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from intake_service.domain.compliance import consent
from intake_service.domain.intake import Contact, SubmissionInput, rules
from intake_service.domain.intake.answers import SCALE_ITEMS, SCALE_MAX_ITEM, TMS_ITEMS
from intake_service.domain.intake.contact import InvalidContact, normalize_email, normalize_phone
from intake_service.domain.intake.rules import (
    CALLBACK_WINDOW_LABELS,
    FORM_LABELS,
    MAX_EMAIL_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_PHONE_CHARS,
    MAX_SOURCE_KEY_CHARS,
    MAX_SOURCE_KEYS,
    MAX_SOURCE_VALUE_CHARS,
    TREATMENT_LABELS,
)

IDEMPOTENCY_KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,200}")


def _reject(forbidden: re.Pattern[str]) -> AfterValidator:
    def check(value: str) -> str:
        if forbidden.search(value):
            raise PydanticCustomError("text_invalid", rules.CONTROL_CHARACTERS)
        return value

    return AfterValidator(check)


def _check_name(value: str) -> str:
    problem = rules.name_problem(value)
    if problem:
        # The sentence goes in through the context: braces in it must not be formatted.
        raise PydanticCustomError("name_invalid", "{reason}", {"reason": problem})
    return value


# Trimmed (str_strip_whitespace on every model), limited, and free of control characters.
_LINE = _reject(rules.NOT_LINE)
Name = Annotated[str, StringConstraints(max_length=MAX_NAME_CHARS), AfterValidator(_check_name)]
EmailText = Annotated[str, StringConstraints(max_length=MAX_EMAIL_CHARS), _LINE]
PhoneText = Annotated[str, StringConstraints(max_length=MAX_PHONE_CHARS), _LINE]
VersionText = Annotated[str, StringConstraints(max_length=40), _LINE]
SourceKey = Annotated[str, StringConstraints(max_length=MAX_SOURCE_KEY_CHARS), _LINE]
SourceValue = Annotated[str, StringConstraints(max_length=MAX_SOURCE_VALUE_CHARS), _LINE]
MessageText = Annotated[
    str, StringConstraints(max_length=MAX_MESSAGE_CHARS), _reject(rules.NOT_TEXT)
]


def _optional(normalize: Callable[[str], str], kind: str) -> AfterValidator:
    """Run a domain normaliser; an empty string means "not given", as web forms send it."""

    def check(value: str | None) -> str | None:
        if not value:
            return None
        try:
            return normalize(value)
        except InvalidContact as error:
            # The sentence goes in through the context: braces in it must not be formatted.
            raise PydanticCustomError(
                f"{kind}_invalid", "{reason}", {"reason": str(error)}
            ) from None

    return AfterValidator(check)


class ContactDetails(BaseModel):
    """How to reach the person; at least one of email and phone."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    first_name: Name
    last_name: Name | None = None
    email: Annotated[
        EmailText | None,
        Field(json_schema_extra={"format": "email"}),
        _optional(normalize_email, "email"),
    ] = None
    phone: Annotated[
        PhoneText | None,
        Field(description="Any common format; US numbers without +1 are fine."),
        _optional(normalize_phone, "phone"),
    ] = None
    callback_window: Annotated[
        str | None, Field(json_schema_extra={"enum": [*CALLBACK_WINDOW_LABELS, None]})
    ] = None


def _known_wording(version: str | None) -> str | None:
    # The domain checks this too, but its sentence quotes the client's text back.
    if version is not None and version not in consent.SMS_WORDINGS:
        raise PydanticCustomError(
            "wording_unknown",
            "Unknown consent wording version; use one of: {versions}.",
            {"versions": ", ".join(consent.SMS_WORDINGS)},
        )
    return version


class ConsentChoices(BaseModel):
    """What the person ticked. SMS is opt-in (unticked by default); email defaults to yes."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    sms: bool = False
    email: bool = True
    wording_version: Annotated[
        VersionText | None,
        AfterValidator(_known_wording),
        Field(
            description="The SMS consent wording shown to the person; default the current one.",
            json_schema_extra={"enum": [*consent.SMS_WORDINGS, None]},
        ),
    ] = None


def _check_source_size(source: dict[str, str] | None) -> dict[str, str] | None:
    problem = rules.source_problem(source) if source else None
    if problem:
        raise PydanticCustomError("source_too_large", "{reason}", {"reason": problem})
    return source


_TMS_ANSWERS_SCHEMA = {
    "title": "TmsScreenAnswers",
    "type": "object",
    "properties": {
        key: {"type": "boolean", "description": text} for key, text in TMS_ITEMS.items()
    },
    "required": [*TMS_ITEMS],
    "additionalProperties": False,
}
_SCALE_ANSWERS_SCHEMA = {
    "title": "ScaleAnswers",
    "description": "PHQ-9 (9 items) or GAD-7 (7 items), each 0-3, in questionnaire order.",
    "type": "object",
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": SCALE_MAX_ITEM},
            "minItems": min(SCALE_ITEMS.values()),
            "maxItems": max(SCALE_ITEMS.values()),
        }
    },
    "required": ["items"],
    "additionalProperties": False,
}


class SubmissionRequest(BaseModel):
    """One form filled in on a clinic's site."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=True)

    form: Annotated[str, Field(json_schema_extra={"enum": [*FORM_LABELS]})]
    contact: ContactDetails
    treatment_interest: Annotated[
        str | None,
        Field(
            description="Default: tms for the TMS self-screen, unsure otherwise.",
            json_schema_extra={"enum": [*TREATMENT_LABELS, None]},
        ),
    ] = None
    message: MessageText | None = None
    # The shape depends on `form`; domain.answers checks it, with paths such as answers.items.8.
    answers: Annotated[
        dict[str, Any] | None,
        WithJsonSchema(
            {
                "description": "None for the contact form; the items for the others.",
                "anyOf": [_TMS_ANSWERS_SCHEMA, _SCALE_ANSWERS_SCHEMA, {"type": "null"}],
            }
        ),
    ] = None
    consent: ConsentChoices | None = None
    source: Annotated[
        dict[SourceKey, SourceValue] | None,
        Field(
            description=(
                f"Attribution: page, utm_source, utm_campaign... (strings); at most "
                f"{MAX_SOURCE_KEYS} keys and {rules.MAX_SOURCE_BYTES} bytes in all."
            ),
            json_schema_extra={"maxProperties": MAX_SOURCE_KEYS},
        ),
        AfterValidator(_check_source_size),
    ] = None

    def to_input(
        self, *, ip: str | None, user_agent: str | None, idempotency_key: str | None
    ) -> SubmissionInput:
        """The domain's input, with the defaults the contract names filled in."""
        choices = self.consent or ConsentChoices()
        return SubmissionInput(
            form=self.form,
            contact=Contact(
                first_name=self.contact.first_name,
                last_name=self.contact.last_name or "",
                email=self.contact.email,
                phone=self.contact.phone,
                callback_window=self.contact.callback_window or rules.DEFAULT_CALLBACK_WINDOW,
            ),
            # The TMS self-screen means TMS, as the web form does, unless another is named.
            treatment_interest=self.treatment_interest or rules.default_treatment(self.form),
            message=self.message or None,
            answers=self.answers,
            sms_consent=choices.sms,
            email_consent=choices.email,
            sms_wording_version=choices.wording_version or consent.CURRENT_SMS_WORDING,
            source=dict(self.source or {}),
            via="api",
            idempotency_key=idempotency_key,
            ip=ip,
            user_agent=user_agent,
        )


class SubmissionCreated(BaseModel):
    """The answer to an accepted submission (and to each replay of its Idempotency-Key)."""

    lead_id: uuid.UUID
    submission_id: uuid.UUID
    urgent: bool
    message: Annotated[str, Field(description="Text to show the patient.")]


class ErrorBody(BaseModel):
    """Every error answer: a sentence for people, and for 422 a sentence per field."""

    error: str
    errors: Annotated[
        dict[str, str] | None,
        Field(description='Field paths such as "contact.phone" or "answers.items.8".'),
    ] = None


# Messages for the error types a client will meet; pydantic's own wording for the rest.
_SENTENCES = {
    "missing": "This field is required.",
    "extra_forbidden": "This field is not part of the API; remove it or check its spelling.",
    "string_type": "Give text here.",
    "bool_type": "Give true or false.",
    "dict_type": "Give an object here.",
    "model_type": "Give an object here.",
    "model_attributes_type": "Give an object here.",
    "string_unicode": "Use valid Unicode text.",
}
# A path keeps only parts that cannot carry markup: keys chosen by the client are not echoed.
_SAFE_PART = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def field_path(parts: Sequence[int | str]) -> str:
    """The dotted path of a location, with any client-chosen unsafe key replaced by '*'."""
    return ".".join(str(p) if _SAFE_PART.fullmatch(str(p)) else "*" for p in parts)


def field_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic's errors as {"contact.phone": "sentence"}, the first error for each path."""
    errors: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        # Dict keys are validated under a "[key]" marker; the key itself is the field.
        path = field_path([part for part in item["loc"] if part != "[key]"]) or "body"
        if item["type"] == "string_too_long":
            sentence = f"Use at most {item['ctx']['max_length']} characters."
        else:
            sentence = _SENTENCES.get(item["type"], item["msg"])
        if not sentence.endswith((".", "?", "!")):
            sentence += "."
        errors.setdefault(path, sentence)
    return errors


def safe_errors(errors: dict[str, str]) -> dict[str, str]:
    """Domain errors with their paths made safe to echo (domain paths may name a client's key)."""
    return {field_path(path.split(".")): sentence for path, sentence in errors.items()}
