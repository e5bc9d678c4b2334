"""The promises of issue 19's components (garbage collection; later Jobs, namespaces, leader election), apart from
``spec.properties``, which registers them in its table (a block of its own at its end; this module imports nothing
of it, so there is no import cycle).

NoOrphanedDependents: once an owner is deleted with background (or foreground) propagation, its dependents go too:
the garbage collector deletes every object whose ownerReference names an owner that no longer exists
(pkg/controller/garbagecollector/garbagecollector.go attemptToDeleteItem; the user's promise in
https://kubernetes.io/docs/concepts/architecture/garbage-collection/#cascading-deletion). A dependent is dangling
while it is still stored, whatever its deletionTimestamp: a pod the collector deleted gracefully is gone only once
its kubelet has stopped it. A leads-to-always (p ~> []q), checked on fair behaviours: whenever some object is
dangling, eventually none is, and none is again (user commands and faults are finite, so the last cascade ends).
"""

from __future__ import annotations

import functools

import immutables

from spec.state import ClusterState, Key, Object, object_key


def _owner_key(obj: Object) -> Key:
    from spec.controllers.garbagecollector import owner_key

    assert obj.meta.owner is not None
    return owner_key(obj, obj.meta.owner)


def no_dangling_dependents(s: ClusterState) -> bool:
    """No stored object has an ownerReference to an owner (by uid) that is not stored."""
    return _no_dangling(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _no_dangling(objects: immutables.Map[Key, Object]) -> bool:
    for obj in objects.values():
        owner = obj.meta.owner
        if owner is None:
            continue
        found = objects.get(_owner_key(obj))
        if found is None or found.meta.uid != owner.uid:
            return False
    return True


def dangling(s: ClusterState) -> frozenset[Key]:
    """The keys of the stored objects whose owner is gone (for messages and tests)."""
    return frozenset(object_key(o) for o in s.etcd.objects.values() if o.meta.owner is not None and (
        (f := s.etcd.objects.get(_owner_key(o))) is None or f.meta.uid != o.meta.owner.uid))


def explain_dangling(s: ClusterState) -> str:
    """What breaks NoOrphanedDependents in ``s``."""
    keys = sorted(dangling(s))
    if not keys:
        return "every stored object's owner exists"
    return "; ".join(f"{k} names an owner that is gone ({_owner_key(s.etcd.objects[k])})" for k in keys)
