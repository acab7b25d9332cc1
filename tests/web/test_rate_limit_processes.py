"""The one submission budget holds across gunicorn's worker processes when Redis keeps the counts.

With the default memory:// storage each worker counted on its own: 70 posts from one address
got 60 accepted answers. With RATELIMIT_STORAGE_URI on Redis, and the forms and the API sharing
one budget, they get exactly the limit, whichever worker and whichever door took each post.
"""

from __future__ import annotations

import concurrent.futures
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from tests.conftest import base_env
from tests.support.processes import BIN, running, wait_for_http
from tests.support.services import free_port, unique_name
from tests.web.test_forms import Page, contact_data

pytestmark = pytest.mark.e2e

LIMIT = 30
POSTS = 70
API_BODY = {"form": "contact", "contact": {"first_name": "Ana", "email": "ana@example.com"}}


@pytest.fixture
def client_ip(redis_url: str) -> Iterator[str]:
    """An address no other test uses, so its counts in the shared Redis are this test's alone."""
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    yield address
    store = redis.Redis.from_url(redis_url)
    for key in store.scan_iter(match=f"*{address}*"):
        store.delete(key)


def post(base: str, number: int, headers: dict[str, str]) -> int:
    """One post from the address: through the API for odd numbers, the contact form for even."""
    if number % 2:
        answer = requests.post(
            f"{base}/api/v1/submissions", json=API_BODY, headers=headers, timeout=10
        )
        return answer.status_code
    browser = requests.Session()
    page = Page(browser.get(f"{base}/contact", timeout=10).text)
    data = contact_data(
        csrf_token=page.value("csrf_token"), submission_token=page.value("submission_token")
    )
    answer = browser.post(
        f"{base}/contact", data=data, headers=headers, allow_redirects=False, timeout=10
    )
    return answer.status_code


def test_seventy_posts_across_two_workers_and_both_doors_get_exactly_the_limit(
    tmp_path: Path, pg_url: str, redis_url: str, client_ip: str
) -> None:
    port = free_port()
    queue = unique_name("ratelimit")
    env = base_env(
        tmp_path / "instance",
        DATABASE_URL=pg_url,
        CELERY_BROKER_URL=redis_url,
        CELERY_QUEUE=queue,
        RATELIMIT_ENABLED="true",
        RATELIMIT_SUBMISSIONS=f"{LIMIT} per minute;300 per hour",
        RATELIMIT_STORAGE_URI=redis_url,
        TRUSTED_PROXIES="1",  # the address comes from X-Forwarded-For, as behind a proxy
    )
    argv = [
        str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
        "--access-logfile", "-", "--access-logformat", "access pid=%(p)s %(s)s",
        "intake_service.wsgi:app",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    headers = {"X-Forwarded-For": client_ip}
    try:
        with running("gunicorn", argv, env, tmp_path) as server:
            wait_for_http(f"{base}/healthz", 60, server)
            # Four clients at once: with two sync workers both must answer posts (one after
            # another, the kernel may hand every connection to the same worker).
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as clients:
                statuses = list(
                    clients.map(lambda number: post(base, number, headers), range(POSTS))
                )
            log = server.output()
    finally:
        redis.Redis.from_url(redis_url).delete(queue)

    assert statuses.count(429) == POSTS - LIMIT, statuses
    assert sorted(set(statuses)) == [201, 303, 429], statuses
    # Both workers answered posts: the budget really was shared between processes.
    pids = set(re.findall(r"access pid=<?(\d+)>? (?:201|303|429)", log))
    assert len(pids) == 2, log[-3000:]
