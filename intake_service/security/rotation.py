"""Re-encrypting every encrypted column under the newest key, in batches, resumably.

FIELD_ENCRYPTION_KEYS lists keys newest first. To rotate: put a new key in front, restart, run
`intake-service keys rotate`, and once it reports nothing left, drop the old key. Each batch is
its own transaction, walking a table by primary key; a token the newest key already reads is
skipped, so a run that was stopped (Ctrl-C, a deploy) simply starts again and passes over what
is done. Each row is rewritten only if its token is still the one read (compare-and-set), so a
concurrent edit by the app is never overwritten with older content.

Tokens are read and written raw (no column type in between), so this works whichever cipher the
app has bound, and never holds plaintext longer than one MultiFernet.rotate call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Engine, MetaData, TableClause

from intake_service.security.encryption import EncryptedJSON, EncryptedText

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class EncryptedTable:
    """A table's primary key and its encrypted columns, as raw text."""

    name: str
    key: str
    columns: tuple[str, ...]
    raw: TableClause

    def rows_after(self, last: Any, limit: int) -> sa.Select[Any]:
        key = self.raw.c[self.key]
        query = sa.select(key, *(self.raw.c[c] for c in self.columns)).order_by(key).limit(limit)
        return query if last is None else query.where(key > last)


def encrypted_tables(metadata: MetaData) -> list[EncryptedTable]:
    """Every table with an EncryptedText or EncryptedJSON column (new ones are found too)."""
    found = []
    for table in metadata.sorted_tables:
        columns = tuple(
            c.name for c in table.columns if isinstance(c.type, EncryptedText | EncryptedJSON)
        )
        if not columns:
            continue
        (key,) = table.primary_key.columns  # every encrypted table has a one-column key
        raw = sa.table(
            table.name, sa.column(key.name, key.type), *(sa.column(c, sa.Text()) for c in columns)
        )
        found.append(EncryptedTable(table.name, key.name, columns, raw))
    return found


@dataclass
class RotationReport:
    rotated: dict[str, int] = field(default_factory=dict)  # rows rewritten, per table
    unreadable: dict[str, int] = field(default_factory=dict)  # rows no configured key reads

    @property
    def total_rotated(self) -> int:
        return sum(self.rotated.values())

    @property
    def total_unreadable(self) -> int:
        return sum(self.unreadable.values())


Progress = Callable[[str, int, int], None]  # (table, rows rewritten so far, rows remaining)


class KeyRotation:
    """Rotation of `tables` on `engine` to the first of `keys` (Fernet keys, newest first)."""

    def __init__(
        self,
        engine: Engine,
        keys: tuple[str, ...],
        tables: list[EncryptedTable],
        batch_size: int = DEFAULT_BATCH,
    ) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        if batch_size < 1:
            raise ValueError("batch size must be at least 1")
        self.engine = engine
        self.tables = tables
        self.batch_size = batch_size
        self._newest = Fernet(keys[0].encode())
        self._all = MultiFernet([Fernet(k.encode()) for k in keys])

    def _is_current(self, token: str) -> bool:
        try:
            self._newest.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def _is_stale(self, row: sa.Row[Any]) -> bool:
        tokens: tuple[str | None, ...] = tuple(row[1:])
        return any(t is not None and not self._is_current(t) for t in tokens)

    def _batches(self, table: EncryptedTable) -> Iterator[Sequence[sa.Row[Any]]]:
        last = None
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(table.rows_after(last, self.batch_size)).all()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    def stale(self) -> dict[str, int]:
        """Rows per table holding a token the newest key cannot read (read only)."""
        counts = {}
        for table in self.tables:
            counts[table.name] = sum(
                1 for batch in self._batches(table) for row in batch if self._is_stale(row)
            )
        return counts

    def rotate(self, progress: Progress | None = None) -> RotationReport:
        """Re-encrypt every stale token; one transaction per batch. Commits."""
        remaining = sum(self.stale().values())
        report = RotationReport()
        for table in self.tables:
            report.rotated[table.name] = 0
            report.unreadable[table.name] = 0
            last = None
            while True:
                with self.engine.begin() as connection:
                    rows = connection.execute(table.rows_after(last, self.batch_size)).all()
                    if not rows:
                        break
                    last = rows[-1][0]
                    for row in rows:
                        outcome = self._rotate_row(connection, table, row)
                        if outcome == "rotated":
                            report.rotated[table.name] += 1
                        elif outcome == "unreadable":
                            report.unreadable[table.name] += 1
                        if outcome != "current":
                            remaining -= 1
                if progress is not None:
                    progress(table.name, report.rotated[table.name], max(remaining, 0))
        return report

    def _rotate_row(self, connection: sa.Connection, table: EncryptedTable, row: Any) -> str:
        changes: dict[str, str] = {}
        guards = []
        for name, token in zip(table.columns, row[1:], strict=True):
            if token is None or self._is_current(token):
                continue
            try:
                changes[name] = self._all.rotate(token.encode()).decode()
            except InvalidToken:
                # Written under a key no longer configured: left as it is, and reported.
                return "unreadable"
            guards.append(table.raw.c[name] == token)
        if not changes:
            return "current"
        key = table.raw.c[table.key]
        result = connection.execute(
            table.raw.update().where(key == row[0], *guards).values(**changes)
        )
        # No row matched: the app rewrote it since it was read, under the newest key already.
        return "rotated" if result.rowcount else "current"
