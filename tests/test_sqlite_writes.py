"""Writers of one SQLite file queue on our lock, across threads and processes (sqlite_writes.py).

Each test gives SQLite a busy timeout far shorter than the writer ahead of it holds the file,
so a write that reached SQLite while the other was still writing would fail "database is
locked": passing means it waited for our lock instead, and went as soon as it was free.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from intake_service.sqlite_writes import OrderedConnection, writer_lock

SHORT_BUSY_TIMEOUT = 0.05
HOLD = 0.4


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(
        path, timeout=SHORT_BUSY_TIMEOUT, factory=OrderedConnection, check_same_thread=False
    )
    connection.writer = writer_lock(path)  # type: ignore[attr-defined]
    return connection


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "writes.sqlite"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)")
    setup.commit()
    setup.close()
    return path


def test_a_second_thread_waits_for_the_first_writer_instead_of_failing(database: Path) -> None:
    first, second = connect(database), connect(database)
    first.execute("INSERT INTO t (who) VALUES ('first')")  # holds the write until commit
    done: list[str] = []

    def write() -> None:
        second.execute("INSERT INTO t (who) VALUES ('second')")
        second.commit()
        done.append("second")

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(HOLD)
    assert done == []  # still waiting, well past SQLite's own busy timeout
    first.commit()
    writer.join(5)

    assert done == ["second"]
    rows = first.execute("SELECT who FROM t ORDER BY id").fetchall()
    assert rows == [("first",), ("second",)]


def test_a_rolled_back_or_failed_write_gives_the_lock_back(database: Path) -> None:
    first, second = connect(database), connect(database)
    first.execute("INSERT INTO t (who) VALUES ('gone')")
    first.rollback()
    with pytest.raises(sqlite3.IntegrityError):
        first.execute("INSERT INTO t (id, who) VALUES (1, 'a'), (1, 'b')")
    first.rollback()

    # Nothing is held: another thread writes at once.
    result: list[int] = []
    thread = threading.Thread(
        target=lambda: result.append(second.execute("INSERT INTO t (who) VALUES ('x')").rowcount)
    )
    thread.start()
    thread.join(2)
    second.commit()
    assert result == [1]


def test_another_process_waits_for_this_processs_writer(database: Path) -> None:
    first = connect(database)
    first.execute("INSERT INTO t (who) VALUES ('here')")
    script = (
        "import sqlite3, sys; from pathlib import Path\n"
        "from intake_service.sqlite_writes import OrderedConnection, writer_lock\n"
        "path = Path(sys.argv[1])\n"
        f"c = sqlite3.connect(path, timeout={SHORT_BUSY_TIMEOUT}, factory=OrderedConnection)\n"
        "c.writer = writer_lock(path)\n"
        "print('ready', flush=True)\n"
        "c.execute(\"INSERT INTO t (who) VALUES ('there')\"); c.commit(); print('ok')\n"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", script, str(database)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert other.stdout is not None
    assert other.stdout.readline().strip() == "ready", other.communicate()
    time.sleep(HOLD)  # far past the child's busy timeout
    assert other.poll() is None, other.communicate()
    first.commit()
    out, err = other.communicate(timeout=10)

    assert other.returncode == 0, err
    assert out.strip() == "ok"


def test_a_nested_write_on_one_thread_fails_as_it_would_without_the_lock(database: Path) -> None:
    # Re-entrant: the inner connection reaches SQLite, which refuses it after its busy
    # timeout, where a plain lock would have hung this thread for good.
    outer, inner = connect(database), connect(database)
    outer.execute("INSERT INTO t (who) VALUES ('outer')")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        inner.execute("INSERT INTO t (who) VALUES ('inner')")
    inner.rollback()
    outer.commit()

    assert outer.execute("SELECT who FROM t").fetchall() == [("outer",)]
