"""``kubespec graph TARGET -o OUT.svg``: draw a model's state graph, capped or around a trace (docs/traces.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from checker.cli import loader_options, reports_input_errors
from checker.errors import InputError
from checker.itf import read_trace
from checker.loading import Loaded, load_identity, load_target
from diagrams.output import write
from diagrams.stategraph import DEFAULT_MAX_STATES, around_trace, explore, state_graph_picture
from traces.replay import follow


def _load(target: str | None, model_ref: str | None, extra: dict[str, Any], trace_file: Path | None) -> Loaded:
    if target is None and model_ref is None:
        if trace_file is None:
            raise click.UsageError("give a TARGET (scenario or FILE.py:NAME), --model, or --around-trace FILE")
        source = read_trace(trace_file).get("#meta", {}).get("source")
        if not isinstance(source, dict):
            raise InputError(f"{trace_file}: the trace does not say which model made it; give the TARGET")
        return load_identity(source)
    return load_target(target, model_ref, extra)


@click.command(name="graph")
@click.argument("target", required=False)
@click.option("--model", "model_ref", metavar="FILE.py:NAME", help="Draw a Python model (or module:NAME).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="OUT.svg|png|dot",
    help="The picture to write; its suffix says the format.",
)
@click.option(
    "--max-states",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_STATES,
    show_default=True,
    help="Draw at most N states (breadth-first); the cut is stated in the picture and here.",
)
@click.option(
    "--around-trace",
    "trace_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Draw the trace's states and their neighbours instead of the graph from the initial states.",
)
@click.option(
    "--radius",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="With --around-trace: how many steps away from the trace to draw.",
)
@loader_options
@reports_input_errors
def graph(
    target: str | None,
    model_ref: str | None,
    output: Path,
    max_states: int,
    trace_file: Path | None,
    radius: int,
    **extra: Any,
) -> None:
    """Draw the state graph of TARGET (a scenario or FILE.py:NAME): states, action edges, initial and violating
    states marked. Big graphs are cut at --max-states, never silently; --around-trace draws a trace's neighbourhood."""
    loaded = _load(target, model_ref, extra, trace_file)
    title = loaded.summary or "state graph"
    if trace_file is not None:
        document = read_trace(trace_file)
        states, _ = follow(loaded.model, document)
        lasso = document.get("loop") is not None
        explored = around_trace(loaded.model, states, max_states=max_states, radius=radius, violating_end=not lasso)
        title = f"{title}: around {trace_file.name}"
    else:
        explored = explore(loaded.model, max_states=max_states)
    write(state_graph_picture(loaded.model, explored, title), output)
    click.echo(f"wrote {output}: {len(explored.states)} states, {len(explored.edges)} edges")
    if explored.note:
        click.echo(f"note: {explored.note}")
