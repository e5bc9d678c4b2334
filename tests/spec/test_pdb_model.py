"""The drain-with-pdb scenario in the model: PodDisruptionBudgetRespected holds exhaustively, and the two historical
bugs (kubernetes#82149, and the race that DisruptedPods closed in #36196) are refuted with a trace that drains past
the budget; a variant the scenario cannot exercise is an error."""

from __future__ import annotations

import pytest

from checker import check
from checker.errors import InputError
from spec.model import ClusterModel
from spec.scenario import builtin, parse, with_overrides


def test_drain_with_pdb_holds_exhaustively() -> None:
    s = builtin("drain-with-pdb")
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    assert result.status_of("PodDisruptionBudgetRespected") == "holds"
    assert result.stats.distinct_states > 1000


@pytest.mark.parametrize("variant", ["no-disrupted-pods", "pdb-status-retry"])
def test_each_budget_variant_drains_past_the_budget(variant: str) -> None:
    s = with_overrides(builtin("drain-with-pdb"), (variant,))
    model = ClusterModel(s.config, s.reductions)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "PodDisruptionBudgetRespected"
    lines = [model.describe(step.action) for step in result.violation.trace[1:]]
    evicted = [line for line in lines if line.endswith("evicted") or "evicted;" in line]
    assert len(evicted) == 2, lines  # both pods go although the budget allows one
    assert any(line.startswith("disruption-controller reconciles") for line in lines)


def test_a_budget_variant_needs_a_drain() -> None:
    text = builtin("drain-with-pdb").source
    assert text == "drain-with-pdb.yaml"
    from importlib import resources

    yaml = resources.files("spec.scenarios").joinpath("drain-with-pdb.yaml").read_text()
    no_drain = parse(yaml.replace('userActions: ["kubectl drain node-a --ignore-daemonsets --force"]',
                                  "userActions: []"), "x.yaml")
    with pytest.raises(InputError, match="pdb-status-retry needs an eviction"):
        with_overrides(no_drain, ("pdb-status-retry",))
