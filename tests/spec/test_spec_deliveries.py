"""A watch delivery's step (``spec.reflector.Reflectors.slot_steps``) is the plain composition it stands for.

With one API server a delivery is memoised (``spec.reflector._delivery``) and settled before its owner's handlers
run, in one rebuild of the state (``_settled_with``); the meaning is: store the delivered informer
(``ClusterState.with_informer``), run the owner's handlers (``Watcher.handle``), then ``spec.watchcache.settle``.
These tests compute both on every pending delivery of the states a breadth-first search reaches (the reduced
model's representatives and their successors), so a handler that read or changed what ``settle`` changes (etcd's
history, the informers' positions) would fail them.
"""

from __future__ import annotations

import pytest

from spec import actions as A
from spec import informer
from spec.cluster import REFLECTORS
from spec.config import Config
from spec.model import ClusterModel
from spec.scenario import builtin, builtin_names
from spec.state import ClusterState
from spec.watchcache import settle
from tests.spec.walks import expanded_and_successors

FAST = ("web-two-nodes", "service-web", "service-create", "stale-replicaset", "job-completions", "daemonset-two-nodes",
        "pvc-delete-reclaim", "cronjob-replace", "replicationcontroller-three-two-running", "statefulset-partition",
        "ha-controller-manager", "drain-with-pdb", "node-partition")
"""Deliveries to every kind of informer owner within 150 states (controller manager, scheduler, kubelets, the
EndpointSlice controller, kube-proxy, CoreDNS, workloads, Jobs, DaemonSets, volumes, CronJobs,
ReplicationControllers), stale consistency and leader election."""


def plain_deliveries(state: ClusterState, config: Config) -> list[tuple[A.Deliver, ClusterState]]:
    """Every informer's next delivery by the definition: ``spec.informer.deliver``, stored, handled, settled."""
    out: list[tuple[A.Deliver, ClusterState]] = []
    for who, index, scope, inf in state.informer_slots():
        if inf is None or inf.expired:
            continue
        i = informer.next_event(inf, state.etcd)
        if i is None:
            continue
        event = state.etcd.history[i]
        new, key, old, obj = informer.deliver(inf, state.etcd, scope)
        after = settle(REFLECTORS.handle(state, who, index, new, ((key, old, obj),)), config)
        out.append((A.Deliver(REFLECTORS.actor_of(state, who, index), event.type, key, event.rv), after))
    return out


def compare(name: str, max_states: int) -> int:
    """Breadth-first over ``name``'s representatives: at each state and each successor, the reflectors'
    deliveries equal the plain ones. The number of deliveries compared."""
    config = builtin(name).config
    compared = 0
    for state in expanded_and_successors(ClusterModel(config), max_states):
        if state.apiservers is not None:
            continue
        steps = [(a, t) for a, t in REFLECTORS.steps(state, config) if isinstance(a, A.Deliver)]
        assert steps == plain_deliveries(state, config), name
        compared += len(steps)
    return compared


@pytest.mark.parametrize("name", FAST)
def test_deliveries_are_store_handle_settle(name: str) -> None:
    assert compare(name, 150) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in builtin_names() if n not in FAST])
def test_deliveries_are_store_handle_settle_everywhere(name: str) -> None:
    compare(name, 400)  # some (ha-apiservers, ha-paused-leader) have no delivery of this path within the bound
