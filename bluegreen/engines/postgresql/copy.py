"""One copy, start to synced: pre-flight, shadow + capture, backfill, indexes, replay.

The parts cooperate around one context (as gh-ost's migrator does): a producer walks the
primary key and queues chunk ranges on a bounded queue; worker threads copy each range in its
own short transaction and checkpoint it in the same transaction; the throttle decides in the
background. Once every chunk is in, the shadow gets its primary key and indexes, and the main
thread replays the keys the triggers captured until the backlog is small: synced.

Why that order is exact: every write to the live table after the trigger is installed queues
its key in the same transaction; a chunk copies what its snapshot sees; replay starts only
after the last chunk committed and re-reads each queued key's current row. So no replay can
be overwritten by an older chunk, and every change a chunk missed is still queued.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pglast
import psycopg
from pglast import ast
from pglast.stream import RawStream
from psycopg import sql

from bluegreen.core import naming
from bluegreen.core.backfill import (
    Range,
    Walk,
    add_checkpoint,
    backfill,
    checkpoints,
    rate_note,
)
from bluegreen.core.copy import CopyOptions
from bluegreen.core.pace import ChunkSizer, TokenBucket
from bluegreen.core.progress import Meter, building_note, size_text
from bluegreen.core.retry import DEFAULT_BACKOFF
from bluegreen.core.state import MigrationRecord, MigrationStore
from bluegreen.engines import urls as dialects
from bluegreen.engines.postgresql import capture, chunks, locks
from bluegreen.engines.postgresql import state as pg_state
from bluegreen.engines.postgresql import throttle as pg_throttle
from bluegreen.engines.postgresql.catalog import (
    NAME_LIMIT,
    STATE_SCHEMA,
    TableFacts,
    TableRef,
    TableRefused,
    check_identity,
    current_oid,
    names_for,
    read_table,
    render,
)
from bluegreen.engines.postgresql.fit import (
    MISFITS,
    describe_key,
    find_null,
    first_misfit,
    misfit_error,
)
from bluegreen.engines.postgresql.shadow import (
    AlterSpec,
    BadAlter,
    column_exprs,
    constraint_name,
    parse_alter,
    planned_columns,
    reverse_source_names,
)
from bluegreen.engines.postgresql.throttle import check_replication_access, check_throttle_query
from bluegreen.errors import BluegreenError, CopyAborted, Interrupted, TableReplaced
from bluegreen.results import CopyResult, Progress


def create_statements(conn, live: TableFacts, spec: AlterSpec, shadow: TableRef,
                      queue: TableRef) -> list[str]:
    """Everything the copy creates before the backfill, in order (one transaction).

    The shadow gets its primary key after the backfill, with the other indexes: building an
    index once is cheaper than maintaining it row by row. Captured changes are replayed
    from then on."""
    out = [
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
                "INCLUDING IDENTITY INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMMENTS)"
                ).format(shadow.ident, live.ref.ident),
    ]
    out += spec.render_for(shadow)
    out += [capture.queue_ddl(queue, live.primary_key, live.pk_types()),
            capture.function_ddl(queue, live.primary_key),
            capture.revoke_capture_ddl(queue),
            capture.trigger_ddl(live.ref, queue),
            *capture.truncate_ddl(live.ref, shadow, queue)]
    return [render(conn, s) for s in out]


def _guarded(conn, shadow: TableRef, name: str, statement: str) -> str:
    """A constraint statement that does nothing when the shadow has the constraint already
    (a copy resumed after a crash builds it again)."""
    return render(conn, sql.SQL(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {}::regclass "
        "AND conname = {}) THEN {}; END IF; END $$").format(
        sql.Literal(render(conn, shadow.ident)), sql.Literal(name), sql.SQL(statement)))


def built_name(migration_id: int, final: str) -> str:
    """The shadow's name for an index or constraint that takes ``final`` at cutover: index
    names share the schema's namespace with the live table's, so they wait under a
    prefix."""
    return naming.built(migration_id, final, NAME_LIMIT)


def shadow_names(live: TableFacts, spec: AlterSpec, migration_id: int) -> dict[str, str]:
    """{name on the shadow: name it takes at cutover} for everything built after the
    backfill (the primary key, indexes, unique, foreign-key and exclusion constraints)."""
    finals = [constraint_name(spec, live.pk_name or f"{live.ref.name}_pkey")]
    finals += [name for name, _ in live.index_defs]
    finals += [constraint_name(spec, name) for name, kind, _ in live.constraint_defs
               if name not in spec.dropped_constraints and (kind != "f" or name in live.self_fks)]
    return {built_name(migration_id, final): final for final in finals}


def secondary_statements(conn, live: TableFacts, spec: AlterSpec, shadow: TableRef,
                         migration_id: int | str) -> tuple[list[str], list[str]]:
    """The primary key, indexes and unique / foreign-key / exclusion constraints for the
    shadow, built after the backfill; each is safe to run again after a crash. Returns
    (statements, warnings about what could not be carried over).

    A foreign key of the table to itself is built on the shadow pointing at the shadow,
    DEFERRABLE INITIALLY DEFERRED: replay deletes and re-inserts rows, so a parent and its
    child meet again only at commit. Cutover gives it back its own timing."""
    renames = reverse_source_names(spec)
    pk = [renames.get(k, k) for k in live.primary_key]
    pk_name = built_name(migration_id, constraint_name(
        spec, live.pk_name or f"{live.ref.name}_pkey"))
    statements: list[str] = [render(conn, sql.SQL(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = {}::regclass "
        "AND contype = 'p') THEN ALTER TABLE {} ADD CONSTRAINT {} PRIMARY KEY ({}); END IF; "
        "END $$").format(
        sql.Literal(render(conn, shadow.ident)), shadow.ident, sql.Identifier(pk_name),
        sql.SQL(", ").join(sql.Identifier(k) for k in pk)))]
    warnings: list[str] = []
    for name, definition in live.index_defs:
        stmt = pglast.parse_sql(definition)[0].stmt
        assert isinstance(stmt, ast.IndexStmt)
        missing = [p.name for p in stmt.indexParams if p.name and p.name not in renames]
        if missing:
            warnings.append(f"index {name} uses {', '.join(missing)}, which the alter drops: "
                            "not carried over")
            continue
        for param in stmt.indexParams:
            if param.name:
                param.name = renames[param.name]
        stmt.idxname = built_name(migration_id, name)
        stmt.if_not_exists = True
        stmt.relation.schemaname, stmt.relation.relname = shadow.schema, shadow.name
        statements.append(RawStream()(stmt))
    for name, kind, definition in live.constraint_defs:
        if name in spec.dropped_constraints:
            continue
        if kind == "f" and name not in live.self_fks:
            # A foreign key to another table is added at cutover: on the shadow it would
            # stop the app deleting a parent row that the lagging shadow still references.
            missing = _foreign_key(live, spec, name, definition, shadow)[1]
            if missing:
                warnings.append(f"constraint {name} ({definition}) is not carried over: the "
                                f"alter drops {', '.join(missing)}")
            continue
        parsed = pglast.parse_sql(f"ALTER TABLE x ADD CONSTRAINT c {definition}")[0].stmt
        constraint = parsed.cmds[0].def_
        self_fk = kind == "f"
        key_lists = [attr for attr in ("keys", "fk_attrs") + (("pk_attrs",) if self_fk else ())
                     if getattr(constraint, attr, None)]
        elements = [pair[0] for pair in (constraint.exclusions or ())] if kind == "x" else []
        dropped = [k.sval for attr in key_lists for k in getattr(constraint, attr)
                   if k.sval not in renames]
        dropped += [e.name for e in elements if e.name and e.name not in renames]
        if dropped:
            warnings.append(f"constraint {name} ({definition}) is not carried over: the alter "
                            f"drops {', '.join(dropped)}")
            continue
        for attr in key_lists:
            for k in getattr(constraint, attr):
                k.sval = renames[k.sval]
        for element in elements:
            if element.name:
                element.name = renames[element.name]
        final = built_name(migration_id, constraint_name(spec, name))
        constraint.conname = final
        if self_fk:
            constraint.skip_validation = True
            constraint.initially_valid = False
            constraint.pktable.schemaname = shadow.schema
            constraint.pktable.relname = shadow.name
            constraint.deferrable = True
            constraint.initdeferred = True
        parsed.relation.schemaname, parsed.relation.relname = shadow.schema, shadow.name
        statements.append(_guarded(conn, shadow, final, RawStream()(parsed)))
        if self_fk:
            statements.append(render(conn, sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}")
                                      .format(shadow.ident, sql.Identifier(final))))
    return statements, warnings


def _foreign_key(live: TableFacts, spec: AlterSpec, name: str, definition: str,
                 target: TableRef) -> tuple[str | None, list[str]]:
    """A foreign key of the live table to another table, as the new table has it: (ADD
    CONSTRAINT ... NOT VALID on ``target``, or None; the columns the alter dropped)."""
    renames = reverse_source_names(spec)
    parsed = pglast.parse_sql(f"ALTER TABLE x ADD CONSTRAINT c {definition}")[0].stmt
    constraint = parsed.cmds[0].def_
    missing = [k.sval for k in constraint.fk_attrs if k.sval not in renames]
    if missing:
        return None, missing
    for k in constraint.fk_attrs:
        k.sval = renames[k.sval]
    constraint.conname = constraint_name(spec, name)
    constraint.skip_validation = True
    constraint.initially_valid = False
    parsed.relation.schemaname, parsed.relation.relname = target.schema, target.name
    return RawStream()(parsed), []


def foreign_key_statements(live: TableFacts, spec: AlterSpec, target: TableRef
                           ) -> list[tuple[str, str, bool]]:
    """The live table's foreign keys to other tables, for the new table at cutover:
    (constraint name, ADD CONSTRAINT ... NOT VALID, whether to validate it after the
    commit: not when the live one was NOT VALID itself)."""
    out = []
    for name, kind, definition in live.constraint_defs:
        if kind != "f" or name in live.self_fks or name in spec.dropped_constraints:
            continue
        statement, _ = _foreign_key(live, spec, name, definition, target)
        if statement:
            out.append((constraint_name(spec, name), statement,
                        not definition.rstrip().endswith("NOT VALID")))
    return out


class Copier:
    def __init__(self, url: str, table: str, alter_sql: str | None, options: CopyOptions,
                 on_progress: Callable[[Progress], None] | None = None,
                 on_event: Callable[[str], None] | None = None) -> None:
        self.url = dialects.libpq_url(url)
        self.ref = TableRef.parse(table)
        self.alter_sql = alter_sql
        self.options = options
        self.on_progress = on_progress or (lambda p: None)
        self.on_event = on_event or (lambda m: None)
        self.stop = threading.Event()
        self.warnings: list[str] = []
        self.errors: list[BaseException] = []
        self.migration_id: int | None = None
        self.context: _Context | None = None

    def cancel(self) -> None:
        """Stop at the next unit of work; the checkpoint lets a later run resume."""
        self.stop.set()

    # ---- pre-flight -----------------------------------------------------------------------

    def _check_options(self, conn: psycopg.Connection) -> None:
        """Options that would fail later are refused now, before anything is created."""
        settings = self.options.throttle
        if settings.throttle_query:
            check_throttle_query(conn, settings.throttle_query, settings.query_timeout)
        if settings.max_replication_lag is not None:
            check_replication_access(conn)

    def _preflight(self, conn: psycopg.Connection, live: TableFacts) -> None:
        # data_directory is readable by superusers and pg_read_all_settings only; the table's
        # owner is often neither, and then the free space is simply unknown.
        row = conn.execute("SELECT CASE WHEN pg_has_role(current_user, 'pg_read_all_settings', "
                           "'USAGE') THEN current_setting('data_directory') END").fetchone()
        data_dir = row[0] if row else None
        free = None
        if data_dir:
            try:
                free = shutil.disk_usage(data_dir).free
            except OSError:
                free = None
        if free is not None and free < live.size_bytes * 2:
            raise TableRefused(
                f"{live.ref.key} takes {size_text(live.size_bytes)} and the shadow needs as "
                f"much again plus its indexes, but only {size_text(free)} are free; "
                "free disk space first")
        if free is None:
            self.warnings.append("free disk space unknown (the server is not on this machine, "
                                 "or this role cannot read data_directory): the shadow needs "
                                 f"about {size_text(live.size_bytes)} plus its indexes")
        for pid, seconds, query in conn.execute(
                "SELECT pid, EXTRACT(EPOCH FROM now() - xact_start)::int, left(query, 60) "
                "FROM pg_stat_activity WHERE xact_start < now() - make_interval(secs => %s) "
                "AND pid <> pg_backend_pid()", (self.options.long_transaction_seconds,)):
            self.warnings.append(f"transaction open for {seconds}s (pid {pid}: {query!r}): "
                                 "it holds back vacuum and may delay the trigger install")

    def _shape(self, conn: psycopg.Connection, oid: int) -> tuple:
        """What an alter can change about a table, for comparing live and shadow."""
        columns = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
            "pg_get_expr(d.adbin, d.adrelid), a.attgenerated, a.attidentity, a.attcollation, "
            "a.attstorage, a.attcompression, a.attstattarget, ARRAY(SELECT o FROM "
            "unnest(a.attoptions) o WHERE o NOT LIKE 'pg\\_attver=%%'), "
            "col_description(a.attrelid, a.attnum) "
            "FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND "
            "d.adnum = a.attnum WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum", (oid,)).fetchall()
        constraints = conn.execute(
            "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint WHERE "
            "conrelid = %s AND contype IN ('c', 'p', 'u', 'f', 'x', 't') ORDER BY conname",
            (oid,)).fetchall()
        table = conn.execute("SELECT reloptions, relpersistence, reltablespace, relreplident, "
                             "relowner, relrowsecurity, relforcerowsecurity FROM pg_class "
                             "WHERE oid = %s", (oid,)).fetchone()
        return (columns, constraints, table)

    def _dry_build(self, conn: psycopg.Connection, live: TableFacts, spec: AlterSpec
                   ) -> TableFacts:
        """Build the shadow in a transaction that is rolled back, before anything is made
        for real: refuses an alter that does not build or changes nothing, and tells which
        columns become NOT NULL. Takes no lock the app would notice."""
        shadow = live.ref.sibling(naming.trial(live.ref.name, NAME_LIMIT))
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING "
                                     "CONSTRAINTS INCLUDING IDENTITY INCLUDING GENERATED "
                                     "INCLUDING STORAGE INCLUDING COMMENTS)").format(
                    shadow.ident, live.ref.ident))
                before = self._shape(conn, read_table(conn, shadow, for_copy=False).oid)
                for statement in spec.render_for(shadow):
                    conn.execute(statement)
                facts = read_table(conn, shadow, for_copy=False)
                after = self._shape(conn, facts.oid)
        except psycopg.Error as error:
            raise BadAlter(f"the new shape does not build: {str(error).splitlines()[0]}; fix "
                           "--alter") from None
        if before == after and not spec.dropped_constraints and not spec.constraint_renames:
            raise BadAlter(f"--alter changes nothing about {live.ref.key}; give the change to "
                           "make (nothing was created)")
        return facts

    def _check_not_null(self, conn: psycopg.Connection, live: TableFacts, spec: AlterSpec,
                        trial: TableFacts) -> None:
        """A column the alter makes NOT NULL must have no NULL now: checked exactly (not by
        sampling), before the copy starts, so it cannot wedge halfway."""
        tightened = [c.name for c in trial.columns if c.not_null and spec.source_of.get(c.name)
                     and not (live.column(spec.source_of[c.name]) or c).not_null]
        tightened += [c.name for c in trial.columns if c.not_null and c.name in spec.using]
        if not tightened:
            return
        exprs = column_exprs(live, trial.columns, spec)
        key = chunks.KeySet(live.primary_key, live.pk_types())
        rate = self.options.throttle.max_rows_per_second
        bucket = TokenBucket(rate) if rate else None
        found = find_null(conn, live.ref, key, exprs, tightened,
                          take=(lambda n: bucket.take(n, self.stop)) if bucket else None,
                          chunk_rows=max(1000, int(rate or 0) // 2))
        if found:
            column, values = found
            raise BadAlter(
                f"{column} is NULL in the row with {describe_key(key, values)} of "
                f"{live.ref.key} (maybe in others too), and --alter makes it NOT NULL; set "
                "those rows first (or give the column a DEFAULT or USING), then run the copy "
                "again. Nothing was created")

    def _trial_copy(self, conn: psycopg.Connection, live: TableFacts, spec: AlterSpec,
                    shadow: TableRef) -> None:
        """Copy a sample of rows and roll it back: a NOT NULL column without a default or a
        cast that fails shows up now, not halfway through the backfill."""
        exprs = column_exprs(live, read_table(conn, shadow, for_copy=False).columns, spec)
        key = chunks.KeySet(live.primary_key, live.pk_types())
        keys = [tuple(r) for r in conn.execute(sql.SQL(
            "(SELECT {cols} FROM {live} ORDER BY {cols} LIMIT 100) UNION "
            "(SELECT {cols} FROM {live} TABLESAMPLE SYSTEM (1) LIMIT 1000)").format(
            cols=key.cols, live=live.ref.ident))]
        found = first_misfit(conn, live.ref, shadow, key, exprs, keys)
        if found:
            raise BadAlter(f"existing rows do not fit the new shape: the row with "
                           f"{describe_key(key, found[0])}: {found[1]}; fix --alter (a USING "
                           "clause, a DEFAULT for a NOT NULL column) or that row")

    def _create(self, conn: psycopg.Connection, store: MigrationStore, live: TableFacts,
                spec: AlterSpec) -> MigrationRecord:
        """Record, shadow, alter, queue and trigger in one transaction: all or nothing."""
        alter_sql = self.alter_sql or ""
        for attempt in range(10):
            try:
                with conn.transaction():
                    conn.execute(f"SET LOCAL lock_timeout = {int(self.options.lock_timeout_ms)}")
                    if current_oid(conn, live.ref) != live.oid:
                        raise TableReplaced(f"{live.ref.key} was dropped or replaced while the "
                                            "copy started; run the command again")
                    record = store.create(live.ref.key, alter_sql)
                    shadow, old, queue = names_for(live.ref, record.id)
                    for statement in create_statements(conn, live, spec, shadow, queue):
                        try:
                            conn.execute(statement)
                        except psycopg.errors.LockNotAvailable:
                            raise
                        except psycopg.Error as error:
                            raise BadAlter(f"the new shape does not build: "
                                           f"{str(error).splitlines()[0]}; fix --alter") from None
                    conn.execute("UPDATE bluegreen.migrations SET shadow_table = %s, old_table "
                                 "= %s, queue_table = %s, live_oid = %s, shadow_oid = %s::regclass"
                                 "::oid WHERE id = %s",
                                 (shadow.name, old.name, queue.name, live.oid,
                                  shadow.text(conn), record.id))
                    self._trial_copy(conn, live, spec, shadow)
                    return store.get(record.id)
            except psycopg.errors.LockNotAvailable:
                self.on_event(f"trigger install waited over {self.options.lock_timeout_ms} ms "
                              f"for a lock on {live.ref.key}; retrying ({attempt + 1}/10)")
                time.sleep(DEFAULT_BACKOFF.delay(attempt + 1))
        raise BluegreenError(f"could not lock {live.ref.key} to install the capture trigger "
                             "(a long transaction holds it); retry when it is quieter")

    # ---- the run ----------------------------------------------------------------------------

    def run(self) -> CopyResult:
        from bluegreen.core.copy import run_copy

        self.conn = dialects.pg_connect(self.url, "bluegreen-copy")
        with self.conn:
            self.store = pg_state.store(self.conn)
            self._check_options(self.conn)
            with locks.held(self.conn, f"copy:{self.ref.key}", f"a copy of {self.ref.key}",
                            f"wait for it, or stop it first (`bluegreen status {self.ref.key}` "
                            "shows its progress)"):
                try:
                    return run_copy(self, self.alter_sql, self.options, self.on_event)
                except KeyboardInterrupt:
                    self.stop.set()
                    raise self._interrupted() from None
                except (psycopg.Error, BluegreenError) as error:
                    raise self._explain(error) from None

    def _state(self) -> str | None:
        if self.migration_id is None:
            return None
        try:
            with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
                row = conn.execute("SELECT state FROM bluegreen.migrations WHERE id = %s",
                                   (self.migration_id,)).fetchone()
        except psycopg.Error:
            return None
        return row[0] if row else None

    def _explain(self, error: BaseException) -> BluegreenError:
        """One line for whatever stopped the copy: what the throttle saw (the migration was
        aborted, the table replaced), else the error itself."""
        fatal = self.context.throttle.fatal if self.context else None
        if fatal is not None:
            return fatal
        if self._state() == "aborted":
            return CopyAborted(self.ref.key)
        if isinstance(error, BluegreenError):
            return error
        detail = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return BluegreenError(f"the copy of {self.ref.key} stopped on a database error: "
                              f"{detail}; run the same command again to resume, or "
                              f"`bluegreen abort {self.ref.key}` to drop it")

    def _interrupted(self) -> Interrupted:
        state = self._state()
        if state is None:
            return Interrupted(f"interrupted before the copy of {self.ref.key} was created; "
                               "nothing was changed")
        rows = self.context.rows_copied if self.context else 0
        return Interrupted(f"interrupted: the copy of {self.ref.key} stopped ({rows:,} rows "
                           f"copied, state {state}); run `bluegreen copy {self.ref.key}` to "
                           f"resume it, or `bluegreen abort {self.ref.key}` to drop it")

    # ---- the engine's side of run_copy ----------------------------------------------------

    @property
    def key(self) -> str:
        return self.ref.key

    def now(self):
        return _now(self.conn)

    def inspect(self) -> None:
        if self.ref.schema == STATE_SCHEMA:
            raise TableRefused(f"{self.ref.key} is one of bluegreen's own state tables; "
                               "bluegreen does not copy them")
        if naming.is_ours(self.ref.name):
            raise TableRefused(f"{self.ref.key} is a table bluegreen made for a migration (a "
                               "shadow or an old copy); copy the live table instead")
        self.live = read_table(self.conn, self.ref)

    def create(self, alter_sql: str) -> MigrationRecord:
        spec = parse_alter(alter_sql, self.live)
        self._preflight(self.conn, self.live)
        trial = self._dry_build(self.conn, self.live, spec)
        self._check_not_null(self.conn, self.live, spec, trial)
        self.alter_sql = alter_sql
        record = self._create(self.conn, self.store, self.live, spec)
        self.migration_id = record.id
        return record

    def open(self, record: MigrationRecord) -> _Context:
        self.migration_id = record.id
        check_identity(self.conn, record, "resume the copy of")
        parse_alter(record.alter_sql, self.live)  # the recorded alter still fits the table
        context = _Context(self, self.conn, self.store, open_migration(self.conn, record))
        self.context = context
        context.start()
        return context


@dataclass
class MigrationTables:
    """An active migration's tables, keys and column mapping, as every part needs them."""

    record: MigrationRecord
    live: TableFacts
    shadow: TableRef
    queue: TableRef
    key: chunks.KeySet
    shadow_key: chunks.KeySet
    exprs: list  # what the copy inserts: assignment casts, as the ALTER would cast
    compare_exprs: list | None = None  # explicit casts, to compare values with the shadow's

    @property
    def comparable(self) -> list:
        return self.compare_exprs if self.compare_exprs is not None else self.exprs


def open_migration(conn: psycopg.Connection, record: MigrationRecord) -> MigrationTables:
    ref = TableRef.parse(record.table_name)
    live = read_table(conn, ref)
    spec = parse_alter(record.alter_sql, live)
    shadow, _, queue = names_for(ref, record.id)
    shadow_facts = read_table(conn, shadow, for_copy=False)
    renames = reverse_source_names(spec)
    if any(k not in renames for k in live.primary_key):
        raise BadAlter("--alter drops a primary key column; bluegreen copies by key")
    key = chunks.KeySet(live.primary_key, live.pk_types())
    shadow_key = chunks.KeySet([renames[k] for k in live.primary_key], key.types)
    return MigrationTables(record, live, shadow, queue, key, shadow_key,
                           column_exprs(live, shadow_facts.columns, spec),
                           column_exprs(live, shadow_facts.columns, spec, assignment=False))


# Errors a batch can hit only because it holds part of a change that spans batches (two rows
# that swapped a unique value, a parent and child of a deferred self-reference, ranges that
# moved past each other): the whole backlog holds both sides.
_SPLIT_CHANGE = (psycopg.errors.UniqueViolation, psycopg.errors.ForeignKeyViolation,
                 psycopg.errors.ExclusionViolation)


def replay_batch(conn: psycopg.Connection, m: MigrationTables, condition, params: list,
                 limit: int) -> int:
    """Re-sync one batch of captured keys, in one transaction: take them off the queue,
    delete them from the shadow, insert the live rows that still exist.

    Two rows that swapped a unique value can land in different batches, and the first batch
    then collides with the second row's old value: replay the whole backlog at once, which
    holds both sides of the swap. A live row that does not fit the new shape stops the
    replay with its key named (it stays queued)."""
    try:
        try:
            return _replay(conn, m, condition, params, limit)
        except _SPLIT_CHANGE:
            everything = conn.execute(chunks.backlog(m.queue)).fetchone()[0]
            return _replay(conn, m, condition, params, max(limit, everything))
    except MISFITS as error:
        keys = [tuple(r) for r in conn.execute(sql.SQL(
            "SELECT DISTINCT {} FROM (SELECT * FROM {} ORDER BY bg_seq LIMIT %s) q").format(
            m.key.cols, m.queue.ident), (max(limit, 1),))]
        found = first_misfit(conn, m.live.ref, m.shadow, m.key, m.exprs, keys)
        raise misfit_error(m.live.ref.key, m.key, found, str(error).splitlines()[0],
                           "replaying a change the app made") from None


def _replay(conn: psycopg.Connection, m: MigrationTables, condition, params: list,
            limit: int) -> int:
    with conn.transaction():
        taken = conn.execute(chunks.take_batch(m.queue, m.key, condition),
                             [*params, limit]).rowcount
        if taken:
            conn.execute(chunks.delete_keys(m.shadow, m.queue, m.shadow_key))
            conn.execute(chunks.insert_keys(m.live.ref, m.shadow, m.queue, m.key, m.exprs))
            conn.execute("UPDATE bluegreen.migrations SET rows_replayed = rows_replayed + %s "
                         "WHERE id = %s", (taken, m.record.id))
    return taken


class _Context:
    """The state of one run, shared by the producer, the workers and the replayer."""

    def __init__(self, copier: Copier, conn: psycopg.Connection, store: MigrationStore,
                 migration: MigrationTables) -> None:
        self.copier = copier
        self.options = copier.options
        self.conn = conn
        self.store = store
        self.migration = migration
        self.record = migration.record
        self.live = migration.live
        self.shadow = migration.shadow
        self.queue = migration.queue
        self.key = migration.key
        self.shadow_key = migration.shadow_key
        self.exprs = migration.exprs
        self.stop = copier.stop
        rate = self.options.throttle.max_rows_per_second
        # Under a rate limit a chunk holds at most a quarter second of it: the rate stays
        # smooth, and a pause takes effect within one short chunk.
        high = max(100, int(rate / 4)) if rate else 200_000
        self.sizer = ChunkSizer(self.options.chunk_size or min(5000, high),
                                self.options.target_chunk_seconds,
                                fixed=self.options.chunk_size is not None, high=high)
        self.throttle = pg_throttle.throttle(copier.url, self.options.throttle, self._watch,
                                             self.stop)
        self.rows_copied = self.record.rows_copied
        self.rows_replayed = self.record.rows_replayed
        self.meter = Meter()
        self.phase = "backfill"
        self.lock = threading.Lock()

    def _watch(self, conn: psycopg.Connection) -> str | None:
        """Polled by the throttle: paused? Aborted, or the table replaced (fatal)?"""
        record = self.record
        query = ("SELECT paused, state, to_regclass(%s)::oid, to_regclass(%s)::oid FROM "
                 "bluegreen.migrations WHERE id = %s")
        params = (self.live.ref.text(conn), self.shadow.text(conn), record.id)
        row = conn.execute(query, params).fetchone()
        if row is None or row[1] == "aborted":
            raise CopyAborted(self.live.ref.key)
        paused, state, live_oid, shadow_oid = row
        if record.live_oid is not None and state in ("copying", "synced", "rolled_back") and \
                (live_oid, shadow_oid) != (record.live_oid, record.shadow_oid):
            # The names were read after the state: a cutover may have committed in between.
            if conn.execute(query, params).fetchone()[1] in ("copying", "synced",
                                                             "rolled_back"):
                check_identity(conn, record, "go on with the copy of")
        return f"paused (bluegreen resume {self.live.ref.key})" if paused else None

    def backlog(self) -> int:
        return self.conn.execute(chunks.backlog(self.queue)).fetchone()[0]

    # ---- the steps run_copy asks for -------------------------------------------------------

    def start(self) -> None:
        self.conn.execute(chunks.create_keys_table(self.queue, self.key))
        self.throttle.start()
        if self.throttle.fatal is not None:
            raise self.throttle.fatal
        if self.record.backfill_done:
            self.phase = "replay"

    def close(self) -> None:
        self.stop.set()
        self.throttle.stop()

    def backfill(self) -> None:
        self._backfill()

    def build_secondary(self) -> None:
        self._build_secondary()
        self.phase = "replay"

    def report(self, phase: str) -> None:
        self.phase = phase
        self._report(force=True)

    def _report(self, force: bool = False) -> None:
        if not self.meter.due(force):
            return
        rate = self.meter.rate(self.rows_copied)
        total = self.record.rows_total
        eta = self.meter.eta(self.rows_copied, total, rate)
        self.copier.on_progress(Progress(
            table=self.live.ref.key, phase=self.phase, rows_copied=self.rows_copied,
            rows_total=total, rows_per_second=rate, eta_seconds=eta, backlog=self.backlog(),
            rows_replayed=self.rows_replayed, chunk_size=self.sizer.size,
            throttled=self.throttle.reason,
            rate_limit=self.options.throttle.max_rows_per_second))

    # ---- backfill --------------------------------------------------------------------------

    def _backfill(self) -> None:
        walk = Walk(self, self.sizer, self.throttle, self.stop,
                    workers=self.options.workers, parallel=True,
                    on_rows=self._copied, tick=self._report, on_total=self._total)
        rows, seconds = backfill(walk, self.store, self.record)
        self.record = self.store.get(self.record.id)
        self._report(force=True)
        note = rate_note(self.options.throttle.max_rows_per_second, rows, seconds,
                         self.throttle.waited) if not self.stop.is_set() else None
        if note:
            self.copier.warnings.append(note)
            self.copier.on_event(note)

    def _copied(self, rows: int) -> None:
        self.rows_copied += rows

    def _total(self, rows: int) -> None:
        self.record = self.store.get(self.record.id)

    # ---- the Chunker the backfill walks with (bluegreen.core.backfill) ---------------------

    def session(self, role: str):
        return psycopg.connect(self.copier.url, autocommit=True, application_name=role)

    def extent(self, conn: psycopg.Connection) -> tuple[list | None, int]:
        row = conn.execute(chunks.max_key(self.live.ref, self.key)).fetchone()
        total = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(
            self.live.ref.ident)).fetchone()[0] if self.live.rows_estimate < 1_000_000 \
            else self.live.rows_estimate
        return (list(row) if row else None), total

    def checkpoints(self, conn: psycopg.Connection) -> tuple[list[Range], int, list | None]:
        return checkpoints(pg_state.PgDb(conn), self.record.id, self.sizer.size)

    def boundary(self, conn: psycopg.Connection, lo, last, size: int) -> list | None:
        row = conn.execute(chunks.next_boundary(self.live.ref, self.key, lo is not None),
                           [*(lo or []), *last, size - 1]).fetchone()
        return list(row) if row else None

    def checkpoint(self, conn: psycopg.Connection, r: Range) -> bool:
        return add_checkpoint(pg_state.PgDb(conn), self.record.id, r)

    def copy(self, conn: psycopg.Connection, r: Range) -> int:
        statement = chunks.copy_chunk(self.live.ref, self.shadow, self.key, self.exprs,
                                      r.lo is not None)
        try:
            with conn.transaction():
                rows = conn.execute(statement, [*(r.lo or []), *r.hi]).rowcount
                conn.execute("UPDATE bluegreen.chunks SET done = true, rows_copied = %s "
                             "WHERE migration_id = %s AND seq = %s AND NOT done",
                             (rows, self.record.id, r.seq))
                conn.execute("UPDATE bluegreen.migrations SET rows_copied = "
                             "rows_copied + %s, chunk_size = %s, updated_at = now() "
                             "WHERE id = %s", (rows, r.planned, self.record.id))
        except MISFITS as error:
            raise self._misfit(conn, r.lo, r.hi, error) from None
        return rows

    def _misfit(self, conn: psycopg.Connection, lo, hi, error: psycopg.Error) -> BluegreenError:
        """Name the row of a chunk that does not fit the new shape."""
        lower = sql.SQL("{} > {} AND ").format(self.key.row, self.key.params) if lo else \
            sql.SQL("")
        keys = [tuple(r) for r in conn.execute(sql.SQL(
            "SELECT {} FROM {} WHERE {}{} <= {} ORDER BY {}").format(
            self.key.cols, self.live.ref.ident, lower, self.key.row, self.key.params,
            self.key.cols), [*(lo or []), *hi])]
        found = first_misfit(conn, self.live.ref, self.shadow, self.key, self.exprs, keys)
        return misfit_error(self.live.ref.key, self.key, found, str(error).splitlines()[0],
                            "copying the existing rows")

    # ---- replay ----------------------------------------------------------------------------

    def _replay_once(self) -> int:
        """Re-sync one batch of captured keys from the live table. Returns keys handled."""
        self.throttle.wait(self.stop)
        if self.stop.is_set():
            return 0
        taken = replay_batch(self.conn, self.migration, sql.SQL("true"), [],
                             self.options.replay_batch)
        self.rows_replayed += taken
        return taken

    def drain(self) -> int:
        total = 0
        while not self.stop.is_set():
            taken = self._replay_once()
            total += taken
            self._report()
            if taken < self.options.replay_batch:
                return total
        return total

    def _build_secondary(self) -> None:
        self.phase = "indexes"
        self._report(force=True)
        spec = parse_alter(self.record.alter_sql, self.live)
        statements, warnings = secondary_statements(self.conn, self.live, spec, self.shadow,
                                                    self.record.id)
        self.copier.warnings.extend(warnings)
        for statement in statements:
            self.copier.on_event(building_note(statement))
            self.conn.execute(statement)
        # The new table goes live with statistics and a visibility map, not as a table the
        # planner knows nothing about. The VACUUM costs (0.76 s against ANALYZE's 0.25 s at
        # 5M rows) but is done before cutover, off the app's path: otherwise the app's first
        # reads would set every page's hint bits on the live table, and index-only scans
        # would wait for autovacuum.
        self.copier.on_event(f"vacuum and analyze {self.shadow.key}")
        self.conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(self.shadow.ident))


def _now(conn: psycopg.Connection):
    return conn.execute("SELECT now()").fetchone()[0]


def dry_run_statements(url: str, table: str, alter_sql: str) -> list[str]:
    """Every statement ``bluegreen copy`` runs, in order, with placeholders for the values
    of chunk bounds and batch sizes. Reads the catalog; changes nothing."""
    with dialects.pg_connect(url, "bluegreen-dry-run") as conn:
        ref = TableRef.parse(table)
        live = read_table(conn, ref)
        spec = parse_alter(alter_sql, live)
        placeholder = naming.names(ref.name, naming.DRY_RUN_ID, NAME_LIMIT)
        shadow = ref.sibling(placeholder.shadow)
        queue = TableRef(STATE_SCHEMA, placeholder.queue)
        renames = reverse_source_names(spec)
        key = chunks.KeySet(live.primary_key, live.pk_types())
        shadow_key = chunks.KeySet([renames.get(k, k) for k in live.primary_key], key.types)
        exprs = column_exprs(live, planned_columns(live, spec), spec)
        out = ["BEGIN",
               "INSERT INTO bluegreen.migrations (table_name, alter_sql, ...) VALUES (...)"]
        out += create_statements(conn, live, spec, shadow, queue)
        out += ["COMMIT"]
        out += [render(conn, chunks.max_key(ref, key)),
                "-- producer, until the end of the key range:",
                render(conn, chunks.next_boundary(ref, key, True)),
                "-- each worker, one transaction per chunk:",
                render(conn, chunks.copy_chunk(ref, shadow, key, exprs, True)),
                "UPDATE bluegreen.chunks SET done = true, rows_copied = %s WHERE ...",
                "-- after the backfill: primary key, indexes, constraints",
                *secondary_statements(conn, live, spec, shadow, naming.DRY_RUN_ID)[0],
                "-- replay, one transaction per batch of captured keys:",
                render(conn, chunks.create_keys_table(queue, key)),
                render(conn, chunks.take_batch(queue, key, sql.SQL("true"))),
                render(conn, chunks.delete_keys(shadow, queue, shadow_key)),
                render(conn, chunks.insert_keys(ref, shadow, queue, key, exprs))]
        out.append("UPDATE bluegreen.migrations SET state = 'synced' WHERE id = %s AND "
                   "state = 'copying'")
        return out
