"""Bounded memo tables that keep their hit rate when full, and count it.

The reductions memoise pure functions of parts of a state (a skeleton's representative, the pods' placement).
A table that is simply cleared when full loses every entry at once, the hot ones with the cold: on
``web-three-nodes`` the representatives' memo filled at 131,072 skeletons (about 400,000 states) and the rate fell
by half from then on. ``Memo`` keeps two generations instead (the segmented approximation of LRU that
generational caches use): new entries go into the young one; when it is full it becomes the old one and the old
one is dropped; an entry found in the old generation moves back into the young one. So an entry used at least once
per generation is never lost, each look-up is one dict probe (two on a miss), and the table holds at most twice
its size. Only speed depends on it: the values are pure functions of the keys.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(Generic[K, V]):
    """A two-generation bounded memo (``size`` entries a generation) with hit and miss counts."""

    __slots__ = ("hits", "misses", "old", "size", "young")

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"memo size must be positive, not {size}")
        self.size = size
        self.young: dict[K, V] = {}
        self.old: dict[K, V] = {}
        self.hits = 0
        self.misses = 0

    def get(self, key: K) -> V | None:
        """The value stored for ``key`` (moved into the young generation), or None (counted as a miss)."""
        value = self.young.get(key)
        if value is not None:
            self.hits += 1
            return value
        value = self.old.pop(key, None) if self.old else None
        if value is None:
            self.misses += 1
            return None
        self.hits += 1
        self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Store ``value`` (not None) for ``key``; a full young generation becomes the old one first."""
        young = self.young
        if len(young) >= self.size:
            self.old = young
            self.young = young = {}
        young[key] = value

    def __len__(self) -> int:
        return len(self.young) + len(self.old)

    def __contains__(self, key: object) -> bool:
        return key in self.young or key in self.old

    def hit_rate(self) -> float:
        """Hits over look-ups so far (0.0 before any)."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0

    def clear(self) -> None:
        """Forget every entry (the counts stay)."""
        self.young = {}
        self.old = {}
