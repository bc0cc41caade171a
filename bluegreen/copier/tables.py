"""What the copier needs to know about a live table, read from the PostgreSQL catalog."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from bluegreen.errors import BluegreenError, TableRefused  # noqa: F401


@dataclass(frozen=True)
class TableRef:
    schema: str
    name: str

    @classmethod
    def parse(cls, text: str) -> TableRef:
        parts = [p.strip().strip('"') for p in text.split(".")]
        if len(parts) == 1:
            return cls("public", parts[0])
        if len(parts) == 2 and all(parts):
            return cls(parts[0], parts[1])
        raise BluegreenError(f"{text!r} is not a table name; give TABLE or SCHEMA.TABLE")

    @property
    def key(self) -> str:
        """How bluegreen's state names the table."""
        return self.name if self.schema == "public" else f"{self.schema}.{self.name}"

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def sibling(self, name: str) -> TableRef:
        return TableRef(self.schema, name[:63])

    def text(self, conn: psycopg.Connection) -> str:
        return self.ident.as_string(conn)


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

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def pk_types(self) -> list[str]:
        return [self.column(k).type for k in self.primary_key]  # type: ignore[union-attr]


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
    constraint_defs = conn.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s AND contype IN ('u', 'f', 'x') ORDER BY conname", (oid,)).fetchall()
    return TableFacts(ref=ref, oid=oid, columns=columns,
                      primary_key=list(pk_row[0]) if pk_row else [],
                      rows_estimate=max(int(rows), 0), size_bytes=int(size),
                      index_defs=list(index_defs), constraint_defs=list(constraint_defs),
                      pk_name=pk_row[1] if pk_row else None)
