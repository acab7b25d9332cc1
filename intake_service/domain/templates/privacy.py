"""What may show on a lock screen: texts and email subjects carry no clinical detail, and a
team subject no patient name.

A text and an email subject are read in notifications, on a shared family tablet, over a
shoulder on the bus: "your ketamine questions" or "New lead: Jane Doe" tells a stranger who is
seeking mental-health care. Checked when a template version is saved (shipped default or admin
edit), twice: the variables it uses, and the words it renders with the sample context.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from intake_service.channels import kind
from intake_service.domain.templates.message_context import audience, sample_context
from intake_service.domain.templates.rendering import RenderError, TemplateSource, render

# Variables that say what a person is being seen for (or how they screened).
CLINICAL_VARIABLES = frozenset(
    {
        ("treatment", "key"),
        ("treatment", "label"),
        ("lead", "treatment"),
        ("lead", "candidacy"),
        ("lead", "score"),
        ("lead", "form"),
    }
)
# Variables that say who the person is.
# (A text's number beside "may need a crisis response" says as much as a name.)
IDENTIFYING_VARIABLES = frozenset(
    {("lead", "name"), ("lead", "reachable_by"), ("text", "from_number")}
)
CLINICAL_WORDS = re.compile(
    r"\b(depress\w*|anxi\w*|ocd|ptsd|suicid\w*|self[- ]harm\w*|screen(?:ing|ed)?|scores?|"
    r"phq-?9?|gad-?7?|diagnos\w*|ketamine|spravato|esketamine|tms|magnetic|psychiatr\w*|"
    r"psycho\w*|bipolar|medications?|antidepressants?|candidacy|infusions?|"
    # The same in Spanish, for the es templates.
    r"depresi\w*|ansiedad|toc|tept|autolesi\w*|diagn[oó]stic\w*|puntuaci\w*|puntajes?|"
    r"tamizajes?|cribados?|ketamina|esketamina|magn[eé]tic\w*|psiquiatr\w*|psic[oó]\w*|"
    r"medicamentos?|antidepresivos?|infusi[oó]n\w*)\b",
    re.IGNORECASE,
)
_parser = SandboxedEnvironment()
# The clinic's own name is its choice ("... TMS Center"); only the template's words are checked.
_SAMPLE_CLINIC = str(sample_context("patient_")["clinic"]["name"])


def _attributes(source: str) -> Iterator[tuple[str, str]]:
    """(name, attribute) pairs a template reads: `lead.name` and `lead['name']` alike."""
    tree = _parser.parse(source)
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            yield node.node.name, node.attr
    for item in tree.find_all(nodes.Getitem):
        key = item.arg
        named = isinstance(item.node, nodes.Name) and isinstance(key, nodes.Const)
        if named and isinstance(key.value, str):  # type: ignore[attr-defined]
            yield item.node.name, key.value  # type: ignore[attr-defined]


def _check(
    part: str, source: str, rendered: str, forbidden: frozenset[tuple[str, str]]
) -> list[str]:
    problems = []
    try:
        used = set(_attributes(source))
    except TemplateSyntaxError:
        return []  # rendering.validate reports the syntax error itself
    for name, attribute in sorted(used & forbidden):
        problems.append(f"the {part} may not show {name}.{attribute}: it is read on lock screens")
    words = sorted(
        {w.lower() for w in CLINICAL_WORDS.findall(rendered.replace(_SAMPLE_CLINIC, ""))}
    )
    if words:
        problems.append(
            f"the {part} may not carry clinical words ({', '.join(words)}): it is read on "
            "lock screens"
        )
    return problems


def problems(key: str, channel: str, source: TemplateSource) -> list[str]:
    """Why `source` would put clinical detail or a patient's name where others may see it."""
    try:
        rendered = render(source, sample_context(key))
    except RenderError:
        return []  # rendering.validate reports it
    team = audience(key) == "team"
    found: list[str] = []
    if source.subject:
        forbidden = CLINICAL_VARIABLES | (IDENTIFYING_VARIABLES if team else frozenset())
        found += _check("subject", source.subject, rendered.subject or "", forbidden)
    if kind(channel).shown_on_lock_screen:
        forbidden = CLINICAL_VARIABLES | (IDENTIFYING_VARIABLES if team else frozenset())
        found += _check("text", source.body_text, rendered.body_text, forbidden)
    return found
