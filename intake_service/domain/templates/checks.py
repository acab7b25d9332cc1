"""Save-time checks: everything that would make a template fail, leak, or escape the sandbox.

Run on every admin save, restore and test send, and on `templates load`, so a broken or
leaking template never reaches the database, let alone a patient. Two passes:
1. The syntax tree of each part: every variable named anywhere (in both branches of an if,
   in conditions, in loops) must be one its audience gets; a health-information variable may
   not appear in a text, a subject or any patient message; the sandbox's refusals (names
   starting with an underscore, the attr filter, includes) are reported up front.
2. A rendering with every sample lead (urgent or not, each treatment, with and without a
   phone, each callback window), so a branch that fails only for some leads fails here.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from intake_service.channels import kind
from intake_service.domain.templates import privacy, variables
from intake_service.domain.templates.message_context import audience
from intake_service.domain.templates.rendering import (
    Prepared,
    RenderError,
    TemplateSource,
    parse,
)
from intake_service.domain.templates.samples import (
    TEAM_EXTRAS,
    SampleChoice,
    every_choice,
    sample_context,
)

PART_LABELS = {"subject": "Subject", "text": "Text", "html": "HTML"}
# Names a template may use that no context gives: Jinja's own helpers.
JINJA_NAMES = frozenset({"loop", "range", "caller", "varargs", "kwargs", "namespace", "cycler"})
SAMPLE_CLINIC = {
    "name": "Sunrise Clinic",
    "phone": "(310) 555-0100",
    "phone_e164": "+13105550100",
    "address": "100 Main St, Los Angeles, CA 90001",
}


@dataclass(frozen=True)
class Problem:
    part: str  # "subject" | "text" | "html" | "sample"
    kind: str  # "syntax" | "unknown" | "health" | "sandbox" | "render"
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = PART_LABELS.get(self.part, "Template")
        if self.line is not None:
            where += f", line {self.line}"
        return f"{where}: {self.message}"


def parts(source: TemplateSource) -> Iterator[tuple[str, str]]:
    if source.subject is not None:
        yield "subject", source.subject
    yield "text", source.body_text
    if source.body_html is not None:
        yield "html", source.body_html


def _where_health_is_refused(template_key: str, channel: str, part: str) -> str | None:
    if kind(channel).shown_on_lock_screen:
        return "a text message"
    if part == "subject":
        return "an email subject"
    if audience(template_key) == "patient":
        return "a patient's message"
    return None


def _chain(node: nodes.Node) -> tuple[nodes.Node, list[str | None], list[nodes.Node]]:
    """For lead.problems[0]: (Name lead, ["problems", None], [the index expression])."""
    segments: list[str | None] = []
    computed: list[nodes.Node] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            segments.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            segments.append(node.arg.value)
        else:
            segments.append(None)
            computed.append(node.arg)
        node = node.node
    segments.reverse()
    return node, segments, computed


class _Walker:
    def __init__(self, template_key: str, channel: str, part: str, tree: nodes.Template) -> None:
        self.audience = audience(template_key)
        self.part = part
        self.health_refused_in = _where_health_is_refused(template_key, channel, part)
        self.known = variables.names_for(template_key)
        self.roots = variables.namespaces_for(template_key)
        self.local = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
        self.problems: list[Problem] = []

    def add(self, node: nodes.Node, kind: str, message: str) -> None:
        problem = Problem(self.part, kind, message, getattr(node, "lineno", None))
        if problem not in self.problems:
            self.problems.append(problem)

    def visit(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport | nodes.Extends):
            self.add(node, "sandbox", "a message template cannot include or import another file")
            return
        if isinstance(node, nodes.Filter) and node.name == "attr":
            self.add(node, "sandbox", "the attr filter is refused: name the variable directly")
        if isinstance(node, nodes.Getattr | nodes.Getitem):
            self._access(node)
            return
        if isinstance(node, nodes.Name) and node.ctx == "load":
            self._name(node, [])
            return
        for child in node.iter_child_nodes():
            self.visit(child)

    def _access(self, node: nodes.Getattr | nodes.Getitem) -> None:
        base, segments, computed = _chain(node)
        for segment in segments:
            if segment is not None and segment.startswith("_"):
                self.add(
                    node,
                    "sandbox",
                    f"the sandbox refuses {segment}: templates cannot reach Python internals",
                )
                return
        if isinstance(base, nodes.Name) and base.ctx == "load":
            self._name(base, segments)
        else:
            self.visit(base)
        for expression in computed:
            self.visit(expression)

    def _name(self, node: nodes.Name, segments: list[str | None]) -> None:
        name = node.name
        if name in self.local or name in JINJA_NAMES:
            return
        field = segments[0] if segments else None
        label = f"{name}.{field}" if field else name
        if variables.is_health(name, field) and self.health_refused_in:
            self.add(
                node,
                "health",
                f"{label} is health information and may never appear in {self.health_refused_in}",
            )
            return
        if name not in self.roots:
            self.add(node, "unknown", self._unknown(label))
            return
        if not segments:
            self.add(
                node,
                "unknown",
                f"{name} on its own would print every field; name one, like "
                f"{sorted(v for v in self.known if v.startswith(name + '.'))[0]}",
            )
            return
        if field is None:
            self.add(node, "unknown", f"{name}[...] with a computed name is refused; name a field")
            return
        if label not in self.known:
            self.add(node, "unknown", self._unknown(label))

    def _unknown(self, label: str) -> str:
        message = f"{{{{ {label} }}}} is not a variable {self.audience} messages get"
        close = difflib.get_close_matches(label, sorted(self.known), n=1, cutoff=0.6)
        return message + (f"; did you mean {close[0]}?" if close else "")


def static_problems(template_key: str, channel: str, source: TemplateSource) -> list[Problem]:
    """What the syntax trees of `source`'s parts show, without rendering anything."""
    found: list[Problem] = []
    for part, text in parts(source):
        try:
            tree = parse(text)
        except TemplateSyntaxError as error:
            found.append(Problem(part, "syntax", f"{error.message}", error.lineno))
            continue
        walker = _Walker(template_key, channel, part, tree)
        walker.visit(tree)
        found.extend(walker.problems)
    if kind(channel).has_subject and not (source.subject or "").strip():
        found.append(Problem("subject", "syntax", "an email needs a subject"))
    if not source.body_text.strip():
        found.append(Problem("text", "syntax", "the text is empty"))
    return found


def describe(choice: SampleChoice, template_key: str) -> str:
    bits = [choice.treatment, f"{choice.window} callback"]
    if audience(template_key) == "team":
        bits = ["urgent" if choice.urgent else "not urgent", *bits]
        bits.append("with a phone" if choice.has_phone else "no phone")
    return ", ".join(bits)


def render_problems(
    template_key: str, source: TemplateSource, clinic: dict[str, str] | None = None
) -> list[Problem]:
    """Render with every sample lead; the first failure, naming the sample that failed."""
    try:
        prepared = Prepared(source)
    except RenderError as error:
        return [Problem("sample", "render", str(error))]
    seen: set[str] = set()
    # With and without the screening results: Clinic settings can switch them at any time.
    for choice, carries in itertools.product(every_choice(), (TEAM_EXTRAS, frozenset())):
        context = sample_context(template_key, choice, clinic or SAMPLE_CLINIC, carries=carries)
        key = repr(context)
        if key in seen:
            continue
        seen.add(key)
        try:
            prepared.render(context)
        except RenderError as error:
            kind = "sandbox" if "SecurityError" in str(error) else "render"
            sample = describe(choice, template_key)
            return [Problem("sample", kind, f"with the sample lead ({sample}): {error}")]
    return []


def problems(
    template_key: str,
    channel: str,
    source: TemplateSource,
    clinic: dict[str, str] | None = None,
) -> list[Problem]:
    """Every reason not to save `source`; empty when it may be saved."""
    found = static_problems(template_key, channel, source)
    if found:
        return found
    found = render_problems(template_key, source, clinic)
    if found:
        return found
    # What a lock screen or a shared inbox would show: clinical words, a patient's name.
    return [
        Problem("template", "privacy", message)
        for message in privacy.problems(template_key, channel, source)
    ]


def check_context_fields(template_key: str, context: dict[str, Any]) -> list[str]:
    """Values in an edited sample that no real lead would have (they would mislead a preview)."""
    known = variables.names_for(template_key)
    return [
        f"{namespace}.{field} is not a variable these messages get"
        for namespace, values in context.items()
        for field in values
        if f"{namespace}.{field}" not in known
    ]
