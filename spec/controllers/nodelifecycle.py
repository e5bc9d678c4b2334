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

- A node that fails for good (``spec.faults``, ``nodeFailures``) or is cut off from the API server
  (``nodePartitions``) stops renewing its Lease. The controller's grace
  timer for it starts at node-monitor-grace-period (40 s); when it expires, the controller's next pass (``plan``,
  ``monitor``: one monitorNodeHealth pass) sets the node's Ready condition to Unknown (tryUpdateNodeHealth) and
  marks every pod bound to it Ready=False (MarkPodsNotReady).
- Condition taints, level-based (``desired_taints``): the NoSchedule taint of the Ready condition
  (doNoScheduleTaintingPass: ``not-ready`` for False, ``unreachable`` for Unknown, none for True), and its NoExecute
  twin, added by doNoExecuteTaintingPass when the zone's rate limiter is open, swapped at once when the opposite
  key is present (processTaintBaseEviction), removed when the node is Ready again (markNodeAsReachable: after a
  partition heals, its kubelet reports Ready, ``spec.kubelet``; the healing renews the Lease, so a grace timer
  still running stops, ``heartbeats_resumed``).
- Zones (``zone_of``: nodetopology.GetZoneKey over topology.kubernetes.io/region and /zone; nodes labelled
  node.kubernetes.io/exclude-disruption do not count): ComputeZoneState gives FullDisruption when no node of a zone
  is Ready, PartialDisruption when more than 2 and at least unhealthy-zone-threshold (0.55) of its nodes are not,
  Normal otherwise. A PartialDisruption zone of at most 50 nodes (--large-cluster-size-threshold) stops tainting
  (ReducedQPSFunc 0); a single FullDisruption zone is tainted at the normal rate (HealthyQPSFunc). When every zone
  is fully disrupted the controller enters master disruption mode (handleDisruption; kubernetes#28832, #28897): it
  removes every NoExecute condition taint and taints nothing until some node is Ready again; leaving the mode resets
  every node's probe timestamp (running grace timers start again).
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
timer). Timing: a pass the controller has to make, a change the taint eviction controller has yet to react to, and
a deletion that is due all happen before time advances further (``spec.cluster``: monitorNodeHealth runs every
5 s, the tainting pass every 100 ms, the handlers at once; the shortest timer here is 40 s).

Abstracted: one pass is one step (upstream: a status update, taint patches and pod status updates within
milliseconds of each other, from three goroutines); the eviction rate limiters' rates (0.1 node/s per zone) are
reduced to open or closed. A restart of the controller manager restarts the grace timers at their full length
(upstream: the restarted controller's first observation of a node sets probeTimestamp to now), forgets master
disruption mode (zoneStates start Initial) and the taint eviction controller's schedule (rebuilt from etcd, from
now). Under kube-controller-manager's leader election (``spec.leaderelection``) both controllers run only in the
acting replica (``spec.controllers.manager.running``: no pass, no eviction, no timer running otherwise); a replica
that starts acting starts them as after a restart (a new leader observes every node afresh: the grace periods at
their full length), and while none acts the slot is as after a restart (``stopped``).

The variant ``stale-taint-eviction`` (kubernetes#90794, before #93722) keeps a scheduled deletion while the node
has any NoExecute taint, even one the pod tolerates for ever (``_kept_while_tainted``). The variant
``force-delete-unreachable`` (kubernetes#35145, before #35235 "Node controller no longer force-deletes pods from the
api-server") deletes with grace period 0 (``evict(..., force=True)``): the pod object is removed at once, so a
StatefulSet controller creates the identity again while the unreachable node still runs the old container.

Omitted: nodeStartupGracePeriod (nodes exist and are Ready from the start); the memory, disk, PID and network
pressure conditions and their taints, and the unschedulable taint (the scheduler reads spec.unschedulable); the
DisruptionTarget pod condition; tolerationSeconds written in a scenario (the scenario parser drops it: a pod's own
toleration counts as forever); the node label reconciliation (beta OS/arch labels).
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
from spec.scheduling.types import Taint, Toleration
from spec.state import ClusterState, Etcd, Key, Node, NodeLifecycle, Object, Pod

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
    return NodeLifecycle(grace, lc.evictions, lc.disrupted)


def heartbeats_resumed(lc: NodeLifecycle, node: str) -> NodeLifecycle:
    """The node's Lease is renewed again (a partition healed): tryUpdateNodeHealth refreshes probeTimestamp, so
    its grace timer stops (a node already marked Ready=Unknown is marked Ready again by its kubelet's status)."""
    if all(g[0] != node for g in lc.grace):
        return lc
    return NodeLifecycle(tuple(g for g in lc.grace if g[0] != node), lc.evictions, lc.disrupted)


def restarted(lc: NodeLifecycle) -> NodeLifecycle:
    """After a controller-manager restart: every grace timer starts again at its full length, and the taint
    eviction controller's schedule is empty (``track`` rebuilds it from etcd, from now)."""
    if not lc.grace and not lc.evictions and not lc.disrupted:
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
                         tuple((k, max(ms - dt, 0)) for k, ms in lc.evictions), lc.disrupted)


# --- the node lifecycle controller: one monitorNodeHealth pass --------------------------------------------


ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
EXCLUDE_DISRUPTION_LABEL = "node.kubernetes.io/exclude-disruption"
UNHEALTHY_ZONE_THRESHOLD = 0.55
"""--unhealthy-zone-threshold (NodeLifecycleControllerConfiguration default)."""
LARGE_CLUSTER_THRESHOLD = 50
"""--large-cluster-size-threshold: a partially disrupted zone of at most this many nodes stops evicting
(ReducedQPSFunc returns 0); a larger one evicts at --secondary-node-eviction-rate (0.01/s)."""

NORMAL, PARTIAL, FULL = "Normal", "PartialDisruption", "FullDisruption"


def zone_of(node: Node) -> str:
    """nodetopology.GetZoneKey: region and zone labels joined by ":\\x00:" ("" when the node has neither)."""
    labels = node.info.label_map
    region, zone = labels.get(REGION_LABEL, ""), labels.get(ZONE_LABEL, "")
    return "" if not region and not zone else f"{region}:\x00:{zone}"


def zone_name(zone: str) -> str:
    """A zone key as a trace shows it."""
    return zone.replace(":\x00:", "/").strip("/") or "(no zone)"


def compute_zone_state(readies: list[str]) -> str:
    """ComputeZoneState: FullDisruption when no node of the zone is Ready, PartialDisruption when more than 2 are
    not Ready and they are at least unhealthy-zone-threshold of the zone, Normal otherwise."""
    ready = sum(1 for r in readies if r == "True")
    not_ready = len(readies) - ready
    if ready == 0 and not_ready > 0:
        return FULL
    if not_ready > 2 and not_ready / (not_ready + ready) >= UNHEALTHY_ZONE_THRESHOLD:
        return PARTIAL
    return NORMAL


def zone_states(nodes: list[Node]) -> dict[str, tuple[str, int]]:
    """zone -> (state, size) over the nodes not excluded from disruption checks (isNodeExcludedFromDisruptionChecks)."""
    readies: dict[str, list[str]] = {}
    for n in nodes:
        if EXCLUDE_DISRUPTION_LABEL in n.info.label_map:
            continue
        readies.setdefault(zone_of(n), []).append(n.ready)
    return {z: (compute_zone_state(r), len(r)) for z, r in readies.items()}


def all_zones_fully_disrupted(nodes: list[Node]) -> bool:
    """handleDisruption's allAreFullyDisrupted, for a cluster with at least one zone: no zone has a Ready node."""
    states = zone_states(nodes)
    return bool(states) and all(s == FULL for s, _ in states.values())


def limiter_open(state: str, size: int) -> bool:
    """Whether a zone's NoExecute tainter (RateLimitedTimedQueue) takes nodes: setLimiterInZone with
    evictionLimiterQPS 0.1 for Normal, HealthyQPSFunc (0.1) for FullDisruption, ReducedQPSFunc for
    PartialDisruption (0 at most LARGE_CLUSTER_THRESHOLD nodes). The rates themselves are abstracted (a zone's
    second node is not held back 10 s)."""
    return state != PARTIAL or size > LARGE_CLUSTER_THRESHOLD


_CONDITION_TAINT = {"False": TAINT_NODE_NOT_READY, "Unknown": TAINT_NODE_UNREACHABLE}


def desired_taints(node: Node, tainter_open: bool, disrupted: bool) -> tuple[Taint, ...]:
    """The node's taints after the controller's passes: doNoScheduleTaintingPass (the condition's NoSchedule taint,
    not-ready for Ready=False, unreachable for Unknown), processTaintBaseEviction (Ready=True: markNodeAsReachable
    removes the NoExecute taints; a NoExecute taint of the opposite key is swapped at once), handleDisruption (in
    master disruption mode every NoExecute taint is removed and nothing is tainted) and doNoExecuteTaintingPass
    (the condition's NoExecute taint, when the zone's limiter is open). Other taints are left as they are."""
    taints = node.info.taints
    condition_key = _CONDITION_TAINT.get(node.ready)
    want: list[Taint] = []
    if condition_key:
        want.append(Taint(condition_key, "", "NoSchedule"))
        has_no_execute = any(t.key in _DEFAULTED and t.effect == "NoExecute" for t in taints)
        if not disrupted and (has_no_execute or tainter_open):
            want.append(Taint(condition_key, "", "NoExecute"))
    kept = [t for t in taints if t.key not in _DEFAULTED or t in want]
    return tuple(kept + [t for t in want if t not in kept])


@attrs.frozen
class Plan:
    """What one monitorNodeHealth pass (with the tainting passes it feeds) writes."""

    lifecycle: NodeLifecycle
    nodes: tuple[Node, ...]
    """The nodes it writes (status and taints), in name order."""
    marked: tuple[str, ...]
    """Nodes it marks Ready=Unknown (their pods are marked not ready: MarkPodsNotReady)."""
    events: tuple[tuple[str, str, str, str], ...]
    """(key, type, reason, message)."""


@functools.lru_cache(maxsize=1 << 14)
def plan(lc: NodeLifecycle, objects: Mapping[Key, Object], zone_aware: bool = True) -> Plan | None:
    """One pass of the node lifecycle controller over etcd's nodes, or None when it would change nothing.
    ``zone_aware`` False is the variant ``no-zone-disruption`` (before kubernetes#28832 / #28897: no zone states,
    no master disruption mode)."""
    nodes = sorted((o for o in objects.values() if isinstance(o, Node)), key=lambda n: n.meta.name)
    names = {n.meta.name for n in nodes}
    due = {n for n, ms in lc.grace if ms == 0}
    grace = tuple(g for g in lc.grace if g[1] and g[0] in names)
    events: list[tuple[str, str, str, str]] = []
    marked: list[str] = []
    observed: list[Node] = []
    for n in nodes:  # tryUpdateNodeHealth
        if n.meta.name in due and n.ready != "Unknown":
            n = Node(n.meta, n.info, "Unknown")
            marked.append(n.meta.name)
            events.append((f"nodes/{n.meta.name}", "Normal", "NodeNotReady",
                           f"Node {n.meta.name} status is now: NodeNotReady (Ready=Unknown: Kubelet stopped posting "
                           "node status)"))
        observed.append(n)
    states = zone_states(observed) if zone_aware else {}
    all_full = zone_aware and all_zones_fully_disrupted(observed)
    disrupted = lc.disrupted
    if zone_aware and bool(states) and all_full != disrupted:  # handleDisruption's transitions
        if all_full:
            events.append(("nodes", "Normal", "EnteringMasterDisruptionMode",
                           "Controller detected that all Nodes are not-Ready. Entering master disruption mode "
                           "(no evictions; NoExecute taints removed)"))
        else:
            events.append(("nodes", "Normal", "ExitingMasterDisruptionMode",
                           "Controller detected that some Nodes are Ready. Exiting master disruption mode"))
            grace = tuple((n, NODE_MONITOR_GRACE_PERIOD_MS) for n, _ in grace)  # probe timestamps reset to now
        disrupted = all_full
    writes: list[Node] = []
    for n in observed:
        state, size = states.get(zone_of(n), (NORMAL, 0))
        taints = desired_taints(n, limiter_open(state, size), disrupted)
        if taints != n.info.taints:
            added = [t for t in taints if t not in n.info.taints]
            removed = [t for t in n.info.taints if t not in taints]
            words = [f"tainted {t.key}:{t.effect}" for t in added] + [f"untainted {t.key}:{t.effect}"
                                                                     for t in removed]
            events.append((f"nodes/{n.meta.name}", "Normal", "Taints", ", ".join(words)))
            n = Node(n.meta, attrs.evolve(n.info, taints=taints), n.ready)
        current = objects.get(f"nodes/{n.meta.name}")
        if n != current:
            writes.append(n)
    new = NodeLifecycle(grace, lc.evictions, disrupted)
    if not writes and new == lc:
        return None
    return Plan(new, tuple(writes), tuple(marked), tuple(events))


def due_nodes(lc: NodeLifecycle) -> list[str]:
    return [n for n, ms in lc.grace if ms == 0]


def monitor(lc: NodeLifecycle, session: Session, what: str = "", zone_aware: bool = True) -> NodeLifecycle:
    """monitorNodeHealth (with doNoScheduleTaintingPass, processTaintBaseEviction, handleDisruption and
    doNoExecuteTaintingPass, which follow it within milliseconds): nodes whose grace period expired are marked
    Ready=Unknown and their pods not ready (MarkPodsNotReady); every node's condition taints are brought in line."""
    p = plan(lc, session.etcd.objects, zone_aware)
    if p is None:
        return lc
    for node in p.nodes:
        session.patch(f"nodes/{node.meta.name}", node)
    for key, kind, reason, message in p.events:
        session.event(key, kind, reason, message)
    for name in p.marked:
        for pkey, pod in sorted(session.etcd.objects.items()):
            if isinstance(pod, Pod) and pod.node_name == name and pod.status.ready:
                session.patch(pkey, attrs.evolve(pod, status=attrs.evolve(pod.status, ready=False)),
                              uid=pod.meta.uid)
                session.event(pkey, "Warning", "NodeNotReady", "Node is not ready")
    return p.lifecycle


def pass_label(lc: NodeLifecycle, objects: Mapping[Key, Object]) -> str:
    """What a pass is about, for the trace: the nodes it marks or writes."""
    due = due_nodes(lc)
    return f"nodes/{','.join(due)}" if due else "nodes"


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


def untolerated(pod: Pod, node: Node) -> bool:
    """Whether ``node`` has a NoExecute taint that ``pod`` does not tolerate for ever (the only reason the taint
    eviction controller may delete it: upstream's taint-and-toleration documentation, "pods that tolerate the taint
    without specifying tolerationSeconds ... remain bound forever")."""
    return any(toleration_seconds(pod.info.tolerations, t) is not None for t in node.info.taints
               if t.effect == "NoExecute")


def _kept_while_tainted(lc: NodeLifecycle, objects: Mapping[Key, Object]) -> set[Key]:
    """The variant stale-taint-eviction (kubernetes#90794, fixed by #93722): processPodOnNode cancelled a scheduled
    deletion only when the node had no NoExecute taint left, not when the pod tolerated the remaining ones for
    ever. The scheduled pods still bound to a node with some NoExecute taint and not being deleted."""
    out = set()
    for key, _ in lc.evictions:
        pod = objects.get(key)
        if isinstance(pod, Pod) and not pod.meta.deleting:
            node = objects.get(f"nodes/{pod.node_name}")
            if isinstance(node, Node) and any(t.effect == "NoExecute" for t in node.info.taints):
                out.add(key)
    return out


def _desired(lc: NodeLifecycle, objects: Mapping[Key, Object], cancel_tolerated: bool) -> Mapping[Key, int]:
    desired = desired_evictions(objects)
    if cancel_tolerated:
        return desired
    stale = _kept_while_tainted(lc, objects) - set(desired)
    return {**desired, **{k: 0 for k in stale}} if stale else desired


def track_needed(lc: NodeLifecycle, objects: Mapping[Key, Object], cancel_tolerated: bool = True) -> bool:
    """Whether the taint eviction controller's schedule lags behind etcd (a pod to schedule or to cancel)."""
    return {k for k, _ in lc.evictions} != set(_desired(lc, objects, cancel_tolerated))


def track(lc: NodeLifecycle, objects: Mapping[Key, Object], cancel_tolerated: bool = True
          ) -> tuple[NodeLifecycle, list[str]]:
    """handleNodeUpdate / handlePodUpdate: schedule the pods that need it (from now), cancel those that no
    longer do; a pod already scheduled keeps its deadline. Returns the schedule and what changed.
    ``cancel_tolerated`` False is the variant stale-taint-eviction (``_kept_while_tainted``)."""
    desired = _desired(lc, objects, cancel_tolerated)
    kept = tuple((k, ms) for k, ms in lc.evictions if k in desired)
    have = {k for k, _ in kept}
    added = tuple((k, ms) for k, ms in sorted(desired.items()) if k not in have)
    changes = [f"cancels the deletion of {k}" for k, _ in lc.evictions if k not in desired]
    changes += [f"schedules the deletion of {k} in {ms // 1000} s" for k, ms in added]
    return NodeLifecycle(lc.grace, tuple(sorted(kept + added)), lc.disrupted), changes


def due_pods(lc: NodeLifecycle) -> list[Key]:
    return [k for k, ms in lc.evictions if ms == 0]


def evict(lc: NodeLifecycle, session: Session, key: Key, force: bool = False) -> NodeLifecycle:
    """deletePodHandler: DELETE the pod (graceful, no preconditions), and the work is done.

    ``force`` (the variant ``force-delete-unreachable``, kubernetes#35145, before #35235): the pod is deleted with
    grace period 0, removed from etcd at once, as the node controller's ``forcefullyDeletePod`` did for the pods of
    an unreachable node: the pod object is gone while its kubelet, cut off, still runs its containers."""
    rest = NodeLifecycle(lc.grace, tuple(e for e in lc.evictions if e[0] != key), lc.disrupted)
    pod = session.get(key)
    if pod is not None:
        nodes = [o for o in session.etcd.objects.values() if isinstance(o, Node)]
        ghost = session.ghost
        if all_zones_fully_disrupted(nodes):  # the ghost of NoEvictionWhenAllZonesDisrupted
            ghost = attrs.evolve(ghost, disrupted_evictions=ghost.disrupted_evictions | {key})
        node = session.get(f"nodes/{pod.node_name}") if isinstance(pod, Pod) else None
        if isinstance(pod, Pod) and not (isinstance(node, Node) and untolerated(pod, node)):
            ghost = attrs.evolve(ghost, tolerated_evictions=ghost.tolerated_evictions | {key})
        session.ghost = ghost
        session.delete(key, grace=not force)
        ns_name = key.split("/", 1)[1]
        session.event(key, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns_name}")
    return rest


def work(lc: NodeLifecycle, objects: Mapping[Key, Object], zone_aware: bool = True,
         cancel_tolerated: bool = True) -> Iterator[tuple[str, str]]:
    """The steps these controllers have enabled: (actor, what), what "pass" (a monitorNodeHealth pass that
    changes something), a pod key (an eviction that is due) or "track"."""
    if plan(lc, objects, zone_aware) is not None:
        yield MONITOR_ACTOR, "pass"
    if track_needed(lc, objects, cancel_tolerated):
        yield EVICTION_ACTOR, "track"
    for key in due_pods(lc):
        yield EVICTION_ACTOR, key


@functools.lru_cache(maxsize=1 << 14)
def _work_items(lc: NodeLifecycle, etcd: Etcd, zone_aware: bool, cancel_tolerated: bool) -> tuple[tuple[str, str], ...]:
    """``work`` over etcd's objects, all of it: a pure function of the controllers' state and etcd, memoised
    (its steps, ``enabled``, and the clock's ``urgent`` and quiescence ask it of every state they expand;
    web-two-nodes: 779 distinct keys for 6,844 look-ups in the first 20,000 states)."""
    return tuple(work(lc, etcd.objects, zone_aware, cancel_tolerated))


# --- the component (spec.component) ----------------------------------------------------------------------------


def zone_aware(config: Config) -> bool:
    """Zone states and the master disruption mode are on, unless the ``no-zone-disruption`` variant is."""
    return "no-zone-disruption" not in config.variants


def _cancel_tolerated(config: Config) -> bool:
    return "stale-taint-eviction" not in config.variants


def _force_delete(config: Config) -> bool:
    """The variant ``force-delete-unreachable`` (kubernetes#35145): taint-based deletions use grace period 0."""
    return "force-delete-unreachable" in config.variants


class NodeLifecycleComponent(Base):
    """The node lifecycle and taint eviction controllers: slot ``ClusterState.lifecycle``; steps ``Reconcile``
    (``monitor``: one monitorNodeHealth pass that changes something; ``track`` the eviction schedule; ``evict`` a
    due pod), actors "node-lifecycle-controller" and "taint-eviction-controller", weakly fair. Timers: the grace
    periods and the eviction deadlines. ``urgent``: all of its work happens before time advances further (its
    passes run every 5 s and 100 ms, its handlers at once, a due deletion at once). A controller-manager restart
    (``spec.faults``) restarts the grace timers at their full length, forgets master disruption mode and empties the
    eviction schedule (``restarted``)."""

    name = "node-lifecycle"
    host = Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        return (MONITOR_ACTOR, EVICTION_ACTOR)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return (MONITOR_ACTOR, EVICTION_ACTOR)

    def _work(self, state: ClusterState, config: Config) -> Iterator[tuple[str, str]]:
        if not running(state):
            return iter(())
        return iter(_work_items(state.lifecycle, state.etcd, zone_aware(config), _cancel_tolerated(config)))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        """The node lifecycle controller's pass (marks nodes whose grace period expired, brings the condition
        taints and master disruption mode in line); the taint eviction controller brings its schedule in line
        with etcd's taints and pods, or deletes a pod whose deadline is due."""
        lc = state.lifecycle
        objects = state.etcd.objects
        for actor, what in self._work(state, config):
            sess = session(state, config)
            if actor == MONITOR_ACTOR:
                key = pass_label(lc, objects)
                new = monitor(lc, sess, what, zone_aware(config))
            elif what == "track":
                new, changes = track(lc, objects, _cancel_tolerated(config))
                sess.events.extend(changes)
                key = "pods (on NoExecute-tainted nodes)"
            else:
                new = evict(lc, sess, what, force=_force_delete(config))
                key = what
            yield A.Reconcile(actor, key, False, tuple(sess.events)), commit(state, sess, config, lifecycle=new)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {actor for actor, _ in self._work(state, config)}

    def busy(self, state: ClusterState, config: Config) -> bool:
        return next(self._work(state, config), None) is not None

    def urgent(self, state: ClusterState, config: Config) -> bool:
        """Work that happens before time advances (``spec.clock``): a pass to make, a handler to run, a deletion
        due. All of its work is such."""
        return self.busy(state, config)

    def timers(self, state: ClusterState) -> list[int]:
        return timers(state.lifecycle) if running(state) else []

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        if not running(state):
            return state, ()
        return state._with(lifecycle=elapse(state.lifecycle, dt)), tuple(fired(state.lifecycle, dt))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        return state._with(lifecycle=restarted(state.lifecycle))

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): as after a restart
        (the nodes whose heartbeats stopped are the world's: their grace timers stand at their full length, which
        a new leader's first observation starts), no eviction schedule, no master disruption mode."""
        return state._with(lifecycle=restarted(state.lifecycle))


NODE_LIFECYCLE = NodeLifecycleComponent()
