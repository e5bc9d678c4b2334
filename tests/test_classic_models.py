"""The classic TLA+ models of checker/examples against TLC's figures for the same constants.

Figures come from tlaplus/Examples (commit 32a32c7): each specification's manifest.json records TLC's
distinctStates, totalStates (generated) and stateDepth for the model's .cfg. Where TLC's figure needs a
derivation (Die Hard, EWD840's generated count), the test derives it independently of the checker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from checker import Model, Violation, check
from checker.examples.diehard import DieHard, Jugs
from checker.examples.ewd840 import EWD840, EState, terminated, termination_detected
from checker.examples.peterson import Peterson
from checker.examples.semaphore import Semaphore
from checker.examples.tcommit import TCommit
from checker.examples.twophase import TwoPhase

Pred = Callable[[Any], bool]
Fair = tuple[str, Callable[[Any], bool]]  # ("weak" | "strong", selects(action))


def assert_behaviour(model: Model, violation: Violation) -> None:
    """The trace starts in an initial state and every step is one of the model's transitions."""
    trace = violation.trace
    assert trace[0].action is None
    assert trace[0].state in set(model.init_states())
    for prev, step in zip(trace, trace[1:], strict=False):
        assert (step.action, step.state) in set(model.successors(prev.state)), (prev, step)


def assert_fair_lasso(model: Model, violation: Violation, p: Pred, q: Pred, fairness: Sequence[Fair]) -> None:
    """A counterexample to p ~> q: a valid lasso with a p-state after which q never holds, and a fair loop."""
    assert_behaviour(model, violation)
    trace, k = violation.trace, violation.loop_start
    assert k is not None and 0 <= k < len(trace)
    if k < len(trace) - 1:
        assert trace[-1].state == trace[k].state, "the loop must close on trace[loop_start]"
        loop_states = [step.state for step in trace[k:-1]]
    else:
        loop_states = [trace[k].state]  # stutters forever
    assert any(p(step.state) and not any(q(s.state) for s in trace[i:]) for i, step in enumerate(trace))
    # A step s -> t takes a fairness class when any of its actions leads from s to t (TLA+ actions are relations
    # on pairs of states), whichever action the trace prints.
    loop_pairs = {(prev.state, step.state) for prev, step in zip(trace[k:], trace[k + 1 :], strict=False)}
    for kind, selects in fairness:
        taken = any(selects(a) and t != s for s, t in loop_pairs for a, u in model.successors(s) if u == t)
        enabled = [any(selects(a) and t != s for a, t in model.successors(s)) for s in loop_states]
        if kind == "weak":
            assert taken or not all(enabled), "the loop violates a weak fairness condition"
        else:
            assert taken or not any(enabled), "the loop violates a strong fairness condition"


# Die Hard: DieHard.tla / DieHard.cfg (INVARIANTS TypeOK NotSolved). The manifest records only "safety failure".


def test_diehard_shortest_solution_is_six_steps() -> None:
    model = DieHard()
    result = check(model)
    assert result.status == "violation"
    violation = result.violation
    assert violation is not None and (violation.property, violation.kind) == ("NotSolved", "always")
    assert len(violation.trace) - 1 == 6  # the 6-step solution of the TLA+ video course, lecture 4
    assert violation.trace[-1].state.big == 4
    assert all(step.state.big != 4 for step in violation.trace[:-1])
    assert_behaviour(model, violation)


def test_diehard_reachable_states() -> None:
    """TLC with TypeOK alone explores every pair in which one jug is empty or full: 16 states."""
    model = DieHard()
    model.properties = model.properties[:1]  # TypeOK
    result = check(model)
    expected = {Jugs(b, s) for b in range(6) for s in range(4) if b in (0, 5) or s in (0, 3)}
    assert len(expected) == 16
    assert result.ok and result.stats.distinct_states == len(expected)


# TCommit.tla / TCommit.cfg: RM = {r1, r2, r3}, CHECK_DEADLOCK FALSE. TLC: 34 distinct, 94 generated, depth 7.


def test_tcommit_matches_tlc() -> None:
    result = check(TCommit(3), deadlock=False)
    assert result.ok
    assert result.stats.distinct_states == 34
    assert result.stats.depth == 7


def test_tcommit_deadlocks_when_checked() -> None:
    """TCommit.cfg turns deadlock checking off because every RM decided is a state without successors."""
    model = TCommit(3)
    result = check(model)
    assert result.violation is not None and result.violation.kind == "deadlock"
    assert_behaviour(model, result.violation)
    final = result.violation.trace[-1].state
    assert list(model.successors(final)) == []
    assert set(final.rm_state) in ({"committed"}, {"aborted"})


# TwoPhase.tla / TwoPhase.cfg: RM = {r1, r2, r3}, deadlock checked. TLC: 288 distinct, 1146 generated, depth 11.


def test_twophase_matches_tlc() -> None:
    result = check(TwoPhase(3))
    assert result.ok
    assert result.stats.distinct_states == 288
    assert result.stats.depth == 11


def test_twophase_dfs_explores_the_same_states() -> None:
    result = check(TwoPhase(3), strategy="dfs")
    assert result.ok and result.stats.distinct_states == 288


@pytest.mark.slow
def test_twophase_six_rms_matches_tlc() -> None:
    """TwoPhase.tla's closing comment: checked with TLC for six RMs, 50816 reachable states."""
    result = check(TwoPhase(6))
    assert result.ok and result.stats.distinct_states == 50816


# Peterson.tla / Peterson.cfg (INVARIANTS TypeOK Inv). TLC: 42 distinct, 77 generated, depth 11.


def test_peterson_matches_tlc() -> None:
    result = check(Peterson())
    assert result.ok
    assert result.stats.distinct_states == 42
    assert result.stats.depth == 11


def test_peterson_is_starvation_free_under_weak_fairness() -> None:
    result = check(Peterson(fair=True))
    assert result.ok, result.violation
    assert result.stats.distinct_states == 42


# EWD840.tla / EWD840.cfg: N = 3, CHECK_DEADLOCK FALSE. TLC: 302 distinct, 2001 generated, depth 10.


def test_ewd840_matches_tlc_and_liveness_holds_under_wf_system() -> None:
    result = check(EWD840(3), deadlock=False)
    assert result.ok, result.violation
    assert result.stats.distinct_states == 302


def ewd840_disjunct_duplicates(reachable: set[EState]) -> int:
    """TLC generates a successor once per *true disjunct* of a guard such as `~active[i] \\/ color[i] = "black" \\/
    tcolor = "black"`; the model yields it once. This counts the extra copies TLC generates."""
    duplicates = 0
    for s in reachable:
        if s.tpos == 0:
            true_disjuncts = (s.tcolor == "black") + (s.color[0] == "black")
        else:
            true_disjuncts = (not s.active[s.tpos]) + (s.color[s.tpos] == "black") + (s.tcolor == "black")
        duplicates += max(true_disjuncts - 1, 0)
    return duplicates


@pytest.mark.parametrize(
    ("model", "tlc_generated"),
    [(TCommit(3), 94), (TwoPhase(3), 1146), (Peterson(), 77), (EWD840(3), 2001)],
    ids=["TCommit", "TwoPhase", "Peterson", "EWD840"],
)
def test_models_generate_what_tlc_generates(model: Model, tlc_generated: int) -> None:
    """The transcriptions themselves, without the checker: TLC's "states generated" counts the initial states
    and every successor of every reachable state (EWD840 also its duplicate disjuncts, 184 of them)."""
    reachable = _reachable(model)
    generated = len(list(model.init_states())) + sum(len(list(model.successors(s))) for s in reachable)
    if isinstance(model, EWD840):
        generated += ewd840_disjunct_duplicates(reachable)
    assert generated == tlc_generated


@pytest.mark.parametrize(
    ("model", "tlc_generated"),
    [(TCommit(3), 94), (TwoPhase(3), 1146), (Peterson(), 77), (EWD840(3), 2001)],
    ids=["TCommit", "TwoPhase", "Peterson", "EWD840"],
)
def test_checker_generated_count_is_tlcs(model: Model, tlc_generated: int) -> None:
    """Stats.generated counts the initial states and every successor, as TLC's "states generated" does."""
    result = check(model, deadlock=isinstance(model, (TwoPhase, Peterson)))
    extra = ewd840_disjunct_duplicates(_reachable(model)) if isinstance(model, EWD840) else 0
    assert result.stats.generated + extra == tlc_generated


def test_ewd840_liveness_fails_without_fairness() -> None:
    model = EWD840(3, fair=False)
    result = check(model, deadlock=False)
    violation = result.violation
    assert violation is not None and (violation.property, violation.kind) == ("Liveness", "leads_to")
    assert_fair_lasso(model, violation, terminated, termination_detected, ())


def test_ewd840_liveness_counterexample_without_fairness_is_fair_for_nothing_but_stuttering() -> None:
    """Without WF(System) the only way to miss detection is to stop passing the token: the loop takes no
    System step although System is enabled (it would be unfair under WF(System))."""
    model = EWD840(3, fair=False)
    violation = check(model, deadlock=False).violation
    assert violation is not None
    with pytest.raises(AssertionError, match="weak fairness"):
        assert_fair_lasso(
            model,
            violation,
            terminated,
            termination_detected,
            [("weak", lambda a: a[0] in ("InitiateProbe", "PassToken"))],
        )


# A semaphore mutex: liveness needs strong fairness (reachable states derived in semaphore.py's docstring).


def test_semaphore_states() -> None:
    pcs = ("ncs", "wait", "cs")
    expected = [(a, b) for a in pcs for b in pcs if (a, b) != ("cs", "cs")]
    result = check(Semaphore(2, "strong"))
    assert result.ok and result.stats.distinct_states == len(expected) == 8


def test_semaphore_starves_under_weak_fairness() -> None:
    model = Semaphore(2, "weak")
    violation = check(model).violation
    assert violation is not None and violation.kind == "leads_to"
    p = int(violation.property[len("NoStarvation(") : -1])
    assert_fair_lasso(
        model,
        violation,
        lambda s: s.pc[p] == "wait",
        lambda s: s.pc[p] == "cs",
        [("weak", lambda a, i=i: a[1] == str(i)) for i in range(2)],
    )


def test_semaphore_starves_without_fairness() -> None:
    assert check(Semaphore(2, "none")).violation is not None


def _reachable(model: Model) -> set[Any]:
    """Independent reachability, so that tests can derive figures without the checker."""
    seen = set(model.init_states())
    frontier = list(seen)
    while frontier:
        state = frontier.pop()
        for _, nxt in model.successors(state):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen
