"""Posts from a clinic's own form builder (Gravity Forms, WPForms, Jotform, Typeform), mapped
onto a submission by a field map kept as data (form_builders.toml), then submitted like any
other: the same check, transaction and rules.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from intake_service.domain.intake.contact import InvalidContact, normalize_email, normalize_phone
from intake_service.domain.intake.rules import (
    CALLBACK_WINDOW_LABELS,
    DEFAULT_CALLBACK_WINDOW,
    DEFAULT_TREATMENT,
    TREATMENT_LABELS,
)
from intake_service.domain.intake.submission import (
    Contact,
    InvalidSubmission,
    SubmissionInput,
    check,
)

MAPS_FILE = Path(__file__).with_name("form_builders.toml")
VIA = "forms"  # Submission.via: its own idempotency key space (submission.stored_key)


class UnknownSource(LookupError):
    """No field map for this source."""


@dataclasses.dataclass(frozen=True)
class Signature:
    header: str
    encoding: str  # "hex" | "base64"
    prefix: str = ""


@dataclasses.dataclass(frozen=True)
class FieldMap:
    source: str
    body: str  # "json" | "form"
    fields: Mapping[str, tuple[str, ...]]
    signature: Signature | None = None
    sms_wording_version: str | None = None
    email_wording_version: str | None = None


@cache
def _maps(path: Path = MAPS_FILE) -> dict[str, FieldMap]:
    raw = tomllib.loads(path.read_text())
    maps: dict[str, FieldMap] = {}
    for source, spec in raw.items():
        signature = spec.get("signature")
        maps[source] = FieldMap(
            source=source,
            body=spec.get("body", "json"),
            fields={name: tuple(steps) for name, steps in spec.get("fields", {}).items()},
            signature=Signature(**signature) if signature else None,
            sms_wording_version=spec.get("sms_wording_version"),
            email_wording_version=spec.get("email_wording_version"),
        )
    return maps


def field_map(source: str) -> FieldMap:
    """The map for `source`; raises UnknownSource."""
    try:
        return _maps()[source]
    except KeyError:
        raise UnknownSource(source) from None


def sources() -> list[str]:
    return sorted(_maps())


def pick(document: Any, steps: tuple[str, ...]) -> str | None:
    """The text at `steps` in `document` (see form_builders.toml), or None where it is absent."""
    value: Any = document
    for step in steps:
        if step.startswith("@"):
            value = value.get(step[1:]) if isinstance(value, Mapping) else None
            try:
                value = json.loads(value) if isinstance(value, str) else None
            except ValueError:
                return None
        elif step.startswith("[") and step.endswith("]"):
            path, _, wanted = step[1:-1].partition("=")
            value = (
                next((item for item in value if _nested(item, path) == wanted), None)
                if isinstance(value, list)
                else None
            )
        else:
            value = value.get(step) if isinstance(value, Mapping) else None
        if value is None:
            return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip()


def _nested(item: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        item = item.get(part) if isinstance(item, Mapping) else None
    return item


def _choice(raw: str | None, labels: Mapping[str, str], default: str) -> str:
    # Builders send the choice's text as the clinic typed it ("Evening", "evening"); a text
    # we cannot place means the default rather than turning the person away.
    if not raw:
        return default
    folded = raw.strip().casefold()
    for key, label in labels.items():
        if folded in (key, label.casefold()):
            return key
    return default


def to_submission(
    mapping: FieldMap, document: Mapping[str, Any], ip: str | None, user_agent: str | None
) -> SubmissionInput:
    """The submission a builder's post describes, its phone and email normalised.

    Raises InvalidSubmission, with every problem at once, when a phone or email cannot be used;
    intake.submit checks the rest.
    """
    value = {name: pick(document, steps) for name, steps in mapping.fields.items()}
    problems: dict[str, str] = {}
    normalised: dict[str, str | None] = {}
    for name, normalise in (("email", normalize_email), ("phone", normalize_phone)):
        raw = value.get(name)
        try:
            normalised[name] = normalise(raw) if raw else None
        except InvalidContact as error:
            problems[f"contact.{name}"] = str(error)
            normalised[name] = raw  # given, though unusable: the other rules judge it as given
    contact = Contact(
        first_name=value.get("first_name") or "",
        last_name=value.get("last_name") or "",
        email=normalised["email"],
        phone=normalised["phone"],
        callback_window=_choice(
            value.get("callback_window"), CALLBACK_WINDOW_LABELS, DEFAULT_CALLBACK_WINDOW
        ),
    )
    sms = mapping.sms_wording_version is not None and _ticked(value.get("sms_consent"))
    entry = value.get("entry_id")
    kwargs: dict[str, Any] = {}
    if mapping.sms_wording_version is not None:
        kwargs["sms_wording_version"] = mapping.sms_wording_version
    data = SubmissionInput(
        form="contact",
        contact=contact,
        treatment_interest=_choice(
            value.get("treatment_interest"), TREATMENT_LABELS, DEFAULT_TREATMENT
        ),
        message=value.get("message") or None,
        sms_consent=sms,
        email_consent=mapping.email_wording_version is not None,
        source={"form_builder": mapping.source},
        via=VIA,
        # The builder's own entry id: its retries of one entry make one submission.
        idempotency_key=f"{mapping.source}:{entry}" if entry else None,
        ip=ip,
        user_agent=user_agent,
        **kwargs,
    )
    if problems:
        try:
            check(data)
        except InvalidSubmission as error:
            problems = {**error.errors, **problems}
        raise InvalidSubmission(problems)
    return data


def _ticked(raw: str | None) -> bool:
    return (raw or "").strip().casefold() in ("1", "true", "yes", "on", "checked", "y")
