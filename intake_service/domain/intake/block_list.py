"""The spam block list as an admin edits it: add and remove entries, each audited.

Matching lives in `spam` (a submission hitting an entry is stored as spam); this module is the
admin's door to the rows. The audit line carries the entry's id and kind, not its value: a
blocked address is somebody's contact point, and the trail is read broadly.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from intake_service.domain.compliance import audit
from intake_service.domain.intake import spam
from intake_service.models import BlockedValue

MAX_NOTE = 500


def entries(session: Session) -> list[BlockedValue]:
    """The block list, by kind then value."""
    return spam.blocked_values(session)


def add(
    session: Session, kind: str, value: str, note: str, actor: audit.Actor
) -> tuple[BlockedValue, bool]:
    """Block `value` (not committed); returns the entry and whether it is new (an entry
    already there is left as it was, and not audited again). Raises ValueError."""
    cleaned = spam.block_value(kind, value)
    note = note.strip()
    if len(note) > MAX_NOTE:
        raise ValueError(f"a note has at most {MAX_NOTE} characters")
    existing = spam.blocked(session, kind, cleaned)
    if existing is not None:
        return existing, False
    entry = spam.block(session, kind, cleaned, by=actor.email, note=note or None)
    audit.record(
        session, actor, "blocklist.added", detail={"entry_id": entry.id, "kind": entry.kind}
    )
    return entry, True


def remove(session: Session, entry_id: int, actor: audit.Actor) -> tuple[str, str] | None:
    """Take an entry off the block list (not committed); returns its kind and value, or None
    if it was gone."""
    entry = session.get(BlockedValue, entry_id)
    if entry is None:
        return None
    kind, value = entry.kind, entry.value
    spam.unblock(session, entry_id)
    audit.record(session, actor, "blocklist.removed", detail={"entry_id": entry_id, "kind": kind})
    return kind, value
