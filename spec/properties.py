"""The properties the control plane promises, each a named predicate over ``ClusterState``.

Safety properties are invariants; liveness properties are checked on fair behaviours (weak fairness on every
controller, the scheduler, the kubelets, watch delivery, node recovery and the clock; faults and the user are not
fair, and fault budgets make faults stop), in the shape of Anvil's ESR (anvil-verifier/anvil,
src/kubernetes_cluster/spec/ and the controllers' ``esr`` theorems).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import attrs
import immutables

from checker.model import negation
from spec.controllers.deployment import RECREATE, deployment_complete, equal_ignore_hash, max_surge
from spec.controllers.replicaset import is_active
from spec.ha_properties import (
    at_most_one_acting_leader,
    expired_jobs_gone,
    explain_acting,
    explain_completions,
    explain_dangling,
    explain_expired_jobs,
    explain_finished,
    explain_namespaces,
    explain_orphans,
    explain_parallelism,
    job_active_within_parallelism,
    job_never_exceeds_completions,
    jobs_finished,
    leader_election_fencing,
    namespaces_settled,
    no_dangling_dependents,
    orphans_stay_orphaned,
)
from spec.lifecycle_properties import (
    eviction_only_for_untolerated_taints,
    explain_tolerated_evictions,
    no_eviction_when_all_zones_disrupted,
    replicasets_on_healthy_nodes,
)
from spec.scheduler import pod_info
from spec.scheduling.filters import filter_nodes
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import NodeInfo, PodInfo
from spec.state import (
    KIND,
    ClusterState,
    Deployment,
    Etcd,
    Job,
    Key,
    Kubelet,
    Namespace,
    Node,
    Object,
    Pod,
    PodDisruptionBudget,
    ReplicaSet,
    ReplicationController,
    RuntimeContainer,
    StatefulSet,
)
from spec.workload_properties import (
    at_most_one_pod_per_identity,
    availability_never_waits_for_resync,
    explain_at_most_one,
    explain_availability,
    explain_pdbs,
    explain_statefulsets,
    pdbs_respected,
    statefulsets_converged,
)

Predicate = Callable[[ClusterState], bool]


# --- what makes evaluating the properties cheap (issue 11): the checker asks every property of every new state ---

def of_etcd(check: Callable[[Etcd], bool]) -> Callable[[Etcd], bool]:
    """A check of etcd alone, memoised on etcd. Representatives share one etcd object among the many states that
    differ only in the components (web-two-nodes: 2,709 etcd objects for 64,050 states), so a look-up is one
    cached hash and an identity; an etcd equal to a stored one but another object is compared field by field,
    which is still exact. Use it for any part of a property that reads etcd and nothing else."""
    return functools.lru_cache(maxsize=1 << 14)(check)


def converging(goal: Predicate, excuse: Predicate) -> tuple[Predicate, Predicate]:
    """The premise and goal of "whenever ``goal`` is false and nothing excuses it, eventually it is true or
    excused": (not goal and not excuse, goal or excuse). The premise is the goal's negation, declared as such
    (``checker.negation``): the checker takes its answer from the goal's, asking ``goal`` and ``excuse`` once per
    state."""
    def reached(s: ClusterState) -> bool:
        return goal(s) or excuse(s)

    return negation(reached), reached

if TYPE_CHECKING:
    from spec.config import Config


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
    applies: Callable[[Config], bool] | None = attrs.field(default=None, eq=False)
    """Which scenarios check it when they name no properties (None: every one): a property about objects a
    scenario does not have would only be reported vacuous there."""
    explain: Callable[[ClusterState], str] | None = None
    """What breaks the property in a state that violates it, in words ("ReplicaSet default/web has 3 active pods,
    replicas 1"), printed at a counterexample's violating step (or along a lasso's loop); None: only the name."""


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
    if not _etcd_monotonic(s.etcd):
        return False
    for i in s.informers():  # noqa: SIM110 - a loop, not a generator: asked of every new state
        if i is not None and i.rv < i.high_water:
            return False
    return True


@of_etcd
def _etcd_monotonic(etcd: Etcd) -> bool:
    """ResourceVersionMonotonic's part about etcd alone."""
    last = etcd.compacted
    for e in etcd.history:
        if e.rv <= last:
            return False
        last = e.rv
    return last <= etcd.revision and all(o.meta.resource_version <= etcd.revision for o in etcd.objects.values())


Runtimes = tuple[tuple[str, frozenset[RuntimeContainer]], ...]


def runtimes(kubelets: tuple[Kubelet, ...]) -> Runtimes:
    """What the convergence properties read of the kubelets: each one's node and container runtime. A memo keyed on
    it hits where the kubelets differ only in what the properties do not read (their informers, most often: the
    kubelets of web-two-nodes' 64,050 states are 96,099 objects, 66 distinct values, and 3 distinct runtimes)."""
    return tuple([(k.node, k.runtime) for k in kubelets])


def _running(kubelets: Runtimes, pod: Pod) -> bool:
    for node, runtime in kubelets:
        if node == pod.node_name:
            return any(c.uid == pod.meta.uid and c.running and c.managed for c in runtime)
    return False


def replicas_converged(s: ClusterState) -> bool:
    """Every Deployment has exactly spec.replicas ready, running pods of its current template, and no other
    active pods; every other ReplicaSet (one without a Deployment that owns it, or one of a paused Deployment, which
    is only scaled, never rolled: deployment_controller.go syncDeployment), and every ReplicationController (the
    same controller: pkg/controller/replication), has exactly spec.replicas ready, running pods and no active
    orphan its selector matches (one it is yet to adopt)."""
    return _converged(s.etcd.objects, runtimes(s.kubelets))


def _owned_by_deployment(rs: ReplicaSet | ReplicationController, deployments: set[int]) -> bool:
    """``rs`` is owned by one of ``deployments`` (uids): the Deployment's promises cover it. Callers pass the
    Deployments that are not paused (``_rolling``)."""
    owner = rs.meta.owner
    return owner is not None and owner.kind == "Deployment" and owner.uid in deployments


def _rolling(objects: immutables.Map[Key, Object]) -> set[int]:
    """The uids of the Deployments that are not paused. A paused Deployment is only scaled, and a template
    changed while paused waits for `kubectl rollout resume` (deployment_controller.go syncDeployment: "if
    d.Spec.Paused { return dc.sync(ctx, d, rsList) }"; progress.go checks no progress while paused): its promise is
    its ReplicaSets' (each at its spec.replicas, with a status that says so), not a rollout's."""
    return {d.meta.uid for d in objects.values() if isinstance(d, Deployment) and not d.paused}


@functools.lru_cache(maxsize=1 << 14)
def _converged(objects: immutables.Map[Key, Object], kubelets: Runtimes) -> bool:
    # Memoised on what it reads: etcd's objects and the kubelets' runtimes (many states share both).
    pods = [p for p in objects.values() if isinstance(p, Pod) and is_active(p)]
    rss = [r for r in objects.values() if isinstance(r, ReplicaSet | ReplicationController)]
    deployments = _rolling(objects)
    for d in objects.values():
        if not isinstance(d, Deployment) or d.meta.deleting or d.paused:
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


def _pending_feasibility(s: ClusterState) -> tuple[bool, ...]:
    """For each unbound pod not being deleted: whether it fits some node of etcd's current state."""
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
    return tuple(bool(filter_nodes(_with_volumes(pod_info(p), objects, nodes), snap)[0]) for p in pending)


def _with_volumes(info: PodInfo, objects: immutables.Map[Key, Object], nodes: list[NodeInfo]) -> PodInfo:
    """A pod with claims carries VolumeBinding's verdict on etcd's claims, volumes and classes (a pod whose claim is
    missing, being deleted or not bindable on any node fits nowhere: ``spec.scheduling.volumebinding``)."""
    if not info.claims:
        return info
    from spec.scheduling.volumebinding import verdict
    from spec.state import PersistentVolume

    volumes = [v for k, v in objects.items() if k.startswith("persistentvolumes/") and isinstance(v, PersistentVolume)]
    return attrs.evolve(info, volume_binding=verdict(info.claims, info.namespace, nodes, objects.get, volumes))


def unscheduled_feasible_pod(s: ClusterState) -> bool:
    """Some pod is unbound, not being deleted, and fits some node of etcd's current state."""
    return _some_feasible(s.etcd.objects)


def blocked(s: ClusterState) -> bool:
    """Some unbound pod fits no node: the cluster cannot reach the desired state until something changes (a
    cordoned node is uncordoned, a pod deleted). Convergence is promised only when nothing blocks it."""
    return _blocked(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _some_feasible(objects: immutables.Map[Key, Object]) -> bool:
    # Memoised on etcd's objects, whose hash is cached and which many states share (one look-up, by identity).
    return any(_feasibility(objects))


@functools.lru_cache(maxsize=1 << 14)
def _blocked(objects: immutables.Map[Key, Object]) -> bool:
    return not all(_feasibility(objects))


def rollouts_complete(s: ClusterState) -> bool:
    """Every Deployment's status says complete: updated = replicas = available = spec.replicas at the current
    generation (deploymentutil.DeploymentComplete); every other ReplicaSet's (and every ReplicationController's)
    status has caught up with it:
    replicas = ready = available = spec.replicas at the current generation (what `kubectl rollout status` waits
    for on a Deployment, asked of the ReplicaSet's own status). A paused Deployment rolls nothing out: its
    status has observed its generation (the scale and the pause were seen) and each of its ReplicaSets is complete
    in that sense."""
    return _complete(s.etcd.objects)


def replicaset_complete(rs: ReplicaSet | ReplicationController) -> bool:
    """The ReplicaSet's status reports spec.replicas pods, all ready and available, at its current generation."""
    st = rs.status
    return (st.observed_generation >= rs.meta.generation and st.replicas == rs.replicas
            and st.ready_replicas == rs.replicas and st.available_replicas == rs.replicas)


@functools.lru_cache(maxsize=1 << 14)
def _complete(objects: immutables.Map[Key, Object]) -> bool:
    deployments = _rolling(objects)
    for o in objects.values():
        if isinstance(o, Deployment):
            if o.paused:
                if o.status.observed_generation < o.meta.generation:
                    return False
            elif not deployment_complete(o, o.status):
                return False
        elif (isinstance(o, ReplicaSet | ReplicationController) and not o.meta.deleting
              and not _owned_by_deployment(o, deployments) and not replicaset_complete(o)):
            return False
    return True


def rollout_within_max_surge(s: ClusterState) -> bool:
    """While a Deployment's rolling update is under way (active pods of more than one of its ReplicaSets exist),
    its active pods number at most spec.replicas + maxSurge."""
    return _within_surge(s.etcd.objects)


def _surge_excess(objects: immutables.Map[Key, Object]) -> Iterator[tuple[Deployment, int, int]]:
    """Each Deployment (not being deleted) whose active pods, spread over more than one ReplicaSet, exceed replicas
    + maxSurge: (Deployment, active pods, ReplicaSets holding them)."""
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
            yield d, active, len(rss)


@functools.lru_cache(maxsize=1 << 14)
def _within_surge(objects: immutables.Map[Key, Object]) -> bool:
    return next(_surge_excess(objects), None) is None


def recreate_revisions_never_overlap(s: ClusterState) -> bool:
    """A Deployment with the Recreate strategy never has pods of two of its ReplicaSets at once (pod objects in
    etcd that are not Succeeded or Failed, Terminating ones included): an upgrade's new pods are created only after
    the old revision's pods are gone."""
    return _recreate_overlap_free(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _recreate_overlap_free(objects: immutables.Map[Key, Object]) -> bool:
    return next(_recreate_overlaps(objects), None) is None


def _recreate_overlaps(objects: immutables.Map[Key, Object]) -> Iterator[tuple[Deployment, list[str]]]:
    """Each Recreate Deployment with pods of more than one of its ReplicaSets: (Deployment, the pods' names)."""
    recreate = {d.meta.uid: d for d in objects.values() if isinstance(d, Deployment) and d.strategy == RECREATE}
    if not recreate:
        return
    owner_of = {r.meta.uid: r.meta.owner.uid for r in objects.values()
                if isinstance(r, ReplicaSet) and r.meta.owner is not None and r.meta.owner.uid in recreate}
    pods: dict[int, dict[int, list[str]]] = {}
    for p in objects.values():
        if isinstance(p, Pod) and p.meta.owner is not None and p.meta.owner.uid in owner_of \
                and p.status.phase not in ("Succeeded", "Failed"):
            pods.setdefault(owner_of[p.meta.owner.uid], {}).setdefault(p.meta.owner.uid, []).append(p.meta.name)
    for uid, by_rs in sorted(pods.items()):
        if len(by_rs) > 1:
            yield recreate[uid], sorted(name for names in by_rs.values() for name in names)


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
            "EventualReplicaConvergence", "leads_to_always", *converging(replicas_converged, blocked),
            "Whenever the ready pods of the Deployments and of the other ReplicaSets differ from their desired "
            "state and nothing blocks them (every pending pod fits some node), they converge (or become blocked) "
            "and stay so: Anvil's ESR, p ~> []q (with faults and commands that stop, the desired state is "
            "eventually stable).",
            "pkg/controller/deployment/sync.go, pkg/controller/replicaset/replica_set.go; Anvil esr.rs",
        ),
        PropertySpec(
            "EveryFeasiblePodEventuallyScheduled", "leads_to", unscheduled_feasible_pod,
            negation(unscheduled_feasible_pod),
            "Whenever an unbound pod fits some node, eventually no such pod is left (it is bound, or deleted).",
            "pkg/scheduler/backend/queue/scheduling_queue.go (requeue on cluster events, flush after 5 min)",
        ),
        PropertySpec(
            "RolloutEventuallyCompletes", "leads_to", *converging(rollouts_complete, blocked),
            "Whenever a Deployment's rollout is incomplete, or another ReplicaSet's status lags its spec, and "
            "nothing blocks them, they eventually complete (or become blocked). A paused Deployment is expected "
            "to make no progress (its changed template waits for `kubectl rollout resume`): while paused it counts "
            "as complete once its status has observed its generation and its ReplicaSets' statuses have caught up "
            "with their specs; the obligation of a rollout under way is met by its completion or by a pause.",
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
        PropertySpec(
            "RecreateRevisionsNeverOverlap", "always", recreate_revisions_never_overlap, None,
            recreate_revisions_never_overlap.__doc__ or "",
            "pkg/controller/deployment/recreate.go (rolloutRecreate, oldPodsRunning; kubernetes#27362, fixed by "
            "#43963); https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#recreate-deployment "
            "(\"Successful removal is awaited before any Pod of the new revision is created\")",
            finding=True,
        ),
    )
}



# --- the node lifecycle's properties (issue 12; the predicate is in spec/lifecycle_properties.py) -------------

PROPERTIES["ReplicaSetsConvergeOnHealthyNodes"] = PropertySpec(
    "ReplicaSetsConvergeOnHealthyNodes", "leads_to_always",
    *converging(replicasets_on_healthy_nodes, blocked),
    "Whenever a ReplicaSet lacks ready pods running on healthy nodes and nothing blocks it (every pending pod fits "
    "some node), it gets them (or becomes blocked): after a node fails for good, its pods are evicted and replaced "
    "on the nodes that remain.",
    "pkg/controller/nodelifecycle/node_lifecycle_controller.go, pkg/controller/tainteviction/taint_eviction.go, "
    "pkg/controller/replicaset/replica_set.go",
)


# --- the StatefulSets' and PodDisruptionBudgets' properties (issue 12; spec/workload_properties.py) ----------

def _has(kind: type) -> Callable[[Config], bool]:
    return lambda config: any(isinstance(o, kind) for o in config.objects)


PROPERTIES["AtMostOnePodPerStatefulIdentity"] = PropertySpec(
    "AtMostOnePodPerStatefulIdentity", "always", at_most_one_pod_per_identity, None,
    at_most_one_pod_per_identity.__doc__ or "",
    "pkg/controller/statefulset/stateful_set_control.go (a replica is created only when no pod of its name "
    "exists), pkg/registry/core/pod/strategy.go (graceful deletion: the kubelet confirms); "
    "https://kubernetes.io/docs/tasks/run-application/force-delete-stateful-set-pod/",
    applies=_has(StatefulSet), explain=explain_at_most_one,
)
def _min_ready(config: Config) -> bool:
    return any(isinstance(o, ReplicaSet | ReplicationController | Deployment) and o.min_ready_seconds > 0
               for o in config.objects)


PROPERTIES["AvailabilityNeverWaitsForResync"] = PropertySpec(
    "AvailabilityNeverWaitsForResync", "always", availability_never_waits_for_resync, None,
    "Whenever the cluster goes idle (no timer running, nothing queued: only the informers' resync period, 12 h "
    "or more, is left), every ReplicaSet with minReadySeconds counts all its ready pods in "
    "status.availableReplicas: none waits for a resync to be counted available.",
    "pkg/controller/replicaset/replica_set.go (updatePod: enqueueRSAfter minReadySeconds + 1 s; syncReplicaSet: "
    "AddAfter minReadySeconds \"as a last line of defense\", kubernetes#42097 fixing #41641), "
    "pkg/api/v1/pod/util.go IsPodAvailable; staging/src/k8s.io/api/apps/v1/types.go ReplicaSetStatus."
    "AvailableReplicas",
    applies=_min_ready, explain=explain_availability,
)
PROPERTIES["PodDisruptionBudgetRespected"] = PropertySpec(
    "PodDisruptionBudgetRespected", "always", pdbs_respected, None, pdbs_respected.__doc__ or "",
    "pkg/registry/core/pod/storage/eviction.go (checkAndDecrement), pkg/controller/disruption/disruption.go; "
    "https://kubernetes.io/docs/concepts/workloads/pods/disruptions/",
    applies=_has(PodDisruptionBudget), explain=explain_pdbs,
)
PROPERTIES["StatefulSetsConverge"] = PropertySpec(
    "StatefulSetsConverge", "leads_to_always",
    *converging(statefulsets_converged, blocked),
    "Whenever a StatefulSet lacks Ready, running pods NAME-0..NAME-(replicas-1), or has pods beyond them, and "
    "nothing blocks it (every pending pod fits some node), it gets exactly those and keeps them (or becomes "
    "blocked): Anvil's ESR, p ~> []q.",
    "pkg/controller/statefulset/stateful_set_control.go (updateStatefulSet); Anvil esr.rs",
    applies=_has(StatefulSet), explain=explain_statefulsets,
)
PROPERTIES["NoEvictionWhenAllZonesDisrupted"] = PropertySpec(
    "NoEvictionWhenAllZonesDisrupted", "always", no_eviction_when_all_zones_disrupted, None,
    "While no zone has a Ready node, nothing is evicted: the node lifecycle controller takes it for its own lost "
    "connectivity (master disruption mode), removes the NoExecute taints and stops tainting.",
    "pkg/controller/nodelifecycle/node_lifecycle_controller.go (handleDisruption, ComputeZoneState); "
    "kubernetes#24597, #28832 (fixed by #28897)",
)

PROPERTIES["EvictionOnlyForUntoleratedTaints"] = PropertySpec(
    "EvictionOnlyForUntoleratedTaints", "always", eviction_only_for_untolerated_taints, None,
    "The taint eviction controller deletes a pod only while its node has a NoExecute taint the pod does not "
    "tolerate for ever: a pod whose tolerations have no tolerationSeconds stays bound.",
    "staging/src/k8s.io/api/core/v1/types.go (Toleration.TolerationSeconds), "
    "pkg/controller/tainteviction/taint_eviction.go processPodOnNode; kubernetes#90794 (fixed by #93722)",
    explain=explain_tolerated_evictions,
)

# --- issue 19: garbage collection, Jobs (the predicates are in spec/ha_properties.py) -------------------------------

PROPERTIES["NoOrphanedDependents"] = PropertySpec(
    "NoOrphanedDependents", "leads_to_always",
    negation(no_dangling_dependents), no_dangling_dependents,
    "Whenever some object's owner (by uid) is gone, the garbage collector eventually deletes it (and its own "
    "dependents) and no dependent of a deleted owner is left: a background or foreground cascade completes.",
    "pkg/controller/garbagecollector/garbagecollector.go (attemptToDeleteItem), graph_builder.go",
    explain=explain_dangling,
)

PROPERTIES["JobNeverExceedsCompletions"] = PropertySpec(
    "JobNeverExceedsCompletions", "always", job_never_exceeds_completions, None,
    job_never_exceeds_completions.__doc__ or "",
    "pkg/controller/job/job_controller.go (manageJob, trackJobStatusAndRemoveFinalizers); KEP-2307",
    applies=_has(Job), explain=explain_completions,
)

PROPERTIES["JobActivePodsWithinParallelism"] = PropertySpec(
    "JobActivePodsWithinParallelism", "always", job_active_within_parallelism, None,
    job_active_within_parallelism.__doc__ or "",
    "pkg/controller/job/job_controller.go (manageJob); batch/v1 JobSpec.Parallelism: \"the maximum desired number "
    "of pods the job should run at any given time\"",
    applies=_has(Job), explain=explain_parallelism,
)

PROPERTIES["JobEventuallyFinishes"] = PropertySpec(
    "JobEventuallyFinishes", "leads_to", negation(jobs_finished), jobs_finished,
    "Whenever some Job has neither the Complete nor the Failed condition, eventually every Job has one (its pods "
    "run to completion or exhaust backoffLimit).",
    "pkg/controller/job/job_controller.go (syncJob, enactJobFinished)",
    applies=_has(Job), explain=explain_finished,
)

PROPERTIES["FinishedJobsDeletedAfterTTL"] = PropertySpec(
    "FinishedJobsDeletedAfterTTL", "leads_to", negation(expired_jobs_gone), expired_jobs_gone,
    "Whenever a finished Job's ttlSecondsAfterFinished has run out since it finished, eventually no such Job is "
    "left: the TTL-after-finished controller deletes it in foreground and the garbage collector deletes its pods "
    "and then the Job.",
    "pkg/controller/ttlafterfinished/ttlafterfinished_controller.go (processJob); "
    "https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/; kubernetes#109429",
    applies=lambda config: any(isinstance(o, Job) and o.ttl_seconds_after_finished is not None
                               for o in config.objects),
    explain=explain_expired_jobs,
)

PROPERTIES["NamespaceEventuallyDeleted"] = PropertySpec(
    "NamespaceEventuallyDeleted", "leads_to", negation(namespaces_settled), namespaces_settled,
    "Whenever some namespace is Terminating, eventually none is: its content is deleted, the namespace controller "
    "removes the kubernetes finalizer and the namespace is gone, with nothing left in it.",
    "pkg/controller/namespace/deletion/namespaced_resources_deleter.go (Delete, deleteAllContent, "
    "finalizeNamespace); pkg/admission/plugin/namespace/lifecycle/admission.go",
    applies=_has(Namespace), explain=explain_namespaces,
)

PROPERTIES["OrphansStayOrphaned"] = PropertySpec(
    "OrphansStayOrphaned", "always", orphans_stay_orphaned, None, orphans_stay_orphaned.__doc__ or "",
    "pkg/controller/garbagecollector/garbagecollector.go (attemptToOrphanWorker), "
    "pkg/controller/controller_ref_manager.go (ClaimObject, RecheckDeletionTimestamp); kubernetes#42639, #42938; "
    "https://kubernetes.io/docs/concepts/architecture/garbage-collection/#orphaned-dependents",
    applies=lambda config: any(c.verb == "delete" and c.cascade == "orphan" for c in config.commands),
    explain=explain_orphans,
)

PROPERTIES["AtMostOneActingLeader"] = PropertySpec(
    "AtMostOneActingLeader", "always", at_most_one_acting_leader, None,
    "Per elected component, at most one replica acts (a kube-controller-manager replica runs its controllers, a "
    "kube-scheduler replica schedules and binds), except a leader that resumed from a pause and has not reached "
    "its renew deadline (upstream's leader election is not fencing), within the scenario's clock-skew budget.",
    "staging/src/k8s.io/client-go/tools/leaderelection/leaderelection.go (package doc: no fencing; renew, "
    "OnStoppedLeading), cmd/kube-controller-manager/app/controllermanager.go (\"leaderelection lost\": exit), "
    "cmd/kube-scheduler/app/server.go (\"Leaderelection lost\": exit)",
    applies=lambda c: c.leader_election is not None, explain=explain_acting,
)
PROPERTIES["LeaderElectionFencing"] = PropertySpec(
    "LeaderElectionFencing", "always", leader_election_fencing, None,
    "Per elected component, at most one replica acts at any time, pauses included.",
    "docs/concepts/architecture/leases.md (\"only one instance of a component is running at any given time\"); "
    "broken by a paused leader (docs/spec.md, Findings)",
    finding=True, applies=lambda c: c.leader_election is not None, explain=explain_acting,
)


# --- DaemonSets (the predicates and their upstream promises are in spec/daemonset_properties.py) ---------------

def daemon_blocked(s: ClusterState) -> bool:
    """``blocked``, but for the pending pods of a DaemonSet whose target node is gone: nothing can bind them, and
    removing them is the DaemonSet controller's job (getUnscheduledPodsWithoutNode), so they excuse nothing."""
    from spec.controllers.daemonset import target_node

    objects = s.etcd.objects
    pods = [p for k, p in objects.items() if k.startswith("pods/") and isinstance(p, Pod)]
    pending = [p for p in pods if not p.node_name and not p.meta.deleting and p.scheduler_name == "default-scheduler"]
    for pod, fits in zip(pending, _pending_feasibility(s), strict=True):
        owner = pod.meta.owner
        if not fits and not (owner is not None and owner.kind == "DaemonSet"
                             and f"nodes/{target_node(pod)}" not in objects):
            return True
    return False


def _register_daemonsets() -> None:
    from spec import daemonset_properties as dp
    from spec.state import DaemonSet

    PROPERTIES["AtMostOneDaemonPodPerNode"] = PropertySpec(
        "AtMostOneDaemonPodPerNode", "always", dp.at_most_one_daemon_pod_per_node, None,
        "No node is the target of two active pods of one DaemonSet (one of each revision while surging): the "
        "promise the DaemonSet controller's expectations keep.",
        "pkg/controller/daemon/daemon_controller.go (syncDaemonSet: SatisfiedExpectations, podsShouldBeOnNode); "
        "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/; kubernetes#54096",
        applies=_has(DaemonSet), explain=dp.explain_at_most_one,
    )
    PROPERTIES["DaemonSetsConverge"] = PropertySpec(
        "DaemonSetsConverge", "leads_to_always",
        *converging(dp.daemonsets_converged, daemon_blocked),
        "Whenever a DaemonSet is not converged and nothing blocks it (every pending pod fits some node, but a "
        "DaemonSet's pod for a node that is gone, which its controller must remove), every node "
        "that should run it gets exactly one Ready pod of it (of its current template under RollingUpdate), no "
        "node that must not keep one has one, none is left for a node that is gone, its status counts them, and it "
        "stays so: Anvil's ESR, p ~> []q.",
        "pkg/controller/daemon/daemon_controller.go (manage, podsShouldBeOnNode, NodeShouldRunDaemonPod, "
        "getUnscheduledPodsWithoutNode, updateDaemonSetStatus), update.go (rollingUpdate); Anvil esr.rs",
        applies=_has(DaemonSet), explain=dp.explain_converged,
    )
    PROPERTIES["DaemonSetRollingUpdateWithinMaxUnavailable"] = PropertySpec(
        "DaemonSetRollingUpdateWithinMaxUnavailable", "always", dp.rolling_update_within_max_unavailable, None,
        "A DaemonSet's rolling update never deletes an available pod when that leaves fewer of its eligible nodes "
        "with an available pod than desiredNumberScheduled - maxUnavailable.",
        "apps/v1 RollingUpdateDaemonSet.MaxUnavailable; pkg/controller/daemon/update.go (rollingUpdate, "
        "updatedDesiredNodeCounts)",
        applies=_has(DaemonSet), explain=dp.explain_unavailable,
    )


_register_daemonsets()


def _register_cronjobs() -> None:
    from spec import cronjob_properties as cp
    from spec.state import CronJob

    PROPERTIES["CronJobForbidAtMostOneActive"] = PropertySpec(
        "CronJobForbidAtMostOneActive", "always", cp.forbid_at_most_one_active, None,
        "A CronJob with concurrencyPolicy Forbid never has two unfinished Jobs (none being deleted).",
        "batch/v1 ConcurrencyPolicy ForbidConcurrent; pkg/controller/cronjob/cronjob_controllerv2.go (syncCronJob); "
        "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#concurrency-policy",
        applies=_has(CronJob), explain=cp.explain_forbid,
    )
    PROPERTIES["CronJobOneJobPerScheduleTime"] = PropertySpec(
        "CronJobOneJobPerScheduleTime", "always", cp.one_job_per_schedule_time, None,
        "A CronJob never has two Jobs for one schedule time at once (the Job's name NAME-<minutes> is the lock).",
        "pkg/controller/cronjob/cronjob_controllerv2.go (syncCronJob: \"use the job name as a lock\"), utils.go "
        "(getJobFromTemplate2, getTimeHashInMinutes)",
        applies=_has(CronJob), explain=cp.explain_same_time,
    )
    PROPERTIES["CronJobJobNeverRecreated"] = PropertySpec(
        "CronJobJobNeverRecreated", "always", cp.never_recreated, None,
        "No Job is ever created a second time for one CronJob and one schedule time (the name lock holds only while "
        "the first Job exists).",
        "pkg/controller/cronjob/cronjob_controllerv2.go (sync reads the CronJob from its lister; syncCronJob: "
        "\"use the job name as a lock to prevent us from making the job twice\")",
        finding=True, applies=_has(CronJob), explain=cp.explain_duplicates,
    )
    PROPERTIES["CronJobHistoryLimitsKept"] = PropertySpec(
        "CronJobHistoryLimitsKept", "leads_to", cp.over_history_limits,
        negation(cp.over_history_limits),
        "Finished Jobs beyond a CronJob's successfulJobsHistoryLimit / failedJobsHistoryLimit are eventually "
        "deleted, oldest first.",
        "pkg/controller/cronjob/cronjob_controllerv2.go (cleanupFinishedJobs, removeOldestJobs); "
        "https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#jobs-history-limits",
        applies=_has(CronJob), explain=cp.explain_limits,
    )
    PROPERTIES["CronJobScheduleTimesGetJobs"] = PropertySpec(
        "CronJobScheduleTimesGetJobs", "leads_to", cp.schedule_time_pending,
        negation(cp.schedule_time_pending),
        "Every schedule time reached (within the scenario's bound) while the CronJob is not suspended and, under "
        "Forbid, has no unfinished Job, eventually gets its Job, unless startingDeadlineSeconds has passed.",
        "pkg/controller/cronjob/cronjob_controllerv2.go (sync, syncCronJob), utils.go (nextScheduleTime, "
        "nextScheduleTimeDuration); https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/",
        applies=_has(CronJob), explain=cp.explain_pending,
    )


_register_cronjobs()


def _register_hpa() -> None:
    from spec.hpa_properties import register

    register(PROPERTIES)  # type: ignore[arg-type]


_register_hpa()  # the HorizontalPodAutoscaler's properties (spec/hpa_properties.py)


# --- explanations: what breaks each property in a violating state (issue 18) -------------------------------


def _ns_name(obj: Object) -> str:
    return f"{obj.meta.namespace}/{obj.meta.name}" if obj.meta.namespace else obj.meta.name


def explain_no_double_scheduling(s: ClusterState) -> str:
    parts = [f"{key} was bound to a node and then bound to another" for key in sorted(s.ghost.rebinds)]
    nodes: dict[int, set[str]] = {}
    names: dict[int, str] = {}
    for k in s.kubelets:
        for c in k.runtime:
            if c.managed and c.running:
                nodes.setdefault(c.uid, set()).add(k.node)
                names[c.uid] = c.pod
    parts += [f"{names[uid]} (uid {uid}) runs containers on {' and '.join(sorted(ns))}"
              for uid, ns in sorted(nodes.items()) if len(ns) > 1]
    return "; ".join(parts) or "no pod is bound twice nor runs on two nodes"


def explain_no_overcommit(s: ClusterState) -> str:
    objects = s.etcd.objects
    parts = []
    for n in sorted((o for o in objects.values() if isinstance(o, Node)), key=lambda n: n.meta.name):
        bound = [p for p in objects.values() if isinstance(p, Pod) and p.node_name == n.meta.name]
        cpu = sum(p.info.requests.milli_cpu for p in bound)
        mem = sum(p.info.requests.memory for p in bound)
        a = n.info.allocatable
        over = []
        if cpu > a.milli_cpu:
            over.append(f"cpu {cpu}m of {a.milli_cpu}m")
        if mem > a.memory:
            over.append(f"memory {mem} of {a.memory} bytes")
        if len(bound) > a.pods:
            over.append(f"{len(bound)} pods of {a.pods}")
        if over:
            parts.append(f"node {n.meta.name}: its {len(bound)} pod(s) request " + ", ".join(over))
    return "; ".join(parts) or "every node's pods fit its allocatable"


def _active_of(objects: immutables.Map[Key, Object], rs: ReplicaSet | ReplicationController) -> list[Pod]:
    return [p for p in objects.values() if isinstance(p, Pod) and is_active(p) and p.meta.owner is not None
            and p.meta.owner.uid == rs.meta.uid]


def explain_overshoot(s: ClusterState) -> str:
    parts = []
    for key in sorted(s.ghost.overshoots):
        rs = s.etcd.objects.get(key)
        if isinstance(rs, ReplicaSet | ReplicationController):
            pods = _active_of(s.etcd.objects, rs)
            parts.append(f"the ReplicaSet controller created a pod of {KIND[type(rs)]} {_ns_name(rs)} while the "
                         f"pods it knew of already numbered the replicas it read; etcd now has {len(pods)} active "
                         f"pod(s), replicas {rs.replicas}")
        else:
            parts.append(f"the ReplicaSet controller created a pod of {key} beyond the replicas it read")
    return "; ".join(parts) or "no overshooting creation"


def explain_rv_monotonic(s: ClusterState) -> str:
    etcd = s.etcd
    parts = []
    last = etcd.compacted
    for e in etcd.history:
        if e.rv <= last:
            parts.append(f"etcd's watch history goes from rv {last} to rv {e.rv}")
        last = e.rv
    parts += [f"{k} has resourceVersion {o.meta.resource_version}, newer than etcd's revision {etcd.revision}"
              for k, o in sorted(etcd.objects.items()) if o.meta.resource_version > etcd.revision]
    for who, index, scope, inf in s.informer_slots():
        if inf is not None and inf.rv < inf.high_water:
            name = {"kcm": f"kube-controller-manager's {scope[1]} informer"}.get(who) or (
                s.schedulers[index].name + "'s informer" if who == "scheduler" else f"kubelet/{scope[1]}'s informer")
            parts.append(f"{name} is at rv {inf.rv} after it observed rv {inf.high_water}: it went back in time")
    return "; ".join(parts) or "every revision increases"


def _workload_gaps(s: ClusterState) -> list[str]:
    objects = s.etcd.objects
    out = []
    rss = [r for r in objects.values() if isinstance(r, ReplicaSet | ReplicationController)]
    deployments = {d.meta.uid: d for d in objects.values() if isinstance(d, Deployment) and not d.paused}
    running = runtimes(s.kubelets)
    for d in deployments.values():
        if d.meta.deleting:
            continue
        mine = [r for r in rss if r.meta.owner is not None and r.meta.owner.uid == d.meta.uid]
        current = [r for r in mine if equal_ignore_hash(r.template, d.template)]
        good = sum(1 for r in current for p in _active_of(objects, r) if p.status.ready and _running(running, p))
        old = sum(len(_active_of(objects, r)) for r in mine if r not in current)
        if good != d.replicas or old:
            out.append(f"Deployment {_ns_name(d)} has {good} ready, running pod(s) of its current template, "
                       f"replicas {d.replicas}" + (f", and {old} active pod(s) of older ReplicaSets" if old else ""))
    for rs in rss:
        if rs.meta.deleting or _owned_by_deployment(rs, set(deployments)):
            continue
        pods = _active_of(objects, rs)
        good = sum(1 for p in pods if p.status.ready and _running(running, p))
        if good != rs.replicas or len(pods) != good:
            out.append(f"{KIND[type(rs)]} {_ns_name(rs)} has {len(pods)} active pod(s), {good} ready and running, "
                       f"replicas {rs.replicas}")
    return out


def _pending_pods(s: ClusterState) -> list[str]:
    out = []
    feasible = iter(_pending_feasibility(s))
    for k, p in s.etcd.objects.items():
        if k.startswith("pods/") and isinstance(p, Pod) and not p.node_name and not p.meta.deleting \
                and p.scheduler_name == "default-scheduler":
            fits = "fits some node" if next(feasible, False) else "fits no node"
            out.append(f"pod {_ns_name(p)} is unbound and {fits}")
    return out


def explain_convergence(s: ClusterState) -> str:
    parts = _workload_gaps(s)
    if blocked(s):
        parts.append("blocked: " + "; ".join(x for x in _pending_pods(s) if x.endswith("fits no node")))
    return "; ".join(parts) or "every Deployment and ReplicaSet has its desired ready pods"


def explain_scheduled(s: ClusterState) -> str:
    return "; ".join(x for x in _pending_pods(s) if x.endswith("fits some node")) or "no feasible pod is unbound"


def explain_rollouts(s: ClusterState) -> str:
    parts = []
    objects = s.etcd.objects
    deployments = _rolling(objects)
    for o in objects.values():
        if isinstance(o, Deployment) and o.paused:
            if o.status.observed_generation < o.meta.generation:
                parts.append(f"Deployment {_ns_name(o)} (paused)'s status has observedGeneration "
                             f"{o.status.observed_generation}, generation {o.meta.generation}")
        elif isinstance(o, Deployment) and not deployment_complete(o, o.status):
            st = o.status
            parts.append(f"Deployment {_ns_name(o)}'s status says {st.updated_replicas} updated, {st.replicas} "
                         f"total, {st.available_replicas} available of replicas {o.replicas} (observedGeneration "
                         f"{st.observed_generation}, generation {o.meta.generation})")
        elif isinstance(o, ReplicaSet | ReplicationController) and not o.meta.deleting \
                and not _owned_by_deployment(o, deployments) and not replicaset_complete(o):
            rs_st = o.status
            parts.append(f"{KIND[type(o)]} {_ns_name(o)}'s status says {rs_st.replicas} current, "
                         f"{rs_st.ready_replicas} ready, {rs_st.available_replicas} available of replicas {o.replicas}")
    return "; ".join(parts) or "every rollout is complete"


def explain_max_surge(s: ClusterState) -> str:
    parts = [f"Deployment {_ns_name(d)} has {active} active pods across {rss} ReplicaSets, more than replicas "
             f"{d.replicas} + maxSurge {max_surge(d)}" for d, active, rss in _surge_excess(s.etcd.objects)]
    return "; ".join(parts) or "every rollout stays within maxSurge"


def explain_recreate(s: ClusterState) -> str:
    parts = [f"Deployment {_ns_name(d)} (Recreate) has pods of more than one ReplicaSet: {', '.join(names)}"
             for d, names in _recreate_overlaps(s.etcd.objects)]
    return "; ".join(parts) or "no Recreate Deployment has pods of two revisions"


def explain_healthy(s: ClusterState) -> str:
    from spec.lifecycle_properties import _running as running_on_healthy

    objects = s.etcd.objects
    parts = []
    for rs in objects.values():
        if not isinstance(rs, ReplicaSet | ReplicationController) or rs.meta.deleting:
            continue
        pods = _active_of(objects, rs)
        good = sum(1 for p in pods if p.status.ready and running_on_healthy(s.kubelets, p))
        if good != rs.replicas or good != len(pods):
            down = sorted({p.node_name for p in pods if p.node_name and not running_on_healthy(s.kubelets, p)})
            parts.append(f"{KIND[type(rs)]} {_ns_name(rs)} has {len(pods)} active pod(s), {good} ready and running "
                         f"on a node that is up, replicas {rs.replicas}"
                         + (f" (pods on {', '.join(down)} do not run)" if down else ""))
    if blocked(s):
        parts.append("blocked: " + "; ".join(x for x in _pending_pods(s) if x.endswith("fits no node")))
    return "; ".join(parts) or "every ReplicaSet has its ready pods on healthy nodes"


def explain_disrupted_evictions(s: ClusterState) -> str:
    evicted = ", ".join(sorted(str(k) for k in s.ghost.disrupted_evictions))
    return (f"the taint eviction controller deleted {evicted} while no zone had a Ready node" if evicted
            else "nothing was evicted while every zone was disrupted")


EXPLANATIONS: dict[str, Callable[[ClusterState], str]] = {
    "NoDoubleScheduling": explain_no_double_scheduling,
    "NoOvercommit": explain_no_overcommit,
    "ReplicaSetNeverOvershoots": explain_overshoot,
    "ResourceVersionMonotonic": explain_rv_monotonic,
    "EventualReplicaConvergence": explain_convergence,
    "EveryFeasiblePodEventuallyScheduled": explain_scheduled,
    "RolloutEventuallyCompletes": explain_rollouts,
    "RolloutWithinMaxSurge": explain_max_surge,
    "RecreateRevisionsNeverOverlap": explain_recreate,
    "ReplicaSetsConvergeOnHealthyNodes": explain_healthy,
    "NoEvictionWhenAllZonesDisrupted": explain_disrupted_evictions,
}
for _name, _explain in EXPLANATIONS.items():
    if _name in PROPERTIES and PROPERTIES[_name].explain is None:
        PROPERTIES[_name] = attrs.evolve(PROPERTIES[_name], explain=_explain)


# --- Services (issue 13; the predicates and their upstream promises are in spec/service_properties.py) ---------

EXPLAIN = {'UniqueClusterIPs': 'explain_cluster_ips',
           'UniqueNodePorts': 'explain_node_ports',
           'UniquePodIPs': 'explain_pod_ips',
           'PodIPWithinNodeCIDR': 'explain_pod_cidr',
           'ServiceRoutesEventuallyMatchReadyEndpoints': 'explain_routes',
           'NoTrafficToAnotherPodsIP': 'explain_foreign',
           'NoDuplicateEndpointSlices': 'explain_duplicates',
           'DNSEventuallyResolvesToClusterIP': 'explain_dns'}


def _register_services() -> None:
    from spec import service_properties as sp

    for name, kind, pred, upstream, finding in (
        ("UniqueClusterIPs", "always", sp.unique_cluster_ips,
         "pkg/registry/core/service/ipallocator/bitmap.go (Allocate: ErrAllocated), storage/alloc.go", False),
        ("UniqueNodePorts", "always", sp.unique_node_ports,
         "pkg/registry/core/service/portallocator/allocator.go (ErrAllocated)", False),
        ("UniquePodIPs", "always", sp.unique_pod_ips,
         "the Kubernetes network model (docs/concepts/services-networking): a unique cluster-wide IP per Pod; "
         "pkg/controller/nodeipam/ipam/cidrset, CNI host-local", False),
        ("PodIPWithinNodeCIDR", "always", sp.pod_ip_within_node_cidr,
         "pkg/controller/nodeipam/ipam/range_allocator.go (Node.spec.podCIDR), CNI host-local's range", False),
        ("ServiceRoutesEventuallyMatchReadyEndpoints", "eventually_always", sp.routes_match_ready_endpoints,
         "docs/reference/networking/virtual-ips.md; pkg/proxy/iptables/proxier.go syncProxyRules, "
         "pkg/proxy/topology.go CategorizeEndpoints", False),
        ("NoTrafficToAnotherPodsIP", "always", sp.no_traffic_to_another_pods_ip,
         "a Service's traffic reaches only the pods it selects (docs/concepts/services-networking/service.md); "
         "broken when a pod address is reused while a kube-proxy still has the old endpoint (docs/spec.md, "
         "Findings)", True),
        ("NoDuplicateEndpointSlices", "always", sp.no_duplicate_slices,
         "pkg/controller/endpointslice/endpointslice_controller.go syncService (EndpointSliceTracker.StaleSlices), "
         "kubernetes#92928 fixed by #99345", False),
        ("DNSEventuallyResolvesToClusterIP", "eventually_always", sp.dns_resolves,
         "docs/concepts/services-networking/dns-pod-service.md; coredns plugin/kubernetes", False),
    ):
        PROPERTIES[name] = PropertySpec(name, kind, pred, None, (pred.__doc__ or name).strip().split("\n")[0],
                                        upstream, finding=finding, explain=getattr(sp, EXPLAIN[name]))


_register_services()


def _register_volumes() -> None:
    from spec import volume_properties as vp

    def applies(config: Config) -> bool:
        from spec.controllers.persistentvolume import has_volumes

        return has_volumes(config)

    PROPERTIES["NoDoubleVolumeBinding"] = PropertySpec(
        "NoDoubleVolumeBinding", "always", vp.no_double_binding, None,
        "No volume is bound to two claims and no claim to two volumes (no two claims whose binding completed name "
        "one volume; no two Bound volumes carry one claim's uid).",
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding (\"A PVC to PV binding is a "
        "one-to-one mapping\"); pkg/controller/volume/persistentvolume/pv_controller.go (bind, syncBoundClaim); "
        "kubernetes#25881",
        applies=applies, explain=vp.explain(vp.double_binding),  # type: ignore[arg-type]
    )
    PROPERTIES["PodRunsOnlyWithBoundClaims"] = PropertySpec(
        "PodRunsOnlyWithBoundClaims", "always", vp.pods_run_only_with_bound_claims, None,
        "A pod's containers run only while each of its claims is bound to a volume bound to it.",
        "pkg/kubelet/volumemanager (WaitForAttachAndMount); "
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes/#using",
        applies=applies, explain=vp.explain(vp.unbound_running),  # type: ignore[arg-type]
    )
    PROPERTIES["ClaimsEventuallyBound"] = PropertySpec(
        "ClaimsEventuallyBound", "leads_to", vp.claims_pending, vp.claims_bound,
        "Whenever a claim that can be bound is not (its class provisions, with a consumer for WaitForFirstConsumer, "
        "or a volume that fits is free or bound to it), every such claim is eventually bound.",
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding; pv_controller.go "
        "(syncUnboundClaim); kubernetes-csi/external-provisioner",
        applies=applies, explain=vp.explain(vp.unbound_bindable),  # type: ignore[arg-type]
    )
    PROPERTIES["PodsRunOnTheirVolumesNodes"] = PropertySpec(
        "PodsRunOnTheirVolumesNodes", "always", vp.pods_on_volume_nodes, None,
        "A pod's containers run only on a node that the nodeAffinity of each of its bound volumes allows.",
        "https://kubernetes.io/docs/concepts/storage/persistent-volumes/#node-affinity; "
        "pkg/scheduler/framework/plugins/volumebinding (Filter)",
        applies=applies, explain=vp.explain(vp.misplaced),  # type: ignore[arg-type]
    )
    PROPERTIES["VolumeNotReleasedWhileClaimed"] = PropertySpec(
        "VolumeNotReleasedWhileClaimed", "always", vp.not_released_while_claimed, None,
        "A volume bound to a claim is never Released (or Failed) while that claim exists.",
        "pkg/controller/volume/persistentvolume/pv_controller.go (syncVolume; kubernetes#67062, fixing "
        "kubernetes#66287)",
        applies=applies, explain=vp.explain(vp.released_while_claimed),  # type: ignore[arg-type]
    )


_register_volumes()
