"""Historical bugs, each a switch that restores the old behaviour (the default is today's Kubernetes).

Each variant changes one mechanism, and a scenario without what that mechanism acts on would check today's
Kubernetes under the variant's name: ``Variant.needs`` says what a scenario lacks for a variant to change anything (the
scenario loader turns it into an error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from spec.state import (
    Deployment,
    Node,
    Pod,
    PodDisruptionBudget,
    ReplicaSet,
    ReplicationController,
    Service,
    StatefulSet,
)

if TYPE_CHECKING:
    from spec.model import Config


def _schedules_something(config: Config) -> bool:
    """Some pod can wait for the default scheduler: an unbound Pod, or a ReplicaSet, ReplicationController or
    Deployment that has (or is scaled to) replicas."""
    for o in config.objects:
        if isinstance(o, Pod) and not o.node_name and o.scheduler_name == "default-scheduler":
            return True
        if isinstance(o, ReplicaSet | ReplicationController | Deployment) and o.replicas > 0:
            return True
    return any(c.verb == "scale" and c.replicas > 0 for c in config.commands)


def _needs_expectations(config: Config) -> str | None:
    if any(isinstance(o, ReplicaSet | ReplicationController | Deployment) for o in config.objects):
        return None
    return "a ReplicaSet, a ReplicationController or a Deployment (the ReplicaSet controller's expectations gate " \
        "only its own pods)"


def _needs_scheduling(config: Config) -> str | None:
    if _schedules_something(config):
        return None
    return "a pod for the scheduler (an unbound Pod, or a ReplicaSet or Deployment with replicas)"


def _needs_two_nodes(config: Config) -> str | None:
    if sum(1 for o in config.objects if isinstance(o, Node)) < 2:
        return "two nodes (two schedulers binding one pod to the same node change nothing)"
    return _needs_scheduling(config)


def _needs_stale_restart(config: Config) -> str | None:
    if config.consistency != "stale":
        return f"spec.consistency: stale (this scenario has {config.consistency}: every list is then served " \
            "from etcd, so no relist can be behind)"
    b = config.budget
    if not (b.controller_manager_crashes or b.scheduler_crashes or b.kubelet_restarts):
        return "a restart that relists: spec.faults.controllerManagerCrashes, schedulerCrashes or kubeletRestarts " \
            "of at least 1"
    return None


def _needs_service(config: Config) -> str | None:
    if any(isinstance(o, Service) and o.selector is not None for o in config.objects) or any(
            c.verb in ("expose", "create-service") for c in config.commands):
        return None
    return "a Service with a selector (a Service document or a kubectl expose command)"


def _needs_two_creations(config: Config) -> str | None:
    if sum(1 for c in config.commands if c.verb in ("expose", "create-service") and c.container != "None") >= 2:
        return None
    return "two Services with a ClusterIP created while the cluster runs (kubectl expose or kubectl create " \
        "service): the repair loop can free an address only between an allocation and its Service's write"
def _needs_job(config: Config) -> str | None:
    if any(type(o).__name__ == "Job" for o in config.objects):
        return None
    return "a Job (the Job controller's syncs act only on Jobs)"


def _needs_evictions(config: Config) -> str | None:
    """A budget and something that evicts (a ``kubectl drain``): the PodDisruptionBudget variants act on the race
    between granted evictions and the disruption controller."""
    if not any(isinstance(o, PodDisruptionBudget) for o in config.objects):
        return "a PodDisruptionBudget (the variant changes how its status is kept)"
    if not any(c.verb == "drain" for c in config.commands):
        return "an eviction: a `kubectl drain NODE` in spec.userActions"
    return None


@attrs.frozen
class Variant:
    name: str
    issue: str
    summary: str
    needs: Callable[[Config], str | None] = attrs.field(repr=False, eq=False)
    """What a scenario must have for the variant to change anything: None when it has it, else a description."""
    refuted_on: str = ""
    """The built-in scenario on which ``kubespec check NAME --variant V`` finds the violation (and which holds
    without the variant): ``kubespec list --json`` shows it, and tests/spec/test_lifecycle_list.py checks it."""


VARIANTS = {
    v.name: v
    for v in (
        Variant(
            "no-expectations",
            "kubernetes#7561 (fixed by expectations, #6866)",
            "the ReplicaSet controller ignores its expectations and creates extra pods while its informer lags",
            _needs_expectations,
            "replicaset-one-node",
        ),
        Variant(
            "no-requeue",
            "kubernetes#72122 (a later queue race of the same kind)",
            "a pod that failed to schedule once is dropped from the scheduling queue and never retried",
            _needs_scheduling,
            "cordoned-node",
        ),
        Variant(
            "unguarded-bind",
            "kubernetes#4623",
            "two scheduler replicas without leader election, binding without the 'still unbound' precondition",
            _needs_two_nodes,
            "pod-two-nodes",
        ),
        Variant(
            "stale-relist",
            "kubernetes#59848",
            "a restarted component lists from an API server cache that is behind (needs consistency: stale)",
            _needs_stale_restart,
            "stale-replicaset",
        ),
        Variant(
            "pdb-status-retry",
            "kubernetes#82149 (fixed by #82152)",
            "the disruption controller retries a conflicting PodDisruptionBudget status write with the same, stale, "
            "status on the latest budget, undoing an eviction's decrement",
            _needs_evictions,
            refuted_on="drain-with-pdb",
        ),
        Variant(
            "no-disrupted-pods",
            "kubernetes#34546 (the race discussed there; fixed by #36196, DisruptedPods)",
            "the eviction API records no DisruptedPods entry, so a disruption controller whose pod cache still shows "
            "an evicted pod healthy allows another eviction",
            _needs_evictions,
            refuted_on="drain-with-pdb",
        ),
        Variant(
            "no-slice-tracker",
            "kubernetes#92928 (fixed by #99345: syncService waits while EndpointSliceTracker.StaleSlices)",
            "the EndpointSlice controller syncs a Service from a slice cache that lacks the slice it just wrote, "
            "and writes a duplicate",
            _needs_service,
            refuted_on="service-one-node",
        ),
        Variant(
            "ip-repair-race",
            "kubernetes#37488 (fixed by #39206: a leak must be seen three times before it is released)",
            "the ClusterIP allocation and the Service's write are two steps, and the repair loop releases an "
            "address allocated for a Service not yet written: a second Service gets the same ClusterIP",
            _needs_two_creations,
            refuted_on="service-create",
        ),
        Variant(
            "proxy-missed-update",
            "kubernetes#28674",
            "a kube-proxy handler panics on an update; the panic is swallowed (runtime.HandleCrash) and the "
            "proxier never learns the change, so its rules stay stale",
            _needs_service,
            refuted_on="service-one-node",
        ),
    )
}


# --- the node lifecycle's variants (issue 12; spec/controllers/nodelifecycle.py, spec/controllers/podgc.py) -----


def _nodes(config: Config) -> int:
    return sum(1 for o in config.objects if isinstance(o, Node))


def _evicts_something(config: Config) -> bool:
    return any(isinstance(o, ReplicaSet | ReplicationController | Deployment) and o.replicas > 0 or isinstance(o, Pod)
               for o in config.objects)


def _needs_every_node_lost(config: Config) -> str | None:
    b = config.budget
    lost = b.node_failures + getattr(b, "node_partitions", 0)
    if _nodes(config) < 2 or lost < _nodes(config):
        return "every node able to stop reporting (spec.faults.nodeFailures plus nodePartitions at least the " \
            "number of nodes, and at least two nodes): the variant only differs when no node is Ready"
    if not _evicts_something(config):
        return "a pod to evict"
    return None


VARIANTS["no-zone-disruption"] = Variant(
    "no-zone-disruption",
    "kubernetes#24597 and #28832 (fixed by #28897, zone-aware eviction)",
    "the node lifecycle controller has no zone states and no master disruption mode: when it loses contact with "
    "every node it taints them all and their pods are evicted en masse",
    _needs_every_node_lost,
    "all-nodes-lost",
)


def _needs_deleted_node(config: Config) -> str | None:
    if not any(c.verb == "delete" and c.resource == "nodes" for c in config.commands):
        return "a `kubectl delete node NODE` in spec.userActions (the pods of a deleted node are the orphans)"
    if not _evicts_something(config):
        return "a pod that can be bound to the deleted node"
    return None


def _needs_partition_and_tolerated_taint(config: Config) -> str | None:
    if not getattr(config.budget, "node_partitions", 0):
        return "spec.faults.nodePartitions of at least 1 (an unreachable taint that comes and goes)"
    tolerated = False
    for node in (o for o in config.objects if isinstance(o, Node)):
        for t in node.info.taints:
            if t.effect != "NoExecute":
                continue
            for o in config.objects:
                tols = o.info.tolerations if isinstance(o, Pod) else (
                    o.template.info.tolerations if isinstance(o, ReplicaSet | ReplicationController | Deployment)
                    else ())
                tolerated = tolerated or any(x.tolerates(t) for x in tols)
    if not tolerated:
        return "a node with a NoExecute taint that some pod tolerates for ever (the taint that stays)"
    return None


VARIANTS["no-orphan-gc"] = Variant(
    "no-orphan-gc",
    "kubernetes#11631 and #7660 (pods of deleted nodes; orphan deletion in the pod garbage collector, #32495)",
    "the pods of a deleted node are never garbage-collected: they stay bound to a node that does not exist, counted "
    "by their ReplicaSet, which never replaces them",
    _needs_deleted_node,
    "deleted-node",
)

VARIANTS["stale-taint-eviction"] = Variant(
    "stale-taint-eviction",
    "kubernetes#90794 (fixed by #93722)",
    "a deletion the taint eviction controller scheduled for one taint is cancelled only when the node has no "
    "NoExecute taint left, not when the pod tolerates the remaining ones for ever",
    _needs_partition_and_tolerated_taint,
    "node-partition",
)


def _needs_runtime_failure(config: Config) -> str | None:
    if not getattr(config.budget, "runtime_failures", 0):
        return "spec.faults.runtimeFailures of at least 1 (a node whose container runtime goes down)"
    if not _evicts_something(config):
        return "a pod to start or to evict"
    return None


VARIANTS["runtime-ready-ignored"] = Variant(
    "runtime-ready-ignored",
    "kubernetes#79873 (updateRuntimeUp's TODO: the runtime's RuntimeReady=false now sets the runtime error that "
    "setNodeReadyCondition reports, so the node turns Ready=False)",
    "the kubelet's Ready condition ignores its container runtime: a node whose runtime is down stays Ready, is "
    "never tainted not-ready, and the pods bound to it are neither started nor evicted",
    _needs_runtime_failure,
    "node-not-ready",
)


# --- issue 19's variants (spec/controllers/job.py) -------------------------------------------------------------

VARIANTS["job-stale-sync"] = Variant(
    "job-stale-sync",
    "kubernetes#130103 (partly fixed by #130333, which remembers finished Jobs; fixed by #137210: the Job "
    "controller defers a sync until it has observed its own writes, KEP-5647's StaleControllerConsistencyJob "
    "gate)",
    "the Job controller syncs a Job from an informer that has not shown the status it last wrote: the success it "
    "counted (and whose finalizer it removed) is lost and it creates another pod",
    _needs_job,
    "job-completions",
)


def _needs_orphan_delete(config: Config) -> str | None:
    if any(c.verb == "delete" and c.resource in ("replicasets", "replicationcontrollers") and c.cascade == "orphan"
           for c in config.commands):
        return None
    return "a `kubectl delete replicaset NAME --cascade=orphan` in spec.userActions (the garbage collector orphans " \
        "the ReplicaSet's pods, which its controller may adopt back)"


VARIANTS["gc-readoption"] = Variant(
    "gc-readoption",
    "kubernetes#24934 (fixed by #27438 and #27600: a controller being deleted adopts nothing; the live recheck of "
    "#42938 closes the cache-lag half of it, kubernetes#42639)",
    "a ReplicaSet being deleted with --cascade=orphan adopts again, from its cache (the deletionTimestamp shown, "
    "its DELETED event not yet delivered), the pod the garbage collector has just orphaned: the pod names a "
    "deleted ReplicaSet and is garbage-collected instead of orphaned",
    _needs_orphan_delete,
    "cascade-orphan",
)


# --- the StatefulSet's variants (issue 12; spec/controllers/nodelifecycle.py's taint-based deletion) ------------


def _needs_partition_and_statefulset(config: Config) -> str | None:
    if not getattr(config.budget, "node_partitions", 0):
        return "spec.faults.nodePartitions of at least 1 (a node cut off from the API server whose containers " \
            "keep running)"
    if not any(isinstance(o, StatefulSet) and o.replicas > 0 for o in config.objects):
        return "a StatefulSet with replicas (a second pod for one identity is what the force deletion allows)"
    if _nodes(config) < 2:
        return "two nodes (the replacement needs a node that is not cut off)"
    return None


VARIANTS["force-delete-unreachable"] = Variant(
    "force-delete-unreachable",
    "kubernetes#35145 (fixed by #35235: the node controller no longer force-deletes pods from the api-server)",
    "the taint-based deletion of a pod on an unreachable node uses grace period 0: the pod object is gone at once, "
    "and the StatefulSet controller starts a second pod of the same identity while the partitioned node still "
    "runs the first",
    _needs_partition_and_statefulset,
    "statefulset-partition",
)


# --- leader election (issue 19; spec.leaderelection) -------------------------------------------------------------


def _needs_paused_leader(config: Config) -> str | None:
    """A replica that misses its renewals past its renew deadline: leader election with two replicas and a
    pause (without it every leader renews in time, and the variant changes nothing)."""
    le = config.leader_election
    if le is None or le.replicas < 2 or not le.controller_manager:
        return "spec.leaderElection with two kube-controller-manager replicas"
    if not config.budget.controller_manager_pauses:
        return "spec.leaderElection.pauses of at least 1 (a leader that misses its renew deadline)"
    return None


VARIANTS["leader-keeps-acting"] = Variant(
    "leader-keeps-acting",
    "kubernetes#23731 (split brain: the leader that lost its lease never ran OnStoppedLeading; fixed by the renew "
    "loop's timeout, #65094 for a renewal that hangs past the renew deadline, and the leader-election healthz "
    "watchdog of #70971 for a wedged elector, kubernetes#70819 and #82960)",
    "a kube-controller-manager replica past its renew deadline does not stop leading: its controllers keep running "
    "while another replica holds the Lease",
    _needs_paused_leader,
    "ha-paused-leader",
)


# --- several API servers (issue 19; spec.kube_apiserver) -------------------------------------------------------


def _needs_api_server_failover(config: Config) -> str | None:
    """Two API servers and a crash of one: without a failover no client relists from another API server's
    cache."""
    if config.api_servers < 2:
        return "spec.apiServers of at least 2 (a failover to another API server's watch cache)"
    if not (config.budget.api_server_restarts or config.budget.api_server_partitions):
        return "spec.faults.apiServerRestarts or apiServerPartitions of at least 1 (an API server crash or " \
            "partition moves its clients to another)"
    return None


VARIANTS["failover-relist"] = Variant(
    "failover-relist",
    "kubernetes#59848 (fixed by #83520: the reflector relists at its lastSyncResourceVersion, which the watch "
    "cache serves only once it has caught up; #67998 was the first attempt)",
    "after its API server crashes, a component relists at resourceVersion \"0\" from another API server whose watch "
    "cache is behind, and goes back in time",
    _needs_api_server_failover,
    "ha-apiservers",
)


# --- the Deployment controller's Recreate strategy (spec/controllers/deployment.py) ------------------------------


def _needs_recreate_rollout(config: Config) -> str | None:
    if not any(isinstance(o, Deployment) and o.strategy == "Recreate" and o.replicas > 0 for o in config.objects):
        return "a Deployment with strategy Recreate and replicas (the variant changes how its rollout waits)"
    if not any(c.verb in ("set-image", "rollout-undo") for c in config.commands):
        return "a rollout: `kubectl set image deployment/NAME C=IMAGE` in spec.userActions"
    return None


VARIANTS["recreate-no-pod-wait"] = Variant(
    "recreate-no-pod-wait",
    "kubernetes#27362 (fixed by #43963: oldPodsRunning)",
    "a Recreate rollout creates the new ReplicaSet as soon as the old ones report no replicas in their status, "
    "while their pods are still Terminating: old and new pods run together",
    _needs_recreate_rollout,
    "recreate-rollout",
)


# --- leader election of kube-scheduler's replicas (issue 19; spec.leaderelection) -------------------------------


def _needs_paused_scheduler(config: Config) -> str | None:
    """A kube-scheduler leader that misses its renew deadline and a pod to schedule after it did."""
    le = config.leader_election
    if le is None or le.replicas < 2 or not le.scheduler:
        return "spec.leaderElection with two kube-scheduler replicas (components: [kube-scheduler])"
    if not config.budget.scheduler_pauses:
        return "spec.leaderElection.pauses of at least 1 (a kube-scheduler leader that misses its renew deadline)"
    return _needs_scheduling(config)


VARIANTS["scheduler-keeps-scheduling"] = Variant(
    "scheduler-keeps-scheduling",
    "kubernetes#81306 (\"Scheduler should terminate on loosing leader lock\": the scheduler went on watching and "
    "scheduling after losing its lock, so HA schedulers raced to bind from stale caches)",
    "a kube-scheduler replica past its renew deadline does not exit: it keeps scheduling and binding while another "
    "replica holds the Lease",
    _needs_paused_scheduler,
    "ha-scheduler",
)


# --- minReadySeconds (the workloads engineer; spec.controllers.replicaset) -------------------------------------


def _needs_min_ready(config: Config) -> str | None:
    """A ReplicaSet or Deployment with minReadySeconds above 0 (the requeues act only on its availability)."""
    if any(isinstance(o, ReplicaSet | ReplicationController | Deployment) and o.min_ready_seconds > 0
           for o in config.objects):
        return None
    return "a ReplicaSet, ReplicationController or Deployment with spec.minReadySeconds above 0 (the requeues " \
        "count available pods)"


VARIANTS["no-minready-requeue"] = Variant(
    "no-minready-requeue",
    "kubernetes#41641 (\"New deployment sometimes leaves old ReplicaSet with active replicas\": status."
    "availableReplicas never updated; fixed by #42097, with the extra second of #42741)",
    "the ReplicaSet controller requeues a ReplicaSet exactly minReadySeconds after a pod turns Ready and never "
    "again: at that instant the pod is not yet available (IsPodAvailable's Before is strict), so its availability "
    "waits for the informers' resync period and the rollout stalls",
    _needs_min_ready,
    "rollout-min-ready",
)


def _needs_paused_scale(config: Config) -> str | None:
    """A Deployment that is paused (spec.paused or a `kubectl rollout pause`) and scaled."""
    paused = any(isinstance(o, Deployment) and o.paused for o in config.objects) or any(
        c.verb == "rollout-pause" for c in config.commands)
    if paused and any(c.verb == "scale" and c.resource == "deployments" for c in config.commands):
        return None
    return "a paused Deployment that is scaled: a `kubectl rollout pause deployment/NAME` (or spec.paused: true) " \
        "and a `kubectl scale deployment/NAME` in spec.userActions"


VARIANTS["paused-no-scale"] = Variant(
    "paused-no-scale",
    "kubernetes#20853 (\"It should be possible to scale paused Deployments\", from #18901: \"Paused disables scaling "
    "behavior\"; fixed by #20273)",
    "the Deployment controller ignores a paused Deployment altogether: a scale while it is paused is never carried "
    "out (nor observed in its status) until it is resumed",
    _needs_paused_scale,
    "rollout-paused-scale",
)


# --- the DaemonSet controller (spec/controllers/daemonset.py) --------------------------------------------------


def _needs_daemonset(config: Config) -> str | None:
    from spec.state import DaemonSet

    if not any(isinstance(o, DaemonSet) for o in config.objects):
        return "a DaemonSet (the variant changes how its controller counts its pods per node)"
    return None


VARIANTS["daemonset-pending-by-nodename"] = Variant(
    "daemonset-pending-by-nodename",
    "kubernetes#61050 (fixed by #61387: util.GetTargetNodeName, a pending pod counts for the node of its "
    "matchFields affinity)",
    "the DaemonSet controller groups its pods by spec.nodeName, so a pod the scheduler has not bound yet counts for "
    "no node and the next sync creates another pod for the same node (thousands of pods in the report)",
    _needs_daemonset,
    "daemonset-two-nodes",
)


def _needs_cronjob_forbid(config: Config) -> str | None:
    from spec.state import CronJob

    if not any(isinstance(o, CronJob) and o.concurrency_policy == "Forbid" for o in config.objects):
        return "a CronJob with concurrencyPolicy Forbid (the variant lets its controller lose an active Job)"
    return None


VARIANTS["cronjob-active-from-lister"] = Variant(
    "cronjob-active-from-lister",
    "kubernetes#93370 (the v2 CronJob controller as merged: a Job of status.active that the Job lister does not "
    "show is dropped; fixed by the GET from the API server before MissingJob in today's syncCronJob)",
    "the CronJob controller drops from status.active a Job its Job informer has not shown yet: the Job it has just "
    "created, so under concurrencyPolicy Forbid the next schedule time starts a second Job beside the running one",
    _needs_cronjob_forbid,
    "cronjob-forbid",
)


def _needs_static_volume_binding(config: Config) -> str | None:
    """The scheduler binds a volume to a claim the PV controller may not have seen: a StatefulSet with
    volumeClaimTemplates (its claims are created during the run) and a PersistentVolume."""
    from spec.state import PersistentVolume

    if not any(isinstance(o, StatefulSet) and o.volume_claim_templates for o in config.objects):
        return "a StatefulSet with volumeClaimTemplates (claims created while the PV controller's informer may lag)"
    if not any(isinstance(o, PersistentVolume) for o in config.objects):
        return "a PersistentVolume (the static volume the scheduler binds)"
    return None


VARIANTS["pv-release-stale-claim"] = Variant(
    "pv-release-stale-claim",
    "kubernetes#66287 (fixed by #67062: syncVolume double-checks the API server for a claim its informer lacks)",
    "the PV controller trusts its claim informer: a volume the scheduler bound to a claim created a moment ago is "
    "taken for a volume whose claim was deleted, and released (never to be bound again under Retain; deleted "
    "under Delete)",
    _needs_static_volume_binding,
    "statefulset-local-volumes",
)


# --- the HPA controller (spec/controllers/podautoscaler.py) ----------------------------------------------------


def _needs_hpa_load(config: Config) -> str | None:
    from spec.state import HorizontalPodAutoscaler

    if not any(isinstance(o, HorizontalPodAutoscaler) for o in config.objects):
        return "a HorizontalPodAutoscaler (the variant changes how its controller normalizes a recommendation)"
    return None


VARIANTS["hpa-forbidden-window"] = Variant(
    "hpa-forbidden-window",
    "kubernetes#65097 (\"after it scales up (correctly), it will scale down to the minimum if there's low load for "
    "just 5 minutes\"; fixed by #68122: the scale-down stabilization window replaces the forbidden window, "
    "Kubernetes 1.12)",
    "the HPA controller normalizes as Kubernetes 1.11 did: no recommendation history, a scale-down only 5 min after "
    "the last scale (a scale-up 3 min), to the current recommendation: a load that dips after a long quiet spell "
    "scales the target down at once, although it asked for more pods one sync before",
    _needs_hpa_load,
    "hpa-scale-up",
)
