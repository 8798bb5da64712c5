"""The README's route and command tables are complete and exact: checked against the app's OpenAPI
document, its URL map and its command tree, so a route or a command cannot go missing from them."""

from __future__ import annotations

import re
from collections import Counter

import click
import pytest

from tests.readme import readme

METHODS = {"get", "post", "put", "delete", "patch"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from api import create_app

    database = tmp_path_factory.mktemp("readme") / "unused.sqlite3"
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "TESTING": True})


@pytest.fixture(scope="module")
def openapi_routes(app) -> set[tuple[str, str]]:
    spec = app.test_client().get("/openapi.json").get_json()
    return {readme.normalized(m, path) for path, item in spec["paths"].items() for m in item if m in METHODS}


def test_every_api_route_is_in_the_readme_and_every_listed_one_exists(openapi_routes):
    listed = readme.routes("api")
    assert [route for route, n in Counter(listed).items() if n > 1] == [], "listed twice"
    assert openapi_routes - set(listed) == set(), "in /openapi.json, missing from the README"
    assert set(listed) - openapi_routes == set(), "in the README, not in /openapi.json"


def test_the_pages_beside_the_api_are_listed_exactly(app, openapi_routes):
    served = {
        readme.normalized(method, rule.rule)
        for rule in app.url_map.iter_rules()
        # /docs' own files (Swagger UI's, under a pinned version) are named by the /docs row.
        if not rule.rule.startswith("/docs/assets/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    pages = served - openapi_routes
    listed = readme.routes("pages")
    assert len(listed) == len(set(listed)), "listed twice"
    assert pages - set(listed) == set(), "served beside the API, missing from the README"
    assert set(listed) - pages == set(), "in the README, not served (or an API route)"


def _our_commands(app) -> set[str]:
    """Every leaf command this project registers, as typed after ``flask --app wsgi``."""
    from api.cli import codes, guilds, mail, projects, webhooks

    groups = (projects.projects, guilds.guilds, codes.codes, webhooks.webhooks)
    assert not any(isinstance(c, click.Group) for g in groups for c in g.commands.values()), "nested"
    names = {f"{group.name} {name}" for group in groups for name in group.commands}
    singles = [command for command in app.cli.commands.values() if command.callback is not None]
    names |= {command.name for command in singles if command.callback.__module__.startswith("api.cli")}
    assert mail.worker.name in names  # the single commands were found
    return names | {"db upgrade"}  # Flask-Migrate's, which the README's `make migrate` runs


def test_every_cli_command_is_in_the_readme_and_every_listed_one_exists(app):
    ours = _our_commands(app)
    listed = []
    for row in readme.table_after("cli"):
        for usage in re.findall(r"`([^`]+)`", row[0]):
            words = usage.split()
            path = " ".join(words[:2]) if " ".join(words[:2]) in ours else words[0]
            listed.append(path)
    assert ours - set(listed) == set(), "commands missing from the README's table"
    assert set(listed) - ours == set(), "in the README's table, not a command"


def test_the_cli_block_uses_this_projects_flask(app):
    lines = [line for line in readme.block("cli").splitlines() if "flask" in line]
    assert lines and all(line.startswith(".venv/bin/flask --app wsgi ") for line in lines)
    for line in lines:
        words = line.split("#")[0].split()[3:]
        assert " ".join(words[:2]) in _our_commands(app) or words[0] in _our_commands(app), line


def _env_example() -> dict[str, str]:
    lines = (readme.ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.lstrip().startswith("#"))


def test_the_deploying_section_starts_the_mail_server_env_example_names():
    import yaml

    services = yaml.safe_load((readme.ROOT / "docker-compose.yml").read_text())["services"]
    deploying = readme.text().split("## Deploying\n", 1)[1].split("\n## ", 1)[0]
    [up] = [line for line in deploying.splitlines() if line.startswith("docker compose") and " up " in line][
        :1
    ]
    smtp_host = _env_example().get("SMTP_HOST")
    if smtp_host:  # .env.example sends mail: the README's first `up` must start that server
        assert smtp_host in services, f"SMTP_HOST={smtp_host} is no service of docker-compose.yml"
        profiles = services[smtp_host].get("profiles", [])
        assert not profiles or any(f"--profile {p}" in up for p in profiles), up


def test_env_example_keeps_port_out_of_the_containers_way():
    # gunicorn.conf.py binds PORT inside the container; compose publishes a fixed container port.
    import yaml

    api = yaml.safe_load((readme.ROOT / "docker-compose.yml").read_text())["services"]["api"]
    if "PORT" in _env_example():
        assert any("${PORT" in str(mapping) for mapping in api.get("ports", [])), api.get("ports")
