"""What bluegreen needs to know about a SQLite database and its tables: the connection,
the table's CREATE statement, columns, primary key, indexes and triggers."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from bluegreen.core import naming
from bluegreen.engines.sqlite.state import DEFAULT_BUSY_TIMEOUT_MS
from bluegreen.errors import BadUrl, BluegreenError, TableRefused


def database_path(url: str) -> str:
    from bluegreen.engines.urls import parse

    parsed = parse(url)
    if parsed.get_backend_name() != "sqlite":
        raise BadUrl(url, "not a SQLite URL")
    if not parsed.database or parsed.database == ":memory:":
        raise BadUrl(url, "give a file: sqlite:///path/to/app.db")
    return parsed.database


def connect(url: str, *, create: bool = False) -> sqlite3.Connection:
    """Open the database file; a missing file is an error unless ``create`` (a typo in the
    path must not quietly make a new, empty database)."""
    path = database_path(url)
    if not Path(path).parent.exists():
        raise BluegreenError(f"the folder {Path(path).parent} of the SQLite database does not "
                             "exist; create it or fix the path in --database-url")
    if not create and not Path(path).exists():
        raise BluegreenError(f"no SQLite database at {Path(path).resolve()}; check the path in "
                             "--database-url (sqlite:///relative/path.db or "
                             "sqlite:////absolute/path.db)")
    conn = sqlite3.connect(path, isolation_level=None, timeout=30, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={DEFAULT_BUSY_TIMEOUT_MS}")
    try:
        # WAL lets the app read while bluegreen writes. Switching needs the database to
        # itself, so `init` does it while things are quiet; here it is only a best effort.
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        pass
    return conn


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def now() -> str:
    """The current time as bluegreen's SQLite state stores it."""
    return datetime.now(timezone.utc).isoformat()


def names_for(table: str, migration_id: int | str) -> tuple[str, str, str]:
    n = naming.names(table, migration_id, queue_prefix="bluegreen_queue_")
    return n.shadow, n.old, n.queue


def table_sql(conn: sqlite3.Connection, table: str) -> str:
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                       (table,)).fetchone()
    if row is None:
        raise TableRefused(f"table {table} does not exist; check the name with .tables")
    return row[0]


def columns(conn: sqlite3.Connection, table: str) -> list[tuple[str, str, bool, bool]]:
    """(name, type, not null, generated) of each column."""
    out = []
    for _, name, type_, notnull, _, _, hidden in conn.execute(
            f"PRAGMA table_xinfo({q(table)})"):
        out.append((name, type_ or "", bool(notnull), hidden in (2, 3)))
    return out


def primary_key(conn: sqlite3.Connection, table: str) -> list[str]:
    rows = [(pk, name) for _, name, _, _, _, pk in conn.execute(f"PRAGMA table_info({q(table)})")
            if pk]
    return [name for _, name in sorted(rows)]


def user_objects(conn: sqlite3.Connection, table: str, kind: str) -> list[tuple[str, str]]:
    """(name, sql) of the table's indexes or triggers, bluegreen's own left out."""
    return [(n, s) for n, s in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = ? AND tbl_name = ? AND sql IS NOT "
        "NULL AND name NOT LIKE 'bluegreen%' AND name NOT LIKE '\\_bg%' ESCAPE '\\'",
        (kind, table))]


def _rename_in_create(sql: str, old: str, new: str) -> str:
    """CREATE TABLE/INDEX ... <old> ... with the table name replaced (first occurrence after
    TABLE or ON)."""
    pattern = re.compile(r'(\b(?:TABLE|ON)\s+)("?)' + re.escape(old) + r'\2(?=\s|\()',
                         re.IGNORECASE)
    return pattern.sub(lambda m: m.group(1) + q(new), sql, count=1)


def schema_ddl(conn: sqlite3.Connection) -> str:
    """The CREATE statements of the app's tables and indexes (bluegreen's own left out)."""
    return ";\n".join(r[0] for r in conn.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND type IN ('table', 'index') "
        "AND name NOT LIKE 'sqlite%' AND name NOT LIKE 'bluegreen%' AND name NOT LIKE "
        "'\\_bg%' ESCAPE '\\'"))
