"""A frozen view of the cluster for one scheduling cycle: nodes, the pods bound or assumed on each, namespaces.

Upstream: pkg/scheduler/backend/cache/snapshot.go (Snapshot, NodeInfo.Requested / NonZeroRequested / UsedPorts
aggregated in pkg/scheduler/framework/types.go NodeInfo.AddPod). Building one is O(1); the per-node aggregates are
computed once, on first use, and ``assume`` derives them from its parent's (one node's entry changes), as the
scheduler cache updates one NodeInfo per assumed pod.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cached_property

import attrs

from spec.scheduling.types import (
    NAMESPACE_NAME_LABEL,
    HostPort,
    LabelSelector,
    NodeInfo,
    Pairs,
    PodAffinityTerm,
    PodInfo,
    Resources,
    selector_matches,
)


@attrs.frozen
class NodeUsage:
    """What the pods on one node use: summed requests, non-zero requests (scoring) and host ports."""

    pods: tuple[PodInfo, ...]
    requested: Resources
    non_zero_cpu: int
    non_zero_memory: int
    used_ports: tuple[HostPort, ...]


_EMPTY_USAGE = NodeUsage((), Resources(), 0, 0, ())


@attrs.frozen(slots=False)
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
        """This snapshot with ``pod`` placed on ``node_name`` (upstream: cache.AssumePod). The aggregates this
        snapshot has computed are carried over, updated for the one node."""
        placed = pod.on(node_name)
        child = Snapshot(self.nodes, (*self.pods, placed), self.namespaces)
        cache = self.__dict__
        if "node_map" in cache:
            object.__setattr__(child, "node_map", cache["node_map"])
        if "_usage" in cache:
            usage = dict(cache["_usage"])
            old = usage.get(node_name, _EMPTY_USAGE)
            usage[node_name] = NodeUsage(
                (*old.pods, placed),
                old.requested + placed.requests,
                old.non_zero_cpu + placed.non_zero_cpu,
                old.non_zero_memory + placed.non_zero_memory,
                old.used_ports + placed.host_ports,
            )
            object.__setattr__(child, "_usage", usage)
        if "placed" in cache and "node_map" in cache and node_name in cache["node_map"]:
            object.__setattr__(child, "placed", (*cache["placed"], (placed, cache["node_map"][node_name])))
        if "_match_cache" in cache:
            counts: dict[tuple[LabelSelector | None, str, bool], dict[str, int]] = {}
            for (selector, namespace, terminating), per_node in cache["_match_cache"].items():
                if _counted(placed, selector, namespace, terminating):
                    per_node = dict(per_node)
                    per_node[node_name] = per_node.get(node_name, 0) + 1
                counts[selector, namespace, terminating] = per_node
            object.__setattr__(child, "_match_cache", counts)
        if "anti_terms" in cache and "node_map" in cache and node_name in cache["node_map"]:
            terms = cache["anti_terms"]
            if placed.affinity.anti_required:
                terms = dict(terms)
                for term in placed.affinity.anti_required:
                    per_node = dict(terms.get(term, {}))
                    per_node[node_name] = per_node.get(node_name, 0) + 1
                    terms[term] = per_node
            object.__setattr__(child, "anti_terms", terms)
        if "scoring_terms" in cache and "node_map" in cache and node_name in cache["node_map"]:
            scoring = cache["scoring_terms"]
            keys = _scoring_keys(placed)
            if keys:
                scoring = dict(scoring)
                for key in keys:
                    per_node = dict(scoring.get(key, {}))
                    per_node[node_name] = per_node.get(node_name, 0) + 1
                    scoring[key] = per_node
            object.__setattr__(child, "scoring_terms", scoring)
        if "with_affinity" in cache and "node_map" in cache and node_name in cache["node_map"]:
            extra = ((placed, cache["node_map"][node_name]),) if _has_affinity(placed) else ()
            object.__setattr__(child, "with_affinity", (*cache["with_affinity"], *extra))
        return child

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

    @cached_property
    def _match_cache(self) -> dict[tuple[LabelSelector | None, str, bool], dict[str, int]]:
        return {}

    def match_counts(
        self, selector: LabelSelector | None, namespace: str, terminating: bool = False
    ) -> Mapping[str, int]:
        """node name -> pods on it that PodTopologySpread counts for ``selector`` in ``namespace`` (not
        terminating unless ``terminating``, same namespace, selector matches); computed once per snapshot and
        carried by ``assume``."""
        cache = self._match_cache
        found = cache.get((selector, namespace, terminating))
        if found is None:
            found = {}
            for pod in self.pods:
                if _counted(pod, selector, namespace, terminating):
                    found[pod.node_name] = found.get(pod.node_name, 0) + 1
            cache[selector, namespace, terminating] = found
        return found

    @cached_property
    def anti_terms(self) -> dict[PodAffinityTerm, dict[str, int]]:
        """Required anti-affinity terms of the placed pods: term -> node name -> pods there with it (many pods
        share a term: a workload's replicas)."""
        out: dict[PodAffinityTerm, dict[str, int]] = {}
        for pod, node in self.with_affinity:
            for term in pod.affinity.anti_required:
                per_node = out.setdefault(term, {})
                per_node[node.name] = per_node.get(node.name, 0) + 1
        return out

    @cached_property
    def scoring_terms(self) -> dict[tuple[PodAffinityTerm, int | None], dict[str, int]]:
        """The placed pods' terms InterPodAffinity scoring reads: (term, weight) -> node name -> pods there with
        it; weight None for required affinity (scored with hardPodAffinityWeight), negative for preferred
        anti-affinity. Upstream: interpodaffinity/scoring.go processExistingPod."""
        out: dict[tuple[PodAffinityTerm, int | None], dict[str, int]] = {}
        for pod, node in self.with_affinity:
            for key in _scoring_keys(pod):
                per_node = out.setdefault(key, {})
                per_node[node.name] = per_node.get(node.name, 0) + 1
        return out

    @cached_property
    def with_affinity(self) -> tuple[tuple[PodInfo, NodeInfo], ...]:
        """The placed pods that have pod affinity or anti-affinity terms (required or preferred): the only
        existing pods whose own terms InterPodAffinity reads (upstream: NodeInfo.PodsWithAffinity)."""
        return tuple((p, n) for p, n in self.placed if _has_affinity(p))


def _counted(pod: PodInfo, selector: LabelSelector | None, namespace: str, terminating: bool = False) -> bool:
    """Upstream podtopologyspread countPodsMatchSelector's test for one pod (``terminating``: count terminating
    pods too, as InterPodAffinity does)."""
    return (
        (terminating or not pod.terminating)
        and pod.namespace == namespace
        and selector_matches(selector, pod.label_map)
    )


def _scoring_keys(pod: PodInfo) -> list[tuple[PodAffinityTerm, int | None]]:
    a = pod.affinity
    keys: list[tuple[PodAffinityTerm, int | None]] = [(t, None) for t in a.pod_required]
    keys += [(w.term, w.weight) for w in a.pod_preferred]
    keys += [(w.term, -w.weight) for w in a.anti_preferred]
    return keys


def _has_affinity(pod: PodInfo) -> bool:
    a = pod.affinity
    return bool(a.pod_required or a.pod_preferred or a.anti_required or a.anti_preferred)
