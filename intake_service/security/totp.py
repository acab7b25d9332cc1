"""Time-based one-time passwords (RFC 6238) for the optional second factor of staff accounts.

Any authenticator app works (Google Authenticator, 1Password, Aegis...): a base32 secret, six
digits, 30-second steps. A code is accepted one step early or late (clocks drift), and never
twice: the step it matched is kept, and a code from that step or an earlier one is refused.
"""

from __future__ import annotations

import datetime as dt
import hmac

import pyotp

DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh 160-bit base32 secret (RFC 4226's recommended length)."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads (pasted, or typed from the secret)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer
    )


def matching_step(secret: str, code: str, now: dt.datetime, last_step: int | None) -> int | None:
    """The time step `code` belongs to, if it is valid now and newer than `last_step`."""
    code = "".join(code.split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue  # already used: a code read over a shoulder cannot be replayed
        expected = totp.generate_otp(step)
        if hmac.compare_digest(expected, code):
            return step
    return None


def code_at(secret: str, when: dt.datetime) -> str:
    """The code an authenticator shows at `when` (tests, and the enrolment check)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(when)
