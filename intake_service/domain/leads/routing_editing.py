"""Admins edit routing: queues and their members, and the rules that pick a queue, in order.

A change applies to leads routed after it: routing runs once per lead, when it is processed,
and a lead keeps the queue and assignee it was given (domain/leads/routing.py). Each change is
checked first (nothing is stored when it fails) and audited as `routing.changed` with its
before and after. Nothing here can make a lead route to nobody: without a matching rule, or
with nobody on duty, the engine gives the lead to the default team (TEAM_EMAILS); the
`warnings` say when that will happen, so an admin can add a catch-all rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.domain.templates.message_context import TREATMENT_LABELS
from intake_service.domain.triage.screening import PRIORITIES
from intake_service.models import QueueMember, RoutingQueue, RoutingRule, User
from intake_service.models.lead import TREATMENTS

PRIORITY_LABELS = {
    "urgent": "urgent",
    "high": "strong candidate (high)",
    "normal": "normal",
    "low": "low",
}
MAX_SOURCE = 100
MAX_NAME = 100


class InvalidRouting(ValueError):
    """A change that cannot be made; `field` names the form field, the message says why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownRouting(LookupError):
    """No queue, member or rule has that id."""


@dataclass(frozen=True)
class RuleFields:
    queue_id: int
    treatment: str | None
    priority: str | None
    source: str | None
    hour_from: int | None
    hour_to: int | None

    @property
    def catch_all(self) -> bool:
        return (
            self.treatment is None
            and self.priority is None
            and self.source is None
            and (self.hour_from is None)
        )


@dataclass(frozen=True)
class MemberView:
    id: int
    user_id: int
    label: str
    role: str
    off: bool
    active: bool  # the account; a disabled account is skipped like a member who is off


@dataclass(frozen=True)
class QueueView:
    id: int
    name: str
    emails: str
    lead_user_id: int | None
    lead_label: str | None
    members: list[MemberView]
    on_duty: int
    addresses: list[str]  # where its team email goes
    rules: int  # active rules that send leads here


@dataclass(frozen=True)
class RuleView:
    id: int
    number: int  # 1-based place in the order the engine tries
    queue_id: int
    queue_name: str
    treatment: str | None
    priority: str | None
    source: str | None
    hour_from: int | None
    hour_to: int | None
    active: bool
    summary: str  # "TMS, strong candidate (high), 18:00-08:00" or "every lead"


@dataclass(frozen=True)
class StaffChoice:
    id: int
    label: str
    role: str


@dataclass(frozen=True)
class RoutingView:
    queues: list[QueueView]
    rules: list[RuleView]
    staff: list[StaffChoice]
    warnings: list[str]


# --- reading ---------------------------------------------------------------------------------


def _ordered_rules(session: Session) -> list[RoutingRule]:
    return list(session.scalars(select(RoutingRule).order_by(RoutingRule.position, RoutingRule.id)))


def _fields(rule: RoutingRule) -> RuleFields:
    return RuleFields(
        rule.queue_id, rule.treatment, rule.priority, rule.source, rule.hour_from, rule.hour_to
    )


def hours_label(hour_from: int | None, hour_to: int | None) -> str | None:
    if hour_from is None or hour_to is None:
        return None
    return f"{hour_from:02d}:00-{hour_to:02d}:00"


def summary(fields: RuleFields) -> str:
    """The rule's conditions in words, as the page lists them."""
    parts = []
    if fields.treatment is not None:
        parts.append(TREATMENT_LABELS.get(fields.treatment, fields.treatment))
    if fields.priority is not None:
        parts.append(PRIORITY_LABELS.get(fields.priority, fields.priority))
    if fields.source is not None:
        parts.append(f"source “{fields.source}”")
    hours = hours_label(fields.hour_from, fields.hour_to)
    if hours is not None:
        parts.append(f"arriving {hours} clinic time")
    return ", ".join(parts) if parts else "every lead (catch-all)"


def _has_someone(queue: RoutingQueue) -> bool:
    """Someone hears of a lead routed here: a listed address, or a member with an account."""
    return bool(queue.emails.strip()) or any(m.user.active for m in queue.members)


def _on_duty(queue: RoutingQueue) -> int:
    return sum(1 for m in queue.members if not m.off and m.user.active)


def _snapshot_rule(rule: RoutingRule) -> dict[str, Any]:
    return {
        "queue_id": rule.queue_id,
        "treatment": rule.treatment,
        "priority": rule.priority,
        "source": rule.source,
        "hour_from": rule.hour_from,
        "hour_to": rule.hour_to,
        "active": rule.active,
        "position": rule.position,
    }


def warnings(session: Session, default_team: tuple[str, ...]) -> list[str]:
    """What an admin should know about the routing as it stands: leads that would reach only
    the default team, rules that can never match, queues with nobody on duty."""
    found: list[str] = []
    active = [r for r in _ordered_rules(session) if r.active]
    catch_all = next((r for r in active if _fields(r).catch_all), None)
    team = ", ".join(default_team) or "TEAM_EMAILS"
    if catch_all is None:
        found.append(
            "No catch-all rule: a lead that no rule matches goes to the default team "
            f"({team}) with nobody assigned. Add a rule with no conditions at the end so every "
            "lead gets a queue."
        )
    else:
        later = active[active.index(catch_all) + 1 :]
        if later:
            numbers = ", ".join(str(_number_of(session, r.id)) for r in later)
            found.append(
                f"Rule {_number_of(session, catch_all.id)} matches every lead, so the rules "
                f"after it ({numbers}) are never used. Move the catch-all to the end."
            )
    used = {r.queue_id for r in active}
    for queue in session.scalars(select(RoutingQueue).order_by(RoutingQueue.name)):
        if queue.id in used and _on_duty(queue) == 0:
            found.append(
                f"Nobody in “{queue.name}” is on duty: its leads are not assigned to anyone "
                "(the queue's email still goes out)."
            )
    return found


def _number_of(session: Session, rule_id: int) -> int:
    ids = [r.id for r in _ordered_rules(session)]
    return ids.index(rule_id) + 1


def overview(session: Session, default_team: tuple[str, ...]) -> RoutingView:
    """Queues with members, rules in the order they are tried, staff to add, warnings."""
    queues = list(session.scalars(select(RoutingQueue).order_by(RoutingQueue.name)))
    rules = _ordered_rules(session)
    active_rules: dict[int, int] = {}
    for rule in rules:
        if rule.active:
            active_rules[rule.queue_id] = active_rules.get(rule.queue_id, 0) + 1
    queue_views = [
        QueueView(
            id=q.id,
            name=q.name,
            emails=q.emails,
            lead_user_id=q.lead_user_id,
            lead_label=q.lead_user.label if q.lead_user else None,
            members=[
                MemberView(m.id, m.user_id, m.user.label, m.user.role, m.off, m.user.active)
                for m in q.members
            ],
            on_duty=_on_duty(q),
            addresses=q.addresses() or list(default_team),
            rules=active_rules.get(q.id, 0),
        )
        for q in queues
    ]
    names = {q.id: q.name for q in queues}
    rule_views = [
        RuleView(
            id=r.id,
            number=number,
            queue_id=r.queue_id,
            queue_name=names.get(r.queue_id, "?"),
            treatment=r.treatment,
            priority=r.priority,
            source=r.source,
            hour_from=r.hour_from,
            hour_to=r.hour_to,
            active=r.active,
            summary=summary(_fields(r)),
        )
        for number, r in enumerate(rules, start=1)
    ]
    staff = [
        StaffChoice(u.id, u.label, u.role)
        for u in session.scalars(
            select(User).where(User.active.is_(True)).order_by(User.display_name, User.email)
        )
    ]
    return RoutingView(queue_views, rule_views, staff, warnings(session, default_team))


# --- checking --------------------------------------------------------------------------------


def _hour(raw: str, field: str, highest: int) -> int | None:
    text = raw.strip()
    if not text:
        return None
    if not text.isdigit() or not 0 <= int(text) <= highest:
        raise InvalidRouting(
            f"Hours are whole hours of the clinic's day, 0 to {highest}; "
            "for evenings and nights use a range past midnight, like 18 to 8.",
            field,
        )
    return int(text)


def parse_rule(session: Session, form: Mapping[str, str]) -> RuleFields:
    """A rule's fields from the form, checked; raises InvalidRouting (nothing is stored)."""
    raw_queue = form.get("queue_id", "").strip()
    queue = session.get(RoutingQueue, int(raw_queue)) if raw_queue.isdigit() else None
    if queue is None:
        raise InvalidRouting("Choose a queue that exists for the rule.", "queue_id")
    treatment = form.get("treatment", "").strip() or None
    if treatment is not None and treatment not in TREATMENTS:
        raise InvalidRouting(f"{treatment!r} is not a treatment the forms offer.", "treatment")
    priority = form.get("priority", "").strip() or None
    if priority is not None and priority not in PRIORITIES:
        raise InvalidRouting(
            f"Priority must be one of {', '.join(PRIORITIES)}, or any.", "priority"
        )
    source = " ".join(form.get("source", "").split()) or None
    if source is not None and len(source) > MAX_SOURCE:
        raise InvalidRouting(f"A source can have at most {MAX_SOURCE} characters.", "source")
    hour_from = _hour(form.get("hour_from", ""), "hour_from", 23)
    hour_to = _hour(form.get("hour_to", ""), "hour_to", 24)
    if (hour_from is None) != (hour_to is None):
        raise InvalidRouting(
            "Give both hours (from and until) or neither; neither means any time of day.",
            "hour_from",
        )
    if hour_from is not None and hour_from == hour_to:
        raise InvalidRouting(
            "From and until are the same hour, so the rule would never match; leave both "
            "empty for any time of day.",
            "hour_to",
        )
    return RuleFields(queue.id, treatment, priority, source, hour_from, hour_to)


def _check_queue_has_someone(queue: RoutingQueue) -> None:
    if not _has_someone(queue):
        raise InvalidRouting(
            f"“{queue.name}” is empty: it has no members and no email address, so nobody would "
            "hear of its leads. Add a member or an address to the queue first.",
            "queue_id",
        )


def _rule(session: Session, rule_id: int) -> RoutingRule:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise UnknownRouting(f"no rule #{rule_id}")
    return rule


def _queue(session: Session, queue_id: int) -> RoutingQueue:
    queue = session.get(RoutingQueue, queue_id)
    if queue is None:
        raise UnknownRouting(f"no queue #{queue_id}")
    return queue


def _member(session: Session, member_id: int) -> QueueMember:
    member = session.get(QueueMember, member_id)
    if member is None:
        raise UnknownRouting(f"no queue member #{member_id}")
    return member


def _record(
    session: Session, actor: audit.Actor, change: str, before: Any, after: Any, **ids: Any
) -> None:
    session.flush()
    audit.record(
        session,
        actor,
        "routing.changed",
        detail={"change": change, **ids, "before": before, "after": after},
    )


def _emails(raw: str) -> str:
    addresses = [a.strip() for a in raw.replace(";", ",").split(",") if a.strip()]
    for address in addresses:
        try:
            # As TEAM_EMAILS is checked: syntax only, and a clinic's test domains are allowed.
            validate_email(address, check_deliverability=False, test_environment=True)
        except EmailNotValidError:
            raise InvalidRouting(
                f"{address!r} is not an email address; separate addresses with commas.",
                "emails",
            ) from None
    return ", ".join(addresses)


# --- rules -----------------------------------------------------------------------------------


def add_rule(session: Session, fields: RuleFields, actor: audit.Actor) -> int:
    """Add an active rule at the end of the order (not committed); returns its id."""
    _check_queue_has_someone(_queue(session, fields.queue_id))
    last = session.scalar(select(func.max(RoutingRule.position)))
    rule = RoutingRule(
        position=(last if last is not None else -1) + 1,
        queue_id=fields.queue_id,
        treatment=fields.treatment,
        priority=fields.priority,
        source=fields.source,
        hour_from=fields.hour_from,
        hour_to=fields.hour_to,
        active=True,
    )
    session.add(rule)
    session.flush()
    _record(session, actor, "rule_added", None, _snapshot_rule(rule), rule_id=rule.id)
    return rule.id


def update_rule(session: Session, rule_id: int, fields: RuleFields, actor: audit.Actor) -> bool:
    """Change a rule's queue and conditions (not committed); False when nothing changed."""
    rule = _rule(session, rule_id)
    if _fields(rule) == fields:
        return False
    if rule.active:
        _check_queue_has_someone(_queue(session, fields.queue_id))
    before = _snapshot_rule(rule)
    rule.queue_id, rule.treatment = fields.queue_id, fields.treatment
    rule.priority, rule.source = fields.priority, fields.source
    rule.hour_from, rule.hour_to = fields.hour_from, fields.hour_to
    _record(session, actor, "rule_changed", before, _snapshot_rule(rule), rule_id=rule.id)
    return True


def set_rule_active(session: Session, rule_id: int, active: bool, actor: audit.Actor) -> bool:
    """Enable or disable a rule (not committed); False when it already was."""
    rule = _rule(session, rule_id)
    if rule.active == active:
        return False
    if active:
        _check_queue_has_someone(_queue(session, rule.queue_id))
    before = _snapshot_rule(rule)
    rule.active = active
    _record(session, actor, "rule_changed", before, _snapshot_rule(rule), rule_id=rule.id)
    return True


def move_rule(session: Session, rule_id: int, direction: str, actor: audit.Actor) -> bool:
    """Swap a rule with the one above or below it (not committed); False at either end."""
    if direction not in ("up", "down"):
        raise InvalidRouting("A rule moves up or down.", "direction")
    rules = _ordered_rules(session)
    rule = _rule(session, rule_id)
    index = rules.index(rule)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(rules):
        return False
    before = [r.id for r in rules]
    rules[index], rules[other] = rules[other], rules[index]
    for position, each in enumerate(rules):
        each.position = position  # numbered afresh: ties and gaps from earlier edits go
    _record(session, actor, "rule_moved", before, [r.id for r in rules], rule_id=rule.id)
    return True


# --- queues and members ----------------------------------------------------------------------


def add_queue(session: Session, name: str, emails: str, actor: audit.Actor) -> int:
    """Add a queue (not committed); returns its id. Members are added one by one after."""
    clean = " ".join(name.split())
    if not clean:
        raise InvalidRouting("Give the queue a name, like “TMS” or “Evenings”.", "name")
    if len(clean) > MAX_NAME:
        raise InvalidRouting(f"A queue's name can have at most {MAX_NAME} characters.", "name")
    taken = session.scalar(
        select(RoutingQueue.id).where(func.lower(RoutingQueue.name) == clean.lower())
    )
    if taken is not None:
        raise InvalidRouting(f"There is already a queue called “{clean}”.", "name")
    queue = RoutingQueue(name=clean, emails=_emails(emails))
    session.add(queue)
    session.flush()
    after = {"name": queue.name, "emails": queue.emails}
    _record(session, actor, "queue_added", None, after, queue_id=queue.id)
    return queue.id


def update_queue(
    session: Session, queue_id: int, emails: str, lead_user_id: int | None, actor: audit.Actor
) -> bool:
    """Change where a queue's email goes and who hears when its leads wait too long."""
    queue = _queue(session, queue_id)
    clean = _emails(emails)
    if lead_user_id is not None:
        lead = session.get(User, lead_user_id)
        if lead is None or not lead.active:
            raise InvalidRouting("Choose an active staff account as the queue's lead.", "lead")
    before = {"emails": queue.emails, "lead_user_id": queue.lead_user_id}
    after = {"emails": clean, "lead_user_id": lead_user_id}
    if before == after:
        return False
    queue.emails, queue.lead_user_id = clean, lead_user_id
    if not clean:
        _check_still_reachable(session, queue)
    _record(session, actor, "queue_changed", before, after, queue_id=queue.id)
    return True


def _check_still_reachable(session: Session, queue: RoutingQueue) -> None:
    """A queue active rules use must keep someone to tell (raises before the flush commits)."""
    session.flush()
    session.refresh(queue)
    if _has_someone(queue):
        return
    numbers = [
        str(number)
        for number, r in enumerate(_ordered_rules(session), start=1)
        if r.active and r.queue_id == queue.id
    ]
    if numbers:
        raise InvalidRouting(
            f"“{queue.name}” would be empty while rule {', '.join(numbers)} sends leads to it. "
            "Add someone else first, or disable the rule.",
            "user_id",
        )


def add_member(session: Session, queue_id: int, user_id: int, actor: audit.Actor) -> int:
    """Put an active staff account at the end of a queue's round-robin (not committed)."""
    queue = _queue(session, queue_id)
    user = session.get(User, user_id)
    if user is None or not user.active:
        raise InvalidRouting("Choose an active staff account to add.", "user_id")
    if any(m.user_id == user_id for m in queue.members):
        raise InvalidRouting(f"{user.label} is already in “{queue.name}”.", "user_id")
    position = max((m.position for m in queue.members), default=-1) + 1
    member = QueueMember(queue_id=queue.id, user_id=user.id, position=position)
    session.add(member)
    session.flush()
    after = {"user_id": user.id, "position": position, "off": False}
    _record(session, actor, "member_added", None, after, queue_id=queue.id)
    return member.id


def remove_member(session: Session, member_id: int, actor: audit.Actor) -> None:
    """Take someone out of a queue (not committed); refused if it would leave a queue in use
    with nobody to tell."""
    member = _member(session, member_id)
    queue = member.queue
    before = {"user_id": member.user_id, "position": member.position, "off": member.off}
    session.delete(member)
    _check_still_reachable(session, queue)
    _record(session, actor, "member_removed", before, None, queue_id=queue.id)


def set_member_off(session: Session, member_id: int, off: bool, actor: audit.Actor) -> bool:
    """Mark a member off (skipped by round-robin) or back on duty (not committed)."""
    member = _member(session, member_id)
    if member.off == off:
        return False
    member.off = off
    after = {"user_id": member.user_id, "off": off}
    before = {"user_id": member.user_id, "off": not off}
    _record(session, actor, "member_changed", before, after, queue_id=member.queue_id)
    return True
