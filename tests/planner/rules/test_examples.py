"""Every rule's docstring examples, run: the bad one makes the rule fire, the good one does
not (or, marked ``Good (contract phase):``, only places it in the contract phase), and the
good one runs as written on the database it targets."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from bluegreen.commands import schema_from_sql
from bluegreen.planner.docs import EXAMPLE_SCHEMA, RuleDoc, rule_doc
from bluegreen.planner.engine import build_plan
from bluegreen.planner.model import Phase, Plan, Severity
from bluegreen.planner.rules import all_rules
from bluegreen.planner.sources.sql import parse_sql

# One row per example table, so a good example meets a table in use, not an empty one.
ROWS = """
INSERT INTO users (id, email, name, age) VALUES (1, 'ann@example.com', 'Ann', 34);
INSERT INTO orders (id, user_id, total) VALUES (1, 1, 9.50);
"""

DOCS = [pytest.param(rule_doc(rule), id=rule.id) for rule in all_rules()]


def plan_example(doc: RuleDoc, sql: str) -> Plan:
    """Judge one of ``doc``'s examples as ``bluegreen plan --schema`` would."""
    schema = schema_from_sql(EXAMPLE_SCHEMA + doc.schema, "schema.sql")
    return build_plan(parse_sql(sql, f"{doc.rule}.sql"), schema, doc.target)


def findings_of(doc: RuleDoc, plan: Plan) -> list[tuple]:
    return [(change, finding) for change in plan.changes for finding in change.findings
            if finding.rule == doc.rule]


@pytest.mark.parametrize("doc", DOCS)
def test_bad_example_fires(doc: RuleDoc):
    plan = plan_example(doc, doc.bad)
    assert findings_of(doc, plan), f"{doc.rule}: the bad example does not fire\n{doc.bad}"


@pytest.mark.parametrize("doc", DOCS)
def test_good_example_does_not_fire(doc: RuleDoc):
    found = findings_of(doc, plan_example(doc, doc.good))
    if not doc.good_in_contract_phase:
        assert not found, (f"{doc.rule}: the good example fires: "
                           f"{[f.message for _, f in found]}\n{doc.good}")
        return
    assert found, f"{doc.rule}: the rule says nothing about it: write Good: instead"
    for change, finding in found:
        assert finding.severity is not Severity.ERROR, (change.sql, finding.message)
        assert change.phase is Phase.CONTRACT, (change.sql, change.phase)
        assert not change.blocking, (change.sql, "blocking")


def _statements(doc: RuleDoc, sql: str) -> list[str]:
    return [statement.sql for statement in parse_sql(sql, f"{doc.rule}.sql")]


@pytest.mark.parametrize("doc", [p for p in DOCS if p.values[0].dialect == "postgresql"])
def test_good_example_runs_on_postgresql(doc: RuleDoc, pg: psycopg.Connection):
    """Each statement on its own (as psql runs a file), on tables that have a row."""
    before = {row[0] for row in pg.execute("SELECT nspname FROM pg_namespace")}
    try:
        pg.execute(EXAMPLE_SCHEMA + doc.schema + ROWS)
        for statement in _statements(doc, doc.good):
            pg.execute(statement)
        assert pg.info.transaction_status == psycopg.pq.TransactionStatus.IDLE, \
            f"{doc.rule}: the good example leaves a transaction open"
    finally:
        pg.rollback()
        for (name,) in pg.execute("SELECT nspname FROM pg_namespace").fetchall():
            if name not in before:  # a schema the example created (public is reset by pg)
                pg.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(
                    psycopg.sql.Identifier(name)))


@pytest.mark.parametrize("doc", [p for p in DOCS if p.values[0].dialect == "sqlite"])
def test_good_example_runs_on_sqlite(doc: RuleDoc):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.executescript(EXAMPLE_SCHEMA + doc.schema + ROWS)
        for statement in _statements(doc, doc.good):
            conn.execute(statement)
    finally:
        conn.close()
