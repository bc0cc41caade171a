"""SQL text as apply needs it: split into statements (the user's own text, not a
re-rendering), and what each statement needs to run (a transaction or not)."""

from __future__ import annotations

from dataclasses import dataclass

import pglast
from pglast import ast
from pglast.stream import RawStream

# apply sets lock_timeout itself; a migration's own value would undo that protection.
OWNED_SETTINGS = frozenset({"lock_timeout"})


def sqlite_text(text: str) -> str:
    """SQLite SQL for PostgreSQL's parser: SQLite's own keywords that change nothing the
    planner judges are blanked (same length, so lines and offsets stay)."""
    import re

    return re.sub(r"\bAUTOINCREMENT\b|\bWITHOUT\s+ROWID\b|\bSTRICT\b",
                  lambda m: " " * len(m.group(0)), text, flags=re.IGNORECASE)


class Unparsable(ValueError):
    """The text is not SQL PostgreSQL's parser accepts (e.g. a :placeholder to fill in)."""


@dataclass
class Piece:
    text: str
    node: ast.Node


def split(sql: str) -> list[Piece]:
    """The statements of ``sql``, each as written (comments and the semicolon left out)."""
    try:
        parsed = pglast.parse_sql(sql)
    except pglast.parser.ParseError as error:
        raise Unparsable(str(error.args[0] if error.args else error)) from None
    encoded = sql.encode()
    out = []
    for raw in parsed:
        start = raw.stmt_location
        end = start + (raw.stmt_len or (len(encoded) - start))
        text = _strip_comments(encoded[start:end].decode()).strip().rstrip(";").strip()
        out.append(Piece(text, raw.stmt))
    return out


def _strip_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.strip().startswith("--"))


def is_transaction_control(node: ast.Node) -> bool:
    return isinstance(node, ast.TransactionStmt)


def outside_transaction(node: ast.Node) -> bool:
    """Statements PostgreSQL runs only outside a transaction block (or that must commit on
    their own to be of use)."""
    if isinstance(node, ast.IndexStmt | ast.DropStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.ReindexStmt):
        return any(getattr(p, "defname", None) == "concurrently" for p in node.params or ())
    if isinstance(node, ast.AlterEnumStmt):
        # ADD VALUE: not in a transaction before PostgreSQL 12, and unusable until it commits.
        return node.newVal is not None and node.oldVal is None
    if isinstance(node, ast.AlterTableStmt):
        return any(getattr(cmd, "subtype", None) is not None
                   and cmd.subtype.name == "AT_DetachPartition"
                   and getattr(cmd.def_, "concurrent", False) for cmd in node.cmds)
    return isinstance(node, ast.VacuumStmt | ast.CreatedbStmt | ast.DropdbStmt)


def waits_harmlessly(node: ast.Node) -> bool:
    """Index builds and drops with CONCURRENTLY: they hold SHARE UPDATE EXCLUSIVE, which no
    read or write of the app conflicts with, and then wait for older transactions. Their
    waits block nobody, so they wait as long as it takes instead of timing out (a timed-out
    build would only leave an INVALID index to drop and build again)."""
    if isinstance(node, ast.IndexStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.DropStmt):
        return bool(node.concurrent)
    if isinstance(node, ast.ReindexStmt):
        return outside_transaction(node)
    return False


def setting(node: ast.Node) -> tuple[str, str] | None:
    """(name, statement) of a SET the migration makes; None for other statements."""
    if not isinstance(node, ast.VariableSetStmt) or not node.name:
        return None
    return node.name.lower(), RawStream()(node)


def local(statement: str) -> str:
    """``SET x = y`` as ``SET LOCAL x = y`` (for the inside of one step's transaction)."""
    (piece,) = split(statement)
    assert isinstance(piece.node, ast.VariableSetStmt)
    piece.node.is_local = True
    return RawStream()(piece.node)
