"""The model ``kubespec check`` checks: the plain control plane (``spec.cluster.Cluster``) with the reductions of
``spec.reduction`` on, as TLA+'s MC module puts SYMMETRY and VIEW around a specification.

``ClusterModel(config)`` has every reduction on; ``ClusterModel(config, reduction.NONE)`` explores the same
states as ``spec.cluster.Cluster`` (``kubespec check --no-reduction``). Reductions change how many states are
stored, never a verdict: tests/spec/test_spec_differential.py compares them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from checker import Property
from spec import actions as A
from spec import apiserver, faults
from spec.cluster import Cluster, fair_actors, next_steps, reporters
from spec.config import Config
from spec.controllers import workloads
from spec.controllers.manager import Outcome, iter_outcomes, reconcile_outcomes
from spec.reduction import ALL, Reductions
from spec.reduction.canonical import Representatives, interned
from spec.reduction.memo import Memo
from spec.reduction.partial_order import ample, eager_noop, hidden_fairness
from spec.reduction.writeorder import canonical_history
from spec.state import ClusterState

__all__ = ["ClusterModel", "Config", "Reductions", "applicable"]


def _noting(outcomes: Iterable[Outcome], seen: list[Outcome]
            ) -> Iterator[tuple[A.Action, Callable[[], ClusterState], bool]]:
    """``outcomes`` as ``eager_noop`` reads them, each noted in ``seen`` (all of them once it finds no idle one)."""
    for o in outcomes:
        seen.append(o)
        yield o[0], o[2], o[1]


def applicable(reductions: Reductions, config: Config) -> Reductions:
    """The reductions ``ClusterModel`` really applies to ``config`` (what a verdict and a summary must name)."""
    if config.leader_election is not None:
        # Not with leader election (spec.leaderelection): a replica's pause, crash or exit replaces the
        # controller manager's informers and queues, so it depends on their deliveries and no-op reconciles
        # (the ample sets' C1 would not hold); and the replicas' own memory holds revisions (their observed
        # Lease, parked caches) that the write-order reduction does not rewrite.
        reductions = attrs.evolve(reductions, commute_writes=False, ample_sets=False, eager_noop=False)
    if config.api_servers > 1:
        # Not with several API servers (spec.kube_apiserver): each watch cache's revision tells apart orders of
        # writes that commute for one API server, the ample sets' independence of deliveries is argued for one
        # history that every informer reads up to etcd's revision, and the clients' connections name processes
        # by node ("kubelet/node-a"), which node symmetry does not rename.
        return attrs.evolve(reductions, symmetry=False, commute_writes=False, ample_sets=False, eager_noop=False)
    return reductions


class ClusterModel(Cluster):
    """The Kubernetes control plane of one scenario, for ``checker.check``, with ``reductions`` on."""

    def __init__(self, config: Config, reductions: Reductions = ALL) -> None:
        super().__init__(config)
        apiserver.interning(interned)  # equal writes are one object (only speed depends on it)
        reductions = applicable(reductions, config)
        self.reduce = reductions
        self._own = tuple(self.properties)
        self._fair = fair_actors(config)
        self._reporters = reporters(config)
        self._reduced: tuple[ClusterState, list[tuple[A.Action, ClusterState]] | None] | None = None
        """The state of the last ``successors`` call, and the steps a reduction chose there (None: all)."""
        self._symmetric = faults.symmetric_nodes(config) if reductions.symmetry else ()
        self._reorder = reductions.commute_writes and reductions.renumber and config.consistency == "strong"
        self._canonical = bool(self._symmetric) or reductions.renumber or self._reorder
        self._representative = Representatives(self._symmetric, reductions.renumber, self._reorder,
                                               canonical_history)
        self._faults: set[int] = set()
        """The ids of the fault steps' next states among the last ``successors`` (alive while the checker
        canonicalises them)."""
        self._fault_images: Memo[ClusterState, ClusterState] = Memo(1 << 14)
        """A fault step's next state -> its representative. A fault is tried from every state, and states that
        differ only in what the fault loses (a crash: the restarted process's queues and caches; a node crash: the
        node's containers) give one next state (web-two-nodes: 23,260 controller-manager crashes, 245 distinct
        states): such a next state is canonicalised once. Only speed depends on it."""

    def successors(self, state: ClusterState) -> Iterator[tuple[A.Action, ClusterState]]:
        config, reduce = self.config, self.reduce
        outcomes: list[Outcome] | None = None
        if reduce.ample_sets:
            # The reconciles' next states are built only where they are shown: the eager no-op shows one, an
            # ample set none; the eager no-op reconciles the queued keys only up to the first idle one.
            reduced = None
            if reduce.eager_noop:
                outcomes = []
                reduced = (eager_noop(_noting(iter_outcomes(state, config), outcomes))
                           or eager_noop(workloads.reconcile_steps(state, config)))
            reduced = reduced or ample(state, config)
            if reduced is not None:
                self._reduced = (state, reduced)
                return self._marked(reduced)
        if outcomes is None:
            outcomes = reconcile_outcomes(state, config)
        self._reduced = (state, None)
        return self._marked(next_steps(state, config, [(a, after(), idle) for a, idle, after in outcomes]))

    def _marked(self, steps: Iterable[tuple[A.Action, ClusterState]]) -> Iterator[tuple[A.Action, ClusterState]]:
        """``steps``, the fault steps' next states noted for ``canonical`` (``_fault_images``)."""
        faults = self._faults = set()
        for a, t in steps:
            if type(a) is A.Fault:
                faults.add(id(t))
            yield a, t

    def hidden_fairness(self, state: ClusterState) -> Iterable[str]:
        """The fair classes a partial-order reduction hid in ``state`` (``partial_order.hidden_fairness``)."""
        reduced = self._reduced
        if reduced is None or reduced[0] is not state:
            # Not the state of the last ``successors`` call: ask again (worker processes ask right after it; one
            # worker asks during the liveness check, of a state rebuilt from storage: ``checker.model``).
            self.successors(state)
            reduced = self._reduced
        if reduced is None or reduced[1] is None:
            return ()  # not reduced: every enabled step was shown
        return hidden_fairness(state, self.config, reduced[1], self._fair, self._reporters)

    def skeletons(self) -> Memo[Any, Any] | None:
        """The representatives' skeleton memo (its hit and miss counts), None when no state is canonicalised."""
        return self._representative.memo if self._canonical else None

    def canonical(self, state: ClusterState) -> ClusterState:
        if not self._canonical:
            return state
        if id(state) not in self._faults:
            return self._representative(state)
        images = self._fault_images
        image = images.get(state)
        if image is None:
            image = self._representative(state)
            images.put(state, image)
        return image

    def reductions(self) -> tuple[str, ...]:
        """The reductions on, for the verdict."""
        return self.reduce.names(bool(self._symmetric), self.config.consistency)

    def symmetric(self, prop: Property) -> bool:
        """The built-in properties name no node and no pod: renaming interchangeable nodes preserves them (a
        property added by a user is not vouched for)."""
        return any(prop is p for p in self._own)
