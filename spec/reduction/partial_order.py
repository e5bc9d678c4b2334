"""Partial-order reductions of the Kubernetes model: ample sets of watch deliveries and eager no-op reconciles.

A reduced state returns a subset of its enabled steps; the others are *hidden*. Both reductions satisfy the
ample-set conditions C0-C3 (Peled; Clarke, Grumberg and Peled, *Model Checking*, ch. 10), each argued below, and
report the fair classes they hide (``hidden_fairness``), because weak fairness is a statement about the full Next
relation: a class enabled all along a cycle of the full system must not look disabled at a reduced state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from spec import actions as A
from spec import faults, informer, kubelet, scheduler
from spec.cluster import REFLECTORS, Reporters, enabled_among, fairness_name, gc_work, reporters, stale_reports
from spec.config import Config
from spec.state import ClusterState, Etcd

Steps = list[tuple[A.Action, ClusterState]]
Reconciles = list[tuple[A.Action, ClusterState, bool]]


def eager_noop(reconciles: Iterable[tuple[A.Action, ClusterState | Callable[[], ClusterState], bool]]
               ) -> Steps | None:
    """The first idle reconcile among ``reconciles`` (``spec.cluster.reconcile_steps`` of a state, or its next
    states still to be built: ``spec.controllers.manager.reconcile_outcomes``), alone; None when there is none: an
    idle reconcile is taken at once, alone (an ample set of one invisible step).

    Why it is sound although a watch delivery could make the same reconcile do something: the controllers are
    level-triggered. Their handlers enqueue the key of every object whose change their reconcile could react to
    (pkg/controller/replicaset/replica_set.go addPod/updatePod/deletePod/updateRS: the owner or the ReplicaSet
    itself; pkg/controller/deployment/deployment_controller.go updateDeployment, add/update/deleteReplicaSet: the
    Deployment), and expectations that expire enqueue theirs. So a behaviour that delivers such a change and then
    reconciles the key is matched, after the early no-op, by the same delivery enqueuing the key again and the
    same reconcile; a behaviour that reconciles it without a change is the no-op itself. Each such step empties a
    queue slot, so no cycle is made of them (C3).

    Fairness: the no-op hides every other enabled step of its state, so the state reports the fair classes it
    hid (``hidden_fairness``, ``spec.cluster.enabled_actors``) and the checker counts them as enabled. No fairly
    scheduled action loses continuous enabledness: the no-op changes only the controller manager's queue, so
    every other actor enabled before it is enabled after it (the clock aside, which waits for quiescence and is
    itself fair only where it is enabled). Without this a crashed node's recovery looked disabled along a loop
    of resyncs and no-ops, and EventualReplicaConvergence was reported violated (tests/spec/test_spec_
    differential.py)."""
    for a, t, is_idle in reconciles:
        if is_idle:
            return [(a, t if isinstance(t, ClusterState) else t())]
    return None


def hidden_fairness(state: ClusterState, config: Config, shown: Steps, fair: Iterable[str],
                    plan: Reporters | None = None) -> list[str]:
    """The fairness classes of the actors in ``fair`` that have a non-stuttering step enabled in ``state`` in the
    full Next relation (``spec.cluster.enabled_actors``) and none among the ``shown`` steps. Only the components
    that may name such an actor are asked (``spec.cluster.enabled_among``; ``plan``: ``spec.cluster.reporters``
    of ``config``): the same classes, since every other component's ``enabled`` names none of them."""
    seen = {getattr(a, "actor", None) for a, t in shown if t != state}
    wanted = frozenset(a for a in fair if a not in seen)
    if not wanted:
        return []
    enabled = enabled_among(state, config, wanted, reporters(config) if plan is None else plan)
    return sorted(fairness_name(a) for a in enabled)


_WRITES_PER_STEP = 8
"""More than any single step writes (a reconcile of the scenarios' sizes): the margin below the watch cache's
capacity under which no compaction can depend on the order of deliveries."""


def idle(state: ClusterState, config: Config, who: str, index: int) -> bool:
    if who in ("kcm", "workloads", "jobs", "daemonsets", "volumes", "cronjobs", "rcs"):
        # With Services, the EndpointSlice controller's pod handlers run on the controller manager's pod
        # deliveries, and its syncs read two more informers: not reduced (see ``ample``'s condition on them).
        w = state.workloads
        return (not state.kcm.rs_queue.queue and not state.kcm.deploy_queue.queue and not gc_work(state, config)
                and (w is None or (not w.sts_queue.queue and not w.pdb_queue.queue)) and state.net.eps is None
                and (state.jobs is None or not state.jobs.queue.queue)
                and (state.daemonsets is None or not state.daemonsets.queue.queue)
                and (state.volumes is None or not state.volumes.queue.queue)
                and (state.hpa is None or not state.hpa.queue)
                and (state.cronjobs is None or not state.cronjobs.queue.queue)
                and (state.rcs is None or not state.rcs.queue.queue))
    if who == "scheduler":
        s = state.schedulers[index]
        return scheduler.head(s) is None and not s.binding
    if who in ("eps", "dns"):
        # The EndpointSlice controller's three informers are one component (as the controller manager's, it
        # would qualify only with a backlog on all three: not reduced); CoreDNS's deliveries are visible
        # (DNSEventuallyResolvesToClusterIP reads its cache).
        return False
    if who == "proxy":
        # A delivery changes only the proxier's cache, which no property reads (they read its installed rules);
        # with nothing to sync, only a delivery can give it work. Not under proxy-missed-update, where a
        # delivery has a second outcome that an ample set would drop.
        from spec import kubeproxy

        p = state.net.proxies[index]
        return p.known is None and p.rules == kubeproxy.rules_for(p, tuple(sorted(q.node for q in state.net.proxies)))
    k = state.kubelets[index]
    return next(kubelet.work(k), None) is None and next(stale_reports(state, k), None) is None


_GROUP = {"workloads": "kcm", "jobs": "kcm", "daemonsets": "kcm", "volumes": "kcm", "cronjobs": "kcm", "rcs": "kcm"}
"""Informer slots that belong to one process with the controller manager's: the StatefulSet and disruption
controllers (``spec.state.Workloads``) read the controller manager's pod informer, whose deliveries also run their
handlers, so their informers and the controller manager's form one group: an ample set of the group's deliveries
needs every one of them to have a backlog, and every controller of the process to be idle. The Job controller
(``spec.state.JobController``: its Job informer, its pods from the same shared pod informer) joins the group on
the same terms, and so does the DaemonSet controller (``spec.state.DaemonSetController``: its DaemonSet and Node
informers, its pods from the shared pod informer), and the PersistentVolume controller (``spec.state.
VolumeController``: its volume and claim informers; its handlers only queue keys), and the replication manager
(``spec.state.ReplicationManager``: its ReplicationController informer, its pods from the shared pod informer)."""


_SCENARIO_ONLY = frozenset({"statefulsets", "poddisruptionbudgets", "jobs", "daemonsets", "replicationcontrollers"})
"""Resources no step ever creates (only a scenario's documents do)."""


def _never_written(scope: informer.Scope, etcd: Etcd) -> bool:
    """An informer that no event can ever reach: its resource is one no step creates, and etcd holds none."""
    resource = scope[1]
    if resource == "jobs" and next(etcd.of("cronjobs"), None) is not None:
        return False  # the CronJob controller creates Jobs (spec.controllers.cronjob)
    return resource in _SCENARIO_ONLY and next(etcd.of(resource), None) is None


def _failure(a: A.Action) -> bool:
    """A node failure's step: postponed past an ample set, never part of it (``ample``)."""
    return isinstance(a, A.Fault) and a.kind == faults.FAILURE


def ample(state: ClusterState, config: Config) -> list[tuple[A.Action, ClusterState]] | None:
    """An ample set (Peled; Clarke, Grumberg and Peled, *Model Checking*, ch. 10): the next watch delivery of every
    informer of a component that has nothing else to do, plus the enabled faults.

    Why it is sound: such a delivery only changes that component's informer and queues (C2: no property reads
    them, they are invisible); it commutes with every other component's step and with every write (a write only
    appends to the history); and nothing but the delivery itself, a fault or a Tick can give the idle component
    work, while a Tick waits for every informer to catch up (C1: no dependent step can come first). This needs
    the component's informers to have a backlog each: a caught-up informer could receive a new event (written by
    anyone) whose delivery gives the component work that reads the other informers' stale caches, so the
    controller manager, with three informers, qualifies only when all three are behind. A delivery shortens a
    backlog and faults spend a budget, so no cycle is made of reduced states (C3), which also keeps liveness and
    fairness verdicts exact, given that the fair classes the ample set hides are reported as enabled
    (``ClusterModel.hidden_fairness``). Visible faults (container crashes, node crashes change what runs) disable
    the reduction, as does a crashed node that will boot again, and a history close to the watch cache's capacity
    (then the order of deliveries decides who gets 410 Gone). A scheduling cycle is *not* reduced: a caught-up
    scheduler may receive a node or bound-pod event before it.

    Node failures (``nodeFailures``, visible: the node's containers stop) do not disable it; they are left *out*
    of the ample set, postponed past it, which C2 allows (only the ample steps must be invisible). C1 holds: a
    failure of node X writes nothing to etcd and touches only kubelet X (its informer and runtime) and the node
    lifecycle controller's grace timer for X, so it commutes with the delivery to any other component; it makes
    no step enabled that could give the ample component work before its deliveries (the grace timer's pass needs
    a Tick, which waits for every informer to catch up); and kubelet X itself is never chosen while X can still
    fail (its failure would disable its deliveries). A node that already failed never recovers: nothing of it is
    enabled, so it no longer disables the reduction. C3: as above. (node-failure, a ReplicaSet of 2 on 2 nodes:
    217,590 states before, 77,878 with this; tests/spec/test_spec_reductions.py compares the visible states of a
    failure scenario with and without the reductions.)
    """
    b = state.budget
    if b.node_crashes or b.container_crashes or b.runtime_failures or any(not k.up and not k.failed
                                                                         for k in state.kubelets):
        return None
    can_fail = {k.node for k in state.kubelets if not k.failed and not k.partitioned} if b.node_failures else set()
    if len(state.etcd.history) + _WRITES_PER_STEP >= config.watch_cache_size:
        return None
    etcd = state.etcd
    revision = etcd.revision
    infs = state.informers()
    slots = state.layout().slots
    busy: set[tuple[str, int]] = set()
    for (who, index, _), inf in zip(slots, infs, strict=True):
        if inf is not None and (inf.expired or (inf.rv < revision and informer.next_event(inf, etcd) is not None)):
            group = _GROUP.get(who, who)
            busy.add((group, 0 if group == "kcm" else index))
    for who, index in sorted(busy):
        if who == "kubelet" and state.kubelets[index].node in can_fail:
            continue
        if not idle(state, config, who, index):
            continue
        if who == "kcm" and any((i is None or informer.next_event(i, etcd) is None) and not _never_written(scope, etcd)
                                for (w, _, scope), i in zip(slots, infs, strict=True) if _GROUP.get(w, w) == "kcm"):
            # A caught-up informer of the controller manager may receive a new event (any component writes pods)
            # whose delivery enqueues a reconcile that reads another informer's cache: that reconcile would be a
            # dependent step reachable before the ample deliveries (C1). Only a backlog on all three is safe.
            continue
        steps: list[tuple[A.Action, ClusterState]] = []
        for slot, ((w, i, _), inf) in enumerate(zip(slots, infs, strict=True)):
            if _GROUP.get(w, w) == who and (who == "kcm" or i == index):
                if inf is not None and inf.expired:
                    steps = []
                    break
                steps.extend(REFLECTORS.slot_steps_at(state, config, slot, infs))
        if steps:
            return steps + [(a, t) for a, t in faults.FAULTS.steps(state, config) if not _failure(a)]
    return None


