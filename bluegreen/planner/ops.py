"""The planner's vocabulary: light mirrors of the Alembic operation classes it uses (same
names, same attributes, same meaning), plus the few statements Alembic has no operation
for. SQL input and Alembic input both become a list of ``Statement``; importing this module
loads neither Alembic nor SQLAlchemy (``sources/alembic_ops.py`` converts Alembic's ops).

Where Alembic holds SQLAlchemy objects, these hold what the planner reads of them: a column
type is a ``SqlType`` (None when unknown), a default, a CHECK condition or an index
expression is its SQL text.

Ops carry PostgreSQL details in their ``kw``: ``postgresql_concurrently`` on index ops (as
Alembic itself does), and bluegreen's own ``bluegreen_not_valid`` on constraint ops and
``bluegreen_using_index`` on unique/primary key constraints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from bluegreen.planner.types import SqlType


class Operation:
    """One change a statement makes (Alembic's ``MigrateOperation``)."""

    # The operation's own SQL when it is one statement of a DO block (see ``sql_of``).
    bluegreen_sql: str | None = None


# ---- columns and constraints: what the planner reads of SQLAlchemy's ------------------------

class Column:
    """A column of CREATE TABLE or ADD COLUMN (SQLAlchemy's ``Column``).

    ``server_default`` is the default's SQL text; ``computed`` the expression of a stored
    generated column; ``info`` holds what SQL says and a Column has no attribute for:
    ``bluegreen_unique``, ``bluegreen_check`` (the inline CHECK's condition) and
    ``bluegreen_references`` (the table an inline REFERENCES names).
    """

    def __init__(self, name: str, type: SqlType | None = None, *,  # noqa: A002 (Column's own)
                 nullable: bool = True, primary_key: bool = False,
                 server_default: str | None = None, computed: str | None = None,
                 identity: bool = False, unique: bool = False,
                 info: dict[str, Any] | None = None) -> None:
        self.name = name
        self.type = type
        self.nullable = nullable
        self.primary_key = primary_key
        self.server_default = server_default
        self.computed = computed
        self.identity = identity
        self.unique = unique
        self.info: dict[str, Any] = info if info is not None else {}


class Constraint:
    """A constraint of CREATE TABLE (SQLAlchemy's ``Constraint``) on ``columns``."""

    def __init__(self, *columns: str, name: str | None = None) -> None:
        self.columns = list(columns)
        self.name = name


class PrimaryKeyConstraint(Constraint):
    pass


class UniqueConstraint(Constraint):
    pass


class CheckConstraint(Constraint):
    def __init__(self, sqltext: str, name: str | None = None) -> None:
        super().__init__(name=name)
        self.sqltext = sqltext


class ForeignKeyConstraint(Constraint):
    """``referred_table``: the table the foreign key references."""

    def __init__(self, columns: Sequence[str], referred_table: str | None,
                 name: str | None = None) -> None:
        super().__init__(*columns, name=name)
        self.referred_table = referred_table


# ---- Alembic's operations ---------------------------------------------------------------------

class CreateTableOp(Operation):
    def __init__(self, table_name: str, columns: Sequence[Column | Constraint], *,
                 schema: str | None = None, **kw: Any) -> None:
        self.table_name = table_name
        self.columns = list(columns)
        self.schema = schema
        self.kw = kw


class DropTableOp(Operation):
    def __init__(self, table_name: str, *, schema: str | None = None) -> None:
        self.table_name = table_name
        self.schema = schema


class RenameTableOp(Operation):
    def __init__(self, old_table_name: str, new_table_name: str, *,
                 schema: str | None = None) -> None:
        self.table_name = old_table_name
        self.new_table_name = new_table_name
        self.schema = schema


class AddColumnOp(Operation):
    def __init__(self, table_name: str, column: Column, *, schema: str | None = None,
                 **kw: Any) -> None:
        self.table_name = table_name
        self.column = column
        self.schema = schema
        self.kw = kw


class DropColumnOp(Operation):
    def __init__(self, table_name: str, column_name: str, *, schema: str | None = None,
                 **kw: Any) -> None:
        self.table_name = table_name
        self.column_name = column_name
        self.schema = schema
        self.kw = kw


# The new type of an ALTER COLUMN that Alembic gave as a type PostgreSQL cannot render (or
# NullType): a type change all the same, to a type bluegreen does not know.
UNREADABLE_TYPE = SqlType("?")


class AlterColumnOp(Operation):
    """ALTER COLUMN: what is left at its default (None, or False for the server default,
    where None means DROP DEFAULT) does not change. Types are ``SqlType``s (``modify_type``
    may be ``UNREADABLE_TYPE``); a server default is SQL text."""

    def __init__(self, table_name: str, column_name: str, *, schema: str | None = None,
                 existing_type: SqlType | None = None,
                 modify_nullable: bool | None = None,
                 modify_server_default: str | None | Literal[False] = False,
                 modify_name: str | None = None, modify_type: SqlType | None = None,
                 **kw: Any) -> None:
        self.table_name = table_name
        self.column_name = column_name
        self.schema = schema
        self.existing_type = existing_type
        self.modify_nullable = modify_nullable
        self.modify_server_default = modify_server_default
        self.modify_name = modify_name
        self.modify_type = modify_type
        self.kw = kw


class CreateIndexOp(Operation):
    """``columns``: column names, or an expression's SQL text."""

    def __init__(self, index_name: str | None, table_name: str, columns: Sequence[str], *,
                 schema: str | None = None, unique: bool = False, **kw: Any) -> None:
        self.index_name = index_name
        self.table_name = table_name
        self.columns = list(columns)
        self.schema = schema
        self.unique = unique
        self.kw = kw


class DropIndexOp(Operation):
    def __init__(self, index_name: str, table_name: str | None = None, *,
                 schema: str | None = None, **kw: Any) -> None:
        self.index_name = index_name
        self.table_name = table_name
        self.schema = schema
        self.kw = kw


class AddConstraintOp(Operation):
    """ADD CONSTRAINT; Alembic's constraint ops below, or one the planner has no class for
    (an EXCLUDE constraint from Alembic)."""

    def __init__(self, constraint_name: str | None, table_name: str, *,
                 schema: str | None = None, **kw: Any) -> None:
        self.constraint_name = constraint_name
        self.table_name = table_name
        self.schema = schema
        self.kw = kw


class CreatePrimaryKeyOp(AddConstraintOp):
    def __init__(self, constraint_name: str | None, table_name: str, columns: Sequence[str],
                 *, schema: str | None = None, **kw: Any) -> None:
        super().__init__(constraint_name, table_name, schema=schema, **kw)
        self.columns = list(columns)


class CreateUniqueConstraintOp(AddConstraintOp):
    def __init__(self, constraint_name: str | None, table_name: str, columns: Sequence[str],
                 *, schema: str | None = None, **kw: Any) -> None:
        super().__init__(constraint_name, table_name, schema=schema, **kw)
        self.columns = list(columns)


class CreateCheckConstraintOp(AddConstraintOp):
    """``condition``: the CHECK's SQL text."""

    def __init__(self, constraint_name: str | None, table_name: str, condition: str, *,
                 schema: str | None = None, **kw: Any) -> None:
        super().__init__(constraint_name, table_name, schema=schema, **kw)
        self.condition = condition


class CreateForeignKeyOp(AddConstraintOp):
    """Alembic names the table ``source_table`` here (``table_name`` is the same)."""

    def __init__(self, constraint_name: str | None, source_table: str, referent_table: str,
                 local_cols: Sequence[str], remote_cols: Sequence[str], **kw: Any) -> None:
        super().__init__(constraint_name, source_table, **kw)
        self.source_table = source_table
        self.referent_table = referent_table
        self.local_cols = list(local_cols)
        self.remote_cols = list(remote_cols)


class DropConstraintOp(Operation):
    def __init__(self, constraint_name: str, table_name: str, type_: str | None = None, *,
                 schema: str | None = None) -> None:
        self.constraint_name = constraint_name
        self.table_name = table_name
        self.constraint_type = type_
        self.schema = schema


class CreateTableCommentOp(Operation):
    def __init__(self, table_name: str, comment: str | None, *,
                 schema: str | None = None) -> None:
        self.table_name = table_name
        self.comment = comment
        self.schema = schema


class DropTableCommentOp(Operation):
    def __init__(self, table_name: str, *, schema: str | None = None) -> None:
        self.table_name = table_name
        self.schema = schema


class BulkInsertOp(Operation):
    """``table`` is the table's name (Alembic holds the Table itself)."""

    def __init__(self, table: str, rows: Sequence[dict[str, Any]]) -> None:
        self.table = table
        self.rows = list(rows)


class UnknownOp(Operation):
    """An Alembic operation the planner has no class for (a custom one): named after its
    class, on the table it names, and judged only by the rules that judge every op."""

    def __init__(self, name: str, table_name: str | None = None) -> None:
        self.name = name
        self.table_name = table_name


# ---- statements Alembic has no operation for -------------------------------------------------

class ValidateConstraintOp(Operation):
    def __init__(self, constraint_name: str, table_name: str, schema: str | None = None):
        self.constraint_name = constraint_name
        self.table_name = table_name
        self.schema = schema


class CreateEnumOp(Operation):
    def __init__(self, name: str, values: list[str]):
        self.name = name
        self.values = values


class AddEnumValueOp(Operation):
    def __init__(self, name: str, value: str, if_not_exists: bool = False):
        self.name = name
        self.value = value
        self.if_not_exists = if_not_exists


class RenameEnumValueOp(Operation):
    def __init__(self, name: str, old_value: str, new_value: str):
        self.name = name
        self.old_value = old_value
        self.new_value = new_value


class CreateViewOp(Operation):
    def __init__(self, name: str, tables: list[str], replace: bool, materialized: bool):
        self.name = name
        self.tables = tables
        self.replace = replace
        self.materialized = materialized


class DropObjectOp(Operation):
    """DROP VIEW / MATERIALIZED VIEW / TYPE / SEQUENCE / FUNCTION / SCHEMA ..."""

    def __init__(self, kind: str, names: list[str]):
        self.kind = kind
        self.names = names


class DataChangeOp(Operation):
    """UPDATE, DELETE, INSERT ... SELECT or TRUNCATE on a table."""

    def __init__(self, kind: str, table_name: str, has_where: bool, has_limit: bool = False):
        self.kind = kind
        self.table_name = table_name
        self.has_where = has_where
        self.has_limit = has_limit  # rows picked by a sub-select with LIMIT: one batch
        self.bounded_by: list[str] = []  # columns the WHERE pins to constants
        self.in_loop = False  # inside a loop of a DO block
        self.loop_commits = False  # ... that COMMITs each round: batched


class RewriteTableOp(Operation):
    """A statement that rewrites a whole table under ACCESS EXCLUSIVE: VACUUM FULL, CLUSTER,
    SET TABLESPACE, SET LOGGED / UNLOGGED, SET ACCESS METHOD."""

    def __init__(self, table_name: str | None, what: str):
        self.table_name = table_name
        self.what = what


class ReindexOp(Operation):
    def __init__(self, target: str, kind: str, concurrently: bool, table_name: str | None):
        self.target = target
        self.kind = kind
        self.concurrently = concurrently
        self.table_name = table_name


class RenameIndexOp(Operation):
    def __init__(self, old_name: str, new_name: str):
        self.old_name = old_name
        self.new_name = new_name


class RefreshMaterializedViewOp(Operation):
    def __init__(self, name: str, concurrently: bool, with_data: bool = True):
        self.name = name
        self.concurrently = concurrently
        self.with_data = with_data


class PartitionOp(Operation):
    """ALTER TABLE parent ATTACH / DETACH PARTITION child."""

    def __init__(self, table_name: str, partition: str, action: str, concurrently: bool = False,
                 finalize: bool = False):
        self.table_name = table_name
        self.partition = partition
        self.action = action  # attach | detach
        self.concurrently = concurrently
        self.finalize = finalize


class CreateDomainOp(Operation):
    def __init__(self, name: str, base_type: str, has_constraints: bool):
        self.name = name
        self.base_type = base_type
        self.has_constraints = has_constraints


class AlterDomainOp(Operation):
    """ALTER DOMAIN: ``action`` is add_constraint, validate_constraint, set_not_null,
    drop_not_null, drop_constraint, set_default or drop_default."""

    def __init__(self, name: str, action: str, constraint: str | None = None,
                 not_valid: bool = False):
        self.name = name
        self.action = action
        self.constraint = constraint
        self.not_valid = not_valid


class MoveObjectOp(Operation):
    """ALTER SCHEMA ... RENAME, ALTER ... SET SCHEMA, and renames of types, domains,
    functions, sequences, materialized views: every name blue uses for it changes."""

    def __init__(self, kind: str, name: str, new_name: str, how: str,
                 table_name: str | None = None):
        self.kind = kind  # schema | table | view | type | function | ...
        self.name = name
        self.new_name = new_name
        self.how = how  # rename | set schema
        self.table_name = table_name


class TriggerOp(Operation):
    """CREATE TRIGGER / CREATE RULE / ALTER TABLE ENABLE|DISABLE TRIGGER on a table."""

    def __init__(self, table_name: str, what: str, name: str | None = None):
        self.table_name = table_name
        self.what = what  # create trigger | create rule | enable trigger | disable trigger
        self.name = name


class CreateFunctionOp(Operation):
    def __init__(self, name: str, replace_existing: bool):
        self.name = name
        self.replace_existing = replace_existing  # OR REPLACE: it may exist already


class DynamicSqlOp(Operation):
    """SQL whose text bluegreen cannot see: EXECUTE of a string built at run time, or a DO
    block in another language or that does not parse."""

    def __init__(self, what: str):
        self.what = what


class LockTableOp(Operation):
    """LOCK TABLE: the lock is held until the transaction ends."""

    def __init__(self, table_name: str, mode: str):
        self.table_name = table_name
        self.mode = mode


class TransactionOp(Operation):
    def __init__(self, kind: str):
        self.kind = kind  # begin | commit | rollback


class SessionSettingOp(Operation):
    def __init__(self, name: str, value: str | None):
        self.name = name
        self.value = value


class OtherStatementOp(Operation):
    """A statement bluegreen has no rule for; reported, never silently passed."""

    def __init__(self, kind: str, table_name: str | None = None):
        self.kind = kind
        self.table_name = table_name


# snake_case names for output ("operation" in the JSON format).
OPERATION_NAMES: dict[type, str] = {
    AddColumnOp: "add_column",
    DropColumnOp: "drop_column",
    CreateTableOp: "create_table",
    DropTableOp: "drop_table",
    RenameTableOp: "rename_table",
    CreateIndexOp: "create_index",
    DropIndexOp: "drop_index",
    CreateForeignKeyOp: "create_foreign_key",
    CreateCheckConstraintOp: "create_check_constraint",
    CreateUniqueConstraintOp: "create_unique_constraint",
    CreatePrimaryKeyOp: "create_primary_key",
    AddConstraintOp: "add_constraint",
    DropConstraintOp: "drop_constraint",
    BulkInsertOp: "bulk_insert",
    CreateTableCommentOp: "create_table_comment",
    DropTableCommentOp: "drop_table_comment",
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


def operation_name(op: Operation) -> str:
    if isinstance(op, AlterColumnOp):
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
    if isinstance(op, UnknownOp):
        return op.name
    return OPERATION_NAMES.get(type(op), type(op).__name__)


def table_of(op: Operation) -> str | None:
    """The table an operation changes, unqualified, or None."""
    for attr in ("table_name", "source_table"):
        name = getattr(op, attr, None)
        if isinstance(name, str):
            return name
    if isinstance(op, CreateViewOp):
        return op.name
    if isinstance(op, RefreshMaterializedViewOp):
        return op.name
    return None


def sql_of(op: Operation, statement: Statement) -> str:
    """The SQL of one operation: its own text inside a DO block, else the statement's."""
    return op.bluegreen_sql or statement.sql


@dataclass
class Statement:
    """One SQL statement or one Alembic op, with where it came from.

    ``ops`` holds more than one operation for an ALTER TABLE with several sub-commands.
    """

    file: str
    line: int
    sql: str
    ops: list[Operation]
    suppressed: set[str] = field(default_factory=set)
    in_transaction: bool = True
    in_transaction_before: bool = True
    # A lock_timeout set outside the statements (Alembic's env.py sets it for every revision).
    lock_timeout_set: bool = False
    operation: str | None = None  # overrides the name from the ops (a DO block: "do")

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"
