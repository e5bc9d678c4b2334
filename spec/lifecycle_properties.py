"""The node lifecycle's promise (issue 12), apart from ``spec.properties``, which registers it in its table (a
block of its own at the end; this module imports nothing of it, so there is no import cycle).

ReplicaSetsConvergeOnHealthyNodes: after a node fails for good, while the remaining nodes have room, every
ReplicaSet eventually has spec.replicas active pods, each Ready and running. A pod of a failed node runs nothing
(its runtime is gone), so it never counts; the promise is kept only if something deletes it, which is what the
node lifecycle controller and taint-based eviction do (pkg/controller/nodelifecycle/node_lifecycle_controller.go,
pkg/controller/tainteviction/taint_eviction.go), and then the ReplicaSet controller replaces it
(pkg/controller/replicaset/replica_set.go: a pod being deleted is not active). "Room" is the existing ``blocked``
of ``spec.properties``: convergence is promised only while every pending pod fits some node. It is a
leads-to-always (p ~> []q: converged, and staying so), checked on fair behaviours; with faults that stop it is
Anvil's ESR, as EventualReplicaConvergence is.

NoEvictionWhenAllZonesDisrupted: while no zone has a Ready node, the node lifecycle controller assumes that it lost
the nodes (a control-plane network problem), not that they died, and evicts nothing
(pkg/controller/nodelifecycle/node_lifecycle_controller.go handleDisruption, "master disruption mode";
kubernetes#24597 and #28832, fixed by #28897). An invariant over a history variable: the taint eviction
controller's deletions made while every node in etcd was not Ready (``Ghost.disrupted_evictions``, written by
``spec.controllers.nodelifecycle.evict``).
"""

from __future__ import annotations

import functools

import immutables

from spec.controllers.replicaset import is_active
from spec.state import ClusterState, Key, Kubelet, Object, Pod, ReplicaSet


def _running(kubelets: tuple[Kubelet, ...], pod: Pod) -> bool:
    for k in kubelets:
        if k.node == pod.node_name:
            return k.up and any(c.uid == pod.meta.uid and c.running and c.managed for c in k.runtime)
    return False


def replicasets_on_healthy_nodes(s: ClusterState) -> bool:
    """Every ReplicaSet not being deleted has exactly spec.replicas active pods, each Ready and running on a node
    that is up."""
    return _healthy(s.etcd.objects, s.kubelets)


@functools.lru_cache(maxsize=1 << 14)
def _healthy(objects: immutables.Map[Key, Object], kubelets: tuple[Kubelet, ...]) -> bool:
    counts: dict[int, int] = {}
    for p in objects.values():
        if not isinstance(p, Pod) or not is_active(p) or p.meta.owner is None:
            continue
        if not (p.status.ready and _running(kubelets, p)):
            return False
        counts[p.meta.owner.uid] = counts.get(p.meta.owner.uid, 0) + 1
    for rs in objects.values():
        if isinstance(rs, ReplicaSet) and not rs.meta.deleting and counts.get(rs.meta.uid, 0) != rs.replicas:
            return False
    return True


def no_eviction_when_all_zones_disrupted(s: ClusterState) -> bool:
    """No pod was evicted (deleted by the taint eviction controller) while every zone was fully disrupted (no node
    Ready)."""
    return not s.ghost.disrupted_evictions
