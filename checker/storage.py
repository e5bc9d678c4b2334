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
        DISK["bytes"] -= self.bytes_on_disk
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
            DISK["bytes"] += f.tell()
        self.files.append((path, len(self.tail)))
        self.spilled += len(self.tail)
        self.tail = []

    def _load(self) -> None:
        path, count = self.files.popleft()
        with open(path, "rb") as f:
            items = pickle.load(f)
            self.bytes_on_disk -= f.tell()
            DISK["bytes"] -= f.tell()
        os.unlink(path)
        self.spilled -= count
        self.head.extend(items)


class BitState:
    """SPIN's bitstate hashing (supertrace, Holzmann): a state is remembered as k bits of an array of m bits, set at
    positions drawn from its 64-bit fingerprint (double hashing: h1 + i * h2). A new state whose k bits happen to be
    set already is taken for a known one and never explored, so a search with it is never exhaustive: it reports
    an estimate of its coverage instead. A set-like object: `fp in bits`, `bits.add(fp)`."""

    def __init__(self, nbytes: int, k: int = 3) -> None:
        if nbytes < 1:
            raise ValueError("a bit array needs at least one byte")
        self.bits = bytearray(nbytes)
        self.m = nbytes * 8
        self.k = k
        self.ones = 0
        self.added = 0
        #: The expected number of states that were taken for known ones: the sum, over the states added, of the
        #: probability that a new state's k bits were all set already at that point ((ones/m)^k).
        self.expected_omissions = 0.0

    def _positions(self, fp: int) -> list[int]:
        h1, h2, m = fp & 0xFFFFFFFF, (fp >> 32) | 1, self.m
        return [(h1 + i * h2) % m for i in range(self.k)]

    def __contains__(self, fp: object) -> bool:
        bits = self.bits
        return all(bits[p >> 3] & (1 << (p & 7)) for p in self._positions(fp))  # type: ignore[arg-type]

    def add(self, fp: int) -> None:
        self.expected_omissions += (self.ones / self.m) ** self.k
        bits = self.bits
        for p in self._positions(fp):
            byte, bit = p >> 3, 1 << (p & 7)
            if not bits[byte] & bit:
                bits[byte] |= bit
                self.ones += 1
        self.added += 1

    def update(self, fps: Iterable[int]) -> None:
        for fp in fps:
            self.add(fp)

    def __iter__(self) -> Iterator[int]:
        return iter(())  # the fingerprints are not kept: nothing to iterate

    def coverage(self) -> float:
        """The estimated fraction of the reachable states (up to the bounds) that the search explored."""
        return self.added / (self.added + self.expected_omissions) if self.added else 1.0

    def describe(self) -> str:
        hash_factor = self.m / max(self.added, 1)
        return (f"bitstate hashing, {len(self.bits) / 2**20:,.0f} MiB ({self.k} bits a state, hash factor "
                f"{hash_factor:,.0f}): estimated coverage {100 * self.coverage():.4f}%, never exhaustive")


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
#: Bytes on disk, in this process (the live line shows their sum): "bytes", what the live DiskQueues have written;
#: "checkpoint", the size of the last checkpoint written.
DISK = {"bytes": 0, "checkpoint": 0}


def children(pid: int | str = "self") -> list[int]:
    """The child processes of a process (Linux: /proc/PID/task/*/children; none elsewhere)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return found


def resident_tree_bytes() -> int:
    """The resident memory of this process and of its children (a search's worker processes)."""
    return resident_bytes() + sum(resident_bytes(c) for c in children())


def resident_bytes(pid: int | str = "self") -> int:
    """The resident memory of a process now (Linux: /proc/PID/statm), or its peak so far elsewhere."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        if pid != "self":
            return 0
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
