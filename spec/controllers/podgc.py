"""The pod garbage collector (kube-controller-manager's pod-garbage-collector): deletes the pods nothing else will.

Upstream: pkg/controller/podgc/gc_controller.go (gc every gcCheckPeriod 20 s: gcTerminated, gcTerminating,
gcOrphaned with its 40 s quarantine, gcUnscheduledTerminating; markFailedAndDeletePodWithCondition: the pod is
patched to phase Failed, then deleted with grace period 0), cmd/kube-controller-manager/app/core.go
(--terminated-pod-gc-threshold, default 12500).

Modelled, one pass (``plan``, ``gc``) per step, each pass doing what upstream's does:

- gcOrphaned: a pod bound to a node the API server does not have puts that node in quarantine for 40 s
  (quarantineTime: time for a lagging node informer to catch up); once the quarantine is over and the node is still
  missing (upstream: a GET on the node), every pod bound to it is marked Failed and force-deleted (DisruptionTarget
  reason DeletionByPodGC). Its kubelet, if it still runs, then sees the pod go and stops its containers.
- gcTerminating: a pod being deleted (deletionTimestamp set) on a node that is not Ready and carries the
  ``node.kubernetes.io/out-of-service`` taint (any effect) is force-deleted: the administrator has declared the
  node shut down, so the kubelet will never finish the graceful deletion (non-graceful node shutdown, KEP 2268).
- gcUnscheduledTerminating: a pod being deleted that is bound to no node is force-deleted.
- gcTerminated: when more than the threshold of pods are terminated (phase Succeeded or Failed), the oldest
  (evicted first, then by creation) beyond the threshold are deleted. The threshold is the scenario's
  ``podGC.terminatedPodThreshold`` (upstream's 12500 is far beyond what exploration reaches; 0 turns this part off,
  as upstream's flag does).

Abstracted: the 20 s period: a pass with something to do happens before time advances further (``urgent``,
``spec.component.Urgent``),
which is within the period of a timeline whose other timers are 40 s and 300 s. The controller reads etcd's
objects (its informers are taken to be caught up, as the node lifecycle controller's are). The DisruptionTarget
condition is not stored (nothing in the model reads it); phase Failed is written, as upstream writes it.
Under kube-controller-manager's leader election (``spec.leaderelection``) it runs only in the acting replica
(``spec.controllers.manager.running``), with an empty quarantine in a replica that starts acting (``restart``) and
none while no replica acts (``stopped``).
Omitted: the quarantine's GET (etcd is read directly, so it always agrees); metrics.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from spec import actions as A
from spec.apiserver import Session
from spec.component import Base, Host, Process, Step, commit, session
from spec.controllers.manager import running
from spec.state import ClusterState, Key, Node, Object, Pod, PodGC

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "pod-garbage-collector"
GC_CHECK_PERIOD_MS = 20_000
QUARANTINE_MS = 40_000
TERMINATED_POD_GC_THRESHOLD = 12_500
"""Upstream's default --terminated-pod-gc-threshold; scenarios set their own (``podGC.terminatedPodThreshold``)."""
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"


def terminated(pod: Pod) -> bool:
    """isPodTerminated: phase neither Pending, Running nor Unknown."""
    return pod.status.phase not in ("Pending", "Running", "Unknown")


@attrs.frozen
class Plan:
    """What one gc pass does: the new quarantine, and the pods it force-deletes with the reason (in order)."""

    podgc: PodGC
    deletions: tuple[tuple[Key, str], ...]


@functools.lru_cache(maxsize=1 << 12)
def plan(gc: PodGC, objects: Mapping[Key, Object], threshold: int, orphans: bool = True) -> Plan | None:
    """One gc pass over etcd's pods and nodes, or None when it would change nothing. ``orphans`` False is the
    variant ``no-orphan-gc`` (pods of deleted nodes are never collected: kubernetes#11631)."""
    nodes = {o.meta.name: o for o in objects.values() if isinstance(o, Node)}
    pods = sorted(((k, p) for k, p in objects.items() if isinstance(p, Pod)), key=lambda kp: (kp[1].meta.uid, kp[0]))
    deletions: list[tuple[Key, str]] = []
    if threshold > 0:  # gcTerminated
        done = [(k, p) for k, p in pods if terminated(p)]
        excess = len(done) - threshold
        if excess > 0:
            deletions += [(k, "terminated pods beyond the threshold") for k, _ in done[:excess]]
    for k, p in pods:  # gcTerminating
        node = nodes.get(p.node_name)
        if p.meta.deleting and node is not None and node.ready != "True" and any(
                t.key == TAINT_OUT_OF_SERVICE for t in node.info.taints):
            deletions.append((k, f"terminating on out-of-service node {node.meta.name}"))
    quarantine = dict(gc.quarantine)
    if orphans:  # gcOrphaned
        checked = {n for n, ms in quarantine.items() if ms == 0}
        quarantine = {n: ms for n, ms in quarantine.items() if ms}
        for _, p in pods:
            if p.node_name and p.node_name not in nodes and p.node_name not in checked:
                quarantine.setdefault(p.node_name, QUARANTINE_MS)
        gone = {n for n in checked if n not in nodes}
        deletions += [(k, f"orphaned: node {p.node_name} no longer exists") for k, p in pods if p.node_name in gone]
    for k, p in pods:  # gcUnscheduledTerminating
        if p.meta.deleting and not p.node_name:
            deletions.append((k, "terminating and never scheduled"))
    seen: set[Key] = set()
    unique = tuple(d for d in deletions if not (d[0] in seen or seen.add(d[0])))  # type: ignore[func-returns-value]
    new = PodGC(tuple(sorted(quarantine.items())))
    if not unique and new == gc:
        return None
    return Plan(new, unique)


def gc(state: PodGC, session: Session, threshold: int, orphans: bool = True) -> PodGC:
    """One pass: markFailedAndDeletePod for each pod of the plan (phase Failed, then DELETE with grace 0)."""
    p = plan(state, session.etcd.objects, threshold, orphans)
    if p is None:
        return state
    for key, reason in p.deletions:
        pod = session.get(key)
        if not isinstance(pod, Pod):
            continue
        if pod.status.phase not in ("Succeeded", "Failed"):
            session.patch(key, attrs.evolve(pod, status=attrs.evolve(pod.status, phase="Failed", ready=False)),
                          uid=pod.meta.uid)
        session.delete(key, uid=pod.meta.uid, grace=False)
        session.event(key, "Normal", "PodGC", f"force-deleted ({reason})")
    return p.podgc


def timers(state: PodGC) -> list[int]:
    return [ms for _, ms in state.quarantine if ms]


def fired(state: PodGC, dt: int) -> list[str]:
    return [f"quarantine ({QUARANTINE_MS // 1000} s) over for nodes/{n}" for n, ms in state.quarantine if ms == dt]


def elapse(state: PodGC, dt: int) -> PodGC:
    if not state.quarantine:
        return state
    return PodGC(tuple((n, max(ms - dt, 0)) for n, ms in state.quarantine))


def restarted(state: PodGC) -> PodGC:
    """A restarted controller manager's pod GC starts with an empty quarantine."""
    return PodGC()


# --- the component (spec.component) ----------------------------------------------------------------------------


def _threshold(config: Config) -> int:
    return config.terminated_pod_gc_threshold


def _orphans(config: Config) -> bool:
    return "no-orphan-gc" not in config.variants


class PodGCComponent(Base):
    """The pod garbage collector: slot ``ClusterState.podgc`` (the quarantine); steps ``Reconcile`` (one gc pass
    that changes something), actor "pod-garbage-collector", weakly fair; timers: the quarantine's. Its passes
    happen before time advances further (``urgent``: gcCheckPeriod 20 s is shorter than the timers it races). A
    controller-manager restart empties the quarantine (``restarted``)."""

    name = "pod-garbage-collector"
    host = Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR,)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR,)

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        if not running(state) or plan(state.podgc, state.etcd.objects, _threshold(config), _orphans(config)) is None:
            return
        sess = session(state, config)
        new = gc(state.podgc, sess, _threshold(config), _orphans(config))
        yield A.Reconcile(ACTOR, "pods", False, tuple(sess.events)), commit(state, sess, config, podgc=new)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if self.urgent(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return self.urgent(state, config)

    def urgent(self, state: ClusterState, config: Config) -> bool:
        return running(state) and plan(state.podgc, state.etcd.objects, _threshold(config),
                                       _orphans(config)) is not None

    def timers(self, state: ClusterState) -> list[int]:
        return timers(state.podgc) if running(state) else []

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        if not running(state):
            return state, ()
        return state._with(podgc=elapse(state.podgc, dt)), tuple(fired(state.podgc, dt))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        return state._with(podgc=restarted(state.podgc))

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): no quarantine."""
        return state._with(podgc=restarted(state.podgc))


POD_GC = PodGCComponent()
