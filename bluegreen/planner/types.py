"""Column types as the planner compares them: which type changes rewrite the table.

PostgreSQL rewrites a table on ALTER COLUMN TYPE unless the old type is binary-coercible
to the new one and the new type modifier admits every old value (varchar(n) -> varchar(m>n),
varchar -> text, numeric(p,s) -> numeric(q>p,s), timestamp(p) -> timestamp(q>p), cidr -> inet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALIASES = {
    "int": "int4", "integer": "int4", "int4": "int4", "serial": "int4", "serial4": "int4",
    "smallint": "int2", "int2": "int2", "smallserial": "int2", "serial2": "int2",
    "bigint": "int8", "int8": "int8", "bigserial": "int8", "serial8": "int8",
    "real": "float4", "float4": "float4", "float": "float8", "float8": "float8",
    "double precision": "float8", "double": "float8",
    "numeric": "numeric", "decimal": "numeric",
    "character varying": "varchar", "varchar": "varchar",
    "character": "bpchar", "char": "bpchar", "bpchar": "bpchar",
    "text": "text", "string": "text",
    "boolean": "bool", "bool": "bool",
    "timestamp": "timestamp", "timestamp without time zone": "timestamp", "datetime": "timestamp",
    "timestamptz": "timestamptz", "timestamp with time zone": "timestamptz",
    "time": "time", "time without time zone": "time",
    "timetz": "timetz", "time with time zone": "timetz",
}
_INT_WIDTH = {"int2": 2, "int4": 4, "int8": 8}
_SERIALS = {"serial", "serial4", "smallserial", "serial2", "bigserial", "serial8"}
# old -> new pairs that are binary-coercible with no type modifier to check.
_NO_REWRITE = {
    ("varchar", "text"), ("text", "varchar"), ("cidr", "inet"), ("xml", "text"),
}
_TEXTUAL = {"varchar", "text", "bpchar", "citext"}
_UTC = {"UTC", "ETC/UTC", "Z", "ZULU", "UCT", "GMT", "ETC/GMT", "UNIVERSAL", "00:00", "0"}


@dataclass(frozen=True)
class SqlType:
    name: str
    mods: tuple[int, ...] = ()
    array: bool = False
    serial: bool = False

    def __str__(self) -> str:
        out = self.name + (f"({', '.join(map(str, self.mods))})" if self.mods else "")
        return out + ("[]" if self.array else "")

    @property
    def is_integer(self) -> bool:
        return self.name in _INT_WIDTH and not self.array


def parse_type(spec: str) -> SqlType:
    """Normalise a type as written in SQL or compiled by SQLAlchemy (``VARCHAR(50)``)."""
    text = spec.strip().lower()
    array = False
    while text.endswith("[]"):
        array, text = True, text[:-2].strip()
    if text.endswith(" array"):
        array, text = True, text[: -len(" array")].strip()
    text = text.replace('"', "")
    if text.startswith("pg_catalog."):
        text = text[len("pg_catalog."):]
    mods: tuple[int, ...] = ()
    match = re.search(r"\(([^)]*)\)", text)
    if match:
        parts = [p.strip() for p in match.group(1).split(",") if p.strip()]
        if all(p.lstrip("-").isdigit() for p in parts):
            mods = tuple(int(p) for p in parts)
        text = (text[: match.start()] + text[match.end():]).strip()
    text = re.sub(r"\s+", " ", text)
    name = _ALIASES.get(text, text)
    if name.startswith("timestamp") or name.startswith("time"):
        name = _ALIASES.get(name, name)
    return SqlType(name=name, mods=mods, array=array, serial=text in _SERIALS)


@dataclass(frozen=True)
class TypeChange:
    """How an ALTER COLUMN ... TYPE relates the old type to the new one.

    kind: ``same``, ``widen`` (every old value fits, blue reads the same kind of value),
    ``narrow`` (some old values may not fit), ``incompatible`` (blue would read another kind
    of value) or ``unknown`` (the old type is not known).
    """

    kind: str
    rewrite: bool
    reason: str
    # No rewrite, but the column's indexes change operator class and are rebuilt (each a
    # full read of the table under ACCESS EXCLUSIVE).
    rebuilds_indexes: bool = False


def _mods_admit(old: SqlType, new: SqlType) -> bool | None:
    """True when the new modifier admits every old value; None when it does not apply."""
    if not new.mods:
        return True
    if not old.mods:
        return False
    if old.name == "numeric":
        old_p, old_s = (old.mods + (0,))[:2]
        new_p, new_s = (new.mods + (0,))[:2]
        return new_s == old_s and new_p >= old_p
    return new.mods[0] >= old.mods[0]


def classify_type_change(
    old: SqlType | None, new: SqlType, *, using: bool, pg_version: int,
    time_zone: str | None = None,
) -> TypeChange:
    """How PostgreSQL changes a column from ``old`` to ``new``. ``time_zone`` is the
    session's TimeZone when the migration sets it (timestamp <-> timestamptz)."""
    if old is None:
        return TypeChange("unknown", True, "the column's current type is not known")
    if old.array != new.array:
        return TypeChange("incompatible", True, f"{old} and {new} differ in array-ness")
    if old.name == new.name:
        if old.mods == new.mods:
            return TypeChange("same", using, "the type does not change")
        if old.name == "numeric" and old.mods and new.mods:
            old_p, old_s = (old.mods + (0,))[:2]
            new_p, new_s = (new.mods + (0,))[:2]
            if new_s == old_s:
                wider = new_p >= old_p
                return TypeChange("widen" if wider else "narrow", using or not wider,
                                  f"{old} -> {new} changes precision at the same scale")
            wider = new_s >= old_s and new_p - new_s >= old_p - old_s
            return TypeChange("widen" if wider else "narrow", True,
                              f"{old} -> {new} changes the scale, so every value is rewritten")
        admits = _mods_admit(old, new)
        if admits:
            return TypeChange("widen", using, f"{old} -> {new} admits every current value")
        return TypeChange("narrow", True, f"{old} -> {new} must check and rewrite every row")
    if old.is_integer and new.is_integer:
        wider = _INT_WIDTH[new.name] > _INT_WIDTH[old.name]
        return TypeChange("widen" if wider else "narrow", True,
                          f"{old} -> {new} changes the storage width, so the table is rewritten")
    if (old.name, new.name) in _NO_REWRITE or (
        old.name in {"varchar", "text"} and new.name in {"varchar", "text"}
    ):
        if new.name == "varchar" and new.mods:
            return TypeChange("narrow", True, f"{old} -> {new} must check every row's length")
        return TypeChange("widen", using, f"{old} -> {new} is binary-coercible: no rewrite")
    if old.name == "bpchar" and new.name in _TEXTUAL:
        return TypeChange("widen", True, f"{old} -> {new} trims padding in every row")
    if old.is_integer and new.name == "numeric":
        return TypeChange("widen", True, f"{old} -> {new} holds every value but rewrites")
    if (old.name, new.name) in {("float4", "float8"), ("json", "jsonb")}:
        return TypeChange("widen", True, f"{old} -> {new} holds every value but rewrites")
    if {old.name, new.name} <= _TEXTUAL | {"citext"} and "citext" in (old.name, new.name) \
            and not new.mods and old.name != "bpchar":
        # Binary-coercible both ways (the citext extension's casts), but the indexes switch
        # to citext's (or text's) operator class and are rebuilt.
        return TypeChange("widen", using, f"{old} -> {new} keeps every value; its indexes "
                                          "are rebuilt with the new operator class",
                          rebuilds_indexes=True)
    if {old.name, new.name} == {"timestamp", "timestamptz"} and pg_version >= 12 and \
            time_zone is not None and time_zone.upper() in _UTC:
        return TypeChange(
            "incompatible", using,
            f"{old} -> {new} changes what the app reads (naive vs aware datetimes); with the "
            "session time zone UTC the table is not rewritten, but its indexes are rebuilt",
            rebuilds_indexes=True)
    if {old.name, new.name} == {"timestamp", "timestamptz"}:
        # PostgreSQL 12+ skips the rewrite only when the session time zone is UTC, and the
        # migration does not set it: judge it as a rewrite.
        return TypeChange(
            "incompatible", True,
            f"{old} -> {new} changes what the app reads (naive vs aware datetimes) and "
            "rewrites the table unless the session time zone is UTC (PostgreSQL 12+)",
        )
    return TypeChange("incompatible", True,
                      f"{old} -> {new} changes the kind of value the app reads and writes")
