"""Where one lead's CPU goes, in one process: the submission, process_lead and each delivery.

Runs the service's own functions (no gunicorn, no Celery) on a throwaway PostgreSQL database,
with the local SMTP server and the Twilio stand-in, and prints the CPU time per operation and
cProfile's top functions by their own time. The CPU time is this thread's (the SMTP server and the
stand-in run in threads of their own); unlike wall time it hardly moves with the load of a
shared machine, so two runs minutes apart compare.

    python bench/profile_lead.py [--leads 200] [--top 25] [--sort tottime|cumulative]
    python bench/profile_lead.py --top 0     # the times without cProfile's own overhead
    python bench/profile_lead.py --only submission --sort cumulative   # one operation's profile
    python bench/profile_lead.py --message   # each lead writes a few sentences (triage reads them)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import select
from stack import service_env, submission_body

from intake_service import create_app
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain.outreach import delivery, processing, sequences
from intake_service.domain.templates.versions import load_defaults
from intake_service.migrate import upgrade
from intake_service.models import Message
from tests.support.services import PG_ADMIN_URL, PostgresServer, free_port, unique_name
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin


class Timer:
    """CPU and wall time per operation; cProfile around the operations named by `only`."""

    def __init__(self, profiler: cProfile.Profile | None, only: str | None) -> None:
        self.spent: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self.profiler = profiler
        self.only = only

    def __call__(self, what: str, call: Callable[[], Any]) -> Any:
        profiling = self.profiler is not None and (self.only is None or what.startswith(self.only))
        if profiling:
            self.profiler.enable()  # type: ignore[union-attr]
        # This thread's CPU only: the SMTP server and the stand-in answer from threads of their own.
        began, cpu = time.perf_counter(), time.thread_time()
        result = call()
        self.spent[what].append((time.thread_time() - cpu, time.perf_counter() - began))
        if profiling:
            self.profiler.disable()  # type: ignore[union-attr]
        return result


def kinds_of(db: Database, message_ids: list[int]) -> dict[int, str]:
    with db.session() as session:
        rows = session.execute(
            select(Message.id, Message.audience, Message.channel).where(Message.id.in_(message_ids))
        )
        return {row.id: f"deliver {row.audience} {row.channel}" for row in rows}


# What a patient might write in the contact form's message: the other benches post none.
MESSAGE = (
    "I have been depressed for years and tried Zoloft, Lexapro and Wellbutrin. Nothing has "
    "helped and I want to know if TMS or ketamine could work for me. Please call after 5pm."
)


def run(leads: int, top: int, sort: str, only: str | None, message: str | None) -> None:
    postgres = PostgresServer(PG_ADMIN_URL)
    name = unique_name("intake_profile")
    pg_url = postgres.create_database(name)
    try:
        upgrade(pg_url)
        with tempfile.TemporaryDirectory() as tmp, SmtpServer() as smtp, TwilioStandin() as twilio:
            env = service_env(pg_url, free_port(), Path(tmp), smtp, twilio, unique_name("profile"))
            settings = Settings.from_env(env)
            app = create_app(settings)
            db: Database = app.extensions["intake.db"]
            with db.transaction() as session:
                load_defaults(session)  # as `intake-service templates load` does
                sequences.load_defaults(session)
            client = app.test_client()
            # This thread's CPU as cProfile's clock: waits on PostgreSQL and the stand-ins cost
            # nothing, so the top functions are where the CPU goes, not where it waits.
            profiler = cProfile.Profile(time.thread_time)
            timed = Timer(None, only)
            for index in range(leads):
                if index == leads // 10 and top:
                    timed.profiler = profiler  # after warming up: caches filled, connections open
                body = submission_body(index) | ({"message": message} if message else {})
                answer = timed("submission (the API request)",
                               partial(client.post, "/api/v1/submissions", json=body))  # fmt: skip
                lead_id = uuid.UUID(answer.get_json()["lead_id"])
                due = timed("process_lead",
                            partial(processing.process_lead, db, settings, lead_id))  # fmt: skip
                for message_id, what in kinds_of(db, due).items():
                    timed(what, partial(delivery.deliver, db, settings, message_id))
            spent = timed.spent
            print(f"per operation, median over {leads} leads: CPU of this thread, wall time")
            for what, values in spent.items():
                cpu = sorted(value[0] for value in values)[len(values) // 2]
                wall = sorted(value[1] for value in values)[len(values) // 2]
                print(f"  {what:32} {1000 * cpu:6.1f} ms  {1000 * wall:6.1f} ms")
            if only and not any(what.startswith(only) for what in spent):
                sys.exit(f"--only {only!r} names no operation; they are: " + ", ".join(spent))
            if top:
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats(sort).print_stats(top)
                print(out.getvalue())
            print(f"messages at the SMTP server {len(smtp.messages)}, texts {len(twilio.messages)}")
    finally:
        postgres.drop_database(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    parser.add_argument("--only", help="profile only the operations starting with this")
    parser.add_argument("--message", action="store_const", const=MESSAGE, default=None,
                        help="each submission carries a message of three sentences")  # fmt: skip
    args = parser.parse_args()
    run(args.leads, args.top, args.sort, args.only, args.message)


if __name__ == "__main__":
    main()
