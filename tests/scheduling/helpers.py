"""Small builders for scheduler test data (the shape of upstream's st.MakePod / st.MakeNode wrappers)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from spec.scheduling.smt import placement_count
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import (
    Affinity,
    LabelSelector,
    LabelSelectorRequirement,
    NodeInfo,
    PodAffinityTerm,
    PodInfo,
    Resources,
    pairs,
)


def node(
    name: str,
    labels: dict[str, str] | None = None,
    cpu: int = 4000,
    memory: int = 8 << 30,
    pods: int = 110,
    **kw: object,
) -> NodeInfo:
    return NodeInfo(name, pairs(labels or {}), allocatable=Resources(cpu, memory, 0, pods), **kw)  # type: ignore[arg-type]


def pod(
    name: str,
    labels: dict[str, str] | None = None,
    cpu: int = 0,
    memory: int = 0,
    on: str = "",
    namespace: str = "default",
    **kw: object,
) -> PodInfo:
    requests = kw.pop("requests", None) or Resources(cpu, memory)
    assert isinstance(requests, Resources)
    return PodInfo(name, namespace, pairs(labels or {}), requests, requests.milli_cpu, requests.memory, on, **kw)  # type: ignore[arg-type]


def selector(**match: str) -> LabelSelector:
    return LabelSelector(pairs(match))


def expr(key: str, op: str, *values: str) -> LabelSelector:
    return LabelSelector((), (LabelSelectorRequirement(key, op, values),))


def term(key: str, sel: LabelSelector | None, namespaces: tuple[str, ...] = ("default",)) -> PodAffinityTerm:
    return PodAffinityTerm(key, sel, namespaces)


def affinity(**kw: object) -> Affinity:
    return Affinity(**kw)  # type: ignore[arg-type]


def assignments(pending: tuple[PodInfo, ...], snapshot: Snapshot) -> Iterator[tuple[dict[str, str], tuple[int, ...]]]:
    """Every assignment of the pending pods, each to a node or to none, with its placement count per priority
    level (``placement_count``): the brute force that optimal mode is compared against (callers keep the ones
    ``valid_placement`` accepts, checking it last: it is the expensive part)."""
    choices = [None, *(n.name for n in snapshot.nodes)]
    for combo in itertools.product(choices, repeat=len(pending)):
        assignment = {p.key: n for p, n in zip(pending, combo, strict=True) if n is not None}
        yield assignment, placement_count(assignment, pending)
