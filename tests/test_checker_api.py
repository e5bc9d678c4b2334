"""The checker's public API: verdicts, bounds, deadlock, symmetry, constraints, strategies, simulation, errors."""

from __future__ import annotations

import time

import attrs
import pytest

from checker import (
    Model,
    ModelError,
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
from checker.errors import InputError


class Counter(Model):
    """x counts up from 0 to `top` and stops (a deadlock at `top` unless `loop`)."""

    def __init__(self, top: int = 5, loop: bool = False, props: tuple = ()) -> None:
        self.top, self.loop = top, loop
        self.properties = list(props)

    def init_states(self):
        return [0]

    def successors(self, x):
        if x < self.top:
            yield ("inc", x + 1)
        elif self.loop:
            yield ("stay", x)


def test_exhaustive_ok_counts_and_depth():
    r = check(Counter(5, loop=True, props=(always("small", lambda x: x <= 5),)))
    assert r.status == "ok" and r.ok and r.complete
    assert r.stats.distinct_states == 6
    assert r.stats.depth == 6  # TLC counts the initial state as depth 1
    assert r.stats.generated == 7  # the initial state and 6 successors (one of them the self-loop)
    assert r.stats.coverage["inc"].distinct == 5 and r.stats.coverage["stay"].generated == 1


def test_shortest_invariant_violation_is_reported_with_its_trace():
    r = check(Counter(9, loop=True, props=(always("below4", lambda x: x < 4),)))
    assert r.status == "violation" and not r.ok
    v = r.violation
    assert v.property == "below4" and v.kind == "always" and v.loop_start is None
    assert [s.state for s in v.trace] == [0, 1, 2, 3, 4]
    assert v.trace[0].action is None and all(s.action == "inc" for s in v.trace[1:])


def test_deadlock_is_a_violation_unless_turned_off_and_a_self_loop_is_not_one():
    r = check(Counter(3))
    assert r.violation.property == "deadlock" and r.violation.kind == "deadlock"
    assert r.violation.trace[-1].state == 3
    assert check(Counter(3), deadlock=False).status == "ok"
    assert check(Counter(3, loop=True)).status == "ok"


def test_bounds_say_bounded_never_ok():
    r = check(Counter(100, loop=True), max_states=10)
    assert r.status == "bounded" and r.ok and not r.complete
    assert r.stats.distinct_states == 10 and "max states" in r.cut
    r = check(Counter(100, loop=True), max_depth=4)
    assert r.status == "bounded" and r.stats.distinct_states == 4 and "max depth" in r.cut
    # A depth bound that the space never reaches is not a cut.
    assert check(Counter(3, loop=True), max_depth=10).status == "ok"
    assert "max states 10" in check(Counter(100, loop=True), max_states=10).verdict()


def test_impossible_bounds_are_input_errors():
    with pytest.raises(InputError):
        check(Counter(), max_states=0)
    with pytest.raises(InputError):
        check(Counter(), strategy="random")


def test_sometimes_needs_a_witness():
    assert check(Counter(4, loop=True, props=(sometimes("reaches3", lambda x: x == 3),))).ok
    r = check(Counter(4, loop=True, props=(sometimes("reaches7", lambda x: x == 7),)))
    assert r.violation.property == "reaches7" and r.violation.kind == "sometimes" and r.violation.trace == ()
    # Cut short, a missing witness is not a violation: the search is bounded.
    assert check(Counter(9, loop=True, props=(sometimes("r7", lambda x: x == 7),)), max_states=3).status == "bounded"


@attrs.frozen
class Pair:
    a: int
    b: int


class Symmetric(Model):
    """Two interchangeable counters, each 0..2; symmetric under swapping them."""

    def __init__(self, reduce: bool) -> None:
        self.reduce = reduce
        self.properties = [always("not both 2", lambda s: not (s.a == 2 and s.b == 2))]

    def init_states(self):
        return [Pair(0, 0)]

    def successors(self, s):
        if s.a < 2:
            yield ("incA", Pair(s.a + 1, s.b))
        if s.b < 2:
            yield ("incB", Pair(s.a, s.b + 1))
        if s.a == 2 or s.b == 2:
            yield ("idle", s)

    def canonical(self, s):
        return Pair(*sorted((s.a, s.b))) if self.reduce else s


def test_symmetry_reduces_and_traces_stay_real_steps():
    full = check(Symmetric(False), strategy="bfs")
    reduced = check(Symmetric(True))
    assert full.violation and reduced.violation
    assert check(Symmetric(False).__class__(False)).stats.distinct_states >= reduced.stats.distinct_states
    trace = reduced.violation.trace
    model = Symmetric(True)
    for before, after in zip(trace, trace[1:], strict=False):
        assert (after.action, after.state) in list(model.successors(before.state))
    assert trace[-1].state == Pair(2, 2)
    assert reduced.bounds.symmetry


def test_symmetry_counts_equivalence_classes():
    class NoProps(Symmetric):
        def __init__(self, reduce):
            super().__init__(reduce)
            self.properties = []

    assert check(NoProps(False)).stats.distinct_states == 9
    assert check(NoProps(True)).stats.distinct_states == 6


def test_constraint_discards_states_like_tlc():
    class Bounded(Counter):
        def constraint(self, x):
            return x <= 3

    r = check(Bounded(10), deadlock=False)
    assert r.status == "ok" and r.stats.distinct_states == 4 and r.bounds.constraint
    # Invariants still hold in the states just beyond the constraint (TLC checks them there too).
    r = check(Bounded(10, props=(always("le3", lambda x: x <= 3),)), deadlock=False)
    assert r.violation.property == "le3" and [s.state for s in r.violation.trace] == [0, 1, 2, 3, 4]


def test_dfs_explores_the_same_space_and_finds_violations():
    assert check(Symmetric(False), strategy="dfs").violation.property == "not both 2"
    plain = Counter(30, loop=True)
    assert check(plain, strategy="dfs").stats.distinct_states == check(plain).stats.distinct_states == 31


def test_simulation_is_seeded_and_never_claims_ok():
    model = Counter(50, loop=True, props=(always("below40", lambda x: x < 40), eventually("e", lambda x: x > 1)))
    r1 = check(model, simulate=3, depth=30, seed=7)
    r2 = check(model, simulate=3, depth=30, seed=7)
    assert r1.status == "bounded" and r1.ok and r1.stats == attrs.evolve(r2.stats, seconds=r1.stats.seconds)
    assert any("e (eventually" in u for u in r1.unchecked)
    r3 = check(model, simulate=2, depth=60, seed=1)
    assert r3.violation.property == "below40" and len(r3.violation.trace) == 41


class Ring(Model):
    """A token moving around `n` places; `skip` may jump over place 1."""

    def __init__(self, fair, props, n=3) -> None:
        self.n = n
        self.properties = props
        self.fairness = fair

    def init_states(self):
        return [0]

    def successors(self, x):
        yield ("move", (x + 1) % self.n)
        if x == 0:
            yield ("skip", 2)


def test_liveness_needs_fairness_like_tlc():
    visits1 = eventually("visits1", lambda x: x == 1)
    r = check(Ring([], [visits1]))
    assert r.violation.kind == "eventually"
    # Without fairness the behaviour may stutter in the initial state forever.
    assert r.violation.loop_start == len(r.violation.trace) - 1 == 0
    # Weak fairness on every step: the ring can still skip place 1 forever (0 -skip-> 2 -move-> 0).
    r = check(Ring([weak("all", lambda a: True)], [visits1]))
    v = r.violation
    assert v is not None and v.loop_start is not None
    assert v.trace[-1].state == v.trace[v.loop_start].state
    assert all(step.state != 1 for step in v.trace)
    # Weak fairness of move alone allows skipping forever, too (move stays taken).
    assert not check(Ring([weak("move", lambda a: a == "move")], [visits1])).ok


def test_strong_fairness_differs_from_weak():
    class Flicker(Model):
        """`go` is enabled only in state 0; the system flips between 0 and 1 and may go to 2 from 0."""

        def __init__(self, fair):
            self.fairness = fair
            self.properties = [eventually("done", lambda x: x == 2)]

        def init_states(self):
            return [0]

        def successors(self, x):
            if x < 2:
                yield ("flip", 1 - x)
            if x == 0:
                yield ("go", 2)
            if x == 2:
                yield ("end", 2)

    flip = weak("flip", lambda a: a == "flip")
    assert not check(Flicker([flip, weak("go", lambda a: a == "go")])).ok
    assert check(Flicker([flip, strong("go", lambda a: a == "go")])).status == "ok"


def test_leads_to():
    model = Ring([weak("move", lambda a: a == "move")], [leads_to("2then0", lambda x: x == 2, lambda x: x == 0)])
    assert check(model).status == "ok"
    stuck = Ring([], [leads_to("2then0", lambda x: x == 2, lambda x: x == 0)])
    v = check(stuck).violation
    assert v.kind == "leads_to" and v.trace[v.loop_start].state == 2


class Settle(Model):
    """A switch that flips between off (0) and on (1) under weak fairness; from on it may also `lock` into
    locked-on (2), which then only stutters. `lock` is weakly or strongly fair, or not fair at all."""

    def __init__(self, props, lock=None):
        self.properties = props
        self.fairness = [weak("flip", lambda a: a == "flip")] + ([lock("lock", lambda a: a == "lock")] if lock else [])

    def init_states(self):
        return [0]

    def successors(self, x):
        if x < 2:
            yield ("flip", 1 - x)
        if x == 1:
            yield ("lock", 2)
        if x == 2:
            yield ("stay", 2)


on = lambda x: x >= 1  # noqa: E731


def test_eventually_always_fails_when_the_goal_flips_forever_under_fairness():
    """<>on holds (the flip is fair), but <>[]on does not: the fair behaviour 0, 1, 0, 1, ... is off infinitely
    often. With `lock` strongly fair (it is enabled at every visit of 1) the behaviour must lock: both hold. Weak
    fairness of `lock` is not enough: it is not continuously enabled along the flipping loop."""
    assert check(Settle([eventually("EventuallyOn", on)])).status == "ok"
    r = check(Settle([eventually_always("StaysOn", on)]))
    v = r.violation
    assert r.status == "violation" and v.property == "StaysOn" and v.kind == "eventually_always"
    loop = [step.state for step in v.trace[v.loop_start :]]
    assert 0 in loop and loop[0] == loop[-1] and v.loop_start == 0  # the loop starts where the goal fails
    assert [step.action for step in v.trace[1:]] == ["flip", "flip"]
    assert not check(Settle([eventually_always("StaysOn", on)], lock=weak)).ok
    assert check(Settle([eventually_always("StaysOn", on)], lock=strong)).status == "ok"


def test_eventually_always_fails_on_a_fair_stutter_where_the_goal_is_false():
    r = check(Ring([], [eventually_always("AtOne", lambda x: x == 1)]))
    assert r.violation.kind == "eventually_always" and r.violation.loop_start == len(r.violation.trace) - 1 == 0


def test_leads_to_always():
    """Once on, on forever? Not while the flip is fair and `lock` is only weakly fair; yes with SF(lock). The
    counterexample passes through a premise state and loops through a state where the goal fails."""
    prop = leads_to_always("OnStaysOn", lambda x: x == 1, on)
    v = check(Settle([prop])).violation
    assert v.kind == "leads_to_always" and any(step.state == 1 for step in v.trace)
    assert any(step.state == 0 for step in v.trace[v.loop_start :])
    assert check(Settle([prop], lock=strong)).status == "ok"
    # The premise is the locked state: from there the goal holds forever (it only stutters in 2).
    assert check(Settle([leads_to_always("LockedStays", lambda x: x == 2, on)], lock=strong)).status == "ok"


def test_predicates_must_return_bools_and_model_errors_are_reported():
    with pytest.raises(ModelError, match="returned int"):
        check(Counter(3, props=(always("int", lambda x: 1),)))

    class Boom(Counter):
        def successors(self, x):
            if x == 2:
                raise ValueError("boom")
            yield from super().successors(x)

    with pytest.raises(ModelError, match="ValueError: boom while expanding state"):
        check(Boom(5))
    with pytest.raises(InputError, match="used twice"):
        check(Counter(3, props=(always("p", lambda x: True), always("p", lambda x: True))))


def test_a_negated_predicate_insists_on_a_bool_and_names_its_property():
    """`negation(q)` as a premise is answered from `q`'s answer, which must be a bool; asked directly, it raises
    on a non-bool too (a TypeError the checker reports, naming the property)."""
    def one(x):
        return 1

    with pytest.raises(ModelError, match="'Q' returned int"):
        check(Counter(3, props=(leads_to("Q", negation(one), one),)))
    with pytest.raises(ModelError, match="'P' raised TypeError: the predicate negated returned str"):
        check(Counter(3, props=(leads_to("P", lambda x: True, negation(lambda x: "yes")),)))
    assert negation(lambda x: x > 1)(2) is False and negation(lambda x: x > 1)(0) is True


def test_interrupt_returns_partial_results():
    class Interrupted(Counter):
        def successors(self, x):
            if x == 7:
                raise KeyboardInterrupt
            yield from super().successors(x)

    r = check(Interrupted(20))
    assert r.status == "interrupted" and r.ok and r.stats.distinct_states == 8


def test_progress_is_reported_on_long_runs():
    class Slow(Counter):
        def successors(self, x):
            time.sleep(0.0001)
            yield from super().successors(x)

    seen = []
    check(Slow(6_000, loop=True), progress=lambda *args: seen.append(args))
    assert seen, "a run of more than 0.25 s reports progress"
    distinct, generated, depth, queue, seconds = seen[-1]
    assert 0 < distinct <= 6_001 and generated >= distinct and depth == distinct and seconds >= 0.25


def test_liveness_with_symmetry_or_constraint_warns():
    class Warn(Ring):
        def constraint(self, x):
            return True

    r = check(Warn([], [eventually("x", lambda x: x == 1)]))
    assert any("constraint" in w for w in r.warnings)


@attrs.frozen
class Left:
    x: int


@attrs.frozen
class Right:
    x: int


@attrs.frozen
class Converted:
    x: tuple = attrs.field(converter=tuple)


@attrs.frozen
class PartlyCompared:
    x: int
    note: str = attrs.field(eq=False, default="")


def test_state_storage_keeps_classes_apart_and_respects_attrs_equality():
    """States stored as field tuples: one table per class, and classes whose equality is not plain go as is."""

    class Mixed(Model):
        def init_states(self):
            return [Left(0), Right(0), Converted([0]), PartlyCompared(0, "a")]

        def successors(self, s):
            if isinstance(s, (Left, Right)):
                yield ("flip", type(s)((s.x + 1) % 3))
            elif isinstance(s, Converted):
                yield ("grow", Converted(list(s.x[-1:]) + [len(s.x)]) if len(s.x) < 3 else s)
            else:
                yield ("renote", PartlyCompared(s.x, s.note + "b"))  # equal to s: notes are not compared

    r = check(Mixed())
    assert r.status == "ok"
    # Left 0..2 and Right 0..2 are 6 states; Converted (0,), (0, 1), (1, 2), (2, 2); PartlyCompared(0) once.
    assert r.stats.distinct_states == 6 + 4 + 1
    assert check(Mixed(), max_states=11).status == "ok"
    assert check(Mixed(), max_states=10).status == "bounded"


def test_a_state_cut_midway_by_the_state_bound_is_not_a_fair_stutter():
    """Regression: the bound stopped expanding state 0 before its `go` step was seen, so state 0 seemed to have
    no fair action enabled and to stutter there fairly forever; the verdict must be "bounded", not a violation."""

    class Cut(Model):
        def __init__(self):
            self.properties = [eventually("reaches2", lambda x: x == 2)]
            self.fairness = [weak("go", lambda a: a == "go")]

        def init_states(self):
            return [0]

        def successors(self, x):
            if x == 0:
                yield ("other", 1)
                yield ("go", 2)
            elif x == 1:
                yield ("go", 2)
            else:
                yield ("stay", x)

    assert check(Cut(), max_states=2).status == "bounded"
    assert check(Cut()).status == "ok"


def test_symmetry_with_liveness_warns_unless_the_model_vouches_for_the_property():
    visits0 = eventually("visits0", lambda x: x == 0)

    class Sym(Ring):
        def canonical(self, x):
            return x

    assert any("symmetry" in w for w in check(Sym([], [visits0])).warnings)

    class Vouched(Sym):
        def symmetric(self, prop):
            return prop is visits0

    assert not any("symmetry" in w for w in check(Vouched([], [visits0])).warnings)
    other = eventually("other", lambda x: x == 1)
    assert any("symmetry" in w for w in check(Vouched([], [visits0, other])).warnings)


def test_a_search_asked_to_stop_is_interrupted_with_what_it_found():
    """The command line's Ctrl-C handler also answers `stop`, in case Python swallowed the KeyboardInterrupt (in a
    finalizer, say): the search still stops, with partial statistics."""
    asked = []

    def stop():
        asked.append(True)
        return len(asked) >= 2

    r = check(Counter(100_000, loop=True), stop=stop)
    assert r.status == "interrupted" and 0 < r.stats.distinct_states < 100_000


# Per-property verdicts and vacuity.


def statuses(result):
    return {p.name: p.status for p in result.properties}


class Dial(Model):
    """x goes round 0 -> 1 -> 2 -> 0 under weak fairness; a model with one property of every kind."""

    def __init__(self, props, fair=True):
        self.properties = props
        self.fairness = [weak("turn", lambda a: a == "turn")] if fair else []

    def init_states(self):
        return [0]

    def successors(self, x):
        yield ("turn", (x + 1) % 3)


def test_a_leads_to_whose_premise_is_never_reached_is_vacuous_not_holds():
    props = [
        leads_to("NineThenZero", lambda x: x == 9, lambda x: x == 0),
        leads_to_always("NineThenStays", lambda x: x == 9, lambda x: x == 9),
        leads_to("TwoThenZero", lambda x: x == 2, lambda x: x == 0),
        leads_to_always("TwoThenSmall", lambda x: x == 2, lambda x: x < 3),
        eventually("Zero", lambda x: x == 0),
    ]
    r = check(Dial(props))
    assert r.status == "ok" and r.ok  # the formulas are true: the search was exhaustive and nothing fails
    assert statuses(r) == {"deadlock": "holds", "NineThenZero": "vacuous", "NineThenStays": "vacuous",
                           "TwoThenZero": "holds", "TwoThenSmall": "holds", "Zero": "holds"}
    assert r.vacuous == ("NineThenZero", "NineThenStays")
    assert r.status_of("NineThenZero") == "vacuous" and r.status_of("deadlock") == "holds"
    with pytest.raises(KeyError):
        r.status_of("NoSuchProperty")
    assert r.counts() == {"holds": 4, "violated": 0, "vacuous": 2, "unchecked": 0}
    verdict = r.verdict()
    assert "all properties hold" not in verdict
    assert "NineThenZero: vacuous (premise never reached)" in verdict and "4 hold, 2 vacuous" in verdict


def test_a_premise_reached_only_where_the_goal_already_holds_is_not_vacuous():
    r = check(Dial([leads_to("ZeroThenZero", lambda x: x == 0, lambda x: x == 0)], fair=False))
    assert statuses(r)["ZeroThenZero"] == "holds" and r.verdict().startswith("all properties hold")


def test_a_vacuous_property_that_is_also_violated_elsewhere_does_not_exist():
    """Without fairness the dial may stop anywhere: `2 ~> 0` is violated (premise reached), `9 ~> 0` is still
    vacuous, and the one counterexample shown is the first violated property's."""
    r = check(Dial([leads_to("NineThenZero", lambda x: x == 9, lambda x: x == 0),
                    leads_to("TwoThenZero", lambda x: x == 2, lambda x: x == 0),
                    eventually_always("AlwaysZero", lambda x: x == 0)], fair=False))
    assert r.violation.property == "TwoThenZero"
    assert statuses(r) == {"deadlock": "holds", "NineThenZero": "vacuous", "TwoThenZero": "violated",
                           "AlwaysZero": "violated"}
    assert "also violated: AlwaysZero" in r.verdict()


def test_bounded_and_partial_searches_never_say_holds_for_liveness():
    props = [always("Small", lambda x: x <= 100), eventually("Reaches50", lambda x: x == 50),
             leads_to("FiftyThenZero", lambda x: x == 50, lambda x: x == 0),
             leads_to_always("NeverThen", lambda x: x == 500, lambda x: True), sometimes("Three", lambda x: x == 3)]
    model = Counter(100, loop=True, props=props)
    model.fairness = [weak("inc", lambda a: a == "inc")]
    for r in (check(model, max_states=10), check(model, max_depth=5)):
        assert r.status == "bounded"
        s = statuses(r)
        assert s["Reaches50"] == s["FiftyThenZero"] == s["NeverThen"] == s["Small"] == s["deadlock"] == "unchecked"
        assert all("bounded search" in p.reason for p in r.properties if p.status == "unchecked")
        assert "hold" not in r.verdict()
    assert statuses(check(model, max_states=10))["Three"] == "holds"  # a witness is a proof, found in any search
    assert statuses(check(model, max_depth=3))["Three"] == "unchecked"
    # Exhaustively: everything decided; the premise 500 is never reached.
    full = check(model)
    assert statuses(full) == {"deadlock": "holds", "Small": "holds", "Reaches50": "holds", "FiftyThenZero": "violated",
                              "NeverThen": "vacuous", "Three": "holds"}


def test_a_liveness_violation_in_a_bounded_search_is_genuine():
    model = Counter(100, loop=True, props=(eventually("Reaches50", lambda x: x == 50),))
    r = check(model, max_states=10)  # no fairness: the counter may stop at 0
    assert r.status == "violation" and statuses(r) == {"deadlock": "unchecked", "Reaches50": "violated"}


def test_a_search_stopped_by_a_safety_violation_decides_nothing_else():
    props = [always("Below4", lambda x: x < 4), always("Below9", lambda x: x < 9),
             leads_to("NeverPremise", lambda x: x == 99, lambda x: True), sometimes("Two", lambda x: x == 2),
             sometimes("Eight", lambda x: x == 8)]
    r = check(Counter(9, loop=True, props=props))
    assert statuses(r) == {"deadlock": "unchecked", "Below4": "violated", "Below9": "unchecked",
                           "NeverPremise": "unchecked", "Two": "holds", "Eight": "unchecked"}
    assert all("stopped at the violation of Below4" in p.reason for p in r.properties if p.status == "unchecked")
    dead = check(Counter(3, props=(leads_to("NeverPremise", lambda x: x == 99, lambda x: True),)))
    assert statuses(dead) == {"deadlock": "violated", "NeverPremise": "unchecked"}


def test_liveness_is_still_decided_after_a_missing_witness():
    r = check(Dial([sometimes("Seven", lambda x: x == 7), leads_to("NineThenZero", lambda x: x == 9, lambda x: True),
                    eventually("Zero", lambda x: x == 0)]))
    assert r.violation.property == "Seven"
    assert statuses(r) == {"deadlock": "holds", "Seven": "violated", "NineThenZero": "vacuous", "Zero": "holds"}


def test_interrupted_and_simulated_searches_leave_liveness_unchecked():
    class Interrupted(Counter):
        def successors(self, x):
            if x == 7:
                raise KeyboardInterrupt
            yield from super().successors(x)

    props = (always("Small", lambda x: x < 100), leads_to("Never", lambda x: x == 99, lambda x: True),
             sometimes("Two", lambda x: x == 2))
    r = check(Interrupted(20, props=props))
    assert statuses(r) == {"deadlock": "unchecked", "Small": "unchecked", "Never": "unchecked", "Two": "holds"}
    assert all("interrupted" in p.reason for p in r.properties if p.status == "unchecked")
    sim = check(Dial([always("Small", lambda x: x < 3), leads_to("Never", lambda x: x == 99, lambda x: True),
                      sometimes("Two", lambda x: x == 2)]), simulate=2, depth=10)
    assert statuses(sim) == {"deadlock": "unchecked", "Small": "unchecked", "Never": "unchecked", "Two": "holds"}
    assert check(Dial([]), deadlock=False).properties == ()


VACUOUS_MODEL = '''
from checker import Model, always, leads_to, leads_to_always, weak


class Dial(Model):
    def __init__(self):
        self.properties = [always("Small", lambda x: x < 3),
                           leads_to("NineThenZero", lambda x: x == 9, lambda x: x == 0),
                           leads_to_always("TwoThenSmall", lambda x: x == 2, lambda x: x < 3)]
        self.fairness = [weak("turn", lambda a: a == "turn")]

    def init_states(self):
        return [0]

    def successors(self, x):
        yield ("turn", (x + 1) % 3)
'''


def test_command_line_json_lists_every_property_verdict_and_a_vacuous_one_exits_0(tmp_path):
    """The formula of a vacuous property is true (TLC would pass it): exit 0, but the summary and --json say so."""
    import json

    from click.testing import CliRunner

    from checker.cli import main

    path = tmp_path / "dial.py"
    path.write_text(VACUOUS_MODEL)
    r = CliRunner().invoke(main, ["check", "--model", f"{path}:Dial", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["status"] == "ok" and "all properties hold" not in doc["verdict"]
    assert doc["properties"] == [
        {"name": "deadlock", "kind": "deadlock", "status": "holds", "reason": None},
        {"name": "Small", "kind": "always", "status": "holds", "reason": None},
        {"name": "NineThenZero", "kind": "leads_to", "status": "vacuous", "reason": "premise never reached"},
        {"name": "TwoThenSmall", "kind": "leads_to_always", "status": "holds", "reason": None},
    ]
    assert doc["counts"] == {"holds": 3, "violated": 0, "vacuous": 1, "unchecked": 0}
    text = CliRunner().invoke(main, ["check", "--model", f"{path}:Dial"])
    assert text.exit_code == 0
    assert "NineThenZero: vacuous (premise never reached)" in text.output
    assert "all properties hold" not in text.output
    bounded = json.loads(CliRunner().invoke(main, ["check", "--model", f"{path}:Dial", "--json",
                                                   "--max-states", "2"]).output)
    assert bounded["status"] == "bounded"
    assert {p["status"] for p in bounded["properties"]} == {"unchecked"}


def test_a_dead_end_at_the_depth_bound_is_still_a_deadlock_and_a_fair_stutter():
    """Regression: a state at the depth bound whose successors were all found (here: it has none) was left
    unexpanded and the search called complete, so its deadlock went unreported and liveness, which looks only at
    expanded states, said "holds" for a property that stuttering there violates."""
    r = check(Counter(2), max_depth=3)
    assert r.violation.kind == "deadlock" and r.violation.trace[-1].state == 2
    r = check(Counter(2, props=(eventually("Reaches5", lambda x: x == 5),)), max_depth=3, deadlock=False)
    assert r.violation.property == "Reaches5" and r.violation.loop_start == 2
    assert check(Counter(2, loop=True), max_depth=3).status == "ok"
