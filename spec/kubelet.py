"""The kubelet of one node: runs the containers of the pods bound to its node and reports their status.

Upstream: pkg/kubelet/kubelet.go (syncLoop, SyncPod, SyncTerminatingPod, HandlePodCleanups: kill the containers of
pods that are no longer bound here), pkg/kubelet/pod_workers.go, pkg/kubelet/status/status_manager.go (status is
patched against a fresh GET, with no resourceVersion precondition; a terminated pod with a deletionTimestamp is
deleted with grace period 0), pkg/kubelet/kuberuntime (only containers labelled with a pod uid belong to the
kubelet), pkg/kubelet/nodestatus and pkg/kubelet/nodelease (heartbeats).

Modelled: one pod's sync is one step: start its containers and report phase Running and Ready; after a container
crash, restart it and report Ready=False (the restart count goes up), then Ready again; for a terminating pod,
stop its containers and delete it for good; kill the containers of pods no longer bound here. A crashed node runs
nothing; a restarted kubelet relists and adopts the containers the runtime still runs.
Abstracted: heartbeats. The node's Lease (renewed every 10 s, a quarter of leaseDurationSeconds 40 s) and its
Ready condition are relative to now, so a renewal writes the same abstract value, which the API server turns into a
no-op: no state. What the node lifecycle controller reads from them is only whether they stopped, which happens when
the node fails for good (``spec.faults``); its grace timer then starts (``spec.controllers.nodelifecycle``).
Readiness is the containers running (no probes in scenarios); CrashLoopBackOff's delay is the gap
between the two steps.
Omitted: volumes, probes, static pods, eviction, image pulls.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from spec import nodeipam
from spec.apiserver import Session
from spec.state import Key, Kubelet, Pod, PodStatus, RuntimeContainer


def _containers(k: Kubelet, key: Key, uid: int) -> list[RuntimeContainer]:
    return [c for c in k.runtime if c.managed and c.pod == key and c.uid == uid]


def work(k: Kubelet) -> Iterator[tuple[str, Key]]:
    """The pod syncs this kubelet would do now: (what, pod key), what in "start", "restart", "terminate",
    "cleanup"."""
    if not k.up or k.informer is None or k.informer.expired:
        return
    cache = k.informer.cache
    for key, pod in sorted(cache.items()):
        assert isinstance(pod, Pod)
        running = _containers(k, key, pod.meta.uid)
        if pod.meta.deleting:
            yield "terminate", key
        elif not running:
            yield "start", key
        elif any(not c.running for c in running):
            yield "restart", key
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
    """The status manager's next sync after a restart: running containers, so Ready again."""
    assert k.informer is not None
    pod = k.informer.cache.get(key)
    assert isinstance(pod, Pod)
    current = session.get(key)
    if isinstance(current, Pod) and current.meta.uid == pod.meta.uid:
        _report(session, key, pod.meta.uid, attrs.evolve(current.status, phase="Running", ready=True))


def stale_status(k: Kubelet, etcd_pod: Pod | None, key: Key) -> bool:
    """Whether etcd says not ready although every container of the pod runs (a report is due)."""
    if k.informer is None or etcd_pod is None or etcd_pod.meta.deleting:
        return False
    pod = k.informer.cache.get(key)
    if not isinstance(pod, Pod) or pod.meta.uid != etcd_pod.meta.uid:
        return False
    running = _containers(k, key, pod.meta.uid)
    return bool(running) and all(c.running for c in running) and not etcd_pod.status.ready
