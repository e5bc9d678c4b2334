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
Omitted: bookmarks, the per-resource sizes.

Several API servers (the scenario's ``spec.apiServers``; ``spec.state.ApiServers``, ``spec.kube_apiserver``): each
one's cache has caught up to a revision of its own (``caches``), and serves its clients what etcd held then
(``served``): a client's watch brings events up to its API server's revision, and a list from that API server's
cache is served at it. The history then also keeps every event after the oldest cache's revision (a cache at a
revision is the snapshot there: ``spec.informer.snapshot`` undoes later events); a compaction past a cache's
revision makes that cache relist etcd (cacher.go: its reflector's watch on etcd is answered "compacted"), so it
jumps to etcd's revision.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

from spec import informer
from spec.state import ApiServers, ClusterState, Etcd, Informer, SlotLayout

if TYPE_CHECKING:
    from spec.config import Config


def settle(state: ClusterState, config: Config) -> ClusterState:
    """After a step: informers skip irrelevant events; the history forgets what every watcher has delivered, and
    is compacted beyond the watch cache's capacity (informers left behind get 410 Gone).

    With consistency "strong" an event is forgotten once every informer that watches its resource has passed it
    (``spec.informer.watched``; the watch cache is per resource upstream), whatever other informers still wait
    for; with "stale" the last ``watch_cache_size`` events stay, since a list may be served at any of them."""
    if state.apiservers is not None:
        return _settle_servers(state, config, state.apiservers)
    moves = settle_moves(state.etcd, state.layout(), state.informers(), config)
    if moves is None:
        return state
    etcd, changes = moves
    if not changes:
        return state._with(etcd=etcd)
    return state.with_slots(changes, etcd)


def settled_step(state: ClusterState, config: Config, etcd: Etcd, **changes: object) -> ClusterState:
    """``settle(state._with(etcd=etcd, **changes), config)`` for a step whose ``changes`` replace no informer of
    ``state`` (the caller's promise: its components' records keep their informers, one for one), with one state
    built where ``settle`` moves no informer (the step's writes appended to the history, and the informers, as
    they were, settled: ``settle`` reads only etcd, the informers and their slots' layout, which are then the
    step's)."""
    if state.apiservers is not None:
        return settle(state._with(etcd=etcd, **changes), config)
    moves = settle_moves(etcd, state.layout(), state.informers(), config)
    if moves is None:
        return state._with(etcd=etcd, **changes)
    etcd, slots = moves
    if not slots:
        return state._with(etcd=etcd, **changes)
    return state._with(**changes).with_slots(slots, etcd)


def settle_moves(etcd: Etcd, layout: SlotLayout, infs: Sequence[Informer | None], config: Config
                 ) -> tuple[Etcd, dict[int, Informer | None]] | None:
    """What ``settle`` does (one API server) to ``etcd`` and to the informers ``infs`` of the slots of ``layout``:
    (etcd', the informers that move, by slot index); None when nothing changes."""
    if not etcd.history:
        revision = etcd.revision
        if all(inf is None or inf.expired or inf.rv >= revision for inf in infs):
            return None  # nothing to skip, forget or compact (``_settle`` would say None)
    plan = _settle(etcd, layout, tuple([None if inf is None else ((inf.rv,) if inf.expired else inf.rv)
                                        for inf in infs]),
                   config.consistency, config.watch_cache_size)
    if plan is None:
        return None
    etcd, moves = plan
    changes: dict[int, Informer | None] = {}
    for i, move in moves:
        inf = infs[i]
        assert inf is not None
        changes[i] = _moved(inf, *move)
    return etcd, changes


@functools.lru_cache(maxsize=1 << 16)
def _moved(inf: Informer, rv: int, expired: bool) -> Informer:
    """``inf`` moved to ``rv`` (and expired, if so) by ``settle``. Memoised, as a pure function: the same informer
    moves the same way in many states, and equal informers that are one object compare and hash at once in the
    memos keyed on the records that hold them (``spec.state``'s, the representatives')."""
    return Informer(rv, inf.cache, expired, max(inf.high_water, rv))


@functools.lru_cache(maxsize=1 << 18)
def _settle(etcd: Etcd, layout: SlotLayout, positions: tuple[int | tuple[int] | None, ...], consistency: str,
            watch_cache_size: int) -> tuple[Etcd, tuple[tuple[int, tuple[int, bool]], ...]] | None:
    """What ``settle`` does to etcd and to the informers of ``layout`` at ``positions`` (each informer's
    revision, or ``(rv,)`` when expired; None for an absent one): (etcd', (slot index, its new (rv,
    expired)) for each informer that moves); None when nothing changes. A pure function of them (an informer's
    cache plays no part), memoised: many states share etcd and the informers' positions. 262,144 entries: past
    300,000 states of web-three-nodes a breadth-first level holds more distinct keys than 65,536, and the hit rate
    fell from 87% to 42-68% (docs/spec.md, "sixth pass")."""
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


# --- several API servers -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 14)
def served(etcd: Etcd, revision: int) -> Etcd:
    """etcd as an API server whose watch cache has caught up to ``revision`` serves it: the objects as of then
    (``spec.informer.snapshot``) and the events up to then. Memoised on interned etcds."""
    if revision >= etcd.revision:
        return etcd
    return Etcd(revision, informer.snapshot(etcd, revision), tuple(e for e in etcd.history if e.rv <= revision),
                etcd.compacted, etcd.next_uid)


def client_process(state: ClusterState, who: str, index: int) -> str:
    """The process (``spec.component.Process.name``) that owns the informer of slot (``who``, ``index``): its
    requests all go to one API server (one HTTP/2 connection per client, upstream's rest.Config)."""
    if who == "scheduler":
        return state.schedulers[index].name
    if who == "kubelet":
        return f"kubelet/{state.kubelets[index].node}"
    if who == "proxy":
        return f"kube-proxy/{state.net.proxies[index].node}"
    if who == "dns":
        return "coredns"
    return "kube-controller-manager"  # its controllers' informers: one shared informer factory, one client


def slot_servers(state: ClusterState, servers: ApiServers) -> list[int]:
    """The API server each informer (in ``informer_slots`` order) talks to: its process's, from
    ``ApiServers.clients``, else the load balancer's first spread (the n-th client process, in slot order, on
    API server n mod the number of API servers)."""
    out: list[int] = []
    seen: dict[str, int] = {}
    count = len(servers.caches)
    for who, index, _, _ in state.informer_slots():
        process = client_process(state, who, index)
        if process not in seen:
            seen[process] = servers.server_of(process, len(seen) % count)
        out.append(seen[process])
    return out


def view_of(state: ClusterState, who: str, index: int) -> Etcd:
    """What the API server of the informer (``who``, ``index``) serves (etcd itself with one API server)."""
    servers = state.apiservers
    if servers is None:
        return state.etcd
    i = next(n for n, (w, x, _, _) in enumerate(state.informer_slots()) if w == who and x == index)
    return served(state.etcd, servers.caches[slot_servers(state, servers)[i]])


def _settle_servers(state: ClusterState, config: Config, servers: ApiServers) -> ClusterState:
    """``settle`` with several API servers: each informer skips irrelevant events up to its API server's revision;
    the history keeps what a lagging cache or a watcher behind still needs; a compaction past a cache's revision
    makes it relist etcd."""
    etcd = state.etcd
    slots = state.informer_slots()
    caches = servers.caches
    moved: list[tuple[informer.Scope, int, bool] | None] = []
    for (_, _, scope, inf), server in zip(slots, slot_servers(state, servers), strict=True):
        if inf is None:
            moved.append(None)
        else:
            moved.append((scope, informer.settled_rv(inf.rv, inf.expired, served(etcd, caches[server]), scope),
                          inf.expired))
    history, compacted = etcd.history, etcd.compacted
    floor = min(caches)
    behind: dict[str, int] = {}
    for p in moved:
        if p is not None and not p[2] and p[1] < etcd.revision:
            for resource in informer.watched(p[0]):
                behind[resource] = min(p[1], behind.get(resource, p[1]))
    keep = tuple(e for e in history if e.rv > min(floor, behind.get(e.key[: e.key.index("/")], etcd.revision)))
    if len(keep) > config.watch_cache_size:
        compacted = max(compacted, keep[-config.watch_cache_size - 1].rv)
        keep = keep[-config.watch_cache_size:]
    if compacted != etcd.compacted and floor < compacted:
        caches = tuple(etcd.revision if c < compacted else c for c in caches)
    infs: list[Informer | None] = []
    for (_, _, _, inf), p in zip(slots, moved, strict=True):
        if inf is not None and p is not None:
            expired = inf.expired or (compacted != etcd.compacted and p[1] < compacted)
            if (p[1], expired) != (inf.rv, inf.expired):
                inf = Informer(p[1], inf.cache, expired, max(inf.high_water, p[1]))
        infs.append(inf)
    if len(keep) != len(history) or compacted != etcd.compacted:
        etcd = Etcd(etcd.revision, etcd.objects, keep, compacted, etcd.next_uid)
    new = state.with_informers(infs, etcd)
    if caches != servers.caches:  # the informers skip up to the caches' new revisions
        return _settle_servers(new._with(apiservers=ApiServers(caches, servers.clients)), config,
                               ApiServers(caches, servers.clients))
    return new
