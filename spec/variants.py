"""Historical bugs, each a switch that restores the old behaviour (the default is today's Kubernetes)."""

from __future__ import annotations

import attrs


@attrs.frozen
class Variant:
    name: str
    issue: str
    summary: str


VARIANTS = {
    v.name: v
    for v in (
        Variant(
            "no-expectations",
            "kubernetes#7561 (fixed by expectations, #6866)",
            "the ReplicaSet controller ignores its expectations and creates extra pods while its informer lags",
        ),
        Variant(
            "no-requeue",
            "kubernetes#72122 (a later queue race of the same kind)",
            "a pod that failed to schedule once is dropped from the scheduling queue and never retried",
        ),
        Variant(
            "unguarded-bind",
            "kubernetes#4623",
            "two scheduler replicas without leader election, binding without the 'still unbound' precondition",
        ),
        Variant(
            "stale-relist",
            "kubernetes#59848",
            "a restarted component lists from an API server cache that is behind (needs consistency: stale)",
        ),
    )
}
