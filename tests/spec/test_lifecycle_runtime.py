"""The not-ready path of taint-based eviction (issue 12): the runtimeFailures fault (a node's container runtime down
for good), the kubelet's Ready=False, the node lifecycle controller's not-ready taints and the eviction 300 s later
(DefaultTolerationSeconds); the built-in scenario node-not-ready and the variant runtime-ready-ignored
(kubernetes#79873)."""

from __future__ import annotations

import functools
from typing import Any

import attrs
import pytest

from checker import always, check
from checker.itf import trace_document
from spec import actions as A
from spec import faults, kubelet
from spec.cluster import initial_state
from spec.model import ClusterModel
from spec.scenario import builtin, parse, with_overrides
from spec.state import ClusterState, Node, Pod
from tests.spec.test_spec_differential import enabled_actors_agree


def _nothing_evicted(state: ClusterState) -> bool:
    return not any(isinstance(p, Pod) and p.meta.deleting for p in state.etcd.of("pods"))


@functools.cache
def _eviction() -> tuple[ClusterModel, Any]:
    model = ClusterModel(builtin("node-not-ready").config)
    model.properties = (always("NothingEvicted", _nothing_evicted),)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    return model, result


def test_a_node_whose_runtime_is_down_is_tainted_not_ready_and_its_pods_evicted_after_300_s() -> None:
    """The shortest way to an eviction on node-not-ready: the runtime fails at 0 s, its kubelet reports Ready=False
    at once (it still reaches the API server), the node lifecycle controller taints it not-ready (NoSchedule,
    NoExecute), and the taint eviction controller deletes its pod at 300 s: no grace period, the node is not
    unreachable."""
    model, result = _eviction()
    document = trace_document(result, model, None, {})
    steps = [(s["#meta"]["description"], s["#meta"]["elapsed"]["ms"]) for s in document["states"][1:]]
    fault = next(i for i, (d, _) in enumerate(steps) if faults.RUNTIME_FAILURE in d)
    report = next(i for i, (d, _) in enumerate(steps) if "Ready=False, KubeletNotReady: container runtime is down" in d)
    taint = next(i for i, (d, _) in enumerate(steps) if "tainted node.kubernetes.io/not-ready:NoExecute" in d)
    evicted = next(i for i, (d, _) in enumerate(steps) if "TaintManagerEviction" in d)
    assert fault < report < taint < evicted == len(steps) - 1
    assert "tainted node.kubernetes.io/not-ready:NoSchedule" in steps[taint][0]
    assert [steps[i][1] for i in (fault, report, taint)] == [0, 0, 0] and steps[evicted][1] == 300_000
    assert not any("unreachable" in d or "node-monitor-grace-period" in d for d, _ in steps)
    last = result.violation.trace[-1].state
    node = next(o for o in last.etcd.of("nodes") if isinstance(o, Node) and o.ready == "False")
    down = next(k for k in last.kubelets if k.runtime_down)
    assert node.meta.name == down.node


def test_a_kubelet_whose_runtime_is_down_syncs_no_pod_but_reports_its_node() -> None:
    """At the eviction, the evicted pod is Terminating on the node whose runtime is down: with the runtime up the
    kubelet would stop it; with it down it does nothing (syncLoop skips pod synchronization), but it reports its
    node's Ready condition, before time advances."""
    model, result = _eviction()
    config = model.config
    last = result.violation.trace[-1].state
    k = next(x for x in last.kubelets if x.runtime_down)
    assert list(kubelet.work(attrs.evolve(k, runtime_down=False))) and list(kubelet.work(k)) == []
    assert list(kubelet.stale_reports(last, k)) == []
    assert kubelet.ready_condition(k) == "False" and kubelet.ready_condition(k, ignores_runtime=True) == "True"
    up = next(x for x in last.kubelets if not x.runtime_down)
    assert kubelet.ready_condition(up) == "True"
    node = f"nodes/{k.node}"
    before = last.etcd.objects[node]
    assert isinstance(before, Node) and before.ready == "False"
    ready = attrs.evolve(last, etcd=attrs.evolve(last.etcd, objects=last.etcd.objects.set(
        node, Node(before.meta, before.info, "True"))))
    assert kubelet.node_status_stale(ready, k) and not kubelet.node_status_stale(ready, k, ignores_runtime=True)
    assert kubelet.KUBELET.urgent(ready, config)  # the report comes before time advances
    actions = [a for a, _ in kubelet.KUBELET.steps(ready, config)]
    assert [a.pod for a in actions if isinstance(a, A.SyncPod) and a.actor == kubelet.actor(k.node)] == [node]


def test_the_fault_spends_its_budget_and_happens_once_per_node() -> None:
    scenario = builtin("node-not-ready")
    state = initial_state(scenario.config)
    steps = [(a, t) for a, t in faults.fault_steps(state, scenario.config)
             if isinstance(a, A.Fault) and a.kind == faults.RUNTIME_FAILURE]
    assert sorted(a.target for a, _ in steps) == ["nodes/node-a", "nodes/node-b"]
    for _, t in steps:
        assert t.budget.runtime_failures == 0 and sum(k.runtime_down for k in t.kubelets) == 1
        assert not any(a.kind == faults.RUNTIME_FAILURE for a, _ in faults.fault_steps(t, scenario.config)
                       if isinstance(a, A.Fault))


def test_runtime_failures_is_a_scenario_fault_and_a_wrong_value_is_refused() -> None:
    doc = """apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: x}
spec: {faults: {runtimeFailures: %s}}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "1", memory: 1Gi, pods: "10"}}
"""
    assert parse(doc % "2", "x.yaml").config.budget.runtime_failures == 2
    from checker.errors import InputError

    with pytest.raises(InputError, match="runtimeFailures"):
        parse(doc % "-1", "x.yaml")


def test_enabled_actors_agree_on_node_not_ready() -> None:
    assert enabled_actors_agree(builtin("node-not-ready").config, 3_000) >= 3_000


def test_runtime_ready_ignored_never_converges() -> None:
    """kubernetes#79873: the node stays Ready, nothing taints it, and a pod bound to it before its runtime went down
    never starts: the ReplicaSet never has its 2 ready pods on healthy nodes."""
    s = with_overrides(builtin("node-not-ready"), ("runtime-ready-ignored",))
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "violation" and result.violation is not None
    names = {result.violation.property, *getattr(result, "also_violated", ())}
    assert names & {"EventualReplicaConvergence", "ReplicaSetsConvergeOnHealthyNodes"}
    last = result.violation.trace[-1].state
    assert any(k.runtime_down for k in last.kubelets)
    assert all(n.ready == "True" and not n.info.taints for n in last.etcd.of("nodes") if isinstance(n, Node))


@pytest.mark.slow
def test_node_not_ready_holds_every_property() -> None:
    s = builtin("node-not-ready")
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    for name in ("ReplicaSetsConvergeOnHealthyNodes", "EvictionOnlyForUntoleratedTaints", "EventualReplicaConvergence"):
        assert result.status_of(name) == "holds", name
