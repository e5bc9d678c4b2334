"""The canonical representative's fast paths agree with their definitions, on states reached by random walks."""

from __future__ import annotations

from hypothesis import given, settings

from spec.faults import symmetric_nodes
from spec.reduction.canonical import _best_permutation, _fingerprint, _permutations, renumber_ids
from spec.scenario import builtin
from spec.state import ClusterState
from spec.testing import cluster_states

WEB = builtin("web-two-nodes")


@settings(max_examples=40)
@given(cluster_states(max_steps=40, scenario=WEB))
def test_best_permutation_is_the_first_smallest_fingerprint(state: ClusterState) -> None:
    perms = _permutations(symmetric_nodes(WEB.config))
    assert len(perms) > 1
    assert _best_permutation(state, perms) == min(perms, key=lambda p: _fingerprint(state, p))


@settings(max_examples=40)
@given(cluster_states(max_steps=40))
def test_renumbering_a_renumbered_state_returns_it(state: ClusterState) -> None:
    once = renumber_ids(state)
    assert renumber_ids(once) is once
