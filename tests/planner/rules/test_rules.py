"""Every rule, both ways: what it reports and what it lets through."""

from __future__ import annotations

import pytest

from bluegreen.planner.rules import all_rules, rule_ids
from tests.planner.helpers import plan_sql
from tests.planner.rules.cases import CASES, DIALECT_CASES

PARAMS = [
    pytest.param(rule, case, id=f"{rule}-{'err' if case.fires else 'ok'}-{i}")
    for rule, cases in CASES.items() for i, case in enumerate(cases)
]


@pytest.mark.parametrize(("rule", "case"), PARAMS)
def test_rule_case(rule, case):
    plan = plan_sql(case.sql, pg_version=case.pg_version, dialect=case.dialect)
    change = plan.changes[-1]
    fired = [f.rule for f in change.findings]
    assert (rule in fired) == case.fires, (case.sql, fired)
    for key, value in case.expect.items():
        actual = getattr(change, key)
        actual = getattr(actual, "value", actual)
        assert actual == value, (case.sql, key, change.to_dict())
    for finding in change.findings:
        assert finding.message and finding.fix, finding


def test_every_rule_has_cases_both_ways():
    for rule in rule_ids():
        cases = CASES.get(rule, [])
        assert any(c.fires for c in cases), f"{rule} has no case where it fires"
        assert any(not c.fires for c in cases), f"{rule} has no case where it passes"


def test_every_rule_documents_problem_and_alternative():
    # The full form (bad and good examples too) is checked in tests/planner/test_docs.py.
    for rule in all_rules():
        assert "Problem:" in rule.doc and "Safe alternative:" in rule.doc, rule.id
        assert rule.module.__name__.endswith(rule.id.replace("-", "_"))


@pytest.mark.parametrize("rule", sorted(CASES))
def test_suppression_comment_silences_the_rule(rule):
    case = next(c for c in CASES[rule] if c.fires)
    statements = case.sql.rsplit(";", 1)
    sql = (statements[0] + ";\n" if len(statements) > 1 else "") + \
        f"-- bluegreen: ignore {rule}\n" + statements[-1].strip()
    plan = plan_sql(sql, pg_version=case.pg_version, dialect=case.dialect)
    change = plan.changes[-1]
    assert rule not in [f.rule for f in change.findings]
    assert rule in change.suppressed


@pytest.mark.parametrize(("rule", "case"), DIALECT_CASES)
def test_rules_apply_to_their_dialect_only(rule, case):
    change = plan_sql(case.sql, dialect=case.dialect).changes[-1]
    assert rule not in [f.rule for f in change.findings]


def test_plan_sqlite_from_a_database(tmp_path):
    import sqlite3

    from bluegreen.commands import plan

    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, age INTEGER)")
    conn.close()
    (tmp_path / "m.sql").write_text("ALTER TABLE users ALTER COLUMN age TYPE bigint;\n"
                                    "ALTER TABLE nope ADD COLUMN x int;\n")
    from bluegreen.errors import TableNotFound

    with pytest.raises(TableNotFound):
        plan([tmp_path / "m.sql"], database_url=f"sqlite:///{db}")
    (tmp_path / "m.sql").write_text("ALTER TABLE users ALTER COLUMN age TYPE bigint;\n")
    result = plan([tmp_path / "m.sql"], database_url=f"sqlite:///{db}")
    assert result.target.dialect == "sqlite"
    assert [f.rule for f in result.changes[0].findings] == ["sqlite-unsupported-alter"]
