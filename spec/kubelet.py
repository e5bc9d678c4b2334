"""The kubelet of one node: runs the containers of the pods bound to its node and reports their status.

Upstream: pkg/kubelet/kubelet.go (syncLoop, SyncPod, SyncTerminatingPod, HandlePodCleanups: kill the containers of
pods that are no longer bound here), pkg/kubelet/pod_workers.go, pkg/kubelet/status/status_manager.go (status is
patched against a fresh GET, with no resourceVersion precondition; a terminated pod with a deletionTimestamp is
deleted with grace period 0), pkg/kubelet/kuberuntime (only containers labelled with a pod uid belong to the
kubelet), pkg/kubelet/nodestatus and pkg/kubelet/nodelease (heartbeats).

Modelled: one pod's sync is one step: start its containers and report phase Running and Ready; after a container
crash, restart it and report Ready=False (the restart count goes up), then Ready again (restartPolicy Always or
OnFailure), or report phase Failed (Never); a pod whose restartPolicy is not Always (a Job's) eventually runs to
completion: its containers exit 0 and it is reported Succeeded (the workload finishing is the kubelet's fair step, so
that a Job can complete); a terminal pod is not started again; for a terminating pod,
stop its containers and delete it for good; kill the containers of pods no longer bound here. A crashed node runs
nothing; a restarted kubelet relists and adopts the containers the runtime still runs.
Abstracted: heartbeats. The node's Lease (renewed every 10 s, a quarter of leaseDurationSeconds 40 s) and its
Ready condition are relative to now, so a renewal writes the same abstract value, which the API server turns into a
no-op: no state. What the node lifecycle controller reads from them is only whether they stopped, which happens when
the node fails for good or is cut off from the API server (``spec.faults``); its grace timer then starts
(``spec.controllers.nodelifecycle``). A partitioned kubelet takes no step; once the partition heals it relists and,
if etcd's Node says other than Ready=True (the controller's Unknown), reports its node Ready (``report_node_ready``,
tryUpdateNodeStatus, within nodeStatusUpdateFrequency 10 s: before time advances, ``urgent``).
A kubelet whose container runtime is down (``Kubelet.runtime_down``, the ``runtimeFailures`` fault) reports its
node Ready=False (``ready_condition``: pkg/kubelet/nodestatus/setters.go ReadyCondition with the runtime errors of
pkg/kubelet/runtime.go, reason KubeletNotReady, "container runtime is down"), before time advances, and syncs no
pod (pkg/kubelet/kubelet.go syncLoop: "skipping pod synchronization - container runtime is down"); it keeps its
informer and renews its Lease. The variant runtime-ready-ignored (kubernetes#79873) reports Ready=True all the same.
Readiness is the containers running (no probes in scenarios); CrashLoopBackOff's delay is the gap
between the two steps.
Volumes: a pod with PersistentVolumeClaims starts only once every claim is bound to a volume bound to it (the volume
manager's WaitForAttachAndMount, which GETs the claims from the API server; ``work``); the attach/detach controller,
the attach and the mount are abstracted (a bound volume is usable at once).
Omitted: the other volume types' mounts, probes, static pods, eviction, image pulls.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs

from spec import actions as A
from spec import informer, nodeipam
from spec.apiserver import Session
from spec.component import Base, Delta, Host, Process, Step
from spec.controllers.persistentvolume import pod_volumes_ready
from spec.state import ClusterState, Etcd, Ghost, Key, Kubelet, Node, Pod, PodStatus, RuntimeContainer
from spec.watchcache import settle, settled_step

if TYPE_CHECKING:
    from spec.config import Config


def _containers(k: Kubelet, key: Key, uid: int) -> list[RuntimeContainer]:
    return [c for c in k.runtime if c.managed and c.pod == key and c.uid == uid]


def terminal(pod: Pod) -> bool:
    """The pod's phase is Succeeded or Failed (the kubelet's view keeps only that of the status)."""
    return pod.status.phase in ("Succeeded", "Failed")


def work(k: Kubelet, etcd: Etcd | None = None) -> Iterator[tuple[str, Key]]:
    """The pod syncs this kubelet would do now: (what, pod key), what in "start", "restart", "complete",
    "terminate", "cleanup". A pod whose restartPolicy is not Always (a Job's) runs to completion ("complete": its
    containers exit 0, phase Succeeded); one that is Never is not restarted after a crash (``stale_status``
    reports it Failed); a terminal pod is left alone (pkg/kubelet/kubelet.go: a pod in a terminal phase is not
    started again); none while the container runtime is down (syncLoop: "skipping pod synchronization - container
    runtime is down"). With ``etcd``, a pod whose claims are not all bound is not started (the volume manager's
    WaitForAttachAndMount: ``spec.controllers.persistentvolume.pod_volumes_ready``); without it, such a start is
    listed (a caller that only asks whether some sync may be due)."""
    if not k.up or k.informer is None or k.informer.expired or k.runtime_down:
        return
    cache = k.informer.cache
    for key, pod in sorted(cache.items()):
        assert isinstance(pod, Pod)
        running = _containers(k, key, pod.meta.uid)
        if pod.meta.deleting:
            yield "terminate", key
        elif terminal(pod):
            continue
        elif not running:
            if etcd is None or not pod.info.claims or pod_volumes_ready(pod, etcd):
                yield "start", key
        elif any(not c.running and not c.succeeded for c in running):
            if pod.restart_policy != "Never":
                yield "restart", key
        elif pod.restart_policy != "Always" and all(c.running for c in running):
            yield "complete", key
    known = {(key, pod.meta.uid) for key, pod in cache.items()}
    for key in sorted({c.pod for c in k.runtime if c.managed and (c.pod, c.uid) not in known}):
        yield "cleanup", key


def _report(session: Session, key: Key, uid: int, status: PodStatus) -> None:
    current = session.get(key)
    if isinstance(current, Pod) and current.meta.uid == uid and current.status != status:
        session.patch(key, attrs.evolve(current, status=status), uid=uid)


def sync(k: Kubelet, session: Session, what: str, key: Key, pod_cidr: str = "") -> Kubelet:
    """One pod sync (``what`` as listed by ``work``). ``pod_cidr``: the node's podCIDR where pod addresses are
    modelled (``spec.nodeipam``): a started sandbox gets an address from it (CNI host-local), reported as
    status.podIP; "" elsewhere (no address)."""
    assert k.informer is not None
    pod = k.informer.cache.get(key)
    if what == "cleanup":
        return attrs.evolve(k, runtime=frozenset(c for c in k.runtime if not (c.managed and c.pod == key and (
            not isinstance(pod, Pod) or c.uid != pod.meta.uid))))
    assert isinstance(pod, Pod)
    uid = pod.meta.uid
    current = session.get(key)
    status = current.status if isinstance(current, Pod) and current.meta.uid == uid else PodStatus()
    if what == "terminate":
        runtime = frozenset(c for c in k.runtime if not (c.managed and c.pod == key and c.uid == uid))
        session.delete(key, uid=uid, grace=False)
        session.event(key, "Normal", "Killing", "Stopping container " + ", ".join(c.name for c in pod.containers))
        return attrs.evolve(k, runtime=runtime)
    if what == "complete":
        # the containers of a pod that is not restarted exit 0: phase Succeeded (pkg/kubelet/kubelet_pods.go
        # getPhase: every container terminated, all successfully)
        done = frozenset(attrs.evolve(c, running=False, succeeded=True) if c.pod == key and c.uid == uid and c.managed
                         else c for c in k.runtime)
        _report(session, key, uid, attrs.evolve(status, phase="Succeeded", ready=False))
        session.event(key, "Normal", "Completed", "Container " + ", ".join(c.name for c in pod.containers)
                      + " exited with code 0")
        return attrs.evolve(k, runtime=done)
    if what == "start":
        ip = ""
        if pod_cidr:
            ip = nodeipam.host_local_ip(pod_cidr, frozenset(c.ip for c in k.runtime if c.managed and c.ip)) or ""
            if not ip:
                session.event(key, "Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: plugin "
                              f"type=\"host-local\" failed (add): failed to allocate for range 0: no IP addresses "
                              f"available in range set: {pod_cidr}")
                return k
        started = frozenset(RuntimeContainer(key, uid, c.name, c.image, ip=ip) for c in pod.containers)
        _report(session, key, uid, attrs.evolve(status, phase="Running", ready=True, scheduled_reason="Scheduled",
                                                pod_ip=ip))
        session.event(key, "Normal", "Started", "Started container " + ", ".join(c.name for c in pod.containers))
        return attrs.evolve(k, runtime=k.runtime | started)
    # restart: the crashed containers run again; the pod is reported not ready until the next sync sees them up
    restarted = frozenset(attrs.evolve(c, running=True) if c.pod == key and c.uid == uid else c for c in k.runtime)
    _report(session, key, uid, attrs.evolve(status, ready=False, restarts=status.restarts + 1))
    session.event(key, "Warning", "BackOff", "Back-off restarting failed container")
    return attrs.evolve(k, runtime=restarted)


def report_ready(k: Kubelet, session: Session, key: Key) -> None:
    """The status manager's next sync after a restart: running containers, so Ready again; or, for a pod that is
    never restarted, a crashed container: phase Failed (getPhase: a container terminated in error, restartPolicy
    Never)."""
    assert k.informer is not None
    pod = k.informer.cache.get(key)
    assert isinstance(pod, Pod)
    current = session.get(key)
    if isinstance(current, Pod) and current.meta.uid == pod.meta.uid:
        if _crashed_for_good(k, pod, key):
            _report(session, key, pod.meta.uid, attrs.evolve(current.status, phase="Failed", ready=False))
            session.event(key, "Warning", "Failed", "Container exited with a non-zero code; restartPolicy Never")
        else:
            _report(session, key, pod.meta.uid, attrs.evolve(current.status, phase="Running", ready=True))


def _crashed_for_good(k: Kubelet, pod: Pod, key: Key) -> bool:
    return pod.restart_policy == "Never" and any(
        not c.running and not c.succeeded for c in _containers(k, key, pod.meta.uid))


def stale_status(k: Kubelet, etcd_pod: Pod | None, key: Key) -> bool:
    """Whether etcd says not ready although every container of the pod runs (a report is due)."""
    if k.informer is None or etcd_pod is None or etcd_pod.meta.deleting:
        return False
    pod = k.informer.cache.get(key)
    if not isinstance(pod, Pod) or pod.meta.uid != etcd_pod.meta.uid:
        return False
    if _crashed_for_good(k, pod, key):
        return etcd_pod.status.phase != "Failed"
    running = _containers(k, key, pod.meta.uid)
    return bool(running) and all(c.running for c in running) and not etcd_pod.status.ready


# --- the component (spec.component) ----------------------------------------------------------------------------


def actor(node: str) -> str:
    return f"kubelet/{node}"


def nodes(config: Config) -> list[str]:
    """The scenario's nodes, in name order: one kubelet each."""
    return sorted(n.meta.name for n in config.objects if isinstance(n, Node))


def stale_reports(state: ClusterState, k: Kubelet) -> Iterator[Key]:
    """The pods (in key order) whose status in etcd the kubelet ``k`` has yet to report (``stale_status``):
    none while the node is down, its informer must relist or its runtime is down (the statuses come from the pod
    syncs, which the kubelet skips then)."""
    return _stale_reports(state.etcd, k)


def _stale_reports(etcd: Etcd, k: Kubelet) -> Iterator[Key]:
    inf = k.informer
    if not k.up or inf is None or inf.expired or k.runtime_down:
        return
    objects = etcd.objects
    for key in sorted(inf.cache.keys()):
        current = objects.get(key)
        if stale_status(k, current if isinstance(current, Pod) else None, key):
            yield key


RUNTIME_READY_IGNORED = "runtime-ready-ignored"
"""The variant in which the kubelet's Ready condition ignores the container runtime (``ready_condition``)."""


def ready_condition(k: Kubelet, ignores_runtime: bool = False) -> str:
    """The Ready condition the kubelet ``k`` reports: "False" while its container runtime is down, else "True".
    Upstream: pkg/kubelet/nodestatus/setters.go ReadyCondition (runtimeErrorsFunc: kl.runtimeState.runtimeErrors,
    pkg/kubelet/runtime.go: "container runtime is down" once the runtime has not answered for
    baseRuntimeSyncThreshold, and the runtime's own RuntimeReady=false, kubelet.go updateRuntimeUp: kubernetes#79873),
    reason KubeletNotReady. ``ignores_runtime`` is the variant runtime-ready-ignored (before kubernetes#79873:
    updateRuntimeUp's TODO left a runtime reporting RuntimeReady=false out of the node's Ready condition, so the
    node stayed Ready while no container could start on it)."""
    return "False" if k.runtime_down and not ignores_runtime else "True"


def node_status_stale(state: ClusterState, k: Kubelet, ignores_runtime: bool = False) -> bool:
    """Whether the kubelet ``k`` has to report its node's Ready condition: it runs and reaches the API server, and
    etcd's Node says otherwise (after a partition healed, the node lifecycle controller's Ready=Unknown is still
    there; after its runtime went down, Ready=True). Upstream: pkg/kubelet/kubelet_node_status.go
    tryUpdateNodeStatus (every nodeStatusUpdateFrequency, 10 s; a changed condition is patched at once)."""
    return _node_status_stale(state.etcd, k, ignores_runtime)


def _node_status_stale(etcd: Etcd, k: Kubelet, ignores_runtime: bool) -> bool:
    if not k.up or k.partitioned or k.informer is None:
        return False
    node = etcd.objects.get(f"nodes/{k.node}")
    return isinstance(node, Node) and node.ready != ready_condition(k, ignores_runtime)


def report_node_ready(k: Kubelet, session: Session, ignores_runtime: bool = False) -> None:
    """The node status update: the Ready condition as ``ready_condition`` says (True: the node lifecycle controller
    then removes its taints; False: it taints the node not-ready, NoSchedule and NoExecute)."""
    key = f"nodes/{k.node}"
    node = session.get(key)
    ready = ready_condition(k, ignores_runtime)
    if isinstance(node, Node) and node.ready != ready:
        session.patch(key, Node(node.meta, node.info, ready))
        if ready == "True":
            session.event(key, "Normal", "NodeReady", f"Node {k.node} status is now: NodeReady")
        else:
            session.event(key, "Normal", "NodeNotReady", f"Node {k.node} status is now: NodeNotReady (Ready=False, "
                          "KubeletNotReady: container runtime is down)")


def ignores_runtime(config: Config) -> bool:
    return RUNTIME_READY_IGNORED in config.variants


def has_work(state: ClusterState, k: Kubelet, ignores_runtime: bool = False) -> bool:
    """Whether the kubelet ``k`` has a pod sync or a status report to do (a step, perhaps a stuttering one)."""
    return _has_work(state.etcd, k, ignores_runtime)


@functools.lru_cache(maxsize=1 << 16)
def _has_work(etcd: Etcd, k: Kubelet, ignores_runtime: bool) -> bool:
    """``has_work``: a pure function of etcd and the kubelet, memoised as ``_outcomes``."""
    return (next(work(k, etcd), None) is not None or next(_stale_reports(etcd, k), None) is not None
            or _node_status_stale(etcd, k, ignores_runtime))


def _stutters(etcd: Etcd, k: Kubelet, what: str, key: Key) -> bool:
    """Whether the sync ``what`` of ``key`` changes nothing: a termination whose containers are gone already and
    whose pod etcd no longer holds (its informer lags behind the pod's deletion)."""
    if what != "terminate":
        return False
    assert k.informer is not None
    pod = k.informer.cache[key]
    uid = pod.meta.uid
    current = etcd.objects.get(key)
    return not _containers(k, key, uid) and not (isinstance(current, Pod) and current.meta.uid == uid)


def has_effective_work(state: ClusterState, k: Kubelet, ignores_runtime: bool = False) -> bool:
    """Whether the kubelet ``k`` has a step that changes something (``has_work`` without the stutters)."""
    return _has_effective_work(state.etcd, k, ignores_runtime)


@functools.lru_cache(maxsize=1 << 16)
def _has_effective_work(etcd: Etcd, k: Kubelet, ignores_runtime: bool) -> bool:
    """``has_effective_work``: a pure function of etcd and the kubelet, memoised as ``_outcomes`` (the reductions
    ask it of every kubelet of each state whose steps they hide)."""
    return (any(not _stutters(etcd, k, what, key) for what, key in work(k, etcd))
            or next(_stale_reports(etcd, k), None) is not None or _node_status_stale(etcd, k, ignores_runtime))


@functools.lru_cache(maxsize=1 << 16)
def _outcomes(k: Kubelet, etcd: Etcd, ghost: Ghost, cidr: str, ignores: bool, guarded: bool
              ) -> tuple[tuple[A.SyncPod, Kubelet | None, Etcd, Ghost], ...]:
    """The steps of kubelet ``k`` (``KubeletComponent.steps``), in order: (action, the kubelet after it or None
    when the step leaves it as it is, etcd and the ghost after it). A pure function of its arguments: a step
    reads only the kubelet, etcd and the ghost (through its request session, ``guarded``: the binding
    precondition), its node's podCIDR and whether its Ready condition ignores the runtime (``ignores``).
    Memoised: many states differ only in other components (web-two-nodes: one kubelet in eight is new)."""
    out: list[tuple[A.SyncPod, Kubelet | None, Etcd, Ghost]] = []
    for what, key in work(k, etcd):
        sess = Session(etcd, ghost, guarded_bind=guarded)
        new_k = sync(k, sess, what, key, cidr)
        out.append((A.SyncPod(actor(k.node), what, key, tuple(sess.events)), new_k, sess.etcd, sess.ghost))
    for key in _stale_reports(etcd, k):
        sess = Session(etcd, ghost, guarded_bind=guarded)
        report_ready(k, sess, key)
        out.append((A.SyncPod(actor(k.node), "report", key), None, sess.etcd, sess.ghost))
    if _node_status_stale(etcd, k, ignores):
        sess = Session(etcd, ghost, guarded_bind=guarded)
        report_node_ready(k, sess, ignores)
        out.append((A.SyncPod(actor(k.node), "report", f"nodes/{k.node}", tuple(sess.events)), None, sess.etcd,
                    sess.ghost))
    return tuple(out)


def _replace_kubelet(state: ClusterState, k: Kubelet) -> tuple[Kubelet, ...]:
    return tuple(k if x.node == k.node else x for x in state.kubelets)


def _pod_cidr(state: ClusterState, node: str) -> str:
    """The node's podCIDR where pod addresses are modelled (``spec.network``), else ""."""
    for n, cidr in state.net.pod_cidrs:
        if n == node:
            return cidr
    return ""


class KubeletComponent(Base):
    """Every node's kubelet and container runtime: slot ``ClusterState.kubelets``; steps ``SyncPod`` (start,
    restart, terminate, cleanup, report), actor "kubelet/<node>", weakly fair; its informer (the pods bound to
    its node) is delivered through ``spec.reflector``. No timers (CrashLoopBackOff is the gap between steps).
    A kubelet restart (``spec.faults``) loses its cache and relists; the runtime keeps its containers, which the
    restarted kubelet adopts (``restart``). A node crash loses the runtime too (a fault of the node, not of the
    process: ``spec.faults``)."""

    name = "kubelet"
    slot = "kubelet"
    host = Host.KUBELET

    def actors(self, config: Config) -> tuple[str, ...]:
        return tuple(actor(n) for n in nodes(config))

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        kubelets = []
        for node in nodes(config):
            inf, _ = informer.relist(None, state.etcd, ("kubelet", node), state.etcd.revision)
            kubelets.append(Kubelet(node=node, up=True, informer=inf))
        return state._with(kubelets=tuple(kubelets))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        ignores, guarded = ignores_runtime(config), "unguarded-bind" not in config.variants
        for k in state.kubelets:
            for a, new_k, etcd, ghost in _outcomes(k, state.etcd, state.ghost, _pod_cidr(state, k.node), ignores,
                                                   guarded):
                if new_k is None:
                    yield a, settled_step(state, config, etcd, ghost=ghost)
                elif new_k.informer is k.informer:
                    yield a, settled_step(state, config, etcd, ghost=ghost, kubelets=_replace_kubelet(state, new_k))
                else:
                    yield a, settle(state._with(etcd=etcd, ghost=ghost, kubelets=_replace_kubelet(state, new_k)),
                                    config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        ignores = ignores_runtime(config)
        return {actor(k.node) for k in state.kubelets if has_effective_work(state, k, ignores)}

    def busy(self, state: ClusterState, config: Config) -> bool:
        ignores = ignores_runtime(config)
        return any(has_work(state, k, ignores) for k in state.kubelets)

    def urgent(self, state: ClusterState, config: Config) -> bool:
        """A node status report is due (after a partition healed): it happens before time advances
        (nodeStatusUpdateFrequency 10 s, shorter than the timers it races: the eviction deadlines)."""
        ignores = ignores_runtime(config)
        return any(node_status_stale(state, k, ignores) for k in state.kubelets)

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        for k in state.kubelets:
            if k.node == process.node:
                inf, _ = informer.relist(informer.fresh(k.informer), state.etcd, ("kubelet", k.node), revision)
                return state.with_kubelet(attrs.evolve(k, informer=inf))
        return state

    def watcher(self, state: ClusterState, index: int) -> str:
        return actor(state.kubelets[index].node)

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        return state  # the pod workers read the cache itself (no queue: ``work`` follows from it)


KUBELET = KubeletComponent()
