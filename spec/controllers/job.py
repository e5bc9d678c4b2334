"""The Job controller: parallelism, completions, backoffLimit, and pod tracking with the
``batch.kubernetes.io/job-tracking`` finalizer, one syncJob per step.

Upstream: pkg/controller/job/job_controller.go (addPod/updatePod/deletePod, syncJob, manageJob,
trackJobStatusAndRemoveFinalizers, flushUncountedAndRemoveFinalizers, cleanUncountedPodsWithoutFinalizers,
enactJobFinished, syncOrphanPod), pkg/controller/job/tracking_utils.go (uidTrackingExpectations: the finalizer
removals the controller waits to observe), pkg/controller/controller_utils.go (ControllerExpectations).

Modelled (completionMode NonIndexed, no podFailurePolicy, no successPolicy):

- manageJob: wantActive = min(completions - succeeded, parallelism) (parallelism when completions is unset and
  nothing succeeded yet), extra active pods deleted (newest and least advanced first), missing ones created with
  the tracking finalizer, gated by the controller's expectations as the ReplicaSet controller's are;
- tracking: a finished pod that still has the finalizer (and whose removal is not already expected) goes to
  status.uncountedTerminatedPods, which is written first; then the finalizers are removed; then the pods whose
  finalizer is gone move from the uncounted lists to status.succeeded / status.failed; the Complete condition
  once succeeded >= completions with no active pod, Failed (BackoffLimitExceeded, its active pods deleted) once
  failed > backoffLimit; a finished Job is not synced again;
- a pod with the finalizer whose Job is gone (or finished, or not its controller) loses the finalizer
  (syncOrphanPod), so the garbage collector's background cascade and the API server can remove it.

All of one syncJob's API calls are one step (as a reconcile is everywhere in the model); the reads are the Job
informer's cache (``spec.state.JobController``, scope ("kcm", "jobs")) and the controller manager's shared pod
informer's (upstream's informer factory shares one pod informer among the controllers; its deliveries run the Job
controller's pod handlers too, ``spec.controllers.manager``), which lag the API server, as upstream's listers do.
Read-your-own-writes (kubernetes#137210, the StaleControllerConsistencyJob gate, on by default): a Job whose last
status write its informer has not shown yet is not synced (``JobController.written``); the ``job-stale-sync``
variant turns that off (kubernetes#130103).
Composition: ``JOBS`` (a ``spec.component`` Component and Watcher, slot "jobs"), None where a scenario has no Job, so
other scenarios' state spaces do not change. The garbage collector's graph includes the Job informer's cache (a
Job owns its pods, ``spec.controllers.garbagecollector``); ``kubectl delete job NAME`` cascades through it.
What a controller-manager restart loses (``JobComponent.restart``, host kube-controller-manager): the informer
(relisted), the queue, the backoffs, the expectations, the expected finalizer removals and the unobserved writes.
Under kube-controller-manager's leader election (``spec.leaderelection``) it runs only in the acting replica
(``spec.controllers.manager.running``), starts afresh in a replica that starts acting (``restart``, after the shared
pod informer's list) and is ``stopped`` while none acts; a paused leader's stands frozen and runs on if it resumes
first (its expectations kept: it does not create a second pod from its stale pod cache).
Abstracted: the pod failure backoff (10 s doubling, 6 min cap) between a failure and the replacement's creation,
which orders nothing the model could observe otherwise (no other timer depends on it); activeDeadlineSeconds is
not in scenarios (ttlSecondsAfterFinished is: ``spec.controllers.ttlafterfinished``); status.ready, startTime and
completionTime (time is relative).
Omitted: Indexed Jobs, pod failure policies, suspend, managedBy, the Job's selector as written by the user
(``manualSelector``; the model selects on the job-name label).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs
import immutables

from spec import actions as A
from spec import informer
from spec.apiserver import NAMESPACE_TERMINATING, Session
from spec.clock import EXPECTATIONS_TIMEOUT_MS
from spec.component import Base, Delta, Host, Process, Step
from spec.controllers import ttlafterfinished
from spec.controllers.manager import _elapse_queue, _expire, _finish, running
from spec.state import (
    JOB_NAME_LABEL,
    JOB_SCOPE,
    JOB_TRACKING_FINALIZER,
    KCM_RESOURCES,
    ClusterState,
    CronJob,
    Etcd,
    Expectation,
    Ghost,
    Informer,
    Job,
    JobController,
    JobStatus,
    Key,
    Meta,
    Object,
    OwnerRef,
    Pod,
    WorkQueue,
    key_of,
    pod_key,
    with_meta,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "job-controller"
INFORMER_ACTOR = "kcm-job-informer"
"""The actor of the Job informer's deliveries and relists."""
MAX_POD_CREATE_DELETE_PER_SYNC = 500


def job_key_of_pod(pod: Pod) -> Key | None:
    """The key of the pod's controlling Job (its controller reference of kind Job)."""
    owner = pod.meta.owner
    if owner is None or owner.kind != "Job":
        return None
    return key_of("jobs", pod.meta.namespace, owner.name)


def has_finalizer(pod: Pod) -> bool:
    return JOB_TRACKING_FINALIZER in pod.meta.finalizers


def finished(job: Job) -> bool:
    """util.IsJobFinished: the Complete or Failed condition is True."""
    return job.status.condition in ("Complete", "Failed")


def is_active(pod: Pod) -> bool:
    """controller.IsPodActive: not Succeeded, not Failed, not being deleted."""
    return pod.status.phase not in ("Succeeded", "Failed") and not pod.meta.deleting


def pod_failed(pod: Pod) -> bool:
    """isPodFailed: phase Failed, or (JobPodReplacementPolicy's default TerminatingOrFailed aside) a pod being
    deleted that did not succeed: the controller counts it failed once it loses the finalizer."""
    return pod.status.phase == "Failed" or (pod.meta.deleting and pod.status.phase != "Succeeded")


def new_pod(job: Job) -> Pod:
    """Upstream: controller.GetPodFromTemplate with the Job's labels, controller reference and the tracking
    finalizer (job_controller.go manageJob: ``addTrackingFinalizer``)."""
    t = job.template
    labels = tuple(sorted({**dict(t.labels), JOB_NAME_LABEL: job.meta.name}.items()))
    meta = Meta(name="", namespace=job.meta.namespace, labels=labels, generate_name=job.meta.name + "-",
                owner=OwnerRef("Job", job.meta.name, job.meta.uid), finalizers=(JOB_TRACKING_FINALIZER,))
    info = attrs.evolve(t.info, namespace=job.meta.namespace, labels=labels)
    return Pod(meta=meta, containers=t.containers, info=info, restart_policy=job.restart_policy)


def _rank_for_removal(pod: Pod) -> tuple[int, int, int, int]:
    """activePodsForRemoval: controller.ActivePods ordering (unassigned, pending, not ready, newest first)."""
    phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod.status.phase, 0)
    return (1 if pod.node_name else 0, phase, int(pod.status.ready), -pod.meta.uid)


@attrs.frozen
class SyncResult:
    """What one syncJob changed in the controller: its expectations (creations/deletions) and the finalizer
    removals it expects to observe, and whether it failed (requeued with backoff)."""

    expectation: Expectation | None
    removals: frozenset[str]
    failed: bool


def _satisfied(expectation: Expectation | None) -> bool:
    return expectation is None or (expectation.add <= 0 and not expectation.deletes)


def sync(session: Session, job: Job, pods: list[Pod], expectation: Expectation | None, removals: frozenset[str],
         *, finalizer_expectations: bool = True) -> SyncResult:
    """syncJob for ``job`` (read from the Job informer) with ``pods`` (the pod informer's pods that the Job
    controls). ``removals`` are the pod keys whose finalizer removal the controller expects to observe; with
    ``finalizer_expectations`` False they are ignored (the variant restoring kubernetes#105200)."""
    name = key_of("jobs", job.meta.namespace, job.meta.name)
    if finished(job):
        return SyncResult(expectation, removals, False)
    status = job.status
    expected_rm = removals if finalizer_expectations else frozenset()
    uncounted_s, uncounted_f = set(status.uncounted_succeeded), set(status.uncounted_failed)
    with_finalizer = {p.meta.name for p in pods
                      if has_finalizer(p) and pod_key(p.meta.namespace, p.meta.name) not in expected_rm}
    active = [p for p in pods if is_active(p)]
    # the counts syncJob works with: counted + uncounted + newly finished pods that still carry the finalizer
    new_s = [p for p in pods if has_finalizer(p) and p.status.phase == "Succeeded"
             and pod_key(p.meta.namespace, p.meta.name) not in expected_rm and p.meta.name not in uncounted_s]
    new_f = [p for p in pods if has_finalizer(p) and pod_failed(p) and p.status.phase != "Succeeded"
             and pod_key(p.meta.namespace, p.meta.name) not in expected_rm and p.meta.name not in uncounted_f]
    succeeded = status.succeeded + len(uncounted_s) + len(new_s)
    failed = status.failed + len(uncounted_f) + len(new_f)
    condition, reason = "", ""
    if failed > job.backoff_limit:
        condition, reason = "Failed", "BackoffLimitExceeded"
    needs_sync = _satisfied(expectation)
    if condition:
        # deleteActivePods: the Job failed, its running pods go
        for p in active:
            session.delete(pod_key(p.meta.namespace, p.meta.name))
        active = []
    elif needs_sync and not job.meta.deleting:
        expectation, active = _manage(session, job, active, succeeded, expectation)
        done = succeeded >= (job.completions if job.completions is not None else 1) and not active
        if job.completions is None:
            done = succeeded > 0 and not active
        if done:
            condition = "Complete"
    # trackJobStatusAndRemoveFinalizers
    to_remove = [p for p in pods if has_finalizer(p) and pod_key(p.meta.namespace, p.meta.name) not in expected_rm
                 and (job.meta.deleting or condition or p.status.phase == "Succeeded" or pod_failed(p))]
    # a pod the job counts as failed when the Job failed: every unfinished pod with the finalizer
    add_s = tuple(p.meta.name for p in to_remove if p.status.phase == "Succeeded" and p.meta.name not in uncounted_f
                  and p.meta.name not in uncounted_s)
    add_f = tuple(p.meta.name for p in to_remove if p.status.phase != "Succeeded" and p.meta.name not in uncounted_f
                  and (pod_failed(p) or condition == "Failed"))
    # cleanUncountedPodsWithoutFinalizers on the status read
    st = _clean(status, with_finalizer)
    st = attrs.evolve(st, uncounted_succeeded=tuple(sorted((*st.uncounted_succeeded, *add_s))),
                      uncounted_failed=tuple(sorted((*st.uncounted_failed, *add_f))), active=len(active))
    latest = job
    if st != status:  # flush: the uncounted pods are recorded before any finalizer goes
        response = session.update(attrs.evolve(job, status=st), status=True)
        if not response.ok:
            return SyncResult(expectation, removals, True)
        assert isinstance(response.obj, Job)
        latest = response.obj
    removed = set()
    new_removals = set(removals)
    for p in to_remove:
        key = pod_key(p.meta.namespace, p.meta.name)
        new_removals.add(key)
        current = session.get(key)
        if not isinstance(current, Pod) or current.meta.uid != p.meta.uid:
            removed.add(p.meta.name)  # gone already: as removed
            continue
        if has_finalizer(current):
            finalizers = tuple(f for f in current.meta.finalizers if f != JOB_TRACKING_FINALIZER)
            if session.patch(key, with_meta(current, finalizers=finalizers), uid=p.meta.uid).ok:
                removed.add(p.meta.name)
        else:
            removed.add(p.meta.name)
    still = with_finalizer - removed
    final = _clean(latest.status, still)
    if condition and not final.uncounted_succeeded and not final.uncounted_failed:
        final = attrs.evolve(final, condition=condition, reason=reason)  # enactJobFinished
        session.event(name, "Normal" if condition == "Complete" else "Warning",
                      "Completed" if condition == "Complete" else reason,
                      "Job completed" if condition == "Complete" else "Job has reached the specified backoff limit")
    if final != latest.status:
        response = session.update(attrs.evolve(latest, status=final), status=True)
        if not response.ok:
            return SyncResult(expectation, frozenset(new_removals), True)
    return SyncResult(expectation, frozenset(new_removals), False)


def _clean(status: JobStatus, with_finalizer: set[str]) -> JobStatus:
    """cleanUncountedPodsWithoutFinalizers: uncounted pods whose finalizer is gone are counted."""
    keep_s = tuple(n for n in status.uncounted_succeeded if n in with_finalizer)
    keep_f = tuple(n for n in status.uncounted_failed if n in with_finalizer)
    return attrs.evolve(
        status, succeeded=status.succeeded + len(status.uncounted_succeeded) - len(keep_s),
        failed=status.failed + len(status.uncounted_failed) - len(keep_f),
        uncounted_succeeded=keep_s, uncounted_failed=keep_f)


def _manage(session: Session, job: Job, active: list[Pod], succeeded: int, expectation: Expectation | None
            ) -> tuple[Expectation | None, list[Pod]]:
    """manageJob: create or delete pods towards wantActive."""
    name = key_of("jobs", job.meta.namespace, job.meta.name)
    if job.completions is None:
        want = len(active) if succeeded > 0 else job.parallelism
    else:
        want = max(0, min(job.completions - succeeded, job.parallelism))
    if len(active) > want:
        victims = sorted(active, key=_rank_for_removal)[: min(len(active) - want, MAX_POD_CREATE_DELETE_PER_SYNC)]
        doomed = frozenset(pod_key(p.meta.namespace, p.meta.name) for p in victims)
        expectation = Expectation(0, doomed, EXPECTATIONS_TIMEOUT_MS)
        kept = [p for p in active if p not in victims]
        for p in victims:
            if session.delete(pod_key(p.meta.namespace, p.meta.name)).ok:
                session.event(name, "Normal", "SuccessfulDelete", f"Deleted pod: {p.meta.name}")
        return expectation, kept
    if len(active) < want:
        diff = min(want - len(active), MAX_POD_CREATE_DELETE_PER_SYNC)
        created = 0
        for _ in range(diff):
            response = session.create(new_pod(job))
            if response.cause == NAMESPACE_TERMINATING:
                # manageJob: "if the namespace is being torn down, we can safely ignore this error since all
                # subsequent creations will fail" (the creation stays expected)
                created += 1
            elif response.ok:
                assert isinstance(response.obj, Pod)
                created += 1
                active = [*active, response.obj]
                session.event(name, "Normal", "SuccessfulCreate", f"Created pod: {response.obj.meta.name}")
        return Expectation(created, frozenset(), EXPECTATIONS_TIMEOUT_MS), active
    return expectation, active


def observe_pod(expectations: immutables.Map[Key, Expectation], removals: immutables.Map[Key, frozenset[str]],
                key: Key, old: Pod | None, new: Pod | None) -> tuple[
        immutables.Map[Key, Expectation], immutables.Map[Key, frozenset[str]], Key | None]:
    """addPod / updatePod / deletePod: observe creations, deletions and finalizer removals; the Job to sync."""
    pod = new if new is not None else old
    assert pod is not None
    job_key = job_key_of_pod(pod)
    if job_key is None:
        return expectations, removals, None
    exp = expectations.get(job_key)
    if exp is not None:
        if old is None and new is not None:
            exp = attrs.evolve(exp, add=exp.add - 1)
        if (new is None or new.meta.deleting) and key in exp.deletes:
            exp = attrs.evolve(exp, deletes=exp.deletes - {key})
        expectations = (expectations.delete(job_key) if exp.add <= 0 and not exp.deletes
                        else expectations.set(job_key, exp))
    rm = removals.get(job_key)
    if rm is not None and key in rm and (new is None or not has_finalizer(new)):
        rest = rm - {key}
        removals = removals.set(job_key, rest) if rest else removals.delete(job_key)
    return expectations, removals, job_key


# --- the controller as a component: its informers' handlers, its queue, its steps --------------------------------


def has_jobs(config: Config) -> bool:
    """The slot exists: the scenario has a Job or a CronJob (whose controller creates Jobs)."""
    return any(isinstance(o, Job | CronJob) for o in config.objects)  # a CronJob's Jobs (spec.controllers.cronjob)


def handle(ctl: JobController, pods: immutables.Map[Key, Object], key: Key, old: Object | None,
           new: Object | None) -> JobController:
    """The event handlers (addJob/updateJob/deleteJob on the Job informer, addPod/updatePod/deletePod on the shared
    pod informer, whose cache is ``pods``) for one delivered change."""
    obj = new if new is not None else old
    if isinstance(obj, Job):
        if new is None:  # deleteJob: its expectations go; its pods with the finalizer are orphan pods now
            queue = ctl.queue.add(key)
            for p in _job_pods(pods, obj):
                if has_finalizer(p):
                    queue = queue.add(pod_key(p.meta.namespace, p.meta.name))
            return attrs.evolve(ctl, expectations=ctl.expectations.delete(key) if key in ctl.expectations
                                else ctl.expectations, queue=queue,
                                written=ctl.written.delete(key) if key in ctl.written else ctl.written)
        written = ctl.written
        if key in written and isinstance(new, Job) and written[key] == new.status:  # its own write observed
            written = written.delete(key)
        # the TTL-after-finished controller's handlers on the same shared Job informer
        return ttlafterfinished.on_job(attrs.evolve(ctl, queue=ctl.queue.add(key), written=written), key, new)
    if not isinstance(obj, Pod):
        return ctl
    expectations, removals, job_key = observe_pod(ctl.expectations, ctl.removals, key,
                                                  old if isinstance(old, Pod) else None,
                                                  new if isinstance(new, Pod) else None)
    queue = ctl.queue
    if job_key is not None:
        queue = queue.add(job_key)
    if has_finalizer(obj) and not _controlled(ctl, obj):
        queue = queue.add(key)  # enqueueOrphanPod: no (unfinished) Job of its controller reference in the lister
    if expectations is ctl.expectations and removals is ctl.removals and queue is ctl.queue:
        return ctl
    return attrs.evolve(ctl, queue=queue, expectations=expectations, removals=removals)


def _controlled(ctl: JobController, pod: Pod) -> bool:
    """resolveControllerRef: the pod's controlling Job is in the lister, with its uid, and has not finished."""
    job_key = job_key_of_pod(pod)
    job = ctl.informer.cache.get(job_key) if job_key is not None else None
    return isinstance(job, Job) and pod.meta.owner is not None and job.meta.uid == pod.meta.owner.uid \
        and not finished(job)


def shared_pods(state: ClusterState) -> immutables.Map[Key, Object]:
    """The controller manager's pod informer's cache (the shared informer the Job controller reads pods from)."""
    return state.kcm.informers[KCM_RESOURCES.index("pods")].cache


def restarted(etcd: Etcd, old: JobController | None, revision: int, pods: immutables.Map[Key, Object]
              ) -> JobController:
    """A (re)started controller manager's Job controller: its Job informer listed at ``revision`` (the ghost
    high-water mark carries over), empty queue and expectations, its handlers run on every listed Job and on the
    shared pod informer's listed ``pods``."""
    fresh = Informer(rv=0, cache=immutables.Map(), high_water=old.informer.high_water if old is not None else 0)
    inf, deltas = informer.relist(fresh, etcd, JOB_SCOPE, revision)
    ctl = JobController(inf, ttl_left=old.ttl_left if old is not None else immutables.Map())
    for key, old_obj, new_obj in (*deltas, *((k, None, p) for k, p in sorted(pods.items()))):
        ctl = handle(ctl, pods, key, old_obj, new_obj)
    return ctl


def on_shared_pods(state: ClusterState, deltas: Iterable[Delta]) -> ClusterState:
    """The Job controller's pod handlers, on changes the shared pod informer just delivered (called by the
    controller manager's ``handle``)."""
    ctl = state.jobs
    if ctl is None:
        return state
    pods = shared_pods(state)
    new = ctl
    for key, old, obj in deltas:
        new = handle(new, pods, key, old, obj)
    return state if new is ctl else state._with(jobs=new)


def restart_slot(state: ClusterState, revision: int) -> JobController | None:
    """What a controller-manager crash leaves of the slot (``spec.faults``): relisted at ``revision``, ``state``
    being the one with the restarted controller manager (whose pod informer the Job controller shares)."""
    if state.jobs is None:
        return None
    return restarted(state.etcd, state.jobs, revision, shared_pods(state))


def _job_pods(pods: immutables.Map[Key, Object], job: Job) -> list[Pod]:
    """getPodsForJob: the cached pods the Job controls (its controller reference; adoption of orphans by the
    selector is omitted: no scenario has an orphan pod that a Job's selector matches)."""
    return sorted((p for p in pods.values() if isinstance(p, Pod) and p.meta.owner is not None
                   and p.meta.owner.kind == "Job" and p.meta.owner.uid == job.meta.uid), key=lambda p: p.meta.uid)


def reconcile(ctl: JobController, pods: immutables.Map[Key, Object], session: Session, key: Key, *,
              finalizer_expectations: bool = True, read_own_writes: bool = True) -> tuple[JobController, bool]:
    """Pop ``key`` and process it: a Job's syncJob, or a pod's syncOrphanPod. Returns (controller', failed).
    ``read_own_writes`` False restores kubernetes#130103 (a sync from a Job informer that has not shown the status
    the controller last wrote; fixed by #137210, the StaleControllerConsistencyJob gate, on by default)."""
    q = ctl.queue
    ctl = attrs.evolve(ctl, queue=WorkQueue(tuple(k for k in q.queue if k != key), q.waiting, q.failures))
    if read_own_writes and key in ctl.written:
        return ctl, False  # deferred: the informer's event for its own write enqueues the Job again
    failed = False
    if key.startswith("pods/"):
        _sync_orphan_pod(ctl, pods, session, key)
    else:
        job = ctl.informer.cache.get(key)
        if not isinstance(job, Job):
            ctl = attrs.evolve(ctl, expectations=ctl.expectations.delete(key) if key in ctl.expectations
                               else ctl.expectations,
                               removals=ctl.removals.delete(key) if key in ctl.removals else ctl.removals)
        else:
            result = sync(session, job, _job_pods(pods, job), ctl.expectations.get(key),
                          ctl.removals.get(key, frozenset()), finalizer_expectations=finalizer_expectations)
            expectations = ctl.expectations
            if result.expectation is None or (result.expectation.add <= 0 and not result.expectation.deletes):
                expectations = expectations.delete(key) if key in expectations else expectations
            else:
                expectations = expectations.set(key, result.expectation)
            removals = ctl.removals.set(key, result.removals) if result.removals else (
                ctl.removals.delete(key) if key in ctl.removals else ctl.removals)
            written = ctl.written
            latest = session.get(key)
            if isinstance(latest, Job) and latest.meta.uid == job.meta.uid and latest.status != job.status:
                written = written.set(key, latest.status)  # it wrote the status: wait to observe it
            ctl = attrs.evolve(ctl, expectations=expectations, removals=removals, written=written)
            failed = result.failed
    return attrs.evolve(ctl, queue=_finish(ctl.queue, key, failed, None)), failed


def _sync_orphan_pod(ctl: JobController, pods: immutables.Map[Key, Object], session: Session, key: Key) -> None:
    """syncOrphanPod: a pod with the tracking finalizer whose Job is gone (or is not its controller any more, or
    has finished) loses the finalizer; the Job is looked up in the lister."""
    pod = pods.get(key)
    if not isinstance(pod, Pod) or not has_finalizer(pod) or _controlled(ctl, pod):
        return
    current = session.get(key)
    if isinstance(current, Pod) and current.meta.uid == pod.meta.uid and has_finalizer(current):
        finalizers = tuple(f for f in current.meta.finalizers if f != JOB_TRACKING_FINALIZER)
        session.patch(key, with_meta(current, finalizers=finalizers), uid=pod.meta.uid)


@functools.lru_cache(maxsize=1 << 14)
def _reconcile(ctl: JobController, pods: immutables.Map[Key, Object], etcd: Etcd, ghost: Ghost, key: Key,
               read_own_writes: bool) -> tuple[JobController, bool, Etcd, Ghost, tuple[str, ...]]:
    """One worker's step (a pure function of the slot, the shared pod cache and etcd, memoised)."""
    sess = Session(etcd, ghost)
    new, failed = reconcile(ctl, pods, sess, key, read_own_writes=read_own_writes)
    return new, failed, sess.etcd, sess.ghost, tuple(sess.events)


def timers(ctl: JobController) -> list[int]:
    return [ms for _, ms in ctl.queue.waiting] + [e.timer for e in ctl.expectations.values()]


def elapse(ctl: JobController, dt: int) -> JobController:
    """Backoffs end (keys re-enter the queue), expectations expire (their Job is synced)."""
    if not ctl.queue.waiting and not ctl.expectations:
        return ctl
    expectations, queue = _expire(ctl.expectations, _elapse_queue(ctl.queue, dt), dt)
    return attrs.evolve(ctl, queue=queue, expectations=expectations)


class JobComponent(Base):
    """The Job controller (module docstring): slot ``ClusterState.jobs`` (None without a Job); steps
    ``Reconcile`` (one queued key: a Job's syncJob or a pod's syncOrphanPod; actor "job-controller"); its Job
    informer's deliveries come through ``spec.reflector`` (actor "kcm-job-informer"), its pods from the controller
    manager's shared pod informer (whose deliveries run its pod handlers), all weakly fair. Timers: the queue's
    per-key backoffs and the expectations' 5 min timeout. What a controller-manager restart loses: the informer
    (relisted), the queue, the backoffs, the expectations, the finalizer removals it expected and the writes it
    waited to observe (``restart_slot``)."""

    name = "job-controller"
    slot = "jobs"
    host = Host.CONTROLLER_MANAGER
    """It runs in kube-controller-manager: a crash restarts it (``restart``)."""

    def actors(self, config: Config) -> tuple[str, ...]:
        return (INFORMER_ACTOR, ACTOR) if has_jobs(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        if not has_jobs(config):
            return state
        return state._with(jobs=restarted(state.etcd, None, state.etcd.revision, shared_pods(state)))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        """After the controller manager's own restart (which relisted the pod informer it shares): everything
        lost, the Job informer relisted at ``revision`` (``restart_slot``)."""
        return state if state.jobs is None else state._with(jobs=restart_slot(state, revision))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        ctl = state.jobs
        if ctl is None or not running(state):
            return
        pods = shared_pods(state)
        read_own_writes = "job-stale-sync" not in config.variants
        for key in ctl.queue.queue:
            new, failed, etcd, ghost, events = _reconcile(ctl, pods, state.etcd, state.ghost, key, read_own_writes)
            yield A.Reconcile(ACTOR, key, failed, events), settle(state._with(etcd=etcd, ghost=ghost, jobs=new),
                                                                  config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if self.busy(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return state.jobs is not None and bool(state.jobs.queue.queue) and running(state)

    def timers(self, state: ClusterState) -> list[int]:
        return [] if state.jobs is None or not running(state) else timers(state.jobs)

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        ctl = state.jobs
        if ctl is None or not (ctl.queue.waiting or ctl.expectations) or not running(state):
            return state, ()
        fired = ("job controller backoff/expectations",) if dt in timers(ctl) else ()
        return state._with(jobs=elapse(ctl, dt)), fired

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): nothing of it."""
        ctl = state.jobs  # the Jobs' finish times (the TTL-after-finished controller's ``ttl_left``) are etcd's: kept
        return state if ctl is None else state._with(jobs=JobController(informer.fresh(None), ttl_left=ctl.ttl_left))

    def watcher(self, state: ClusterState, index: int) -> str:
        return INFORMER_ACTOR

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        ctl = state.jobs
        assert ctl is not None
        pods = shared_pods(state)
        new = ctl
        deltas = tuple(deltas)
        for key, old, obj in deltas:
            new = handle(new, pods, key, old, obj)
        state = state if new is ctl else state._with(jobs=new)
        if state.cronjobs is not None:  # the CronJob controller's handlers on the same shared Job informer
            from spec.controllers import cronjob

            state = cronjob.on_jobs(state, deltas)
        return state


JOBS = JobComponent()
