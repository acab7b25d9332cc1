"""Message templates as data: load the defaults from templates/messages/, find the version in force.

On disk each template key is a folder holding one file per part and channel:
`email.subject`, `email.txt`, `email.html` and `sms.txt`, in English; a subfolder named for
another locale (`es/`) holds the same files in that language. A template is (key, channel,
locale); a message to a patient uses the lead's locale where that template exists, else the
English one, with a warning (English is every locale's fallback, so it must exist).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, contains_eager

from intake_service.channels import kind
from intake_service.domain.intake.rules import DEFAULT_LOCALE, LOCALES
from intake_service.domain.templates import length
from intake_service.domain.templates.checks import problems as check
from intake_service.domain.templates.message_context import audience
from intake_service.domain.templates.rendering import TemplateSource
from intake_service.models import Template, TemplateVersion
from intake_service.paths import message_templates_root

# The files of one template folder, per channel: the first is the one that must be there.
_FILES = {"email": "email.txt", "sms": "sms.txt"}

log = logging.getLogger(__name__)


class TemplateMissing(LookupError):
    """No version of a template exists; run `intake-service templates load`."""


class InvalidTemplate(ValueError):
    """A template that would not render; the message says where and why."""


@dataclass(frozen=True)
class DefaultTemplate:
    key: str
    channel: str
    source: TemplateSource
    locale: str = DEFAULT_LOCALE


def read_defaults(root: Path | None = None) -> list[DefaultTemplate]:
    """Every default template on disk, in a stable order: by key, English first, then each
    other locale's; raises InvalidTemplate for a locale folder the service does not speak or
    a translation without its English template."""
    root = root or message_templates_root()
    found: list[DefaultTemplate] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        english = _read_folder(folder.name, folder, DEFAULT_LOCALE)
        found += english
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            if sub.name == DEFAULT_LOCALE or sub.name not in LOCALES:
                raise InvalidTemplate(
                    f"{folder.name}/{sub.name}: not a locale for translations "
                    f"({', '.join(x for x in LOCALES if x != DEFAULT_LOCALE)})"
                )
            translated = _read_folder(folder.name, sub, sub.name)
            orphans = {d.channel for d in translated} - {d.channel for d in english}
            if orphans:
                raise InvalidTemplate(
                    f"{folder.name}/{sub.name}: {', '.join(sorted(orphans))} has no English "
                    "template to fall back to"
                )
            found += translated
    return found


def _read_folder(key: str, folder: Path, locale: str) -> list[DefaultTemplate]:
    found = []
    email_text = folder / _FILES["email"]
    if email_text.exists():
        html = folder / "email.html"
        source = TemplateSource(
            subject=(folder / "email.subject").read_text().strip(),
            body_text=email_text.read_text(),
            body_html=html.read_text() if html.exists() else None,
        )
        found.append(DefaultTemplate(key, "email", source, locale))
    sms = folder / _FILES["sms"]
    if sms.exists():
        found.append(
            DefaultTemplate(key, "sms", TemplateSource(None, sms.read_text(), None), locale)
        )
    return found


def checksum(source: TemplateSource) -> str:
    payload = json.dumps([source.subject, source.body_text, source.body_html])
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class Author:
    """Who saves a version: an admin (id and email), or None for the shipped defaults."""

    id: int | None
    email: str | None


def checked(key: str, channel: str, source: TemplateSource) -> None:
    """Raise InvalidTemplate, naming the first problem, unless `source` may be saved."""
    problems = check(key, channel, source)
    if problems:
        raise InvalidTemplate(f"{key} ({channel}): {problems[0]}")


def save_version(
    session: Session,
    key: str,
    channel: str,
    source: TemplateSource,
    origin: str,
    author: Author | None = None,
    note: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> TemplateVersion | None:
    """Add a new version unless the latest one is identical (not committed); raises InvalidTemplate.

    Returns the new version, or None when nothing changed.
    """
    checked(key, channel, source)
    template = _template(session, key, channel, locale)
    if template is None:
        template = Template(key=key, channel=channel, locale=locale)
        session.add(template)
        session.flush()
    latest = _latest(session, template.id)
    if origin == "default" and latest is not None and latest.source != "default":
        # An admin's edit stays in force: reloading the defaults must never undo it.
        log.info(
            "template %s (%s, %s) keeps its admin version %d",
            key,
            channel,
            locale,
            latest.version,
        )
        return None
    return add_version(session, template, source, origin, author, note)


def add_version(
    session: Session,
    template: Template,
    source: TemplateSource,
    origin: str,
    author: Author | None = None,
    note: str | None = None,
    restored_from: int | None = None,
) -> TemplateVersion | None:
    """Append `source` as the template's next version, unless it is the latest already.

    The caller has run the checks (`checked`). Not committed; None when nothing changed.
    """
    latest = _latest(session, template.id)
    digest = checksum(source)
    if latest is not None and latest.checksum == digest:
        return None
    version = TemplateVersion(
        template_id=template.id,
        version=(latest.version + 1) if latest else 1,
        source=origin,
        subject=source.subject,
        body_text=source.body_text,
        body_html=source.body_html,
        checksum=digest,
        author_id=author.id if author else None,
        author_email=author.email if author else None,
        note=note or None,
        restored_from=restored_from,
    )
    session.add(version)
    session.flush()
    return version


def load_defaults(session: Session, root: Path | None = None) -> list[TemplateVersion]:
    """Load every default template as a new version where it changed (not committed)."""
    saved = []
    for default in read_defaults(root):
        counted = kind(default.channel).billed_by_segments
        too_long = length.warning(default.key, default.source, default.locale) if counted else None
        if too_long:
            log.warning("%s", too_long)
        version = save_version(
            session,
            default.key,
            default.channel,
            default.source,
            "default",
            locale=default.locale,
        )
        if version is not None:
            saved.append(version)
    return saved


# One query for the newest version and its template (the caller reads version.template), built
# once: every message sent asks it.
_CURRENT_VERSION = (
    select(TemplateVersion)
    .join(TemplateVersion.template)
    .where(
        Template.key == bindparam("key"),
        Template.channel == bindparam("channel"),
        Template.locale == bindparam("locale"),
    )
    .options(contains_eager(TemplateVersion.template))
    .order_by(TemplateVersion.version.desc())
    .limit(1)
)


def current_version(
    session: Session, key: str, channel: str, locale: str = DEFAULT_LOCALE
) -> TemplateVersion:
    """The version in force (the newest) in exactly `locale`; raises TemplateMissing."""
    params = {"key": key, "channel": channel, "locale": locale}
    latest = session.scalars(_CURRENT_VERSION, params).first()
    if latest is None:
        where = "" if locale == DEFAULT_LOCALE else f" in {locale}"
        raise TemplateMissing(
            f"no {channel} template {key!r}{where}; run `intake-service templates load`"
        )
    return latest


def message_locale(key: str, lead_locale: str | None) -> str:
    """The language a message of template `key` is written in for a lead who uses `lead_locale`:
    the lead's own for a patient, English for the team (staff read English)."""
    if audience(key) == "team" or not lead_locale:
        return DEFAULT_LOCALE
    return lead_locale


def version_for(session: Session, key: str, channel: str, locale: str) -> TemplateVersion:
    """The version to render in `locale`: that locale's where it exists, else the English one.

    A fallback is logged as a warning naming the template and locale only (never who it is
    for); the admin's template list shows the same gap. Raises TemplateMissing.
    """
    if locale != DEFAULT_LOCALE:
        try:
            return current_version(session, key, channel, locale)
        except TemplateMissing:
            log.warning(
                "template %s (%s) has no %s version; sending the %s one",
                key,
                channel,
                locale,
                DEFAULT_LOCALE,
            )
    return current_version(session, key, channel)


def _template(session: Session, key: str, channel: str, locale: str) -> Template | None:
    return session.scalars(
        select(Template).where(
            Template.key == key, Template.channel == channel, Template.locale == locale
        )
    ).first()


def latest_version(session: Session, template_id: int) -> TemplateVersion | None:
    """The newest version of one template (by id), or None before its first."""
    return _latest(session, template_id)


def _latest(session: Session, template_id: int) -> TemplateVersion | None:
    return session.scalars(
        select(TemplateVersion)
        .where(TemplateVersion.template_id == template_id)
        .order_by(TemplateVersion.version.desc())
        .limit(1)
    ).first()


def as_source(version: TemplateVersion) -> TemplateSource:
    return TemplateSource(version.subject, version.body_text, version.body_html)
