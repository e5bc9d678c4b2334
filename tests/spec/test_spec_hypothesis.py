"""Property tests over generated manifests and reachable states, with the public strategies of spec.testing."""

from __future__ import annotations

from hypothesis import given, settings

from spec.properties import PROPERTIES
from spec.scenario import Scenario
from spec.state import ClusterState, Pod
from spec.testing import cluster_states, scenarios


@settings(max_examples=25)
@given(scenarios())
def test_generated_scenarios_parse_into_models(scenario: Scenario) -> None:
    assert scenario.config.objects


@settings(max_examples=30)
@given(cluster_states(max_steps=30))
def test_safety_properties_hold_on_reachable_states(state: ClusterState) -> None:
    for name in ("NoDoubleScheduling", "NoOvercommit", "ResourceVersionMonotonic"):
        assert PROPERTIES[name].p(state), name


@settings(max_examples=30)
@given(cluster_states(max_steps=30))
def test_resource_versions_are_unique_and_bounded(state: ClusterState) -> None:
    rvs = [o.meta.resource_version for o in state.etcd.objects.values()]
    assert len(rvs) == len(set(rvs)) and all(0 < rv <= state.etcd.revision for rv in rvs)
    # every pod is bound to a node of the scenario (one that `kubectl delete node` removed leaves orphans behind
    # until the pod garbage collector deletes them: spec/controllers/podgc.py)
    nodes = {k.node for k in state.kubelets}
    assert all(p.node_name in nodes | {""} for p in state.etcd.of("pods") if isinstance(p, Pod))
