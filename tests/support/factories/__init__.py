"""Factories: rows in any state, built directly, without running intake or the pipeline.

A test says what the database holds and gets exactly that: leads with their submissions,
consent lines, triage, first-contact clock and inbound texts; messages in any status with
their delivery attempts; staff users, timeline events and callbacks. No intake checks, triage
rules, planning, outbox or broker run.

Every function takes a target first:
- a `Session`: the rows are added and flushed, not committed; the caller's transaction
  decides (usually `with db.transaction() as session:`);
- a `Database`: the rows are written in their own transaction, committed, and returned
  detached with their columns loaded (relationships are not: read them in a session).

Every keyword argument sets the column of that name. A lead or message is passed as the row
or its id. Times are timezone-aware UTC, as the columns require.
"""

from tests.support.factories.base import Target
from tests.support.factories.leads import (
    IP,
    TMS_ALL_YES,
    USER_AGENT,
    consent_event,
    first_contact_due,
    inbound,
    lead,
    submission,
    triage,
)
from tests.support.factories.messages import (
    AT_THE_PROVIDER,
    DEFAULT_ATTEMPTS,
    RENDERED,
    TEAM_EMAIL,
    attempt_history,
    delivery_attempt,
    message,
)
from tests.support.factories.staff import STAFF_PASSWORD, callback, lead_event, user

__all__ = [
    "AT_THE_PROVIDER",
    "DEFAULT_ATTEMPTS",
    "IP",
    "RENDERED",
    "STAFF_PASSWORD",
    "TEAM_EMAIL",
    "TMS_ALL_YES",
    "USER_AGENT",
    "Target",
    "attempt_history",
    "callback",
    "consent_event",
    "delivery_attempt",
    "first_contact_due",
    "inbound",
    "lead",
    "lead_event",
    "message",
    "submission",
    "triage",
    "user",
]
