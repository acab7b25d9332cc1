"""`intake-service users create/list/disable` against a migrated database."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from intake_service.cli import main
from intake_service.config import Settings
from intake_service.migrate import upgrade
from tests.conftest import base_env

PASSWORD = "a long enough password"


def test_create_list_and_disable_an_account(tmp_path: Path) -> None:
    env = base_env(tmp_path / "instance")
    upgrade(Settings.from_env(env).database_url)
    runner = CliRunner()
    created = runner.invoke(
        main, ["users", "create", "--email", "Nurse@Clinic.example", "--role", "coordinator"],
        input=PASSWORD + "\n", env=env,
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "created coordinator account nurse@clinic.example" in created.output
    again = runner.invoke(
        main, ["users", "create", "--email", "nurse@clinic.example", "--role", "admin"],
        input=PASSWORD + "\n", env=env,
    )  # fmt: skip
    assert again.exit_code == 1 and "already exists" in again.output
    short = runner.invoke(
        main, ["users", "create", "--email", "b@clinic.example", "--role", "admin"],
        input="short\n", env=env,
    )  # fmt: skip
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    bad_role = runner.invoke(
        main, ["users", "create", "--email", "c@clinic.example", "--role", "owner"], env=env
    )
    assert bad_role.exit_code == 2
    listed = runner.invoke(main, ["users", "list"], env=env)
    assert "nurse@clinic.example" in listed.output and "active" in listed.output
    disabled = runner.invoke(main, ["users", "disable", "--email", "nurse@clinic.example"], env=env)
    assert disabled.exit_code == 0
    assert "disabled" in runner.invoke(main, ["users", "list"], env=env).output
    missing = runner.invoke(main, ["users", "disable", "--email", "nobody@clinic.example"], env=env)
    assert missing.exit_code == 1 and "no account" in missing.output
