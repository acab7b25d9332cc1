"""Message templates as data: loading the defaults, versions, privacy rules, SMS length.

The golden renderings of every template variant are in test_template_golden.py.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from intake_service.channels.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.intake.answers import TMS_ITEMS
from intake_service.domain.templates import message_context
from intake_service.domain.templates.rendering import Rendered, TemplateSource, render
from intake_service.domain.templates.versions import (
    DefaultTemplate,
    InvalidTemplate,
    as_source,
    current_version,
    load_defaults,
    read_defaults,
    save_version,
)
from intake_service.models import (
    DevMailboxEntry,
    InboundMessage,
    Lead,
    Message,
    MessageStatus,
    Submission,
    Template,
    TemplateVersion,
)
from intake_service.models import Triage as TriageRow
from intake_service.models.lead import CALLBACK_WINDOWS, TREATMENTS
from intake_service.paths import message_templates_root
from tests.domain.builders import (
    TMS_ALL_YES,
    count,
    database,
    load_templates,
    messages_of,
    process_and_deliver,
    submission,
)

FIXED_NOW = dt.datetime(2026, 11, 25, 18, 4, 30, tzinfo=dt.UTC)
FIXED_LEAD_ID = uuid.UUID("6f1c2a9e-4b7d-4e21-9a53-0c8d2f1e7b64")
CLINIC = {
    "CLINIC_NAME": "Sunrise Clinic",
    "CLINIC_PHONE": "(310) 555-0100",
    "CLINIC_ADDRESS": "100 Main St, Los Angeles, CA 90001",
    "CLINIC_TIMEZONE": "America/Los_Angeles",
    "PUBLIC_BASE_URL": "https://intake.sunrise.example",
}
# A real clinic's full name can be long; texts must still fit two segments with it.
LONG_CLINIC_NAME = "Pacific Coast Interventional Psychiatry and TMS Center of Greater Los Angeles"
MARKER = "ZEBRA-7731-PRIVATE"
UNKNOWN_NUMBER = "+14155550123"
# A text from a number no lead gave, in crisis words: pages about it never carry them.
UNKNOWN_TEXT = InboundMessage(
    id=4321,
    received_at=FIXED_NOW - dt.timedelta(seconds=42),
    from_number=UNKNOWN_NUMBER,
    body=f"I want to end it all. {MARKER}",
)

# Who each template is written for, as the sequences send it.
AUDIENCE = {d.key: message_context.audience(d.key) for d in read_defaults()}


def on_disk() -> set[tuple[str, str, str]]:
    """(key, channel, locale) of every template file in templates/messages/, read straight from
    disk: English in the key's folder, another locale in its subfolder (es/)."""
    found = set()
    for folder in message_templates_root().iterdir():
        places = [("en", folder)] + [(sub.name, sub) for sub in folder.iterdir() if sub.is_dir()]
        for locale, place in places:
            if (place / "email.txt").exists():
                found.add((folder.name, "email", locale))
            if (place / "sms.txt").exists():
                found.add((folder.name, "sms", locale))
    return found


def fixed_lead(**changes: Any) -> Lead:
    """A lead with fixed names and times, triaged, as the database would hand it over."""
    values: dict[str, Any] = {
        "id": FIXED_LEAD_ID,
        "created_at": FIXED_NOW - dt.timedelta(seconds=42),
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane.doe@patients.example",
        "phone": "+12133734253",
        "callback_window": "evening",
        "treatment_interest": "tms",
        "status": "new",
        "priority": "high",
        "urgent": False,
    }
    values.update(changes)
    lead = Lead(**values)
    lead.submissions = [
        Submission(
            id=uuid.UUID("0b5e3c1d-8f2a-4c6b-9d7e-1a2b3c4d5e6f"),
            form="tms_screen",
            answers=dict(TMS_ALL_YES),
            message=f"Please call after work. {MARKER}",
        )
    ]
    lead.triage = TriageRow(
        score=10,
        priority="high",
        candidacy="likely",
        reasons=["core_tms_indication", "reports_depression_ocd_anxiety"],
    )
    return lead


def context_for(
    key: str,
    lead: Lead,
    settings: Settings,
    session: Session | None = None,
    locale: str = "en",
) -> dict[str, Any]:
    """The context a template's audience gets; team templates need a session (delivery problems).

    A page about a text from a number no lead gave gets that text, whatever the lead.
    """
    if message_context.about(key) == "text":
        return message_context.text_context(UNKNOWN_TEXT, settings, FIXED_NOW)
    if AUDIENCE[key] == "team":
        assert session is not None, f"{key} is a team template: pass a session"
        return message_context.team_context(session, lead, settings, FIXED_NOW)
    return message_context.patient_context(lead, settings, locale=locale)


def render_default(
    default: DefaultTemplate, lead: Lead, settings: Settings, session: Session | None = None
) -> Rendered:
    context = context_for(default.key, lead, settings, session, default.locale)
    return render(default.source, context)


def all_parts(rendered: Rendered) -> str:
    return "\n".join(p for p in (rendered.subject, rendered.body_text, rendered.body_html) if p)


@pytest.fixture
def golden_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**CLINIC)


# The fixed lead's failed patient messages, as team_unreachable names them: reasons only.
FIXED_FAILURES = (
    ("email", "jane.doe@patients.example", "recipient_rejected"),
    ("sms", "+12133734253", "invalid_number"),
)


@pytest.fixture
def golden_session(db: Database) -> Iterator[Session]:
    """A session on a database holding the fixed lead, its TMS self-screen, a failed email and a
    failed text."""
    with db.transaction() as session:
        session.add(
            Lead(id=FIXED_LEAD_ID, created_at=FIXED_NOW - dt.timedelta(seconds=42), first_name="J")
        )
        session.flush()
        session.add(
            Submission(
                lead_id=FIXED_LEAD_ID,
                created_at=FIXED_NOW - dt.timedelta(seconds=42),
                form="tms_screen",
                via="web",
                answers=dict(TMS_ALL_YES),
                message=f"Please call after work. {MARKER}",
                fingerprint="0" * 64,
            )
        )
        session.add_all(
            Message(
                lead_id=FIXED_LEAD_ID,
                plan_key=f"first:patient:{channel}:{recipient}",
                step_key="first",
                audience="patient",
                channel=channel,
                template_key="patient_first_reply",
                recipient=recipient,
                status=MessageStatus.FAILED,
                last_error=reason,
                # A body that must never reach the team: only the reason does.
                body_text=f"Hi Jane {MARKER}",
            )
            for channel, recipient, reason in FIXED_FAILURES
        )
    with db.session() as session:
        yield session


# --- loading the defaults ------------------------------------------------------------------


def test_load_defaults_stores_every_template_folder_once_as_version_1(db: Database) -> None:
    with db.transaction() as session:
        saved = load_defaults(session)

    assert len(saved) == len(on_disk())
    with db.session() as session:
        templates = session.scalars(sa.select(Template)).all()
        assert {(t.key, t.channel, t.locale) for t in templates} == on_disk()
        for template in templates:
            assert [(v.version, v.source) for v in template.versions] == [(1, "default")]


def test_loading_defaults_again_adds_no_versions(db: Database) -> None:
    load_templates(db)

    with db.transaction() as session:
        saved = load_defaults(session)

    assert saved == []
    assert count(db, "template_versions") == len(on_disk())


def test_changed_default_becomes_version_2_and_later_messages_record_it(
    make_app: Callable[..., Flask], tmp_path: Path
) -> None:
    root = tmp_path / "messages"
    shutil.copytree(message_templates_root(), root)
    app = make_app()
    db = database(app)
    with db.transaction() as session:
        load_defaults(session, root=root)
    first_lead = intake.submit(db, submission()).lead_id
    process_and_deliver(app, first_lead)

    sms = root / "patient_first_reply" / "sms.txt"
    sms.write_text(sms.read_text().replace("Or call", "What time suits you? Or call"))
    with db.transaction() as session:
        saved = load_defaults(session, root=root)
        assert [(v.template.key, v.template.channel, v.version) for v in saved] == [
            ("patient_first_reply", "sms", 2)
        ]
        new_version_id = saved[0].id
    # Another person: the same one again would join the first lead as a returning lead.
    other = intake.Contact(first_name="Ana", email="ana@patients.example", phone="+14155552671")
    second_lead = intake.submit(db, submission(contact=other)).lead_id
    process_and_deliver(app, second_lead)

    def sent_sms(lead_id: uuid.UUID) -> Any:
        (message,) = [
            m for m in messages_of(db, lead_id) if (m.step_key, m.channel) == ("first", "sms")
        ]
        return message

    with db.session() as session:
        version_ids = dict(
            session.execute(
                sa.select(TemplateVersion.version, TemplateVersion.id)
                .join(Template)
                .where(
                    Template.key == "patient_first_reply",
                    Template.channel == "sms",
                    Template.locale == "en",
                )
            ).all()
        )
    assert version_ids[2] == new_version_id
    assert sent_sms(first_lead).template_version_id == version_ids[1]
    assert sent_sms(second_lead).template_version_id == new_version_id
    assert "What time suits you" in sent_sms(second_lead).body_text
    assert "What time suits you" not in sent_sms(first_lead).body_text


def test_default_with_unknown_variable_is_refused_and_nothing_is_saved(
    db: Database, tmp_path: Path
) -> None:
    root = tmp_path / "messages"
    shutil.copytree(message_templates_root(), root)
    broken = root / "team_new_lead" / "email.txt"
    broken.write_text(broken.read_text() + "\nFavourite colour: {{ lead.favourite_colour }}\n")

    refused = pytest.raises(InvalidTemplate, match=r"team_new_lead \(email\).*favourite_colour")
    with refused, db.transaction() as session:
        load_defaults(session, root=root)

    assert count(db, "templates") == 0
    assert count(db, "template_versions") == 0


def test_invalid_edit_leaves_the_version_in_force_unchanged(db: Database) -> None:
    load_templates(db)
    with db.session() as session:
        before = current_version(session, "patient_first_reply", "sms")
    escape = TemplateSource(None, "Hi {{ patient.__class__.__mro__ }}", None)

    with pytest.raises(InvalidTemplate), db.transaction() as session:
        save_version(session, "patient_first_reply", "sms", escape, "admin")

    with db.session() as session:
        assert current_version(session, "patient_first_reply", "sms").id == before.id
    assert count(db, "template_versions") == len(on_disk())


def test_reloading_unchanged_defaults_keeps_an_admin_edit_in_force(db: Database) -> None:
    # `intake-service run` and every deploy load the defaults again; an admin's wording must
    # survive that (DESIGN.md: defaults are loaded into the database, where admins edit them).
    load_templates(db)
    edited = TemplateSource(None, "Hi {{ patient.first_name }}, {{ clinic.name }} here.", None)
    with db.transaction() as session:
        admin_version = save_version(session, "patient_first_reply", "sms", edited, "admin")
        assert admin_version is not None
        admin_version_id = admin_version.id

    load_templates(db)

    with db.session() as session:
        assert current_version(session, "patient_first_reply", "sms").id == admin_version_id


@pytest.mark.parametrize(
    ("key", "channel", "body"),
    [
        ("patient_first_reply", "sms", "Hi {{ patient.first_name }}, your score: {{ lead.score }}"),
        ("patient_first_reply", "email", "Hi {{ lead.name }}"),
        ("team_new_lead", "email", "New lead {{ patient.first_name }}"),
    ],
    ids=["patient-sms-lead.score", "patient-email-lead.name", "team-email-patient.first_name"],
)
def test_template_using_variables_its_audience_never_gets_is_refused_at_save(
    db: Database, key: str, channel: str, body: str
) -> None:
    # Patient messages are rendered with patient_context only, team ones with team_context:
    # a variable from the other context would fail at send time, the error DESIGN.md wants
    # caught at save time (and a patient template has no business naming `lead.score`).
    subject = "Subject" if channel == "email" else None

    with pytest.raises(InvalidTemplate), db.transaction() as session:
        save_version(session, key, channel, TemplateSource(subject, body, None), "admin")


def test_invalid_new_template_creates_no_template_row_even_before_commit(db: Database) -> None:
    source = TemplateSource(None, "Hi {{ patient.nickname }}", None)

    with db.session() as session:
        with pytest.raises(InvalidTemplate):
            save_version(session, "brand_new_reminder", "sms", source, "admin")
        assert not session.new
        assert session.scalars(sa.select(Template)).all() == []


# --- the defaults on disk -----------------------------------------------------------------


def test_defaults_on_disk_match_what_read_defaults_finds() -> None:
    assert {(d.key, d.channel, d.locale) for d in read_defaults()} == on_disk()


# --- what the templates may and may not say ------------------------------------------------


def sms_defaults() -> list[DefaultTemplate]:
    return [d for d in read_defaults() if d.channel == "sms"]


@pytest.mark.parametrize("treatment", TREATMENTS)
def test_every_default_sms_is_gsm7_and_fits_two_segments_with_a_long_clinic_name(
    make_settings: Callable[..., Settings], treatment: str
) -> None:
    settings = make_settings(**dict(CLINIC, CLINIC_NAME=LONG_CLINIC_NAME))
    lead = fixed_lead(first_name="Maximiliana-Josephine", treatment_interest=treatment)
    assert sms_defaults(), "no default SMS template found"

    for default in sms_defaults():
        if message_context.audience(default.key) == "team":
            continue  # pages to staff: tested in tests/domain/outreach/test_urgent.py
        body = render_default(default, lead, settings).body_text
        length = count_segments(body)
        outside = sorted(set(body) - GSM7_BASIC - GSM7_EXTENSION)
        assert length.encoding == "GSM-7", f"{default.key}: {outside} make it UCS-2"
        assert length.segments <= 2, f"{default.key}: {length.characters} septets, over two"
        assert LONG_CLINIC_NAME in body


# English and Spanish ("depresión", "puntuación", "tamizaje").
FORBIDDEN_IN_PATIENT_MESSAGES = re.compile(
    r"depres|screening|score|phq|gad-?7|puntuaci|puntaje|tamizaje|cribado", re.IGNORECASE
)


@pytest.mark.parametrize("treatment", TREATMENTS)
@pytest.mark.parametrize("window", CALLBACK_WINDOWS)
def test_patient_messages_carry_no_clinical_detail(
    golden_settings: Settings, treatment: str, window: str
) -> None:
    lead = fixed_lead(treatment_interest=treatment, callback_window=window, urgent=True)
    patient_defaults = [d for d in read_defaults() if AUDIENCE[d.key] == "patient"]
    assert patient_defaults, "no patient template found"

    for default in patient_defaults:
        text = all_parts(render_default(default, lead, golden_settings))
        found = FORBIDDEN_IN_PATIENT_MESSAGES.findall(text)
        assert not found, f"{default.key} ({default.channel}) says {found}"
        assert MARKER not in text
        for key, wording in TMS_ITEMS.items():
            assert key not in text
            assert wording not in text


TREATMENT_WORDS = re.compile(
    r"ketamin|spravato|esketamin|tms|magnetic|magn[eé]tic|psychiatr|psiquiatr", re.IGNORECASE
)


@pytest.mark.parametrize("treatment", TREATMENTS)
def test_what_shows_on_a_lock_screen_never_names_a_treatment(
    golden_settings: Settings, treatment: str
) -> None:
    # Texts and email subjects show on lock screens and in inbox previews that others see;
    # the treatment someone asked about belongs inside the email only.
    lead = fixed_lead(treatment_interest=treatment)
    for default in read_defaults():
        if AUDIENCE[default.key] != "patient":
            continue
        rendered = render_default(default, lead, golden_settings)
        visible = rendered.body_text if default.channel == "sms" else rendered.subject or ""
        found = TREATMENT_WORDS.findall(visible)
        assert not found, f"{default.key} ({default.channel}) shows {found}"


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_first_reply_to_an_urgent_lead_shows_988_and_911_on_every_channel(
    golden_settings: Settings, channel: str
) -> None:
    # DOMAIN.md: on a crisis submission "the thank-you page and the first reply show the 988
    # Suicide & Crisis Lifeline ... and call 911". A lead who gave only a phone number gets
    # the first reply by text alone.
    first_replies = [
        d for d in read_defaults() if d.key == "patient_first_reply" and d.channel == channel
    ]
    assert {d.locale for d in first_replies} == {"en", "es"}

    for first_reply in first_replies:
        rendered = render_default(first_reply, fixed_lead(urgent=True), golden_settings)

        assert "988" in rendered.body_text, first_reply.locale
        assert "911" in rendered.body_text, first_reply.locale


def test_urgent_lead_makes_the_team_email_say_urgent_first(
    golden_settings: Settings, golden_session: Session
) -> None:
    (team_email,) = [d for d in read_defaults() if d.key == "team_new_lead"]

    rendered = render_default(
        team_email, fixed_lead(urgent=True, priority="urgent"), golden_settings, golden_session
    )

    assert rendered.subject is not None and rendered.subject.startswith("URGENT: ")
    assert rendered.body_text.startswith("URGENT:")
    assert rendered.body_html is not None and "URGENT:" in rendered.body_html


def test_team_email_has_no_answers_and_no_free_text_message(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(TEAM_EMAILS="team@sunrise.example")
    db = database(app)
    load_templates(db)
    lead_id = intake.submit(
        db, submission(message=f"I have been struggling badly. {MARKER}")
    ).lead_id

    process_and_deliver(app, lead_id)

    with db.session() as session:
        (team_mail,) = session.scalars(
            sa.select(DevMailboxEntry).where(DevMailboxEntry.recipient == "team@sunrise.example")
        ).all()
        text = "\n".join(
            part for part in (team_mail.subject, team_mail.body_text, team_mail.body_html) if part
        )
    assert "Jane Doe" in text  # it is the team email, rendered
    assert MARKER not in text
    assert "struggling" not in text
    for key, wording in TMS_ITEMS.items():
        assert key not in text
        assert wording not in text
    for reason in ("core_tms_indication", "reports_symptoms", "tried_antidepressants"):
        assert reason not in text


def test_versions_render_the_same_as_their_source_on_disk(
    db: Database, golden_settings: Settings, golden_session: Session
) -> None:
    load_templates(db)
    lead = fixed_lead()

    with db.session() as session:
        for default in read_defaults():
            stored = as_source(
                current_version(session, default.key, default.channel, default.locale)
            )
            context = context_for(
                default.key, lead, golden_settings, golden_session, default.locale
            )
            assert render(stored, context) == render(default.source, context)


# --- wording defects found from outside (issue 7, B5) --------------------------------------


def first_reply_email() -> DefaultTemplate:
    (default,) = [
        d
        for d in read_defaults()
        if (d.key, d.channel, d.locale) == ("patient_first_reply", "email", "en")
    ]
    return default


@pytest.mark.parametrize(
    ("window", "promise"),
    [
        ("any", "will call you to talk about"),
        ("morning", "will call you in the morning to talk about"),
        ("evening", "will call you in the evening to talk about"),
    ],
)
def test_first_reply_names_the_callback_window_only_when_there_is_one(
    golden_settings: Settings, window: str, promise: str
) -> None:
    # The window "any" read "will call you in the any time".
    rendered = render_default(
        first_reply_email(), fixed_lead(callback_window=window), golden_settings
    )

    assert rendered.body_html is not None
    for body in (rendered.body_text, rendered.body_html):
        assert promise in body
        assert "in the any" not in body


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 seconds ago"),
        (1, "1 second ago"),
        (1.9, "1 second ago"),
        (42, "42 seconds ago"),
        (89, "89 seconds ago"),
        (90, "2 minutes ago"),
        (3600, "60 minutes ago"),
        (5400, "2 hours ago"),
        (36 * 3600, "2 days ago"),
        (-5, "0 seconds ago"),  # clocks differ a little between machines
    ],
)
def test_the_team_email_says_how_long_ago_in_plain_words(seconds: float, words: str) -> None:
    # The team email said "1 seconds ago".
    assert message_context.age(seconds) == words


# --- privacy in passing (issue 7, A7) -------------------------------------------------------


def test_team_email_reads_the_latest_form_without_loading_any_submission(
    ready_app: Callable[..., Flask], golden_settings: Settings
) -> None:
    # The form's name came from lead.submissions[-1]: every submission of the lead was loaded
    # and its answers and message decrypted, to read one short column.
    app = ready_app()
    db = database(app)
    lead_id = intake.submit(db, submission(form="contact", answers=None)).lead_id
    with db.transaction() as session:
        session.add(
            Submission(
                lead_id=lead_id,
                created_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),  # the latest
                form="tms_screen",
                via="api",
                answers=dict(TMS_ALL_YES),
                message=MARKER,
                fingerprint="1" * 64,
            )
        )
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with db.session() as session:
        lead = session.get_one(Lead, lead_id)
        sa.event.listen(db.engine, "before_cursor_execute", record)
        try:
            context = message_context.team_context(session, lead, golden_settings, FIXED_NOW)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", record)

    assert context["lead"]["form"] == "TMS self-screen"
    read = [s for s in statements if "submissions" in s]
    assert read, "the form is read from the submissions table"
    for statement in read:
        assert "submissions.answers" not in statement
        assert "submissions.message" not in statement
