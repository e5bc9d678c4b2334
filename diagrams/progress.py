"""A progress line for the picture commands, on standard error when it is a terminal (silent otherwise).

Exploring a state graph shows the states found so far; laying out and writing show what is being done, since
Graphviz gives no progress of its own.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.status import Status


class Progress:
    """``with Progress("exploring") as progress: ... progress.tick(n) ... progress.phase("drawing")``."""

    def __init__(self, label: str, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.label = label
        self.status: Status | None = None
        self._last = 0.0

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self.status = self.console.status(self.label)
            self.status.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self.status is not None:
            self.status.stop()

    def tick(self, states: int) -> None:
        """``states`` found so far (shown at most ten times a second)."""
        now = time.monotonic()
        if self.status is not None and now - self._last >= 0.1:
            self._last = now
            self.status.update(f"{self.label}: {states:,} states")

    def phase(self, text: str) -> None:
        """What is being done now."""
        if self.status is not None:
            self.status.update(text)
