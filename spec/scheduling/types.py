"""The scheduler's view of nodes and pods: frozen, hashable, cheap (tuples of sorted pairs, never dicts).

Upstream: pkg/scheduler/framework/types.go (NodeInfo, PodInfo, Resource, AffinityTerm) and the API types of
staging/src/k8s.io/api/core/v1/types.go (Taint, Toleration, NodeSelector, PodAffinityTerm,
TopologySpreadConstraint). Label selectors follow staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go
(LabelSelectorAsSelector): a missing selector matches nothing, an empty one matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Literal

import attrs

from spec.idfields import LABELS, NODE, UID, holds

Pairs = tuple[tuple[str, str], ...]
"""Labels as a sorted tuple of (key, value) pairs."""

TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

UNSCHEDULABLE_TAINT_KEY = "node.kubernetes.io/unschedulable"
HOSTNAME_LABEL = "kubernetes.io/hostname"
ZONE_LABEL = "topology.kubernetes.io/zone"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def pairs(mapping: Mapping[str, str] | Iterable[tuple[str, str]]) -> Pairs:
    """A mapping as sorted pairs, the canonical form of labels in this package."""
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    return tuple(sorted((str(k), str(v)) for k, v in items))


@attrs.frozen
class Resources:
    """Amounts of compute resources: milli-CPU, bytes, pod slots and extended (scalar) resources.

    Upstream: pkg/scheduler/framework/types.go Resource. ``pods`` is AllowedPodNumber (nodes only).
    """

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    pods: int = 0
    scalar: tuple[tuple[str, int], ...] = ()

    def scalar_amount(self, name: str) -> int:
        for key, amount in self.scalar:
            if key == name:
                return amount
        return 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(
            self.milli_cpu + other.milli_cpu,
            self.memory + other.memory,
            self.ephemeral_storage + other.ephemeral_storage,
            self.pods + other.pods,
            _merge_scalar(self.scalar, other.scalar, lambda a, b: a + b),
        )

    def max(self, other: Resources) -> Resources:
        """Per-resource maximum (upstream: Resource.SetMaxResource, used for init containers)."""
        return Resources(
            max(self.milli_cpu, other.milli_cpu),
            max(self.memory, other.memory),
            max(self.ephemeral_storage, other.ephemeral_storage),
            max(self.pods, other.pods),
            _merge_scalar(self.scalar, other.scalar, max),
        )

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(v for _, v in self.scalar))


def _merge_scalar(
    a: tuple[tuple[str, int], ...], b: tuple[tuple[str, int], ...], op: object
) -> tuple[tuple[str, int], ...]:
    if not b:
        return a
    if not a:
        return b
    merged = dict(a)
    for key, amount in b:
        merged[key] = op(merged[key], amount) if key in merged else amount  # type: ignore[operator]
    return tuple(sorted(merged.items()))


@attrs.frozen
class Taint:
    """Upstream: core/v1 Taint."""

    key: str
    value: str = ""
    effect: TaintEffect = "NoSchedule"


@attrs.frozen
class Toleration:
    """Upstream: core/v1 Toleration; matching in staging/src/k8s.io/api/core/v1/toleration.go ToleratesTaint."""

    key: str = ""
    operator: str = "Equal"
    value: str = ""
    effect: str = ""

    def tolerates(self, taint: Taint) -> bool:
        """Whether this toleration tolerates ``taint``.

        An empty effect matches every effect, an empty key (with Exists) every key. Gt/Lt (feature gate
        TaintTolerationComparisonOperators, off by default) are not supported: they tolerate nothing.
        """
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        if self.operator in ("", "Equal"):
            return self.value == taint.value
        return self.operator == "Exists"


SET_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def set_operator_matches(key: str, operator: str, values: tuple[str, ...], labels: Mapping[str, str]) -> bool:
    """The set-based operators shared by label selectors and node selectors (apimachinery labels.Requirement)."""
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    return key not in labels  # DoesNotExist


_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_INTEGER = re.compile(r"[+-]?[0-9]+")


def is_valid_label_value(value: str) -> bool:
    """Upstream: apimachinery/pkg/util/validation IsValidLabelValue (at most 63 characters, alphanumerics with
    ``-``, ``_`` and ``.`` inside; empty is valid)."""
    return len(value) <= 63 and _LABEL_VALUE.fullmatch(value) is not None


@attrs.frozen
class NodeSelectorRequirement:
    """Upstream: core/v1 NodeSelectorRequirement; semantics in component-helpers/scheduling/corev1/nodeaffinity."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def parses(self) -> bool:
        """Whether upstream's labels.NewRequirement accepts it: every value a valid label value (the API server
        does not check values, the scheduler's parser does), and for Gt/Lt one integer. A term with a requirement
        that does not parse matches no node (nodeaffinity.go nodeSelectorTerm.match returns its parse errors)."""
        if self.operator in ("Gt", "Lt") and (len(self.values) != 1 or not _INTEGER.fullmatch(self.values[0])):
            return False
        return all(is_valid_label_value(v) for v in self.values)

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in SET_OPERATORS:
            return set_operator_matches(self.key, op, self.values, labels)
        if op in ("Gt", "Lt"):
            if self.key not in labels or len(self.values) != 1:
                return False
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return have > want if op == "Gt" else have < want
        return False


@attrs.frozen
class FieldSelectorRequirement(NodeSelectorRequirement):
    """A matchFields requirement. Its only field is ``metadata.name``, so its values are node names, declared as
    such for the reduction layer (``spec.idfields``): the DaemonSet controller pins each pod to its node with one
    (``spec.controllers.daemonset``), and node symmetry renames it with the node."""

    values: tuple[str, ...] = attrs.field(default=(), metadata=holds(("seq", NODE)))


@attrs.frozen
class NodeSelectorTerm:
    """Expressions and fields ANDed. An empty term matches no node (upstream nodeaffinity.nodeSelectorTerm)."""

    match_expressions: tuple[NodeSelectorRequirement, ...] = ()
    match_fields: tuple[FieldSelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str], node_name: str) -> bool:
        """Upstream nodeaffinity.go: an empty term, or one with a requirement that does not parse (an invalid
        label value; a matchFields requirement without exactly one value), matches nothing."""
        if not self._parses:
            return False
        fields = {"metadata.name": node_name}
        return all(r.matches(labels) for r in self.match_expressions) and all(
            r.matches(fields) for r in self.match_fields
        )

    @cached_property
    def _parses(self) -> bool:
        if not self.match_expressions and not self.match_fields:
            return False
        return all(r.parses() for r in self.match_expressions) and all(len(r.values) == 1 for r in self.match_fields)


@attrs.frozen
class PreferredSchedulingTerm:
    weight: int
    preference: NodeSelectorTerm


@attrs.frozen
class LabelSelectorRequirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.operator in SET_OPERATORS and set_operator_matches(self.key, self.operator, self.values, labels)


@attrs.frozen
class LabelSelector:
    """matchLabels and matchExpressions, ANDed. The empty selector matches everything."""

    match_labels: Pairs = ()
    match_expressions: tuple[LabelSelectorRequirement, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        for k, v in self.match_labels:
            if labels.get(k) != v:
                return False
        return not self.match_expressions or all(r.matches(labels) for r in self.match_expressions)

    def with_requirements(self, extra: Iterable[LabelSelectorRequirement]) -> LabelSelector:
        return LabelSelector(self.match_labels, self.match_expressions + tuple(extra))


def selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    """A missing selector matches nothing (upstream: LabelSelectorAsSelector(nil) == labels.Nothing())."""
    return selector is not None and selector.matches(labels)


@attrs.frozen
class PodAffinityTerm:
    """A pod (anti-)affinity term with its namespaces resolved.

    Upstream: pkg/scheduler/framework/types.go AffinityTerm / newAffinityTerm. ``namespaces`` is the pod's own
    namespace when the term names none and has no namespaceSelector; matchLabelKeys / mismatchLabelKeys are already
    merged into ``label_selector`` (as the API server does since v1.31).
    """

    topology_key: str
    label_selector: LabelSelector | None = None
    namespaces: tuple[str, ...] = ()
    namespace_selector: LabelSelector | None = None

    def matches(self, namespace: str, labels: Mapping[str, str], namespace_labels: Mapping[str, str]) -> bool:
        """Upstream: AffinityTerm.Matches: namespace (listed or selected), then the label selector."""
        in_namespace = namespace in self.namespaces or selector_matches(self.namespace_selector, namespace_labels)
        return in_namespace and selector_matches(self.label_selector, labels)


@attrs.frozen
class WeightedPodAffinityTerm:
    weight: int
    term: PodAffinityTerm


@attrs.frozen
class Affinity:
    """Node affinity and pod (anti-)affinity of a pod, flattened (upstream: core/v1 Affinity)."""

    node_required: tuple[NodeSelectorTerm, ...] | None = None
    node_preferred: tuple[PreferredSchedulingTerm, ...] = ()
    pod_required: tuple[PodAffinityTerm, ...] = ()
    pod_preferred: tuple[WeightedPodAffinityTerm, ...] = ()
    anti_required: tuple[PodAffinityTerm, ...] = ()
    anti_preferred: tuple[WeightedPodAffinityTerm, ...] = ()


@attrs.frozen
class TopologySpreadConstraint:
    """Upstream: core/v1 TopologySpreadConstraint; matchLabelKeys already merged into ``label_selector``."""

    max_skew: int
    topology_key: str
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"]
    label_selector: LabelSelector | None = None
    min_domains: int | None = None
    node_affinity_policy: Literal["Honor", "Ignore"] = "Honor"
    node_taints_policy: Literal["Honor", "Ignore"] = "Ignore"


@attrs.frozen
class HostPort:
    """A container port with hostPort > 0; defaults as upstream's HostPortInfo.sanitize."""

    port: int
    protocol: str = "TCP"
    host_ip: str = "0.0.0.0"


@attrs.frozen
class NodeInfo:
    """A node as the scheduler sees it. Upstream: core/v1 Node (labels, spec.taints, spec.unschedulable,
    status.allocatable, status.images)."""

    name: str = attrs.field(metadata=holds(NODE))
    labels: Pairs = attrs.field(default=(), metadata=holds(LABELS))
    taints: tuple[Taint, ...] = ()
    allocatable: Resources = Resources()
    unschedulable: bool = False
    images: tuple[tuple[tuple[str, ...], int], ...] = ()
    """status.images: (names, sizeBytes)."""

    @cached_property
    def label_map(self) -> Mapping[str, str]:
        return dict(self.labels)


@attrs.frozen
class PodInfo:
    """A pod as the scheduler sees it, with requests computed as upstream does.

    Upstream: pkg/scheduler/framework/types.go PodInfo and component-helpers/resource/helpers.go PodRequests.
    ``requests`` are the effective requests (containers, init containers, sidecars, overhead);
    ``non_zero_cpu`` / ``non_zero_memory`` the same with upstream's defaults (100m, 200Mi) for containers that
    request nothing, used by scoring. ``order`` is the creation order (queue tie break after priority).
    ``spread_selector`` is the selector of the pod's Services / ReplicaSets / StatefulSets, which the system
    default topology spreading uses (None when nothing selects the pod).
    """

    name: str
    namespace: str = "default"
    labels: Pairs = ()
    requests: Resources = Resources()
    non_zero_cpu: int = 0
    non_zero_memory: int = 0
    node_name: str = attrs.field(default="", metadata=holds(NODE))
    node_selector: Pairs = ()
    affinity: Affinity = Affinity()
    tolerations: tuple[Toleration, ...] = ()
    host_ports: tuple[HostPort, ...] = ()
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] = ()
    priority: int = 0
    preemption_policy: str = "PreemptLowerPriority"
    order: int = attrs.field(default=0, metadata=holds(UID))
    images: tuple[str, ...] = ()
    spread_selector: LabelSelector | None = None
    scheduling_gates: tuple[str, ...] = ()
    """spec.schedulingGates names: while any remains, the pod is not scheduled (SchedulingGated)."""
    terminating: bool = False
    """metadata.deletionTimestamp is set: the pod holds its resources but PodTopologySpread does not count it."""
    claims: tuple[str, ...] = ()
    """The claimName of each spec.volumes[].persistentVolumeClaim, in volume order (the VolumeBinding plugin and the
    kubelet's volume manager read them: ``spec.scheduling.volumebinding``, ``spec.controllers.persistentvolume``)."""
    volume_binding: tuple[tuple[str, str], ...] | None = None
    """The VolumeBinding plugin's verdict for this scheduling cycle, computed by the caller from the claims,
    volumes and classes it sees (``spec.scheduling.volumebinding.verdict``): (node name, reason) for each node its
    Filter rejects, ("", reason) for a PreFilter rejection; None: nothing to check (no claims, or no volume
    information: ``kubespec schedule`` on objects without StorageClasses and PersistentVolumes, or in optimal mode,
    which refuses claims)."""

    @property
    def key(self) -> str:
        """``namespace/name``, as kubectl and the scheduler's logs name pods."""
        return f"{self.namespace}/{self.name}"

    @cached_property
    def label_map(self) -> Mapping[str, str]:
        return dict(self.labels)

    @cached_property
    def node_match_memo(self) -> dict[tuple[str, Pairs], bool]:
        """(node name, node labels) -> whether nodeSelector and required node affinity match the node: a memo
        shared by every pod with the same nodeSelector and required node affinity (a workload's replicas)."""
        key = (self.node_selector, self.affinity.node_required)
        memo = _NODE_MATCH_MEMOS.get(key)
        if memo is None:
            if len(_NODE_MATCH_MEMOS) > 10_000:
                _NODE_MATCH_MEMOS.clear()
            memo = _NODE_MATCH_MEMOS[key] = {}
        return memo

    def on(self, node_name: str) -> PodInfo:
        """This pod bound (or assumed) to ``node_name``."""
        return attrs.evolve(self, node_name=node_name)


_NODE_MATCH_MEMOS: dict[tuple[Pairs, tuple[NodeSelectorTerm, ...] | None], dict[tuple[str, Pairs], bool]] = {}
"""Memos of PodInfo.node_match_memo (what a node matches depends on its name and labels only)."""


@attrs.frozen
class DisruptionBudget:
    """A PodDisruptionBudget: the pods its selector picks in its namespace, and how many of them may be disrupted
    now (status.disruptionsAllowed). Upstream: policy/v1 PodDisruptionBudget; an empty or missing selector picks
    no pod for preemption (pkg/scheduler/framework/preemption filterPodsWithPDBViolation)."""

    name: str
    namespace: str
    selector: LabelSelector | None
    allowed: int

    def covers(self, pod: PodInfo) -> bool:
        if pod.namespace != self.namespace or self.selector is None:
            return False
        if not self.selector.match_labels and not self.selector.match_expressions:
            return False
        return self.selector.matches(pod.label_map)
