"""A StatefulSet and a network partition (issue 12): the built-in scenarios statefulset-partition (holds; with the
variant force-delete-unreachable, kubernetes#35145, a second db-0 runs) and statefulset-force-delete (the user's
``kubectl delete pod --grace-period=0 --force``, the danger upstream documents)."""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from checker import check
from spec import actions as A
from spec.model import ClusterModel
from spec.reduction import Reductions
from spec.scenario import builtin, with_overrides
from spec.state import ClusterState, Pod

IDENTITY = "AtMostOnePodPerStatefulIdentity"


def _running_db0(state: ClusterState) -> dict[str, int]:
    """node -> uid of each running db-0 container in the kubelets' runtimes."""
    return {k.node: c.uid for k in state.kubelets for c in k.runtime
            if c.pod == "pods/default/db-0" and c.running and c.managed}


def test_statefulset_partition_holds_without_the_variant() -> None:
    s = builtin("statefulset-partition")
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    for name in (IDENTITY, "StatefulSetsConverge", "EvictionOnlyForUntoleratedTaints"):
        assert result.status_of(name) == "holds", name
    assert result.stats.distinct_states > 10_000  # the partition, its 340 s and the heal are explored


def test_force_delete_unreachable_starts_a_second_pod_for_the_identity() -> None:
    """kubernetes#35145: the node controller deleted the pods of an unreachable node with grace period 0. The trace
    reads as upstream's timeline: the partition, 40 s to Ready=Unknown and the unreachable taints, 300 s to the
    taint-based deletion, db-0 created again, scheduled on node-b and started there while node-a, still cut off,
    runs the first db-0."""
    s = with_overrides(builtin("statefulset-partition"), ("force-delete-unreachable",))
    model = ClusterModel(s.config, s.reductions)
    result = check(model)
    assert result.violation is not None and result.violation.property == IDENTITY, result.verdict()
    trace = result.violation.trace
    actions = [st.action for st in trace[1:]]
    text = [model.describe(a) for a in actions]
    cut = next(i for i, a in enumerate(actions) if isinstance(a, A.Fault) and "partition" in a.kind)
    ticks = [(i, a.ms) for i, a in enumerate(actions) if isinstance(a, A.Tick)]
    assert [ms for _, ms in ticks] == [40_000, 300_000] and cut < ticks[0][0]
    unknown = next(i for i, t in enumerate(text) if "NodeNotReady" in t and "unreachable:NoExecute" in t)
    evicted = next(i for i, t in enumerate(text) if "TaintManagerEviction" in t)
    recreated = next(i for i, t in enumerate(text) if "SuccessfulCreate" in t and i > evicted)
    assert ticks[0][0] < unknown < ticks[1][0] < evicted < recreated
    assert "starts pods/default/db-0" in text[-1] and "node-b" in text[-1]
    last = trace[-1].state
    node_a = next(k for k in last.kubelets if k.node == "node-a")
    assert node_a.partitioned
    running = _running_db0(last)
    assert set(running) == {"node-a", "node-b"} and running["node-a"] != running["node-b"]


def test_the_variant_needs_a_partition_and_a_statefulset() -> None:
    from spec.variants import VARIANTS

    needs = VARIANTS["force-delete-unreachable"].needs
    assert needs(builtin("statefulset-partition").config) is None
    assert "nodePartitions" in (needs(builtin("node-failure").config) or "")
    assert "StatefulSet" in (needs(builtin("node-partition").config) or "")


def test_user_force_delete_is_refuted() -> None:
    """The built-in statefulset-force-delete fails as it is meant to: the shortest counterexample force-deletes
    db-0 before node-a's kubelet saw the deletion; the identity runs twice."""
    s = builtin("statefulset-force-delete")
    result = check(ClusterModel(s.config, s.reductions))
    assert result.violation is not None and result.violation.property == IDENTITY, result.verdict()
    assert any(isinstance(st.action, A.Kubectl) and "--force" in st.action.line for st in result.violation.trace[1:])
    assert len(_running_db0(result.violation.trace[-1].state)) == 2


class _ForceOnlyWhilePartitioned(ClusterModel):
    """statefulset-force-delete with the user's command allowed only while db-0 runs on a node cut off from the API
    server (the documented case: the node is unreachable and the user force-deletes its pod), and the partition
    not healing within the trace (a prefix of a behaviour in which it heals later): fewer behaviours, so a
    violation of an invariant here is one of the scenario's. (Allowed to heal, the shortest trace heals the node
    right after the new db-0 was bound to it: its relisting kubelet starts the new pod beside the old one.)"""

    def successors(self, state: ClusterState) -> Iterator[tuple[A.Action, ClusterState]]:
        for action, nxt in super().successors(state):
            if isinstance(action, A.Heal):
                continue
            if isinstance(action, A.Kubectl):
                pod = state.etcd.objects.get("pods/default/db-0")
                cut = {k.node for k in state.kubelets if k.partitioned}
                if not (isinstance(pod, Pod) and pod.node_name in cut and pod.node_name in _running_db0(state)):
                    continue
            yield action, nxt


def test_user_force_delete_on_a_partitioned_node_runs_the_identity_twice_until_the_heal() -> None:
    s = builtin("statefulset-force-delete")
    no_partial_order = attrs.evolve(s.reductions, ample_sets=False, eager_noop=False)
    assert isinstance(no_partial_order, Reductions)
    model = _ForceOnlyWhilePartitioned(s.config, no_partial_order)
    result = check(model)
    assert result.violation is not None and result.violation.property == IDENTITY, result.verdict()
    trace = result.violation.trace
    actions = [st.action for st in trace[1:]]
    cut = next(i for i, a in enumerate(actions) if isinstance(a, A.Fault) and "partition" in a.kind)
    forced = next(i for i, a in enumerate(actions) if isinstance(a, A.Kubectl))
    assert cut < forced
    assert not any(isinstance(a, A.Tick) for a in actions)  # no timeout needed: the user did not wait
    last = trace[-1].state
    cut_node = next(k.node for k in last.kubelets if k.partitioned)
    running = _running_db0(last)
    assert len(running) == 2 and cut_node in running
