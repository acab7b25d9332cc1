"""Data requests in the admin app: find a person's lead, export it as a download, delete it
after typing its reference; admins only, CSRF on every post, each step audited."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database
from intake_service.models import ArchivedConsent, AuditEvent, Lead, Submission
from tests.support import factories
from tests.web.admin.conftest import csrf_token_of

FREE_TEXT = "The second ketamine session left me shaking for hours"
EMAIL = "Wilma.Flint@Patients.example"
PHONE = "+13105550177"


def person(db: Database, **fields: Any) -> uuid.UUID:
    with db.transaction() as session:
        lead = factories.lead(
            session,
            first_name="Wilma",
            last_name="Flint",
            email=EMAIL,
            phone=PHONE,
            message=FREE_TEXT,
            sms_consent=True,
            **fields,
        )
        factories.message(session, lead, body_text="Hi Wilma, thanks for reaching out")
        return lead.id


def ref(lead_id: uuid.UUID) -> str:
    return lead_id.hex[:8]


def audit_rows(db: Database, kind: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(session.scalars(sa.select(AuditEvent).where(AuditEvent.kind == kind)))


def lead_exists(db: Database, lead_id: uuid.UUID) -> bool:
    with db.session() as session:
        return session.get(Lead, lead_id) is not None


@pytest.fixture
def admin(sign_in: Callable[..., Any]) -> Any:
    """An admin's client; these pages need no templates loaded."""
    return sign_in("admin")


def test_a_person_is_found_by_email_phone_or_reference_and_only_whole(
    admin: Any, db: Database
) -> None:
    lead_id = person(db)
    with db.transaction() as session:
        factories.lead(session, first_name="Someone", last_name="Else")
    for query in (
        "wilma.flint@patients.example",  # another case
        "(310) 555-0177",  # another format of the phone
        "310.555.0177",
        ref(lead_id).upper(),  # the reference in the person's messages
        str(lead_id),
    ):
        page = admin.get("/admin/data-requests", query_string={"q": query})
        text = page.get_data(as_text=True)
        assert page.status_code == 200
        assert f"/admin/data-requests/{lead_id}" in text and "Wilma Flint" in text, query
        assert "Someone Else" not in text
    for query in ("0177", "patients.example", "wilma", "zzzzzzzz", ref(lead_id)[:7]):
        text = admin.get("/admin/data-requests", query_string={"q": query}).get_data(as_text=True)
        assert "Wilma" not in text and 'id="no-match"' in text, query


def test_an_overlong_search_is_a_clear_400(admin: Any) -> None:
    page = admin.get("/admin/data-requests", query_string={"q": "x" * 400})
    assert page.status_code == 400 and "at most 320 characters" in page.get_data(as_text=True)


def test_the_lead_page_says_what_is_held_and_the_view_is_audited(
    admin: Any, db: Database, accounts: dict[str, tuple[int, str]]
) -> None:
    lead_id = person(db)
    page = admin.get(f"/admin/data-requests/{lead_id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "Wilma Flint" in text and ref(lead_id) in text
    assert FREE_TEXT not in text  # the page counts rows; the health data stays in the file
    assert "submissions" in text and "consent events" in text
    (viewed,) = audit_rows(db, "lead.viewed")
    assert (viewed.lead_id, viewed.actor_id, viewed.detail) == (
        lead_id,
        accounts["admin"][0],
        {"via": "data_request"},
    )
    assert admin.get(f"/admin/data-requests/{uuid.uuid4()}").status_code == 404


def test_export_downloads_everything_uncached_and_is_audited(
    admin: Any, db: Database, accounts: dict[str, tuple[int, str]]
) -> None:
    lead_id = person(db)
    response = admin.post(f"/admin/data-requests/{lead_id}/export")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="lead-{ref(lead_id)}-export.json"'
    )
    assert response.headers["Cache-Control"] == "no-store"
    document = json.loads(response.get_data(as_text=True))
    assert document["format"] == "intake-service lead export v1"
    assert document["lead"]["id"] == str(lead_id)
    assert document["submissions"][0]["message"] == FREE_TEXT  # decrypted: it is theirs
    assert document["messages"] and document["consent_events"]
    (exported,) = audit_rows(db, "lead.exported")
    assert (exported.lead_id, exported.actor_id, exported.actor_email) == (
        lead_id,
        *accounts["admin"],
    )
    assert exported.at is not None
    assert "Wilma" not in json.dumps(exported.detail) and FREE_TEXT not in json.dumps(
        exported.detail
    )
    assert admin.post(f"/admin/data-requests/{uuid.uuid4()}/export").status_code == 404


def test_delete_without_the_right_reference_deletes_nothing(admin: Any, db: Database) -> None:
    lead_id = person(db)
    for data in ({}, {"confirm": ""}, {"confirm": "wrong"}, {"confirm": ref(lead_id)[:7]}):
        page = admin.post(f"/admin/data-requests/{lead_id}/delete", data=data)
        assert page.status_code == 422, data
        text = page.get_data(as_text=True)
        assert "Nothing was deleted" in text
        assert f"type the lead&#39;s reference, {ref(lead_id)}" in text
    assert lead_exists(db, lead_id)
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 1
    assert audit_rows(db, "lead.deleted") == []


def test_delete_with_the_reference_deletes_the_person_and_keeps_the_proof(
    admin: Any, db: Database, accounts: dict[str, tuple[int, str]]
) -> None:
    lead_id = person(db)
    response = admin.post(
        f"/admin/data-requests/{lead_id}/delete", data={"confirm": f"  {ref(lead_id).upper()} "}
    )
    assert response.status_code == 303
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Lead {ref(lead_id)} is deleted" in page
    assert not lead_exists(db, lead_id)
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Submission)) == 0
        kept = session.scalars(sa.select(ArchivedConsent)).all()
    assert {line.channel for line in kept} == {"email", "sms"}
    (deleted,) = audit_rows(db, "lead.deleted")
    assert (deleted.lead_id, deleted.actor_id, deleted.actor_email) == (lead_id, *accounts["admin"])
    assert "Wilma" not in json.dumps(deleted.detail) and "ketamine" not in json.dumps(
        deleted.detail
    )
    found = admin.get("/admin/data-requests", query_string={"q": EMAIL}).get_data(as_text=True)
    assert 'id="no-match"' in found
    # A second click on a stale page: clear, not a 500.
    again = admin.post(f"/admin/data-requests/{lead_id}/delete", data={"confirm": ref(lead_id)})
    assert again.status_code == 303
    assert "no longer held" in admin.get(again.headers["Location"]).get_data(as_text=True)


def test_clinicians_and_coordinators_are_refused_every_data_request_door(
    sign_in: Callable[..., Any], db: Database
) -> None:
    lead_id = person(db)
    doors = [
        ("GET", "/admin/data-requests?q=" + PHONE, None),
        ("GET", f"/admin/data-requests/{lead_id}", None),
        ("POST", f"/admin/data-requests/{lead_id}/export", None),
        ("POST", f"/admin/data-requests/{lead_id}/delete", {"confirm": ref(lead_id)}),
    ]
    for role in ("clinician", "coordinator"):
        client = sign_in(role)
        for method, path, data in doors:
            response = client.open(path, method=method, data=data)
            assert response.status_code == 403, (role, method, path)
            assert "Wilma" not in response.get_data(as_text=True)
    assert lead_exists(db, lead_id)
    assert audit_rows(db, "lead.exported") == [] and audit_rows(db, "lead.deleted") == []


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(
    strict_app: Flask, strict_sign_in: Callable[..., Any]
) -> None:
    db: Database = strict_app.extensions["intake.db"]
    lead_id = person(db)
    client = strict_sign_in("admin")
    for action, data in [("export", {}), ("delete", {"confirm": ref(lead_id)})]:
        response = client.post(f"/admin/data-requests/{lead_id}/{action}", data=data)
        assert response.status_code == 400, action
        assert "Content-Disposition" not in response.headers
    assert lead_exists(db, lead_id)
    assert audit_rows(db, "lead.exported") == [] and audit_rows(db, "lead.deleted") == []
    # With the page's own token, the same post works.
    page = client.get(f"/admin/data-requests/{lead_id}").get_data(as_text=True)
    token = csrf_token_of(page)
    data = {"confirm": ref(lead_id), "csrf_token": token}
    response = client.post(f"/admin/data-requests/{lead_id}/delete", data=data)
    assert response.status_code == 303 and not lead_exists(db, lead_id)
