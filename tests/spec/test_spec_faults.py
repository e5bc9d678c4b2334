"""A crash's step memoised on what the crash keeps (``spec.faults._crash_step``, ``spec.component.Forgets``) is the
plain composition it stands for: the process's components restart (``spec.component.restart``) on the state with
one fault of the budget spent, then ``spec.watchcache.settle``. The tests compute both for every crash of every
state a breadth-first search reaches (the reduced model's representatives and their successors), so a restart
that read more of the forgotten slot than its ``kept`` says would fail them."""

from __future__ import annotations

import attrs
import pytest

from spec import actions as A
from spec import informer
from spec.cluster import COMPONENTS
from spec.component import Forgets, forgetting, restart
from spec.config import Config
from spec.controllers.manager import CONTROLLER_MANAGER
from spec.faults import CRASHES, fault_steps
from spec.model import ClusterModel
from spec.scenario import builtin
from spec.state import ClusterState
from spec.watchcache import settle
from tests.spec.walks import expanded_and_successors

FAST = ("web-two-nodes", "stale-replicaset", "stale-replicaset+stale-relist", "cronjob-crash", "daemonset-two-nodes",
        "job-ttl-after-finished")
"""Built-ins with a controller-manager crash: Deployments, stale lists (with the ``stale-relist`` variant a
restart's list may be served below an informer's high-water mark: ``kept`` then tells the states apart), CronJobs,
DaemonSets, Jobs and their TTL controller (components the process also hosts). "+v": with the variant v."""
SLOW = ("daemonset-rolling-update", "hpa-controller-manager-crash", "web-three-nodes")


def plain_crashes(state: ClusterState, config: Config) -> list[tuple[A.Fault, ClusterState]]:
    """Every crash's step by the definition: restart on the spent state, then settle."""
    out: list[tuple[A.Fault, ClusterState]] = []
    etcd = state.etcd
    for crash in CRASHES:
        budget = getattr(state.budget, crash.budget)
        if not budget:
            continue
        spent = state._with(budget=attrs.evolve(state.budget, **{crash.budget: budget - 1}))
        revisions = informer.relist_revisions(config, etcd.revision, 0, etcd, True) if crash.lists else [0]
        for process in crash.processes(state):
            for rv in revisions:
                new = restart(COMPONENTS, spent, config, process, rv if crash.lists else etcd.revision)
                out.append((A.Fault("fault", crash.label, process.name, rv), settle(new, config)))
    return out


def compare(name: str, max_states: int) -> int:
    """Breadth-first over ``name``'s representatives: at each state and each successor, the faults' crash steps
    equal the plain ones. The number of crash steps compared."""
    name, *variants = name.split("+")
    config = builtin(name).config
    config = attrs.evolve(config, variants=config.variants | frozenset(variants))
    compared = 0
    labels = {c.label for c in CRASHES}
    for state in expanded_and_successors(ClusterModel(config), max_states):
        steps = [(a, t) for a, t in fault_steps(state, config) if isinstance(a, A.Fault) and a.kind in labels]
        assert steps == plain_crashes(state, config), name
        compared += len(steps)
    return compared


def test_the_controller_manager_declares_what_its_restart_keeps() -> None:
    """The controller manager is the first component its process hosts, so its ``kept`` is used."""
    assert isinstance(CONTROLLER_MANAGER, Forgets)
    assert forgetting(COMPONENTS, CONTROLLER_MANAGER.host) is CONTROLLER_MANAGER  # type: ignore[arg-type]


@pytest.mark.parametrize("name", FAST)
def test_crashes_are_restart_then_settle(name: str) -> None:
    assert compare(name, 300) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW)
def test_crashes_are_restart_then_settle_further(name: str) -> None:
    assert compare(name, 3000) > 0
