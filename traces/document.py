"""A trace file read for people: its steps, with action, actor, description, view and raw state.

Reads both kubespec's traces and plain ITF traces written by other tools (Apalache, Quint): what kubespec's
metadata would say is then simply absent. The file format itself is checker/itf.py and docs/traces.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs

from checker.itf import FORMAT, read_trace
from traces.values import format_value

JSON = Any


@attrs.frozen
class Elapsed:
    """Model time since the initial state, as a trace file says it (``#meta.elapsed``: ``{"ms": N, "plus": {name:
    count}}``): ``ms`` measured, plus periods the model does not measure (a resync period), by name."""

    ms: int
    plus: tuple[tuple[str, int], ...] = ()

    def __str__(self) -> str:
        """``40 s``, ``1.005 s``, ``340 s + 1 resync period``."""
        seconds = f"{self.ms // 1000:,}" if self.ms % 1000 == 0 else f"{self.ms / 1000:,.3f}".rstrip("0")
        text = f"{seconds} s"
        for name, count in self.plus:
            text += f" + {count} {name}{'' if count == 1 else 's'}"
        return text


def _elapsed(value: JSON) -> Elapsed | None:
    """``#meta.elapsed`` as written by checker/itf.py; None when absent or not of that shape (a hand-edited file)."""
    if not isinstance(value, dict):
        return None
    ms = value.get("ms")
    if not isinstance(ms, int) or isinstance(ms, bool) or not 0 <= ms < 10**15:
        return None
    plus = value.get("plus", {})
    if not isinstance(plus, dict):
        return None
    periods = tuple((str(name), count) for name, count in plus.items()
                    if isinstance(count, int) and not isinstance(count, bool) and 0 < count < 10**9)
    return Elapsed(ms, periods)


@attrs.frozen
class TraceStep:
    """One state of a trace and the action that led to it (``action`` is None for the initial state)."""

    index: int
    action: JSON
    actor: str | None
    description: str
    view: Mapping[str, JSON] | None
    state: Mapping[str, JSON]
    why: tuple[str, ...] = ()
    """What the actor read, from where, and what its requests answered (``#meta.why``; docs/traces.md)."""
    explanation: str | None = None
    """At the violating step (or in a lasso's loop): the property's own explanation of what breaks it."""
    tables: tuple[Mapping[str, JSON], ...] = ()
    """The state as kubectl-like tables (``#meta.tables``: ``{"title", "columns", "rows"}`` each)."""
    kind: str | None = None
    """The step's kind as the model declares it (``#meta.kind``: "delivery", "reconcile", ...), or None."""
    elapsed: Elapsed | None = None
    """Model time since the initial state (``#meta.elapsed``), or None when the model has no clock."""

    @property
    def shown(self) -> Mapping[str, JSON]:
        """What people read and diff: the model's view when it gave one, the raw ITF variables otherwise (without
        Quint's bookkeeping variables ``mbt::...``)."""
        if self.view is not None:
            return self.view
        return {name: value for name, value in self.state.items() if not name.startswith("mbt::")}


@attrs.frozen
class Trace:
    """A counterexample: steps, the property it violates, and where its loop starts (liveness lassos)."""

    steps: tuple[TraceStep, ...]
    variables: tuple[str, ...]
    loop: int | None
    property_name: str | None
    kind: str | None
    description: str | None
    source: Mapping[str, JSON] | None
    options: Mapping[str, JSON]
    stats: Mapping[str, JSON] | None
    is_kubespec: bool
    lasso: Mapping[str, JSON] | None = None
    lanes: tuple[str, ...] = ()
    """The model's components in its order (``#meta.lanes``), for sequence diagrams; empty when not given."""
    """For a lasso: ``{"goal", "states", "fairness": [{"name", "kind", "status", "detail", ...}]}``."""

    @property
    def violating_steps(self) -> tuple[int, ...]:
        """The steps to highlight: the loop of a lasso, else the last state (safety violation or deadlock)."""
        if self.loop is not None:
            return tuple(range(self.loop, len(self.steps)))
        if self.kind in (None, "sometimes") or not self.steps:
            return ()
        return (len(self.steps) - 1,)

    @property
    def lasso_verdict(self) -> str:
        """What a lasso shows: the goal never holds (``eventually``, ``leads_to``) or, for ``eventually_always`` and
        ``leads_to_always``, the goal keeps failing in the loop (it never holds for good)."""
        name = self.property_name
        if self.kind in ("eventually_always", "leads_to_always"):
            return f"{name}'s goal fails again and again in the loop: it never holds for good on this behaviour"
        return f"{name} never holds on this behaviour"

    @property
    def loop_closes(self) -> bool:
        """True when the lasso's last state returns to the loop's first (else it stutters in the last state)."""
        return self.loop is not None and self.loop < len(self.steps) - 1


def _describe_action(action: JSON) -> str:
    if isinstance(action, str):
        return action
    if isinstance(action, dict) and "tag" in action:
        value = action.get("value")
        if isinstance(value, dict) and value and not any(key.startswith("#") for key in value):
            fields = ", ".join(f"{key}={format_value(item)}" for key, item in value.items())
            return f"{action['tag']}({fields})"
        return str(action["tag"])
    return format_value(action)


def _text(value: JSON) -> str | None:
    """A metadata field that should be text: None when absent, else its value as text (a hand-edited file may hold
    any JSON there)."""
    if value is None or isinstance(value, str):
        return value
    return format_value(value)


def _text_lines(value: JSON) -> tuple[str, ...]:
    """A list of lines from a file (a hand-edited file may hold anything there: what is not a list is dropped)."""
    return tuple(_text(line) or "" for line in value) if isinstance(value, list) else ()


def _tables(value: JSON) -> tuple[Mapping[str, JSON], ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for table in value:
        if (isinstance(table, dict) and isinstance(table.get("columns"), list)
                and isinstance(table.get("rows"), list) and all(isinstance(r, list) for r in table["rows"])):
            out.append(table)
    return tuple(out)


def _lasso(value: JSON) -> Mapping[str, JSON] | None:
    if not isinstance(value, dict):
        return None
    fairness = value.get("fairness")
    classes = [c for c in fairness if isinstance(c, dict)] if isinstance(fairness, list) else []
    return {"goal": _text(value.get("goal")), "fairness": classes}


def from_document(document: Mapping[str, JSON]) -> Trace:
    """The trace in a validated ITF document (see checker.itf.validate)."""
    meta = document.get("#meta", {})
    variables = tuple(document["vars"])
    steps = []
    for index, raw in enumerate(document["states"]):
        step_meta = raw.get("#meta", {})
        action = step_meta.get("action")
        # Quint writes the action taken as the variable mbt::actionTaken; use it when there is no kubespec action.
        if action is None and index > 0:
            action = raw.get("mbt::actionTaken")
        description = step_meta.get("description")
        if not isinstance(description, str):
            description = "initial state" if index == 0 else _describe_action(action)
        actor = step_meta.get("actor")
        view = step_meta.get("view")
        steps.append(
            TraceStep(
                index=index,
                action=action,
                actor=actor if isinstance(actor, str) else None,
                description=description,
                view=view if isinstance(view, dict) else None,
                state={name: raw[name] for name in variables},
                why=_text_lines(step_meta.get("why")),
                explanation=_text(step_meta.get("explanation")),
                tables=_tables(step_meta.get("tables")),
                kind=step_meta.get("kind") if isinstance(step_meta.get("kind"), str) else None,
                elapsed=_elapsed(step_meta.get("elapsed")),
            )
        )
    stats = meta.get("stats")
    source = meta.get("source")
    options = meta.get("options")
    return Trace(
        steps=tuple(steps),
        variables=variables,
        loop=document.get("loop"),
        property_name=_text(meta.get("property")),
        kind=_text(meta.get("kind")),
        description=_text(meta.get("description"))
        or (f"ITF trace of {source}" if isinstance(source, str) else None),
        source=source if isinstance(source, dict) else None,
        options=options if isinstance(options, dict) else {},
        stats=stats if isinstance(stats, dict) else None,
        is_kubespec=meta.get("format") == FORMAT,
        lasso=_lasso(meta.get("lasso")),
        lanes=_text_lines(meta.get("lanes"))[:1000],
    )


def load(path: str | os.PathLike[str]) -> Trace:
    """Read, validate and parse a trace file; bad files raise checker.errors.InputError."""
    return from_document(read_trace(path))
