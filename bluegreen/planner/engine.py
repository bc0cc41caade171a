"""Judge statements in order, each against the schema the earlier ones left behind."""

from __future__ import annotations

from bluegreen.errors import TableNotFound
from bluegreen.planner import ops
from bluegreen.planner.locks import BLOCKS_WRITES, lock_for, locks_of, strongest
from bluegreen.planner.model import Change, Finding, Phase, Plan, Severity, Strategy, Target
from bluegreen.planner.rules import HeldLock, RuleContext, Transaction, all_rules
from bluegreen.planner.schema import Schema

# Operations on a table that must already exist (in the schema or earlier in the migration).
_NEEDS_TABLE = (
    ops.AddColumnOp, ops.DropColumnOp, ops.AlterColumnOp, ops.RenameTableOp,
    ops.CreateIndexOp, ops.CreateForeignKeyOp, ops.CreateCheckConstraintOp,
    ops.CreateUniqueConstraintOp, ops.CreatePrimaryKeyOp, ops.ValidateConstraintOp,
    ops.DataChangeOp, ops.RewriteTableOp,
)
# Statements that belong to no phase: they run wherever they are needed.
NEUTRAL = (ops.TransactionOp, ops.SessionSettingOp)


def build_plan(statements: list[ops.Statement], schema: Schema, target: Target) -> Plan:
    """Judge ``statements`` in order against ``schema``, which they change as they go.

    Locks accumulate through a transaction: a statement that works for a time growing with a
    table while an earlier statement of its transaction holds a lock the app waits on blocks
    the app for that time too (``lock-held-in-transaction``). A transaction is a BEGIN ...
    COMMIT block, an Alembic revision outside ``autocommit_block()``, a file read with
    ``in_transaction`` (a tool that runs it as one), or else one statement.
    """
    rules = [rule for rule in all_rules() if target.dialect in rule.dialects]
    early = [rule for rule in rules if not rule.late]
    late = [rule for rule in rules if rule.late]
    changes: list[Change] = []
    current_file = None
    transaction = Transaction()
    for statement in statements:
        if current_file is not None and statement.file != current_file:
            schema.end_migration()
        if statement.file != current_file:
            earlier_in_file: list[ops.Statement] = []
            transaction = Transaction()
        current_file = statement.file
        if not statement.in_transaction_before:
            transaction = Transaction()  # the previous statement's transaction has ended
        transaction.explicit = statement.in_transaction_before or statement.in_transaction
        names = [ops.operation_name(op) for op in statement.ops]
        table = next((ops.table_of(op) for op in statement.ops if ops.table_of(op)), None)
        change = Change(
            source=statement.source, sql=statement.sql,
            operation=statement.operation or (names[0] if len(names) == 1 else "alter_table"),
            table=table, operations=names, file=statement.file, line=statement.line,
        )
        change.neutral = all(isinstance(op, NEUTRAL) for op in statement.ops)
        for op in statement.ops:
            _check_table_exists(op, schema, statement)
            ctx = RuleContext(op=op, statement=statement, schema=schema, target=target,
                              earlier_in_file=earlier_in_file, change=change,
                              transaction=transaction)
            if not ctx.table_is_new:
                change.lock = strongest(change.lock, lock_for(op))
            info = ctx.table
            if info is not None and info.rows is not None and not info.created_in_migration:
                change.table_rows = info.rows
            for group in (early, late):
                for rule in group:
                    if not isinstance(op, rule.operations):
                        continue
                    verdict = rule.check(ctx)
                    if verdict is None:
                        continue
                    if rule.id in statement.suppressed:
                        if rule.id not in change.suppressed:
                            change.suppressed.append(rule.id)
                        continue
                    change.apply(verdict)
                    ctx.op_blocking = ctx.op_blocking or (verdict.blocking
                                                          and not verdict.transaction)
            _hold_locks(op, ctx, transaction)
            schema.apply(op, in_migration=True)
        # Errors first, then warnings, then notes; rules keep their order within each.
        change.findings.sort(key=lambda f: -list(Severity).index(f.severity))
        earlier_in_file.append(statement)
        changes.append(change)
    _credit_compatibility_views(statements, changes)
    plan = Plan(target=target, changes=changes)
    if not schema.known:
        plan.assumptions.append(
            "no schema given (--schema or --database-url): every table not created in the "
            "migration is assumed to exist, be in use and be large; column types are unknown, "
            "so type changes are judged as rewrites")
    if target.single_writer:
        plan.assumptions.append(
            "SQLite: one writer at a time, so every statement that writes holds the database "
            "write lock until its transaction ends")
    elif target.version_source == "default":
        plan.assumptions.append(
            f"PostgreSQL {target.version} assumed: pass --pg-version or --database-url")
    return plan


def _hold_locks(op, ctx: RuleContext, transaction: Transaction) -> None:
    """Remember the locks ``op`` keeps until its transaction ends (COMMIT ends it)."""
    if isinstance(op, ops.TransactionOp):
        if op.kind in ("commit", "rollback"):
            transaction.held.clear()
            transaction.new_enum_values.clear()
        return
    if isinstance(op, ops.AddEnumValueOp):
        transaction.new_enum_values[op.value] = (op.name, ctx.statement.source)
    for table, mode in locks_of(op).items():
        if mode not in BLOCKS_WRITES or ctx.schema.is_new(table):
            continue
        key = table.lower()
        held = transaction.held.get(key)
        if held is None or strongest(held.mode, mode) != held.mode:
            transaction.held[key] = HeldLock(table, mode, ctx.statement.source, ctx.sql,
                                             id(ctx.statement))


def _check_table_exists(op, schema: Schema, statement: ops.Statement) -> None:
    if not schema.known or not isinstance(op, _NEEDS_TABLE):
        return
    name = ops.table_of(op)
    if name and schema.table(name) is None and name.lower() not in schema.views:
        raise TableNotFound(name, statement.source, schema.description)


def compatibility_view(statements: list[ops.Statement], index: int) -> int | None:
    """The index of the statement that creates a view under a renamed table's old name,
    when ``statements[index]`` renames a table and that view comes later in the same file;
    None otherwise."""
    renames = [op for op in statements[index].ops if isinstance(op, ops.RenameTableOp)]
    if not renames:
        return None
    old = renames[0].table_name.lower()
    for later in range(index + 1, len(statements)):
        statement = statements[later]
        if statement.file != statements[index].file:
            return None
        if any(isinstance(op, ops.CreateViewOp) and not op.materialized
               and op.name.lower() == old for op in statement.ops):
            return later
    return None


def _credit_compatibility_views(statements: list[ops.Statement],
                                changes: list[Change]) -> None:
    """A table renamed and given a view under its old name in the same transaction is the
    safe way to rename (blue reads and writes through the view): not breaking."""
    for index, change in enumerate(changes):
        if not any(f.rule == "renaming-table" for f in change.findings):
            continue
        view = compatibility_view(statements, index)
        if view is None or not all(statements[k].in_transaction_before
                                   for k in range(index + 1, view + 1)):
            continue
        change.findings = [f for f in change.findings if f.rule != "renaming-table"]
        change.findings.append(Finding(
            "renaming-table", Severity.INFO,
            f"renamed with a view under the old name in the same transaction "
            f"({statements[view].source}): blue keeps working through the view",
            "drop the view in a later revision, once blue is retired"))
        change.phase = Phase.EXPAND
        change.strategy = Strategy.DIRECT
        change.steps = []
