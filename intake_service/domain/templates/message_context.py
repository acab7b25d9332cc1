"""The plain dicts message templates see: built here, never an ORM object in a template.

Patient messages get no clinical detail at all; team messages get the least needed to act.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from intake_service.channels import kind
from intake_service.config import Settings
from intake_service.domain.clinic_settings import ClinicProfile
from intake_service.domain.compliance import unsubscribe
from intake_service.domain.intake.contact import InvalidContact, display_phone, normalize_phone
from intake_service.domain.intake.rules import (
    CALLBACK_WINDOW_LABELS,
    DEFAULT_LOCALE,
    FORM_LABELS,
    TREATMENT_LABELS,
)
from intake_service.domain.leads import callback_requests
from intake_service.domain.templates import labels
from intake_service.models import (
    InboundMessage,
    Lead,
    Message,
    MessageStatus,
    SmsPause,
    Submission,
)
from intake_service.security.ack_links import make_token

# Messages name the window inside a sentence ("call you any time"), so in lower case.
WINDOW_LABELS = {key: label.lower() for key, label in CALLBACK_WINDOW_LABELS.items()}


def clinic(settings: Settings) -> dict[str, str]:
    try:
        phone_e164 = normalize_phone(settings.clinic_phone)
    except InvalidContact:
        phone_e164 = settings.clinic_phone
    return {
        "name": settings.clinic_name,
        "phone": settings.clinic_phone,
        "phone_e164": phone_e164,
        "address": settings.clinic_address,
    }


def _ago(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'} ago"


def age(seconds: float) -> str:
    """How long ago, in words a busy coordinator reads at a glance."""
    seconds = max(0, int(seconds))
    if seconds < 90:
        return _ago(seconds, "second")
    if seconds < 90 * 60:
        return _ago(round(seconds / 60), "minute")
    if seconds < 36 * 3600:
        return _ago(round(seconds / 3600), "hour")
    return _ago(round(seconds / 86400), "day")


def _window(lead: Lead) -> str:
    return lead.callback_window if lead.callback_window in WINDOW_LABELS else "any"


def patient_context(
    lead: Lead,
    settings: Settings,
    profile: ClinicProfile | None = None,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """What a patient's message may say: their first name, the clinic, the treatment chosen,
    and the link that unsubscribes them from email.

    `profile` is the clinic as an admin set it (domain/clinic_settings); without one, the
    environment's clinic. `locale` is the language of the template rendered (the lead's, or
    English when that template has no version in it): the words for a choice follow it.
    """
    return {
        "patient": {
            "first_name": lead.first_name,
            # The words ("any time") for the text, the key ("any") for a template's choices.
            "callback_window": labels.window(_window(lead), locale),
            "callback_window_key": _window(lead),
        },
        "links": {"unsubscribe": unsubscribe.url_for(lead.id, settings)},
        "treatment": {
            "key": lead.treatment_interest,
            "label": labels.treatment(lead.treatment_interest, locale),
        },
        "clinic": profile.template_clinic() if profile else clinic(settings),
    }


# The reads of every team email, built once with named parameters (docs/performance.md).
_FAILED = (
    select(Message.channel, Message.last_error)
    .where(
        Message.lead_id == bindparam("lead_id"),
        Message.audience == "patient",
        Message.status == MessageStatus.FAILED,
    )
    .order_by(Message.id)
)
_OPEN_PAUSES = select(SmsPause).where(SmsPause.lifted_at.is_(None)).order_by(SmsPause.paused_at)
_LATEST_FORM = (
    select(Submission.form, func.count().over())
    .where(Submission.lead_id == bindparam("lead_id"))
    .order_by(Submission.created_at.desc())
    .limit(1)
)


def delivery_problems(session: Session, lead: Lead) -> list[str]:
    """Why the patient's messages failed, one line per channel: reasons, never content."""
    failed = session.execute(_FAILED, {"lead_id": lead.id}).all()
    problems: dict[str, str] = {}
    for channel, error in failed:
        problems.setdefault(channel, f"{kind(channel).label}: {error or 'failed'}")
    return list(problems.values())


def team_context(
    session: Session,
    lead: Lead,
    settings: Settings,
    now: dt.datetime,
    recipient: str | None = None,
    profile: ClinicProfile | None = None,
) -> dict[str, Any]:
    """What the team email may say: who, how urgent, what for, when to call, where to look.

    Triage detail (TMS candidacy, score) only where an admin allowed it in the clinic settings:
    the least needed to act is the default (DOMAIN.md, privacy).
    """
    triage = lead.triage
    carries = profile.team_email_carries if profile else frozenset()
    latest, returns = latest_form_and_returns(session, lead)
    form = latest or "contact"
    reachable = []
    if lead.phone:
        reachable.append(f"phone {display_phone(lead.phone)}")
    if lead.email:
        reachable.append(f"email {lead.email}")
    zone = profile.timezone if profile else settings.clinic_timezone
    local = lead.created_at.astimezone(_zone(zone))
    return {
        "lead": {
            "id": str(lead.id),
            # Subjects show on lock screens: they name the lead by this, never by the patient.
            "ref": reference(lead.id),
            "name": lead.full_name,
            "priority": lead.priority or "normal",
            "urgent": lead.urgent,
            "treatment": TREATMENT_LABELS[lead.treatment_interest],
            "callback_window": WINDOW_LABELS[_window(lead)],
            "form": FORM_LABELS.get(form, form),
            "candidacy": triage.candidacy if triage and "candidacy" in carries else None,
            "score": triage.score if triage and "score" in carries else None,
            "reachable_by": ", ".join(reachable),
            "age": age((now - lead.created_at).total_seconds()),
            "submitted_at": local.strftime("%a %d %b %Y, %H:%M %Z"),
            "url": f"{settings.public_base_url}/staff/leads/{lead.id}",
            # Signed for the one person paged: opening it lets them say "I am calling".
            "ack_url": f"{settings.public_base_url}/ack/"
            + make_token(settings.secret_key, lead.id, recipient or "team", now),
            "problems": delivery_problems(session, lead),
            # How often this person came back within DUPLICATE_WINDOW_DAYS (0: first time).
            "returning_count": returns,
            # Who routing gave it to (round-robin in its queue), or None.
            "assignee": (lead.assignee.display_name or lead.assignee.email)
            if lead.assignee
            else None,
            "callback_request": callback_requests.open_callback_label(session, lead.id, zone),
        },
        "clinic": profile.template_clinic() if profile else clinic(settings),
        "alerts": {"sms_pauses": sms_pauses(session, zone)},
    }


def text_url(settings: Settings, inbound_id: int) -> str:
    """The staff app's page of one text from a number no lead gave (behind the sign-in)."""
    return f"{settings.public_base_url}/staff/texts/{inbound_id}"


def text_context(
    inbound: InboundMessage,
    settings: Settings,
    now: dt.datetime,
    profile: ClinicProfile | None = None,
) -> dict[str, Any]:
    """What a page about a text from a number no lead gave may say: that it came, when, from
    which number, and where staff read it. Never its words: those are on the staff app only.
    """
    zone = profile.timezone if profile else settings.clinic_timezone
    local = inbound.received_at.astimezone(_zone(zone))
    return {
        "text": {
            # Subjects show on lock screens: a handle that names nobody.
            "ref": text_reference(inbound.id),
            "from_number": display_phone(inbound.from_number),
            "received_at": local.strftime("%a %d %b %Y, %H:%M %Z"),
            "age": age((now - inbound.received_at).total_seconds()),
            "url": text_url(settings, inbound.id),
        },
        "clinic": profile.template_clinic() if profile else clinic(settings),
    }


def text_reference(inbound_id: int) -> str:
    return f"text {inbound_id}"


def returning_count(session: Session, lead: Lead) -> int:
    """How many submissions joined the lead after the first (returning leads)."""
    return latest_form_and_returns(session, lead)[1]


def sms_pauses(session: Session, zone: str) -> list[dict[str, str]]:
    """Texting paused against SMS pumping (prefixes and countries, never a person's number)."""
    rows = session.scalars(_OPEN_PAUSES)
    return [
        {
            "scope": p.scope,
            "value": p.value,
            "reason": p.reason,
            "paused_at": p.paused_at.astimezone(_zone(zone)).strftime("%a %d %b, %H:%M %Z"),
        }
        for p in rows
    ]


def latest_form(session: Session, lead: Lead) -> str | None:
    """The form of the lead's latest submission, read alone: its answers stay encrypted."""
    return latest_form_and_returns(session, lead)[0]


def latest_form_and_returns(session: Session, lead: Lead) -> tuple[str | None, int]:
    """latest_form and returning_count in one query (the submission count as a window)."""
    row = session.execute(_LATEST_FORM, {"lead_id": lead.id}).first()
    if row is None:
        return None, 0
    return row[0], max(0, int(row[1]) - 1)


def reference(lead_id: uuid.UUID) -> str:
    """A short handle for a lead that says nothing about the person: the id's first 8 digits."""
    return lead_id.hex[:8]


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


def audience(template_key: str) -> str:
    """Who a template speaks to: team templates are named team_*, all others reach patients."""
    return "team" if template_key.startswith("team_") else "patient"


TEXT_TEMPLATE_PREFIX = "team_text_"


def about(template_key: str) -> str:
    """What a template is about: a lead, or (team_text_*) a text from a number no lead gave."""
    return "text" if template_key.startswith(TEXT_TEMPLATE_PREFIX) else "lead"


SAMPLE_TEXT = {
    "ref": "text 123",
    "from_number": "(415) 555-0123",
    "received_at": "Wed 25 Nov 2026, 10:00 PST",
    "age": "12 seconds ago",
    "url": "http://127.0.0.1:5000/staff/texts/123",
}


def sample_context(template_key: str) -> dict[str, Any]:
    """The variables the template's audience gets, with sample values: a template is checked
    against exactly these before it is saved, so it cannot fail at send time for lack of one.
    """
    sample_clinic = {
        "name": "Sample Clinic",
        "phone": "(310) 555-0100",
        "phone_e164": "+13105550100",
        "address": "100 Main St, Los Angeles, CA 90001",
    }
    if about(template_key) == "text":
        return {"text": dict(SAMPLE_TEXT), "clinic": sample_clinic}
    if audience(template_key) == "patient":
        return {
            "patient": {
                "first_name": "Jane",
                "callback_window": "evening",
                "callback_window_key": "evening",
            },
            "links": {"unsubscribe": "http://127.0.0.1:5000/unsubscribe/sample-token"},
            "treatment": {"key": "tms", "label": "TMS"},
            "clinic": sample_clinic,
        }
    return {
        "clinic": sample_clinic,
        "lead": {
            "id": "00000000-0000-0000-0000-000000000000",
            "ref": "00000000",
            "name": "Jane Doe",
            "priority": "high",
            "urgent": False,
            "treatment": "TMS",
            "callback_window": "evening",
            "form": "TMS self-screen",
            "candidacy": "likely",
            "score": 7,
            "reachable_by": "phone (310) 555-0123, email jane@example.com",
            "age": "12 seconds ago",
            "submitted_at": "Wed 25 Nov 2026, 10:00 PST",
            "url": "http://127.0.0.1:5000/staff/leads/00000000-0000-0000-0000-000000000000",
            "ack_url": "http://127.0.0.1:5000/ack/sample-token",
            "problems": ["email: recipient_rejected", "text: invalid_number"],
            "returning_count": 1,
            "assignee": "Dr Sample",
            "callback_request": "Thu 26 Nov, 17:00 PST, evening",
        },
        "alerts": {
            "sms_pauses": [
                {
                    "scope": "prefix",
                    "value": "+1900",
                    "reason": "40 texts in the last hour, usually 0.2",
                    "paused_at": "Wed 25 Nov, 10:00 PST",
                }
            ]
        },
    }
