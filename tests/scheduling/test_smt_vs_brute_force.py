"""z3 against brute force and the Python filters on random small clusters (hypothesis).

- z3's optimum (pods placed per priority level) equals a brute-force search over every assignment, where an
  assignment is valid when spec.scheduling.smt.valid_placement (the Python filters) accepts it;
- every z3 placement passes every Python filter;
- z3's optimum places at least as many pods as kube-scheduler mode whenever kube-scheduler's own final placement is
  valid in that sense (see docs/scheduling.md: required affinity and spread are checked at scheduling time only).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec.scheduling.kube_scheduler import schedule
from spec.scheduling.smt import placement_count, solve, valid_placement
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import (
    Affinity,
    HostPort,
    NodeInfo,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodInfo,
    Resources,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    pairs,
)
from tests.scheduling.helpers import assignments, selector, term

KEYS = ("kubernetes.io/hostname", "zone")


@st.composite
def nodes(draw: st.DrawFn, max_nodes: int) -> tuple[NodeInfo, ...]:
    out = []
    for i in range(draw(st.integers(1, max_nodes))):
        name = f"n{i}"
        labels = {"kubernetes.io/hostname": name}
        if draw(st.booleans()) or i < 2:
            labels["zone"] = draw(st.sampled_from(["z1", "z2"]))
        if draw(st.booleans()):
            labels["disk"] = draw(st.sampled_from(["ssd", "hdd"]))
        taints = (
            (Taint("dedicated", "x", draw(st.sampled_from(["NoSchedule", "PreferNoSchedule"]))),)
            if draw(st.integers(0, 3)) == 0
            else ()
        )
        alloc = Resources(draw(st.sampled_from([1000, 2000, 3000])), 4 << 30, 0, draw(st.sampled_from([2, 3, 110])))
        out.append(NodeInfo(name, pairs(labels), taints, alloc, unschedulable=draw(st.integers(0, 7)) == 0))
    return tuple(out)


@st.composite
def pods(draw: st.DrawFn, name: str, node_names: tuple[str, ...]) -> PodInfo:
    app = draw(st.sampled_from(["a", "b"]))
    aff = Affinity()
    choice = draw(st.integers(0, 5))
    other = draw(st.sampled_from(["a", "b"]))
    key = draw(st.sampled_from(KEYS))
    if choice == 1:
        aff = Affinity(anti_required=(term(key, selector(app=other)),))
    elif choice == 2:
        aff = Affinity(pod_required=(term(key, selector(app=other)),))
    elif choice == 3:
        aff = Affinity(node_required=(NodeSelectorTerm((NodeSelectorRequirement("disk", "In", ("ssd",)),)),))
    spread = ()
    if draw(st.integers(0, 2)) == 0:
        spread = (
            TopologySpreadConstraint(
                draw(st.integers(1, 2)), key, "DoNotSchedule", selector(app=app), draw(st.sampled_from([None, None, 3]))
            ),
        )
    cpu = draw(st.sampled_from([0, 500, 1000, 1500]))
    return PodInfo(
        name,
        "default",
        pairs({"app": app}),
        Resources(cpu, 0),
        cpu,
        0,
        affinity=aff,
        tolerations=(Toleration("dedicated", "Exists"),) if draw(st.booleans()) else (),
        host_ports=(HostPort(80),) if draw(st.integers(0, 4)) == 0 else (),
        topology_spread_constraints=spread,
        priority=draw(st.sampled_from([0, 0, 10])),
        order=int(name[1:]),
    )


@st.composite
def clusters(draw: st.DrawFn, max_nodes: int, max_pods: int) -> tuple[tuple[PodInfo, ...], Snapshot]:
    ns = draw(nodes(max_nodes))
    names = tuple(n.name for n in ns)
    pending = tuple(draw(pods(f"p{i}", names)) for i in range(draw(st.integers(1, max_pods))))
    bound = []
    for i in range(draw(st.integers(0, 2))):
        b = draw(pods(f"e{i}", names))
        bound.append(b.on(draw(st.sampled_from(names))))
    snapshot = Snapshot(ns, tuple(bound))
    # bound pods are taken as given, like the cluster's history; only pending pods are placed
    return pending, snapshot


Cluster = tuple[tuple[PodInfo, ...], Snapshot]
ClusterTest = Callable[[Cluster], None]


def over_clusters(max_nodes: int, max_pods: int, examples: int) -> Callable[[ClusterTest], Callable[[], None]]:
    """A hypothesis test over ``examples`` random ``clusters`` of up to ``max_nodes`` nodes and ``max_pods`` pending
    pods (no deadline: z3 and the brute force take their time)."""

    def wrap(test: ClusterTest) -> Callable[[], None]:
        sized = given(clusters(max_nodes=max_nodes, max_pods=max_pods))(test)
        return settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])(sized)

    return wrap


def brute_force(pending: tuple[PodInfo, ...], snapshot: Snapshot) -> tuple[int, ...]:
    best: tuple[int, ...] = ()
    for assignment, count in assignments(pending, snapshot):
        if count > best and not valid_placement(assignment, pending, snapshot):
            best = count
    return best


def _check(pending: tuple[PodInfo, ...], snapshot: Snapshot) -> None:
    result = solve(pending, snapshot)
    assert result.proved_optimal
    assert valid_placement(result.assignment, pending, snapshot) == {}
    z3_count = placement_count(result.assignment, pending)
    assert z3_count == brute_force(pending, snapshot)
    kube = schedule(pending, snapshot)
    kube_assignment = {p.pod: p.node for p in kube.placements if p.node is not None and not p.preempted}
    if all(not p.preempted for p in kube.placements) and not valid_placement(kube_assignment, pending, snapshot):
        assert z3_count >= placement_count(kube_assignment, pending)


@over_clusters(max_nodes=3, max_pods=4, examples=60)
def test_z3_equals_brute_force_small(case: Cluster) -> None:
    _check(*case)


@pytest.mark.slow
@over_clusters(max_nodes=4, max_pods=6, examples=150)
def test_z3_equals_brute_force_up_to_4_nodes_6_pods(case: Cluster) -> None:
    _check(*case)
