"""``kubespec graph TARGET -o OUT.svg`` and ``kubespec trace dot``: pictures of state graphs and traces
(docs/traces.md).

This module also assembles the whole ``kubespec trace`` group (traces.cli.trace_group) with its pictures: the
``dot`` command, and the sequence diagram in ``trace show --html``. ``diagrams`` imports ``traces``, never the reverse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from checker.cli import loader_options
from checker.errors import InputError
from checker.itf import read_trace
from checker.loading import Loaded, load_target
from checker.text import printable
from diagrams.output import check_picture_size, svg_text, write
from diagrams.progress import Progress
from diagrams.quotient import load_view, quotient, quotient_picture
from diagrams.sequence import MAX_STEPS, PAGE_STEPS, sequence_pages
from diagrams.stategraph import DEFAULT_MAX_STATES, MAX_STATES, around_trace, explore, state_graph_picture
from traces.cli import guarded, trace_group
from traces.document import Trace, load
from traces.replay import follow, model_of_trace


def _load(target: str | None, model_ref: str | None, extra: dict[str, Any], trace_file: Path | None) -> Loaded:
    if target is None and model_ref is None:
        if trace_file is None:
            raise click.UsageError("give a TARGET (scenario or FILE.py:NAME), --model, or --around-trace FILE")
        return model_of_trace(read_trace(trace_file), trace_file, None)
    return load_target(target, model_ref, extra)


@click.command(name="graph")
@click.argument("target", required=False)
@click.option("--model", "model_ref", metavar="FILE.py:NAME", help="Draw a Python model (or module:NAME).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="OUT.svg|png|pdf|dot",
    help="The picture to write; its suffix says the format.",
)
@click.option(
    "--max-states",
    type=click.IntRange(min=1),
    default=None,
    help=f"Draw at most N states (breadth-first; default {DEFAULT_MAX_STATES}, at most {MAX_STATES:,}); with a "
    "view, explore at most N states (default: the scenario's bounds.maxStates, else all); a cut is stated in the "
    "picture and here.",
)
@click.option(
    "--view",
    "view_name",
    default=None,
    metavar="NAME|module:function|FILE.py:function",
    help="Draw the quotient of the whole explored graph by a view (TLA+'s VIEW): one node per class of states "
    "the view maps to the same text. The model's views by name (a scenario's: default, replicasets, nodes, pods; "
    "default when the model has views), or a function state -> str of yours; 'states' draws the states themselves.",
)
@click.option(
    "--around-trace",
    "trace_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Draw the trace's states and their neighbours instead of the graph from the initial states "
    "(a Python model's trace needs --model too).",
)
@click.option(
    "--radius",
    type=click.IntRange(min=0, max=1000),
    default=1,
    show_default=True,
    help="With --around-trace: how many steps away from the trace to draw.",
)
@loader_options
@guarded
def graph(
    target: str | None,
    model_ref: str | None,
    output: Path,
    max_states: int | None,
    view_name: str | None,
    trace_file: Path | None,
    radius: int,
    **extra: Any,
) -> None:
    """Draw the state graph of TARGET (a scenario or FILE.py:NAME): states, action edges, initial and violating
    states marked. Big graphs are cut at --max-states, never silently; --around-trace draws a trace's neighbourhood.
    Pictures (svg, png, pdf) are laid out by Graphviz, which is given at most a stated number of states."""
    loaded = _load(target, model_ref, extra, trace_file)
    title = loaded.summary or "state graph"
    views: dict[str, Any] = dict(getattr(loaded.model, "views", dict)())
    if view_name is None and trace_file is None and views:
        view_name = next(iter(views))
    if view_name not in (None, "states"):
        if trace_file is not None:
            raise click.UsageError("--view draws the whole graph's quotient; --around-trace draws states: choose one")
        view, name = load_view(loaded.model, view_name)
        if max_states is None:
            bound = loaded.options.get("max_states")  # the scenario's own bound, as `kubespec check` takes it
            max_states = bound if isinstance(bound, int) and bound > 0 else None
        with Progress("exploring") as progress:
            q = quotient(loaded.model, view, name, max_states=max_states,
                         progress=lambda n, *_: progress.tick(n))
            progress.phase(f"drawing {len(q.labels):,} classes")
            picture = quotient_picture(q, title)
            progress.phase(f"writing {output.name}")
            write(picture, output)
        click.echo(f"wrote {printable(output)}: {len(q.labels):,} classes of {q.states:,} states, "
                   f"{sum(sum(c.values()) for c in q.edges.values()):,} steps between classes (view {printable(name)})")
        if q.cut:
            click.echo(f"note: {printable(q.cut)}: the graph is partial")
        return
    if max_states is None:
        max_states = DEFAULT_MAX_STATES
    if max_states > MAX_STATES:
        raise click.BadParameter(f"at most {MAX_STATES:,} states are drawn", param_hint="--max-states")
    check_picture_size(output, max_states, "--max-states")
    with Progress("exploring") as progress:
        if trace_file is not None:
            document = read_trace(trace_file)
            states, _ = follow(loaded.model, document)
            check_picture_size(output, len(set(states)), f"{trace_file}: the trace's states")
            lasso = document.get("loop") is not None
            explored = around_trace(
                loaded.model,
                states,
                max_states=max_states,
                radius=radius,
                violating_end=not lasso,
                on_state=progress.tick,
            )
            title = f"{title}: around {trace_file.name}"
        else:
            explored = explore(loaded.model, max_states=max_states, on_state=progress.tick)
        progress.phase(f"drawing {len(explored.states):,} states")
        picture = state_graph_picture(loaded.model, explored, title)
        progress.phase(f"writing {output.name}")
        write(picture, output)
    click.echo(f"wrote {printable(output)}: {len(explored.states)} states, {len(explored.edges)} edges")
    if explored.note:
        click.echo(f"note: {printable(explored.note)}")


def _sequence_svg(trace: Trace) -> str:
    if len(trace.steps) > MAX_STEPS:
        raise InputError(f"the trace has {len(trace.steps):,} states; a sequence diagram draws at most {MAX_STEPS:,}")
    with Progress("drawing") as progress:
        progress.phase(f"laying out {len(trace.steps):,} states with Graphviz")
        return "\n".join(svg_text(page) for page in sequence_pages(trace))


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="OUT.svg|png|pdf|dot",
    help="The picture to write; its suffix says the format.",
)
@guarded
def dot(file: Path, output: Path) -> None:
    """Draw a trace as a sequence diagram: one lane per component, the violating step highlighted; a trace of more
    than 60 steps is split into pages (OUT.svg, OUT-2.svg, ...), each with every lane.

    At most a stated number of states are drawn (the error says how many); `kubespec trace show` prints any trace."""
    loaded = load(file)
    if not loaded.steps:
        raise InputError(f"{file}: the trace has no states to draw")
    if len(loaded.steps) > MAX_STEPS:
        raise InputError(
            f"{file}: the trace has {len(loaded.steps):,} states; a sequence diagram draws at most {MAX_STEPS:,} "
            "(print it with `kubespec trace show`)"
        )
    with Progress("drawing") as progress:
        progress.phase(f"laying out {len(loaded.steps):,} states")
        pages = sequence_pages(loaded)
        outputs = [output] + [output.with_name(f"{output.stem}-{n}{output.suffix}") for n in range(2, len(pages) + 1)]
        for page, path in zip(pages, outputs, strict=True):
            progress.phase(f"writing {path.name}")
            write(page, path)
    if len(pages) == 1:
        click.echo(f"wrote {printable(output)} ({len(loaded.steps)} states)")
    else:
        click.echo(f"wrote {len(pages)} pages of at most {PAGE_STEPS} steps ({len(loaded.steps)} states): "
                   + ", ".join(printable(path) for path in outputs))


trace = trace_group(picture=_sequence_svg, commands=[dot])
"""The ``kubespec trace`` command group (entry point): show, replay and dot."""
