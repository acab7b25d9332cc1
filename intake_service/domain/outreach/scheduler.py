"""The durable scheduler: due messages are rows; each tick claims them and hands ids to workers.

Three kinds of row are due: a planned message whose due_at has come; a queued message whose
broker copy was evidently lost (queued long ago and never started); and a message left in
`sending` by a worker that died (to be reconciled with the provider before any resend): at once
when that worker's heartbeat stopped (liveness.py), else after `stale_after`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, case, select, update
from sqlalchemy.orm import Session

from intake_service.broker import Broker
from intake_service.channels import PACED_KINDS
from intake_service.channels.pacing import Pacer, pacer_for
from intake_service.config import DeliverySettings
from intake_service.db import Database, utcnow
from intake_service.domain.outreach import liveness, text_pacing
from intake_service.domain.outreach.delivery import finish_attempt
from intake_service.models import Message, MessageStatus
from intake_service.models.message import can_move_to

log = logging.getLogger(__name__)

BATCH = 200
URGENT_TEMPLATES = ("team_urgent_page", "team_text_urgent_page", "patient_crisis_reply")
# What a claim may move to queued: the table's sources, and a queued message whose broker copy
# was lost, which stays queued with a fresh queued_at.
CLAIMABLE = (*can_move_to(MessageStatus.QUEUED), MessageStatus.QUEUED)


class Due(NamedTuple):
    """A claimed message: its id, and its channel and audience for picking the worker queue
    (never PHI)."""

    id: int
    channel: str
    audience: str = "patient"
    eta: dt.datetime | None = None  # a paced text's slot, when it is still ahead


def claim_due(
    db: Database,
    policy: DeliverySettings,
    lead_id: uuid.UUID | None = None,
    inbound_message_id: int | None = None,
) -> list[int]:
    """Mark due messages (of one lead, one inbound text, or all) queued; their ids. Commits.

    Ids alone lose a paced text's ETA: what is handed to workers comes from claim_due_routed.
    """
    return [due.id for due in claim_due_routed(db, policy, lead_id, inbound_message_id)]


def claim_due_routed(
    db: Database,
    policy: DeliverySettings,
    lead_id: uuid.UUID | None = None,
    inbound_message_id: int | None = None,
) -> list[Due]:
    """Mark due messages (of one lead, one inbound text, or all) queued and return them with
    channels. Commits.

    On PostgreSQL concurrent schedulers skip each other's rows (FOR UPDATE SKIP LOCKED); on
    SQLite one writer at a time holds the database, and deliver()'s compare-and-set claim
    guards against any overlap either way.
    """
    with db.transaction() as session:
        return claim_in(session, policy, lead_id, inbound_message_id)


def claim_in(
    session: Session,
    policy: DeliverySettings,
    lead_id: uuid.UUID | None = None,
    inbound_message_id: int | None = None,
) -> list[Due]:
    """claim_due_routed inside the caller's transaction (not committed): the claim commits
    with what the caller wrote, so a lead's processing and the claim of its first messages are
    one transaction."""
    now = utcnow()
    pacer = pacer_for(policy.sms_pace)
    dialect = session.get_bind().dialect.name
    query = _due_query(
        dialect, pacer is not None, lead_id is not None, inbound_message_id is not None
    )
    params = {
        "now": now,
        "stale_before": now - dt.timedelta(seconds=policy.stale_after),
        "requeue_before": now - dt.timedelta(seconds=policy.requeue_after),
        # Paced texts are handed on a little ahead of their slots, to wait on a worker's timer.
        "ahead": now + dt.timedelta(seconds=policy.pace_lookahead),
        "lead_id": lead_id,
        "inbound_message_id": inbound_message_id,
        **liveness.dead_params(dialect, policy.worker_dead_after),
    }
    rows = session.execute(query, params).all()
    if not rows:
        return []
    paced = text_pacing.Plan({}, {})
    if pacer is not None:
        paced = _pace(session, pacer, rows, now, policy.pace_lookahead)
    claiming = [row.id for row in rows if row.id not in paced.wait]
    moved = set(session.scalars(_QUEUE, {"ids": claiming, "now": now}))
    # In due order, and only what the UPDATE moved: a row whose status changed since the
    # SELECT is not ours to hand on.
    claimed = [
        Due(row.id, row.channel, row.audience, _ahead(paced.hand.get(row.id), now))
        for row in rows
        if row.id in moved
    ]
    abandoned = [row for row in rows if row.id in moved and row.status == MessageStatus.SENDING]
    for row in abandoned:
        finish_attempt(session, row.id, row.attempts, "abandoned", "worker lost mid-send")
    if abandoned:
        log.warning("%d messages left in sending by a lost worker; reconciling", len(abandoned))
    return claimed


@functools.cache
def _due_query(
    dialect: str, paced: bool, by_lead: bool, by_inbound: bool
) -> Select[int, str, int, str, str, dt.datetime, str]:
    """The query of what is due to claim, built once for each shape it takes (named
    parameters: see claim_in)."""
    stale_sending = (Message.status == MessageStatus.SENDING) & (
        (Message.sending_started_at < bindparam("stale_before"))
        | Message.held_by.in_(liveness.dead_holders(dialect))
    )
    due = (
        ((Message.status == MessageStatus.PLANNED) & (Message.due_at <= bindparam("now")))
        | (
            (Message.status == MessageStatus.QUEUED)
            & (Message.queued_at < bindparam("requeue_before"))
        )
        | stale_sending
    )
    if paced:
        due = due | (
            (Message.status == MessageStatus.PLANNED)
            & Message.channel.in_(PACED_KINDS)
            & (Message.due_at <= bindparam("ahead"))
        )
    if by_lead:
        due = due & (Message.lead_id == bindparam("lead_id"))
    if by_inbound:
        due = due & (Message.inbound_message_id == bindparam("inbound_message_id"))
    return (
        select(
            Message.id,
            Message.status,
            Message.attempts,
            Message.channel,
            Message.audience,
            Message.due_at,
            Message.template_key,
        )
        .where(due)
        # Urgent pages and crisis replies go ahead of everything else in the queue.
        .order_by(case((Message.template_key.in_(URGENT_TEMPLATES), 0), else_=1), Message.due_at)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    )


# The claim of what the query found: queued, if it is still claimable.
_QUEUE = (
    update(Message)
    .where(Message.id.in_(bindparam("ids", expanding=True)), Message.status.in_(CLAIMABLE))
    .values(
        # A dead worker may have reached the provider: look before sending again.
        needs_reconcile=case(
            (Message.status == MessageStatus.SENDING, True),
            else_=Message.needs_reconcile,
        ),
        status=MessageStatus.QUEUED,
        queued_at=bindparam("now"),
        updated_at=bindparam("now"),
        held_by=None,
    )
    .returning(Message.id)
)


def _pace(
    session: Session, pacer: Pacer, rows: Sequence[Any], now: dt.datetime, lookahead: float
) -> text_pacing.Plan:
    """Give each claimed text its slot: its due time becomes the slot, in the database."""
    plan = text_pacing.plan(
        pacer,
        (
            text_pacing.Row(row.id, row.channel, row.due_at, row.template_key in URGENT_TEMPLATES)
            for row in rows
        ),
        now,
        lookahead,
    )
    moved = {**plan.hand, **plan.wait}
    if moved:
        # One executemany by primary key; the rows are ours (locked, or SQLite's one writer).
        session.execute(
            update(Message), [{"id": id_, "due_at": slot} for id_, slot in moved.items()]
        )
    return plan


def _ahead(slot: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    return slot if slot is not None and slot > now else None


def claim_abandoned(db: Database, policy: DeliverySettings) -> list[Due]:
    """At a start while no worker runs: claim what is due, and every message left in `sending`
    whatever its age, since the worker that was sending it is gone (each is looked for at the
    provider before any resend). Commits.

    Only for a database no other worker uses (the embedded default's own SQLite file): anywhere
    else a `sending` row may be a live worker's, and waits out `stale_after`.
    """
    return claim_due_routed(db, dataclasses.replace(policy, stale_after=0.0))


@dataclasses.dataclass(frozen=True)
class Orphans:
    """What workers that died may have taken from the broker: handed on again at once."""

    messages: list[Due]
    taken_by: dt.datetime  # anything put on the broker before this may have been theirs


def claim_orphans(db: Database, policy: DeliverySettings) -> Orphans | None:
    """When worker processes stopped beating: queue again every message queued before they
    died, whose broker copy they may have taken and lost with them (None if none died since
    the last look). Commits.

    A copy another worker still has makes a second task, which the claim in deliver() turns
    away; their `sending` messages are claim_due's, reconciled before any resend.
    """
    now = utcnow()
    with db.transaction() as session:
        last_seen = liveness.bury_dead(session, policy.worker_dead_after)
        if last_seen is None:
            return None
        # It died after its last heartbeat, at the latest one beat later.
        taken_by = last_seen + dt.timedelta(seconds=2 * liveness.interval(policy.worker_dead_after))
        rows = session.execute(
            update(Message)
            .where(Message.status == MessageStatus.QUEUED, Message.queued_at <= taken_by)
            .values(queued_at=now, updated_at=now)
            .returning(Message.id, Message.channel, Message.audience)
        ).all()
    if rows:
        log.warning("%d queued messages handed on again after a worker died", len(rows))
    return Orphans([Due(row.id, row.channel, row.audience) for row in rows], taken_by)


def hand_to_workers(broker: Broker, messages: Sequence[Due | int]) -> int:
    """Put messages on the broker, each on its channel's queue when known; one that fails
    stays queued for the next requeue."""
    sent = 0
    for item in messages:
        if isinstance(item, Due):
            # Team alerts have a queue of their own: a backlog of patient messages (of any
            # channel) never holds up the email that tells the team a lead came in.
            message_id, queue = item.id, "team" if item.audience == "team" else item.channel
        else:
            message_id, queue = item, None
        try:
            broker.deliver(message_id, queue, eta=item.eta if isinstance(item, Due) else None)
        except Exception as error:  # broker down: the requeue sweep will try again
            log.warning("message %s not handed to a worker (%s)", message_id, type(error).__name__)
            continue
        sent += 1
    return sent


def hand_on_due(
    db: Database,
    policy: DeliverySettings,
    lead_id: uuid.UUID | None,
    broker: Broker | None,
    inbound_message_id: int | None = None,
) -> int:
    """Claim a lead's (or an inbound text's) due messages and hand them to workers at once:
    speed to lead. Commits.

    Without a broker (no app context) nothing is claimed; the next tick takes them. With
    neither a lead nor a text nothing is claimed either: this is never the whole queue.
    """
    if broker is None or (lead_id is None and inbound_message_id is None):
        return 0
    return hand_to_workers(broker, claim_due_routed(db, policy, lead_id, inbound_message_id))
