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
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from intake_service.domain.intake import duplicates
from intake_service.models import Lead, Submission

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


# This contact's submissions since "limit_since" (duplicates.SAME_CONTACT's parameters): one
# row, their count and the oldest one's time. Built once; intake adds its other lookups to it.
RECENT = (
    select(func.count().label("recent"), func.min(Submission.created_at).label("oldest"))
    .select_from(Submission)
    .join(Lead, Lead.id == Submission.lead_id)
    .where(duplicates.SAME_CONTACT, Submission.created_at >= bindparam("limit_since"))
)


def recent_params(phone: str | None, email: str | None, now: dt.datetime) -> dict[str, Any]:
    """The values of RECENT's parameters: this contact, the last hour."""
    return {**duplicates.contact_params(phone, email), "limit_since": now - WINDOW}


def verdict(count: int, oldest: dt.datetime | None, now: dt.datetime, limit: int) -> None:
    """Raise SubmissionLimited if `count` submissions in the last hour reach `limit`.

    `limit` 0 turns the check off. Concurrent posts may each pass at the edge: this is a cap
    on floods, not an exact quota.
    """
    if limit <= 0 or count < limit or oldest is None:
        return
    # The window frees a place when its oldest submission turns an hour old.
    raise SubmissionLimited(max(1, math.ceil((oldest + WINDOW - now).total_seconds())))


def check(
    session: Session, phone: str | None, email: str | None, now: dt.datetime, limit: int
) -> None:
    """Raise SubmissionLimited if `limit` submissions for this contact came in the last hour."""
    if limit <= 0 or not (phone or email):
        return
    count, oldest = session.execute(RECENT, recent_params(phone, email, now)).one()
    verdict(count, oldest, now, limit)
