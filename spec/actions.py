"""The model's actions: small frozen values with an ``actor``, so that a trace reads as a story and the checker's
coverage counts each kind of step per component. Events (client-go's EventRecorder output) ride on the action.

Each action class has a ``step_kind`` (a class attribute, not a field: it is not part of the action's value, nor
of the trace format), one of ``KINDS``; ``kind(action)`` reads it, so that traces and diagrams can ask the model
what a step is rather than guess from names. (Not ``kind``: ``Fault.kind`` is a field, "crash", "restart", ...)

Each action caches its hash (``cache_hash``): the checker hashes every generated step's action three times (its
counts per action, its fairness classes, its distinct states per action).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

KINDS = ("delivery", "reconcile", "schedule", "bind", "sync", "kubectl", "fault", "tick", "election")
"""Every step kind: a watch delivery or relist, a controller's reconcile, a scheduling cycle, a binding cycle, a
kubelet's pod sync, a user's command, a fault (or a crashed node's recovery), time passing, a leader elector's
try to acquire or renew its lease (or its giving up: ``spec.leaderelection``)."""


@attrs.frozen(cache_hash=True)
class Deliver:
    """A watch event delivered to one component's informer."""

    step_kind: ClassVar[str] = "delivery"
    actor: str
    type: str
    key: str
    rv: int


@attrs.frozen(cache_hash=True)
class Relist:
    """An informer lists again (after 410 Gone or a broken watch) at revision ``rv``."""

    step_kind: ClassVar[str] = "delivery"
    actor: str
    rv: int
    latest: int


@attrs.frozen(cache_hash=True)
class CacheSync:
    """An API server's watch cache receives etcd's pending events: it catches up from ``rv`` to ``latest``
    (several API servers: ``spec.kube_apiserver``)."""

    step_kind: ClassVar[str] = "delivery"
    actor: str
    rv: int
    latest: int


@attrs.frozen(cache_hash=True)
class Reconcile:
    """One controller worker pops ``key`` and reconciles it."""

    step_kind: ClassVar[str] = "reconcile"
    actor: str
    key: str
    failed: bool = False
    events: tuple[str, ...] = ()


@attrs.frozen(cache_hash=True)
class Schedule:
    """One scheduling cycle: the pod is assumed on ``node``, or fits nowhere (node "")."""

    step_kind: ClassVar[str] = "schedule"
    actor: str
    pod: str
    node: str
    events: tuple[str, ...] = ()


@attrs.frozen(cache_hash=True)
class Bind:
    """One binding cycle: POST pods/binding."""

    step_kind: ClassVar[str] = "bind"
    actor: str
    pod: str
    node: str
    rv: int
    ok: bool
    events: tuple[str, ...] = ()


@attrs.frozen(cache_hash=True)
class PreBind:
    """The VolumeBinding plugin's PreBind in a binding cycle (``spec.scheduling.volumebinding.prebind``): its API
    updates made (``ok``), or refused (the binding cycle fails)."""

    step_kind: ClassVar[str] = "bind"
    actor: str
    pod: str
    node: str
    ok: bool
    events: tuple[str, ...] = ()


@attrs.frozen(cache_hash=True)
class SyncPod:
    """A kubelet pod sync: start, restart, report, terminate or cleanup."""

    step_kind: ClassVar[str] = "sync"
    actor: str
    what: str
    pod: str
    events: tuple[str, ...] = ()


@attrs.frozen(cache_hash=True)
class Kubectl:
    """A user's kubectl command line and its output."""

    step_kind: ClassVar[str] = "kubectl"
    actor: str
    line: str
    output: str


@attrs.frozen(cache_hash=True)
class Fault:
    """A fault from the scenario's budget: a crash and restart of a component, a container crash, a node crash."""

    step_kind: ClassVar[str] = "fault"
    actor: str
    kind: str
    target: str
    rv: int = 0


@attrs.frozen(cache_hash=True)
class Recover:
    """A crashed node boots again and its kubelet starts."""

    step_kind: ClassVar[str] = "fault"
    actor: str
    node: str


@attrs.frozen(cache_hash=True)
class Heal:
    """A network partition heals: the node's kubelet reaches the API server again, renews its Lease and relists."""

    step_kind: ClassVar[str] = "fault"
    actor: str
    node: str


@attrs.frozen(cache_hash=True)
class Tick:
    """Logical time advances ``ms`` to the next deadline, firing the timers due (or the informers' resync)."""

    step_kind: ClassVar[str] = "tick"
    actor: str
    ms: int
    fired: tuple[str, ...] = ()


@attrs.frozen(cache_hash=True)
class Elect:
    """A replica's leader elector: a tryAcquireOrRenew (``what``: "acquires", "renews", "observes", "waits",
    "fails to renew"), its giving up ("stops leading"), or a paused replica resuming ("resumes")."""

    step_kind: ClassVar[str] = "election"
    actor: str
    what: str
    detail: str = ""


@attrs.frozen(cache_hash=True)
class LoadChange:
    """The load on a workload's pods changes (the metrics server reports another level): the environment of the HPA
    controller, not fair, a bounded number of times (``spec.controllers.podautoscaler``)."""

    step_kind: ClassVar[str] = "fault"
    actor: str
    target: str
    level: str


Action = (Elect | Deliver | Relist | CacheSync | Reconcile | Schedule | Bind | PreBind | SyncPod | Kubectl | Fault
          | Recover | Heal | Tick | LoadChange)


def kind(action: object) -> str:
    """The step kind of ``action`` (one of ``KINDS``; "" for an action of another model)."""
    return type(action).step_kind if isinstance(action, ACTIONS) else ""


ACTIONS = (Elect, Deliver, Relist, CacheSync, Reconcile, Schedule, Bind, PreBind, SyncPod, Kubectl, Fault, Recover,
           Heal, Tick, LoadChange)


def _events(events: tuple[str, ...]) -> str:
    return (" — " + "; ".join(events)) if events else ""


def describe(a: Action) -> str:
    """One line per action."""
    if isinstance(a, Elect):
        return f"{a.actor} {a.what}" + (f": {a.detail}" if a.detail else "")
    if isinstance(a, Deliver):
        return f"{a.actor} receives {a.type} {a.key} (rv {a.rv})"
    if isinstance(a, Relist):
        stale = "" if a.rv == a.latest else f", stale: etcd is at {a.latest}"
        return f"{a.actor} relists at rv {a.rv}{stale}"
    if isinstance(a, CacheSync):
        return f"{a.actor}'s watch cache catches up with etcd: rv {a.rv} -> {a.latest}"
    if isinstance(a, Reconcile):
        return f"{a.actor} reconciles {a.key}" + (" (failed, requeued with backoff)" if a.failed else "") + _events(
            a.events)
    if isinstance(a, Schedule):
        where = f"assumes {a.pod} on {a.node}" if a.node else f"finds no node for {a.pod}"
        return f"{a.actor} {where}{_events(a.events)}"
    if isinstance(a, Bind):
        verb = "binds" if a.ok else "fails to bind"
        return f"{a.actor} {verb} {a.pod} to {a.node} (rv {a.rv}){_events(a.events)}"
    if isinstance(a, PreBind):
        verb = "binds the volumes of" if a.ok else "fails to bind the volumes of"
        return f"{a.actor} {verb} {a.pod} for {a.node} (VolumeBinding PreBind){_events(a.events)}"
    if isinstance(a, SyncPod):
        return f"{a.actor} {a.what}s {a.pod}{_events(a.events)}"
    if isinstance(a, Kubectl):
        return f"user runs `{a.line}`: {a.output}"
    if isinstance(a, Fault):
        return f"fault: {a.kind} {a.target}" + (f" (relists at rv {a.rv})" if a.rv else "")
    if isinstance(a, LoadChange):
        return f"the load on {a.target} changes: {a.level}"
    if isinstance(a, Heal):
        return f"the network partition of nodes/{a.node} heals: its kubelet renews its Lease and relists"
    if isinstance(a, Recover):
        return f"{a.node} boots again; its kubelet relists"
    if a.ms == 0:  # no timer runs: the informers' resync period elapses (spec.cluster._tick)
        return ("the informers' resync period elapses: every cached Deployment and ReplicaSet is queued again"
                if a.fired else "the informers' resync period elapses: it queues nothing new")
    fired = ", ".join(a.fired) if a.fired else "nothing"
    # In upstream's units: whole seconds as seconds (40 s, 300 s: the node lifecycle's timeline), else ms.
    elapsed = f"{a.ms // 1000} s" if a.ms % 1000 == 0 else f"{a.ms} ms"
    return f"{elapsed} pass: {fired}"
