"""Judging SQL expressions: is a default volatile (evaluated per row, forcing a rewrite)?"""

from __future__ import annotations

import pglast
from pglast import ast
from pglast.visitors import Visitor

# Built-in functions that are immutable or stable: PostgreSQL evaluates them once for
# ADD COLUMN ... DEFAULT, so from version 11 the default is stored in the catalog.
NON_VOLATILE_FUNCTIONS = frozenset({
    "now", "transaction_timestamp", "statement_timestamp", "current_timestamp",
    "current_date", "localtimestamp", "lower", "upper", "coalesce", "nullif", "greatest",
    "least", "abs", "round", "trim", "btrim", "concat", "length", "to_timestamp", "to_date",
    "make_date", "make_interval", "jsonb_build_object", "json_build_object",
    "jsonb_build_array", "json_build_array", "array", "timezone", "date_trunc", "md5",
    "replace", "substring", "left", "right", "current_setting", "current_user", "session_user",
    "current_schema", "inet_client_addr", "to_char", "to_jsonb", "to_json",
})
VOLATILE_FUNCTIONS = frozenset({
    "random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
    "uuid_generate_v4", "clock_timestamp", "timeofday", "nextval", "setval", "currval",
    "txid_current", "pg_current_xact_id", "random_normal", "uuidv4", "uuidv7",
})


class _FunctionNames(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def visit_FuncCall(self, ancestors, node: ast.FuncCall) -> None:  # noqa: N802
        self.names.append(node.funcname[-1].sval.lower())


def function_names(expression: str) -> list[str] | None:
    """The functions an expression calls, or None when it does not parse."""
    try:
        tree = pglast.parse_sql(f"SELECT {expression}")
    except pglast.parser.ParseError:
        return None
    visitor = _FunctionNames()
    visitor(tree)
    return visitor.names


def volatile_functions(expression: str) -> list[str]:
    """Functions in ``expression`` that are, or may be, volatile.

    Unknown functions count as volatile: PostgreSQL's default for a CREATE FUNCTION is VOLATILE.
    An expression that does not parse is judged volatile too.
    """
    names = function_names(expression)
    if names is None:
        return [expression]
    return [n for n in names if n not in NON_VOLATILE_FUNCTIONS]
