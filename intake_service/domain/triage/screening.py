"""Triage, first version: score the TMS self-screen, PHQ-9 and GAD-7; pure functions only.

A screening aid for the clinic's staff, never a diagnosis: it orders the callback list and
says why. Crisis language in free text is not assessed here yet (see docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RULES_VERSION = "2026-11.1"

PRIORITIES = ("urgent", "high", "normal", "low")

# Points per "yes" on the TMS self-screen. Items 1 and 3 together are the core indication
# (depression, OCD or anxiety with a failed antidepressant); 2 and 4 strengthen it; 5 means
# a referral is likely.
TMS_POINTS = {
    "struggles_with_depression_ocd_anxiety": 3,
    "has_symptoms": 1,
    "tried_antidepressants": 3,
    "tried_talk_therapy": 1,
    "doctor_suggested_tms": 2,
}
TMS_REASONS = {
    "struggles_with_depression_ocd_anxiety": "reports_depression_ocd_anxiety",
    "has_symptoms": "reports_symptoms",
    "tried_antidepressants": "tried_antidepressants",
    "tried_talk_therapy": "tried_talk_therapy",
    "doctor_suggested_tms": "clinician_suggested_tms",
}
PHQ9_BANDS = (
    (4, "minimal"),
    (9, "mild"),
    (14, "moderate"),
    (19, "moderately_severe"),
    (27, "severe"),
)
GAD7_BANDS = ((4, "minimal"), (9, "mild"), (14, "moderate"), (21, "severe"))


@dataclass(frozen=True)
class Assessment:
    score: int | None
    priority: str
    candidacy: str | None  # TMS candidacy: "likely" | "possible" | "unlikely"
    reasons: tuple[str, ...]
    urgent: bool = False


def assess(form: str, answers: dict[str, Any] | None) -> Assessment:
    """Triage one submission's answers (already checked by domain.answers)."""
    if form in ("tms_screen", "contact") and answers:
        return _tms(answers)
    if form == "phq9" and answers:
        return _phq9(answers["items"])
    if form == "gad7" and answers:
        return _gad7(answers["items"])
    return Assessment(score=None, priority="normal", candidacy=None, reasons=("contact_form",))


def _tms(answers: dict[str, Any]) -> Assessment:
    yes = [key for key in TMS_POINTS if answers.get(key) is True]
    score = sum(TMS_POINTS[key] for key in yes)
    reasons = [TMS_REASONS[key] for key in yes]
    core = "struggles_with_depression_ocd_anxiety" in yes and "tried_antidepressants" in yes
    if core:
        candidacy, priority = "likely", "high"
        reasons.insert(0, "core_tms_indication")
    elif "struggles_with_depression_ocd_anxiety" in yes or "doctor_suggested_tms" in yes:
        candidacy, priority = "possible", "normal"
        if "tried_antidepressants" not in yes:
            reasons.append("no_antidepressant_trial")
    else:
        candidacy, priority = "unlikely", "low"
    return Assessment(score=score, priority=priority, candidacy=candidacy, reasons=tuple(reasons))


def _band(total: int, bands: tuple[tuple[int, str], ...]) -> str:
    return next(name for upper, name in bands if total <= upper)


def _phq9(items: list[int]) -> Assessment:
    total = sum(items)
    band = _band(total, PHQ9_BANDS)
    reasons = [f"phq9_{band}"]
    # Item 9 (thoughts of being better off dead or of self-harm) above 0 is a safety flag,
    # whatever the total (DOMAIN.md): a person calls, now.
    if items[8] > 0:
        reasons.insert(0, "phq9_item9_positive")
        return Assessment(total, "urgent", None, tuple(reasons), urgent=True)
    priority = "high" if total >= 15 else "normal"
    return Assessment(total, priority, None, tuple(reasons))


def _gad7(items: list[int]) -> Assessment:
    total = sum(items)
    band = _band(total, GAD7_BANDS)
    return Assessment(total, "high" if total >= 15 else "normal", None, (f"gad7_{band}",))
