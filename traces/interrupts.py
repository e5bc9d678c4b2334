"""Ctrl-C and SIGTERM in the trace and picture commands: stop within a second, say so, exit 130 or 143.

While a command runs, SIGINT and SIGTERM both raise KeyboardInterrupt in the main thread (a Graphviz child is then
killed by ``subprocess.run``, and a half-written output's temporary file removed by ``checker.files``); the command
then prints ``interrupted`` and exits 130 for SIGINT or 143 for SIGTERM (128 + the signal's number, as shells report
it, and as ``kubespec check`` does). Nothing is written after an interrupt: these commands have no partial result
worth a file.
"""

from __future__ import annotations

import functools
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143


def answers_signals(command: F) -> F:
    """Run ``command`` with SIGINT and SIGTERM turned into a clean stop (see the module docstring)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        received: list[int] = []

        def on_signal(signum: int, frame: FrameType | None) -> None:
            first = not received
            received.append(signum)
            if first:
                raise KeyboardInterrupt

        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for sig in previous:
                signal.signal(sig, on_signal)
        except ValueError:  # not the main thread: leave the signals alone
            previous = {}
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            code = EXIT_TERMINATED if received and received[0] == signal.SIGTERM else EXIT_INTERRUPTED
            name = "SIGTERM" if code == EXIT_TERMINATED else "Ctrl-C"
            click.echo(f"interrupted ({name}): nothing written", err=True)
            sys.exit(code)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    return wrapper  # type: ignore[return-value]
