"""How long a text template renders: each segment is billed, and a text over two reads as spam.

Counted on the template rendered with its audience's sample values (the same ones every
template is checked against before it is saved), so a long clinic name can add a little.
"""

from __future__ import annotations

from intake_service.channels.segments import Segments, segments
from intake_service.domain.templates.message_context import sample_context
from intake_service.domain.templates.rendering import RenderError, TemplateSource, render

MAX_SEGMENTS = 2


def sample_length(key: str, source: TemplateSource) -> Segments | None:
    """The segments a text template renders to with sample values; None if it cannot render."""
    try:
        rendered = render(source, sample_context(key))
    except RenderError:
        return None
    return segments(rendered.body_text)


def warning(key: str, source: TemplateSource) -> str | None:
    """A sentence for the admin when the text template is over MAX_SEGMENTS, else None."""
    counted = sample_length(key, source)
    if counted is None or counted.count <= MAX_SEGMENTS:
        return None
    return (
        f"text template {key} is {counted.count} segments ({counted.encoding}, "
        f"{counted.units} units with sample values); keep texts to {MAX_SEGMENTS}"
    )
