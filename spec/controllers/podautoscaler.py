"""The horizontal pod autoscaler (HPA) controller, and the metrics server's load as its environment.

Upstream: pkg/controller/podautoscaler/horizontal.go (the queue with NewDefaultHPARateLimiter: every HPA is synced
once per --horizontal-pod-autoscaler-sync-period, 15 s; reconcileAutoscaler: the scale subresource's GET, the
metrics, the disabled / above-max / below-min branches, normalizeDesiredReplicas with stabilizeRecommendation and
convertDesiredReplicasWithRules when spec.behavior is unset, normalizeDesiredReplicasWithBehaviors with
stabilizeRecommendationWithBehaviors and convertDesiredReplicasWithBehaviorRate when it is set, storeScaleEvent,
the scale's Update, setStatus and updateStatusIfNeeded, the conditions AbleToScale / ScalingActive /
ScalingLimited), replica_calculator.go (GetResourceReplicas, GetRawResourceReplicas, groupPods,
calculatePodRequests: the conservative assumptions for unready pods and pods without metrics, the tolerance),
metrics/utilization.go (GetResourceUtilizationRatio, GetMetricUsageRatio), pkg/apis/autoscaling/v2/defaults.go
(minReplicas 1, the default cpu metric at 80%, the default scaling rules), cmd/kube-controller-manager/app/
autoscaling.go (the flags' defaults: tolerance 0.1, downscale stabilization 300 s).

Modelled: one sync per HPA every 15 s (the rate limiter's timer; a queued sync is urgent: its worker takes it at
once, so time does not pass over it); the target's scale read fresh from the API server (a Deployment,
ReplicaSet or StatefulSet of group apps, or a ReplicationController of the core group: every kind with a scale
subresource that the model runs, as the scale client's RESTMapper resolves apiVersion and kind) and written
with the HPA's decision (the scale subresource's Update: spec.replicas; an atomic GET and PUT in one step, so its
resourceVersion precondition always holds); the pods
read from kube-controller-manager's shared pod informer (``ControllerManager.informers``, as upstream's podLister);
Resource metrics (cpu, memory; Utilization and AverageValue), several metrics (the largest proposal wins, and an
invalid metric blocks a scale-down), the tolerance, groupPods (deleted and Failed pods ignored; Pending pods and,
for cpu, not-Ready pods unready; Running pods without a metric missing) and the rescaling with missing pods at
100% (or the target) on a scale-down and at 0% on a scale-up and unready pods at 0% on a scale-up, which may not
change the scale's direction; minReplicas / maxReplicas, replicas 0 disabling autoscaling; both normalizations
with the recommendations history and the scale events (``spec.state.PodAutoscaler``; upstream keeps them in the
controller's memory, so a controller-manager crash loses them: the new controller's first sync records the
current replicas as its only recommendation, which keeps it from scaling down for one stabilization window, but
the scale events are gone, so a policy whose period is longer than the sync period can be exceeded across a
restart: docs/spec.md, "Findings"); the status (currentReplicas, desiredReplicas, lastScaleTime, currentMetrics,
conditions) written only when it changed; the events. The ambiguity check (pods under the selector of two HPAs'
targets: ScalingActive False, AmbiguousSelector).
Under kube-controller-manager's leader election (``spec.leaderelection``; cmd/kube-controller-manager/app/
controllermanager.go starts every controller in OnStartedLeading and exits in OnStoppedLeading) the controller is
handed over as the other hosted controllers are (``spec.controllers.manager.Hosted``): it syncs only in the acting
replica (``running``); while none acts nothing of its memory is kept (``stopped``: no queue, no rate-limiter
timer, no recommendation, no scale event), and the next leader's starts afresh (``restart``: NewHorizontalController
makes empty recommendations, scaleUpEvents and scaleDownEvents maps; its HPA informer's adds enqueue every HPA
rate-limited, so its first sync comes 15 s after it starts). A failover therefore loses the scale events as a
crash does (docs/spec.md, "Findings"; docs/findings/hpa-failover-scale-events.yaml). A paused leader's stands
frozen: its rate-limiter timers stand still with it, while its recommendations and events, which upstream stamps
with the wall clock, keep ageing; it runs on if it resumes before another replica acts. A stale leader's HPA controller
takes no step.
The metrics server (the environment, actor "load", not fair, ``LoadChange``): each pod of a target that is
Running, on a node whose kubelet is up and reachable, with its containers running, has a metric; its value is the
level of the scenario's ``spec.load`` entry for the workload (per pod, or a total shared evenly), and the load
actor switches an entry to another level at most ``spec.load.maxSwitches`` times in all. Without ``spec.load``
every pod uses exactly its HPA's target.
Abstracted: the HPA informer (the HPAs are read from etcd at each sync: after their creation only this
controller writes them, so a caught-up informer, which the clock waits for, holds the same objects); the
recommendations' and events' times are ages in ms (``spec.clock``); a recommendation no window can read again,
or that a younger one dominates (``compress``), is dropped (only the largest, and with a behavior the smallest,
of a window is read), an event's age is capped past every period (upstream replaces the last outdated one, so
their order is kept); lastScaleTime is a flag (``HPAStatus.last_scale_time``); the cpu readiness clauses of
groupPods (--horizontal-pod-autoscaler-cpu-initialization-period 5 min and initial-readiness-delay 30 s): a pod is
unready for cpu exactly when it is not Ready; a pod's request is its containers' total (a total of 0 is a missing
request); metrics appear as soon as the containers run (no scrape delay) and are the level itself (no window).
Omitted: the Pods, Object, External and ContainerResource metric sources and behavior tolerances (refused by the
scenario loader), custom scale subresources (other kinds), the HPAScaleToZero feature (minReplicas 0), the
monitor's metrics.
Properties: ``spec.hpa_properties``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import attrs
import immutables

from checker.errors import InputError
from spec import actions as A
from spec.apiserver import Session
from spec.component import Base, Host, Process, Step
from spec.controllers.manager import running
from spec.quantity import format_milli_cpu, milli_value
from spec.scheduling.types import LabelSelector
from spec.state import (
    AgedValues,
    ClusterState,
    Deployment,
    HorizontalPodAutoscaler,
    HPABehavior,
    HPACondition,
    HPAStatus,
    Key,
    Meta,
    MetricStatus,
    Object,
    Pod,
    PodAutoscaler,
    ReplicaSet,
    ReplicationController,
    ResourceMetric,
    ScalingPolicy,
    ScalingRules,
    StatefulSet,
    key_of,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config, LoadSpec, LoadTarget

ACTOR = "horizontal-pod-autoscaler"
LOAD_ACTOR = "load"
SYNC_PERIOD_MS = 15_000
"""--horizontal-pod-autoscaler-sync-period (the queue's NewDefaultHPARateLimiter interval)."""
TOLERANCE = 0.1
"""--horizontal-pod-autoscaler-tolerance."""
DOWNSCALE_STABILIZATION_MS = 300_000
"""--horizontal-pod-autoscaler-downscale-stabilization (5 min)."""
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
"""horizontal.go scaleUpLimitFactor and scaleUpLimitMinimum (the legacy normalization's rate)."""
TARGETS = {"Deployment": "deployments", "ReplicaSet": "replicasets", "StatefulSet": "statefulsets",
           "ReplicationController": "replicationcontrollers"}
"""The scale targets modelled, by kind: their resource."""
GROUPS = {"Deployment": "apps", "ReplicaSet": "apps", "StatefulSet": "apps", "ReplicationController": ""}
"""Each target kind's API group (a scaleTargetRef's apiVersion must name it: apps/v1, or v1 for the core group)."""
Scalable = Deployment | ReplicaSet | StatefulSet | ReplicationController
"""The objects an HPA scales (``TARGETS``)."""


def group_resource(kind: str) -> str:
    """schema.GroupResource.String of a target kind's resource: ``deployments.apps``, ``replicationcontrollers``."""
    group = GROUPS[kind]
    return f"{TARGETS[kind]}.{group}" if group else TARGETS[kind]
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)
FORBIDDEN_WINDOW = "hpa-forbidden-window"
"""The variant (``spec.variants``): the normalization before kubernetes#68122 (Kubernetes 1.11 and older)."""
DOWNSCALE_FORBIDDEN_MS = 300_000
UPSCALE_FORBIDDEN_MS = 180_000
"""The variant's --horizontal-pod-autoscaler-downscale-delay (5 min) and -upscale-delay (3 min)."""


class MetricError(Exception):
    """A metric that cannot be computed, with upstream's message."""


# --- the replica calculator (replica_calculator.go, metrics/utilization.go) ----------------------------------


@attrs.frozen
class Sample:
    """What groupPods and calculatePodRequests read of one pod of the HPA's pod lister."""

    name: str
    phase: str
    ready: bool
    deleting: bool
    request: int
    """The pod's request of the resource, milli-units (0: a container has none)."""
    container: str


def group_pods(samples: list[Sample], metrics: Mapping[str, int], resource: str
               ) -> tuple[int, set[str], set[str], set[str]]:
    """groupPods: the ready count, and the unready, missing and ignored pods."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for s in samples:
        if s.deleting or s.phase == "Failed":
            ignored.add(s.name)
            continue
        if s.phase == "Pending":
            unready.add(s.name)
            continue
        if s.name not in metrics:
            missing.add(s.name)
            continue
        if resource == "cpu" and not s.ready:  # the initialization-period clauses abstracted (module docstring)
            unready.add(s.name)
            continue
        ready += 1
    return ready, unready, missing, ignored


def pod_requests(samples: list[Sample], resource: str) -> dict[str, int]:
    """calculatePodRequests."""
    out = {}
    for s in samples:
        if s.request <= 0:
            raise MetricError(f"missing request for {resource} in container {s.container} of Pod {s.name}")
        out[s.name] = s.request
    return out


def utilization_ratio(metrics: Mapping[str, int], requests: Mapping[str, int], target: int
                      ) -> tuple[float, int, int]:
    """GetResourceUtilizationRatio: (ratio, utilization %, raw average)."""
    total = requested = n = 0
    for name, value in metrics.items():
        if name not in requests:
            continue
        total += value
        requested += requests[name]
        n += 1
    if requested == 0:
        raise MetricError("no metrics returned matched known pods")
    utilization = total * 100 // requested
    return utilization / target, utilization, total // n


def usage_ratio(metrics: Mapping[str, int], target: int) -> tuple[float, int]:
    """GetMetricUsageRatio: (ratio, average usage)."""
    usage = sum(metrics.values()) // len(metrics)
    return usage / target, usage


def _ceil(x: float) -> int:
    return int(math.ceil(x))


def replicas_for(current: int, target_type: str, target: int, samples: list[Sample], raw: Mapping[str, int],
                 resource: str) -> tuple[int, int | None, int]:
    """GetResourceReplicas (``target_type`` "Utilization") or GetRawResourceReplicas ("AverageValue"): the
    proposal, the utilization (None for AverageValue) and the average value; ``raw`` is the metrics server's
    answer (pod name -> milli-units)."""
    if not raw:
        raise MetricError(f"unable to get metrics for resource {resource}: no metrics returned from resource "
                          "metrics API")
    if not samples:
        raise MetricError("no pods returned by selector while calculating replica count")
    utilization_based = target_type == "Utilization"
    ready, unready, missing, ignored = group_pods(samples, raw, resource)
    metrics = {n: v for n, v in raw.items() if n not in ignored and n not in unready}
    if not metrics:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    requests: dict[str, int] = {}
    if utilization_based:
        requests = pod_requests(samples, resource)
        ratio, utilization, average = utilization_ratio(metrics, requests, target)
    else:
        ratio, average = usage_ratio(metrics, target)
        utilization = 0
    result_utilization = utilization if utilization_based else None
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= TOLERANCE:
            return current, result_utilization, average
        return _ceil(ratio * ready), result_utilization, average
    if missing:
        if ratio < 1.0:
            for name in missing:  # at 100% of the request (or the target above 100%), or at the target
                metrics[name] = (requests[name] * max(100, target) // 100) if utilization_based else target
        elif ratio > 1.0:
            for name in missing:
                metrics[name] = 0
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = 0
    new_ratio = utilization_ratio(metrics, requests, target)[0] if utilization_based else usage_ratio(metrics,
                                                                                                       target)[0]
    if abs(1.0 - new_ratio) <= TOLERANCE or (ratio < 1.0 < new_ratio) or (new_ratio < 1.0 < ratio):
        return current, result_utilization, average
    new_replicas = _ceil(new_ratio * len(metrics))
    if (new_ratio < 1.0 and new_replicas > current) or (new_ratio > 1.0 and new_replicas < current):
        return current, result_utilization, average
    return new_replicas, result_utilization, average


# --- conditions and normalization (horizontal.go) ------------------------------------------------------------


def set_condition(conditions: tuple[HPACondition, ...], type_: str, status: str, reason: str, message: str
                  ) -> tuple[HPACondition, ...]:
    """setConditionInList: the condition of that type replaced in place, or appended."""
    new = HPACondition(type_, status, reason, message)
    if any(c.type == type_ for c in conditions):
        return tuple(new if c.type == type_ else c for c in conditions)
    return (*conditions, new)


def convert_with_rules(current: int, desired: int, lo: int, hi: int) -> tuple[int, str, str]:
    """convertDesiredReplicasWithRules."""
    scale_up_limit = int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))
    if hi > scale_up_limit:
        maximum, cond, reason = scale_up_limit, "ScaleUpLimit", \
            "the desired replica count is increasing faster than the maximum scale rate"
    else:
        maximum, cond, reason = hi, "TooManyReplicas", "the desired replica count is more than the maximum replica " \
            "count"
    if desired < lo:
        return lo, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
    if desired > maximum:
        return maximum, cond, reason
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def legacy_scale_up_limit(current: int) -> int:
    """calculateScaleUpLimit."""
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def change_in_period(period_s: int, events: AgedValues) -> int:
    """getReplicasChangePerPeriod: the changes of the events younger than the period."""
    return sum(change for change, age in events if age < period_s * 1000)


def scale_up_limit(current: int, up: AgedValues, down: AgedValues, rules: ScalingRules) -> int:
    """calculateScaleUpLimitWithScalingRules."""
    if rules.select_policy == "Disabled":
        return current
    pick, result = (min, INT32_MAX) if rules.select_policy == "Min" else (max, INT32_MIN)
    for p in rules.policies:
        start = current - change_in_period(p.period_seconds, up) + change_in_period(p.period_seconds, down)
        proposed = start + p.value if p.type == "Pods" else _ceil(start * (1 + p.value / 100))
        result = pick(result, proposed)
    return result


def scale_down_limit(current: int, up: AgedValues, down: AgedValues, rules: ScalingRules) -> int:
    """calculateScaleDownLimitWithBehaviors."""
    if rules.select_policy == "Disabled":
        return current
    pick, result = (max, INT32_MIN) if rules.select_policy == "Min" else (min, INT32_MAX)
    for p in rules.policies:
        start = current - change_in_period(p.period_seconds, up) + change_in_period(p.period_seconds, down)
        proposed = start - p.value if p.type == "Pods" else int(start * (1 - p.value / 100))
        result = pick(result, proposed)
    return result


def down_window_ms(hpa: HorizontalPodAutoscaler) -> int:
    """The scale-down stabilization window: the behavior's, or the controller's flag (maybeInitScaleDown...)."""
    b = hpa.behavior
    if b is None or b.scale_down.stabilization_window_seconds is None:
        return DOWNSCALE_STABILIZATION_MS
    return b.scale_down.stabilization_window_seconds * 1000


def longest_period_ms(rules: ScalingRules) -> int:
    """getLongestPolicyPeriod."""
    return max((p.period_seconds for p in rules.policies), default=0) * 1000


def horizons(hpa: HorizontalPodAutoscaler | None) -> tuple[int, int]:
    """How old a recommendation and a scale event can be and still count (ms): a recommendation older is dropped,
    an event's age is capped just beyond (its place in the list still decides which one is replaced)."""
    if hpa is None:
        return 3_600_000, 1_800_000
    if hpa.behavior is None:
        return DOWNSCALE_STABILIZATION_MS, 0
    up_window = (hpa.behavior.scale_up.stabilization_window_seconds or 0) * 1000
    return max(up_window, down_window_ms(hpa)), max(longest_period_ms(hpa.behavior.scale_up),
                                                    longest_period_ms(hpa.behavior.scale_down))


def compress(recs: AgedValues, up_window: int = 0) -> AgedValues:
    """The recommendations that can still decide a stabilization, youngest first: an entry with a younger one at
    least as large can never be the largest of a window (the younger one stays in every window it is in), nor,
    with a younger one at most as large or an age past the scale-up window, the smallest. Upstream keeps a list and
    reuses the slot of an old entry; only the largest (and, with a behavior, the smallest) of a window is read, so
    dropping the others changes no decision, and keeps the history from recording every path to a state."""
    out: list[tuple[int, int]] = []
    high = low = None
    for r, age in sorted(recs, key=lambda e: (e[1], -e[0])):
        keep_high = high is None or r > high
        keep_low = age < up_window and (low is None or r < low)
        if keep_high or keep_low:
            out.append((r, age))
        high = r if high is None else max(high, r)
        low = r if low is None else min(low, r)
    return tuple(out)


def stabilize_legacy(recs: AgedValues, desired: int) -> tuple[int, AgedValues]:
    """stabilizeRecommendation: the largest recommendation not older than the window (the entries kept are those:
    ``horizons``), and the history with ``desired`` recorded."""
    highest = max([desired] + [r for r, age in recs if age <= DOWNSCALE_STABILIZATION_MS])
    return highest, compress(((desired, 0), *recs))


def stabilize_behaviors(recs: AgedValues, desired: int, current: int, hpa: HorizontalPodAutoscaler
                        ) -> tuple[int, str, str, AgedValues]:
    """stabilizeRecommendationWithBehaviors."""
    assert hpa.behavior is not None
    up_window = (hpa.behavior.scale_up.stabilization_window_seconds or 0) * 1000
    down_window = down_window_ms(hpa)
    up = min([desired] + [r for r, age in recs if age < up_window])
    down = max([desired] + [r for r, age in recs if age < down_window])
    recommendation = max(current, up)
    recommendation = min(recommendation, down)
    if desired >= current:
        reason, message = "ScaleUpStabilized", "recent recommendations were lower than current one, applying the " \
            "lowest recent recommendation"
    else:
        reason, message = "ScaleDownStabilized", "recent recommendations were higher than current one, applying " \
            "the highest recent recommendation"
    return recommendation, reason, message, compress(((desired, 0), *recs), up_window)


def convert_with_behavior_rate(current: int, desired: int, lo: int, hi: int, up: AgedValues, down: AgedValues,
                               hpa: HorizontalPodAutoscaler) -> tuple[int, str, str]:
    """convertDesiredReplicasWithBehaviorRate."""
    assert hpa.behavior is not None
    if desired > current:
        limit = max(scale_up_limit(current, up, down, hpa.behavior.scale_up), current)
        if hi > limit:
            maximum, reason, message = limit, "ScaleUpLimit", "the desired replica count is increasing faster than " \
                "the maximum scale rate"
        else:
            maximum, reason, message = hi, "TooManyReplicas", "the desired replica count is more than the maximum " \
                "replica count"
        if desired > maximum:
            return maximum, reason, message
    elif desired < current:
        limit = min(scale_down_limit(current, up, down, hpa.behavior.scale_down), current)
        if lo < limit:
            minimum, reason, message = limit, "ScaleDownLimit", "the desired replica count is decreasing faster " \
                "than the maximum scale rate"
        else:
            minimum, reason, message = lo, "TooFewReplicas", "the desired replica count is less than the minimum " \
                "replica count"
        if desired < minimum:
            return minimum, reason, message
    return desired, "DesiredWithinRange", "the desired count is within the acceptable range"


def store_event(events: AgedValues, change: int, longest_ms: int) -> AgedValues:
    """storeScaleEvent for one direction: the last event older than the longest period is replaced, else the new
    one is appended."""
    outdated = [i for i, (_, age) in enumerate(events) if age > longest_ms]
    if outdated:
        i = outdated[-1]
        return (*events[:i], (change, 0), *events[i + 1:])
    return (*events, (change, 0))


# --- the metrics server (the environment) --------------------------------------------------------------------


def selector_string(sel: LabelSelector) -> str:
    """metav1.FormatLabelSelector of a workload's selector (the scale's status.selector)."""
    parts = [f"{k}={v}" for k, v in sorted(sel.match_labels)]
    for r in sel.match_expressions:
        if r.operator in ("In", "NotIn"):
            parts.append(f"{r.key} {r.operator.lower()} ({','.join(sorted(r.values))})")
        elif r.operator == "Exists":
            parts.append(r.key)
        else:
            parts.append(f"!{r.key}")
    return ",".join(sorted(parts))


def _selects(workload: Object | None, pod: Pod) -> bool:
    return (isinstance(workload, Scalable) and workload.meta.namespace ==
            pod.meta.namespace and workload.selector.matches(dict(pod.meta.labels)))


def has_metrics(state: ClusterState, pod: Pod) -> bool:
    """The metrics server has a sample of ``pod``: Running, its containers running on a node whose kubelet is up
    and reachable (the metrics server scrapes the kubelets)."""
    if pod.status.phase != "Running" or not pod.node_name:
        return False
    key = f"pods/{pod.meta.namespace}/{pod.meta.name}"
    for k in state.kubelets:
        if k.node == pod.node_name:
            return k.up and not k.partitioned and any(
                c.pod == key and c.uid == pod.meta.uid and c.running for c in k.runtime)
    return False


def workload_pods(state: ClusterState, workload: Object) -> list[Pod]:
    """The pods (in etcd, by name) that ``workload``'s selector selects."""
    return sorted((p for p in state.etcd.of("pods") if isinstance(p, Pod) and _selects(workload, p)),
                  key=lambda p: p.meta.name)


def pod_metrics(state: ClusterState, hpa: HorizontalPodAutoscaler, workload: Object, resource: str
                ) -> dict[str, int]:
    """The metrics server's answer for the pods of ``workload`` (pod name -> milli-units of ``resource``): the
    current level of its ``spec.load`` entry (``PodAutoscaler.load``), per pod or shared; without one, each pod
    uses exactly the HPA's target."""
    assert isinstance(workload, Scalable)
    pods = [p for p in workload_pods(state, workload) if has_metrics(state, p)]
    wkey = key_of(TARGETS[type(workload).__name__], workload.meta.namespace, workload.meta.name)
    entry = None
    for key, mode, level in (state.hpa.load if state.hpa is not None else ()):
        if key == wkey:
            entry = (mode, dict(level).get(resource))
    if entry is None or entry[1] is None:  # no load given: every pod uses exactly its HPA's target
        for m in hpa.metrics:
            if m.name == resource:
                return {p.meta.name: _request(p, resource) * m.value // 100 if m.target_type == "Utilization"
                        else m.value for p in pods}
        return {p.meta.name: 0 for p in pods}
    mode, total = entry
    assert total is not None
    if mode == "perPod":
        return {p.meta.name: total for p in pods}
    n = len(pods)
    return {p.meta.name: total // n + (1 if i < total % n else 0) for i, p in enumerate(pods)}


def _request(pod: Pod, resource: str) -> int:
    r = pod.info.requests
    return r.milli_cpu if resource == "cpu" else r.memory * 1000


# --- the sync (reconcileAutoscaler) --------------------------------------------------------------------------


@attrs.frozen
class Outcome:
    """One sync's result: the new slot, and what it wrote."""

    slot: PodAutoscaler
    events: tuple[str, ...]


def _metric_name(resource: str, target_type: str) -> str:
    if target_type == "Utilization":
        return f"{resource} resource utilization (percentage of request)"
    return f"{resource} resource"


def compute_metrics(state: ClusterState, config: Config, hpa: HorizontalPodAutoscaler, workload: Object,
                    spec_replicas: int, session: Session, hpa_ref: str, conditions: tuple[HPACondition, ...]
                    ) -> tuple[int, str, tuple[MetricStatus, ...], tuple[HPACondition, ...], str | None]:
    """computeReplicasForMetrics: (replicas or -1, metric, statuses, conditions, error)."""
    assert isinstance(workload, Scalable)
    informer = state.kcm.informers[2]
    pods = sorted((o for o in informer.cache.values() if isinstance(o, Pod) and _selects(workload, o)),
                  key=lambda p: p.meta.name)
    others = sorted(f"{{{o.meta.name} {o.meta.namespace}}}" for o in state.etcd.of("horizontalpodautoscalers")
                    if isinstance(o, HorizontalPodAutoscaler) and o.meta.namespace == hpa.meta.namespace
                    and any(_selects(state.etcd.objects.get(key_of(TARGETS[o.target_kind], o.meta.namespace,
                                                                   o.target_name)), p) for p in pods))
    if len(others) > 1:  # validateAndParseSelector: the pods are under two HPAs' selectors
        message = f"pods by selector {selector_string(workload.selector)} are controlled by multiple HPAs: " \
            f"[{' '.join(others)}]"
        session.event(hpa_ref, "Warning", "AmbiguousSelector", message)
        conditions = set_condition(conditions, "ScalingActive", "False", "AmbiguousSelector", message)
        return -1, "", (), conditions, message
    replicas, metric = 0, ""
    statuses: list[MetricStatus] = []
    invalid = 0
    first: tuple[str, str] | None = None
    for m in hpa.metrics:
        for_resource = [Sample(p.meta.name, p.status.phase, p.status.ready, p.meta.deleting, _request(p, m.name),
                               p.containers[0].name if p.containers else "") for p in pods]
        try:
            proposal, utilization, average = replicas_for(spec_replicas, m.target_type, m.value, for_resource,
                                                          pod_metrics(state, hpa, workload, m.name), m.name)
        except MetricError as err:
            inner = f"failed to get {m.name} {'utilization' if m.target_type == 'Utilization' else 'usage'}: {err}"
            session.event(hpa_ref, "Warning", "FailedGetResourceMetric", inner)
            if first is None:
                first = ("FailedGetResourceMetric", inner)
            invalid += 1
            statuses.append(MetricStatus("", None, 0))
            continue
        statuses.append(MetricStatus(m.name, utilization, average))
        if replicas == 0 or proposal > replicas:
            replicas, metric = proposal, _metric_name(m.name, m.target_type)
    if first is not None and (invalid >= len(hpa.metrics) or replicas < spec_replicas):
        conditions = set_condition(conditions, "ScalingActive", "False", first[0],
                                   f"the HPA was unable to compute the replica count: {first[1]}")
        error = f"invalid metrics ({invalid} invalid out of {len(hpa.metrics)}), first error is: failed to get " \
            f"{hpa.metrics[0].name} resource metric value: {first[1]}"
        return -1, "", tuple(statuses), conditions, error
    conditions = set_condition(conditions, "ScalingActive", "True", "ValidMetricFound",
                               f"the HPA was able to successfully calculate a replica count from {metric}")
    return replicas, metric, tuple(statuses), conditions, None


def _put(m: immutables.Map[Key, AgedValues], key: Key, value: AgedValues) -> immutables.Map[Key, AgedValues]:
    return m.set(key, value) if value else (m.delete(key) if key in m else m)


def sync(slot: PodAutoscaler, state: ClusterState, config: Config, key: Key, session: Session) -> PodAutoscaler:
    """processNextWorkItem for one HPA: reconcileKey, then AddRateLimited (its next sync in 15 s)."""
    slot = attrs.evolve(slot, queue=tuple(k for k in slot.queue if k != key),
                        waiting=tuple(sorted({**dict(slot.waiting), key: SYNC_PERIOD_MS}.items())))
    hpa = session.get(key)
    if not isinstance(hpa, HorizontalPodAutoscaler):  # deleted: its memory goes, and it is not queued again
        return attrs.evolve(slot, waiting=tuple(w for w in slot.waiting if w[0] != key),
                            recommendations=_put(slot.recommendations, key, ()),
                            up_events=_put(slot.up_events, key, ()), down_events=_put(slot.down_events, key, ()))
    return reconcile(slot, state, config, key, hpa, session)


def reconcile(slot: PodAutoscaler, state: ClusterState, config: Config, key: Key, hpa: HorizontalPodAutoscaler,
              session: Session) -> PodAutoscaler:
    """reconcileAutoscaler."""
    ns = hpa.meta.namespace
    ref = f"horizontalpodautoscalers/{ns}/{hpa.meta.name}"
    status = hpa.status
    conditions = status.conditions
    resource = TARGETS[hpa.target_kind]
    reference = f"{hpa.target_kind}/{ns}/{hpa.target_name}"
    target_key = key_of(resource, ns, hpa.target_name)
    target = session.get(target_key)
    if not isinstance(target, Scalable):
        err = f'{group_resource(hpa.target_kind)} "{hpa.target_name}" not found'
        session.event(ref, "Warning", "FailedGetScale", err)
        conditions = set_condition(conditions, "AbleToScale", "False", "FailedGetScale",
                                   f"the HPA controller was unable to get the target's current scale: {err}")
        _write_status(session, hpa, attrs.evolve(status, conditions=conditions))
        return slot
    conditions = set_condition(conditions, "AbleToScale", "True", "SucceededGetScale",
                               "the HPA controller was able to get the target's current scale")
    current = target.replicas
    recs = slot.recommendations.get(key)
    if recs is None and FORBIDDEN_WINDOW not in config.variants:  # recordInitialRecommendation (a list that only
        recs = ((current, 0),)                                      # holds entries past every window is not nil)
    lo, hi = hpa.min_replicas, hpa.max_replicas
    statuses: tuple[MetricStatus, ...] = ()
    rescale_reason = ""
    seen = slot.seen
    if current == 0 and lo != 0:
        desired, rescale = 0, False
        conditions = set_condition(conditions, "ScalingActive", "False", "ScalingDisabled",
                                   "scaling is disabled since the replica count of the target is zero")
    elif current > hi:
        desired, rescale, rescale_reason = hi, True, "Current number of replicas above Spec.MaxReplicas"
    elif current < lo:
        desired, rescale, rescale_reason = lo, True, "Current number of replicas below Spec.MinReplicas"
    else:
        proposal, metric, statuses, conditions, error = compute_metrics(state, config, hpa, target, current,
                                                                       session, ref, conditions)
        if error is not None:
            new_status = attrs.evolve(status, current_replicas=current, current_metrics=statuses,
                                      conditions=conditions)
            _write_status(session, hpa, new_status)
            session.event(ref, "Warning", "FailedComputeMetricsReplicas",
                          f"failed to compute desired number of replicas based on listed metrics for {reference}: "
                          f"{error}")
            return slot if recs is None else attrs.evolve(slot, recommendations=slot.recommendations.set(key, recs))
        desired = max(proposal, 0)
        if desired > current:
            rescale_reason = f"{metric} above target"
        if desired < current:
            rescale_reason = "All metrics below target"
        seen = _put(seen, key, compress(((desired, 0), *slot.seen.get(key, ()))))
        prior = slot.seen.get(key, ())
        if FORBIDDEN_WINDOW in config.variants:
            desired, conditions = _forbidden_window(slot, key, hpa, current, desired, conditions)
        elif hpa.behavior is None:
            assert recs is not None
            stabilized, recs = stabilize_legacy(recs, desired)
            conditions = set_condition(
                conditions, "AbleToScale", "True", *(("ScaleDownStabilized", "recent recommendations were higher "
                                                      "than current one, applying the highest recent recommendation")
                                                     if stabilized != desired else
                                                     ("ReadyForNewScale", "recommended size matches current size")))
            desired, reason, message = convert_with_rules(current, stabilized, lo, hi)
            conditions = set_condition(conditions, "ScalingLimited", "False" if desired == stabilized else "True",
                                       reason, message)
        else:
            assert recs is not None
            stabilized, reason, message, recs = stabilize_behaviors(recs, desired, current, hpa)
            if stabilized != desired:
                conditions = set_condition(conditions, "AbleToScale", "True", reason, message)
            else:
                conditions = set_condition(conditions, "AbleToScale", "True", "ReadyForNewScale",
                                           "recommended size matches current size")
            desired, reason, message = convert_with_behavior_rate(
                current, stabilized, lo, hi, slot.up_events.get(key, ()), slot.down_events.get(key, ()), hpa)
            conditions = set_condition(conditions, "ScalingLimited", "False" if desired == stabilized else "True",
                                       reason, message)
        rescale = desired != current
        slot = attrs.evolve(slot, violations=slot.violations | _violations(slot, key, hpa, current, desired, prior,
                                                                           reference))
    if recs is not None:
        slot = attrs.evolve(slot, recommendations=slot.recommendations.set(key, recs))
    slot = attrs.evolve(slot, seen=seen)
    if rescale:
        session.patch(target_key, attrs.evolve(target, replicas=desired))
        conditions = set_condition(conditions, "AbleToScale", "True", "SucceededRescale",
                                   f"the HPA controller was able to update the target scale to {desired}")
        session.event(ref, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {rescale_reason}")
        slot = _store_scale(slot, key, hpa, current, desired, FORBIDDEN_WINDOW in config.variants)
    else:
        desired = current
    new_status = HPAStatus(current, desired, status.last_scale_time or rescale, statuses, conditions)
    _write_status(session, hpa, new_status)
    return slot


def why_sync(state: ClusterState, key: Key) -> str:
    """What a sync reads (``spec.display.why``)."""
    hpa = state.etcd.objects.get(key)
    slot = state.hpa
    if not isinstance(hpa, HorizontalPodAutoscaler) or slot is None:
        return f"{ACTOR} read {key} from its informer: gone"
    target = state.etcd.objects.get(key_of(TARGETS[hpa.target_kind], hpa.meta.namespace, hpa.target_name))
    scale = f"{target.replicas} replicas" if isinstance(target, Scalable) else "not found"
    metrics = []
    if isinstance(target, Scalable):
        for m in hpa.metrics:
            got = pod_metrics(state, hpa, target, m.name)
            metrics.append(f"{m.name} " + (", ".join(f"{n} {_quantity(m.name, v)}" for n, v in sorted(got.items()))
                                           or "none"))
    return (f"{ACTOR} read the scale of {hpa.target_kind} {hpa.target_name} from the API server ({scale}), its pods "
            f"from the controller manager's pod informer (at rv {state.kcm.informers[2].rv}), the metrics server's "
            f"usage ({'; '.join(metrics) or 'none'})")


def _forbidden_window(slot: PodAutoscaler, key: Key, hpa: HorizontalPodAutoscaler, current: int, desired: int,
                      conditions: tuple[HPACondition, ...]) -> tuple[int, tuple[HPACondition, ...]]:
    """The variant hpa-forbidden-window: Kubernetes 1.11's normalizeDesiredReplicas (the rules, no
    recommendations) and shouldScale (no scale down within 5 min, no scale up within 3 min of the last scale)."""
    desired, reason, message = convert_with_rules(current, desired, hpa.min_replicas, hpa.max_replicas)
    conditions = set_condition(conditions, "ScalingLimited", "False" if reason == "DesiredWithinRange" else "True",
                               reason, message)
    age = slot.scale_age.get(key)
    if age is None:
        conditions = set_condition(conditions, "AbleToScale", "True", "ReadyForNewScale",
                                   "the last scale time was sufficiently old as to warrant a new scale")
        return desired, conditions
    back_down, back_up = age <= DOWNSCALE_FORBIDDEN_MS, age <= UPSCALE_FORBIDDEN_MS
    if back_down or back_up:
        reason = "BackoffBoth" if back_down and back_up else "BackoffDownscale" if back_down else "BackoffUpscale"
        conditions = set_condition(conditions, "AbleToScale", "True", reason,
                                   "the time since the previous scale is still within the forbidden window")
    else:
        conditions = set_condition(conditions, "AbleToScale", "True", "ReadyForNewScale",
                                   "the last scale time was sufficiently old as to warrant a new scale")
    if (desired < current and back_down) or (desired > current and back_up):
        return current, conditions
    return desired, conditions


def _store_scale(slot: PodAutoscaler, key: Key, hpa: HorizontalPodAutoscaler, current: int, desired: int,
                 forbidden: bool) -> PodAutoscaler:
    """storeScaleEvent, and the history variables of a rescale."""
    change = abs(desired - current)
    up_events, down_events = slot.up_events, slot.down_events
    seen_up, seen_down = slot.seen_up, slot.seen_down
    if hpa.behavior is not None:
        if desired > current:
            up_events = up_events.set(key, store_event(up_events.get(key, ()), change,
                                                       longest_period_ms(hpa.behavior.scale_up)))
            seen_up = seen_up.set(key, (*seen_up.get(key, ()), (change, 0)))
        else:
            down_events = down_events.set(key, store_event(down_events.get(key, ()), change,
                                                           longest_period_ms(hpa.behavior.scale_down)))
            seen_down = seen_down.set(key, (*seen_down.get(key, ()), (change, 0)))
    scale_age = slot.scale_age.set(key, 0) if forbidden else slot.scale_age  # lastScaleTime, read by the variant
    return attrs.evolve(slot, up_events=up_events, down_events=down_events, seen_up=seen_up, seen_down=seen_down,
                        written=slot.written.set(key, desired), scale_age=scale_age)


def _violations(slot: PodAutoscaler, key: Key, hpa: HorizontalPodAutoscaler, current: int, desired: int,
                prior: AgedValues, reference: str) -> frozenset[str]:
    """The promises (``spec.hpa_properties``) a decision of the metrics branch breaks, judged on the history
    variables (which a crash keeps), not on the controller's memory."""
    out = set()
    who = f"HPA {hpa.meta.namespace}/{hpa.meta.name}"
    if desired < current:
        window = down_window_ms(hpa)
        higher = [(r, age) for r, age in prior if age < window]
        if higher:
            top = max(r for r, _ in higher)
            bound = min(current, hpa.max_replicas, top)
            if desired < bound:
                age = min(age for r, age in higher if r == top)
                out.add(f"stabilization: {who} scaled {reference} down from {current} to {desired} although it "
                        f"recommended {top} {age // 1000} s before (scale-down stabilization window "
                        f"{window // 1000} s)")
    if desired > current:
        if hpa.behavior is None:
            limit = max(2 * current, 4)
            rule = "max(2 x current, 4)"
        else:
            from spec.hpa_properties import allowed_scale_up

            limit = allowed_scale_up(current, slot.seen_up.get(key, ()), slot.seen_down.get(key, ()),
                                     hpa.behavior.scale_up)
            rules = hpa.behavior.scale_up
            rule = ", ".join(f"{p.value} {'pods' if p.type == 'Pods' else '%'} per {p.period_seconds} s"
                             for p in rules.policies) + f" (selectPolicy {rules.select_policy})"
        if desired > limit:
            out.add(f"rate: {who} scaled {reference} up from {current} to {desired}, above the {limit} its scale-up "
                    f"policies allow ({rule}), counting every rescale it made")
    return frozenset(out)


def _write_status(session: Session, hpa: HorizontalPodAutoscaler, status: HPAStatus) -> None:
    """updateStatusIfNeeded: UpdateStatus only when the status changed."""
    if status != hpa.status:
        current = session.get(f"horizontalpodautoscalers/{hpa.meta.namespace}/{hpa.meta.name}")
        if isinstance(current, HorizontalPodAutoscaler):
            session.update(attrs.evolve(current, status=status), status=True)


# --- time ----------------------------------------------------------------------------------------------------


def _aged(values: AgedValues, dt: int, keep_below: int | None, cap: int | None) -> AgedValues:
    out = []
    for v, age in values:
        age += dt
        if keep_below is not None and age > keep_below:
            continue
        if cap is not None:
            age = min(age, cap)
        out.append((v, age))
    return tuple(out)


def elapse(slot: PodAutoscaler, state: ClusterState, dt: int, run: bool = True) -> PodAutoscaler:
    """``dt`` ms pass: each HPA's rate-limiter timer runs down (at 0 the HPA is queued; only while the controller
    runs, ``run``: a frozen one's timers stand still), every recommendation and event ages (wall-clock stamps
    upstream: whether or not it runs; those no window can count again dropped, or capped: ``horizons``)."""
    waiting: list[tuple[Key, int]] = [] if run else list(slot.waiting)
    queue = list(slot.queue)
    for key, ms in slot.waiting if run else ():
        if ms - dt <= 0:
            if key not in queue:
                queue.append(key)
        else:
            waiting.append((key, ms - dt))
    recs: dict[Key, AgedValues] = {}
    ups: dict[Key, AgedValues] = {}
    downs: dict[Key, AgedValues] = {}
    seen: dict[Key, AgedValues] = {}
    seen_up: dict[Key, AgedValues] = {}
    seen_down: dict[Key, AgedValues] = {}
    keys = set(slot.recommendations) | set(slot.up_events) | set(slot.down_events) | set(slot.seen) | \
        set(slot.seen_up) | set(slot.seen_down)
    for key in keys:
        hpa = state.etcd.objects.get(key)
        rec_h, event_h = horizons(hpa if isinstance(hpa, HorizontalPodAutoscaler) else None)
        if key in slot.recommendations:
            recs[key] = _aged(slot.recommendations[key], dt, rec_h, None)
        if key in slot.seen:
            seen[key] = _aged(slot.seen[key], dt, rec_h, None)
        for src, dst in ((slot.up_events, ups), (slot.down_events, downs)):
            if key in src:
                dst[key] = _aged(src[key], dt, None, event_h + 1)
        for src, dst in ((slot.seen_up, seen_up), (slot.seen_down, seen_down)):
            if key in src:
                dst[key] = _aged(src[key], dt, event_h, None)
    scale_age = immutables.Map({k: min(a + dt, DOWNSCALE_FORBIDDEN_MS + 1) for k, a in slot.scale_age.items()}) \
        if slot.scale_age else slot.scale_age

    def mapped(d: dict[Key, AgedValues]) -> immutables.Map[Key, AgedValues]:
        return immutables.Map({k: v for k, v in d.items() if v})

    # a recommendation list stays even when empty (recordInitialRecommendation runs only on a missing key)
    return PodAutoscaler(tuple(sorted(queue)), tuple(waiting), immutables.Map(recs), mapped(ups), mapped(downs),
                         scale_age, slot.load, slot.switches, mapped(seen), mapped(seen_up), mapped(seen_down),
                         slot.written, slot.violations)


# --- the components --------------------------------------------------------------------------------------------


def hpas(config: Config) -> list[HorizontalPodAutoscaler]:
    return [o for o in config.objects if isinstance(o, HorizontalPodAutoscaler)]


def hpa_key(hpa: HorizontalPodAutoscaler) -> Key:
    return f"horizontalpodautoscalers/{hpa.meta.namespace}/{hpa.meta.name}"


@functools.lru_cache(maxsize=1 << 12)
def _sync(slot: PodAutoscaler, state: ClusterState, config: Config, key: Key
          ) -> tuple[PodAutoscaler, ClusterState, tuple[str, ...]]:
    session = Session(state.etcd, state.ghost)
    new = sync(slot, state, config, key, session)
    return new, settle(state._with(etcd=session.etcd, ghost=session.ghost, hpa=new), config), tuple(session.events)


class PodAutoscalerComponent(Base):
    """The HPA controller (module docstring): slot ``ClusterState.hpa``; steps ``Reconcile`` (actor
    "horizontal-pod-autoscaler", weakly fair: one queued HPA's sync); timers: each HPA's 15 s; a queued sync is
    urgent. A controller-manager restart loses the queue, the recommendations and the scale events; the relisted
    HPA informer queues every HPA again after 15 s (enqueueHPA: AddRateLimited). Under leader election it runs
    only in the acting replica (``running``), its timers with it; ``stopped`` while none acts."""

    name = ACTOR
    host = Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR,) if hpas(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        found = hpas(config)
        if not found:
            return state
        load = config.load
        return state._with(hpa=PodAutoscaler(
            waiting=tuple(sorted((hpa_key(h), SYNC_PERIOD_MS) for h in found)),
            load=tuple((_workload_key(t), t.mode, t.levels[0]) for t in load.targets) if load is not None else (),
            switches=load.max_switches if load is not None else 0))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        slot = state.hpa
        if slot is None or not running(state):
            return
        for key in slot.queue:
            new, after, events = _sync(slot, state, config, key)
            yield A.Reconcile(ACTOR, key, False, events), after

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if self.busy(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return state.hpa is not None and bool(state.hpa.queue) and running(state)

    def urgent(self, state: ClusterState, config: Config) -> bool:
        return self.busy(state, config)

    def timers(self, state: ClusterState) -> list[int]:
        return [] if state.hpa is None or not running(state) else [ms for _, ms in state.hpa.waiting]

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        slot = state.hpa
        if slot is None:
            return state, ()
        run = running(state)
        fired = ("HPA sync period",) if run and any(ms <= dt for _, ms in slot.waiting) else ()
        return state._with(hpa=elapse(slot, state, dt, run)), fired

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): nothing of the
        controller's memory (queue, rate-limiter timers, recommendations, scale events); the load, the status
        (``scale_age``: lastScaleTime) and the history variables are not the process's and stay."""
        slot = state.hpa
        if slot is None:
            return state
        return state._with(hpa=attrs.evolve(slot, queue=(), waiting=(), recommendations=immutables.Map(),
                                            up_events=immutables.Map(), down_events=immutables.Map()))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        slot = state.hpa
        if slot is None:
            return state
        keys = sorted(k for k, o in state.etcd.objects.items() if isinstance(o, HorizontalPodAutoscaler))
        return state._with(hpa=attrs.evolve(
            slot, queue=(), waiting=tuple((k, SYNC_PERIOD_MS) for k in keys), recommendations=immutables.Map(),
            up_events=immutables.Map(), down_events=immutables.Map()))


class LoadComponent(Base):
    """The metrics server's load (the environment): steps ``LoadChange`` (actor "load", not fair), while switches
    are left, each entry of ``spec.load`` to each other level; no slot of its own (``PodAutoscaler.load``), no
    process (a crash changes no load)."""

    name = LOAD_ACTOR

    def actors(self, config: Config) -> tuple[str, ...]:
        return (LOAD_ACTOR,) if config.load is not None and config.load.max_switches and hpas(config) else ()

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        slot = state.hpa
        if slot is None or config.load is None or not slot.switches:
            return
        for i, target in enumerate(config.load.targets):
            for level in target.levels:
                if level == slot.load[i][2]:
                    continue
                load = (*slot.load[:i], (slot.load[i][0], slot.load[i][1], level), *slot.load[i + 1:])
                yield (A.LoadChange(LOAD_ACTOR, slot.load[i][0], describe_level(target.mode, level)),
                       state._with(hpa=attrs.evolve(slot, load=load, switches=slot.switches - 1)))

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        slot = state.hpa
        if slot is None or config.load is None or not slot.switches:
            return set()
        return {LOAD_ACTOR} if any(len(t.levels) > 1 for t in config.load.targets) else set()


def _workload_key(target: LoadTarget) -> Key:
    return key_of(target.resource, target.namespace, target.name)


def describe_level(mode: str, level: tuple[tuple[str, int], ...]) -> str:
    """"100m cpu in all", "40m cpu per pod"."""
    return ", ".join(f"{_quantity(r, v)} {r}" for r, v in level) + (" in all" if mode == "total" else " per pod")


def _quantity(resource: str, milli: int) -> str:
    if resource == "cpu":
        return format_milli_cpu(milli)
    return f"{milli // 1000}" if milli % 1000 == 0 else f"{milli}m"


PODAUTOSCALER = PodAutoscalerComponent()
LOAD = LoadComponent()


# --- reading HorizontalPodAutoscaler documents and the scenario's load (spec.scenario) ----------------------------

MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
"""pkg/apis/autoscaling/validation/validation.go MaxPeriodSeconds, MaxStabilizationWindowSeconds."""
DEFAULT_CPU_UTILIZATION = 80
"""pkg/apis/autoscaling autoscaling.DefaultCPUUtilization: the metric of an HPA that names none."""
NOT_MODELLED_METRICS = {"Pods": "pods", "Object": "object", "External": "external",
                        "ContainerResource": "containerResource"}


class Invalid(Exception):
    """A document the API server's validation refuses (the scenario loader names the document)."""


def _bad(name: str, message: str) -> Invalid:
    """An Invalid error as the API server words it (only the first of the list)."""
    return Invalid(f'HorizontalPodAutoscaler.autoscaling "{name}" is invalid: {message}')


def _int_field(doc: Mapping[str, object], key: str, where: str) -> int | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{where}.{key}: expected an integer, got {value!r}")
    return value


def _rules(raw: object, where: str, name: str, path: str, up: bool) -> ScalingRules:
    """validateScalingRules, then GenerateHPAScaleUpRules / GenerateHPAScaleDownRules (copyHPAScalingRules)."""
    default = ScalingRules(0, "Max", (ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15))) if up else \
        ScalingRules(None, "Max", (ScalingPolicy("Percent", 100, 15),))
    if raw is None:
        return default
    if not isinstance(raw, dict):
        raise InputError(f"{where}.{path}: expected a mapping, got {raw!r}")
    if raw.get("tolerance") is not None:
        raise InputError(f"{where}.{path}.tolerance: a per-HPA tolerance (the HPAConfigurableTolerance feature) is "
                         "not modelled: the controller's --horizontal-pod-autoscaler-tolerance 0.1 applies")
    window = _int_field(raw, "stabilizationWindowSeconds", f"{where}.{path}")
    if window is not None and window < 0:
        raise _bad(name, f"{path}.stabilizationWindowSeconds: Invalid value: {window}: must be greater than or "
                         "equal to zero")
    if window is not None and window > MAX_STABILIZATION_WINDOW_SECONDS:
        raise _bad(name, f"{path}.stabilizationWindowSeconds: Invalid value: {window}: must be less than or equal "
                         f"to {MAX_STABILIZATION_WINDOW_SECONDS}")
    select = raw.get("selectPolicy")
    if select is not None and select not in ("Disabled", "Max", "Min"):
        raise _bad(name, f'{path}.selectPolicy: Unsupported value: "{select}": supported values: "Disabled", "Max", '
                         '"Min"')
    policies_raw = raw.get("policies")
    policies = default.policies
    if policies_raw is not None:
        if not isinstance(policies_raw, list) or not policies_raw:
            raise _bad(name, f"{path}.policies: Required value: must specify at least one Policy")
        out = []
        for i, p in enumerate(policies_raw):
            at = f"{path}.policies[{i}]"
            if not isinstance(p, dict):
                raise InputError(f"{where}.{at}: expected a mapping, got {p!r}")
            ptype = p.get("type")
            if ptype not in ("Pods", "Percent"):
                raise _bad(name, f'{at}.type: Unsupported value: "{ptype or ""}": supported values: "Percent", '
                                 '"Pods"')
            value = _int_field(p, "value", f"{where}.{at}") or 0
            if value <= 0:
                raise _bad(name, f"{at}.value: Invalid value: {value}: must be greater than zero")
            period = _int_field(p, "periodSeconds", f"{where}.{at}") or 0
            if period <= 0:
                raise _bad(name, f"{at}.periodSeconds: Invalid value: {period}: must be greater than zero")
            if period > MAX_PERIOD_SECONDS:
                raise _bad(name, f"{at}.periodSeconds: Invalid value: {period}: must be less than or equal to "
                                 f"{MAX_PERIOD_SECONDS}")
            out.append(ScalingPolicy(str(ptype), value, period))
        policies = tuple(out)
    elif "policies" in raw:
        raise _bad(name, f"{path}.policies: Required value: must specify at least one Policy")
    return ScalingRules(window if window is not None else default.stabilization_window_seconds,
                        str(select) if select is not None else default.select_policy, policies)


def _resource_metric(raw: Mapping[str, object], where: str, name: str, path: str) -> ResourceMetric:
    """validateResourceSource and validateMetricTarget for a Resource metric (cpu or memory)."""
    resource = raw.get("name")
    if not resource:
        raise _bad(name, f"{path}.name: Required value: must specify a resource name")
    if resource not in ("cpu", "memory"):
        raise InputError(f"{where}.{path}.name: resource {resource!r} is not modelled (cpu and memory are: the "
                         "metrics server reports those)")
    target = raw.get("target")
    if not isinstance(target, dict):
        raise _bad(name, f"{path}.target.type: Required value: must specify a metric target type")
    ttype = target.get("type")
    if not ttype:
        raise _bad(name, f"{path}.target.type: Required value: must specify a metric target type")
    if ttype not in ("Utilization", "Value", "AverageValue"):
        raise _bad(name, f'{path}.target.type: Invalid value: "{ttype}": must be either Utilization, Value, or '
                         "AverageValue")
    value = target.get("value")
    if value is not None and milli_value(value, f"{where}.{path}.target.value") <= 0:
        raise _bad(name, f'{path}.target.value: Invalid value: "{value}": must be positive')
    average = target.get("averageValue")
    if average is not None and milli_value(average, f"{where}.{path}.target.averageValue") <= 0:
        raise _bad(name, f'{path}.target.averageValue: Invalid value: "{average}": must be positive')
    utilization = _int_field(target, "averageUtilization", f"{where}.{path}.target")
    if utilization is not None and utilization < 1:
        raise _bad(name, f"{path}.target.averageUtilization: Invalid value: {utilization}: must be greater than 0")
    if utilization is None and average is None:
        raise _bad(name, f"{path}.target.averageUtilization: Required value: must set either a target raw value or "
                         "a target utilization")
    if utilization is not None and average is not None:
        raise _bad(name, f"{path}.target.averageValue: Forbidden: may not set both a target raw value and a target "
                         "utilization")
    if average is not None:  # computeStatusForResourceMetricGeneric: an averageValue wins whatever the type
        return ResourceMetric(str(resource), "AverageValue", milli_value(average, f"{where}.{path}.target"))
    assert utilization is not None
    return ResourceMetric(str(resource), "Utilization", utilization)


def parse_hpa(doc: Mapping[str, object], where: str, meta: Meta) -> HorizontalPodAutoscaler:
    """An autoscaling/v2 or autoscaling/v1 HorizontalPodAutoscaler (strictly validated already), validated as the
    API server does (ValidateHorizontalPodAutoscaler: its first error) and defaulted; v1's
    targetCPUUtilizationPercentage converted as the API server converts it (a Resource cpu Utilization metric)."""
    name = meta.name
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise _bad(name, "spec.maxReplicas: Invalid value: 0: must be greater than 0")
    w = f"{where}: spec"
    lo = _int_field(spec, "minReplicas", w)
    hi = _int_field(spec, "maxReplicas", w) or 0
    if lo is not None and lo < 1:
        if lo == 0:
            raise InputError(f"{w}.minReplicas: 0 needs the HPAScaleToZero feature gate and an Object or External "
                             "metric, which are not modelled")
        raise _bad(name, f"spec.minReplicas: Invalid value: {lo}: must be greater than or equal to 1")
    if hi < 1:
        raise _bad(name, f"spec.maxReplicas: Invalid value: {hi}: must be greater than 0")
    if lo is not None and hi < lo:
        raise _bad(name, f"spec.maxReplicas: Invalid value: {hi}: must be greater than or equal to `minReplicas`")
    ref = spec.get("scaleTargetRef")
    if not isinstance(ref, dict) or not ref.get("kind"):
        raise _bad(name, "spec.scaleTargetRef.kind: Required value")
    if not ref.get("name"):
        raise _bad(name, "spec.scaleTargetRef.name: Required value")
    kind, target = str(ref["kind"]), str(ref["name"])
    group = str(ref.get("apiVersion") or "").rsplit("/", 1)[0] if "/" in str(ref.get("apiVersion") or "") else ""
    if kind not in TARGETS or group != GROUPS[kind]:
        raise InputError(f"{w}.scaleTargetRef: {ref.get('apiVersion')} {kind} is not a modelled scale target "
                         "(apps/v1 Deployment, ReplicaSet, StatefulSet; v1 ReplicationController)")
    metrics: list[ResourceMetric] = []
    behavior = None
    if doc.get("apiVersion") == "autoscaling/v1":
        cpu = _int_field(spec, "targetCPUUtilizationPercentage", w)
        if cpu is not None and cpu < 1:
            raise _bad(name, f"spec.metrics[0].resource.target.averageUtilization: Invalid value: {cpu}: must be "
                             "greater than 0")
        metrics.append(ResourceMetric("cpu", "Utilization", DEFAULT_CPU_UTILIZATION if cpu is None else cpu))
    else:
        raw_metrics = spec.get("metrics") or []
        if not isinstance(raw_metrics, list):
            raise InputError(f"{w}.metrics: expected a list, got {raw_metrics!r}")
        refused = sorted({str(m.get("type")) for m in raw_metrics if isinstance(m, dict)
                          and m.get("type") in NOT_MODELLED_METRICS})
        if refused:
            raise InputError(f"{w}.metrics: {', '.join(refused)} metrics are not modelled (only Resource metrics: "
                             "cpu and memory from the metrics server)")
        for i, m in enumerate(raw_metrics):
            path = f"spec.metrics[{i}]"
            if not isinstance(m, dict):
                raise InputError(f"{where}: {path}: expected a mapping, got {m!r}")
            mtype = m.get("type")
            if not mtype:
                raise _bad(name, f"{path}.type: Required value: must specify a metric source type")
            if mtype != "Resource":
                raise _bad(name, f'{path}.type: Unsupported value: "{mtype}": supported values: "ContainerResource", '
                                 '"External", "Object", "Pods", "Resource"')
            others = [k for k in ("object", "external", "pods", "containerResource") if m.get(k) is not None]
            if not isinstance(m.get("resource"), dict):
                raise _bad(name, f"{path}.resource: Required value: must populate information for the given metric "
                                 "source")
            if others:
                raise _bad(name, f"{path}.{others[0]}: Forbidden: must populate the given metric source only")
            metrics.append(_resource_metric(m["resource"], where, name, f"{path}.resource"))
        if not metrics:
            metrics.append(ResourceMetric("cpu", "Utilization", DEFAULT_CPU_UTILIZATION))
        raw_behavior = spec.get("behavior")
        if raw_behavior is not None:
            if not isinstance(raw_behavior, dict):
                raise InputError(f"{w}.behavior: expected a mapping, got {raw_behavior!r}")
            behavior = HPABehavior(_rules(raw_behavior.get("scaleUp"), where, name, "spec.behavior.scaleUp", True),
                                   _rules(raw_behavior.get("scaleDown"), where, name, "spec.behavior.scaleDown",
                                          False))
    return HorizontalPodAutoscaler(meta, kind, target, hi, 1 if lo is None else lo, tuple(metrics), behavior)


def parse_load(raw: object, objects: list[Object], where: str) -> LoadSpec:
    """The scenario's ``spec.load``: ``maxSwitches`` and ``targets`` (each ``workload: deployment/NAME``,
    ``namespace``, ``mode: perPod|total``, ``levels``: a list of {cpu: QUANTITY, memory: QUANTITY})."""
    from spec.config import LoadSpec, LoadTarget

    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a mapping, got {raw!r}")
    for k in raw:
        if k not in ("maxSwitches", "targets"):
            raise InputError(f"{where}: unknown field {k!r} (known: maxSwitches, targets)")
    switches = raw.get("maxSwitches", 0)
    if not isinstance(switches, int) or isinstance(switches, bool) or switches < 0:
        raise InputError(f"{where}.maxSwitches: expected a non-negative integer, got {switches!r}")
    if not any(isinstance(o, HorizontalPodAutoscaler) for o in objects):
        raise InputError(f"{where}: no HorizontalPodAutoscaler reads the load")
    targets_raw = raw.get("targets")
    if not isinstance(targets_raw, list) or not targets_raw:
        raise InputError(f"{where}.targets: expected a non-empty list")
    resources = {"deployment": "deployments", "deployments": "deployments", "replicaset": "replicasets",
                 "replicasets": "replicasets", "statefulset": "statefulsets", "statefulsets": "statefulsets",
                 "replicationcontroller": "replicationcontrollers", "replicationcontrollers": "replicationcontrollers"}
    keys = {key_of(TARGETS[type(o).__name__], o.meta.namespace, o.meta.name) for o in objects
            if isinstance(o, Scalable)}
    out = []
    seen: set[str] = set()
    for i, t in enumerate(targets_raw):
        at = f"{where}.targets[{i}]"
        if not isinstance(t, dict):
            raise InputError(f"{at}: expected a mapping, got {t!r}")
        for k in t:
            if k not in ("workload", "namespace", "mode", "levels"):
                raise InputError(f"{at}: unknown field {k!r} (known: workload, namespace, mode, levels)")
        workload = t.get("workload")
        if not isinstance(workload, str) or workload.count("/") != 1 or workload.split("/")[0] not in resources:
            raise InputError(f"{at}.workload: expected deployment/NAME, replicaset/NAME, statefulset/NAME or "
                             f"replicationcontroller/NAME, got {workload!r}")
        kind, wname = workload.split("/")
        namespace = str(t.get("namespace") or "default")
        key = key_of(resources[kind], namespace, wname)
        if key not in keys:
            raise InputError(f"{at}.workload: no {key} in the scenario")
        if key in seen:
            raise InputError(f"{at}.workload: {key} has a load already")
        seen.add(key)
        mode = t.get("mode", "perPod")
        if mode not in ("perPod", "total"):
            raise InputError(f"{at}.mode: expected perPod or total, got {mode!r}")
        levels_raw = t.get("levels")
        if not isinstance(levels_raw, list) or not levels_raw:
            raise InputError(f"{at}.levels: expected a non-empty list of {{cpu: QUANTITY, memory: QUANTITY}}")
        levels = []
        for j, level in enumerate(levels_raw):
            if not isinstance(level, dict) or not level:
                raise InputError(f"{at}.levels[{j}]: expected a mapping of cpu and/or memory to a quantity")
            pairs = []
            for r, q in sorted(level.items()):
                if r not in ("cpu", "memory"):
                    raise InputError(f"{at}.levels[{j}]: unknown resource {r!r} (cpu, memory)")
                milli = milli_value(q, f"{at}.levels[{j}].{r}")
                if milli < 0:
                    raise InputError(f"{at}.levels[{j}].{r}: expected a non-negative quantity, got {q!r}")
                pairs.append((str(r), milli))
            levels.append(tuple(pairs))
        out.append(LoadTarget(resources[kind], namespace, wname, tuple(levels), str(mode)))
    return LoadSpec(tuple(out), switches)
