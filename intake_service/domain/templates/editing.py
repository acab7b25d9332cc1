"""The template editor's work: list, save a draft as a version, compare, restore, test-send.

Every save runs the same checks as `templates load` (checks.problems) and adds a version with
who, when and why; nothing is ever overwritten, so any message sent keeps pointing at the
version it was rendered from.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake_service.channels import kind
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain.compliance import audit
from intake_service.domain.intake.rules import DEFAULT_LOCALE, LOCALES
from intake_service.domain.outreach.direct_send import Direct, send_now
from intake_service.domain.templates import checks
from intake_service.domain.templates.message_context import audience
from intake_service.domain.templates.rendering import Prepared, RenderError, TemplateSource
from intake_service.domain.templates.samples import SampleChoice, sample_context, with_overrides
from intake_service.domain.templates.versions import (
    Author,
    add_version,
    as_source,
)
from intake_service.models import Template, TemplateVersion, User

MAX_NOTE = 500
MAX_PART = 20_000  # characters in one part: a real message is a few hundred
TEST_HEADER = "X-Intake-Test"
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


class UnknownTemplate(LookupError):
    """No template (or no such version of it) has that id."""


class DraftRefused(ValueError):
    """A draft that may not be saved or sent; `problems` lists every reason."""

    def __init__(self, problems: list[checks.Problem]) -> None:
        super().__init__(str(problems[0]))
        self.problems = problems


class NoTestAddress(ValueError):
    """The admin has no phone on their account to send a test text to."""


@dataclass(frozen=True)
class TemplateRow:
    id: int
    key: str
    audience: str
    channel: str
    locale: str
    version: int
    origin: str  # "default" | "admin"
    changed_at: dt.datetime
    changed_by: str | None


def list_templates(session: Session) -> list[TemplateRow]:
    """Every template with its version in force, by key, channel and locale."""
    newest = (
        select(TemplateVersion.template_id, func.max(TemplateVersion.version).label("version"))
        .group_by(TemplateVersion.template_id)
        .subquery()
    )
    rows = session.execute(
        select(Template, TemplateVersion)
        .join(newest, newest.c.template_id == Template.id)
        .join(
            TemplateVersion,
            (TemplateVersion.template_id == Template.id)
            & (TemplateVersion.version == newest.c.version),
        )
        .order_by(Template.key, Template.channel, Template.locale)
    ).all()
    return [
        TemplateRow(
            t.id,
            t.key,
            audience(t.key),
            t.channel,
            t.locale,
            v.version,
            v.source,
            v.created_at,
            v.author_email,
        )
        for t, v in rows
    ]


@dataclass(frozen=True)
class MissingTranslation:
    key: str
    channel: str
    locale: str


def missing_translations(rows: list[TemplateRow]) -> list[MissingTranslation]:
    """Patient templates (of `list_templates`) with no version in one of the patients' locales:
    a lead who reads that language gets the English one, and delivery logs a warning."""
    have = {(row.key, row.channel, row.locale) for row in rows}
    return [
        MissingTranslation(row.key, row.channel, locale)
        for row in rows
        if row.audience == "patient" and row.locale == DEFAULT_LOCALE
        for locale in LOCALES
        if locale != DEFAULT_LOCALE and (row.key, row.channel, locale) not in have
    ]


def get_template(session: Session, template_id: int) -> Template:
    """Raises UnknownTemplate."""
    template = session.get(Template, template_id)
    if template is None:
        raise UnknownTemplate(f"no template with id {template_id}")
    return template


@dataclass(frozen=True)
class EditorState:
    template: Template
    history: list[TemplateVersion]  # newest first; the first is in force
    admin_has_phone: bool  # whether a test text has somewhere to go

    @property
    def current(self) -> TemplateVersion:
        return self.history[0]


def editor_state(session: Session, template_id: int, admin_id: int) -> EditorState:
    """What the editor shows for one template; raises UnknownTemplate."""
    template = get_template(session, template_id)
    history = versions(session, template_id)
    if not history:
        raise UnknownTemplate(f"template {template_id} has no version yet")
    admin = session.get(User, admin_id)
    return EditorState(template, history, bool(admin and admin.phone))


def versions(session: Session, template_id: int) -> list[TemplateVersion]:
    """Every version, newest first."""
    return list(
        session.scalars(
            select(TemplateVersion)
            .where(TemplateVersion.template_id == template_id)
            .order_by(TemplateVersion.version.desc())
        )
    )


def get_version(session: Session, template_id: int, number: int) -> TemplateVersion:
    """Raises UnknownTemplate."""
    version = session.scalars(
        select(TemplateVersion).where(
            TemplateVersion.template_id == template_id, TemplateVersion.version == number
        )
    ).first()
    if version is None:
        raise UnknownTemplate(f"template {template_id} has no version {number}")
    return version


def draft_source(
    channel: str, subject: str | None, body_text: str, body_html: str | None
) -> TemplateSource:
    """The draft as the form sent it: line endings as the browser sends them made plain."""

    def clean(value: str | None) -> str | None:
        if value is None:
            return None
        return value.replace("\r\n", "\n").replace("\r", "\n")

    if not kind(channel).has_subject:
        return TemplateSource(None, clean(body_text) or "", None)
    html = clean(body_html)
    return TemplateSource(
        (clean(subject) or "").strip(),
        clean(body_text) or "",
        html if html and html.strip() else None,
    )


def _refuse_oversized(source: TemplateSource) -> None:
    for part, text in checks.parts(source):
        if len(text) > MAX_PART:
            raise DraftRefused(
                [checks.Problem(part, "syntax", f"is over {MAX_PART} characters long")]
            )


def save_draft(
    session: Session,
    template_id: int,
    source: TemplateSource,
    author: Author,
    note: str | None,
    clinic: dict[str, str] | None = None,
) -> TemplateVersion | None:
    """Save the draft as the template's next version (not committed); None if unchanged.

    Raises UnknownTemplate, or DraftRefused with every problem found (nothing is added).
    """
    template = get_template(session, template_id)
    _refuse_oversized(source)
    problems = checks.problems(template.key, template.channel, source, clinic)
    if problems:
        raise DraftRefused(problems)
    version = add_version(session, template, source, "admin", author, _note(note))
    if version is not None:
        audit.record(
            session,
            audit.Actor(author.id, author.email),
            "template.saved",
            detail={"template_id": template.id, "key": template.key, "version": version.version},
        )
    return version


def restore(
    session: Session,
    template_id: int,
    number: int,
    author: Author,
    clinic: dict[str, str] | None = None,
) -> TemplateVersion | None:
    """Copy version `number` back as a new version (not committed); None if it is in force.

    Raises UnknownTemplate, or DraftRefused when the old text fails today's checks.
    """
    template = get_template(session, template_id)
    old = get_version(session, template_id, number)
    source = as_source(old)
    problems = checks.problems(template.key, template.channel, source, clinic)
    if problems:
        raise DraftRefused(problems)
    version = add_version(
        session,
        template,
        source,
        "admin",
        author,
        f"Restored version {number}",
        restored_from=number,
    )
    if version is not None:
        audit.record(
            session,
            audit.Actor(author.id, author.email),
            "template.restored",
            detail={
                "template_id": template.id,
                "key": template.key,
                "version": version.version,
                "restored_from": number,
            },
        )
    return version


def _note(note: str | None) -> str | None:
    text = " ".join((note or "").split())
    return text[:MAX_NOTE] or None


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same" | "added" | "removed" | "gap"
    old_number: int | None
    new_number: int | None
    text: str
    # The line in pieces, each marked changed or not: within a one-line text, the words that
    # changed stand out instead of the whole message.
    pieces: tuple[tuple[str, bool], ...] = ()


_WORDS = re.compile(r"(\s+)")


def _word_pieces(
    old: str, new: str
) -> tuple[tuple[tuple[str, bool], ...], tuple[tuple[str, bool], ...]]:
    a, b = _WORDS.split(old), _WORDS.split(new)
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if i2 > i1:
            left.append(("".join(a[i1:i2]), tag != "equal"))
        if j2 > j1:
            right.append(("".join(b[j1:j2]), tag != "equal"))
    return tuple(left), tuple(right)


@dataclass(frozen=True)
class PartDiff:
    part: str
    lines: list[DiffLine]

    @property
    def changed(self) -> bool:
        return any(line.kind in ("added", "removed") for line in self.lines)


def _diff(part: str, old: str | None, new: str | None, context: int = 3) -> PartDiff:
    a, b = (old or "").splitlines(), (new or "").splitlines()
    lines: list[DiffLine] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine("gap", None, None, "…"))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines += [
                    DiffLine("same", i + 1, j + 1, a[i])
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:
                pairs = [
                    _word_pieces(a[i], b[j])
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                ]
            else:
                pairs = []
            lines += [
                DiffLine("removed", i + 1, None, a[i], pairs[n][0] if pairs else ())
                for n, i in enumerate(range(i1, i2))
            ]
            lines += [
                DiffLine("added", None, j + 1, b[j], pairs[n][1] if pairs else ())
                for n, j in enumerate(range(j1, j2))
            ]
    return PartDiff(part, lines)


def compare(session: Session, template_id: int, old: int, new: int) -> list[PartDiff]:
    """A readable line diff of each part between two versions; raises UnknownTemplate."""
    a, b = get_version(session, template_id, old), get_version(session, template_id, new)
    return [
        _diff("subject", a.subject, b.subject),
        _diff("text", a.body_text, b.body_text),
        _diff("html", a.body_html, b.body_html),
    ]


def send_test(
    db: Database,
    settings: Settings,
    template_id: int,
    source: TemplateSource,
    choice: SampleChoice,
    edited_json: str,
    admin_id: int,
    clinic: dict[str, str],
    carries: frozenset[str] = frozenset(),
) -> str:
    """Render the unsaved draft for the sample and send it to the admin's own address. Commits.

    Returns where it went. The recipient is read from the admin's own account, never from the
    request, so a test cannot reach a patient. Raises UnknownTemplate, DraftRefused,
    NoTestAddress, samples.InvalidSample or direct_send.DirectSendFailed.
    """
    with db.session() as session:
        template = get_template(session, template_id)
        key, channel, locale = template.key, template.channel, template.locale
        admin = session.get_one(User, admin_id)
        admin_email, recipient = admin.email, getattr(admin, kind(channel).address_field)
    if recipient is None:
        raise NoTestAddress("add your mobile number under Users to receive test texts")
    _refuse_oversized(source)
    problems = checks.problems(key, channel, source, clinic)
    if problems:
        raise DraftRefused(problems)
    context = with_overrides(
        sample_context(key, choice, clinic, settings.public_base_url, carries, locale),
        edited_json,
    )
    try:
        rendered = Prepared(source).render(context)
    except RenderError as error:
        raise DraftRefused([checks.Problem("sample", "render", str(error))]) from None
    message = test_message(
        channel, key, recipient, rendered.subject, rendered.body_text, rendered.body_html
    )
    provider_id = send_now(db, settings, message)
    with db.transaction() as session:
        audit.record(
            session,
            audit.Actor(admin_id, admin_email),
            "template.test_sent",
            detail={
                "template_id": template_id,
                "key": key,
                "channel": channel,
                "provider_id": provider_id,
            },
        )
    return recipient


def test_message(
    channel: str, key: str, recipient: str, subject: str | None, text: str, html: str | None
) -> Direct:
    """The rendered draft, marked as a test everywhere a reader could look."""
    if not kind(channel).has_subject:
        return Direct(channel, recipient, f"[TEST] {text}")
    banner = f"TEST of the draft {key} template, sent only to you. No patient received it."
    marked_html = None
    if html is not None:
        note = f'<p style="background:#fff3d6;padding:8px;font-weight:bold">{banner}</p>'
        match = _BODY.search(html)
        marked_html = html[: match.end()] + note + html[match.end() :] if match else note + html
    return Direct(
        "email",
        recipient,
        f"{banner}\n\n{text}",
        subject=f"[TEST] {subject or key}",
        body_html=marked_html,
        headers={TEST_HEADER: f"draft of {key}"},
    )
