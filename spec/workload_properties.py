"""The promises of StatefulSets and PodDisruptionBudgets (issue 12), apart from ``spec.properties``, which registers
them in its table (a block of its own at the end; this module imports nothing of it, so there is no import cycle).

- ``AtMostOnePodPerStatefulIdentity``: never two running containers for one StatefulSet identity (a pod name
  ``<set>-<ordinal>`` of a StatefulSet in etcd), counted in the kubelets' container runtimes, not in etcd: a pod
  object deleted with grace period 0 while its node is cut off from the API server keeps running there, and a
  replacement of the same name may start elsewhere. Upstream's promise: "StatefulSet ... provides guarantees about
  the ordering and uniqueness of these Pods" and "at most one Pod with a given identity running in a cluster"
  (https://kubernetes.io/docs/tasks/run-application/force-delete-stateful-set-pod/, which warns that force
  deletion can break it).
- ``PodDisruptionBudgetRespected``: no eviction the API server grants leaves a budget's pods with fewer healthy
  (Ready, not being deleted) pods than it requires (a history variable the eviction handler fills in:
  ``spec.eviction``). Upstream's promise: https://kubernetes.io/docs/concepts/workloads/pods/disruptions/ ("the
  eviction API will disallow the eviction if ... the number of healthy pods would fall below minAvailable").
- ``AvailabilityNeverWaitsForResync`` (issue: minReadySeconds): a ReplicaSet's status.availableReplicas never has
  to wait for the informers' resync period (12 h or more) to count a pod that has been Ready for minReadySeconds:
  whenever the cluster goes idle (no timer running, nothing queued: only the resync is left), every ReplicaSet with
  minReadySeconds counts all its ready pods as available. Upstream's promise: replica_set.go requeues a ReplicaSet
  after minReadySeconds when a pod turns Ready (updatePod) and, "as a last line of defense", when all its pods are
  ready but not all available (syncReplicaSet, kubernetes#42097, fixing #41641: "status.availableReplicas for the
  new replica set is never correctly updated", the rollout left with old pods); the field's doc: "The number of
  available replicas (ready for at least minReadySeconds) for this replica set." A history variable the resync
  Tick fills in (``spec.state.Readiness.stalled``, ``spec.controllers.replicaset.Availability``).
- ``StatefulSetsConverge``: whenever a StatefulSet lacks its pods ``NAME-0`` .. ``NAME-(replicas-1)`` (each Ready,
  not being deleted and running on a node that is up) or still has pods beyond them, and nothing blocks it, it
  gets there and stays there: Anvil's ESR, as EventualReplicaConvergence for ReplicaSets.
"""

from __future__ import annotations

import functools

import immutables

from spec.controllers.statefulset import parent_and_ordinal
from spec.state import ClusterState, Key, Kubelet, Object, Pod, ReplicaSet, ReplicationController, StatefulSet


def at_most_one_pod_per_identity(s: ClusterState) -> bool:
    """No StatefulSet identity has running containers of two different pods (uids) in the kubelets' runtimes."""
    return _at_most_one(s.etcd.objects, s.kubelets)


@functools.lru_cache(maxsize=1 << 14)
def _at_most_one(objects: immutables.Map[Key, Object], kubelets: tuple[Kubelet, ...]) -> bool:
    sets = {(o.meta.namespace, o.meta.name) for o in objects.values() if isinstance(o, StatefulSet)}
    if not sets:
        return True
    running: dict[Key, int] = {}
    for k in kubelets:
        for c in k.runtime:
            if not (c.managed and c.running):
                continue
            _, namespace, name = c.pod.split("/", 2)
            parent, ordinal = parent_and_ordinal(name)
            if ordinal < 0 or (namespace, parent) not in sets:
                continue
            if running.setdefault(c.pod, c.uid) != c.uid:
                return False
    return True


def pdbs_respected(s: ClusterState) -> bool:
    """No granted eviction took a PodDisruptionBudget's healthy pods below what it requires."""
    return not s.ghost.pdb_violations


def _running(kubelets: tuple[Kubelet, ...], pod: Pod) -> bool:
    for k in kubelets:
        if k.node == pod.node_name:
            return k.up and any(c.uid == pod.meta.uid and c.running and c.managed for c in k.runtime)
    return False


def statefulsets_converged(s: ClusterState) -> bool:
    """Every StatefulSet not being deleted has exactly its pods ``NAME-0`` .. ``NAME-(replicas-1)``, each Ready,
    not being deleted, and running on a node that is up, and no other pod it owns."""
    return _converged(s.etcd.objects, s.kubelets)


@functools.lru_cache(maxsize=1 << 14)
def _converged(objects: immutables.Map[Key, Object], kubelets: tuple[Kubelet, ...]) -> bool:
    for sts in objects.values():
        if not isinstance(sts, StatefulSet) or sts.meta.deleting:
            continue
        wanted = {f"{sts.meta.name}-{i}" for i in range(sts.replicas)}
        good = set()
        for p in objects.values():
            if not isinstance(p, Pod) or p.meta.owner is None or p.meta.owner.uid != sts.meta.uid:
                continue
            if p.meta.name not in wanted or p.meta.deleting or not p.status.ready or not _running(kubelets, p):
                return False
            good.add(p.meta.name)
        if good != wanted:
            return False
    return True


def availability_never_waits_for_resync(s: ClusterState) -> bool:
    """No ReplicaSet's status undercounted its available pods when only the informers' resync period was left."""
    return s.readiness is None or not s.readiness.stalled


def explain_availability(s: ClusterState) -> str:
    """The ReplicaSets whose availability waited for the resync, and what their status says now."""
    if s.readiness is None or not s.readiness.stalled:
        return "no ReplicaSet's availability waited for the informers' resync period"
    out = []
    for key in sorted(s.readiness.stalled):
        rs = s.etcd.objects.get(key)
        now = (f" (now: {rs.status.ready_replicas} ready, {rs.status.available_replicas} available of replicas "
               f"{rs.replicas}, minReadySeconds {rs.min_ready_seconds})"
               ) if isinstance(rs, ReplicaSet | ReplicationController) else ""
        out.append(f"{key} went idle with ready pods not counted available: only the informers' resync period "
                   f"(12 h or more) was left to count them{now}")
    return "; ".join(out)


# --- explanations: what breaks each property in a state (spec.properties' ``explain``) ------------------------


def explain_at_most_one(s: ClusterState) -> str:
    """The identities with running containers of more than one pod, and where."""
    sets = {(o.meta.namespace, o.meta.name) for o in s.etcd.objects.values() if isinstance(o, StatefulSet)}
    where: dict[Key, dict[int, str]] = {}
    for k in s.kubelets:
        for c in k.runtime:
            if c.managed and c.running:
                _, namespace, name = c.pod.split("/", 2)
                parent, ordinal = parent_and_ordinal(name)
                if ordinal >= 0 and (namespace, parent) in sets:
                    where.setdefault(c.pod, {})[c.uid] = k.node
    twice = [f"{key} runs as {len(uids)} pods: " + ", ".join(f"uid {u} on {n}" for u, n in sorted(uids.items()))
             for key, uids in sorted(where.items()) if len(uids) > 1]
    return "; ".join(twice) or "every StatefulSet identity runs at most once"


def explain_pdbs(s: ClusterState) -> str:
    """The budgets a granted eviction took below what they require."""
    if not s.ghost.pdb_violations:
        return "no granted eviction took a budget below what it requires"
    return "; ".join(f"an eviction granted through {k} left fewer healthy pods than it requires"
                     for k in sorted(s.ghost.pdb_violations))


def explain_statefulsets(s: ClusterState) -> str:
    """What each StatefulSet lacks (or has too much of)."""
    out = []
    objects = s.etcd.objects
    for sts in sorted((o for o in objects.values() if isinstance(o, StatefulSet)), key=lambda o: o.meta.name):
        good: list[str] = []
        bad: list[str] = []
        for p in sorted((p for p in objects.values() if isinstance(p, Pod) and p.meta.owner is not None
                         and p.meta.owner.uid == sts.meta.uid), key=lambda p: p.meta.name):
            ok = (parent_and_ordinal(p.meta.name)[1] < sts.replicas and not p.meta.deleting and p.status.ready
                  and _running(s.kubelets, p))
            (good if ok else bad).append(p.meta.name)
        missing = sorted({f"{sts.meta.name}-{i}" for i in range(sts.replicas)} - set(good))
        if missing or bad:
            out.append(f"StatefulSet {sts.meta.namespace}/{sts.meta.name} (replicas {sts.replicas}): "
                       + ", ".join(([f"missing or not ready: {' '.join(missing)}"] if missing else [])
                                   + ([f"not converged: {' '.join(bad)}"] if bad else [])))
    return "; ".join(out) or "every StatefulSet has its pods, Ready and running"
