"""Admin app fixtures: an account per role, clients signed in as them, templates loaded."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from intake_service.db import Database
from tests.domain.builders import load_templates
from tests.support import factories


@pytest.fixture
def accounts(db: Database) -> dict[str, tuple[int, str]]:
    """One active account per role, keyed by role; values are (id, email)."""
    made = {}
    with db.transaction() as session:
        for role in ("admin", "clinician", "coordinator"):
            user = factories.user(session, role, email=f"{role}@clinic.example")
            made[role] = (user.id, user.email)
    return made


@pytest.fixture
def sign_in(app: Flask, accounts: dict[str, tuple[int, str]]) -> Callable[..., Any]:
    """A test client signed in with the given role."""

    def make(role: str = "admin") -> Any:
        client = app.test_client()
        response = client.post(
            "/login", data={"email": accounts[role][1], "password": factories.STAFF_PASSWORD}
        )
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return make


@pytest.fixture
def loaded(db: Database) -> Database:
    """The shipped templates and sequences, as `intake-service templates load` stores them."""
    load_templates(db)
    return db


@pytest.fixture
def admin(sign_in: Callable[..., Any], loaded: Database) -> Any:
    return sign_in("admin")


def csrf_token_of(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def strict_app(make_app: Callable[..., Flask]) -> Flask:
    """An app with CSRF protection on, as in production."""
    return make_app()


@pytest.fixture
def strict_sign_in(strict_app: Flask) -> Callable[..., Any]:
    """A client of the strict app signed in with a new account of `role` (token and all)."""

    def make(role: str = "admin") -> Any:
        db: Database = strict_app.extensions["intake.db"]
        with db.transaction() as session:
            email = factories.user(session, role).email
        client = strict_app.test_client()
        token = csrf_token_of(client.get("/login").get_data(as_text=True))
        response = client.post(
            "/login",
            data={"email": email, "password": factories.STAFF_PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return make
