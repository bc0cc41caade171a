"""A revision's planned changes as steps: what runs in expand, what in contract, and what
apply refuses. Pure: no database.

- ``direct`` changes run as written, in their phase, each statement in its own
  transaction (or outside one where PostgreSQL requires it).
- ``expand-contract`` changes run the planner's steps: expand and migrate steps in expand,
  contract steps in contract; a step with a ``batch`` runs in primary-key ranges.
- ``shadow`` changes of one revision become one copy per table (all its changes folded into
  one ``--alter``), then one cutover of every copied table together; contract finishes them.
- Anything unsafe as written with no runnable steps is refused (unless allowed).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from pglast import ast
from pglast.stream import RawStream

from bluegreen.core.apply import sqltext
from bluegreen.core.apply.inverse import inverse_of
from bluegreen.core.apply.model import (
    ApplyPhase,
    Kind,
    Loss,
    Mirror,
    Refusal,
    RevisionSteps,
    StepSpec,
)
from bluegreen.planner import ops
from bluegreen.planner.model import TARGETS, Change, Phase, Severity, Step, Strategy, TargetTraits
from bluegreen.planner.schema import Schema

# Findings about how a migration tool runs statements, which apply does itself: each step
# in its own transaction (or none), always under lock_timeout.
RUNNER_RULES = frozenset({"missing-lock-timeout", "concurrently-in-transaction",
                          "adding-enum-value", "transaction-nesting",
                          "lock-held-in-transaction"})
# Rules whose expand steps add a column kept equal to an existing one by a trigger.
_DUAL_WRITE_RULES = frozenset({"renaming-column", "changing-column-type"})


def prepare_statements(statements: Sequence[ops.Statement]) -> None:
    """apply runs every statement outside the migration's own transaction, under its own
    lock_timeout: judge them so."""
    for statement in statements:
        statement.in_transaction = False
        statement.in_transaction_before = False
        statement.lock_timeout_set = True


def build_revision(statements: Sequence[ops.Statement], changes: Sequence[Change],
                   schema_before: Schema, *, allow_unsafe: bool = False,
                   target: TargetTraits = TARGETS["postgresql"]) -> RevisionSteps:
    """The steps of one revision (its statements, and the planner's changes for them)."""
    from bluegreen.planner.engine import compatibility_view

    builder = _Builder(copy.deepcopy(schema_before), allow_unsafe, target)
    consumed: set[int] = set()
    for index, (statement, change) in enumerate(zip(statements, changes, strict=True)):
        if index in consumed:
            continue
        view = compatibility_view(list(statements), index) if any(
            f.rule == "renaming-table" for f in change.findings) else None
        if view is not None:
            # The migration renames a table and gives blue a view under the old name: run
            # the two in one transaction, as written (the safe way to rename).
            builder.together(statement, change, statements[view])
            consumed.add(view)
            continue
        builder.add(statement, change)
    return builder.finish()


def unsafe_reason(change: Change) -> str | None:
    """Why apply will not run ``change`` as planned, or None when it can."""
    findings = [f for f in change.findings if f.rule not in RUNNER_RULES]
    worst = next((f for f in findings if f.severity is Severity.ERROR), None) or \
        (findings[0] if findings else None)
    why = f"{worst.message}; {worst.fix} [{worst.rule}]" if worst else "unsafe as written"
    if change.strategy is Strategy.MANUAL:
        return why
    if change.strategy is Strategy.DIRECT and (change.blocking
                                               or change.phase is Phase.BREAKING):
        return why
    if change.strategy is Strategy.SHADOW and not change.table:
        return why
    if change.strategy is Strategy.EXPAND_CONTRACT:
        runnable = [s for s in change.steps if s.sql or s.batch]
        if not runnable:
            return why
        for step in runnable:
            if step.batch is None and step.sql:
                try:
                    sqltext.split(step.sql)
                except sqltext.Unparsable:
                    return (f"its safe steps need a value filled in ({step.description}: "
                            f"{step.sql.splitlines()[0][:80]}); {worst.fix if worst else ''}"
                            ).rstrip("; ")
    return None


class _Builder:
    def __init__(self, schema: Schema, allow_unsafe: bool, target: TargetTraits) -> None:
        self.schema = schema
        self.allow_unsafe = allow_unsafe
        self.target = target
        self.out = RevisionSteps()
        self.settings: list[str] = []
        # phase -> table -> alter statements; and where in the phase the block goes
        self.shadow: dict[ApplyPhase, dict[str, list[str]]] = {p: {} for p in ApplyPhase}
        self.shadow_at: dict[ApplyPhase, int] = {}
        self.shadow_source: dict[ApplyPhase, str] = {}

    # ---- per statement --------------------------------------------------------------------

    def add(self, statement: ops.Statement, change: Change) -> None:
        if change.neutral:
            self._neutral(statement)
            return
        reason = unsafe_reason(change)
        if reason is not None and not self.allow_unsafe:
            self.out.refusals.append(Refusal(change.source, change.sql, reason))
        elif reason is not None or change.strategy is Strategy.DIRECT:
            phase = ApplyPhase.CONTRACT if change.phase is Phase.CONTRACT else ApplyPhase.EXPAND
            self._direct(change.sql, phase, change.source, _describe(change))
        elif change.strategy is Strategy.EXPAND_CONTRACT:
            self._planned(change, statement)
        else:  # SHADOW
            phase = ApplyPhase.CONTRACT if change.phase is Phase.CONTRACT else ApplyPhase.EXPAND
            alters = self.shadow[phase].setdefault(change.table or "", [])
            alters.append(change.sql.strip().rstrip(";"))
            self.shadow_at[phase] = len(self.out.phase(phase))
            self.shadow_source.setdefault(phase, change.source)
        for op in statement.ops:
            self.schema.apply(op, in_migration=True)

    def together(self, statement: ops.Statement, change: Change,
                 view: ops.Statement) -> None:
        """A rename and the compatibility view the migration itself creates: one step."""
        self._direct(f"{statement.sql};\n{view.sql}", ApplyPhase.EXPAND, change.source,
                     _describe(change) + " (and a view under the old name)")
        for op in [*statement.ops, *view.ops]:
            self.schema.apply(op, in_migration=True)

    def _neutral(self, statement: ops.Statement) -> None:
        for piece in sqltext.split(statement.sql) if statement.sql.strip() else []:
            found = sqltext.setting(piece.node)
            if found and found[0] not in sqltext.OWNED_SETTINGS:
                self.settings.append(found[1])

    def _direct(self, sql: str, phase: ApplyPhase, source: str, description: str,
                *, ours: bool = False, mirror: Mirror | None = None) -> None:
        """Statements as written: consecutive transactional ones in one step each, and each
        statement that must run outside a transaction in a step of its own."""
        pieces = [p for p in sqltext.split(sql) if not sqltext.is_transaction_control(p.node)]
        group: list[sqltext.Piece] = []

        def flush() -> None:
            if group:
                self._append(phase, Kind.SQL, description, source, group, ours, mirror)
                group.clear()

        for piece in pieces:
            if sqltext.outside_transaction(piece.node):
                flush()
                self._append(phase, Kind.CONCURRENT, description, source, [piece], ours, None)
            else:
                group.append(piece)
        flush()

    def _append(self, phase: ApplyPhase, kind: Kind, description: str, source: str,
                pieces: list[sqltext.Piece], ours: bool, mirror: Mirror | None) -> None:
        inverse: list[str] | None = []
        notes: list[str] = []
        expand = phase is ApplyPhase.EXPAND
        for piece in reversed(pieces if expand else []):
            undo, note = inverse_of(piece.node, piece.text, self.schema, target=self.target,
                                    created_by_bluegreen=ours)
            if note:
                notes.append(note)
            if undo is None or inverse is None:
                inverse = None
            else:
                inverse += undo
        self.out.phase(phase).append(StepSpec(
            phase=phase, kind=kind, description=description, source=source,
            statements=[p.text for p in pieces], settings=list(self.settings),
            inverse=inverse if expand else None, inverse_note="; ".join(notes) or None,
            mirror=mirror, losses=[loss for p in pieces if expand for loss in _losses(p, mirror)]
        ))

    def _planned(self, change: Change, statement: ops.Statement) -> None:
        mirror_of = _dual_write_columns(change, statement)
        added = _added_columns(change.steps)
        for step in change.steps:
            phase = ApplyPhase.CONTRACT if step.phase == "contract" else ApplyPhase.EXPAND
            if step.batch is not None:
                inverse = _batch_inverse(step, added, self.schema)
                # A step with no SQL explains how to batch by hand; apply does it.
                description = step.description if step.sql else \
                    f"{_describe(change)} (in primary-key ranges)"
                self.out.phase(phase).append(StepSpec(
                    phase=phase, kind=Kind.BATCH, description=description,
                    source=change.source, statements=[step.batch.statement],
                    settings=list(self.settings), batch=step.batch, inverse=inverse,
                    inverse_note=None if inverse is not None or phase is ApplyPhase.CONTRACT
                    else "a data change is not undone; the rows keep their new values"))
            elif step.sql:
                mirror = _mirror_for(step, mirror_of)
                self._direct(step.sql, phase, change.source, step.description, ours=True,
                             mirror=mirror)

    # ---- the revision's shadow copies -----------------------------------------------------

    def finish(self) -> RevisionSteps:
        for phase in ApplyPhase:
            tables = self.shadow[phase]
            if not tables:
                continue
            source = self.shadow_source[phase]
            block = [StepSpec(phase=phase, kind=Kind.COPY, source=source, tables=[table],
                              alter=";\n".join(alters) if alters != [""] else "",
                              description=f"build {table} in its new shape beside the live "
                                          "table and keep it in sync",
                              inverse=[], settings=list(self.settings))
                     for table, alters in tables.items()]
            names = list(tables)
            block.append(StepSpec(
                phase=phase, kind=Kind.CUTOVER, source=source, tables=names, inverse=[],
                description=f"switch {', '.join(names)} to the new shape in one transaction "
                            "(the old tables stay, kept in sync, for a rollback)"))
            finish = StepSpec(phase=ApplyPhase.CONTRACT, kind=Kind.FINISH, source=source,
                              tables=names, inverse=None,
                              description=f"drop the old version of {', '.join(names)}")
            steps = self.out.phase(phase)
            at = self.shadow_at[phase] if phase is ApplyPhase.EXPAND else len(steps)
            steps[at:at] = block
            if phase is ApplyPhase.EXPAND:
                self.out.contract.insert(0, finish)
            else:
                steps.append(finish)
        return self.out


def _losses(piece: sqltext.Piece, mirror: Mirror | None) -> list[Loss]:
    """What undoing ``piece`` would throw away, as queries that count it."""
    node = piece.node

    def render(item: ast.Node) -> str:
        return RawStream()(item)

    if isinstance(node, ast.CreateStmt):
        name = render(node.relation)
        return [Loss(f"table {name}", f"SELECT count(*) FROM {name}")]
    if not isinstance(node, ast.AlterTableStmt):
        return []
    table = render(node.relation)
    out = []
    for cmd in node.cmds:
        if getattr(cmd, "subtype", None) is None or cmd.subtype.name != "AT_AddColumn":
            continue
        column = cmd.def_.colname
        quoted = render(ast.ColumnRef(fields=(ast.String(sval=column),)))
        if mirror is not None and mirror.column == column:
            source = render(ast.ColumnRef(fields=(ast.String(sval=mirror.source),)))
            condition = f"{quoted} IS NOT NULL AND {source} IS NULL"
        else:
            default = next((c.raw_expr for c in cmd.def_.constraints or ()
                            if c.contype.name == "CONSTR_DEFAULT"), None)
            constant = isinstance(default, ast.A_Const) or (
                isinstance(default, ast.TypeCast) and isinstance(default.arg, ast.A_Const))
            condition = (f"{quoted} IS DISTINCT FROM {render(default)}" if constant
                         else f"{quoted} IS NOT NULL")
        out.append(Loss(f"{table}.{column}", f"SELECT count(*) FROM {table} WHERE {condition}"))
    return out


def _describe(change: Change) -> str:
    text = " ".join(change.sql.split()) or change.operation
    return text if len(text) <= 100 else text[:97] + "..."


def _dual_write_columns(change: Change, statement: ops.Statement) -> tuple[str, str] | None:
    """(table, old column) when the change's steps add a column mirrored from ``old``."""
    if not any(f.rule in _DUAL_WRITE_RULES for f in change.findings):
        return None
    op = next((o for o in statement.ops if isinstance(o, ops.AlterColumnOp)), None)
    if op is None:
        return None
    return op.table_name, op.column_name.lower()


def _added_by(sql: str) -> list[tuple[str, str]]:
    """(table, column) of every ADD COLUMN in ``sql``."""
    out = []
    for piece in sqltext.split(sql):
        node = piece.node
        for cmd in getattr(node, "cmds", None) or ():
            if getattr(cmd, "subtype", None) is not None and cmd.subtype.name == "AT_AddColumn":
                out.append((node.relation.relname.lower(), cmd.def_.colname.lower()))
    return out


def _added_columns(steps: Sequence[Step]) -> set[tuple[str, str]]:
    return {pair for step in steps if step.phase == "expand" and step.sql
            and step.batch is None for pair in _added_by(step.sql)}


def _mirror_for(step: Step, mirror_of: tuple[str, str] | None) -> Mirror | None:
    if mirror_of is None or step.phase != "expand" or not step.sql:
        return None
    added = _added_by(step.sql)
    return Mirror(mirror_of[0], added[0][1], mirror_of[1]) if added else None


def _batch_inverse(step: Step, added: set[tuple[str, str]], schema: Schema
                   ) -> list[str] | None:
    """A backfill into columns added in this migration is undone with those columns."""
    assert step.batch is not None
    if step.phase == "contract":
        return None
    node = sqltext.split(step.batch.statement)[0].node
    targets = [t.name.lower() for t in getattr(node, "targetList", None) or ()]
    table_name = step.batch.table.split(".")[-1].strip('"').lower()
    table = schema.table(step.batch.table)

    def new(column: str) -> bool:
        info = table.columns.get(column) if table is not None else None
        return (table_name, column) in added or bool(info and info.added_in_migration)

    return [] if targets and all(new(t) for t in targets) else None
