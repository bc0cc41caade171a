"""Create or upgrade bluegreen's state tables with Alembic (``bluegreen init``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

STATE_SCHEMA = "bluegreen"


def migrations_dir() -> Path:
    return Path(str(resources.files("bluegreen._migrations")))


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_sqlite_revision(conn) -> str | None:
    """The state revision in a SQLite database (a sqlite3 connection)."""
    row = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = "
                       "'bluegreen_alembic_version'").fetchone()
    if row is None:
        return None
    version = conn.execute("SELECT version_num FROM bluegreen_alembic_version").fetchone()
    return version[0] if version else None


def current_revision(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT to_regclass('bluegreen.alembic_version')").fetchone()
    if row is None or row[0] is None:
        return None
    version = conn.execute("SELECT version_num FROM bluegreen.alembic_version").fetchone()
    return version[0] if version else None


def upgrade(url) -> tuple[str | None, str]:
    """Bring the state schema to the head revision; returns (before, after). Idempotent."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                opts = {"version_table": "bluegreen_alembic_version"}
            else:
                # CREATE SCHEMA needs CREATE on the database even when the schema exists: a
                # role that an admin gave a ready schema must not need it.
                if connection.exec_driver_sql(
                        f"SELECT to_regnamespace('{STATE_SCHEMA}')").scalar() is None:
                    connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
                # One init at a time: a second concurrent init waits, then finds it done.
                connection.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock(hashtext('bluegreen.init'))")
                opts = {"version_table_schema": STATE_SCHEMA}
            before = MigrationContext.configure(connection, opts=opts).get_current_revision()
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
    return before, head_revision()
