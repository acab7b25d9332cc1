"""Error answers: JSON with a human sentence under /api, a page elsewhere; never a bare 500."""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from intake_service.domain.intake import SubmissionLimited
from intake_service.extensions import limiter
from intake_service.web.public.clinic import database_unreachable

log = logging.getLogger(__name__)

DATABASE_RETRY_AFTER = 30  # seconds; long enough for a database failover or restart
RATE_LIMIT_RETRY_AFTER = 60  # seconds, when the limit that was hit cannot say

SENTENCES = {
    400: "The request could not be read.",
    403: "This request is not allowed.",
    404: "There is nothing at this address.",
    405: "This address does not accept that method.",
    408: "The request took too long to arrive and was not stored. Please send it again.",
    413: "The request is too large; the limit is 64 KiB.",
    415: "Send the request as JSON (Content-Type: application/json).",
    429: "Too many requests; please wait a moment and try again.",
    500: "Something went wrong on our side; your request was not stored. Please try again.",
    503: "The service is briefly unavailable; your request was not stored. Try again shortly.",
}


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or request.is_json


def error_response(status: int, sentence: str | None = None, **extra: object) -> Response:
    """The error answer for `status`, shaped for whoever asked (JSON client or browser)."""
    if status == 413 and sentence is None and request.max_content_length:
        # The limit of this endpoint (a logo upload takes more than a form).
        limit = request.max_content_length // 1024
        sentence = f"The request is too large; the limit is {limit} KiB."
    sentence = sentence or SENTENCES.get(status, "The request failed.")
    if wants_json():
        response = jsonify({"error": sentence, **extra})
    else:
        response = Response(
            render_template("public/error.html", status=status, message=sentence),
            mimetype="text/html",
        )
    response.status_code = status
    return response


def limited_response(limited: SubmissionLimited) -> Response:
    """429 for a phone or email that sent too many submissions this hour (JSON doors)."""
    response = error_response(
        429, f"{limited} Send it again in {limited.minutes} min.", retry_after=limited.retry_after
    )
    response.headers["Retry-After"] = str(limited.retry_after)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        status = error.code or 500
        response = error_response(status, None if status in SENTENCES else error.description)
        if status == 429:
            # Only 429 and 503 carry Retry-After (RFC 9110 10.2.3): on a 201 it would tell a
            # client's retry logic to wait for nothing.
            response.headers["Retry-After"] = str(_rate_limit_retry_after())
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error: DBAPIError) -> Response:
        # The transaction rolled back: nothing half-written. Say when to come back, without
        # asking the database again for the page's clinic details.
        database_unreachable()
        log.error("database unavailable: %s", type(error.orig).__name__ if error.orig else error)
        response = error_response(503)
        response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    @app.errorhandler(TimeoutError)
    def body_too_slow(error: TimeoutError) -> Response:
        # The client stalled mid-body (web/slow_clients.py): nothing was read, nothing stored.
        log.info("request body too slow on %s %s", request.method, request.path)
        response = error_response(408)
        response.headers["Connection"] = "close"
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        # Database errors come without their SQL parameters (db.make_engine hides them): the
        # traceback must not carry addresses, user agents or ciphertext into the logs.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500)


def _rate_limit_retry_after() -> int:
    """Seconds until the limit this request hit lets the client in again."""
    hit = limiter.current_limit
    if hit is None:
        return RATE_LIMIT_RETRY_AFTER
    # reset_at is a whole second already rounded up; what is left of it, at least one.
    return max(1, int(hit.reset_at - time.time()))
