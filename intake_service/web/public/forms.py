"""Flask-WTF forms for the public pages: the shape of the input, nothing more.

Rules that span fields (email or phone, a phone for texts) belong to domain.intake.check;
the view maps its errors back onto these fields.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import lazy_gettext, lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    Field,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, InputRequired, Length, Optional, ValidationError

from intake_service.domain.compliance import consent
from intake_service.domain.intake import Contact, rules
from intake_service.domain.intake.answers import TMS_ITEMS
from intake_service.domain.intake.contact import InvalidContact, normalize_email, normalize_phone
from intake_service.domain.intake.rules import (
    CALLBACK_WINDOW_LABELS,
    DEFAULT_CALLBACK_WINDOW,
    DEFAULT_TREATMENT,
    MAX_EMAIL_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_NAME_CHARS,
    MAX_PHONE_CHARS,
    TREATMENT_LABELS,
)
from intake_service.domain.triage import scales

TREATMENT_CHOICES = list(TREATMENT_LABELS.items())
CALLBACK_CHOICES = list(CALLBACK_WINDOW_LABELS.items())
HOW_HEARD_CHOICES = [
    ("", "Choose one (optional)"),
    ("search", "Search engine"),
    ("doctor", "My doctor or therapist"),
    ("friend", "Friend or family"),
    ("social", "Social media"),
    ("advert", "Advertisement"),
    ("insurance", "My insurance"),
    ("other", "Other"),
]
YES_NO = [("yes", "Yes"), ("no", "No")]

# Field names of domain errors keyed "contact.<name>"; anything else without a field is form-level.
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "callback_window")


def _choices(pairs: list[tuple[str, str]]) -> list[SelectChoice]:
    # Labels are English message ids, translated when the page renders (the form classes are
    # built once at import, long before any request says which language it wants).
    return [SelectChoice(value, lazy_gettext(label)) for value, label in pairs]


def _name(form: FlaskForm, field: Field) -> None:
    """The domain's name rule, checked here too so it shows with the other fields' errors."""
    problem = rules.name_problem((field.data or "").strip())
    if problem:
        raise ValidationError(problem)


class ContactForm(FlaskForm):
    first_name = StringField(
        lazy_gettext("First name"),
        validators=[
            InputRequired("Enter your first name."),
            Length(max=MAX_NAME_CHARS, message=f"Use at most {MAX_NAME_CHARS} characters."),
            _name,
        ],
        render_kw={"autocomplete": "given-name", "maxlength": MAX_NAME_CHARS},
    )
    last_name = StringField(
        lazy_gettext("Last name"),
        validators=[
            Optional(),
            Length(max=MAX_NAME_CHARS, message=f"Use at most {MAX_NAME_CHARS} characters."),
            _name,
        ],
        render_kw={"autocomplete": "family-name", "maxlength": MAX_NAME_CHARS},
    )
    email = EmailField(
        lazy_gettext("Email"),
        validators=[
            Optional(),
            Length(max=MAX_EMAIL_CHARS, message=f"Use at most {MAX_EMAIL_CHARS} characters."),
        ],
        render_kw={"autocomplete": "email", "spellcheck": "false", "autocapitalize": "off"},
    )
    phone = TelField(
        lazy_gettext("Phone"),
        validators=[
            Optional(),
            Length(max=MAX_PHONE_CHARS, message=f"Use at most {MAX_PHONE_CHARS} characters."),
        ],
        render_kw={"autocomplete": "tel"},
    )
    treatment_interest = SelectField(
        lazy_gettext("What are you interested in?"),
        choices=_choices(TREATMENT_CHOICES),
        default=DEFAULT_TREATMENT,
        invalid_choice_message="Choose one of the options.",
    )
    callback_window = RadioField(
        lazy_gettext("When is a good time to call you?"),
        choices=_choices(CALLBACK_CHOICES),
        default=DEFAULT_CALLBACK_WINDOW,
        invalid_choice_message="Choose a time of day.",
    )
    message = TextAreaField(
        lazy_gettext("Anything you would like us to know?"),
        validators=[
            Optional(),
            Length(max=MAX_MESSAGE_CHARS, message=f"Use at most {MAX_MESSAGE_CHARS} characters."),
        ],
        render_kw={"rows": 5, "maxlength": MAX_MESSAGE_CHARS},
    )
    # The label is the exact wording whose version is sent along: the proof of consent.
    sms_consent = BooleanField(consent.SMS_WORDINGS[consent.CURRENT_SMS_WORDING], default=False)
    sms_wording_version = HiddenField(default=consent.CURRENT_SMS_WORDING)
    how_heard = SelectField(
        lazy_gettext("How did you hear about us?"),
        choices=_choices(HOW_HEARD_CHOICES),
        default="",
        invalid_choice_message="Choose one of the options, or leave it blank.",
    )
    # Made on GET, sent back with the post: the idempotency key that turns a double click
    # (or a resend after a lost response) into one submission.
    submission_token = HiddenField()
    # Spam defence: a field people never see (a bot fills every field), and a signed note of
    # when the page was made (a bot posts at once). Neither is validated: a bot must get the
    # ordinary thank-you page; domain.intake.spam weighs them.
    website = StringField("Leave this field empty", render_kw={"autocomplete": "off"})
    form_started = HiddenField()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.phone_e164: str | None = None
        self.email_normalized: str | None = None

    def start(self, treatment: str | None = None) -> None:
        """Prepare a blank form for GET: a fresh token, and a treatment chosen by the link."""
        self.submission_token.data = str(uuid.uuid4())
        if treatment in dict(TREATMENT_CHOICES):
            self.treatment_interest.data = treatment

    def validate_phone(self, field: Field) -> None:
        try:
            self.phone_e164 = normalize_phone(field.data)
        except InvalidContact as error:
            raise ValidationError(str(error)) from None

    def validate_email(self, field: Field) -> None:
        try:
            self.email_normalized = normalize_email(field.data)
        except InvalidContact as error:
            raise ValidationError(str(error)) from None

    def token(self) -> str | None:
        """The posted submission token if it is one this service made (a UUID), else None."""
        raw = (self.submission_token.data or "").strip()
        try:
            return str(uuid.UUID(raw))
        except ValueError:
            return None

    def contact(self) -> Contact:
        """The contact details, normalised; call after validate().

        A field that failed its own check still counts as given (its raw text), so the domain's
        rules that span fields ("an email or a phone") judge what the person typed instead of
        adding a second, contradicting error beside a field that already says what is wrong.
        """
        return Contact(
            first_name=self.first_name.data or "",
            last_name=self.last_name.data or "",
            email=self.email_normalized or self._typed_if_refused(self.email),
            phone=self.phone_e164 or self._typed_if_refused(self.phone),
            callback_window=self.callback_window.data or DEFAULT_CALLBACK_WINDOW,
        )

    def answers(self) -> dict[str, bool] | None:
        """The questionnaire's answers as the domain stores them (none on the contact form)."""
        return None

    @staticmethod
    def _typed_if_refused(field: Field) -> str | None:
        return ((field.data or "").strip() or None) if field.errors else None

    def add_errors(self, errors: dict[str, str]) -> None:
        """Show errors keyed like domain.intake's ("contact.phone") beside their fields.

        A field that already has an error keeps it alone: one thing to fix per field, the
        most specific one (the field's own check runs first).
        """
        for path, sentence in errors.items():
            field = self._field_for(path)
            if field is None:
                if sentence not in self.form_errors:
                    self.form_errors.append(sentence)
            elif not field.errors:
                field.errors = [sentence]

    def _field_for(self, path: str) -> Field | None:
        head, _, rest = path.partition(".")
        if head in ("treatment_interest", "message"):
            return self._fields[head]
        if (head == "contact" and rest in CONTACT_FIELDS) or head == "answers":
            return self._fields.get(rest)
        return None

    def item_fields(self) -> list[Field]:
        return []


class TmsScreenForm(ContactForm):
    """The TMS self-screen: five yes/no items, then the same contact fields."""

    def answers(self) -> dict[str, bool] | None:
        return {key: self[key].data == "yes" for key in TMS_ITEMS}

    def item_fields(self) -> list[Field]:
        return [self[key] for key in TMS_ITEMS]


# One required yes/no radio group per item, named by its TMS_ITEMS key (the answers' keys).
# validate_choice is off so a missing answer gets one message (InputRequired), not two.
for _key, _text in TMS_ITEMS.items():
    setattr(
        TmsScreenForm,
        _key,
        RadioField(
            lazy_gettext(_text),
            choices=_choices(YES_NO),
            validate_choice=False,
            validators=[
                InputRequired("Answer yes or no."),
                AnyOf(["yes", "no"], message="Answer yes or no."),
            ],
        ),
    )


class _ScaleForm(ContactForm):
    """A 0-3 questionnaire (PHQ-9, GAD-7): one radio group per item, then the contact fields."""

    scale_items: tuple[str, ...] = ()

    def answers(self) -> dict[str, Any] | None:
        # An unanswered item stays None, so the domain's check can still run beside the
        # fields' own errors (it names that item, which already says "Choose how often.").
        return {"items": [_scale_value(field.data) for field in self.item_fields()]}

    def item_fields(self) -> list[Field]:
        return [self[f"item_{n}"] for n in range(1, len(self.scale_items) + 1)]

    def _field_for(self, path: str) -> Field | None:
        # The domain names an answer "answers.items.<index from 0>".
        if path.startswith("answers.items."):
            return self._fields.get(f"item_{int(path.rsplit('.', 1)[1]) + 1}")
        return super()._field_for(path)


def _scale_value(raw: Any) -> int | None:
    return int(raw) if raw in _SCALE_VALUES else None


class Phq9Form(_ScaleForm):
    scale_items = scales.PHQ9_ITEMS


class Gad7Form(_ScaleForm):
    scale_items = scales.GAD7_ITEMS


SCALE_CHOICES = [(str(value), label) for value, label in scales.ANSWERS]
_SCALE_VALUES = frozenset(value for value, _ in SCALE_CHOICES)


def _scale_choices(scale: str) -> list[SelectChoice]:
    # Each scale's answers in the catalogue under its own context: the published Spanish
    # versions word "Not at all" differently (PHQ-9 "Ningún día", GAD-7 "Nunca").
    return [SelectChoice(value, lazy_pgettext(scale, label)) for value, label in SCALE_CHOICES]


# One required 0-3 radio group per item, item_1 ... item_n, labelled with the standard wording
# (the published translation in the catalogue); the values, and so the scores, are the same in
# every language.
for _scale, _form in (("phq9", Phq9Form), ("gad7", Gad7Form)):
    for _number, _text in enumerate(_form.scale_items, start=1):
        setattr(
            _form,
            f"item_{_number}",
            RadioField(
                lazy_gettext(_text),
                choices=_scale_choices(_scale),
                validate_choice=False,
                validators=[
                    InputRequired("Choose how often."),
                    AnyOf([v for v, _ in SCALE_CHOICES], message="Choose how often."),
                ],
            ),
        )


class _Embedded:
    """What an embedded page's form carries instead of Flask-WTF's session-bound token.

    Inside a clinic's iframe the browser sends no session cookie, so the form's CSRF token is
    one that needs none (security/embed_csrf.py), checked by web/public/embed.py.
    """

    class Meta:
        csrf = False

    embed_token = HiddenField()


class EmbeddedContactForm(_Embedded, ContactForm):
    pass


class EmbeddedTmsScreenForm(_Embedded, TmsScreenForm):
    pass


EmbeddedForm = EmbeddedContactForm | EmbeddedTmsScreenForm
