"""Screening: the TMS self-screen, PHQ-9, GAD-7 and free text, with reasons and flags."""

from __future__ import annotations

from typing import Any

import pytest

from intake_service.domain.intake.answers import TMS_ITEMS
from intake_service.domain.triage import assess, screening

ITEMS = list(TMS_ITEMS)  # items 1..5 in the order the clinic's site shows them


def tms(*yes_items: int) -> dict[str, bool]:
    """TMS self-screen answers with "yes" to the given item numbers (1-5), "no" to the rest."""
    return {key: position in yes_items for position, key in enumerate(ITEMS, start=1)}


def scale(total: int, length: int, item9: int = 0) -> dict[str, list[int]]:
    """Scale answers adding up to `total` over the first items, the last item (PHQ-9 item 9)
    set apart so a boundary test never trips the safety flag by accident."""
    items = [0] * length
    remaining = total - item9
    for position in range(length - 1):
        items[position] = min(3, remaining)
        remaining -= items[position]
    assert remaining == 0, "total too large for the items available"
    items[-1] = item9
    return {"items": items}


# --- TMS self-screen -----------------------------------------------------------------------


def test_depression_with_antidepressant_trial_is_likely_tms_candidate_with_high_priority() -> None:
    result = assess("tms_screen", tms(1, 3))

    assert result.candidacy == "likely"
    assert result.priority == "high"
    assert result.reasons[0] == "core_tms_indication"
    assert "no_antidepressant_trial" not in result.reasons
    assert result.score == 6
    assert result.urgent is False


def test_every_yes_adds_to_the_tms_score_and_names_its_reason() -> None:
    result = assess("tms_screen", tms(1, 2, 3, 4, 5))

    assert result.score == 10
    assert result.candidacy == "likely"
    assert set(result.reasons) == {
        "core_tms_indication",
        "reports_depression_ocd_anxiety",
        "reports_symptoms",
        "tried_antidepressants",
        "tried_talk_therapy",
        "clinician_suggested_tms",
    }


def test_depression_without_antidepressant_trial_is_possible_and_says_why() -> None:
    result = assess("tms_screen", tms(1))

    assert result.candidacy == "possible"
    assert result.priority == "normal"
    assert "no_antidepressant_trial" in result.reasons
    assert "core_tms_indication" not in result.reasons
    assert result.score == 3


def test_clinician_suggesting_tms_alone_makes_a_possible_candidate() -> None:
    result = assess("tms_screen", tms(5))

    assert result.candidacy == "possible"
    assert result.priority == "normal"
    assert "clinician_suggested_tms" in result.reasons
    assert result.score == 2


def test_supporting_items_alone_are_unlikely_and_low_priority() -> None:
    result = assess("tms_screen", tms(2, 4))

    assert (result.candidacy, result.priority, result.score) == ("unlikely", "low", 2)


def test_no_yes_at_all_is_unlikely_low_priority_with_zero_score() -> None:
    result = assess("tms_screen", tms())

    assert (result.candidacy, result.priority, result.score) == ("unlikely", "low", 0)
    assert result.reasons == ()
    assert result.urgent is False


# --- PHQ-9 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band", "priority"),
    [
        (0, "minimal", "normal"),
        (4, "minimal", "normal"),
        (5, "mild", "normal"),
        (9, "mild", "normal"),
        (10, "moderate", "normal"),
        (14, "moderate", "normal"),
        (15, "moderately_severe", "high"),
        (19, "moderately_severe", "high"),
        (20, "severe", "high"),
        (24, "severe", "high"),  # the highest total with item 9 at 0
    ],
)
def test_phq9_total_falls_in_its_band_on_both_sides_of_every_boundary(
    total: int, band: str, priority: str
) -> None:
    result = assess("phq9", scale(total, 9))

    assert result.score == total
    assert result.reasons == (f"phq9_{band}",)
    assert result.priority == priority
    assert result.urgent is False
    assert result.candidacy is None


def test_phq9_item9_above_zero_is_urgent_even_with_a_minimal_total() -> None:
    result = assess("phq9", {"items": [0, 0, 0, 0, 0, 0, 0, 0, 1]})

    assert result.urgent is True
    assert result.priority == "urgent"
    assert result.score == 1
    assert result.reasons == ("phq9_item9_positive", "phq9_minimal")


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item9_is_urgent_whatever_its_value_and_the_total(item9: int) -> None:
    result = assess("phq9", scale(27 if item9 == 3 else 10, 9, item9=item9))

    assert result.urgent is True
    assert result.priority == "urgent"
    assert result.reasons[0] == "phq9_item9_positive"


def test_phq9_top_score_is_severe() -> None:
    result = assess("phq9", {"items": [3] * 9})

    assert result.score == 27
    assert "phq9_severe" in result.reasons


# --- GAD-7 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band", "priority"),
    [
        (0, "minimal", "normal"),
        (4, "minimal", "normal"),
        (5, "mild", "normal"),
        (9, "mild", "normal"),
        (10, "moderate", "normal"),
        (14, "moderate", "normal"),
        (15, "severe", "high"),
        (21, "severe", "high"),
    ],
)
def test_gad7_total_falls_in_its_band_on_both_sides_of_every_boundary(
    total: int, band: str, priority: str
) -> None:
    items = [min(3, max(0, total - 3 * position)) for position in range(7)]
    assert sum(items) == total

    result = assess("gad7", {"items": items})

    assert result.score == total
    assert result.reasons == (f"gad7_{band}",)
    assert result.priority == priority
    assert result.urgent is False


def test_gad7_has_no_safety_item_so_its_last_answer_is_not_urgent() -> None:
    result = assess("gad7", {"items": [0, 0, 0, 0, 0, 0, 3]})

    assert result.urgent is False
    assert result.priority == "normal"


# --- contact form ----------------------------------------------------------------------------


def test_contact_form_carrying_the_tms_items_is_triaged_like_the_self_screen() -> None:
    assert assess("contact", tms(1, 3)) == assess("tms_screen", tms(1, 3))


def test_contact_form_is_normal_priority_without_a_score() -> None:
    result = assess("contact", None)

    assert result.score is None
    assert result.priority == "normal"
    assert result.candidacy is None
    assert result.urgent is False
    assert result.reasons == ("contact_form",)


# --- screening with reasons, from answers and free text -----------------------------------

SCREENING_CASES = [
    # (form, answers, message, service, level, reason expected)
    ("tms_screen", tms(1, 3), None, "tms", "likely", "tried_antidepressants"),
    ("tms_screen", tms(5), None, "tms", "likely", "clinician_suggested_tms"),
    ("contact", None, "I have OCD and nothing helps", "tms", "possible", "ocd"),
    ("contact", None, "I want to quit smoking", "tms", "possible", "smoking"),
    ("contact", None, "Depressed for years, tried Zoloft", "tms", "likely", "antidepressant_named"),
    ("contact", None, "My psychiatrist suggested TMS", "tms", "likely", "clinician_suggested_tms"),
    ("contact", None, "depression; tried Lexapro and Wellbutrin", "spravato", "likely",
     "possible_trd"),
    ("contact", None, "I've tried three antidepressants for my depression", "spravato", "likely",
     "possible_trd"),
    ("contact", None, "Tried escitalopram (Lexapro) for depression", "spravato", "possible",
     "antidepressant_named"),
    ("contact", None, "Chronic migraine for 10 years", "ketamine", "likely", "chronic_pain"),
    ("contact", None, "PTSD from the army", "ketamine", "possible", "ptsd"),
    ("contact", None, "Looking for medication management", "psychiatry", "likely",
     "medication_management"),
    ("contact", None, "Just asking about prices", "tms", "unlikely", None),
    ("phq9", {"items": [2, 2, 2, 2, 2, 0, 0, 0, 0]}, None, "tms", "possible", "phq9_depression"),
    ("gad7", {"items": [2, 2, 2, 2, 2, 0, 0]}, None, "ketamine", "possible", "gad7_anxiety"),
]  # fmt: skip


@pytest.mark.parametrize(("form", "answers", "message", "service", "level", "reason"),
                         SCREENING_CASES)  # fmt: skip
def test_candidacy_per_service_line_with_reasons(
    form: str, answers: Any, message: str | None, service: str, level: str, reason: str | None
) -> None:
    result = assess(form, answers, message)

    candidacy = result.candidacies[service]
    assert candidacy.level == level
    if reason is not None:
        assert reason in candidacy.reasons
        assert screening.label(reason)  # every code reads as a sentence


FLAG_CASES = [
    ("I have a cochlear implant", "metal_implant", ("tms",)),
    ("aneurysm clips from surgery in 2010", "metal_implant", ("tms",)),
    ("I had a seizure as a teenager", "seizures", ("tms",)),
    ("I'm 12 weeks pregnant", "pregnancy", ("ketamine", "spravato")),
    ("still breastfeeding my son", "pregnancy", ("ketamine", "spravato")),
    ("history of psychosis in college", "psychosis", ("ketamine", "spravato")),
    ("my blood pressure is high even on meds", "blood_pressure", ("ketamine", "spravato")),
    ("I've been sober two years after rehab", "substance_misuse", ("ketamine", "spravato")),
    ("estoy embarazada", "pregnancy", ("ketamine", "spravato")),
]


@pytest.mark.parametrize(("message", "code", "services"), FLAG_CASES)
def test_screening_flags_to_check_on_the_call_come_from_the_free_text(
    message: str, code: str, services: tuple[str, ...]
) -> None:
    flags = {f.code: f for f in assess("contact", None, message).flags}

    assert code in flags
    assert flags[code].services == services
    assert screening.label(code).startswith(screening.FLAG_LABELS[code].split(":")[0])


def test_a_plain_message_raises_no_flag() -> None:
    assert assess("contact", None, "Please call me in the evening").flags == ()


def test_brand_and_generic_name_of_one_drug_count_once() -> None:
    assert screening.antidepressants_named("zoloft, then sertraline again") == ("sertraline",)
    assert screening.antidepressant_trials("tried prozac and cymbalta") == 2


def test_crisis_language_in_the_message_makes_any_form_urgent_and_says_which_words() -> None:
    result = assess("tms_screen", tms(1, 3), "honestly I want to end my life")

    assert result.urgent is True
    assert result.priority == "urgent"
    assert result.reasons[0] == "crisis_language"
    assert result.crisis.flagged
    assert "end my life" in result.crisis.words[0]
    assert "suicidal_thoughts" in result.candidacies["spravato"].reasons


def test_an_ordinary_message_leaves_priority_to_the_answers() -> None:
    result = assess("tms_screen", tms(1, 3), "Call me after 5pm please")

    assert (result.urgent, result.priority) == (False, "high")
