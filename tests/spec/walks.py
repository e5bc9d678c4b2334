"""A breadth-first walk of a model's representatives for the tests that compare a memoised or reordered step with
the plain composition it stands for (tests/spec/test_spec_deliveries.py, test_spec_faults.py,
test_spec_settled_steps.py): each such test asks its question of every state the walk yields."""

from __future__ import annotations

from collections.abc import Iterator

from spec.model import ClusterModel
from spec.state import ClusterState


def expanded_and_successors(model: ClusterModel, max_states: int) -> Iterator[ClusterState]:
    """Breadth-first over ``model``'s representatives until ``max_states`` of them are seen: each expanded
    representative, then each of its successors as its step made it (before canonicalisation)."""
    frontier = [model.canonical(s) for s in model.init_states()]
    seen = set(frontier)
    while frontier and len(seen) < max_states:
        s = frontier.pop(0)
        successors = [t for _, t in model.successors(s)]
        yield s
        yield from successors
        for t in successors:
            c = model.canonical(t)
            if c not in seen:
                seen.add(c)
                frontier.append(c)
