"""The first text confirms the chosen time and fits one GSM-7 segment for ordinary names, in
English and in Spanish."""

from __future__ import annotations

from typing import Any

import pytest

from intake_service.channels.segments import GSM7_BASIC, count_segments
from intake_service.domain.templates import labels
from intake_service.domain.templates.message_context import WINDOW_LABELS, sample_context
from intake_service.domain.templates.rendering import render
from intake_service.domain.templates.versions import read_defaults

# Long enough for most people and clinics: "Christopher", "Sunrise Wellness Center".
FIRST_NAME = "Christopher"
CLINIC_NAME = "Sunrise Wellness Center"
LOCALES = ("en", "es")


def first_text(window: str, locale: str = "en") -> str:
    (template,) = [
        t
        for t in read_defaults()
        if (t.key, t.channel, t.locale) == ("patient_first_reply", "sms", locale)
    ]
    context: dict[str, Any] = sample_context("patient_first_reply")
    context["patient"] = {
        "first_name": FIRST_NAME,
        "callback_window": labels.window(window, locale),
        "callback_window_key": window,
    }
    context["clinic"] = {**context["clinic"], "name": CLINIC_NAME}
    return render(template.source, context).body_text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("window", sorted(WINDOW_LABELS))
def test_first_text_is_one_gsm7_segment_for_every_callback_window(window: str, locale: str) -> None:
    text = first_text(window, locale)

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


@pytest.mark.parametrize(
    ("window", "promise"),
    [
        ("morning", "Le llamaremos por la mañana."),
        ("afternoon", "Le llamaremos por la tarde."),
        ("evening", "Le llamaremos por la noche."),
        ("any", "Le llamaremos lo antes posible."),
    ],
)
def test_the_spanish_first_text_confirms_the_chosen_time(window: str, promise: str) -> None:
    text = first_text(window, "es")

    assert text.startswith(f"Hola, {FIRST_NAME}. Somos {CLINIC_NAME}. {promise}")
    # The Lifeline's Spanish line (press 2), 911, and an opt-out carriers honour.
    for needed in ("988 (oprima 2)", "911", "STOP para cancelar"):
        assert needed in text


def test_the_spanish_first_text_uses_no_accent_that_gsm7_lacks() -> None:
    # á, í, ó, ú are not in GSM-7 (é and ñ are): one would make the text UCS-2, three segments.
    for window in WINDOW_LABELS:
        text = first_text(window, "es")
        assert not set("áíóúÁÍÓÚ") & set(text), text
        assert set(text) <= GSM7_BASIC, sorted(set(text) - GSM7_BASIC)
    assert {"é", "ñ", "¿", "¡"} <= GSM7_BASIC
    assert not {"á", "í", "ó", "ú"} & GSM7_BASIC
