"""The embedded default's broker: a kombu transport on one SQLite file that wakes its worker.

kombu's SQLAlchemy transport, the embedded broker before this one, polled every queue once a
second and slept a second whenever the worker's prefetch was full (the idle 1.7 s to a first
email of issue 16); its file was in rollback-journal mode with a full fsync per message (about
15 ms each on the bench machine, holding the only write lock meanwhile); and a message taken by a
worker that was then killed stayed invisible for good (only the database's sweeps brought the
work back, minutes later). This transport keeps Celery's model and fixes those three:

- The file is in WAL with synchronous=NORMAL: a committed message survives a crash of any
  process (the WAL is written before the commit returns); a power cut may lose the last ones,
  which the database's outbox and requeue sweeps cover, as they cover a broker outage.
- A publish commits, then sends one byte to the consumer's wake socket (a Unix datagram socket
  beside the file); the worker waits on that socket instead of sleeping, so a message is taken
  within milliseconds. The socket only wakes: a missed byte costs at most `polling_interval`
  (one second), the poll that remains as a fallback.
- A taken message stays in the table, marked taken, until the worker acknowledges it (acks_late:
  when the task finished); a rejected or restored one is put back in place. `restore_taken`
  gives back what a killed worker held: `intake-service run` calls it before starting its one
  worker, so a crash loses nothing and the next start runs it at once.

Messages carry what Celery puts in them: task names and ids, never PHI (broker.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import socket
import sqlite3
import threading
import time
from pathlib import Path
from queue import Empty
from typing import Any

from kombu.transport import virtual

from intake_service.security.files import private_sqlite_database

URL_PREFIX = "sqla+sqlite:///"  # the setting's spelling (CELERY_BROKER_URL), kept for users
TRANSPORT = "intake_service.embedded_broker:Transport"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    payload TEXT NOT NULL,
    taken INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_queue_messages_ready ON queue_messages (queue, taken, id);
"""
# The longest path a Unix socket address takes (sun_path, less its terminating NUL).
_MAX_SOCKET_PATH = 107

_local = threading.local()
_schema_ready: set[str] = set()
_schema_lock = threading.Lock()


def database_path(url: str) -> Path:
    """The broker file named by `sqla+sqlite:///<path>` (or the connection's `sqlite:///<path>`)."""
    for prefix in (URL_PREFIX, "sqlite:///"):
        if url.startswith(prefix):
            return Path(url.removeprefix(prefix))
    raise ValueError("not an embedded broker URL")


def connection_url(url: str) -> str:
    """The URL handed to kombu with this transport (kombu would read `sqla+` as its own)."""
    return f"sqlite:///{database_path(url)}"


def _connect(path: Path) -> sqlite3.Connection:
    """This thread's connection to the broker file (sqlite3 connections stay in one thread)."""
    if getattr(_local, "pid", None) != os.getpid():
        # A forked child (beat) must not use its parent's connections: open its own.
        _local.pid, _local.connections = os.getpid(), {}
    connections: dict[str, sqlite3.Connection] = _local.connections
    key = str(path)
    connection = connections.get(key)
    if connection is None:
        # 0600 in a 0700 folder, as the service's own database (db.py): a web or worker
        # process started on its own may be the first to need the file, before its folder.
        private_sqlite_database(path)
        # Autocommit: every statement is its own transaction unless BEGIN says otherwise.
        connection = sqlite3.connect(key, timeout=30, isolation_level=None)
        connection.execute("PRAGMA busy_timeout=30000")
        connection.execute("PRAGMA synchronous=NORMAL")
        with _schema_lock:
            if key not in _schema_ready:
                connection.execute("PRAGMA journal_mode=WAL")  # persistent, once per file
                connection.executescript(_SCHEMA)
                _schema_ready.add(key)
        connections[key] = connection
    return connection


def restore_taken(url: str) -> int:
    """Put back every message a worker took and never acknowledged; returns how many.

    Only while no worker consumes this broker (a worker's own messages would run twice: safe,
    every task is idempotent, but wasted): `intake-service run` calls it before its worker starts.
    """
    connection = _connect(database_path(url))
    return connection.execute("UPDATE queue_messages SET taken = 0 WHERE taken = 1").rowcount


def wake_address(path: Path) -> str:
    """The wake socket: a file beside the broker, or an abstract name when that path is too long."""
    address = f"{path}.wake"
    if len(os.fsencode(address)) <= _MAX_SOCKET_PATH:
        return address
    digest = hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:32]
    return f"\0intake-broker-{digest}"


_sender_lock = threading.Lock()
_sender: socket.socket | None = None


def wake(address: str) -> None:
    """Tell the consumer (if one listens) that a message is ready; never raises, never waits."""
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            _sender.setblocking(False)
        sender = _sender
    # No listener, or its buffer already full of wake-ups: either way nothing more to do.
    with contextlib.suppress(OSError):
        sender.sendto(b"\0", address)


class _WakeListener:
    """The consumer's end of the wake socket: bound by the first process that drains."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.socket: socket.socket | None = None

    def wait(self, seconds: float) -> None:
        """Return when woken, or after `seconds`."""
        listener = self._bind()
        if listener is None:
            time.sleep(seconds)
            return
        readable, _, _ = select.select([listener], [], [], seconds)
        if readable:
            with contextlib.suppress(BlockingIOError):
                while listener.recv(64):  # drain every pending wake-up: one poll serves them all
                    pass

    def _bind(self) -> socket.socket | None:
        """The bound socket; tried again on every wait while another consumer holds the address
        (a short-lived one, say, that closes soon)."""
        if self.socket is not None:
            return self.socket
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            listener.bind(self.address)
        except OSError:
            if self.address.startswith("\0") or not self._stale():
                # Another live consumer listens there: this one polls (each `polling_interval`).
                listener.close()
                return None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)
            try:
                listener.bind(self.address)
            except OSError:
                listener.close()
                return None
        if not self.address.startswith("\0"):
            os.chmod(self.address, 0o600)
        listener.setblocking(False)
        self.socket = listener
        return listener

    def _stale(self) -> bool:
        """True when the socket file is left by a process that is gone (nothing receives)."""
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            probe.connect(self.address)
        except (ConnectionRefusedError, FileNotFoundError):
            return True
        except OSError:
            return False
        finally:
            probe.close()
        return False

    def close(self) -> None:
        if self.socket is None:
            return
        self.socket.close()
        self.socket = None
        if not self.address.startswith("\0"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)


class Channel(virtual.Channel):  # type: ignore[misc]
    """Queues as rows of one table; taken rows are deleted on ack, put back on reject."""

    connection: Transport

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # delivery tag -> row id of the messages this channel handed out and still holds.
        self._taken: dict[str, int] = {}
        self._taken_lock = threading.Lock()

    @property
    def _db(self) -> sqlite3.Connection:
        return _connect(self.connection.path)

    def _new_queue(self, queue: str, **kwargs: Any) -> None:
        pass  # a queue is the rows that name it

    def _has_queue(self, queue: str, **kwargs: Any) -> bool:
        return True

    def _put(self, queue: str, message: dict[str, Any], **kwargs: Any) -> None:
        self._db.execute(
            "INSERT INTO queue_messages (queue, payload) VALUES (?, ?)",
            (queue, json.dumps(message)),
        )
        wake(self.connection.wake_address)

    def _get(self, queue: str, timeout: float | None = None) -> dict[str, Any]:
        db = self._db
        # A read first, without a lock: an empty queue (the common poll) costs one index probe.
        if (
            db.execute(
                "SELECT 1 FROM queue_messages WHERE queue = ? AND taken = 0 LIMIT 1", (queue,)
            ).fetchone()
            is None
        ):
            raise Empty()
        # fetchall: the statement (and its write lock) ends only once its rows are read.
        rows = db.execute(
            "UPDATE queue_messages SET taken = 1 WHERE id = (SELECT id FROM queue_messages"
            " WHERE queue = ? AND taken = 0 ORDER BY id LIMIT 1) RETURNING id, payload",
            (queue,),
        ).fetchall()
        if not rows:
            raise Empty()  # another consumer took it between the two statements
        row = rows[0]
        message: dict[str, Any] = json.loads(row[1])
        tag = message.get("properties", {}).get("delivery_tag")
        if tag is not None:
            with self._taken_lock:
                self._taken[tag] = row[0]
        return message

    def _size(self, queue: str) -> int:
        (count,) = self._db.execute(
            "SELECT COUNT(*) FROM queue_messages WHERE queue = ? AND taken = 0", (queue,)
        ).fetchone()
        return int(count)

    def _purge(self, queue: str) -> int:
        return self._db.execute(
            "DELETE FROM queue_messages WHERE queue = ? AND taken = 0", (queue,)
        ).rowcount

    def _delete(self, queue: str, *args: Any, **kwargs: Any) -> None:
        self._db.execute("DELETE FROM queue_messages WHERE queue = ?", (queue,))

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        super().basic_ack(delivery_tag, multiple)
        self._forget(delivery_tag)
        # A prefetch slot is free: the consumer waiting on the socket may take the next message.
        wake(self.connection.wake_address)

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        super().basic_reject(delivery_tag, requeue)  # a requeue goes through _restore first
        self._forget(delivery_tag)
        wake(self.connection.wake_address)

    def _restore(self, message: Any) -> None:
        """Put a taken message back where it was (kombu would publish a copy and keep both)."""
        with self._taken_lock:
            row = self._taken.pop(message.delivery_tag, None)
        if row is None:
            super()._restore(message)
            return
        self._db.execute("UPDATE queue_messages SET taken = 0 WHERE id = ?", (row,))
        wake(self.connection.wake_address)

    def _forget(self, delivery_tag: str) -> None:
        with self._taken_lock:
            row = self._taken.pop(delivery_tag, None)
        if row is not None:
            self._db.execute("DELETE FROM queue_messages WHERE id = ?", (row,))


class Transport(virtual.Transport):  # type: ignore[misc]
    """kombu's virtual transport with waking instead of sleeping between polls."""

    Channel = Channel
    can_parse_url = True
    default_port = 0  # type: ignore[assignment]
    driver_type = "sql"
    driver_name = "sqlite"
    connection_errors = (sqlite3.OperationalError,)
    channel_errors = (sqlite3.OperationalError,)
    polling_interval = 1.0  # the fallback, when a wake-up is missed or the socket is taken

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.path = database_path(client.hostname)
        self.wake_address = wake_address(self.path)
        self._listener = _WakeListener(self.wake_address)

    def establish_connection(self) -> Any:
        _connect(self.path)  # the file opens (and has its table): the broker is there
        return super().establish_connection()

    def driver_version(self) -> str:
        return sqlite3.sqlite_version

    # virtual.Transport's own signature, which differs from its base class's.
    def drain_events(self, connection: Any, timeout: Any = None) -> Any:  # type: ignore[override]
        """kombu's loop, with a wait on the wake socket where it slept `polling_interval`."""
        started = time.monotonic()
        assert self.cycle is not None  # made with the transport
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                pass
            wait = self.polling_interval
            if timeout is not None:
                remaining = timeout - (time.monotonic() - started)
                if remaining <= 0:
                    raise TimeoutError()  # socket.timeout: what kombu's callers expect
                wait = min(wait, remaining)
            self._listener.wait(wait)

    def close_connection(self, connection: Any) -> None:
        super().close_connection(connection)
        self._listener.close()
