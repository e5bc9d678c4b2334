"""The DaemonSet controller: one daemon pod per eligible node, bound there by the scheduler, kept and updated.

Upstream: pkg/controller/daemon/daemon_controller.go (addPod/updatePod/deletePod, addNode/updateNode with
shouldIgnoreNodeUpdate, add/update/deleteDaemonset, syncDaemonSet, manage, podsShouldBeOnNode, syncNodes with
the expectations and the slow-start batches, updateDaemonSetStatus and storeDaemonSetStatus, NodeShouldRunDaemonPod,
predicates, NewPod, podByCreationTimestampAndPhase, getUnscheduledPodsWithoutNode), update.go (rollingUpdate with
its maxSurge == 0 and surge branches, findUpdatedPodsOnNode, updatedDesiredNodeCounts), util/daemonset_util.go
(AddOrUpdateDaemonPodTolerations, CreatePodTemplate, ReplaceDaemonSetPodNodeNameNodeAffinity, GetTargetNodeName,
IsPodUpdated, AllowsSurge, SurgeCount, UnavailableCount), pkg/controller/controller_utils.go (ControllerExpectations:
counts, not uids).

Modelled:

- Eligibility, as NodeShouldRunDaemonPod: the template's nodeName, its nodeSelector and required node affinity
  (the scheduler's own ``matches_node_selector_and_affinity``), and the node's NoSchedule/NoExecute taints against
  the template's tolerations plus the ones the controller adds (``DAEMON_TOLERATIONS``: not-ready and unreachable
  NoExecute, disk-, memory- and pid-pressure and unschedulable NoSchedule, network-unavailable NoSchedule for
  hostNetwork). (shouldRun, shouldContinueRunning): a node whose only untolerated taints are NoSchedule keeps a
  daemon pod it has (it is counted misscheduled) but gets no new one.
- Pods: the template, labelled ``controller-revision-hash`` with the template's hash, the controller's
  tolerations, a required node affinity replaced by the one term ``matchFields metadata.name In [node]``, name from
  generateName ``<set>-``, the DaemonSet as controller owner; created unbound: the scheduler binds them
  (``spec.scheduler``, whose NodeAffinity PreFilter and Filter honour matchFields).
- manage: per node (podsShouldBeOnNode) a missing pod is created, failed and succeeded pods are deleted (the
  failed-pod backoff is abstracted: see below), all but the oldest running pod are deleted (all but one new and
  one old while surging), and every pod of a node that must not keep it; unscheduled pods whose target node is
  gone are deleted (getUnscheduledPodsWithoutNode: the scheduler can never bind them and the pod garbage collector
  collects only bound pods, kubernetes#71349). Expectations: SetExpectations(creations, deletions) before the
  requests; a failed create or delete is observed at once; the handlers observe a creation on an add and a
  deletion on every delete event and every update showing a deletionTimestamp (counts, as upstream's
  ControllerExpectations: a pod's deletion may be observed twice); a DaemonSet whose expectations are not
  satisfied gets only its status written (syncDaemonSet). Expectations expire after 5 min (``spec.clock``).
- RollingUpdate (after manage, once the expectations are satisfied): maxUnavailable (default 1) and maxSurge
  (default 0), each an integer or a percentage of desiredNumberScheduled (rounded up; both 0 means
  maxUnavailable 1), as update.go's two branches; OnDelete: pods of an old template stay until someone deletes
  them. ControllerRevisions are abstracted to the template hash (as the model's Deployments' pod-template-hash):
  a pod is updated when its ``controller-revision-hash`` is the current template's hash.
- Status (updateDaemonSetStatus): desiredNumberScheduled, currentNumberScheduled, numberMisscheduled,
  numberReady, updatedNumberScheduled, numberAvailable, numberUnavailable, observedGeneration; written through the
  status subresource with the cached copy's resourceVersion, retried once on conflict from a GET
  (StatusUpdateRetries = 1).
- Informers: DaemonSets and Nodes (slot ``ClusterState.daemonsets``, actor "kcm-daemonset-informers"; a node
  update matters only when shouldRun or shouldContinueRunning changes, shouldIgnoreNodeUpdate), the pods from the
  controller manager's shared pod informer (its deliveries run these handlers: ``spec.controllers.manager``).
  There is no deleteNode handler upstream: a deleted node's bound daemon pods go with the pod garbage collector.
- ClaimPods: orphans that the selector matches are adopted (a metadata patch).

Abstracted: minReadySeconds is 0 (available = Ready; the scenario parser refuses others); the failed-pod backoff
(1 s doubling to 15 min per node) is not timed, a failed pod is deleted on the next sync (pods of a DaemonSet
restart their containers, restartPolicy Always, so only an eviction or a node problem fails them);
ControllerRevision objects, revisionHistoryLimit and collisionCount (the hash is a pure function of the template);
the deprecated templateGeneration label; burstReplicas (250) only caps one sync's requests.
``kubectl delete daemonset NAME`` cascades through the garbage collector, whose graph includes the DaemonSet
informer's cache (``spec.controllers.garbagecollector``); a Terminating namespace's DaemonSets are deleted by the
namespace controller. Omitted: kubectl rollout undo of a DaemonSet, ControllerRevision history.
A controller-manager crash loses the informers (relisted), the queue, the backoffs and the expectations
(``DaemonSetComponent.restart``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs
import immutables

from spec import actions as A
from spec import informer
from spec.apiserver import NAMESPACE_TERMINATING, Session
from spec.clock import EXPECTATIONS_TIMEOUT_MS
from spec.component import Base, Delta, Host, Process, Step
from spec.controllers.deployment import template_hash
from spec.controllers.manager import _elapse_queue, _finish, running
from spec.scheduling.filters import matches_node_selector_and_affinity, untolerated_taint
from spec.scheduling.manifests import DAEMON_TOLERATIONS, NETWORK_UNAVAILABLE
from spec.scheduling.types import (
    Affinity,
    FieldSelectorRequirement,
    NodeSelectorTerm,
    PodInfo,
    pairs,
)
from spec.state import (
    CONTROLLER_REVISION_HASH,
    DAEMONSET_RESOURCES,
    KCM_RESOURCES,
    ClusterState,
    CountExpectation,
    DaemonSet,
    DaemonSetController,
    DaemonSetStatus,
    Etcd,
    Ghost,
    Informer,
    Key,
    Meta,
    Node,
    Object,
    OwnerRef,
    Pod,
    WorkQueue,
    key_of,
    object_key,
    pod_key,
    with_meta,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "daemonset-controller"
INFORMER_ACTOR = "kcm-daemonset-informers"
"""The actor of the deliveries and relists of the DaemonSet and Node informers."""
BURST_REPLICAS = 250
"""kube-controller-manager's --concurrent-daemonset-syncs aside, dsc.burstReplicas: at most this many creations and
deletions per sync."""
SLOW_START_INITIAL_BATCH_SIZE = 1
"""controller.SlowStartInitialBatchSize."""
STATUS_UPDATE_RETRIES = 1
"""StatusUpdateRetries: storeDaemonSetStatus tries once more, from a GET, after a failed status update."""



# --- the pure helpers: eligibility, the pod, the template hash ------------------------------------------------


def with_daemon_tolerations(info: PodInfo, host_network: bool) -> PodInfo:
    """AddOrUpdateDaemonPodTolerations: each toleration added, or replacing one with the same key and effect
    (v1helper.AddOrUpdateTolerationInPodSpec)."""
    extra = DAEMON_TOLERATIONS + ((NETWORK_UNAVAILABLE,) if host_network else ())
    tolerations = list(info.tolerations)
    for t in extra:
        same = [i for i, o in enumerate(tolerations) if o.key == t.key and o.effect == t.effect]
        if same:
            tolerations[same[0]] = t
        else:
            tolerations.append(t)
    return attrs.evolve(info, tolerations=tuple(tolerations))


@functools.lru_cache(maxsize=1 << 12)
def should_run(node: Node, ds: DaemonSet) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (shouldRun, shouldContinueRunning) of ``ds`` on ``node`` (memoised: a pure function
    of the two objects)."""
    template = ds.template.info
    name = node.meta.name
    if template.node_name and template.node_name != name:
        return False, False
    pod = with_daemon_tolerations(attrs.evolve(template, node_name=name), ds_host_network(ds))  # NewPod
    if not matches_node_selector_and_affinity(pod, node.info):  # predicates: fitsNodeAffinity (fitsNodeName holds)
        return False, False
    if untolerated_taint(node.info.taints, pod.tolerations) is not None:  # fitsTaints
        return False, untolerated_taint(node.info.taints, pod.tolerations, ("NoExecute",)) is None
    return True, True


def ds_host_network(ds: DaemonSet) -> bool:
    """spec.template.spec.hostNetwork (the scenario parser records it: ``DaemonSet.host_network``)."""
    return ds.host_network


def current_hash(ds: DaemonSet) -> str:
    """The current revision's hash: controller.ComputeHash of the template (the model's ControllerRevision)."""
    return template_hash(ds.template)


def new_pod(ds: DaemonSet, node: str, hash_: str) -> Pod:
    """CreatePodTemplate (the tolerations, the ``controller-revision-hash`` label) and
    ReplaceDaemonSetPodNodeNameNodeAffinity (the required node affinity becomes the one term ``metadata.name In
    [node]``), created with generateName ``<set>-`` and the DaemonSet as controller (podControl.CreatePods)."""
    t = ds.template
    labels = pairs({**dict(t.labels), CONTROLLER_REVISION_HASH: hash_})
    pin = (NodeSelectorTerm((), (FieldSelectorRequirement("metadata.name", "In", (node,)),)),)
    info = with_daemon_tolerations(t.info, ds_host_network(ds))
    info = attrs.evolve(info, namespace=ds.meta.namespace, labels=labels,
                        affinity=attrs.evolve(info.affinity or Affinity(), node_required=pin))
    meta = Meta(name="", namespace=ds.meta.namespace, labels=labels, generate_name=ds.meta.name + "-",
                owner=OwnerRef("DaemonSet", ds.meta.name, ds.meta.uid))
    return Pod(meta=meta, containers=t.containers, info=info)


def target_node(pod: Pod) -> str:
    """util.GetTargetNodeName: spec.nodeName, else the node of the required affinity's ``metadata.name In [one]``
    ("" when neither says: upstream logs it and skips the pod)."""
    if pod.node_name:
        return pod.node_name
    for term in pod.info.affinity.node_required or ():
        for req in term.match_fields:
            if req.key == "metadata.name" and req.operator == "In":
                return req.values[0] if len(req.values) == 1 else ""
    return ""


def is_updated(pod: Pod, hash_: str) -> bool:
    """util.IsPodUpdated (the hash; the deprecated templateGeneration is not modelled)."""
    return pod.meta.label(CONTROLLER_REVISION_HASH) == hash_


def available(pod: Pod) -> bool:
    """podutil.IsPodAvailable with minReadySeconds 0: the Ready condition."""
    return pod.status.ready


def scaled(value: int | str, total: int) -> int:
    """intstr.GetScaledValueFromIntOrPercent with roundUp."""
    if isinstance(value, int):
        return value
    return -(-int(value[:-1]) * total // 100)


def surge_count(ds: DaemonSet, desired: int) -> int:
    """util.SurgeCount: 0 unless RollingUpdate."""
    return scaled(ds.max_surge, desired) if ds.update_strategy == "RollingUpdate" else 0


def allows_surge(ds: DaemonSet) -> bool:
    """util.AllowsSurge: SurgeCount(ds, 1) > 0."""
    return surge_count(ds, 1) > 0


def _creation_order(pod: Pod) -> tuple[int, int, str]:
    """podByCreationTimestampAndPhase: scheduled first, then by creationTimestamp (the uid order), then name."""
    return (0 if pod.node_name else 1, pod.meta.uid, pod.meta.name)


def _int_or_percent_value(value: int | str) -> int:
    """getIntOrPercentValue: the integer, or the percentage's number."""
    return value if isinstance(value, int) else int(value[:-1])


def validate_daemonset(ds: DaemonSet) -> str | None:
    """pkg/apis/apps/validation ValidateDaemonSetSpec and ValidateDaemonSetUpdateStrategy (the messages without the
    "DaemonSet.apps "NAME" is invalid: " prefix)."""
    if not ds.selector.match_labels and not ds.selector.match_expressions:
        return "spec.selector: Invalid value: empty selector is invalid for daemonset"
    if not ds.selector.matches(dict(ds.template.labels)):
        return "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"
    if not ds.template.containers:
        return "spec.template.spec.containers: Required value"
    if ds.update_strategy not in ("RollingUpdate", "OnDelete"):
        return f"spec.updateStrategy: Unsupported value: {ds.update_strategy!r}: supported values: \"OnDelete\", " \
            "\"RollingUpdate\""
    if ds.update_strategy == "RollingUpdate":  # ValidateRollingUpdateDaemonSet
        for field, value in (("maxUnavailable", ds.max_unavailable), ("maxSurge", ds.max_surge)):
            if isinstance(value, str) and int(value[:-1]) > 100:  # IsNotMoreThan100Percent
                return f"spec.updateStrategy.rollingUpdate.{field}: Invalid value: \"{value}\": must not be " \
                    "greater than 100%"
        has_unavailable = _int_or_percent_value(ds.max_unavailable) != 0
        has_surge = _int_or_percent_value(ds.max_surge) != 0
        if has_unavailable and has_surge:
            shown = ds.max_surge if isinstance(ds.max_surge, int) else f'"{ds.max_surge}"'
            return f"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: {shown}: may not be set when " \
                "maxUnavailable is non-zero"
        if not has_unavailable and not has_surge:
            return "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"
    return None


# --- the event handlers -----------------------------------------------------------------------------------------


def _resolve(ctl: DaemonSetController, pod: Pod) -> Key | None:
    """resolveControllerRef: the key of the pod's controlling DaemonSet when the lister has it with that uid."""
    owner = pod.meta.owner
    if owner is None or owner.kind != "DaemonSet":
        return None
    key = key_of("daemonsets", pod.meta.namespace, owner.name)
    ds = ctl.informers[0].cache.get(key)
    return key if isinstance(ds, DaemonSet) and ds.meta.uid == owner.uid else None


def _sets_for_orphan(ctl: DaemonSetController, pod: Pod) -> list[Key]:
    """getDaemonSetsForPod: the DaemonSets whose selector matches an orphan pod."""
    labels = dict(pod.meta.labels)
    return sorted(k for k, ds in ctl.informers[0].cache.items() if isinstance(ds, DaemonSet)
                  and ds.meta.namespace == pod.meta.namespace and ds.selector.matches(labels))


def _observe(ctl: DaemonSetController, key: Key, creation: bool) -> DaemonSetController:
    """CreationObserved / DeletionObserved: lower the count (a DaemonSet without expectations is left alone)."""
    exp = ctl.expectations.get(key)
    if exp is None:
        return ctl
    exp = attrs.evolve(exp, add=exp.add - 1) if creation else attrs.evolve(exp, delete=exp.delete - 1)
    return attrs.evolve(ctl, expectations=ctl.expectations.set(key, exp))


def _enqueue(ctl: DaemonSetController, keys: Iterable[Key]) -> DaemonSetController:
    queue = ctl.queue
    for k in keys:
        queue = queue.add(k)
    return ctl if queue is ctl.queue else attrs.evolve(ctl, queue=queue)


def _delete_pod(ctl: DaemonSetController, pod: Pod) -> DaemonSetController:
    """deletePod: a controlled pod's deletion is observed and its DaemonSet synced."""
    key = _resolve(ctl, pod)
    if key is None:
        return ctl
    return _enqueue(_observe(ctl, key, creation=False), (key,))


def on_pod(ctl: DaemonSetController, old: Pod | None, new: Pod | None) -> DaemonSetController:
    """addPod / updatePod / deletePod."""
    if new is None:
        assert old is not None
        return _delete_pod(ctl, old)
    if old is None:  # addPod
        if new.meta.deleting:
            return _delete_pod(ctl, new)
        key = _resolve(ctl, new)
        if new.meta.owner is not None:
            return ctl if key is None else _enqueue(_observe(ctl, key, creation=True), (key,))
        return _enqueue(ctl, _sets_for_orphan(ctl, new))
    if new.meta.resource_version == old.meta.resource_version:
        return ctl  # a resync
    if new.meta.deleting:
        return _delete_pod(ctl, new)
    keys: list[Key] = []
    if old.meta.owner != new.meta.owner and old.meta.owner is not None:
        k = _resolve(ctl, old)
        keys += [k] if k is not None else []
    if new.meta.owner is not None:
        k = _resolve(ctl, new)
        keys += [k] if k is not None else []
    elif old.meta.labels != new.meta.labels or old.meta.owner != new.meta.owner:
        keys += _sets_for_orphan(ctl, new)
    return _enqueue(ctl, keys)


def _ignore_node_update(old: Node, new: Node) -> bool:
    """shouldIgnoreNodeUpdate: the same conditions with status True (the Ready condition is the only one
    modelled), and nothing else changed but the resourceVersion."""
    if (old.ready == "True") != (new.ready == "True"):
        return False
    return old.info == new.info and with_meta(old, resource_version=0).meta == with_meta(new,
                                                                                          resource_version=0).meta


def on_node(ctl: DaemonSetController, old: Node | None, new: Node | None) -> DaemonSetController:
    """addNode (every DaemonSet that should run there) / updateNode (every DaemonSet whose shouldRun or
    shouldContinueRunning changed); no handler for deletions, as upstream."""
    if new is None:
        return ctl
    sets = [(k, ds) for k, ds in sorted(ctl.informers[0].cache.items()) if isinstance(ds, DaemonSet)]
    if old is None:
        return _enqueue(ctl, [k for k, ds in sets if should_run(new, ds)[0]])
    if _ignore_node_update(old, new):
        return ctl
    return _enqueue(ctl, [k for k, ds in sets if should_run(old, ds) != should_run(new, ds)])


def on_daemonset(ctl: DaemonSetController, key: Key, old: DaemonSet | None, new: DaemonSet | None
                 ) -> DaemonSetController:
    """addDaemonset / updateDaemonset / deleteDaemonset: enqueue (a deletion also drops the expectations, so a
    DaemonSet created again with the name starts clean)."""
    if new is None and key in ctl.expectations:
        ctl = attrs.evolve(ctl, expectations=ctl.expectations.delete(key))
    return _enqueue(ctl, (key,))


def handle(ctl: DaemonSetController, deltas: Iterable[Delta]) -> DaemonSetController:
    """Every handler, on delivered (or relisted) changes of its informers or of the shared pod informer."""
    for key, old, new in deltas:
        obj = new if new is not None else old
        if isinstance(obj, Pod):
            ctl = on_pod(ctl, old, new)  # type: ignore[arg-type]
        elif isinstance(obj, Node):
            ctl = on_node(ctl, old, new)  # type: ignore[arg-type]
        elif isinstance(obj, DaemonSet):
            ctl = on_daemonset(ctl, key, old, new)  # type: ignore[arg-type]
    return ctl


# --- syncDaemonSet ----------------------------------------------------------------------------------------------


@attrs.frozen
class Variants:
    """The historical bugs this controller can restore (``spec.variants``)."""

    pending_by_node_name: bool = False
    """daemonset-pending-by-nodename (kubernetes#61050, fixed by #61387): getNodesToDaemonPods groups pods by
    spec.nodeName, so a pod the scheduler has not bound yet counts for no node (and, as then,
    getUnscheduledPodsWithoutNode does not exist: #73401 came later)."""


def claimed_pods(ctl: DaemonSetController, pods: Iterable[Object], session: Session, ds: DaemonSet) -> list[Pod]:
    """getDaemonPods (ClaimPods): the pods the DaemonSet controls, and the orphans its selector matches, adopted
    (RecheckDeletionTimestamp: not while the DaemonSet is being deleted)."""
    out: list[Pod] = []
    for obj in sorted(pods, key=lambda p: p.meta.name):
        if not isinstance(obj, Pod) or obj.meta.namespace != ds.meta.namespace:
            continue
        owner = obj.meta.owner
        if owner is not None:
            if owner.uid == ds.meta.uid:
                out.append(obj)
            continue
        if not ds.meta.deleting and not obj.meta.deleting and ds.selector.matches(dict(obj.meta.labels)):
            ref = OwnerRef("DaemonSet", ds.meta.name, ds.meta.uid)
            if session.patch_meta(object_key(obj), uid=obj.meta.uid, owner=ref).ok:
                out.append(with_meta(obj, owner=ref))  # type: ignore[arg-type]
    return out


def nodes_to_daemon_pods(claimed: list[Pod], by_node_name: bool = False) -> dict[str, list[Pod]]:
    """getNodesToDaemonPods (includeDeletedTerminal false): the claimed pods by target node, pods being deleted
    that have finished left out; ``by_node_name``: by spec.nodeName, as before kubernetes#61387."""
    out: dict[str, list[Pod]] = {}
    for pod in claimed:
        if pod.meta.deleting and pod.status.phase in ("Succeeded", "Failed"):
            continue
        node = pod.node_name if by_node_name else target_node(pod)
        if node:
            out.setdefault(node, []).append(pod)
    return out


def pods_should_be_on_node(ds: DaemonSet, node: Node, by_node: dict[str, list[Pod]], hash_: str,
                           events: list[tuple[str, str, str]]) -> tuple[list[str], list[str]]:
    """podsShouldBeOnNode: (nodes needing a daemon pod, pods to delete) for one node."""
    run, keep = should_run(node, ds)
    pods = by_node.get(node.meta.name)
    name = node.meta.name
    need: list[str] = []
    delete: list[str] = []
    if run and pods is None:
        need.append(name)
    elif keep:
        running: list[Pod] = []
        for pod in pods or ():
            if pod.meta.deleting:
                continue
            if pod.status.phase == "Failed":
                events.append(("Warning", "FailedDaemonPod", f"Found failed daemon pod {pod.meta.namespace}/"
                               f"{pod.meta.name} on node {name}, will try to kill it"))
                delete.append(pod.meta.name)
            elif pod.status.phase == "Succeeded":
                events.append(("Normal", "SucceededDaemonPod", f"Found succeeded daemon pod {pod.meta.namespace}/"
                               f"{pod.meta.name} on node {name}, will try to delete it"))
                delete.append(pod.meta.name)
            else:
                running.append(pod)
        running.sort(key=_creation_order)
        if not allows_surge(ds):
            delete += [p.meta.name for p in running[1:]]  # all but the oldest
        elif len(running) <= 1:
            if not running and run:
                need.append(name)
        else:
            oldest_new: Pod | None = None
            oldest_old: Pod | None = None
            for pod in running:
                if is_updated(pod, hash_):
                    if oldest_new is None:
                        oldest_new = pod
                        continue
                elif oldest_old is None:
                    oldest_old = pod
                    continue
                delete.append(pod.meta.name)
            if oldest_new is not None and oldest_old is not None and (
                    not oldest_old.status.ready or available(oldest_new)):
                delete.append(oldest_old.meta.name)
    elif pods is not None:
        delete += [p.meta.name for p in pods if not p.meta.deleting]
    return need, delete


def unscheduled_pods_without_node(nodes: list[Node], by_node: dict[str, list[Pod]]) -> list[str]:
    """getUnscheduledPodsWithoutNode: unbound pods whose target node the node lister does not have."""
    names = {n.meta.name for n in nodes}
    return [p.meta.name for n, pods in sorted(by_node.items()) if n not in names for p in pods if not p.node_name]


def sync_nodes(ctl: DaemonSetController, session: Session, key: Key, ds: DaemonSet, to_delete: list[str],
               need: list[str], hash_: str) -> tuple[DaemonSetController, bool]:
    """syncNodes: expectations first, then the creations in slow-start batches, then the deletions; (controller',
    failed)."""
    creates = min(len(need), BURST_REPLICAS)
    deletes = min(len(to_delete), BURST_REPLICAS)
    exp = CountExpectation(creates, deletes, EXPECTATIONS_TIMEOUT_MS)
    failed = False
    batch, pos = min(creates, SLOW_START_INITIAL_BATCH_SIZE), 0
    while creates > pos:
        errors = 0
        for i in range(pos, pos + batch):
            response = session.create(new_pod(ds, need[i], hash_))
            if response.cause == NAMESPACE_TERMINATING:
                continue  # "all subsequent creations will fail": the creation stays expected
            if not response.ok:
                session.event(key, "Warning", "FailedCreate", f"Error creating: {response.message}")
                exp = attrs.evolve(exp, add=exp.add - 1)  # CreationObserved
                errors += 1
                continue
            assert isinstance(response.obj, Pod)
            session.event(key, "Normal", "SuccessfulCreate", f"Created pod: {response.obj.meta.name}")
        skipped = creates - (batch + pos)
        if errors:
            failed = True
            if skipped > 0:
                exp = attrs.evolve(exp, add=exp.add - skipped)  # LowerExpectations
                break
        batch, pos = min(2 * batch, creates - (pos + batch)), pos + batch
    for name in to_delete[:deletes]:
        response = session.delete(pod_key(ds.meta.namespace, name))
        if response.ok:
            session.event(key, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
            continue
        exp = attrs.evolve(exp, delete=exp.delete - 1)  # DeletionObserved
        if response.reason != "NotFound":
            session.event(key, "Warning", "FailedDelete", f"Error deleting: {response.message}")
            failed = True
    return attrs.evolve(ctl, expectations=ctl.expectations.set(key, exp)), failed


def desired_counts(ds: DaemonSet, nodes: list[Node], by_node: dict[str, list[Pod]]) -> tuple[int, int, int]:
    """updatedDesiredNodeCounts: (maxSurge, maxUnavailable, desiredNumberScheduled); every node that should run
    the pod is entered in ``by_node`` (with no pods when it has none)."""
    desired = 0
    for node in nodes:
        if should_run(node, ds)[0]:
            desired += 1
            by_node.setdefault(node.meta.name, [])
    unavailable = scaled(ds.max_unavailable, desired)
    surge = surge_count(ds, desired)
    if desired > 0 and unavailable == 0 and surge == 0:
        unavailable = 1
    return surge, unavailable, desired


def find_updated_pods_on_node(pods: list[Pod], hash_: str) -> tuple[Pod | None, Pod | None, bool]:
    """findUpdatedPodsOnNode: (new pod, old pod, at most one of each) among the pods not being deleted."""
    new: Pod | None = None
    old: Pod | None = None
    for pod in pods:
        if pod.meta.deleting:
            continue
        if is_updated(pod, hash_):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def rolling_update(ctl: DaemonSetController, session: Session, key: Key, ds: DaemonSet, nodes: list[Node],
                   claimed: list[Pod], hash_: str, variants: Variants = Variants()
                   ) -> tuple[DaemonSetController, bool]:
    """rollingUpdate: with maxSurge 0, delete old pods while at most maxUnavailable nodes are unavailable (manage
    creates the new ones); with maxSurge, create new pods beside old ones and delete each old pod once its new one
    is available."""
    by_node = nodes_to_daemon_pods(claimed, variants.pending_by_node_name)
    surge, max_unavailable, desired = desired_counts(ds, nodes, by_node)
    node_of = {n.meta.name: n for n in nodes}
    if surge == 0:
        unavailable = 0
        replacements: list[str] = []
        candidates: list[str] = []
        for _, pods in sorted(by_node.items()):
            new, old, ok = find_updated_pods_on_node(pods, hash_)
            if not ok or (old is None) == (new is None):
                unavailable += 1  # excess pods, or none: the manage loop's business
            elif new is not None:
                if not available(new):
                    unavailable += 1
            elif old is not None:
                if not available(old):
                    replacements.append(old.meta.name)
                    unavailable += 1
                elif unavailable < max_unavailable:
                    candidates.append(old.meta.name)
        remaining = min(max(max_unavailable - unavailable, 0), len(candidates))
        return sync_nodes(ctl, session, key, ds, replacements + candidates[:remaining], [], hash_)
    to_delete: list[str] = []
    should_not_run: list[str] = []
    candidate_nodes: list[str] = []
    allowed_nodes: list[str] = []
    surging = 0
    n_available = 0
    for name, pods in sorted(by_node.items()):
        new, old, ok = find_updated_pods_on_node(pods, hash_)
        if not ok:
            surging += 1
            continue
        if old is not None:
            n_available += available(old)
        elif new is not None:
            n_available += available(new)
        if old is None:
            continue
        if new is None:
            node = node_of.get(name)
            if node is None:
                return ctl, True  # "couldn't get node for nodeName"
            run = should_run(node, ds)[0]
            if not available(old):
                if not run:
                    to_delete.append(old.meta.name)
                else:
                    allowed_nodes.append(name)
            elif not run:
                should_not_run.append(old.meta.name)
            elif surging < surge:
                candidate_nodes.append(name)
        elif not available(new):
            surging += 1
        else:
            to_delete.append(old.meta.name)
    deletable = min(n_available - desired, len(should_not_run))
    if deletable > 0:
        to_delete += should_not_run[:deletable]
    remaining = min(max(surge - surging, 0), len(candidate_nodes))
    return sync_nodes(ctl, session, key, ds, to_delete, allowed_nodes + candidate_nodes[:remaining], hash_)


def compute_status(ds: DaemonSet, nodes: list[Node], by_node: dict[str, list[Pod]], hash_: str) -> DaemonSetStatus:
    """updateDaemonSetStatus's counts (observedGeneration is the caller's)."""
    desired = current = misscheduled = ready = updated = n_available = 0
    for node in nodes:
        run, _ = should_run(node, ds)
        pods = by_node.get(node.meta.name) or []
        if run:
            desired += 1
            if not pods:
                continue
            current += 1
            pod = sorted(pods, key=_creation_order)[0]
            if pod.status.ready:
                ready += 1
                n_available += available(pod)
            updated += is_updated(pod, hash_)
        elif pods:
            misscheduled += 1
    return DaemonSetStatus(ds.status.observed_generation, desired, current, misscheduled, ready, updated,
                           n_available, desired - n_available)


def store_status(session: Session, ds: DaemonSet, status: DaemonSetStatus, observe: bool) -> bool:
    """storeDaemonSetStatus: nothing when the counts are the same and observedGeneration is current; otherwise
    UpdateStatus from the cached copy, retried once from a GET. False when it failed."""
    old = ds.status
    if attrs.evolve(status, observed_generation=old.observed_generation) == old and \
            old.observed_generation >= ds.meta.generation:
        return True
    to_update = ds
    for attempt in range(STATUS_UPDATE_RETRIES + 1):
        gen = ds.meta.generation if observe else to_update.status.observed_generation
        response = session.update(attrs.evolve(to_update, status=attrs.evolve(status, observed_generation=gen)),
                                  status=True)
        if response.ok:
            return True
        if attempt >= STATUS_UPDATE_RETRIES:
            break
        latest = session.get(object_key(ds))
        if not isinstance(latest, DaemonSet):
            return False
        to_update = latest
    return False


def satisfied(ctl: DaemonSetController, key: Key) -> bool:
    """SatisfiedExpectations: none recorded, or all observed (expiry is the clock's: ``elapse``)."""
    exp = ctl.expectations.get(key)
    return exp is None or (exp.add <= 0 and exp.delete <= 0)


def sync(ctl: DaemonSetController, pods: Iterable[Object], session: Session, key: Key, variants: Variants
         ) -> tuple[DaemonSetController, bool]:
    """syncDaemonSet(key): (controller', failed)."""
    ds = ctl.informers[0].cache.get(key)
    if not isinstance(ds, DaemonSet):
        if key in ctl.expectations:  # "Daemon set has been deleted": DeleteExpectations
            ctl = attrs.evolve(ctl, expectations=ctl.expectations.delete(key))
        return ctl, False
    nodes = sorted((n for n in ctl.informers[1].cache.values() if isinstance(n, Node)), key=lambda n: n.meta.name)
    if ds.meta.deleting:
        return ctl, False
    hash_ = current_hash(ds)
    claimed = claimed_pods(ctl, pods, session, ds)
    failed = False
    observe = satisfied(ctl, key)
    if observe:
        by_node = nodes_to_daemon_pods(claimed, variants.pending_by_node_name)
        need: list[str] = []
        to_delete: list[str] = []
        events: list[tuple[str, str, str]] = []
        for node in nodes:  # manage
            n, d = pods_should_be_on_node(ds, node, by_node, hash_, events)
            need += n
            to_delete += d
        for etype, reason, message in events:
            session.event(key, etype, reason, message)
        if not variants.pending_by_node_name:
            to_delete += unscheduled_pods_without_node(nodes, by_node)
        ctl, failed = sync_nodes(ctl, session, key, ds, to_delete, need, hash_)
        if not failed and satisfied(ctl, key) and ds.update_strategy == "RollingUpdate":
            before = session.etcd
            ctl, failed = rolling_update(ctl, session, key, ds, nodes, claimed, hash_, variants)
            if session.etcd is not before:
                session.ghost = note_unavailable(session.ghost, session.etcd, key)
    status = compute_status(ds, nodes, nodes_to_daemon_pods(claimed, variants.pending_by_node_name), hash_)
    if not store_status(session, ds, status, observe):
        failed = True
    return ctl, failed


def note_unavailable(ghost: Ghost, etcd: Etcd, key: Key) -> Ghost:
    """The ``daemon_unavailable`` history variable: after a rolling update's deletions, fewer of the DaemonSet's
    eligible nodes (in etcd) have an available pod not being deleted than desiredNumberScheduled -
    maxUnavailable (``spec.daemonset_properties``)."""
    ds = etcd.objects.get(key)
    if not isinstance(ds, DaemonSet):
        return ghost
    nodes = [n for n in etcd.objects.values() if isinstance(n, Node)]
    eligible = {n.meta.name for n in nodes if should_run(n, ds)[0]}
    good = {p.node_name for p in etcd.objects.values() if isinstance(p, Pod) and p.meta.owner is not None
            and p.meta.owner.uid == ds.meta.uid and not p.meta.deleting and available(p) and p.node_name in eligible}
    max_unavailable = scaled(ds.max_unavailable, len(eligible)) or (0 if surge_count(ds, len(eligible)) else 1)
    if len(good) < len(eligible) - max_unavailable:
        return attrs.evolve(ghost, daemon_unavailable=ghost.daemon_unavailable | {key})
    return ghost


# --- the controller as a component ----------------------------------------------------------------------------


def has_daemonsets(config: Config) -> bool:
    """The slot exists: the scenario has a DaemonSet (no step creates one)."""
    return any(isinstance(o, DaemonSet) for o in config.objects)


def shared_pods(state: ClusterState) -> immutables.Map[Key, Object]:
    """The controller manager's pod informer's cache (the shared informer the DaemonSet controller reads)."""
    return state.kcm.informers[KCM_RESOURCES.index("pods")].cache


def restarted(etcd: Etcd, old: DaemonSetController | None, revision: int, pods: immutables.Map[Key, Object]
              ) -> DaemonSetController:
    """A (re)started controller manager's DaemonSet controller: its informers listed at ``revision`` (the ghost
    high-water marks carry over), an empty queue and no expectations, its handlers run on every listed object and
    on the shared pod informer's listed ``pods``."""
    infs: list[Informer] = []
    deltas: list[Delta] = []
    for i, resource in enumerate(DAEMONSET_RESOURCES):
        high = old.informers[i].high_water if old is not None else 0
        inf, d = informer.relist(Informer(rv=0, cache=immutables.Map(), high_water=high), etcd, ("kcm", resource),
                                 revision)
        infs.append(inf)
        deltas.extend(d)
    ctl = DaemonSetController(tuple(infs))
    return handle(ctl, (*deltas, *((k, None, p) for k, p in sorted(pods.items()))))


def on_shared_pods(state: ClusterState, deltas: Iterable[Delta]) -> ClusterState:
    """The DaemonSet controller's pod handlers, on changes the shared pod informer just delivered (called by the
    controller manager's ``handle``)."""
    ctl = state.daemonsets
    if ctl is None:
        return state
    new = handle(ctl, deltas)
    return state if new is ctl else state._with(daemonsets=new)


@functools.lru_cache(maxsize=1 << 14)
def _reconcile(ctl: DaemonSetController, pods: immutables.Map[Key, Object], etcd: Etcd, ghost: Ghost, key: Key,
               variants: Variants) -> tuple[DaemonSetController, bool, Etcd, Ghost, tuple[str, ...]]:
    """Pop ``key``, sync it, handle the error (AddRateLimited / Forget): a pure function of the slot, the shared
    pod cache and etcd, memoised."""
    q = ctl.queue
    ctl = attrs.evolve(ctl, queue=WorkQueue(tuple(k for k in q.queue if k != key), q.waiting, q.failures))
    session = Session(etcd, ghost)
    ctl, failed = sync(ctl, pods.values(), session, key, variants)
    ctl = attrs.evolve(ctl, queue=_finish(ctl.queue, key, failed, None))
    return ctl, failed, session.etcd, session.ghost, tuple(session.events)


def variants_of(config: Config) -> Variants:
    return Variants(pending_by_node_name="daemonset-pending-by-nodename" in config.variants)


def timers(ctl: DaemonSetController) -> list[int]:
    return [ms for _, ms in ctl.queue.waiting] + [e.timer for e in ctl.expectations.values()
                                                  if e.add > 0 or e.delete > 0]


def elapse(ctl: DaemonSetController, dt: int) -> DaemonSetController:
    """Backoffs end (keys re-enter the queue); pending expectations run down and, expired, are dropped and their
    DaemonSet synced (SatisfiedExpectations' isExpired)."""
    queue = _elapse_queue(ctl.queue, dt)
    expectations = ctl.expectations
    for key, exp in ctl.expectations.items():
        if exp.add <= 0 and exp.delete <= 0:
            continue  # fulfilled: no timer runs that matters
        if exp.timer <= dt:
            expectations = expectations.delete(key)
            queue = queue.add(key)
        else:
            expectations = expectations.set(key, attrs.evolve(exp, timer=exp.timer - dt))
    return DaemonSetController(ctl.informers, queue, expectations)


class DaemonSetComponent(Base):
    """The DaemonSet controller (module docstring): slot ``ClusterState.daemonsets`` (None without a DaemonSet);
    steps ``Reconcile`` (one queued DaemonSet's syncDaemonSet, actor "daemonset-controller"); its DaemonSet and
    Node informers' deliveries come through ``spec.reflector`` (actor "kcm-daemonset-informers"), its pods from the
    controller manager's shared pod informer, all weakly fair. Timers: the queue's per-key backoffs and the
    expectations' 5 min timeout. What a controller-manager restart loses: everything (``restart``)."""

    name = "daemonset-controller"
    slot = "daemonsets"
    host = Host.CONTROLLER_MANAGER
    """It runs in kube-controller-manager: a crash restarts it (``restart``)."""

    def actors(self, config: Config) -> tuple[str, ...]:
        return (INFORMER_ACTOR, ACTOR) if has_daemonsets(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        if not has_daemonsets(config):
            return state
        return state._with(daemonsets=restarted(state.etcd, None, state.etcd.revision, shared_pods(state)))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        """After the controller manager's own restart (which relisted the pod informer it shares): everything
        lost, its informers relisted at ``revision``."""
        ctl = state.daemonsets
        if ctl is None:
            return state
        return state._with(daemonsets=restarted(state.etcd, ctl, revision, shared_pods(state)))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        ctl = state.daemonsets
        if ctl is None or not running(state):  # under leader election, only in the acting replica
            return
        pods = shared_pods(state)
        variants = variants_of(config)
        for key in ctl.queue.queue:
            new, failed, etcd, ghost, events = _reconcile(ctl, pods, state.etcd, state.ghost, key, variants)
            yield A.Reconcile(ACTOR, key, failed, events), settle(
                state._with(etcd=etcd, ghost=ghost, daemonsets=new), config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if self.busy(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return state.daemonsets is not None and bool(state.daemonsets.queue.queue) and running(state)

    def timers(self, state: ClusterState) -> list[int]:
        return [] if state.daemonsets is None or not running(state) else timers(state.daemonsets)

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        ctl = state.daemonsets
        if ctl is None or not timers(ctl) or not running(state):
            return state, ()
        fired = ("daemonset controller backoff/expectations",) if dt in timers(ctl) else ()
        return state._with(daemonsets=elapse(ctl, dt)), fired

    def resync(self, state: ClusterState) -> ClusterState:
        """The informers' periodic resync: every cached DaemonSet is delivered as an update to itself (enqueued);
        pods and nodes with an unchanged resourceVersion are ignored by their handlers."""
        ctl = state.daemonsets
        if ctl is None or not running(state):
            return state
        new = _enqueue(ctl, sorted(k for k, o in ctl.informers[0].cache.items() if isinstance(o, DaemonSet)))
        return state if new == ctl else state._with(daemonsets=new)

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): nothing of it (empty
        informers, queue and expectations); the next leader's starts afresh (``restart``)."""
        ctl = state.daemonsets
        if ctl is None:
            return state
        return state._with(daemonsets=DaemonSetController(tuple(informer.fresh(None) for _ in ctl.informers)))

    def watcher(self, state: ClusterState, index: int) -> str:
        return INFORMER_ACTOR

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        ctl = state.daemonsets
        assert ctl is not None
        new = handle(ctl, deltas)
        return state if new is ctl else state._with(daemonsets=new)

    def __repr__(self) -> str:
        return f"<component {self.name}>"


DAEMONSETS = DaemonSetComponent()
