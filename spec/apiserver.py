"""etcd and the API server's request handlers, as pure functions ``handler(etcd, request) -> (etcd', response)``.

Upstream: staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go (Create, Update with optimistic
concurrency, Delete with graceful deletion and finalizers), staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go
(GuaranteedUpdate: an update that changes nothing writes nothing and keeps the resourceVersion),
staging/src/k8s.io/apiserver/pkg/storage/names/generate.go (generateName), pkg/registry/core/pod/storage/
storage.go (BindingREST: the binding's precondition that the pod is unbound), pkg/registry/core/pod/strategy.go
(CheckGracefulDelete: an unscheduled pod is deleted at once), pkg/apis/apps/validation and pkg/apis/core/validation.

Modelled: one global revision; every successful write bumps it, stamps the object's resourceVersion and appends a
watch event; updates carrying a stale resourceVersion are a 409 Conflict; invalid objects a 422 with upstream's
message shape; spec changes bump metadata.generation (status writes do not); graceful deletion of bound pods
(deletionTimestamp, then the kubelet's final delete) and finalizers.
Abstracted: the name generator. Upstream appends 5 random characters; here the API server picks the first free
suffix in the same alphabet, which is a fresh name like the random one (the identity of a pod is its uid).
Deletion propagation (store.go deletionFinalizersForGarbageCollection): DELETE with propagationPolicy Orphan or
Foreground adds the ``orphan`` or ``foregroundDeletion`` finalizer, which the garbage collector
(``spec.controllers.garbagecollector``) acts on and removes.
Omitted: admission plugins, authentication, deletionGracePeriodSeconds (a pod's graceful deletion is the kubelet's
final DELETE with grace 0).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import immutables

from spec.state import (
    FINALIZER_FOREGROUND,
    FINALIZER_ORPHAN,
    FINALIZER_PVC_PROTECTION,
    IMMORTAL_NAMESPACES,
    RESOURCE,
    CronJob,
    DaemonSet,
    Deployment,
    EndpointSlice,
    Etcd,
    Ghost,
    Key,
    Namespace,
    Node,
    Object,
    PersistentVolumeClaim,
    Pod,
    PodDisruptionBudget,
    ReplicaSet,
    Replicated,
    ReplicationController,
    Service,
    StatefulSet,
    WatchEvent,
    object_key,
    qualified_kind,
    qualified_resource,
    replace_meta,
    with_ids,
    with_meta,
)

_T = TypeVar("_T")

NAMESPACE_TERMINATING = "NamespaceTerminating"
"""v1.NamespaceTerminatingCause: the cause of the 403 a create in a Terminating namespace gets; the controllers
treat it as no error (apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause)): every later create fails too."""
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""Upstream: staging/src/k8s.io/apimachinery/pkg/util/rand/rand.go (no vowels, no confusable digits)."""


@attrs.frozen
class Response:
    """A Status-like answer: HTTP code, reason ("Created", "Conflict", "NotFound", "Invalid", ...) and message."""

    code: int
    reason: str
    message: str = ""
    obj: Object | None = None
    cause: str = ""
    """The Status's details.causes type, where a client acts on it: ``NAMESPACE_TERMINATING``."""

    @property
    def ok(self) -> bool:
        return self.code < 300


def _kind(obj: Object) -> str:
    """The qualified kind an Invalid error names ("Deployment.apps")."""
    return qualified_kind(obj)


def _resource(obj: Object) -> str:
    """The qualified resource NotFound, AlreadyExists and Conflict errors name ("deployments.apps")."""
    return qualified_resource(RESOURCE[type(obj)])


def _not_found(key: Key) -> Response:
    """404 for the object at ``key`` (``NewNotFound``: 'pods "web-1" not found')."""
    resource, name = key.split("/", 1)[0], key.rsplit("/", 1)[1]
    return Response(404, "NotFound", f'{qualified_resource(resource)} "{name}" not found')


def _conflict(obj: Object, why: str) -> Response:
    """409 Conflict on ``obj`` (``NewConflict``: 'Operation cannot be fulfilled on deployments.apps "web": ...')."""
    return Response(409, "Conflict", f'Operation cannot be fulfilled on {_resource(obj)} "{obj.meta.name}": {why}')


def validate(obj: Object) -> str | None:
    """The first validation error, as upstream words it, or None."""
    meta = obj.meta
    prefix = f'{_kind(obj)} "{meta.name}" is invalid: '
    if not meta.name or len(meta.name) > 253 or not _NAME.match(meta.name):
        return prefix + f"metadata.name: Invalid value: {meta.name!r}: a lowercase RFC 1123 subdomain must consist " \
            "of lower case alphanumeric characters, '-' or '.'"
    if isinstance(obj, Pod):
        if not obj.containers:
            return prefix + "spec.containers: Required value"
        for i, c in enumerate(obj.containers):
            if not c.image:
                return prefix + f"spec.containers[{i}].image: Required value"
    if isinstance(obj, ReplicaSet | Deployment):
        if obj.replicas < 0:
            return prefix + f"spec.replicas: Invalid value: {obj.replicas}: must be greater than or equal to 0"
        if not obj.selector.match_labels and not obj.selector.match_expressions:
            return prefix + "spec.selector: Invalid value: empty selector is invalid for deployment"
        if not obj.selector.matches(dict(obj.template.labels)):
            return prefix + "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"
        if not obj.template.containers:
            return prefix + "spec.template.spec.containers: Required value"
    if isinstance(obj, ReplicationController):
        error = _validate_replication_controller(obj)
        if error:
            return prefix + error
    if isinstance(obj, StatefulSet):
        error = _validate_statefulset(obj)
        if error:
            return prefix + error
    if isinstance(obj, PodDisruptionBudget):
        error = _validate_pdb(obj)
        if error:
            return prefix + error
    if isinstance(obj, DaemonSet):
        from spec.controllers.daemonset import validate_daemonset

        error = validate_daemonset(obj)
        if error:
            return prefix + error
    if isinstance(obj, CronJob):
        from spec.controllers.cronjob import validate_cronjob

        error = validate_cronjob(obj)
        if error:
            return prefix + error
    if isinstance(obj, Service):
        from spec.services import validate_service

        return validate_service(obj)
    if isinstance(obj, Deployment):
        from spec.controllers.deployment import resolve_fenceposts

        surge, unavailable = resolve_fenceposts(obj.max_surge, obj.max_unavailable, max(obj.replicas, 1), raw=True)
        if surge == 0 and unavailable == 0:
            return prefix + "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when " \
                "`maxSurge` is 0"
    return None


def _validate_replication_controller(obj: ReplicationController) -> str | None:
    """pkg/apis/core/validation ValidateReplicationControllerSpec, in its order: minReadySeconds, a non-empty
    selector (ValidateNonEmptySelector: after defaulting, empty only when the template has no labels either),
    replicas, and ValidatePodTemplateSpecForRC (the template's labels match the selector)."""
    if obj.min_ready_seconds < 0:
        return f"spec.minReadySeconds: Invalid value: {obj.min_ready_seconds}: must be greater than or equal to 0"
    if not obj.selector.match_labels:
        return "spec.selector: Required value"
    if obj.replicas < 0:
        return f"spec.replicas: Invalid value: {obj.replicas}: must be greater than or equal to 0"
    if not obj.selector.matches(dict(obj.template.labels)):
        labels = ", ".join(f'"{k}":"{v}"' for k, v in obj.template.labels)
        return f"spec.template.metadata.labels: Invalid value: map[string]string{{{labels}}}: `selector` does not " \
            "match template `labels`"
    if not obj.template.containers:
        return "spec.template.spec.containers: Required value"
    return None


def _validate_statefulset(obj: StatefulSet) -> str | None:
    """pkg/apis/apps/validation ValidateStatefulSetSpec: replicas, selector, template labels, the policy."""
    if obj.replicas < 0:
        return f"spec.replicas: Invalid value: {obj.replicas}: must be greater than or equal to 0"
    if not obj.selector.match_labels and not obj.selector.match_expressions:
        return "spec.selector: Invalid value: empty selector is invalid for statefulset"
    if not obj.selector.matches(dict(obj.template.labels)):
        return "spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`"
    if not obj.template.containers:
        return "spec.template.spec.containers: Required value"
    if obj.pod_management_policy not in ("OrderedReady", "Parallel"):
        return f"spec.podManagementPolicy: Unsupported value: {obj.pod_management_policy!r}: supported values: " \
            '"OrderedReady", "Parallel"'
    return None


def _validate_pdb(obj: PodDisruptionBudget) -> str | None:
    """pkg/apis/policy/validation ValidatePodDisruptionBudgetSpec: at most one of minAvailable and maxUnavailable,
    each a non-negative integer or a percentage of at most 100%."""
    if obj.min_available is not None and obj.max_unavailable is not None:
        return "spec: Invalid value: minAvailable and maxUnavailable cannot be both set"
    for field, value in (("minAvailable", obj.min_available), ("maxUnavailable", obj.max_unavailable)):
        if isinstance(value, int) and value < 0:
            return f"spec.{field}: Invalid value: {value}: must be greater than or equal to 0"
        if isinstance(value, str) and (not value.endswith("%") or not value[:-1].isdigit() or int(value[:-1]) > 100):
            return f"spec.{field}: Invalid value: {value!r}: must be an integer or a percentage between 0% and 100%"
    return None


def _as_is(value: _T) -> _T:
    return value


_written: Callable[[Any], Any] = _as_is
"""Applied to each object written and to its watch event (``_append``): the identity, unless the model checker's
reduction layer installs another (``interning``). Whatever it returns must equal its argument: the meaning never
depends on it, only how fast equal states compare."""


def interning(written: Callable[[Any], Any] | None) -> None:
    """Install the function applied to each written object and watch event (None: the identity). The reduction
    layer (``spec.model``) installs one that returns the first equal object seen (hash-consing), so that two
    states that made the same write hold one object, and the memo tables that compare them compare by identity;
    this module does not import the reduction layer (tests/test_layers.py)."""
    global _written
    _written = _as_is if written is None else written


def _append(etcd: Etcd, etype: str, key: Key, obj: Object | None, prev: Object | None, next_uid: int = 0) -> Etcd:
    """etcd after a write of ``obj`` (None: a deletion) at the next revision; ``next_uid`` 0 keeps the counter."""
    revision = etcd.revision + 1
    if obj is not None:
        m = obj.meta
        obj = _written(replace_meta(obj, with_ids(m, m.uid, revision, m.owner)))
    objects = etcd.objects.delete(key) if obj is None else etcd.objects.set(key, obj)
    event = _written(WatchEvent(revision, etype, key, obj, prev))  # type: ignore[arg-type]
    return Etcd(revision, objects, (*etcd.history, event), etcd.compacted, next_uid or etcd.next_uid)


def _spec_changed(old: Object, new: Object) -> bool:
    if isinstance(old, ReplicaSet | ReplicationController) and type(new) is type(old):
        assert isinstance(new, ReplicaSet | ReplicationController)
        return (old.replicas, old.selector, old.template, old.min_ready_seconds) != (
            new.replicas, new.selector, new.template, new.min_ready_seconds)
    if isinstance(old, Deployment) and isinstance(new, Deployment):
        return (old.replicas, old.selector, old.template, old.max_surge, old.max_unavailable,
                old.revision_history_limit, old.min_ready_seconds, old.paused) != (
            new.replicas, new.selector, new.template, new.max_surge, new.max_unavailable,
            new.revision_history_limit, new.min_ready_seconds, new.paused)
    if isinstance(old, StatefulSet) and isinstance(new, StatefulSet):
        return (old.replicas, old.selector, old.template, old.service_name, old.pod_management_policy,
                old.min_ready_seconds) != (new.replicas, new.selector, new.template, new.service_name,
                                           new.pod_management_policy, new.min_ready_seconds)
    if isinstance(old, DaemonSet) and isinstance(new, DaemonSet):
        return (old.selector, old.template, old.update_strategy, old.max_unavailable, old.max_surge,
                old.min_ready_seconds, old.revision_history_limit, old.host_network) != (
            new.selector, new.template, new.update_strategy, new.max_unavailable, new.max_surge,
            new.min_ready_seconds, new.revision_history_limit, new.host_network)
    if isinstance(old, PodDisruptionBudget) and isinstance(new, PodDisruptionBudget):
        return (old.selector, old.min_available, old.max_unavailable) != (
            new.selector, new.min_available, new.max_unavailable)
    if isinstance(old, Service) and isinstance(new, Service):
        return (old.selector, old.ports, old.type, old.cluster_ip) != (new.selector, new.ports, new.type,
                                                                       new.cluster_ip)
    if isinstance(old, EndpointSlice) and isinstance(new, EndpointSlice):
        # pkg/registry/discovery/endpointslice/strategy.go PrepareForUpdate: any change but metadata
        return (old.endpoints, old.ports, old.address_type) != (new.endpoints, new.ports, new.address_type)
    return False


def _free_name(etcd: Etcd, resource: str, namespace: str, prefix: str) -> str:
    for n in range(len(_ALPHABET) ** 2):
        suffix = "".join(_ALPHABET[(n // len(_ALPHABET) ** i) % len(_ALPHABET)] for i in range(5))
        name = prefix + suffix
        if f"{resource}/{namespace}/{name}" not in etcd.objects:
            return name
    raise AssertionError("name space exhausted")  # unreachable with bounded scenarios


@attrs.frozen
class CreatorRead:
    """What the ReplicaSet controller read before creating a pod (its reconcile's view): the ReplicaSet (or the
    ReplicationController, for the replication manager) as its lister gave it, and every pod in its pod informer's
    cache. Only the ``overshoots`` ghost looks at it."""

    rs: Replicated
    pods: tuple[Pod, ...]


def create(etcd: Etcd, obj: Object, ghost: Ghost | None = None, read: CreatorRead | None = None, *,
           preallocated: bool = False) -> tuple[Etcd, Response, Ghost | None]:
    """POST: generateName, validation, AlreadyExists, a fresh uid, generation 1, an ADDED event.

    ``preallocated``: a Service whose addresses the allocator already handed out (the ``ip-repair-race``
    variant's second half: the write after the allocation).
    ``ghost`` (a history variable) notes, for a pod the ReplicaSet controller creates from what it ``read``, a
    creation beyond the replicas it read (``_note_overshoot``).
    """
    meta = obj.meta
    if not meta.name and meta.generate_name:
        resource = object_key(with_meta(obj, name="x")).split("/")[0]
        obj = with_meta(obj, name=_free_name(etcd, resource, meta.namespace, meta.generate_name))
    error = validate(obj)
    if error:
        return etcd, Response(422, "Invalid", error), ghost
    refused = namespace_lifecycle(etcd, obj)
    if refused is not None:
        return etcd, refused, ghost
    key = object_key(obj)
    if key in etcd.objects:
        return etcd, Response(409, "AlreadyExists", f'{_resource(obj)} "{obj.meta.name}" already exists'), ghost
    if isinstance(obj, Service) and not preallocated:  # storage/alloc.go: ClusterIP and NodePorts
        from spec.services import allocate

        allocated = allocate(obj, etcd)
        if isinstance(allocated, str):
            return etcd, Response(422, "Invalid", allocated), ghost
        obj = allocated
    if isinstance(obj, PersistentVolumeClaim) and FINALIZER_PVC_PROTECTION not in obj.meta.finalizers:
        # the StorageObjectInUseProtection admission plugin (plugin/pkg/admission/storage/
        # storageobjectinuseprotection): spec.controllers.pvcprotection removes it once no pod uses the claim
        obj = with_meta(obj, finalizers=(*obj.meta.finalizers, FINALIZER_PVC_PROTECTION))
    obj = with_meta(obj, uid=etcd.next_uid, generation=1, deleting=False)
    if ghost is not None and read is not None and isinstance(obj, Pod):
        ghost = _note_overshoot(etcd, ghost, read)
    etcd = _append(etcd, "ADDED", key, obj, None, etcd.next_uid + 1)
    return etcd, Response(201, "Created", obj=etcd.objects[key]), ghost


def explicit_namespaces(etcd: Etcd) -> bool:
    """Whether the scenario's namespaces are API objects (it declares a Namespace; ``spec.scenario`` then adds the
    ``default`` one, which is immortal, so this stays true). Elsewhere namespaces are implicit: they always exist
    and nothing deletes them, as the model had them before Namespace objects (no state changes there)."""
    return "namespaces/default" in etcd.objects


def namespace_lifecycle(etcd: Etcd, obj: Object) -> Response | None:
    """The NamespaceLifecycle admission plugin on a create (pkg/admission/plugin/namespace/lifecycle/admission.go):
    no new content in a namespace being terminated (403 Forbidden), none in a namespace that does not exist (404
    NotFound); None: admitted. Cluster-scoped objects and implicit namespaces are always admitted."""
    ns = obj.meta.namespace
    if isinstance(obj, Node | Namespace) or not ns or not explicit_namespaces(etcd):
        return None
    found = etcd.objects.get(f"namespaces/{ns}")
    if not isinstance(found, Namespace):
        return Response(404, "NotFound", f'namespaces "{ns}" not found')
    if found.phase == "Terminating" or found.meta.deleting:
        resource = object_key(obj).split("/", 1)[0]
        return Response(403, "Forbidden", f'{resource} "{obj.meta.name}" is forbidden: unable to create new content '
                        f"in namespace {ns} because it is being terminated", cause=NAMESPACE_TERMINATING)
    return None


def _delete_namespace(etcd: Etcd, key: Key, old: Namespace) -> tuple[Etcd, Response]:
    """DELETE of a Namespace (pkg/registry/core/namespace/storage/storage.go Delete; the admission plugin refuses
    the immortal ones): while spec.finalizers is not empty the namespace only gets its deletionTimestamp and phase
    Terminating (a second DELETE changes nothing); once finalized, it is removed."""
    if old.meta.name in IMMORTAL_NAMESPACES:
        return etcd, Response(403, "Forbidden", f'namespaces "{old.meta.name}" is forbidden: this namespace may not '
                              "be deleted")
    if old.finalizers:
        if old.meta.deleting and old.phase == "Terminating":
            return etcd, Response(200, "OK", obj=old)
        new = Namespace(with_meta(old, deleting=True).meta, old.finalizers, "Terminating")
        etcd = _append(etcd, "MODIFIED", key, new, old)
        return etcd, Response(200, "OK", obj=etcd.objects[key])
    return _append(etcd, "DELETED", key, None, old), Response(200, "OK")


def _note_overshoot(etcd: Etcd, ghost: Ghost, read: CreatorRead) -> Ghost:
    """The ``overshoots`` ghost: the ReplicaSet controller is about to create a pod although the pods of the
    ReplicaSet it knows of already number the replicas it read.

    What upstream guarantees (pkg/controller/replicaset/replica_set.go): syncReplicaSet reads the ReplicaSet from
    its lister and the pods from its pod informer (FilterActivePods, then claimPods: its own pods and the orphans
    its selector matches), and manageReplicas creates ``spec.replicas - len(filteredPods)`` pods, but only when
    ``expectations.SatisfiedExpectations`` says every creation and deletion it asked for before has been observed
    by the informer (or expired). So the pods the controller knows of are the active ones in its cache that it
    claims, plus the ones it created that its informer has not shown it yet (in etcd, owned by the ReplicaSet, no
    pod of that uid cached: the creations its expectations still wait for, this reconcile's earlier creations
    included). A creation while they already number the replicas it read is an overshoot; a creation from a
    stale ``spec.replicas`` is not (upstream does exactly that when the ReplicaSet was scaled down meanwhile).
    """
    rs = read.rs
    cached: set[int] = set()
    known = 0
    for p in read.pods:
        cached.add(p.meta.uid)
        if p.meta.namespace != rs.meta.namespace or p.meta.deleting or p.status.phase in ("Succeeded", "Failed"):
            continue
        owner = p.meta.owner
        if owner is not None and owner.uid == rs.meta.uid:
            known += 1
        elif owner is None and not rs.meta.deleting and rs.selector.matches(dict(p.meta.labels)):
            # An orphan counts once claimed: its adoption went through (a pod gone from etcd answers NotFound,
            # ClaimPods leaves it out, and the controller does not know of it any more).
            stored = etcd.objects.get(object_key(p))
            if stored is not None and stored.meta.uid == p.meta.uid and stored.meta.owner is not None \
                    and stored.meta.owner.uid == rs.meta.uid:
                known += 1
    for o in etcd.of("pods"):
        owner = o.meta.owner
        if owner is not None and owner.uid == rs.meta.uid and o.meta.uid not in cached:
            known += 1
    if known >= rs.replicas:
        return attrs.evolve(ghost, overshoots=ghost.overshoots | {object_key(rs)})
    return ghost


def _store_update(etcd: Etcd, key: Key, old: Object, new: Object) -> tuple[Etcd, Response]:
    new = with_meta(new, resource_version=old.meta.resource_version, uid=old.meta.uid)
    if _spec_changed(old, new):
        new = with_meta(new, generation=old.meta.generation + 1)
    if new == old:  # GuaranteedUpdate: nothing changed, nothing written
        return etcd, Response(200, "OK", obj=old)
    if new.meta.deleting and not new.meta.finalizers and not isinstance(new, Pod) and not (
            isinstance(new, Namespace) and new.finalizers):  # ShouldDeleteNamespaceDuringUpdate: spec.finalizers too
        return _append(etcd, "DELETED", key, None, old), Response(200, "OK")
    etcd = _append(etcd, "MODIFIED", key, new, old)
    return etcd, Response(200, "OK", obj=etcd.objects[key])


def update(etcd: Etcd, obj: Object, *, status: bool = False) -> tuple[Etcd, Response]:
    """PUT with the object's resourceVersion as precondition (409 Conflict when stale).

    ``status`` targets the status subresource: the stored spec is kept, the status replaced.
    """
    key = object_key(obj)
    old = etcd.objects.get(key)
    if old is None or old.meta.uid != obj.meta.uid:
        return etcd, _not_found(key)
    if obj.meta.resource_version != old.meta.resource_version:
        return etcd, _conflict(obj, "the object has been modified; please apply your changes to the latest version "
                                    "and try again")
    if status:
        obj = attrs.evolve(old, status=obj.status)  # type: ignore[union-attr, arg-type]
    else:
        if hasattr(old, "status"):  # Services and EndpointSlices (as modelled) have none
            obj = attrs.evolve(obj, status=old.status)  # type: ignore[arg-type]
        error = validate(obj)
        if error:
            return etcd, Response(422, "Invalid", error)
    return _store_update(etcd, key, old, obj)


def patch(etcd: Etcd, key: Key, new: Object, *, uid: int | None = None) -> tuple[Etcd, Response]:
    """PATCH: applied to the latest version, no resourceVersion precondition (optionally a uid precondition)."""
    old = etcd.objects.get(key)
    if old is None or (uid is not None and old.meta.uid != uid):
        return etcd, _not_found(key)
    error = validate(new)
    if error:
        return etcd, Response(422, "Invalid", error)
    return _store_update(etcd, key, old, new)


PROPAGATION_POLICIES = ("Background", "Foreground", "Orphan")
"""metav1.DeletionPropagation: DeletePropagationBackground, DeletePropagationForeground, DeletePropagationOrphan."""


def gc_finalizers(finalizers: tuple[str, ...], propagation: str | None) -> tuple[str, ...]:
    """The finalizers a DELETE leaves on the object for the garbage collector (upstream: store.go
    deletionFinalizersForGarbageCollection with shouldOrphanDependents and shouldDeleteDependents): both GC
    finalizers are dropped, then ``orphan`` is added for policy Orphan and ``foregroundDeletion`` for policy
    Foreground; with no policy given the object's own GC finalizer stays (``orphan`` first), else the default
    policy of every modelled kind (apps/v1, batch/v1, core/v1) applies, which is background: neither."""
    if propagation is None:
        orphan = FINALIZER_ORPHAN in finalizers
        foreground = not orphan and FINALIZER_FOREGROUND in finalizers
    else:
        orphan, foreground = propagation == "Orphan", propagation == "Foreground"
    kept = tuple(f for f in finalizers if f not in (FINALIZER_ORPHAN, FINALIZER_FOREGROUND))
    return kept + ((FINALIZER_ORPHAN,) if orphan else ()) + ((FINALIZER_FOREGROUND,) if foreground else ())


def delete(etcd: Etcd, key: Key, *, uid: int | None = None, grace: bool = True, propagation: str | None = None,
           resource_version: int | None = None) -> tuple[Etcd, Response]:
    """DELETE (upstream: store.go Delete, BeforeDelete, updateForGracefulDeletionAndFinalizers).

    A bound pod deleted with a grace period only gets its deletionTimestamp: the kubelet stops its containers and
    then deletes it with grace 0; while that graceful deletion is pending a second DELETE changes nothing (not
    even the finalizers: "finalizers cannot be updated via DeleteOptions if a deletion is already pending").
    ``propagation`` (Background, Foreground, Orphan, or None for the kind's default) sets the garbage collector's
    finalizers (``gc_finalizers``). An object left with finalizers gets its deletionTimestamp and stays until
    they are removed; otherwise it is removed at once. ``uid`` and ``resource_version`` are the preconditions
    (404 NotFound on a uid mismatch, as upstream answers a precondition on a recreated object's uid only after
    the GET; 409 Conflict on a resourceVersion mismatch)."""
    old = etcd.objects.get(key)
    if old is None or (uid is not None and old.meta.uid != uid):
        return etcd, _not_found(key)
    if resource_version is not None and old.meta.resource_version != resource_version:
        return etcd, _conflict(old, f"Precondition failed: ResourceVersion in precondition: {resource_version}, "
                                    f"ResourceVersion in object meta: {old.meta.resource_version}")
    if isinstance(old, Namespace):
        return _delete_namespace(etcd, key, old)
    graceful = isinstance(old, Pod) and grace and bool(old.node_name)
    if graceful and old.meta.deleting:  # pendingGraceful
        return etcd, Response(200, "OK", obj=old)
    finalizers = gc_finalizers(old.meta.finalizers, propagation)
    if graceful or finalizers or old.meta.finalizers:
        if not graceful and not finalizers:  # the update removed the last finalizer: deleteImmediately
            return _append(etcd, "DELETED", key, None, old), Response(200, "OK")
        new = with_meta(old, deleting=True, finalizers=finalizers)
        if new == old:
            return etcd, Response(200, "OK", obj=old)
        etcd = _append(etcd, "MODIFIED", key, new, old)
        return etcd, Response(200, "OK", obj=etcd.objects[key])
    return _append(etcd, "DELETED", key, None, old), Response(200, "OK")


def bind(etcd: Etcd, key: Key, uid: int, node: str, ghost: Ghost, *, guarded: bool = True) -> tuple[
    Etcd, Response, Ghost
]:
    """POST pods/binding. ``guarded`` is upstream's precondition (the pod must still be unbound:
    pkg/registry/core/pod/storage/storage.go assignPod, "pod %v is already assigned to node %q")."""
    old = etcd.objects.get(key)
    if not isinstance(old, Pod) or old.meta.uid != uid:
        return etcd, _not_found(key), ghost
    if old.meta.deleting:
        return etcd, Response(409, "Conflict", f"pod {old.meta.name} is being deleted, cannot be assigned to a host"), \
            ghost
    if old.node_name and guarded:
        return etcd, Response(
            409, "Conflict", f"pod {old.meta.name} is already assigned to node {old.node_name!r}"
        ), ghost
    if old.node_name and old.node_name != node:
        ghost = attrs.evolve(ghost, rebinds=ghost.rebinds | {key})
    new = attrs.evolve(
        old,
        info=attrs.evolve(old.info, node_name=node),
        status=attrs.evolve(old.status, scheduled_reason="Scheduled"),
    )
    etcd, response = _store_update(etcd, key, old, new)
    return etcd, response, ghost


def store(objects: list[Object]) -> Etcd:
    """etcd holding ``objects`` (already validated), created in order: revisions and uids 1..n."""
    etcd = Etcd(revision=0, objects=immutables.Map())
    for obj in objects:
        etcd, response, _ = create(etcd, obj)
        if not response.ok:
            raise ValueError(response.message)
    return attrs.evolve(etcd, history=(), compacted=etcd.revision)


class Session:
    """One step's API calls, applied in order: a component's reconcile talks to the API server through this.

    It is local to one step (created, used and discarded inside a pure transition function), and records the
    Events the component emits (upstream: client-go tools/record). Events are part of the step's label, not of
    the state: no modelled component reads them, and storing them would only multiply states.
    """

    def __init__(self, etcd: Etcd, ghost: Ghost, *, guarded_bind: bool = True) -> None:
        self.etcd = etcd
        self.ghost = ghost
        self.guarded_bind = guarded_bind
        self.events: list[str] = []
        self.writes = 0

    def _done(self, etcd: Etcd, response: Response) -> Response:
        if etcd is not self.etcd:
            self.writes += 1
        self.etcd = etcd
        return response

    def create(self, obj: Object, *, read: CreatorRead | None = None) -> Response:
        """POST ``obj``; ``read`` is what a ReplicaSet controller creating a pod read (for the ghost)."""
        etcd, response, ghost = create(self.etcd, obj, self.ghost, read)
        assert ghost is not None
        self.ghost = ghost
        return self._done(etcd, response)

    def update(self, obj: Object, *, status: bool = False) -> Response:
        return self._done(*update(self.etcd, obj, status=status))

    def patch(self, key: Key, new: Object, *, uid: int | None = None) -> Response:
        return self._done(*patch(self.etcd, key, new, uid=uid))

    def patch_meta(self, key: Key, *, uid: int | None = None, **changes: object) -> Response:
        """PATCH of metadata fields only (a merge patch, as ClaimPods' adoption sends: applied by the server to the
        stored object, whose spec and status stay as they are), with an optional uid precondition."""
        current = self.etcd.objects.get(key)
        if current is None or (uid is not None and current.meta.uid != uid):
            return _not_found(key)
        return self.patch(key, with_meta(current, **changes), uid=uid)

    def delete(self, key: Key, *, uid: int | None = None, grace: bool = True, propagation: str | None = None,
               resource_version: int | None = None) -> Response:
        return self._done(*delete(self.etcd, key, uid=uid, grace=grace, propagation=propagation,
                                  resource_version=resource_version))

    def bind(self, key: Key, uid: int, node: str) -> Response:
        etcd, response, self.ghost = bind(self.etcd, key, uid, node, self.ghost, guarded=self.guarded_bind)
        return self._done(etcd, response)

    def get(self, key: Key) -> Object | None:
        return self.etcd.objects.get(key)

    def event(self, obj: str, etype: str, reason: str, message: str) -> None:
        self.events.append(f"{etype} {reason} {obj}: {message}")
