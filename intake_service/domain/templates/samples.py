"""Sample leads for previews and save-time checks: every kind of lead a template must handle.

The dicts built here have exactly the shape of message_context's patient_context and
team_context, with made-up people: a preview or a test send never shows a real patient.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from intake_service.domain.intake.rules import DEFAULT_LOCALE
from intake_service.domain.templates import labels
from intake_service.domain.templates.message_context import (
    SAMPLE_TEXT,
    TREATMENT_LABELS,
    WINDOW_LABELS,
    about,
    audience,
)
from intake_service.models.lead import CALLBACK_WINDOWS, TREATMENTS

SAMPLE_LEAD_ID = "00000000-0000-4000-8000-000000000000"
# Big enough for any honest sample; a pasted megabyte is refused before it is parsed.
MAX_SAMPLE_JSON = 20_000
# Screening results a team email may carry when Clinic settings allow (clinic_settings.py).
TEAM_EXTRAS = frozenset({"candidacy", "score"})


class InvalidSample(ValueError):
    """A sample edited as JSON that is not an object of objects; the message says why."""


@dataclass(frozen=True)
class SampleChoice:
    """The sample lead an admin picked to preview against."""

    urgent: bool = False
    treatment: str = "tms"
    has_phone: bool = True
    window: str = "evening"

    @classmethod
    def parse(cls, urgent: Any, treatment: Any, has_phone: Any, window: Any) -> SampleChoice:
        """From form values; anything unknown falls back to the default rather than failing."""
        return cls(
            urgent=str(urgent).lower() in ("1", "true", "on", "yes"),
            treatment=treatment if treatment in TREATMENTS else "tms",
            has_phone=str(has_phone).lower() in ("1", "true", "on", "yes"),
            window=window if window in CALLBACK_WINDOWS else "evening",
        )


def every_choice() -> Iterator[SampleChoice]:
    """Every combination: a template is rendered with each before it is saved."""
    for urgent, treatment, phone, window in itertools.product(
        (False, True), TREATMENTS, (True, False), CALLBACK_WINDOWS
    ):
        yield SampleChoice(urgent, treatment, phone, window)


def _patient(choice: SampleChoice, clinic: dict[str, str], locale: str) -> dict[str, Any]:
    return {
        "patient": {
            "first_name": "Jane",
            "callback_window": labels.window(choice.window, locale),
            "callback_window_key": choice.window,
        },
        "treatment": {"key": choice.treatment, "label": labels.treatment(choice.treatment, locale)},
        "links": {"unsubscribe": "http://127.0.0.1:5000/unsubscribe/sample-token"},
        "clinic": dict(clinic),
    }


def _team(
    choice: SampleChoice, clinic: dict[str, str], base_url: str, carries: frozenset[str]
) -> dict[str, Any]:
    screened = choice.treatment == "tms"
    reachable = ["email jane.doe@example.com"]
    if choice.has_phone:
        reachable.insert(0, "phone (310) 555-0123")
    problems = [] if choice.has_phone else ["email: recipient_rejected"]
    return {
        "lead": {
            "id": SAMPLE_LEAD_ID,
            "ref": SAMPLE_LEAD_ID[:8],
            "name": "Jane Doe",
            "priority": "urgent" if choice.urgent else ("high" if screened else "normal"),
            "urgent": choice.urgent,
            "treatment": TREATMENT_LABELS[choice.treatment],
            "callback_window": WINDOW_LABELS[choice.window],
            "form": "TMS self-screen" if screened else "Contact form",
            # Empty unless Clinic settings let the team email carry them, as at send time.
            "candidacy": "likely" if screened and "candidacy" in carries else None,
            "score": 5 if screened and "score" in carries else None,
            "reachable_by": ", ".join(reachable),
            "age": "2 minutes ago",
            "submitted_at": "Tue 01 Dec 2026, 09:58 PST",
            "url": f"{base_url}/staff/leads/{SAMPLE_LEAD_ID}",
            "ack_url": f"{base_url}/ack/sample-token",
            "problems": problems,
            # Only when the patient asked for a call by text; the sample shows the longest case.
            "callback_request": "Wed 02 Dec, 17:00 PST, evening",
            "returning_count": 0,
            "assignee": None,
        },
        "clinic": dict(clinic),
        "alerts": {"sms_pauses": []},
    }


def sample_context(
    template_key: str,
    choice: SampleChoice,
    clinic: dict[str, str],
    base_url: str = "http://127.0.0.1:5000",
    carries: frozenset[str] = TEAM_EXTRAS,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """The variables `template_key`'s audience gets, for the sample lead `choice`.

    `carries` names the screening results the team email may show (Clinic settings);
    `locale` is the template's language, which the words for a patient's choices follow.
    """
    if about(template_key) == "text":
        return _text(clinic, base_url)
    if audience(template_key) == "team":
        return _team(choice, clinic, base_url, carries)
    return _patient(choice, clinic, locale)


def _text(clinic: dict[str, str], base_url: str) -> dict[str, Any]:
    """A page about a text from a number no lead gave: no lead, so no choice changes it."""
    return {"text": {**SAMPLE_TEXT, "url": f"{base_url}/staff/texts/123"}, "clinic": dict(clinic)}


def with_overrides(context: dict[str, Any], edited_json: str) -> dict[str, Any]:
    """`context` with the admin's JSON laid over it, namespace by namespace; raises InvalidSample.

    `{"patient": {"first_name": "Zoë"}}` changes one value and keeps the rest of the sample.
    """
    if not edited_json.strip():
        return context
    if len(edited_json) > MAX_SAMPLE_JSON:
        raise InvalidSample(f"the sample JSON is over {MAX_SAMPLE_JSON} characters")
    try:
        edited = json.loads(edited_json)
    except json.JSONDecodeError as error:
        raise InvalidSample(
            f"the sample is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    if not isinstance(edited, dict):
        raise InvalidSample('the sample must be a JSON object, like {"patient": {...}}')
    merged = {name: dict(values) for name, values in context.items()}
    for name, values in edited.items():
        if name not in merged:
            raise InvalidSample(
                f"{name!r} is not something this audience's messages get; "
                f"use {', '.join(sorted(merged))}"
            )
        if not isinstance(values, dict):
            raise InvalidSample(f"{name!r} must be an object of values")
        merged[name].update(values)
    return merged
