"""A toy cluster for the trace and diagram tests: kubectl, an API server, a scheduler and two kubelets.

Not the Kubernetes model (spec/): a small stand-in with the same shape of actions (each with an ``actor``) and a
``display`` view addressed like kubectl (``pods/default/web-1``). Its scheduler reads a stale informer cache and its
API server accepts a binding without a precondition (the historical bug of binding an already bound pod), so the pod
ends up running on two nodes: invariant ``AtMostOneNode`` fails after 8 steps. ``ToyCluster(fixed=True)`` restores
the precondition; then ``eventually`` ``PodRunning`` fails on a lasso when the kubelets are not fair.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from checker import Model, always, eventually, weak

NODES = ("node-a", "node-b")
POD = "web-1"


@attrs.frozen
class Pod:
    node_name: str | None
    rv: int


@attrs.frozen
class Cluster:
    revision: int
    pods: tuple[tuple[str, Pod], ...]  # etcd
    scheduler_cache: tuple[tuple[str, str | None], ...]  # pod -> node as the scheduler last saw it
    kubelet_seen: frozenset[tuple[str, str]]  # (node, pod) bindings each kubelet has seen
    running: frozenset[tuple[str, str]]  # (node, pod) containers running


@attrs.frozen
class CreatePod:
    actor: str
    name: str


@attrs.frozen
class DeliverWatch:
    actor: str
    rv: int


@attrs.frozen
class Bind:
    actor: str
    pod: str
    node: str


@attrs.frozen
class StartContainer:
    actor: str
    pod: str


def _pod(state: Cluster, name: str) -> Pod | None:
    return dict(state.pods).get(name)


class ToyCluster(Model):
    def __init__(self, fixed: bool = False, fair: bool = False) -> None:
        self.fixed = fixed
        self.properties = (
            always("AtMostOneNode", lambda s: len({node for node, _ in s.running}) <= 1),
            eventually("PodRunning", lambda s: bool(s.running)),
        )
        self.fairness = (weak("kubelets", lambda a: a.actor.startswith("kubelet")),) if fair else ()

    def init_states(self) -> Iterator[Cluster]:
        yield Cluster(revision=1, pods=(), scheduler_cache=(), kubelet_seen=frozenset(), running=frozenset())

    def successors(self, state: Cluster) -> Iterator[tuple[Any, Cluster]]:
        pod = _pod(state, POD)
        if pod is None:
            created = Pod(node_name=None, rv=state.revision + 1)
            yield CreatePod("kubectl", POD), attrs.evolve(state, revision=created.rv, pods=((POD, created),))
            return
        cached = dict(state.scheduler_cache)
        if cached.get(POD, "unseen") != pod.node_name:
            yield (
                DeliverWatch("scheduler", pod.rv),
                attrs.evolve(state, scheduler_cache=((POD, pod.node_name),)),
            )
        if POD in cached and cached[POD] is None and (not self.fixed or pod.node_name is None):
            for node in NODES:
                if node != pod.node_name:
                    bound = Pod(node_name=node, rv=state.revision + 1)
                    yield Bind("scheduler", POD, node), attrs.evolve(state, revision=bound.rv, pods=((POD, bound),))
        for node in NODES:
            if pod.node_name == node and (node, POD) not in state.kubelet_seen:
                seen = state.kubelet_seen | {(node, POD)}
                yield DeliverWatch(f"kubelet-{node}", pod.rv), attrs.evolve(state, kubelet_seen=seen)
            if (node, POD) in state.kubelet_seen and (node, POD) not in state.running:
                yield StartContainer(f"kubelet-{node}", POD), attrs.evolve(state, running=state.running | {(node, POD)})

    def describe(self, action: Any) -> str:
        if isinstance(action, CreatePod):
            return f"kubectl creates pod default/{action.name}"
        if isinstance(action, Bind):
            return f"scheduler binds default/{action.pod} to {action.node}"
        if isinstance(action, DeliverWatch):
            return f"{action.actor} receives the watch event of rv {action.rv}"
        return f"{action.actor} starts the container of default/{action.pod}"

    def display(self, state: Cluster) -> Mapping[str, Any]:
        view: dict[str, Any] = {}
        for name, pod in state.pods:
            view[f"pods/default/{name}"] = {
                "metadata": {"resourceVersion": str(pod.rv)},
                "spec": {"nodeName": pod.node_name},
            }
        view["scheduler"] = {"cache": {f"default/{name}": node for name, node in state.scheduler_cache}}
        for node in NODES:
            view[f"kubelet/{node}"] = {
                "seen": sorted(pod for n, pod in state.kubelet_seen if n == node),
                "running": sorted(pod for n, pod in state.running if n == node),
            }
        return view


def fixed() -> ToyCluster:
    """The toy with the binding precondition restored: safe, but the pod need not run (no fairness)."""
    return ToyCluster(fixed=True)
