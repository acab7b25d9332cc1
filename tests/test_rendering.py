"""Rendering admin-edited templates: sandboxed, strict about variables, escaping HTML only."""

from __future__ import annotations

from typing import Any

import pytest

from intake_service.domain.templates.rendering import RenderError, TemplateSource, render, validate

CONTEXT: dict[str, Any] = {
    "patient": {"first_name": "Jane"},
    "clinic": {"name": "Sunrise Clinic"},
}


def text(body: str, subject: str | None = None, html: str | None = None) -> TemplateSource:
    return TemplateSource(subject=subject, body_text=body, body_html=html)


ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ patient.__class__.__base__ }}",
    "{{ ''.format.__self__ }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
]


@pytest.mark.parametrize("expression", ESCAPES)
@pytest.mark.parametrize("part", ["subject", "body_text", "body_html"])
def test_sandbox_blocks_reaching_python_internals_in_every_part(expression: str, part: str) -> None:
    parts: dict[str, Any] = {"subject": "Hello", "body_text": "Hi", "body_html": None}
    parts[part] = expression

    with pytest.raises(RenderError):
        render(TemplateSource(**parts), CONTEXT)


def test_sandbox_refuses_calling_unsafe_string_formatting() -> None:
    # str.format would otherwise walk attributes the sandbox forbids.
    source = text("{{ '{0.__class__.__mro__}'.format(patient) }}")

    with pytest.raises(RenderError, match="SecurityError"):
        render(source, CONTEXT)


@pytest.mark.parametrize(
    "template",
    [
        "Hi {{ patient.frist_name }}",  # misspelt attribute
        "Hi {{ pateint.first_name }}",  # misspelt top-level name
        "Hi {{ patient.first_name }} from {{ clinic.nmae }}",
        "{% if clinic.phone %}call us{% endif %}",  # even in a test
    ],
)
def test_misspelt_variable_is_a_render_error_not_a_blank(template: str) -> None:
    with pytest.raises(RenderError, match="UndefinedError"):
        render(text(template), CONTEXT)


def test_validate_names_the_problem_and_is_empty_for_a_good_template() -> None:
    assert validate(text("Hi {{ patient.first_name }}"), CONTEXT) == []

    problems = validate(text("Hi {{ patient.frist_name }}"), CONTEXT)

    assert len(problems) == 1
    assert "frist_name" in problems[0]


def test_template_syntax_error_is_a_render_error() -> None:
    with pytest.raises(RenderError, match="TemplateSyntaxError"):
        render(text("Hi {{ patient.first_name "), CONTEXT)


def test_html_part_escapes_markup_from_variables_and_text_part_keeps_it() -> None:
    hostile = {"patient": {"first_name": "<script>alert('x')</script> & Co"}}
    source = text(
        "Hi {{ patient.first_name }}",
        subject="For {{ patient.first_name }}",
        html="<p>Hi {{ patient.first_name }}</p>",
    )

    rendered = render(source, hostile)

    assert rendered.body_html is not None
    assert "<script>" not in rendered.body_html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in rendered.body_html
    assert rendered.body_html.startswith("<p>")  # the template's own markup stays
    assert rendered.body_text == "Hi <script>alert('x')</script> & Co"
    assert rendered.subject == "For <script>alert('x')</script> & Co"


def test_subject_newlines_from_a_variable_collapse_to_one_line() -> None:
    injected = {"patient": {"first_name": "Jane\r\nBcc: attacker@example.com\n\n"}}

    rendered = render(text("Body", subject="Hello\n{{ patient.first_name }}"), injected)

    assert rendered.subject == "Hello Jane Bcc: attacker@example.com"


def test_text_body_is_trimmed_with_no_trailing_newline() -> None:
    # A trailing newline in a text is one more billed character.
    rendered = render(text("\n\n  Hi {{ patient.first_name }}  \n\n\n"), CONTEXT)

    assert rendered.body_text == "Hi Jane"


def test_missing_optional_parts_render_as_none() -> None:
    rendered = render(text("Hi"), CONTEXT)

    assert rendered.subject is None
    assert rendered.body_html is None
