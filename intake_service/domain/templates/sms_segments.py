"""How a text is billed: its encoding, segment count and characters, as the carrier counts them.

A stand-in for `channels/segments.py` (being written in parallel) with the same job, so the
editor can count today; when that module lands, the editor imports it instead and this one
goes. The rules (GSM 03.38 and 3GPP 23.040):
- GSM-7 packs 160 characters into one segment; a concatenated text holds 153 per segment
  (the rest is the header that joins them). Characters of the extension table ({, }, [, ], ~,
  \\, |, ^, €, form feed) take two septets, and a pair is never split across segments.
- One character outside GSM-7 (a curly quote, an emoji, most accented capitals) switches the
  whole text to UCS-2: 70 UTF-16 units alone, 67 per segment when concatenated; an emoji takes
  two units, and a surrogate pair is never split either.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# What a careful writer meant by the characters that most often force UCS-2 by accident.
GSM7_SUGGESTIONS = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\u2026": "...",
    "\u00a0": " ",
}


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" | "UCS-2"
    segments: int
    characters: int  # as a person counts them (code points)
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2) billed
    per_segment: int  # capacity of each segment at this length
    forcing: tuple[str, ...]  # the characters that made it UCS-2, in order of appearance


def _gsm_cost(char: str) -> int | None:
    if char in GSM7_BASIC:
        return 1
    if char in GSM7_EXTENSION:
        return 2
    return None


def _pack(costs: list[int], single: int, part: int) -> tuple[int, int]:
    """Segments and per-segment capacity; an indivisible unit never straddles two segments."""
    total = sum(costs)
    if total == 0:
        return 0, single
    if total <= single:
        return 1, single
    segments, used = 1, 0
    for cost in costs:
        if used + cost > part:
            segments += 1
            used = 0
        used += cost
    return segments, part


def segments(text: str) -> SegmentCount:
    """Encoding, segment count and characters of `text` exactly as it would be sent."""
    gsm = [_gsm_cost(char) for char in text]
    if all(cost is not None for cost in gsm):
        costs = [cost for cost in gsm if cost is not None]
        count, per = _pack(costs, GSM7_SINGLE, GSM7_PART)
        return SegmentCount("GSM-7", count, len(text), sum(costs), per, ())
    forcing: list[str] = []
    for char, cost in zip(text, gsm, strict=True):
        if cost is None and char not in forcing:
            forcing.append(char)
    costs = [2 if ord(char) > 0xFFFF else 1 for char in text]
    count, per = _pack(costs, UCS2_SINGLE, UCS2_PART)
    return SegmentCount("UCS-2", count, len(text), sum(costs), per, tuple(forcing))
