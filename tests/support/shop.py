"""The shop example (examples/shop) under load: an old app (blue) that writes the schema of
revision 0002, a new app (green) that writes the schema of head, and what they committed."""

from __future__ import annotations

import itertools
from pathlib import Path

import psycopg

from tests.support.writers import Writer

ROOT = Path(__file__).parents[2]
SHOP = ROOT / "examples" / "shop"
VERSIONS = SHOP / "migrations" / "versions"
SEED = 1000


def sqlalchemy(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def alembic_upgrade(url: str, revision: str) -> None:
    """What the app's own `alembic upgrade` does."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(SHOP / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", sqlalchemy(url))
    command.upgrade(config, revision)


def seed(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO customers (id, email, name) SELECT g, 'seed' || g || '@x', 'n' "
                 "FROM generate_series(1, %s) g", (SEED,))
    conn.execute("INSERT INTO orders (id, customer_id, total_cents) SELECT g, 1 + g %% %s, g "
                 "FROM generate_series(1, %s) g", (SEED, 2 * SEED))
    conn.execute("SELECT setval(pg_get_serial_sequence('customers', 'id'), 100000)")
    conn.execute("SELECT setval(pg_get_serial_sequence('orders', 'id'), 100000)")
    conn.execute("ANALYZE customers; ANALYZE orders")


def _app(email_column: str, id_start: int, own_parity: int, big_totals: bool):
    """A writer of one app version: inserts and updates customers (through
    ``email_column``) and orders, on ids no other writer touches."""
    customer_ids = itertools.count(id_start)
    order_ids = itertools.count(id_start)
    own_orders: list[int] = []

    def write(conn, rng, committed) -> None:
        roll = rng.random()
        if roll < 0.3:
            i = next(customer_ids)
            value = f"{email_column}-{i}@x"
            conn.execute(f"INSERT INTO customers (id, {email_column}, name) VALUES (%s, %s, "
                         "'n')", (i, value))
            committed[("c", i)] = value
        elif roll < 0.6:
            i = rng.randrange(1, SEED + 1)
            i += (i % 2) != own_parity
            if i > SEED:
                return
            value = f"{email_column}-upd-{rng.random():.8f}@x"
            conn.execute(f"UPDATE customers SET {email_column} = %s WHERE id = %s", (value, i))
            committed[("c", i)] = value
        elif roll < 0.8 or not own_orders:
            i = next(order_ids)
            total = rng.randrange(2**31, 2**40) if big_totals else rng.randrange(10**6)
            conn.execute("INSERT INTO orders (id, customer_id, total_cents) VALUES (%s, %s, %s)",
                         (i, rng.randrange(1, SEED + 1), total))
            committed[("o", i)] = total
            own_orders.append(i)
        else:
            i = rng.choice(own_orders)
            total = rng.randrange(2**31, 2**40) if big_totals else rng.randrange(10**6)
            conn.execute("UPDATE orders SET total_cents = %s WHERE id = %s", (total, i))
            committed[("o", i)] = total

    return write


def blue(url: str) -> Writer:
    """The app at revision 0002: customers.email, orders.total_cents as integer."""
    return Writer(url, _app("email", 10_000_000, 0, big_totals=False), "blue", pause=0.003,
                  prepare=False)


def green(url: str, big_totals: bool = True) -> Writer:
    """The app at head: customers.contact_email, orders.total_cents as bigint."""
    return Writer(url, _app("contact_email", 20_000_000, 1, big_totals=big_totals), "green",
                  pause=0.003, prepare=False)


def expected(*writers: Writer) -> tuple[dict[int, str], dict[int, int]]:
    customers = {i: f"seed{i}@x" for i in range(1, SEED + 1)}
    orders = {i: i for i in range(1, 2 * SEED + 1)}
    for writer in writers:
        for (kind, i), value in writer.committed.items():
            (customers if kind == "c" else orders)[i] = value
    return customers, orders


def actual(conn: psycopg.Connection, email_column: str) -> tuple[dict, dict]:
    customers = dict(conn.execute(f"SELECT id, {email_column} FROM customers").fetchall())
    orders = dict(conn.execute("SELECT id, total_cents FROM orders").fetchall())
    return customers, orders


def schema_signature(conn: psycopg.Connection) -> dict[str, set]:
    """The public schema, names of constraints and indexes aside."""
    columns = set(conn.execute(
        "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, "
        "column_default, is_identity FROM information_schema.columns WHERE table_schema = "
        "'public' AND table_name <> 'alembic_version'").fetchall())
    indexes = set(conn.execute(
        "SELECT c.relname, regexp_replace(pg_get_indexdef(x.indexrelid), 'INDEX \\S+ ON', "
        "'INDEX ON'), x.indisvalid FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND "
        "c.relname <> 'alembic_version'").fetchall())
    constraints = set(conn.execute(
        "SELECT c.relname, con.contype, pg_get_constraintdef(con.oid), con.convalidated "
        "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname <> "
        "'alembic_version'").fetchall())
    return {"columns": columns, "indexes": indexes, "constraints": constraints}


def leftovers(conn: psycopg.Connection) -> list:
    """What a finished migration must not leave: shadow/old tables, queues, bluegreen's
    triggers and functions, INVALID indexes."""
    # An identity sequence keeps its shadow name on the table that went live (its
    # owner): that is the live table's, not a leftover.
    return conn.execute(
        "SELECT relname FROM pg_class c WHERE relname LIKE '\\_bg%%' AND NOT (relkind = 'S' "
        "AND EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid WHERE "
        "d.objid = c.oid AND d.deptype IN ('a', 'i') AND t.relname NOT LIKE '\\_bg%%')) "
        "UNION ALL "
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'bluegreen' AND (relname LIKE 'queue\\_%%' OR relname LIKE "
        "'unsynced\\_%%') UNION ALL "
        "SELECT tgname FROM pg_trigger WHERE tgname LIKE 'bluegreen%%' UNION ALL "
        "SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname IN ('bluegreen', 'public') UNION ALL "
        "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid").fetchall()
