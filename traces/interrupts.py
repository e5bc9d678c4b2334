"""Ctrl-C, SIGTERM and SIGHUP in the trace and picture commands: stop within a second, say so, exit 130, 143 or 129.

While a command runs, SIGINT, SIGTERM and SIGHUP (a closed terminal) raise KeyboardInterrupt in the main thread (a
Graphviz child is then killed by ``subprocess.run``, and a half-written output's temporary file removed by
``checker.files``); the command then prints ``interrupted`` and exits 130 for SIGINT, 143 for SIGTERM or 129 for
SIGHUP (128 + the signal's number, as shells report it, and as ``kubespec check`` does). Nothing is written after
an interrupt: these commands have no partial result worth a file.
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
_NAMES = {"SIGINT": "Ctrl-C", "SIGTERM": "SIGTERM", "SIGHUP": "SIGHUP"}
"""The signals answered (those the platform has) and how the message names each."""


def answers_signals(command: F) -> F:
    """Run ``command`` with SIGINT, SIGTERM and SIGHUP turned into a clean stop (see the module docstring)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        received: list[int] = []

        def on_signal(signum: int, frame: FrameType | None) -> None:
            first = not received
            received.append(signum)
            if first:
                raise KeyboardInterrupt

        previous = {sig: signal.getsignal(sig) for sig in
                    (getattr(signal, name) for name in _NAMES if hasattr(signal, name))}
        try:
            for sig in previous:
                signal.signal(sig, on_signal)
        except ValueError:  # not the main thread: leave the signals alone
            previous = {}
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            first = signal.Signals(received[0]) if received else signal.SIGINT
            click.echo(f"interrupted ({_NAMES[first.name]}): nothing written", err=True)
            sys.exit(128 + int(first))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    return wrapper  # type: ignore[return-value]
