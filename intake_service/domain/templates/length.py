"""How long a text template renders: each segment is billed, and a text over two reads as spam.

Counted on the template rendered with every sample lead (the ones each template is checked
against before it is saved), and the longest kept, so a long treatment name is not missed.
"""

from __future__ import annotations

from intake_service.channels.segments import SegmentCount, count_segments
from intake_service.domain.intake.rules import DEFAULT_LOCALE
from intake_service.domain.templates.checks import SAMPLE_CLINIC
from intake_service.domain.templates.preview import MAX_GOOD_SEGMENTS
from intake_service.domain.templates.rendering import RenderError, TemplateSource, render
from intake_service.domain.templates.samples import every_choice, sample_context


def sample_length(
    key: str, source: TemplateSource, locale: str = DEFAULT_LOCALE
) -> SegmentCount | None:
    """The longest the text template renders to with the sample leads; None if it cannot."""
    longest: SegmentCount | None = None
    for choice in every_choice():
        try:
            rendered = render(source, sample_context(key, choice, SAMPLE_CLINIC, locale=locale))
        except RenderError:
            return None
        counted = count_segments(rendered.body_text)
        if longest is None or counted.characters > longest.characters:
            longest = counted
    return longest


def warning(key: str, source: TemplateSource, locale: str = DEFAULT_LOCALE) -> str | None:
    """A sentence for the admin when the text template is over two segments, else None."""
    counted = sample_length(key, source, locale)
    if counted is None or counted.segments <= MAX_GOOD_SEGMENTS:
        return None
    named = key if locale == DEFAULT_LOCALE else f"{key} ({locale})"
    return (
        f"text template {named} is {counted.segments} segments ({counted.encoding}, "
        f"{counted.characters} units with sample values); keep texts to {MAX_GOOD_SEGMENTS}"
    )
