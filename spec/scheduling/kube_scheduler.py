"""kube-scheduler, pod by pod: queue order, Filter, Score, host selection, preemption, FailedScheduling messages.

Upstream: pkg/scheduler/schedule_one.go (scheduleOne, findNodesThatFitPod, prioritizeNodes, selectHost),
pkg/scheduler/framework/plugins/queuesort/priority_sort.go (queue order), pkg/scheduler/framework/types.go
(FitError.Error), pkg/scheduler/framework/preemption/preemption.go and plugins/defaultpreemption (PostFilter).
Followed version: Kubernetes v1.34.

Deliberate, documented differences:
- Ties between the best-scoring nodes are broken by the smallest node name (upstream picks uniformly at random).
- Every node is filtered and scored (upstream stops after percentageOfNodesToScore feasible nodes, which only
  matters above 100 nodes).
- After a successful preemption the victims are deleted at once and the preemptor is scheduled in the next cycle,
  before any other pod (upstream nominates it and waits for the victims' graceful termination). Victims are not
  recreated: a workload controller would create replacements, which this one-shot simulation does not model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import attrs

from spec.scheduling.filters import Code, FilterFailure, filter_nodes, prefilter, run_filters
from spec.scheduling.scores import score_nodes
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import NodeInfo, PodInfo

NO_VICTIMS = "No preemption victims found for incoming pod"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NEVER_PREEMPT = "not eligible due to preemptionPolicy=Never."


def queue_order(pods: Iterable[PodInfo]) -> tuple[PodInfo, ...]:
    """Higher priority first, then earlier creation. Upstream: queuesort/priority_sort.go Less."""
    return tuple(sorted(pods, key=lambda p: (-p.priority, p.order)))


def fit_error_message(
    n_nodes: int, reasons: Iterable[Sequence[str]], prefilter_message: str = "", post_filter_message: str = ""
) -> str:
    """Upstream FitError.Error(): ``0/N nodes are available: <count> <reason>, ... .`` plus the PostFilter message.

    ``reasons`` holds each failed node's reasons; each reason is counted once per node that reports it, and the
    ``"<count> <reason>"`` strings are sorted as strings (Go's sort.Strings). A PreFilter rejection replaces the
    per-node histogram.
    """
    message = f"0/{n_nodes} nodes are available:"
    if prefilter_message:
        message += f" {prefilter_message}."
    else:
        histogram: dict[str, int] = {}
        for node_reasons in reasons:
            for reason in node_reasons:
                histogram[reason] = histogram.get(reason, 0) + 1
        parts = sorted(f"{count} {reason}" for reason, count in histogram.items())
        if parts:
            message += f" {', '.join(parts)}."
    if post_filter_message:
        message += f" {post_filter_message}"
    return message


def failed_scheduling_message(
    failures: Sequence[FilterFailure], n_nodes: int, post_filter_message: str = "", prefilter_message: str = ""
) -> str:
    """The FailedScheduling event message from the per-node filter failures (see fit_error_message)."""
    return fit_error_message(n_nodes, (f.reasons for f in failures), prefilter_message, post_filter_message)


def select_host(scores: Sequence[tuple[str, int]]) -> str:
    """The best-scoring node; ties go to the smallest node name (upstream: random among the best)."""
    if not scores:
        raise ValueError("select_host needs at least one scored node")
    best = max(score for _, score in scores)
    return min(name for name, score in scores if score == best)


@attrs.frozen
class Candidate:
    """A node where preemption makes the pod fit, and the pods it would evict (upstream: preemption.Candidate)."""

    node: str
    victims: tuple[PodInfo, ...]


@attrs.frozen
class Decision:
    """The outcome of one scheduling cycle for one pod."""

    pod: PodInfo
    node: str | None
    failures: tuple[tuple[str, FilterFailure], ...] = ()
    message: str = ""
    """The FailedScheduling message when ``node`` is None."""
    preemption: Candidate | None = None
    """When set, the pod does not fit yet; evicting these victims on this node makes it fit."""


def _preempt(
    pod: PodInfo, snapshot: Snapshot, failures: Sequence[tuple[str, FilterFailure]]
) -> tuple[Candidate | None, str]:
    """(chosen candidate, PostFilter message). Upstream: defaultpreemption PostFilter / preemption.Preempt,
    SelectVictimsOnNode (remove all lower-priority pods, then reprieve the most important that still allow a fit),
    pickOneNodeForPreemption (lowest highest-victim priority, lowest priority sum, fewest victims; then node order).
    """
    if pod.preemption_policy == "Never":
        return None, f"preemption: {NEVER_PREEMPT}"
    statuses: list[tuple[str, ...]] = []
    candidates: list[Candidate] = []
    node_map = snapshot.node_map
    for name, failure in failures:
        if failure.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            statuses.append((NOT_HELPFUL,))
            continue
        victims = [p for p in snapshot.pods_on(name) if p.priority < pod.priority]
        if not victims:
            statuses.append((NO_VICTIMS,))
            continue
        trial = snapshot.without(victims)
        still = run_filters(pod, node_map[name], trial)
        if still is not None:
            statuses.append(still.reasons)
            continue
        evicted = []
        for victim in sorted(victims, key=lambda p: (-p.priority, p.order)):
            kept = Snapshot(trial.nodes, (*trial.pods, victim), trial.namespaces)
            if run_filters(pod, node_map[name], kept) is None:
                trial = kept
            else:
                evicted.append(victim)
        candidates.append(Candidate(name, tuple(evicted)))
    if not candidates:
        return None, "preemption: " + fit_error_message(len(snapshot.nodes), statuses)
    order = {n.name: i for i, n in enumerate(snapshot.nodes)}
    best = min(
        candidates,
        key=lambda c: (
            max((v.priority for v in c.victims), default=-(2**31)),
            sum(v.priority + 2**31 for v in c.victims),
            len(c.victims),
            order[c.node],
        ),
    )
    return best, ""


def schedule_one(pod: PodInfo, snapshot: Snapshot) -> Decision:
    """One scheduling cycle: PreFilter, Filter on every node, then Score and select, or PostFilter (preemption)."""
    state = prefilter(pod, snapshot)
    feasible, failures = filter_nodes(pod, snapshot, state)
    if feasible:
        if len(feasible) == 1:
            return Decision(pod, feasible[0].name, failures)
        return Decision(pod, select_host(score_nodes(pod, feasible, snapshot)), failures)
    candidate, post = _preempt(pod, snapshot, failures)
    if candidate is not None:
        return Decision(pod, None, failures, preemption=candidate)
    prefilter_message = state.rejection.reason if state.rejection is not None else ""
    message = failed_scheduling_message([f for _, f in failures], len(snapshot.nodes), post, prefilter_message)
    return Decision(pod, None, failures, message)


@attrs.frozen
class Placement:
    """Where one pod ended up: its node, or why not (FailedScheduling message, or the preemption that evicted it)."""

    pod: str
    node: str | None
    reason: str = ""
    preempted: tuple[str, ...] = ()
    """Pods this one evicted (``namespace/name``)."""


@attrs.frozen
class Outcome:
    """A whole run: one placement per pending pod, in scheduling order, and the final snapshot."""

    placements: tuple[Placement, ...]
    snapshot: Snapshot

    @property
    def all_placed(self) -> bool:
        return all(p.node is not None for p in self.placements)


def schedule(pending: Iterable[PodInfo], snapshot: Snapshot) -> Outcome:
    """Schedule every pending pod once, in queue order, each seeing the pods assumed before it."""
    placements: dict[str, Placement] = {}
    order: list[str] = []
    for pod in queue_order(pending):
        order.append(pod.key)
        decision = schedule_one(pod, snapshot)
        victims: tuple[PodInfo, ...] = ()
        if decision.preemption is not None:
            victims = decision.preemption.victims
            snapshot = snapshot.without(victims)
            for v in victims:
                placements[v.key] = Placement(v.key, None, f"preempted by {pod.key} on node {decision.preemption.node}")
                if v.key not in order:
                    order.append(v.key)
            decision = schedule_one(pod, snapshot)
        if decision.node is not None:
            snapshot = snapshot.assume(pod, decision.node)
            placements[pod.key] = Placement(pod.key, decision.node, "", tuple(v.key for v in victims))
        else:
            placements[pod.key] = Placement(pod.key, None, decision.message, tuple(v.key for v in victims))
    return Outcome(tuple(placements[k] for k in order), snapshot)


def feasible_nodes(pod: PodInfo, snapshot: Snapshot) -> tuple[NodeInfo, ...]:
    """The nodes that pass every filter for ``pod``."""
    return filter_nodes(pod, snapshot)[0]
