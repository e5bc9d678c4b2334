"""A canonical order for the watch history: writes that no watcher can tell apart in order are sorted.

Every write gets the next revision, so two components that write at about the same time leave two different
histories, one per order. But each informer watches one resource (the controller manager has one watch per
resource; the scheduler watches Pods and Nodes; a kubelet its node's Pods: client-go's reflector per
ListWatch, the API server's cacher per resource in staging/src/k8s.io/apiserver/pkg/storage/cacher), so the order
of a Deployment write and a Pod write is seen by no one. As Mazurkiewicz traces are represented by their Foata or
lexicographic normal form, a history is represented by its lexicographically least reordering that keeps

- the order of any two events of one resource,
- for every watching informer, the order of any two events it has yet to deliver (for the controller manager's
  informers, two events of one resource; for the scheduler, Pods, Nodes, claims and volumes), and
- for every informer, every event it has delivered before every watched event it has not.

Two events of two resources that an informer has both delivered may trade places: its cache holds both either way
and its future does not depend on their order (a relisted informer got them in one list, in no order). Keeping
their order for every informer that watches both resources (as this once did) made the order depend on whether an
informer had relisted: a state and its representative, which had traded two such writes while the scheduler was
expired, led by the scheduler's relist to two histories, each its own representative (a bisimulation broken;
tests/spec/test_spec_reductions.py, ``test_a_relist_does_not_order_what_it_listed``).

Revisions are then reassigned in the new order (a bijection on the live revisions, applied to every object and
cached copy), each informer's position becomes its last delivered watched event, and the informers skip events
they ignore (``spec.informer.settle``), as after any step. Each informer thus sees the same events in the same
order, with the same caches up to the renaming of revisions, which the model only compares for equality: the
reordered state has the same futures. Sound only where lists are served at the latest revision (consistency
"strong"): a stale list may be served at any retained revision, which would tell the orders apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import immutables

from spec import informer
from spec.idfields import VERSION
from spec.reduction import fields
from spec.reduction.canonical import _interned_etcd, informer_of, interned
from spec.reduction.memo import Memo
from spec.state import ClusterState, Etcd, Informer, Key, Object, WatchEvent


def _resource(key: Key) -> str:
    return key[: key.index("/")]


def watches(scope: informer.Scope, resource: str) -> bool:
    """Whether the informer with ``scope`` watches ``resource``."""
    return resource in informer.watched(scope)


def _free_revision(etcd: Etcd) -> int:
    """One past every revision an object or an event carries: etcd's revision in canonical form. (etcd's own
    revision would not do: it is an event's or an object's, or neither after a forgotten delete, depending on the
    order of writes no one can tell apart.)"""
    return max(etcd.compacted, _newest(etcd.objects), *[e.rv for e in etcd.history]) + 1


@functools.lru_cache(maxsize=1 << 14)
def _newest(objects: immutables.Map[Key, Object]) -> int:
    """The newest resourceVersion among ``objects`` (0 for none); memoised: a forgotten event leaves them as they
    were."""
    return max([o.meta.resource_version for o in objects.values()], default=0)


def canonical_history(state: ClusterState, *, caches: bool = True) -> ClusterState:
    """``state`` with its watch history in canonical order and every informer at its canonical position (the
    revision just before the first event it has yet to deliver, or etcd's revision): the same state when it
    already is. ``caches=False``: the watching informers it moves get an empty cache instead of ``cache_at``'s (not
    a state: for a caller that takes them from ``cache_at`` of what it makes of etcd,
    ``spec.reduction.canonical.Representatives``)."""
    etcd = state.etcd
    scopes = state.layout().scopes
    current = state.informers()
    key = (tuple([(e.key, e.rv) for e in etcd.history]), etcd.revision, _free_revision(etcd), etcd.compacted,
           tuple([None if inf is None else (scope, inf.rv, inf.expired, inf.high_water)
                  for scope, inf in zip(scopes, current, strict=True)]))
    plan = _plans.get(key)
    if plan is None:
        plan = _plan(*key)
        _plans.put(key, plan)
    if plan is _UNCHANGED:
        return state
    assert plan is not None
    order, renamed_pairs, revision, targets = plan
    renamed = dict(renamed_pairs)
    obj = _renamer(renamed)

    def cache(objects: immutables.Map[Key, Object]) -> immutables.Map[Key, Object]:
        return immutables.Map({k: r for k, o in objects.items() if (r := obj(o)) is not None}) if renamed else objects

    if renamed or revision != etcd.revision:
        etcd = _reordered(etcd, order, renamed_pairs, revision)
    infs: list[Informer | None] = []
    for scope, inf, at in zip(scopes, current, targets, strict=True):
        if inf is None or (at is None and not renamed):
            infs.append(inf)
        elif inf.expired:
            infs.append(Informer(inf.rv, cache(inf.cache), True, inf.high_water))
        else:
            # The cache is a function of etcd and the position (``spec.state.Informer``).
            at = inf.rv if at is None else at
            at = at if at == revision else informer.settled_rv(at, False, etcd, scope)
            infs.append(informer_of(at, informer.cache_at(etcd, scope, at) if caches else _EMPTY, False, at))
    return state.with_informers(infs, etcd, current)


_VERSIONS = frozenset({VERSION})


def _renamer(renamed: dict[int, int]) -> Callable[[Object | None], Object | None]:
    """Objects with their resourceVersions (the fields that declare ``VERSION``, ``spec.idfields``) renamed by
    ``renamed``, interned (each object renamed once per call)."""
    rw = fields.Rewrite(revisions=renamed)

    def obj(o: Object | None) -> Object | None:
        if o is None or not renamed:
            return o
        new = fields.rewrite(o, rw, _VERSIONS)
        return o if new is o else interned(new)

    return obj


@functools.lru_cache(maxsize=1 << 14)
def _reordered(etcd: Etcd, order: tuple[int, ...], renamed_pairs: tuple[tuple[int, int], ...], revision: int) -> Etcd:
    """``etcd`` with its history in ``order``, revisions renamed by ``renamed_pairs`` and ``revision`` as its own
    (memoised, interned)."""
    renamed = dict(renamed_pairs)
    obj = _renamer(renamed)

    objects, history = etcd.objects, etcd.history
    if renamed:
        objects = immutables.Map({k: r for k, o in objects.items() if (r := obj(o)) is not None})
        history = tuple(WatchEvent(renamed[e.rv], e.type, e.key, obj(e.obj), obj(e.prev))
                        for e in (history[i] for i in order))
    return _interned_etcd(Etcd(revision, objects, history, etcd.compacted, etcd.next_uid))


_EMPTY: immutables.Map[Key, Object] = immutables.Map()

Positions = tuple[tuple[informer.Scope, int, bool, int] | None, ...]
_Plan = tuple[tuple[int, ...], tuple[tuple[int, int], ...], int, tuple[int | None, ...]]

_UNCHANGED: _Plan = ((), (), 0, ())
"""``_plan``'s answer when ``canonical_history`` leaves the state as it is (a memo cannot store None)."""

_plans: Memo[tuple[tuple[tuple[Key, int], ...], int, int, int, Positions], _Plan] = Memo(1 << 16)
"""``_plan``'s arguments -> its answer. Many etcds share them: they are the history's keys and revisions, etcd's
revision, its free revision and compaction point, and the informers' positions, none of the objects (web-two-nodes'
first 20,000 states: 71% of the skeleton misses ask a plan asked before)."""


def _plan(events: tuple[tuple[Key, int], ...], current: int, revision: int, compacted: int,
          positions: Positions) -> _Plan:
    """What ``canonical_history`` does to an etcd whose history holds ``events`` (key, revision), whose revision
    is ``current``, whose free revision (``_free_revision``) is ``revision`` and whose compaction point is
    ``compacted``, with informers at ``positions`` (scope, rv, expired, high-water): (the new order of the history,
    the revisions renamed, etcd's new revision, each informer's new position or None when it stays);
    ``_UNCHANGED`` when nothing changes. A pure function of these alone (no object is read), so it is memoised
    on them (``_plans``)."""
    n = len(events)
    if not n and revision == current and all(p is None or p[2] or p[1] == revision for p in positions):
        return _UNCHANGED  # nothing to reorder, everyone caught up
    resources = [_resource(k) for k, _ in events]
    live = {rv for _, rv in events}
    if any(p is not None and not p[2] and p[3] != p[1] and p[3] in live for p in positions):
        return _UNCHANGED  # a restarted informer behind its high-water mark (only after stale lists): keep as is
    pending: dict[int, tuple[informer.Scope, frozenset[int]]] = {}
    for slot, p in enumerate(positions):
        if p is not None and not p[2]:
            kinds = informer.watched(p[0])
            pending[slot] = (p[0], frozenset(i for i in range(n) if events[i][1] > p[1] and resources[i] in kinds))
    order = _order(events, resources, pending) if len(set(resources)) > 1 else list(range(n))
    renamed: tuple[tuple[int, int], ...] = ()
    if order != list(range(n)):
        revisions = [rv for _, rv in events]
        renamed = tuple((events[old][1], revisions[new]) for new, old in enumerate(order))
    # Which write was the last one matters to no one once its event is forgotten: etcd's revision becomes one
    # that no object carries (the next write still comes after everything), and the forgotten writes'
    # resourceVersions are numbered by key by ``spec.reduction.canonical.renumber_ids`` whatever their order.
    new_rvs = [rv for _, rv in events]  # the revisions, in order, after the reordering
    where = {old: new for new, old in enumerate(order)}
    targets: list[int | None] = []
    for slot, p in enumerate(positions):
        if p is None or p[2]:
            targets.append(None)
            continue
        waiting = [where[i] for i in pending[slot][1]]
        if waiting:
            first = min(waiting)
            at = new_rvs[first - 1] if first else compacted
        else:
            at = revision
        targets.append(None if at == p[1] else at)
    if not renamed and revision == current and all(t is None for t in targets):
        return _UNCHANGED
    return tuple(order), renamed, revision, tuple(targets)


def _order(events: tuple[tuple[Key, int], ...], resources: list[str],
           pending: dict[int, tuple[informer.Scope, frozenset[int]]]) -> list[int]:
    """The least reordering (by resource, then key) that keeps what some informer can tell apart: the order of
    two events of one resource, and for every watching informer, the order of the events it has yet to deliver
    and every event it has delivered before every one it has not. Two events of two resources that an informer
    has both delivered may trade places: its cache holds both writes either way (``spec.informer.cache_at``),
    its position stays between what it has delivered and what it has not, and nothing it will do depends on
    the order in which they came (a relisted informer never saw them in any order: it listed them at once)."""
    n = len(events)
    before: list[set[int]] = [{i for i in range(j) if resources[i] == resources[j]} for j in range(n)]
    for scope, waiting in pending.values():
        delivered = {i for i in range(n) if i not in waiting and watches(scope, resources[i])}
        for j in waiting:
            before[j] |= delivered
            before[j].update(i for i in waiting if i < j)
    order: list[int] = []
    placed: set[int] = set()
    while len(order) < n:
        nxt = min((i for i in range(n) if i not in placed and before[i] <= placed),
                  key=lambda i: (resources[i], events[i][0], i))
        order.append(nxt)
        placed.add(nxt)
    return order
