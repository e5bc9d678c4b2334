"""Historical bugs, each a switch that restores the old behaviour (the default is today's Kubernetes).

Each variant changes one mechanism, and a scenario without what that mechanism acts on would check today's
Kubernetes under the variant's name: ``Variant.needs`` says what a scenario lacks for a variant to change anything (the
scenario loader turns it into an error).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from spec.state import Deployment, Node, Pod, PodDisruptionBudget, ReplicaSet

if TYPE_CHECKING:
    from spec.model import Config


def _schedules_something(config: Config) -> bool:
    """Some pod can wait for the default scheduler: an unbound Pod, or a ReplicaSet or Deployment that has (or is
    scaled to) replicas."""
    for o in config.objects:
        if isinstance(o, Pod) and not o.node_name and o.scheduler_name == "default-scheduler":
            return True
        if isinstance(o, ReplicaSet | Deployment) and o.replicas > 0:
            return True
    return any(c.verb == "scale" and c.replicas > 0 for c in config.commands)


def _needs_expectations(config: Config) -> str | None:
    if any(isinstance(o, ReplicaSet | Deployment) for o in config.objects):
        return None
    return "a ReplicaSet or a Deployment (the ReplicaSet controller's expectations gate only its own pods)"


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


VARIANTS = {
    v.name: v
    for v in (
        Variant(
            "no-expectations",
            "kubernetes#7561 (fixed by expectations, #6866)",
            "the ReplicaSet controller ignores its expectations and creates extra pods while its informer lags",
            _needs_expectations,
        ),
        Variant(
            "no-requeue",
            "kubernetes#72122 (a later queue race of the same kind)",
            "a pod that failed to schedule once is dropped from the scheduling queue and never retried",
            _needs_scheduling,
        ),
        Variant(
            "unguarded-bind",
            "kubernetes#4623",
            "two scheduler replicas without leader election, binding without the 'still unbound' precondition",
            _needs_two_nodes,
        ),
        Variant(
            "stale-relist",
            "kubernetes#59848",
            "a restarted component lists from an API server cache that is behind (needs consistency: stale)",
            _needs_stale_restart,
        ),
        Variant(
            "pdb-status-retry",
            "kubernetes#82149 (fixed by #82152)",
            "the disruption controller retries a conflicting PodDisruptionBudget status write with the same, stale, "
            "status on the latest budget, undoing an eviction's decrement",
            _needs_evictions,
        ),
        Variant(
            "no-disrupted-pods",
            "kubernetes#34546 (the race discussed there; fixed by #36196, DisruptedPods)",
            "the eviction API records no DisruptedPods entry, so a disruption controller whose pod cache still shows "
            "an evicted pod healthy allows another eviction",
            _needs_evictions,
        ),
    )
}
