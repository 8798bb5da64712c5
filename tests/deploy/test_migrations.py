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
from sqlalchemy import Column, Integer, MetaData, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

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


def _insert_code(connection, code: str, code_type: str, **columns) -> None:
    values = {"project_id": 1, "code": code, "type": code_type, **columns}
    names = ", ".join(values)
    connection.execute(
        text(
            f"INSERT INTO codes ({names}, allowed_claims, claims, created_at, updated_at)"
            f" VALUES ({', '.join(':' + name for name in values)}, 1, 0, :now, :now)"
        ),
        {**values, "now": "2030-01-01 00:00:00"},
    )


def test_the_batches_revision_admits_custom_codes_and_guards_assignments(migrations_app, caplog):
    """What autogenerate cannot compare: CHECK constraints and the WHERE of partial indexes; and
    rebuilding `codes` on SQLite keeps the rows that refer to it (migrations/env.py)."""
    with migrations_app.app_context():
        flask_migrate.upgrade(revision="c5d8e1f7a2b3")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO projects (name, public_key_digest, secret_key_digest, allowed_origins,"
                    " created_at) VALUES ('p', 'a', 'b', '[]', '2030-01-01 00:00:00')"
                )
            )
            _insert_code(connection, "claimed", "creative")
            connection.execute(
                text(
                    "INSERT INTO claims (code_id, project_id, email, claimed_at)"
                    " SELECT id, 1, 'a@example.com', created_at FROM codes"
                )
            )
        with pytest.raises(IntegrityError), db.engine.begin() as connection:
            _insert_code(connection, "mine", "custom")
        flask_migrate.upgrade(revision="c3e8f1a2b4d6")
        # SQLite rebuilt the table: the claims that refer to its rows are still there.
        with db.engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM claims")).scalar() == 1
        with db.engine.begin() as connection:
            _insert_code(connection, "mine", "custom")
            _insert_code(
                connection,
                "123456",
                "numeric",
                batch="b",
                assigned_email="a@example.com",
                assigned_at="2030-01-01",
            )
        # An assignment outside a batch, and a second code for the same email in the batch.
        with pytest.raises(IntegrityError), db.engine.begin() as connection:
            _insert_code(
                connection,
                "curious-cat",
                "creative",
                assigned_email="a@example.com",
                assigned_at="2030-01-01",
            )
        with pytest.raises(IntegrityError), db.engine.begin() as connection:
            _insert_code(
                connection,
                "abc123",
                "alphanumeric",
                batch="b",
                assigned_email="a@example.com",
                assigned_at="2030-01-01",
            )
        indexes = {index["name"]: index for index in inspect(db.engine).get_indexes("codes")}
        for name in ("ix_codes_unassigned", "uq_codes_project_id_batch_assigned_email"):
            where = indexes[name]["dialect_options"].get(f"{db.engine.dialect.name}_where")
            assert where is not None and "NULL" in str(where).upper(), indexes[name]
        # Custom codes exist: going back would break the old constraint, so it is refused.
        with pytest.raises(SystemExit):  # Flask-Migrate's way of failing a command
            flask_migrate.downgrade(revision="c5d8e1f7a2b3")
        assert "1 custom (imported) codes exist" in caplog.text
        assert current_revisions() == {"c3e8f1a2b4d6"}
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM codes WHERE type = 'custom'"))
        flask_migrate.downgrade(revision="c5d8e1f7a2b3")
        with pytest.raises(IntegrityError), db.engine.begin() as connection:
            _insert_code(connection, "mine", "custom")


def test_upgrading_a_database_in_use_keeps_every_row(migrations_app):
    """From the first revision to head with data in it: no migration may lose a row. (On SQLite,
    batch mode rebuilds a table by dropping it, which with foreign keys on deletes every row that
    refers to it: migrations/env.py turns them off while migrating.)"""
    first = _script().get_base()
    with migrations_app.app_context():
        flask_migrate.upgrade(revision=first)
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO projects (name, public_key_digest, secret_key_digest, allowed_origins,"
                    " created_at) VALUES ('in use', 'a', 'b', '[]', '2030-01-01 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO codes (project_id, code, type, allowed_claims, claims, created_at,"
                    " updated_at) SELECT id, 'abc', 'creative', 2, 1, created_at, created_at FROM projects"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO claims (code_id, project_id, email, claimed_at)"
                    " SELECT id, project_id, 'a@example.com', created_at FROM codes"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO guilds (guild_id, project_id, linked_at)"
                    " SELECT 42, id, created_at FROM projects"
                )
            )
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            counts = {
                table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("projects", "codes", "claims", "guilds")
            }
    assert counts == {"projects": 1, "codes": 1, "claims": 1, "guilds": 1}


def test_the_type_index_built_ahead_by_hand_is_kept(migrations_app):
    """docs/deploy.md: a large deployment builds ix_codes_project_id_type first (CONCURRENTLY on
    PostgreSQL); the migration that adds it then finds it and carries on."""
    _import_every_model()
    with migrations_app.app_context():
        flask_migrate.upgrade(revision="5e90eb7e9699")
        with db.engine.begin() as connection:
            connection.execute(text("CREATE INDEX ix_codes_project_id_type ON codes (project_id, type)"))
        flask_migrate.upgrade()
        assert current_revisions() == {_script().get_current_head()}
        assert schema_differences() == []
