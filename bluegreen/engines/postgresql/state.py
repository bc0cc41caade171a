"""bluegreen's state on PostgreSQL: the tables live in schema ``bluegreen``; the stores
(bluegreen.core.state, bluegreen.core.apply.store) reach them through ``PgDb``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from bluegreen.core.db import UniqueConflict
from bluegreen.core.state import MigrationStore

STATE_SCHEMA = "bluegreen"


class PgDb:
    """A psycopg connection (autocommit) as the stores' ``Db``."""

    prefix = f"{STATE_SCHEMA}."
    now = "now()"

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(sql.replace("?", "%s"), params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        try:
            return self.conn.execute(sql.replace("?", "%s"), params).rowcount
        except psycopg.errors.UniqueViolation:
            raise UniqueConflict() from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.conn.transaction():
            yield

    def state_revision(self) -> str | None:
        row = self.conn.execute(f"SELECT to_regclass('{STATE_SCHEMA}.alembic_version')"
                                ).fetchone()
        if row is None or row[0] is None:
            return None
        version = self.conn.execute(f"SELECT version_num FROM {STATE_SCHEMA}.alembic_version"
                                    ).fetchone()
        return version[0] if version else None


def store(conn: psycopg.Connection) -> MigrationStore:
    """The migration store on ``conn``, checked (see MigrationStore.checked)."""
    return MigrationStore.checked(PgDb(conn))


def prepare_state_schema(connection: Any) -> dict[str, Any]:
    """For ``bluegreen init`` (a SQLAlchemy connection in the init's transaction): the
    schema, and one init at a time."""
    # CREATE SCHEMA needs CREATE on the database even when the schema exists: a role that
    # an admin gave a ready schema must not need it.
    if connection.exec_driver_sql(f"SELECT to_regnamespace('{STATE_SCHEMA}')").scalar() is None:
        connection.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
    # A second init at the same time waits, then finds the work done.
    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('bluegreen.init'))")
    return {"version_table_schema": STATE_SCHEMA}
