"""The editor's view of a text: channels/segments.py's count, the characters forcing UCS-2, and
the warnings an admin sees."""

from __future__ import annotations

import pytest

from intake_service.channels.segments import count_segments
from intake_service.domain.templates.preview import sms_view


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "per_segment"),
    [
        ("a" * 160, "GSM-7", 1, 160),
        ("a" * 161, "GSM-7", 2, 153),
        ("a" * 307, "GSM-7", 3, 153),
        ("\u201c" + "a" * 69, "UCS-2", 1, 70),
        ("\u201c" + "a" * 70, "UCS-2", 2, 67),
        ("a" * 152 + "{" + "a" * 152, "GSM-7", 3, 153),  # an escape pair never straddles
    ],
)
def test_the_editor_counts_as_the_channel_does(
    text: str, encoding: str, segments: int, per_segment: int
) -> None:
    view = sms_view(text)
    assert (view.encoding, view.segments, view.per_segment) == (encoding, segments, per_segment)
    assert (view.encoding, view.segments) == tuple(count_segments(text)[:2])
    assert view.characters == len(text)


def test_one_curly_quote_forces_ucs2_and_is_named_with_its_fix() -> None:
    view = sms_view("Hi Jane, it\u2019s Sunrise Clinic. \u2019")
    assert view.encoding == "UCS-2"
    assert view.forcing == ("\u2019",)
    (warning,) = view.warnings
    assert "\u2019 (right single quotation mark, U+2019) is not in the GSM" in warning
    assert "UCS-2" in warning and "Type ' instead of \u2019." in warning


def test_an_emoji_is_named_without_a_suggestion() -> None:
    (warning,) = sms_view("Hi \U0001f600").warnings
    assert "grinning face" in warning and "Type" not in warning


def test_more_than_two_segments_is_a_warning() -> None:
    assert sms_view("a" * 306).warnings == []
    assert "3 segments" in sms_view("a" * 307).warnings[0]
