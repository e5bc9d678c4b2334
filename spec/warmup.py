"""A scenario that starts where the cluster has converged (``spec.start: converged``): "while traffic flows".

What it is: the initial state of such a scenario is a state of the same scenario started cold (``spec.cluster.
initial_state``: etcd holds the documents, every component has listed them), reached by the model's own steps with
the user's commands and the faults held back, and taken at the first point where nothing is left to do: no
component is busy (``spec.clock``'s quiescence: no queued work, no sync or rules pending) and every informer has
caught up with etcd. The path is the first non-stuttering step of Next in ``spec.cluster.COMPONENTS`` order each
time (deterministic; faults and kubectl steps excluded, Ticks allowed so that a timer the start-up needs can
fire). For a Service in front of a ReplicaSet this is: the pods created, scheduled, bound, started with their
addresses and Ready, the EndpointSlice written, every kube-proxy's rules and CoreDNS's cache up to date.

What it is not: a reduction. The checked behaviours are every behaviour of the model from that one state; the
commands and faults may come at any point after it, never before. Behaviours where a command overlaps the
start-up, and the other converged states the start-up can reach (the pods' addresses and names in another
order), are the cold scenario's (``spec.start: cold``, the default); the same model checks both. Why a scenario
may want it: the start-up of N replicas interleaves N pods' creation, scheduling, binding, start and readiness
with every informer's lag, which dominates the space (a ReplicaSet of 3 on one node, no Service: 122,611 states
cold), while the question asked is about what happens after (docs/spec.md, "Services").

The converged state must exist: a start-up that never settles (a crash loop, a pod no node can take) is refused
after ``MAX_STEPS`` steps with an error naming the scenario's last step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from spec import actions as A

if TYPE_CHECKING:
    from spec.config import Config
    from spec.state import ClusterState

START = ("cold", "converged")
"""The values of a scenario's ``spec.start``."""
MAX_STEPS = 10_000


class NoConvergence(ValueError):
    """The start-up did not settle within ``MAX_STEPS`` steps."""


def converge(state: ClusterState, config: Config) -> ClusterState:
    """The first quiescent, caught-up state on the deterministic start-up path from ``state`` (see the module
    docstring); the user's commands are pending again in it, the fault budgets untouched."""
    from spec.cluster import busy, next_steps
    from spec.reflector import caught_up

    pending = state.pending_commands
    state = state._with(pending_commands=frozenset())
    last = "the initial state"
    for _ in range(MAX_STEPS):
        if caught_up(state) and not busy(state, config):
            return state._with(pending_commands=pending)
        for action, after in next_steps(state, config):
            if A.kind(action) not in ("kubectl", "fault") and after != state:
                state, last = after, repr(action)
                break
        else:
            raise NoConvergence(f"the start-up has no step left but is not quiescent (after {last})")
    raise NoConvergence(f"the start-up did not settle within {MAX_STEPS} steps (the last: {last})")
