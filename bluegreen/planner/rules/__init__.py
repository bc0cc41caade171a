"""Planner rules: one module per rule, named after its id (``renaming_column`` is
``renaming-column``). A rule module has:

- a docstring: what it catches, the problem, the safe alternative, and a bad and a good
  example (the form is in ``bluegreen/planner/docs.py``, which renders the README's
  rules table from it);
- ``OPERATIONS``: the operation classes it looks at;
- ``DIALECTS`` (optional): the targets it applies to, both PostgreSQL and SQLite if absent;
- ``LATE`` (optional): True for rules that judge the operation together with what the
  other rules said about it and with its transaction (``ctx.change``, ``ctx.transaction``);
- ``check(ctx) -> Verdict | None``: its judgement of one operation.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from types import ModuleType

from bluegreen.planner.model import Change, Target
from bluegreen.planner.ops import Operation, Statement, sql_of, table_of
from bluegreen.planner.schema import ColumnInfo, Schema, TableInfo


@dataclass
class HeldLock:
    """A lock an earlier statement of the transaction took on a table blue uses."""

    table: str
    mode: str
    source: str  # file:line of the statement that took it
    sql: str
    statement_id: int = 0  # id() of that Statement: locks of the same statement don't count


@dataclass
class Transaction:
    """What the statements of the current transaction have done so far."""

    held: dict[str, HeldLock] = field(default_factory=dict)  # table -> strongest lock
    # An enum value added in this transaction -> (type, file:line): unusable until commit.
    new_enum_values: dict[str, tuple[str, str]] = field(default_factory=dict)
    explicit: bool = False  # inside a transaction block (not one statement's own)


@dataclass
class RuleContext:
    """What a rule sees: one operation, and the schema as the earlier statements left it."""

    op: Operation
    statement: Statement
    schema: Schema
    target: Target
    earlier_in_file: list[Statement] = field(default_factory=list)
    change: Change | None = None  # the verdicts so far, for LATE rules
    transaction: Transaction = field(default_factory=Transaction)
    op_blocking: bool = False  # an earlier rule found this operation blocking on its own

    @property
    def sql(self) -> str:
        """This operation's SQL (its own text inside a DO block)."""
        return sql_of(self.op, self.statement)

    @property
    def table_name(self) -> str | None:
        return table_of(self.op)

    @property
    def table(self) -> TableInfo | None:
        return self.schema.table(self.table_name)

    @property
    def table_is_new(self) -> bool:
        """Created earlier in this migration: nobody else uses it yet."""
        return self.schema.is_new(self.table_name)

    def column(self, name: str) -> ColumnInfo | None:
        return self.schema.column(self.table_name, name)

    def column_is_new(self, name: str) -> bool:
        column = self.column(name)
        return self.table_is_new or bool(column and column.added_in_migration)

    @property
    def pg_version(self) -> int:
        return self.target.version


@dataclass(frozen=True)
class Rule:
    id: str
    module: ModuleType

    @property
    def operations(self) -> tuple[type, ...]:
        return self.module.OPERATIONS

    @property
    def dialects(self) -> tuple[str, ...]:
        return getattr(self.module, "DIALECTS", ("postgresql", "sqlite"))

    @property
    def late(self) -> bool:
        return bool(getattr(self.module, "LATE", False))

    @property
    def doc(self) -> str:
        return (self.module.__doc__ or "").strip()

    def check(self, ctx: RuleContext):
        return self.module.check(ctx)


@cache
def all_rules() -> tuple[Rule, ...]:
    rules = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        rules.append(Rule(info.name.replace("_", "-"), module))
    return tuple(rules)


def rule_ids() -> list[str]:
    return [rule.id for rule in all_rules()]
