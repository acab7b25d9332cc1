"""Render message templates in Jinja2's sandbox with StrictUndefined.

Templates are data that admins edit: the sandbox keeps them away from Python internals, and
StrictUndefined makes a misspelt variable an error when the template is saved, not a blank in a
patient's text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateError, nodes
from jinja2.sandbox import SandboxedEnvironment

_text_env = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


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
        try:
            self._subject = _text_env.from_string(source.subject) if source.subject else None
            self._text = _text_env.from_string(source.body_text)
            self._html = _html_env.from_string(source.body_html) if source.body_html else None
        except TemplateError as error:
            raise RenderError(f"{type(error).__name__}: {error}") from None

    def render(self, context: dict[str, Any]) -> Rendered:
        """Render every part; raises RenderError."""
        try:
            subject = self._subject.render(context) if self._subject else None
            text = self._text.render(context)
            html = self._html.render(context) if self._html else None
        # A template's own arithmetic, filters or comparisons can raise anything (None + 1,
        # int("x")): each is the template's fault, and must stop this message, not the worker.
        except Exception as error:
            raise RenderError(f"{type(error).__name__}: {error}") from None
        # A subject is one line: a newline from a variable would break the header.
        subject = " ".join(subject.split()) if subject is not None else None
        # No trailing newline: in a text it is one more billed character.
        return Rendered(subject=subject, body_text=text.strip(), body_html=html)


@functools.lru_cache(maxsize=256)
def _prepared(source: TemplateSource) -> Prepared:
    """The compiled source: compiling costs milliseconds per part, rendering microseconds.

    Keyed by the text itself, so an edited template is a new entry; compiled Jinja templates
    are safe to render from many threads. A source that fails to compile raises, uncached.
    """
    return Prepared(source)


def render(source: TemplateSource, context: dict[str, Any]) -> Rendered:
    """Render every part of a template; raises RenderError."""
    return _prepared(source).render(context)


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
