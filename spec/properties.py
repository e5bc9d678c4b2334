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

from spec.controllers.deployment import deployment_complete, equal_ignore_hash, max_surge
from spec.controllers.replicaset import is_active
from spec.lifecycle_properties import no_eviction_when_all_zones_disrupted, replicasets_on_healthy_nodes
from spec.scheduler import pod_info
from spec.scheduling.filters import filter_nodes
from spec.scheduling.snapshot import Snapshot
from spec.state import ClusterState, Deployment, Key, Kubelet, Node, Object, Pod, ReplicaSet

Predicate = Callable[[ClusterState], bool]


@attrs.frozen
class PropertySpec:
    """A property: its name, kind (the checker's operator: "always", "eventually_always", "leads_to" or
    "leads_to_always"; ``q`` is None for the first two), predicate(s), the promise in words, the upstream source
    of the promise."""

    name: str
    kind: str
    p: Predicate
    q: Predicate | None
    doc: str
    upstream: str
    finding: bool = False
    """A promise upstream's documentation makes and upstream's code breaks (docs/spec.md, "Findings"): checked
    only when a scenario names it, where it is expected to fail with a trace."""


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
    """The ReplicaSet controller never creates a pod while the pods of the ReplicaSet that it knows of (the active
    ones in its pod cache that it claims, and the ones it created that its cache does not show yet) already number
    spec.replicas as it read them. (A creation from a stale spec.replicas is no overshoot: upstream creates from
    its lister's copy, and deletes the surplus once it sees the new size.)"""
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
    active pods; every other ReplicaSet (one without a Deployment that owns it) has exactly spec.replicas ready,
    running pods and no active orphan its selector matches (one it is yet to adopt)."""
    return _converged(s.etcd.objects, s.kubelets)


def _owned_by_deployment(rs: ReplicaSet, deployments: set[int]) -> bool:
    owner = rs.meta.owner
    return owner is not None and owner.kind == "Deployment" and owner.uid in deployments


@functools.lru_cache(maxsize=1 << 14)
def _converged(objects: immutables.Map[Key, Object], kubelets: tuple[Kubelet, ...]) -> bool:
    # Memoised on what it reads: etcd's objects and the kubelets (many states share both).
    pods = [p for p in objects.values() if isinstance(p, Pod) and is_active(p)]
    rss = [r for r in objects.values() if isinstance(r, ReplicaSet)]
    deployments = {d.meta.uid for d in objects.values() if isinstance(d, Deployment)}
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
    for rs in rss:
        if rs.meta.deleting or _owned_by_deployment(rs, deployments):
            continue
        good = 0
        for p in pods:
            owner = p.meta.owner
            if owner is None:
                if p.meta.namespace == rs.meta.namespace and rs.selector.matches(dict(p.meta.labels)):
                    return False  # an orphan that claimPods is yet to adopt
            elif owner.uid == rs.meta.uid:
                if not (p.status.ready and _running(kubelets, p)):
                    return False
                good += 1
        if good != rs.replicas:
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
    generation (deploymentutil.DeploymentComplete); every other ReplicaSet's status has caught up with it:
    replicas = ready = available = spec.replicas at the current generation (what `kubectl rollout status` waits
    for on a Deployment, asked of the ReplicaSet's own status)."""
    return _complete(s.etcd.objects)


def replicaset_complete(rs: ReplicaSet) -> bool:
    """The ReplicaSet's status reports spec.replicas pods, all ready and available, at its current generation."""
    st = rs.status
    return (st.observed_generation >= rs.meta.generation and st.replicas == rs.replicas
            and st.ready_replicas == rs.replicas and st.available_replicas == rs.replicas)


@functools.lru_cache(maxsize=1 << 14)
def _complete(objects: immutables.Map[Key, Object]) -> bool:
    deployments = {d.meta.uid for d in objects.values() if isinstance(d, Deployment)}
    for o in objects.values():
        if isinstance(o, Deployment):
            if not deployment_complete(o, o.status):
                return False
        elif (isinstance(o, ReplicaSet) and not o.meta.deleting and not _owned_by_deployment(o, deployments)
              and not replicaset_complete(o)):
            return False
    return True


def rollout_within_max_surge(s: ClusterState) -> bool:
    """While a Deployment's rolling update is under way (active pods of more than one of its ReplicaSets exist),
    its active pods number at most spec.replicas + maxSurge."""
    return _within_surge(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _within_surge(objects: immutables.Map[Key, Object]) -> bool:
    owner_of = {r.meta.uid: r.meta.owner.uid for r in objects.values()
                if isinstance(r, ReplicaSet) and r.meta.owner is not None}
    for d in objects.values():
        if not isinstance(d, Deployment) or d.meta.deleting:
            continue
        rss: set[int] = set()
        active = 0
        for p in objects.values():
            if isinstance(p, Pod) and is_active(p) and p.meta.owner is not None \
                    and owner_of.get(p.meta.owner.uid) == d.meta.uid:
                rss.add(p.meta.owner.uid)
                active += 1
        if len(rss) > 1 and active > d.replicas + max_surge(d):
            return False
    return True


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
            "EventualReplicaConvergence", "leads_to_always", lambda s: not replicas_converged(s) and not blocked(s),
            lambda s: replicas_converged(s) or blocked(s),
            "Whenever the ready pods of the Deployments and of the other ReplicaSets differ from their desired "
            "state and nothing blocks them (every pending pod fits some node), they converge (or become blocked) "
            "and stay so: Anvil's ESR, p ~> []q (with faults and commands that stop, the desired state is "
            "eventually stable).",
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
            "Whenever a Deployment's rollout is incomplete, or another ReplicaSet's status lags its spec, and "
            "nothing blocks them, they eventually complete (or become blocked).",
            "pkg/controller/deployment/rolling.go, pkg/controller/deployment/util/deployment_util.go",
        ),
        PropertySpec(
            "RolloutWithinMaxSurge", "always", rollout_within_max_surge, None,
            rollout_within_max_surge.__doc__ or "",
            "staging/src/k8s.io/api/apps/v1/types.go (RollingUpdateDeployment.MaxSurge: \"the total number of pods "
            "running at any time during the update is at most 130% of desired pods\"); broken by "
            "pkg/controller/deployment/util/deployment_util.go NewRSNewReplicas, which bounds spec.replicas",
            finding=True,
        ),
    )
}



# --- the node lifecycle's properties (issue 12; the predicate is in spec/lifecycle_properties.py) -------------

PROPERTIES["ReplicaSetsConvergeOnHealthyNodes"] = PropertySpec(
    "ReplicaSetsConvergeOnHealthyNodes", "leads_to_always",
    lambda s: not replicasets_on_healthy_nodes(s) and not blocked(s),
    lambda s: replicasets_on_healthy_nodes(s) or blocked(s),
    "Whenever a ReplicaSet lacks ready pods running on healthy nodes and nothing blocks it (every pending pod fits "
    "some node), it gets them (or becomes blocked): after a node fails for good, its pods are evicted and replaced "
    "on the nodes that remain.",
    "pkg/controller/nodelifecycle/node_lifecycle_controller.go, pkg/controller/tainteviction/taint_eviction.go, "
    "pkg/controller/replicaset/replica_set.go",
)

PROPERTIES["NoEvictionWhenAllZonesDisrupted"] = PropertySpec(
    "NoEvictionWhenAllZonesDisrupted", "always", no_eviction_when_all_zones_disrupted, None,
    "While no zone has a Ready node, nothing is evicted: the node lifecycle controller takes it for its own lost "
    "connectivity (master disruption mode), removes the NoExecute taints and stops tainting.",
    "pkg/controller/nodelifecycle/node_lifecycle_controller.go (handleDisruption, ComputeZoneState); "
    "kubernetes#24597, #28832 (fixed by #28897)",
)
