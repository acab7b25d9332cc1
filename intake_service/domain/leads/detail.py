"""The lead page's read model: everything staff need about one lead, the view audited."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.domain.intake.answers import TMS_ITEMS
from intake_service.domain.leads import callbacks
from intake_service.domain.leads.status import get_lead
from intake_service.domain.leads.timeline import Entry, timeline
from intake_service.models import ConsentEvent, Lead, Submission, Triage


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str


@dataclass(frozen=True)
class SubmissionView:
    id: uuid.UUID
    at: dt.datetime
    form: str
    via: str
    message: str | None
    answers: list[Answer]
    score: int | None
    # The free text in pieces, each marked True where crisis words raised a flag.
    pieces: list[tuple[str, bool]]


@dataclass(frozen=True)
class LeadPage:
    lead: Lead
    triage: Triage | None
    crisis_words: list[str]
    submissions: list[SubmissionView]
    consent: list[ConsentEvent]
    entries: list[Entry]
    callbacks: list[callbacks.DueCallback]


def _answers(form: str, answers: dict[str, Any] | None) -> tuple[list[Answer], int | None]:
    if not answers:
        return [], None
    if "items" in answers:
        items = answers["items"]
        rows = [Answer(f"Item {n}", str(value)) for n, value in enumerate(items, start=1)]
        return rows, sum(items)
    rows = [
        Answer(TMS_ITEMS.get(key, key), "Yes" if value is True else "No")
        for key, value in answers.items()
    ]
    order = list(TMS_ITEMS)
    rows.sort(key=lambda a: order.index(a.question) if a.question in order else len(order))
    return rows, None


def crisis_words(triage: Triage | None) -> list[str]:
    """The words, as typed, that made the crisis detector flag the lead (longest first)."""
    found = {str(m.get("words") or "").strip() for m in (triage.crisis or [])} if triage else set()
    return sorted((w for w in found if w), key=len, reverse=True)


def highlight(text: str, words: list[str]) -> list[tuple[str, bool]]:
    """`text` cut into pieces, True for each occurrence of one of `words` (any case)."""
    if not words:
        return [(text, False)]
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    pieces: list[tuple[str, bool]] = []
    at = 0
    for match in pattern.finditer(text):
        if match.start() > at:
            pieces.append((text[at : match.start()], False))
        pieces.append((match.group(), True))
        at = match.end()
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces


def lead_page(
    session: Session,
    lead_id: uuid.UUID,
    actor: audit.Actor,
    zone: str,
    now: dt.datetime,
    groups: set[str] | None = None,
    newest_first: bool = True,
) -> LeadPage:
    """Read the lead for a staff member, recording the view (not committed); raises UnknownLead."""
    lead = get_lead(session, lead_id)
    audit.record(session, actor, "lead.viewed", lead_id=lead_id, at=now)
    subs = session.scalars(
        select(Submission).where(Submission.lead_id == lead_id).order_by(Submission.created_at)
    )
    words = crisis_words(lead.triage)
    views = []
    for s in subs:
        answers, score = _answers(s.form, s.answers)
        pieces = highlight(s.message, words) if s.message else []
        views.append(
            SubmissionView(s.id, s.created_at, s.form, s.via, s.message, answers, score, pieces)
        )
    consent = list(
        session.scalars(
            select(ConsentEvent)
            .where(ConsentEvent.lead_id == Lead.id, Lead.id == lead_id)
            .order_by(ConsentEvent.occurred_at)
        )
    )
    return LeadPage(
        lead=lead,
        triage=lead.triage,
        crisis_words=words,
        submissions=views,
        consent=consent,
        entries=timeline(session, lead_id, groups, newest_first),
        callbacks=callbacks.open_callbacks(session, zone, now, lead_id),
    )
