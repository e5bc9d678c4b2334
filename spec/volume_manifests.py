"""Reading PersistentVolumeClaims, PersistentVolumes, StorageClasses, pods' persistentVolumeClaim volumes and
StatefulSets' volumeClaimTemplates from a scenario, with upstream's validation messages.

Upstream: pkg/apis/core/validation/validation.go (ValidatePersistentVolumeClaimSpec: "at least 1 access mode is
required", the supported access modes, spec.resources[storage] required and greater than zero;
ValidatePersistentVolumeSpec: spec.accessModes and spec.capacity required, capacity only "storage", the reclaim
policies, "must specify a volume type", "Local volume requires node affinity"; validateVolumes: volume names
required and unique, a persistentVolumeClaim's claimName required), pkg/apis/storage/validation/validation.go
(ValidateStorageClass: provisioner required, reclaimPolicy Delete or Retain, volumeBindingMode Immediate or
WaitForFirstConsumer), plugin/pkg/admission/storage/storageclass/setdefault (DefaultStorageClass: a claim without
storageClassName gets the default class, the one annotated storageclass.kubernetes.io/is-default-class "true"; with
several, the last one created), pkg/apis/apps/validation (persistentVolumeClaimRetentionPolicy: Retain or Delete).

Modelled: what the PV controller, the provisioner, the scheduler and the kubelet read (``spec.state``: access
modes, storage request and capacity, class, volumeName, claimRef, nodeAffinity, reclaim policy, binding mode,
provisioner). Refused, each with a one-line reason: claim label selectors, data sources, volumeMode Block, the
Recycle reclaim policy, generic ephemeral volumes, the Delete retention policies of StatefulSets. The volume source of
a PersistentVolume (local, csi, nfs, ...) is checked to be there and otherwise ignored.
"""

from __future__ import annotations

from typing import Any

import attrs

from checker.errors import InputError
from checker.text import printable
from spec.quantity import int_value
from spec.scheduling.types import HOSTNAME_LABEL, NodeSelectorTerm
from spec.state import (
    ANN_SELECTED_NODE,
    ClaimRef,
    Object,
    PersistentVolume,
    PersistentVolumeClaim,
    PersistentVolumeStatus,
    StorageClass,
)

TOP_LEVEL = ("apiVersion", "kind", "metadata", "provisioner", "parameters", "reclaimPolicy", "mountOptions",
             "allowVolumeExpansion", "volumeBindingMode", "allowedTopologies")
"""A StorageClass's fields (it has no spec)."""
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
UNSET = "\x00unset"
"""A claim's storageClassName before the DefaultStorageClass admission plugin (``default_classes``) has run."""
VOLUME_SOURCES = ("awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc", "flexVolume",
                  "flocker", "gcePersistentDisk", "glusterfs", "hostPath", "iscsi", "local", "nfs",
                  "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos",
                  "vsphereVolume")


def _supported(field: str, value: object, values: tuple[str, ...]) -> str:
    listed = ", ".join(f'"{v}"' for v in values)
    return f'{field}: Unsupported value: "{printable(value)}": supported values: {listed}'


def _mapping(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where}.{key}: expected a mapping, got {printable(value)}")
    return value


def pod_claims(spec: dict[str, Any], where: str) -> tuple[str, ...]:
    """The claimName of each persistentVolumeClaim volume of a pod spec (other volume types need no control-plane
    action: configMap, secret, emptyDir, ... are accepted and ignored)."""
    raw = spec.get("volumes") or []
    if not isinstance(raw, list):
        raise InputError(f"{where}.volumes: expected a list, got {printable(raw)}")
    names: set[str] = set()
    claims: list[str] = []
    for i, volume in enumerate(raw):
        vw = f"{where}.volumes[{i}]"
        if not isinstance(volume, dict):
            raise InputError(f"{vw}: expected a mapping, got {printable(volume)}")
        name = volume.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{vw}.name: Required value")
        if name in names:
            raise InputError(f'{vw}.name: Duplicate value: "{printable(name)}"')
        names.add(name)
        if volume.get("ephemeral") is not None:
            raise InputError(f"{vw}.ephemeral: generic ephemeral volumes are not modelled (the ephemeral volume "
                             "controller would create their claims); use a persistentVolumeClaim")
        pvc = volume.get("persistentVolumeClaim")
        if pvc is None:
            continue
        if not isinstance(pvc, dict):
            raise InputError(f"{vw}.persistentVolumeClaim: expected a mapping, got {printable(pvc)}")
        claim = pvc.get("claimName")
        if not isinstance(claim, str) or not claim:
            raise InputError(f"{vw}.persistentVolumeClaim.claimName: Required value")
        if claim not in claims:
            claims.append(claim)
    return tuple(claims)


def _access_modes(spec: dict[str, Any], where: str, required_message: str) -> tuple[str, ...]:
    modes = spec.get("accessModes") or []
    if not isinstance(modes, list):
        raise InputError(f"{where}.accessModes: expected a list, got {printable(modes)}")
    if not modes:
        raise InputError(f"{where}.accessModes: Required value{required_message}")
    for m in modes:
        if m not in ACCESS_MODES:
            raise InputError(f"{where}." + _supported("accessModes", m, ACCESS_MODES))
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        raise InputError(f"{where}.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes")
    return tuple(sorted(set(modes)))


def _claim_spec(spec: dict[str, Any], where: str) -> tuple[tuple[str, ...], int, str, str]:
    """(access modes, storage request in bytes, storageClassName or UNSET, volumeName) of a claim spec."""
    for field in ("selector", "dataSource", "dataSourceRef"):
        if spec.get(field):
            raise InputError(f"{where}.{field}: not modelled (the PV controller's matching here reads class, access "
                             "modes and size)")
    if spec.get("volumeMode", "Filesystem") != "Filesystem":
        raise InputError(f"{where}.volumeMode: only Filesystem (the default) is modelled, got "
                         f"{printable(spec.get('volumeMode'))}")
    modes = _access_modes(spec, where, ": at least 1 access mode is required")
    resources = _mapping(spec, "resources", where)
    requests = _mapping(resources, "requests", f"{where}.resources")
    if "storage" not in requests:
        raise InputError(f"{where}.resources[storage]: Required value")
    request = int_value(requests["storage"], f"{where}.resources[storage]")
    if request <= 0:
        raise InputError(f'{where}.resources[storage]: Invalid value: "{printable(requests["storage"])}": must be '
                         "greater than zero")
    cls = spec.get("storageClassName")
    if cls is not None and not isinstance(cls, str):
        raise InputError(f"{where}.storageClassName: expected a string, got {printable(cls)}")
    volume = spec.get("volumeName") or ""
    if not isinstance(volume, str):
        raise InputError(f"{where}.volumeName: expected a string, got {printable(volume)}")
    return modes, request, UNSET if cls is None else cls, volume


def parse_claim(doc: dict[str, Any], where: str) -> PersistentVolumeClaim:
    """A v1 PersistentVolumeClaim (its status is the controller's: ignored)."""
    from spec.scenario import _meta

    meta = _meta(doc, where)
    spec = _mapping(doc, "spec", where)
    modes, request, cls, volume = _claim_spec(spec, f"{where}: spec")
    annotations = dict(meta.annotations)
    selected = annotations.pop(ANN_SELECTED_NODE, "")  # kept in its own field (PersistentVolumeClaim.selected_node)
    return PersistentVolumeClaim(attrs.evolve(meta, annotations=tuple(sorted(annotations.items()))), modes, request,
                                 cls, volume, selected_node=selected)


def claim_templates(spec: dict[str, Any], namespace: str, where: str) -> tuple[PersistentVolumeClaim, ...]:
    """A StatefulSet's spec.volumeClaimTemplates (and its persistentVolumeClaimRetentionPolicy: Retain only)."""
    policy = _mapping(spec, "persistentVolumeClaimRetentionPolicy", f"{where}: spec")
    for field in ("whenDeleted", "whenScaled"):
        value = policy.get(field, "Retain")
        if value not in ("Retain", "Delete"):
            raise InputError(f"{where}: spec.persistentVolumeClaimRetentionPolicy." +
                             _supported(field, value, ("Delete", "Retain")))
        if value != "Retain":
            raise InputError(f"{where}: spec.persistentVolumeClaimRetentionPolicy.{field}: only Retain (the default) "
                             "is modelled, got Delete")
    raw = spec.get("volumeClaimTemplates") or []
    if not isinstance(raw, list):
        raise InputError(f"{where}: spec.volumeClaimTemplates: expected a list, got {printable(raw)}")
    out: list[PersistentVolumeClaim] = []
    from spec.state import Meta

    for i, t in enumerate(raw):
        tw = f"{where}: spec.volumeClaimTemplates[{i}]"
        if not isinstance(t, dict):
            raise InputError(f"{tw}: expected a mapping, got {printable(t)}")
        metadata = _mapping(t, "metadata", tw)
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{tw}.metadata.name: Required value")
        if any(o.meta.name == name for o in out):
            raise InputError(f'{tw}.metadata.name: Duplicate value: "{printable(name)}"')
        modes, request, cls, volume = _claim_spec(_mapping(t, "spec", tw), f"{tw}.spec")
        annotations = tuple(sorted((str(k), str(v)) for k, v in _mapping(metadata, "annotations", tw).items()))
        out.append(PersistentVolumeClaim(Meta(name=name, namespace=namespace, annotations=annotations), modes,
                                         request, cls, volume))
    return tuple(out)


def parse_volume(doc: dict[str, Any], where: str) -> PersistentVolume:
    """A v1 PersistentVolume (cluster-scoped; its status is the controller's: ignored)."""
    from spec.scenario import _meta
    from spec.scheduling.manifests import _node_selector_term

    meta = attrs.evolve(_meta(doc, where), namespace="")
    spec = _mapping(doc, "spec", where)
    sw = f"{where}: spec"
    modes = _access_modes(spec, sw, "")
    capacity = _mapping(spec, "capacity", sw)
    if not capacity:
        raise InputError(f"{sw}.capacity: Required value")
    for k in capacity:
        if k != "storage":
            raise InputError(f"{sw}." + _supported("capacity", k, ("storage",)))
    size = int_value(capacity["storage"], f"{sw}.capacity[storage]")
    policy = spec.get("persistentVolumeReclaimPolicy", "Retain")
    if policy not in RECLAIM_POLICIES:
        raise InputError(f"{sw}." + _supported("persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES))
    if policy == "Recycle":
        raise InputError(f"{sw}.persistentVolumeReclaimPolicy: Recycle is not modelled (deprecated upstream; use "
                         "Delete or Retain)")
    if spec.get("volumeMode", "Filesystem") != "Filesystem":
        raise InputError(f"{sw}.volumeMode: only Filesystem (the default) is modelled")
    sources = [s for s in VOLUME_SOURCES if spec.get(s) is not None]
    if not sources:
        raise InputError(f"{sw}: Required value: must specify a volume type")
    if len(sources) > 1:
        raise InputError(f"{sw}.{sources[1]}: Forbidden: may not specify more than 1 volume type")
    affinity_raw = _mapping(spec, "nodeAffinity", sw)
    terms: tuple[NodeSelectorTerm, ...] | None = None
    required = _mapping(affinity_raw, "required", f"{sw}.nodeAffinity")
    if required:
        raw_terms = required.get("nodeSelectorTerms") or []
        if not isinstance(raw_terms, list) or not raw_terms:
            raise InputError(f"{sw}.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one "
                             "node selector term")
        path = f"{sw}.nodeAffinity.required.nodeSelectorTerms"
        for i, term in enumerate(raw_terms):
            if not isinstance(term, dict):
                raise InputError(f"{path}[{i}]: expected a mapping, got {printable(term)}")
        terms = tuple(_node_selector_term(term, f"{path}[{i}]") for i, term in enumerate(raw_terms))
    if sources[0] == "local" and terms is None:
        raise InputError(f"{sw}.nodeAffinity: Required value: Local volume requires node affinity")
    ref = None
    claim_ref = _mapping(spec, "claimRef", sw)
    if claim_ref:
        name = claim_ref.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"{sw}.claimRef.name: Required value")
        ref = ClaimRef(str(claim_ref.get("namespace") or "default"), name)
    cls = spec.get("storageClassName") or ""
    if not isinstance(cls, str):
        raise InputError(f"{sw}.storageClassName: expected a string, got {printable(cls)}")
    # A volume of the scenario was created before it starts: the PV controller has made it Available (syncVolume:
    # no claimRef, or a claimRef without uid), as it does within a 15 s resync of its creation.
    hostnames = None
    if terms is not None and len(terms) == 1 and not terms[0].match_fields and len(terms[0].match_expressions) == 1:
        req = terms[0].match_expressions[0]
        if req.key == HOSTNAME_LABEL and req.operator == "In":
            hostnames, terms = tuple(sorted(req.values)), None
    return PersistentVolume(meta, size, modes, cls, policy, ref, terms, PersistentVolumeStatus("Available"),
                            hostnames)


def parse_class(doc: dict[str, Any], where: str) -> StorageClass:
    """A storage.k8s.io/v1 StorageClass (cluster-scoped; its fields are top-level)."""
    from spec.scenario import _meta

    meta = attrs.evolve(_meta(doc, where), namespace="")
    provisioner = doc.get("provisioner")
    if not isinstance(provisioner, str) or not provisioner:
        raise InputError(f"{where}: provisioner: Required value")
    policy = doc.get("reclaimPolicy", "Delete")
    if policy not in ("Delete", "Retain"):
        raise InputError(f"{where}: " + _supported("reclaimPolicy", policy, ("Delete", "Retain")))
    mode = doc.get("volumeBindingMode", "Immediate")
    if mode not in BINDING_MODES:
        raise InputError(f"{where}: " + _supported("volumeBindingMode", mode, BINDING_MODES))
    if doc.get("allowedTopologies"):
        raise InputError(f"{where}: allowedTopologies: not modelled (the provisioner's topology is the selected node)")
    return StorageClass(meta, provisioner, policy, mode)


def default_classes(objects: list[Object], source: str) -> list[Object]:
    """The DefaultStorageClass admission plugin on every claim (and claim template) without storageClassName: the
    default class (the last one given, as upstream picks the newest), or none ("")."""
    from spec.state import StatefulSet

    defaults = [o.meta.name for o in objects if isinstance(o, StorageClass)
                and o.meta.annotation(DEFAULT_CLASS_ANNOTATION) == "true"]
    default = defaults[-1] if defaults else ""

    def admitted(claim: PersistentVolumeClaim) -> PersistentVolumeClaim:
        return attrs.evolve(claim, storage_class=default) if claim.storage_class == UNSET else claim

    out: list[Object] = []
    for o in objects:
        if isinstance(o, PersistentVolumeClaim):
            o = admitted(o)
        elif isinstance(o, StatefulSet) and o.volume_claim_templates:
            o = attrs.evolve(o, volume_claim_templates=tuple(admitted(c) for c in o.volume_claim_templates))
        out.append(o)
    return out
