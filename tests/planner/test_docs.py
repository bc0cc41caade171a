"""The rule docstrings' form, and the README's rules section rendered from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bluegreen.planner import docs
from bluegreen.planner.docs import RuleDocError, parse_rule_doc
from bluegreen.planner.rules import all_rules, rule_ids

README = Path(__file__).parents[2] / "README.md"

FULL = '''Renaming an enum value
blue still writes.

Problem: blue still writes the old label.

It stops existing at once.

Safe alternative: add the new value.

Target: PostgreSQL 11

Schema:

    CREATE TYPE payment_state AS ENUM ('pending', 'settled');

Bad:

    ALTER TYPE payment_state
        RENAME VALUE 'settled' TO 'paid';

Good:

    -- the old one stays
    ALTER TYPE payment_state ADD VALUE 'paid';
'''


def test_the_form_parses():
    doc = parse_rule_doc("renaming-enum-value", FULL)
    assert doc.summary == "Renaming an enum value blue still writes."
    assert doc.problem == "blue still writes the old label.\n\nIt stops existing at once."
    assert doc.alternative == "add the new value."
    assert (doc.dialect, doc.pg_version) == ("postgresql", 11)
    assert doc.schema == "CREATE TYPE payment_state AS ENUM ('pending', 'settled');\n"
    assert doc.bad == "ALTER TYPE payment_state\n    RENAME VALUE 'settled' TO 'paid';\n"
    assert doc.good.startswith("-- the old one stays\nALTER TYPE")
    assert not doc.good_in_contract_phase
    assert doc.target.dialect == "postgresql" and doc.target.version == 11
    assert doc.path == "bluegreen/planner/rules/renaming_enum_value.py"


def test_target_and_schema_are_optional_and_good_may_be_a_contract_step():
    text = FULL.replace("Target: PostgreSQL 11\n\n", "").replace(
        "Schema:\n\n    CREATE TYPE payment_state AS ENUM ('pending', 'settled');\n\n", "")
    doc = parse_rule_doc("r", text.replace("Good:", "Good (contract phase):"))
    assert (doc.dialect, doc.pg_version, doc.schema) == ("postgresql", 15, "")
    assert doc.good_in_contract_phase
    sqlite = parse_rule_doc("r", FULL.replace("Target: PostgreSQL 11", "Target: SQLite"))
    assert sqlite.dialect == "sqlite" and sqlite.target.dialect == "sqlite"
    assert parse_rule_doc("r", FULL.replace("PostgreSQL 11", "PostgreSQL")).pg_version == 15


@pytest.mark.parametrize(("text", "says"), [
    (FULL.replace("Bad:", "Worse:"), "no Bad: section"),
    (FULL.split("Good:")[0], "no Good: section"),
    (FULL.replace("Problem: blue", "Trouble: blue"), "followed by Problem:"),
    (FULL.replace("Safe alternative:", "Safe way:"), "no Safe alternative: section"),
    (FULL.replace("Target: PostgreSQL 11", "Target: MySQL 8"), "is not PostgreSQL"),
    (FULL.replace("    ALTER TYPE payment_state ADD", "ALTER TYPE payment_state ADD"),
     "indented by four spaces"),
    (FULL.replace("Bad:\n\n   ", "Bad: ALTER TYPE x\n\n   "), "indented block of SQL"),
    (FULL.replace("Bad:", "Bad (contract phase):"), "only Good takes"),
    (FULL + "\nBad:\n\n    SELECT 1;\n", "two Bad: sections"),
    (FULL.replace("Target: PostgreSQL 11\n\n", "") + "\nTarget: SQLite\n", "comes after"),
    (FULL.replace("Good:\n\n    -- the old one stays\n    ALTER TYPE payment_state ADD "
                  "VALUE 'paid';\n", "Good:\n\n"), "Good: has no SQL"),
    ("Problem: x\n\nSafe alternative: y\n", "must start with what the rule catches"),
    (FULL.replace("\nProblem:", "\nstray text\n\nProblem:"), "one paragraph"),
    ("", "empty"),
])
def test_a_docstring_off_the_form_says_what_is_wrong(text, says):
    with pytest.raises(RuleDocError) as error:
        parse_rule_doc("some-rule", text)
    assert says in str(error.value)
    assert str(error.value).startswith("some-rule: ")


def test_every_rule_follows_the_form():
    parsed = docs.rule_docs()  # raises RuleDocError naming the rule that does not
    assert [doc.rule for doc in parsed] == rule_ids()
    for doc, rule in zip(parsed, all_rules(), strict=True):
        assert doc.dialects == tuple(rule.dialects)
        assert doc.summary.endswith(".") and "\n" not in doc.summary, doc.rule


def test_a_target_outside_the_rules_dialects_is_refused(monkeypatch):
    rule = next(r for r in all_rules() if r.id == "sqlite-add-column")
    monkeypatch.setattr(rule.module, "__doc__", rule.module.__doc__.replace(
        "Target: SQLite", "Target: PostgreSQL"))
    with pytest.raises(RuleDocError, match="DIALECTS are sqlite"):
        docs.rule_doc(rule)


def test_the_section_lists_every_rule_with_a_link_and_the_dialects():
    section = docs.render_rules_section()
    assert section.startswith(docs.BEGIN + "\n") and section.endswith(docs.END + "\n")
    for doc in docs.rule_docs():
        assert f"| [`{doc.rule}`]({doc.path}) |" in section
        assert (Path(__file__).parents[2] / doc.path).is_file()
    assert "`sqlite-add-column` and `sqlite-unsupported-alter`); the others" in section
    assert "``" not in section  # reStructuredText quotes become Markdown ones


def test_readme_rules_section_matches_the_rules():
    readme = README.read_text()
    expected = docs.replace_rules_section(readme, docs.render_rules_section())
    assert readme == expected, (
        "README.md's rules section differs from the rule modules' docstrings: run "
        f"`.venv/bin/{docs.WRITE_COMMAND}` and commit README.md")


def test_check_write_and_print(tmp_path, capsys):
    stale = tmp_path / "README.md"
    stale.write_text(f"# x\n\n{docs.BEGIN}\n| rule |\n{docs.END}\n\n## next\n")
    assert docs.main(["--check", "--readme", str(stale)]) == 1
    assert docs.WRITE_COMMAND in capsys.readouterr().err
    assert docs.main(["--write", "--readme", str(stale)]) == 0
    text = stale.read_text()
    assert text.startswith("# x\n\n" + docs.render_rules_section())
    assert text.endswith(docs.END + "\n\n## next\n")
    assert docs.main(["--check", "--readme", str(stale)]) == 0
    assert docs.main(["--write", "--readme", str(stale)]) == 0 and stale.read_text() == text
    capsys.readouterr()
    assert docs.main([]) == 0
    assert capsys.readouterr().out == docs.render_rules_section()


def test_a_readme_without_markers_is_refused(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n")
    assert docs.main(["--write", "--readme", str(readme)]) == 2
    assert "no rules section" in capsys.readouterr().err
    assert readme.read_text() == "# x\n"


def test_contributing_walkthrough_points_at_what_exists():
    import re

    from bluegreen.planner import steps
    from bluegreen.planner.rules import RuleContext

    root = Path(__file__).parents[2]
    text = (root / "CONTRIBUTING.md").read_text()
    paths = set(re.findall(r"`((?:bluegreen|tests|bench|\.ci)/[\w./-]+)`", text))
    assert len(paths) > 10
    assert [p for p in paths if not (root / p).exists()] == []
    for name in re.findall(r"`ctx\.(\w+)", text):
        assert hasattr(RuleContext, name) or name in RuleContext.__dataclass_fields__, name
    for name in ("ident", "object_name", "backfill", "dual_write_column",
                 "not_null_via_check", "shadow_copy"):
        assert f"`{name}`" in text and hasattr(steps, name), name
    assert docs.WRITE_COMMAND in text
    assert "## Adding a planner rule" in text and "## Adding an engine" in text
