"""The planner's vocabulary: Alembic's operation classes, plus the few statements Alembic
has no operation for. SQL input and Alembic input both become a list of ``Statement``.

Alembic ops carry PostgreSQL details in their ``kw``: ``postgresql_concurrently`` on
index ops (as Alembic itself does), and bluegreen's own ``bluegreen_not_valid`` on
constraint ops and ``bluegreen_using_index`` on unique/primary key constraints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alembic.operations import ops as alembic_ops
from alembic.operations.ops import MigrateOperation


class ValidateConstraintOp(MigrateOperation):
    def __init__(self, constraint_name: str, table_name: str, schema: str | None = None):
        self.constraint_name = constraint_name
        self.table_name = table_name
        self.schema = schema


class CreateEnumOp(MigrateOperation):
    def __init__(self, name: str, values: list[str]):
        self.name = name
        self.values = values


class AddEnumValueOp(MigrateOperation):
    def __init__(self, name: str, value: str, if_not_exists: bool = False):
        self.name = name
        self.value = value
        self.if_not_exists = if_not_exists


class RenameEnumValueOp(MigrateOperation):
    def __init__(self, name: str, old_value: str, new_value: str):
        self.name = name
        self.old_value = old_value
        self.new_value = new_value


class CreateViewOp(MigrateOperation):
    def __init__(self, name: str, tables: list[str], replace: bool, materialized: bool):
        self.name = name
        self.tables = tables
        self.replace = replace
        self.materialized = materialized


class DropObjectOp(MigrateOperation):
    """DROP VIEW / MATERIALIZED VIEW / TYPE / SEQUENCE / FUNCTION / SCHEMA ..."""

    def __init__(self, kind: str, names: list[str]):
        self.kind = kind
        self.names = names


class DataChangeOp(MigrateOperation):
    """UPDATE, DELETE, INSERT ... SELECT or TRUNCATE on a table."""

    def __init__(self, kind: str, table_name: str, has_where: bool, has_limit: bool = False):
        self.kind = kind
        self.table_name = table_name
        self.has_where = has_where
        self.has_limit = has_limit  # rows picked by a sub-select with LIMIT: one batch
        self.bounded_by: list[str] = []  # columns the WHERE pins to constants
        self.in_loop = False  # inside a loop of a DO block
        self.loop_commits = False  # ... that COMMITs each round: batched


class RewriteTableOp(MigrateOperation):
    """A statement that rewrites a whole table under ACCESS EXCLUSIVE: VACUUM FULL, CLUSTER,
    SET TABLESPACE, SET LOGGED / UNLOGGED, SET ACCESS METHOD."""

    def __init__(self, table_name: str | None, what: str):
        self.table_name = table_name
        self.what = what


class ReindexOp(MigrateOperation):
    def __init__(self, target: str, kind: str, concurrently: bool, table_name: str | None):
        self.target = target
        self.kind = kind
        self.concurrently = concurrently
        self.table_name = table_name


class RenameIndexOp(MigrateOperation):
    def __init__(self, old_name: str, new_name: str):
        self.old_name = old_name
        self.new_name = new_name


class RefreshMaterializedViewOp(MigrateOperation):
    def __init__(self, name: str, concurrently: bool, with_data: bool = True):
        self.name = name
        self.concurrently = concurrently
        self.with_data = with_data


class PartitionOp(MigrateOperation):
    """ALTER TABLE parent ATTACH / DETACH PARTITION child."""

    def __init__(self, table_name: str, partition: str, action: str, concurrently: bool = False,
                 finalize: bool = False):
        self.table_name = table_name
        self.partition = partition
        self.action = action  # attach | detach
        self.concurrently = concurrently
        self.finalize = finalize


class CreateDomainOp(MigrateOperation):
    def __init__(self, name: str, base_type: str, has_constraints: bool):
        self.name = name
        self.base_type = base_type
        self.has_constraints = has_constraints


class AlterDomainOp(MigrateOperation):
    """ALTER DOMAIN: ``action`` is add_constraint, validate_constraint, set_not_null,
    drop_not_null, drop_constraint, set_default or drop_default."""

    def __init__(self, name: str, action: str, constraint: str | None = None,
                 not_valid: bool = False):
        self.name = name
        self.action = action
        self.constraint = constraint
        self.not_valid = not_valid


class MoveObjectOp(MigrateOperation):
    """ALTER SCHEMA ... RENAME, ALTER ... SET SCHEMA, and renames of types, domains,
    functions, sequences, materialized views: every name blue uses for it changes."""

    def __init__(self, kind: str, name: str, new_name: str, how: str,
                 table_name: str | None = None):
        self.kind = kind  # schema | table | view | type | function | ...
        self.name = name
        self.new_name = new_name
        self.how = how  # rename | set schema
        self.table_name = table_name


class TriggerOp(MigrateOperation):
    """CREATE TRIGGER / CREATE RULE / ALTER TABLE ENABLE|DISABLE TRIGGER on a table."""

    def __init__(self, table_name: str, what: str, name: str | None = None):
        self.table_name = table_name
        self.what = what  # create trigger | create rule | enable trigger | disable trigger
        self.name = name


class CreateFunctionOp(MigrateOperation):
    def __init__(self, name: str, replace_existing: bool):
        self.name = name
        self.replace_existing = replace_existing  # OR REPLACE: it may exist already


class DynamicSqlOp(MigrateOperation):
    """SQL whose text bluegreen cannot see: EXECUTE of a string built at run time, or a DO
    block in another language or that does not parse."""

    def __init__(self, what: str):
        self.what = what


class LockTableOp(MigrateOperation):
    """LOCK TABLE: the lock is held until the transaction ends."""

    def __init__(self, table_name: str, mode: str):
        self.table_name = table_name
        self.mode = mode


class TransactionOp(MigrateOperation):
    def __init__(self, kind: str):
        self.kind = kind  # begin | commit | rollback


class SessionSettingOp(MigrateOperation):
    def __init__(self, name: str, value: str | None):
        self.name = name
        self.value = value


class OtherStatementOp(MigrateOperation):
    """A statement bluegreen has no rule for; reported, never silently passed."""

    def __init__(self, kind: str, table_name: str | None = None):
        self.kind = kind
        self.table_name = table_name


# snake_case names for output ("operation" in the JSON format).
OPERATION_NAMES: dict[type, str] = {
    alembic_ops.AddColumnOp: "add_column",
    alembic_ops.DropColumnOp: "drop_column",
    alembic_ops.CreateTableOp: "create_table",
    alembic_ops.DropTableOp: "drop_table",
    alembic_ops.RenameTableOp: "rename_table",
    alembic_ops.CreateIndexOp: "create_index",
    alembic_ops.DropIndexOp: "drop_index",
    alembic_ops.CreateForeignKeyOp: "create_foreign_key",
    alembic_ops.CreateCheckConstraintOp: "create_check_constraint",
    alembic_ops.CreateUniqueConstraintOp: "create_unique_constraint",
    alembic_ops.CreatePrimaryKeyOp: "create_primary_key",
    alembic_ops.AddConstraintOp: "add_constraint",
    alembic_ops.DropConstraintOp: "drop_constraint",
    alembic_ops.BulkInsertOp: "bulk_insert",
    alembic_ops.ExecuteSQLOp: "execute",
    alembic_ops.CreateTableCommentOp: "create_table_comment",
    alembic_ops.DropTableCommentOp: "drop_table_comment",
    ValidateConstraintOp: "validate_constraint",
    CreateEnumOp: "create_enum",
    AddEnumValueOp: "add_enum_value",
    RenameEnumValueOp: "rename_enum_value",
    CreateViewOp: "create_view",
    DropObjectOp: "drop_object",
    DataChangeOp: "data_change",
    RewriteTableOp: "rewrite_table",
    ReindexOp: "reindex",
    RenameIndexOp: "rename_index",
    RefreshMaterializedViewOp: "refresh_materialized_view",
    CreateDomainOp: "create_domain",
    AlterDomainOp: "alter_domain",
    DynamicSqlOp: "dynamic_sql",
    CreateFunctionOp: "create_function",
    LockTableOp: "lock_table",
    TransactionOp: "transaction",
    SessionSettingOp: "set",
    OtherStatementOp: "other",
}


def operation_name(op: MigrateOperation) -> str:
    if isinstance(op, alembic_ops.AlterColumnOp):
        if op.modify_name:
            return "rename_column"
        if op.modify_type is not None:
            return "alter_column_type"
        if op.modify_nullable is not None:
            return "set_not_null" if op.modify_nullable is False else "drop_not_null"
        if op.modify_server_default is not False:
            return "drop_default" if op.modify_server_default is None else "set_default"
        return "alter_column"
    if isinstance(op, DataChangeOp):
        return op.kind
    if isinstance(op, DropObjectOp):
        return "drop_" + op.kind.replace(" ", "_")
    if isinstance(op, CreateViewOp):
        return "create_materialized_view" if op.materialized else "create_view"
    if isinstance(op, PartitionOp):
        return op.action + "_partition"
    if isinstance(op, MoveObjectOp):
        return ("rename_" if op.how == "rename" else "set_schema_") + op.kind.replace(" ", "_")
    if isinstance(op, TriggerOp):
        return op.what.replace(" ", "_")
    for cls in type(op).__mro__:
        if cls in OPERATION_NAMES:
            return OPERATION_NAMES[cls]
    return type(op).__name__


def table_of(op: MigrateOperation) -> str | None:
    """The table an operation changes, unqualified, or None."""
    for attr in ("table_name", "source_table"):
        name = getattr(op, attr, None)
        if isinstance(name, str):
            return name
    if isinstance(op, alembic_ops.RenameTableOp):
        return op.table_name
    if isinstance(op, CreateViewOp):
        return op.name
    if isinstance(op, RefreshMaterializedViewOp):
        return op.name
    return None


def sql_of(op: MigrateOperation, statement: Statement) -> str:
    """The SQL of one operation: its own text inside a DO block, else the statement's."""
    return getattr(op, "bluegreen_sql", None) or statement.sql


@dataclass
class Statement:
    """One SQL statement or one Alembic op, with where it came from.

    ``ops`` holds more than one operation for an ALTER TABLE with several sub-commands.
    """

    file: str
    line: int
    sql: str
    ops: list[MigrateOperation]
    suppressed: set[str] = field(default_factory=set)
    in_transaction: bool = True
    in_transaction_before: bool = True
    # A lock_timeout set outside the statements (Alembic's env.py sets it for every revision).
    lock_timeout_set: bool = False
    operation: str | None = None  # overrides the name from the ops (a DO block: "do")

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"
