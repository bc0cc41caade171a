"""Change capture: row triggers on the live table append changed primary keys to a queue.

The trigger stores keys only, never values: replay re-reads the live row, so capture is
cheap, idempotent and order-insensitive. A primary-key update queues both keys.

Trigger functions run with their owner's rights (SECURITY DEFINER, a fixed search_path):
the app's own role keeps the DML rights it had and needs no grant on bluegreen's schema.
"""

from __future__ import annotations

from psycopg import sql

from bluegreen.core import naming
from bluegreen.engines.postgresql.catalog import NAME_LIMIT, TableRef


def queue_ddl(queue: TableRef, pk: list[str], pk_types: list[str]) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {} NOT NULL").format(sql.Identifier(k), sql.SQL(t))
        for k, t in zip(pk, pk_types, strict=True))
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} (bg_seq bigint GENERATED ALWAYS AS "
                   "IDENTITY PRIMARY KEY, {})").format(queue.ident, columns)


def _function(queue: TableRef) -> sql.Identifier:
    return sql.Identifier(queue.schema, f"{queue.name}_capture")


def trigger_name(queue: TableRef) -> sql.Identifier:
    return sql.Identifier(naming.capture_trigger(queue.name, NAME_LIMIT))


def function_ddl(queue: TableRef, pk: list[str]) -> sql.Composed:
    cols = sql.SQL(", ").join(sql.Identifier(k) for k in pk)
    new = sql.SQL(", ").join(sql.SQL("NEW.{}").format(sql.Identifier(k)) for k in pk)
    old = sql.SQL(", ").join(sql.SQL("OLD.{}").format(sql.Identifier(k)) for k in pk)
    body = sql.SQL(
        "BEGIN\n"
        "  IF TG_OP <> 'INSERT' THEN\n"
        "    INSERT INTO {queue} ({cols}) VALUES ({old});\n"
        "  END IF;\n"
        "  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND ({new}) IS DISTINCT FROM ({old})) THEN\n"
        "    INSERT INTO {queue} ({cols}) VALUES ({new});\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END").format(queue=queue.ident, cols=cols, new=new, old=old)
    return trigger_function_ddl(_function(queue), body.as_string(None))


def trigger_function_ddl(name: sql.Composable, body: str) -> sql.Composed:
    """A PL/pgSQL trigger function that runs as its owner (bluegreen's role), whoever
    writes: SECURITY DEFINER with a search_path that no other role can plant objects in
    (every name in the body is schema-qualified)."""
    return sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql "
                   "SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS {}").format(
        name, sql.Literal(body))


def revoke_ddl(name: sql.Composable) -> sql.Composed:
    """Nobody calls a trigger function directly; firing a trigger needs no EXECUTE."""
    return sql.SQL("REVOKE ALL ON FUNCTION {}() FROM PUBLIC").format(name)


def revoke_capture_ddl(queue: TableRef) -> sql.Composed:
    return revoke_ddl(_function(queue))


def trigger_ddl(live: TableRef, queue: TableRef) -> sql.Composed:
    return sql.SQL("CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW "
                   "EXECUTE FUNCTION {}()").format(trigger_name(queue), live.ident,
                                                   _function(queue))


def _truncate_function(queue: TableRef) -> sql.Identifier:
    return sql.Identifier(queue.schema, f"{queue.name}_truncate")


def truncate_trigger_name(queue: TableRef) -> sql.Identifier:
    return sql.Identifier(f"bluegreen_truncate_{queue.name}"[:63])


def truncate_ddl(live: TableRef, shadow: TableRef, queue: TableRef) -> list[sql.Composed]:
    """A TRUNCATE of the live table empties the shadow and the queue in the same
    transaction: row triggers do not see a TRUNCATE."""
    body = sql.SQL("BEGIN\n  TRUNCATE {shadow};\n  DELETE FROM {queue};\n  RETURN NULL;\nEND"
                   ).format(shadow=shadow.ident, queue=queue.ident)
    return [
        trigger_function_ddl(_truncate_function(queue), body.as_string(None)),
        revoke_ddl(_truncate_function(queue)),
        truncate_trigger_ddl(live, queue),
    ]


def truncate_trigger_ddl(live: TableRef, queue: TableRef) -> sql.Composed:
    return sql.SQL("CREATE TRIGGER {} AFTER TRUNCATE ON {} FOR EACH STATEMENT EXECUTE "
                   "FUNCTION {}()").format(truncate_trigger_name(queue), live.ident,
                                           _truncate_function(queue))


def drop_trigger_ddl(live: TableRef, queue: TableRef) -> list[sql.Composed]:
    """Stop capturing (the functions and the queue stay, for a rollback)."""
    return [
        sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(trigger_name(queue), live.ident),
        sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(truncate_trigger_name(queue),
                                                          live.ident),
    ]


def drop_ddl(live: TableRef, queue: TableRef) -> list[sql.Composed]:
    return drop_trigger_ddl(live, queue) + [
        sql.SQL("DROP FUNCTION IF EXISTS {}()").format(_function(queue)),
        sql.SQL("DROP FUNCTION IF EXISTS {}()").format(_truncate_function(queue)),
        sql.SQL("DROP TABLE IF EXISTS {}").format(queue.ident),
    ]
