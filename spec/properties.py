"""The properties the control plane promises, each a named predicate over ``ClusterState``.

Safety properties are invariants; liveness properties are checked on fair behaviours (weak fairness on every
controller, the scheduler, the kubelets, watch delivery, node recovery and the clock; faults and the user are not
fair, and fault budgets make faults stop), in the shape of Anvil's ESR (anvil-verifier/anvil,
src/kubernetes_cluster/spec/ and the controllers' ``esr`` theorems).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import attrs
import immutables

from spec.controllers.deployment import deployment_complete, equal_ignore_hash
from spec.controllers.replicaset import is_active
from spec.scheduler import pod_info
from spec.scheduling.filters import filter_nodes
from spec.scheduling.snapshot import Snapshot
from spec.state import ClusterState, Deployment, Key, Kubelet, Node, Object, Pod, ReplicaSet

Predicate = Callable[[ClusterState], bool]


@attrs.frozen
class PropertySpec:
    """A property: its name, kind ("always" or "leads_to"), predicate(s), the promise in words, the upstream
    source of the promise."""

    name: str
    kind: str
    p: Predicate
    q: Predicate | None
    doc: str
    upstream: str


def no_double_scheduling(s: ClusterState) -> bool:
    """A pod's spec.nodeName never changes once set, and no pod's containers run on two nodes."""
    if s.ghost.rebinds:
        return False
    seen: dict[int, str] = {}
    for k in s.kubelets:
        for c in k.runtime:
            if c.managed and c.running and seen.setdefault(c.uid, k.node) != k.node:
                return False
    return True


def no_overcommit(s: ClusterState) -> bool:
    """On every node, the requests of the pods bound to it fit its allocatable (cpu, memory, storage, pods)."""
    return _fits(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _fits(objects: immutables.Map[Key, Object]) -> bool:
    # Memoised on etcd's objects, which many states share (interned: see spec.reduction.canonical).
    nodes = {n.meta.name: n for n in objects.values() if isinstance(n, Node)}
    used: dict[str, list[int]] = {}
    for p in objects.values():
        if not isinstance(p, Pod):
            continue
        if p.node_name in nodes:
            u = used.setdefault(p.node_name, [0, 0, 0, 0])
            r = p.info.requests
            u[0] += r.milli_cpu
            u[1] += r.memory
            u[2] += r.ephemeral_storage
            u[3] += 1
    for name, (cpu, mem, eph, count) in used.items():
        a = nodes[name].info.allocatable
        if cpu > a.milli_cpu or mem > a.memory or (eph and eph > a.ephemeral_storage) or count > a.pods:
            return False
    return True


def replicaset_never_overshoots(s: ClusterState) -> bool:
    """No pod is created while its ReplicaSet already has spec.replicas active pods in etcd (during a rollout the
    Deployment controller's maxSurge is what the ReplicaSets' replicas already allow)."""
    return not s.ghost.overshoots


def resource_version_monotonic(s: ClusterState) -> bool:
    """etcd's revisions and watch history strictly increase, no object is newer than the revision, and no
    component ever observes a revision older than one it observed before (across restarts: the time travel of
    kubernetes#59848)."""
    etcd = s.etcd
    last = etcd.compacted
    for e in etcd.history:
        if e.rv <= last:
            return False
        last = e.rv
    if last > etcd.revision or any(o.meta.resource_version > etcd.revision for o in etcd.objects.values()):
        return False
    return all(i is None or i.rv >= i.high_water for _, _, _, i in s.informer_slots())


def _running(kubelets: tuple[Kubelet, ...], pod: Pod) -> bool:
    for k in kubelets:
        if k.node == pod.node_name:
            return any(c.uid == pod.meta.uid and c.running and c.managed for c in k.runtime)
    return False


def replicas_converged(s: ClusterState) -> bool:
    """Every Deployment has exactly spec.replicas ready, running pods of its current template, and no other
    active pods."""
    return _converged(s.etcd.objects, s.kubelets)


@functools.lru_cache(maxsize=1 << 14)
def _converged(objects: immutables.Map[Key, Object], kubelets: tuple[Kubelet, ...]) -> bool:
    # Memoised on what it reads: etcd's objects and the kubelets (many states share both).
    pods = [p for p in objects.values() if isinstance(p, Pod) and is_active(p)]
    rss = [r for r in objects.values() if isinstance(r, ReplicaSet)]
    for d in objects.values():
        if not isinstance(d, Deployment) or d.meta.deleting:
            continue
        current = {r.meta.uid for r in rss if r.meta.owner and r.meta.owner.uid == d.meta.uid
                   and equal_ignore_hash(r.template, d.template)}
        others = {r.meta.uid for r in rss if r.meta.owner and r.meta.owner.uid == d.meta.uid} - current
        good = 0
        for p in pods:
            owner = p.meta.owner
            if owner is None:
                continue
            if owner.uid in others:
                return False
            if owner.uid in current:
                if not (p.status.ready and _running(kubelets, p)):
                    return False
                good += 1
        if good != d.replicas:
            return False
    return True


@functools.lru_cache(maxsize=8)
def _pending_feasibility(s: ClusterState) -> tuple[bool, ...]:
    """For each unbound pod not being deleted: whether it fits some node of etcd's current state (memoised on the
    state: the liveness properties ask it several times of each new state)."""
    return _feasibility(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 16)
def _feasibility(objects: immutables.Map[Key, Object]) -> tuple[bool, ...]:
    # Memoised on etcd's objects: many states share them (a step that only moves a cache or a queue leaves
    # etcd alone), and running the scheduler's filters is the costliest part of evaluating the properties.
    pods = [p for k, p in objects.items() if k.startswith("pods/") and isinstance(p, Pod)]
    pending = [p for p in pods if not p.node_name and not p.meta.deleting and p.scheduler_name == "default-scheduler"]
    if not pending:
        return ()
    nodes = sorted((n.info for k, n in objects.items() if k.startswith("nodes/") and isinstance(n, Node)),
                   key=lambda n: n.name)
    snap = Snapshot.build(nodes, [pod_info(p) for p in pods if p.node_name])
    return tuple(bool(filter_nodes(pod_info(p), snap)[0]) for p in pending)


def unscheduled_feasible_pod(s: ClusterState) -> bool:
    """Some pod is unbound, not being deleted, and fits some node of etcd's current state."""
    return any(_pending_feasibility(s))


def blocked(s: ClusterState) -> bool:
    """Some unbound pod fits no node: the cluster cannot reach the desired state until something changes (a
    cordoned node is uncordoned, a pod deleted). Convergence is promised only when nothing blocks it."""
    return not all(_pending_feasibility(s))


def rollouts_complete(s: ClusterState) -> bool:
    """Every Deployment's status says complete: updated = replicas = available = spec.replicas at the current
    generation (deploymentutil.DeploymentComplete)."""
    return _complete(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _complete(objects: immutables.Map[Key, Object]) -> bool:
    return all(deployment_complete(d, d.status) for d in objects.values() if isinstance(d, Deployment))


def _not(p: Predicate) -> Predicate:
    return lambda s: not p(s)


PROPERTIES: dict[str, PropertySpec] = {
    p.name: p
    for p in (
        PropertySpec(
            "NoDoubleScheduling", "always", no_double_scheduling, None, no_double_scheduling.__doc__ or "",
            "pkg/registry/core/pod/storage/storage.go (assignPod precondition), pkg/scheduler/schedule_one.go",
        ),
        PropertySpec(
            "NoOvercommit", "always", no_overcommit, None, no_overcommit.__doc__ or "",
            "pkg/scheduler/framework/plugins/noderesources/fit.go, pkg/kubelet/lifecycle/predicate.go (admission)",
        ),
        PropertySpec(
            "ReplicaSetNeverOvershoots", "always", replicaset_never_overshoots, None,
            replicaset_never_overshoots.__doc__ or "",
            "pkg/controller/replicaset/replica_set.go (manageReplicas gated by expectations)",
        ),
        PropertySpec(
            "ResourceVersionMonotonic", "always", resource_version_monotonic, None,
            resource_version_monotonic.__doc__ or "",
            "staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go, client-go/tools/cache/reflector.go",
        ),
        PropertySpec(
            "EventualReplicaConvergence", "leads_to", lambda s: not replicas_converged(s) and not blocked(s),
            lambda s: replicas_converged(s) or blocked(s),
            "Whenever the Deployments' ready pods differ from their desired state and nothing blocks them (every "
            "pending pod fits some node), they converge (or become blocked). With faults that stop, this is Anvil's "
            "ESR: eventually, and then always.",
            "pkg/controller/deployment/sync.go, pkg/controller/replicaset/replica_set.go; Anvil esr.rs",
        ),
        PropertySpec(
            "EveryFeasiblePodEventuallyScheduled", "leads_to", unscheduled_feasible_pod,
            _not(unscheduled_feasible_pod),
            "Whenever an unbound pod fits some node, eventually no such pod is left (it is bound, or deleted).",
            "pkg/scheduler/backend/queue/scheduling_queue.go (requeue on cluster events, flush after 5 min)",
        ),
        PropertySpec(
            "RolloutEventuallyCompletes", "leads_to", lambda s: not rollouts_complete(s) and not blocked(s),
            lambda s: rollouts_complete(s) or blocked(s),
            "Whenever a Deployment's rollout is incomplete and nothing blocks it, it eventually completes (or "
            "becomes blocked).",
            "pkg/controller/deployment/rolling.go, pkg/controller/deployment/util/deployment_util.go",
        ),
    )
}
