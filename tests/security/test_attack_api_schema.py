"""Schemathesis against /api/v1/openapi.json, in process through the WSGI app: bodies that fit
the schema and bodies that break it, a bounded number of each; never a 500, and every answer
(status, content type, body, headers) as the document says."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.security

# Enough to cover every field's edge a few times, bounded so the suite stays under two minutes.
EXAMPLES = {GenerationMode.POSITIVE: 300, GenerationMode.NEGATIVE: 300}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


# Bodies that fit the schema also on PostgreSQL, which refuses a value longer than its column
# where SQLite stores it: a limit the schema allows and a column does not is a 500 there.
RUNS = [
    (GenerationMode.POSITIVE, "sqlite"),
    (GenerationMode.POSITIVE, "postgresql"),
    (GenerationMode.NEGATIVE, "sqlite"),
]


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("mode", "backend"), RUNS, ids=lambda v: str(v))
def test_every_operation_answers_as_documented_and_never_fails(
    make_app: Callable[..., Flask],
    mode: GenerationMode,
    backend: str,
    request: pytest.FixtureRequest,
    tally: Callable[..., Any],
) -> None:
    if backend == "postgresql":
        app = make_app(DATABASE_URL=str(request.getfixturevalue("pg_url")))
    else:
        app = request.getfixturevalue("app")
    cases = tally(f"schemathesis: {mode.value} on {backend}")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert any(op.path == "/api/v1/submissions" for op in operations), "the API is not described"
    for operation in operations:
        fuzz(operation, mode, cases)
    cases.check()


def fuzz(operation: Any, mode: GenerationMode, cases: Any) -> None:
    """Send EXAMPLES[mode] generated requests to `operation`, each answer checked and counted."""
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,  # the same cases every run: a failure reproduces
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        response = case.call()
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as failure:  # each check raises its own kind
            first_line = str(failure).strip().splitlines()[0][:160]
            cases.case(False, f"{label}: {first_line}")
        else:
            cases.case(True, "")

    run()
