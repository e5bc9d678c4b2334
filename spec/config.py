"""What a scenario fixes for a whole exploration: the objects, the user's commands, the fault budgets, the read
consistency, the variants (historical bugs), the properties to check and the watch cache's size.

This is the meaning's parameter: no reduction reads it for anything but what it says (the reductions have their
own switches, ``spec.reduction.Reductions``).
"""

from __future__ import annotations

import attrs

from spec.kubectl import Command
from spec.state import Budget, Object


@attrs.frozen
class LeaderElectionConfig:
    """kube-controller-manager under leader election (the scenario's ``spec.leaderElection``): how many replicas,
    the LeaderElectionConfiguration durations in ms (upstream defaults: staging/src/k8s.io/component-base/config/
    v1alpha1/defaults.go RecommendedDefaultLeaderElectionConfiguration, --leader-elect-lease-duration 15 s,
    --leader-elect-renew-deadline 10 s, --leader-elect-retry-period 2 s), and the clock-skew budget: how far one
    replica's clock may run ahead of another's over one lease duration (``spec.leaderelection``)."""

    replicas: int = 2
    lease_duration_ms: int = 15_000
    renew_deadline_ms: int = 10_000
    retry_period_ms: int = 2_000
    clock_skew_ms: int = 0
    components: tuple[str, ...] = ("kube-controller-manager",)
    """The components whose replicas elect a leader (``spec.leaderElection.components``): kube-controller-manager,
    kube-scheduler or both; each runs ``replicas`` replicas with these durations, and its own Lease."""

    @property
    def controller_manager(self) -> bool:
        return "kube-controller-manager" in self.components

    @property
    def scheduler(self) -> bool:
        return "kube-scheduler" in self.components


@attrs.frozen
class LoadTarget:
    """One entry of the scenario's ``spec.load``: the workload whose pods it loads (``resource`` "deployments",
    "replicasets" or "statefulsets", ``namespace``, ``name``), its ``levels`` (each a tuple of (resource name,
    milli-units) pairs: what the metrics server reports, the first level at the start) and ``mode``: "perPod"
    (each pod with metrics uses the level) or "total" (the level is shared evenly by the pods with metrics)."""

    resource: str
    namespace: str
    name: str
    levels: tuple[tuple[tuple[str, int], ...], ...]
    mode: str = "perPod"


@attrs.frozen
class LoadSpec:
    """The scenario's ``spec.load``: the metrics server as the environment (``spec.controllers.podautoscaler``):
    the load actor switches an entry to another of its levels, at most ``max_switches`` times in all."""

    targets: tuple[LoadTarget, ...] = ()
    max_switches: int = 0


@attrs.frozen
class Config:
    """What a scenario fixes for the whole exploration."""

    objects: tuple[Object, ...]
    commands: tuple[Command, ...] = ()
    budget: Budget = Budget()
    consistency: str = "strong"
    """"strong" (every list is served at etcd's revision) or "stale" (a list may be served by a cache that is
    behind, at any retained revision not older than the client's lastSyncResourceVersion)."""
    variants: frozenset[str] = frozenset()
    properties: tuple[str, ...] = ()
    """Names of the properties to check; empty means all of ``spec.properties.PROPERTIES`` but the findings."""
    watch_cache_size: int = 100
    """Watch events the API server keeps; a watcher further behind gets 410 Gone."""
    start: str = "cold"
    """"cold" (the objects are stored, every component has listed them) or "converged" (from there, the start-up
    run until nothing is left to do, the commands and faults held back: ``spec.warmup``)."""
    terminated_pod_gc_threshold: int = 12_500
    """--terminated-pod-gc-threshold (the scenario's ``podGC.terminatedPodThreshold``): terminated pods beyond it
    are deleted by the pod garbage collector, oldest first; 0 turns that off (``spec.controllers.podgc``)."""
    leader_election: LeaderElectionConfig | None = None
    """Replicas of kube-controller-manager under leader election (None: one replica, no election)."""
    schedule_times: int = 2
    """Schedule times explored per CronJob (the scenario's ``bounds.scheduleTimes``; ``spec.controllers.cronjob``):
    time beyond the last is not modelled."""
    api_servers: int = 1
    """kube-apiserver replicas (the scenario's ``spec.apiServers``), each with its own watch cache; clients fail
    over between them (``spec.kube_apiserver``)."""
    load: LoadSpec | None = None
    """The usage the metrics server reports for the pods of the HPAs' targets, and how often it may change (the
    scenario's ``spec.load``; None: every pod uses exactly its HPA's target, ``spec.controllers.podautoscaler``)."""
