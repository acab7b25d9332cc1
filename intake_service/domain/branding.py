"""How the public pages look: the clinic's logo and primary colour, both set by an admin.

The logo is a PNG or JPEG, recognised by its first bytes (never by the name or the type the
browser claims); SVG is refused because it can carry script. It is stored in the database
(`clinic_assets`), so every web process serves the same file, under its SHA-256 so a new
logo is a new address and the old one can be cached for a year.

The colour is the pages' `--brand`: the header and buttons carry white text on it and links
are drawn in it on white, so white on it must reach WCAG AA's 4.5:1 for normal text.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake_service.db import utcnow
from intake_service.domain.compliance import audit
from intake_service.models import ClinicAsset

LOGO = "logo"
MAX_LOGO_BYTES = 512 * 1024
# (first bytes, media type, file extension); a PNG's IHDR chunk always follows its signature.
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)
EXTENSIONS = {media_type: extension for _, media_type, extension in _SIGNATURES}
MIN_CONTRAST = 4.5  # WCAG 2.x AA, normal-size text
_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


class InvalidLogo(ValueError):
    """A file that is not a logo the pages can show; the message says why."""


class InvalidColour(ValueError):
    """A colour that is not a hex colour, or one white text cannot be read on."""


@dataclass(frozen=True)
class LogoRef:
    digest: str  # SHA-256 of the bytes, hex
    media_type: str

    @property
    def filename(self) -> str:
        return f"{self.digest[:16]}.{EXTENSIONS[self.media_type]}"


def sniff(data: bytes) -> str:
    """The media type of a logo file, from its content; raises InvalidLogo."""
    if not data:
        raise InvalidLogo("The file is empty; choose a PNG or JPEG image.")
    if len(data) > MAX_LOGO_BYTES:
        raise InvalidLogo(
            f"The file is {len(data) // 1024} KiB; a logo can be at most "
            f"{MAX_LOGO_BYTES // 1024} KiB."
        )
    for signature, media_type, _ in _SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data.lstrip()[:5].lower() in (b"<?xml", b"<svg ") or b"<svg" in data[:1024].lower():
        raise InvalidLogo("SVG files can carry scripts, so they are not accepted; use PNG or JPEG.")
    raise InvalidLogo("That file is not a PNG or JPEG image; export the logo as PNG or JPEG.")


def current_logo(session: Session) -> LogoRef | None:
    """The logo in force (without its bytes), or None."""
    row = session.execute(
        select(ClinicAsset.digest, ClinicAsset.media_type).where(ClinicAsset.key == LOGO)
    ).first()
    return LogoRef(row.digest, row.media_type) if row is not None else None


def logo_file(session: Session, digest_prefix: str) -> tuple[bytes, LogoRef] | None:
    """The logo's bytes if `digest_prefix` names the logo in force (an old address: None)."""
    row = session.get(ClinicAsset, LOGO)
    if row is None or not digest_prefix or not row.digest.startswith(digest_prefix):
        return None
    return row.data, LogoRef(row.digest, row.media_type)


def store_logo(session: Session, data: bytes, actor: audit.Actor) -> LogoRef:
    """Make `data` the logo (not committed), audited; raises InvalidLogo before storing."""
    media_type = sniff(data)
    digest = hashlib.sha256(data).hexdigest()
    row = session.get(ClinicAsset, LOGO)
    before = None if row is None else row.digest
    if row is None:
        row = ClinicAsset(key=LOGO)
        session.add(row)
    row.data, row.media_type, row.digest, row.size = data, media_type, digest, len(data)
    row.updated_at, row.updated_by_id = utcnow(), actor.id
    session.flush()
    if before != digest:
        change = {"before": before, "after": digest, "type": media_type, "bytes": len(data)}
        audit.record(session, actor, "settings.changed", detail={"changes": {"logo": change}})
    return LogoRef(digest, media_type)


def remove_logo(session: Session, actor: audit.Actor) -> bool:
    """Take the logo off the pages (not committed), audited; False if there was none."""
    row = session.get(ClinicAsset, LOGO)
    if row is None:
        return False
    change = {"before": row.digest, "after": None}
    session.delete(row)
    session.flush()
    audit.record(session, actor, "settings.changed", detail={"changes": {"logo": change}})
    return True


def normalise_colour(raw: str) -> str:
    """`raw` as #rrggbb in lower case; raises InvalidColour for anything but a hex colour."""
    found = _HEX.match(raw.strip())
    if found is None:
        raise InvalidColour(f"{raw.strip()!r} is not a colour; write it in hex, like #0b4f8a.")
    digits = found[1].lower()
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return f"#{digits}"


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of #rrggbb."""
    channels = []
    for start in (1, 3, 5):
        value = int(colour[start : start + 2], 16) / 255
        channels.append(value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_with_white(colour: str) -> float:
    """The WCAG contrast ratio of white text on `colour` (#rrggbb), 1 to 21."""
    return 1.05 / (_luminance(colour) + 0.05)


def check_colour(raw: str) -> str:
    """The primary colour as stored (#rrggbb); refused when white text on it is hard to read."""
    colour = normalise_colour(raw)
    ratio = contrast_with_white(colour)
    if ratio < MIN_CONTRAST:
        raise InvalidColour(
            f"White text on {colour} has a contrast of {ratio:.1f}:1; WCAG AA needs at least "
            f"{MIN_CONTRAST}:1 for the header, buttons and links. Choose a darker shade."
        )
    return colour


def darker(colour: str, amount: float = 0.25) -> str:
    """`colour` mixed with `amount` black: the pages' hover and button-edge shade."""
    parts = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{round(p * (1 - amount)):02x}" for p in parts)
