"""Differential tests of the reductions: with every reduction on and with every reduction off, every property gets
the same verdict and the same visible states are reachable; and what the reduced model reports as enabled for
fairness is what the full Next relation enables.

The eager no-op reduction once changed a liveness verdict (a Deployment with a node crash: EventualReplica-
Convergence violated with the reductions, holding without). Weak fairness is a statement about the full Next
relation, and the reduced successors hid the node's recovery along a loop of no-op reconciles. These tests compare
verdicts property by property, so a reduction that changes any verdict fails them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from checker import always, check
from spec.cluster import COMPONENTS, REFLECTORS, Cluster, enabled_actors, lanes
from spec.config import Config
from spec.idfields import UID
from spec.model import ClusterModel, applicable
from spec.properties import PROPERTIES
from spec.reduction import ALL, NONE, Reductions, fields
from spec.scenario import builtin, load
from spec.state import ClusterState, Node
from spec.testing import cluster_states, scenarios
from spec.variants import VARIANTS

FIXTURES = Path(__file__).parent / "fixtures"


def verdicts(config: Config, max_states: int, reductions: Reductions) -> dict[str, str] | None:
    """Each property's verdict ("ok" or "violation"); None when a check hit ``max_states``. One check of them
    all decides when every one holds; otherwise each is checked alone (a search stops at its first violation)."""
    together = check(ClusterModel(attrs.evolve(config, properties=tuple(PROPERTIES)), reductions),
                     max_states=max_states)
    if together.status == "bounded":
        return None
    if together.status == "ok":
        return dict.fromkeys(PROPERTIES, "ok")
    out = {}
    for name in PROPERTIES:
        result = check(ClusterModel(attrs.evolve(config, properties=(name,)), reductions), max_states=max_states)
        if result.status == "bounded":
            return None
        out[name] = result.status
    return out


def visible(state: ClusterState) -> Any:
    """What the properties may read: etcd's objects (resourceVersions aside, uids by rank: renumbering keeps
    their order and equality), what runs, the ghost variables, and what the scenario has left."""
    orphaned = state.ghost.orphaned  # (dependent uid, owner uid): the owner may be gone
    uids = sorted({o.meta.uid for o in state.etcd.objects.values() if not isinstance(o, Node)}
                  | {c.uid for k in state.kubelets for c in k.runtime} | {u for pair in orphaned for u in pair})
    rank = {u: i + 1 for i, u in enumerate(uids)}
    ghost = attrs.evolve(state.ghost, orphaned=frozenset((rank[d], rank[o]) for d, o in orphaned))

    def uids_ranked(o: Any) -> Any:
        """Every field declared to hold a uid (``spec.idfields``: metadata, ownerReferences, a PersistentVolume's
        claimRef, ...) by rank; a uid no object has any more (a dangling reference) is 0."""
        found: list[tuple[str, Any, str | None]] = []
        collect = fields.collector(type(o), frozenset({UID}))
        if collect is not None:
            collect(o, None, found)
        mapping = {u: rank.get(u, 0) for _, u, _ in found}
        return fields.rewrite(o, fields.Rewrite(uids={u: r for u, r in mapping.items() if u != r}),
                              frozenset({UID}))

    def seen(o: Any) -> Any:
        node = isinstance(o, Node)
        o = uids_ranked(o)
        return attrs.evolve(o, meta=attrs.evolve(o.meta, resource_version=0, uid=0 if node else o.meta.uid))

    objects = frozenset((key, seen(o)) for key, o in state.etcd.objects.items())
    runtime = tuple(frozenset(attrs.evolve(c, uid=rank[c.uid]) for c in k.runtime) for k in state.kubelets)
    # The Services properties also read each kube-proxy's installed rules and CoreDNS's answers.
    rules = tuple(p.rules for p in state.net.proxies)
    answers = None if state.net.dns is None else frozenset(
        (k, o) for k, o in state.net.dns.cache.items())
    return objects, runtime, ghost, state.budget, state.pending_commands, rules, answers


def visible_states(config: Config, max_states: int, reductions: Reductions) -> set[Any] | None:
    """The visible part of every reachable state (symmetry off: renaming nodes changes what is visible)."""
    seen: set[Any] = set()
    model = ClusterModel(attrs.evolve(config, properties=()), attrs.evolve(reductions, symmetry=False))
    model.properties = (always("Record", lambda s: seen.add(visible(s)) or True),)
    result = check(model, deadlock=False, max_states=max_states)
    return None if result.status == "bounded" else seen


def fair_steps(model: ClusterModel, state: ClusterState) -> set[str]:
    """The fair actors with a non-stuttering step among ``state``'s successors in ``model``."""
    here = model.canonical(state)
    return {a.actor for a, t in model.successors(state)
            if a.actor in model._fair and model.canonical(t) != here}


def components_agree(state: ClusterState, config: Config) -> None:
    """Each component's ``enabled`` names exactly the actors of its non-stuttering ``steps``, and every actor
    is one the component declares (``actors``; ``lanes`` lists them all): its own, but for the reflectors', which
    are their informers' owners' (``spec.cluster.enabled_among`` relies on it)."""
    declared = set(lanes(config))
    for c in COMPONENTS:
        stepped = {a.actor for a, t in c.steps(state, config) if t != state}
        assert c.enabled(state, config) == stepped, (c.name, c.enabled(state, config), stepped)
        assert stepped <= declared, (c.name, stepped - declared)
        if c is not REFLECTORS:
            assert stepped <= set(c.actors(config)), (c.name, stepped - set(c.actors(config)))


def enabled_actors_agree(config: Config, max_states: int) -> int:
    """Breadth-first over the unreduced model: ``enabled_actors`` names exactly the fair actors with a
    non-stuttering step, and each component's ``enabled`` its own steps' actors. The number of states visited."""
    model = ClusterModel(config, NONE)
    frontier = list(model.init_states())
    seen = set(frontier)
    while frontier and len(seen) < max_states:
        s = frontier.pop(0)
        assert enabled_actors(s, model.config) & set(model._fair) == fair_steps(model, s)
        components_agree(s, model.config)
        for _, t in model.successors(s):
            if t not in seen:
                seen.add(t)
                frontier.append(t)
    return len(seen)


@pytest.mark.parametrize("source", ["pod-two-nodes", "stale-replicaset", "cordoned-node", "node-failure",
                                    "deployment-node-crash-one-node.yaml", "deployment-node-crash.yaml",
                                    "cascade-delete", "service-one-node", "service-create", "drain-with-pdb",
                                    "job-completions", "namespace-pod.yaml", "namespace-delete",
                                    "cascade-orphan", "ha-apiservers", "rc-scale.yaml", "rc-orphan.yaml",
                                    "rc-scale-crash.yaml"])
def test_enabled_actors_are_the_fair_steps_of_the_full_relation(source: str) -> None:
    config = load(FIXTURES / source).config if source.endswith(".yaml") else builtin(source).config
    assert enabled_actors_agree(config, 1500) > 15


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_enabled_actors_in_random_reachable_states(data: st.DataObject) -> None:
    scenario = data.draw(scenarios())
    config = scenario.config
    state = data.draw(cluster_states(max_steps=40, scenario=attrs.evolve(scenario, reductions=NONE)))
    model = ClusterModel(config, NONE)
    assert enabled_actors(state, config) & set(model._fair) == fair_steps(model, state)
    components_agree(state, config)


def test_a_node_crash_keeps_convergence_with_the_reductions() -> None:
    """The bug this file was written for: a Deployment of 1, one node crash, reported violated with the
    reductions (without them it holds: the differential tests below)."""
    for name in ("deployment-node-crash-one-node.yaml", "deployment-node-crash.yaml"):
        config = load(FIXTURES / name).config
        result = check(ClusterModel(attrs.evolve(config, properties=("EventualReplicaConvergence",)), ALL))
        assert result.status == "ok", (name, result.verdict())


FAST = ["pod-two-nodes", "stale-replicaset", "deployment-node-crash-one-node.yaml", "service-one-node"]
FAST += ["namespace-pod.yaml"]  # issue 19: a namespace deleted with its pod
FAST += ["apiservers-pod.yaml"]  # issue 19: two API servers, one crash (only renumbering differs)
FAST += ["daemonset-node-joins", "daemonset-node-deleted",  # 366 and 371 states unreduced
         "daemonset-node-taint"]  # 3,067 states unreduced
FAST += ["rc-scale.yaml", "rc-delete.yaml", "rc-orphan.yaml",  # ReplicationControllers: 353, 58, 38 states unreduced
         "rc-scale-crash.yaml"]  # 706 states unreduced
SLOW = ["cordoned-node", "replicaset-one-node", "deployment-node-crash.yaml",
        "node-failure-one-replica.yaml",  # 30,403 states unreduced (the built-in node-failure has 2 replicas)
        "cascade-delete",  # cascade-delete: 247,328 states unreduced
        "drain-with-pdb",
        "job-completions",  # job-completions: 69,693 states unreduced
        "cascade-orphan",  # cascade-orphan: 17,692 states unreduced
        "recreate-rollout",  # recreate-rollout: 334,583 states unreduced (7,977 reduced)
        "daemonset-rolling-update",  # 17,811 states unreduced
        "daemonset-two-nodes",  # 194,726 states unreduced (a DaemonSet's pod names follow the node order)
        "job-ttl-after-finished",  # 179,950 states unreduced
        "replicationcontroller-three-two-running"]  # 517,395 states unreduced (14,325 reduced)


def _config(source: str) -> Config:
    return load(FIXTURES / source).config if source.endswith(".yaml") else builtin(source).config


def _differential(config: Config, max_states: int) -> None:
    reduced = verdicts(config, max_states, ALL)
    full = verdicts(config, max_states, NONE)
    assert reduced is not None and full is not None, "the differential check needs exhaustive runs"
    assert reduced == full
    assert visible_states(config, max_states, ALL) == visible_states(config, max_states, NONE)


@pytest.mark.parametrize("source", FAST)
def test_every_verdict_and_visible_state_is_the_same_without_reductions(source: str) -> None:
    _differential(_config(source), 200_000)


@pytest.mark.slow
@pytest.mark.parametrize("source", SLOW)
def test_every_verdict_and_visible_state_is_the_same_without_reductions_slow(source: str) -> None:
    _differential(_config(source), 1_000_000)


RENUMBER_ONLY = attrs.evolve(NONE, renumber=True)
"""The baseline under kube-controller-manager's leader election: there the plain model is infinite (every renewal
writes the Lease, so etcd's revision grows without bound; renumbering alone makes the space finite), and
``spec.model.applicable`` leaves node symmetry and renumbering on."""
ELECTION = ["ha-hpa-two-nodes.yaml",  # 3,052 states; node symmetry applies
            "ha-pvc-one-replica.yaml"]  # the PV and PVC protection controllers handed over; no node symmetry
ELECTION_SLOW = ["ha-cronjob-one-replica.yaml",  # 18,972 states
                 "ha-hpa", "ha-pvc", "ha-cronjob"]  # two replicas: 24,076, 38,824 and 163,101 states


def _differential_election(config: Config, max_states: int) -> None:
    """Every verdict and the visible states with every reduction against renumbering alone (``RENUMBER_ONLY``), and
    the reductions ``applicable`` turns off under leader election are off."""
    assert config.leader_election is not None
    on = applicable(ALL, config)
    assert not (on.commute_writes or on.ample_sets or on.eager_noop)
    reduced = verdicts(config, max_states, ALL)
    base = verdicts(config, max_states, RENUMBER_ONLY)
    assert reduced is not None and base is not None, "the differential check needs exhaustive runs"
    assert reduced == base
    assert visible_states(config, max_states, ALL) == visible_states(config, max_states, RENUMBER_ONLY)


@pytest.mark.parametrize("source", ELECTION)
def test_every_verdict_is_the_same_with_renumbering_alone_under_leader_election(source: str) -> None:
    _differential_election(_config(source), 200_000)


@pytest.mark.slow
@pytest.mark.parametrize("source", ELECTION_SLOW)
def test_every_verdict_is_the_same_with_renumbering_alone_under_leader_election_slow(source: str) -> None:
    _differential_election(_config(source), 1_000_000)


FAST_VARIANTS = {"no-expectations", "no-requeue", "unguarded-bind", "stale-relist", "job-stale-sync", "gc-readoption",
                 "failover-relist", "recreate-no-pod-wait"}
"""Variants whose scenario is refuted quickly without reductions too; every other variant of ``spec.variants``
runs in the slow suite (a variant added there is checked here without a line of its own)."""


@pytest.mark.parametrize(("name", "variant"), [
    pytest.param(v.refuted_on, v.name, marks=() if v.name in FAST_VARIANTS else pytest.mark.slow)
    for v in VARIANTS.values()])
def test_every_variant_is_refuted_with_and_without_reductions(name: str, variant: str) -> None:
    from spec.scenario import with_overrides

    config = with_overrides(builtin(name), variants=(variant,)).config
    found = set()
    for reductions in (ALL, NONE):
        result = check(ClusterModel(config, reductions), max_states=400_000)
        assert result.status == "violation", result.verdict()
        assert result.violation is not None
        found.add(result.violation.property)
    assert len(found) == 1


def _small(scenario: Any, max_states: int) -> bool:
    baseline = NONE if scenario.config.leader_election is None else RENUMBER_ONLY
    result = check(ClusterModel(attrs.evolve(scenario.config, properties=()), baseline),
                   max_states=max_states, deadlock=False)
    return result.status == "ok"


def _differential_generated(data: st.DataObject, examples_cap: int) -> None:
    """A generated scenario against the model without reductions, or under leader election (which ``scenarios``
    draws too) against renumbering alone (``RENUMBER_ONLY``: the plain model is infinite there)."""
    scenario = data.draw(scenarios(max_nodes=2, max_faults=2))
    assume(_small(scenario, examples_cap))
    if scenario.config.leader_election is None:
        _differential(scenario.config, examples_cap)
    else:
        _differential_election(scenario.config, examples_cap)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_generated_scenarios_keep_every_verdict(data: st.DataObject) -> None:
    """Generated scenarios (every fault kind, every kubectl command, both consistencies, several API servers,
    leader election) small enough to check unreduced in a few seconds."""
    _differential_generated(data, 4_000)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_generated_scenarios_keep_every_verdict_slow(data: st.DataObject) -> None:
    _differential_generated(data, 60_000)



def test_the_plain_model_is_the_model_without_reductions() -> None:
    """``spec.cluster.Cluster`` (no reduction layer at all) and ``ClusterModel`` with every reduction off explore
    the same states."""
    config = builtin("stale-replicaset").config
    plain = check(Cluster(config))
    off = check(ClusterModel(config, NONE))
    assert plain.status == off.status == "ok"
    assert plain.stats.distinct_states == off.stats.distinct_states
    assert plain.bounds.reductions == off.bounds.reductions == ()
