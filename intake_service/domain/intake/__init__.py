"""Accepting a submission: the one transaction, the answers each form takes, contact rules.

The package's front door is `submit` (and `accept` inside a caller's transaction); the web
forms and the JSON API both come through it, and both take their rules from `rules`.
"""

from intake_service.domain.intake.contact_limit import SubmissionLimited
from intake_service.domain.intake.rules import CRISIS_MESSAGE, THANK_YOU
from intake_service.domain.intake.submission import (
    Accepted,
    Contact,
    IdempotencyConflict,
    InvalidSubmission,
    SubmissionInput,
    accept,
    check,
    replay,
    stored_key,
    submit,
)

__all__ = [
    "CRISIS_MESSAGE",
    "THANK_YOU",
    "Accepted",
    "Contact",
    "IdempotencyConflict",
    "InvalidSubmission",
    "SubmissionInput",
    "SubmissionLimited",
    "accept",
    "check",
    "replay",
    "stored_key",
    "submit",
]
