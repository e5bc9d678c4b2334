"""The Filter plugins as linear constraints over counts of identical pods per node, for z3 (spec.scheduling.smt).

Pods that differ only in name and creation order (the replicas of one Deployment, ReplicaSet or StatefulSet) are
interchangeable for every Filter plugin: the plugins read labels, namespace, requests, affinity, tolerations, host
ports and spread constraints, never the name. So the pending pods are grouped, and the encoding has one integer
c[g,n] per (group, node): how many pods of group g run on node n. This is smaller than one boolean per (pod, node)
and has none of its symmetry (permuting replicas gives the same counts).

Constraints, from the same data the Python filters read (spec.scheduling.filters); "without itself" as in
``smt.valid_placement``, so each constraint subtracts the pod itself where it would count it:
- static filters (NodeUnschedulable, NodeName, TaintToleration, NodeAffinity, NodePorts and NodeResourcesFit
  against the bound pods, missing topology labels, bound pods' anti-affinity): no c[g,n] at all;
- NodeResourcesFit: per node and resource, sum of requests * counts <= free (pods, cpu, memory,
  ephemeral-storage, extended resources);
- NodePorts: replicas with host ports at most one per node; conflicting groups never on one node;
- InterPodAffinity anti-affinity: per term and topology domain, a group present in the domain excludes every other
  pod matching the term there (itself included: at most one replica per domain when it matches its own term);
- InterPodAffinity affinity: per group and tuple of domains of its terms, presence needs a matching pod (other
  than itself) in each domain, or upstream's first-pod exception (matches its own terms, no other matching pod
  on a node with any of the terms' keys);
- PodTopologySpread: per constraint, matching pods per eligible domain S(v) and a lower bound m on their minimum
  (m = 0 below minDomains); a group present in domain v needs S(v) - m <= maxSkew;
- VolumeBinding: the pod's claims on each node (its verdict on the objects as given: static), and, for each
  unbound claim of a class without provisioner (``spec.scheduling.storage.ClaimChoice``: one pod, so its group has
  one pod), a 0/1 variable v[i,k] per kind of candidate volume (volumes reaching the same nodes and candidates of
  the same claims are interchangeable): the pod on node n holds one reaching n, and a kind is held at most as
  often as it has volumes (upstream's Reserve: a volume is not given twice).
Each constraint is named in Kubernetes terms, for unsat-core explanations.

Upstream: the plugins of pkg/scheduler/framework/plugins (see spec.scheduling.filters), restated over counts.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence

import attrs

from spec.scheduling.filters import (
    Code,
    FilterFailure,
    PreFilterState,
    insufficient_resources,
    node_affinity,
    node_name,
    node_ports,
    node_unschedulable,
    ports_conflict,
    prefilter,
    spread_node_eligible,
    taint_toleration,
    volume_binding,
)
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.storage import ClaimChoice, Storage
from spec.scheduling.types import (
    DisruptionBudget,
    LabelSelector,
    NodeInfo,
    PodAffinityTerm,
    PodInfo,
    Resources,
    TopologySpreadConstraint,
    selector_matches,
)


@attrs.frozen
class Group:
    """Pending pods with the same spec (everything but name and creation order), in queue order."""

    pods: tuple[PodInfo, ...]

    @property
    def template(self) -> PodInfo:
        return self.pods[0]

    @property
    def size(self) -> int:
        return len(self.pods)

    @property
    def name(self) -> str:
        """The pod's key, or for replicas their common name prefix and count (``default/web-7d9f-* (3 pods)``)."""
        if len(self.pods) == 1:
            return self.pods[0].key
        prefix = os.path.commonprefix([p.name for p in self.pods])
        prefix = prefix[: prefix.rfind("-") + 1]
        if prefix:
            return f"{self.template.namespace}/{prefix}* ({len(self.pods)} pods)"
        return f"{self.pods[0].key} and {len(self.pods) - 1} identical pods"


def group_pods(pending: Iterable[PodInfo]) -> tuple[Group, ...]:
    """Pending pods grouped by spec; groups and their pods in queue order (priority, then creation)."""
    groups: dict[PodInfo, list[PodInfo]] = {}
    for pod in sorted(pending, key=lambda p: (-p.priority, p.order)):
        groups.setdefault(attrs.evolve(pod, name="", order=0), []).append(pod)
    return tuple(Group(tuple(pods)) for pods in groups.values())


def free_resources(node: NodeInfo, snapshot: Snapshot) -> tuple[int, dict[str, int]]:
    """(free pod slots, resource name -> free amount) on ``node`` after its bound pods."""
    usage = snapshot.usage(node.name)
    alloc, used = node.allocatable, usage.requested
    free = {
        "cpu": alloc.milli_cpu - used.milli_cpu,
        "memory": alloc.memory - used.memory,
        "ephemeral-storage": alloc.ephemeral_storage - used.ephemeral_storage,
    }
    for name, amount in alloc.scalar:
        free[name] = amount - used.scalar_amount(name)
    return alloc.pods - len(usage.pods), free


def requested(requests: Resources) -> dict[str, int]:
    """Resource name -> positive amount requested (what NodeResourcesFit checks)."""
    out = {
        "cpu": requests.milli_cpu,
        "memory": requests.memory,
        "ephemeral-storage": requests.ephemeral_storage,
        **dict(requests.scalar),
    }
    return {k: v for k, v in out.items() if v > 0}


@attrs.frozen
class Rule:
    """A Filter constraint named in Kubernetes terms; ``fast`` an equivalent form for the solver when every rule
    holds (a linear one), where ``body`` is the rule alone, for unsat cores."""

    label: str
    body: str
    fast: str | None = None


class Encoding:
    """The constraints for one (pending pods, snapshot) instance, as SMT-LIB 2 text over integer counts.

    Text, not z3's Python API: building 10^4 terms through the API costs seconds, printing them milliseconds.
    Variables: ``c_<g>_<n>`` pods of group g on node n, auxiliary sums ``s_<i>``, spread minima ``m_<i>``.
    ``bounds`` are ranges and definitions; ``tracked`` the Filter constraints with their names in Kubernetes
    terms; ``solver_only`` constraints that keep the optimum but are no Filter (bounds implied by ``tracked``,
    cuts, symmetry breaking), left out of unsat cores so that cores name plugins.
    """

    def __init__(
        self,
        pending: Sequence[PodInfo],
        snapshot: Snapshot,
        incumbents: Sequence[PodInfo] = (),
        budgets: Sequence[DisruptionBudget] = (),
        claims: Sequence[ClaimChoice] = (),
        storage: Storage | None = None,
    ) -> None:
        pending_groups = group_pods(pending)
        incumbent_groups = group_pods(incumbents)
        self.groups = pending_groups + incumbent_groups
        self.incumbent = [False] * len(pending_groups) + [True] * len(incumbent_groups)
        self.pod_by_key = {p.key: p for group in self.groups for p in group.pods}
        """Incumbent groups are bound pods that preemption may evict: their count on their own node is how many
        stay. They are no Filter subjects (bound pods are not re-checked), only objects of the others' filters."""
        keys = {p.key for p in incumbents}
        snapshot = Snapshot(snapshot.nodes, tuple(p for p in snapshot.pods if p.key not in keys), snapshot.namespaces)
        self.snapshot = snapshot
        """The bound pods that stay whatever happens (incumbents removed)."""
        self.nodes = list(snapshot.nodes)
        self.allowed: list[list[int]] = []
        self.static: list[tuple[tuple[str, str], ...]] = []
        self.decls: list[str] = []
        self.bounds: list[str] = []
        self.solver_only: list[str] = []
        self.tracked: list[Rule] = []
        self.free = [free_resources(node, snapshot) for node in self.nodes]
        self.requests = [requested(g.template.requests) for g in self.groups]
        self._sums: dict[tuple[str, ...], str] = {}
        self._domains: dict[tuple[int, str], dict[str, list[int]]] = {}
        self._index = {node.name: n for n, node in enumerate(self.nodes)}
        self._static_pass()
        self._resources()
        self._ports()
        self._anti_affinity()
        self._affinity()
        self._spread()
        self._preemption(budgets)
        self._volumes(claims)
        self.storage = storage
        self.claims = tuple(claims)
        """The claims, volumes and classes and the claims needing a volume of their own (for the search's
        heuristic placements: kube-scheduler's cycle with its Reserves, and a matching check of the others)."""

    # -- variables and terms ------------------------------------------------------------------------------

    def declare(self, name: str, low: int | None = None, high: int | None = None) -> str:
        """An integer variable, optionally bounded."""
        self.decls.append(f"(declare-const {name} Int)")
        if low is not None and high is not None:
            self.bounds.append(f"(<= {low} {name} {high})")
        elif low is not None:
            self.bounds.append(f"(<= {low} {name})")
        return name

    def sum(self, terms: Sequence[str]) -> str:
        """The sum of ``terms`` as one name: 0, the single term, or a defined auxiliary variable (shared)."""
        if not terms:
            return "0"
        if len(terms) == 1:
            return terms[0]
        key = tuple(terms)
        name = self._sums.get(key)
        if name is None:
            name = self.declare(f"s_{len(self._sums)}")
            self._sums[key] = name
            self.bounds.append(f"(= {name} (+ {' '.join(terms)}))")
        return name

    @staticmethod
    def c(g: int, n: int) -> str:
        return f"c_{g}_{n}"

    def placed(self, g: int) -> str:
        """How many pods of group g are placed."""
        return self.sum([self.c(g, n) for n in self.allowed[g]])

    def load(self, n: int) -> str:
        """How many pending pods are placed on node n."""
        return self.sum([self.c(g, n) for g in range(len(self.groups)) if n in self.allowed_sets[g]])

    def domains(self, g: int, key: str) -> dict[str, list[int]]:
        """Topology value -> the allowed nodes of group g with that value of ``key``."""
        cached = self._domains.get((g, key))
        if cached is None:
            cached = {}
            for n in self.allowed[g]:
                value = self.nodes[n].label_map.get(key)
                if value is not None:
                    cached.setdefault(value, []).append(n)
            self._domains[g, key] = cached
        return cached

    def in_domain(self, g: int, key: str, value: str, nodes: frozenset[int] | None = None) -> str:
        """Pods of group g on allowed nodes with ``key=value`` (restricted to ``nodes`` when given)."""
        return self.sum([self.c(g, n) for n in self.domains(g, key).get(value, ()) if nodes is None or n in nodes])

    def capacity(self, n: int, terms: Sequence[tuple[int, int]], room: int) -> str:
        """sum(amount * c[g,n]) <= room, divided by the gcd of the amounts.

        Exact, as the sum is a multiple of the gcd; and it keeps the simplex away from coefficients like 2^30
        (memory in bytes), whose products make its rational arithmetic crawl.
        """
        d = math.gcd(*(amount for _, amount in terms))
        total = plus([f"(* {amount // d} {self.c(g, n)})" if amount != d else self.c(g, n) for g, amount in terms])
        return _le(total, room // d)

    def script(self, track: bool) -> str:
        """The whole instance as SMT-LIB 2. With ``track``, Filter constraint i holds only under literal ``t_i``
        (for unsat cores) and the solver-only constraints are left out."""
        lines = [*self.decls]
        lines.extend(f"(assert {b})" for b in self.bounds)
        if track:
            for i, rule in enumerate(self.tracked):
                lines.append(f"(declare-const t_{i} Bool)")
                lines.append(f"(assert (=> t_{i} {rule.body}))")
        else:
            lines.extend(f"(assert {b})" for b in self.solver_only)
            lines.extend(f"(assert {rule.fast or rule.body})" for rule in self.tracked)
        return "\n".join(lines)

    # -- volumes ------------------------------------------------------------------------------------------

    def _volumes(self, claims: Sequence[ClaimChoice]) -> None:
        """VolumeBinding across pods (``spec.scheduling.storage.claim_choices``). Volumes that reach the same nodes
        and are candidates of the same claims are interchangeable for every claim: they form one kind, and
        ``v_<i>_<k>`` counts the volumes of kind k that claim i holds (0 or 1). A pod of claim i placed on node n
        needs one held of a kind reaching n; a kind is held at most as many times as it has volumes (Reserve: a
        volume is not given twice). Exact: an assignment of kinds within their counts is one of volumes."""
        group_of = {p.key: g for g, group in enumerate(self.groups) for p in group.pods}
        live = [
            (i, c) for i, c in enumerate(claims) if (g := group_of.get(c.pod)) is not None and not self.incumbent[g]
        ]
        users: dict[str, list[int]] = {}
        reach: dict[str, frozenset[str]] = {}
        for i, choice in live:
            for volume, nodes in choice.volumes:
                users.setdefault(volume, []).append(i)
                reach[volume] = nodes
        kinds: dict[tuple[frozenset[str], tuple[int, ...]], list[str]] = {}
        for volume, who in users.items():
            kinds.setdefault((reach[volume], tuple(who)), []).append(volume)
        kind_of = {v: k for k, (_, volumes) in enumerate(kinds.items()) for v in volumes}
        held_by: dict[int, list[str]] = {}
        for i, choice in live:
            g = group_of[choice.pod]
            held: dict[int, str] = {}
            for volume, _ in choice.volumes:
                k = kind_of[volume]
                if k not in held:
                    held[k] = self.declare(f"v_{i}_{k}", 0, 1)
                    held_by.setdefault(k, []).append(held[k])
            names = ", ".join(v for v, _ in choice.volumes) or "none"
            rules = []
            for n in self.allowed[g]:
                here = sorted({held[kind_of[v]] for v, nodes in choice.volumes if self.nodes[n].name in nodes})
                rules.append(f"(=> (>= {self.c(g, n)} 1) (>= {plus(here)} 1))")
            if rules:
                self.tracked.append(Rule(f"VolumeBinding: claim {choice.claim} needs a volume of its own ({names}) "
                                         "on its pod's node", _and(rules)))
        for k, ((_, _), volumes) in enumerate(kinds.items()):
            holders = held_by.get(k, [])
            if len(holders) > len(volumes):
                label = (f"PersistentVolume {volumes[0]} binds one claim" if len(volumes) == 1 else
                         f"PersistentVolumes {', '.join(sorted(volumes))} bind one claim each")
                self.tracked.append(Rule(f"VolumeBinding: {label}", _le(plus(holders), len(volumes))))

    # -- static filters -----------------------------------------------------------------------------------

    def _static_pass(self) -> None:
        for g, group in enumerate(self.groups):
            pod = group.template
            if self.incumbent[g]:
                n = self._index[pod.node_name]
                self.declare(self.c(g, n), 0, group.size)
                self.allowed.append([n])
                self.static.append(())
                continue
            state = prefilter(pod, self.snapshot)
            allowed: list[int] = []
            reasons: list[tuple[str, str]] = []
            needs = self.requests[g]
            for n, node in enumerate(self.nodes):
                failure = self._static_failure(pod, node, state)
                if failure is not None:
                    reasons.append((node.name, f"{failure.plugin}: {failure.reason}"))
                    continue
                allowed.append(n)
                self.declare(self.c(g, n), 0, group.size)
                pods_free, free = self.free[n]
                fits = min([pods_free] + [free.get(r, 0) // amount for r, amount in needs.items()])
                if fits < group.size:
                    self.solver_only.append(f"(<= {self.c(g, n)} {fits})")
            self.allowed.append(allowed)
            self.static.append(tuple(reasons))
            if len(allowed) > 1:
                self.bounds.append(f"(<= {self.placed(g)} {group.size})")
        self.allowed_sets = [frozenset(a) for a in self.allowed]

    def _static_failure(self, pod: PodInfo, node: NodeInfo, state: PreFilterState) -> FilterFailure | None:
        """The filters that do not depend on the other pending pods."""
        if state.rejection is not None:
            return state.rejection
        if state.node_names is not None and node.name not in state.node_names:
            return FilterFailure(
                "NodeAffinity", ("node(s) didn't satisfy plugin(s) [NodeAffinity]",), Code.UNSCHEDULABLE
            )
        failure = (
            node_unschedulable(pod, node)
            or node_name(pod, node)
            or taint_toleration(pod, node)
            or node_affinity(pod, node)
            or node_ports(pod, node, self.snapshot)
        )
        if failure is not None:
            return failure
        failure = volume_binding(pod, node)  # the pod's claims alone (their verdict on the objects as given)
        if failure is not None:
            return failure
        lacking = insufficient_resources(pod, node, self.snapshot)
        if lacking:
            return FilterFailure("NodeResourcesFit", tuple(r for r, _ in lacking), Code.UNSCHEDULABLE)
        for c in pod.topology_spread_constraints:
            if c.when_unsatisfiable == "DoNotSchedule" and c.topology_key not in node.label_map:
                return FilterFailure(
                    "PodTopologySpread",
                    ("node(s) didn't match pod topology spread constraints (missing required label)",),
                    Code.UNSCHEDULABLE,
                )
        for t in pod.affinity.pod_required:
            if t.topology_key not in node.label_map:
                return FilterFailure(
                    "InterPodAffinity", ("node(s) didn't match pod affinity rules",), Code.UNSCHEDULABLE
                )
        return self._bound_anti_affinity(pod, node)

    def _bound_anti_affinity(self, pod: PodInfo, node: NodeInfo) -> FilterFailure | None:
        """Anti-affinity between the pod and bound pods, both directions."""
        labels = node.label_map
        ns_labels = self.snapshot.namespace_labels(pod.namespace)
        for other, other_node in self.snapshot.placed:
            o_labels = other_node.label_map
            for t in pod.affinity.anti_required:
                if (
                    t.topology_key in labels
                    and o_labels.get(t.topology_key) == labels[t.topology_key]
                    and t.matches(other.namespace, other.label_map, self.snapshot.namespace_labels(other.namespace))
                ):
                    return FilterFailure(
                        "InterPodAffinity", ("node(s) didn't match pod anti-affinity rules",), Code.UNSCHEDULABLE
                    )
            for t in other.affinity.anti_required:
                if (
                    t.topology_key in o_labels
                    and labels.get(t.topology_key) == o_labels[t.topology_key]
                    and t.matches(pod.namespace, pod.label_map, ns_labels)
                ):
                    return FilterFailure(
                        "InterPodAffinity",
                        ("node(s) didn't satisfy existing pods anti-affinity rules",),
                        Code.UNSCHEDULABLE,
                    )
        return None

    def _matches(self, term: PodAffinityTerm, pod: PodInfo) -> bool:
        return term.matches(pod.namespace, pod.label_map, self.snapshot.namespace_labels(pod.namespace))

    # -- NodeResourcesFit ---------------------------------------------------------------------------------

    def _resources(self) -> None:
        for n, node in enumerate(self.nodes):
            on = [g for g in range(len(self.groups)) if n in self.allowed_sets[g]]
            if not on:
                continue
            pods_free, free = self.free[n]
            # bound pods that preemption may evict are checked only when a pending pod comes to the node (a node
            # that bound pods alone overcommit is left alone otherwise, as upstream)
            kept = [g for g in on if self.incumbent[g]]
            arrivals = [self.c(g, n) for g in on if not self.incumbent[g]]
            if not arrivals:
                continue  # no pending pod may come here, and bound pods are not re-checked (found by hypothesis)

            def guarded(row: str, overflow: bool, arrivals: list[str] = arrivals) -> str:
                return f"(or (<= {plus(arrivals)} 0) {row})" if overflow and arrivals else row

            if sum(self.groups[g].size for g in on) > pods_free:
                overflow = sum(self.groups[g].size for g in kept) > pods_free
                self.tracked.append(
                    Rule(
                        f"NodeResourcesFit: pods on node {node.name} (room for {pods_free} more)",
                        guarded(_le(self.load(n), pods_free), overflow),
                    )
                )
            for resource in sorted({r for g in on for r in self.requests[g]}):
                terms = [(g, self.requests[g][resource]) for g in on if resource in self.requests[g]]
                room = free.get(resource, 0)
                if sum(self.groups[g].size * amount for g, amount in terms) <= room:
                    continue
                # upstream checks only the resources the pod requests: a pod without this resource may come to a
                # node that bound pods overcommit in it (found by hypothesis)
                asking = [self.c(g, n) for g, _ in terms if not self.incumbent[g]]
                if not asking:
                    continue
                overflow = sum(self.groups[g].size * a for g, a in terms if self.incumbent[g]) > room
                self.tracked.append(
                    Rule(
                        f"NodeResourcesFit: {resource} on node {node.name}",
                        guarded(self.capacity(n, terms, room), overflow, asking),
                    )
                )

    # -- NodePorts ----------------------------------------------------------------------------------------

    def _ports(self) -> None:
        with_ports = [g for g, group in enumerate(self.groups) if group.template.host_ports]
        for i, g in enumerate(with_ports):
            a = self.groups[g].template
            if self.groups[g].size > 1 and self.allowed[g] and not self.incumbent[g]:
                # a replica's ports conflict with its own copies: one per node
                self.tracked.append(
                    Rule(
                        f"NodePorts: host ports of {self.groups[g].name} (one per node)",
                        _and([f"(<= {self.c(g, n)} 1)" for n in self.allowed[g]]),
                    )
                )
            for h in with_ports[i + 1 :]:
                if self.incumbent[g] and self.incumbent[h]:
                    continue  # bound pods are not re-checked against each other
                b = self.groups[h].template
                if not (
                    any(ports_conflict(p, b.host_ports) for p in a.host_ports)
                    or any(ports_conflict(p, a.host_ports) for p in b.host_ports)
                ):
                    continue
                shared = [n for n in self.allowed[g] if n in self.allowed_sets[h]]
                if shared:
                    self.tracked.append(
                        Rule(
                            f"NodePorts: host ports of {self.groups[g].name} and {self.groups[h].name}",
                            _and([f"(or (= {self.c(g, n)} 0) (= {self.c(h, n)} 0))" for n in shared]),
                        )
                    )

    # -- InterPodAffinity: anti-affinity ------------------------------------------------------------------

    def _anti_affinity(self) -> None:
        for g, group in enumerate(self.groups):
            for term in group.template.affinity.anti_required:
                key = term.topology_key
                # an incumbent's term (an existing pod's anti-affinity) binds the pending pods only
                matching = [
                    h
                    for h, other in enumerate(self.groups)
                    if self._matches(term, other.template) and not (self.incumbent[g] and self.incumbent[h])
                ]
                rules: list[str] = []
                for value in self.domains(g, key):
                    here = self.in_domain(g, key, value)
                    if g in matching and group.size > 1 and not self.incumbent[g]:
                        rules.append(f"(<= {here} 1)")
                    others = [o for h in matching if h != g and (o := self.in_domain(h, key, value)) != "0"]
                    if others:
                        rules.append(f"(=> (>= {here} 1) {_le(plus(others), 0)})")
                if rules:
                    self.tracked.append(
                        Rule(f"InterPodAffinity: required anti-affinity of {group.name} ({key})", _and(rules))
                    )

    # -- InterPodAffinity: required affinity --------------------------------------------------------------

    def _affinity(self) -> None:
        for g, group in enumerate(self.groups):
            pod = group.template
            terms = pod.affinity.pod_required
            if not terms or self.incumbent[g]:
                continue
            members = [h for h, other in enumerate(self.groups) if all(self._matches(t, other.template) for t in terms)]
            self_member = g in members
            keys = sorted({t.topology_key for t in terms})
            existing: dict[tuple[str, str], int] = {}
            for other, node in self.snapshot.placed:
                if all(self._matches(t, other) for t in terms):
                    for k in keys:
                        if k in node.label_map:
                            existing[k, node.label_map[k]] = existing.get((k, node.label_map[k]), 0) + 1
            # upstream's first-pod exception: no other matching pod on a node with any of the terms' keys (the
            # pod itself is on such a node)
            first_pod = "false"
            if self_member and not existing:
                with_keys = [
                    self.c(h, n)
                    for h in members
                    for n in self.allowed[h]
                    if any(k in self.nodes[n].label_map for k in keys)
                ]
                first_pod = _le(self.sum(with_keys), 1)
            by_tuple: dict[tuple[str, ...], list[int]] = {}
            for n in self.allowed[g]:
                by_tuple.setdefault(tuple(self.nodes[n].label_map[t.topology_key] for t in terms), []).append(n)
            rules = []
            linear: list[str] = []
            for values, nodes in by_tuple.items():
                nears: list[str] = []
                for t, value in zip(terms, values, strict=True):
                    if existing.get((t.topology_key, value), 0) == 0:
                        nears.append(
                            self.sum(
                                [self.c(h, n) for h in members for n in self.domains(h, t.topology_key).get(value, ())]
                            )
                        )
                if nears:
                    here = self.sum([self.c(g, n) for n in nodes])
                    # the pod itself is in the domain when it matches the terms: another one is needed
                    conds = _and([f"(>= {near} {2 if self_member else 1})" for near in nears])
                    rules.append(f"(=> (>= {here} 1) (or {conds} {first_pod}))")
                    # when the pod is no match itself (so no exception either), "a match near wherever the group
                    # is" is linear: here <= size * near
                    linear.extend(f"(<= {here} (* {group.size} {near}))" for near in nears)
            if rules:
                fast = _and(linear) if not self_member else None
                self.tracked.append(Rule(f"InterPodAffinity: required affinity of {group.name}", _and(rules), fast))

    # -- PodTopologySpread --------------------------------------------------------------------------------

    def _spread(self) -> None:
        shared: dict[tuple[object, ...], tuple[str, dict[str, str], list[int]]] = {}
        owners: dict[tuple[object, ...], list[tuple[int, TopologySpreadConstraint]]] = {}
        for g, group in enumerate(self.groups):
            pod = group.template
            if self.incumbent[g]:
                continue
            constraints = [c for c in pod.topology_spread_constraints if c.when_unsatisfiable == "DoNotSchedule"]
            for c in constraints:
                eligible = frozenset(
                    n
                    for n, node in enumerate(self.nodes)
                    if all(k.topology_key in node.label_map for k in constraints) and spread_node_eligible(pod, node, c)
                )
                if not eligible:
                    continue  # no domain: upstream's minimum is MaxInt32 and every node passes
                gkey = (c, pod.namespace, eligible)
                if gkey not in shared:
                    counts, static, matching = self._spread_counts(
                        c.topology_key, c.label_selector, pod.namespace, eligible
                    )
                    m = self.declare(f"m_{len(shared)}")
                    forced = c.min_domains is not None and len(counts) < c.min_domains
                    if forced:
                        self.bounds.append(f"(= {m} 0)")
                    else:
                        self.bounds.extend(f"(<= {m} {count})" for count in counts.values())
                    lowest = 0 if forced else min(static.get(v, 0) for v in counts)
                    # domains without any pod of the owners hold only bound pods; when those are within maxSkew
                    # of the minimum, "S(v) - m <= maxSkew" may hold for every domain, a linear form
                    fits = all(static.get(v, 0) - lowest <= c.max_skew for v in counts)
                    shared[gkey] = (m, counts, matching if fits else [-1])
                    owners[gkey] = []
                owners[gkey].append((g, c))
        for key, groups in owners.items():
            m, counts, matching = shared[key]
            linear = set(matching) <= {g for g, _ in groups}
            first = True
            for g, c in groups:
                # the group's allowed nodes are eligible (same node affinity, taints and keys), so the pod itself
                # is in counts[value] when it matches: count - min is upstream's skew with the pod added
                rules = [
                    f"(=> (>= {self.in_domain(g, c.topology_key, value)} 1) (<= (- {counts[value]} {m}) {c.max_skew}))"
                    for value in self.domains(g, c.topology_key)
                ]
                if not rules:
                    continue
                fast = None
                if linear:
                    # once for all owners: the first rule emitted carries it, the others are implied
                    every = [f"(<= (- {count} {m}) {c.max_skew})" for count in counts.values()]
                    fast = _and(every) if first else "true"
                    first = False
                self.tracked.append(
                    Rule(
                        f"PodTopologySpread: {self.groups[g].name} ({c.topology_key}, maxSkew {c.max_skew})",
                        _and(rules),
                        fast,
                    )
                )

    def _spread_counts(
        self, key: str, selector: LabelSelector | None, namespace: str, eligible: frozenset[int]
    ) -> tuple[dict[str, str], dict[str, int], list[int]]:
        """Matching pods (same namespace, selector) per domain value of the eligible nodes: the counts, the bound
        pods among them, and the matching groups that have pods in the counts."""
        static: dict[str, int] = {}
        for other, node in self.snapshot.placed:
            if (
                not other.terminating
                and other.namespace == namespace
                and selector_matches(selector, other.label_map)
                and self._index[node.name] in eligible
            ):
                static[node.label_map[key]] = static.get(node.label_map[key], 0) + 1
        matching = [
            h
            for h, group in enumerate(self.groups)
            if group.template.namespace == namespace
            and not group.template.terminating
            and selector_matches(selector, group.template.label_map)
        ]
        counts = {}
        for v in sorted({self.nodes[n].label_map[key] for n in eligible}):
            terms = [d for h in matching if (d := self.in_domain(h, key, v, eligible)) != "0"]
            if static.get(v, 0):
                terms.append(str(static[v]))
            counts[v] = self.sum(terms)
        present = [h for h in matching if any(n in eligible for n in self.allowed[h])]
        return counts, static, present


    # -- preemption ---------------------------------------------------------------------------------------

    def _preemption(self, budgets: Sequence[DisruptionBudget]) -> None:
        """An incumbent is evicted only from a node where a pending pod of higher priority that may preempt
        (preemptionPolicy PreemptLowerPriority) is placed (upstream: victims are chosen on the preemptor's node);
        and, per PodDisruptionBudget, at most its allowed disruptions among the pods it covers."""
        for h, group in enumerate(self.groups):
            if not self.incumbent[h]:
                continue
            victim = group.template
            n = self.allowed[h][0]
            preemptors = [
                self.c(g, n)
                for g, other in enumerate(self.groups)
                if not self.incumbent[g]
                and n in self.allowed_sets[g]
                and other.template.priority > victim.priority
                and other.template.preemption_policy != "Never"
            ]
            kept = f"(>= {self.c(h, n)} {group.size})"
            self.bounds.append(f"(or {kept} (>= {plus(preemptors)} 1))" if preemptors else kept)
        for budget in budgets:
            covered = [h for h, group in enumerate(self.groups) if self.incumbent[h] and budget.covers(group.template)]
            if not covered:
                continue
            evicted = plus([f"(- {self.groups[h].size} {self.c(h, self.allowed[h][0])})" for h in covered])
            self.tracked.append(
                Rule(
                    f"PodDisruptionBudget {budget.namespace}/{budget.name} (allows {budget.allowed} disruptions)",
                    _le(evicted, budget.allowed),
                )
            )

def plus(terms: Sequence[str]) -> str:
    """The SMT-LIB sum of ``terms`` (0 when empty)."""
    if not terms:
        return "0"
    return terms[0] if len(terms) == 1 else f"(+ {' '.join(terms)})"


def _and(rules: Sequence[str]) -> str:
    return rules[0] if len(rules) == 1 else f"(and {' '.join(rules)})"


def _le(term: str, bound: int) -> str:
    return f"(<= {term} {bound})" if bound >= 0 else f"(<= {term} (- {-bound}))"
