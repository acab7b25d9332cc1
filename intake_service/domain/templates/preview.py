"""Previews: a draft rendered for a sample lead exactly as it would be sent, with what it costs.

The renderer is the one delivery uses (rendering.Prepared), so what the admin sees is what a
patient would get; the SMS is counted after the variables are filled in, because that is what
the carrier bills.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field

from intake_service.channels import kind
from intake_service.channels.segments import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    LIMITS,
    count_segments,
)
from intake_service.domain.intake.rules import DEFAULT_LOCALE
from intake_service.domain.templates import checks
from intake_service.domain.templates.rendering import Prepared, RenderError, TemplateSource
from intake_service.domain.templates.samples import (
    TEAM_EXTRAS,
    InvalidSample,
    SampleChoice,
    sample_context,
    with_overrides,
)

MAX_GOOD_SEGMENTS = 2
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
# The preview frame runs nothing and fetches nothing: sandboxed without scripts, and this
# policy inside the document on top of the page's own.
FRAME_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
_HTML = re.compile(r"<html\b[^>]*>", re.IGNORECASE)
_DOCTYPE = re.compile(r"<!doctype\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True)
class SmsView:
    """A rendered text as the carrier bills it (channels/segments.py counts it)."""

    text: str
    encoding: str  # "GSM-7" | "UCS-2"
    segments: int
    characters: int  # as a person counts them
    per_segment: int  # what each segment holds at this length
    forcing: tuple[str, ...]  # the characters that made it UCS-2, in order of appearance
    warnings: list[str]


def sms_view(text: str) -> SmsView:
    count = count_segments(text)
    single, multi = LIMITS[count.encoding]
    forcing = tuple(
        dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION)
    )
    return SmsView(
        text,
        count.encoding,
        count.segments,
        len(text),
        single if count.segments <= 1 else multi,
        forcing,
        sms_warnings(count.encoding, count.segments, forcing),
    )


@dataclass(frozen=True)
class Preview:
    channel: str
    sample_json: str  # the full sample the draft was rendered with, for the JSON editor
    problems: list[checks.Problem] = field(default_factory=list)  # would refuse a save
    error: str | None = None  # the draft did not render for this sample
    subject: str | None = None
    body_text: str | None = None
    frame_html: str | None = None  # the HTML part, ready for an iframe's srcdoc
    sms: SmsView | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.error is None


def framed(html: str) -> str:
    """`html` with a Content-Security-Policy meta tag as early in its head as it can go."""
    meta = f'<meta http-equiv="Content-Security-Policy" content="{FRAME_POLICY}">'
    for pattern in (_HEAD, _HTML, _DOCTYPE):
        match = pattern.search(html)
        if match:
            return html[: match.end()] + meta + html[match.end() :]
    return meta + html


def _named(char: str) -> str:
    name = unicodedata.name(char, "").lower()
    return f"{char} ({name}, U+{ord(char):04X})" if name else f"U+{ord(char):04X}"


def sms_warnings(encoding: str, segments: int, forcing: tuple[str, ...]) -> list[str]:
    warnings = []
    if encoding == "UCS-2":
        shown = ", ".join(_named(char) for char in forcing[:5])
        swaps = [
            f"{GSM7_SUGGESTIONS[char]} instead of {char}"
            for char in forcing
            if char in GSM7_SUGGESTIONS
        ]
        advice = f" Type {', '.join(swaps)}." if swaps else ""
        warnings.append(
            f"{shown} {'is' if len(forcing) == 1 else 'are'} not in the GSM alphabet, so "
            f"the whole text goes as UCS-2: 70 characters a segment instead of 160.{advice}"
        )
    if segments > MAX_GOOD_SEGMENTS:
        warnings.append(
            f"This text takes {segments} segments, each billed; keep it to "
            f"{MAX_GOOD_SEGMENTS} or fewer."
        )
    return warnings


def preview(
    template_key: str,
    channel: str,
    source: TemplateSource,
    choice: SampleChoice,
    clinic: dict[str, str],
    edited_json: str = "",
    base_url: str = "http://127.0.0.1:5000",
    carries: frozenset[str] = TEAM_EXTRAS,
    locale: str = DEFAULT_LOCALE,
) -> Preview:
    """The draft rendered for the sample lead, with anything that would refuse its save.

    `locale` is the template's language: a Spanish template's sample names choices in Spanish.
    """
    context = sample_context(template_key, choice, clinic, base_url, carries, locale)
    try:
        context = with_overrides(context, edited_json)
    except InvalidSample as error:
        return Preview(channel, json.dumps(context, indent=2), error=f"Sample: {error}")
    sample_json = json.dumps(context, indent=2, ensure_ascii=False)
    odd = checks.check_context_fields(template_key, context)
    if odd:
        return Preview(channel, sample_json, error=f"Sample: {odd[0]}")
    problems = checks.problems(template_key, channel, source, clinic)
    try:
        rendered = Prepared(source).render(context)
    except RenderError as error:
        return Preview(channel, sample_json, problems, error=str(error))
    if kind(channel).billed_by_segments:
        return Preview(
            channel,
            sample_json,
            problems,
            body_text=rendered.body_text,
            sms=sms_view(rendered.body_text),
        )
    return Preview(
        channel,
        sample_json,
        problems,
        subject=rendered.subject,
        body_text=rendered.body_text,
        frame_html=framed(rendered.body_html) if rendered.body_html else None,
    )
