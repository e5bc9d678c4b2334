"""The public modelling API: a transition system, its properties and its fairness.

In the spirit of Stateright's `Model` (init states, actions, next state, properties) and TLA+'s
Init / Next / Invariant / Property / Constraint / Symmetry / Fairness.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Literal

import attrs

PropertyKind = Literal["always", "sometimes", "eventually", "leads_to", "eventually_always", "leads_to_always"]
#: The liveness kinds, and among them those with a premise (whose vacuity is recorded).
LIVENESS_KINDS = ("eventually", "leads_to", "eventually_always", "leads_to_always")
PREMISE_KINDS = ("leads_to", "leads_to_always")
Predicate = Callable[[Any], bool]


@attrs.frozen
class Property:
    """A named property. Build one with `always`, `sometimes`, `eventually`, `leads_to`, `eventually_always` or
    `leads_to_always`."""

    name: str
    kind: PropertyKind
    pred: Predicate
    #: Only for `leads_to` and `leads_to_always`: the premise `p` of `p ~> q` / `p ~> []q` (`pred` is then `q`).
    premise: Predicate | None = None

    @property
    def is_liveness(self) -> bool:
        return self.kind in LIVENESS_KINDS

    @property
    def has_premise(self) -> bool:
        """Whether the property is a leads-to whose premise may never be reached (then it holds vacuously)."""
        return self.kind in PREMISE_KINDS

    @property
    def negated_premise(self) -> bool:
        """Whether the premise is declared the goal's negation (`negation`): its answer is the goal's, negated."""
        premise, goal = self.premise, self.pred
        return (isinstance(premise, Negation) and premise.pred is goal
                or isinstance(goal, Negation) and premise is not None and goal.pred is premise)


@attrs.frozen
class Fairness:
    """Weak or strong fairness of the disjunction of the actions that `selects` picks (WF_vars / SF_vars)."""

    name: str
    kind: Literal["weak", "strong"]
    selects: Callable[[Any], bool]


def always(name: str, pred: Predicate) -> Property:
    """Invariant: `pred` holds in every reachable state (TLA+ `[]P` for a state predicate)."""
    return Property(name, "always", pred)


def sometimes(name: str, pred: Predicate) -> Property:
    """Some reachable state satisfies `pred`: a non-vacuity witness. It fails when none does."""
    return Property(name, "sometimes", pred)


def eventually(name: str, pred: Predicate) -> Property:
    """`<>pred` on every fair behaviour; behaviours may stutter forever unless fairness forbids it."""
    return Property(name, "eventually", pred)


def leads_to(name: str, p: Predicate, q: Predicate) -> Property:
    """`p ~> q`, that is `[](p => <>q)`, on every fair behaviour. A premise that no reachable state satisfies makes
    the property vacuous (reported as such, never as holding)."""
    return Property(name, "leads_to", q, premise=p)


def eventually_always(name: str, pred: Predicate) -> Property:
    """`<>[]pred` on every fair behaviour: from some point on, `pred` holds forever (Anvil's ESR shape).

    It fails exactly when some fair behaviour visits a state where `pred` is false infinitely often (a fair
    cycle through such a state, or stuttering forever in one), even if `pred` also keeps becoming true.
    """
    return Property(name, "eventually_always", pred)


def leads_to_always(name: str, p: Predicate, q: Predicate) -> Property:
    """`p ~> []q`, that is `[](p => <>[]q)`, on every fair behaviour: after any state satisfying `p`, the
    behaviour reaches a point from which `q` holds forever. A premise that no reachable state satisfies makes the
    property vacuous (reported as such, never as holding)."""
    return Property(name, "leads_to_always", q, premise=p)


@attrs.frozen
class Negation:
    """The predicate `~pred`. As a leads-to's premise whose goal is `pred` (`~Q ~> Q`, `~Q ~> []Q`: "whenever Q
    fails, eventually it holds (for ever)"), or as the goal of one whose premise is `pred`, the checker takes the
    premise's answer from the goal's instead of asking it (`checker.search`): the same answers, one call fewer per
    state. Build one with `negation`."""

    pred: Predicate

    def __call__(self, state: Any) -> bool:
        value = self.pred(state)
        if value is True or value is False:
            return not value
        raise TypeError(f"the predicate negated returned {type(value).__name__} {value!r}, not a bool")


def negation(pred: Predicate) -> Negation:
    """`~pred`, a predicate that the checker knows to be another's negation (`Negation`)."""
    return Negation(pred)


def weak(name: str, selects: Callable[[Any], bool]) -> Fairness:
    """WF: a behaviour may not keep the selected actions enabled forever without taking one."""
    return Fairness(name, "weak", selects)


def strong(name: str, selects: Callable[[Any], bool]) -> Fairness:
    """SF: a behaviour may not enable the selected actions infinitely often without taking one."""
    return Fairness(name, "strong", selects)


class Model:
    """A transition system to check. Subclass it and set `properties` (and `fairness`) in `__init__`.

    States must be hashable and immutable (frozen attrs classes, tuples, frozensets, `immutables.Map`);
    successors should be produced in a deterministic order (iterate over sorted collections, not over sets of
    strings, whose order depends on PYTHONHASHSEED) so that every run gives the same trace.
    """

    properties: Sequence[Property] = ()
    fairness: Sequence[Fairness] = ()

    def init_states(self) -> Iterable[Hashable]:
        """The initial states (TLA+ Init)."""
        raise NotImplementedError

    def successors(self, state: Any) -> Iterable[tuple[Hashable, Any]]:
        """Every `(action, next_state)` pair enabled in `state` (TLA+ Next, with each disjunct labelled)."""
        raise NotImplementedError

    def constraint(self, state: Any) -> bool:
        """State constraint (TLC CONSTRAINT): states for which it is False are neither counted nor explored.

        As in TLC, invariants are still checked in them: they are reachable states of the system.
        """
        return True

    def canonical(self, state: Any) -> Any:
        """The representative of the state's symmetry class (TLC SYMMETRY); identity when there is none."""
        return state

    def reductions(self) -> Sequence[str]:
        """The state-space reductions the model applies, named for the verdict ("node symmetry", "ample sets",
        ...). By default "symmetry" when the model overrides ``canonical``, nothing otherwise."""
        return ("symmetry",) if overrides(self, "canonical") else ()

    def symmetric(self, prop: Property) -> bool:
        """Whether the model vouches that ``prop`` cannot tell the members of a symmetry class apart (a liveness
        property under symmetry reduction is checked soundly only then; ``check`` warns about the others)."""
        return False

    def hidden_fairness(self, state: Any) -> Iterable[str]:
        """Names of the fairness classes that are enabled in ``state`` by steps ``successors`` left out.

        Fairness speaks of the full Next relation: WF(A) forbids a behaviour in which A stays enabled forever and
        is never taken. A model whose ``successors`` is reduced (a partial-order reduction that returns an ample
        subset of the enabled steps) hides the other steps, and a class enabled all along a cycle of the full
        system would look disabled at the reduced states, making an unfair cycle look fair (a spurious liveness
        counterexample). Such a model reports here the classes its reduction hid; the checker counts them as
        enabled. The default, for models that return every enabled step, is none.

        It must be a function of the state alone: one worker with exact storage asks it after the search, during
        the liveness check, and only of the states where the classes shown leave a cycle's fairness open (in any
        order, of a state rebuilt from storage); worker processes and checkpointed searches ask it of every
        expanded state, right after its ``successors``.
        """
        return ()

    def describe(self, action: Any) -> str:
        """One line describing an action, for traces."""
        return str(action)

    def actor(self, action: Any) -> str | None:
        """Who performs the action (a component, a process), for traces and sequence diagrams."""
        actor = getattr(action, "actor", None)
        return actor if isinstance(actor, str) else None

    def display(self, state: Any) -> Mapping[str, Any] | None:
        """An optional human view of a state (address -> JSON-able fields) that trace tools diff."""
        return None


def overrides(model: Model, name: str) -> bool:
    """Whether the model defines its own version of an optional method."""
    return getattr(type(model), name, None) is not getattr(Model, name)
