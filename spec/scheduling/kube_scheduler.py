"""kube-scheduler, pod by pod: queue order, Filter, Score, host selection, preemption, FailedScheduling messages.

Upstream: pkg/scheduler/schedule_one.go (scheduleOne, findNodesThatFitPod, prioritizeNodes, selectHost),
pkg/scheduler/framework/plugins/queuesort/priority_sort.go (queue order), pkg/scheduler/framework/types.go
(FitError.Error), pkg/scheduler/framework/preemption/preemption.go and plugins/defaultpreemption (PostFilter).
Followed version: Kubernetes v1.34.

Deliberate, documented differences:
- Ties between the best-scoring nodes are broken by the smallest node name (upstream picks uniformly at random).
- Above 100 nodes, Filter stops after percentageOfNodesToScore's share of feasible nodes from a rotating start
  index, as upstream, but checks nodes in order where upstream checks them in parallel.
- PodDisruptionBudgets are read from ``status.disruptionsAllowed`` (or computed as the disruption controller does,
  every bound matching pod healthy); DisruptedPods are not modelled.
- After a successful preemption the victims are deleted at once and the preemptor is scheduled in the next cycle,
  before any other pod (upstream nominates it and waits for the victims' graceful termination). Victims are not
  recreated: a workload controller would create replacements, which this one-shot simulation does not model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from spec.scheduling.filters import Code, FilterFailure, PreFilterState, filter_nodes, prefilter, run_filters
from spec.scheduling.scores import score_nodes
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.storage import Storage
from spec.scheduling.types import DisruptionBudget, NodeInfo, PodInfo

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
    """A node where preemption makes the pod fit, and the pods it would evict (upstream: preemption.Candidate).

    ``victims`` are in MoreImportantPod order (priority, then creation); ``pdb_violations`` counts those whose
    eviction exceeds a PodDisruptionBudget's allowed disruptions."""

    node: str
    victims: tuple[PodInfo, ...]
    pdb_violations: int = 0


@attrs.frozen
class Decision:
    """The outcome of one scheduling cycle for one pod (the result of ``scheduling_cycle``)."""

    pod: PodInfo
    node: str | None
    """The node the pod is assumed and bound to, when some node passes every filter."""
    failures: tuple[tuple[str, FilterFailure], ...] = ()
    """(node, first failing filter) for every node that failed."""
    message: str = ""
    """The FailedScheduling message when ``node`` is None (with PostFilter's preemption verdict)."""
    preemption: Candidate | None = None
    """When set, the pod does not fit yet; evicting these victims on this node makes it fit."""
    processed: int = 0
    """Nodes the Filter phase looked at (upstream advances nextStartNodeIndex by this much)."""
    best: tuple[str, ...] = ()
    """Every node with the highest score, in name order, when ``node`` is set: upstream's selectHost picks one of
    them at random (reservoir sampling); ``node`` is the first, and the model explores each."""

    @property
    def nominated_node(self) -> str | None:
        """Upstream: the pod's status.nominatedNodeName after a successful PostFilter."""
        return self.preemption.node if self.preemption is not None else None

    @property
    def victims(self) -> tuple[PodInfo, ...]:
        return self.preemption.victims if self.preemption is not None else ()


def _more_important(p: PodInfo) -> tuple[int, int]:
    """Sort key, most important first. Upstream: pkg/scheduler/util MoreImportantPod (priority, then the earlier
    start time; here creation order stands for start time)."""
    return (-p.priority, p.order)


def split_by_budget(
    pods: Sequence[PodInfo], budgets: Sequence[DisruptionBudget]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating): evicting the pods in this order, which ones exceed some budget's allowed
    disruptions. Upstream: defaultpreemption filterPodsWithPDBViolation (a pod without labels matches no budget)."""
    allowed = [b.allowed for b in budgets]
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for p in pods:
        violated = False
        if p.labels:
            for i, b in enumerate(budgets):
                if b.covers(p):
                    allowed[i] -= 1
                    violated = violated or allowed[i] < 0
        (violating if violated else fine).append(p)
    return violating, fine


def select_victims_on_node(
    pod: PodInfo, node: NodeInfo, snapshot: Snapshot, budgets: Sequence[DisruptionBudget] = ()
) -> tuple[Candidate | None, tuple[str, ...]]:
    """The fewest lower-priority pods to evict from ``node`` for ``pod`` to fit, or the failure reasons.

    Upstream: defaultpreemption/default_preemption.go SelectVictimsOnNode: remove every lower-priority pod; if the
    pod still does not fit, the node is no candidate; otherwise reprieve the pods, most important first, those
    whose eviction would violate a PodDisruptionBudget before the others, keeping each that still lets it fit.
    """
    lower = sorted((p for p in snapshot.pods_on(node.name) if p.priority < pod.priority), key=_more_important)
    if not lower:
        return None, (NO_VICTIMS,)
    trial = snapshot.without(lower)
    still = run_filters(pod, node, trial)
    if still is not None:
        return None, still.reasons
    violating, fine = split_by_budget(lower, budgets)
    victims: list[PodInfo] = []
    violations = 0
    for group, counts in ((violating, True), (fine, False)):
        for victim in group:
            kept = Snapshot(trial.nodes, (*trial.pods, victim), trial.namespaces)
            if run_filters(pod, node, kept) is None:
                trial = kept
            else:
                victims.append(victim)
                violations += counts
    victims.sort(key=_more_important)
    return Candidate(node.name, tuple(victims), violations), ()


def pick_one_node(candidates: Sequence[Candidate], order: Mapping[str, int]) -> Candidate:
    """Upstream: preemption.go pickOneNodeForPreemption: a candidate without victims; else the fewest PDB
    violations, the lowest highest-victim priority, the lowest sum of victim priorities, the fewest victims, the
    latest start of the most important victims (creation order here), then the first node."""
    for c in candidates:
        if not c.victims:
            return c

    def key(c: Candidate) -> tuple[int, int, int, int, int, int]:
        top = c.victims[0].priority
        earliest = min(v.order for v in c.victims if v.priority == top)
        return (
            c.pdb_violations,
            top,
            sum(v.priority + 2**31 for v in c.victims),
            len(c.victims),
            -earliest,
            order[c.node],
        )

    return min(candidates, key=key)


def _preempt(
    pod: PodInfo,
    snapshot: Snapshot,
    failures: Sequence[tuple[str, FilterFailure]],
    budgets: Sequence[DisruptionBudget] = (),
) -> tuple[Candidate | None, str]:
    """(chosen candidate, PostFilter message). Upstream: defaultpreemption PostFilter / preemption.Preempt:
    PodEligibleToPreemptOthers (preemptionPolicy Never), nodes whose failure preemption cannot resolve skipped
    (UnschedulableAndUnresolvable), SelectVictimsOnNode on the others, pickOneNodeForPreemption."""
    if pod.preemption_policy == "Never":
        return None, f"preemption: {NEVER_PREEMPT}"
    statuses: list[tuple[str, ...]] = []
    candidates: list[Candidate] = []
    node_map = snapshot.node_map
    for name, failure in failures:
        if failure.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
            statuses.append((NOT_HELPFUL,))
            continue
        candidate, reasons = select_victims_on_node(pod, node_map[name], snapshot, budgets)
        if candidate is None:
            statuses.append(reasons)
        else:
            candidates.append(candidate)
    if not candidates:
        return None, "preemption: " + fit_error_message(len(snapshot.nodes), statuses)
    return pick_one_node(candidates, {n.name: i for i, n in enumerate(snapshot.nodes)}), ""


GATED = "Scheduling is blocked due to non-empty scheduling gates"
"""Upstream: pkg/scheduler/framework/plugins/schedulinggates (PreEnqueue), the PodScheduled condition's message
with reason SchedulingGated."""


MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


def num_feasible_nodes_to_find(n_nodes: int, percentage: int = 0) -> int:
    """How many feasible nodes the Filter phase looks for before it stops. Upstream: schedule_one.go
    numFeasibleNodesToFind with percentageOfNodesToScore (0: adaptive, 50% minus 1% per 125 nodes, at least 5%;
    never fewer than 100 nodes)."""
    if n_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return n_nodes
    if percentage == 0:
        percentage = max(50 - n_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(n_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def find_feasible(
    pod: PodInfo, snapshot: Snapshot, state: PreFilterState, start: int = 0
) -> tuple[tuple[NodeInfo, ...], tuple[tuple[str, FilterFailure], ...], int]:
    """(feasible nodes, failures, nodes processed): nodes filtered in order from ``start`` (wrapping), stopping
    once ``num_feasible_nodes_to_find`` nodes passed. Upstream: schedule_one.go findNodesThatPassFilters (run in
    parallel there; in order here), over the PreFilter result's nodes when NodeAffinity restricts them."""
    nodes = snapshot.nodes
    if state.node_names is not None:
        nodes = tuple(n for n in nodes if n.name in state.node_names)
    total = len(nodes)
    want = num_feasible_nodes_to_find(total)
    feasible: list[NodeInfo] = []
    failures: list[tuple[str, FilterFailure]] = []
    processed = 0
    for i in range(total):
        node = nodes[(start + i) % total]
        processed += 1
        failure = run_filters(pod, node, snapshot, state)
        if failure is None:
            feasible.append(node)
            if len(feasible) >= want:
                break
        else:
            failures.append((node.name, failure))
    if not feasible:
        # every node failed: report them all in snapshot order (the FailedScheduling histogram)
        failures = [(n.name, f) for n in snapshot.nodes if (f := run_filters(pod, n, snapshot, state)) is not None]
    return tuple(feasible), tuple(failures), processed


def scheduling_cycle(
    pod: PodInfo, snapshot: Snapshot, budgets: Sequence[DisruptionBudget] = (), start: int = 0
) -> Decision:

    """One scheduling cycle for ``pod`` against ``snapshot`` (the nodes and every pod bound or assumed on them):
    a pure function, shared by ``kubespec schedule`` and the model's scheduler.

    Upstream: pkg/scheduler/schedule_one.go schedulePod: PreFilter, Filter on every node (findNodesThatFitPod),
    then with one feasible node that node, with several Score (prioritizeNodes) and selectHost; with none, the
    PostFilter plugin DefaultPreemption (pkg/scheduler/framework/plugins/defaultpreemption and
    pkg/scheduler/framework/preemption/preemption.go): when preemption can help, the Decision names the nominated
    node and the victims to evict (the pod itself is not placed in this cycle: upstream sets nominatedNodeName,
    deletes the victims and retries the pod); otherwise it carries upstream's FailedScheduling message.
    ``budgets`` are the PodDisruptionBudgets preemption tries not to violate. A gated pod (spec.schedulingGates)
    never reaches a cycle upstream (PreEnqueue); here it gets node None and the SchedulingGated message.
    Above 100 nodes, Filter stops after ``num_feasible_nodes_to_find`` feasible nodes, starting at node index
    ``start`` (upstream's nextStartNodeIndex, which the caller advances by ``Decision.processed``), and only those
    are scored. Differences: ties go to the smallest node name (upstream: random); nodes are filtered in order
    (upstream: in parallel, so which ones are found first varies); every node is a preemption candidate (no
    minCandidateNodesPercentage sampling); nominated pods of other preemptors are not added to the filters.
    """
    if pod.scheduling_gates:
        return Decision(pod, None, (), GATED)
    state = prefilter(pod, snapshot)
    if state.rejection is not None:
        feasible: tuple[NodeInfo, ...] = ()
        failures = tuple((n.name, state.rejection) for n in snapshot.nodes)
        processed = len(snapshot.nodes)
    else:
        feasible, failures, processed = find_feasible(pod, snapshot, state, start)
    if feasible:
        if len(feasible) == 1:
            return Decision(pod, feasible[0].name, failures, processed=processed, best=(feasible[0].name,))
        scores = score_nodes(pod, feasible, snapshot)
        top = max(score for _, score in scores)
        best = tuple(sorted(name for name, score in scores if score == top))
        return Decision(pod, select_host(scores), failures, processed=processed, best=best)
    candidate, post = _preempt(pod, snapshot, failures, budgets)
    if candidate is not None:
        return Decision(pod, None, failures, preemption=candidate, processed=processed)
    prefilter_message = state.rejection.reason if state.rejection is not None else ""
    message = failed_scheduling_message([f for _, f in failures], len(snapshot.nodes), post, prefilter_message)
    return Decision(pod, None, failures, message, processed=processed)


def schedule_one(pod: PodInfo, snapshot: Snapshot, budgets: Sequence[DisruptionBudget] = ()) -> Decision:
    """Alias of ``scheduling_cycle`` (the name of upstream's function)."""
    return scheduling_cycle(pod, snapshot, budgets)


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
    storage: Storage | None = None
    """The claims and volumes after the run's Reserves (None: volume binding not checked)."""

    @property
    def all_placed(self) -> bool:
        return all(p.node is not None for p in self.placements)


def schedule(
    pending: Iterable[PodInfo],
    snapshot: Snapshot,
    budgets: Sequence[DisruptionBudget] = (),
    preemption: bool = True,
    stop: Callable[[], bool] | None = None,
    storage: Storage | None = None,
) -> Outcome:
    """Schedule every pending pod once, in queue order, each seeing the pods assumed before it.

    Without ``preemption``, PostFilter does not run (a pod that fits nowhere stays pending). ``stop()`` true ends
    the run early: the pods not reached are reported as not scheduled. With ``storage`` (the claims, volumes and
    classes), each pod's cycle carries the VolumeBinding plugin's verdict on them and a placed pod's Reserve assumes
    its volumes (``spec.scheduling.storage``): the next pods see its static volumes taken and its provisioned
    claims' selected node, as upstream's assume caches show them."""
    placements: dict[str, Placement] = {}
    order: list[str] = []
    start = 0
    for pod in queue_order(pending):
        order.append(pod.key)
        if stop is not None and stop():
            placements[pod.key] = Placement(pod.key, None, "not scheduled: interrupted")
            continue
        cycle_pod = storage.annotate(pod, snapshot.nodes) if storage is not None else pod
        decision = scheduling_cycle(
            cycle_pod if preemption else attrs.evolve(cycle_pod, preemption_policy="Never"), snapshot, budgets, start
        )
        start = (start + decision.processed) % max(len(snapshot.nodes), 1)
        if not preemption and decision.node is None:
            decision = attrs.evolve(
                decision, pod=pod, message=decision.message.replace(f" preemption: {NEVER_PREEMPT}", "")
            )
        victims: tuple[PodInfo, ...] = ()
        if decision.preemption is not None:
            victims = decision.preemption.victims
            snapshot = snapshot.without(victims)
            for v in victims:
                placements[v.key] = Placement(v.key, None, f"preempted by {pod.key} on node {decision.preemption.node}")
                if v.key not in order:
                    order.append(v.key)
            decision = scheduling_cycle(cycle_pod, snapshot, budgets, start)
            start = (start + decision.processed) % max(len(snapshot.nodes), 1)
        if decision.node is not None:
            if storage is not None:
                storage = storage.reserve(pod, snapshot.node_map[decision.node])
            snapshot = snapshot.assume(pod, decision.node)
            placements[pod.key] = Placement(pod.key, decision.node, "", tuple(v.key for v in victims))
        else:
            placements[pod.key] = Placement(pod.key, None, decision.message, tuple(v.key for v in victims))
    return Outcome(tuple(placements[k] for k in order), snapshot, storage)


def feasible_nodes(pod: PodInfo, snapshot: Snapshot) -> tuple[NodeInfo, ...]:
    """The nodes that pass every filter for ``pod``."""
    return filter_nodes(pod, snapshot)[0]
