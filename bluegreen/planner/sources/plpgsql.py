"""What a DO block runs: the SQL statements of its PL/pgSQL body, found with pglast's
PL/pgSQL parser (PostgreSQL's own), and the EXECUTE strings that are constants.

A DO block runs inside the caller's transaction, so its statements take their locks one after
the other like top-level statements; a loop that COMMITs each round (allowed in a DO block
outside a transaction block) runs in batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import pglast
from pglast import ast

_LOOPS = ("PLpgSQL_stmt_fors", "PLpgSQL_stmt_fori", "PLpgSQL_stmt_loop", "PLpgSQL_stmt_while",
          "PLpgSQL_stmt_foreach_a", "PLpgSQL_stmt_dynfors", "PLpgSQL_stmt_forc")


@dataclass(frozen=True)
class Inner:
    """One statement a DO block runs. ``sql`` is None when its text is built at run time
    (``what`` then says how)."""

    sql: str | None
    in_loop: bool = False
    loop_commits: bool = False
    what: str = ""


class NotPlpgsql(Exception):
    """The body is not PL/pgSQL that pglast can parse."""


def do_body(node: ast.DoStmt) -> tuple[str, str]:
    """(language, body) of a DO statement."""
    language, body = "plpgsql", ""
    for arg in node.args or ():
        if arg.defname == "language":
            language = arg.arg.sval.lower()
        elif arg.defname == "as":
            body = arg.arg.sval
    return language, body


def inner_statements(body: str) -> list[Inner]:
    """The statements a PL/pgSQL DO body runs, in order (both branches of an IF)."""
    wrapped = ("CREATE FUNCTION bluegreen_do() RETURNS void LANGUAGE plpgsql AS "
               "$bluegreen_do$" + body + "$bluegreen_do$")
    try:
        tree = pglast.parse_plpgsql(wrapped)
    except Exception as error:  # pglast raises its own ParseError and plain errors
        raise NotPlpgsql(str(error)) from None
    found: list[Inner] = []
    _walk(tree, found, in_loop=False, loop_commits=False)
    return found


def _commits(node) -> bool:
    if isinstance(node, dict):
        return "PLpgSQL_stmt_commit" in node or any(_commits(v) for v in node.values())
    if isinstance(node, list):
        return any(_commits(v) for v in node)
    return False


def _walk(node, found: list[Inner], in_loop: bool, loop_commits: bool) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found, in_loop, loop_commits)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "PLpgSQL_stmt_execsql":
            found.append(Inner(value["sqlstmt"]["PLpgSQL_expr"]["query"], in_loop, loop_commits))
        elif key == "PLpgSQL_stmt_dynexecute":
            expression = value["query"]["PLpgSQL_expr"]["query"]
            text = constant_string(expression)
            found.append(Inner(text, in_loop, loop_commits,
                               what="" if text is not None else f"EXECUTE {expression}"))
        elif key in _LOOPS:
            # The loop's own query (FOR x IN SELECT ...) only reads.
            body = {k: v for k, v in value.items() if k not in ("query", "cond")}
            _walk(body, found, True, loop_commits or _commits(body))
        elif key in ("datums", "PLpgSQL_expr"):
            continue  # declarations and conditions: expressions, not statements
        else:
            _walk(value, found, in_loop, loop_commits)


def constant_string(expression: str) -> str | None:
    """The value of a string constant (or constants joined with ||), else None."""
    try:
        select = pglast.parse_sql(f"SELECT {expression}")[0].stmt
    except Exception:
        return None
    if len(select.targetList or ()) != 1:
        return None
    return _string_value(select.targetList[0].val)


def _string_value(node) -> str | None:
    if isinstance(node, ast.A_Const) and isinstance(node.val, ast.String):
        return node.val.sval
    if isinstance(node, ast.A_Expr) and node.name and node.name[-1].sval == "||":
        left, right = _string_value(node.lexpr), _string_value(node.rexpr)
        return left + right if left is not None and right is not None else None
    return None
