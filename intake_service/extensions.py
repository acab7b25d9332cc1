"""Flask extensions, created unbound here and bound to an app in create_app."""

from __future__ import annotations

from flask import current_app, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

from intake_service.domain.intake.rules import client_ip

csrf = CSRFProtect()
login_manager = LoginManager()


def client_address() -> str | None:
    """The client's IP address, normalised; None if neither source holds a real address.

    Behind trusted proxies it is the forwarded address, which a client can fill with anything:
    when that is not an address, the socket's peer (the proxy, or whoever connected) stands in,
    so a crafted header neither reaches the database nor buys a fresh rate-limit budget.
    """
    forwarded = client_ip(request.remote_addr)
    if forwarded is not None:
        return forwarded
    wsgi = request.environ  # this request's WSGI environment (not settings)
    original: dict[str, str | None] = wsgi.get("werkzeug.proxy_fix.orig") or {}
    return client_ip(original.get("REMOTE_ADDR"))


def _rate_limit_key() -> str:
    return client_address() or "unknown"


# Headers off: the limiter would put Retry-After on every answer (and overwrite a 503's own);
# web.errors sets it on 429 alone, from the limit that was hit.
limiter = Limiter(key_func=_rate_limit_key, headers_enabled=False)

SUBMISSIONS_SCOPE = "submissions"


def _submission_limit() -> str:
    return str(current_app.extensions["intake.settings"].ratelimit_submissions)


# One budget per client address for every door that makes a submission (the forms and the
# API): a client switching doors must not double its allowance.
submission_limit = limiter.shared_limit(
    _submission_limit, scope=SUBMISSIONS_SCOPE, methods=["POST"]
)
