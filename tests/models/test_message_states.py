"""The message state machine: bulk UPDATEs name their from-states from the transition table."""

from __future__ import annotations

import pytest

from intake_service.models import InvalidTransition, Message, MessageStatus
from intake_service.models.message import SENDABLE, TRANSITIONS, can_move_to

S = MessageStatus


def test_can_move_to_lists_exactly_the_statuses_whose_transitions_include_the_target() -> None:
    for target in S:
        expected = {status for status, targets in TRANSITIONS.items() if target in targets}
        assert set(can_move_to(target)) == expected, target


def test_a_worker_claims_only_planned_or_queued_messages() -> None:
    assert can_move_to(S.SENDING) == (S.PLANNED, S.QUEUED) == SENDABLE


def test_nothing_moves_back_to_a_final_status_from_elsewhere_than_the_table_says() -> None:
    assert can_move_to(S.DELIVERED) == (S.SENT,)
    assert can_move_to(S.CANCELLED) == (S.PLANNED, S.QUEUED, S.SENDING)


@pytest.mark.parametrize("final", [S.DELIVERED, S.SUPPRESSED, S.CANCELLED, S.UNDELIVERED])
def test_a_final_message_refuses_every_transition(final: MessageStatus) -> None:
    message = Message(status=final)
    for target in S:
        with pytest.raises(InvalidTransition):
            message.transition(target)
