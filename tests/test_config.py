"""Settings from the environment: what production requires, what is malformed, dev secrets."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from flask import Flask

from intake_service.config import ConfigError, DeliverySettings, Settings, SmsPace
from intake_service.domain import intake
from intake_service.models import Submission
from intake_service.security.encryption import FieldCipher

REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "FIELD_ENCRYPTION_KEYS",
    "PUBLIC_BASE_URL",
    "MAIL_FROM",
    "TEAM_EMAILS",
    "SMTP_URL",
)


def production_env(instance: Path, **changes: str) -> dict[str, str]:
    env = {
        "APP_ENV": "production",
        "METRICS_TOKEN": "metrics-token-0123456789abcdef",
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": "a-production-secret-of-some-length",
        "DATABASE_URL": "postgresql://intake:pw@db:5432/intake",
        "CELERY_BROKER_URL": "redis://redis:6379/0",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PUBLIC_BASE_URL": "https://intake.sunrise.example/",
        "MAIL_FROM": "Sunrise Clinic <intake@sunrise.example>",
        "TEAM_EMAILS": "team@sunrise.example",
        "CLINIC_NAME": "Sunrise Clinic",
        "CLINIC_PHONE": "(310) 555-0100",
        "CLINIC_ADDRESS": "100 Main St, Los Angeles, CA 90001",
        "SMTP_URL": "smtp://relay.sunrise.example:587?starttls=true",
        "SMS_ENABLED": "false",
    }
    env.update(changes)
    return env


def config_error(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    message = str(caught.value)
    assert message.endswith("."), "a ConfigError is one sentence a person can act on"
    return message


# --- production ----------------------------------------------------------------------------


def test_complete_production_environment_is_accepted(tmp_path: Path) -> None:
    settings = Settings.from_env(production_env(tmp_path))

    assert settings.app_env == "production"
    assert settings.database_url == "postgresql+psycopg://intake:pw@db:5432/intake"
    assert settings.public_base_url == "https://intake.sunrise.example"
    assert settings.smtp is not None and settings.smtp.host == "relay.sunrise.example"
    assert (settings.twilio, settings.sms_enabled) == (None, False)
    assert not (tmp_path / "secret_key").exists()  # production never generates secrets


# --- production sends for real, or says it cannot (issue 7, B1) ----------------------------

TWILIO_SETTINGS = {
    "TWILIO_ACCOUNT_SID": "AC" + "2" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM_NUMBER": "+13105550100",
}


def test_production_without_a_mail_relay_refuses_to_start(tmp_path: Path) -> None:
    # Without SMTP_URL every email, an urgent lead's team alert included, went to the dev
    # mailbox and was marked sent; in production nobody would ever see it.
    env = production_env(tmp_path)
    del env["SMTP_URL"]

    assert config_error(env) == "SMTP_URL must be set when APP_ENV=production."


@pytest.mark.parametrize("sms_enabled", [None, "true", "yes", "1"])
def test_production_without_twilio_refuses_to_start_unless_texting_is_switched_off(
    tmp_path: Path, sms_enabled: str | None
) -> None:
    env = production_env(tmp_path)
    if sms_enabled is None:
        del env["SMS_ENABLED"]  # texting is on unless switched off explicitly
    else:
        env["SMS_ENABLED"] = sms_enabled

    message = config_error(env)

    assert message == (
        "Set TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER (or "
        "TWILIO_MESSAGING_SERVICE_SID) when APP_ENV=production, or SMS_ENABLED=false "
        "to send no texts."
    )


def test_production_with_twilio_texts_unless_told_otherwise(tmp_path: Path) -> None:
    env = production_env(tmp_path, **TWILIO_SETTINGS)
    del env["SMS_ENABLED"]

    settings = Settings.from_env(env)

    assert settings.sms_enabled
    assert settings.twilio is not None and settings.twilio.from_number == "+13105550100"


@pytest.mark.parametrize("value", ["off", "nope", "2"])
def test_sms_enabled_must_be_true_or_false(tmp_path: Path, value: str) -> None:
    message = config_error(production_env(tmp_path, SMS_ENABLED=value))

    assert message == f"SMS_ENABLED must be true or false, not {value!r}."


def test_development_texts_into_the_dev_mailbox_by_default(tmp_path: Path) -> None:
    settings = Settings.from_env({"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path)})

    assert (settings.smtp, settings.twilio, settings.sms_enabled) == (None, None, True)


# --- rate limits shared by every web process (issue 7, B2) ---------------------------------


def test_production_keeps_rate_limits_in_the_brokers_redis_by_default(tmp_path: Path) -> None:
    settings = Settings.from_env(production_env(tmp_path, CELERY_BROKER_URL="rediss://r:6380/0"))

    assert settings.ratelimit_storage_uri == "rediss://r:6380/0"


def test_explicit_rate_limit_storage_is_kept(tmp_path: Path) -> None:
    env = production_env(tmp_path, RATELIMIT_STORAGE_URI="redis://limits.internal:6379/3")

    assert Settings.from_env(env).ratelimit_storage_uri == "redis://limits.internal:6379/3"


@pytest.mark.parametrize(
    "changes",
    [
        {"RATELIMIT_STORAGE_URI": "memory://"},
        {"CELERY_BROKER_URL": "amqp://guest@rabbit:5672//"},  # no Redis to fall back on
    ],
    ids=["memory", "amqp-broker"],
)
def test_production_refuses_rate_limits_counted_per_process(
    tmp_path: Path, changes: dict[str, str]
) -> None:
    # Under gunicorn with two workers, memory:// let 60 of 70 posts through a 30/min limit.
    message = config_error(production_env(tmp_path, **changes))

    assert message.startswith("RATELIMIT_STORAGE_URI must name storage all web processes share")
    assert "redis://" in message


def test_production_with_the_limiter_off_needs_no_shared_storage(tmp_path: Path) -> None:
    env = production_env(tmp_path, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_ENABLED="false")

    assert Settings.from_env(env).ratelimit_storage_uri == "memory://"


def test_embedded_default_counts_rate_limits_in_memory(tmp_path: Path) -> None:
    settings = Settings.from_env({"APP_ENV": "development", "INSTANCE_PATH": str(tmp_path)})

    assert settings.ratelimit_storage_uri == "memory://"


@pytest.mark.parametrize("name", REQUIRED_IN_PRODUCTION)
@pytest.mark.parametrize("absent", ["missing", "blank"])
def test_production_without_a_required_setting_names_it(
    tmp_path: Path, name: str, absent: str
) -> None:
    env = production_env(tmp_path)
    if absent == "missing":
        del env[name]
    else:
        env[name] = "   "

    message = config_error(env)

    assert message == f"{name} must be set when APP_ENV=production."


@pytest.mark.parametrize("name", ["CLINIC_NAME", "CLINIC_PHONE", "CLINIC_ADDRESS"])
def test_production_without_the_clinic_identity_names_the_setting(
    tmp_path: Path, name: str
) -> None:
    # Patient emails carry the clinic's name, phone and postal address (CAN-SPAM, DOMAIN.md);
    # production must not fall back to "Our clinic" or "Clinic address not set".
    env = production_env(
        tmp_path,
        CLINIC_NAME="Sunrise Clinic",
        CLINIC_PHONE="(310) 555-0100",
        CLINIC_ADDRESS="100 Main St, Los Angeles, CA 90001",
    )
    del env[name]

    assert name in config_error(env)


def test_production_refuses_a_short_secret_key(tmp_path: Path) -> None:
    assert "SECRET_KEY" in config_error(production_env(tmp_path, SECRET_KEY="short"))


def test_unknown_app_env_is_refused_naming_the_choices(tmp_path: Path) -> None:
    message = config_error(production_env(tmp_path, APP_ENV="staging"))

    assert "APP_ENV" in message and "development, production, test" in message


# --- malformed values ----------------------------------------------------------------------


def test_postgres_scheme_is_refused_with_the_one_to_use(tmp_path: Path) -> None:
    message = config_error(production_env(tmp_path, DATABASE_URL="postgres://u:p@db/intake"))

    assert "DATABASE_URL" in message and "postgresql://" in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "mysql://u:p@db/intake"),
        ("CELERY_BROKER_URL", "http://redis:6379/0"),
        ("PUBLIC_BASE_URL", "intake.sunrise.example"),
        ("TWILIO_API_BASE_URL", "ftp://twilio.local"),
    ],
)
def test_url_with_an_unsupported_scheme_is_refused_naming_the_setting(
    tmp_path: Path, name: str, value: str
) -> None:
    env = production_env(tmp_path, **{name: value})
    if name == "TWILIO_API_BASE_URL":
        env.update(
            TWILIO_ACCOUNT_SID="AC" + "0" * 32,
            TWILIO_AUTH_TOKEN="token",
            TWILIO_FROM_NUMBER="+13105550100",
        )

    assert name in config_error(env)


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.example.com",
        "smtp://",
        "mail.example.com:25",
        "smtp://mail.example.com:notaport",
        "smtps://mail.example.com:465?starttls=true",
    ],
)
def test_malformed_smtp_url_is_refused(tmp_path: Path, url: str) -> None:
    assert "SMTP_URL" in config_error(production_env(tmp_path, SMTP_URL=url))


def test_smtp_url_naming_a_missing_ca_file_is_refused(tmp_path: Path) -> None:
    url = f"smtp://mail.example.com:587?starttls=true&cafile={tmp_path / 'nope.pem'}"

    assert "cafile" in config_error(production_env(tmp_path, SMTP_URL=url))


def test_smtp_url_parts_are_read_with_credentials_unquoted(tmp_path: Path) -> None:
    url = "smtp://intake%40sunrise.example:p%2Fss@mail.example.com?starttls=true"

    smtp = Settings.from_env(production_env(tmp_path, SMTP_URL=url)).smtp

    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.starttls, smtp.ssl) == ("mail.example.com", 587, True, False)
    assert (smtp.username, smtp.password) == ("intake@sunrise.example", "p/ss")


@pytest.mark.parametrize("position", [1, 2])
def test_malformed_fernet_key_is_refused_naming_its_position(tmp_path: Path, position: int) -> None:
    keys = [Fernet.generate_key().decode(), Fernet.generate_key().decode()]
    keys[position - 1] = "not-a-fernet-key"

    message = config_error(production_env(tmp_path, FIELD_ENCRYPTION_KEYS=",".join(keys)))

    assert f"FIELD_ENCRYPTION_KEYS entry {position}" in message
    assert "not-a-fernet-key" not in message  # a key, even a wrong one, stays out of logs


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "PST8PDT/Nowhere", "../etc/passwd", "  "])
def test_unknown_clinic_timezone_is_refused(tmp_path: Path, zone: str) -> None:
    assert "CLINIC_TIMEZONE" in config_error(production_env(tmp_path, CLINIC_TIMEZONE=zone))


@pytest.mark.parametrize(
    ("twilio", "expected"),
    [
        ({"TWILIO_ACCOUNT_SID": "AC" + "0" * 32}, "TWILIO_AUTH_TOKEN"),
        (
            {"TWILIO_AUTH_TOKEN": "token", "TWILIO_FROM_NUMBER": "+13105550100"},
            "TWILIO_ACCOUNT_SID",
        ),
        ({"TWILIO_FROM_NUMBER": "+13105550100"}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": "t"}, "TWILIO_FROM_NUMBER"),
        (
            {
                "TWILIO_ACCOUNT_SID": "SK" + "0" * 32,
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_FROM_NUMBER": "+13105550100",
            },
            "must start with AC",
        ),
        (
            {
                "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
                "TWILIO_AUTH_TOKEN": "t",
                "TWILIO_FROM_NUMBER": "(310) 555-0100",
            },
            "E.164",
        ),
    ],
)
def test_half_configured_twilio_is_refused_naming_what_is_missing(
    tmp_path: Path, twilio: dict[str, str], expected: str
) -> None:
    assert expected in config_error(production_env(tmp_path, **twilio))


def test_twilio_with_a_messaging_service_needs_no_from_number(tmp_path: Path) -> None:
    env = production_env(
        tmp_path,
        TWILIO_ACCOUNT_SID="AC" + "0" * 32,
        TWILIO_AUTH_TOKEN="token",
        TWILIO_MESSAGING_SERVICE_SID="MG" + "0" * 32,
    )

    twilio = Settings.from_env(env).twilio

    assert twilio is not None
    assert twilio.from_number is None
    assert twilio.api_base_url == "https://api.twilio.com"


@pytest.mark.parametrize(("name", "value"), [("TEAM_EMAILS", "team@, b"), ("MAIL_FROM", "intake")])
def test_malformed_address_is_refused_naming_the_setting(
    tmp_path: Path, name: str, value: str
) -> None:
    assert name in config_error(production_env(tmp_path, **{name: value}))


@pytest.mark.parametrize("value", ["soon", "0", "-5"])
def test_non_positive_or_non_numeric_interval_is_refused(tmp_path: Path, value: str) -> None:
    assert "DISPATCH_INTERVAL" in config_error(production_env(tmp_path, DISPATCH_INTERVAL=value))


# --- delivery knobs ------------------------------------------------------------------------

DELIVERY_SECONDS = (
    "DELIVERY_MAX_AGE",
    "DELIVERY_BACKOFF_BASE",
    "DELIVERY_BACKOFF_CAP",
    "DELIVERY_STALE_AFTER",
    "DELIVERY_REQUEUE_AFTER",
    "DELIVERY_WORKER_DEAD_AFTER",
)
TWILIO_ENV = {
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_FROM_NUMBER": "+13105550100",
}


def test_delivery_knobs_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        production_env(
            tmp_path,
            DELIVERY_MAX_ATTEMPTS="5",
            DELIVERY_MAX_AGE="7200",
            DELIVERY_BACKOFF_BASE="2.5",
            DELIVERY_BACKOFF_CAP="600",
            DELIVERY_STALE_AFTER="90",
            DELIVERY_REQUEUE_AFTER="45",
            DELIVERY_WORKER_DEAD_AFTER="25",
        )
    )

    assert settings.delivery == DeliverySettings(
        max_attempts=5,
        max_age=7200,
        backoff_base=2.5,
        backoff_cap=600,
        stale_after=90,
        requeue_after=45,
        worker_dead_after=25,
    )


@pytest.mark.parametrize(
    ("channel", "minimum"),
    [
        ({"SMTP_URL": "smtp://relay.sunrise.example:25", "SMTP_TIMEOUT": "30"}, 60),
        ({**TWILIO_ENV, "TWILIO_TIMEOUT": "45"}, 90),
        (
            {
                "SMTP_URL": "smtp://relay.sunrise.example:25",
                "SMTP_TIMEOUT": "20",
                **TWILIO_ENV,
                "TWILIO_TIMEOUT": "35",
            },
            70,
        ),
    ],
    ids=["smtp", "twilio", "slowest-of-both"],
)
def test_stale_after_below_twice_the_slowest_channel_timeout_is_refused_with_a_sentence(
    tmp_path: Path, channel: dict[str, str], minimum: int
) -> None:
    # A send still talking to its provider must never look abandoned, or it is sent twice.
    env = production_env(tmp_path, **channel)

    message = config_error({**env, "DELIVERY_STALE_AFTER": str(minimum - 1)})

    assert message == (
        "DELIVERY_STALE_AFTER must be at least twice the slowest channel timeout "
        f"({minimum} seconds)."
    )
    settings = Settings.from_env({**env, "DELIVERY_STALE_AFTER": str(minimum)})
    assert settings.delivery.stale_after == minimum


def test_worker_dead_after_below_twice_the_slowest_channel_timeout_is_refused(
    tmp_path: Path,
) -> None:
    # A live worker mid-send must never look dead, or its text could go out twice.
    env = production_env(tmp_path, **TWILIO_ENV, TWILIO_TIMEOUT="15")

    assert config_error({**env, "DELIVERY_WORKER_DEAD_AFTER": "29"}) == (
        "DELIVERY_WORKER_DEAD_AFTER must be at least twice the slowest channel timeout "
        "(30 seconds)."
    )
    settings = Settings.from_env({**env, "DELIVERY_WORKER_DEAD_AFTER": "30"})
    assert settings.delivery.worker_dead_after == 30


def test_default_stale_after_is_refused_too_when_a_channel_is_slower(tmp_path: Path) -> None:
    env = production_env(tmp_path, SMTP_URL="smtp://relay.sunrise.example:25", SMTP_TIMEOUT="100")

    assert "DELIVERY_STALE_AFTER" in config_error(env)


@pytest.mark.parametrize("name", DELIVERY_SECONDS)
@pytest.mark.parametrize("value", ["soon", "10s", "1,5", "0x10"])
def test_non_numeric_delivery_knob_is_refused_naming_it(
    tmp_path: Path, name: str, value: str
) -> None:
    message = config_error(production_env(tmp_path, **{name: value}))

    assert message == f"{name} must be a number of seconds, not {value!r}."


@pytest.mark.parametrize("name", DELIVERY_SECONDS)
@pytest.mark.parametrize("value", ["0", "-5"])
def test_non_positive_delivery_knob_is_refused(tmp_path: Path, name: str, value: str) -> None:
    assert config_error(production_env(tmp_path, **{name: value})) == (
        f"{name} must be a finite number greater than zero, not {value!r}."
    )


def test_delivery_knob_that_is_not_a_finite_number_is_refused(tmp_path: Path) -> None:
    # float() reads "nan" and "inf", and both pass `value <= 0` (and the stale-after check);
    # timedelta(seconds=...) then raises at every scheduler tick (DELIVERY_STALE_AFTER,
    # DELIVERY_REQUEUE_AFTER) or at every retry (DELIVERY_MAX_AGE, DELIVERY_BACKOFF_BASE).
    accepted = []
    for name in DELIVERY_SECONDS:
        for value in ("nan", "inf"):
            try:
                Settings.from_env(production_env(tmp_path, **{name: value}))
            except ConfigError as error:
                assert name in str(error)
            else:
                accepted.append(f"{name}={value}")

    assert accepted == []


@pytest.mark.parametrize("value", ["three", "0", "-1", "2.5", "1e3", " "])
def test_max_attempts_must_be_a_whole_number_of_at_least_one(tmp_path: Path, value: str) -> None:
    env = production_env(tmp_path, DELIVERY_MAX_ATTEMPTS=value)
    if not value.strip():  # blank means the default
        assert Settings.from_env(env).delivery.max_attempts == 8
        return

    message = config_error(env)

    assert message == (
        f"DELIVERY_MAX_ATTEMPTS must be a whole number of at least 1, not {value!r}."
    )


# --- development ---------------------------------------------------------------------------


def development_env(instance: Path) -> dict[str, str]:
    return {"APP_ENV": "development", "INSTANCE_PATH": str(instance)}


def test_development_generates_secrets_in_the_instance_folder_and_reuses_them(
    tmp_path: Path,
) -> None:
    instance = tmp_path / "instance"

    first = Settings.from_env(development_env(instance))
    second = Settings.from_env(development_env(instance))

    assert len(first.secret_key) >= 32
    assert second.secret_key == first.secret_key
    assert second.field_encryption_keys == first.field_encryption_keys
    FieldCipher(first.field_encryption_keys)  # a usable Fernet key
    for name in ("secret_key", "field_encryption_key"):
        path = instance / name
        assert path.exists()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # secrets readable by the owner only
    assert first.database_url == f"sqlite:///{instance / 'intake.sqlite'}"
    assert first.broker_url == f"sqla+sqlite:///{instance / 'broker.sqlite'}"


def test_each_development_instance_gets_its_own_secrets(tmp_path: Path) -> None:
    one = Settings.from_env(development_env(tmp_path / "one"))
    other = Settings.from_env(development_env(tmp_path / "two"))

    assert one.secret_key != other.secret_key
    assert one.field_encryption_keys != other.field_encryption_keys


# --- key rotation --------------------------------------------------------------------------


def stored_message(app: Flask) -> str | None:
    with app.extensions["intake.db"].session() as session:
        message: str | None = session.scalars(sa.select(Submission.message)).one()
        return message


def submit_with_message(app: Flask, text: str) -> None:
    contact = intake.Contact(first_name="Jane", email="jane@patients.example")
    intake.submit(
        app.extensions["intake.db"], intake.SubmissionInput("contact", contact, message=text)
    )


def test_data_encrypted_with_an_old_key_is_readable_with_a_new_key_first(
    make_app: Callable[..., Flask],
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    submit_with_message(make_app(FIELD_ENCRYPTION_KEYS=old), "Evenings after six.")

    rotated = make_app(FIELD_ENCRYPTION_KEYS=f"{new},{old}")

    assert stored_message(rotated) == "Evenings after six."


def test_after_rotation_new_data_is_encrypted_with_the_new_key(
    make_app: Callable[..., Flask],
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    rotated = make_app(FIELD_ENCRYPTION_KEYS=f"{new},{old}")
    submit_with_message(rotated, "Mornings only.")

    with rotated.extensions["intake.db"].session() as session:
        token = session.execute(sa.text("SELECT message FROM submissions")).scalar_one()

    assert FieldCipher((new,)).decrypt(token) == "Mornings only."
    with pytest.raises(ValueError, match="could not be read"):
        FieldCipher((old,)).decrypt(token)


def test_data_is_unreadable_once_its_key_is_dropped(make_app: Callable[..., Flask]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    submit_with_message(make_app(FIELD_ENCRYPTION_KEYS=old), "Evenings after six.")

    without_old = make_app(FIELD_ENCRYPTION_KEYS=new)

    with pytest.raises(ValueError, match="could not be read with any configured key") as caught:
        stored_message(without_old)
    assert "Evenings" not in str(caught.value)


def test_dot_env_file_is_read_and_the_environment_wins_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "CLINIC_NAME=Clinic From Dotenv\nCLINIC_PHONE=(310) 555-0199\n"
        f"INSTANCE_PATH={tmp_path / 'instance'}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CLINIC_NAME", raising=False)
    monkeypatch.setenv("CLINIC_PHONE", "(310) 555-0100")

    settings = Settings.from_env()

    assert settings.clinic_name == "Clinic From Dotenv"
    assert settings.clinic_phone == "(310) 555-0100"


def test_texts_are_paced_per_sender_in_the_brokers_redis(tmp_path: Path) -> None:
    settings = Settings.from_env(
        production_env(tmp_path, SMS_ENABLED="true", SMS_RATE_PER_SECOND="10", **TWILIO_ENV)
    )
    assert settings.delivery.sms_pace == SmsPace(10, "+13105550100", "redis://redis:6379/0")
    # Unset or 0: no pacing at all.
    assert Settings.from_env(production_env(tmp_path)).delivery.sms_pace is None
    assert (
        Settings.from_env(production_env(tmp_path, SMS_RATE_PER_SECOND="0")).delivery.sms_pace
        is None
    )


def test_a_text_rate_needs_a_count_every_worker_shares(tmp_path: Path) -> None:
    message = config_error(
        production_env(
            tmp_path,
            SMS_RATE_PER_SECOND="10",
            CELERY_BROKER_URL="amqp://rabbit:5672//",
            RATELIMIT_STORAGE_URI="memory://",
            RATELIMIT_ENABLED="false",
        )
    )
    assert "SMS_RATE_PER_SECOND" in message
    assert "SMS_RATE_PER_SECOND" in config_error(
        production_env(tmp_path, SMS_RATE_PER_SECOND="ten")
    )


def test_the_embedded_default_paces_texts_in_its_one_process(tmp_path: Path) -> None:
    env = {"INSTANCE_PATH": str(tmp_path), "SMS_RATE_PER_SECOND": "3"}
    pace = Settings.from_env(env).delivery.sms_pace
    assert pace == SmsPace(3, "dev-outbox", "memory://")
