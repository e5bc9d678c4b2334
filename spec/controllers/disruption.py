"""The disruption controller: keeps each PodDisruptionBudget's status (how many of its pods are healthy, how many
must be, how many disruptions the eviction API may grant).

Upstream: pkg/controller/disruption/disruption.go (addPod/updatePod/deletePod and getPdbForPod, add/update/
removeDb, sync and trySync, getPodsForPdb, getExpectedPodCount, getExpectedScale with the finders getPodReplicaSet,
getPodDeployment, getPodReplicationController, getPodStatefulSet, countHealthyPods, buildDisruptedPodMap,
updatePdbStatus, writePdbStatus, failSafe), staging/src/k8s.io/apimachinery/pkg/util/intstr
(GetScaledValueFromIntOrPercent, rounding up).

Modelled: the pods a budget selects (its namespace, its selector; an empty selector selects every pod of the
namespace here, as getPodsForPdb does, while the eviction API treats it as selecting none); expectedPods and
desiredHealthy: minAvailable as an integer (desiredHealthy = minAvailable, expectedPods = the selected pods), as a
percentage or maxUnavailable (expectedPods = the sum of the scales of the pods' controllers, found through the
ReplicaSet (or its Deployment), ReplicationController and StatefulSet finders; unmanaged pods are left out; the
percentage rounds up);
currentHealthy = the selected pods not being deleted, not in DisruptedPods, and Ready; disruptionsAllowed =
currentHealthy - desiredHealthy, 0 when negative or when expectedPods is 0. The status is written only when it
changes, with the cached budget's resourceVersion (a 409 fails the sync and the key backs off). A pod with no
controller to find makes the sync fail, and failSafe writes disruptionsAllowed 0.
DisruptedPods: the eviction API records the pod it lets go (``spec.eviction``), and this controller keeps the entry
while its cache shows the pod not yet deleting, so that an evicted pod its pod informer still shows healthy is not
counted (kubernetes PR #36196).
Abstracted: the ReplicaSets' and Deployments' scales are read as etcd has them, not from the controller manager's
listers (a lag of the scale is not explored; the budgets, pods and StatefulSets come from this controller's own
informers). The entries' timestamps and DeletionTimeout (2 min): the eviction API deletes the pod in the same step
that records it, so an entry never waits for a deletion that does not come. The DisruptionAllowed condition is
left out (disruptionsAllowed carries the same).
Variants: ``pdb-status-retry`` (kubernetes#82149, fixed by #82152): on a conflict, the old writePdbStatus fetched
the latest budget and wrote the same, stale, status onto it, undoing an eviction's decrement.
``no-disrupted-pods`` (the race PR #36196 closed): the controller counts a granted eviction's pod as healthy until
its pod informer shows the deletion.
Omitted: the stale DisruptionTarget condition clean-up, the unhealthyPodEvictionPolicy field (IfHealthyBudget, the
default, is what ``spec.eviction`` does), scale subresources of custom controllers.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from spec.apiserver import Session
from spec.state import (
    Deployment,
    Etcd,
    Key,
    Object,
    Pod,
    PodDisruptionBudget,
    PodDisruptionBudgetStatus,
    ReplicaSet,
    ReplicationController,
    StatefulSet,
    Workloads,
    object_key,
)

ACTOR = "disruption-controller"


def scaled_value(value: int | str, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent(value, total, roundUp=true)."""
    if isinstance(value, int):
        return value
    return -(-int(value[:-1]) * total // 100)


def selected_pods(pdb: PodDisruptionBudget, pods: list[Pod]) -> list[Pod]:
    """getPodsForPdb: the pods of the budget's namespace its selector matches."""
    return [p for p in pods if p.meta.namespace == pdb.meta.namespace and pdb.selector.matches(dict(p.meta.labels))]


def expected_scale(pods: list[Pod], replicasets: dict[int, ReplicaSet], deployments: dict[int, Deployment],
                   statefulsets: dict[int, StatefulSet]) -> int | None:
    """getExpectedScale: the sum of the scales of the selected pods' controllers (each counted once); pods without
    a controller are left out; None when a pod's controller cannot be found (the sync's error). ``replicasets``
    holds the ReplicationControllers too (by uid): getPodReplicationController's finder."""
    scale: dict[int, int] = {}
    for pod in pods:
        ref = pod.meta.owner
        if ref is None:
            continue
        if ref.uid in scale:
            continue
        if ref.kind in ("ReplicaSet", "ReplicationController") and ref.uid in replicasets:
            rs = replicasets[ref.uid]
            owner = rs.meta.owner
            if owner is not None and owner.kind == "Deployment":
                d = deployments.get(owner.uid)  # getPodDeployment
                if d is None:
                    return None
                scale[d.meta.uid] = d.replicas
                scale[ref.uid] = 0
            else:
                scale[ref.uid] = rs.replicas  # getPodReplicaSet, getPodReplicationController
        elif ref.kind == "StatefulSet" and ref.uid in statefulsets:
            scale[ref.uid] = statefulsets[ref.uid].replicas  # getPodStatefulSet
        else:
            return None
    return sum(scale.values())


def expected_and_desired(pdb: PodDisruptionBudget, pods: list[Pod], replicasets: dict[int, ReplicaSet],
                         deployments: dict[int, Deployment], statefulsets: dict[int, StatefulSet]
                         ) -> tuple[int, int] | None:
    """getExpectedPodCount: (expectedPods, desiredHealthy), None on a controller that cannot be found."""
    if pdb.max_unavailable is not None:
        expected = expected_scale(pods, replicasets, deployments, statefulsets)
        if expected is None:
            return None
        return expected, max(expected - scaled_value(pdb.max_unavailable, expected), 0)
    if isinstance(pdb.min_available, int):
        return len(pods), pdb.min_available
    if isinstance(pdb.min_available, str):
        expected = expected_scale(pods, replicasets, deployments, statefulsets)
        if expected is None:
            return None
        return expected, scaled_value(pdb.min_available, expected)
    return 0, 0  # neither set: upstream's defaulting sets minAvailable 1 for policy/v1beta1 only


def count_healthy(pods: list[Pod], disrupted: tuple[str, ...]) -> int:
    """countHealthyPods: not being deleted, not expected to be deleted soon (DisruptedPods), and Ready."""
    return sum(1 for p in pods if not p.meta.deleting and p.meta.name not in disrupted and p.status.ready)


def build_disrupted(pods: list[Pod], pdb: PodDisruptionBudget) -> tuple[str, ...]:
    """buildDisruptedPodMap: the entries whose pod still exists and is not yet being deleted."""
    names = {p.meta.name for p in pods if not p.meta.deleting}
    return tuple(sorted(n for n in pdb.status.disrupted_pods if n in names))


def by_uid(objects: object) -> dict[int, object]:
    return {o.meta.uid: o for o in objects}  # type: ignore[attr-defined]


# --- event handlers ----------------------------------------------------------------------------------------


def pdb_for_pod(w: Workloads, pod: Pod) -> Key | None:
    """getPdbForPod: the first budget (by name) whose selector matches the pod (upstream warns when there are more)."""
    labels = dict(pod.meta.labels)
    matching = sorted(object_key(p) for p in w.objects("poddisruptionbudgets")
                      if isinstance(p, PodDisruptionBudget) and p.meta.namespace == pod.meta.namespace
                      and p.selector.matches(labels))
    return matching[0] if matching else None


def on_pod(w: Workloads, old: Pod | None, new: Pod | None) -> Workloads:
    """addPod / updatePod / deletePod: enqueue the budget of the pod (the new version's; the deleted one's)."""
    pod = new if new is not None else old
    key = None if pod is None else pdb_for_pod(w, pod)
    if key is None:
        return w
    queue = w.pdb_queue.add(key)
    return w if queue is w.pdb_queue else attrs.evolve(w, pdb_queue=queue)


def on_pdb(w: Workloads, key: Key, new: PodDisruptionBudget | None) -> Workloads:
    """addDb / updateDb / removeDb: enqueue."""
    queue = w.pdb_queue.add(key)
    return w if queue is w.pdb_queue else attrs.evolve(w, pdb_queue=queue)


# --- the reconcile -----------------------------------------------------------------------------------------


def sync(w: Workloads, pods_cache: Iterable[Object], etcd: Etcd, session: Session, key: Key,
         variants: frozenset[str] = frozenset()) -> tuple[Workloads, bool]:
    """sync(key) = trySync, with failSafe on errors other than a conflict: (workloads', failed). The budget and
    the StatefulSets come from the controller's informers, the pods from the (shared) pod informer's cache
    ``pods_cache``; the ReplicaSets and Deployments (the finders' listers) from ``etcd`` (module docstring)."""
    pdb = w.get(key)
    if not isinstance(pdb, PodDisruptionBudget):
        return w, False
    name = object_key(pdb)
    pods = selected_pods(pdb, sorted((p for p in pods_cache if isinstance(p, Pod)), key=lambda p: p.meta.name))
    if not pods:
        session.event(name, "Normal", "NoPods", "No matching pods found")
    counts = expected_and_desired(
        pdb, pods,
        by_uid(o for o in etcd.objects.values() if isinstance(o, ReplicaSet | ReplicationController)),  # type: ignore[arg-type]
        by_uid(o for o in etcd.objects.values() if isinstance(o, Deployment)),  # type: ignore[arg-type]
        by_uid(o for o in w.objects("statefulsets") if isinstance(o, StatefulSet)))  # type: ignore[arg-type]
    if counts is None:
        message = "found no controllers for pod"
        session.event(name, "Warning", "CalculateExpectedPodCountFailed",
                      f"Failed to calculate the number of expected pods: {message}")
        # failSafe: at least set disruptionsAllowed to 0
        if pdb.status.disruptions_allowed != 0:
            session.update(attrs.evolve(pdb, status=attrs.evolve(pdb.status, disruptions_allowed=0)), status=True)
        return w, True
    expected, desired = counts
    disrupted = () if "no-disrupted-pods" in variants else build_disrupted(pods, pdb)
    healthy = count_healthy(pods, disrupted)
    allowed = healthy - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    status = PodDisruptionBudgetStatus(observed_generation=pdb.meta.generation, disrupted_pods=disrupted,
                                       disruptions_allowed=allowed, current_healthy=healthy,
                                       desired_healthy=desired, expected_pods=expected)
    if status == pdb.status:
        return w, False
    response = session.update(attrs.evolve(pdb, status=status), status=True)
    if response.ok:
        return w, False
    if response.reason == "Conflict" and "pdb-status-retry" in variants:
        # kubernetes#82149: writePdbStatus retried with refresh(pdb) = a GET of the latest, and the same status.
        latest = session.get(key)
        if (isinstance(latest, PodDisruptionBudget) and latest.meta.uid == pdb.meta.uid
                and session.update(attrs.evolve(latest, status=status), status=True).ok):
            return w, False
    return w, True
