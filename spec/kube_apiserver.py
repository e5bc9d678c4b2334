"""kube-apiserver as a process: what its restart loses (its watch cache and every open watch).

The API server's meaning is elsewhere: its requests in ``spec.apiserver`` (every write through a ``Session``),
its watch cache in ``spec.watchcache`` (settled after every step). It takes no step of its own (every request is
made in a client's step), so this component only names the process that a fault restarts (``Host.APISERVER``).

Upstream: staging/src/k8s.io/apiserver/pkg/storage/cacher (cacher.go: a new Cacher lists etcd and starts its
watchCache at etcd's current revision; a watch from an older resourceVersion is answered 410 Gone, "too old
resource version"), staging/src/k8s.io/client-go/tools/cache/reflector.go (a broken watch is re-established
from the last resourceVersion seen; on 410 Gone the reflector relists).

Modelled: a restart empties the watch cache's history (compacted at etcd's revision) and breaks every watch; an
informer that had seen everything re-watches from etcd's revision, which the new cache serves; one that was
behind is expired (it gets 410 Gone and relists: ``spec.reflector``). etcd keeps every object. Abstracted: the
outage itself (a request during the restart is a request after it: a crash and its restart are one step, as for
every process, ``spec.faults``). Omitted: several API servers (one process), the watch cache's own capacity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from spec.component import Base, Host, Process
from spec.state import ClusterState

if TYPE_CHECKING:
    from spec.config import Config


class ApiServerComponent(Base):
    """kube-apiserver: its state is etcd (``ClusterState.etcd``, and the ghost); no steps, no actors, no timers.
    A restart loses the watch cache's history and every open watch (``restart``)."""

    name = "kube-apiserver"
    host = Host.APISERVER

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        etcd = state.etcd
        new = state._with(etcd=attrs.evolve(etcd, history=(), compacted=etcd.revision))
        for who, index, _, watching in state.informer_slots():
            if watching is not None and watching.rv < etcd.revision:
                new = new.with_informer(who, index, attrs.evolve(watching, expired=True))
        return new


KUBE_APISERVER = ApiServerComponent()
