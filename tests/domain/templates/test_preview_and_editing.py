"""Previews, versions with author and note, diffs and restores, and the load that respects edits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from intake_service.db import Database
from intake_service.domain.templates import checks, editing
from intake_service.domain.templates.preview import framed, preview
from intake_service.domain.templates.rendering import TemplateSource
from intake_service.domain.templates.samples import SampleChoice
from intake_service.domain.templates.versions import (
    Author,
    InvalidTemplate,
    as_source,
    current_version,
    load_defaults,
    read_defaults,
)
from intake_service.models import AuditEvent, Template, TemplateVersion
from intake_service.models.lead import CALLBACK_WINDOWS
from intake_service.paths import message_templates_root
from tests.domain.builders import load_templates

CLINIC = checks.SAMPLE_CLINIC
ADMIN = Author(None, "admin@clinic.example")


def default(key: str, channel: str, locale: str = "en") -> TemplateSource:
    return next(
        d.source for d in read_defaults() if (d.key, d.channel, d.locale) == (key, channel, locale)
    )


def template_id(db: Database, key: str, channel: str, locale: str = "en") -> int:
    with db.session() as session:
        found = session.scalars(
            sa.select(Template.id).where(
                Template.key == key, Template.channel == channel, Template.locale == locale
            )
        ).one()
    return int(found)


@pytest.mark.parametrize("window", CALLBACK_WINDOWS)
def test_first_reply_reads_well_for_every_callback_window(window: str) -> None:
    shown = preview(
        "patient_first_reply",
        "email",
        default("patient_first_reply", "email"),
        SampleChoice(window=window),
        CLINIC,
    )
    assert shown.ok
    assert shown.body_text is not None
    assert "in the any" not in shown.body_text
    if window != "any":
        assert f"call you in the {window} to talk" in shown.body_text


def test_sms_preview_counts_after_the_variables_are_filled_in() -> None:
    source = TemplateSource(None, "Hi {{ patient.first_name }}!", None)
    short = preview("patient_checkin", "sms", source, SampleChoice(), CLINIC)
    long_name = '{"patient": {"first_name": "' + "Maximiliana" * 20 + '"}}'
    long = preview("patient_checkin", "sms", source, SampleChoice(), CLINIC, long_name)
    assert short.sms is not None and long.sms is not None
    assert (short.sms.text, short.sms.segments) == ("Hi Jane!", 1)
    assert long.sms.segments == 2
    curly = preview(
        "patient_checkin",
        "sms",
        source,
        SampleChoice(),
        CLINIC,
        '{"patient": {"first_name": "Zoë\u2019s"}}',
    )
    assert curly.sms is not None and curly.sms.encoding == "UCS-2"


def test_preview_shows_refusals_and_render_errors_without_raising() -> None:
    refused = preview(
        "patient_checkin",
        "sms",
        TemplateSource(None, "{{ lead.score }}", None),
        SampleChoice(),
        CLINIC,
    )
    assert not refused.ok and refused.problems[0].kind == "health"
    broken = preview(
        "patient_checkin", "sms", TemplateSource(None, "{{ 1 / 0 }}", None), SampleChoice(), CLINIC
    )
    assert broken.error is not None and "ZeroDivisionError" in broken.error
    bad_json = preview(
        "patient_checkin", "sms", default("patient_checkin", "sms"), SampleChoice(), CLINIC, "{"
    )
    assert bad_json.error is not None and bad_json.error.startswith("Sample:")


def test_html_preview_carries_its_own_content_security_policy() -> None:
    html = framed("<!doctype html><html><head><title>x</title></head><body>Hi</body></html>")
    assert html.index("Content-Security-Policy") < html.index("<title>")
    assert framed("<p>Hi</p>").startswith('<meta http-equiv="Content-Security-Policy"')


def test_each_save_is_a_new_version_with_who_and_why(db: Database) -> None:
    load_templates(db)
    tid = template_id(db, "patient_checkin", "sms")
    draft = TemplateSource(None, "Hi {{ patient.first_name }}, call {{ clinic.phone }}.", None)
    with db.transaction() as session:
        saved = editing.save_draft(session, tid, draft, ADMIN, "  Shorter,\n friendlier ")
        assert saved is not None
        assert (saved.version, saved.author_email, saved.note) == (
            2,
            ADMIN.email,
            "Shorter, friendlier",
        )
        assert editing.save_draft(session, tid, draft, ADMIN, None) is None  # unchanged
    with db.session() as session:
        events = session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == "template.saved"))
        assert [e.detail["version"] for e in events] == [2]


def test_a_refused_draft_saves_nothing(db: Database) -> None:
    load_templates(db)
    tid = template_id(db, "patient_checkin", "sms")
    with db.session() as session:
        before = session.scalar(sa.select(sa.func.count()).select_from(TemplateVersion))
    for body in ("{{ lead.nonexistent }}", "{{ ''.__class__ }}", "{{ lead.answers }}", "{% if %}"):
        with pytest.raises(editing.DraftRefused), db.transaction() as session:
            editing.save_draft(session, tid, TemplateSource(None, body, None), ADMIN, None)
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(TemplateVersion)) == before
        assert current_version(session, "patient_checkin", "sms").version == 1


def test_restore_copies_an_old_version_forward_and_compare_reads_line_by_line(db: Database) -> None:
    load_templates(db)
    tid = template_id(db, "patient_checkin", "email")
    original = default("patient_checkin", "email")
    changed = TemplateSource(
        original.subject,
        original.body_text.replace("Hi {{ patient.first_name }},", "Hello!"),
        original.body_html,
    )
    with db.transaction() as session:
        editing.save_draft(session, tid, changed, ADMIN, "Warmer greeting")
        restored = editing.restore(session, tid, 1, ADMIN)
        assert restored is not None
        assert (restored.version, restored.restored_from, restored.note) == (
            3,
            1,
            "Restored version 1",
        )
        assert as_source(restored) == original
        diffs = {d.part: d for d in editing.compare(session, tid, 1, 2)}
    text = diffs["text"]
    assert not diffs["subject"].changed and text.changed
    assert [(line.kind, line.text) for line in text.lines if line.kind != "same"] == [
        ("removed", "Hi {{ patient.first_name }},"),
        ("added", "Hello!"),
    ]
    assert text.lines[0].old_number == 1


def test_templates_load_never_overwrites_an_admin_edit(db: Database) -> None:
    load_templates(db)
    tid = template_id(db, "patient_last_note", "sms")
    draft = TemplateSource(None, "Bye from {{ clinic.name }}. Reply STOP to opt out.", None)
    with db.transaction() as session:
        editing.save_draft(session, tid, draft, ADMIN, None)
    load_templates(db)
    with db.session() as session:
        version = current_version(session, "patient_last_note", "sms")
        assert (version.version, version.source, version.body_text) == (2, "admin", draft.body_text)


def test_list_shows_each_template_with_its_version_in_force(db: Database) -> None:
    load_templates(db)
    with db.transaction() as session:
        editing.save_draft(
            session,
            template_id(db, "team_urgent_page", "sms"),
            TemplateSource(None, "Urgent: {{ lead.ack_url }}", None),
            ADMIN,
            None,
        )
        rows = {(r.key, r.channel, r.locale): r for r in editing.list_templates(session)}
    assert len(rows) == len(read_defaults())
    page = rows[("team_urgent_page", "sms", "en")]
    assert (page.version, page.origin, page.changed_by, page.audience) == (
        2,
        "admin",
        ADMIN.email,
        "team",
    )
    assert rows[("patient_checkin", "email", "en")].version == 1
    assert rows[("patient_checkin", "email", "es")].version == 1


def test_loading_from_files_runs_the_same_checks(db: Database, tmp_path: Path) -> None:
    root = tmp_path / "messages"
    shutil.copytree(message_templates_root(), root)
    (root / "team_urgent_page" / "sms.txt").write_text("Urgent, score {{ lead.score }}")
    refused = pytest.raises(InvalidTemplate, match=r"lead\.score is health information")
    with refused, db.transaction() as session:
        load_defaults(session, root=root)
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(TemplateVersion)) == 0


def test_a_changed_word_in_a_one_line_text_is_marked_in_the_diff(db: Database) -> None:
    load_templates(db)
    tid = template_id(db, "patient_checkin", "sms")
    for body in ("Hi {{ patient.first_name }}, call us.", "Hi {{ patient.first_name }}, text us."):
        with db.transaction() as session:
            editing.save_draft(session, tid, TemplateSource(None, body, None), ADMIN, None)
    with db.session() as session:
        text = next(d for d in editing.compare(session, tid, 2, 3) if d.part == "text")
    removed, added = text.lines
    assert [p for p, changed in removed.pieces if changed] == ["call"]
    assert [p for p, changed in added.pieces if changed] == ["text"]
    assert "".join(p for p, _ in added.pieces) == added.text


# --- templates per locale (issue 14) ----------------------------------------------------------


def test_an_admin_edit_of_a_spanish_template_is_an_es_version_a_reload_keeps(db: Database) -> None:
    load_templates(db)
    tid = template_id(db, "patient_last_note", "sms", "es")
    draft = TemplateSource(None, "Adiós de {{ clinic.name }}. Responda STOP para cancelar.", None)
    with db.transaction() as session:
        saved = editing.save_draft(session, tid, draft, ADMIN, None)
        assert saved is not None and saved.template.locale == "es"

    load_templates(db)

    with db.session() as session:
        spanish = current_version(session, "patient_last_note", "sms", "es")
        english = current_version(session, "patient_last_note", "sms")
        assert (spanish.version, spanish.source, spanish.body_text) == (2, "admin", draft.body_text)
        assert (english.version, english.source) == (1, "default")


def test_loading_twice_adds_no_version_in_any_locale(db: Database) -> None:
    load_templates(db)
    with db.transaction() as session:
        assert load_defaults(session) == []
    with db.session() as session:
        locales = session.execute(
            sa.select(Template.locale, sa.func.count(TemplateVersion.id))
            .join(TemplateVersion)
            .group_by(Template.locale)
        ).all()
    english = [d for d in read_defaults() if d.locale == "en"]
    patient = [d for d in english if not d.key.startswith("team_")]
    assert dict(locales) == {"en": len(english), "es": len(patient)}


def test_the_list_names_each_missing_translation_of_a_patient_template(db: Database) -> None:
    load_templates(db)
    with db.session() as session:
        assert editing.missing_translations(editing.list_templates(session)) == []
    with db.transaction() as session:
        tid = template_id(db, "patient_checkin", "sms", "es")
        session.execute(sa.delete(Template).where(Template.id == tid))

    with db.session() as session:
        missing = editing.missing_translations(editing.list_templates(session))

    # Team templates are English only (staff read English): never listed as missing.
    assert missing == [editing.MissingTranslation("patient_checkin", "sms", "es")]


def test_a_spanish_draft_previews_with_the_sample_choices_in_spanish() -> None:
    for window, words in (("evening", "por la noche"), ("any", "lo antes posible")):
        shown = preview(
            "patient_first_reply",
            "sms",
            default("patient_first_reply", "sms", "es"),
            SampleChoice(window=window),
            CLINIC,
            locale="es",
        )
        assert shown.ok
        assert f"Le llamaremos {words}." in (shown.body_text or "")


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("patient_checkin/fr", "not a locale for translations"),
        ("patient_checkin/en", "not a locale for translations"),
        ("team_new_lead/es", "no English template to fall back to"),
    ],
)
def test_a_locale_folder_the_service_cannot_use_is_refused(
    tmp_path: Path, where: str, message: str
) -> None:
    root = tmp_path / "messages"
    shutil.copytree(message_templates_root(), root)
    folder = root / where
    folder.mkdir(exist_ok=True)
    # team_new_lead has no text in English: a Spanish text would have nothing to fall back to.
    (folder / "sms.txt").write_text("Hola {{ clinic.name }}")

    with pytest.raises(InvalidTemplate, match=message):
        read_defaults(root)
