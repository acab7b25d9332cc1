"""Blind index: keyed hashes of phones and emails, so lookups never scan contact columns.

A duplicate check, a STOP reply matched to its lead, or a staff search by phone compares
HMAC-SHA256(key, value) with the hash stored beside the lead (`leads.phone_hash`,
`leads.email_hash`). Without the key, a stolen database or backup cannot be searched for a
known person's number, and the hashes cannot be brute-forced back into numbers the way a plain
SHA-256 of the few billion possible phone numbers could.

The key is BLIND_INDEX_KEY, or one derived from SECRET_KEY; it is bound to each app's engine
(like the field cipher), so two apps with different keys can share a process. Changing it needs
`intake-service keys reindex`.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, Dialect, Engine, String, bindparam
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from intake_service.config import Settings

# Domain separation: a key derived for this use only, and a label per kind of value, so a
# phone's hash can never equal an email's.
_DERIVATION_LABEL = b"intake-service blind index v1"
_DIALECT_ATTRIBUTE = "intake_blind_index"


def derive_key(secret_key: str) -> bytes:
    """The blind-index key derived from SECRET_KEY when BLIND_INDEX_KEY is not set."""
    return hmac.new(secret_key.encode(), _DERIVATION_LABEL, hashlib.sha256).digest()


def normalise_email(address: str) -> str:
    """The form an address is compared in: Jane@Example.com and jane@example.com are one person."""
    return address.strip().lower()


class BlindIndex:
    """Hashes phones (E.164) and emails with one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a blind-index key needs at least 32 bytes")
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> BlindIndex:
        configured = settings.security.blind_index_key
        return cls(configured.encode() if configured else derive_key(settings.secret_key))

    def _digest(self, kind: bytes, value: str) -> str:
        return hmac.new(self._key, kind + b"\0" + value.encode(), hashlib.sha256).hexdigest()

    def phone(self, e164: str) -> str:
        return self._digest(b"phone", e164.strip())

    def email(self, address: str) -> str:
        return self._digest(b"email", normalise_email(address))


def bind_blind_index(engine: Engine, index: BlindIndex) -> None:
    """Make hashes written and looked up through `engine` use `index`'s key."""
    setattr(engine.dialect, _DIALECT_ATTRIBUTE, index)


def blind_index_of(dialect: Dialect) -> BlindIndex:
    """The index bound to the engine of `dialect`; raises RuntimeError if there is none."""
    index: BlindIndex | None = getattr(dialect, _DIALECT_ATTRIBUTE, None)
    if index is None:
        raise RuntimeError(
            "this database was opened without a blind-index key; open it through create_app "
            "or cli.common.database"
        )
    return index


class _Hashed(TypeDecorator[str]):
    """A value hashed with the engine's key as it is sent: lookups say what they look for in
    the clear, and the database only ever sees the hash."""

    impl = String(64)
    cache_ok = True

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        index = blind_index_of(dialect)
        return index.phone(value) if self.kind == "phone" else index.email(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return value


def phone_index(e164: str) -> BindParameter[str]:
    """The hash of a phone number (E.164), for `Lead.phone_hash == phone_index(e164)`."""
    return bindparam(None, e164, type_=_Hashed("phone"))


def phone_index_param(name: str) -> BindParameter[str]:
    """A named parameter sent as the hash of the phone number (E.164) given for it: for a
    statement built once, `Lead.phone_hash == phone_index_param("phone")`."""
    return bindparam(name, type_=_Hashed("phone"))


def email_index(address: str) -> BindParameter[str]:
    """The hash of an email address, for `Lead.email_hash == email_index(address)`."""
    return bindparam(None, address, type_=_Hashed("email"))
