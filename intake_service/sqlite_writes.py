"""One writer at a time on a SQLite file, across threads and processes, handed on at once.

SQLite has a single write lock per database. A writer that finds it taken is retried by
SQLite's busy handler, which sleeps 1, 2, 5, ... up to 100 ms between tries: on the embedded
default the web, the worker's threads and beat all write the same file, and under load each
write waited for its next try long after the lock was free (intake answers of 4 s at 5 leads/s,
issue 16). Here a connection takes a lock of ours before its first write and gives it back when
its transaction ends: threads of one process queue on a threading lock (woken by the release),
processes on an flock of a file beside the database (polled every millisecond or so, by one
thread per process). SQLite's own locking is untouched and still decides; this only orders the
writers so that SQLite seldom has to make one wait.

pysqlite opens a transaction at the first INSERT, UPDATE, DELETE or REPLACE (SELECTs before it
run outside any transaction), and that is where the lock is taken.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

# Beyond this the lock is not waited for: SQLite's busy timeout then decides (and may raise).
WAIT_LIMIT_SECONDS = 30.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriterLock:
    """The lock of one database file: a lock for this process's threads, an flock between
    processes. Re-entrant in one thread, so a nested transaction behaves as it did without it
    (SQLite's busy timeout decides), and releasable from another thread (a connection the pool
    rolls back elsewhere)."""

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}.writer-lock")
        self._reset()

    def _reset(self) -> None:
        self._threads = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._fd: int | None = None
        self._locked_file = False

    def acquire(self) -> None:
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            return
        self._threads.acquire()
        self._owner, self._depth = me, 1
        self._lock_file()

    def release(self) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        self._owner = None
        if self._locked_file and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._locked_file = False
        self._threads.release()

    def _lock_file(self) -> None:
        if self._fd is None:
            # Empty: only its lock matters. Private like the database beside it all the same.
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + WAIT_LIMIT_SECONDS
        pause = 0.0002
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._locked_file = True
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    return  # held too long elsewhere: go on without it and let SQLite judge
                time.sleep(pause)
                pause = min(pause * 2, 0.002)


_locks: dict[str, WriterLock] = {}
_locks_guard = threading.Lock()


def _after_fork() -> None:
    # A child (beat is forked from the worker) starts with no writer and descriptors of its own:
    # a lock some parent thread held at the fork would otherwise stay held for good.
    global _locks_guard
    _locks_guard = threading.Lock()
    for lock in _locks.values():
        lock._reset()


os.register_at_fork(after_in_child=_after_fork)


def writer_lock(database: Path) -> WriterLock:
    """The one WriterLock of `database` in this process."""
    key = str(database.resolve())
    with _locks_guard:
        lock = _locks.get(key)
        if lock is None:
            lock = _locks[key] = WriterLock(database)
        return lock


class _Cursor(sqlite3.Cursor):
    def execute(self, sql: str, parameters: Any = (), /) -> _Cursor:
        connection: OrderedConnection = self.connection  # type: ignore[assignment]
        connection.before(sql)
        try:
            return super().execute(sql, parameters)  # type: ignore[return-value]
        finally:
            connection.after()

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> _Cursor:
        connection: OrderedConnection = self.connection  # type: ignore[assignment]
        connection.before(sql)
        try:
            return super().executemany(sql, seq_of_parameters)  # type: ignore[return-value]
        finally:
            connection.after()


class OrderedConnection(sqlite3.Connection):
    """A pysqlite connection that holds its database's WriterLock from its first write to the
    end of the transaction (commit, rollback or close)."""

    writer: WriterLock | None = None  # set by the engine's connect hook
    _holding = False

    def cursor(self, factory: Any = None) -> Any:
        return super().cursor(factory or _Cursor)

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.cursor().execute(sql, parameters)

    def before(self, sql: str) -> None:
        if self.writer is None or self._holding or self.in_transaction:
            return
        if sql.lstrip()[:7].upper().startswith(_WRITES):
            self.writer.acquire()
            self._holding = True

    def after(self) -> None:
        # A statement that failed before its transaction began leaves nothing to hold.
        if self._holding and not self.in_transaction:
            self._let_go()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._let_go()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._let_go()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._let_go()

    def _let_go(self) -> None:
        if self._holding and self.writer is not None:
            self._holding = False
            self.writer.release()
