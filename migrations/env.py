import logging

from alembic import context
from flask import current_app
from sqlalchemy import text

from shared.logging import configure_logging

# Any fixed number: the advisory lock that serialises concurrent upgrades on PostgreSQL.
MIGRATION_LOCK_KEY = 720_503_011

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Log as the services do (JSON lines, shared.logging), unless the caller (a test, a process
# that set up its logging) already did; never disable the loggers that exist.
# LOG_LEVEL applies as everywhere (make run migrates at WARNING: only what went wrong).
if not logging.getLogger().handlers:
    configure_logging("migrations", current_app.config["SETTINGS"].log_level)
logger = logging.getLogger("alembic.env")


def get_engine():
    # Flask-SQLAlchemy >= 3 (its get_engine() is deprecated).
    return current_app.extensions["migrate"].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace("%", "%%")
    except AttributeError:
        return str(get_engine().url).replace("%", "%%")


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option("sqlalchemy.url", get_engine_url())
target_db = current_app.extensions["migrate"].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def get_metadata():
    if hasattr(target_db, "metadatas"):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True)

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = current_app.extensions["migrate"].configure_args
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            _sqlite_foreign_keys(connection, on=False)
        try:
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    # API replicas that start together each run `flask db upgrade`: one at a time,
                    # and the next one sees the revision the first left (the lock ends with the
                    # transaction).
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                context.run_migrations()
                if sqlite:
                    _check_sqlite_foreign_keys(connection)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


# SQLite: batch mode changes a table by copying it and dropping the original. With foreign keys
# on, DROP TABLE first deletes every row, and the deletes cascade: rebuilding `codes` would
# delete every claim. So foreign keys are off while migrations run (the pragma is ignored inside
# a transaction: it is set on the driver's connection, before one begins), every reference is
# checked once they ran, and foreign keys are on again after.
def _sqlite_foreign_keys(connection, *, on: bool) -> None:
    connection.connection.dbapi_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_sqlite_foreign_keys(connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows whose references are broken: {broken[:10]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
