"""Each historical bug is refuted with a trace; today's Kubernetes passes the same scenario."""

from __future__ import annotations

import attrs
import pytest

from checker import check
from spec.model import ClusterModel
from spec.scenario import builtin, with_overrides

VARIANT_SCENARIOS = {
    "no-expectations": ("replicaset-one-node", "ReplicaSetNeverOvershoots"),
    "no-requeue": ("cordoned-node", "EveryFeasiblePodEventuallyScheduled"),
    "unguarded-bind": ("pod-two-nodes", "NoDoubleScheduling"),
    "stale-relist": ("stale-replicaset", "ReplicaSetNeverOvershoots"),
}


def _model(scenario: str, prop: str, variants: tuple[str, ...] = ()) -> ClusterModel:
    s = with_overrides(builtin(scenario), variants)
    return ClusterModel(attrs.evolve(s.config, properties=(prop,)))


@pytest.mark.parametrize("variant", sorted(VARIANT_SCENARIOS))
def test_the_variant_is_refuted_with_a_trace(variant: str) -> None:
    scenario, prop = VARIANT_SCENARIOS[variant]
    model = _model(scenario, prop, (variant,))
    result = check(model)
    assert result.status == "violation"
    assert result.violation is not None and result.violation.property == prop
    trace = result.violation.trace
    assert trace[0].action is None and len(trace) > 1
    assert all(model.describe(step.action) for step in trace[1:])


@pytest.mark.parametrize("variant", ["no-requeue", "unguarded-bind", "stale-relist"])
def test_today_s_kubernetes_passes_the_same_scenario(variant: str) -> None:
    scenario, prop = VARIANT_SCENARIOS[variant]
    assert check(_model(scenario, prop)).status == "ok"


def test_today_s_kubernetes_passes_the_replicaset_scenario() -> None:
    assert check(_model("replicaset-one-node", "ReplicaSetNeverOvershoots")).status == "ok"


@pytest.mark.slow
def test_the_default_scenario_holds_exhaustively_well_under_a_million_states() -> None:
    """What `make check` runs: every property, the whole space (about 40 s)."""
    result = check(ClusterModel(builtin("web-two-nodes").config))
    assert result.status == "ok" and not result.warnings
    assert result.stats.distinct_states < 100_000


def test_stale_relist_also_shows_time_travel() -> None:
    result = check(_model("stale-replicaset", "ResourceVersionMonotonic", ("stale-relist",)))
    assert result.status == "violation"
    assert any("relists at rv" in _describe(step.action) for step in result.violation.trace[1:])  # type: ignore[union-attr]


def _describe(action: object) -> str:
    from spec.actions import describe

    return describe(action)  # type: ignore[arg-type]


def test_the_no_requeue_trace_is_a_lasso_where_the_pod_waits_forever() -> None:
    result = check(_model("cordoned-node", "EveryFeasiblePodEventuallyScheduled", ("no-requeue",)))
    v = result.violation
    assert v is not None and v.kind == "leads_to" and v.loop_start is not None
    texts = [_describe(s.action) for s in v.trace[1:]]
    assert any("uncordon" in t for t in texts) and any("finds no node" in t for t in texts)
