"""The headers every answer carries: a strict Content-Security-Policy, framing, CORS, caching.

One place for the browser-facing defences, so no view has to remember them:
- a CSP with no inline script or style except the elements given this request's nonce;
- frame-ancestors 'none', except the embedded forms (/embed/...), which the origins in
  the admin's embedding sites (clinic settings, over EMBED_ORIGINS) may frame (the clinic's
  own site); the site's own pages are never framed;
- CORS on the JSON API for the origins in CORS_ORIGINS only, preflight answered here;
- nosniff, a referrer policy that keeps a screening page's address from other sites, a
  permissions policy that turns off the device features a form never needs, HSTS over https;
- `Cache-Control: no-store` wherever a view did not say otherwise: staff pages show health
  information, and a shared computer's cache or back button must not show it again.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, g, request
from werkzeug.serving import WSGIRequestHandler

from intake_service.config.security import SecuritySettings
from intake_service.web.public import EMBED_BLUEPRINT
from intake_service.web.public.clinic import embed_origins

# Only the embedded forms (and the thank-you pages they answer with) may be framed. The site's
# own form pages may not: their CSRF token lives in a SameSite=Lax session cookie that a
# cross-site frame never sends, so framed they would only fail, and framing them gains a
# clickjacking surface and nothing else.
EMBEDDABLE_BLUEPRINTS = frozenset({EMBED_BLUEPRINT})
API_PREFIX = "/api/"
CORS_METHODS = "GET, POST, OPTIONS"
CORS_HEADERS = "Content-Type, Idempotency-Key"
# Headers a browser script may read from an API answer (rate limiting and idempotency).
CORS_EXPOSED = "Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset"
CORS_MAX_AGE = "600"
HSTS = "max-age=63072000; includeSubDomains"
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)
_NONCE_KEY = "csp_nonce"


def csp_nonce() -> str:
    """This request's nonce, for the few <style>/<script> elements a template writes inline."""
    nonce: str | None = g.get(_NONCE_KEY)
    if nonce is None:
        nonce = secrets.token_urlsafe(18)
        setattr(g, _NONCE_KEY, nonce)
    return nonce


def _settings() -> SecuritySettings:
    settings: SecuritySettings = current_app.extensions["intake.settings"].security
    return settings


def frame_ancestors(embeddable: bool, origins: tuple[str, ...]) -> str:
    if embeddable and origins:
        return " ".join(origins)
    return "'none'"


def content_security_policy(nonce: str | None, ancestors: str) -> str:
    """The page policy: own files only, plus elements carrying `nonce`; no inline code else."""
    own = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    return "; ".join(
        [
            "default-src 'none'",
            f"script-src {own}",
            f"style-src {own}",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "object-src 'none'",
            f"frame-ancestors {ancestors}",
        ]
    )


def _is_preflight() -> bool:
    return (
        request.method == "OPTIONS"
        and request.path.startswith(API_PREFIX)
        and "Access-Control-Request-Method" in request.headers
    )


def _answer_preflight() -> Response | None:
    if not _is_preflight():
        return None
    origin = request.headers.get("Origin", "")
    if origin not in _settings().cors_origins:
        # No CORS headers: the browser refuses the call; the status says why to a person.
        return Response("This origin may not call the API from a browser.", status=403)
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
    response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
    response.headers["Access-Control-Max-Age"] = CORS_MAX_AGE
    return response


def _cors(response: Response, settings: SecuritySettings) -> None:
    if not request.path.startswith(API_PREFIX):
        return
    response.vary.add("Origin")
    origin = request.headers.get("Origin")
    if origin and origin in settings.cors_origins:
        # Exactly the asking origin, never "*"; no credentials: the API uses no cookies.
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED


def _secure_headers(response: Response) -> Response:
    settings = _settings()
    headers = response.headers
    embeddable = request.blueprint in EMBEDDABLE_BLUEPRINTS
    # The admin's list over EMBED_ORIGINS, read (from the database) only for an embedded form.
    ancestors = frame_ancestors(embeddable, embed_origins() if embeddable else ())
    # A view with a stricter policy of its own (the dev mailbox) keeps it.
    headers.setdefault(
        "Content-Security-Policy", content_security_policy(g.get(_NONCE_KEY), ancestors)
    )
    if ancestors == "'none'":
        headers.setdefault("X-Frame-Options", "DENY")  # for browsers older than frame-ancestors
    else:
        headers.pop("X-Frame-Options", None)  # cannot list origins; the CSP decides
    headers["X-Content-Type-Options"] = "nosniff"
    # Same origin only: another site must not learn that someone came from /screening/phq9.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    if not (request.endpoint or "").endswith("static"):
        headers.setdefault("Cache-Control", "no-store")
    _cors(response, settings)
    return response


def init_app(app: Flask) -> None:
    """Install the headers on every answer, and the nonce helper in every template."""
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.before_request(_answer_preflight)
    app.after_request(_secure_headers)


class BannerlessRequestHandler(WSGIRequestHandler):
    """Werkzeug's server without `Server: Werkzeug/x Python/y` (versions help only attackers),
    and with access-log lines that leave out the query string: a staff search
    (`/staff/leads?q=Jane+Doe`) must not write a patient's name into the log."""

    def version_string(self) -> str:
        return "intake-service"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s %s" %s %s', self.command, path, self.request_version, code, size)
