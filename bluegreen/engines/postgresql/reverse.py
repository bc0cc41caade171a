"""Reverse sync: after cutover, a trigger on the new live table applies every write to the
old table in the same transaction, so a rollback loses nothing.

- An update changes only the columns the new table maps back to the old one: a column the
  alter dropped keeps its value in the old table (a key change moves the row with it).
- A value the old shape cannot hold exactly (too long, out of range, rounded away by the
  cast back) is never written cut: the write to the old table is skipped and its key
  recorded in ``bluegreen.unsynced_<id>``; rollback refuses while any are left. A later
  write of the same key that fits clears it.
- The trigger functions run as their owner (SECURITY DEFINER): the app's role needs no
  rights on the old table or on bluegreen's schema.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from bluegreen.core.state import MigrationRecord
from bluegreen.engines.postgresql import capture
from bluegreen.engines.postgresql.catalog import TableFacts, TableRef, render
from bluegreen.engines.postgresql.shadow import parse_alter, reverse_source_names


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def unsynced_table(record: MigrationRecord) -> TableRef:
    return TableRef("bluegreen", f"unsynced_{record.id}")


def _function(record: MigrationRecord) -> sql.Identifier:
    return sql.Identifier("bluegreen", f"reverse_{record.id}")


def _trigger(record: MigrationRecord) -> sql.Identifier:
    return sql.Identifier(f"bluegreen_reverse_{record.id}")


def _truncate_function(record: MigrationRecord) -> sql.Identifier:
    return sql.Identifier("bluegreen", f"reverse_{record.id}_truncate")


def _truncate_trigger(record: MigrationRecord) -> sql.Identifier:
    return sql.Identifier(f"bluegreen_reverse_truncate_{record.id}")


@dataclass
class ReverseColumn:
    """One old column and how its value comes back from the new row."""

    name: str  # in the old table
    value: str  # expression over NEW
    check: str | None = None  # true when the value would not come back exactly
    identity_always: bool = False  # GENERATED ALWAYS: set on insert only


@dataclass
class ReverseMapping:
    columns: list[ReverseColumn]
    missing: list[str]  # NOT NULL old columns with no default that nothing maps back to
    unmapped: list[str]  # old columns the new table does not have: kept as they are
    warnings: list[str]


def _compiles(conn: psycopg.Connection, expression: str) -> bool:
    """Whether an expression is valid SQL here (a cast exists, an equality exists)."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(f"EXPLAIN SELECT {expression}")
    except psycopg.Error:
        return False
    return True


def reverse_mapping(conn: psycopg.Connection, old: TableFacts, new: TableFacts,
                    alter_sql: str) -> ReverseMapping:
    """How each old column is computed from a row of the new table."""
    spec = parse_alter(alter_sql, old)
    renames = reverse_source_names(spec)
    with_default = {r[0] for r in conn.execute(
        "SELECT a.attname FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid "
        "AND a.attnum = d.adnum WHERE d.adrelid = %s", (old.oid,))}
    out = ReverseMapping([], [], [], [])
    for column in old.columns:
        if column.generated:
            continue
        target = renames.get(column.name)
        target_col = new.column(target) if target else None
        if target_col is None:
            out.unmapped.append(column.name)
            if column.not_null and not column.identity and column.name not in with_default:
                out.missing.append(column.name)
            continue
        value = f"NEW.{ident(target)}"
        check = None
        if target_col.type != column.type:
            cast = f"CAST({value} AS {column.type})"
            probe_new = f"NULL::{target_col.type}"
            probe_back = f"CAST({probe_new} AS {column.type})"
            if not _compiles(conn, probe_back):
                out.unmapped.append(column.name)
                out.warnings.append(
                    f"{column.name}: no cast from {target_col.type} back to {column.type}, so "
                    "writes after cutover leave it as it was in the old table")
                if column.not_null and column.name not in with_default:
                    out.missing.append(column.name)
                continue
            value = cast
            # The value must survive the trip back and forth: a cast that cuts (varchar(n)),
            # rounds (numeric scale) or overflows is caught, not written.
            round_trip = f"CAST(CAST({probe_new} AS {column.type}) AS {target_col.type}) " \
                         f"IS DISTINCT FROM {probe_new}"
            if _compiles(conn, round_trip):
                check = f"CAST({cast} AS {target_col.type}) IS DISTINCT FROM NEW.{ident(target)}"
            else:
                out.warnings.append(
                    f"{column.name}: values cast back from {target_col.type} to {column.type} "
                    "cannot be compared, so a value that does not fit may change in the old "
                    "table")
        out.columns.append(ReverseColumn(column.name, value, check, column.identity == "a"))
    return out


def reverse_sync_ddl(conn, record: MigrationRecord, new_live: TableRef, old: TableRef,
                     old_facts: TableFacts, mapping: ReverseMapping) -> list[str]:
    """The trigger on the new live table that applies every write to the old table."""
    old_pk = old_facts.primary_key
    spec = parse_alter(record.alter_sql, old_facts)
    renames = reverse_source_names(spec)
    new_pk = [renames[k] for k in old_pk]
    old_name = old.text(conn)

    def match(row: str) -> str:
        return " AND ".join(f"{ident(o)} = {row}.{ident(n)}"
                            for o, n in zip(old_pk, new_pk, strict=True))

    columns = mapping.columns
    targets = ", ".join(ident(c.name) for c in columns)
    values = ", ".join(c.value for c in columns)
    settable = [c for c in columns if c.name not in old_pk and not c.identity_always]
    unmapped = [ident(c) for c in mapping.unmapped]
    checks = [c for c in columns if c.check]
    unsynced = unsynced_table(record).text(conn)
    key_cols = ", ".join(ident(k) for k in new_pk)
    new_keys = ", ".join(f"NEW.{ident(k)}" for k in new_pk)
    old_keys = ", ".join(f"OLD.{ident(k)}" for k in new_pk)
    key_types = ", ".join(f"{ident(k)} {t}" for k, t in zip(new_pk, old_facts.pk_types(),
                                                             strict=True))
    if settable:
        update = (f"    UPDATE {old_name} SET ({', '.join(ident(c.name) for c in settable)}) = "
                  f"ROW({', '.join(c.value for c in settable)}) WHERE {match('OLD')};\n")
    else:
        update = f"    PERFORM 1 FROM {old_name} WHERE {match('OLD')};\n"
    if unmapped:
        move = (f"    WITH gone AS (DELETE FROM {old_name} WHERE {match('OLD')} RETURNING "
                f"{', '.join(unmapped)})\n"
                f"    INSERT INTO {old_name} ({targets}, {', '.join(unmapped)}) OVERRIDING "
                f"SYSTEM VALUE SELECT {values}, {', '.join('gone.' + u for u in unmapped)} "
                "FROM gone;\n")
    else:
        move = f"    DELETE FROM {old_name} WHERE {match('OLD')};\n" \
               f"    INSERT INTO {old_name} ({targets}) OVERRIDING SYSTEM VALUE VALUES " \
               f"({values});\n"
    type_of = {c.name: c.type for c in old_facts.columns}

    def refuse(column: ReverseColumn) -> str:
        message = sql.Literal(f"value of {column.name} does not fit the old type "
                              f"{type_of[column.name]}")
        return (f"  IF {column.check} THEN\n    RAISE EXCEPTION '%', {render(conn, message)} "
                "USING ERRCODE = 'data_exception';\n  END IF;\n")

    check = "".join(refuse(c) for c in checks)
    body = (
        "BEGIN\n"
        "  IF TG_OP = 'DELETE' THEN\n"
        f"    DELETE FROM {old_name} WHERE {match('OLD')};\n"
        "    RETURN NULL;\n"
        "  END IF;\n"
        + check +
        f"  IF TG_OP = 'UPDATE' AND ({new_keys}) IS NOT DISTINCT FROM ({old_keys}) THEN\n"
        + update +
        "  ELSIF TG_OP = 'UPDATE' THEN\n"
        "    -- the key changed: move the row, keeping the columns only the old table has\n"
        + move +
        "  END IF;\n"
        "  IF TG_OP = 'INSERT' OR NOT FOUND THEN\n"
        f"    INSERT INTO {old_name} ({targets}) OVERRIDING SYSTEM VALUE VALUES ({values});\n"
        "  END IF;\n"
        f"  DELETE FROM {unsynced} WHERE ({key_cols}) IN (({new_keys}), ({old_keys}));\n"
        "  RETURN NULL;\n"
        "EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN\n"
        "  IF TG_OP = 'DELETE' THEN\n"
        f"    INSERT INTO {unsynced} ({key_cols}, error) VALUES ({old_keys}, SQLERRM);\n"
        "  ELSE\n"
        f"    INSERT INTO {unsynced} ({key_cols}, error) VALUES ({new_keys}, SQLERRM);\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END")
    truncate_body = f"BEGIN\n  TRUNCATE {old_name};\n  RETURN NULL;\nEND"
    return [
        render(conn, capture.trigger_function_ddl(_truncate_function(record), truncate_body)),
        render(conn, capture.revoke_ddl(_truncate_function(record))),
        render(conn, sql.SQL("CREATE TRIGGER {} AFTER TRUNCATE ON {} FOR EACH STATEMENT EXECUTE "
                         "FUNCTION {}()").format(_truncate_trigger(record), new_live.ident,
                                                 _truncate_function(record))),
        render(conn, sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, error text, at timestamptz "
                         "NOT NULL DEFAULT now())").format(unsynced_table(record).ident,
                                                          sql.SQL(key_types))),
        render(conn, capture.trigger_function_ddl(_function(record), body)),
        render(conn, capture.revoke_ddl(_function(record))),
        render(conn, sql.SQL("CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR "
                             "EACH ROW EXECUTE FUNCTION {}()").format(
            _trigger(record), new_live.ident, _function(record))),
    ]


def drop_reverse_ddl(conn, record: MigrationRecord, table: TableRef) -> list[str]:
    return [render(conn, sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                _trigger(record), table.ident)),
            render(conn, sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                _truncate_trigger(record), table.ident)),
            render(conn, sql.SQL("DROP FUNCTION IF EXISTS {}()").format(_function(record))),
            render(conn, sql.SQL("DROP FUNCTION IF EXISTS {}()").format(
                _truncate_function(record)))]


def unsynced(conn, record: MigrationRecord) -> tuple[int, str | None]:
    """(writes since cutover that could not be carried back, the first one described)."""
    table = unsynced_table(record)
    if conn.execute("SELECT to_regclass(%s)", (table.text(conn),)).fetchone()[0] is None:
        return 0, None
    count = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table.ident)).fetchone()[0]
    if not count:
        return 0, None
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT * FROM {} ORDER BY at LIMIT 1").format(table.ident))
        names = [d.name for d in cur.description]
        row = cur.fetchone()
    values = dict(zip(names, row, strict=True))
    keys = ", ".join(f"{k} = {v!r}" for k, v in values.items() if k not in ("error", "at"))
    return count, f"{keys}: {values['error']}"
