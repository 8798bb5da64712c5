"""The migrations and the models can't drift apart.

On an empty SQLite and an empty PostgreSQL database: the migrations upgrade to head, Alembic's
autogenerate comparison then finds no difference from the models, every migration downgrades
and upgrades again, and concurrent upgrades (API replicas starting together) don't collide.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
import time

import flask_migrate
import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Integer, MetaData, inspect
from sqlalchemy.engine import make_url

import shared
from api.extensions import db
from shared.db import Base
from tests.support import ROOT, subprocess_env

MIGRATIONS = ROOT / "migrations"


def _import_every_model() -> None:
    """Models register on Base.metadata when their module is imported: import all of shared."""
    for module in pkgutil.walk_packages(shared.__path__, "shared."):
        importlib.import_module(module.name)


def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def schema_differences(metadata: MetaData = Base.metadata) -> list:
    """What autogenerate would put in a new migration for ``metadata`` (the app's database)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return compare_metadata(context, metadata)


def current_revisions() -> set[str]:
    with db.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def test_the_migrations_have_exactly_one_head():
    heads = _script().get_heads()
    assert len(heads) == 1, (
        f"The migrations have {len(heads)} heads ({', '.join(heads)}): two branches were added "
        "side by side. Merge them with `flask --app wsgi db merge heads -m merge`."
    )


def test_upgrade_of_an_empty_database_matches_the_models(migrations_app):
    _import_every_model()
    with migrations_app.app_context():
        flask_migrate.upgrade()
        assert current_revisions() == set(_script().get_heads())
        differences = schema_differences()
    assert differences == [], (
        "The models differ from the schema the migrations build. Add a migration: "
        f"`flask --app wsgi db migrate -m '...'`, then review it. Differences: {differences}"
    )


def test_every_migration_downgrades_and_upgrades_again(migrations_app):
    """The stairway: each revision up, down to its parent, and up again; then down to base."""
    _import_every_model()
    script = _script()
    revisions = list(reversed(list(script.walk_revisions("base", "heads"))))
    assert revisions, "no migrations found"
    with migrations_app.app_context():
        for revision in revisions:
            flask_migrate.upgrade(revision=revision.revision)
            flask_migrate.downgrade(revision=revision.down_revision or "base")
            assert current_revisions() == ({revision.down_revision} if revision.down_revision else set()), (
                f"downgrade of {revision.revision} left the database elsewhere"
            )
            flask_migrate.upgrade(revision=revision.revision)
        flask_migrate.downgrade(revision="base")
        leftover = set(inspect(db.engine).get_table_names()) - {"alembic_version"}
        assert leftover == set(), f"downgrading to base left tables behind: {sorted(leftover)}"
        flask_migrate.upgrade()
        assert schema_differences() == []


def test_a_model_change_without_its_migration_is_detected(migrations_app):
    """The comparison above is not blind: a column the migrations lack shows up as a difference."""
    _import_every_model()
    changed = MetaData(naming_convention=dict(Base.metadata.naming_convention))
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["codes"].append_column(Column("campaign", Integer, nullable=True))
    with migrations_app.app_context():
        flask_migrate.upgrade()
        differences = schema_differences(changed)
    assert [(diff[0], diff[3].name) for diff in differences if diff[0] == "add_column"] == [
        ("add_column", "campaign")
    ]


def _migration_lock_key() -> int:
    match = re.search(r"^MIGRATION_LOCK_KEY = ([0-9_]+)$", (MIGRATIONS / "env.py").read_text(), re.M)
    assert match, "migrations/env.py defines MIGRATION_LOCK_KEY"
    return int(match[1])


@pytest.mark.slow
@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
def test_api_replicas_starting_together_migrate_once(empty_database_url):
    """API replicas that start together each run `flask db upgrade`: on PostgreSQL they queue on
    an advisory lock, and the second finds the schema the first built (SQLite serves one host).

    The test holds the lock until both upgrades wait for it, then lets them race.
    """
    key = _migration_lock_key()
    env = subprocess_env(DATABASE_URL=empty_database_url)
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"]
    admin_url = make_url(empty_database_url).set(drivername="postgresql")
    with psycopg.connect(admin_url.render_as_string(hide_password=False), autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (key,))
        processes = [
            subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        deadline = time.monotonic() + 90
        while True:
            (waiting,) = gate.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ).fetchone()
            if waiting == 2:
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                for process in processes:
                    process.kill()
                outputs = [process.communicate()[1].decode()[-1500:] for process in processes]
                pytest.fail(f"the upgrades did not wait for the migration lock: {outputs}")
            time.sleep(0.05)
        gate.execute("SELECT pg_advisory_unlock(%s)", (key,))
    results = [process.communicate(timeout=90) for process in processes]
    for process, (_out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err.decode()[-2000:]
    ran = sum(err.decode().count("Running upgrade") for _out, err in results)
    assert ran == len(list(_script().walk_revisions("base", "heads")))
