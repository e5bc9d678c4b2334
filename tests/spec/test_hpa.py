"""The HorizontalPodAutoscaler: its documents (autoscaling/v2 and v1), the controller in the model, its
properties (spec/hpa_properties.py), the crash that loses its memory and the variant hpa-forbidden-window."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest
from click.testing import CliRunner

from checker import check, sometimes
from checker.cli import main
from checker.errors import InputError
from spec.controllers import podautoscaler as hpa_ctl
from spec.model import ClusterModel
from spec.scenario import NOT_MODELLED, builtin, parse, with_overrides
from spec.state import HorizontalPodAutoscaler

HEAD = """apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: t}
spec:
%s
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
"""
V2 = """apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: ReplicaSet, name: web}
%s"""


def _scenario(hpa_spec: str, scenario_spec: str = "  start: converged", replicas: int = 1, doc: str = V2):
    return parse(HEAD % (scenario_spec, replicas) + doc % hpa_spec, "t.yaml")


def _hpa(hpa_spec: str, doc: str = V2) -> HorizontalPodAutoscaler:
    scenario = _scenario(hpa_spec, doc=doc)
    return next(o for o in scenario.config.objects if isinstance(o, HorizontalPodAutoscaler))


# --- documents ---------------------------------------------------------------------------------------------------


def test_hpa_is_no_longer_refused() -> None:
    assert "HorizontalPodAutoscaler" not in NOT_MODELLED


def test_v2_defaults() -> None:
    h = _hpa("  maxReplicas: 3\n")
    assert (h.min_replicas, h.max_replicas, h.target_kind, h.target_name) == (1, 3, "ReplicaSet", "web")
    assert [(m.name, m.target_type, m.value) for m in h.metrics] == [("cpu", "Utilization", 80)]
    assert h.behavior is None


def test_v2_behavior_defaults_fill_each_rule() -> None:
    h = _hpa("  maxReplicas: 3\n  behavior:\n    scaleDown: {stabilizationWindowSeconds: 60}\n")
    assert h.behavior is not None
    up, down = h.behavior.scale_up, h.behavior.scale_down
    assert (up.stabilization_window_seconds, up.select_policy) == (0, "Max")
    assert [(p.type, p.value, p.period_seconds) for p in up.policies] == [("Pods", 4, 15), ("Percent", 100, 15)]
    assert (down.stabilization_window_seconds, down.select_policy) == (60, "Max")
    assert [(p.type, p.value, p.period_seconds) for p in down.policies] == [("Percent", 100, 15)]


def test_v2_average_value_and_memory() -> None:
    h = _hpa("  maxReplicas: 3\n  metrics:\n  - type: Resource\n    resource:\n      name: memory\n"
             "      target: {type: AverageValue, averageValue: 100Mi}\n")
    assert [(m.name, m.target_type, m.value) for m in h.metrics] == [("memory", "AverageValue", 100 * 2**20 * 1000)]


def test_v1_target_cpu_is_converted() -> None:
    v1 = """apiVersion: autoscaling/v1
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: ReplicaSet, name: web}
%s"""
    h = _hpa("  maxReplicas: 4\n  minReplicas: 2\n  targetCPUUtilizationPercentage: 65\n", doc=v1)
    assert (h.min_replicas, h.max_replicas) == (2, 4)
    assert [(m.name, m.target_type, m.value) for m in h.metrics] == [("cpu", "Utilization", 65)]
    assert [(m.value) for m in _hpa("  maxReplicas: 4\n", doc=v1).metrics] == [80]


@pytest.mark.parametrize(("spec", "message"), [
    ("  maxReplicas: 0\n", r'HorizontalPodAutoscaler.autoscaling "web" is invalid: spec.maxReplicas: Invalid '
                           r"value: 0: must be greater than 0"),
    ("  maxReplicas: 2\n  minReplicas: 3\n", r"spec.maxReplicas: Invalid value: 2: must be greater than or equal to "
                                             r"`minReplicas`"),
    ("  maxReplicas: 2\n  behavior:\n    scaleUp: {selectPolicy: Fastest}\n",
     r'spec.behavior.scaleUp.selectPolicy: Unsupported value: "Fastest": supported values: "Disabled", "Max", "Min"'),
    ("  maxReplicas: 2\n  behavior:\n    scaleDown:\n      policies: [{type: Pods, value: 1, periodSeconds: 1801}]\n",
     r"spec.behavior.scaleDown.policies\[0\].periodSeconds: Invalid value: 1801: must be less than or equal to 1800"),
    ("  maxReplicas: 2\n  behavior:\n    scaleDown: {stabilizationWindowSeconds: 3601}\n",
     r"stabilizationWindowSeconds: Invalid value: 3601: must be less than or equal to 3600"),
    ("  maxReplicas: 2\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization}}\n",
     r"spec.metrics\[0\].resource.target.averageUtilization: Required value: must set either a target raw value or "
     r"a target utilization"),
    ("  maxReplicas: 2\n  metrics:\n  - type: Resource\n    resource: {name: cpu, target: {type: Utilization, "
     "averageUtilization: 0}}\n", r"averageUtilization: Invalid value: 0: must be greater than 0"),
    ("  maxReplicas: 2\n  metrics:\n  - type: Pods\n    pods: {metric: {name: qps}, target: {type: AverageValue, "
     "averageValue: '1'}}\n  - type: External\n    external: {metric: {name: q}, target: {type: Value, value: '1'}}\n",
     r"spec.metrics: External, Pods metrics are not modelled \(only Resource metrics"),
])
def test_invalid_documents_are_refused_with_upstreams_message(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _hpa(spec)


@pytest.mark.parametrize("ref", ["apps/v1, kind: ReplicationController",  # a ReplicationController is core (v1)
                                 "v1, kind: ReplicaSet",  # and a ReplicaSet is apps
                                 "batch/v1, kind: Job"])  # no scale subresource
def test_a_target_that_is_not_modelled_is_refused(ref: str) -> None:
    with pytest.raises(InputError, match="not a modelled scale target"):
        _hpa("  maxReplicas: 2\n", doc=V2.replace("apps/v1, kind: ReplicaSet", ref))


RC_HEAD = HEAD.replace("apiVersion: apps/v1\nkind: ReplicaSet", "apiVersion: v1\nkind: ReplicationController").replace(
    "selector: {matchLabels: {app: web}}", "selector: {app: web}")
RC_HPA = V2.replace("apps/v1, kind: ReplicaSet", "v1, kind: ReplicationController")


def test_a_replication_controller_is_a_scale_target() -> None:
    """The HPA scales a ReplicationController through its scale subresource, as a ReplicaSet (horizontal.go reads
    any kind the RESTMapper resolves; a ReplicationController's scale is core/v1): its pods at a total load of
    100m against 50% of 100m settle at 2, and every HPA property holds exhaustively."""
    from spec.hpa_properties import settled

    load = "  start: converged\n  load:\n    targets:\n    - workload: replicationcontroller/web\n" \
           "      mode: total\n      levels: [{cpu: 100m}]"
    scenario = parse(RC_HEAD % (load, 1) + RC_HPA % "  maxReplicas: 3\n  metrics:\n  - type: Resource\n"
                     "    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}\n", "t.yaml")
    hpa = next(o for o in scenario.config.objects if isinstance(o, HorizontalPodAutoscaler))
    assert (hpa.target_kind, hpa.target_name) == ("ReplicationController", "web")
    model, result = _check(scenario)
    assert result.status == "ok", result.verdict()
    verdicts = {v.name: v.status for v in result.properties if v.name.startswith("HPA")}
    assert verdicts == dict.fromkeys(("HPAReplicasWithinBounds", "HPAScaleDownStabilized", "HPAScaleUpRate",
                                      "HPASettles"), "holds"), verdicts
    model.properties = (sometimes("SettledAtTwo", lambda s: settled(s) and
                                  s.etcd.objects["replicationcontrollers/default/web"].replicas == 2),)
    assert {v.name: v.status for v in check(model).properties}["SettledAtTwo"] == "holds"


def test_a_missing_replication_controller_is_reported_as_upstream_does() -> None:
    """FailedGetScale names the core group's resource without a group suffix (schema.GroupResource.String)."""
    assert hpa_ctl.group_resource("ReplicationController") == "replicationcontrollers"
    assert hpa_ctl.group_resource("Deployment") == "deployments.apps"


def test_bad_input_is_one_line_and_exit_2(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.yaml"
    path.write_text(HEAD % ("  start: cold", 1) + V2 % "  maxReplicas: 0\n")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert 'spec.maxReplicas: Invalid value: 0: must be greater than 0' in result.output


@pytest.mark.parametrize(("load", "message"), [
    ("  load: {targets: [{workload: deployment/web, levels: [{cpu: 1}]}]}", "no deployments/default/web"),
    ("  load: {maxSwitches: -1, targets: [{workload: replicaset/web, levels: [{cpu: 1}]}]}", "non-negative"),
    ("  load: {targets: [{workload: replicaset/web, levels: [{gpu: 1}]}]}", "unknown resource 'gpu'"),
    ("  load: {targets: [{workload: replicaset/web, mode: peak, levels: [{cpu: 1}]}]}", "perPod or total"),
])
def test_bad_loads_are_refused(load: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _scenario("  maxReplicas: 2\n", load)


def test_leader_election_with_an_hpa_is_modelled() -> None:
    """No longer refused: the HPA controller is handed over on failover
    (tests/spec/test_handover_cronjob_volumes_hpa.py)."""
    config = _scenario("  maxReplicas: 2\n", "  start: converged\n  leaderElection: {replicas: 2}").config
    assert config.leader_election is not None and "kube-controller-manager" in config.leader_election.components


# --- the model -----------------------------------------------------------------------------------------------------


def _check(scenario, properties: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    model = ClusterModel(scenario.config, scenario.reductions)
    if properties:
        model.properties = tuple(p for p in model.properties if p.name in properties)
    return model, check(model)


@pytest.mark.parametrize("name", ["hpa-deployment", "hpa-controller-manager-crash", "hpa-kubectl-scale"])
def test_the_small_builtins_hold_exhaustively(name: str) -> None:
    model, result = _check(builtin(name))
    assert result.status == "ok", result.verdict()
    verdicts = {v.name: v.status for v in result.properties if v.name.startswith("HPA")}
    assert verdicts == dict.fromkeys(("HPAReplicasWithinBounds", "HPAScaleDownStabilized", "HPAScaleUpRate",
                                      "HPASettles"), "holds"), verdicts


def _reached(name: str, pred) -> bool:  # type: ignore[no-untyped-def]
    from checker import sometimes

    scenario = builtin(name)
    model = ClusterModel(scenario.config, scenario.reductions)
    model.properties = (sometimes("Witness", pred),)
    result = check(model)
    return {v.name: v.status for v in result.properties}["Witness"] == "holds"


def test_the_deployment_settles_at_two_and_the_hpa_wins_over_kubectl() -> None:
    from spec.hpa_properties import settled

    def two_settled(s) -> bool:  # type: ignore[no-untyped-def]
        return settled(s) and s.etcd.objects["deployments/default/web"].replicas == 2

    assert _reached("hpa-deployment", two_settled)

    def user_scaled_to_three(s) -> bool:  # type: ignore[no-untyped-def]
        return s.etcd.objects["replicasets/default/web"].replicas == 3

    assert _reached("hpa-kubectl-scale", user_scaled_to_three)


def _run_to_sync(state, config):  # type: ignore[no-untyped-def]
    """The first steps in Next's order (deliveries, the other controllers, the tick) up to the HPA's next sync."""
    from spec import actions as A
    from spec.cluster import next_steps

    for _ in range(200):
        steps = [(a, t) for a, t in next_steps(state, config) if not isinstance(a, A.Kubectl)]
        a, state = next(((a, t) for a, t in steps if getattr(a, "actor", "") == hpa_ctl.ACTOR), steps[0])
        if getattr(a, "actor", "") == hpa_ctl.ACTOR:
            return a, state
    raise AssertionError("no sync")


def test_kubectl_scale_is_undone_at_the_next_sync() -> None:
    """After one sync (its recommendation 2 recorded), the user's scale to 3 is undone by the next sync; before
    the first sync it holds for a stabilization window (recordInitialRecommendation: the current 3)."""
    from spec import actions as A
    from spec.cluster import initial_state, next_steps

    scenario = builtin("hpa-kubectl-scale")
    config = scenario.config
    start = initial_state(config)
    _, synced = _run_to_sync(start, config)
    for state, replicas in ((synced, 2), (start, 3)):
        state = next(t for a, t in next_steps(state, config) if isinstance(a, A.Kubectl))
        assert state.etcd.objects["replicasets/default/web"].replicas == 3
        a, state = _run_to_sync(state, config)
        assert state.etcd.objects["replicasets/default/web"].replicas == replicas
        assert any("New size: 2; reason: All metrics below target" in e for e in a.events) == (replicas == 2)


def test_a_crash_loses_the_recommendations_and_resyncs_after_15_s() -> None:
    from spec.cluster import COMPONENTS, initial_state
    from spec.component import Process, restart

    scenario = builtin("hpa-controller-manager-crash")
    state = initial_state(scenario.config)
    assert state.hpa is not None
    key = "horizontalpodautoscalers/default/web"
    state = state._with(hpa=attrs.evolve(state.hpa, recommendations=state.hpa.recommendations.set(key, ((3, 0),)),
                                         seen=state.hpa.seen.set(key, ((3, 0),))))
    after = restart(COMPONENTS, state, scenario.config, Process("kube-controller-manager",
                                                                 "kube-controller-manager"), state.etcd.revision)
    assert after.hpa is not None
    assert not after.hpa.recommendations and after.hpa.seen == state.hpa.seen
    assert after.hpa.waiting == (("horizontalpodautoscalers/default/web", hpa_ctl.SYNC_PERIOD_MS),)


SLOW_POLICY = """  maxReplicas: 3
  behavior:
    scaleUp:
      policies: [{type: Pods, value: 1, periodSeconds: 60}]
"""
HIGH_LOAD = """  start: converged
  faults: {controllerManagerCrashes: %d}
  load: {targets: [{workload: replicaset/web, mode: total, levels: [{cpu: 250m}]}]}"""


@pytest.mark.slow
def test_a_crash_lets_a_slow_scale_up_policy_be_exceeded() -> None:
    """The finding: upstream keeps the scale events in memory; a restarted controller allows a policy's rate
    again at once (1 pod per 60 s: 1 -> 2, crash, 2 -> 3 within the minute)."""
    model, result = _check(_scenario(SLOW_POLICY, HIGH_LOAD % 0), ("HPAScaleUpRate", "HPAReplicasWithinBounds"))
    assert result.status == "ok", result.verdict()
    model, result = _check(_scenario(SLOW_POLICY, HIGH_LOAD % 1), ("HPAScaleUpRate",))
    assert result.violation is not None and result.violation.property == "HPAScaleUpRate"
    explanation = model.explain("HPAScaleUpRate", result.violation.trace[-1].state) or ""
    assert "up from 2 to 3, above the 2 its scale-up policies allow (1 pods per 60 s" in explanation
    assert any("crash" in model.describe(step.action) for step in result.violation.trace if step.action)


def test_the_variant_is_refuted_on_its_scenario_with_a_readable_trace() -> None:
    scenario = with_overrides(builtin("hpa-scale-up"), ("hpa-forbidden-window",))
    model, result = _check(scenario, ("HPAScaleDownStabilized",))
    assert result.violation is not None and result.violation.property == "HPAScaleDownStabilized"
    trace = result.violation.trace
    explanation = model.explain("HPAScaleDownStabilized", trace[-1].state) or ""
    assert "down from 2 to 1 although it recommended 2" in explanation
    assert any("the load on replicasets/default/web changes: 40m cpu in all" in model.describe(s.action)
               for s in trace if s.action)


@pytest.mark.slow
def test_the_load_switch_scenario_holds_without_the_variant() -> None:
    model, result = _check(builtin("hpa-scale-up"))
    assert result.status == "ok", result.verdict()
    assert {v.name: v.status for v in result.properties}["HPASettles"] == "holds"


# --- a broken controller is caught -----------------------------------------------------------------------------


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    hpa_ctl._sync.cache_clear()
    yield monkeypatch
    hpa_ctl._sync.cache_clear()


def test_ignoring_max_replicas_is_caught(broken: pytest.MonkeyPatch) -> None:
    original = hpa_ctl.convert_with_rules
    broken.setattr(hpa_ctl, "convert_with_rules", lambda c, d, lo, hi: original(c, d, lo, 100))
    _, result = _check(_scenario("  maxReplicas: 1\n", HIGH_LOAD % 0), ("HPAReplicasWithinBounds",))
    assert result.violation is not None and result.violation.property == "HPAReplicasWithinBounds"


def test_no_stabilization_is_caught(broken: pytest.MonkeyPatch) -> None:
    broken.setattr(hpa_ctl, "stabilize_legacy", lambda recs, desired: (desired, hpa_ctl.compress(((desired, 0),))))
    _, result = _check(builtin("hpa-scale-up"), ("HPAScaleDownStabilized",))
    assert result.violation is not None and result.violation.property == "HPAScaleDownStabilized"


@pytest.mark.slow
def test_no_rate_limit_is_caught(broken: pytest.MonkeyPatch) -> None:
    broken.setattr(hpa_ctl, "scale_up_limit", lambda current, up, down, rules: 100)
    _, result = _check(_scenario(SLOW_POLICY, HIGH_LOAD % 0), ("HPAScaleUpRate",))
    assert result.violation is not None and result.violation.property == "HPAScaleUpRate"


def test_the_rate_promise_is_judged_on_every_rescale_made() -> None:
    """The history variables, not the controller's memory: 1 -> 2 twenty seconds ago leaves 2 -> 3 beyond
    1 pod per 60 s (a decision the controller's own limit, after a crash, lets through)."""
    from spec.state import HPABehavior, Meta, PodAutoscaler, ScalingPolicy, ScalingRules

    up = ScalingRules(0, "Max", (ScalingPolicy("Pods", 1, 60),))
    down = ScalingRules(None, "Max", (ScalingPolicy("Percent", 100, 15),))
    h = HorizontalPodAutoscaler(Meta("web"), "ReplicaSet", "web", 3, 1, (), HPABehavior(up, down))
    key = "horizontalpodautoscalers/default/web"
    after_crash = PodAutoscaler(seen_up=PodAutoscaler().seen_up.set(key, ((1, 20_000),)))
    assert hpa_ctl.scale_up_limit(2, (), (), up) == 3  # the restarted controller's events: none
    found = hpa_ctl._violations(after_crash, key, h, 2, 3, (), "ReplicaSet/default/web")
    assert [v.split(":")[0] for v in found] == ["rate"]
    assert not hpa_ctl._violations(after_crash, key, h, 2, 2, (), "ReplicaSet/default/web")
    legacy = HorizontalPodAutoscaler(Meta("web"), "ReplicaSet", "web", 10, 1, ())
    assert hpa_ctl._violations(PodAutoscaler(), key, legacy, 1, 5, (), "ReplicaSet/default/web")
    assert not hpa_ctl._violations(PodAutoscaler(), key, legacy, 1, 4, (), "ReplicaSet/default/web")


def test_a_controller_that_never_scales_does_not_settle(broken: pytest.MonkeyPatch) -> None:
    broken.setattr(hpa_ctl, "convert_with_rules", lambda c, d, lo, hi: (c, "DesiredWithinRange", ""))
    _, result = _check(builtin("hpa-deployment"), ("HPASettles",))
    assert result.violation is not None and result.violation.property == "HPASettles"
