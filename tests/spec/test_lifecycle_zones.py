"""Zones in the node lifecycle controller (issue 12): ComputeZoneState, master disruption mode, the condition
taints, and NoEvictionWhenAllZonesDisrupted with its variant no-zone-disruption (kubernetes#28832)."""

from __future__ import annotations

import attrs
import immutables
import pytest

from checker import check
from spec import actions as A
from spec.apiserver import Session, store
from spec.controllers import nodelifecycle as nl
from spec.model import ClusterModel
from spec.properties import PROPERTIES
from spec.scenario import builtin, with_overrides
from spec.scheduling.types import NodeInfo, Taint
from spec.state import Ghost, Meta, Node, NodeLifecycle, Object

UNREACHABLE_NS = Taint(nl.TAINT_NODE_UNREACHABLE, "", "NoSchedule")
UNREACHABLE_NE = Taint(nl.TAINT_NODE_UNREACHABLE, "", "NoExecute")
NOT_READY_NS = Taint(nl.TAINT_NODE_NOT_READY, "", "NoSchedule")
NOT_READY_NE = Taint(nl.TAINT_NODE_NOT_READY, "", "NoExecute")


def node(name: str, ready: str = "True", zone: str = "", taints: tuple[Taint, ...] = ()) -> Node:
    labels = ((nl.ZONE_LABEL, zone),) if zone else ()
    return Node(Meta(name, namespace="", labels=labels), NodeInfo(name, labels=labels, taints=taints), ready)


def objects(*nodes: Node) -> immutables.Map[str, Object]:
    return store(list(nodes)).objects


@pytest.mark.parametrize(("readies", "state"), [
    (["True"], nl.NORMAL),
    (["Unknown"], nl.FULL),
    (["Unknown", "False"], nl.FULL),
    (["True", "Unknown", "Unknown"], nl.NORMAL),            # only 2 not ready: never partial
    (["True", "Unknown", "Unknown", "Unknown"], nl.PARTIAL),  # 3 of 4 >= 0.55
    (["True", "True", "Unknown", "Unknown", "Unknown"], nl.PARTIAL),  # 3 of 5 = 0.6
    (["True", "True", "True", "Unknown", "Unknown", "Unknown"], nl.NORMAL),  # 3 of 6 = 0.5 < 0.55
])
def test_compute_zone_state_follows_upstream(readies: list[str], state: str) -> None:
    assert nl.compute_zone_state(readies) == state


def test_zone_key_is_region_and_zone() -> None:
    assert nl.zone_of(node("a")) == ""
    assert nl.zone_of(node("a", zone="z1")) == ":\x00:z1"
    assert nl.zone_name(nl.zone_of(node("a", zone="z1"))) == "z1"


def test_excluded_nodes_do_not_count() -> None:
    excluded = attrs.evolve(node("b", "True"), info=NodeInfo("b", labels=((nl.EXCLUDE_DISRUPTION_LABEL, ""),)))
    assert nl.all_zones_fully_disrupted([node("a", "Unknown"), excluded])
    assert not nl.all_zones_fully_disrupted([node("a", "Unknown"), node("b", "True")])
    assert not nl.all_zones_fully_disrupted([])


def test_condition_taints() -> None:
    # Unknown: unreachable NoSchedule, and NoExecute when the zone's tainter takes nodes
    assert nl.desired_taints(node("a", "Unknown"), True, False) == (UNREACHABLE_NS, UNREACHABLE_NE)
    assert nl.desired_taints(node("a", "Unknown"), False, False) == (UNREACHABLE_NS,)
    # False: not-ready; a NoExecute taint of the other key is swapped at once, whatever the limiter
    swapped = nl.desired_taints(node("a", "False", taints=(UNREACHABLE_NS, UNREACHABLE_NE)), False, False)
    assert set(swapped) == {NOT_READY_NS, NOT_READY_NE}
    # master disruption mode: no NoExecute taint
    assert nl.desired_taints(node("a", "Unknown", taints=(UNREACHABLE_NS, UNREACHABLE_NE)), True, True) == (
        UNREACHABLE_NS,)
    # Ready again: every condition taint goes (markNodeAsReachable, doNoScheduleTaintingPass); others stay
    other = Taint("example.com/dedicated", "x", "NoExecute")
    assert nl.desired_taints(node("a", "True", taints=(other, UNREACHABLE_NS, UNREACHABLE_NE)), True, False) == (
        other,)


def test_a_pass_marks_and_taints_and_is_then_done() -> None:
    lc = NodeLifecycle(grace=(("a", 0),))
    objs = objects(node("a"), node("b"))
    p = nl.plan(lc, objs)
    assert p is not None and p.marked == ("a",)
    session = Session(store([node("a"), node("b")]), Ghost())
    new = nl.monitor(lc, session)
    a = session.etcd.objects["nodes/a"]
    assert isinstance(a, Node) and a.ready == "Unknown" and set(a.info.taints) == {UNREACHABLE_NS, UNREACHABLE_NE}
    assert new == NodeLifecycle() and nl.plan(new, session.etcd.objects) is None


def test_the_last_ready_node_lost_enters_master_disruption_mode() -> None:
    lc = NodeLifecycle(grace=(("b", 0),))
    session = Session(store([node("a", "Unknown", "z1", (UNREACHABLE_NS, UNREACHABLE_NE)), node("b", zone="z2")]),
                      Ghost())
    new = nl.monitor(lc, session)
    assert new.disrupted
    assert all(t.effect != "NoExecute" for n in session.etcd.of("nodes") for t in n.info.taints)  # type: ignore[union-attr]
    assert any("Entering master disruption mode" in e for e in session.events)
    # without zones (the variant) both are tainted
    session = Session(store([node("a", "Unknown", "z1", (UNREACHABLE_NS, UNREACHABLE_NE)), node("b", zone="z2")]),
                      Ghost())
    assert not nl.monitor(lc, session, zone_aware=False).disrupted
    assert all(UNREACHABLE_NE in n.info.taints for n in session.etcd.of("nodes"))  # type: ignore[union-attr]


def test_a_single_fully_disrupted_zone_is_evicted_at_the_normal_rate() -> None:
    lc = NodeLifecycle(grace=(("a", 0),))
    session = Session(store([node("a", zone="z1"), node("b", zone="z2")]), Ghost())
    new = nl.monitor(lc, session)
    assert not new.disrupted
    assert UNREACHABLE_NE in session.etcd.objects["nodes/a"].info.taints  # type: ignore[union-attr]


def test_a_small_partially_disrupted_zone_stops_tainting() -> None:
    """ReducedQPSFunc: at most 50 nodes, a PartialDisruption zone's limiter is 0, so its nodes get only the
    NoSchedule taint."""
    nodes = [node(n, "Unknown" if n != "d" else "True") for n in "abc"] + [node("d")]
    p = nl.plan(NodeLifecycle(), objects(*nodes))
    assert p is not None
    assert all(UNREACHABLE_NE not in n.info.taints and UNREACHABLE_NS in n.info.taints for n in p.nodes)


def test_exiting_master_disruption_restarts_the_grace_timers() -> None:
    lc = NodeLifecycle(grace=(("c", 5_000),), disrupted=True)
    p = nl.plan(lc, objects(node("a", "Unknown"), node("b", "True"), node("c", "True")))
    assert p is not None and not p.lifecycle.disrupted
    assert p.lifecycle.grace == (("c", nl.NODE_MONITOR_GRACE_PERIOD_MS),)


def test_an_eviction_while_every_zone_is_disrupted_is_recorded() -> None:
    from spec.scheduling.types import PodInfo
    from spec.state import Container, Pod

    pod = Pod(Meta("web"), (Container("web", "nginx"),), PodInfo("web", node_name="a"))
    session = Session(store([node("a", "Unknown"), pod]), Ghost())
    nl.evict(NodeLifecycle(evictions=(("pods/default/web", 0),)), session, "pods/default/web")
    assert session.ghost.disrupted_evictions == {"pods/default/web"}
    session = Session(store([node("a", "Unknown"), node("b"), pod]), Ghost())
    nl.evict(NodeLifecycle(evictions=(("pods/default/web", 0),)), session, "pods/default/web")
    assert not session.ghost.disrupted_evictions


def test_all_nodes_lost_holds_and_the_variant_is_refuted() -> None:
    s = builtin("all-nodes-lost")
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    assert result.status_of("NoEvictionWhenAllZonesDisrupted") == "holds"
    v = with_overrides(s, ("no-zone-disruption",))
    model = ClusterModel(v.config, v.reductions)
    bad = check(model)
    assert bad.violation is not None and bad.violation.property == "NoEvictionWhenAllZonesDisrupted"
    text = [model.describe(st.action) for st in bad.violation.trace[1:]]
    assert sum(1 for st in bad.violation.trace if isinstance(st.action, A.Fault)) == 2
    assert "TaintManagerEviction" in text[-1]
    assert not any("master disruption" in t for t in text)


def test_the_property_is_registered() -> None:
    assert PROPERTIES["NoEvictionWhenAllZonesDisrupted"].kind == "always"
    assert "28832" in PROPERTIES["NoEvictionWhenAllZonesDisrupted"].upstream


def test_the_variant_needs_every_node_able_to_stop() -> None:
    from checker.errors import InputError

    with pytest.raises(InputError, match="no-zone-disruption needs every node able to stop reporting"):
        with_overrides(builtin("node-failure"), ("no-zone-disruption",))
