"""The one contact policy: may this message go to this person on this channel now?

Planning (which messages a lead gets), delivery (re-checked at send time: the world may have
changed), fallbacks to the other channel, the "could not reach" alert and an operator's retry
all ask `can_contact`, and nothing else decides. A rule is a small function in RULES with the
purposes it applies to; a purpose that is exempt from a rule is simply not in that rule's set.
Quiet hours, keyword opt-outs and crisis exemptions are added here as rules, once.

A Decision either allows the message now, refuses it (cancelled: no longer wanted; or
suppressed: not allowed), or allows it later (`not_before`), when a rule only defers it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from intake_service.channels import kind
from intake_service.domain import clinic_settings
from intake_service.domain.compliance import pumping, quiet_hour_rules, quiet_hours
from intake_service.domain.compliance.consent import has_consent
from intake_service.domain.compliance.opt_outs import blocked
from intake_service.models import Lead

# The zone assumed for an unknown number when no settings ride on the session (config's default).
DEFAULT_CLINIC_TZ = "America/Los_Angeles"


class Purpose(enum.StrEnum):
    FIRST_CONTACT = "first_contact"  # the first reply to a form just sent
    FOLLOW_UP = "follow_up"  # the later steps of the drip
    CRISIS = "crisis"  # a person in crisis: resources to the patient, at once
    STAFF_ONE_OFF = "staff_one_off"  # a message a staff member writes to the patient by hand
    # A staff one-off that a rule deferred, sent now because staff confirmed an exemption: a
    # rule that allows such an exemption leaves this purpose out of its set.
    STAFF_CONFIRMED = "staff_confirmed"
    TEAM_ALERT = "team_alert"  # to the clinic's own staff about a lead, never to the patient


P = Purpose
TO_PATIENT = frozenset(set(P) - {P.TEAM_ALERT})
AUTOMATED = frozenset({P.FIRST_CONTACT, P.FOLLOW_UP})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""  # why not, as a short code for the ledger and metrics; "" when allowed
    not_before: dt.datetime | None = None  # refused now, allowed from then (quiet hours)
    cancel: bool = False  # refused because no longer wanted (a person took over), not forbidden
    other_channel: bool = False  # this address is dead; the other kind may still reach them

    @property
    def may_still_go(self) -> bool:
        """True when the message goes now or later: worth planning, a chance to reach them."""
        return self.allowed or self.not_before is not None


ALLOWED = Decision(True)


# What the rules read from the database, kept for the questions of one planning: the ledger's
# word for a lead and channel does not change with the purpose asked about.
Facts = dict[tuple[str, str], object]


@dataclass(frozen=True)
class Question:
    """What a rule is asked about."""

    session: Session
    lead: Lead
    channel: str
    purpose: Purpose
    now: dt.datetime
    facts: Facts | None = None

    def fact(self, name: str, read: Callable[[], object]) -> object:
        """What `read` answers for this lead and channel, read once per `facts`."""
        if self.facts is None:
            return read()
        key = (name, self.channel)
        if key not in self.facts:
            self.facts[key] = read()
        return self.facts[key]


Check = Callable[[Question], Decision | None]


def _sequence_running(q: Question) -> Decision | None:
    # A person has taken over (replied, called, booked, opted out): the automatic messages stop.
    if q.lead.sequence_stopped_at is None:
        return None
    return Decision(False, f"sequence stopped: {q.lead.sequence_stop_reason}", cancel=True)


def _not_urgent(q: Question) -> Decision | None:
    # An urgent lead gets no drip: a person calls (DOMAIN.md, "Safety first").
    return Decision(False, "lead_urgent", cancel=True) if q.lead.urgent else None


def _lead_not_closed(q: Question) -> Decision | None:
    return Decision(False, "lead_closed") if q.lead.status == "closed" else None


def _lead_not_spam(q: Question) -> Decision | None:
    return Decision(False, "lead_spam") if q.lead.status == "spam" else None


def _has_address(q: Question) -> Decision | None:
    return None if q.lead.address(q.channel) else Decision(False, f"{q.channel}_missing")


def _address_usable(q: Question) -> Decision | None:
    status = q.lead.contact_status(q.channel)
    if status is None:
        return None
    return Decision(False, f"{q.channel}_{status}", other_channel=True)


def _not_blocked_by_keyword(q: Question) -> Decision | None:
    # A number that texted STOP (or that Twilio reports opted out) is blocked for every lead
    # that gave it, until it texts START: the opt-out is the person's, not one lead's.
    if q.fact("blocked", lambda: blocked(q.session, q.channel, q.lead.address(q.channel))):
        return Decision(False, f"{q.channel}_opted_out")
    return None


def _consented(q: Question) -> Decision | None:
    # The ledger's latest word for this channel: an opt-out after the opt-in ends it.
    consented = q.fact("consent", lambda: has_consent(q.session, q.lead.id, q.channel))
    return None if consented else Decision(False, "no_consent")


def _not_pumped(q: Question) -> Decision | None:
    # SMS pumping (toll fraud): foreign, premium or landline numbers, capped and paused
    # prefixes. The number may be a bot's, the email may still be a person's.
    reason = q.fact("pumping", lambda: pumping.refusal(q.session, q.lead, q.channel, q.now))
    return None if reason is None else Decision(False, str(reason), other_channel=True)


def _quiet(
    session: Session, channel: str, address: str | None, now: dt.datetime
) -> Decision | None:
    # Texts wait for the recipient's own window (zone and state from the number, else the
    # clinic's zone as the admin set it): the federal 8:00-21:00 and the stricter states, as
    # the admin edited them (quiet_hour_rules) over quiet_hours.toml, read at send time.
    if not kind(channel).quiet_hours:
        return None
    settings = session.info.get("settings")
    if settings is not None and not settings.quiet_hours_enabled:
        return None
    clinic_tz = (
        clinic_settings.effective_timezone(session, settings)
        if settings is not None
        else DEFAULT_CLINIC_TZ
    )
    rules = quiet_hour_rules.effective_rules(session)
    opens = quiet_hours.next_allowed(address, now, clinic_tz, rules=rules)
    return None if opens <= now else Decision(False, "quiet_hours", not_before=opens)


def _inside_quiet_window(q: Question) -> Decision | None:
    return _quiet(q.session, q.channel, q.lead.address(q.channel), q.now)


# In order: the first rule that refuses gives the reason. Team alerts go to staff, so no rule
# about the patient applies to them; a crisis message still needs consent and a live address.
RULES: tuple[tuple[Check, frozenset[Purpose]], ...] = (
    (_sequence_running, AUTOMATED),
    (_not_urgent, frozenset({P.FOLLOW_UP})),
    (_lead_not_closed, TO_PATIENT - {P.CRISIS}),
    (_lead_not_spam, TO_PATIENT),
    (_has_address, TO_PATIENT),
    (_address_usable, TO_PATIENT),
    (_consented, TO_PATIENT),
    (_not_pumped, TO_PATIENT),
    (_not_blocked_by_keyword, TO_PATIENT),
    # Crisis resources go at any hour; a staff member may confirm an exemption for a one-off.
    (_inside_quiet_window, TO_PATIENT - {P.CRISIS, P.STAFF_CONFIRMED}),
)


def can_contact(
    session: Session,
    lead: Lead,
    channel: str,
    purpose: Purpose,
    now: dt.datetime,
    facts: Facts | None = None,
) -> Decision:
    """Whether a message for `purpose` may go to `lead` on `channel` now (reads the ledger).

    The one place that decides it. `facts`, given by a caller asking several questions about
    one lead at one moment (planning), keeps what the rules read for the next question.
    Raises ValueError for an unknown channel kind.
    """
    kind(channel)
    question = Question(session, lead, channel, Purpose(purpose), now, facts)
    for check, purposes in RULES:
        if question.purpose in purposes:
            decision = check(question)
            if decision is not None:
                return decision
    return ALLOWED


@dataclass(frozen=True)
class AnswerQuestion:
    """What a rule about answering a number that just texted us is asked."""

    session: Session
    phone: str
    purpose: Purpose
    now: dt.datetime


def _number_not_opted_out(q: AnswerQuestion) -> Decision | None:
    # STOP is the person's word about this number, whichever lead (if any) gave it.
    return Decision(False, "sms_opted_out") if blocked(q.session, "sms", q.phone) else None


def _answer_inside_quiet_window(q: AnswerQuestion) -> Decision | None:
    return _quiet(q.session, "sms", q.phone, q.now)


# A number that writes first has no consent ledger to ask (it may be no lead's): its text
# invites the answer. What still holds is the person's STOP, and the hours for anything but
# crisis resources.
ANSWER_RULES: tuple[tuple[Callable[[AnswerQuestion], Decision | None], frozenset[Purpose]], ...] = (
    (_number_not_opted_out, TO_PATIENT),
    (_answer_inside_quiet_window, TO_PATIENT - {P.CRISIS, P.STAFF_CONFIRMED}),
)


def can_answer(session: Session, phone: str, purpose: Purpose, now: dt.datetime) -> Decision:
    """Whether an automatic text may answer `phone`, which just texted the clinic (reads the
    opt-outs). The keyword confirmations (STOP, START, HELP) are not asked: carriers expect
    them, to a number that has just opted out too.
    """
    question = AnswerQuestion(session, phone, Purpose(purpose), now)
    for check, purposes in ANSWER_RULES:
        if question.purpose in purposes:
            decision = check(question)
            if decision is not None:
                return decision
    return ALLOWED
