"""A breadth-first frontier that spills to disk: TLC's `DiskStateQueue`, in Python.

With fingerprint storage the states themselves are kept only while they wait in the frontier, and a wide
breadth-first level dominates the memory left (TwoPhase(8) has a quarter of a million states waiting at its
widest). This queue keeps the next `head_limit` items in memory and writes the items appended behind them to
files of `segment` items each (pickled in one piece, so the parts that states share are written once per file);
a file is read back, in order, when the items before it have been taken. First in, first out, as a deque.

What it omits: a depth-first stack is not spilled (`pop` is not offered); items must be picklable (states, actions
and their classes importable by name, as for checkpoints).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any


class DiskQueue:
    """A FIFO of picklable items, `head_limit` in memory at the front, the rest in files of `segment` items."""

    def __init__(self, directory: str | None = None, head_limit: int = 20_000, segment: int = 10_000) -> None:
        self.head: deque[Any] = deque()
        self.tail: list[Any] = []
        self.files: deque[tuple[str, int]] = deque()  # (path, item count), oldest first
        self.spilled = 0  # items in files
        self.bytes_on_disk = 0
        self.head_limit = head_limit
        self.segment = segment
        self._parent = directory
        self._dir: str | None = None
        self._serial = 0

    def __len__(self) -> int:
        return len(self.head) + self.spilled + len(self.tail)

    def __bool__(self) -> bool:
        return bool(self.head or self.spilled or self.tail)

    def append(self, item: Any) -> None:
        if self.tail or self.spilled or len(self.head) >= self.head_limit:
            self.tail.append(item)
            if len(self.tail) >= self.segment:
                self._spill()
        else:
            self.head.append(item)

    def extend(self, items: Iterable[Any]) -> None:
        for item in items:
            self.append(item)

    def appendleft(self, item: Any) -> None:
        self.head.appendleft(item)

    def popleft(self) -> Any:
        if not self.head:
            if self.files:
                self._load()
            elif self.tail:
                self.head.extend(self.tail)
                self.tail = []
        return self.head.popleft()

    def clear(self) -> None:
        self.head.clear()
        self.tail = []
        self.close()

    def __iter__(self) -> Iterator[Any]:
        """Every item, front first (files are read, not consumed)."""
        yield from self.head
        for path, _ in self.files:
            with open(path, "rb") as f:
                yield from pickle.load(f)
        yield from self.tail

    def close(self) -> None:
        """Remove the files (the queue is empty after)."""
        self.files.clear()
        self.spilled = 0
        self.bytes_on_disk = 0
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def _spill(self) -> None:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="kubespec-frontier-", dir=self._parent)
        self._serial += 1
        path = os.path.join(self._dir, f"{self._serial:08d}.pickle")
        with open(path, "wb") as f:
            pickle.dump(self.tail, f, protocol=pickle.HIGHEST_PROTOCOL)
            self.bytes_on_disk += f.tell()
        self.files.append((path, len(self.tail)))
        self.spilled += len(self.tail)
        self.tail = []

    def _load(self) -> None:
        path, count = self.files.popleft()
        with open(path, "rb") as f:
            items = pickle.load(f)
            self.bytes_on_disk -= f.tell()
        os.unlink(path)
        self.spilled -= count
        self.head.extend(items)
