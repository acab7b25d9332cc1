"""Password hashing with Argon2id (argon2-cffi's defaults follow RFC 9106's recommendations)."""

from __future__ import annotations

import functools
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 12
MAX_LENGTH = 256  # hashing a megabyte "password" is a cheap denial of service


class WeakPassword(ValueError):
    """A password too short, too long or too common; the message says which."""


@functools.cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords (common_passwords.txt, shipped with the package)."""
    text = (Path(__file__).with_name("common_passwords.txt")).read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


# Keyboard rows and runs people stretch to the minimum length: "qwertyuiopas", "123456789012".
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "0123456789")
# What people stick on the ends of a word to pass a rule: "Password1234!".
_PADDING = "0123456789!@#$%^&*()_+-=.,;:?~ "
COMMON_SENTENCE = "that password is too common or too easy to guess; choose another"


def _repeated_unit(text: str) -> str | None:
    """ "monkey" for "monkeymonkey": the shortest piece `text` is a repeat of, if any."""
    for size in range(1, len(text) // 2 + 1):
        if len(text) % size == 0 and text == text[:size] * (len(text) // size):
            return text[:size]
    return None


def _is_run(text: str) -> bool:
    return any(text in run * 4 or text in run[::-1] * 4 for run in _RUNS)


def check_strength(password: str, context: tuple[str, ...] = ()) -> None:
    """NIST 800-63B: length, not composition, and not a known-bad choice; raises WeakPassword.

    Refused: fewer than MIN_LENGTH characters; a common password, also with digits or symbols
    on its ends or repeated ("Password1234!", "monkeymonkey"); a run or a repeat of a short
    piece ("123456789012", "abababababab"); one built on a word of `context` (the account's
    email name, the clinic's name).
    """
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")
    folded = password.casefold()
    core = folded.strip(_PADDING)
    units = {_repeated_unit(folded) or folded, _repeated_unit(core) or core}
    candidates = {folded, core, *units, *(unit.strip(_PADDING) for unit in units)}
    if candidates & common_passwords() or len(set(folded)) <= 3 or any(map(_is_run, candidates)):
        raise WeakPassword(COMMON_SENTENCE)
    for word in context:
        word = word.casefold().strip()
        if len(word) >= 4 and not core.replace(word, "").strip(_PADDING):
            raise WeakPassword(
                "a password must not be built on your email address or the clinic's name"
            )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if `password` matches; a malformed hash is a mismatch, never an error."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's: rehash at sign-in."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@functools.cache
def dummy_hash() -> str:
    """A hash to verify against when no account matches, so a wrong address takes as long as a
    wrong password and timing does not reveal which addresses have accounts.

    Made at the first sign-in, not at import: one Argon2 hash takes its full memory cost
    (64 MiB), which every web and worker process would otherwise pay at start (peak RSS).
    """
    return _hasher.hash("not-a-real-password-for-timing")
