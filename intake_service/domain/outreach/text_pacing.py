"""When each claimed text may go, under the sender's rate (SMS_RATE_PER_SECOND).

The scheduler asks here for the texts it is about to claim. A text coming due takes the next
slot of the shared pace (channels/pacing.py): a slot within the lookahead is handed to a worker
at once with that slot as its ETA (a short wait, seconds, held by the worker's timer, not a
pool process); a later slot becomes the text's due time in the database, where it waits in
order until a scheduler tick hands it on. A text already holding a slot (due within the
lookahead) keeps it. Urgent pages and crisis replies take no slot in the queue: they go first,
and only the send-time gate (delivery.py) holds them, for a fraction of a second at most.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from intake_service.channels import kind
from intake_service.channels.pacing import Pacer


@dataclass(frozen=True)
class Row:
    id: int
    channel: str
    due_at: dt.datetime
    urgent: bool


@dataclass(frozen=True)
class Plan:
    """Texts to hand on now, each with the time it may go (its ETA), and texts to leave planned
    with a later due time."""

    hand: dict[int, dt.datetime]
    wait: dict[int, dt.datetime]


def aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands back naive UTC times: compare like with like."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def plan(pacer: Pacer, rows: Iterable[Row], now: dt.datetime, lookahead: float) -> Plan:
    horizon = now + dt.timedelta(seconds=lookahead)
    hand: dict[int, dt.datetime] = {}
    wait: dict[int, dt.datetime] = {}
    for row in rows:
        if not kind(row.channel).paced_per_sender:
            continue
        due = aware(row.due_at)
        if due > now:
            slot = due  # a slot taken at an earlier tick, or a text planned for then
        elif row.urgent:
            slot = now
        else:
            slot = now + dt.timedelta(seconds=pacer.reserve())
        (hand if slot <= horizon else wait)[row.id] = slot
    return Plan(hand, wait)
