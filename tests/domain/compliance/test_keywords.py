"""The keyword matrix: every opt-out, opt-in and help word, in English and Spanish, in any case,
with spaces and punctuation around it; and sentences that merely contain one, which are not."""

from __future__ import annotations

import pytest

from intake_service.domain.compliance.keywords import ENGLISH, SPANISH, Keyword, classify

WORDS = [
    (word, kind, language)
    for language, table in (("en", ENGLISH), ("es", SPANISH))
    for kind, words in table.items()
    for word in words
]
# How people (and phones) type a word: cases, and what autocorrect and fingers add around it.
CASINGS = [str.upper, str.lower, str.title]
WRAPPINGS = [
    "{}",
    " {} ",
    "{}.",
    "{}!",
    "¡{}!",
    "{}?",
    '"{}"',
    "({})",
    "{}\n",
    "\t{} 🛑",
    "...{}!!",
]


@pytest.mark.parametrize(("word", "kind", "language"), WORDS)
@pytest.mark.parametrize("casing", CASINGS, ids=["upper", "lower", "title"])
@pytest.mark.parametrize("wrapping", WRAPPINGS)
def test_each_keyword_in_any_case_with_spaces_and_punctuation_is_recognised(
    word: str, kind: Keyword, language: str, casing: object, wrapping: str
) -> None:
    body = wrapping.format(casing(word))  # type: ignore[operator]

    match = classify(body)

    assert match is not None, repr(body)
    assert (match.kind, match.word, match.language) == (kind, word, language)


def test_the_lists_hold_every_word_domain_md_names() -> None:
    assert set(ENGLISH[Keyword.OPT_OUT]) == {
        "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
    }  # fmt: skip
    assert set(ENGLISH[Keyword.OPT_IN]) == {"START", "UNSTOP", "YES"}
    assert set(ENGLISH[Keyword.HELP]) == {"HELP", "INFO"}
    assert set(SPANISH[Keyword.OPT_OUT]) == {"ALTO", "PARAR", "CANCELAR"}
    assert set(SPANISH[Keyword.HELP]) == {"AYUDA"}


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ("opt out", "OPTOUT"),
        ("Opt-Out", "OPTOUT"),
        ("stop all", "STOPALL"),
        ("\uff33\uff34\uff2f\uff30", "STOP"),  # full-width letters, as some keyboards send them
        ("\u200bSTOP", "STOP"),  # a zero-width space pasted in front
    ],
)
def test_keywords_as_phones_and_people_split_or_disguise_them(body: str, word: str) -> None:
    match = classify(body)

    assert match is not None and match.word == word


@pytest.mark.parametrize(
    "body",
    [
        "please don't stop calling me",
        "Stop by the clinic tomorrow?",
        "I want to start treatment",
        "yes please call me",
        "Can you help me find the address",
        "no quiero parar el tratamiento",
        "alto riesgo",
        "stop stop",
        "S T O P",
        "STOPP",
        "unsubscribed",
        "",
        "   ",
        "🛑",
    ],
)
def test_sentences_and_near_misses_are_not_keywords(body: str) -> None:
    assert classify(body) is None
