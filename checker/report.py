"""Human-readable and JSON renderings of a `Result`, and the live progress line."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from checker.encoding import fingerprint, to_json
from checker.errors import ModelError
from checker.model import Model
from checker.result import Result, Step


def describe(model: Model, action: Any) -> str:
    try:
        return model.describe(action)
    except Exception as exc:
        raise ModelError(f"describe({action!r}) raised {type(exc).__name__}: {exc}") from exc


def result_json(result: Result, model: Model, identity: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `--json` object: status, property, stats, trace (steps with action and state), loop_start."""
    s = result.stats
    v = result.violation
    trace = []
    why = getattr(model, "why", None)  # optional: what each step's actor read and its requests answered
    for index, step in enumerate(v.trace if v else ()):
        trace.append({
            "why": [] if why is None or index == 0 or v is None else [
                " ".join(str(line).split()) for line in why(v.trace[index - 1].state, step.action, step.state)],
            "action": None if step.action is None else to_json(step.action),
            "description": None if step.action is None else describe(model, step.action),
            "actor": None if step.action is None else model.actor(step.action),
            "state": to_json(step.state),
            "fingerprint": fingerprint(step.state),
        })
    return {
        "status": result.status,
        "property": v.property if v else None,
        "kind": v.kind if v else None,
        "verdict": result.verdict(),
        "stats": {
            "distinct_states": s.distinct_states, "generated": s.generated, "depth": s.depth,
            "seconds": round(s.seconds, 3), "states_per_second": round(s.states_per_second),
            "queue": s.queue,
            "coverage": {k: {"generated": c.generated, "distinct": c.distinct} for k, c in s.coverage.items()},
        },
        "bounds": _bounds(result),
        "cut": result.cut,
        "trace": trace,
        "loop_start": v.loop_start if v else None,
        "unchecked": list(result.unchecked),
        # Each property's own verdict: holds, violated, vacuous (a leads-to whose premise is never reached) or
        # unchecked (with the reason); `counts` sums them. See docs/checker.md, "Property verdicts".
        "properties": [{"name": p.name, "kind": p.kind, "status": p.status, "reason": p.reason}
                       for p in result.properties],
        "counts": result.counts(),
        "warnings": list(result.warnings),
        "model": dict(identity) if identity else None,
    }


def _bounds(result: Result) -> dict[str, Any]:
    b = result.bounds
    return {"strategy": b.strategy, "max_states": b.max_states, "max_depth": b.max_depth, "deadlock": b.deadlock,
            "constraint": b.constraint, "symmetry": b.symmetry, "reductions": list(b.reductions),
            "simulate": b.simulate, "sim_depth": b.sim_depth, "seed": b.seed, "storage": b.storage,
            "workers": b.workers,
            "collision": None if b.collision is None else {"calculated": b.collision[0], "observed": b.collision[1]},
            "description": b.describe()}


def print_trace(console: Console, model: Model, trace: tuple[Step, ...], loop_start: int | None) -> None:
    """Each step: its number, actor and one line, then what changed (the whole initial state first)."""
    previous: Any = None
    for i, step in enumerate(trace):
        view = to_json(step.state)
        marker = "  [magenta]⟲ loop starts here[/]" if loop_start is not None and i == loop_start else ""
        if step.action is None:
            console.print(f"[bold]State {i}[/] (initial){marker}")
            _print_view(console, view, None)
        else:
            actor = model.actor(step.action)
            who = f"[cyan]{actor}[/]: " if actor else ""
            console.print(f"[bold]Step {i}[/] {who}{describe(model, step.action)}{marker}", highlight=False)
            _print_view(console, view, previous)
        previous = view
    if loop_start is not None:
        if loop_start == len(trace) - 1:
            console.print(f"[magenta]… and the behaviour stutters in state {loop_start} forever[/]")
        else:
            console.print(f"[magenta]… back to state {loop_start}: the loop repeats forever[/]")


def _print_view(console: Console, view: Any, previous: Any) -> None:
    if isinstance(view, dict) and isinstance(previous, dict):
        changed = [k for k in view if view.get(k) != previous.get(k)]
        for k in changed:
            console.print(f"    {k} = {_short(view[k])}", highlight=False, markup=False)
        if not changed:
            console.print("    (no change)")
    elif isinstance(view, dict):
        for k, v in view.items():
            console.print(f"    {k} = {_short(v)}", highlight=False, markup=False)
    else:
        console.print(f"    {_short(view)}", highlight=False, markup=False)


def _short(value: Any, limit: int = 160) -> str:
    import json

    text = json.dumps(value, separators=(", ", ": "), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


TracePrinter = Callable[[Console, Result], None]


def print_result(console: Console, result: Result, model: Model, summary: str, trace_path: str | None,
                 trace_printer: TracePrinter | None = None) -> None:
    """The counterexample (through `trace_printer` when given), warnings, and the verdict with its bounds."""
    ok = result.violation is None
    colour = "green" if result.status == "ok" and not result.vacuous else ("yellow" if ok else "red")
    symbol = "✘" if not ok else ("■" if result.status == "interrupted" else "✔")
    v = result.violation
    if v is not None:
        if v.kind == "sometimes":
            console.print(f"[red]✘ {v.property}[/] (sometimes): no reachable state satisfies it")
        else:
            what = {"always": "Invariant", "deadlock": "Deadlock:"}.get(v.kind, "Liveness property")
            name = "" if v.kind == "deadlock" else f" {v.property}"
            loop = ("a lasso: the loop passes through a state where its goal is false, forever"
                    if v.kind.endswith("_always")
                    else "a lasso: the loop never satisfies it")
            # Breadth-first search finds a shortest path of the graph it explores; a reduction that prunes
            # transitions (a partial-order reduction) may make that path longer than the plain relation's.
            shortest = ("a shortest counterexample of the reduced graph" if result.bounds.reductions
                        else "a shortest counterexample")
            shape = (loop if v.loop_start is not None
                     else (shortest if result.bounds.strategy == "bfs" else "a counterexample"))
            steps = len(v.trace) - 1
            tail = "reached" if v.kind == "deadlock" else "is violated"
            console.print(f"[red]✘ {what}{name} {tail}[/]: {shape}, {steps} step{'s' if steps != 1 else ''}")
            if trace_printer is not None:
                trace_printer(console, result)
            else:
                print_trace(console, model, v.trace, v.loop_start)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    for u in result.unchecked:
        console.print(f"[yellow]not checked:[/] {u}")
    for p in result.properties:
        if p.status == "vacuous":
            console.print(f"[yellow]⚠ {p.describe()}[/]: true only because no reachable state satisfies its "
                          "premise; it promises nothing", highlight=False)
        elif p.status == "violated" and (v is None or p.name != v.property):
            console.print(f"[red]also violated:[/] {p.name} ({p.kind}; check it alone for its counterexample)",
                          highlight=False)
    undecided = [p.name for p in result.properties if p.status == "unchecked"]
    if undecided and result.bounds.simulate is None:
        reason = next(p.reason for p in result.properties if p.status == "unchecked")
        console.print(f"[yellow]{reason}:[/] {', '.join(undecided)}", highlight=False)
    console.print(f"[{colour}]{symbol} {result.verdict()}[/]", highlight=False)
    s = result.stats
    console.print(f"  {summary}; {s.seconds:.2f} s, {s.states_per_second:,.0f} distinct states/s", highlight=False)
    if trace_path:
        console.print(f"  trace written to {trace_path}", highlight=False)


def coverage_table(result: Result) -> Table:
    table = Table("action", "generated", "distinct", title="Coverage", title_justify="left")
    for name, c in result.stats.coverage.items():
        table.add_row(name, f"{c.generated:,}", f"{c.distinct:,}")
    return table


class Progress:
    """A live status line on a terminal: states, states/s, depth, queue, memory in use, frontier on disk."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status = console.status("exploring…", spinner="dots")
        self.started = time.perf_counter()

    def __enter__(self) -> Progress:
        self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.status.__exit__(None, None, None)

    def __call__(self, distinct: int, generated: int, depth: int, queue: int, seconds: float) -> None:
        self.status.update(live_line(distinct, generated, depth, queue, seconds))


def live_line(distinct: int, generated: int, depth: int, queue: int, seconds: float) -> str:
    """The live line's text: the search's progress, the memory in use by its processes (workers included), and
    the disk it uses (the frontier spilled, the last checkpoint)."""
    from checker.storage import DISK, resident_tree_bytes

    rate = distinct / seconds if seconds > 0 else 0.0
    on_disk = DISK["bytes"] + DISK["checkpoint"]
    disk = f", disk {on_disk / 2**20:,.0f} MiB" if on_disk else ""
    return (f"{distinct:,} distinct states ({rate:,.0f}/s), {generated:,} generated, depth {depth}, "
            f"queue {queue:,}, {seconds:.0f} s, memory {resident_tree_bytes() / 2**20:,.0f} MiB{disk}")
