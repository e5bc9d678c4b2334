"""The findings of docs/spec.md, "Findings": upstream's documented maxSurge promise is broken by upstream's
behaviour, and the saved trace is what the model finds today."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from checker import check
from spec import actions as A
from spec.controllers.replicaset import is_active
from spec.model import ClusterModel
from spec.properties import PROPERTIES, replicas_converged, rollouts_complete
from spec.scenario import load
from spec.state import ClusterState, Pod

ROOT = Path(__file__).parents[2]
MAX_SURGE = ROOT / "docs" / "findings" / "max-surge.yaml"
MAX_SURGE_TRACE = ROOT / "docs" / "findings" / "max-surge.trace.txt"
TWO_WORKERS_TRACE = ROOT / "docs" / "findings" / "max-surge-two-workers.trace.txt"


def active_pods(state: ClusterState) -> int:
    return sum(1 for p in state.etcd.of("pods") if isinstance(p, Pod) and is_active(p))


def trace_text(model: ClusterModel, trace: Iterable[Any]) -> list[str]:
    """One line per step: its number, the active pods after it, and the model's description."""
    return [f"{i:>2}. [{active_pods(step.state)} active pods] {model.describe(step.action)}"
            for i, step in enumerate(list(trace)[1:], 1)]


def normalized(lines: Iterable[str]) -> list[str]:
    """``lines`` with each pod-template-hash named by its order of appearance (the hash is the model's own
    encoding of the template, which changes whenever the template's Python representation does)."""
    names: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return "web-" + names.setdefault(match.group(1), f"<hash{len(names) + 1}>")

    return [re.sub(r"web-([a-z0-9]{6,})", name, line) for line in lines]


def test_max_surge_is_a_finding_checked_only_when_named() -> None:
    assert PROPERTIES["RolloutWithinMaxSurge"].finding
    config = load(MAX_SURGE).config
    assert "RolloutWithinMaxSurge" not in [p.name for p in ClusterModel(attrs.evolve(config, properties=())).properties]


def test_a_stale_replicaset_cache_makes_a_rollout_exceed_max_surge() -> None:
    """docs/findings/max-surge.yaml: replicas 3, maxSurge 1; the Deployment controller creates a second ReplicaSet at
    3 before its informer shows the first: 6 active pods. The trace is docs/findings/max-surge.trace.txt."""
    model = ClusterModel(load(MAX_SURGE).config)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "RolloutWithinMaxSurge"
    trace = result.violation.trace
    assert active_pods(trace[-1].state) == 6
    assert normalized(trace_text(model, trace)) == normalized(MAX_SURGE_TRACE.read_text().splitlines())


class AfterConvergence(ClusterModel):
    """The user's commands run only once every Deployment has converged and reported its rollout complete (so the
    Deployment controller's caches are not behind its own writes when the rollout starts)."""

    def successors(self, state: ClusterState) -> Iterator[tuple[Any, ClusterState]]:
        settled = replicas_converged(state) and rollouts_complete(state)
        for action, nxt in super().successors(state):
            if settled or not isinstance(action, A.Kubectl):
                yield action, nxt


@pytest.mark.slow
def test_two_workers_make_a_rollout_exceed_max_surge_without_a_stale_read() -> None:
    """replicas 2, maxSurge 1, maxUnavailable 0, `kubectl set image` once converged: the old ReplicaSet is scaled to
    1 and the new one to 2, and the ReplicaSet controller creates the new pod before it deletes the old one: 4
    active pods (34,089 states)."""
    text = MAX_SURGE.read_text().replace("replicas: 3", "replicas: 2")
    from spec.scenario import parse

    model = AfterConvergence(parse(text, "max-surge-2.yaml").config)
    result = check(model, deadlock=False)
    assert result.status == "violation" and result.violation is not None
    trace = result.violation.trace
    texts = trace_text(model, trace)
    assert active_pods(trace[-1].state) == 4
    down = next(i for i, t in enumerate(texts) if "Scaled down replica set" in t and "from 2 to 1" in t)
    up = next(i for i, t in enumerate(texts) if "Scaled up replica set" in t and "from 1 to 2" in t)
    assert down < up and "SuccessfulCreate" in texts[-1]
    assert not any("SuccessfulDelete" in t for t in texts[down:])
    assert normalized(texts) == normalized(TWO_WORKERS_TRACE.read_text().splitlines())
