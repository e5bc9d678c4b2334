"""The human view of a state for trace diffs: kubectl-like addresses mapped to the fields that matter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from spec.state import (
    ClusterState,
    CronJob,
    DaemonSet,
    Deployment,
    HorizontalPodAutoscaler,
    Informer,
    Job,
    Namespace,
    Node,
    Object,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    PodStatus,
    ReplicaSet,
    ReplicationController,
    key_of,
    object_key,
)

if TYPE_CHECKING:
    from spec.config import Config

_NO_STATUS = PodStatus()


def _object(obj: Object) -> dict[str, Any]:
    m = obj.meta
    out: dict[str, Any] = {"uid": m.uid, "resourceVersion": m.resource_version}
    if m.deleting:
        out["deletionTimestamp"] = "set"
    if m.owner is not None:
        out["owner"] = f"{m.owner.kind}/{m.owner.name}"
    if m.finalizers:
        out["finalizers"] = list(m.finalizers)
    if isinstance(obj, Namespace):
        out.update(phase=obj.phase, specFinalizers=list(obj.finalizers))
    if isinstance(obj, Job):
        js = obj.status
        out.update(completions=obj.completions, parallelism=obj.parallelism, backoffLimit=obj.backoff_limit,
                   status=f"{js.active} active, {js.succeeded} succeeded, {js.failed} failed",
                   condition=js.condition or "none")
        if js.uncounted_succeeded or js.uncounted_failed:
            out["uncountedTerminatedPods"] = {"succeeded": list(js.uncounted_succeeded),
                                              "failed": list(js.uncounted_failed)}
    if isinstance(obj, CronJob):
        from spec.controllers.cronjob import rfc3339

        cs = obj.status
        out.update(schedule=obj.schedule, concurrencyPolicy=obj.concurrency_policy, suspend=obj.suspend,
                   active=[name for name, _ in cs.active],
                   lastScheduleTime=None if cs.last_schedule_time is None else rfc3339(cs.last_schedule_time, None))
    if isinstance(obj, Pod):
        out.update(nodeName=obj.node_name, phase=obj.status.phase, ready=obj.status.ready,
                   images=[c.image for c in obj.containers])
        if obj.status.scheduled_reason:
            out["PodScheduled"] = obj.status.scheduled_reason
        if obj.status.restarts:
            out["restarts"] = obj.status.restarts
    elif isinstance(obj, Node):
        out["unschedulable"] = obj.info.unschedulable
        out["Ready"] = obj.ready
        if obj.info.taints:
            out["taints"] = [f"{t.key}{'=' + t.value if t.value else ''}:{t.effect}" for t in obj.info.taints]
    elif isinstance(obj, ReplicaSet | ReplicationController):
        st = obj.status
        out.update(replicas=obj.replicas, status=f"{st.replicas} current, {st.ready_replicas} ready, "
                   f"{st.available_replicas} available", annotations=dict(m.annotations))
    elif isinstance(obj, Deployment):
        ds = obj.status
        out.update(replicas=obj.replicas, generation=m.generation, images=[c.image for c in obj.template.containers],
                   status=f"{ds.updated_replicas} updated, {ds.ready_replicas} ready, {ds.available_replicas} "
                   f"available, observedGeneration {ds.observed_generation}",
                   conditions=[f"{c.type}={c.status} ({c.reason})" for c in ds.conditions])
    elif isinstance(obj, HorizontalPodAutoscaler):
        hs = obj.status
        out.update(target=f"{obj.target_kind}/{obj.target_name}", minReplicas=obj.min_replicas,
                   maxReplicas=obj.max_replicas,
                   status=f"current {hs.current_replicas}, desired {hs.desired_replicas}"
                   + (", scaled" if hs.last_scale_time else ""),
                   metrics=[f"{m.name} {m.utilization}%" if m.utilization is not None
                            else f"{m.name} {m.average_value}m" for m in hs.current_metrics if m.name],
                   conditions=[f"{c.type}={c.status} ({c.reason})" for c in hs.conditions])
    elif isinstance(obj, DaemonSet):
        dst = obj.status
        out.update(generation=m.generation, images=[c.image for c in obj.template.containers],
                   status=f"{dst.desired_number_scheduled} desired, {dst.current_number_scheduled} current, "
                   f"{dst.number_ready} ready, {dst.updated_number_scheduled} up-to-date, {dst.number_available} "
                   f"available, {dst.number_misscheduled} misscheduled, observedGeneration {dst.observed_generation}")
    elif isinstance(obj, PersistentVolumeClaim):  # kubectl get pvc: STATUS, VOLUME, CAPACITY, STORAGECLASS
        out.update(phase=obj.status.phase, volumeName=obj.volume_name, storageClass=obj.storage_class,
                   annotations=dict(m.annotations))
        if obj.selected_node:
            out["selectedNode"] = obj.selected_node
    elif isinstance(obj, PersistentVolume):  # kubectl get pv: STATUS, CLAIM, RECLAIM POLICY
        ref = obj.claim_ref
        out.update(phase=obj.status.phase, reclaimPolicy=obj.reclaim_policy, annotations=dict(m.annotations),
                   claim=f"{ref.namespace}/{ref.name}" + (f" (uid {ref.uid})" if ref.uid else "") if ref else "")
        if obj.hostnames:
            out["nodes"] = list(obj.hostnames)
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
            **({"partitioned": True} if k.partitioned else {}), **({"failed": True} if k.failed else {}),
            **({"runtime": "down"} if k.runtime_down else {}),
            "containers": sorted(f"{c.pod}/{c.name} ({'running' if c.running else 'exited'})" for c in k.runtime),
        }
    if state.jobs is not None:
        ctl = state.jobs
        view["job-controller"] = {
            "informer rv": ctl.informer.rv,
            "queue": list(ctl.queue.queue),
            "expectations": {k: {"add": e.add, "del": sorted(e.deletes)} for k, e in sorted(ctl.expectations.items())},
            "finalizer removals expected": {k: sorted(v) for k, v in sorted(ctl.removals.items())},
        }
    if state.hpa is not None:
        h = state.hpa
        view["horizontal-pod-autoscaler"] = {
            "queue": list(h.queue), "next sync": [f"{k} in {ms} ms" for k, ms in h.waiting],
            "recommendations": {k: [f"{r} ({age // 1000} s ago)" for r, age in v]
                                for k, v in sorted(h.recommendations.items())},
            "load": [f"{k}: " + ", ".join(f"{v}m {r}" for r, v in level) + f" ({mode})" for k, mode, level in h.load],
            **({"load changes left": h.switches} if h.switches else {}),
        }
    if state.daemonsets is not None:
        dctl = state.daemonsets
        view["daemonset-controller"] = {
            "informers": {f"{r} rv": i.rv for r, i in zip(("daemonsets", "nodes"), dctl.informers, strict=True)},
            "queue": list(dctl.queue.queue),
            "backoff": [f"{k} in {ms} ms" for k, ms in dctl.queue.waiting],
            "expectations": {k: {"add": e.add, "del": e.delete} for k, e in sorted(dctl.expectations.items())},
        }
    if state.rcs is not None:
        rctl = state.rcs
        view["replication-controller"] = {
            "informer rv": rctl.informer.rv,
            "queue": list(rctl.queue.queue),
            "backoff": [f"{k} in {ms} ms" for k, ms in rctl.queue.waiting],
            "expectations": {k: {"add": e.add, "del": sorted(e.deletes)} for k, e in sorted(rctl.expectations.items())},
        }
    if state.cronjobs is not None:
        cctl = state.cronjobs
        from spec.controllers.cronjob import rfc3339

        view["cronjob-controller"] = {
            "informer rv": cctl.informer.rv,
            "queue": list(cctl.queue.queue),
            "requeue": [f"{k} in {ms} ms" for k, ms in cctl.queue.waiting],
            "now": rfc3339(cctl.now, None) + f" +{cctl.now % 1000} ms",
            "schedule times to come": [f"{k} at {rfc3339(t, None)}" for k, t in cctl.deadlines],
        }
    if state.apiservers is not None:  # several API servers (spec.kube_apiserver): each one's cache and clients
        from spec.kube_apiserver import server_name
        from spec.watchcache import client_process, slot_servers

        clients: dict[int, set[str]] = {}
        for (who, index, _, _), server in zip(state.informer_slots(), slot_servers(state, state.apiservers),
                                              strict=True):
            clients.setdefault(server, set()).add(client_process(state, who, index))
        for i, cache in enumerate(state.apiservers.caches):
            view[server_name(i)] = {"watch cache rv": cache, "clients": sorted(clients.get(i, ()))}
    b = state.budget
    view["faults left"] = {a.name: getattr(b, a.name) for a in b.__attrs_attrs__}
    view["pending kubectl"] = sorted(state.pending_commands)
    return view


# --- why: what a step's actor read, from where, and what its requests answered (issue 18) --------------------


def _rv(obj: Object) -> str:
    """The object's resourceVersion, when it says something: views without one (0) and versions the renumbering
    reduction moved below etcd's history (negative: an older version than any etcd keeps) print nothing."""
    rv = obj.meta.resource_version
    return f" (rv {rv})" if rv > 0 else ""


def summary(obj: Object | None) -> str:
    """The fields of ``obj`` that its readers act on, in one phrase (``replicas: 2``, ``node-a, Running, ready``)."""
    if obj is None:
        return "nothing (absent)"
    parts: list[str] = []
    if isinstance(obj, ReplicaSet | ReplicationController | Deployment):
        parts.append(f"replicas: {obj.replicas}")
        parts.append("image: " + ", ".join(c.image for c in obj.template.containers))
    elif isinstance(obj, Pod):
        parts.append(f"node: {obj.node_name or '(unbound)'}")
        if obj.status != _NO_STATUS:
            parts.append(obj.status.phase + (", ready" if obj.status.ready else ""))
    elif isinstance(obj, Node):
        parts.append("unschedulable" if obj.info.unschedulable else "schedulable")
        parts.append(f"Ready={obj.ready}")
    elif isinstance(obj, HorizontalPodAutoscaler):
        parts.append(f"currentReplicas: {obj.status.current_replicas}, desiredReplicas: {obj.status.desired_replicas}")
    if obj.meta.deleting:
        parts.append("being deleted")
    return ", ".join(parts)


def _same(a: Object | None, b: Object | None) -> bool:
    return summary(a) == summary(b) and (a is None) == (b is None)


def _read(actor: str, key: str, cached: Object | None, where: str, etcd: Object | None) -> str:
    """``replicaset-controller read replicasets/default/web replicas: 2 (rv 4) from its informer (rv 4); etcd has
    replicas: 1 (rv 5)``."""
    line = f"{actor} read {key} {summary(cached)}{'' if cached is None else _rv(cached)} from {where}"
    if _same(cached, etcd):
        return line + ", as in etcd"
    return line + f"; etcd has {summary(etcd)}{'' if etcd is None else _rv(etcd)}"


def _names(pods: list[Pod]) -> str:
    return ", ".join(sorted(p.meta.name for p in pods)) or "none"


def _owned_pods(objects: Any, rs: ReplicaSet | ReplicationController) -> list[Pod]:
    from spec.controllers.replicaset import is_active

    return [p for p in objects if isinstance(p, Pod) and is_active(p) and p.meta.owner is not None
            and p.meta.owner.uid == rs.meta.uid]


class _Recorder:
    """A ``spec.apiserver.Session`` that also notes each request and its answer, to re-run a step and say what its
    requests answered (the step itself is a pure function of the state: re-running it gives the same answers)."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self.requests: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def _note(self, request: str, response: Any) -> Any:
        answer = f"{response.code} {response.reason}"
        if not response.ok and response.message:
            answer += f": {response.message}"
        elif response.obj is not None and request.startswith("POST") and "binding" not in request:
            answer += f" {object_key(response.obj)}"
        self.requests.append(f"{request} → {answer}")
        return response

    def create(self, obj: Object, **kw: Any) -> Any:
        from spec.state import RESOURCE

        where = f"{RESOURCE[type(obj)]}/{obj.meta.namespace}" if obj.meta.namespace else RESOURCE[type(obj)]
        return self._note(f"POST {where}", self._session.create(obj, **kw))

    def update(self, obj: Object, *, status: bool = False) -> Any:
        return self._note(f"PUT {object_key(obj)}{'/status' if status else ''}",
                          self._session.update(obj, status=status))

    def patch(self, key: str, new: Object, **kw: Any) -> Any:
        return self._note(f"PATCH {key}", self._session.patch(key, new, **kw))

    def delete(self, key: str, **kw: Any) -> Any:
        return self._note(f"DELETE {key}", self._session.delete(key, **kw))

    def bind(self, key: str, uid: int, node: str) -> Any:
        return self._note(f"POST {key}/binding (node {node})", self._session.bind(key, uid, node))


def _session(state: ClusterState, config: Config) -> _Recorder:
    from spec.apiserver import Session

    return _Recorder(Session(state.etcd, state.ghost, guarded_bind="unguarded-bind" not in config.variants))


def _informer_of(state: ClusterState, actor: str) -> tuple[Informer | None, str]:
    for s in state.schedulers:
        if s.name == actor:
            return s.informer, "its informer"
    for k in state.kubelets:
        if actor == f"kubelet/{k.node}":
            return k.informer, "its informer"
    return None, ""


def _why_replicaset(state: ClusterState, key: str, config: Config) -> list[str]:
    """The ReplicaSet controller's reconcile of ``key``: what it read, its expectations, its requests."""
    from spec.controllers import manager

    kcm = state.kcm
    lines = _why_owner(state, key, config, "replicaset-controller", kcm.get(key), kcm.informers[2].cache,
                       f"its ReplicaSet informer (at rv {kcm.informers[1].rv})", kcm.informers[2].rv, kcm.expectations)
    rec = _session(state, config)
    manager.reconcile(kcm, rec, "replicaset", key, expectations="no-expectations" not in config.variants,  # type: ignore[arg-type]
                      adoption_guard="gc-readoption" not in config.variants, readiness=state.readiness)
    return lines + rec.requests


def _why_replication(state: ClusterState, key: str, config: Config) -> list[str]:
    """The replication manager's reconcile of ``key`` (the ReplicaSet controller's code over its own slot)."""
    from spec.controllers import replication

    ctl = state.rcs
    if ctl is None:
        return []
    pods = replication.shared_pods(state)
    lines = _why_owner(state, key, config, replication.ACTOR, ctl.get(key), pods,
                       f"its ReplicationController informer (at rv {ctl.informer.rv})", state.kcm.informers[2].rv,
                       ctl.expectations)
    rec = _session(state, config)
    replication.reconcile(ctl, pods, rec, key, expectations="no-expectations" not in config.variants,  # type: ignore[arg-type]
                          adoption_guard="gc-readoption" not in config.variants, readiness=state.readiness)
    return lines + rec.requests


def _why_owner(state: ClusterState, key: str, config: Config, actor: str, cached: Object | None,
               pod_cache: Any, where: str, pod_rv: int, expectations: Any) -> list[str]:
    """What a ReplicaSet controller (the ReplicaSet controller or the replication manager) read of ``key``: the
    owner from its lister, its pods from the shared pod informer, how long they have been Ready, its
    expectations."""
    etcd = state.etcd
    lines = [_read(actor, key, cached, where, etcd.get(key))]
    current = etcd.get(key)
    if isinstance(cached, ReplicaSet | ReplicationController):
        mine = _owned_pods(pod_cache.values(), cached)
        line = (f"{actor} read {len(mine)} active pod(s) of {key} from its pod informer (at rv {pod_rv}): "
                f"{_names(mine)}")
        truth = _owned_pods(etcd.of("pods"), current if isinstance(current, type(cached)) else cached)
        if {p.meta.name for p in truth} == {p.meta.name for p in mine}:
            lines.append(line + ", as in etcd")
        else:
            lines.append(line + f"; etcd has {len(truth)}: {_names(truth)}")
        if cached.min_ready_seconds > 0:
            from spec.controllers.replicaset import available, ready_for

            ready = [p for p in mine if isinstance(p, Pod) and p.status.ready]
            lines += [f"{actor} finds {p.meta.name} Ready for {ready_for(p, state.readiness)} ms: "
                      + ("available" if available(p, cached.min_ready_seconds, state.readiness) else
                         f"not yet available (minReadySeconds {cached.min_ready_seconds}: more than "
                         f"{cached.min_ready_seconds * 1000} ms)") for p in ready]
        if "no-expectations" in config.variants:
            lines.append(f"{actor} ignores its expectations (variant no-expectations)")
        elif key not in expectations:
            lines.append(f"{actor}'s expectations for {key} are satisfied: it may create and delete pods")
        else:
            e = expectations[key]
            waits = ([f"{e.add} creation(s)"] if e.add else []) + ([f"deletion of {', '.join(sorted(e.deletes))}"]
                                                                   if e.deletes else [])
            lines.append(f"{actor} still expects {' and '.join(waits)} (for {e.timer} ms more): it creates and "
                         "deletes nothing")
    return lines


def _why_deployment(state: ClusterState, key: str, config: Config) -> list[str]:
    from spec.controllers import manager
    from spec.controllers.deployment import owned

    kcm, etcd = state.kcm, state.etcd
    actor = "deployment-controller"
    cached = kcm.get(key)
    lines = [_read(actor, key, cached, f"its Deployment informer (at rv {kcm.informers[0].rv})", etcd.get(key))]
    if isinstance(cached, Deployment):
        rss = owned(cached, kcm.objects("replicasets"))
        at = f"its ReplicaSet informer (at rv {kcm.informers[1].rv})"
        if not rss:
            lines.append(f"{actor} read no ReplicaSet of {key} from {at}")
        for rs in rss:
            lines.append(_read(actor, object_key(rs), rs, at, etcd.get(object_key(rs))))
        truth = {object_key(r) for r in etcd.of("replicasets") if r.meta.owner is not None
                 and r.meta.owner.uid == cached.meta.uid}
        unseen = sorted(truth - {object_key(r) for r in rss})
        if unseen:
            lines.append(f"{actor} does not see {', '.join(unseen)} yet (in etcd)")
    rec = _session(state, config)
    manager.reconcile(kcm, rec, "deployment", key)  # type: ignore[arg-type]
    return lines + rec.requests


def _why_schedule(state: ClusterState, a: Any) -> list[str]:
    s = next(x for x in state.schedulers if x.name == a.actor)
    etcd = state.etcd
    where = f"its informer (at rv {s.informer.rv})"
    lines = [_read(a.actor, a.pod, s.informer.cache.get(a.pod), where, _unstatused(etcd.get(a.pod)))]
    counts: dict[str, int] = {}
    truth: dict[str, int] = {}
    for key, obj in s.informer.cache.items():
        if isinstance(obj, Node):
            counts.setdefault(obj.meta.name, 0)
        elif isinstance(obj, Pod) and obj.node_name and key not in s.assumed:
            counts[obj.node_name] = counts.get(obj.node_name, 0) + 1
    for _, node in s.assumed.values():
        counts[node] = counts.get(node, 0) + 1
    for obj in etcd.objects.values():
        if isinstance(obj, Node):
            truth.setdefault(obj.meta.name, 0)
        elif isinstance(obj, Pod) and obj.node_name:
            truth[obj.node_name] = truth.get(obj.node_name, 0) + 1
    mine = ", ".join(f"{n}: {c}" for n, c in sorted(counts.items()))
    line = f"{a.actor}'s snapshot (its cache and {len(s.assumed)} assumed pod(s)) has pods per node {mine}"
    theirs = ", ".join(f"{n}: {c}" for n, c in sorted(truth.items()))
    lines.append(line + (", as in etcd" if mine == theirs else f"; etcd has {theirs}"))
    return lines


def _unstatused(obj: Object | None) -> Object | None:
    """A pod as the scheduler's and kubelets' informers keep it (no status: ``spec.informer.view``)."""
    if isinstance(obj, Pod):
        return attrs.evolve(obj, status=_NO_STATUS)
    return obj


def _why_bind(state: ClusterState, a: Any, config: Config) -> list[str]:
    from spec import scheduler

    s = next(x for x in state.schedulers if x.name == a.actor)
    item = next((b for b in s.binding if b[0] == a.pod and b[2] == a.node), None)
    lines = [f"{a.actor} had assumed {a.pod} on {a.node}; etcd has {a.pod} {summary(state.etcd.get(a.pod))}"]
    if item is not None:
        rec = _session(state, config)
        scheduler.bind(s, rec, item)  # type: ignore[arg-type]
        lines += rec.requests
    return lines


def _why_kubelet(state: ClusterState, a: Any, config: Config) -> list[str]:
    from spec import kubelet

    k = next(x for x in state.kubelets if a.actor == f"kubelet/{x.node}")
    if k.informer is None:
        return []
    if a.pod == f"nodes/{k.node}":  # the node status report (spec.kubelet.report_node_ready)
        rec = _session(state, config)
        node = state.etcd.get(a.pod)
        kubelet.report_node_ready(k, rec, kubelet.ignores_runtime(config))  # type: ignore[arg-type]
        return [f"{a.actor} reports its node's status; etcd has {a.pod} {summary(node)}", *rec.requests]
    where = f"its informer (at rv {k.informer.rv})"
    lines = [_read(a.actor, a.pod, k.informer.cache.get(a.pod), where, _unstatused(state.etcd.get(a.pod)))]
    rec = _session(state, config)
    if a.what == "report":
        kubelet.report_ready(k, rec, a.pod)  # type: ignore[arg-type]
    else:
        kubelet.sync(k, rec, a.what, a.pod)  # type: ignore[arg-type]
    return lines + rec.requests


def _why_kubectl(state: ClusterState, a: Any, config: Config) -> list[str]:
    from spec import kubectl

    for index in sorted(state.pending_commands):
        command = config.commands[index]
        if command.line == a.line:
            rec = _session(state, config)
            kubectl.run(command, rec)  # type: ignore[arg-type]
            target = key_of(command.resource, command.namespace, command.name)
            read = [f"kubectl read {target} {summary(state.etcd.get(target))} from the API server (etcd, rv "
                    f"{state.etcd.revision})"] if command.name else []
            return read + rec.requests
    return []


def why(before: ClusterState, action: Any, after: ClusterState, config: Config) -> list[str]:
    """Why the step ``before --action--> after`` did what it did: what its actor read and from where (its
    informer's cache at rv N, or etcd), where that differs from etcd at that moment, and each request it sent with
    the API server's answer (``409 Conflict: ...``). One line each; empty for steps that read nothing."""
    from spec import actions as A

    etcd = before.etcd
    if isinstance(action, A.Reconcile):
        if action.actor == "replicaset-controller":
            return _why_replicaset(before, action.key, config)
        if action.actor == "replication-controller":
            return _why_replication(before, action.key, config)
        if action.actor == "deployment-controller":
            return _why_deployment(before, action.key, config)
        if action.actor == "garbage-collector":
            revs = ", ".join(str(i.rv) for i in before.kcm.informers)
            read = (f"garbage-collector read its dependency graph from the controller manager's informers (at rv "
                    f"{revs}) and checked owners with live GETs (etcd at rv {etcd.revision})")
        elif action.actor == "cronjob-controller" and before.cronjobs is not None and before.jobs is not None:
            cached = before.cronjobs.informer.cache.get(action.key)
            last = None if not isinstance(cached, CronJob) else cached.status.last_schedule_time
            from spec.controllers.cronjob import rfc3339

            read = (f"cronjob-controller read {action.key} from its informer (at rv {before.cronjobs.informer.rv}"
                    f"{'' if before.cronjobs.informer.rv == etcd.revision else f'; etcd at rv {etcd.revision}'}: "
                    f"lastScheduleTime {'none' if last is None else rfc3339(last, None)}, active "
                    f"{[n for n, _ in cached.status.active] if isinstance(cached, CronJob) else []}) and its Jobs "
                    f"from the Job informer (at rv {before.jobs.informer.rv})")
        elif action.actor == "horizontal-pod-autoscaler":
            from spec.controllers.podautoscaler import why_sync

            read = why_sync(before, action.key)
        else:
            read = f"{action.actor} read nodes and pods from etcd (at rv {etcd.revision})"
        return [read, *_writes(before, after)]
    if isinstance(action, A.Deliver):
        inf = _delivered_informer(before, action)
        event = next((e for e in etcd.history if e.rv == action.rv and e.key == action.key), None)
        obj = None if event is None else (event.obj if event.obj is not None else event.prev)
        at = "" if inf is None else f" (at rv {inf.rv})"
        behind = "" if action.rv == etcd.revision else f"; etcd is at rv {etcd.revision}"
        return [f"{action.actor}'s watch{at} brings {action.type} {action.key} ({summary(obj)}) at rv "
                f"{action.rv}{behind}"]
    if isinstance(action, A.Relist):
        stale = "" if action.rv == action.latest else f", {action.latest - action.rv} revision(s) behind etcd"
        return [f"{action.actor} lists everything again at rv {action.rv}{stale}"]
    if isinstance(action, A.Schedule):
        return _why_schedule(before, action)
    if isinstance(action, A.Bind):
        return _why_bind(before, action, config)
    if isinstance(action, A.SyncPod):
        return _why_kubelet(before, action, config)
    if isinstance(action, A.Kubectl):
        return _why_kubectl(before, action, config)
    return []


def _writes(before: ClusterState, after: ClusterState) -> list[str]:
    """The API objects a step created, changed or deleted (by key; for steps that are not re-run here)."""
    old, new = before.etcd.objects, after.etcd.objects
    out = [f"created {key}" for key in sorted(new) if key not in old]
    out += [f"updated {key}: {summary(new[key])}" for key in sorted(new)
            if key in old and _informer_free(old[key]) != _informer_free(new[key])]
    out += [f"deleted {key}" for key in sorted(old) if key not in new]
    return out


def _informer_free(obj: Object) -> Object:
    """An object without its resourceVersion (which the renumbering reduction may change alone)."""
    return attrs.evolve(obj, meta=attrs.evolve(obj.meta, resource_version=0))


def _delivered_informer(state: ClusterState, action: Any) -> Informer | None:
    resource = action.key.split("/", 1)[0]
    if action.actor == "kube-controller-manager":
        index = {"deployments": 0, "replicasets": 1, "pods": 2}.get(resource)
        return None if index is None else state.kcm.informers[index]
    if action.actor == "kcm-replicationcontroller-informer" and state.rcs is not None:
        return state.rcs.informer
    return _informer_of(state, action.actor)[0]


# --- tables: a state as `kubectl get deploy,rs,pods,nodes -o wide` tabulates it (issue 18) -------------------


def _name(obj: Object) -> str:
    ns = obj.meta.namespace
    return obj.meta.name if ns in ("", "default") else f"{ns}/{obj.meta.name}"


def _pod_status(p: Pod) -> str:
    if p.meta.deleting:
        return "Terminating"
    return p.status.phase


def _node_status(n: Node) -> str:
    status = "Ready" if n.ready == "True" else "NotReady"
    return status + (",SchedulingDisabled" if n.info.unschedulable else "")


def _completions(j: Job) -> str:
    """printJob's COMPLETIONS: succeeded/completions, or succeeded/1 (of parallelism) for a work queue."""
    if j.completions is not None:
        return f"{j.status.succeeded}/{j.completions}"
    return f"{j.status.succeeded}/1" + (f" of {j.parallelism}" if j.parallelism > 1 else "")


def tables(state: ClusterState) -> list[dict[str, Any]]:
    """The API objects as ``kubectl get deploy,rs,pods,nodes -o wide`` prints them (upstream's printers:
    pkg/printers/internalversion/printers.go; AGE and IP omitted, the model has no clock of wall time nor IPs):
    ``[{"title": "deployments", "columns": [...], "rows": [[...], ...]}, ...]``; kinds without objects left out."""
    objects = [o for _, o in sorted(state.etcd.objects.items())]
    out: list[dict[str, Any]] = []
    deployments = [o for o in objects if isinstance(o, Deployment)]
    if deployments:
        out.append({"title": "deployments", "columns": ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "IMAGES"],
                    "rows": [[_name(d), f"{d.status.ready_replicas}/{d.replicas}", d.status.updated_replicas,
                              d.status.available_replicas, ",".join(c.image for c in d.template.containers)]
                             for d in deployments]})
    rss = [o for o in objects if isinstance(o, ReplicaSet)]
    if rss:
        out.append({"title": "replicasets", "columns": ["NAME", "DESIRED", "CURRENT", "READY", "IMAGES"],
                    "rows": [[_name(r), r.replicas, r.status.replicas, r.status.ready_replicas,
                              ",".join(c.image for c in r.template.containers)] for r in rss]})
    rcs = [o for o in objects if isinstance(o, ReplicationController)]
    if rcs:  # kubectl get rc (printReplicationController)
        out.append({"title": "replicationcontrollers", "columns": ["NAME", "DESIRED", "CURRENT", "READY", "IMAGES"],
                    "rows": [[_name(r), r.replicas, r.status.replicas, r.status.ready_replicas,
                              ",".join(c.image for c in r.template.containers)] for r in rcs]})
    pods = [o for o in objects if isinstance(o, Pod)]
    if pods:
        rows = []
        for p in pods:
            n = len(p.containers)
            rows.append([_name(p), f"{n if p.status.ready else 0}/{n}", _pod_status(p), p.status.restarts,
                         p.node_name or "<none>"])
        out.append({"title": "pods", "columns": ["NAME", "READY", "STATUS", "RESTARTS", "NODE"], "rows": rows})
    nodes = [o for o in objects if isinstance(o, Node)]
    if nodes:
        kubelets = {k.node: k for k in state.kubelets}
        out.append({"title": "nodes", "columns": ["NAME", "STATUS", "KUBELET", "PODS"],
                    "rows": [[_name(n), _node_status(n),
                              "up" if n.meta.name in kubelets and kubelets[n.meta.name].up else "down",
                              sum(1 for p in pods if p.node_name == n.meta.name)] for n in nodes]})
    jobs = [o for o in objects if isinstance(o, Job)]
    if jobs:  # kubectl get jobs (printJob): COMPLETIONS is succeeded/completions
        out.append({"title": "jobs", "columns": ["NAME", "STATUS", "COMPLETIONS", "ACTIVE", "FAILED"],
                    "rows": [[_name(j), j.status.condition or "Running", _completions(j), j.status.active,
                              j.status.failed] for j in jobs]})
    cronjobs = [o for o in objects if isinstance(o, CronJob)]
    if cronjobs:  # kubectl get cronjobs (printCronJob)
        from spec.controllers.cronjob import rfc3339

        out.append({"title": "cronjobs", "columns": ["NAME", "SCHEDULE", "SUSPEND", "ACTIVE", "LAST SCHEDULE"],
                    "rows": [[_name(c), c.schedule, str(c.suspend), len(c.status.active),
                              "<none>" if c.status.last_schedule_time is None
                              else rfc3339(c.status.last_schedule_time, None)] for c in cronjobs]})
    daemonsets = [o for o in objects if isinstance(o, DaemonSet)]
    if daemonsets:  # kubectl get daemonsets (printDaemonSet)
        out.append({"title": "daemonsets", "columns": ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE",
                                                       "AVAILABLE", "IMAGES"],
                    "rows": [[_name(d), d.status.desired_number_scheduled, d.status.current_number_scheduled,
                              d.status.number_ready, d.status.updated_number_scheduled, d.status.number_available,
                              ",".join(c.image for c in d.template.containers)] for d in daemonsets]})
    namespaces = [o for o in objects if isinstance(o, Namespace)]
    if namespaces:  # kubectl get namespaces (printNamespace)
        out.append({"title": "namespaces", "columns": ["NAME", "STATUS"],
                    "rows": [[n.meta.name, n.phase] for n in namespaces]})
    return out


# --- views: what a state graph's quotient keeps of a state (TLA+'s VIEW; `kubespec graph --view NAME`) --------


def _short(obj: Object) -> str:
    return obj.meta.name if obj.meta.namespace in ("", "default") else f"{obj.meta.namespace}/{obj.meta.name}"


def view_replicasets(state: ClusterState) -> str:
    """Per ReplicaSet (and ReplicationController): ``name ready/desired`` (ready pods of its own in etcd, over
    spec.replicas)."""
    from spec.controllers.replicaset import is_active

    objects = state.etcd.objects
    parts = []
    for rs in sorted((o for o in objects.values() if isinstance(o, ReplicaSet | ReplicationController)),
                     key=lambda r: (isinstance(r, ReplicationController), r.meta.name)):
        pods = [p for p in objects.values() if isinstance(p, Pod) and is_active(p) and p.meta.owner is not None
                and p.meta.owner.uid == rs.meta.uid]
        ready = sum(1 for p in pods if p.status.ready)
        short = "rc" if isinstance(rs, ReplicationController) else "rs"
        parts.append(f"{short} {_short(rs)} {ready}/{rs.replicas} ready" + (f", {len(pods) - ready} not"
                                                                        if len(pods) > ready else ""))
    return "\n".join(parts) or "no ReplicaSet"


def view_nodes(state: ClusterState) -> str:
    """Per node: Ready or NotReady (its Ready condition, or its kubelet down), and cordoned."""
    up = {k.node: k.up for k in state.kubelets}
    parts = []
    for n in sorted((o for o in state.etcd.objects.values() if isinstance(o, Node)), key=lambda n: n.meta.name):
        ready = n.ready == "True" and up.get(n.meta.name, False)
        parts.append(f"{n.meta.name} {'Ready' if ready else 'NotReady'}"
                     + (",SchedulingDisabled" if n.info.unschedulable else ""))
    return "\n".join(parts) or "no node"


def view_pods(state: ClusterState) -> str:
    """Pods counted by phase as kubectl's STATUS column says it (Pending unbound, Pending bound, Running ready,
    Running not ready, Terminating, Succeeded, Failed)."""
    counts: dict[str, int] = {}
    for p in state.etcd.objects.values():
        if not isinstance(p, Pod):
            continue
        if p.meta.deleting:
            what = "Terminating"
        elif p.status.phase == "Pending":
            what = "Pending bound" if p.node_name else "Pending"
        elif p.status.phase == "Running":
            what = "Running" if p.status.ready else "Running not ready"
        else:
            what = p.status.phase
        counts[what] = counts.get(what, 0) + 1
    return "pods: " + (", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "none")


_FAULT_NAMES = {"controller_manager_crashes": "kcm crash", "scheduler_crashes": "scheduler crash",
                "kubelet_restarts": "kubelet restart", "api_server_restarts": "apiserver restart",
                "container_crashes": "container crash", "node_crashes": "node crash", "node_failures": "node failure",
                "kube_proxy_restarts": "kube-proxy restart"}


def view_default(state: ClusterState) -> str:
    """The Deployments' status (ready/desired as ``kubectl get deploy`` shows), the ReplicaSets' ready/desired,
    the pods by phase, the nodes that are not Ready, and the faults left (a whole scenario's graph in a few dozen
    classes)."""
    nodes = [line for line in view_nodes(state).splitlines() if "NotReady" in line or "Disabled" in line]
    deployments = [f"deploy {_short(d)} {d.status.ready_replicas}/{d.replicas} ready, "
                   f"{d.status.updated_replicas} updated"
                   for d in sorted((o for o in state.etcd.objects.values() if isinstance(o, Deployment)),
                                   key=lambda d: d.meta.name)]
    b = state.budget
    left = [f"{_FAULT_NAMES.get(a.name, a.name)} {getattr(b, a.name)}" for a in attrs.fields(type(b))
            if getattr(b, a.name)]
    faults = ["faults left: " + ", ".join(left)] if left else []
    return "\n".join([*deployments, view_replicasets(state), view_pods(state), *nodes, *faults])


VIEWS = {
    "default": view_default,
    "replicasets": view_replicasets,
    "nodes": view_nodes,
    "pods": view_pods,
}
"""The built-in views of ``kubespec graph --view NAME`` (Cluster.views)."""
