"""The StatefulSet controller: event handlers and one reconcile (sync) per step.

Upstream: pkg/controller/statefulset/stateful_set.go (addPod/updatePod/deletePod, enqueueStatefulSet, sync,
getPodsForStatefulSet with ClaimPods and isMemberOf), stateful_set_control.go (updateStatefulSet: replicas and
condemned, processReplica, processCondemned, runForAll, computeReplicaStatus), stateful_set_utils.go (getOrdinal,
getParentName, newStatefulSetPod: name ``<set>-<ordinal>``, the pod-name and pod-index labels, isRunningAndReady,
isTerminating, isFailed, allowsBurst), stateful_pod_control.go (CreateStatefulPod, DeleteStatefulPod and their
Events), stateful_set_status_updater.go.

Modelled: identities ``NAME-0`` .. ``NAME-(replicas-1)``; a pod whose ordinal is in range is that identity's
replica, one beyond is condemned. podManagementPolicy OrderedReady ("monotonic"): replicas are processed in
ordinal order and the sync stops at the first one it creates, one that is terminating, or one that is not Running
and Ready; condemned pods are deleted from the highest ordinal down, one per sync, and only once every replica is
Running and Ready (or the condemned pod is the first unhealthy one). Parallel: every missing replica is created
and every condemned pod deleted in the same sync. A failed pod is deleted and re-created on a later sync. The
controller keeps no expectations (upstream has none for StatefulSets): what keeps one pod per identity is the
name. A replica is created only when the controller's pod informer shows no pod of that name; when its cache is
stale and the old object still exists, the API server answers 409 AlreadyExists, the sync fails and the key backs
off (the workqueue's AddRateLimited). So a replacement exists only once the old pod object is gone from etcd, and a
pod object is gone only after its kubelet has stopped its containers (graceful deletion), unless someone deletes it
with grace period 0 (a force deletion) while its kubelet cannot hear about it.
A create refused because the namespace is being terminated (403 Forbidden, cause NamespaceTerminating) fails the
sync like any other error, with its FailedCreate event, and the key backs off until the namespace controller has
deleted the set: upstream's StatefulSet controller has no ``apierrors.HasStatusCause(err,
v1.NamespaceTerminatingCause)`` check (stateful_pod_control.go CreateStatefulPod sinks only AlreadyExists;
stateful_set_control.go processReplica returns the error; stateful_set.go processNextWorkItem AddRateLimited),
unlike the ReplicaSet, Deployment and Job controllers (tests/spec/test_namespace.py).
The status (replicas, readyReplicas, availableReplicas, observedGeneration) is written through the status
subresource with the resourceVersion of the controller's cached copy; a conflict fails the sync (upstream retries
from its lister, which in one step is the same copy).
Abstracted: minReadySeconds is 0 (available = ready); pod names are ``<set>-<ordinal>`` with ordinals from 0
(spec.ordinals.start is 0).
volumeClaimTemplates (``create_claims``): before creating a replica's pod, each template's claim
``TEMPLATE-SET-ORDINAL`` that does not exist is created, and a Pending pod's missing claims are created again
(createMissingPersistentVolumeClaims); the pod's volumes name them; the claims stay when pods or the set are deleted
(persistentVolumeClaimRetentionPolicy Retain/Retain, the default; Delete is refused by the scenario parser).
Omitted: rolling updates of the template (ControllerRevisions, updateStrategy, partitions), the Delete retention
policies, the headless Service, releasing pods whose labels stop matching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

from spec.apiserver import Session
from spec.scheduling.types import pairs
from spec.state import (
    POD_INDEX_LABEL,
    STATEFULSET_POD_NAME_LABEL,
    Key,
    Meta,
    Object,
    OwnerRef,
    PersistentVolumeClaim,
    Pod,
    StatefulSet,
    StatefulSetStatus,
    Workloads,
    object_key,
    pod_key,
    with_meta,
)

ACTOR = "statefulset-controller"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def parent_and_ordinal(name: str) -> tuple[str, int]:
    """getParentNameAndOrdinal: ("", -1) when the name is not ``<parent>-<ordinal>``."""
    m = _ORDINAL.match(name)
    if m is None:
        return "", -1
    return m.group(1), int(m.group(2))


def is_member(sts: StatefulSet, pod: Pod) -> bool:
    """isMemberOf: the pod's name is ``<set>-<ordinal>``."""
    return parent_and_ordinal(pod.meta.name)[0] == sts.meta.name


def sts_key_of_pod(pod: Pod) -> Key | None:
    owner = pod.meta.owner
    if owner is None or owner.kind != "StatefulSet":
        return None
    return f"statefulsets/{pod.meta.namespace}/{owner.name}"


def running_and_ready(pod: Pod) -> bool:
    """isRunningAndReady: phase Running and the Ready condition true."""
    return pod.status.phase == "Running" and pod.status.ready


def new_pod(sts: StatefulSet, ordinal: int) -> Pod:
    """newStatefulSetPod: the template, the name ``<set>-<ordinal>``, the identity labels, the controllerRef."""
    name = f"{sts.meta.name}-{ordinal}"
    labels = pairs({**dict(sts.template.labels), STATEFULSET_POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal)})
    t = sts.template
    meta = Meta(name=name, namespace=sts.meta.namespace, labels=labels,
                owner=OwnerRef("StatefulSet", sts.meta.name, sts.meta.uid))
    claims = t.info.claims + tuple(claim_name(sts, c, ordinal) for c in sts.volume_claim_templates
                                   if claim_name(sts, c, ordinal) not in t.info.claims)
    return Pod(meta=meta, containers=t.containers,
               info=attrs.evolve(t.info, namespace=sts.meta.namespace, labels=labels, claims=claims))


def claim_name(sts: StatefulSet, template: PersistentVolumeClaim, ordinal: int) -> str:
    """getPersistentVolumeClaimName: ``<template>-<set>-<ordinal>`` (updateStorage puts it in the pod's volume of
    the template's name)."""
    return f"{template.meta.name}-{sts.meta.name}-{ordinal}"


def create_claims(sts: StatefulSet, ordinal: int, session: Session) -> bool:
    """createPersistentVolumeClaims (stateful_pod_control.go): each template's claim that does not exist is
    created (labels: the set's matchLabels; no ownerReference under the Retain retention policy); False when a
    creation failed (the sync fails: the pod is not created). The claim lister is abstracted to a read of the API
    server's object (GetClaim then Create: a claim created meanwhile answers AlreadyExists, which is an error)."""
    set_name = sts.meta.name
    name = object_key(sts)
    for template in sts.volume_claim_templates:
        claim = claim_name(sts, template, ordinal)
        if session.get(f"persistentvolumeclaims/{sts.meta.namespace}/{claim}") is not None:
            continue
        meta = Meta(name=claim, namespace=sts.meta.namespace, labels=pairs(dict(sts.selector.match_labels)),
                    annotations=template.meta.annotations)
        response = session.create(attrs.evolve(template, meta=meta))
        pod_name = f"{set_name}-{ordinal}"
        if not response.ok:
            session.event(name, "Warning", "FailedCreate", f"create Claim {claim} for Pod {pod_name} in StatefulSet "
                          f"{set_name} failed error: failed to create PVC {claim}: {response.message}")
            return False
        session.event(name, "Normal", "SuccessfulCreate",
                      f"create Claim {claim} Pod {pod_name} in StatefulSet {set_name} success")
    return True


# --- event handlers ----------------------------------------------------------------------------------------


def _sets_for_orphan(w: Workloads, pod: Pod) -> list[Key]:
    """getStatefulSetsForPod: the sets whose selector matches an orphan pod."""
    labels = dict(pod.meta.labels)
    return sorted(object_key(s) for s in w.objects("statefulsets")
                  if isinstance(s, StatefulSet) and s.meta.namespace == pod.meta.namespace
                  and s.selector.matches(labels))


def on_pod(w: Workloads, old: Pod | None, new: Pod | None) -> Workloads:
    """addPod / updatePod / deletePod: enqueue the owning set (or, for an orphan, every set that may adopt it)."""
    queue = w.sts_queue
    for pod in (old, new):
        if pod is None:
            continue
        key = sts_key_of_pod(pod)
        if key is not None:
            if w.get(key) is not None:
                queue = queue.add(key)
        elif new is not None and pod is new and not new.meta.deleting:
            for k in _sets_for_orphan(w, pod):
                queue = queue.add(k)
    return w if queue is w.sts_queue else attrs.evolve(w, sts_queue=queue)


def on_statefulset(w: Workloads, key: Key, new: StatefulSet | None) -> Workloads:
    """addStatefulset / updateStatefulset / deleteStatefulset: enqueue (a deleted set needs nothing)."""
    if new is None:
        return w
    queue = w.sts_queue.add(key)
    return w if queue is w.sts_queue else attrs.evolve(w, sts_queue=queue)


# --- the reconcile -----------------------------------------------------------------------------------------


def claimed_pods(pods: Iterable[Object], session: Session, sts: StatefulSet) -> list[Pod]:
    """getPodsForStatefulSet: the pods the set owns, and the orphans it adopts (selector and name match)."""
    out: list[Pod] = []
    for obj in sorted(pods, key=lambda p: p.meta.name):
        if not isinstance(obj, Pod) or obj.meta.namespace != sts.meta.namespace:
            continue
        owner = obj.meta.owner
        if owner is not None:
            if owner.uid == sts.meta.uid:
                out.append(obj)
            continue
        if (not sts.meta.deleting and not obj.meta.deleting and is_member(sts, obj)
                and sts.selector.matches(dict(obj.meta.labels))):
            owner_ref = OwnerRef("StatefulSet", sts.meta.name, sts.meta.uid)
            if session.patch_meta(object_key(obj), uid=obj.meta.uid, owner=owner_ref).ok:  # a merge patch
                out.append(with_meta(obj, owner=owner_ref))  # type: ignore[arg-type]
    return out


def compute_status(sts: StatefulSet, pods: list[Pod]) -> StatefulSetStatus:
    """computeReplicaStatus over the pods that exist (created), at the set's generation."""
    ready = sum(1 for p in pods if running_and_ready(p))
    return StatefulSetStatus(observed_generation=sts.meta.generation, replicas=len(pods), ready_replicas=ready,
                             available_replicas=ready)


def sync(w: Workloads, pods_cache: Iterable[Object], session: Session, key: Key) -> tuple[Workloads, bool]:
    """sync(key): (workloads', failed). Reads the set from its informer, the pods from the (shared) pod
    informer's cache ``pods_cache``."""
    sts = w.get(key)
    if not isinstance(sts, StatefulSet):
        return w, False  # "StatefulSet has been deleted"
    name = object_key(sts)
    pods = claimed_pods(pods_cache, session, sts)
    replicas: dict[int, Pod] = {}
    condemned: list[Pod] = []
    for pod in pods:
        ordinal = parent_and_ordinal(pod.meta.name)[1]
        if 0 <= ordinal < sts.replicas:
            replicas[ordinal] = pod
        elif ordinal >= 0:
            condemned.append(pod)
    condemned.sort(key=lambda p: -parent_and_ordinal(p.meta.name)[1])
    monotonic = sts.pod_management_policy != "Parallel"  # !allowsBurst
    # firstUnavailablePod: the first replica (in ordinal order; a missing one counts, as upstream's new pod object
    # does, and is none of the condemned), else the lowest unhealthy condemned pod.
    first_unhealthy: Pod | None = None
    missing = False
    for ordinal in range(sts.replicas):
        candidate = replicas.get(ordinal)
        if candidate is None:
            missing = True
            break
        if not running_and_ready(candidate):
            first_unhealthy = candidate
            break
    if first_unhealthy is None and not missing:
        first_unhealthy = next((p for p in reversed(condemned) if not running_and_ready(p)), None)
    failed = False
    if not sts.meta.deleting:
        failed = _update(sts, name, session, replicas, condemned, monotonic, first_unhealthy)
    status = compute_status(sts, pods)
    if status != sts.status:
        response = session.update(attrs.evolve(sts, status=status), status=True)
        if not response.ok and response.reason != "NotFound":
            failed = True
    return w, failed


def _update(sts: StatefulSet, name: str, session: Session, replicas: dict[int, Pod], condemned: list[Pod],
            monotonic: bool, first_unhealthy: Pod | None) -> bool:
    """updateStatefulSet's pod operations; True when one failed (the sync returns an error)."""
    set_name = sts.meta.name
    for ordinal in range(sts.replicas):  # runForAll(replicas, processReplica)
        pod = replicas.get(ordinal)
        if pod is not None and pod.status.phase in ("Failed", "Succeeded"):
            if not pod.meta.deleting and not _delete(session, name, set_name, pod):
                return True
            if monotonic:
                return False  # the new pod is created on a later sync, once the old one is gone from etcd
            continue
        if pod is not None and pod.status.phase == "Pending" and not pod.meta.deleting \
                and not create_claims(sts, ordinal, session):  # createMissingPersistentVolumeClaims
            return True
        if pod is None:
            if not create_claims(sts, ordinal, session):
                return True
            response = session.create(new_pod(sts, ordinal))
            pod_name = f"{set_name}-{ordinal}"
            if not response.ok:
                session.event(name, "Warning", "FailedCreate",
                              f"create Pod {pod_name} in StatefulSet {set_name} failed error: {response.message}")
                return True
            session.event(name, "Normal", "SuccessfulCreate",
                          f"create Pod {pod_name} in StatefulSet {set_name} successful")
            if monotonic:
                return False
            continue
        if pod.meta.deleting and monotonic:
            return False  # wait for graceful deletion to complete
        if not running_and_ready(pod) and monotonic:
            return False  # predecessors must be Running and Ready
    for pod in condemned:  # runForAll(condemned, processCondemned), highest ordinal first
        if pod.meta.deleting:
            if monotonic:
                return False
            continue
        if not running_and_ready(pod) and monotonic and pod is not first_unhealthy:
            return False
        if not _delete(session, name, set_name, pod):
            return True
        if monotonic:
            return False
    return False


def _delete(session: Session, name: str, set_name: str, pod: Pod) -> bool:
    """DeleteStatefulPod (graceful, by name: no uid precondition, as upstream), with its Event; False when the API
    server refused it."""
    response = session.delete(pod_key(pod.meta.namespace, pod.meta.name))
    if response.ok:
        session.event(name, "Normal", "SuccessfulDelete",
                      f"delete Pod {pod.meta.name} in StatefulSet {set_name} successful")
        return True
    session.event(name, "Warning", "FailedDelete",
                  f"delete Pod {pod.meta.name} in StatefulSet {set_name} failed error: {response.message}")
    return response.reason == "NotFound"
