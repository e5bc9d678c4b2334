"""The control plane as one ``checker.Model``: initial state from a scenario, the successor relation composed of
every component's steps, the properties, fairness, symmetry and the trace view.

Shape after Anvil (anvil-verifier/anvil, src/kubernetes_cluster/spec/cluster.rs): one ClusterState, one action
type per kind of step, each step a whole reconcile or one watch event's delivery to one component. Every write
goes through ``spec.apiserver``; after each step every informer skips the events it does not care about, the
watch history forgets what every informer has seen, and a history longer than the watch cache's capacity is
compacted (a watcher left behind gets 410 Gone and relists).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import attrs
import immutables

from checker import Model, leads_to, weak
from checker import always as always_
from spec import actions as A
from spec import faults, informer, kubectl, kubelet, scheduler
from spec.apiserver import Session, store
from spec.canonical import canonical_state
from spec.clock import elapse as _unused_elapse  # noqa: F401  (documents where timers live)
from spec.controllers import manager
from spec.properties import PROPERTIES
from spec.state import (
    Budget,
    ClusterState,
    ControllerManager,
    Deployment,
    Informer,
    Kubelet,
    Node,
    Object,
    Pod,
    ReplicaSet,
    Scheduler,
)

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


def _kcm_scope() -> informer.Scope:
    return informer.KCM


def _kubelet_scope(node: str) -> informer.Scope:
    return ("kubelet", node)


def initial_state(config: Config) -> ClusterState:
    """etcd holds the scenario's objects; every component has listed them and handled them."""
    etcd = store(list(config.objects))
    kcm_inf, deltas = informer.relist(None, etcd, informer.KCM, etcd.revision)
    kcm = manager.started(kcm_inf, deltas)
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
    """After a step: informers skip irrelevant events; the history forgets what all have seen, and is compacted
    beyond the watch cache's capacity (informers left behind get 410 Gone)."""
    etcd = state.etcd
    kcm = state.kcm
    inf = informer.settle(kcm.informer, etcd, informer.KCM)
    if inf is not kcm.informer:
        kcm = attrs.evolve(kcm, informer=inf)
    schedulers = tuple(
        s if (i := informer.settle(s.informer, etcd, informer.SCHEDULER)) is s.informer
        else attrs.evolve(s, informer=i) for s in state.schedulers
    )
    kubelets = []
    for k in state.kubelets:
        if k.informer is not None:
            i = informer.settle(k.informer, etcd, _kubelet_scope(k.node))
            if i is not k.informer:
                k = attrs.evolve(k, informer=i)
        kubelets.append(k)
    live = [kcm.informer, *(s.informer for s in schedulers), *(k.informer for k in kubelets if k.informer)]
    live = [i for i in live if not i.expired]
    history = etcd.history
    if history:
        seen_by_all = min((i.rv for i in live), default=etcd.revision)
        if config.consistency == "stale":
            # stale lists may be served from any retained revision: keep the window
            keep = history[-config.watch_cache_size:]
        else:
            keep = tuple(e for e in history if e.rv > seen_by_all)
            keep = keep[-config.watch_cache_size:] if len(keep) > config.watch_cache_size else keep
        if len(keep) != len(history):
            compacted = max(etcd.compacted, history[len(history) - len(keep) - 1].rv)
            etcd = attrs.evolve(etcd, history=keep, compacted=compacted)

            def expire(i: Informer) -> Informer:
                return attrs.evolve(i, expired=True) if i.rv < compacted and not i.expired else i

            kcm = attrs.evolve(kcm, informer=expire(kcm.informer))
            schedulers = tuple(attrs.evolve(s, informer=expire(s.informer)) for s in schedulers)
            kubelets = [attrs.evolve(k, informer=expire(k.informer)) if k.informer else k for k in kubelets]
    return attrs.evolve(state, etcd=etcd, kcm=kcm, schedulers=schedulers, kubelets=tuple(kubelets))


def commit(state: ClusterState, session: Session, config: Config, **changes: Any) -> ClusterState:
    """The state after a step: the session's etcd and ghost, the components' changes, then ``settle``."""
    new = attrs.evolve(state, etcd=session.etcd, ghost=session.ghost, **changes)
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
        actors = ["kube-controller-manager", "replicaset-controller", "deployment-controller", "clock"]
        actors += list(SCHEDULERS if "unguarded-bind" in config.variants else SCHEDULERS[:1])
        nodes = sorted(o.meta.name for o in config.objects if isinstance(o, Node))
        actors += [f"kubelet/{n}" for n in nodes] + [f"node/{n}" for n in nodes]
        self.fairness = tuple(weak(f"WF({a})", _selects(a)) for a in actors)
        self._symmetric = faults.symmetric_nodes(config) if config.symmetry else ()

    # --- the checker's interface ------------------------------------------------------------------------
    def init_states(self) -> Iterable[ClusterState]:
        return [initial_state(self.config)]

    def successors(self, state: ClusterState) -> Iterator[tuple[A.Action, ClusterState]]:
        if self.config.reduction:
            ample = _ample(state, self.config)
            if ample is not None:
                return iter(ample)
        return _successors(state, self.config)

    def canonical(self, state: ClusterState) -> ClusterState:
        return canonical_state(state, self._symmetric)

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


def _successors(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    yield from _informer_steps(state, config)
    yield from _controller_steps(state, config)
    yield from _scheduler_steps(state, config)
    yield from _kubelet_steps(state, config)
    yield from _user_steps(state, config)
    yield from faults.fault_steps(state, config)
    yield from _tick(state, config)


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
    """An ample set (Peled; Clarke, Grumberg and Peled, *Model Checking*, ch. 10): the next watch delivery to a
    component that has nothing else to do, plus the enabled faults.

    Why it is sound: such a delivery only changes that component's informer and queues (C2: no property reads
    them, they are invisible); it commutes with every other component's step and with every write (a write only
    appends to the history), and nothing but the delivery itself, a fault or a Tick can give the idle component
    something to do, while a Tick waits for every informer to catch up (C1: no dependent action can come first);
    a delivery strictly shortens that component's backlog and faults spend their budget, so no cycle is made of
    reduced states (C3), which also keeps liveness and fairness verdicts exact. Visible faults (container and node
    crashes change what runs) disable the reduction, as does a history close to the watch cache's capacity (then
    the order of deliveries decides who gets 410 Gone).
    """
    b = state.budget
    if b.node_crashes or b.container_crashes or any(not k.up for k in state.kubelets):
        return None
    if len(state.etcd.history) + _WRITES_PER_STEP >= config.watch_cache_size:
        return None
    etcd = state.etcd
    candidates: list[tuple[str, int, Informer | None]] = [("kcm", 0, state.kcm.informer)]
    candidates += [("scheduler", i, s.informer) for i, s in enumerate(state.schedulers)]
    candidates += [("kubelet", i, k.informer) for i, k in enumerate(state.kubelets)]
    for who, index, inf in candidates:
        if inf is None or inf.expired or informer.next_event(inf, etcd) is None or not _idle(state, who, index):
            continue
        chosen = [step for step in _informer_steps(state, config) if _delivers_to(step[0], who, index, state)]
        if len(chosen) != 1:
            continue
        return chosen + list(faults.fault_steps(state, config))
    return None


def _delivers_to(action: A.Action, who: str, index: int, state: ClusterState) -> bool:
    if not isinstance(action, A.Deliver):
        return False
    if who == "kcm":
        return action.actor == "kube-controller-manager"
    if who == "scheduler":
        return action.actor == state.schedulers[index].name
    return action.actor == f"kubelet/{state.kubelets[index].node}"


def _informer_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    etcd = state.etcd
    kcm = state.kcm
    actor = "kube-controller-manager"
    if kcm.informer.expired:
        for rv in relist_revisions(config, etcd.revision, kcm.informer.rv, etcd, False):
            inf, deltas = informer.relist(kcm.informer, etcd, informer.KCM, rv)
            new = attrs.evolve(kcm, informer=inf)
            for key, old, obj in deltas:
                new = manager.handle(new, key, old, obj)
            yield A.Relist(actor, rv, etcd.revision), settle(attrs.evolve(state, kcm=new), config)
    elif (i := informer.next_event(kcm.informer, etcd)) is not None:
        event = etcd.history[i]
        inf, key, old, obj = informer.deliver(kcm.informer, etcd, informer.KCM)
        new = manager.handle(attrs.evolve(kcm, informer=inf), key, old, obj)
        yield A.Deliver(actor, event.type, key, event.rv), settle(attrs.evolve(state, kcm=new), config)
    for s in state.schedulers:
        if s.informer.expired:
            for rv in relist_revisions(config, etcd.revision, s.informer.rv, etcd, False):
                inf, deltas = informer.relist(s.informer, etcd, informer.SCHEDULER, rv)
                new_s = attrs.evolve(s, informer=inf)
                for key, old, obj in deltas:
                    new_s = scheduler.handle(new_s, key, old, obj)
                yield A.Relist(s.name, rv, etcd.revision), settle(state.with_scheduler(new_s), config)
        elif (i := informer.next_event(s.informer, etcd)) is not None:
            event = etcd.history[i]
            inf, key, old, obj = informer.deliver(s.informer, etcd, informer.SCHEDULER)
            new_s = scheduler.handle(attrs.evolve(s, informer=inf), key, old, obj)
            yield A.Deliver(s.name, event.type, key, event.rv), settle(state.with_scheduler(new_s), config)
    for k in state.kubelets:
        if k.informer is None:
            continue
        scope = _kubelet_scope(k.node)
        if k.informer.expired:
            for rv in relist_revisions(config, etcd.revision, k.informer.rv, etcd, False):
                inf, _ = informer.relist(k.informer, etcd, scope, rv)
                yield A.Relist(f"kubelet/{k.node}", rv, etcd.revision), settle(
                    state.with_kubelet(attrs.evolve(k, informer=inf)), config)
        elif (i := informer.next_event(k.informer, etcd)) is not None:
            event = etcd.history[i]
            inf, key, _, _ = informer.deliver(k.informer, etcd, scope)
            yield A.Deliver(f"kubelet/{k.node}", event.type, key, event.rv), settle(
                state.with_kubelet(attrs.evolve(k, informer=inf)), config)


def _controller_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    kcm = state.kcm
    expectations = "no-expectations" not in config.variants
    for controller, queue, actor in (
        ("replicaset", kcm.rs_queue, "replicaset-controller"),
        ("deployment", kcm.deploy_queue, "deployment-controller"),
    ):
        for key in queue.queue:
            session = _session(state, config)
            new, failed = manager.reconcile(kcm, session, controller, key, expectations=expectations)
            yield A.Reconcile(actor, key, failed, tuple(session.events)), commit(state, session, config, kcm=new)


def _scheduler_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    requeue = "no-requeue" not in config.variants
    for s in state.schedulers:
        entry = scheduler.head(s)
        if entry is not None:
            base = _session(state, config)
            for node, new_s, session in scheduler.schedule_one(s, base, requeue=requeue):
                yield A.Schedule(s.name, entry.key, node or "", tuple(session.events)), commit(
                    state, session, config, schedulers=_replace_scheduler(state, new_s))
        for item in s.binding:
            session = _session(state, config)
            new_s = scheduler.bind(s, session, item)
            ok = session.writes > 0 and not any("rejected" in e for e in session.events)
            yield A.Bind(s.name, item[0], item[2], session.etcd.revision, ok, tuple(session.events)), commit(
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
    infs = [state.kcm.informer, *(s.informer for s in state.schedulers), *(k.informer for k in state.kubelets)]
    return all(i is None or (not i.expired and i.rv >= revision) for i in infs)


def _tick(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    """Time passes to the next deadline (only once every informer has caught up: see ``spec.clock``)."""
    if not _caught_up(state):
        return
    pending = manager.timers(state.kcm) + [t for s in state.schedulers for t in scheduler.timers(s)]
    if not pending:
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


EMPTY: immutables.Map[str, Object] = immutables.Map()
_ = ControllerManager
