"""The explored state graph: states, parent links, depths and (for liveness) labelled edges.

States are stored exactly, so deduplication never collides, and counts and traces do not depend on
PYTHONHASHSEED (stable fingerprints, `checker.encoding.fingerprint`, are used where a state leaves the process).

A state that is an instance of a frozen attrs class with generated equality is stored as the tuple of its field
values, in one table per class: equal tuples mean equal states (that is how attrs defines `__eq__`), and a tuple
is hashed and compared in C, where the class's generated `__hash__` and `__eq__` run as Python code on every
generated successor. The state object is rebuilt from its fields when a trace needs it. Other states are stored
as they are.

With ``storage="bitstate"`` (SPIN's supertrace) the fingerprints themselves are not kept, only k bits each in a
bit array (`checker.storage.BitState`); the fingerprints by index stay, for traces.

With ``storage="fingerprint"`` (TLC's way) a state is stored as its 64-bit fingerprint (`checker.fingerprint`),
in one table for every class: tens of bytes per state instead of hundreds, at the price of a small probability
that two distinct states share a fingerprint (and one of them is never explored); the verdict states TLC's
estimates of it. A state is then never rebuilt from storage: a trace re-executes the model from an initial state
along the stored fingerprints (`checker.paths`).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from typing import Any

from checker.fingerprint import Fingerprinter
from checker.fingerprint import field_key as _field_key
from checker.storage import BitState

NO_PARENT = -1
STORAGES = ("exact", "fingerprint", "bitstate")

#: A class's storage: its table (key -> index), how to get a state's key (None: the state is its own key), and
#: its kind number (position in StateGraph.builders).
Table = tuple[dict[Any, int], Callable[[Any], Any] | None, int]


class StateGraph:
    """Append-only storage of the states found by a search, indexed in discovery order."""

    __slots__ = ("keys", "kinds", "tables", "builders", "parent", "depth", "expanded", "with_edges", "edge_lo",
                 "edge_hi", "edge_to", "edge_mask", "enabled", "storage", "fingerprints", "fp_table", "fp_set",
                 "unasked", "hidden_of")

    def __init__(self, with_edges: bool, storage: str = "exact", bitstate_bytes: int = 0) -> None:
        if storage not in STORAGES or storage == "bitstate" and (with_edges or bitstate_bytes < 1):
            raise ValueError(f"unknown storage {storage!r} (bitstate: no edges, a size)")
        self.storage = storage
        #: In fingerprint storage: the fingerprint function, and its one table (fingerprint -> index), needed for
        #: edges; without edges, a set of fingerprints (the index of a fingerprint is never asked for), and `keys`
        #: an array of fingerprints by index.
        self.fingerprints = Fingerprinter() if storage != "exact" else None
        self.fp_table: dict[int, int] = {}
        self.fp_set: Any = (BitState(bitstate_bytes) if storage == "bitstate"
                            else set() if storage == "fingerprint" and not with_edges else None)
        self.keys: Any = array("Q") if self.fp_set is not None else []
        self.kinds = bytearray()
        self.tables: dict[type, Table] = {}
        self.builders: list[Callable[[Any], Any] | None] = []
        self.parent = array("i")
        self.depth = array("i")
        self.expanded = bytearray()
        self.with_edges = with_edges
        # Edges are stored per expanded state as a slice [edge_lo[i], edge_hi[i]) of edge_to / edge_mask.
        self.edge_lo = array("q")
        self.edge_hi = array("q")
        self.edge_to = array("q")
        self.edge_mask = array("q")
        #: Bit k set: fairness class k is enabled (has a non-stuttering step) in the state. For a state marked in
        #: `unasked`, only the classes of the steps the model showed: read it through `enabled_at`.
        self.enabled = array("q")
        #: 1 for an expanded state whose model was not yet asked which fairness classes a reduction hid there
        #: (`checker.model.Model.hidden_fairness`); empty when every state's `enabled` is complete. A search
        #: leaves the question to the liveness check (`checker.liveness`), which needs the answer only where the
        #: classes shown do not already decide whether a cycle is fair: most states are never asked.
        self.unasked = bytearray()
        #: The fairness classes (a mask) hidden in the state of an index, asked of the model (with `unasked`).
        self.hidden_of: Callable[[int], int] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def enabled_at(self, i: int) -> int:
        """The fairness classes enabled in expanded state ``i``, those a reduction hid included (asked of the model
        the first time, where the search left the question open: `unasked`)."""
        if self.unasked and self.unasked[i]:
            assert self.hidden_of is not None
            self.enabled[i] |= self.hidden_of(i)
            self.unasked[i] = 0
        return int(self.enabled[i])

    def complete(self, i: int) -> bool:
        """Whether ``enabled[i]`` already holds every class enabled in state ``i`` (nothing left to ask)."""
        return not (self.unasked and self.unasked[i])

    def table(self, cls: type) -> Table:
        """The storage of states of class `cls`, made on first use."""
        found = self.tables.get(cls)
        if found is None and self.fingerprints is not None:
            if not self.builders:
                self.builders.append(None)
            found = self.tables[cls] = (self.fp_table, self.fingerprints, 0)
        elif found is None:
            if len(self.builders) == 255:
                raise ValueError("more than 255 classes of states")
            fk = _field_key(cls)
            self.builders.append(None if fk is None else fk[1])
            found = self.tables[cls] = ({}, None if fk is None else fk[0], len(self.builders) - 1)
        return found

    def find(self, state: Any) -> int | None:
        """The index of a stored state, or None (fingerprints stored as a set: use `contains`, `matches`)."""
        if self.fp_set is not None:
            raise LookupError("fingerprints are stored without their indices")
        table, key_of, _ = self.table(type(state))
        return table.get(state if key_of is None else key_of(state))

    def contains(self, state: Any) -> bool:
        """Whether a state (or, in fingerprint storage, one with its fingerprint) is stored."""
        if self.fp_set is not None and self.fingerprints is not None:
            return self.fingerprints(state) in self.fp_set
        return self.find(state) is not None

    def matches(self, i: int, state: Any) -> bool:
        """Whether `state` is the one stored with index `i` (in fingerprint storage: has its fingerprint)."""
        if self.fp_set is not None and self.fingerprints is not None:
            return bool(self.keys[i] == self.fingerprints(state))
        return self.find(state) == i

    def stored_fingerprints(self) -> Iterator[int]:
        """The fingerprints stored (fingerprint storage only)."""
        return iter(self.fp_set if self.fp_set is not None else self.fp_table)

    def state(self, i: int) -> Any:
        """The stored state with index `i` (rebuilt from its fields where it is stored as a tuple); in fingerprint
        storage there is none to rebuild (`matches` tells a candidate apart)."""
        if self.fingerprints is not None:
            raise LookupError("states stored as fingerprints cannot be rebuilt: re-execute the model")
        build = self.builders[self.kinds[i]]
        return self.keys[i] if build is None else build(self.keys[i])

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
