"""The API server's watch cache: what the watch history keeps after each step, and when it is compacted.

Upstream: staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go (a ring of the latest events per resource,
capacity ``--watch-cache-sizes``; a watch from a revision older than the oldest kept answers 410 "too old resource
version").

Modelled: after every step each informer skips the events that leave its view unchanged (``spec.informer``); with
consistency "strong" an event is forgotten once every informer watching its resource has delivered it (nothing
can read it again: lists are served at etcd's revision), and the history is cut to the cache's capacity, so an
informer left behind gets 410 Gone and relists; with "stale" the last ``watch_cache_size`` events are kept,
since a list may be served at any of them.
Abstracted: one history for all resources, compacted by the capacity of all of them.
Omitted: bookmarks, the per-resource sizes, the cache's own lag behind etcd (see consistency "stale").
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from spec import informer
from spec.state import ClusterState, Etcd, Informer, SlotLayout

if TYPE_CHECKING:
    from spec.config import Config


def settle(state: ClusterState, config: Config) -> ClusterState:
    """After a step: informers skip irrelevant events; the history forgets what every watcher has delivered, and
    is compacted beyond the watch cache's capacity (informers left behind get 410 Gone).

    With consistency "strong" an event is forgotten once every informer that watches its resource has passed it
    (``spec.informer.watched``; the watch cache is per resource upstream), whatever other informers still wait
    for; with "stale" the last ``watch_cache_size`` events stay, since a list may be served at any of them."""
    infs = state.informers()
    etcd = state.etcd
    if not etcd.history:
        revision = etcd.revision
        if all(inf is None or inf.expired or inf.rv >= revision for inf in infs):
            return state  # nothing to skip, forget or compact (``_settle`` would say None)
    plan = _settle(etcd, state.layout(), tuple([None if inf is None else ((inf.rv,) if inf.expired else inf.rv)
                                                for inf in infs]),
                   config.consistency, config.watch_cache_size)
    if plan is None:
        return state
    etcd, moves = plan
    changes: dict[int, Informer | None] = {}
    for i, move in moves:
        inf = infs[i]
        assert inf is not None
        rv, expired = move
        changes[i] = Informer(rv, inf.cache, expired, max(inf.high_water, rv))
    if not changes:
        return state._with(etcd=etcd)
    return state.with_slots(changes, etcd)


@functools.lru_cache(maxsize=1 << 14)
def _settle(etcd: Etcd, layout: SlotLayout, positions: tuple[int | tuple[int] | None, ...], consistency: str,
            watch_cache_size: int) -> tuple[Etcd, tuple[tuple[int, tuple[int, bool]], ...]] | None:
    """What ``settle`` does to etcd and to the informers of ``layout`` at ``positions`` (each informer's
    revision, or ``(rv,)`` when expired; None for an absent one): (etcd', (slot index, its new (rv,
    expired)) for each informer that moves); None when nothing changes. A pure function of them (an informer's
    cache plays no part), memoised: many states share etcd and the informers' positions."""
    before = [None if p is None else (scope, p[0], True) if isinstance(p, tuple) else (scope, p, False)
              for scope, p in zip(layout.scopes, positions, strict=True)]
    moved = [None if p is None else (p[0], informer.settled_rv(p[1], p[2], etcd, p[0]), p[2]) for p in before]
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
                    for resource in informer.watched(p[0]):
                        behind[resource] = min(p[1], behind.get(resource, p[1]))
            keep = tuple(e for e in history if e.rv > behind.get(e.key[: e.key.index("/")], e.rv))
            if len(keep) > watch_cache_size:
                compacted = max(compacted, keep[-watch_cache_size - 1].rv)
                keep = keep[-watch_cache_size:]
    moves: list[tuple[int, tuple[int, bool]]] = []
    for i, (old, after) in enumerate(zip(before, moved, strict=True)):
        if old is None or after is None:
            continue
        # Compaction past an informer's position answers its watch 410 Gone.
        expired = old[2] or (compacted != etcd.compacted and after[1] < compacted)
        if (after[1], expired) != (old[1], old[2]):
            moves.append((i, (after[1], expired)))
    if len(keep) != len(history):
        etcd = Etcd(etcd.revision, etcd.objects, keep, compacted, etcd.next_uid)
    elif not moves:
        return None
    return etcd, tuple(moves)
