"""PHQ-9 and GAD-7 scoring at every band edge, and the safety item."""

from __future__ import annotations

import pytest

from intake_service.domain.triage import scales


def items_totalling(total: int, length: int, last: int = 0) -> list[int]:
    items = [0] * length
    remaining = total - last
    for position in range(length - 1):
        items[position] = min(3, remaining)
        remaining -= items[position]
    assert remaining == 0
    items[-1] = last
    return items


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
     (14, "moderate"), (15, "moderately_severe"), (19, "moderately_severe"), (20, "severe"),
     (24, "severe")],
)  # fmt: skip
def test_phq9_band_on_both_sides_of_every_edge(total: int, band: str) -> None:
    score = scales.score_phq9(items_totalling(total, 9))

    assert (score.total, score.band, score.safety_flag) == (total, band, False)


@pytest.mark.parametrize(("item9", "flag"), [(0, False), (1, True), (2, True), (3, True)])
def test_phq9_item9_above_zero_is_the_safety_flag_whatever_the_total(
    item9: int, flag: bool
) -> None:
    score = scales.score_phq9([0] * 8 + [item9])

    assert score.safety_flag is flag
    assert score.band == "minimal"


def test_phq9_top_score_is_27_severe() -> None:
    assert scales.score_phq9([3] * 9).band == "severe"
    assert scales.score_phq9([3] * 9).total == 27


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "minimal"), (4, "minimal"), (5, "mild"), (9, "mild"), (10, "moderate"),
     (14, "moderate"), (15, "severe"), (21, "severe")],
)  # fmt: skip
def test_gad7_band_on_both_sides_of_every_edge(total: int, band: str) -> None:
    score = scales.score_gad7(items_totalling(total, 7, last=min(3, max(0, total - 18))))

    assert (score.total, score.band, score.safety_flag) == (total, band, False)


@pytest.mark.parametrize("items", [[0] * 8, [0] * 10, [4] + [0] * 8, [-1] + [0] * 8, [True] * 9])
def test_phq9_refuses_answers_off_the_scale(items: list[int]) -> None:
    with pytest.raises(scales.InvalidScore):
        scales.score_phq9(items)


def test_both_scales_use_the_standard_wording_and_answer_scale() -> None:
    assert len(scales.PHQ9_ITEMS) == 9 and len(scales.GAD7_ITEMS) == 7
    assert scales.PHQ9_ITEMS[8].startswith("Thoughts that you would be better off dead")
    assert scales.GAD7_ITEMS[0] == "Feeling nervous, anxious, or on edge"
    assert [label for _, label in scales.ANSWERS] == [
        "Not at all",
        "Several days",
        "More than half the days",
        "Nearly every day",
    ]
