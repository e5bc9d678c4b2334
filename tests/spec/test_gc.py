"""The garbage collector (spec/controllers/garbagecollector.py), the API server's deletion propagation and
``kubectl delete deployment --cascade``: unit tests of each mechanism against upstream's behaviour, and model checks
of the three propagation policies."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from checker import always, check, leads_to_always, sometimes
from checker.errors import InputError
from spec import kubectl
from spec.apiserver import Session, delete, gc_finalizers, store
from spec.controllers import garbagecollector as gc
from spec.ha_properties import dangling, no_dangling_dependents
from spec.model import ClusterModel
from spec.scenario import builtin, parse
from spec.state import (
    FINALIZER_FOREGROUND,
    FINALIZER_ORPHAN,
    ClusterState,
    Deployment,
    Ghost,
    Meta,
    OwnerRef,
    Pod,
    ReplicaSet,
    with_meta,
)


def _objects() -> list[Any]:
    s = builtin("cascade-delete")
    return list(s.config.objects)


def _rs_and_pod(etcd: Any) -> Any:
    """etcd with the cascade-delete Deployment, a ReplicaSet it owns and a bound pod the ReplicaSet owns."""
    d = etcd.objects["deployments/default/web"]
    rs = ReplicaSet(Meta("web-1", owner=OwnerRef("Deployment", "web", d.meta.uid)), 1, d.selector, d.template)
    session = Session(etcd, Ghost())
    rs = session.create(rs).obj
    pod = Pod(Meta("web-1-a", labels=d.template.labels, owner=OwnerRef("ReplicaSet", "web-1", rs.meta.uid)),
              d.template.containers, attrs.evolve(d.template.info, node_name="node-a"))
    session.create(pod)
    return session.etcd


def test_delete_propagation_sets_the_gc_finalizers() -> None:
    """store.go deletionFinalizersForGarbageCollection: the policy decides; without one the object's own GC
    finalizer stays; Background removes both."""
    assert gc_finalizers((), "Orphan") == (FINALIZER_ORPHAN,)
    assert gc_finalizers(("x",), "Foreground") == ("x", FINALIZER_FOREGROUND)
    assert gc_finalizers((FINALIZER_ORPHAN,), None) == (FINALIZER_ORPHAN,)
    assert gc_finalizers((FINALIZER_ORPHAN,), "Background") == ()
    assert gc_finalizers((FINALIZER_FOREGROUND,), "Orphan") == (FINALIZER_ORPHAN,)
    etcd = _rs_and_pod(store(_objects()))
    key = "deployments/default/web"
    gone, response = delete(etcd, key, propagation="Background")
    assert response.ok and key not in gone.objects
    kept, response = delete(etcd, key, propagation="Orphan")
    d = kept.objects[key]
    assert response.ok and d.meta.deleting and d.meta.finalizers == (FINALIZER_ORPHAN,)
    # a second DELETE may change the policy of an object that is not gracefully deleted
    again, _ = delete(kept, key, propagation="Foreground")
    assert again.objects[key].meta.finalizers == (FINALIZER_FOREGROUND,)
    # ... and one that removes every finalizer deletes it at once
    final, _ = delete(kept, key, propagation="Background")
    assert key not in final.objects


def test_a_pending_graceful_deletion_keeps_its_finalizers() -> None:
    etcd = _rs_and_pod(store(_objects()))
    key = "pods/default/web-1-a"
    etcd, _ = delete(etcd, key, propagation="Background")
    assert etcd.objects[key].meta.deleting
    same, response = delete(etcd, key, propagation="Foreground")
    assert response.ok and same is etcd


def test_delete_preconditions() -> None:
    etcd = _rs_and_pod(store(_objects()))
    key = "replicasets/default/web-1"
    rs = etcd.objects[key]
    _, response = delete(etcd, key, uid=rs.meta.uid + 100)
    assert response.code == 404
    _, response = delete(etcd, key, resource_version=rs.meta.resource_version - 1)
    assert response.code == 409 and "Precondition failed" in response.message
    _, response = delete(etcd, key, resource_version=rs.meta.resource_version)
    assert response.ok


def test_kubectl_delete_deployment_cascade() -> None:
    c = kubectl.parse("kubectl delete deployment web --cascade=foreground", "t")
    assert (c.resource, c.name, c.cascade) == ("deployments", "web", "foreground")
    assert kubectl.parse("kubectl delete deploy/web --cascade=false", "t").cascade == "orphan"
    assert kubectl.parse("kubectl delete rs web-1", "t").cascade == "background"
    for bad in ("kubectl delete deployment", "kubectl delete deployment web --cascade=sometimes",
                "kubectl delete deployment web -l app=web"):
        with pytest.raises(InputError):
            kubectl.parse(bad, "t")
    etcd = store(_objects())
    session = Session(etcd, Ghost())
    assert kubectl.run(c, session) == 'deployment.apps "web" deleted'
    assert session.etcd.objects["deployments/default/web"].meta.finalizers == (FINALIZER_FOREGROUND,)
    missing = kubectl.parse("kubectl delete deployment nope", "t")
    assert kubectl.run(missing, Session(etcd, Ghost())) == \
        'Error from server (NotFound): deployments.apps "nope" not found'


def _graph(etcd: Any) -> dict[str, Any]:
    return dict(etcd.objects.items())


def test_the_collector_checks_a_missing_owner_live() -> None:
    """An owner absent from the graph (the cache has not seen it) but present in etcd: nothing is deleted
    (isDangling's live GET)."""
    etcd = _rs_and_pod(store(_objects()))
    graph = {k: o for k, o in _graph(etcd).items() if not k.startswith("deployments/")}
    assert ("delete", "replicasets/default/web-1") in gc.work(graph.items())
    session = Session(etcd, Ghost())
    gc.reconcile(session, graph, "delete", "replicasets/default/web-1")
    assert session.writes == 0


def test_background_deletes_dependents_of_a_gone_owner() -> None:
    etcd = _rs_and_pod(store(_objects()))
    etcd, _ = delete(etcd, "deployments/default/web", propagation="Background")
    graph = _graph(etcd)
    assert gc.work(graph.items()) == [("delete", "replicasets/default/web-1")]
    session = Session(etcd, Ghost())
    gc.reconcile(session, graph, "delete", "replicasets/default/web-1")
    assert "replicasets/default/web-1" not in session.etcd.objects
    graph = _graph(session.etcd)
    assert gc.work(graph.items()) == [("delete", "pods/default/web-1-a")]
    s2 = Session(session.etcd, Ghost())
    gc.reconcile(s2, graph, "delete", "pods/default/web-1-a")
    assert s2.etcd.objects["pods/default/web-1-a"].meta.deleting  # bound: graceful, the kubelet finishes it


def test_foreground_waits_for_blocking_dependents() -> None:
    etcd = _rs_and_pod(store(_objects()))
    etcd, _ = delete(etcd, "deployments/default/web", propagation="Foreground")
    graph = _graph(etcd)
    # the owner waits (its dependent blocks), the dependent with dependents of its own goes in foreground too
    items = gc.work(graph.items())
    assert items == [("delete", "deployments/default/web"), ("delete", "replicasets/default/web-1")]
    session = Session(etcd, Ghost())
    gc.reconcile(session, graph, "delete", "deployments/default/web")
    assert session.writes == 0
    gc.reconcile(session, graph, "delete", "replicasets/default/web-1")
    rs = session.etcd.objects["replicasets/default/web-1"]
    assert rs.meta.deleting and rs.meta.finalizers == (FINALIZER_FOREGROUND,)
    # once the graph has no dependent left, the finalizer goes and the API server removes the owner
    etcd = session.etcd
    for key in ("pods/default/web-1-a", "replicasets/default/web-1"):
        etcd = etcd.__class__(etcd.revision, etcd.objects.delete(key), etcd.history, etcd.compacted,
                              etcd.next_uid)
    session = Session(etcd, Ghost())
    gc.reconcile(session, _graph(etcd), "delete", "deployments/default/web")
    assert "deployments/default/web" not in session.etcd.objects


def test_orphan_removes_owner_references_then_the_finalizer() -> None:
    etcd = _rs_and_pod(store(_objects()))
    etcd, _ = delete(etcd, "deployments/default/web", propagation="Orphan")
    graph = _graph(etcd)
    assert gc.work(graph.items()) == [("orphan", "deployments/default/web")]
    session = Session(etcd, Ghost())
    gc.reconcile(session, graph, "orphan", "deployments/default/web")
    assert session.etcd.objects["replicasets/default/web-1"].meta.owner is None
    assert session.etcd.objects["pods/default/web-1-a"].meta.owner is not None  # not the Deployment's dependent
    assert "deployments/default/web" not in session.etcd.objects


def _scenario(cascade: str) -> ClusterModel:
    from importlib import resources

    text = resources.files("spec.scenarios").joinpath("cascade-delete.yaml").read_text()
    text = text.replace('"kubectl delete deployment web"', f'"kubectl delete deployment web --cascade={cascade}"')
    return ClusterModel(attrs.evolve(parse(text, "t.yaml").config, properties=("NoOrphanedDependents",)))


def _owned_rs_exists(s: ClusterState) -> bool:
    return any(isinstance(o, ReplicaSet) and o.meta.owner is not None for o in s.etcd.of("replicasets"))


def _deployment(s: ClusterState) -> Deployment | None:
    d = s.etcd.get("deployments/default/web")
    return d if isinstance(d, Deployment) else None


def _deleting(s: ClusterState) -> bool:
    d = _deployment(s)
    return d is None or d.meta.deleting


def test_background_cascade_completes() -> None:
    result = check(ClusterModel(builtin("cascade-delete").config))
    assert result.status == "ok", result.verdict()
    verdict = {p.name: p.status for p in result.properties}
    assert verdict["NoOrphanedDependents"] == "holds"  # not vacuous: the premise is reached
    model = ClusterModel(attrs.evolve(builtin("cascade-delete").config, properties=()))
    model.properties = (sometimes("SomeDangling", lambda s: bool(dangling(s))),
                        leads_to_always("AllGone", lambda s: _deployment(s) is None,
                                        lambda s: not any(True for _ in s.etcd.of("pods"))))
    result = check(model)
    verdict = {p.name: p.status for p in result.properties}
    assert verdict == {"deadlock": "holds", "SomeDangling": "holds", "AllGone": "holds"}


@pytest.mark.slow
def test_foreground_owner_waits_for_its_dependents() -> None:
    model = _scenario("foreground")
    model.properties = (
        *model.properties,
        sometimes("OwnerWaits", lambda s: (d := _deployment(s)) is not None and d.meta.deleting
                  and _owned_rs_exists(s)),
        leads_to_always("Gone", _deleting, lambda s: set(s.etcd.objects.keys()) == {"nodes/node-a"}),
    )
    result = check(model)
    assert result.status == "ok", result.verdict()
    assert all(p.status == "holds" for p in result.properties), result.properties
    assert len(result.properties) >= 3


def test_finding_a_foreground_owner_may_go_before_a_dependent_created_meanwhile() -> None:
    """A finding (docs/spec.md): the Deployment controller, whose cache does not show the deletionTimestamp yet,
    creates a ReplicaSet; the collector, whose graph has not seen it, finds no blocking dependent and removes
    foregroundDeletion; the owner goes first and the new ReplicaSet is collected in background afterwards."""
    model = _scenario("foreground")
    model.properties = (always("OwnerOutlivesDependents", lambda s: _deployment(s) is not None
                               or not _owned_rs_exists(s)),)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    lines = [model.describe(step.action) for step in result.violation.trace[1:]]
    assert "Scaled up replica set" in lines[1] and "removed the foregroundDeletion finalizer" in lines[-1]


def _after_rollout(cascade: str) -> ClusterModel:
    """The scenario started from its first state where the rollout is complete and the delete is still to come
    (no dependent is created while the deletion is under way: the race of the finding above is ruled out)."""
    from spec.properties import rollouts_complete

    model = _scenario(cascade)
    model.properties = (always("NotYet", lambda s: not (rollouts_complete(s) and s.pending_commands
                                                         and any(True for _ in s.etcd.of("pods")))),)
    found = check(model)
    assert found.violation is not None
    start = found.violation.trace[-1].state

    class FromRollout(ClusterModel):
        def init_states(self) -> list[ClusterState]:
            return [start]

    return FromRollout(model.config)


def test_foreground_owner_outlives_the_dependents_it_had() -> None:
    model = _after_rollout("foreground")
    model.properties = (
        always("OwnerOutlivesDependents", lambda s: _deployment(s) is not None or not _owned_rs_exists(s)),
        always("ReplicaSetOutlivesPods", lambda s: all(
            f"replicasets/default/{o.meta.owner.name}" in s.etcd.objects for o in s.etcd.of("pods")
            if o.meta.owner is not None)),
        leads_to_always("Gone", _deleting, lambda s: set(s.etcd.objects.keys()) == {"nodes/node-a"}),
    )
    result = check(model)
    assert result.status == "ok", result.verdict()
    assert all(p.status == "holds" for p in result.properties), result.properties


def test_orphan_keeps_the_dependents() -> None:
    model = _after_rollout("orphan")
    model.properties = (
        always("NoDependentDeleted", lambda s: not any(o.meta.deleting for k, o in s.etcd.objects.items()
                                                        if not k.startswith("deployments/"))),
        leads_to_always("Orphaned", _deleting, lambda s: _deployment(s) is None and not _owned_rs_exists(s)
                        and no_dangling_dependents(s)),
        sometimes("OrphanRunning", lambda s: _deployment(s) is None and any(
            isinstance(p, Pod) and p.status.ready for p in s.etcd.of("pods"))),
    )
    result = check(model)
    assert result.status == "ok", result.verdict()
    assert all(p.status == "holds" for p in result.properties), result.properties


def test_without_the_collector_dependents_stay_orphaned() -> None:
    """The property can fail: with the collector's steps removed, NoOrphanedDependents is violated."""
    import spec.cluster as cluster
    from spec.controllers.garbagecollector import GARBAGE_COLLECTOR

    saved = cluster.COMPONENTS
    cluster.COMPONENTS = tuple(c for c in saved if c is not GARBAGE_COLLECTOR)  # the composition without it
    try:
        model = ClusterModel(attrs.evolve(builtin("cascade-delete").config, properties=("NoOrphanedDependents",)))
        result = check(model)
    finally:
        cluster.COMPONENTS = saved
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "NoOrphanedDependents"


def test_meta_owner_and_finalizers_survive_with_meta() -> None:
    m = Meta("x", finalizers=(FINALIZER_ORPHAN,), owner=OwnerRef("Deployment", "web", 3))
    pod = Pod(m, (), _objects()[1].template.info)
    assert with_meta(pod, deleting=True).meta.finalizers == (FINALIZER_ORPHAN,)


# --- orphaning and re-adoption (kubernetes#24934, #42639; the gc-readoption variant) -------------------------


def test_cascade_orphan_keeps_the_pod_orphaned_and_running() -> None:
    """The built-in cascade-orphan: the ReplicaSet goes, its pod stays, orphaned for good (not vacuous: the
    orphaning happens, and the orphan runs)."""
    from spec.ha_properties import orphans_stay_orphaned

    scenario = builtin("cascade-orphan")
    model = ClusterModel(attrs.evolve(scenario.config, properties=()))
    model.properties = (
        always("OrphansStayOrphaned", orphans_stay_orphaned),
        sometimes("Orphaned", lambda s: bool(s.ghost.orphaned) and not any(
            isinstance(o, ReplicaSet) for o in s.etcd.objects.values())),
        sometimes("OrphanRunning", lambda s: bool(s.ghost.orphaned) and any(
            isinstance(p, Pod) and p.status.ready and p.meta.owner is None for p in s.etcd.of("pods"))),
    )
    result = check(model, deadlock=False)
    assert result.status == "ok", result.verdict()
    assert all(p.status == "holds" for p in result.properties), result.properties


def test_a_deleting_replicaset_does_not_adopt() -> None:
    """can_adopt (RecheckDeletionTimestamp): refused when etcd shows the ReplicaSet deleting, gone or replaced,
    whatever the cache says."""
    from spec.controllers.replicaset import can_adopt

    rs = next(o for o in builtin("cascade-orphan").config.objects if isinstance(o, ReplicaSet))
    etcd = store([rs])
    cached = etcd.objects["replicasets/default/web"]
    assert isinstance(cached, ReplicaSet)
    assert can_adopt(Session(etcd, Ghost()), cached) == ""
    s = Session(etcd, Ghost())
    s.delete("replicasets/default/web", propagation="Orphan")
    assert "has just been deleted" in can_adopt(s, cached)
    s = Session(etcd, Ghost())
    s.delete("replicasets/default/web")
    assert "is gone" in can_adopt(s, cached)


def test_the_readoption_variant_deletes_the_orphan() -> None:
    """gc-readoption: the ReplicaSet's cache shows it deleting but not yet gone; it adopts the pod the collector
    has just orphaned, which then names a deleted owner (and the collector deletes it)."""
    from spec.scenario import with_overrides

    scenario = with_overrides(builtin("cascade-orphan"), ("gc-readoption",))
    model = ClusterModel(attrs.evolve(scenario.config, properties=("OrphansStayOrphaned",)))
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    lines = [model.describe(step.action) for step in result.violation.trace[1:]]
    assert any("orphaned" in line for line in lines)
    assert lines[-1].startswith("replicaset-controller reconciles")
