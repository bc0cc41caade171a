"""The planner on its real corpus (tests/planner/corpus): migrations public projects wrote,
with verdicts judged from the PostgreSQL documentation.

The gate must stop every unsafe statement it stopped when these thresholds were set, with
no more false alarms; bench/planner_recall.py prints the same figures next to squawk's.
"""

from __future__ import annotations

from tests.planner.corpus import bluegreen_verdicts, is_unsafe
from tests.planner.corpus.snippets import SNIPPETS

MIN_UNSAFE_RECALL = 0.95
MAX_FALSE_ALARMS = 1  # DROP FUNCTION of a helper made with CREATE OR REPLACE (may pre-exist)
MIN_PHASE_RIGHT = 0.95
MIN_BLOCKING_RIGHT = 0.95


def test_corpus_is_large_and_cited():
    assert sum(len(s.expect) for s in SNIPPETS) >= 150
    for snippet in SNIPPETS:
        repo, _, path = snippet.source.partition(":")
        assert "/" in repo and path, snippet.source


def test_recall_and_false_alarms_on_the_real_corpus():
    missed, false_alarms, phase_wrong, blocking_wrong = [], [], [], []
    unsafe = total = 0
    for snippet in SNIPPETS:
        verdicts = bluegreen_verdicts(snippet)
        assert len(verdicts) == len(snippet.expect), snippet.source
        for i, ((phase, blocking), (got_phase, got_blocking, stopped)) in enumerate(
                zip(snippet.verdicts, verdicts, strict=True)):
            where = f"{snippet.source} #{i + 1}"
            total += 1
            if is_unsafe(phase, blocking):
                unsafe += 1
                if not stopped:
                    missed.append(where)
            elif stopped:
                false_alarms.append(where)
            if got_phase != phase:
                phase_wrong.append(f"{where}: {got_phase}, expected {phase}")
            if got_blocking != blocking:
                blocking_wrong.append(f"{where}: blocking={got_blocking}")
    assert 1 - len(missed) / unsafe >= MIN_UNSAFE_RECALL, missed
    assert len(false_alarms) <= MAX_FALSE_ALARMS, false_alarms
    assert 1 - len(phase_wrong) / total >= MIN_PHASE_RIGHT, phase_wrong
    assert 1 - len(blocking_wrong) / total >= MIN_BLOCKING_RIGHT, blocking_wrong
