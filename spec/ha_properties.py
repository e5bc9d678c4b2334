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


# --- leader election (engineer leader; spec.leaderelection) ------------------------------------------------------
#
# AtMostOneActingLeader (invariant): two kube-controller-manager replicas run their controllers at once only while
# one of them is a leader that was paused during its term, resumed, and has not yet reached its renew deadline on
# its own clock. That exception is what upstream guarantees and no more: client-go's leaderelection package "does
# not guarantee that only one client is acting as a leader (a.k.a. fencing)" (staging/src/k8s.io/client-go/tools/
# leaderelection/leaderelection.go); a leader whose process was frozen resumes believing its lease valid and acts
# until its renew round times out. Without pauses, and with the clocks' drift over a lease duration (clockSkew)
# below leaseDuration - renewDeadline - retryPeriod (3 s with the defaults: the renew round starts retryPeriod after
# the last success), at most one replica acts. LeaderElectionFencing (a finding, docs/spec.md "Findings") is the
# promise of docs/concepts/architecture/leases.md that "only one instance of a component is running at any given
# time", which the model refutes with a pause (docs/findings/ha-paused-leader.yaml).


def _acting(s: ClusterState) -> list[str]:
    """The replicas whose controllers run now (leading, not paused)."""
    le = s.leader
    return [] if le is None else [r.name for r in le.replicas if r.leading and not r.paused]


def _excused(s: ClusterState) -> set[str]:
    """Acting replicas in upstream's exception: paused and resumed during their term, their elector still running
    (it stops them at their renew deadline: OnStoppedLeading is due the instant the deadline passes)."""
    le = s.leader
    if le is None:
        return set()
    return {r.name for r in le.replicas if r.leading and not r.paused and r.resumed and r.electing}


def at_most_one_acting_leader(s: ClusterState) -> bool:
    """At most one replica's controllers run, but for resumed leaders before their renew deadline."""
    acting = _acting(s)
    return len(acting) <= 1 or len([a for a in acting if a not in _excused(s)]) <= 1


def leader_election_fencing(s: ClusterState) -> bool:
    """At most one replica's controllers run at any time, pauses included."""
    return len(_acting(s)) <= 1


def explain_acting(s: ClusterState) -> str:
    acting = _acting(s)
    if len(acting) <= 1:
        return "at most one replica's controllers run"
    le = s.leader
    assert le is not None
    from spec.leaderelection import LEASE_KEY

    lease = s.etcd.objects.get(LEASE_KEY)
    holder = getattr(lease, "holder_identity", "")
    parts = []
    for r in le.replicas:
        if r.name in acting:
            why = "holds the Lease" if holder == r.identity else f"the Lease is {holder}'s" + (
                ", which it has not observed yet" if r.holder == r.identity else "")
            state = "its renew deadline passed" if r.deadline == 0 else f"{r.deadline} ms left of its renew round"
            parts.append(f"{r.name} runs its controllers ({why}; {state}" + ("; resumed from a pause)" if r.resumed
                                                                             else ")"))
    return "; ".join(parts)
