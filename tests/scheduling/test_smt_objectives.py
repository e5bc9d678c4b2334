"""The secondary objectives and the grouping of identical pods in optimal mode.

- hypothesis: among the valid placements that place the most pods (per priority level), ``solve`` finds the fewest
  nodes in use (``pack``) and the lowest peak cpu/memory utilization (``balance``), both equal to a brute-force
  search; this also checks that the counting lower bounds used to stop the search early are sound;
- replicas (pods that differ only in name) share one group; the placement maps back to pods in queue order;
- an unplaced replica is explained by the constraint it shares with its placed copies;
- first fit (the packing heuristic) fills the fullest node first.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings

from spec.scheduling.encoding import group_pods
from spec.scheduling.first_fit import first_fit
from spec.scheduling.smt import placement_count, solve, valid_placement
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import Affinity, PodInfo, Taint, Toleration, TopologySpreadConstraint
from tests.scheduling.helpers import node, pod, selector, term
from tests.scheduling.test_smt_vs_brute_force import clusters


def _peak(assignment: dict[str, str], pending: tuple[PodInfo, ...], snapshot: Snapshot) -> int:
    """Max over nodes of ceil(1000 * requested / allocatable), cpu and memory, bound pods included."""
    peak = 0
    for n in snapshot.nodes:
        cpu = snapshot.usage(n.name).requested.milli_cpu
        memory = snapshot.usage(n.name).requested.memory
        for p in pending:
            if assignment.get(p.key) == n.name:
                cpu += p.requests.milli_cpu
                memory += p.requests.memory
        for amount, alloc in ((cpu, n.allocatable.milli_cpu), (memory, n.allocatable.memory)):
            if alloc > 0:
                peak = max(peak, -(-1000 * amount // alloc))
    return peak


def _nodes_used(assignment: dict[str, str], snapshot: Snapshot) -> int:
    return len((set(assignment.values()) | {p.node_name for p in snapshot.pods}) & set(snapshot.node_map))


def brute_force(pending: tuple[PodInfo, ...], snapshot: Snapshot) -> tuple[tuple[int, ...], int, int]:
    """(most pods placed per level, fewest nodes used among those placements, lowest peak among them)."""
    best: tuple[int, ...] = ()
    nodes_used = peak = 0
    choices = [None, *(n.name for n in snapshot.nodes)]
    for combo in itertools.product(choices, repeat=len(pending)):
        assignment = {p.key: n for p, n in zip(pending, combo, strict=True) if n is not None}
        count = placement_count(assignment, pending)
        if count < best or valid_placement(assignment, pending, snapshot):
            continue
        used, top = _nodes_used(assignment, snapshot), _peak(assignment, pending, snapshot)
        if count > best:
            best, nodes_used, peak = count, used, top
        else:
            nodes_used, peak = min(nodes_used, used), min(peak, top)
    return best, nodes_used, peak


def _check(pending: tuple[PodInfo, ...], snapshot: Snapshot) -> None:
    count, nodes_used, peak = brute_force(pending, snapshot)
    packed = solve(pending, snapshot, "pack")
    assert packed.proved_optimal and not packed.gaps
    assert valid_placement(packed.assignment, pending, snapshot) == {}
    assert placement_count(packed.assignment, pending) == count
    assert packed.nodes_used == _nodes_used(dict(packed.assignment), snapshot) == nodes_used
    balanced = solve(pending, snapshot, "balance")
    assert balanced.proved_optimal and not balanced.gaps
    assert valid_placement(balanced.assignment, pending, snapshot) == {}
    assert placement_count(balanced.assignment, pending) == count
    assert _peak(dict(balanced.assignment), pending, snapshot) == peak


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_nodes=3, max_pods=4))
def test_pack_and_balance_equal_brute_force(case: tuple[tuple[PodInfo, ...], Snapshot]) -> None:
    _check(*case)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(max_nodes=4, max_pods=5))
def test_pack_and_balance_equal_brute_force_up_to_4_nodes_5_pods(case: tuple[tuple[PodInfo, ...], Snapshot]) -> None:
    _check(*case)


def _replicas(n: int, affinity: Affinity | None = None) -> tuple[PodInfo, ...]:
    return tuple(pod(f"web-{i}", {"app": "web"}, cpu=1000, order=i, affinity=affinity or Affinity()) for i in range(n))


def test_replicas_form_one_group_in_queue_order() -> None:
    other = pod("web-x", {"app": "web", "tier": "canary"}, cpu=1000, order=9)
    urgent = pod("web-u", {"app": "web"}, cpu=1000, order=10, priority=5)
    groups = group_pods((*reversed(_replicas(3)), other, urgent))
    assert [[p.name for p in g.pods] for g in groups] == [["web-u"], ["web-0", "web-1", "web-2"], ["web-x"]]
    assert groups[1].name == "default/web-* (3 pods)"


def test_unplaced_replica_explained_by_its_placed_copies() -> None:
    anti = Affinity(anti_required=(term("kubernetes.io/hostname", selector(app="web")),))
    pending = _replicas(3, affinity=anti)
    snapshot = Snapshot((node("a", {"kubernetes.io/hostname": "a"}), node("b", {"kubernetes.io/hostname": "b"})))
    result = solve(pending, snapshot)
    assert result.proved_optimal
    # the first pods in queue order are the placed ones
    assert sorted(result.assignment) == ["default/web-0", "default/web-1"]
    (explanation,) = result.unplaced
    assert explanation.pod == "default/web-2"
    assert explanation.conflicts == (
        "InterPodAffinity: required anti-affinity of default/web-* (3 pods) (kubernetes.io/hostname)",
        "default/web-0, default/web-1 placed",
    )


def test_unplaced_replica_conflicts_with_its_copy_through_resources() -> None:
    pending = _replicas(2)
    snapshot = Snapshot((node("a", {"kubernetes.io/hostname": "a"}, cpu=1500),))
    result = solve(pending, snapshot)
    (explanation,) = result.unplaced
    # one replica fills the node: the other conflicts with it through the node's cpu
    assert explanation.conflicts == ("NodeResourcesFit: cpu on node a", "default/web-0 placed")


def test_first_fit_fills_the_fullest_node_first() -> None:
    bound = pod("old", cpu=2000, on="b")
    snapshot = Snapshot((node("a", cpu=4000), node("b", cpu=4000)), (bound,))
    pending = (pod("p0", cpu=1000, order=0), pod("p1", cpu=1000, order=1), pod("p2", cpu=1500, order=2))
    # b is fuller: p0 and p1 fill it, p2 no longer fits there
    assert first_fit(pending, snapshot) == {"default/p0": "b", "default/p1": "b", "default/p2": "a"}


def test_no_time_left_is_reported_not_explained() -> None:
    pending = _replicas(2)
    snapshot = Snapshot((node("a", {"kubernetes.io/hostname": "a"}),))
    result = solve(pending, snapshot, timeout_ms=0)
    assert not result.proved_optimal and result.assignment == {}
    assert [g.text() for g in result.gaps] == ["pods placed at priority 0: 0 found, optimum at most 2"]
    assert {e.text() for e in result.unplaced} == {"no placement found within the time limit (not proved impossible)"}


def test_spread_shared_with_a_group_that_fits_nowhere() -> None:
    """Regression (found by hypothesis): two groups share one spread constraint, the first has no node; the
    shared linear form of the constraint must still be emitted."""
    spread = (TopologySpreadConstraint(1, "zone", "DoNotSchedule", selector(app="a")),)
    z1, z2 = {"zone": "z1"}, {"zone": "z2"}
    snapshot = Snapshot(
        (
            node("n0", z1, unschedulable=True),
            node("n1", z2, unschedulable=True),
            node("n2", z1, taints=(Taint("dedicated", "x"),)),
        ),
        (pod("e0", {"app": "a"}, on="n0"),),
    )
    pending = (
        pod("p1", {"app": "a"}, order=1, topology_spread_constraints=spread),
        pod(
            "p2",
            {"app": "a"},
            order=2,
            topology_spread_constraints=spread,
            tolerations=(Toleration("dedicated", "Exists"),),
        ),
    )
    result = solve(pending, snapshot)
    # z1 already holds e0 and z2 can hold nothing: p2 on n2 would make the skew 2
    assert result.assignment == {} and result.proved_optimal
    assert result.unplaced[1].conflicts == ("PodTopologySpread: default/p2 (zone, maxSkew 1)",)
