"""The planner's expand / migrate / contract steps, run on PostgreSQL while a blue writer
keeps writing with the old shape and, after the deploy, a green writer with the new one.
Blue must see no error, and the result must equal what the writers committed."""

from __future__ import annotations

import time

import psycopg

from bluegreen.commands import plan
from tests.conftest import sqlalchemy_url
from tests.support.writers import Writer, id_source, run_steps

SEED = 2000


def steps_for(pg_url: str, tmp_path, sql: str) -> list[list[dict]]:
    (tmp_path / "m.sql").write_text(sql)
    result = plan([tmp_path / "m.sql"], database_url=sqlalchemy_url(pg_url))
    return [[s.to_dict() for s in change.steps] for change in result.changes]


def lifecycle(pg, steps, blue: Writer, green: Writer, values=None, settle=0.4):
    """expand + migrate while blue writes; green deploys; blue retires; contract."""
    blue.start()
    time.sleep(settle)
    run_steps(pg, steps, {"expand", "migrate"}, values)
    green.start()
    time.sleep(settle)
    blue.stop()
    run_steps(pg, steps, {"contract"}, values)
    time.sleep(settle / 2)
    green.stop()
    assert blue.errors == [], blue.errors[:3]
    assert green.errors == [], green.errors[:3]
    assert blue.writes > 20 and green.writes > 10


def test_rename_column_steps_keep_blue_working(pg, pg_url, tmp_path):
    pg.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, note text)")
    pg.execute("CREATE INDEX users_email_idx ON users (email)")
    pg.execute(f"INSERT INTO users SELECT g, 'seed' || g, NULL FROM generate_series(1, {SEED}) g")
    (steps,) = steps_for(pg_url, tmp_path, "ALTER TABLE users RENAME COLUMN email TO mail;")
    blue_ids, green_ids = id_source(10_000_000), id_source(20_000_000)

    def blue_write(conn, rng, committed):
        if rng.random() < 0.5:
            i = next(blue_ids)
            conn.execute("INSERT INTO users (id, email) VALUES (%s, %s)", (i, f"b{i}"))
            committed[i] = f"b{i}"
        else:
            i = rng.randrange(2, SEED + 1, 2)  # blue owns even seed rows
            value = f"b-upd-{rng.random()}"
            conn.execute("UPDATE users SET email = %s WHERE id = %s", (value, i))
            committed[i] = value

    def green_write(conn, rng, committed):
        if rng.random() < 0.5:
            i = next(green_ids)
            conn.execute("INSERT INTO users (id, mail) VALUES (%s, %s)", (i, f"g{i}"))
            committed[i] = f"g{i}"
        else:
            i = rng.randrange(1, SEED + 1, 2)  # green owns odd seed rows
            value = f"g-upd-{rng.random()}"
            conn.execute("UPDATE users SET mail = %s WHERE id = %s", (value, i))
            committed[i] = value

    blue, green = Writer(pg_url, blue_write, "blue"), Writer(pg_url, green_write, "green")
    lifecycle(pg, steps, blue, green)
    expected = {i: f"seed{i}" for i in range(1, SEED + 1)}
    expected.update(blue.committed)
    expected.update(green.committed)
    actual = dict(pg.execute("SELECT id, mail FROM users").fetchall())
    assert actual == expected
    columns = [r[0] for r in pg.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum")]
    assert columns == ["id", "note", "mail"]
    assert pg.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass "
                      "AND attname = 'mail'").fetchone()[0]
    indexes = {r[0] for r in pg.execute("SELECT indexdef FROM pg_indexes WHERE tablename = "
                                        "'users'")}
    assert any("(mail)" in d for d in indexes)


def test_incompatible_type_change_steps_keep_blue_working(pg, pg_url, tmp_path):
    pg.execute("CREATE TABLE stock (id bigint PRIMARY KEY, qty integer)")
    pg.execute(f"INSERT INTO stock SELECT g, g FROM generate_series(1, {SEED}) g")
    (steps,) = steps_for(pg_url, tmp_path, "ALTER TABLE stock ALTER COLUMN qty TYPE text;")
    blue_ids, green_ids = id_source(10_000_000), id_source(20_000_000)

    def blue_write(conn, rng, committed):
        i = next(blue_ids) if rng.random() < 0.5 else rng.randrange(2, SEED + 1, 2)
        value = rng.randrange(1000)
        conn.execute("INSERT INTO stock (id, qty) VALUES (%s, %s) ON CONFLICT (id) DO UPDATE "
                     "SET qty = excluded.qty", (i, value))
        committed[i] = str(value)

    def green_write(conn, rng, committed):
        i = next(green_ids) if rng.random() < 0.5 else rng.randrange(1, SEED + 1, 2)
        value = str(rng.randrange(1000))
        conn.execute("INSERT INTO stock (id, qty_new) VALUES (%s, %s) ON CONFLICT (id) DO "
                     "UPDATE SET qty_new = excluded.qty_new", (i, value))
        committed[i] = value

    blue, green = Writer(pg_url, blue_write, "blue"), Writer(pg_url, green_write, "green")
    lifecycle(pg, steps, blue, green)
    expected = {i: str(i) for i in range(1, SEED + 1)}
    expected.update(blue.committed)
    expected.update(green.committed)
    assert dict(pg.execute("SELECT id, qty_new FROM stock").fetchall()) == expected


def test_required_column_steps_keep_blue_inserting(pg, pg_url, tmp_path):
    pg.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, name text)")
    pg.execute(f"INSERT INTO accounts SELECT g, 'n' FROM generate_series(1, {SEED}) g")
    (steps,) = steps_for(pg_url, tmp_path,
                         "ALTER TABLE accounts ADD COLUMN score integer NOT NULL;")
    blue_ids, green_ids = id_source(10_000_000), id_source(20_000_000)

    def blue_write(conn, rng, committed):
        i = next(blue_ids)
        conn.execute("INSERT INTO accounts (id, name) VALUES (%s, 'blue')", (i,))
        committed[i] = 0

    def green_write(conn, rng, committed):
        i = next(green_ids)
        conn.execute("INSERT INTO accounts (id, name, score) VALUES (%s, 'green', 7)", (i,))
        committed[i] = 7

    blue, green = Writer(pg_url, blue_write, "blue"), Writer(pg_url, green_write, "green")
    lifecycle(pg, steps, blue, green, values={":value": "0"})
    expected = dict.fromkeys(range(1, SEED + 1), 0)
    expected.update(blue.committed)
    expected.update(green.committed)
    assert dict(pg.execute("SELECT id, score FROM accounts").fetchall()) == expected
    assert pg.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = "
                      "'accounts'::regclass AND attname = 'score'").fetchone()[0]


def test_constraint_and_index_steps_run_beside_writes(pg, pg_url, tmp_path):
    pg.execute("CREATE TABLE users (id bigint PRIMARY KEY, name text, code text, n int)")
    pg.execute("CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint)")
    pg.execute(f"INSERT INTO users SELECT g, 'u', 'c' || g, g FROM generate_series(1, {SEED}) g")
    pg.execute(f"INSERT INTO orders SELECT g, g FROM generate_series(1, {SEED}) g")
    all_steps = steps_for(pg_url, tmp_path, """
        ALTER TABLE users ALTER COLUMN name SET NOT NULL;
        ALTER TABLE users ADD CONSTRAINT n_positive CHECK (n >= 0);
        ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id)
            REFERENCES users (id);
        ALTER TABLE users ADD CONSTRAINT users_code_key UNIQUE (code);
        CREATE INDEX users_n_idx ON users (n);
    """)
    ids = id_source(10_000_000)

    def blue_write(conn, rng, committed):
        i = next(ids)
        with conn.transaction():
            conn.execute("INSERT INTO users VALUES (%s, 'b', %s, 1)", (i, f"c{i}"))
            conn.execute("INSERT INTO orders VALUES (%s, %s)", (i, i))
        committed[i] = i

    blue = Writer(pg_url, blue_write, "blue")
    blue.start()
    time.sleep(0.3)
    for steps in all_steps:
        run_steps(pg, steps, {"expand", "migrate", "contract"})
    time.sleep(0.3)
    blue.stop()
    assert blue.errors == [] and blue.writes > 20
    constraints = dict(pg.execute(
        "SELECT conname, convalidated FROM pg_constraint WHERE conrelid IN "
        "('users'::regclass, 'orders'::regclass)").fetchall())
    assert constraints["n_positive"] and constraints["orders_user_fk"]
    assert "users_code_key" in constraints
    assert pg.execute("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'users'::regclass "
                      "AND attname = 'name'").fetchone()[0]
    assert pg.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_n_idx'"
                      ).fetchone()[0] == 1


def test_rename_table_steps_keep_blue_on_the_old_name(pg, pg_url, tmp_path):
    pg.execute("CREATE TABLE items (id bigint PRIMARY KEY, label text)")
    (steps,) = steps_for(pg_url, tmp_path, "ALTER TABLE items RENAME TO products;")
    blue_ids, green_ids = id_source(1), id_source(2)

    def blue_write(conn, rng, committed):
        i = next(blue_ids)
        conn.execute("INSERT INTO items (id, label) VALUES (%s, 'blue')", (i,))
        committed[i] = "blue"

    def green_write(conn, rng, committed):
        i = next(green_ids)
        conn.execute("INSERT INTO products (id, label) VALUES (%s, 'green')", (i,))
        committed[i] = "green"

    blue, green = Writer(pg_url, blue_write, "blue"), Writer(pg_url, green_write, "green")
    lifecycle(pg, steps, blue, green)
    expected = {**blue.committed, **green.committed}
    assert dict(pg.execute("SELECT id, label FROM products").fetchall()) == expected
    assert pg.execute("SELECT to_regclass('items')").fetchone()[0] is None


def test_the_unsafe_rename_would_have_broken_blue(pg, pg_url):
    """The control: running the statement as written makes blue fail at once."""
    pg.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text)")
    pg.execute("ALTER TABLE users RENAME COLUMN email TO mail")
    with psycopg.connect(pg_url, autocommit=True) as blue:
        try:
            blue.execute("INSERT INTO users (id, email) VALUES (1, 'x')")
        except psycopg.errors.UndefinedColumn:
            return
    raise AssertionError("blue's insert should fail after an unsafe rename")
