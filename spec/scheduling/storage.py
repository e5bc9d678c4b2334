"""PersistentVolumeClaims, PersistentVolumes and StorageClasses for ``kubespec schedule``: read from a bundle or a
cluster dump, a StatefulSet's volumeClaimTemplates expanded into its pods' claims, and the VolumeBinding plugin
(``spec.scheduling.volumebinding``, shared with the model's scheduler) applied pod by pod with its Reserve.

Upstream: pkg/scheduler/framework/plugins/volumebinding/volume_binding.go and binder.go (PreFilter, Filter:
FindPodVolumes; Reserve: AssumePodVolumes, which assumes each chosen static volume bound to its claim, with the
claim's uid in its claimRef, and each claim to provision annotated with the selected node, in the scheduler's
assume caches, so that the next pods see them), pkg/controller/statefulset/stateful_set_utils.go
(getPersistentVolumeClaims: a claim ``<template>-<statefulset>-<ordinal>`` per template, in the set's namespace;
updateStorage: the pod's volume of the template's name refers to it; createMissingPersistentVolumeClaims: a claim
that exists is used as it is), plugin/pkg/admission/storage/storageclass/setdefault (a claim without
storageClassName gets the default class; ``spec.volume_manifests.default_classes``).

Objects are read with the model's parsers (``spec.volume_manifests``) after strict validation (``spec.strict``),
with what a dump holds and the model refuses taken as the scheduler takes it: uids (a claimRef names the claim's
uid), ``metadata.deletionTimestamp``, a claim's ``status.phase`` (Lost: upstream's PreFilter message) and a
volume's (only Available volumes are bound; a volume without status, as in a bundle, is taken as Available, as the
PV controller makes it within its first sync), reclaim policies (Recycle included: no effect on placement), data
sources (no effect on placement), the beta storage-class annotation (read before ``storageClassName``, as
upstream's GetPersistentVolumeClaimClass). Warned about and ignored, each naming the object: a claim's label selector
(FindMatchingVolume would also require the volume's labels to match it), a StorageClass's allowedTopologies
(checkVolumeProvisions would also require the node to match them), volumeMode Block (FindMatchingVolume would also
require equal volume modes). Not modelled, one warning when a pending pod has claims: storage capacity
(CSIStorageCapacity, ErrReasonNotEnoughSpace), CSI volume limits (NodeVolumeLimits), VolumeZone (zone labels of
volumes), VolumeRestrictions (ReadWriteOncePod). A generic ephemeral volume's claim is ``<pod>-<volume>``
(ephemeral.VolumeClaimName); when it is not among the objects, the ephemeral volume controller creates it from the
volume's template (pkg/controller/volume/ephemeral/controller.go handleVolume), owned by the pod; one among the
objects whose controller is not the pod (its ownerReferences' uid against the pod's uid: a bundle's pod, not created
yet, has none) makes the pod fail PreFilter with ephemeral.VolumeIsForPod's message.

Optimal mode (``spec.scheduling.smt``, ``spec.scheduling.encoding``) restricts each pod's nodes by the same verdict
and gives each unbound claim of a class without provisioner a volume of its own (``claim_choices``), refusing the
cases where that would not be exact; ``matching_errors`` checks a z3 placement independently.

VolumeBinding is applied only when the objects include some StorageClass or PersistentVolume: a bundle or a
``kubectl get all`` dump without them says nothing of how the cluster binds claims, so then the claims are warned
about and pods are placed as if each claim fitted every node (as before this module existed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from checker.errors import InputError
from spec import volume_manifests
from spec.scheduling.types import HOSTNAME_LABEL, NodeInfo, PodInfo
from spec.scheduling.volumebinding import (
    bound_to,
    claim_key,
    claims_of,
    class_key,
    decide,
    fully_bound,
    node_affinity_matches,
    provisionable,
    verdict,
    volume_key,
)
from spec.state import ClaimRef, Key, Object, PersistentVolume, PersistentVolumeClaim, StorageClass

NOT_MODELLED = (
    "storage capacity (CSIStorageCapacity), CSI volume limits (NodeVolumeLimits), volume zone labels (VolumeZone) and "
    "ReadWriteOncePod (VolumeRestrictions) are not modelled: claims are bound and provisioned as if every node had "
    "room for them"
)
NO_STORAGE = (
    "volume binding is not checked: the objects include no StorageClass or PersistentVolume, so how the cluster "
    "binds claims is unknown; pods are placed as if each claim fitted every node"
)

_META_KEYS = ("name", "namespace", "labels", "annotations")
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
"""v1.BetaStorageClassAnnotation: GetPersistentVolumeClaimClass and GetPersistentVolumeClass read it before
spec.storageClassName (objects of old clusters still carry it)."""


@attrs.frozen(eq=False)
class Storage:
    """The claims, volumes and classes the VolumeBinding plugin sees, with what pods placed in this run assumed
    (upstream's pvAssumeCache and pvcAssumeCache): ``annotate`` is PreFilter and Filter for one pod, ``reserve``
    its Reserve on the chosen node."""

    claims: Mapping[Key, PersistentVolumeClaim]
    volumes: Mapping[str, PersistentVolume]
    classes: Mapping[str, StorageClass]
    foreign: frozenset[tuple[str, str]] = frozenset()
    """(pod key, claim name) of generic ephemeral volumes whose claim exists and is not controlled by the pod
    (ephemeral.VolumeIsForPod fails)."""
    reach: dict[str, tuple[str, ...]] = attrs.field(factory=dict, repr=False)
    """A memo: node name -> the volumes whose node affinity matches the node (affinity never changes in a run;
    shared by the Storage objects a run derives)."""

    def get(self, key: Key) -> Object | None:
        kind, _, name = key.partition("/")
        if kind == "persistentvolumeclaims":
            return self.claims.get(key)
        if kind == "persistentvolumes":
            return self.volumes.get(name)
        if kind == "storageclasses":
            return self.classes.get(name)
        return None

    def annotate(self, pod: PodInfo, nodes: Sequence[NodeInfo]) -> PodInfo:
        """``pod`` with VolumeBinding's verdict on ``nodes`` (``PodInfo.volume_binding``; None without claims)."""
        if not pod.claims:
            return pod
        prefilter = verdict(pod.claims, pod.namespace, (), self.get, [])
        for i, name in enumerate(pod.claims):
            if (pod.key, name) in self.foreign:  # podHasPVCs: after the claim's Get, Lost and deletion checks
                before = claims_of(pod.claims[: i + 1], pod.namespace, self.get)
                message = before if isinstance(before, str) else (
                    f"PVC {pod.namespace}/{name} was not created for pod {pod.key} (pod is not owner)")
                return attrs.evolve(pod, volume_binding=(("", message),))
        if prefilter:
            return attrs.evolve(pod, volume_binding=prefilter)
        # node by node, with only the volumes that reach the node and those pre-bound to the pod's claims: the
        # others are never a match there (FindMatchingVolume skips them), so the verdict is the same, faster
        self._index(nodes)
        keys = {(pod.namespace, name) for name in pod.claims}
        prebound = [v for v in self.volumes.values()
                    if v.claim_ref is not None and (v.claim_ref.namespace, v.claim_ref.name) in keys]
        found: list[tuple[str, str]] = []
        for node in nodes:
            near = [self.volumes[name] for name in self.reach[node.name]]
            found.extend(verdict(pod.claims, pod.namespace, (node,), self.get, sorted({*near, *prebound}, key=_name))
                         or ())
        return attrs.evolve(pod, volume_binding=tuple(found))

    def _index(self, nodes: Sequence[NodeInfo]) -> None:
        """Fill ``reach`` for ``nodes`` (a volume pinned by hostname is looked up by the nodes' hostname label)."""
        missing = [n for n in nodes if n.name not in self.reach]
        if not missing:
            return
        by_host: dict[str, list[NodeInfo]] = {}
        for node in missing:
            by_host.setdefault(node.label_map.get(HOSTNAME_LABEL, ""), []).append(node)
        near: dict[str, list[str]] = {n.name: [] for n in missing}
        for volume in self.volumes.values():
            if volume.hostnames is not None:
                candidates = [n for host in volume.hostnames for n in by_host.get(host, ())]
            else:
                candidates = missing
            for node in candidates:
                if node_affinity_matches(volume, node):
                    near[node.name].append(volume.meta.name)
        self.reach.update((name, tuple(names)) for name, names in near.items())

    def reserve(self, pod: PodInfo, node: NodeInfo) -> Storage:
        """AssumePodVolumes for ``pod`` placed on ``node``: the static volumes FindPodVolumes chose there get the
        claim in their claimRef (no other claim matches them any more), the claims to provision get the node as
        their selected node (another pod using the claim then goes to that node or nowhere)."""
        claims = [self.claims.get(claim_key(pod.namespace, name)) for name in pod.claims]
        found = [c for c in claims if c is not None]
        if len(found) != len(claims) or all(fully_bound(c) for c in found):
            return self
        reasons, static, provision = decide(found, node, sorted(self.volumes.values(), key=_name), self.get)
        if reasons:
            return self
        volumes = dict(self.volumes)
        for claim, volume in static:
            ref = ClaimRef(claim.meta.namespace, claim.meta.name, claim.meta.uid)
            volumes[volume.meta.name] = attrs.evolve(volume, claim_ref=ref)
        updated = dict(self.claims)
        for claim in provision:
            updated[claim_key(claim.meta.namespace, claim.meta.name)] = attrs.evolve(claim, selected_node=node.name)
        return Storage(updated, volumes, self.classes, self.foreign, self.reach)


def _name(volume: PersistentVolume) -> str:
    return volume.meta.name


class Uids:
    """metadata.uid strings as the model's integer uids: one number per distinct uid (a claimRef's uid names its
    claim), and a fresh one for each object without a uid (an object of a bundle, not created yet)."""

    def __init__(self) -> None:
        self._known: dict[str, int] = {}
        self._next = 1

    def of(self, uid: object) -> int:
        if isinstance(uid, str) and uid:
            if uid not in self._known:
                self._known[uid] = self._fresh()
            return self._known[uid]
        return self._fresh()

    def _fresh(self) -> int:
        self._next += 1
        return self._next - 1


def _mapping(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return dict(value) if isinstance(value, dict) else {}


def _metadata(doc: Mapping[str, Any]) -> tuple[dict[str, Any], object, bool]:
    """(the object with only the metadata the model's parsers read, its uid, whether it is being deleted)."""
    metadata = _mapping(doc, "metadata")
    kept = {k: v for k, v in metadata.items() if k in _META_KEYS}
    return {**doc, "metadata": kept}, metadata.get("uid"), metadata.get("deletionTimestamp") is not None


def _claim_spec(spec: dict[str, Any], where: str, warnings: list[str]) -> dict[str, Any]:
    """A claim spec without what does not change placement (data sources) and with what is warned about (label
    selector, volumeMode Block) taken out."""
    out = {k: v for k, v in spec.items() if k not in ("dataSource", "dataSourceRef", "volumeAttributesClassName")}
    if out.pop("selector", None):
        warnings.append(f"{where}.selector: label selectors on claims are not modelled: volumes are matched as if "
                        "the claim had none")
    if out.pop("volumeMode", "Filesystem") == "Block":
        warnings.append(f"{where}.volumeMode: Block is not modelled: volumes are matched as if every volume mode "
                        "were Filesystem")
    return out


def read_claim(doc: Mapping[str, Any], where: str, uids: Uids, warnings: list[str]) -> PersistentVolumeClaim:
    """A PersistentVolumeClaim of a bundle or dump (validated strictly before)."""
    clean, uid, deleting = _metadata(doc)
    clean["spec"] = _claim_spec(_mapping(doc, "spec"), f"{where}: spec", warnings)
    beta = _mapping(clean["metadata"], "annotations").get(BETA_CLASS_ANNOTATION)
    if isinstance(beta, str):
        clean["spec"]["storageClassName"] = beta
    claim = volume_manifests.parse_claim(clean, where)
    phase = _mapping(doc, "status").get("phase") or "Pending"
    if phase not in ("Pending", "Bound", "Lost"):
        raise InputError(f"{where}: status.phase: {phase!r} is not Pending, Bound or Lost")
    meta = attrs.evolve(claim.meta, uid=uids.of(uid), deleting=deleting)
    return attrs.evolve(claim, meta=meta, status=attrs.evolve(claim.status, phase=phase))


def read_volume(doc: Mapping[str, Any], where: str, uids: Uids, warnings: list[str]) -> PersistentVolume:
    """A PersistentVolume of a bundle or dump (validated strictly before)."""
    clean, _, deleting = _metadata(doc)
    spec = _mapping(doc, "spec")
    spec.pop("persistentVolumeReclaimPolicy", None)  # what happens after release: no effect on placement
    if spec.pop("volumeMode", "Filesystem") == "Block":
        warnings.append(f"{where}: spec.volumeMode: Block is not modelled: claims are matched as if every volume "
                        "mode were Filesystem")
    ref_raw = _mapping(spec, "claimRef")
    beta = _mapping(clean["metadata"], "annotations").get(BETA_CLASS_ANNOTATION)
    if isinstance(beta, str):
        spec["storageClassName"] = beta
    clean["spec"] = spec
    volume = volume_manifests.parse_volume(clean, where)
    phase = _mapping(doc, "status").get("phase") or "Available"
    if phase not in ("Pending", "Available", "Bound", "Released", "Failed"):
        raise InputError(f"{where}: status.phase: {phase!r} is not Pending, Available, Bound, Released or Failed")
    ref = volume.claim_ref
    if ref is not None and ref_raw.get("uid"):
        ref = attrs.evolve(ref, uid=uids.of(ref_raw["uid"]))
    meta = attrs.evolve(volume.meta, deleting=deleting)
    return attrs.evolve(volume, meta=meta, claim_ref=ref, status=attrs.evolve(volume.status, phase=phase))


def read_class(doc: Mapping[str, Any], where: str, warnings: list[str]) -> StorageClass:
    """A StorageClass of a bundle or dump (validated strictly before)."""
    clean, _, _ = _metadata(doc)
    if clean.pop("allowedTopologies", None):
        warnings.append(f"{where}: allowedTopologies: not modelled: its provisioner is taken to provision on every "
                        "node")
    return volume_manifests.parse_class(clean, where)


def claim_templates(spec: Mapping[str, Any], namespace: str, where: str, warnings: list[str]
                    ) -> tuple[PersistentVolumeClaim, ...]:
    """A StatefulSet's spec.volumeClaimTemplates (names, access modes, requests, classes), read as the model does
    (``spec.volume_manifests.claim_templates``); its retention policy does not change placement."""
    templates = []
    for i, raw in enumerate(spec.get("volumeClaimTemplates") or []):
        if isinstance(raw, dict):
            raw = {**raw, "spec": _claim_spec(_mapping(raw, "spec"), f"{where}: spec.volumeClaimTemplates[{i}].spec",
                                              warnings)}
        templates.append(raw)
    return volume_manifests.claim_templates({"volumeClaimTemplates": templates}, namespace, where)


def statefulset_claim(template: PersistentVolumeClaim, statefulset: str, ordinal: int, uids: Uids
                      ) -> PersistentVolumeClaim:
    """The claim the StatefulSet controller creates for ``template`` and the pod of ``ordinal``
    (getPersistentVolumeClaimName: ``<template>-<statefulset>-<ordinal>``)."""
    name = f"{template.meta.name}-{statefulset}-{ordinal}"
    return attrs.evolve(template, meta=attrs.evolve(template.meta, name=name, uid=uids.of(None)))


def ephemeral_claim(template: Mapping[str, Any], name: str, namespace: str, where: str, uids: Uids,
                    warnings: list[str]) -> PersistentVolumeClaim:
    """The claim the ephemeral volume controller creates for a pod's generic ephemeral volume: ``name``
    (``<pod>-<volume>``), the template's labels, annotations and spec."""
    metadata = _mapping(template, "metadata")
    doc = {"metadata": {"name": name, "namespace": namespace,
                        **{k: v for k, v in metadata.items() if k in ("labels", "annotations")}},
           "spec": _mapping(template, "spec")}
    if not doc["spec"]:
        raise InputError(f"{where}.spec: Required value")
    return read_claim(doc, where, uids, warnings)


def storage_of(claims: Sequence[PersistentVolumeClaim], volumes: Sequence[PersistentVolume],
               classes: Sequence[StorageClass], foreign: frozenset[tuple[str, str]] = frozenset()) -> Storage:
    """The Storage of the objects read, claims without storageClassName given the default class (the
    DefaultStorageClass admission plugin; the PV controller does the same for older claims)."""
    objects: list[Object] = volume_manifests.default_classes([*classes, *claims], "")
    admitted = [o for o in objects if isinstance(o, PersistentVolumeClaim)]
    return Storage({claim_key(c.meta.namespace, c.meta.name): c for c in admitted},
                   {v.meta.name: v for v in volumes}, {c.meta.name: c for c in classes}, foreign)


def storage_warnings(storage: Storage, pods: Sequence[PodInfo]) -> list[str]:
    """What the run cannot do for the pending pods' claims, said once each: a claim naming a class that is not
    among the objects, a bound claim whose volume is not, an unbound claim that binds Immediate (the PV controller,
    not run here, binds it first), and the plugins not modelled."""
    out: list[str] = []
    seen: set[Key] = set()
    for pod in pods:
        for name in pod.claims:
            key = claim_key(pod.namespace, name)
            claim = storage.claims.get(key)
            if claim is None or key in seen:
                continue
            seen.add(key)
            label = f"PersistentVolumeClaim {claim.meta.namespace}/{claim.meta.name}"
            cls = storage.get(class_key(claim.storage_class)) if claim.storage_class else None
            if claim.storage_class and cls is None:
                out.append(f'{label}: StorageClass "{claim.storage_class}" is not among the objects: the claim binds '
                           "Immediate, as upstream's IsDelayBindingMode takes a missing class")
            if fully_bound(claim) and storage.get(volume_key(claim.volume_name)) is None:
                out.append(f'{label}: bound to PersistentVolume "{claim.volume_name}", which is not among the objects')
            elif not fully_bound(claim) and (claim.volume_name or not isinstance(cls, StorageClass)
                                             or cls.volume_binding_mode != "WaitForFirstConsumer"):
                out.append(f"{label}: not bound and binds Immediate: the PV controller (not run here) binds or "
                           "provisions it before its pods can be scheduled, so they stay pending (upstream's PreFilter "
                           "message)")
    if seen:
        out.append(NOT_MODELLED)
    return out


# --- optimal mode (``spec.scheduling.smt``) ---------------------------------------------------------------------


@attrs.frozen
class ClaimChoice:
    """An unbound WaitForFirstConsumer claim without a selected node, of a class that does not provision, used by
    one pending pod: placed on node n, the pod needs one of ``volumes`` (name, the nodes it reaches) that no other
    claim holds. The z3 encoding gives each such claim at most one volume and each volume at most one claim."""

    claim: str
    pod: str
    volumes: tuple[tuple[str, frozenset[str]], ...]


def candidates(storage: Storage, claim: PersistentVolumeClaim) -> list[PersistentVolume]:
    """The volumes FindMatchingVolume may give ``claim`` on some node: the first volume pre-bound to it that fits
    (it alone: on another node there is no match), else every Available, unclaimed volume that fits."""
    fitting = [v for v in sorted(storage.volumes.values(), key=_name) if not v.meta.deleting
               and v.storage_class == claim.storage_class and v.capacity >= claim.request
               and set(claim.access_modes) <= set(v.access_modes)]
    prebound = [v for v in fitting if v.claim_ref is not None and bound_to(v, claim)]
    if prebound:
        return prebound[:1]
    return [v for v in fitting if v.claim_ref is None and v.status.phase == "Available"]


def claim_choices(storage: Storage, pods: Sequence[PodInfo], nodes: Sequence[NodeInfo]
                  ) -> tuple[tuple[ClaimChoice, ...], str]:
    """For optimal mode, from pods annotated by ``Storage.annotate``: the claims whose volumes pods compete for
    (``ClaimChoice``), or why the encoding would not be exact ("" when it is). Exact: a claim bound, selected for
    a node, refused at PreFilter or provisionable on every node restricts its pod's nodes alone (the pod's
    verdict); an unbound claim of a class without provisioner needs a volume of its own. Not exact, hence
    refused: such a claim shared by several pending pods (the first pod placed decides the volume for the
    others), and a pod with several unbound claims whose candidate volumes overlap (findMatchingVolumes' greedy
    choice, smallest claim first, may fail where another assignment fits)."""
    users: dict[Key, list[PodInfo]] = {}
    for pod in pods:
        if pod.volume_binding and any(not where for where, _ in pod.volume_binding):
            continue  # refused at PreFilter: never placed
        for name in pod.claims:
            users.setdefault(claim_key(pod.namespace, name), []).append(pod)
    choices: list[ClaimChoice] = []
    open_claims: dict[str, list[tuple[str, set[str]]]] = {}
    for key, using in users.items():
        claim = storage.claims.get(key)
        if claim is None or fully_bound(claim) or claim.selected_node or claim.volume_name:
            continue
        label = f"{claim.meta.namespace}/{claim.meta.name}"
        if len(using) > 1:
            return (), (f"claim {label} is unbound and used by {len(using)} pending pods ({using[0].key}, ...): the "
                        "first one placed decides its volume for the others, which the z3 encoding does not model")
        found = candidates(storage, claim)
        open_claims.setdefault(using[0].key, []).append((label, {v.meta.name for v in found}))
        if provisionable(claim, storage.get):
            continue
        reach = tuple((v.meta.name, frozenset(n.name for n in nodes if node_affinity_matches(v, n))) for v in found)
        choices.append(ClaimChoice(label, using[0].key, reach))
    for key, claims in open_claims.items():
        for i, (first, a) in enumerate(claims):
            for second, b in claims[i + 1:]:
                if a & b:
                    return (), (f"pod {key} has unbound claims {first} and {second} that may take the same volumes: "
                                "upstream's greedy choice among them is not modelled by the z3 encoding")
    return tuple(choices), ""


def matching_errors(choices: Sequence[ClaimChoice], assignment: Mapping[str, str]) -> dict[str, str]:
    """Pod key -> error for placed pods whose claims cannot all get distinct volumes reachable from their nodes (a
    bipartite matching, Kuhn's augmenting paths): the independent check of a z3 placement."""
    placed = [c for c in choices if c.pod in assignment]
    holder: dict[str, int] = {}

    def augment(i: int, seen: set[str]) -> bool:
        for volume, reach in placed[i].volumes:
            if assignment[placed[i].pod] not in reach or volume in seen:
                continue
            seen.add(volume)
            if volume not in holder or augment(holder[volume], seen):
                holder[volume] = i
                return True
        return False

    return {c.pod: f"VolumeBinding: no free volume for claim {c.claim}" for i, c in enumerate(placed)
            if not augment(i, set())}
