"""Replay a trace file: re-execute each recorded action with the model's own step function.

The model is rebuilt from the trace's ``#meta.source`` when that names a scenario (checker.loading.load_identity),
a Python model only from ``--model`` on the command line: a trace file never makes kubespec run code. Step 0 must
be one of the model's initial states; each later step's action must be among the model's successors of the
previous state, and lead to the recorded state (compared in their ITF encodings, so a file edited by hand is caught
at its first wrong step). The recorded actor, description and view must be the model's too. Finally the violation
must recur: the invariant is false in the last state, the last state has no successor (deadlock), or the lasso is a
fair behaviour on which the liveness property fails. Symmetry: a recorded state may be the model's representative
(``canonical``) of the computed one, as the checker records it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs

from checker.errors import InputError
from checker.itf import encode_action, encode_state, plain, read_trace
from checker.loading import Loaded, load_identity, load_python
from traces.diff import diff_states
from traces.values import format_value

JSON = Any
_SHOWN_ALTERNATIVES = 8
_SHOWN_CHANGES = 6


@attrs.frozen
class ReplayReport:
    """The outcome: ``ok`` when every step matches and the violation recurs; else the first wrong step."""

    ok: bool
    lines: tuple[str, ...]
    failed_step: int | None = None


class _Mismatch(Exception):
    def __init__(self, step: int | None, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.step = step
        self.details = tuple(details)


def _recorded_state(raw: Mapping[str, JSON]) -> dict[str, JSON]:
    return {key: value for key, value in raw.items() if key != "#meta"}


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def _match(model: Any, candidates: Iterable[Any], recorded: Mapping[str, JSON]) -> tuple[int, Any] | None:
    """The position of the candidate whose encoding (or its canonical representative's) is ``recorded``, and it."""
    canonical = getattr(model, "canonical", lambda state: state)
    for position, candidate in enumerate(candidates):
        if encode_state(candidate) == recorded:
            return position, candidate
        representative = canonical(candidate)
        if representative is not candidate and encode_state(representative) == recorded:
            return position, representative
    return None


def _state_diff(expected: Mapping[str, JSON], recorded: Mapping[str, JSON]) -> list[str]:
    changes = diff_states(expected, recorded)
    lines = [f"  {change}" for change in changes[:_SHOWN_CHANGES]]
    if len(changes) > _SHOWN_CHANGES:
        lines.append(f"  ... and {len(changes) - _SHOWN_CHANGES} more difference(s)")
    return ["the file's state differs from the model's (model -> file):", *lines]


def _check_meta(model: Any, index: int, meta: Mapping[str, JSON], action: Any, state: Any) -> None:
    """The recorded actor, description and view must be what the model says about this step."""
    display = getattr(model, "display", None)
    view = display(state) if display is not None else None
    expected_view = None if view is None else plain(view)
    if "view" in meta and meta["view"] != expected_view:
        details = _state_diff(expected_view or {}, meta["view"] or {}) if expected_view or meta["view"] else []
        raise _Mismatch(index, f"step {index}: the recorded view is not the model's view of the state", details)
    if action is None:
        return
    actor_of = getattr(model, "actor", None)
    actor = actor_of(action) if actor_of is not None else getattr(action, "actor", None)
    if "actor" in meta and meta["actor"] != actor:
        raise _Mismatch(index, f"step {index}: the recorded actor {meta['actor']!r} is not the model's {actor!r}")
    describe = getattr(model, "describe", str)
    description = _one_line(describe(action))
    if "description" in meta and meta["description"] != description:
        raise _Mismatch(
            index, f"step {index}: the recorded description {meta['description']!r} is not the model's {description!r}"
        )


def _replay_steps(model: Any, states: Sequence[Mapping[str, JSON]]) -> tuple[list[Any], list[Any], list[str]]:
    """The model's states and actions along the recorded steps, and one line per matched step."""
    initial = list(model.init_states())
    first = _recorded_state(states[0])
    found = _match(model, initial, first)
    if found is None:
        details = _state_diff(encode_state(initial[0]), first) if len(initial) == 1 else []
        raise _Mismatch(0, f"step 0: the state is not one of the model's {len(initial)} initial state(s)", details)
    current = found[1]
    _check_meta(model, 0, states[0].get("#meta", {}), None, current)
    matched, actions, lines = [current], [None], ["step 0: an initial state of the model"]
    for index in range(1, len(states)):
        meta = states[index].get("#meta", {})
        recorded_action = meta.get("action")
        recorded = _recorded_state(states[index])
        successors = list(model.successors(current))
        same_action = [(a, s) for a, s in successors if encode_action(a) == recorded_action]
        describe = getattr(model, "describe", str)
        if not same_action:
            enabled = [_one_line(describe(a)) for a, _ in successors[:_SHOWN_ALTERNATIVES]]
            more = f" and {len(successors) - _SHOWN_ALTERNATIVES} more" if len(successors) > _SHOWN_ALTERNATIVES else ""
            raise _Mismatch(
                index,
                f"step {index}: the model cannot take the recorded action {format_value(recorded_action)} "
                f"({meta.get('description', 'no description')}) in the state of step {index - 1}",
                [f"enabled there: {', '.join(enabled) or 'nothing (deadlock)'}{more}"],
            )
        found = _match(model, [s for _, s in same_action], recorded)
        if found is None:
            raise _Mismatch(
                index,
                f"step {index}: the action '{_one_line(describe(same_action[0][0]))}' "
                "leads to another state than the file's",
                _state_diff(encode_state(same_action[0][1]), recorded),
            )
        action, state = same_action[found[0]][0], found[1]
        _check_meta(model, index, meta, action, state)
        matched.append(state)
        actions.append(action)
        lines.append(f"step {index}: {_one_line(getattr(model, 'describe', str)(action))}")
        current = state
    return matched, actions, lines


def _property(model: Any, name: str | None, kind: str) -> Any:
    for prop in getattr(model, "properties", ()):
        if prop.name == name:
            if prop.kind != kind:
                raise _Mismatch(None, f"the model's property {name} is a {prop.kind} property, the file says {kind}")
            return prop
    raise _Mismatch(None, f"the model has no property named {name!r}")


def _changes_state(model: Any, before: Any, after: Any) -> bool:
    canonical: Callable[[Any], Any] = getattr(model, "canonical", lambda state: state)
    return bool(canonical(before) != canonical(after))


def _fairness_violations(model: Any, states: Sequence[Any], actions: Sequence[Any], loop: int) -> list[str]:
    """The fairness constraints that the lasso violates (so it is not a fair behaviour, and no counterexample)."""
    last = len(states) - 1
    loop_states = states[loop:last] if loop < last else [states[last]]
    taken = [actions[i] for i in range(loop + 1, last + 1) if _changes_state(model, states[i - 1], states[i])]
    broken = []
    for fairness in getattr(model, "fairness", ()):
        if any(fairness.selects(action) for action in taken):
            continue
        enabled = [
            any(fairness.selects(a) and _changes_state(model, s, t) for a, t in model.successors(s))
            for s in loop_states
        ]
        if (fairness.kind == "weak" and all(enabled)) or (fairness.kind == "strong" and any(enabled)):
            broken.append(f"{fairness.kind} fairness {fairness.name}: enabled in the loop but never taken")
    return broken


def _check_violation(
    model: Any, meta: Mapping[str, JSON], loop: int | None, states: list[Any], actions: list[Any]
) -> str:
    kind, name, last = meta.get("kind"), meta.get("property"), len(states) - 1
    if kind == "deadlock":
        if any(True for _ in model.successors(states[last])):
            raise _Mismatch(last, f"step {last}: the model has successors here, so it is no deadlock")
        return f"the violation recurs: no action is enabled in step {last} (deadlock)"
    if kind == "always":
        prop = _property(model, name, "always")
        if prop.pred(states[last]):
            raise _Mismatch(last, f"step {last}: invariant {name} holds here, so the trace violates nothing")
        return f"the violation recurs: invariant {name} is false in step {last}"
    if kind in ("eventually_always", "leads_to_always"):
        prop = _property(model, name, kind)
        if loop is None:
            raise _Mismatch(None, f"a {kind} counterexample needs a loop (the file has no 'loop')")
        if loop < last and _changes_state(model, states[loop], states[last]):
            raise _Mismatch(last, f"step {last}: the loop does not close: the state is not step {loop}'s")
        failing = [i for i in range(loop, last + 1) if not prop.pred(states[i])]
        if not failing:
            raise _Mismatch(loop, f"step {loop}: {name}'s goal holds all along the loop, so it holds for good")
        if kind == "eventually_always":
            what = f"the goal of {name} fails in step {failing[0]} of the loop, again and again"
        else:
            start = next((i for i, s in enumerate(states) if prop.premise(s)), None)
            if start is None:
                raise _Mismatch(None, f"no step satisfies {name}'s premise")
            what = (f"{name}'s premise holds in step {start} and its goal fails in step {failing[0]} of the loop, "
                    "again and again")
        unfair = _fairness_violations(model, states, actions, loop)
        if unfair:
            raise _Mismatch(loop, f"step {loop}: the loop is not a fair behaviour, so it is no counterexample", unfair)
        return f"the violation recurs: {what} (loop from step {loop})"
    if kind in ("eventually", "leads_to"):
        prop = _property(model, name, kind)
        if loop is None:
            raise _Mismatch(None, f"a {kind} counterexample needs a loop (the file has no 'loop')")
        if loop < last and _changes_state(model, states[loop], states[last]):
            raise _Mismatch(last, f"step {last}: the loop does not close: the state is not step {loop}'s")
        if kind == "eventually":
            holds = [i for i, state in enumerate(states) if prop.pred(state)]
            if holds:
                raise _Mismatch(holds[0], f"step {holds[0]}: {name}'s goal holds here, so it is eventually reached")
            what = f"the goal of {name} never holds"
        else:
            start = next(
                (
                    i
                    for i, s in enumerate(states)
                    if prop.premise(s) and not any(prop.pred(t) for t in states[min(i, loop) :])
                ),
                None,
            )
            if start is None:
                raise _Mismatch(None, f"no step satisfies {name}'s premise without its goal following")
            what = f"{name}'s premise holds in step {start} and its goal never follows"
        unfair = _fairness_violations(model, states, actions, loop)
        if unfair:
            raise _Mismatch(loop, f"step {loop}: the loop is not a fair behaviour, so it is no counterexample", unfair)
        return f"the violation recurs: {what} on this fair lasso (loop from step {loop})"
    if kind == "sometimes":
        return f"nothing to replay: {name} is a 'sometimes' property that no state satisfies; re-run the check"
    raise _Mismatch(None, f"unknown violation kind {kind!r}")


def follow(model: Any, document: Mapping[str, JSON]) -> tuple[list[Any], list[Any]]:
    """The model's own states and actions along a trace (for pictures around it); InputError if it does not replay."""
    if not document["states"]:
        return [], []
    try:
        states, actions, _ = _replay_steps(model, document["states"])
    except _Mismatch as mismatch:
        raise InputError(f"the trace does not replay on this model: {mismatch}") from None
    return states, actions


def replay(model: Any, document: Mapping[str, JSON]) -> ReplayReport:
    """Replay a validated trace ``document`` against ``model``."""
    meta = document.get("#meta", {})
    states = document["states"]
    try:
        if not states:
            return ReplayReport(True, (_check_violation(model, meta, None, [], []),))
        matched, actions, lines = _replay_steps(model, states)
        lines.append(_check_violation(model, meta, document.get("loop"), matched, actions))
    except _Mismatch as mismatch:
        return ReplayReport(False, (str(mismatch), *mismatch.details), mismatch.step)
    return ReplayReport(True, tuple(lines))


def replay_file(path: str | os.PathLike[str], model_ref: str | None = None) -> ReplayReport:
    """Read a trace file, rebuild its model and replay it; bad input raises InputError.

    The model is ``model_ref`` (a Python model the user named with ``--model``) or, without it, the scenario the
    trace's ``#meta.source`` names; a trace file never makes kubespec import code (checker.loading.load_identity).
    """
    document = read_trace(path)
    return replay(model_of_trace(document, path, model_ref).model, document)


def model_of_trace(document: Mapping[str, JSON], path: str | os.PathLike[str], model_ref: str | None) -> Loaded:
    """The model to replay or draw ``document`` with: ``model_ref`` when given, else what ``#meta.source`` names."""
    if model_ref is not None:
        return load_python(model_ref)
    source = document.get("#meta", {}).get("source")
    if not isinstance(source, dict):
        raise InputError(
            f"{os.fspath(path)}: #meta.source: the trace does not say which model made it; give it with --model"
        )
    try:
        return load_identity(source)
    except InputError as error:
        raise InputError(f"{os.fspath(path)}: {error}") from None
