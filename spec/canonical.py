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

Every map is a bijection applied to the whole state, so the representative is reachable iff the state is, by the
same steps renamed (a bisimulation), and every property is invariant under it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import attrs
import immutables

from spec.state import (
    ClusterState,
    Etcd,
    Informer,
    Kubelet,
    Node,
    Object,
    OwnerRef,
    Pod,
    QueuedPod,
    RuntimeContainer,
    Scheduler,
    WatchEvent,
    replace_meta,
    with_ids,
)


def _informers(state: ClusterState) -> list[Informer]:
    return [inf for _, _, _, inf in state.informer_slots() if inf is not None]


def _objects(state: ClusterState) -> list[tuple[str, Object]]:
    out: list[tuple[str, Object]] = list(state.etcd.objects.items())
    for e in state.etcd.history:
        if e.obj is not None:
            out.append((e.key, e.obj))
        if e.prev is not None:
            out.append((e.key, e.prev))
    for inf in _informers(state):
        out.extend(inf.cache.items())
    return out


def canonical_state(
    state: ClusterState, symmetric: tuple[tuple[str, ...], ...], *, renumber: bool = True
) -> ClusterState:
    if symmetric:
        best: dict[str, str] = {}
        best_key: tuple[Any, ...] | None = None
        for perm in _permutations(symmetric):
            key = _fingerprint(state, perm)
            if best_key is None or key < best_key:
                best, best_key = perm, key
        if best:
            state = rename_nodes(state, best)
    return renumber_ids(state) if renumber else state


# --- revisions and uids --------------------------------------------------------------------------------------


def renumber_ids(state: ClusterState) -> ClusterState:
    etcd = state.etcd
    infs = _informers(state)
    live = {etcd.revision, etcd.compacted, *(e.rv for e in etcd.history)}
    for inf in infs:
        live.add(inf.rv)
        live.add(inf.high_water)
    live.discard(0)
    objects = _objects(state)
    settled = sorted({(key, o.meta.resource_version) for key, o in objects
                      if o.meta.resource_version and o.meta.resource_version not in live})
    rv_map = {v: i for i, v in enumerate(sorted(live), 1)}
    for i, (_, v) in enumerate(settled):
        rv_map[v] = i - len(settled)
    # Node uids are only ever compared for equality: number them by name, so that renaming nodes is a symmetry.
    node_uids = {o.meta.uid: key for key, o in objects if isinstance(o, Node)}
    uids = {o.meta.uid for _, o in objects if o.meta.uid not in node_uids}
    for k in state.kubelets:
        uids.update(c.uid for c in k.runtime)
    for s in state.schedulers:
        uids.update(q.uid for q in s.queue)
        uids.update(u for u, _ in s.assumed.values())
        uids.update(u for _, u, _ in s.binding)
    uids.update(o.meta.owner.uid for _, o in objects if o.meta.owner is not None)
    uids.discard(0)
    uid_map = {v: i for i, v in enumerate(sorted(uids), 1)}
    next_uid = len(uid_map) + 1
    for i, (uid, _) in enumerate(sorted(node_uids.items(), key=lambda kv: kv[1]), 1):
        uid_map[uid] = -i
    if all(k == v for k, v in rv_map.items()) and all(k == v for k, v in uid_map.items()) and \
            etcd.next_uid == next_uid:
        return state
    rv_map[0] = 0
    uid_map[0] = 0
    memo: dict[int, Object] = {}

    def obj(o: Object) -> Object:
        done = memo.get(id(o))
        if done is not None:
            return done
        m = o.meta
        owner = m.owner
        if owner is not None and uid_map[owner.uid] != owner.uid:
            owner = OwnerRef(owner.kind, owner.name, uid_map[owner.uid])
        rv, uid = rv_map[m.resource_version], uid_map[m.uid]
        out = o if (rv == m.resource_version and uid == m.uid and owner is m.owner) else replace_meta(
            o, with_ids(m, uid, rv, owner))
        memo[id(o)] = out
        return out

    return _rewrite(state, obj, lambda v: rv_map[v], lambda u: uid_map[u], next_uid)


def _rewrite(
    state: ClusterState,
    obj: Callable[[Object], Object],
    rv: Callable[[int], int],
    uid: Callable[[int], int],
    next_uid: int,
) -> ClusterState:
    def cache(m: immutables.Map[str, Object]) -> immutables.Map[str, Object]:
        return immutables.Map({k: obj(o) for k, o in m.items()})

    def inf(i: Informer) -> Informer:
        return Informer(rv(i.rv), cache(i.cache), i.expired, rv(i.high_water))

    etcd = state.etcd
    new_etcd = Etcd(
        revision=rv(etcd.revision),
        objects=cache(etcd.objects),
        history=tuple(
            WatchEvent(rv(e.rv), e.type, e.key, None if e.obj is None else obj(e.obj),
                       None if e.prev is None else obj(e.prev))
            for e in etcd.history
        ),
        compacted=rv(etcd.compacted),
        next_uid=next_uid,
    )
    schedulers = tuple(
        Scheduler(
            s.name,
            inf(s.informer),
            tuple(QueuedPod(q.key, uid(q.uid), q.where, q.attempts, q.plugins, q.backoff, q.flush) for q in s.queue),
            immutables.Map({k: (uid(u), n) for k, (u, n) in s.assumed.items()}),
            tuple((k, uid(u), n) for k, u, n in s.binding),
        )
        for s in state.schedulers
    )
    kubelets = tuple(
        Kubelet(k.node, k.up, None if k.informer is None else inf(k.informer),
                frozenset(RuntimeContainer(c.pod, uid(c.uid), c.name, c.image, c.running, c.managed)
                          for c in k.runtime))
        for k in state.kubelets
    )
    return attrs.evolve(
        state, etcd=new_etcd, kcm=attrs.evolve(state.kcm, informers=tuple(inf(i) for i in state.kcm.informers)),
        schedulers=schedulers, kubelets=kubelets,
    )


# --- node symmetry -------------------------------------------------------------------------------------------


def _permutations(groups: tuple[tuple[str, ...], ...]) -> list[dict[str, str]]:
    per_group = []
    for g in groups:
        per_group.append([dict(zip(g, p, strict=True)) for p in itertools.permutations(g)])
    out = []
    for combo in itertools.product(*per_group):
        merged: dict[str, str] = {}
        for m in combo:
            merged.update({k: v for k, v in m.items() if k != v})
        out.append(merged)
    return out


def _fingerprint(state: ClusterState, perm: dict[str, str]) -> tuple[Any, ...]:
    """A deterministic order on the members of an orbit, computed for ``state`` renamed by ``perm`` without
    building it: where pods are, and what each kubelet runs and has seen. Members with equal keys only cost some
    reduction (the first permutation wins), never soundness."""
    pods = tuple(sorted((k, perm.get(o.node_name, o.node_name)) for k, o in state.etcd.objects.items()
                        if isinstance(o, Pod)))
    kubelets = tuple(
        (k.up, tuple(sorted((c.pod, c.running) for c in k.runtime)),
         None if k.informer is None else (k.informer.rv, k.informer.expired, tuple(sorted(k.informer.cache))))
        for k in sorted(state.kubelets, key=lambda k: perm.get(k.node, k.node))
    )
    sched = tuple(
        (tuple(sorted((k, u, perm.get(n, n)) for k, (u, n) in s.assumed.items())),
         tuple((k, u, perm.get(n, n)) for k, u, n in s.binding))
        for s in state.schedulers
    )
    return (pods, kubelets, sched)


def rename_nodes(state: ClusterState, perm: dict[str, str]) -> ClusterState:
    """``state`` with node names permuted by ``perm`` everywhere."""
    memo: dict[int, Object] = {}

    def name(n: str) -> str:
        return perm.get(n, n)

    def key(k: str) -> str:
        if k.startswith("nodes/"):
            return "nodes/" + name(k[6:])
        return k

    def obj(o: Object) -> Object:
        done = memo.get(id(o))
        if done is not None:
            return done
        out: Object = o
        if isinstance(o, Pod) and o.node_name in perm:
            out = attrs.evolve(o, info=attrs.evolve(o.info, node_name=name(o.node_name)))
        elif isinstance(o, Node) and o.meta.name in perm:
            from spec.scheduling.types import HOSTNAME_LABEL

            new = name(o.meta.name)
            labels = tuple((k, new if k == HOSTNAME_LABEL else v) for k, v in o.info.labels)
            out = Node(meta=attrs.evolve(o.meta, name=new, labels=labels),
                       info=attrs.evolve(o.info, name=new, labels=labels))
        memo[id(o)] = out
        return out

    def cache(m: immutables.Map[str, Object]) -> immutables.Map[str, Object]:
        return immutables.Map({key(k): obj(o) for k, o in m.items()})

    def inf(i: Informer | None) -> Informer | None:
        return None if i is None else attrs.evolve(i, cache=cache(i.cache))

    etcd = state.etcd
    new_etcd = attrs.evolve(
        etcd,
        objects=cache(etcd.objects),
        history=tuple(
            WatchEvent(e.rv, e.type, key(e.key), None if e.obj is None else obj(e.obj),
                       None if e.prev is None else obj(e.prev)) for e in etcd.history
        ),
    )
    schedulers = tuple(
        attrs.evolve(
            s, informer=inf(s.informer),
            assumed=immutables.Map({k: (u, name(n)) for k, (u, n) in s.assumed.items()}),
            binding=tuple((k, u, name(n)) for k, u, n in s.binding),
        ) for s in state.schedulers
    )
    kubelets = tuple(sorted(
        (attrs.evolve(k, node=name(k.node), informer=inf(k.informer)) for k in state.kubelets),
        key=lambda k: k.node,
    ))
    return attrs.evolve(state, etcd=new_etcd, schedulers=schedulers, kubelets=kubelets)

