"""A step settled before its state is built (``spec.watchcache.settled_step``: the kubelets' and schedulers' steps,
the controller manager's reconciles) is the plain composition it stands for: the step's changes, then
``spec.watchcache.settle``. The tests compute both for every such step of the states a breadth-first search reaches
(the reduced model's representatives and their successors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from spec import kubelet, scheduler
from spec.cluster import next_steps
from spec.controllers import manager
from spec.model import ClusterModel
from spec.scenario import builtin
from spec.state import ClusterState, Etcd
from spec.watchcache import settle
from tests.spec.walks import expanded_and_successors

FAST = ("web-two-nodes", "stale-replicaset", "node-partition", "service-web", "drain-with-pdb", "ha-controller-manager",
        "replicaset-five-three-running")
"""Deployments, stale lists, partitions, Services (pod addresses), workloads, leader election."""


def plain(state: ClusterState, config: Any, etcd: Etcd, **changes: object) -> ClusterState:
    """``settled_step`` by its definition."""
    return settle(state._with(etcd=etcd, **changes), config)


def compare(name: str, max_states: int, patch: Callable[[], Any], unpatch: Callable[[], Any]) -> int:
    """Breadth-first over ``name``'s representatives: every state's and successor's steps (``next_steps``) equal
    the steps with ``settled_step`` replaced by ``plain``. The number of steps compared."""
    config = builtin(name).config
    compared = 0
    for state in expanded_and_successors(ClusterModel(config), max_states):
        steps = list(next_steps(state, config))
        patch()
        try:
            expected = list(next_steps(state, config))
        finally:
            unpatch()
        assert steps == expected, name
        compared += len(steps)
    return compared


@pytest.mark.parametrize("name", FAST)
def test_steps_settled_before_built_are_built_then_settled(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    modules = (kubelet, scheduler, manager)
    saved = [m.settled_step for m in modules]

    def patch() -> None:
        for m in modules:
            monkeypatch.setattr(m, "settled_step", plain)

    def unpatch() -> None:
        for m, f in zip(modules, saved, strict=True):
            monkeypatch.setattr(m, "settled_step", f)

    assert compare(name, 150, patch, unpatch) > 0
