"""The namespace controller: a namespace being deleted has its content deleted, then loses the ``kubernetes``
finalizer of its spec.finalizers, and is gone.

Upstream: pkg/controller/namespace/namespace_controller.go (syncNamespaceFromKey: one namespace per work item,
requeued after the deleter's estimate while content remains), pkg/controller/namespace/deletion/
namespaced_resources_deleter.go (Delete: GET the namespace; nothing to do without a deletionTimestamp;
updateNamespaceStatusFunc sets phase Terminating; deleteAllContent: for every namespaced resource the API server
serves, DELETE the collection with propagationPolicy Background, then list what remains; ResourcesRemainingError
while something remains; finalizeNamespace removes the finalizer token ``kubernetes`` from spec.finalizers through
the finalize subresource; deleteNamespace with the uid as precondition), the API server's side in
pkg/registry/core/namespace/storage/storage.go (a DELETE only sets deletionTimestamp and phase Terminating while
spec.finalizers is not empty; ShouldDeleteNamespaceDuringUpdate removes the namespace once the finalize update
empties them) and pkg/admission/plugin/namespace/lifecycle/admission.go (no creates in a Terminating namespace:
``spec.apiserver.namespace_lifecycle``).

Modelled: one sync of one Terminating namespace per step (actor "namespace-controller", weakly fair): the DELETE of
every object of the namespace not being deleted yet, of every namespaced kind the model has (``CONTENT``, in
upstream's discovery order of groups: core, apps, batch, discovery, policy) with background propagation; when
nothing is left, the finalize update (which removes the namespace: its metadata has no finalizer) and the DELETE
that finds it gone.
Abstracted: the controller's reads are live (upstream's deleter GETs the namespace and lists every resource from
the API server, not from an informer), so its namespace informer only decides *when* a sync happens, which the
interleavings already cover: the work is level-triggered from etcd, like the garbage collector's, and a sync that
would change nothing (content still terminating: pods waiting for their kubelet, objects waiting for their
finalizers) is no step; the requeue after the estimate (the pods' grace period) is that same waiting. The deletions
of one sync are one step. So the controller has no state of its own, and a controller-manager restart loses
nothing it has. The namespace's status conditions (NamespaceDeletionDiscoveryFailure, ...ContentFailure,
...ContentRemaining, ...FinalizersRemaining) are omitted: nothing reads them.
Omitted: discovery failures and the opCache of unsupported verbs (the kinds are fixed); other finalizer tokens in
spec.finalizers (only ``kubernetes`` is modelled); namespace creation while the cluster runs.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from spec import actions as A
from spec import component
from spec.apiserver import Session
from spec.controllers.manager import running
from spec.state import (
    FINALIZER_KUBERNETES,
    ClusterState,
    Etcd,
    Ghost,
    Key,
    Namespace,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "namespace-controller"

CONTENT = ("pods", "services", "persistentvolumeclaims",
           "deployments", "replicasets", "statefulsets", "cronjobs", "jobs", "endpointslices",
           "poddisruptionbudgets",
           "leases", "daemonsets")
"""The namespaced resources the deleter deletes, in the order it walks them (the model's kinds; upstream walks
every namespaced resource that discovery lists and supports delete)."""
CONTENT = (*CONTENT, "horizontalpodautoscalers")  # type: ignore[assignment]  # (spec.controllers.podautoscaler)
CONTENT = (*CONTENT, "replicationcontrollers")  # type: ignore[assignment]  # (spec.controllers.replication)


def terminating(etcd: Etcd) -> list[Namespace]:
    """The namespaces with a deletionTimestamp (the work items), in name order."""
    return sorted((o for o in etcd.of("namespaces") if isinstance(o, Namespace) and o.meta.deleting),
                  key=lambda n: n.meta.name)


def content(etcd: Etcd, namespace: str) -> list[Key]:
    """Every stored object of ``namespace``, in ``CONTENT`` order (listCollection of each resource)."""
    out: list[Key] = []
    for resource in CONTENT:
        out += sorted(k for k, o in etcd.objects.items() if k.startswith(resource + "/")
                      and o.meta.namespace == namespace)
    return out


def sync(session: Session, name: str) -> None:
    """namespacedResourcesDeleter.Delete for the namespace ``name``, against the API server (live reads)."""
    key = f"namespaces/{name}"
    ns = session.get(key)
    if not isinstance(ns, Namespace) or not ns.meta.deleting:
        return
    if ns.phase != "Terminating":  # updateNamespaceStatusFunc
        response = session.update(Namespace(ns.meta, ns.finalizers, "Terminating"))
        if not response.ok or not isinstance(response.obj, Namespace):
            return
        ns = response.obj
    if not ns.finalizers:  # finalized already: deleteNamespace
        session.delete(key, uid=ns.meta.uid)
        return
    remaining = False
    for item in content(session.etcd, name):  # deleteAllContent
        obj = session.etcd.objects[item]
        remaining = True
        if obj.meta.deleting:
            continue  # estimateGracefulTermination: still going (a pod's kubelet, an object's finalizers)
        session.delete(item, uid=obj.meta.uid, propagation="Background")
    if remaining:
        if session.writes:
            session.event(key, "Normal", "NamespaceContentRemaining",
                          f"deleted the content of namespace {name}; waiting for it to be gone")
        return  # ResourcesRemainingError: requeued after the estimate
    finalizers = tuple(f for f in ns.finalizers if f != FINALIZER_KUBERNETES)  # finalizeNamespace
    response = session.update(Namespace(ns.meta, finalizers, ns.phase))
    if response.ok and not finalizers:
        session.delete(key, uid=ns.meta.uid)  # deleteNamespace: NotFound, the finalize update removed it
        session.event(key, "Normal", "NamespaceFinalized", f"namespace {name} is empty: finalized and deleted")


@functools.lru_cache(maxsize=1 << 12)
def work(etcd: Etcd, ghost: Ghost) -> tuple[tuple[str, Etcd, Ghost, tuple[str, ...]], ...]:
    """Every namespace whose sync changes something: (name, etcd', ghost', events). A pure function of etcd,
    memoised."""
    out = []
    for ns in terminating(etcd):
        session = Session(etcd, ghost)
        sync(session, ns.meta.name)
        if session.writes:
            out.append((ns.meta.name, session.etcd, session.ghost, tuple(session.events)))
    return tuple(out)


class NamespaceControllerComponent(component.Base):
    """The namespace controller (module docstring): no slot (its reads are live), steps ``Reconcile`` (one
    namespace's sync that changes something), actor "namespace-controller", weakly fair. No timers. A
    controller-manager restart loses nothing it has."""

    name = "namespace-controller"
    host = component.Host.CONTROLLER_MANAGER
    """It runs in kube-controller-manager; a restart loses nothing it has (``Base.restart``); under leader election
    it acts only while a replica's controllers run (``spec.controllers.manager.running``)."""

    def actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR,) if has_namespaces(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def steps(self, state: ClusterState, config: Config) -> Iterator[component.Step]:
        if not has_namespaces(config) or not running(state):  # under leader election: the acting replica's only
            return
        for name, etcd, ghost, events in work(state.etcd, state.ghost):
            yield A.Reconcile(ACTOR, f"namespaces/{name}", False, events), settle(
                state._with(etcd=etcd, ghost=ghost), config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if self.busy(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return has_namespaces(config) and running(state) and bool(work(state.etcd, state.ghost))


def has_namespaces(config: Config) -> bool:
    """The scenario's namespaces are objects (``spec.apiserver.explicit_namespaces``)."""
    return any(isinstance(o, Namespace) for o in config.objects)


NAMESPACE_CONTROLLER = NamespaceControllerComponent()
