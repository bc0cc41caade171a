"""bluegreen plan and squawk on the planner's real corpus (tests/planner/corpus): unsafe
recall and false alarms, side by side.

    .venv/bin/python bench/planner_recall.py            # this tree's bluegreen, and squawk
    .venv/bin/python bench/planner_recall.py --misses   # also list what each tool got wrong

A statement is *unsafe* when its expected verdict is not a non-blocking expand. bluegreen
flags a statement when the CI gate stops it: ``plan`` exits 1 for it (breaking, blocking,
or an error finding such as "cannot judge") or ``plan --phase expand`` does (contract);
"phase right" and "blocking right" compare its phase and blocking with the expected
verdict. Squawk flags a statement when it
reports a violation of a safety rule on one of the statement's lines (its style rules, such
as prefer-bigint or require-lock-timeout, are left out: they fire on safe statements by
design). Squawk runs with --pg-version 15, and --assume-in-transaction where the project's
tool runs the file in one transaction. To measure another bluegreen (e.g. main) with the
same corpus, export its package and point at it:

    git archive main bluegreen | tar -x -C /tmp/bg-main
    .venv/bin/python bench/planner_recall.py --bluegreen /tmp/bg-main
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # appended: a bluegreen put first on PYTHONPATH wins

import pglast  # noqa: E402

from tests.planner.corpus import Snippet, bluegreen_verdicts, is_unsafe  # noqa: E402
from tests.planner.corpus.snippets import SNIPPETS  # noqa: E402

# Squawk rules about style or robustness, not about blocking or breaking the running app.
SQUAWK_STYLE = {
    "require-lock-timeout", "require-statement-timeout", "require-timeout-settings",
    "prefer-robust-stmts", "prefer-bigint-over-int", "prefer-bigint-over-smallint",
    "prefer-identity", "prefer-text-field", "prefer-timestamptz", "ban-char-field",
    "require-table-schema",
}


@dataclass
class Score:
    name: str
    unsafe: int = 0
    caught: int = 0
    safe: int = 0
    false_alarms: int = 0
    phase_right: int = 0
    blocking_right: int = 0
    judged: int = 0
    errors: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, expected: tuple[str, bool], flagged: bool, where: str,
            verdict: tuple[str, bool] | None = None) -> None:
        if is_unsafe(*expected):
            self.unsafe += 1
            self.caught += flagged
            if not flagged:
                self.misses.append(f"missed      {where}")
        else:
            self.safe += 1
            self.false_alarms += flagged
            if flagged:
                self.misses.append(f"false alarm {where}")
        if verdict is not None:
            self.judged += 1
            self.phase_right += verdict[0] == expected[0]
            self.blocking_right += verdict[1] == expected[1]


def statement_lines(sql: str) -> list[tuple[int, int, str]]:
    """(first line, last line, text) of each statement, 1-based."""
    out = []
    for raw in pglast.parse_sql(sql):  # character offsets
        start = raw.stmt_location
        text = sql[start: start + (raw.stmt_len or len(sql) - start)]
        body = len(text) - len(text.lstrip())
        first = sql[: start].count("\n") + text[:body].count("\n") + 1
        out.append((first, first + text.strip().count("\n"), text.strip()))
    return out


def short(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if not ln.strip().startswith("--")]
    return " ".join(lines)[:90]


def squawk_lines(snippet: Snippet, squawk: str) -> set[int] | None:
    """Lines (1-based) where squawk reports a safety violation; None when it failed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "migration.sql"
        path.write_text(snippet.sql)
        args = [squawk, "--reporter", "json", "--pg-version", "15", str(path)]
        if snippet.transaction:
            args.insert(1, "--assume-in-transaction")
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    try:
        violations = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        return None
    lines = set()
    for v in violations:
        if v.get("rule_name") in SQUAWK_STYLE:
            continue
        if v.get("rule_name") == "syntax-error":
            return None
        for line in range(v["line"], (v.get("line_end") or v["line"]) + 1):
            lines.add(line + 1)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", action="store_true", help="list each tool's misses")
    parser.add_argument("--squawk", default=shutil.which("squawk") or str(
        Path(sys.executable).parent / "squawk"), help="the squawk binary")
    parser.add_argument("--bluegreen", help="a directory holding another bluegreen package")
    args = parser.parse_args()
    if args.bluegreen:
        # The editable install's import hook runs before sys.path: take it out.
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        sys.path.insert(0, str(Path(args.bluegreen).resolve()))
    import bluegreen

    print(f"bluegreen from {Path(bluegreen.__file__).parent}")
    have_squawk = Path(args.squawk).exists()
    bg, sq = Score("bluegreen"), Score("squawk 2.x")
    statements = 0
    for snippet in SNIPPETS:
        spans = statement_lines(snippet.sql)
        assert len(spans) == len(snippet.expect), snippet.source
        statements += len(spans)
        try:
            verdicts = bluegreen_verdicts(snippet)
        except Exception as error:  # a crash on real input is a miss, and is counted
            bg.errors += 1
            verdicts = None
            print(f"bluegreen failed on {snippet.source}: {type(error).__name__}: "
                  f"{str(error)[:120]}", file=sys.stderr)
        if verdicts is not None and len(verdicts) != len(spans):
            bg.errors += 1
            verdicts = None
        lines = squawk_lines(snippet, args.squawk) if have_squawk else None
        if have_squawk and lines is None:
            sq.errors += 1
        pairs = zip(spans, snippet.verdicts, strict=True)
        for i, ((first, last, text), expected) in enumerate(pairs):
            where = f"{snippet.source}:{first}  {short(text)}"
            verdict = verdicts[i] if verdicts else None
            bg.add(expected, bool(verdict and verdict[2]), where,
                   verdict[:2] if verdict else None)
            if have_squawk:
                flagged = bool(lines) and any(first <= ln <= last for ln in lines)
                sq.add(expected, flagged, where)
    print(f"corpus: {len(SNIPPETS)} migration files from public projects, {statements} "
          f"statements ({bg.unsafe} unsafe, {bg.safe} safe)\n")
    print(f"{'tool':<12} {'unsafe recall':>18} {'false alarms':>16} {'phase right':>13} "
          f"{'blocking right':>15} {'failed files':>13}")
    for score in (bg, sq) if have_squawk else (bg,):
        judged = score.judged or 1
        phase = f"{score.phase_right / judged:.0%}" if score.judged else "-"
        blocking = f"{score.blocking_right / judged:.0%}" if score.judged else "-"
        recall = score.caught / score.unsafe
        print(f"{score.name:<12} {score.caught:>4}/{score.unsafe} ({recall:6.1%})"
              f" {score.false_alarms:>4}/{score.safe} ({score.false_alarms / score.safe:5.1%})"
              f" {phase:>13} {blocking:>15} {score.errors:>13}")
    if not have_squawk:
        print("\nsquawk not found: pip install -e '.[dev]' (squawk-cli) to compare")
    if args.misses:
        for score in (bg, sq) if have_squawk else (bg,):
            print(f"\n{score.name}:")
            for line in score.misses:
                print("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
