"""Admin forms: each carries a CSRF token (Flask-WTF); the domain does the real checking."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from intake_service.domain.templates.editing import MAX_NOTE, MAX_PART
from intake_service.domain.templates.message_context import TREATMENT_LABELS, WINDOW_LABELS
from intake_service.domain.templates.samples import MAX_SAMPLE_JSON, SampleChoice
from intake_service.models.user import ROLES

ROLE_LABELS = {"admin": "Admin", "clinician": "Clinician", "coordinator": "Coordinator"}


class EditorForm(FlaskForm):
    subject = StringField("Subject", validators=[Optional(), Length(max=MAX_PART)])
    body_text = TextAreaField("Text", validators=[Optional(), Length(max=MAX_PART)])
    body_html = TextAreaField("HTML", validators=[Optional(), Length(max=MAX_PART)])
    note = StringField(
        "Note for the history (optional)", validators=[Optional(), Length(max=MAX_NOTE)]
    )
    sample_urgent = BooleanField("Urgent (a safety flag was raised)")
    sample_treatment = SelectField(
        "Treatment",
        choices=[SelectChoice(k, v) for k, v in TREATMENT_LABELS.items()],
        default=SampleChoice().treatment,
    )
    sample_phone = BooleanField("Gave a phone number", default=True)
    sample_window = SelectField(
        "Callback window",
        choices=[SelectChoice(k, v.capitalize()) for k, v in WINDOW_LABELS.items()],
        default=SampleChoice().window,
    )
    sample_json = TextAreaField(
        "Sample as JSON (optional)", validators=[Optional(), Length(max=MAX_SAMPLE_JSON)]
    )


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    name = StringField("Name (optional)", validators=[Optional(), Length(max=100)])
    role = SelectField(
        "Role", choices=[SelectChoice(r, ROLE_LABELS[r]) for r in ROLES], default="coordinator"
    )


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=256)])
    confirm = PasswordField("The same password again", validators=[DataRequired(), Length(max=256)])
