"""The `kubespec` command line: `kubespec check` here, other subcommands from the `kubespec.commands` entry points.

Exit codes: 0 every property holds (within the stated bounds), 1 a property is violated, 2 bad input or usage,
130 interrupted by Ctrl-C (SIGINT), 143 stopped by SIGTERM (what `timeout` and `kill` send), 129 by SIGHUP (the
terminal closed, the ssh session lost); each prints the partial result first.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import signal
import sys
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console

from checker.checkpoint import read_meta
from checker.entry import STOP_SIGNALS
from checker.errors import InputError, ModelError
from checker.loading import Loaded, load_identity, load_python, load_target, loaders
from checker.parallel import cpu_count
from checker.report import Progress, TracePrinter, coverage_table, print_result, result_json
from checker.result import Result
from checker.runner import check as run_check
from checker.text import printable

DEFAULT_MODEL = "checker.examples.twophase:TwoPhase"
EXIT_OK, EXIT_VIOLATION, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED, EXIT_HUNG_UP = 0, 1, 2, 130, 143, 129


F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> NoReturn:
    """Print one line on stderr and exit 2. The message often quotes the input (a name, a field, a line of a
    dump): its control characters are escaped here, once for every command (``checker.text.printable``), so no
    input can move the cursor or forge a second line."""
    click.echo(f"error: {printable(message)}", err=True)
    sys.exit(EXIT_USAGE)


def reports_input_errors(command: F) -> F:
    """Bad input prints `error: <one line>` and exits 2, with no traceback, also when the command runs alone."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (InputError, ModelError) as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


def loader_options(command: F) -> F:
    """Add the registered loaders' own options (a scenario's variants, say) to a command that takes a target."""
    params = getattr(command, "__click_params__", [])
    for loader in loaders().values():
        params.extend(loader.params)
    command.__click_params__ = params  # type: ignore[attr-defined]
    return command


class KubespecGroup(click.Group):
    """A group whose subcommands come from entry points, imported only when used; bad input exits 2."""

    def _plugins(self) -> dict[str, Any]:
        return {ep.name: ep for ep in entry_points(group="kubespec.commands")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        ep = self._plugins().get(name)
        if ep is None:
            return None
        try:
            loaded = ep.load()
        except ImportError as exc:
            return _unavailable(name, exc)
        return loaded if isinstance(loaded, click.Command) else None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (InputError, ModelError) as exc:
            fail(str(exc))
        except click.UsageError as exc:
            if _NO_ARGS_IS_HELP is not None and isinstance(exc, _NO_ARGS_IS_HELP):
                raise  # a bare group (`kubespec trace`) shows its help
            # A bad option value or a missing argument: one line like every other bad input, not click's usage
            # block (`kubespec CMD --help` has the usage).
            fail(f"{(exc.ctx or ctx).command_path}: {exc.format_message()}")


_NO_ARGS_IS_HELP: type[Exception] | None = getattr(click.exceptions, "NoArgsIsHelpError", None)  # click >= 8.2


def run() -> None:
    """The ``kubespec`` program: ``main``, then an exit that skips freeing every object. A search leaves millions
    of objects (states, memo tables) whose one-by-one teardown at exit took 4 s after a 23 s check; mypy exits
    the same way for the same reason. Output is flushed first, and a Ray cluster joined or started (`--ray`) is left
    (`checker.ray_backend.shutdown`: Ray's `atexit` handler would not run); nothing else is pending at that point."""
    try:
        code = _main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    backend = sys.modules.get("checker.ray_backend")
    if backend is not None:
        backend.shutdown()  # a local Ray cluster started by --ray auto: os._exit would skip Ray's own atexit
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError as exc:  # the output that could not be written was reported (``_main``) or cannot be
            code = code or _unwritable(exc)
    os._exit(code)


def _unwritable(exc: OSError) -> int:
    """An output that cannot be written (``> /dev/full``, a disk full, a closed pipe): one line on stderr and exit
    2, as any other unusable input or place, instead of a traceback. Nothing more can be saved: what could not be
    written is the result."""
    with contextlib.suppress(OSError):  # stderr unwritable too: the exit code says it
        print(f"kubespec: cannot write the output: {exc.strerror or exc}", file=sys.stderr, flush=True)
    return 2


def _main() -> int:
    """Run the command line as click's standalone mode would, except for Ctrl-C outside a search (while Python
    and the subcommands load, or at a prompt): click prints "Aborted!" and exits 1, as if a property were
    violated; here it is one line and 130, the code every interrupted command returns."""
    try:
        rv = main.main(standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return EXIT_INTERRUPTED
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRORS:
            raise
        return _unwritable(exc)
    return rv if type(rv) is int else 0


_OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EPIPE, errno.EIO, errno.EDQUOT, errno.EFBIG})
"""The errors of writing the output (what reading an input raises is reported where the input is read)."""


def _unavailable(name: str, exc: Exception) -> click.Command:
    @click.command(name, help=f"(not available: {exc})", context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1)
    def command(args: tuple[str, ...]) -> None:
        fail(f"the {name} command is not available in this installation: {exc}")

    return command


@click.group(cls=KubespecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kubespec")
def main() -> None:
    """kubespec: an executable, model-checked specification of the Kubernetes control plane."""


def _check_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.argument("target", required=False),
        click.option("--model", "model_ref", metavar="FILE.py:NAME", help="Check a Python model (or module:NAME)."),
        click.option("--strategy", type=click.Choice(["bfs", "dfs"]), default=None, help="Search order (bfs)."),
        click.option("--max-states", type=click.IntRange(min=1), default=None, help="Stop after N distinct states."),
        click.option("--max-depth", type=click.IntRange(min=1), default=None,
                     help="Do not expand states deeper than N (initial states are depth 1)."),
        click.option("--no-deadlock", is_flag=True, help="Do not report states without successors."),
        click.option("--storage", type=click.Choice(["exact", "fingerprint", "hash"]), default=None,
                     help="Store states exactly (default with one worker) or as 64-bit fingerprints (less memory; "
                          "the verdict states the probability of a collision); hash: Python's hash of each state, "
                          "in forked workers (the default of --workers with safety properties alone)."),
        click.option("--bitstate", type=click.IntRange(min=1), default=None, metavar="MBYTES",
                     help="SPIN's bitstate hashing in MBYTES MiB: for spaces too big to store; never says holds, "
                          "estimates its coverage."),
        click.option("--max-memory", type=click.IntRange(min=1), default=None, metavar="MBYTES",
                     help="Stop with the partial result (bounded) once the process uses MBYTES MiB."),
        click.option("--ray", "ray_address", default=None, metavar="auto|ADDRESS",
                     help="Run the workers as Ray actors: auto joins this machine's Ray cluster (or starts one), "
                          "ADDRESS joins that one (needs pip install 'kubespec[ray]')."),
        click.option("--workers", default="1", show_default=True, metavar="N|auto",
                     help="Worker processes for a breadth-first search (auto: the cores available); they store "
                          "Python's hash of each state (--storage exact: each owns a shard of the states, stored "
                          "exactly, as with --checkpoint; with liveness properties: fingerprints)."),
        click.option("--checkpoint", "checkpoint_dir", type=click.Path(file_okay=False), default=None,
                     metavar="DIR", help="Write a checkpoint to DIR now and then and when stopped (resume with "
                                         "--resume DIR)."),
        click.option("--checkpoint-every", type=click.FloatRange(min=0, min_open=True), default=300.0,
                     show_default=True, metavar="SECONDS", help="Seconds between two checkpoints."),
        click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
                     help="Continue the search saved in DIR (same model and options; checkpoints go on there)."),
        click.option("--simulate", type=click.IntRange(min=1), default=None, metavar="RUNS",
                     help="Random simulation: RUNS walks instead of an exhaustive search."),
        click.option("--depth", "sim_depth", type=click.IntRange(min=1), default=100, show_default=True,
                     help="Length of each simulation walk, in states."),
        click.option("--seed", type=int, default=0, show_default=True, help="Simulation seed."),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text."),
        click.option("--trace", "trace_path", type=click.Path(dir_okay=False), default=None,
                     help="Save the counterexample as a trace file (JSON, ITF-compatible)."),
        click.option("--coverage", "show_coverage", is_flag=True, help="Print per-action coverage."),
    ]
    f = loader_options(f)
    for option in reversed(options):
        f = option(f)
    return f


def _trace_printer(loaded: Loaded, options: Mapping[str, Any]) -> TracePrinter | None:
    """Print counterexamples with the renderer registered as the entry point ``kubespec.printers``
    ``counterexample``: a function of (console, the counterexample's ITF document, ``checker.itf.trace_document``).
    The `traces` package registers its own (``kubespec trace show``'s view: only what changed, in the model's own
    view); it is loaded by name, as the subcommands are, so the checker imports nothing above it. Without one
    (or if it cannot be imported), the checker's own report prints the counterexample."""
    ep = next((ep for ep in entry_points(group="kubespec.printers") if ep.name == "counterexample"), None)
    if ep is None:
        return None
    try:
        render = ep.load()
    except ImportError:
        return None
    from checker import itf

    def printer(console: Console, result: Result) -> None:
        render(console, itf.trace_document(result, loaded.model, loaded.identity, options))

    return printer


def _default() -> Loaded:
    return load_python(DEFAULT_MODEL)


@main.command("check")
@_check_options
@reports_input_errors
def check_command(target: str | None, model_ref: str | None, strategy: str | None, max_states: int | None,
                  max_depth: int | None, no_deadlock: bool, storage: str | None, bitstate: int | None,
                  max_memory: int | None, ray_address: str | None, workers: str,
                  checkpoint_dir: str | None,
                  checkpoint_every: float, resume_dir: str | None, simulate: int | None,
                  sim_depth: int, seed: int, as_json: bool, trace_path: str | None, show_coverage: bool,
                  **extra: Any) -> None:
    """Model-check TARGET: a scenario (file or built-in name), or --model FILE.py:NAME.

    With no TARGET, checks the default scenario. Exit 0: every property holds within the stated bounds;
    1: a property is violated; 2: bad input; 130: interrupted (Ctrl-C); 143: stopped by SIGTERM; 129: by SIGHUP.
    """
    if resume_dir is not None:
        if target is not None:
            raise InputError("--resume DIR continues the checkpoint's own model: give no TARGET")
        identity = read_meta(resume_dir).get("identity")
        if not isinstance(identity, dict):
            raise InputError(f"{resume_dir}/checkpoint.json: the checkpoint does not say which model it checks")
        if identity.get("loader") == "python" and model_ref is None:
            # A checkpoint is data and never names code to run: the user gives the Python model again.
            raise InputError(f"{resume_dir}/checkpoint.json: the checkpoint is of a Python model; give it again "
                             f"with --model FILE.py:NAME")
        loaded = load_identity(identity, model_ref)
    else:
        loaded = load_target(target, model_ref, extra, default=_default)
    options: dict[str, Any] = {"strategy": "bfs", "max_states": None, "max_depth": None, "deadlock": True}
    options.update({k: v for k, v in loaded.options.items() if k in options})
    for key, value in (("strategy", strategy), ("max_states", max_states), ("max_depth", max_depth)):
        if value is not None:
            options[key] = value
    if no_deadlock:
        options["deadlock"] = False
    if storage is not None:
        options["storage"] = storage
    engine: dict[str, Any] = {}  # how the search runs, not what it checks: kept out of trace files' options
    if bitstate is not None:
        engine["bitstate"] = bitstate
    if max_memory is not None:
        engine["max_memory"] = max_memory
    if ray_address is not None:
        engine["ray"] = ray_address
    if workers == "auto":
        engine["workers"] = cpu_count()
    elif workers.isdigit() and int(workers) >= 1:
        engine["workers"] = int(workers)
    else:
        raise InputError(f"--workers: expected a positive number or auto, got {workers!r}")
    if resume_dir is not None:
        engine["resume"] = resume_dir
        checkpoint_dir = checkpoint_dir or resume_dir
    if checkpoint_dir is not None:
        engine.update(checkpoint=checkpoint_dir, checkpoint_every=checkpoint_every,
                      checkpoint_meta={"identity": dict(loaded.identity or {}), "summary": loaded.summary})
    if simulate is not None:
        options.update(simulate=simulate, depth=sim_depth, seed=seed)
    console = Console(stderr=False, highlight=False, soft_wrap=True)
    err = Console(stderr=True)
    live = err.is_terminal and not as_json
    if not as_json:
        console.print(f"Checking {loaded.summary}", highlight=False)
    pressed: list[int] = []  # the signals received: SIGINT, SIGTERM and SIGHUP stop the search with its partial result

    def on_signal(signum: int, frame: object) -> None:
        first_signal = not pressed
        pressed.append(signum)  # also asked for by the search, in case Python swallows the exception
        if first_signal:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    try:
        if live:
            with Progress(err) as progress:
                result = run_check(loaded.model, progress=progress, stop=lambda: bool(pressed), **options,
                                   **engine)
        else:
            result = run_check(loaded.model, stop=lambda: bool(pressed), **options, **engine)
    except KeyboardInterrupt:
        click.echo("interrupted before any result could be assembled", err=True)
        sys.exit(_interrupted_code(pressed))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    written, unwritten = None, None
    if trace_path and result.violation is not None:
        from checker import itf

        try:
            itf.write_trace(trace_path, itf.trace_document(result, loaded.model, loaded.identity, options))
            written = trace_path
        except InputError as exc:  # the verdict is printed first, then this error (exit 2)
            unwritten = str(exc)
    if as_json:
        doc = result_json(result, loaded.model, loaded.identity)
        doc["summary"] = loaded.summary
        doc["trace_file"] = written
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_result(console, result, loaded.model, loaded.summary, written,
                     _trace_printer(loaded, options))
        if show_coverage:
            console.print(coverage_table(result))
    if unwritten is not None:
        fail(unwritten)
    if result.status == "interrupted":
        sys.exit(_interrupted_code(pressed))
    sys.exit(EXIT_OK if result.ok else EXIT_VIOLATION)


def _interrupted_code(signals: list[int]) -> int:
    """130 after Ctrl-C (SIGINT), 143 after SIGTERM, 129 after SIGHUP: 128 + the first signal's number, as shells
    report it."""
    return 128 + signals[0] if signals else EXIT_INTERRUPTED
