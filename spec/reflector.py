"""The reflectors as a component: every informer's next watch delivery, or its relist after 410 Gone, is one step,
handed to the component that owns the informer (a ``spec.component.Watcher``), whose handlers run on it.

Upstream: staging/src/k8s.io/client-go/tools/cache/reflector.go (ListAndWatch: list, then watch; relist when the
watch ends with "too old resource version"), shared_informer.go (the handlers run on each delivered delta).
The informers' state and pure functions (view, deliver, relist, which revisions a list may be served at) are
``spec.informer``; their slots are the owners' (``ClusterState.informer_slots``), so this component has no slot.

Modelled: deliveries are per informer, in revision order, one event per step, so every lag between components is
explored; a relist after 410 Gone is one step per revision the list may be served at (``spec.informer``).
Abstracted: a delivery and its handlers are one step (upstream: the DeltaFIFO pop and the handler call).
Omitted: the reflector's backoff between failed list/watch calls, bookmarks, watch timeouts (a watch that ends
without 410 resumes at the same revision, which changes nothing here).
What a restart loses: nothing of its own (the owner's restart replaces its informers: ``spec.faults``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from spec import actions as A
from spec import informer
from spec.component import Base, Component, Delta, Step, Watcher
from spec.state import ClusterState, Etcd, Informer
from spec.watchcache import settle, settle_moves, view_of

if TYPE_CHECKING:
    from spec.config import Config


def caught_up(state: ClusterState) -> bool:
    """Every running informer is watching at etcd's revision, and every API server's watch cache has caught up
    with etcd (the clock only advances then: ``spec.clock``)."""
    revision = state.etcd.revision
    servers = state.apiservers
    if servers is not None and any(c < revision for c in servers.caches):
        return False
    return all(i is None or (not i.expired and i.rv >= revision) for i in state.informers())


class Reflectors(Base):
    """Every informer's deliveries and relists, each handed to the informer's owner (the ``Watcher`` among the
    composed components whose ``slot`` is the informer slot's kind)."""

    name = "reflectors"

    def __init__(self, components: Callable[[], tuple[Component, ...]]) -> None:
        self._components = components
        self._watchers: tuple[tuple[Component, ...], dict[str, Watcher]] | None = None

    def watchers(self) -> dict[str, Watcher]:
        """slot kind -> its owner, from the composition (recomputed only when the composition is another
        tuple)."""
        components = self._components()
        if self._watchers is None or self._watchers[0] is not components:
            self._watchers = components, {c.slot: c for c in components if isinstance(c, Watcher)}
        return self._watchers[1]

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        infs = state.informers()
        slots = state.layout().slots
        if state.apiservers is not None:
            for slot, ((who, index, scope), inf) in enumerate(zip(slots, infs, strict=True)):
                if inf is not None:
                    yield from self._slot_steps(state, config, who, index, scope, inf, slot, infs)
            return
        # One API server: ``_slot_steps`` inlined for a watching informer, and one at etcd's revision, which has
        # nothing to deliver (``informer.next_event``), skipped before its owner and actor are looked up.
        etcd = state.etcd
        revision = etcd.revision
        watchers = self.watchers()
        for slot, ((who, index, scope), inf) in enumerate(zip(slots, infs, strict=True)):
            if inf is None or (inf.rv >= revision and not inf.expired):
                continue
            if inf.expired:
                yield from self._slot_steps(state, config, who, index, scope, inf, slot, infs)
                continue
            owner = watchers[who]
            delivery = _delivery(inf, etcd, scope, owner.watcher(state, index))
            if delivery is not None:
                action, new, delta = delivery
                yield action, owner.handle(_settled_with(state, config, slot, new, infs), index, (delta,))

    def slot_steps(self, state: ClusterState, config: Config, who: str, index: int, scope: informer.Scope,
                   inf: Informer | None) -> Iterator[Step]:
        """The steps of one informer: relist after 410 Gone, or deliver its next event (from its API server's
        watch cache: ``spec.watchcache.view_of``, etcd itself with one API server)."""
        if inf is None:
            return
        yield from self._slot_steps(state, config, who, index, scope, inf, state.layout().position[who, index],
                                    None)

    def slot_steps_at(self, state: ClusterState, config: Config, slot: int, infs: list[Informer | None]
                      ) -> Iterator[Step]:
        """``slot_steps`` of the informer at ``slot`` (``informer_slots`` order; ``infs``: ``state.informers()``,
        not changed)."""
        inf = infs[slot]
        if inf is None:
            return iter(())
        who, index, scope = state.layout().slots[slot]
        return self._slot_steps(state, config, who, index, scope, inf, slot, infs)

    def _slot_steps(self, state: ClusterState, config: Config, who: str, index: int, scope: informer.Scope,
                    inf: Informer, slot: int, infs: list[Informer | None] | None) -> Iterator[Step]:
        """``slot_steps`` of the informer at ``slot`` (``informer_slots`` order; ``infs``: ``state.informers()``
        when the caller has it, not changed)."""
        etcd = state.etcd
        owner = self.watchers()[who]
        actor = owner.watcher(state, index)
        if state.apiservers is None and not inf.expired:
            delivery = _delivery(inf, etcd, scope, actor)
            if delivery is not None:
                action, new, delta = delivery
                yield action, owner.handle(_settled_with(state, config, slot, new, infs), index, (delta,))
            return
        several = state.apiservers is not None
        view = view_of(state, who, index) if several else etcd
        if inf.expired:
            for rv in _relist_revisions(config, etcd, view if several else None, inf):
                new, deltas = informer.relist(inf, view, scope, rv)
                yield A.Relist(actor, rv, etcd.revision), settle(
                    self.handle(state, who, index, new, deltas), config)
        elif (i := informer.next_event(inf, view)) is not None:
            event = view.history[i]
            new, key, old, obj = informer.deliver(inf, view, scope)
            yield A.Deliver(actor, event.type, key, event.rv), settle(
                self.handle(state, who, index, new, ((key, old, obj),)), config)

    def handle(self, state: ClusterState, who: str, index: int, inf: Informer, deltas: Iterable[Delta]
               ) -> ClusterState:
        """Store ``inf`` in its slot and run its owner's handlers on ``deltas``."""
        return self.watchers()[who].handle(state.with_informer(who, index, inf), index, deltas)

    def actor_of(self, state: ClusterState, who: str, index: int) -> str:
        return self.watchers()[who].watcher(state, index)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        etcd = state.etcd
        if state.apiservers is not None:
            return {self.actor_of(state, who, index) for who, index, _, inf in state.informer_slots()
                    if inf is not None and _pending(config, etcd, view_of(state, who, index), inf)}
        return {self.actor_of(state, who, index) for who, index, _, inf in state.informer_slots()
                if inf is not None and (inf.expired or informer.next_event(inf, etcd) is not None)}

    def urgent(self, state: ClusterState, config: Config) -> bool:
        """Time waits for every informer to catch up (``spec.clock``'s timing assumption)."""
        return not caught_up(state)

    def busy(self, state: ClusterState, config: Config) -> bool:
        etcd = state.etcd
        if state.apiservers is not None:
            return any(inf is not None and _pending(config, etcd, view_of(state, who, index), inf)
                       for who, index, _, inf in state.informer_slots())
        return any(inf is not None and (inf.expired or informer.next_event(inf, etcd) is not None)
                   for inf in state.informers())


@functools.lru_cache(maxsize=1 << 16)
def _delivery(inf: Informer, etcd: Etcd, scope: informer.Scope, actor: str
              ) -> tuple[A.Deliver, Informer, Delta] | None:
    """The next delivery to ``actor``'s watching informer ``inf`` of ``scope`` from ``etcd`` (one API server): its
    action, the informer afterwards and the delta (key, old, new); None: nothing to deliver. A pure function of
    them (``spec.informer.deliver``), memoised: siblings and states that share a skeleton deliver the same event
    to the same informer (the informer afterwards is then one object)."""
    i = informer.next_event(inf, etcd)
    if i is None:
        return None
    event = etcd.history[i]
    new, key, old, obj = informer.deliver(inf, etcd, scope)
    return A.Deliver(actor, event.type, key, event.rv), new, (key, old, obj)


def _settled_with(state: ClusterState, config: Config, slot: int, inf: Informer,
                  infs: list[Informer | None] | None = None) -> ClusterState:
    """``settle(state.with_informer(...))`` for the informer of slot ``slot`` (``informer_slots`` order) replaced
    by ``inf`` (one API server; ``infs``: ``state.informers()`` when the caller has it): the informers' positions
    of ``state`` with that one moved, settled by the same memo as ``spec.watchcache.settle``, and every change
    made at once (one ``ClusterState`` built).

    The delivery's handlers then run on the settled state (``Reflectors.slot_steps``) rather than before
    ``settle``: the same state, since a handler reads only its deltas, the components' own records and the
    informers' caches, and changes only its component's queues and records (``spec.component.Watcher.handle``),
    while ``settle`` changes only etcd's history and compaction and the informers' positions, never a cache.
    tests/spec/test_spec_deliveries.py checks both orders on the reachable states of every built-in scenario."""
    infs = state.informers() if infs is None else list(infs)
    infs[slot] = inf
    moves = settle_moves(state.etcd, state.layout(), infs, config)
    if moves is None:
        return state.with_slots({slot: inf})
    etcd, changes = moves
    changes.setdefault(slot, inf)
    return state.with_slots(changes, etcd)


def _relist_revisions(config: Config, etcd: Etcd, view: Etcd | None, inf: Informer) -> list[int]:
    """Where the relist of the expired informer ``inf`` may be served: with one API server (``view`` None),
    ``spec.informer.relist_revisions``; with several, by its API server's watch cache (``view``):
    ``spec.informer.failover_relist_revisions``."""
    if view is None:
        return informer.relist_revisions(config, etcd.revision, inf.rv, etcd, False)
    return informer.failover_relist_revisions(config, view, inf.rv)


def _pending(config: Config, etcd: Etcd, view: Etcd, inf: Informer) -> bool:
    """The informer has a step (several API servers): a relist it may make now, or an event its API server has
    for it."""
    if inf.expired:
        return bool(_relist_revisions(config, etcd, view, inf))
    return informer.next_event(inf, view) is not None
