"""The eviction API: POST pods/NAME/eviction, the voluntary disruption that PodDisruptionBudgets guard.

Upstream: pkg/registry/core/pod/storage/eviction.go (EvictionREST.Create: canIgnorePDB, getPodDisruptionBudgets,
the unready-pod shortcut of the IfHealthyBudget policy, checkAndDecrement under RetryOnConflict, the pod's
deletion; createTooManyRequestsError and its causes).

Modelled: a pod that is terminal, Pending or already being deleted is deleted without looking at budgets; a pod
matched by more than one budget is refused (500); by none, deleted; by one: a not-Ready pod is deleted when the
budget is met anyway (currentHealthy >= desiredHealthy > 0); otherwise checkAndDecrement: 429 TooManyRequests while
the budget's status is older than its spec (observedGeneration < generation) or allows no disruption, else the
status is written with disruptionsAllowed - 1 and the pod's name added to DisruptedPods, guarded by the budget's
resourceVersion (a 409 Conflict re-reads the budget and tries again, up to EvictionsRetry), and the pod is deleted
gracefully. The budgets are read from etcd (the handler lists them through the API server, not from a cache).
The ghost ``pdb_violations`` (PodDisruptionBudgetRespected) notes a granted eviction of a healthy pod that leaves
fewer healthy pods (Ready, not being deleted, in etcd) than the budget requires (desiredHealthy computed from its
spec and etcd's controllers, as ``spec.controllers.disruption`` computes it from its caches).
Abstracted: one eviction request is one atomic step (its get, decrement and delete see no other request in
between), so its conflict retry is never exercised; the race that matters is with the disruption controller,
which reads from informers. Dry-run and delete options (grace period, preconditions) are not modelled.
Variants: ``no-disrupted-pods`` leaves DisruptedPods alone (before kubernetes PR #36196).
An eviction is a create (of the pods/eviction subresource), so the NamespaceLifecycle admission plugin refuses it in
a Terminating namespace (403 Forbidden, cause NamespaceTerminating: ``spec.apiserver.namespace_lifecycle``) before
the handler runs; ``kubectl drain`` acts on that cause (``spec.kubectl.drain_step``, kubernetes#93947).
"""

from __future__ import annotations

import attrs

from spec.apiserver import Response, Session, namespace_lifecycle
from spec.controllers.disruption import by_uid, expected_and_desired, selected_pods
from spec.state import (
    Deployment,
    Key,
    Pod,
    PodDisruptionBudget,
    ReplicaSet,
    ReplicationController,
    StatefulSet,
    object_key,
)

EVICTIONS_RETRY = 10
"""EvictionsRetry: wait.Backoff{Steps: 10}."""
TOO_MANY_REQUESTS = "Cannot evict pod as it would violate the pod's disruption budget."


def can_ignore_pdb(pod: Pod) -> bool:
    """canIgnorePDB: terminal, Pending, or already being deleted."""
    return pod.status.phase in ("Succeeded", "Failed", "Pending") or pod.meta.deleting


def budgets_of(objects: object, pod: Pod) -> list[PodDisruptionBudget]:
    """getPodDisruptionBudgets: the budgets of the pod's namespace whose selector matches it (an empty selector
    matches nothing here)."""
    labels = dict(pod.meta.labels)
    return sorted((p for p in objects  # type: ignore[attr-defined]
                   if isinstance(p, PodDisruptionBudget) and p.meta.namespace == pod.meta.namespace
                   and (p.selector.match_labels or p.selector.match_expressions) and p.selector.matches(labels)),
                  key=lambda p: p.meta.name)


def _too_many(cause: str) -> Response:
    return Response(429, "TooManyRequests", f"{TOO_MANY_REQUESTS} ({cause})")


def evict(session: Session, key: Key, variants: frozenset[str] = frozenset()) -> Response:
    """POST pods/NAME/eviction for the pod at ``key``: 201 when the pod is let go (and deleted), 429 when a budget
    forbids it, 404, 500 (two budgets) or 403 otherwise."""
    pod = session.get(key)
    name = key.rsplit("/", 1)[1]
    if not isinstance(pod, Pod):
        return Response(404, "NotFound", f'pods "{name}" not found')
    refused = namespace_lifecycle(session.etcd, pod)  # an Eviction is a create (of pods/eviction): admitted first
    if refused is not None:
        return refused
    if can_ignore_pdb(pod):
        return _delete(session, key, pod)
    pdbs = budgets_of(session.etcd.objects.values(), pod)
    if len(pdbs) > 1:
        return Response(500, "InternalError",
                        "This pod has more than one PodDisruptionBudget, which the eviction subresource does not "
                        "support.")
    if not pdbs:
        return _delete(session, key, pod)
    pdb = pdbs[0]
    st = pdb.status
    if not pod.status.ready and st.current_healthy >= st.desired_healthy and st.desired_healthy > 0:
        return _delete(session, key, pod)  # an unready pod does not count towards healthy: nothing to decrement
    for _ in range(EVICTIONS_RETRY):  # retry.RetryOnConflict(EvictionsRetry, checkAndDecrement)
        refused = _check_and_decrement(session, pdb, pod.meta.name, variants)
        if refused is None:
            break
        if refused.reason != "Conflict":
            return refused
        latest = session.get(object_key(pdb))
        if not isinstance(latest, PodDisruptionBudget):
            return Response(404, "NotFound", f'poddisruptionbudgets.policy "{pdb.meta.name}" not found')
        pdb = latest
    else:
        return Response(504, "Timeout", f'couldn\'t update PodDisruptionBudget "{pdb.meta.name}" due to conflicts')
    _note_violation(session, pdb, pod)
    return _delete(session, key, pod)


def _check_and_decrement(session: Session, pdb: PodDisruptionBudget, pod_name: str, variants: frozenset[str]
                         ) -> Response | None:
    """checkAndDecrement: None when the decrement was written, else the refusal (or the write's 409)."""
    st = pdb.status
    if st.observed_generation < pdb.meta.generation:
        return _too_many(f"The disruption budget {pdb.meta.name} is still being processed by the server.")
    if st.disruptions_allowed < 0:
        return Response(403, "Forbidden", f'poddisruptionbudgets.policy "{pdb.meta.name}" is forbidden: pdb '
                        "disruptions allowed is negative")
    if st.disruptions_allowed == 0:
        return _too_many(f"The disruption budget {pdb.meta.name} needs {st.desired_healthy} healthy pods and has "
                         f"{st.current_healthy} currently")
    disrupted = st.disrupted_pods
    if "no-disrupted-pods" not in variants:
        disrupted = tuple(sorted({*disrupted, pod_name}))
    status = attrs.evolve(st, disruptions_allowed=st.disruptions_allowed - 1, disrupted_pods=disrupted)
    response = session.update(attrs.evolve(pdb, status=status), status=True)
    return None if response.ok else response


def _delete(session: Session, key: Key, pod: Pod) -> Response:
    response = session.delete(key, uid=pod.meta.uid)
    if not response.ok:
        return response
    return Response(201, "Created", f"pod/{pod.meta.name} evicted")


def healthy(pod: Pod) -> bool:
    """What a budget counts: Ready and not being deleted."""
    return pod.status.ready and not pod.meta.deleting


def required(pdb: PodDisruptionBudget, objects: object) -> int:
    """desiredHealthy of ``pdb`` computed from its spec and the controllers in ``objects`` (etcd's): what the
    budget requires (0 when a controller cannot be found, as the controller then allows nothing either)."""
    values = list(objects)  # type: ignore[call-overload]
    pods = selected_pods(pdb, [p for p in values if isinstance(p, Pod)])
    counts = expected_and_desired(
        pdb, pods, by_uid(o for o in values if isinstance(o, ReplicaSet | ReplicationController)),  # type: ignore[arg-type]
        by_uid(o for o in values if isinstance(o, Deployment)),  # type: ignore[arg-type]
        by_uid(o for o in values if isinstance(o, StatefulSet)))  # type: ignore[arg-type]
    return 0 if counts is None else counts[1]


def _note_violation(session: Session, pdb: PodDisruptionBudget, pod: Pod) -> None:
    """The ghost: the eviction of a healthy pod that leaves fewer healthy pods than ``pdb`` requires."""
    if not healthy(pod):
        return
    objects = list(session.etcd.objects.values())
    left = sum(1 for p in selected_pods(pdb, [p for p in objects if isinstance(p, Pod)])
               if healthy(p) and p.meta.uid != pod.meta.uid)
    if left < required(pdb, objects):
        ghost = session.ghost
        session.ghost = attrs.evolve(ghost, pdb_violations=ghost.pdb_violations | {object_key(pdb)})
