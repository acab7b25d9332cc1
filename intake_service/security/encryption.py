"""Field encryption at rest (Fernet, with key rotation) and the column types that use it."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, Engine, Text
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


# Each engine carries its own cipher on its dialect, the one object SQLAlchemy hands to every
# column type's bind and result processing: two apps with different keys in one process (a
# test, a key-rotation command) each read and write with their own.
_DIALECT_ATTRIBUTE = "intake_field_cipher"


def bind_cipher(engine: Engine, cipher: FieldCipher) -> None:
    """Make the encrypted columns read and written through `engine` use `cipher`."""
    setattr(engine.dialect, _DIALECT_ATTRIBUTE, cipher)


def cipher_of(dialect: Dialect) -> FieldCipher:
    """The cipher bound to the engine of `dialect`; raises RuntimeError if there is none."""
    cipher: FieldCipher | None = getattr(dialect, _DIALECT_ATTRIBUTE, None)
    if cipher is None:
        raise RuntimeError(
            "this database was opened without field encryption keys; open it with "
            "Database.from_settings(settings) or Database(url, cipher)"
        )
    return cipher


class EncryptedText(TypeDecorator[str]):
    """Text encrypted in the database, plain in Python. Health information lives in these."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else cipher_of(dialect).decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document encrypted in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).encrypt(json.dumps(value, sort_keys=True))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        return None if value is None else json.loads(cipher_of(dialect).decrypt(value))
