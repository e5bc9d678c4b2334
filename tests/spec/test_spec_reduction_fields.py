"""Renumbering and node symmetry rewrite every uid, revision and node name a state holds: each sits in a field
that declares it (``spec.idfields``, read by ``spec.reduction.fields``), and rewriting reaches every occurrence.
A field added to a component or an object kind that holds one and is not declared would merge different states
silently; these tests name its class and field."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker import always, check
from spec.cluster import Cluster
from spec.idfields import NEXT_UID, REVISION, UID, VERSION
from spec.model import ClusterModel
from spec.reduction import NONE
from spec.reduction import fields as F
from spec.reduction.canonical import rename_nodes, renumber_ids
from spec.scenario import Scenario, builtin, builtin_names
from spec.state import Budget, ClusterState, Node
from spec.testing import scenarios

# --- node names ----------------------------------------------------------------------------------------------


def node_names(state: ClusterState) -> list[str]:
    return sorted(o.meta.name for o in state.etcd.objects.values() if isinstance(o, Node))


def occurrences(state: ClusterState, names: list[str]) -> Counter[str]:
    """How many times each node name occurs (whole, or as the NAME of "nodes/NAME") in the state's strings; fails
    on one outside the declared fields."""
    count: Counter[str] = Counter()
    for where, s in F.strings(state):
        if not isinstance(s, str):
            continue
        name = s[len("nodes/"):] if s.startswith("nodes/") else s
        if name in names:
            assert F.declares(*where, F.NODES), (
                f"{where[0]}.{where[1]} holds node name {name!r}: declare it in its attrs metadata "
                "(spec.idfields.holds) so that node symmetry renames it")
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


# --- uids and revisions --------------------------------------------------------------------------------------

BASE = 7 * 10**12
"""uids start here, revisions at BASE + SPAN: values no other field of a state takes (a count, a timer in ms, a
quantity in bytes), so that an id found anywhere can be told from everything else."""
SPAN = 500_000


def is_id(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and BASE <= v < BASE + 2 * SPAN


def shifted(state: ClusterState) -> ClusterState:
    """``state`` with every uid moved to BASE + uid and every revision to BASE + SPAN + revision (0, "none", stays):
    the states reached from it hold ids that ``is_id`` recognises wherever they are copied."""
    uids, revisions = {}, {}
    for kind, v, _ in F.collect(state, F.IDS):
        if kind == UID and v:
            uids[v] = BASE + v
        elif kind in (REVISION, VERSION) and v:
            revisions[v] = BASE + SPAN + v
    rw = F.Rewrite(uids=uids, revisions=revisions, next_uid=BASE + state.etcd.next_uid)
    out: ClusterState = F.rewrite(state, rw, F.IDS)
    return out


def ids_declared(state: ClusterState) -> None:
    """Fails, naming the class and the field, on an id in a field that does not declare one."""
    for where, v in F.strings(state):
        if is_id(v):
            assert F.declares(*where, frozenset({UID, REVISION, VERSION, NEXT_UID})), (
                f"{where[0]}.{where[1]} holds uid or revision {v - BASE}: declare it in its attrs metadata "
                "(spec.idfields.holds) so that renumbering rewrites it")


def renumbering_reaches_all(state: ClusterState) -> None:
    """After renumbering, no id keeps its old (shifted) value: renumbering reached every one."""
    for where, v in F.strings(renumber_ids(state)):
        assert not is_id(v), f"{where[0]}.{where[1]} kept uid or revision {v - BASE} through renumbering"


def walk(scenario: Scenario, states: int) -> Iterator[ClusterState]:
    """Breadth-first through the plain Next relation from the scenario's initial state, shifted."""
    model = Cluster(attrs.evolve(scenario.config, properties=()))
    frontier = [shifted(s) for s in model.init_states()]
    seen = set(frontier)
    while frontier and len(seen) < states:
        nxt = []
        for s in frontier:
            yield s
            for _, t in model.successors(s):
                if t not in seen and len(seen) < states:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    yield from frontier


# --- the tests -----------------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_ids_and_node_names_live_only_in_declared_fields_and_are_all_rewritten(data: st.DataObject) -> None:
    scenario = attrs.evolve(data.draw(scenarios()), reductions=NONE)
    model = Cluster(attrs.evolve(scenario.config, properties=()))
    state = shifted(next(iter(model.init_states())))
    for _ in range(data.draw(st.integers(0, 40))):
        successors = list(model.successors(state))
        if not successors:
            break
        _, state = successors[data.draw(st.integers(0, len(successors) - 1))]
    assert renaming_permutes(state)
    ids_declared(state)
    renumbering_reaches_all(state)


@pytest.mark.parametrize("name", builtin_names())
def test_every_builtin_scenario_keeps_ids_and_node_names_in_declared_fields(name: str) -> None:
    for state in walk(builtin(name), 300):
        ids_declared(state)
        renumbering_reaches_all(state)
    model = ClusterModel(attrs.evolve(builtin(name).config, properties=()), NONE)
    model.properties = (always("NodeNamesDeclared", renaming_permutes),)
    result = check(model, max_states=600, deadlock=False)
    assert result.status in ("ok", "bounded"), (name, result.verdict())


def test_an_undeclared_field_is_named() -> None:
    """The checks can fail: a node name or a uid hidden in an undeclared place is reported with its class and
    field."""
    state = shifted(next(iter(Cluster(builtin("pod-two-nodes").config).init_states())))
    kubelet = state.kubelets[0]
    hidden = attrs.evolve(state, pending_commands=frozenset({kubelet.node}))  # not a node field
    with pytest.raises(AssertionError, match="ClusterState.pending_commands"):
        occurrences(hidden, node_names(hidden))
    uid = next(o.meta.uid for o in state.etcd.objects.values())
    hidden = attrs.evolve(state, budget=Budget(kubelet_restarts=uid))  # not a uid field
    with pytest.raises(AssertionError, match="Budget.kubelet_restarts"):
        ids_declared(hidden)
    with pytest.raises(AssertionError, match="Budget.kubelet_restarts"):
        renumbering_reaches_all(hidden)


def test_every_declaration_is_well_formed() -> None:
    """Every declared shape compiles (an unknown kind is an error), and the classes that hold ids are found from
    ``ClusterState`` through the fields' types."""
    for cls in F._by_name().values():
        F.rewriter(cls, F.IDS)
        F.rewriter(cls, F.NODES)
        F.collector(cls, F.IDS)
    holders = {name for name, cls in F._by_name().items() if F.declared(cls)}
    assert {"Meta", "OwnerRef", "Etcd", "WatchEvent", "Informer", "QueuedPod", "Scheduler", "RuntimeContainer",
            "Kubelet", "NodeLifecycle", "PodInfo", "NodeInfo"} <= holders
