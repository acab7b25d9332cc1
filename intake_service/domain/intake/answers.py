"""The shape of each form's answers: the TMS self-screen's yes/no items, PHQ-9 and GAD-7 items."""

from __future__ import annotations

from typing import Any

# The TMS self-screen, in the order the clinic's site shows it (DOMAIN.md).
TMS_ITEMS: dict[str, str] = {
    "struggles_with_depression_ocd_anxiety": "I struggle with depression, OCD or anxiety.",
    "has_symptoms": (
        "I am experiencing sadness, low energy, difficulty sleeping, poor concentration, "
        "appetite changes, irritability or weight gain/loss."
    ),
    "tried_antidepressants": (
        "I have tried, or am currently on, one or more antidepressant medications."
    ),
    "tried_talk_therapy": "I have tried talk therapy.",
    "doctor_suggested_tms": "My doctor or therapist has suggested I try TMS.",
}
SCALE_ITEMS = {"phq9": 9, "gad7": 7}
SCALE_MAX_ITEM = 3


class AnswerError(ValueError):
    """Answers that do not fit the form; `path` names the field (answers.items...)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path


def check_answers(form: str, answers: dict[str, Any] | None) -> None:
    """Raise AnswerError unless `answers` has exactly the shape `form` asks for."""
    if form == "contact" and not answers:
        return
    if not isinstance(answers, dict):
        raise AnswerError("answers", "Answer every question.")
    # A clinic's contact form may carry the TMS self-screen items too (CONTRACT.md's example).
    if form in ("contact", "tms_screen"):
        missing = [key for key in TMS_ITEMS if not isinstance(answers.get(key), bool)]
        if missing:
            raise AnswerError(f"answers.{missing[0]}", "Answer yes or no.")
        extra = sorted(set(answers) - set(TMS_ITEMS))
        if extra:
            raise AnswerError(f"answers.{extra[0]}", "This question is not on the form.")
        return
    expected = SCALE_ITEMS[form]
    items = answers.get("items")
    if set(answers) != {"items"} or not isinstance(items, list) or len(items) != expected:
        raise AnswerError("answers.items", f"Give {expected} answers, each from 0 to 3.")
    for position, value in enumerate(items):
        # bool is an int in Python; true/false is not an answer on a 0-3 scale.
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 0 <= value <= SCALE_MAX_ITEM
        ):
            raise AnswerError(
                f"answers.items.{position}", "Each answer is a whole number from 0 to 3."
            )
