"""Doors: brute force locked out, every staff and admin address refused to the wrong people,
the dev mailbox absent in production, and no redirect that leaves the site."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from flask import Flask
from werkzeug.routing import Rule

from intake_service.db import Database, utcnow
from tests.support import factories

pytestmark = pytest.mark.security

ROLES = ("admin", "clinician", "coordinator")
PROTECTED_PREFIXES = ("/staff", "/admin")
OPEN_ENDPOINTS = {"staff.static"}


@pytest.fixture
def site(app: Flask) -> dict[str, Any]:
    """One account per role, and a lead and a callback for the addresses that name one."""
    db: Database = app.extensions["intake.db"]
    with db.transaction() as session:
        emails = {role: factories.user(session, role).email for role in ROLES}
        lead = factories.lead(session)
        callback = factories.callback(session, lead, utcnow())
        return {"emails": emails, "lead_id": lead.id, "callback_id": callback.id}


def protected_rules(app: Flask) -> Iterator[Rule]:
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PROTECTED_PREFIXES) and rule.endpoint not in OPEN_ENDPOINTS:
            yield rule


def address(rule: Rule, site: dict[str, Any]) -> str:
    values = {"lead_id": site["lead_id"], "callback_id": site["callback_id"]}
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<uuid:{name}>", str(values.get(name, uuid.uuid4())))
        path = path.replace(f"<int:{name}>", str(values.get(name, 1)))
    return path


def methods(rule: Rule) -> list[str]:
    return sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def signed_in(app: Flask, email: str) -> Any:
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": factories.STAFF_PASSWORD})
    assert response.status_code == 303
    return client


def refused_to_anonymous(response: Any) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    location = response.headers.get("Location", "")
    return response.status_code in (302, 303) and urlsplit(location).path == "/login"


def test_anonymous_visitors_reach_no_staff_or_admin_address(
    app: Flask, site: dict[str, Any], tally: Callable[..., Any]
) -> None:
    cases = tally("access: anonymous")
    client = app.test_client()
    for rule in protected_rules(app):
        for method in methods(rule):
            response = client.open(address(rule, site), method=method, data={"note": "x"})
            cases.case(
                refused_to_anonymous(response),
                f"{method} {rule.rule} gave {response.status_code} to an anonymous visitor",
            )
            cases.case(b"Pat" not in response.data, f"{method} {rule.rule} showed a lead's name")
    cases.check()


def test_only_admins_reach_admin_addresses(
    app: Flask, site: dict[str, Any], tally: Callable[..., Any]
) -> None:
    cases = tally("access: roles")
    for role in ("clinician", "coordinator"):
        client = signed_in(app, site["emails"][role])
        for rule in protected_rules(app):
            if not rule.rule.startswith("/admin"):
                continue
            for method in methods(rule):
                response = client.open(address(rule, site), method=method, data={})
                cases.case(
                    response.status_code in (403, 404),
                    f"{role}: {method} {rule.rule} gave {response.status_code}",
                )
    admin = signed_in(app, site["emails"]["admin"])
    cases.case(admin.get("/admin/").status_code == 200, "an admin could not open /admin/")
    cases.check()


def test_every_role_reaches_the_staff_pages_it_should(
    app: Flask, site: dict[str, Any], tally: Callable[..., Any]
) -> None:
    cases = tally("access: roles")
    for role in ROLES:
        client = signed_in(app, site["emails"][role])
        for path in ("/staff/leads", f"/staff/leads/{site['lead_id']}", "/staff/callbacks"):
            response = client.get(path)
            cases.case(response.status_code == 200, f"{role}: GET {path} {response.status_code}")
    cases.check()


def test_brute_force_is_locked_out(
    app: Flask, site: dict[str, Any], tally: Callable[..., Any]
) -> None:
    cases = tally("access: brute force")
    client = app.test_client()
    victim = site["emails"]["admin"]
    statuses = [
        client.post(
            "/login", data={"email": victim, "password": f"guess number {n:04d}"}
        ).status_code
        for n in range(8)
    ]
    for n, status in enumerate(statuses):
        cases.case(status in (401, 429), f"guess {n} answered {status}")
    cases.case(statuses[-1] == 429, f"still guessing after 8 tries: {statuses}")
    right = client.post("/login", data={"email": victim, "password": factories.STAFF_PASSWORD})
    cases.case(right.status_code == 429, "the right password got in during a lockout")
    # Spraying many accounts from one address is stopped too.
    sprayer = app.test_client()
    sprayed = [
        sprayer.post(
            "/login",
            data={"email": f"user{n}@clinic.example", "password": "Winter2026!"},
            environ_base={"REMOTE_ADDR": "203.0.113.9"},
        ).status_code
        for n in range(25)
    ]
    cases.case(sprayed[-1] == 429, f"password spraying was never stopped: {sprayed[-5:]}")
    cases.check()


def test_dev_mailbox_is_absent_in_production(
    make_app: Callable[..., Flask], tally: Callable[..., Any]
) -> None:
    cases = tally("access: dev mailbox in production")
    production = make_app(
        APP_ENV="production",
        METRICS_TOKEN="metrics-token-0123456789abcdef",
        SMTP_URL="smtp://127.0.0.1:2525",
        SMS_ENABLED="false",
        RATELIMIT_ENABLED="false",
    )
    client = production.test_client()
    for path in ("/dev/mailbox", "/dev/mailbox/1", "/dev/outbox", "/dev/mailbox/../mailbox"):
        response = client.get(path, follow_redirects=True)
        cases.case(response.status_code == 404, f"{path} gave {response.status_code}")
    cases.check()


REDIRECTS = [
    "https://evil.example/",
    "http://evil.example",
    "//evil.example",
    "///evil.example",
    "////evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\\/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\r/evil.example",
    " //evil.example",
    "\t//evil.example",
    "/%09/evil.example",
    "/%2F/evil.example",
    "%2F%2Fevil.example",
    "https:evil.example",
    "https:/evil.example",
    "http:/\\evil.example",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example@intake.sunrise.example",
    "/\x00/evil.example",
    "/\x0b/evil.example",
    "/ /evil.example",
    "/\u3000/evil.example",
    "//%65vil.example",
    "/.//evil.example",
    "http://127.0.0.1:5000@evil.example",
]


def stays_on_site(location: str) -> bool:
    parts = urlsplit(location)
    host_ok = parts.netloc in ("", "localhost", "127.0.0.1:5000")
    return (
        host_ok
        and parts.scheme in ("", "http", "https")
        and not location.lstrip().startswith(("//", "\\", "/\\"))
        and not any(ord(c) < 0x21 for c in location)
    )


def test_no_redirect_leaves_the_site(
    app: Flask, site: dict[str, Any], tally: Callable[..., Any]
) -> None:
    cases = tally("access: open redirects")
    email = site["emails"]["coordinator"]
    for target in REDIRECTS:
        client = app.test_client()
        posted = client.post(
            "/login", data={"email": email, "password": factories.STAFF_PASSWORD, "next": target}
        )
        location = posted.headers.get("Location", "")
        cases.case(stays_on_site(location), f"login next={target!r} -> {location!r}")
        again = client.get(f"/login?next={quote(target, safe='')}")
        location = again.headers.get("Location", "")
        cases.case(stays_on_site(location), f"signed-in GET next={target!r} -> {location!r}")
        anonymous = app.test_client().get(f"/staff/leads?next={quote(target, safe='')}")
        location = anonymous.headers.get("Location", "")
        cases.case(stays_on_site(location), f"sign-in prompt -> {location!r}")
    for path in ("/dev/outbox//evil.example", "/dev/outbox/%2F%2Fevil.example", "/staff"):
        response = app.test_client().get(path)
        location = response.headers.get("Location", "")
        cases.case(stays_on_site(location), f"GET {path} -> {location!r}")
    cases.check()
