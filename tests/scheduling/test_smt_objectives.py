"""The objectives of optimal mode against brute force, and the grouping of identical pods.

- hypothesis: among the valid placements that place the most pods (per priority level), ``solve`` finds the fewest
  nodes in use (``pack``) and the lowest peak cpu/memory utilization (``balance``), both equal to a brute-force
  search; this also checks that the counting lower bounds used to steer the search are sound;
- hypothesis, wider clusters (``rich_clusters``): priorities with preemption (evictions, preemptionPolicy Never,
  PodDisruptionBudgets), topology spread over zone and hostname (DoNotSchedule and ScheduleAnyway, minDomains,
  node affinity and taint policies), required pod affinity and anti-affinity, taints (NoSchedule,
  PreferNoSchedule, NoExecute) and tolerations, node affinity and nodeSelector, host ports, scheduling gates,
  terminating bound pods, 1-3 nodes and up to 5 pods: the lexicographic objective (kept incumbents and placed
  pods per priority), nodes in use and peak equal brute force, every claim "proved optimal" is right, and a search
  cut short by its work limit says "not proved" with bounds that hold for the brute-force optimum;
- replicas (pods that differ only in name) share one group; the placement maps back to pods in queue order;
- an unplaced replica is explained by the constraint it shares with its placed copies;
- first fit (the packing heuristic) fills the fullest node first.
"""

from __future__ import annotations

import itertools

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec.scheduling.encoding import group_pods
from spec.scheduling.first_fit import first_fit
from spec.scheduling.smt import OptimalResult, placement_count, preemption_candidates, solve, valid_placement
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import (
    Affinity,
    DisruptionBudget,
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
from tests.scheduling.helpers import assignments, node, pod, selector, term
from tests.scheduling.test_smt_vs_brute_force import Cluster, over_clusters


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
    for assignment, count in assignments(pending, snapshot):
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


@over_clusters(max_nodes=3, max_pods=4, examples=40)
def test_pack_and_balance_equal_brute_force(case: Cluster) -> None:
    _check(*case)


@pytest.mark.slow
@over_clusters(max_nodes=4, max_pods=5, examples=100)
def test_pack_and_balance_equal_brute_force_up_to_4_nodes_5_pods(case: Cluster) -> None:
    _check(*case)


HOST = "kubernetes.io/hostname"
KEYS = (HOST, "zone")
GATE = "example.com/wait"


@st.composite
def rich_nodes(draw: st.DrawFn, max_nodes: int) -> tuple[NodeInfo, ...]:
    out = []
    for i in range(draw(st.integers(1, max_nodes))):
        name = f"n{i}"
        labels = {HOST: name}
        if i == 0 or draw(st.integers(0, 4)) > 0:
            labels["zone"] = draw(st.sampled_from(["z1", "z2"]))
        taints = draw(
            st.sampled_from(
                [(), (), (), (Taint("dedicated", "x", "NoSchedule"),), (Taint("dedicated", "x", "PreferNoSchedule"),),
                 (Taint("maintenance", "", "NoExecute"),)]
            )
        )
        alloc = Resources(
            draw(st.sampled_from([1000, 2000])), draw(st.sampled_from([2 << 30, 4 << 30])), 0,
            draw(st.sampled_from([2, 3, 110])),
        )
        out.append(NodeInfo(name, pairs(labels), taints, alloc, unschedulable=draw(st.integers(0, 9)) == 0))
    return tuple(out)


@st.composite
def rich_pods(draw: st.DrawFn, name: str, order: int, bound: bool = False) -> PodInfo:
    app = draw(st.sampled_from(["a", "b"]))

    def some_term() -> object:
        return term(draw(st.sampled_from(KEYS)), selector(app=draw(st.sampled_from(["a", "b"]))))

    kind = draw(st.integers(0, 7))
    anti = (some_term(),) if kind in (1, 3) else ()
    near = (some_term(),) if kind in (2, 3) else ()
    node_required = None
    if kind == 4:
        node_required = (NodeSelectorTerm((NodeSelectorRequirement("zone", "In", ("z1",)),)),)
    node_selector = pairs({"zone": "z2"}) if kind == 5 else ()
    spread = []
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        when = draw(st.sampled_from(["DoNotSchedule", "DoNotSchedule", "ScheduleAnyway"]))
        spread.append(
            TopologySpreadConstraint(
                draw(st.integers(1, 2)),
                draw(st.sampled_from(KEYS)),
                when,
                selector(app=draw(st.sampled_from([app, app, "a", "b"]))),
                draw(st.sampled_from([None, None, 2, 3])) if when == "DoNotSchedule" else None,
                draw(st.sampled_from(["Honor", "Honor", "Ignore"])),
                draw(st.sampled_from(["Ignore", "Ignore", "Honor"])),
            )
        )
    cpu, memory = draw(st.sampled_from([0, 500, 1000])), draw(st.sampled_from([0, 0, 1 << 30, 2 << 30]))
    tolerations = draw(
        st.sampled_from(
            [(), (), (Toleration("dedicated", "Exists"),), (Toleration("maintenance", "Exists", "", "NoExecute"),),
             (Toleration("", "Exists"),)]
        )
    )
    return PodInfo(
        name,
        "default",
        pairs({"app": app}),
        Resources(cpu, memory),
        cpu,
        memory,
        node_selector=node_selector,
        affinity=Affinity(node_required=node_required, pod_required=near, anti_required=anti),  # type: ignore[arg-type]
        tolerations=tolerations,
        host_ports=(HostPort(80),) if draw(st.integers(0, 4)) == 0 else (),
        topology_spread_constraints=tuple(spread),
        priority=draw(st.sampled_from([0, 10, 10, 100])),
        preemption_policy="Never" if draw(st.integers(0, 3)) == 0 else "PreemptLowerPriority",
        order=order,
        scheduling_gates=(GATE,) if not bound and draw(st.integers(0, 7)) == 0 else (),
        terminating=bound and draw(st.integers(0, 5)) == 0,
    )


Case = tuple[tuple[PodInfo, ...], Snapshot, tuple[DisruptionBudget, ...], bool]


@st.composite
def rich_clusters(draw: st.DrawFn, max_nodes: int, max_pods: int) -> Case:
    """(pending pods, snapshot with bound pods, PodDisruptionBudgets, preemption on)."""
    ns = draw(rich_nodes(max_nodes))
    names = [n.name for n in ns]
    # a third of the pods are replicas of the one before (one group in the encoding: counts above 1)
    pending: list[PodInfo] = []
    for i in range(draw(st.integers(1, max_pods))):
        if pending and draw(st.integers(0, 2)) == 0:
            pending.append(attrs.evolve(pending[-1], name=f"p{i}", order=i))
        else:
            pending.append(draw(rich_pods(f"p{i}", i)))
    bound: list[PodInfo] = []
    for i in range(draw(st.integers(0, 2))):
        if bound and draw(st.booleans()):
            bound.append(attrs.evolve(bound[-1], name=f"e{i}", order=10 + i))
        else:
            bound.append(draw(rich_pods(f"e{i}", 10 + i, bound=True)).on(draw(st.sampled_from(names))))
    budgets: tuple[DisruptionBudget, ...] = ()
    if draw(st.booleans()):
        budgets = (DisruptionBudget("pdb", "default", selector(app=draw(st.sampled_from(["a", "b"]))),
                                    draw(st.integers(0, 1))),)
    return tuple(pending), Snapshot(ns, tuple(bound)), budgets, draw(st.integers(0, 3)) > 0


Levels = tuple[tuple[tuple[int, bool], int], ...]
"""((priority, bound pods kept?), count) per level in the objective's order: at each priority from the highest,
the bound pods preemption may evict that are kept, then the pending pods placed."""


def _levels(
    assignment: dict[str, str], kept: set[str], pending: tuple[PodInfo, ...], incumbents: tuple[PodInfo, ...]
) -> Levels:
    out: list[tuple[tuple[int, bool], int]] = []
    for priority in sorted({p.priority for p in pending} | {p.priority for p in incumbents}, reverse=True):
        if any(p.priority == priority for p in incumbents):
            out.append(((priority, True), sum(1 for p in incumbents if p.priority == priority and p.key in kept)))
        if any(p.priority == priority for p in pending):
            out.append(((priority, False), sum(1 for p in pending if p.priority == priority and p.key in assignment)))
    return tuple(out)


def _values(levels: Levels) -> tuple[int, ...]:
    return tuple(count for _, count in levels)


def _evictions_allowed(
    assignment: dict[str, str], evicted: list[PodInfo], pending: tuple[PodInfo, ...],
    budgets: tuple[DisruptionBudget, ...],
) -> bool:
    """Each victim on a node where a pending pod of higher priority that may preempt is placed; budgets hold."""
    for victim in evicted:
        if not any(
            assignment.get(p.key) == victim.node_name and p.priority > victim.priority
            and p.preemption_policy != "Never"
            for p in pending
        ):
            return False
    return all(sum(1 for v in evicted if b.covers(v)) <= b.allowed for b in budgets)


def brute_force_rich(case: Case) -> tuple[Levels, int, int]:
    """The lexicographic optimum (levels), then the fewest nodes in use and the lowest peak among the placements
    that reach it, over every assignment of the schedulable pending pods and every choice of victims."""
    pending, snapshot, budgets, preemption = case
    schedulable = tuple(p for p in pending if not p.scheduling_gates and not p.terminating)
    incumbents = preemption_candidates(schedulable, snapshot) if preemption else ()
    best: tuple[Levels, int, int] | None = None
    for mask in itertools.product([False, True], repeat=len(incumbents)):
        evicted = [p for p, e in zip(incumbents, mask, strict=True) if e]
        gone = {p.key for p in evicted}
        kept = {p.key for p in incumbents} - gone
        base = Snapshot(snapshot.nodes, tuple(p for p in snapshot.pods if p.key not in gone), snapshot.namespaces)
        for assignment, _ in assignments(schedulable, base):
            levels = _levels(assignment, kept, pending, incumbents)
            if best is not None and _values(levels) < _values(best[0]):
                continue
            if not _evictions_allowed(assignment, evicted, schedulable, budgets):
                continue
            if valid_placement(assignment, schedulable, base):
                continue
            used, peak = _nodes_used(assignment, base), _peak(assignment, schedulable, base)
            if best is None or _values(levels) > _values(best[0]):
                best = (levels, used, peak)
            else:
                best = (levels, min(best[1], used), min(best[2], peak))
    assert best is not None  # placing nothing and evicting nothing is valid
    return best


def _outcome(case: Case, result: OptimalResult) -> tuple[Levels, int, int]:
    """The result's levels, nodes in use and peak, after checking it is a valid placement with valid evictions."""
    pending, snapshot, budgets, preemption = case
    schedulable = tuple(p for p in pending if not p.scheduling_gates and not p.terminating)
    incumbents = preemption_candidates(schedulable, snapshot) if preemption else ()
    assert set(result.victims) <= {p.key for p in incumbents}
    assert all(not p.scheduling_gates and not p.terminating for p in pending if p.key in result.assignment)
    evicted = [p for p in incumbents if p.key in result.victims]
    assignment = dict(result.assignment)
    assert _evictions_allowed(assignment, evicted, schedulable, budgets)
    base = Snapshot(snapshot.nodes, tuple(p for p in snapshot.pods if p.key not in result.victims), snapshot.namespaces)
    assert valid_placement(assignment, schedulable, base) == {}
    kept = {p.key for p in incumbents} - set(result.victims)
    used = _nodes_used(assignment, base)
    assert result.nodes_used == used
    return _levels(assignment, kept, pending, incumbents), used, _peak(assignment, schedulable, base)


def _gap_holds(gap_text: str, found: int, bound: int, optimum: tuple[Levels, int, int]) -> None:
    levels, used, peak = optimum
    if gap_text.startswith("nodes in use"):
        assert bound <= used
    elif gap_text.startswith("peak utilization"):
        assert bound <= peak
    else:
        running = gap_text.startswith("bound pods kept running")
        priority = int(gap_text.split(":")[0].rsplit(" ", 1)[1])
        assert found <= bound
        assert dict(levels)[priority, running] <= bound, (gap_text, levels)


WORK_LIMITS = (1, 3_000, 30_000, 300_000)
"""z3 work units for searches cut short: nothing, a query or two, and more."""


def check_rich(case: Case) -> None:
    pending, snapshot, budgets, preemption = case
    optimum = brute_force_rich(case)
    for objective in ("pack", "balance"):
        result = solve(pending, snapshot, objective, budgets=budgets, preemption=preemption)
        levels, used, peak = _outcome(case, result)
        assert result.proved_optimal and not result.gaps, [g.text() for g in result.gaps]
        assert levels == optimum[0]
        if objective == "pack":
            assert used == optimum[1]
        else:
            assert peak == optimum[2]
        for work in WORK_LIMITS:
            cut = solve(pending, snapshot, objective, budgets=budgets, preemption=preemption, work=work)
            levels, used, peak = _outcome(case, cut)
            if cut.proved_optimal:
                assert not cut.gaps and levels == optimum[0]
                assert (used if objective == "pack" else peak) == optimum[1 if objective == "pack" else 2]
            else:
                assert cut.gaps
                for gap in cut.gaps:
                    _gap_holds(gap.objective, gap.found, gap.bound, optimum)


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rich_clusters(max_nodes=3, max_pods=4))
def test_optimal_mode_equals_brute_force_with_preemption_spread_affinity_taints_gates(case: Case) -> None:
    """The default suite's fixed (derandomized) examples: the same ones on every run, in CI and elsewhere."""
    check_rich(case)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_clusters(max_nodes=3, max_pods=5))
def test_optimal_mode_equals_brute_force_wide(case: Case) -> None:
    """New examples on each run (failures kept in .hypothesis/): the bug hunt."""
    check_rich(case)


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
