"""The public forms: the contact form and the TMS self-screen, each followed by a thank-you page.

A post that fails re-renders the form with 422, errors beside the fields and everything typed
kept; a post that succeeds redirects (303) to the thank-you page, which never shows answers.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError

from intake_service.db import get_db, utcnow
from intake_service.domain import intake
from intake_service.domain.compliance import consent
from intake_service.domain.intake import spam
from intake_service.domain.triage import scales
from intake_service.extensions import limiter
from intake_service.web.public.forms import ContactForm, Gad7Form, Phq9Form, TmsScreenForm

log = logging.getLogger(__name__)

bp = Blueprint("public", __name__)

CSRF_EXPIRED = "This page was open for a long time; please send it again."
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Source values come from the browser; cap them so a crafted URL cannot bloat the lead row.
MAX_SOURCE_CHARS = 500
MAX_USER_AGENT_CHARS = 1000
THANK_YOU_SESSION_KEY = "intake.thank_you"


@dataclasses.dataclass(frozen=True)
class FormPage:
    form_name: str  # domain.intake's form name
    form_class: type[ContactForm]
    template: str
    default_treatment: str | None = None


PAGES = {
    "public.contact": FormPage("contact", ContactForm, "public/contact.html"),
    "public.tms_screen": FormPage("tms_screen", TmsScreenForm, "public/tms_screen.html", "tms"),
    "public.phq9": FormPage("phq9", Phq9Form, "public/scale.html"),
    "public.gad7": FormPage("gad7", Gad7Form, "public/scale.html"),
}
# Heading, stem and introduction of each questionnaire page.
SCALE_PAGES = {
    "phq9": ("Depression questionnaire (PHQ-9)", scales.PHQ9_STEM),
    "gad7": ("Anxiety questionnaire (GAD-7)", scales.GAD7_STEM),
}


def _submission_limit() -> str:
    limit: str = current_app.extensions["intake.settings"].ratelimit_submissions
    return limit


@bp.app_context_processor
def clinic_context() -> dict[str, Any]:
    return {"clinic_name": current_app.extensions["intake.settings"].clinic_name}


@bp.after_request
def no_store(response: Response) -> Response:
    # A re-rendered form holds what the person typed (health information): keep it out of
    # shared-device caches and the back-forward cache.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/")
def index() -> ResponseReturnValue:
    return redirect(url_for("public.contact"))


@bp.route("/contact", methods=["GET", "POST"])
@limiter.limit(_submission_limit, methods=["POST"])
def contact() -> ResponseReturnValue:
    return _form_page(PAGES["public.contact"])


@bp.route("/screening/tms", methods=["GET", "POST"])
@limiter.limit(_submission_limit, methods=["POST"])
def tms_screen() -> ResponseReturnValue:
    return _form_page(PAGES["public.tms_screen"])


@bp.route("/screening/phq9", methods=["GET", "POST"])
@limiter.limit(_submission_limit, methods=["POST"])
def phq9() -> ResponseReturnValue:
    return _form_page(PAGES["public.phq9"])


@bp.route("/screening/gad7", methods=["GET", "POST"])
@limiter.limit(_submission_limit, methods=["POST"])
def gad7() -> ResponseReturnValue:
    return _form_page(PAGES["public.gad7"])


@bp.get("/thank-you/<uuid:submission_id>")
def thank_you(submission_id: uuid.UUID) -> ResponseReturnValue:
    # Urgency is known only to the browser that sent the form (kept in its signed session),
    # so someone else opening this address learns nothing about the person.
    shown = session.get(THANK_YOU_SESSION_KEY) or {}
    urgent = shown.get("id") == str(submission_id) and bool(shown.get("urgent"))
    return render_template("public/thank_you.html", message=intake.THANK_YOU, urgent=urgent)


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> ResponseReturnValue:
    page = PAGES.get(request.endpoint or "")
    if page is None:
        return render_template("public/error.html", status=400, message=CSRF_EXPIRED), 400
    # Nothing was stored; give the form back as typed, with a fresh CSRF token.
    form = page.form_class()
    form.form_errors.append(CSRF_EXPIRED)
    return _render(page, form), 400


def _form_page(page: FormPage) -> ResponseReturnValue:
    form = page.form_class()
    if request.method == "GET":
        form.start(request.args.get("treatment") or page.default_treatment)
        return _render(page, form)
    if not form.validate():
        return _render(page, form), 422
    data = _submission_input(page, form)
    try:
        accepted = intake.submit(get_db(), data)
    except intake.InvalidSubmission as error:
        form.add_errors(error.errors)
        return _render(page, form), 422
    except intake.IdempotencyConflict:
        # The token came back with different content: the person went back and changed the
        # form after sending it. Their latest words must reach the clinic (they may add
        # something urgent), so store it as its own submission under a key for this content;
        # a double click on the changed form still makes only one.
        assert data.idempotency_key is not None
        key = f"{data.idempotency_key}:{data.fingerprint()}"
        accepted = intake.submit(get_db(), dataclasses.replace(data, idempotency_key=key))
    session[THANK_YOU_SESSION_KEY] = {"id": str(accepted.submission_id), "urgent": accepted.urgent}
    return redirect(url_for("public.thank_you", submission_id=accepted.submission_id), code=303)


def _submission_input(page: FormPage, form: ContactForm) -> intake.SubmissionInput:
    token = form.token()
    if token is None:
        # A post without our token (an old cached page, a script): accept it rather than
        # turn a person away, at the cost of double-click protection for this one post.
        log.info("form post without a valid submission token on %s", request.path)
        token = str(uuid.uuid4())
    sms = bool(form.sms_consent.data)
    settings = current_app.extensions["intake.settings"]
    signals = spam.form_signals(
        settings.secret_key, form.website.data, form.form_started.data, utcnow(), settings.abuse
    )
    return intake.SubmissionInput(
        form=page.form_name,
        contact=form.contact(),
        treatment_interest=form.treatment_interest.data or "unsure",
        message=form.message.data or None,
        answers=form.answers(),
        sms_consent=sms,
        # The version of the wording the page showed, which may predate a deploy.
        sms_wording_version=(form.sms_wording_version.data or consent.CURRENT_SMS_WORDING)
        if sms
        else consent.CURRENT_SMS_WORDING,
        source=_source(form),
        via="web",
        idempotency_key=f"web-form:{token}",
        ip=request.remote_addr,
        user_agent=(request.headers.get("User-Agent") or "")[:MAX_USER_AGENT_CHARS] or None,
        bot_signals=signals,
    )


def _source(form: ContactForm) -> dict[str, str]:
    source = {"page": (request.referrer or request.path)[:MAX_SOURCE_CHARS]}
    if form.how_heard.data:
        source["how_heard"] = form.how_heard.data
    for key in UTM_KEYS:
        value = request.args.get(key, "").strip()
        if value:
            source[key] = value[:MAX_SOURCE_CHARS]
    return source


def _render(page: FormPage, form: ContactForm) -> str:
    # The page always shows the current wording, so it always sends the current version.
    form.sms_wording_version.data = consent.CURRENT_SMS_WORDING
    if form.token() is None:
        form.submission_token.data = str(uuid.uuid4())
    if not form.form_started.data:
        # A form given back with errors keeps its first timestamp: the person started then.
        secret = current_app.extensions["intake.settings"].secret_key
        form.form_started.data = spam.sign_started(secret, utcnow())
    return render_template(
        page.template,
        form=form,
        # Shown by the send button: an email address given is recorded as consent to this text.
        email_wording=consent.EMAIL_WORDINGS[consent.CURRENT_EMAIL_WORDING],
        scale=SCALE_PAGES.get(page.form_name),
    )
