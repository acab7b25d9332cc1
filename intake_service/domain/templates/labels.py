"""The words a patient's message puts in for a stored choice, in the language of the message.

English words are rules.py's labels; another language's come from the catalogue the public
pages use (translations/<locale>), so the form and the message name a choice the same way.
"""

from __future__ import annotations

from functools import cache

from babel.support import NullTranslations, Translations

from intake_service.domain.intake.rules import (
    CALLBACK_WINDOW_LABELS,
    DEFAULT_LOCALE,
    TREATMENT_LABELS,
)
from intake_service.paths import translations_root


@cache
def _catalogue(locale: str) -> NullTranslations:
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(translations_root()), [locale])


def translate(text: str, locale: str) -> str:
    """`text` (an English label) in `locale`; the English itself where the catalogue has none."""
    return _catalogue(locale).gettext(text)


def window(key: str, locale: str = DEFAULT_LOCALE) -> str:
    """The callback window inside a sentence, in lower case: "evening", "por la noche"."""
    return translate(CALLBACK_WINDOW_LABELS[key], locale).lower()


def treatment(key: str, locale: str = DEFAULT_LOCALE) -> str:
    """The treatment's name as the form shows it: "IV ketamine", "Ketamina intravenosa"."""
    return translate(TREATMENT_LABELS[key], locale)
