"""The attack suite's bookkeeping: every case tried is counted by category, failures named,
and a table printed at the end of the run (`pytest -m security tests/security`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

_TALLIES: dict[str, Tally] = {}


@dataclass
class Tally:
    category: str
    tried: int = 0
    failures: list[str] = field(default_factory=list)

    def case(self, ok: bool, description: str) -> None:
        """Count one case; a failed one is kept with its description (never a patient's data)."""
        self.tried += 1
        if not ok:
            self.failures.append(description)

    def check(self) -> None:
        """Fail the test with every failed case of this category listed."""
        assert not self.failures, (
            f"{self.category}: {len(self.failures)} of {self.tried} cases failed:\n"
            + "\n".join(self.failures[:40])
        )


@pytest.fixture
def tally() -> Iterator[Callable[[str], Tally]]:
    """tally("xss") -> the Tally of that category, shared by every test of the run."""

    def get(category: str) -> Tally:
        return _TALLIES.setdefault(category, Tally(category))

    yield get


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _TALLIES:
        return
    terminalreporter.section("attack suite: cases tried per category")
    width = max(len(name) for name in _TALLIES)
    totals: defaultdict[str, int] = defaultdict(int)
    for name in sorted(_TALLIES):
        item = _TALLIES[name]
        totals["tried"] += item.tried
        totals["failed"] += len(item.failures)
        terminalreporter.write_line(
            f"{name:<{width}}  {item.tried:>6} tried  {len(item.failures):>4} failed"
        )
        for failure in item.failures[:10]:
            terminalreporter.write_line(f"{'':<{width}}    - {failure}")
    terminalreporter.write_line(
        f"{'total':<{width}}  {totals['tried']:>6} tried  {totals['failed']:>4} failed"
    )
