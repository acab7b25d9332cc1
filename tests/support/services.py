"""PostgreSQL and Redis for the tests: one way to reach them, one way to start private ones.

Most tests use the machine's servers (127.0.0.1:5432 and :6379, or TEST_PG_ADMIN_URL and
TEST_REDIS_URL), each test with its own database and queue. When those do not answer, or with
INTAKE_PRIVATE_SERVICES=1, the session starts private ones the same way the fault suite always
does: a `redis-server` on a free port and a throwaway PostgreSQL cluster in a temporary folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest
import redis
import sqlalchemy as sa

from tests.support.processes import Process, wait_until

PG_ADMIN_URL = os.environ.get(
    "TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# In CI a test that needs a service fails when it is missing instead of skipping quietly.
REQUIRE_SERVICES = (
    os.environ.get("INTAKE_REQUIRE_SERVICES", "") == "1" or os.environ.get("CI") == "true"
)
# Never touch the machine's servers: start private ones even when the shared ones answer.
PRIVATE_SERVICES = os.environ.get("INTAKE_PRIVATE_SERVICES", "") == "1"


def service_missing(what: str, error: Exception | str) -> NoReturn:
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is not reachable, and CI requires it: {error}")
    pytest.skip(f"{what} is not reachable: {error}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# --- PostgreSQL --------------------------------------------------------------------------------


class PostgresServer:
    """A PostgreSQL server on which tests create (and drop) databases of their own."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def url(self, database: str) -> str:
        base = sa.engine.make_url(self.admin_url)
        return base.set(database=database).render_as_string(hide_password=False)

    def engine(self) -> sa.Engine:
        # AUTOCOMMIT: CREATE/DROP DATABASE cannot run inside a transaction.
        return sa.create_engine(
            self.admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
        )

    def unreachable(self) -> Exception | None:
        """None when the server answers, else why not."""
        engine = self.engine()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as error:
            return error
        finally:
            engine.dispose()
        return None

    def create_database(self, name: str, template: str | None = None) -> str:
        engine = self.engine()
        suffix = f' TEMPLATE "{template}"' if template else ""
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"{suffix}'))
        finally:
            engine.dispose()
        return self.url(name)

    def drop_database(self, name: str) -> None:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            engine.dispose()


def pg_bindir() -> Path | None:
    """The PostgreSQL server's bin directory (pg_config may name a client-only one)."""
    candidates: list[str] = []
    try:
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        candidates.append(found)
    except (OSError, subprocess.SubprocessError):
        pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


class PrivatePostgres(PostgresServer):
    """A throwaway PostgreSQL cluster in a temporary folder, run as `postgres` when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = free_port()
        super().__init__(f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres")
        # Not under pytest's tmp_path: as root that is mode 0700 and the postgres user must
        # reach its data directory and socket.
        self.root = Path(tempfile.mkdtemp(prefix="intake-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgresql.log"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / tool), *args]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(
            argv, cwd=self.root, capture_output=True, text=True, timeout=90, check=False
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}\n{self.log_tail()}"
            )
        return result

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def init(self) -> None:
        # --no-sync and fsync=off: durability across a machine crash is not what is tested here;
        # a restart (pg_ctl stop -m fast) still shuts down cleanly.
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast", check: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=check)

    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode == 0

    def destroy(self) -> None:
        if self.data.exists():
            self.stop(mode="immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start_private_postgres() -> PrivatePostgres:
    """A new private cluster, initialised and running; raises LookupError without the server."""
    bindir = pg_bindir()
    if bindir is None:
        raise LookupError("the PostgreSQL server (initdb, pg_ctl) is not installed")
    server = PrivatePostgres(bindir)
    try:
        server.init()
        server.start()
    except BaseException:
        server.destroy()
        raise
    return server


# --- Redis -------------------------------------------------------------------------------------


class RedisServer:
    def __init__(self, url: str) -> None:
        self.url = url

    def unreachable(self) -> Exception | None:
        try:
            redis.Redis.from_url(self.url, socket_connect_timeout=2).ping()
        except redis.exceptions.RedisError as error:
            return error
        return None


class PrivateRedis(RedisServer):
    """A redis-server without persistence on a free port; stop() loses everything it held."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        super().__init__(f"redis://127.0.0.1:{self.port}/0")
        self.workdir = workdir
        self._process: Process | None = None
        self._starts = 0

    def ping(self) -> bool:
        try:
            client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
            return bool(client.ping())
        except redis.RedisError:
            return False

    def running(self) -> bool:
        return self._process is not None and self._process.alive()

    def start(self) -> None:
        if self.running():
            return
        if shutil.which("redis-server") is None:
            raise LookupError("redis-server is not installed")
        self._starts += 1
        argv = [
            "redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
            "--bind", "127.0.0.1", "--dir", str(self.workdir),
        ]  # fmt: skip
        process = Process(f"redis-{self._starts}", argv, {}, self.workdir)
        self._process = process
        wait_until(self.ping, 15, f"redis on port {self.port}", process)

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None


# --- what a test session uses ------------------------------------------------------------------


@contextmanager
def postgres_for_tests() -> Iterator[PostgresServer]:
    """The machine's PostgreSQL if it answers (and private ones are not asked for), else a
    private cluster for the session; skips (fails in CI) when neither is possible."""
    shared = PostgresServer(PG_ADMIN_URL)
    why = "INTAKE_PRIVATE_SERVICES=1" if PRIVATE_SERVICES else shared.unreachable()
    if why is None:
        yield shared
        return
    try:
        private = start_private_postgres()
    except (LookupError, RuntimeError) as error:
        service_missing("PostgreSQL", f"{why}; no private one either: {error}")
    try:
        yield private
    finally:
        private.destroy()


@contextmanager
def redis_for_tests(workdir: Path) -> Iterator[RedisServer]:
    """The machine's Redis if it answers (and private ones are not asked for), else a private
    redis-server for the session; skips (fails in CI) when neither is possible."""
    shared = RedisServer(REDIS_URL)
    why = "INTAKE_PRIVATE_SERVICES=1" if PRIVATE_SERVICES else shared.unreachable()
    if why is None:
        yield shared
        return
    private = PrivateRedis(workdir)
    try:
        private.start()
    except (LookupError, AssertionError) as error:
        private.stop()
        service_missing("Redis", f"{why}; no private one either: {error}")
    try:
        yield private
    finally:
        private.stop()
