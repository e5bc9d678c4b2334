"""The promises of persistent volumes, apart from ``spec.properties``, which registers them in its table (a block of its
own at the end; this module imports nothing of it). Each reads etcd and the kubelets' runtimes only.

- ``NoDoubleVolumeBinding``: no volume is bound to two claims and no claim to two volumes: no two claims whose
  binding completed name the same volume, and no two Bound volumes carry the same claim's uid. Upstream's promise:
  "Once bound, PersistentVolumeClaim binds are exclusive, regardless of how they were bound. A PVC to PV binding is a
  one-to-one mapping, using a ClaimRef which is a bi-directional binding between the PersistentVolume and the
  PersistentVolumeClaim" (https://kubernetes.io/docs/concepts/storage/persistent-volumes/#binding); kept by
  pv_controller.go (bind: the volume's claimRef with the claim's uid first, syncBoundClaim's ClaimMisbound) and the
  API server's optimistic concurrency (kubernetes#25881: binding from a stale cache).
- ``PodRunsOnlyWithBoundClaims``: a pod's containers run only while each of its claims exists, its binding is
  complete and its volume is bound to it. Upstream: the kubelet's volume manager (pkg/kubelet/volumemanager:
  WaitForAttachAndMount; "the pod will not start until the claim is bound":
  https://kubernetes.io/docs/concepts/storage/persistent-volumes/#using); a claim in use is not removed while the
  pod exists (the kubernetes.io/pvc-protection finalizer: ``spec.controllers.pvcprotection``).
- ``ClaimsEventuallyBound``: whenever a claim that can be bound is not (its class provisions, with a consumer pod
  for WaitForFirstConsumer; or a volume that fits is there or is pre-bound to it), every such claim is eventually
  bound (leads-to). Upstream: "If a user requests a volume, the control loop finds a matching PV or provisions one
  and binds them" (persistent-volumes/#binding; pv_controller.go syncUnboundClaim, the external provisioner).
- ``PodsRunOnTheirVolumesNodes``: a pod's containers run only on a node every bound volume of its claims allows
  (the volume's nodeAffinity). Upstream: "A PV can specify node affinity to define constraints that limit what
  nodes this volume can be accessed from. Pods that use a PV will only be scheduled to nodes that are selected by
  the node affinity" (persistent-volumes/#node-affinity); kept by VolumeBinding's Filter.
- ``VolumeNotReleasedWhileClaimed``: a volume bound to a claim (its claimRef carries the claim's uid) is never
  Released or Failed while that claim exists. Upstream: pv_controller.go syncVolume releases a volume only when
  its claim is gone, double-checking the API server when the informer does not have it (kubernetes#67062, which
  fixed kubernetes#66287: a volume the scheduler bound was released, and with reclaimPolicy Delete deleted, because
  the controller had not seen its new claim yet; the ``pv-release-stale-claim`` variant).
"""

from __future__ import annotations

from collections.abc import Iterator

from spec.scheduling.types import NodeInfo
from spec.scheduling.volumebinding import (
    WAIT_FOR_FIRST_CONSUMER,
    all_bound,
    bound_to,
    claim_key,
    class_key,
    fully_bound,
    node_affinity_matches,
    volume_key,
)
from spec.state import (
    NO_PROVISIONER,
    ClusterState,
    Etcd,
    Node,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    StorageClass,
)


def _claims(etcd: Etcd) -> Iterator[PersistentVolumeClaim]:
    for c in etcd.of("persistentvolumeclaims"):
        if isinstance(c, PersistentVolumeClaim):
            yield c


def _volumes(etcd: Etcd) -> Iterator[PersistentVolume]:
    for v in etcd.of("persistentvolumes"):
        if isinstance(v, PersistentVolume):
            yield v


def double_binding(s: ClusterState) -> str | None:
    """What double-binds, or None."""
    by_volume: dict[str, str] = {}
    for c in sorted(_claims(s.etcd), key=lambda c: (c.meta.namespace, c.meta.name)):
        if fully_bound(c):
            other = by_volume.setdefault(c.volume_name, c.meta.name)
            if other != c.meta.name:
                return f"claims {other} and {c.meta.name} are both bound to volume {c.volume_name}"
    by_claim: dict[int, str] = {}
    for v in sorted(_volumes(s.etcd), key=lambda v: v.meta.name):
        if v.status.phase == "Bound" and v.claim_ref is not None and v.claim_ref.uid:
            other = by_claim.setdefault(v.claim_ref.uid, v.meta.name)
            if other != v.meta.name:
                return f"volumes {other} and {v.meta.name} are both Bound to claim {v.claim_ref.name}"
    return None


def no_double_binding(s: ClusterState) -> bool:
    return s.volumes is None or double_binding(s) is None


def _running_pods(s: ClusterState) -> Iterator[tuple[str, Pod]]:
    """(node, pod) for every pod of etcd with claims whose containers run on a node."""
    for k in s.kubelets:
        for c in k.runtime:
            if not (c.managed and c.running):
                continue
            pod = s.etcd.objects.get(c.pod)
            if isinstance(pod, Pod) and pod.meta.uid == c.uid and pod.info.claims:
                yield k.node, pod


def unbound_running(s: ClusterState) -> str | None:
    for node, pod in _running_pods(s):
        if not all_bound(pod.info.claims, pod.meta.namespace, s.etcd.objects.get):
            return f"pod {pod.meta.name} runs on {node} while its claims {', '.join(pod.info.claims)} are not all bound"
    return None


def pods_run_only_with_bound_claims(s: ClusterState) -> bool:
    return s.volumes is None or unbound_running(s) is None


def _node_info(s: ClusterState, name: str) -> NodeInfo | None:
    node = s.etcd.objects.get(f"nodes/{name}")
    return node.info if isinstance(node, Node) else None


def misplaced(s: ClusterState) -> str | None:
    for node, pod in _running_pods(s):
        info = _node_info(s, node)
        for name in pod.info.claims:
            claim = s.etcd.objects.get(claim_key(pod.meta.namespace, name))
            if not isinstance(claim, PersistentVolumeClaim) or not claim.volume_name:
                continue
            volume = s.etcd.objects.get(volume_key(claim.volume_name))
            if isinstance(volume, PersistentVolume) and info is not None and not node_affinity_matches(volume, info):
                return f"pod {pod.meta.name} runs on {node}, which volume {volume.meta.name} does not allow"
    return None


def pods_on_volume_nodes(s: ClusterState) -> bool:
    return s.volumes is None or misplaced(s) is None


def _fits(volume: PersistentVolume, claim: PersistentVolumeClaim) -> bool:
    return (volume.storage_class == claim.storage_class and volume.capacity >= claim.request
            and set(claim.access_modes) <= set(volume.access_modes))


def bindable(s: ClusterState, claim: PersistentVolumeClaim) -> bool:
    """The claim can be bound: its class provisions (WaitForFirstConsumer: a pod that is not being deleted uses it),
    or a volume that fits is free or is bound to it."""
    if claim.meta.deleting:
        return False
    cls = s.etcd.objects.get(class_key(claim.storage_class)) if claim.storage_class else None
    wffc = isinstance(cls, StorageClass) and cls.volume_binding_mode == WAIT_FOR_FIRST_CONSUMER
    if wffc and not any(isinstance(p, Pod) and not p.meta.deleting and claim.meta.name in p.info.claims
                        and p.meta.namespace == claim.meta.namespace for p in s.etcd.of("pods")):
        return False
    if isinstance(cls, StorageClass) and cls.provisioner != NO_PROVISIONER:
        return True
    return any(_fits(v, claim) and not v.meta.deleting and (v.claim_ref is None or bound_to(v, claim))
               for v in _volumes(s.etcd))


def unbound_bindable(s: ClusterState) -> str | None:
    for c in _claims(s.etcd):
        if bindable(s, c) and not all_bound((c.meta.name,), c.meta.namespace, s.etcd.objects.get):
            return f"claim {c.meta.name} can be bound and is not"
    return None


def claims_pending(s: ClusterState) -> bool:
    return s.volumes is not None and unbound_bindable(s) is not None


def claims_bound(s: ClusterState) -> bool:
    return not claims_pending(s)


def released_while_claimed(s: ClusterState) -> str | None:
    uids = {c.meta.uid: c.meta.name for c in _claims(s.etcd)}
    for v in _volumes(s.etcd):
        if v.status.phase in ("Released", "Failed") and v.claim_ref is not None and v.claim_ref.uid in uids:
            return f"volume {v.meta.name} is {v.status.phase} while its claim {uids[v.claim_ref.uid]} exists"
    return None


def not_released_while_claimed(s: ClusterState) -> bool:
    return s.volumes is None or released_while_claimed(s) is None


def explain(finder: object) -> object:
    """The explanation hook of a property: what breaks it in a state (``PropertySpec.explain``)."""
    def run(s: ClusterState) -> str:
        found = finder(s)  # type: ignore[operator]
        return found if isinstance(found, str) else "no claim or volume breaks it here"
    return run
