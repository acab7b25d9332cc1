"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from intake_service.db import get_db
from intake_service.extensions import csrf, limiter
from intake_service.metrics import build_registry

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@limiter.exempt
def healthz() -> Response:
    """The process is alive; says nothing about its dependencies."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
@limiter.exempt
def readyz() -> tuple[Response, int]:
    """Ready when the database and the broker both answer, each within a couple of seconds."""
    checks: dict[str, str] = {}
    try:
        get_db().ping()
        checks["database"] = "ok"
    except Exception as error:  # any failure means "not ready"; say which kind, not the details
        checks["database"] = f"unavailable ({type(error).__name__})"
    celery = current_app.extensions["celery"]
    try:
        # The app's own connection settings: its transport too (the embedded one is not kombu's).
        with celery.connection_for_read(connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as error:
        checks["broker"] = f"unavailable ({type(error).__name__})"
    ready = all(value == "ok" for value in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503
    )


@bp.get("/metrics")
@limiter.exempt
def metrics() -> Response:
    registry = current_app.extensions["intake.metrics"][0]
    # The whole header value, charset included: as a mimetype Flask would add a second one.
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> None:
    """Count and time every request, labelled by endpoint (never by path: paths hold ids)."""
    registry, requests, latency = build_registry(app.extensions["intake.db"])
    app.extensions["intake.metrics"] = (registry, requests, latency)

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        requests.labels(endpoint, str(response.status_code)).inc()
        started = g.get("request_started")
        if started is not None:
            latency.labels(endpoint).observe(time.perf_counter() - started)
        return response


csrf.exempt(bp)
