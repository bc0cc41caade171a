"""Alembic's operation objects -> the planner's own (``bluegreen.planner.ops``).

The planner's ops mirror Alembic's, but hold SQL text and ``SqlType``s where Alembic holds
SQLAlchemy objects: this module is where those are read, so that only Alembic input loads
SQLAlchemy. A type becomes what PostgreSQL calls it (None when it has no PostgreSQL name); a
server default, a CHECK condition or an index expression becomes its SQL text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic.operations import ops as aops
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import NullType

from bluegreen.planner import ops
from bluegreen.planner.types import SqlType, parse_type

_PG_DIALECT = postgresql.dialect()


def type_of(type_: Any) -> SqlType | None:
    """The SqlType of a SQLAlchemy type (or type class); None when PostgreSQL has no name
    for it (NullType, a type of another database)."""
    if type_ is None:
        return None
    if isinstance(type_, type):
        type_ = type_()
    if isinstance(type_, NullType):
        return None
    try:
        return parse_type(type_.compile(dialect=_PG_DIALECT))
    except Exception:  # a type PostgreSQL cannot render: judge it as unknown
        return None


def default_text(default: Any) -> str | None:
    """The SQL of a server default: Alembic's ``server_default="x"`` is the literal 'x'."""
    if default is None or default is False:
        return None
    arg = getattr(default, "arg", default)
    if isinstance(arg, str):
        return "'" + arg.replace("'", "''") + "'"
    return expression_text(arg)


def expression_text(expression: Any) -> str:
    """The SQL of an expression: a ``text()`` as written, a SQLAlchemy expression compiled
    for PostgreSQL with its values inline."""
    if isinstance(expression, sa.sql.elements.TextClause):
        return expression.text
    if isinstance(expression, sa.sql.ClauseElement):
        return str(expression.compile(dialect=_PG_DIALECT,
                                      compile_kwargs={"literal_binds": True}))
    return str(expression)


def _kw(kw: dict[str, Any]) -> dict[str, Any]:
    """An op's dialect options, with expressions (``postgresql_where``) as SQL text."""
    return {key: expression_text(value) if isinstance(value, sa.sql.ClauseElement) else value
            for key, value in kw.items()}


def _name(name: Any) -> str | None:
    return str(name) if name else None


def column(col: sa.Column) -> ops.Column:
    info: dict[str, Any] = {}
    foreign = next(iter(col.foreign_keys), None)
    if foreign is not None:
        info["bluegreen_references"] = foreign.target_fullname.rsplit(".", 1)[0]
    computed = col.computed
    return ops.Column(
        col.name, type_of(col.type), nullable=bool(col.nullable),
        primary_key=bool(col.primary_key), server_default=default_text(col.server_default),
        computed=(str(computed.sqltext) if computed is not None and computed.persisted
                  is not False else None),
        identity=col.identity is not None, unique=bool(col.unique), info=info)


def _columns_of(constraint: sa.Constraint) -> list[str]:
    if isinstance(constraint, sa.sql.schema.ColumnCollectionConstraint):
        return [c for c in constraint._pending_colargs if isinstance(c, str)]
    return []


def constraint(item: sa.Constraint) -> ops.Constraint:
    name = _name(item.name)
    columns = _columns_of(item)
    if isinstance(item, sa.PrimaryKeyConstraint):
        return ops.PrimaryKeyConstraint(*columns, name=name)
    if isinstance(item, sa.UniqueConstraint):
        return ops.UniqueConstraint(*columns, name=name)
    if isinstance(item, sa.CheckConstraint):
        return ops.CheckConstraint(str(item.sqltext), name=name)
    if isinstance(item, sa.ForeignKeyConstraint):
        referred = None
        if item.elements:
            spec = item.elements[0]._colspec
            referred = (spec if isinstance(spec, str) else spec.table.name).split(".")[0]
        return ops.ForeignKeyConstraint(columns, referred, name=name)
    return ops.Constraint(*columns, name=name)


def _create_table(op: aops.CreateTableOp) -> ops.Operation:
    items: list[ops.Column | ops.Constraint] = []
    for item in op.columns:
        if isinstance(item, sa.Column):
            items.append(column(item))
        elif isinstance(item, sa.Constraint):
            items.append(constraint(item))
    return ops.CreateTableOp(op.table_name, items, schema=op.schema, **_kw(op.kw))


def _alter_column(op: aops.AlterColumnOp) -> ops.Operation:
    modify_type = type_of(op.modify_type)
    if modify_type is None and op.modify_type is not None:
        modify_type = ops.UNREADABLE_TYPE
    default = op.modify_server_default
    return ops.AlterColumnOp(
        op.table_name, op.column_name, schema=op.schema,
        existing_type=type_of(op.existing_type), modify_nullable=op.modify_nullable,
        modify_server_default=False if default is False else default_text(default),
        modify_name=op.modify_name, modify_type=modify_type, **_kw(op.kw))


def _create_index(op: aops.CreateIndexOp) -> ops.Operation:
    return ops.CreateIndexOp(_name(op.index_name), op.table_name, [str(c) for c in op.columns],
                             schema=op.schema, unique=bool(op.unique), **_kw(op.kw))


def _check(op: aops.CreateCheckConstraintOp) -> ops.Operation:
    condition = op.condition
    return ops.CreateCheckConstraintOp(
        _name(op.constraint_name), op.table_name,
        condition if isinstance(condition, str) else expression_text(condition),
        schema=op.schema, **_kw(op.kw))


def _unknown(op: aops.MigrateOperation) -> ops.Operation:
    table = next((name for name in (getattr(op, "table_name", None),
                                    getattr(op, "source_table", None))
                  if isinstance(name, str)), None)
    if isinstance(op, aops.AddConstraintOp) and table is not None:
        # An EXCLUDE constraint, or a constraint op of the app's own.
        return ops.AddConstraintOp(_name(getattr(op, "constraint_name", None)), table,
                                   schema=getattr(op, "schema", None))
    return ops.UnknownOp(type(op).__name__, table)


_CONVERTERS: dict[type, Callable[[Any], ops.Operation]] = {
    aops.CreateTableOp: _create_table,
    aops.DropTableOp: lambda op: ops.DropTableOp(op.table_name, schema=op.schema),
    aops.RenameTableOp: lambda op: ops.RenameTableOp(op.table_name, op.new_table_name,
                                                     schema=op.schema),
    aops.AddColumnOp: lambda op: ops.AddColumnOp(op.table_name, column(op.column),
                                                 schema=op.schema, **_kw(op.kw)),
    aops.DropColumnOp: lambda op: ops.DropColumnOp(op.table_name, op.column_name,
                                                   schema=op.schema, **_kw(op.kw)),
    aops.AlterColumnOp: _alter_column,
    aops.CreateIndexOp: _create_index,
    aops.DropIndexOp: lambda op: ops.DropIndexOp(str(op.index_name), op.table_name,
                                                 schema=op.schema, **_kw(op.kw)),
    aops.CreatePrimaryKeyOp: lambda op: ops.CreatePrimaryKeyOp(
        _name(op.constraint_name), op.table_name, [str(c) for c in op.columns],
        schema=op.schema, **_kw(op.kw)),
    aops.CreateUniqueConstraintOp: lambda op: ops.CreateUniqueConstraintOp(
        _name(op.constraint_name), op.table_name, [str(c) for c in op.columns],
        schema=op.schema, **_kw(op.kw)),
    aops.CreateCheckConstraintOp: _check,
    aops.CreateForeignKeyOp: lambda op: ops.CreateForeignKeyOp(
        _name(op.constraint_name), op.source_table, op.referent_table,
        [str(c) for c in op.local_cols], [str(c) for c in op.remote_cols], **_kw(op.kw)),
    aops.DropConstraintOp: lambda op: ops.DropConstraintOp(
        str(op.constraint_name), op.table_name, op.constraint_type, schema=op.schema),
    aops.CreateTableCommentOp: lambda op: ops.CreateTableCommentOp(
        op.table_name, op.comment, schema=op.schema),
    aops.DropTableCommentOp: lambda op: ops.DropTableCommentOp(op.table_name, schema=op.schema),
    aops.BulkInsertOp: lambda op: ops.BulkInsertOp(op.table.name, op.rows),
}


def convert(op: aops.MigrateOperation) -> ops.Operation:
    """The planner's op for one Alembic op (``ExecuteSQLOp`` is parsed as SQL instead)."""
    for cls in type(op).__mro__:
        converter = _CONVERTERS.get(cls)
        if converter is not None:
            return converter(op)
    return _unknown(op)
