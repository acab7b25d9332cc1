"""Intake throughput: POST /api/v1/submissions at saturation, beside the floor app.

The service (gunicorn, PostgreSQL, Redis; no worker, so nothing else competes) and the floor
app (bench/floor_app.py: parses the form, hands a Celery task to Redis, no database) run on
the same gunicorn settings, one after the other in the same run, each hammered by concurrent
clients for the same number of seconds. Then the service again at half its saturation rate,
for p99. Targets (issue 15): at least 0.5x the floor's requests/s; p99 under 25 ms at half rate.

    python bench/intake_throughput.py [--seconds 10] [--clients 16]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import (
    REDIS_URL,
    gunicorn_argv,
    percentile,
    post_paced,
    production_stack,
    submission_body,
)

from tests.support.processes import running, wait_for_http
from tests.support.services import free_port, unique_name

RATIO_TARGET = 0.5
P99_TARGET = 0.025


def hammer(base: str, seconds: float, clients: int) -> tuple[float, float, int]:
    """requests/s, p99 and errors with `clients` threads posting back to back for `seconds`."""
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def client(number: int) -> None:
        nonlocal errors
        session = requests.Session()
        index = number * 1_000_000
        while time.monotonic() < stop:
            began = time.monotonic()
            try:
                ok = session.post(f"{base}/api/v1/submissions", json=submission_body(index % 9999),
                                  timeout=30).status_code == 201  # fmt: skip
            except requests.RequestException:
                ok = False
            with lock:
                latencies.append(time.monotonic() - began)
                errors += not ok
            index += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.monotonic() - began), percentile(latencies, 0.99), errors


def run(seconds: float, clients: int) -> dict[str, float]:
    with production_stack(start_worker=False) as stack:
        hammer(stack.base, 1, clients)  # warm the pools
        service_rps, service_p99, service_errors = hammer(stack.base, seconds, clients)
        half = service_rps / 2
        latencies, _ = post_paced(stack.base, int(half * seconds), half, threads=clients)
        half_p99 = percentile(latencies, 0.99)
        port = free_port()
        env = {"CELERY_BROKER_URL": REDIS_URL, "CELERY_QUEUE": unique_name("floor")}
        with running("floor", gunicorn_argv("bench.floor_app:app", port), env, stack.log_dir) as p:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/readyz", 60, p)
            hammer(base, 1, clients)
            floor_rps, floor_p99, _ = hammer(base, seconds, clients)
        _drop(env["CELERY_QUEUE"])
    ratio = service_rps / floor_rps
    print(f"intake throughput ({clients} clients, {seconds:g} s each, gunicorn 2x4):")
    print(f"  service {service_rps:7.1f} req/s  p99 {service_p99 * 1000:6.1f} ms  "
          f"({service_errors} errors)")  # fmt: skip
    print(f"  floor   {floor_rps:7.1f} req/s  p99 {floor_p99 * 1000:6.1f} ms")
    print(f"  ratio   {ratio:.2f}x the floor (target {RATIO_TARGET}x)"
          f"{'' if ratio >= RATIO_TARGET else '  MISSED'}")  # fmt: skip
    print(f"  at half rate ({half:.0f}/s): p99 {half_p99 * 1000:.1f} ms "
          f"({half_p99 / P99_TARGET:.2f}x target {P99_TARGET * 1000:.0f} ms)")  # fmt: skip
    return {"service_rps": service_rps, "floor_rps": floor_rps, "ratio": ratio,
            "half_rate_p99": half_p99}  # fmt: skip


def _drop(queue: str) -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).delete(queue)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    run(args.seconds, args.clients)


if __name__ == "__main__":
    main()
