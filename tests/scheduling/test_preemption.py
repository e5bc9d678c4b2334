"""Preemption in both modes: kube-scheduler's DefaultPreemption (victims, PodDisruptionBudgets as upstream's
preference) and optimal mode (victims named, budgets as hard limits), ``--no-preemption``; and the scheduling cycle
as a pure function."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from spec.scheduling.cli import schedule
from spec.scheduling.kube_scheduler import schedule as kube_schedule
from spec.scheduling.kube_scheduler import scheduling_cycle, split_by_budget
from spec.scheduling.smt import solve
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import DisruptionBudget, LabelSelector, pairs
from tests.scheduling.helpers import node, pod

FULL = """apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
status: {allocatable: {cpu: "2", memory: 4Gi, pods: "110"}}
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: high}
value: 1000
---
apiVersion: v1
kind: Pod
metadata: {name: low, labels: {app: batch}}
spec:
  nodeName: n1
  containers: [{name: c, image: x, resources: {requests: {cpu: "2"}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: urgent}
spec:
  priorityClassName: high
  containers: [{name: c, image: x, resources: {requests: {cpu: "1"}}}]
"""
BUDGET = """---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: batch}
spec:
  maxUnavailable: 0
  selector: {matchLabels: {app: batch}}
"""


def _run(tmp_path: Path, text: str, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    f = tmp_path / "in.yaml"
    f.write_text(text)
    result = CliRunner().invoke(schedule, ["-f", str(f), "--json", *args])
    return result.exit_code, json.loads(result.stdout)


def test_both_modes_preempt_the_lower_priority_pod(tmp_path: Path) -> None:
    for mode in ("kube-scheduler", "optimal"):
        code, report = _run(tmp_path, FULL, "--mode", mode)
        pods = {p["pod"]: p for p in report["pods"]}
        assert pods["default/urgent"]["node"] == "n1", mode
        assert pods["default/urgent"]["preempted"] == ["default/low"], mode
        assert pods["default/low"]["reason"] == "preempted by default/urgent on node n1", mode
        assert code == 0


def test_no_preemption_leaves_the_pod_pending(tmp_path: Path) -> None:
    code, report = _run(tmp_path, FULL, "--no-preemption")
    urgent = next(p for p in report["pods"] if p["pod"] == "default/urgent")
    assert urgent["node"] is None and urgent["reason"] == "0/1 nodes are available: 1 Insufficient cpu."
    code, report = _run(tmp_path, FULL, "--mode", "optimal", "--no-preemption")
    urgent = next(p for p in report["pods"] if p["pod"] == "default/urgent")
    assert urgent["node"] is None and "Insufficient cpu" in urgent["reason"]
    assert report["totals"]["preempted"] == 0 and code == 1


def test_optimal_mode_respects_disruption_budgets(tmp_path: Path) -> None:
    code, report = _run(tmp_path, FULL + BUDGET, "--mode", "optimal")
    urgent = next(p for p in report["pods"] if p["pod"] == "default/urgent")
    assert urgent["node"] is None and code == 1
    assert "PodDisruptionBudget default/batch (allows 0 disruptions)" in urgent["reason"]
    # kube-scheduler mode: upstream's budgets are a preference when choosing victims, not a limit
    code, report = _run(tmp_path, FULL + BUDGET)
    assert next(p for p in report["pods"] if p["pod"] == "default/urgent")["node"] == "n1"


def test_preemption_never_and_no_needless_victims() -> None:
    nodes = (node("a", cpu=2000), node("b", cpu=2000))
    low = pod("low", {"app": "batch"}, cpu=2000, on="a")
    snap = Snapshot.build(nodes, (low,))
    fits_elsewhere = pod("hi", cpu=1000, priority=10)
    result = solve((fits_elsewhere,), snap, preemption=True)
    assert result.assignment == {"default/hi": "b"} and not result.victims
    never = pod("never", cpu=2000, priority=10, preemption_policy="Never")
    busy = Snapshot.build(nodes, (low, pod("low2", cpu=2000, on="b")))
    assert not solve((never,), busy, preemption=True).victims
    assert scheduling_cycle(never, busy).preemption is None


def test_kube_scheduler_prefers_the_node_without_budget_violations() -> None:
    """Upstream pickOneNodeForPreemption: fewest PDB violations first, before victim priorities."""
    nodes = (node("a", cpu=2000), node("b", cpu=2000))
    guarded = pod("guarded", {"app": "db"}, cpu=2000, on="a", priority=0)
    free = pod("free", {"app": "batch"}, cpu=2000, on="b", priority=5)
    budget = DisruptionBudget("db", "default", LabelSelector(pairs({"app": "db"})), 0)
    incoming = pod("hi", cpu=2000, priority=10)
    snap = Snapshot.build(nodes, (guarded, free))
    decision = scheduling_cycle(incoming, snap, (budget,))
    assert decision.nominated_node == "b" and [v.name for v in decision.victims] == ["free"]
    # without the budget, the lower-priority victim on a is preferred
    assert scheduling_cycle(incoming, snap).nominated_node == "a"
    violating, fine = split_by_budget([guarded, free], [budget])
    assert [p.name for p in violating] == ["guarded"] and [p.name for p in fine] == ["free"]


def test_optimal_preemption_across_nodes_is_checked_by_the_filters() -> None:
    """Several preemptors and victims; every placed pod passes the filters once the victims are gone."""
    nodes = tuple(node(f"n{i}", {"kubernetes.io/hostname": f"n{i}"}, cpu=4000) for i in range(3))
    bound = tuple(pod(f"low{i}", cpu=3000, on=f"n{i}", priority=i) for i in range(3))
    pending = (pod("hi1", cpu=2000, priority=5, order=1), pod("hi2", cpu=2000, priority=5, order=2))
    snap = Snapshot.build(nodes, bound)
    result = solve(pending, snap, preemption=True)
    assert set(result.assignment) == {"default/hi1", "default/hi2"}
    # the optimum evicts one pod, the lowest-priority one, and puts both preemptors on its node
    assert result.victims == {"default/low0": "n0"}
    assert set(result.assignment.values()) == {"n0"}
    outcome = kube_schedule(pending, snap)
    assert {p.pod for p in outcome.placements if p.node} == {"default/hi1", "default/hi2"}


def test_bound_pods_overcommitting_a_node_no_pending_pod_may_use() -> None:
    """Regression (found by hypothesis): two bound replicas of priority 0 overcommit an unschedulable node's
    memory; with preemption on, their capacity row bound them although no pending pod may come to the node (bound
    pods are not re-checked), and the encoding was unsatisfiable: an internal error instead of a placement."""
    bound = tuple(pod(f"e{i}", {"app": "a"}, memory=2 << 30, on="n0", order=10 + i) for i in range(2))
    snapshot = Snapshot((node("n0", memory=2 << 30, unschedulable=True),), bound)
    urgent = pod("p0", {"app": "a"}, order=0, priority=10)
    result = solve((urgent,), snapshot, preemption=True)
    assert result.assignment == {} and result.victims == {} and result.proved_optimal


def test_a_pod_without_memory_requests_keeps_the_pods_that_overcommit_memory() -> None:
    """Regression (found by hypothesis): bound pods overcommit a node's memory; a preemptor that requests no
    memory fits there (upstream checks only the resources the pod requests), so nothing is evicted. The memory
    row was guarded by every pending pod on the node, and evicted the priority-0 pod needlessly."""
    bound = (
        pod("e0", memory=1 << 30, on="n0", order=10, terminating=True),
        pod("e1", memory=2 << 30, on="n0", order=11),
    )
    snapshot = Snapshot((node("n0", memory=2 << 30),), bound)
    urgent = pod("p1", order=1, priority=10)
    result = solve((urgent,), snapshot, preemption=True)
    assert result.assignment == {"default/p1": "n0"} and result.victims == {} and result.proved_optimal
