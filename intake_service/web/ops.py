"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from intake_service import broker, metrics
from intake_service.config import Settings
from intake_service.db import get_db
from intake_service.extensions import csrf, limiter

bp = Blueprint("ops", __name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["intake.settings"]
    return settings


@bp.get("/healthz")
@limiter.exempt
def healthz() -> Response:
    """The process is alive; says nothing about its dependencies."""
    return jsonify({"status": "ok"})


def _migrations() -> str:
    """'ok' when the database is at the code's head; else the revisions, nothing more."""
    # Imported here: Alembic logs its plugins as it loads, and only readiness needs it.
    from intake_service import migrate

    code = migrate.code_heads()
    database = migrate.database_heads(get_db().engine)
    if database == code:
        return "ok"
    named = ", ".join(sorted(database)) or "none"
    return f"behind (database at {named}; code at {', '.join(sorted(code))})"


@bp.get("/readyz")
@limiter.exempt
def readyz() -> tuple[Response, int]:
    """Ready when the database (at the code's migration head) and the broker both answer."""
    checks: dict[str, str] = {}
    try:
        get_db().ping()
        checks["database"] = "ok"
    except Exception as error:  # any failure means "not ready"; say which kind, not the details
        checks["database"] = f"unavailable ({type(error).__name__})"
    if checks["database"] == "ok":
        try:
            checks["migrations"] = _migrations()
        except Exception as error:
            checks["migrations"] = f"unknown ({type(error).__name__})"
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


def _authorised() -> bool:
    token = _settings().operations.metrics_token
    if token is None:
        return True  # only outside production (config refuses production without a token)
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), token.encode()
    )


@bp.get("/metrics")
@limiter.exempt
def metrics_endpoint() -> Response:
    if not _authorised():
        # Nothing in the body: not what is wrong, not what is behind it.
        return Response(status=401, headers={"WWW-Authenticate": "Bearer"})
    registry = current_app.extensions["intake.metrics"]
    # The whole header value, charset included: as a mimetype Flask would add a second one.
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


def init_metrics(app: Flask) -> None:
    """The registry this app's /metrics serves; the request hooks are web/observability.py."""
    from intake_service.web import observability

    settings: Settings = app.extensions["intake.settings"]
    celery = app.extensions["celery"]
    queues = (
        settings.task_queue,
        *(broker.lane_queue(celery, lane) or "" for lane in broker.DELIVERY_LANES),
    )
    app.extensions["intake.metrics"] = metrics.build_registry(
        app.extensions["intake.db"],
        settings.broker_url,
        tuple(queue for queue in queues if queue),
        settings.operations.multiproc_dir,
    )
    observability.init_app(app)


csrf.exempt(bp)
