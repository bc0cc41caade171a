"""PostgreSQL: introspection for the planner."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bluegreen.planner.schema import (
    ColumnInfo,
    ConstraintInfo,
    IndexInfo,
    Schema,
    TableInfo,
    normalize_name,
)
from bluegreen.planner.types import parse_type

_USER_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'bluegreen') " \
                "AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'"
_QUALIFIED = "CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || " \
             "c.relname END"


def server_version(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SHOW server_version_num").scalar() or 0) // 10000


def introspect(conn: Connection) -> Schema:
    """Tables, columns, constraints, indexes, enums and sizes of every user schema."""
    schema = Schema(known=True)
    for name, kind, rows, size in conn.execute(sa.text(f"""
            SELECT {_QUALIFIED}, c.relkind, c.reltuples::bigint, pg_total_relation_size(c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND {_USER_SCHEMAS}""")):
        schema.tables[normalize_name(name)] = TableInfo(
            name=normalize_name(name), rows=max(int(rows), 0), size_bytes=int(size),
            partitioned=kind == "p")
    for table, column, type_, notnull, default, generated, identity in conn.execute(sa.text(f"""
            SELECT {_QUALIFIED}, a.attname, format_type(a.atttypid, a.atttypmod),
                   a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attgenerated,
                   a.attidentity
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
              AND {_USER_SCHEMAS}
            ORDER BY a.attnum""")):
        info = schema.tables.get(normalize_name(table))
        if info is not None:
            info.columns[column.lower()] = ColumnInfo(
                name=column.lower(), type=parse_type(type_), nullable=not notnull,
                default=None if generated else default, generated=bool(generated),
                identity=bool(identity))
    kinds = {"p": "primary", "u": "unique", "c": "check", "f": "foreign", "x": "exclude"}
    for table, name, kind, valid, definition, columns, referred in conn.execute(sa.text(f"""
            SELECT {_QUALIFIED}, con.conname, con.contype, con.convalidated,
                   pg_get_constraintdef(con.oid),
                   ARRAY(SELECT attname FROM pg_attribute
                         WHERE attrelid = con.conrelid AND attnum = ANY(con.conkey)),
                   con.confrelid::regclass::text
            FROM pg_constraint con
            JOIN pg_class c ON c.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {_USER_SCHEMAS}""")):
        info = schema.tables.get(normalize_name(table))
        if info is None or kind not in kinds:
            continue
        expression = None
        if kind == "c" and definition.upper().startswith("CHECK"):
            expression = definition[len("CHECK"):].replace(" NOT VALID", "").strip()
        info.constraints[name.lower()] = ConstraintInfo(
            name.lower(), kinds[kind], [c.lower() for c in columns], valid=bool(valid),
            expression=expression,
            referred_table=normalize_name(referred) if referred and referred != "-" else None)
    for table, index, unique, columns in conn.execute(sa.text(f"""
            SELECT {_QUALIFIED}, i.relname, x.indisunique,
                   ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true)
                         FROM generate_series(1, x.indnkeyatts) AS k ORDER BY k)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class c ON c.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE {_USER_SCHEMAS}""")):
        schema.indexes[normalize_name(index)] = IndexInfo(
            normalize_name(index), normalize_name(table), [c.lower() for c in columns],
            bool(unique))
    for name, labels in conn.execute(sa.text(f"""
            SELECT CASE WHEN n.nspname = 'public' THEN t.typname
                        ELSE n.nspname || '.' || t.typname END,
                   ARRAY(SELECT enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid
                         ORDER BY e.enumsortorder)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE t.typtype = 'e' AND {_USER_SCHEMAS}""")):
        schema.enums[normalize_name(name)] = list(labels)
    for name, in conn.execute(sa.text(f"""
            SELECT {_QUALIFIED} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('v', 'm') AND {_USER_SCHEMAS}""")):
        schema.views[normalize_name(name)] = []
    return schema
