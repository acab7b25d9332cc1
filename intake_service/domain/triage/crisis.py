"""Crisis language in free text: a pure, versioned detector that errs toward flagging.

`detect(text)` reads a message (a form's free text, an API submission, an inbound text) and
says whether it holds crisis language, which rule raised the flag and which words did. The
rules are data (crisis_rules.toml); this module only normalises text and matches phrases.

Normalising defeats the usual disguises, the same way for the message and for the phrases:
case and accents ("Suicídio"), leetspeak ("k1ll mys3lf", "$uicide"), repeated letters
("killlll", so "kil" reads as "kill" too), spaced or dotted letters ("k i l l", "s.u.i.c.i.d.e"),
and one dropped or swapped letter in longer words ("suicde", "myslef").

A message is matched only against the phrases that could match it: each phrase has needles,
the spellings of one word it cannot leave out, and a phrase none of whose needles is in the
message is skipped (the same answer as scanning all of them, in a third of the time).

A screening aid: it never decides anything. A flag sends the lead to a person at once; a
miss may cost a life and a false alarm costs a phone call, so negation never clears a flag.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from intake_service.domain.triage.crisis_rules import (
    COMPACT,
    IDIOMS,
    INTENT_WORDS,
    NEGATIONS,
    RULES,
    RULES_VERSION,
    WORDS,
)

__all__ = ["RULES_VERSION", "Detection", "Match", "detect", "normalize"]

# Leetspeak read as letters when it stands inside or against a word ("k1ll", "$uicide").
_LEET = {"1": "i", "3": "e", "0": "o", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
# ...but not a number in front of a unit or an ordinal suffix ("5kms", "3rd", "10mg").
_UNITS = re.compile(r"(?:kms?|mg|ml|am|pm|st|nd|rd|th|x|k|lbs?|hrs?|mins?|yrs?|kg|s|d)\b")
_APOSTROPHES = "'’‘ʼ`´"  # noqa: RUF001  (curly quotes are what phones type)
FUZZY_MIN_LETTERS = 6  # words this long also match with one letter dropped or swapped
GAP_WORDS = 3  # "..." in a phrase: up to this many other words


@dataclass(frozen=True)
class Match:
    rule: str  # the rule's id in crisis_rules.RULES
    category: str  # ideation, intent, plan, self_harm, overdose, goodbye, ...
    words: str  # the words of the message that raised it, as typed
    start: int  # where they are in the message
    end: int
    negated: bool = False  # a denial came just before ("not suicidal"): still flagged


@dataclass(frozen=True)
class Detection:
    matches: tuple[Match, ...]
    version: str = RULES_VERSION

    @property
    def flagged(self) -> bool:
        return bool(self.matches)

    def __bool__(self) -> bool:
        return self.flagged

    @property
    def rule(self) -> str | None:
        """The first rule that raised the flag, or None."""
        return self.matches[0].rule if self.matches else None

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.rule for m in self.matches))

    @property
    def words(self) -> tuple[str, ...]:
        """Every distinct passage that raised the flag, in the order they appear."""
        return tuple(dict.fromkeys(m.words for m in self.matches))


@dataclass(frozen=True)
class Normalized:
    """The normalised text, and for each of its characters where it came from in the original."""

    text: str
    origin: tuple[int, ...]


def normalize(text: str) -> Normalized:
    """Lower-case letters and digits in single-spaced words, each traced to the original."""
    chars: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        if char in _APOSTROPHES:
            continue  # "don't" reads "dont", "I'm" reads "im"
        for part in unicodedata.normalize("NFKD", char.casefold()):
            if not unicodedata.combining(part):
                chars.append((part, index))
    chars = _unleet(chars)
    spaced: list[tuple[str, int]] = []
    for char, index in chars:
        if char.isalnum() and char.isascii():
            spaced.append((char, index))
        elif spaced and spaced[-1][0] != " ":
            spaced.append((" ", index))
    while spaced and spaced[-1][0] == " ":
        spaced.pop()
    joined = _join_spelled_out(_number_words(spaced))
    # Repeated letters count once ("killlll", "sooo"), so "kil" and "kill" read the same.
    collapsed = [
        pair
        for position, pair in enumerate(joined)
        if position == 0 or not (pair[0].isalpha() and pair[0] == joined[position - 1][0])
    ]
    return Normalized("".join(c for c, _ in collapsed), tuple(i for _, i in collapsed))


def _unleet(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    out = list(chars)
    text = "".join(c for c, _ in chars)
    for position, (char, index) in enumerate(chars):
        if char not in _LEET:
            continue
        before = text[position - 1] if position else " "
        after = text[position + 1] if position + 1 < len(text) else " "
        if char.isdigit():
            # A lone digit touching a letter: "k1ll", "5uicide"; not "10 pills" or "5kms".
            if before.isdigit() or after.isdigit() or not (before.isalpha() or after.isalpha()):
                continue
            if not before.isalpha() and _UNITS.match(text, position + 1):
                continue
        elif not (before.isalpha() or after.isalpha()):
            continue
        out[position] = (_LEET[char], index)
    return out


# Spoken forms read as written out, in the message and in the phrases alike.
_CONTRACTIONS = {"wanna": "want to", "gonna": "going to", "gotta": "got to", "imma": "im going to"}


def _number_words(spaced: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """A lone "2" between words reads "to" ("want 2 die"); "wanna" reads "want to"."""
    spaced = _expand_contractions(spaced)
    out: list[tuple[str, int]] = []
    for position, (char, index) in enumerate(spaced):
        if (
            char == "2"
            and 2 <= position < len(spaced) - 2
            and spaced[position - 1][0] == spaced[position + 1][0] == " "
            and spaced[position - 2][0].isalpha()
            and spaced[position + 2][0].isalpha()
        ):
            out.extend([("t", index), ("o", index)])
        else:
            out.append((char, index))
    return out


def _expand_contractions(spaced: list[tuple[str, int]]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    word: list[tuple[str, int]] = []
    for pair in [*spaced, (" ", -1)]:
        if pair[0] != " ":
            word.append(pair)
            continue
        text = "".join(c for c, _ in word)
        if text in _CONTRACTIONS and word:
            out.extend((c, word[0][1]) for c in _CONTRACTIONS[text])
        else:
            out.extend(word)
        if pair[1] != -1:
            out.append(pair)
        word = []
    return out


def _join_spelled_out(spaced: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Join runs of three or more one-letter words: "k i l l" -> "kill"."""
    words: list[list[tuple[str, int]]] = [[]]
    for pair in spaced:
        if pair[0] == " ":
            words.append([])
        else:
            words[-1].append(pair)
    out: list[tuple[str, int]] = []
    position = 0
    while position < len(words):
        run_end = position
        while run_end < len(words) and len(words[run_end]) == 1:
            run_end += 1
        if run_end - position >= 3:
            group = [pair for word in words[position:run_end] for pair in word]
            position = run_end
        else:
            group = words[position]
            position += 1
        if out:
            out.append((" ", group[0][1]))
        out.extend(group)
    return out


# --- phrases to regular expressions ----------------------------------------------------------


def _norm_word(word: str) -> str:
    return normalize(word).text


def _fuzzy(word: str, stem: bool = False) -> set[str]:
    """The word, and for long words every spelling with one letter dropped or two swapped.

    A stem keeps its last letter: "overdo" must not stand for "overdos*".
    """
    variants = {word}
    if len(word) >= FUZZY_MIN_LETTERS and word.isalpha():
        for i in range(len(word) - 1 if stem else len(word)):
            variants.add(word[:i] + word[i + 1 :])
        for i in range(len(word) - 1):
            variants.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    return {v for v in variants if v}


def _options(words: list[str], stem: bool = False) -> set[str]:
    """The spellings, normalised, that one token of a phrase matches."""
    options: set[str] = set()
    for word in words:
        normal = _norm_word(word)
        if " " in normal:
            options.add(normal)
        else:
            options.update(_fuzzy(normal, stem))
    return options


def _token_options(token: str) -> set[str]:
    words: list[str] = []
    for part in token.removesuffix("*").split("|"):
        if part.startswith("{") and part.endswith("}"):
            words.extend(WORDS[part[1:-1]])
        else:
            words.append(part)
    return _options(words, token.endswith("*"))


def _token(token: str) -> str:
    stem = "[a-z]*" if token.endswith("*") else ""
    # Longest first, so "my own" is tried before "my".
    options = sorted(_token_options(token), key=lambda o: -len(o))
    return "(?:" + "|".join(map(re.escape, options)) + ")" + stem


def compile_phrase(phrase: str) -> re.Pattern[str]:
    """One phrase of crisis_rules' syntax as a regular expression over normalised text."""
    parts: list[str] = []
    for raw in phrase.split():
        if raw == "...":
            parts.append(f"(?: [a-z0-9]+){{0,{GAP_WORDS}}}")
        elif raw == "##":  # a number of two digits or more: "took 30 of my"
            parts.append(("" if not parts else " ") + "[1-9][0-9]+")
        elif raw.startswith("[") and raw.endswith("]"):
            parts.append(f"(?: {_token(raw[1:-1])})?")
        else:
            parts.append(("" if not parts else " ") + _token(raw))
    return re.compile(r"(?<![a-z0-9])" + "".join(parts) + r"(?![a-z0-9])")


def needles(phrase: str) -> frozenset[str]:
    """Spellings of which any text the phrase matches holds one, as it stands: a phrase whose
    needles are all absent cannot match, so detect skips its pattern. They are the options of
    one token the phrase cannot leave out, the one with fewest of them among those of four
    letters or more ("myself", not "i"); empty when every token is optional.
    """
    required = [
        _token_options(raw)
        for raw in phrase.split()
        if raw not in ("...", "##") and not (raw.startswith("[") and raw.endswith("]"))
    ]
    return frozenset(min(required, key=lambda o: (min(map(len, o)) < 4, len(o)), default=()))


@dataclass(frozen=True)
class _Phrase:
    rule: str
    category: str
    pattern: re.Pattern[str]
    needles: frozenset[str]


class _Phrasebook:
    """Phrases, and every needle any of them has: each is looked for once per message."""

    def __init__(self, phrases: tuple[_Phrase, ...]) -> None:
        self.phrases = phrases
        self.needles = tuple(set().union(*(phrase.needles for phrase in phrases)))

    def candidates(self, text: str) -> list[_Phrase]:
        """The phrases that may match `text`: a needle of theirs is in it (or they have none).

        Scanning every phrase's pattern over every message was most of detect's time; a
        needle is a substring search, once whichever phrases share it.
        """
        present = {needle for needle in self.needles if needle in text}
        return [p for p in self.phrases if not p.needles or not p.needles.isdisjoint(present)]


@cache
def _compiled() -> _Phrasebook:
    return _Phrasebook(
        tuple(
            _Phrase(rule, category, compile_phrase(phrase), needles(phrase))
            for rule, (category, phrases) in RULES.items()
            for phrase in phrases
        )
    )


@cache
def _idioms() -> _Phrasebook:
    return _Phrasebook(tuple(_Phrase("idiom", "", compile_phrase(i), needles(i)) for i in IDIOMS))


@cache
def _words(words: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_norm_word(w) for w in words)


@cache
def _compact_keys() -> tuple[str, ...]:
    return tuple("".join(c for c, _ in _squash([(c, 0) for c in _norm_word(s)])) for s in COMPACT)


# --- detection -------------------------------------------------------------------------------


def _mask_idioms(text: str) -> str:
    """Blank out each idiom's own words (same length, so positions still line up)."""
    intent = _words(INTENT_WORDS)
    masked = list(text)
    for idiom in _idioms().candidates(text):
        for found in idiom.pattern.finditer(text):
            before = text[: found.start()].split()[-2:]
            if intent.intersection(before):
                continue  # "I want to hurt myself at the gym" is meant
            for i in range(found.start(), found.end()):
                if masked[i] != " ":
                    masked[i] = "_"
    # A distance is not slang: "5 kms from the clinic".
    for found in _DISTANCE.finditer(text):
        masked[found.start() : found.end()] = "_" * (found.end() - found.start())
    return "".join(masked)


_DISTANCE = re.compile(r"(?<![a-z0-9])[0-9]+ ?kms?(?![a-z0-9])")


def _negated(text: str, start: int) -> bool:
    return bool(_words(NEGATIONS).intersection(text[:start].split()[-3:]))


def detect(text: str | None, *, every_phrase: bool = False) -> Detection:
    """Crisis language in `text`: every rule that matched and the words that raised it.

    Pure and fast; never raises for any string. The inbound-SMS webhook, the forms and the
    API all call this one function. `every_phrase` scans every phrase's pattern, needles or
    not: the tests hold the two answers equal.
    """
    if not text or not text.strip():
        return Detection(())
    normal = normalize(text)
    masked = _mask_idioms(normal.text)
    found: dict[tuple[str, int, int], Match] = {}
    book = _compiled()
    phrases = book.phrases if every_phrase else book.candidates(masked)
    for phrase in phrases:
        rule, category = phrase.rule, phrase.category
        for hit in phrase.pattern.finditer(masked):
            if hit.end() == hit.start():
                continue
            start = normal.origin[hit.start()]
            end = normal.origin[hit.end() - 1] + 1
            # Extend to the end of the last word as typed ("killlll", "suicidal").
            while end < len(text) and text[end].isalnum():
                end += 1
            key = (rule, start, end)
            if key not in found:
                found[key] = Match(
                    rule=rule,
                    category=category,
                    words=text[start:end],
                    start=start,
                    end=end,
                    negated=_negated(normal.text, hit.start()),
                )
    for match in _compact(text, normal, masked):
        # Only what the phrases missed: one passage is reported once.
        if not any(m.start < match.end and match.start < m.end for m in found.values()):
            found[(match.rule, match.start, match.end)] = match
    return Detection(tuple(sorted(found.values(), key=lambda m: (m.start, m.end))))


def _squash(chars: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Drop the spaces, then count repeated letters once again ("want to" -> "wanto")."""
    out: list[tuple[str, int]] = []
    for char, index in chars:
        if char != " " and not (out and out[-1][0] == char and char.isalpha()):
            out.append((char, index))
    return out


def _compact(text: str, normal: Normalized, masked: str) -> list[Match]:
    """Key words broken up by stray spaces ("sui cide", "kill my s elf"), read without them."""
    letters = _squash([(c, i) for i, c in enumerate(masked)])
    squashed = "".join(c for c, _ in letters)
    matches = []
    for key in _compact_keys():
        for hit in re.finditer(re.escape(key), squashed):
            first = letters[hit.start()][1]
            if first and masked[first - 1] != " ":
                continue  # must start a word: "skill myself" is not "kill myself"
            start = normal.origin[first]
            end = normal.origin[letters[hit.end() - 1][1]] + 1
            while end < len(text) and text[end].isalnum():
                end += 1
            matches.append(Match("compact", "ideation", text[start:end], start, end))
    return matches
