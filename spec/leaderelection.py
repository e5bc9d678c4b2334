"""Leader election of kube-controller-manager's and kube-scheduler's replicas: a Lease in etcd per component, each
replica's LeaderElector, pauses, crashes and clock skew, and which replica's controllers run or which schedules.

Upstream: staging/src/k8s.io/client-go/tools/leaderelection/leaderelection.go (acquire: JitterUntil every
RetryPeriod; renew: wait.Until every RetryPeriod, each round a PollImmediateUntil of tryAcquireOrRenew every
RetryPeriod under a RenewDeadline timeout; tryAcquireOrRenew: the leader's optimistic Update of the record it
last wrote, else Get, compare the raw record with the observed one, and take over only once observedTime +
leaseDuration has passed on the candidate's own clock), resourcelock/leaselock.go (the record is a
coordination.k8s.io/v1 Lease: holderIdentity, leaseDurationSeconds, acquireTime, renewTime, leaseTransitions; its
Update carries the resourceVersion of the Lease it last got or wrote, so a stale one is a 409 Conflict),
cmd/kube-controller-manager/app/controllermanager.go (OnStartedLeading runs the controllers, whose informers are
created and started only then; OnStoppedLeading logs "leaderelection lost" and exits the process, which the
kubelet restarts as a fresh candidate), staging/src/k8s.io/component-base/config/v1alpha1/defaults.go
(--leader-elect-lease-duration 15 s, --leader-elect-renew-deadline 10 s, --leader-elect-retry-period 2 s, lock
"leases" kube-system/kube-controller-manager).

Modelled: one elector (``LeaderElector``) parameterised by the component it elects (its slot of ``ClusterState``,
its Lease, its replicas, its pause budget, what OnStartedLeading starts and OnStoppedLeading stops, what a pause, a
resume and a stale leader do): ``ControllerManagerElection`` (``LEADER_ELECTION``, slot ``ClusterState.leader``,
None without ``spec.leaderElection``) and ``SchedulerElection`` (below). Every replica's elector memory (observed
holder and Lease resourceVersion, what is left of observedTime + leaseDuration, of the retry period and of the renew
round on its own clock: ``spec.state.Replica``). One ``Elect`` step per tryAcquireOrRenew, due when its retry timer
runs out (urgent: time waits for it, as for any work due now, ``spec.clock``): the leader renews through the fast
path (Update with the resourceVersion it last wrote; a 409 falls through to the slow path), a candidate Gets the
Lease, re-observes it when its resourceVersion moved (observedTime := now), and takes it over with an Update guarded
by the resourceVersion it read once the observed record has expired on its own clock (leaseTransitions + 1). A
leader whose renew round times out (its last success + retryPeriod + renewDeadline: wait.Until starts the next round
retryPeriod after a success) stops leading: OnStoppedLeading, and kube-controller-manager exits; the restart is the
same step (as a crash and its restart are one step in ``spec.faults``), a fresh candidate that has observed nothing.
Which replica acts: ``ClusterState.kcm`` holds the controllers of replica ``LeaderElection.active`` (the existing
ReplicaSet and Deployment controllers, their informers, queues and expectations, unchanged); a replica that starts
leading starts them afresh (``manager.restart``: its informers list, as after a crash); with no replica active the
slot's informers are absent (``ClusterState.informer_slots``), so no delivery, reconcile or timer of theirs exists
and the controller manager's components are idle without a guard of their own. A second leading replica (one paused,
or one that resumed after another took its lease) keeps its own controllers in ``LeaderElection.parked``: this is
the smallest sound change, since only such an overlap needs two copies, and every other module keeps reading
``state.kcm`` as before. A parked replica that is not paused reconciles from its parked caches (steps
``<replica>/replicaset-controller``, ``<replica>/deployment-controller``): a resumed leader acting before it notices
that it lost the Lease, which upstream does not prevent (the package's doc: "does not guarantee that only one client
is acting as a leader (a.k.a. fencing)"). Its caches get no deliveries while it overlaps (a watch may lag that long:
the worst case); if it becomes the only leader again they relist.
The controller manager's other controllers (cmd/kube-controller-manager/app/controllermanager.go: Run ->
leaderElectAndRun -> StartControllers starts every one of them in OnStartedLeading, and OnStoppedLeading exits the
process): the Job, TTL-after-finished, StatefulSet, disruption, EndpointSlice, DaemonSet, CronJob, PersistentVolume,
PVC protection and HPA controllers, the node lifecycle and taint eviction controllers and the pod garbage collector
keep slots of their own (``spec.controllers.manager.Hosted``; the PVC protection controller has no state). They run
only while a replica acts (``manager.running``: their steps, timers and work are gated on it); a replica that starts
acting starts them afresh after its ReplicaSet and Deployment controllers (``_activate``: each one's ``restart``,
informers listed at the revision the shared informer lists at, queues, expectations and timers empty); when the
acting replica exits or crashes with no successor they are ``stopped`` (their informers absent from
``ClusterState.informer_slots``). A paused acting replica's stand frozen in their slots (``LeaderElection.frozen``:
no step and no timer, its own informers may still take deliveries, as if it handled the buffered events on
resuming) and run on when it resumes before another replica acts (``_run_on``); once another replica's have taken
the slots, a stale leader's other controllers take no step (only its ReplicaSet and Deployment controllers act
stale, from their parked caches: an under-approximation of what a resumed leader may do), and should it become the
only leader again, they start afresh beside its parked caches. The garbage collector's graph is the controller
manager's caches (absent with no replica acting); the namespace controller keeps no state and reads live, and runs
as if always led.
Faults (``spec.leaderElection.pauses`` and ``spec.faults.controllerManagerCrashes``, not fair): a replica pauses
(a long GC pause, a frozen VM: it takes no step and its clock stands still while wall time passes; its controllers
are parked) and resumes (weakly fair, actor the replica: a pause ends); a replica crashes (its controllers are
lost, it restarts as a fresh candidate). Clock skew (``clockSkew``): one replica's clock may run ahead of
another's by at most that much over one lease duration; the model takes the worst case, a candidate's
observedTime + leaseDuration comes ``clockSkew`` early (upstream is "tolerant to arbitrary clock skew, but is not
tolerant to arbitrary clock skew rate": only local durations count).
Abstracted: the acquire loop's jitter (JitterFactor 1.2: a candidate retries 2-4.4 s apart) is its lower bound,
the earliest a takeover can come (the worst case for AtMostOneActingLeader); a candidate's Get and Update are one
step (a renewal between them would make its Update conflict and its next Get observe the renewal, later than
here: again the earlier takeover is kept); API latency is zero; the Lease's MicroTimes are a bit each
(``spec.state.Lease``). Restarting after "leaderelection lost" takes no time (kubelet's first restart of a
container is immediate; CrashLoopBackOff only delays later ones).
kube-scheduler (``SchedulerElection``, ``SCHEDULER_ELECTION``, slot ``ClusterState.scheduler_election``, when
``spec.leaderElection.components`` names it; cmd/kube-scheduler/app/server.go, Lease kube-system/kube-scheduler,
the same defaults): the same elector with the scheduler's callbacks; each replica's scheduler
(``ClusterState.schedulers``, ``kube-scheduler-N``) runs its informer and event handlers from the start (upstream
starts the informers before leader election, DelayCacheUntilActive false), so a standby's queue and cache are
warm; OnStartedLeading runs sched.Run, so only a replica that leads and is not paused schedules and binds
(``scheduler_acting``, read by ``spec.scheduler``); OnStoppedLeading ("Leaderelection lost") exits, and the restart
is ``spec.component.restart`` of the replica's process (its scheduler relists, its elector is a fresh candidate:
``restart``), as a ``schedulerCrashes`` fault is. A resumed leader schedules and binds beside the new one until its
renew deadline (the binding's precondition keeps a pod bound once); ``scheduler-keeps-scheduling``
(kubernetes#81306) keeps it scheduling past it. A paused replica's informer may still take deliveries (equivalent
to handling its buffered watch events the moment it resumes: no other component reads its cache or queue).
Omitted: ReleaseOnCancel (kube-controller-manager does not set it; kube-scheduler does since kubernetes#100305, a
faster handover on a graceful shutdown, which no fault here is), coordinated leader election (LeaseCandidate, off
by default), the leader election healthz watchdog (--leader-elect's /healthz adaptor), the stale actions of a
resumed leader's controllers other than the ReplicaSet and Deployment controllers (above).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import attrs
import immutables

from checker.errors import InputError
from spec import actions as A
from spec import informer
from spec.apiserver import Session
from spec.component import Base, Host, Process, Step, commit, session
from spec.controllers import manager
from spec.state import (
    KCM_RESOURCES,
    Budget,
    ClusterState,
    ControllerManager,
    Informer,
    Key,
    LeaderElection,
    Lease,
    Meta,
    Parked,
    Replica,
    key_of,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config, LeaderElectionConfig

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"
"""--leader-elect-resource-namespace, --leader-elect-resource-name (kube-controller-manager's defaults)."""
LEASE_KEY = key_of("leases", LEASE_NAMESPACE, LEASE_NAME)
FAULT_ACTOR = "fault"
KEEPS_ACTING = "leader-keeps-acting"
"""The variant (``spec.variants``): past its renew deadline a leader does not stop (OnStoppedLeading is never
reached), so its controllers keep running."""

_EMPTY = Informer(rv=0, cache=immutables.Map())
IDLE = ControllerManager((_EMPTY,) * len(KCM_RESOURCES))
"""``ClusterState.kcm`` while no replica's controllers run (its informers are absent from ``informer_slots``)."""


def stale_actors(name: str) -> tuple[str, ...]:
    """The actors of a parked replica's controllers (``manager.CONTROLLERS``' actors, prefixed)."""
    return tuple(f"{name}/{actor}" for _, actor in manager.CONTROLLERS)


def _cfg(config: Config) -> LeaderElectionConfig:
    cfg = config.leader_election
    assert cfg is not None
    return cfg


def _seen(cfg: LeaderElectionConfig) -> int:
    """leaseDuration as a candidate's clock measures it, in real ms: ``clockSkew`` early at worst."""
    return cfg.lease_duration_ms - cfg.clock_skew_ms


def acting(r: Replica) -> bool:
    """The replica's controllers run now: it leads (OnStartedLeading ran, it has not exited) and is not paused."""
    return r.leading and not r.paused


def _with_replica(le: LeaderElection, i: int, r: Replica) -> LeaderElection:
    return attrs.evolve(le, replicas=(*le.replicas[:i], r, *le.replicas[i + 1:]))


def _parked(le: LeaderElection, i: int, kcm: ControllerManager | None) -> tuple[Parked | None, ...]:
    return (*le.parked[:i], None if kcm is None else park(kcm), *le.parked[i + 1:])


def park(kcm: ControllerManager) -> Parked:
    """The controllers of ``kcm`` set aside (``spec.state.Parked``)."""
    return Parked(tuple(i.cache for i in kcm.informers), tuple(max(i.rv, i.high_water) for i in kcm.informers),
                  kcm.rs_queue, kcm.deploy_queue, kcm.expectations)


def unpark(p: Parked, expired: bool) -> ControllerManager:
    """Parked controllers as a ``ControllerManager``: their caches at their high-water marks; ``expired``: each
    informer must relist (running again as the only leader: its watch broke while the process was frozen or
    overlapping, and the events it missed are no longer kept for it)."""
    infs = tuple(Informer(hw, cache, expired, hw) for cache, hw in zip(p.caches, p.high_water, strict=True))
    return ControllerManager(infs, p.rs_queue, p.deploy_queue, p.expectations)


def _resumed(p: Parked) -> ControllerManager:
    return unpark(p, True)


def _hosted() -> list[Any]:
    """kube-controller-manager's controllers with slots of their own (``spec.controllers.manager.Hosted``), in the
    composition's order: all but the ReplicaSet and Deployment controllers (``ClusterState.kcm``)."""
    from spec.cluster import COMPONENTS

    return [c for c in COMPONENTS
            if getattr(c, "host", None) == Host.CONTROLLER_MANAGER and c is not manager.CONTROLLER_MANAGER]


def _deactivate(state: ClusterState, le: LeaderElection) -> ClusterState:
    """No replica's controllers run any longer, and none will run on (``le``: the election with the last one's
    parked or dropped): ``ClusterState.kcm`` idle, every other controller of the process stopped
    (``Hosted.stopped``: absent informers, nothing kept)."""
    state = state._with(kcm=IDLE, leader=attrs.evolve(le, active=-1, frozen=-1))
    for c in _hosted():
        stopped = getattr(c, "stopped", None)
        if stopped is not None:
            state = stopped(state)
    return state


def _freeze(state: ClusterState, le: LeaderElection, i: int) -> ClusterState:
    """The acting replica ``i`` pauses (``le``: its ReplicaSet and Deployment controllers parked): its other
    controllers stand frozen in their slots (``LeaderElection.frozen``: no step, no timer; their own informers may
    take deliveries, as if they handled the buffered events when it resumes: nothing else reads them)."""
    return state._with(kcm=IDLE, leader=attrs.evolve(le, active=-1, frozen=i))


def _activate(state: ClusterState, config: Config, i: int, kcm: ControllerManager, revision: int) -> ClusterState:
    """Replica ``i``'s controllers start (``kcm``: its ReplicaSet and Deployment controllers, freshly listed at
    ``revision``), and the process's other controllers start afresh after them (``Restarts.restart``: their
    informers list at ``revision``, after the shared pod informer), as controllermanager.go's StartControllers
    starts every controller in OnStartedLeading. Not settled."""
    le = state.leader
    assert le is not None
    state = state._with(kcm=kcm, leader=attrs.evolve(le, active=i, parked=_parked(le, i, None), frozen=-1))
    process = Process(Host.CONTROLLER_MANAGER, le.replicas[i].name)
    for c in _hosted():
        state = c.restart(state, config, process, revision)
    return state


def _run_on(state: ClusterState, config: Config, i: int) -> ClusterState:
    """Replica ``i``, leading with parked controllers, becomes the acting one again (it resumed, renewed or was
    left alone): its ReplicaSet and Deployment controllers run on from their parked caches, relisting (their
    watches broke). When its other controllers stand frozen (it paused while acting and no replica acted since),
    they run on where they were. Otherwise another replica's controllers took the slots meanwhile and its own were
    not kept (the model runs a stale leader's ReplicaSet and Deployment controllers only): they start afresh, at
    etcd's revision, beside the stale shared pod cache until it relists (a stale leader's controllers acting on
    stale caches, which upstream allows: no fencing). Not settled."""
    le = state.leader
    assert le is not None
    parked = le.parked[i]
    assert parked is not None
    if le.frozen == i:
        return state._with(kcm=_resumed(parked), leader=attrs.evolve(le, active=i, parked=_parked(le, i, None),
                                                                      frozen=-1))
    return _activate(state, config, i, _resumed(parked), state.etcd.revision)


def _stop(state: ClusterState, config: Config, i: int) -> ClusterState:
    """Replica ``i``'s controllers are gone (it exited or crashed): its parked copy and its frozen ones, or the
    active slot, which the other leading replica's controllers take if it is running (``_run_on``)."""
    le = state.leader
    assert le is not None
    if le.active != i:
        state = state._with(leader=attrs.evolve(le, parked=_parked(le, i, None)))
        return _deactivate(state, state.leader) if le.frozen == i else state  # type: ignore[arg-type]
    for j, r in enumerate(le.replicas):
        if j != i and le.parked[j] is not None and not r.paused:
            return _run_on(state, config, j)
    return _deactivate(state, le)


def restarted(r: Replica, state: ClusterState, key: Key = LEASE_KEY) -> Replica:
    """Replica ``r``'s process after a restart: a fresh elector that has observed nothing, with an identity of its
    own (upstream's fresh UUID; here the least incarnation that is neither its last one nor the Lease holder's, so
    that it never mistakes an earlier run's record for its own: finitely many identities)."""
    lease = state.etcd.objects.get(key)
    taken = {r.incarnation}
    if isinstance(lease, Lease) and lease.holder_identity.startswith(r.name + "_"):
        taken.add(int(lease.holder_identity[len(r.name) + 1:]))
    return Replica(r.name, incarnation=min(n for n in range(3) if n not in taken))


def _observe(r: Replica, lease: Lease, cfg: LeaderElectionConfig) -> Replica:
    """setObservedRecord: the record, and observedTime := now (what is left of the lease on its own clock)."""
    return attrs.evolve(r, observed=lease, expires=_seen(cfg))


def _record(lease: Lease, me: str, acquiring: bool, cfg: LeaderElectionConfig) -> Lease:
    """The record tryAcquireOrRenew writes: holder me, renewTime now; acquireTime now and leaseTransitions + 1 on a
    takeover (the MicroTimes: a bit each that changes, ``spec.state.Lease``)."""
    return Lease(lease.meta, me, cfg.lease_duration_ms // 1000,
                 1 - lease.acquire_time if acquiring else lease.acquire_time, 1 - lease.renew_time,
                 lease.lease_transitions + 1 if acquiring and lease.holder_identity != me else lease.lease_transitions)


@attrs.frozen
class Won:
    """tryAcquireOrRenew's Update went through (step 3): the elector's new memory and the session that wrote it."""

    replica: Replica
    session: Session
    notes: tuple[str, ...]
    lease: Lease


def attempt(state: ClusterState, config: Config, i: int, slot: str, key: Key) -> Iterator[Step | Won]:
    """Replica ``i``'s tryAcquireOrRenew on the Lease ``key``, for the election in ``ClusterState.<slot>``: the steps
    that end it (a renewal timing out, a renewal, a wait), or ``Won`` for the caller to finish (OnStartedLeading
    differs per component)."""
    le = getattr(state, slot)
    assert isinstance(le, LeaderElection)
    cfg = _cfg(config)
    r = le.replicas[i]
    s = session(state, config)
    current = s.get(key)
    assert isinstance(current, Lease)
    notes: list[str] = []
    b = state.budget
    if r.leading and b.lease_renew_failures:
        # the request times out (an overloaded etcd or API server): nothing is written or observed; the poll
        # retries after retryPeriod, within the renew deadline
        failed = state._with(budget=attrs.evolve(b, lease_renew_failures=b.lease_renew_failures - 1),
                             **{slot: _with_replica(le, i, attrs.evolve(r, retry=cfg.retry_period_ms))})
        yield A.Fault(FAULT_ACTOR, "lease renewal times out", r.name), failed
    actor = elector_actor(slot, r.name)
    if r.observed is not None and r.holder == r.identity and r.expires > 0:
        # 1. fast path: the leader updates the Lease it last wrote (its resourceVersion as the precondition)
        response = s.update(_record(r.observed, r.identity, False, cfg))
        if response.ok:
            assert isinstance(response.obj, Lease)
            renewed = attrs.evolve(_observe(r, response.obj, cfg), retry=cfg.retry_period_ms,
                                   deadline=cfg.retry_period_ms + cfg.renew_deadline_ms)
            yield A.Elect(actor, "renews", f"{key} (rv {response.obj.meta.resource_version})"), commit(
                state, s, config, **{slot: _with_replica(le, i, renewed)})
            return
        notes.append(f"optimistic update: {response.code} {response.reason}")
    # 2. slow path: Get, and observe the record when it changed
    if r.observed is None or current.meta.resource_version != r.observed.meta.resource_version:
        r = _observe(r, current, cfg)
    if r.holder and r.expires > 0 and r.holder != r.identity:
        waited = attrs.evolve(r, retry=cfg.retry_period_ms)
        what = "fails to renew" if r.leading else "waits"
        notes.append(f"lock is held by {r.holder} and has not yet expired")
        yield A.Elect(actor, what, "; ".join(notes)), commit(state, s, config, **{slot: _with_replica(le, i, waited)})
        return
    # 3. update with the resourceVersion just read: a renewal, or a takeover of an expired Lease
    acquiring = r.holder != r.identity
    response = s.update(_record(current, r.identity, acquiring, cfg))
    assert response.ok and isinstance(response.obj, Lease)  # nothing wrote between the Get and the Update
    won = attrs.evolve(_observe(r, response.obj, cfg), retry=cfg.retry_period_ms,
                       deadline=cfg.retry_period_ms + cfg.renew_deadline_ms)
    yield Won(won, s, tuple(notes), response.obj)


def elector_actor(slot: str, name: str) -> str:
    """The actor of a replica's ``Elect`` steps: the kube-controller-manager replica itself; a kube-scheduler
    replica's elector (its scheduling steps are the replica's own actor)."""
    return name if slot == "leader" else f"{name}/elector"


def _due(r: Replica) -> str:
    """What replica ``r`` must do now: "attempt", "stop", "resume" or ""."""
    if r.paused:
        return "resume"
    if not r.electing:
        return ""
    if r.leading and r.deadline == 0:
        return "stop"
    return "attempt" if r.retry == 0 else ""


def _election_timers(le: LeaderElection) -> list[int]:
    """The running replicas' retry periods, observed lease expiries and renew deadlines (a paused replica's clock
    stands still)."""
    return [t for r in le.replicas if not r.paused
            for t in (r.retry if r.electing else 0, r.expires, r.deadline if r.leading else 0) if t]


def _elapse_replica(r: Replica, dt: int, fired: list[str]) -> Replica:
    if r.paused:
        return r
    if r.electing and r.retry == dt:
        fired.append(f"{r.name}'s retry period")
    if r.expires == dt:
        fired.append(f"{r.name}'s observed lease expires")
    if r.leading and r.deadline == dt:
        fired.append(f"{r.name}'s renew deadline")
    return attrs.evolve(r, retry=max(r.retry - dt, 0), expires=max(r.expires - dt, 0), deadline=max(r.deadline - dt, 0))


class LeaderElector(Base):
    """One component's replicas under leader election (client-go's LeaderElector, one per replica), parameterised
    by the component it elects (``ControllerManagerElection``, ``SchedulerElection``): its slot of
    ``ClusterState``, its Lease, its replicas' names, its pause budget, the variant in which a leader past its
    renew deadline keeps acting, and the callbacks (OnStartedLeading: ``started``; OnStoppedLeading and the
    process's restart: ``exit``; what a pause and a resume do to what the replica runs: ``pause``, ``resumed``;
    what a stale leader may still do: ``stale_steps``). Steps: ``Elect`` (tryAcquireOrRenew, stopping, resuming;
    weakly fair, actor ``elector_actor``), a stale leader's steps, and the pause (and crash) ``Fault``s (actor
    "fault", not fair). Timers: each running replica's retry period, observed lease expiry and renew deadline, and
    whatever a stale leader runs on (``parked_timers``)."""

    field = ""
    """The ``ClusterState`` field holding the ``LeaderElection`` (None: the component is not elected)."""
    component = ""
    """The elected component (``COMPONENTS``)."""
    lease_name = ""
    """The Lease's name (in kube-system; --leader-elect-resource-name)."""
    lease_key: Key = ""
    prefix = ""
    """The replicas are ``<prefix>-0``, ``<prefix>-1``."""
    pause_budget = ""
    """The ``Budget`` field of its pauses."""
    keeps_variant = ""
    """The variant in which a leader past its renew deadline does not stop (``spec.variants``), and what it does."""
    keeps_detail = ""
    starts = ""
    """What OnStartedLeading starts (the ``Elect`` step's detail)."""
    initial_active = -1
    """``LeaderElection.active`` at the start (the first replica leads)."""

    def election(self, state: ClusterState) -> LeaderElection | None:
        le = getattr(state, self.field)
        assert le is None or isinstance(le, LeaderElection)
        return le

    def _le(self, state: ClusterState) -> LeaderElection:
        le = self.election(state)
        assert le is not None
        return le

    def put(self, state: ClusterState, le: LeaderElection) -> ClusterState:
        return state._with(**{self.field: le})

    def names(self, config: Config) -> tuple[str, ...]:
        """The replicas' identities (upstream: hostname + "_" + a UUID; here the static pods' hosts)."""
        cfg = config.leader_election
        if cfg is None or self.component not in cfg.components:
            return ()
        return tuple(f"{self.prefix}-{i}" for i in range(cfg.replicas))

    def actor(self, name: str) -> str:
        return elector_actor(self.field, name)

    # --- the hooks (the component's callbacks); the defaults are the scheduler's: nothing runs but the loop ---

    def started(self, state: ClusterState, config: Config, i: int) -> Iterator[tuple[int, ClusterState]]:
        """OnStartedLeading: (revision its first list is served at, the state with what it starts), not settled."""
        yield state.etcd.revision, state

    def renewed(self, state: ClusterState, config: Config, i: int) -> ClusterState:
        """After a renewal that went through (settled): what a leader that renews regains."""
        return state

    def exit(self, state: ClusterState, config: Config, i: int) -> Iterator[Step]:
        """OnStoppedLeading: the process exits, and the kubelet restarts it as a fresh candidate."""
        raise NotImplementedError

    def pause(self, state: ClusterState, config: Config, i: int) -> ClusterState:
        """Replica ``i`` freezes (its budget already spent)."""
        le = self._le(state)
        return self.put(state, _with_replica(le, i, attrs.evolve(le.replicas[i], paused=True)))

    def resumed(self, state: ClusterState, config: Config, i: int, le: LeaderElection) -> Step:
        """Replica ``i`` runs again (``le``: its elector unpaused)."""
        raise NotImplementedError

    def stale_actors(self, name: str) -> tuple[str, ...]:
        """The actors of what a leader that is not the acting one may still do."""
        return ()

    def stale_steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        return iter(())

    def stale_enabled(self, le: LeaderElection) -> set[str]:
        return set()

    def crash_steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        """Crashes the election handles itself (kube-scheduler's are ``spec.faults``')."""
        return iter(())

    def crashes(self, state: ClusterState) -> int:
        return 0

    def parked_timers(self, le: LeaderElection, paused: bool) -> list[int]:
        """The timers of what stale leaders run on (``paused``: a paused replica's included)."""
        return []

    def elapse_parked(self, le: LeaderElection, dt: int) -> tuple[Parked | None, ...]:
        return le.parked

    # --- the elector ----------------------------------------------------------------------------------------------

    def try_acquire_or_renew(self, state: ClusterState, config: Config, i: int) -> Iterator[Step]:
        """Replica ``i``'s tryAcquireOrRenew (its retry timer ran out): the step(s) and their outcome; a won
        Lease is a renewal, or OnStartedLeading (one step per revision its first list may be served at)."""
        le = self._le(state)
        r = le.replicas[i]
        actor = self.actor(r.name)
        for out in attempt(state, config, i, self.field, self.lease_key):
            if not isinstance(out, Won):
                yield out
                continue
            if r.leading:
                new = commit(state, out.session, config, **{self.field: _with_replica(le, i, out.replica)})
                yield A.Elect(actor, "renews", "; ".join(
                    (*out.notes, f"{self.lease_key} (rv {out.lease.meta.resource_version})"))), self.renewed(
                    new, config, i)
                continue
            won = _with_replica(le, i, attrs.evolve(out.replica, leading=True, resumed=False))
            etcd = out.session.etcd
            base = self.put(state._with(etcd=etcd, ghost=out.session.ghost), won)
            detail = f"{self.lease_key} (leaseTransitions {out.lease.lease_transitions}); {self.starts}"
            for rv, new in self.started(base, config, i):
                yield A.Elect(actor, "acquires", detail + (f" (list at rv {rv})" if rv != etcd.revision else "")), \
                    settle(new, config)

    def stop_leading(self, state: ClusterState, config: Config, i: int) -> Iterator[Step]:
        """The renew round timed out: OnStoppedLeading (``exit``); under the component's ``keeps_variant`` the
        elector stops and nothing else does."""
        le = self._le(state)
        r = le.replicas[i]
        if self.keeps_variant in config.variants:
            stuck = attrs.evolve(r, electing=False, retry=0)
            yield A.Elect(self.actor(r.name), "fails to renew", self.keeps_detail), self.put(
                state, _with_replica(le, i, stuck))
            return
        yield from self.exit(state, config, i)

    def resume(self, state: ClusterState, config: Config, i: int) -> Step:
        """A paused replica runs again, its clock where it stopped."""
        le = self._le(state)
        r = le.replicas[i]
        return self.resumed(state, config, i, _with_replica(le, i, attrs.evolve(r, paused=False, resumed=r.leading)))

    def fault_steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        """A replica pauses (``spec.leaderElection.pauses``), or crashes (``crash_steps``)."""
        le = self._le(state)
        b = state.budget
        pauses = getattr(b, self.pause_budget)
        if pauses:
            spent = state._with(budget=attrs.evolve(b, **{self.pause_budget: pauses - 1}))
            for i, r in enumerate(le.replicas):
                if not r.paused:
                    yield A.Fault(FAULT_ACTOR, "pause (its clock and steps stop)", r.name), self.pause(spent, config, i)
        yield from self.crash_steps(state, config)

    # --- the component (spec.component) ------------------------------------------------------------------------

    def actors(self, config: Config) -> tuple[str, ...]:
        names = self.names(config)
        if not names:
            return ()
        return (*(self.actor(n) for n in names), *(a for n in names for a in self.stale_actors(n)), FAULT_ACTOR)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return tuple(self.actor(n) for n in self.names(config))

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        """The first replica holds the Lease (created by its first tryAcquireOrRenew) and runs what it elects;
        the others have observed the record and wait."""
        names = self.names(config)
        if not names:
            return state
        cfg = _cfg(config)
        s = session(state, config)
        response = s.create(Lease(Meta(self.lease_name, LEASE_NAMESPACE), Replica(names[0]).identity,
                                  cfg.lease_duration_ms // 1000))
        assert response.ok and isinstance(response.obj, Lease)
        replicas = tuple(attrs.evolve(_observe(Replica(n), response.obj, cfg), retry=cfg.retry_period_ms)
                         for n in names)
        replicas = (attrs.evolve(replicas[0], leading=True, deadline=cfg.retry_period_ms + cfg.renew_deadline_ms),
                    *replicas[1:])
        return commit(state, s, config, **{self.field: LeaderElection(replicas, self.initial_active,
                                                                     (None,) * len(names))})

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        le = self.election(state)
        if le is None:
            return
        for i, r in enumerate(le.replicas):
            due = _due(r)
            if due == "resume":
                yield self.resume(state, config, i)
            elif due == "stop":
                yield from self.stop_leading(state, config, i)
            elif due == "attempt":
                yield from self.try_acquire_or_renew(state, config, i)
        yield from self.stale_steps(state, config)
        yield from self.fault_steps(state, config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        le = self.election(state)
        if le is None:
            return set()
        out = {self.actor(r.name) for r in le.replicas if _due(r)} | self.stale_enabled(le)
        b = state.budget
        if (getattr(b, self.pause_budget) and not all(r.paused for r in le.replicas)) or self.crashes(state) or (
                b.lease_renew_failures and any(r.leading and _due(r) == "attempt" for r in le.replicas)):
            out.add(FAULT_ACTOR)
        return out

    def urgent(self, state: ClusterState, config: Config) -> bool:
        """An attempt or a stop that is due now: time waits for it (it happens when its timer fires). And the
        timing assumption of leader election: when an elector's timer is the next to fire, time waits for the
        other components' work now enabled (``busy``): the controllers, the scheduler and the kubelets react
        faster than a retry period (2 s). A shorter timer (a work queue's backoff) still fires in the middle of
        their work, as without leader election; a stale leader's work does not hold time."""
        le = self.election(state)
        if le is None:
            return False
        if any(_due(r) in ("attempt", "stop") for r in le.replicas):
            return True
        election = _election_timers(le)
        if not election:
            return False
        from spec.cluster import CLOCK, COMPONENTS

        nxt = min(election)
        others = [c for c in COMPONENTS if c is not self and c is not CLOCK]
        if any(t < nxt for c in others for t in c.timers(state)) or any(
                t < nxt for t in self.parked_timers(le, True)):
            return False
        return any(c.busy(state, config) for c in others)

    def busy(self, state: ClusterState, config: Config) -> bool:
        le = self.election(state)
        return le is not None and any(_due(r) in ("attempt", "stop") for r in le.replicas)

    def timers(self, state: ClusterState) -> list[int]:
        le = self.election(state)
        return [] if le is None else _election_timers(le) + self.parked_timers(le, False)

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        le = self.election(state)
        if le is None:
            return state, ()
        fired: list[str] = []
        replicas = tuple(_elapse_replica(r, dt, fired) for r in le.replicas)
        return self.put(state, attrs.evolve(le, replicas=replicas, parked=self.elapse_parked(le, dt))), tuple(fired)

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        """A crashed (or exited) replica of the ``host`` process restarts as a fresh candidate with a new
        identity, unpaused."""
        le = self.election(state)
        if le is None:
            return state
        for i, r in enumerate(le.replicas):
            if r.name == process.name:
                return self.put(state, _with_replica(le, i, restarted(r, state, self.lease_key)))
        return state


class ControllerManagerElection(LeaderElector):
    """kube-controller-manager's replicas under leader election: slot ``ClusterState.leader``; ``Elect`` actor the
    replica (``kcm-N``); a stale leader's parked controllers' ``Reconcile`` (actors ``<replica>/<controller>``, not
    fair: it stops when its replica exits); the pause and crash ``Fault``s. A crash loses the replica's elector
    memory and its controllers; a pause loses nothing (it freezes them)."""

    name = "leader-election"
    field = "leader"
    component = "kube-controller-manager"
    lease_name = LEASE_NAME
    lease_key = LEASE_KEY
    prefix = "kcm"
    pause_budget = "controller_manager_pauses"
    keeps_variant = KEEPS_ACTING
    keeps_detail = "renew deadline passed; its controllers keep running (variant)"
    starts = "its controllers start"
    initial_active = 0

    def started(self, state: ClusterState, config: Config, i: int) -> Iterator[tuple[int, ClusterState]]:
        """OnStartedLeading: the controllers start, their informers list (at a revision a list may be served at);
        another replica's active controllers (a takeover beyond the skew budget) are parked: they keep running."""
        le = self._le(state)
        etcd = state.etcd
        if le.active >= 0:
            state = state._with(leader=attrs.evolve(le, parked=_parked(le, le.active, state.kcm)))
        for rv in informer.relist_revisions(config, etcd.revision, 0, etcd, True):
            yield rv, _activate(state, config, i, manager.restart(etcd, None, rv), rv)

    def renewed(self, state: ClusterState, config: Config, i: int) -> ClusterState:
        """A leader whose controllers are parked (it resumed after another took over) and that wins the Lease back
        while no replica's controllers are active runs its controllers in the active slot again."""
        le = self._le(state)
        if le.parked[i] is None or le.active >= 0:
            return state
        return settle(_run_on(state, config, i), config)

    def exit(self, state: ClusterState, config: Config, i: int) -> Iterator[Step]:
        """"leaderelection lost": kube-controller-manager exits (its controllers are gone) and restarts as a fresh
        candidate."""
        r = self._le(state).replicas[i]
        state = _stop(state, config, i)
        le = self._le(state)
        yield A.Elect(r.name, "stops leading", "leaderelection lost: kube-controller-manager exits and restarts"), \
            settle(state._with(leader=_with_replica(le, i, restarted(r, state))), config)

    def pause(self, state: ClusterState, config: Config, i: int) -> ClusterState:
        """Its controllers freeze with it (parked, if they were the active ones)."""
        le = self._le(state)
        if le.active == i:
            state = _freeze(state, attrs.evolve(le, parked=_parked(le, i, state.kcm)), i)
        return settle(super().pause(state, config, i), config)

    def resumed(self, state: ClusterState, config: Config, i: int, le: LeaderElection) -> Step:
        """A leader's controllers run again: in the active slot if no other replica's are there, else from their
        parked caches."""
        name = le.replicas[i].name
        kcm = le.parked[i]
        if kcm is not None and le.active < 0:
            return A.Elect(name, "resumes", "its controllers run again"), settle(
                _run_on(state._with(leader=le), config, i), config)
        detail = "its controllers run again on the caches they had (another replica's run too)" if kcm is not None \
            else ""
        return A.Elect(name, "resumes", detail), state._with(leader=le)

    def stale_actors(self, name: str) -> tuple[str, ...]:
        return stale_actors(name)

    def stale_steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        """The reconciles of the parked controllers of each leading replica that is running while another's hold
        the active slot, from their parked caches."""
        le = self._le(state)
        for i, r in enumerate(le.replicas):
            parked = le.parked[i]
            if parked is None or r.paused:
                continue
            kcm = unpark(parked, False)
            for (controller, _), actor, queue in zip(manager.CONTROLLERS, stale_actors(r.name),
                                                     (kcm.rs_queue, kcm.deploy_queue), strict=True):
                for key in queue.queue:
                    s = session(state, config)
                    new, failed = manager.reconcile(kcm, s, controller, key, **manager.reconcile_options(state, config))
                    yield A.Reconcile(actor, key, failed, tuple(s.events)), commit(
                        state, s, config, leader=attrs.evolve(le, parked=_parked(le, i, new)))

    def stale_enabled(self, le: LeaderElection) -> set[str]:
        out: set[str] = set()
        for r, kcm in zip(le.replicas, le.parked, strict=True):
            if kcm is not None and not r.paused:
                out |= {a for a, q in zip(stale_actors(r.name), (kcm.rs_queue, kcm.deploy_queue), strict=True)
                        if q.queue}
        return out

    def crash_steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        """A replica crashes (``controllerManagerCrashes``): its controllers are lost, it restarts as a fresh
        candidate."""
        le = self._le(state)
        b = state.budget
        if not b.controller_manager_crashes:
            return
        spent = attrs.evolve(b, controller_manager_crashes=b.controller_manager_crashes - 1)
        for i, r in enumerate(le.replicas):
            new = _stop(state._with(budget=spent), config, i)
            yield A.Fault(FAULT_ACTOR, "crash and restart", r.name), settle(
                new._with(leader=_with_replica(self._le(new), i, restarted(r, state))), config)

    def crashes(self, state: ClusterState) -> int:
        return state.budget.controller_manager_crashes

    def parked_timers(self, le: LeaderElection, paused: bool) -> list[int]:
        return [t for r, p in zip(le.replicas, le.parked, strict=True) if p is not None and (paused or not r.paused)
                for t in manager.timers(unpark(p, False))]

    def elapse_parked(self, le: LeaderElection, dt: int) -> tuple[Parked | None, ...]:
        return tuple(p if p is None or r.paused else park(manager.elapse(unpark(p, False), dt))
                     for r, p in zip(le.replicas, le.parked, strict=True))


LEADER_ELECTION = ControllerManagerElection()


# --- kube-scheduler's replicas ------------------------------------------------------------------------------------

SCHEDULER_LEASE_KEY = key_of("leases", LEASE_NAMESPACE, "kube-scheduler")
"""kube-scheduler's lock (KubeSchedulerConfiguration leaderElection: resourceNamespace kube-system, resourceName
kube-scheduler, resourceLock leases)."""
SCHEDULER_SLOT = "scheduler_election"
KEEPS_SCHEDULING = "scheduler-keeps-scheduling"
"""The variant (``spec.variants``, kubernetes#81306): past its renew deadline a kube-scheduler leader does not exit,
so it keeps scheduling and binding from its cache."""


class SchedulerElection(LeaderElector):
    """kube-scheduler's replicas under leader election (``spec.leaderElection.components`` naming kube-scheduler):
    slot ``ClusterState.scheduler_election``; ``Elect`` actor ``<replica>/elector``. Each replica runs its scheduler
    (``ClusterState.schedulers``, named by the replica: ``spec.scheduler``) from the start, its informer and queue
    kept up to date by its event handlers (cmd/kube-scheduler/app/server.go starts the informers before leader
    election, DelayCacheUntilActive being false by default); OnStartedLeading runs ``sched.Run``, so only a replica
    that leads and is not paused takes scheduling and binding steps (``scheduler_acting``). A crash of a replica
    (``spec.faults``' ``schedulerCrashes``) restarts its scheduler and, here, its elector (``restart``: a fresh
    candidate that has observed nothing)."""

    name = "scheduler-leader-election"
    host = Host.SCHEDULER
    field = SCHEDULER_SLOT
    component = "kube-scheduler"
    lease_name = "kube-scheduler"
    lease_key = SCHEDULER_LEASE_KEY
    prefix = "kube-scheduler"
    pause_budget = "scheduler_pauses"
    keeps_variant = KEEPS_SCHEDULING
    keeps_detail = "renew deadline passed; it keeps scheduling (variant)"
    starts = "its scheduling loop starts"

    def exit(self, state: ClusterState, config: Config, i: int) -> Iterator[Step]:
        """"Leaderelection lost" (klog.FlushAndExit) and the kubelet restarts kube-scheduler: its scheduler relists
        and rebuilds its queue (``SchedulerComponent.restart``), its elector is a fresh candidate (``restart``); one
        step per revision the first list may be served at."""
        from spec.cluster import COMPONENTS
        from spec.component import restart

        r = self._le(state).replicas[i]
        etcd = state.etcd
        process = Process(Host.SCHEDULER, r.name)
        for rv in informer.relist_revisions(config, etcd.revision, 0, etcd, True):
            yield A.Elect(self.actor(r.name), "stops leading", "Leaderelection lost: kube-scheduler exits and "
                          "restarts" + (f" (list at rv {rv})" if rv != etcd.revision else "")), settle(
                restart(COMPONENTS, state, config, process, rv), config)

    def resumed(self, state: ClusterState, config: Config, i: int, le: LeaderElection) -> Step:
        r = le.replicas[i]
        return A.Elect(self.actor(r.name), "resumes", "its scheduling loop runs again" if r.leading else ""), \
            self.put(state, le)


SCHEDULER_ELECTION = SchedulerElection()


def replica_names(config: Config) -> tuple[str, ...]:
    """kube-controller-manager's replicas under leader election."""
    return LEADER_ELECTION.names(config)


def scheduler_replica_names(config: Config) -> tuple[str, ...]:
    """kube-scheduler's replicas under leader election (``spec.scheduler.names``)."""
    return SCHEDULER_ELECTION.names(config)


def scheduler_acting(state: ClusterState, name: str) -> bool:
    """The scheduler ``name`` takes scheduling and binding steps: always without its election; under it, while
    its replica leads and is not paused."""
    le = state.scheduler_election
    if le is None:
        return True
    return any(r.name == name and acting(r) for r in le.replicas)


# --- the scenario's spec.leaderElection --------------------------------------------------------------------------

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m)$")
_UNIT_MS = {"ms": 1, "s": 1_000, "m": 60_000}
FIELDS = ("replicas", "leaseDuration", "renewDeadline", "retryPeriod", "clockSkew", "pauses", "renewFailures",
          "components")
COMPONENTS = ("kube-controller-manager", "kube-scheduler")
"""The components whose replicas the model elects a leader among."""
JITTER_FACTOR = 1.2
"""leaderelection.go JitterFactor (NewLeaderElector: renewDeadline must exceed retryPeriod * JitterFactor)."""


def _seconds(ms: int) -> str:
    return f"{ms // 1000} s" if ms % 1000 == 0 else f"{ms / 1000:g} s"


def describe_bounds(cfg: LeaderElectionConfig) -> str:
    """The timing budget a verdict holds within (the scenario summary's bounds): the clock skew between replicas
    over one lease duration, which ``AtMostOneActingLeader`` needs below leaseDuration - renewDeadline -
    retryPeriod (``spec.ha_properties``), and the durations."""
    margin = cfg.lease_duration_ms - cfg.renew_deadline_ms - cfg.retry_period_ms
    within = "within" if cfg.clock_skew_ms < margin else "NOT within"
    return (f"clock skew between replicas ≤ {_seconds(cfg.clock_skew_ms)} per lease duration ({within} the "
            f"{_seconds(margin)} margin of lease {_seconds(cfg.lease_duration_ms)}, renew deadline "
            f"{_seconds(cfg.renew_deadline_ms)}, retry period {_seconds(cfg.retry_period_ms)})")


def parse_duration(value: Any, where: str) -> int:
    """A metav1.Duration as a scenario writes it ("15s", "500ms", "1.5s", "1m"), in whole ms."""
    m = _DURATION.match(value) if isinstance(value, str) else None
    if m is None:
        raise InputError(f"{where}: expected a duration like 15s or 500ms, got {value!r}")
    ms = float(m.group(1)) * _UNIT_MS[m.group(2)]
    if ms != int(ms):
        raise InputError(f"{where}: {value!r} is not a whole number of milliseconds")
    return int(ms)


def parse_config(doc: Any, where: str, budget: Budget) -> tuple[LeaderElectionConfig, Budget]:
    """``spec.leaderElection``: the config and the budget with its pauses and renewal failures; an ``InputError``
    naming the field otherwise.
    NewLeaderElector's checks (leaseDuration > renewDeadline > retryPeriod * JitterFactor) with its messages."""
    from spec.config import LeaderElectionConfig

    if not isinstance(doc, dict):
        raise InputError(f"{where}: expected a mapping, got {doc!r}")
    for key in doc:
        if key not in FIELDS:
            raise InputError(f"{where}: unknown field {key!r} (known: {', '.join(FIELDS)})")
    replicas = doc.get("replicas", 2)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= 2:
        raise InputError(f"{where}.replicas: expected 1 or 2 (the model runs at most two replicas), got {replicas!r}")
    pauses, failures = doc.get("pauses", 0), doc.get("renewFailures", 0)
    for key, value in (("pauses", pauses), ("renewFailures", failures)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise InputError(f"{where}.{key}: expected a non-negative integer, got {value!r}")
    d = LeaderElectionConfig()
    lease = parse_duration(doc["leaseDuration"], f"{where}.leaseDuration") if "leaseDuration" in doc \
        else d.lease_duration_ms
    renew = parse_duration(doc["renewDeadline"], f"{where}.renewDeadline") if "renewDeadline" in doc \
        else d.renew_deadline_ms
    retry = parse_duration(doc["retryPeriod"], f"{where}.retryPeriod") if "retryPeriod" in doc else d.retry_period_ms
    skew = parse_duration(doc["clockSkew"], f"{where}.clockSkew") if "clockSkew" in doc else 0
    if lease % 1000:
        raise InputError(f"{where}.leaseDuration: the Lease holds whole seconds (leaseDurationSeconds), got "
                         f"{doc['leaseDuration']!r}")
    if lease <= renew:
        raise InputError(f"{where}: leaseDuration must be greater than renewDeadline")
    if renew <= JITTER_FACTOR * retry:
        raise InputError(f"{where}: renewDeadline must be greater than retryPeriod*JitterFactor")
    if min(renew, retry) < 1:
        raise InputError(f"{where}: renewDeadline and retryPeriod must be greater than zero")
    if skew >= lease:
        raise InputError(f"{where}.clockSkew: must be less than leaseDuration")
    components = doc.get("components", [COMPONENTS[0]])
    if not isinstance(components, list) or not components or any(c not in COMPONENTS for c in components) \
            or len(set(components)) != len(components):
        raise InputError(f"{where}.components: expected a list of distinct components among {', '.join(COMPONENTS)}"
                         f", got {components!r}")
    chosen = tuple(c for c in COMPONENTS if c in components)
    return LeaderElectionConfig(replicas, lease, renew, retry, skew, chosen), attrs.evolve(
        budget, controller_manager_pauses=pauses if COMPONENTS[0] in chosen else 0,
        scheduler_pauses=pauses if COMPONENTS[1] in chosen else 0, lease_renew_failures=failures)
