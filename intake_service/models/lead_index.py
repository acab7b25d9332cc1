"""Keeping a lead's blind-index hashes in step with its phone and email, and looking them up.

The hashes are written in the same flush as the contact points they stand for, so no code path
can save a phone without its hash (intake, which writes its rows without the ORM, takes them
from `contact_hashes`); lookups go through `leads_with_phone` / `leads_with_email`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, event, inspect, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Mapper

from intake_service.models.lead import Lead
from intake_service.security.blind_index import (
    blind_index_of,
    email_index,
    phone_index,
    phone_index_param,
)


def contact_hashes(dialect: Dialect, phone: str | None, email: str | None) -> dict[str, Any]:
    """The hash columns of a lead with this phone and email, for a row written without the ORM."""
    index = blind_index_of(dialect)
    return {
        "phone_hash": index.phone(phone) if phone else None,
        "email_hash": index.email(email) if email else None,
    }


@event.listens_for(Lead, "before_insert")
def _index_new_lead(_mapper: Mapper[Any], connection: Connection, lead: Lead) -> None:
    for column, value in contact_hashes(connection.dialect, lead.phone, lead.email).items():
        setattr(lead, column, value)


@event.listens_for(Lead, "before_update")
def _reindex_changed_lead(_mapper: Mapper[Any], connection: Connection, lead: Lead) -> None:
    state = inspect(lead)
    if state.attrs.phone.history.has_changes():
        lead.phone_hash = (
            blind_index_of(connection.dialect).phone(lead.phone) if lead.phone else None
        )
    if state.attrs.email.history.has_changes():
        lead.email_hash = (
            blind_index_of(connection.dialect).email(lead.email) if lead.email else None
        )


def has_phone(e164: str) -> ColumnElement[bool]:
    """A condition true for leads with this phone number (E.164)."""
    return Lead.phone_hash == phone_index(e164)


def has_phone_param(name: str) -> ColumnElement[bool]:
    """A condition true for leads with the phone number (E.164) bound as `name` when the
    statement runs: for statements built once; None bound matches no lead."""
    return Lead.phone_hash == phone_index_param(name)


def has_email(address: str) -> ColumnElement[bool]:
    """A condition true for leads with this email address (case-insensitive)."""
    return Lead.email_hash == email_index(address)


def leads_with_phone(e164: str) -> Select[Lead]:
    """Leads with this phone number, newest first: the STOP reply's and duplicate check's query."""
    return select(Lead).where(has_phone(e164)).order_by(Lead.created_at.desc(), Lead.id)


def leads_with_email(address: str) -> Select[Lead]:
    """Leads with this email address, newest first."""
    return select(Lead).where(has_email(address)).order_by(Lead.created_at.desc(), Lead.id)
