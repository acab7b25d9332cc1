"""Render message templates in Jinja2's sandbox with StrictUndefined.

Templates are data that admins edit: the sandbox keeps them away from Python internals, and
StrictUndefined makes a misspelt variable an error when the template is saved, not a blank in a
patient's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined

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


def render(source: TemplateSource, context: dict[str, Any]) -> Rendered:
    """Render every part of a template; raises RenderError."""
    try:
        subject = render_bounded(_text_env, source.subject, context) if source.subject else None
        text = render_bounded(_text_env, source.body_text, context)
        html = render_bounded(_html_env, source.body_html, context) if source.body_html else None
    except Exception as error:
        # A template is data: whatever it raises (a sandbox refusal, 1/0, runaway recursion)
        # is the template's fault, answered as an error in it, never a crash of the caller.
        raise RenderError(f"{type(error).__name__}: {error}") from None
    # A subject is one line: a newline from a variable would break the header.
    subject = " ".join(subject.split()) if subject is not None else None
    # No trailing newline: in a text it is one more billed character.
    return Rendered(subject=subject, body_text=text.strip(), body_html=html)


def validate(source: TemplateSource, sample_context: dict[str, Any]) -> list[str]:
    """Problems that would stop `source` from rendering; empty when it is fine."""
    try:
        render(source, sample_context)
    except RenderError as error:
        return [str(error)]
    return []
