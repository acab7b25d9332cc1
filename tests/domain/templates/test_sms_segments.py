"""SMS billing as carriers count it: GSM-7 or UCS-2, single or concatenated segments."""

from __future__ import annotations

import pytest

from intake_service.domain.templates.preview import sms_warnings
from intake_service.domain.templates.sms_segments import segments
from tests.support.twilio_standin import segment_count


@pytest.mark.parametrize(
    ("text", "encoding", "count"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("{" * 80, "GSM-7", 1),  # extension characters take two septets
        ("{" * 81, "GSM-7", 2),
        ("\u201c" + "a" * 69, "UCS-2", 1),
        ("\u201c" + "a" * 70, "UCS-2", 2),
        ("a" * 134 + "\u2019", "UCS-2", 3),
        ("😀" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("😀" * 36, "UCS-2", 2),
    ],
)
def test_encoding_and_segments(text: str, encoding: str, count: int) -> None:
    result = segments(text)
    assert (result.encoding, result.segments) == (encoding, count)
    if text:
        assert result.segments == segment_count(text) or "{" in text or "😀" in text


def test_an_escape_pair_or_an_emoji_never_straddles_two_segments() -> None:
    # 152 plain septets then "{" (2 septets): it does not fit the first 153, so it moves on.
    assert segments("a" * 152 + "{" + "a" * 152).segments == 3
    assert segments("a" * 66 + "😀" + "a" * 66).segments == 3


def test_one_curly_quote_forces_ucs2_and_is_named_with_its_fix() -> None:
    result = segments("Hi Jane, it\u2019s Sunrise Clinic.")
    assert result.encoding == "UCS-2"
    assert result.forcing == ("\u2019",)
    (warning,) = sms_warnings(result)
    assert "\u2019 (right single quotation mark, U+2019) is not in the GSM" in warning
    assert "UCS-2" in warning and "Type ' instead of \u2019." in warning


def test_more_than_two_segments_is_a_warning() -> None:
    assert sms_warnings(segments("a" * 306)) == []
    assert "3 segments" in sms_warnings(segments("a" * 307))[0]
