"""The control plane as one transition system (the meaning, without any reduction): the initial state from a
scenario, Next as the union of every component's steps, the properties, fairness and the trace view.

Shape after Anvil (anvil-verifier/anvil, src/kubernetes_cluster/spec/cluster.rs) and TLA+'s Init / Next: one
``ClusterState``, one action type per kind of step, each step a whole reconcile or one watch event's delivery to
one component. The components' own modules hold their state and their steps:

| component | module | state | steps |
| --- | --- | --- | --- |
| API server + etcd | ``spec.apiserver``, ``spec.watchcache`` | ``Etcd`` | writes (a ``Session``), watch cache |
| informers | ``spec.informer`` | ``Informer`` | ``Deliver``, ``Relist`` |
| controller manager | ``spec.controllers.manager`` | ``ControllerManager`` | handlers, queues, restart |
| ReplicaSet controller | ``spec.controllers.replicaset`` | expectations | ``Reconcile`` |
| Deployment controller | ``spec.controllers.deployment`` | (none of its own) | ``Reconcile`` |
| scheduler | ``spec.scheduler`` | ``Scheduler`` | ``Schedule``, ``Bind`` |
| kubelet | ``spec.kubelet`` | ``Kubelet`` | ``SyncPod`` |
| node lifecycle + taint eviction | ``spec.controllers.nodelifecycle`` | ``NodeLifecycle`` | ``Reconcile`` |
| kubectl | ``spec.kubectl`` | the commands left | ``Kubectl`` |
| faults | ``spec.faults`` | ``Budget`` | ``Fault``, ``Recover`` |
| clock | ``spec.clock`` | the components' timers | ``Tick`` |

Every write goes through ``spec.apiserver``; after each step the watch cache settles (``spec.watchcache``).
Fairness is weak fairness per actor (each controller, scheduler, kubelet, node's recovery, and the clock); the
user and faults are not fair. Nothing here imports the reductions (``spec.reduction``): ``Cluster`` is the plain
Next relation, which ``kubespec check --no-reduction`` explores, and ``spec.model.ClusterModel`` is this model
with the reductions on.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs

from checker import Model, Property, eventually_always, leads_to, leads_to_always, weak
from checker import always as always_
from spec import actions as A
from spec import faults, informer, kubectl, kubelet, scheduler
from spec.apiserver import Session, store
from spec.config import Config
from spec.controllers import garbagecollector, manager, nodelifecycle
from spec.properties import PROPERTIES
from spec.state import (
    ClusterState,
    ControllerManager,
    Deployment,
    Etcd,
    Informer,
    Key,
    Kubelet,
    Node,
    Object,
    Pod,
    ReplicaSet,
    Scheduler,
    WorkQueue,
)
from spec.watchcache import settle

__all__ = ["Cluster", "Config", "enabled_actors", "initial_state", "next_steps", "reconcile_steps"]

SCHEDULERS = ("default-scheduler", "default-scheduler-2")


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
    kcm = manager.restart(etcd, None, etcd.revision)
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


def commit(state: ClusterState, session: Session, config: Config, **changes: Any) -> ClusterState:
    """The state after a step: the session's etcd and ghost, the components' changes, then ``settle``."""
    new = state._with(etcd=session.etcd, ghost=session.ghost, **changes)
    return settle(new, config)


def fair_actors(config: Config) -> tuple[str, ...]:
    """The actors whose steps are weakly fair: each controller, the scheduler(s), every kubelet, every node's
    recovery, and the clock. Watch deliveries are fair through the actor that receives them."""
    actors = ["kube-controller-manager", "replicaset-controller", "deployment-controller", garbagecollector.ACTOR,
              "clock",
              nodelifecycle.MONITOR_ACTOR, nodelifecycle.EVICTION_ACTOR]
    actors += list(SCHEDULERS if "unguarded-bind" in config.variants else SCHEDULERS[:1])
    nodes = sorted(o.meta.name for o in config.objects if isinstance(o, Node))
    actors += [f"kubelet/{n}" for n in nodes] + [f"node/{n}" for n in nodes]
    return tuple(actors)


def fairness_name(actor: str) -> str:
    return f"WF({actor})"


def _selects(actor: str) -> Any:
    return lambda a: getattr(a, "actor", None) == actor


def checker_properties(config: Config) -> tuple[Property, ...]:
    """The properties the scenario names (by default all but the findings), as the checker's properties:
    ``PropertySpec.kind`` names the checker's operator, and the ``p ~> q`` kinds take the premise ``p``."""
    props = []
    for name in config.properties or tuple(n for n, p in PROPERTIES.items()
                                           if not p.finding and (p.applies is None or p.applies(config))):
        spec = PROPERTIES[name]
        if spec.kind in ("always", "eventually_always"):
            props.append((always_ if spec.kind == "always" else eventually_always)(name, spec.p))
        else:
            assert spec.q is not None
            props.append((leads_to if spec.kind == "leads_to" else leads_to_always)(name, spec.p, spec.q))
    return tuple(props)


class Cluster(Model):
    """The Kubernetes control plane of one scenario as a plain transition system (no reduction)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.properties = checker_properties(config)
        self.fairness = tuple(weak(fairness_name(a), _selects(a)) for a in fair_actors(config))

    def init_states(self) -> Iterable[ClusterState]:
        return [initial_state(self.config)]

    def successors(self, state: ClusterState) -> Iterator[tuple[A.Action, ClusterState]]:
        return next_steps(state, self.config)

    def reductions(self) -> tuple[str, ...]:
        return ()

    def describe(self, action: Any) -> str:
        return A.describe(action)

    def display(self, state: ClusterState) -> Mapping[str, Any]:
        from spec.display import display

        return display(state)

    def why(self, before: ClusterState, action: Any, after: ClusterState) -> list[str]:
        """What the step's actor read, from where, and what its requests answered (``spec.display.why``)."""
        from spec.display import why

        return why(before, action, after, self.config)

    def explain(self, name: str, state: ClusterState) -> str | None:
        """The property's own explanation of what breaks it in ``state`` (``PropertySpec.explain``), or None."""
        spec = PROPERTIES.get(name)
        return None if spec is None or spec.explain is None else spec.explain(state)

    def views(self) -> Mapping[str, Any]:
        """The built-in views of a state graph's quotient, by name (``spec.display.VIEWS``; the first is the
        default of ``kubespec graph --view``)."""
        from spec.display import VIEWS

        return VIEWS

    def tables(self, state: ClusterState) -> list[dict[str, Any]]:
        """The API objects as ``kubectl get deploy,rs,pods,nodes -o wide`` tabulates them (``spec.display``)."""
        from spec.display import tables

        return tables(state)


def next_steps(state: ClusterState, config: Config, reconciles: list[tuple[A.Action, ClusterState, bool]] | None = None
               ) -> Iterator[tuple[A.Action, ClusterState]]:
    """Next: every enabled step of every component, the user's and the faults' (TLA+'s disjunction of actions,
    each labelled by its action). ``reconciles``: ``reconcile_steps(state, config)`` when already computed."""
    if reconciles is None:
        reconciles = reconcile_steps(state, config)
    return _successors(state, config, [(a, t) for a, t, _ in reconciles])


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
        *_lifecycle_steps(state, config),
        *_gc_steps(state, config),
    ]
    yield from components
    yield from _user_steps(state, config)
    yield from faults.fault_steps(state, config)
    yield from _tick(state, config, quiescent=not components)


def enabled_actors(state: ClusterState, config: Config) -> set[str]:
    """The actors with a non-stuttering step enabled in ``state`` in the full Next relation (``next_steps``),
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
        if next(kubelet.work(k), None) is not None or next(stale_reports(state, k), None) is not None:
            out.add(f"kubelet/{k.node}")
            busy = True
        if not k.up and not k.failed:
            out.add(f"node/{k.node}")
    for actor, _ in nodelifecycle.work(state.lifecycle, etcd.objects, _zone_aware(config)):
        out.add(actor)
        busy = True
    if gc_work(state, config):
        out.add(garbagecollector.ACTOR)
        busy = True
    if _caught_up(state) and not _handlers_pending(state, config):
        pending = _timers(state)
        if pending or (not busy and manager.resync(state.kcm) != state.kcm):
            out.add("clock")
    return out


def _informer_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    for who, index, scope, inf in state.informer_slots():
        yield from slot_steps(state, config, who, index, scope, inf)


def slot_steps(
    state: ClusterState, config: Config, who: str, index: int, scope: informer.Scope, inf: Informer | None
) -> Iterator[tuple[A.Action, ClusterState]]:
    """The steps of one informer: relist after 410 Gone, or deliver its next event."""
    if inf is None:
        return
    etcd = state.etcd
    actor = actor_of(state, who, index)
    if inf.expired:
        for rv in informer.relist_revisions(config, etcd.revision, inf.rv, etcd, False):
            new, deltas = informer.relist(inf, etcd, scope, rv)
            yield A.Relist(actor, rv, etcd.revision), settle(handle(state, who, index, new, deltas), config)
    elif (i := informer.next_event(inf, etcd)) is not None:
        event = etcd.history[i]
        new, key, old, obj = informer.deliver(inf, etcd, scope)
        yield A.Deliver(actor, event.type, key, event.rv), settle(
            handle(state, who, index, new, ((key, old, obj),)), config)


def reconcile_steps(state: ClusterState, config: Config) -> list[tuple[A.Action, ClusterState, bool]]:
    """Every queued key's reconcile: (action, next state, idle), ``idle`` when the reconcile wrote nothing,
    recorded no Event and changed nothing in the controller but took the key off its queue (a fact about the
    step, which the eager no-op reduction of ``spec.reduction.partial_order`` uses)."""

    kcm = state.kcm
    expectations = "no-expectations" not in config.variants
    guarded = "unguarded-bind" not in config.variants
    out: list[tuple[A.Action, ClusterState, bool]] = []
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
        for key in stale_reports(state, k):
            session = _session(state, config)
            kubelet.report_ready(k, session, key)
            yield A.SyncPod(f"kubelet/{k.node}", "report", key), commit(state, session, config)


def stale_reports(state: ClusterState, k: Kubelet) -> Iterator[Key]:
    """The pods (in key order) whose status in etcd the kubelet ``k`` has yet to report (``kubelet.stale_status``):
    none while the node is down or its informer must relist."""
    inf = k.informer
    if not k.up or inf is None or inf.expired:
        return
    for key in sorted(inf.cache.keys()):
        current = state.etcd.objects.get(key)
        if kubelet.stale_status(k, current if isinstance(current, Pod) else None, key):
            yield key


def _replace_kubelet(state: ClusterState, k: Kubelet) -> tuple[Kubelet, ...]:
    return tuple(k if x.node == k.node else x for x in state.kubelets)


# --- the node lifecycle and taint eviction controllers (spec.controllers.nodelifecycle) ---------------------


def _lifecycle_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    """The node lifecycle controller marks a node whose grace period expired; the taint eviction controller
    brings its schedule in line with etcd's taints and pods, or deletes a pod whose deadline is due."""
    lc = state.lifecycle
    zone_aware = _zone_aware(config)
    for actor, what in nodelifecycle.work(lc, state.etcd.objects, zone_aware):
        session = _session(state, config)
        if actor == nodelifecycle.MONITOR_ACTOR:
            key = nodelifecycle.pass_label(lc, state.etcd.objects)
            new = nodelifecycle.monitor(lc, session, what, zone_aware)
        elif what == "track":
            new, changes = nodelifecycle.track(lc, state.etcd.objects)
            session.events.extend(changes)
            key = "pods (on NoExecute-tainted nodes)"
        else:
            new = nodelifecycle.evict(lc, session, what)
            key = what
        yield A.Reconcile(actor, key, False, tuple(session.events)), commit(state, session, config, lifecycle=new)


def gc_work(state: ClusterState, config: Config) -> tuple[tuple[str, Key, Etcd, Any, tuple[str, ...]], ...]:
    """The garbage collector's work items that change something (``garbagecollector.steps``)."""
    return garbagecollector.steps(tuple(i.cache for i in state.kcm.informers), state.etcd, state.ghost,
                                  True)


def _gc_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    for _, key, etcd, ghost, events in gc_work(state, config):
        yield A.Reconcile(garbagecollector.ACTOR, key, False, events), settle(
            state._with(etcd=etcd, ghost=ghost), config)


def _zone_aware(config: Config) -> bool:
    return "no-zone-disruption" not in config.variants


def _handlers_pending(state: ClusterState, config: Config) -> bool:
    """The node lifecycle controller has a pass to make (monitorNodeHealth runs every 5 s, the tainting pass every
    100 ms), or the taint eviction controller has yet to react to a taint or pod change or has a deletion due:
    they happen before time advances further (the clock's timing assumption, ``spec.clock``: they are faster than
    the shortest timer)."""
    lc, objects = state.lifecycle, state.etcd.objects
    return bool(nodelifecycle.due_pods(lc)) or nodelifecycle.track_needed(lc, objects) or nodelifecycle.plan(
        lc, objects, _zone_aware(config)) is not None


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
    if not _caught_up(state) or _handlers_pending(state, config):
        return
    pending = _timers(state)
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
    fired += nodelifecycle.fired(state.lifecycle, dt)
    kcm = manager.elapse(state.kcm, dt)
    schedulers = tuple(scheduler.elapse(s, dt) for s in state.schedulers)
    yield A.Tick("clock", dt, tuple(fired)), attrs.evolve(
        state, kcm=kcm, schedulers=schedulers, lifecycle=nodelifecycle.elapse(state.lifecycle, dt))


def _timers(state: ClusterState) -> list[int]:
    """Every running timer's remaining ms: the controllers', the schedulers', the node lifecycle's."""
    return (manager.timers(state.kcm) + [t for s in state.schedulers for t in scheduler.timers(s)]
            + nodelifecycle.timers(state.lifecycle))


def object_counts(state: ClusterState) -> dict[str, int]:
    """Objects per kind (for summaries)."""
    counts: dict[str, int] = {}
    for obj in state.etcd.objects.values():
        name = {Pod: "pods", Node: "nodes", ReplicaSet: "replicasets", Deployment: "deployments"}[type(obj)]
        counts[name] = counts.get(name, 0) + 1
    return counts

