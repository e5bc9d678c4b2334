"""Every property holds in a check of today's Kubernetes and fails on a variant or a hand-built state."""

from __future__ import annotations

from pathlib import Path

import attrs
import immutables
import pytest

from checker import check
from spec.apiserver import bind, delete
from spec.cluster import initial_state
from spec.model import ClusterModel
from spec.properties import PROPERTIES
from spec.scenario import builtin, load, with_overrides
from spec.state import ClusterState, Ghost, Informer, RuntimeContainer


def _state(name: str) -> ClusterState:
    return initial_state(builtin(name).config)


def test_every_property_holds_on_today_s_kubernetes() -> None:
    result = check(ClusterModel(builtin("cordoned-node").config))
    assert result.status == "ok", result.violation and result.violation.property


@pytest.mark.parametrize("prop", ["EventualReplicaConvergence", "RolloutEventuallyCompletes",
                                  "EveryFeasiblePodEventuallyScheduled"])
def test_liveness_fails_when_a_failed_pod_is_never_retried(prop: str) -> None:
    s = with_overrides(builtin("cordoned-node"), ("no-requeue",))
    result = check(ClusterModel(attrs.evolve(s.config, properties=(prop,))))
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == prop and result.violation.loop_start is not None


def test_no_double_scheduling_fails_when_a_pod_runs_on_two_nodes() -> None:
    s = _state("pod-two-nodes")
    pred = PROPERTIES["NoDoubleScheduling"].p
    assert pred(s)
    c = RuntimeContainer("pods/default/web", 3, "web", "nginx:1.25")
    two = attrs.evolve(s, kubelets=tuple(attrs.evolve(k, runtime=frozenset({c})) for k in s.kubelets))
    assert not pred(two)
    assert not pred(attrs.evolve(s, ghost=Ghost(rebinds=frozenset({"pods/default/web"}))))


def test_no_overcommit_fails_when_a_node_gets_more_than_it_has() -> None:
    s = _state("pod-two-nodes")
    pred = PROPERTIES["NoOvercommit"].p
    etcd = s.etcd
    pod = etcd.objects["pods/default/web"]
    big = attrs.evolve(pod, info=attrs.evolve(pod.info, requests=attrs.evolve(pod.info.requests, milli_cpu=5000)))
    etcd = attrs.evolve(etcd, objects=etcd.objects.set("pods/default/web", big))
    etcd, response, _ = bind(etcd, "pods/default/web", pod.meta.uid, "node-a", Ghost())
    assert response.ok and pred(s) and not pred(attrs.evolve(s, etcd=etcd))


def test_replicaset_never_overshoots_reads_the_api_server_s_record() -> None:
    s = _state("replicaset-one-node")
    pred = PROPERTIES["ReplicaSetNeverOvershoots"].p
    assert pred(s) and not pred(attrs.evolve(s, ghost=Ghost(overshoots=frozenset({"replicasets/default/web"}))))


def test_resource_version_monotonic_fails_on_time_travel() -> None:
    s = _state("replicaset-one-node")
    pred = PROPERTIES["ResourceVersionMonotonic"].p
    assert pred(s)
    inf = s.kcm.informers[2]
    back = attrs.evolve(inf, rv=inf.rv - 1, high_water=inf.rv)
    assert not pred(s.with_informer("kcm", 2, back))
    etcd, _ = delete(s.etcd, "pods/default/none")
    assert pred(attrs.evolve(s, etcd=etcd))
    assert isinstance(back, Informer) and isinstance(s.etcd.objects, immutables.Map)


def test_convergence_needs_ready_running_pods_of_the_current_template() -> None:
    s = _state("cordoned-node")
    prop = PROPERTIES["EventualReplicaConvergence"]
    assert prop.q is not None
    # no pod exists yet, and nothing blocks one: convergence is due
    assert prop.p(s) and not prop.q(s)


RECREATED = Path(__file__).parent / "fixtures" / "recreated.yaml"


def test_a_pod_recreated_under_the_name_of_one_being_bound_is_still_scheduled() -> None:
    """The pod is deleted while the scheduler has it assumed and its binding in flight; the ReplicaSet's
    replacement gets the same generated name. The scheduler tells them apart by uid (as upstream's cache does):
    it once took the replacement for the pod being bound and never queued it (a lasso of 16 steps)."""
    config = attrs.evolve(load(RECREATED).config, properties=("EveryFeasiblePodEventuallyScheduled",))
    assert check(ClusterModel(config)).status == "ok"
