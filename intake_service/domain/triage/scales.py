"""PHQ-9 (depression) and GAD-7 (anxiety): standard items, answer scale, totals and bands.

Both questionnaires are free to use (Pfizer's PHQ screeners). A score orders the callback list;
it is never a diagnosis. PHQ-9 item 9 above 0 is a safety flag whatever the total (DOMAIN.md).
"""

from __future__ import annotations

from dataclasses import dataclass

PHQ9_STEM = (
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
)
PHQ9_ITEMS: tuple[str, ...] = (
    "Little interest or pleasure in doing things",
    "Feeling down, depressed, or hopeless",
    "Trouble falling or staying asleep, or sleeping too much",
    "Feeling tired or having little energy",
    "Poor appetite or overeating",
    "Feeling bad about yourself, or that you are a failure, or have let yourself or your "
    "family down",
    "Trouble concentrating on things, such as reading the newspaper or watching television",
    "Moving or speaking so slowly that other people could have noticed; or the opposite, "
    "being so fidgety or restless that you have been moving around a lot more than usual",
    "Thoughts that you would be better off dead, or of hurting yourself in some way",
)
GAD7_STEM = "Over the last 2 weeks, how often have you been bothered by the following problems?"
GAD7_ITEMS: tuple[str, ...] = (
    "Feeling nervous, anxious, or on edge",
    "Not being able to stop or control worrying",
    "Worrying too much about different things",
    "Trouble relaxing",
    "Being so restless that it is hard to sit still",
    "Becoming easily annoyed or irritable",
    "Feeling afraid, as if something awful might happen",
)
# The answer scale both share: the value is the points the answer scores.
ANSWERS: tuple[tuple[int, str], ...] = (
    (0, "Not at all"),
    (1, "Several days"),
    (2, "More than half the days"),
    (3, "Nearly every day"),
)
# (highest total in the band, band name)
PHQ9_BANDS = (
    (4, "minimal"),
    (9, "mild"),
    (14, "moderate"),
    (19, "moderately_severe"),
    (27, "severe"),
)
GAD7_BANDS = ((4, "minimal"), (9, "mild"), (14, "moderate"), (21, "severe"))
SAFETY_ITEM = 9  # PHQ-9 item 9, counted from 1


@dataclass(frozen=True)
class Score:
    scale: str  # "phq9" | "gad7"
    total: int
    band: str
    safety_flag: bool = False  # PHQ-9 item 9 above 0


class InvalidScore(ValueError):
    """The answers are not the scale's number of whole numbers from 0 to 3."""


def band(total: int, bands: tuple[tuple[int, str], ...]) -> str:
    """The band a total falls in; raises InvalidScore past the scale's top."""
    for upper, name in bands:
        if total <= upper:
            return name
    raise InvalidScore(f"total {total} is above the scale's maximum")


def _check(items: list[int], length: int) -> None:
    if len(items) != length or any(
        isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 3 for v in items
    ):
        raise InvalidScore(f"give {length} answers, each from 0 to 3")


def score_phq9(items: list[int]) -> Score:
    """Total, band and safety flag of a PHQ-9; raises InvalidScore."""
    _check(items, len(PHQ9_ITEMS))
    total = sum(items)
    return Score("phq9", total, band(total, PHQ9_BANDS), items[SAFETY_ITEM - 1] > 0)


def score_gad7(items: list[int]) -> Score:
    """Total and band of a GAD-7 (it has no safety item); raises InvalidScore."""
    _check(items, len(GAD7_ITEMS))
    total = sum(items)
    return Score("gad7", total, band(total, GAD7_BANDS))
