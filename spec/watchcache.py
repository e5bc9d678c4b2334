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
from spec.state import ClusterState, Etcd, Informer

if TYPE_CHECKING:
    from spec.config import Config


def settle(state: ClusterState, config: Config) -> ClusterState:
    """After a step: informers skip irrelevant events; the history forgets what every watcher has delivered, and
    is compacted beyond the watch cache's capacity (informers left behind get 410 Gone).

    With consistency "strong" an event is forgotten once every informer that watches its resource has passed it
    (``spec.informer.watched``; the watch cache is per resource upstream), whatever other informers still wait
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
                    for resource in informer.watched(p[0]):
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
