"""Header floods and slow bodies against the web server as deployed (gunicorn, the command of
docker-compose.yml): a clear 4xx or a cut connection, never a 500, nothing stored, and the
server keeps answering everyone else while one client stalls."""

from __future__ import annotations

import json
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from intake_service.migrate import upgrade
from tests.conftest import base_env
from tests.security.conftest import Tally
from tests.support.processes import REPO_ROOT, Process, wait_for_http

pytestmark = [pytest.mark.security, pytest.mark.timeout(180)]

CATEGORY = "transport: header floods and slow bodies"
# Shorter than the deployed 30 s so a stalled client is cut within the test's patience.
WORKER_TIMEOUT = 4
BODY_READ_TIMEOUT = 2
BODY = json.dumps(
    {
        "form": "contact",
        "contact": {"first_name": "Jane", "email": "jane@example.com"},
        "treatment_interest": "tms",
    }
).encode()


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    database: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def submissions(self) -> int:
        with sqlite3.connect(self.database) as connection:
            return int(connection.execute("SELECT count(*) FROM submissions").fetchone()[0])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn with the deployed flags, two sync workers, on a free port."""
    tmp = tmp_path_factory.mktemp("transport")
    env = base_env(
        tmp / "instance", RATELIMIT_ENABLED="false", BODY_READ_TIMEOUT=str(BODY_READ_TIMEOUT)
    )
    upgrade(env["DATABASE_URL"])
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    flags = [
        word
        for word in compose["services"]["web"]["command"][2:]
        if not word.startswith(("--bind", "--worker-tmp-dir", "--timeout", "--access-logfile"))
    ]
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        compose["services"]["web"]["command"][1],
        *flags,
        f"--bind=127.0.0.1:{port}",
        "--workers=2",
        f"--timeout={WORKER_TIMEOUT}",
    ]
    process = Process("gunicorn", argv, {**env, "PYTHONPATH": str(REPO_ROOT)}, tmp)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", 60, process)
        yield Server("127.0.0.1", port, Path(env["DATABASE_URL"].removeprefix("sqlite:///")))
    finally:
        process.stop()


def exchange(server: Server, raw: bytes, timeout: float = 10) -> bytes:
    """Send `raw` as is and read until the server closes or answers in full."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as conn:
        conn.sendall(raw)
        received = b""
        try:
            while chunk := conn.recv(65536):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def status_of(answer: bytes) -> int | None:
    parts = answer.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        return None
    return int(parts[1])


def request(
    path: str, headers: list[tuple[str, str]], body: bytes = b"", method: str = "POST"
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


JSON_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
FLOODS: dict[str, bytes] = {
    "200 header fields": request(
        "/api/v1/submissions", JSON_HEADERS + [(f"X-Flood-{i}", "x") for i in range(200)], BODY
    ),
    "one 64 KiB header": request(
        "/api/v1/submissions", [*JSON_HEADERS, ("X-Big", "x" * 65536)], BODY
    ),
    "a 32 KiB request line": request("/api/v1/submissions?" + "a" * 32768, JSON_HEADERS, BODY),
    "Content-Length not a number": request(
        "/api/v1/submissions",
        [("Content-Type", "application/json"), ("Content-Length", "lots")],
        BODY,
    ),
    "two Content-Lengths that disagree": request(
        "/api/v1/submissions", [*JSON_HEADERS, ("Content-Length", "3")], BODY
    ),
    "a 10 MiB Content-Length": request(
        "/api/v1/submissions",
        [("Content-Type", "application/json"), ("Content-Length", str(10 * 1024 * 1024))],
        BODY,
    ),
    "a header with a NUL": request(
        "/api/v1/submissions", [*JSON_HEADERS, ("X-Nul", "a\x00b")], BODY
    ),
    "a header without a colon": request("/api/v1/submissions", JSON_HEADERS, BODY).replace(
        b"Connection: close", b"Connection: close\r\nNoColonHere"
    ),
}


def test_header_floods_and_malformed_framing_get_a_clear_4xx_and_store_nothing(
    server: Server, tally: Callable[[str], Tally]
) -> None:
    cases = tally(CATEGORY)
    before = server.submissions()
    for description, raw in FLOODS.items():
        answer = exchange(server, raw)
        status = status_of(answer)
        cases.case(
            status is not None and 400 <= status < 500,
            f"{description}: answered {answer[:60]!r}",
        )
    cases.case(server.submissions() == before, "a flood stored a submission")
    cases.check()


def stall(server: Server, raw: bytes, hold: float, result: list[bytes]) -> None:
    """Send `raw`, then keep the connection open without sending the rest."""
    with socket.create_connection((server.host, server.port), timeout=hold + 10) as conn:
        conn.sendall(raw)
        received = b""
        deadline = time.monotonic() + hold + 10
        try:
            while time.monotonic() < deadline and (chunk := conn.recv(65536)):
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        result.append(received)


SLOW: dict[str, bytes] = {
    "half a body, then silence": request(
        "/api/v1/submissions",
        [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))],
        BODY[: len(BODY) // 2],
    ),
    "headers never finished": b"POST /api/v1/submissions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
    "a form post cut short": request(
        "/contact",
        [("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", "4000")],
        b"first_name=Jane&email=jane%40example.com",
    ),
}


HEADERS_STALLED = frozenset({"headers never finished"})


def test_a_stalled_client_is_cut_off_stores_nothing_and_holds_up_no_one_else(
    server: Server, tally: Callable[[str], Tally]
) -> None:
    cases = tally(CATEGORY)
    before = server.submissions()
    for description, raw in SLOW.items():
        result: list[bytes] = []
        started = time.monotonic()
        thread = threading.Thread(target=stall, args=(server, raw, WORKER_TIMEOUT * 3, result))
        thread.start()
        time.sleep(0.5)  # the stalled request now holds a worker
        # Everyone else is still served while it stalls.
        others = [requests.get(server.url + "/healthz", timeout=10).status_code for _ in range(5)]
        cases.case(others == [200] * 5, f"{description}: others got {others}")
        thread.join()
        answer = result[0] if result else b""
        status = status_of(answer)
        if description in HEADERS_STALLED:
            # Before the app sees anything: gunicorn's arbiter cuts the worker at --timeout
            # and answers its own 500 (docs/operations.md: a buffering proxy in front).
            cases.case(status in (None, 500), f"{description}: answered {answer[:60]!r}")
        else:
            # The body read times out inside the app: 400 (werkzeug reads it as a client gone)
            # or 408, our page either way, well before the worker's own timeout.
            cases.case(status in (400, 408), f"{description}: answered {answer[:60]!r}")
        elapsed = time.monotonic() - started
        cases.case(elapsed < WORKER_TIMEOUT * 3 + 5, f"{description}: held {elapsed:.1f} s")
    cases.case(server.submissions() == before, "a stalled post stored a submission")
    # And the server answers normally afterwards.
    after = requests.post(server.url + "/api/v1/submissions", json=json.loads(BODY), timeout=10)
    cases.case(after.status_code == 201, f"a normal post afterwards: {after.status_code}")
    cases.check()
