"""The replication manager: ReplicationControllers run by the ReplicaSet controller itself, through adapters.

Upstream: pkg/controller/replication/replication_controller.go (NewReplicationManager: a ReplicaSetController made
by replicaset.NewBaseController over an informerAdapter of the ReplicationController informer, the shared pod
informer, a clientsetAdapter and a podControlAdapter; its own GroupVersionKind v1 "ReplicationController", its own
work queue "replicationmanager", its own UIDTrackingControllerExpectations and its own event recorder, source
"replication-controller"), pkg/controller/replication/conversion.go (each ReplicationController converted to a
ReplicaSet as if it were an older API version of one: spec.selector, a plain map, becomes matchLabels; the status
converted back on the way out), pkg/controller/replicaset/replica_set.go (everything else: the handlers,
syncReplicaSet, manageReplicas, calculateStatus, the expectations, the adoption guard), pkg/apis/core/v1/defaults.go
SetDefaults_ReplicationController (spec.replicas 1, spec.selector and metadata.labels the template's labels),
pkg/apis/core/validation ValidateReplicationControllerSpec (``spec.apiserver.validate``).

Modelled: the ReplicaSet controller's code (``spec.controllers.replicaset``: ``pod_event``, ``sync_owner``) run
over this controller's own slot, ``ClusterState.rcs`` (``spec.state.ReplicationManager``: its ReplicationController
informer, its work queue with per-key backoff, its expectations), its pods from kube-controller-manager's shared
pod informer (whose deliveries run its pod handlers: ``on_shared_pods``). Pods it creates carry a controller
ownerReference of kind ReplicationController; it adopts only orphans (ClaimPods) and ignores pods controlled by
another kind, so a ReplicaSet and a ReplicationController selecting the same labels do not fight over a pod.
The variants of the ReplicaSet controller's code act on it too (``no-expectations``, ``gc-readoption``,
``no-minready-requeue``: one code base upstream).
Abstracted as the ReplicaSet controller is (``spec.controllers.replicaset``); equality-based selectors are
LabelSelectors with matchLabels only, which match exactly as a labels.Set selector does.
The informers' periodic resync re-delivers every cached ReplicationController as an update to itself (updateRS:
enqueued), as the controller manager's does its ReplicaSets.
Under kube-controller-manager's leader election it is handed over as the process's other controllers are
(``spec.controllers.manager.Hosted``): it runs only in the acting replica (``running``), a paused leader's stands
frozen in its slot, nothing of it survives while no replica acts (``stopped``), and a new leader's starts afresh.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import immutables

from spec import actions as A
from spec import informer
from spec.apiserver import Session
from spec.component import Base, Delta, Host, Process, Step
from spec.controllers.manager import _elapse_queue, _expire, _finish, running
from spec.controllers.replicaset import Cache, pod_event, sync_owner
from spec.state import (
    KCM_RESOURCES,
    RC_SCOPE,
    ClusterState,
    Etcd,
    Ghost,
    Informer,
    Key,
    Object,
    Pod,
    Readiness,
    ReplicationController,
    ReplicationManager,
    WorkQueue,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config

KIND = "ReplicationController"
"""The controller's GroupVersionKind's kind (controllerKind: v1 ReplicationController)."""
ACTOR = "replication-controller"
"""Its workers' actor (upstream's event source component)."""
INFORMER_ACTOR = "kcm-replicationcontroller-informer"
"""Its ReplicationController informer's deliveries (its pods come with the controller manager's)."""


def has_rcs(config: Config) -> bool:
    """The slot exists: the scenario has a ReplicationController (nothing else creates one)."""
    return any(isinstance(o, ReplicationController) for o in config.objects)


def shared_pods(state: ClusterState) -> Cache:
    """The controller manager's pod informer's cache (the shared informer the replication manager reads)."""
    return state.kcm.informers[KCM_RESOURCES.index("pods")].cache


def handle(ctl: ReplicationManager, key: Key, old: Object | None, new: Object | None,
           readiness: Readiness | None = None) -> ReplicationManager:
    """The event handlers: on the ReplicationController informer (the ReplicaSet controller's addRS / updateRS /
    deleteRS through the informer adapter: enqueue; a deleted one's expectations are dropped) and on the shared
    pod informer (addPod / updatePod / deletePod: ``spec.controllers.replicaset.pod_event`` for kind
    ReplicationController)."""
    obj = new if new is not None else old
    if isinstance(obj, ReplicationController):
        if new is None:
            if key not in ctl.expectations:
                return ctl
            return ReplicationManager(ctl.informer, ctl.queue, ctl.expectations.delete(key))
        queue = ctl.queue.add(key)
        return ctl if queue is ctl.queue else ReplicationManager(ctl.informer, queue, ctl.expectations)
    if not isinstance(obj, Pod):
        return ctl
    exps, queue = pod_event(KIND, ctl.informer.cache, ctl.expectations, ctl.queue, key,
                            old if isinstance(old, Pod) else None, new if isinstance(new, Pod) else None, readiness)
    if exps is ctl.expectations and queue is ctl.queue:
        return ctl
    return ReplicationManager(ctl.informer, queue, exps)


def restarted(etcd: Etcd, old: ReplicationManager | None, revision: int, pods: Cache,
              readiness: Readiness | None = None) -> ReplicationManager:
    """A (re)started controller manager's replication manager: its informer listed at ``revision`` (the ghost
    high-water mark carries over), empty queue and expectations, its handlers run on every listed
    ReplicationController and on the shared pod informer's listed ``pods`` (after WaitForCacheSync)."""
    fresh = Informer(rv=0, cache=immutables.Map(), high_water=old.informer.high_water if old is not None else 0)
    inf, deltas = informer.relist(fresh, etcd, RC_SCOPE, revision)
    ctl = ReplicationManager(inf)
    for key, old_obj, new_obj in (*deltas, *((k, None, p) for k, p in sorted(pods.items()))):
        ctl = handle(ctl, key, old_obj, new_obj, readiness)
    return ctl


def on_shared_pods(state: ClusterState, deltas: Iterable[Delta]) -> ClusterState:
    """The replication manager's pod handlers, on changes the shared pod informer just delivered (called by the
    controller manager's ``handle``)."""
    ctl = state.rcs
    if ctl is None:
        return state
    new = ctl
    for key, old, obj in deltas:
        new = handle(new, key, old, obj, state.readiness)
    return state if new is ctl else state._with(rcs=new)


def reconcile(ctl: ReplicationManager, pods: Cache, session: Session, key: Key, *, expectations: bool = True,
              adoption_guard: bool = True, readiness: Readiness | None = None) -> tuple[ReplicationManager, bool]:
    """processNextWorkItem: pop ``key``, syncReplicaSet it (``sync_owner`` over this controller's lister, queue and
    expectations), handleErr (AddRateLimited on failure, Forget on success). Returns (controller', failed)."""
    q = ctl.queue
    queue = WorkQueue(tuple(k for k in q.queue if k != key), q.waiting, q.failures)
    exps, queue, failed = sync_owner(ctl.informer.cache, pods, ctl.expectations, queue, session, key,
                                     expectations=expectations, adoption_guard=adoption_guard, readiness=readiness)
    return ReplicationManager(ctl.informer, _finish(queue, key, failed, None), exps), failed


@functools.lru_cache(maxsize=1 << 14)
def _reconcile(ctl: ReplicationManager, pods: Cache, etcd: Etcd, ghost: Ghost, key: Key, expectations: bool,
               adoption_guard: bool, readiness: Readiness | None
               ) -> tuple[ReplicationManager, bool, Etcd, Ghost, tuple[str, ...]]:
    """One worker's step (a pure function of the slot, the shared pod cache and etcd, memoised)."""
    session = Session(etcd, ghost)
    new, failed = reconcile(ctl, pods, session, key, expectations=expectations, adoption_guard=adoption_guard,
                            readiness=readiness)
    return new, failed, session.etcd, session.ghost, tuple(session.events)


def timers(ctl: ReplicationManager) -> list[int]:
    return [ms for _, ms in ctl.queue.waiting] + [e.timer for e in ctl.expectations.values()]


def elapse(ctl: ReplicationManager, dt: int) -> ReplicationManager:
    """``dt`` ms pass: backoffs end (keys re-enter the queue), expectations expire (their key is synced)."""
    if not ctl.queue.waiting and not ctl.expectations:
        return ctl
    expectations, queue = _expire(ctl.expectations, _elapse_queue(ctl.queue, dt), dt)
    return ReplicationManager(ctl.informer, queue, expectations)


class ReplicationManagerComponent(Base):
    """The replication manager (module docstring): slot ``ClusterState.rcs`` (None without a
    ReplicationController); steps ``Reconcile`` (one queued key's syncReplicaSet, actor "replication-controller");
    its ReplicationController informer's deliveries come through ``spec.reflector`` (actor
    "kcm-replicationcontroller-informer"), its pods from the controller manager's shared pod informer, all weakly
    fair. Timers: the queue's per-key backoffs and the expectations' 5 min timeout. What a controller-manager
    restart loses: everything (queue, backoffs, expectations, cache): it relists, after the controller manager's
    pod informer, and handles every ReplicationController and pod as an add."""

    name = "replication-controller"
    slot = "rcs"
    host = Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        return (INFORMER_ACTOR, ACTOR) if has_rcs(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        if not has_rcs(config):
            return state
        return state._with(rcs=restarted(state.etcd, None, state.etcd.revision, shared_pods(state), state.readiness))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        """After the controller manager's own restart (which relisted the pod informer it shares): everything
        lost, the informer relisted at ``revision``."""
        if state.rcs is None:
            return state
        return state._with(rcs=restarted(state.etcd, state.rcs, revision, shared_pods(state), state.readiness))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        ctl = state.rcs
        if ctl is None or not ctl.queue.queue or not running(state):
            return
        pods = shared_pods(state)
        expectations = "no-expectations" not in config.variants
        adoption_guard = "gc-readoption" not in config.variants
        for key in ctl.queue.queue:
            new, failed, etcd, ghost, events = _reconcile(ctl, pods, state.etcd, state.ghost, key, expectations,
                                                          adoption_guard, state.readiness)
            yield A.Reconcile(ACTOR, key, failed, events), settle(state._with(etcd=etcd, ghost=ghost, rcs=new),
                                                                  config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if self.busy(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return state.rcs is not None and bool(state.rcs.queue.queue) and running(state)

    def timers(self, state: ClusterState) -> list[int]:
        return [] if state.rcs is None or not running(state) else timers(state.rcs)

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        ctl = state.rcs
        if ctl is None or not (ctl.queue.waiting or ctl.expectations) or not running(state):
            return state, ()
        fired = ("replication manager backoff/expectations",) if dt in timers(ctl) else ()
        return state._with(rcs=elapse(ctl, dt)), fired

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): nothing of it (no
        informer, an empty queue, no expectations); a replica that starts acting starts it afresh (``restart``)."""
        return state if state.rcs is None else state._with(rcs=ReplicationManager(informer.fresh(None)))

    def resync(self, state: ClusterState) -> ClusterState:
        """The informer's periodic resync: every cached ReplicationController re-delivered as an update to
        itself (enqueued)."""
        ctl = state.rcs
        if ctl is None or not running(state):
            return state
        new = ctl
        for key, obj in sorted(ctl.informer.cache.items()):
            new = handle(new, key, obj, obj)
        return state if new is ctl else state._with(rcs=new)

    def watcher(self, state: ClusterState, index: int) -> str:
        return INFORMER_ACTOR

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        ctl = state.rcs
        assert ctl is not None
        new = ctl
        for key, old, obj in deltas:
            new = handle(new, key, old, obj, state.readiness)
        return state if new is ctl else state._with(rcs=new)


REPLICATION_MANAGER = ReplicationManagerComponent()
"""The component (``spec.cluster.COMPONENTS``)."""
