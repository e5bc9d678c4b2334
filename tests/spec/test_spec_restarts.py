"""The generic restart (``spec.component.Restarts``, ``spec.faults.CRASHES``): a crash of a process restarts every
component that names it as its host, and only those; what each loses is its own ``restart``."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

import spec.cluster as cluster
from spec import actions as A
from spec.component import Base, Host, Process
from spec.config import Config
from spec.faults import CRASHES, FAULTS, fault_steps
from spec.scenario import builtin
from spec.state import Budget, ClusterState


class Probe(Base):
    """A controller that declares only its host: it records each restart it is given."""

    name = "probe"

    def __init__(self, host: str) -> None:
        self.host = host
        self.restarts: list[tuple[Process, int]] = []

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        self.restarts.append((process, revision))
        return state


@pytest.fixture
def probe() -> Iterator[Probe]:
    """A new component in the controller manager, one line in the composition (before the clock)."""
    p = Probe(Host.CONTROLLER_MANAGER)
    saved = cluster.COMPONENTS
    cluster.COMPONENTS = (*saved[:-1], p, saved[-1])
    try:
        yield p
    finally:
        cluster.COMPONENTS = saved


def _start(name: str, **budget: int) -> tuple[ClusterState, Config]:
    config = attrs.evolve(builtin(name).config, budget=Budget(**budget))
    return cluster.initial_state(config), config


def test_a_controller_in_the_controller_manager_restarts_with_it(probe: Probe) -> None:
    state, config = _start("web-two-nodes", controller_manager_crashes=1, scheduler_crashes=1, kubelet_restarts=1,
                           api_server_restarts=1)
    steps = list(fault_steps(state, config))
    crashes = [a for a, _ in steps if isinstance(a, A.Fault) and a.target == Host.CONTROLLER_MANAGER]
    assert crashes, [a for a, _ in steps]
    # one restart per controller-manager crash, with its revision; none for the scheduler, kubelets, API server
    assert probe.restarts == [(Process(Host.CONTROLLER_MANAGER, Host.CONTROLLER_MANAGER), a.rv) for a in crashes]


def test_a_component_of_another_process_does_not_restart(probe: Probe) -> None:
    probe.host = Host.KUBE_PROXY  # no fault restarts kube-proxy
    state, config = _start("web-two-nodes", controller_manager_crashes=1, scheduler_crashes=1, kubelet_restarts=1,
                           api_server_restarts=1)
    assert list(fault_steps(state, config)) and probe.restarts == []


def test_each_crash_restarts_exactly_its_process() -> None:
    state, config = _start("web-two-nodes", controller_manager_crashes=1, scheduler_crashes=1, kubelet_restarts=1,
                           api_server_restarts=1)
    targets = [a.target for a, _ in fault_steps(state, config)]
    nodes = [k.node for k in state.kubelets]
    assert sorted(set(targets)) == sorted({Host.CONTROLLER_MANAGER, Host.APISERVER, state.schedulers[0].name,
                                          *(f"kubelet/{n}" for n in nodes)})
    for a, after in fault_steps(state, config):
        if a.target == f"kubelet/{nodes[0]}":
            # the other kubelet, the scheduler and the controller manager are untouched; the runtime is kept
            assert after.kubelets[1] == state.kubelets[1] and after.schedulers == state.schedulers
            assert after.kcm == state.kcm and after.kubelets[0].runtime == state.kubelets[0].runtime
            assert after.budget.kubelet_restarts == 0
        elif a.target == state.schedulers[0].name:
            assert after.kubelets == state.kubelets and after.kcm == state.kcm
            assert after.budget.scheduler_crashes == 0
        elif a.target == Host.APISERVER:
            assert after.etcd.history == () and after.etcd.compacted == state.etcd.revision
            assert after.budget.api_server_restarts == 0


def test_two_schedulers_restart_one_at_a_time() -> None:
    """``unguarded-bind`` runs two scheduler processes: a crash restarts one of them (a pod queued by neither
    shows it: the restarted one queues it again)."""
    config = attrs.evolve(builtin("pod-two-nodes").config, budget=Budget(scheduler_crashes=1),
                          variants=("unguarded-bind",))
    state = cluster.initial_state(config)
    assert len(state.schedulers) == 2
    # empty both queues, so that the restarted scheduler is the one whose queue holds the pod again
    drained = state._with(schedulers=tuple(attrs.evolve(s, queue=()) for s in state.schedulers))
    for a, after in fault_steps(drained, config):
        restarted = [i for i, s in enumerate(state.schedulers) if s.name == a.target]
        assert len(restarted) == 1
        other = 1 - restarted[0]
        assert after.schedulers[other] == drained.schedulers[other]
        assert after.schedulers[restarted[0]].queue


def test_every_crash_has_a_host_and_every_watcher_a_process() -> None:
    hosts = {getattr(c, "host", None) for c in cluster.COMPONENTS}
    assert all(crash.host in hosts for crash in CRASHES)
    for c in cluster.COMPONENTS:
        if hasattr(c, "slot"):  # it owns informers: it runs in some process
            assert getattr(c, "host", None) is not None, c


def test_enabled_follows_the_crash_table() -> None:
    state, config = _start("web-two-nodes", scheduler_crashes=1)
    assert "fault" in FAULTS.enabled(state, config)
    none = state._with(schedulers=())
    assert "fault" not in FAULTS.enabled(none, config) and not list(fault_steps(none, config))


def _hand_listed_kcm_restart(state: ClusterState, config: Config, rv: int) -> ClusterState:
    """What spec.faults did before the generic restart: each slot that restarts with kube-controller-manager,
    listed by hand (the StatefulSet and disruption controllers after the controller manager's pod informer)."""
    from spec.controllers import manager, nodelifecycle, podgc
    from spec.controllers.workloads import restart_slot
    from spec.network import kcm_restarted
    from spec.watchcache import settle

    etcd = state.etcd
    budget = attrs.evolve(state.budget, controller_manager_crashes=state.budget.controller_manager_crashes - 1)
    new = attrs.evolve(state, budget=budget, kcm=manager.restart(etcd, state.kcm, rv),
                       lifecycle=nodelifecycle.restarted(state.lifecycle), podgc=podgc.restarted(state.podgc),
                       net=kcm_restarted(state.net, etcd, rv))
    if new.workloads is not None:
        new = new._with(workloads=restart_slot(new, rv))
    return settle(new, config)


@pytest.mark.parametrize("name", ["service-web", "drain-with-pdb", "node-failure", "web-two-nodes"])
def test_the_generic_controller_manager_restart_is_the_hand_listed_one(name: str) -> None:
    """On states along a walk of each scenario (with a controller-manager crash to spend): the EndpointSlice
    controller (its queue, tracker, informers), the StatefulSet and disruption controllers, the node lifecycle
    controller and the pod GC restart exactly as they did when spec.faults listed them."""
    import random

    config = attrs.evolve(builtin(name).config, budget=Budget(controller_manager_crashes=1))
    state = cluster.initial_state(config)
    rng = random.Random(7)
    crashes = 0
    for _ in range(25):
        for a, after in fault_steps(state, config):
            if a.target == Host.CONTROLLER_MANAGER:
                crashes += 1
                assert after == _hand_listed_kcm_restart(state, config, a.rv)
                if after.net.eps is not None:
                    assert after.net.eps.tracker == () and set(after.net.eps.queue) == {
                        k for k in state.etcd.objects if k.startswith("services/")}
        steps = [(a, t) for a, t in cluster.next_steps(state, config) if not isinstance(a, A.Fault)]
        if not steps:
            break
        state = rng.choice(steps)[1]
    assert crashes >= 10
