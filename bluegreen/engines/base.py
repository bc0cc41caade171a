"""What an engine provides to the engine-neutral algorithms in bluegreen.core.

An engine owns one database connection and everything that differs between databases: how
a statement runs under a lock timeout, how locks and errors look, where state lives, and
how the copier and the switch run there. Driver exceptions become bluegreen errors inside
the engine, never above it: ``LockBusy`` (retry later) or a ``BluegreenError`` that says what
failed (``StepFailed`` for apply's steps).

``Engine`` is the whole interface; each algorithm in core names the part it uses
(``FinishEngine``, ``VerifyEngine``, ``SwitchEngine``, ``ApplyEngine`` ...), so an engine is
written against small pieces. engines/postgresql and engines/sqlite fill it, with the same
file names for the same roles (see CONTRIBUTING.md, "Adding an engine").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # types only: importing this module loads no planner, Alembic or driver
    from bluegreen.core.apply.model import StepSpec
    from bluegreen.core.apply.store import ApplyStore
    from bluegreen.core.pace import ThrottleSettings
    from bluegreen.core.throttle import Throttle
    from bluegreen.planner.model import Batch, Target
    from bluegreen.planner.schema import Schema


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do; the algorithms and the CLI ask instead of checking names."""

    concurrent_index: bool  # CREATE INDEX CONCURRENTLY (no write lock for the build)
    transactional_ddl: bool
    lock_timeout: bool  # a per-statement lock wait limit (else a busy timeout)
    throttle_signals: bool  # replica lag, active sessions, a throttle query
    parallel_copy: bool = False  # several sessions may write the shadow at once
    table_identity: bool = False  # tables have an identity (an OID) beyond their name


class ApplyEngine(Protocol):
    """The operations bluegreen apply and revert need from a database."""

    dialect: str
    capabilities: Capabilities
    store: ApplyStore
    engine: Engine  # the same database's Engine, for the shadow steps (copy, cutover, ...)

    def close(self) -> None: ...

    def apply_lock(self) -> AbstractContextManager[None]:
        """One apply or revert per database at a time; ApplyBusy names the holder."""
        ...

    def load_schema(self) -> tuple[Schema, Target]: ...

    def render_step(self, step: StepSpec, lock_timeout_ms: int) -> str:
        """The step as a script a person can paste into the database's shell; what
        --dry-run prints and what the step's record keeps."""
        ...

    def transaction(self, lock_timeout_ms: int, settings: Sequence[str]
                    ) -> AbstractContextManager[None]:
        """One transaction whose lock waits end after ``lock_timeout_ms`` (LockBusy)."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def run_outside_transaction(self, sql: str, lock_timeout_ms: int,
                                settings: Sequence[str]) -> None: ...

    def already_done(self, sql: str) -> bool:
        """Whether a statement that runs outside a transaction already took effect (a valid
        index of that name, an enum value that exists): a run killed before its record."""
        ...

    def clear_failed_build(self, sql: str) -> str | None:
        """Before (re)running ``sql``: drop what a killed or failed run of it left (an
        INVALID index); returns what was dropped."""
        ...

    # batches in primary-key ranges
    def key_types(self, table: str, key: Sequence[str]) -> list[str]: ...

    def max_key(self, table: str, key: Sequence[str], types: Sequence[str]) -> list | None: ...

    def next_boundary(self, table: str, key: Sequence[str], types: Sequence[str],
                      lo: list | None, last: list, rows: int) -> list | None: ...

    def range_statement(self, batch: Batch, types: Sequence[str], has_lo: bool) -> str: ...

    def row_estimate(self, table: str) -> int | None: ...

    def throttle(self, settings: ThrottleSettings) -> Throttle:
        """The throttle of a batched step (not started): the engine's signals."""
        ...


    # the app's own Alembic version table
    def app_heads(self, version_table: str, version_schema: str | None) -> list[str]: ...

    def stamp(self, versions_dir: Path, revision: str, version_table: str,
              version_schema: str | None) -> None: ...


def alembic_heads(sqlalchemy_url: Any, version_table: str, version_schema: str | None
                  ) -> list[str]:
    """The revisions in an app's Alembic version table (none when it has no table)."""
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext

    engine = sa.create_engine(sqlalchemy_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "version_table": version_table, "version_table_schema": version_schema})
            return list(context.get_current_heads())
    finally:
        engine.dispose()


def alembic_stamp(sqlalchemy_url: Any, versions_dir: Path, revision: str, version_table: str,
                  version_schema: str | None) -> None:
    """Stamp an app's Alembic version table (creating it if needed), as `alembic stamp`."""
    import sqlalchemy as sa
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(versions_dir), version_locations=[str(versions_dir)])
    engine = sa.create_engine(sqlalchemy_url)
    try:
        with engine.begin() as connection:
            context = MigrationContext.configure(connection, opts={
                "version_table": version_table, "version_table_schema": version_schema})
            context.stamp(script, revision)
    finally:
        engine.dispose()



class Engine(Protocol):
    """One database, for bluegreen's commands (bluegreen.commands) and algorithms
    (bluegreen.core). Opened by bluegreen.engines.open(url); a context manager."""

    name: str
    url: str
    capabilities: Capabilities

    @property
    def store(self) -> Any:
        """The migration store (bluegreen.core.state.MigrationStore); refuses, saying to
        run `bluegreen init`, when the state tables are missing or old."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...

    def table_key(self, table: str) -> str:
        """How bluegreen's state names a table the user named."""
        ...

    def now(self) -> Any: ...

    def backlog(self, record: Any) -> int | None:
        """Keys waiting in a migration's capture queue (None: no queue)."""
        ...

    def notify_control(self) -> None:
        """Wake running copies so they read their state now (a pause, an abort)."""
        ...

    # copy: bluegreen.core.copy.run_copy over the engine's copy side
    def copy(self, table: str, alter_sql: str | None, options: Any,
             on_progress: Callable[[Any], None] | None,
             on_event: Callable[[str], None] | None) -> Any: ...

    def copy_dry_run(self, table: str, alter_sql: str) -> list[str]: ...

    # identity, verify, abort, finish (bluegreen.core.verify, bluegreen.core.finish)
    def check_identity(self, record: Any, action: str) -> None: ...

    def tables_replaced(self, record: Any) -> bool: ...

    def verifier(self, record: Any) -> AbstractContextManager[Any]: ...

    def abort_statements(self, record: Any) -> list[str]: ...

    def finish_statements(self, records: list[Any]) -> list[str]: ...

    def finish_locks(self, records: list[Any]) -> list[str]: ...

    def before_finish(self, records: list[Any]) -> None: ...

    def transaction(self, lock_timeout_ms: int, locks: Sequence[str] = ()
                    ) -> AbstractContextManager[None]: ...

    def execute(self, statement: str, action: str) -> None: ...

    def script(self, lock_timeout_ms: int, locks: Sequence[str],
               statements: Sequence[str]) -> list[str]: ...

    # the switch (bluegreen.core.switch) and apply (bluegreen.core.apply)
    def switcher(self, *, accept_loss: bool = False) -> Any: ...

    def apply(self) -> ApplyEngine:
        """apply's side of this engine; it takes this engine over (closing it closes both)."""
        ...

    def shadow_alter(self, table: str, alter_sql: str) -> str:
        """The --alter a shadow copy of ``table`` takes for ``alter_sql`` (ALTER TABLE
        statements): SQLite's copier takes the CREATE TABLE of the new shape."""
        ...

    # the planner's view of the schema
    def introspect(self) -> tuple[Schema, int | None]: ...
