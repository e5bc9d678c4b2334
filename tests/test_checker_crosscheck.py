"""The checker against brute force on random small labelled graphs, written without any checker internals.

Reachability, counts and shortest counterexamples are compared with a plain BFS; liveness verdicts with an
exhaustive search for fair lassos that applies TLA+'s definitions of WF and SF directly; every counterexample
the checker reports is validated step by step against the graph.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from checker import (
    Model,
    Property,
    Violation,
    always,
    check,
    eventually,
    eventually_always,
    leads_to,
    leads_to_always,
    negation,
    sometimes,
    strong,
    weak,
)

LABELS = ("a", "b", "c")
Edge = tuple[int, str, int]


@attrs.frozen
class Graph:
    nodes: int
    edges: frozenset[Edge]
    init: frozenset[int]
    allowed: frozenset[int]  # the state constraint: nodes outside it are discarded

    def out(self, u: int) -> list[tuple[str, int]]:
        return sorted((label, v) for (s, label, v) in self.edges if s == u)


class GraphModel(Model):
    """A labelled graph as a model; it records every state the checker expands."""

    def __init__(self, g: Graph, properties: Sequence[Property] = (), fairness: Sequence[Any] = ()) -> None:
        self.g = g
        self.properties = tuple(properties)
        self.fairness = tuple(fairness)
        self.expanded: set[int] = set()

    def init_states(self) -> Iterator[int]:
        return iter(sorted(self.g.init))

    def successors(self, state: int) -> Iterator[tuple[str, int]]:
        self.expanded.add(state)
        return iter(self.g.out(state))

    def constraint(self, state: int) -> bool:
        return state in self.g.allowed


@st.composite
def graphs(draw: st.DrawFn, constrained: bool = True) -> Graph:
    n = draw(st.integers(1, 7))
    node = st.integers(0, n - 1)
    edges = draw(st.frozensets(st.tuples(node, st.sampled_from(LABELS), node), max_size=14))
    init = draw(st.frozensets(node, min_size=1, max_size=3))
    allowed = draw(st.frozensets(node)) if constrained and draw(st.booleans()) else frozenset(range(n))
    return Graph(n, edges, init, allowed)


Case = tuple[Graph, frozenset[int], dict[str, str]]


@st.composite
def flicker_cases(draw: st.DrawFn) -> Case:
    """A weakly fair b-cycle with a-edges to the goal leaving only some of its nodes, plus noise, and `a` weakly
    or strongly fair: cases where SF and WF of `a` often give different verdicts."""
    n = draw(st.integers(3, 7))
    cycle = draw(st.permutations(range(n)))[: draw(st.integers(2, n - 1))]
    outside = [u for u in range(n) if u not in cycle]
    edges = {(cycle[i], "b", cycle[(i + 1) % len(cycle)]) for i in range(len(cycle))}
    exits = draw(st.lists(st.sampled_from(cycle), min_size=1, max_size=len(cycle) - 1, unique=True))
    edges |= {(u, "a", draw(st.sampled_from(outside))) for u in exits}
    node = st.integers(0, n - 1)
    edges |= draw(st.frozensets(st.tuples(node, st.sampled_from(LABELS), node), max_size=4))
    goal = draw(st.frozensets(st.sampled_from(outside), min_size=1))
    kind = st.sampled_from(["weak", "strong"])
    fairness = {"a": draw(kind), "b": "weak", **draw(st.dictionaries(st.just("c"), kind))}
    return Graph(n, frozenset(edges), frozenset({cycle[0]}), frozenset(range(n))), goal, fairness


def distances(g: Graph) -> dict[int, int]:
    """BFS distance (in steps) from the initial states, through constraint-satisfying states only."""
    dist = {u: 0 for u in g.init if u in g.allowed}
    queue = deque(sorted(dist))
    while queue:
        u = queue.popleft()
        for _, v in g.out(u):
            if v in g.allowed and v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def checked_distances(g: Graph) -> dict[int, int]:
    """The states whose invariants are checked, with their distance: the reachable constraint-satisfying states,
    and (as TLC does) their successors outside the constraint, which are checked but neither counted nor explored."""
    dist = distances(g)
    checked = dict(dist)
    for u, d in dist.items():
        for _, v in g.out(u):
            if v not in g.allowed and checked.get(v, d + 2) > d + 1:
                checked[v] = d + 1
    return checked


def assert_path(g: Graph, violation: Violation) -> None:
    trace = violation.trace
    assert trace[0].action is None and trace[0].state in g.init
    for prev, step in zip(trace, trace[1:], strict=False):
        assert (prev.state, step.action, step.state) in g.edges, (prev, step)


# Safety and reachability.


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_reachable_set_and_count(g: Graph) -> None:
    reachable = set(distances(g))
    for strategy in ("bfs", "dfs"):
        model = GraphModel(g)
        result = check(model, strategy=strategy, deadlock=False)
        assert result.status == "ok"
        assert result.stats.distinct_states == len(reachable), strategy
        assert model.expanded == reachable, strategy


@settings(max_examples=150, deadline=None)
@given(graphs(), st.data())
def test_bfs_invariant_counterexample_is_shortest(g: Graph, data: st.DataObject) -> None:
    bad = data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="bad")
    dist = distances(g)
    checked = checked_distances(g)
    reachable_bad = [u for u in checked if u in bad]
    model = GraphModel(g, [always("Good", lambda s: s not in bad)])
    result = check(model, deadlock=False)
    if not reachable_bad:
        assert result.status == "ok" and result.stats.distinct_states == len(dist)
        return
    violation = result.violation
    assert result.status == "violation" and violation is not None
    assert (violation.property, violation.kind) == ("Good", "always")
    assert_path(g, violation)
    assert violation.trace[-1].state in bad
    assert all(step.state not in bad and step.state in g.allowed for step in violation.trace[:-1])
    assert len(violation.trace) - 1 == min(checked[u] for u in reachable_bad)
    dfs = check(GraphModel(g, [always("Good", lambda s: s not in bad)]), strategy="dfs", deadlock=False)
    assert dfs.violation is not None and dfs.violation.trace[-1].state in bad
    assert_path(g, dfs.violation)


@settings(max_examples=100, deadline=None)
@given(graphs(constrained=False))
def test_deadlock_is_a_reachable_state_without_successors(g: Graph) -> None:
    dist = distances(g)
    dead = [u for u in dist if not g.out(u)]
    result = check(GraphModel(g))
    if not dead:
        assert result.ok
        return
    violation = result.violation
    assert violation is not None and violation.kind == "deadlock"
    assert_path(g, violation)
    assert violation.trace[-1].state in dead


@settings(max_examples=100, deadline=None)
@given(graphs(), st.integers(1, 4))
def test_depth_bound_explores_exactly_the_states_within_it(g: Graph, max_depth: int) -> None:
    """`max_depth` counts the states on a path, the initial state included; a cut search never says "ok"."""
    dist = distances(g)
    for strategy in ("bfs", "dfs"):
        result = check(GraphModel(g), strategy=strategy, max_depth=max_depth, deadlock=False)
        if strategy == "bfs":
            assert result.stats.distinct_states == sum(1 for d in dist.values() if d < max_depth)
        if any(d >= max_depth for d in dist.values()):
            assert result.status == "bounded", strategy


@settings(max_examples=100, deadline=None)
@given(graphs(), st.data())
def test_sometimes_fails_exactly_when_no_reachable_state_satisfies_it(g: Graph, data: st.DataObject) -> None:
    witness = data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="witness")
    result = check(GraphModel(g, [sometimes("Witness", lambda s: s in witness)]), deadlock=False)
    assert result.ok is bool(witness & set(distances(g)))
    if not result.ok:
        assert result.violation is not None and result.violation.kind == "sometimes"


@settings(max_examples=100, deadline=None)
@given(graphs(constrained=False), st.data(), st.integers(0, 2**16))
def test_simulation_reports_real_reachable_violations_and_repeats_with_its_seed(
    g: Graph, data: st.DataObject, seed: int
) -> None:
    bad = data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="bad")
    runs = [
        check(GraphModel(g, [always("Good", lambda s: s not in bad)]), simulate=20, depth=8, seed=seed, deadlock=False)
        for _ in range(2)
    ]
    assert runs[0].violation == runs[1].violation
    if runs[0].violation is not None:
        assert_path(g, runs[0].violation)
        assert runs[0].violation.trace[-1].state in bad
    else:
        assert runs[0].status != "ok", "a simulation that found nothing proves nothing"


# Liveness: brute-force fair lassos.


def enabled(g: Graph, u: int, label: str) -> bool:
    """A fairness class is enabled when a non-stuttering step of it leaves the state."""
    return any(lab == label and v != u for lab, v in g.out(u))


def strongly_connected(nodes: frozenset[int], edges: set[Edge]) -> bool:
    start = min(nodes)
    for forward in (True, False):
        seen, stack = {start}, [start]
        while stack:
            u = stack.pop()
            for s, _, t in edges:
                a, b = (s, t) if forward else (t, s)
                if a == u and b not in seen:
                    seen.add(b)
                    stack.append(b)
        if seen != nodes:
            return False
    return True


def fair(g: Graph, cycle: frozenset[int], edges: set[Edge], fairness: dict[str, str],
         enabling: Graph | None = None) -> bool:
    """TLA+ fairness of a behaviour that ends by visiting exactly `cycle` through exactly `edges` forever; a class
    is enabled by the edges of `enabling` (by default `g`'s)."""
    taken = {label for _, label, _ in edges}
    for label, kind in fairness.items():
        if label in taken:
            continue
        on = [enabled(enabling or g, u, label) for u in cycle]
        if (kind == "weak" and all(on)) or (kind == "strong" and any(on)):
            return False
    return True


def fair_lasso_exists(g: Graph, starts: set[int], avoid: frozenset[int], fairness: dict[str, str],
        enabling: Graph | None = None) -> bool:
    """Is there a fair behaviour that reaches a state of `starts` and from there never visits `avoid`?

    Every candidate end cycle (S, E) is enumerated: |S| = 1 with E empty (stuttering), or S strongly connected
    by E. Adding edges of S to E keeps it strongly connected and can only make it fairer (more classes taken,
    the same states), so the largest E inside S decides for each S.
    """
    ok = set(range(g.nodes)) - avoid
    region, stack = {u for u in starts if u in ok}, [u for u in starts if u in ok]
    while stack:  # states reachable from a start without visiting `avoid`
        u = stack.pop()
        for _, v in g.out(u):
            if v in ok and v not in region:
                region.add(v)
                stack.append(v)
    for size in range(1, len(region) + 1):
        for subset in itertools.combinations(sorted(region), size):
            cycle = frozenset(subset)
            inner = {(s, label, t) for (s, label, t) in g.edges if s in cycle and t in cycle and s != t}
            if size == 1 and fair(g, cycle, set(), fairness, enabling):
                return True
            if size > 1 and strongly_connected(cycle, inner) and fair(g, cycle, inner, fairness, enabling):
                return True
    return False


def fair_recurrence_exists(g: Graph, starts: set[int], recur: frozenset[int], fairness: dict[str, str],
        enabling: Graph | None = None) -> bool:
    """Is there a fair behaviour that reaches a state of `starts` and from there visits `recur` infinitely often?

    TLA+'s `<>[]Q` fails exactly when some fair behaviour is in a `~Q` state infinitely often; such a behaviour
    ends (in a finite graph) by visiting exactly the states S of an end cycle forever, and S must hold a `~Q` state.
    The end cycles are enumerated as in `fair_lasso_exists`, but through any states reachable from a start.
    """
    region, stack = set(starts), list(starts)
    while stack:
        u = stack.pop()
        for _, v in g.out(u):
            if v not in region:
                region.add(v)
                stack.append(v)
    for size in range(1, len(region) + 1):
        for subset in itertools.combinations(sorted(region), size):
            cycle = frozenset(subset)
            if not cycle & recur:
                continue
            inner = {(s, label, t) for (s, label, t) in g.edges if s in cycle and t in cycle and s != t}
            if size == 1 and fair(g, cycle, set(), fairness, enabling):
                return True
            if size > 1 and strongly_connected(cycle, inner) and fair(g, cycle, inner, fairness, enabling):
                return True
    return False


def reachable_from_init(g: Graph) -> set[int]:
    seen, stack = set(g.init), list(g.init)
    while stack:
        u = stack.pop()
        for _, v in g.out(u):
            if v not in seen:
                seen.add(v)
                stack.append(v)
    return seen


def fairness_conditions(fairness: dict[str, str]) -> list[Any]:
    kinds = {"weak": weak, "strong": strong}
    return [kinds[kind](f"{kind}({label})", lambda a, label=label: a == label) for label, kind in fairness.items()]


def assert_fair_loop(g: Graph, violation: Violation, fairness: dict[str, str],
                     enabling: Graph | None = None) -> frozenset[int]:
    """The lasso is a valid behaviour whose loop closes as documented and is fair (a class enabled by the edges of
    `enabling`, by default `g`'s); returns the loop's states."""
    assert_path(g, violation)
    trace, k = violation.trace, violation.loop_start
    assert k is not None and 0 <= k < len(trace)
    if k == len(trace) - 1:
        loop, edges = frozenset({trace[k].state}), set()
    else:
        assert trace[-1].state == trace[k].state
        loop = frozenset(step.state for step in trace[k:])
        # TLA+ actions are relations on pairs of states: a step u -> v is an A step whenever the graph has an
        # A-edge u -> v, whichever label the trace prints for it.
        pairs = {(p.state, s.state) for p, s in zip(trace[k:], trace[k + 1 :], strict=False)}
        edges = {(u, label, v) for (u, label, v) in g.edges if (u, v) in pairs and u != v}
    assert fair(g, loop, edges, fairness, enabling), "the reported loop is not fair"
    return loop


fairness_maps = st.dictionaries(st.sampled_from(LABELS), st.sampled_from(["weak", "strong"]))


def note_fairness_relevance(g: Graph, starts: set[int], avoid: frozenset[int], fairness: dict[str, str]) -> None:
    """Hypothesis statistics: how often the verdict depends on SF versus WF."""
    as_weak = {label: "weak" for label in fairness}
    if fair_lasso_exists(g, starts, avoid, fairness) != fair_lasso_exists(g, starts, avoid, as_weak):
        event("strong fairness decides the verdict")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(constrained=False), fairness_maps, st.data())
def test_eventually_matches_brute_force(g: Graph, fairness: dict[str, str], data: st.DataObject) -> None:
    goal = data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="goal")
    expected_violation = fair_lasso_exists(g, set(g.init), goal, fairness)
    note_fairness_relevance(g, set(g.init), goal, fairness)
    model = GraphModel(g, [eventually("Ev", lambda s: s in goal)], fairness_conditions(fairness))
    result = check(model, deadlock=False)
    assert (result.status == "violation") == expected_violation, (result.status, result.violation)
    if expected_violation:
        violation = result.violation
        assert violation is not None and (violation.property, violation.kind) == ("Ev", "eventually")
        assert_fair_loop(g, violation, fairness)
        assert all(step.state not in goal for step in violation.trace)


def assert_premise_verdict(result: Any, name: str, violated: bool, triggers: set[int]) -> None:
    """The property's own verdict: violated, else vacuous exactly when no reachable state satisfies the premise."""
    (status,) = [p.status for p in result.properties if p.name == name]
    assert status == ("violated" if violated else "holds" if triggers else "vacuous")
    if status == "vacuous":
        event("vacuous")
        assert result.vacuous == (name,) and "all properties hold" not in result.verdict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(constrained=False), fairness_maps, st.data())
def test_leads_to_matches_brute_force(g: Graph, fairness: dict[str, str], data: st.DataObject) -> None:
    p = data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="p")
    q = data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="q")
    triggers = {u for u in reachable_from_init(g) if u in p}
    expected_violation = fair_lasso_exists(g, triggers, q, fairness)
    note_fairness_relevance(g, triggers, q, fairness)
    model = GraphModel(g, [leads_to("LT", lambda s: s in p, lambda s: s in q)], fairness_conditions(fairness))
    result = check(model, deadlock=False)
    assert (result.status == "violation") == expected_violation, (result.status, result.violation)
    assert_premise_verdict(result, "LT", expected_violation, triggers)
    if expected_violation:
        violation = result.violation
        assert violation is not None and (violation.property, violation.kind) == ("LT", "leads_to")
        assert_fair_loop(g, violation, fairness)
        trace = violation.trace
        assert any(step.state in p and all(s.state not in q for s in trace[i:]) for i, step in enumerate(trace))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flicker_cases(), st.booleans())
def test_flickering_enabledness_matches_brute_force(case: Case, as_leads_to: bool) -> None:
    g, goal, fairness = case
    note_fairness_relevance(g, set(g.init), goal, fairness)
    expected_violation = fair_lasso_exists(g, set(g.init), goal, fairness)
    start = min(g.init)
    prop = (
        leads_to("Reach", lambda s: s == start, lambda s: s in goal)
        if as_leads_to
        else eventually("Reach", lambda s: s in goal)
    )
    result = check(GraphModel(g, [prop], fairness_conditions(fairness)), deadlock=False)
    assert (result.status == "violation") == expected_violation, (result.status, result.violation)
    if result.violation is not None:
        assert_fair_loop(g, result.violation, fairness)
        assert all(step.state not in goal for step in result.violation.trace)


# Recurrence: <>[]Q and P ~> []Q.


def assert_recurrence_loop(g: Graph, violation: Violation, fairness: dict[str, str], goal: frozenset[int]) -> None:
    """A valid fair lasso whose loop falsifies the goal (so the goal fails infinitely often)."""
    loop = assert_fair_loop(g, violation, fairness)
    assert loop - goal, "the loop never falsifies the goal, so <>[] holds on it"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(constrained=False), fairness_maps, st.data())
def test_eventually_always_matches_brute_force(g: Graph, fairness: dict[str, str], data: st.DataObject) -> None:
    goal = data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="goal")
    recur = frozenset(range(g.nodes)) - goal
    expected_violation = fair_recurrence_exists(g, set(g.init), recur, fairness)
    if expected_violation and not fair_lasso_exists(g, set(g.init), goal, fairness):
        event("<>Q holds but <>[]Q fails")
    if expected_violation != fair_recurrence_exists(g, set(g.init), recur, {label: "weak" for label in fairness}):
        event("strong fairness decides the verdict")
    for strategy in ("bfs", "dfs"):
        model = GraphModel(g, [eventually_always("EvAlw", lambda s: s in goal)], fairness_conditions(fairness))
        result = check(model, deadlock=False, strategy=strategy)
        assert (result.status == "violation") == expected_violation, (strategy, result.status, result.violation)
        assert result.status_of("EvAlw") == ("violated" if expected_violation else "holds")
        if expected_violation:
            violation = result.violation
            assert violation is not None and (violation.property, violation.kind) == ("EvAlw", "eventually_always")
            assert_recurrence_loop(g, violation, fairness, goal)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(constrained=False), fairness_maps, st.data())
def test_bounded_liveness_verdicts_are_genuine_and_never_hold(
    g: Graph, fairness: dict[str, str], data: st.DataObject
) -> None:
    """Under a state or depth bound, every liveness operator either finds a lasso that is a real fair
    counterexample of the whole graph, or says nothing: no `holds`, no `vacuous`, unless the bound cut nothing."""
    node = st.integers(0, g.nodes - 1)
    p_set = data.draw(st.frozensets(node), label="p")
    q_set = data.draw(st.frozensets(node), label="q")
    bound = data.draw(st.sampled_from(["max_states", "max_depth"]), label="bound")
    limit = data.draw(st.integers(1, g.nodes), label="limit")
    recur = frozenset(range(g.nodes)) - q_set
    triggers = {u for u in reachable_from_init(g) if u in p_set}
    props = {
        "E": (eventually("E", lambda s: s in q_set), fair_lasso_exists(g, set(g.init), q_set, fairness)),
        "L": (leads_to("L", lambda s: s in p_set, lambda s: s in q_set),
              fair_lasso_exists(g, triggers, q_set, fairness)),
        "EA": (eventually_always("EA", lambda s: s in q_set), fair_recurrence_exists(g, set(g.init), recur, fairness)),
        "LA": (leads_to_always("LA", lambda s: s in p_set, lambda s: s in q_set),
               fair_recurrence_exists(g, triggers, recur, fairness)),
    }
    for name, (prop, violated) in props.items():
        result = check(GraphModel(g, [prop], fairness_conditions(fairness)), deadlock=False, **{bound: limit})
        status = result.status_of(name)
        if result.status == "ok":
            event("the bound cut nothing")
            assert status in ("holds", "vacuous") and not violated
        elif status == "violated":
            assert violated and result.violation is not None
            if prop.kind.endswith("_always"):
                assert_recurrence_loop(g, result.violation, fairness, q_set)
            else:
                assert_fair_loop(g, result.violation, fairness)
        else:
            assert result.status == "bounded" and status == "unchecked", (name, result.status, status)
            assert "hold" not in result.verdict()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(constrained=False), fairness_maps, st.data())
def test_leads_to_always_matches_brute_force(g: Graph, fairness: dict[str, str], data: st.DataObject) -> None:
    p = data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="p")
    q = data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="q")
    triggers = {u for u in reachable_from_init(g) if u in p}
    expected_violation = fair_recurrence_exists(g, triggers, frozenset(range(g.nodes)) - q, fairness)
    if expected_violation and not fair_lasso_exists(g, triggers, q, fairness):
        event("P ~> Q holds but P ~> []Q fails")
    model = GraphModel(g, [leads_to_always("LTA", lambda s: s in p, lambda s: s in q)], fairness_conditions(fairness))
    result = check(model, deadlock=False)
    assert (result.status == "violation") == expected_violation, (result.status, result.violation)
    assert_premise_verdict(result, "LTA", expected_violation, triggers)
    if expected_violation:
        violation = result.violation
        assert violation is not None and (violation.property, violation.kind) == ("LTA", "leads_to_always")
        assert_recurrence_loop(g, violation, fairness, q)
        # The premise holds somewhere on the lasso; the loop (which falsifies q) repeats after it forever.
        assert any(step.state in p for step in violation.trace)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flicker_cases(), st.booleans(), st.data())
def test_flickering_enabledness_matches_brute_force_for_recurrence(
    case: Case, as_leads_to: bool, data: st.DataObject
) -> None:
    """The flicker cases with the goal as what must hold forever, and some more states where it holds (on the
    cycle, say, so that refining away the states enabling a strong class may leave a fair cycle where the goal
    holds throughout): SF versus WF of the exits decides."""
    g, goal, fairness = case
    goal |= data.draw(st.frozensets(st.integers(0, g.nodes - 1)), label="more goal")
    start = min(g.init)
    recur = frozenset(range(g.nodes)) - goal
    expected_violation = fair_recurrence_exists(g, {start}, recur, fairness)
    if expected_violation != fair_recurrence_exists(g, {start}, recur, {label: "weak" for label in fairness}):
        event("strong fairness decides the verdict")
    prop = (
        leads_to_always("Stay", lambda s: s == start, lambda s: s in goal)
        if as_leads_to
        else eventually_always("Stay", lambda s: s in goal)
    )
    result = check(GraphModel(g, [prop], fairness_conditions(fairness)), deadlock=False)
    assert (result.status == "violation") == expected_violation, (result.status, result.violation)
    if result.violation is not None:
        assert_recurrence_loop(g, result.violation, fairness, goal)


def test_recurrence_lasso_is_short() -> None:
    """0 <-> 1 under WF: `1 ~> []1` fails; the lasso enters the loop at the premise's state rather than going
    on to the nearest state where the goal fails (two steps and a loop of two, not three and two)."""
    g = Graph(2, frozenset({(0, "a", 1), (1, "a", 0)}), frozenset({0}), frozenset({0, 1}))
    prop = leads_to_always("OneStays", lambda s: s == 1, lambda s: s == 1)
    violation = check(GraphModel(g, [prop], fairness_conditions({"a": "weak"})), deadlock=False).violation
    assert violation is not None
    assert [step.state for step in violation.trace] == [0, 1, 0, 1] and violation.loop_start == 1


# 0 <-b-> 1 -a-> 2, with the goal true at 0 and 2, `a` strongly fair and `b` not fair. The component {0, 1} has
# the goal false at 1, but a fair behaviour cannot visit 1 forever again without taking `a` (SF): refining it
# away leaves {0}, a fair stutter where the goal holds. So <>[]goal holds, though a fair cycle (the stutter at
# 0) exists inside the component that holds the state where the goal fails.
REFINED = Graph(3, frozenset({(0, "b", 1), (1, "b", 0), (1, "a", 2)}), frozenset({0}), frozenset(range(3)))


def test_refinement_that_keeps_only_goal_states_is_no_counterexample() -> None:
    goal = frozenset({0, 2})
    for kind, holds in (("strong", True), ("weak", False)):
        fairness = {"a": kind}
        assert fair_recurrence_exists(REFINED, {0}, frozenset({1}), fairness) is not holds
        model = GraphModel(REFINED, [eventually_always("Settles", lambda s: s in goal)], fairness_conditions(fairness))
        result = check(model, deadlock=False)
        assert result.ok is holds, kind
        if result.violation is not None:
            assert_recurrence_loop(REFINED, result.violation, fairness, goal)


# Steps a reduction hides: the model shows some edges and declares the classes of the others (hidden_fairness).


class HiddenGraphModel(GraphModel):
    """`g`'s edges are the steps shown; `hidden`'s are left out by a "reduction" that declares their classes."""

    def __init__(self, g: Graph, hidden: frozenset[Edge], properties: Sequence[Property],
                 fairness: Sequence[Any]) -> None:
        super().__init__(g, properties, fairness)
        self.hidden = hidden
        self.asked: list[int] = []

    def hidden_fairness(self, state: int) -> Iterator[str]:
        self.asked.append(state)
        classes = {label: f.name for f in self.fairness for label in LABELS if f.selects(label)}
        return iter(sorted({classes[label] for (u, label, v) in self.hidden
                            if u == state and v != state and label in classes}))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(constrained=False), fairness_maps, st.data())
def test_hidden_fairness_matches_brute_force(g: Graph, fairness: dict[str, str], data: st.DataObject) -> None:
    """A class enabled only by hidden steps counts as enabled (weak fairness forbids a cycle along which it stays
    enabled untaken); the search leaves the question to the liveness check, which asks it only where the shown
    classes do not decide, and never twice of one state."""
    node = st.integers(0, g.nodes - 1)
    hidden = data.draw(st.frozensets(st.tuples(node, st.sampled_from(LABELS), node), max_size=8), label="hidden")
    p_set = data.draw(st.frozensets(node), label="p")
    q_set = data.draw(st.frozensets(node), label="q")
    full = attrs.evolve(g, edges=g.edges | hidden)
    recur = frozenset(range(g.nodes)) - q_set
    triggers = {u for u in reachable_from_init(g) if u in p_set}
    cases = (
        (eventually("E", lambda s: s in q_set), fair_lasso_exists(g, set(g.init), q_set, fairness, full)),
        (leads_to("L", lambda s: s in p_set, lambda s: s in q_set),
         fair_lasso_exists(g, triggers, q_set, fairness, full)),
        (eventually_always("EA", lambda s: s in q_set),
         fair_recurrence_exists(g, set(g.init), recur, fairness, full)),
        (leads_to_always("LA", lambda s: s in p_set, lambda s: s in q_set),
         fair_recurrence_exists(g, triggers, recur, fairness, full)),
    )
    for prop, violated in cases:
        model = HiddenGraphModel(g, hidden, [prop], fairness_conditions(fairness))
        result = check(model, deadlock=False)
        assert (result.status == "violation") == violated, (prop.name, result.status, result.violation)
        assert len(model.asked) == len(set(model.asked)) <= result.stats.distinct_states
        if result.violation is not None:
            loop = assert_fair_loop(g, result.violation, fairness, full)
            if prop.kind.endswith("_always"):
                assert loop - q_set
            else:
                assert not loop & q_set
        if len(model.asked) < result.stats.distinct_states:
            event("some states never asked")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(constrained=False), fairness_maps, st.data())
def test_properties_after_the_fair_components_are_found_keep_their_verdicts_and_lassos(
    g: Graph, fairness: dict[str, str], data: st.DataObject
) -> None:
    """A recurrence property whose triggers reach the whole graph finds its fair components (``FairCycles``);
    every liveness property checked after it is ruled out from them where no fair component holds one of its bad
    states, and searched as alone otherwise: its verdict is brute force's, and its lasso (when it is the first
    violated) the one it has when checked alone."""
    node = st.integers(0, g.nodes - 1)
    x_set = data.draw(st.frozensets(node), label="opener's goal")
    p_set = data.draw(st.frozensets(node), label="p")
    q_set = data.draw(st.frozensets(node), label="q")
    recur = frozenset(range(g.nodes)) - q_set
    triggers = {u for u in reachable_from_init(g) if u in p_set}
    opener = eventually_always("Opener", lambda s: s in x_set)
    conditions = fairness_conditions(fairness)
    cases = (
        (eventually("E", lambda s: s in q_set), fair_lasso_exists(g, set(g.init), q_set, fairness)),
        (leads_to("L", lambda s: s in p_set, lambda s: s in q_set), fair_lasso_exists(g, triggers, q_set, fairness)),
        (eventually_always("EA", lambda s: s in q_set), fair_recurrence_exists(g, set(g.init), recur, fairness)),
        (leads_to_always("LA", lambda s: s in p_set, lambda s: s in q_set),
         fair_recurrence_exists(g, triggers, recur, fairness)),
    )
    if "strong" not in fairness.values() and reachable_from_init(g) - x_set:
        event("the opener finds the fair components")
    for prop, violated in cases:
        both = check(GraphModel(g, [opener, prop], conditions), deadlock=False)
        alone = check(GraphModel(g, [prop], conditions), deadlock=False)
        assert both.status_of(prop.name) == alone.status_of(prop.name), (prop.name, both.properties)
        assert (alone.status_of(prop.name) == "violated") == violated, (prop.name, alone.properties)
        if both.violation is not None and both.violation.property == prop.name:
            assert both.violation == alone.violation, prop.name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(constrained=False), fairness_maps, st.data())
def test_a_premise_declared_as_the_goals_negation_gives_the_same_result(
    g: Graph, fairness: dict[str, str], data: st.DataObject
) -> None:
    """`negation(q)` as the premise of `q` (or `negation(p)` as the goal of `p`): the checker answers the premise
    from the goal, never asking it; the verdicts, vacuity and lassos are those of the same property written with a
    plain function, and the predicate is asked once per state."""
    node = st.integers(0, g.nodes - 1)
    q_set = data.draw(st.frozensets(node), label="q")
    asked: list[int] = []

    def q(s: int) -> bool:
        asked.append(s)
        return s in q_set

    conditions = fairness_conditions(fairness)
    for make in (leads_to, leads_to_always):
        declared = [make("NotQ", negation(q), q), make("QThenNot", q, negation(q))]
        plain = [make("NotQ", lambda s: s not in q_set, lambda s: s in q_set),
                 make("QThenNot", lambda s: s in q_set, lambda s: s not in q_set)]
        for one in (0, 1):
            asked.clear()
            a = check(GraphModel(g, [declared[one]], conditions), deadlock=False)
            b = check(GraphModel(g, [plain[one]], conditions), deadlock=False)
            assert a.properties == b.properties and a.violation == b.violation, (make, one)
            assert sorted(asked) == sorted(set(asked)), "the premise was asked as well as the goal"
            if a.properties[-1].status == "vacuous":
                event("vacuous")


# Symmetry: two interchangeable walkers on a random graph, checked with and without the reduction.


class Walkers(Model):
    """Two processes each walking the same graph (interleaved); symmetric under swapping them."""

    def __init__(self, g: Graph, properties: Sequence[Property], fairness: Sequence[Any], reduce: bool) -> None:
        self.g, self.reduce = g, reduce
        self.properties = tuple(properties)
        self.fairness = tuple(fairness)

    def init_states(self) -> Iterator[tuple[int, int]]:
        return iter([(a, b) for a in sorted(self.g.init) for b in sorted(self.g.init)])

    def successors(self, state: tuple[int, int]) -> Iterator[tuple[tuple[str, int], tuple[int, int]]]:
        x, y = state
        for label, v in self.g.out(x):
            yield (label, 0), (v, y)
        for label, v in self.g.out(y):
            yield (label, 1), (x, v)

    def canonical(self, state: tuple[int, int]) -> tuple[int, int]:
        return (min(state), max(state)) if self.reduce else state

    def symmetric(self, prop: Property) -> bool:
        return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(constrained=False), fairness_maps, st.data())
def test_recurrence_verdicts_survive_symmetry_reduction(
    g: Graph, fairness: dict[str, str], data: st.DataObject
) -> None:
    """Symmetric properties (some walker / every walker in a set) and fairness of each label for both walkers:
    every liveness operator gives the same verdict on the reduced and the full space, and a reduced
    counterexample's loop falsifies the goal."""
    node = st.integers(0, g.nodes - 1)
    p_set = data.draw(st.frozensets(node), label="p")
    q_set = data.draw(st.frozensets(node), label="q")
    every = data.draw(st.booleans(), label="every")

    def q(s: tuple[int, int]) -> bool:
        return (all if every else any)(x in q_set for x in s)

    def p(s: tuple[int, int]) -> bool:
        return any(x in p_set for x in s)

    kinds = {"weak": weak, "strong": strong}
    fair_conditions = [kinds[k](f"{k}({label})", lambda a, label=label: a[0] == label) for label, k in fairness.items()]
    for prop in (eventually("E", q), leads_to("L", p, q), eventually_always("EA", q), leads_to_always("LA", p, q)):
        full = check(Walkers(g, [prop], fair_conditions, False), deadlock=False)
        reduced = check(Walkers(g, [prop], fair_conditions, True), deadlock=False)
        assert full.status == reduced.status, (prop.kind, full.violation, reduced.violation)
        v = reduced.violation
        if v is not None and prop.kind.endswith("_always"):
            assert v.loop_start is not None and any(not q(step.state) for step in v.trace[v.loop_start :])


# A hand-written model whose liveness needs strong fairness.

# 0 --b--> 1 --b--> 0, and 0 --a--> 2 (the goal). Action a is enabled at 0 only, so the cycle 0, 1, 0, ...
# keeps it enabled infinitely often but not continuously: WF(a) allows the cycle, SF(a) forbids it.
# WF(b) rules out stuttering at 1; stuttering at 0 is ruled out by either fairness on a.
FLICKER = Graph(3, frozenset({(0, "b", 1), (1, "b", 0), (0, "a", 2)}), frozenset({0}), frozenset({0, 1, 2}))


def test_strong_fairness_needed() -> None:
    for kind, holds in (("strong", True), ("weak", False)):
        fairness = {"a": kind, "b": "weak"}
        model = GraphModel(FLICKER, [eventually("ReachTwo", lambda s: s == 2)], fairness_conditions(fairness))
        result = check(model, deadlock=False)
        assert result.ok is holds, kind
        assert fair_lasso_exists(FLICKER, {0}, frozenset({2}), fairness) is not holds
        if not holds:
            assert result.violation is not None
            assert assert_fair_loop(FLICKER, result.violation, fairness) == {0, 1}


# Two actions, b and c, lead from 0 to 2. The fair loop must take a c step (c is strongly fair and enabled at 0);
# the step 0 -> 2 is one (TLA+ actions are relations on states), but the trace should print it as c.
PARALLEL = Graph(
    4,
    frozenset({(0, "a", 3), (3, "a", 0), (0, "b", 2), (2, "b", 0), (0, "c", 2)}),
    frozenset({0}),
    frozenset(range(4)),
)


def test_parallel_actions_verdict_is_tla_semantics() -> None:
    fairness = {"a": "weak", "c": "strong"}
    model = GraphModel(PARALLEL, [eventually("Never", lambda s: False)], fairness_conditions(fairness))
    result = check(model, deadlock=False)
    assert fair_lasso_exists(PARALLEL, {0}, frozenset(), fairness)
    assert result.violation is not None
    assert_fair_loop(PARALLEL, result.violation, fairness)


def test_lasso_prints_the_action_its_fairness_needs() -> None:
    fairness = {"a": "weak", "c": "strong"}
    model = GraphModel(PARALLEL, [eventually("Never", lambda s: False)], fairness_conditions(fairness))
    violation = check(model, deadlock=False).violation
    assert violation is not None and violation.loop_start is not None
    assert "c" in [step.action for step in violation.trace[violation.loop_start + 1 :]]


# Determinism.

DETERMINISM_SCRIPT = """
import json
import attrs
from checker import check
from checker.examples.twophase import TwoPhase
from checker.examples.ewd840 import EWD840
from checker.examples.semaphore import Semaphore
from checker import always

def canon(x):
    # A rendering independent of PYTHONHASHSEED: sets sorted, attrs instances as field lists.
    if attrs.has(type(x)):
        return [type(x).__name__, [[f.name, canon(getattr(x, f.name))] for f in attrs.fields(type(x))]]
    if isinstance(x, (set, frozenset)):
        return sorted((canon(e) for e in x), key=repr)
    if isinstance(x, tuple):
        return [canon(e) for e in x]
    return x

def summary(model, **kw):
    r = check(model, **kw)
    v = r.violation
    trace = None if v is None else [[model.describe(s.action) if s.action is not None else None, canon(s.state)]
                                     for s in v.trace]
    return [r.status, r.stats.distinct_states, r.stats.generated, trace, None if v is None else v.loop_start]

tp = TwoPhase(3)
tp.properties = [always("NeverCommitted", lambda s: s.tm_state != "committed")]
print(json.dumps([
    summary(tp), summary(tp, strategy="dfs"),
    summary(EWD840(3, fair=False), deadlock=False), summary(Semaphore(2, "weak")),
]))
"""


def run_determinism_script(seed: str) -> list[Any]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", DETERMINISM_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_same_result_across_runs_and_hash_seeds() -> None:
    first = run_determinism_script("0")
    assert first[0][0] == "violation" and first[2][0] == "violation" and first[3][0] == "violation"
    for seed in ("1", "4242"):
        assert run_determinism_script(seed) == first, seed


def test_same_result_twice_in_process() -> None:
    g = Graph(
        5,
        frozenset({(0, "a", 1), (1, "b", 2), (2, "a", 0), (1, "c", 3), (3, "a", 4), (4, "b", 3)}),
        frozenset({0}),
        frozenset(range(5)),
    )
    runs = [check(GraphModel(g, [eventually("Ev", lambda s: s == 9)]), deadlock=False) for _ in range(2)]
    assert runs[0].violation is not None and runs[1].violation is not None
    assert runs[0].violation.trace == runs[1].violation.trace
    assert runs[0].violation.loop_start == runs[1].violation.loop_start
    assert runs[0].stats.distinct_states == runs[1].stats.distinct_states
