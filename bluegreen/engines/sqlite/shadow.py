"""SQLite's ALTER TABLE cannot change a column's type, nullability or default, or add a
constraint: those changes are made by rebuilding the table (the shadow copier with a
``CREATE TABLE`` of the new shape). This derives that CREATE TABLE from the live table's own
and the ALTER statements, as PostgreSQL would apply them."""

from __future__ import annotations

import re

import pglast
from pglast import ast, enums
from pglast.stream import RawStream

from bluegreen.core.apply import sqltext
from bluegreen.errors import BadAlter

AT = enums.AlterTableType
CT = enums.ConstrType


def new_shape(live_sql: str, alter_sql: str, table: str) -> str:
    """The CREATE TABLE of ``table`` after ``alter_sql`` (ALTER TABLE statements)."""
    try:
        (create,) = [s.stmt for s in pglast.parse_sql(sqltext.sqlite_text(live_sql))]
        alters = [s.stmt for s in pglast.parse_sql(alter_sql)]
    except (pglast.parser.ParseError, ValueError) as error:
        raise BadAlter(f"cannot rebuild {table} for SQLite: {error}") from None
    assert isinstance(create, ast.CreateStmt)
    elements = list(create.tableElts or ())
    for alter in alters:
        if isinstance(alter, ast.RenameStmt) and alter.renameType == enums.ObjectType.OBJECT_COLUMN:
            _column(elements, alter.subname, table).colname = alter.newname
            continue
        if not isinstance(alter, ast.AlterTableStmt):
            raise BadAlter(f"cannot rebuild {table} for SQLite from "
                           f"{type(alter).__name__}; give ALTER TABLE statements")
        for cmd in alter.cmds:
            elements = _apply(elements, cmd, table)
    create.tableElts = tuple(elements)
    out = RawStream()(create)
    # The keywords PostgreSQL's grammar does not know, put back where they were.
    auto = re.search(r'"?(\w+)"?\s+INTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT', live_sql,
                     re.IGNORECASE)
    if auto:
        column = re.escape(auto.group(1))
        out = re.sub(rf"(\b{column}\s+integer\s+PRIMARY KEY)", r"\1 AUTOINCREMENT", out,
                     count=1, flags=re.IGNORECASE)
    for keyword, pattern in (("WITHOUT ROWID", r"WITHOUT\s+ROWID"), ("STRICT", "STRICT")):
        if re.search(r"\)[^)]*\b" + pattern + r"\b[^)]*$", live_sql, re.IGNORECASE):
            out += f" {keyword}"
    return out


def _column(elements: list, name: str, table: str) -> ast.ColumnDef:
    for element in elements:
        if isinstance(element, ast.ColumnDef) and element.colname.lower() == name.lower():
            return element
    raise BadAlter(f"{table} has no column {name}")


def _without(constraints, kind) -> tuple:
    return tuple(c for c in constraints or () if c.contype != kind)


def _apply(elements: list, cmd: ast.AlterTableCmd, table: str) -> list:
    kind = cmd.subtype
    if kind == AT.AT_AddColumn:
        return [*elements, cmd.def_]
    if kind == AT.AT_DropColumn:
        _column(elements, cmd.name, table)
        return [e for e in elements if not (isinstance(e, ast.ColumnDef)
                                             and e.colname.lower() == cmd.name.lower())]
    if kind == AT.AT_AddConstraint:
        return [*elements, cmd.def_]
    if kind == AT.AT_DropConstraint:
        kept = [e for e in elements if not (isinstance(e, ast.Constraint)
                                            and (e.conname or "").lower() == cmd.name.lower())]
        if len(kept) == len(elements):
            raise BadAlter(f"{table} has no named constraint {cmd.name} to drop")
        return kept
    column = _column(elements, cmd.name, table) if cmd.name else None
    if column is None:
        raise BadAlter(f"cannot rebuild {table}: {kind.name} is not supported")
    if kind == AT.AT_AlterColumnType:
        column.typeName = cmd.def_.typeName
    elif kind == AT.AT_SetNotNull:
        column.constraints = (*_without(column.constraints, CT.CONSTR_NOTNULL),
                              ast.Constraint(contype=CT.CONSTR_NOTNULL))
    elif kind == AT.AT_DropNotNull:
        column.constraints = _without(column.constraints, CT.CONSTR_NOTNULL)
    elif kind == AT.AT_ColumnDefault:
        kept = _without(column.constraints, CT.CONSTR_DEFAULT)
        column.constraints = kept if cmd.def_ is None else (
            *kept, ast.Constraint(contype=CT.CONSTR_DEFAULT, raw_expr=cmd.def_))
    else:
        raise BadAlter(f"cannot rebuild {table} for SQLite: ALTER TABLE ... "
                       f"{kind.name.removeprefix('AT_')} is not supported")
    return elements
