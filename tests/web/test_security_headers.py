"""Headers on every answer: CSP without inline code, framing, CORS, caching, no banners."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from flask import Flask
from werkzeug.serving import make_server

from intake_service.migrate import upgrade
from intake_service.web.security_headers import BannerlessRequestHandler
from tests.conftest import base_env
from tests.support import factories

ROOT = Path(__file__).resolve().parents[2]

EMBED = "https://www.sunrise.example"
CORS = "https://app.sunrise.example"
PUBLIC_PAGES = ["/contact", "/screening/tms", "/screening/phq9", "/screening/gad7"]
EMBED_PAGES = ["/embed/contact", "/embed/screening/tms"]


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


@pytest.fixture
def embed_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app(EMBED_ORIGINS=EMBED, CORS_ORIGINS=CORS)


@pytest.mark.parametrize("path", [*PUBLIC_PAGES, *EMBED_PAGES])
def test_public_pages_allow_no_inline_code_but_their_nonced_style(
    embed_app: Flask, path: str
) -> None:
    response = embed_app.test_client().get(path)

    assert response.status_code == 200
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["style-src"] + policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    nonce = re.search(r'<style nonce="([^"]+)">', response.text)
    assert nonce, "the page's one style block carries the nonce"
    assert f"'nonce-{nonce.group(1)}'" in policy["style-src"]
    # Scripts only from files this site serves (forms.js moves focus to the error summary).
    scripts = re.findall(r"<script\b[^>]*>", response.text)
    assert all(re.search(r'\ssrc="/', tag) for tag in scripts), scripts
    assert "'self'" in policy["script-src"] or not scripts
    assert not re.search(r"\sstyle=|\son[a-z]+=", response.text), "no inline style or handler"


def test_nonce_changes_on_every_answer(embed_app: Flask) -> None:
    client = embed_app.test_client()
    first = client.get("/contact").headers["Content-Security-Policy"]
    second = client.get("/contact").headers["Content-Security-Policy"]
    assert first != second


@pytest.mark.parametrize("path", EMBED_PAGES)
def test_embedded_forms_may_be_framed_by_embed_origins_only(embed_app: Flask, path: str) -> None:
    response = embed_app.test_client().get(path)

    assert response.status_code == 200
    assert directives(response.headers["Content-Security-Policy"])["frame-ancestors"] == [EMBED]
    assert "X-Frame-Options" not in response.headers


@pytest.mark.parametrize("path", [*PUBLIC_PAGES, "/privacy"])
def test_the_sites_own_pages_are_never_framed_even_with_embed_origins(
    embed_app: Flask, path: str
) -> None:
    # Their CSRF token lives in a SameSite=Lax cookie a cross-site frame never sends: framed,
    # they could only fail. The clinic's site frames /embed/... instead.
    response = embed_app.test_client().get(path)

    assert directives(response.headers["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", [*PUBLIC_PAGES[:2], *EMBED_PAGES])
def test_form_pages_may_not_be_framed_when_no_origin_is_listed(client: Any, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200
    assert directives(response.headers["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_staff_pages_are_never_framed_and_never_cached(
    embed_app: Flask, db: Any, make_app: Callable[..., Flask]
) -> None:
    client = embed_app.test_client()
    login = client.get("/login")
    assert directives(login.headers["Content-Security-Policy"])["frame-ancestors"] == ["'none'"]
    assert login.headers["X-Frame-Options"] == "DENY"
    assert login.headers["Cache-Control"] == "no-store"


def test_every_staff_page_showing_a_lead_is_no_store(embed_app: Flask) -> None:
    database = embed_app.extensions["intake.db"]
    with database.transaction() as session:
        user = factories.user(session, "admin")
        email = user.email
        lead = factories.lead(session)
        lead_id = lead.id
    client = embed_app.test_client()
    embed_app.config["WTF_CSRF_ENABLED"] = False
    assert (
        client.post(
            "/login", data={"email": email, "password": factories.STAFF_PASSWORD}
        ).status_code
        == 303
    )
    for path in (
        "/staff/leads",
        f"/staff/leads/{lead_id}",
        "/staff/callbacks",
        "/staff/dashboard",
        "/admin/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
        policy = directives(response.headers["Content-Security-Policy"])
        assert policy["script-src"][0] == "'self'", path
        assert "'unsafe-inline'" not in policy["script-src"], path
        # The admin editor previews emails in a srcdoc frame, which inherits this page's policy,
        # and emails carry inline styles: styles only, and only there; scripts never.
        if not path.startswith("/admin/"):
            assert "'unsafe-inline'" not in policy["style-src"], path
        assert not re.search(r"<script(?![^>]*\ssrc=)", response.text), f"inline script on {path}"
        assert "<style" not in response.text, path


def test_common_headers_on_pages_json_and_errors(client: Any) -> None:
    for path in ("/contact", "/healthz", "/api/v1/openapi.json", "/no-such-page"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path
        assert "camera=()" in headers["Permissions-Policy"], path
        assert "geolocation=()" in headers["Permissions-Policy"], path
        assert "Strict-Transport-Security" not in headers, f"{path}: HSTS only over https"


def test_hsts_over_https(client: Any) -> None:
    response = client.get("/contact", base_url="https://intake.sunrise.example")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")


def test_api_answers_an_allowed_origin_with_cors(embed_app: Flask) -> None:
    response = embed_app.test_client().get("/api/v1/openapi.json", headers={"Origin": CORS})

    assert response.headers["Access-Control-Allow-Origin"] == CORS
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize("origin", ["https://evil.example", EMBED, "null", CORS + ".evil.example"])
def test_api_gives_other_origins_no_cors(embed_app: Flask, origin: str) -> None:
    response = embed_app.test_client().get("/api/v1/openapi.json", headers={"Origin": origin})

    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight_from_an_allowed_origin_is_answered(embed_app: Flask) -> None:
    response = embed_app.test_client().options(
        "/api/v1/submissions",
        headers={
            "Origin": CORS,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key",
        },
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == CORS
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed and "idempotency-key" in allowed


def test_preflight_from_another_origin_is_refused(embed_app: Flask) -> None:
    response = embed_app.test_client().options(
        "/api/v1/submissions",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_pages_outside_the_api_never_carry_cors(embed_app: Flask) -> None:
    response = embed_app.test_client().get("/contact", headers={"Origin": CORS})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app behind Werkzeug's server as `intake-service run` starts it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = make_server(
        "127.0.0.1", port, app, threaded=True, request_handler=BannerlessRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()


def test_development_server_names_no_versions(served: str) -> None:
    for path in ("/contact", "/healthz", "/no-such-page"):
        response = requests.get(served + path, timeout=5)
        banner = response.headers.get("Server", "")
        assert "Werkzeug" not in banner and "Python" not in banner, banner
        assert not re.search(r"\d", banner), banner


def test_development_server_logs_no_query_strings(
    served: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO", logger="werkzeug"):
        requests.get(served + "/staff/leads?q=Ottoline+Vanderkamp", timeout=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/staff/leads" in line for line in lines), lines
    assert not any("Ottoline" in line or "?q=" in line for line in lines), lines


@pytest.mark.timeout(120)
def test_gunicorn_as_deployed_names_no_version_and_logs_no_query_strings(
    tmp_path: Path,
) -> None:
    """The web command of docker-compose.yml, run for real on a free port."""
    env = {**os.environ, **base_env(tmp_path / "instance"), "PYTHONPATH": str(ROOT)}
    upgrade(env["DATABASE_URL"])
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = list(compose["services"]["web"]["command"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable if word == "gunicorn" else word
        for word in command
        if not word.startswith(("--bind", "--worker-tmp-dir"))
    ]
    command[1:1] = ["-m", "gunicorn"]
    command += [f"--bind=127.0.0.1:{port}", "--workers=1"]
    log = tmp_path / "gunicorn.log"
    with log.open("w") as output:
        server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=output, stderr=output)
        try:
            for _ in range(100):
                try:
                    response = requests.get(
                        f"http://127.0.0.1:{port}/staff/leads?q=Ottoline+Vanderkamp", timeout=20
                    )
                    break
                except (requests.ConnectionError, requests.Timeout):
                    time.sleep(0.2)
            else:
                pytest.fail(f"gunicorn did not start:\n{log.read_text()}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    assert not re.search(r"\d", response.headers.get("Server", "")), response.headers["Server"]
    text = log.read_text()
    assert "/staff/leads" in text, text
    assert "Ottoline" not in text and "q=" not in text, text
