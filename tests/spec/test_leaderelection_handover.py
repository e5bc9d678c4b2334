"""kube-controller-manager's other controllers under leader election (spec.leaderelection, spec.controllers.manager
``running`` / ``Hosted``): the Job, StatefulSet, disruption and EndpointSlice controllers, the node lifecycle and
taint eviction controllers and the pod garbage collector run only in the acting replica; a replica that starts
acting starts them afresh (informers relisted, queues empty); a paused leader's stand frozen and run on when it
resumes. Each case holds within the stated bounds, and fails (or its mechanism is missing) without the handover:
``naive`` undoes it (every controller runs whoever leads, and nobody restarts it), as the model was before."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from checker import check
from spec import leaderelection as L
from spec import network
from spec.cluster import initial_state
from spec.component import Component
from spec.config import Config
from spec.controllers import job, manager, nodelifecycle, podgc, workloads
from spec.faults import FAILURE
from spec.model import ClusterModel
from spec.scenario import parse
from spec.state import ClusterState, Pod
from tests.spec.test_leaderelection import HOSTED, JOB, PDB, SCENARIO, SERVICE, STATEFULSET, _step, _steps

ELECTION = "leaderElection: {replicas: 2, pauses: 1}"
NODE_B = """---
apiVersion: v1
kind: Node
metadata: {name: node-b}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
"""


def _config(spec: str, objects: str, properties: tuple[str, ...] = ()) -> Config:
    config = parse(SCENARIO % spec + objects, "ha.yaml").config
    return attrs.evolve(config, properties=properties) if properties else config


@pytest.fixture
def naive(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The model without the handover: every hosted controller runs whether or not a replica acts, and no replica
    starts or stops them (what the refusals guarded against)."""
    for module in (workloads, job, podgc, nodelifecycle, manager):
        monkeypatch.setattr(module, "running", lambda state: True)
    monkeypatch.setattr(L, "_hosted", lambda: [])
    yield


# --- the refusals are lifted ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "objects"), HOSTED)
def test_what_was_refused_under_kube_controller_manager_election_is_modelled(spec: str, objects: str) -> None:
    config = _config((spec + "\n  " if spec else "") + ELECTION, objects)
    assert config.leader_election is not None and config.leader_election.controller_manager
    assert initial_state(config).leader is not None


# --- the mechanism ---------------------------------------------------------------------------------------------


def _pause_leader(state: ClusterState, config: Config) -> ClusterState:
    return _step(state, config, "pause (its clock and steps stop) kcm-0")


def _until_acquired(state: ClusterState, config: Config) -> ClusterState:
    """Steps (no fault, no resume) until a replica acquires the Lease and its controllers run."""
    for _ in range(80):
        le = state.leader
        assert le is not None
        if le.active >= 0:
            return state
        state = next(t for line, t in _steps(state, config) if not line.startswith("fault") and "resumes" not in line)
    raise AssertionError("no replica acquired")


def test_a_paused_leaders_job_controller_stands_still_and_a_new_leader_starts_its_own_afresh() -> None:
    config = _config(ELECTION, JOB)
    s = _step(initial_state(config), config, "job-controller reconciles jobs/default/pi")
    assert s.jobs is not None and s.jobs.expectations  # it created the pod and expects to see it
    paused = _pause_leader(s, config)
    le = paused.leader
    assert le is not None and le.active == -1 and le.frozen == 0
    assert paused.jobs == s.jobs  # frozen in place, expectations kept
    assert not manager.running(paused)
    assert not job.JOBS.enabled(paused, config) and not job.JOBS.timers(paused)
    taken = _until_acquired(paused, config)
    assert taken.leader is not None and taken.leader.active == 1
    assert taken.jobs is not None and not taken.jobs.expectations  # kcm-1's Job controller: fresh
    assert "jobs/default/pi" in taken.jobs.queue.queue
    assert taken.jobs.informer.rv > 0 and "jobs/default/pi" in taken.jobs.informer.cache  # listed
    pods = [k for k, o in taken.etcd.objects.items() if isinstance(o, Pod)]
    assert pods and all(k in job.shared_pods(taken) for k in pods)  # the shared pod informer listed them too


def test_a_resumed_leader_runs_on_with_its_own_job_controller() -> None:
    """Resumed before another replica took over: the Job controller it had (its expectations) runs on, on the
    parked pod cache that relists: it does not create a second pod (the case that broke JobActivePodsWithinParallelism
    when the Job controller ran beside the election)."""
    config = _config(ELECTION, JOB)
    s = _step(initial_state(config), config, "job-controller reconciles jobs/default/pi")
    resumed = _step(_pause_leader(s, config), config, "kcm-0 resumes")
    le = resumed.leader
    assert le is not None and le.active == 0 and le.frozen == -1
    assert resumed.jobs is not None and resumed.jobs.expectations == s.jobs.expectations  # type: ignore[union-attr]
    assert not any(k.startswith("pods/") for k in job.shared_pods(resumed))  # its stale cache, relisting
    assert all("Created pod" not in line for line, _ in _steps(resumed, config) if "job-controller" in line)


def test_with_no_replica_acting_the_hosted_controllers_have_no_informer_step_or_timer() -> None:
    """kcm-0 crashes while kcm-1 waits: nothing of the controller manager runs until kcm-1 acquires the Lease."""
    config = _config("faults: {controllerManagerCrashes: 1, nodeFailures: 1}\n  leaderElection: {replicas: 2}",
                     JOB + STATEFULSET + SERVICE + NODE_B)
    s = initial_state(config)
    s = _step(s, config, f"{FAILURE} nodes/node-a")  # the node lifecycle controller's grace timer starts
    assert nodelifecycle.NODE_LIFECYCLE.timers(s)
    s = _step(s, config, "crash and restart kcm-0")
    le = s.leader
    assert le is not None and le.active == -1 and le.frozen == -1
    assert s.informers()[:3] == [None] * 3
    layout = s.layout()
    for (who, _, _), inf in zip(layout.slots, s.informers(), strict=True):
        if who in ("kcm", "workloads", "jobs", "eps"):
            assert inf is None, who
    for c in L._hosted():
        assert not c.enabled(s, config) and not c.timers(s), c
    assert s.jobs is not None and not s.jobs.queue.queue and not s.jobs.informer.cache
    assert s.net.eps is not None and not s.net.eps.queue
    taken = _until_acquired(s, config)
    assert taken.jobs is not None and taken.jobs.queue.queue
    assert taken.workloads is not None and taken.workloads.sts_queue.queue
    assert taken.net.eps is not None and taken.net.eps.queue
    assert nodelifecycle.NODE_LIFECYCLE.timers(taken) == [nodelifecycle.NODE_MONITOR_GRACE_PERIOD_MS]  # afresh


BOUND_POD = """---
apiVersion: v1
kind: Pod
metadata: {name: web-a, labels: {app: web}}
spec:
  nodeName: node-a
  containers: [{name: web, image: nginx:1.25}]
"""
CRASH = "faults: {controllerManagerCrashes: 1%s}\n  leaderElection: {replicas: 2}"
NO_LEADER = [  # (spec, objects, the component, the steps that lead to it having work, or timers, with no leader)
    (CRASH % "", JOB, job.JOBS, ()),
    (CRASH % "", STATEFULSET, workloads.WORKLOADS, ()),
    (CRASH % "", PDB + BOUND_POD, workloads.WORKLOADS, ()),
    (CRASH % "", SERVICE + BOUND_POD, network.ENDPOINTSLICES, ()),
    (CRASH % ", nodeFailures: 1", NODE_B + BOUND_POD, nodelifecycle.NODE_LIFECYCLE, (f"{FAILURE} nodes/node-a",)),
    ('userActions: ["kubectl delete node node-a"]\n  ' + CRASH % "", NODE_B + BOUND_POD, podgc.POD_GC,
     ("kubectl delete node node-a",)),
]


def _leaderless(spec: str, objects: str, before: tuple[str, ...]) -> tuple[Config, ClusterState]:
    """kcm-0 crashes (kcm-1 has not taken over yet), then the steps ``before``."""
    config = _config(spec, objects)
    s = _step(initial_state(config), config, "crash and restart kcm-0")
    for match in before:
        s = _step(s, config, match)
    assert s.leader is not None and s.leader.active == -1
    return config, s


@pytest.mark.parametrize(("spec", "objects", "component", "before"), NO_LEADER)
def test_with_no_leader_a_hosted_controller_has_no_work_or_timer(spec: str, objects: str, component: Component,
                                                                 before: tuple[str, ...]) -> None:
    config, s = _leaderless(spec, objects, before)
    assert not component.enabled(s, config) and not component.timers(s) and not component.busy(s, config)


def test_a_kube_proxy_delivery_while_no_replica_acts_keeps_the_endpointslice_controllers_informers() -> None:
    """The EndpointSlice controller's informers are absent from ``informer_slots`` while no replica acts; a change
    of another informer of the same slot (a kube-proxy's) leaves them as they are (it once wrote None into them)."""
    config, s = _leaderless(CRASH % "", SERVICE + BOUND_POD, ())
    assert s.net.eps is not None and s.net.proxies
    slot = next(i for i, (who, _, _) in enumerate(s.layout().slots) if who == "proxy")
    proxy = s.net.proxies[0].informer
    moved = s.with_slots({slot: attrs.evolve(proxy, high_water=proxy.high_water + 1)})
    assert moved.net.eps is not None and moved.net.eps.informers == s.net.eps.informers
    assert moved.net.proxies[0].informer.high_water == proxy.high_water + 1


@pytest.mark.parametrize(("spec", "objects", "component", "before"), NO_LEADER)
def test_without_the_handover_it_runs_with_no_leader(naive: None, spec: str, objects: str, component: Component,
                                                     before: tuple[str, ...]) -> None:
    """The same states without the handover: the controller has work (or a timer running) while no replica
    leads, as it had before the refusals."""
    config, s = _leaderless(spec, objects, before)
    assert component.enabled(s, config) or component.timers(s)


@pytest.mark.parametrize("spec", [
    ELECTION,
    "faults: {controllerManagerCrashes: 1, nodeFailures: 1}\n  leaderElection: {replicas: 2, pauses: 1}",
])
def test_each_components_enabled_is_its_steps_with_every_hosted_controller(spec: str) -> None:
    from tests.spec.test_spec_differential import enabled_actors_agree

    assert enabled_actors_agree(_config(spec, JOB + STATEFULSET + SERVICE + PDB + NODE_B), 2_000) > 100


# --- the properties, with and without the handover ---------------------------------------------------------------


def _job_config() -> Config:
    return _config(ELECTION, JOB, ("JobActivePodsWithinParallelism", "JobNeverExceedsCompletions"))


def test_job_under_election_holds_within_bounds() -> None:
    """Bounds: 6,000 states of a Job (1 completion, parallelism 1) under two replicas and one pause (exhaustively:
    the built-in ha-job)."""
    result = check(ClusterModel(_job_config()), max_states=6_000)
    assert result.status == "bounded", result.verdict()


def test_job_without_the_handover_creates_a_second_pod(naive: None) -> None:
    result = check(ClusterModel(_job_config()), max_states=6_000)
    assert result.status == "violation" and result.violation is not None, result.verdict()
    assert result.violation.property == "JobActivePodsWithinParallelism"



def _with_election(name: str) -> Config:
    """The built-in scenario ``name`` (its faults and commands) from its converged start, under two
    kube-controller-manager replicas with one pause."""
    from importlib import resources

    text = resources.files("spec.scenarios").joinpath(name + ".yaml").read_text()
    extra = "  leaderElection: {replicas: 2, clockSkew: 1s, pauses: 1}\n"
    extra += "" if "start: converged" in text else "  start: converged\n"
    text = text.replace("\nspec:\n", "\nspec:\n" + extra, 1)
    return parse(text, f"{name}.yaml").config


CONVERGED = [  # (built-in, the properties of the controllers it hands over)
    ("statefulset-partition", ("AtMostOnePodPerStatefulIdentity",)),
    ("service-one-node", ("NoDuplicateEndpointSlices", "ServiceRoutesEventuallyMatchReadyEndpoints")),
    ("drain-with-pdb-replicaset", ("PodDisruptionBudgetRespected", "ReplicaSetNeverOvershoots")),
    ("deleted-node", ("ReplicaSetNeverOvershoots", "EventualReplicaConvergence")),
    ("node-failure", ("EvictionOnlyForUntoleratedTaints", "ReplicaSetNeverOvershoots")),
    ("node-partition", ("EvictionOnlyForUntoleratedTaints", "ReplicaSetNeverOvershoots")),
]


@pytest.mark.parametrize(("name", "properties"), CONVERGED)
def test_each_handed_over_controller_keeps_its_promises_under_election(name: str, properties: tuple[str, ...]) -> None:
    """Bounds: the first 2,500 states (BFS) from the converged start, two replicas, one pause, the scenario's own
    fault or command; deeper: ``kubespec check ... --simulate`` (docs/spec.md, leader election)."""
    config = attrs.evolve(_with_election(name), properties=properties)
    result = check(ClusterModel(config), max_states=2_500)
    assert result.status in ("ok", "bounded"), result.verdict()


@pytest.mark.slow
def test_ha_job_holds_exhaustively() -> None:
    """The built-in ha-job: every property, every state (docs/spec.md gives the count)."""
    from spec.scenario import builtin

    result = check(ClusterModel(builtin("ha-job").config))
    assert result.status == "ok", result.verdict()
