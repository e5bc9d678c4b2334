"""Informers: list, then watch; one watch event delivered per step; relist after 410 Gone or a restart.

Upstream: staging/src/k8s.io/client-go/tools/cache/reflector.go (ListAndWatch, relistResourceVersion: a reflector
that has synced relists at its lastSyncResourceVersion, so the API server's cache answers no older than that),
shared_informer.go and delta_fifo.go (Replace: every listed object is delivered as an add or an update, vanished
ones as deletes), staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go (410 "too old resource version").

Modelled: each component's cache and the revision it has synced to; events are delivered in revision order, one
per step, so every lag is explored; a relist replaces the cache from a snapshot of etcd at some revision: the
latest one, or, with consistency "stale", any retained revision not older than the client's lastSyncResourceVersion
(a freshly started client has none: that is the HA time travel of kubernetes#59848, guarded by the consistent
list of KEP-2340/KEP-3157 unless the ``stale-relist`` variant is on).
Abstracted: an informer keeps only what its component reads (a *view*, like client-go's transform functions):
the scheduler's and the kubelets' views drop pod status and resourceVersion, the kubelets see only the pods bound
to their node. Events that leave a view unchanged are skipped at once (their delivery changes nothing that the
component reads, and their handlers upstream return early on such updates: the scheduler's isPodUpdated, the
kubelet's pod config de-duplication).
With several API servers (``spec.kube_apiserver``) a relist is served by the client's API server's watch cache
(``failover_relist_revisions``): not older than the reflector's lastSyncResourceVersion (kubernetes#83520), or, in
the ``failover-relist`` variant, at whatever revision that cache has reached (kubernetes#59848).
Omitted: bookmarks, the field-selector pagination of lists, the DeltaFIFO's intermediate compression.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

import immutables

from spec.state import Etcd, Informer, Key, Object, Pod, PodStatus, replace_meta, with_ids, with_meta

if TYPE_CHECKING:
    from spec.config import Config

Scope = tuple[str, str]
"""Whose informer: ("kcm", resource), ("scheduler", ""), ("kubelet", node name), ("eps", resource) (the
EndpointSlice controller), ("proxy", node name) (kube-proxy), ("dns", "") (CoreDNS)."""

SCHEDULER: Scope = ("scheduler", "")
SCHEDULER_RESOURCES = frozenset({"nodes", "persistentvolumeclaims", "persistentvolumes", "storageclasses"})
"""What the scheduler's informer holds besides pods: nodes, and the claims, volumes and classes its VolumeBinding
plugin reads (``spec.scheduling.volumebinding``; none exist in scenarios without claims)."""
_HEADLESS = "service.kubernetes.io/headless"
_EMPTY_STATUS = PodStatus()
_TERMINAL = {"Succeeded": PodStatus(phase="Succeeded"), "Failed": PodStatus(phase="Failed")}
"""A terminal phase stays in the views: the kubelet does not start a pod that has finished (a Job's)."""


def view(scope: Scope, key: Key, obj: Object | None) -> Object | None:
    """What the component with ``scope`` keeps of ``obj`` (None: outside its informers)."""
    if obj is None:
        return None
    who, node = scope
    resource = key[: key.index("/")]
    if who == "kcm":
        return obj if resource == node else None
    if who == "eps":  # the EndpointSlice controller: one informer per resource, whole objects
        return obj if resource == node else None
    if who == "proxy":  # kube-proxy: Services and EndpointSlices, without ids (unread)
        return _rv_dropped(obj) if resource in ("services", "endpointslices") else None
    if who == "dns":  # CoreDNS: Services, and the slices of headless ones (its A records read no others)
        if resource == "services" or (resource == "endpointslices" and obj.meta.label(_HEADLESS) is not None):
            return _rv_dropped(obj)
        return None
    if resource != "pods":
        return obj if who == "scheduler" and resource in SCHEDULER_RESOURCES else None
    assert isinstance(obj, Pod)
    if who == "kubelet" and obj.node_name != node:
        return None
    return _pod_view(obj)


@functools.lru_cache(maxsize=65536)
def _pod_view(pod: Pod) -> Pod:
    """A pod without status and resourceVersion; memoised so that equal views are one object (a pure function's
    cache: cheap comparisons, no behaviour)."""
    m = pod.meta
    status = _TERMINAL.get(pod.status.phase, _EMPTY_STATUS)
    return Pod(with_ids(m, m.uid, 0, m.owner), pod.containers, pod.info, status, pod.scheduler_name,
               pod.restart_policy)


@functools.lru_cache(maxsize=65536)
def _rv_dropped(obj: Object) -> Object:
    """``obj`` without its resourceVersion, uid and owner (memoised, like ``_pod_view``)."""
    return replace_meta(obj, with_ids(obj.meta, 0, 0, None))


def settle(informer: Informer, etcd: Etcd, scope: Scope) -> Informer:
    """Skip the leading events that do not change this informer's view."""
    rv = settled_rv(informer.rv, informer.expired, etcd, scope)
    if rv == informer.rv:
        return informer
    return Informer(rv, informer.cache, False, max(informer.high_water, rv))


def settled_rv(rv: int, expired: bool, etcd: Etcd, scope: Scope) -> int:
    """Where ``settle`` leaves an informer of ``scope`` at ``rv``: past the leading events that leave its view as
    it is. (What the cache holds at an event's key is the view of the object the event replaces: ``cache_at``.)"""
    if expired or rv >= etcd.revision:
        return rv
    for event in etcd.history:
        if event.rv <= rv:
            continue
        seen = view(scope, event.key, event.obj)
        cached = view(scope, event.key, event.prev)
        if seen is not cached and seen != cached:
            return rv
        rv = event.rv
    return etcd.revision


def next_event(informer: Informer, etcd: Etcd) -> int | None:
    """Index in the history of the next event to deliver (``settle`` has skipped the irrelevant ones)."""
    if informer.expired or informer.rv >= etcd.revision:
        return None
    for i, event in enumerate(etcd.history):
        if event.rv > informer.rv:
            return i
    return None


def deliver(informer: Informer, etcd: Etcd, scope: Scope) -> tuple[Informer, Key, Object | None, Object | None]:
    """Deliver the next event: (informer', key, old view, new view); then skip what follows irrelevantly."""
    index = next_event(informer, etcd)
    assert index is not None
    event = etcd.history[index]
    old = informer.cache.get(event.key)
    new = view(scope, event.key, event.obj)
    cache = informer.cache.delete(event.key) if new is None and old is not None else (
        informer.cache.set(event.key, new) if new is not None else informer.cache
    )
    moved = Informer(event.rv, cache, False, max(informer.high_water, event.rv))
    return settle(moved, etcd, scope), event.key, old, new


def snapshot(etcd: Etcd, revision: int) -> immutables.Map[Key, Object]:
    """etcd's objects as of ``revision`` (compacted < revision <= etcd.revision), by undoing later events."""
    if revision >= etcd.revision:
        return etcd.objects
    objects = etcd.objects.mutate()
    for event in reversed(etcd.history):
        if event.rv <= revision:
            break
        if event.prev is None:
            del objects[event.key]
        else:
            objects[event.key] = event.prev
    return objects.finish()


@functools.lru_cache(maxsize=1 << 18)
def cache_at(etcd: Etcd, scope: Scope, revision: int) -> immutables.Map[Key, Object]:
    """The cache of an informer of ``scope`` that has synced to ``revision`` and is not expired: its view of etcd's
    objects as of ``revision``. Every such informer's cache is this (a list fills the cache with the view of a
    snapshot, and each delivery or skipped event moves it along the history, which keeps every event after the
    informer's position until it is delivered or the informer is expired), so the cache is a function of the
    rest of the state (``spec.state.Informer``). Memoised on interned etcds."""
    objects = snapshot(etcd, revision)
    return immutables.Map((key, v) for key, obj in objects.items() if (v := view(scope, key, obj)) is not None)


def list_revisions(etcd: Etcd, at_least: int) -> Iterator[int]:
    """The revisions a (possibly stale) list may be served at: the retained ones not older than ``at_least``."""
    low = max(at_least, etcd.compacted)
    yield from sorted({low, *(e.rv for e in etcd.history if e.rv > low)})
    if etcd.revision > low and not any(e.rv == etcd.revision for e in etcd.history):
        yield etcd.revision


def fresh(old: Informer | None) -> Informer:
    """A restarted process's informer before its first list: nothing cached, the ghost high-water mark of the
    one it replaces carried over (``ResourceVersionMonotonic`` looks across restarts)."""
    return Informer(rv=0, cache=immutables.Map(), high_water=old.high_water if old is not None else 0)


def relist(
    informer: Informer | None, etcd: Etcd, scope: Scope, revision: int
) -> tuple[Informer, tuple[tuple[Key, Object | None, Object | None], ...]]:
    """List at ``revision`` and replace the cache (DeltaFIFO.Replace): (informer', deltas (key, old, new))."""
    old_cache = informer.cache if informer is not None else immutables.Map()
    listed = cache_at(etcd, scope, revision)
    deltas: list[tuple[Key, Object | None, Object | None]] = [
        (key, old_cache.get(key), new) for key, new in sorted(listed.items())]
    deltas += [(key, old, None) for key, old in sorted(old_cache.items()) if key not in listed]
    high = max(informer.high_water if informer is not None else 0, revision)
    fresh = Informer(rv=revision, cache=listed, expired=False, high_water=high)
    return settle(fresh, etcd, scope), tuple(deltas)


def drop_rv(obj: Object) -> Object:
    return with_meta(obj, resource_version=0)


@functools.lru_cache(maxsize=256)
def watched(scope: Scope) -> frozenset[str]:
    """The resources the informer with ``scope`` watches."""
    who, what = scope
    if who in ("kcm", "eps"):
        return frozenset((what,))
    if who in ("proxy", "dns"):
        return frozenset(("services", "endpointslices"))
    return frozenset(("pods", *SCHEDULER_RESOURCES)) if who == "scheduler" else frozenset(("pods",))


def relist_revisions(config: Config, etcd_revision: int, at_least: int, etcd: Etcd, restart: bool) -> list[int]:
    """Where a list may be served: the latest revision, or with consistency "stale" any retained one not older
    than the client's lastSyncResourceVersion. A restarted client has none; it is guarded by a consistent list
    unless the ``stale-relist`` variant is on."""
    if config.consistency != "stale":
        return [etcd_revision]
    if restart and "stale-relist" not in config.variants:
        return [etcd_revision]
    return list(list_revisions(etcd, 0 if restart else at_least))


FAILOVER_RELIST = "failover-relist"
"""The variant of kubernetes#59848 (spec.variants): a relist asks for resourceVersion "0"."""


def failover_relist_revisions(config: Config, served: Etcd, last_sync: int) -> list[int]:
    """Where a reflector's relist is served by an API server whose watch cache is at ``served.revision``
    (several API servers: ``spec.kube_apiserver``), for a reflector that has synced to ``last_sync``.

    Today (reflector.go relistResourceVersion, since kubernetes#83520): the relist asks for resourceVersion
    lastSyncResourceVersion ("not older than"), and the watch cache answers only once it has caught up to it
    (cacher.go GetList: waitUntilFreshAndBlock; past its 3 s it answers "Too large resource version" and the
    reflector retries): none while the cache is behind, else its revision. In the ``failover-relist`` variant the
    relist asks for resourceVersion "0" (any), as before kubernetes#83520: the cache answers at its revision, which
    may be older than what the reflector has seen (the time travel of kubernetes#59848)."""
    if served.revision >= last_sync or FAILOVER_RELIST in config.variants:
        return [served.revision]
    return []
