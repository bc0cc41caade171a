"""Runnable expand / migrate / contract sequences for changes that are not safe as written.

Each builder returns Steps whose SQL runs as is on PostgreSQL. A step with ``repeat`` runs
until it touches no row (a batch of a backfill). Tests run these sequences while a blue
writer keeps writing with the old shape.
"""

from __future__ import annotations

import re
import shlex

from bluegreen.planner.model import Batch, Step
from bluegreen.planner.schema import IndexInfo, TableInfo

BATCH_ROWS = 1000
_PLAIN = re.compile(r"^[a-z_][a-z0-9_$]*$")
_RESERVED = {"user", "order", "group", "table", "select", "where", "from", "to", "limit",
             "check", "default", "primary", "references", "column", "end", "desc", "asc"}


def ident(name: str) -> str:
    """Quote an identifier when PostgreSQL needs it."""
    if "." in name and not name.startswith('"'):
        return ".".join(ident(part) for part in name.split("."))
    if _PLAIN.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def object_name(*parts: str) -> str:
    """A name for an object bluegreen creates, within PostgreSQL's 63 bytes."""
    name = "_".join(p.replace(".", "_") for p in parts)
    return name[:63]


def _batch_filter(table: str, pk: list[str], condition: str) -> str:
    """WHERE clause selecting one batch of rows matching ``condition``."""
    if pk:
        keys = ", ".join(ident(k) for k in pk)
        tuple_ = f"({keys})" if len(pk) > 1 else keys
        return (f"{tuple_} IN (SELECT {keys} FROM {ident(table)} WHERE {condition} "
                f"LIMIT {BATCH_ROWS})")
    return f"ctid IN (SELECT ctid FROM {ident(table)} WHERE {condition} LIMIT {BATCH_ROWS})"


def backfill(table: str, pk: list[str], assignment: str, condition: str,
             description: str) -> Step:
    """A repeatable batch for a hand run, and the same change as key ranges for apply."""
    batch = Batch(table, tuple(pk), f"UPDATE {ident(table)} SET {assignment} WHERE "
                                    f"{condition}") if pk else None
    return Step("migrate", description,
                f"UPDATE {ident(table)} SET {assignment} WHERE "
                f"{_batch_filter(table, pk, condition)}", repeat=True, batch=batch)


def not_null_via_check(table: str, column: str, pg_version: int, phase: str = "contract",
                       keep_check: bool = False) -> list[Step]:
    """SET NOT NULL without a long ACCESS EXCLUSIVE scan (PostgreSQL 12+ uses the check)."""
    check = object_name(table, column, "not_null")
    steps = [
        Step(phase, f"add a NOT VALID check that {column} is not null (no scan)",
             f"ALTER TABLE {ident(table)} ADD CONSTRAINT {ident(check)} "
             f"CHECK ({ident(column)} IS NOT NULL) NOT VALID"),
        Step(phase, "validate it under SHARE UPDATE EXCLUSIVE: reads and writes go on",
             f"ALTER TABLE {ident(table)} VALIDATE CONSTRAINT {ident(check)}"),
    ]
    if pg_version >= 12 and not keep_check:
        steps += [
            Step(phase, "SET NOT NULL uses the validated check instead of scanning",
                 f"ALTER TABLE {ident(table)} ALTER COLUMN {ident(column)} SET NOT NULL"),
            Step(phase, "drop the check, now redundant",
                 f"ALTER TABLE {ident(table)} DROP CONSTRAINT {ident(check)}"),
        ]
    return steps


def _sync_trigger(table: str, old: str, new: str, forward: str, backward: str) -> list[Step]:
    """A trigger that keeps ``old`` (blue's column) and ``new`` (green's) in step.

    ``new`` has no default while the trigger lives, so on INSERT a non-null ``new`` can only
    come from green; on UPDATE whichever column changed wins.
    """
    function = object_name("bluegreen_sync", table, old, new)
    body = (
        f"CREATE OR REPLACE FUNCTION {ident(function)}() RETURNS trigger "
        "LANGUAGE plpgsql AS $$\nBEGIN\n"
        "  IF TG_OP = 'INSERT' THEN\n"
        f"    IF NEW.{ident(new)} IS NULL THEN NEW.{ident(new)} := {forward};\n"
        f"    ELSE NEW.{ident(old)} := {backward};\n"
        "    END IF;\n"
        f"  ELSIF NEW.{ident(old)} IS DISTINCT FROM OLD.{ident(old)} THEN\n"
        f"    NEW.{ident(new)} := {forward};\n"
        f"  ELSIF NEW.{ident(new)} IS DISTINCT FROM OLD.{ident(new)} THEN\n"
        f"    NEW.{ident(old)} := {backward};\n"
        "  END IF;\n  RETURN NEW;\nEND\n$$"
    )
    return [
        Step("expand", f"a function that copies writes between {old} and {new}", body),
        Step("expand", "run it before every insert and update",
             f"CREATE TRIGGER {ident(function)} BEFORE INSERT OR UPDATE ON {ident(table)} "
             f"FOR EACH ROW EXECUTE FUNCTION {ident(function)}()"),
    ]


def _drop_old_column(table: str, old: str, new: str) -> list[Step]:
    """Drop the trigger and the old column in one transaction: without the trigger a NOT
    NULL old column would reject green's inserts, and with the column gone the trigger
    would fail."""
    function = object_name("bluegreen_sync", table, old, new)
    return [
        Step("contract", f"drop the sync trigger and {old} together (blue is retired)",
             f"BEGIN;\nDROP TRIGGER IF EXISTS {ident(function)} ON {ident(table)};\n"
             f"ALTER TABLE {ident(table)} DROP COLUMN {ident(old)};\nCOMMIT"),
        Step("contract", "drop the trigger's function",
             f"DROP FUNCTION IF EXISTS {ident(function)}()"),
    ]


def _copy_indexes(indexes: list[IndexInfo], table: str, old: str, new: str) -> list[Step]:
    steps = []
    for index in indexes:
        if index.table != table or old not in index.columns:
            continue
        columns = ", ".join(ident(new if c == old else c) for c in index.columns)
        name = object_name(index.name, new)
        unique = "UNIQUE " if index.unique else ""
        steps.append(Step(
            "migrate", f"build the index {index.name} on {new} without blocking writes",
            f"CREATE {unique}INDEX CONCURRENTLY IF NOT EXISTS {ident(name)} "
            f"ON {ident(table)} ({columns})"))
    return steps


def dual_write_column(
    table: TableInfo | None, table_name: str, old: str, new: str, new_type: str | None,
    forward: str, backward: str, indexes: list[IndexInfo], pg_version: int,
    not_null: bool, default: str | None, what: str,
) -> list[Step]:
    """Add ``new`` beside ``old``, keep both in step with a trigger, backfill, and drop
    ``old`` once blue is retired. Used for renames and incompatible type changes."""
    pk = table.primary_key if table else []
    type_sql = new_type or "<type of the column>"
    steps = [Step("expand", f"add {new} beside {old}, nullable and without a default",
                  f"ALTER TABLE {ident(table_name)} ADD COLUMN {ident(new)} {type_sql}")]
    steps += _sync_trigger(table_name, old, new, forward, backward)
    fill = forward.replace("NEW.", "")
    steps.append(backfill(
        table_name, pk, f"{ident(new)} = {fill}",
        f"{ident(new)} IS NULL AND {ident(old)} IS NOT NULL",
        f"copy {old} into {new} for existing rows, {BATCH_ROWS} rows at a time"))
    steps += _copy_indexes(indexes, table_name, old, new)
    if not_null:
        steps += not_null_via_check(table_name, new, pg_version, phase="migrate",
                                    keep_check=True)
    steps.append(Step("migrate", f"deploy green: it {what}; blue keeps using {old}"))
    steps += _drop_old_column(table_name, old, new)
    if default is not None:
        steps.append(Step("contract", f"give {new} the default {old} had",
                          f"ALTER TABLE {ident(table_name)} ALTER COLUMN {ident(new)} "
                          f"SET DEFAULT {default}"))
    if not_null and pg_version >= 12:
        check = object_name(table_name, new, "not_null")
        steps += [
            Step("contract", "SET NOT NULL uses the validated check instead of scanning",
                 f"ALTER TABLE {ident(table_name)} ALTER COLUMN {ident(new)} SET NOT NULL"),
            Step("contract", "drop the check, now redundant",
                 f"ALTER TABLE {ident(table_name)} DROP CONSTRAINT {ident(check)}"),
        ]
    return steps


def shadow_copy(table: str, alter_sql: str) -> list[Step]:
    """Rebuild the table beside the live one with bluegreen's shadow-table copier."""
    alter = f" --alter {shlex.quote(alter_sql)}" if alter_sql else ""
    return [
        Step("expand", "build the new table beside the live one and keep it in sync",
             command=f"bluegreen copy {table}{alter}"),
        Step("expand", "switch tables with a rename under a bounded lock",
             command=f"bluegreen cutover {table}"),
        Step("contract", "once the new shape is confirmed, drop the old table",
             command=f"bluegreen finish {table}"),
    ]
