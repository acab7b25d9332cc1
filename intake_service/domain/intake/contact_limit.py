"""A cap on submissions per phone number and per email address, over the last hour.

The per-address rate limit (Flask-Limiter) stops one client posting fast; this stops many
clients posting for one phone or one mailbox, which is how a bot floods a person (or the
clinic's texting budget) through someone else's number. It counts stored submissions, so both
doors and every process share it with no broker or cache behind it. Crisis language is never
refused: a person in crisis who sends the form again must reach the team.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from intake_service.domain.intake import duplicates
from intake_service.models import Lead, Submission
from intake_service.models.lead_index import has_phone

WINDOW = dt.timedelta(hours=1)
LIMITED = (
    "We have already received several forms from this email address or phone number in the "
    "last hour."
)


class SubmissionLimited(Exception):
    """Too many recent submissions for this contact; `retry_after` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(LIMITED)
        self.retry_after = retry_after

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after / 60))


def check(
    session: Session, phone: str | None, email: str | None, now: dt.datetime, limit: int
) -> None:
    """Raise SubmissionLimited if `limit` submissions for this contact came in the last hour.

    `limit` 0 turns the check off. Concurrent posts may each pass at the edge: this is a cap
    on floods, not an exact quota.
    """
    key = duplicates.email_key(email)
    matches = []
    if phone:
        matches.append(has_phone(phone))
    if key:
        matches.append(Lead.email_key == key)
    if limit <= 0 or not matches:
        return
    since = now - WINDOW
    count, oldest = session.execute(
        select(func.count(), func.min(Submission.created_at))
        .select_from(Submission)
        .join(Lead, Lead.id == Submission.lead_id)
        .where(or_(*matches), Submission.created_at >= since)
    ).one()
    if count < limit or oldest is None:
        return
    # The window frees a place when its oldest submission turns an hour old.
    raise SubmissionLimited(max(1, math.ceil((oldest + WINDOW - now).total_seconds())))
