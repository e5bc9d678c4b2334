"""The API server's handlers: resourceVersion, conflicts, generateName, validation, deletion, binding."""

from __future__ import annotations

import attrs
import immutables

from spec.apiserver import bind, create, delete, patch, store, update
from spec.scenario import builtin
from spec.state import Etcd, Ghost, Pod, with_meta


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
