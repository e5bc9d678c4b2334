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
As a component (``Clock``): no slot of its own (the timers are the components'); its one step, ``Tick`` (actor
"clock", weakly fair), waits while a component has urgent work (``Urgent``: informers behind etcd, the node
lifecycle controller's passes), then moves every component's timers by the same ``dt`` (``Component.timers`` /
``elapse``), or, with no timer running and no component ``busy``, is the resync (``Resyncs``). A restart loses
nothing (time is not a process).
Elapsed time in traces (``duration``, the model's ``duration`` hook, written as each state's ``#meta.elapsed`` by
checker/itf.py, printed by ``kubespec trace show`` and ``kubespec check``): the sum of the Ticks' ``ms`` along the
trace. Steps between two Ticks take no time in the model: they happen at the instant of the last deadline (a
fault, a user's command or a heal stands for any moment before the next deadline; the model keeps only the order
of deadlines, not where between them an untimed step falls). A resync Tick is not measured: it stands for the
rest of kube-controller-manager's resync period (``--min-resync-period`` 12 h times a random factor in [1, 2):
cmd/kube-controller-manager/app/controllermanager.go ResyncPeriod), so a trace after it reads "340 s + 1 resync
period".
Timing assumption: watch delivery is faster than the shortest timer (1 s, ignoring the 5 ms work-queue backoff),
so time advances only when every running informer has caught up with etcd. Without it, an informer lagging for
5 minutes would let ReplicaSet expectations expire, a behaviour the real system only shows under a broken watch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from spec import actions as A
from spec.component import Base, Component, Resyncs, Step, Urgent
from spec.state import ClusterState

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "clock"

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


RESYNC_PERIOD = "resync period"
"""The name of the unmeasured time a resync Tick stands for (``duration``)."""


def duration(action: object) -> int | str | None:
    """How much model time ``action`` takes: a Tick's ``ms`` (exact), ``RESYNC_PERIOD`` for a resync Tick (the
    rest of a resync period: up to 24 h, not measured), None for every other step (it takes no time)."""
    if not isinstance(action, A.Tick):
        return None
    return action.ms if action.ms else RESYNC_PERIOD


def elapse(remaining: int, dt: int) -> int:
    """A timer's remaining time after ``dt`` ms; 0 means it fired (or was not running)."""
    return max(remaining - dt, 0) if remaining else 0


class Clock(Base):
    """Logical time over the composed components (``components()``: the composition, looked up when asked)."""

    name = "clock"

    def __init__(self, components: Callable[[], tuple[Component, ...]]) -> None:
        self._components = components
        self._cached: tuple[tuple[Component, ...], tuple[Component, ...], tuple[Resyncs, ...],
                            tuple[Urgent, ...]] | None = None

    def _peers(self) -> tuple[Component, ...]:
        return self._composition()[1]

    def _composition(self) -> tuple[tuple[Component, ...], tuple[Component, ...], tuple[Resyncs, ...],
                                    tuple[Urgent, ...]]:
        """The composition, the other components, those with a resync and those with urgent work (recomputed
        only when the composition is another tuple)."""
        components = self._components()
        if self._cached is None or self._cached[0] is not components:
            peers = tuple(c for c in components if c is not self)
            self._cached = (components, peers, tuple(c for c in peers if isinstance(c, Resyncs)),
                            tuple(c for c in peers if isinstance(c, Urgent)))
        return self._cached

    def blocked(self, state: ClusterState, config: Config) -> bool:
        """Some component has urgent work (an informer behind etcd, a node lifecycle pass): time waits."""
        return any(c.urgent(state, config) for c in self._composition()[3])

    def actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR,)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return (ACTOR,)

    def pending(self, state: ClusterState) -> list[int]:
        """Every running timer's remaining ms, over the components."""
        return [t for c in self._peers() for t in c.timers(state)]

    def quiescent(self, state: ClusterState, config: Config) -> bool:
        return not any(c.busy(state, config) for c in self._peers())

    def resynced(self, state: ClusterState) -> ClusterState:
        for c in self._composition()[2]:
            state = c.resync(state)
        return state

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        """Time passes to the next deadline (only once no component has urgent work: every informer has caught
        up, the node lifecycle controller has made its pass). With no timer pending,
        the next deadline is the informers' resync period, which is longer than any activity: it elapses only
        when no component has anything to do (``quiescent``)."""
        if self.blocked(state, config):
            return
        pending = self.pending(state)
        if not pending:
            if not self.quiescent(state, config):
                return
            new = self.resynced(state)
            yield A.Tick(ACTOR, 0, ("resync",) if new != state else ()), new
            return
        dt = min(pending)
        fired: list[str] = []
        for c in self._peers():
            state, names = c.elapse(state, dt)
            fired += names
        yield A.Tick(ACTOR, dt, tuple(fired)), state

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        if self.blocked(state, config):
            return set()
        if self.pending(state) or (self.quiescent(state, config) and self.resynced(state) != state):
            return {ACTOR}
        return set()
