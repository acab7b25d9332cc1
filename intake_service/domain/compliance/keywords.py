"""SMS keywords: opt-out, opt-in and help words, in English and Spanish (DOMAIN.md).

A keyword is the whole message: case, surrounding spaces and punctuation do not matter
("Stop.", " STOP! ", "stop 🛑"), but a sentence that merely contains the word is a reply for a
person to read, not a keyword ("please don't stop calling me"). Twilio matches the same way, so
the service and the provider agree on who opted out.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass


class Keyword(enum.StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


# Twilio's default opt-out, opt-in and help words, and the Spanish ones DOMAIN.md names.
ENGLISH = {
    Keyword.OPT_OUT: (
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
    ),
    Keyword.OPT_IN: ("START", "UNSTOP", "YES"),
    Keyword.HELP: ("HELP", "INFO"),
}
SPANISH = {
    Keyword.OPT_OUT: ("ALTO", "PARAR", "CANCELAR"),
    Keyword.HELP: ("AYUDA",),
}
_WORDS: dict[str, tuple[Keyword, str]] = {
    word: (kind, language)
    for language, table in (("en", ENGLISH), ("es", SPANISH))
    for kind, words in table.items()
    for word in words
}
# "opt out", "opt-out", "stop all": two halves of one keyword, as people type them.
_SPLIT_WORD = re.compile(r"^(\w+)[\s\-]+(\w+)$")


@dataclass(frozen=True)
class Match:
    kind: Keyword
    word: str  # the keyword as listed ("STOP")
    language: str  # "en" | "es": the language to answer in


def _is_edge(char: str) -> bool:
    # Punctuation, symbols (emoji among them), separators and controls around a keyword.
    return unicodedata.category(char)[0] in "PSZC"


def normalize(body: str) -> str:
    """The message as compared with the keywords: NFKC, trimmed of edge marks, upper case."""
    text = unicodedata.normalize("NFKC", body)
    start, end = 0, len(text)
    while start < end and _is_edge(text[start]):
        start += 1
    while end > start and _is_edge(text[end - 1]):
        end -= 1
    return text[start:end].upper()


def classify(body: str) -> Match | None:
    """The keyword `body` is, or None when it is a message for a person to read."""
    text = normalize(body)
    found = _WORDS.get(text)
    if found is None:
        halves = _SPLIT_WORD.match(text)
        if halves is not None:
            found = _WORDS.get(halves[1] + halves[2])
            text = halves[1] + halves[2]
    if found is None:
        return None
    kind, language = found
    return Match(kind, text, language)
