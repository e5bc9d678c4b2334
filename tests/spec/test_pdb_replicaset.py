"""drain-with-pdb-replicaset (issue 12): kubectl drain from the converged cluster, over pods a ReplicaSet owns behind a
PodDisruptionBudget: the eviction, the ReplicaSet's replacement and its scheduling on the other node, with the
budget respected and the ReplicaSet converging."""

from __future__ import annotations

import pytest

from checker import always, check
from spec.model import ClusterModel
from spec.scenario import builtin
from spec.state import ClusterState, Pod, PodDisruptionBudget

NAME = "drain-with-pdb-replicaset"


def _ready_on(state: ClusterState, node: str) -> list[str]:
    return sorted(p.meta.name for p in state.etcd.of("pods")
                  if isinstance(p, Pod) and p.node_name == node and p.status.ready and not p.meta.deleting)


def test_it_starts_converged_one_owned_pod_on_each_node_and_the_drain_pending() -> None:
    s = builtin(NAME)
    state = next(iter(ClusterModel(s.config, s.reductions).init_states()))
    assert len(_ready_on(state, "node-a")) == 1 and len(_ready_on(state, "node-b")) == 1
    assert all(p.meta.owner is not None and p.meta.owner.kind == "ReplicaSet" for p in state.etcd.of("pods")
               if isinstance(p, Pod))
    pdb = next(o for o in state.etcd.objects.values() if isinstance(o, PodDisruptionBudget))
    assert pdb.status is not None and pdb.status.disruptions_allowed == 1
    assert state.pending_commands  # the drain comes after the start-up, never during it


def test_the_drain_evicts_and_the_replicaset_replaces_the_pod_on_the_other_node() -> None:
    """The shortest way to both pods Ready on node-b: cordon, the eviction (granted by the budget), the
    ReplicaSet's replacement, the scheduler's binding to node-b (node-a is cordoned), node-b's kubelet starting it."""
    s = builtin(NAME)
    model = ClusterModel(s.config, s.reductions)
    model.properties = (always("NotBothOnNodeB", lambda st: len(_ready_on(st, "node-b")) < 2),)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    lines = [model.describe(step.action) for step in result.violation.trace[1:]]

    def first(text: str) -> int:
        return next(i for i, line in enumerate(lines) if text in line)

    cordon = first("node/node-a cordoned")
    evicted = first("evicted; node/node-a drained")
    created = first("replicaset-controller reconciles replicasets/default/web — Normal SuccessfulCreate")
    bound = first("to node-b (rv")
    started = first("kubelet/node-b starts")
    assert cordon < evicted < created < bound < started == len(lines) - 1
    last = result.violation.trace[-1].state
    assert not _ready_on(last, "node-a") and len(_ready_on(last, "node-b")) == 2


@pytest.mark.slow
def test_drain_with_pdb_replicaset_holds_exhaustively() -> None:
    s = builtin(NAME)
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    for name in ("PodDisruptionBudgetRespected", "ReplicaSetsConvergeOnHealthyNodes", "EventualReplicaConvergence",
                 "NoOvercommit"):
        assert result.status_of(name) == "holds", name
    assert result.stats.distinct_states > 10_000
