"""The explored state graph: states, parent links, depths and (for liveness) labelled edges.

States are kept exactly (a dict from state to index), so deduplication never collides and counts do not depend
on PYTHONHASHSEED; stable fingerprints (`checker.fingerprint`) are used where a state leaves the process.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

NO_PARENT = -1


class StateGraph:
    """Append-only storage of the states found by a search, indexed in discovery order."""

    __slots__ = ("states", "index", "parent", "depth", "expanded", "with_edges", "edge_lo", "edge_hi",
                 "edge_to", "edge_mask", "enabled")

    def __init__(self, with_edges: bool) -> None:
        self.states: list[Any] = []
        self.index: dict[Any, int] = {}
        self.parent = array("i")
        self.depth = array("i")
        self.expanded = bytearray()
        self.with_edges = with_edges
        # Edges are stored per expanded state as a slice [edge_lo[i], edge_hi[i]) of edge_to / edge_mask.
        self.edge_lo = array("q")
        self.edge_hi = array("q")
        self.edge_to = array("q")
        self.edge_mask = array("q")
        #: Bit k set: fairness class k is enabled (has a non-stuttering step) in the state.
        self.enabled = array("q")

    def __len__(self) -> int:
        return len(self.states)

    def path_to(self, i: int) -> list[int]:
        """Indices from an initial state to state `i`, following parent links."""
        path = []
        while i != NO_PARENT:
            path.append(i)
            i = self.parent[i]
        path.reverse()
        return path

    def successors(self, i: int) -> Iterator[tuple[int, int]]:
        """Non-stuttering edges (target, fairness mask) of an expanded state."""
        to, mask = self.edge_to, self.edge_mask
        for e in range(self.edge_lo[i], self.edge_hi[i]):
            yield to[e], mask[e]
