"""The external provisioner (a CSI driver's csi-provisioner sidecar): creates a PersistentVolume for each claim the
PersistentVolume controller hands to it, and deletes the volumes it provisioned once they are Released under
reclaimPolicy Delete.

Upstream: kubernetes-csi/external-provisioner (pkg/controller/controller.go: Provision builds the PV: capacity, access
modes, class, reclaimPolicy from the class, claimRef with the claim's uid, the pv.kubernetes.io/provisioned-by
annotation, and, for a WaitForFirstConsumer class, the topology of the selected node as the PV's nodeAffinity),
sigs.k8s.io/sig-storage-lib-external-provisioner (controller.go: shouldProvision: the claim is not bound, its
volume.kubernetes.io/storage-provisioner annotation names this provisioner, and a WaitForFirstConsumer claim has the
volume.kubernetes.io/selected-node annotation; provisionClaimOperation: the ProvisioningSucceeded event;
shouldDelete / deleteVolumeOperation: a Released volume with reclaimPolicy Delete that it provisioned), and
pkg/controller/volume/persistentvolume (the PV controller annotates the claim and binds the volume the provisioner
made: ``spec.controllers.persistentvolume``).

Modelled: one actor per provisioner name of the scenario's StorageClasses ("external-provisioner/NAME", weakly fair);
each step provisions one claim or deletes one volume. The volume's name is ``pvc-CLAIM`` (upstream: ``pvc-`` and the
claim's uid; a name is kept readable here, and a leftover volume of that name makes it ``pvc-`` and a generated
suffix).
Abstracted: the CSI driver (CreateVolume and DeleteVolume succeed at once; its topology is the node: a volume
provisioned for a selected node is reachable from that node only, by its kubernetes.io/hostname label; an Immediate
class's volumes from every node); the provisioner's claim and volume informers are reads of the API server's objects
(a provisioner lagging behind a claim's deletion would provision a volume that the PV controller then releases and
this provisioner deletes: not explored); the "volume already exists" check is by claim uid.
Omitted: provisioning failures and rescheduling (removing selected-node), capacity tracking, leader election of the
sidecar, finalizers on volumes (external-provisioner/volume-protection), secrets, mount options.
What a restart loses: nothing (no state of its own).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from spec import actions as A
from spec.component import Base, Step, commit, session
from spec.scheduling.types import pairs
from spec.scheduling.volumebinding import WAIT_FOR_FIRST_CONSUMER, class_key
from spec.state import (
    ANN_DYNAMICALLY_PROVISIONED,
    ANN_STORAGE_PROVISIONER,
    NO_PROVISIONER,
    ClaimRef,
    ClusterState,
    Etcd,
    Key,
    Meta,
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
    object_key,
)

if TYPE_CHECKING:
    from spec.apiserver import Session
    from spec.config import Config

PREFIX = "external-provisioner/"


def provisioners(config: Config) -> tuple[str, ...]:
    """The provisioner names of the scenario's StorageClasses that provision (not kubernetes.io/no-provisioner);
    kept per config (asked on every state: a scenario without classes pays one lookup)."""
    found = _PROVISIONERS.get(id(config))
    if found is None or found[0] is not config:
        names = tuple(sorted({o.provisioner for o in config.objects
                              if isinstance(o, StorageClass) and o.provisioner != NO_PROVISIONER}))
        if len(_PROVISIONERS) > 64:
            _PROVISIONERS.clear()
        found = _PROVISIONERS[id(config)] = (config, names)
    return found[1]


_PROVISIONERS: dict[int, tuple[Config, tuple[str, ...]]] = {}


def actor(name: str) -> str:
    return PREFIX + name


def _class(etcd: Etcd, claim: PersistentVolumeClaim) -> StorageClass | None:
    found = etcd.objects.get(class_key(claim.storage_class)) if claim.storage_class else None
    return found if isinstance(found, StorageClass) else None


def to_provision(etcd: Etcd, name: str) -> Iterator[tuple[Key, PersistentVolumeClaim, StorageClass]]:
    """shouldProvision: unbound claims annotated for this provisioner (of a class it serves; WaitForFirstConsumer
    ones once a node is selected) for which no volume exists yet."""
    provisioned = {v.claim_ref.uid for v in etcd.of("persistentvolumes")
                   if isinstance(v, PersistentVolume) and v.claim_ref is not None}
    for key, claim in sorted(etcd.objects.items()):
        if not isinstance(claim, PersistentVolumeClaim) or claim.meta.deleting or claim.volume_name:
            continue
        if claim.meta.annotation(ANN_STORAGE_PROVISIONER) != name or claim.meta.uid in provisioned:
            continue
        cls = _class(etcd, claim)
        if cls is None or cls.provisioner != name:
            continue
        if cls.volume_binding_mode == WAIT_FOR_FIRST_CONSUMER and not claim.selected_node:
            continue
        yield key, claim, cls


def to_delete(etcd: Etcd, name: str) -> Iterator[tuple[Key, PersistentVolume]]:
    """shouldDelete: Released volumes with reclaimPolicy Delete that this provisioner made."""
    for key, volume in sorted(etcd.objects.items()):
        if (isinstance(volume, PersistentVolume) and not volume.meta.deleting and volume.status.phase == "Released"
                and volume.reclaim_policy == "Delete"
                and volume.meta.annotation(ANN_DYNAMICALLY_PROVISIONED) == name):
            yield key, volume


def provision(sess: Session, name: str, claim: PersistentVolumeClaim, cls: StorageClass) -> None:
    """Provision: the volume, pre-bound to the claim (the PV controller completes the binding)."""
    node = claim.selected_node
    hostnames = (node,) if node and cls.volume_binding_mode == WAIT_FOR_FIRST_CONSUMER else None
    wanted = f"pvc-{claim.meta.name}"
    meta = (Meta(name=wanted, namespace="", annotations=pairs({ANN_DYNAMICALLY_PROVISIONED: name}))
            if sess.get(f"persistentvolumes/{wanted}") is None else
            Meta(name="", namespace="", generate_name="pvc-",
                 annotations=pairs({ANN_DYNAMICALLY_PROVISIONED: name})))
    volume = PersistentVolume(meta, claim.request, claim.access_modes, claim.storage_class, cls.reclaim_policy,
                              ClaimRef(claim.meta.namespace, claim.meta.name, claim.meta.uid), hostnames=hostnames)
    response = sess.create(volume)
    key = object_key(claim)
    if response.ok and response.obj is not None:
        sess.event(key, "Normal", "ProvisioningSucceeded",
                   f"Successfully provisioned volume {response.obj.meta.name}")
    else:
        sess.event(key, "Warning", "ProvisioningFailed", f"failed to provision volume: {response.message}")


class ProvisionerComponent(Base):
    """The external provisioners (module docstring): no slot; steps ``Reconcile`` (provision one claim, or delete
    one Released volume), actor "external-provisioner/NAME" per provisioner, weakly fair. No timers; a restart
    loses nothing."""

    name = "external-provisioner"

    def actors(self, config: Config) -> tuple[str, ...]:
        return tuple(actor(n) for n in provisioners(config))

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        for name in provisioners(config):
            for key, claim, cls in to_provision(state.etcd, name):
                sess = session(state, config)
                provision(sess, name, claim, cls)
                yield A.Reconcile(actor(name), key, False, tuple(sess.events)), commit(state, sess, config)
            for key, volume in to_delete(state.etcd, name):
                sess = session(state, config)
                sess.delete(key, uid=volume.meta.uid)
                sess.event(key, "Normal", "VolumeDeleted", f"Volume {volume.meta.name} deleted (reclaimPolicy Delete)")
                yield A.Reconcile(actor(name), key, False, tuple(sess.events)), commit(state, sess, config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {actor(n) for n in provisioners(config)
                if next(to_provision(state.etcd, n), None) is not None or next(to_delete(state.etcd, n), None)
                is not None}

    def busy(self, state: ClusterState, config: Config) -> bool:
        return bool(self.enabled(state, config))

    def __repr__(self) -> str:
        return f"<component {self.name}>"


PROVISIONER = ProvisionerComponent()
