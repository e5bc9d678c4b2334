"""Turning paths of state indices into traces of (action, state) steps.

Actions are not stored during the search (that would cost memory on every edge); a trace re-executes the
model's own `successors` along the path, as TLC does. Under symmetry the stored states are representatives, so
the trace follows the real successors whose representative matches: every step of the printed trace is a real
step of the model (Stateright's approach).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checker.graph import StateGraph
from checker.model import Model, overrides
from checker.result import Step


def trace_of(model: Model, g: StateGraph, path: Sequence[int]) -> tuple[Step, ...]:
    """The steps along `path` (indices into `g`, starting at an initial state)."""
    canonical = model.canonical if overrides(model, "canonical") else (lambda s: s)
    first = g.states[path[0]]
    state = next((s for s in model.init_states() if canonical(s) == first), first)
    steps = [Step(None, state)]
    for target in path[1:]:
        wanted = g.states[target]
        for action, t in model.successors(state):
            if canonical(t) == wanted:
                state = t
                steps.append(Step(action, t))
                break
        else:
            raise AssertionError(f"no step of the model leads to stored state #{target}: is successors() pure?")
    return tuple(steps)


def describe_state_count(n: int) -> str:
    return f"{n:,} state{'s' if n != 1 else ''}"


def state_of(steps: Sequence[Step]) -> Any:
    return steps[-1].state
