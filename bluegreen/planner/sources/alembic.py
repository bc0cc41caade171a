"""Alembic revisions -> Statements, by running ``upgrade()`` against a recording context.

Nothing touches a database: every ``op.*`` call is captured as Alembic's own operation
object, rendered to SQL by Alembic and converted to the planner's (``alembic_ops``);
``op.execute`` strings are parsed as SQL; ``op.get_bind().execute`` is recorded the
same way; ``autocommit_block()`` marks the ops inside it as outside a transaction.

What a revision prints while it is imported or recorded is captured and dropped, never
written to stdout: ``plan --format json`` owns stdout.
"""

from __future__ import annotations

import importlib.util
import io
import linecache
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from alembic.operations import Operations
from alembic.operations import ops as aops
from alembic.operations.base import BatchOperations
from alembic.operations.ops import MigrateOperation
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql

from bluegreen.errors import BluegreenError, MigrationLoadError
from bluegreen.planner import ops
from bluegreen.planner.sources.alembic_ops import convert
from bluegreen.planner.sources.sql import parse_sql, suppressions

_PG = postgresql.dialect()


def _offline_context(buffer: io.StringIO) -> MigrationContext:
    return MigrationContext.configure(
        dialect_name="postgresql", opts={"as_sql": True, "output_buffer": buffer})


def render_sql(op: MigrateOperation) -> str:
    """The SQL Alembic would emit for ``op`` on PostgreSQL (offline mode)."""
    buffer = io.StringIO()
    try:
        Operations(_offline_context(buffer)).invoke(op)
    except Exception:  # an op Alembic cannot render offline: describe it instead
        light = convert(op)
        return f"-- {ops.operation_name(light)} {ops.table_of(light) or ''}".strip()
    return buffer.getvalue().strip().rstrip(";").strip()


def display_path(path: Path) -> str:
    """The path relative to the working directory when it is below it (for file:line)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def env_sets_lock_timeout(revision: Path) -> bool:
    """True when the Alembic ``env.py`` beside the versions directory mentions lock_timeout
    (``SET lock_timeout``, ``-c lock_timeout=...`` in connect args): every revision then
    runs with one."""
    for env in (revision.parent.parent / "env.py", revision.parent / "env.py"):
        try:
            if "lock_timeout" in env.read_text(errors="replace"):
                return True
        except OSError:
            continue
    return False


class _Recorder:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.display = display_path(path)
        self.statements: list[ops.Statement] = []
        self.in_transaction = True
        self.lock_timeout_set = env_sets_lock_timeout(path)

    def caller_line(self) -> int:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.path:
                return frame.f_lineno
            frame = frame.f_back
        return 0

    def suppressed_at(self, line: int) -> set[str]:
        """``# bluegreen: ignore RULE`` on the call's line or on comment lines just above."""
        found = suppressions(linecache.getline(self.path, line))
        above = line - 1
        while above > 0 and linecache.getline(self.path, above).strip().startswith("#"):
            found |= suppressions(linecache.getline(self.path, above))
            above -= 1
        return found

    def record(self, op: MigrateOperation) -> None:
        line = self.caller_line()
        suppressed = self.suppressed_at(line)
        if isinstance(op, aops.ExecuteSQLOp):
            self.record_sql(op.sqltext, line, suppressed)
            return
        sql = render_sql(op)  # first: rendering attaches the op's columns to a Table
        self.statements.append(ops.Statement(
            file=self.display, line=line, sql=sql, ops=[convert(op)],
            suppressed=suppressed, in_transaction=self.in_transaction,
            in_transaction_before=self.in_transaction,
            lock_timeout_set=self.lock_timeout_set))

    def record_sql(self, sqltext: Any, line: int, suppressed: set[str]) -> None:
        if isinstance(sqltext, str):
            text = sqltext
        elif hasattr(sqltext, "text"):
            text = sqltext.text
        else:
            text = str(sqltext.compile(dialect=_PG, compile_kwargs={"literal_binds": True}))
        for statement in parse_sql(text, self.display, first_line=line,
                                   in_transaction=self.in_transaction):
            statement.line = line
            statement.suppressed |= suppressed
            statement.lock_timeout_set = self.lock_timeout_set
            self.statements.append(statement)


class _RecordingBind:
    """What ``op.get_bind()`` returns: records ``execute`` instead of running it."""

    dialect = _PG

    def __init__(self, recorder: _Recorder) -> None:
        self._recorder = recorder

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> None:
        line = self._recorder.caller_line()
        self._recorder.record_sql(statement, line, self._recorder.suppressed_at(line))

    exec_driver_sql = execute


class _RecordingBatch(BatchOperations):
    def __init__(self, context: MigrationContext, recorder: _Recorder, table: str,
                 schema: str | None) -> None:
        super().__init__(context, impl=SimpleNamespace(table_name=table, schema=schema))
        self._recorder = recorder

    def invoke(self, operation: MigrateOperation) -> Any:
        self._recorder.record(operation)


class _RecordingOperations(Operations):
    def __init__(self, context: MigrationContext, recorder: _Recorder) -> None:
        super().__init__(context)
        self._recorder = recorder

    def invoke(self, operation: MigrateOperation) -> Any:
        self._recorder.record(operation)

    @contextmanager
    def batch_alter_table(  # type: ignore[override]  # records, takes any batch option
            self, table_name: str, schema: str | None = None,
            **kwargs: Any) -> Iterator[BatchOperations]:
        yield _RecordingBatch(self.migration_context, self._recorder, table_name, schema)

    def get_bind(self) -> Any:
        return _RecordingBind(self._recorder)


# alembic.op's proxy functions are registered per class; make the recorder reuse those of
# Operations so that `from alembic import op` in a revision reaches it.
_RecordingOperations._setups[_RecordingOperations] = Operations._setups[Operations]


def record_upgrade(module: ModuleType, path: Path) -> list[ops.Statement]:
    """Run ``module.upgrade()`` against a recording context and return what it did."""
    recorder = _Recorder(path)
    context = _offline_context(io.StringIO())

    @contextmanager
    def autocommit_block() -> Iterator[None]:
        before = recorder.in_transaction
        recorder.in_transaction = False
        try:
            yield
        finally:
            recorder.in_transaction = before

    context.autocommit_block = autocommit_block
    operations = _RecordingOperations(context, recorder)
    operations._install_proxy()
    try:
        upgrade = getattr(module, "upgrade", None)
        if upgrade is None:
            raise MigrationLoadError(str(path), "it has no upgrade() function")
        # A print() in upgrade() must not land in the plan's own output (JSON on stdout).
        with redirect_stdout(io.StringIO()):
            upgrade()
    except BluegreenError:
        raise
    except Exception as error:  # the revision's own code failed
        raise MigrationLoadError(
            f"{path}:{_error_line(error, str(path))}",
            f"upgrade() raised {type(error).__name__}: {error}") from None
    finally:
        operations._remove_proxy()
    return recorder.statements


def _error_line(error: BaseException, path: str) -> int:
    tb = error.__traceback__
    line = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def load_revision(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bluegreen_rev_{uuid.uuid4().hex}", path)
    if spec is None or spec.loader is None:
        raise MigrationLoadError(str(path), "not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        with redirect_stdout(io.StringIO()):  # module-level print()s, as in upgrade()
            spec.loader.exec_module(module)
    except SyntaxError as error:
        raise MigrationLoadError(f"{path}:{error.lineno}", f"syntax error: {error.msg}") from None
    except Exception as error:
        raise MigrationLoadError(
            f"{path}:{_error_line(error, str(path))}",
            f"importing it raised {type(error).__name__}: {error}") from None
    return module


def is_revision_file(path: Path) -> bool:
    text = path.read_text(errors="replace")
    return "def upgrade" in text and ("revision" in text)


def revision_files(directory: Path, from_rev: str | None, to_rev: str | None) -> list[Path]:
    """The revision files of an Alembic versions directory, oldest first.

    ``from_rev`` is exclusive and ``to_rev`` inclusive, as in ``alembic upgrade from:to``.
    """
    try:
        scripts = ScriptDirectory(str(directory), version_locations=[str(directory)])
        upper = to_rev or "heads"
        lower = from_rev or "base"
        revisions = list(scripts.iterate_revisions(upper, lower))
    except BluegreenError:
        raise
    except Exception as error:
        raise MigrationLoadError(str(directory), str(error).splitlines()[0]) from None
    ordered = [r for r in reversed(revisions) if r.revision != from_rev]
    return [Path(r.path) for r in ordered]

