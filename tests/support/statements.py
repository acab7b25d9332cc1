"""Count what one operation asks of the database: statements, transactions, pings.

Each of these is a round trip to PostgreSQL (a transaction is its BEGIN and its COMMIT or
ROLLBACK; a ping is the pool's check of a connection that sat idle, db.ping_when_idle), so
their sum is what a budget test pins. Pool checkouts are counted too; they cost no round trip.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa


@dataclass
class Counts:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0
    checkouts: int = 0
    pings: int = 0

    @property
    def round_trips(self) -> int:
        """Statements, plus BEGIN and COMMIT per transaction, plus the pings."""
        return len(self.statements) + 2 * self.transactions + self.pings

    def __str__(self) -> str:
        return (
            f"{len(self.statements)} statements, {self.transactions} transactions, "
            f"{self.checkouts} checkouts, {self.pings} pings ({self.round_trips} round trips)"
        )


@contextmanager
def counting(engine: sa.Engine) -> Iterator[Counts]:
    """Count every statement, transaction and pool checkout on `engine` inside the block."""
    counts = Counts()

    def statement(conn: Any, cursor: Any, text: str, params: Any, context: Any, many: Any) -> None:
        counts.statements.append(" ".join(text.split()))

    def begin(conn: Any) -> None:
        # In autocommit the driver sends no BEGIN or COMMIT: not a transaction's round trips.
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            counts.transactions += 1

    def checkout(*_: Any) -> None:
        counts.checkouts += 1

    dialect = engine.dialect
    ping = dialect.do_ping

    def counted_ping(dbapi_connection: Any) -> bool:
        counts.pings += 1
        return ping(dbapi_connection)

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "begin", begin)
    sa.event.listen(engine.pool, "checkout", checkout)
    dialect.do_ping = counted_ping  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        del dialect.do_ping  # the class's own again
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine, "begin", begin)
        sa.event.remove(engine.pool, "checkout", checkout)
