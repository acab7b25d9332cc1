"""The forms for a clinic's own website: /embed/contact and /embed/screening/tms, in an iframe.

The same forms, checks, spam signals, rate limit and intake transaction as the public pages
(pages.receive); what differs is what a third-party frame needs:
- a layout without the site's header and footer (templates/embed/base.html), whose links to
  crisis lines and the privacy notice open in a new tab, and embed.js to fit the frame;
- CSRF without cookies: the browser sends a cross-site frame no SameSite=Lax cookie, so the
  form carries a signed, time-limited token bound to the form and to its one-time submission
  token (security/embed_csrf.py), and a post must come from this site's own page (Origin);
- no session either: the thank-you page is the answer to the post itself, not a redirect to
  an address that would have to carry whether the person is in danger;
- only these pages may be framed, and only by EMBED_ORIGINS (web/security_headers.py).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from intake_service.domain import intake
from intake_service.extensions import submission_limit
from intake_service.security import embed_csrf
from intake_service.web.errors import error_response
from intake_service.web.public import EMBED_BLUEPRINT, pages
from intake_service.web.public.clinic import embed_origins
from intake_service.web.public.forms import (
    EmbeddedContactForm,
    EmbeddedForm,
    EmbeddedTmsScreenForm,
)

log = logging.getLogger(__name__)

bp = Blueprint(EMBED_BLUEPRINT, __name__, url_prefix="/embed")

# Set by embed.js on the form and the language link: the clinic's origin, for the next page.
PARENT_ORIGIN_FIELD = "parent_origin"

PAGES = {
    "embed.contact": dataclasses.replace(
        pages.PAGES["public.contact"], form_class=EmbeddedContactForm
    ),
    "embed.tms_screen": dataclasses.replace(
        pages.PAGES["public.tms_screen"], form_class=EmbeddedTmsScreenForm
    ),
}


@bp.context_processor
def embed_context() -> dict[str, Any]:
    # The sites embed.js may talk to: the same list frame-ancestors names. The parent's origin
    # that the previous page in the frame passed on is given back only if it is one of them.
    origins = embed_origins()
    carried = request.values.get(PARENT_ORIGIN_FIELD, "")
    return {"embed_origins": origins, "parent_origin": carried if carried in origins else None}


@bp.route("/contact", methods=["GET", "POST"])
@submission_limit
def contact() -> ResponseReturnValue:
    return _embedded_page(PAGES["embed.contact"])


@bp.route("/screening/tms", methods=["GET", "POST"])
@submission_limit
def tms_screen() -> ResponseReturnValue:
    return _embedded_page(PAGES["embed.tms_screen"])


def _embedded_page(page: pages.FormPage) -> ResponseReturnValue:
    if request.method == "GET":
        return _render(page, pages.new_form(page))
    if not pages.is_form_post():
        return error_response(415, pages.NOT_A_FORM_POST)
    if not _from_this_site():
        # Another site's page posting here: the browser names it in Origin, and no form of ours
        # was ever on it. Nothing is read or stored.
        log.info("embedded form post from another origin refused on %s", request.path)
        return error_response(400, pages.NOT_A_FORM_POST)
    form = page.form_class(formdata=request.form)
    if not _token_valid(page, form):
        # Missing, forged, altered, for another form or page, or older than its limit. Nothing
        # is stored; the form goes back as typed with a fresh token, so a person whose page was
        # open too long only has to press Send again.
        log.info("embedded form post without a valid token on %s", request.path)
        form.form_errors.append(pages.CSRF_EXPIRED)
        return _render(page, form), 400
    try:
        accepted = pages.receive(page, form)
    except intake.SubmissionLimited as limited:
        form.form_errors.append(pages.limited_sentence(limited))
        return _render(page, form), 429, {"Retry-After": str(limited.retry_after)}
    if accepted is None:
        return _render(page, form), 422
    # 200 with the thank-you page (urgent: 988 and 911 first); embed.js tells the clinic's page
    # only that a form was sent. A reload posts again, and the submission token makes that the
    # same submission.
    return render_template("public/thank_you.html", urgent=accepted.urgent, submitted=True)


def _render(page: pages.FormPage, form: EmbeddedForm) -> str:
    pages.prepare(form)
    submission = form.token()
    assert submission is not None  # prepare() made one if the post carried none of ours
    if _csrf_enabled():
        secret = current_app.extensions["intake.settings"].secret_key
        form.embed_token.data = embed_csrf.make(secret, page.form_name, submission)
    return pages.render_form(page, form)


def _csrf_enabled() -> bool:
    # The same switch as Flask-WTF's, which only test apps turn off.
    return bool(current_app.config.get("WTF_CSRF_ENABLED", True))


def _token_valid(page: pages.FormPage, form: EmbeddedForm) -> bool:
    if not _csrf_enabled():
        return True
    secret = current_app.extensions["intake.settings"].secret_key
    return embed_csrf.valid(secret, form.embed_token.data, page.form_name, form.token())


def _from_this_site() -> bool:
    """False when the browser says the post came from a page of another origin.

    A browser names the posting page's origin on every form post; the form in the frame is
    this site's own page, so anything else (another site, "null" from a sandboxed or data:
    page) is a forgery. No Origin at all is a non-browser client, which the token still checks.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    host = urlsplit(origin).netloc.lower()
    public = urlsplit(current_app.extensions["intake.settings"].public_base_url).netloc.lower()
    # Behind a proxy the Host seen here may be internal; PUBLIC_BASE_URL names the outside one.
    return bool(host) and host in {request.host.lower(), public}
