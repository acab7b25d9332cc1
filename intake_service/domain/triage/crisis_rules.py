"""The crisis-language rules, loaded once from crisis_rules.toml beside this module.

The TOML file is the readable source (word lists, phrases, idioms); this module only gives
its parts names and types, and fails at import if the file is malformed.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

_PATH = Path(__file__).with_name("crisis_rules.toml")


def _load() -> dict[str, Any]:
    with _PATH.open("rb") as handle:
        data: dict[str, Any] = tomllib.load(handle)
    return data


_DATA = _load()

RULES_VERSION: str = _DATA["version"]
WORDS: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in _DATA["words"].items()}
# id -> (category, phrases), in the file's order (the first rule matched is reported first).
RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    rule: (table["category"], tuple(table["phrases"])) for rule, table in _DATA["rules"].items()
}
COMPACT: tuple[str, ...] = tuple(_DATA["compact"])
IDIOMS: tuple[str, ...] = tuple(_DATA["idioms"])
INTENT_WORDS: tuple[str, ...] = tuple(_DATA["intent_words"])
NEGATIONS: tuple[str, ...] = tuple(_DATA["negations"])
