"""Logical time: timers hold the milliseconds they have left; a Tick jumps to the earliest deadline.

Upstream durations: pkg/scheduler/backend/queue/scheduling_queue.go (DefaultPodInitialBackoffDuration 1 s,
DefaultPodMaxBackoffDuration 10 s, DefaultPodMaxInUnschedulablePodsDuration 5 min), pkg/controller/
controller_utils.go (ExpectationsTimeout 5 min), staging/src/k8s.io/client-go/util/workqueue/default_rate_limiters.go
(DefaultControllerRateLimiter: per-item exponential 5 ms .. 1000 s).

Modelled: no absolute time is stored, only what each pending timer has left, so states that differ only in the
wall clock are the same state and the space stays finite. A Tick advances time to the earliest deadline and fires
every timer due then. When no timer is pending and no component has work, a Tick is the informers' resync period
elapsing (upstream resync periods are 12 h and more: longer than any burst of activity, so a resync never falls
in the middle of one here).
Timing assumption: watch delivery is faster than the shortest timer (1 s, ignoring the 5 ms work-queue backoff),
so time advances only when every running informer has caught up with etcd. Without it, an informer lagging for
5 minutes would let ReplicaSet expectations expire, a behaviour the real system only shows under a broken watch.
"""

from __future__ import annotations

POD_INITIAL_BACKOFF_MS = 1_000
POD_MAX_BACKOFF_MS = 10_000
POD_MAX_IN_UNSCHEDULABLE_MS = 300_000
EXPECTATIONS_TIMEOUT_MS = 300_000
WORKQUEUE_BASE_DELAY_MS = 5
WORKQUEUE_MAX_DELAY_MS = 1_000_000


def pod_backoff_ms(attempts: int) -> int:
    """Upstream: PriorityQueue.calculateBackoffDuration: initial * 2^(attempts-1), capped at the maximum."""
    duration = POD_INITIAL_BACKOFF_MS
    for _ in range(1, attempts):
        duration *= 2
        if duration >= POD_MAX_BACKOFF_MS:
            return POD_MAX_BACKOFF_MS
    return duration


MAX_COUNTED_ATTEMPTS = 5
"""Attempts beyond 5 all give the maximum backoff, so the count is kept saturated (finite state)."""


def workqueue_delay_ms(failures: int) -> int:
    """Upstream: ItemExponentialFailureRateLimiter.When: base * 2^failures, capped."""
    delay: int = WORKQUEUE_BASE_DELAY_MS * 2**failures
    return min(delay, WORKQUEUE_MAX_DELAY_MS)


def elapse(remaining: int, dt: int) -> int:
    """A timer's remaining time after ``dt`` ms; 0 means it fired (or was not running)."""
    return max(remaining - dt, 0) if remaining else 0
