"""The notification badge: new leads for me or nobody, leads handed to me, urgent leads."""

from __future__ import annotations

import datetime as dt
import re
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from intake_service.db import Database, utcnow
from intake_service.domain.compliance.audit import Actor
from intake_service.domain.leads import claims
from tests.support import factories

STATIC = Path(__file__).resolve().parents[3] / "intake_service" / "web" / "staff" / "static"


def badge(client: Any, since: dt.datetime) -> tuple[int, int, str]:
    response = client.get("/staff/notifications", query_string={"since": since.isoformat()})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    total = int(re.search(r'data-total="(\d+)"', html)[1])  # type: ignore[index]
    urgent = int(re.search(r'data-urgent="(\d+)"', html)[1])  # type: ignore[index]
    return total, urgent, html


def test_every_staff_page_carries_the_polled_badge_and_the_sound_toggle(
    sign_in: Callable[..., Any],
) -> None:
    client = sign_in()
    for path in ("/staff/leads", "/staff/callbacks", "/staff/dashboard"):
        html = client.get(path).get_data(as_text=True)
        assert 'id="notify"' in html and 'hx-trigger="load, every 10s"' in html, path
        assert 'id="sound-toggle"' in html and "notify.wav" in html and "notify.js" in html


def test_counts_new_leads_for_me_or_nobody_assignments_to_me_and_urgent_leads(
    sign_in: Callable[..., Any], db: Database, accounts: dict[str, Any]
) -> None:
    client = sign_in("coordinator")
    me, other = accounts["coordinator"][0], accounts["clinician"][0]
    opened = utcnow() - dt.timedelta(seconds=1)
    assert badge(client, opened)[:2] == (0, 0)

    with db.transaction() as session:
        factories.lead(session, age=dt.timedelta(seconds=0))  # unassigned: counts
        factories.lead(session, age=dt.timedelta(seconds=0), assignee_id=other)  # not mine
        factories.lead(session, age=dt.timedelta(hours=1))  # before the page opened
        factories.lead(session, age=dt.timedelta(seconds=0), status="spam")
    assert badge(client, opened)[:2] == (1, 0)

    with db.transaction() as session:
        old = factories.lead(session, age=dt.timedelta(hours=2))
        mine_already = factories.lead(session, age=dt.timedelta(hours=2))
        clinician = Actor(other, "clinician@clinic.example")
        claims.assign(session, old.id, me, clinician, utcnow())
        # Giving a lead to myself is nothing to be told about.
        claims.assign(session, mine_already.id, me, Actor(me, "me"), utcnow())
    total, urgent, html = badge(client, opened)
    assert (total, urgent) == (2, 0) and "1 assigned to you" in html

    with db.transaction() as session:
        factories.lead(session, age=dt.timedelta(days=1), urgent=True)
        acked = factories.lead(session, age=dt.timedelta(days=1), urgent=True)
        acked.acknowledged_at = utcnow()
    total, urgent, html = badge(client, opened)
    assert (total, urgent) == (3, 1) and "1 urgent" in html and "has-urgent" in html
    # The next poll keeps counting from when the page opened.
    assert f"since={opened.isoformat()}".replace("+", "%2B") in html


@pytest.mark.parametrize("since", ["", "yesterday", "2026-01-01T00:00:00"])
def test_a_bad_since_is_400(sign_in: Callable[..., Any], since: str) -> None:
    response = sign_in().get("/staff/notifications", query_string={"since": since})
    assert response.status_code == 400


def test_the_badge_needs_a_signed_in_user(app: Any) -> None:
    response = app.test_client().get("/staff/notifications?since=2026-01-01T00:00:00%2B00:00")
    assert response.status_code in (302, 303, 401)


def test_the_chime_is_a_short_vendored_wav_and_served_locally(sign_in: Callable[..., Any]) -> None:
    with wave.open(str(STATIC / "notify.wav")) as sound:
        assert sound.getnframes() / sound.getframerate() < 1.0
    response = sign_in().get("/staff/static/notify.wav")
    assert response.status_code == 200 and response.mimetype in ("audio/wav", "audio/x-wav")
    script = sign_in().get("/staff/static/notify.js").get_data(as_text=True)
    assert "localStorage" in script and "staff.sound" in script


def test_replies_from_my_leads_are_counted_and_listed_by_first_name_only(
    sign_in: Callable[..., Any], db: Database, accounts: dict[str, Any]
) -> None:
    me, other = accounts["coordinator"][0], accounts["clinician"][0]
    opened = utcnow() - dt.timedelta(minutes=5)
    with db.transaction() as session:
        ana = factories.lead(session, first_name="Ana", age=dt.timedelta(days=1), assignee_id=me)
        bo = factories.lead(session, first_name="Bo", age=dt.timedelta(days=1), assignee_id=me)
        theirs = factories.lead(
            session, first_name="Cy", age=dt.timedelta(days=1), assignee_id=other
        )
        nobodys = factories.lead(session, first_name="Di", age=dt.timedelta(days=1))
        factories.inbound(session, ana, "My PHQ score went up", at=utcnow())
        factories.inbound(session, ana, "call me tonight", kind="callback", at=utcnow())
        factories.inbound(session, bo, "ok", at=opened + dt.timedelta(minutes=1))
        factories.inbound(session, bo, "STOP", kind="opt_out", at=utcnow())  # answered by us
        factories.inbound(session, ana, "before the page", at=opened - dt.timedelta(minutes=1))
        factories.inbound(session, theirs, "hello", at=utcnow())
        factories.inbound(session, nobodys, "hello", at=utcnow())
    total, _, html = badge(sign_in("coordinator"), opened)
    assert total == 3 and "3 replies" in html
    # Newest first, one line per lead, each linking to it; never the words.
    assert html.index("New reply from Ana (2)") < html.index("New reply from Bo<")
    assert f'href="/staff/leads/{ana.id}"' in html and f'href="/staff/leads/{bo.id}"' in html
    assert "Cy" not in html and "Di" not in html
    for words in ("PHQ", "tonight", "STOP", "hello"):
        assert words not in html
    total, _, html = badge(sign_in("clinician"), opened)
    assert total == 1 and "1 reply" in html and "New reply from Cy" in html


def test_the_title_carries_the_count_alone(sign_in: Callable[..., Any]) -> None:
    script = sign_in().get("/staff/static/notify.js").get_data(as_text=True)
    # The only write to the title: "(n) " before the page's own title.
    assert script.count("document.title =") == 1
    assert 'document.title = total ? "(" + total + ") " + baseTitle : baseTitle;' in script
