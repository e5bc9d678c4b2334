"""The PersistentVolume controller (kube-controller-manager's "persistentvolume-binder"): binds claims to volumes,
asks provisioners for volumes, releases and reclaims volumes whose claim is gone.

Upstream: pkg/controller/volume/persistentvolume/pv_controller.go (syncClaim: syncUnboundClaim / syncBoundClaim;
syncVolume; bind = bindVolumeToClaim, updateVolumePhase Bound, bindClaimToVolume, updateClaimStatus Bound;
unbindVolume; reclaimVolume: Retain does nothing, Delete of a volume provisioned by an external provisioner is
left to it, of any other volume fails (VolumeFailedDelete); provisionClaim for an external provisioner: the
claim's volume.kubernetes.io/storage-provisioner annotation and the ExternalProvisioning event), pv_controller_base.go
(the informers' handlers: every added or updated volume and claim is queued; a deleted claim queues its volume, a
deleted volume its claim; resync every 15 s queues every claim and volume), pkg/controller/volume/persistentvolume/
util (FindMatchingVolume, the annotations pv.kubernetes.io/bind-completed and pv.kubernetes.io/bound-by-controller,
volume.kubernetes.io/selected-node: ``spec.scheduling.volumebinding`` holds the matching, shared with the scheduler),
and syncVolume's double check of a claim missing from its informer (a live GET, kubernetes#67062, which fixed
kubernetes#66287: a volume the scheduler bound was released because the controller had not seen its claim yet).
Docs: https://kubernetes.io/docs/concepts/storage/persistent-volumes/ (binding, phases, reclaiming).

Modelled: the informers (PersistentVolumes and PersistentVolumeClaims, slot ``ClusterState.volumes``, actor
"kcm-volume-informers"), one work queue of claim and volume keys (upstream's claimQueue and volumeQueue: both are
sets, and any queued key may be synced next), one sync per step (actor "persistentvolume-binder-controller", weakly
fair), every write an Update with the resourceVersion of the object the sync holds (a stale cache answers 409
Conflict and the sync stops; as upstream, a failed sync is not requeued: the 15 s resync retries it, which here is
the resync Tick of ``spec.clock``, ``resync``). WaitForFirstConsumer: an unbound claim of such a class waits for the
scheduler's selected-node annotation (its own matching never binds an unbound volume to it: the scheduler's
VolumeBinding does, ``spec.scheduling.volumebinding``). The external provisioner is ``spec.controllers.provisioner``.
The variant ``pv-release-stale-claim`` removes the double check (kubernetes#66287).
Abstracted: the StorageClasses are read from the API server's objects (no step creates or changes a class: the
class informer holds them from the start); the controller's own object caches (ctrl.volumes, ctrl.claims,
storeObjectUpdate) are its informers' caches, so a sync right after its own write may act on the older copy and be
refused (409), where upstream's cache would hold the written copy (the retry at the next resync is the same).
Omitted: in-tree volume plugins (provisioning, deleting and recycling in the controller itself: Recycle is refused
by the scenario parser), claim label selectors, volume modes, data sources, the volume expansion controller and
the PV protection controller (the PVC protection controller is ``spec.controllers.pvcprotection``), metrics.
What a restart of kube-controller-manager loses: the queue; the informers relist.
Under kube-controller-manager's leader election (``spec.leaderelection``; cmd/kube-controller-manager/app/
controllermanager.go starts every controller in OnStartedLeading and exits in OnStoppedLeading) the controller is
handed over as the other hosted controllers are (``spec.controllers.manager.Hosted``): it syncs only in the acting
replica (``running``); while none acts nothing of it is kept (``stopped``: no informers, an empty queue), and the
next leader's starts afresh (``restart``): its informers list and, as Run's initializeCaches and the informers'
initial adds do in pv_controller_base.go, every claim and volume is queued, so its first syncs are a full pass
(a claim deleted while no replica led releases its volume then: syncVolume finds the claim gone, confirmed by the
live GET). A paused leader's stands frozen and runs on if it resumes before another replica acts; a stale leader's
PV controller takes no step. The external provisioner is another process (``spec.controllers.provisioner``: not
under kube-controller-manager's election) and runs throughout.
Properties: ``spec.volume_properties``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs
import immutables

from spec import actions as A
from spec import informer
from spec.apiserver import Session
from spec.component import Base, Delta, Host, Process, Step
from spec.controllers.manager import running
from spec.scheduling.types import pairs
from spec.scheduling.volumebinding import (
    all_bound,
    bound_to,
    claim_key,
    class_key,
    delay_binding,
    find_matching_volume,
    volume_key,
)
from spec.state import (
    ANN_BETA_STORAGE_PROVISIONER,
    ANN_BIND_COMPLETED,
    ANN_BOUND_BY_CONTROLLER,
    ANN_DYNAMICALLY_PROVISIONED,
    ANN_STORAGE_PROVISIONER,
    NO_PROVISIONER,
    VOLUME_RESOURCES,
    ClaimRef,
    ClusterState,
    Etcd,
    Ghost,
    Informer,
    Key,
    Object,
    PersistentVolume,
    PersistentVolumeClaim,
    PersistentVolumeClaimStatus,
    PersistentVolumeStatus,
    Pod,
    StatefulSet,
    StorageClass,
    VolumeController,
    WorkQueue,
    object_key,
    with_meta,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "persistentvolume-binder-controller"
INFORMER_ACTOR = "kcm-volume-informers"
STALE_CLAIM_VARIANT = "pv-release-stale-claim"
"""kubernetes#66287 (fixed by #67062): syncVolume trusts its claim informer; a claim it has not seen yet counts as
deleted, and the volume is released."""


def has_volumes(config: Config) -> bool:
    """The slot exists: the scenario has a claim, a volume, a class, a pod or template with claims, or a
    StatefulSet with volumeClaimTemplates."""
    for o in config.objects:
        if isinstance(o, PersistentVolume | PersistentVolumeClaim | StorageClass):
            return True
        if isinstance(o, Pod) and o.info.claims:
            return True
        template = getattr(o, "template", None)
        if template is not None and template.info.claims:
            return True
        if isinstance(o, StatefulSet) and o.volume_claim_templates:
            return True
    return False


def _annotated(obj: Object, **values: str | None) -> Object:
    """``obj`` with annotations set (a value) or removed (None)."""
    current = dict(obj.meta.annotations)
    for k, v in values.items():
        key = _ANNOTATIONS[k]
        if v is None:
            current.pop(key, None)
        else:
            current[key] = v
    return with_meta(obj, annotations=pairs(current))


_ANNOTATIONS = {"bind_completed": ANN_BIND_COMPLETED, "bound_by_controller": ANN_BOUND_BY_CONTROLLER,
                "storage_provisioner": ANN_STORAGE_PROVISIONER, "beta_provisioner": ANN_BETA_STORAGE_PROVISIONER}


# --- the informers' handlers (pv_controller_base.go) ---------------------------------------------------------


def handle(ctl: VolumeController, deltas: Iterable[Delta]) -> VolumeController:
    """addVolume/updateVolume/addClaim/updateClaim queue the object; deleteClaim queues the volume it was bound to,
    deleteVolume the claim it was bound to."""
    queue = ctl.queue
    for key, old, new in deltas:
        if new is not None:
            if isinstance(new, PersistentVolume | PersistentVolumeClaim):
                queue = queue.add(key)
        elif isinstance(old, PersistentVolumeClaim) and old.volume_name:
            queue = queue.add(volume_key(old.volume_name))
        elif isinstance(old, PersistentVolume) and old.claim_ref is not None:
            queue = queue.add(claim_key(old.claim_ref.namespace, old.claim_ref.name))
    return ctl if queue is ctl.queue else attrs.evolve(ctl, queue=queue)


def restarted(etcd: Etcd, old: VolumeController | None, revision: int) -> VolumeController:
    """A (re)started controller: its informers listed at ``revision`` (high-water marks carried over), everything
    listed queued (the initial list's adds)."""
    infs: list[Informer] = []
    deltas: list[Delta] = []
    for i, resource in enumerate(VOLUME_RESOURCES):
        high = old.informers[i].high_water if old is not None else 0
        inf, d = informer.relist(Informer(rv=0, cache=immutables.Map(), high_water=high), etcd, ("kcm", resource),
                                 revision)
        infs.append(inf)
        deltas.extend(d)
    return handle(VolumeController(tuple(infs)), deltas)


# --- the syncs (pv_controller.go) ------------------------------------------------------------------------------


class _Sync:
    """One sync's context: the session, the informers' caches, the classes (from the API server: static)."""

    def __init__(self, ctl: VolumeController, session: Session, stale_claims: bool) -> None:
        self.ctl = ctl
        self.session = session
        self.stale_claims = stale_claims
        self.enqueue: list[Key] = []

    def cls(self, claim: PersistentVolumeClaim) -> StorageClass | None:
        found = self.session.get(class_key(claim.storage_class)) if claim.storage_class else None
        return found if isinstance(found, StorageClass) else None

    def volumes(self) -> list[PersistentVolume]:
        return [v for v in self.ctl.objects("persistentvolumes") if isinstance(v, PersistentVolume)]

    def event(self, obj: Object, etype: str, reason: str, message: str) -> None:
        self.session.event(object_key(obj), etype, reason, message)

    # updateVolumePhase / updateClaimStatus --------------------------------------------------------------------

    def volume_phase(self, volume: PersistentVolume, phase: str) -> PersistentVolume | None:
        if volume.status.phase == phase:
            return volume
        response = self.session.update(attrs.evolve(volume, status=PersistentVolumeStatus(phase)), status=True)
        return response.obj if response.ok and isinstance(response.obj, PersistentVolume) else None

    def claim_status(self, claim: PersistentVolumeClaim, phase: str, volume: PersistentVolume | None
                     ) -> PersistentVolumeClaim | None:
        status = PersistentVolumeClaimStatus(phase, volume.capacity if volume is not None else 0)
        if claim.status == status:
            return claim
        response = self.session.update(attrs.evolve(claim, status=status), status=True)
        return response.obj if response.ok and isinstance(response.obj, PersistentVolumeClaim) else None

    # bind ------------------------------------------------------------------------------------------------------

    def bind(self, volume: PersistentVolume, claim: PersistentVolumeClaim) -> bool:
        """bind: the volume's claimRef, its phase Bound, the claim's volumeName and annotations, its phase Bound;
        each write from the object the previous one returned (only the first can meet a stale cache)."""
        ref = volume.claim_ref
        if ref is None or ref.uid != claim.meta.uid or ref.name != claim.meta.name:  # bindVolumeToClaim
            new = attrs.evolve(volume, claim_ref=ClaimRef(claim.meta.namespace, claim.meta.name, claim.meta.uid))
            if ref is None or not bound_to(volume, claim):  # shouldSetBoundByController: not pre-bound by the user
                new = _annotated(new, bound_by_controller="yes")  # type: ignore[assignment]
            response = self.session.update(new)
            if not response.ok or not isinstance(response.obj, PersistentVolume):
                return False
            volume = response.obj
        bound_volume = self.volume_phase(volume, "Bound")
        if bound_volume is None:
            return False
        if claim.volume_name != volume.meta.name or claim.meta.annotation(ANN_BIND_COMPLETED) is None:
            new_claim: Object = claim
            if claim.volume_name != volume.meta.name:
                new_claim = _annotated(attrs.evolve(claim, volume_name=volume.meta.name), bound_by_controller="yes")
            new_claim = _annotated(new_claim, bind_completed="yes")
            response = self.session.update(new_claim)
            if not response.ok or not isinstance(response.obj, PersistentVolumeClaim):
                return False
            claim = response.obj
        return self.claim_status(claim, "Bound", bound_volume) is not None

    def unbind(self, volume: PersistentVolume) -> None:
        """unbindVolume: a volume the controller bound loses its claimRef (and the annotation); one pre-bound by
        the user keeps its claimRef without the uid. Then phase Available."""
        ref = volume.claim_ref
        assert ref is not None
        if volume.meta.annotation(ANN_BOUND_BY_CONTROLLER) is not None:
            new: Object = _annotated(attrs.evolve(volume, claim_ref=None), bound_by_controller=None)
        else:
            new = attrs.evolve(volume, claim_ref=ClaimRef(ref.namespace, ref.name))
        response = self.session.update(new)
        if response.ok and isinstance(response.obj, PersistentVolume):
            self.volume_phase(response.obj, "Available")

    # syncClaim -------------------------------------------------------------------------------------------------

    def sync_claim(self, claim: PersistentVolumeClaim) -> None:
        if claim.meta.annotation(ANN_BIND_COMPLETED) is None:
            self.sync_unbound_claim(claim)
        else:
            self.sync_bound_claim(claim)

    def sync_unbound_claim(self, claim: PersistentVolumeClaim) -> None:
        if not claim.volume_name:
            delay = delay_binding(claim, self.session.get)
            volume = find_matching_volume(claim, self.volumes(), None, frozenset(), delay)
            if volume is not None:
                self.bind(volume, claim)
                return
            if delay and not claim.selected_node:
                self.event(claim, "Normal", "WaitForFirstConsumer",
                           "waiting for first consumer to be created before binding")
                return
            cls = self.cls(claim)
            if cls is not None and cls.provisioner != NO_PROVISIONER:
                self.provision(claim, cls)
                return
            if self.claim_status(claim, "Pending", None) is None:
                return
            if not claim.storage_class:
                self.event(claim, "Normal", "FailedBinding",
                           "no persistent volumes available for this claim and no storage class is set")
            elif cls is None:
                self.event(claim, "Warning", "ProvisioningFailed",
                           f'storageclass.storage.k8s.io "{claim.storage_class}" not found')
            else:
                self.event(claim, "Normal", "FailedBinding", "no persistent volumes available for this claim")
            return
        found = self.ctl.get(volume_key(claim.volume_name))
        if not isinstance(found, PersistentVolume):
            self.claim_status(claim, "Pending", None)  # the requested volume does not exist (yet)
        elif found.claim_ref is None or bound_to(found, claim):
            self.bind(found, claim)
        elif claim.meta.annotation(ANN_BOUND_BY_CONTROLLER) is None:
            self.claim_status(claim, "Pending", None)  # the user's volume is bound to another claim: retry later

    def sync_bound_claim(self, claim: PersistentVolumeClaim) -> None:
        if not claim.volume_name:
            if self.claim_status(claim, "Lost", None) is not None:
                self.event(claim, "Warning", "ClaimLost",
                           "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")
            return
        found = self.ctl.get(volume_key(claim.volume_name))
        if not isinstance(found, PersistentVolume):
            if self.claim_status(claim, "Lost", None) is not None:
                self.event(claim, "Warning", "ClaimLost",
                           "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
            return
        if found.claim_ref is None or found.claim_ref.uid == claim.meta.uid:
            self.bind(found, claim)
        elif self.claim_status(claim, "Lost", None) is not None:
            self.event(claim, "Warning", "ClaimMisbound",
                       "Two claims are bound to the same volume, this one is bound incorrectly")

    def provision(self, claim: PersistentVolumeClaim, cls: StorageClass) -> None:
        """provisionClaim for an external provisioner: annotate the claim (setClaimProvisioner), tell the user."""
        if claim.meta.annotation(ANN_STORAGE_PROVISIONER) != cls.provisioner:
            new = _annotated(claim, storage_provisioner=cls.provisioner, beta_provisioner=cls.provisioner)
            if not self.session.update(new).ok:
                return
        self.event(claim, "Normal", "ExternalProvisioning",
                   f"Waiting for a volume to be created either by the external provisioner '{cls.provisioner}' or "
                   "manually by the system administrator. If volume creation is delayed, please verify that the "
                   "provisioner is running and correctly registered.")

    # syncVolume ------------------------------------------------------------------------------------------------

    def sync_volume(self, volume: PersistentVolume) -> None:
        ref = volume.claim_ref
        if ref is None or ref.uid == 0:  # unused, or pre-bound by the user to a claim not yet bound to it
            self.volume_phase(volume, "Available")
            return
        key = claim_key(ref.namespace, ref.name)
        cached = self.ctl.get(key)
        claim = cached if isinstance(cached, PersistentVolumeClaim) else None
        if claim is None and not self.stale_claims and volume.status.phase not in ("Released", "Failed"):
            live = self.session.get(key)  # kubernetes#67062: the informer may not have the claim yet
            claim = live if isinstance(live, PersistentVolumeClaim) else None
        if claim is not None and claim.meta.uid != ref.uid:
            claim = None  # deleted, and another claim of that name created
        if claim is None:
            if volume.status.phase not in ("Released", "Failed"):
                released = self.volume_phase(volume, "Released")
                if released is None:
                    return
                volume = released
            self.reclaim(volume)
        elif not claim.volume_name:
            self.enqueue.append(key)  # the claim's sync finishes the binding
        elif claim.volume_name == volume.meta.name:
            self.volume_phase(volume, "Bound")
        elif volume.meta.annotation(ANN_DYNAMICALLY_PROVISIONED) is not None and volume.reclaim_policy == "Delete":
            if volume.status.phase not in ("Released", "Failed"):
                released = self.volume_phase(volume, "Released")
                if released is None:
                    return
                volume = released
            self.reclaim(volume)
        else:
            self.unbind(volume)

    def reclaim(self, volume: PersistentVolume) -> None:
        """reclaimVolume: Retain keeps the volume Released; Delete of a dynamically provisioned volume is its
        external provisioner's (``spec.controllers.provisioner``); of any other, no deleter: Failed."""
        if volume.reclaim_policy != "Delete" or volume.meta.annotation(ANN_DYNAMICALLY_PROVISIONED) is not None:
            return
        if volume.status.phase != "Failed" and self.volume_phase(volume, "Failed") is not None:
            self.event(volume, "Warning", "VolumeFailedDelete",
                       f'error getting deleter volume plugin for volume "{volume.meta.name}": no deletable volume '
                       "plugin matched")


def sync(ctl: VolumeController, session: Session, key: Key, stale_claims: bool = False) -> VolumeController:
    """Pop ``key`` and sync the object its informer holds (a key whose object is gone needs nothing more: its
    delete handler queued what depended on it)."""
    q = ctl.queue
    ctl = attrs.evolve(ctl, queue=WorkQueue(tuple(k for k in q.queue if k != key), q.waiting, q.failures))
    obj = ctl.get(key)
    run = _Sync(ctl, session, stale_claims)
    if isinstance(obj, PersistentVolumeClaim):
        run.sync_claim(obj)
    elif isinstance(obj, PersistentVolume):
        run.sync_volume(obj)
    queue = ctl.queue
    for k in run.enqueue:
        queue = queue.add(k)
    return ctl if queue is ctl.queue else attrs.evolve(ctl, queue=queue)


@functools.lru_cache(maxsize=1 << 14)
def _sync(ctl: VolumeController, etcd: Etcd, ghost: Ghost, key: Key, stale_claims: bool
          ) -> tuple[VolumeController, Etcd, Ghost, tuple[str, ...]]:
    session = Session(etcd, ghost)
    new = sync(ctl, session, key, stale_claims)
    return new, session.etcd, session.ghost, tuple(session.events)


def pod_volumes_ready(pod: Pod, etcd: Etcd) -> bool:
    """The kubelet's volume manager (pkg/kubelet/volumemanager: WaitForAttachAndMount; its desired state of world
    populator GETs each claim from the API server): every claim of the pod exists, is bound, and its volume is
    bound to it. The attach/detach controller and the mount are abstracted: a bound volume is usable at once."""
    return not pod.info.claims or all_bound(pod.info.claims, pod.meta.namespace, etcd.objects.get)


# --- the component ---------------------------------------------------------------------------------------------


class PersistentVolumeComponent(Base):
    """The PersistentVolume controller (module docstring): slot ``ClusterState.volumes`` (None without claims or
    volumes); steps ``Reconcile`` (one queued key's syncClaim or syncVolume, actor
    "persistentvolume-binder-controller"); its informers' deliveries come through ``spec.reflector`` (actor
    "kcm-volume-informers"), all weakly fair. No timers; the resync queues every cached claim and volume. A
    controller-manager restart loses the queue and relists (``restart``). Under leader election it runs only in the
    acting replica (``running``); ``stopped`` while none acts."""

    name = ACTOR
    slot = "volumes"
    host = Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        return (INFORMER_ACTOR, ACTOR) if has_volumes(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        if not has_volumes(config):
            return state
        return state._with(volumes=restarted(state.etcd, None, state.etcd.revision))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        ctl = state.volumes
        if ctl is None:
            return state
        return state._with(volumes=restarted(state.etcd, ctl, revision))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        ctl = state.volumes
        if ctl is None or not running(state):  # under leader election, only in the acting replica
            return
        stale = STALE_CLAIM_VARIANT in config.variants
        for key in ctl.queue.queue:
            new, etcd, ghost, events = _sync(ctl, state.etcd, state.ghost, key, stale)
            yield A.Reconcile(ACTOR, key, False, events), settle(
                state._with(etcd=etcd, ghost=ghost, volumes=new), config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if self.busy(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return state.volumes is not None and bool(state.volumes.queue.queue) and running(state)

    def resync(self, state: ClusterState) -> ClusterState:
        """The 15 s resync (resync in pv_controller_base.go): every cached claim and volume queued."""
        ctl = state.volumes
        if ctl is None or not running(state):
            return state
        queue = ctl.queue
        for inf in ctl.informers:
            for key in sorted(inf.cache):
                queue = queue.add(key)
        return state if queue is ctl.queue else state._with(volumes=attrs.evolve(ctl, queue=queue))

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): nothing of it (empty
        informers and queue); the next leader's starts afresh (``restart``)."""
        ctl = state.volumes
        if ctl is None:
            return state
        return state._with(volumes=VolumeController(tuple(informer.fresh(None) for _ in ctl.informers)))

    def watcher(self, state: ClusterState, index: int) -> str:
        return INFORMER_ACTOR

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        ctl = state.volumes
        assert ctl is not None
        new = handle(ctl, deltas)
        return state if new is ctl else state._with(volumes=new)

    def __repr__(self) -> str:
        return f"<component {self.name}>"


PERSISTENT_VOLUMES = PersistentVolumeComponent()
