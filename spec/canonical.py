"""Sound state-space reductions: a representative of each class of equivalent states (``Model.canonical``)."""

from __future__ import annotations

from spec.state import ClusterState


def canonical_state(state: ClusterState, symmetric: tuple[tuple[str, ...], ...]) -> ClusterState:
    return state
