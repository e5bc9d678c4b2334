"""The seed's examples as built-in scenarios: "if a ReplicaSet should have 5 pods but only 3 are running, the
ReplicaSet controller creates 2 new Pod objects via the API server; the scheduler assigns them to nodes; the kubelet
on the selected nodes creates the containers" (replicaset-five-three-running; the node failure story is
node-failure, tests/spec/test_node_lifecycle.py)."""

from __future__ import annotations

import random

import attrs

from checker import check
from spec.model import ClusterModel
from spec.scenario import builtin
from spec.state import ClusterState, Pod, ReplicaSet

NAME = "replicaset-five-three-running"


def _running(state: ClusterState) -> dict[str, Pod]:
    return {p.meta.name: p for p in state.etcd.objects.values()
            if isinstance(p, Pod) and p.status.phase == "Running" and p.status.ready and not p.meta.deleting}


def test_the_scenario_is_the_seeds_example() -> None:
    s = builtin(NAME)
    (rs,) = [o for o in s.config.objects if isinstance(o, ReplicaSet)]
    pods = [o for o in s.config.objects if isinstance(o, Pod)]
    assert rs.replicas == 5 and len(pods) == 3 and all(p.node_name for p in pods)
    assert s.max_states is not None  # bounded: docs/spec.md says why


def test_random_walks_end_with_the_three_adopted_and_two_created() -> None:
    """Walks of the model (all reductions but node symmetry, whatever its choices) end with five Ready pods: the
    three of the manifests, now owned by the ReplicaSet, and two it created, scheduled and started."""
    s = builtin(NAME)
    model = ClusterModel(attrs.evolve(s.config, properties=()), s.reductions)
    (rs_uid,) = [o.meta.uid for o in next(iter(model.init_states())).etcd.objects.values()
                 if isinstance(o, ReplicaSet)]
    for seed in range(3):
        rng = random.Random(seed)
        state = next(iter(model.init_states()))
        for _ in range(400):
            steps = [(a, t) for a, t in model.successors(state) if t != state and type(a).__name__ != "Tick"]
            if not steps:
                break
            state = rng.choice(steps)[1]
        running = _running(state)
        assert len(running) == 5, (seed, sorted(running))
        assert {"web-1", "web-2", "web-3"} <= set(running)
        assert all(p.meta.owner is not None and p.meta.owner.uid == rs_uid for p in running.values())
        assert {p.node_name for p in running.values()} <= {"node-a", "node-b"}


def test_the_bounded_check_finds_no_violation() -> None:
    s = builtin(NAME)
    result = check(ClusterModel(s.config, s.reductions), max_states=3_000)
    assert result.status == "bounded", result.verdict()
