"""The public forms: the contact form and the TMS self-screen, each followed by a thank-you page.

A post that fails re-renders the form with 422, errors beside the fields and everything typed
kept; a post that succeeds redirects (303) to the thank-you page, which never shows answers.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
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
from flask_babel import get_locale, gettext
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape

from intake_service.db import get_db, utcnow
from intake_service.domain import intake
from intake_service.domain.compliance import consent
from intake_service.domain.intake import rules, spam
from intake_service.domain.triage import scales
from intake_service.extensions import client_address, submission_limit
from intake_service.web.errors import error_response
from intake_service.web.public import EMBED_BLUEPRINT, PATIENT_BLUEPRINTS, locale
from intake_service.web.public.clinic import public_clinic
from intake_service.web.public.forms import ContactForm, Gad7Form, Phq9Form, TmsScreenForm

log = logging.getLogger(__name__)

# Static files of the public pages (forms.js); their own URL prefix so staff/ and the public
# pages never shadow each other's files.
bp = Blueprint("public", __name__, static_folder="static", static_url_path="/static/public")

CSRF_EXPIRED = "This page was open for a long time; please send it again."
NOT_A_FORM_POST = "Send this form from its page on our site."
# What a browser sends for <form method="post">; anything else (JSON, text) is not this page's.
FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
THANK_YOU_SESSION_KEY = "intake.thank_you"
SITE_LAYOUT = "public/base.html"
EMBED_LAYOUT = "embed/base.html"
_PHONE_NUMBERS = re.compile(rf"\b({rules.LIFELINE}|{rules.EMERGENCY})\b")


@dataclasses.dataclass(frozen=True)
class FormPage:
    form_name: str  # domain.intake's form name
    form_class: type[ContactForm]
    template: str
    default_treatment: str | None = None


PAGES = {
    "public.contact": FormPage("contact", ContactForm, "public/contact.html"),
    "public.tms_screen": FormPage(
        "tms_screen", TmsScreenForm, "public/tms_screen.html", rules.default_treatment("tms_screen")
    ),
    "public.phq9": FormPage("phq9", Phq9Form, "public/scale.html"),
    "public.gad7": FormPage("gad7", Gad7Form, "public/scale.html"),
}
# Heading, stem and introduction of each questionnaire page.
SCALE_PAGES = {
    "phq9": ("Depression questionnaire (PHQ-9)", scales.PHQ9_STEM),
    "gad7": ("Anxiety questionnaire (GAD-7)", scales.GAD7_STEM),
}


@bp.app_context_processor
def clinic_context() -> dict[str, Any]:
    # Who the clinic is, on every public page: a page asking about depression has to say
    # whose it is and how to reach a person there (the admin's settings over the environment).
    clinic = public_clinic()
    return {
        "clinic_name": clinic["name"],
        "clinic": clinic,
        "crisis": rules.CRISIS_WORDING,
        "locale": str(get_locale() or locale.DEFAULT),
        "language_switch": _language_switch(),
    }


def _language_switch() -> dict[str, str] | None:
    """The link to this same page in the other language (None where there is no page)."""
    if (
        request.blueprint not in PATIENT_BLUEPRINTS
        or request.endpoint is None
        or request.method != "GET"
    ):
        return None
    target = locale.other(str(get_locale() or locale.DEFAULT))
    args = {**(request.view_args or {}), "lang": target}
    url = url_for(request.endpoint, **args)
    return {"url": url, "locale": target, "name": locale.NAMES[target]}


@bp.app_template_global("current_locale")
def current_locale() -> str:
    """The page's language, for macros (imported macros do not see the page's context)."""
    return str(get_locale() or locale.DEFAULT)


@bp.app_template_global("page_layout")
def page_layout() -> str:
    """The frame a patient page sits in: the site's header and footer, or none when embedded."""
    return EMBED_LAYOUT if request.blueprint == EMBED_BLUEPRINT else SITE_LAYOUT


@bp.app_template_global("new_tab")
def new_tab() -> Markup:
    """Attributes for a link that must leave an embedded form's frame (crisis lines, privacy).

    In a clinic's iframe a link would otherwise open inside the frame, where another site
    (988lifeline.org) refuses to be framed and the clinic's page around it would stay.
    """
    if request.blueprint == EMBED_BLUEPRINT:
        return Markup(' target="_blank" rel="noopener"')
    return Markup("")


@bp.app_template_filter("translate")
def translate(text: str) -> str:
    """`text` (an English sentence the service owns) in the page's language, when catalogued.

    Sentences come from the domain and the settings in English; their English wording is the
    catalogue's message id, so an unknown sentence (a clinic's own hours) shows as written.
    """
    return gettext(str(text)) if text else text


@bp.app_template_filter("summary_label")
def summary_label(label: str) -> str:
    """A field's whole label as the start of an error summary line ("Phone:", "I struggle...")."""
    text = str(label).strip()
    # A label that is a sentence or a question already ends well; others get a colon.
    return text if text.endswith((".", "?", "!")) else f"{text}:"


@bp.app_template_filter("phone_links")
def phone_links(sentence: str) -> Markup:
    """The crisis sentence, escaped, with 988 and 911 as links a phone can call."""
    # split() with a group alternates text and number: text, number, text, ...
    parts = _PHONE_NUMBERS.split(sentence)
    link = Markup('<a href="tel:{0}"') + new_tab() + Markup(">{0}</a>")
    return Markup("").join(
        link.format(part) if odd else escape(part)
        for odd, part in zip(itertools.cycle((False, True)), parts, strict=False)
    )


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
@submission_limit
def contact() -> ResponseReturnValue:
    return _form_page(PAGES["public.contact"])


@bp.route("/screening/tms", methods=["GET", "POST"])
@submission_limit
def tms_screen() -> ResponseReturnValue:
    return _form_page(PAGES["public.tms_screen"])


@bp.route("/screening/phq9", methods=["GET", "POST"])
@submission_limit
def phq9() -> ResponseReturnValue:
    return _form_page(PAGES["public.phq9"])


@bp.route("/screening/gad7", methods=["GET", "POST"])
@submission_limit
def gad7() -> ResponseReturnValue:
    return _form_page(PAGES["public.gad7"])


@bp.get("/privacy")
def privacy() -> ResponseReturnValue:
    return render_template("public/privacy.html")


@bp.get("/thank-you/<uuid:submission_id>")
def thank_you(submission_id: uuid.UUID) -> ResponseReturnValue:
    # Urgency is known only to the browser that sent the form (kept in its signed session),
    # so someone else opening this address learns nothing about the person.
    shown = session.get(THANK_YOU_SESSION_KEY) or {}
    urgent = shown.get("id") == str(submission_id) and bool(shown.get("urgent"))
    return render_template("public/thank_you.html", urgent=urgent)


@bp.errorhandler(CSRFError)
def csrf_failed(error: CSRFError) -> ResponseReturnValue:
    page = PAGES.get(request.endpoint or "")
    if not is_form_post():
        # Not a browser's form (JSON, say): there is no form to give back, and reading the
        # body as one would fail a second time inside this handler.
        return error_response(415, NOT_A_FORM_POST)
    if page is None:
        return render_template("public/error.html", status=400, message=CSRF_EXPIRED), 400
    # Nothing was stored; give the form back as typed, with a fresh CSRF token.
    form = page.form_class(formdata=request.form)
    form.form_errors.append(CSRF_EXPIRED)
    return render_form(page, form), 400


def is_form_post() -> bool:
    return request.mimetype in FORM_MIMETYPES


def _form_page(page: FormPage) -> ResponseReturnValue:
    if request.method == "GET":
        return render_form(page, new_form(page))
    if not is_form_post():
        return error_response(415, NOT_A_FORM_POST)
    # The form's own fields only: Flask-WTF would otherwise read a JSON body as the form.
    form = page.form_class(formdata=request.form)
    try:
        accepted = receive(page, form)
    except intake.SubmissionLimited as limited:
        # Given back as typed, with when to send it again and a phone to call instead.
        form.form_errors.append(limited_sentence(limited))
        return render_form(page, form), 429, {"Retry-After": str(limited.retry_after)}
    if accepted is None:
        return render_form(page, form), 422
    session[THANK_YOU_SESSION_KEY] = {"id": str(accepted.submission_id), "urgent": accepted.urgent}
    return redirect(url_for("public.thank_you", submission_id=accepted.submission_id), code=303)


def new_form(page: FormPage) -> ContactForm:
    """The blank form a GET shows, with a treatment a link may have chosen."""
    form = page.form_class(formdata=None)
    form.start(request.args.get("treatment") or page.default_treatment)
    return form


def receive(page: FormPage, form: ContactForm) -> intake.Accepted | None:
    """Check a posted form and store it in the one intake transaction.

    None when it must go back to the person: every error is then on `form`, nothing stored.
    Raises SubmissionLimited when this phone or email sent too many forms this hour.
    The embedded forms (web/public/embed.py) come through here too, so both doors share the
    validation, the spam signals and the double-click rule.
    """
    # Both sets of rules run on every post, so every error shows in one round: the fields'
    # own checks, then the domain's (which submit runs again before storing anything).
    valid = form.validate()
    data = _submission_input(page, form)
    try:
        intake.check(data)
    except intake.InvalidSubmission as error:
        form.add_errors(error.errors)
        valid = False
    if not valid:
        return None
    try:
        return intake.submit(get_db(), data)
    except intake.InvalidSubmission as error:
        form.add_errors(error.errors)
        return None
    except intake.IdempotencyConflict:
        # The token came back with different content: the person went back and changed the
        # form after sending it. Their latest words must reach the clinic (they may add
        # something urgent), so store it as its own submission under a key for this content;
        # a double click on the changed form still makes only one. (Form tokens live in a key
        # space of their own, so nothing sent through the API can be behind this conflict.)
        assert data.idempotency_key is not None
        key = f"{data.idempotency_key}:{data.fingerprint()}"
        return intake.submit(get_db(), dataclasses.replace(data, idempotency_key=key))


def limited_sentence(limited: intake.SubmissionLimited) -> str:
    """When to send the form again, and the clinic's phone for anyone who would rather call."""
    clinic_phone = public_clinic()["phone"]
    return gettext(
        "We have already received several forms from this email address or phone number in "
        "the last hour. You can send this one again in %(minutes)s min, or call us at "
        "%(phone)s.",
        minutes=limited.minutes,
        phone=clinic_phone,
    )


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
        idempotency_key=token,
        ip=client_address(),
        user_agent=rules.user_agent(request.headers.get("User-Agent")),
        locale=current_locale(),
        bot_signals=signals,
    )


def _source(form: ContactForm) -> dict[str, str]:
    # Sent by the browser on its own (a crafted link can make it anything): cut down to fit
    # the caps, never a reason to refuse the person's form.
    pairs = [("page", request.referrer or request.path)]
    if form.how_heard.data:
        pairs.append(("how_heard", form.how_heard.data))
    pairs.extend((key, request.args.get(key, "")) for key in UTM_KEYS)
    return rules.fit_source(pairs)


def prepare(form: ContactForm) -> None:
    """Fill the hidden fields a page sends back: wording version, submission token, start time."""
    # The page always shows the current wording in its language, so it sends that version.
    version = consent.current_sms_wording(current_locale())
    form.sms_wording_version.data = version
    form.sms_consent.label.text = consent.SMS_WORDINGS[version]
    if form.token() is None:
        form.submission_token.data = str(uuid.uuid4())
    if not form.form_started.data:
        # A form given back with errors keeps its first timestamp: the person started then.
        secret = current_app.extensions["intake.settings"].secret_key
        form.form_started.data = spam.sign_started(secret, utcnow())


def render_form(page: FormPage, form: ContactForm) -> str:
    prepare(form)
    return render_template(
        page.template,
        form=form,
        # Shown by the send button: an email address given is recorded as consent to this text.
        email_wording=consent.EMAIL_WORDINGS[consent.current_email_wording(current_locale())],
        # A wording not in the page's language (one with no translation yet) is marked as such.
        wording_lang=consent.wording_locale(consent.current_sms_wording(current_locale())),
        scale=SCALE_PAGES.get(page.form_name),
    )
