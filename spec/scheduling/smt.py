"""Optimal placement with z3: every pending pod at once, every Filter plugin as a constraint.

Semantics (``valid_placement``): a placement is valid when every placed pod passes every Filter plugin against the
final cluster without itself, i.e. each pod could be scheduled where it is if it were the last one. For resources,
host ports and anti-affinity this equals "some scheduling order admits it"; for required pod affinity and topology
spread it is the steady-state reading of the rules (see docs/scheduling.md).

Encoding, from the same data the Python filters read (spec.scheduling.filters):
- x[p,n]: pod p on node n; at most one node per pod; the static filters (NodeUnschedulable, NodeName,
  TaintToleration, NodeAffinity, static NodePorts / NodeResourcesFit failures) fix x[p,n] = False.
- NodeResourcesFit: per node and resource, pseudo-boolean capacity constraints (pods, cpu, memory,
  ephemeral-storage, extended resources).
- NodePorts: conflicting pending pods never share a node.
- InterPodAffinity: per anti-affinity term, a count of matching pods per topology domain; per required affinity
  term set, counts of pods matching all terms (with upstream's first-pod exception).
- PodTopologySpread: per constraint, matching pods per eligible domain and a lower bound m on the minimum:
  a pod in domain d needs count(d) - m <= maxSkew (minDomains: m = 0).
Objectives (lexicographic): most pods placed, priority levels from the highest down; then fewest nodes used
(``--objective pack``) or the lowest peak cpu/memory utilization (``--objective balance``).
Explanations come from unsat cores over tracked constraints, named in Kubernetes terms.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import attrs
import z3

from spec.scheduling.filters import (
    Code,
    FilterFailure,
    node_affinity,
    node_name,
    node_unschedulable,
    ports_conflict,
    prefilter,
    run_filters,
    spread_node_eligible,
    taint_toleration,
)
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import NodeInfo, PodAffinityTerm, PodInfo, TopologySpreadConstraint, selector_matches

Objective = Literal["pack", "balance"]


def valid_placement(assignment: Mapping[str, str], pending: Sequence[PodInfo], snapshot: Snapshot) -> dict[str, str]:
    """Violations of ``assignment`` (pod key -> node name): pod key -> "plugin: reason" for each pod that fails a
    filter against the final cluster without itself. Empty when the placement is valid."""
    final = snapshot
    for pod in pending:
        if pod.key in assignment:
            final = final.assume(pod, assignment[pod.key])
    errors = {}
    for pod in pending:
        if pod.key not in assignment:
            continue
        others = final.without([pod])
        failure = run_filters(pod, final.node_map[assignment[pod.key]], others)
        if failure is not None:
            errors[pod.key] = f"{failure.plugin}: {failure.reason}"
    return errors


@attrs.frozen
class Explanation:
    """Why a pod has no place: per-node static filter failures and the conflicting constraints of an unsat core."""

    pod: str
    static: tuple[tuple[str, str], ...]
    """(node, "Plugin: reason") for nodes excluded whatever the other pods do."""
    conflicts: tuple[str, ...]
    """Constraints of the unsat core, in Kubernetes terms."""

    def text(self) -> str:
        parts = []
        by_reason: dict[str, list[str]] = {}
        for node, reason in self.static:
            by_reason.setdefault(reason, []).append(node)
        for reason, nodes in sorted(by_reason.items()):
            parts.append(f"{reason} on {', '.join(nodes)}")
        if self.conflicts:
            parts.append("conflicts with: " + "; ".join(self.conflicts))
        return "no valid placement: " + ("; ".join(parts) if parts else "no nodes")


@attrs.frozen
class OptimalResult:
    """The optimum: pod key -> node for placed pods, explanations for the others, and solver figures."""

    assignment: Mapping[str, str]
    unplaced: tuple[Explanation, ...]
    objective: Objective
    nodes_used: int
    seconds: float
    proved_optimal: bool


class _Encoding:
    """The z3 variables and constraints for one (pending pods, snapshot) instance."""

    def __init__(self, pending: Sequence[PodInfo], snapshot: Snapshot) -> None:
        self.pending = list(pending)
        self.snapshot = snapshot
        self.nodes = list(snapshot.nodes)
        self.x: dict[tuple[int, int], z3.BoolRef] = {}
        self.static: dict[int, list[tuple[str, str]]] = {}
        self.hard: list[z3.BoolRef] = []
        self.tracked: list[tuple[str, z3.BoolRef]] = []
        self._domain_cache: dict[tuple[int, str], dict[str, list[z3.BoolRef]]] = {}
        self._static_pass()
        self._one_node_each()
        self._resources()
        self._ports()
        self._anti_affinity()
        self._affinity()
        self._spread()

    # -- variables ----------------------------------------------------------------------------------------

    def allowed(self, p: int) -> list[int]:
        return [n for n in range(len(self.nodes)) if (p, n) in self.x]

    def placed(self, p: int) -> z3.BoolRef:
        return z3.Or([self.x[p, n] for n in self.allowed(p)]) if self.allowed(p) else z3.BoolVal(False)

    def _static_pass(self) -> None:
        """Static filters: those that do not depend on the other pending pods."""
        empty = self.snapshot
        for p, pod in enumerate(self.pending):
            state = prefilter(pod, empty)
            reasons: list[tuple[str, str]] = []
            for n, node in enumerate(self.nodes):
                failure = self._static_failure(pod, node, state)
                if failure is None:
                    self.x[p, n] = z3.Bool(f"x[{pod.key}@{node.name}]")
                else:
                    reasons.append((node.name, f"{failure.plugin}: {failure.reason}"))
            self.static[p] = reasons

    def _static_failure(self, pod: PodInfo, node: NodeInfo, state: object) -> FilterFailure | None:
        from spec.scheduling.filters import PreFilterState, insufficient_resources, node_ports

        assert isinstance(state, PreFilterState)
        if state.rejection is not None:
            return state.rejection
        if state.node_names is not None and node.name not in state.node_names:
            return FilterFailure(
                "NodeAffinity", ("node(s) didn't satisfy plugin(s) [NodeAffinity]",), Code.UNSCHEDULABLE
            )
        failure = (
            node_unschedulable(pod, node)
            or node_name(pod, node)
            or taint_toleration(pod, node)
            or node_affinity(pod, node)
            or node_ports(pod, node, self.snapshot)
        )
        if failure is not None:
            return failure
        lacking = insufficient_resources(pod, node, self.snapshot)
        if lacking:
            return FilterFailure("NodeResourcesFit", tuple(r for r, _ in lacking), Code.UNSCHEDULABLE)
        for c in pod.topology_spread_constraints:
            if c.when_unsatisfiable == "DoNotSchedule" and c.topology_key not in node.label_map:
                return FilterFailure(
                    "PodTopologySpread",
                    ("node(s) didn't match pod topology spread constraints (missing required label)",),
                    Code.UNSCHEDULABLE,
                )
        for t in pod.affinity.pod_required:
            if t.topology_key not in node.label_map:
                return FilterFailure(
                    "InterPodAffinity", ("node(s) didn't match pod affinity rules",), Code.UNSCHEDULABLE
                )
        return self._existing_anti_affinity(pod, node)

    def _existing_anti_affinity(self, pod: PodInfo, node: NodeInfo) -> FilterFailure | None:
        """Anti-affinity between the pod and already-bound pods (both directions): static."""
        labels = node.label_map
        ns_labels = self.snapshot.namespace_labels(pod.namespace)
        for other, other_node in self.snapshot.placed:
            o_labels = other_node.label_map
            for t in pod.affinity.anti_required:
                if (
                    t.topology_key in labels
                    and o_labels.get(t.topology_key) == labels[t.topology_key]
                    and t.matches(other.namespace, other.label_map, self.snapshot.namespace_labels(other.namespace))
                ):
                    return FilterFailure(
                        "InterPodAffinity", ("node(s) didn't match pod anti-affinity rules",), Code.UNSCHEDULABLE
                    )
            for t in other.affinity.anti_required:
                if (
                    t.topology_key in o_labels
                    and labels.get(t.topology_key) == o_labels[t.topology_key]
                    and t.matches(pod.namespace, pod.label_map, ns_labels)
                ):
                    return FilterFailure(
                        "InterPodAffinity",
                        ("node(s) didn't satisfy existing pods anti-affinity rules",),
                        Code.UNSCHEDULABLE,
                    )
        return None

    def _one_node_each(self) -> None:
        for p in range(len(self.pending)):
            allowed = [self.x[p, n] for n in self.allowed(p)]
            if len(allowed) > 1:
                self.hard.append(z3.AtMost(*allowed, 1))

    def track(self, label: str, expr: z3.BoolRef) -> None:
        self.tracked.append((label, expr))

    # -- NodeResourcesFit ---------------------------------------------------------------------------------

    def _resources(self) -> None:
        for n, node in enumerate(self.nodes):
            on = [(p, self.x[p, n]) for p in range(len(self.pending)) if (p, n) in self.x]
            if not on:
                continue
            usage = self.snapshot.usage(node.name)
            alloc = node.allocatable
            free_pods = alloc.pods - len(usage.pods)
            if len(on) > free_pods:
                self.track(
                    f"NodeResourcesFit: pods on node {node.name} (room for {free_pods} more)",
                    z3.AtMost(*[v for _, v in on], max(free_pods, 0)),
                )
            columns = [
                ("cpu", lambda r: r.milli_cpu, alloc.milli_cpu - usage.requested.milli_cpu),
                ("memory", lambda r: r.memory, alloc.memory - usage.requested.memory),
                (
                    "ephemeral-storage",
                    lambda r: r.ephemeral_storage,
                    alloc.ephemeral_storage - usage.requested.ephemeral_storage,
                ),
            ]
            names = sorted({k for p, _ in on for k, _ in self.pending[p].requests.scalar})
            for name in names:
                columns.append(
                    (
                        name,
                        lambda r, k=name: r.scalar_amount(k),
                        alloc.scalar_amount(name) - usage.requested.scalar_amount(name),
                    )
                )
            for resource, amount, free in columns:
                terms = [(v, amount(self.pending[p].requests)) for p, v in on if amount(self.pending[p].requests) > 0]
                if not terms or sum(a for _, a in terms) <= free:
                    continue
                self.track(f"NodeResourcesFit: {resource} on node {node.name}", _capacity(terms, max(free, 0)))

    # -- NodePorts ----------------------------------------------------------------------------------------

    def _ports(self) -> None:
        with_ports = [p for p, pod in enumerate(self.pending) if pod.host_ports]
        for i, p in enumerate(with_ports):
            for q in with_ports[i + 1 :]:
                a, b = self.pending[p], self.pending[q]
                if any(ports_conflict(h, b.host_ports) for h in a.host_ports):
                    for n in self.allowed(p):
                        if (q, n) in self.x:
                            self.track(
                                f"NodePorts: {a.key} and {b.key} on node {self.nodes[n].name}",
                                z3.Not(z3.And(self.x[p, n], self.x[q, n])),
                            )

    # -- topology domains ---------------------------------------------------------------------------------

    def in_domain(self, p: int, key: str) -> dict[str, list[z3.BoolRef]]:
        """domain value -> the x[p,n] of nodes with that value of ``key``."""
        cached = self._domain_cache.get((p, key))
        if cached is None:
            cached = {}
            for n in self.allowed(p):
                value = self.nodes[n].label_map.get(key)
                if value is not None:
                    cached.setdefault(value, []).append(self.x[p, n])
            self._domain_cache[p, key] = cached
        return cached

    def _existing_count(self, key: str, match: Callable[[PodInfo], bool]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for other, node in self.snapshot.placed:
            value = node.label_map.get(key)
            if value is not None and match(other):
                counts[value] = counts.get(value, 0) + 1
        return counts

    def _matches_all(self, terms: tuple[PodAffinityTerm, ...], pod: PodInfo) -> bool:
        return all(self._matches(t, pod) for t in terms)

    def _existing_matching(self, terms: tuple[PodAffinityTerm, ...]) -> Callable[[PodInfo], bool]:
        return lambda other: self._matches_all(terms, other)

    def _matches(self, term: PodAffinityTerm, pod: PodInfo) -> bool:
        return term.matches(pod.namespace, pod.label_map, self.snapshot.namespace_labels(pod.namespace))

    # -- InterPodAffinity: anti-affinity ------------------------------------------------------------------

    def _anti_affinity(self) -> None:
        groups: dict[PodAffinityTerm, list[int]] = {}
        for p, pod in enumerate(self.pending):
            for t in pod.affinity.anti_required:
                groups.setdefault(t, []).append(p)
        for term, owners in groups.items():
            matching = [q for q, pod in enumerate(self.pending) if self._matches(term, pod)]
            if not matching:
                continue
            key = term.topology_key
            for p in owners:
                pod = self.pending[p]
                rules = []
                for value, xs in self.in_domain(p, key).items():
                    others = [
                        z3.Or(self.in_domain(q, key)[value])
                        for q in matching
                        if q != p and value in self.in_domain(q, key)
                    ]
                    if others:
                        rules.append(z3.Implies(z3.Or(xs), z3.Not(z3.Or(others))))
                if rules:
                    self.track(f"InterPodAffinity: required anti-affinity of {pod.key} ({key})", z3.And(rules))

    # -- InterPodAffinity: required affinity --------------------------------------------------------------

    def _affinity(self) -> None:
        for p, pod in enumerate(self.pending):
            terms = pod.affinity.pod_required
            if not terms:
                continue
            members = [q for q, other in enumerate(self.pending) if q != p and self._matches_all(terms, other)]
            existing_match = self._existing_matching(terms)
            keys = sorted({t.topology_key for t in terms})
            existing = {k: self._existing_count(k, existing_match) for k in keys}
            # upstream's affinityCounts is empty: no other matching pod sits on a node with any term's key
            anywhere = [
                z3.Or([v for vs in self.in_domain(q, k).values() for v in vs])
                for q in members
                for k in keys
                if self.in_domain(q, k)
            ]
            nobody = (
                z3.BoolVal(not any(existing[k] for k in keys))
                if not anywhere
                else z3.And(z3.BoolVal(not any(existing[k] for k in keys)), z3.Not(z3.Or(anywhere)))
            )
            self_ok = z3.BoolVal(self._matches_all(terms, pod))
            rules = []
            for n in self.allowed(p):
                labels = self.nodes[n].label_map
                conds = []
                for t in terms:
                    value = labels[t.topology_key]
                    if existing[t.topology_key].get(value, 0) > 0:
                        continue
                    near = [
                        z3.Or(self.in_domain(q, t.topology_key)[value])
                        for q in members
                        if value in self.in_domain(q, t.topology_key)
                    ]
                    conds.append(z3.Or(near) if near else z3.BoolVal(False))
                if conds:
                    rules.append(z3.Implies(self.x[p, n], z3.Or(z3.And(conds), z3.And(self_ok, nobody))))
            if rules:
                self.track(f"InterPodAffinity: required affinity of {pod.key}", z3.And(rules))

    # -- PodTopologySpread --------------------------------------------------------------------------------

    def _spread(self) -> None:
        groups: dict[tuple[TopologySpreadConstraint, str, frozenset[str]], tuple[z3.ArithRef, dict[str, z3.ArithRef]]]
        groups = {}
        for p, pod in enumerate(self.pending):
            constraints = [c for c in pod.topology_spread_constraints if c.when_unsatisfiable == "DoNotSchedule"]
            for c in constraints:
                eligible = frozenset(
                    node.name
                    for node in self.nodes
                    if all(k.topology_key in node.label_map for k in constraints) and spread_node_eligible(pod, node, c)
                )
                if not eligible:
                    continue
                gkey = (c, pod.namespace, eligible)
                if gkey not in groups:
                    counts = self._spread_counts(c, pod.namespace, eligible)
                    m = z3.Int(f"min[{len(groups)}]")
                    if c.min_domains is not None and len(counts) < c.min_domains:
                        self.hard.append(m == 0)
                    else:
                        self.hard.extend(m <= count for count in counts.values())
                    groups[gkey] = (m, counts)
                m, counts = groups[gkey]
                rules = []
                for n in self.allowed(p):
                    value = self.nodes[n].label_map.get(c.topology_key)
                    if value is not None and value in counts:
                        rules.append(z3.Implies(self.x[p, n], counts[value] - m <= c.max_skew))
                if rules:
                    self.track(f"PodTopologySpread: {pod.key} ({c.topology_key}, maxSkew {c.max_skew})", z3.And(rules))

    def _spread_counts(
        self, c: TopologySpreadConstraint, namespace: str, eligible: frozenset[str]
    ) -> dict[str, z3.ArithRef]:
        key = c.topology_key
        counts: dict[str, list[z3.ArithRef]] = {}
        static: dict[str, int] = {}
        for other, node in self.snapshot.placed:
            if (
                node.name in eligible
                and other.namespace == namespace
                and selector_matches(c.label_selector, other.label_map)
            ):
                value = node.label_map[key]
                static[value] = static.get(value, 0) + 1
        for q, other in enumerate(self.pending):
            if other.namespace != namespace or not selector_matches(c.label_selector, other.label_map):
                continue
            for n in self.allowed(q):
                if self.nodes[n].name in eligible:
                    counts.setdefault(self.nodes[n].label_map[key], []).append(z3.If(self.x[q, n], 1, 0))
        values = {self.snapshot.node_map[n].label_map[key] for n in eligible}
        return {v: z3.Sum(*counts.get(v, []), z3.IntVal(static.get(v, 0))) for v in values}


def _capacity(terms: list[tuple[z3.BoolRef, int]], free: int) -> z3.BoolRef:
    """sum(amount for placed) <= free, as a pseudo-boolean constraint when the numbers fit z3's 32-bit PB API.

    Dividing by the gcd g of the amounts is exact: the sum is a multiple of g, so it is <= free iff <= free // g.
    """
    g = math.gcd(*(a for _, a in terms))
    scaled = [(v, a // g) for v, a in terms]
    bound = free // g
    if bound < 2**31 and sum(a for _, a in scaled) < 2**31:
        return z3.PbLe(scaled, bound)
    return z3.Sum([z3.If(v, a, 0) for v, a in terms]) <= free


def _objective_terms(enc: _Encoding) -> list[tuple[int, list[z3.BoolRef]]]:
    """(priority, placed literals) for each priority level, highest first."""
    levels: dict[int, list[z3.BoolRef]] = {}
    for p, pod in enumerate(enc.pending):
        levels.setdefault(pod.priority, []).append(enc.placed(p))
    return sorted(levels.items(), key=lambda kv: -kv[0])


def solve(
    pending: Sequence[PodInfo], snapshot: Snapshot, objective: Objective = "pack", timeout_ms: int = 60_000
) -> OptimalResult:
    """Place as many pending pods as possible (by priority level), then optimize ``objective``.

    Lexicographic optimization by incremental SAT calls (each level: all placed, else a binary search on the
    count; then a descending bound on nodes used or peak utilization). ``proved_optimal`` is False when the time
    limit stopped the search; the placement returned is then the best found, and always valid.
    """
    start = time.perf_counter()
    deadline = start + timeout_ms / 1000
    enc = _Encoding(pending, snapshot)
    solver = z3.Solver()
    solver.add(*enc.hard)
    solver.add(*[expr for _, expr in enc.tracked])
    proved = True

    def check(*extra: z3.BoolRef) -> z3.CheckSatResult:
        left = int((deadline - time.perf_counter()) * 1000)
        if left <= 0:
            return z3.unknown
        solver.set("timeout", left)
        return solver.check(*extra)

    status = check()
    if status != z3.sat:
        raise AssertionError("the encoding without placement requirements must be satisfiable")
    model = solver.model()
    for _, lits in _objective_terms(enc):

        def count(m: z3.ModelRef, lits: list[z3.BoolRef] = lits) -> int:
            return sum(1 for lit in lits if z3.is_true(m.eval(lit, model_completion=True)))

        best = count(model)
        hi = len(lits)
        while best < hi:
            want = (best + hi + 1) // 2
            result = check(z3.PbGe([(lit, 1) for lit in lits], want))
            if result == z3.sat:
                model = solver.model()
                best = count(model)
            elif result == z3.unsat:
                hi = want - 1
            else:
                proved = False
                break
        solver.add(z3.PbGe([(lit, 1) for lit in lits], best))
    if objective == "pack":
        used = [
            z3.Or(on)
            for n, node in enumerate(enc.nodes)
            if (on := [enc.x[p, n] for p in range(len(enc.pending)) if (p, n) in enc.x])
            and not snapshot.pods_on(node.name)
        ]
        while used and proved:
            k = sum(1 for u in used if z3.is_true(model.eval(u, model_completion=True)))
            if k == 0:
                break
            result = check(z3.PbLe([(u, 1) for u in used], k - 1))
            if result == z3.sat:
                model = solver.model()
            else:
                proved = result == z3.unsat
                break
    else:
        peak = z3.Int("peak_permille")
        for n, node in enumerate(enc.nodes):
            usage = snapshot.usage(node.name)
            for attr, base, alloc in (
                ("milli_cpu", usage.requested.milli_cpu, node.allocatable.milli_cpu),
                ("memory", usage.requested.memory, node.allocatable.memory),
            ):
                if alloc <= 0:
                    continue
                terms = [
                    z3.If(enc.x[p, n], getattr(enc.pending[p].requests, attr), 0)
                    for p in range(len(enc.pending))
                    if (p, n) in enc.x
                ]
                solver.add(1000 * z3.Sum(*terms, z3.IntVal(base)) <= peak * alloc)
        while proved:
            result = check()
            if result != z3.sat:
                proved = result == z3.unsat
                break
            model = solver.model()
            current = model.eval(peak, model_completion=True).as_long()
            solver.add(peak < current)
    assignment: dict[str, str] = {}
    for (p, n), var in enc.x.items():
        if z3.is_true(model.eval(var, model_completion=True)):
            assignment[enc.pending[p].key] = enc.nodes[n].name
    errors = valid_placement(assignment, pending, snapshot)
    if errors:
        raise AssertionError(f"z3 placement fails the Python filters: {errors}")
    unplaced = tuple(
        explain(enc, p, assignment, int((deadline - time.perf_counter()) * 1000))
        for p, pod in enumerate(enc.pending)
        if pod.key not in assignment
    )
    used_nodes = set(assignment.values()) | {p.node_name for p in snapshot.pods}
    return OptimalResult(
        assignment, unplaced, objective, len(used_nodes & set(snapshot.node_map)), time.perf_counter() - start, proved
    )


def explain(enc: _Encoding, p: int, assignment: Mapping[str, str], timeout_ms: int = 10_000) -> Explanation:
    """Why pod ``p`` cannot be placed while the placed pods stay placed: static failures and an unsat core."""
    pod = enc.pending[p]
    if not enc.allowed(p):
        return Explanation(pod.key, tuple(enc.static[p]), ())
    if timeout_ms <= 0:
        return Explanation(pod.key, tuple(enc.static[p]), ("(no unsat core within the time limit)",))
    s = z3.Solver()
    s.set("core.minimize", True)
    s.set("timeout", timeout_ms)
    s.add(*enc.hard)
    labels: dict[str, str] = {}
    assumptions = []
    for i, (label, expr) in enumerate(enc.tracked):
        lit = z3.Bool(f"c{i}")
        labels[str(lit)] = label
        s.add(z3.Implies(lit, expr))
        assumptions.append(lit)
    for q, other in enumerate(enc.pending):
        if other.key in assignment:
            lit = z3.Bool(f"keep{q}")
            labels[str(lit)] = f"{other.key} placed"
            s.add(z3.Implies(lit, enc.placed(q)))
            assumptions.append(lit)
    s.add(enc.placed(p))
    verdict = s.check(*assumptions)
    if verdict == z3.unknown:
        return Explanation(pod.key, tuple(enc.static[p]), ("(no unsat core within the time limit)",))
    if verdict == z3.sat:
        return Explanation(pod.key, tuple(enc.static[p]), ("placing it needs another pod unplaced (optimum)",))
    core = sorted(labels[str(lit)] for lit in s.unsat_core())
    return Explanation(pod.key, tuple(enc.static[p]), tuple(core))


def placement_count(assignment: Mapping[str, str], pending: Iterable[PodInfo]) -> tuple[int, ...]:
    """Pods placed per priority level, highest first: the primary objective, comparable lexicographically."""
    levels: dict[int, int] = {}
    for pod in pending:
        levels.setdefault(pod.priority, 0)
        if pod.key in assignment:
            levels[pod.priority] += 1
    return tuple(levels[k] for k in sorted(levels, reverse=True))
