"""The HPA controller's arithmetic (spec/controllers/podautoscaler.py), against upstream's own test cases
(pkg/controller/podautoscaler/replica_calculator_test.go, horizontal_test.go) where they exist."""

from __future__ import annotations

import pytest

from spec.controllers import podautoscaler as hpa
from spec.controllers.podautoscaler import MetricError, Sample
from spec.state import ScalingPolicy, ScalingRules


def _pods(levels: list[int | None], ready: list[bool] | None = None, phases: list[str] | None = None,
          request: int = 1000) -> tuple[list[Sample], dict[str, int]]:
    ready = ready or [True] * len(levels)
    phases = phases or ["Running"] * len(levels)
    samples = [Sample(f"p{i}", phases[i], ready[i], False, request, "c") for i in range(len(levels))]
    metrics = {f"p{i}": v for i, v in enumerate(levels) if v is not None}
    return samples, metrics


def test_scale_up() -> None:
    # replica_calculator_test.go TestReplicaCalcScaleUp: 3 pods at 300m, 500m, 700m of 1 cpu, target 30%: 5
    samples, metrics = _pods([300, 500, 700])
    assert hpa.replicas_for(3, "Utilization", 30, samples, metrics, "cpu") == (5, 50, 500)


def test_scale_up_with_an_unready_pod_counts_it_at_zero() -> None:
    # TestReplicaCalcScaleUpUnreadyLessScale: the unready pod at 0% on a scale-up: 4, not 6
    samples, metrics = _pods([300, 500, 700], ready=[False, True, True])
    assert hpa.replicas_for(3, "Utilization", 30, samples, metrics, "cpu")[0] == 4


def test_unready_pods_that_would_reverse_the_scale_keep_it() -> None:
    # TestReplicaCalcScaleUpUnreadyNoScale: with the unready pods at 0% the ratio drops below 1: no change
    samples, metrics = _pods([400, 500, 700], ready=[False, True, False])
    assert hpa.replicas_for(3, "Utilization", 30, samples, metrics, "cpu")[0] == 3


def test_memory_ignores_readiness() -> None:
    # groupPods reads the Ready condition for cpu only
    samples, metrics = _pods([300, 500, 700], ready=[False, True, True])
    assert hpa.replicas_for(3, "Utilization", 30, samples, metrics, "memory")[0] == 5


def test_pending_pods_are_unready_for_every_resource() -> None:
    samples, metrics = _pods([None, 500, 700], phases=["Pending", "Running", "Running"])
    # (500 + 700) / 2000 = 60% of 30%: ratio 2, the pending pod at 0: 1200 / 3000 = 40%: ceil(1.33 x 3) = 4
    assert hpa.replicas_for(3, "Utilization", 30, samples, metrics, "memory")[0] == 4


def test_missing_metrics_count_at_the_request_on_a_scale_down() -> None:
    # TestReplicaCalcMissingMetricsUnreadyScaleDown-like: 4 pods, one without a metric: at 100% on a scale-down
    samples, metrics = _pods([100, 100, 100, None])
    # 300 / 3000 = 10% of 50%: 0.2; with the missing one at 100%: 1300 / 4000 = 32%: 0.64: ceil(2.56) = 3
    assert hpa.replicas_for(4, "Utilization", 50, samples, metrics, "cpu")[0] == 3


def test_missing_metrics_count_at_zero_on_a_scale_up() -> None:
    samples, metrics = _pods([900, 900, 900, None])
    # 2700 / 3000 = 90% of 50%: 1.8; with the missing one at 0: 2700 / 4000 = 67%: 1.34: ceil(5.36) = 6
    assert hpa.replicas_for(4, "Utilization", 50, samples, metrics, "cpu")[0] == 6


def test_within_tolerance_keeps_the_count() -> None:
    samples, metrics = _pods([540, 540])  # 54% of 50%: 1.08, within 0.1
    assert hpa.replicas_for(2, "Utilization", 50, samples, metrics, "cpu")[0] == 2
    samples, metrics = _pods([560, 560])  # 56%: 1.12, beyond
    assert hpa.replicas_for(2, "Utilization", 50, samples, metrics, "cpu")[0] == 3


def test_average_value() -> None:
    samples, metrics = _pods([300, 500, 700])
    # average 500m of a 250m target: ratio 2: 6
    assert hpa.replicas_for(3, "AverageValue", 250, samples, metrics, "cpu") == (6, None, 500)


def test_errors_are_upstreams() -> None:
    samples, _ = _pods([100])
    with pytest.raises(MetricError, match="no metrics returned from resource metrics API"):
        hpa.replicas_for(1, "Utilization", 50, samples, {}, "cpu")
    samples, metrics = _pods([100], ready=[False])
    with pytest.raises(MetricError, match=r"did not receive metrics for targeted pods \(pods might be unready\)"):
        hpa.replicas_for(1, "Utilization", 50, samples, metrics, "cpu")
    samples, metrics = _pods([100], request=0)
    with pytest.raises(MetricError, match="missing request for cpu in container c of Pod p0"):
        hpa.replicas_for(1, "Utilization", 50, samples, metrics, "cpu")


def test_legacy_rules_cap_the_scale_up_at_twice_or_four() -> None:
    assert hpa.convert_with_rules(1, 10, 1, 20) == (4, "ScaleUpLimit",
                                                    "the desired replica count is increasing faster than the maximum "
                                                    "scale rate")
    assert hpa.convert_with_rules(5, 20, 1, 20)[0] == 10
    assert hpa.convert_with_rules(5, 20, 1, 8)[:2] == (8, "TooManyReplicas")
    assert hpa.convert_with_rules(5, 0, 2, 8)[:2] == (2, "TooFewReplicas")
    assert hpa.convert_with_rules(5, 6, 2, 8)[:2] == (6, "DesiredWithinRange")


def test_legacy_stabilization_takes_the_largest_recommendation_of_the_window() -> None:
    recs = ((3, 100_000), (1, 0))
    assert hpa.stabilize_legacy(recs, 1)[0] == 3
    assert hpa.stabilize_legacy(((3, 300_000),), 1)[0] == 3  # upstream: not Before(cutoff): still counted
    assert hpa.stabilize_legacy(((3, 300_001),), 1)[0] == 1


def test_compress_keeps_what_a_window_can_still_read() -> None:
    # (2, 30 s) has the younger (3, 15 s) above it: never the largest again
    assert hpa.compress(((1, 0), (3, 15_000), (2, 30_000), (5, 60_000))) == ((1, 0), (3, 15_000), (5, 60_000))
    # with a scale-up window the smallest matters too
    assert hpa.compress(((3, 0), (1, 15_000), (2, 30_000)), up_window=60_000) == ((3, 0), (1, 15_000))


def test_scale_up_limit_with_the_default_policies() -> None:
    # horizontal_test.go TestGenerateScaleUpRules / the documented defaults: max(4 pods, 100%) per 15 s
    rules = ScalingRules(0, "Max", (ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15)))
    assert hpa.scale_up_limit(1, (), (), rules) == 5
    assert hpa.scale_up_limit(10, (), (), rules) == 20
    # 6 added 10 s ago: the period started at 4: max(8, 8)
    assert hpa.scale_up_limit(10, ((6, 10_000),), (), rules) == 8
    # an event exactly 15 s old is out of the period (After(cutoff) is strict)
    assert hpa.scale_up_limit(10, ((6, 15_000),), (), rules) == 20
    assert hpa.scale_up_limit(10, (), (), ScalingRules(0, "Min", rules.policies)) == 14
    assert hpa.scale_up_limit(10, (), (), ScalingRules(0, "Disabled", rules.policies)) == 10


def test_scale_down_limit() -> None:
    rules = ScalingRules(None, "Max", (ScalingPolicy("Percent", 50, 60), ScalingPolicy("Pods", 1, 60)))
    assert hpa.scale_down_limit(10, (), (), rules) == 5  # the biggest change: -50%
    assert hpa.scale_down_limit(10, (), (), ScalingRules(None, "Min", rules.policies)) == 9
    assert hpa.scale_down_limit(10, (), ((2, 30_000),), rules) == 6  # started at 12


def test_store_event_replaces_the_last_outdated_one() -> None:
    events = ((1, 70_000), (2, 20_000), (3, 65_000))
    assert hpa.store_event(events, 4, 60_000) == ((1, 70_000), (2, 20_000), (4, 0))
    assert hpa.store_event(((2, 20_000),), 4, 60_000) == ((2, 20_000), (4, 0))


def test_behavior_rate_and_conditions() -> None:
    from spec.state import HorizontalPodAutoscaler, HPABehavior, Meta

    up = ScalingRules(0, "Max", (ScalingPolicy("Pods", 1, 60),))
    down = ScalingRules(None, "Max", (ScalingPolicy("Percent", 100, 15),))
    h = HorizontalPodAutoscaler(Meta("h"), "Deployment", "web", 10, 1, (), HPABehavior(up, down))
    assert hpa.convert_with_behavior_rate(2, 5, 1, 10, (), (), h)[:2] == (3, "ScaleUpLimit")
    assert hpa.convert_with_behavior_rate(3, 5, 1, 10, ((1, 30_000),), (), h)[:2] == (3, "ScaleUpLimit")
    assert hpa.convert_with_behavior_rate(3, 1, 2, 10, (), (), h)[:2] == (2, "TooFewReplicas")
