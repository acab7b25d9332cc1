"""The variables each audience's templates may use, what they mean, and which are health data.

One catalogue serves the editor's list (click to insert) and the save-time checks, so what an
admin is offered is exactly what a template may name. It mirrors message_context's patient and
team contexts; a test keeps the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from intake_service.domain.templates.message_context import about, audience


@dataclass(frozen=True)
class Variable:
    name: str  # "patient.first_name"
    description: str
    example: str
    # Health information (DOMAIN.md: answers, free text, scores, flags, candidacy): never in a
    # text or a subject, and never in anything a patient's message says.
    health: bool = False

    @property
    def namespace(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def field(self) -> str:
        return self.name.split(".", 1)[1]


CLINIC = (
    Variable("clinic.name", "The clinic's name (Clinic settings)", "Sunrise Clinic"),
    Variable("clinic.phone", "The clinic's phone, as people read it", "(310) 555-0100"),
    Variable("clinic.phone_e164", "The clinic's phone for tel: links", "+13105550100"),
    Variable("clinic.address", "The clinic's postal address (CAN-SPAM)", "100 Main St"),
)

PATIENT = (
    Variable("patient.first_name", "The patient's first name, as they typed it", "Jane"),
    Variable(
        "patient.callback_window",
        "When they asked to be called, in words of the template's language: morning, afternoon,"
        " evening or any time (in Spanish: por la mañana, por la tarde, por la noche, a cualquier"
        " hora)",
        "evening",
    ),
    Variable(
        "patient.callback_window_key",
        "The same, for {% if %}: morning, afternoon, evening or any",
        "evening",
    ),
    Variable(
        "treatment.key",
        "The treatment asked about, for {% if %}: ketamine, spravato, tms, psychiatry, unsure",
        "tms",
    ),
    Variable(
        "treatment.label",
        "The treatment's name as patients read it on the form, in the template's language",
        "TMS",
    ),
    Variable(
        "links.unsubscribe",
        "The signed link that unsubscribes them from email (every patient email's footer)",
        "https://…/unsubscribe/…",
    ),
    *CLINIC,
)

TEAM = (
    Variable("lead.name", "The person's full name", "Jane Doe"),
    Variable("lead.priority", "urgent, high, normal or low", "high"),
    Variable("lead.urgent", "True when a safety flag was raised (for {% if %})", "False"),
    Variable("lead.treatment", "The treatment asked about", "TMS"),
    Variable("lead.callback_window", "When they asked to be called", "evening"),
    Variable("lead.form", "Which form they filled in", "TMS self-screen"),
    Variable("lead.reachable_by", "Their phone and email, as given", "phone (310) 555-0123"),
    Variable("lead.age", "How long ago they asked", "2 minutes ago"),
    Variable("lead.submitted_at", "When they asked, in the clinic's time zone", "Tue 01 Dec"),
    Variable("lead.url", "The lead's page in the staff app", "https://…/staff/leads/…"),
    Variable("lead.ack_url", "The signed link that says 'I am calling' (urgent pages)", "…"),
    Variable("lead.problems", "Why messages to them failed, one line per channel", "[...]"),
    Variable(
        "lead.callback_request",
        "When they asked by text to be called, in the clinic's time zone; empty if they did not",
        "Wed 02 Dec, 17:00 PST, evening",
    ),
    Variable("lead.returning_count", "How often they asked before, recently (0: first time)", "1"),
    Variable("lead.assignee", "Who routing gave the lead to; empty if nobody yet", "Dr Sample"),
    Variable(
        "alerts.sms_pauses", "Prefixes or countries whose texts are paused (SMS pumping)", "[...]"
    ),
    Variable("lead.id", "The lead's id", "6f1c2a9e-…"),
    Variable("lead.ref", "A short reference that names nobody (for subjects)", "6f1c2a9e"),
    Variable(
        "lead.candidacy",
        "TMS candidacy from the self-screen; team email bodies only, and empty unless "
        "Clinic settings let the team email carry it",
        "likely",
        health=True,
    ),
    Variable(
        "lead.score",
        "The screening score; team email bodies only, and empty unless Clinic settings "
        "let the team email carry it",
        "5",
        health=True,
    ),
    *CLINIC,
)

# Pages about a text from a number no lead gave (team_text_*): no lead, never the words.
TEXT = (
    Variable("text.ref", "A short reference that names nobody (for subjects)", "text 123"),
    Variable("text.from_number", "The number it came from, as people read it", "(415) 555-0123"),
    Variable("text.received_at", "When it came, in the clinic's time zone", "Tue 01 Dec"),
    Variable("text.age", "How long ago it came", "2 minutes ago"),
    Variable(
        "text.url", "Its page in the staff app (behind the sign-in)", "https://…/staff/texts/…"
    ),
    *CLINIC,
)

BY_AUDIENCE: dict[str, tuple[Variable, ...]] = {"patient": PATIENT, "team": TEAM}

# Fields that are health information wherever they appear: named here so that a template
# reaching for one gets the real reason ("health information") rather than "unknown variable",
# even in an audience whose context does not carry it at all.
HEALTH_FIELDS = frozenset(
    {
        "answers",
        "answer",
        "message",
        "free_text",
        "notes",
        "score",
        "scores",
        "flags",
        "flag",
        "candidacy",
        "reasons",
        "crisis_words",
        "triage",
        "phq9",
        "gad7",
        "diagnosis",
    }
)
HEALTH_NAMESPACES = frozenset({"answers", "triage", "submission", "screening"})


def for_audience(audience: str) -> tuple[Variable, ...]:
    return BY_AUDIENCE[audience]


def for_template(template_key: str) -> tuple[Variable, ...]:
    """The catalogue of one template: its audience's, or the text pages' own."""
    if about(template_key) == "text":
        return TEXT
    return BY_AUDIENCE[audience(template_key)]


def names_for(template_key: str) -> frozenset[str]:
    return frozenset(v.name for v in for_template(template_key))


def namespaces_for(template_key: str) -> frozenset[str]:
    return frozenset(v.namespace for v in for_template(template_key))


def names(audience: str) -> frozenset[str]:
    return frozenset(v.name for v in BY_AUDIENCE[audience])


def namespaces(audience: str) -> frozenset[str]:
    return frozenset(v.namespace for v in BY_AUDIENCE[audience])


def is_health(namespace: str, field: str | None) -> bool:
    """True for a variable that carries health information, known to the catalogue or not."""
    if namespace in HEALTH_NAMESPACES:
        return True
    return field is not None and field in HEALTH_FIELDS
