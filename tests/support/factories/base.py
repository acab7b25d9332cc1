"""What every factory shares: its target (a Database or a Session) and a counter."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from intake_service.db import Database
from intake_service.models import Lead

Target = Database | Session
LeadRef = Lead | uuid.UUID

# Unique names, addresses and plan keys across a test session.
counter = itertools.count(1)


@contextmanager
def writing(target: Target) -> Iterator[Session]:
    """The caller's session (flushed at the end), or a transaction of its own (committed)."""
    if isinstance(target, Session):
        yield target
        target.flush()
    else:
        with target.transaction() as session:
            yield session


def id_of(lead: LeadRef) -> uuid.UUID:
    return lead.id if isinstance(lead, Lead) else lead
