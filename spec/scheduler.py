"""kube-scheduler as a component: informer handlers, the scheduling queue, one scheduling cycle per step, the
assume cache, and one binding cycle per step.

Upstream: pkg/scheduler/schedule_one.go (scheduleOne, schedulingCycle, selectHost: ties broken at random,
handleSchedulingFailure: the PodScheduled=False/Unschedulable condition and the FailedScheduling event),
pkg/scheduler/backend/queue/scheduling_queue.go (activeQ, backoffQ, unschedulablePods, MoveAllToActiveOrBackoffQueue
for the cluster events each plugin registers, flushUnschedulablePodsLeftover after 5 min),
pkg/scheduler/backend/cache/cache.go (AssumePod, ForgetPod, confirmation by the informer),
pkg/scheduler/eventhandlers.go (which pod and node changes are which cluster events),
pkg/registry/core/pod/storage/storage.go (the binding).

Modelled: the scheduling cycle is ``spec.scheduling.kube_scheduler.scheduling_cycle``, the same pure function
``kubespec schedule`` runs (PreFilter, Filter, Score, selectHost, and PostFilter's DefaultPreemption: a pod that
fits only by evicting lower-priority pods has them deleted, gracefully, and waits as unschedulable until their
deletion requeues it; upstream also records the nominated node, which nothing here reads); a pod that fits
nowhere goes to unschedulablePods with the plugins that rejected it and is moved back by
the cluster events those plugins register (node added, cordon/uncordon, taints, labels, allocatable, an assigned
pod deleted) or by the 5 min flush, through backoffQ while its backoff (1 s doubling to 10 s) runs. Binding is a
separate step, so a pod can be assumed and not yet bound when the scheduler crashes. The ``no-requeue`` variant
drops a pod after a failed attempt (the pre-2017 behaviour described in the seed notes; kubernetes#72122 is a later
race of the same kind); ``unguarded-bind`` runs two schedulers without leader election and binds without the
precondition (kubernetes#4623). Under leader election (``spec.leaderelection``) there is one scheduler per replica
(``kube-scheduler-N``): each keeps its informer and queue, and only the leader that is not paused schedules and
binds (``_acting``; cmd/kube-scheduler/app/server.go).
Abstracted: ties between best-scored nodes are a nondeterministic choice (upstream: reservoir sampling); a
scheduling cycle is atomic, so no cluster event arrives during one (upstream's in-flight event replay).
VolumeBinding (``spec.scheduling.volumebinding``): the cycle's pod carries the plugin's verdict on the cached claims,
volumes and classes; a binding cycle of a pod with unbound claims first makes PreBind's API updates (step
``PreBind``), then waits, with no step, until the PV controller and the provisioner have bound every claim; a
refused update fails the binding cycle (the pod is retried with backoff).
Omitted: the queue's priority order (the queue is FIFO; priorities matter to preemption only), the nominated node
(and the filters' accounting for nominated pods), extenders, the other volume plugins. A pod with scheduling gates
gets the SchedulingGated verdict from the shared cycle and waits (upstream keeps it out of the queue: PreEnqueue).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import attrs
import immutables

from spec import actions as A
from spec import informer as informers
from spec.apiserver import Session
from spec.clock import (
    MAX_COUNTED_ATTEMPTS,
    POD_MAX_IN_UNSCHEDULABLE_MS,
    pod_backoff_ms,
)
from spec.component import Base, Delta, Host, Process, Step
from spec.scheduling import volumebinding
from spec.scheduling.kube_scheduler import Decision, failed_scheduling_message, scheduling_cycle
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import PodInfo
from spec.state import (
    ClusterState,
    Etcd,
    Ghost,
    Informer,
    Key,
    Node,
    Object,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    QueuedPod,
    Scheduler,
    StorageClass,
    pod_key,
)
from spec.watchcache import settle, settled_step

if TYPE_CHECKING:
    from spec.config import Config

NAMES = ("default-scheduler", "default-scheduler-2")
"""The schedulers' names: one, or two without leader election in the ``unguarded-bind`` variant."""

NODE_EVENT_PLUGINS = {
    "unschedulable": frozenset({"NodeUnschedulable"}),
    "allocatable": frozenset({"NodeResourcesFit"}),
    "labels": frozenset({"NodeAffinity", "PodTopologySpread", "InterPodAffinity"}),
    "taints": frozenset({"TaintToleration"}),
}
"""Which plugins a node update can help (upstream: each plugin's EventsToRegister, NodeSpecUnschedulableChange,
NodeAllocatableChange, NodeLabelChange, NodeTaintChange)."""
ASSIGNED_POD_DELETE_PLUGINS = frozenset({"NodeResourcesFit", "NodePorts", "InterPodAffinity", "PodTopologySpread"})
ASSIGNED_POD_ADD_PLUGINS = frozenset({"InterPodAffinity", "PodTopologySpread"})


@functools.lru_cache(maxsize=1 << 14)
def pod_info(pod: Pod, node: str | None = None) -> PodInfo:
    """The scheduler's PodInfo of a pod (name, labels and creation order filled in); memoised (pure)."""
    return attrs.evolve(
        pod.info,
        name=pod.meta.name,
        namespace=pod.meta.namespace,
        labels=pod.meta.labels,
        order=pod.meta.uid,
        node_name=pod.node_name if node is None else node,
    )


def snapshot(s: Scheduler) -> Snapshot:
    """The cache's snapshot: nodes, bound pods, and assumed pods on their assumed node."""
    return _snapshot(s.informer.cache, s.assumed)


def _snapshot(cache: immutables.Map[Key, Object], assumed_pods: immutables.Map[Key, tuple[int, str]]) -> Snapshot:
    nodes = sorted((o.info for o in cache.values() if isinstance(o, Node)), key=lambda n: n.name)
    pods = []
    for key, obj in cache.items():
        if not isinstance(obj, Pod):
            continue
        assumed = assumed_pods.get(key)
        if obj.node_name:
            pods.append(pod_info(obj))
        elif assumed is not None and assumed[0] == obj.meta.uid:
            pods.append(pod_info(obj, assumed[1]))
    return Snapshot.build(nodes, pods)


@functools.lru_cache(maxsize=1 << 12)
def _nodes(cache: immutables.Map[Key, Object]) -> int:
    return sum(1 for k in cache if k.startswith("nodes/"))


def _cycle(cache: immutables.Map[Key, Object], assumed: immutables.Map[Key, tuple[int, str]], pod: Pod) -> Decision:
    """The scheduling cycle for ``pod`` on the snapshot of ``cache`` and ``assumed`` (``scheduling_cycle``, shared
    with ``kubespec schedule``). Memoised: a pure function of what the cycle reads. A pod with claims carries the
    VolumeBinding plugin's verdict on the cached claims, volumes and classes (``spec.scheduling.volumebinding``)."""
    info = pod_info(pod)
    snap = _snapshot(cache, assumed)
    if info.claims:
        info = attrs.evolve(info, volume_binding=volumebinding.verdict(
            info.claims, info.namespace, snap.nodes, cache.get, _volumes(cache)))
    return scheduling_cycle(info, snap)


def _volumes(cache: immutables.Map[Key, Object]) -> list[PersistentVolume]:
    return [o for k, o in cache.items() if k.startswith("persistentvolumes/") and isinstance(o, PersistentVolume)]


VOLUME_EVENT_PLUGINS = frozenset({volumebinding.PLUGIN})
"""A claim, volume or class added or updated may help VolumeBinding (its EventsToRegister: PersistentVolumeClaim,
PersistentVolume and StorageClass Add|Update)."""


def volume_binding_step(s: Scheduler, sess: Session, item: tuple[Key, int, str]) -> tuple[str, tuple[str, ...]]:
    """VolumeBinding's PreBind for the binding cycle ``item`` (``spec.scheduling.volumebinding.prebind``): "bound"
    (no claims, or all bound: Bind goes on), "wait" (no step), "wrote" or "failed" (a step of its own)."""
    key, uid, node = item
    pod = s.informer.cache.get(key)
    if not isinstance(pod, Pod) or not pod.info.claims or pod.meta.uid != uid:
        return "bound", ()
    node_obj = s.informer.cache.get(f"nodes/{node}")
    if not isinstance(node_obj, Node):
        return "bound", ()  # the Bind itself answers
    cache = s.informer.cache
    return volumebinding.prebind(pod.info.claims, pod.meta.namespace, node_obj.info, cache.get, _volumes(cache),
                                 sess)


def _waiting(s: Scheduler, state: ClusterState, item: tuple[Key, int, str]) -> bool:
    """The binding cycle waits in PreBind for the claims' binding (checkBindings): no step."""
    pod = s.informer.cache.get(item[0])
    if not isinstance(pod, Pod) or not pod.info.claims:
        return False
    return volume_binding_step(s, Session(state.etcd, state.ghost), item)[0] == "wait"


def _failed_prebind(s: Scheduler, item: tuple[Key, int, str]) -> Scheduler:
    """Unreserve after a failed PreBind: the binding cycle ends, the pod is forgotten and retried with backoff."""
    key, uid, _ = item
    s = attrs.evolve(s, binding=tuple(b for b in s.binding if b != item))
    assumed = s.assumed.get(key)
    if assumed is not None and assumed[0] == uid:
        s = attrs.evolve(s, assumed=s.assumed.delete(key))
    if _queued(s, key) is not None:
        return s
    return attrs.evolve(s, queue=(*s.queue, QueuedPod(key, uid, "backoff", 1, backoff=pod_backoff_ms(1))))


def _ours(s: Scheduler, pod: Pod) -> bool:
    return pod.scheduler_name == "default-scheduler"


def _queued(s: Scheduler, key: Key) -> QueuedPod | None:
    for q in s.queue:
        if q.key == key:
            return q
    return None


def _without(s: Scheduler, key: Key) -> Scheduler:
    if _queued(s, key) is None:
        return s
    return attrs.evolve(s, queue=tuple(q for q in s.queue if q.key != key))


def _forget(s: Scheduler, key: Key, uid: int) -> Scheduler:
    """The assumption about the pod ``key`` with ``uid`` dropped (the cache keys assumed pods by uid upstream:
    pkg/scheduler/backend/cache/cache.go, so a pod recreated under the same name is another pod)."""
    assumed = s.assumed.get(key)
    if assumed is None or assumed[0] != uid:
        return s
    return attrs.evolve(s, assumed=s.assumed.delete(key))


def _replace(s: Scheduler, entry: QueuedPod) -> Scheduler:
    return attrs.evolve(s, queue=tuple(entry if q.key == entry.key else q for q in s.queue))


def move(s: Scheduler, plugins: frozenset[str] | None) -> Scheduler:
    """MoveAllToActiveOrBackoffQueue for an event that may help ``plugins`` (None: every plugin)."""
    changed = False
    queue = []
    for q in s.queue:
        if q.where == "unschedulable" and (plugins is None or not q.plugins or q.plugins & plugins):
            q = attrs.evolve(q, where="backoff" if q.backoff else "active", flush=0)
            changed = True
        queue.append(q)
    if not changed:
        return s
    # pods entering activeQ go to its tail, in the order they had
    active = [q for q in queue if q.where == "active" and q not in s.queue]
    rest = [q for q in queue if q not in active]
    return attrs.evolve(s, queue=tuple(rest + active))


def _node_changes(old: Node, new: Node) -> frozenset[str]:
    a, b = old.info, new.info
    plugins: frozenset[str] = frozenset()
    if a.unschedulable != b.unschedulable:
        plugins |= NODE_EVENT_PLUGINS["unschedulable"]
    if a.allocatable != b.allocatable:
        plugins |= NODE_EVENT_PLUGINS["allocatable"]
    if a.labels != b.labels:
        plugins |= NODE_EVENT_PLUGINS["labels"]
    if a.taints != b.taints:
        plugins |= NODE_EVENT_PLUGINS["taints"]
    return plugins


def handle(s: Scheduler, key: Key, old: Object | None, new: Object | None) -> Scheduler:
    """The scheduler's informer event handlers (pkg/scheduler/eventhandlers.go)."""
    if isinstance(new, PersistentVolume | PersistentVolumeClaim | StorageClass) or isinstance(
            old, PersistentVolume | PersistentVolumeClaim | StorageClass):
        return s if new is None else move(s, VOLUME_EVENT_PLUGINS)
    if isinstance(new, Node) or isinstance(old, Node):
        if new is None:
            return s
        if old is None:
            return move(s, None)
        assert isinstance(old, Node) and isinstance(new, Node)
        changes = _node_changes(old, new)
        return move(s, changes) if changes else s
    pod = new if new is not None else old
    assert isinstance(pod, Pod)
    if new is None:
        assert isinstance(old, Pod)
        s = _forget(_without(s, key), key, old.meta.uid)
        return move(s, ASSIGNED_POD_DELETE_PLUGINS) if old.node_name else s
    assert isinstance(new, Pod)
    if new.node_name:
        s = _forget(_without(s, key), key, new.meta.uid)  # the assumed pod is confirmed
        if old is None or not isinstance(old, Pod) or not old.node_name:
            return move(s, ASSIGNED_POD_ADD_PLUGINS)
        return s
    if new.meta.deleting or not _ours(s, new):
        return _without(s, key)
    entry = _queued(s, key)
    if entry is not None and entry.uid != new.meta.uid:
        s, entry = _without(s, key), None
    if entry is None:
        uid = new.meta.uid
        assumed = s.assumed.get(key)
        if (assumed is not None and assumed[0] == uid) or any(k == key and u == uid for k, u, _ in s.binding):
            return s  # this very pod is assumed or being bound (a pod of the same name but another uid is not)
        return attrs.evolve(s, queue=(*s.queue, QueuedPod(key, new.meta.uid, "active")))
    if entry.where == "unschedulable" and old is not None and old != new:  # the pod itself changed
        return _replace(s, attrs.evolve(entry, where="backoff" if entry.backoff else "active", flush=0))
    return s


def started(name: str, informer: Informer, deltas: tuple[tuple[Key, Object | None, Object | None], ...]) -> Scheduler:
    """A (re)started scheduler: empty queue and cache, every unbound pod queued."""
    s = Scheduler(name=name, informer=informer)
    for key, _, new in deltas:
        if new is not None:
            s = handle(s, key, None, new)
    return s


def head(s: Scheduler) -> QueuedPod | None:
    """The pod activeQ pops next (PrioritySort: priority, then queue order; every priority is 0 here)."""
    for q in s.queue:
        if q.where == "active":
            return q
    return None


def schedule_one(
    s: Scheduler, session: Session, *, requeue: bool = True
) -> list[tuple[str | None, Scheduler, Session]]:
    """One scheduling cycle for activeQ's head: [(chosen node or None, scheduler', session)] — one outcome per
    best-scored node, since upstream breaks ties at random. A feasible cycle writes nothing, so its outcomes
    share ``session``; a failed one has a single outcome (with the Unschedulable condition written)."""
    entry = head(s)
    assert entry is not None
    pod = s.informer.cache.get(entry.key)
    rest = _without(s, entry.key)
    if not isinstance(pod, Pod) or pod.meta.uid != entry.uid or pod.node_name or pod.meta.deleting:
        return [(None, rest, session)]  # skipPodSchedule
    decision = _cycle(s.informer.cache, s.assumed, pod)
    failures = decision.failures
    if decision.node is None:
        for victim in decision.victims:
            # PostFilter (DefaultPreemption): the victims are deleted; their deletion requeues the pod.
            victim_key = pod_key(victim.namespace, victim.name)
            target = session.get(victim_key)
            if isinstance(target, Pod) and not target.meta.deleting:
                session.event(victim_key, "Normal", "Preempted",
                              f"Preempted by pod {pod.meta.uid} on node {decision.nominated_node}")
                session.delete(victim_key, uid=target.meta.uid)
        message = decision.message or failed_scheduling_message(
            [f for _, f in failures], _nodes(s.informer.cache))
        session.event(entry.key, "Warning", "FailedScheduling", message)
        current = session.get(entry.key)
        if isinstance(current, Pod) and current.meta.uid == pod.meta.uid and not current.node_name:
            marked = attrs.evolve(current, status=attrs.evolve(current.status, scheduled_reason="Unschedulable"))
            session.patch(entry.key, marked, uid=pod.meta.uid)
        if not requeue:
            return [(None, rest, session)]
        attempts = min(entry.attempts + 1, MAX_COUNTED_ATTEMPTS)
        failed = attrs.evolve(
            entry,
            where="unschedulable",
            attempts=attempts,
            plugins=frozenset(f.plugin for _, f in failures),
            backoff=pod_backoff_ms(attempts),
            flush=POD_MAX_IN_UNSCHEDULABLE_MS,
        )
        return [(None, attrs.evolve(rest, queue=(*rest.queue, failed)), session)]
    outcomes: list[tuple[str | None, Scheduler, Session]] = []
    for name in decision.best:
        assumed = attrs.evolve(
            rest,
            assumed=rest.assumed.set(entry.key, (pod.meta.uid, name)),
            binding=tuple(sorted((*rest.binding, (entry.key, pod.meta.uid, name)))),  # concurrent: a set
        )
        outcomes.append((name, assumed, session))
    return outcomes


def bind(s: Scheduler, session: Session, item: tuple[Key, int, str]) -> Scheduler:
    """One binding cycle (DefaultBinder). On failure the pod is forgotten and requeued with backoff."""
    key, uid, node = item
    s = attrs.evolve(s, binding=tuple(b for b in s.binding if b != item))
    response = session.bind(key, uid, node)
    if response.ok:
        session.event(key, "Normal", "Scheduled", f"Successfully assigned {key.split('/', 1)[1]} to {node}")
        return s
    session.event(key, "Warning", "FailedScheduling", f"Binding rejected: {response.message}")
    assumed = s.assumed.get(key)
    if assumed is not None and assumed[0] == uid:
        s = attrs.evolve(s, assumed=s.assumed.delete(key))  # ForgetPod
    if response.reason == "NotFound":
        return s
    pod = s.informer.cache.get(key)
    if not isinstance(pod, Pod) or pod.node_name or _queued(s, key) is not None:
        return s
    return attrs.evolve(s, queue=(*s.queue, QueuedPod(key, uid, "backoff", 1, backoff=pod_backoff_ms(1))))


def timers(s: Scheduler) -> list[int]:
    return [t for q in s.queue for t in (q.backoff, q.flush) if t]


def elapse(s: Scheduler, dt: int) -> Scheduler:
    """``dt`` ms pass: backoffs complete (backoffQ -> activeQ), unschedulable pods older than 5 min are flushed."""
    if not s.queue:
        return s
    stay: list[QueuedPod] = []
    activated: list[QueuedPod] = []
    for q in s.queue:
        backoff = max(q.backoff - dt, 0) if q.backoff else 0
        flush = max(q.flush - dt, 0) if q.flush else 0
        where = q.where
        if where == "backoff" and backoff == 0:
            where = "active"
        elif where == "unschedulable" and q.flush and flush == 0:
            where = "backoff" if backoff else "active"
        moved = attrs.evolve(q, backoff=backoff, flush=flush, where=where)
        (activated if where == "active" and q.where != "active" else stay).append(moved)
    return attrs.evolve(s, queue=tuple(stay + activated))



# --- the component (spec.component) ----------------------------------------------------------------------------


def names(config: Config) -> tuple[str, ...]:
    """The schedulers a scenario runs: one per replica under leader election (``spec.leaderelection``), else one,
    or two in the ``unguarded-bind`` variant."""
    from spec.leaderelection import scheduler_replica_names

    return scheduler_replica_names(config) or (NAMES if "unguarded-bind" in config.variants else NAMES[:1])


def _acting(state: ClusterState) -> Sequence[Scheduler]:
    """The schedulers that take steps: all, but under leader election only a leader's that is not paused (a
    standby's informer and queue are kept up to date; its scheduling loop waits: ``spec.leaderelection``)."""
    if state.scheduler_election is None:
        return state.schedulers
    from spec.leaderelection import scheduler_acting

    return [s for s in state.schedulers if scheduler_acting(state, s.name)]


def _binds(s: Scheduler, state: ClusterState) -> bool:
    """A binding cycle has a step (one waiting in VolumeBinding's PreBind has none)."""
    return any(not _waiting(s, state, item) for item in s.binding)


@functools.lru_cache(maxsize=1 << 16)
def _outcomes(s: Scheduler, etcd: Etcd, ghost: Ghost, requeue: bool, guarded: bool
              ) -> tuple[tuple[A.Action, Scheduler, Etcd, Ghost], ...]:
    """The steps of scheduler ``s`` (``SchedulerComponent.steps``), in order: (action, the scheduler after it, etcd
    and the ghost after it). A pure function of its arguments: a scheduling or binding cycle reads only the
    scheduler (its queue, assumed pods and cache), etcd and the ghost (through its request session, ``guarded``:
    the binding precondition), and whether a failed pod is requeued (``requeue``). Memoised: many states differ
    only in other components (web-two-nodes: one scheduler in five is new)."""
    out: list[tuple[A.Action, Scheduler, Etcd, Ghost]] = []
    entry = head(s)
    if entry is not None:
        for node, new_s, done in schedule_one(s, Session(etcd, ghost, guarded_bind=guarded), requeue=requeue):
            out.append((A.Schedule(s.name, entry.key, node or "", tuple(done.events)), new_s, done.etcd, done.ghost))
    for item in s.binding:
        sess = Session(etcd, ghost, guarded_bind=guarded)
        outcome, events = volume_binding_step(s, sess, item)
        if outcome == "wait":
            continue
        if outcome != "bound":
            ok = outcome == "wrote"
            new_s = s if ok else _failed_prebind(s, item)
            if not ok:
                sess.event(item[0], "Warning", "FailedScheduling",
                           f'running PreBind plugin "VolumeBinding": {events[0]}')
            out.append((A.PreBind(s.name, item[0], item[2], ok, events if ok else tuple(sess.events)), new_s,
                        sess.etcd, sess.ghost))
            continue
        new_s = bind(s, sess, item)
        ok = sess.writes > 0 and not any("rejected" in e for e in sess.events)
        out.append((A.Bind(s.name, item[0], item[2], sess.etcd.revision, ok, tuple(sess.events)), new_s, sess.etcd,
                    sess.ghost))
    return tuple(out)


def _replace_scheduler(state: ClusterState, s: Scheduler) -> tuple[Scheduler, ...]:
    return tuple(s if x.name == s.name else x for x in state.schedulers)


class SchedulerComponent(Base):
    """kube-scheduler (one, or two in the ``unguarded-bind`` variant): slot ``ClusterState.schedulers``; steps
    ``Schedule`` (one scheduling cycle for activeQ's head, one step per best-scored node) and ``Bind`` (one
    binding cycle per in-flight bind); its informer's deliveries come through ``spec.reflector``; actor: the
    scheduler's name, weakly fair. Timers: each queued pod's backoff and its 5 min unschedulable flush. A
    restart (``spec.faults``) loses the queue, the assumed pods, the binds in flight and the cache, relists,
    and queues every unbound pod (``restart``, ``started``). Each scheduler is its own process, named by its
    scheduler name."""

    name = "kube-scheduler"
    slot = "scheduler"
    host = Host.SCHEDULER

    def actors(self, config: Config) -> tuple[str, ...]:
        return names(config)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return names(config)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        etcd = state.etcd
        schedulers = []
        for name in names(config):
            inf, deltas = informers.relist(None, etcd, informers.SCHEDULER, etcd.revision)
            schedulers.append(started(name, inf, deltas))
        return state._with(schedulers=tuple(schedulers))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        requeue, guarded = "no-requeue" not in config.variants, "unguarded-bind" not in config.variants
        for s in _acting(state):
            for a, new_s, etcd, ghost in _outcomes(s, state.etcd, state.ghost, requeue, guarded):
                if new_s.informer is s.informer:
                    yield a, settled_step(state, config, etcd, ghost=ghost,
                                          schedulers=_replace_scheduler(state, new_s))
                else:
                    yield a, settle(state._with(etcd=etcd, ghost=ghost, schedulers=_replace_scheduler(state, new_s)),
                                    config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {s.name for s in _acting(state) if _binds(s, state) or head(s) is not None}

    def busy(self, state: ClusterState, config: Config) -> bool:
        return any(_binds(s, state) or head(s) is not None for s in _acting(state))

    def timers(self, state: ClusterState) -> list[int]:
        return [t for s in state.schedulers for t in timers(s)]

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        fired = ("scheduler backoff/flush",) if any(dt in timers(s) for s in state.schedulers) else ()
        return state._with(schedulers=tuple(elapse(s, dt) for s in state.schedulers)), fired

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        for s in state.schedulers:
            if s.name == process.name:
                inf, deltas = informers.relist(informers.fresh(s.informer), state.etcd, informers.SCHEDULER, revision)
                return state.with_scheduler(started(s.name, inf, deltas))
        return state

    def watcher(self, state: ClusterState, index: int) -> str:
        return state.schedulers[index].name

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        s = state.schedulers[index]
        for key, old, new in deltas:
            s = handle(s, key, old, new)
        return state.with_scheduler(s)


SCHEDULER = SchedulerComponent()
