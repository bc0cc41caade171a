"""Names of a migration's objects: the id in each, within the engine's length limit."""

from __future__ import annotations

from bluegreen.core import naming


def test_names_carry_the_id_and_the_role():
    n = naming.names("orders", 12)
    assert (n.shadow, n.old, n.queue) == ("_bg12_orders_new", "_bg12_orders_old", "queue_12")
    assert naming.names("orders", 3, queue_prefix="bluegreen_queue_").queue == \
        "bluegreen_queue_3"


def test_long_names_are_cut_to_the_limit_keeping_id_and_suffix():
    n = naming.names("x" * 80, 123456, limit=63)
    assert len(n.shadow) == len(n.old) == 63
    assert n.shadow.startswith("_bg123456_") and n.shadow.endswith("_new")
    assert n.shadow != n.old
    assert len(naming.built(7, "i" * 80, 63)) == 63


def test_ours_recognizes_every_table_a_migration_makes_and_nothing_else():
    for name in ("_bg1_orders_new", "_bg22_orders_old", naming.trial("orders"),
                 naming.names("t", naming.DRY_RUN_ID).shadow):
        assert naming.is_ours(name), name
    for name in ("orders", "_bgx_orders", "bg1_orders", "_background"):
        assert not naming.is_ours(name), name


def test_parked_prefixes_differ_for_shadow_and_old():
    assert naming.prefix(5) == "_bg5_" and naming.prefix(5, old=True) == "_bg5o_"
    assert naming.capture_trigger("queue_5") == "bluegreen_capture_queue_5"
