"""Sound state-space reductions: a representative of each class of equivalent states (``Model.canonical``).

1. Revisions. The model compares resourceVersions only for equality (optimistic concurrency) and orders only the
   revisions that are still *live*: the watch history's, the informers' positions and high-water marks, etcd's
   revision and compaction point. Live revisions are renumbered 1..n keeping their order; the others (object
   versions written before anything still in the history) are given negative numbers by (key, revision), which
   keeps equality and the order among versions of one object. Two states that differ only in how many writes
   led to them, or in the order of writes everyone has already seen, become one.
2. Uids are renumbered 1..n in creation order (the order is what upstream's creationTimestamp ties use); nodes'
   uids, only ever compared for equality, are numbered by node name.
3. Interchangeable nodes (``spec.faults.symmetric_nodes``): the representative is the renaming whose encoding is
   smallest (the node names are permuted everywhere: objects, views, queues, kubelets).

A watching informer's cache is not renamed with the rest: it is recomputed from the representative's etcd
(``spec.informer.cache_at``; ``spec.state.Informer`` explains why that is the same cache). Every map is a bijection
applied to the whole state, so the representative is reachable iff the state is, by the
same steps renamed (a bisimulation), and every property is invariant under it.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from typing import Any, Protocol

import attrs
import immutables

from spec import informer
from spec.idfields import NAME, NEXT_UID, NODE, REVISION, UID, VERSION
from spec.informer import cache_at
from spec.reduction import fields
from spec.reduction.memo import Memo
from spec.state import ClusterState, Etcd, Informer, Key, Node, Object, WatchEvent


def canonical_state(
    state: ClusterState, symmetric: tuple[tuple[str, ...], ...], *, renumber: bool = True, ordered: bool = True
) -> ClusterState:
    """The representative of ``state``'s class (its watching informers' caches taken from ``cache_at``).
    ``ordered``: False when the write-order reduction chose the history's order (``_best_permutation``)."""
    return _canonical(_expired_at_compaction(intern_objects(state)), symmetric, renumber, ordered)


class Reorder(Protocol):
    """A write-order reduction (``spec.reduction.writeorder.canonical_history``): with ``caches=False`` the
    informers it moves are left with empty caches (the caller takes them from ``cache_at``)."""

    def __call__(self, state: ClusterState, *, caches: bool = True) -> ClusterState: ...


_Skeleton = tuple[Etcd, tuple["Informer | None", ...], "fields.Rewrite | None", tuple[dict[str, str], ...]]
"""What the representative makes of etcd and the informers: etcd, the informers in ``informer_slots`` order, the
rewrite of the components' own ids (None when it leaves them as they are), and the node permutations under which
the node names its objects hold are least (``_placed_best``: a function of that etcd; () where no node
permutation is tried)."""


class Representatives:
    """``Model.canonical`` of one model: the composition of the reductions on (write order, node symmetry,
    renumbering), computed once per *skeleton*.

    The representative's etcd and informers are a function of etcd, of each informer's position, high-water
    mark and expiry (and cache, when expired: a watching informer's cache is a function of the rest,
    ``spec.state.Informer``), and of the uids the components hold (which take part in the uid numbering): the
    skeleton. Many states share one (they differ in queues, timers, containers, budgets), so the skeleton's
    image is memoised, and a state costs one look-up, a rebuild of the parts that changed, and the components'
    uids renamed when the numbering moved them. Where interchangeable nodes are renamed (a permutation other than
    the identity is the least), the renumbered state is renamed and renumbered again. Both paths give the
    representative by definition (``general``; tests/spec/test_spec_canonical.py compares them): the
    skeleton's image is computed by the general path itself; the least permutation of the renumbered state is
    the least of the state before renumbering, because renumbering keeps the order of every revision and uid that
    ``_fingerprint`` compares; and renumbering a renamed renumbered state gives what renumbering the renamed state
    gives, because renumbering depends only on the order of the revisions and uids (and on node names, for the
    nodes' uids), which the first renumbering kept.
    """

    def __init__(self, symmetric: tuple[tuple[str, ...], ...], renumber: bool, reorder: bool,
                 reorder_fn: Reorder | None = None, size: int = 1 << 17) -> None:
        self.symmetric = symmetric
        self.perms = _permutations(symmetric) if symmetric else ()
        self.renumber = renumber
        self.reorder = reorder_fn if reorder else None
        self.memo: Memo[tuple[Any, ...], _Skeleton] = Memo(size)
        """Skeleton -> its image (two generations of ``size``: ``spec.reduction.memo``)."""
        self.renamed: Memo[tuple[Any, ...], _Skeleton] = Memo(size)
        """(skeleton, permutation) -> the image of the skeleton's image renamed by the permutation."""
        self._perm_index = {id(p): i for i, p in enumerate(self.perms)}

    def general(self, state: ClusterState) -> ClusterState:
        """The representative by definition: every reduction in turn."""
        if self.reorder is not None:
            state = self.reorder(state)
        return canonical_state(state, self.symmetric, renumber=self.renumber, ordered=self.reorder is None)

    def __call__(self, state: ClusterState) -> ClusterState:
        state = _parked_at_compaction(state)
        positions: list[Any] = []
        add = positions.append
        current = state.informers()
        for inf in current:
            if inf is None:
                add(None)
            elif inf.expired:
                add((inf.rv, inf.high_water, inf.cache))
            else:
                add(inf.rv)
                add(inf.high_water)
        others = _local_ids(state)
        key = (state.etcd, tuple(positions), others)
        memo = self.memo
        skeleton = memo.get(key)
        if skeleton is None:
            skeleton = self._skeleton(state, others)
            memo.put(key, skeleton)
        etcd, infs, locals_, placed = skeleton
        out = state.with_informers(infs, etcd, current)
        if locals_ is not None:
            out = _with_locals(out, locals_)
        if self.perms:
            perm = _best_permutation(out, self.perms, placed, ordered=self.reorder is None)
            if perm:
                # Renaming, then renumbering again (node uids follow the new names): the same as renaming
                # before renumbering, since renumbering only replaced ids by others in the same order. What
                # that makes of etcd and the informers (and the rewrite of the components' ids) is a function
                # of the skeleton and the permutation: memoised; the components are renamed per state.
                index = self._perm_index.get(id(perm))
                if index is None:  # a copy of this object (pickled to another process): other ids
                    index = self.perms.index(perm)
                key2 = (key, index)
                image = self.renamed.get(key2)
                if image is None:
                    image = self._renamed_skeleton(out, perm)
                    self.renamed.put(key2, image)
                etcd, infs, locals_, _ = image
                out = _rename_components(out, perm).with_informers(list(infs), etcd)
                return out if locals_ is None else _with_locals(out, locals_)
        return out

    def _renamed_skeleton(self, out: ClusterState, perm: dict[str, str]) -> _Skeleton:
        """What renaming ``out`` (a state with its skeleton's image) by ``perm`` and renumbering it again make of
        etcd and the informers, and the rewrite of the components' ids (None when it leaves them as they are)."""
        renamed = _rename_nodes(out, perm)
        others = _local_ids(renamed) if self.renumber else frozenset()
        etcd, infs, locals_ = self._renumbered(renamed.etcd, renamed.layout().scopes, renamed.informers(), others)
        return etcd, infs, locals_, ()

    def _skeleton(self, state: ClusterState, others: frozenset[_Triple]) -> _Skeleton:
        """The skeleton's image, by the general path without symmetry (``others``: ``_local_ids(state)``).

        The general path's steps on etcd and the informers alone: no state is built in between, the components'
        ids are not rewritten (the caller does it, with the returned rewrite), and the reordering leaves the
        caches of the informers it moves empty (``canonical_history(caches=False)``: every step after it reads a
        watching informer's position only, and the last one takes its cache from ``cache_at``)."""
        if self.reorder is not None:
            state = self.reorder(state, caches=False)
        etcd = _interned_etcd(state.etcd)
        scopes = state.layout().scopes
        infs = _at_compaction(state.informers(), etcd.compacted)
        etcd, out, locals_ = self._renumbered(etcd, scopes, infs, others)
        return etcd, out, locals_, self._placed(etcd)

    def _renumbered(self, etcd: Etcd, scopes: tuple[informer.Scope, ...], infs: list[Informer | None],
                    others: frozenset[_Triple]) -> tuple[Etcd, tuple[Informer | None, ...], fields.Rewrite | None]:
        """What renumbering (when on) and taking the watching informers' caches from ``cache_at`` make of an
        interned ``etcd`` and the informers ``infs`` (of ``scopes``) of a state whose components hold ``others``,
        and the rewrite of the components' ids (None when it leaves them as they are): ``rederived(
        _renumber_ids(state))``'s etcd and informers, without the state."""
        plan = _plan_from(etcd, infs, others) if self.renumber else None
        if plan is None:
            return etcd, tuple(_rederived(etcd, scopes, infs)), None
        rw = _rewrite_of(plan)
        locals_ = rw if any(_moves(rw, t) for t in others) else None
        etcd = _renumbered_etcd(etcd, plan)
        return etcd, tuple([None if inf is None else _renumbered_informer(inf, scope, etcd, rw)
                            for scope, inf in zip(scopes, infs, strict=True)]), locals_

    def _placed(self, etcd: Etcd) -> tuple[dict[str, str], ...]:
        """``_placed_best`` of the image's etcd, kept with the image: every state of the skeleton asks it."""
        return _placed_best(etcd.objects, self.perms) if len(self.perms) > 1 else ()


def _moves(rw: fields.Rewrite, t: _Triple) -> bool:
    """Whether renumbering by ``rw`` changes the id ``t``."""
    kind, v, key = t
    if kind == UID:
        return v in rw.uids
    if kind == REVISION:
        return v in rw.revisions
    if kind == VERSION:
        return (key, v) in rw.versions or v in rw.revisions
    return kind == NEXT_UID and rw.next_uid is not None and rw.next_uid != v


def _expired_at_compaction(state: ClusterState) -> ClusterState:
    """``state`` with every expired informer whose position is below etcd's compaction point moved to it (its
    high-water mark too, when not above the position).

    Why the two states are one: an expired informer takes no step but a relist, which lists at a revision not
    older than both its position and the compaction point (``spec.informer.list_revisions``: a position below
    the compaction point counts as the compaction point), and which raises its high-water mark to at least that
    revision; so neither value below the compaction point is ever read again, except by ResourceVersionMonotonic
    comparing the two (a position below the high-water mark is left alone). Without this, two expired informers
    keep the order in which a reordered history had left their positions (an API server restart expires
    informers at positions that ``spec.reduction.writeorder`` chose), and a representative's successors differ from its
    states'."""
    infs = state.informers()
    moved = _at_compaction(infs, state.etcd.compacted)
    return _parked_at_compaction(state if moved is infs else state.with_informers(moved, current=infs))


def _parked_at_compaction(state: ClusterState) -> ClusterState:
    """``state`` with every parked controller-manager informer's high-water mark below etcd's compaction point
    moved to it (``spec.state.Parked``; ``spec.leaderelection.park``).

    Why the two states are one, as for an expired informer (``_expired_at_compaction``): a parked mark is read
    only when the replica's controllers run again, as an expired informer's position and high-water mark
    (``leaderelection.unpark``: it relists, at a revision not older than both it and the compaction point, which
    only grows) or by a stale leader's reconciles, which read its caches, not its position. Without this, a pause
    taken from a state whose expired pod informer sits below the compaction point, and from its representative
    (where ``_expired_at_compaction`` has moved it there), parked two marks that renumbering kept apart
    (tests/spec/test_spec_reductions.py, ``test_a_pause_parks_what_the_representative_parks``)."""
    le = state.leader
    if le is None or not any(p is not None for p in le.parked):
        return state
    c = state.etcd.compacted
    parked = tuple(p if p is None or all(h >= c for h in p.high_water)
                   else attrs.evolve(p, high_water=tuple(max(h, c) for h in p.high_water)) for p in le.parked)
    if all(a is b for a, b in zip(parked, le.parked, strict=True)):
        return state
    return state._with(leader=attrs.evolve(le, parked=parked))


def _at_compaction(infs: list[Informer | None], compacted: int) -> list[Informer | None]:
    """``infs`` with every expired informer below ``compacted`` moved to it (``_expired_at_compaction``): ``infs``
    itself when none moves."""
    out = infs
    for i, inf in enumerate(infs):
        if inf is not None and inf.expired and inf.rv < compacted and inf.high_water <= inf.rv:
            if out is infs:
                out = list(infs)
            out[i] = informer_of(compacted, inf.cache, True, compacted)
    return out


def _canonical(state: ClusterState, symmetric: tuple[tuple[str, ...], ...], renumber: bool,
               ordered: bool = True) -> ClusterState:
    """The representative of an interned state."""
    if symmetric:
        best = _best_permutation(state, _permutations(symmetric), ordered=ordered)
        if best:
            state = _rename_nodes(state, best)
    if renumber:
        renumbered = _renumber_ids(state)
        if renumbered is not state:
            return renumbered  # its watching informers' caches already come from ``cache_at``
    return rederived(state)


def rederived(state: ClusterState) -> ClusterState:
    """``state`` with the cache of every watching informer recomputed from etcd (``spec.informer.cache_at``):
    the same state (``spec.state.Informer``), with caches shared among states through the memo."""
    infs = state.informers()
    out = _rederived(state.etcd, state.layout().scopes, infs)
    return state if out is infs else state.with_informers(out, current=infs)


def _rederived(etcd: Etcd, scopes: tuple[informer.Scope, ...], infs: list[Informer | None]) -> list[Informer | None]:
    """``infs`` (of ``scopes``) with every watching informer's cache from ``cache_at`` (``rederived``): ``infs``
    itself when every one already is."""
    out = infs
    for i, (scope, inf) in enumerate(zip(scopes, infs, strict=True)):
        if inf is not None and not inf.expired:
            cache = cache_at(etcd, scope, inf.rv)
            if cache is not inf.cache:
                if out is infs:
                    out = list(infs)
                out[i] = informer_of(inf.rv, cache, False, inf.high_water)
    return out


# --- hash-consing --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 16)
def informer_of(rv: int, cache: immutables.Map[str, Object], expired: bool, high_water: int) -> Informer:
    """``Informer(rv, cache, expired, high_water)``, one object for equal fields, cache included (the memo's key
    compares caches, which ``Informer`` equality does not): representatives share their informers."""
    return Informer(rv, cache, expired, high_water)

# Equal states reached by different paths hold equal objects built separately, which compare field by field (in
# Python) wherever states are compared or looked up. Replacing each object by the first equal one seen makes them
# compare by identity. The memo tables are lru caches of pure functions (each returns a value equal to its
# argument), so they change nothing but speed.


@functools.lru_cache(maxsize=1 << 17)
def interned(o: Object) -> Object:
    """The first-seen object equal to ``o`` (also each object the API server writes and its watch event:
    ``spec.apiserver.interning``, installed by ``spec.model``)."""
    return o


@functools.lru_cache(maxsize=1 << 15)
def _interned_map(m: immutables.Map[str, Object]) -> immutables.Map[str, Object]:
    """``m`` with interned objects."""
    out = _map_values(m, interned)
    # Cached under the interned map itself (the cache keeps the key added first): that is the map later states
    # share, so their lookups compare by identity.
    return m if out is m else _interned_map(out)


@functools.lru_cache(maxsize=1 << 15)
def _interned_history(history: tuple[WatchEvent, ...]) -> tuple[WatchEvent, ...]:
    """``history`` with interned objects."""
    out = tuple(_interned_event(e) for e in history)
    if all(a is b for a, b in zip(out, history, strict=True)):
        return history
    return _interned_history(out)


def _interned_event(e: WatchEvent) -> WatchEvent:
    obj = None if e.obj is None else interned(e.obj)
    prev = None if e.prev is None else interned(e.prev)
    if obj is e.obj and prev is e.prev:
        return e
    return WatchEvent(e.rv, e.type, e.key, obj, prev)


@functools.lru_cache(maxsize=1 << 15)
def _interned_etcd(etcd: Etcd) -> Etcd:
    """``etcd`` with interned objects and history."""
    objects = _interned_map(etcd.objects)
    history = _interned_history(etcd.history)
    if objects is etcd.objects and history is etcd.history:
        return etcd
    return _interned_etcd(Etcd(etcd.revision, objects, history, etcd.compacted, etcd.next_uid))


def intern_objects(state: ClusterState) -> ClusterState:
    """``state`` with etcd's objects and watch events interned (equal to ``state``). Informers' caches are not
    interned: a watching informer's is left out of comparisons, and ``rederived`` takes it from a memo."""
    etcd = _interned_etcd(state.etcd)
    return state if etcd is state.etcd else state._with(etcd=etcd)


# --- revisions and uids --------------------------------------------------------------------------------------
#
# Which fields hold uids and revisions is read from their declarations (``spec.idfields``), through the
# collectors and rewriters ``spec.reduction.fields`` compiles from them once per class.


_Triple = tuple[str, Any, "str | None"]
"""(kind, value, key of the API object holding it or None): one uid, revision or resourceVersion of a state."""

_SKELETON = frozenset({Etcd, Informer})
"""What the skeleton covers (``Representatives``): the rest of a state is its components' own memory."""


def _local_ids(state: ClusterState) -> frozenset[_Triple]:
    """The uids, revisions and resourceVersions the components hold outside etcd and the informers (today: the
    scheduler's queue, assumed pods and binds, the kubelets' containers)."""
    fn = fields.collector(ClusterState, fields.IDS, _SKELETON)
    if fn is None:
        return frozenset()
    out: list[_Triple] = []
    fn(state, None, out)
    return frozenset(out)


@functools.lru_cache(maxsize=1 << 14)
def _map_ids(objects: immutables.Map[str, Object]) -> frozenset[_Triple]:
    """The ids held by the objects of a cache or of etcd. Memoised: most states share most of their maps with
    their parent."""
    out: list[_Triple] = []
    for key, o in objects.items():
        fn = fields.collector(type(o), fields.IDS)
        if fn is not None:
            fn(o, key, out)
    return frozenset(out)


def _is_one_to_n(values: set[int]) -> bool:
    """``values`` (distinct ints) are exactly 1..len(values)."""
    return not values or (min(values) == 1 and max(values) == len(values))


@functools.lru_cache(maxsize=1 << 14)
def _etcd_ids(etcd: Etcd) -> frozenset[_Triple]:
    """The ids etcd holds: its own revisions (its revision, its compaction point, its history's), its objects'
    and the history's objects'. Memoised: a step that writes nothing leaves etcd as it was."""
    out: list[_Triple] = []
    fn = fields.collector(Etcd, fields.IDS, skip=_OBJECTS)
    if fn is not None:
        fn(etcd, None, out)
    return _map_ids(etcd.objects) | frozenset(out)


_OBJECTS = frozenset({"objects"})
_CACHE = frozenset({"cache"})
"""``Informer.cache``: a watching informer's is a function of etcd and its position (``spec.state.Informer``),
and an expired one's is a map of objects, both handled apart."""


_EMPTY: immutables.Map[str, Object] = immutables.Map()


def _informer_ids(inf: Informer) -> frozenset[_Triple]:
    """The ids an informer holds: its positions, and its cache's when expired (a watching informer's cache holds
    objects of etcd or of its history, ``spec.informer.cache_at``)."""
    out: list[_Triple] = []
    fn = fields.collector(Informer, fields.IDS, skip=_CACHE)
    if fn is not None:
        fn(inf, None, out)
    return _map_ids(inf.cache) | frozenset(out) if inf.expired else frozenset(out)


_IdPlan = tuple[tuple[tuple[int, int], ...], tuple[tuple[tuple[Key, int], int], ...], tuple[tuple[int, int], ...],
                int]
"""A renumbering: (live revision pairs, settled object version pairs ((key, rv), new rv), uid pairs, etcd's next
uid), each pair (old, new), identities left out."""


def renumber_ids(state: ClusterState) -> ClusterState:
    """``state`` with revisions and uids renumbered canonically (see the module's docstring)."""
    return rederived(_renumber_ids(state))


_UNKNOWN: Any = object()


def _renumber_ids(state: ClusterState, plan: _IdPlan | None = _UNKNOWN) -> ClusterState:
    """``renumber_ids``, except that a state already numbered canonically is returned as it is, caches and all (a
    renumbered one has every watching informer's cache from ``cache_at``). ``plan``: its ``_plan_of``, when
    known."""
    if plan is _UNKNOWN:
        plan = _plan_of(state, _local_ids(state))
    if plan is None:
        return state
    rw = _rewrite_of(plan)
    etcd = _renumbered_etcd(state.etcd, plan)
    infs: list[Informer | None] = []
    for _, _, scope, inf in state.informer_slots():
        infs.append(None if inf is None else _renumbered_informer(inf, scope, etcd, rw))
    return _with_locals(state, rw).with_informers(infs, etcd)


def _rewrite_of(plan: _IdPlan, keep: frozenset[type] = frozenset()) -> fields.Rewrite:
    rv_pairs, settled_pairs, uid_pairs, next_uid = plan
    return fields.Rewrite(uids=dict(uid_pairs), revisions=dict(rv_pairs), versions=dict(settled_pairs),
                          next_uid=next_uid, keep=keep)


def _renumbered_informer(inf: Informer, scope: informer.Scope, etcd: Etcd, rw: fields.Rewrite) -> Informer:
    """``inf`` renumbered by ``rw``: its positions, and its cache (from etcd's, when watching: ``cache_at``)."""
    fn = fields.rewriter(Informer, fields.IDS, skip=_CACHE)
    moved = inf if fn is None else fn(inf, rw, None)
    cache = (_interned_map(fields.rewrite(inf, rw, fields.IDS).cache) if inf.expired
             else cache_at(etcd, scope, moved.rv))
    if (moved.rv == inf.rv and cache is inf.cache and moved.high_water == inf.high_water
            and moved.expired == inf.expired):
        return inf
    return informer_of(moved.rv, cache, moved.expired, moved.high_water)


def _with_locals(state: ClusterState, rw: fields.Rewrite) -> ClusterState:
    """``state`` with the components' own ids rewritten by ``rw`` (etcd and informers left as they are)."""
    out: ClusterState = fields.rewrite(state, attrs.evolve(rw, keep=_SKELETON, memo={}), fields.IDS)
    return out


def _plan_of(state: ClusterState, others: frozenset[_Triple]) -> _IdPlan | None:
    """``_id_plan`` of ``state``, whose components hold the ids ``others`` (``_local_ids``)."""
    return _plan_from(state.etcd, state.informers(), others)


def _plan_from(etcd: Etcd, infs: list[Informer | None], others: frozenset[_Triple]) -> _IdPlan | None:
    """``_id_plan`` of a state with ``etcd``, the informers ``infs`` and components holding the ids ``others``."""
    extra = set(others)
    for inf in infs:
        if inf is not None:
            extra |= _informer_ids(inf)
    return _id_plan(etcd, frozenset(extra))


@functools.lru_cache(maxsize=1 << 14)
def _id_plan(etcd: Etcd, extra: frozenset[_Triple]) -> _IdPlan | None:
    """The renumbering of a state whose etcd is ``etcd`` and whose informers and components hold the ids
    ``extra``; None when the state already is numbered canonically. Memoised: most states share them with many
    others."""
    live: set[int] = set()
    versions: set[tuple[Key, int]] = set()
    uids: set[int] = set()
    node_uids: dict[int, str] = {}
    for kind, v, key in itertools.chain(_etcd_ids(etcd), extra):
        if kind == REVISION:
            live.add(v)
        elif kind == VERSION:
            if v and key is not None:
                versions.add((key, v))
        elif kind == UID:
            if key is not None and key.startswith("nodes/"):
                node_uids[v] = key  # a Node's own uid
            else:
                uids.add(v)
    live.discard(0)
    # An object version that no event of the history carries is settled: every informer watching its resource has
    # passed it (or is expired, and compares no position with it), so only its order among the versions of its
    # key and its being below every position count. Such versions are numbered apart from the live revisions, by
    # (key, revision), even when one equals a live revision: whether it does depends on the order of writes and
    # on etcd's own revision, which the representative does not keep (``spec.reduction.writeorder._free_revision``).
    in_history = {e.rv for e in etcd.history}
    settled = sorted(kv for kv in versions if kv[1] not in in_history)
    # Node uids are only ever compared for equality: number them by name, so that renaming nodes is a symmetry.
    uids -= node_uids.keys()
    uids.discard(0)
    next_uid = len(uids) + 1
    nodes_by_name = sorted(node_uids.items(), key=lambda kv: kv[1])
    settled_map = {kv: i - len(settled) for i, kv in enumerate(settled)}
    ranked = sorted(uids)
    if (etcd.next_uid == next_uid and _is_one_to_n(live)
            and all(kv[1] == v for kv, v in settled_map.items())
            and all(u == i for i, u in enumerate(ranked, 1))
            and all(uid == -i for i, (uid, _) in enumerate(nodes_by_name, 1))):
        return None
    rv_map = {v: i for i, v in enumerate(sorted(live), 1)}
    uid_map = {v: i for i, v in enumerate(ranked, 1)}
    for i, (uid, _) in enumerate(nodes_by_name, 1):
        uid_map[uid] = -i
    return (tuple(sorted((a, b) for a, b in rv_map.items() if a != b)),
            tuple(sorted((a, b) for a, b in settled_map.items() if a[1] != b)),
            tuple(sorted((a, b) for a, b in uid_map.items() if a != b)), next_uid)


@functools.lru_cache(maxsize=1 << 14)
def _renumbered_etcd(etcd: Etcd, plan: _IdPlan) -> Etcd:
    """``etcd`` renumbered by ``plan``, interned (memoised: many states share etcd and their renumbering). Each
    API object, in etcd and in its history, is renumbered through ``_renumbered_object`` (the generic rewrite of
    etcd then finds them in its per-call memo, ``fields.Rewrite.memo``, and only rebuilds the containers)."""
    rw = _rewrite_of(plan)
    memo = rw.memo
    for k, o in etcd.objects.items():
        memo[id(o)] = (o, _renumbered_object(o, k, rw))
    for e in etcd.history:
        for held in (e.obj, e.prev):
            if held is not None and id(held) not in memo:
                memo[id(held)] = (held, _renumbered_object(held, e.key, rw))
    out: Etcd = fields.rewrite(etcd, rw, fields.IDS)
    return _interned_etcd(out)


@functools.lru_cache(maxsize=1 << 16)
def _object_ids(o: Object, key: Key) -> tuple[_Triple, ...]:
    """The ids the API object ``o`` (held under ``key``) holds, in the order its collector lists them."""
    out: list[_Triple] = []
    fn = fields.collector(type(o), fields.IDS)
    if fn is not None:
        fn(o, key, out)
    return tuple(out)


def _image(t: _Triple, rw: fields.Rewrite) -> Any:
    """What renumbering by ``rw`` makes of the id ``t`` (the leaves of ``fields``' rewriters)."""
    kind, v, key = t
    if kind == UID:
        return rw.uids.get(v, v)
    if kind == REVISION:
        return rw.revisions.get(v, v)
    if kind == VERSION:
        return fields.version_image(v, rw, key)
    if kind == NEXT_UID:
        return v if rw.next_uid is None else rw.next_uid
    raise ValueError(f"not an id kind: {kind!r}")


_object_images: Memo[tuple[Object, Key, tuple[Any, ...]], Object] = Memo(1 << 16)
"""(API object, its key, the images of its ids) -> the object renumbered, interned (``_renumbered_object``)."""


def _renumbered_object(o: Object, key: Key, rw: fields.Rewrite) -> Object:
    """``o`` (held under ``key``) renumbered by ``rw``, interned: ``fields.rewrite`` of it, memoised on the object
    and the images of the ids it holds.

    Why that is the rewrite: the rewriter and the collector of a class are compiled from the same field
    declarations (``spec.idfields``), walk the same fields with the same key context, and the rewriter replaces
    each id by its image under ``rw`` and nothing else (its leaves), so the rewrite of ``o`` is a function of
    ``o``, ``key`` and the images of the ids the collector lists. Many states renumber the same object the same
    way although their renumberings differ elsewhere (web-two-nodes' first 20,000 states: 98.5% of the
    (object, renumbered object) pairs repeat one seen before); tests/spec/test_spec_canonical.py compares it
    with the plain rewrite. Only speed depends on it."""
    ids = _object_ids(o, key)
    if not ids:
        return o
    # The images of the ids (``_image``, written out): when none moves, the rewrite is ``o`` itself (interned,
    # as etcd's objects are).
    uids, revisions, versions = rw.uids, rw.revisions, rw.versions
    images: list[Any] = []
    moved = False
    for kind, v, k in ids:
        if kind == UID:
            n = uids.get(v, v)
        elif kind == REVISION:
            n = revisions.get(v, v)
        elif kind == VERSION:
            n = versions.get((k, v)) if versions and k is not None else None
            if n is None:
                n = revisions.get(v, v)
        else:
            n = _image((kind, v, k), rw)
        if n != v:
            moved = True
        images.append(n)
    if not moved:
        return o
    mk = (o, key, tuple(images))
    out = _object_images.get(mk)
    if out is None:
        fn = fields.rewriter(type(o), fields.IDS)
        plain = fields.Rewrite(uids=rw.uids, revisions=rw.revisions, versions=rw.versions, next_uid=rw.next_uid)
        out = o if fn is None else interned(fn(o, plain, key))
        _object_images.put(mk, out)
    return out


def _map_values(m: immutables.Map[str, Object], f: Callable[[Object], Object]) -> immutables.Map[str, Object]:
    """``m`` with ``f`` applied to its values: ``m`` itself when ``f`` returns every value as it is."""
    changes = [(k, n) for k, o in m.items() if (n := f(o)) is not o]
    if not changes:
        return m
    mut = m.mutate()
    for k, n in changes:
        mut[k] = n
    return mut.finish()


# --- node symmetry -------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _permutations(groups: tuple[tuple[str, ...], ...]) -> tuple[dict[str, str], ...]:
    """Every renaming within the groups (the identity first); memoised, so callers must not mutate them."""
    per_group = []
    for g in groups:
        per_group.append([dict(zip(g, p, strict=True)) for p in itertools.permutations(g)])
    out = []
    for combo in itertools.product(*per_group):
        merged: dict[str, str] = {}
        for m in combo:
            merged.update({k: v for k, v in m.items() if k != v})
        out.append(merged)
    return tuple(out)


def _fingerprint(state: ClusterState, perm: dict[str, str]) -> tuple[Any, ...]:
    """A deterministic order on the members of an orbit, computed for ``state`` renamed by ``perm`` without
    building it: the node names objects hold (``_placed_best``), and what each kubelet runs and has seen.
    Members with equal keys only cost some reduction (the first permutation wins), never soundness.
    (``_best_permutation`` computes the same order.)"""
    located = _located(state.etcd.objects, set(perm) | {k.node for k in state.kubelets})
    pods = tuple(sorted((k, tuple([perm.get(n, n) for n in held])) for k, held in located))
    kubelets = tuple(
        (k.up, k.failed, k.partitioned, k.runtime_down, tuple(sorted((c.pod, c.running) for c in k.runtime)),
         None if k.informer is None else _seen(k.informer))
        for k in sorted(state.kubelets, key=lambda k: perm.get(k.node, k.node))
    )
    sched = tuple(
        (tuple(sorted((k, u, perm.get(n, n)) for k, (u, n) in s.assumed.items())),
         tuple((k, u, perm.get(n, n)) for k, u, n in s.binding))
        for s in state.schedulers
    )
    return (pods, kubelets, sched)


def _seen(i: Informer) -> tuple[Any, ...]:
    """What a kubelet's informer contributes to ``_fingerprint``: its position, and its cache when expired (a
    watching informer's cache follows from etcd, and may be stale while the representative is computed)."""
    return (i.rv, i.expired, tuple(sorted(i.cache)) if i.expired else ())


def _best_permutation(state: ClusterState, perms: tuple[dict[str, str], ...],
                      placed: tuple[dict[str, str], ...] = (), *, ordered: bool = True) -> dict[str, str]:
    """The first of ``perms`` with the smallest ``_fingerprint``, comparing the fingerprints' parts one at a time
    and computing a part only for the permutations still tied (the parts that do not depend on the permutation
    are computed once). ``placed``: ``_placed_best(state.etcd.objects, perms)``, when the caller has it.
    ``ordered``: False when the write-order reduction chose the history's order before the renaming (then the
    last part reads neither the history's order nor resourceVersions, which that order assigns: a representative
    renamed and reordered again must choose the same renaming)."""
    if len(perms) == 1:
        return perms[0]
    candidates = list(placed or _placed_best(state.etcd.objects, perms))
    if len(candidates) > 1:
        seen = {
            k.node: (k.up, k.failed, k.partitioned, k.runtime_down,
                     tuple(sorted((c.pod, c.running) for c in k.runtime)),
                     None if k.informer is None else _seen(k.informer))
            for k in state.kubelets
        }
        values = iter(seen.values())
        first = next(values, None)
        if any(v != first for v in values):  # all alike: every permutation gives the same key
            nodes = tuple(k.node for k in state.kubelets)
            candidates = _tied(candidates, [tuple(seen[n] for n in _renamed_order(nodes, perm))
                                            for perm in candidates])
    if len(candidates) > 1 and any(s.assumed or s.binding for s in state.schedulers):  # else all tie
        candidates = _tied(candidates, [
            tuple(
                (tuple(sorted((k, u, perm.get(n, n)) for k, (u, n) in s.assumed.items())),
                 tuple((k, u, perm.get(n, n)) for k, u, n in s.binding))
                for s in state.schedulers
            ) for perm in candidates])
    if len(candidates) > 1:
        # Objects the history still carries (a deleted pod lives on only there) and expired informers' caches hold
        # node names too: a tie left to the permutations' order made a representative depend on the path. Every
        # node name they hold, as ``_placed_best`` reads etcd's objects: a DaemonSet's deleted pods, pinned to
        # their nodes by node affinity and never bound, once tied (found by tests/spec/test_spec_reductions.py,
        # ``test_deleted_daemon_pods_order_the_renamings``). Objects whose keys name a renamed node are left to
        # the last part (their keys are renamed with them).
        moved = frozenset(n for perm in candidates for n in perm)
        events = [(e.rv, e.key, _held(e.obj), _held(e.prev)) for e in state.etcd.history
                  if moved.isdisjoint(e.key.split("/"))]
        cached = [(i, k, _held(o)) for i, (who, _, _, inf) in enumerate(state.informer_slots())
                  if who != "kubelet" and inf is not None and inf.expired  # kubelets are ranked above
                  for k, o in inf.cache.items() if moved.isdisjoint(k.split("/"))]
        if any(a or b for _, _, a, b in events) or any(n for _, _, n in cached):
            candidates = _tied(candidates, [
                (tuple((rv, k, _renamed_all(a, perm), _renamed_all(b, perm)) for rv, k, a, b in events),
                 tuple(sorted((i, k, _renamed_all(n, perm)) for i, k, n in cached))) for perm in candidates])
    if len(candidates) > 1:
        # What else can tell the renamings apart: the objects and events whose keys name the nodes (a Node's status,
        # a node's Lease: the orders above leave them out, as a key that names a node is renamed with it), the same
        # in expired informers' caches, and whatever the components hold of the nodes (the node lifecycle
        # controller's grace timers, a drain's node, a queued node key...), each renamed by each candidate and
        # compared by its encoding: a function of the renamed state alone, so every renaming of one state ties
        # the same way. Generic (every field that declares a node name, a key or a hostname label:
        # ``spec.idfields``), so a new one cannot be overlooked. Found by tests/spec/test_spec_reductions.py: two
        # failed nodes whose grace timers differed tied, and so did two nodes updated in the other order; each
        # orbit kept two representatives.
        renamed = frozenset(n for perm in candidates for n in perm)
        objs = _node_objects(state.etcd.objects, renamed)
        writes = [e for e in state.etcd.history if _names(e.key, renamed)] if ordered else []
        copies = [(i, k, o) for i, inf in enumerate(state.informers()) if inf is not None and inf.expired
                  for k, o in inf.cache.items() if _names(k, renamed)]
        records = [r for r in _component_records(state) if _names_nodes(r, renamed)]
        candidates = _tied(candidates, [
            # Objects without their resourceVersions: renumbering numbers a settled version by its key's name
            # (``_id_plan``), so versions of two keys do not keep their order (the events carry the live ones).
            (tuple(sorted((_renamed(k, perm), _encoded(o, perm, versions=False)) for k, o in objs)),
             tuple((e.rv, _renamed(e.key, perm), _encoded(e.obj, perm), _encoded(e.prev, perm)) for e in writes),
             tuple(sorted((i, _renamed(k, perm), _encoded(o, perm, versions=False)) for i, k, o in copies)),
             tuple(_encoded(r, perm) for r in records)) for perm in candidates])
    return candidates[0]


@functools.lru_cache(maxsize=1 << 14)
def _held(o: Object | None) -> tuple[str, ...]:
    """The node names the API object ``o`` holds, in field order (empty ones left out), through the fields that
    declare one (``spec.idfields``): a pod's nodeName and its node affinity's, a claim's selected node...
    Memoised: objects are interned and shared among states."""
    return () if o is None else tuple([v for _, v, _ in fields.collect(o, _NODE_NAMES) if v])


def _renamed_all(names: tuple[str, ...], perm: dict[str, str]) -> tuple[str, ...]:
    return tuple([perm.get(n, n) for n in names])


def _names(key: str, nodes: frozenset[str]) -> bool:
    """Whether the key ``key`` names one of ``nodes``."""
    return not nodes.isdisjoint(key.split("/"))


def _renamed(key: str, perm: dict[str, str]) -> str:
    return "/".join([perm.get(part, part) for part in key.split("/")])


@functools.lru_cache(maxsize=1 << 12)
def _node_objects(objects: immutables.Map[Key, Object], nodes: frozenset[str]) -> tuple[tuple[Key, Object], ...]:
    """etcd's objects whose keys name one of ``nodes``. Memoised: states share their objects."""
    return tuple((k, o) for k, o in objects.items() if _names(k, nodes))


def _encoded(o: Any, perm: dict[str, str], versions: bool = True) -> str:
    """A total order's encoding of ``o`` renamed by ``perm`` (``repr``: equal values, equal encodings); without
    ``versions``, an API object's resourceVersion is left out."""
    return "" if o is None else _encoding(o, tuple(sorted(perm.items())), versions)


@functools.lru_cache(maxsize=1 << 14)
def _encoding(o: Any, perm: tuple[tuple[str, str], ...], versions: bool) -> str:
    meta = getattr(o, "meta", None)
    if not versions and meta is not None and meta.resource_version:
        o = attrs.evolve(o, meta=attrs.evolve(meta, resource_version=0))
    if isinstance(o, Node):
        # A Node's own uid is numbered by its name (``_id_plan``), not in creation order as every other uid and
        # revision is: left out, the order is the same before and after renumbering (``Representatives``).
        o = attrs.evolve(o, meta=attrs.evolve(o.meta, uid=0))
    return _NUMBER.sub(_fixed_width, repr(fields.rewrite(o, fields.Rewrite(nodes=dict(perm), keep=_SKELETON),
                                                         fields.NODES)))


_NUMBER = re.compile(r"-?\d+")


def _fixed_width(m: re.Match[str]) -> str:
    """A number of an encoding written so that encodings compare as the numbers do (negative below positive, and
    "9" below "10"): renumbering keeps the order of uids and revisions, not their decimal strings' order, and the
    general path compares before renumbering what the memoised one compares after."""
    n = int(m.group())
    return f"1{n:020d}" if n >= 0 else f"0{10**20 + n:020d}"


_HANDLED = frozenset({"etcd", "kubelets", "schedulers"})
"""What ``_best_permutation`` compares before its generic part (etcd through ``_placed_best`` and the history)."""


def _component_records(state: ClusterState) -> list[Any]:
    """The component records of ``state`` that may hold node names, other than ``_HANDLED`` (informers are
    skipped inside them: a watching informer's cache follows from etcd, an expired one's is compared above)."""
    out = []
    for f in attrs.fields(ClusterState):
        if f.name not in _HANDLED:
            v = getattr(state, f.name)
            if attrs.has(type(v)) and fields.collector(type(v), fields.NODES, _SKELETON) is not None:
                out.append(v)
    return out


@functools.lru_cache(maxsize=1 << 12)
def _names_nodes(record: Any, nodes: frozenset[str]) -> bool:
    """Whether the component record ``record`` holds one of ``nodes`` (as a node name, in a key or as a hostname
    label), outside informers. Memoised: records are hashable and shared among states."""
    for kind, v, _ in fields.collect(record, fields.NODES, _SKELETON):
        if kind in (NODE, NAME):
            if v in nodes:
                return True
        elif isinstance(v, str):
            if not nodes.isdisjoint(v.split("/")):
                return True
        elif any(isinstance(x, str) and x in nodes for pair in v for x in pair):  # labels
            return True
    return False


_NODE_NAMES = frozenset({NODE})
"""The node names an object holds (``_placed_best``)."""


def _located(objects: immutables.Map[Key, Object], nodes: set[str]) -> list[tuple[Key, tuple[str, ...]]]:
    """Each object's (key, the node names it holds, in field order), for the objects that hold one and whose keys
    name none of ``nodes`` (what ``_placed_best`` and ``_fingerprint`` order the renamings by)."""
    out = []
    for k, o in objects.items():
        held = tuple([v for _, v, _ in fields.collect(o, _NODE_NAMES)])
        if held and nodes.isdisjoint(k.split("/")):
            out.append((k, held))
    return out

_placements: Memo[tuple[int, immutables.Map[Key, Object]],
                  tuple[tuple[dict[str, str], ...], tuple[dict[str, str], ...]]] = Memo(1 << 16)


def _placed_best(objects: immutables.Map[Key, Object], perms: tuple[dict[str, str], ...]) -> tuple[dict[str, str], ...]:
    """The first part of ``_best_permutation``: the permutations under which the node names that objects hold
    are least: each object's (key, the node names it holds, in field order), for the objects whose keys name no
    node (a key that names one is renamed with it, so it would not order the renamed states). Not only a pod's
    ``nodeName``: a DaemonSet's pods are pinned to their nodes by node affinity before they are bound, a claim
    names its selected node, a local volume its node; with the bound node alone, two renamings of one state tied
    and the orbit kept two representatives. The names are collected through the fields that declare them
    (``spec.idfields``), so a new field holding a node name is seen. Memoised on etcd's objects (interned: many
    states share them; ``perms`` come from the ``_permutations`` memo, so their identity names them)."""
    key = (id(perms), objects)
    hit = _placements.get(key)
    if hit is not None and hit[0] is perms:
        return hit[1]
    located = _located(objects, {n for perm in perms for n in perm})
    out = tuple(_tied(list(perms), [tuple(sorted((k, tuple([perm.get(n, n) for n in held])) for k, held in located))
                                    for perm in perms]))
    _placements.put(key, (perms, out))
    return out


_orders: dict[tuple[tuple[str, ...], int], tuple[str, ...]] = {}


def _renamed_order(nodes: tuple[str, ...], perm: dict[str, str]) -> tuple[str, ...]:
    """``nodes`` in the order of their names under ``perm`` (memoised: ``perm`` comes from the
    ``_permutations`` memo, so its identity names it; the entry holds it)."""
    key = (nodes, id(perm))
    hit = _orders.get(key)
    if hit is None:
        hit = _orders[key] = tuple(n for _, n in sorted((perm.get(n, n), n) for n in nodes))
        _order_perms.append(perm)  # keeps ``perm`` alive, so its id is not reused
    return hit


_order_perms: list[dict[str, str]] = []


def _tied(perms: list[dict[str, str]], keys: list[Any]) -> list[dict[str, str]]:
    """The permutations whose key is the smallest, in their order."""
    low = min(keys)
    return [p for p, k in zip(perms, keys, strict=True) if k == low]


def rename_nodes(state: ClusterState, perm: dict[str, str]) -> ClusterState:
    """``state`` with node names permuted by ``perm`` everywhere: every field that declares a node name, an
    object key or a node's name or hostname label (``spec.idfields``), in etcd, the informers' caches, the
    scheduler, the kubelets and the node lifecycle controller."""
    return rederived(_rename_nodes(state, perm))


def _rename_components(state: ClusterState, perm: dict[str, str]) -> ClusterState:
    """``state`` with node names permuted by ``perm`` in the components only (etcd and the informers left as they
    are: the caller puts their renamed images in)."""
    out: ClusterState = fields.rewrite(state, fields.Rewrite(nodes=perm, keep=_SKELETON), fields.NODES)
    return out


def _rename_nodes(state: ClusterState, perm: dict[str, str]) -> ClusterState:
    """``rename_nodes``, leaving watching informers' caches to ``rederived`` (etcd interned). The kubelets (and
    kube-proxies) stay in the order of their nodes' names: their fields declare it (``("by", "node", OBJ)``)."""
    # A watching informer's cache is recomputed from the renamed etcd (``rederived``): not renamed here.
    bare = state.with_informers([inf if inf is None or inf.expired or not inf.cache else informer_of(
        inf.rv, _EMPTY, False, inf.high_water) for _, _, _, inf in state.informer_slots()])
    out: ClusterState = fields.rewrite(bare, fields.Rewrite(nodes=perm), fields.NODES)
    return intern_objects(out)
