"""The shadow table: the live table's shape with the user's --alter applied, and how each
shadow column is computed from the live row (renames, USING casts, new and dropped columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pglast
from pglast import ast, enums
from pglast.stream import RawStream
from psycopg import sql

from bluegreen.copier.tables import Column, TableFacts, TableRef
from bluegreen.errors import BadAlter

AT = enums.AlterTableType


@dataclass
class AlterSpec:
    """The parsed --alter: statements to run on the shadow, and the column bookkeeping."""

    statements: list[ast.Node]
    source_of: dict[str, str | None] = field(default_factory=dict)  # shadow col -> live col
    using: dict[str, str] = field(default_factory=dict)  # shadow col -> expression on live
    new_types: dict[str, str] = field(default_factory=dict)  # shadow col -> type it gets

    def render_for(self, shadow: TableRef) -> list[str]:
        out = []
        for stmt in self.statements:
            stmt.relation.schemaname = shadow.schema
            stmt.relation.relname = shadow.name
            out.append(RawStream()(stmt))
        return out


def parse_alter(alter_sql: str, live: TableFacts) -> AlterSpec:
    """Check that ``alter_sql`` parses and alters this table only; track column renames."""
    ref = live.ref
    text = alter_sql.strip()
    spec = AlterSpec(statements=[], source_of={c.name: c.name for c in live.columns})
    if not text:
        return spec
    try:
        parsed = pglast.parse_sql(text)
    except pglast.parser.ParseError as error:
        raise BadAlter(f"--alter does not parse: {error.args[0]}; give one or more "
                       f"ALTER TABLE {ref.key} ... statements") from None
    for raw in parsed:
        stmt = raw.stmt
        relation = getattr(stmt, "relation", None)
        ok_kind = (isinstance(stmt, ast.AlterTableStmt)
                   and stmt.objtype == enums.ObjectType.OBJECT_TABLE) or (
            isinstance(stmt, ast.RenameStmt)
            and stmt.renameType == enums.ObjectType.OBJECT_COLUMN)
        if not ok_kind:
            raise BadAlter(f"--alter may only hold ALTER TABLE {ref.key} ... statements "
                           f"(got {type(stmt).__name__}); run other statements separately")
        if relation.relname != ref.name or relation.schemaname not in (None, ref.schema):
            target = (f"{relation.schemaname}." if relation.schemaname else "") + relation.relname
            raise BadAlter(f"--alter changes {target}, not {ref.key}; bluegreen copy alters "
                           "the table it copies, one table at a time")
        if isinstance(stmt, ast.RenameStmt):
            if stmt.subname not in spec.source_of:
                raise BadAlter(f"--alter renames {stmt.subname}, which {ref.key} does not have")
            spec.source_of[stmt.newname] = spec.source_of.pop(stmt.subname)
        else:
            for cmd in stmt.cmds:
                _track(cmd, spec, ref)
        spec.statements.append(stmt)
    surviving = {src for src in spec.source_of.values() if src}
    if any(k not in surviving for k in live.primary_key):
        raise BadAlter("--alter drops a primary key column; bluegreen copies and replays by "
                       "primary key, so keep it (change the key in a separate migration)")
    return spec


def _track(cmd: ast.AlterTableCmd, spec: AlterSpec, ref: TableRef) -> None:
    kind = cmd.subtype
    if kind == AT.AT_AddColumn:
        spec.source_of[cmd.def_.colname] = None
        spec.new_types[cmd.def_.colname] = RawStream()(cmd.def_.typeName)
    elif kind == AT.AT_DropColumn:
        spec.source_of.pop(cmd.name, None)
        spec.using.pop(cmd.name, None)
    elif kind == AT.AT_AlterColumnType:
        spec.new_types[cmd.name] = RawStream()(cmd.def_.typeName)
        if cmd.def_.raw_default is not None:
            spec.using[cmd.name] = RawStream()(cmd.def_.raw_default)
    elif kind in (AT.AT_SetTableSpace, AT.AT_SetLogged, AT.AT_SetUnLogged):
        pass


def column_exprs(live: TableFacts, shadow_columns: list[Column], spec: AlterSpec
                 ) -> list[tuple[str, sql.Composable]]:
    """(shadow column, expression over the live row) for every column the copy writes.

    Added columns are left to their defaults; generated columns compute themselves."""
    out = []
    for column in shadow_columns:
        if column.generated:
            continue
        source = spec.source_of.get(column.name)
        if source is None or live.column(source) is None:
            continue
        if column.name in spec.using:
            expr: sql.Composable = sql.SQL("(" + spec.using[column.name] + ")")
        elif live.column(source).type != column.type:  # type: ignore[union-attr]
            expr = sql.SQL("CAST({} AS {})").format(sql.Identifier(source),
                                                   sql.SQL(column.type))
        else:
            expr = sql.Identifier(source)
        out.append((column.name, expr))
    return out


def reverse_source_names(spec: AlterSpec) -> dict[str, str]:
    """live column -> shadow column, for columns that survive the alter."""
    return {src: dst for dst, src in spec.source_of.items() if src is not None}


def planned_columns(live: TableFacts, spec: AlterSpec) -> list[Column]:
    """The shadow's columns as the alter will leave them, without building it (dry run)."""
    out = []
    for name, source in spec.source_of.items():
        base = live.column(source) if source else None
        type_ = spec.new_types.get(name) or (base.type if base else "unknown")
        out.append(Column(name, type_, bool(base and base.not_null),
                          bool(base and base.generated), base.identity if base else ""))
    return out
