"""Template injection in the admin editor: refused at save or rendered inert, never a leak of
Python internals or settings, never a hang or a memory blow-up."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from intake_service.db import Database
from intake_service.domain.templates.message_context import sample_context
from intake_service.domain.templates.rendering import RenderError, TemplateSource, render, validate
from intake_service.domain.templates.versions import InvalidTemplate, save_version

pytestmark = pytest.mark.security

# Reaching Python internals, the app, or the environment.
ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ config }}",
    "{{ config.items() }}",
    "{{ request }}",
    "{{ request.environ }}",
    "{{ session }}",
    "{{ g }}",
    "{{ url_for.__globals__ }}",
    "{{ get_flashed_messages.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ self._TemplateReference__context.environment }}",
    "{{ lead.__class__ }}",
    "{{ lead|attr('__class__') }}",
    "{{ clinic|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
    "{{ clinic['__class__'] }}",
    "{{ ().__class__.__base__.__subclasses__() }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ '{0.__class__}'.format(clinic) }}",
    "{{ '%s'|format(clinic.__class__) }}",
    "{{ range.__self__ }}",
    "{{ dict(a=1).items.__self__.__class__ }}",
    "{% set x = clinic.update({'name': 'pwned'}) %}{{ clinic.name }}",
    "{{ clinic.pop('name') }}",
    "{% import 'os' as os %}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{% from 'x' import y %}",
    "{{ environment }}",
    "{{ context }}",
    "{{ __builtins__ }}",
    "{{ [].__class__.__base__ }}",
    "{{ (1).__class__.__base__ }}",
    "{{ lead.url.__class__.__mro__ }}",
]
# Work without bound: each must be refused (or bounded) quickly.
BOMBS = [
    "{{ 'x' * 1000000000 }}",
    "{{ 'x' * 99999 * 99999 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ (2 ** 100000) }}",
    "{% for i in range(1000000000) %}{% endfor %}",
    "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
    "{% for i in range(1000) %}{% for j in range(1000) %}x{% endfor %}{% endfor %}",
    "{% for a in range(999) %}{% for b in range(999) %}{% for c in range(999) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% set s %}{% for i in range(1000) %}{% for j in range(1000) %}{{ 'y' * 5000 }}"
    "{% endfor %}{% endfor %}{% endset %}{{ s|length }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% macro f() %}{{ f() }}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '%999999999s' % 1 }}",
    "{{ '%*s' % (999999999, 'x') }}",
    "{{ '%.999999999f' % 1 }}",
    "{{ '%999999999s'|format(1) }}",
    "{{ ''|center(999999999) }}",
    "{{ 'x'|indent(999999999) }}",
    "{{ 'x'|wordwrap(1, wrapstring='y' * 100000) }}",
    "{{ 'x'.ljust(999999999) }}",
    "{{ 'x'.zfill(999999999) }}",
    "{{ range(100000)|join(',') }}",
    "{{ range(1000)|join('z' * 100000) }}",
    "{{ ('a' * 20000)|replace('a', 'bbbb') }}",
    "{{ lipsum(100000) }}",
    "{{ (range(1000)|list) * 1000000 }}",
    "{{ [1] * 999999999 }}",
    "{{ 'ab' ~ 'x' * 20000 ~ 'x' * 20000 ~ 'x' * 20000 }}",
    "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
    "{{ " + "[" * 3000 + "]" * 3000 + " }}",
    "x" * 100_000,
    "{% for i in range(1000) %}" * 30 + "{% endfor %}" * 30,
]
# Must render, and harmlessly.
INERT = ["{{ self }}", "{{ lead.name|e }}", "{{ range(3)|list }}", "{{ 'ok'|upper }}"]
LEAKS = ("<class", "__globals__", "os.popen", "SECRET", "environ", "<module", "site-packages")
MAX_SECONDS = 3.0


def source(part: str, text: str) -> TemplateSource:
    parts: dict[str, Any] = {"subject": "Hello", "body_text": "Hi", "body_html": None, part: text}
    return TemplateSource(**parts)


def attempt(text: str, part: str) -> tuple[str, float, str]:
    """('refused' | 'rendered', seconds, output) for `text` in `part` of a team template."""
    started = time.monotonic()
    try:
        rendered = render(source(part, text), sample_context("team_new_lead"))
    except RenderError as error:
        return "refused", time.monotonic() - started, str(error)
    output = "\n".join(p for p in (rendered.subject, rendered.body_text, rendered.body_html) if p)
    return "rendered", time.monotonic() - started, output


@pytest.mark.parametrize("part", ["subject", "body_text", "body_html"])
def test_escapes_are_refused_and_leak_nothing(part: str, tally: Callable[..., Any]) -> None:
    cases = tally("template injection: escapes")
    for text in ESCAPES:
        outcome, seconds, output = attempt(text, part)
        leaked = [word for word in LEAKS if word in output] if outcome == "rendered" else []
        cases.case(
            outcome == "refused" or not leaked,
            f"{part}: {text[:60]!r} -> {outcome} {leaked}",
        )
        cases.case(seconds < MAX_SECONDS, f"{part}: {text[:60]!r} took {seconds:.1f} s")
    cases.check()


@pytest.mark.parametrize("part", ["subject", "body_text", "body_html"])
def test_bombs_are_refused_quickly(part: str, tally: Callable[..., Any]) -> None:
    cases = tally("template injection: size and time bombs")
    for text in BOMBS:
        outcome, seconds, output = attempt(text, part)
        bounded = outcome == "refused" or len(output) <= 200_000
        cases.case(bounded, f"{part}: {text[:60]!r} rendered {len(output)} characters")
        cases.case(seconds < MAX_SECONDS, f"{part}: {text[:60]!r} took {seconds:.1f} s")
    cases.check()


def test_harmless_templates_still_render(tally: Callable[..., Any]) -> None:
    cases = tally("template injection: inert")
    for text in INERT:
        outcome, _, output = attempt(text, "body_text")
        cases.case(outcome == "rendered", f"{text!r} was refused: {output[:80]}")
        cases.case(not any(word in output for word in LEAKS), f"{text!r} leaked {output[:80]}")
    cases.check()


def test_validate_reports_every_escape_and_bomb_as_a_problem(tally: Callable[..., Any]) -> None:
    cases = tally("template injection: validate")
    for text in ESCAPES + BOMBS:
        problems = validate(source("body_text", text), sample_context("team_new_lead"))
        outcome, _, _output = attempt(text, "body_text")
        cases.case(
            bool(problems) or outcome == "rendered",
            f"validate passed {text[:60]!r} but render refused it",
        )
        cases.case(
            not any(word in " ".join(problems) for word in ("SECRET", "site-packages")),
            f"validate's message for {text[:60]!r} leaks",
        )
    cases.check()


def test_admin_save_refuses_injections(db: Database, tally: Callable[..., Any]) -> None:
    cases = tally("template injection: save")
    with db.session() as session:
        for text in ESCAPES[:12] + BOMBS[:12]:
            try:
                save_version(session, "team_new_lead", "email", source("body_text", text), "admin")
            except InvalidTemplate:
                cases.case(True, text)
            else:
                _outcome, _, output = attempt(text, "body_text")
                cases.case(
                    not any(word in output for word in LEAKS),
                    f"saved {text[:60]!r}, which renders {output[:60]!r}",
                )
        session.rollback()
    cases.check()
