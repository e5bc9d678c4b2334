"""ReplicaSetNeverOvershoots states what upstream guarantees, and the stronger statement it replaced is broken by
upstream's own behaviour (docs/spec.md, "Findings").

Upstream (pkg/controller/replicaset/replica_set.go): syncReplicaSet reads the ReplicaSet from its lister and the
pods from its informer; manageReplicas creates ``spec.replicas - len(filteredPods)`` pods once
``expectations.SatisfiedExpectations`` holds. It never looks at etcd's current spec.replicas.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

import attrs
import pytest

from checker import check
from spec import actions as A
from spec.apiserver import CreatorRead, Session, create, store
from spec.controllers.replicaset import is_active, new_pod
from spec.model import ClusterModel
from spec.properties import PROPERTIES
from spec.scenario import builtin, with_overrides
from spec.state import ClusterState, Ghost, Pod, PodStatus, ReplicaSet


def _pods_of(state: ClusterState, rs: ReplicaSet) -> list[Pod]:
    return [p for p in state.etcd.of("pods") if isinstance(p, Pod) and p.meta.owner is not None
            and p.meta.owner.uid == rs.meta.uid]


def stale_creations(model: ClusterModel, limit: int) -> Iterator[list[tuple[A.Action | None, ClusterState]]]:
    """Paths (BFS, shortest first) to a ReplicaSet-controller reconcile that creates a pod while the ReplicaSet,
    in etcd, already has spec.replicas active pods: the old, stronger statement's violations."""
    init = next(iter(model.init_states()))
    parent: dict[ClusterState, tuple[ClusterState | None, A.Action | None]] = {model.canonical(init): (None, None)}
    frontier = deque([model.canonical(init)])
    while frontier and len(parent) < limit:
        state = frontier.popleft()
        for action, nxt in model.successors(state):
            if isinstance(action, A.Reconcile) and action.actor == "replicaset-controller":
                rs = state.etcd.objects.get(action.key)
                if isinstance(rs, ReplicaSet):
                    before = {p.meta.uid for p in _pods_of(state, rs)}
                    created = [p for p in _pods_of(nxt, rs) if p.meta.uid not in before]
                    active = sum(1 for p in _pods_of(state, rs) if is_active(p))
                    if created and active + len(created) > rs.replicas:  # the last creation found enough
                        path: list[tuple[A.Action | None, ClusterState]] = [(action, nxt)]
                        s: ClusterState | None = state
                        while s is not None:
                            prev, act = parent[s]
                            path.append((act, s))
                            s = prev
                        yield path[::-1]
            rep = model.canonical(nxt)
            if rep not in parent:
                parent[rep] = (state, action)
                frontier.append(rep)


def test_no_overshoot_in_the_first_10_000_states_of_a_scale_down_during_creation() -> None:
    """A bounded BFS (depth 14 or so) covers the 6-step behaviour of the finding below, which the old statement
    reported as an overshoot."""
    config = attrs.evolve(builtin("scale-down-during-creation").config, properties=("ReplicaSetNeverOvershoots",))
    result = check(ClusterModel(config), max_states=10_000)
    assert result.status == "bounded" and result.stats.depth > 8


@pytest.mark.slow
@pytest.mark.parametrize("name", ["scale-down-during-creation", "set-image-frontend"])
def test_scaling_down_or_rolling_out_keeps_the_guarantee_within_the_scenario_s_bound(name: str) -> None:
    """The built-in scenarios' own bound (200,000 states): no property is violated (`kubespec check NAME`)."""
    scenario = builtin(name)
    result = check(ClusterModel(scenario.config), max_states=scenario.max_states)
    assert result.status == "bounded", result.violation and [s.action for s in result.violation.trace]


def test_upstream_creates_from_its_cached_replicas_after_a_scale_down() -> None:
    """The old statement ("no pod is created while its ReplicaSet already has spec.replicas active pods in
    etcd") fails on today's Kubernetes: the Deployment controller writes replicas 1, and the ReplicaSet controller,
    whose cache still shows 2, creates the second pod (upstream does the same). The shortest such behaviour."""
    model = ClusterModel(attrs.evolve(builtin("scale-down-during-creation").config, properties=()))
    path = next(stale_creations(model, 50_000))
    texts = [model.describe(a) for a, _ in path[1:]]
    assert any("kubectl scale deployment/web --replicas=1" in t for t in texts)
    assert any("Scaled down replica set" in t for t in texts)
    last_action, last = path[-1]
    assert isinstance(last_action, A.Reconcile) and "SuccessfulCreate" in texts[-1]
    rs_before = path[-2][1].etcd.objects[last_action.key]
    assert isinstance(rs_before, ReplicaSet) and rs_before.replicas == 1
    assert not last.ghost.overshoots  # the restated property holds in that very step
    assert len(path) - 1 <= 8


def test_no_expectations_is_still_refuted_where_it_was() -> None:
    for name in ("replicaset-one-node", "web-two-nodes"):
        s = with_overrides(builtin(name), ("no-expectations",))
        result = check(ClusterModel(attrs.evolve(s.config, properties=("ReplicaSetNeverOvershoots",))))
        assert result.status == "violation", name


def test_the_ghost_counts_cached_pods_and_creations_the_cache_has_not_shown() -> None:
    etcd = store(list(builtin("replicaset-one-node").config.objects))
    rs = etcd.objects["replicasets/default/web"]
    assert isinstance(rs, ReplicaSet) and rs.replicas == 2
    template = new_pod(rs)
    # One pod in the cache, one created since (in etcd, not cached): 2 known, replicas 2 read -> an overshoot.
    etcd, first, _ = create(etcd, template)
    etcd, second, _ = create(etcd, template)
    assert isinstance(first.obj, Pod) and isinstance(second.obj, Pod)
    cached = (first.obj,)
    _, ok, ghost = create(etcd, template, Ghost(), CreatorRead(rs, cached))
    assert ok.ok and ghost is not None and ghost.overshoots == {"replicasets/default/web"}
    # The same with replicas 3 as read: no overshoot, whatever etcd says now.
    _, ok, ghost = create(etcd, template, Ghost(), CreatorRead(attrs.evolve(rs, replicas=3), cached))
    assert ghost == Ghost()
    # A cached pod that is terminating or failed is not counted; a cached orphan the selector matches is.
    failed = attrs.evolve(first.obj, status=PodStatus(phase="Failed"))
    orphan = attrs.evolve(second.obj, meta=attrs.evolve(second.obj.meta, owner=None))
    _, _, ghost = create(etcd, template, Ghost(), CreatorRead(rs, (failed, orphan)))
    assert ghost == Ghost()  # 0 + 1 (orphan) known: a second creation is fine
    _, _, ghost = create(etcd, template, Ghost(), CreatorRead(attrs.evolve(rs, replicas=1), (failed, orphan)))
    assert ghost is not None and ghost.overshoots
    # Creations by anyone else (no read) are not noted.
    session = Session(etcd, Ghost())
    assert session.create(template).ok and session.ghost == Ghost()


def test_the_property_reads_the_ghost() -> None:
    s = builtin("replicaset-one-node")
    from spec.cluster import initial_state

    state = initial_state(s.config)
    pred = PROPERTIES["ReplicaSetNeverOvershoots"].p
    assert pred(state)
    assert not pred(attrs.evolve(state, ghost=Ghost(overshoots=frozenset({"replicasets/default/web"}))))
