"""Cross-site request forgery: every form post without its token is refused and changes nothing.

Posts that carry their own credential instead of a session cookie are exempt by design and
listed here with the reason: the JSON API (no cookies), signed acknowledgement links, and
webhooks (signed by their sender).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from intake_service.db import Base, Database, utcnow
from tests.support import factories

pytestmark = pytest.mark.security

EXEMPT_PREFIXES = ("/api/", "/ack/", "/webhooks/", "/unsubscribe/")
FORM_DATA = {
    "first_name": "Forged",
    "last_name": "Post",
    "email": "forged@evil.example",
    "phone": "(310) 555-0144",
    "message": "forged",
    "note": "forged note",
    "outcome": "reached",
    "mark": "spam",
    "code": "123456",
    "email_or_phone": "x",
    "password": factories.STAFF_PASSWORD,
}


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as connection:
        return {
            table.name: connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            # Sign-in tries and their audit lines are written on purpose for refused posts too.
            if table.name not in ("login_attempts", "audit_events")
        }


def csrf_token(client: Any, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, f"no CSRF token on {path}"
    return found.group(1)


@pytest.fixture
def strict_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()  # CSRF on, as in production


def test_every_form_post_without_a_token_is_refused(
    strict_app: Flask, tally: Callable[..., Any]
) -> None:
    cases = tally("csrf")
    db: Database = strict_app.extensions["intake.db"]
    with db.transaction() as session:
        admin = factories.user(session, "admin")
        lead = factories.lead(session)
        callback = factories.callback(session, lead, utcnow())
        values = {"lead_id": lead.id, "callback_id": callback.id, "email": admin.email}
    # Whole-number ids and the treatment: any value that routes, so the CSRF check is reached.
    values.update(
        {
            name: 1
            for name in (
                "message_id",
                "step_id",
                "template_id",
                "number",
                "user_id",
                "entry_id",
                "pause_id",
                "rule_id",
                "queue_id",
                "member_id",
                "inbound_id",
            )
        },
        treatment="tms",
    )
    client = strict_app.test_client()
    token = csrf_token(client, "/login")
    signed = client.post(
        "/login",
        data={"email": values["email"], "password": factories.STAFF_PASSWORD, "csrf_token": token},
    )
    assert signed.status_code == 303
    before = row_counts(db)
    posts = 0
    for rule in strict_app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.rule.startswith(EXEMPT_PREFIXES):
            continue
        path = rule.rule
        for name in rule.arguments:
            value = values.get(name, uuid.uuid4())
            path = re.sub(rf"<(?:\w+:)?{name}>", str(value), path)
        for origin in (None, "https://evil.example"):
            headers = {"Origin": origin} if origin else {}
            response = client.post(path, data=FORM_DATA, headers=headers)
            posts += 1
            cases.case(
                response.status_code in (400, 403),
                f"POST {rule.rule} without a token gave {response.status_code}",
            )
    cases.case(posts >= 10, f"only {posts} form posts found")
    cases.case(row_counts(db) == before, "a refused post changed the database")
    still_in = client.get("/staff/leads").status_code
    cases.case(still_in == 200, "a refused logout still signed the user out")
    cases.check()


def test_a_token_from_another_session_is_refused(
    strict_app: Flask, tally: Callable[..., Any]
) -> None:
    cases = tally("csrf")
    db: Database = strict_app.extensions["intake.db"]
    attacker = strict_app.test_client()
    stolen = csrf_token(attacker, "/contact")
    victim = strict_app.test_client()
    victim.get("/contact")
    before = row_counts(db)
    response = victim.post("/contact", data={**FORM_DATA, "csrf_token": stolen})
    cases.case(response.status_code == 400, f"another session's token gave {response.status_code}")
    cases.case(row_counts(db) == before, "a forged contact form was stored")
    cases.check()
