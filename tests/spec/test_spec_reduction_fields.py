"""Node symmetry renames every node name a state holds: no node name sits in a field that is not declared in
``spec.reduction.fields.NODE_NAME_FIELDS``, and renaming permutes every occurrence. A field added to a component
that holds a node name and is not renamed would merge different states silently; this test names it."""

from __future__ import annotations

from collections import Counter

import attrs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import always, check
from spec.model import ClusterModel
from spec.reduction import NONE
from spec.reduction.canonical import rename_nodes
from spec.reduction.fields import NODE_NAME_FIELDS, strings
from spec.scenario import builtin, builtin_names
from spec.state import ClusterState, Node
from spec.testing import cluster_states, scenarios


def node_names(state: ClusterState) -> list[str]:
    return sorted(o.meta.name for o in state.etcd.objects.values() if isinstance(o, Node))


def occurrences(state: ClusterState, names: list[str]) -> Counter[str]:
    """How many times each node name occurs (whole, or as the NAME of "nodes/NAME") in the state's strings; fails
    on one outside the declared fields."""
    count: Counter[str] = Counter()
    for where, s in strings(state):
        name = s[len("nodes/"):] if s.startswith("nodes/") else s
        if name in names:
            assert where in NODE_NAME_FIELDS, (
                f"{where[0]}.{where[1]} holds node name {name!r}: declare it in spec.reduction.fields."
                "NODE_NAME_FIELDS and rename it in spec.reduction.canonical.rename_nodes")
            count[name] += 1
    return count


def renaming_permutes(state: ClusterState) -> bool:
    names = node_names(state)
    before = occurrences(state, names)
    if len(names) < 2:
        return True
    perm = {names[0]: names[1], names[1]: names[0]}
    after = occurrences(rename_nodes(state, perm), names)
    return all(after[perm.get(n, n)] == c for n, c in before.items())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_node_names_live_only_in_declared_fields_and_are_all_renamed(data: st.DataObject) -> None:
    scenario = data.draw(scenarios())
    state = data.draw(cluster_states(max_steps=40, scenario=attrs.evolve(scenario, reductions=NONE)))
    assert renaming_permutes(state)


def test_every_builtin_scenario_keeps_node_names_in_declared_fields() -> None:
    for name in builtin_names():
        model = ClusterModel(attrs.evolve(builtin(name).config, properties=()), NONE)
        model.properties = (always("NodeNamesDeclared", renaming_permutes),)
        result = check(model, max_states=600, deadlock=False)
        assert result.status in ("ok", "bounded"), (name, result.verdict())


def test_an_undeclared_field_is_named() -> None:
    """The check can fail: a node name hidden in an undeclared place is reported with its class and field."""
    state = next(iter(ClusterModel(builtin("pod-two-nodes").config).init_states()))
    kubelet = state.kubelets[0]
    hidden = attrs.evolve(state, pending_commands=frozenset({kubelet.node}))  # not a node field
    try:
        occurrences(hidden, node_names(hidden))
    except AssertionError as e:
        assert "ClusterState.pending_commands" in str(e)
    else:
        raise AssertionError("an undeclared node name went unnoticed")
