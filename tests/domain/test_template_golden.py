"""Golden files: every variant of every default template, rendered as a patient or the team
would get it, so a template change is a reviewable diff.

tests/golden/<key>.<variant>.<channel>.txt (and .html for email) hold the English renderings,
<key>.<variant>.<channel>.<locale>.txt those of another locale's template (es/). The
variants are one lead, the "default" (Jane Doe's TMS self-screen: routine, TMS, phone and
email, an evening callback), changed along one axis at a time: urgent, each other treatment,
no phone, no email, any callback time, the contact form. A variant that renders a template
exactly as the default does gets no file of its own, so a new `{% if %}` in a template shows
up as new files. The leads are rows built by tests/support/factories.py and triaged by the
product's own rules; renderings use the contexts delivery uses.

After an intended change: `UPDATE_GOLDEN=1 python -m pytest tests/domain/test_template_golden.py`,
then review and commit the diff. CI refuses UPDATE_GOLDEN: it would pass whatever changed.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain import triage
from intake_service.domain.templates import message_context
from intake_service.domain.templates.rendering import Rendered, render
from intake_service.domain.templates.versions import DefaultTemplate, read_defaults
from intake_service.models import InboundMessage, Lead
from tests.support import factories

GOLDEN = Path(__file__).resolve().parent.parent / "golden"

FIXED_NOW = dt.datetime(2026, 11, 25, 18, 4, 30, tzinfo=dt.UTC)
FIXED_LEAD_ID = uuid.UUID("6f1c2a9e-4b7d-4e21-9a53-0c8d2f1e7b64")
CLINIC = {
    "CLINIC_NAME": "Sunrise Clinic",
    "CLINIC_PHONE": "(310) 555-0100",
    "CLINIC_ADDRESS": "100 Main St, Los Angeles, CA 90001",
    "CLINIC_TIMEZONE": "America/Los_Angeles",
    "PUBLIC_BASE_URL": "https://intake.sunrise.example",
}
# Who a team message goes to: the paged person's address is signed into its ack link.
TEAM_RECIPIENTS = {"email": "team@sunrise.example", "sms": "+13105550199"}
# A failed message's body must never reach the team: only its reason does.
MARKER = "ZEBRA-7731-PRIVATE"
# A text from a number no lead gave, for the pages about one; its words reach no page.
UNKNOWN_TEXT = InboundMessage(
    id=4321,
    received_at=FIXED_NOW - dt.timedelta(seconds=42),
    from_number="+14155550123",
    body=f"I want to end it all. {MARKER}",
)

DEFAULT_LEAD: dict[str, Any] = {
    "form": "tms_screen",
    "answers": factories.TMS_ALL_YES,
    "first_name": "Jane",
    "last_name": "Doe",
    "email": "jane.doe@patients.example",
    "phone": "+12133734253",
    "callback_window": "evening",
    "treatment_interest": "tms",
}
# Each variant changes the default lead along one axis.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    # PHQ-9 item 9 above 0: the safety flag that makes a lead urgent.
    "urgent": {"form": "phq9", "answers": {"items": [1, 1, 1, 1, 1, 1, 1, 1, 1]}},
    "ketamine": {"treatment_interest": "ketamine"},
    "spravato": {"treatment_interest": "spravato"},
    "psychiatry": {"treatment_interest": "psychiatry"},
    "unsure": {"treatment_interest": "unsure"},
    "no-phone": {"phone": None},
    "no-email": {"email": None},
    "any-time": {"callback_window": "any"},
    "contact-form": {"form": "contact", "answers": None},
}

REFUSED_IN_CI = (
    "UPDATE_GOLDEN=1 rewrites the golden files and is refused when CI is set: golden files "
    "change only in a reviewed commit, so rewrite them on your machine and commit the diff."
)


class GoldenRefused(Exception):
    """UPDATE_GOLDEN was asked for where nobody reviews what it writes."""


def update_requested(environ: Mapping[str, str]) -> bool:
    """True when UPDATE_GOLDEN=1 asks to rewrite the files; raises GoldenRefused under CI."""
    if environ.get("UPDATE_GOLDEN") != "1":
        return False
    if environ.get("CI"):
        raise GoldenRefused(REFUSED_IN_CI)
    return True


# --- building and rendering the variants ---------------------------------------------------


def variant_lead(session: Session, name: str) -> Lead:
    """The variant's lead as the database holds it after processing, with failed messages
    on each of its contact points (what team_unreachable reports)."""
    values = DEFAULT_LEAD | VARIANTS[name]
    form, answers = values.pop("form"), values.pop("answers")
    text = f"Please call after work. {MARKER}"
    assessed = triage.assess(form, answers, text, values["treatment_interest"])
    lead = factories.lead(
        session,
        id=FIXED_LEAD_ID,
        created_at=FIXED_NOW - dt.timedelta(seconds=42),
        form=form,
        answers=answers,
        message=text,
        sms_consent=True,
        urgent=assessed.urgent,
        triage={
            "score": assessed.score,
            "priority": assessed.priority,
            "candidacy": assessed.candidacy,
            "reasons": list(assessed.reasons),
        },
        **values,
    )
    for channel, address in (("email", lead.email), ("sms", lead.phone)):
        if address is not None:
            factories.message(session, lead, "failed", channel=channel, body_text=MARKER)
    session.expire_all()  # read it back as delivery does, relationships included
    return session.get_one(Lead, FIXED_LEAD_ID)


def golden_name(default: DefaultTemplate, variant: str) -> str:
    """The file name without its extension: English has no locale in it, to keep its history."""
    name = f"{default.key}.{variant}.{default.channel}"
    return name if default.locale == "en" else f"{name}.{default.locale}"


def rendered_files(default: DefaultTemplate, rendered: Rendered, variant: str) -> dict[str, str]:
    name = golden_name(default, variant)
    if default.channel == "sms":
        return {f"{name}.txt": rendered.body_text}
    files = {f"{name}.txt": f"Subject: {rendered.subject}\n\n{rendered.body_text}"}
    if rendered.body_html is not None:
        files[f"{name}.html"] = rendered.body_html
    return files


def render_variant(
    db: Database, settings: Settings, variant: str
) -> dict[DefaultTemplate, Rendered]:
    """Every default template rendered for the variant's lead; nothing is kept in the database."""
    with db.session() as session:
        lead = variant_lead(session, variant)
        renderings = {}
        for default in read_defaults():
            if message_context.about(default.key) == "text":
                # A page about a text from a number no lead gave: the same for every variant.
                context = message_context.text_context(UNKNOWN_TEXT, settings, FIXED_NOW)
            elif message_context.audience(default.key) == "team":
                recipient = TEAM_RECIPIENTS[default.channel]
                context = message_context.team_context(
                    session, lead, settings, FIXED_NOW, recipient
                )
            else:
                context = message_context.patient_context(lead, settings, locale=default.locale)
            renderings[default] = render(default.source, context)
        session.rollback()
    return renderings


def expected_golden(db: Database, settings: Settings) -> dict[str, str]:
    """File name -> content for every template and every variant that changes it."""
    baseline = render_variant(db, settings, "default")
    files: dict[str, str] = {}
    for variant in VARIANTS:
        renderings = baseline if variant == "default" else render_variant(db, settings, variant)
        for default, rendered in renderings.items():
            if variant == "default" or rendered != baseline[default]:
                files.update(rendered_files(default, rendered, variant))
    return files


def on_disk() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(GOLDEN.iterdir()) if p.is_file()}


def difference(name: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), name, f"{name} (now)"
    )
    return "".join(lines)


@pytest.fixture
def golden_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**CLINIC)


@pytest.fixture
def expected(db: Database, golden_settings: Settings) -> dict[str, str]:
    return expected_golden(db, golden_settings)


# --- the golden files ----------------------------------------------------------------------


def test_every_variant_of_every_template_renders_as_its_golden_file(
    expected: dict[str, str],
) -> None:
    refusal = None
    try:
        update = update_requested(os.environ)
    except GoldenRefused as refused:
        refusal = str(refused)
    if refusal is not None:
        pytest.fail(refusal, pytrace=False)
    if update:
        GOLDEN.mkdir(exist_ok=True)
        for stale in set(on_disk()) - set(expected):
            (GOLDEN / stale).unlink()
        for name, content in expected.items():
            (GOLDEN / name).write_text(content)

    stored = on_disk()
    missing = sorted(set(expected) - set(stored))
    assert not missing, f"no golden file for {missing}; run with UPDATE_GOLDEN=1 and review"
    changed = [
        difference(name, stored[name], content)
        for name, content in expected.items()
        if stored[name] != content
    ]
    assert not changed, (
        "renderings differ from their golden files; if intended, run with UPDATE_GOLDEN=1 "
        "and review the diff:\n" + "\n".join(changed)
    )


def test_no_golden_file_outlives_its_template_or_variant(expected: dict[str, str]) -> None:
    assert sorted(on_disk()) == sorted(expected)


def test_every_template_has_its_default_rendering() -> None:
    for default in read_defaults():
        assert (GOLDEN / f"{golden_name(default, 'default')}.txt").exists(), default


def test_every_patient_template_has_a_golden_file_per_locale() -> None:
    # Issue 14: a Spanish patient template is reviewed like the English one.
    for default in read_defaults():
        if message_context.audience(default.key) == "patient" and default.locale == "en":
            assert (GOLDEN / f"{default.key}.default.{default.channel}.es.txt").exists(), default


def test_every_variant_changes_some_template(expected: dict[str, str]) -> None:
    # A variant that changes nothing is dead weight; one that changes something has files.
    variants_with_files = {name.split(".")[1] for name in expected}
    assert variants_with_files == set(VARIANTS)


def test_no_failed_message_body_reaches_a_golden_file(expected: dict[str, str]) -> None:
    assert not [name for name, content in expected.items() if MARKER in content]


@pytest.mark.parametrize(
    ("environ", "update"),
    [
        ({}, False),
        ({"CI": "true"}, False),
        ({"UPDATE_GOLDEN": "1"}, True),
        ({"UPDATE_GOLDEN": "0", "CI": "true"}, False),
    ],
)
def test_update_golden_is_asked_for_with_update_golden_1(
    environ: dict[str, str], update: bool
) -> None:
    assert update_requested(environ) is update


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_update_golden_is_refused_with_a_sentence_when_ci_is_set(ci: str) -> None:
    with pytest.raises(GoldenRefused, match="refused when CI is set") as refusal:
        update_requested({"UPDATE_GOLDEN": "1", "CI": ci})

    assert str(refusal.value).endswith("commit the diff.")
