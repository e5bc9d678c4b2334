"""The promises of DaemonSets, apart from ``spec.properties``, which registers them in its table (a block of its own
at the end; this module imports nothing of it, so there is no import cycle).

- ``AtMostOneDaemonPodPerNode``: no node is the target of two pods of one DaemonSet that are not being deleted
  and have not finished (while surging, one of the current template and one older: two). The target is the pod's
  nodeName, or before binding the node of its ``matchFields metadata.name`` affinity (util.GetTargetNodeName).
  Upstream's promise: "A DaemonSet ensures that all (or some) Nodes run a copy of a Pod"
  (https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/), kept by the controller's expectations
  (daemon_controller.go syncDaemonSet: "Don't process a daemon set until all its creations and deletions have
  been processed"); kubernetes#54096 discusses where it is not (a relist served from a stale cache: the model's
  ``stale-relist`` variant).
- ``DaemonSetsConverge``: whenever some DaemonSet is not converged and nothing blocks it, it converges and stays
  so (p ~> []q, Anvil's ESR): every node that should run it (NodeShouldRunDaemonPod) runs exactly one Ready pod of
  it (of the current template under RollingUpdate), a node that must not keep one has none, no pod of it targets
  a node that is gone, and its status counts what etcd holds, at its generation.
- ``DaemonSetRollingUpdateWithinMaxUnavailable``: a rolling update never deletes an available pod when that leaves
  fewer of the DaemonSet's eligible nodes with an available pod than desiredNumberScheduled - maxUnavailable (a
  history variable the controller's step fills in from etcd: ``Ghost.daemon_unavailable``). Upstream's promise:
  apps/v1 RollingUpdateDaemonSet.MaxUnavailable ("The maximum number of DaemonSet pods that can be unavailable
  during the update"), update.go rollingUpdate.
"""

from __future__ import annotations

import functools

import immutables

from spec.controllers.daemonset import (
    allows_surge,
    compute_status,
    current_hash,
    is_updated,
    nodes_to_daemon_pods,
    should_run,
    target_node,
)
from spec.state import ClusterState, DaemonSet, Key, Kubelet, Node, Object, Pod


def _active(pod: Pod) -> bool:
    return not pod.meta.deleting and pod.status.phase not in ("Succeeded", "Failed")


def _owned(objects: immutables.Map[Key, Object], ds: DaemonSet) -> list[Pod]:
    return sorted((p for p in objects.values() if isinstance(p, Pod) and p.meta.owner is not None
                   and p.meta.owner.uid == ds.meta.uid), key=lambda p: p.meta.uid)


def _sets(objects: immutables.Map[Key, Object]) -> list[DaemonSet]:
    return sorted((o for o in objects.values() if isinstance(o, DaemonSet)), key=lambda o: (o.meta.namespace,
                                                                                            o.meta.name))


def _excess(objects: immutables.Map[Key, Object]) -> list[str]:
    """Every (DaemonSet, node) with more active pods than it may have, in words."""
    out = []
    for ds in _sets(objects):
        hash_ = current_hash(ds)
        by_node: dict[str, list[Pod]] = {}
        for p in _owned(objects, ds):
            if _active(p) and target_node(p):
                by_node.setdefault(target_node(p), []).append(p)
        for node, pods in sorted(by_node.items()):
            new = sum(1 for p in pods if is_updated(p, hash_))
            ok = len(pods) <= 1 or (allows_surge(ds) and new <= 1 and len(pods) - new <= 1)
            if not ok:
                out.append(f"DaemonSet {ds.meta.namespace}/{ds.meta.name} has {len(pods)} pods for node {node}: "
                           + ", ".join(f"{p.meta.name} ({p.node_name and 'bound' or 'pending'})" for p in pods))
    return out


def at_most_one_daemon_pod_per_node(s: ClusterState) -> bool:
    """No node is the target of two active pods of one DaemonSet (one of each revision while surging)."""
    return _at_most_one(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _at_most_one(objects: immutables.Map[Key, Object]) -> bool:
    return not _excess(objects)


def _running(kubelets: tuple[Kubelet, ...], pod: Pod) -> bool:
    for k in kubelets:
        if k.node == pod.node_name:
            return k.up and any(c.uid == pod.meta.uid and c.running and c.managed for c in k.runtime)
    return False


def _gaps(objects: immutables.Map[Key, Object], kubelets: tuple[Kubelet, ...]) -> list[str]:
    """What keeps each DaemonSet from being converged, in words (empty: every one is)."""
    out = []
    nodes = sorted((n for n in objects.values() if isinstance(n, Node)), key=lambda n: n.meta.name)
    names = {n.meta.name for n in nodes}
    for ds in _sets(objects):
        if ds.meta.deleting:
            continue
        label = f"DaemonSet {ds.meta.namespace}/{ds.meta.name}"
        hash_ = current_hash(ds)
        owned = _owned(objects, ds)
        active: dict[str, list[Pod]] = {}
        for p in owned:
            if _active(p):
                active.setdefault(target_node(p), []).append(p)
        for node in nodes:
            run, keep = should_run(node, ds)
            pods = active.get(node.meta.name, [])
            name = node.meta.name
            if run:
                if len(pods) != 1:
                    out.append(f"{label} has {len(pods)} pods for node {name}, which should run one")
                    continue
                p = pods[0]
                if p.node_name != name or not p.status.ready or not _running(kubelets, p):
                    out.append(f"{label}'s pod {p.meta.name} for node {name} is not bound, Ready and running there")
                elif ds.update_strategy == "RollingUpdate" and not is_updated(p, hash_):
                    out.append(f"{label}'s pod {p.meta.name} on node {name} is of an older template")
            elif not keep and pods:
                out.append(f"{label} has {len(pods)} pod(s) on node {name}, which must not run it")
            elif len(pods) > 1:
                out.append(f"{label} has {len(pods)} pods on node {name}")
        gone = sorted({n for n in active if n not in names})
        if gone:
            out.append(f"{label} has pods for node(s) that do not exist: {', '.join(gone)}")
        status = compute_status(ds, nodes, nodes_to_daemon_pods(owned), hash_)
        want = (status.desired_number_scheduled, status.current_number_scheduled, status.number_misscheduled,
                status.number_ready, status.updated_number_scheduled, status.number_available,
                status.number_unavailable, ds.meta.generation)
        st = ds.status
        have = (st.desired_number_scheduled, st.current_number_scheduled, st.number_misscheduled, st.number_ready,
                st.updated_number_scheduled, st.number_available, st.number_unavailable, st.observed_generation)
        if want != have:
            out.append(f"{label}'s status (desired, current, misscheduled, ready, updated, available, unavailable, "
                       f"observedGeneration) is {have}, etcd's pods and nodes say {want}")
    return out


def daemonsets_converged(s: ClusterState) -> bool:
    """Every DaemonSet not being deleted runs exactly one Ready pod (of its current template under RollingUpdate) on
    every node that should run it, none on a node that must not keep one, none for a node that is gone, and its
    status counts what etcd holds at its generation."""
    return _converged(s.etcd.objects, s.kubelets)


@functools.lru_cache(maxsize=1 << 14)
def _converged(objects: immutables.Map[Key, Object], kubelets: tuple[Kubelet, ...]) -> bool:
    return not _gaps(objects, kubelets)


def rolling_update_within_max_unavailable(s: ClusterState) -> bool:
    """No rolling update's deletion left fewer eligible nodes with an available pod than desired - maxUnavailable."""
    return not s.ghost.daemon_unavailable


# --- explanations (spec.properties' ``explain``) ------------------------------------------------------------------


def explain_at_most_one(s: ClusterState) -> str:
    return "; ".join(_excess(s.etcd.objects)) or "no node has two active pods of one DaemonSet"


def explain_converged(s: ClusterState) -> str:
    return "; ".join(_gaps(s.etcd.objects, s.kubelets)) or "every DaemonSet is converged"


def explain_unavailable(s: ClusterState) -> str:
    keys = sorted(s.ghost.daemon_unavailable)
    return "; ".join(f"a rolling update of {k} deleted an available pod below desiredNumberScheduled - "
                     "maxUnavailable available nodes" for k in keys) or "every rolling update kept maxUnavailable"
