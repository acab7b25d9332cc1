"""SMS segment counting against Twilio's documented examples, and its rules as properties."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from intake_service.channels.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    LIMITS,
    count_segments,
    encoding_of,
    split_segments,
)

CURLY_QUOTE = "\u2019"
EMOJI = "\U0001f61c"  # 😜: outside the BMP, two UTF-16 code units

# --- Twilio's documented examples ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a" * 160, ("GSM-7", 1, 160)),  # "a single SMS: 160 GSM-7 characters"
        ("a" * 161, ("GSM-7", 2, 161)),  # "161 characters go as 153 + 8"
        ("a" * 306, ("GSM-7", 2, 306)),  # two full concatenated segments
        ("a" * 307, ("GSM-7", 3, 307)),
        ("\u00e9" * 161, ("GSM-7", 2, 161)),  # é is in the GSM-7 alphabet...
        ("\u00c1" * 70, ("UCS-2", 1, 70)),  # ...Á is not: "70 UCS-2 characters in one"
        ("\u00c1" * 71, ("UCS-2", 2, 71)),  # "split into 67-character segments"
        ("\u00c1" * 134, ("UCS-2", 2, 134)),
        ("\u00c1" * 135, ("UCS-2", 3, 135)),
        ("\u20ac", ("GSM-7", 1, 2)),  # € is in the extension table: two septets
        ("\u20ac" * 80, ("GSM-7", 1, 160)),
        ("\u20ac" * 81, ("GSM-7", 2, 162)),  # 76 pairs fill 152 of a part's 153 septets
        ("\u20ac" * 153, ("GSM-7", 3, 306)),  # so 306 septets of them take three parts
        ("", ("GSM-7", 1, 0)),
    ],
)
def test_documented_lengths(text: str, expected: tuple[str, int, int]) -> None:
    assert tuple(count_segments(text)) == expected


def test_one_curly_quote_switches_the_whole_text_to_ucs2() -> None:
    straight = "It's " + "a" * 150
    curly = straight.replace("'", CURLY_QUOTE)

    assert count_segments(straight) == ("GSM-7", 1, 155)
    assert count_segments(curly) == ("UCS-2", 3, 155)


def test_calculator_examples_with_an_escape_character() -> None:
    # From Twilio's message-segment-calculator test data: "{" and 158 more fill 160 septets.
    body = "{" + ("2345678901" * 16)[:158]
    assert count_segments(body) == ("GSM-7", 1, 160)
    assert count_segments(body + "6") == ("GSM-7", 2, 161)


def test_calculator_examples_with_an_emoji() -> None:
    body = EMOJI + ("2345678901" * 7)[:68]
    assert count_segments(body) == ("UCS-2", 1, 70)
    assert count_segments(body + "0") == ("UCS-2", 2, 71)


def test_an_escape_pair_is_never_cut_across_two_segments() -> None:
    # 152 septets leave one free in the first part: the euro's two move to the second one.
    text = "a" * 152 + "\u20ac" + "a" * 152  # 306 septets: two segments by plain division

    parts = split_segments(text)

    assert [len(p) for p in parts] == [152, 152, 1]
    assert parts[1].startswith("\u20ac")
    assert count_segments(text) == ("GSM-7", 3, 306)


def test_a_surrogate_pair_is_never_cut_across_two_segments() -> None:
    text = CURLY_QUOTE + "a" * 65 + EMOJI + "a" * 66  # 134 code units: 2 by plain division

    parts = split_segments(text)

    assert parts[1].startswith(EMOJI)
    assert count_segments(text) == ("UCS-2", 3, 134)


def test_extension_characters_cost_one_unit_in_ucs2() -> None:
    # In UCS-2 every BMP character is one code unit, braces and euro included.
    assert count_segments(CURLY_QUOTE + "{}[]~|^\\\u20ac") == ("UCS-2", 1, 10)


@pytest.mark.parametrize("character", ["`", "\u00e7", "\u00c1", "\t", "\u00a0", "\u2014", EMOJI])
def test_characters_outside_gsm7_need_ucs2(character: str) -> None:
    assert encoding_of("Hi " + character) == "UCS-2"


@pytest.mark.parametrize("character", ["@", "\u00a3", "\u00e9", "\u00c7", "\u03a9", "\n", "\r"])
def test_characters_of_the_gsm7_alphabet_stay_gsm7(character: str) -> None:
    assert count_segments("Hi " + character) == ("GSM-7", 1, 4)


# --- properties ----------------------------------------------------------------------------

GSM_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)
GSM_BASIC_TEXT = st.text(alphabet=sorted(GSM7_BASIC), max_size=700)
ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]),  # lone surrogates cannot be sent
    max_size=400,
)
MIXED_TEXT = st.lists(
    st.sampled_from(["a", "\u20ac", "{", CURLY_QUOTE, EMOJI, "\u00e9", " "]), max_size=500
).map("".join)


# No per-example deadline: the machine running the suite may be busy, and nothing here is slow.
quick = settings(deadline=None)


def units(text: str, encoding: str) -> int:
    """The text's length in `encoding`, counted independently of the module under test."""
    if encoding == "GSM-7":
        return sum(2 if c in GSM7_EXTENSION else 1 for c in text)
    return len(text.encode("utf-16-le")) // 2


@quick
@given(ANY_TEXT | GSM_TEXT | MIXED_TEXT)
@example("a" * 152 + "\u20ac" * 2)
def test_split_keeps_every_character_within_the_segment_size(text: str) -> None:
    result = count_segments(text)
    parts = split_segments(text)
    single, multi = LIMITS[result.encoding]

    assert "".join(parts) == text
    assert result.segments == len(parts)
    assert units(text, result.encoding) == result.characters
    if len(parts) == 1:
        assert result.characters <= single
    else:
        assert result.characters > single
        assert all(0 < units(p, result.encoding) <= multi for p in parts)
        # Greedy: a part ends only where its next character would not fit.
        for part, following in itertools.pairwise(parts):
            assert units(part, result.encoding) + units(following[0], result.encoding) > multi


@quick
@given(GSM_TEXT | ANY_TEXT | MIXED_TEXT)
def test_encoding_is_gsm7_exactly_when_every_character_is_in_its_alphabet(text: str) -> None:
    in_alphabet = set(text) <= GSM7_BASIC | GSM7_EXTENSION
    assert count_segments(text).encoding == ("GSM-7" if in_alphabet else "UCS-2")


@quick
@given(GSM_BASIC_TEXT)
def test_basic_gsm7_text_takes_the_plain_division(text: str) -> None:
    n = len(text)
    assert count_segments(text) == ("GSM-7", 1 if n <= 160 else math.ceil(n / 153), n)


@quick
@given(st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"])))
def test_bmp_ucs2_text_takes_the_plain_division(text: str) -> None:
    if encoding_of(text) == "GSM-7":
        text += CURLY_QUOTE
    n = len(text)
    assert count_segments(text) == ("UCS-2", 1 if n <= 70 else math.ceil(n / 67), n)


@quick
@given(ANY_TEXT | MIXED_TEXT)
def test_ucs2_counts_utf16_code_units(text: str) -> None:
    if encoding_of(text) == "UCS-2":
        assert count_segments(text).characters == units(text, "UCS-2")


@quick
@given(MIXED_TEXT | GSM_TEXT, st.sampled_from(["a", "\u20ac", EMOJI, CURLY_QUOTE]))
def test_a_longer_text_never_takes_fewer_segments(text: str, more: str) -> None:
    before, after = count_segments(text), count_segments(text + more)
    if before.encoding == after.encoding:
        assert after.segments >= before.segments
    # A pair moved whole wastes at most one unit per segment.
    per_segment = LIMITS[after.encoding][1]
    if after.segments > 1:
        lower = math.ceil(after.characters / per_segment)
        assert lower <= after.segments <= math.ceil(after.characters / (per_segment - 1))
