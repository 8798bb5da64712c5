"""docker-compose.yml, the Dockerfile and .env.example, checked by reading them (no Docker here).

They parse; every command names an entry point that exists; every variable compose gives the
services is one that ``shared.config.Settings`` reads (or the postgres image's own); every variable
the code reads is documented in .env.example with its true default.
"""

from __future__ import annotations

import ast
import dataclasses
import fnmatch
import json
import re
import shlex
import warnings
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner as FlaskRunner

from shared.config import Settings
from tests.support import ROOT

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
APP_SERVICES = ("api", "worker", "bot")
# Variables of the images compose runs, documented by those images.
IMAGE_VARIABLES = {"db": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}}
# Variables only docker-compose.yml itself reads (interpolation), documented in .env.example.
COMPOSE_ONLY = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "API_PORT", "MAILPIT_PORT"}
# Documented defaults that are paths or placeholders, not literal values.
NOT_LITERAL = {"DATABASE_URL", "INSTANCE_DIR", "MAIL_DIR"}


def settings_variables() -> set[str]:
    """Every environment variable shared/config.py reads: one per Settings field, and INSTANCE_DIR."""
    return {setting.name.upper() for setting in dataclasses.fields(Settings)} | {"INSTANCE_DIR"}


ASSIGNMENT = re.compile(r"^(?P<commented>#\s*)?(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")


def env_example() -> list[tuple[str, str, bool]]:
    """(name, value, active) for each ``NAME=value`` line, active unless commented out."""
    entries = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = ASSIGNMENT.match(line.strip())
        if match:
            entries.append((match["name"], match["value"].strip(), not match["commented"]))
    return entries


def documented_variables() -> set[str]:
    return {name for name, _value, _active in env_example()}


def _command(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


# --- compose ----------------------------------------------------------------------------------


def test_the_services_and_their_profiles():
    assert set(SERVICES) == {"db", "redis", "api", "worker", "bot", "mailpit"}
    assert SERVICES["bot"]["profiles"] == ["bot"]  # starts only when asked: no DISCORD_TOKEN needed
    assert SERVICES["mailpit"]["profiles"] == ["mail"]
    for name in ("db", "redis", "api", "worker"):
        assert "profiles" not in SERVICES[name], f"{name} starts with a plain `docker compose up`"


def test_the_database_keeps_its_data_in_a_named_volume_and_reports_health():
    db = SERVICES["db"]
    assert db["image"].startswith("postgres:")
    source, target = db["volumes"][0].split(":")
    assert source in COMPOSE["volumes"] and target == "/var/lib/postgresql/data"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_the_api_migrates_before_gunicorn_and_waits_for_a_healthy_database():
    command = _command("api")
    assert command[:2] == ["sh", "-c"]
    steps = [shlex.split(step) for step in command[2].split("&&")]
    assert steps == [
        ["flask", "--app", "wsgi", "db", "upgrade"],
        ["exec", "gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"],
    ]
    assert SERVICES["api"]["depends_on"]["db"] == {"condition": "service_healthy"}
    assert SERVICES["api"]["healthcheck"]["test"] == ["CMD", "python", "docker/healthcheck.py"]


def test_worker_and_bot_start_once_the_api_has_migrated():
    for name in ("worker", "bot"):
        service = SERVICES[name]
        assert service["depends_on"]["api"] == {"condition": "service_healthy"}
        # They serve no HTTP: the image's /healthz check would call them unhealthy.
        assert service["healthcheck"] == {"disable": True}
    assert _command("worker") == ["flask", "--app", "wsgi", "worker"]
    assert _command("bot") == ["python", "-m", "bot"]


def _flask_commands() -> list[list[str]]:
    """Every `flask --app wsgi ...` the services run."""
    commands = [
        step for step in (shlex.split(s) for s in _command("api")[2].split("&&")) if step[0] == "flask"
    ]
    commands.append(_command("worker"))
    return commands


@pytest.mark.parametrize("command", _flask_commands(), ids=" ".join)
def test_every_flask_command_compose_runs_exists(command, tmp_path):
    from flask.cli import FlaskGroup

    from api import create_app

    assert command[:3] == ["flask", "--app", "wsgi"] and _defines_app(ROOT / "wsgi.py")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'help.sqlite3'}"})
    # FlaskGroup, as the `flask` command builds it: the app's commands and plugins' (db).
    result = FlaskRunner().invoke(FlaskGroup(create_app=lambda: app), [*command[3:], "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_the_bot_command_is_the_bots_entry_point(capsys):
    with warnings.catch_warnings():
        # discord.py imports the stdlib's audioop (voice, unused here), deprecated since 3.11.
        warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
        from bot import __main__ as entry

    assert _command("bot")[1:] == ["-m", "bot"]
    with pytest.raises(SystemExit) as caught:
        entry.main(["--help"])
    assert caught.value.code == 0
    assert "python -m bot" in capsys.readouterr().out


def test_app_services_run_the_project_image_with_an_init_and_the_env_file():
    for name in APP_SERVICES:
        service = SERVICES[name]
        assert service["build"] == "." and service["image"] == SERVICES["api"]["image"]
        assert service["env_file"] == ".env"
        assert service["init"] is True  # signals reach the process, zombies are reaped
        assert service["restart"] == "unless-stopped"


def test_stop_grace_outlasts_gunicorns_graceful_timeout():
    graceful = re.search(r"^graceful_timeout = (\d+)", (ROOT / "gunicorn.conf.py").read_text(), re.M)
    assert graceful
    assert int(SERVICES["api"]["stop_grace_period"].rstrip("s")) > int(graceful[1])


def test_every_variable_compose_gives_a_service_is_read_by_it():
    read = settings_variables()
    for name, service in SERVICES.items():
        given = set(service.get("environment") or {})
        allowed = read if name in APP_SERVICES else IMAGE_VARIABLES.get(name, set())
        assert given <= allowed, f"{name}: {sorted(given - allowed)} set but never read"


def test_the_app_services_reach_postgres_and_redis_by_their_service_names():
    environment = SERVICES["api"]["environment"]
    assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@db:5432/" in environment["DATABASE_URL"]
    assert environment["REDIS_URL"] == "redis://redis:6379/0"


def test_every_variable_compose_interpolates_is_documented():
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", COMPOSE_TEXT))
    assert "POSTGRES_PASSWORD" in interpolated
    assert interpolated <= documented_variables(), sorted(interpolated - documented_variables())


def test_the_mail_catcher_is_what_env_example_points_smtp_at():
    active = {name: value for name, value, is_active in env_example() if is_active}
    assert active["SMTP_HOST"] == "mailpit"
    assert active["SMTP_PORT"] == "1025"  # Mailpit's SMTP port
    settings = Settings.from_env(active)
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_security) == ("mailpit", 1025, "none")


# --- .env.example -----------------------------------------------------------------------------


def test_env_example_documents_every_variable_the_code_reads():
    missing = settings_variables() - documented_variables()
    assert not missing, f"add to .env.example, with their defaults: {sorted(missing)}"


def test_env_example_documents_nothing_that_nobody_reads():
    stale = documented_variables() - settings_variables() - COMPOSE_ONLY
    assert not stale, f".env.example documents variables nothing reads: {sorted(stale)}"


def test_env_example_shows_the_true_defaults():
    defaults = Settings.from_env({})
    for name, value, active in env_example():
        field = name.lower()
        if active or not value or name in NOT_LITERAL or not hasattr(defaults, field):
            continue
        documented = getattr(Settings.from_env({name: value}), field)
        assert documented == getattr(defaults, field), f"{name}={value} is not its default"


# --- the image --------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), " ".join(rest.split())))
    return instructions


def _exec_form(argument: str) -> list[str]:
    return json.loads(argument[argument.index("[") :])


def test_the_image_is_slim_python_311():
    instructions = dockerfile_instructions()
    assert [arg for kw, arg in instructions if kw == "FROM"] == ["python:3.11-slim"]


def test_dependencies_are_installed_in_their_own_layer_before_the_code():
    instructions = dockerfile_instructions()
    copy_requirements = instructions.index(("COPY", "requirements.txt ./"))
    install = next(i for i, (kw, arg) in enumerate(instructions) if kw == "RUN" and "pip install" in arg)
    copy_code = instructions.index(("COPY", ". ."))
    assert copy_requirements < install < copy_code


def test_the_service_runs_as_a_user_that_is_not_root():
    instructions = dockerfile_instructions()
    users = [(i, arg) for i, (kw, arg) in enumerate(instructions) if kw == "USER"]
    assert users and users[-1][1] not in ("root", "0")
    last_run = max(i for i, (kw, _arg) in enumerate(instructions) if kw == "RUN")
    assert users[-1][0] > last_run


def test_the_command_is_gunicorn_with_the_config_file():
    (cmd,) = [arg for kw, arg in dockerfile_instructions() if kw == "CMD"]
    assert _exec_form(cmd) == ["gunicorn", "--config", "gunicorn.conf.py", "wsgi:app"]
    assert (ROOT / "gunicorn.conf.py").is_file()
    assert _defines_app(ROOT / "wsgi.py")


def test_the_healthcheck_runs_a_script_that_exists():
    (check,) = [arg for kw, arg in dockerfile_instructions() if kw == "HEALTHCHECK"]
    command = _exec_form(check)
    assert command == ["python", "docker/healthcheck.py"]
    assert (ROOT / command[1]).is_file()


def _defines_app(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(
        isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "app" for t in node.targets)
        for node in tree.body
    )


def dockerignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out (.dockerignore's rules, simplified)."""
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        patterns = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(c, p) for c in candidates for p in patterns):
            excluded = not negate
    return excluded


@pytest.mark.parametrize(
    "needed",
    [
        "requirements.txt",
        "wsgi.py",
        "gunicorn.conf.py",
        "docker/healthcheck.py",
        "api/__init__.py",
        "shared/config.py",
        "shared/logging.py",
        "bot/__init__.py",
        "migrations/env.py",
        "migrations/alembic.ini",
        "migrations/script.py.mako",
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "migrations" / "versions").glob("*.py")),
    ],
)
def test_what_the_services_need_is_in_the_build_context(needed):
    assert (ROOT / needed).is_file()
    assert not dockerignored(needed)


@pytest.mark.parametrize(
    "left_out", [".env", ".git/config", ".venv/bin/python", "instance/codes.sqlite3", "api/__pycache__/x.pyc"]
)
def test_secrets_and_local_state_stay_out_of_the_image(left_out):
    assert dockerignored(left_out)
