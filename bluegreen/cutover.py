"""Cutover, rollback and finish: the switch is a rename, and so is the way back.

One transaction switches every table named, under ``lock_timeout``, retried with backoff
and jitter; a failure leaves nothing half done. What follows a table's OID is moved with
the name: incoming foreign keys (re-created NOT VALID, validated after the commit), views,
owned sequences, identity counters, grants, the table comment, row-level security policies,
the table's own triggers, and index and constraint names. Reverse-sync triggers keep the old
table equal to the new one after cutover, so rollback loses nothing.
"""

from __future__ import annotations

import json
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from psycopg import sql

from bluegreen.copier import capture, chunks
from bluegreen.copier.runner import MigrationTables, names_for, open_migration, replay_batch
from bluegreen.copier.shadow import parse_alter, reverse_source_names
from bluegreen.copier.tables import TableFacts, TableRef, read_table
from bluegreen.errors import BluegreenError, CutoverRefused, LockBusy
from bluegreen.results import SwitchResult
from bluegreen.state import MigrationRecord, StateStore, WrongState, require_active


def _q(conn, composable) -> str:
    return composable.as_string(conn)


def _unsynced_table(record: MigrationRecord) -> TableRef:
    return TableRef("bluegreen", f"unsynced_{record.id}")


def _reverse_function(record: MigrationRecord) -> sql.Identifier:
    return sql.Identifier("bluegreen", f"reverse_{record.id}")


def _reverse_trigger(record: MigrationRecord) -> sql.Identifier:
    return sql.Identifier(f"bluegreen_reverse_{record.id}")


def _reverse_truncate_function(record: MigrationRecord) -> sql.Identifier:
    return sql.Identifier("bluegreen", f"reverse_{record.id}_truncate")


def _reverse_truncate_trigger(record: MigrationRecord) -> sql.Identifier:
    return sql.Identifier(f"bluegreen_reverse_truncate_{record.id}")


# ---- what follows the OID --------------------------------------------------------------------

@dataclass
class Dependents:
    """Objects tied to a table's OID that must follow its name."""

    incoming_fks: list[tuple[TableRef, str, str]]  # (referencing table, name, definition)
    views: list[tuple[TableRef, str, list[str]]]  # (view, definition, its grants)
    owned_sequences: list[tuple[str, str]]  # (sequence, column)
    identity_columns: list[str]
    grants: list[tuple[str, str, bool]]  # (grantee, privilege, grantable)
    comment: str | None
    policies: list[str]  # CREATE POLICY statements (table name to replace)
    row_security: tuple[bool, bool]
    triggers: list[tuple[str, str]]  # (name, CREATE TRIGGER definition)
    index_names: list[str]  # indexes not backing a constraint
    constraint_names: list[str]  # p, u, f, x constraints


def read_dependents(conn: psycopg.Connection, table: TableRef) -> Dependents:
    oid = conn.execute("SELECT %s::regclass::oid", (_q(conn, table.ident),)).fetchone()[0]
    blockers = []
    for name, kind in conn.execute(
            "SELECT DISTINCT c.oid::regclass::text, c.relkind FROM pg_depend d "
            "JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class c ON c.oid = r.ev_class "
            "WHERE d.refobjid = %s AND c.oid <> %s", (oid, oid)):
        if kind == "m":
            blockers.append(f"materialized view {name}")
    for (pub,) in conn.execute("SELECT p.pubname FROM pg_publication_rel pr JOIN "
                               "pg_publication p ON p.oid = pr.prpubid WHERE pr.prrelid = %s",
                               (oid,)):
        blockers.append(f"publication {pub}")
    for (rule,) in conn.execute("SELECT rulename FROM pg_rewrite WHERE ev_class = %s AND "
                                "rulename <> '_RETURN'", (oid,)):
        blockers.append(f"rule {rule}")
    for (child,) in conn.execute("SELECT inhrelid::regclass::text FROM pg_inherits WHERE "
                                 "inhparent = %s", (oid,)):
        blockers.append(f"partition or child table {child}")
    if blockers:
        raise CutoverRefused(
            f"{table.key} has objects bluegreen cannot move with a rename: "
            f"{', '.join(blockers)}; drop and re-create them around the cutover, or abort")
    incoming = [(TableRef(s, t), n, d) for s, t, n, d in conn.execute(
        "SELECT n.nspname, c.relname, con.conname, pg_get_constraintdef(con.oid) "
        "FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE con.contype = 'f' AND con.confrelid = %s AND con.conrelid <> %s", (oid, oid))]
    views = [(TableRef(s, v), d, g) for s, v, d, g in conn.execute(
        "SELECT DISTINCT n.nspname, c.relname, pg_get_viewdef(c.oid), ARRAY(SELECT "
        "a.privilege_type || ' ON ' || c.oid::regclass::text || ' TO ' || CASE WHEN a.grantee "
        "= 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END FROM aclexplode(c.relacl) a LEFT "
        "JOIN pg_roles r ON r.oid = a.grantee WHERE a.grantee <> c.relowner) "
        "FROM pg_depend d "
        "JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class c ON c.oid = r.ev_class "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE d.refobjid = %s AND c.oid <> %s AND c.relkind = 'v'", (oid, oid))]
    owned = conn.execute(
        "SELECT d.objid::regclass::text, a.attname FROM pg_depend d "
        "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
        "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
        "WHERE d.refobjid = %s AND d.deptype = 'a'", (oid,)).fetchall()
    identity = [r[0] for r in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s AND attidentity <> '' AND "
        "NOT attisdropped", (oid,))]
    grants = conn.execute(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, "
        "a.privilege_type, a.is_grantable FROM pg_class c, aclexplode(c.relacl) a "
        "LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE c.oid = %s "
        "AND a.grantee <> c.relowner", (oid,)).fetchall()
    comment = conn.execute("SELECT obj_description(%s, 'pg_class')", (oid,)).fetchone()[0]
    policies = []
    for name, permissive, roles, cmd, qual, check in conn.execute(
            "SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies "
            "WHERE schemaname = %s AND tablename = %s", (table.schema, table.name)):
        statement = f"CREATE POLICY {_q(conn, sql.Identifier(name))} ON {{table}} AS " \
                    f"{permissive} FOR {cmd} TO {', '.join(roles)}"
        if qual:
            statement += f" USING ({qual})"
        if check:
            statement += f" WITH CHECK ({check})"
        policies.append(statement)
    row_security = conn.execute("SELECT relrowsecurity, relforcerowsecurity FROM pg_class "
                                "WHERE oid = %s", (oid,)).fetchone()
    triggers = conn.execute(
        "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = %s AND NOT "
        "tgisinternal AND tgname NOT LIKE 'bluegreen\\_%%'", (oid,)).fetchall()
    index_names = [r[0] for r in conn.execute(
        "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE "
        "x.indrelid = %s AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = "
        "x.indexrelid AND c.conrelid = x.indrelid)", (oid,))]
    constraint_names = [r[0] for r in conn.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s AND contype IN ('p', 'u', 'f', "
        "'x')", (oid,))]
    return Dependents(incoming, views, owned, identity, grants, comment, policies,
                      tuple(row_security), triggers, index_names, constraint_names)


# ---- reverse sync ---------------------------------------------------------------------------

def reverse_columns(conn: psycopg.Connection, old: TableFacts, new: TableFacts,
                    m: MigrationTables) -> tuple[list[tuple[str, str]], list[str]]:
    """(old column, expression over NEW) for the reverse trigger; and the old columns that
    have no inverse (dropped by the alter, NOT NULL, no default)."""
    spec = parse_alter(m.record.alter_sql, old)
    renames = reverse_source_names(spec)
    out, missing = [], []
    with_default = {r[0] for r in conn.execute(
        "SELECT a.attname FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid "
        "AND a.attnum = d.adnum WHERE d.adrelid = %s", (old.oid,))}
    for column in old.columns:
        if column.generated:
            continue
        target = renames.get(column.name)
        target_col = new.column(target) if target else None
        if target_col is None:
            if column.not_null and not column.identity and column.name not in with_default:
                missing.append(column.name)
            continue
        expr = f"NEW.{_ident(target)}"
        if target_col.type != column.type:
            expr = f"CAST({expr} AS {column.type})"
        out.append((column.name, expr))
    return out, missing


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def reverse_sync_ddl(conn, record: MigrationRecord, new_live: TableRef, old: TableRef,
                     old_facts: TableFacts, new_facts: TableFacts,
                     columns: list[tuple[str, str]]) -> list[str]:
    """A trigger on the new live table that applies every write to the old table, in the
    same transaction. A write that cannot be carried back (a value the old type cannot hold,
    a constraint only the old table has) is recorded in bluegreen.unsynced_<id> instead of
    failing the app's write; lock errors are not caught, so the write fails and is retried
    rather than diverge."""
    old_pk = old_facts.primary_key
    spec = parse_alter(record.alter_sql, old_facts)
    renames = reverse_source_names(spec)
    new_pk = [renames[k] for k in old_pk]
    pk_match = " AND ".join(f"{_ident(o)} = OLD.{_ident(n)}" for o, n in zip(old_pk, new_pk,
                                                                              strict=True))
    targets = ", ".join(_ident(c) for c, _ in columns)
    values = ", ".join(e for _, e in columns)
    unsynced = _unsynced_table(record)
    key_cols = ", ".join(_ident(k) for k in new_pk)
    key_types = ", ".join(f"{_ident(k)} {t}" for k, t in zip(new_pk, old_facts.pk_types(),
                                                              strict=True))
    new_keys = ", ".join(f"NEW.{_ident(k)}" for k in new_pk)
    old_keys = ", ".join(f"OLD.{_ident(k)}" for k in new_pk)
    body = (
        "BEGIN\n"
        "  IF TG_OP <> 'INSERT' THEN\n"
        f"    DELETE FROM {old.text(conn)} WHERE {pk_match};\n"
        "  END IF;\n"
        "  IF TG_OP <> 'DELETE' THEN\n"
        f"    INSERT INTO {old.text(conn)} ({targets}) OVERRIDING SYSTEM VALUE VALUES ({values});\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN\n"
        "  IF TG_OP = 'DELETE' THEN\n"
        f"    INSERT INTO {unsynced.text(conn)} ({key_cols}, error) VALUES ({old_keys}, SQLERRM);\n"
        "  ELSE\n"
        f"    INSERT INTO {unsynced.text(conn)} ({key_cols}, error) VALUES ({new_keys}, SQLERRM);\n"
        "  END IF;\n"
        "  RETURN NULL;\n"
        "END")
    truncate_body = f"BEGIN\n  TRUNCATE {old.text(conn)};\n  RETURN NULL;\nEND"
    return [
        _q(conn, sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql "
                         "AS {}").format(_reverse_truncate_function(record),
                                         sql.Literal(truncate_body))),
        _q(conn, sql.SQL("CREATE TRIGGER {} AFTER TRUNCATE ON {} FOR EACH STATEMENT EXECUTE "
                         "FUNCTION {}()").format(_reverse_truncate_trigger(record),
                                                 new_live.ident,
                                                 _reverse_truncate_function(record))),
        _q(conn, sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}, error text, at timestamptz "
                         "NOT NULL DEFAULT now())").format(unsynced.ident, sql.SQL(key_types))),
        _q(conn, sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql "
                         "AS {}").format(_reverse_function(record), sql.Literal(body))),
        _q(conn, sql.SQL("CREATE TRIGGER {} AFTER INSERT OR UPDATE OR DELETE ON {} FOR EACH ROW "
                         "EXECUTE FUNCTION {}()").format(_reverse_trigger(record),
                                                         new_live.ident,
                                                         _reverse_function(record))),
    ]


def drop_reverse_ddl(conn, record: MigrationRecord, table: TableRef) -> list[str]:
    return [_q(conn, sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                _reverse_trigger(record), table.ident)),
            _q(conn, sql.SQL("DROP TRIGGER IF EXISTS {} ON {}").format(
                _reverse_truncate_trigger(record), table.ident)),
            _q(conn, sql.SQL("DROP FUNCTION IF EXISTS {}()").format(_reverse_function(record))),
            _q(conn, sql.SQL("DROP FUNCTION IF EXISTS {}()").format(
                _reverse_truncate_function(record)))]


# ---- the switch ------------------------------------------------------------------------------

@dataclass
class _Plan:
    """One table's part of a switch."""

    m: MigrationTables
    outgoing_name: str  # what the table now under the live name is renamed to
    incoming: TableRef  # the table that takes the live name
    out_prefix: str
    in_prefix: str
    lock: list[TableRef]

    @property
    def record(self) -> MigrationRecord:
        return self.m.record


def _plan(m: MigrationTables, action: str) -> _Plan:
    record = m.record
    ref = m.live.ref
    shadow, old, _ = names_for(ref, record.id)
    new_prefix, old_prefix = f"_bg{record.id}_", f"_bg{record.id}o_"
    if action == "cutover":
        return _Plan(m, old.name, shadow, old_prefix, new_prefix, [ref, shadow])
    return _Plan(m, shadow.name, old, new_prefix, old_prefix, [ref, old])


def _parked(prefix: str, name: str) -> str:
    return (prefix + name)[:63]


def switch_statements(conn: psycopg.Connection, p: _Plan, action: str, reverse_sync: bool,
                      warnings: list[str]) -> tuple[list[str], list[str]]:
    """The statements that move one table's live name (and what follows it) from the
    outgoing table to the incoming one; and those to run after the commit."""
    m, record, ref = p.m, p.m.record, p.m.live.ref
    out_ref = ref.sibling(p.outgoing_name)
    queue = TableRef("bluegreen", record.queue_table)
    deps = read_dependents(conn, ref)
    incoming_deps = read_dependents(conn, p.incoming)
    q = lambda c: _q(conn, c)  # noqa: E731
    out: list[str] = []
    after: list[str] = []
    # 1. Stop the capture running in this direction.
    if action == "cutover":
        out += [q(s) for s in capture.drop_trigger_ddl(ref, queue)]
    else:
        out += drop_reverse_ddl(conn, record, ref)
    # 2. Detach what follows the OID.
    for table, name, _ in deps.incoming_fks:
        out.append(q(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            table.ident, sql.Identifier(name))))
    for name, _ in deps.triggers:
        out.append(q(sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(name), ref.ident)))
    for statement in deps.policies:
        name = statement.split(" ON ", 1)[0][len("CREATE POLICY "):]
        out.append(f"DROP POLICY {name} ON {q(ref.ident)}")
    # 3. The renames, and the names of indexes and constraints.
    out.append(q(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        ref.ident, sql.Identifier(p.outgoing_name))))
    out.append(q(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        p.incoming.ident, sql.Identifier(ref.name))))
    for name in deps.constraint_names:
        out.append(q(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
            out_ref.ident, sql.Identifier(name), sql.Identifier(_parked(p.out_prefix, name)))))
    for name in deps.index_names:
        out.append(q(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier(ref.schema, name), sql.Identifier(_parked(p.out_prefix, name)))))
    wanted = set(deps.constraint_names) | set(deps.index_names)
    for name in incoming_deps.constraint_names:
        original = next((w for w in wanted if _parked(p.in_prefix, w) == name), None)
        if original:
            out.append(q(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                ref.ident, sql.Identifier(name), sql.Identifier(original))))
    for name in incoming_deps.index_names:
        original = next((w for w in wanted if _parked(p.in_prefix, w) == name), None)
        if original:
            out.append(q(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(ref.schema, name), sql.Identifier(original))))
    # 4. Sequences: ownership follows the name; identity counters continue.
    original = read_table(conn, ref) if action == "cutover" else _as_live(
        read_table(conn, p.incoming), ref)
    spec = parse_alter(record.alter_sql, original)
    forward = reverse_source_names(spec)  # original column -> new column
    backward = {v: k for k, v in forward.items()}
    column_map = forward if action == "cutover" else backward
    for sequence, column in deps.owned_sequences:
        target = column_map.get(column)
        if target and sequence not in {conn.execute("SELECT pg_get_serial_sequence(%s, %s)",
                                                    (q(ref.ident), c)).fetchone()[0]
                                       for c in deps.identity_columns}:
            out.append(f"ALTER SEQUENCE {sequence} OWNED BY {q(ref.ident)}.{_ident(target)}")
    for column in deps.identity_columns:
        target = column_map.get(column)
        if target and target in incoming_deps.identity_columns:
            out.append(
                f"SELECT setval(pg_get_serial_sequence({q(sql.Literal(q(ref.ident)))}, "
                f"{q(sql.Literal(target))}), GREATEST((SELECT last_value FROM "
                f"{_serial_sequence(conn, ref, column)}), (SELECT COALESCE(max({_ident(target)}), "
                f"1) FROM {q(ref.ident)})))")
    # 5. Re-attach to the incoming table, which now has the live name.
    for table, name, definition in deps.incoming_fks:
        out.append(q(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
            table.ident, sql.Identifier(name), sql.SQL(definition))))
        after.append(q(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
            table.ident, sql.Identifier(name))))
    for view, definition, view_grants in deps.views:
        # Re-pointed in place when its columns keep their types; else dropped and created
        # again, with its grants (a dependent view of that view would stop this cutover).
        body = definition.rstrip().rstrip(";")
        replace = q(sql.SQL("CREATE OR REPLACE VIEW {} AS ").format(view.ident)) + body
        recreate = [q(sql.SQL("DROP VIEW {}").format(view.ident)),
                    q(sql.SQL("CREATE VIEW {} AS ").format(view.ident)) + body,
                    *[f"GRANT {g}" for g in view_grants]]
        out.append("DO $bluegreen$ BEGIN\n  EXECUTE " + q(sql.Literal(replace)) + ";\n"
                   "EXCEPTION WHEN data_exception OR integrity_constraint_violation THEN\n"
                   + "".join(f"  EXECUTE {q(sql.Literal(r))};\n" for r in recreate)
                   + "END $bluegreen$")
    for grantee, privilege, grantable in deps.grants:
        out.append(f"GRANT {privilege} ON {q(ref.ident)} TO {grantee}"
                   + (" WITH GRANT OPTION" if grantable else ""))
    if deps.comment is not None:
        out.append(q(sql.SQL("COMMENT ON TABLE {} IS {}").format(ref.ident,
                                                                  sql.Literal(deps.comment))))
    for statement in deps.policies:
        out.append(statement.replace("{table}", q(ref.ident)))
    enabled, forced = deps.row_security
    if enabled:
        out.append(f"ALTER TABLE {q(ref.ident)} ENABLE ROW LEVEL SECURITY")
    if forced:
        out.append(f"ALTER TABLE {q(ref.ident)} FORCE ROW LEVEL SECURITY")
    for _, definition in deps.triggers:
        out.append(definition)  # its ON clause names the live table: now the incoming one
    # 6. Capture in the new direction.
    if action == "cutover":
        if reverse_sync:
            old_facts = read_table(conn, ref)
            new_facts = read_table(conn, p.incoming, for_copy=False)
            columns, _ = reverse_columns(conn, old_facts, new_facts, m)
            out += reverse_sync_ddl(conn, record, ref, out_ref, old_facts, new_facts, columns)
    else:
        out.append(q(capture.trigger_ddl(ref, queue)))
        out.append(q(capture.truncate_trigger_ddl(ref, queue)))
    return out, after


def _serial_sequence(conn, table: TableRef, column: str) -> str:
    return conn.execute("SELECT pg_get_serial_sequence(%s, %s)",
                        (_q(conn, table.ident), column)).fetchone()[0]


def _drain(conn, m: MigrationTables, until: int) -> None:
    conn.execute(chunks.create_keys_table(m.queue, m.key))
    while True:
        taken = replay_batch(conn, m, sql.SQL("true"), [], 5000)
        if taken < 5000 and conn.execute(chunks.backlog(m.queue)).fetchone()[0] <= until:
            return


def check_reverse_sync(conn, m: MigrationTables) -> list[str]:
    """Old columns with no inverse: cutover needs --no-reverse-sync for these."""
    new_facts = read_table(conn, m.shadow, for_copy=False)
    _, missing = reverse_columns(conn, m.live, new_facts, m)
    return missing


def run_switch(engine, tables: list[str], action: str, *, lock_timeout_ms: int = 500,
               retries: int = 10, reverse_sync: bool = True, dry_run: bool = False,
               on_event=None) -> SwitchResult:
    """cutover (synced or rolled_back -> cut_over) or rollback (cut_over -> rolled_back) of
    every table named, in one transaction; the same steps on every engine, whose
    differences (locking, catalog, trigger SQL) the ``engine`` holds."""
    on_event = on_event or (lambda message: None)
    store = engine.store
    wanted = ("synced", "rolled_back") if action == "cutover" else ("cut_over",)
    verb = "cut over" if action == "cutover" else "roll back"
    records = require_active(store, [engine.table_key(t) for t in tables], wanted, verb)
    warnings: list[str] = []
    parts = engine.load(records, action)
    engine.preflight(parts, action, reverse_sync, warnings)
    names = [r.table_name for r in records]
    if dry_run:
        return SwitchResult(names, action, 0.0, 0,
                            engine.dry_run(parts, action, reverse_sync, warnings,
                                           lock_timeout_ms), warnings, records)
    if action == "cutover":
        for part in parts:
            on_event(f"catching up {part.record.table_name} without locks")
        engine.catch_up(parts)
    attempts = 0
    while True:
        attempts += 1
        executed: list[str] = []
        after: list[str] = []
        try:
            with engine.locked(parts, lock_timeout_ms) as lock_statement:
                locked_at = time.perf_counter()
                executed.append(lock_statement)
                if action == "cutover":
                    engine.drain_locked(parts)  # nothing can write now: the queue's end
                for part in parts:
                    body, post = engine.switch_statements(part, action, reverse_sync, warnings)
                    for statement in body:
                        engine.execute(statement, action, part)
                    executed += body
                    after += post
                for part in parts:
                    detail = dict(part.record.detail, pending_validation=list(after))
                    if action == "cutover":
                        detail["reverse_sync"] = reverse_sync
                        store.transition(part.record, wanted, "cut_over", verb,
                                         cut_over_at=engine.now(), detail=json.dumps(detail))
                    else:
                        store.transition(part.record, wanted, "rolled_back", verb,
                                         detail=json.dumps(detail))
                        engine.after_rollback(part)
            # From the lock granted to the commit: how long the app's writes were blocked.
            lock_ms = (time.perf_counter() - locked_at) * 1000
            break
        except LockBusy:
            if attempts > retries:
                raise BluegreenError(
                    f"{action} gave up after {attempts} attempts: another session held a lock "
                    f"on {', '.join(names)} for over {lock_timeout_ms} ms each time; nothing "
                    "was changed. Retry later or raise --lock-timeout / --retries") from None
            delay = min(10.0, 0.1 * 2 ** (attempts - 1)) * random.uniform(0.5, 1.5)
            on_event(f"lock wait over {lock_timeout_ms} ms; retrying in {delay:.2f}s "
                     f"({attempts}/{retries})")
            time.sleep(delay)
    for statement in after:
        on_event(f"validating: {statement}")
        engine.execute_after_commit(statement)
    for record in records:
        detail = dict(store.get(record.id).detail, pending_validation=[])
        store.update(record, lock_ms=lock_ms, detail=json.dumps(detail))
    return SwitchResult(names, action, lock_ms, attempts, executed, warnings,
                        [store.get(r.id) for r in records])


class PostgresSwitch:
    """PostgreSQL's side of a switch: lock_timeout, the catalog, PL/pgSQL triggers."""

    def __init__(self, conn: psycopg.Connection, store: StateStore) -> None:
        self.conn = conn
        self.store = store

    def table_key(self, table: str) -> str:
        return TableRef.parse(table).key

    def now(self):
        return self.conn.execute("SELECT now()").fetchone()[0]

    def load(self, records: list[MigrationRecord], action: str) -> list[_Plan]:
        migrations = [open_migration(self.conn, r) if action == "cutover"
                      else _open_after_cutover(self.conn, r) for r in records]
        return [_plan(m, action) for m in migrations]

    def preflight(self, plans: list[_Plan], action: str, reverse_sync: bool,
                  warnings: list[str]) -> None:
        for p in plans:
            m = p.m
            if action == "cutover":
                if not (m.record.backfill_done and m.record.indexes_built):
                    raise WrongState(m.record.table_name, "copying (backfill not finished)",
                                     ("synced",), "cut over")
                missing = check_reverse_sync(self.conn, m)
                if missing and reverse_sync:
                    raise CutoverRefused(
                        f"{m.record.table_name}: the alter drops NOT NULL column(s) "
                        f"{', '.join(missing)} with no default, so writes after cutover cannot "
                        "be synced back for a rollback; pass --no-reverse-sync to accept that "
                        "a rollback then loses them")
            elif not m.record.detail.get("reverse_sync", True):
                warnings.append(f"{m.record.table_name} was cut over with --no-reverse-sync: "
                                "writes made since cutover are not in the old table and are "
                                "lost")
            else:
                unsynced = _unsynced_count(self.conn, m.record)
                if unsynced:
                    warnings.append(f"{m.record.table_name}: {unsynced} writes since cutover "
                                    "could not be carried back (see "
                                    f"bluegreen.unsynced_{m.record.id})")

    def dry_run(self, plans, action, reverse_sync, warnings, lock_timeout_ms) -> list[str]:
        statements = [f"SET LOCAL lock_timeout = {lock_timeout_ms}",
                      _lock_statement(self.conn, plans)]
        for p in plans:
            body, after = switch_statements(self.conn, p, action, reverse_sync, warnings)
            statements += body + ["-- after COMMIT:"] + after
        return statements

    def catch_up(self, plans: list[_Plan]) -> None:
        for p in plans:
            _drain(self.conn, p.m, until=100)

    @contextmanager
    def locked(self, plans: list[_Plan], lock_timeout_ms: int):
        try:
            with self.conn.transaction():
                self.conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
                lock = _lock_statement(self.conn, plans)
                self.conn.execute(lock)
                yield lock
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            raise LockBusy() from None

    def drain_locked(self, plans: list[_Plan]) -> None:
        for p in plans:
            _drain(self.conn, p.m, until=0)

    def switch_statements(self, p: _Plan, action: str, reverse_sync: bool,
                          warnings: list[str]) -> tuple[list[str], list[str]]:
        return switch_statements(self.conn, p, action, reverse_sync, warnings)

    def execute(self, statement: str, action: str, p: _Plan | None) -> None:
        try:
            self.conn.execute(statement)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            raise
        except psycopg.Error as error:
            table = p.m.record.table_name if p else "the tables"
            raise CutoverRefused(
                f"{action} of {table} failed and changed nothing: "
                f"{str(error).splitlines()[0]} (in: {statement[:120]})") from None

    def execute_after_commit(self, statement: str) -> None:
        self.conn.execute(statement)

    def after_rollback(self, p: _Plan) -> None:
        _after_rollback(self.conn, p)


def switch(conn: psycopg.Connection, store: StateStore, tables: list[str], action: str,
           **options) -> SwitchResult:
    """cutover or rollback on PostgreSQL (see run_switch)."""
    return run_switch(PostgresSwitch(conn, store), tables, action, **options)


def _open_after_cutover(conn, record: MigrationRecord) -> MigrationTables:
    """After cutover the live name holds the new table; describe it from the old one."""
    ref = TableRef.parse(record.table_name)
    _, old, queue = names_for(ref, record.id)
    old_facts = read_table(conn, old)
    new_facts = read_table(conn, ref, for_copy=False)
    key = chunks.KeySet(old_facts.primary_key, old_facts.pk_types())
    old_as_live = _as_live(old_facts, ref)
    spec = parse_alter(record.alter_sql, old_as_live)
    renames = reverse_source_names(spec)
    shadow_key = chunks.KeySet([renames[k] for k in old_facts.primary_key], key.types)
    return MigrationTables(record, old_as_live, ref, queue, key, shadow_key,
                           [(c.name, sql.Identifier(c.name)) for c in new_facts.columns])


def _as_live(facts: TableFacts, ref: TableRef) -> TableFacts:
    """The original table's facts under the live name (the --alter names the live table)."""
    return TableFacts(ref, facts.oid, facts.columns, facts.primary_key, facts.rows_estimate,
                      facts.size_bytes, facts.index_defs, facts.constraint_defs, facts.pk_name)


def _unsynced_count(conn, record: MigrationRecord) -> int:
    table = _unsynced_table(record)
    if conn.execute("SELECT to_regclass(%s)", (f"bluegreen.{table.name}",)).fetchone()[0] is None:
        return 0
    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table.ident)).fetchone()[0]


def _lock_statement(conn, plans: list[_Plan]) -> str:
    """Lock the tables the app writes first, then the ones bluegreen's triggers write: the
    order writers take them, so a writer in flight finishes instead of deadlocking."""
    live = {p.m.live.ref.key: p.m.live.ref for p in plans}
    others: dict[str, TableRef] = {}
    for p in plans:
        for table in p.lock:
            if table.key not in live:
                others[table.key] = table
        for table, _, _ in read_dependents(conn, p.m.live.ref).incoming_fks:
            if table.key not in live:
                others[table.key] = table
    ordered = [live[k] for k in sorted(live)] + [others[k] for k in sorted(others)]
    return _q(conn, sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
        sql.SQL(", ").join(t.ident for t in ordered)))


def _after_rollback(conn, p: _Plan) -> None:
    """Without reverse sync, or where writes could not be carried back, the new table holds
    rows the old one does not: queue them so replay brings the shadow back to the live."""
    record = p.m.record
    shadow, _, queue = names_for(p.m.live.ref, record.id)
    if not record.detail.get("reverse_sync", True):
        conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            queue.ident, p.m.key.cols, p.m.shadow_key.cols, shadow.ident))
    elif _unsynced_count(conn, record):
        table = _unsynced_table(record)
        conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            queue.ident, p.m.key.cols, p.m.shadow_key.cols, table.ident))


def finish_statements(conn, record: MigrationRecord) -> list[str]:
    ref = TableRef.parse(record.table_name)
    _, old, queue = names_for(ref, record.id)
    return drop_reverse_ddl(conn, record, ref) + [
        _q(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(old.ident)),
        *[_q(conn, s) for s in capture.drop_ddl(ref, queue)[2:]],
        _q(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(_unsynced_table(record).ident)),
    ]


def finish(conn: psycopg.Connection, store: StateStore, tables: list[str], *,
           lock_timeout_ms: int = 500, retries: int = 10, dry_run: bool = False
           ) -> tuple[list[MigrationRecord], list[str]]:
    """The contract step: drop the old table, the triggers and the queue."""
    records = require_active(store, [TableRef.parse(t).key for t in tables], ("cut_over",),
                             "finish")
    statements = [s for r in records for s in finish_statements(conn, r)]
    if dry_run:
        return records, statements
    for attempt in range(retries + 1):
        try:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
                for statement in statements:
                    try:
                        conn.execute(statement)
                    except psycopg.errors.LockNotAvailable:
                        raise
                    except psycopg.Error as error:
                        raise BluegreenError(f"finish changed nothing: "
                                             f"{str(error).splitlines()[0]}") from None
                for record in records:
                    conn.execute("DELETE FROM bluegreen.chunks WHERE migration_id = %s",
                                 (record.id,))
                    store.transition(record, ("cut_over",), "finished", "finish",
                                     finished_at=conn.execute("SELECT now()").fetchone()[0])
            return [store.get(r.id) for r in records], statements
        except psycopg.errors.LockNotAvailable:
            time.sleep(min(5.0, 0.1 * 2 ** attempt) * random.uniform(0.5, 1.5))
    raise BluegreenError("finish could not get its locks; nothing was changed; retry later")

