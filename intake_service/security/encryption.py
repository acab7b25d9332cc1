"""Field encryption at rest (Fernet, with key rotation) and the column types that use it."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator


class FieldCipher:
    """Encrypts with the newest key and decrypts with any of them, so keys can be rotated."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one field encryption key is needed")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            # Never echo the token: it may be all an attacker needs to learn the key is wrong.
            raise ValueError(
                "an encrypted field could not be read with any configured key"
            ) from None


_cipher: FieldCipher | None = None


def configure_field_encryption(keys: tuple[str, ...]) -> None:
    """Install the process-wide cipher; create_app calls this before any session opens."""
    global _cipher
    _cipher = FieldCipher(keys)


def _current_cipher() -> FieldCipher:
    if _cipher is None:
        raise RuntimeError("field encryption is not configured; create the app first")
    return _cipher


class EncryptedText(TypeDecorator[str]):
    """Text encrypted in the database, plain in Python. Health information lives in these."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else _current_cipher().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else _current_cipher().decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document encrypted in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None:
            return None
        return _current_cipher().encrypt(json.dumps(value, sort_keys=True))

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(_current_cipher().decrypt(value))
