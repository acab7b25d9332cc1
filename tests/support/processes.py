"""Real processes for end-to-end tests: started with an environment, logged, always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


class Process:
    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            list(argv),
            env={**os.environ, **env},
            cwd=str(REPO_ROOT),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # so stop() reaches the whole group (gunicorn's workers too)
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.alive():
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._log.close()
        return self.popen.returncode


@contextmanager
def running(
    name: str, argv: Sequence[str], env: dict[str, str], log_dir: Path
) -> Iterator[Process]:
    process = Process(name, argv, env, log_dir)
    try:
        yield process
    finally:
        process.stop()


def gunicorn_argv(port: int) -> list[str]:
    """The web tier as the e2e tests run it: gunicorn, two workers, on 127.0.0.1:`port`."""
    return [
        str(BIN / "gunicorn"), "intake_service.wsgi:app",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--timeout", "30",
    ]  # fmt: skip


def celery_worker_argv(tmp_path: Path) -> list[str]:
    """A Celery worker with beat embedded, four threads, its schedule file in `tmp_path`."""
    return [
        str(BIN / "celery"), "-A", "worker", "worker", "--beat", "--pool", "threads",
        "--concurrency", "4", "--loglevel", "INFO",
        "--schedule", str(tmp_path / "beat-schedule"),
    ]  # fmt: skip


def wait_until(check: Callable[[], object], timeout: float, what: str, *procs: Process) -> object:
    """Poll `check` until it returns something truthy; fail with the processes' logs if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited early:\n{proc.output()[-4000:]}")
        try:
            result = check()
        except (requests.RequestException, AssertionError):
            result = None
        if result:
            return result
        time.sleep(0.1)
    logs = "\n".join(f"--- {p.name}\n{p.output()[-3000:]}" for p in procs)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{logs}")


def wait_for_http(url: str, timeout: float, *procs: Process) -> None:
    wait_until(lambda: requests.get(url, timeout=1).status_code == 200, timeout, url, *procs)
