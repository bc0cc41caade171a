"""Progress figures for a long step: the rate over a sliding window and the time left."""

from __future__ import annotations

import re
import time

_BUILT = re.compile(
    r"\b(?P<kind>(?:UNIQUE\s+)?INDEX|CONSTRAINT)(?:\s+IF\s+NOT\s+EXISTS)?\s+"
    r"(?P<name>\"(?:[^\"]|\"\")+\"|[\w$]+)", re.IGNORECASE)


class Meter:
    """Rows per second over the last ``window`` seconds, sampled at most every ``every``."""

    def __init__(self, window: float = 5.0, every: float = 0.5) -> None:
        self.window = window
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self.last = 0.0

    def due(self, force: bool = False) -> bool:
        """True when a report is due (and counts it as made)."""
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return False
        self.last = now
        return True

    def rate(self, rows: int) -> float:
        now = time.monotonic()
        self.samples.append((now, rows))
        self.samples = [(t, r) for t, r in self.samples if now - t <= self.window]
        t0, r0 = self.samples[0]
        return (rows - r0) / (now - t0) if now > t0 else 0.0

    @staticmethod
    def eta(rows: int, total: int | None, rate: float) -> float | None:
        return max(total - rows, 0) / rate if total and rate > 0 else None


def size_text(size_bytes: float) -> str:
    """A byte count for people: "740 kB", "12.3 MB", "4.21 GB" (decimal units, as df -H)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size_bytes >= scale:
            value = size_bytes / scale
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {unit}"
    return f"{int(size_bytes)} bytes"


def building_note(statement: str) -> str:
    """What a statement of the index phase builds, in a few words ("building: index x"):
    the statement itself is long (a guarded DO block) and is shown whole by --dry-run. One
    the pattern does not know is shown whole, on one line, never cut."""
    match = _BUILT.search(statement)
    if match is None:
        return "building: " + " ".join(statement.split())
    kind = "unique index" if match["kind"].upper().startswith("UNIQUE") else match["kind"]
    return f"building: {kind.lower()} {match['name']}"
