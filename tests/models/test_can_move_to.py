"""can_move_to: the from-states a bulk UPDATE may name, read off the transition table."""

from __future__ import annotations

import pytest

from intake_service.domain.outreach import scheduler
from intake_service.models import MessageStatus
from intake_service.models.message import TRANSITIONS, can_move_to

S = MessageStatus


@pytest.mark.parametrize("target", list(MessageStatus))
def test_can_move_to_names_exactly_the_states_the_table_lets_reach_the_target(
    target: MessageStatus,
) -> None:
    sources = can_move_to(target)

    assert set(sources) == {source for source, targets in TRANSITIONS.items() if target in targets}
    assert len(sources) == len(set(sources))


def test_queued_is_reached_from_planned_and_from_a_send_whose_worker_died() -> None:
    assert can_move_to(S.QUEUED) == (S.PLANNED, S.SENDING)


def test_scheduler_claims_only_what_may_become_queued_or_is_queued_already() -> None:
    assert set(scheduler.CLAIMABLE) == {S.PLANNED, S.SENDING, S.QUEUED}
    for final in (S.SENT, S.DELIVERED, S.FAILED, S.UNDELIVERED, S.SUPPRESSED, S.CANCELLED):
        assert final not in scheduler.CLAIMABLE
