"""Migration states and their transitions (the store enforces them in SQL; these are the
rules it is given)."""

from __future__ import annotations

from bluegreen.core.state import (
    ACTIVE_STATES,
    RESUMABLE,
    TRANSITIONS,
    MigrationState,
    allowed,
)

S = MigrationState


def test_the_lifecycle_graph():
    graph = {action: (set(starts), end) for action, (starts, end) in TRANSITIONS.items()}
    assert graph == {
        "sync": ({"copying"}, "synced"),
        "cut over": ({"synced", "rolled_back"}, "cut_over"),
        "roll back": ({"cut_over"}, "rolled_back"),
        "finish": ({"cut_over"}, "finished"),
        "abort": (set(ACTIVE_STATES), "aborted"),
    }


def test_terminal_states_are_left_by_no_action():
    terminal = {S.FINISHED.value, S.ABORTED.value}
    assert not terminal & set(ACTIVE_STATES)
    for starts, _ in TRANSITIONS.values():
        assert not terminal & set(starts)


def test_every_state_is_reachable_from_copying():
    reached, frontier = {"copying"}, ["copying"]
    while frontier:
        state = frontier.pop()
        for starts, end in TRANSITIONS.values():
            if state in starts and end not in reached:
                reached.add(end)
                frontier.append(end)
    assert reached == {s.value for s in S}


def test_resumable_states_are_active_and_cutover_comes_after_sync():
    assert set(RESUMABLE) <= set(ACTIVE_STATES)
    assert "copying" not in allowed("cut over")
    assert str(S.CUT_OVER) == "cut_over"


def test_the_state_head_constant_is_alembics_head():
    """Commands check the state tables against STATE_HEAD without loading Alembic; a new
    state revision must move the constant with it."""
    from bluegreen.core.state import STATE_HEAD
    from bluegreen.core.state_schema import head_revision

    assert STATE_HEAD == head_revision()
