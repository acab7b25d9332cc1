"""Staff forms: each carries a CSRF token (Flask-WTF) and checks its own fields."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields import TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from intake_service.models.lead_event import CALL_OUTCOMES

OUTCOME_LABELS = {
    "reached": "Reached the patient",
    "voicemail": "Left a voicemail",
    "no_answer": "No answer",
    "wrong_number": "Wrong number",
}
MARKS = ("contacted", "booked", "closed", "spam", "unspam", "reopen")


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    next = StringField(validators=[Optional(), Length(max=500)])


class ActionForm(FlaskForm):
    """A button with nothing to fill in (claim, done, sign out): the token is the point."""


class CallForm(FlaskForm):
    outcome = SelectField(
        "Outcome",
        choices=[SelectChoice(o, OUTCOME_LABELS[o]) for o in CALL_OUTCOMES],
        validators=[DataRequired()],
    )
    note = TextAreaField("Note", validators=[Optional(), Length(max=5000)])


class NoteForm(FlaskForm):
    note = TextAreaField("Note", validators=[DataRequired(), Length(max=5000)])


class CallbackForm(FlaskForm):
    day = DateField("Day", validators=[DataRequired()])
    time = TimeField("Time", validators=[DataRequired()])
    note = TextAreaField("Note", validators=[Optional(), Length(max=5000)])


class AssignForm(FlaskForm):
    user_id = SelectField("Assign to", coerce=str, validate_choice=True)


class StatusForm(FlaskForm):
    mark = SelectField(
        "Mark", choices=[SelectChoice(m, m) for m in MARKS], validators=[DataRequired()]
    )
