from __future__ import annotations

from bluegreen.commands import schema_from_sql
from bluegreen.planner.engine import build_plan
from bluegreen.planner.model import Plan, Target
from bluegreen.planner.schema import Schema
from bluegreen.planner.sources.sql import parse_sql

SCHEMA = """
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email varchar(100) NOT NULL,
    name text,
    age integer,
    score numeric(10, 2),
    created_at timestamp,
    status text DEFAULT 'active',
    city varchar(50)
);
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, total integer);
CREATE INDEX users_email_idx ON users (email);
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE VIEW active_users AS SELECT * FROM users;
ALTER TABLE users ADD CONSTRAINT users_age_not_null CHECK (age IS NOT NULL);
ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
"""


def plan_sql(sql: str, *, schema: str | None = SCHEMA, pg_version: int = 15,
             dialect: str = "postgresql") -> Plan:
    known = schema_from_sql(schema, "schema.sql") if schema is not None else Schema()
    version = pg_version if dialect == "postgresql" else 3
    return build_plan(parse_sql(sql, "migration.sql"), known,
                      Target(dialect, version, "option"))
