"""The TTL-after-finished controller: a finished Job with ``spec.ttlSecondsAfterFinished`` is deleted (in foreground,
so its pods go first) once that many seconds have passed since it finished.

Upstream: pkg/controller/ttlafterfinished/ttlafterfinished_controller.go (addJob/updateJob: enqueue a Job that is
not being deleted and needsCleanup; processJob: from the lister, processTTL — not expired: enqueueAfter the time
left; expired: a fresh GET from the API server, processTTL again on it, then Delete with propagationPolicy
Foreground and a UID precondition), pkg/controller/job/util (IsJobFinished), cmd/kube-controller-manager/app/
batch.go (startTTLAfterFinishedController: the shared informer factory's Job informer, the one the Job controller
reads). Docs: https://kubernetes.io/docs/concepts/workloads/controllers/ttlafterfinished/ ("the timer starts once
the status condition of the Job changes to show that the Job is either Complete or Failed").

Modelled: the controller's work queue with its enqueueAfter timers (``JobController.ttl_queue``), its processJob
(actor "ttl-after-finished-controller", weakly fair) reading the shared Job informer's cache (the Job controller's,
``spec.controllers.job``: its deliveries run this controller's handlers too, ``on_job``), the fresh GET and the
foreground delete with the UID precondition; the garbage collector then deletes the pods and removes the Job's
foregroundDeletion finalizer (``spec.controllers.garbagecollector``). The time since each Job finished
(``JobController.ttl_left``: ms left of its TTL) stands for the Job's condition lastTransitionTime in etcd: it
starts when the Job controller writes the condition (steps take no model time, so a Job finished at the last
instant the clock reached) and a controller-manager restart keeps it (the new controller reads the same
condition), while the queue and its timers are lost and rebuilt from the relist.
Abstracted: the clock of the controller manager equals the API server's (upstream warns that skew moves the
deletion; ``spec.clock`` has one clock), the TTL rounded to whole ms.
Omitted: changing ``ttlSecondsAfterFinished`` of a running Job (no kubectl command in the model edits a Job; the
fresh GET is kept, and a Job recreated under the same name is told apart by the UID precondition), the metrics.
Properties: ``FinishedJobsDeletedAfterTTL`` (``spec.ha_properties``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs
import immutables

from spec import actions as A
from spec.apiserver import Session
from spec.component import Base, Host, Process, Step
from spec.controllers.manager import _elapse_queue, running
from spec.state import ClusterState, Etcd, Ghost, Job, JobController, Key, Object, WorkQueue
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "ttl-after-finished-controller"
PROPAGATION = "Foreground"
"""processJob's DeleteOptions.PropagationPolicy: the Job's pods are deleted before the Job."""


def finished(job: Job) -> bool:
    """jobutil.IsJobFinished: the Complete or Failed condition is True."""
    return job.status.condition in ("Complete", "Failed")


def needs_cleanup(job: Job) -> bool:
    """needsCleanup: ttlSecondsAfterFinished is set and the Job has finished."""
    return job.ttl_seconds_after_finished is not None and finished(job)


def has_ttl(config: Config) -> bool:
    """The controller has something to do in this scenario: some Job sets ttlSecondsAfterFinished (no step creates
    a Job: other scenarios keep their state spaces)."""
    return any(isinstance(o, Job) and o.ttl_seconds_after_finished is not None for o in config.objects)


def time_left(ctl: JobController, key: Key, job: Job) -> int:
    """timeLeft: ms until ``job``'s TTL expires, counted from its finish (its condition's lastTransitionTime)."""
    assert job.ttl_seconds_after_finished is not None
    return ctl.ttl_left.get(key, job.ttl_seconds_after_finished * 1000)


def on_job(ctl: JobController, key: Key, new: Object | None) -> JobController:
    """addJob/updateJob on the shared Job informer: enqueue a Job that is not being deleted and needs cleanup
    (there is no deleteJob handler)."""
    if isinstance(new, Job) and not new.meta.deleting and needs_cleanup(new) and key not in ctl.ttl_queue.queue:
        return attrs.evolve(ctl, ttl_queue=ctl.ttl_queue.add(key))
    return ctl


def _enqueue_after(queue: WorkQueue, key: Key, ms: int) -> WorkQueue:
    """AddAfter: the key comes back after ``ms`` (a key already waiting keeps the earlier deadline: the delaying
    queue's insert only moves an entry's readyAt forward)."""
    pending = dict(queue.waiting)
    pending[key] = min(pending.get(key, ms), ms)
    return attrs.evolve(queue, waiting=tuple(sorted(pending.items())))


def process(ctl: JobController, session: Session, key: Key, *, fresh_get: bool = True) -> JobController:
    """processJob for one popped key (Done and Forget follow: it never fails in the model)."""
    q = ctl.ttl_queue
    ctl = attrs.evolve(ctl, ttl_queue=WorkQueue(tuple(k for k in q.queue if k != key), q.waiting, q.failures))
    job = ctl.informer.cache.get(key)
    if not isinstance(job, Job) or job.meta.deleting or not needs_cleanup(job):
        return ctl
    left = time_left(ctl, key, job)
    if left > 0:
        return attrs.evolve(ctl, ttl_queue=_enqueue_after(ctl.ttl_queue, key, left))
    latest = session.get(key) if fresh_get else job
    if not isinstance(latest, Job) or latest.meta.deleting or not needs_cleanup(latest):
        return ctl
    if time_left(ctl, key, latest) > 0:  # the fresh object's TTL (processTTL again)
        return attrs.evolve(ctl, ttl_queue=_enqueue_after(ctl.ttl_queue, key, time_left(ctl, key, latest)))
    session.delete(key, uid=latest.meta.uid, propagation=PROPAGATION)
    session.event(key, "Normal", "TTLAfterFinished", "Job deleted: its ttlSecondsAfterFinished has expired")
    return ctl


@functools.lru_cache(maxsize=1 << 12)
def _process(ctl: JobController, etcd: Etcd, ghost: Ghost, key: Key
             ) -> tuple[JobController, Etcd, Ghost, tuple[str, ...]]:
    sess = Session(etcd, ghost)
    new = process(ctl, sess, key)
    return new, sess.etcd, sess.ghost, tuple(sess.events)


def _finished_with_ttl(etcd: Etcd) -> Iterator[tuple[Key, Job]]:
    for key, obj in etcd.objects.items():
        if isinstance(obj, Job) and needs_cleanup(obj):
            yield key, obj


def timers(ctl: JobController, etcd: Etcd) -> list[int]:
    """The queue's enqueueAfter timers and the time left of every finished Job's TTL (a deadline the clock must
    not jump over: the Job becomes eligible then)."""
    out = [ms for _, ms in ctl.ttl_queue.waiting]
    out += [left for key, job in _finished_with_ttl(etcd) if (left := time_left(ctl, key, job)) > 0]
    return out


def elapse(ctl: JobController, etcd: Etcd, dt: int) -> JobController:
    """``dt`` ms pass: every finished Job's TTL runs down (a Job that finished since the last tick finished at its
    start), the queue's timers end (keys re-enter the queue); Jobs no longer in etcd, or no longer finished (a new
    Job of the same name), are forgotten."""
    left = immutables.Map({key: max(0, time_left(ctl, key, job) - dt) for key, job in _finished_with_ttl(etcd)})
    queue = _elapse_queue(ctl.ttl_queue, dt) if ctl.ttl_queue.waiting else ctl.ttl_queue
    if left == ctl.ttl_left and queue is ctl.ttl_queue:
        return ctl
    return attrs.evolve(ctl, ttl_left=left, ttl_queue=queue)


class TTLAfterFinishedComponent(Base):
    """The TTL-after-finished controller (module docstring). Its memory lives in the Job controller's slot
    (``ClusterState.jobs``: ``ttl_queue`` and ``ttl_left``), beside the shared Job informer both read; steps
    ``Reconcile`` (one queued Job's processJob; actor "ttl-after-finished-controller", weakly fair). Timers: the
    queue's enqueueAfter and each finished Job's TTL. A controller-manager restart (the Job controller's
    ``restart_slot``) loses the queue and keeps ``ttl_left`` (the Jobs' condition times)."""

    name = ACTOR
    host = Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR,) if has_ttl(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        return state  # the Job controller's restart rebuilds the slot (spec.controllers.job.restarted)

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        ctl = state.jobs
        if ctl is None or not running(state):  # under leader election, only in the acting replica (spec.leaderelection)
            return
        for key in ctl.ttl_queue.queue:
            new, etcd, ghost, events = _process(ctl, state.etcd, state.ghost, key)
            yield A.Reconcile(ACTOR, key, False, events), settle(state._with(etcd=etcd, ghost=ghost, jobs=new),
                                                                 config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if self.busy(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return state.jobs is not None and bool(state.jobs.ttl_queue.queue) and running(state)

    def timers(self, state: ClusterState) -> list[int]:
        ctl = state.jobs
        return [] if ctl is None else timers(ctl, state.etcd)

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        ctl = state.jobs
        if ctl is None:
            return state, ()
        new = elapse(ctl, state.etcd, dt)
        if new is ctl:
            return state, ()
        fired = ("TTL after finished",) if dt in timers(ctl, state.etcd) else ()
        return state._with(jobs=new), fired


TTL_AFTER_FINISHED = TTLAfterFinishedComponent()
