"""Turning paths of state indices into traces of (action, state) steps.

Actions are not stored during the search (that would cost memory on every edge); a trace re-executes the
model's own `successors` along the path, as TLC does. Under symmetry the stored states are representatives, so
the trace follows the real successors whose representative matches: every step of the printed trace is a real
step of the model (Stateright's approach).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

from checker.graph import StateGraph
from checker.model import Model, overrides
from checker.result import Step


def trace_of(model: Model, g: StateGraph, path: Sequence[int], prefer: Sequence[int] = (),
             mask_of: Callable[[Hashable], int] | None = None, beyond: Any = None) -> tuple[Step, ...]:
    """The steps along `path` (indices into `g`, starting at an initial state).

    Where several actions lead to the next state, the first is shown, unless `prefer[k]` (a fairness mask for
    step k+1, read with `mask_of`) asks for an action of a given fairness class: a lasso's loop names the action
    that its fairness argument takes. `beyond`, a state that was not stored (it is outside the state
    constraint), is appended as a last step.
    """
    canonical = model.canonical if overrides(model, "canonical") else (lambda s: s)
    first = g.state(path[0])
    state = next((s for s in model.init_states() if canonical(s) == first), first)
    steps = [Step(None, state)]
    wanted_states = [g.state(i) for i in path[1:]] + ([] if beyond is None else [beyond])
    for k, wanted in enumerate(wanted_states):
        want = prefer[k] if k < len(prefer) else 0
        matches = [(a, t) for a, t in model.successors(state) if canonical(t) == wanted]
        if not matches:
            raise AssertionError(f"no step of the model leads to step {k + 1} of the path: is successors() pure?")
        if want and mask_of is not None:
            matches = [m for m in matches if mask_of(m[0]) & want] or matches
        action, state = matches[0]
        steps.append(Step(action, state))
    return tuple(steps)

