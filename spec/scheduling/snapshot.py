"""A frozen view of the cluster for one scheduling cycle: nodes, the pods bound or assumed on each, namespaces.

Upstream: pkg/scheduler/backend/cache/snapshot.go (Snapshot, NodeInfo.Requested / NonZeroRequested / UsedPorts
aggregated in pkg/scheduler/framework/types.go NodeInfo.AddPod). Building one is O(1); the per-node aggregates are
computed once, on first use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property

import attrs

from spec.scheduling.types import NAMESPACE_NAME_LABEL, HostPort, NodeInfo, Pairs, PodInfo, Resources


@attrs.frozen
class NodeUsage:
    """What the pods on one node use: summed requests, non-zero requests (scoring) and host ports."""

    pods: tuple[PodInfo, ...]
    requested: Resources
    non_zero_cpu: int
    non_zero_memory: int
    used_ports: tuple[HostPort, ...]


_EMPTY_USAGE = NodeUsage((), Resources(), 0, 0, ())


@attrs.frozen
class Snapshot:
    """All nodes, every pod that has a node (bound or assumed), and namespace labels.

    Pods whose ``node_name`` names no node in ``nodes`` are ignored, as the scheduler cache ignores them.
    ``namespaces`` lists declared namespaces with their labels; every namespace also carries the
    ``kubernetes.io/metadata.name`` label, which the API server sets.
    """

    nodes: tuple[NodeInfo, ...]
    pods: tuple[PodInfo, ...] = ()
    namespaces: tuple[tuple[str, Pairs], ...] = ()

    @classmethod
    def build(
        cls, nodes: Iterable[NodeInfo], pods: Iterable[PodInfo] = (), namespaces: Iterable[tuple[str, Pairs]] = ()
    ) -> Snapshot:
        return cls(tuple(nodes), tuple(p for p in pods if p.node_name), tuple(namespaces))

    def assume(self, pod: PodInfo, node_name: str) -> Snapshot:
        """This snapshot with ``pod`` placed on ``node_name`` (upstream: cache.AssumePod)."""
        return Snapshot(self.nodes, (*self.pods, pod.on(node_name)), self.namespaces)

    def without(self, removed: Iterable[PodInfo]) -> Snapshot:
        """This snapshot without the given pods (compared by namespace/name)."""
        keys = {p.key for p in removed}
        return Snapshot(self.nodes, tuple(p for p in self.pods if p.key not in keys), self.namespaces)

    @cached_property
    def node_map(self) -> Mapping[str, NodeInfo]:
        return {n.name: n for n in self.nodes}

    @cached_property
    def _usage(self) -> Mapping[str, NodeUsage]:
        by_node: dict[str, list[PodInfo]] = {}
        for pod in self.pods:
            by_node.setdefault(pod.node_name, []).append(pod)
        usage = {}
        for name, pods in by_node.items():
            requested = Resources()
            cpu = memory = 0
            ports: list[HostPort] = []
            for p in pods:
                requested = requested + p.requests
                cpu += p.non_zero_cpu
                memory += p.non_zero_memory
                ports.extend(p.host_ports)
            usage[name] = NodeUsage(tuple(pods), requested, cpu, memory, tuple(ports))
        return usage

    def usage(self, node_name: str) -> NodeUsage:
        return self._usage.get(node_name, _EMPTY_USAGE)

    def pods_on(self, node_name: str) -> tuple[PodInfo, ...]:
        return self.usage(node_name).pods

    @cached_property
    def _namespace_labels(self) -> Mapping[str, Mapping[str, str]]:
        return {name: dict(labels) for name, labels in self.namespaces}

    def namespace_labels(self, namespace: str) -> Mapping[str, str]:
        labels = dict(self._namespace_labels.get(namespace, {}))
        labels[NAMESPACE_NAME_LABEL] = namespace
        return labels

    @cached_property
    def placed(self) -> tuple[tuple[PodInfo, NodeInfo], ...]:
        """Every pod on a known node, with its node."""
        nodes = self.node_map
        return tuple((p, nodes[p.node_name]) for p in self.pods if p.node_name in nodes)
