"""Visitors: code called by the real search on each state it stores and each edge it follows (Stateright's
``CheckerVisitor``, src/checker/visitor.rs, which is called with each path the checker visits).

A visitor sees the search as it happens, in its order, with the indices the search gives states (0, 1, ... in
the order they are stored), so a tool that draws or summarises the state graph needs no second search of its own
(``diagrams.stategraph``, ``diagrams.quotient``). Pass one to ``check(model, visitor=...)``; the search must be
one worker with exact storage (the indices are then those of the search's own graph).

What is visited, exactly:

- ``state(index, state, parent, depth)``: each distinct state when it is stored (after ``canonical``, within
  ``constraint``); ``parent`` is None for initial states; ``depth`` counts states on the path (1 for initial).
- ``edge(source, action, target)``: each successor of an expanded state that is stored or already known (a
  self-loop included; a successor the constraint discards is not an edge), in the order ``successors`` gives.
- ``expanded(index, generated)``: the state's expansion is complete; ``generated`` counts its successors, the
  constraint's discards included. A state stored but never expanded (the search stopped at a bound) never gets
  this call.
"""

from __future__ import annotations

from typing import Any

import attrs


class Visitor:
    """Override any of the three calls; the defaults do nothing."""

    def state(self, index: int, state: Any, parent: int | None, depth: int) -> None:
        """A new distinct state was stored at ``index``."""

    def edge(self, source: int, action: Any, target: int) -> None:
        """The expansion of ``source`` found ``action`` leading to the stored state ``target``."""

    def expanded(self, index: int, generated: int) -> None:
        """The expansion of ``index`` is complete: ``generated`` successors (including discarded ones)."""


@attrs.define
class GraphRecorder(Visitor):
    """A visitor that keeps the whole explored graph: states by index, parents, depths, edges, expanded states.

    Memory: the states themselves (shared with the search's own store when it keeps them exactly) and an int
    triple per edge."""

    states: list[Any] = attrs.field(factory=list)
    parent: list[int | None] = attrs.field(factory=list)
    depth: list[int] = attrs.field(factory=list)
    edges: list[tuple[int, Any, int]] = attrs.field(factory=list)
    generated: dict[int, int] = attrs.field(factory=dict)
    """Expanded states -> their successors generated (a state missing here was never expanded)."""

    def state(self, index: int, state: Any, parent: int | None, depth: int) -> None:
        assert index == len(self.states), "the search stores states at consecutive indices"
        self.states.append(state)
        self.parent.append(parent)
        self.depth.append(depth)

    def edge(self, source: int, action: Any, target: int) -> None:
        self.edges.append((source, action, target))

    def expanded(self, index: int, generated: int) -> None:
        self.generated[index] = generated
