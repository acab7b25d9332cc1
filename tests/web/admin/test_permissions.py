"""Every admin page, for every method, is for administrators only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

ARGS = {
    "template_id": 1,
    "number": 1,
    "message_id": 1,
    "user_id": 1,
    "step_id": 1,
    "treatment": "tms",
    "filename": "admin.js",
    "lead_id": uuid.UUID("6f1c2a9e-4b7d-4e21-9a53-0c8d2f1e7b64"),
    "entry_id": 1,
    "pause_id": 1,
    "rule_id": 1,
    "queue_id": 1,
    "member_id": 1,
    "state": "TX",
}


def admin_routes(app: Flask) -> list[tuple[str, str]]:
    routes = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin.") or rule.endpoint == "admin.static":
                continue
            url = url_for(rule.endpoint, **{a: ARGS[a] for a in rule.arguments})
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes.append((method, url))
    return routes


def test_the_admin_app_has_every_section(app: Flask) -> None:
    urls = {url for _, url in admin_routes(app)}
    for path in (
        "/admin/",
        "/admin/templates",
        "/admin/messages/failed",
        "/admin/users",
        "/admin/sequences",
        "/admin/routing",
        "/admin/settings",
        "/admin/settings/hours",
        "/admin/settings/logo",
        "/admin/settings/embed",
        "/admin/settings/quiet-hours",
        "/admin/settings/quiet-hours/TX",
        "/admin/audit",
        "/admin/abuse",
        "/admin/data-requests",
    ):
        assert path in urls


@pytest.mark.parametrize("role", ["coordinator", "clinician"])
def test_coordinators_and_clinicians_are_refused_every_admin_page(
    app: Flask, sign_in: Callable[..., Any], role: str
) -> None:
    client = sign_in(role)
    routes = admin_routes(app)
    assert len(routes) > 25
    for method, url in routes:
        response = client.open(url, method=method, data={"role": "admin", "enabled": "1"})
        assert response.status_code == 403, (method, url, response.status_code)
        assert "Administration" not in response.get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(app: Flask) -> None:
    client = app.test_client()
    for method, url in admin_routes(app):
        response = client.open(url, method=method)
        assert response.status_code == 302, (method, url)
        assert response.headers["Location"].startswith("/login?next=")


def test_an_admin_reaches_every_section_and_pages_are_locked_down(admin: Any, app: Flask) -> None:
    for method, url in admin_routes(app):
        if method != "GET" or "<" in url or url.count("/") > 3 or str(ARGS["lead_id"]) in url:
            continue
        response = admin.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store"
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
