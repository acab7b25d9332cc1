"""The shape of each form's answers: yes/no booleans for TMS, whole numbers 0-3 for the scales."""

from __future__ import annotations

from typing import Any

import pytest

from intake_service.domain.intake.answers import TMS_ITEMS, AnswerError, check_answers

FIRST_TMS_ITEM = next(iter(TMS_ITEMS))


def tms_answers(**changes: Any) -> dict[str, Any]:
    answers: dict[str, Any] = dict.fromkeys(TMS_ITEMS, False)
    answers.update(changes)
    return answers


def error_path(form: str, answers: Any) -> str:
    with pytest.raises(AnswerError) as caught:
        check_answers(form, answers)
    return caught.value.path


# --- TMS self-screen -----------------------------------------------------------------------


def test_tms_screen_with_a_yes_or_no_for_every_item_is_accepted() -> None:
    check_answers("tms_screen", tms_answers(tried_antidepressants=True))


@pytest.mark.parametrize("not_a_bool", [1, 0, "yes", "true", None])
def test_tms_answer_that_is_not_true_or_false_is_refused_at_its_item(not_a_bool: Any) -> None:
    answers = tms_answers(**{FIRST_TMS_ITEM: not_a_bool})

    assert error_path("tms_screen", answers) == f"answers.{FIRST_TMS_ITEM}"


def test_tms_screen_missing_an_item_names_that_item() -> None:
    answers = tms_answers()
    del answers["doctor_suggested_tms"]

    assert error_path("tms_screen", answers) == "answers.doctor_suggested_tms"


def test_tms_screen_with_a_question_not_on_the_form_is_refused() -> None:
    answers = tms_answers(has_metal_implant=False)

    assert error_path("tms_screen", answers) == "answers.has_metal_implant"


@pytest.mark.parametrize("form", ["tms_screen", "phq9", "gad7"])
@pytest.mark.parametrize("not_a_mapping", [None, [], [True] * 5, "yes"])
def test_questionnaire_without_an_answers_mapping_is_refused(form: str, not_a_mapping: Any) -> None:
    assert error_path(form, not_a_mapping) == "answers"


# --- PHQ-9 and GAD-7 -----------------------------------------------------------------------


@pytest.mark.parametrize(("form", "length"), [("phq9", 9), ("gad7", 7)])
def test_scale_with_one_whole_number_from_0_to_3_per_item_is_accepted(
    form: str, length: int
) -> None:
    check_answers(form, {"items": [position % 4 for position in range(length)]})


@pytest.mark.parametrize(("form", "length"), [("phq9", 9), ("gad7", 7)])
def test_scale_answered_with_booleans_is_refused_though_bool_is_an_int(
    form: str, length: int
) -> None:
    items: list[Any] = [0] * length
    items[2] = True

    assert error_path(form, {"items": items}) == "answers.items.2"


@pytest.mark.parametrize("bad", [4, -1, 1.0, 2.5, "2", None])
def test_scale_item_outside_whole_numbers_0_to_3_is_refused_at_its_position(bad: Any) -> None:
    items: list[Any] = [1] * 9
    items[8] = bad

    assert error_path("phq9", {"items": items}) == "answers.items.8"


@pytest.mark.parametrize(
    ("form", "length"), [("phq9", 8), ("phq9", 10), ("gad7", 6), ("gad7", 9), ("phq9", 0)]
)
def test_scale_with_the_wrong_number_of_items_is_refused(form: str, length: int) -> None:
    assert error_path(form, {"items": [0] * length}) == "answers.items"


def test_scale_with_an_extra_key_beside_items_is_refused() -> None:
    assert error_path("phq9", {"items": [0] * 9, "total": 0}) == "answers.items"


def test_scale_items_given_as_a_mapping_not_a_list_is_refused() -> None:
    items = {str(position): 0 for position in range(7)}

    assert error_path("gad7", {"items": items}) == "answers.items"


# --- contact form --------------------------------------------------------------------------


@pytest.mark.parametrize("nothing", [None, {}])
def test_contact_form_takes_no_answers(nothing: Any) -> None:
    check_answers("contact", nothing)


def test_contact_form_may_carry_the_tms_self_screen_items() -> None:
    # CONTRACT.md's example posts the TMS items with the contact form.
    check_answers("contact", tms_answers(tried_antidepressants=True))


@pytest.mark.parametrize(
    "answers",
    [{"items": [0] * 9}, {"favourite_colour": "blue"}, tms_answers(extra_question=True)],
)
def test_contact_form_with_answers_other_than_the_tms_items_is_refused(
    answers: dict[str, Any],
) -> None:
    assert error_path("contact", answers).startswith("answers")
