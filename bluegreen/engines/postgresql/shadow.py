"""The shadow table: the live table's shape with the user's --alter applied, and how each
shadow column is computed from the live row (renames, USING casts, new and dropped columns).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pglast
from pglast import ast, enums
from pglast.stream import RawStream
from psycopg import sql

from bluegreen.engines.postgresql.catalog import Column, TableFacts, TableRef
from bluegreen.errors import BadAlter

AT = enums.AlterTableType


@dataclass
class AlterSpec:
    """The parsed --alter: statements to run on the shadow, and the column bookkeeping."""

    statements: list[ast.Node]
    source_of: dict[str, str | None] = field(default_factory=dict)  # shadow col -> live col
    using: dict[str, str] = field(default_factory=dict)  # shadow col -> expression on live
    new_types: dict[str, str] = field(default_factory=dict)  # shadow col -> type it gets
    # Primary key, unique, foreign-key and exclusion constraints are built on the shadow
    # after the backfill, so an alter that drops or renames one is applied then.
    dropped_constraints: set[str] = field(default_factory=set)
    constraint_renames: dict[str, str] = field(default_factory=dict)  # live name -> new

    def render_for(self, shadow: TableRef) -> list[str]:
        out = []
        for stmt in self.statements:
            stmt.relation.schemaname = shadow.schema
            stmt.relation.relname = shadow.name
            out.append(RawStream()(stmt))
        return out


def parse_alter(alter_sql: str, live: TableFacts) -> AlterSpec:
    """Check that ``alter_sql`` parses and alters this table only; track column renames and
    what it does to the constraints that are built after the backfill."""
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
            and stmt.renameType in (enums.ObjectType.OBJECT_COLUMN,
                                    enums.ObjectType.OBJECT_TABCONSTRAINT))
        if not ok_kind:
            raise BadAlter(f"--alter may only hold ALTER TABLE {ref.key} ... statements "
                           f"(got {type(stmt).__name__}); run other statements separately")
        if relation.relname != ref.name or relation.schemaname not in (None, ref.schema):
            target = (f"{relation.schemaname}." if relation.schemaname else "") + relation.relname
            raise BadAlter(f"--alter changes {target}, not {ref.key}; bluegreen copy alters "
                           "the table it copies, one table at a time")
        built_later = _built_later(live, spec)
        if isinstance(stmt, ast.RenameStmt) and \
                stmt.renameType == enums.ObjectType.OBJECT_TABCONSTRAINT:
            if stmt.subname in built_later:
                spec.constraint_renames[stmt.subname] = stmt.newname
                continue  # applied when the shadow's constraints are built
        elif isinstance(stmt, ast.RenameStmt):
            if stmt.subname not in spec.source_of:
                raise BadAlter(f"--alter renames {stmt.subname}, which {ref.key} does not have")
            spec.source_of[stmt.newname] = spec.source_of.pop(stmt.subname)
        else:
            kept = []
            for cmd in stmt.cmds:
                if cmd.subtype == AT.AT_DropConstraint and cmd.name in built_later:
                    if built_later[cmd.name] == "p":
                        raise BadAlter(
                            f"--alter drops the primary key {cmd.name}; bluegreen copies and "
                            "replays by primary key, so keep it (change the key in a separate "
                            "migration)")
                    spec.dropped_constraints.add(_live_name(spec, cmd.name))
                    continue
                _track(cmd, spec, ref)
                kept.append(cmd)
            if not kept:
                continue
            stmt.cmds = tuple(kept)
        spec.statements.append(stmt)
    surviving = {src for src in spec.source_of.values() if src}
    if any(k not in surviving for k in live.primary_key):
        raise BadAlter("--alter drops a primary key column; bluegreen copies and replays by "
                       "primary key, so keep it (change the key in a separate migration)")
    return spec


def _built_later(live: TableFacts, spec: AlterSpec) -> dict[str, str]:
    """Names (as the alter sees them so far) of the constraints the shadow gets after the
    backfill, with their kind: p, u, f or x."""
    kinds = {name: kind for name, kind, _ in live.constraint_defs}
    if live.pk_name:
        kinds[live.pk_name] = "p"
    out = {}
    for name, kind in kinds.items():
        if name in spec.dropped_constraints:
            continue
        out[spec.constraint_renames.get(name, name)] = kind
    return out


def _live_name(spec: AlterSpec, current: str) -> str:
    """The live table's name of a constraint the alter may have renamed already."""
    return next((old for old, new in spec.constraint_renames.items() if new == current),
                current)


def constraint_name(spec: AlterSpec, live_name: str) -> str:
    """What a live constraint is called on the new table."""
    return spec.constraint_renames.get(live_name, live_name)


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


def column_exprs(live: TableFacts, shadow_columns: list[Column], spec: AlterSpec, *,
                 assignment: bool = True) -> list[tuple[str, sql.Composable]]:
    """(shadow column, expression over the live row) for every column the copy writes.

    Added columns are left to their defaults; generated columns compute themselves. A type
    change without USING is left to the INSERT's assignment cast, as ALTER TABLE casts: a
    value that does not fit (too long, out of range) is an error, never silently cut.
    ``assignment=False`` gives explicit casts instead, to compare values (verify)."""
    out = []
    for column in shadow_columns:
        if column.generated:
            continue
        source = spec.source_of.get(column.name)
        if source is None or live.column(source) is None:
            continue
        if column.name in spec.using:
            expr: sql.Composable = sql.SQL("(" + spec.using[column.name] + ")")
        elif live.column(source).type != column.type and not assignment:
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
