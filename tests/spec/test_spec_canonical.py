"""The canonical representative's fast paths agree with their definitions, on states reached by random walks."""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from spec.faults import symmetric_nodes
from spec.model import ClusterModel
from spec.reduction import fields
from spec.reduction.canonical import (
    _best_permutation,
    _fingerprint,
    _interned_etcd,
    _local_ids,
    _object_images,
    _permutations,
    _plan_of,
    _renumbered_etcd,
    _rewrite_of,
    intern_objects,
    rederived,
    renumber_ids,
)
from spec.reduction.writeorder import _plans, canonical_history
from spec.scenario import builtin
from spec.state import ClusterState
from spec.testing import cluster_states, scenarios

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


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_memoised_representative_is_the_representative_by_definition(data: st.DataObject) -> None:
    """``Representatives`` (per skeleton, renaming after renumbering) gives what every reduction in turn gives,
    on the states of walks through generated scenarios and through the built-in ones with symmetric nodes."""
    scenario = data.draw(st.one_of(scenarios(), st.sampled_from([WEB, builtin("web-three-nodes")])))
    model = ClusterModel(scenario.config, scenario.reductions)
    for _ in range(3):  # the second and third time through the memo
        state = data.draw(cluster_states(max_steps=40, scenario=scenario))
        assert model.canonical(state) == model._representative.general(state)
        rep = model.canonical(state)
        assert model.canonical(rep) == rep


def test_the_memoised_representative_agrees_along_a_search_with_renamed_nodes() -> None:
    """Along a breadth-first search of web-three-nodes (six node permutations), where states share skeletons and
    renamed skeletons with earlier ones, so that both memos answer: every successor's memoised representative
    is the representative by definition, and some of them needed a node renaming."""
    scenario = builtin("web-three-nodes")
    model = ClusterModel(scenario.config, scenario.reductions)
    frontier = list(model.init_states())
    seen = {model.canonical(s) for s in frontier}
    frontier = list(seen)
    checked = 0
    while frontier and checked < 1500:
        state = frontier.pop(0)
        for _, nxt in model.successors(state):
            rep = model.canonical(nxt)
            assert rep == model._representative.general(nxt)
            checked += 1
            if rep not in seen:
                seen.add(rep)
                frontier.append(rep)
    memo = model._representative.renamed
    assert memo.hits > 0 and memo.misses > 0
    assert model._representative.memo.hits > 0


def test_renumbered_objects_are_the_plain_rewrite() -> None:
    """``_renumbered_etcd`` (each API object through the per-object memo) gives what the plain rewrite of etcd
    gives, along a breadth-first search of web-two-nodes where objects recur under other renumberings, so that the
    per-object memo answers; and a state whose objects did move is among them."""
    moved = 0
    hits = _object_images.hits
    for nxt in _successors_along_a_search(ClusterModel(WEB.config, WEB.reductions), 1500):
        interned = intern_objects(nxt)
        plan = _plan_of(interned, _local_ids(interned))
        if plan is not None:
            etcd = interned.etcd
            plain = _interned_etcd(fields.rewrite(etcd, _rewrite_of(plan), fields.IDS))
            assert _renumbered_etcd.__wrapped__(etcd, plan) == plain
            moved += plain != etcd
    assert moved > 100 and _object_images.hits > hits


def _successors_along_a_search(model: ClusterModel, limit: int) -> Iterator[ClusterState]:
    """The successors of the states a breadth-first search of ``model`` expands (the representatives), the first
    ``limit`` of them."""
    frontier = list(model.init_states())
    seen = set(frontier)
    checked = 0
    while frontier and checked < limit:
        state = frontier.pop(0)
        for _, nxt in model.successors(state):
            yield nxt
            checked += 1
            rep = model.canonical(nxt)
            if rep not in seen:
                seen.add(rep)
                frontier.append(rep)


def test_the_reordering_without_caches_and_its_memoised_plans() -> None:
    """``canonical_history(caches=False)`` (what ``Representatives`` asks on a skeleton miss) is the reordering with
    the moved informers' caches left out: taking every watching informer's cache from ``cache_at`` gives the
    reordering itself; and the plans memoised on the history's keys and revisions and the positions (``_plans``)
    answer for other etcds than the one they were computed for, along a breadth-first search of web-two-nodes."""
    moved = 0
    hits = _plans.hits
    for nxt in _successors_along_a_search(ClusterModel(WEB.config, WEB.reductions), 1500):
        full = canonical_history(nxt)
        assert rederived(canonical_history(nxt, caches=False)) == full
        moved += full is not nxt
    assert moved > 100 and _plans.hits > hits
