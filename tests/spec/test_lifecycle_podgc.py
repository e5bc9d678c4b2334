"""The pod garbage collector's passes (spec/controllers/podgc.py, pkg/controller/podgc/gc_controller.go)."""

from __future__ import annotations

import attrs

from spec.apiserver import Session, store
from spec.controllers import podgc
from spec.scheduling.types import NodeInfo, PodInfo, Taint
from spec.state import Container, Ghost, Meta, Node, Pod, PodGC, PodStatus, with_meta


def node(name: str, ready: str = "True", taints: tuple[Taint, ...] = ()) -> Node:
    return Node(Meta(name, namespace=""), NodeInfo(name, taints=taints), ready)


def pod(name: str, node_name: str = "", *, deleting: bool = False, phase: str = "Running") -> Pod:
    return Pod(Meta(name, deleting=deleting), (Container("c", "nginx"),), PodInfo(name, node_name=node_name),
               PodStatus(phase=phase, ready=phase == "Running"))


def test_an_orphan_is_quarantined_for_40_s_then_force_deleted() -> None:
    etcd = store([node("a"), pod("web", "gone")])
    p = podgc.plan(PodGC(), etcd.objects, 0)
    assert p is not None and p.deletions == () and p.podgc.quarantine == (("gone", podgc.QUARANTINE_MS),)
    assert podgc.plan(p.podgc, etcd.objects, 0) is None  # nothing more until the quarantine is over
    assert podgc.timers(p.podgc) == [40_000]
    over = podgc.elapse(p.podgc, 40_000)
    session = Session(etcd, Ghost())
    after = podgc.gc(over, session, 0)
    assert "pods/default/web" not in session.etcd.objects and after == PodGC()
    assert any("orphaned: node gone no longer exists" in e for e in session.events)


def test_a_node_that_reappears_during_the_quarantine_keeps_its_pods() -> None:
    etcd = store([node("a"), pod("web", "a")])
    p = podgc.plan(PodGC((("a", 0),)), etcd.objects, 0)
    assert p is not None and p.deletions == () and p.podgc == PodGC()


def test_the_variant_never_collects_orphans() -> None:
    etcd = store([node("a"), pod("web", "gone")])
    assert podgc.plan(PodGC(), etcd.objects, 0, orphans=False) is None


def test_terminating_pods_on_out_of_service_nodes_are_force_deleted() -> None:
    oos = Taint(podgc.TAINT_OUT_OF_SERVICE, "nodeshutdown", "NoExecute")
    etcd = store([node("a", "Unknown", (oos,)), node("b", "True", (oos,)), node("c", "Unknown"),
                  pod("x", "a"), pod("y", "b"), pod("z", "c"), pod("w", "a")])
    objects = etcd.objects
    for name in "xyz":  # being deleted (store() admits objects as new, without a deletionTimestamp)
        key = f"pods/default/{name}"
        objects = objects.set(key, with_meta(objects[key], deleting=True))
    etcd = attrs.evolve(etcd, objects=objects)
    p = podgc.plan(PodGC(), etcd.objects, 0)
    assert p is not None and [k for k, _ in p.deletions] == ["pods/default/x"]


def test_terminated_pods_beyond_the_threshold_oldest_first() -> None:
    pods = [attrs.evolve(pod(f"p{i}", "a", phase="Succeeded"), meta=Meta(f"p{i}", uid=i)) for i in range(1, 5)]
    etcd = store([node("a"), *pods])
    p = podgc.plan(PodGC(), etcd.objects, 2)
    assert p is not None and len(p.deletions) == 2
    assert podgc.plan(PodGC(), etcd.objects, 4) is None
    assert podgc.plan(PodGC(), etcd.objects, 0) is None  # 0: off, as upstream's flag


def test_a_forced_deletion_marks_the_pod_failed_first() -> None:
    etcd = store([node("a"), pod("web", "gone")])
    session = Session(etcd, Ghost())
    podgc.gc(PodGC((("gone", 0),)), session, 0)
    assert session.writes == 2 and "pods/default/web" not in session.etcd.objects
