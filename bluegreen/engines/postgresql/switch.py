"""Cutover, rollback and finish: the switch is a rename, and so is the way back.

One transaction switches every table named, under ``lock_timeout``, retried with backoff
and jitter; a failure leaves nothing half done. What follows a table's OID is moved with
the name: incoming foreign keys (re-created NOT VALID, validated by OID after the commit),
views (with their grants, comment and options), owned sequences, identity counters, table
and column grants, the table comment, row-level security policies, the table's own triggers,
index and constraint names, and the timing of a foreign key to the table itself.
Reverse-sync triggers (bluegreen.engines.postgresql.reverse) keep the old table equal to the new one
after cutover, so rollback loses nothing.

Locks are taken in the order the app takes them (tables whose foreign keys point at a
switched table first: an app INSERT locks the child, then the parent for its FK check), and
only the first is waited for: the rest are taken NOWAIT, so the switch never waits while
holding a lock, and cannot close a deadlock cycle with an app transaction that takes them in
another order (see ``_lock_statements``).
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from bluegreen.core import naming
from bluegreen.core.state import MigrationRecord, MigrationStore
from bluegreen.engines.postgresql import capture, chunks
from bluegreen.engines.postgresql.catalog import (
    NAME_LIMIT,
    TableFacts,
    TableRef,
    check_identity,
    read_table,
    render,
)
from bluegreen.engines.postgresql.copy import (
    MigrationTables,
    foreign_key_statements,
    names_for,
    open_migration,
    replay_batch,
    shadow_names,
)
from bluegreen.engines.postgresql.reverse import (
    drop_reverse_ddl,
    ident,
    reverse_mapping,
    reverse_sync_ddl,
    unsynced,
    unsynced_table,
)
from bluegreen.engines.postgresql.shadow import constraint_name, parse_alter, reverse_source_names
from bluegreen.engines.postgresql.throttle import notify_control
from bluegreen.errors import CutoverRefused, LockBusy, WrongState

# ---- what follows the OID --------------------------------------------------------------------

@dataclass
class View:
    """A view on a switched table, and what re-creating it must keep."""

    ref: TableRef
    definition: str
    options: list[str]  # reloptions: security_barrier, check_option, security_invoker
    grants: list[str]  # "SELECT ON v TO role [WITH GRANT OPTION]"
    comment: str | None
    column_comments: list[tuple[str, str]]
    owner: str


@dataclass
class Dependents:
    """Objects tied to a table's OID that must follow its name."""

    incoming_fks: list[tuple[TableRef, str, str]]  # (referencing table, name, definition)
    views: list[View]
    owned_sequences: list[tuple[str, str]]  # (sequence, column)
    identity_columns: list[str]
    grants: list[tuple[str, str, bool]]  # (grantee, privilege, grantable)
    column_grants: list[tuple[str, str, str, bool]]  # (column, grantee, privilege, grantable)
    comment: str | None
    policies: list[str]  # CREATE POLICY statements (table name to replace)
    row_security: tuple[bool, bool]
    triggers: list[tuple[str, str]]  # (name, CREATE TRIGGER definition)
    index_names: list[str]  # indexes not backing a constraint
    constraint_names: list[str]  # p, u, f, x constraints
    self_fks: list[tuple[str, str]] = field(default_factory=list)  # (name, timing)
    outgoing_fks: list[str] = field(default_factory=list)  # to other tables


def _oid(conn, table: TableRef) -> int:
    return conn.execute("SELECT %s::regclass::oid", (render(conn, table.ident),)).fetchone()[0]


def _grantee(column: str = "a.grantee") -> str:
    return f"CASE WHEN {column} = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END"


def read_dependents(conn: psycopg.Connection, table: TableRef) -> Dependents:
    oid = _oid(conn, table)
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
        "WHERE con.contype = 'f' AND con.confrelid = %s AND con.conrelid <> %s "
        "ORDER BY n.nspname, c.relname, con.conname", (oid, oid))]
    views = [View(TableRef(s, v), d, list(o or []), list(g), cm, list(zip(cc or [], ct or [],
                                                                          strict=True)), ow)
             for s, v, d, o, g, cm, cc, ct, ow in conn.execute(
        "SELECT DISTINCT n.nspname, c.relname, pg_get_viewdef(c.oid), c.reloptions, ARRAY("
        "SELECT a.privilege_type || ' ON ' || c.oid::regclass::text || ' TO ' || "
        f"{_grantee()} || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END "
        "FROM aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE "
        "a.grantee <> c.relowner), obj_description(c.oid, 'pg_class'), "
        "ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = c.oid AND "
        "col_description(c.oid, attnum) IS NOT NULL ORDER BY attnum), "
        "ARRAY(SELECT col_description(c.oid, attnum) FROM pg_attribute WHERE attrelid = c.oid "
        "AND col_description(c.oid, attnum) IS NOT NULL ORDER BY attnum), "
        "pg_get_userbyid(c.relowner) "
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
        f"SELECT {_grantee()}, a.privilege_type, a.is_grantable FROM pg_class c, "
        "aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE c.oid = %s "
        "AND a.grantee <> c.relowner", (oid,)).fetchall()
    column_grants = conn.execute(
        f"SELECT t.attname, {_grantee()}, a.privilege_type, a.is_grantable FROM pg_attribute t "
        "CROSS JOIN LATERAL aclexplode(t.attacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE t.attrelid = %s AND t.attnum > 0 AND NOT t.attisdropped AND t.attacl IS NOT "
        "NULL AND a.grantee <> (SELECT relowner FROM pg_class WHERE oid = %s)",
        (oid, oid)).fetchall()
    comment = conn.execute("SELECT obj_description(%s, 'pg_class')", (oid,)).fetchone()[0]
    policies = []
    for name, permissive, roles, cmd, qual, check in conn.execute(
            "SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies "
            "WHERE schemaname = %s AND tablename = %s", (table.schema, table.name)):
        statement = f"CREATE POLICY {render(conn, sql.Identifier(name))} ON {{table}} AS " \
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
    self_fks = [(n, "DEFERRABLE INITIALLY DEFERRED" if deferred else
                 "DEFERRABLE INITIALLY IMMEDIATE" if deferrable else "NOT DEFERRABLE")
                for n, deferrable, deferred in conn.execute(
        "SELECT conname, condeferrable, condeferred FROM pg_constraint WHERE conrelid = %s "
        "AND confrelid = %s AND contype = 'f'", (oid, oid))]
    outgoing = [r[0] for r in conn.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = %s AND confrelid <> %s AND "
        "contype = 'f'", (oid, oid))]
    return Dependents(incoming, views, owned, identity, grants, column_grants, comment,
                      policies, tuple(row_security), triggers, index_names, constraint_names,
                      self_fks, outgoing)


def dependent_views(conn: psycopg.Connection, oids: list[int]) -> list[TableRef]:
    """Every view over these tables, views of views included, outermost first."""
    rows = conn.execute(
        "WITH RECURSIVE v(oid, depth) AS ("
        " SELECT r.ev_class, 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid "
        " WHERE d.refobjid = ANY(%s) AND r.ev_class <> ALL(%s)"
        " UNION SELECT r.ev_class, v.depth + 1 FROM v JOIN pg_depend d ON d.refobjid = v.oid "
        " JOIN pg_rewrite r ON r.oid = d.objid WHERE r.ev_class <> v.oid AND v.depth < 20) "
        "SELECT n.nspname, c.relname, max(v.depth) FROM v JOIN pg_class c ON c.oid = v.oid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'v' "
        "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2", (oids, oids)).fetchall()
    return [TableRef(s, n) for s, n, _ in rows]


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
    accept_loss: bool = False
    detail_updates: dict = field(default_factory=dict)  # saved with the transition
    # Foreign keys that were NOT VALID before the switch stay so (table, name).
    keep_not_valid: list[tuple[TableRef, str]] = field(default_factory=list)
    # Shared by every part of one switch: foreign keys an earlier part re-created NOT VALID
    # that were valid before, (table key, name), so a later part knows what they were.
    recreated_valid: set[tuple[str, str]] = field(default_factory=set)

    @property
    def record(self) -> MigrationRecord:
        return self.m.record


def _plan(m: MigrationTables, action: str, accept_loss: bool = False) -> _Plan:
    record = m.record
    ref = m.live.ref
    shadow, old, _ = names_for(ref, record.id)
    new_prefix, old_prefix = naming.prefix(record.id), naming.prefix(record.id, old=True)
    if action == "cutover":
        return _Plan(m, old.name, shadow, old_prefix, new_prefix, [ref, shadow])
    return _Plan(m, shadow.name, old, new_prefix, old_prefix, [ref, old], accept_loss)


def _parked(prefix: str, name: str) -> str:
    return naming.parked(prefix, name, NAME_LIMIT)


def _view_statement(conn, view: View) -> str:
    """Re-point a view at the table now under the live name: in place when its columns keep
    their types, else dropped and created again with its options, grants, comments and owner
    (42P16: a view column cannot change type in place; a view of that view would stop the
    switch, which then changes nothing)."""
    body = view.definition.rstrip().rstrip(";")
    options = (" WITH (" + ", ".join(view.options) + ")") if view.options else ""
    name = render(conn, view.ref.ident)
    replace = f"CREATE OR REPLACE VIEW {name}{options} AS {body}"
    recreate = [f"DROP VIEW {name}", f"CREATE VIEW {name}{options} AS {body}",
                *[f"GRANT {g}" for g in view.grants]]
    if view.comment is not None:
        recreate.append(render(conn, sql.SQL("COMMENT ON VIEW {} IS {}").format(
            view.ref.ident, sql.Literal(view.comment))))
    for column, text in view.column_comments:
        recreate.append(render(conn, sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
            view.ref.ident, sql.Identifier(column), sql.Literal(text))))
    recreate.append(render(conn, sql.SQL("DO $o$ BEGIN IF current_user <> {owner} THEN ALTER VIEW "
                                     "{view} OWNER TO {role}; END IF; END $o$").format(
        owner=sql.Literal(view.owner), view=view.ref.ident, role=sql.Identifier(view.owner))))
    return ("DO $bluegreen$ BEGIN\n  EXECUTE " + render(conn, sql.Literal(replace)) + ";\n"
            "EXCEPTION WHEN invalid_table_definition OR datatype_mismatch OR data_exception "
            "THEN\n" + "".join(f"  EXECUTE {render(conn, sql.Literal(r))};\n" for r in recreate)
            + "END $bluegreen$")


def switch_statements(conn: psycopg.Connection, p: _Plan, action: str, reverse_sync: bool,
                      warnings: list[str]) -> tuple[list[str], list[str]]:
    """The statements that move one table's live name (and what follows it) from the
    outgoing table to the incoming one; and the foreign-key validations to run after the
    commit, by the names they will have then (the real run validates by OID)."""
    record, ref = p.m.record, p.m.live.ref
    out_ref = ref.sibling(p.outgoing_name)
    queue = TableRef("bluegreen", record.queue_table)
    deps = read_dependents(conn, ref)
    incoming_deps = read_dependents(conn, p.incoming)
    q = lambda c: render(conn, c)  # noqa: E731
    out: list[str] = []
    after: list[str] = []
    if action == "cutover":
        original = read_table(conn, ref)
    else:
        original = _as_live(read_table(conn, p.incoming), ref)
    spec = parse_alter(record.alter_sql, original)
    # Names to give back to the incoming table's indexes and constraints: those the shadow
    # was built with, and those parked by earlier switches.
    names = dict(record.detail.get("names", {}))
    if action == "cutover":
        names.update(shadow_names(original, spec, record.id))
    timings = dict(record.detail.get("self_fk_timing", {}))
    # 0. A rollback would lose writes that could not be carried back: refuse (in the lock,
    # where no new one can appear) unless the user accepted that.
    if action == "rollback" and record.detail.get("reverse_sync", True) and not p.accept_loss:
        table = unsynced_table(record).text(conn)
        out.append(q(sql.SQL(
            "DO $bluegreen$ DECLARE lost boolean := false; BEGIN IF to_regclass({t}) IS NOT "
            "NULL THEN EXECUTE {check} INTO lost; END IF; IF lost THEN RAISE EXCEPTION "
            "'writes since cutover could not be carried back' USING ERRCODE = "
            "'object_not_in_prerequisite_state'; END IF; END $bluegreen$").format(
            t=sql.Literal(table), check=sql.Literal(f"SELECT EXISTS (SELECT FROM {table})"))))
    # 1. Stop the capture running in this direction.
    if action == "cutover":
        out += [q(s) for s in capture.drop_trigger_ddl(ref, queue)]
    else:
        out += drop_reverse_ddl(conn, record, ref)
    # 2. Detach what follows the OID. Rolling back, the new table's foreign keys to other
    # tables go too: replay lags behind the app, and a key on a lagging copy would stop the
    # app deleting a parent row (the next cutover adds them again).
    if action == "rollback":
        for name in deps.outgoing_fks:
            out.append(q(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                ref.ident, sql.Identifier(name))))
        deps.constraint_names = [n for n in deps.constraint_names
                                 if n not in deps.outgoing_fks]
    for referencing, name, _ in deps.incoming_fks:
        out.append(q(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            referencing.ident, sql.Identifier(name))))
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
        parked = _parked(p.out_prefix, name)
        names[parked] = name
        out.append(q(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
            out_ref.ident, sql.Identifier(name), sql.Identifier(parked))))
    for name in deps.index_names:
        parked = _parked(p.out_prefix, name)
        names[parked] = name
        out.append(q(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
            sql.Identifier(ref.schema, name), sql.Identifier(parked))))
    for name in incoming_deps.constraint_names:
        if name in names and names[name] != name:
            out.append(q(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                ref.ident, sql.Identifier(name), sql.Identifier(names[name]))))
    for name in incoming_deps.index_names:
        if name in names and names[name] != name:
            out.append(q(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier(ref.schema, name), sql.Identifier(names[name]))))
    # 3b. A foreign key of the table to itself: the table under the live name checks it when
    # the app asked; the other one, written by replay or reverse sync row by row in another
    # order, checks it at commit.
    renamed_back = {new: old for old, new in spec.constraint_renames.items()}
    for name, timing in deps.self_fks:
        timings.setdefault(name, timing)
        out.append(q(sql.SQL("ALTER TABLE {} ALTER CONSTRAINT {} DEFERRABLE INITIALLY "
                             "DEFERRED").format(out_ref.ident,
                                                sql.Identifier(_parked(p.out_prefix, name)))))
    for name, _ in incoming_deps.self_fks:
        final = names.get(name, name)
        timing = timings.get(final) or timings.get(renamed_back.get(final, final)) or \
            timings.get(constraint_name(spec, final)) or "NOT DEFERRABLE"
        out.append(q(sql.SQL("ALTER TABLE {} ALTER CONSTRAINT {} {}").format(
            ref.ident, sql.Identifier(final), sql.SQL(timing))))
    # 4. Sequences: ownership follows the name; identity counters continue.
    forward = reverse_source_names(spec)  # original column -> new column
    backward = {v: k for k, v in forward.items()}
    column_map = forward if action == "cutover" else backward
    for sequence, column in deps.owned_sequences:
        target = column_map.get(column)
        if target and sequence not in {conn.execute("SELECT pg_get_serial_sequence(%s, %s)",
                                                    (q(ref.ident), c)).fetchone()[0]
                                       for c in deps.identity_columns}:
            out.append(f"ALTER SEQUENCE {sequence} OWNED BY {q(ref.ident)}.{ident(target)}")
    for column in deps.identity_columns:
        target = column_map.get(column)
        if target and target in incoming_deps.identity_columns:
            out.append(
                f"SELECT setval(pg_get_serial_sequence({q(sql.Literal(q(ref.ident)))}, "
                f"{q(sql.Literal(target))}), GREATEST((SELECT last_value FROM "
                f"{_serial_sequence(conn, ref, column)}), (SELECT COALESCE(max({ident(target)}), "
                f"1) FROM {q(ref.ident)})))")
    # 5. Re-attach to the incoming table, which now has the live name: its own foreign keys
    # to other tables (NOT VALID now, validated after the commit), and those pointing at it.
    if action == "cutover":
        for name, statement, validate_after in foreign_key_statements(original, spec, ref):
            out.append(statement)
            if validate_after or (ref.key, name) in p.recreated_valid:
                after.append(q(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                    ref.ident, sql.Identifier(name))))
            else:
                p.keep_not_valid.append((ref, name))
    for referencing, name, definition in deps.incoming_fks:
        was_valid = not definition.rstrip().endswith("NOT VALID")
        definition = definition.rstrip().removesuffix("NOT VALID").rstrip()
        out.append(q(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {} NOT VALID").format(
            referencing.ident, sql.Identifier(name), sql.SQL(definition))))
        final_table = ref if referencing == p.incoming else (
            out_ref if referencing == ref else referencing)
        if was_valid or (referencing.key, name) in p.recreated_valid:
            p.recreated_valid.add((referencing.key, name))
            after.append(q(sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                final_table.ident, sql.Identifier(names.get(name, name)))))
        else:
            p.keep_not_valid.append((referencing, name))
    for view in deps.views:
        out.append(_view_statement(conn, view))
    for grantee, privilege, grantable in deps.grants:
        out.append(f"GRANT {privilege} ON {q(ref.ident)} TO {grantee}"
                   + (" WITH GRANT OPTION" if grantable else ""))
    for column, grantee, privilege, grantable in deps.column_grants:
        target = column_map.get(column)
        if target is None:
            warnings.append(f"{ref.key}: the grant of {privilege} on column {column} to "
                            f"{grantee} is not carried over: the column is not in the new "
                            "shape")
            continue
        out.append(f"GRANT {privilege} ({ident(target)}) ON {q(ref.ident)} TO {grantee}"
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
            mapping = reverse_mapping(conn, old_facts, new_facts, record.alter_sql)
            warnings.extend(w for w in mapping.warnings if w not in warnings)
            out += reverse_sync_ddl(conn, record, ref, out_ref, old_facts, mapping)
    else:
        out.append(q(capture.trigger_ddl(ref, queue)))
        out.append(q(capture.truncate_trigger_ddl(ref, queue)))
    p.detail_updates.update(names=names, self_fk_timing=timings)
    return out, after


def _serial_sequence(conn, table: TableRef, column: str) -> str:
    return conn.execute("SELECT pg_get_serial_sequence(%s, %s)",
                        (render(conn, table.ident), column)).fetchone()[0]


def _drain(conn, m: MigrationTables, until: int) -> None:
    conn.execute(chunks.create_keys_table(m.queue, m.key))
    while True:
        taken = replay_batch(conn, m, sql.SQL("true"), [], 5000)
        if taken < 5000 and conn.execute(chunks.backlog(m.queue)).fetchone()[0] <= until:
            return


def check_reverse_sync(conn, m: MigrationTables) -> list[str]:
    """Old columns with no inverse: cutover needs --no-reverse-sync for these."""
    new_facts = read_table(conn, m.shadow, for_copy=False)
    return reverse_mapping(conn, m.live, new_facts, m.record.alter_sql).missing





class PostgresSwitch:
    """PostgreSQL's side of a switch: lock_timeout, the catalog, PL/pgSQL triggers."""

    def __init__(self, conn: psycopg.Connection, store: MigrationStore, *,
                 accept_loss: bool = False) -> None:
        self.conn = conn
        self.store = store
        self.accept_loss = accept_loss
        self._not_valid_before: set[int] = set()

    def table_key(self, table: str) -> str:
        return TableRef.parse(table).key

    def now(self):
        return self.conn.execute("SELECT now()").fetchone()[0]

    def load(self, records: list[MigrationRecord], action: str) -> list[_Plan]:
        verb = "cut over" if action == "cutover" else "roll back"
        for record in records:
            check_identity(self.conn, record, verb)
        migrations = [open_migration(self.conn, r) if action == "cutover"
                      else _open_after_cutover(self.conn, r) for r in records]
        plans = [_plan(m, action, self.accept_loss) for m in migrations]
        shared: set[tuple[str, str]] = set()
        for p in plans:
            p.recreated_valid = shared
        return plans

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
                count, first = unsynced(self.conn, m.record)
                if count and not self.accept_loss:
                    raise CutoverRefused(_unsynced_message(m.record, count, first))
                if count:
                    warnings.append(f"{m.record.table_name}: {count} writes since cutover "
                                    "could not be carried back and are lost in the old table "
                                    f"(see bluegreen.unsynced_{m.record.id}); replay restores "
                                    "them in the new one")

    def dry_run(self, plans, action, reverse_sync, warnings, lock_timeout_ms) -> list[str]:
        """The switch as SQL that runs as pasted into psql: the same statements as the real
        run, in one transaction, the queue drained in one go, the state recorded."""
        conn = self.conn
        statements = ["BEGIN", f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}",
                      *_lock_statements(conn, plans)]
        validations: list[str] = []
        for p in plans:
            if action == "cutover":
                statements += _drain_statements(conn, p.m)
            body, after = switch_statements(conn, p, action, reverse_sync, warnings)
            statements += body
            validations += after
        for p in plans:
            detail = dict(p.record.detail, pending_validation=[], **p.detail_updates)
            new = "cut_over" if action == "cutover" else "rolled_back"
            if action == "cutover":
                detail["reverse_sync"] = reverse_sync
            wanted = ("synced", "rolled_back") if action == "cutover" else ("cut_over",)
            statements.append(render(conn, sql.SQL(
                "UPDATE bluegreen.migrations SET state = {}, updated_at = now(){}, detail = {} "
                "WHERE id = {} AND state IN ({})").format(
                sql.Literal(new), sql.SQL(", cut_over_at = now()" if action == "cutover"
                                          else ""),
                sql.Literal(json.dumps(detail)), sql.Literal(p.record.id),
                sql.SQL(", ").join(sql.Literal(w) for w in wanted))))
            if action == "rollback":
                statements += _after_rollback_statements(conn, p)
        statements.append("COMMIT")
        if validations:
            statements += ["-- after COMMIT: validate the re-created foreign keys "
                           "(no strong lock)", *validations]
        return statements

    def catch_up(self, plans: list[_Plan]) -> None:
        for p in plans:
            _drain(self.conn, p.m, until=100)
            # A shadow that was never analyzed (a copy made before bluegreen analyzed it)
            # gets its statistics now: the new table must not go live without them.
            row = self.conn.execute(
                "SELECT last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL FROM "
                "pg_stat_user_tables WHERE relid = %s::regclass",
                (p.m.shadow.text(self.conn),)).fetchone()
            if not (row and row[0]):
                self.conn.execute(sql.SQL("ANALYZE {}").format(p.m.shadow.ident))

    @contextmanager
    def locked(self, plans: list[_Plan], lock_timeout_ms: int):
        try:
            with self.conn.transaction():
                self.conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
                statements = _lock_statements(self.conn, plans)
                self.conn.execute(statements[0])
                for statement in statements[1:]:
                    _lock_rest(self.conn, statement)
                self._not_valid_before = _not_valid_fks(self.conn, plans)
                yield ";\n".join(statements)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            raise LockBusy() from None

    def drain_locked(self, plans: list[_Plan]) -> None:
        for p in plans:
            _drain(self.conn, p.m, until=0)

    def switch_statements(self, p: _Plan, action: str, reverse_sync: bool,
                          warnings: list[str]) -> tuple[list[str], list[str]]:
        return switch_statements(self.conn, p, action, reverse_sync, warnings)

    def detail_updates(self, p: _Plan) -> dict:
        return p.detail_updates

    def pending_after(self, plans: list[_Plan], after: list) -> list[int]:
        """The foreign keys this switch re-created NOT VALID, by OID: a name may have
        changed by the time they are validated (the tables of a multi-table switch are
        renamed in the same transaction)."""
        keep = set()
        for p in plans:
            for table, name in p.keep_not_valid:
                row = self.conn.execute(
                    "SELECT oid FROM pg_constraint WHERE conrelid = to_regclass(%s) AND "
                    "conname = %s", (table.text(self.conn), name)).fetchone()
                if row:
                    keep.add(row[0])
        return sorted(_not_valid_fks(self.conn, plans) - self._not_valid_before - keep)

    def execute(self, statement: str, action: str, p: _Plan | None) -> None:
        try:
            self.conn.execute(statement)
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected):
            raise
        except psycopg.errors.ObjectNotInPrerequisiteState:
            record = p.m.record if p else None
            count, first = unsynced(self.conn, record) if record else (0, None)
            raise CutoverRefused(_unsynced_message(record, count, first)) from None
        except psycopg.Error as error:
            table = p.m.record.table_name if p else "the tables"
            raise CutoverRefused(
                f"{action} of {table} failed and changed nothing: "
                f"{str(error).splitlines()[0]} (in: {statement[:120]})") from None

    def committed(self) -> None:
        notify_control(self.conn)  # a copy --follow of these tables stops now

    def execute_after_commit(self, item) -> str | None:
        return validate(self.conn, item)

    def after_rollback(self, p: _Plan) -> None:
        for statement in _after_rollback_statements(self.conn, p):
            self.conn.execute(statement)


def _unsynced_message(record, count: int, first: str | None) -> str:
    table = record.table_name if record else "the table"
    return (f"cannot roll back {table}: {count or 'some'} writes since cutover do not fit the "
            f"old shape and could not be carried back (first: {first or 'see the table'}; all "
            f"in bluegreen.unsynced_{record.id if record else '<id>'}); change those rows so "
            "they fit, then roll back again, or pass --accept-loss to roll back without them")


def validate(conn: psycopg.Connection, item) -> str | None:
    """Validate a re-created foreign key: by its OID (a name in the record of a switch made
    before bluegreen kept OIDs). Returns the statement run, or None when there was nothing
    left to validate."""
    if isinstance(item, str):
        conn.execute(item)
        return item
    row = conn.execute("SELECT conrelid::regclass::text, conname, convalidated FROM "
                       "pg_constraint WHERE oid = %s", (item,)).fetchone()
    if row is None or row[2]:
        return None
    statement = f"ALTER TABLE {row[0]} VALIDATE CONSTRAINT {ident(row[1])}"
    conn.execute(statement)
    return statement


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
                      facts.size_bytes, facts.index_defs, facts.constraint_defs, facts.pk_name,
                      facts.self_fks)


def _not_valid_fks(conn, plans: list[_Plan]) -> set[int]:
    """OIDs of NOT VALID foreign keys on or into the tables of a switch."""
    oids = []
    for p in plans:
        for table in (p.m.live.ref, *p.lock):
            oid = conn.execute("SELECT to_regclass(%s)::oid", (table.text(conn),)).fetchone()[0]
            if oid:
                oids.append(oid)
    return {r[0] for r in conn.execute(
        "SELECT oid FROM pg_constraint WHERE contype = 'f' AND NOT convalidated AND "
        "(conrelid = ANY(%s) OR confrelid = ANY(%s))", (oids, oids))}


def _child_first(conn, tables: list[TableRef]) -> list[TableRef]:
    """The switched tables, each before the tables its foreign keys point at (the order an
    app's INSERT locks them); by name where no key orders them (or a cycle)."""
    by_oid = {_oid(conn, t): t for t in tables}
    parents: dict[int, set[int]] = {o: set() for o in by_oid}
    for child, parent in conn.execute(
            "SELECT conrelid::oid, confrelid::oid FROM pg_constraint WHERE contype = 'f' AND "
            "conrelid = ANY(%s) AND confrelid = ANY(%s) AND conrelid <> confrelid",
            (list(by_oid), list(by_oid))):
        parents[child].add(parent)
    ordered: list[int] = []
    remaining = sorted(by_oid, key=lambda o: by_oid[o].key)
    while remaining:
        # A table no remaining table points at goes first: it is nobody's parent.
        free = [o for o in remaining if not any(o in parents[c] for c in remaining if c != o)]
        pick = free[0] if free else remaining[0]
        ordered.append(pick)
        remaining.remove(pick)
    return [by_oid[o] for o in ordered]


def _parents(conn, tables: list[TableRef], exclude: set[str]) -> list[TableRef]:
    """The tables these tables' foreign keys point at (adding or dropping such a key locks
    them too), leaving out ``exclude`` (table keys)."""
    oids = [o for o in (conn.execute("SELECT to_regclass(%s)::oid", (t.text(conn),)
                                     ).fetchone()[0] for t in tables) if o]
    rows = conn.execute(
        "SELECT DISTINCT n.nspname, c.relname FROM pg_constraint con JOIN pg_class c ON "
        "c.oid = con.confrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
        "con.contype = 'f' AND con.conrelid = ANY(%s) AND con.confrelid <> con.conrelid "
        "ORDER BY 1, 2", (oids,)).fetchall()
    return [TableRef(s, n) for s, n in rows if TableRef(s, n).key not in exclude]


def _lock_statements(conn, plans: list[_Plan]) -> list[str]:
    """The switch's locks, in the order the app takes them: the tables whose foreign keys
    point at a switched table (an app INSERT locks the child, then the parent for its FK
    check), the switched tables children first, then what only bluegreen writes (the
    shadows or old tables, the queues); views last (a reader locks the view before its
    tables).

    Only the first lock is waited for, holding nothing else; the rest are taken NOWAIT. An
    app transaction may lock tables in any order (a parent then its child, a child then its
    parent), and a switch that waited for a lock while holding another could close a cycle
    whose deadlock check then kills the app's transaction; one that never waits while
    holding a lock cannot be part of any cycle. A NOWAIT that fails is retried for a moment,
    then the whole switch backs off and retries (see ``_lock_rest``)."""
    live = _child_first(conn, [p.m.live.ref for p in plans])
    live_keys = {t.key for t in live}
    referencing: dict[str, TableRef] = {}
    others: dict[str, TableRef] = {}
    for p in plans:
        for table, _, _ in read_dependents(conn, p.m.live.ref).incoming_fks:
            if table.key not in live_keys:
                referencing[table.key] = table
        for table in (*p.lock, p.m.queue):
            if table.key not in live_keys:
                others[table.key] = table
    for key in referencing:
        others.pop(key, None)
    ordered = ([referencing[k] for k in sorted(referencing)] + live
               + [others[k] for k in sorted(others)])
    views = dependent_views(conn, [_oid(conn, t) for t in live])
    # The tables the switched tables' foreign keys point at: cutover adds those keys to the
    # new table (SHARE ROW EXCLUSIVE on the parent), rollback drops them (ACCESS EXCLUSIVE).
    parents = _parents(conn, live, {t.key for t in ordered})
    rolling_back = any(p.outgoing_name == names_for(p.m.live.ref, p.record.id)[0].name
                       for p in plans)
    out = [render(conn, sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
        ordered[0].ident))]
    rest = ordered[1:] + views
    if rest:
        out.append(render(conn, sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(
            sql.SQL(", ").join(t.ident for t in rest))))
    if parents:
        mode = "ACCESS EXCLUSIVE" if rolling_back else "SHARE ROW EXCLUSIVE"
        out.append(render(conn, sql.SQL("LOCK TABLE {} IN {} MODE NOWAIT").format(
            sql.SQL(", ").join(t.ident for t in parents), sql.SQL(mode))))
    return out


def _lock_rest(conn, statement: str, patience: float = 0.2) -> None:
    """Take the locks after the first without waiting in the lock queue: NOWAIT, tried again
    every few milliseconds for ``patience`` seconds (an app transaction in flight on one of
    them usually ends by then), then LockNotAvailable and the switch retries later."""
    deadline = time.monotonic() + patience
    while True:
        try:
            with conn.transaction():  # a savepoint: a failed NOWAIT keeps the first lock
                conn.execute(statement)
            return
        except psycopg.errors.LockNotAvailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _drain_statements(conn, m: MigrationTables) -> list[str]:
    """The last replay as plain SQL (the real run replays in batches of the same
    statements): every queued key at once."""
    take = render(conn, chunks.take_batch(m.queue, m.key, sql.SQL("true"))).replace(
        "LIMIT %s", "LIMIT ALL")
    return [render(conn, chunks.create_keys_table(m.queue, m.key)), take,
            render(conn, chunks.delete_keys(m.shadow, m.queue, m.shadow_key)),
            render(conn, chunks.insert_keys(m.live.ref, m.shadow, m.queue, m.key, m.exprs))]


def _after_rollback_statements(conn, p: _Plan) -> list[str]:
    """Without reverse sync, or where writes could not be carried back (accepted), the new
    table holds rows the old one does not: queue them so replay brings the shadow back to
    the live table."""
    record = p.m.record
    shadow, _, queue = names_for(p.m.live.ref, record.id)
    if not record.detail.get("reverse_sync", True):
        return [render(conn, sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
            queue.ident, p.m.key.cols, p.m.shadow_key.cols, shadow.ident))]
    table = unsynced_table(record)
    move = render(conn, sql.SQL(
        "INSERT INTO {q} ({k}) SELECT {s} FROM {u}; DELETE FROM {u}").format(
        q=queue.ident, k=p.m.key.cols, s=p.m.shadow_key.cols, u=table.ident))
    return [render(conn, sql.SQL(
        "DO $bluegreen$ BEGIN IF to_regclass({t}) IS NOT NULL THEN EXECUTE {move}; END IF; "
        "END $bluegreen$").format(t=sql.Literal(table.text(conn)), move=sql.Literal(move)))]


def finish_statements(conn, record: MigrationRecord) -> list[str]:
    ref = TableRef.parse(record.table_name)
    _, old, queue = names_for(ref, record.id)
    return drop_reverse_ddl(conn, record, ref) + [
        render(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(old.ident)),
        *[render(conn, s) for s in capture.drop_ddl(ref, queue)[2:]],
        render(conn, sql.SQL("DROP TABLE IF EXISTS {}").format(unsynced_table(record).ident)),
    ]


def finish_locks(conn, records: list[MigrationRecord]) -> list[str]:
    """finish's locks, as the switch takes them: the first waited for, the rest NOWAIT. The
    live tables lose their reverse triggers (SHARE ROW EXCLUSIVE); the old tables, the
    tables their foreign keys point at, the queues and unsynced tables are dropped or
    changed (ACCESS EXCLUSIVE)."""
    live = [TableRef.parse(r.table_name) for r in records]
    dropped: list[TableRef] = []
    for record in records:
        _, old, queue = names_for(TableRef.parse(record.table_name), record.id)
        for table in (old, queue, unsynced_table(record)):
            if conn.execute("SELECT to_regclass(%s)", (table.text(conn),)).fetchone()[0]:
                dropped.append(table)
    olds = [t for t in dropped if t.schema != "bluegreen"]
    # A parent that is itself a live table here is taken again, in the stronger mode (its
    # foreign key from an old table is dropped with that table): NOWAIT, never waiting.
    dropped += _parents(conn, olds, {t.key for t in dropped})
    out = [render(conn, sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(live[0].ident))]
    if live[1:]:
        out.append(render(conn, sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE NOWAIT").format(
            sql.SQL(", ").join(t.ident for t in live[1:]))))
    if dropped:
        out.append(render(conn, sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(
            sql.SQL(", ").join(t.ident for t in dropped))))
    return out
