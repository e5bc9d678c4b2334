"""kube-controller-manager as a process: its shared informer feeds both controllers' handlers; its workers pop
keys and reconcile them; failures are requeued with per-key exponential backoff; a crash loses everything.

Upstream: cmd/kube-controller-manager/app/controllermanager.go (one SharedInformerFactory for all controllers),
pkg/controller/replicaset/replica_set.go and pkg/controller/deployment/deployment_controller.go (processNextWorkItem,
handleErr: AddRateLimited, Forget on success, the Deployment controller gives up after maxRetries = 15),
staging/src/k8s.io/client-go/util/workqueue (de-duplicating queue, rate limiter).

Modelled: a reconcile of one key is one step (the grain of Anvil and Themelios); any queued key may be picked
(the controllers run several workers, and a key is never processed by two at once). A failed reconcile puts its
key in the delaying queue's heap (AddRateLimited: 5 ms doubled per failure, workqueue.DefaultControllerRateLimiter);
a plain Add by an event handler queues the key at once but leaves that entry alone, so the backoff still fires
later and adds the key again (delaying_queue.go waitingLoop), usually for a reconcile that finds nothing to do.
Abstracted: the rate limiter's overall token bucket (10 qps, burst 100), which no scenario's few keys reach.

The process hosts more controllers, each its own component (``spec.cluster.COMPONENTS``): the garbage collector,
the node lifecycle, taint eviction and pod garbage collectors, the StatefulSet, disruption, EndpointSlice, Job and
namespace controllers. Abstracted away: the ServiceAccount controller (pkg/controller/serviceaccount
serviceaccounts_controller.go: it creates the ``default`` ServiceAccount in every namespace) and the token
controllers (tokens_controller.go, the legacy token Secrets; the root CA publisher's kube-root-ca.crt ConfigMap).
None of the modelled components reads a ServiceAccount, a token Secret or a ConfigMap (admission of a pod's
service account, token projection and mounting are the API server's and the kubelet's volume business, which the
model omits), so their steps could only add interleavings of writes nothing observes; the namespace controller's
content is every kind the model has, and these are not among them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import attrs
import immutables

from spec import actions as A
from spec import informer
from spec.apiserver import Session
from spec.clock import workqueue_delay_ms
from spec.component import Base, Delta, Host, Process, Step
from spec.controllers import deployment, replicaset
from spec.state import (
    KCM_RESOURCES,
    ClusterState,
    ControllerManager,
    Deployment,
    Etcd,
    Expectation,
    Informer,
    Key,
    Object,
    Pod,
    Readiness,
    ReplicaSet,
    WorkQueue,
)
from spec.watchcache import settle, settled_step

if TYPE_CHECKING:
    from spec.config import Config

DEPLOYMENT_MAX_RETRIES = 15
ACTOR = "kube-controller-manager"
"""The actor of the process's own steps (its informers' deliveries and relists)."""
CONTROLLERS = (("replicaset", "replicaset-controller"), ("deployment", "deployment-controller"))
"""Each controller's name (``reconcile``'s ``controller``) and actor."""


def running(state: ClusterState) -> bool:
    """kube-controller-manager's controllers run: always with one replica; under leader election
    (``spec.leaderelection``) while a replica's controllers hold the active slot (``LeaderElection.active``; upstream
    they all start in OnStartedLeading, controllermanager.go Run -> leaderElectAndRun -> StartControllers, and stop
    with the process). Every controller hosted here other than the ReplicaSet and Deployment controllers (whose
    informers are absent while no replica acts) takes no step, has no timer running and no work while it is
    False: ``Hosted``."""
    le = state.leader
    return le is None or le.active >= 0


class Hosted(Protocol):
    """A controller of kube-controller-manager with a slot of its own, handed over between replicas under leader
    election: it runs only while ``running`` (its steps, timers and work gated), a replica that starts acting
    starts it afresh (its ``restart``, at the revision its informers list at), and while no replica acts its slot
    is ``stopped`` (nothing of it survives the process: the next leader's is fresh)."""

    def stopped(self, state: ClusterState) -> ClusterState:
        """The slot while no replica's controllers run: empty informers (absent from ``informer_slots``), empty
        queues, no timers running; what is not the controller's (kubectl's drains, the nodes' missing heartbeats)
        kept."""
        ...


def handle(kcm: ControllerManager, key: Key, old: Object | None, new: Object | None,
           readiness: Readiness | None = None) -> ControllerManager:
    """The informer's event handlers of both controllers, for one delivered event or relisted object
    (``readiness``: for the ReplicaSet controller's requeue after minReadySeconds)."""
    obj = new if new is not None else old
    if isinstance(obj, Pod):
        kcm = replicaset.on_pod(kcm, key, old, new, readiness)  # type: ignore[arg-type]
        return deployment.on_pod_deleted(kcm, obj) if new is None else kcm
    if isinstance(obj, ReplicaSet):
        kcm = replicaset.on_replicaset(kcm, key, old, new)  # type: ignore[arg-type]
        for rs in (old, new):
            if isinstance(rs, ReplicaSet):
                kcm = deployment.on_replicaset(kcm, rs)
        return kcm
    if isinstance(obj, Deployment):
        return deployment.on_deployment(kcm, key, new)  # type: ignore[arg-type]
    return kcm


def started(
    informers: tuple[Informer, ...], deltas: tuple[tuple[Key, Object | None, Object | None], ...]
) -> ControllerManager:
    """A (re)started controller manager: empty queues and expectations, its informers freshly listed (the
    handlers run once every informer has synced: WaitForCacheSync)."""
    kcm = ControllerManager(informers=informers)
    for key, old, new in deltas:
        kcm = handle(kcm, key, old, new)
    return kcm


def _finish(queue: WorkQueue, key: Key, failed: bool, max_retries: int | None) -> WorkQueue:
    if not failed and not queue.failures:
        return queue  # Forget of a key that never failed
    failures = dict(queue.failures)
    if not failed or (max_retries is not None and failures.get(key, 0) >= max_retries):
        failures.pop(key, None)  # Forget
        return attrs.evolve(queue, failures=tuple(sorted(failures.items())))
    count = failures.get(key, 0)
    failures[key] = count + 1
    # AddRateLimited = AddAfter(key, When(key)): a key already waiting keeps the earlier deadline (the delaying
    # queue's insert only moves an entry's readyAt forward).
    pending = dict(queue.waiting)
    delay = workqueue_delay_ms(count)
    pending[key] = min(pending.get(key, delay), delay)
    waiting = tuple(sorted(pending.items()))
    return attrs.evolve(queue, failures=tuple(sorted(failures.items())), waiting=waiting)


def reconcile(
    kcm: ControllerManager, session: Session, controller: str, key: Key, *, expectations: bool = True,
    adoption_guard: bool = True, recreate_waits_for_pods: bool = True, readiness: Readiness | None = None,
    paused_scales: bool = True
) -> tuple[ControllerManager, bool]:
    """Pop ``key`` from ``controller``'s queue ("replicaset" or "deployment"), reconcile it, handle the error."""
    if controller == "replicaset":
        q = kcm.rs_queue
        kcm = kcm.with_rs_queue(WorkQueue(tuple(k for k in q.queue if k != key), q.waiting, q.failures))
        kcm, failed = replicaset.sync(kcm, session, key, expectations=expectations, adoption_guard=adoption_guard,
                                      readiness=readiness)
        return kcm.with_rs_queue(_finish(kcm.rs_queue, key, failed, None)), failed
    q = kcm.deploy_queue
    kcm = kcm.with_deploy_queue(WorkQueue(tuple(k for k in q.queue if k != key), q.waiting, q.failures))
    kcm, failed = deployment.sync(kcm, session, key, waits_for_pods=recreate_waits_for_pods,
                                  paused_scales=paused_scales)
    return kcm.with_deploy_queue(_finish(kcm.deploy_queue, key, failed, DEPLOYMENT_MAX_RETRIES)), failed


def resync(kcm: ControllerManager) -> ControllerManager:
    """The informers' periodic resync: every cached object is re-delivered as an update to itself."""
    for key, obj in sorted(kcm.cached()):
        if isinstance(obj, ReplicaSet | Deployment):
            kcm = handle(kcm, key, obj, obj)
    return kcm


def timers(kcm: ControllerManager) -> list[int]:
    out = [ms for _, ms in kcm.rs_queue.waiting] + [ms for _, ms in kcm.deploy_queue.waiting]
    return out + [e.timer for e in kcm.expectations.values()]


def _elapse_queue(queue: WorkQueue, dt: int) -> WorkQueue:
    """The delaying queue's waitingLoop: an entry whose deadline has come is Added (a no-op when the key is
    queued already), and leaves the heap."""
    if not queue.waiting:
        return queue
    still = tuple((k, ms - dt) for k, ms in queue.waiting if ms > dt)
    due = [k for k, ms in queue.waiting if ms <= dt]
    queue = attrs.evolve(queue, waiting=still)
    for key in due:
        queue = queue.add(key)
    return queue


def elapse(kcm: ControllerManager, dt: int) -> ControllerManager:
    """``dt`` ms pass: backoffs end (keys re-enter the queue), expectations expire (and their key is synced)."""
    kcm = attrs.evolve(kcm, rs_queue=_elapse_queue(kcm.rs_queue, dt), deploy_queue=_elapse_queue(kcm.deploy_queue, dt))
    if kcm.expectations:
        expectations, queue = _expire(kcm.expectations, kcm.rs_queue, dt)
        kcm = attrs.evolve(kcm, expectations=expectations, rs_queue=queue)
    return kcm


def _expire(expectations: immutables.Map[Key, Expectation], queue: WorkQueue,
            dt: int) -> tuple[immutables.Map[Key, Expectation], WorkQueue]:
    """``dt`` ms pass for a controller's expectations (ControllerExpectations' ExpectationsTimeout): an expired one
    is dropped and its key Added to the controller's queue, so it is synced; the others' timers run down."""
    for key, exp in expectations.items():
        if exp.timer <= dt:
            expectations = expectations.delete(key)
            queue = queue.add(key)
        else:
            expectations = expectations.set(key, attrs.evolve(exp, timer=exp.timer - dt))
    return expectations, queue


def restart(etcd: Etcd, old: ControllerManager | None, revision: int) -> ControllerManager:
    """kube-controller-manager (re)started: each informer lists at ``revision``, then the handlers run."""
    high = (0,) * len(KCM_RESOURCES) if old is None else tuple(i.high_water for i in old.informers)
    if all(h <= revision for h in high):
        return _fresh_kcm(etcd, revision)  # the usual case: what the restart finds depends on etcd alone
    return _listed_kcm(etcd, high, revision)


def _fresh_kcm(etcd: Etcd, revision: int) -> ControllerManager:
    """A pure function of etcd; at etcd's own revision, of its objects alone: a list there reads no history
    (``spec.informer.relist``: ``snapshot`` is the objects, and ``settle`` has nothing after the revision)."""
    if revision == etcd.revision:
        return _fresh_kcm_at(etcd.objects, revision)
    return _fresh_kcm_of(etcd, revision)


@functools.lru_cache(maxsize=1 << 14)
def _fresh_kcm_of(etcd: Etcd, revision: int) -> ControllerManager:
    """``_fresh_kcm`` memoised (a crash is tried from every state, and many share etcd; 16,384 entries: with 4,096
    the hit rate fell from 92% to 71% past 400,000 states of web-three-nodes)."""
    return _listed_kcm(etcd, (0,) * len(KCM_RESOURCES), revision)


@functools.lru_cache(maxsize=1 << 14)
def _fresh_kcm_at(objects: immutables.Map[Key, Object], revision: int) -> ControllerManager:
    """``_fresh_kcm`` at etcd's revision, memoised on the objects (states whose etcds differ only in their history
    share it): the list of an etcd that holds ``objects`` at ``revision`` and nothing after it."""
    return _listed_kcm(Etcd(revision, objects, (), revision, 0), (0,) * len(KCM_RESOURCES), revision)


def _listed_kcm(etcd: Etcd, high: tuple[int, ...], revision: int) -> ControllerManager:
    infs: list[Informer] = []
    deltas: list[tuple[Key, Object | None, Object | None]] = []
    for resource, high_water in zip(KCM_RESOURCES, high, strict=True):
        fresh = Informer(rv=0, cache=immutables.Map(), high_water=high_water)
        inf, d = informer.relist(fresh, etcd, ("kcm", resource), revision)
        infs.append(inf)
        deltas.extend(d)
    return started(tuple(infs), tuple(deltas))


# --- the component (spec.component) ----------------------------------------------------------------------------


def reconcile_options(state: ClusterState, config: Config) -> dict[str, Any]:
    """``reconcile``'s keyword arguments in ``state`` under ``config``'s variants (for the reconciles of a
    kube-controller-manager replica's parked controllers, ``spec.leaderelection``; ``reconcile_steps`` passes the
    same to its memoised ``_reconcile``)."""
    return {"expectations": "no-expectations" not in config.variants,
            "adoption_guard": "gc-readoption" not in config.variants,
            "recreate_waits_for_pods": "recreate-no-pod-wait" not in config.variants,
            "readiness": state.readiness, "paused_scales": "paused-no-scale" not in config.variants}


def reconcile_steps(state: ClusterState, config: Config) -> list[tuple[A.Action, ClusterState, bool]]:
    """Every queued key's reconcile: (action, next state, idle), ``idle`` when the reconcile wrote nothing,
    recorded no Event and changed nothing in the controller but took the key off its queue (a fact about the
    step, which the eager no-op reduction of ``spec.reduction.partial_order`` uses)."""
    return [(a, after(), idle) for a, idle, after in reconcile_outcomes(state, config)]


Outcome = tuple[A.Action, bool, Callable[[], ClusterState]]
"""A reconcile's action, whether it is idle, and a function building its next state (``reconcile_outcomes``)."""


def reconcile_outcomes(state: ClusterState, config: Config) -> list[Outcome]:
    """``reconcile_steps`` without the next states built: (action, idle, the next state when called). A
    reduction that takes one idle reconcile alone, or none of them, builds no other (spec.model)."""
    return list(iter_outcomes(state, config))


def iter_outcomes(state: ClusterState, config: Config) -> Iterator[Outcome]:
    """``reconcile_outcomes`` one at a time: the eager no-op (spec.model) stops at the first idle one, and the
    later keys are not reconciled."""
    kcm = state.kcm
    if not (kcm.rs_queue.queue or kcm.deploy_queue.queue):
        return
    expectations, guarded, adoption_guard, waits, paused_scales = _options(config.variants)
    readiness = state.readiness
    for (controller, _), queue in zip(CONTROLLERS, (kcm.rs_queue, kcm.deploy_queue), strict=True):
        for key in queue.queue:
            new, _, etcd, ghost, _, idle, action = _reconcile(
                kcm, state.etcd, state.ghost, controller, key, expectations, guarded, adoption_guard, waits,
                readiness, paused_scales)
            yield action, idle, functools.partial(_after, state, config, etcd, ghost, new)


@functools.lru_cache(maxsize=64)
def _options(variants: frozenset[str]) -> tuple[bool, bool, bool, bool, bool]:
    """``reconcile_options`` that the variants decide, and the binding guard, in ``_reconcile``'s order
    (expectations, guarded, adoption guard, waits for pods, paused scales)."""
    return ("no-expectations" not in variants, "unguarded-bind" not in variants, "gc-readoption" not in variants,
            "recreate-no-pod-wait" not in variants, "paused-no-scale" not in variants)


def _after(state: ClusterState, config: Config, etcd: Etcd, ghost: Any, kcm: ControllerManager) -> ClusterState:
    """The state after a reconcile: its writes, its controller manager, settled (``reconcile_outcomes``)."""
    if kcm.informers is state.kcm.informers:
        return settled_step(state, config, etcd, ghost=ghost, kcm=kcm)
    return settle(state._with(etcd=etcd, ghost=ghost, kcm=kcm), config)


@functools.lru_cache(maxsize=1 << 18)
def _reconcile(kcm: ControllerManager, etcd: Etcd, ghost: Any, controller: str, key: str, expectations: bool,
               guarded: bool, adoption_guard: bool = True, waits: bool = True, readiness: Readiness | None = None,
               paused_scales: bool = True
               ) -> tuple[ControllerManager, bool, Etcd, Any, tuple[str, ...], bool, A.Reconcile]:
    """One reconcile: (controller manager', failed, etcd', ghost', Events, idle, its step's action). A pure
    function of the controller manager and etcd (its caches follow from etcd: ``spec.state.Informer``), memoised:
    many states differ only in the scheduler or the kubelets (262,144 entries: with 65,536 the hit rate fell from
    83% to 75% in the last 50,000 of 500,000 states of web-three-nodes). A miss asks ``_synced``, the
    controller's sync memoised without the work queues, and replays on them what the sync did to its queue (an
    AddAfter of its key) and the worker's ``_finish``; ``reconcile`` itself when the sync did anything else to a
    queue. The reconcile of a ReplicaSet with minReadySeconds that has ready pods not yet available is never
    idle: its outcome depends on time as well, which no event handler watches (the premise of the eager no-op
    reduction); once every ready pod is available, time changes nothing."""
    popped = _popped(kcm, controller, key)
    done = _synced(kcm.informers, kcm.expectations, etcd, ghost, controller, key, expectations, guarded,
                   adoption_guard, waits, readiness, paused_scales)
    if done is None:
        session = Session(etcd, ghost, guarded_bind=guarded)
        new, failed = reconcile(kcm, session, controller, key, expectations=expectations,
                                adoption_guard=adoption_guard, recreate_waits_for_pods=waits, readiness=readiness,
                                paused_scales=paused_scales)
        quiet = not (failed or session.writes or session.events)
        etcd, ghost, events = session.etcd, session.ghost, tuple(session.events)
    else:
        exps, after_ms, failed, etcd, ghost, events, quiet = done
        if controller == "replicaset":
            queue = popped.rs_queue if after_ms is None else replicaset.add_after(popped.rs_queue, key, after_ms)
            new = ControllerManager(kcm.informers, _finish(queue, key, failed, None), kcm.deploy_queue, exps)
        else:
            new = ControllerManager(kcm.informers, kcm.rs_queue,
                                    _finish(popped.deploy_queue, key, failed, DEPLOYMENT_MAX_RETRIES), exps)
    idle = quiet and new == popped
    if idle and readiness is not None and controller == "replicaset":
        rs = kcm.get(key)
        idle = not (isinstance(rs, ReplicaSet) and rs.min_ready_seconds > 0
                    and rs.status.available_replicas < rs.status.ready_replicas)
    return new, failed, etcd, ghost, events, idle, A.Reconcile(_ACTORS[controller], key, failed, events)


_ACTORS = dict(CONTROLLERS)
_NO_QUEUE = WorkQueue()
Synced = tuple[immutables.Map[Key, Expectation], int | None, bool, Etcd, Any, tuple[str, ...], bool]


@functools.lru_cache(maxsize=1 << 18)
def _synced(informers: tuple[Informer, ...], exps: immutables.Map[Key, Expectation], etcd: Etcd, ghost: Any,
            controller: str, key: str, expectations: bool, guarded: bool, adoption_guard: bool, waits: bool,
            readiness: Readiness | None, paused_scales: bool) -> Synced | None:
    """The controller's sync of ``key`` (``replicaset.sync``, ``deployment.sync``: what ``reconcile`` runs between
    popping the key and ``_finish``), without the work queues: (expectations', the ms of an AddAfter of ``key``
    or None, failed, etcd', ghost', Events, quiet: no failure, write or Event). The syncs read neither queue
    (the ReplicaSet controller's only appends its key after minReadySeconds: ``add_after``), so it is run on
    empty queues and memoised on the rest: states that differ only in what else is queued, waiting or failing
    share it (web-two-nodes: 2,171 keys for 5,152 of ``_reconcile``'s in the first 20,000 states). None when
    the sync did anything else to a queue or to the informers (then ``_reconcile`` runs ``reconcile`` itself);
    tests/spec/test_spec_controllers_memo.py compares ``_reconcile`` with ``reconcile`` along searches."""
    stub = ControllerManager(informers, _NO_QUEUE, _NO_QUEUE, exps)
    session = Session(etcd, ghost, guarded_bind=guarded)
    if controller == "replicaset":
        new, failed = replicaset.sync(stub, session, key, expectations=expectations, adoption_guard=adoption_guard,
                                      readiness=readiness)
        own, other = new.rs_queue, new.deploy_queue
    else:
        new, failed = deployment.sync(stub, session, key, waits_for_pods=waits, paused_scales=paused_scales)
        own, other = new.deploy_queue, new.rs_queue
    if new.informers is not informers or other != _NO_QUEUE or own.queue or own.failures:
        return None
    if not own.waiting:
        after_ms = None
    elif len(own.waiting) == 1 and own.waiting[0][0] == key:
        after_ms = own.waiting[0][1]
    else:
        return None
    return (new.expectations, after_ms, failed, session.etcd, session.ghost, tuple(session.events),
            not (failed or session.writes or session.events))


def _popped(kcm: ControllerManager, controller: str, key: str) -> ControllerManager:
    queue = kcm.rs_queue if controller == "replicaset" else kcm.deploy_queue
    rest = WorkQueue(tuple(k for k in queue.queue if k != key), queue.waiting, queue.failures)
    if controller == "replicaset":
        return ControllerManager(kcm.informers, rest, kcm.deploy_queue, kcm.expectations)
    return ControllerManager(kcm.informers, kcm.rs_queue, rest, kcm.expectations)


@functools.lru_cache(maxsize=1 << 16)
def _handled(kcm: ControllerManager, deltas: tuple[Delta, ...], readiness: Readiness | None) -> ControllerManager:
    """Both controllers' handlers (``handle``) on ``deltas`` in turn: a pure function of the controller manager,
    the deltas and the readiness ages, memoised (many states differ only in other components; web-two-nodes:
    2,708 distinct keys for 12,563 deliveries to the controller manager in the first 20,000 states)."""
    for key, old, new in deltas:
        kcm = handle(kcm, key, old, new, readiness)
    return kcm


class ControllerManagerComponent(Base):
    """kube-controller-manager's ReplicaSet and Deployment controllers: slot ``ClusterState.kcm``; steps
    ``Reconcile`` (one queued key each, actors "replicaset-controller" and "deployment-controller"); its three
    informers' deliveries come through ``spec.reflector`` (actor "kube-controller-manager"), all weakly fair.
    Timers: the work queues' per-key backoffs and the expectations' 5 min timeout. A restart (``spec.faults``)
    loses the queues, the backoffs, the expectations and the caches, and relists (``restart``); it is the first
    component the process hosts, so the others restarting with it see its informers relisted."""

    name = "kube-controller-manager"
    slot = "kcm"
    host = Host.CONTROLLER_MANAGER
    forgets = "kcm"
    """Its restart reads of the old controller manager only its informers' high-water marks (``kept``:
    ``spec.component.Forgets``), and it is the first component the process hosts."""

    def actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR, *(actor for _, actor in CONTROLLERS))

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        return state._with(kcm=restart(state.etcd, None, state.etcd.revision))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        return ((a, t) for a, t, _ in reconcile_steps(state, config))

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        kcm = state.kcm
        return {actor for (_, actor), queue in zip(CONTROLLERS, (kcm.rs_queue, kcm.deploy_queue), strict=True)
                if queue.queue}

    def busy(self, state: ClusterState, config: Config) -> bool:
        return bool(state.kcm.rs_queue.queue or state.kcm.deploy_queue.queue)

    def timers(self, state: ClusterState) -> list[int]:
        return timers(state.kcm)

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        fired = ("controller backoff/expectations",) if dt in timers(state.kcm) else ()
        return state._with(kcm=elapse(state.kcm, dt)), fired

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        return state._with(kcm=restart(state.etcd, state.kcm, revision))

    def kept(self, value: ControllerManager, revision: int) -> tuple[int, ...] | None:
        """What ``restart`` at ``revision`` reads of the old controller manager ``value``: its informers'
        high-water marks, or None when none is past ``revision`` (then the restart lists afresh: ``restart``)."""
        high = tuple(i.high_water for i in value.informers)
        return None if all(h <= revision for h in high) else high

    def resync(self, state: ClusterState) -> ClusterState:
        kcm = resync(state.kcm)
        return state if kcm == state.kcm else state._with(kcm=kcm)

    def watcher(self, state: ClusterState, index: int) -> str:
        return ACTOR

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        deltas = tuple(deltas)
        kcm = _handled(state.kcm, deltas, state.readiness)
        if kcm is not state.kcm:
            state = state._with(kcm=kcm)
        if KCM_RESOURCES[index] != "pods":
            return state  # the controllers below share only the pod informer
        if state.net.eps is not None:
            # the EndpointSlice controller's pod handlers share this informer (spec.network)
            from spec import network

            state = state._with(net=network.handle_kcm_pods(state.net, deltas))
        if state.workloads is not None:
            # The pod informer is shared (the informer factory's): the StatefulSet and disruption controllers'
            # pod handlers run on the same deliveries (spec.controllers.workloads).
            from spec.controllers.workloads import on_shared_pods

            state = on_shared_pods(state, deltas)
        if state.jobs is not None:
            # the Job controller's pod handlers share this informer too (spec.controllers.job)
            from spec.controllers import job

            state = job.on_shared_pods(state, deltas)
        if state.daemonsets is not None:
            # and the DaemonSet controller's (spec.controllers.daemonset)
            from spec.controllers import daemonset

            state = daemonset.on_shared_pods(state, deltas)
        if state.rcs is not None:
            # and the replication manager's (spec.controllers.replication)
            from spec.controllers import replication

            state = replication.on_shared_pods(state, deltas)
        return state


CONTROLLER_MANAGER = ControllerManagerComponent()
