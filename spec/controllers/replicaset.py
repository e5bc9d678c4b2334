"""The ReplicaSet controller: event handlers, expectations, and one reconcile (syncReplicaSet) per step.

Upstream: pkg/controller/replicaset/replica_set.go (addPod/updatePod/deletePod, syncReplicaSet, manageReplicas,
burstReplicas 500, slowStartBatch), pkg/controller/replicaset/replica_set_utils.go (calculateStatus),
pkg/controller/controller_utils.go (UIDTrackingControllerExpectations, FilterActivePods, ActivePodsWithRanks,
getPodsToDelete ordering), pkg/controller/controller_ref_manager.go (ClaimPods: adoption of orphans).

Modelled: expectations (creations counted, deletions tracked by pod key, 5 min expiry) gate manageReplicas, as
they do upstream since #6866; the ``no-expectations`` variant removes the gate (kubernetes#7561). Pods are created
with generateName ``<rs>-``, labels from the template and a controller ownerReference; deletions pick pods by
upstream's ranking, co-location counted over the pods of every ReplicaSet with the same controller
(getIndirectlyRelatedPods); the status (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
observedGeneration, the ReplicaFailure condition) is written through the status subresource, re-read on conflict
as updateReplicaSetStatus does.
Abstracted: minReadySeconds is 0 in every scenario, so available = ready. The ranking's pod-deletion-cost (no
scenario sets the annotation) and time-since-ready criteria (time is relative) are left out: ties fall to
restarts and then to creation order, as upstream's do when those are equal.
Omitted: releasing pods whose labels stop matching (no scenario relabels a pod).
"""

from __future__ import annotations

import attrs

from spec.apiserver import NAMESPACE_TERMINATING, CreatorRead, Session
from spec.clock import EXPECTATIONS_TIMEOUT_MS
from spec.state import (
    ControllerManager,
    Expectation,
    Key,
    OwnerRef,
    Pod,
    ReplicaSet,
    ReplicaSetStatus,
    object_key,
    pod_key,
    with_meta,
)

BURST_REPLICAS = 500


def rs_key_of_pod(pod: Pod) -> Key | None:
    owner = pod.meta.owner
    if owner is None or owner.kind != "ReplicaSet":
        return None
    return f"replicasets/{pod.meta.namespace}/{owner.name}"


def is_active(pod: Pod) -> bool:
    """Upstream: controller.IsPodActive."""
    return not pod.meta.deleting and pod.status.phase not in ("Succeeded", "Failed")


# --- expectations ------------------------------------------------------------------------------------------


def satisfied(kcm: ControllerManager, key: Key) -> bool:
    """Upstream: ControllerExpectations.SatisfiedExpectations (absent, fulfilled or expired)."""
    return key not in kcm.expectations


def _set_expectation(kcm: ControllerManager, key: Key, exp: Expectation) -> ControllerManager:
    if exp.add <= 0 and not exp.deletes:  # fulfilled: upstream keeps it, but it no longer gates anything
        return attrs.evolve(kcm, expectations=kcm.expectations.delete(key)) if key in kcm.expectations else kcm
    return attrs.evolve(kcm, expectations=kcm.expectations.set(key, exp))


def creation_observed(kcm: ControllerManager, key: Key) -> ControllerManager:
    exp = kcm.expectations.get(key)
    return kcm if exp is None else _set_expectation(kcm, key, attrs.evolve(exp, add=exp.add - 1))


def deletion_observed(kcm: ControllerManager, key: Key, pod: Key) -> ControllerManager:
    exp = kcm.expectations.get(key)
    if exp is None or pod not in exp.deletes:
        return kcm
    return _set_expectation(kcm, key, attrs.evolve(exp, deletes=exp.deletes - {pod}))


# --- event handlers ----------------------------------------------------------------------------------------


def _matching_rs(kcm: ControllerManager, pod: Pod) -> list[Key]:
    labels = dict(pod.meta.labels)
    return [
        object_key(o) for o in kcm.objects("replicasets")
        if isinstance(o, ReplicaSet) and o.meta.namespace == pod.meta.namespace and o.selector.matches(labels)
    ]


def on_pod(kcm: ControllerManager, key: Key, old: Pod | None, new: Pod | None) -> ControllerManager:
    """addPod / updatePod / deletePod: observe expectations and enqueue the owning ReplicaSet."""
    pod = new if new is not None else old
    assert pod is not None
    rs_key = rs_key_of_pod(pod)
    if rs_key is not None and kcm.get(rs_key) is None:
        rs_key = None
    if new is None or new.meta.deleting:
        if new is not None and old is not None and old.meta.deleting:
            return kcm if rs_key is None else kcm.with_rs_queue(kcm.rs_queue.add(rs_key))
        if rs_key is None:
            return kcm
        kcm = deletion_observed(kcm, rs_key, key)
        return kcm.with_rs_queue(kcm.rs_queue.add(rs_key))
    if old is None and rs_key is not None:
        kcm = creation_observed(kcm, rs_key)
    if rs_key is not None:
        return kcm.with_rs_queue(kcm.rs_queue.add(rs_key))
    queue = kcm.rs_queue
    for k in _matching_rs(kcm, pod):  # an orphan: every matching ReplicaSet may adopt it
        queue = queue.add(k)
    return kcm.with_rs_queue(queue)


def on_replicaset(
    kcm: ControllerManager, key: Key, old: ReplicaSet | None, new: ReplicaSet | None
) -> ControllerManager:
    """addRS / updateRS / deleteRS: enqueue; a deleted ReplicaSet's expectations are dropped."""
    if new is None:
        kcm = attrs.evolve(kcm, expectations=kcm.expectations.delete(key)) if key in kcm.expectations else kcm
        return kcm
    return kcm.with_rs_queue(kcm.rs_queue.add(key))


# --- the reconcile -----------------------------------------------------------------------------------------


def _rank(pod: Pod, on_node: dict[str, int]) -> tuple[int, int, int, int, int, int]:
    """getPodsToDelete's order (controller.ActivePodsWithRanks.Less): delete first the unassigned, then pending,
    not ready, those sharing a node with more related pods, with more restarts, and the newest.

    ``on_node`` counts the related active pods per node (getPodsRankedByRelatedPodsOnSameNode)."""
    phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod.status.phase, 0)
    return (
        1 if pod.node_name else 0, phase, int(pod.status.ready), -on_node.get(pod.node_name, 0),
        -pod.status.restarts, -pod.meta.uid,
    )


def related_pods_on_nodes(kcm: ControllerManager, rs: ReplicaSet) -> dict[str, int]:
    """The active related pods per node: upstream's getIndirectlyRelatedPods lists, from the pod informer, the pods
    that the selector of every ReplicaSet with the same controller (the rsIndexer's controllerUID index, this one
    included) matches, each once; getPodsRankedByRelatedPodsOnSameNode counts the active ones per spec.nodeName.
    A ReplicaSet without a controller has no related ReplicaSets (getReplicaSetsWithSameController returns nil),
    so every pod's rank is 0."""
    owner = rs.meta.owner
    if owner is None:
        return {}
    selectors = [
        o.selector for o in kcm.objects("replicasets")
        if isinstance(o, ReplicaSet) and o.meta.namespace == rs.meta.namespace and o.meta.owner is not None
        and o.meta.owner.uid == owner.uid
    ]
    on_node: dict[str, int] = {}
    for p in kcm.objects("pods"):
        if isinstance(p, Pod) and p.meta.namespace == rs.meta.namespace and is_active(p):
            labels = dict(p.meta.labels)
            if any(sel.matches(labels) for sel in selectors):
                on_node[p.node_name] = on_node.get(p.node_name, 0) + 1
    return on_node


def new_pod(rs: ReplicaSet) -> Pod:
    """Upstream: controller.GetPodFromTemplate."""
    t = rs.template
    from spec.state import Meta

    meta = Meta(
        name="",
        namespace=rs.meta.namespace,
        labels=t.labels,
        generate_name=rs.meta.name + "-",
        owner=OwnerRef("ReplicaSet", rs.meta.name, rs.meta.uid),
    )
    return Pod(meta=meta, containers=t.containers, info=attrs.evolve(t.info, namespace=rs.meta.namespace))


def calculate_status(rs: ReplicaSet, pods: list[Pod], failure: str) -> ReplicaSetStatus:
    """Upstream: replica_set_utils.go calculateStatus."""
    template = dict(rs.template.labels)
    fully = sum(1 for p in pods if all(dict(p.meta.labels).get(k) == v for k, v in template.items()))
    ready = sum(1 for p in pods if p.status.ready)
    return ReplicaSetStatus(
        replicas=len(pods),
        fully_labeled_replicas=fully,
        ready_replicas=ready,
        available_replicas=ready if rs.min_ready_seconds == 0 else 0,
        observed_generation=rs.meta.generation,
        replica_failure=failure,
    )


def can_adopt(session: Session, rs: ReplicaSet) -> str:
    """controller.RecheckDeletionTimestamp (pkg/controller/controller_ref_manager.go, kubernetes#42938): before the
    first adoption of a sync, an uncached quorum read of the ReplicaSet; it refuses ("" admits) when the ReplicaSet
    is gone, is another one (uid), or has a deletionTimestamp, which the informer may not show yet: the garbage
    collector orphans a deleting owner's dependents, and adopting them again from a stale cache undoes that
    (kubernetes#42639)."""
    latest = session.get(object_key(rs))
    if latest is None or latest.meta.uid != rs.meta.uid:
        return f"original {rs.meta.namespace}/{rs.meta.name} is gone: got uid " \
            f"{None if latest is None else latest.meta.uid}, wanted {rs.meta.uid}"
    if latest.meta.deleting:
        return f"{rs.meta.namespace}/{rs.meta.name} has just been deleted"
    return ""


def sync(
    kcm: ControllerManager, session: Session, key: Key, *, expectations: bool = True, adoption_guard: bool = True
) -> tuple[ControllerManager, bool]:
    """syncReplicaSet(key): (kcm', failed). ``expectations`` False is the ``no-expectations`` variant;
    ``adoption_guard`` False the ``gc-readoption`` variant: a ReplicaSet being deleted adopts orphans all the same
    (neither ClaimObject's check of its cached deletionTimestamp nor the live recheck, ``can_adopt``)."""
    rs = kcm.get(key)
    if not isinstance(rs, ReplicaSet):
        return (attrs.evolve(kcm, expectations=kcm.expectations.delete(key)) if key in kcm.expectations else kcm), False
    needs_sync = satisfied(kcm, key) or not expectations
    read = CreatorRead(rs, tuple(p for p in kcm.objects("pods") if isinstance(p, Pod)))
    pods: list[Pod] = []
    name = object_key(rs)
    for obj in kcm.objects("pods"):
        if not isinstance(obj, Pod) or obj.meta.namespace != rs.meta.namespace or not is_active(obj):
            continue
        owner = obj.meta.owner
        if owner is not None and owner.uid == rs.meta.uid:
            pods.append(obj)
        elif owner is None and rs.selector.matches(dict(obj.meta.labels)) and (
                not rs.meta.deleting or not adoption_guard):
            if adoption_guard and (refusal := can_adopt(session, rs)):
                session.event(name, "Warning", "FailedAdopt", f"can't adopt Pod {obj.meta.namespace}/"
                              f"{obj.meta.name}: {refusal}")
                return kcm, True  # claimPods' error: syncReplicaSet returns it (requeued with backoff)
            owner_ref = OwnerRef("ReplicaSet", rs.meta.name, rs.meta.uid)
            # ClaimPods adopts orphans with a merge patch of metadata.ownerReferences (and the pod's uid): the
            # stored pod keeps its status, which the cached copy may lag.
            if session.patch_meta(object_key(obj), uid=obj.meta.uid, owner=owner_ref).ok:
                pods.append(with_meta(obj, owner=owner_ref))  # type: ignore[arg-type]
    failure = ""
    if needs_sync and not rs.meta.deleting:
        diff = len(pods) - rs.replicas
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            kcm = _set_expectation(kcm, key, Expectation(count, frozenset(), EXPECTATIONS_TIMEOUT_MS))
            for _ in range(count):  # slowStartBatch: every create succeeds here, so the batches change nothing
                response = session.create(new_pod(rs), read=read)
                if response.ok:
                    assert response.obj is not None
                    session.event(name, "Normal", "SuccessfulCreate", f"Created pod: {response.obj.meta.name}")
                elif response.cause == NAMESPACE_TERMINATING:
                    # replica_set.go manageReplicas: "if the namespace is being terminated, we don't have to do
                    # anything because any creation will fail" (counted as made: no error, no requeue)
                    session.event(name, "Warning", "FailedCreate", f"Error creating: {response.message}")
                else:
                    kcm = creation_observed(kcm, key)
                    failure = response.message
                    session.event(name, "Warning", "FailedCreate", response.message)
        elif diff > 0:
            on_node = related_pods_on_nodes(kcm, rs)
            victims = sorted(pods, key=lambda p: _rank(p, on_node))[: min(diff, BURST_REPLICAS)]
            doomed = frozenset(pod_key(p.meta.namespace, p.meta.name) for p in victims)
            kcm = _set_expectation(kcm, key, Expectation(0, doomed, EXPECTATIONS_TIMEOUT_MS))
            for pod in victims:
                pkey = pod_key(pod.meta.namespace, pod.meta.name)
                response = session.delete(pkey)
                if response.ok:
                    session.event(name, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.meta.name}")
                else:
                    kcm = deletion_observed(kcm, key, pkey)
                    if response.reason != "NotFound":
                        failure = response.message
    status = calculate_status(rs, pods, failure)
    if status != rs.status:
        # updateReplicaSetStatus: on a conflict it GETs the latest ReplicaSet and retries.
        latest = session.get(key)
        if isinstance(latest, ReplicaSet) and latest.meta.uid == rs.meta.uid and latest.status != status:
            session.update(attrs.evolve(latest, status=status), status=True)
    return kcm, bool(failure)
