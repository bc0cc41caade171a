"""The planner rules' documentation, read from the rule modules' docstrings.

A rule module's docstring has this form (sections in this order; ``Target:`` and ``Schema:``
may be left out)::

    What the rule catches, in one paragraph: the README's rules table shows it.

    Problem: why it hurts blue, green or the app (one or more paragraphs).

    Safe alternative: what to do instead.

    Target: PostgreSQL 11

    Schema:

        CREATE TYPE mood AS ENUM ('happy', 'sad');

    Bad:

        ALTER TYPE mood RENAME VALUE 'sad' TO 'blue';

    Good:

        ALTER TYPE mood ADD VALUE 'blue';

``Target:`` is ``PostgreSQL``, ``PostgreSQL N`` or ``SQLite`` (default: PostgreSQL 15, the
planner's default). The examples are judged against :data:`EXAMPLE_SCHEMA` (tables ``users``
and ``orders``) plus the rule's own ``Schema:`` DDL; their SQL is indented by four spaces. The
planner must report the bad example under the rule and say nothing about the good one. For a
rule whose safe way is still a contract change (dropping a column, adding a foreign key NOT
VALID), the header is ``Good (contract phase):``: the rule reports it, but only to place it
in the contract phase (a warning or a note, not blocking, not breaking).

``python -m bluegreen.planner.docs`` prints the README's rules section rendered from the
docstrings; ``--write`` puts it into README.md between :data:`BEGIN` and :data:`END`;
``--check`` exits 1 when README.md differs.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

from bluegreen.planner.model import TARGETS, Target
from bluegreen.planner.rules import Rule, all_rules

# The tables every rule's examples run against (on PostgreSQL and on SQLite alike).
EXAMPLE_SCHEMA = """\
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email varchar(100) NOT NULL UNIQUE,
    name text,
    age integer,
    created_at timestamptz
);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL,
    status text NOT NULL DEFAULT 'new',
    total numeric(10, 2)
);
CREATE INDEX orders_user_id_idx ON orders (user_id);
"""

DEFAULT_PG_VERSION = 15
README = Path(__file__).resolve().parents[2] / "README.md"
WRITE_COMMAND = "python -m bluegreen.planner.docs --write"
BEGIN = f"<!-- rules: generated from the rule modules' docstrings by `{WRITE_COMMAND}` -->"
END = "<!-- end of rules -->"

_SECTIONS = ("Problem", "Safe alternative", "Target", "Schema", "Bad", "Good")
_REQUIRED = ("Problem", "Safe alternative", "Bad", "Good")
_CODE = ("Schema", "Bad", "Good")
_HEADER = re.compile(r"^(Problem|Safe alternative|Target|Schema|Bad|Good)( \(contract phase\))?:"
                     r"(?: (.*))?$")
_TARGET = re.compile(r"^(?:PostgreSQL(?: (\d+))?|(SQLite))$")


class RuleDocError(ValueError):
    """A rule's docstring does not follow the form (see this module's docstring)."""

    def __init__(self, rule: str, problem: str) -> None:
        super().__init__(f"{rule}: {problem} (the form is in bluegreen/planner/docs.py)")
        self.rule = rule
        self.problem = problem


@dataclass(frozen=True)
class RuleDoc:
    """One rule's documentation: its docstring, parsed."""

    rule: str
    summary: str  # what it catches (the first paragraph, on one line)
    problem: str
    alternative: str
    bad: str  # SQL
    good: str  # SQL
    schema: str = ""  # DDL run after EXAMPLE_SCHEMA, before the examples
    dialect: str = "postgresql"
    pg_version: int = DEFAULT_PG_VERSION
    good_in_contract_phase: bool = False  # the rule still reports the good example, as contract
    dialects: tuple[str, ...] = ("postgresql", "sqlite")  # the rule's DIALECTS

    @property
    def target(self) -> Target:
        """The planner target the examples are judged for."""
        traits = TARGETS[self.dialect]
        version = self.pg_version if traits.versioned else traits.default_version
        return Target(self.dialect, version, "option")

    @property
    def path(self) -> str:
        """The rule module, relative to the repository root."""
        return f"bluegreen/planner/rules/{self.rule.replace('-', '_')}.py"


def parse_rule_doc(rule: str, doc: str) -> RuleDoc:
    """Parse a rule module's docstring; :class:`RuleDocError` says what breaks the form."""
    lines = inspect.cleandoc(doc).splitlines()
    if not lines or not lines[0].strip():
        raise RuleDocError(rule, "the docstring is empty")
    first_blank = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    summary = " ".join(line.strip() for line in lines[:first_blank])
    if _HEADER.match(lines[0]):
        raise RuleDocError(rule, "the docstring must start with what the rule catches")
    found: dict[str, list[str]] = {}
    contract_good = False
    current: list[str] | None = None
    for line in lines[first_blank:]:
        header = _HEADER.match(line)
        if header:
            name, qualifier, rest = header.groups()
            if name in found:
                raise RuleDocError(rule, f"two {name}: sections")
            if qualifier and name != "Good":
                raise RuleDocError(rule, f"{name}{qualifier}: only Good takes (contract phase)")
            order = [s for s in _SECTIONS if s in found]
            if order and _SECTIONS.index(order[-1]) > _SECTIONS.index(name):
                raise RuleDocError(rule, f"{name}: comes after {order[-1]}: (the order is "
                                         f"{', '.join(_SECTIONS)})")
            if name in _CODE and rest:
                raise RuleDocError(rule, f"{name}: takes an indented block of SQL on the "
                                         "lines after it, not text on its line")
            contract_good = contract_good or bool(qualifier)
            current = found[name] = [rest] if rest else []
        elif current is None:
            if line.strip():
                raise RuleDocError(rule, "the summary must be one paragraph, followed by "
                                         "Problem:")
        else:
            current.append(line)
    missing = [name for name in _REQUIRED if name not in found]
    if missing:
        raise RuleDocError(rule, f"no {': or '.join(missing)}: section")
    text = {name: _prose(found[name]) for name in found if name not in _CODE}
    code = {name: _code(rule, name, found[name]) for name in found if name in _CODE}
    dialect, pg_version = "postgresql", DEFAULT_PG_VERSION
    if "Target" in text:
        target = _TARGET.match(text["Target"])
        if not target:
            raise RuleDocError(rule, f"Target: {text['Target']!r} is not PostgreSQL, "
                                     "PostgreSQL N or SQLite")
        if target.group(2):
            dialect = "sqlite"
        elif target.group(1):
            pg_version = int(target.group(1))
    return RuleDoc(
        rule=rule, summary=summary, problem=text["Problem"],
        alternative=text["Safe alternative"], bad=code["Bad"], good=code["Good"],
        schema=code.get("Schema", ""), dialect=dialect, pg_version=pg_version,
        good_in_contract_phase=contract_good,
    )


def _prose(lines: list[str]) -> str:
    return "\n".join(lines).strip()


def _code(rule: str, name: str, lines: list[str]) -> str:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    body = [line for line in lines if line.strip()]
    if not body:
        raise RuleDocError(rule, f"{name}: has no SQL")
    if any(not line.startswith("    ") for line in body):
        raise RuleDocError(rule, f"{name}: its SQL must be indented by four spaces")
    return textwrap.dedent("\n".join(lines)).strip() + "\n"


def rule_doc(rule: Rule) -> RuleDoc:
    """The parsed docstring of ``rule``, with the dialects the rule applies to."""
    doc = parse_rule_doc(rule.id, rule.module.__doc__ or "")
    if doc.dialect not in rule.dialects:
        raise RuleDocError(rule.id, f"Target: is {doc.dialect}, but the rule's DIALECTS are "
                                    f"{', '.join(rule.dialects)}")
    return replace(doc, dialects=tuple(rule.dialects))


def rule_docs() -> list[RuleDoc]:
    """Every rule's documentation, in rule id order."""
    return [rule_doc(rule) for rule in all_rules()]


def render_rules_section(docs: list[RuleDoc] | None = None) -> str:
    """The README's rules section, between (and including) the BEGIN and END markers."""
    docs = rule_docs() if docs is None else docs
    rows = [f"| [`{d.rule}`]({d.path}) | {_markdown(d.summary)} |" for d in docs]
    both = [d.rule for d in docs if {"postgresql", "sqlite"} <= set(d.dialects)]
    sqlite_only = [d.rule for d in docs if "postgresql" not in d.dialects]
    parts = [
        BEGIN,
        "| rule | what it catches |",
        "| --- | --- |",
        *rows,
        "",
        _wrap("Each rule lives in `bluegreen/planner/rules/<rule_id>.py` (linked above), "
              "whose docstring gives what it catches, the problem, the safe alternative, and a "
              "bad and a good example that a test runs through the planner (and the good one "
              "on the database); its cases, both ways, are in `tests/planner/rules/cases.py`. "
              "[CONTRIBUTING.md](CONTRIBUTING.md) says how to add one."),
        "",
        _wrap(f"With `--dialect sqlite` the rules that run are those for both dialects "
              f"({_names(both)}) and the SQLite-only ones ({_names(sqlite_only)}); the "
              "others are PostgreSQL only."),
        END,
    ]
    return "\n".join(parts) + "\n"


def _markdown(text: str) -> str:
    # Docstrings quote code reStructuredText-style; the README uses Markdown.
    return text.replace("``", "`").replace("|", "\\|")


def _names(rules: list[str]) -> str:
    quoted = [f"`{r}`" for r in rules]
    return ", ".join(quoted[:-1]) + " and " + quoted[-1] if len(quoted) > 1 else "".join(quoted)


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=92, break_long_words=False, break_on_hyphens=False)


def replace_rules_section(readme: str, section: str) -> str:
    """``readme`` with the text from BEGIN to END replaced by ``section``."""
    start = readme.find(BEGIN)
    end = readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no rules section: put the lines {BEGIN} and {END} "
                         "where it goes")
    return readme[:start] + section.rstrip("\n") + readme[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    """Print, write (``--write``) or check (``--check``) the README's rules section."""
    parser = argparse.ArgumentParser(
        prog="python -m bluegreen.planner.docs",
        description="Render the README's rules section from the rule modules' docstrings.")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="rewrite the section in README")
    action.add_argument("--check", action="store_true",
                        help="exit 1 when README's section differs from the rules")
    parser.add_argument("--readme", type=Path, default=README, help=f"default: {README}")
    args = parser.parse_args(argv)
    try:
        section = render_rules_section()
        if not (args.write or args.check):
            sys.stdout.write(section)
            return 0
        readme = args.readme.read_text()
        updated = replace_rules_section(readme, section)
    except (RuleDocError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        if updated != readme:
            print(f"{args.readme}: the rules section is out of date; run `{WRITE_COMMAND}`",
                  file=sys.stderr)
            return 1
        return 0
    if updated != readme:
        args.readme.write_text(updated)
        print(f"{args.readme}: rules section rewritten", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
