"""Text templates over two segments are warned about when loaded; shipped ones are not."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from intake_service.cli.templates import long_texts
from intake_service.db import Database
from intake_service.domain.templates import length
from intake_service.domain.templates.rendering import TemplateSource
from intake_service.domain.templates.versions import load_defaults, read_defaults
from intake_service.paths import message_templates_root

LONG = "Hi {{ patient.first_name }}, " + "this text goes on and on. " * 12


def test_a_text_template_over_two_segments_gets_a_warning() -> None:
    warning = length.warning("patient_checkin", TemplateSource(None, LONG, None))

    assert warning is not None
    assert "patient_checkin is 3 segments (GSM-7" in warning


def test_a_curly_quote_counts_the_whole_text_as_ucs2() -> None:
    body = "Hi {{ patient.first_name }}, it\u2019s " + "x" * 121  # 135 UCS-2 units: over 2 x 67
    counted = length.sample_length("patient_checkin", TemplateSource(None, body, None))

    assert counted is not None
    assert (counted.encoding, counted.segments) == ("UCS-2", 3)


def test_no_shipped_text_template_is_over_two_segments() -> None:
    assert long_texts() == []
    for default in read_defaults():
        if default.channel == "sms":
            assert length.warning(default.key, default.source) is None, default.key


def test_loading_a_long_text_template_logs_the_warning(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "messages"
    shutil.copytree(message_templates_root(), root)
    (root / "patient_checkin" / "sms.txt").write_text(LONG)

    with caplog.at_level(logging.WARNING), db.transaction() as session:
        load_defaults(session, root)

    assert any("patient_checkin is 3 segments" in r.getMessage() for r in caplog.records)
