"""wrap_channels: what a test stands in front of one app's configured channels, and only its."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from flask import Flask

from intake_service.channels import OutgoingMessage, get_channel, wrap_channels
from intake_service.channels.dev_mailbox import DevMailboxChannel
from intake_service.config import Settings
from intake_service.db import Database
from tests.support.channels import InterceptedChannel, WorkerKilled, intercepted, kill

SMS = OutgoingMessage(message_id=8, channel="sms", recipient="+13105550123", body_text="Hi")
SMS_SINCE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def parts(app: Flask) -> tuple[Settings, Database]:
    return app.extensions["intake.settings"], app.extensions["intake.db"]


def test_a_wrapper_stands_in_front_of_one_apps_channels_only(
    make_app: Callable[..., Flask], tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings, db = parts(make_app())
    other = tmp_path_factory.mktemp("other")
    other_settings, other_db = parts(make_app(DATABASE_URL=f"sqlite:///{other / 'intake.sqlite'}"))

    with intercepted(db, after=kill):
        wrapped = get_channel("sms", settings, db)
        assert isinstance(wrapped, InterceptedChannel)
        assert wrapped.kind == "sms"
        assert isinstance(get_channel("sms", other_settings, other_db), DevMailboxChannel)
        with pytest.raises(WorkerKilled):
            wrapped.send(SMS)  # the real channel sent it first
        assert wrapped.find_existing(SMS, since=SMS_SINCE) is not None

    assert isinstance(get_channel("sms", settings, db), DevMailboxChannel)


def test_hooks_run_only_for_as_many_sends_as_asked(make_app: Callable[..., Flask]) -> None:
    settings, db = parts(make_app())
    seen: list[int] = []

    with intercepted(db, before=lambda m: seen.append(m.message_id), times=1) as sends:
        channel = get_channel("sms", settings, db)
        first, second = channel.send(SMS), channel.send(SMS)

    assert seen == [SMS.message_id]
    assert sends.sent == [first, second]


def test_removing_a_wrapper_that_was_never_set_is_harmless(app: Flask) -> None:
    settings, db = parts(app)

    wrap_channels(db, None)

    assert isinstance(get_channel("email", settings, db), DevMailboxChannel)
