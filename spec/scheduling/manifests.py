"""Kubernetes YAML manifests -> NodeInfo / PodInfo, with the API server's defaulting the scheduler relies on.

Kinds: Node, Pod, Deployment, ReplicaSet, ReplicationController, StatefulSet, Job, DaemonSet (expanded into the
pods their controllers would create now, besides those already present), Namespace (labels for
namespaceSelector), PriorityClass (priorityClassName), Service (selectors for the default topology spreading),
PodDisruptionBudget (preemption), PersistentVolumeClaim, PersistentVolume and StorageClass (VolumeBinding:
``spec.scheduling.storage``; a StatefulSet's volumeClaimTemplates become its pods' claims) and ``List``. Kinds
without effect on placement (ServiceAccount, ConfigMap, Secret, Ingress, NetworkPolicy, HorizontalPodAutoscaler,
RBAC, ...) are validated and skipped, with one note; kinds that would change placement and are not modelled
(ResourceClaim, RuntimeClass, LimitRange, ResourceQuota) and, when the objects hold no StorageClass or
PersistentVolume, pods' claims (generic ephemeral volumes' included) are warnings saying what is ignored;
custom resources are listed in a warning, unread. Every object is validated strictly first
(spec.strict: unknown fields are errors). Every error is an InputError naming the file, the document and the
field.

Upstream: pod requests as component-helpers/resource/helpers.go PodRequests (containers summed, init containers
and sidecars per KEP-753, overhead added, pod-level requests override); defaulting of requests from limits and of
hostPort under hostNetwork as pkg/apis/core/v1/defaults.go; pod names of workloads as the controllers create them
(StatefulSet: ``<name>-<ordinal>``; ReplicaSet: ``<name>-<5 chars>``; Deployment: ``<name>-<pod-template-hash>-
<5 chars>``), with deterministic suffixes instead of random ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from checker.errors import InputError
from checker.files import read_text
from spec.quantity import int_value, milli_value
from spec.scheduling.filters import matches_node_selector_and_affinity, untolerated_taint
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.storage import (
    NO_STORAGE,
    Storage,
    Uids,
    claim_templates,
    ephemeral_claim,
    read_claim,
    read_class,
    read_volume,
    statefulset_claim,
    storage_of,
    storage_warnings,
)
from spec.scheduling.types import (
    Affinity,
    DisruptionBudget,
    FieldSelectorRequirement,
    HostPort,
    LabelSelector,
    LabelSelectorRequirement,
    NodeInfo,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Pairs,
    PodAffinityTerm,
    PodInfo,
    PreferredSchedulingTerm,
    Resources,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    WeightedPodAffinityTerm,
    pairs,
)
from spec.state import PersistentVolume, PersistentVolumeClaim, StorageClass
from spec.strict import schema_of, validate_object, validate_value
from spec.yamldocs import yaml_documents

DEFAULT_MAX_PODS = 110
"""kubelet's default --max-pods, used when a node's allocatable does not list ``pods``."""
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
"""Upstream: pkg/scheduler/util/pod_resources.go (the non-zero defaults used by scoring)."""

_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""Upstream: apimachinery/pkg/util/rand SafeEncodeString alphabet."""


@attrs.frozen
class Cluster:
    """Everything read from the manifests: nodes, pods (creation order; pending ones have no node_name),
    namespaces, disruption budgets, and the notes and warnings about what was skipped or is not modelled."""

    nodes: tuple[NodeInfo, ...]
    pods: tuple[PodInfo, ...]
    namespaces: tuple[tuple[str, Pairs], ...] = ()
    budgets: tuple[DisruptionBudget, ...] = ()
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    storage: Storage | None = None
    """Claims, volumes and classes for VolumeBinding; None when the objects hold no StorageClass or
    PersistentVolume (claims are then warned about and not checked)."""

    @property
    def pending(self) -> tuple[PodInfo, ...]:
        """Unbound pods the scheduler would take: not gated (spec.schedulingGates) and not being deleted."""
        return tuple(p for p in self.pods if not p.node_name and not p.scheduling_gates and not p.terminating)

    @property
    def waiting(self) -> tuple[PodInfo, ...]:
        """Unbound pods the scheduler leaves alone: gated (SchedulingGated) or being deleted."""
        return tuple(p for p in self.pods if not p.node_name and (p.scheduling_gates or p.terminating))

    @property
    def bound(self) -> tuple[PodInfo, ...]:
        return tuple(p for p in self.pods if p.node_name)

    def snapshot(self) -> Snapshot:
        """The bound pods on their nodes."""
        return Snapshot.build(self.nodes, self.bound, self.namespaces)


# --- small typed accessors -------------------------------------------------------------------------------------


def _get(doc: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = None) -> Any:
    value = doc.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int,))):
        expected = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", bool: "a boolean"}
        name = expected.get(kind, "a string") if isinstance(kind, type) else "a scalar"
        raise InputError(f"{where}.{key}: expected {name}, got {value!r}")
    return value


def _check_keys(doc: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in doc:
        if key not in allowed:
            raise InputError(f"{where}: unknown field {key!r} (known: {', '.join(allowed)})")


def _string_map(doc: Mapping[str, Any], key: str, where: str) -> Pairs:
    raw = _get(doc, key, dict, where, {})
    for k, v in raw.items():
        if not isinstance(v, str | int | float) or isinstance(v, bool):
            raise InputError(f"{where}.{key}.{k}: expected a string, got {v!r}")
    return pairs({str(k): str(v) for k, v in raw.items()})


def _items(doc: Mapping[str, Any], key: str, where: str) -> list[tuple[str, dict[str, Any]]]:
    raw = _get(doc, key, list, where, [])
    out = []
    for i, item in enumerate(raw):
        path = f"{where}.{key}[{i}]"
        if not isinstance(item, dict):
            raise InputError(f"{path}: expected a mapping, got {item!r}")
        out.append((path, item))
    return out


def _strings(doc: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    raw = _get(doc, key, list, where, [])
    return tuple(str(v) for v in raw)


def _resources(raw: Mapping[str, Any], where: str, node: bool = False) -> Resources:
    cpu = memory = storage = 0
    pods = DEFAULT_MAX_PODS if node else 0
    scalar: dict[str, int] = {}
    for name, value in raw.items():
        path = f"{where}.{name}"
        if name == "cpu":
            cpu = milli_value(value, path)
            amount = cpu
        elif name == "memory":
            memory = amount = int_value(value, path)
        elif name == "ephemeral-storage":
            storage = amount = int_value(value, path)
        elif name == "pods":
            pods = amount = int_value(value, path)
        else:
            scalar[str(name)] = amount = int_value(value, path)
        if amount < 0:
            raise InputError(f"{path}: must be greater than or equal to 0, got {value!r}")
    return Resources(cpu, memory, storage, pods, tuple(sorted(scalar.items())))


# --- nodes -------------------------------------------------------------------------------------------------


def parse_node(doc: Mapping[str, Any], where: str, validate: bool = True) -> NodeInfo:
    """A Node manifest. Allocatable falls back to capacity; ``pods`` defaults to 110 (kubelet's --max-pods).

    With ``validate``, the object is first checked strictly (spec.strict: unknown fields are errors)."""
    if validate:
        validate_value(doc, "V1Node", where)
    metadata = _get(doc, "metadata", dict, where, {})
    name = _get(metadata, "name", str, f"{where}: metadata")
    if not name:
        raise InputError(f"{where}: metadata.name: required")
    spec = _get(doc, "spec", dict, where, {})
    status = _get(doc, "status", dict, where, {})
    allocatable = _get(status, "allocatable", dict, f"{where}: status") or _get(
        status, "capacity", dict, f"{where}: status", {}
    )
    taints = []
    for path, raw in _items(spec, "taints", f"{where}: spec"):
        _check_keys(raw, ("key", "value", "effect", "timeAdded"), path)
        effect = raw.get("effect")
        if effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise InputError(f"{path}.effect: {effect!r} is not NoSchedule, PreferNoSchedule or NoExecute")
        taints.append(Taint(str(_get(raw, "key", str, path, "")), str(raw.get("value", "") or ""), effect))
    images = []
    for path, raw in _items(status, "images", f"{where}: status"):
        images.append((_strings(raw, "names", path), int(_get(raw, "sizeBytes", int, path, 0))))
    return NodeInfo(
        name=name,
        labels=_string_map(metadata, "labels", f"{where}: metadata"),
        taints=tuple(taints),
        allocatable=_resources(allocatable, f"{where}: status.allocatable", node=True),
        unschedulable=bool(_get(spec, "unschedulable", bool, f"{where}: spec", False)),
        images=tuple(images),
    )


# --- selectors and affinity --------------------------------------------------------------------------------

_OPS_LABEL = ("In", "NotIn", "Exists", "DoesNotExist")
_OPS_NODE = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def _requirement(raw: Mapping[str, Any], path: str, ops: tuple[str, ...]) -> tuple[str, str, tuple[str, ...]]:
    _check_keys(raw, ("key", "operator", "values"), path)
    key = _get(raw, "key", str, path)
    op = raw.get("operator")
    if not key:
        raise InputError(f"{path}.key: required")
    if op not in ops:
        raise InputError(f"{path}.operator: {op!r} is not one of {', '.join(ops)}")
    values = _strings(raw, "values", path)
    if op in ("In", "NotIn") and not values:
        raise InputError(f"{path}.values: must be non-empty for operator {op}")
    if op in ("Exists", "DoesNotExist") and values:
        raise InputError(f"{path}.values: must be empty for operator {op}")
    if op in ("Gt", "Lt") and len(values) != 1:
        raise InputError(f"{path}.values: must have exactly one integer for operator {op}")
    return key, op, values


def parse_label_selector(raw: Any, where: str) -> LabelSelector | None:
    """A metav1.LabelSelector; None when absent (which matches nothing where upstream uses it)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a mapping, got {raw!r}")
    _check_keys(raw, ("matchLabels", "matchExpressions"), where)
    exprs = tuple(
        LabelSelectorRequirement(*_requirement(item, path, _OPS_LABEL))
        for path, item in _items(raw, "matchExpressions", where)
    )
    return LabelSelector(_string_map(raw, "matchLabels", where), exprs)


def _node_selector_term(raw: Mapping[str, Any], path: str) -> NodeSelectorTerm:
    _check_keys(raw, ("matchExpressions", "matchFields"), path)
    exprs = tuple(
        NodeSelectorRequirement(*_requirement(i, p, _OPS_NODE)) for p, i in _items(raw, "matchExpressions", path)
    )
    fields = []
    for p, item in _items(raw, "matchFields", path):
        key, op, values = _requirement(item, p, ("In", "NotIn"))
        if key != "metadata.name":
            raise InputError(f"{p}.key: only metadata.name is supported in matchFields, got {key!r}")
        fields.append(FieldSelectorRequirement(key, op, values))
    return NodeSelectorTerm(exprs, tuple(fields))


def _with_label_keys(
    selector: LabelSelector | None, labels: Mapping[str, str], match: tuple[str, ...], mismatch: tuple[str, ...]
) -> LabelSelector | None:
    """matchLabelKeys / mismatchLabelKeys merged into the selector, as the API server does (KEP-3633, KEP-3243)."""
    extra = [LabelSelectorRequirement(k, "In", (labels[k],)) for k in match if k in labels]
    extra += [LabelSelectorRequirement(k, "NotIn", (labels[k],)) for k in mismatch if k in labels]
    if not extra or selector is None:
        return selector
    return selector.with_requirements(extra)


def _pod_affinity_term(raw: Mapping[str, Any], path: str, namespace: str, labels: Mapping[str, str]) -> PodAffinityTerm:
    _check_keys(
        raw,
        ("labelSelector", "namespaces", "namespaceSelector", "topologyKey", "matchLabelKeys", "mismatchLabelKeys"),
        path,
    )
    topology_key = _get(raw, "topologyKey", str, path)
    if not topology_key:
        raise InputError(f"{path}.topologyKey: required")
    namespaces = _strings(raw, "namespaces", path)
    ns_selector = parse_label_selector(raw.get("namespaceSelector"), f"{path}.namespaceSelector")
    if not namespaces and ns_selector is None:
        namespaces = (namespace,)
    selector = parse_label_selector(raw.get("labelSelector"), f"{path}.labelSelector")
    selector = _with_label_keys(
        selector, labels, _strings(raw, "matchLabelKeys", path), _strings(raw, "mismatchLabelKeys", path)
    )
    return PodAffinityTerm(topology_key, selector, tuple(sorted(set(namespaces))), ns_selector)


def _weighted_terms(
    raw: Mapping[str, Any], path: str, key: str, make: Callable[[Mapping[str, Any], str], Any]
) -> tuple[Any, ...]:
    out = []
    for p, item in _items(raw, key, path):
        weight = _get(item, "weight", int, p)
        if weight is None or not 1 <= weight <= 100:
            raise InputError(f"{p}.weight: must be an integer in 1..100, got {item.get('weight')!r}")
        out.append((weight, make(item, p)))
    return tuple(out)


def _affinity(raw: Mapping[str, Any], where: str, namespace: str, labels: Mapping[str, str]) -> Affinity:
    _check_keys(raw, ("nodeAffinity", "podAffinity", "podAntiAffinity"), where)
    node = _get(raw, "nodeAffinity", dict, where, {})
    _check_keys(
        node,
        ("requiredDuringSchedulingIgnoredDuringExecution", "preferredDuringSchedulingIgnoredDuringExecution"),
        f"{where}.nodeAffinity",
    )
    required_raw = _get(node, "requiredDuringSchedulingIgnoredDuringExecution", dict, f"{where}.nodeAffinity")
    node_required = None
    if required_raw is not None:
        path = f"{where}.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        _check_keys(required_raw, ("nodeSelectorTerms",), path)
        node_required = tuple(_node_selector_term(i, p) for p, i in _items(required_raw, "nodeSelectorTerms", path))
        if not node_required:
            raise InputError(f"{path}.nodeSelectorTerms: must have at least one term")

    def preference(item: Mapping[str, Any], p: str) -> NodeSelectorTerm:
        _check_keys(item, ("weight", "preference"), p)
        return _node_selector_term(_get(item, "preference", dict, p, {}), f"{p}.preference")

    node_preferred = tuple(
        PreferredSchedulingTerm(w, t)
        for w, t in _weighted_terms(
            node, f"{where}.nodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", preference
        )
    )

    def pod_terms(key: str) -> tuple[tuple[PodAffinityTerm, ...], tuple[WeightedPodAffinityTerm, ...]]:
        section = _get(raw, key, dict, where, {})
        path = f"{where}.{key}"
        _check_keys(
            section,
            ("requiredDuringSchedulingIgnoredDuringExecution", "preferredDuringSchedulingIgnoredDuringExecution"),
            path,
        )
        required = tuple(
            _pod_affinity_term(i, p, namespace, labels)
            for p, i in _items(section, "requiredDuringSchedulingIgnoredDuringExecution", path)
        )

        def weighted(item: Mapping[str, Any], p: str) -> PodAffinityTerm:
            _check_keys(item, ("weight", "podAffinityTerm"), p)
            return _pod_affinity_term(
                _get(item, "podAffinityTerm", dict, p, {}), f"{p}.podAffinityTerm", namespace, labels
            )

        preferred = tuple(
            WeightedPodAffinityTerm(w, t)
            for w, t in _weighted_terms(section, path, "preferredDuringSchedulingIgnoredDuringExecution", weighted)
        )
        return required, preferred

    pod_required, pod_preferred = pod_terms("podAffinity")
    anti_required, anti_preferred = pod_terms("podAntiAffinity")
    return Affinity(node_required, node_preferred, pod_required, pod_preferred, anti_required, anti_preferred)


def _spread_constraint(raw: Mapping[str, Any], path: str, labels: Mapping[str, str]) -> TopologySpreadConstraint:
    _check_keys(
        raw,
        (
            "maxSkew",
            "topologyKey",
            "whenUnsatisfiable",
            "labelSelector",
            "minDomains",
            "nodeAffinityPolicy",
            "nodeTaintsPolicy",
            "matchLabelKeys",
        ),
        path,
    )
    max_skew = _get(raw, "maxSkew", int, path)
    if max_skew is None or max_skew < 1:
        raise InputError(f"{path}.maxSkew: must be an integer >= 1, got {raw.get('maxSkew')!r}")
    key = _get(raw, "topologyKey", str, path)
    if not key:
        raise InputError(f"{path}.topologyKey: required")
    when = raw.get("whenUnsatisfiable")
    if when not in ("DoNotSchedule", "ScheduleAnyway"):
        raise InputError(f"{path}.whenUnsatisfiable: {when!r} is not DoNotSchedule or ScheduleAnyway")
    min_domains = _get(raw, "minDomains", int, path)
    if min_domains is not None and (min_domains < 1 or when != "DoNotSchedule"):
        raise InputError(f"{path}.minDomains: must be >= 1 and only with whenUnsatisfiable: DoNotSchedule")
    policies = []
    for name, default in (("nodeAffinityPolicy", "Honor"), ("nodeTaintsPolicy", "Ignore")):
        value = raw.get(name, default)
        if value not in ("Honor", "Ignore"):
            raise InputError(f"{path}.{name}: {value!r} is not Honor or Ignore")
        policies.append(value)
    selector = parse_label_selector(raw.get("labelSelector"), f"{path}.labelSelector")
    selector = _with_label_keys(selector, labels, _strings(raw, "matchLabelKeys", path), ())
    return TopologySpreadConstraint(max_skew, key, when, selector, min_domains, policies[0], policies[1])


# --- pods --------------------------------------------------------------------------------------------------


def _container_requests(container: Mapping[str, Any], path: str) -> tuple[Resources, Resources]:
    """(requests, non-zero requests) of one container; requests default to limits (pkg/apis/core/v1/defaults.go)."""
    resources = _get(container, "resources", dict, path, {})
    requests = dict(_get(resources, "requests", dict, f"{path}.resources", {}))
    for name, value in _get(resources, "limits", dict, f"{path}.resources", {}).items():
        requests.setdefault(name, value)
    where = f"{path}.resources.requests"
    parsed = _resources(requests, where)
    non_zero = attrs.evolve(
        parsed,
        milli_cpu=parsed.milli_cpu if "cpu" in requests else DEFAULT_MILLI_CPU_REQUEST,
        memory=parsed.memory if "memory" in requests else DEFAULT_MEMORY_REQUEST,
    )
    return parsed, non_zero


def pod_requests(
    containers: list[Resources], init_containers: list[tuple[Resources, bool]], overhead: Resources
) -> Resources:
    """Effective pod requests. Upstream: component-helpers/resource/helpers.go PodRequests (KEP-753 sidecars).

    ``init_containers`` are (requests, restartable) in spec order; restartable ones (restartPolicy: Always) keep
    running beside the app containers.
    """
    total = Resources()
    for r in containers:
        total = total + r
    sidecars = Resources()
    init_max = Resources()
    for r, restartable in init_containers:
        if restartable:
            total = total + r
            sidecars = sidecars + r
            init_max = init_max.max(sidecars)
        else:
            init_max = init_max.max(r + sidecars)
    return total.max(init_max) + overhead


def _ports(containers: list[tuple[str, dict[str, Any]]], host_network: bool) -> tuple[HostPort, ...]:
    out = []
    for path, container in containers:
        for p, raw in _items(container, "ports", path):
            container_port = _get(raw, "containerPort", int, p)
            host_port = _get(raw, "hostPort", int, p, 0)
            if host_network and not host_port:
                host_port = container_port or 0
            if host_port and host_port > 0:
                protocol = str(raw.get("protocol") or "TCP")
                if protocol not in ("TCP", "UDP", "SCTP"):
                    raise InputError(f"{p}.protocol: {protocol!r} is not TCP, UDP or SCTP")
                out.append(HostPort(host_port, protocol, str(raw.get("hostIP") or "0.0.0.0")))
    return tuple(out)


def parse_pod_spec(
    metadata: Mapping[str, Any],
    spec: Mapping[str, Any],
    where: str,
    *,
    order: int = 0,
    priority_classes: Mapping[str, int] | None = None,
    default_priority: int = 0,
    spread_selector: LabelSelector | None = None,
    validate: bool = True,
) -> PodInfo:
    """A pod from its metadata and spec (a Pod, or a workload's template with metadata already completed).

    With ``validate``, metadata and spec are first checked strictly (spec.strict: unknown fields are errors,
    named ``metadata.<field>`` / ``spec.<field>``)."""
    if validate:
        validate_value(metadata, "V1ObjectMeta", where, "metadata")
        validate_value(spec, "V1PodSpec", where, "spec")
    name = _get(metadata, "name", str, f"{where}: metadata")
    if not name:
        raise InputError(f"{where}: metadata.name: required")
    namespace = _get(metadata, "namespace", str, f"{where}: metadata", "default") or "default"
    labels = _string_map(metadata, "labels", f"{where}: metadata")
    label_map = dict(labels)
    w = f"{where}: spec"
    containers = _items(spec, "containers", w)
    if not containers:
        raise InputError(f"{w}.containers: a pod needs at least one container")
    app = [_container_requests(c, p) for p, c in containers]
    inits_raw = _items(spec, "initContainers", w)
    inits = []
    for p, c in inits_raw:
        policy = c.get("restartPolicy")
        if policy not in (None, "Always"):
            raise InputError(f"{p}.restartPolicy: only Always is allowed for init containers, got {policy!r}")
        inits.append((_container_requests(c, p), policy == "Always"))
    overhead = _resources(_get(spec, "overhead", dict, w, {}), f"{w}.overhead")
    requests = pod_requests([r for r, _ in app], [(r, s) for (r, _), s in inits], overhead)
    non_zero = pod_requests([nz for _, nz in app], [(nz, s) for (_, nz), s in inits], overhead)
    pod_level = _get(_get(spec, "resources", dict, w, {}), "requests", dict, f"{w}.resources", {})
    if pod_level:
        level = _resources(pod_level, f"{w}.resources.requests")
        changes = {
            k: getattr(level, k) + getattr(overhead, k)
            for k, key in (("milli_cpu", "cpu"), ("memory", "memory"))
            if key in pod_level
        }
        requests = attrs.evolve(requests, **changes)
        non_zero = attrs.evolve(non_zero, **changes)
    class_name = _get(spec, "priorityClassName", str, w)
    if class_name:
        classes = priority_classes or {}
        if class_name not in classes and class_name not in _SYSTEM_PRIORITY_CLASSES:
            raise InputError(f"{w}.priorityClassName: no PriorityClass named {class_name!r}")
        priority = classes.get(class_name, _SYSTEM_PRIORITY_CLASSES.get(class_name, 0))
    else:
        priority = _get(spec, "priority", int, w, default_priority)
    preemption = spec.get("preemptionPolicy") or "PreemptLowerPriority"
    if preemption not in ("PreemptLowerPriority", "Never"):
        raise InputError(f"{w}.preemptionPolicy: {preemption!r} is not PreemptLowerPriority or Never")
    tolerations = []
    for p, raw in _items(spec, "tolerations", w):
        _check_keys(raw, ("key", "operator", "value", "effect", "tolerationSeconds"), p)
        op = raw.get("operator") or "Equal"
        if op not in ("Equal", "Exists"):
            raise InputError(f"{p}.operator: {op!r} is not Equal or Exists")
        effect = raw.get("effect") or ""
        if effect not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise InputError(f"{p}.effect: {effect!r} is not NoSchedule, PreferNoSchedule or NoExecute")
        value = "" if raw.get("value") is None else str(raw["value"])
        if op == "Exists" and value:
            raise InputError(f"{p}.value: must be empty when operator is Exists")
        tolerations.append(Toleration(str(raw.get("key") or ""), op, value, effect))
    affinity_raw = _get(spec, "affinity", dict, w, {})
    gates = []
    for p, raw in _items(spec, "schedulingGates", w):
        gate = _get(raw, "name", str, p)
        if not gate:
            raise InputError(f"{p}.name: required")
        gates.append(gate)
    images = tuple(str(c.get("image", "")) for _, c in containers + inits_raw if c.get("image"))
    return PodInfo(
        name=name,
        namespace=namespace,
        labels=labels,
        requests=requests,
        non_zero_cpu=non_zero.milli_cpu,
        non_zero_memory=non_zero.memory,
        node_name=_get(spec, "nodeName", str, w, "") or "",
        node_selector=_string_map(spec, "nodeSelector", w),
        affinity=_affinity(affinity_raw, f"{w}.affinity", namespace, label_map),
        tolerations=tuple(tolerations),
        host_ports=_ports(
            containers + [(p, c) for p, c in inits_raw if c.get("restartPolicy") == "Always"],
            bool(_get(spec, "hostNetwork", bool, w, False)),
        ),
        topology_spread_constraints=tuple(
            _spread_constraint(raw, p, label_map) for p, raw in _items(spec, "topologySpreadConstraints", w)
        ),
        priority=priority,
        preemption_policy=preemption,
        order=order,
        images=images,
        spread_selector=spread_selector,
        scheduling_gates=tuple(gates),
        terminating=metadata.get("deletionTimestamp") is not None,
    )


_SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2000000000, "system-node-critical": 2000001000}
"""Upstream: pkg/apis/scheduling/types.go SystemClusterCritical / SystemNodeCritical."""



# --- documents ---------------------------------------------------------------------------------------------

WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController", "Job", "DaemonSet")
STORAGE_KINDS = ("PersistentVolumeClaim", "PersistentVolume", "StorageClass")
SUPPORTED_KINDS = (
    "Node", "Pod", *WORKLOAD_KINDS, "Namespace", "PriorityClass", "Service", "PodDisruptionBudget", *STORAGE_KINDS
)
"""Kinds whose objects become nodes, pods, or data the scheduler reads."""

SKIPPED_KINDS = frozenset(
    {
        "ServiceAccount", "ConfigMap", "Secret", "Ingress", "IngressClass", "NetworkPolicy", "HorizontalPodAutoscaler",
        "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding", "Endpoints", "EndpointSlice", "ControllerRevision",
        "Event", "PodTemplate", "CustomResourceDefinition", "CronJob",
    }
)  # fmt: skip
"""Built-in kinds read (and validated) but without effect on where pods go now (a CronJob creates Jobs later)."""

UNMODELLED_KINDS = {
    "ResourceClaim": "dynamic resource allocation (DynamicResources) is not modelled: devices are not counted",
    "ResourceClaimTemplate": "dynamic resource allocation (DynamicResources) is not modelled: devices are not counted",
    "DeviceClass": "dynamic resource allocation (DynamicResources) is not modelled: devices are not counted",
    "RuntimeClass": "RuntimeClass admission (its overhead, nodeSelector and tolerations) is not applied to pods",
    "LimitRange": "LimitRange admission (default requests and limits) is not applied to pods",
    "ResourceQuota": "quota admission is not modelled: every pod is taken as admitted",
}
"""Built-in kinds that can change placement and are not modelled: each one is a warning saying what is ignored."""

DAEMON_TOLERATIONS = (
    Toleration("node.kubernetes.io/not-ready", "Exists", "", "NoExecute"),
    Toleration("node.kubernetes.io/unreachable", "Exists", "", "NoExecute"),
    Toleration("node.kubernetes.io/disk-pressure", "Exists", "", "NoSchedule"),
    Toleration("node.kubernetes.io/memory-pressure", "Exists", "", "NoSchedule"),
    Toleration("node.kubernetes.io/pid-pressure", "Exists", "", "NoSchedule"),
    Toleration("node.kubernetes.io/unschedulable", "Exists", "", "NoSchedule"),
)
"""Upstream: pkg/controller/daemon/util/daemonset_util.go AddOrUpdateDaemonPodTolerations (without
tolerationSeconds: for ever); hostNetwork pods also get ``NETWORK_UNAVAILABLE``. The DaemonSet controller of the
model (``spec.controllers.daemonset``) adds the same ones."""
NETWORK_UNAVAILABLE = Toleration("node.kubernetes.io/network-unavailable", "Exists", "", "NoSchedule")


def _suffix(seed: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(_SAFE_ALPHABET[b % len(_SAFE_ALPHABET)] for b in digest[:length])


@attrs.frozen
class _Source:
    """One pod to parse: where it comes from, its metadata and spec, its owner's selector (default spreading),
    and how a DaemonSet pins it to a node."""

    where: str
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]
    owner_selector: LabelSelector | None = None
    daemon_node: str = ""
    host_network: bool = False
    template_claims: tuple[tuple[str, str], ...] = ()
    """A StatefulSet pod's claims from the set's volumeClaimTemplates: (volume name, claim name)."""


@attrs.frozen
class _Owner:
    kind: str
    namespace: str
    name: str


def _controller_of(metadata: Mapping[str, Any], namespace: str) -> _Owner | None:
    """The controller ownerReference of an object (metav1.GetControllerOf)."""
    refs = metadata.get("ownerReferences") or []
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return _Owner(str(ref.get("kind", "")), namespace, str(ref.get("name", "")))
    return None


def _name_and_namespace(doc: Mapping[str, Any], where: str) -> tuple[str, str]:
    metadata = _get(doc, "metadata", dict, where, {})
    name = _get(metadata, "name", str, f"{where}: metadata")
    if not name:
        raise InputError(f"{where}: metadata.name: required")
    return name, _get(metadata, "namespace", str, f"{where}: metadata", "default") or "default"


def read_documents(text: str, source: str) -> list[tuple[str, dict[str, Any]]]:
    """The objects of a multi-document YAML text, ``List`` items flattened, each with where it is
    (``<source>: document N``, or ``... .items[i]``), validated strictly (spec.strict)."""
    documents = yaml_documents(text, source)
    flat: list[tuple[str, dict[str, Any]]] = []
    for index, doc in enumerate(documents, start=1):
        if doc is None:
            continue
        where = f"{source}: document {index}"
        if not isinstance(doc, dict):
            raise InputError(f"{where}: expected a Kubernetes object (a mapping), got {type(doc).__name__}")
        validate_object(doc, _described(where, doc))
        if doc.get("kind") == "List":
            for p, item in _items(doc, "items", where):
                validate_object(item, _described(p, item))
                flat.append((p, item))
        else:
            flat.append((where, doc))
    return flat


def parse_manifests(text: str, source: str) -> Cluster:
    """Every document of a multi-document YAML text (``source`` names it in errors)."""
    return build_cluster(read_documents(text, source))


def _described(where: str, doc: Mapping[str, Any]) -> str:
    metadata = doc.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{where} ({doc.get('kind')} {name})" if name else f"{where} ({doc.get('kind')})"


def _pod_warnings(w: str, spec: Mapping[str, Any], storage: bool) -> list[str]:
    """What a pod spec asks for that the scheduler would weigh and this package does not model (its claims, when
    the objects hold no StorageClass or PersistentVolume: ``storage`` false)."""
    out = []
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, dict)]
    claims = sorted(
        str(v.get("name")) for v in volumes if v.get("persistentVolumeClaim") is not None or v.get("ephemeral")
    )
    if claims and not storage:
        out.append(f"{w}: volumes {', '.join(claims)}: {NO_STORAGE}")
    if spec.get("resourceClaims"):
        out.append(f"{w}: spec.resourceClaims: {UNMODELLED_KINDS['ResourceClaim']}")
    if spec.get("runtimeClassName"):
        out.append(f"{w}: spec.runtimeClassName: {UNMODELLED_KINDS['RuntimeClass']}")
    return out


@attrs.frozen
class _Ephemeral:
    """A pod's generic ephemeral volume: its claim ``<pod>-<volume>`` and the template to create it from."""

    pod: str
    uid: str
    claim: str
    namespace: str
    template: Mapping[str, Any]
    where: str


def _volume_claims(
    spec: Mapping[str, Any], where: str, templates: Mapping[str, str], metadata: Mapping[str, Any], namespace: str,
    ephemeral: list[_Ephemeral],
) -> tuple[str, ...]:
    """The claims of a pod's volumes, in volume order: ``templates`` (a StatefulSet's, volume name -> claim name)
    first, replacing a volume of the same name, as the StatefulSet controller's updateStorage does; a generic
    ephemeral volume's claim is ``<pod>-<volume>`` (ephemeral.VolumeClaimName), added to ``ephemeral``."""
    out = list(templates.values())
    for path, volume in _items(spec, "volumes", f"{where}: spec"):
        source = volume.get("persistentVolumeClaim")
        if isinstance(volume.get("ephemeral"), dict) and volume.get("name") not in templates:
            pod = str(metadata.get("name"))
            claim = f"{pod}-{volume.get('name')}"
            template = _get(volume["ephemeral"], "volumeClaimTemplate", dict, f"{path}.ephemeral")
            if template is None:
                raise InputError(f"{path}.ephemeral.volumeClaimTemplate: Required value")
            uid = str(metadata.get("uid") or "")
            ephemeral.append(_Ephemeral(pod, uid, claim, namespace, template, f"{path}.ephemeral.volumeClaimTemplate"))
            out.append(claim)
            continue
        if volume.get("name") in templates or not isinstance(source, dict):
            continue
        name = source.get("claimName")
        if not isinstance(name, str) or not name:
            raise InputError(f"{path}.persistentVolumeClaim.claimName: Required value")
        if name not in out:
            out.append(name)
    return tuple(out)


def _int_or_percent(value: Any, total: int, where: str) -> int:
    """Upstream: apimachinery intstr.GetScaledValueFromIntOrPercent with roundUp (as the disruption controller)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isascii() and value[:-1].isdigit():
        return -(-int(value[:-1]) * total // 100)
    raise InputError(f"{where}: expected an integer or a percentage, got {value!r}")


def build_cluster(docs: list[tuple[str, dict[str, Any]]]) -> Cluster:
    """Nodes, pods (workloads expanded as their controllers would), namespaces and disruption budgets from
    validated objects; notes for skipped objects, warnings for what is read and not modelled."""
    nodes: list[NodeInfo] = []
    namespaces: dict[str, Pairs] = {}
    priority_classes: dict[str, int] = {}
    default_priority = 0
    services: list[tuple[str, Pairs]] = []
    budgets_raw: list[tuple[str, dict[str, Any]]] = []
    pods_raw: list[tuple[int, str, dict[str, Any]]] = []
    workloads: list[tuple[int, str, str, dict[str, Any]]] = []
    skipped: dict[str, int] = {}
    custom: dict[str, int] = {}
    warnings: list[str] = []
    storage_raw: list[tuple[str, str, dict[str, Any]]] = []
    for index, (where, doc) in enumerate(docs):
        kind = str(doc.get("kind"))
        w = _described(where, doc)
        metadata = _get(doc, "metadata", dict, w, {})
        if kind in UNMODELLED_KINDS and schema_of(str(doc.get("apiVersion")), kind) is not None:
            warnings.append(f"{w}: {UNMODELLED_KINDS[kind]}")
        elif kind in SKIPPED_KINDS and schema_of(str(doc.get("apiVersion")), kind) is not None:
            skipped[kind] = skipped.get(kind, 0) + 1
        elif kind not in SUPPORTED_KINDS or schema_of(str(doc.get("apiVersion")), kind) is None:
            label = f"{kind} ({doc.get('apiVersion')})"
            custom[label] = custom.get(label, 0) + 1
        elif kind == "Node":
            nodes.append(parse_node(doc, w, validate=False))
        elif kind == "Namespace":
            namespaces[_get(metadata, "name", str, f"{w}: metadata", "")] = _string_map(metadata, "labels", w)
        elif kind == "PriorityClass":
            value = _get(doc, "value", int, w)
            if value is None:
                raise InputError(f"{w}: value: required")
            priority_classes[_get(metadata, "name", str, f"{w}: metadata", "")] = value
            if doc.get("globalDefault") is True:
                default_priority = value
        elif kind == "Service":
            ns = _get(metadata, "namespace", str, f"{w}: metadata", "default") or "default"
            selector = _string_map(_get(doc, "spec", dict, w, {}), "selector", f"{w}: spec")
            if selector:
                services.append((ns, selector))
        elif kind == "PodDisruptionBudget":
            budgets_raw.append((w, doc))
        elif kind in STORAGE_KINDS:
            storage_raw.append((w, kind, doc))
        elif kind == "Pod":
            phase = _get(doc, "status", dict, w, {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                continue  # terminated pods hold no resources (the scheduler cache skips them)
            pods_raw.append((index, w, doc))
        else:
            workloads.append((index, w, kind, doc))
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise InputError(f"Node {duplicate!r} is defined twice")
    uids = Uids()
    with_storage = any(kind != "PersistentVolumeClaim" for _, kind, _ in storage_raw)
    sources, selectors, more, templates = _expand(workloads, pods_raw, nodes, uids, with_storage)
    warnings.extend(more)
    pods: list[PodInfo] = []
    seen: set[str] = set()
    warned: set[str] = set()
    ephemeral: list[_Ephemeral] = []
    for order, src in enumerate(sources):
        namespace = src.metadata.get("namespace") or "default"
        labels = {str(k): str(v) for k, v in (src.metadata.get("labels") or {}).items()}
        owner = src.owner_selector
        if owner is None and (ref := _controller_of(src.metadata, namespace)) is not None:
            owner = selectors.get(ref)
        pod = parse_pod_spec(
            src.metadata,
            src.spec,
            src.where,
            order=order,
            priority_classes=priority_classes,
            default_priority=default_priority,
            spread_selector=_spread_selector(owner, services, namespace, labels),
            validate=False,
        )
        if src.daemon_node:
            pod = _pin_daemon_pod(pod, src.daemon_node, src.host_network)
        claims = _volume_claims(src.spec, src.where, dict(src.template_claims), src.metadata, pod.namespace, ephemeral)
        pod = attrs.evolve(pod, claims=claims)
        if pod.key in seen:
            raise InputError(f"{src.where}: pod {pod.key} is defined twice")
        seen.add(pod.key)
        pods.append(pod)
        origin = src.where.split(" pod ")[0]
        if origin not in warned:
            warned.add(origin)
            warnings.extend(_pod_warnings(origin, src.spec, with_storage))
    budgets = tuple(_budget(w, doc, pods) for w, doc in budgets_raw)
    storage: Storage | None = _storage(storage_raw, templates, ephemeral, uids, warnings)  # read (and checked) always
    if with_storage and storage is not None:
        pending = [p for p in pods if not p.node_name and not p.terminating and not p.scheduling_gates]
        warnings.extend(storage_warnings(storage, pending))
    else:
        storage = None
        warnings.extend(f"{w}: {NO_STORAGE}" for w, kind, _ in storage_raw if kind == "PersistentVolumeClaim")
    notes = []
    if skipped:
        listed = ", ".join(f"{n} {k}" for k, n in sorted(skipped.items()))
        notes.append(f"skipped {sum(skipped.values())} objects that do not affect placement ({listed})")
    if custom:
        listed = ", ".join(f"{n} {k}" for k, n in sorted(custom.items()))
        warnings.append(f"not read: {sum(custom.values())} objects of kinds this tool does not know ({listed})")
    return Cluster(
        tuple(nodes), tuple(pods), tuple(sorted(namespaces.items())), budgets, tuple(notes), tuple(warnings), storage
    )


def _storage(
    raw: list[tuple[str, str, dict[str, Any]]],
    templates: list[PersistentVolumeClaim],
    ephemeral: list[_Ephemeral],
    uids: Uids,
    warnings: list[str],
) -> Storage:
    """The claims, volumes and classes of the objects, and the claims the StatefulSet controller and the ephemeral
    volume controller would create (``templates``, ``ephemeral``: those already among the objects are used as
    they are; an ephemeral volume's claim among them that the pod does not control is recorded as foreign)."""
    claims: dict[tuple[str, str], PersistentVolumeClaim] = {}
    controllers: dict[tuple[str, str], str] = {}
    volumes: dict[str, PersistentVolume] = {}
    classes: dict[str, StorageClass] = {}
    for w, kind, doc in raw:
        if kind == "PersistentVolumeClaim":
            claim = read_claim(doc, w, uids, warnings)
            key = (claim.meta.namespace, claim.meta.name)
            if key in claims:
                raise InputError(f"{w}: PersistentVolumeClaim {'/'.join(key)} is defined twice")
            claims[key] = claim
            refs = _get(doc, "metadata", dict, w, {}).get("ownerReferences") or []
            controller = [r for r in refs if isinstance(r, dict) and r.get("controller") is True]
            controllers[key] = str(controller[0].get("uid") or "") if controller else ""
        elif kind == "PersistentVolume":
            volume = read_volume(doc, w, uids, warnings)
            if volume.meta.name in volumes:
                raise InputError(f"{w}: PersistentVolume {volume.meta.name} is defined twice")
            volumes[volume.meta.name] = volume
        else:
            cls = read_class(doc, w, warnings)
            if cls.meta.name in classes:
                raise InputError(f"{w}: StorageClass {cls.meta.name} is defined twice")
            classes[cls.meta.name] = cls
    for claim in templates:
        claims.setdefault((claim.meta.namespace, claim.meta.name), claim)
    foreign: set[tuple[str, str]] = set()
    for e in ephemeral:
        key = (e.namespace, e.claim)
        if key in controllers:
            if not e.uid or controllers[key] != e.uid:  # metav1.IsControlledBy: the controller's uid is the pod's
                foreign.add((f"{e.namespace}/{e.pod}", e.claim))
        elif key not in claims:
            claims[key] = ephemeral_claim(e.template, e.claim, e.namespace, e.where, uids, warnings)
    return storage_of(list(claims.values()), list(volumes.values()), list(classes.values()), frozenset(foreign))


def _pin_daemon_pod(pod: PodInfo, node: str, host_network: bool = False) -> PodInfo:
    """Upstream: pkg/controller/daemon/util ReplaceDaemonSetPodNodeNameNodeAffinity (every required term's
    matchFields become ``metadata.name In [node]``) and AddOrUpdateDaemonPodTolerations."""
    pin = (FieldSelectorRequirement("metadata.name", "In", (node,)),)
    terms = pod.affinity.node_required
    if terms is None:
        required: tuple[NodeSelectorTerm, ...] = (NodeSelectorTerm((), pin),)
    else:
        required = tuple(NodeSelectorTerm(t.match_expressions, pin) for t in terms)
    tolerations = list(pod.tolerations)
    extra = list(DAEMON_TOLERATIONS)
    if host_network:
        extra.append(NETWORK_UNAVAILABLE)
    for t in extra:
        if not any(o.key == t.key and o.effect == t.effect for o in tolerations):
            tolerations.append(t)
    return attrs.evolve(
        pod, affinity=attrs.evolve(pod.affinity, node_required=required), tolerations=tuple(tolerations)
    )


def _expand(
    workloads: list[tuple[int, str, str, dict[str, Any]]],
    pods_raw: list[tuple[int, str, dict[str, Any]]],
    nodes: list[NodeInfo],
    uids: Uids,
    with_storage: bool = True,
) -> tuple[list[_Source], dict[_Owner, LabelSelector], list[str], list[PersistentVolumeClaim]]:
    """Pods of the manifests and the pods their controllers would create now, besides those already present (a
    dump holds a ReplicaSet and its pods: only the missing replicas are created), and the claims a StatefulSet
    controller creates from its volumeClaimTemplates for each of its pods (those not among the objects).
    Upstream: the ReplicaSet, ReplicationController, StatefulSet, Job and DaemonSet controllers' create paths; a
    Deployment with a ReplicaSet of its own among the objects is left to that ReplicaSet."""
    owned: dict[_Owner, list[Mapping[str, Any]]] = {}
    sources: list[tuple[int, _Source]] = []
    for index, w, doc in pods_raw:
        metadata = _get(doc, "metadata", dict, w, {})
        ns = _get(metadata, "namespace", str, f"{w}: metadata", "default") or "default"
        ref = _controller_of(metadata, ns)
        if ref is not None:
            owned.setdefault(ref, []).append(doc)
        sources.append((index, _Source(w, metadata, _get(doc, "spec", dict, w, {}))))
    deployments_with_rs = set()
    for _, w, kind, doc in workloads:
        if kind == "ReplicaSet":
            ref = _controller_of(_get(doc, "metadata", dict, w, {}), _name_and_namespace(doc, w)[1])
            if ref is not None and ref.kind == "Deployment":
                deployments_with_rs.add(ref)
    selectors: dict[_Owner, LabelSelector] = {}
    warnings: list[str] = []
    created: list[PersistentVolumeClaim] = []
    for index, w, kind, doc in workloads:
        name, namespace = _name_and_namespace(doc, w)
        me = _Owner(kind, namespace, name)
        if kind == "Deployment" and me in deployments_with_rs:
            continue
        spec = _get(doc, "spec", dict, w, {})
        template = _get(spec, "template", dict, f"{w}: spec", {})
        t_meta = dict(_get(template, "metadata", dict, f"{w}: spec.template", {}))
        t_spec = _get(template, "spec", dict, f"{w}: spec.template", {})
        t_labels = dict(_string_map(t_meta, "labels", f"{w}: spec.template.metadata"))
        if not t_spec:
            raise InputError(f"{w}: spec.template.spec: required")
        existing = owned.get(me, [])
        template_hash = _suffix(yaml.safe_dump(template, sort_keys=True), 10)
        selector = _workload_selector(kind, spec, t_labels, name, namespace, doc, w)
        if kind in ("ReplicaSet", "ReplicationController", "StatefulSet"):
            selectors[me] = selector
        templates = claim_templates(spec, namespace, w, warnings) if kind == "StatefulSet" else ()
        if templates and not with_storage:
            names = ", ".join(t.meta.name for t in templates)
            warnings.append(f"{w}: spec.volumeClaimTemplates ({names}): {NO_STORAGE}")
        if templates:
            for ordinal in sorted(_ordinals(name, existing) | set(range(_replicas(spec, w)))):
                created.extend(statefulset_claim(t, name, ordinal, uids) for t in templates)
        labels_of: list[tuple[str, dict[str, str]]] = []
        daemon_nodes: dict[str, str] = {}
        if kind == "StatefulSet":
            have = {str((p.get("metadata") or {}).get("name")) for p in existing}
            replicas = _replicas(spec, w)
            for i in range(replicas):
                pod_name = f"{name}-{i}"
                if pod_name not in have:
                    extra = {"statefulset.kubernetes.io/pod-name": pod_name, "apps.kubernetes.io/pod-index": str(i)}
                    labels_of.append((pod_name, {**t_labels, **extra}))
        elif kind == "DaemonSet":
            have_nodes = {str((p.get("spec") or {}).get("nodeName") or "") for p in existing}
            host_network = t_spec.get("hostNetwork") is True
            probe = parse_pod_spec(
                {**t_meta, "name": name, "namespace": namespace}, t_spec, f"{w}: spec.template", validate=False
            )
            for node in nodes:
                if node.name in have_nodes or not _daemon_should_run(probe, node, host_network):
                    continue
                pod_name = f"{name}-{_suffix(f'{name}/{node.name}', 5)}"
                daemon_nodes[pod_name] = node.name
                labels_of.append((pod_name, {**t_labels, "controller-revision-hash": template_hash}))
        elif kind == "Job":
            labels_of = _job_pods(spec, name, t_labels, doc, w, len(existing))
        else:
            replicas = _replicas(spec, w) - len(existing)
            prefix = f"{name}-{template_hash}" if kind == "Deployment" else name
            extra = {"pod-template-hash": template_hash} if kind == "Deployment" else {}
            labels_of = [(f"{prefix}-{_suffix(f'{prefix}/{i}', 5)}", {**t_labels, **extra}) for i in range(replicas)]
        owner_selector = selector if kind in ("ReplicaSet", "ReplicationController", "StatefulSet") else None
        if kind == "Deployment":
            owner_selector = selector.with_requirements(
                [LabelSelectorRequirement("pod-template-hash", "In", (template_hash,))]
            )
        for pod_name, labels in labels_of:
            meta = {**t_meta, "name": pod_name, "namespace": namespace, "labels": labels}
            pinned = daemon_nodes.get(pod_name, "")
            host_network = t_spec.get("hostNetwork") is True
            claims = tuple((t.meta.name, f"{t.meta.name}-{pod_name}") for t in templates)
            source = _Source(f"{w} pod {pod_name}", meta, t_spec, owner_selector, pinned, host_network, claims)
            sources.append((index, source))
    sources.sort(key=lambda item: item[0])  # creation order: document order (stable within a workload)
    return [src for _, src in sources], selectors, warnings, created


def _ordinals(name: str, pods: list[Mapping[str, Any]]) -> set[int]:
    """The ordinals of a StatefulSet's pods among the objects (``<name>-<ordinal>``)."""
    out = set()
    for p in pods:
        suffix = str((p.get("metadata") or {}).get("name") or "").removeprefix(f"{name}-")
        if suffix.isascii() and suffix.isdigit():
            out.add(int(suffix))
    return out


def _replicas(spec: Mapping[str, Any], w: str) -> int:
    replicas: int = _get(spec, "replicas", int, f"{w}: spec", 1)
    if replicas < 0:
        raise InputError(f"{w}: spec.replicas: must be >= 0, got {replicas}")
    return replicas


def _workload_selector(
    kind: str,
    spec: Mapping[str, Any],
    t_labels: Mapping[str, str],
    name: str,
    namespace: str,
    doc: Mapping[str, Any],
    w: str,
) -> LabelSelector:
    """The workload's pod selector; the template's labels must match it (API validation)."""
    if kind == "ReplicationController":
        raw = _string_map(spec, "selector", f"{w}: spec") or pairs(t_labels)
        selector = LabelSelector(raw)
    elif kind == "Job" and not spec.get("manualSelector"):
        uid = str((doc.get("metadata") or {}).get("uid") or _suffix(f"job/{namespace}/{name}", 16))
        return LabelSelector(pairs({"batch.kubernetes.io/controller-uid": uid}))
    else:
        parsed = parse_label_selector(spec.get("selector"), f"{w}: spec.selector")
        if parsed is None:
            raise InputError(f"{w}: spec.selector: required")
        selector = parsed
    if not selector.matches(t_labels):
        raise InputError(f"{w}: spec.template.metadata.labels: do not match spec.selector")
    return selector


def _job_pods(
    spec: Mapping[str, Any], name: str, t_labels: Mapping[str, str], doc: Mapping[str, Any], w: str, active: int
) -> list[tuple[str, dict[str, str]]]:
    """The pods a Job runs at once: parallelism (default 1), at most the completions left; none when suspended.
    Upstream: pkg/controller/job/job_controller.go manageJob; labels as the Job controller sets them."""
    if spec.get("suspend") is True:
        return []
    parallelism = _get(spec, "parallelism", int, f"{w}: spec", 1)
    completions = _get(spec, "completions", int, f"{w}: spec")
    succeeded = _get(_get(doc, "status", dict, w, {}), "succeeded", int, f"{w}: status", 0)
    want = parallelism if completions is None else min(parallelism, max(completions - succeeded, 0))
    metadata = doc.get("metadata") or {}
    uid = str(metadata.get("uid") or _suffix(f"job/{metadata.get('namespace') or 'default'}/{name}", 16))
    extra = {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }
    indexed = spec.get("completionMode") == "Indexed"
    out = []
    for i in range(max(want - active, 0)):
        labels = {**t_labels, **extra}
        if indexed:
            labels["batch.kubernetes.io/job-completion-index"] = str(i)
            out.append((f"{name}-{i}-{_suffix(f'{name}/{i}', 5)}", labels))
        else:
            out.append((f"{name}-{_suffix(f'{name}/{i}', 5)}", labels))
    return out


def _daemon_should_run(probe: PodInfo, node: NodeInfo, host_network: bool) -> bool:
    """Upstream: pkg/controller/daemon/daemon_controller.go NodeShouldRunDaemonPod (node name, required node
    affinity and nodeSelector, NoSchedule/NoExecute taints tolerated with the DaemonSet's default tolerations)."""
    if probe.node_name and probe.node_name != node.name:
        return False
    pinned = _pin_daemon_pod(probe, node.name, host_network)
    if not matches_node_selector_and_affinity(pinned, node):
        return False
    return untolerated_taint(node.taints, pinned.tolerations) is None


def _budget(w: str, doc: Mapping[str, Any], pods: list[PodInfo]) -> DisruptionBudget:
    """A PodDisruptionBudget and the disruptions it allows now: status.disruptionsAllowed when the object has a
    status, else as the disruption controller computes it with every bound matching pod healthy and every
    matching pod expected (pkg/controller/disruption/disruption.go getExpectedPodCount)."""
    name, namespace = _name_and_namespace(doc, w)
    spec = _get(doc, "spec", dict, w, {})
    selector = parse_label_selector(spec.get("selector"), f"{w}: spec.selector")
    matching = [
        p for p in pods if p.namespace == namespace and selector is not None and selector.matches(p.label_map)
    ]
    if selector is not None and not selector.match_labels and not selector.match_expressions:
        matching = [p for p in pods if p.namespace == namespace]
    status = _get(doc, "status", dict, w, {})
    if status.get("disruptionsAllowed") is not None:
        allowed = _get(status, "disruptionsAllowed", int, f"{w}: status")
    else:
        healthy = sum(1 for p in matching if p.node_name and not p.terminating)
        expected = len(matching)
        if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
            raise InputError(f"{w}: spec: minAvailable and maxUnavailable cannot both be set")
        if spec.get("maxUnavailable") is not None:
            desired = expected - _int_or_percent(spec["maxUnavailable"], expected, f"{w}: spec.maxUnavailable")
        elif spec.get("minAvailable") is not None:
            desired = _int_or_percent(spec["minAvailable"], expected, f"{w}: spec.minAvailable")
        else:
            desired = expected
        allowed = max(healthy - desired, 0)
    return DisruptionBudget(name, namespace, selector, allowed)


def _spread_selector(
    owner: LabelSelector | None, services: list[tuple[str, Pairs]], namespace: str, labels: Mapping[str, str]
) -> LabelSelector | None:
    """Upstream: pkg/scheduler/framework/plugins/helper/spread.go DefaultSelector (services and owners, ANDed)."""
    selected = [sel for ns, sel in services if ns == namespace and all(labels.get(k) == v for k, v in sel)]
    if owner is None and not selected:
        return None
    merged: dict[str, str] = {}
    for sel in selected:
        merged.update(sel)
    base = owner or LabelSelector()
    return LabelSelector(pairs({**dict(base.match_labels), **merged}), base.match_expressions)


def read_file(path: str | Path) -> list[tuple[str, dict[str, Any]]]:
    """The validated objects of a manifest file; a missing, special, oversized or undecodable file is an
    InputError (checker.files.read_text, as kubectl's file reader)."""
    return read_documents(read_text(path, "manifest file"), str(path))


def load_manifests(path: str | Path) -> Cluster:
    """Read and parse a manifest file; a missing or unreadable file is an InputError."""
    return build_cluster(read_file(path))
