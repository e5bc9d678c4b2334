"""``kubespec trace show|replay|dot``: read, re-check and draw counterexample files (docs/traces.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from checker.cli import reports_input_errors
from checker.errors import InputError
from diagrams.output import svg_text, write
from diagrams.sequence import sequence_diagram
from traces.document import load
from traces.html import trace_html
from traces.render import render_trace
from traces.replay import replay_file


@click.group(name="trace")
def trace() -> None:
    """Show, replay and draw counterexample trace files (ITF JSON, written by `kubespec check --trace FILE`)."""


@trace.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--full", is_flag=True, help="Print each step's whole state, not only what changed.")
@click.option("--step", "step", type=int, default=None, metavar="N", help="Print only step N.")
@click.option(
    "--html",
    "html_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="OUT.html",
    help="Write one self-contained HTML page (steps, changes, sequence diagram) instead of printing.",
)
@reports_input_errors
def show(file: Path, full: bool, step: int | None, html_out: Path | None) -> None:
    """Print a trace: per step its number, actor and one line, then only what changed."""
    loaded = load(file)
    if step is not None and not 0 <= step < len(loaded.steps):
        raise click.BadParameter(f"the trace has steps 0..{len(loaded.steps) - 1}", param_hint="--step")
    if html_out is not None:
        svg, note = None, None
        if loaded.steps:
            try:
                svg = svg_text(sequence_diagram(loaded))
            except InputError as error:
                note = f"no picture: {error}"
        html_out.write_text(trace_html(loaded, svg, title=f"kubespec trace {file.name}", picture_note=note), "utf-8")
        click.echo(f"wrote {html_out} ({len(loaded.steps)} states{', no picture' if note else ''})")
        return
    render_trace(Console(highlight=False), loaded, full=full, step=step)


@trace.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@reports_input_errors
def replay(file: Path) -> None:
    """Re-execute every step with the model's own step function; exit 1 at the first step that does not match."""
    report = replay_file(file)
    for line in report.lines:
        click.echo(line)
    if report.ok:
        click.echo(f"replay ok: {file} matches the model step by step")
    else:
        where = "" if report.failed_step is None else f" at step {report.failed_step}"
        click.echo(f"replay FAILED{where}: {file} is not what the model does", err=True)
        sys.exit(1)


@trace.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    metavar="OUT.svg|png|dot",
    help="The picture to write; its suffix says the format.",
)
@reports_input_errors
def dot(file: Path, output: Path) -> None:
    """Draw a trace as a sequence diagram: one lane per component, the violating step highlighted."""
    loaded = load(file)
    if not loaded.steps:
        raise InputError(f"{file}: the trace has no states to draw")
    write(sequence_diagram(loaded), output)
    click.echo(f"wrote {output} ({len(loaded.steps)} states)")
