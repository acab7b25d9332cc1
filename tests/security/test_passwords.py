"""Password rules by length, not composition (NIST 800-63B), and against common choices."""

from __future__ import annotations

import pytest

from intake_service.security.passwords import (
    MIN_LENGTH,
    WeakPassword,
    check_strength,
    common_passwords,
)


def test_the_shipped_list_holds_ten_thousand_lower_case_passwords() -> None:
    listed = common_passwords()
    assert len(listed) >= 9_900  # a few collapse when lower-cased
    assert {"password", "123456", "qwerty", "iloveyou"} <= listed
    assert all(p == p.lower() for p in listed)


@pytest.mark.parametrize(
    "password",
    [
        "correct horse battery staple",
        "plum kiwi 77 lagoon",
        "zebra-7731-private-sky",
        "all lower case is fine here",
        "ÜBER-lange Passphrase",  # any character may be used
    ],
)
def test_long_uncommon_passwords_pass_whatever_their_composition(password: str) -> None:
    check_strength(password)


@pytest.mark.parametrize(
    "password",
    [
        "Password1234!",  # a listed word padded to length
        "123456789012",  # a digit run
        "qwertyuiopas",  # a keyboard row
        "monkeymonkey",  # a listed word repeated
        "trustno1trustno1",
        "aaaaaaaaaaaa",
        "abababababab",
        "Summer2024!!",
        "1qaz2wsx3edc",  # listed itself
        "ZYXWVUTSRQPO",  # a run backwards
    ],
)
def test_common_runs_and_repeats_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword, match="too common"):
        check_strength(password)


def test_length_bounds() -> None:
    with pytest.raises(WeakPassword, match=f"at least {MIN_LENGTH}"):
        check_strength("tiny words")
    with pytest.raises(WeakPassword, match="at most"):
        check_strength("long " * 60)


@pytest.mark.parametrize("password", ["jsmith123456", "JSmith!JSmith!", "Oakridge2026!!"])
def test_passwords_built_on_the_account_or_clinic_are_refused(password: str) -> None:
    with pytest.raises(WeakPassword, match="email address or the clinic"):
        check_strength(password, context=("jsmith", "oakridge"))
