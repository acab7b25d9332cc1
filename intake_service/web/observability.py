"""Per-request hooks: the request id, the HTTP metrics, and the outcome of refused submissions
and of webhooks, read from the answer's status (the doors themselves stay as they were).

A submission that was stored is counted by domain.intake.submit (accepted, duplicate, spam,
replayed), which alone knows which it was; one refused before or by it (a form with errors, a
rate limit, a reused key) is counted here, from the status the door answered with.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from intake_service import logs, metrics
from intake_service.domain.intake.rules import FORM_LABELS
from intake_service.web.public import embed, pages

REQUEST_ID_HEADER = "X-Request-ID"
API_SUBMISSIONS = "api.create_submission"
# Each webhook endpoint, named by what sends it.
WEBHOOK_SOURCES = {
    "webhooks.inbound_sms": "twilio_sms",
    "webhooks.status_callback": "twilio_status",
    "form_webhooks.signed_post": "form_builder",
    "form_webhooks.secret_path_post": "form_builder",
}
# The status a door answers with, as the outcome of a submission it did not store.
REFUSED = {
    400: "malformed",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    415: "malformed",
    422: "invalid",
    429: "limited",
    503: "unavailable",
}
# The status a webhook endpoint answers with, as its verdict.
VERDICTS = {
    400: "malformed",
    403: "bad_signature",
    404: "unknown_source",
    409: "conflict",
    413: "too_large",
    415: "malformed",
    422: "invalid",
    429: "limited",
    503: "unavailable",
}


def _form_of_request(endpoint: str) -> str:
    page = pages.PAGES.get(endpoint) or embed.PAGES.get(endpoint)
    if page is not None:
        return page.form_name
    form = g.get("intake_form")
    # Only a form we have: the client's own words never become a label.
    return form if isinstance(form, str) and form in FORM_LABELS else "unknown"


def note_form(form: object) -> None:
    """The form a JSON body names, read by its view (the body is read once, by the view)."""
    g.intake_form = form


def _is_submission(endpoint: str) -> bool:
    return endpoint == API_SUBMISSIONS or endpoint in pages.PAGES or endpoint in embed.PAGES


def _count_outcomes(endpoint: str, status: int) -> None:
    if request.method != "POST":
        return
    if _is_submission(endpoint) and status in REFUSED:
        metrics.count_submission(_form_of_request(endpoint), REFUSED[status])
    source = WEBHOOK_SOURCES.get(endpoint)
    if source is not None:
        verdict = "accepted" if status < 300 else VERDICTS.get(status, "error")
        metrics.count_webhook(source, verdict)
    elif request.path.startswith("/webhooks/") and status == 404:
        metrics.count_webhook("unknown", "unknown_source")


def init_app(app: Flask) -> None:
    """Name every request, count and time it by endpoint (never by path: paths hold ids)."""

    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()
        logs.request_id.set(logs.accept_request_id(request.headers.get(REQUEST_ID_HEADER)))
        logs.bind_lead(None)

    @app.after_request
    def _record(response: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        status = response.status_code
        metrics.HTTP_REQUESTS.labels(metrics.label(endpoint), str(status)).inc()
        started = g.get("request_started")
        if started is not None:
            metrics.HTTP_LATENCY.labels(metrics.label(endpoint)).observe(
                time.perf_counter() - started
            )
        _count_outcomes(endpoint, status)
        rid = logs.request_id.get()
        if rid is not None:
            response.headers[REQUEST_ID_HEADER] = rid
        return response

    @app.teardown_request
    def _forget(_: BaseException | None) -> None:
        logs.request_id.set(None)
        logs.bind_lead(None)
