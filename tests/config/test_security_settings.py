"""EMBED_ORIGINS, CORS_ORIGINS, BLIND_INDEX_KEY and retention days: read, checked, defaulted."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from intake_service.config import ConfigError, Settings


def test_defaults_allow_no_origin_and_keep_retention_defaults(
    make_settings: Callable[..., Settings],
) -> None:
    security = make_settings().security
    assert security.embed_origins == ()
    assert security.cors_origins == ()
    assert security.blind_index_key is None
    assert (security.retention_spam_days, security.retention_closed_days) == (30, 365)


def test_origins_are_listed_normalised_and_deduplicated(
    make_settings: Callable[..., Settings],
) -> None:
    security = make_settings(
        EMBED_ORIGINS="https://WWW.Clinic.example/, https://clinic.example:8443,"
        "https://www.clinic.example",
        CORS_ORIGINS="http://localhost:3000",
    ).security
    assert security.embed_origins == ("https://www.clinic.example", "https://clinic.example:8443")
    assert security.cors_origins == ("http://localhost:3000",)


@pytest.mark.parametrize(
    "value",
    [
        "*",
        "https://*.clinic.example",
        "clinic.example",
        "https://clinic.example/embed",
        "https://clinic.example?x=1",
        "ftp://clinic.example",
        "https://user@clinic.example",
        "https://clinic.example:99999",
    ],
)
@pytest.mark.parametrize("name", ["EMBED_ORIGINS", "CORS_ORIGINS"])
def test_a_malformed_origin_is_refused_with_its_name(
    make_settings: Callable[..., Settings], name: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=name):
        make_settings(**{name: value})


def test_production_wants_https_origins(make_settings: Callable[..., Settings]) -> None:
    production = {
        "APP_ENV": "production",
        "METRICS_TOKEN": "metrics-token-0123456789abcdef",
        "DATABASE_URL": "postgresql://db/intake",
        "CELERY_BROKER_URL": "redis://redis:6379/0",
        "SMTP_URL": "smtp://mail:25",
        "SMS_ENABLED": "false",
    }
    with pytest.raises(ConfigError, match="EMBED_ORIGINS must list https"):
        make_settings(**production, EMBED_ORIGINS="http://clinic.example")


def test_blind_index_key_must_be_long(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match="BLIND_INDEX_KEY"):
        make_settings(BLIND_INDEX_KEY="short")
    assert make_settings(BLIND_INDEX_KEY="k" * 32).security.blind_index_key == "k" * 32


@pytest.mark.parametrize("name", ["RETENTION_SPAM_DAYS", "RETENTION_CLOSED_DAYS"])
def test_retention_days_are_whole_numbers(
    make_settings: Callable[..., Settings], name: str
) -> None:
    assert getattr(make_settings(**{name: "0"}).security, name.lower()) == 0
    for bad in ("-1", "ten", "1.5", "99999999"):
        with pytest.raises(ConfigError, match=name):
            make_settings(**{name: bad})
