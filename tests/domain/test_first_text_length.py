"""The first text confirms the chosen time and fits one GSM-7 segment for ordinary names."""

from __future__ import annotations

from typing import Any

import pytest

from intake_service.channels.segments import count_segments
from intake_service.domain.templates.message_context import WINDOW_LABELS, sample_context
from intake_service.domain.templates.rendering import render
from intake_service.domain.templates.versions import read_defaults

# Long enough for most people and clinics: "Christopher", "Sunrise Wellness Center".
FIRST_NAME = "Christopher"
CLINIC_NAME = "Sunrise Wellness Center"


def first_text(window: str) -> str:
    (template,) = [
        t for t in read_defaults() if t.key == "patient_first_reply" and t.channel == "sms"
    ]
    context: dict[str, Any] = sample_context("patient_first_reply")
    context["patient"] = {
        "first_name": FIRST_NAME,
        "callback_window": WINDOW_LABELS[window],
        "callback_window_key": window,
    }
    context["clinic"] = {**context["clinic"], "name": CLINIC_NAME}
    return render(template.source, context).body_text


@pytest.mark.parametrize("window", sorted(WINDOW_LABELS))
def test_first_text_is_one_gsm7_segment_for_every_callback_window(window: str) -> None:
    text = first_text(window)

    count = count_segments(text)
    assert (count.encoding, count.segments) == ("GSM-7", 1), (len(text), text)


@pytest.mark.parametrize("window", ["morning", "afternoon", "evening"])
def test_first_text_confirms_the_chosen_time_instead_of_asking(window: str) -> None:
    text = first_text(window)

    assert f"We'll call you in the {window}" in text
    assert "When is a good time" not in text


def test_first_text_keeps_988_and_911_and_the_opt_out() -> None:
    text = first_text("any")

    assert "We'll call you as soon as we can" in text
    for needed in ("988", "911", "Reply STOP"):
        assert needed in text
