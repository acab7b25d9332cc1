"""SMS length: the encoding a text needs and how many segments (billed units) it takes.

A text made only of GSM 03.38 characters goes as GSM-7: 160 septets in one segment. One
character outside that alphabet (a curly quote, an accented capital, an emoji) switches the
whole text to UCS-2: 70 UTF-16 code units. A longer text is concatenated, and each segment
gives 6 bytes to the header that stitches it back together, leaving 153 septets or 67 code
units. Carriers bill every segment, so a template's length is a cost the admin should see.

Two characters are indivisible across a segment boundary, as Twilio counts them: a GSM-7
extension character (ESC plus its code, two septets) and a character outside the Basic
Multilingual Plane (a UTF-16 surrogate pair, two code units). When one would straddle the
boundary it moves whole to the next segment, which can cost a segment the plain division
would not.

Not modelled: Twilio's optional Smart Encoding (it rewrites curly quotes and similar to GSM-7
before counting, only in Messaging Services that enable it) and the one fewer character per
segment that toll-free senders to the US and Canada get (152 and 66).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet, each character one septet. (ESC, 0x1B, is not a character.)
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§abcdefghijklmnopqrstuvwxyzäöñüà¿"
)
# The extension table reached through ESC: each costs two septets. \f is its page break.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# (one segment alone, each segment of a concatenated text), in the encoding's units.
LIMITS: dict[Encoding, tuple[int, int]] = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


class SegmentCount(NamedTuple):
    encoding: Encoding
    segments: int
    # The length in the encoding's units: septets for GSM-7 (an extension character is 2),
    # UTF-16 code units for UCS-2 (an emoji or other astral character is 2).
    characters: int


def encoding_of(text: str) -> Encoding:
    """GSM-7 when every character is in the GSM 03.38 alphabet or its extension, else UCS-2."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        return "GSM-7"
    return "UCS-2"


def _units(character: str, encoding: Encoding) -> int:
    if encoding == "GSM-7":
        return 2 if character in GSM7_EXTENSION else 1
    return 2 if ord(character) > 0xFFFF else 1


def split_segments(text: str) -> list[str]:
    """The text as it is cut into segments: what each part of a concatenated SMS carries.

    An empty text is one empty segment, as Twilio's segment calculator shows it.
    """
    encoding = encoding_of(text)
    single, multi = LIMITS[encoding]
    if sum(_units(c, encoding) for c in text) <= single:
        return [text]
    parts: list[str] = []
    start, used = 0, 0
    for index, character in enumerate(text):
        size = _units(character, encoding)
        # An escape pair or a surrogate pair that does not fit moves whole to the next part.
        if used + size > multi:
            parts.append(text[start:index])
            start, used = index, 0
        used += size
    parts.append(text[start:])
    return parts


def count_segments(text: str) -> SegmentCount:
    """The encoding, the number of segments billed, and the length in the encoding's units."""
    encoding = encoding_of(text)
    characters = sum(_units(c, encoding) for c in text)
    single, _ = LIMITS[encoding]
    segments = 1 if characters <= single else len(split_segments(text))
    return SegmentCount(encoding, segments, characters)
