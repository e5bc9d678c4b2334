"""`kubespec list --json` (issue 12): scenarios (name, description), properties (name, kind, promise), variants
(name, issue, the built-in scenario that refutes it); and every variant is refuted by its scenario, which holds
without it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from checker import check
from checker.cli import main
from spec.model import ClusterModel
from spec.properties import PROPERTIES
from spec.scenario import builtin, builtin_names, with_overrides
from spec.variants import VARIANTS

FAST = {"no-expectations", "no-requeue", "unguarded-bind", "stale-relist", "no-zone-disruption", "no-orphan-gc",
        "stale-taint-eviction", "force-delete-unreachable"}
"""Variants whose scenario is checked in seconds both ways; the others are slow-marked (make test-slow)."""
FAST |= {"job-stale-sync", "gc-readoption"}  # issue 19's variants, refuted in seconds
FAST |= {"recreate-no-pod-wait"}  # the Deployment controller's Recreate strategy, refuted in seconds


def _listing() -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, ["list", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_list_json_enumerates_everything() -> None:
    doc = _listing()
    assert [s["name"] for s in doc["scenarios"]] == builtin_names()
    assert all(s["description"] for s in doc["scenarios"])
    assert [s["name"] for s in doc["scenarios"] if s["default"]] == ["web-two-nodes"]
    assert {p["name"] for p in doc["properties"]} == set(PROPERTIES)
    for p in doc["properties"]:
        assert p["kind"] in ("always", "eventually_always", "leads_to", "leads_to_always")
        assert p["class"] == ("invariant" if p["kind"] == "always" else "liveness")
        assert p["promise"] and "\n" not in p["promise"]
    assert {v["name"] for v in doc["variants"]} == set(VARIANTS)
    for v in doc["variants"]:
        assert v["issue"] and v["refuted_on"] in builtin_names(), v


def test_list_text_names_the_refuting_scenario() -> None:
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0
    assert "no-zone-disruption (kubernetes#24597" in result.output and "refuted on all-nodes-lost" in result.output


def _cases() -> list:  # type: ignore[type-arg]
    return [pytest.param(name, marks=() if name in FAST else pytest.mark.slow) for name in VARIANTS]


@pytest.mark.parametrize("variant", _cases())
def test_every_variant_is_refuted_by_its_scenario_which_holds_without_it(variant: str) -> None:
    scenario = builtin(VARIANTS[variant].refuted_on)
    clean = check(ClusterModel(scenario.config, scenario.reductions))
    assert clean.status == "ok", (variant, clean.verdict())
    bad_scenario = with_overrides(scenario, (variant,))
    bad = check(ClusterModel(bad_scenario.config, bad_scenario.reductions))
    assert bad.status == "violation", (variant, bad.verdict())
