"""The HorizontalPodAutoscaler's promises (``spec.controllers.podautoscaler``), each with its upstream reference.

- ``HPAReplicasWithinBounds`` (always): whenever the target's replicas are the ones its HPA last wrote, they lie
  within [minReplicas, maxReplicas]. Upstream: horizontal.go reconcileAutoscaler (the above-max and below-min
  branches, convertDesiredReplicasWithRules, convertDesiredReplicasWithBehaviorRate);
  https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/ ("the HPA controller scales the
  target ... between minReplicas and maxReplicas").
- ``HPAScaleDownStabilized`` (always): the HPA never scales its target down below a recommendation it made within
  the scale-down stabilization window (300 s, or behavior.scaleDown.stabilizationWindowSeconds), capped by
  maxReplicas and the replicas it found. Upstream: horizontal.go stabilizeRecommendation,
  stabilizeRecommendationWithBehaviors; kubernetes#68122 (the window replacing the forbidden window, after
  kubernetes#65097); the documentation's "Stabilization window".
- ``HPAScaleUpRate`` (always): a scale-up never goes beyond what the scale-up policies allow over their periods
  (behavior.scaleUp: selectPolicy over Pods and Percent policies, counting every rescale the HPA made in each
  period), or beyond max(2 x current, 4) per sync without a behavior. Upstream: horizontal.go
  calculateScaleUpLimitWithScalingRules, calculateScaleUpLimit (kubernetes#32304); the documentation's "Scaling
  policies".
- ``HPASettles`` (leads_to_always, Anvil's ESR ``true ~> []q``): eventually every HPA's target has as many Ready
  pods as its replicas, and those replicas are upstream's desired count at the current load (the replica
  calculator's count without unready or missing pods: the ratio within the tolerance keeps the count, else
  ceil(ratio x count); the largest over the metrics; within [minReplicas, maxReplicas]), and stays so, unless a
  pending pod fits no node (``spec.properties.blocked``, as EventualReplicaConvergence excuses it). The load
  changes a bounded number of times (``spec.load.maxSwitches``), so it is constant on the rest of every behaviour;
  so are the user's commands and the faults. Upstream: replica_calculator.go GetResourceReplicas,
  GetRawResourceReplicas; the documentation's "Algorithm details".

The first three are judged on history variables (``PodAutoscaler.seen``, ``seen_up``, ``seen_down``, ``written``,
``violations``) that a controller-manager crash keeps, not on the controller's memory, which it loses: so a crash
that lets the controller exceed its policies is caught (docs/spec.md, "Findings").
"""

from __future__ import annotations

import math

from spec.controllers import podautoscaler as hpa_ctl
from spec.state import (
    AgedValues,
    ClusterState,
    HorizontalPodAutoscaler,
    ScalingRules,
    key_of,
)


def allowed_scale_up(current: int, added: AgedValues, removed: AgedValues, rules: ScalingRules) -> int:
    """The most replicas the scale-up policies allow from ``current``, given the rescales made (change, age ms):
    per policy, the replicas at the start of its period (``current`` less what was added in it, plus what was
    removed in it) plus its Pods value or times (1 + its Percent); the largest of those under selectPolicy Max, the
    smallest under Min, ``current`` when Disabled (the documentation's "Scaling policies"; written apart from the
    controller's calculateScaleUpLimitWithScalingRules, which it judges)."""
    if rules.select_policy == "Disabled":
        return current
    limits = []
    for policy in rules.policies:
        window = policy.period_seconds * 1000
        start = current - sum(c for c, age in added if age < window) + sum(c for c, age in removed if age < window)
        limits.append(start + policy.value if policy.type == "Pods" else math.ceil(start * (100 + policy.value) / 100))
    best = min(limits) if rules.select_policy == "Min" else max(limits)
    return max(best, current)


def _target(s: ClusterState, hpa: HorizontalPodAutoscaler) -> hpa_ctl.Scalable | None:
    obj = s.etcd.objects.get(key_of(hpa_ctl.TARGETS[hpa.target_kind], hpa.meta.namespace, hpa.target_name))
    return obj if isinstance(obj, hpa_ctl.Scalable) else None


def _hpas(s: ClusterState) -> list[tuple[str, HorizontalPodAutoscaler]]:
    return sorted((k, o) for k, o in s.etcd.objects.items() if isinstance(o, HorizontalPodAutoscaler))


def replicas_within_bounds(s: ClusterState) -> bool:
    """Whenever a target's replicas are what its HPA last wrote, they are within [minReplicas, maxReplicas]."""
    return not _out_of_bounds(s)


def _out_of_bounds(s: ClusterState) -> list[str]:
    slot = s.hpa
    if slot is None:
        return []
    out = []
    for key, hpa in _hpas(s):
        target = _target(s, hpa)
        written = slot.written.get(key)
        if target is not None and written == target.replicas and not (
                hpa.min_replicas <= written <= hpa.max_replicas):
            out.append(f"HPA {hpa.meta.namespace}/{hpa.meta.name} set {hpa.target_kind} {hpa.target_name} to "
                       f"{written} replicas, outside [{hpa.min_replicas}, {hpa.max_replicas}]")
    return out


def explain_bounds(s: ClusterState) -> str:
    return "; ".join(_out_of_bounds(s)) or "every target the HPA set is within its bounds"


def _violations(s: ClusterState, kind: str) -> list[str]:
    slot = s.hpa
    return [] if slot is None else sorted(v for v in slot.violations if v.startswith(kind + ": "))


def scale_down_stabilized(s: ClusterState) -> bool:
    """No scale-down below a recommendation made within the scale-down stabilization window."""
    return not _violations(s, "stabilization")


def explain_stabilized(s: ClusterState) -> str:
    return "; ".join(v.split(": ", 1)[1] for v in _violations(s, "stabilization")) or "no early scale-down"


def scale_up_within_rate(s: ClusterState) -> bool:
    """No scale-up beyond the scale-up policies' rate."""
    return not _violations(s, "rate")


def explain_rate(s: ClusterState) -> str:
    return "; ".join(v.split(": ", 1)[1] for v in _violations(s, "rate")) or "no scale-up beyond the policies"


def desired(s: ClusterState, hpa: HorizontalPodAutoscaler, target: hpa_ctl.Scalable,
            replicas: int) -> int | None:
    """Upstream's desired count for ``replicas`` Ready pods at the current load (None: no metric can be computed,
    the HPA leaves the count alone), written apart from the controller's calculator: the steady-state case of
    GetResourceReplicas / GetRawResourceReplicas, the largest over the metrics, within the bounds."""
    proposals = []
    invalid = False
    pods = [p for p in hpa_ctl.workload_pods(s, target) if not p.meta.deleting]
    for m in hpa.metrics:
        usage = hpa_ctl.pod_metrics(s, hpa, target, m.name)
        if not usage:
            invalid = True
            continue
        if m.target_type == "Utilization":
            requests = [hpa_ctl._request(p, m.name) for p in pods]
            if not all(requests):
                invalid = True
                continue
            ratio = (sum(usage.values()) * 100 // sum(requests)) / m.value
        else:
            ratio = (sum(usage.values()) // len(usage)) / m.value
        proposals.append(replicas if abs(1.0 - ratio) <= hpa_ctl.TOLERANCE else math.ceil(ratio * replicas))
    if not proposals:
        return None
    want = max(proposals)
    if invalid and want < replicas:  # an invalid metric blocks a scale-down
        want = replicas
    return min(max(want, hpa.min_replicas), hpa.max_replicas)


def _unsettled(s: ClusterState) -> list[str]:
    out = []
    for _, hpa in _hpas(s):
        target = _target(s, hpa)
        if target is None or target.replicas == 0:  # nothing to scale (FailedGetScale), or autoscaling disabled
            continue
        name = f"{hpa.target_kind} {hpa.meta.namespace}/{hpa.target_name}"
        pods = [p for p in hpa_ctl.workload_pods(s, target) if not p.meta.deleting and p.status.phase != "Failed"]
        ready = [p for p in pods if p.status.phase == "Running" and p.status.ready and hpa_ctl.has_metrics(s, p)]
        if len(pods) != target.replicas or len(ready) != len(pods):
            out.append(f"{name} has {target.replicas} replicas, {len(pods)} pods, {len(ready)} Ready with metrics")
            continue
        want = desired(s, hpa, target, target.replicas)
        if want is not None and want != target.replicas:
            out.append(f"{name} has {target.replicas} Ready replicas; upstream's desired count at this load is {want}")
    return out


def settled(s: ClusterState) -> bool:
    """Every HPA's target runs as many Ready pods as its replicas, which are upstream's desired count."""
    return not _unsettled(s)


def explain_settled(s: ClusterState) -> str:
    return "; ".join(_unsettled(s)) or "every HPA's target is settled"


def register(properties: dict[str, object]) -> None:
    """Add the HPA's properties to ``spec.properties.PROPERTIES`` (checked where a scenario has an HPA)."""
    from spec.properties import PropertySpec

    def applies(config: object) -> bool:
        return any(isinstance(o, HorizontalPodAutoscaler) for o in getattr(config, "objects", ()))

    properties["HPAReplicasWithinBounds"] = PropertySpec(
        "HPAReplicasWithinBounds", "always", replicas_within_bounds, None,
        "Whenever a target's replicas are the ones its HPA last wrote, they lie within [minReplicas, maxReplicas].",
        "pkg/controller/podautoscaler/horizontal.go (reconcileAutoscaler, convertDesiredReplicasWithRules, "
        "convertDesiredReplicasWithBehaviorRate); docs/tasks/run-application/horizontal-pod-autoscale.md",
        applies=applies, explain=explain_bounds)
    properties["HPAScaleDownStabilized"] = PropertySpec(
        "HPAScaleDownStabilized", "always", scale_down_stabilized, None,
        "An HPA never scales its target down below a recommendation it made within the scale-down stabilization "
        "window (capped by maxReplicas and the replicas it found), across controller-manager restarts.",
        "pkg/controller/podautoscaler/horizontal.go (stabilizeRecommendation, stabilizeRecommendationWithBehaviors); "
        "kubernetes#68122 (after kubernetes#65097); docs: \"Stabilization window\"",
        applies=applies, explain=explain_stabilized)
    properties["HPAScaleUpRate"] = PropertySpec(
        "HPAScaleUpRate", "always", scale_up_within_rate, None,
        "An HPA's scale-up never goes beyond its scale-up policies' rate over their periods (every rescale it made "
        "counted, across controller-manager restarts), or beyond max(2 x current, 4) per sync without a behavior.",
        "pkg/controller/podautoscaler/horizontal.go (calculateScaleUpLimitWithScalingRules, calculateScaleUpLimit: "
        "kubernetes#32304); docs: \"Scaling policies\"",
        applies=applies, explain=explain_rate)
    from spec.properties import blocked

    properties["HPASettles"] = PropertySpec(
        "HPASettles", "leads_to_always", lambda s: True, lambda s: settled(s) or blocked(s),
        "Eventually every HPA's target runs as many Ready pods as its replicas, which are upstream's desired count "
        "at the load (constant after its last change), and it stays so, unless a pending pod fits no node (blocked, "
        "as for EventualReplicaConvergence): Anvil's ESR, true ~> []q.",
        "pkg/controller/podautoscaler/replica_calculator.go (GetResourceReplicas, GetRawResourceReplicas); docs: "
        "\"Algorithm details\"; Anvil esr.rs",
        applies=applies, explain=explain_settled)
