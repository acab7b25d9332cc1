"""What an admin saves in /admin/settings wins over the environment everywhere it is used: the
staff pages' time zone, the thank-you page's first-contact promise, the sites that may frame
the embedded forms (EMBED_ORIGINS)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain import clinic_settings
from intake_service.domain.compliance.audit import Actor
from intake_service.models import AuditEvent, CallbackRequest, ClinicSetting
from tests.support import factories
from tests.web.test_forms import Page, contact_data, post

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
SITE = "https://www.sunrise.example"  # in EMBED_ORIGINS
OTHER = "https://partner.example:8443"  # added by the admin
CLINIC_FORM = {"name": "Sample Clinic", "phone": "(310) 555-0100", "address": "1 Main St"}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """An app whose environment says Los Angeles and frames the forms on SITE only."""
    application = make_app(
        CLINIC_TIMEZONE="America/Los_Angeles",
        EMBED_ORIGINS=SITE,
        CLINIC_FIRST_CONTACT="We'll call you within two business hours.",
    )
    application.config["WTF_CSRF_ENABLED"] = False
    return application


def save_zone(admin: Any, zone: str) -> None:
    response = admin.post("/admin/settings", data={**CLINIC_FORM, "timezone": zone})
    assert response.status_code == 303, response.get_data(as_text=True)


def error_of(response: Any) -> str:
    found = re.search(r'id="settings-error">([^<]*)<', response.get_data(as_text=True))
    assert found, "no error on the page"
    return html.unescape(found[1])


def frame_ancestors(response: Any) -> list[str]:
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, *values = part.split()
        if name == "frame-ancestors":
            return values
    raise AssertionError("no frame-ancestors")


# --- the staff pages' time zone ----------------------------------------------------------------


def test_staff_pages_show_and_read_times_in_the_admins_zone(
    admin: Any, sign_in: Callable[..., Any], db: Database
) -> None:
    save_zone(admin, "America/New_York")
    with db.transaction() as session:
        lead = factories.lead(session, first_name="Pat")
        lead_id, arrived = lead.id, lead.created_at
    staff = sign_in("coordinator")

    assert "Times in America/New_York" in staff.get("/staff/callbacks").get_data(as_text=True)
    assert "weeks in America/New_York" in staff.get("/staff/dashboard").get_data(as_text=True)
    page = staff.get(f"/staff/leads/{lead_id}").get_data(as_text=True)
    assert arrived.replace(tzinfo=dt.UTC).astimezone(NEW_YORK).strftime("%a %d %b, %H:%M") in page

    # A callback typed as 10:30 is 10:30 in New York, not in the environment's Los Angeles.
    tomorrow = (dt.datetime.now(NEW_YORK) + dt.timedelta(days=1)).date()
    staff.post(
        f"/staff/leads/{lead_id}/callbacks", data={"day": tomorrow.isoformat(), "time": "10:30"}
    )
    with db.session() as session:
        due = session.scalars(sa.select(CallbackRequest.due_at)).one()
    local = due.replace(tzinfo=dt.UTC).astimezone(NEW_YORK)
    assert (local.date(), local.hour, local.minute) == (tomorrow, 10, 30)
    # The audit log's times follow it too.
    audit = admin.get("/admin/audit").get_data(as_text=True)
    assert "Times in America/New_York" in audit


# --- the thank-you page's promise --------------------------------------------------------------


def test_the_thank_you_page_promises_the_admins_first_contact_deadline(
    admin: Any, client: Any
) -> None:
    def thank_you(lang: str = "") -> str:
        response = post(client, f"/contact{lang}", contact_data())
        return Page(client.get(response.headers["Location"]).text).text()

    assert "We'll call you within two business hours." in thank_you()  # the environment's words
    response = admin.post(
        "/admin/settings/hours",
        data={
            **{f"open_{d}": "1" for d in ("mon", "tue", "wed", "thu", "fri")},
            **{f"opens_{d}": "09:00" for d in ("mon", "tue", "wed", "thu", "fri")},
            **{f"closes_{d}": "17:00" for d in ("mon", "tue", "wed", "thu", "fri")},
            "first_contact_urgent_minutes": "5",
            "first_contact_high_minutes": "60",
            "first_contact_normal_days": "2",
        },
    )
    assert response.status_code == 303, response.get_data(as_text=True)

    english = thank_you()
    assert "We'll call you within 2 business days." in english
    assert "two business hours" not in english
    assert "Le llamaremos en un plazo de 2 días hábiles." in thank_you("?lang=es")


# --- the sites that may frame the embedded forms ---------------------------------------------


def test_an_origin_added_in_admin_may_frame_the_form_and_one_removed_may_not(
    admin: Any, client: Any, db: Database
) -> None:
    assert frame_ancestors(client.get("/embed/contact")) == [SITE]

    response = admin.post("/admin/settings/embed", data={"embed_origins": f"{SITE}\n{OTHER}/"})
    assert response.status_code == 303, response.get_data(as_text=True)
    framed = client.get("/embed/contact")
    assert frame_ancestors(framed) == [SITE, OTHER]
    assert "X-Frame-Options" not in framed.headers
    # The site's own pages stay unframeable whatever the list says.
    assert frame_ancestors(client.get("/contact")) == ["'none'"]

    admin.post("/admin/settings/embed", data={"embed_origins": OTHER})
    assert frame_ancestors(client.get("/embed/contact")) == [OTHER]  # SITE removed
    admin.post("/admin/settings/embed", data={"embed_origins": ""})
    refused = client.get("/embed/screening/tms")
    assert frame_ancestors(refused) == ["'none'"] and refused.headers["X-Frame-Options"] == "DENY"

    with db.session() as session:
        changes = [
            e.detail["changes"]["embed_origins"]
            for e in session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.kind == "settings.changed")
                .order_by(AuditEvent.id)
            )
        ]
    assert changes == [
        {"before": [SITE], "after": [SITE, OTHER]},
        {"before": [SITE, OTHER], "after": [OTHER]},
        {"before": [OTHER], "after": []},
    ]


@pytest.mark.parametrize(
    "listed",
    [
        "https://clinic.example/contact",
        "*.clinic.example",
        "clinic.example",
        "ftp://clinic.example",
    ],
)
def test_a_bad_origin_is_refused_in_words_and_nothing_is_saved(
    admin: Any, client: Any, db: Database, listed: str
) -> None:
    response = admin.post("/admin/settings/embed", data={"embed_origins": f"{SITE}\n{listed}"})

    assert response.status_code == 422
    assert f"{listed!r} is not an origin" in error_of(response)
    with db.session() as session:
        assert session.get(ClinicSetting, "embed_origins") is None
    assert frame_ancestors(client.get("/embed/contact")) == [SITE]


def test_production_refuses_a_plain_http_origin(app: Flask, db: Database) -> None:
    production = dataclasses.replace(app.extensions["intake.settings"], app_env="production")
    with db.transaction() as session, pytest.raises(clinic_settings.InvalidSetting) as refused:
        clinic_settings.update(
            session, production, {"embed_origins": "http://clinic.example"}, Actor(None, "cli")
        )
    assert "only https:// sites" in str(refused.value)
    with db.transaction() as session:
        changed = clinic_settings.update(
            session, production, {"embed_origins": "https://clinic.example"}, Actor(None, "cli")
        )
    assert changed["embed_origins"]["after"] == ["https://clinic.example"]
