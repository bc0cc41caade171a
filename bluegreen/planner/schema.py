"""The schema a migration runs on, as the planner sees it, and how each op changes it.

The same model is filled from a DDL file (``--schema``: its statements are applied to an
empty schema), from a live database (introspection), and, statement by statement, from the
migration being planned, so every statement is judged against the schema the earlier ones
left behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bluegreen.planner import ops
from bluegreen.planner.types import SqlType


def normalize_name(name: str) -> str:
    name = name.strip().strip('"').lower()
    return name[len("public."):] if name.startswith("public.") else name


@dataclass
class ColumnInfo:
    name: str
    type: SqlType | None
    nullable: bool = True
    default: str | None = None
    generated: bool = False
    identity: bool = False
    added_in_migration: bool = False


@dataclass
class ConstraintInfo:
    name: str
    kind: str  # primary | unique | check | foreign | exclude | not_null
    columns: list[str] = field(default_factory=list)
    valid: bool = True
    expression: str | None = None
    referred_table: str | None = None


@dataclass
class IndexInfo:
    name: str
    table: str
    columns: list[str]
    unique: bool = False


@dataclass
class TableInfo:
    name: str
    columns: dict[str, ColumnInfo] = field(default_factory=dict)
    constraints: dict[str, ConstraintInfo] = field(default_factory=dict)
    rows: int | None = None
    size_bytes: int | None = None
    created_in_migration: bool = False
    partitioned: bool = False
    partitions: list[str] = field(default_factory=list)
    # Columns blue used that this migration dropped: a new column taking the name is a change
    # of that column for blue, not an addition.
    dropped_in_migration: set[str] = field(default_factory=set)

    @property
    def primary_key(self) -> list[str]:
        for constraint in self.constraints.values():
            if constraint.kind == "primary":
                return list(constraint.columns)
        return []

    def has_valid_not_null_check(self, column: str) -> bool:
        wanted = f"{column.lower()} is not null"
        for constraint in self.constraints.values():
            if constraint.kind == "check" and constraint.valid and constraint.expression:
                expr = constraint.expression.lower().replace('"', "").strip("() ")
                if expr == wanted:
                    return True
        return False


@dataclass
class Schema:
    """Tables, indexes, enums and views by normalised name. ``known`` is False when the
    planner was given no schema: every table is then assumed to exist and be large."""

    tables: dict[str, TableInfo] = field(default_factory=dict)
    indexes: dict[str, IndexInfo] = field(default_factory=dict)
    enums: dict[str, list[str]] = field(default_factory=dict)
    views: dict[str, list[str]] = field(default_factory=dict)
    domains: dict[str, tuple[str, bool]] = field(default_factory=dict)  # base type, constrained
    known: bool = False
    description: str = "no schema"
    # Functions, types, domains and views created by the migration being planned.
    new_objects: set[str] = field(default_factory=set)
    # Session settings made by the migration (SET TimeZone ...), by lower-case name.
    session: dict[str, str] = field(default_factory=dict)

    def table(self, name: str | None) -> TableInfo | None:
        return self.tables.get(normalize_name(name)) if name else None

    def column(self, table: str | None, column: str) -> ColumnInfo | None:
        info = self.table(table)
        return info.columns.get(column.lower()) if info else None

    def is_new(self, table: str | None) -> bool:
        """True when the table was created earlier in the migration being planned."""
        info = self.table(table)
        return bool(info and info.created_in_migration)

    def end_migration(self) -> None:
        """A migration (one SQL file or one revision) is deployed: what it created is now
        in use by the app like everything else."""
        for table in self.tables.values():
            table.created_in_migration = False
            table.dropped_in_migration.clear()
            for column in table.columns.values():
                column.added_in_migration = False
        self.new_objects.clear()
        self.session.clear()

    def is_new_object(self, name: str | None) -> bool:
        return bool(name) and (normalize_name(name) in self.new_objects or self.is_new(name))

    # ---- applying operations -------------------------------------------------------------

    def apply(self, op: ops.Operation, *, in_migration: bool) -> None:
        handler = getattr(self, "_apply_" + type(op).__name__, None)
        if handler is not None:
            handler(op, in_migration)

    def _table_for(self, name: str) -> TableInfo:
        key = normalize_name(name)
        if key not in self.tables:
            # Unknown table: remember what we learn about it from here on.
            self.tables[key] = TableInfo(name=key)
        return self.tables[key]

    def _apply_CreateTableOp(self, op: ops.CreateTableOp, in_migration: bool) -> None:  # noqa: N802
        key = normalize_name(op.table_name)
        table = TableInfo(name=key, created_in_migration=in_migration,
                          partitioned=bool(op.kw.get("bluegreen_partitioned")))
        self.tables[key] = table
        parent = op.kw.get("bluegreen_partition_of")
        if parent:
            self._table_for(parent).partitions.append(key)
        for item in op.columns:
            if isinstance(item, ops.Column):
                info = column_info(item)
                info.added_in_migration = in_migration
                table.columns[info.name] = info
                if item.primary_key:
                    pk = table.constraints.setdefault(
                        f"{key}_pkey", ConstraintInfo(f"{key}_pkey", "primary"))
                    pk.columns.append(info.name)
            else:
                self._add_constraint(table, _constraint_info(item, key))

    def _apply_DropTableOp(self, op: ops.DropTableOp, in_migration: bool) -> None:  # noqa: N802
        self.tables.pop(normalize_name(op.table_name), None)

    def _apply_RenameTableOp(self, op: ops.RenameTableOp, in_migration: bool) -> None:  # noqa: N802
        table = self.tables.pop(normalize_name(op.table_name), None)
        if table is not None:
            table.name = normalize_name(op.new_table_name)
            self.tables[table.name] = table

    def _apply_AddColumnOp(self, op: ops.AddColumnOp, in_migration: bool) -> None:  # noqa: N802
        table = self._table_for(op.table_name)
        info = column_info(op.column)
        info.added_in_migration = in_migration
        table.columns[info.name] = info
        if op.column.primary_key:
            table.constraints[f"{table.name}_pkey"] = ConstraintInfo(
                f"{table.name}_pkey", "primary", [info.name])

    def _apply_DropColumnOp(self, op: ops.DropColumnOp, in_migration: bool) -> None:  # noqa: N802
        table = self._table_for(op.table_name)
        column = table.columns.pop(op.column_name.lower(), None)
        if in_migration and not (column and column.added_in_migration):
            table.dropped_in_migration.add(op.column_name.lower())

    def _apply_AlterColumnOp(self, op: ops.AlterColumnOp, in_migration: bool) -> None:  # noqa: N802
        table = self._table_for(op.table_name)
        name = op.column_name.lower()
        column = table.columns.get(name)
        if column is None:
            column = table.columns[name] = ColumnInfo(name=name, type=None)
        if op.modify_type is not None:
            column.type = None if op.modify_type is ops.UNREADABLE_TYPE else op.modify_type
        if op.modify_nullable is not None:
            column.nullable = op.modify_nullable
        if op.modify_server_default is not False:
            column.default = op.modify_server_default
        if op.modify_name:
            table.columns.pop(name)
            column.name = op.modify_name.lower()
            table.columns[column.name] = column

    def _apply_CreateIndexOp(self, op: ops.CreateIndexOp, in_migration: bool) -> None:  # noqa: N802
        if op.index_name:
            self.indexes[normalize_name(op.index_name)] = IndexInfo(
                normalize_name(op.index_name), normalize_name(op.table_name),
                [str(c) for c in op.columns], bool(op.unique))

    def _apply_DropIndexOp(self, op: ops.DropIndexOp, in_migration: bool) -> None:  # noqa: N802
        self.indexes.pop(normalize_name(op.index_name), None)

    def _add_constraint_op(self, op: ops.AddConstraintOp, in_migration: bool) -> None:
        if op.table_name:
            self._add_constraint(self._table_for(op.table_name), constraint_info_of_op(op))

    # A plain AddConstraintOp (an Alembic EXCLUDE constraint) is not recorded.
    _apply_CreateCheckConstraintOp = _add_constraint_op
    _apply_CreateForeignKeyOp = _add_constraint_op
    _apply_CreateUniqueConstraintOp = _add_constraint_op
    _apply_CreatePrimaryKeyOp = _add_constraint_op

    def _add_constraint(self, table: TableInfo, info: ConstraintInfo) -> None:
        table.constraints[info.name] = info
        if info.kind == "primary":
            for column in info.columns:
                if column in table.columns:
                    table.columns[column].nullable = False

    def _apply_DropConstraintOp(self, op: ops.DropConstraintOp, in_migration: bool) -> None:  # noqa: N802
        table = self.table(op.table_name)
        if table:
            table.constraints.pop(op.constraint_name.lower(), None)

    def _apply_ValidateConstraintOp(self, op: ops.ValidateConstraintOp, in_migration: bool) -> None:  # noqa: N802
        table = self.table(op.table_name)
        if table and op.constraint_name.lower() in table.constraints:
            table.constraints[op.constraint_name.lower()].valid = True

    def _apply_CreateEnumOp(self, op: ops.CreateEnumOp, in_migration: bool) -> None:  # noqa: N802
        self.enums[normalize_name(op.name)] = list(op.values)
        if in_migration:
            self.new_objects.add(normalize_name(op.name))

    def _apply_CreateDomainOp(self, op: ops.CreateDomainOp, in_migration: bool) -> None:  # noqa: N802
        self.domains[normalize_name(op.name)] = (op.base_type, op.has_constraints)
        if in_migration:
            self.new_objects.add(normalize_name(op.name))

    def _apply_CreateFunctionOp(self, op: ops.CreateFunctionOp, in_migration: bool) -> None:  # noqa: N802
        if in_migration and not op.replace_existing:
            self.new_objects.add(normalize_name(op.name))

    def _apply_AlterDomainOp(self, op: ops.AlterDomainOp, in_migration: bool) -> None:  # noqa: N802
        key = normalize_name(op.name)
        if op.action in ("add_constraint", "set_not_null") and key in self.domains:
            self.domains[key] = (self.domains[key][0], True)

    def _apply_SessionSettingOp(self, op: ops.SessionSettingOp, in_migration: bool) -> None:  # noqa: N802
        name = op.name.lower()
        if op.value is None:
            self.session.pop(name, None)
        else:
            self.session[name] = op.value.strip("'\"")

    def _apply_MoveObjectOp(self, op: ops.MoveObjectOp, in_migration: bool) -> None:  # noqa: N802
        old, new = normalize_name(op.name), normalize_name(op.new_name)
        if op.kind == "type" and old in self.enums:
            self.enums[new] = self.enums.pop(old)
        if op.kind == "domain" and old in self.domains:
            self.domains[new] = self.domains.pop(old)
        if op.table_name and old in self.tables:
            table = self.tables.pop(old)
            table.name = new
            self.tables[new] = table

    def _apply_AddEnumValueOp(self, op: ops.AddEnumValueOp, in_migration: bool) -> None:  # noqa: N802
        self.enums.setdefault(normalize_name(op.name), []).append(op.value)

    def _apply_CreateViewOp(self, op: ops.CreateViewOp, in_migration: bool) -> None:  # noqa: N802
        self.views[normalize_name(op.name)] = [normalize_name(t) for t in op.tables]
        if in_migration and not op.replace:
            self.new_objects.add(normalize_name(op.name))

    def _apply_DropObjectOp(self, op: ops.DropObjectOp, in_migration: bool) -> None:  # noqa: N802
        for name in op.names:
            key = normalize_name(name)
            if op.kind in ("view", "materialized view"):
                self.views.pop(key, None)
            elif op.kind == "type":
                self.enums.pop(key, None)
            elif op.kind == "index":
                self.indexes.pop(key, None)


# ---- columns and constraints -> planner facts ------------------------------------------------

def column_info(column: ops.Column) -> ColumnInfo:
    default = column.server_default
    if column.type is not None and column.type.serial:
        default = default or "nextval(serial)"
    return ColumnInfo(
        name=column.name.lower(),
        type=column.type,
        nullable=column.nullable and not column.primary_key,
        default=default,
        generated=column.computed is not None,
        identity=column.identity,
    )


def _constraint_info(constraint: ops.Constraint, table: str) -> ConstraintInfo:
    name = (constraint.name or f"{table}_{type(constraint).__name__}").lower()
    columns = [c.lower() for c in constraint.columns]
    if isinstance(constraint, ops.PrimaryKeyConstraint):
        return ConstraintInfo(name, "primary", columns)
    if isinstance(constraint, ops.UniqueConstraint):
        return ConstraintInfo(name, "unique", columns)
    if isinstance(constraint, ops.CheckConstraint):
        return ConstraintInfo(name, "check", columns, expression=constraint.sqltext)
    if isinstance(constraint, ops.ForeignKeyConstraint):
        return ConstraintInfo(name, "foreign", columns, referred_table=constraint.referred_table)
    return ConstraintInfo(name, "other", columns)


def constraint_info_of_op(op: ops.AddConstraintOp) -> ConstraintInfo:
    name = (op.constraint_name or "unnamed").lower()
    valid = not op.kw.get("bluegreen_not_valid", False)
    if isinstance(op, ops.CreatePrimaryKeyOp):
        return ConstraintInfo(name, "primary", [c.lower() for c in op.columns])
    if isinstance(op, ops.CreateUniqueConstraintOp):
        kind = op.kw.get("bluegreen_kind", "unique")
        return ConstraintInfo(name, kind, [c.lower() for c in op.columns])
    if isinstance(op, ops.CreateCheckConstraintOp):
        return ConstraintInfo(name, "check", [], valid=valid, expression=op.condition)
    if isinstance(op, ops.CreateForeignKeyOp):
        return ConstraintInfo(name, "foreign", [c.lower() for c in op.local_cols], valid=valid,
                              referred_table=normalize_name(op.referent_table))
    return ConstraintInfo(name, "other")
