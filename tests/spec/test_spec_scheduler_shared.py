"""The model's scheduler runs the scheduling cycle of ``kubespec schedule`` (spec/scheduling/kube_scheduler.py):
preemption included, and the same verdict for the same cluster."""

from __future__ import annotations

from pathlib import Path

import attrs

from checker import check, sometimes
from spec.model import ClusterModel
from spec.scenario import load
from spec.scheduler import _cycle
from spec.state import ClusterState, Pod

FIXTURES = Path(__file__).parent / "fixtures"


def _pod(state: ClusterState, name: str) -> Pod | None:
    p = state.etcd.objects.get(f"pods/default/{name}")
    return p if isinstance(p, Pod) else None


def test_a_high_priority_pod_preempts_in_the_model() -> None:
    scenario = load(FIXTURES / "preemption.yaml")
    model = ClusterModel(attrs.evolve(scenario.config, properties=()))

    def preempted(s: ClusterState) -> bool:
        critical = _pod(s, "critical")
        return _pod(s, "batch") is None and critical is not None and critical.node_name == "node-a"

    def preempting(s: ClusterState) -> bool:
        batch = _pod(s, "batch")
        return batch is not None and batch.meta.deleting

    model.properties = (sometimes("Preempted", preempted), sometimes("VictimDeleting", preempting))
    result = check(model, deadlock=False)
    assert result.status == "ok", result.verdict()
    assert result.status_of("Preempted") == "holds" and result.status_of("VictimDeleting") == "holds"


def test_the_model_and_kubespec_schedule_take_the_same_decision() -> None:
    scenario = load(FIXTURES / "preemption.yaml")
    model = ClusterModel(scenario.config)
    state = next(iter(model.init_states()))
    s = state.schedulers[0]
    critical = s.informer.cache["pods/default/critical"]
    assert isinstance(critical, Pod)
    decision = _cycle(s.informer.cache, s.assumed, critical)
    assert decision.node is None and decision.nominated_node == "node-a"
    assert [v.name for v in decision.victims] == ["batch"]
