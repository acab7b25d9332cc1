"""`intake-service run`: what it prints on start, and how it stops."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from intake_service.cli.run import banner
from intake_service.config import Settings
from tests.support.processes import BIN, Process, running, wait_for_http, wait_until
from tests.support.services import free_port

BASE = "http://127.0.0.1:5000"


def test_the_banner_names_the_dev_mailbox_where_mail_lands_in_it(
    make_settings: Callable[..., Settings],
) -> None:
    lines = banner(make_settings(APP_ENV="development"), BASE)

    assert f"{BASE}/contact" in "\n".join(lines)
    assert any(f"{BASE}/dev/mailbox" in line for line in lines)


def test_the_banner_never_names_the_dev_mailbox_in_production(
    make_settings: Callable[..., Settings],
) -> None:
    # Mail is real but texting is off: nothing is served at /dev/mailbox in production.
    settings = make_settings(
        APP_ENV="production",
        METRICS_TOKEN="metrics-token-0123456789abcdef",
        SMTP_URL="smtp://127.0.0.1:2525",
        SMS_ENABLED="false",
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/1",  # never contacted here
    )

    text = "\n".join(banner(settings, BASE))

    assert "/dev/mailbox" not in text
    assert f"{BASE}/contact" in text


def run_env(tmp_path: Path) -> dict[str, str]:
    env = {"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path / "instance")}
    # Nothing configured: the embedded default, whatever this shell exports.
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "SMTP_URL", "TWILIO_ACCOUNT_SID"):
        env[name] = ""
    return env


def start(tmp_path: Path) -> tuple[list[str], dict[str, str], str]:
    port = free_port()
    argv = [str(BIN / "intake-service"), "run", "--host", "127.0.0.1", "--port", str(port)]
    return argv, run_env(tmp_path), f"http://127.0.0.1:{port}"


def worker_pid(service: Process) -> int | None:
    """The Celery worker `run` started: its only child process."""
    children = Path(f"/proc/{service.popen.pid}/task/{service.popen.pid}/children")
    pids = children.read_text().split() if children.exists() else []
    return int(pids[0]) if pids else None


def worker_ready(service: Process) -> bool:
    return re.search(r"celery@\S+ ready", service.output()) is not None


def wait_for_exit(service: Process, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while service.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not service.alive(), f"run did not stop:\n{service.output()[-3000:]}"
    return service.popen.returncode


@pytest.mark.e2e
def test_ctrl_c_stops_everything_without_calling_it_unexpected(tmp_path: Path) -> None:
    argv, env, base = start(tmp_path)
    with running("run", argv, env, tmp_path) as service:
        wait_for_http(f"{base}/readyz", 60, service)
        wait_until(lambda: worker_pid(service), 30, "the worker process", service)
        wait_until(lambda: worker_ready(service), 60, "the worker to be ready", service)

        # A terminal's Ctrl-C: SIGINT to the whole foreground process group, worker included.
        os.killpg(service.popen.pid, signal.SIGINT)
        code = wait_for_exit(service, 30)
        output = service.output()

    assert code == 0, output[-3000:]
    assert "unexpectedly" not in output
    assert output.rstrip().endswith("stopped")


@pytest.mark.e2e
def test_ctrl_c_is_quiet_even_when_the_worker_finishes_stopping_first(tmp_path: Path) -> None:
    # The order behind "the worker stopped unexpectedly (exit 1)": the worker's warm shutdown
    # on SIGINT (Celery exits 1 then) completes before `run` has handled its own SIGINT.
    argv, env, base = start(tmp_path)
    with running("run", argv, env, tmp_path) as service:
        wait_for_http(f"{base}/readyz", 60, service)
        pid = wait_until(lambda: worker_pid(service), 30, "the worker process", service)
        wait_until(lambda: worker_ready(service), 60, "the worker to be ready", service)
        assert isinstance(pid, int)

        os.kill(pid, signal.SIGINT)
        wait_until(lambda: worker_pid(service) is None, 30, "the worker to stop", service)
        os.kill(service.popen.pid, signal.SIGINT)
        code = wait_for_exit(service, 30)
        output = service.output()

    assert code == 0, output[-3000:]
    assert "unexpectedly" not in output
    assert output.rstrip().endswith("stopped")


@pytest.mark.e2e
def test_a_worker_that_dies_on_its_own_is_reported_and_stops_run(tmp_path: Path) -> None:
    argv, env, base = start(tmp_path)
    with running("run", argv, env, tmp_path) as service:
        wait_for_http(f"{base}/readyz", 60, service)
        pid = wait_until(lambda: worker_pid(service), 30, "the worker process", service)
        assert isinstance(pid, int)

        os.kill(pid, signal.SIGKILL)
        wait_for_exit(service, 30)
        output = service.output()

    assert f"the worker stopped unexpectedly (exit {-signal.SIGKILL}); stopping" in output


@pytest.mark.e2e
def test_a_second_run_on_the_same_instance_is_refused_and_the_first_goes_on(
    tmp_path: Path,
) -> None:
    # Its recovery at start would take back what the first run's worker holds.
    argv, env, base = start(tmp_path)
    with running("run", argv, env, tmp_path) as service:
        wait_for_http(f"{base}/readyz", 60, service)
        second_argv, _, _ = start(tmp_path)
        with running("second", second_argv, env, tmp_path) as second:
            code = wait_for_exit(second, 60)
            output = second.output()

        assert code == 1
        assert "another intake-service run (or its worker) is using" in output
        assert service.alive()
        assert requests.get(f"{base}/readyz", timeout=5).status_code == 200
