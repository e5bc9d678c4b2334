"""Optimal placement with z3: every pending pod at once, every Filter plugin as a constraint.

Semantics (``valid_placement``): a placement is valid when every placed pod passes every Filter plugin against the
final cluster without itself, i.e. each pod could be scheduled where it is if it were the last one. For resources,
host ports and anti-affinity this equals "some scheduling order admits it"; for required pod affinity and topology
spread it is the steady-state reading of the rules (see docs/scheduling.md).

The constraints (spec.scheduling.encoding) count identical pods per node. Objectives, lexicographic: most pods
placed, priority levels from the highest down; then fewest nodes used (``pack``) or the lowest peak cpu/memory
utilization in permille (``balance``). Each objective is optimized by a search over its value with incremental
z3 checks, so every step either improves the best placement found or refutes a value. An objective is proved
optimal only by z3 answering unsat to "strictly better" in the solver that holds every constraint of the
placement (the levels above fixed at their values); capacity counts (pods that fit, nodes whose capacity covers
the demand, average utilization) steer the search and bound a gap, never prove. When a limit stops the search,
the result says which objectives are not proved optimal and the bound of each. Gated and terminating pods are
not scheduled (upstream's PreEnqueue). Explanations come from unsat cores over the named Filter constraints.
PersistentVolumeClaims (``storage``): VolumeBinding's verdict restricts each pod's nodes and claims needing a static
volume hold distinct ones (``spec.scheduling.storage.claim_choices``; the cases that would not be exact are refused).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import attrs
import z3

from checker.errors import InputError
from spec.scheduling.encoding import Encoding, plus
from spec.scheduling.filters import run_filters
from spec.scheduling.first_fit import first_fit
from spec.scheduling.kube_scheduler import GATED
from spec.scheduling.kube_scheduler import schedule as kube_schedule
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.storage import ClaimChoice, Storage, claim_choices, matching_errors
from spec.scheduling.types import DisruptionBudget, PodInfo

Objective = Literal["pack", "balance"]

NO_CORE = "(no unsat core within the time limit)"


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
    waiting: str = ""
    """Why the scheduler does not take the pod at all (scheduling gates, being deleted); then nothing else."""

    def text(self) -> str:
        if self.waiting:
            return self.waiting
        if self.conflicts == (NO_CORE,):
            return "no placement found within the time limit (not proved impossible)"
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
class Gap:
    """An objective the time limit left unproved: the value found and the best bound proved."""

    objective: str
    found: int
    bound: int
    """A bound of the optimum: from z3's refutations, or from a capacity count (which guides the search and
    bounds the gap, but never proves a value optimal)."""
    maximize: bool = True

    def text(self) -> str:
        relation = "at most" if self.maximize else "at least"
        text = f"{self.objective}: {self.found} found, optimum {relation} {self.bound}"
        if self.bound == self.found:
            better = "one more" if self.maximize else "one less"
            text += f" by a capacity count (z3 did not refute {better} within the limit)"
        return text


@attrs.frozen
class OptimalResult:
    """The optimum: pod key -> node for placed pods, explanations for the others, and solver figures."""

    assignment: Mapping[str, str]
    unplaced: tuple[Explanation, ...]
    objective: Objective
    nodes_used: int
    seconds: float
    proved_optimal: bool
    gaps: tuple[Gap, ...] = ()
    """When not proved optimal: the objectives whose optimum lies between the value found and a proved bound."""
    victims: Mapping[str, str] = attrs.Factory(dict)
    """Bound pods preempted (evicted), pod key -> the node they ran on."""
    interrupted: bool = False
    """An interrupt (Stop) ended the search: the placement is the best found until then."""
    reproducible: bool = True
    """False when the wall-clock limit or an interrupt, not the work budget, ended the search: another run may
    return another placement."""
    work: int = 0
    """z3 work units (rlimit) spent."""


def _int(value: str) -> int:
    return -int(value[3:-1]) if value.startswith("(-") else int(value)


WORK_PER_SECOND = 1_000_000
"""z3 resource units (its ``rlimit``) the search may spend per second of ``--timeout``. The search is limited in
these deterministic units, so the same input and limit give the same placement on any machine and load; the
wall-clock limit stays a hard stop, and a run it cuts short says so (``reproducible`` False). Calibrated so that
on this project's 2-core machine the work budget ends first (benchmarks/bench_schedule.py prints the rate)."""
_FIRST_TRY = 400_000
_QUICK_PROBE = 2_500_000
_DEFINE = re.compile(r"\(define-fun (\S+) \(\) Int\s+(\(- \d+\)|\d+)\)")


def _work_of(solver: z3.Solver) -> int:
    """z3 resource units the solver has spent so far (its "rlimit count" statistic)."""
    stats = solver.statistics()
    return int(stats.get_key_value("rlimit count")) if "rlimit count" in stats.keys() else 0  # noqa: SIM118 (z3 Statistics has no __contains__)


class Stop:
    """Why the search must end early: an interrupt (SIGINT/SIGTERM, set from another thread or a signal handler).

    ``interrupt()`` also cancels the z3 query under way (z3's Z3_interrupt), so the search stops within
    milliseconds with the best placement so far."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.contexts: list[z3.Context] = []
        """The z3 contexts of the searches under way (each search has its own)."""

    def interrupt(self) -> None:
        self._event.set()
        for ctx in list(self.contexts):
            ctx.interrupt()

    def is_set(self) -> bool:
        return self._event.is_set()


class _Search:
    """One incremental z3 solver over the encoding, with a work budget (z3 rlimit units), a wall-clock deadline
    and the best model so far."""

    def __init__(self, enc: Encoding, deadline: float, work: int, stop: Stop | None) -> None:
        self.ctx = z3.Context()
        """A context of its own: in the shared main context, earlier searches' terms change z3's choices, so
        the same input would not give the same placement twice in one process."""
        self.solver = z3.SimpleSolver(ctx=self.ctx)
        self.solver.from_string(enc.script(track=False))
        if stop is not None:
            stop.contexts.append(self.ctx)
        self.deadline = deadline
        self.work_left = work
        self.budget = work
        self.stop = stop
        self.values: dict[str, int] = {}
        self.literals: set[str] = set()
        self.proved = True
        self.wall_cut = False
        """The wall-clock limit, not the work budget, ended a query: the result may differ from run to run."""
        self.interrupted = False
        self.first = 0
        """Work units the first query (no objective) took: a measure of the instance's size."""

    def exhausted(self) -> bool:
        """No more queries: the work budget is spent, the wall clock ran out, or an interrupt came."""
        if self.stop is not None and self.stop.is_set():
            self.interrupted = True
        if time.perf_counter() >= self.deadline:
            self.wall_cut = True
        return self.interrupted or self.wall_cut or self.work_left <= 0

    def _work(self) -> int:
        return _work_of(self.solver)

    def check(self, *extra: z3.BoolRef, limit: int | None = None) -> z3.CheckSatResult:
        """``extra`` satisfiable with the solver's constraints? Unknown only when the budget ends (or ``limit``
        work units are spent), the wall clock runs out, or an interrupt comes.

        z3's simplex sometimes stalls on a query that a restart with another random seed answers at once, so each
        query runs with a small work limit, doubled and reseeded after every stall.
        """
        budget, seed = _FIRST_TRY, 0
        allowed = self.work_left if limit is None else min(self.work_left, limit)
        spent = 0
        while True:
            if self.exhausted() or spent >= allowed:
                return z3.unknown
            wall_ms = max(int((self.deadline - time.perf_counter()) * 1000), 1)
            quota = min(budget, allowed - spent)
            self.solver.set("rlimit", quota)
            self.solver.set("timeout", wall_ms)
            self.solver.set("random_seed", seed)
            before = self._work()
            result = self.solver.check(*extra)
            used = self._work() - before
            spent += used
            self.work_left -= used
            if result == z3.sat:
                self.values = {name: _int(v) for name, v in _DEFINE.findall(self.solver.model().sexpr())}
            if result != z3.unknown or self.solver.reason_unknown() not in ("timeout", "canceled"):
                return result
            budget, seed = 2 * budget, seed + 1

    def check_exact(self, exact: Sequence[z3.BoolRef]) -> z3.CheckSatResult:
        """A heuristic placement, given as exact counts, checked by z3 (its model then becomes the current one).
        Asserted in a scope of their own, not assumed: 2x10^4 assumed equalities (1,000 pods x 200 nodes) took 30x
        the work, more than the first query."""
        self.solver.push()
        try:
            self.solver.add(*exact)
            return self.check(limit=max(_FIRST_TRY * 4, 2 * self.first))
        finally:
            self.solver.pop()

    def literal(self, name: str, body: str) -> z3.BoolRef:
        """A fresh literal implying the SMT-LIB formula ``body``, to be assumed (declared once per name)."""
        if name not in self.literals:
            self.solver.from_string(f"(declare-const {name} Bool) (assert (=> {name} {body}))")
            self.literals.add(name)
        return z3.Bool(name, self.ctx)

    def value(self, name: str) -> int:
        return int(name) if name.lstrip("-").isdigit() else self.values.get(name, 0)

    def minimize(
        self,
        at_most: Callable[[int, bool], z3.BoolRef],
        found: int,
        hint: int,
        actual: Callable[[], int],
        improve: Callable[[], int] | None = None,
    ) -> tuple[int, int]:
        """Search down for the least k for which ``at_most(k)`` is satisfiable; ``found`` is the current model's
        value, ``hint`` a lower bound computed from capacities (a guide where to look, and a bound to report, but
        no proof), ``actual()`` reads the objective off a new model. Returns ``(refuted, bound)``: every k below
        ``refuted`` was refuted by z3 (``at_most(refuted - 1)`` unsatisfiable, in this solver, with every
        constraint the placement satisfies), and ``bound`` = max(refuted, hint), the bound to report. The value
        found is proved optimal only when ``refuted`` reaches it: a capacity argument alone never proves it.

        First ``hint`` itself (often tight), then ``found - 1`` (the query that proves it) or a binary search.
        A query gets at most a quarter of the work left: when it is undecided then, the search goes on above it
        (better placements are easier to find than bounds to prove), and the bound stays unproved. When ``hint``
        itself is not satisfiable within a few seconds, ``improve()`` (a heuristic that may leave a better model,
        returning the current model's value) runs, and the search goes on with the full budget.
        """
        hint = max(hint, 0)
        found = self._improved(found, hint)
        refuted = probe = 0  # the objective counts something: no value below 0
        tried = False
        if improve is not None and hint < found:
            tried = True
            result = self.check(at_most(hint, False), limit=_QUICK_PROBE)
            if result == z3.sat:
                found = self._improved(actual(), hint)
            elif result == z3.unsat:
                refuted = probe = hint + 1
            if result != z3.sat:
                found = self._improved(improve(), max(refuted, hint))
        while refuted < found and not self.exhausted():
            limit, proof = max(self.work_left // 4, 2 * _FIRST_TRY), False
            low = max(probe, hint)
            if not tried and probe <= hint < found:
                mid, tried = hint, True
            elif found - 1 <= low:
                # the proof (the capacity count says nothing better exists, or every value between was tried):
                # the last query, with the work left
                mid, limit, proof = found - 1, self.work_left, True
            else:
                mid = (low + found) // 2
            result = self.check(at_most(mid, proof), limit=limit)
            if result == z3.sat:
                found = self._improved(actual(), max(refuted, hint))
            elif result == z3.unsat:
                refuted = probe = mid + 1
            elif proof:
                break
            else:
                probe = mid + 1  # undecided: search above it (the bound stays unproved)
        if refuted < found:
            self.proved = False
        return refuted, max(refuted, hint)

    @staticmethod
    def _improved(found: int, low: int) -> int:
        if found < low:
            raise AssertionError(f"a placement with objective {found} below its bound {low}")
        return found


@attrs.frozen
class _Level:
    """One priority level: its groups, the name of their placed count, and how many pods it has."""

    priority: int
    groups: tuple[int, ...]
    total: str
    """The name of the level's placed count (a sum; leaving it out of the encoding until a query needs it made
    the first query cheaper on 1,000 pods x 200 nodes but the realistic generator's much harder: kept)."""
    size: int
    running: bool = False
    """Bound pods that preemption may evict: the level counts those kept."""

    def count(self, search: _Search) -> int:
        """Pods of this level placed (bound pods kept) in the current model."""
        return search.value(self.total)

    def placed(self, ctx: z3.Context) -> z3.ArithRef:
        return z3.Int(self.total, ctx) if self.total != "0" else z3.IntVal(0, ctx)


def _levels(enc: Encoding) -> list[_Level]:
    """The priority levels, highest first; at each priority the bound pods preemption may evict (kept running)
    come before the pending pods (which cannot preempt pods of their own priority)."""
    levels: dict[tuple[int, bool], list[int]] = {}
    for g, group in enumerate(enc.groups):
        levels.setdefault((-group.template.priority, not enc.incumbent[g]), []).append(g)
    out = []
    for key in sorted(levels):
        gs = levels[key]
        total = enc.sum([p for g in gs if (p := enc.placed(g)) != "0"])
        out.append(_Level(-key[0], tuple(gs), total, sum(enc.groups[g].size for g in gs), not key[1]))
    return out


@attrs.frozen
class _Pack:
    """Node capacities, for bounds, and the pack objective.

    Capacities: K_n, how many pending pods fit on node n together (from the smallest requests), and the free
    amount of each requested resource; their sums over nodes bound the pods placed from above (and the solver
    gets them as cuts, since it finds sums over many rows slowly alone) and the nodes in use from below.
    Nodes in use: a literal b_n per node without bound pods, with "not b_n -> nothing placed on n", and
    "at most k in use" a cardinality constraint over them. No rows: an LP column shared by every node's row
    makes z3's simplex crawl.
    """

    candidates: tuple[int, ...]
    """Nodes without bound pods where some pending pod may go."""
    fits: Mapping[int, int]
    """K_n for every node some group may use."""
    rooms: Mapping[str, Mapping[int, int]]
    """resource -> node -> free amount, for the resources some group requests."""
    links: tuple[str, ...] = ()
    """Rows linking u_n (node n in use, 0 or 1) to what is placed on n, assumed in proofs only (present in every
    query, they slowed z3's search for packings)."""

    @classmethod
    def build(cls, enc: Encoding, indicators: bool) -> _Pack:
        """Capacities and the summed cuts; with ``indicators``, the literals b_n."""
        candidates: list[int] = []
        links: list[str] = []
        fits: dict[int, int] = {}
        rooms: dict[str, dict[int, int]] = {}
        for n, node in enumerate(enc.nodes):
            on = [g for g in range(len(enc.groups)) if n in enc.allowed_sets[g]]
            if not on:
                continue
            pods_free, free = enc.free[n]
            fit = min(pods_free, sum(enc.groups[g].size for g in on))
            for resource, room in free.items():
                amounts = [enc.requests[g].get(resource, 0) for g in on]
                if min(amounts) > 0:
                    fit = min(fit, room // min(amounts))
            fits[n] = fit
            for resource in {r for g in on for r in enc.requests[g]}:
                rooms.setdefault(resource, {})[n] = free.get(resource, 0)
            if indicators and not enc.snapshot.pods_on(node.name):
                candidates.append(n)
                enc.decls.append(f"(declare-const b_{n} Bool)")
                enc.solver_only.append(f"(or b_{n} (<= {enc.load(n)} 0))")
                links.extend(cls._linked(enc, n, on, fit, candidate=True))
            elif indicators:
                links.extend(cls._linked(enc, n, on, fit, candidate=False))
        pack = cls(tuple(candidates), fits, rooms, tuple(links))
        if not any(enc.incumbent):  # with preemption, bound pods may overcommit a node: the sums are no bound
            enc.solver_only.extend(pack._summed(enc))
        return pack

    @staticmethod
    def _linked(enc: Encoding, n: int, on: Sequence[int], fit: int, candidate: bool) -> list[str]:
        """For a ``candidate`` node, u_n in {0, 1} (node n in use) with "what is placed on n <= its capacity times
        u_n": for the pods (at most K_n) and for each resource (the free amount rounded down to the gcd of the
        requests on n); for another node, the same rows without u_n (its rounded capacities, which the LP does not
        see in the capacity rows). Linear rows, so that the LP relaxation of "at most k nodes in use" (sum of u_n
        <= k) already refutes k below the counting bound (the k largest capacities do not cover the demand): z3
        proves that bound, not Python. With bound pods that preemption may evict on n (they may overcommit it),
        only the pods row, with their sizes."""
        u = f"u_{n}"
        if candidate:
            enc.decls.append(f"(declare-const {u} Int)")

        def times(amount: int) -> str:
            return f"(* {amount} {u})" if candidate else str(amount)

        rows = [f"(<= 0 {u} 1)"] if candidate else []
        if any(enc.incumbent[g] for g in on):
            return [*rows, f"(<= {enc.load(n)} {times(sum(enc.groups[g].size for g in on))})"]
        rows.append(f"(<= {enc.load(n)} {times(max(fit, 0))})")
        _, free = enc.free[n]
        for resource in sorted({r for g in on for r in enc.requests[g]}):
            terms = [(g, enc.requests[g][resource]) for g in on if resource in enc.requests[g]]
            d = math.gcd(*(a for _, a in terms))
            total = plus([f"(* {a // d} {enc.c(g, n)})" if a != d else enc.c(g, n) for g, a in terms])
            rows.append(f"(<= {total} {times(max(free.get(resource, 0), 0) // d)})")
        return rows

    def _summed(self, enc: Encoding) -> list[str]:
        """Pods and requests summed over groups <= the summed capacity of the nodes."""
        placed = [p for g in range(len(enc.groups)) if (p := enc.placed(g)) != "0"]
        if not placed:
            return []
        rows = [f"(<= (+ 0 {' '.join(placed)}) {sum(max(v, 0) for v in self.fits.values())})"]
        for resource, per_node in sorted(self.rooms.items()):
            amounts = [(g, enc.requests[g][resource]) for g in range(len(enc.groups)) if resource in enc.requests[g]]
            d = math.gcd(*(a for _, a in amounts))
            demand = " ".join(f"(* {a // d} {p})" for g, a in amounts if (p := enc.placed(g)) != "0")
            rows.append(f"(<= (+ 0 {demand}) {sum(max(v, 0) // d for v in per_node.values())})")
        return rows

    def at_most(self, search: _Search, k: int, proof: bool) -> z3.BoolRef:
        """A literal that, assumed, means at most k candidate nodes in use: a cardinality constraint over the
        b_n when searching for a placement (z3 finds packings faster so), a row over the u_n for a ``proof``
        (its LP relaxation refutes what the counting bound refutes). Each is implied by "at most k nodes hold
        pods", so either one's refutation is a proof."""
        if k < 0:
            return z3.BoolVal(False, search.ctx)
        if proof:
            search.literal("pack_linked", f"(and true {' '.join(self.links)})")
            used = plus([f"u_{n}" for n in self.candidates])
            return search.literal(f"used_lin_le_{k}", f"(and pack_linked (<= {used} {k}))")
        literals = " ".join(f"b_{n}" for n in self.candidates)
        return search.literal(f"used_le_{k}", f"((_ at-most {k}) {literals})")

    def upper_bound(self, enc: Encoding, groups: Sequence[int], above: Sequence[tuple[Sequence[int], int]]) -> int:
        """Pods of ``groups`` that fit, at most, beside ``above``: (groups, pods placed) of each level above, of
        which only the totals are fixed (any of a level's groups may hold its pods, so a level takes at least
        its total times its smallest request). The summed K_n, and for each resource all of them request, the
        free amount over the smallest request. With preemption (incumbent groups), no bound: the groups' sizes.
        A capacity argument: it guides the search and bounds a gap; a proof of optimality is z3's."""
        if any(enc.incumbent):
            return sum(enc.groups[g].size for g in groups)
        bound = sum(self.fits.values()) - sum(total for _, total in above)
        for resource, per_node in self.rooms.items():
            amounts = [enc.requests[g].get(resource, 0) for g in groups]
            if amounts and min(amounts) > 0:
                room = sum(max(v, 0) for v in per_node.values())
                for level_groups, total in above:
                    usable = [enc.requests[g].get(resource, 0) for g in level_groups if enc.allowed[g]]
                    room -= total * min(usable, default=0)
                bound = min(bound, room // min(amounts))
            # the groups requesting it, on the nodes they may use (the others counted whole): GPUs, say
            asking = [g for g in groups if enc.requests[g].get(resource, 0) > 0]
            if asking:
                nodes = set().union(*(enc.allowed_sets[g] for g in asking))
                room = sum(max(per_node.get(n, 0), 0) for n in nodes)
                smallest = min(enc.requests[g][resource] for g in asking)
                others = sum(enc.groups[g].size for g in groups if g not in asking)
                bound = min(bound, min(room // smallest, sum(enc.groups[g].size for g in asking)) + others)
        # each group alone, on its own nodes: at most what fits there by its own requests
        alone = 0
        for g in groups:
            room = 0
            for n in enc.allowed[g]:
                pods_free, free = enc.free[n]
                room += max(min([pods_free] + [free.get(r, 0) // a for r, a in enc.requests[g].items()]), 0)
            alone += min(enc.groups[g].size, room)
        return max(min(bound, alone), 0)

    def lower_bound(self, enc: Encoding, placed: Mapping[int, int], everyone: bool) -> int:
        if any(enc.incumbent):
            return 0  # with preemption the capacities above do not hold (bound pods may overcommit a node)
        return self._lower_bound(enc, placed, everyone)

    def _lower_bound(self, enc: Encoding, placed: Mapping[int, int], everyone: bool) -> int:
        """Nodes in use, at least: the fewest candidates whose capacity, with the other nodes', covers the pods
        placed (and, when every pod is placed, their requests). A node's usable amount of a resource is its free
        amount rounded down to a multiple of the gcd of the requests (every sum of requests is one)."""
        cand = set(self.candidates)
        demands: list[tuple[int, Mapping[int, int]]] = [(sum(placed.values()), self.fits)]
        if everyone:
            for resource, per_node in self.rooms.items():
                amounts = [(g.size, enc.requests[i].get(resource, 0)) for i, g in enumerate(enc.groups)]
                d = math.gcd(*(a for _, a in amounts))
                usable = {n: max(v, 0) // d * d for n, v in per_node.items()}
                demands.append((sum(k * a for k, a in amounts), usable))
        bound = 0
        for demand, per_node in demands:
            left = demand - sum(max(v, 0) for n, v in per_node.items() if n not in cand)
            for k, v in enumerate(sorted((max(v, 0) for n, v in per_node.items() if n in cand), reverse=True)):
                if left <= 0:
                    break
                left -= v
                bound = max(bound, k + 1)
        return bound


@attrs.frozen
class _Balance:
    """The balance objective as bounds: "peak <= k" is, per node and resource (cpu, memory), requested <=
    floor(k * allocatable / 1000) - bound pods' requests, a constant bound on each node's own row. (One peak
    variable in every row would make the simplex's tableau dense.) The average utilization when every pod is
    placed, and the peak of the bound pods alone, bound the peak from below."""

    rows: tuple[tuple[str, int, int], ...]
    """(terms as text, gcd of their amounts, bound pods' requests) per node and resource, with allocatable."""
    allocs: tuple[int, ...]
    lowest: int
    """Peak permille that bound pods alone reach."""

    @classmethod
    def build(cls, enc: Encoding) -> _Balance:
        rows: list[tuple[str, int, int]] = []
        allocs: list[int] = []
        lowest = 0
        for resource, attr in (("cpu", "milli_cpu"), ("memory", "memory")):
            for n, node in enumerate(enc.nodes):
                base = getattr(enc.snapshot.usage(node.name).requested, attr)
                alloc = getattr(node.allocatable, attr)
                if alloc <= 0:
                    continue
                lowest = max(lowest, -(-1000 * base // alloc))
                terms = [
                    (enc.c(g, n), enc.requests[g][resource])
                    for g in range(len(enc.groups))
                    if n in enc.allowed_sets[g] and resource in enc.requests[g]
                ]
                if terms:
                    d = math.gcd(*(a for _, a in terms))
                    rows.append((plus([f"(* {a // d} {x})" if a != d else x for x, a in terms]), d, base))
                    allocs.append(alloc)
        return cls(tuple(rows), tuple(allocs), lowest)

    def average(self, enc: Encoding) -> int:
        """ceil(1000 * all requests / all allocatable) per resource when every pod is placed, the larger."""
        low = self.lowest
        for resource, attr in (("cpu", "milli_cpu"), ("memory", "memory")):
            alloc = sum(getattr(node.allocatable, attr) for node in enc.nodes if getattr(node.allocatable, attr) > 0)
            if alloc > 0:
                base = sum(getattr(enc.snapshot.usage(node.name).requested, attr) for node in enc.nodes)
                demand = sum(g.size * enc.requests[i].get(resource, 0) for i, g in enumerate(enc.groups))
                low = max(low, -(-1000 * (base + demand) // alloc))
        return low

    def at_most(self, search: _Search, k: int) -> z3.BoolRef:
        """A literal that, assumed, means peak <= k."""
        name = f"peak_le_{k}"
        if k < self.lowest:
            return z3.BoolVal(False, search.ctx)
        bounds = []
        for (total, d, base), alloc in zip(self.rows, self.allocs, strict=True):
            room = k * alloc // 1000 - base
            bounds.append(f"(<= {total} {room // d})" if room >= 0 else f"(<= {total} (- {-room // d}))")
        return search.literal(name, f"(and true {' '.join(bounds)})")


def _peak_permille(enc: Encoding, counts: Mapping[tuple[int, int], int]) -> int:
    """The objective of ``balance``: max over nodes and cpu/memory of ceil(1000 * requested / allocatable)."""
    added: dict[int, tuple[int, int]] = {}
    for (g, n), k in counts.items():
        cpu, memory = added.get(n, (0, 0))
        added[n] = (cpu + k * enc.requests[g].get("cpu", 0), memory + k * enc.requests[g].get("memory", 0))
    peak = 0
    for n, node in enumerate(enc.nodes):
        used = enc.snapshot.usage(node.name).requested
        cpu, memory = added.get(n, (0, 0))
        for amount, alloc in (
            (used.milli_cpu + cpu, node.allocatable.milli_cpu),
            (used.memory + memory, node.allocatable.memory),
        ):
            if alloc > 0:
                peak = max(peak, -(-1000 * amount // alloc))
    return peak


def _place_level(
    search: _Search,
    enc: Encoding,
    pack: _Pack,
    level: _Level,
    above: Sequence[tuple[Sequence[int], int]] | None,
    levels_left: int,
) -> int | None:
    """Most pods placed at one priority level (the levels above fixed at what they placed), added to the solver;
    when a limit stopped the search before z3 refuted one more pod, the bound to report (else None).

    ``above``: (groups, pods placed) of each level above when each of them is proved optimal, None otherwise
    (then the capacity bound ignores them, and z3's refutations, which hold only given the levels above as
    found, are not reported as bounds of the optimum).

    The level's value is proved optimal only by z3: every pod placed, or "one pod more" unsatisfiable in the
    solver that holds every constraint of the placement. Every pod is tried first, as bounds on each group's
    count (bounds are cheap; a row summing every count makes the simplex crawl). Otherwise a lower bound from
    heuristics that complete the current placement of the levels above (first fit and kube-scheduler's cycle in
    queue order, first fit with the most constrained groups first), checked by z3 as exact counts; an upper bound
    from capacities (a guide for the search, no proof); and in between, a galloping search up from the best found
    (one more pod, two more, four more, ...; halving after a refutation), each query within its share of the
    work left (this level gets 1/``levels_left`` of it), so that one hard level cannot starve the ones after it.
    """
    ctx = search.ctx
    placed = level.placed(ctx)
    groups = [g for g in level.groups if enc.allowed[g]]
    everyone = z3.And([z3.Int(enc.placed(g), ctx) >= enc.groups[g].size for g in groups] + [z3.BoolVal(True, ctx)])
    cap = min(level.size, pack.upper_bound(enc, level.groups, above or ()))
    refuted = level.size
    """z3 refuted every count above this one (given the levels above)."""
    share = search.work_left // max(levels_left, 1)
    stop_at = search.work_left - share
    if len(groups) == len(level.groups) and cap == level.size:
        result = search.check(everyone, limit=max(share // 3, 2 * _FIRST_TRY))
        if result == z3.sat:
            search.solver.add(everyone)
            return None
        if result == z3.unsat:
            refuted = level.size - 1
    best = level.count(search)
    if best > cap:
        raise AssertionError(f"a placement of {best} pods at priority {level.priority} above its bound {cap}")
    best = max(best, _complete(search, enc, level, best))
    # galloping up from the best found (improvements are easier to find than bounds to prove), then the proof
    step = 1
    while best < refuted and search.work_left > stop_at and not search.exhausted():
        want = min(best + step, max(cap, best + 1), refuted)
        result = search.check(placed >= want, limit=max((search.work_left - stop_at) // 3, 2 * _FIRST_TRY))
        if result == z3.sat:
            best = level.count(search)
            if best > cap:
                raise AssertionError(f"a placement of {best} pods at priority {level.priority} above its bound {cap}")
            step *= 2
        elif result == z3.unsat:
            refuted = want - 1
            step = max(step // 2, 1)
        elif step > 1:
            step = 1
        else:
            break  # not even one more pod within the share: the bound stays unproved
    search.solver.add(placed >= best)
    if best < refuted:
        search.proved = False
        return cap if above is None else min(cap, refuted)
    return None


def _complete(search: _Search, enc: Encoding, level: _Level, best: int) -> int:
    """Heuristic placements of this level's pending pods on top of the current model's placement of every group
    before it: first fit (fullest nodes first) and kube-scheduler's cycle (without preemption), each in queue
    order. The one placing more, when it beats ``best``, is offered to z3 as exact counts (with the groups
    before it pinned as they are); returns the level's count in the model afterwards."""
    if level.running or search.exhausted():
        return best
    levels = _levels(enc)
    before = {g for lv in levels[: levels.index(level)] for g in lv.groups}
    counts = {(g, n): k for g in before for n in enc.allowed[g] if (k := search.value(enc.c(g, n))) > 0}
    base = enc.snapshot
    for key, node in _assign(enc, counts).items():
        pod = enc.pod_by_key[key]
        base = base.assume(pod, node)
    pods = [p for g in level.groups for p in enc.groups[g].pods]
    tries = [first_fit(pods, base)]
    outcome = kube_schedule(pods, base, preemption=False, storage=enc.storage)
    tries.append({p.pod: p.node for p in outcome.placements if p.node is not None})
    # first fit decreasing: the most constrained groups first (fewest nodes allowed, then the largest requests)
    hardest = sorted(
        level.groups,
        key=lambda g: (len(enc.allowed[g]), -sum(enc.requests[g].values()), g),
    )
    tries.append(first_fit([p for g in hardest for p in enc.groups[g].pods], base, in_order=True))
    if enc.claims:  # first fit ignores volumes: keep the placements whose claims can all have a volume of their own
        tries = [t for t in tries if not matching_errors(enc.claims, t)] or [{}]
    hint = max(tries, key=len)
    if len(hint) <= best:
        return best
    group_of = {p.key: g for g in level.groups for p in enc.groups[g].pods}
    index = {node.name: n for n, node in enumerate(enc.nodes)}
    hinted: dict[tuple[int, int], int] = {}
    for key, name in hint.items():
        cell = (group_of[key], index[name])
        if cell[1] not in enc.allowed_sets[cell[0]]:
            return best
        hinted[cell] = hinted.get(cell, 0) + 1
    ctx = search.ctx
    exact = [z3.Int(enc.c(g, n), ctx) == counts.get((g, n), 0) for g in before for n in enc.allowed[g]]
    exact += [z3.Int(enc.c(g, n), ctx) == hinted.get((g, n), 0) for g in level.groups for n in enc.allowed[g]]
    if search.check_exact(exact) == z3.sat:
        return level.count(search)
    return best


def preemption_candidates(pending: Sequence[PodInfo], snapshot: Snapshot) -> tuple[PodInfo, ...]:
    """Bound pods some pending pod may preempt: below the highest priority of the pending pods whose
    preemptionPolicy is PreemptLowerPriority, on a known node, not already terminating."""
    top = max((p.priority for p in pending if p.preemption_policy != "Never"), default=None)
    if top is None:
        return ()
    nodes = snapshot.node_map
    return tuple(p for p in snapshot.pods if p.priority < top and not p.terminating and p.node_name in nodes)


def solve(
    pending: Sequence[PodInfo],
    snapshot: Snapshot,
    objective: Objective = "pack",
    timeout_ms: int = 60_000,
    *,
    budgets: Sequence[DisruptionBudget] = (),
    preemption: bool = False,
    stop: Stop | None = None,
    work: int | None = None,
    storage: Storage | None = None,
) -> OptimalResult:
    """Place as many pending pods as possible (by priority level), then optimize ``objective``.

    With ``preemption``, bound pods of lower priority than some pending pod may be evicted (``victims``), only
    from nodes where such a pod is placed and within the ``budgets`` (PodDisruptionBudgets, as hard limits);
    the objective keeps bound pods before placing pending pods of their priority, so nothing is evicted that
    does not let a higher-priority pod in.

    The search spends at most ``timeout_ms`` of wall time and the matching z3 work (``WORK_PER_SECOND``), or
    ``work`` units when given.
    ``proved_optimal`` is True only when z3 refuted a strictly better value of every objective (see the module
    docstring); when a limit (or ``stop``) ended the search first, the placement returned is the best found
    (always valid) and ``gaps`` gives the bound of each unfinished objective.

    With ``storage`` (claims, volumes, classes), each pending pod's nodes are restricted by VolumeBinding's
    verdict on the objects as given, and claims that need a static volume of their own hold distinct volumes
    (``spec.scheduling.storage.claim_choices``); the cases that encoding would not model exactly raise
    InputError (one line).
    """
    start = time.perf_counter()
    deadline = start + timeout_ms / 1000
    # upstream's PreEnqueue: a gated pod does not enter the scheduling queue; nor does a pod being deleted
    waiting = tuple(p for p in pending if p.scheduling_gates or p.terminating)
    pending = tuple(p for p in pending if not (p.scheduling_gates or p.terminating))
    choices: tuple[ClaimChoice, ...] = ()
    if storage is not None:
        pending = tuple(storage.annotate(p, snapshot.nodes) for p in pending)
        choices, refused = claim_choices(storage, pending, snapshot.nodes)
        if refused:
            raise InputError(f"--mode optimal: {refused}; use --mode kube-scheduler")
    incumbents = preemption_candidates(pending, snapshot) if preemption else ()
    enc = Encoding(pending, snapshot, incumbents, budgets, choices, storage)
    levels = _levels(enc)
    pack = _Pack.build(enc, indicators=objective == "pack")
    search = _Search(enc, deadline, timeout_ms * WORK_PER_SECOND // 1000 if work is None else work, stop)
    gaps: list[Gap] = []

    def counts() -> dict[tuple[int, int], int]:
        return {
            (g, n): k for g in range(len(enc.groups)) for n in enc.allowed[g] if (k := search.value(enc.c(g, n))) > 0
        }

    started = search.check()
    search.first = search.budget - search.work_left
    if started == z3.unsat:
        raise AssertionError("the encoding without placement requirements must be satisfiable")
    if started == z3.unknown and enc.groups:
        search.proved = False  # out of time already: nothing placed, each level's gap reported below
    above: list[tuple[Sequence[int], int]] | None = []
    unproved: list[tuple[_Level, int]] = []
    for i, level in enumerate(levels):
        bound = _place_level(search, enc, pack, level, above, len(levels) - i + (objective == "pack"))
        if bound is not None:
            unproved.append((level, bound))
        if above is not None:
            above = None if bound is not None else [*above, (level.groups, level.count(search))]
    if objective == "pack" and pack.candidates and search.proved:

        def nodes_used() -> int:
            return sum(1 for n in pack.candidates if search.value(enc.load(n)) > 0)

        placed_now = {g: search.value(enc.placed(g)) for g in range(len(enc.groups))}
        everyone = all(placed_now[g] == group.size for g, group in enumerate(enc.groups))

        def first_fit_start() -> int:
            """Start from the first-fit packing when it is as good on the pods placed (z3 checks it)."""
            hint = first_fit(pending, snapshot)
            group_of = {p.key: g for g, group in enumerate(enc.groups) for p in group.pods}
            index = {node.name: n for n, node in enumerate(enc.nodes)}
            hinted: dict[tuple[int, int], int] = {}
            for key, name in hint.items():
                hinted[group_of[key], index[name]] = hinted.get((group_of[key], index[name]), 0) + 1
            better = len({n for _, n in hinted} & set(pack.candidates)) < nodes_used()
            if not better or any(n not in enc.allowed_sets[g] for g, n in hinted):
                return nodes_used()
            exact = [
                z3.Int(enc.c(g, n), search.ctx)
                == (enc.groups[g].size if enc.incumbent[g] else hinted.get((g, n), 0))
                for g in range(len(enc.groups))
                for n in enc.allowed[g]
            ]
            search.check_exact(exact)
            return nodes_used()

        found = nodes_used()
        refuted, low = search.minimize(
            lambda k, proof: pack.at_most(search, k, proof),
            found,
            pack.lower_bound(enc, placed_now, everyone),
            nodes_used,
            first_fit_start,
        )
        found = nodes_used()
        if refuted < found:
            gaps.append(Gap("nodes in use (without bound pods)", found, low, maximize=False))
    elif objective == "balance" and search.proved and enc.groups:  # nothing to place: the peak is the bound pods'

        balance = _Balance.build(enc)
        everyone = all(search.value(enc.placed(g)) == group.size for g, group in enumerate(enc.groups))
        found = _peak_permille(enc, counts())
        refuted, low = search.minimize(
            lambda k, _: balance.at_most(search, k),
            found,
            balance.average(enc) if everyone else balance.lowest,
            lambda: _peak_permille(enc, counts()),
        )
        found = _peak_permille(enc, counts())
        if refuted < found:
            gaps.append(Gap("peak utilization (permille)", found, low, maximize=False))
    # the levels' gaps with the counts of the final placement (later levels' models may have placed more)
    gaps[:0] = [
        Gap(
            f"{'bound pods kept running' if level.running else 'pods placed'} at priority {level.priority}",
            level.count(search),
            bound,
        )
        for level, bound in unproved
    ]
    final = counts()
    if not search.values:  # no model at all (interrupted at once): nothing placed, nothing evicted
        final = {(g, enc.allowed[g][0]): group.size for g, group in enumerate(enc.groups) if enc.incumbent[g]}
    placed = _assign(enc, final)
    errors = _check(enc, placed) | matching_errors(choices, placed)
    if errors:
        raise AssertionError(f"z3 placement fails the Python filters: {errors}")
    unplaced = _explain_all(enc, placed, search) + tuple(
        Explanation(
            p.key,
            (),
            (),
            f"SchedulingGated: {GATED} ({', '.join(p.scheduling_gates)})"
            if p.scheduling_gates
            else "being deleted (metadata.deletionTimestamp): not scheduled",
        )
        for p in waiting
    )
    pending_keys = {p.key for p in pending}
    assignment = {k: v for k, v in placed.items() if k in pending_keys}
    victims = {p.key: p.node_name for p in incumbents if p.key not in placed}
    used_nodes = set(placed.values()) | {p.node_name for p in enc.snapshot.pods}
    search.exhausted()
    if stop is not None and search.ctx in stop.contexts:
        stop.contexts.remove(search.ctx)
    return OptimalResult(
        assignment,
        unplaced,
        objective,
        len(used_nodes & set(snapshot.node_map)),
        time.perf_counter() - start,
        search.proved,
        tuple(gaps),
        victims,
        search.interrupted,
        not search.wall_cut and not search.interrupted,
        search.budget - search.work_left,
    )


def _assign(enc: Encoding, counts: Mapping[tuple[int, int], int]) -> dict[str, str]:
    """Pods of each group in queue order onto its nodes in snapshot order, as many as counted per node."""
    assignment: dict[str, str] = {}
    for g, group in enumerate(enc.groups):
        pods = iter(group.pods)
        for n in enc.allowed[g]:
            for _ in range(counts.get((g, n), 0)):
                assignment[next(pods).key] = enc.nodes[n].name
    return assignment


def _check(enc: Encoding, assignment: Mapping[str, str]) -> dict[str, str]:
    """``valid_placement`` for one pod per (group, node): the others on that node are its exact copies, and the
    filters read no names, so they get the same verdict. Incumbents (bound pods kept) are not re-checked."""
    placed = tuple(pod.on(assignment[pod.key]) for group in enc.groups for pod in group.pods if pod.key in assignment)
    final = Snapshot(enc.snapshot.nodes, enc.snapshot.pods + placed, enc.snapshot.namespaces)
    errors = {}
    for g, group in enumerate(enc.groups):
        if enc.incumbent[g]:
            continue
        checked: set[str] = set()
        for pod in group.pods:
            node = assignment.get(pod.key)
            if node is None or node in checked:
                continue
            checked.add(node)
            failure = run_filters(pod, final.node_map[node], final.without([pod]))
            if failure is not None:
                errors[pod.key] = f"{failure.plugin}: {failure.reason}"
    return errors


def _placed_label(pods: Iterable[PodInfo], running: bool = False) -> str:
    keys = [p.key for p in pods]
    verb = "kept running (not preempted)" if running else "placed"
    if len(keys) <= 4:
        return f"{', '.join(keys)} {verb}"
    return f"{', '.join(keys[:3])} and {len(keys) - 3} more {verb}"


def _explain_all(enc: Encoding, assignment: Mapping[str, str], search: _Search) -> tuple[Explanation, ...]:
    """An explanation for every unplaced pod: one unsat core per group (its unplaced pods are interchangeable),
    within the search's budget left."""
    unplaced = [
        g
        for g, group in enumerate(enc.groups)
        if not enc.incumbent[g] and any(p.key not in assignment for p in group.pods)
    ]
    if not unplaced:
        return ()
    ctx = search.ctx
    solver: z3.Solver | None = None
    keep: dict[int, tuple[z3.BoolRef, str]] = {}
    labels: dict[str, str] = {}
    out: list[Explanation] = []
    for g in unplaced:
        group = enc.groups[g]
        conflicts: tuple[str, ...] = ()
        if enc.allowed[g] and search.exhausted():
            conflicts = (NO_CORE,)
        elif enc.allowed[g]:
            if solver is None:
                solver = z3.SimpleSolver(ctx=ctx)
                solver.set("core.minimize", True)
                solver.from_string(enc.script(track=True))
                for i, rule in enumerate(enc.tracked):
                    labels[f"t_{i}"] = rule.label
                for h, other in enumerate(enc.groups):
                    placed = [p for p in other.pods if p.key in assignment]
                    if placed:
                        lit = z3.Bool(f"keep_{h}", ctx)
                        solver.add(z3.Implies(lit, z3.Int(enc.placed(h), ctx) >= len(placed)))
                        keep[h] = (lit, _placed_label(placed, enc.incumbent[h]))
                        labels[f"keep_{h}"] = keep[h][1]
            solver.set("timeout", max(int((search.deadline - time.perf_counter()) * 1000), 1))
            solver.set("rlimit", max(search.work_left, 1))
            goal = z3.Bool(f"goal_{g}", ctx)
            more = z3.Bool(f"more_{g}", ctx)
            placed_g = z3.Int(enc.placed(g), ctx)
            k = sum(1 for p in group.pods if p.key in assignment)
            solver.add(z3.Implies(goal, placed_g >= 1), z3.Implies(more, placed_g >= k + 1))
            assumptions = [z3.Bool(f"t_{i}", ctx) for i in range(len(enc.tracked))]
            assumptions += [lit for h, (lit, _) in keep.items() if h != g]
            if k:
                assumptions.append(more)
                labels[str(more)] = keep[g][1]
            before = _work_of(solver)
            verdict = solver.check(goal, *assumptions)
            search.work_left -= _work_of(solver) - before
            if verdict == z3.unknown:
                conflicts = (NO_CORE,)
            elif verdict == z3.sat:
                conflicts = ("placing it needs another pod unplaced (optimum)",)
            else:
                conflicts = tuple(sorted(labels[str(lit)] for lit in solver.unsat_core() if str(lit) != str(goal)))
        for pod in group.pods:
            if pod.key not in assignment:
                out.append(Explanation(pod.key, enc.static[g], conflicts))
    return tuple(out)


def placement_count(assignment: Mapping[str, str], pending: Iterable[PodInfo]) -> tuple[int, ...]:
    """Pods placed per priority level, highest first: the primary objective, comparable lexicographically."""
    levels: dict[int, int] = {}
    for pod in pending:
        levels.setdefault(pod.priority, 0)
        if pod.key in assignment:
            levels[pod.priority] += 1
    return tuple(levels[k] for k in sorted(levels, reverse=True))
