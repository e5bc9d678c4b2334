"""``kubespec trace show|replay``: read and re-check counterexample files (docs/traces.md).

``kubespec trace dot`` and the picture in ``show --html`` are drawn by the ``diagrams`` package, which builds the
whole ``trace`` group with :func:`trace_group` (``diagrams`` imports ``traces``, never the reverse).

A trace file is data: text from it is printed with control characters escaped (checker/text.py), and it never
names code to run (a Python model is taken only from ``--model`` on the command line; checker.loading).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from checker.cli import reports_input_errors
from checker.errors import InputError, ModelError
from checker.files import atomic_write
from checker.text import printable
from traces.document import Trace, load
from traces.html import trace_html
from traces.interrupts import answers_signals
from traces.render import render_trace
from traces.replay import replay_file

F = TypeVar("F", bound=Callable[..., Any])

Picture = Callable[[Trace], str]
"""A trace's sequence diagram as SVG text (raises InputError when it cannot be drawn)."""


def escaped_errors(command: F) -> F:
    """Error messages (which quote the input) printed with their control characters escaped."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except InputError as error:
            raise InputError(printable(error)) from None
        except ModelError as error:
            raise ModelError(printable(error)) from None

    return wrapper  # type: ignore[return-value]


def guarded(command: F) -> F:
    """What every trace and picture command wraps its body in: one error line, escaped text, Ctrl-C/SIGTERM."""
    return reports_input_errors(answers_signals(escaped_errors(command)))


def _show_command(picture: Picture | None) -> click.Command:
    @click.command()
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
    @guarded
    def show(file: Path, full: bool, step: int | None, html_out: Path | None) -> None:
        """Print a trace: per step its number, actor and one line, then only what changed."""
        loaded = load(file)
        if step is not None and not 0 <= step < len(loaded.steps):
            raise click.BadParameter(f"the trace has steps 0..{len(loaded.steps) - 1}", param_hint="--step")
        if html_out is not None:
            svg, note = None, None
            if not loaded.steps:
                pass
            elif picture is None:
                note = "no picture: the diagrams package is not installed"
            else:
                try:
                    svg = picture(loaded)
                except InputError as error:
                    note = f"no picture: {error}"
            page = trace_html(loaded, svg, title=f"kubespec trace {file.name}", picture_note=note)
            atomic_write(html_out, page.encode("utf-8"), what="HTML page")
            click.echo(f"wrote {printable(html_out)} ({len(loaded.steps)} states{', no picture' if note else ''})")
            return
        render_trace(Console(highlight=False), loaded, full=full, step=step)

    return show


@click.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--model",
    "model_ref",
    metavar="FILE.py:NAME",
    default=None,
    help="The Python model that made the trace (a trace file never names code to run); not needed for scenarios.",
)
@guarded
def replay(file: Path, model_ref: str | None) -> None:
    """Re-execute every step with the model's own step function; exit 1 at the first step that does not match.

    Scenario traces rebuild their model from the file; a Python model's trace needs --model FILE.py:NAME."""
    report = replay_file(file, model_ref)
    for line in report.lines:
        click.echo(printable(line))
    if report.ok:
        click.echo(f"replay ok: {printable(file)} matches the model step by step")
    else:
        where = "" if report.failed_step is None else f" at step {report.failed_step}"
        click.echo(f"replay FAILED{where}: {printable(file)} is not what the model does", err=True)
        sys.exit(1)


def trace_group(picture: Picture | None = None, commands: Sequence[click.Command] = ()) -> click.Group:
    """The ``kubespec trace`` group: ``show`` (its HTML page drawn with ``picture``), ``replay``, and ``commands``."""

    @click.group(name="trace")
    def trace() -> None:
        """Show, replay and draw counterexample trace files (ITF JSON, written by `kubespec check --trace FILE`)."""

    trace.add_command(_show_command(picture))
    trace.add_command(replay)
    for command in commands:
        trace.add_command(command)
    return trace


trace = trace_group()
"""The group without pictures (the ``kubespec trace`` entry point is diagrams.cli.trace, which has them)."""
