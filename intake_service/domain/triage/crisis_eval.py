"""Recall and precision of the crisis detector on a set of labelled example messages."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from intake_service.domain.triage import crisis


@dataclass(frozen=True)
class Evaluation:
    version: str
    true_positives: int
    false_negatives: int
    false_positives: int
    true_negatives: int
    missed: tuple[str, ...]  # crisis messages not flagged
    false_alarms: tuple[str, ...]  # ordinary messages flagged

    @property
    def recall(self) -> float:
        found = self.true_positives + self.false_negatives
        return self.true_positives / found if found else 1.0

    @property
    def precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0


class InvalidExamples(ValueError):
    """The examples file is missing, not TOML, or lacks its two lists of strings."""


def read_examples(path: Path) -> tuple[list[str], list[str]]:
    """(crisis, not_crisis) messages from a TOML file; raises InvalidExamples."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise InvalidExamples(f"cannot read {path}: {error}") from None
    lists = []
    for key in ("crisis", "not_crisis"):
        value = data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidExamples(f"{path} needs `{key}`, a list of strings")
        lists.append(value)
    return lists[0], lists[1]


def evaluate(crisis_messages: list[str], ordinary_messages: list[str]) -> Evaluation:
    """Run the detector over both lists and count what it got right."""
    missed = tuple(m for m in crisis_messages if not crisis.detect(m).flagged)
    false_alarms = tuple(m for m in ordinary_messages if crisis.detect(m).flagged)
    return Evaluation(
        version=crisis.RULES_VERSION,
        true_positives=len(crisis_messages) - len(missed),
        false_negatives=len(missed),
        false_positives=len(false_alarms),
        true_negatives=len(ordinary_messages) - len(false_alarms),
        missed=missed,
        false_alarms=false_alarms,
    )
