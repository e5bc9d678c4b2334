"""The scheduler's VolumeBinding plugin: PreFilter and Filter over a pod's PersistentVolumeClaims, and the
Reserve/PreBind decisions (which static volume to bind to each unbound claim on the chosen node, or which claims to
hand to their provisioner there).

Upstream: pkg/scheduler/framework/plugins/volumebinding/volume_binding.go (podHasPVCs: "persistentvolumeclaim %q
not found", "... is being deleted", "... bound to non-existent persistentvolume %q"; PreFilter: "pod has unbound
immediate PersistentVolumeClaims", UnschedulableAndUnresolvable; Filter: FindPodVolumes' reasons, every one
UnschedulableAndUnresolvable; Reserve: AssumePodVolumes; PreBind: BindPodVolumes), binder.go (GetPodVolumeClaims:
bound, unbound delay-binding and unbound immediate claims; FindPodVolumes: checkBoundClaims (the bound volumes'
node affinity: ErrReasonNodeConflict, ErrReasonPVNotExist), findMatchingVolumes (the selected-node fast path, then
pvutil.FindMatchingVolume among the class's volumes on this node, none chosen twice: ErrReasonBindConflict) and
checkVolumeProvisions (a class whose provisioner is not kubernetes.io/no-provisioner); bindAPIUpdate: the PV's
claimRef with the claim's uid and the bound-by-controller annotation, the claim's selected-node annotation;
checkBindings: every claim fully bound), pkg/controller/volume/persistentvolume/util (FindMatchingVolume: a volume
pre-bound to the claim first; otherwise only Available, unclaimed volumes of the claim's class whose access modes
include the claim's and whose capacity covers its request, the smallest; CheckNodeAffinity).

This is the one definition of the plugin: the model's scheduler (``spec.scheduler``) computes ``verdict`` for the pod
of each scheduling cycle from its informer's claims, volumes and classes and hands it to the shared scheduling
cycle in ``PodInfo.volume_binding`` (``spec.scheduling.filters.volume_binding`` reads it); ``kubespec schedule``
does the same pod by pod on the bundle's claims, volumes and classes, and its Reserve (AssumePodVolumes) in
``spec.scheduling.storage``.
Abstracted: the assume cache (upstream's pvAssumeCache/pvcAssumeCache hold the scheduler's own pending writes):
PreBind decides from the informer's view and checks what it already wrote, and its wait for the binding
(checkBindings), on the API server's objects (``prebind``). Omitted: storage capacity tracking (CSIStorageCapacity:
ErrReasonNotEnoughSpace), the class's allowedTopologies, CSINode volume limits, label selectors on claims, the
10 min bindTimeoutSeconds, generic ephemeral volumes, the Score (VolumeCapacityPriority is off by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import attrs

from spec.apiserver import Session
from spec.scheduling.types import HOSTNAME_LABEL, NodeInfo, Pairs, pairs
from spec.state import (
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    NO_PROVISIONER,
    ClaimRef,
    Key,
    Object,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
    with_meta,
)

PLUGIN = "VolumeBinding"
REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
REASON_PV_NOT_EXIST = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"

Get = Callable[[Key], "Object | None"]


def claim_key(namespace: str, name: str) -> Key:
    return f"persistentvolumeclaims/{namespace}/{name}"


def volume_key(name: str) -> Key:
    return f"persistentvolumes/{name}"


def class_key(name: str) -> Key:
    return f"storageclasses/{name}"


def fully_bound(claim: PersistentVolumeClaim) -> bool:
    """isPVCFullyBound: spec.volumeName set and the bind-completed annotation."""
    return bool(claim.volume_name) and claim.meta.annotation(ANN_BIND_COMPLETED) is not None


def delay_binding(claim: PersistentVolumeClaim, get: Get) -> bool:
    """volume.IsDelayBindingMode: the claim's class exists and binds WaitForFirstConsumer (no class, or a class
    not found: Immediate)."""
    cls = get(class_key(claim.storage_class)) if claim.storage_class else None
    return isinstance(cls, StorageClass) and cls.volume_binding_mode == WAIT_FOR_FIRST_CONSUMER


def provisionable(claim: PersistentVolumeClaim, get: Get) -> bool:
    """checkVolumeProvisions: the claim's class exists and has a provisioner that provisions."""
    cls = get(class_key(claim.storage_class)) if claim.storage_class else None
    return isinstance(cls, StorageClass) and cls.provisioner != NO_PROVISIONER


def node_affinity_matches(volume: PersistentVolume, node: NodeInfo) -> bool:
    """volumeutil.CheckNodeAffinity: the volume's required node selector terms (ORed) match the node."""
    if volume.hostnames is not None and node.label_map.get(HOSTNAME_LABEL) not in volume.hostnames:
        return False
    terms = volume.node_affinity
    return terms is None or any(t.matches(node.label_map, node.name) for t in terms)


def bound_to(volume: PersistentVolume, claim: PersistentVolumeClaim) -> bool:
    """IsVolumeBoundToClaim: claimRef names the claim (and its uid, when the claimRef has one)."""
    ref = volume.claim_ref
    return (ref is not None and ref.name == claim.meta.name and ref.namespace == claim.meta.namespace
            and (ref.uid == 0 or ref.uid == claim.meta.uid))


def find_matching_volume(claim: PersistentVolumeClaim, volumes: Iterable[PersistentVolume], node: NodeInfo | None,
                         excluded: frozenset[str], delay: bool) -> PersistentVolume | None:
    """pvutil.FindMatchingVolume: a volume pre-bound to the claim (if it fits: class, access modes, capacity; on
    ``node``, its node affinity must match, or there is no match at all, as upstream returns nil there); else the
    smallest Available, unclaimed volume of the claim's class that fits on ``node`` (None: the PV controller's
    call, which never binds an unbound volume to a WaitForFirstConsumer claim)."""
    best: PersistentVolume | None = None
    for volume in sorted(volumes, key=lambda v: v.meta.name):
        if volume.meta.name in excluded or volume.meta.deleting:
            continue
        fits = (volume.storage_class == claim.storage_class and volume.capacity >= claim.request
                and set(claim.access_modes) <= set(volume.access_modes))
        if volume.claim_ref is not None and bound_to(volume, claim):
            if not fits:
                continue
            return volume if node is None or node_affinity_matches(volume, node) else None
        if node is None and delay:
            continue
        if volume.claim_ref is not None or volume.status.phase != "Available" or not fits:
            continue
        if node is not None and not node_affinity_matches(volume, node):
            continue
        if best is None or volume.capacity < best.capacity:
            best = volume
    return best


def claims_of(claims: Sequence[str], namespace: str, get: Get) -> list[PersistentVolumeClaim] | str:
    """podHasPVCs: the pod's claims, or the error that rejects it."""
    out = []
    for name in claims:
        claim = get(claim_key(namespace, name))
        if not isinstance(claim, PersistentVolumeClaim):
            return f'persistentvolumeclaim "{name}" not found'
        if claim.status.phase == "Lost":
            return f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume "{claim.volume_name}"'
        if claim.meta.deleting:
            return f'persistentvolumeclaim "{name}" is being deleted'
        out.append(claim)
    return out


def decide(claims: Sequence[PersistentVolumeClaim], node: NodeInfo, volumes: Sequence[PersistentVolume], get: Get
           ) -> tuple[list[str], list[tuple[PersistentVolumeClaim, PersistentVolume]], list[PersistentVolumeClaim]]:
    """FindPodVolumes on one node: (reasons, static bindings, claims to provision). As upstream: checkBoundClaims
    stops at the first bound claim whose volume is missing (ErrReasonPVNotExist) or does not match the node
    (ErrReasonNodeConflict); an unbound claim whose selected node is another node fails the node at once (the fast
    path); findMatchingVolumes takes the other unbound claims smallest request first (byPVCSize), no volume
    chosen twice; checkVolumeProvisions stops at the first unmatched claim whose class does not provision."""
    reasons: list[str] = []
    static: list[tuple[PersistentVolumeClaim, PersistentVolume]] = []
    provision: list[PersistentVolumeClaim] = []
    for claim in claims:
        if not fully_bound(claim):
            continue
        volume = get(volume_key(claim.volume_name))
        if not isinstance(volume, PersistentVolume):
            reasons.append(REASON_PV_NOT_EXIST)
            break
        if not node_affinity_matches(volume, node):
            reasons.append(REASON_NODE_CONFLICT)
            break
    unbound = [c for c in claims if not fully_bound(c)]
    if any(c.selected_node and c.selected_node != node.name for c in unbound):
        return sorted([*reasons, REASON_BIND_CONFLICT]), [], []
    provision = [c for c in unbound if c.selected_node]
    chosen: set[str] = set()
    for claim in sorted((c for c in unbound if not c.selected_node), key=lambda c: c.request):
        match = find_matching_volume(claim, volumes, node, frozenset(chosen), True)
        if match is not None:
            chosen.add(match.meta.name)
            static.append((claim, match))
        else:
            provision.append(claim)
    if any(not provisionable(c, get) for c in provision):
        return sorted([*reasons, REASON_BIND_CONFLICT]), static, []
    return sorted(reasons), static, provision


def verdict(claims: Sequence[str], namespace: str, nodes: Sequence[NodeInfo], get: Get,
            volumes: Sequence[PersistentVolume]) -> tuple[tuple[str, str], ...] | None:
    """The plugin's verdict for a pod with ``claims`` (``PodInfo.volume_binding``): ("", reason) when PreFilter
    rejects it, else (node, reason) for each reason Filter gives on each node; None without claims (Skip)."""
    if not claims:
        return None
    found = claims_of(claims, namespace, get)
    if isinstance(found, str):
        return (("", found),)
    if any(not fully_bound(c) and (not delay_binding(c, get) or c.volume_name) for c in found):
        return (("", REASON_UNBOUND_IMMEDIATE),)  # GetPodVolumeClaims: a pre-bound claim counts as immediate
    out: list[tuple[str, str]] = []
    for node in nodes:
        reasons, _, _ = decide(found, node, volumes, get)
        out.extend((node.name, r) for r in reasons)
    return tuple(out)


def all_bound(claims: Sequence[str], namespace: str, get: Get) -> bool:
    """checkBindings' success: every claim exists and is fully bound to a volume that is bound to it."""
    for name in claims:
        claim = get(claim_key(namespace, name))
        if not isinstance(claim, PersistentVolumeClaim) or not fully_bound(claim):
            return False
        volume = get(volume_key(claim.volume_name))
        if not isinstance(volume, PersistentVolume) or volume.claim_ref is None \
                or volume.claim_ref.uid != claim.meta.uid:
            return False
    return True


def prebind(claims: Sequence[str], namespace: str, node: NodeInfo, get: Get, volumes: Sequence[PersistentVolume],
            session: Session) -> tuple[str, tuple[str, ...]]:
    """PreBind (BindPodVolumes) for a pod assumed on ``node``: ("bound", ()) when checkBindings holds (the binding
    cycle goes on to Bind); ("wait", ()) while the API updates it made wait for the PV controller and the provisioner
    (no step); ("wrote", events) after bindAPIUpdate (each static volume's claimRef, each provisioned claim's
    selected-node annotation, decided from the informer's view ``get``/``volumes``: FindPodVolumes on this node);
    ("failed", (message,)) when a write was refused or nothing fits any more (the pod is forgotten and retried,
    as upstream's PreBind error does: Unreserve, then the scheduling queue's backoff)."""
    current = session.get
    if all_bound(claims, namespace, current):
        return "bound", ()
    found = claims_of(claims, namespace, get)
    if isinstance(found, str):
        return "failed", (found,)
    pending = []
    for claim in found:
        latest = current(claim_key(namespace, claim.meta.name))
        if not isinstance(latest, PersistentVolumeClaim) or latest.meta.uid != claim.meta.uid:
            return "failed", (f'persistentvolumeclaim "{claim.meta.name}" not found',)
        written = latest.selected_node == node.name or any(
            isinstance(v, PersistentVolume) and v.claim_ref is not None and v.claim_ref.uid == claim.meta.uid
            for v in session.etcd.of("persistentvolumes"))
        if not fully_bound(latest) and not written:
            pending.append(claim)
    if not pending:
        return "wait", ()
    reasons, static, provision = decide(pending, node, volumes, get)
    if reasons:
        return "failed", (", ".join(reasons),)
    events = []
    for claim, volume in static:
        bound = with_meta(volume, annotations=_annotated(volume.meta.annotations, ANN_BOUND_BY_CONTROLLER, "yes"))
        assert isinstance(bound, PersistentVolume)
        response = session.update(attrs.evolve(bound, claim_ref=ClaimRef(namespace, claim.meta.name,
                                                                           claim.meta.uid)))
        if not response.ok:
            return "failed", (f"binding volumes: {response.message}",)
        events.append(f"bound volume {volume.meta.name} to claim {claim.meta.name}")
    for claim in provision:
        if claim.selected_node == node.name:
            continue
        response = session.update(attrs.evolve(claim, selected_node=node.name))
        if not response.ok:
            return "failed", (f"binding volumes: {response.message}",)
        events.append(f"selected node {node.name} for claim {claim.meta.name}")
    return "wrote", tuple(events)


def _annotated(annotations: Pairs, key: str, value: str) -> Pairs:
    return pairs({**dict(annotations), key: value})
