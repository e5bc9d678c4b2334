"""The EndpointSlice controller as a component: informers on Services, Pods and EndpointSlices, a work queue of Service
keys, the EndpointSliceTracker, and one reconcile of one Service per step, writing through the API server.

Models (upstream):

- pkg/controller/endpointslice/endpointslice_controller.go: its informers on Services and EndpointSlices, and the
  Pod informer of kube-controller-manager's shared informer factory (the ReplicaSet controller's); the handlers
  (onServiceUpdate/Delete: the Service; addPod/updatePod/deletePod: every Service whose selector matches the pod's
  old or new labels, when what an endpoint shows of the pod changed
  (endpointsliceutil.GetServicesToUpdateOnPodChange); onEndpointSliceAdd/ Update: the Service of a slice managed by
  this controller when ``tracker.ShouldSync`` says the change is not the controller's own; onEndpointSliceDelete:
  when the tracker has the slice and ``HandleDeletedSlice`` says the deletion was not expected), and syncService: no
  slices for a Service without selector, the pods from the pod lister, the slices from the slice lister (label
  kubernetes.io/service-name, managed by this controller, not being deleted), then ``tracker.StaleSlices``: when the
  slice cache lacks a slice the controller wrote, or holds an older generation of it, or still holds one it deleted,
  the sync fails with StaleInformerCache and is retried (kubernetes#92928, fixed by #99345; the ``no-slice-tracker``
  variant restores the sync from a stale cache, which writes duplicate slices).
- staging/src/k8s.io/endpointslice/reconciler.go (Reconcile, reconcileByPortMapping, finalize) and
  endpointslice_tracker.go: the desired endpoints from ``spec.endpointslice.reconcile`` (podToEndpoint's
  ready/serving/terminating, ports, the managed-by, service-name and headless labels, the placeholder slice); an
  existing slice with the same ports is kept when its endpoints are already right and updated otherwise (an Update
  carrying the cached resourceVersion: 409 Conflict when the cache is behind); slices no longer needed are deleted,
  except that finalize turns a create plus a delete into an update of the slice to delete; new slices are created
  with generateName "<service>-". The tracker records the generation of every slice written (``Update``) and marks
  deleted ones (``ExpectDeletion``).

Abstracts: the queue is a set (any queued key may be popped, as with several workers); a sync that StaleSlices would
fail is not taken until the cache has caught up (upstream retries it with backoff, each retry failing the same way
while the cache is behind: the failed retries write nothing and change nothing). The controller's Service and
EndpointSlice informers are its own (upstream they come from the shared factory too, but no other modelled
controller watches those resources); it restarts with the controller manager. At most 100 endpoints per slice, so
with the model's sizes one slice per port list. targetRef keeps the pod's name only. Omits: the Node informer
(zones, "Node not found"; hints), the EndpointSlice mirroring controller, the last-change-trigger-time annotation,
the garbage collector for slices (the model's covers the controller manager's resources: slices of a deleted
Service stay), dual-stack.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import immutables

from spec import endpointslice as eps
from spec import informer
from spec.apiserver import NAMESPACE_TERMINATING, Session
from spec.services import eps_pod, eps_service, selects
from spec.state import (
    EPS_RESOURCES,
    EndpointSlice,
    EndpointSliceControl,
    Etcd,
    Informer,
    Key,
    Meta,
    Object,
    OwnerRef,
    Pod,
    Service,
    SliceEndpoint,
    SlicePort,
    key_of,
)

ACTOR = "endpointslice-controller"
DELETION_EXPECTED = -1
"""endpointslice_tracker.go deletionExpected."""

Tracker = tuple[tuple[Key, tuple[tuple[int, int], ...]], ...]


def start(etcd: Etcd) -> EndpointSliceControl:
    """The controller after start-up: its informers listed at etcd's revision, every Service queued (the
    informers' initial adds), an empty tracker (its pod informer is the controller manager's)."""
    infs = tuple(informer.relist(None, etcd, ("eps", r), etcd.revision)[0] for r in EPS_RESOURCES)
    services = tuple(sorted(k for k in infs[0].cache))
    return EndpointSliceControl(infs, services, ())


def _service_key_of_slice(s: EndpointSlice) -> Key | None:
    name = s.meta.label(eps.LABEL_SERVICE_NAME)
    return None if name is None else key_of("services", s.meta.namespace, name)


def _managed(s: EndpointSlice) -> bool:
    return s.meta.label(eps.LABEL_MANAGED_BY) == eps.CONTROLLER_NAME


def _generations(tracker: Tracker, service: Key) -> dict[int, int]:
    for k, gens in tracker:
        if k == service:
            return dict(gens)
    return {}


def _with_generations(tracker: Tracker, service: Key, gens: dict[int, int]) -> Tracker:
    rest = [(k, g) for k, g in tracker if k != service]
    if gens:
        rest.append((service, tuple(sorted(gens.items()))))
    return tuple(sorted(rest))


def _queued(queue: tuple[Key, ...], keys: set[Key]) -> tuple[Key, ...]:
    new = set(queue) | keys
    return queue if len(new) == len(queue) else tuple(sorted(new))


def handle_pod(c: EndpointSliceControl, old: Object | None, new: Object | None) -> EndpointSliceControl:
    """addPod / updatePod / deletePod, on a delta of the controller manager's pod informer."""
    before = old if isinstance(old, Pod) else None
    after = new if isinstance(new, Pod) else None
    if before is not None and after is not None and eps_pod(before) == eps_pod(after) \
            and before.meta.labels == after.meta.labels:
        return c
    services = c.informers[0].cache
    keys = {k for k, s in services.items() if isinstance(s, Service) and any(
        p is not None and selects(s, p) for p in (before, after))}
    return EndpointSliceControl(c.informers, _queued(c.queue, keys), c.tracker) if keys else c


def handle(c: EndpointSliceControl, index: int, key: Key, old: Object | None, new: Object | None
           ) -> EndpointSliceControl:
    """The handlers of its informer ``index`` (``EPS_RESOURCES``) for one delta."""
    resource = EPS_RESOURCES[index]
    if resource == "services":
        return EndpointSliceControl(c.informers, _queued(c.queue, {key}), c.tracker)
    # endpointslices
    slice_ = new if isinstance(new, EndpointSlice) else old
    if not isinstance(slice_, EndpointSlice):
        return c
    service = _service_key_of_slice(slice_)
    if service is None:
        return c
    gens = _generations(c.tracker, service)
    if isinstance(new, EndpointSlice):
        was_managed = isinstance(old, EndpointSlice) and _managed(old)
        if not _managed(new) and not was_managed:
            return c
        g = gens.get(new.meta.uid)
        should = g is None or new.meta.generation > g  # ShouldSync
        if should or was_managed != _managed(new):
            return EndpointSliceControl(c.informers, _queued(c.queue, {service}), c.tracker)
        return c
    # deleted
    if not _managed(slice_) or slice_.meta.uid not in gens:  # tracker.Has
        return c
    expected = gens.pop(slice_.meta.uid) == DELETION_EXPECTED  # HandleDeletedSlice
    tracker = _with_generations(c.tracker, service, gens)
    queue = c.queue if expected else _queued(c.queue, {service})
    return EndpointSliceControl(c.informers, queue, tracker)


def _slices_of(c: EndpointSliceControl, svc: Service) -> list[EndpointSlice]:
    """The slice lister's answer for the Service, without the slices being deleted
    (dropEndpointSlicesPendingDeletion), by name."""
    out = []
    for s in c.informers[1].cache.values():
        if isinstance(s, EndpointSlice) and s.meta.namespace == svc.meta.namespace and _managed(s) \
                and s.meta.label(eps.LABEL_SERVICE_NAME) == svc.meta.name and not s.meta.deleting:
            out.append(s)
    return sorted(out, key=lambda s: s.meta.name)


def stale(c: EndpointSliceControl, key: Key) -> bool:
    """EndpointSliceTracker.StaleSlices for the Service at ``key`` and the slices its lister returns."""
    svc = c.informers[0].cache.get(key)
    gens = _generations(c.tracker, key)
    if not isinstance(svc, Service) or not gens:
        return False
    provided = {s.meta.uid: s.meta.generation for s in _slices_of(c, svc)}
    for uid, generation in provided.items():
        g = gens.get(uid)
        if g is not None and (g == DELETION_EXPECTED or g > generation):
            return True
    return any(g != DELETION_EXPECTED and uid not in provided for uid, g in gens.items())


def ready_keys(c: EndpointSliceControl, tracker_on: bool) -> Iterator[Key]:
    """The queued keys whose sync may run now (with the tracker on: not stale)."""
    for key in c.queue:
        if not tracker_on or not stale(c, key):
            yield key


def _desired(svc: Service, pods: tuple[Pod, ...]) -> list[eps.EndpointSlice]:
    return eps.reconcile(eps_service(svc), [eps_pod(p) for p in pods])


def _endpoints(s: eps.EndpointSlice) -> tuple[SliceEndpoint, ...]:
    return tuple(SliceEndpoint(e.addresses[0], e.ready, e.serving, e.terminating, e.node_name or "",
                               e.target_ref.name if e.target_ref else "") for e in s.endpoints)


def _ports(s: eps.EndpointSlice) -> tuple[SlicePort, ...]:
    return tuple(SlicePort(p.name, p.port, p.protocol) for p in s.ports)


def reconcile(c: EndpointSliceControl, pod_cache: immutables.Map[Key, Object], session: Session, key: Key
              ) -> EndpointSliceControl:
    """syncService for ``key`` (popped from the queue), with ``pod_cache`` the pod informer's cache: the writes
    through ``session``; the controller after it (requeued when a write failed)."""
    queue = tuple(k for k in c.queue if k != key)
    svc = c.informers[0].cache.get(key)
    if not isinstance(svc, Service):
        # Deleted: reconciler.DeleteService forgets it in the tracker (its slices go with the garbage collector).
        return EndpointSliceControl(c.informers, queue, _with_generations(c.tracker, key, {}))
    if svc.selector is None:
        return EndpointSliceControl(c.informers, queue, c.tracker)
    pods = tuple(p for p in pod_cache.values() if isinstance(p, Pod) and selects(svc, p))
    desired = _desired(svc, tuple(sorted(pods, key=lambda p: p.meta.name)))
    existing = _slices_of(c, svc)
    gens = _generations(c.tracker, key)
    creates: list[eps.EndpointSlice] = []
    updates: list[tuple[EndpointSlice, eps.EndpointSlice]] = []
    unused = list(existing)
    for d in desired:
        ports = _ports(d)
        match = next((s for s in unused if s.ports == ports), None)
        if match is not None:
            unused.remove(match)
            if match.endpoints != _endpoints(d):
                updates.append((match, d))
        else:
            creates.append(d)
    # finalize: a slice to delete is updated into one to create, rather than deleted and created
    while creates and unused:
        updates.append((unused.pop(0), creates.pop(0)))
    failed = False
    for d in creates:
        meta = Meta(name="", namespace=svc.meta.namespace, labels=d.labels,
                    owner=OwnerRef("Service", svc.meta.name, svc.meta.uid), generate_name=d.generate_name)
        response = session.create(EndpointSlice(meta, _endpoints(d), _ports(d), d.address_type))
        if response.cause == NAMESPACE_TERMINATING:
            # reconciler.go finalize: "If the namespace is terminating, creates will continue to fail. Simply drop
            # the item." (no error, no requeue)
            return EndpointSliceControl(c.informers, queue, _with_generations(c.tracker, key, gens))
        if not response.ok or response.obj is None:
            failed = True
            break
        gens[response.obj.meta.uid] = response.obj.meta.generation
    if not failed:
        for old, d in updates:
            new = EndpointSlice(old.meta, _endpoints(d), _ports(d), d.address_type)
            response = session.update(new)
            if not response.ok or response.obj is None:
                session.event(key, "Warning", "FailedToUpdateEndpointSlices",
                              f"Error updating Endpoint Slices for Service {svc.meta.namespace}/{svc.meta.name}: "
                              f"{response.message}")
                failed = True
                break
            gens[response.obj.meta.uid] = response.obj.meta.generation
    if not failed:
        for s in unused:
            response = session.delete(key_of("endpointslices", s.meta.namespace, s.meta.name))
            if not response.ok and response.code != 404:
                failed = True
                break
            gens[s.meta.uid] = DELETION_EXPECTED
    if failed:
        queue = _queued(queue, {key})
    return EndpointSliceControl(c.informers, queue, _with_generations(c.tracker, key, gens))


@functools.lru_cache(maxsize=1 << 14)
def reconcile_memo(c: EndpointSliceControl, pod_cache: immutables.Map[Key, Object], etcd: Etcd, ghost: object,
                   key: Key) -> tuple[EndpointSliceControl, Etcd, tuple[str, ...], bool]:
    """``reconcile`` as a pure function of the controller, the pod cache and etcd: (controller', etcd', events,
    failed)."""
    session = Session(etcd, ghost)  # type: ignore[arg-type]
    new = reconcile(c, pod_cache, session, key)
    return new, session.etcd, tuple(session.events), key in new.queue


def duplicate_endpoints(objects: immutables.Map[Key, Object] | dict[Key, Object]) -> set[tuple[Key, str]]:
    """(Service key, address) pairs that more than one managed slice of the Service lists (what the tracker
    prevents)."""
    seen: dict[tuple[Key, str], int] = {}
    for o in objects.values():
        if isinstance(o, EndpointSlice) and _managed(o):
            service = _service_key_of_slice(o)
            if service is None:
                continue
            for e in o.endpoints:
                seen[(service, e.address)] = seen.get((service, e.address), 0) + 1
    return {k for k, n in seen.items() if n > 1}


__all__ = ["ACTOR", "Informer", "handle", "handle_pod", "ready_keys", "reconcile", "reconcile_memo", "start",
           "stale"]
