"""The cluster state: API objects as etcd stores them, and every component's local memory.

Upstream types: staging/src/k8s.io/api/core/v1/types.go (Pod, Node), staging/src/k8s.io/api/apps/v1/types.go
(ReplicaSet, Deployment), staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go (ObjectMeta).

Modelled: the fields that some control-plane component reads or writes (metadata with resourceVersion, uid,
generation, labels, annotations that drive behaviour, the controller ownerReference, deletionTimestamp and
finalizers; the specs and statuses the controllers, the scheduler and the kubelets use).
Abstracted: a pod's scheduling-relevant spec is the scheduler package's ``PodInfo`` (one definition of requests,
tolerations, affinity for the whole project); ``uid`` is an integer in creation order and ``deletionTimestamp`` a
flag (time is relative, see ``spec.clock``); creationTimestamp is the uid order, which is how upstream's ties in
``controller.ActivePods`` and ``ReplicaSetsByCreationTimestamp`` fall when timestamps are equal.
Omitted: fields nothing in the modelled control plane reads (container ports other than hostPort, probes, volumes).

Every class is frozen and caches its hash: states are hashed and compared millions of times, and most objects are
shared, unchanged, between a state and its successors.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import attrs
import immutables

from spec.idfields import KEY, LABELS, NAME, NEXT_UID, NODE, OBJ, REVISION, UID, VERSION, holds
from spec.scheduling.types import LabelSelector, NodeInfo, NodeSelectorTerm, Pairs, PodInfo, Resources

Key = str
"""``<resource>/<namespace>/<name>`` (``nodes/<name>`` for nodes): the address kubectl prints."""

EventType = Literal["ADDED", "MODIFIED", "DELETED"]

POD_TEMPLATE_HASH = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
DEFAULT_SCHEDULER = "default-scheduler"
FINALIZER_ORPHAN = "orphan"
"""metav1.FinalizerOrphanDependents: the garbage collector removes this owner from its dependents' ownerReferences
before the owner goes."""
FINALIZER_FOREGROUND = "foregroundDeletion"
"""metav1.FinalizerDeleteDependents: the owner stays (deletionTimestamp set) until its blocking dependents are gone."""


CLUSTER_SCOPED = frozenset({"nodes", "namespaces", "persistentvolumes", "storageclasses"})
"""The modelled resources that are not namespaced (their keys are ``<resource>/<name>``)."""


def key_of(resource: str, namespace: str, name: str) -> Key:
    return f"{resource}/{name}" if resource in CLUSTER_SCOPED else f"{resource}/{namespace}/{name}"


def pod_key(namespace: str, name: str) -> Key:
    return f"pods/{namespace}/{name}"


@attrs.frozen(cache_hash=True)
class OwnerRef:
    """The controller ownerReference (upstream: metav1.OwnerReference with controller=true)."""

    kind: str
    name: str
    uid: int = attrs.field(metadata=holds(UID))


@attrs.frozen(cache_hash=True)
class Meta:
    """Upstream: metav1.ObjectMeta (the fields the control plane uses)."""

    name: str = attrs.field(metadata=holds(NAME))
    namespace: str = "default"
    uid: int = attrs.field(default=0, metadata=holds(UID))
    resource_version: int = attrs.field(default=0, metadata=holds(VERSION))
    generation: int = 1
    labels: Pairs = attrs.field(default=(), metadata=holds(LABELS))
    annotations: Pairs = ()
    owner: OwnerRef | None = None
    deleting: bool = False
    """deletionTimestamp is set."""
    finalizers: tuple[str, ...] = ()
    generate_name: str = ""

    def label(self, key: str) -> str | None:
        for k, v in self.labels:
            if k == key:
                return v
        return None

    def annotation(self, key: str) -> str | None:
        for k, v in self.annotations:
            if k == key:
                return v
        return None


@attrs.frozen(cache_hash=True)
class NamedPort:
    """Upstream: core/v1 ContainerPort, only the ones with a name (a Service's named targetPort is looked up among
    them, FindPort in pkg/api/v1/pod/util.go; an unnamed port is never looked up)."""

    name: str
    container_port: int
    protocol: str = "TCP"


@attrs.frozen(cache_hash=True, repr=False)
class Container:
    """Upstream: core/v1 Container (name, image and its named ports; requests live in the pod's PodInfo)."""

    name: str
    image: str
    ports: tuple[NamedPort, ...] = ()

    def __repr__(self) -> str:
        # no ports: the repr (which the Deployment controller's template hash reads) of a container without them
        ports = f", ports={self.ports!r}" if self.ports else ""
        return f"Container(name={self.name!r}, image={self.image!r}{ports})"


@attrs.frozen(cache_hash=True)
class PodTemplate:
    """Upstream: core/v1 PodTemplateSpec. ``info`` is the scheduler's view of the spec (name left empty)."""

    labels: Pairs
    containers: tuple[Container, ...]
    info: PodInfo

    def with_labels(self, labels: Pairs) -> PodTemplate:
        return attrs.evolve(self, labels=labels, info=attrs.evolve(self.info, labels=labels))

    def with_image(self, container: str, image: str) -> PodTemplate:
        containers = tuple(attrs.evolve(c, image=image) if c.name == container else c for c in self.containers)
        return attrs.evolve(
            self, containers=containers, info=attrs.evolve(self.info, images=tuple(c.image for c in containers))
        )


@attrs.frozen(cache_hash=True)
class PodStatus:
    """Upstream: core/v1 PodStatus: phase, the Ready condition and the PodScheduled condition's reason."""

    phase: str = "Pending"
    ready: bool = False
    scheduled_reason: str = ""
    """"" (no condition), "Unschedulable" (PodScheduled=False) or "Scheduled" (PodScheduled=True)."""
    restarts: int = 0
    pod_ip: str = ""
    """status.podIP: the sandbox's address, from the node's podCIDR (CNI host-local, ``spec.services``); "" before
    the sandbox exists, and always in scenarios without Services (no component reads it there)."""


@attrs.frozen(cache_hash=True)
class Pod:
    meta: Meta
    containers: tuple[Container, ...]
    info: PodInfo
    """The scheduler's view: requests, node selector, affinity, tolerations, host ports; ``node_name`` is
    spec.nodeName."""
    status: PodStatus = PodStatus()
    scheduler_name: str = DEFAULT_SCHEDULER
    restart_policy: str = "Always"
    """spec.restartPolicy: Always (the only one a ReplicaSet's template may have), OnFailure or Never (a Job's
    pods: the kubelet lets them run to completion, ``spec.kubelet``)."""

    @property
    def node_name(self) -> str:
        return self.info.node_name


@attrs.frozen(cache_hash=True)
class NodeStatus:
    allocatable: Resources
    ready: bool = True


@attrs.frozen(cache_hash=True)
class Node:
    """Upstream: core/v1 Node. ``info`` is the scheduler's view (labels, taints, allocatable, unschedulable);
    ``ready`` is the status of its Ready condition ("True", "False" or "Unknown"), which the node lifecycle
    controller sets to "Unknown" once the node's heartbeats stop (``spec.controllers.nodelifecycle``)."""

    meta: Meta
    info: NodeInfo
    ready: str = "True"

    @property
    def unschedulable(self) -> bool:
        return self.info.unschedulable


@attrs.frozen(cache_hash=True)
class ReplicaSetStatus:
    """Upstream: apps/v1 ReplicaSetStatus."""

    replicas: int = 0
    fully_labeled_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    observed_generation: int = 0
    replica_failure: str = ""
    """The ReplicaFailure condition's message, "" when the condition is absent."""


@attrs.frozen(cache_hash=True)
class ReplicaSet:
    meta: Meta
    replicas: int
    selector: LabelSelector
    template: PodTemplate
    min_ready_seconds: int = 0
    status: ReplicaSetStatus = ReplicaSetStatus()


@attrs.frozen(cache_hash=True)
class ReplicationController:
    """Upstream: core/v1 ReplicationController. Its fields are a ReplicaSet's, and the controller is the ReplicaSet
    controller's (pkg/controller/replication/conversion.go converts one to the other, as if a ReplicationController
    were an older version of a ReplicaSet): ``selector`` is spec.selector, a plain map of labels (equality-based,
    kept as a ``LabelSelector`` with matchLabels only, which is what the conversion makes of it), defaulted to the
    template's labels (pkg/apis/core/v1/defaults.go SetDefaults_ReplicationController); the status has the fields
    of a ReplicaSet's (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration, the
    ReplicaFailure condition)."""

    meta: Meta
    replicas: int
    selector: LabelSelector
    template: PodTemplate
    min_ready_seconds: int = 0
    status: ReplicaSetStatus = ReplicaSetStatus()


Replicated = ReplicaSet | ReplicationController
"""What the ReplicaSet controller manages: a ReplicaSet, or a ReplicationController through the replication
manager's adapters (``spec.controllers.replication``)."""


@attrs.frozen(cache_hash=True)
class Condition:
    type: str
    status: str
    reason: str


@attrs.frozen(cache_hash=True)
class DeploymentStatus:
    """Upstream: apps/v1 DeploymentStatus."""

    observed_generation: int = 0
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    unavailable_replicas: int = 0
    conditions: tuple[Condition, ...] = ()
    collision_count: int = 0


@attrs.frozen(cache_hash=True)
class Deployment:
    """Upstream: apps/v1 Deployment; ``strategy`` is spec.strategy.type, "RollingUpdate" (maxSurge/maxUnavailable
    as int or "N%") or "Recreate"."""

    meta: Meta
    replicas: int
    selector: LabelSelector
    template: PodTemplate
    max_surge: int | str = "25%"
    max_unavailable: int | str = "25%"
    revision_history_limit: int = 10
    min_ready_seconds: int = 0
    paused: bool = False
    status: DeploymentStatus = DeploymentStatus()
    strategy: str = "RollingUpdate"


JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
"""The finalizer the Job controller puts on every pod it creates and removes once it has counted the pod."""
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


@attrs.frozen(cache_hash=True)
class JobStatus:
    """Upstream: batch/v1 JobStatus. ``uncounted_succeeded`` / ``uncounted_failed`` are
    status.uncountedTerminatedPods, by pod *name* rather than uid: the reductions renumber uids, and a Job's pod
    keeps its name (the tracking finalizer keeps the pod) until it is counted. ``condition`` is "" (running),
    "Complete" or "Failed" (the Complete or Failed condition True), ``reason`` the Failed condition's reason."""

    active: int = 0
    succeeded: int = 0
    failed: int = 0
    uncounted_succeeded: tuple[str, ...] = ()
    uncounted_failed: tuple[str, ...] = ()
    condition: str = ""
    reason: str = ""


@attrs.frozen(cache_hash=True)
class Job:
    """Upstream: batch/v1 Job, completionMode NonIndexed. The selector is the ``batch.kubernetes.io/job-name``
    label (upstream selects on controller-uid, which holds a uid; names are unique in the model)."""

    meta: Meta
    template: PodTemplate
    parallelism: int = 1
    completions: int | None = 1
    backoff_limit: int = 6
    restart_policy: str = "Never"
    status: JobStatus = JobStatus()
    ttl_seconds_after_finished: int | None = None
    """spec.ttlSecondsAfterFinished (``spec.controllers.ttlafterfinished``); None: kept for ever."""


CRONJOB_SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
"""batch/v1 CronJobScheduledTimestampAnnotation: the CronJob controller writes each Job's scheduled time (RFC 3339,
in the CronJob's time zone) on the Jobs it creates (``spec.controllers.cronjob``)."""


@attrs.frozen(cache_hash=True)
class CronJobStatus:
    """Upstream: batch/v1 CronJobStatus. ``active`` is status.active (ObjectReferences: each Job's name and uid);
    the times are ms since the Unix epoch (None: unset)."""

    active: tuple[tuple[str, int], ...] = attrs.field(default=(), metadata=holds(("seq", ("tuple", None, UID))))
    last_schedule_time: int | None = None
    last_successful_time: int | None = None


@attrs.frozen(cache_hash=True)
class CronJob:
    """Upstream: batch/v1 CronJob (``spec.controllers.cronjob``). ``creation_ms`` is metadata.creationTimestamp (ms
    since the Unix epoch: the schedule counts from it); the Job template's fields are the Job's own (``Job``), its
    labels and annotations ``job_labels`` / ``job_annotations``; the history limits default to 3 and 1
    (SetDefaults_CronJob)."""

    meta: Meta
    schedule: str
    template: PodTemplate
    creation_ms: int = 0
    time_zone: str | None = None
    concurrency_policy: str = "Allow"
    suspend: bool = False
    starting_deadline_seconds: int | None = None
    successful_jobs_history_limit: int | None = 3
    failed_jobs_history_limit: int | None = 1
    parallelism: int = 1
    completions: int | None = 1
    backoff_limit: int = 6
    restart_policy: str = "Never"
    ttl_seconds_after_finished: int | None = None
    job_labels: Pairs = ()
    job_annotations: Pairs = ()
    status: CronJobStatus = CronJobStatus()


STATEFULSET_POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


@attrs.frozen(cache_hash=True)
class StatefulSetStatus:
    """Upstream: apps/v1 StatefulSetStatus (the revisions and conditions left out: no rolling update is modelled)."""

    observed_generation: int = 0
    replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0


@attrs.frozen(cache_hash=True)
class StatefulSet:
    """Upstream: apps/v1 StatefulSet: pods ``NAME-0`` .. ``NAME-(replicas-1)``, created and deleted in order
    ("OrderedReady") or all at once ("Parallel") by ``spec.controllers.statefulset``."""

    meta: Meta
    replicas: int
    selector: LabelSelector
    template: PodTemplate
    service_name: str = ""
    pod_management_policy: str = "OrderedReady"
    min_ready_seconds: int = 0
    status: StatefulSetStatus = StatefulSetStatus()
    volume_claim_templates: tuple[PersistentVolumeClaim, ...] = ()
    """spec.volumeClaimTemplates: each replica gets the claim ``TEMPLATE-SET-ORDINAL`` made from each, created before
    its pod (``spec.controllers.statefulset``); persistentVolumeClaimRetentionPolicy is Retain (the default): the
    claims stay when pods or the set go."""


@attrs.frozen(cache_hash=True)
class PodDisruptionBudgetStatus:
    """Upstream: policy/v1 PodDisruptionBudgetStatus. ``disrupted_pods`` are the names of the pods whose eviction
    the API server granted and the disruption controller has not yet seen deleted (the DisruptedPods map; its
    timestamps are abstracted: see ``spec.controllers.disruption``)."""

    observed_generation: int = 0
    disrupted_pods: tuple[str, ...] = ()
    disruptions_allowed: int = 0
    current_healthy: int = 0
    desired_healthy: int = 0
    expected_pods: int = 0


@attrs.frozen(cache_hash=True)
class PodDisruptionBudget:
    """Upstream: policy/v1 PodDisruptionBudget: minAvailable or maxUnavailable, each an integer or "N%"."""

    meta: Meta
    selector: LabelSelector
    min_available: int | str | None = None
    max_unavailable: int | str | None = None
    status: PodDisruptionBudgetStatus = PodDisruptionBudgetStatus()


CONTROLLER_REVISION_HASH = "controller-revision-hash"
"""apps/v1 ControllerRevisionHashLabelKey (DefaultDaemonSetUniqueLabelKey): the DaemonSet controller labels each pod
it creates with the hash of the template it was made from (``spec.controllers.daemonset``)."""


@attrs.frozen(cache_hash=True)
class DaemonSetStatus:
    """Upstream: apps/v1 DaemonSetStatus (collisionCount and the conditions left out: no ControllerRevision objects
    are modelled, ``spec.controllers.daemonset``)."""

    observed_generation: int = 0
    desired_number_scheduled: int = 0
    current_number_scheduled: int = 0
    number_misscheduled: int = 0
    number_ready: int = 0
    updated_number_scheduled: int = 0
    number_available: int = 0
    number_unavailable: int = 0


@attrs.frozen(cache_hash=True)
class DaemonSet:
    """Upstream: apps/v1 DaemonSet: one pod per eligible node (``spec.controllers.daemonset``). ``update_strategy``
    is spec.updateStrategy.type, "RollingUpdate" (maxUnavailable and maxSurge, each an int or "N%") or "OnDelete"."""

    meta: Meta
    selector: LabelSelector
    template: PodTemplate
    update_strategy: str = "RollingUpdate"
    max_unavailable: int | str = 1
    max_surge: int | str = 0
    min_ready_seconds: int = 0
    revision_history_limit: int = 10
    status: DaemonSetStatus = DaemonSetStatus()
    host_network: bool = False
    """spec.template.spec.hostNetwork (the controller adds the network-unavailable toleration)."""



# --- Services and EndpointSlices (``spec.services``, ``spec.controllers.endpointslice_controller``) ---------------


@attrs.frozen(cache_hash=True)
class ServicePort:
    """Upstream: core/v1 ServicePort (``target_port`` a number or the name of a container port, which the
    EndpointSlice controller resolves per pod; nodePort 0 when the Service is not of type NodePort or
    LoadBalancer)."""

    name: str
    port: int
    target_port: int | str
    protocol: str = "TCP"
    node_port: int = 0


@attrs.frozen(cache_hash=True)
class Service:
    """Upstream: core/v1 Service. ``selector`` None: no selector (endpoints written by hand, none here);
    ``cluster_ip`` "" until the API server allocates one, "None" for a headless Service."""

    meta: Meta
    selector: Pairs | None
    ports: tuple[ServicePort, ...]
    type: str = "ClusterIP"
    cluster_ip: str = ""
    publish_not_ready_addresses: bool = False
    external_traffic_policy: str = "Cluster"
    """"Local" (NodePort or LoadBalancer only): external traffic goes to the receiving node's endpoints only."""
    health_check_node_port: int = 0
    """Allocated by the API server from the NodePort range for a LoadBalancer with externalTrafficPolicy Local."""
    internal_traffic_policy: str = "Cluster"
    """"Local": a pod's traffic to the ClusterIP goes to its own node's endpoints only (dropped when there are
    none there)."""
    session_affinity: str = "None"
    """"ClientIP": a client keeps its endpoint for ``sticky_seconds`` (sessionAffinityConfig.clientIP)."""
    sticky_seconds: int = 10800

    @property
    def headless(self) -> bool:
        return self.cluster_ip == "None"

    @property
    def needs_health_check_node_port(self) -> bool:
        """needsHCNodePort (pkg/registry/core/service/storage/alloc.go)."""
        return self.type == "LoadBalancer" and self.external_traffic_policy == "Local"

    @property
    def all_node_ports(self) -> tuple[int, ...]:
        """Every port of the NodePort range this Service holds: its ports' nodePorts and its healthCheckNodePort."""
        held = tuple(p.node_port for p in self.ports if p.node_port)
        return (*held, self.health_check_node_port) if self.health_check_node_port else held


@attrs.frozen(cache_hash=True)
class SliceEndpoint:
    """Upstream: discovery/v1 Endpoint as podToEndpoint builds it (one address; targetRef by pod name: its uid
    is not kept, nothing in the model compares it)."""

    address: str
    ready: bool
    serving: bool
    terminating: bool
    node_name: str = attrs.field(metadata=holds(NODE))
    pod: str


@attrs.frozen(cache_hash=True)
class SlicePort:
    name: str
    port: int
    protocol: str = "TCP"


@attrs.frozen(cache_hash=True)
class EndpointSlice:
    """Upstream: discovery/v1 EndpointSlice (addressType IPv4; labels kubernetes.io/service-name and
    endpointslice.kubernetes.io/managed-by in ``meta.labels``, the Service as controller owner)."""

    meta: Meta
    endpoints: tuple[SliceEndpoint, ...] = ()
    ports: tuple[SlicePort, ...] = ()
    address_type: str = "IPv4"


@attrs.frozen(cache_hash=True)
class Lease:
    """Upstream: coordination.k8s.io/v1 Lease (staging/src/k8s.io/api/coordination/v1/types.go LeaseSpec), the
    leader election record of client-go's LeaseLock (staging/src/k8s.io/client-go/tools/leaderelection/
    resourcelock/leaselock.go LeaseSpecToLeaderElectionRecord). The MicroTimes are abstracted: no component
    compares them (a candidate compares the whole record with the one it observed, leaderelection.go
    observedRawRecord, and times expiry on its own clock); ``acquire_time`` and ``renew_time`` only change when
    upstream's would: each holds a bit that a write flips (``spec.leaderelection``)."""

    meta: Meta
    holder_identity: str = ""
    lease_duration_seconds: int = 15
    acquire_time: int = 0
    renew_time: int = 0
    lease_transitions: int = 0


FINALIZER_KUBERNETES = "kubernetes"
"""v1.FinalizerKubernetes: the namespace controller's token in a Namespace's spec.finalizers."""
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
"""The namespaces the NamespaceLifecycle admission plugin refuses to delete (pkg/admission/plugin/namespace/lifecycle:
immortalNamespaces), and which the API server creates at start (pkg/controlplane/controller/systemnamespaces)."""


@attrs.frozen(cache_hash=True)
class Namespace:
    """Upstream: core/v1 Namespace (cluster-scoped: ``meta.namespace`` is ""). ``finalizers`` is spec.finalizers (not
    metadata.finalizers): the namespace controller removes ``kubernetes`` once the namespace's content is gone;
    ``phase`` is status.phase, Active or Terminating (set by the API server when the DELETE comes)."""

    meta: Meta
    finalizers: tuple[str, ...] = (FINALIZER_KUBERNETES,)
    phase: str = "Active"


# --- storage: PersistentVolumes, PersistentVolumeClaims, StorageClasses (``spec.controllers.persistentvolume``) ----

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
"""On a claim: the PV controller finished binding it (pkg/controller/volume/persistentvolume/util: AnnBindCompleted)."""
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
"""On a claim or volume: the binding was made by the controller (or the scheduler), not pre-bound by the user."""
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
"""On a claim of a WaitForFirstConsumer class: the node the scheduler chose for its first consumer (the model keeps
it in ``PersistentVolumeClaim.selected_node``, a field declared to hold a node name)."""
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
"""On a claim: the provisioner the PV controller asks to provision it (and the beta key beside it)."""
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_DYNAMICALLY_PROVISIONED = "pv.kubernetes.io/provisioned-by"
"""On a volume: the provisioner that created it (and that deletes it under reclaimPolicy Delete)."""
FINALIZER_PVC_PROTECTION = "kubernetes.io/pvc-protection"
"""The finalizer the StorageObjectInUseProtection admission plugin puts on every new claim; the PVC protection
controller removes it once no pod uses the claim (``spec.controllers.pvcprotection``)."""
NO_PROVISIONER = "kubernetes.io/no-provisioner"
"""A StorageClass's provisioner for static volumes only (local volumes: nothing provisions)."""


@attrs.frozen(cache_hash=True)
class ClaimRef:
    """Upstream: a PersistentVolume's spec.claimRef (core/v1 ObjectReference to a claim); ``uid`` 0: pre-bound by
    name only (the user's claimRef without a uid)."""

    namespace: str
    name: str
    uid: int = attrs.field(default=0, metadata=holds(UID))


@attrs.frozen(cache_hash=True)
class PersistentVolumeStatus:
    """Upstream: core/v1 PersistentVolumeStatus: phase Pending, Available, Bound, Released or Failed."""

    phase: str = "Pending"


@attrs.frozen(cache_hash=True)
class PersistentVolume:
    """Upstream: core/v1 PersistentVolume (cluster-scoped). ``capacity`` is spec.capacity.storage in bytes;
    ``node_affinity`` the required nodeSelectorTerms of spec.nodeAffinity (None: reachable from every node); the
    volume source itself (local, csi, hostPath, ...) is abstracted away."""

    meta: Meta
    capacity: int
    access_modes: tuple[str, ...]
    storage_class: str = ""
    reclaim_policy: str = "Retain"
    claim_ref: ClaimRef | None = None
    node_affinity: tuple[NodeSelectorTerm, ...] | None = None
    status: PersistentVolumeStatus = PersistentVolumeStatus()
    hostnames: tuple[str, ...] | None = attrs.field(default=None, metadata=holds(("seq", NODE)))
    """spec.nodeAffinity when it is the one term ``kubernetes.io/hostname In [...]`` (a local volume's, the
    provisioner's for a selected node), as the node names it allows (``node_affinity`` is then None): a field
    declared to hold node names (``spec.idfields``)."""


@attrs.frozen(cache_hash=True)
class PersistentVolumeClaimStatus:
    """Upstream: core/v1 PersistentVolumeClaimStatus: phase Pending, Bound or Lost, and the bound volume's
    capacity (bytes; 0 when unbound)."""

    phase: str = "Pending"
    capacity: int = 0


@attrs.frozen(cache_hash=True)
class PersistentVolumeClaim:
    """Upstream: core/v1 PersistentVolumeClaim. ``request`` is spec.resources.requests.storage in bytes;
    ``storage_class`` spec.storageClassName ("" asks for a volume of no class); ``volume_name`` spec.volumeName."""

    meta: Meta
    access_modes: tuple[str, ...]
    request: int
    storage_class: str = ""
    volume_name: str = ""
    status: PersistentVolumeClaimStatus = PersistentVolumeClaimStatus()
    selected_node: str = attrs.field(default="", metadata=holds(NODE))
    """The volume.kubernetes.io/selected-node annotation ("" when absent): the scheduler's choice of node for a
    claim of a WaitForFirstConsumer class (``spec.scheduling.volumebinding``)."""


@attrs.frozen(cache_hash=True)
class StorageClass:
    """Upstream: storage.k8s.io/v1 StorageClass (cluster-scoped): the provisioner, the reclaimPolicy of the volumes
    it provisions (default Delete) and the volumeBindingMode (Immediate or WaitForFirstConsumer)."""

    meta: Meta
    provisioner: str
    reclaim_policy: str = "Delete"
    volume_binding_mode: str = "Immediate"


# --- HorizontalPodAutoscalers (``spec.controllers.podautoscaler``) ------------------------------------------------


@attrs.frozen(cache_hash=True)
class ResourceMetric:
    """Upstream: autoscaling/v2 MetricSpec of type Resource (the only metric source modelled): the resource ("cpu"
    or "memory") and its MetricTarget, ``target_type`` "Utilization" (``value``: averageUtilization, a percentage
    of the pods' requests) or "AverageValue" (``value``: averageValue in milli-units, as Quantity.MilliValue)."""

    name: str
    target_type: str
    value: int


@attrs.frozen(cache_hash=True)
class ScalingPolicy:
    """Upstream: autoscaling/v2 HPAScalingPolicy: ``type`` "Pods" or "Percent", ``value``, ``period_seconds``."""

    type: str
    value: int
    period_seconds: int


@attrs.frozen(cache_hash=True)
class ScalingRules:
    """Upstream: autoscaling/v2 HPAScalingRules, defaulted (pkg/apis/autoscaling/v2/defaults.go
    GenerateHPAScaleUpRules, GenerateHPAScaleDownRules): ``stabilization_window_seconds`` None is the scale-down
    rules' default (the controller's --horizontal-pod-autoscaler-downscale-stabilization, 300 s)."""

    stabilization_window_seconds: int | None
    select_policy: str
    policies: tuple[ScalingPolicy, ...]


@attrs.frozen(cache_hash=True)
class HPABehavior:
    """Upstream: autoscaling/v2 HorizontalPodAutoscalerBehavior, both rules defaulted."""

    scale_up: ScalingRules
    scale_down: ScalingRules


@attrs.frozen(cache_hash=True)
class HPACondition:
    """Upstream: autoscaling/v2 HorizontalPodAutoscalerCondition (lastTransitionTime omitted)."""

    type: str
    status: str
    reason: str
    message: str


@attrs.frozen(cache_hash=True)
class MetricStatus:
    """Upstream: autoscaling/v2 MetricStatus of a Resource metric: its current averageUtilization (None for an
    AverageValue target) and averageValue (milli-units)."""

    name: str
    utilization: int | None
    average_value: int


@attrs.frozen(cache_hash=True)
class HPAStatus:
    """Upstream: autoscaling/v2 HorizontalPodAutoscalerStatus. ``last_scale_time`` says whether lastScaleTime is set
    (its value is not kept: nothing reads it, and a time would make every state new; so two rescales in a row that
    leave the same status write it once, where upstream's new time writes it each time)."""

    current_replicas: int = 0
    desired_replicas: int = 0
    last_scale_time: bool = False
    current_metrics: tuple[MetricStatus, ...] = ()
    conditions: tuple[HPACondition, ...] = ()


@attrs.frozen(cache_hash=True)
class HorizontalPodAutoscaler:
    """Upstream: autoscaling/v2 HorizontalPodAutoscaler (``spec.controllers.podautoscaler``): the scale target
    (``target_kind`` Deployment, ReplicaSet or StatefulSet of group apps or ReplicationController of the core group,
    ``target_name``), minReplicas (defaulted to 1), maxReplicas, the Resource metrics (defaulted to cpu at 80%
    utilization) and the behavior (None when unset: the controller then uses its legacy normalization)."""

    meta: Meta
    target_kind: str
    target_name: str
    max_replicas: int
    min_replicas: int = 1
    metrics: tuple[ResourceMetric, ...] = ()
    behavior: HPABehavior | None = None
    status: HPAStatus = HPAStatus()


Object = (Pod | Node | ReplicaSet | Deployment | StatefulSet | PodDisruptionBudget | Service | EndpointSlice | Job
          | Namespace | Lease | DaemonSet | PersistentVolume | PersistentVolumeClaim | StorageClass
          | HorizontalPodAutoscaler | CronJob | ReplicationController)

RESOURCE = {Pod: "pods", Node: "nodes", ReplicaSet: "replicasets", Deployment: "deployments",
            StatefulSet: "statefulsets", PodDisruptionBudget: "poddisruptionbudgets", Service: "services",
            EndpointSlice: "endpointslices", Job: "jobs", Namespace: "namespaces", Lease: "leases",
            DaemonSet: "daemonsets", PersistentVolume: "persistentvolumes",
            PersistentVolumeClaim: "persistentvolumeclaims", StorageClass: "storageclasses", CronJob: "cronjobs"}
KIND = {Pod: "Pod", Node: "Node", ReplicaSet: "ReplicaSet", Deployment: "Deployment", StatefulSet: "StatefulSet",
        PodDisruptionBudget: "PodDisruptionBudget", Service: "Service", EndpointSlice: "EndpointSlice", Job: "Job",
        Namespace: "Namespace", Lease: "Lease", DaemonSet: "DaemonSet", PersistentVolume: "PersistentVolume",
        PersistentVolumeClaim: "PersistentVolumeClaim", StorageClass: "StorageClass"}
RESOURCE[HorizontalPodAutoscaler] = "horizontalpodautoscalers"
KIND[HorizontalPodAutoscaler] = "HorizontalPodAutoscaler"
KIND[CronJob] = "CronJob"
RESOURCE[ReplicationController] = "replicationcontrollers"
KIND[ReplicationController] = "ReplicationController"
GROUP = {
    "pods": "", "nodes": "", "services": "", "endpoints": "", "events": "", "namespaces": "", "configmaps": "",
    "secrets": "", "persistentvolumeclaims": "", "persistentvolumes": "", "serviceaccounts": "",
    "replicationcontrollers": "",
    "replicasets": "apps", "deployments": "apps", "statefulsets": "apps", "daemonsets": "apps",
    "controllerrevisions": "apps",
    "poddisruptionbudgets": "policy",
    "endpointslices": "discovery.k8s.io",
    "leases": "coordination.k8s.io",
    "jobs": "batch", "cronjobs": "batch",
    "horizontalpodautoscalers": "autoscaling",
    "ingresses": "networking.k8s.io", "networkpolicies": "networking.k8s.io",
    "priorityclasses": "scheduling.k8s.io",
    "storageclasses": "storage.k8s.io",
}
"""The API group of each built-in resource ("": the core group), as each group registers its kinds
(staging/src/k8s.io/api/<group>/<version>/register.go: GroupName). Every resource of ``RESOURCE`` has one
(tests/spec/test_spec_apiserver.py checks it), so a new kind cannot be named without its group."""


def qualified_resource(resource: str) -> str:
    """``schema.GroupResource.String()``: "pods", "deployments.apps", "leases.coordination.k8s.io" (the name the
    NotFound, AlreadyExists and Conflict errors give: staging/src/k8s.io/apimachinery/pkg/api/errors/errors.go)."""
    group = GROUP[resource]
    return f"{resource}.{group}" if group else resource


def qualified_kind(obj: Object) -> str:
    """``schema.GroupKind.String()``: "Pod", "Deployment.apps" (the name an Invalid error gives: ``NewInvalid``)."""
    group = GROUP[RESOURCE[type(obj)]]
    return f"{KIND[type(obj)]}.{group}" if group else KIND[type(obj)]


def object_key(obj: Object) -> Key:
    return key_of(RESOURCE[type(obj)], obj.meta.namespace, obj.meta.name)


def replace_meta(obj: Object, meta: Meta) -> Object:
    """``obj`` with another metadata (a fast ``attrs.evolve``: states are rebuilt millions of times)."""
    if type(obj) is Pod:
        return Pod(meta, obj.containers, obj.info, obj.status, obj.scheduler_name, obj.restart_policy)
    if type(obj) is ReplicaSet:
        return ReplicaSet(meta, obj.replicas, obj.selector, obj.template, obj.min_ready_seconds, obj.status)
    if type(obj) is ReplicationController:
        return ReplicationController(meta, obj.replicas, obj.selector, obj.template, obj.min_ready_seconds,
                                     obj.status)
    if type(obj) is Deployment:
        return Deployment(meta, obj.replicas, obj.selector, obj.template, obj.max_surge, obj.max_unavailable,
                          obj.revision_history_limit, obj.min_ready_seconds, obj.paused, obj.status, obj.strategy)
    if type(obj) is Job:
        return Job(meta, obj.template, obj.parallelism, obj.completions, obj.backoff_limit, obj.restart_policy,
                   obj.status, obj.ttl_seconds_after_finished)
    if type(obj) is StatefulSet:
        return StatefulSet(meta, obj.replicas, obj.selector, obj.template, obj.service_name,
                           obj.pod_management_policy, obj.min_ready_seconds, obj.status, obj.volume_claim_templates)
    if type(obj) is PodDisruptionBudget:
        return PodDisruptionBudget(meta, obj.selector, obj.min_available, obj.max_unavailable, obj.status)
    if type(obj) is Service:
        return Service(meta, obj.selector, obj.ports, obj.type, obj.cluster_ip, obj.publish_not_ready_addresses,
                       obj.external_traffic_policy, obj.health_check_node_port, obj.internal_traffic_policy,
                       obj.session_affinity, obj.sticky_seconds)
    if type(obj) is EndpointSlice:
        return EndpointSlice(meta, obj.endpoints, obj.ports, obj.address_type)
    if type(obj) is Namespace:
        return Namespace(meta, obj.finalizers, obj.phase)
    if type(obj) is Lease:
        return Lease(meta, obj.holder_identity, obj.lease_duration_seconds, obj.acquire_time, obj.renew_time,
                     obj.lease_transitions)
    if type(obj) is DaemonSet:
        return DaemonSet(meta, obj.selector, obj.template, obj.update_strategy, obj.max_unavailable, obj.max_surge,
                         obj.min_ready_seconds, obj.revision_history_limit, obj.status, obj.host_network)
    if type(obj) is PersistentVolume:
        return PersistentVolume(meta, obj.capacity, obj.access_modes, obj.storage_class, obj.reclaim_policy,
                                obj.claim_ref, obj.node_affinity, obj.status, obj.hostnames)
    if type(obj) is PersistentVolumeClaim:
        return PersistentVolumeClaim(meta, obj.access_modes, obj.request, obj.storage_class, obj.volume_name,
                                     obj.status, obj.selected_node)
    if type(obj) is StorageClass:
        return StorageClass(meta, obj.provisioner, obj.reclaim_policy, obj.volume_binding_mode)
    if type(obj) is HorizontalPodAutoscaler:
        return HorizontalPodAutoscaler(meta, obj.target_kind, obj.target_name, obj.max_replicas, obj.min_replicas,
                                       obj.metrics, obj.behavior, obj.status)
    if type(obj) is CronJob:
        return attrs.evolve(obj, meta=meta)
    assert type(obj) is Node
    return Node(meta, obj.info, obj.ready)


def with_ids(meta: Meta, uid: int, resource_version: int, owner: OwnerRef | None) -> Meta:
    """``meta`` with other uid, resourceVersion and owner (fast path of ``attrs.evolve``)."""
    return Meta(meta.name, meta.namespace, uid, resource_version, meta.generation, meta.labels, meta.annotations,
                owner, meta.deleting, meta.finalizers, meta.generate_name)


def with_meta(obj: Object, **changes: object) -> Object:
    """``obj`` with some metadata fields changed (a fast ``attrs.evolve`` of its meta)."""
    m = obj.meta
    fields = {"name": m.name, "namespace": m.namespace, "uid": m.uid, "resource_version": m.resource_version,
              "generation": m.generation, "labels": m.labels, "annotations": m.annotations, "owner": m.owner,
              "deleting": m.deleting, "finalizers": m.finalizers, "generate_name": m.generate_name}
    fields.update(changes)
    return replace_meta(obj, Meta(**fields))  # type: ignore[arg-type]


# --- etcd and the watch history -----------------------------------------------------------------------------


@attrs.frozen(cache_hash=True)
class WatchEvent:
    """One entry of the API server's watch history (upstream: watch.Event; the watch cache's watchCacheEvent
    keeps the previous object too, which the stale reads of ``spec.informer`` need)."""

    rv: int = attrs.field(metadata=holds(REVISION))
    type: EventType
    key: Key = attrs.field(metadata=holds(KEY))
    obj: Object | None
    prev: Object | None


@attrs.frozen(cache_hash=True)
class Etcd:
    """etcd behind the API server: the global revision, the objects, the watch history since compaction.

    ``compacted`` is the newest revision no longer in the history: a watch from a revision below it is answered
    "410 Gone" (upstream: staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go, "too old resource
    version"). ``next_uid`` is the uid counter (uids only need to be unique and ordered).
    """

    revision: int = attrs.field(metadata=holds(REVISION))
    objects: immutables.Map[Key, Object] = attrs.field(metadata=holds(("map", KEY, OBJ)))
    history: tuple[WatchEvent, ...] = ()
    compacted: int = attrs.field(default=0, metadata=holds(REVISION))
    next_uid: int = attrs.field(default=1, metadata=holds(NEXT_UID))

    def get(self, key: Key) -> Object | None:
        return self.objects.get(key)

    def of(self, resource: str) -> Iterator[Object]:
        prefix = resource + "/"
        for key, obj in self.objects.items():
            if key.startswith(prefix):
                yield obj


@attrs.frozen(cache_hash=True)
class ApiServers:
    """Several kube-apiserver replicas in front of the one etcd (the scenario's ``spec.apiServers``; ``spec.
    kube_apiserver``): the revision each one's watch cache has reached, and which API server each client process
    is connected to. None in ``ClusterState`` when there is one API server (its cache is etcd's history itself).

    Upstream: staging/src/k8s.io/apiserver/pkg/storage/cacher (each kube-apiserver has its own Cacher, fed by its
    own watch on etcd, so each one's cache lags on its own)."""

    caches: tuple[int, ...] = attrs.field(metadata=holds(("seq", REVISION)))
    """Per API server (index 0..n-1): the revision its watch cache has caught up to (<= etcd's)."""
    clients: tuple[tuple[str, int], ...] = ()
    """(process name, API server index), sorted: the API server each client process that failed over talks to
    (the others are where the load balancer first spread them: ``spec.watchcache.slot_servers``). Process names
    carry node names ("kubelet/node-a"): node symmetry is off with several API servers
    (``spec.model.applicable``)."""

    def server_of(self, process: str, default: int = 0) -> int:
        """The API server ``process`` talks to (``default`` when it has not failed over)."""
        for name, index in self.clients:
            if name == process:
                return index
        return default


# --- informers and components -------------------------------------------------------------------------------


@attrs.frozen(cache_hash=True)
class Informer:
    """A reflector + store (client-go tools/cache): the revision it has synced to and its cache.

    ``expired`` means its watch was answered 410 Gone (or broke with the API server) and it must relist.
    ``high_water`` is a history variable: the highest revision this component ever observed, across restarts;
    it only feeds the ResourceVersionMonotonic property.

    A watching informer's cache is its view of etcd as of ``rv`` (``spec.informer.cache_at``; a test checks it
    after every step), so two states that agree on etcd and on the positions agree on the caches; the reduction
    layer rebuilds representatives' caches from one memo so that they compare by identity
    (``spec.reduction.canonical``). Equality is attrs' own: the cache counts.
    """

    rv: int = attrs.field(metadata=holds(REVISION))
    cache: immutables.Map[Key, Object] = attrs.field(metadata=holds(("map", KEY, OBJ)))
    expired: bool = False
    high_water: int = attrs.field(default=0, metadata=holds(REVISION))


@attrs.frozen(cache_hash=True)
class Timer:
    """A pending timer: what fires, and how much logical time (ms) remains (see ``spec.clock``)."""

    name: str
    remaining: int


@attrs.frozen(cache_hash=True)
class Expectation:
    """Upstream: pkg/controller/controller_utils.go ControlleeExpectations + UIDTrackingControllerExpectations."""

    add: int
    deletes: frozenset[Key]
    timer: int
    """Remaining ms before the expectation expires (ExpectationsTimeout = 5 min)."""


@attrs.frozen(cache_hash=True)
class WorkQueue:
    """Upstream: staging/src/k8s.io/client-go/util/workqueue (rate-limiting queue): de-duplicated keys, keys
    waiting out their backoff (with the remaining ms), and per-key failure counts.

    The queue is kept sorted, as a set: several workers pop keys (any queued key may be reconciled next), so the
    FIFO order decides nothing that the model does not already explore."""

    queue: tuple[Key, ...] = ()
    waiting: tuple[tuple[Key, int], ...] = ()
    failures: tuple[tuple[Key, int], ...] = ()

    def add(self, key: Key) -> WorkQueue:
        """Add: the key is queued; a backoff it waits out stays pending (the delaying queue's heap is untouched)."""
        if key in self.queue:
            return self
        return WorkQueue(tuple(sorted((*self.queue, key))), self.waiting, self.failures)

    def failure_count(self, key: Key) -> int:
        for k, n in self.failures:
            if k == key:
                return n
        return 0


KCM_RESOURCES = ("deployments", "replicasets", "pods")
_KCM_INDEX = {r: i for i, r in enumerate(KCM_RESOURCES)}
_KCM_SLOTS = tuple(("kcm", i, ("kcm", r)) for i, r in enumerate(KCM_RESOURCES))
_SCHEDULER_SCOPE = ("scheduler", "")
EPS_RESOURCES = ("services", "endpointslices")
"""The EndpointSlice controller's own informers, in this order (its pods are kube-controller-manager's pod
informer's: one shared informer factory)."""
DNS_SCOPE = ("dns", "")


@attrs.frozen(cache_hash=True)
class ControllerManager:
    """kube-controller-manager: the shared informer factory's informers (one per resource, each with its own
    watch: Deployments, ReplicaSets, Pods), the ReplicaSet and the Deployment controllers' work queues, and the
    ReplicaSet controller's expectations. All of it is lost in a crash (upstream: cmd/kube-controller-manager,
    staging/src/k8s.io/client-go/informers/factory.go, pkg/controller/replicaset, pkg/controller/deployment)."""

    informers: tuple[Informer, ...]
    rs_queue: WorkQueue = WorkQueue()
    deploy_queue: WorkQueue = WorkQueue()
    expectations: immutables.Map[Key, Expectation] = immutables.Map()

    def with_rs_queue(self, queue: WorkQueue) -> ControllerManager:
        """A fast ``attrs.evolve(self, rs_queue=queue)`` (``self`` when ``queue`` is the same)."""
        if queue is self.rs_queue:
            return self
        return ControllerManager(self.informers, queue, self.deploy_queue, self.expectations)

    def with_deploy_queue(self, queue: WorkQueue) -> ControllerManager:
        """A fast ``attrs.evolve(self, deploy_queue=queue)`` (``self`` when ``queue`` is the same)."""
        if queue is self.deploy_queue:
            return self
        return ControllerManager(self.informers, self.rs_queue, queue, self.expectations)

    def get(self, key: Key) -> Object | None:
        """The cached object at ``key`` (from the informer of its resource)."""
        return self.informers[_KCM_INDEX[key.split("/", 1)[0]]].cache.get(key)

    def objects(self, resource: str) -> Iterator[Object]:
        return iter(self.informers[_KCM_INDEX[resource]].cache.values())

    def cached(self) -> Iterator[tuple[Key, Object]]:
        for inf in self.informers:
            yield from inf.cache.items()


@attrs.frozen(cache_hash=True)
class QueuedPod:
    """A pod in the scheduling queue (upstream: framework.QueuedPodInfo).

    ``where`` is "active", "backoff" or "unschedulable"; ``attempts`` counts failed attempts (capped where the
    backoff saturates); ``plugins`` are the filters that rejected it (UnschedulablePlugins); ``backoff`` and
    ``flush`` are the remaining ms of its backoff and of podMaxInUnschedulablePodsDuration (0 = not running).
    """

    key: Key
    uid: int = attrs.field(metadata=holds(UID))
    where: str
    attempts: int = 0
    plugins: frozenset[str] = frozenset()
    backoff: int = 0
    flush: int = 0


@attrs.frozen(cache_hash=True)
class Scheduler:
    """kube-scheduler: its informer (Pods, Nodes), the scheduling queue, the assume cache and in-flight binds.
    Upstream: pkg/scheduler/schedule_one.go, backend/queue/scheduling_queue.go, backend/cache/cache.go."""

    name: str
    informer: Informer
    queue: tuple[QueuedPod, ...] = ()
    assumed: immutables.Map[Key, tuple[int, str]] = attrs.field(
        default=immutables.Map(), metadata=holds(("map", None, ("tuple", UID, NODE))))
    """pod key -> (uid, node): assumed on a node, until the informer shows it bound."""
    binding: tuple[tuple[Key, int, str], ...] = attrs.field(
        default=(), metadata=holds(("set", ("tuple", None, UID, NODE))))
    """Binding cycles in flight: (pod key, uid, node)."""


@attrs.frozen(cache_hash=True)
class RuntimeContainer:
    """A container in a node's container runtime. ``managed`` containers carry the kubelet's pod labels;
    the kubelet ignores the others (upstream: pkg/kubelet/kuberuntime, containers without io.kubernetes.pod.uid)."""

    pod: Key
    uid: int = attrs.field(metadata=holds(UID))
    name: str
    image: str
    running: bool = True
    managed: bool = True
    ip: str = ""
    """The pod sandbox's address (CNI host-local, ``spec.services``); "" where pod IPs are not modelled."""
    succeeded: bool = False
    """Exited with code 0 (a Job's container that ran to completion); an exited container that did not succeed
    crashed (the ``containerCrashes`` fault)."""


@attrs.frozen(cache_hash=True)
class Kubelet:
    """One node's kubelet (its informer over the pods bound to the node) and container runtime.

    A crashed node (``up`` False) runs nothing: its runtime is empty and its kubelet has no informer; a failed one
    (``failed``) is also down, and for good.
    """

    node: str = attrs.field(metadata=holds(NODE))
    up: bool
    informer: Informer | None
    runtime: frozenset[RuntimeContainer] = frozenset()
    failed: bool = False
    """Down for good (the ``nodeFailures`` fault): it never boots again, so it never renews its Lease."""
    partitioned: bool = False
    """Cut off from the API server (the ``nodePartitions`` fault): up, its containers running, but its kubelet takes
    no step (no watch, no status write, no Lease renewal) until the partition heals and it relists. Its informer
    is dropped meanwhile (``informer`` None): nothing it would do depends on it before the relist."""
    runtime_down: bool = False
    """Its container runtime is down for good (the ``runtimeFailures`` fault): the kubelet runs, watches and
    renews its Lease, reports its node Ready=False, and syncs no pod; the containers keep running (``spec.kubelet``)."""


@attrs.frozen(cache_hash=True)
class Budget:
    """Faults left (the scenario's budgets): faults stop once a budget is spent."""

    controller_manager_crashes: int = 0
    scheduler_crashes: int = 0
    kubelet_restarts: int = 0
    api_server_restarts: int = 0
    container_crashes: int = 0
    node_crashes: int = 0
    node_failures: int = 0
    node_partitions: int = 0
    kube_proxy_restarts: int = 0
    runtime_failures: int = 0
    """A node's container runtime going down for good (``spec.faults``; the scenario's ``runtimeFailures``)."""
    controller_manager_pauses: int = 0
    """Pauses of a kube-controller-manager replica (a long GC pause, a frozen VM): only with leader election
    (``spec.leaderelection``; the scenario's ``spec.leaderElection.pauses``)."""
    lease_renew_failures: int = 0
    """A leader's renewal that fails (the request times out: etcd or the API server overloaded) while its
    controllers keep running (``spec.leaderElection.renewFailures``)."""
    scheduler_pauses: int = 0
    """Pauses of a kube-scheduler replica under leader election (``spec.leaderElection.pauses`` when its
    ``components`` name kube-scheduler)."""
    api_server_partitions: int = 0
    """An API server cut off from its clients (not from etcd): they fail over to another (several API servers:
    ``spec.kube_apiserver``; the scenario's ``spec.faults.apiServerPartitions``)."""


@attrs.frozen(cache_hash=True)
class Ghost:
    """History variables for the properties; no component reads them (TLA+ style auxiliary variables).

    ``rebinds``: pods whose spec.nodeName was changed once set. ``overshoots``: pod creations that found their
    ReplicaSet already at (or above) spec.replicas active pods in etcd.
    """

    rebinds: frozenset[Key] = frozenset()
    overshoots: frozenset[Key] = frozenset()
    pdb_violations: frozenset[Key] = frozenset()
    """PodDisruptionBudgets (keys) that an eviction the API server granted took below what they require
    (``spec.eviction``; the PodDisruptionBudgetRespected property)."""
    disrupted_evictions: frozenset[Key] = frozenset()
    """Pods the taint eviction controller deleted while no zone had a Ready node (NoEvictionWhenAllZonesDisrupted,
    ``spec.lifecycle_properties``)."""
    tolerated_evictions: frozenset[Key] = frozenset()
    """Pods the taint eviction controller deleted although they tolerated every NoExecute taint of their node for
    ever (EvictionOnlyForUntoleratedTaints, ``spec.lifecycle_properties``)."""
    orphaned: frozenset[tuple[int, int]] = attrs.field(default=frozenset(),
                                                       metadata=holds(("seq", ("tuple", UID, UID))))
    """(dependent uid, owner uid) of every ownerReference the garbage collector removed to orphan a dependent
    (attemptToOrphan): OrphansStayOrphaned (``spec.ha_properties``) says the owner never gets it back."""
    daemon_unavailable: frozenset[Key] = frozenset()
    """DaemonSets (keys) whose rolling update deleted an available pod while that left fewer of its eligible nodes
    with an available pod than desiredNumberScheduled - maxUnavailable (``spec.daemonset_properties``)."""


@attrs.frozen(cache_hash=True)
class Readiness:
    """How long each pod's Ready condition has held (its lastTransitionTime, kept as an age: time is relative,
    ``spec.clock``), for the availability minReadySeconds asks for (``spec.controllers.replicaset``,
    ``available``). Present only in scenarios with a ReplicaSet or Deployment whose minReadySeconds is above 0
    (None elsewhere, so those scenarios' states are unchanged).

    ``ages``: pod uid -> (status.restartCount, ms the Ready condition had held at the last Tick), for the pods
    Ready in etcd at the last Tick, saturated at ``cap`` (the largest minReadySeconds in ms, plus 1: beyond it no
    availability changes). ``margin_ms``: what the ReplicaSet controller adds to minReadySeconds when a pod turns
    Ready (1 s today; 0 under the variant that restores the code before kubernetes#42097); ``requeues``: whether
    syncReplicaSet requeues a ReplicaSet whose pods are all ready but not all available (#42097).
    ``stalled``: the ReplicaSets whose status.availableReplicas undercounted their ready pods when the cluster went
    idle, only the informers' resync period being left (a history variable: AvailabilityNeverWaitsForResync)."""

    cap: int
    margin_ms: int = 1_000
    requeues: bool = True
    ages: immutables.Map[int, tuple[int, int]] = attrs.field(factory=immutables.Map,
                                                             metadata=holds(("map", UID, None)))
    stalled: frozenset[Key] = attrs.field(default=frozenset(), metadata=holds(("seq", KEY)))


@attrs.frozen(cache_hash=True)
class NodeLifecycle:
    """The timers of kube-controller-manager's node lifecycle controller and taint eviction controller
    (``spec.controllers.nodelifecycle``), both lost when the controller manager restarts.

    ``grace``: (node, ms) for each node whose heartbeats stopped and which is not yet marked Ready=Unknown: what is
    left of node-monitor-grace-period since its last heartbeat (upstream: nodeHealthData.probeTimestamp;
    0 = expired, the controller's next monitorNodeHealth pass marks it). ``evictions``: (pod key, ms) for each pod
    the taint eviction controller has scheduled for deletion (upstream: the TimedWorkerQueue, keyed by the pod's
    namespace/name; 0 = due). Both are sorted. Neither holds a uid or a revision; the node names in ``grace``
    are why node symmetry is off where nodes can fail (``spec.faults.symmetric_nodes``)."""

    grace: tuple[tuple[str, int], ...] = attrs.field(default=(), metadata=holds(("set", ("tuple", NODE, None))))
    evictions: tuple[tuple[Key, int], ...] = ()
    disrupted: bool = False
    """Master disruption mode: the last pass found every zone fully disrupted (no Ready node anywhere), so the
    controller stopped evicting (upstream: every zoneStates value is FullDisruption; kubernetes#28832)."""


WORKLOAD_RESOURCES = ("statefulsets", "poddisruptionbudgets")
"""The resources of the StatefulSet and disruption controllers' own informers; their pods come from the controller
manager's pod informer (the shared informer factory's)."""


@attrs.frozen(cache_hash=True)
class Drain:
    """A ``kubectl drain NODE`` under way (staging/src/k8s.io/kubectl/pkg/drain): the node is cordoned, and these
    pods (key, uid), listed when it started, are still to be evicted (each retried on 429 TooManyRequests)."""

    command: int
    node: str = attrs.field(metadata=holds(NODE))
    pods: tuple[tuple[Key, int], ...] = attrs.field(metadata=holds(("seq", ("tuple", None, UID))))


@attrs.frozen(cache_hash=True)
class Workloads:
    """kube-controller-manager's StatefulSet and disruption controllers (``spec.controllers.statefulset``,
    ``spec.controllers.disruption``): their informers (StatefulSets, PodDisruptionBudgets; scope ("kcm",
    resource); the pods are the controller manager's pod informer's, shared as upstream's informer factory shares
    it), their work queues, and the user's drains under way. All but the drains are lost when the controller
    manager crashes. None in ``ClusterState`` when a scenario has no StatefulSet, no PodDisruptionBudget and no
    ``kubectl drain``: then nothing changes for the other scenarios."""

    informers: tuple[Informer, ...]
    sts_queue: WorkQueue = WorkQueue()
    pdb_queue: WorkQueue = WorkQueue()
    drains: tuple[Drain, ...] = ()

    def objects(self, resource: str) -> Iterator[Object]:
        return iter(self.informers[WORKLOAD_RESOURCES.index(resource)].cache.values())

    def get(self, key: Key) -> Object | None:
        return self.informers[WORKLOAD_RESOURCES.index(key.split("/", 1)[0])].cache.get(key)


@attrs.frozen(cache_hash=True)
class JobController:
    """kube-controller-manager's Job controller (``spec.controllers.job``): its Job informer (scope ("kcm", "jobs");
    its pods are the controller manager's pod informer's, shared as upstream's informer factory shares it), its
    work queue, its expectations of pod creations and deletions, and the tracking finalizer removals it expects to
    observe (uidTrackingExpectations, by pod key: see ``JobStatus``). None in ``ClusterState`` where the scenario
    has no Job: then nothing changes for the other scenarios. Lost in a controller-manager crash, like the other
    controllers' memory."""

    informer: Informer
    queue: WorkQueue = WorkQueue()
    expectations: immutables.Map[Key, Expectation] = immutables.Map()
    removals: immutables.Map[Key, frozenset[Key]] = immutables.Map()
    written: immutables.Map[Key, JobStatus] = immutables.Map()
    """The status the controller last wrote to each Job, until its Job informer shows it (read-your-own-writes,
    kubernetes#137210: a sync is deferred until then). By value rather than by resourceVersion: only the Job
    controller writes a Job's status, and a value is not renumbered by the reductions."""
    ttl_queue: WorkQueue = WorkQueue()
    """The TTL-after-finished controller's work queue (``spec.controllers.ttlafterfinished``): it reads the same
    shared Job informer. Lost in a controller-manager crash."""
    ttl_left: immutables.Map[Key, int] = immutables.Map()
    """ms left of each finished Job's ttlSecondsAfterFinished, from its finish: it stands for the Job's condition
    lastTransitionTime in etcd, so a controller-manager crash keeps it."""


JOB_SCOPE = ("kcm", "jobs")
"""The Job controller's Job informer's scope (``spec.informer.Scope``)."""


@attrs.frozen(cache_hash=True)
class ReplicationManager:
    """kube-controller-manager's replication manager (``spec.controllers.replication``): the ReplicaSet controller
    built over its own ReplicationController informer (scope ("kcm", "replicationcontrollers"); its pods are the
    controller manager's shared pod informer's), with its own work queue and its own expectations, as
    NewReplicationManager builds it. None in ``ClusterState`` where the scenario has no ReplicationController:
    then nothing changes for the other scenarios. Lost in a controller-manager crash."""

    informer: Informer
    queue: WorkQueue = WorkQueue()
    expectations: immutables.Map[Key, Expectation] = immutables.Map()

    def get(self, key: Key) -> Object | None:
        """The cached ReplicationController at ``key``."""
        return self.informer.cache.get(key)


RC_SCOPE = ("kcm", "replicationcontrollers")
"""The replication manager's ReplicationController informer's scope."""


@attrs.frozen(cache_hash=True)
class CountExpectation:
    """Upstream: pkg/controller/controller_utils.go ControlleeExpectations as the DaemonSet controller uses them
    (ControllerExpectations, not the UID-tracking kind): how many creations and deletions of its pods it still
    expects to observe, and the ms left before they expire (ExpectationsTimeout, 5 min)."""

    add: int
    delete: int
    timer: int


DAEMONSET_RESOURCES = ("daemonsets", "nodes")
"""The DaemonSet controller's own informers, in this order (its pods are the controller manager's pod informer's:
one shared informer factory)."""


VOLUME_RESOURCES = ("persistentvolumes", "persistentvolumeclaims")
"""The PersistentVolume controller's informers, in this order (``spec.controllers.persistentvolume``)."""


@attrs.frozen(cache_hash=True)
class VolumeController:
    """kube-controller-manager's PersistentVolume controller (``spec.controllers.persistentvolume``): its informers
    (PersistentVolumes, PersistentVolumeClaims; scope ("kcm", resource)) and its work queue (upstream's volumeQueue
    and claimQueue as one set of keys: a volume's key is ``persistentvolumes/NAME``, a claim's
    ``persistentvolumeclaims/NS/NAME``). None in ``ClusterState`` where the scenario has no claim and no volume
    (nothing changes for the other scenarios). Lost in a controller-manager crash."""

    informers: tuple[Informer, ...]
    queue: WorkQueue = WorkQueue()

    def get(self, key: Key) -> Object | None:
        return self.informers[VOLUME_RESOURCES.index(key.split("/", 1)[0])].cache.get(key)

    def objects(self, resource: str) -> Iterator[Object]:
        return iter(self.informers[VOLUME_RESOURCES.index(resource)].cache.values())


@attrs.frozen(cache_hash=True)
class DaemonSetController:
    """kube-controller-manager's DaemonSet controller (``spec.controllers.daemonset``): its informers (DaemonSets,
    Nodes; scope ("kcm", resource)), its work queue and its expectations of pod creations and deletions per
    DaemonSet. None in ``ClusterState`` where the scenario has no DaemonSet: then nothing changes for the other
    scenarios. Lost in a controller-manager crash."""

    informers: tuple[Informer, ...]
    queue: WorkQueue = WorkQueue()
    expectations: immutables.Map[Key, CountExpectation] = immutables.Map()


CRONJOB_SCOPE = ("kcm", "cronjobs")
"""The CronJob controller's CronJob informer's scope (its Jobs are the Job controller's informer's: one shared
informer factory)."""


@attrs.frozen(cache_hash=True)
class CronJobController:
    """kube-controller-manager's CronJob controller (``spec.controllers.cronjob``): its CronJob informer (scope
    ("kcm", "cronjobs"); its Jobs are the shared Job informer's, ``JobController.informer``) and its work queue
    (with the AddAfter requeues to each CronJob's next schedule time), lost in a controller-manager crash; and
    what is not the controller's: ``now``, the wall clock (ms since the Unix epoch, capped at ``end``), the
    schedule times still to come within the scenario's bound (``deadlines``: the clock stops at each), and the
    history variables the properties read (``owed``: schedule times reached that must get a Job; ``created``:
    every (CronJob, scheduled time) a Job was created for; ``duplicates``: the pairs created twice). None in
    ``ClusterState`` where the scenario has no CronJob: then nothing changes for the other scenarios."""

    informer: Informer
    queue: WorkQueue = WorkQueue()
    now: int = 0
    end: int = 0
    deadlines: tuple[tuple[Key, int], ...] = ()
    owed: frozenset[tuple[Key, int]] = frozenset()
    created: frozenset[tuple[Key, int]] = frozenset()
    duplicates: frozenset[tuple[Key, int]] = frozenset()
    missed: frozenset[tuple[Key, int]] = frozenset()
    """Owed schedule times still without their Job when a resync period elapsed (12 h and more: too late)."""


AgedValues = tuple[tuple[int, int], ...]
"""(value, age in ms) pairs, oldest last or in upstream's list order: a recommendation or a scale event and how long
ago it was made (the model keeps ages, not times: ``spec.clock``)."""


@attrs.frozen(cache_hash=True)
class PodAutoscaler:
    """kube-controller-manager's HPA controller (``spec.controllers.podautoscaler``) and the load its metrics show.

    The controller's memory, lost in a controller-manager crash: ``queue`` (HPAs whose resync interval elapsed),
    ``waiting`` (each HPA's AddRateLimited: ms left of its 15 s), ``recommendations`` (the unstabilized
    recommendations of each HPA, upstream's in-memory map), ``up_events`` / ``down_events`` (its scale events, in
    upstream's list order), ``scale_age`` (ms since its lastScaleTime, capped: only under the variant
    hpa-forbidden-window, which reads it). The environment: ``load`` (the level of each entry of the scenario's
    ``spec.load``) and ``switches`` (load changes left). History variables (no component reads them; a crash keeps
    them): ``seen`` (the recommendations computed from metrics that can still matter), ``seen_up`` /
    ``seen_down`` (every rescale within the policies' periods), ``written`` (the replicas each HPA last wrote to its
    target) and ``violations`` (a rescale that broke a promise: ``spec.hpa_properties``). None in ``ClusterState``
    where the scenario has no HPA."""

    queue: tuple[Key, ...] = attrs.field(default=(), metadata=holds(("seq", KEY)))
    waiting: tuple[tuple[Key, int], ...] = attrs.field(default=(), metadata=holds(("seq", ("tuple", KEY, None))))
    recommendations: immutables.Map[Key, AgedValues] = attrs.field(default=immutables.Map(),
                                                                   metadata=holds(("map", KEY, None)))
    up_events: immutables.Map[Key, AgedValues] = attrs.field(default=immutables.Map(),
                                                             metadata=holds(("map", KEY, None)))
    down_events: immutables.Map[Key, AgedValues] = attrs.field(default=immutables.Map(),
                                                               metadata=holds(("map", KEY, None)))
    scale_age: immutables.Map[Key, int] = attrs.field(default=immutables.Map(), metadata=holds(("map", KEY, None)))
    load: tuple[tuple[Key, str, tuple[tuple[str, int], ...]], ...] = attrs.field(
        default=(), metadata=holds(("seq", ("tuple", KEY, None, None))))
    """Each ``spec.load`` entry's workload, mode and current level (resource, milli-units)."""
    switches: int = 0
    seen: immutables.Map[Key, AgedValues] = attrs.field(default=immutables.Map(), metadata=holds(("map", KEY, None)))
    seen_up: immutables.Map[Key, AgedValues] = attrs.field(default=immutables.Map(),
                                                           metadata=holds(("map", KEY, None)))
    seen_down: immutables.Map[Key, AgedValues] = attrs.field(default=immutables.Map(),
                                                             metadata=holds(("map", KEY, None)))
    written: immutables.Map[Key, int] = attrs.field(default=immutables.Map(), metadata=holds(("map", KEY, None)))
    violations: frozenset[str] = frozenset()


@attrs.frozen(cache_hash=True)
class PodGC:
    """The pod garbage collector's memory (``spec.controllers.podgc``): its quarantine of node names that bound pods
    name but the API server does not have, each with the ms left of the 40 s quarantine (upstream: the delaying
    nodeQueue of gcOrphaned; 0 = the node is checked on the next pass). Sorted. Lost with the controller manager.
    Holds node names: node symmetry is off where nodes can be deleted (``spec.faults.symmetric_nodes``)."""

    quarantine: tuple[tuple[str, int], ...] = attrs.field(default=(), metadata=holds(("set", ("tuple", NODE, None))))


@attrs.frozen(cache_hash=True)
class EndpointSliceControl:
    """The EndpointSlice controller of kube-controller-manager (``spec.controllers.endpointslice_controller``):
    its informers (Services, EndpointSlices, each its own watch; Pods come from the controller manager's pod
    informer, shared as upstream's informer factory shares it), its work queue of Service keys, and its
    EndpointSliceTracker: per Service, (slice uid, generation) of every slice it wrote, generation -1 for one it
    deleted (upstream: staging/src/k8s.io/endpointslice/endpointslice_tracker.go, deletionExpected)."""

    informers: tuple[Informer, ...]
    queue: tuple[Key, ...] = ()
    tracker: tuple[tuple[Key, tuple[tuple[int, int], ...]], ...] = attrs.field(
        default=(), metadata=holds(("seq", ("tuple", None, ("set", ("tuple", UID, None))))))


@attrs.frozen(cache_hash=True)
class KubeProxy:
    """kube-proxy on one node (``spec.kubeproxy``): its informer (Services and EndpointSlices), the iptables rules
    it installed last (iptables-restore text, one rule a line; () before its first sync), and, only under the
    ``proxy-missed-update`` variant, the proxier's own copy of what its handlers were given (None: the cache)."""

    node: str = attrs.field(metadata=holds(NODE))
    informer: Informer
    rules: tuple[str, ...] = ()
    synced: bool = False
    known: immutables.Map[Key, Object] | None = attrs.field(default=None, metadata=holds(("map", KEY, OBJ)))


@attrs.frozen(cache_hash=True)
class Network:
    """Everything about Services beyond etcd (``spec.services``): the podCIDR the node IPAM controller gave each
    node (sorted (node, CIDR)), the EndpointSlice controller, one kube-proxy per node, CoreDNS's informer, and
    the ClusterIP allocations in flight (only under the ``ip-repair-race`` variant: (Service key, IP, released),
    and the Services to write).
    Empty in scenarios without Services: no step, no state."""

    pod_cidrs: tuple[tuple[str, str], ...] = attrs.field(default=(), metadata=holds(("set", ("tuple", NODE, None))))
    eps: EndpointSliceControl | None = None
    proxies: tuple[KubeProxy, ...] = attrs.field(default=(), metadata=holds(("by", "node", OBJ)))
    dns: Informer | None = None
    allocating: tuple[tuple[Key, str, bool], ...] = ()
    writes: tuple[Service, ...] = ()
    """Under ``ip-repair-race``: the Services whose address is allocated and whose write is still to come."""

    def proxy(self, node: str) -> KubeProxy:
        for p in self.proxies:
            if p.node == node:
                return p
        raise KeyError(node)


@attrs.frozen(cache_hash=True)
class Replica:
    """One kube-controller-manager replica under leader election: its LeaderElector's memory (client-go
    staging/src/k8s.io/client-go/tools/leaderelection/leaderelection.go: observedRecord, observedRawRecord,
    observedTime) and its process (running its controllers, paused). Times are what is left on the replica's own
    clock, in ms (``spec.clock``); a paused replica's clock stands still (``spec.leaderelection``)."""

    name: str
    leading: bool = False
    """OnStartedLeading has run and the process has not exited since: its controllers run (unless paused)."""
    paused: bool = False
    """Frozen (a long GC pause, a stopped VM): it takes no step and its timers stand still."""
    resumed: bool = False
    """Paused and resumed during its current term (the exception upstream's guarantee has: AtMostOneActingLeader)."""
    observed: Lease | None = None
    """The Lease it last got or wrote (observedRecord and observedRawRecord, and LeaseLock's cached object whose
    resourceVersion its next optimistic Update carries); None before it has observed one."""
    expires: int = 0
    """ms until observedTime + leaseDuration on its own clock (0: the observed lease has expired, or none)."""
    retry: int = 0
    """ms until its next tryAcquireOrRenew (0: due now)."""
    deadline: int = 0
    """While leading: ms until its renew round times out (its last success + retryPeriod + renewDeadline); 0: the
    renew deadline has passed."""
    electing: bool = True
    """Its election loop runs (False only under the ``leader-keeps-acting`` variant, once the deadline passed)."""

    incarnation: int = 0
    """Which run of the process this is: its identity is ``<name>_<incarnation>`` (upstream: hostname + "_" + a
    fresh UUID per process), so a restarted replica is another candidate (``spec.leaderelection.restarted``)."""

    @property
    def identity(self) -> str:
        """The elector's identity (resourcelock.ResourceLockConfig.Identity)."""
        return f"{self.name}_{self.incarnation}"

    @property
    def holder(self) -> str:
        """observedRecord.HolderIdentity ("" before it has observed a record)."""
        return "" if self.observed is None else self.observed.holder_identity


@attrs.frozen(cache_hash=True)
class Parked:
    """The controllers of a leading replica that are not in ``ClusterState.kcm`` (``LeaderElection.parked``): its
    informers' caches as they were when it was parked (no delivery reaches them there) and their high-water marks,
    its work queues and expectations. Kept apart from ``Informer`` so that the reductions rewrite the ids of the
    caches (a parked cache is not a view of etcd's history at some revision)."""

    caches: tuple[immutables.Map[Key, Object], ...] = attrs.field(metadata=holds(("seq", ("map", KEY, OBJ))))
    high_water: tuple[int, ...] = attrs.field(metadata=holds(("seq", REVISION)))
    rs_queue: WorkQueue = WorkQueue()
    deploy_queue: WorkQueue = WorkQueue()
    expectations: immutables.Map[Key, Expectation] = immutables.Map()


@attrs.frozen(cache_hash=True)
class LeaderElection:
    """kube-controller-manager's replicas under leader election (``spec.leaderelection``). ``ClusterState.kcm``
    holds the controllers of replica ``active`` (-1: no replica's controllers run; then its informers take no
    deliveries: ``ClusterState.informer_slots``); ``parked`` the controllers of each other replica that leads: one
    paused, or one acting on after another has taken the lease (the overlap upstream allows)."""

    replicas: tuple[Replica, ...]
    active: int = -1
    parked: tuple[Parked | None, ...] = ()
    """Per replica: its controllers when it leads but is not ``active`` (None otherwise)."""
    frozen: int = -1
    """While no replica is ``active``: the paused replica whose other controllers (``spec.controllers.manager.
    Hosted``: their slots of ``ClusterState``) stand frozen in their slots, to run on when it resumes; -1: those
    slots are stopped (nobody's: the next replica to act starts them afresh)."""


@attrs.frozen(eq=False)
class SlotLayout:
    """The names of a state's informer slots (``ClusterState.informer_slots``), one object per distinct layout (a
    layout changes only with the components present: schedulers, kubelets, workloads, Jobs, Services), so that it
    compares and hashes by identity in the per-step memos (``spec.watchcache``).

    ``slots``: (component kind, index, scope) per slot; ``scopes``: the scopes alone; ``owner``: the component
    record that holds each slot ("kcm", "scheduler", "kubelet", "workloads", "jobs", "net"); ``start``: the index
    of each record's first slot; ``position``: each slot's index by its (kind, index)."""

    slots: tuple[tuple[str, int, tuple[str, str]], ...]
    scopes: tuple[tuple[str, str], ...]
    owner: tuple[str, ...]
    start: dict[str, int]
    position: dict[tuple[str, int], int]
    """(component kind, index) -> the slot's index (``informer_slots`` order)."""

    @staticmethod
    def of(schedulers: int, kubelets: tuple[str, ...], workloads: int, jobs: bool, eps: bool,
           proxies: tuple[str, ...], dns: bool, daemonsets: bool = False, volumes: bool = False,
           cronjobs: bool = False, rcs: bool = False) -> SlotLayout:
        slots: list[tuple[str, int, tuple[str, str]]] = list(_KCM_SLOTS)
        owner = ["kcm"] * len(_KCM_SLOTS)
        start = {"kcm": 0}

        def add(record: str, who: str, scopes: list[tuple[str, str]]) -> None:
            start.setdefault(record, len(slots))
            for i, scope in enumerate(scopes):
                slots.append((who, i, scope))
                owner.append(record)

        add("scheduler", "scheduler", [_SCHEDULER_SCOPE] * schedulers)
        add("kubelet", "kubelet", [("kubelet", node) for node in kubelets])
        if workloads >= 0:
            add("workloads", "workloads", [("kcm", r) for r in WORKLOAD_RESOURCES[:workloads]])
        if jobs:
            add("jobs", "jobs", [JOB_SCOPE])
        if eps:
            add("net", "eps", [("eps", r) for r in EPS_RESOURCES])
        if proxies:
            add("net", "proxy", [("proxy", node) for node in proxies])
        if dns:
            add("net", "dns", [DNS_SCOPE])
        if daemonsets:
            add("daemonsets", "daemonsets", [("kcm", r) for r in DAEMONSET_RESOURCES])
        if volumes:
            add("volumes", "volumes", [("kcm", r) for r in VOLUME_RESOURCES])
        if cronjobs:
            add("cronjobs", "cronjobs", [CRONJOB_SCOPE])
        if rcs:
            add("rcs", "rcs", [RC_SCOPE])
        return SlotLayout(tuple(slots), tuple(scope for _, _, scope in slots), tuple(owner), start,
                          {(who, i): n for n, (who, i, _) in enumerate(slots)})


_LAYOUTS: dict[tuple[object, ...], SlotLayout] = {}
"""Every layout met (``ClusterState.layout``): a handful per scenario."""
_ABSENT: Any = object()
_LAST_LAYOUT: list[object] = [None, None, None, None, None, None, None, None, None, None]
"""The components of the last state asked (the kubelets, the number of schedulers, ...) and its layout:
consecutive states mostly share them."""


@attrs.frozen(cache_hash=True)
class ClusterState:
    """The whole cluster: etcd, the components, the clock's timers (held by the components), the user's
    remaining commands and the fault budgets."""

    etcd: Etcd
    kcm: ControllerManager
    schedulers: tuple[Scheduler, ...]
    kubelets: tuple[Kubelet, ...] = attrs.field(metadata=holds(("by", "node", OBJ)))
    pending_commands: frozenset[int]
    budget: Budget
    ghost: Ghost = Ghost()
    lifecycle: NodeLifecycle = NodeLifecycle()
    workloads: Workloads | None = None
    """The StatefulSet and disruption controllers and the drains under way (None: the scenario has none of them)."""
    net: Network = Network()
    podgc: PodGC = PodGC()
    jobs: JobController | None = None
    """The Job controller (None: the scenario has no Job)."""
    leader: LeaderElection | None = None
    """kube-controller-manager's replicas under leader election (None: one replica, no election)."""
    apiservers: ApiServers | None = None
    """Several API servers, each with its own watch cache (None: one API server, ``spec.kube_apiserver``)."""
    scheduler_election: LeaderElection | None = None
    """kube-scheduler's replicas under leader election (None: no election; ``spec.leaderelection``): each replica's
    elector; the replicas' schedulers are ``schedulers`` (one per replica, named by it)."""
    readiness: Readiness | None = None
    """How long each Ready pod has been Ready, for minReadySeconds (None: no workload sets it;
    ``spec.controllers.replicaset``)."""
    daemonsets: DaemonSetController | None = None
    """The DaemonSet controller (None: the scenario has no DaemonSet; ``spec.controllers.daemonset``)."""
    volumes: VolumeController | None = None
    """The PersistentVolume controller (None: the scenario has no claim or volume;
    ``spec.controllers.persistentvolume``)."""
    hpa: PodAutoscaler | None = None
    """The HPA controller and the load (None: the scenario has no HorizontalPodAutoscaler;
    ``spec.controllers.podautoscaler``)."""
    cronjobs: CronJobController | None = None
    """The CronJob controller (None: the scenario has no CronJob; ``spec.controllers.cronjob``)."""
    rcs: ReplicationManager | None = None
    """The replication manager (None: the scenario has no ReplicationController; ``spec.controllers.replication``)."""

    def kubelet(self, node: str) -> Kubelet:
        for k in self.kubelets:
            if k.node == node:
                return k
        raise KeyError(node)

    def with_kubelet(self, kubelet: Kubelet) -> ClusterState:
        return ClusterState(self.etcd, self.kcm, self.schedulers,
                            tuple(kubelet if k.node == kubelet.node else k for k in self.kubelets),
                            self.pending_commands, self.budget, self.ghost,
                            self.lifecycle, self.workloads, self.net, self.podgc, self.jobs, self.leader,
                            self.apiservers, self.scheduler_election, self.readiness, self.daemonsets,
                            self.volumes, self.hpa, self.cronjobs, self.rcs)

    def informer_slots(self) -> list[tuple[str, int, tuple[str, str], Informer | None]]:
        """Every informer: (component kind, index, scope, informer); scope as ``spec.informer.Scope``."""
        return [(*slot, inf) for slot, inf in zip(self.layout().slots, self.informers(), strict=True)]

    def informers(self) -> list[Informer | None]:
        """Every informer in ``informer_slots`` order, without the slots' names (what the per-step plumbing
        reads: ``spec.watchcache.settle``, the representatives; ``layout()`` names the slots)."""
        leader = self.leader
        idle = leader is not None and leader.active < 0  # no controller-manager replica acts: no informer of its
        stopped = idle and leader.frozen < 0  # type: ignore[union-attr]  # ... nor of its other controllers
        out: list[Informer | None] = [None, None, None] if idle else list(self.kcm.informers)
        out += [s.informer for s in self.schedulers]
        out += [k.informer for k in self.kubelets]
        if self.workloads is not None:
            out += [None] * len(self.workloads.informers) if stopped else self.workloads.informers
        if self.jobs is not None:
            out.append(None if stopped else self.jobs.informer)
        net = self.net
        if net.eps is not None:
            out += [None] * len(net.eps.informers) if stopped else net.eps.informers
        if net.proxies:
            out += [p.informer for p in net.proxies]
        if net.dns is not None:
            out.append(net.dns)
        if self.daemonsets is not None:
            out += [None] * len(self.daemonsets.informers) if stopped else self.daemonsets.informers
        if self.volumes is not None:
            out += [None] * len(self.volumes.informers) if stopped else self.volumes.informers
        if self.cronjobs is not None:
            out.append(None if stopped else self.cronjobs.informer)
        if self.rcs is not None:
            out.append(None if stopped else self.rcs.informer)
        return out

    def layout(self) -> SlotLayout:
        """The names of the informer slots (``SlotLayout``; one object per distinct layout)."""
        net, kubelets, schedulers, workloads = self.net, self.kubelets, self.schedulers, self.workloads
        last = _LAST_LAYOUT
        if (last[1] == len(schedulers) and last[2] is net and last[3] is workloads
                and (self.jobs is None) == last[4] and (self.daemonsets is None) == last[6]
                and (self.volumes is None) == last[7] and (self.cronjobs is None) == last[8]
                and (self.rcs is None) == last[9]):
            before: tuple[Kubelet, ...] = last[0]  # type: ignore[assignment]
            if before is kubelets:
                return last[5]  # type: ignore[return-value]
            if len(before) == len(kubelets):  # the kubelets rebuilt (a step, new informers): the same nodes?
                for a, b in zip(before, kubelets, strict=True):
                    if a.node != b.node:
                        break
                else:
                    last[0] = kubelets
                    return last[5]  # type: ignore[return-value]
        key = (len(schedulers), tuple([k.node for k in kubelets]),
               -1 if workloads is None else len(workloads.informers), self.jobs is not None,
               net.eps is not None, tuple([p.node for p in net.proxies]) if net.proxies else (), net.dns is not None,
               self.daemonsets is not None, self.volumes is not None, self.cronjobs is not None, self.rcs is not None)
        layout = _LAYOUTS.get(key)
        if layout is None:
            layout = _LAYOUTS[key] = SlotLayout.of(*key)
        _LAST_LAYOUT[:] = [kubelets, len(schedulers), net, workloads, self.jobs is None, layout,
                           self.daemonsets is None, self.volumes is None, self.cronjobs is None, self.rcs is None]
        return layout

    def with_informer(self, who: str, index: int, inf: Informer) -> ClusterState:
        kcm, schedulers, kubelets = self.kcm, self.schedulers, self.kubelets
        if who == "kcm":
            infs = list(kcm.informers)
            infs[index] = inf
            kcm = ControllerManager(tuple(infs), kcm.rs_queue, kcm.deploy_queue, kcm.expectations)
        elif who == "workloads":
            assert self.workloads is not None
            w = self.workloads
            winfs = list(w.informers)
            winfs[index] = inf
            return self._with(workloads=Workloads(tuple(winfs), w.sts_queue, w.pdb_queue, w.drains))
        elif who == "jobs":
            assert self.jobs is not None
            return self._with(jobs=attrs.evolve(self.jobs, informer=inf))
        elif who == "volumes":
            assert self.volumes is not None
            vinfs = list(self.volumes.informers)
            vinfs[index] = inf
            return self._with(volumes=attrs.evolve(self.volumes, informers=tuple(vinfs)))
        elif who == "daemonsets":
            assert self.daemonsets is not None
            dinfs = list(self.daemonsets.informers)
            dinfs[index] = inf
            return self._with(daemonsets=attrs.evolve(self.daemonsets, informers=tuple(dinfs)))
        elif who == "cronjobs":
            assert self.cronjobs is not None
            return self._with(cronjobs=attrs.evolve(self.cronjobs, informer=inf))
        elif who == "rcs":
            assert self.rcs is not None
            return self._with(rcs=attrs.evolve(self.rcs, informer=inf))
        elif who == "scheduler":
            ss = list(schedulers)
            s = ss[index]
            ss[index] = Scheduler(s.name, inf, s.queue, s.assumed, s.binding)
            schedulers = tuple(ss)
        elif who in ("eps", "proxy", "dns"):
            return self._with(net=with_net_informer(self.net, who, index, inf))
        else:
            ks = list(kubelets)
            k = ks[index]
            ks[index] = Kubelet(k.node, k.up, inf, k.runtime, k.failed, k.partitioned, k.runtime_down)
            kubelets = tuple(ks)
        return ClusterState(self.etcd, kcm, schedulers, kubelets, self.pending_commands, self.budget, self.ghost,
                            self.lifecycle, self.workloads, self.net, self.podgc, self.jobs, self.leader,
                            self.apiservers, self.scheduler_election, self.readiness, self.daemonsets,
                            self.volumes, self.hpa, self.cronjobs, self.rcs)

    def with_informers(self, infs: Sequence[Informer | None], etcd: Etcd | None = None,
                       current: list[Informer | None] | None = None) -> ClusterState:
        """Every informer replaced at once, in ``informer_slots`` order (and etcd, if given). Only the components
        whose informers are other objects are rebuilt. ``current``: ``self.informers()``, when the caller has it.

        (The representatives call it on every state, ``spec.reduction.canonical``: the controller manager's, the
        schedulers' and the kubelets' slots are compared and rebuilt here in place, without the dictionary of
        changes ``with_slots`` takes, the records hash-consed on their new fields (``_kubelet_of``); the others,
        present in fewer scenarios, go through ``_with_records``.)"""
        old = self.informers() if current is None else current
        if len(infs) != len(old):
            raise ValueError(f"{len(infs)} informers for {len(old)} slots")
        kcm, schedulers, kubelets = self.kcm, self.schedulers, self.kubelets
        moved = False
        a, b, c = infs[0], infs[1], infs[2]
        oa, ob, oc = old[0], old[1], old[2]
        if a is not oa or b is not ob or c is not oc:
            moved = True
            # A slot emptied (None: no replica's controllers run) leaves the record alone, as ``with_slots`` does.
            if not ((a is None and oa is not None) or (b is None and ob is not None) or (c is None and oc is not None)):
                ki = kcm.informers
                na, nb, nc = ki[0] if a is oa else a, ki[1] if b is ob else b, ki[2] if c is oc else c
                kcm = _kcm_of((id(na), id(nb), id(nc)), (na, nb, nc), kcm.rs_queue, kcm.deploy_queue,
                              kcm.expectations)
        i = 3
        ss: list[Scheduler] | None = None
        for n, s in enumerate(schedulers):
            inf = infs[i]
            if inf is not old[i]:
                if ss is None:
                    ss = list(schedulers)
                ss[n] = _scheduler_of(id(inf), s.name, inf, s.queue, s.assumed, s.binding)
            i += 1
        ks: list[Kubelet] | None = None
        for n, k in enumerate(kubelets):
            inf = infs[i]
            if inf is not old[i]:
                if ks is None:
                    ks = list(kubelets)
                ks[n] = _kubelet_of(id(inf), k.node, k.up, inf, k.runtime, k.failed, k.partitioned, k.runtime_down)
            i += 1
        rest: dict[int, Informer | None] | None = None
        for j in range(i, len(old)):
            inf = infs[j]
            if inf is not old[j]:
                if rest is None:
                    rest = {}
                rest[j] = inf
        if ss is not None:
            schedulers = tuple(ss)
            moved = True
        if ks is not None:
            kubelets = tuple(ks)
            moved = True
        if rest is not None:
            return self._with_records(kcm, schedulers, kubelets, rest, etcd)
        if not moved:
            return self if etcd is None or etcd is self.etcd else self._with(etcd=etcd)
        return ClusterState(self.etcd if etcd is None else etcd, kcm, schedulers, kubelets,
                            self.pending_commands, self.budget, self.ghost, self.lifecycle, self.workloads, self.net,
                            self.podgc, self.jobs, self.leader, self.apiservers, self.scheduler_election,
                            self.readiness, self.daemonsets, self.volumes, self.hpa, self.cronjobs, self.rcs)

    def with_slots(self, changes: dict[int, Informer | None], etcd: Etcd | None = None) -> ClusterState:
        """The informers of the slots ``changes`` names (index in ``informer_slots`` order) replaced (and etcd,
        if given): only the components that own them are rebuilt."""
        kcm, schedulers, kubelets = self.kcm, self.schedulers, self.kubelets
        n_s = 3 + len(schedulers)
        n_k = n_s + len(kubelets)
        infs: list[Informer | None] | None = None
        ss: list[Scheduler] | None = None
        ks: list[Kubelet] | None = None
        rest: dict[int, Informer | None] | None = None
        kcm_off = False
        for i, inf in changes.items():  # the controller manager's slots, then the schedulers', the kubelets'
            if i < 3:
                if infs is None:
                    infs = list(kcm.informers)
                infs[i] = inf
                kcm_off = kcm_off or inf is None
            elif i < n_s:
                if ss is None:
                    ss = list(schedulers)
                ss[i - 3] = _scheduler_with(ss[i - 3], inf)
            elif i < n_k:
                if ks is None:
                    ks = list(kubelets)
                ks[i - n_s] = _kubelet_with(ks[i - n_s], inf)
            else:
                if rest is None:
                    rest = {}
                rest[i] = inf
        if infs is not None and not kcm_off:  # (a None: no replica's controllers run, the record is left alone)
            kcm = _kcm_with(kcm, tuple(infs))
        if ss is not None:
            schedulers = tuple(ss)
        if ks is not None:
            kubelets = tuple(ks)
        if rest is None:
            return ClusterState(self.etcd if etcd is None else etcd, kcm, schedulers, kubelets,
                                self.pending_commands, self.budget, self.ghost, self.lifecycle, self.workloads,
                                self.net, self.podgc, self.jobs, self.leader, self.apiservers,
                                self.scheduler_election, self.readiness, self.daemonsets, self.volumes, self.hpa,
                                self.cronjobs, self.rcs)
        return self._with_records(kcm, schedulers, kubelets, rest, etcd)

    def _with_records(self, kcm: ControllerManager, schedulers: tuple[Scheduler, ...], kubelets: tuple[Kubelet, ...],
                      changes: dict[int, Informer | None], etcd: Etcd | None) -> ClusterState:
        """``self`` with ``kcm``, ``schedulers`` and ``kubelets`` (their informers already replaced), the informers
        of the other slots ``changes`` names replaced (in the records that own them), and etcd, if given."""
        workloads, jobs, net, daemonsets = self.workloads, self.jobs, self.net, self.daemonsets
        volumes = self.volumes
        cronjobs, rcs = self.cronjobs, self.rcs
        lay = self.layout()
        touched = {lay.owner[i] for i in changes}
        if "workloads" in touched:
            assert workloads is not None
            base = lay.start["workloads"]
            workloads = Workloads(tuple(changes.get(base + n, inf) for n, inf in  # type: ignore[misc]
                                        enumerate(workloads.informers)),
                                  workloads.sts_queue, workloads.pdb_queue, workloads.drains)
        if "jobs" in touched:
            assert jobs is not None
            jobs = attrs.evolve(jobs, informer=changes[lay.start["jobs"]])  # type: ignore[arg-type]
        if "daemonsets" in touched:
            assert daemonsets is not None
            base = lay.start["daemonsets"]
            dinfs = tuple(changes.get(base + n, inf) for n, inf in enumerate(daemonsets.informers))
            daemonsets = attrs.evolve(daemonsets, informers=dinfs)  # type: ignore[arg-type]
        if "volumes" in touched:
            assert volumes is not None
            base = lay.start["volumes"]
            vinfs = tuple(changes.get(base + n, inf) for n, inf in enumerate(volumes.informers))
            volumes = attrs.evolve(volumes, informers=vinfs)  # type: ignore[arg-type]
        if "cronjobs" in touched:
            assert cronjobs is not None
            new_inf = changes[lay.start["cronjobs"]]
            if new_inf is not None:
                cronjobs = attrs.evolve(cronjobs, informer=new_inf)
        if "rcs" in touched:
            assert rcs is not None
            rc_inf = changes[lay.start["rcs"]]
            if rc_inf is not None:
                rcs = attrs.evolve(rcs, informer=rc_inf)
        if "net" in touched:
            base = lay.start["net"]
            infs_net = self.informers()[base:]
            for i, inf in changes.items():
                if i >= base:
                    infs_net[i - base] = inf
            net = with_net_informers(net, infs_net)  # type: ignore[arg-type]
        return ClusterState(self.etcd if etcd is None else etcd, kcm, schedulers, kubelets, self.pending_commands,
                            self.budget, self.ghost, self.lifecycle, workloads, net, self.podgc, jobs, self.leader,
                            self.apiservers, self.scheduler_election, self.readiness, daemonsets, volumes, self.hpa,
                            cronjobs, rcs)

    def _with(self, **changes: object) -> ClusterState:
        """A fast ``attrs.evolve`` (replaced below by ``_fast_with``'s, compiled from the fields: a new slot needs
        no line here)."""
        return attrs.evolve(self, **changes)  # type: ignore[arg-type]

    def with_scheduler(self, scheduler: Scheduler) -> ClusterState:
        return ClusterState(self.etcd, self.kcm,
                            tuple(scheduler if s.name == scheduler.name else s for s in self.schedulers),
                            self.kubelets, self.pending_commands, self.budget, self.ghost,
                            self.lifecycle, self.workloads, self.net, self.podgc, self.jobs, self.leader,
                            self.apiservers, self.scheduler_election, self.readiness, self.daemonsets,
                            self.volumes, self.hpa, self.cronjobs, self.rcs)


@functools.lru_cache(maxsize=1 << 16)
def _kubelet_with(k: Kubelet, inf: Informer | None) -> Kubelet:
    """``k`` with its informer replaced (``ClusterState.with_slots``). Memoised, as a pure function: a step's
    informers are new objects, often equal to ones met before, and equal records that are one object compare and
    hash at once."""
    return Kubelet(k.node, k.up, inf, k.runtime, k.failed, k.partitioned, k.runtime_down)


@functools.lru_cache(maxsize=1 << 16)
def _scheduler_with(s: Scheduler, inf: Informer) -> Scheduler:
    """``s`` with its informer replaced (memoised as ``_kubelet_with``)."""
    return Scheduler(s.name, inf, s.queue, s.assumed, s.binding)


@functools.lru_cache(maxsize=1 << 16)
def _kcm_with(kcm: ControllerManager, informers: tuple[Informer, ...]) -> ControllerManager:
    """``kcm`` with its informers replaced (memoised as ``_kubelet_with``)."""
    return ControllerManager(informers, kcm.rs_queue, kcm.deploy_queue, kcm.expectations)


# The records ``with_informers`` rebuilds, hash-consed: the representatives put the same informers (one object
# per value: ``spec.reduction.canonical.informer_of``) back into the same records over and over, and equal records
# that are one object compare and hash at once. Memoised on the new record's fields, not on (old record, new
# informer) as ``with_slots``' memos are: a look-up then compares the new informer and the parts the record keeps
# (mostly one object with the entry's), never the old informer, which a step built anew and whose cache was
# compared item by item. The key names the new informers by identity too (``ids``; the entry holds them, so their
# ids are not reused while it lives): the record returned holds the very informers given, not equal ones (a
# watching informer's cache is the object ``cache_at`` returns, which ``rederived`` and the plumbing compare by
# identity). Not for ``with_slots``: a step's informers are new objects, which the identity in the key would keep
# apart (and alive). Each is the constructor, memoised as a pure function: only speed depends on it.


@functools.lru_cache(maxsize=1 << 16)
def _kubelet_of(ids: int, node: str, up: bool, inf: Informer | None, runtime: frozenset[RuntimeContainer],
                failed: bool, partitioned: bool, runtime_down: bool) -> Kubelet:
    return Kubelet(node, up, inf, runtime, failed, partitioned, runtime_down)


@functools.lru_cache(maxsize=1 << 16)
def _scheduler_of(ids: int, name: str, inf: Informer, queue: tuple[QueuedPod, ...],
                  assumed: immutables.Map[Key, tuple[int, str]],
                  binding: tuple[tuple[Key, int, str], ...]) -> Scheduler:
    return Scheduler(name, inf, queue, assumed, binding)


@functools.lru_cache(maxsize=1 << 16)
def _kcm_of(ids: tuple[int, ...], informers: tuple[Informer, ...], rs_queue: WorkQueue, deploy_queue: WorkQueue,
            expectations: immutables.Map[Key, Expectation]) -> ControllerManager:
    return ControllerManager(informers, rs_queue, deploy_queue, expectations)


def _fast_with(cls: type[Any]) -> Callable[..., Any]:
    """``cls``'s ``_with(**changes)``: a copy with the named fields replaced, compiled from ``attrs.fields(cls)``
    into one positional call of the constructor (``attrs.evolve`` reads the fields at each call; the hand-written
    version built a dictionary and called the constructor by keywords: 5.9 us a call against 3.8 us)."""
    names = [a.name for a in attrs.fields(cls)]
    keep = object()
    src = (f"def _with(self, *, {', '.join(f'{n}=keep' for n in names)}):\n"
           f"    return cls({', '.join(f'self.{n} if {n} is keep else {n}' for n in names)})\n")
    namespace: dict[str, Any] = {"keep": keep, "cls": cls}
    exec(src, namespace)  # noqa: S102 - code generated from the class's own field names, as attrs does
    fn: Callable[..., Any] = namespace["_with"]
    fn.__doc__ = cls._with.__doc__
    fn.__qualname__ = f"{cls.__qualname__}._with"
    return fn


ClusterState._with = _fast_with(ClusterState)  # type: ignore[method-assign]


def with_net_informer(net: Network, who: str, index: int, inf: Informer) -> Network:
    """``net`` with the informer of slot (``who``, ``index``) replaced (``ClusterState.informer_slots``)."""
    if who == "eps":
        assert net.eps is not None
        infs = list(net.eps.informers)
        infs[index] = inf
        return attrs.evolve(net, eps=attrs.evolve(net.eps, informers=tuple(infs)))
    if who == "proxy":
        ps = list(net.proxies)
        ps[index] = attrs.evolve(ps[index], informer=inf)
        return attrs.evolve(net, proxies=tuple(ps))
    return attrs.evolve(net, dns=inf)


def with_net_informers(net: Network, infs: list[Informer]) -> Network:
    """``net`` with every informer replaced at once, in ``ClusterState.informer_slots`` order."""
    i = 0
    eps = net.eps
    if eps is not None:  # None: absent while no controller-manager replica acts (``informers``), left as it is
        new = tuple(o if n is None else n for o, n in zip(eps.informers, infs[:len(eps.informers)], strict=True))
        i = len(new)
        if any(a is not b for a, b in zip(new, eps.informers, strict=True)):
            eps = attrs.evolve(eps, informers=new)
    proxies = net.proxies
    new_p = infs[i:i + len(proxies)]
    i += len(proxies)
    if any(p.informer is not n for p, n in zip(proxies, new_p, strict=True)):
        proxies = tuple(p if p.informer is n else attrs.evolve(p, informer=n) for p, n in zip(proxies, new_p,
                                                                                              strict=True))
    dns = net.dns if net.dns is None else infs[i]
    if eps is net.eps and proxies is net.proxies and dns is net.dns:
        return net
    return Network(net.pod_cidrs, eps, proxies, dns, net.allocating, net.writes)
