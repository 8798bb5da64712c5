"""docker-compose.yml, the Dockerfile, .env.example and the proxy's config, checked by reading
them (no Docker here; tests/deploy/test_proxy.py runs the proxy's config with nginx).

They parse; every command names an entry point that exists; every variable compose gives the
services is one that ``shared.config.Settings`` reads (or the image's own); every variable the code
reads is documented in .env.example with its true default; the proxy is the only way in, and its
limits agree with the API's and gunicorn's.
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
from gunicorn.config import Config as GunicornConfig

from shared.config import Settings
from tests.deploy.nginx import TEMPLATE, TEMPLATE_VARIABLES
from tests.support import ROOT

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
APP_SERVICES = ("api", "worker", "bot")
# Variables of the images compose runs, documented by those images (the proxy's template's own).
IMAGE_VARIABLES = {
    "db": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
    "proxy": {"NGINX_ENVSUBST_FILTER", *TEMPLATE_VARIABLES},
}
# Variables only docker-compose.yml itself reads (interpolation), documented in .env.example.
COMPOSE_ONLY = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PROXY_PORT", "MAILPIT_PORT"}
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
    assert set(SERVICES) == {"db", "redis", "api", "proxy", "worker", "bot", "mailpit"}
    assert SERVICES["bot"]["profiles"] == ["bot"]  # starts only when asked: no DISCORD_TOKEN needed
    assert SERVICES["mailpit"]["profiles"] == ["mail"]
    for name in ("db", "redis", "api", "proxy", "worker"):
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


def test_env_example_sends_no_mail_to_a_catcher_that_compose_does_not_start():
    """A plain `docker compose up` starts no Mailpit (profile `mail`), so .env.example leaves SMTP
    unset; it says how to use Mailpit, with the settings that reach it."""
    active = {name for name, _value, is_active in env_example() if is_active}
    assert not active & {"SMTP_HOST", "SMTP_PORT", "SMTP_SECURITY"}
    text = (ROOT / ".env.example").read_text()
    for hint in ("mailpit", "1025", "SMTP_SECURITY to none", "--profile mail"):
        assert hint in text
    assert Settings.from_env({}).smtp_host in (None, "")


def test_the_mail_catcher_listens_on_this_hosts_loopback_only():
    # Its web UI shows every message, codes included.
    (port,) = SERVICES["mailpit"]["ports"]
    assert port.startswith("127.0.0.1:") and port.endswith(":8025")


# --- the proxy --------------------------------------------------------------------------------

TEMPLATE_TEXT = TEMPLATE.read_text()
API_PORT_IN_CONTAINER = "8000"


def nginx_directive(name: str) -> list[str]:
    """The arguments of the one ``name`` directive of the proxy's template."""
    (arguments,) = re.findall(rf"^\s*{name}\s+([^;]*);", TEMPLATE_TEXT, re.M)
    return arguments.split()


def test_only_the_proxy_publishes_a_port():
    published = {name for name, service in SERVICES.items() if service.get("ports")}
    # Mailpit's web UI too, but opt-in and on loopback (above).
    assert published == {"proxy", "mailpit"}
    (port,) = SERVICES["proxy"]["ports"]
    assert port == "${PROXY_PORT:-8000}:80"


def test_the_api_is_reached_through_the_proxy_on_a_port_env_cannot_move():
    api = SERVICES["api"]
    assert "ports" not in api and api["expose"] == [API_PORT_IN_CONTAINER]
    # .env may set PORT (make run reads it); compose's environment wins over env_file.
    assert api["environment"]["PORT"] == API_PORT_IN_CONTAINER
    assert Settings.from_env({"PORT": API_PORT_IN_CONTAINER}).port == int(API_PORT_IN_CONTAINER)
    assert SERVICES["proxy"]["environment"]["CODES_UPSTREAM"] == f"api:{API_PORT_IN_CONTAINER}"
    assert SERVICES["proxy"]["depends_on"]["api"] == {"condition": "service_healthy", "restart": True}


def test_the_api_trusts_the_one_proxy_in_front():
    assert SERVICES["api"]["environment"]["TRUSTED_PROXIES"] == "1"
    assert Settings.from_env({"TRUSTED_PROXIES": "1"}).trusted_proxies == 1
    # nginx appends the address it saw to X-Forwarded-For: the last one, which the API takes.
    assert nginx_directive("proxy_set_header X-Forwarded-For") == ["$proxy_add_x_forwarded_for"]


def test_the_proxy_is_the_official_image_rendering_the_template_the_tests_run():
    proxy = SERVICES["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert proxy["volumes"] == ["./docker/nginx/templates:/etc/nginx/templates:ro"]
    assert TEMPLATE.parent == ROOT / "docker" / "nginx" / "templates" and TEMPLATE.suffix == ".template"
    # The image substitutes only the variables its filter admits: exactly the template's.
    environment = proxy["environment"]
    admitted = {name for name in environment if re.search(environment["NGINX_ENVSUBST_FILTER"], name)}
    referenced = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", TEMPLATE_TEXT))
    assert admitted == referenced == set(TEMPLATE_VARIABLES)
    assert not re.search(r"\$[A-Z]", TEMPLATE_TEXT.replace("${", "")), "only ${CODES_*} in capitals"


def test_the_proxy_refuses_the_bodies_the_api_refuses():
    assert nginx_directive("client_max_body_size") == ["${CODES_MAX_BODY_SIZE}"]
    default = Settings.from_env({}).max_content_length
    assert SERVICES["proxy"]["environment"]["CODES_MAX_BODY_SIZE"] == f"${{MAX_CONTENT_LENGTH:-{default}}}"


def test_the_proxys_header_limits_are_within_gunicorns():
    """A request line or a header line nginx passes is one gunicorn reads: gunicorn's own (HTML)
    414 and 400 answers never reach a client. A line and its CRLF fill one buffer at most."""
    count, size = nginx_directive("large_client_header_buffers")
    buffer = int(size.removesuffix("k")) * 1024
    gunicorn = GunicornConfig()
    assert "limit_request_line" not in (ROOT / "gunicorn.conf.py").read_text()  # the default, below
    assert buffer - 2 <= gunicorn.limit_request_line
    assert buffer - 2 <= gunicorn.limit_request_field_size


def test_the_proxy_times_out_slow_clients_and_waits_out_gunicorns_timeout():
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        assert nginx_directive(directive) == ["10s"]
    (read_timeout,) = nginx_directive("proxy_read_timeout")
    assert int(read_timeout.removesuffix("s")) > Settings.from_env({}).web_timeout


def test_every_error_the_proxy_makes_has_a_json_page():
    pages = dict(re.findall(r"^\s*error_page\s+(\d+)\s+(\S+);", TEMPLATE_TEXT, re.M))
    assert {"400", "404", "408", "413", "414", "429", "494", "500", "501", "502", "504", "505"} <= set(pages)
    for status, page in pages.items():
        block = re.search(rf"location = {re.escape(page)} {{(.*?)\n    }}", TEMPLATE_TEXT, re.S)
        assert block, f"no location for {page}"
        body = block[1]
        assert "internal;" in body and "default_type application/json;" in body
        assert "add_header X-Request-ID $codes_request_id always;" in body
        (returned, text) = re.search(r"return (\d+) '(.*)';", body).groups()
        shape = json.loads(text.replace("\\n", "").replace("$codes_time_ms", "0"))
        # nginx's 494 (a header too large) is sent as 400, as nginx itself does.
        assert int(returned) == (400 if status == "494" else int(status))
        assert shape["code"] == int(returned) and shape["success"] is False
        assert set(shape) == {"success", "code", "error", "message", "time"}


def test_the_proxys_errors_word_what_the_api_words_the_same_way():
    from api.errors import HTTP_ERRORS

    for status, error, message in re.findall(
        r"\{\"success\":false,\"code\":(\d+),\"error\":\"(\w+)\",\"message\":\"([^\"]*)\"", TEMPLATE_TEXT
    ):
        if int(status) in HTTP_ERRORS and error == HTTP_ERRORS[int(status)][0]:
            assert message == HTTP_ERRORS[int(status)][1]
    assert '"error":"payload_too_large","message":"The request body is too large."' in TEMPLATE_TEXT


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
