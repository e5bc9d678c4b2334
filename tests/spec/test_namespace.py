"""Namespaces (spec/controllers/namespace.py, the API server's namespace deletion and NamespaceLifecycle admission,
``kubectl delete namespace``) and the built-in namespace-delete scenario."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import attrs
import pytest

from checker import check
from checker.errors import InputError
from spec.apiserver import NAMESPACE_TERMINATING, Session, store
from spec.controllers import namespace as nsctl
from spec.ha_properties import namespaces_settled
from spec.kubectl import parse as parse_command
from spec.kubectl import run
from spec.model import ClusterModel
from spec.scenario import builtin, parse
from spec.state import FINALIZER_KUBERNETES, RESOURCE, Ghost, Namespace, Pod

POD_ONLY = (Path(__file__).parent / "fixtures" / "namespace-pod.yaml").read_text()
"""A namespace with one bare Pod, deleted at any point (small: 931 states without reductions)."""


def _text() -> str:
    return resources.files("spec.scenarios").joinpath("namespace-delete.yaml").read_text()


def test_declared_namespaces_are_objects_and_default_is_added() -> None:
    objects = builtin("namespace-delete").config.objects
    names = [o.meta.name for o in objects if isinstance(o, Namespace)]
    # created first, the API server's own added (systemnamespaces)
    assert names == ["default", "kube-system", "kube-public", "kube-node-lease", "team-a"]
    assert all(isinstance(o, Namespace) for o in objects[:5])
    ns = objects[4]
    assert isinstance(ns, Namespace) and ns.finalizers == (FINALIZER_KUBERNETES,) and ns.phase == "Active"
    # without a Namespace document, namespaces stay implicit: no Namespace object at all
    assert not any(isinstance(o, Namespace) for o in builtin("cascade-delete").config.objects)


def test_bad_namespace_documents_are_refused() -> None:
    with pytest.raises(InputError, match='namespaces "team-b" not found'):
        parse(_text().replace("namespace: team-a}", "namespace: team-b}"), "t.yaml")
    with pytest.raises(InputError, match="cluster-scoped"):
        parse(_text().replace("metadata: {name: team-a}", "metadata: {name: team-a, namespace: x}"), "t.yaml")
    with pytest.raises(InputError, match="status.phase: expected Active"):
        parse(_text().replace("metadata: {name: team-a}", "metadata: {name: team-a}\nstatus: {phase: Terminating}"),
              "t.yaml")
    with pytest.raises(InputError, match="usage: kubectl delete namespace NAME"):
        parse_command("kubectl delete namespace", "x")


def test_deletion_sets_terminating_and_admission_refuses_new_content() -> None:
    etcd = store(list(builtin("namespace-delete").config.objects))
    s = Session(etcd, Ghost())
    assert run(parse_command("kubectl delete namespace team-a", "x"), s) == 'namespace "team-a" deleted'
    ns = s.etcd.objects["namespaces/team-a"]
    assert isinstance(ns, Namespace) and ns.meta.deleting and ns.phase == "Terminating"
    assert ns.finalizers == (FINALIZER_KUBERNETES,)  # still there: the controller's to remove
    pod = next(o for o in parse(POD_ONLY, "t.yaml").config.objects if isinstance(o, Pod))
    response = s.create(pod)
    assert response.code == 403 and response.cause == NAMESPACE_TERMINATING
    assert "unable to create new content in namespace team-a because it is being terminated" in response.message
    # a second DELETE changes nothing; the immortal default namespace is refused
    before = s.etcd
    assert run(parse_command("kubectl delete ns team-a", "x"), s) == 'namespace "team-a" deleted'
    assert s.etcd is before
    assert "this namespace may not be deleted" in run(parse_command("kubectl delete namespace default", "x"), s)


def test_the_controller_deletes_the_content_then_the_namespace() -> None:
    etcd = store(list(parse(POD_ONLY, "t.yaml").config.objects))
    s = Session(etcd, Ghost())
    run(parse_command("kubectl delete namespace team-a", "x"), s)
    assert not namespaces_settled(_state(s.etcd))  # type: ignore[arg-type]
    nsctl.sync(s, "team-a")  # an unbound pod goes at once: content gone, but the namespace waits for a next sync
    assert "pods/team-a/solo" not in s.etcd.objects and "namespaces/team-a" in s.etcd.objects
    nsctl.sync(s, "team-a")  # finalize: the update removes it (no metadata finalizer)
    assert "namespaces/team-a" not in s.etcd.objects and "namespaces/default" in s.etcd.objects
    assert namespaces_settled(_state(s.etcd))  # type: ignore[arg-type]
    # and a create in the namespace that is gone: 404
    response = s.create(attrs.evolve(etcd.objects["pods/team-a/solo"], meta=attrs.evolve(
        etcd.objects["pods/team-a/solo"].meta, name="again")))
    assert response.code == 404 and 'namespaces "team-a" not found' in response.message


def _state(etcd: object) -> object:
    from spec.cluster import initial_state

    return attrs.evolve(initial_state(builtin("namespace-delete").config), etcd=etcd)


def test_every_namespaced_kind_is_content() -> None:
    from spec.state import CLUSTER_SCOPED

    assert set(nsctl.CONTENT) == {r for r in RESOURCE.values() if r not in CLUSTER_SCOPED}


def test_a_namespace_with_a_pod_is_eventually_deleted() -> None:
    scenario = parse(POD_ONLY, "t.yaml")
    result = check(ClusterModel(attrs.evolve(scenario.config, properties=("NamespaceEventuallyDeleted",))))
    assert result.status == "ok", result.verdict()
    verdict = {p.name: p.status for p in result.properties}
    assert verdict["NamespaceEventuallyDeleted"] == "holds"  # not vacuous: the namespace does terminate


def test_without_the_namespace_controller_the_namespace_stays_terminating() -> None:
    import spec.cluster as cluster

    saved = cluster.COMPONENTS
    cluster.COMPONENTS = tuple(c for c in saved if c is not nsctl.NAMESPACE_CONTROLLER)
    try:
        scenario = parse(POD_ONLY, "t.yaml")
        result = check(ClusterModel(attrs.evolve(scenario.config, properties=("NamespaceEventuallyDeleted",))))
    finally:
        cluster.COMPONENTS = saved
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "NamespaceEventuallyDeleted"


@pytest.mark.slow
def test_namespace_delete_holds_exhaustively() -> None:
    """The built-in scenario (a Deployment in the namespace): every property holds, none vacuously."""
    scenario = builtin("namespace-delete")
    result = check(ClusterModel(scenario.config, scenario.reductions))
    assert result.status == "ok", result.verdict()
    verdict = {p.name: p.status for p in result.properties}
    assert verdict["NamespaceEventuallyDeleted"] == verdict["NoOrphanedDependents"] == "holds"


STATEFULSET = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: ns-sts}
spec:
  userActions: ["kubectl delete namespace team-a"]
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 4Gi, pods: "110"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: team-a}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16"}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db, namespace: team-a}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: db}}
"""


def test_the_statefulset_controller_takes_the_terminating_403_for_an_error_as_upstream_does() -> None:
    """Unlike the ReplicaSet, Deployment, Job and EndpointSlice controllers, upstream's StatefulSet controller has
    no NamespaceTerminatingCause check: CreateStatefulPod returns the 403 (stateful_pod_control.go, sinking only
    AlreadyExists), processReplica returns it, the sync fails with a FailedCreate event and the key is requeued
    rate-limited (stateful_set.go processNextWorkItem: AddRateLimited) until the namespace controller deletes the
    set. The model does the same (spec/controllers/statefulset.py)."""
    from spec.cluster import initial_state
    from spec.controllers import statefulset

    state = initial_state(parse(STATEFULSET, "t.yaml").config)
    assert state.workloads is not None
    s = Session(state.etcd, Ghost())
    run(parse_command("kubectl delete namespace team-a", "x"), s)
    _, failed = statefulset.sync(state.workloads, (), s, "statefulsets/team-a/db")
    assert failed  # an error: requeued with backoff, not forgotten
    assert "pods/team-a/db-0" not in s.etcd.objects
    assert any("Warning FailedCreate" in e and "create Pod db-0 in StatefulSet db failed error" in e
               and "because it is being terminated" in e for e in s.events), s.events


def test_the_disruption_controller_creates_nothing_and_its_status_writes_are_admitted() -> None:
    """The disruption controller only updates PodDisruptionBudget status (disruption.go writePdbStatus); the
    NamespaceLifecycle admission plugin refuses creates only (lifecycle/admission.go: a.GetOperation() ==
    admission.Create), so a Terminating namespace does not fail its syncs and there is no 403 to take for no
    error."""
    from spec.cluster import initial_state
    from spec.controllers import disruption

    state = initial_state(parse(STATEFULSET, "t.yaml").config)
    assert state.workloads is not None
    s = Session(state.etcd, Ghost())
    run(parse_command("kubectl delete namespace team-a", "x"), s)
    before = len(s.etcd.objects)
    _, failed = disruption.sync(state.workloads, (), s.etcd, s, "poddisruptionbudgets/team-a/db")
    assert not failed and len(s.etcd.objects) == before
    pdb = s.etcd.objects["poddisruptionbudgets/team-a/db"]
    assert pdb.meta.resource_version == s.etcd.revision  # its status write went through


@pytest.mark.slow
def test_namespace_service_holds_exhaustively_from_the_converged_start() -> None:
    """A Deployment behind a Service in the namespace, started converged (spec/warmup.py): exhaustive, the
    namespace eventually deleted (not vacuously), the Service's properties holding throughout."""
    scenario = builtin("namespace-service")
    assert scenario.config.start == "converged"
    result = check(ClusterModel(scenario.config, scenario.reductions))
    assert result.status == "ok", result.verdict()
    verdict = {p.name: p.status for p in result.properties}
    assert verdict["NamespaceEventuallyDeleted"] == "holds"
    assert verdict["ServiceRoutesEventuallyMatchReadyEndpoints"] == verdict["NoDuplicateEndpointSlices"] == "holds"


DRAINED = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: ns-drain}
spec:
  userActions: ["kubectl drain node-a --force", "kubectl delete namespace team-a"]
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 4Gi, pods: "110"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: team-a}
spec:
  nodeName: node-a
  containers: [{name: c, image: nginx:1.25}]
"""


def test_an_eviction_in_a_terminating_namespace_is_refused_and_drain_waits_for_the_deletion() -> None:
    """An Eviction is a create: NamespaceLifecycle refuses it in a Terminating namespace (403, cause
    NamespaceTerminating). kubectl drain retries it while the pod has no deletionTimestamp and then ignores it,
    waiting for the deletion (kubernetes#93947, drain.go evictPods)."""
    from spec.eviction import evict
    from spec.kubectl import drain_step
    from spec.state import Drain

    etcd = store(list(parse(DRAINED, "t.yaml").config.objects))
    s = Session(etcd, Ghost())
    key = "pods/team-a/solo"
    drain = Drain(0, "node-a", ((key, etcd.objects[key].meta.uid),))
    run(parse_command("kubectl delete namespace team-a", "x"), s)
    response = evict(s, key)
    assert response.code == 403 and response.cause == NAMESPACE_TERMINATING
    assert 'pods "solo" is forbidden: unable to create new content in namespace team-a' in response.message
    before = s.etcd
    output, after = drain_step(drain, key, s)
    assert after is drain and s.etcd is before  # retried (after 5 s): nothing written, nothing done
    assert 'error when evicting pod "solo" from terminating namespace "team-a" (will retry after 5s)' in output
    assert s.delete(key).ok  # the namespace controller deletes the pod (gracefully: it is bound)
    output, after = drain_step(drain, key, s)
    assert after is None and output == "pod/solo evicted; node/node-a drained"


def test_a_drain_during_the_namespace_deletion_holds_exhaustively() -> None:
    """Both commands at any point: the drain finishes or waits, the namespace is deleted (not vacuously)."""
    result = check(ClusterModel(parse(DRAINED, "t.yaml").config))
    assert result.status == "ok", result.verdict()
    assert {p.name: p.status for p in result.properties}["NamespaceEventuallyDeleted"] == "holds"


def test_cluster_scoped_objects_need_no_namespace_where_namespaces_are_declared() -> None:
    """A StorageClass and a PersistentVolume are cluster-scoped: declared Namespaces do not make them need one (they
    were refused as in namespace "" once claims were modelled)."""
    text = """
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: standard}
provisioner: csi.example.com
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv-a}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: standard
  hostPath: {path: /data}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: team}
spec:
  storageClassName: standard
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"""
    objects = parse(text, "volumes.yaml").config.objects
    assert {type(o).__name__ for o in objects} >= {"StorageClass", "PersistentVolume", "PersistentVolumeClaim"}
