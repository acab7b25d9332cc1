"""Lock screens: no email subject or text names a patient's treatment or screening, and no team
subject names the patient; every default, every lead variant, and admin edits refused at save.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain.templates import privacy
from intake_service.domain.templates.message_context import about
from intake_service.domain.templates.rendering import TemplateSource
from intake_service.domain.templates.versions import InvalidTemplate, read_defaults, save_version
from intake_service.models.lead import CALLBACK_WINDOWS, TREATMENTS, Lead
from intake_service.models.triage import Triage
from tests.domain.test_templates import (
    AUDIENCE,
    CLINIC,
    FIXED_LEAD_ID,
    MARKER,
    UNKNOWN_NUMBER,
    fixed_lead,
    golden_session,  # noqa: F401  (fixture)
    render_default,
)

FIRST, LAST = "Philippa", "Quenby-Marsh"
EMAIL, PHONE = "philippa.qm@patients.example", "+12133734253"
# Every shape a lead reaches a template in: what it asked for, how it screened, how urgent.
VARIANTS = list(
    itertools.product(
        TREATMENTS,
        [("normal", False), ("high", False), ("urgent", True)],
        [None, "likely", "possible", "unlikely"],
        CALLBACK_WINDOWS[:2],
    )
)


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**CLINIC)


def variant_lead(
    treatment: str, level: tuple[str, bool], candidacy: str | None, window: str
) -> Lead:
    priority, urgent = level
    lead = fixed_lead(
        first_name=FIRST,
        last_name=LAST,
        email=EMAIL,
        phone=PHONE,
        treatment_interest=treatment,
        priority=priority,
        urgent=urgent,
        callback_window=window,
    )
    lead.triage = (
        None
        if candidacy is None
        else Triage(
            score=9, priority=priority, candidacy=candidacy, reasons=["core_tms_indication"]
        )
    )
    return lead


def test_every_default_subject_and_text_in_every_variant_is_lock_screen_safe(
    settings: Settings,
    golden_session: Session,  # noqa: F811
) -> None:
    tried = 0
    failures: list[str] = []
    for variant in VARIANTS:
        lead = variant_lead(*variant)
        for default in read_defaults():
            team = AUDIENCE[default.key] == "team"
            rendered = render_default(default, lead, settings, golden_session if team else None)
            visible = []
            if rendered.subject is not None:
                visible.append(("subject", rendered.subject))
            if default.channel == "sms":
                visible.append(("text", rendered.body_text))
            for part, text in visible:
                tried += 1
                words = privacy.CLINICAL_WORDS.findall(text.replace(settings.clinic_name, ""))
                if words:
                    failures.append(f"{default.key} {part} {variant}: clinical words {words}")
                if team and part == "subject":
                    for secret in (FIRST, LAST, EMAIL, PHONE, "213"):
                        if secret in text:
                            failures.append(f"{default.key} subject {variant} shows {secret!r}")
                if about(default.key) == "text":
                    # A crisis text's number is never on a lock screen, nor what it said.
                    for secret in ("555-0123", UNKNOWN_NUMBER[2:], "end it all", MARKER):
                        if secret in text:
                            failures.append(f"{default.key} {part} shows {secret!r}")
                    continue
                if team and part == "subject":
                    assert f"ref {FIXED_LEAD_ID.hex[:8]}" in text, text
    print(f"\nlock-screen cases tried: {tried}, failures: {len(failures)}")
    assert not failures, "\n".join(failures[:20])


def test_every_default_passes_the_save_time_check() -> None:
    for default in read_defaults():
        assert privacy.problems(default.key, default.channel, default.source) == [], default.key


@pytest.mark.parametrize(
    ("key", "channel", "subject", "body", "reason"),
    [
        ("team_new_lead", "email", "New lead: {{ lead.name }}", "x", "lead.name"),
        ("team_new_lead", "email", "New lead {{ lead['name'] }}", "x", "lead.name"),
        ("team_new_lead", "email", "Lead via {{ lead.reachable_by }}", "x", "lead.reachable_by"),
        ("team_new_lead", "email", "New {{ lead.treatment }} lead", "x", "lead.treatment"),
        ("team_new_lead", "email", "Candidacy {{ lead.candidacy }}", "x", "lead.candidacy"),
        ("team_unreachable", "email", "Score {{ lead.score }}", "x", "lead.score"),
        ("patient_first_reply", "email", "About {{ treatment.label }}", "x", "treatment.label"),
        ("patient_first_reply", "email", "Your depression screening", "x", "clinical words"),
        ("patient_checkin", "email", "Your TMS consult", "x", "clinical words"),
        ("patient_first_reply", "sms", None, "Hi, re {{ treatment.key }}", "treatment.key"),
        ("patient_first_reply", "sms", None, "Hi, about your ketamine questions", "clinical"),
        ("patient_last_note", "sms", None, "Your PHQ-9 score was high", "clinical words"),
        ("team_urgent_page", "sms", None, "Call {{ lead.name }} now", "lead.name"),
        # A crisis text's number beside "crisis" says who needs help as a name would.
        ("team_text_urgent_page", "sms", None, "Call {{ text.from_number }}", "text.from_number"),
        ("team_text_urgent_page", "email", "From {{ text.from_number }}", "x", "text.from_number"),
        # A page about a text has no lead to name, and never the text's words.
        ("team_text_urgent_page", "sms", None, "Call {{ lead.name }}", "not a variable"),
        ("team_text_urgent_page", "sms", None, "{{ text.message }}", "health information"),
        ("team_text_urgent_page", "email", "x", "{{ text.body }}", "not a variable"),
    ],
)
def test_admin_edit_that_would_show_on_a_lock_screen_is_refused_at_save(
    db: Database, key: str, channel: str, subject: str | None, body: str, reason: str
) -> None:
    source = TemplateSource(subject=subject, body_text=body, body_html=None)
    with db.session() as session, pytest.raises(InvalidTemplate, match=reason):
        save_version(session, key, channel, source, origin="admin")


def test_names_and_treatment_stay_allowed_inside_the_email_body(db: Database) -> None:
    source = TemplateSource(
        subject="New lead: {{ lead.priority }} priority (ref {{ lead.ref }})",
        body_text="Name: {{ lead.name }}, treatment {{ lead.treatment }}",
        body_html=None,
    )
    with db.transaction() as session:
        assert save_version(session, "team_new_lead", "email", source, origin="admin")
