"""What the copier needs to know about a live table, read from the PostgreSQL catalog."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from bluegreen.core import naming
from bluegreen.errors import BluegreenError, TableRefused, TableReplaced  # noqa: F401

STATE_SCHEMA = "bluegreen"
NAME_LIMIT = 63  # PostgreSQL cuts identifiers to 63 bytes


def _split_name(text: str) -> list[str] | None:
    """``schema.table`` into its parts, SQL-style: a double-quoted part is taken as written
    (dots and doubled quotes inside it included); None when the quotes do not close."""
    parts: list[str] = []
    current = ""
    i = 0
    while i < len(text):
        char = text[i]
        if char == '"':
            end = i + 1
            while True:
                if end >= len(text):
                    return None
                if text[end] == '"':
                    if text[end + 1:end + 2] == '"':
                        current += '"'
                        end += 2
                        continue
                    break
                current += text[end]
                end += 1
            i = end + 1
        elif char == ".":
            parts.append(current.strip())
            current = ""
            i += 1
        else:
            current += char
            i += 1
    parts.append(current.strip())
    return parts


def _key_part(name: str) -> str:
    if not name or any(c in name for c in '."') or name != name.strip():
        return '"' + name.replace('"', '""') + '"'
    return name


@dataclass(frozen=True)
class TableRef:
    schema: str
    name: str

    @classmethod
    def parse(cls, text: str) -> TableRef:
        """TABLE, SCHEMA.TABLE, or either part double-quoted (``'"we.ird"'`` is one table
        named we.ird). Unquoted parts are taken as written."""
        parts = _split_name(text.strip())
        if parts is not None and len(parts) == 1 and parts[0]:
            return cls("public", parts[0])
        if parts is not None and len(parts) == 2 and all(parts):
            return cls(parts[0], parts[1])
        raise BluegreenError(f"{text!r} is not a table name; give TABLE or SCHEMA.TABLE "
                             '(double-quote a name that holds a dot: \'"we.ird"\')')

    @property
    def key(self) -> str:
        """How bluegreen's state names the table (``parse(key)`` gives it back)."""
        name = _key_part(self.name)
        return name if self.schema == "public" else f"{_key_part(self.schema)}.{name}"

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def sibling(self, name: str) -> TableRef:
        return TableRef(self.schema, name[:63])

    def text(self, conn: psycopg.Connection) -> str:
        return self.ident.as_string(conn)


def names_for(ref: TableRef, migration_id: int) -> tuple[TableRef, TableRef, TableRef]:
    """(shadow, old, queue) for a migration."""
    n = naming.names(ref.name, migration_id, limit=NAME_LIMIT)
    return ref.sibling(n.shadow), ref.sibling(n.old), TableRef(STATE_SCHEMA, n.queue)


def current_oid(conn: psycopg.Connection, ref: TableRef) -> int | None:
    """The OID of the relation that has this name now, or None."""
    return conn.execute("SELECT to_regclass(%s)::oid", (ref.text(conn),)).fetchone()[0]



def check_identity(conn: psycopg.Connection, record, action: str) -> None:
    """Refuse to go on when a table under one of the migration's names is not the table the
    migration recorded when it started: names can be reused, OIDs cannot."""
    if record.live_oid is None:
        return  # recorded before bluegreen kept OIDs
    ref = TableRef.parse(record.table_name)
    shadow, old, _ = names_for(ref, record.id)
    if record.state == "cut_over":
        expected = [(ref, record.shadow_oid, "the new table"), (old, record.live_oid,
                                                                "the old table")]
    else:
        expected = [(ref, record.live_oid, "the live table"), (shadow, record.shadow_oid,
                                                               "the shadow")]
    for table, oid, role in expected:
        if oid is None:
            continue
        now = current_oid(conn, table)
        if now != oid:
            what = ("no longer exists" if now is None else
                    "is not the table this migration started with (it was dropped and "
                    "re-created, or renamed, since)")
            raise TableReplaced(
                f"cannot {action} {record.table_name}: {table.key} ({role}) {what}; nothing "
                f"was changed. Run `bluegreen abort {record.table_name}` to drop what bluegreen "
                "made for this migration, then start again with `bluegreen copy`")


@dataclass
class Column:
    name: str
    type: str
    not_null: bool
    generated: bool
    identity: str  # '' | 'a' | 'd'


@dataclass
class TableFacts:
    ref: TableRef
    oid: int
    columns: list[Column]
    primary_key: list[str]
    rows_estimate: int
    size_bytes: int
    index_defs: list[tuple[str, str]] = field(default_factory=list)  # (name, CREATE INDEX)
    constraint_defs: list[tuple[str, str, str]] = field(default_factory=list)  # name, type, def
    pk_name: str | None = None
    self_fks: set[str] = field(default_factory=set)  # foreign keys to the table itself

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def pk_types(self) -> list[str]:
        return [self.column(k).type for k in self.primary_key]


def read_table(conn: psycopg.Connection, ref: TableRef, *, for_copy: bool = True) -> TableFacts:
    row = conn.execute(
        "SELECT c.oid, c.relkind, c.reltuples::bigint, pg_total_relation_size(c.oid), "
        "EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid OR inhparent = c.oid) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relname = %s", (ref.schema, ref.name)).fetchone()
    if row is None:
        raise TableRefused(f"table {ref.key} does not exist; check the name (and schema) "
                           "with \\dt")
    oid, kind, rows, size, inherited = row
    if for_copy and kind == "p":
        raise TableRefused(f"{ref.key} is partitioned; bluegreen copies plain tables only: "
                           "migrate each partition, or use pg_repack")
    if for_copy and kind != "r":
        raise TableRefused(f"{ref.key} is not a table (relkind {kind})")
    if for_copy and inherited:
        raise TableRefused(f"{ref.key} takes part in table inheritance; bluegreen cannot copy "
                           "it safely")
    columns = [Column(*r) for r in conn.execute(
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull, attgenerated <> '', "
        "attidentity FROM pg_attribute WHERE attrelid = %s AND attnum > 0 AND NOT "
        "attisdropped ORDER BY attnum", (oid,))]
    pk_row = conn.execute(
        "SELECT ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(n, o) "
        "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o), "
        "con.conname "
        "FROM pg_constraint con WHERE con.conrelid = %s AND con.contype = 'p'",
        (oid,)).fetchone()
    if for_copy and pk_row is None:
        raise TableRefused(f"{ref.key} has no primary key; bluegreen needs one to copy in "
                           "chunks and replay changes: add one first")
    index_defs = conn.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s AND NOT x.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
        "ORDER BY i.relname", (oid,)).fetchall()
    constraint_rows = conn.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid), confrelid = conrelid "
        "FROM pg_constraint WHERE conrelid = %s AND contype IN ('u', 'f', 'x') "
        "ORDER BY conname", (oid,)).fetchall()
    return TableFacts(ref=ref, oid=oid, columns=columns,
                      primary_key=list(pk_row[0]) if pk_row else [],
                      rows_estimate=max(int(rows), 0), size_bytes=int(size),
                      index_defs=list(index_defs),
                      constraint_defs=[(n, k, d) for n, k, d, _ in constraint_rows],
                      pk_name=pk_row[1] if pk_row else None,
                      self_fks={n for n, k, _, own in constraint_rows if k == "f" and own})


def render(conn: psycopg.Connection | None, statement: sql.Composable | str) -> str:
    return statement if isinstance(statement, str) else statement.as_string(conn)
