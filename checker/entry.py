"""The `kubespec` program's entry point (``[project.scripts]``): the command line, able to answer Ctrl-C, SIGTERM and
SIGHUP from its first instant.

Loading the command line (click, rich, the search engine, the subcommands' plugins) takes a few tenths of a
second. A signal in that window used to print a KeyboardInterrupt traceback from deep inside an import (SIGINT) or
end the process with nothing said (SIGTERM, SIGHUP). Here each prints one line and exits 130, 143 or 129 (128 plus
the signal's number), the codes every interrupted command returns; nothing has been computed yet, so nothing is
lost. Once loaded, ``checker.cli.run`` takes over: a check installs its own handlers that print the partial
result. A signal the parent set to be ignored (a background job of a non-interactive shell ignores SIGINT) stays
ignored.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

#: The signals that stop a check with its partial result: Ctrl-C, what `timeout` and `kill` send, and the hang-up
#: of a closed terminal or a lost ssh session (not on every platform).
STOP_SIGNALS: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


def _starting(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"interrupted while starting: nothing was computed\n")
    os._exit(128 + signum)


def run() -> None:
    """Load the command line with the start-up handlers on, restore Python's defaults, and run it."""
    signals = STOP_SIGNALS
    defaults = {sig: signal.getsignal(sig) for sig in signals}
    for sig in signals:
        if defaults[sig] is not signal.SIG_IGN:
            signal.signal(sig, _starting)
    from checker.cli import run as cli_run

    for sig, handler in defaults.items():
        signal.signal(sig, handler)
    cli_run()
