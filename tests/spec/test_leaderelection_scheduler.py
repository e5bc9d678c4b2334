"""kube-scheduler's replicas under leader election (spec.leaderelection's SchedulerElection, spec.scheduler):
the kube-scheduler Lease, standbys whose informers and queues are kept up to date, only a leader that is not paused
schedules, a paused leader's overlap until its renew deadline, the crash of a replica, the scenario ha-scheduler and
the variant scheduler-keeps-scheduling (kubernetes#81306)."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from checker import check
from checker.errors import InputError
from spec import actions as A
from spec.cluster import initial_state, next_steps
from spec.config import Config
from spec.ha_properties import at_most_one_acting_leader, explain_acting, leader_election_fencing
from spec.leaderelection import SCHEDULER_LEASE_KEY
from spec.model import ClusterModel
from spec.scenario import builtin, parse, with_overrides
from spec.state import ClusterState, Lease, Pod

SCENARIO = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: ha-sched}
spec:
  %s
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - {name: web, image: nginx:1.25}
"""
ELECTION = "leaderElection: {components: [kube-scheduler], replicas: 2, clockSkew: 1s%s}"


def _config(extra: str = "", faults: str = "", properties: tuple[str, ...] = ()) -> Config:
    spec = (faults + "\n  " if faults else "") + ELECTION % extra
    config = parse(SCENARIO % spec, "ha-sched.yaml").config
    return attrs.evolve(config, properties=properties) if properties else config


def _steps(state: ClusterState, config: Config) -> list[tuple[A.Action, ClusterState]]:
    return list(next_steps(state, config))


def _step(state: ClusterState, config: Config, match: str) -> ClusterState:
    for a, t in _steps(state, config):
        if match in A.describe(a):
            return t
    raise AssertionError(f"no step {match!r} among {[A.describe(a) for a, _ in _steps(state, config)]}")


def _until(state: ClusterState, config: Config, done: Callable[[ClusterState], bool],
           avoid: tuple[str, ...] = ("fault:", "resumes", " assumes ", " bind")) -> ClusterState:
    for _ in range(80):
        if done(state):
            return state
        state = next(t for a, t in _steps(state, config) if not any(x in A.describe(a) for x in avoid))
    raise AssertionError("not reached")


def _bound(state: ClusterState) -> str:
    pod = state.etcd.objects["pods/default/web"]
    assert isinstance(pod, Pod)
    return pod.node_name


def _actors(state: ClusterState, config: Config) -> set[str]:
    return {a.actor for a, _ in _steps(state, config)}


def test_one_lease_and_a_warm_standby_that_does_not_schedule() -> None:
    """kube-scheduler-0 holds kube-system/kube-scheduler; kube-scheduler-1 has listed and queued the pod (its informers
    start before leader election: cmd/kube-scheduler/app/server.go) but takes no scheduling step."""
    config = _config()
    s = initial_state(config)
    lease = s.etcd.objects[SCHEDULER_LEASE_KEY]
    assert isinstance(lease, Lease) and lease.holder_identity == "kube-scheduler-0_0"
    assert [x.name for x in s.schedulers] == ["kube-scheduler-0", "kube-scheduler-1"]
    assert all(len(x.queue) == 1 for x in s.schedulers)  # both queued the pod
    assert s.leader is None  # kube-controller-manager is not under election here
    actors = _actors(s, config)
    assert "kube-scheduler-0" in actors and "kube-scheduler-1" not in actors


def test_a_crashed_leader_is_replaced_and_the_pod_is_scheduled_by_the_new_one() -> None:
    config = _config(faults="faults: {schedulerCrashes: 1}")
    s = _step(initial_state(config), config, "fault: crash and restart kube-scheduler-0")
    le = s.scheduler_election
    assert le is not None and not le.replicas[0].leading and le.replicas[0].incarnation == 1
    assert "kube-scheduler-0" not in _actors(s, config)  # no replica schedules until the Lease expires
    s = _until(s, config, lambda t: t.scheduler_election is not None
               and any(r.leading for r in t.scheduler_election.replicas))
    lease = s.etcd.objects[SCHEDULER_LEASE_KEY]
    assert isinstance(lease, Lease) and lease.lease_transitions == 1
    leader = next(r.name for r in s.scheduler_election.replicas if r.leading)  # type: ignore[union-attr]
    s = _step(s, config, f"{leader} assumes pods/default/web")
    s = _step(s, config, f"{leader} binds")
    assert _bound(s) == "node-a"


def test_a_paused_leader_schedules_beside_the_new_one_until_its_renew_deadline() -> None:
    """The overlap upstream allows (no fencing): kube-scheduler-0 freezes before scheduling the pod; kube-scheduler-1
    takes the Lease; kube-scheduler-0 resumes inside its renew round and schedules from its own queue; the API
    server's binding precondition keeps the pod bound once; kube-scheduler-0 exits at its renew deadline and
    restarts (its scheduler relists)."""
    config = _config(", pauses: 1")
    s = _step(initial_state(config), config, "fault: pause (its clock and steps stop) kube-scheduler-0")
    assert "kube-scheduler-0" not in _actors(s, config)
    s = _until(s, config, lambda t: t.scheduler_election is not None and t.scheduler_election.replicas[1].leading)
    s = _step(s, config, "kube-scheduler-0/elector resumes")
    assert not leader_election_fencing(s) and at_most_one_acting_leader(s)
    assert {"kube-scheduler-0", "kube-scheduler-1"} <= _actors(s, config)
    s = _step(s, config, "kube-scheduler-1 assumes")
    s = _step(s, config, "kube-scheduler-0 assumes")
    s = _step(s, config, "kube-scheduler-1 binds")
    assert _bound(s) == "node-a"
    s = _step(s, config, "kube-scheduler-0 fails to bind")  # the binding precondition: already assigned
    assert _bound(s) == "node-a"
    lines = []
    le = s.scheduler_election
    while le is not None and le.replicas[0].incarnation == 0:
        action, s = next((a, t) for a, t in _steps(s, config) if not isinstance(a, A.Fault))
        lines.append(A.describe(action))
        assert at_most_one_acting_leader(s)
        le = s.scheduler_election
    assert "kube-scheduler-0/elector stops leading: Leaderelection lost" in lines[-1]
    assert s.schedulers[0].informer.rv == s.etcd.revision and not s.schedulers[0].assumed  # restarted: relisted


def test_the_variant_keeps_a_scheduler_acting_past_its_deadline() -> None:
    config = with_overrides(parse(SCENARIO % (ELECTION % ", pauses: 1"), "x.yaml"),
                            variants=("scheduler-keeps-scheduling",)).config
    result = check(ClusterModel(attrs.evolve(config, properties=("AtMostOneActingLeader",))))
    assert result.status == "violation" and result.violation is not None
    why = explain_acting(result.violation.trace[-1].state)
    assert "kube-scheduler-0 schedules and binds (the Lease is kube-scheduler-1_0's; its renew deadline passed" in why


@pytest.mark.parametrize(("skew", "status"), [("2900ms", "ok"), ("3s", "violation")])
def test_skew_beyond_the_margin_breaks_the_guarantee_for_the_scheduler_too(skew: str, status: str) -> None:
    config = parse(SCENARIO % f"leaderElection: {{components: [kube-scheduler], replicas: 2, clockSkew: {skew}, "
                   "renewFailures: 5}", "x.yaml").config
    assert check(ClusterModel(attrs.evolve(config, properties=("AtMostOneActingLeader",)))).status == status


@pytest.mark.parametrize("spec", [
    ELECTION % ", pauses: 1",
    "faults: {schedulerCrashes: 1}\n  leaderElection: {components: [kube-scheduler], renewFailures: 2, clockSkew: 3s}",
    "variants: [scheduler-keeps-scheduling]\n  " + ELECTION % ", pauses: 1",
    "faults: {controllerManagerCrashes: 1}\n  leaderElection: {components: [kube-controller-manager, "
    "kube-scheduler], pauses: 1}",
])
def test_each_components_enabled_is_its_steps(spec: str) -> None:
    from tests.spec.test_spec_differential import enabled_actors_agree

    assert enabled_actors_agree(parse(SCENARIO % spec, "x.yaml").config, 3_000) > 100


def test_both_components_elect_their_own_leaders() -> None:
    config = parse(SCENARIO % "leaderElection: {components: [kube-controller-manager, kube-scheduler], pauses: 1}",
                   "x.yaml").config
    s = initial_state(config)
    assert s.leader is not None and s.scheduler_election is not None
    assert s.budget.controller_manager_pauses == 1 and s.budget.scheduler_pauses == 1
    assert {"leases/kube-system/kube-controller-manager", SCHEDULER_LEASE_KEY} <= set(s.etcd.objects)


@pytest.mark.parametrize(("spec", "message"), [
    ("leaderElection: {components: [kube-proxy]}", "components: expected a list of distinct components among"),
    ("leaderElection: {components: []}", "components: expected a list"),
    ("leaderElection: {components: kube-scheduler}", "components: expected a list"),
    ("leaderElection: {components: [kube-scheduler, kube-scheduler]}", "distinct"),
    ("variants: [scheduler-keeps-scheduling]\n  leaderElection: {pauses: 1}", "two kube-scheduler replicas"),
    ("variants: [scheduler-keeps-scheduling]\n  " + ELECTION % "", "pauses of at least 1"),
    ("variants: [leader-keeps-acting]\n  " + ELECTION % ", pauses: 1", "two kube-controller-manager replicas"),
])
def test_bad_input_is_one_line(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        with_overrides(parse(SCENARIO % spec, "x.yaml"))


@pytest.mark.parametrize(("extra", "faults"), [("", "faults: {schedulerCrashes: 1}"), (", pauses: 1", "")])
def test_the_pod_is_scheduled_across_any_failover(extra: str, faults: str) -> None:
    """Convergence across a scheduler failover (ESR), a crash or a pause of a replica at any point: the pod is
    eventually scheduled, bound once, and at most one replica acts but for a resumed leader (exhaustive)."""
    config = _config(extra, faults=faults, properties=("EveryFeasiblePodEventuallyScheduled", "AtMostOneActingLeader",
                                                       "NoDoubleScheduling"))
    result = check(ClusterModel(config))
    assert result.status == "ok", result.verdict()
    assert result.status_of("EveryFeasiblePodEventuallyScheduled") == "holds"


@pytest.mark.slow
def test_ha_scheduler_holds_and_refutes_the_variant() -> None:
    """The built-in scenario: every property holds exhaustively (the pod is scheduled across any failover); the
    variant breaks AtMostOneActingLeader."""
    scenario = builtin("ha-scheduler")
    result = check(ClusterModel(scenario.config))
    assert result.status == "ok", result.verdict()
    assert result.status_of("EveryFeasiblePodEventuallyScheduled") == "holds"
    bad = with_overrides(scenario, variants=("scheduler-keeps-scheduling",))
    result = check(ClusterModel(bad.config))
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "AtMostOneActingLeader"
