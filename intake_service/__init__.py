"""The lead-intake service: forms and API in, team told, patient answered."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from intake_service import logs, metrics
from intake_service.broker import EXTENSION_KEY as BROKER_KEY
from intake_service.broker import Broker
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.paths import templates_root
from intake_service.web.slow_clients import BodyReadTimeout

# Forms and API bodies are small; anything larger is refused with 413 before it is read.
MAX_BODY_BYTES = 64 * 1024
# The few endpoints that take more: the admin's logo upload (512 KiB at most; a larger file
# gets a sentence from the view rather than a bare 413, up to this size).
LARGER_BODIES = {"admin.settings_logo": 2 * 1024 * 1024}


def _body_limit() -> None:
    """Raise the body limit for the endpoints that need it, before anything reads the body."""
    from flask import request

    larger = LARGER_BODIES.get(request.endpoint or "")
    if larger is not None:
        request.max_content_length = larger


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app (and its Celery app) from settings, read from the environment if None."""
    settings = settings or Settings.from_env()
    app = Flask(
        __name__,
        template_folder=str(templates_root()),
        instance_path=str(settings.instance_path),
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        WTF_CSRF_TIME_LIMIT=None,  # a person may take an hour over the form at night
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_ENABLED=settings.ratelimit_enabled,
        # Limits live in Redis in production: while it is away, count in memory rather than
        # refuse a patient's form (the lead itself is stored in PostgreSQL either way).
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        # Staff sessions are permanent cookies that lapse after the idle time; the server also
        # checks the last activity it saw (web/staff/session.py), so a copied cookie ages too.
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=settings.staff_idle_minutes),
        # The cookie is sent back only when the session changed. Otherwise every response
        # carries one, and a live preview answered after a save would put back the cookie
        # from before it, flash message and all lost.
        SESSION_REFRESH_EACH_REQUEST=False,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        PREFERRED_URL_SCHEME="https" if settings.public_base_url.startswith("https") else "http",
    )
    app.extensions["intake.settings"] = settings
    if settings.trusted_proxies:
        # Behind a proxy the client's address (rate limits, consent evidence) is forwarded.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    # Below gunicorn's worker timeout (30 s), so a stalled body ends in our 408, not its 500.
    app.wsgi_app = BodyReadTimeout(app.wsgi_app, settings.body_read_timeout)  # type: ignore[method-assign,assignment]

    # JSON lines in production (LOG_FORMAT), each with the request's and the lead's ids.
    logs.configure(settings.operations.log_format)
    # Before any counter has a value: with a metrics folder, this process counts into files there.
    metrics.use_multiprocess(settings.operations.multiproc_dir)
    # The field cipher rides on this app's engine, so apps with different keys can share a process.
    app.extensions["intake.db"] = Database.from_settings(settings)

    from intake_service.extensions import csrf, limiter, login_manager

    # Registered before CSRFProtect's own hook, which reads the form (and so the body).
    app.before_request(_body_limit)
    csrf.init_app(app)
    limiter.init_app(app)
    from flask_babel import Babel

    from intake_service.web.public.locale import select_locale

    # Message catalogues live in the package (translations/<locale>/LC_MESSAGES), so they ship
    # in the wheel; the compiled .mo files are committed beside their .po sources.
    Babel(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(Path(__file__).resolve().parent / "translations"),
    )
    login_manager.init_app(app)

    from intake_service.celery_app import init_celery

    # Per app, like the back-off timer it keeps: one app's broker outage is not another's.
    app.extensions[BROKER_KEY] = Broker(init_celery(app, settings))

    from intake_service.web import register_blueprints

    register_blueprints(app)
    from intake_service.web import security_headers

    security_headers.init_app(app)  # CSP, framing, CORS, caching: on every answer
    return app
