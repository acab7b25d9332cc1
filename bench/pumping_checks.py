"""The SMS-pumping checks on a full messages table, beside the same checks on an empty one.

The checks run at every planning (the surge watch and the caps) and again at every send (the
caps). They read hourly counts (domain/compliance/text_volume.py), so their cost should not
grow with the messages table. This bench times both checks for one lead on a throwaway
PostgreSQL database, then writes `--texts` patients' texts spread over the last eight days
(through the ORM, so their counts are kept as in production), and times them again: the
ratio full/empty is the figure (target: about 1x, whatever `--texts`).

    python bench/pumping_checks.py [--texts 60000] [--repeat 300]
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import service_env

from intake_service import create_app
from intake_service.config import Settings
from intake_service.db import Database
from intake_service.domain import intake
from intake_service.domain.compliance import pumping
from intake_service.migrate import upgrade
from intake_service.models import Lead, Message
from tests.support.services import PG_ADMIN_URL, PostgresServer, free_port, unique_name
from tests.support.smtp_server import SmtpServer
from tests.support.twilio_standin import TwilioStandin

PHONE = "+13105550150"


def time_checks(
    db: Database, settings: Settings, lead_id: uuid.UUID, repeat: int
) -> dict[str, float]:
    """Median milliseconds of the send-time check (pause and caps) and of the surge watch."""
    spent: dict[str, list[float]] = {"caps (refusal)": [], "surge (watch)": []}
    for _ in range(repeat):
        with db.session() as session:
            lead = session.get_one(Lead, lead_id)
            now = dt.datetime.now(dt.UTC)
            began = time.perf_counter()
            pumping.refusal(session, lead, "sms", now)
            spent["caps (refusal)"].append(time.perf_counter() - began)
            began = time.perf_counter()
            pumping.watch(session, lead, settings, now)
            spent["surge (watch)"].append(time.perf_counter() - began)
            session.rollback()
    return {what: 1000 * statistics.median(values) for what, values in spent.items()}


def fill(db: Database, lead_id: uuid.UUID, texts: int) -> None:
    """`texts` patients' texts over the last eight days, most to the lead's own area code."""
    rng = random.Random(15)
    now = dt.datetime.now(dt.UTC)
    for start in range(0, texts, 2000):
        with db.transaction() as session:
            for n in range(start, min(start + 2000, texts)):
                created = now - dt.timedelta(seconds=rng.uniform(0, 8 * 86400))
                area = "310" if n % 3 else rng.choice(("213", "415", "646"))
                session.add(
                    Message(
                        lead_id=lead_id, plan_key=f"bench:{n}", step_key="first",
                        audience="patient", channel="sms", template_key="patient_first_reply",
                        recipient=f"+1{area}555{n % 10000:04d}",
                        status=rng.choice(("sent", "delivered", "cancelled", "planned")),
                        due_at=created, created_at=created, updated_at=created,
                    )
                )  # fmt: skip


def run(texts: int, repeat: int) -> dict[str, float]:
    """Print the checks' medians on an empty and a full table; returns full/empty per check."""
    postgres = PostgresServer(PG_ADMIN_URL)
    name = unique_name("intake_pumping")
    pg_url = postgres.create_database(name)
    try:
        upgrade(pg_url)
        with tempfile.TemporaryDirectory() as tmp, SmtpServer() as smtp, TwilioStandin() as twilio:
            env = service_env(pg_url, free_port(), Path(tmp), smtp, twilio, unique_name("pump"))
            settings = Settings.from_env(env)
            db: Database = create_app(settings).extensions["intake.db"]
            who = intake.Contact(first_name="Bench", email="pump@example.com", phone=PHONE)
            lead_id = intake.submit(db, intake.SubmissionInput(form="contact", contact=who)).lead_id
            empty = time_checks(db, settings, lead_id, repeat)
            began = time.perf_counter()
            fill(db, lead_id, texts)
            filled_in = time.perf_counter() - began
            with db.session() as session:
                session.connection().exec_driver_sql("ANALYZE")
            full = time_checks(db, settings, lead_id, repeat)
            db.dispose()
    finally:
        postgres.drop_database(name)
    print(f"SMS-pumping checks, median of {repeat}, PostgreSQL "
          f"({texts} texts written in {filled_in:.0f} s):")  # fmt: skip
    ratios = {}
    for what in empty:
        ratios[what] = full[what] / empty[what]
        print(f"  {what:16} empty table {empty[what]:6.2f} ms   {texts} texts "
              f"{full[what]:6.2f} ms   {ratios[what]:.2f}x")  # fmt: skip
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    run(args.texts, args.repeat)


if __name__ == "__main__":
    main()
