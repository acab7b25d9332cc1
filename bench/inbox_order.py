"""The staff inbox's order over many open leads: one SQL query, urgent first, then deadline.

Builds a throwaway database at head with N open leads (default 10,000: a few urgent, most
waiting for first contact with a first-contact clock, some contacted, a few returning), then
times `inbox.rows` as the inbox page calls it (default filters, and "mine"), and the live
poll's query (only leads since a cursor). Prints the median and the worst of the runs.

    python bench/inbox_order.py [--leads 10000] [--runs 20] [--database-url postgresql://...]

Without --database-url it uses SQLite in a temporary folder (the embedded default). A
PostgreSQL URL must name an empty database the bench may migrate and fill.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from intake_service.db import Database
from intake_service.domain.leads import inbox
from intake_service.migrate import upgrade
from intake_service.models import Escalation, Lead, Submission, User


def fill(db: Database, count: int, now: dt.datetime) -> int:
    """N leads over the last 30 days; returns the id of the staff user who has some of them."""
    rng = random.Random(15)
    with db.transaction() as session:
        user = User(email="bench@clinic.example", role="coordinator", display_name="Bench",
                    password_hash="x", active=True)  # fmt: skip
        session.add(user)
        session.flush()
        user_id = user.id
    leads, submissions, clocks = [], [], []
    for n in range(count):
        created = now - dt.timedelta(seconds=rng.uniform(0, 30 * 86400))
        status = "contacted" if rng.random() < 0.3 else "new"
        lead_id = uuid.uuid4()
        leads.append({
            "id": lead_id, "created_at": created, "updated_at": created,
            "first_name": f"Pat{n}", "last_name": "Example", "treatment_interest": "tms",
            "status": status, "priority": rng.choice(["high", "normal", "normal"]),
            "urgent": rng.random() < 0.005, "callback_window": "any", "locale": "en",
            "source": {}, "assignee_id": user_id if rng.random() < 0.2 else None,
        })  # fmt: skip
        for i in range(2 if rng.random() < 0.05 else 1):
            submissions.append({
                "id": uuid.uuid4(), "lead_id": lead_id,
                "created_at": created + dt.timedelta(days=i), "form": "contact", "via": "web",
                "fingerprint": uuid.uuid4().hex,
            })  # fmt: skip
        clocks.append({
            "lead_id": lead_id, "round": 1, "created_at": created,
            "due_at": created + dt.timedelta(hours=rng.choice([1, 8, 24])),
        })  # fmt: skip
    with db.engine.begin() as connection:
        for table, rows in ((Lead, leads), (Submission, submissions), (Escalation, clocks)):
            for start in range(0, len(rows), 1000):
                connection.execute(sa.insert(table), rows[start : start + 1000])
        if db.engine.dialect.name == "postgresql":
            connection.execute(sa.text("ANALYZE"))
    return user_id


def timed(runs: int, call: object) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        call()  # type: ignore[operator]
        times.append(time.perf_counter() - began)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        upgrade(url)
        db = Database(url)
        now = dt.datetime.now(dt.UTC)
        user_id = fill(db, args.leads, now)
        cursor = now - dt.timedelta(seconds=15)
        cases = {
            "inbox, open leads": (inbox.Filters(), None),
            "inbox, mine": (inbox.Filters(assignee="mine"), None),
            "live poll (since a cursor)": (inbox.Filters(), cursor),
        }
        print(f"{args.leads} leads on {db.engine.dialect.name}, {args.runs} runs each")
        for name, (filters, since) in cases.items():
            with db.session() as session:

                def run(f: inbox.Filters = filters, s: dt.datetime | None = since) -> None:
                    inbox.rows(session, f, user_id, now, created_after=s)

                median, worst = timed(args.runs, run)
            print(f"  {name:<28} median {median * 1000:7.1f} ms   worst {worst * 1000:7.1f} ms")
        db.dispose()


if __name__ == "__main__":
    main()
