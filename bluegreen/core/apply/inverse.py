"""The statements that undo an expand step, derived from the statement itself (as
Alembic's ``op.reverse()`` derives a downgrade), with the schema it ran on for what the
statement does not say (a column's previous default or type).

An inverse is a list of statements, each run in its own transaction under lock_timeout;
``None`` means the step cannot be undone, and the note says what revert keeps and why.
"""

from __future__ import annotations

from collections.abc import Sequence

from pglast import ast, enums
from pglast.stream import RawStream

from bluegreen.planner.model import TARGETS, TargetTraits
from bluegreen.planner.schema import Schema
from bluegreen.planner.steps import ident, object_name

AT = enums.AlterTableType
OT = enums.ObjectType

Inverse = tuple[list[str] | None, str | None]


def inverse_of(node: ast.Node, text: str, schema: Schema, *,
               target: TargetTraits = TARGETS["postgresql"],
               created_by_bluegreen: bool = False) -> Inverse:
    """(statements that undo ``node``, a note), or (None, why it cannot be undone)."""
    handler = _HANDLERS.get(type(node))
    if handler is None:
        return None, f"bluegreen cannot undo {type(node).__name__.removesuffix('Stmt')} " \
                     "statements; kept"
    return handler(node, schema, target, created_by_bluegreen)


def _name(rangevar: ast.RangeVar) -> str:
    return RawStream()(rangevar)


def _table_key(rangevar: ast.RangeVar) -> str:
    if rangevar.schemaname and rangevar.schemaname != "public":
        return f"{rangevar.schemaname}.{rangevar.relname}"
    return rangevar.relname


def _create_table(node: ast.CreateStmt, schema: Schema,
                  target: TargetTraits, ours: bool) -> Inverse:
    return [f"DROP TABLE IF EXISTS {_name(node.relation)}"], None


def _create_table_as(node: ast.CreateTableAsStmt, schema: Schema,
                     target: TargetTraits, ours: bool) -> Inverse:
    kind = "MATERIALIZED VIEW" if node.objtype == OT.OBJECT_MATVIEW else "TABLE"
    return [f"DROP {kind} IF EXISTS {_name(node.into.rel)}"], None


def _index(node: ast.IndexStmt, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    if not node.idxname:
        return None, "an index created without a name: find and drop it by hand"
    name = ident(node.idxname)
    if node.relation.schemaname:
        name = f"{ident(node.relation.schemaname)}.{name}"
    if not target.concurrent_index:
        return [f"DROP INDEX IF EXISTS {name}"], None
    return [f"DROP INDEX CONCURRENTLY IF EXISTS {name}"], None


def _alter_table(node: ast.AlterTableStmt, schema: Schema,
                 target: TargetTraits, ours: bool) -> Inverse:
    table = _name(node.relation)
    key = _table_key(node.relation)
    kind = "TABLE" if node.objtype == OT.OBJECT_TABLE else None
    if kind is None:
        return None, "only ALTER TABLE is undone; kept"
    out: list[str] = []
    for cmd in reversed(node.cmds):
        undo = _alter_cmd(cmd, table, key, schema, target)
        if undo is None:
            return None, f"ALTER TABLE ... {cmd.subtype.name.removeprefix('AT_')} cannot be " \
                         "undone by bluegreen; kept"
        out += undo
    return out, None


def _alter_cmd(cmd: ast.AlterTableCmd, table: str, key: str, schema: Schema,
               target: TargetTraits) -> list[str] | None:
    kind = cmd.subtype
    if kind == AT.AT_AddColumn:
        exists = "IF EXISTS " if target.drop_column_if_exists else ""
        return [f"ALTER TABLE {table} DROP COLUMN {exists}{ident(cmd.def_.colname)}"]
    if kind == AT.AT_AddConstraint:
        name = getattr(cmd.def_, "conname", None)
        if not name or not target.alter_constraints:
            return None
        return [f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {ident(name)}"]
    if kind == AT.AT_ValidateConstraint:
        return []
    column = ident(cmd.name) if cmd.name else ""
    info = schema.column(key, cmd.name) if cmd.name else None
    if kind == AT.AT_ColumnDefault:
        if info is not None and info.default is not None:
            return [f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {info.default}"]
        return [f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT"]
    if kind == AT.AT_DropNotNull:
        # Put NOT NULL back the way the planner's contract steps do: a validated CHECK first,
        # so SET NOT NULL does not scan under ACCESS EXCLUSIVE.
        check = ident(object_name(key, cmd.name, "not_null"))
        return [f"ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({column} IS NOT NULL) "
                "NOT VALID",
                f"ALTER TABLE {table} VALIDATE CONSTRAINT {check}",
                f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL",
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check}"]
    if kind == AT.AT_SetNotNull:
        return [f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL"]
    if kind == AT.AT_AlterColumnType:
        if info is None or info.type is None:
            return None
        return [f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {info.type}"]
    return None


def _rename(node: ast.RenameStmt, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    if node.renameType == OT.OBJECT_COLUMN:
        return [f"ALTER TABLE {_name(node.relation)} RENAME COLUMN {ident(node.newname)} TO "
                f"{ident(node.subname)}"], None
    if node.renameType in (OT.OBJECT_TABLE, OT.OBJECT_VIEW):
        kind = "TABLE" if node.renameType == OT.OBJECT_TABLE else "VIEW"
        renamed = ast.RangeVar(schemaname=node.relation.schemaname, relname=node.newname,
                               inh=True, relpersistence="p")
        return [f"ALTER {kind} {_name(renamed)} RENAME TO {ident(node.relation.relname)}"], None
    if node.renameType == OT.OBJECT_TABCONSTRAINT:
        return [f"ALTER TABLE {_name(node.relation)} RENAME CONSTRAINT {ident(node.newname)} "
                f"TO {ident(node.subname)}"], None
    if node.renameType == OT.OBJECT_INDEX:
        renamed = ast.RangeVar(schemaname=node.relation.schemaname, relname=node.newname,
                               inh=True, relpersistence="p")
        return [f"ALTER INDEX {_name(renamed)} RENAME TO {ident(node.relation.relname)}"], None
    return None, "this rename cannot be undone by bluegreen; kept"


def _view(node: ast.ViewStmt, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    if node.replace and _table_key(node.view).lower() in schema.views and not ours:
        return None, "CREATE OR REPLACE VIEW of an existing view: its earlier definition " \
                     "is not known; kept"
    return [f"DROP VIEW IF EXISTS {_name(node.view)}"], None


def _function(node: ast.CreateFunctionStmt, schema: Schema,
              target: TargetTraits, ours: bool) -> Inverse:
    if node.replace and not ours:
        return None, "CREATE OR REPLACE FUNCTION: an earlier version may exist; kept"
    name = ".".join(ident(n.sval) for n in node.funcname)
    args = ", ".join(RawStream()(p.argType) for p in (node.parameters or ())
                     if p.mode not in (enums.FunctionParameterMode.FUNC_PARAM_OUT,
                                       enums.FunctionParameterMode.FUNC_PARAM_TABLE))
    kind = "PROCEDURE" if node.is_procedure else "FUNCTION"
    return [f"DROP {kind} IF EXISTS {name}({args})"], None


def _trigger(node: ast.CreateTrigStmt, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    if getattr(node, "replace", False) and not ours:
        return None, "CREATE OR REPLACE TRIGGER: an earlier version may exist; kept"
    if not target.triggers_on_table:
        return [f"DROP TRIGGER IF EXISTS {ident(node.trigname)}"], None
    return [f"DROP TRIGGER IF EXISTS {ident(node.trigname)} ON {_name(node.relation)}"], None


def _dotted(names: Sequence[ast.String]) -> str:
    return ".".join(ident(n.sval) for n in names)


def _enum(node: ast.CreateEnumStmt, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    return [f"DROP TYPE IF EXISTS {_dotted(node.typeName)}"], None


def _alter_enum(node: ast.AlterEnumStmt, schema: Schema,
                target: TargetTraits, ours: bool) -> Inverse:
    if node.oldVal is not None:
        literal = RawStream()(ast.A_Const(val=ast.String(sval=node.oldVal)))
        new = RawStream()(ast.A_Const(val=ast.String(sval=node.newVal)))
        return [f"ALTER TYPE {_dotted(node.typeName)} RENAME VALUE {new} TO {literal}"], None
    return None, f"PostgreSQL cannot remove an enum value: {node.newVal!r} stays in " \
                 f"{_dotted(node.typeName)} (harmless to the old app)"


def _sequence(node: ast.CreateSeqStmt, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    return [f"DROP SEQUENCE IF EXISTS {_name(node.sequence)}"], None


def _schema(node: ast.CreateSchemaStmt, schema: Schema,
            target: TargetTraits, ours: bool) -> Inverse:
    return [f"DROP SCHEMA IF EXISTS {ident(node.schemaname)}"], None


def _extension(node: ast.CreateExtensionStmt, schema: Schema,
               target: TargetTraits, ours: bool) -> Inverse:
    return [f"DROP EXTENSION IF EXISTS {ident(node.extname)}"], None


def _domain(node: ast.CreateDomainStmt, schema: Schema,
            target: TargetTraits, ours: bool) -> Inverse:
    return [f"DROP DOMAIN IF EXISTS {_dotted(node.domainname)}"], None


def _policy(node: ast.CreatePolicyStmt, schema: Schema,
            target: TargetTraits, ours: bool) -> Inverse:
    return [f"DROP POLICY IF EXISTS {ident(node.policy_name)} ON {_name(node.table)}"], None


def _grant(node: ast.GrantStmt, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    node.is_grant = not node.is_grant
    node.grant_option = False
    return [RawStream()(node)], None


def _insert(node: ast.InsertStmt, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    if schema.is_new(_table_key(node.relation)):
        return [], None  # the rows go with the table
    return None, "rows inserted into an existing table are kept (a data change)"


def _data(node: ast.Node, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    return None, "a data change is not undone; the rows keep their new values"


def _comment(node: ast.Node, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    return None, "the earlier comment is not known; kept"


def _nothing(node: ast.Node, schema: Schema, target: TargetTraits, ours: bool) -> Inverse:
    return [], None


_HANDLERS = {
    ast.CreateStmt: _create_table,
    ast.CreateTableAsStmt: _create_table_as,
    ast.IndexStmt: _index,
    ast.AlterTableStmt: _alter_table,
    ast.RenameStmt: _rename,
    ast.ViewStmt: _view,
    ast.CreateFunctionStmt: _function,
    ast.CreateTrigStmt: _trigger,
    ast.CreateEnumStmt: _enum,
    ast.AlterEnumStmt: _alter_enum,
    ast.CreateSeqStmt: _sequence,
    ast.CreateSchemaStmt: _schema,
    ast.CreateExtensionStmt: _extension,
    ast.CreateDomainStmt: _domain,
    ast.CreatePolicyStmt: _policy,
    ast.GrantStmt: _grant,
    ast.InsertStmt: _insert,
    ast.UpdateStmt: _data,
    ast.DeleteStmt: _data,
    ast.CommentStmt: _comment,
    ast.VariableSetStmt: _nothing,
    ast.VacuumStmt: _nothing,
}
