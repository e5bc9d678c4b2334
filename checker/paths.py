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
    """The steps along `path` (indices into `g`, starting at an initial state), rebuilt by re-executing the model:
    the states themselves need not be stored (fingerprint storage keeps only their fingerprints).

    Where several actions lead to the next state, the first is shown, unless `prefer[k]` (a fairness mask for
    step k+1, read with `mask_of`) asks for an action of a given fairness class: a lasso's loop names the action
    that its fairness argument takes. `beyond`, a state that was not stored (it is outside the state
    constraint), is appended as a last step.
    """
    canonical = model.canonical if overrides(model, "canonical") else (lambda s: s)
    state = next((s for s in model.init_states() if g.matches(path[0], canonical(s))), None)
    if state is None:
        raise AssertionError("no initial state of the model is the path's first: is init_states() deterministic?")
    steps = [Step(None, state)]
    # Each wanted step: a stored index (compared by key or fingerprint, `StateGraph.matches`) or the state beyond.
    wanted_states: list[Any] = list(path[1:]) + ([] if beyond is None else [_Beyond(beyond)])
    for k, wanted in enumerate(wanted_states):
        want = prefer[k] if k < len(prefer) else 0
        if isinstance(wanted, _Beyond):
            matches = [(a, t) for a, t in model.successors(state) if canonical(t) == wanted.state]
        else:
            matches = [(a, t) for a, t in model.successors(state) if g.matches(wanted, canonical(t))]
        if not matches:
            raise AssertionError(f"no step of the model leads to step {k + 1} of the path: is successors() pure?")
        if want and mask_of is not None:
            matches = [m for m in matches if mask_of(m[0]) & want] or matches
        action, state = matches[0]
        steps.append(Step(action, state))
    return tuple(steps)



class _Beyond:
    """A last state that was not stored (outside the state constraint): compared by equality."""

    def __init__(self, state: Any) -> None:
        self.state = state
