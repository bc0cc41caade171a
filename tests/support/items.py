"""A table under load: writers that insert, update (key changes included) and delete, and
remember exactly what committed."""

from __future__ import annotations

import psycopg

from tests.support.writers import Writer

ITEMS_DDL = """
CREATE TABLE items (
    id bigint PRIMARY KEY,
    a integer NOT NULL,
    b text,
    c integer DEFAULT 0
);
CREATE INDEX items_a_idx ON items (a);
"""


def seed_items(conn: psycopg.Connection, rows: int) -> dict[int, tuple]:
    conn.execute(ITEMS_DDL)
    conn.execute("INSERT INTO items SELECT g, g %% 100, 'seed' || g, g FROM "
                 "generate_series(1, %s) g", (rows,))
    conn.execute("ANALYZE items")
    return {i: (i % 100, f"seed{i}", i) for i in range(1, rows + 1)}


def item_writers(url: str, seeds: dict[int, tuple], count: int = 3,
                 pause: float = 0.002, prepare: bool = True) -> list[Writer]:
    writers = []
    for index in range(count):
        own = [i for i in seeds if i % count == index]
        writers.append(Writer(url, _writer(index, count, own), f"writer-{index}", pause,
                              prepare=prepare))
    return writers


def _writer(index: int, count: int, own: list[int]):
    live = list(own)
    next_id = [10_000_000 + index]

    def new_id() -> int:
        value = next_id[0]
        next_id[0] += count
        return value

    def write(conn, rng, committed):
        roll = rng.random()
        if roll < 0.3 or not live:
            i = new_id()
            row = conn.execute("INSERT INTO items (id, a, b, c) VALUES (%s, %s, %s, %s) "
                               "RETURNING a, b, c", (i, rng.randrange(100), f"w{i}",
                                                     rng.randrange(1000))).fetchone()
            committed[i] = tuple(row)
            live.append(i)
        elif roll < 0.7:
            i = rng.choice(live)
            row = conn.execute("UPDATE items SET a = %s, b = %s WHERE id = %s RETURNING a, b, c",
                               (rng.randrange(100), f"u{rng.random():.6f}", i)).fetchone()
            committed[i] = tuple(row)
        elif roll < 0.85:
            i = live.pop(rng.randrange(len(live)))
            conn.execute("DELETE FROM items WHERE id = %s", (i,))
            committed[i] = None
        else:
            old = live.pop(rng.randrange(len(live)))
            i = new_id()
            row = conn.execute("UPDATE items SET id = %s WHERE id = %s RETURNING a, b, c",
                               (i, old)).fetchone()
            committed[old] = None
            committed[i] = tuple(row)
            live.append(i)

    return write


def expected_rows(seeds: dict[int, tuple], writers: list[Writer]) -> dict[int, tuple]:
    expected = dict(seeds)
    for writer in writers:
        for key, row in writer.committed.items():
            if row is None:
                expected.pop(key, None)
            else:
                expected[key] = row
    return expected


def live_rows(conn: psycopg.Connection, table: str = "items") -> dict[int, tuple]:
    return {r[0]: tuple(r[1:]) for r in conn.execute(f"SELECT id, a, b, c FROM {table}")}
