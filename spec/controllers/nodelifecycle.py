"""The node lifecycle controller and the taint eviction controller (both in kube-controller-manager), with the
DefaultTolerationSeconds admission plugin they rely on: what happens to the pods of a node that stops sending
heartbeats.

Upstream: pkg/controller/nodelifecycle/node_lifecycle_controller.go (monitorNodeHealth, tryUpdateNodeHealth,
doNoExecuteTaintingPass, markNodeForTainting; UnreachableTaintTemplate / NotReadyTaintTemplate, both
``node.kubernetes.io/...`` NoExecute; the NoSchedule twins from doNodeProcessingPassWorker's TaintNodesByCondition),
pkg/controller/util/node/controller_utils.go (MarkPodsNotReady), pkg/controller/nodelifecycle/config/v1alpha1/
defaults.go (NodeMonitorGracePeriod 40 s: the default this model uses, the seed's story; newer releases may set
another default, which only changes the constant), pkg/controller/tainteviction/taint_eviction.go
(handleNodeUpdate, handlePodUpdate, processPodOnNode, getMinTolerationTime, deletePodHandler, the Event reason
TaintManagerEviction), plugin/pkg/admission/defaulttolerationseconds/admission.go
(default-not-ready-toleration-seconds and default-unreachable-toleration-seconds, both 300).

Modelled, as one timeline in the clock abstraction (``spec.clock``: timers hold the ms they have left):

- A node that fails for good (``spec.faults``, ``nodeFailures``) stops renewing its Lease. The controller's grace
  timer for it starts at node-monitor-grace-period (40 s); when it expires, one step of the controller
  (``monitor``) sets the node's Ready condition to Unknown, taints it ``node.kubernetes.io/unreachable`` with
  effects NoSchedule and NoExecute, and marks every pod bound to it Ready=False (MarkPodsNotReady).
- The taint eviction controller (``track``) keeps, for every pod bound to a node with NoExecute taints, not being
  deleted, a deletion deadline: the smallest tolerationSeconds of the tolerations that tolerate the taints
  (getMinTolerationTime); a taint no toleration tolerates means now; tolerations without tolerationSeconds mean
  never (the pod is not tracked). It cancels a deadline once the pod is gone, being deleted, or off such a node.
  When a deadline falls due, ``evict`` deletes the pod, gracefully as upstream does (DeleteOptions{}): a pod of a
  failed node then stays Terminating, which the ReplicaSet controller does not count, so it creates a replacement.
- DefaultTolerationSeconds: every pod that does not tolerate ``not-ready`` / ``unreachable`` NoExecute itself
  gets the toleration with tolerationSeconds 300 at admission. Here the admitted tolerations are not stored in the
  pod (the scheduler's ``PodInfo`` has no tolerationSeconds); ``toleration_seconds`` computes what they imply. The
  scheduler's TaintToleration filter gives the same verdicts either way: a node with the NoExecute taint of
  these keys always has the NoSchedule taint of the same key too, which the added toleration does not tolerate.

Heartbeats, as chosen here: the kubelet's Lease (renewed every 10 s, a quarter of its 40 s leaseDurationSeconds:
pkg/kubelet/nodelease) is the grace period's input upstream (tryUpdateNodeHealth refreshes probeTimestamp when the
Lease's renewTime moves). A running kubelet renews it well within the grace period, so a live node is never timed
out and no renewal needs a state (its abstract value would be the same every time); only a node that stopped gets a
timer. The renewal's phase is not explored: the last renewal is taken to be at the failure itself, so the node is
marked exactly 40 s after it failed (upstream: 30 to 45 s later, after the last renewal plus the monitor period
nodeMonitorPeriod 5 s). Both controllers read etcd's current objects rather than informer caches (their informers
are taken to be caught up: the clock only advances once every informer has caught up, and their steps follow a
timer).

Abstracted: the NoSchedule and NoExecute taints, the Ready condition and MarkPodsNotReady are one step (upstream:
a status update, two taint patches and pod status updates within milliseconds of each other). A restart of the
controller manager restarts both timers at their full length (upstream: the restarted controller's first
observation of a node sets probeTimestamp to now; a restarted taint eviction controller schedules from now).

Omitted (left for later slices of the issue): zone disruption states (Normal, PartialDisruption, FullDisruption,
unhealthy-zone-threshold, the eviction rate limiters), so NoEvictionWhenAllZonesDisrupted is not checked;
Ready=False (the kubelet reporting NotReady) and the ``not-ready`` taint; recovery (taints removed,
markNodeAsReachable), since a failed node never comes back and a crashed node (``nodeCrashes``) is taken to boot
within the grace period; network partitions; the DisruptionTarget pod condition; the pod garbage collector;
tolerationSeconds written in a scenario (the scenario parser drops it: a pod's own toleration counts as forever).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import attrs

from spec import actions as A
from spec.apiserver import Session
from spec.component import Base, Step, commit, session
from spec.scheduling.types import Taint, Toleration
from spec.state import ClusterState, Key, Node, NodeLifecycle, Object, Pod

if TYPE_CHECKING:
    from spec.config import Config

NODE_MONITOR_GRACE_PERIOD_MS = 40_000
"""kube-controller-manager --node-monitor-grace-period (NodeLifecycleControllerConfiguration default)."""
DEFAULT_TOLERATION_SECONDS_MS = 300_000
"""--default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds (admission plugin)."""

TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINTS = (Taint(TAINT_NODE_UNREACHABLE, "", "NoSchedule"), Taint(TAINT_NODE_UNREACHABLE, "", "NoExecute"))
_DEFAULTED = (TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE)

MONITOR_ACTOR = "node-lifecycle-controller"
EVICTION_ACTOR = "taint-eviction-controller"


# --- the grace timers --------------------------------------------------------------------------------------


def heartbeats_stopped(lc: NodeLifecycle, node: str) -> NodeLifecycle:
    """The node's last heartbeat is now: its grace timer starts."""
    grace = tuple(sorted((*(g for g in lc.grace if g[0] != node), (node, NODE_MONITOR_GRACE_PERIOD_MS))))
    return NodeLifecycle(grace, lc.evictions)


def restarted(lc: NodeLifecycle) -> NodeLifecycle:
    """After a controller-manager restart: every grace timer starts again at its full length, and the taint
    eviction controller's schedule is empty (``track`` rebuilds it from etcd, from now)."""
    if not lc.grace and not lc.evictions:
        return lc
    return NodeLifecycle(tuple((n, NODE_MONITOR_GRACE_PERIOD_MS) for n, _ in lc.grace), ())


def timers(lc: NodeLifecycle) -> list[int]:
    """The running timers' remaining ms (for the clock)."""
    return [ms for _, ms in lc.grace if ms] + [ms for _, ms in lc.evictions if ms]


def fired(lc: NodeLifecycle, dt: int) -> list[str]:
    """What falls due when ``dt`` ms pass (for the Tick's label)."""
    out = [f"node-monitor-grace-period ({NODE_MONITOR_GRACE_PERIOD_MS // 1000} s) expires for nodes/{n}"
           for n, ms in lc.grace if ms == dt]
    out += [f"tolerationSeconds expire for {k}" for k, ms in lc.evictions if ms == dt]
    return out


def elapse(lc: NodeLifecycle, dt: int) -> NodeLifecycle:
    if not lc.grace and not lc.evictions:
        return lc
    return NodeLifecycle(tuple((n, max(ms - dt, 0)) for n, ms in lc.grace),
                         tuple((k, max(ms - dt, 0)) for k, ms in lc.evictions))


# --- the node lifecycle controller -------------------------------------------------------------------------


def due_nodes(lc: NodeLifecycle) -> list[str]:
    return [n for n, ms in lc.grace if ms == 0]


def monitor(lc: NodeLifecycle, session: Session, node: str) -> NodeLifecycle:
    """monitorNodeHealth for a node whose grace period expired: Ready=Unknown, the unreachable taints, its pods
    marked not ready. The timer is done either way."""
    rest = NodeLifecycle(tuple(g for g in lc.grace if g[0] != node), lc.evictions)
    key = f"nodes/{node}"
    current = session.get(key)
    if not isinstance(current, Node):
        return rest
    taints = current.info.taints + tuple(t for t in UNREACHABLE_TAINTS if t not in current.info.taints)
    marked = Node(current.meta, attrs.evolve(current.info, taints=taints), "Unknown")
    if marked != current:
        session.patch(key, marked)
        session.event(key, "Normal", "NodeNotReady", f"Node {node} status is now: NodeNotReady "
                      f"(Ready=Unknown: Kubelet stopped posting node status; tainted {TAINT_NODE_UNREACHABLE})")
    for pkey, pod in sorted(session.etcd.objects.items()):
        if isinstance(pod, Pod) and pod.node_name == node and pod.status.ready:
            session.patch(pkey, attrs.evolve(pod, status=attrs.evolve(pod.status, ready=False)), uid=pod.meta.uid)
            session.event(pkey, "Warning", "NodeNotReady", "Node is not ready")
    return rest


# --- DefaultTolerationSeconds and the taint eviction controller --------------------------------------------


def toleration_seconds(tolerations: tuple[Toleration, ...], taint: Taint) -> int | None:
    """How long (ms) a pod tolerates a NoExecute ``taint``: None for ever (its own toleration, which carries no
    tolerationSeconds here), 300 s for not-ready / unreachable (DefaultTolerationSeconds, which adds its
    toleration only when the pod has none for that key and NoExecute), 0 when nothing tolerates it."""
    if any(t.tolerates(taint) for t in tolerations):
        return None
    if taint.key in _DEFAULTED:
        return DEFAULT_TOLERATION_SECONDS_MS
    return 0


@functools.lru_cache(maxsize=1 << 14)
def desired_evictions(objects: Mapping[Key, Object]) -> Mapping[Key, int]:
    """processPodOnNode for every pod: pod key -> ms until its deletion, for the pods on a node with NoExecute
    taints that they do not tolerate for ever (not the pods already being deleted). Memoised on etcd's objects
    (an ``immutables.Map``, which many states share)."""
    nodes = {o.meta.name: o for o in objects.values() if isinstance(o, Node)}
    out: dict[Key, int] = {}
    if not any(t.effect == "NoExecute" for n in nodes.values() for t in n.info.taints):
        return out
    for key, pod in objects.items():
        if not isinstance(pod, Pod) or pod.meta.deleting or not pod.node_name:
            continue
        node = nodes.get(pod.node_name)
        if node is None:
            continue
        times = [toleration_seconds(pod.info.tolerations, t) for t in node.info.taints if t.effect == "NoExecute"]
        finite = [t for t in times if t is not None]
        if finite:
            out[key] = min(finite)
    return out


def track_needed(lc: NodeLifecycle, objects: Mapping[Key, Object]) -> bool:
    """Whether the taint eviction controller's schedule lags behind etcd (a pod to schedule or to cancel)."""
    return {k for k, _ in lc.evictions} != set(desired_evictions(objects))


def track(lc: NodeLifecycle, objects: Mapping[Key, Object]) -> tuple[NodeLifecycle, list[str]]:
    """handleNodeUpdate / handlePodUpdate: schedule the pods that need it (from now), cancel those that no
    longer do; a pod already scheduled keeps its deadline. Returns the schedule and what changed."""
    desired = desired_evictions(objects)
    kept = tuple((k, ms) for k, ms in lc.evictions if k in desired)
    have = {k for k, _ in kept}
    added = tuple((k, ms) for k, ms in sorted(desired.items()) if k not in have)
    changes = [f"cancels the deletion of {k}" for k, _ in lc.evictions if k not in desired]
    changes += [f"schedules the deletion of {k} in {ms // 1000} s" for k, ms in added]
    return NodeLifecycle(lc.grace, tuple(sorted(kept + added))), changes


def due_pods(lc: NodeLifecycle) -> list[Key]:
    return [k for k, ms in lc.evictions if ms == 0]


def evict(lc: NodeLifecycle, session: Session, key: Key) -> NodeLifecycle:
    """deletePodHandler: DELETE the pod (graceful, no preconditions), and the work is done."""
    rest = NodeLifecycle(lc.grace, tuple(e for e in lc.evictions if e[0] != key))
    if session.get(key) is not None:
        session.delete(key)
        ns_name = key.split("/", 1)[1]
        session.event(key, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns_name}")
    return rest


def work(lc: NodeLifecycle, objects: Mapping[Key, Object]) -> Iterator[tuple[str, str]]:
    """The steps these controllers have enabled: (actor, what), what a node or pod key or "track"."""
    for node in due_nodes(lc):
        yield MONITOR_ACTOR, node
    if track_needed(lc, objects):
        yield EVICTION_ACTOR, "track"
    for key in due_pods(lc):
        yield EVICTION_ACTOR, key


# --- the component (spec.component) ----------------------------------------------------------------------------


class NodeLifecycleComponent(Base):
    """The node lifecycle and taint eviction controllers: slot ``ClusterState.lifecycle``; steps ``Reconcile``
    (``monitor`` a node whose grace period expired, ``track`` the eviction schedule, ``evict`` a due pod), actors
    "node-lifecycle-controller" and "taint-eviction-controller", weakly fair. Timers: the grace periods and the
    eviction deadlines. A controller-manager restart (``spec.faults``) restarts the grace timers at their full
    length and empties the eviction schedule (``restarted``)."""

    name = "node-lifecycle"

    def actors(self, config: Config) -> tuple[str, ...]:
        return (MONITOR_ACTOR, EVICTION_ACTOR)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return (MONITOR_ACTOR, EVICTION_ACTOR)

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        """The node lifecycle controller marks a node whose grace period expired; the taint eviction controller
        brings its schedule in line with etcd's taints and pods, or deletes a pod whose deadline is due."""
        lc = state.lifecycle
        for actor, what in work(lc, state.etcd.objects):
            sess = session(state, config)
            if actor == MONITOR_ACTOR:
                new = monitor(lc, sess, what)
                key = f"nodes/{what}"
            elif what == "track":
                new, changes = track(lc, state.etcd.objects)
                sess.events.extend(changes)
                key = "pods (on NoExecute-tainted nodes)"
            else:
                new = evict(lc, sess, what)
                key = what
            yield A.Reconcile(actor, key, False, tuple(sess.events)), commit(state, sess, config, lifecycle=new)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {actor for actor, _ in work(state.lifecycle, state.etcd.objects)}

    def busy(self, state: ClusterState, config: Config) -> bool:
        return next(work(state.lifecycle, state.etcd.objects), None) is not None

    def timers(self, state: ClusterState) -> list[int]:
        return timers(state.lifecycle)

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        return state._with(lifecycle=elapse(state.lifecycle, dt)), tuple(fired(state.lifecycle, dt))


NODE_LIFECYCLE = NodeLifecycleComponent()
