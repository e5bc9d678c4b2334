"""Optimal mode's "proved optimal" means proved: every claim rests on z3 refuting "strictly better" in the solver
that found the placement, never on a capacity count alone.

- the counterexample hypothesis found (tests/scheduling/test_smt_objectives.py): 3 pods at priority 10 (two of them
  with one host port, so only two fit) and one at priority 0 (cpu 500, a hostname spread constraint), one node of
  1 cpu and 3 pod slots. The old search bounded priority 0 by the cpu left beside the priority-10 pods *its model
  happened to place* (p0, 1 cpu: nothing left), where only the number placed at priority 10 was fixed (p2 and p3
  leave the cpu free), and took that bound for a proof: "proved optimal" with p1 unplaced;
- a capacity bound that lies (too low) is caught by z3's answers (an internal error), never believed;
- a search cut short says "not proved" with sound bounds (the hypothesis tests check them against brute force).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from spec.scheduling import smt
from spec.scheduling.cli import schedule
from spec.scheduling.smt import placement_count, solve
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import HostPort, PodInfo, TopologySpreadConstraint
from tests.scheduling.helpers import node, pod, selector
from tests.scheduling.test_smt_objectives import _check

Case = tuple[tuple[PodInfo, ...], Snapshot]


@pytest.fixture
def case() -> Case:
    """The counterexample hypothesis found (module docstring): p0 (1 cpu) and p2 share host port 80, so only two of
    the three priority-10 pods fit; p1 (priority 0, 500m, a hostname spread constraint) fits beside p2 and p3 on
    n0 (1 cpu, 3 pod slots)."""
    app = {"app": "a"}
    port = (HostPort(80),)
    spread = (TopologySpreadConstraint(1, "kubernetes.io/hostname", "DoNotSchedule", selector(app="a")),)
    pending = (
        pod("p0", app, cpu=1000, host_ports=port, priority=10, order=0),
        pod("p1", app, cpu=500, topology_spread_constraints=spread, order=1),
        pod("p2", app, host_ports=port, priority=10, order=2),
        pod("p3", app, priority=10, order=3),
    )
    return pending, Snapshot((node("n0", {"kubernetes.io/hostname": "n0", "zone": "z1"}, cpu=1000, memory=4 << 30,
                                   pods=3),))


def test_the_found_counterexample_is_placed_and_proved(case: Case) -> None:
    pending, snapshot = case
    result = solve(pending, snapshot)
    assert result.proved_optimal and not result.gaps
    # p2 and p3 (no cpu) at priority 10, then p1 fits beside them
    assert placement_count(result.assignment, pending) == (2, 1)
    assert "default/p1" in result.assignment and "default/p0" not in result.assignment
    _check(*case)


def test_a_capacity_bound_that_lies_is_not_believed(monkeypatch: pytest.MonkeyPatch, case: Case) -> None:
    """The pods-placed bound says 0 pods fit at priority 0: the old search stopped there, "proved". Now z3 is
    asked for one more pod anyway, finds it, and the contradiction is an internal error."""
    pending, snapshot = case
    monkeypatch.setattr(smt._Pack, "upper_bound", lambda self, enc, groups, above: 0 if len(groups) == 1 else 2)
    with pytest.raises(AssertionError, match="above its bound"):
        solve(pending, snapshot)


def test_a_nodes_in_use_bound_that_lies_is_not_believed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two pods of 1 cpu on nodes of 1 cpu need 2 nodes; a lower bound of 3 is contradicted by z3's placement."""
    pending = (pod("a", cpu=1000, order=0), pod("b", cpu=1000, order=1))
    snapshot = Snapshot(tuple(node(n, {"kubernetes.io/hostname": n}, cpu=1000) for n in ("x", "y", "z")))
    assert solve(pending, snapshot).nodes_used == 2
    monkeypatch.setattr(smt._Pack, "lower_bound", lambda self, enc, placed, everyone: 1)
    result = solve(pending, snapshot)
    # a bound below the optimum only steers the search: the proof is z3's refutation of one node
    assert result.proved_optimal and result.nodes_used == 2
    monkeypatch.setattr(smt._Pack, "lower_bound", lambda self, enc, placed, everyone: 3)
    with pytest.raises(AssertionError, match="below its bound"):
        solve(pending, snapshot)


def test_out_of_work_is_not_proved_and_says_so(case: Case) -> None:
    pending, snapshot = case
    result = solve(pending, snapshot, work=1)
    assert not result.proved_optimal
    assert result.gaps and all("found, optimum at most" in g.text() for g in result.gaps)


def test_the_command_says_best_found_not_proved_with_the_bounds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Out of work (one unit per second of --timeout), ``kubespec schedule --mode optimal`` does not say
    "proved": the verdict is the best found, not proved optimal, and each unfinished objective's bound."""
    manifest = tmp_path / "two.yaml"
    manifest.write_text(
        """apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
status: {allocatable: {cpu: "1", memory: 4Gi, pods: "110"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: x, resources: {requests: {cpu: 400m}}}]
"""
    )
    monkeypatch.setattr(smt, "WORK_PER_SECOND", 1)
    result = CliRunner().invoke(schedule, ["-f", str(manifest), "--mode", "optimal"])
    assert result.exit_code == 1, result.output
    assert "proved optimal in" not in result.output
    assert "best found within the limit, not proved optimal" in result.output
    assert "not proved: pods placed at priority 0: 0 found, optimum at most 2" in result.output
