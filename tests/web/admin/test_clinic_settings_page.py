"""/admin/settings: opening hours and first-contact deadlines that the escalation clock and the
public pages use; the public pages' logo and colour. Refusals store nothing; changes are audited."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.domain import intake
from intake_service.models import AuditEvent, ClinicAsset, ClinicSetting, Escalation, Lead
from tests.domain.builders import process, submit
from tests.support import images
from tests.web.admin.conftest import csrf_token_of

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
DEADLINES = {
    "first_contact_urgent_minutes": "5",
    "first_contact_high_minutes": "60",
    "first_contact_normal_days": "1",
}


def hours_form(**days: tuple[str, str] | None) -> dict[str, str]:
    """The hours form: Monday to Friday 9 to 5 unless a day is given (None: closed)."""
    form = dict(DEADLINES)
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun"):
        period = days.get(day, ("09:00", "17:00") if day in WEEKDAYS else None)
        if period is not None:
            form[f"open_{day}"] = "1"
            form[f"opens_{day}"], form[f"closes_{day}"] = period
    return form


def error_of(response: Any) -> str:
    found = re.search(r'id="settings-error">([^<]*)<', response.get_data(as_text=True))
    assert found, "no error on the page"
    return html.unescape(found[1])


def stored(db: Database) -> tuple[Any, ...]:
    with db.session() as session:
        return (
            {row.key: row.value for row in session.scalars(sa.select(ClinicSetting))},
            session.scalars(sa.select(ClinicAsset.digest)).all(),
            session.scalar(
                sa.select(sa.func.count(AuditEvent.id)).where(AuditEvent.kind == "settings.changed")
            ),
        )


def last_change(db: Database) -> dict[str, Any]:
    with db.session() as session:
        event = session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.kind == "settings.changed")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event is not None
        changes: dict[str, Any] = event.detail["changes"]
        return changes


def round_one_due(app: Flask, arrived: dt.datetime, **changes: Any) -> dt.datetime:
    """Submit and process a lead that arrived at `arrived` (the clock a test controls)."""
    db: Database = app.extensions["intake.db"]
    who = intake.Contact(first_name="Ana", email=f"{uuid.uuid4().hex[:10]}@patients.example")
    lead_id = submit(app, contact=who, sms_consent=False, **changes)
    with db.transaction() as session:
        session.get_one(Lead, lead_id).created_at = arrived.astimezone(dt.UTC)
    process(app, lead_id)
    with db.session() as session:
        due = session.scalars(
            sa.select(Escalation.due_at).where(Escalation.lead_id == lead_id, Escalation.round == 1)
        ).one()
    return due.astimezone(LA)


# A contact form (treatment "unsure", no screening): normal priority, one business day.
NORMAL = {"form": "contact", "treatment_interest": "unsure", "answers": {}}
TUESDAY_4PM = dt.datetime(2026, 12, 1, 16, 0, tzinfo=LA)


def test_business_hours_an_admin_sets_move_the_first_contact_deadline(
    app: Flask, admin: Any, loaded: Database
) -> None:
    # The environment's hours (Monday to Friday, 9 to 5): the same time the next day.
    assert round_one_due(app, TUESDAY_4PM, **NORMAL) == dt.datetime(2026, 12, 2, 16, 0, tzinfo=LA)

    form = hours_form(wed=("12:00", "17:00"))
    assert admin.post("/admin/settings/hours", data=form).status_code == 303
    # Tuesday 4 pm: an hour on Tuesday, Wednesday's five, two on Thursday morning.
    assert round_one_due(app, TUESDAY_4PM, **NORMAL) == dt.datetime(2026, 12, 3, 11, 0, tzinfo=LA)
    changes = last_change(loaded)
    assert changes["opening_hours"]["before"]["wed"] == ["09:00", "17:00"]
    assert changes["opening_hours"]["after"]["wed"] == ["12:00", "17:00"]

    # Times to first contact: a strong candidate (the TMS self-screen) gets 30 minutes now.
    admin.post("/admin/settings/hours", data={**form, "first_contact_high_minutes": "30"})
    assert last_change(loaded) == {"first_contact_high_minutes": {"before": 60, "after": 30}}
    assert round_one_due(app, TUESDAY_4PM) == TUESDAY_4PM + dt.timedelta(minutes=30)
    # Two business days for everyone else.
    admin.post("/admin/settings/hours", data={**form, "first_contact_normal_days": "2"})
    assert round_one_due(app, TUESDAY_4PM, **NORMAL) == dt.datetime(2026, 12, 4, 11, 0, tzinfo=LA)


def test_the_deadline_counts_in_the_time_zone_of_the_clinic_settings(
    app: Flask, admin: Any, loaded: Database
) -> None:
    form = {
        "name": "Sunrise Clinic",
        "phone": "(310) 555-0100",
        "address": "100 Main St, Los Angeles, CA 90001",
        "timezone": "America/New_York",
    }
    assert admin.post("/admin/settings", data=form).status_code == 303
    # 4 pm in Los Angeles is 7 pm in New York, after closing: due at Wednesday's close there.
    due = round_one_due(app, TUESDAY_4PM, **NORMAL)
    assert due == dt.datetime(2026, 12, 2, 17, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"closes_tue": "08:00"}, "Tuesday closes at 08:00, before it opens at 09:00"),
        ({"opens_wed": "9am"}, "Wednesday: '9am' is not a time"),
        ({f"open_{day}": "" for day in WEEKDAYS}, "open on at least one day"),
        ({"first_contact_urgent_minutes": "0"}, "from 1 to 120"),
        ({"first_contact_high_minutes": "soon"}, "must be a number of minutes"),
        ({"first_contact_normal_days": "1.5"}, "number of business days from 1 to 10"),
        ({"first_contact_urgent_minutes": "90"}, "Urgent leads must be called first"),
    ],
)
def test_a_refused_hours_form_stores_nothing_and_keeps_what_was_typed(
    admin: Any, loaded: Database, changes: dict[str, str], words: str
) -> None:
    before = stored(loaded)
    form = {**hours_form(), **changes}
    form = {k: v for k, v in form.items() if v != ""}
    response = admin.post("/admin/settings/hours", data=form)
    assert response.status_code == 422
    assert words in error_of(response)
    assert stored(loaded) == before
    for value in changes.values():
        if value:
            assert f'value="{value}"' in response.get_data(as_text=True)


def test_saved_hours_are_what_the_public_pages_say_in_either_language(
    admin: Any, client: Any, loaded: Database
) -> None:
    assert "Open Monday to Friday, 9 am to 5 pm" in client.get("/contact").get_data(as_text=True)
    admin.post(
        "/admin/settings/hours",
        data=hours_form(**{d: ("08:00", "18:30") for d in WEEKDAYS}, sat=("10:00", "13:00")),
    )
    page = html.unescape(client.get("/contact").get_data(as_text=True))
    assert "Open Monday to Friday, 8 am to 6:30 pm; Saturday, 10 am to 1 pm" in page
    spanish = html.unescape(client.get("/contact?lang=es").get_data(as_text=True))
    assert "de lunes a viernes, de 8 a. m. a 6:30 p. m.; sábado, de 10 a. m. a 1 p. m." in spanish


def test_a_colour_with_too_little_contrast_is_refused_and_a_good_one_reaches_the_pages(
    admin: Any, client: Any, loaded: Database
) -> None:
    before = stored(loaded)
    for bad, words in [
        ("#7fb3e0", "White text on #7fb3e0 has a contrast of 2.2:1; WCAG AA needs at least 4.5:1"),
        ("#ffff00", "contrast of 1.1:1"),
        ("blue", "'blue' is not a colour; write it in hex"),
        ("#12345g", "not a colour"),
    ]:
        response = admin.post("/admin/settings/look", data={"brand_color": bad})
        assert response.status_code == 422 and words in error_of(response), bad
    assert stored(loaded) == before

    assert admin.post("/admin/settings/look", data={"brand_color": "#5A2D82"}).status_code == 303
    assert last_change(loaded) == {"brand_color": {"before": "", "after": "#5a2d82"}}
    response = client.get("/contact")
    page = response.get_data(as_text=True)
    style = re.search(r'<style nonce="([^"]+)">(.*?)</style>', page, re.S)
    assert style is not None and "--brand: #5a2d82; --brand-dark: #442262;" in style[2]
    # The colour rides in the one style element the CSP allows by its nonce.
    assert f"'nonce-{style[1]}'" in response.headers["Content-Security-Policy"]
    assert "style=" not in page
    # Empty: back to the pages' own colour.
    admin.post("/admin/settings/look", data={"brand_color": ""})
    assert "#5a2d82" not in client.get("/contact").get_data(as_text=True)


def upload(client: Any, data: bytes, name: str = "logo.png") -> Any:
    return client.post(
        "/admin/settings/logo",
        data={"logo": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_a_logo_that_is_not_a_png_or_jpeg_is_refused_and_nothing_is_stored(
    admin: Any, loaded: Database
) -> None:
    before = stored(loaded)
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    for data, name, words in [
        (b"Hello, I am a text file", "logo.png", "not a PNG or JPEG image"),
        (svg, "logo.svg", "SVG files can carry scripts"),
        (b"GIF89a" + b"\x00" * 40, "logo.gif", "not a PNG or JPEG image"),
        (b"\x89PNG\r\n\x1a\n" + b"<html>", "logo.png", "not a PNG or JPEG image"),
        (b"", "logo.png", "The file is empty"),
        (images.png() + b"\x00" * (512 * 1024), "big.png", "a logo can be at most 512 KiB"),
    ]:
        response = upload(admin, data, name)
        assert response.status_code == 422 and words in error_of(response), name
    no_file = admin.post("/admin/settings/logo", data={}, content_type="multipart/form-data")
    assert no_file.status_code == 422 and "The file is empty" in error_of(no_file)
    assert stored(loaded) == before
    # Over the upload's own body limit: refused before it is read, with the limit named.
    huge = upload(admin, b"\xff\xd8\xff" + b"\x00" * (3 * 1024 * 1024))
    assert huge.status_code == 413 and "2048 KiB" in huge.get_data(as_text=True)
    assert stored(loaded) == before


def test_the_logo_appears_on_the_public_pages_and_is_served_safely(
    admin: Any, client: Any, loaded: Database
) -> None:
    logo = images.png()
    assert upload(admin, logo).status_code == 303
    digest = last_change(loaded)["logo"]["after"]
    assert last_change(loaded)["logo"] == {
        "before": None, "after": digest, "type": "image/png", "bytes": len(logo),
    }  # fmt: skip
    for path in ("/contact", "/screening/tms", "/embed/contact"):
        page = client.get(path).get_data(as_text=True)
        img = re.search(r'<img [^>]*src="(/clinic/logo/[^"]+)" alt="([^"]+)"', page)
        assert img is not None and img[2] == "Sunrise Clinic", path
    served = client.get(img[1])
    assert served.status_code == 200 and served.data == logo
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert client.get(img[1], headers={"If-None-Match": f'"{digest}"'}).status_code == 304

    # A new logo is a new address; the old one is gone, and so is a JPEG under a PNG name.
    jpeg = images.jpeg_start()
    assert upload(admin, jpeg, "photo.png").status_code == 303
    assert client.get(img[1]).status_code == 404
    new = re.search(r'src="(/clinic/logo/[^"]+)"', client.get("/contact").get_data(as_text=True))
    assert new is not None and new[1].endswith(".jpg")
    assert client.get(new[1]).headers["Content-Type"] == "image/jpeg"

    admin.post("/admin/settings/logo/remove")
    assert last_change(loaded)["logo"]["after"] is None
    page = client.get("/contact").get_data(as_text=True)
    assert "/clinic/logo/" not in page and ">Sunrise Clinic</a>" in page


def test_settings_forms_need_the_csrf_token(
    strict_sign_in: Callable[..., Any], strict_app: Flask
) -> None:
    client = strict_sign_in("admin")
    db: Database = strict_app.extensions["intake.db"]
    before = stored(db)
    assert client.post("/admin/settings/hours", data=hours_form()).status_code == 400
    assert client.post("/admin/settings/look", data={"brand_color": "#5a2d82"}).status_code == 400
    assert upload(client, images.png()).status_code == 400
    assert client.post("/admin/settings/logo/remove").status_code == 400
    assert stored(db) == before
    token = csrf_token_of(client.get("/admin/settings").get_data(as_text=True))
    response = client.post(
        "/admin/settings/look", data={"brand_color": "#5a2d82", "csrf_token": token}
    )
    assert response.status_code == 303 and stored(db) != before
