"""The API server's handlers: resourceVersion, conflicts, generateName, validation, deletion, binding."""

from __future__ import annotations

import attrs
import immutables

from spec.apiserver import bind, create, delete, patch, store, update
from spec.scenario import builtin
from spec.scheduling.types import LabelSelector, PodInfo, pairs
from spec.state import (
    GROUP,
    RESOURCE,
    Container,
    Etcd,
    Ghost,
    Meta,
    Object,
    Pod,
    PodTemplate,
    StatefulSet,
    object_key,
    qualified_resource,
    with_meta,
)


def _etcd() -> tuple[Etcd, Pod]:
    s = builtin("pod-two-nodes")
    etcd = store(list(s.config.objects))
    pod = etcd.objects["pods/default/web"]
    assert isinstance(pod, Pod)
    return etcd, pod


def test_every_write_bumps_the_revision_and_stamps_the_object() -> None:
    etcd, pod = _etcd()
    before = etcd.revision
    etcd2, response = patch(etcd, "pods/default/web", attrs.evolve(pod, scheduler_name="other"))
    assert response.ok and etcd2.revision == before + 1
    assert etcd2.objects["pods/default/web"].meta.resource_version == before + 1
    assert etcd2.history[-1].type == "MODIFIED" and etcd2.history[-1].rv == before + 1


def test_an_update_that_changes_nothing_writes_nothing() -> None:
    etcd, pod = _etcd()
    etcd2, response = update(etcd, pod)
    assert response.ok and etcd2 is etcd


def test_a_stale_resource_version_is_a_conflict() -> None:
    etcd, pod = _etcd()
    etcd2, _ = patch(etcd, "pods/default/web", attrs.evolve(pod, scheduler_name="other"))
    etcd3, response = update(etcd2, attrs.evolve(pod, scheduler_name="third"))
    assert response.code == 409 and response.reason == "Conflict" and etcd3 is etcd2
    assert "the object has been modified" in response.message


def test_generate_name_gives_fresh_names() -> None:
    etcd, pod = _etcd()
    template = with_meta(pod, name="", generate_name="web-")
    etcd, first, _ = create(etcd, template)
    etcd, second, _ = create(etcd, template)
    assert first.ok and second.ok
    assert first.obj is not None and second.obj is not None
    assert first.obj.meta.name != second.obj.meta.name
    assert first.obj.meta.name.startswith("web-") and len(first.obj.meta.name) == len("web-") + 5
    assert first.obj.meta.uid != second.obj.meta.uid


def test_invalid_objects_are_rejected_with_a_reason() -> None:
    etcd, pod = _etcd()
    etcd2, response, _ = create(etcd, with_meta(pod, name="Bad_Name"))
    assert response.code == 422 and response.reason == "Invalid" and etcd2 is etcd
    assert 'Pod "Bad_Name" is invalid: metadata.name' in response.message


def test_a_bound_pod_is_deleted_gracefully_then_for_good() -> None:
    etcd, pod = _etcd()
    etcd, _, _ = bind(etcd, "pods/default/web", pod.meta.uid, "node-a", Ghost())
    etcd, response = delete(etcd, "pods/default/web")
    assert response.ok and etcd.objects["pods/default/web"].meta.deleting
    etcd, response = delete(etcd, "pods/default/web", grace=False)
    assert response.ok and "pods/default/web" not in etcd.objects
    assert etcd.history[-1].type == "DELETED"


def test_an_unbound_pod_is_deleted_at_once() -> None:
    etcd, _ = _etcd()
    etcd, response = delete(etcd, "pods/default/web")
    assert response.ok and "pods/default/web" not in etcd.objects


def test_binding_requires_an_unbound_pod_unless_unguarded() -> None:
    etcd, pod = _etcd()
    etcd, first, ghost = bind(etcd, "pods/default/web", pod.meta.uid, "node-a", Ghost())
    assert first.ok
    _, second, ghost2 = bind(etcd, "pods/default/web", pod.meta.uid, "node-b", ghost)
    assert second.code == 409 and "already assigned to node 'node-a'" in second.message and not ghost2.rebinds
    etcd3, third, ghost3 = bind(etcd, "pods/default/web", pod.meta.uid, "node-b", ghost, guarded=False)
    assert third.ok and ghost3.rebinds == {"pods/default/web"}
    assert etcd3.objects["pods/default/web"].node_name == "node-b"  # type: ignore[union-attr]


def test_finalizers_hold_a_deletion() -> None:
    etcd, pod = _etcd()
    etcd, _ = patch(etcd, "pods/default/web", with_meta(pod, finalizers=("example.com/hold",)))
    etcd, response = delete(etcd, "pods/default/web")
    held = etcd.objects["pods/default/web"]
    assert response.ok and held.meta.deleting
    assert isinstance(etcd.objects, immutables.Map)


UPSTREAM_NAMES = {
    "pods": "pods", "nodes": "nodes", "services": "services", "replicasets": "replicasets.apps",
    "deployments": "deployments.apps", "statefulsets": "statefulsets.apps",
    "poddisruptionbudgets": "poddisruptionbudgets.policy", "endpointslices": "endpointslices.discovery.k8s.io",
    "leases": "leases.coordination.k8s.io", "jobs": "jobs.batch", "daemonsets": "daemonsets.apps",
    "namespaces": "namespaces", "cronjobs": "cronjobs.batch",
    "persistentvolumeclaims": "persistentvolumeclaims", "persistentvolumes": "persistentvolumes",
    "storageclasses": "storageclasses.storage.k8s.io",
}
"""schema.GroupResource.String() as upstream's errors print it (staging/src/k8s.io/apimachinery/pkg/api/errors)."""
UPSTREAM_NAMES["horizontalpodautoscalers"] = "horizontalpodautoscalers.autoscaling"
UPSTREAM_NAMES["replicationcontrollers"] = "replicationcontrollers"  # the core group


def _one_of_each_kind() -> dict[str, Object]:
    from spec.scenario import builtin_names

    labels = pairs({"app": "db"})
    template = PodTemplate(labels, (Container("db", "postgres:16"),), PodInfo(name="", labels=labels))
    out: dict[str, Object] = {"statefulsets": StatefulSet(Meta(name="db"), 1, LabelSelector(labels), template, "db")}
    for name in builtin_names():
        for obj in builtin(name).config.objects:
            out.setdefault(RESOURCE[type(obj)], obj)
    return out


def test_every_resource_is_named_with_its_group() -> None:
    assert set(RESOURCE.values()) <= set(GROUP), "a kind without its API group (spec.state.GROUP)"
    for resource, qualified in UPSTREAM_NAMES.items():
        assert qualified_resource(resource) == qualified


def test_conflict_not_found_and_already_exists_name_the_qualified_resource() -> None:
    """As upstream: 'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; ...'."""
    objects = _one_of_each_kind()
    assert {"pods", "nodes", "replicasets", "deployments", "statefulsets", "poddisruptionbudgets",
            "services"} <= set(objects)
    for resource, obj in objects.items():
        name = obj.meta.name
        qualified = UPSTREAM_NAMES[resource]
        etcd = store([obj])
        stored = etcd.objects[object_key(obj)]
        _, response = update(etcd, with_meta(stored, resource_version=stored.meta.resource_version + 7))
        assert (response.code, response.message) == (409, f'Operation cannot be fulfilled on {qualified} "{name}": '
                                                     "the object has been modified; please apply your changes to "
                                                     "the latest version and try again")
        _, response = delete(etcd, object_key(obj), resource_version=stored.meta.resource_version + 7)
        assert response.code == 409 and response.message.startswith(
            f'Operation cannot be fulfilled on {qualified} "{name}": Precondition failed')
        _, response, _ = create(etcd, obj)
        assert (response.code, response.message) == (409, f'{qualified} "{name}" already exists')
        _, response = update(store([]), stored)
        assert (response.code, response.message) == (404, f'{qualified} "{name}" not found')
        _, response = delete(store([]), object_key(obj))
        assert (response.code, response.message) == (404, f'{qualified} "{name}" not found')
