"""Network partitions (the nodePartitions fault and its healing), kubectl delete node and --force deletion with
the pod garbage collector (issue 12): the built-in scenarios node-partition and deleted-node and their variants."""

from __future__ import annotations

import attrs
import pytest

from checker import always, check
from checker.itf import trace_document
from spec import actions as A
from spec import kubectl
from spec.apiserver import Session, store
from spec.cluster import Cluster, enabled_actors, fair_actors
from spec.controllers import nodelifecycle as nl
from spec.model import ClusterModel
from spec.scenario import builtin, with_overrides
from spec.scheduling.types import PodInfo
from spec.state import ClusterState, Container, Ghost, Meta, Pod
from tests.spec.test_spec_differential import enabled_actors_agree


def _trace(name: str, variant: str) -> tuple[list[A.Action], list[str], ClusterModel]:
    s = with_overrides(builtin(name), (variant,))
    model = ClusterModel(s.config, s.reductions)
    result = check(model)
    assert result.violation is not None, result.verdict()
    actions = [st.action for st in result.violation.trace[1:]]
    return actions, [model.describe(a) for a in actions], model


def test_node_partition_holds_every_property() -> None:
    s = builtin("node-partition")
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    for name in ("ReplicaSetsConvergeOnHealthyNodes", "EvictionOnlyForUntoleratedTaints",
                 "NoEvictionWhenAllZonesDisrupted", "EventualReplicaConvergence"):
        assert result.status_of(name) == "holds", name
    assert result.stats.distinct_states > 10_000


def test_stale_taint_eviction_evicts_from_a_healed_node() -> None:
    """kubernetes#90794: the partition heals, the kubelet reports Ready, the unreachable taints go, but the deletion
    scheduled for them stays (the dedicated taint, tolerated for ever, remains) and fires 300 s after the taint."""
    actions, text, _ = _trace("node-partition", "stale-taint-eviction")
    kinds = [type(a).__name__ for a in actions]
    i_cut = next(i for i, a in enumerate(actions) if isinstance(a, A.Fault) and "partition" in a.kind)
    i_heal = kinds.index("Heal")
    i_ready = next(i for i, t in enumerate(text) if "NodeReady" in t)
    i_untaint = next(i for i, t in enumerate(text) if "untainted node.kubernetes.io/unreachable:NoExecute" in t)
    assert i_cut < i_heal < i_ready < i_untaint < len(actions) - 1
    assert "TaintManagerEviction" in text[-1]
    ticks = [a.ms for a in actions if isinstance(a, A.Tick)]
    assert ticks[0] == nl.NODE_MONITOR_GRACE_PERIOD_MS and sum(ticks) == 340_000


def test_the_trace_file_of_a_healed_partition_says_why_the_kubelet_reports() -> None:
    """The why of a node status report (``SyncPod`` "report" of ``nodes/<node>``) reads the Node, not a pod (it
    failed on writing the trace file), and the eviction is at 340 s of model time."""
    s = with_overrides(builtin("node-partition"), ("stale-taint-eviction",))
    model = ClusterModel(s.config, s.reductions)
    result = check(model)
    document = trace_document(result, model, None, {})
    states = document["states"]
    report = next(st["#meta"] for st in states if "NodeReady" in st["#meta"]["description"])
    assert report["why"][0].endswith("etcd has nodes/node-a schedulable, Ready=Unknown")
    assert report["why"][1] == "PATCH nodes/node-a → 200 OK"
    assert states[-1]["#meta"]["elapsed"] == {"ms": 340_000}


def test_a_partitioned_kubelet_takes_no_step_and_its_containers_keep_running() -> None:
    config = attrs.evolve(builtin("node-partition").config, properties=())
    model = Cluster(config)
    seen = {"partitioned": 0, "running": 0}

    def record(s: ClusterState) -> bool:
        for k in s.kubelets:
            if k.partitioned:
                seen["partitioned"] += 1
                assert k.up and k.informer is None and not k.failed
                assert f"kubelet/{k.node}" not in enabled_actors(s, config)
                if not nl.due_pods(s.lifecycle):  # ties: a due deletion is made first (spec/faults.py)
                    assert f"network/{k.node}" in enabled_actors(s, config)
                if any(c.running for c in k.runtime):
                    seen["running"] += 1
        return True

    model.properties = (always("Record", record),)
    assert check(model, max_states=20_000, deadlock=False).status in ("ok", "bounded")
    assert seen["partitioned"] and seen["running"]


def test_healing_is_weakly_fair_and_only_where_partitions_can_happen() -> None:
    assert "network/node-a" in fair_actors(builtin("node-partition").config)
    assert not any(a.startswith("network/") for a in fair_actors(builtin("node-failure").config))


@pytest.mark.parametrize("name", ["node-partition", "deleted-node", "all-nodes-lost"])
def test_enabled_actors_are_the_fair_steps(name: str) -> None:
    assert enabled_actors_agree(builtin(name).config, 1500) > 15


def test_deleted_node_holds_and_no_orphan_gc_never_converges() -> None:
    s = builtin("deleted-node")
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    assert result.status_of("ReplicaSetsConvergeOnHealthyNodes") == "holds"
    actions, text, _ = _trace("deleted-node", "no-orphan-gc")
    assert any(isinstance(a, A.Kubectl) and a.line == "kubectl delete node node-a" for a in actions)
    assert any("binds pods/default/web-bbbbb to node-a" in t for t in text)


def _web_pod() -> Pod:
    return Pod(Meta("web"), (Container("web", "nginx:1.25"),), PodInfo("web", node_name="node-b"))


def test_kubectl_delete_node_and_force_delete() -> None:
    s = builtin("deleted-node")
    session = Session(store(list(s.config.objects)), Ghost())
    out = kubectl.run(kubectl.parse("kubectl delete node node-a", "test"), session)
    assert out == 'node "node-a" deleted' and "nodes/node-a" not in session.etcd.objects
    assert "not found" in kubectl.run(kubectl.parse("kubectl delete node node-a", "test"), session)
    session = Session(store([*s.config.objects, _web_pod()]), Ghost())
    out = kubectl.run(kubectl.parse("kubectl delete pod web --grace-period=0 --force", "t"), session)
    assert out.startswith("Warning: Immediate deletion") and out.endswith('pod "web" force deleted')
    assert "pods/default/web" not in session.etcd.objects  # gone at once, although bound


def test_grace_period_0_without_force_is_graceful() -> None:
    """kubectl's Complete turns --grace-period=0 without --force into 1: the bound pod waits for its kubelet."""
    s = builtin("deleted-node")
    session = Session(store([*s.config.objects, _web_pod()]), Ghost())
    out = kubectl.run(kubectl.parse("kubectl delete pod web --grace-period=0", "t"), session)
    assert out == 'pod "web" deleted'
    left = session.etcd.objects["pods/default/web"]
    assert isinstance(left, Pod) and left.meta.deleting


def test_time_and_faults_wait_for_a_due_eviction_and_for_the_pod_gc() -> None:
    """Timing (spec.component.Urgent): a due taint-based deletion is made before time advances and before any
    fault (a tie); the pod garbage collector's pass (every 20 s) is made before time advances."""
    from spec.cluster import CLOCK, initial_state
    from spec.controllers import podgc
    from spec.faults import FAULTS
    from spec.state import NodeLifecycle

    config = builtin("node-partition").config
    state = initial_state(config)
    assert "fault" in FAULTS.enabled(state, config)
    due = state._with(lifecycle=NodeLifecycle(evictions=(("pods/default/web-bbbbb", 0),)))
    assert not FAULTS.enabled(due, config) and not list(FAULTS.steps(due, config))
    assert not CLOCK.enabled(due, config)
    config = builtin("deleted-node").config
    state = initial_state(config)
    orphan = Pod(Meta("web"), (Container("web", "nginx:1.25"),), PodInfo("web", node_name="gone"))
    session = Session(state.etcd, state.ghost)
    session.create(orphan)
    with_orphan = state._with(etcd=session.etcd)
    assert podgc.POD_GC.urgent(with_orphan, config)  # so the clock waits (spec.clock: any urgent component)
    (action, after), = list(podgc.POD_GC.steps(with_orphan, config))
    assert after.podgc.quarantine == (("gone", podgc.QUARANTINE_MS),) and not podgc.POD_GC.urgent(after, config)
