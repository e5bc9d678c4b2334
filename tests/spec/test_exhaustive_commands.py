"""The commands of issue 11 checked exhaustively from the converged cluster: `scale-down-during-scale-up` (a scale
down that meets a pod being created) and `set-image-frontend-converged` (a rollout of microservices-demo's real
frontend Deployment). Each holds, and not vacuously: the states the scenario is about are reached."""

from __future__ import annotations

import pytest

from checker import check, sometimes
from spec.controllers.replicaset import is_active
from spec.model import ClusterModel
from spec.scenario import builtin
from spec.state import ClusterState, Pod, ReplicaSet


def _active(s: ClusterState, rs: ReplicaSet) -> list[Pod]:
    return [p for p in s.etcd.objects.values()
            if isinstance(p, Pod) and is_active(p) and p.meta.owner is not None and p.meta.owner.uid == rs.meta.uid]


def _overshoot(s: ClusterState) -> bool:
    """A ReplicaSet with more active pods than its spec.replicas (what the controller's stale cache allows)."""
    return any(isinstance(rs, ReplicaSet) and len(_active(s, rs)) > rs.replicas for rs in s.etcd.objects.values())


def _scaled_down_while_creating(s: ClusterState) -> bool:
    """The ReplicaSet is at 1 while its second pod is still Pending."""
    return any(isinstance(rs, ReplicaSet) and rs.replicas == 1 and len(pods := _active(s, rs)) == 2
               and any(p.status.phase == "Pending" for p in pods) for rs in s.etcd.objects.values())


def _both_revisions_run(s: ClusterState) -> bool:
    rss = [rs for rs in s.etcd.objects.values() if isinstance(rs, ReplicaSet)]
    return len(rss) == 2 and all(any(p.status.phase == "Running" for p in _active(s, rs)) for rs in rss)


def _holds_with(name: str, *witnesses: tuple[str, object]) -> None:
    scenario = builtin(name)
    model = ClusterModel(scenario.config, scenario.reductions)
    model.properties = (*model.properties, *(sometimes(n, w) for n, w in witnesses))  # type: ignore[arg-type]
    result = check(model)
    assert result.status == "ok" and result.complete, result.verdict()
    statuses = {p.name: p.status for p in result.properties}
    assert all(statuses[n] == "holds" for n, _ in witnesses), statuses


def test_a_rollout_of_the_real_frontend_holds_exhaustively() -> None:
    _holds_with("set-image-frontend-converged", ("BothRevisionsRun", _both_revisions_run))


@pytest.mark.slow
def test_a_scale_down_during_creation_holds_exhaustively() -> None:
    """78,791 states (about 20 CPU-seconds)."""
    _holds_with("scale-down-during-scale-up", ("Overshoot", _overshoot),
                ("ScaledDownWhileCreating", _scaled_down_while_creating))
