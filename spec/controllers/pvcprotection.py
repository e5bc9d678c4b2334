"""The PVC protection controller: a claim being deleted keeps its kubernetes.io/pvc-protection finalizer while a pod
uses it, so that a pod's claim (and so its volume) is not removed under it.

Upstream: pkg/controller/volume/pvcprotection/pvc_protection_controller.go (processPVC: a claim with a
deletionTimestamp and the finalizer; isBeingUsed: a pod of its namespace that is not terminated (podIsShutDown:
phase Succeeded or Failed) names it in its volumes, checked in the informer and then by a live LIST of the API
server (askAPIServer); removeFinalizer), plugin/pkg/admission/storage/storageobjectinuseprotection (the admission
plugin that puts the finalizer on every new claim: ``spec.apiserver.create``).

Modelled: one step per claim whose finalizer can go (actor "pvc-protection-controller", weakly fair): the
finalizer removed, and with it the claim (its deletion completes: the PV controller then releases its volume).
Abstracted: its pod and claim informers are the API server's objects (upstream confirms "not used" with a live
LIST before removing the finalizer; a use it would miss in its informer it finds there); its work queue (the
level-triggered condition is checked on every state).
Omitted: the PV protection controller (kubernetes.io/pv-protection on volumes: the model's volumes are deleted only
by the provisioner, once Released), generic ephemeral volumes' owner checks, metrics.
What a restart of kube-controller-manager loses: nothing (no state of its own).
Under kube-controller-manager's leader election (``spec.leaderelection``: every controller starts in
OnStartedLeading, cmd/kube-controller-manager/app/controllermanager.go) it acts only in the acting replica
(``spec.controllers.manager.running``): with no replica acting, or a paused one, no finalizer is removed; the next
leader's informers list, and its first pass finds every claim whose finalizer can go (level-triggered: nothing to
hand over). A stale leader's takes no step.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from spec import actions as A
from spec.component import Base, Host, Step, commit, session
from spec.controllers.manager import running
from spec.state import FINALIZER_PVC_PROTECTION, ClusterState, Etcd, Key, PersistentVolumeClaim, Pod

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "pvc-protection-controller"


def in_use(etcd: Etcd, claim: PersistentVolumeClaim) -> bool:
    """isBeingUsed: a pod of the claim's namespace that has not terminated names it."""
    return any(isinstance(p, Pod) and p.meta.namespace == claim.meta.namespace and claim.meta.name in p.info.claims
               and p.status.phase not in ("Succeeded", "Failed") for p in etcd.of("pods"))


def releasable(etcd: Etcd) -> Iterator[tuple[Key, PersistentVolumeClaim]]:
    """Claims being deleted, with the finalizer, that no pod uses."""
    for key, claim in sorted(etcd.objects.items()):
        if (isinstance(claim, PersistentVolumeClaim) and claim.meta.deleting
                and FINALIZER_PVC_PROTECTION in claim.meta.finalizers and not in_use(etcd, claim)):
            yield key, claim


class PVCProtectionComponent(Base):
    """The PVC protection controller (module docstring): no slot; steps ``Reconcile`` (one claim's finalizer
    removed), actor "pvc-protection-controller", weakly fair, in kube-controller-manager (loses nothing; under
    leader election it acts only in the acting replica, ``running``)."""

    name = ACTOR
    host = Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        from spec.controllers.persistentvolume import has_volumes

        return (ACTOR,) if has_volumes(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        if state.volumes is None or not running(state):  # no claim in the scenario (the PV controller's slot is
            return  # there with any); under leader election, only in the acting replica
        for key, claim in releasable(state.etcd):
            sess = session(state, config)
            sess.patch_meta(key, uid=claim.meta.uid,
                            finalizers=tuple(f for f in claim.meta.finalizers if f != FINALIZER_PVC_PROTECTION))
            yield A.Reconcile(ACTOR, key, False, (f"Normal PVCProtection {key}: finalizer removed: no pod uses the "
                                                  "claim",)), commit(state, sess, config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        if state.volumes is None or not running(state):
            return set()
        return {ACTOR} if next(releasable(state.etcd), None) is not None else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return bool(self.enabled(state, config))

    def __repr__(self) -> str:
        return f"<component {self.name}>"


PVC_PROTECTION = PVCProtectionComponent()
