"""The planner's real corpus: statements from public projects' migrations, with verdicts.

How the verdicts were judged (from the PostgreSQL 15 documentation, before looking at what
bluegreen says; the same rules for every entry):

- A table the snippet does not create is in use by blue and large. A table created earlier
  in the snippet is new: everything on it is expand and does not block.
- **blocking** (``!``): the statement holds a lock that stops the app's reads or writes for
  a time that grows with a table: a rewrite (ALTER COLUMN TYPE that is not binary-coercible,
  a volatile or identity default, SET [UN]LOGGED), a scan under a strong lock (a valid CHECK
  or FOREIGN KEY, SET NOT NULL without a validated CHECK, an inline CHECK or UNIQUE on ADD
  COLUMN), an index build without CONCURRENTLY (and REINDEX), an UPDATE or DELETE whose WHERE
  does not bound it to a few rows by key (row locks on a growing set of rows), or any
  statement that scans while an earlier statement of the same transaction holds a strong
  lock (ALTER TABLE ... ADD COLUMN then VALIDATE, then an UPDATE of the same table).
- **phase**: expand (additive or relaxing: a nullable or defaulted column, a new table,
  index or enum value, a wider type, dropping a CHECK or FOREIGN KEY, a backfill);
  contract (removes or tightens what blue may use: DROP COLUMN / TABLE / INDEX / TRIGGER,
  DROP DEFAULT, SET NOT NULL, a CHECK, FOREIGN KEY or UNIQUE on columns blue writes, DELETE);
  breaking (changes in place what blue uses: a rename of a column, table or type, a type
  change blue reads differently such as timestamp -> timestamptz or bool -> enum, a NOT NULL
  that blue's inserts cannot satisfy). A constraint or NOT NULL on a column added in the
  same migration that blue never writes is expand when blue's inserts get a default.
- A DO block gets the worst verdict of the statements inside it.
- Transaction control and SET are expand and never block.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snippet:
    """Consecutive statements of one migration file, with one expected verdict each."""

    source: str  # owner/repo:path of the quoted file
    sql: str
    expect: tuple[str, ...]  # "expand", "contract!", ...: phase, "!" when blocking
    transaction: bool = True  # the project's tool runs the file as one transaction
    schema: str = ""  # DDL the statements run on, from the same project's earlier migrations
    note: str = ""

    @property
    def verdicts(self) -> list[tuple[str, bool]]:
        return [(e.rstrip("!"), e.endswith("!")) for e in self.expect]


def is_unsafe(phase: str, blocking: bool) -> bool:
    """What a gate before deploying green must stop: anything but a non-blocking expand."""
    return phase != "expand" or blocking


def bluegreen_verdicts(snippet: Snippet) -> list[tuple[str, bool, bool]]:
    """(phase, blocking, stopped by the CI gate) for each statement of ``snippet``, from the
    bluegreen on the import path (imported here, so bench/ can point at another tree)."""
    from bluegreen.commands import schema_from_sql
    from bluegreen.planner.engine import build_plan
    from bluegreen.planner.model import Target
    from bluegreen.planner.schema import Schema
    from bluegreen.planner.sources.sql import parse_sql

    schema = schema_from_sql(snippet.schema, "schema.sql") if snippet.schema else Schema()
    statements = parse_sql(snippet.sql, "migration.sql", in_transaction=snippet.transaction)
    plan = build_plan(statements, schema, Target("postgresql", 15, "option"))
    return [(c.phase.value, c.blocking, c.is_problem or c.phase.value != "expand")
            for c in plan.changes]
