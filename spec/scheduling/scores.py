"""The scheduler's default Score plugins, their normalization and weights.

Upstream: pkg/scheduler/apis/config/v1/default_plugins.go (weights: TaintToleration 3, NodeAffinity 2,
PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit 1, NodeResourcesBalancedAllocation 1, ImageLocality 1)
and pkg/scheduler/framework/plugins/*/scoring.go. A node's total is the weighted sum of the normalized scores,
each in [0, 100] (framework.MaxNodeScore). Followed version: Kubernetes v1.34.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from spec.scheduling.filters import spread_node_eligible
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import (
    HOSTNAME_LABEL,
    ZONE_LABEL,
    NodeInfo,
    PodAffinityTerm,
    PodInfo,
    TopologySpreadConstraint,
)

MAX_NODE_SCORE = 100
HARD_POD_AFFINITY_WEIGHT = 1
"""Upstream: InterPodAffinityArgs.HardPodAffinityWeight default (pkg/scheduler/apis/config/v1/defaults.go)."""
_MB = 1024 * 1024
_IMAGE_MIN_THRESHOLD = 23 * _MB
_IMAGE_MAX_CONTAINER_THRESHOLD = 1000 * _MB

SCORE_PLUGINS: tuple[tuple[str, int], ...] = (
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodeResourcesFit", 1),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
)


def default_normalize(scores: list[int], reverse: bool = False) -> list[int]:
    """Upstream: pkg/scheduler/framework/plugins/helper/normalize_score.go DefaultNormalizeScore."""
    top = max(scores, default=0)
    if top == 0:
        return [MAX_NODE_SCORE if reverse else 0 for _ in scores]
    out = [MAX_NODE_SCORE * s // top for s in scores]
    return [MAX_NODE_SCORE - s for s in out] if reverse else out


# --- one function per plugin: (pod, feasible nodes, snapshot) -> normalized scores ----------------------------


def taint_toleration(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> list[int]:
    """Untolerated PreferNoSchedule taints, fewer is better. Upstream: tainttoleration/taint_toleration.go Score."""
    tolerations = [t for t in pod.tolerations if t.effect in ("", "PreferNoSchedule")]
    raw = [
        sum(
            1
            for taint in n.taints
            if taint.effect == "PreferNoSchedule" and not any(t.tolerates(taint) for t in tolerations)
        )
        for n in nodes
    ]
    return default_normalize(raw, reverse=True)


def node_affinity(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> list[int]:
    """Sum of matching preferred terms' weights. Upstream: nodeaffinity/node_affinity.go Score."""
    raw = [
        sum(p.weight for p in pod.affinity.node_preferred if p.preference.matches(n.label_map, n.name)) for n in nodes
    ]
    return default_normalize(raw)


def _requested(pod: PodInfo, node: NodeInfo, snapshot: Snapshot, non_zero: bool) -> tuple[int, int]:
    usage = snapshot.usage(node.name)
    if non_zero:
        return usage.non_zero_cpu + pod.non_zero_cpu, usage.non_zero_memory + pod.non_zero_memory
    return usage.requested.milli_cpu + pod.requests.milli_cpu, usage.requested.memory + pod.requests.memory


def node_resources_fit(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> list[int]:
    """LeastAllocated over cpu and memory (weight 1 each), on non-zero requests.

    Upstream: noderesources/least_allocated.go leastResourceScorer; resource_allocation.go.
    """
    out = []
    for n in nodes:
        requested = _requested(pod, n, snapshot, non_zero=True)
        allocatable = (n.allocatable.milli_cpu, n.allocatable.memory)
        total = weights = 0
        for req, alloc in zip(requested, allocatable, strict=True):
            if alloc == 0:
                continue
            total += 0 if req > alloc else (alloc - req) * MAX_NODE_SCORE // alloc
            weights += 1
        out.append(total // weights if weights else 0)
    return out


def balanced_allocation(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> list[int]:
    """1 - std of cpu and memory fractions; skipped for pods requesting neither.

    Upstream: noderesources/balanced_allocation.go balancedResourceScorer (uses actual, not non-zero, requests).
    """
    if pod.requests.milli_cpu == 0 and pod.requests.memory == 0:
        return [0 for _ in nodes]
    out = []
    for n in nodes:
        requested = _requested(pod, n, snapshot, non_zero=False)
        allocatable = (n.allocatable.milli_cpu, n.allocatable.memory)
        fractions = [min(1.0, r / a) for r, a in zip(requested, allocatable, strict=True) if a != 0]
        std = abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else 0.0
        out.append(int((1 - std) * MAX_NODE_SCORE))
    return out


def _normalized_image(name: str) -> str:
    """Upstream: imagelocality normalizedImageName (":latest" when there is no tag or digest)."""
    last = name.rsplit("/", 1)[-1]
    return name if (":" in last or "@" in name) else f"{name}:latest"


def image_locality(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> list[int]:
    """Sizes of the pod's images present on the node, scaled by spread. Upstream: imagelocality/image_locality.go."""
    if not pod.images:
        return [0 for _ in nodes]
    holders: dict[str, int] = {}
    sizes: dict[tuple[str, str], int] = {}
    for n in snapshot.nodes:
        for names, size in n.images:
            for name in names:
                holders[name] = holders.get(name, 0) + 1
                sizes[(n.name, name)] = size
    total_nodes = len(snapshot.nodes)
    max_threshold = _IMAGE_MAX_CONTAINER_THRESHOLD * len(pod.images)
    out = []
    for n in nodes:
        score = 0
        for image in pod.images:
            name = _normalized_image(image)
            if (n.name, name) in sizes:
                score += int(sizes[(n.name, name)] * (holders[name] / total_nodes))
        score = min(max(score, _IMAGE_MIN_THRESHOLD), max_threshold)
        out.append(MAX_NODE_SCORE * (score - _IMAGE_MIN_THRESHOLD) // (max_threshold - _IMAGE_MIN_THRESHOLD))
    return out


def _default_spread_constraints(pod: PodInfo) -> tuple[TopologySpreadConstraint, ...]:
    """System default constraints (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway) with the pod's owners'
    selector. Upstream: podtopologyspread/plugin.go systemDefaultConstraints, common.go buildDefaultConstraints."""
    if pod.spread_selector is None or (
        not pod.spread_selector.match_labels and not pod.spread_selector.match_expressions
    ):
        return ()
    return (
        TopologySpreadConstraint(3, HOSTNAME_LABEL, "ScheduleAnyway", pod.spread_selector),
        TopologySpreadConstraint(5, ZONE_LABEL, "ScheduleAnyway", pod.spread_selector),
    )


def pod_topology_spread(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> list[int]:
    """ScheduleAnyway constraints (or the system defaults): fewer matching pods in the node's domains is better.

    Upstream: podtopologyspread/scoring.go initPreScoreState, PreScore, Score, NormalizeScore.
    """
    if pod.topology_spread_constraints:
        constraints = tuple(c for c in pod.topology_spread_constraints if c.when_unsatisfiable == "ScheduleAnyway")
        require_all = True
    else:
        constraints = _default_spread_constraints(pod)
        require_all = False
    if not constraints or not nodes:
        return [0 for _ in nodes]
    ignored: set[str] = set()
    counts: list[dict[str, int]] = [{} for _ in constraints]
    for n in nodes:
        labels = n.label_map
        if require_all and not all(c.topology_key in labels for c in constraints):
            ignored.add(n.name)
            continue
        for i, c in enumerate(constraints):
            if c.topology_key != HOSTNAME_LABEL:
                counts[i].setdefault(labels.get(c.topology_key, ""), 0)
    weights = []
    for i, c in enumerate(constraints):
        size = len(nodes) - len(ignored) if c.topology_key == HOSTNAME_LABEL else len(counts[i])
        weights.append(math.log(size + 2))
    matched = [snapshot.match_counts(c.label_selector, pod.namespace) for c in constraints]
    for n in snapshot.nodes:
        labels = n.label_map
        if require_all and not all(c.topology_key in labels for c in constraints):
            continue
        for i, c in enumerate(constraints):
            if not spread_node_eligible(pod, n, c):
                continue
            value = labels.get(c.topology_key, "")
            if value in counts[i]:
                counts[i][value] += matched[i].get(n.name, 0)
    raw: list[int | None] = []
    for n in nodes:
        if n.name in ignored:
            raw.append(None)
            continue
        labels = n.label_map
        score = 0.0
        for i, c in enumerate(constraints):
            if c.topology_key not in labels:
                continue
            hostname = c.topology_key == HOSTNAME_LABEL
            cnt = matched[i].get(n.name, 0) if hostname else counts[i][labels[c.topology_key]]
            score += cnt * weights[i] + (c.max_skew - 1)
        raw.append(_go_round(score))
    valid = [s for s in raw if s is not None]
    low, high = min(valid, default=0), max(valid, default=0)
    out = []
    for s in raw:
        if s is None:
            out.append(0)
        elif high == 0:
            out.append(MAX_NODE_SCORE)
        else:
            out.append(MAX_NODE_SCORE * (high + low - s) // high)
    return out


def _go_round(x: float) -> int:
    """Go's math.Round: half away from zero (Python's round is half to even)."""
    return int(math.floor(x + 0.5)) if x >= 0 else -int(math.floor(-x + 0.5))


def _add_term(
    scores: dict[tuple[str, str], int],
    term: PodAffinityTerm,
    weight: int,
    target: PodInfo,
    node: NodeInfo,
    snapshot: Snapshot,
) -> None:
    labels = node.label_map
    if term.topology_key in labels and term.matches(
        target.namespace, target.label_map, snapshot.namespace_labels(target.namespace)
    ):
        pair = (term.topology_key, labels[term.topology_key])
        scores[pair] = scores.get(pair, 0) + weight


def inter_pod_affinity(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> list[int]:
    """Preferred (anti-)affinity of the pod and of existing pods, plus existing pods' required affinity (weight 1).

    Upstream: interpodaffinity/scoring.go PreScore, processExistingPod, Score, NormalizeScore.
    """
    topology: dict[tuple[str, str], int] = {}
    a = pod.affinity
    if a.pod_preferred or a.anti_preferred:
        # the pod's own preferred terms, against every placed pod (upstream PreScore: all nodes)
        for existing, node in snapshot.placed:
            if not node.labels:
                continue
            for w in a.pod_preferred:
                _add_term(topology, w.term, w.weight, existing, node, snapshot)
            for w in a.anti_preferred:
                _add_term(topology, w.term, -w.weight, existing, node, snapshot)
    # existing pods' required affinity (hard weight), preferred affinity and anti-affinity, grouped by term
    ns_labels = snapshot.namespace_labels(pod.namespace)
    node_map = snapshot.node_map
    for (term, weight), per_node in snapshot.scoring_terms.items():
        if not term.matches(pod.namespace, pod.label_map, ns_labels):
            continue
        score = HARD_POD_AFFINITY_WEIGHT if weight is None else weight
        for name, k in per_node.items():
            labels = node_map[name].label_map
            if term.topology_key in labels:
                pair = (term.topology_key, labels[term.topology_key])
                topology[pair] = topology.get(pair, 0) + score * k
    if not topology:
        return [0 for _ in nodes]
    raw = [sum(topology.get(pair, 0) for pair in n.labels) for n in nodes]
    low, high = min(raw), max(raw)
    if high - low <= 0:
        return [0 for _ in raw]
    return [int(MAX_NODE_SCORE * ((s - low) / (high - low))) for s in raw]


PLUGIN_FUNCTIONS: dict[str, Callable[[PodInfo, Sequence[NodeInfo], Snapshot], list[int]]] = {
    "TaintToleration": taint_toleration,
    "NodeAffinity": node_affinity,
    "NodeResourcesFit": node_resources_fit,
    "PodTopologySpread": pod_topology_spread,
    "InterPodAffinity": inter_pod_affinity,
    "NodeResourcesBalancedAllocation": balanced_allocation,
    "ImageLocality": image_locality,
}


def plugin_scores(
    pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: Snapshot
) -> tuple[tuple[str, int, tuple[int, ...]], ...]:
    """(plugin, weight, normalized score per node) for every default Score plugin."""
    return tuple((name, weight, tuple(PLUGIN_FUNCTIONS[name](pod, nodes, snapshot))) for name, weight in SCORE_PLUGINS)


def score_nodes(pod: PodInfo, nodes: Sequence[NodeInfo], snapshot: Snapshot) -> tuple[tuple[str, int], ...]:
    """(node name, weighted total) for each feasible node, in the given order.

    Upstream: pkg/scheduler/schedule_one.go prioritizeNodes (sum of weight x normalized score).
    """
    totals = [0] * len(nodes)
    for _, weight, scores in plugin_scores(pod, nodes, snapshot):
        for i, s in enumerate(scores):
            totals[i] += weight * s
    return tuple((n.name, t) for n, t in zip(nodes, totals, strict=True))
