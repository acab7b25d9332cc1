"""Spanish beside English on the public pages: chosen by the switch, remembered, else
Accept-Language, else the clinic's default; errors and the thank-you page in Spanish too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from tests.web.test_forms import Page, post, tms_data

PUBLIC_PAGES = ("/contact", "/screening/tms", "/screening/phq9", "/screening/gad7", "/privacy")


def html_lang(html: str) -> str:
    return Page(html).find_all("html")[0].attr("lang") or ""


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_lang_es_works_on_every_public_page(client: Any, path: str) -> None:
    response = client.get(f"{path}?lang=es")

    assert response.status_code == 200
    assert html_lang(response.text) == "es"
    assert "Aviso de privacidad" in response.text
    switch = [a for a in Page(response.text).find_all("a") if a.attr("class") == "lang"]
    assert [(a.attr("href"), a.attr("lang"), a.text.strip()) for a in switch] == [
        (f"{path}?lang=en", "en", "English")
    ]


def test_the_chosen_language_is_remembered(client: Any) -> None:
    client.get("/contact?lang=es")

    assert html_lang(client.get("/screening/tms").text) == "es"
    client.get("/contact?lang=en")
    assert html_lang(client.get("/screening/tms", headers={"Accept-Language": "es"}).text) == "en"


def test_accept_language_picks_spanish_and_english_is_the_fallback(client: Any) -> None:
    spanish = client.get("/contact", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    other = client.get("/contact", headers={"Accept-Language": "fr-FR"})

    assert html_lang(spanish.text) == "es"
    assert "Contáctenos" in spanish.text
    assert html_lang(other.text) == "en"


def test_the_clinics_default_applies_when_the_browser_asks_for_neither(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(CLINIC_LOCALE="es").test_client()

    assert html_lang(client.get("/contact", headers={"Accept-Language": "fr"}).text) == "es"


def test_spanish_errors_come_back_in_spanish(client: Any) -> None:
    response = post(
        client, "/screening/tms", {"callback_window": "any"}, headers={"Accept-Language": "es"}
    )

    assert response.status_code == 422
    text = Page(response.text).text()
    assert "Revise el formulario" in text
    assert "Escriba su nombre." in text
    assert "Responda sí o no." in text
    assert "Enter your first name" not in text


def test_spanish_thank_you_page(client: Any) -> None:
    headers = {"Accept-Language": "es"}
    response = post(client, "/screening/tms", tms_data(), headers=headers)
    page = client.get(response.headers["Location"], headers=headers)

    text = Page(page.text).text()
    assert "Gracias, recibimos su solicitud" in text
    assert "Le llamaremos en un plazo de un día hábil." in text
    assert "Línea de Prevención del Suicidio y Crisis" in text


def test_staff_pages_stay_in_english(client: Any) -> None:
    response = client.get("/login?lang=es", headers={"Accept-Language": "es"})
    assert html_lang(response.text) in ("en", "")


def test_compiled_catalogue_matches_its_source() -> None:
    # The .mo is committed beside the .po: a .po edited without recompiling would be ignored.
    # Recompile with: pybabel compile -d intake_service/translations
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    folder = Path(__file__).resolve().parents[2] / "intake_service/translations/es/LC_MESSAGES"
    source = read_po((folder / "messages.po").open("rb"))
    compiled = read_mo((folder / "messages.mo").open("rb"))
    # Keyed by context too: each scale's answers are under its own (PHQ-9 and GAD-7 differ).
    assert {(m.context, m.id): m.string for m in source if m.id} == {
        (m.context, m.id): m.string for m in compiled if m.id
    }
    assert not [m.id for m in source if m.id and not m.string]


def test_a_spanish_page_shows_the_spanish_consent_wordings_and_records_their_versions(
    client: Any, db: Any
) -> None:
    from sqlalchemy import select

    from intake_service.domain.compliance import consent
    from intake_service.models import ConsentEvent

    spanish = Page(client.get("/contact?lang=es").text)
    english = Page(client.get("/contact?lang=en").text)

    label = spanish.find_all("label", **{"for": "sms_consent"})[0]
    assert " ".join(label.text.split()) == consent.SMS_WORDINGS["sms-2026-12-es"]
    assert label.attr("lang") is None  # in the page's own language: nothing to mark
    assert spanish.value("sms_wording_version") == "sms-2026-12-es"
    assert consent.EMAIL_WORDINGS["email-2026-12-es"] in spanish.text()
    assert english.value("sms_wording_version") == consent.CURRENT_SMS_WORDING
    assert consent.EMAIL_WORDINGS[consent.CURRENT_EMAIL_WORDING] in english.text()

    data = tms_data(sms_wording_version=spanish.value("sms_wording_version"))
    assert post(client, "/screening/tms?lang=es", data).status_code == 303
    with db.session() as session:
        events = session.execute(select(ConsentEvent.channel, ConsentEvent.wording_version)).all()
    assert dict(events) == {"sms": "sms-2026-12-es", "email": "email-2026-12-es"}


def test_the_lead_records_the_language_of_the_page(client: Any, db: Any) -> None:
    from sqlalchemy import select

    from intake_service.models import Lead

    post(client, "/screening/tms", tms_data(first_name="Lucía"), headers={"Accept-Language": "es"})
    jane = tms_data(first_name="Jane", email="jane.other@patients.example", phone="(415) 555-2671")
    post(client, "/screening/tms", jane, headers={"Accept-Language": "en"})

    with db.session() as session:
        languages = dict(session.execute(select(Lead.first_name, Lead.locale)).all())
    assert languages == {"Lucía": "es", "Jane": "en"}


# --- the questionnaires in their published Spanish versions ------------------------------------

SCALE_ANSWERS = {
    "/screening/phq9": [2, 3, 1, 2, 0, 3, 1, 2, 1],  # item 9 above 0: the safety flag
    "/screening/gad7": [3, 2, 2, 1, 0, 3, 2],
}


def test_the_phq9_and_gad7_show_their_published_spanish_wording(client: Any) -> None:
    phq9 = Page(client.get("/screening/phq9?lang=es").text).text()
    gad7 = Page(client.get("/screening/gad7?lang=es").text).text()

    assert "Durante las últimas 2 semanas, ¿qué tan seguido ha tenido molestias" in phq9
    assert "Poco interés o placer en hacer cosas" in phq9
    assert "Pensamientos de que estaría mejor muerto(a) o de lastimarse de alguna manera" in phq9
    assert "Ningún día" in phq9 and "Nunca" not in phq9
    assert "¿con qué frecuencia le han molestado los siguientes problemas?" in gad7
    assert "Se ha sentido nervioso(a), ansioso(a) o con los nervios de punta" in gad7
    assert "Nunca" in gad7 and "Ningún día" not in gad7
    for text in (phq9, gad7):
        assert "Más de la mitad de los días" in text and "Casi todos los días" in text
        assert "Not at all" not in text and "Several days" not in text


@pytest.mark.parametrize("path", [*SCALE_ANSWERS, "/screening/tms"])
def test_the_same_answers_in_spanish_and_english_score_and_triage_the_same(
    app: Flask, client: Any, db: Any, path: str
) -> None:
    from sqlalchemy import select

    from intake_service.domain.outreach import processing
    from intake_service.models import Lead, Triage

    for language, name in (("en", "Jane"), ("es", "Lucía")):
        data = tms_data(
            first_name=name,
            email=f"{name.lower()}.{language}@patients.example".replace("í", "i"),
            phone="(415) 555-2671" if language == "en" else "(415) 555-2672",
        )
        if path in SCALE_ANSWERS:
            data.update({f"item_{n}": str(v) for n, v in enumerate(SCALE_ANSWERS[path], 1)})
        response = post(client, f"{path}?lang={language}", data)
        assert response.status_code == 303, response.text

    settings = app.extensions["intake.settings"]
    with db.session() as session:
        lead_ids = list(session.scalars(select(Lead.id)))
    for lead_id in lead_ids:  # what the worker does with each new lead: triage comes first
        processing.process_lead(db, settings, lead_id)
    with db.session() as session:
        rows = session.execute(select(Lead.locale, Triage).join(Triage.lead)).all()
        triages = {
            locale: (t.score, t.priority, t.candidacy, t.reasons, t.candidacies, t.flags)
            for locale, t in rows
        }
    assert set(triages) == {"en", "es"}
    assert triages["es"] == triages["en"]
    if path == "/screening/phq9":
        assert triages["en"][0] == sum(SCALE_ANSWERS[path])


# --- pages outside the forms: the unsubscribe link, the 404 ------------------------------------


def test_the_unsubscribe_page_speaks_the_language_the_lead_chose(app: Flask, db: Any) -> None:
    from sqlalchemy import select

    from intake_service.domain.compliance import unsubscribe
    from intake_service.models import Lead

    post(app.test_client(), "/screening/tms?lang=es", tms_data(first_name="Lucía"))
    with db.session() as session:
        lead_id = session.scalars(select(Lead.id)).one()
    link = f"/unsubscribe/{unsubscribe.token_for(lead_id, app.extensions['intake.settings'])}"
    # Opened later from the email, in a browser that asks for English and remembers nothing.
    english_browser = {"Accept-Language": "en-US,en"}
    fresh = app.test_client()

    page = fresh.get(link, headers=english_browser)
    assert html_lang(page.text) == "es"
    assert "Darme de baja de los correos electrónicos" in page.text
    assert html_lang(fresh.get(f"{link}?lang=en", headers=english_browser).text) == "en"
    done = app.test_client().post(link, headers=english_browser)
    assert html_lang(done.text) == "es" and "Baja confirmada" in done.text


def test_a_404_follows_the_visitors_language_except_under_the_staffs_addresses(
    client: Any,
) -> None:
    spanish = {"Accept-Language": "es"}
    public = client.get("/no-such-page", headers=spanish)
    staff = client.get("/admin/no-such-page", headers=spanish)

    assert public.status_code == staff.status_code == 404
    assert html_lang(public.text) == "es" and "No hay nada en esta dirección." in public.text
    assert html_lang(staff.text) == "en" and "There is nothing at this address." in staff.text
