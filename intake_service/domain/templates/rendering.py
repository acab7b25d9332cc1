"""Render message templates in Jinja2's sandbox with StrictUndefined.

Templates are data that admins edit: the sandbox keeps them away from Python internals, and
StrictUndefined makes a misspelt variable an error when the template is saved, not a blank in a
patient's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes

from intake_service.domain.templates.sandbox import BoundedSandbox, render_bounded

# The sandbox is also bounded in size and time (see sandbox.py): a template is data an admin
# edits, and must not be able to stall a worker.
_text_env = BoundedSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_html_env = BoundedSandbox(undefined=StrictUndefined, autoescape=True)


class RenderError(ValueError):
    """A template that cannot be rendered (syntax, unknown variable, forbidden access)."""


@dataclass(frozen=True)
class TemplateSource:
    subject: str | None
    body_text: str
    body_html: str | None


@dataclass(frozen=True)
class Rendered:
    subject: str | None
    body_text: str
    body_html: str | None


class Prepared:
    """A template source compiled once, to be rendered with many contexts (save-time checks)."""

    def __init__(self, source: TemplateSource) -> None:
        """Compile every part; raises RenderError for a syntax error or a refused construct."""
        self._source = source
        try:
            for environment, part in self._parts():
                environment.compiled(part)  # cached: sends and checks compile each text once
        # A syntax error, a refused construct, or nesting deep enough to exhaust the parser's
        # recursion: each is the template's fault, reported as an error in it.
        except (TemplateError, RecursionError, MemoryError, SyntaxError) as error:
            raise RenderError(f"{type(error).__name__}: {error}") from None

    def _parts(self) -> list[tuple[BoundedSandbox, str]]:
        source = self._source
        parts = [(_text_env, source.subject or ""), (_text_env, source.body_text)]
        return [*parts, (_html_env, source.body_html or "")]

    def render(self, context: dict[str, Any]) -> Rendered:
        """Render every part; raises RenderError."""
        try:
            source = self._source
            subject = render_bounded(_text_env, source.subject, context) if source.subject else None
            text = render_bounded(_text_env, source.body_text, context)
            html = (
                render_bounded(_html_env, source.body_html, context) if source.body_html else None
            )
        # A template's own arithmetic, filters or comparisons can raise anything (None + 1,
        # int("x")): each is the template's fault, and must stop this message, not the worker.
        except Exception as error:
            raise RenderError(f"{type(error).__name__}: {error}") from None
        # A subject is one line: a newline from a variable would break the header.
        subject = " ".join(subject.split()) if subject is not None else None
        # No trailing newline: in a text it is one more billed character.
        return Rendered(subject=subject, body_text=text.strip(), body_html=html)


def _render_part(
    environment: BoundedSandbox, part: str | None, context: dict[str, Any]
) -> str | None:
    return render_bounded(environment, part, context) if part else None


def render(source: TemplateSource, context: dict[str, Any]) -> Rendered:
    """Render every part of a template; raises RenderError."""
    return Prepared(source).render(context)


def parse(text: str) -> nodes.Template:
    """The syntax tree of one part, as the sandbox reads it; raises TemplateSyntaxError."""
    return _text_env.parse(text)


def validate(source: TemplateSource, sample_context: dict[str, Any]) -> list[str]:
    """Problems that would stop `source` from rendering; empty when it is fine."""
    try:
        render(source, sample_context)
    except RenderError as error:
        return [str(error)]
    return []
