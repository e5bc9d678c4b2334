"""The StatefulSet and disruption controllers as one component (they run in kube-controller-manager), and the
user's ``kubectl drain`` under way.

Upstream: cmd/kube-controller-manager/app/apps.go (startStatefulSetController) and policy.go
(startDisruptionController), both fed by the shared informer factory; pkg/controller/statefulset/stateful_set.go
and pkg/controller/disruption/disruption.go (processNextWorkItem: AddRateLimited on error, Forget on success; both
register their handlers with a 30 s resync); staging/src/k8s.io/kubectl/pkg/drain/drain.go (evictPods: one
goroutine per pod, retrying on 429 every 5 s).

Modelled: slot ``ClusterState.workloads`` (``spec.state.Workloads``): two informers (StatefulSets,
PodDisruptionBudgets; each delivery one step, actor "kcm-workload-informers") and the controller manager's pod
informer, shared (its deliveries run these controllers' pod handlers too), the two controllers' work
queues with per-key backoff (``spec.controllers.manager``'s), their reconciles (actors "statefulset-controller" and
"disruption-controller"), all weakly fair; and the drains (actor "kubectl", not fair): starting one cordons the
node and lists its pods; each later step evicts one of them; a 429 leaves everything as it was (the retry is the
same step again, so the drain may wait for ever, as upstream's does until its timeout).
Abstracted: the disruption controller
reads the scale of the pods' controllers (ReplicaSets, Deployments) from etcd, not from their listers, so a lag of
those is not explored (its own StatefulSets, budgets and pods are read from its informers). The drain's 5 s
sleep is not timed: a retry may come at any point.
What a controller-manager crash loses (``spec.faults``): the informers (relisted), the queues and the backoffs;
not the drains (kubectl is another process). Under kube-controller-manager's leader election
(``spec.leaderelection``) both controllers run only in the acting replica (``spec.controllers.manager.running``),
start afresh in a replica that starts acting (``restart``), and are ``stopped`` while none acts (the drains go on).
The slot is None when a scenario has no StatefulSet, no PodDisruptionBudget and no ``kubectl drain``, and its
informers are left out when it has neither of the first two (a drain needs none): the other scenarios' state
spaces do not change.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import immutables

from spec import actions as A
from spec import informer
from spec.apiserver import Session
from spec.component import Host, Process
from spec.controllers import disruption, statefulset
from spec.controllers.manager import _elapse_queue, _finish, running
from spec.kubectl import drain_step, start_drain
from spec.state import (
    KCM_RESOURCES,
    WORKLOAD_RESOURCES,
    ClusterState,
    Etcd,
    Informer,
    Key,
    Object,
    Pod,
    PodDisruptionBudget,
    StatefulSet,
    Workloads,
    WorkQueue,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config

Delta = tuple[Key, Object | None, Object | None]
"""One delivered change (key, old, new), as ``spec.component.Delta``."""
Step = tuple[A.Action, ClusterState]


def session(state: ClusterState, config: Config) -> Session:
    """A request session against the state's etcd (as ``spec.component.session``)."""
    return Session(state.etcd, state.ghost, guarded_bind="unguarded-bind" not in config.variants)


def commit(state: ClusterState, sess: Session, config: Config, **changes: Any) -> ClusterState:
    """The state after a step: the session's etcd and ghost, the changes, then ``settle``."""
    return settle(state._with(etcd=sess.etcd, ghost=sess.ghost, **changes), config)

INFORMER_ACTOR = "kcm-workload-informers"
"""The actor of the deliveries and relists of the StatefulSet and disruption controllers' informers."""
KUBECTL = "kubectl"


def wanted(config: Config) -> tuple[bool, bool]:
    """(the slot exists, it has informers): a StatefulSet or a budget needs both, a drain only the slot."""
    controllers = any(isinstance(o, StatefulSet | PodDisruptionBudget) for o in config.objects)
    drains = any(c.verb == "drain" for c in config.commands)
    return controllers or drains, controllers


def handle(w: Workloads, deltas: Iterable[Delta]) -> Workloads:
    """Both controllers' event handlers on delivered (or relisted) changes (pods: from the shared pod informer)."""
    for key, old, new in deltas:
        obj = new if new is not None else old
        if isinstance(obj, Pod):
            w = statefulset.on_pod(w, old, new)  # type: ignore[arg-type]
            w = disruption.on_pod(w, old, new)  # type: ignore[arg-type]
        elif isinstance(obj, StatefulSet):
            w = statefulset.on_statefulset(w, key, new)  # type: ignore[arg-type]
        elif isinstance(obj, PodDisruptionBudget):
            w = disruption.on_pdb(w, key, new)  # type: ignore[arg-type]
    return w


def restarted(etcd: Etcd, old: Workloads | None, revision: int, informers: bool,
              pods: immutables.Map[Key, Object]) -> Workloads:
    """A (re)started controller manager's part: informers listed at ``revision`` (the ghost high-water marks carry
    over), empty queues, handlers run on every listed object and on the shared pod informer's listed ``pods``;
    the drains under way are kept."""
    infs: list[Informer] = []
    deltas: list[Delta] = []
    if informers:
        for i, resource in enumerate(WORKLOAD_RESOURCES):
            high = old.informers[i].high_water if old is not None and old.informers else 0
            fresh = Informer(rv=0, cache=immutables.Map(), high_water=high)
            inf, d = informer.relist(fresh, etcd, ("kcm", resource), revision)
            infs.append(inf)
            deltas.extend(d)
        deltas.extend((key, None, pod) for key, pod in sorted(pods.items()))
    return handle(Workloads(tuple(infs), drains=old.drains if old is not None else ()), deltas)


def shared_pods(state: ClusterState) -> immutables.Map[Key, Object]:
    """The controller manager's pod informer's cache (the shared informer these controllers read pods from)."""
    return state.kcm.informers[KCM_RESOURCES.index("pods")].cache


def on_shared_pods(state: ClusterState, deltas: Iterable[Delta]) -> ClusterState:
    """These controllers' pod handlers, on changes the shared pod informer just delivered (called by the
    controller manager's ``handle``)."""
    w = state.workloads
    if w is None or not w.informers:
        return state
    new = handle(w, deltas)
    return state if new is w else state._with(workloads=new)


CONTROLLERS = (("statefulset", statefulset.ACTOR), ("disruption", disruption.ACTOR))


def _queue(w: Workloads, controller: str) -> WorkQueue:
    return w.sts_queue if controller == "statefulset" else w.pdb_queue


def _with_queue(w: Workloads, controller: str, queue: WorkQueue) -> Workloads:
    if controller == "statefulset":
        return Workloads(w.informers, queue, w.pdb_queue, w.drains)
    return Workloads(w.informers, w.sts_queue, queue, w.drains)


@functools.lru_cache(maxsize=1 << 14)
def _reconcile(w: Workloads, pods: immutables.Map[Key, Object], etcd: Etcd, ghost: Any, controller: str, key: Key,
               variants: frozenset[str]) -> tuple[Workloads, bool, Etcd, Any, tuple[str, ...], bool]:
    """Pop ``key``, reconcile it, handle the error (AddRateLimited / Forget): (workloads', failed, etcd', ghost',
    Events, idle). A pure function of the slot, the shared pod cache and etcd, memoised. ``idle``: it wrote
    nothing, recorded no Event and changed nothing but the queue (for the eager no-op reduction)."""
    q = _queue(w, controller)
    popped = _with_queue(w, controller, WorkQueue(tuple(k for k in q.queue if k != key), q.waiting, q.failures))
    sess = Session(etcd, ghost)
    if controller == "statefulset":
        new, failed = statefulset.sync(popped, pods.values(), sess, key)
    else:
        new, failed = disruption.sync(popped, pods.values(), etcd, sess, key, variants)
    new = _with_queue(new, controller, _finish(_queue(new, controller), key, failed, None))
    idle = not (failed or sess.writes or sess.events) and new == popped and _level_triggered(w, controller, key)
    return new, failed, sess.etcd, sess.ghost, tuple(sess.events), idle


def _level_triggered(w: Workloads, controller: str, key: Key) -> bool:
    """Whether every input of this reconcile is one whose change enqueues the key again (the eager no-op
    reduction's premise, ``spec.reduction.partial_order.eager_noop``): the StatefulSet controller reads its set
    and the pods (both handled); the disruption controller reads its budget and the pods (both handled), and,
    for a percentage or maxUnavailable, the controllers' scales in etcd, whose changes it has no handler for."""
    if controller == "statefulset":
        return True
    pdb = w.get(key)
    return isinstance(pdb, PodDisruptionBudget) and pdb.max_unavailable is None and not isinstance(
        pdb.min_available, str)


def reconcile_steps(state: ClusterState, config: Config) -> list[tuple[A.Action, ClusterState, bool]]:
    """Every queued key's reconcile of both controllers: (action, next state, idle)."""
    w = state.workloads
    if w is None or not running(state):
        return []
    pods = shared_pods(state)
    out: list[tuple[A.Action, ClusterState, bool]] = []
    for controller, actor in CONTROLLERS:
        for key in _queue(w, controller).queue:
            new, failed, etcd, ghost, events, idle = _reconcile(w, pods, state.etcd, state.ghost, controller, key,
                                                                config.variants)
            out.append((A.Reconcile(actor, key, failed, events),
                        settle(state._with(etcd=etcd, ghost=ghost, workloads=new), config), idle))
    return out


def _timers(w: Workloads) -> list[int]:
    return [ms for _, ms in w.sts_queue.waiting] + [ms for _, ms in w.pdb_queue.waiting]


class WorkloadsComponent:
    """The StatefulSet and disruption controllers and the drains under way (module docstring): the methods of
    ``spec.component``'s Component and Watcher protocols."""

    name = "workloads"
    slot = "workloads"
    host = Host.CONTROLLER_MANAGER
    """They run in kube-controller-manager: a crash restarts them (``restart``)."""

    def actors(self, config: Config) -> tuple[str, ...]:
        slot, informers = wanted(config)
        if not slot:
            return ()
        return (INFORMER_ACTOR, statefulset.ACTOR, disruption.ACTOR, KUBECTL) if informers else (KUBECTL,)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        slot, informers = wanted(config)
        return (INFORMER_ACTOR, statefulset.ACTOR, disruption.ACTOR) if informers else ()

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        slot, informers = wanted(config)
        if not slot:
            return state
        return state._with(workloads=restarted(state.etcd, None, state.etcd.revision, informers, shared_pods(state)))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        """After the controller manager's own restart (which relisted the pod informer they share): queues
        emptied, informers relisted at ``revision``, the drains under way kept (``restart_slot``)."""
        return state if state.workloads is None else state._with(workloads=restart_slot(state, revision))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        w = state.workloads
        if w is None:
            return
        yield from ((a, t) for a, t, _ in reconcile_steps(state, config))
        yield from self._drain_steps(state, config, w)

    def _drain_steps(self, state: ClusterState, config: Config, w: Workloads) -> Iterator[Step]:
        for index in sorted(state.pending_commands):
            command = config.commands[index]
            if command.verb != "drain":
                continue
            sess = session(state, config)
            output, drain = start_drain(command, index, sess)
            drains = w.drains if drain is None else (*w.drains, drain)
            yield A.Kubectl(KUBECTL, command.line, output), commit(
                state, sess, config, pending_commands=state.pending_commands - {index},
                workloads=Workloads(w.informers, w.sts_queue, w.pdb_queue, drains))
        for i, drain in enumerate(w.drains):
            for key, _ in drain.pods:
                sess = session(state, config)
                output, after = drain_step(drain, key, sess, config.variants)
                if after is drain and not sess.writes:
                    continue  # a 429: the retry is this same step again (a stutter)
                drains = (*w.drains[:i], *(() if after is None else (after,)), *w.drains[i + 1:])
                yield A.Kubectl(KUBECTL, f"{config.commands[drain.command].line} (evicting {key})", output), commit(
                    state, sess, config, workloads=Workloads(w.informers, w.sts_queue, w.pdb_queue, drains))

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        w = state.workloads
        if w is None:
            return set()
        out = {actor for controller, actor in CONTROLLERS if _queue(w, controller).queue} if running(state) else set()
        if (any(config.commands[i].verb == "drain" for i in state.pending_commands)
                or next(self._drain_steps(state, config, w), None) is not None):
            out.add(KUBECTL)
        return out

    def busy(self, state: ClusterState, config: Config) -> bool:
        w = state.workloads
        return w is not None and bool(w.sts_queue.queue or w.pdb_queue.queue) and running(state)

    def timers(self, state: ClusterState) -> list[int]:
        w = state.workloads
        return [] if w is None or not running(state) else _timers(w)

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        w = state.workloads
        if w is None or not (w.sts_queue.waiting or w.pdb_queue.waiting) or not running(state):
            return state, ()
        fired = ("statefulset/disruption backoff",) if dt in _timers(w) else ()
        new = Workloads(w.informers, _elapse_queue(w.sts_queue, dt), _elapse_queue(w.pdb_queue, dt), w.drains)
        return state._with(workloads=new), fired

    def resync(self, state: ClusterState) -> ClusterState:
        """The 30 s resync of both controllers' handlers: every cached StatefulSet and budget is enqueued."""
        w = state.workloads
        if w is None or not w.informers or not running(state):
            return state
        new = handle(w, [(k, o, o) for i in (0, 1) for k, o in sorted(w.informers[i].cache.items())])
        return state if new == w else state._with(workloads=new)

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): empty informers and
        queues; the drains (kubectl's) kept."""
        w = state.workloads
        if w is None:
            return state
        return state._with(workloads=Workloads(tuple(informer.fresh(None) for _ in w.informers), drains=w.drains))

    def __repr__(self) -> str:
        return f"<component {self.name}>"

    def watcher(self, state: ClusterState, index: int) -> str:
        return INFORMER_ACTOR

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        w = state.workloads
        assert w is not None
        new = handle(w, deltas)
        return state if new is w else state._with(workloads=new)


WORKLOADS = WorkloadsComponent()


def restart_slot(state: ClusterState, revision: int) -> Workloads | None:
    """What a controller-manager crash leaves of the slot (``spec.faults``): relisted at ``revision``, ``state``
    being the one with the restarted controller manager (whose pod informer these controllers share)."""
    w = state.workloads
    if w is None:
        return None
    return restarted(state.etcd, w, revision, bool(w.informers), shared_pods(state))
