"""An inbound text, once: keywords to the consent ledger, anything else to the lead's timeline
(or, from a number no lead gave, to the staff app's texts page; crisis words page on-call).

Twilio retries a webhook it thinks failed, so each MessageSid is processed in one transaction
that also records it as processed; a second delivery of the same SID finds that row and
changes nothing (not even a second answer to STOP).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake_service.broker import broker_in_context
from intake_service.config import Settings
from intake_service.db import Database, utcnow
from intake_service.domain.compliance import keywords, opt_outs, policy, sms_replies
from intake_service.domain.leads import replies
from intake_service.domain.outreach import receipts, scheduler, text_pages
from intake_service.domain.triage import crisis
from intake_service.models import InboundMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundSms:
    provider_id: str  # MessageSid
    from_number: str
    to_number: str
    body: str
    segments: int | None = None


@dataclass(frozen=True)
class Answer:
    text: str | None  # what to text back (TwiML), or None for no answer
    duplicate: bool = False
    inbound_id: int | None = None


def receive(db: Database, settings: Settings, sms: InboundSms) -> Answer:
    """Store and act on one inbound text; the answer to text back, if any. Commits.

    Raises nothing for a repeat: it returns Answer(None, duplicate=True).
    """
    now = utcnow()
    lead_id = None
    paged_text: int | None = None
    try:
        with db.transaction() as session:
            receipts.mark_processed(session, "sms", sms.provider_id)  # a repeat fails here
            leads = opt_outs.leads_with_phone(session, sms.from_number)
            match = keywords.classify(sms.body)
            inbound = InboundMessage(
                provider_id=sms.provider_id,
                received_at=now,
                from_number=sms.from_number,
                to_number=sms.to_number,
                body=sms.body,
                lead_id=leads[0].id if leads else None,
                kind="reply",
                keyword=match.word if match else None,
                segments=sms.segments,
            )
            session.add(inbound)
            session.flush()
            answer: tuple[str, str] | None = None
            if match is not None and not _plain_yes(session, match, sms):
                inbound.kind = match.kind.value
                if match.kind is keywords.Keyword.OPT_OUT:
                    opt_outs.opt_out_number(session, sms.from_number, match.word, inbound.id, now)
                elif match.kind is keywords.Keyword.OPT_IN:
                    opt_outs.opt_in_number(session, sms.from_number, match.word, inbound.id, now)
                # Advanced Opt-Out answers keywords on Twilio's side: one answer, not two.
                if not settings.twilio_advanced_opt_out:
                    answer = sms_replies.answer(match, settings)
                    inbound.auto_reply = answer[0]
            else:
                # Crisis language never waits for business hours (DOMAIN.md): the on-call
                # clinician is paged and the person gets 988 and 911 in the same second,
                # whether or not a lead gave the number.
                detection = crisis.detect(sms.body)
                inbound.crisis_rule = detection.rule
                if leads:
                    inbound.kind = replies.attach(
                        session, settings, inbound, leads, in_crisis=detection.flagged
                    )
                    lead_id = leads[0].id
                elif detection.flagged:
                    inbound.kind = "crisis"
                    text_pages.start(session, inbound, settings, now)
                    paged_text = inbound.id
                else:
                    inbound.kind = "reply"
                    log.info("text %s from a number no lead gave; kept for staff", inbound.id)
                if detection.flagged and _may_answer(session, sms, now):
                    answer = sms_replies.crisis_answer(settings, known=bool(leads))
                    inbound.auto_reply = answer[0]
            inbound_id = inbound.id
    except IntegrityError:
        if not receipts.was_processed(db, "sms", sms.provider_id):
            raise  # some other constraint: not a repeat, and not to be swallowed
        log.info("inbound text already processed; ignoring the repeat")
        return Answer(None, duplicate=True)
    if lead_id is not None or paged_text is not None:
        # The team email (or the page) is due now: hand it on rather than wait for the tick.
        scheduler.hand_on_due(
            db, settings.delivery, lead_id, broker_in_context(), inbound_message_id=paged_text
        )
    return Answer(answer[1] if answer else None, inbound_id=inbound_id)


def _may_answer(session: Session, sms: InboundSms, now: dt.datetime) -> bool:
    """The crisis answer (988, 911) goes back unless the number texted STOP: then the
    person's word stands, and the people paged decide how to reach them."""
    decision = policy.can_answer(session, sms.from_number, policy.Purpose.CRISIS, now)
    if not decision.allowed:
        log.info("crisis answer to an inbound text not sent (%s)", decision.reason)
    return decision.allowed


def _plain_yes(session: Session, match: keywords.Match, sms: InboundSms) -> bool:
    """YES re-subscribes a number that opted out; from anyone else it answers our question
    ("Would you still like a call?") and is a reply for the team, not a keyword.
    """
    return match.word == "YES" and not opt_outs.number_opted_out(session, sms.from_number)
