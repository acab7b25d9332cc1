"""Texts counted per phone prefix, per country and per hour, for the SMS-pumping checks.

The surge watch compares the last hour's texts to a prefix or a country with the week before,
and the prefix's daily cap counts the texts the provider took in the last day. Counted in the
messages table, those grow with every text ever planned: a US clinic's country count read a
week of all its texts at every planning. These counts are kept as texts are planned (any
flush that adds a patient's text, so no code path can skip it) and as the provider takes them
(`count_taken`, from the record of the send), so a check reads a few hundred small rows.

What is counted: a text planned stays counted if it is later cancelled (the surge is about what
was asked for); a text the provider took counts, for its prefix only (the cap is per prefix), in
the hour it was taken. A window of hours is the sliding-window estimate: its oldest hour counts
for the part of it inside the window.

Every planning of a text updates its prefix's and its country's row for the hour, and that row
stays locked until the transaction commits: texts to one country are planned one transaction
at a time at that step. Rows are written in key order, and after the lead's own row, so two
transactions cannot wait for each other.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Any

import phonenumbers
from sqlalchemy import (
    Connection,
    Float,
    SQLColumnExpression,
    bindparam,
    case,
    delete,
    event,
    func,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction

from intake_service.channels import kind
from intake_service.db import utcnow
from intake_service.models import Message, MessageStatus, TextVolume

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
BASELINE = dt.timedelta(days=7)
# How long counts are kept: the baseline week, the hour before it, and a margin.
KEPT = dt.timedelta(days=8)
AT_PROVIDER = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)

Key = tuple[str, str, dt.datetime]  # scope, value, hour


def prefix_of(number: phonenumbers.PhoneNumber) -> str:
    """The country code and the first three national digits (the area code in North America)."""
    national = phonenumbers.national_significant_number(number)
    return f"+{number.country_code}{national[:3]}"


def country_of(number: phonenumbers.PhoneNumber) -> str:
    """The country calling code ("+44"); North America shares +1."""
    return f"+{number.country_code}"


def parse(e164: str | None) -> phonenumbers.PhoneNumber | None:
    if not e164:
        return None
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None


def hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)


def scopes_of(e164: str | None) -> tuple[tuple[str, str], ...]:
    """The (scope, value) pairs a text to this number counts under; none for a malformed one."""
    number = parse(e164)
    if number is None:
        return ()
    return (("prefix", prefix_of(number)), ("country", country_of(number)))


def counted(message: Message) -> bool:
    """Whether the checks count this message: a text to a patient (team pages are ours)."""
    return kind(message.channel).tolled and message.audience == "patient"


def count_taken(session: Session, recipient: str, at: dt.datetime) -> None:
    """The provider took a text to `recipient` at `at`: count it for its prefix's daily cap.

    Call it last in the transaction that records the send (see the module's note on locks).
    """
    number = parse(recipient)
    if number is not None:
        taken: Counter[Key] = Counter({("prefix", prefix_of(number), hour_of(at)): 1})
        _add(session.connection(), Counter(), taken)


def in_window(column: SQLColumnExpression[int], window: str) -> Any:
    """SUM(column) over the hourly rows of a window ending now: the sliding-window estimate, in
    which the oldest hour counts for the part of it inside the window. The window's bounds are
    parameters named after `window` (see window_params), so a statement using this is built
    once. Add .filter() for one scope; NULL when no row is in the window."""
    oldest = bindparam(f"{window}_oldest", type_=TextVolume.hour.type)
    weight = case(
        (TextVolume.hour < oldest, literal(0.0)),
        (TextVolume.hour == oldest, bindparam(f"{window}_share", type_=Float)),
        else_=literal(1.0),
    )
    return func.sum(column * weight)


def window_params(window: str, now: dt.datetime, span: dt.timedelta) -> dict[str, Any]:
    """The values of in_window's parameters for the `span` to `now`."""
    start = now - span
    oldest = hour_of(start)
    return {f"{window}_oldest": oldest, f"{window}_share": 1 - (start - oldest) / HOUR}


# Texts to the prefix bound as "day_prefix" the provider took in the last day, as a scalar
# subquery, so the send-time checks stay one query (see taken_in_day_params).
TAKEN_IN_DAY = (
    select(func.coalesce(in_window(TextVolume.at_provider, "day"), 0))
    .where(
        TextVolume.scope == "prefix",
        TextVolume.value == bindparam("day_prefix"),
        TextVolume.hour >= bindparam("day_oldest"),
    )
    .scalar_subquery()
)


def taken_in_day_params(prefix: str, now: dt.datetime) -> dict[str, Any]:
    """The values of TAKEN_IN_DAY's parameters."""
    return {"day_prefix": prefix, **window_params("day", now, DAY)}


def forget_before(session: Session, now: dt.datetime) -> None:
    """Delete counts older than the checks read (not committed)."""
    session.execute(delete(TextVolume).where(TextVolume.hour < now - KEPT))


@event.listens_for(Session, "after_flush")
def _count_new_texts(session: Session, _flush: UOWTransaction) -> None:
    """Count the patients' texts this flush inserted, in the flush's own transaction."""
    count_planned(session, [item for item in session.new if isinstance(item, Message)])


def count_planned(session: Session, messages: Iterable[Message]) -> None:
    """Count the patients' texts among `messages`, just written (not committed): the flush
    hook above counts what the unit of work inserts, and planning calls it for the rows it
    inserts itself."""
    planned: Counter[Key] = Counter()
    taken: Counter[Key] = Counter()
    for message in messages:
        if not counted(message):
            continue
        for scope, value in scopes_of(message.recipient):
            planned[scope, value, hour_of(message.created_at or utcnow())] += 1
            if scope == "prefix" and message.status in AT_PROVIDER:  # written as sent (a test)
                taken[scope, value, hour_of(message.sent_at or message.created_at)] += 1
    if planned or taken:
        _add(session.connection(), planned, taken)


def _upsert(dialect: Any) -> Any:
    insert = dialect.insert(TextVolume)
    return insert.on_conflict_do_update(
        index_elements=["scope", "value", "hour"],
        set_={
            "planned": TextVolume.planned + insert.excluded.planned,
            "at_provider": TextVolume.at_provider + insert.excluded.at_provider,
        },
    )


# Adding to a count, creating its row as needed: built once per dialect.
_UPSERT = {"postgresql": _upsert(postgresql), "sqlite": _upsert(sqlite)}


def _add(connection: Connection, planned: Counter[Key], taken: Counter[Key]) -> None:
    """Add to the hourly counts, creating rows as needed, in key order."""
    rows = [
        {"scope": s, "value": v, "hour": h, "planned": planned[k], "at_provider": taken[k]}
        for k in sorted(planned.keys() | taken.keys())
        for s, v, h in [k]
    ]
    upsert = _UPSERT["postgresql" if connection.dialect.name == "postgresql" else "sqlite"]
    connection.execute(upsert, rows[0] if len(rows) == 1 else rows)
