"""The control plane as one ``checker.Model``: initial state from a scenario, the successor relation composed of
every component's steps, the properties, fairness, symmetry and the trace view.

Shape after Anvil (anvil-verifier/anvil, src/kubernetes_cluster/spec/cluster.rs): one ClusterState, one action
type per kind of step, each step a whole reconcile or one watch event's delivery to one component. Every write
goes through ``spec.apiserver``; after each step every informer skips the events it does not care about, the
watch history forgets what every informer of an event's resource has seen, and a history longer than the watch
cache's capacity is compacted (a watcher left behind gets 410 Gone and relists). ``canonical`` combines the
reductions (``spec.writeorder``, ``spec.canonical``); ``successors`` applies the partial-order ones.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import immutables

from checker import Model, Property, leads_to, weak
from checker import always as always_
from spec import actions as A
from spec import faults, informer, kubectl, kubelet, scheduler
from spec.apiserver import Session, store
from spec.canonical import canonical_state
from spec.controllers import manager
from spec.properties import PROPERTIES
from spec.state import (
    KCM_RESOURCES,
    Budget,
    ClusterState,
    ControllerManager,
    Deployment,
    Etcd,
    Informer,
    Kubelet,
    Node,
    Object,
    Pod,
    ReplicaSet,
    Scheduler,
    WorkQueue,
)
from spec.writeorder import canonical_history, watched

SCHEDULERS = ("default-scheduler", "default-scheduler-2")


@attrs.frozen
class Config:
    """What a scenario fixes for the whole exploration."""

    objects: tuple[Object, ...]
    commands: tuple[kubectl.Command, ...] = ()
    budget: Budget = Budget()
    consistency: str = "strong"
    variants: frozenset[str] = frozenset()
    properties: tuple[str, ...] = ()
    watch_cache_size: int = 100
    symmetry: bool = True
    reduction: bool = True
    """Partial-order reduction of idle components' watch deliveries (see ``_ample``)."""
    renumber: bool = True
    """Canonical revisions and uids (see ``spec.canonical``)."""
    commute_writes: bool = True
    """Canonical order of writes that no watcher can tell apart (``spec.writeorder``; consistency "strong" only)."""
    eager_noop: bool = True
    """A reconcile that would change nothing but its queue is taken at once (see ``_reconciles``)."""


NO_REDUCTION = {"reduction": False, "eager_noop": False, "commute_writes": False, "symmetry": False,
                "renumber": False}
"""``Config`` changes that turn every reduction off: the plain Next relation (``kubespec check --no-reduction``)."""


def reductions_on(config: Config, symmetric: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    """The names of the reductions ``config`` turns on (node symmetry only where some nodes are interchangeable)."""
    out = []
    if config.symmetry and symmetric:
        out.append("node symmetry")
    if config.renumber:
        out.append("renumbering")
    if config.commute_writes and config.renumber and config.consistency == "strong":
        out.append("commuting writes")
    if config.reduction:
        out.append("ample sets")
        if config.eager_noop:
            out.append("eager no-ops")
    return tuple(out)


def start_kcm(etcd: Etcd, old: ControllerManager | None, revision: int) -> ControllerManager:
    """kube-controller-manager (re)started: each informer lists at ``revision``, then the handlers run."""
    high = (0,) * len(KCM_RESOURCES) if old is None else tuple(i.high_water for i in old.informers)
    if all(h <= revision for h in high):
        return _fresh_kcm(etcd, revision)  # the usual case: what the restart finds depends on etcd alone
    return _listed_kcm(etcd, high, revision)


@functools.lru_cache(maxsize=1 << 12)
def _fresh_kcm(etcd: Etcd, revision: int) -> ControllerManager:
    """A pure function of etcd (memoised: a crash is tried from every state, and many share etcd)."""
    return _listed_kcm(etcd, (0,) * len(KCM_RESOURCES), revision)


def _listed_kcm(etcd: Etcd, high: tuple[int, ...], revision: int) -> ControllerManager:
    infs, deltas = [], []
    for resource, high_water in zip(KCM_RESOURCES, high, strict=True):
        fresh = Informer(rv=0, cache=immutables.Map(), high_water=high_water)
        inf, d = informer.relist(fresh, etcd, ("kcm", resource), revision)
        infs.append(inf)
        deltas.extend(d)
    return manager.started(tuple(infs), tuple(deltas))


def handle(state: ClusterState, who: str, index: int, inf: Informer, deltas: Iterable[
        tuple[str, Object | None, Object | None]]) -> ClusterState:
    """Store ``inf`` in its slot and run the component's handlers on ``deltas``."""
    state = state.with_informer(who, index, inf)
    if who == "kcm":
        kcm = state.kcm
        for key, old, new in deltas:
            kcm = manager.handle(kcm, key, old, new)
        return state._with(kcm=kcm)
    if who == "scheduler":
        s = state.schedulers[index]
        for key, old, new in deltas:
            s = scheduler.handle(s, key, old, new)
        return state.with_scheduler(s)
    return state


def actor_of(state: ClusterState, who: str, index: int) -> str:
    if who == "kcm":
        return "kube-controller-manager"
    if who == "scheduler":
        return state.schedulers[index].name
    return f"kubelet/{state.kubelets[index].node}"


def _kubelet_scope(node: str) -> informer.Scope:
    return ("kubelet", node)


def initial_state(config: Config) -> ClusterState:
    """etcd holds the scenario's objects; every component has listed them and handled them."""
    etcd = store(list(config.objects))
    kcm = start_kcm(etcd, None, etcd.revision)
    schedulers = []
    names = SCHEDULERS if "unguarded-bind" in config.variants else SCHEDULERS[:1]
    for name in names:
        inf, deltas = informer.relist(None, etcd, informer.SCHEDULER, etcd.revision)
        schedulers.append(scheduler.started(name, inf, deltas))
    kubelets = []
    for node in sorted(n.meta.name for n in config.objects if isinstance(n, Node)):
        inf, _ = informer.relist(None, etcd, _kubelet_scope(node), etcd.revision)
        kubelets.append(Kubelet(node=node, up=True, informer=inf))
    return ClusterState(
        etcd=etcd,
        kcm=kcm,
        schedulers=tuple(schedulers),
        kubelets=tuple(kubelets),
        pending_commands=frozenset(range(len(config.commands))),
        budget=config.budget,
    )


def settle(state: ClusterState, config: Config) -> ClusterState:
    """After a step: informers skip irrelevant events; the history forgets what every watcher has delivered, and
    is compacted beyond the watch cache's capacity (informers left behind get 410 Gone).

    With consistency "strong" an event is forgotten once every informer that watches its resource has passed it
    (``spec.writeorder.watched``; the watch cache is per resource upstream), whatever other informers still wait
    for; with "stale" the last ``watch_cache_size`` events stay, since a list may be served at any of them."""
    slots = state.informer_slots()
    plan = _settle(state.etcd, tuple(None if inf is None else (scope, inf.rv, inf.expired)
                                     for _, _, scope, inf in slots), config.consistency, config.watch_cache_size)
    if plan is None:
        return state
    etcd, moves = plan
    infs: list[Informer | None] = []
    for (_, _, _, inf), move in zip(slots, moves, strict=True):
        if move is not None:
            assert inf is not None
            rv, expired = move
            inf = Informer(rv, inf.cache, expired, max(inf.high_water, rv))
        infs.append(inf)
    return state.with_informers(infs, etcd)


_Positions = tuple[tuple[informer.Scope, int, bool] | None, ...]


@functools.lru_cache(maxsize=1 << 14)
def _settle(etcd: Etcd, positions: _Positions, consistency: str, watch_cache_size: int) -> tuple[
        Etcd, tuple[tuple[int, bool] | None, ...]] | None:
    """What ``settle`` does to etcd and to informers at ``positions`` (scope, rv, expired): (etcd', each
    informer's new (rv, expired) or None); None when nothing changes. A pure function of them (an informer's
    cache plays no part), memoised: many states share etcd and the informers' positions."""
    moved = [None if p is None else (p[0], informer.settled_rv(p[1], p[2], etcd, p[0]), p[2]) for p in positions]
    history = etcd.history
    keep, compacted = history, etcd.compacted
    if history:
        if consistency == "stale":
            keep = history[-watch_cache_size:]
            if len(keep) < len(history):
                compacted = max(compacted, history[len(history) - len(keep) - 1].rv)
        else:
            behind: dict[str, int] = {}  # resource -> the oldest position of an informer watching it
            for p in moved:
                if p is not None and not p[2] and p[1] < etcd.revision:
                    for resource in watched(p[0]):
                        behind[resource] = min(p[1], behind.get(resource, p[1]))
            keep = tuple(e for e in history if e.rv > behind.get(e.key[: e.key.index("/")], e.rv))
            if len(keep) > watch_cache_size:
                compacted = max(compacted, keep[-watch_cache_size - 1].rv)
                keep = keep[-watch_cache_size:]
    moves: list[tuple[int, bool] | None] = []
    for before, after in zip(positions, moved, strict=True):
        if before is None or after is None:
            moves.append(None)
            continue
        # Compaction past an informer's position answers its watch 410 Gone.
        expired = before[2] or (compacted != etcd.compacted and after[1] < compacted)
        moves.append(None if (after[1], expired) == (before[1], before[2]) else (after[1], expired))
    if len(keep) != len(history):
        etcd = Etcd(etcd.revision, etcd.objects, keep, compacted, etcd.next_uid)
    elif all(m is None for m in moves):
        return None
    return etcd, tuple(moves)


def commit(state: ClusterState, session: Session, config: Config, **changes: Any) -> ClusterState:
    """The state after a step: the session's etcd and ghost, the components' changes, then ``settle``."""
    new = state._with(etcd=session.etcd, ghost=session.ghost, **changes)
    return settle(new, config)


def relist_revisions(config: Config, etcd_revision: int, at_least: int, etcd: Any, restart: bool) -> list[int]:
    """Where a list may be served: the latest revision, or with consistency "stale" any retained one not older
    than the client's lastSyncResourceVersion. A restarted client has none; it is guarded by a consistent list
    unless the ``stale-relist`` variant is on."""
    if config.consistency != "stale":
        return [etcd_revision]
    if restart and "stale-relist" not in config.variants:
        return [etcd_revision]
    return list(informer.list_revisions(etcd, 0 if restart else at_least))


class ClusterModel(Model):
    """The Kubernetes control plane of one scenario, for ``checker.check``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        names = config.properties or tuple(PROPERTIES)
        props = []
        for name in names:
            spec = PROPERTIES[name]
            if spec.kind == "always":
                props.append(always_(name, spec.p))
            else:
                assert spec.q is not None
                props.append(leads_to(name, spec.p, spec.q))
        self.properties = tuple(props)
        self._own = tuple(props)
        actors = ["kube-controller-manager", "replicaset-controller", "deployment-controller", "clock"]
        actors += list(SCHEDULERS if "unguarded-bind" in config.variants else SCHEDULERS[:1])
        nodes = sorted(o.meta.name for o in config.objects if isinstance(o, Node))
        actors += [f"kubelet/{n}" for n in nodes] + [f"node/{n}" for n in nodes]
        self.fairness = tuple(weak(f"WF({a})", _selects(a)) for a in actors)
        self._fair_actors = {a: f"WF({a})" for a in actors}
        self._reduced: tuple[ClusterState, tuple[tuple[A.Action, ClusterState], ...]] | None = None
        self._symmetric = faults.symmetric_nodes(config) if config.symmetry else ()
        self._reorder = config.commute_writes and config.renumber and config.consistency == "strong"
        # Memoised on the state as generated: a third of the successors are states generated before, and
        # comparing them costs less than the reordering and the interning that come first in the representative.
        self._representative = functools.lru_cache(maxsize=1 << 14)(self._representative_of)

    # --- the checker's interface ------------------------------------------------------------------------
    def init_states(self) -> Iterable[ClusterState]:
        return [initial_state(self.config)]

    def successors(self, state: ClusterState) -> Iterator[tuple[A.Action, ClusterState]]:
        config = self.config
        reconciles = _reconciles(state, config)
        if config.reduction:
            if config.eager_noop:
                noop = next(((a, t) for a, t, idle in reconciles if idle), None)
                if noop is not None:
                    self._reduced = (state, (noop,))
                    return iter([noop])
            ample = _ample(state, config)
            if ample is not None:
                self._reduced = (state, tuple(ample))
                return iter(ample)
        return _successors(state, config, [(a, t) for a, t, _ in reconciles])

    def hidden_fairness(self, state: ClusterState) -> Iterable[str]:
        """The fair classes (one per actor) that a partial-order reduction hid in ``state``: every actor with a
        non-stuttering step enabled in the full Next relation (``enabled_actors``) and none among the steps
        returned. Without it a node that stays down along a loop of eager no-ops would look unfairly ignored only
        in the states the reduction expanded in full, and weak fairness of its recovery would not be forced."""
        reduced = self._reduced
        if reduced is None or reduced[0] is not state:
            return ()
        shown = {getattr(a, "actor", None) for a, t in reduced[1] if t != state}
        return sorted(self._fair_actors[a] for a in enabled_actors(state, self.config) - shown
                      if a in self._fair_actors)

    def canonical(self, state: ClusterState) -> ClusterState:
        return self._representative(state)

    def _representative_of(self, state: ClusterState) -> ClusterState:
        if self._reorder:
            state = canonical_history(state)
        return canonical_state(state, self._symmetric, renumber=self.config.renumber)

    def reductions(self) -> tuple[str, ...]:
        """The reductions on, for the verdict (``Config``'s switches; ``kubespec check --no-reduction`` turns
        every one off)."""
        return reductions_on(self.config, self._symmetric)

    def symmetric(self, prop: Property) -> bool:
        """The built-in properties name no node and no pod: renaming interchangeable nodes preserves them (a
        property added by a user is not vouched for)."""
        return any(prop is p for p in self._own)

    def describe(self, action: Any) -> str:
        return A.describe(action)

    def display(self, state: ClusterState) -> Mapping[str, Any]:
        from spec.display import display

        return display(state)


def _selects(actor: str) -> Any:
    return lambda a: getattr(a, "actor", None) == actor


# --- successors ----------------------------------------------------------------------------------------------


def _session(state: ClusterState, config: Config) -> Session:
    return Session(state.etcd, state.ghost, guarded_bind="unguarded-bind" not in config.variants)


def _successors(state: ClusterState, config: Config, reconciles: list[tuple[A.Action, ClusterState]]) -> Iterator[
        tuple[A.Action, ClusterState]]:
    components = [
        *_informer_steps(state, config),
        *reconciles,
        *_scheduler_steps(state, config),
        *_kubelet_steps(state, config),
    ]
    yield from components
    yield from _user_steps(state, config)
    yield from faults.fault_steps(state, config)
    yield from _tick(state, config, quiescent=not components)


_WRITES_PER_STEP = 8
"""More than any single step writes (a reconcile of the scenarios' sizes): the margin below the watch cache's
capacity under which no compaction can depend on the order of deliveries."""


def _idle(state: ClusterState, who: str, index: int) -> bool:
    if who == "kcm":
        return not state.kcm.rs_queue.queue and not state.kcm.deploy_queue.queue
    if who == "scheduler":
        s = state.schedulers[index]
        return scheduler.head(s) is None and not s.binding
    k = state.kubelets[index]
    if next(kubelet.work(k), None) is not None:
        return False
    assert k.informer is not None
    for key in k.informer.cache:
        current = state.etcd.objects.get(key)
        if kubelet.stale_status(k, current if isinstance(current, Pod) else None, key):
            return False
    return True


def _ample(state: ClusterState, config: Config) -> list[tuple[A.Action, ClusterState]] | None:
    """An ample set (Peled; Clarke, Grumberg and Peled, *Model Checking*, ch. 10): the next watch delivery of every
    informer of a component that has nothing else to do, plus the enabled faults.

    Why it is sound: such a delivery only changes that component's informer and queues (C2: no property reads
    them, they are invisible); it commutes with every other component's step and with every write (a write only
    appends to the history); and nothing but the delivery itself, a fault or a Tick can give the idle component
    work, while a Tick waits for every informer to catch up (C1: no dependent step can come first). This needs
    the component's informers to have a backlog each: a caught-up informer could receive a new event (written by
    anyone) whose delivery gives the component work that reads the other informers' stale caches, so the
    controller manager, with three informers, qualifies only when all three are behind. A delivery shortens a
    backlog and faults spend a budget, so no cycle is made of reduced states (C3), which also keeps liveness and
    fairness verdicts exact, given that the fair classes the ample set hides are reported as enabled
    (``ClusterModel.hidden_fairness``). Visible faults (container and node crashes change what runs) disable the
    reduction, as does a history close to the watch cache's capacity (then the order of deliveries decides who gets
    410 Gone). A scheduling cycle is *not* reduced: a caught-up scheduler may receive a node or bound-pod event
    before it.
    """
    b = state.budget
    if b.node_crashes or b.container_crashes or any(not k.up for k in state.kubelets):
        return None
    if len(state.etcd.history) + _WRITES_PER_STEP >= config.watch_cache_size:
        return None
    etcd = state.etcd
    slots = state.informer_slots()
    busy: set[tuple[str, int]] = set()
    for who, index, _, inf in slots:
        if inf is not None and (inf.expired or informer.next_event(inf, etcd) is not None):
            busy.add((who, 0 if who == "kcm" else index))
    for who, index in sorted(busy):
        if not _idle(state, who, index):
            continue
        if who == "kcm" and any(i is None or informer.next_event(i, etcd) is None for i in state.kcm.informers):
            # A caught-up informer of the controller manager may receive a new event (any component writes pods)
            # whose delivery enqueues a reconcile that reads another informer's cache: that reconcile would be a
            # dependent step reachable before the ample deliveries (C1). Only a backlog on all three is safe.
            continue
        steps: list[tuple[A.Action, ClusterState]] = []
        for w, i, scope, inf in slots:
            if w == who and (w == "kcm" or i == index):
                if inf is not None and inf.expired:
                    steps = []
                    break
                steps.extend(_slot_steps(state, config, w, i, scope, inf))
        if steps:
            return steps + list(faults.fault_steps(state, config))
    return None


def enabled_actors(state: ClusterState, config: Config) -> set[str]:
    """The actors with a non-stuttering step enabled in ``state`` in the full Next relation (``_successors``),
    from the steps' guards alone (cheap: no step is taken). A test checks it against ``_successors`` on every
    reachable state of the built-in scenarios."""
    out: set[str] = set()
    etcd = state.etcd
    busy = False
    for who, index, _, inf in state.informer_slots():
        if inf is not None and (inf.expired or informer.next_event(inf, etcd) is not None):
            out.add(actor_of(state, who, index))
            busy = True
    kcm = state.kcm
    if kcm.rs_queue.queue:
        out.add("replicaset-controller")
        busy = True
    if kcm.deploy_queue.queue:
        out.add("deployment-controller")
        busy = True
    for s in state.schedulers:
        if s.binding or scheduler.head(s) is not None:
            out.add(s.name)
            busy = True
    for k in state.kubelets:
        inf = k.informer
        if next(kubelet.work(k), None) is not None or (k.up and inf is not None and not inf.expired and any(
                kubelet.stale_status(k, p if isinstance(p := etcd.objects.get(key), Pod) else None, key)
                for key in inf.cache)):
            out.add(f"kubelet/{k.node}")
            busy = True
        if not k.up:
            out.add(f"node/{k.node}")
    if _caught_up(state):
        pending = manager.timers(state.kcm) + [t for s in state.schedulers for t in scheduler.timers(s)]
        if pending or (not busy and manager.resync(state.kcm) != state.kcm):
            out.add("clock")
    return out


def _informer_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    for who, index, scope, inf in state.informer_slots():
        yield from _slot_steps(state, config, who, index, scope, inf)


def _slot_steps(
    state: ClusterState, config: Config, who: str, index: int, scope: informer.Scope, inf: Informer | None
) -> Iterator[tuple[A.Action, ClusterState]]:
    """The steps of one informer: relist after 410 Gone, or deliver its next event."""
    if inf is None:
        return
    etcd = state.etcd
    actor = actor_of(state, who, index)
    if inf.expired:
        for rv in relist_revisions(config, etcd.revision, inf.rv, etcd, False):
            new, deltas = informer.relist(inf, etcd, scope, rv)
            yield A.Relist(actor, rv, etcd.revision), settle(handle(state, who, index, new, deltas), config)
    elif (i := informer.next_event(inf, etcd)) is not None:
        event = etcd.history[i]
        new, key, old, obj = informer.deliver(inf, etcd, scope)
        yield A.Deliver(actor, event.type, key, event.rv), settle(
            handle(state, who, index, new, ((key, old, obj),)), config)


def _reconciles(state: ClusterState, config: Config) -> list[tuple[A.Action, ClusterState, bool]]:
    """Every queued key's reconcile: (action, next state, idle), ``idle`` when the reconcile wrote nothing,
    recorded no Event and changed nothing in the controller but took the key off its queue.

    With ``Config.eager_noop`` an idle reconcile is taken at once, alone (an ample set of one invisible step).
    Why it is sound although a watch delivery could make the same reconcile do something: the controllers are
    level-triggered. Their handlers enqueue the key of every object whose change their reconcile could react to
    (pkg/controller/replicaset/replica_set.go addPod/updatePod/deletePod/updateRS: the owner or the ReplicaSet
    itself; pkg/controller/deployment/deployment_controller.go updateDeployment, add/update/deleteReplicaSet: the
    Deployment), and expectations that expire enqueue theirs. So a behaviour that delivers such a change and then
    reconciles the key is matched, after the early no-op, by the same delivery enqueuing the key again and the
    same reconcile; a behaviour that reconciles it without a change is the no-op itself. Each such step empties a
    queue slot, so no cycle is made of them (C3).

    Fairness: the no-op hides every other enabled step of its state, so the state reports the fair classes it
    hid (``ClusterModel.hidden_fairness``, ``enabled_actors``) and the checker counts them as enabled. No fairly
    scheduled action loses continuous enabledness: the no-op changes only the controller manager's queue, so
    every other actor enabled before it is enabled after it (the clock aside, which waits for quiescence and is
    itself fair only where it is enabled). Without this a crashed node's recovery looked disabled along a loop
    of resyncs and no-ops, and EventualReplicaConvergence was reported violated (tests/spec/test_spec_
    differential.py)."""
    kcm = state.kcm
    expectations = "no-expectations" not in config.variants
    guarded = "unguarded-bind" not in config.variants
    out = []
    for controller, queue, actor in (
        ("replicaset", kcm.rs_queue, "replicaset-controller"),
        ("deployment", kcm.deploy_queue, "deployment-controller"),
    ):
        for key in queue.queue:
            new, failed, etcd, ghost, events, idle = _reconcile(
                kcm, state.etcd, state.ghost, controller, key, expectations, guarded)
            out.append((A.Reconcile(actor, key, failed, events),
                        settle(state._with(etcd=etcd, ghost=ghost, kcm=new), config), idle))
    return out


@functools.lru_cache(maxsize=1 << 14)
def _reconcile(kcm: ControllerManager, etcd: Etcd, ghost: Any, controller: str, key: str, expectations: bool,
               guarded: bool) -> tuple[ControllerManager, bool, Etcd, Any, tuple[str, ...], bool]:
    """One reconcile: (controller manager', failed, etcd', ghost', Events, idle). A pure function of the
    controller manager and etcd (its caches follow from etcd: ``spec.state.Informer``), memoised: many states
    differ only in the scheduler or the kubelets."""
    session = Session(etcd, ghost, guarded_bind=guarded)
    new, failed = manager.reconcile(kcm, session, controller, key, expectations=expectations)
    idle = not (failed or session.writes or session.events) and new == _popped(kcm, controller, key)
    return new, failed, session.etcd, session.ghost, tuple(session.events), idle


def _popped(kcm: ControllerManager, controller: str, key: str) -> ControllerManager:
    queue = kcm.rs_queue if controller == "replicaset" else kcm.deploy_queue
    rest = WorkQueue(tuple(k for k in queue.queue if k != key), queue.waiting, queue.failures)
    if controller == "replicaset":
        return ControllerManager(kcm.informers, rest, kcm.deploy_queue, kcm.expectations)
    return ControllerManager(kcm.informers, kcm.rs_queue, rest, kcm.expectations)


def _scheduler_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    for s in state.schedulers:
        yield from _schedule_steps(state, config, s)
        for item in s.binding:
            session = _session(state, config)
            new_s = scheduler.bind(s, session, item)
            ok = session.writes > 0 and not any("rejected" in e for e in session.events)
            yield A.Bind(s.name, item[0], item[2], session.etcd.revision, ok, tuple(session.events)), commit(
                state, session, config, schedulers=_replace_scheduler(state, new_s))


def _schedule_steps(state: ClusterState, config: Config, s: Scheduler) -> Iterator[tuple[A.Action, ClusterState]]:
    entry = scheduler.head(s)
    if entry is None:
        return
    requeue = "no-requeue" not in config.variants
    for node, new_s, session in scheduler.schedule_one(s, _session(state, config), requeue=requeue):
        yield A.Schedule(s.name, entry.key, node or "", tuple(session.events)), commit(
            state, session, config, schedulers=_replace_scheduler(state, new_s))


def _replace_scheduler(state: ClusterState, s: Scheduler) -> tuple[Scheduler, ...]:
    return tuple(s if x.name == s.name else x for x in state.schedulers)


def _kubelet_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    for k in state.kubelets:
        for what, key in kubelet.work(k):
            session = _session(state, config)
            new_k = kubelet.sync(k, session, what, key)
            yield A.SyncPod(f"kubelet/{k.node}", what, key, tuple(session.events)), commit(
                state, session, config, kubelets=_replace_kubelet(state, new_k))
        if k.up and k.informer is not None and not k.informer.expired:
            for key in sorted(k.informer.cache.keys()):
                current = state.etcd.objects.get(key)
                if kubelet.stale_status(k, current if isinstance(current, Pod) else None, key):
                    session = _session(state, config)
                    kubelet.report_ready(k, session, key)
                    yield A.SyncPod(f"kubelet/{k.node}", "report", key), commit(state, session, config)


def _replace_kubelet(state: ClusterState, k: Kubelet) -> tuple[Kubelet, ...]:
    return tuple(k if x.node == k.node else x for x in state.kubelets)


def _user_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    for index in sorted(state.pending_commands):
        command = config.commands[index]
        session = _session(state, config)
        output = kubectl.run(command, session)
        yield A.Kubectl("kubectl", command.line, output), commit(
            state, session, config, pending_commands=state.pending_commands - {index})


def _caught_up(state: ClusterState) -> bool:
    revision = state.etcd.revision
    return all(i is None or (not i.expired and i.rv >= revision) for _, _, _, i in state.informer_slots())


def _tick(state: ClusterState, config: Config, *, quiescent: bool) -> Iterator[tuple[A.Action, ClusterState]]:
    """Time passes to the next deadline (only once every informer has caught up: see ``spec.clock``). With no
    timer pending, the next deadline is the informers' resync period, which is longer than any activity: it
    elapses only when no component has anything to do (``quiescent``)."""
    if not _caught_up(state):
        return
    pending = manager.timers(state.kcm) + [t for s in state.schedulers for t in scheduler.timers(s)]
    if not pending:
        if not quiescent:
            return
        kcm = manager.resync(state.kcm)
        yield A.Tick("clock", 0, ("resync",) if kcm != state.kcm else ()), attrs.evolve(state, kcm=kcm)
        return
    dt = min(pending)
    fired = []
    if dt in manager.timers(state.kcm):
        fired.append("controller backoff/expectations")
    if any(dt in scheduler.timers(s) for s in state.schedulers):
        fired.append("scheduler backoff/flush")
    kcm = manager.elapse(state.kcm, dt)
    schedulers = tuple(scheduler.elapse(s, dt) for s in state.schedulers)
    yield A.Tick("clock", dt, tuple(fired)), attrs.evolve(state, kcm=kcm, schedulers=schedulers)


def object_counts(state: ClusterState) -> dict[str, int]:
    """Objects per kind (for summaries)."""
    counts: dict[str, int] = {}
    for obj in state.etcd.objects.values():
        name = {Pod: "pods", Node: "nodes", ReplicaSet: "replicasets", Deployment: "deployments"}[type(obj)]
        counts[name] = counts.get(name, 0) + 1
    return counts

