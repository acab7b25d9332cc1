"""JSON API v1: clinics' sites and integrations send submissions here (see CONTRACT.md).

The view reads and shapes the request (api_schema), calls domain.intake.submit once, and renders
the answer. Every refusal is JSON with a sentence (web.errors); bad input never reaches a 500.
"""

from __future__ import annotations

import functools
import json
from typing import Any, NoReturn

from flask import Blueprint, Response, abort, jsonify, request
from pydantic import ValidationError

from intake_service.db import get_db
from intake_service.domain import intake
from intake_service.domain.intake import rules
from intake_service.extensions import client_address, csrf, submission_limit
from intake_service.web import observability
from intake_service.web.api.openapi import openapi_document
from intake_service.web.api.schema import (
    IDEMPOTENCY_KEY_PATTERN,
    SubmissionCreated,
    SubmissionRequest,
    field_errors,
    safe_errors,
)
from intake_service.web.errors import error_response, limited_response

bp = Blueprint("api", __name__)

READ_CHUNK = 16 * 1024


class UnreadableRequest(Exception):
    """The request cannot be read; becomes a JSON 400 with this sentence (and maybe `errors`)."""

    def __init__(self, sentence: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(sentence)
        self.sentence = sentence
        self.errors = errors


@bp.post("/api/v1/submissions")
@csrf.exempt  # no cookies authenticate this endpoint, so there is no session to forge
@submission_limit
def create_submission() -> Response:
    try:
        key = _idempotency_key()
        document = _read_json_object()
        observability.note_form(document.get("form"))  # for the metrics of a refused one
    except UnreadableRequest as error:
        extra = {"errors": error.errors} if error.errors else {}
        return error_response(400, error.sentence, **extra)
    try:
        shaped = SubmissionRequest.model_validate(document)
    except ValidationError as error:
        return _unprocessable(field_errors(error))
    data = shaped.to_input(
        ip=client_address(),
        user_agent=rules.user_agent(request.headers.get("User-Agent")),
        idempotency_key=key,
    )
    try:
        accepted = intake.submit(get_db(), data)
    except intake.InvalidSubmission as error:
        return _unprocessable(safe_errors(error.errors))
    except intake.SubmissionLimited as limited:
        return limited_response(limited)
    except intake.IdempotencyConflict:
        return error_response(
            409,
            "This Idempotency-Key was already used for a different submission; "
            "send new content with a new key.",
        )
    body = SubmissionCreated(
        lead_id=accepted.lead_id,
        submission_id=accepted.submission_id,
        urgent=accepted.urgent,
        message=accepted.message,
    )
    response = jsonify(body.model_dump(mode="json"))
    response.status_code = 201
    if accepted.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/api/v1/openapi.json")
def openapi() -> Response:
    return Response(_openapi_json(), mimetype="application/json")


@bp.after_request
def _api_headers(response: Response) -> Response:
    # Answers carry ids of health-related records: never cached, never sniffed as HTML.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


@functools.cache
def _openapi_json() -> bytes:
    # The document depends on code only, never on an app's settings: one copy per process.
    return json.dumps(openapi_document(), indent=2).encode()


def _read_json_object() -> dict[str, Any]:
    """The body as a JSON object; aborts with 413 or 415, raises UnreadableRequest (400)."""
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        abort(413)  # refused before reading a byte
    if request.mimetype != "application/json":
        abort(415)
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        abort(415)
    raw = _read_body(limit)
    if not raw.strip():
        raise UnreadableRequest("The request body is empty; send a JSON object.")
    try:
        # utf-8-sig: a byte-order mark is not JSON, but some clients send one (RFC 8259 allows
        # ignoring it).
        document = json.loads(
            raw.decode("utf-8-sig"), parse_constant=_no_constant, object_pairs_hook=_no_duplicates
        )
    except (UnicodeDecodeError, ValueError, RecursionError):
        # ValueError covers JSONDecodeError, NaN/Infinity and ints past Python's digit limit;
        # RecursionError, nesting thousands deep.
        raise UnreadableRequest("The request body is not valid JSON.") from None
    if not isinstance(document, dict):
        raise UnreadableRequest("The request body must be a JSON object.")
    return document


def _read_body(limit: int | None) -> bytes:
    """The whole body, at most `limit` bytes (a body of exactly the limit is accepted).

    With Content-Length, werkzeug has already refused a body over the limit. A chunked body
    has no length: werkzeug's own guard refuses one that merely reaches the limit, so read the
    server-terminated stream here, one byte past the limit, to refuse only what is over it.
    """
    if request.content_length is not None or limit is None:
        return request.get_data(cache=False)
    wsgi = request.environ  # this request's WSGI environment (not settings)
    if not wsgi.get("wsgi.input_terminated"):
        return b""  # no length and no end of stream: nothing can be read safely
    stream = request.input_stream  # the raw stream: werkzeug's guard would stop at the limit
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        part = stream.read(min(READ_CHUNK, limit + 1 - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    if size > limit:
        abort(413)
    return b"".join(parts)


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # {"consent": {"sms": false, "sms": true}}: parsers disagree on which one wins (a proxy or a
    # log may read the first, Python the last), so a key given twice is refused outright.
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a key appears twice")
    return document


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    key = key.strip(" \t")  # blanks around a header value are not part of it (RFC 9110 5.5)
    if not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise UnreadableRequest(
            "The Idempotency-Key header must be 1 to 200 printable ASCII characters.",
            {"Idempotency-Key": "Use 1 to 200 printable ASCII characters, such as a UUID."},
        )
    return key


def _unprocessable(errors: dict[str, str]) -> Response:
    return error_response(
        422, "Some details are missing or invalid; see errors for each field.", errors=errors
    )
