"""Data-driven cases for every rule, both ways (in the manner of sqlfluff's rule fixtures).

Each case is judged on the LAST statement of its SQL, against helpers.SCHEMA (tables users,
orders; index users_email_idx; enum mood; view active_users). ``fires`` says whether the
rule reports it; ``expect`` checks the change's phase / blocking / strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Case:
    sql: str
    fires: bool
    expect: dict = field(default_factory=dict)
    pg_version: int = 15
    dialect: str = "postgresql"


CASES: dict[str, list[Case]] = {
    "adding-required-column": [
        Case("ALTER TABLE users ADD COLUMN x int NOT NULL", True,
             {"phase": "breaking", "strategy": "expand-contract"}),
        Case("ALTER TABLE users ADD COLUMN x int NOT NULL DEFAULT 0", False,
             {"phase": "expand", "blocking": False}),
        Case("ALTER TABLE users ADD COLUMN x int", False, {"phase": "expand"}),
        Case("CREATE TABLE t (id int); ALTER TABLE t ADD COLUMN x int NOT NULL", False,
             {"phase": "expand"}),
    ],
    "adding-volatile-default": [
        Case("ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()", True,
             {"phase": "expand", "blocking": True}),
        Case("ALTER TABLE users ADD COLUMN x int DEFAULT 0", True, {"blocking": True},
             pg_version=10),
        Case("ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT now()", False,
             {"blocking": False}),
        Case("ALTER TABLE users ADD COLUMN x int DEFAULT 0", False, {"blocking": False}),
    ],
    "adding-generated-column": [
        Case("ALTER TABLE users ADD COLUMN age2 int GENERATED ALWAYS AS (age * 2) STORED",
             True, {"blocking": True, "strategy": "shadow"}),
        Case("ALTER TABLE users ADD COLUMN n bigserial", True, {"blocking": True}),
        Case("ALTER TABLE users ADD COLUMN n bigint", False, {"blocking": False}),
    ],
    "changing-column-type": [
        Case("ALTER TABLE users ALTER COLUMN age TYPE bigint", True,
             {"phase": "expand", "blocking": True, "strategy": "shadow"}),
        Case("ALTER TABLE users ALTER COLUMN age TYPE text", True,
             {"phase": "breaking", "blocking": True, "strategy": "expand-contract"}),
        Case("ALTER TABLE users ALTER COLUMN email TYPE varchar(50)", True,
             {"phase": "contract", "blocking": True}),
        Case("ALTER TABLE users ALTER COLUMN email TYPE varchar(200)", False,
             {"phase": "expand", "blocking": False}),
        Case("ALTER TABLE users ALTER COLUMN email TYPE text", False, {"blocking": False}),
        Case("ALTER TABLE users ALTER COLUMN score TYPE numeric(12, 2)", False,
             {"blocking": False}),
        Case("ALTER TABLE users ADD COLUMN x int; ALTER TABLE users ALTER COLUMN x TYPE text",
             False, {"phase": "expand"}),
        # USING the column itself (or cast to the new type) is no USING at all.
        Case("ALTER TABLE users ALTER COLUMN email TYPE text USING email::text", False,
             {"blocking": False}),
        Case("ALTER TABLE users ALTER COLUMN city TYPE text USING lower(city)", True,
             {"blocking": True}),
        # text -> citext keeps the table, but the indexes on the column are rebuilt.
        Case("ALTER TABLE users ALTER COLUMN name TYPE citext", False, {"blocking": False}),
        Case("ALTER TABLE users ALTER COLUMN email TYPE citext", True,
             {"blocking": True, "phase": "expand"}),
        # timestamp -> timestamptz: no rewrite in UTC (PostgreSQL 12+), still a new type.
        Case("SET TimeZone = 'UTC'; ALTER TABLE users ALTER COLUMN created_at TYPE timestamptz",
             True, {"blocking": False, "phase": "breaking"}),
        Case("ALTER TABLE users ALTER COLUMN created_at TYPE timestamptz", True,
             {"blocking": True, "phase": "breaking"}),
        Case("SET TimeZone = 'UTC'; ALTER TABLE users ALTER COLUMN created_at TYPE timestamptz",
             True, {"blocking": True}, pg_version=11),
        # A domain over the same type: a relabel, unless it has constraints to check.
        Case("CREATE DOMAIN years AS integer; ALTER TABLE users ALTER COLUMN age TYPE years",
             False, {"blocking": False}),
        Case("CREATE DOMAIN years AS integer CHECK (VALUE >= 0); "
             "ALTER TABLE users ALTER COLUMN age TYPE years", True,
             {"blocking": True, "phase": "contract"}),
    ],
    "renaming-column": [
        Case("ALTER TABLE users RENAME COLUMN email TO mail", True,
             {"phase": "breaking", "blocking": False, "strategy": "expand-contract"}),
        Case("ALTER TABLE users ADD COLUMN x int; ALTER TABLE users RENAME COLUMN x TO y",
             False, {"phase": "expand"}),
    ],
    "renaming-table": [
        Case("ALTER TABLE users RENAME TO people", True, {"phase": "breaking"}),
        Case("CREATE TABLE t (id int); ALTER TABLE t RENAME TO t2", False, {"phase": "expand"}),
    ],
    "dropping-column": [
        Case("ALTER TABLE users DROP COLUMN name", True, {"phase": "contract",
                                                           "blocking": False}),
        Case("ALTER TABLE users ADD COLUMN x int; ALTER TABLE users DROP COLUMN x", False,
             {"phase": "expand"}),
    ],
    "dropping-table": [
        Case("DROP TABLE orders", True, {"phase": "contract"}),
        Case("CREATE TABLE t (id int); DROP TABLE t", False, {"phase": "expand"}),
    ],
    "dropping-object": [
        Case("DROP VIEW active_users", True, {"phase": "contract"}),
        Case("CREATE VIEW v AS SELECT 1", False, {"phase": "expand"}),
    ],
    "dropping-constraint": [
        Case("ALTER TABLE users DROP CONSTRAINT users_email_key", True, {"phase": "contract"}),
        Case("ALTER TABLE users DROP CONSTRAINT users_age_not_null", False, {"phase": "expand"}),
    ],
    "dropping-default": [
        Case("ALTER TABLE users ALTER COLUMN status DROP DEFAULT", True, {"phase": "contract"}),
        Case("ALTER TABLE users ALTER COLUMN status SET DEFAULT 'new'", False,
             {"phase": "expand"}),
    ],
    "setting-not-null": [
        Case("ALTER TABLE users ALTER COLUMN name SET NOT NULL", True,
             {"phase": "contract", "blocking": True}),
        # A validated CHECK (age IS NOT NULL) exists: PostgreSQL 12+ skips the scan.
        Case("ALTER TABLE users ALTER COLUMN age SET NOT NULL", True,
             {"phase": "contract", "blocking": False}),
        Case("ALTER TABLE users ALTER COLUMN age SET NOT NULL", True,
             {"phase": "contract", "blocking": True}, pg_version=11),
        # A column added earlier in the migration: blue does not set it (breaking), and
        # the check still scans the table.
        Case("ALTER TABLE users ADD COLUMN x int; ALTER TABLE users ALTER COLUMN x SET NOT NULL",
             True, {"phase": "breaking", "blocking": True}),
        Case("ALTER TABLE users ADD COLUMN x int DEFAULT 0; "
             "ALTER TABLE users ALTER COLUMN x SET NOT NULL", True,
             {"phase": "expand", "blocking": True}),
        Case("CREATE TABLE t (x int); ALTER TABLE t ALTER COLUMN x SET NOT NULL", False,
             {"phase": "expand", "blocking": False}),
    ],
    "adding-check-constraint": [
        Case("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0)", True,
             {"phase": "contract", "blocking": True}),
        Case("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID", True,
             {"phase": "contract", "blocking": False}),
        Case("CREATE TABLE t (a int); ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", False,
             {"phase": "expand"}),
    ],
    "adding-foreign-key": [
        Case("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id)",
             True, {"phase": "contract", "blocking": True}),
        Case("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) "
             "NOT VALID", True, {"phase": "contract", "blocking": False}),
        Case("CREATE TABLE t (u bigint); ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (u) "
             "REFERENCES users (id)", False, {"phase": "expand"}),
    ],
    "adding-unique-constraint": [
        Case("ALTER TABLE users ADD CONSTRAINT users_name_key UNIQUE (name)", True,
             {"phase": "contract", "blocking": True}),
        Case("ALTER TABLE orders ADD CONSTRAINT p PRIMARY KEY (id)", True, {"blocking": True}),
        Case("ALTER TABLE users ADD CONSTRAINT u UNIQUE USING INDEX users_email_idx", True,
             {"phase": "contract", "blocking": False}),
        Case("CREATE TABLE t (a int); ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)", False,
             {"phase": "expand"}),
        # No default: blue writes NULL (expand), but the index build reads every row.
        Case("ALTER TABLE users ADD COLUMN handle text UNIQUE", True,
             {"phase": "expand", "blocking": True}),
    ],
    "creating-index": [
        Case("CREATE INDEX users_name_idx ON users (name)", True,
             {"phase": "expand", "blocking": True}),
        Case("CREATE UNIQUE INDEX users_name_idx ON users (name)", True,
             {"phase": "contract", "blocking": True}),
        Case("CREATE INDEX CONCURRENTLY users_name_idx ON users (name)", False,
             {"phase": "expand", "blocking": False}),
        Case("CREATE TABLE t (a int); CREATE INDEX t_a ON t (a)", False, {"blocking": False}),
    ],
    "concurrently-in-transaction": [
        Case("BEGIN; CREATE INDEX CONCURRENTLY users_name_idx ON users (name)", True, {}),
        Case("CREATE INDEX CONCURRENTLY users_name_idx ON users (name)", False, {}),
        Case("DO $$ BEGIN EXECUTE 'CREATE INDEX CONCURRENTLY i ON users (name)'; END $$", True,
             {"strategy": "manual"}),
    ],
    "dropping-index": [
        Case("DROP INDEX users_email_idx", True, {"phase": "contract"}),
        Case("CREATE TABLE t (a int); CREATE INDEX t_a ON t (a); DROP INDEX t_a", False,
             {"phase": "expand"}),
    ],
    "adding-enum-value": [
        Case("BEGIN; ALTER TYPE mood ADD VALUE 'calm'", True, {}, pg_version=11),
        Case("BEGIN; ALTER TYPE mood ADD VALUE 'calm'", False, {"phase": "expand"}),
    ],
    "renaming-enum-value": [
        Case("ALTER TYPE mood RENAME VALUE 'sad' TO 'blue'", True, {"phase": "breaking"}),
        Case("ALTER TYPE mood ADD VALUE 'calm'", False, {"phase": "expand"}),
    ],
    "unbatched-data-change": [
        Case("UPDATE users SET name = 'x'", True, {"blocking": True, "phase": "expand"}),
        Case("DELETE FROM orders WHERE total = 0", True, {"blocking": True,
                                                           "phase": "contract"}),
        Case("CREATE TABLE t (a int); UPDATE t SET a = 1", False, {"blocking": False}),
        Case("INSERT INTO orders (id) VALUES (1)", False, {"blocking": False}),
    ],
    "rewriting-table": [
        Case("VACUUM FULL users", True, {"blocking": True, "strategy": "shadow"}),
        Case("ALTER TABLE users SET TABLESPACE fast", True, {"blocking": True}),
        Case("VACUUM users", False, {"blocking": False}),
    ],
    "reindexing": [
        Case("REINDEX TABLE users", True, {"blocking": True}),
        Case("REINDEX TABLE CONCURRENTLY users", False, {"blocking": False}),
    ],
    "prefer-bigint": [
        Case("CREATE TABLE t (id serial PRIMARY KEY)", True, {"blocking": False}),
        Case("CREATE TABLE t (id bigint PRIMARY KEY)", False, {}),
    ],
    "prefer-timestamptz": [
        Case("CREATE TABLE t (at timestamp)", True, {}),
        Case("CREATE TABLE t (at timestamptz)", False, {}),
    ],
    "unrecognized-statement": [
        Case("ALTER SYSTEM SET work_mem = '1GB'", True, {}),
        Case("DO $$ BEGIN PERFORM 1; END $$", False, {"operation": "do"}),
        Case("COMMENT ON TABLE users IS 'people'", False, {}),
    ],
}

CASES.update({
    "prefer-identity": [
        Case("CREATE TABLE t (id bigserial PRIMARY KEY)", True, {}),
        Case("CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY)", False, {}),
    ],
    "prefer-jsonb": [
        Case("ALTER TABLE users ADD COLUMN meta json", True, {"phase": "expand"}),
        Case("ALTER TABLE users ADD COLUMN meta jsonb", False, {}),
    ],
    "ban-char-field": [
        Case("CREATE TABLE t (code char(3))", True, {}),
        Case("CREATE TABLE t (code varchar(3))", False, {}),
    ],
    "dropping-database": [
        Case("DROP DATABASE prod", True, {"phase": "contract", "strategy": "manual"}),
        Case("DROP SCHEMA old CASCADE", False, {"phase": "contract"}),
    ],
    "transaction-nesting": [
        Case("BEGIN; BEGIN", True, {}),
        Case("BEGIN; COMMIT; BEGIN", False, {}),
    ],
    "missing-lock-timeout": [
        Case("ALTER TABLE users ADD COLUMN x int", True, {"blocking": False}),
        Case("SET lock_timeout = '2s'; ALTER TABLE users ADD COLUMN x int", False, {}),
        Case("ALTER TABLE users ADD COLUMN x int; ALTER TABLE users ADD COLUMN y int", False,
             {}),
        Case("CREATE INDEX CONCURRENTLY i ON users (name)", False, {}),
    ],
})

SQLITE = "sqlite"
CASES.update({
    "sqlite-unsupported-alter": [
        Case("ALTER TABLE users ALTER COLUMN age TYPE bigint", True,
             {"blocking": True, "strategy": "shadow"}, dialect=SQLITE),
        Case("ALTER TABLE users ALTER COLUMN name SET NOT NULL", True, {"phase": "contract"},
             dialect=SQLITE),
        Case("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0)", True, {"phase": "contract"},
             dialect=SQLITE),
        Case("ALTER TABLE users RENAME COLUMN email TO mail", False, {"phase": "breaking"},
             dialect=SQLITE),
        Case("ALTER TABLE users ADD COLUMN x int", False, {"phase": "expand"}, dialect=SQLITE),
    ],
    "sqlite-add-column": [
        Case("ALTER TABLE users ADD COLUMN seen text DEFAULT CURRENT_TIMESTAMP", True,
             {"phase": "breaking"}, dialect=SQLITE),
        Case("ALTER TABLE users ADD COLUMN n int NOT NULL", True, {}, dialect=SQLITE),
        Case("ALTER TABLE users ADD COLUMN n int NOT NULL DEFAULT 0", False,
             {"phase": "expand", "blocking": False}, dialect=SQLITE),
    ],
})
# PostgreSQL-only rules stay quiet on SQLite, and the other way round.
DIALECT_CASES = [
    ("creating-index", Case("CREATE INDEX CONCURRENTLY i ON users (name)", False, {},
                            dialect=SQLITE)),
    ("missing-lock-timeout", Case("ALTER TABLE users ADD COLUMN x int", False, {},
                                  dialect=SQLITE)),
    ("sqlite-add-column", Case("ALTER TABLE users ADD COLUMN n int NOT NULL", False, {})),
]

# Rules for what real migrations do beyond one statement per concern.
CASES.update({
    "lock-held-in-transaction": [
        Case("BEGIN; ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID; "
             "ALTER TABLE users VALIDATE CONSTRAINT c", True,
             {"blocking": True, "blocking_alone": False}),
        Case("BEGIN; ALTER TABLE users ADD COLUMN x int; UPDATE users SET x = 1", True,
             {"blocking": True, "blocking_alone": True}),
        Case("BEGIN; LOCK TABLE orders IN SHARE MODE; "
             "ALTER TABLE users VALIDATE CONSTRAINT c", True,
             {"blocking": True, "blocking_alone": False}),
        Case("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID; "
             "ALTER TABLE users VALIDATE CONSTRAINT c", False, {"blocking": False}),
        Case("BEGIN; CREATE TABLE t (a int); ALTER TABLE users VALIDATE CONSTRAINT c", False,
             {"blocking": False}),
    ],
    "using-new-enum-value": [
        Case("BEGIN; ALTER TYPE mood ADD VALUE 'calm'; "
             "UPDATE users SET status = 'calm' WHERE id = 1", True, {"strategy": "manual"}),
        Case("ALTER TYPE mood ADD VALUE 'calm'; UPDATE users SET status = 'calm' WHERE id = 1",
             False, {"blocking": False}),
    ],
    "dynamic-sql": [
        Case("DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN x int', 'users'); END $$",
             True, {"strategy": "manual"}),
        Case("DO $$ BEGIN EXECUTE 'ALTER TABLE users ADD COLUMN x int'; END $$", False,
             {"phase": "expand", "operation": "do"}),
    ],
    "refreshing-materialized-view": [
        Case("REFRESH MATERIALIZED VIEW user_stats", True, {"blocking": True}),
        Case("REFRESH MATERIALIZED VIEW CONCURRENTLY user_stats", False, {"blocking": False}),
    ],
    "detaching-partition": [
        Case("ALTER TABLE orders DETACH PARTITION orders_2020", True, {"phase": "contract"}),
        Case("CREATE TABLE p (id int) PARTITION BY RANGE (id); "
             "ALTER TABLE p DETACH PARTITION p1", False, {"phase": "expand"}),
    ],
    "attaching-partition": [
        Case("ALTER TABLE orders ATTACH PARTITION orders_2020 FOR VALUES FROM (1) TO (2)", True,
             {"blocking": True}),
        Case("CREATE TABLE o2 (id bigint); "
             "ALTER TABLE orders ATTACH PARTITION o2 FOR VALUES FROM (1) TO (2)", False,
             {"blocking": False}),
    ],
    "altering-domain": [
        Case("ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0)", True,
             {"phase": "contract", "blocking": True}),
        Case("ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID", True,
             {"phase": "contract", "blocking": False}),
        Case("CREATE DOMAIN d AS int; ALTER DOMAIN d ADD CONSTRAINT pos CHECK (VALUE > 0)",
             False, {"blocking": False}),
    ],
    "renaming-schema": [
        Case("ALTER TABLE users SET SCHEMA archive", True,
             {"phase": "breaking", "strategy": "expand-contract"}),
        Case("ALTER SCHEMA app RENAME TO app2", True, {"phase": "breaking"}),
        Case("CREATE TABLE t (id int); ALTER TABLE t SET SCHEMA archive", False,
             {"phase": "expand"}),
    ],
    "renaming-object": [
        Case("ALTER TYPE mood RENAME TO feeling", True, {"phase": "breaking"}),
        Case("CREATE TYPE m2 AS ENUM ('a'); ALTER TYPE m2 RENAME TO m3", False,
             {"phase": "expand"}),
    ],
    "changing-triggers": [
        Case("ALTER TABLE users DISABLE TRIGGER ALL", True, {"phase": "expand"}),
        Case("CREATE TABLE t (id int); CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW "
             "EXECUTE FUNCTION f()", False, {"blocking": False}),
    ],
})
