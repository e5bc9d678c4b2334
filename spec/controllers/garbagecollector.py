"""The garbage collector: ownerReferences, cascading deletion (background, foreground, orphan) and its finalizers.

Upstream: pkg/controller/garbagecollector/graph_builder.go (the dependency graph of uid nodes built from the
monitors' events: processGraphChanges, processTransitions, virtual nodes for owners not observed yet),
garbagecollector.go (attemptToDeleteItem, classifyReferences, processDeletingDependentsItem,
attemptToOrphanWorker, orphanDependents), operations.go (deleteObject with the uid and, since kubernetes#132632,
the resourceVersion precondition; removeFinalizer: GET then update, retried on conflict), and the API server's
side in staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go (``spec.apiserver.delete``).

Modelled, one work item per step (one worker's attemptToDeleteItem or attemptToOrphanWorker):

- *background*: an object whose owner (by uid) is gone is deleted, with the propagation its own finalizers ask for
  (orphan, foreground, else background); the owner's absence is checked with a live GET, as isDangling does, so a
  cache that has not seen the owner yet deletes nothing;
- *foreground*: an owner with deletionTimestamp and the ``foregroundDeletion`` finalizer has its dependents deleted
  (in foreground themselves when they have dependents: "at least one owner of item has
  FinalizerDeletingDependents, and the item itself has dependents"), and loses the finalizer once no blocking
  dependent is left in the graph, which is when the API server removes it;
- *orphan*: an owner with deletionTimestamp and the ``orphan`` finalizer has its ownerReference removed from every
  dependent in the graph (a patch with the dependent's uid as precondition), then loses the finalizer. Each removal
  is noted in the ``orphaned`` history variable (``spec.state.Ghost``), which OrphansStayOrphaned reads: the owner's
  controller must not adopt the dependent back (its adoption guard, ``spec.controllers.replicaset.can_adopt``; the
  ``gc-readoption`` variant, kubernetes#24934 and #42639, drops it).

Abstracted: the graph is the controller manager's shared informers' caches (upstream the garbage collector's
monitors reuse the shared informers of the kinds that have them, through the same factory; its handlers are
separate listeners and its graph is rebuilt by its own goroutine, so the model gives the collector the controllers'
lag, not a lag of its own). Its queues are level-triggered: an item is worked on whenever the graph says it needs
work (an owner missing from the graph, an owner or an item deleting with a GC finalizer), which is what the graph
builder enqueues on each such transition; a work item that finds nothing to do (its live GETs show the owner
exists) changes nothing and is no step. So the collector holds no state of its own, and a controller-manager crash
(which loses the graph) is its informers' relist. Every ownerReference the model's controllers write is the
controller reference with blockOwnerDeletion true (replica_set.go, deployment sync.go and job_controller.go all set
both), so every dependent blocks its owner's foreground deletion.
Omitted: objects with several owners (no modelled controller writes one), hence unblocking references
(unblockOwnerReferencesStrategicMergePatch) and the cycle detection that goes with it; the absent-owner cache
(a memo of the live lookups, which the model does every time); discovery of resources (the modelled kinds are
fixed); deleting through a stale rest mapping.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs
import immutables

from spec import actions as A
from spec import component
from spec.apiserver import Session
from spec.controllers.manager import running
from spec.state import (
    FINALIZER_FOREGROUND,
    FINALIZER_ORPHAN,
    ClusterState,
    Etcd,
    Ghost,
    Key,
    Object,
    OwnerRef,
    key_of,
    object_key,
    with_meta,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "garbage-collector"

OWNER_RESOURCE = {"Deployment": "deployments", "ReplicaSet": "replicasets", "Job": "jobs", "DaemonSet": "daemonsets",
                  "ReplicationController": "replicationcontrollers"}
"""Owner kinds to their resource (the rest mapping, for the kinds the model has)."""


def owner_key(obj: Object, owner: OwnerRef) -> Key:
    """The key of ``obj``'s owner (an ownerReference names a kind and a name in the dependent's namespace)."""
    return key_of(OWNER_RESOURCE.get(owner.kind, owner.kind.lower() + "s"), obj.meta.namespace, owner.name)


def _deleting_dependents(obj: Object) -> bool:
    """node.isDeletingDependents: deletionTimestamp set and the foregroundDeletion finalizer."""
    return obj.meta.deleting and FINALIZER_FOREGROUND in obj.meta.finalizers


def work(graph: Iterable[tuple[Key, Object]]) -> list[tuple[str, Key]]:
    """The work items the graph asks for now, in key order: ("orphan", owner key) for attemptToOrphan, ("delete",
    key) for attemptToDelete. ``graph`` is every object the collector's monitors hold."""
    objects = dict(graph)
    by_uid = {o.meta.uid: o for o in objects.values()}
    items: list[tuple[str, Key]] = []
    for key in sorted(objects):
        obj = objects[key]
        m = obj.meta
        if m.deleting:
            if FINALIZER_FOREGROUND in m.finalizers:
                items.append(("delete", key))  # processDeletingDependentsItem
            elif FINALIZER_ORPHAN in m.finalizers:
                items.append(("orphan", key))
            continue  # attemptToDeleteItem returns at once for an item being deleted otherwise
        owner = m.owner
        if owner is None:
            continue
        node = by_uid.get(owner.uid)
        if node is None or object_key(node) != owner_key(obj, owner) or _deleting_dependents(node):
            # an owner absent from the graph (a virtual node: verified with a live GET), or one deleting its
            # dependents in foreground (processDeletingDependentsItem enqueues every blocking dependent)
            items.append(("delete", key))
    return items


def _dependents(graph: dict[Key, Object], uid: int) -> list[Key]:
    return sorted(k for k, o in graph.items() if o.meta.owner is not None and o.meta.owner.uid == uid)


def _remove_finalizer(session: Session, key: Key, uid: int, finalizer: str) -> bool:
    """operations.go removeFinalizer: GET the owner, drop the finalizer, update (with the GET's resourceVersion; the
    model's GET and update are one step, so the retry on conflict never runs)."""
    latest = session.get(key)
    if latest is None or latest.meta.uid != uid or finalizer not in latest.meta.finalizers:
        return False
    finalizers = tuple(f for f in latest.meta.finalizers if f != finalizer)
    return session.update(with_meta(latest, finalizers=finalizers)).ok


def _policy(obj: Object) -> str:
    """The propagation a collected item is deleted with: the one its own finalizers ask for, else background."""
    if FINALIZER_ORPHAN in obj.meta.finalizers:
        return "Orphan"
    if FINALIZER_FOREGROUND in obj.meta.finalizers:
        return "Foreground"
    return "Background"


def attempt_to_orphan(session: Session, graph: dict[Key, Object], key: Key) -> None:
    """attemptToOrphanWorker: remove the owner from every dependent's ownerReferences, then the orphan finalizer."""
    owner = graph[key]
    uid = owner.meta.uid
    for dep_key in _dependents(graph, uid):
        dep = graph[dep_key]
        latest = session.get(dep_key)
        # a strategic-merge patch deleting the ownerReference of this uid, with the dependent's uid as precondition
        if latest is None or latest.meta.uid != dep.meta.uid:
            continue  # NotFound is not an error here
        owned = latest.meta.owner is not None and latest.meta.owner.uid == uid
        if owned and session.patch(dep_key, with_meta(latest, owner=None), uid=dep.meta.uid).ok:
            session.event(dep_key, "Normal", "GarbageCollector", f"removed the ownerReference to {key} (orphaned)")
            ghost = session.ghost  # the history variable of OrphansStayOrphaned (no component reads it)
            session.ghost = attrs.evolve(ghost, orphaned=ghost.orphaned | {(dep.meta.uid, uid)})
    if _remove_finalizer(session, key, uid, FINALIZER_ORPHAN):
        session.event(key, "Normal", "GarbageCollector", "removed the orphan finalizer")


def attempt_to_delete(session: Session, graph: dict[Key, Object], key: Key, *, rv_precondition: bool = True) -> None:
    """attemptToDeleteItem for the graph node at ``key``. ``rv_precondition`` False restores the delete without
    a resourceVersion precondition (before kubernetes#132632)."""
    item = graph[key]
    if item.meta.deleting and not _deleting_dependents(item):
        return
    latest = session.get(key)
    if latest is None or latest.meta.uid != item.meta.uid:
        return  # a virtual delete event: the graph drops the node, nothing is written
    if _deleting_dependents(item):
        # processDeletingDependentsItem: the blocking dependents the graph still has (every dependent blocks)
        if not _dependents(graph, item.meta.uid) and _remove_finalizer(
                session, key, item.meta.uid, FINALIZER_FOREGROUND):
            session.event(key, "Normal", "GarbageCollector", "removed the foregroundDeletion finalizer")
        return
    owner = latest.meta.owner
    if owner is None:
        return
    live = session.get(owner_key(latest, owner))
    if live is not None and live.meta.uid == owner.uid:
        if not _deleting_dependents(live):
            return  # a solid owner: not garbage
        # the owner waits for its dependents' deletion
        policy = "Foreground" if _dependents(graph, item.meta.uid) else _policy(latest)
        why = f"its owner {owner.kind} {owner.name} is deleting its dependents in foreground"
    else:
        policy = _policy(latest)
        why = f"its owner {owner.kind} {owner.name} (uid {owner.uid}) is gone"
    rv = latest.meta.resource_version if rv_precondition else None
    response = session.delete(key, uid=item.meta.uid, propagation=policy, resource_version=rv)
    if response.ok:
        session.event(key, "Normal", "GarbageCollector", f"deleted ({policy}): {why}")


def reconcile(session: Session, graph: dict[Key, Object], what: str, key: Key, *, rv_precondition: bool = True
              ) -> None:
    """One work item (``work``): ("orphan", key) or ("delete", key)."""
    if what == "orphan":
        attempt_to_orphan(session, graph, key)
    else:
        attempt_to_delete(session, graph, key, rv_precondition=rv_precondition)


@functools.lru_cache(maxsize=1 << 14)
def _graph_work(caches: tuple[immutables.Map[Key, Object], ...]) -> tuple[
        dict[Key, Object], tuple[tuple[str, Key], ...]]:
    graph: dict[Key, Object] = {}
    for cache in caches:
        graph.update(cache.items())
    return graph, tuple(work(graph.items()))


Step = tuple[str, Key, Etcd, Ghost, tuple[str, ...]]


def steps(caches: tuple[immutables.Map[Key, Object], ...], etcd: Etcd, ghost: Ghost, rv_precondition: bool = True
          ) -> tuple[Step, ...]:
    """Every work item that changes something: (what, key, etcd', ghost', events). A pure function of the
    graph (the monitors' caches) and etcd, memoised: a work item whose live GETs find nothing to do is no step."""
    graph, items = _graph_work(caches)
    if not items:
        return ()
    return _steps(caches, etcd, ghost, rv_precondition)


@functools.lru_cache(maxsize=1 << 14)
def _steps(caches: tuple[immutables.Map[Key, Object], ...], etcd: Etcd, ghost: Ghost, rv_precondition: bool
           ) -> tuple[Step, ...]:
    graph, items = _graph_work(caches)
    out = []
    for what, key in items:
        session = Session(etcd, ghost)
        reconcile(session, graph, what, key, rv_precondition=rv_precondition)
        if session.writes:
            out.append((what, key, session.etcd, session.ghost, tuple(session.events)))
    return tuple(out)


# --- the component (spec.component) ----------------------------------------------------------------------------


def gc_work(state: ClusterState, config: Config) -> tuple[Step, ...]:
    """The garbage collector's work items that change something (``steps``), over the controller manager's
    caches; none while no kube-controller-manager replica acts (``spec.controllers.manager.running``)."""
    if not running(state):
        return ()
    caches = tuple(i.cache for i in state.kcm.informers)
    if state.jobs is not None:  # the Job informer (the shared informer factory's): Jobs own their pods
        caches += (state.jobs.informer.cache,)
    if state.daemonsets is not None:  # the DaemonSet informer (the shared informer factory's): they own their pods
        caches += (state.daemonsets.informers[0].cache,)
    if state.cronjobs is not None:  # the CronJob informer (the shared informer factory's): CronJobs own their Jobs
        caches += (state.cronjobs.informer.cache,)
    if state.rcs is not None:  # the ReplicationController informer: they own their pods
        caches += (state.rcs.informer.cache,)
    return steps(caches, state.etcd, state.ghost, True)


class GarbageCollectorComponent(component.Base):
    """The garbage collector: no slot of its own (its graph is the controller manager's caches); steps
    ``Reconcile`` (one work item that changes something), actor "garbage-collector", weakly fair. No timers. A
    controller-manager restart loses its graph, which is the informers' relist (the controller manager's own
    ``restart``): nothing of its own."""

    name = "garbage-collector"
    host = component.Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR,)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR,)

    def steps(self, state: ClusterState, config: Config) -> Iterator[component.Step]:
        for _, key, etcd, ghost, events in gc_work(state, config):
            yield A.Reconcile(ACTOR, key, False, events), settle(state._with(etcd=etcd, ghost=ghost), config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if gc_work(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return bool(gc_work(state, config))


GARBAGE_COLLECTOR = GarbageCollectorComponent()
