"""The deployment files agree with the code: docker-compose.yml, Dockerfile, .env.example, the
scripts CI runs, and the wheel that `pip install .` builds.

No Docker engine is needed: the files are parsed and checked against intake_service/config/,
the one place that reads the environment.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

from intake_service.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
CONFIG_PACKAGE = ROOT / "intake_service" / "config"

APP_SERVICES = ("web", "worker", "beat", "migrate")
ALL_SERVICES = (*APP_SERVICES, "redis", "postgres", "mailcatcher")
SECRETS = ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "METRICS_TOKEN")

_NAME = r'"([A-Z][A-Z0-9_]*)"'
_READS = re.compile(
    rf"(?:env\.get\(\s*{_NAME}|required_in_production\(\s*{_NAME}\s*\)"
    rf"|\w+\(\s*env\s*,\s*{_NAME})"
)
_REQUIRED = re.compile(rf"required_in_production\(\s*{_NAME}\s*\)")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def config_variables() -> set[str]:
    """Every environment variable intake_service/config/ reads."""
    source = config_source()
    names = {name for match in _READS.finditer(source) for name in match.groups() if name}
    assert names, "found no environment variables in config/: has the way it reads them changed?"
    return names


def config_source() -> str:
    return "\n".join(path.read_text() for path in sorted(CONFIG_PACKAGE.glob("*.py")))


def production_required() -> set[str]:
    return set(_REQUIRED.findall(config_source()))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    services: dict[str, Any] = compose["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    result: dict[str, Any] = services[name]
    return result


def command_words(value: str | list[str]) -> list[str]:
    words = shlex.split(value) if isinstance(value, str) else [str(word) for word in value]
    if words[:2] == ["sh", "-c"]:
        words = shlex.split(words[2])
    return words


def app_environment(compose: dict[str, Any], name: str) -> dict[str, str]:
    environment = service(compose, name).get("environment")
    assert isinstance(environment, dict), f"{name}: environment should be a mapping"
    return {str(key): "" if value is None else str(value) for key, value in environment.items()}


def interpolate(value: str, secrets: dict[str, str]) -> str:
    """Resolve compose `${VAR:-default}` / `${VAR:?error}` as compose would on an empty shell."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if operator in (":?", "?"):
            return secrets[name]
        if operator in (":-", "-"):
            return argument
        raise AssertionError(f"${{{name}}} has no default: give it one, or :? for a secret")

    return _INTERPOLATION.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


# --- docker-compose.yml ---------------------------------------------------------------------


def test_compose_has_the_whole_stack(compose: dict[str, Any]) -> None:
    missing = set(ALL_SERVICES) - set(compose["services"])
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"


def test_web_runs_gunicorn_on_the_wsgi_app(compose: dict[str, Any]) -> None:
    words = command_words(service(compose, "web")["command"])
    assert words[0] == "gunicorn"
    assert "intake_service.wsgi:app" in words
    assert any("0.0.0.0:8000" in word for word in words), "gunicorn must bind 0.0.0.0:8000"


@pytest.mark.parametrize("role", ["worker", "beat"])
def test_worker_and_beat_run_celery_on_worker_py(compose: dict[str, Any], role: str) -> None:
    words = command_words(service(compose, role)["command"])
    assert words[:4] == ["celery", "-A", "worker", role]


def test_migrate_upgrades_the_database_then_loads_templates(compose: dict[str, Any]) -> None:
    command = service(compose, "migrate")["command"]
    text = command if isinstance(command, str) else " ".join(command)
    upgrade = text.find("intake-service db upgrade")
    load = text.find("intake-service templates load")
    assert 0 <= upgrade < load, "migrate should run `db upgrade` and then `templates load`"
    assert service(compose, "migrate").get("restart") == "no"


def test_app_services_start_after_migrate_and_healthy_services(compose: dict[str, Any]) -> None:
    for name in ("web", "worker", "beat"):
        depends = service(compose, name)["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
    assert service(compose, "migrate")["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_health_checks(compose: dict[str, Any]) -> None:
    def check(name: str) -> str:
        test = service(compose, name)["healthcheck"]["test"]
        return test if isinstance(test, str) else " ".join(test)

    assert "/readyz" in check("web")
    assert "celery -A worker inspect ping" in check("worker")
    assert "--timeout" in check("worker")
    assert "redis-cli ping" in check("redis")
    assert "pg_isready" in check("postgres")


def test_beat_keeps_its_schedule_in_a_volume_at_instance_path(compose: dict[str, Any]) -> None:
    instance_path = app_environment(compose, "beat")["INSTANCE_PATH"]
    mounts = [str(volume).split(":") for volume in service(compose, "beat").get("volumes", [])]
    assert any(len(m) >= 2 and m[1] == instance_path and m[0] in compose["volumes"] for m in mounts)


def test_compose_uses_only_variables_config_reads(compose: dict[str, Any]) -> None:
    known = config_variables()
    for name in APP_SERVICES:
        unknown = set(app_environment(compose, name)) - known
        assert not unknown, f"{name} sets {sorted(unknown)}, which config/ never reads"


def test_compose_sets_every_variable_config_reads(compose: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        environment = app_environment(compose, name)
        missing = config_variables() - set(environment)
        assert not missing, f"{name} lacks {sorted(missing)} (add them to x-app-env)"
        assert environment["APP_ENV"] == "production"
        assert production_required() <= set(environment)


def test_compose_refuses_to_start_without_secrets(compose: dict[str, Any]) -> None:
    environment = app_environment(compose, "web")
    for name in SECRETS:
        assert environment[name].startswith(f"${{{name}:?"), f"{name} must be ${{{name}:?...}}"


def test_compose_defaults_make_valid_production_settings(
    compose: dict[str, Any], tmp_path: Path
) -> None:
    """The stack starts on its defaults plus what only the operator knows (secrets, clinic)."""
    secrets = {
        "SECRET_KEY": "s" * 40,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "CLINIC_NAME": "Sample Clinic",
        "CLINIC_PHONE": "(555) 010-0000",
        "CLINIC_ADDRESS": "Clinic address not set",
        "METRICS_TOKEN": "m" * 32,
    }
    environment = {
        key: interpolate(value, secrets) for key, value in app_environment(compose, "web").items()
    }
    # The metrics folder is the tmpfs volume's mount inside the container; here, a folder of ours.
    assert environment["PROMETHEUS_MULTIPROC_DIR"] == "/run/intake-metrics"
    environment["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path)
    settings = Settings.from_env(environment)
    assert settings.app_env == "production"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in settings.database_url
    assert settings.broker_url.startswith("redis://redis:6379")
    assert settings.ratelimit_storage_uri.startswith("redis://redis:6379")
    assert settings.smtp is not None and (settings.smtp.host, settings.smtp.port) == (
        "mailcatcher",
        1025,
    )
    # No text is planned until Twilio is set (and never into the dev mailbox in production).
    assert settings.twilio is None and not settings.sms_enabled
    assert settings.operations.log_format == "json"
    assert settings.operations.metrics_token == "m" * 32

    defaults = Settings.from_env({"INSTANCE_PATH": str(tmp_path)})
    for field in (
        "clinic_name",
        "clinic_phone",
        "clinic_address",
        "clinic_timezone",
        "mail_from",
        "team_emails",
        "ratelimit_submissions",
        "task_queue",
        "outbox_republish_after",
        "dispatch_interval",
    ):
        assert getattr(settings, field) == getattr(defaults, field), f"{field} default differs"


def test_metrics_folder_is_one_tmpfs_volume_shared_by_every_app_service(
    compose: dict[str, Any],
) -> None:
    """web's /metrics adds up the worker's counters only if both write into the same folder, and
    multiprocess mode needs it empty at each start: a tmpfs-backed named volume."""
    volume_of: dict[str, str] = {}
    for name in APP_SERVICES:
        folder = app_environment(compose, name)["PROMETHEUS_MULTIPROC_DIR"]
        mounts = [str(entry).split(":") for entry in service(compose, name).get("volumes", [])]
        sources = [m[0] for m in mounts if len(m) >= 2 and m[1] == folder]
        assert sources, f"{name} does not mount a volume at PROMETHEUS_MULTIPROC_DIR ({folder})"
        volume_of[name] = sources[0]
    assert len(set(volume_of.values())) == 1, f"the services use different folders: {volume_of}"
    options = compose["volumes"][volume_of["web"]]["driver_opts"]
    assert options["type"] == "tmpfs"
    assert "uid=10001" in options["o"], "the image's user (Dockerfile) must own the folder"


def test_web_marks_exited_gunicorn_workers_dead_for_the_metrics(compose: dict[str, Any]) -> None:
    words = command_words(service(compose, "web")["command"])
    config = [word.split("=", 1)[1] for word in words if word.startswith("--config=")]
    assert config == ["python:intake_service.gunicorn_hooks"]
    module = config[0].removeprefix("python:")
    assert importlib.util.find_spec(module) is not None
    hooks = (ROOT / "intake_service" / "gunicorn_hooks.py").read_text()
    assert "def child_exit(server: Any, worker: Any)" in hooks
    assert any("x-request-id" in word for word in words), "the access log names the request id"


# --- .env.example ---------------------------------------------------------------------------


def env_example_variables() -> set[str]:
    """Names assigned in .env.example, commented out (`# NAME=`) or not."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall(ENV_EXAMPLE.read_text()))


def test_env_example_lists_every_variable_config_reads() -> None:
    missing = config_variables() - env_example_variables()
    assert not missing, f".env.example does not explain {sorted(missing)}"


def test_only_config_reads_the_environment() -> None:
    """What config/ reads is all the service reads, so the lists above are complete."""
    reads = re.compile(r"os\.getenv\(|environ\.get\(|environ\[|getenv\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in [*(ROOT / "intake_service").rglob("*.py"), ROOT / "worker.py"]
        if CONFIG_PACKAGE not in path.parents
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if reads.search(line) and not line.lstrip().startswith("#")
    ]
    assert not offenders, f"read settings in intake_service/config/ instead: {offenders}"


def test_env_example_lists_nothing_config_ignores() -> None:
    unknown = env_example_variables() - config_variables()
    assert not unknown, f".env.example lists {sorted(unknown)}, which config/ never reads"


# --- Dockerfile -----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines = [
        line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")
    ]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    result = []
    for line in text.splitlines():
        if line.strip():
            instruction, _, arguments = line.strip().partition(" ")
            result.append((instruction.upper(), arguments.strip()))
    return result


def test_dockerfile_installs_the_project_not_editable() -> None:
    runs = [
        arguments for instruction, arguments in dockerfile_instructions() if instruction == "RUN"
    ]
    project_install = re.compile(r"pip install(?:\s+-{1,2}[\w-]+)*\s+\.(?:\s|$)")
    installs = [run for run in runs if project_install.search(run)]
    assert installs, "the Dockerfile should install the project with `pip install .`"
    assert not any(re.search(r"pip install[^&;|]*\s(-e|--editable)\s", run) for run in runs)


def test_dockerfile_image_user_port_command_and_health_check() -> None:
    instructions = dockerfile_instructions()
    by_name: dict[str, list[str]] = {}
    for instruction, arguments in instructions:
        by_name.setdefault(instruction, []).append(arguments)
    assert all(base.startswith("python:3.11-slim") for base in by_name["FROM"])
    user = by_name["USER"][-1]
    assert user not in ("root", "0") and not user.startswith("0:")
    assert "8000" in by_name["EXPOSE"][-1]
    assert "intake_service.wsgi:app" in by_name["CMD"][-1]
    assert "gunicorn" in by_name["CMD"][-1]
    assert "/healthz" in by_name["HEALTHCHECK"][-1]


def test_dockerignore_keeps_what_the_build_needs() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in ("pyproject.toml", "README.md", "worker.py", "intake_service", "templates"):
        assert needed not in ignored and f"/{needed}" not in ignored, needed
    assert "*.md" not in ignored, "README.md is the package's readme: hatchling needs it"
    assert ".env" in ignored, "a developer's .env (secrets) must stay out of the image"


# --- the scripts CI runs --------------------------------------------------------------------


def test_ci_runs_the_test_script() -> None:
    ci = ROOT / ".ci" / "run"
    assert ci.read_text().startswith("#!/usr/bin/env bash")
    assert re.search(r"^exec bash scripts/test\s*$", ci.read_text(), re.MULTILINE)


@pytest.mark.parametrize(
    "script", [".ci/run", "scripts/test", "scripts/run", "scripts/services.sh"]
)
def test_scripts_are_executable_bash_with_strict_mode(script: str) -> None:
    path = ROOT / script
    assert os.access(path, os.X_OK), f"{script} is not executable (chmod +x)"
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in text
    check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_test_script_treats_no_tests_collected_as_failure() -> None:
    text = (ROOT / "scripts" / "test").read_text()
    assert "python -m pytest" in text
    assert re.search(r"^\s*5\)", text, re.MULTILINE), "pytest exit 5 must be handled"
    assert "INTAKE_REQUIRE_SERVICES=1" in text


def test_readme_gives_the_test_command() -> None:
    readme = ROOT / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not written yet")
    assert any("scripts/test" in line for line in readme.read_text().splitlines()), (
        "README.md should tell how to run the tests (scripts/test)"
    )


# --- the wheel ------------------------------------------------------------------------------


@pytest.mark.timeout(600)
def test_wheel_ships_templates_migrations_and_worker(tmp_path: Path) -> None:
    """`pip install .` (the Dockerfile's install) must carry everything the service reads from
    disk: templates/, the Alembic migrations, and worker.py for `celery -A worker`.

    Never skipped: this is the proof that the image works outside a source checkout. Builds
    offline with the venv's hatchling when it is there, else with build isolation (PyPI).
    """
    out = tmp_path / "dist"
    command = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(out)]
    if importlib.util.find_spec("hatchling") is not None:
        command.insert(-2, "--no-build-isolation")
    environment = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=540, env=environment
    )
    assert result.returncode == 0, f"{shlex.join(command)} failed:\n{result.stdout}{result.stderr}"
    wheels = list(out.glob("intake_service-*.whl"))
    assert len(wheels) == 1, f"expected one wheel, found {wheels}"

    with zipfile.ZipFile(wheels[0]) as wheel:
        names = wheel.namelist()
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = wheel.read(entry_points).decode()

    def under(folder: str) -> list[str]:
        return [name for name in names if name.startswith(folder)]

    assert "worker.py" in names, "worker.py must be at the top level of the wheel"
    assert "intake_service/wsgi.py" in names, "gunicorn serves intake_service.wsgi:app"
    # templates/ ships whole, as intake_service/templates/ (paths.templates_root looks there).
    assert under("intake_service/templates/messages/"), "templates/messages/ is not in the wheel"
    source = [
        path.relative_to(ROOT / "templates").as_posix()
        for path in (ROOT / "templates").rglob("*")
        if path.is_file() and not any(part.startswith((".", "__")) for part in path.parts)
    ]
    missing = sorted(f for f in source if f"intake_service/templates/{f}" not in names)
    assert not missing, f"templates/ files missing from the wheel: {missing}"
    assert "intake_service/migrations/env.py" in names
    assert "intake_service/migrations/script.py.mako" in names
    assert any(re.fullmatch(r"intake_service/migrations/versions/[^/]+\.py", n) for n in names)
    assert re.search(r"^intake-service\s*=\s*intake_service\.cli:main$", scripts, re.MULTILINE)
