"""The lock table: which lock each statement kind takes in PostgreSQL, on which relations,
and whether it rewrites or scans the table, as data.

Each row names a statement kind the planner knows, an example that runs on ``FIXTURE``,
the strongest lock it takes on each relation it touches (by role: ``table`` is the one
being changed, ``referenced`` the other side of a foreign key, ...), whether it rewrites the
table (new storage) or reads every row while holding the lock, and the PostgreSQL
documentation that says so. tests/planner/test_lock_table.py runs every row on a real server
and compares ``pg_locks``, ``relfilenode`` and the table's scan counter with the row.

Rows describe PostgreSQL 15 (what the tests run); ``versions`` says what differs from 11 to
17, and the planner's version rules (``--pg-version``) follow it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bluegreen.planner import ops

ACCESS_SHARE = "ACCESS SHARE"
ROW_SHARE = "ROW SHARE"
ROW_EXCLUSIVE = "ROW EXCLUSIVE"
SHARE_UPDATE_EXCLUSIVE = "SHARE UPDATE EXCLUSIVE"
SHARE = "SHARE"
SHARE_ROW_EXCLUSIVE = "SHARE ROW EXCLUSIVE"
EXCLUSIVE = "EXCLUSIVE"
ACCESS_EXCLUSIVE = "ACCESS EXCLUSIVE"

_ORDER = [None, ACCESS_SHARE, ROW_SHARE, ROW_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE,
          SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE]
# The app reads (ACCESS SHARE) and writes (ROW EXCLUSIVE): these modes make it wait.
BLOCKS_WRITES = frozenset({SHARE, SHARE_ROW_EXCLUSIVE, EXCLUSIVE, ACCESS_EXCLUSIVE})
BLOCKS_READS = frozenset({ACCESS_EXCLUSIVE})

_DOC = "https://www.postgresql.org/docs/15/"
ALTER_TABLE_NOTES = _DOC + "sql-altertable.html#SQL-ALTERTABLE-NOTES"
EXPLICIT_LOCKING = _DOC + "explicit-locking.html#LOCKING-TABLES"


def strongest(a: str | None, b: str | None) -> str | None:
    return a if _ORDER.index(a) >= _ORDER.index(b) else b


# What the lock test builds before each row (and drops after): a table ``t`` with rows and
# indexes, a referenced table ``p``, a materialized view, a partitioned table with one
# partition and one table to attach, a domain used by a column, an enum.
FIXTURE = """
CREATE TABLE p (id int PRIMARY KEY);
INSERT INTO p SELECT generate_series(1, 100);
CREATE TABLE t (id int PRIMARY KEY, a int, b text, c varchar(10), d timestamp, e cidr,
                p_id int, n int);
INSERT INTO t SELECT g, g, 'b' || g, 'c', '2020-01-01', '10.0.0.0/8', g, g
  FROM generate_series(1, 100) g;
CREATE INDEX t_b_idx ON t (b);
CREATE INDEX t_d_idx ON t (d);
CREATE UNIQUE INDEX t_a_key ON t (a);
CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;
CREATE UNIQUE INDEX mv_id ON mv (id);
CREATE TABLE pt (id int, k int) PARTITION BY RANGE (k);
CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (0) TO (100);
INSERT INTO pt SELECT g, g FROM generate_series(0, 99) g;
CREATE TABLE pt2 (id int, k int);
INSERT INTO pt2 SELECT g, 100 + g FROM generate_series(0, 9) g;
CREATE DOMAIN posint AS int;
CREATE TABLE dt (id int PRIMARY KEY, v posint);
INSERT INTO dt SELECT g, g FROM generate_series(1, 100) g;
CREATE TYPE mood AS ENUM ('happy', 'sad');
CREATE SCHEMA IF NOT EXISTS other;
CREATE EXTENSION IF NOT EXISTS citext;
"""


@dataclass(frozen=True)
class LockRow:
    """One statement kind: the locks it takes, by the role of each relation."""

    kind: str
    example: str
    locks: dict[str, str]  # role -> strongest lock mode; {} takes no table lock
    rewrites: bool = False  # the table gets new storage (a rewrite)
    scans: bool = False  # reads every row of the table while holding its lock
    rebuilds_index: str | None = None  # an index rebuilt (scanning the table) though no rewrite
    doc: str = ALTER_TABLE_NOTES
    versions: str = ""
    setup: str = ""  # run first, in a transaction of its own (committed)
    constant_time: bool = False  # its rewrite or scans are of a new, empty table
    in_transaction: bool = True  # False: refused in a transaction block; observed while waiting
    relations: dict[str, str] = field(default_factory=lambda: {"table": "t", "referenced": "p"})

    @property
    def table_lock(self) -> str | None:
        return self.locks.get("table")

    @property
    def long(self) -> bool:
        """Its time grows with the table: a rewrite, a scan or an index build."""
        if self.constant_time:
            return False
        return self.rewrites or self.scans or self.rebuilds_index is not None


_MV = {"table": "mv"}
_PT = {"table": "pt", "partition": "pt2"}
_PT1 = {"table": "pt", "partition": "pt1"}
_DT = {"table": "dt"}
AE, SUE, SRE = ACCESS_EXCLUSIVE, SHARE_UPDATE_EXCLUSIVE, SHARE_ROW_EXCLUSIVE

LOCK_TABLE: tuple[LockRow, ...] = (
    # -- columns ---------------------------------------------------------------------------
    LockRow("add_column", "ALTER TABLE t ADD COLUMN x int", {"table": AE}),
    LockRow("add_column_constant_default", "ALTER TABLE t ADD COLUMN x int NOT NULL DEFAULT 0",
            {"table": AE}, versions="rewrites the table before PostgreSQL 11"),
    LockRow("add_column_volatile_default", "ALTER TABLE t ADD COLUMN x float8 DEFAULT random()",
            {"table": AE}, rewrites=True, scans=True),
    LockRow("add_column_identity",
            "ALTER TABLE t ADD COLUMN x bigint GENERATED ALWAYS AS IDENTITY",
            {"table": AE}, rewrites=True, scans=True),
    LockRow("add_column_stored_generated",
            "ALTER TABLE t ADD COLUMN x int GENERATED ALWAYS AS (a * 2) STORED",
            {"table": AE}, rewrites=True, scans=True, versions="exists from PostgreSQL 12"),
    LockRow("add_column_check", "ALTER TABLE t ADD COLUMN x int CHECK (x > 0)",
            {"table": AE}, scans=True),
    LockRow("add_column_unique", "ALTER TABLE t ADD COLUMN x int UNIQUE",
            {"table": AE}, scans=True),
    LockRow("add_column_references", "ALTER TABLE t ADD COLUMN x int REFERENCES p (id)",
            {"table": AE, "referenced": SRE}),
    LockRow("drop_column", "ALTER TABLE t DROP COLUMN n", {"table": AE}),
    LockRow("rename_column", "ALTER TABLE t RENAME COLUMN n TO m", {"table": AE}),
    LockRow("set_default", "ALTER TABLE t ALTER COLUMN n SET DEFAULT 1", {"table": AE}),
    LockRow("drop_default", "ALTER TABLE t ALTER COLUMN n DROP DEFAULT", {"table": AE}),
    LockRow("drop_not_null", "ALTER TABLE t ALTER COLUMN id DROP NOT NULL",
            {"table": AE}, setup="ALTER TABLE t DROP CONSTRAINT t_pkey"),
    LockRow("set_not_null", "ALTER TABLE t ALTER COLUMN n SET NOT NULL",
            {"table": AE}, scans=True),
    LockRow("set_not_null_proven", "ALTER TABLE t ALTER COLUMN n SET NOT NULL", {"table": AE},
            setup="ALTER TABLE t ADD CONSTRAINT n_nn CHECK (n IS NOT NULL)",
            versions="a validated CHECK (col IS NOT NULL) spares the scan from PostgreSQL 12"),
    LockRow("set_statistics", "ALTER TABLE t ALTER COLUMN n SET STATISTICS 200",
            {"table": SUE}),
    LockRow("set_storage_options", "ALTER TABLE t SET (autovacuum_enabled = false)",
            {"table": SUE}),
    # -- column types --------------------------------------------------------------------
    LockRow("alter_type_rewrite", "ALTER TABLE t ALTER COLUMN a TYPE bigint",
            {"table": AE}, rewrites=True, scans=True),
    LockRow("alter_type_varchar_longer", "ALTER TABLE t ALTER COLUMN c TYPE varchar(50)",
            {"table": AE}),
    LockRow("alter_type_varchar_shorter", "ALTER TABLE t ALTER COLUMN c TYPE varchar(5)",
            {"table": AE}, rewrites=True, scans=True),
    LockRow("alter_type_varchar_to_text", "ALTER TABLE t ALTER COLUMN c TYPE text",
            {"table": AE}),
    LockRow("alter_type_text_to_varchar", "ALTER TABLE t ALTER COLUMN b TYPE varchar(50)",
            {"table": AE}, rewrites=True, scans=True),
    LockRow("alter_type_text_to_citext", "ALTER TABLE t ALTER COLUMN b TYPE citext",
            {"table": AE}, rebuilds_index="t_b_idx"),
    LockRow("alter_type_cidr_to_inet", "ALTER TABLE t ALTER COLUMN e TYPE inet", {"table": AE}),
    LockRow("alter_type_using_same_value", "ALTER TABLE t ALTER COLUMN c TYPE text USING c::text",
            {"table": AE}),
    LockRow("alter_type_using_expression",
            "ALTER TABLE t ALTER COLUMN c TYPE text USING lower(c)",
            {"table": AE}, rewrites=True, scans=True),
    LockRow("alter_type_timestamptz_utc", "ALTER TABLE t ALTER COLUMN d TYPE timestamptz",
            {"table": AE}, rebuilds_index="t_d_idx", setup="SET TimeZone = 'UTC'",
            versions="rewrites before PostgreSQL 12, and from 12 in any other time zone"),
    LockRow("alter_type_timestamptz_other_zone", "ALTER TABLE t ALTER COLUMN d TYPE timestamptz",
            {"table": AE}, rewrites=True, scans=True,
            setup="SET TimeZone = 'Europe/Paris'"),
    # -- constraints ---------------------------------------------------------------------
    LockRow("add_check", "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0)",
            {"table": AE}, scans=True),
    LockRow("add_check_not_valid", "ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID",
            {"table": AE}),
    LockRow("validate_check", "ALTER TABLE t VALIDATE CONSTRAINT n_pos", {"table": SUE},
            scans=True, setup="ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID"),
    LockRow("add_foreign_key",
            "ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (p_id) REFERENCES p (id)",
            {"table": SRE, "referenced": SRE}, scans=True),
    LockRow("add_foreign_key_not_valid",
            "ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID",
            {"table": SRE, "referenced": SRE}),
    LockRow("validate_foreign_key", "ALTER TABLE t VALIDATE CONSTRAINT t_p",
            {"table": SUE, "referenced": ROW_SHARE}, scans=True,
            setup="ALTER TABLE t ADD CONSTRAINT t_p FOREIGN KEY (p_id) REFERENCES p (id) "
                  "NOT VALID"),
    LockRow("add_unique", "ALTER TABLE t ADD CONSTRAINT t_n_key UNIQUE (n)",
            {"table": AE}, scans=True),
    LockRow("add_primary_key", "ALTER TABLE t ADD PRIMARY KEY (id)", {"table": AE},
            scans=True, setup="ALTER TABLE t DROP CONSTRAINT t_pkey"),
    LockRow("add_unique_using_index",
            "ALTER TABLE t ADD CONSTRAINT t_a_key UNIQUE USING INDEX t_a_key", {"table": AE}),
    LockRow("drop_constraint", "ALTER TABLE t DROP CONSTRAINT n_pos", {"table": AE},
            setup="ALTER TABLE t ADD CONSTRAINT n_pos CHECK (n > 0) NOT VALID"),
    # -- indexes -------------------------------------------------------------------------
    LockRow("create_index", "CREATE INDEX t_n_idx ON t (n)", {"table": SHARE}, scans=True,
            doc=_DOC + "sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY"),
    LockRow("create_index_concurrently", "CREATE INDEX CONCURRENTLY t_n_idx ON t (n)",
            {"table": SUE}, in_transaction=False,
            doc=_DOC + "sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY"),
    LockRow("drop_index", "DROP INDEX t_b_idx", {"table": AE},
            doc=_DOC + "sql-dropindex.html"),
    LockRow("drop_index_concurrently", "DROP INDEX CONCURRENTLY t_b_idx", {"table": SUE},
            in_transaction=False, doc=_DOC + "sql-dropindex.html"),
    LockRow("reindex", "REINDEX TABLE t", {"table": SHARE}, scans=True,
            doc=_DOC + "sql-reindex.html#SQL-REINDEX-CONCURRENTLY"),
    LockRow("reindex_concurrently", "REINDEX TABLE CONCURRENTLY t", {"table": SUE},
            in_transaction=False, versions="exists from PostgreSQL 12",
            doc=_DOC + "sql-reindex.html#SQL-REINDEX-CONCURRENTLY"),
    LockRow("create_index_partitioned", "CREATE INDEX pt_k_idx ON pt (k)",
            {"table": SHARE, "partition": SHARE}, scans=True, relations=_PT1,
            doc=_DOC + "ddl-partitioning.html#DDL-PARTITIONING-DECLARATIVE-MAINTENANCE"),
    LockRow("create_index_on_only", "CREATE INDEX pt_k_idx ON ONLY pt (k)", {"table": SHARE},
            relations=_PT,
            doc=_DOC + "ddl-partitioning.html#DDL-PARTITIONING-DECLARATIVE-MAINTENANCE"),
    # -- partitions ----------------------------------------------------------------------
    LockRow("attach_partition", "ALTER TABLE pt ATTACH PARTITION pt2 FOR VALUES FROM (100) "
            "TO (200)", {"table": SUE, "partition": AE}, scans=True, relations=_PT,
            versions="ACCESS EXCLUSIVE on the parent before PostgreSQL 12"),
    LockRow("detach_partition", "ALTER TABLE pt DETACH PARTITION pt1",
            {"table": AE, "partition": AE}, relations=_PT1),
    LockRow("detach_partition_concurrently", "ALTER TABLE pt DETACH PARTITION pt1 CONCURRENTLY",
            {"table": SUE, "partition": SUE}, relations=_PT1, in_transaction=False,
            versions="exists from PostgreSQL 14"),
    # -- materialized views --------------------------------------------------------------
    LockRow("refresh_materialized_view", "REFRESH MATERIALIZED VIEW mv", {"table": AE},
            rewrites=True, scans=True, relations=_MV,
            doc=_DOC + "sql-refreshmaterializedview.html"),
    LockRow("refresh_materialized_view_concurrently",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY mv", {"table": EXCLUSIVE}, scans=True,
            relations=_MV, doc=_DOC + "sql-refreshmaterializedview.html"),
    # -- domains -------------------------------------------------------------------------
    LockRow("domain_add_check", "ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0)",
            {"table": SHARE}, scans=True, relations=_DT, doc=_DOC + "sql-alterdomain.html"),
    LockRow("domain_add_check_not_valid",
            "ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID", {},
            relations=_DT, doc=_DOC + "sql-alterdomain.html"),
    LockRow("domain_validate", "ALTER DOMAIN posint VALIDATE CONSTRAINT pos", {"table": SHARE},
            scans=True, relations=_DT, doc=_DOC + "sql-alterdomain.html",
            setup="ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID",
            versions="SHARE on every table with a column of the domain up to PostgreSQL 17"),
    LockRow("domain_set_not_null", "ALTER DOMAIN posint SET NOT NULL", {"table": SHARE},
            scans=True, relations=_DT, doc=_DOC + "sql-alterdomain.html"),
    # -- whole tables ----------------------------------------------------------------------
    LockRow("rename_table", "ALTER TABLE t RENAME TO t2", {"table": AE}),
    LockRow("set_schema", "ALTER TABLE t SET SCHEMA other", {"table": AE}),
    LockRow("set_unlogged", "ALTER TABLE t SET UNLOGGED", {"table": AE}, rewrites=True,
            scans=True),
    LockRow("vacuum_full", "VACUUM FULL t", {"table": AE}, rewrites=True, in_transaction=False,
            doc=_DOC + "sql-vacuum.html"),
    LockRow("cluster", "CLUSTER t USING t_pkey", {"table": AE}, rewrites=True, scans=True,
            doc=_DOC + "sql-cluster.html"),
    LockRow("truncate", "TRUNCATE t CASCADE", {"table": AE}, rewrites=True, scans=True,
            constant_time=True,
            doc=_DOC + "sql-truncate.html"),
    LockRow("drop_table", "DROP TABLE t CASCADE", {"table": AE}, doc=_DOC + "sql-droptable.html"),
    # -- triggers and rules --------------------------------------------------------------
    LockRow("create_trigger", "CREATE TRIGGER t_trg BEFORE UPDATE ON t FOR EACH ROW EXECUTE "
            "FUNCTION suppress_redundant_updates_trigger()", {"table": SRE},
            doc=_DOC + "sql-createtrigger.html"),
    LockRow("disable_trigger", "ALTER TABLE t DISABLE TRIGGER ALL", {"table": SRE}),
    LockRow("create_rule", "CREATE RULE t_rule AS ON INSERT TO t DO ALSO NOTHING",
            {"table": AE}, doc=_DOC + "sql-createrule.html"),
    # -- data ----------------------------------------------------------------------------
    LockRow("update", "UPDATE t SET n = n + 1", {"table": ROW_EXCLUSIVE}, scans=True,
            doc=EXPLICIT_LOCKING),
    LockRow("delete", "DELETE FROM t WHERE n > 50", {"table": ROW_EXCLUSIVE}, scans=True,
            doc=EXPLICIT_LOCKING),
    LockRow("insert", "INSERT INTO t (id) VALUES (1000)", {"table": ROW_EXCLUSIVE},
            doc=EXPLICIT_LOCKING),
    # -- objects without a table lock ------------------------------------------------------
    LockRow("add_enum_value", "ALTER TYPE mood ADD VALUE 'calm'", {},
            doc=_DOC + "sql-altertype.html"),
    LockRow("comment", "COMMENT ON TABLE t IS 'items'", {"table": SUE},
            doc=_DOC + "sql-comment.html"),
)
BY_KIND: dict[str, LockRow] = {row.kind: row for row in LOCK_TABLE}


def kind_of(op: ops.Operation) -> str | None:
    """The lock-table row of an operation, or None when the table has none for it."""
    from bluegreen.planner.expressions import volatile_functions
    from bluegreen.planner.schema import column_info

    kw = getattr(op, "kw", {}) or {}
    concurrently = bool(kw.get("postgresql_concurrently"))
    not_valid = bool(kw.get("bluegreen_not_valid"))
    if isinstance(op, ops.AddColumnOp):
        column = column_info(op.column)
        if column.generated:
            return "add_column_stored_generated"
        if column.identity or (column.type is not None and column.type.serial):
            return "add_column_identity"
        if column.default is not None and volatile_functions(column.default):
            return "add_column_volatile_default"
        if op.column.info.get("bluegreen_check"):
            return "add_column_check"
        if op.column.primary_key or op.column.info.get("bluegreen_unique") or op.column.unique:
            return "add_column_unique"
        if op.column.info.get("bluegreen_references"):
            return "add_column_references"
        return "add_column_constant_default" if column.default is not None else "add_column"
    if isinstance(op, ops.DropColumnOp):
        return "drop_column"
    if isinstance(op, ops.AlterColumnOp):
        if op.modify_name:
            return "rename_column"
        if op.modify_type is not None:
            return "alter_type_rewrite"
        if op.modify_nullable is False:
            return "set_not_null"
        if op.modify_nullable is True:
            return "drop_not_null"
        return "drop_default" if op.modify_server_default is None else "set_default"
    if isinstance(op, ops.CreateIndexOp):
        if kw.get("bluegreen_only"):
            return "create_index_on_only"
        return "create_index_concurrently" if concurrently else "create_index"
    if isinstance(op, ops.DropIndexOp):
        return "drop_index_concurrently" if concurrently else "drop_index"
    if isinstance(op, ops.CreateForeignKeyOp):
        return "add_foreign_key_not_valid" if not_valid else "add_foreign_key"
    if isinstance(op, ops.CreateCheckConstraintOp):
        return "add_check_not_valid" if not_valid else "add_check"
    if isinstance(op, (ops.CreateUniqueConstraintOp, ops.CreatePrimaryKeyOp)):
        if kw.get("bluegreen_using_index"):
            return "add_unique_using_index"
        return "add_primary_key" if isinstance(op, ops.CreatePrimaryKeyOp) else "add_unique"
    if isinstance(op, ops.DropConstraintOp):
        return "drop_constraint"
    if isinstance(op, ops.ValidateConstraintOp):
        return "validate_check"  # a foreign key adds ROW SHARE on the referenced table
    if isinstance(op, ops.RenameTableOp):
        return "rename_table"
    if isinstance(op, ops.DropTableOp):
        return "drop_table"
    if isinstance(op, ops.DataChangeOp):
        return "truncate" if op.kind == "truncate" else op.kind
    if isinstance(op, ops.ReindexOp):
        return "reindex_concurrently" if op.concurrently else "reindex"
    if isinstance(op, ops.RewriteTableOp):
        return {"VACUUM FULL": "vacuum_full", "CLUSTER": "cluster"}.get(op.what, "set_unlogged")
    if isinstance(op, ops.RefreshMaterializedViewOp):
        return ("refresh_materialized_view_concurrently" if op.concurrently
                else "refresh_materialized_view")
    if isinstance(op, ops.PartitionOp):
        if op.action == "attach":
            return "attach_partition"
        return "detach_partition_concurrently" if op.concurrently else "detach_partition"
    if isinstance(op, ops.AlterDomainOp):
        if op.action == "add_constraint":
            return "domain_add_check_not_valid" if op.not_valid else "domain_add_check"
        return {"validate_constraint": "domain_validate",
                "set_not_null": "domain_set_not_null"}.get(op.action)
    if isinstance(op, ops.MoveObjectOp) and op.how == "set schema" and op.table_name:
        return "set_schema"
    if isinstance(op, ops.TriggerOp):
        return {"create trigger": "create_trigger", "create rule": "create_rule"}.get(
            op.what, "disable_trigger")
    if isinstance(op, ops.AddEnumValueOp):
        return "add_enum_value"
    return None


def locks_of(op: ops.Operation) -> dict[str, str]:
    """The table-level locks an operation takes: table name -> mode."""
    if isinstance(op, ops.LockTableOp):
        return {op.table_name: op.mode}
    row = BY_KIND.get(kind_of(op) or "")
    if row is None:
        return {}
    names = {"table": ops.table_of(op)}
    if isinstance(op, ops.CreateForeignKeyOp):
        names["referenced"] = op.referent_table
    if isinstance(op, ops.AddColumnOp):
        names["referenced"] = op.column.info.get("bluegreen_references")
    if isinstance(op, ops.PartitionOp):
        names["partition"] = op.partition
    out: dict[str, str] = {}
    for role, mode in row.locks.items():
        name = names.get(role)
        if name:
            out[name] = strongest(out.get(name), mode) or mode
    return out


def lock_for(op: ops.Operation) -> str | None:
    """The strongest lock an operation takes on the table it changes."""
    if isinstance(op, ops.LockTableOp):
        return op.mode
    row = BY_KIND.get(kind_of(op) or "")
    return row.table_lock if row is not None else None
