"""kube-apiserver as a process: what its restart loses (its watch cache and every open watch); with several API
servers (the scenario's ``spec.apiServers``), each one's watch cache catching up with etcd on its own, and the
clients' failover when theirs crashes.

The API server's meaning is elsewhere: its requests in ``spec.apiserver`` (every write through a ``Session``),
its watch cache in ``spec.watchcache`` (settled after every step). Requests are made in the clients' steps.

Upstream: staging/src/k8s.io/apiserver/pkg/storage/cacher (cacher.go: a new Cacher lists etcd and starts its
watchCache at etcd's current revision, then follows etcd with its own watch; a watch from an older
resourceVersion is answered 410 Gone, "too old resource version"; GetList with a resourceVersion newer than the
cache waits for the cache, waitUntilFreshAndBlock), staging/src/k8s.io/client-go/tools/cache/reflector.go (a broken
watch is re-established from the last resourceVersion seen; on 410 Gone, or when the watch request itself fails,
ListAndWatch returns and the reflector lists again: relistResourceVersion).

One API server (the default): it takes no step of its own. A restart empties the watch cache's history (compacted
at etcd's revision) and breaks every watch; an informer that had seen everything re-watches from etcd's revision,
which the new cache serves; one that was behind is expired (it gets 410 Gone and relists: ``spec.reflector``).

Several API servers (``spec.state.ApiServers``): "multiple master nodes", N kube-apiserver replicas in front of
the one linearisable etcd. Modelled:
- each API server's watch cache is at a revision of its own; its step (actor "kube-apiserver-N", weakly fair)
  catches it up with etcd; a client's watch delivers events only up to its API server's revision, and its
  relists are served from that cache (``spec.watchcache.served``); time waits for every cache (``urgent``);
- every client process (kube-controller-manager, each scheduler, each kubelet and kube-proxy, CoreDNS) talks to
  one API server: the load balancer first spreads them in turn (``spec.watchcache.slot_servers``);
- a crash of an API server (``spec.faults``, budget ``apiServerRestarts``, one step per API server) restarts it
  with a new cache at etcd's revision; its clients fail over to the next API server (N+1, the first after the
  last) and relist there: their watch request fails against the crashed one, so ListAndWatch returns and lists
  again (the path kubernetes#67998 describes). Today that relist is not served older than the reflector's
  lastSyncResourceVersion (kubernetes#83520); in the ``failover-relist`` variant it asks for resourceVersion "0"
  and a lagging cache answers with the past (kubernetes#59848: ``spec.informer.failover_relist_revisions``).
Abstracted: a cache catches up in one step to etcd's revision (the events etcd's watch has for it, in one batch);
the load balancer's choice on failover is the next API server; a crash and its restart are one step, as for every
process; writes go to etcd directly (every API server writes through to the one etcd, linearisably).
Omitted: a partition between a client and its API server (only crashes move clients), the consistent list from
the cache (KEP-2340: a restarted client's first list is consistent, served at etcd's revision, as with one API
server), watch bookmarks, the API servers' own Leases and the kubernetes Service's endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from spec import actions as A
from spec.component import Base, Host, Process, Step
from spec.state import ApiServers, ClusterState
from spec.watchcache import client_process, settle, slot_servers

if TYPE_CHECKING:
    from spec.config import Config


def server_name(index: int) -> str:
    """The process name (and actor) of API server ``index`` (0-based): "kube-apiserver-1", ... (one API server
    is plain "kube-apiserver")."""
    return f"{Host.APISERVER}-{index + 1}"


def processes(state: ClusterState) -> tuple[Process, ...]:
    """The API server processes that can crash (``spec.faults.CRASHES``)."""
    servers = state.apiservers
    if servers is None:
        return (Process(Host.APISERVER, Host.APISERVER),)
    return tuple(Process(Host.APISERVER, server_name(i)) for i in range(len(servers.caches)))


def _index(process: Process, servers: ApiServers) -> int:
    for i in range(len(servers.caches)):
        if process.name == server_name(i):
            return i
    raise ValueError(f"no API server {process.name!r}")


def failover(state: ClusterState, servers: ApiServers, crashed: int) -> ClusterState:
    """API server ``crashed`` restarts with a new watch cache at etcd's revision; its clients move to the next
    API server and their informers relist there (expired: their watch broke and ListAndWatch returns)."""
    count = len(servers.caches)
    target = (crashed + 1) % count
    caches = tuple(state.etcd.revision if i == crashed else c for i, c in enumerate(servers.caches))
    moved: dict[str, int] = dict(servers.clients)
    new = state
    for (who, index, _, inf), server in zip(state.informer_slots(), slot_servers(state, servers), strict=True):
        if server != crashed:
            continue
        moved[client_process(state, who, index)] = target
        if inf is not None:
            new = new.with_informer(who, index, attrs.evolve(inf, expired=True))
    return new._with(apiservers=ApiServers(caches, tuple(sorted(moved.items()))))


class ApiServerComponent(Base):
    """kube-apiserver: its state is etcd (``ClusterState.etcd``, and the ghost) and, with several API servers,
    ``ClusterState.apiservers``; steps: each lagging watch cache catching up (several API servers only).
    A restart loses the watch cache's history and every open watch (``restart``)."""

    name = "kube-apiserver"
    host = Host.APISERVER

    def actors(self, config: Config) -> tuple[str, ...]:
        return self.fair_actors(config)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        """Each API server's cacher: a cache that is behind eventually catches up."""
        return tuple(server_name(i) for i in range(config.api_servers)) if config.api_servers > 1 else ()

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        if config.api_servers == 1:
            return state
        return state._with(apiservers=ApiServers((state.etcd.revision,) * config.api_servers))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        servers = state.apiservers
        if servers is None:
            return
        revision = state.etcd.revision
        for i, cache in enumerate(servers.caches):
            if cache < revision:
                caches = tuple(revision if j == i else c for j, c in enumerate(servers.caches))
                yield A.CacheSync(server_name(i), cache, revision), settle(
                    state._with(apiservers=ApiServers(caches, servers.clients)), config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        servers = state.apiservers
        if servers is None:
            return set()
        revision = state.etcd.revision
        return {server_name(i) for i, cache in enumerate(servers.caches) if cache < revision}

    def busy(self, state: ClusterState, config: Config) -> bool:
        return self.urgent(state, config)

    def urgent(self, state: ClusterState, config: Config) -> bool:
        """Time waits for every watch cache to catch up (``spec.clock``'s timing assumption, as for the
        informers: ``spec.reflector``)."""
        servers = state.apiservers
        return servers is not None and any(c < state.etcd.revision for c in servers.caches)

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        servers = state.apiservers
        if servers is not None:
            return failover(state, servers, _index(process, servers))
        etcd = state.etcd
        new = state._with(etcd=attrs.evolve(etcd, history=(), compacted=etcd.revision))
        for who, index, _, watching in state.informer_slots():
            if watching is not None and watching.rv < etcd.revision:
                new = new.with_informer(who, index, attrs.evolve(watching, expired=True))
        return new


KUBE_APISERVER = ApiServerComponent()
