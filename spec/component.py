"""The Component protocol: what every part of the control plane gives the composition (``spec.cluster``).

Shape after Anvil (anvil-verifier/anvil: each controller's ``types`` + ``state_machine``, composed by
src/kubernetes_cluster/spec/cluster.rs), Themelios's ``Controller`` trait, and TLA+'s Init / Next / WF: a
component owns one slot of ``ClusterState`` and the disjuncts of Next that change it; ``spec.cluster`` takes Init
as the components' ``init`` in turn, Next as the union of their ``steps``, weak fairness per actor from their
``fair_actors``, and the clock's deadlines from their ``timers``. Adding a controller is one module with one
``Component`` object and one line in ``spec.cluster.COMPONENTS`` (plus its state slot in ``ClusterState``).

- ``steps`` yields (action, next state) pairs; each next state is *settled* (``spec.watchcache.settle``, which
  ``commit`` does after a write through a ``spec.apiserver.Session``).
- ``enabled`` answers from the guards alone which actors have a non-stuttering step (the reductions ask it on
  states whose steps they hide; tests/spec/test_spec_differential.py checks it against ``steps``). It names only
  the component's own ``actors`` (``spec.reflector``'s excepted: its informers' owners), so the reductions ask only
  the components that may name an actor they want (``spec.cluster.enabled_among``).
- ``busy`` is whether the component has work now: while any component is busy, time does not jump to the
  informers' resync period (``spec.clock``).
- ``timers`` / ``elapse``: the component's running timers (remaining ms) and what ``dt`` ms do to them.
- ``urgent`` (optional, ``Urgent``; ``Base`` says never): work that keeps time from advancing at all (the
  informers catching up; the node lifecycle controller's passes).
- ``resync`` (optional, ``Resyncs``; ``Base`` gives a no-op): what the informers' periodic resync does to the component
  (the controller manager's handlers see every cached object again).
- ``host`` and ``restart`` (optional, ``Restarts``; ``Base``: hosted by no process, a restart loses nothing): the
  process that runs the component (``Host``: kube-controller-manager, kube-scheduler, kubelet/NODE,
  kube-proxy/NODE, kube-apiserver, ...) and what a restart of that process does to the component's slot. A crash
  fault of a process (``spec.faults.CRASHES``) restarts every component that names it as its host, in the
  composition's order (``restart``): a new controller in the controller manager restarts with it by declaring
  ``host = Host.CONTROLLER_MANAGER`` and, if it loses anything, its ``restart``.

A component that owns informers (``ClusterState.informer_slots``) is also a ``Watcher``: ``spec.informer``'s
component delivers each watch event (or relist) to it, and it runs its event handlers on it.

This module is the protocol, two helpers every component uses (``session``, ``commit``) and the generic restart of a
process (``restart``); it models nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final, Protocol, cast, runtime_checkable

import attrs

from spec.apiserver import Session
from spec.state import ClusterState, Key, Object
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.actions import Action
    from spec.config import Config

Step = tuple["Action", ClusterState]
Delta = tuple[Key, Object | None, Object | None]
"""One delivered change (key, old, new): a watch event, or one object of a relist (``spec.informer.relist``)."""

__all__ = ["Base", "Component", "Delta", "Forgets", "Host", "Process", "Restarts", "Resyncs", "Step", "Urgent",
           "Watcher", "commit", "forgetting", "restart", "session"]


class Host:
    """The processes that host components (``Restarts.host``), by the upstream binary's name (cmd/...)."""

    CONTROLLER_MANAGER: Final = "kube-controller-manager"
    SCHEDULER: Final = "kube-scheduler"
    KUBELET: Final = "kubelet"
    """One per node: its processes are named "kubelet/<node>" (``Process.on``)."""
    KUBE_PROXY: Final = "kube-proxy"
    """One per node: "kube-proxy/<node>"."""
    APISERVER: Final = "kube-apiserver"
    COREDNS: Final = "coredns"


@attrs.frozen
class Process:
    """One running process: the ``Host`` kind its components name, and which one it is."""

    host: str
    """What components name as their ``host`` (``Host``)."""
    name: str
    """This process: "kube-controller-manager", a scheduler's name, "kubelet/node-a" (a fault's target)."""
    node: str | None = None
    """The node of a per-node process (kubelet, kube-proxy), else None."""

    @classmethod
    def on(cls, host: str, node: str) -> Process:
        """The per-node process ``host`` on ``node``, named "<host>/<node>"."""
        return cls(host, f"{host}/{node}", node)


@runtime_checkable
class Component(Protocol):
    """One control-plane component (Anvil: a folder's types + state_machine; Themelios: the Controller trait)."""

    name: str
    """e.g. "kubelet", "node-lifecycle-controller"."""

    def actors(self, config: Config) -> tuple[str, ...]:
        """Every actor name its steps carry (``Action.actor``): the lanes of a sequence diagram."""
        ...

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        """The subset whose steps are weakly fair (WF per actor). Users and faults: none."""
        ...

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        """Fill its slot of the initial state (etcd already holds the scenario's objects)."""
        ...

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        """Its enabled steps (the disjuncts of Next it owns), each labelled; states settled (spec.watchcache)."""
        ...

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        """Actors with a non-stuttering step enabled, from the guards alone (no step taken); must equal
        {a.actor for a, _ in steps(...)} minus stutters: tests/spec/test_spec_differential.py checks it."""
        ...

    def busy(self, state: ClusterState, config: Config) -> bool:
        """Has work that keeps the clock from jumping to the resync period (not quiescent)."""
        ...

    def timers(self, state: ClusterState) -> list[int]:
        """Remaining ms of each of its running timers (time jumps to the earliest, spec.clock)."""
        ...

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        """Time passes by dt ms: its new slot, and the names of timers that fired (for the Tick label)."""
        ...


@runtime_checkable
class Resyncs(Protocol):
    """A component whose handlers the informers' periodic resync reaches (optional; ``Base`` has a no-op)."""

    def resync(self, state: ClusterState) -> ClusterState:
        """Every cached object re-delivered as an update to itself (only when no component is busy and no timer
        runs: ``spec.clock``)."""
        ...


@runtime_checkable
class Restarts(Protocol):
    """A component run by a process that may crash and restart (optional; ``Base``: no host, nothing lost)."""

    host: str | None
    """The process kind that runs it (``Host``), or None (users, faults, the clock: not a process)."""

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        """What a restart of ``process`` (whose ``host`` is this component's) leaves of the component's slot: what
        it loses is dropped, and a component that lists relists at ``revision`` (the revision the restarted
        process's first list is served at: ``spec.informer.relist_revisions``). Components hosted by the same
        process restart in the composition's order, each on the state the previous ones left (so one may read
        what an earlier one relisted: the StatefulSet and disruption controllers share the controller
        manager's pod informer)."""
        ...


@runtime_checkable
class Forgets(Protocol):
    """A restarting component (``Restarts``) that reads its own slot's old value only through ``kept`` (optional):
    what a crash of its process keeps of the slot. ``spec.faults`` then memoises the crash's next state on the
    state with that slot replaced by ``kept`` (many states differ only in what the crash loses: a controller
    manager's queues, expectations and caches). Only the first component its process hosts may declare it
    (``forgetting``): every later one reads the slot after the restart replaced it."""

    forgets: str
    """The ``ClusterState`` field the component's ``restart`` replaces."""

    def kept(self, value: Any, revision: int) -> Hashable:
        """All that ``restart`` at ``revision`` reads of the field's old ``value``."""
        ...


@runtime_checkable
class Urgent(Protocol):
    """A component whose work must happen before time advances (optional; ``Base`` says never): the clock's
    timing assumption (``spec.clock``) that it is faster than the shortest timer. The informers' deliveries are
    (``spec.reflector``: time waits for every informer to catch up), and so are the node lifecycle controller's
    passes."""

    def urgent(self, state: ClusterState, config: Config) -> bool:
        """Has work that keeps time from advancing at all."""
        ...


@runtime_checkable
class Watcher(Protocol):
    """A component that owns informers: the slots of ``ClusterState.informer_slots`` whose kind is ``slot``."""

    slot: str
    """The component kind in ``ClusterState.informer_slots`` ("kcm", "scheduler", "kubelet")."""

    def watcher(self, state: ClusterState, index: int) -> str:
        """The actor that receives the deliveries and relists of its informer at ``index``."""
        ...

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        """Its event handlers on ``deltas``, just delivered to its informer at ``index`` (already stored).

        Like client-go's handlers, they read only the deltas, the components' records and the informers' caches,
        and change only the component's own queues and records: never etcd nor an informer (with one API server
        a delivery is settled before its handlers run: ``spec.reflector._settled_with``)."""
        ...


class Base:
    """Defaults for a component without timers, steps or informers (subclass and override what it has)."""

    name = "component"
    host: str | None = None

    def actors(self, config: Config) -> tuple[str, ...]:
        return ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return ()

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        return state

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        return iter(())

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return False

    def timers(self, state: ClusterState) -> list[int]:
        return []

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        return state, ()

    def resync(self, state: ClusterState) -> ClusterState:
        return state

    def urgent(self, state: ClusterState, config: Config) -> bool:
        return False

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        return state

    def __repr__(self) -> str:
        return f"<component {self.name}>"


def session(state: ClusterState, config: Config) -> Session:
    """A request session against the state's etcd (the binding precondition off in the ``unguarded-bind``
    variant)."""
    return Session(state.etcd, state.ghost, guarded_bind="unguarded-bind" not in config.variants)


def commit(state: ClusterState, s: Session, config: Config, **changes: object) -> ClusterState:
    """The state after a step: the session's etcd and ghost, the components' changes, then ``settle``."""
    return settle(state._with(etcd=s.etcd, ghost=s.ghost, **changes), config)


def restart(components: Iterable[object], state: ClusterState, config: Config, process: Process, revision: int
            ) -> ClusterState:
    """A restart of ``process``: every component of ``components`` (the composition, ``spec.cluster.COMPONENTS``)
    whose ``host`` is the process's restarts, in order (``Restarts.restart``); not settled."""
    hosted = _hosted(components, process.host) if isinstance(components, tuple) else tuple(
        cast(Restarts, c) for c in components if getattr(c, "host", None) == process.host)
    for c in hosted:
        state = c.restart(state, config, process, revision)
    return state


@functools.lru_cache(maxsize=256)
def forgetting(components: tuple[object, ...], host: str) -> Forgets | None:
    """The first component of ``components`` that ``host`` runs, when it declares what its restart keeps of its
    slot (``Forgets``), else None. Only the first: the components the process hosts restart in order, so every
    later one reads that slot as the first one's restart left it, never its old value (a later component's
    ``kept`` would not say what an earlier one's restart read of its slot)."""
    hosted = _hosted(components, host)
    return hosted[0] if hosted and isinstance(hosted[0], Forgets) else None


@functools.lru_cache(maxsize=256)
def _hosted(components: tuple[object, ...], host: str) -> tuple[Restarts, ...]:
    """The components of ``components`` that ``host`` runs, in order (a fault tries a crash from every state)."""
    return tuple(cast(Restarts, c) for c in components if getattr(c, "host", None) == host)
