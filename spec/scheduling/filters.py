"""The scheduler's Filter plugins, in upstream order, with upstream's reasons and status codes.

Upstream: pkg/scheduler/apis/config/v1/default_plugins.go (order) and pkg/scheduler/framework/plugins/
{nodeunschedulable,nodename,tainttoleration,nodeaffinity,nodeports,noderesources,podtopologyspread,
interpodaffinity}. Followed version: Kubernetes v1.34 (the scheduler framework as of 2025). Of the volume plugins,
VolumeBinding's verdict comes precomputed in ``PodInfo.volume_binding`` (``spec.scheduling.volumebinding``: the
caller sees the claims and volumes); VolumeRestrictions, NodeVolumeLimits and VolumeZone are not modelled.

For one pod, ``prefilter`` computes what upstream's PreFilter plugins compute once per scheduling cycle (topology
spread counts, inter-pod affinity counts, NodeAffinity's node-name restriction); ``run_filters`` then checks one
node, stopping at the first plugin that fails, as the framework's RunFilterPlugins does.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import (
    UNSCHEDULABLE_TAINT_KEY,
    HostPort,
    NodeInfo,
    PodAffinityTerm,
    PodInfo,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    selector_matches,
)

__all__ = [
    "Code",
    "FilterFailure",
    "PreFilterState",
    "Snapshot",
    "FILTER_PLUGINS",
    "prefilter",
    "run_filters",
    "filter_nodes",
    "untolerated_taint",
    "matches_node_selector_and_affinity",
]

FILTER_PLUGINS = (
    "NodeUnschedulable",
    "NodeName",
    "TaintToleration",
    "NodeAffinity",
    "NodePorts",
    "NodeResourcesFit",
    "VolumeBinding",
    "PodTopologySpread",
    "InterPodAffinity",
)

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_NODE_NAME = "node(s) didn't match the requested node name"
REASON_TAINT = "node(s) had untolerated taint(s)"
REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_NODE_AFFINITY_CONFLICT = "pod affinity terms conflict"
REASON_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports"
REASON_TOO_MANY_PODS = "Too many pods"
REASON_SPREAD = "node(s) didn't match pod topology spread constraints"
REASON_SPREAD_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
REASON_POD_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_POD_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
REASON_ABSENT_NODE_AFFINITY = "node(s) didn't satisfy plugin(s) [NodeAffinity]"


class Code(enum.Enum):
    """Upstream: pkg/scheduler/framework/interface.go Code (the two failure codes a Filter returns)."""

    UNSCHEDULABLE = "Unschedulable"
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"


@attrs.frozen
class FilterFailure:
    """The status of the first failing Filter plugin on one node: plugin, reasons (upstream text), code."""

    plugin: str
    reasons: tuple[str, ...]
    code: Code

    @property
    def reason(self) -> str:
        return ", ".join(self.reasons)


def _fail(plugin: str, reason: str, code: Code = Code.UNSCHEDULABLE) -> FilterFailure:
    return FilterFailure(plugin, (reason,), code)


# --- taints and node affinity (shared by several plugins) ---------------------------------------------------


def untolerated_taint(
    taints: tuple[Taint, ...],
    tolerations: tuple[Toleration, ...],
    effects: tuple[str, ...] = ("NoSchedule", "NoExecute"),
) -> Taint | None:
    """The first taint with one of ``effects`` that no toleration tolerates.

    Upstream: component-helpers/scheduling/corev1/helpers.go FindMatchingUntoleratedTaint with
    DoNotScheduleTaintsFilterFunc.
    """
    for taint in taints:
        if taint.effect in effects and not any(t.tolerates(taint) for t in tolerations):
            return taint
    return None


def matches_node_selector_and_affinity(pod: PodInfo, node: NodeInfo) -> bool:
    """spec.nodeSelector ANDed with required node affinity (terms ORed).

    Upstream: component-helpers/scheduling/corev1/nodeaffinity GetRequiredNodeAffinity(pod).Match(node).
    """
    memo = pod.node_match_memo
    key = (node.name, node.labels)
    found = memo.get(key)
    if found is None:
        labels = node.label_map
        terms = pod.affinity.node_required
        found = all(labels.get(k) == v for k, v in pod.node_selector) and (
            terms is None or any(term.matches(labels, node.name) for term in terms)
        )
        memo[key] = found
    return found


# --- PreFilter ---------------------------------------------------------------------------------------------


@attrs.frozen
class SpreadState:
    """PodTopologySpread PreFilter state for one DoNotSchedule constraint (upstream: preFilterState)."""

    constraint: TopologySpreadConstraint
    counts: Mapping[str, int]
    """Matching pods per domain value, over eligible nodes only; every eligible domain is present."""
    min_match: int
    self_match: int = 0
    """1 when the constraint's selector matches the pod itself."""


@attrs.frozen
class PreFilterState:
    """What the PreFilter plugins computed for one pod in one snapshot."""

    rejection: FilterFailure | None = None
    """A PreFilter rejected the pod outright (every node fails with this status)."""
    node_names: frozenset[str] | None = None
    """NodeAffinity's PreFilterResult: only these nodes are evaluated (None: all)."""
    spread: tuple[SpreadState, ...] = ()
    affinity_counts: Mapping[tuple[str, str], int] = attrs.Factory(dict)
    anti_affinity_counts: Mapping[tuple[str, str], int] = attrs.Factory(dict)
    existing_anti_affinity_counts: Mapping[tuple[str, str], int] = attrs.Factory(dict)


_MAX_INT32 = 2**31 - 1


def prefilter(pod: PodInfo, snapshot: Snapshot) -> PreFilterState:
    """Run the PreFilter plugins for ``pod``.

    Upstream: nodeaffinity.PreFilter (metadata.name matchFields), podtopologyspread/filtering.go
    calPreFilterState, interpodaffinity/filtering.go PreFilter.
    """
    node_names: frozenset[str] | None = None
    terms = pod.affinity.node_required
    if terms is not None:
        names: set[str] | None = set()
        for term in terms:
            term_names: set[str] | None = None
            for req in term.match_fields:
                if req.key == "metadata.name" and req.operator == "In":
                    values = set(req.values)
                    term_names = values if term_names is None else term_names & values
            if term_names is None:
                names = None
                break
            assert names is not None
            names |= term_names
        if names is not None:
            if not names:
                return PreFilterState(
                    rejection=_fail("NodeAffinity", REASON_NODE_AFFINITY_CONFLICT, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
                )
            node_names = frozenset(names)
    if pod.volume_binding:  # VolumeBinding's PreFilter (spec.scheduling.volumebinding): an unresolvable claim
        for where, reason in pod.volume_binding:
            if not where:
                return PreFilterState(rejection=_fail("VolumeBinding", reason, Code.UNSCHEDULABLE_AND_UNRESOLVABLE))
    affinity, anti, existing = _inter_pod_affinity_counts(pod, snapshot)
    return PreFilterState(
        node_names=node_names,
        spread=_spread_state(pod, snapshot),
        affinity_counts=affinity,
        anti_affinity_counts=anti,
        existing_anti_affinity_counts=existing,
    )


def spread_node_eligible(pod: PodInfo, node: NodeInfo, c: TopologySpreadConstraint) -> bool:
    """Upstream: podtopologyspread/common.go matchNodeInclusionPolicies."""
    if c.node_affinity_policy == "Honor" and not matches_node_selector_and_affinity(pod, node):
        return False
    return not (c.node_taints_policy == "Honor" and untolerated_taint(node.taints, pod.tolerations) is not None)


def count_matching(pods: tuple[PodInfo, ...], c: TopologySpreadConstraint, namespace: str) -> int:
    """Upstream: podtopologyspread/common.go countPodsMatchSelector (same namespace, selector matches; terminating
    pods, with a deletionTimestamp, are not counted: kubernetes#87621)."""
    return sum(
        1
        for p in pods
        if not p.terminating and p.namespace == namespace and selector_matches(c.label_selector, p.label_map)
    )


def _spread_state(pod: PodInfo, snapshot: Snapshot) -> tuple[SpreadState, ...]:
    constraints = [c for c in pod.topology_spread_constraints if c.when_unsatisfiable == "DoNotSchedule"]
    if not constraints:
        return ()
    counts: list[dict[str, int]] = [{} for _ in constraints]
    matched = [snapshot.match_counts(c.label_selector, pod.namespace) for c in constraints]
    for node in snapshot.nodes:
        labels = node.label_map
        if not all(c.topology_key in labels for c in constraints):
            continue
        for i, c in enumerate(constraints):
            if not spread_node_eligible(pod, node, c):
                continue
            value = labels[c.topology_key]
            counts[i][value] = counts[i].get(value, 0) + matched[i].get(node.name, 0)
    states = []
    for c, domain_counts in zip(constraints, counts, strict=True):
        min_match = min(domain_counts.values()) if domain_counts else _MAX_INT32
        if c.min_domains is not None and len(domain_counts) < c.min_domains:
            min_match = 0
        self_match = 1 if selector_matches(c.label_selector, pod.label_map) else 0
        states.append(SpreadState(c, domain_counts, min_match, self_match))
    return tuple(states)


def _inter_pod_affinity_counts(
    pod: PodInfo, snapshot: Snapshot
) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int], dict[tuple[str, str], int]]:
    """Upstream interpodaffinity/filtering.go PreFilter: per topology pair, the placed pods matching all the
    pod's required affinity terms, those matching each of its anti-affinity terms, and the placed pods whose
    anti-affinity terms match the pod."""
    affinity: dict[tuple[str, str], int] = {}
    anti: dict[tuple[str, str], int] = {}
    existing: dict[tuple[str, str], int] = {}
    required = pod.affinity.pod_required
    anti_required = pod.affinity.anti_required
    own_ns_labels = snapshot.namespace_labels(pod.namespace)
    node_map = snapshot.node_map

    def add(into: dict[tuple[str, str], int], key: str, per_node: Mapping[str, int]) -> None:
        for name, k in per_node.items():
            node = node_map.get(name)
            if node is not None and key in node.label_map:
                pair = (key, node.label_map[key])
                into[pair] = into.get(pair, 0) + k

    for term, per_node in snapshot.anti_terms.items():
        if term.matches(pod.namespace, pod.label_map, own_ns_labels):
            add(existing, term.topology_key, per_node)
    # terms naming their namespaces count from the snapshot's per-selector counts; the others pod by pod
    simple = [t for t in anti_required if t.namespace_selector is None]
    for term in simple:
        for ns in term.namespaces:
            add(anti, term.topology_key, snapshot.match_counts(term.label_selector, ns, terminating=True))
    slow_anti = [t for t in anti_required if t.namespace_selector is not None]
    slow_affinity = bool(required) and (len(required) > 1 or required[0].namespace_selector is not None)
    if required and not slow_affinity:
        term = required[0]
        for ns in term.namespaces:
            add(affinity, term.topology_key, snapshot.match_counts(term.label_selector, ns, terminating=True))
    if not slow_anti and not slow_affinity:
        return affinity, anti, existing
    for other, node in snapshot.placed:
        labels = node.label_map
        other_ns_labels = snapshot.namespace_labels(other.namespace)
        if slow_affinity and all(t.matches(other.namespace, other.label_map, other_ns_labels) for t in required):
            for term in required:
                if term.topology_key in labels:
                    pair = (term.topology_key, labels[term.topology_key])
                    affinity[pair] = affinity.get(pair, 0) + 1
        for term in slow_anti:
            if term.topology_key in labels and term.matches(other.namespace, other.label_map, other_ns_labels):
                pair = (term.topology_key, labels[term.topology_key])
                anti[pair] = anti.get(pair, 0) + 1
    return affinity, anti, existing


def pod_matches_all_terms(pod: PodInfo, terms: tuple[PodAffinityTerm, ...], snapshot: Snapshot) -> bool:
    """Upstream: interpodaffinity podMatchesAllAffinityTerms (false for no terms)."""
    ns_labels = snapshot.namespace_labels(pod.namespace)
    return bool(terms) and all(t.matches(pod.namespace, pod.label_map, ns_labels) for t in terms)


# --- Filter plugins ----------------------------------------------------------------------------------------


def node_unschedulable(pod: PodInfo, node: NodeInfo) -> FilterFailure | None:
    """Upstream: nodeunschedulable/node_unschedulable.go."""
    if not node.unschedulable:
        return None
    taint = Taint(UNSCHEDULABLE_TAINT_KEY, "", "NoSchedule")
    if any(t.tolerates(taint) for t in pod.tolerations):
        return None
    return _fail("NodeUnschedulable", REASON_UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


def node_name(pod: PodInfo, node: NodeInfo) -> FilterFailure | None:
    """Upstream: nodename/node_name.go."""
    if not pod.node_name or pod.node_name == node.name:
        return None
    return _fail("NodeName", REASON_NODE_NAME, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


def taint_toleration(pod: PodInfo, node: NodeInfo) -> FilterFailure | None:
    """Upstream: tainttoleration/taint_toleration.go Filter (NoSchedule and NoExecute taints)."""
    if untolerated_taint(node.taints, pod.tolerations) is None:
        return None
    return _fail("TaintToleration", REASON_TAINT, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


def node_affinity(pod: PodInfo, node: NodeInfo) -> FilterFailure | None:
    """Upstream: nodeaffinity/node_affinity.go Filter."""
    if matches_node_selector_and_affinity(pod, node):
        return None
    return _fail("NodeAffinity", REASON_NODE_AFFINITY, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)


def ports_conflict(wanted: HostPort, used: tuple[HostPort, ...]) -> bool:
    """Upstream: pkg/scheduler/framework/types.go HostPortInfo.CheckConflict."""
    for u in used:
        if u.protocol != wanted.protocol or u.port != wanted.port:
            continue
        if wanted.host_ip == "0.0.0.0" or u.host_ip in ("0.0.0.0", wanted.host_ip):
            return True
    return False


def node_ports(pod: PodInfo, node: NodeInfo, snapshot: Snapshot) -> FilterFailure | None:
    """Upstream: nodeports/node_ports.go Fits."""
    if not pod.host_ports:
        return None
    used = snapshot.usage(node.name).used_ports
    if any(ports_conflict(p, used) for p in pod.host_ports):
        return _fail("NodePorts", REASON_NODE_PORTS)
    return None


def insufficient_resources(pod: PodInfo, node: NodeInfo, snapshot: Snapshot) -> tuple[tuple[str, bool], ...]:
    """(reason, unresolvable) for each resource the node lacks, in upstream's order (pods, cpu, memory,
    ephemeral-storage, then extended resources by name). Unresolvable: the request exceeds allocatable itself.

    Upstream: noderesources/fit.go fitsRequest.
    """
    usage = snapshot.usage(node.name)
    alloc, used, req = node.allocatable, usage.requested, pod.requests
    out: list[tuple[str, bool]] = []
    if len(usage.pods) + 1 > alloc.pods:
        out.append((REASON_TOO_MANY_PODS, False))
    if req.is_zero():
        return tuple(out)
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        out.append(("Insufficient cpu", req.milli_cpu > alloc.milli_cpu))
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        out.append(("Insufficient memory", req.memory > alloc.memory))
    if req.ephemeral_storage > 0 and req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        out.append(("Insufficient ephemeral-storage", req.ephemeral_storage > alloc.ephemeral_storage))
    for name, amount in req.scalar:
        if amount > 0 and amount > alloc.scalar_amount(name) - used.scalar_amount(name):
            out.append((f"Insufficient {name}", amount > alloc.scalar_amount(name)))
    return tuple(out)


def node_resources_fit(pod: PodInfo, node: NodeInfo, snapshot: Snapshot) -> FilterFailure | None:
    """Upstream: noderesources/fit.go Filter: every insufficient resource is a reason."""
    lacking = insufficient_resources(pod, node, snapshot)
    if not lacking:
        return None
    code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if any(u for _, u in lacking) else Code.UNSCHEDULABLE
    return FilterFailure("NodeResourcesFit", tuple(r for r, _ in lacking), code)


def volume_binding(pod: PodInfo, node: NodeInfo) -> FilterFailure | None:
    """VolumeBinding's Filter (pkg/scheduler/framework/plugins/volumebinding/volume_binding.go): the reasons the
    caller found for this node (``PodInfo.volume_binding``, from ``spec.scheduling.volumebinding``), every one
    UnschedulableAndUnresolvable as upstream's."""
    if not pod.volume_binding:
        return None
    reasons = tuple(reason for where, reason in pod.volume_binding if where == node.name)
    return FilterFailure("VolumeBinding", reasons, Code.UNSCHEDULABLE_AND_UNRESOLVABLE) if reasons else None


def pod_topology_spread(pod: PodInfo, node: NodeInfo, state: PreFilterState) -> FilterFailure | None:
    """Upstream: podtopologyspread/filtering.go Filter."""
    labels = node.label_map
    for s in state.spread:
        c = s.constraint
        if c.topology_key not in labels:
            return _fail("PodTopologySpread", REASON_SPREAD_LABEL, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
        skew = s.counts.get(labels[c.topology_key], 0) + s.self_match - s.min_match
        if skew > c.max_skew:
            return _fail("PodTopologySpread", REASON_SPREAD)
    return None


def inter_pod_affinity(pod: PodInfo, node: NodeInfo, state: PreFilterState, snapshot: Snapshot) -> FilterFailure | None:
    """Upstream: interpodaffinity/filtering.go Filter: required affinity, then the pod's anti-affinity, then
    existing pods' anti-affinity."""
    labels = node.label_map
    if pod.affinity.pod_required and not _satisfies_pod_affinity(pod, labels, state, snapshot):
        return _fail("InterPodAffinity", REASON_POD_AFFINITY, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
    if state.anti_affinity_counts:
        for term in pod.affinity.anti_required:
            if (
                term.topology_key in labels
                and state.anti_affinity_counts.get((term.topology_key, labels[term.topology_key]), 0) > 0
            ):
                return _fail("InterPodAffinity", REASON_POD_ANTI_AFFINITY)
    if state.existing_anti_affinity_counts and any(
        state.existing_anti_affinity_counts.get(pair, 0) > 0 for pair in node.labels
    ):
        return _fail("InterPodAffinity", REASON_EXISTING_ANTI_AFFINITY)
    return None


def _satisfies_pod_affinity(pod: PodInfo, labels: Mapping[str, str], state: PreFilterState, snapshot: Snapshot) -> bool:
    pods_exist = True
    for term in pod.affinity.pod_required:
        if term.topology_key not in labels:
            return False
        if state.affinity_counts.get((term.topology_key, labels[term.topology_key]), 0) <= 0:
            pods_exist = False
    if pods_exist:
        return True
    # The first pod of a group with affinity to itself may go anywhere with the topology labels.
    return not state.affinity_counts and pod_matches_all_terms(pod, pod.affinity.pod_required, snapshot)


def run_filters(
    pod: PodInfo, node: NodeInfo, snapshot: Snapshot, state: PreFilterState | None = None
) -> FilterFailure | None:
    """The first failing Filter plugin for ``pod`` on ``node``, or None when the node is feasible.

    ``state`` is ``prefilter(pod, snapshot)``; pass it when filtering many nodes for the same pod.
    Upstream: pkg/scheduler/framework/runtime/framework.go RunFilterPlugins (stops at the first failure).
    """
    if state is None:
        state = prefilter(pod, snapshot)
    if state.rejection is not None:
        return state.rejection
    if state.node_names is not None and node.name not in state.node_names:
        return _fail("NodeAffinity", REASON_ABSENT_NODE_AFFINITY, Code.UNSCHEDULABLE_AND_UNRESOLVABLE)
    return (
        node_unschedulable(pod, node)
        or node_name(pod, node)
        or taint_toleration(pod, node)
        or node_affinity(pod, node)
        or node_ports(pod, node, snapshot)
        or node_resources_fit(pod, node, snapshot)
        or volume_binding(pod, node)
        or pod_topology_spread(pod, node, state)
        or inter_pod_affinity(pod, node, state, snapshot)
    )


def filter_nodes(
    pod: PodInfo, snapshot: Snapshot, state: PreFilterState | None = None
) -> tuple[tuple[NodeInfo, ...], tuple[tuple[str, FilterFailure], ...]]:
    """(feasible nodes, (node name, failure) for the others), both in snapshot order."""
    if state is None:
        state = prefilter(pod, snapshot)
    feasible: list[NodeInfo] = []
    failures: list[tuple[str, FilterFailure]] = []
    for node in snapshot.nodes:
        failure = run_filters(pod, node, snapshot, state)
        if failure is None:
            feasible.append(node)
        else:
            failures.append((node.name, failure))
    return tuple(feasible), tuple(failures)
