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
minReadySeconds (pkg/api/v1/pod/util.go IsPodAvailable; replica_set.go updatePod and syncReplicaSet): a pod is
available once its Ready condition has held for more than minReadySeconds (``available``: Before is strict, so not
at the very instant), counted in status.availableReplicas by calculateStatus. Time does not wake the controller:
updatePod, seeing a pod turn Ready, requeues its ReplicaSet after minReadySeconds + 1 s (AddAfter: the delaying
queue keeps a key's earlier deadline, so a later one is dropped), and syncReplicaSet, when every pod is ready but
not every one available, requeues it after minReadySeconds ("a last line of defense"). The variant
``no-minready-requeue`` restores the code of kubernetes#41641: no requeue from syncReplicaSet (added by #42097)
and updatePod's AddAfter at exactly minReadySeconds (the extra second is #42741), so the requeue finds the pod
not yet available and nothing looks again until the informers' resync period (12 h or more).
How long a Ready condition has held is ``spec.state.Readiness`` (``AVAILABILITY``: ages that each Tick advances,
saturating past the largest minReadySeconds; the resync period saturates them).
Abstracted: the Ready condition's lastTransitionTime is an age in ms (time is relative), not a second-precision
timestamp on the kubelet's clock: no clock skew (kubernetes#29229) and no truncation to the second; a pod's Ready
transition is told apart from an earlier one by its restartCount, so a pod marked NotReady by the node lifecycle
controller and reported Ready again at the same instant keeps its age. The ranking's pod-deletion-cost (no
scenario sets the annotation) and time-since-ready criteria are left out: ties fall to restarts and then to
creation order, as upstream's do when those are equal.
Omitted: releasing pods whose labels stop matching (no scenario relabels a pod).
One code base for two kinds, as upstream's (replica_set.go NewBaseController takes the GroupVersionKind; pkg/
controller/replication wraps it for ReplicationControllers): ``pod_event`` (the pod handlers) and ``sync_owner``
(syncReplicaSet) take the owner's kind and the lister, work queue and expectations they run over; ``on_pod`` and
``sync`` run them for ReplicaSets on the controller manager's state (``ClusterState.kcm``), and
``spec.controllers.replication`` for ReplicationControllers on its own slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import attrs
import immutables

from spec.apiserver import NAMESPACE_TERMINATING, CreatorRead, Session
from spec.clock import EXPECTATIONS_TIMEOUT_MS
from spec.component import Base, Step
from spec.state import (
    KCM_RESOURCES,
    KIND,
    ClusterState,
    ControllerManager,
    Deployment,
    Expectation,
    Key,
    Object,
    OwnerRef,
    Pod,
    Readiness,
    ReplicaSet,
    ReplicaSetStatus,
    Replicated,
    ReplicationController,
    WorkQueue,
    object_key,
    pod_key,
    with_meta,
)

if TYPE_CHECKING:
    from spec.config import Config

BURST_REPLICAS = 500
MIN_RESYNC_PERIOD_MS = 12 * 3600 * 1000
"""kube-controller-manager's --min-resync-period (12 h): the least time a resync Tick stands for (``spec.clock``)."""
_RS = KCM_RESOURCES.index("replicasets")
_PODS = KCM_RESOURCES.index("pods")
Cache = immutables.Map[Key, Object]
"""An informer's cache (a lister's view)."""
NO_MINREADY_REQUEUE = "no-minready-requeue"
"""The variant restoring the ReplicaSet controller of kubernetes#41641 (before #42097 and #42741)."""


def owner_key_of_pod(pod: Pod, kind: str = "ReplicaSet") -> Key | None:
    """The key of the pod's controller when it is of ``kind`` (controllerKind: "ReplicaSet", or
    "ReplicationController" for the replication manager); None otherwise."""
    owner = pod.meta.owner
    if owner is None or owner.kind != kind:
        return None
    return f"{_RESOURCE_OF[kind]}/{pod.meta.namespace}/{owner.name}"


_RESOURCE_OF = {"ReplicaSet": "replicasets", "ReplicationController": "replicationcontrollers"}


def rs_key_of_pod(pod: Pod) -> Key | None:
    return owner_key_of_pod(pod, "ReplicaSet")


def is_active(pod: Pod) -> bool:
    """Upstream: controller.IsPodActive."""
    return not pod.meta.deleting and pod.status.phase not in ("Succeeded", "Failed")


# --- availability (minReadySeconds) ------------------------------------------------------------------------


def ready_for(pod: Pod, readiness: Readiness | None) -> int:
    """How long (ms) the Ready condition of this copy of ``pod`` has held: the age recorded at the last Tick when
    it is the same Ready transition (same restartCount), else 0 (it turned Ready since, at the last Tick's
    instant: between Ticks no time passes). Caches have caught up with etcd at every Tick (``spec.clock``), so a
    cached copy is never older than the version the age was recorded for, except after a relist served by a
    stale cache, where the recorded age is used."""
    if readiness is None or not pod.status.ready:
        return 0
    entry = readiness.ages.get(pod.meta.uid)
    if entry is None or entry[0] != pod.status.restarts:
        return 0
    return entry[1]


def available(pod: Pod, min_ready_seconds: int, readiness: Readiness | None) -> bool:
    """Upstream: podutil.IsPodAvailable(pod, minReadySeconds, now): Ready, and either minReadySeconds is 0 or
    lastTransitionTime + minReadySeconds is Before now (strictly: not yet at the very instant)."""
    if not pod.status.ready:
        return False
    return min_ready_seconds == 0 or ready_for(pod, readiness) > min_ready_seconds * 1000


def add_after(queue: WorkQueue, key: Key, ms: int) -> WorkQueue:
    """The delaying queue's AddAfter(key, ms) (client-go util/workqueue/delaying_queue.go waitingLoop and
    insert): a key already waiting keeps the earlier of its two deadlines."""
    waiting = dict(queue.waiting)
    waiting[key] = min(waiting.get(key, ms), ms)
    return attrs.evolve(queue, waiting=tuple(sorted(waiting.items())))


# --- expectations ------------------------------------------------------------------------------------------


Expectations = immutables.Map[Key, Expectation]
"""A controller's UIDTrackingControllerExpectations: its key -> what it still expects to observe."""


class HasExpectations(Protocol):
    @property
    def expectations(self) -> Expectations: ...


def satisfied(ctl: HasExpectations, key: Key) -> bool:
    """Upstream: ControllerExpectations.SatisfiedExpectations (absent, fulfilled or expired); ``ctl`` the
    controller manager (the ReplicaSet controller's) or the replication manager (its own)."""
    return key not in ctl.expectations


def _set_expectation(exps: Expectations, key: Key, exp: Expectation) -> Expectations:
    if exp.add <= 0 and not exp.deletes:  # fulfilled: upstream keeps it, but it no longer gates anything
        return exps.delete(key) if key in exps else exps
    return exps.set(key, exp)


def creation_observed(exps: Expectations, key: Key) -> Expectations:
    exp = exps.get(key)
    return exps if exp is None else _set_expectation(exps, key, attrs.evolve(exp, add=exp.add - 1))


def deletion_observed(exps: Expectations, key: Key, pod: Key) -> Expectations:
    exp = exps.get(key)
    if exp is None or pod not in exp.deletes:
        return exps
    return _set_expectation(exps, key, attrs.evolve(exp, deletes=exp.deletes - {pod}))


# --- event handlers ----------------------------------------------------------------------------------------


def _matching(owners: Cache, pod: Pod) -> list[Key]:
    """getPodReplicaSets / getPodControllers: the cached owners whose selector matches the pod's labels."""
    labels = dict(pod.meta.labels)
    return [
        object_key(o) for o in owners.values()
        if isinstance(o, ReplicaSet | ReplicationController) and o.meta.namespace == pod.meta.namespace
        and o.selector.matches(labels)
    ]


def resolve_controller_ref(kind: str, owners: Cache, pod: Pod) -> Key | None:
    """resolveControllerRef of the controller of ``kind`` for ``pod``'s controller reference: the key of the cached
    owner it names, when it is of ``kind`` ("Don't even try to look up by Name if it's the wrong Kind"), is in the
    lister's cache and has the reference's uid (a recreated owner of the same name is another one); None
    otherwise."""
    key = owner_key_of_pod(pod, kind)
    if key is None:
        return None
    owner = owners.get(key)
    assert pod.meta.owner is not None
    return key if owner is not None and owner.meta.uid == pod.meta.owner.uid else None


def pod_event(kind: str, owners: Cache, exps: Expectations, queue: WorkQueue, key: Key, old: Pod | None,
              new: Pod | None, readiness: Readiness | None = None) -> tuple[Expectations, WorkQueue]:
    """addPod / updatePod / deletePod of the controller of ``kind`` ("ReplicaSet", or "ReplicationController"
    through the replication manager's adapters), whose lister's cache is ``owners``: observe expectations and
    enqueue the owner; updatePod also requeues it after minReadySeconds + 1 s when the pod turns Ready
    (``readiness.margin_ms``: 0 under the variant ``no-minready-requeue``). Returns (expectations', queue').

    A pod with a controller reference concerns only the controller it resolves to (``resolve_controller_ref``):
    none when that is of another kind (a DaemonSet's, a Job's, a StatefulSet's pod whose labels a ReplicaSet's
    selector happens to match) or not in the cache; only an orphan (no controller reference) wakes every owner
    whose selector matches it (getPodReplicaSets), on its creation or when its controller reference changed (a
    released pod), and its deletion wakes no one ("No controller should care about orphans being deleted"). An
    update that carries the resourceVersion the cache had (a relist's unchanged pod) wakes no one either.
    Upstream: replica_set.go addPod, updatePod, deletePod ("If it has a ControllerRef, that's all that
    matters")."""
    if old is not None and new is not None and old.meta.resource_version == new.meta.resource_version:
        return exps, queue  # updatePod: "Periodic resync will send update events for all known pods" (a relist)
    pod = new if new is not None else old
    assert pod is not None
    rs_key = None if pod.meta.owner is None else resolve_controller_ref(kind, owners, pod)
    if new is None or new.meta.deleting:
        if new is not None and old is not None and old.meta.deleting:
            return exps, (queue if rs_key is None else queue.add(rs_key))
        if rs_key is None:
            return exps, queue
        return deletion_observed(exps, rs_key, key), queue.add(rs_key)
    if old is not None and old.meta.owner is not None and old.meta.owner != new.meta.owner:
        # The controller reference changed (released by the garbage collector): sync the old controller.
        old_key = resolve_controller_ref(kind, owners, old)
        if old_key is not None:
            queue = queue.add(old_key)
    if new.meta.owner is not None:
        if rs_key is None:
            return exps, queue  # another kind's pod, or an owner not (or no longer) in the cache
        if old is None:
            exps = creation_observed(exps, rs_key)
        queue = queue.add(rs_key)
        rs = owners.get(rs_key)
        if (old is not None and not old.status.ready and new.status.ready
                and isinstance(rs, ReplicaSet | ReplicationController) and rs.min_ready_seconds > 0):
            margin = 1_000 if readiness is None else readiness.margin_ms
            queue = add_after(queue, rs_key, rs.min_ready_seconds * 1000 + margin)
        return exps, queue
    if old is None or old.meta.owner is not None or old.meta.labels != new.meta.labels:
        for k in _matching(owners, pod):  # an orphan, new or just released: every matching owner may adopt it
            queue = queue.add(k)
    return exps, queue


def on_pod(kcm: ControllerManager, key: Key, old: Pod | None, new: Pod | None,
           readiness: Readiness | None = None) -> ControllerManager:
    """The ReplicaSet controller's pod handlers (``pod_event``) on the controller manager's state."""
    exps, queue = pod_event("ReplicaSet", kcm.informers[_RS].cache, kcm.expectations, kcm.rs_queue, key, old, new,
                            readiness)
    if exps is kcm.expectations:
        return kcm.with_rs_queue(queue)
    return ControllerManager(kcm.informers, queue, kcm.deploy_queue, exps)


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


def related_pods_on_nodes(owners: Cache, pods: Cache, rs: Replicated) -> dict[str, int]:
    """The active related pods per node: upstream's getIndirectlyRelatedPods lists, from the pod informer, the pods
    that the selector of every ReplicaSet with the same controller (the rsIndexer's controllerUID index, this one
    included) matches, each once; getPodsRankedByRelatedPodsOnSameNode counts the active ones per spec.nodeName.
    A ReplicaSet without a controller has no related ReplicaSets (getReplicaSetsWithSameController returns nil),
    so every pod's rank is 0."""
    owner = rs.meta.owner
    if owner is None:
        return {}
    selectors = [
        o.selector for o in owners.values()
        if isinstance(o, ReplicaSet | ReplicationController) and o.meta.namespace == rs.meta.namespace
        and o.meta.owner is not None and o.meta.owner.uid == owner.uid
    ]
    on_node: dict[str, int] = {}
    for p in pods.values():
        if isinstance(p, Pod) and p.meta.namespace == rs.meta.namespace and is_active(p):
            labels = dict(p.meta.labels)
            if any(sel.matches(labels) for sel in selectors):
                on_node[p.node_name] = on_node.get(p.node_name, 0) + 1
    return on_node


def new_pod(rs: Replicated) -> Pod:
    """Upstream: controller.GetPodFromTemplate (the controller reference of the owner's kind: the replication
    manager's podControlAdapter creates the pods of a ReplicationController with its own GroupVersionKind)."""
    t = rs.template
    from spec.state import Meta

    meta = Meta(
        name="",
        namespace=rs.meta.namespace,
        labels=t.labels,
        generate_name=rs.meta.name + "-",
        owner=OwnerRef(KIND[type(rs)], rs.meta.name, rs.meta.uid),
    )
    return Pod(meta=meta, containers=t.containers, info=attrs.evolve(t.info, namespace=rs.meta.namespace))


def calculate_status(rs: Replicated, pods: list[Pod], failure: str, readiness: Readiness | None = None
                     ) -> ReplicaSetStatus:
    """Upstream: replica_set_utils.go calculateStatus (availableReplicas: IsPodAvailable at now)."""
    template = dict(rs.template.labels)
    fully = sum(1 for p in pods if all(dict(p.meta.labels).get(k) == v for k, v in template.items()))
    ready = sum(1 for p in pods if p.status.ready)
    return ReplicaSetStatus(
        replicas=len(pods),
        fully_labeled_replicas=fully,
        ready_replicas=ready,
        available_replicas=sum(1 for p in pods if available(p, rs.min_ready_seconds, readiness)),
        observed_generation=rs.meta.generation,
        replica_failure=failure,
    )


def can_adopt(session: Session, rs: Replicated) -> str:
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
    kcm: ControllerManager, session: Session, key: Key, *, expectations: bool = True, adoption_guard: bool = True,
    readiness: Readiness | None = None
) -> tuple[ControllerManager, bool]:
    """The ReplicaSet controller's syncReplicaSet(key) on the controller manager's state (``sync_owner``):
    (kcm', failed)."""
    exps, queue, failed = sync_owner(kcm.informers[_RS].cache, kcm.informers[_PODS].cache, kcm.expectations,
                                     kcm.rs_queue, session, key, expectations=expectations,
                                     adoption_guard=adoption_guard, readiness=readiness)
    if exps is kcm.expectations:
        return kcm.with_rs_queue(queue), failed
    return ControllerManager(kcm.informers, queue, kcm.deploy_queue, exps), failed


def sync_owner(
    owners: Cache, pod_cache: Cache, exps: Expectations, queue: WorkQueue, session: Session, key: Key, *,
    expectations: bool = True, adoption_guard: bool = True, readiness: Readiness | None = None
) -> tuple[Expectations, WorkQueue, bool]:
    """syncReplicaSet(key) of the controller whose lister's cache is ``owners`` (ReplicaSets, or
    ReplicationControllers for the replication manager), over the shared pod informer's cache ``pod_cache``, with
    its expectations and work queue: (expectations', queue', failed). ``expectations`` False is the
    ``no-expectations`` variant; ``adoption_guard`` False the ``gc-readoption`` variant: a ReplicaSet being
    deleted adopts orphans all the same
    (neither ClaimObject's check of its cached deletionTimestamp nor the live recheck, ``can_adopt``).
    ``readiness``: how long each Ready pod has been Ready (``spec.state.Readiness``; None: no workload sets
    minReadySeconds)."""
    rs = owners.get(key)
    if not isinstance(rs, ReplicaSet | ReplicationController):
        return (exps.delete(key) if key in exps else exps), queue, False
    needs_sync = key not in exps or not expectations
    read = CreatorRead(rs, tuple(p for p in pod_cache.values() if isinstance(p, Pod)))
    pods: list[Pod] = []
    name = object_key(rs)
    kind = KIND[type(rs)]
    for obj in pod_cache.values():
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
                return exps, queue, True  # claimPods' error: syncReplicaSet returns it (requeued with backoff)
            owner_ref = OwnerRef(kind, rs.meta.name, rs.meta.uid)
            # ClaimPods adopts orphans with a merge patch of metadata.ownerReferences (and the pod's uid): the
            # stored pod keeps its status, which the cached copy may lag.
            if session.patch_meta(object_key(obj), uid=obj.meta.uid, owner=owner_ref).ok:
                pods.append(with_meta(obj, owner=owner_ref))  # type: ignore[arg-type]
    failure = ""
    if needs_sync and not rs.meta.deleting:
        diff = len(pods) - rs.replicas
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            exps = _set_expectation(exps, key, Expectation(count, frozenset(), EXPECTATIONS_TIMEOUT_MS))
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
                    exps = creation_observed(exps, key)
                    failure = response.message
                    session.event(name, "Warning", "FailedCreate", response.message)
        elif diff > 0:
            on_node = related_pods_on_nodes(owners, pod_cache, rs)
            victims = sorted(pods, key=lambda p: _rank(p, on_node))[: min(diff, BURST_REPLICAS)]
            doomed = frozenset(pod_key(p.meta.namespace, p.meta.name) for p in victims)
            exps = _set_expectation(exps, key, Expectation(0, doomed, EXPECTATIONS_TIMEOUT_MS))
            for pod in victims:
                pkey = pod_key(pod.meta.namespace, pod.meta.name)
                response = session.delete(pkey)
                if response.ok:
                    session.event(name, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.meta.name}")
                else:
                    exps = deletion_observed(exps, key, pkey)
                    if response.reason != "NotFound":
                        failure = response.message
    status = calculate_status(rs, pods, failure, readiness)
    if status != rs.status:
        # updateReplicaSetStatus: on a conflict it GETs the latest ReplicaSet and retries.
        latest = session.get(key)
        if isinstance(latest, type(rs)) and latest.meta.uid == rs.meta.uid and latest.status != status:
            session.update(attrs.evolve(latest, status=status), status=True)
    if (not failure and rs.min_ready_seconds > 0 and status.ready_replicas == rs.replicas
            and status.available_replicas != rs.replicas and (readiness is None or readiness.requeues)):
        # "Resync the ReplicaSet after MinReadySeconds as a last line of defense to guard against clock-skew."
        queue = add_after(queue, key, rs.min_ready_seconds * 1000)
    return exps, queue, bool(failure)


# --- the ages of the Ready conditions (spec.state.Readiness) --------------------------------------------------


def max_min_ready_seconds(config: Config) -> int:
    """The largest minReadySeconds of the scenario's ReplicaSets, ReplicationControllers and Deployments (a
    Deployment's ReplicaSets take its value; no command changes it)."""
    return max((o.min_ready_seconds for o in config.objects
                if isinstance(o, ReplicaSet | ReplicationController | Deployment)), default=0)


def aged(readiness: Readiness, objects: immutables.Map[Key, object], dt: int) -> Readiness:
    """``dt`` ms pass: every pod Ready in etcd has been Ready ``dt`` ms longer (or ``dt`` ms, if it turned Ready
    since the last Tick, or again after a restart), saturated at ``cap``; the others are forgotten."""
    ages: dict[int, tuple[int, int]] = {}
    for key, pod in objects.items():
        if not key.startswith("pods/") or not isinstance(pod, Pod) or not pod.status.ready:
            continue
        entry = readiness.ages.get(pod.meta.uid)
        held = entry[1] if entry is not None and entry[0] == pod.status.restarts else 0
        ages[pod.meta.uid] = (pod.status.restarts, min(held + dt, readiness.cap))
    new = immutables.Map(ages)
    return readiness if new == readiness.ages else attrs.evolve(readiness, ages=new)


def uncounted(readiness: Readiness, objects: immutables.Map[Key, object]) -> frozenset[Key]:
    """The ReplicaSets (and ReplicationControllers) with minReadySeconds whose status.availableReplicas is below
    their ready active pods in etcd: at an idle moment, pods whose availability nothing is scheduled to count."""
    ready: dict[int, int] = {}
    for key, pod in objects.items():
        if key.startswith("pods/") and isinstance(pod, Pod) and pod.status.ready and is_active(pod) \
                and pod.meta.owner is not None and pod.meta.owner.kind in _RESOURCE_OF:
            ready[pod.meta.owner.uid] = ready.get(pod.meta.owner.uid, 0) + 1
    return frozenset(
        key for key, rs in objects.items()
        if key.startswith(("replicasets/", "replicationcontrollers/")) and isinstance(rs, ReplicaSet |
                                                                                      ReplicationController)
        and rs.min_ready_seconds > 0
        and not rs.meta.deleting and rs.status.available_replicas < ready.get(rs.meta.uid, 0))


class Availability(Base):
    """Time's part in availability: slot ``ClusterState.readiness`` (present only when some ReplicaSet or Deployment
    has minReadySeconds > 0). No steps and no timers of its own (time advances to the components' deadlines, the
    ReplicaSet controller's AddAfter among them); each Tick ages every Ready pod (``aged``), and the informers'
    resync period, 12 h at least, saturates the ages, after noting which ReplicaSets' status undercounted their
    available pods while only the resync was left (``Readiness.stalled``). Not a process: a restart of any
    component loses nothing of it (the lastTransitionTime is in the pod object)."""

    name = "pod-availability"

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        longest = max_min_ready_seconds(config)
        if longest == 0:
            return state
        variant = NO_MINREADY_REQUEUE in config.variants
        readiness = Readiness(cap=longest * 1000 + 1, margin_ms=0 if variant else 1_000, requeues=not variant)
        return state._with(readiness=aged(readiness, state.etcd.objects, 0))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        return iter(())

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        r = state.readiness
        if r is None:
            return state, ()
        new = aged(r, state.etcd.objects, dt)
        return (state if new is r else state._with(readiness=new)), ()

    def resync(self, state: ClusterState) -> ClusterState:
        r = state.readiness
        if r is None:
            return state
        stalled = r.stalled | uncounted(r, state.etcd.objects)
        new = aged(r, state.etcd.objects, MIN_RESYNC_PERIOD_MS)
        if stalled != r.stalled:
            new = attrs.evolve(new, stalled=stalled)
        return state if new is r else state._with(readiness=new)


AVAILABILITY = Availability()
