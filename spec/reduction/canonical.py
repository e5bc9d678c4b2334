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
from collections.abc import Callable
from typing import Any

import attrs
import immutables

from spec.informer import SCHEDULER, cache_at
from spec.scheduling.types import HOSTNAME_LABEL
from spec.state import (
    KCM_RESOURCES,
    ClusterState,
    ControllerManager,
    Etcd,
    Informer,
    Key,
    Kubelet,
    Node,
    NodeLifecycle,
    Object,
    OwnerRef,
    Pod,
    QueuedPod,
    RuntimeContainer,
    Scheduler,
    WatchEvent,
    object_key,
    replace_meta,
    with_ids,
)


def _informers(state: ClusterState) -> list[Informer]:
    out = list(state.kcm.informers)
    out += [s.informer for s in state.schedulers]
    out += [k.informer for k in state.kubelets if k.informer is not None]
    return out


def canonical_state(
    state: ClusterState, symmetric: tuple[tuple[str, ...], ...], *, renumber: bool = True
) -> ClusterState:
    """The representative of ``state``'s class (its watching informers' caches taken from ``cache_at``)."""
    return _canonical(_expired_at_compaction(intern_objects(state)), symmetric, renumber)


_Skeleton = tuple[Etcd, tuple["Informer | None", ...], dict[int, int]]
"""What the representative makes of etcd and the informers: etcd, the informers in ``informer_slots`` order, and
the uids renamed (old -> new, identities left out), which the components' own uids follow."""


class Representatives:
    """``Model.canonical`` of one model: the composition of the reductions on (write order, node symmetry,
    renumbering), computed once per *skeleton*.

    The representative's etcd and informers are a function of etcd, of each informer's position, high-water
    mark and expiry (and cache, when expired: a watching informer's cache is a function of the rest,
    ``spec.state.Informer``), and of the uids the components hold (which take part in the uid numbering): the
    skeleton. Many states share one (they differ in queues, timers, containers, budgets), so the skeleton's
    image is memoised, and a state costs one look-up, a rebuild of the parts that changed, and the components'
    uids renamed when the numbering moved them. Where interchangeable nodes are renamed (a permutation other than
    the identity is the least), the state takes the general path (``canonical_state``): renaming moves node
    names in the components too. Both paths give the same representative: the skeleton's image is computed by
    the general path itself; the least permutation of the renumbered state is the least of the state before
    renumbering, because renumbering keeps the order of every revision and uid that ``_fingerprint`` compares.
    """

    def __init__(self, symmetric: tuple[tuple[str, ...], ...], renumber: bool, reorder: bool,
                 reorder_fn: Callable[[ClusterState], ClusterState] | None = None, size: int = 1 << 17) -> None:
        self.symmetric = symmetric
        self.perms = _permutations(symmetric) if symmetric else ()
        self.renumber = renumber
        self.reorder = reorder_fn if reorder else None
        self.size = size
        self.memo: dict[tuple[Any, ...], _Skeleton] = {}

    def general(self, state: ClusterState) -> ClusterState:
        """The representative by definition: every reduction in turn."""
        if self.reorder is not None:
            state = self.reorder(state)
        return canonical_state(state, self.symmetric, renumber=self.renumber)

    def __call__(self, state: ClusterState) -> ClusterState:
        slots = state.informer_slots()
        positions: list[Any] = []
        add = positions.append
        for _, _, _, inf in slots:
            if inf is None:
                add(None)
            elif inf.expired:
                add((inf.rv, inf.high_water, inf.cache))
            else:
                add(inf.rv)
                add(inf.high_water)
        others = _local_uids(state)
        key = (state.etcd, tuple(positions), others)
        memo = self.memo
        skeleton = memo.get(key)
        if skeleton is None:
            skeleton = self._skeleton(state, others)
            if len(memo) >= self.size:
                memo.clear()
            memo[key] = skeleton
        etcd, infs, uids = skeleton
        out = state.with_informers(list(infs), etcd)
        if uids and not others.isdisjoint(uids):
            out = _with_local_uids(out, uids)
        if self.perms and _best_permutation(out, self.perms):
            return self.general(state)
        return out

    def _skeleton(self, state: ClusterState, others: frozenset[int]) -> _Skeleton:
        """The skeleton's image, by the general path without symmetry (``others``: ``_local_uids(state)``)."""
        if self.reorder is not None:
            state = self.reorder(state)
        state = _expired_at_compaction(intern_objects(state))
        uids: dict[int, int] = {}
        if self.renumber:
            plan = _plan_of(state, others)
            if plan is not None:
                uids = dict(plan[2])
            out = _renumber_ids(state)
            if out is state:
                out = rederived(state)
        else:
            out = rederived(state)
        return out.etcd, tuple(inf for _, _, _, inf in out.informer_slots()), uids


def _local_uids(state: ClusterState) -> frozenset[int]:
    """The uids the components hold (the scheduler's queue, assumed pods and binds, the kubelets' containers)."""
    out: set[int] = set()
    for k in state.kubelets:
        if k.runtime:
            out.update(c.uid for c in k.runtime)
    for s in state.schedulers:
        if s.queue:
            out.update(q.uid for q in s.queue)
        if s.assumed:
            out.update(u for u, _ in s.assumed.values())
        if s.binding:
            out.update(u for _, u, _ in s.binding)
    return frozenset(out)


def _with_local_uids(state: ClusterState, uids: dict[int, int]) -> ClusterState:
    """``state`` with the components' uids renamed by ``uids``."""
    def uid(u: int) -> int:
        return uids.get(u, u)

    schedulers = []
    for s in state.schedulers:
        queue = tuple(q if uid(q.uid) == q.uid else QueuedPod(q.key, uid(q.uid), q.where, q.attempts, q.plugins,
                                                              q.backoff, q.flush) for q in s.queue)
        assumed = s.assumed
        if any(uid(u) != u for u, _ in assumed.values()):
            assumed = immutables.Map({k: (uid(u), n) for k, (u, n) in assumed.items()})
        binding = s.binding
        if any(uid(u) != u for _, u, _ in binding):
            binding = tuple((k, uid(u), n) for k, u, n in binding)
        schedulers.append(Scheduler(s.name, s.informer, queue, assumed, binding))
    kubelets = []
    for k in state.kubelets:
        runtime = k.runtime
        if any(uid(c.uid) != c.uid for c in runtime):
            runtime = frozenset(RuntimeContainer(c.pod, uid(c.uid), c.name, c.image, c.running, c.managed)
                                for c in runtime)
        kubelets.append(k if runtime is k.runtime else Kubelet(k.node, k.up, k.informer, runtime, k.failed))
    return state._with(schedulers=tuple(schedulers), kubelets=tuple(kubelets))


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
    compacted = state.etcd.compacted
    infs: list[Informer | None] = []
    changed = False
    for _, _, _, inf in state.informer_slots():
        if inf is not None and inf.expired and inf.rv < compacted and inf.high_water <= inf.rv:
            inf = informer_of(compacted, inf.cache, True, compacted)
            changed = True
        infs.append(inf)
    return state.with_informers(infs) if changed else state


def _canonical(state: ClusterState, symmetric: tuple[tuple[str, ...], ...], renumber: bool) -> ClusterState:
    """The representative of an interned state."""
    if symmetric:
        best = _best_permutation(state, _permutations(symmetric))
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
    etcd = state.etcd
    infs: list[Informer | None] = []
    changed = False
    for _, _, scope, inf in state.informer_slots():
        if inf is not None and not inf.expired:
            cache = cache_at(etcd, scope, inf.rv)
            if cache is not inf.cache:
                inf = informer_of(inf.rv, cache, False, inf.high_water)
                changed = True
        infs.append(inf)
    return state.with_informers(infs) if changed else state


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


@functools.lru_cache(maxsize=1 << 16)
def interned(o: Object) -> Object:
    """The first-seen object equal to ``o``."""
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


_Ids = tuple[frozenset[tuple[str, int]], frozenset[int], frozenset[int], frozenset[tuple[int, str]]]


@functools.lru_cache(maxsize=1 << 14)
def _map_ids(objects: immutables.Map[str, Object]) -> _Ids:
    """Of a cache or of etcd's objects: the (key, resourceVersion) pairs (rv 0 left out), the objects' uids, the
    owners' uids, and the nodes' (uid, key). Memoised: most states share most of their maps with their parent."""
    versions, uids, owners, nodes = set(), set(), set(), set()
    for key, o in objects.items():
        m = o.meta
        if m.resource_version:
            versions.add((key, m.resource_version))
        uids.add(m.uid)
        if m.owner is not None:
            owners.add(m.owner.uid)
        if type(o) is Node:
            nodes.add((m.uid, key))
    return frozenset(versions), frozenset(uids), frozenset(owners), frozenset(nodes)


def _is_one_to_n(values: set[int]) -> bool:
    """``values`` (distinct ints) are exactly 1..len(values)."""
    return not values or (min(values) == 1 and max(values) == len(values))


@functools.lru_cache(maxsize=1 << 14)
def _etcd_ids(etcd: Etcd) -> tuple[frozenset[int], _Ids]:
    """etcd's live revisions (its own, its compaction point's, its history's) and ``_map_ids`` of its objects and
    of the history's objects. Memoised: a step that writes nothing leaves etcd as it was."""
    live = {etcd.revision, etcd.compacted, *(e.rv for e in etcd.history)}
    v, u, ow, nd = _map_ids(etcd.objects)
    versions, obj_uids, owner_uids, node_pairs = set(v), set(u), set(ow), set(nd)
    for e in etcd.history:
        for o in (e.obj, e.prev):
            if o is not None:
                m = o.meta
                if m.resource_version:
                    versions.add((e.key, m.resource_version))
                obj_uids.add(m.uid)
                if m.owner is not None:
                    owner_uids.add(m.owner.uid)
                if type(o) is Node:
                    node_pairs.add((m.uid, e.key))
    return frozenset(live), (frozenset(versions), frozenset(obj_uids), frozenset(owner_uids), frozenset(node_pairs))


_IdPlan = tuple[tuple[tuple[int, int], ...], tuple[tuple[tuple[Key, int], int], ...], tuple[tuple[int, int], ...],
                int]
"""A renumbering: (live revision pairs, settled object version pairs ((key, rv), new rv), uid pairs, etcd's next
uid), each pair (old, new), identities left out."""


def renumber_ids(state: ClusterState) -> ClusterState:
    """``state`` with revisions and uids renumbered canonically (see the module's docstring)."""
    return rederived(_renumber_ids(state))


def _renumber_ids(state: ClusterState) -> ClusterState:
    """``renumber_ids``, except that a state already numbered canonically is returned as it is, caches and all (a
    renumbered one has every watching informer's cache from ``cache_at``)."""
    plan = _plan_of(state, _local_uids(state))
    if plan is None:
        return state
    rv_pairs, settled_pairs, uid_pairs, next_uid = plan
    rv_map, settled_map, uid_map = dict(rv_pairs), dict(settled_pairs), dict(uid_pairs)
    memo: dict[int, Object] = {}

    def obj(o: Object) -> Object:
        done = memo.get(id(o))
        if done is None:
            done = memo[id(o)] = _renumbered_object(o, rv_map, settled_map, uid_map)
        return done

    return _rewrite(state, _renumbered_etcd(state.etcd, plan), obj, lambda r: rv_map.get(r, r),
                    lambda u: uid_map.get(u, u))


def _plan_of(state: ClusterState, others: frozenset[int]) -> _IdPlan | None:
    """``_id_plan`` of ``state``, whose components hold the uids ``others``."""
    infs = _informers(state)
    return _id_plan(state.etcd, tuple((i.rv, i.high_water) for i in infs), tuple(i.cache for i in infs if i.expired),
                    others)


@functools.lru_cache(maxsize=1 << 14)
def _id_plan(etcd: Etcd, positions: tuple[tuple[int, int], ...], expired: tuple[immutables.Map[str, Object], ...],
             other_uids: frozenset[int]) -> _IdPlan | None:
    """The renumbering of a state whose etcd is ``etcd``, whose informers are at ``positions`` (rv, high-water),
    whose expired informers cache ``expired`` and whose scheduler and kubelets hold ``other_uids``; None when
    the state already is numbered canonically. Memoised: most states share them with many others."""
    etcd_live, (v, u, ow, nd) = _etcd_ids(etcd)
    live = set(etcd_live)
    versions, obj_uids, owner_uids, node_pairs = set(v), set(u), set(ow), set(nd)
    for rv, high_water in positions:
        live.add(rv)
        live.add(high_water)
    # A watching informer's cache holds objects of etcd or of its history (``spec.informer.cache_at``).
    for m in expired:
        v, u, ow, nd = _map_ids(m)
        versions |= v
        obj_uids |= u
        owner_uids |= ow
        node_pairs |= nd
    live.discard(0)
    # An object version that no event of the history carries is settled: every informer watching its resource has
    # passed it (or is expired, and compares no position with it), so only its order among the versions of its
    # key and its being below every position count. Such versions are numbered apart from the live revisions, by
    # (key, revision), even when one equals a live revision: whether it does depends on the order of writes and
    # on etcd's own revision, which the representative does not keep (``spec.reduction.writeorder._free_revision``).
    in_history = {e.rv for e in etcd.history}
    settled = sorted(kv for kv in versions if kv[1] not in in_history)
    # Node uids are only ever compared for equality: number them by name, so that renaming nodes is a symmetry.
    node_uids = dict(node_pairs)
    uids = (obj_uids - node_uids.keys()) | other_uids | owner_uids
    uids.discard(0)
    next_uid = len(uids) + 1
    nodes_by_name = sorted(node_uids.items(), key=lambda kv: kv[1])
    settled_map = {kv: i - len(settled) for i, kv in enumerate(settled)}
    ranked = sorted(uids)
    if (etcd.next_uid == next_uid and _is_one_to_n(live)
            and all(kv[1] == v for kv, v in settled_map.items())
            and all(u == i or u in node_uids for i, u in enumerate(ranked, 1))
            and all(uid == -i for i, (uid, _) in enumerate(nodes_by_name, 1))):
        return None
    rv_map = {v: i for i, v in enumerate(sorted(live), 1)}
    uid_map = {v: i for i, v in enumerate(ranked, 1)}
    for i, (uid, _) in enumerate(nodes_by_name, 1):
        uid_map[uid] = -i
    return (tuple(sorted((a, b) for a, b in rv_map.items() if a != b)),
            tuple(sorted((a, b) for a, b in settled_map.items() if a[1] != b)),
            tuple(sorted((a, b) for a, b in uid_map.items() if a != b)), next_uid)


def _renumbered_object(o: Object, rv_map: dict[int, int], settled_map: dict[tuple[Key, int], int],
                       uid_map: dict[int, int]) -> Object:
    m = o.meta
    owner = m.owner
    owner_uid = 0 if owner is None else uid_map.get(owner.uid, owner.uid)
    rv = m.resource_version
    if settled_map:
        rv = settled_map.get((object_key(o), rv), rv)
    rv = rv_map.get(rv, rv) if rv == m.resource_version else rv
    uid = uid_map.get(m.uid, m.uid)
    if rv == m.resource_version and uid == m.uid and (owner is None or owner_uid == owner.uid):
        return o
    return _renumbered(o, rv, uid, owner_uid)


@functools.lru_cache(maxsize=1 << 14)
def _renumbered_etcd(etcd: Etcd, plan: _IdPlan) -> Etcd:
    """``etcd`` renumbered by ``plan``, interned (memoised: many states share etcd and their renumbering)."""
    rv_pairs, settled_pairs, uid_pairs, next_uid = plan
    rv_map, settled_map, uid_map = dict(rv_pairs), dict(settled_pairs), dict(uid_pairs)
    memo: dict[int, Object] = {}

    def obj(o: Object | None) -> Object | None:
        if o is None:
            return None
        done = memo.get(id(o))
        if done is None:
            done = memo[id(o)] = _renumbered_object(o, rv_map, settled_map, uid_map)
        return done

    objects = _map_values(etcd.objects, obj)  # type: ignore[arg-type]
    history = []
    for e in etcd.history:
        r, o, p = rv_map.get(e.rv, e.rv), obj(e.obj), obj(e.prev)
        history.append(e if r == e.rv and o is e.obj and p is e.prev else _event(e, r, o, p))
    return _interned_etcd(Etcd(rv_map.get(etcd.revision, etcd.revision), objects, tuple(history),
                               rv_map.get(etcd.compacted, etcd.compacted), next_uid))


@functools.lru_cache(maxsize=1 << 16)
def _renumbered(o: Object, rv: int, uid: int, owner_uid: int) -> Object:
    """``o`` with other ids (memoised: the same renumbering in many states gives one object)."""
    m = o.meta
    owner = m.owner
    if owner is not None and owner.uid != owner_uid:
        owner = OwnerRef(owner.kind, owner.name, owner_uid)
    return interned(replace_meta(o, with_ids(m, uid, rv, owner)))


@functools.lru_cache(maxsize=1 << 16)
def _event(e: WatchEvent, rv: int, obj: Object | None, prev: Object | None) -> WatchEvent:
    """``e`` with another revision and objects (memoised like ``_renumbered``)."""
    return WatchEvent(rv, e.type, e.key, obj, prev)


def _map_values(m: immutables.Map[str, Object], f: Callable[[Object], Object]) -> immutables.Map[str, Object]:
    """``m`` with ``f`` applied to its values: ``m`` itself when ``f`` returns every value as it is."""
    changes = [(k, n) for k, o in m.items() if (n := f(o)) is not o]
    if not changes:
        return m
    mut = m.mutate()
    for k, n in changes:
        mut[k] = n
    return mut.finish()


def _rewrite(
    state: ClusterState,
    new_etcd: Etcd,
    obj: Callable[[Object], Object],
    rv: Callable[[int], int],
    uid: Callable[[int], int],
) -> ClusterState:
    """``state`` with etcd replaced by ``new_etcd`` and every other object, revision and uid mapped; the parts
    that do not change are kept (identical objects compare at once)."""
    maps: dict[int, immutables.Map[str, Object]] = {}

    def cache(m: immutables.Map[str, Object]) -> immutables.Map[str, Object]:
        done = maps.get(id(m))
        if done is not None:
            return done
        out = maps[id(m)] = _map_values(m, obj)
        return out

    def inf(i: Informer, scope: tuple[str, str]) -> Informer:
        r = rv(i.rv)
        c = cache(i.cache) if i.expired else cache_at(new_etcd, scope, r)
        h = rv(i.high_water)
        if r == i.rv and c is i.cache and h == i.high_water:
            return i
        return informer_of(r, c, i.expired, h)

    def queued(q: QueuedPod) -> QueuedPod:
        u = uid(q.uid)
        return q if u == q.uid else QueuedPod(q.key, u, q.where, q.attempts, q.plugins, q.backoff, q.flush)

    def scheduler(s: Scheduler) -> Scheduler:
        i = inf(s.informer, SCHEDULER)
        queue = tuple(queued(q) for q in s.queue)
        assumed = s.assumed
        if any(uid(u) != u for u, _ in assumed.values()):
            assumed = immutables.Map({k: (uid(u), n) for k, (u, n) in assumed.items()})
        binding = s.binding
        if any(uid(u) != u for _, u, _ in binding):
            binding = tuple((k, uid(u), n) for k, u, n in binding)
        if i is s.informer and assumed is s.assumed and binding is s.binding and all(
                a is b for a, b in zip(queue, s.queue, strict=True)):
            return s
        return Scheduler(s.name, i, queue, assumed, binding)

    def kubelet(k: Kubelet) -> Kubelet:
        i = None if k.informer is None else inf(k.informer, ("kubelet", k.node))
        runtime = k.runtime
        if any(uid(c.uid) != c.uid for c in runtime):
            runtime = frozenset(RuntimeContainer(c.pod, uid(c.uid), c.name, c.image, c.running, c.managed)
                                for c in runtime)
        if i is k.informer and runtime is k.runtime:
            return k
        return Kubelet(k.node, k.up, i, runtime, k.failed)

    kcm = state.kcm
    infs = tuple(inf(i, ("kcm", resource)) for i, resource in zip(kcm.informers, KCM_RESOURCES, strict=True))
    if any(a is not b for a, b in zip(infs, kcm.informers, strict=True)):
        kcm = ControllerManager(infs, kcm.rs_queue, kcm.deploy_queue, kcm.expectations)
    return ClusterState(new_etcd, kcm, tuple(scheduler(s) for s in state.schedulers),
                        tuple(kubelet(k) for k in state.kubelets), state.pending_commands, state.budget,
                        state.ghost, state.lifecycle)


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
    building it: where pods are, and what each kubelet runs and has seen. Members with equal keys only cost some
    reduction (the first permutation wins), never soundness. (``_best_permutation`` computes the same order.)"""
    pods = tuple(sorted((k, perm.get(o.node_name, o.node_name)) for k, o in state.etcd.objects.items()
                        if isinstance(o, Pod)))
    kubelets = tuple(
        (k.up, tuple(sorted((c.pod, c.running) for c in k.runtime)),
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


def _best_permutation(state: ClusterState, perms: tuple[dict[str, str], ...]) -> dict[str, str]:
    """The first of ``perms`` with the smallest ``_fingerprint``, comparing the fingerprints' parts one at a time
    and computing a part only for the permutations still tied (the parts that do not depend on the permutation
    are computed once)."""
    if len(perms) == 1:
        return perms[0]
    candidates = list(_placed_best(state.etcd.objects, perms))
    if len(candidates) > 1:
        seen = {
            k.node: (k.up, tuple(sorted((c.pod, c.running) for c in k.runtime)),
                     None if k.informer is None else _seen(k.informer))
            for k in state.kubelets
        }
        nodes = [k.node for k in state.kubelets]
        candidates = _tied(candidates, [
            tuple(seen[n] for _, n in sorted((perm.get(n, n), n) for n in nodes)) for perm in candidates])
    if len(candidates) > 1:
        candidates = _tied(candidates, [
            tuple(
                (tuple(sorted((k, u, perm.get(n, n)) for k, (u, n) in s.assumed.items())),
                 tuple((k, u, perm.get(n, n)) for k, u, n in s.binding))
                for s in state.schedulers
            ) for perm in candidates])
    if len(candidates) > 1:
        # Pods the history still carries (a deleted pod lives on only there) and expired informers' caches hold
        # node names too: a tie left to the permutations' order made a representative depend on the path.
        def node_of(o: Object | None) -> str:
            return o.node_name if isinstance(o, Pod) else ""

        events = [(e.rv, e.key, node_of(e.obj), node_of(e.prev)) for e in state.etcd.history]
        cached = [(i, k, o.node_name) for i, (who, _, _, inf) in enumerate(state.informer_slots())
                  if who != "kubelet" and inf is not None and inf.expired  # kubelets are ranked above
                  for k, o in inf.cache.items() if isinstance(o, Pod)]
        if any(a or b for _, _, a, b in events) or any(n for _, _, n in cached):
            candidates = _tied(candidates, [
                (tuple((rv, k, perm.get(a, a), perm.get(b, b)) for rv, k, a, b in events),
                 tuple(sorted((i, k, perm.get(n, n)) for i, k, n in cached))) for perm in candidates])
    return candidates[0]


_placements: dict[tuple[int, immutables.Map[Key, Object]],
                  tuple[tuple[dict[str, str], ...], tuple[dict[str, str], ...]]] = {}


def _placed_best(objects: immutables.Map[Key, Object], perms: tuple[dict[str, str], ...]) -> tuple[dict[str, str], ...]:
    """The first part of ``_best_permutation``: the permutations under which the pods' nodes are least. Memoised
    on etcd's objects (interned: many states share them; ``perms`` come from the ``_permutations`` memo, so
    their identity names them)."""
    key = (id(perms), objects)
    hit = _placements.get(key)
    if hit is not None and hit[0] is perms:
        return hit[1]
    located = [(k, o.node_name) for k, o in objects.items() if isinstance(o, Pod)]
    if len(_placements) >= 1 << 16:
        _placements.clear()
    out = tuple(_tied(list(perms), [tuple(sorted((k, perm.get(n, n)) for k, n in located)) for perm in perms]))
    _placements[key] = (perms, out)
    return out


def _tied(perms: list[dict[str, str]], keys: list[Any]) -> list[dict[str, str]]:
    """The permutations whose key is the smallest, in their order."""
    low = min(keys)
    return [p for p, k in zip(perms, keys, strict=True) if k == low]


def rename_nodes(state: ClusterState, perm: dict[str, str]) -> ClusterState:
    """``state`` with node names permuted by ``perm`` everywhere: etcd, the controller manager's caches (a cached
    pod keeps spec.nodeName), the scheduler and the kubelets."""
    return rederived(_rename_nodes(state, perm))


def _rename_nodes(state: ClusterState, perm: dict[str, str]) -> ClusterState:
    """``rename_nodes`` leaving watching informers' caches stale (etcd interned)."""
    names = tuple(sorted(perm.items()))

    def name(n: str) -> str:
        return perm.get(n, n)

    def inf(i: Informer) -> Informer:
        if not i.expired:
            return i  # its cache is recomputed below
        cache = _renamed_map(i.cache, names)
        return i if cache is i.cache else Informer(i.rv, cache, i.expired, i.high_water)

    etcd = state.etcd
    new_etcd = Etcd(etcd.revision, _renamed_map(etcd.objects, names),
                    tuple(_renamed_event(e, names) for e in etcd.history), etcd.compacted, etcd.next_uid)
    schedulers = tuple(
        Scheduler(s.name, inf(s.informer), s.queue,
                  immutables.Map({k: (u, name(n)) for k, (u, n) in s.assumed.items()}),
                  tuple(sorted((k, u, name(n)) for k, u, n in s.binding)))
        for s in state.schedulers
    )
    kubelets = tuple(sorted(
        (Kubelet(name(k.node), k.up, None if k.informer is None else inf(k.informer), k.runtime, k.failed)
         for k in state.kubelets),
        key=lambda k: k.node,
    ))
    kcm = state.kcm
    new_kcm = ControllerManager(tuple(inf(i) for i in kcm.informers), kcm.rs_queue, kcm.deploy_queue,
                                kcm.expectations)
    return intern_objects(
        ClusterState(new_etcd, new_kcm, schedulers, kubelets, state.pending_commands, state.budget, state.ghost,
                     _renamed_lifecycle(state.lifecycle, perm)))


def _renamed_lifecycle(lc: NodeLifecycle, perm: dict[str, str]) -> NodeLifecycle:
    """The node lifecycle controller's timers with node names renamed (``spec.faults.symmetric_nodes`` turns
    symmetry off where nodes can fail, so these are empty wherever symmetry is on; renamed all the same)."""
    if not lc.grace:
        return lc
    return NodeLifecycle(tuple(sorted((perm.get(n, n), ms) for n, ms in lc.grace)), lc.evictions, lc.disrupted)


@functools.lru_cache(maxsize=1 << 14)
def _renamed(o: Object, names: tuple[tuple[str, str], ...]) -> Object:
    """``o`` with node names renamed by ``names`` (sorted (old, new) pairs); memoised and interned."""
    perm = dict(names)
    if isinstance(o, Pod) and o.node_name in perm:
        return interned(Pod(o.meta, o.containers, attrs.evolve(o.info, node_name=perm[o.node_name]), o.status,
                            o.scheduler_name))
    if isinstance(o, Node) and o.meta.name in perm:
        new = perm[o.meta.name]
        labels = tuple((k, new if k == HOSTNAME_LABEL else v) for k, v in o.info.labels)
        return interned(Node(meta=attrs.evolve(o.meta, name=new, labels=labels),
                             info=attrs.evolve(o.info, name=new, labels=labels), ready=o.ready))
    return o


def _renamed_key(k: str, perm: dict[str, str]) -> str:
    if k.startswith("nodes/"):
        n = k[6:]
        return "nodes/" + perm.get(n, n)
    return k


@functools.lru_cache(maxsize=1 << 14)
def _renamed_map(m: immutables.Map[str, Object], names: tuple[tuple[str, str], ...]) -> immutables.Map[str, Object]:
    """A cache or etcd's objects with node names renamed (keys and objects); memoised and interned."""
    perm = dict(names)
    return _interned_map(immutables.Map({_renamed_key(k, perm): _renamed(o, names) for k, o in m.items()}))


@functools.lru_cache(maxsize=1 << 14)
def _renamed_event(e: WatchEvent, names: tuple[tuple[str, str], ...]) -> WatchEvent:
    return WatchEvent(e.rv, e.type, _renamed_key(e.key, dict(names)),
                      None if e.obj is None else _renamed(e.obj, names),
                      None if e.prev is None else _renamed(e.prev, names))
