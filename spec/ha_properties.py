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

from spec.state import ClusterState, Job, Key, LeaderElection, Namespace, Node, Object, Pod, object_key


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


# --- Jobs (pkg/controller/job/job_controller.go) ------------------------------------------------------------------


def _job_pods(objects: immutables.Map[Key, Object], job: Object) -> list[Pod]:
    return [p for p in objects.values() if isinstance(p, Pod) and p.meta.owner is not None
            and p.meta.owner.uid == job.meta.uid]


def _jobs(objects: immutables.Map[Key, Object]) -> list[Job]:
    return [j for j in objects.values() if isinstance(j, Job)]


def job_never_exceeds_completions(s: ClusterState) -> bool:
    """No Job counts more successes than spec.completions, and no more of its pods succeed than that
    (job_controller.go manageJob: wantActive = completions - succeeded, at most parallelism; pods are tracked with
    the batch.kubernetes.io/job-tracking finalizer until counted, so none is lost or counted twice)."""
    return _within_completions(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _within_completions(objects: immutables.Map[Key, Object]) -> bool:
    for job in _jobs(objects):
        if job.completions is None:
            continue
        succeeded = sum(1 for p in _job_pods(objects, job) if p.status.phase == "Succeeded")
        if job.status.succeeded > job.completions or succeeded > job.completions:
            return False
    return True


def job_active_within_parallelism(s: ClusterState) -> bool:
    """No Job has more active pods (not finished, not being deleted) than spec.parallelism (manageJob creates at
    most parallelism - active, gated by its expectations)."""
    return _within_parallelism(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _within_parallelism(objects: immutables.Map[Key, Object]) -> bool:
    for job in _jobs(objects):
        active = sum(1 for p in _job_pods(objects, job)
                     if p.status.phase not in ("Succeeded", "Failed") and not p.meta.deleting)
        if active > job.parallelism:
            return False
    return True


def jobs_finished(s: ClusterState) -> bool:
    """Every Job has the Complete or the Failed condition."""
    return all(j.status.condition in ("Complete", "Failed") for j in _jobs(s.etcd.objects))


def explain_completions(s: ClusterState) -> str:
    parts = []
    for job in _jobs(s.etcd.objects):
        pods = [p.meta.name for p in _job_pods(s.etcd.objects, job) if p.status.phase == "Succeeded"]
        parts.append(f"Job {job.meta.namespace}/{job.meta.name}: completions {job.completions}, status.succeeded "
                     f"{job.status.succeeded}, succeeded pods {len(pods)} ({', '.join(sorted(pods)) or 'none'})")
    return "; ".join(parts) or "no Job"


def explain_parallelism(s: ClusterState) -> str:
    parts = []
    for job in _jobs(s.etcd.objects):
        active = [p.meta.name for p in _job_pods(s.etcd.objects, job)
                  if p.status.phase not in ("Succeeded", "Failed") and not p.meta.deleting]
        parts.append(f"Job {job.meta.namespace}/{job.meta.name}: parallelism {job.parallelism}, active pods "
                     f"{len(active)} ({', '.join(sorted(active)) or 'none'})")
    return "; ".join(parts) or "no Job"


def explain_finished(s: ClusterState) -> str:
    return "; ".join(f"Job {j.meta.namespace}/{j.meta.name}: condition {j.status.condition or 'none'}, "
                     f"succeeded {j.status.succeeded}, failed {j.status.failed}" for j in _jobs(s.etcd.objects)) \
        or "no Job"


# --- namespaces (pkg/controller/namespace) --------------------------------------------------------------------------


def namespaces_settled(s: ClusterState) -> bool:
    """No Namespace is Terminating, and no stored object lives in a namespace that is gone (the namespace
    controller deleted its content before the namespace; the admission plugin refused new content meanwhile).
    Trivially true where namespaces are implicit (no Namespace object)."""
    return _settled(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _settled(objects: immutables.Map[Key, Object]) -> bool:
    names = set()
    for key, o in objects.items():
        if key.startswith("namespaces/"):
            if o.meta.deleting:
                return False
            names.add(o.meta.name)
    if not names:
        return True
    return all(isinstance(o, Node | Namespace) or o.meta.namespace in names for o in objects.values())


def explain_namespaces(s: ClusterState) -> str:
    objects = s.etcd.objects
    terminating = sorted(o.meta.name for o in objects.values() if isinstance(o, Namespace) and o.meta.deleting)
    names = {o.meta.name for o in objects.values() if isinstance(o, Namespace)}
    stray = sorted(k for k, o in objects.items() if names and not isinstance(o, Node | Namespace)
                   and o.meta.namespace not in names)
    parts = []
    for n in terminating:
        left = sorted(k for k, o in objects.items() if o.meta.namespace == n and not isinstance(o, Node | Namespace))
        parts.append(f"namespace {n} is Terminating (content left: {', '.join(left) or 'none'})")
    parts += [f"{k} lives in a namespace that is gone" for k in stray]
    return "; ".join(parts) or "no namespace is Terminating"


# --- orphaning and re-adoption (kubernetes#42639, #42938) ------------------------------------------------------


def orphans_stay_orphaned(s: ClusterState) -> bool:
    """No dependent that the garbage collector orphaned (it removed the ownerReference of an owner deleted with
    propagationPolicy Orphan) names that owner again: a controller does not adopt back what its deletion orphaned
    (pkg/controller/controller_ref_manager.go RecheckDeletionTimestamp, kubernetes#42938)."""
    orphaned = s.ghost.orphaned
    if not orphaned:
        return True
    return not _readopted(s.etcd.objects, orphaned)


def _readopted(objects: immutables.Map[Key, Object], orphaned: frozenset[tuple[int, int]]) -> list[Key]:
    return sorted(k for k, o in objects.items() if o.meta.owner is not None
                  and (o.meta.uid, o.meta.owner.uid) in orphaned)


def explain_orphans(s: ClusterState) -> str:
    keys = _readopted(s.etcd.objects, s.ghost.orphaned)
    if not keys:
        return "no orphaned dependent names its old owner"
    return "; ".join(f"{k} was orphaned from {s.etcd.objects[k].meta.owner.kind} "  # type: ignore[union-attr]
                     f"{s.etcd.objects[k].meta.owner.name} and names it again as its controller"  # type: ignore[union-attr]
                     for k in keys)
# --- leader election (engineer leader; spec.leaderelection) ------------------------------------------------------
#
# AtMostOneActingLeader (invariant), per elected component (kube-controller-manager: its replicas' controllers run;
# kube-scheduler: its replicas schedule and bind): two replicas act at once only while one of them is a leader
# that was paused during its term, resumed, and has not yet reached its renew deadline on
# its own clock. That exception is what upstream guarantees and no more: client-go's leaderelection package "does
# not guarantee that only one client is acting as a leader (a.k.a. fencing)" (staging/src/k8s.io/client-go/tools/
# leaderelection/leaderelection.go); a leader whose process was frozen resumes believing its lease valid and acts
# until its renew round times out. Without pauses, and with the clocks' drift over a lease duration (clockSkew)
# below leaseDuration - renewDeadline - retryPeriod (3 s with the defaults: the renew round starts retryPeriod after
# the last success), at most one replica acts. LeaderElectionFencing (a finding, docs/spec.md "Findings") is the
# promise of docs/concepts/architecture/leases.md that "only one instance of a component is running at any given
# time", which the model refutes with a pause (docs/findings/ha-paused-leader.yaml).


def _elections(s: ClusterState) -> list[tuple[str, LeaderElection]]:
    """Each component's election: (component, its replicas' electors)."""
    out = []
    if s.leader is not None:
        out.append(("kube-controller-manager", s.leader))
    if s.scheduler_election is not None:
        out.append(("kube-scheduler", s.scheduler_election))
    return out


def _acting_in(le: LeaderElection) -> list[str]:
    """The replicas that act now (leading, not paused): run their controllers, or schedule and bind."""
    return [r.name for r in le.replicas if r.leading and not r.paused]


def _acting(s: ClusterState) -> list[str]:
    """The replicas whose controllers run now (leading, not paused), of every component under election."""
    return [name for _, le in _elections(s) for name in _acting_in(le)]


def _excused_in(le: LeaderElection) -> set[str]:
    """Acting replicas in upstream's exception: paused and resumed during their term, their elector still running
    (it stops them at their renew deadline: OnStoppedLeading is due the instant the deadline passes)."""
    return {r.name for r in le.replicas if r.leading and not r.paused and r.resumed and r.electing}


def at_most_one_acting_leader(s: ClusterState) -> bool:
    """Per component, at most one replica acts (runs its controllers; schedules and binds), but for resumed
    leaders before their renew deadline."""
    for _, le in _elections(s):
        acting = _acting_in(le)
        if len(acting) > 1 and len([a for a in acting if a not in _excused_in(le)]) > 1:
            return False
    return True


def leader_election_fencing(s: ClusterState) -> bool:
    """Per component, at most one replica acts at any time, pauses included."""
    return all(len(_acting_in(le)) <= 1 for _, le in _elections(s))


def explain_acting(s: ClusterState) -> str:
    from spec.leaderelection import LEASE_KEY, SCHEDULER_LEASE_KEY

    parts = []
    for component, le in _elections(s):
        acting = _acting_in(le)
        if len(acting) <= 1:
            continue
        lease = s.etcd.objects.get(LEASE_KEY if component == "kube-controller-manager" else SCHEDULER_LEASE_KEY)
        holder = getattr(lease, "holder_identity", "")
        what = "runs its controllers" if component == "kube-controller-manager" else "schedules and binds"
        for r in le.replicas:
            if r.name in acting:
                why = "holds the Lease" if holder == r.identity else f"the Lease is {holder}'s" + (
                    ", which it has not observed yet" if r.holder == r.identity else "")
                state = "its renew deadline passed" if r.deadline == 0 else f"{r.deadline} ms left of its renew round"
                parts.append(f"{r.name} {what} ({why}; {state}" + ("; resumed from a pause)" if r.resumed else ")"))
    return "; ".join(parts) or "at most one replica of each component acts"


def _expired_jobs(s: ClusterState) -> list[Job]:
    """Finished Jobs with ttlSecondsAfterFinished whose TTL has run out (``spec.controllers.ttlafterfinished``)."""
    ctl = s.jobs
    out = []
    for key, job in s.etcd.objects.items():
        if isinstance(job, Job) and job.ttl_seconds_after_finished is not None \
                and job.status.condition in ("Complete", "Failed"):
            left = job.ttl_seconds_after_finished * 1000 if ctl is None else ctl.ttl_left.get(
                key, job.ttl_seconds_after_finished * 1000)
            if left <= 0:
                out.append(job)
    return out


def expired_jobs_gone(s: ClusterState) -> bool:
    """No Job whose ttlSecondsAfterFinished has expired since it finished is left in etcd."""
    return not _expired_jobs(s)


def explain_expired_jobs(s: ClusterState) -> str:
    parts = []
    for job in _expired_jobs(s):
        pods = [p.meta.name + (" (finalizers: " + ", ".join(p.meta.finalizers) + ")" if p.meta.finalizers else "")
                for p in _job_pods(s.etcd.objects, job)]
        state = "being deleted (finalizers: " + ", ".join(job.meta.finalizers) + ")" if job.meta.deleting \
            else "not deleted"
        parts.append(f"Job {job.meta.namespace}/{job.meta.name} ({job.status.condition}, TTL "
                     f"{job.ttl_seconds_after_finished} s expired) is {state}; its pods: {', '.join(pods) or 'none'}")
    return "; ".join(parts) or "no finished Job outlived its TTL"
