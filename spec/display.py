"""The human view of a state for trace diffs: kubectl-like addresses mapped to the fields that matter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spec.state import ClusterState, Deployment, Node, Object, Pod, ReplicaSet


def _object(obj: Object) -> dict[str, Any]:
    m = obj.meta
    out: dict[str, Any] = {"uid": m.uid, "resourceVersion": m.resource_version}
    if m.deleting:
        out["deletionTimestamp"] = "set"
    if m.owner is not None:
        out["owner"] = f"{m.owner.kind}/{m.owner.name}"
    if isinstance(obj, Pod):
        out.update(nodeName=obj.node_name, phase=obj.status.phase, ready=obj.status.ready,
                   images=[c.image for c in obj.containers])
        if obj.status.scheduled_reason:
            out["PodScheduled"] = obj.status.scheduled_reason
        if obj.status.restarts:
            out["restarts"] = obj.status.restarts
    elif isinstance(obj, Node):
        out["unschedulable"] = obj.info.unschedulable
    elif isinstance(obj, ReplicaSet):
        st = obj.status
        out.update(replicas=obj.replicas, status=f"{st.replicas} current, {st.ready_replicas} ready, "
                   f"{st.available_replicas} available", annotations=dict(m.annotations))
    elif isinstance(obj, Deployment):
        ds = obj.status
        out.update(replicas=obj.replicas, generation=m.generation, images=[c.image for c in obj.template.containers],
                   status=f"{ds.updated_replicas} updated, {ds.ready_replicas} ready, {ds.available_replicas} "
                   f"available, observedGeneration {ds.observed_generation}",
                   conditions=[f"{c.type}={c.status} ({c.reason})" for c in ds.conditions])
    return out


def display(state: ClusterState) -> Mapping[str, Any]:
    """A JSON-able view keyed by kubectl-like addresses."""
    view: dict[str, Any] = {"etcd": {"revision": state.etcd.revision, "compacted": state.etcd.compacted,
                                     "history": len(state.etcd.history)}}
    for key, obj in sorted(state.etcd.objects.items()):
        view[key] = _object(obj)
    kcm = state.kcm
    view["kube-controller-manager"] = {
        "informers": {f"{r} rv": i.rv for r, i in zip(("deployments", "replicasets", "pods"), kcm.informers,
                                                           strict=True)},
        "replicaset queue": list(kcm.rs_queue.queue), "deployment queue": list(kcm.deploy_queue.queue),
        "backoff": [f"{k} in {ms} ms" for k, ms in kcm.rs_queue.waiting + kcm.deploy_queue.waiting],
        "expectations": {k: {"add": e.add, "del": sorted(e.deletes)} for k, e in sorted(kcm.expectations.items())},
    }
    for s in state.schedulers:
        view[s.name] = {
            "informer rv": s.informer.rv, "expired": s.informer.expired,
            "queue": [f"{q.key} ({q.where}, attempts {q.attempts})" for q in s.queue],
            "assumed": {k: v[1] for k, v in sorted(s.assumed.items())},
            "binding": [f"{k} -> {n}" for k, _, n in s.binding],
        }
    for k in state.kubelets:
        view[f"kubelet/{k.node}"] = {
            "up": k.up, "informer rv": None if k.informer is None else k.informer.rv,
            "containers": sorted(f"{c.pod}/{c.name} ({'running' if c.running else 'exited'})" for c in k.runtime),
        }
    b = state.budget
    view["faults left"] = {a.name: getattr(b, a.name) for a in b.__attrs_attrs__}
    view["pending kubectl"] = sorted(state.pending_commands)
    return view
