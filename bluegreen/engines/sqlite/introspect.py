"""The planner's view of a SQLite database: its schema, read from the CREATE statements
SQLite keeps (parsed with PostgreSQL's grammar, SQLite's own keywords blanked)."""

from __future__ import annotations

import sqlite3

from bluegreen.core.apply.sqltext import sqlite_text
from bluegreen.engines.sqlite.catalog import schema_ddl
from bluegreen.planner.schema import Schema


def introspect(conn: sqlite3.Connection, description: str) -> Schema:
    from bluegreen.planner.sources.sql import parse_sql

    schema = Schema(known=True, description=description)
    for statement in parse_sql(sqlite_text(schema_ddl(conn)), "sqlite schema"):
        for op in statement.ops:
            schema.apply(op, in_migration=False)
    return schema
