"""SQL text -> Statements of planner operations, with pglast (PostgreSQL's own parser)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pglast
from pglast import ast, enums
from pglast.stream import RawStream
from pglast.visitors import Visitor

from bluegreen.errors import SqlSyntaxError
from bluegreen.planner import ops
from bluegreen.planner.sources import plpgsql
from bluegreen.planner.types import parse_type

_SUPPRESS = re.compile(r"bluegreen:\s*ignore\s+([\w\-, ]+)", re.IGNORECASE)
AT = enums.AlterTableType
CT = enums.ConstrType
OT = enums.ObjectType


def suppressions(text: str) -> set[str]:
    """Rule ids named in ``bluegreen: ignore RULE[, RULE]`` comments in ``text``."""
    found: set[str] = set()
    for match in _SUPPRESS.finditer(text):
        found.update(r.strip().lower() for r in re.split(r"[,\s]+", match.group(1)) if r.strip())
    return found


_GOOSE = re.compile(r"^[ \t]*--[ \t]*\+goose[ \t]+(\w+(?:[ \t]+\w+)?)",
                    re.IGNORECASE | re.MULTILINE)
_DBMATE = re.compile(r"^[ \t]*--[ \t]*migrate:(up|down)\b(.*)$", re.IGNORECASE | re.MULTILINE)


def _blank(text: str, start: int, end: int) -> str:
    """Spaces over text[start:end], newlines kept: lines and offsets stay where they were."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def migration_file(text: str) -> tuple[str, bool | None]:
    """The up part of a goose or dbmate migration file, and whether that tool runs it in
    one transaction (None for plain SQL, run as psql would: statement by statement).

    goose: ``-- +goose Up`` / ``-- +goose Down``, a transaction unless
    ``-- +goose NO TRANSACTION``; dbmate: ``-- migrate:up`` / ``-- migrate:down``, a
    transaction unless ``transaction:false``. The down part is blanked, not judged.
    """
    goose = list(_GOOSE.finditer(text))
    if any(m.group(1).lower() == "up" for m in goose):
        for marker in goose:
            if marker.group(1).lower() == "down":
                following = [m.start() for m in goose
                             if m.start() > marker.start() and m.group(1).lower() == "up"]
                text = _blank(text, marker.end(), following[0] if following else len(text))
        no_tx = any(m.group(1).lower().replace(" ", "") == "notransaction" for m in goose)
        return text, not no_tx
    dbmate = list(_DBMATE.finditer(text))
    if any(m.group(1).lower() == "up" for m in dbmate):
        up = next(m for m in dbmate if m.group(1).lower() == "up")
        for marker in dbmate:
            if marker.group(1).lower() == "down":
                following = [m.start() for m in dbmate
                             if m.start() > marker.start() and m.group(1).lower() == "up"]
                text = _blank(text, marker.end(), following[0] if following else len(text))
        return text, "transaction:false" not in up.group(2).replace(" ", "").lower()
    return text, None


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _sql(node: ast.Node) -> str:
    return RawStream()(node)


def _name(rangevar: ast.RangeVar) -> str:
    if rangevar.schemaname and rangevar.schemaname != "public":
        return f"{rangevar.schemaname}.{rangevar.relname}"
    return rangevar.relname


def _dotted(names) -> str:
    parts = [n.sval if isinstance(n, ast.String) else _sql(n) for n in names]
    if len(parts) > 1 and parts[0] in ("public", "pg_catalog"):
        parts = parts[1:]
    return ".".join(parts)


def _type_spec(type_name: ast.TypeName) -> str:
    return _sql(type_name)


class _Tables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def visit_RangeVar(self, ancestors, node: ast.RangeVar) -> None:  # noqa: N802
        self.names.append(_name(node))


def parse_sql(text: str, file: str, *, first_line: int = 1,
              in_transaction: bool = False) -> list[ops.Statement]:
    """Parse ``text`` into Statements. ``first_line`` places SQL embedded in a Python file.

    ``in_transaction`` is the transaction state before the first statement; BEGIN and
    COMMIT in the text change it for the statements that follow.
    """
    try:
        raw = pglast.parse_sql(text)
    except pglast.parser.ParseError as error:
        # ParseError's args are (message, cursor position as a character offset).
        location = error.args[1] if len(error.args) > 1 else None
        line = first_line
        if isinstance(location, int):
            line = _line_of(text, max(location - 1, 0)) + first_line - 1
        # One line: the "near ..." part may quote a multi-line statement.
        message = " ".join(str(error.args[0] if error.args else error).split())
        if len(message) > 160:
            message = message[:157] + "..."
        raise SqlSyntaxError(f"{file}:{line}", message) from None
    statements: list[ops.Statement] = []
    previous_end = 0
    for raw_stmt in raw:
        # pglast gives locations as character offsets into ``text``.
        start = raw_stmt.stmt_location
        length = raw_stmt.stmt_len or (len(text) - start)
        end = start + length
        body = text[start:end]
        stmt_text = body.strip()
        leading = text[previous_end:start]
        body_start = start + (len(body) - len(body.lstrip()))
        line = _line_of(text, body_start)
        # The comment directly after the statement's semicolon, on the same line, counts too.
        tail = text[end:].split("\n", 1)[0]
        leading = leading.split(";", 1)[-1] if previous_end else leading
        if previous_end:
            # What follows the previous statement on its own line belongs to that statement.
            leading = leading.split("\n", 1)[1] if "\n" in leading else ""
        suppressed = suppressions(leading + stmt_text + tail)
        previous_end = end
        operations = list(_operations(raw_stmt.stmt))
        before = in_transaction
        for op in operations:
            if isinstance(op, ops.TransactionOp):
                in_transaction = op.kind == "begin"
        statements.append(ops.Statement(
            file=file, line=line + first_line - 1, sql=_strip_comments(stmt_text),
            ops=operations, suppressed=suppressed, in_transaction=in_transaction,
            in_transaction_before=before,
            operation="do" if isinstance(raw_stmt.stmt, ast.DoStmt) else None,
        ))
    return statements


def _strip_comments(text: str) -> str:
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("--")]
    return "\n".join(lines).strip()


def _operations(node: ast.Node) -> Iterator[ops.Operation]:
    handler = _HANDLERS.get(type(node).__name__)
    if handler is None:
        yield ops.OtherStatementOp(type(node).__name__)
        return
    yield from handler(node)


# ---- columns and constraints --------------------------------------------------------------

def _column(coldef: ast.ColumnDef) -> ops.Column:
    # PARTITION OF t (b NOT NULL ...) names a column without its type.
    spec = _type_spec(coldef.typeName) if coldef.typeName is not None else None
    column = ops.Column(coldef.colname, parse_type(spec) if spec else None)
    default = None
    for constraint in coldef.constraints or ():
        kind = constraint.contype
        if kind == CT.CONSTR_NOTNULL:
            column.nullable = False
        elif kind == CT.CONSTR_NULL:
            column.nullable = True
        elif kind == CT.CONSTR_DEFAULT:
            default = _sql(constraint.raw_expr)
        elif kind == CT.CONSTR_PRIMARY:
            column.primary_key = True
            column.nullable = False
        elif kind == CT.CONSTR_UNIQUE:
            column.info["bluegreen_unique"] = True
        elif kind == CT.CONSTR_FOREIGN:
            column.info["bluegreen_references"] = _name(constraint.pktable)
        elif kind == CT.CONSTR_CHECK:
            column.info["bluegreen_check"] = _sql(constraint.raw_expr)
        elif kind == CT.CONSTR_GENERATED:
            column.computed = _sql(constraint.raw_expr)
        elif kind == CT.CONSTR_IDENTITY:
            column.identity = True
    if column.computed is not None:
        column.identity = False  # both: PostgreSQL refuses it when it runs; judge it generated
    if column.computed is None and not column.identity:
        column.server_default = default  # PostgreSQL refuses one beside IDENTITY / GENERATED
    return column


def _column_names(items) -> list[str]:
    return [item.sval for item in items or ()]


def _constraint_ops(table: str, constraint: ast.Constraint) -> Iterator[ops.Operation]:
    kind = constraint.contype
    name = constraint.conname
    not_valid = bool(constraint.skip_validation)
    if kind == CT.CONSTR_CHECK:
        op = ops.CreateCheckConstraintOp(name, table, _sql(constraint.raw_expr))
        op.kw["bluegreen_not_valid"] = not_valid
        yield op
    elif kind == CT.CONSTR_FOREIGN:
        op = ops.CreateForeignKeyOp(
            name, table, _name(constraint.pktable), _column_names(constraint.fk_attrs),
            _column_names(constraint.pk_attrs))
        op.kw["bluegreen_not_valid"] = not_valid
        yield op
    elif kind in (CT.CONSTR_PRIMARY, CT.CONSTR_UNIQUE, CT.CONSTR_EXCLUSION):
        columns = _column_names(constraint.keys)
        if kind == CT.CONSTR_PRIMARY:
            op = ops.CreatePrimaryKeyOp(name, table, columns)
        else:
            op = ops.CreateUniqueConstraintOp(name, table, columns)
            op.kw["bluegreen_kind"] = "unique" if kind == CT.CONSTR_UNIQUE else "exclude"
        if constraint.indexname:
            op.kw["bluegreen_using_index"] = constraint.indexname
        yield op
    elif kind == CT.CONSTR_NOTNULL:
        yield ops.AlterColumnOp(table, _column_names(constraint.keys)[0]
                                if constraint.keys else "?", modify_nullable=False)
    else:
        yield ops.OtherStatementOp(f"ADD CONSTRAINT ({kind.name})", table)


def _table_constraint(constraint: ast.Constraint) -> ops.Constraint | None:
    columns = _column_names(constraint.keys)
    kind = constraint.contype
    name = constraint.conname
    if kind == CT.CONSTR_PRIMARY:
        return ops.PrimaryKeyConstraint(*columns, name=name)
    if kind == CT.CONSTR_UNIQUE:
        return ops.UniqueConstraint(*columns, name=name)
    if kind == CT.CONSTR_CHECK:
        return ops.CheckConstraint(_sql(constraint.raw_expr), name=name)
    if kind == CT.CONSTR_FOREIGN:
        return ops.ForeignKeyConstraint(_column_names(constraint.fk_attrs),
                                        _name(constraint.pktable), name=name)
    return None


# ---- statement handlers -------------------------------------------------------------------

def _create_table(node: ast.CreateStmt) -> Iterator[ops.Operation]:
    table = _name(node.relation)
    items: list[ops.Column | ops.Constraint] = []
    for element in node.tableElts or ():
        if isinstance(element, ast.ColumnDef):
            items.append(_column(element))
        elif isinstance(element, ast.Constraint):
            constraint = _table_constraint(element)
            if constraint is not None:
                items.append(constraint)
    op = ops.CreateTableOp(table, items)
    op.kw["bluegreen_partitioned"] = node.partspec is not None
    if node.partbound is not None and node.inhRelations:
        op.kw["bluegreen_partition_of"] = _name(node.inhRelations[0])
    yield op


def _alter_table(node: ast.AlterTableStmt) -> Iterator[ops.Operation]:
    if node.objtype not in (OT.OBJECT_TABLE,):
        yield ops.OtherStatementOp(f"ALTER {node.objtype.name[7:]}", _name(node.relation))
        return
    table = _name(node.relation)
    for cmd in node.cmds:
        kind = cmd.subtype
        if kind == AT.AT_AddColumn:
            yield ops.AddColumnOp(table, _column(cmd.def_))
        elif kind == AT.AT_DropColumn:
            yield ops.DropColumnOp(table, cmd.name)
        elif kind == AT.AT_AlterColumnType:
            coldef: ast.ColumnDef = cmd.def_
            op = ops.AlterColumnOp(table, cmd.name,
                                   modify_type=parse_type(_type_spec(coldef.typeName)))
            if coldef.raw_default is not None:
                op.kw["postgresql_using"] = _sql(coldef.raw_default)
            yield op
        elif kind == AT.AT_SetNotNull:
            yield ops.AlterColumnOp(table, cmd.name, modify_nullable=False)
        elif kind == AT.AT_DropNotNull:
            yield ops.AlterColumnOp(table, cmd.name, modify_nullable=True)
        elif kind == AT.AT_ColumnDefault:
            default = _sql(cmd.def_) if cmd.def_ is not None else None
            yield ops.AlterColumnOp(table, cmd.name, modify_server_default=default)
        elif kind == AT.AT_AddConstraint:
            yield from _constraint_ops(table, cmd.def_)
        elif kind == AT.AT_DropConstraint:
            yield ops.DropConstraintOp(cmd.name, table)
        elif kind == AT.AT_ValidateConstraint:
            yield ops.ValidateConstraintOp(cmd.name, table)
        elif kind in (AT.AT_SetTableSpace, AT.AT_SetLogged, AT.AT_SetUnLogged,
                      AT.AT_SetAccessMethod):
            yield ops.RewriteTableOp(table, kind.name[3:])
        elif kind in (AT.AT_AttachPartition, AT.AT_DetachPartition,
                      AT.AT_DetachPartitionFinalize):
            yield ops.PartitionOp(
                table, _name(cmd.def_.name),
                "attach" if kind == AT.AT_AttachPartition else "detach",
                concurrently=bool(cmd.def_.concurrent),
                finalize=kind == AT.AT_DetachPartitionFinalize)
        elif kind.name.startswith(("AT_EnableTrig", "AT_DisableTrig", "AT_EnableAlwaysTrig",
                                   "AT_EnableReplicaTrig")):
            what = "disable trigger" if "Disable" in kind.name else "enable trigger"
            yield ops.TriggerOp(table, what, cmd.name)
        else:
            yield ops.OtherStatementOp(f"ALTER TABLE {kind.name[3:]}", table)


def _rename(node: ast.RenameStmt) -> Iterator[ops.Operation]:
    kind = node.renameType
    if kind in (OT.OBJECT_TABLE, OT.OBJECT_VIEW):
        yield ops.RenameTableOp(_name(node.relation), node.newname)
    elif kind == OT.OBJECT_COLUMN:
        yield ops.AlterColumnOp(_name(node.relation), node.subname, modify_name=node.newname)
    elif kind == OT.OBJECT_INDEX:
        yield ops.RenameIndexOp(_name(node.relation), node.newname)
    elif kind == OT.OBJECT_SCHEMA:
        yield ops.MoveObjectOp("schema", node.subname, node.newname, "rename")
    elif kind in _MOVABLE:
        yield ops.MoveObjectOp(_MOVABLE[kind], _object_name(node), node.newname, "rename")
    else:
        table = _name(node.relation) if node.relation else None
        yield ops.OtherStatementOp(f"RENAME {kind.name[7:]}", table)


# Objects blue names in its queries: renaming one or moving it to another schema breaks blue.
_MOVABLE = {
    OT.OBJECT_TABLE: "table", OT.OBJECT_VIEW: "view", OT.OBJECT_MATVIEW: "materialized view",
    OT.OBJECT_TYPE: "type", OT.OBJECT_DOMAIN: "domain", OT.OBJECT_FUNCTION: "function",
    OT.OBJECT_PROCEDURE: "procedure", OT.OBJECT_FOREIGN_TABLE: "foreign table",
}  # Sequences are left out: defaults hold them by OID, and renaming one follows a table.


def _object_name(node) -> str:
    if getattr(node, "relation", None) is not None:
        return _name(node.relation)
    obj = node.object
    if isinstance(obj, ast.ObjectWithArgs):
        return _dotted(obj.objname)
    if isinstance(obj, tuple):
        return _dotted(obj)
    if isinstance(obj, ast.String):
        return obj.sval
    return _sql(obj)


def _set_schema(node: ast.AlterObjectSchemaStmt) -> Iterator[ops.Operation]:
    kind = _MOVABLE.get(node.objectType)
    if kind is None:
        yield ops.OtherStatementOp("AlterObjectSchemaStmt")
        return
    name = _object_name(node)
    table = name if kind in ("table", "view", "materialized view", "foreign table") else None
    yield ops.MoveObjectOp(kind, name, f"{node.newschema}.{name.split('.')[-1]}",
                           "set schema", table_name=table)


def _index(node: ast.IndexStmt) -> Iterator[ops.Operation]:
    columns = [p.name if p.name else _sql(p.expr) for p in node.indexParams]
    op = ops.CreateIndexOp(node.idxname, _name(node.relation), columns,
                           unique=bool(node.unique))
    op.kw["postgresql_concurrently"] = bool(node.concurrent)
    if node.whereClause is not None:
        op.kw["postgresql_where"] = _sql(node.whereClause)
    if node.if_not_exists:
        op.kw["if_not_exists"] = True
    if not node.relation.inh:
        op.kw["bluegreen_only"] = True  # ON ONLY: the partitioned parent alone, no build
    yield op


_DROP_KINDS = {
    OT.OBJECT_VIEW: "view", OT.OBJECT_MATVIEW: "materialized view", OT.OBJECT_TYPE: "type",
    OT.OBJECT_SEQUENCE: "sequence", OT.OBJECT_FUNCTION: "function", OT.OBJECT_SCHEMA: "schema",
    OT.OBJECT_TRIGGER: "trigger", OT.OBJECT_EXTENSION: "extension", OT.OBJECT_DOMAIN: "domain",
}


def _drop(node: ast.DropStmt) -> Iterator[ops.Operation]:
    kind = node.removeType
    names = []
    for obj in node.objects:
        if isinstance(obj, tuple):
            names.append(_dotted(obj))
        elif isinstance(obj, ast.TypeName):
            names.append(_dotted(obj.names))
        elif isinstance(obj, ast.String):
            names.append(obj.sval)
        else:
            names.append(_sql(obj))
    if kind == OT.OBJECT_TABLE:
        for name in names:
            yield ops.DropTableOp(name)
    elif kind == OT.OBJECT_INDEX:
        for name in names:
            op = ops.DropIndexOp(name)
            op.kw["postgresql_concurrently"] = bool(node.concurrent)
            yield op
    else:
        yield ops.DropObjectOp(_DROP_KINDS.get(kind, kind.name[7:].lower()), names)


def _enum(node: ast.CreateEnumStmt) -> Iterator[ops.Operation]:
    yield ops.CreateEnumOp(_dotted(node.typeName), [v.sval for v in node.vals or ()])


def _alter_enum(node: ast.AlterEnumStmt) -> Iterator[ops.Operation]:
    name = _dotted(node.typeName)
    if node.oldVal:
        yield ops.RenameEnumValueOp(name, node.oldVal, node.newVal)
    else:
        yield ops.AddEnumValueOp(name, node.newVal, bool(node.skipIfNewValExists))


def _view(node: ast.ViewStmt) -> Iterator[ops.Operation]:
    visitor = _Tables()
    visitor(node.query)
    yield ops.CreateViewOp(_name(node.view), visitor.names, bool(node.replace), False)


def _create_table_as(node: ast.CreateTableAsStmt) -> Iterator[ops.Operation]:
    visitor = _Tables()
    visitor(node.query)
    name = _name(node.into.rel)
    if node.objtype == OT.OBJECT_MATVIEW:
        yield ops.CreateViewOp(name, visitor.names, False, True)
    else:
        yield ops.CreateTableOp(name, [])


def _update(node: ast.UpdateStmt) -> Iterator[ops.Operation]:
    yield _data_change("update", node)


def _delete(node: ast.DeleteStmt) -> Iterator[ops.Operation]:
    yield _data_change("delete", node)


def _data_change(kind: str, node) -> ops.DataChangeOp:
    op = ops.DataChangeOp(kind, _name(node.relation), node.whereClause is not None,
                          has_limit=_has_limit(node.whereClause))
    op.bounded_by = _key_bounds(node.whereClause)
    return op


def _has_limit(where) -> bool:
    """A WHERE that picks rows through a sub-select with LIMIT: one batch of a loop."""
    if where is None:
        return False
    found = []

    class _Limits(Visitor):
        def visit_SelectStmt(self, ancestors, node):  # noqa: N802
            if node.limitCount is not None:
                found.append(node)

    _Limits()(where)
    return bool(found)


def _key_bounds(where) -> list[str]:
    """Columns the WHERE bounds to a few rows: ``col = constant``, ``col IN (constants)``
    or a range between constants, in a conjunct. The caller checks they are keys."""
    if where is None:
        return []
    if isinstance(where, ast.BoolExpr):
        parts = [_key_bounds(arg) for arg in where.args]
        if where.boolop == enums.BoolExprType.AND_EXPR:
            return [c for p in parts for c in p]
        if where.boolop == enums.BoolExprType.OR_EXPR and all(parts):
            return parts[0]
        return []
    if isinstance(where, ast.A_Expr):
        column = where.lexpr if isinstance(where.lexpr, ast.ColumnRef) else None
        value = where.rexpr
        if column is None and isinstance(where.rexpr, ast.ColumnRef):
            column, value = where.rexpr, where.lexpr
        if column is None or not isinstance(column.fields[-1], ast.String):
            return []
        name = column.fields[-1].sval
        constant = (ast.A_Const, ast.ParamRef, ast.TypeCast)
        op = where.name[-1].sval if where.name else ""
        if where.kind == enums.A_Expr_Kind.AEXPR_OP and op == "=" and isinstance(value, constant):
            return [name]
        if where.kind == enums.A_Expr_Kind.AEXPR_IN and isinstance(value, tuple) and all(
                isinstance(v, constant) for v in value):
            return [name]
        if where.kind in (enums.A_Expr_Kind.AEXPR_BETWEEN,):
            return [name]
    return []


def _do_block(node: ast.DoStmt) -> Iterator[ops.Operation]:
    """The operations of the statements a DO block runs, each carrying its own SQL."""
    language, body = plpgsql.do_body(node)
    if language != "plpgsql":
        yield ops.DynamicSqlOp(f"a DO block in {language}")
        return
    try:
        inner = plpgsql.inner_statements(body)
    except plpgsql.NotPlpgsql:
        yield ops.DynamicSqlOp("a DO block whose body does not parse as PL/pgSQL")
        return
    produced = False
    for statement in inner:
        if statement.sql is None:
            produced = True
            yield ops.DynamicSqlOp(statement.what)
            continue
        try:
            parsed = pglast.parse_sql(statement.sql)
        except pglast.parser.ParseError:
            produced = True
            yield ops.DynamicSqlOp(f"a statement that does not parse: {statement.sql[:60]}")
            continue
        for raw in parsed:
            text = statement.sql[raw.stmt_location: raw.stmt_location + (
                raw.stmt_len or len(statement.sql))].strip()
            for op in _operations(raw.stmt):
                if isinstance(op, ops.OtherStatementOp) and op.kind in _READS:
                    continue  # a SELECT or PERFORM inside the block changes nothing
                op.bluegreen_sql = text
                if isinstance(op, ops.DataChangeOp):
                    op.in_loop, op.loop_commits = statement.in_loop, statement.loop_commits
                produced = True
                yield op
    if not produced:
        yield ops.OtherStatementOp("DO")  # reads and control flow only


_READS = {"SelectStmt", "VariableShowStmt"}


def _refresh(node: ast.RefreshMatViewStmt) -> Iterator[ops.Operation]:
    yield ops.RefreshMaterializedViewOp(_name(node.relation), bool(node.concurrent),
                                        not node.skipData)


def _create_domain(node: ast.CreateDomainStmt) -> Iterator[ops.Operation]:
    yield ops.CreateDomainOp(_dotted(node.domainname), _type_spec(node.typeName),
                             bool(node.constraints))


_DOMAIN_ACTIONS = {"C": "add_constraint", "V": "validate_constraint", "O": "set_not_null",
                   "N": "drop_not_null", "X": "drop_constraint", "T": "default"}


def _alter_domain(node: ast.AlterDomainStmt) -> Iterator[ops.Operation]:
    action = _DOMAIN_ACTIONS.get(node.subtype, "other")
    if action == "default":
        action = "set_default" if node.def_ is not None else "drop_default"
    constraint = node.name
    not_valid = False
    if isinstance(node.def_, ast.Constraint):
        constraint = node.def_.conname
        not_valid = bool(node.def_.skip_validation)
        if node.def_.contype == CT.CONSTR_NOTNULL:
            action = "set_not_null"
    yield ops.AlterDomainOp(_dotted(node.typeName), action, constraint, not_valid)


def _function(node: ast.CreateFunctionStmt) -> Iterator[ops.Operation]:
    yield ops.CreateFunctionOp(_dotted(node.funcname), bool(node.replace))


_LOCK_MODES = {1: "ACCESS SHARE", 2: "ROW SHARE", 3: "ROW EXCLUSIVE",
               4: "SHARE UPDATE EXCLUSIVE", 5: "SHARE", 6: "SHARE ROW EXCLUSIVE",
               7: "EXCLUSIVE", 8: "ACCESS EXCLUSIVE"}


def _lock(node: ast.LockStmt) -> Iterator[ops.Operation]:
    for relation in node.relations:
        yield ops.LockTableOp(_name(relation), _LOCK_MODES.get(node.mode, "ACCESS EXCLUSIVE"))


def _trigger(node: ast.CreateTrigStmt) -> Iterator[ops.Operation]:
    yield ops.TriggerOp(_name(node.relation), "create trigger", node.trigname)


def _rule(node: ast.RuleStmt) -> Iterator[ops.Operation]:
    yield ops.TriggerOp(_name(node.relation), "create rule", node.rulename)


def _insert(node: ast.InsertStmt) -> Iterator[ops.Operation]:
    from_select = isinstance(node.selectStmt, ast.SelectStmt) and not node.selectStmt.valuesLists
    yield ops.DataChangeOp("insert", _name(node.relation), from_select)


def _truncate(node: ast.TruncateStmt) -> Iterator[ops.Operation]:
    for relation in node.relations:
        yield ops.DataChangeOp("truncate", _name(relation), False)


def _transaction(node: ast.TransactionStmt) -> Iterator[ops.Operation]:
    kind = node.kind.name
    if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
        yield ops.TransactionOp("begin")
    elif kind in ("TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK"):
        yield ops.TransactionOp("commit" if kind.endswith("COMMIT") else "rollback")
    else:
        yield ops.OtherStatementOp(kind[11:])


def _set(node: ast.VariableSetStmt) -> Iterator[ops.Operation]:
    value = ", ".join(_sql(a) for a in node.args) if node.args else None
    yield ops.SessionSettingOp(node.name or "", value)


def _vacuum(node: ast.VacuumStmt) -> Iterator[ops.Operation]:
    options = {o.defname.lower() for o in node.options or ()}
    if not node.is_vacuumcmd:
        yield ops.OtherStatementOp("ANALYZE")
        return
    if "full" not in options:
        yield ops.OtherStatementOp("VACUUM")
        return
    for relation in node.rels or (None,):
        table = _name(relation.relation) if relation is not None else None
        yield ops.RewriteTableOp(table, "VACUUM FULL")


def _cluster(node: ast.ClusterStmt) -> Iterator[ops.Operation]:
    yield ops.RewriteTableOp(_name(node.relation) if node.relation else None, "CLUSTER")


def _reindex(node: ast.ReindexStmt) -> Iterator[ops.Operation]:
    options = {o.defname.lower() for o in node.params or ()}
    target = _name(node.relation) if node.relation else (node.name or "")
    kind = node.kind.name[len("REINDEX_OBJECT_"):].lower()
    table = target if kind == "table" else None
    yield ops.ReindexOp(target, kind, "concurrently" in options, table)


_HANDLERS = {
    "CreateStmt": _create_table,
    "AlterTableStmt": _alter_table,
    "RenameStmt": _rename,
    "IndexStmt": _index,
    "DropStmt": _drop,
    "CreateEnumStmt": _enum,
    "AlterEnumStmt": _alter_enum,
    "ViewStmt": _view,
    "CreateTableAsStmt": _create_table_as,
    "UpdateStmt": _update,
    "DeleteStmt": _delete,
    "InsertStmt": _insert,
    "TruncateStmt": _truncate,
    "TransactionStmt": _transaction,
    "VariableSetStmt": _set,
    "VacuumStmt": _vacuum,
    "ClusterStmt": _cluster,
    "ReindexStmt": _reindex,
    "RefreshMatViewStmt": _refresh,
    "CreateDomainStmt": _create_domain,
    "AlterDomainStmt": _alter_domain,
    "AlterObjectSchemaStmt": _set_schema,
    "CreateTrigStmt": _trigger,
    "CreateFunctionStmt": _function,
    "LockStmt": _lock,
    "RuleStmt": _rule,
    "DoStmt": lambda node: _do_block(node),
}
