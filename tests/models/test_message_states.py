"""The message state machine as delivery and sequences use it (see also test_can_move_to.py)."""

from __future__ import annotations

import pytest

from intake_service.models import InvalidTransition, Message, MessageStatus
from intake_service.models.message import can_move_to

S = MessageStatus


def test_a_worker_claims_only_planned_or_queued_messages() -> None:
    assert can_move_to(S.SENDING) == (S.PLANNED, S.QUEUED)


def test_delivered_comes_from_sent_and_cancelled_from_any_state_not_yet_sent() -> None:
    assert can_move_to(S.DELIVERED) == (S.SENT,)
    assert can_move_to(S.CANCELLED) == (S.PLANNED, S.QUEUED, S.SENDING)


@pytest.mark.parametrize("final", [S.DELIVERED, S.SUPPRESSED, S.CANCELLED, S.UNDELIVERED])
def test_a_final_message_refuses_every_transition(final: MessageStatus) -> None:
    message = Message(status=final)
    for target in S:
        with pytest.raises(InvalidTransition):
            message.transition(target)
