"""The node lifecycle's promise (issue 12), apart from ``spec.properties``, which registers it in its table (a
block of its own at the end; this module imports nothing of it, so there is no import cycle).

ReplicaSetsConvergeOnHealthyNodes: after a node fails for good, while the remaining nodes have room, every
ReplicaSet eventually has spec.replicas active pods, each Ready and running. A pod of a failed node runs nothing
(its runtime is gone), so it never counts, nor does a pod of a node whose container runtime is down (the
``runtimeFailures`` fault: its containers may still run, but nothing starts, restarts or stops them: not a
healthy node); the promise is kept only if something deletes it, which is what the
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

EvictionOnlyForUntoleratedTaints: the taint eviction controller deletes a pod only while its node carries a NoExecute
taint the pod does not tolerate for ever (staging/src/k8s.io/api/core/v1/types.go Toleration.TolerationSeconds,
"by default, it is not set, which means tolerate the taint forever (do not evict)"; the taint-and-toleration
documentation: such pods "remain bound forever"). An invariant over ``Ghost.tolerated_evictions``. Broken before
kubernetes#93722 (kubernetes#90794): a deletion scheduled for one taint was not cancelled when that taint went
while another, tolerated for ever, stayed.
"""

from __future__ import annotations

import functools

import immutables

from spec.controllers.replicaset import is_active
from spec.state import ClusterState, Key, Kubelet, Object, Pod, ReplicaSet, ReplicationController, RuntimeContainer


def _running(kubelets: tuple[Kubelet, ...], pod: Pod) -> bool:
    for k in kubelets:
        if k.node == pod.node_name:
            return k.up and not k.runtime_down and any(c.uid == pod.meta.uid and c.running and c.managed
                                                       for c in k.runtime)
    return False


Runtimes = tuple[tuple[str, frozenset[RuntimeContainer]], ...]
_NOTHING: frozenset[RuntimeContainer] = frozenset()


def _healthy_runtimes(kubelets: tuple[Kubelet, ...]) -> Runtimes:
    """What ``_healthy`` reads of the kubelets: the node of each and its runtime's containers, none while the node
    or its runtime is down (a memo keyed on it hits where the kubelets differ in what it does not read: their
    informers, most often)."""
    return tuple([(k.node, k.runtime if k.up and not k.runtime_down else _NOTHING) for k in kubelets])


def _running_healthy(kubelets: Runtimes, pod: Pod) -> bool:
    for node, runtime in kubelets:
        if node == pod.node_name:
            return any(c.uid == pod.meta.uid and c.running and c.managed for c in runtime)
    return False


def replicasets_on_healthy_nodes(s: ClusterState) -> bool:
    """Every ReplicaSet (and ReplicationController) not being deleted has exactly spec.replicas active pods, each
    Ready and running on a node that is up, whose container runtime is up, and that the API server still has (a pod
    bound to a deleted node is an orphan, not a replica on a healthy node, even while its old kubelet still runs
    it)."""
    return _healthy(s.etcd.objects, _healthy_runtimes(s.kubelets))


@functools.lru_cache(maxsize=1 << 14)
def _healthy(objects: immutables.Map[Key, Object], kubelets: Runtimes) -> bool:
    counts: dict[int, int] = {}
    for p in objects.values():
        if not isinstance(p, Pod) or not is_active(p) or p.meta.owner is None:
            continue
        if not (p.status.ready and _running_healthy(kubelets, p) and f"nodes/{p.node_name}" in objects):
            return False
        counts[p.meta.owner.uid] = counts.get(p.meta.owner.uid, 0) + 1
    for rs in objects.values():
        if isinstance(rs, ReplicaSet | ReplicationController) and not rs.meta.deleting \
                and counts.get(rs.meta.uid, 0) != rs.replicas:
            return False
    return True


def no_eviction_when_all_zones_disrupted(s: ClusterState) -> bool:
    """No pod was evicted (deleted by the taint eviction controller) while every zone was fully disrupted (no node
    Ready)."""
    return not s.ghost.disrupted_evictions


def eviction_only_for_untolerated_taints(s: ClusterState) -> bool:
    """The taint eviction controller never deleted a pod that tolerated every NoExecute taint of its node for ever
    (or whose node had none)."""
    return not s.ghost.tolerated_evictions


def explain_tolerated_evictions(s: ClusterState) -> str:
    """What breaks EvictionOnlyForUntoleratedTaints in ``s``: the pods deleted although they tolerated every
    NoExecute taint of their node for ever."""
    evicted = ", ".join(sorted(s.ghost.tolerated_evictions))
    return (f"the taint eviction controller deleted {evicted} while its node had no NoExecute taint it did not "
            "tolerate for ever" if evicted else "every eviction was for a taint the pod did not tolerate for ever")
