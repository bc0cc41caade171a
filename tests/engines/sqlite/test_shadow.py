"""SQLite's table rebuild: the CREATE TABLE of the new shape from the live one and ALTERs."""

from __future__ import annotations

import sqlite3

import pytest

from bluegreen.engines.sqlite.shadow import new_shape
from bluegreen.errors import BadAlter

LIVE = ("CREATE TABLE orders (id INTEGER PRIMARY KEY AUTOINCREMENT, customer TEXT NOT NULL, "
        "amount integer NOT NULL DEFAULT 0, note varchar(20))")


def columns(create: str) -> list[tuple]:
    conn = sqlite3.connect(":memory:")
    conn.execute(create)
    return [(r[1], r[2].lower(), *r[3:6]) for r in conn.execute("PRAGMA table_info(orders)")]


def test_type_nullability_and_default_changes():
    shape = new_shape(LIVE, "ALTER TABLE orders ALTER COLUMN amount TYPE bigint;\n"
                            "ALTER TABLE orders ALTER COLUMN note SET NOT NULL;\n"
                            "ALTER TABLE orders ALTER COLUMN note SET DEFAULT 'x';\n"
                            "ALTER TABLE orders ALTER COLUMN customer DROP NOT NULL", "orders")
    assert "AUTOINCREMENT" in shape
    assert columns(shape) == [("id", "integer", 0, None, 1), ("customer", "text", 0, None, 0),
                              ("amount", "bigint", 1, "0", 0),
                              ("note", "varchar(20)", 1, "'x'", 0)]


def test_columns_and_constraints_added_and_dropped():
    shape = new_shape(LIVE, "ALTER TABLE orders ADD COLUMN paid boolean DEFAULT false;\n"
                            "ALTER TABLE orders DROP COLUMN note;\n"
                            "ALTER TABLE orders ADD CONSTRAINT positive CHECK (amount >= 0);\n"
                            "ALTER TABLE orders RENAME COLUMN customer TO buyer", "orders")
    assert [c[0] for c in columns(shape)] == ["id", "buyer", "amount", "paid"]
    assert "CONSTRAINT positive CHECK (amount >= 0)" in shape


def test_what_cannot_be_rebuilt_is_refused_with_the_reason():
    with pytest.raises(BadAlter, match="no column missing"):
        new_shape(LIVE, "ALTER TABLE orders ALTER COLUMN missing TYPE bigint", "orders")
    with pytest.raises(BadAlter, match="not supported"):
        new_shape(LIVE, "ALTER TABLE orders ALTER COLUMN amount SET STATISTICS 10", "orders")
