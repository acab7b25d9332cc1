"""The block list and the SMS-pumping pauses in the admin app: add, remove, lift; each audited;
admins only; CSRF on every post."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Database, utcnow
from intake_service.models import AuditEvent, BlockedValue, Lead, SmsPause
from tests.web.admin.conftest import csrf_token_of

CONTACT_FORM = {
    "first_name": "Jane",
    "last_name": "Doe",
    "email": "jane@example.com",
    "phone": "(310) 555-0123",
    "treatment_interest": "ketamine",
    "callback_window": "evening",
    "message": "I would like to know more.",
}


@pytest.fixture
def admin(sign_in: Callable[..., Any]) -> Any:
    """An admin's client; these pages need no templates loaded."""
    return sign_in("admin")


def audit_rows(db: Database, kind: str) -> list[AuditEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                sa.select(AuditEvent).where(AuditEvent.kind == kind).order_by(AuditEvent.id)
            )
        )


def entries(db: Database) -> list[tuple[str, str]]:
    with db.session() as session:
        return [(e.kind, e.value) for e in session.scalars(sa.select(BlockedValue))]


def paused(db: Database, scope: str = "prefix", value: str = "+1213", **fields: Any) -> int:
    with db.transaction() as session:
        pause = SmsPause(
            scope=scope,
            value=value,
            paused_at=fields.pop("paused_at", utcnow() - dt.timedelta(minutes=20)),
            reason="40 texts in the last hour, usually 0.3",
            **fields,
        )
        session.add(pause)
        session.flush()
        return pause.id


def followed(client: Any, response: Any) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return str(client.get(response.headers["Location"]).get_data(as_text=True))


def test_an_added_entry_blocks_the_next_submission_and_is_audited(
    admin: Any, app: Flask, db: Database, accounts: dict[str, tuple[int, str]]
) -> None:
    page = followed(
        admin,
        admin.post(
            "/admin/abuse/blocks",
            data={"kind": "domain", "value": " Spammy.Example ", "note": "bot wave in May"},
        ),
    )
    assert "Email domain “spammy.example” is blocked" in page
    assert "bot wave in May" in page and accounts["admin"][1] in page
    assert entries(db) == [("domain", "spammy.example")]
    (added,) = audit_rows(db, "blocklist.added")
    assert (added.actor_id, added.actor_email) == accounts["admin"]
    assert added.detail["kind"] == "domain" and isinstance(added.detail["entry_id"], int)

    # The block is live: the public form's next submission from that domain is spam.
    public = app.test_client()
    form = {**CONTACT_FORM, "email": "x@mail.spammy.example"}
    posted = public.post("/contact", data={**form, "submission_token": str(uuid.uuid4())})
    assert posted.status_code == 303
    with db.session() as session:
        lead = session.scalars(sa.select(Lead)).one()
    assert (lead.status, lead.spam_reasons) == ("spam", ["blocked_domain"])

    # The same entry again: said so, not added or audited twice.
    again = followed(
        admin, admin.post("/admin/abuse/blocks", data={"kind": "domain", "value": "SPAMMY.example"})
    )
    assert "already on the block list" in again
    assert len(entries(db)) == 1 and len(audit_rows(db, "blocklist.added")) == 1


BAD_ENTRIES = [
    ("phone_prefix", "4470", "starts with + and the country code"),
    ("email", "no-at-sign", "has an @"),
    ("domain", "a@b.example", "the part after the @"),
    ("word", "two words", "has no spaces"),
    ("word", "   ", "needs a value"),
    ("ip", "1.2.3.4", "unknown block list kind"),
    ("word", "x" * 400, "at most 320 characters"),
]


def test_a_bad_entry_is_refused_clearly_and_the_form_keeps_it(admin: Any, db: Database) -> None:
    for kind, value, said in BAD_ENTRIES:
        page = admin.post("/admin/abuse/blocks", data={"kind": kind, "value": value, "note": "n"})
        text = page.get_data(as_text=True)
        assert page.status_code == 422 and said in text and 'id="block-error"' in text, value
        if value.strip() and len(value) < 100:
            assert f'value="{value}"' in text
    assert entries(db) == [] and audit_rows(db, "blocklist.added") == []


def test_removing_an_entry_unblocks_and_is_audited(
    admin: Any, db: Database, accounts: dict[str, tuple[int, str]]
) -> None:
    admin.post("/admin/abuse/blocks", data={"kind": "phone_prefix", "value": "+4470"})
    admin.post("/admin/abuse/blocks", data={"kind": "word", "value": "casino"})
    with db.session() as session:
        entry_id = session.scalars(
            sa.select(BlockedValue.id).where(BlockedValue.value == "+4470")
        ).one()
    page = followed(admin, admin.post(f"/admin/abuse/blocks/{entry_id}/remove"))
    assert "Phone prefix “+4470” is no longer blocked" in page
    assert entries(db) == [("word", "casino")]
    (removed,) = audit_rows(db, "blocklist.removed")
    assert (removed.actor_id, removed.detail) == (
        accounts["admin"][0],
        {"entry_id": entry_id, "kind": "phone_prefix"},
    )
    gone = followed(admin, admin.post(f"/admin/abuse/blocks/{entry_id}/remove"))
    assert "no longer on the block list" in gone and len(audit_rows(db, "blocklist.removed")) == 1


def test_lifting_a_pause_opens_texting_again_and_is_audited(
    admin: Any, db: Database, accounts: dict[str, tuple[int, str]]
) -> None:
    pause_id = paused(db)
    other = paused(db, "country", "+44")
    page = admin.get("/admin/abuse").get_data(as_text=True)
    assert f'id="pause-{pause_id}"' in page and f'id="pause-{other}"' in page
    assert "40 texts in the last hour" in page

    page = followed(admin, admin.post(f"/admin/abuse/pauses/{pause_id}/lift"))
    assert "Texting to prefix +1213 is open again" in page
    assert f'id="pause-{pause_id}"' not in page and f'id="pause-{other}"' in page
    assert 'id="lifted-pauses"' in page and accounts["admin"][1] in page
    with db.session() as session:
        pause = session.get_one(SmsPause, pause_id)
        assert pause.lifted_at is not None and pause.lifted_by == accounts["admin"][1]
        assert session.get_one(SmsPause, other).lifted_at is None
    (lifted,) = audit_rows(db, "sms.pause_lifted")
    assert (lifted.actor_id, lifted.detail) == (
        accounts["admin"][0],
        {"pause_id": pause_id, "scope": "prefix", "value": "+1213"},
    )
    again = followed(admin, admin.post(f"/admin/abuse/pauses/{pause_id}/lift"))
    assert "no longer in force" in again and len(audit_rows(db, "sms.pause_lifted")) == 1
    missing = followed(admin, admin.post("/admin/abuse/pauses/424242/lift"))
    assert "no longer in force" in missing


def test_clinicians_and_coordinators_are_refused_and_nothing_changes(
    admin: Any, sign_in: Callable[..., Any], db: Database
) -> None:
    admin.post("/admin/abuse/blocks", data={"kind": "word", "value": "casino"})
    with db.session() as session:
        entry_id = session.scalars(sa.select(BlockedValue.id)).one()
    pause_id = paused(db)
    for role in ("clinician", "coordinator"):
        client = sign_in(role)
        for method, path, data in [
            ("GET", "/admin/abuse", None),
            ("POST", "/admin/abuse/blocks", {"kind": "word", "value": "forged"}),
            ("POST", f"/admin/abuse/blocks/{entry_id}/remove", None),
            ("POST", f"/admin/abuse/pauses/{pause_id}/lift", None),
        ]:
            response = client.open(path, method=method, data=data)
            assert response.status_code == 403, (role, method, path)
            assert "casino" not in response.get_data(as_text=True)
    assert entries(db) == [("word", "casino")]
    with db.session() as session:
        assert session.get_one(SmsPause, pause_id).lifted_at is None
    assert len(audit_rows(db, "blocklist.added")) == 1
    assert audit_rows(db, "blocklist.removed") == audit_rows(db, "sms.pause_lifted") == []


def test_posts_without_the_csrf_token_are_refused(
    strict_app: Flask, strict_sign_in: Callable[..., Any]
) -> None:
    db: Database = strict_app.extensions["intake.db"]
    client = strict_sign_in("admin")
    token = csrf_token_of(client.get("/admin/abuse").get_data(as_text=True))
    added = client.post(
        "/admin/abuse/blocks", data={"kind": "word", "value": "casino", "csrf_token": token}
    )
    assert added.status_code == 303
    with db.session() as session:
        entry_id = session.scalars(sa.select(BlockedValue.id)).one()
    pause_id = paused(db)
    for path, data in [
        ("/admin/abuse/blocks", {"kind": "word", "value": "forged"}),
        (f"/admin/abuse/blocks/{entry_id}/remove", {}),
        (f"/admin/abuse/pauses/{pause_id}/lift", {}),
    ]:
        assert client.post(path, data=data).status_code == 400, path
    assert entries(db) == [("word", "casino")]
    with db.session() as session:
        assert session.get_one(SmsPause, pause_id).lifted_at is None
    lifted = client.post(f"/admin/abuse/pauses/{pause_id}/lift", data={"csrf_token": token})
    assert lifted.status_code == 303
