"""Leader election of kube-controller-manager's replicas (spec.leaderelection): the Lease, the electors' steps,
the pause and crash faults, the properties and the finding, the variant, and the scenario's bad input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from checker import check
from checker.errors import InputError
from spec import actions as A
from spec.cluster import initial_state, next_steps
from spec.config import Config
from spec.ha_properties import at_most_one_acting_leader, leader_election_fencing
from spec.leaderelection import LEASE_KEY, parse_duration
from spec.model import ClusterModel
from spec.properties import replicaset_never_overshoots
from spec.scenario import load, parse, with_overrides
from spec.state import ClusterState, Lease, Pod

SCENARIO = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: ha}
spec:
  %s
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
"""


def _config(spec: str, properties: tuple[str, ...] = ()) -> Config:
    config = parse(SCENARIO % spec, "ha.yaml").config
    return attrs.evolve(config, properties=properties) if properties else config


def _steps(state: ClusterState, config: Config) -> list[tuple[str, ClusterState]]:
    return [(A.describe(a), t) for a, t in next_steps(state, config)]


def _step(state: ClusterState, config: Config, match: str) -> ClusterState:
    for line, t in _steps(state, config):
        if match in line:
            return t
    raise AssertionError(f"no step {match!r} among {[line for line, _ in _steps(state, config)]}")


def _until(state: ClusterState, config: Config, done: Callable[[ClusterState], bool],
           avoid: tuple[str, ...] = ("fault", "resumes")) -> ClusterState:
    """Take the first step whose description contains none of ``avoid`` until ``done``."""
    for _ in range(60):
        if done(state):
            return state
        state = next(t for line, t in _steps(state, config) if not any(x in line for x in avoid))
    raise AssertionError("not reached")


def _lease(state: ClusterState) -> Lease:
    lease = state.etcd.objects[LEASE_KEY]
    assert isinstance(lease, Lease)
    return lease


def test_the_first_replica_holds_the_lease_and_renews_it_every_retry_period() -> None:
    config = _config("leaderElection: {replicas: 2}")
    s = initial_state(config)
    assert _lease(s).holder_identity == "kcm-0_0" and _lease(s).lease_duration_seconds == 15
    assert s.leader is not None and s.leader.active == 0 and s.leader.replicas[1].expires == 15_000
    s = _step(s, config, "2 s pass")
    rv = s.etcd.revision
    s = _step(s, config, "kcm-0 renews")
    assert s.etcd.revision == rv + 1 and _lease(s).holder_identity == "kcm-0_0"
    s = _step(s, config, "kcm-1 waits")
    assert s.leader is not None and s.leader.replicas[1].expires == 15_000  # it observed the renewal


def test_a_crashed_leader_is_replaced_after_the_lease_duration_on_the_candidates_clock() -> None:
    config = _config("faults: {controllerManagerCrashes: 1}\n  leaderElection: {replicas: 2, clockSkew: 1s}")
    s = _step(initial_state(config), config, "fault: crash and restart kcm-0")
    assert s.leader is not None and s.leader.active == -1  # no replica's controllers run
    assert all(inf is None for who, _, _, inf in s.informer_slots() if who == "kcm")
    waited = 0
    while _lease(s).holder_identity == "kcm-0_0":
        action, s = next((a, t) for a, t in next_steps(s, config) if "fault" not in A.describe(a))
        if isinstance(action, A.Tick):
            waited += action.ms
    assert waited == 14_000  # leaseDuration 15 s, measured 1 s early by a clock that runs fast (clockSkew)
    # the restarted kcm-0 is another identity (upstream: a fresh UUID): it waited like kcm-1, and took over first
    assert _lease(s).holder_identity == "kcm-0_1" and _lease(s).lease_transitions == 1
    assert s.leader is not None and s.leader.active == 0


def test_a_paused_leader_acts_after_losing_its_lease_until_its_renew_deadline() -> None:
    """The finding: kcm-1 takes over while kcm-0 is frozen; kcm-0 resumes believing its lease valid, its optimistic
    update conflicts (409), and it keeps its controllers running beside kcm-1's until its renew deadline."""
    config = _config("leaderElection: {replicas: 2, pauses: 1}")
    s = _step(initial_state(config), config, "fault: pause")
    s = _until(s, config, lambda t: t.leader is not None and t.leader.replicas[1].leading)
    assert s.leader is not None and s.leader.parked[0] is not None and s.leader.active == 1
    s = _step(s, config, "kcm-0 resumes")
    assert not leader_election_fencing(s) and at_most_one_acting_leader(s)
    lines = []
    while s.leader is not None and s.leader.replicas[0].leading:
        line, s = next((line, t) for line, t in _steps(s, config) if "fault" not in line)
        lines.append(line)
        assert at_most_one_acting_leader(s)
    assert any("409 Conflict" in line for line in lines), lines
    assert "kcm-0 stops leading: leaderelection lost" in lines[-1]
    assert s.leader is not None and s.leader.replicas[0] == attrs.evolve(s.leader.replicas[0], leading=False)


def test_the_finding_and_the_property_upstream_keeps() -> None:
    config = _config("leaderElection: {replicas: 2, pauses: 1}", ("LeaderElectionFencing",))
    assert check(ClusterModel(config)).status == "violation"
    config = _config("leaderElection: {replicas: 2, pauses: 1}", ("AtMostOneActingLeader",))
    assert check(ClusterModel(config)).status == "ok"


def test_the_variant_keeps_a_leader_acting_past_its_deadline() -> None:
    config = _config("leaderElection: {replicas: 2, pauses: 1}\n  variants: [leader-keeps-acting]",
                     ("AtMostOneActingLeader",))
    result = check(ClusterModel(config))
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "AtMostOneActingLeader"


@pytest.mark.parametrize(("skew", "status"), [("0s", "ok"), ("2900ms", "ok"), ("3s", "violation"),
                                             ("4s", "violation")])
def test_skew_beyond_the_margin_the_renew_loop_leaves_breaks_the_guarantee(skew: str, status: str) -> None:
    """A running leader whose renewals time out gives up retryPeriod + renewDeadline (12 s) after its last
    success (wait.Until starts the next round retryPeriod after it); a candidate takes over leaseDuration - clockSkew
    after it observed that success: the guarantee needs clockSkew < 3 s with the defaults, not < 5 s."""
    config = _config(f"leaderElection: {{replicas: 2, clockSkew: {skew}, renewFailures: 5}}",
                     ("AtMostOneActingLeader",))
    assert check(ClusterModel(config)).status == status


@pytest.mark.parametrize(("spec", "message"), [
    ("leaderElection: {replicas: 3}", "spec.leaderElection.replicas: expected 1 or 2"),
    ("leaderElection: {leaseDuration: 10s}", "leaseDuration must be greater than renewDeadline"),
    ("leaderElection: {retryPeriod: 9s}", "renewDeadline must be greater than retryPeriod*JitterFactor"),
    ("leaderElection: {leaseDuration: 15}", "expected a duration like 15s"),
    ("leaderElection: {leaseDuration: 15500ms}", "whole seconds"),
    ("leaderElection: {pauses: -1}", "pauses: expected a non-negative integer"),
    ("leaderElection: {bogus: 1}", "unknown field 'bogus'"),
    ("leaderElection: [2]", "expected a mapping"),
    ("variants: [leader-keeps-acting]", "leader-keeps-acting needs spec.leaderElection"),
])
def test_bad_leader_election_input_is_one_line(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("*", r"\*").replace("(", r"\(")):
        with_overrides(parse(SCENARIO % spec, "ha.yaml"))


def test_durations() -> None:
    assert [parse_duration(d, "x") for d in ("15s", "500ms", "1.5s", "1m")] == [15_000, 500, 1_500, 60_000]
    with pytest.raises(InputError, match="whole number of milliseconds"):
        parse_duration("0.5ms", "x")


@pytest.mark.parametrize("spec", [
    "leaderElection: {replicas: 2, pauses: 1}",
    "faults: {controllerManagerCrashes: 1}\n  leaderElection: {replicas: 2, renewFailures: 2, clockSkew: 3s}",
    "leaderElection: {replicas: 2, pauses: 1}\n  variants: [leader-keeps-acting]",
])
def test_each_components_enabled_is_its_steps(spec: str) -> None:
    """The leader election component's ``enabled`` (and every other's) names exactly the actors of its
    non-stuttering steps, on every state reached (tests/spec/test_spec_differential.py's check)."""
    from tests.spec.test_spec_differential import enabled_actors_agree

    assert enabled_actors_agree(_config(spec), 3_000) > 100


def test_the_builtin_scenarios() -> None:
    """ha-controller-manager: failover after a crash, every property holds (EventualReplicaConvergence across the
    failover); ha-paused-leader holds and refutes the variant."""
    from spec.scenario import builtin

    result = check(ClusterModel(builtin("ha-paused-leader").config))
    assert result.status == "ok", result.verdict()
    config = with_overrides(builtin("ha-paused-leader"), variants=("leader-keeps-acting",)).config
    result = check(ClusterModel(config))
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "AtMostOneActingLeader"


@pytest.mark.slow
def test_ha_controller_manager_holds_exhaustively() -> None:
    from spec.scenario import builtin

    result = check(ClusterModel(builtin("ha-controller-manager").config))
    assert result.status == "ok", result.verdict()


def test_the_summary_names_only_the_reductions_leader_election_leaves_on() -> None:
    """The scenario's summary line says what the model applies: commuting writes, ample sets and eager no-ops are
    off under leader election (spec.model.applicable), as the verdict says."""
    from spec.cli import summary
    from spec.scenario import builtin as builtin_scenario

    line = summary(builtin_scenario("ha-paused-leader"))
    assert line.endswith("reductions: renumbering") and "ample sets" not in line
    assert "ample sets" in summary(builtin_scenario("node-failure"))


OVERSHOOT = Path(__file__).parents[2] / "docs" / "findings" / "ha-paused-leader-overshoot.yaml"


def _active_pods(state: ClusterState) -> list[Pod]:
    return [p for p in state.etcd.of("pods") if isinstance(p, Pod) and not p.meta.deleting]


def test_a_resumed_leaders_replicaset_controller_overshoots() -> None:
    """docs/spec.md's claim (Findings, LeaderElectionFencing): kcm-0 freezes after its Deployment controller scaled
    the ReplicaSet up; kcm-1 takes over and creates the pod; kcm-0 resumes inside its renew round and its ReplicaSet
    controller, whose cache lacks that pod, creates another. Two pods for replicas 1, without any variant
    (docs/findings/ha-paused-leader-overshoot.yaml; the exhaustive check is the slow test below)."""
    config = load(OVERSHOOT).config
    s = _step(initial_state(config), config, "deployment-controller")
    s = _step(s, config, "replicasets/default/web")  # kcm-0's informer delivers the ReplicaSet
    s = _step(s, config, "fault: pause (its clock and steps stop) kcm-0")
    s = _until(s, config, lambda t: t.leader is not None and t.leader.replicas[1].expires == 0)
    s = _step(s, config, "kcm-0 resumes")
    s = _step(s, config, "kcm-1 acquires")
    assert s.leader is not None and s.leader.parked[0] is not None and s.leader.active == 1
    s = next(t for line, t in _steps(s, config) if line.startswith("replicaset-controller reconciles"))
    assert len(_active_pods(s)) == 1 and replicaset_never_overshoots(s)
    s = _step(s, config, "kcm-0/replicaset-controller")
    assert len(_active_pods(s)) == 2 and not replicaset_never_overshoots(s)
    assert at_most_one_acting_leader(s)  # within what upstream allows


@pytest.mark.slow
def test_the_overshoot_finding_exhaustively() -> None:
    """The shortest counterexample ends with kcm-0's parked ReplicaSet controller creating the second pod (as
    docs/findings/ha-paused-leader-overshoot.trace.txt shows)."""
    result = check(ClusterModel(load(OVERSHOOT).config))
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "ReplicaSetNeverOvershoots"
    last = result.violation.trace[-1]
    assert isinstance(last.action, A.Reconcile) and last.action.actor == "kcm-0/replicaset-controller"
    assert len(_active_pods(last.state)) == 2


def test_the_summary_states_the_clock_skew_budget() -> None:
    """The verdict's bounds name the clock-skew budget AtMostOneActingLeader holds within, and say when a
    scenario's skew is beyond the margin (where the test above refutes it)."""
    from spec.cli import summary

    line = summary(parse(SCENARIO % "leaderElection: {replicas: 2, clockSkew: 1s}", "ha.yaml"))
    assert "bounds: clock skew between replicas ≤ 1 s per lease duration (within the 3 s margin" in line
    line = summary(parse(SCENARIO % "leaderElection: {replicas: 2, clockSkew: 3s}", "ha.yaml"))
    assert "≤ 3 s per lease duration (NOT within the 3 s margin" in line


SERVICE = """---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""
STATEFULSET = """---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16}]
"""
PDB = """---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: web}}
"""
JOB = """---
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  completions: 1
  parallelism: 1
  template:
    spec:
      restartPolicy: Never
      containers: [{name: pi, image: perl:5.34}]
"""
HOSTED = [
    ("", SERVICE),
    ("", STATEFULSET),
    ("", PDB),
    ("", JOB),
    ('userActions: ["kubectl create service clusterip web --tcp=80:8080"]', ""),
    ('userActions: ["kubectl delete node node-a"]', ""),
    ("faults: {nodeFailures: 1}", ""),
    ("faults: {nodePartitions: 1}", ""),
]
"""Inputs that bring in the controller manager's other controllers (tests/spec/test_leaderelection_handover.py)."""


@pytest.mark.parametrize(("spec", "objects"), HOSTED)
def test_with_only_kube_scheduler_elected_kube_controller_manager_is_one_replica(spec: str, objects: str) -> None:
    text = SCENARIO % ((spec + "\n  " if spec else "") + "leaderElection: {components: [kube-scheduler]}") + objects
    config = parse(text, "ha.yaml").config
    assert config.leader_election is not None and not config.leader_election.controller_manager
    assert initial_state(config).leader is None  # kube-controller-manager runs as one replica


def test_kubectl_drain_is_not_refused_under_kube_controller_manager_election() -> None:
    """kubectl drain is the client's (its drain under way is no replica's state) and, with no budget, the eviction
    API reads nothing of the controller manager's: it runs, and its eviction goes through under election."""
    text = SCENARIO % ('userActions: ["kubectl drain node-a --ignore-daemonsets --force"]\n  '
                       "leaderElection: {replicas: 2, pauses: 1}") + """---
apiVersion: v1
kind: Pod
metadata: {name: web-a}
spec:
  nodeName: node-a
  containers: [{name: web, image: nginx:1.25}]
"""
    config = parse(text, "ha.yaml").config
    s = _step(initial_state(config), config, "kubectl drain node-a")
    s = _step(s, config, "(evicting pods/default/web-a)")
    pod = s.etcd.objects["pods/default/web-a"]
    assert pod.meta.deleting
    result = check(ClusterModel(config), max_states=3_000)
    assert result.status == "bounded", result.verdict()


def test_leader_election_with_several_api_servers_turns_off_both_sets_of_reductions() -> None:
    """spec.model.applicable: leader election's reductions off, and several API servers' (node symmetry too)."""
    from spec.model import applicable
    from spec.reduction import ALL

    config = _config("apiServers: 2\n  leaderElection: {replicas: 2}")
    on = applicable(ALL, config)
    assert not (on.ample_sets or on.commute_writes or on.eager_noop or on.symmetry) and on.renumber


def test_a_parked_controller_reconciles_with_the_same_options_as_the_active_one(monkeypatch: pytest.MonkeyPatch
                                                                              ) -> None:
    """A resumed replica's parked ReplicaSet controller reconciles as the active one does: with the pods' readiness
    ages (minReadySeconds) and the scenario's variants (it once got only ``expectations``)."""
    from spec.controllers import manager

    config = load(OVERSHOOT).config
    s = _step(initial_state(config), config, "deployment-controller")
    s = _step(s, config, "replicasets/default/web")
    s = _step(s, config, "fault: pause (its clock and steps stop) kcm-0")
    s = _until(s, config, lambda t: t.leader is not None and t.leader.replicas[1].expires == 0)
    s = _step(s, config, "kcm-0 resumes")
    s = _step(s, config, "kcm-1 acquires")
    seen: list[dict[str, object]] = []
    real = manager.reconcile

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(kwargs)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(manager, "reconcile", spy)
    lines = [line for line, _ in _steps(s, config)]
    assert any(line.startswith("kcm-0/replicaset-controller") for line in lines), lines
    assert seen and all(kw == manager.reconcile_options(s, config) for kw in seen)
    assert set(seen[0]) == {"expectations", "adoption_guard", "recreate_waits_for_pods", "readiness", "paused_scales"}


NAMESPACED = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: ha-namespace}
spec:
  leaderElection: {replicas: 2}
  faults: {controllerManagerCrashes: 1}
  userActions: ["kubectl delete namespace team"]
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Pod
metadata: {name: solo, namespace: team}
spec:
  nodeName: node-a
  containers: [{name: solo, image: "solo:1"}]
"""


def test_the_namespace_controller_and_the_garbage_collector_act_only_in_a_leading_replica() -> None:
    """They run in kube-controller-manager: after the leader's crash, until a replica acquires the Lease, nothing of
    them acts, however much work there is (a namespace being deleted); once one leads, the namespace controller
    does. (The scenario also needs the system namespaces: the Lease is in kube-system.)"""
    config = parse(NAMESPACED, "ha-namespace.yaml").config
    s = _step(initial_state(config), config, "fault: crash and restart kcm-0")  # the leader: nobody acts
    s = _step(s, config, "kubectl delete namespace team")
    assert s.leader is not None and s.leader.active < 0
    lines = [line for line, _ in _steps(s, config)]
    assert not any(line.startswith(("namespace-controller", "garbage-collector")) for line in lines), lines
    s = _until(s, config, lambda t: t.leader is not None and t.leader.active >= 0)
    s = _until(s, config, lambda t: any(line.startswith("namespace-controller") for line, _ in _steps(t, config)),
               avoid=("fault", "resumes", "kubelet"))
