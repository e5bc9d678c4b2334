"""The controller manager's reconcile memo (spec/controllers/manager.py ``_reconcile``) against the plain
``reconcile``: its sync is memoised without the work queues (``_synced``) and what it did to its queue replayed,
which must give the same controller manager, writes, Events, failure and idleness as the reconcile itself, on
every queued key of the states a search reaches (built-in scenarios with crashes, minReadySeconds requeues,
failing syncs, Recreate rollouts, paused scaling and a terminating namespace)."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

import pytest

from spec import actions as A
from spec.apiserver import Session
from spec.controllers import manager, replicaset
from spec.controllers.manager import CONTROLLERS, _popped, _reconcile, _synced, reconcile, reconcile_options
from spec.model import ClusterModel
from spec.scenario import builtin
from spec.state import ClusterState, ControllerManager, ReplicaSet


def _plain(state: ClusterState, controller: str, key: str, guarded: bool, o: dict[str, Any]) -> tuple[Any, ...]:
    """The reconcile as ``_reconcile`` was before its sync was memoised apart from the queues."""
    kcm = state.kcm
    session = Session(state.etcd, state.ghost, guarded_bind=guarded)
    new, failed = reconcile(kcm, session, controller, key, **o)
    idle = not (failed or session.writes or session.events) and new == _popped(kcm, controller, key)
    readiness = o["readiness"]
    if idle and readiness is not None and controller == "replicaset":
        rs = kcm.get(key)
        idle = not (isinstance(rs, ReplicaSet) and rs.min_ready_seconds > 0
                    and rs.status.available_replicas < rs.status.ready_replicas)
    return new, failed, session.etcd, session.ghost, tuple(session.events), idle


def _compare(name: str, limit: int, seen: Counter[str]) -> None:
    config = builtin(name).config
    model = ClusterModel(config)
    guarded = "unguarded-bind" not in config.variants
    start = model.canonical(next(iter(model.init_states())))
    frontier, known = deque([start]), {start}
    while frontier and len(known) < limit:
        state = frontier.popleft()
        o = reconcile_options(state, config)
        for (controller, actor), queue in zip(CONTROLLERS, (state.kcm.rs_queue, state.kcm.deploy_queue), strict=True):
            for key in queue.queue:
                got = _reconcile(state.kcm, state.etcd, state.ghost, controller, key, o["expectations"], guarded,
                                 o["adoption_guard"], o["recreate_waits_for_pods"], o["readiness"],
                                 o["paused_scales"])
                assert got[:6] == _plain(state, controller, key, guarded, {
                    "expectations": o["expectations"], "adoption_guard": o["adoption_guard"],
                    "recreate_waits_for_pods": o["recreate_waits_for_pods"], "readiness": o["readiness"],
                    "paused_scales": o["paused_scales"]}), (name, controller, key)
                assert got[6] == A.Reconcile(actor, key, got[1], got[4])
                done = _synced(state.kcm.informers, state.kcm.expectations, state.etcd, state.ghost, controller, key,
                               o["expectations"], guarded, o["adoption_guard"], o["recreate_waits_for_pods"],
                               o["readiness"], o["paused_scales"])
                seen["replayed" if done is not None else "plain"] += 1
                if done is not None:
                    seen["requeued after"] += done[1] is not None
                    seen["failed"] += done[2]
                    seen["idle"] += got[5]
                    seen["with backoff or failures"] += bool(queue.waiting or queue.failures)
        for _, t in model.successors(state):
            t = model.canonical(t)
            if t not in known:
                known.add(t)
                frontier.append(t)


@pytest.mark.parametrize("name", ["web-two-nodes", "rollout-min-ready", "namespace-delete", "recreate-rollout",
                                  "rollout-paused-scale", "stale-replicaset"])
def test_the_reconcile_memo_is_the_plain_reconcile(name: str) -> None:
    manager._reconcile.cache_clear()
    manager._synced.cache_clear()
    seen: Counter[str] = Counter()
    try:
        _compare(name, 1500, seen)
    finally:
        manager._reconcile.cache_clear()
        manager._synced.cache_clear()
    assert seen["replayed"] > 0 and seen["plain"] == 0, seen
    if name == "rollout-min-ready":
        assert seen["requeued after"] > 0, seen  # the AddAfter after minReadySeconds is replayed
    if name != "stale-replicaset":
        # failed syncs (their backoff and failure count replayed by ``_finish``), keys with a backoff or failures
        # already pending, and idle reconciles (the eager no-op's premise) are all compared
        assert seen["failed"] > 0 and seen["with backoff or failures"] > 0 and seen["idle"] > 0, seen


def test_a_sync_that_touches_another_queue_falls_back_to_the_plain_reconcile(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were a sync to do more to the queues than an AddAfter of its own key (here: the ReplicaSet controller's
    sync also queues a Deployment key), ``_synced`` gives None and ``_reconcile`` runs ``reconcile`` itself."""
    real = replicaset.sync

    def touching(kcm: ControllerManager, *args: Any, **kwargs: Any) -> tuple[ControllerManager, bool]:
        new, failed = real(kcm, *args, **kwargs)
        return new.with_deploy_queue(new.deploy_queue.add("deployments/default/elsewhere")), failed

    monkeypatch.setattr(replicaset, "sync", touching)
    manager._reconcile.cache_clear()
    manager._synced.cache_clear()
    seen: Counter[str] = Counter()
    try:
        _compare("web-two-nodes", 300, seen)
    finally:
        manager._reconcile.cache_clear()
        manager._synced.cache_clear()
    assert seen["plain"] > 0, seen
