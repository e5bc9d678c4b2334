"""A packing heuristic for optimal mode: pods in queue order, each on the most allocated node that passes every
Filter plugin (first fit, fullest nodes first). Its placement, when valid, is a starting point for z3's search
for the fewest nodes in use, which z3 finds slowly on its own when requests differ (bin packing).

Upstream: none (kube-scheduler's NodeResourcesFit MostAllocated scoring strategy orders nodes the same way).
"""

from __future__ import annotations

from collections.abc import Sequence

from spec.scheduling.filters import prefilter, run_filters
from spec.scheduling.kube_scheduler import queue_order
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import NodeInfo, PodInfo


def _allocated(node: NodeInfo, snapshot: Snapshot) -> float:
    """Requested over allocatable, cpu and memory summed."""
    used = snapshot.usage(node.name).requested
    alloc = node.allocatable
    return sum(u / a for u, a in ((used.milli_cpu, alloc.milli_cpu), (used.memory, alloc.memory)) if a > 0)


def first_fit(pending: Sequence[PodInfo], snapshot: Snapshot, in_order: bool = False) -> dict[str, str]:
    """pod key -> node for the pods that fit, each checked against the pods placed before it; in queue order, or
    in the given order with ``in_order``."""
    assignment: dict[str, str] = {}
    order = {node.name: i for i, node in enumerate(snapshot.nodes)}
    for pod in pending if in_order else queue_order(pending):
        state = prefilter(pod, snapshot)
        for node in sorted(snapshot.nodes, key=lambda n: (-_allocated(n, snapshot), order[n.name])):
            if run_filters(pod, node, snapshot, state) is None:
                snapshot = snapshot.assume(pod, node.name)
                assignment[pod.key] = node.name
                break
    return assignment
