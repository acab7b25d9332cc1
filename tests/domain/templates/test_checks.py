"""Save-time checks: what a template may name, where health data may go, what the sandbox
refuses."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from flask import Flask

from intake_service.db import Database
from intake_service.domain.templates import checks, message_context, variables
from intake_service.domain.templates.rendering import TemplateSource
from intake_service.domain.templates.samples import (
    InvalidSample,
    SampleChoice,
    every_choice,
    sample_context,
    with_overrides,
)
from intake_service.domain.templates.versions import read_defaults
from intake_service.models import InboundMessage
from tests.support import factories

CLINIC = checks.SAMPLE_CLINIC


def sms(body: str) -> TemplateSource:
    return TemplateSource(None, body, None)


def email(subject: str, body: str, html: str | None = None) -> TemplateSource:
    return TemplateSource(subject, body, html)


def kinds(key: str, channel: str, source: TemplateSource) -> list[str]:
    return [p.kind for p in checks.problems(key, channel, source)]


def test_every_shipped_template_passes() -> None:
    for default in read_defaults():
        assert checks.problems(default.key, default.channel, default.source) == [], default.key


@pytest.mark.parametrize(
    ("body", "kind", "words"),
    [
        (
            "Hi {{ lead.nonexistent }}",
            "unknown",
            "{{ lead.nonexistent }} is not a variable patient",
        ),
        ("Hi {{ patient.frist_name }}", "unknown", "did you mean patient.first_name?"),
        ("Hi {{ nickname }}", "unknown", "{{ nickname }} is not a variable"),
        ("Hi {{ ''.__class__ }}", "sandbox", "the sandbox refuses __class__"),
        ("{{ patient.first_name.__class__.__mro__ }}", "sandbox", "refuses __class__"),
        ("{{ patient|attr('first_name') }}", "sandbox", "attr filter"),
        ("{% include 'x.txt' %}", "sandbox", "cannot include"),
        ("Hi {{ patient }}", "unknown", "on its own would print every field"),
        ("Hi {{ patient[key] }}", "unknown", "computed name"),
        ("Hi {{ patient.first_name ", "syntax", "unexpected end of template"),
        ("{% if treatment.key %}no end", "syntax", "endif"),
        ("Hi {{ lead.answers.tried_antidepressants }}", "health", "in a text message"),
        ("{% if lead.score > 10 %}You qualify{% endif %}", "health", "lead.score is health"),
    ],
)
def test_patient_text_problems_are_named_with_their_line(body: str, kind: str, words: str) -> None:
    found = checks.problems("patient_first_reply", "sms", sms("Line one\n" + body))
    assert found, body
    assert found[0].kind == kind
    assert words in str(found[0])
    if kind != "syntax":
        assert found[0].line == 2


def test_a_variable_used_only_in_the_branch_the_sample_skips_is_still_checked() -> None:
    # StrictUndefined alone only fails on the branch that runs; the tree check sees both.
    body = "{% if treatment.key == 'nothing-real' %}{{ patient.middle_name }}{% endif %}Hi"
    assert kinds("patient_first_reply", "sms", sms(body)) == ["unknown"]


def test_loop_and_set_names_are_the_template_own() -> None:
    body = (
        "{% set who = lead.name %}{{ who }}"
        "{% for problem in lead.problems %}{{ loop.index }}. {{ problem }}{% endfor %}"
    )
    assert checks.problems("team_unreachable", "email", email("Subject", body)) == []


@pytest.mark.parametrize(
    ("key", "channel", "source", "where"),
    [
        ("team_new_lead", "email", email("Score {{ lead.score }}", "x"), "an email subject"),
        ("team_urgent_page", "sms", sms("{{ lead.candidacy }}"), "a text message"),
        ("patient_first_reply", "email", email("Hi", "{{ lead.answers }}"), "a patient's message"),
        ("patient_first_reply", "email", email("Hi", "{{ triage.flags }}"), "a patient's message"),
        ("team_new_lead", "email", email("New", "x", "<p>{{ lead.message }}</p>"), None),
    ],
)
def test_health_information_never_goes_in_texts_subjects_or_patient_messages(
    key: str, channel: str, source: TemplateSource, where: str | None
) -> None:
    found = checks.problems(key, channel, source)
    assert found
    if where is None:
        # A team email body may carry candidacy and score, but the free text is not offered.
        assert found[0].kind == "unknown"
    else:
        assert found[0].kind == "health"
        assert where in str(found[0])


def test_team_email_body_may_carry_the_screening_results_the_catalogue_offers() -> None:
    body = "{% if lead.candidacy %}{{ lead.candidacy }} {{ lead.score }}{% endif %}"
    assert checks.problems("team_new_lead", "email", email("New lead", body)) == []


def test_a_failure_for_some_sample_leads_only_names_the_sample() -> None:
    # Fine for a TMS lead (score 5), a TypeError for a contact-form lead (score None).
    body = "{% if lead.score is not none or lead.urgent %}{{ lead.score + 1 }}{% endif %}"
    found = checks.problems("team_new_lead", "email", email("New", body))
    assert [p.kind for p in found] == ["render"]
    assert "with the sample lead (urgent" in str(found[0])
    assert "TypeError" in str(found[0])


def test_an_email_needs_a_subject_and_any_message_a_body() -> None:
    assert "needs a subject" in str(checks.problems("patient_checkin", "email", email(" ", "x"))[0])
    assert "empty" in str(checks.problems("patient_checkin", "sms", sms("  \n"))[0])


def test_the_catalogue_is_exactly_what_the_real_contexts_give(app: Flask, db: Database) -> None:
    # The editor offers, and the checks allow, what message_context really fills in.
    settings = app.extensions["intake.settings"]
    with db.transaction() as session:
        lead = factories.lead(session, triage={"score": 4, "candidacy": "likely"})
        patient = message_context.patient_context(lead, settings)
        team = message_context.team_context(session, lead, settings, dt.datetime.now(dt.UTC))

    def dotted(context: dict[str, dict[str, object]]) -> set[str]:
        return {f"{ns}.{field}" for ns, values in context.items() for field in values}

    assert dotted(patient) == variables.names("patient")
    assert dotted(team) == variables.names("team")
    for choice in every_choice():
        assert dotted(sample_context("patient_checkin", choice, CLINIC)) == dotted(patient)
        assert dotted(sample_context("team_new_lead", choice, CLINIC)) == dotted(team)
    # A page about a text from a number no lead gave has its own, lead-less catalogue.
    inbound = InboundMessage(
        id=7, received_at=dt.datetime.now(dt.UTC), from_number="+14155550123", body="words"
    )
    about_text = message_context.text_context(inbound, settings, dt.datetime.now(dt.UTC))
    assert dotted(about_text) == variables.names_for("team_text_urgent_page")
    sample = sample_context("team_text_urgent_page", SampleChoice(), CLINIC)
    assert dotted(sample) == dotted(about_text)
    assert "words" not in repr(about_text)


def test_edited_sample_json_overrides_values_and_refuses_nonsense() -> None:
    base = sample_context("patient_checkin", SampleChoice(), CLINIC)
    edited = with_overrides(base, '{"patient": {"first_name": "Zoë"}}')
    assert edited["patient"] == {
        "first_name": "Zoë",
        "callback_window": "evening",
        "callback_window_key": "evening",
    }
    assert base["patient"]["first_name"] == "Jane"  # the sample itself is untouched
    for bad, words in [
        ("{", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ('{"lead": {}}', "not something this audience"),
        ('{"patient": 3}', "must be an object"),
        ("x" * 30_000, "over"),
    ]:
        with pytest.raises(InvalidSample, match=words):
            with_overrides(base, bad)


def test_sample_choices_cover_every_kind_of_lead() -> None:
    choices = list(every_choice())
    assert len(choices) == 2 * 5 * 2 * 4
    team = sample_context("team_new_lead", SampleChoice(urgent=True, has_phone=False), CLINIC)
    assert team["lead"]["urgent"] is True
    assert "phone" not in team["lead"]["reachable_by"]
    assert uuid.UUID(team["lead"]["id"])
    kept_out = sample_context("team_new_lead", SampleChoice(), CLINIC, carries=frozenset())
    assert kept_out["lead"]["candidacy"] is None and kept_out["lead"]["score"] is None
