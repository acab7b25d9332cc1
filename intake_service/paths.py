"""Where the shipped files are, in a source checkout and in an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def templates_root() -> Path:
    """The templates/ folder: beside the package in a checkout, inside it once installed."""
    for candidate in (_PACKAGE.parent / "templates", _PACKAGE / "templates"):
        if (candidate / "messages").is_dir():
            return candidate
    raise FileNotFoundError("templates/ is missing: reinstall the intake-service package")


def message_templates_root() -> Path:
    return templates_root() / "messages"


def migrations_root() -> Path:
    return _PACKAGE / "migrations"


def translations_root() -> Path:
    """The message catalogues (translations/<locale>/LC_MESSAGES), shipped inside the package."""
    return _PACKAGE / "translations"
