"""Prove with z3 that iptables rules implement kube-proxy's Service semantics for one node.

The expected behaviour comes from the manifests (upstream semantics, independent of any rule text):
pkg/proxy/iptables/proxier.go for where traffic goes and when it is masqueraded, pkg/proxy/topology.go for
the usable endpoints. Properties, checked for every frontend (ClusterIP, external IP, load-balancer IP and
NodePort of every service port) and every kind of sender (a pod, another node or an outside client arriving
through PREROUTING, or a process on this host through OUTPUT):
  1. routing: DNAT to a usable endpoint of exactly that service port, or REJECT / DROP exactly when expected;
  2. isolation: no packet to any other destination is rewritten (or marked for masquerade);
  3. balance: the statistic rules give each endpoint exactly 1/n (exact rationals; rounding reported);
  4. affinity: with ClientIP affinity a returning client reaches the endpoint it reached before;
  5. masquerade: the packet is masqueraded exactly when upstream marks it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import ipaddress
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import cast

import attrs
import z3

from spec.proxy.endpoints import (
    PortKey,
    categorize,
    endpoints_map,
    ipv4s,
    service_ports,
)
from spec.proxy.model import Cluster, ProxierOptions, ResolvedEndpoint, Service, ServicePort
from spec.proxy.parse import PROTOCOL_NUMBERS, Dump, Match, shorten
from spec.proxy.symbolic import (
    OUTPUT,
    PREROUTING,
    Cond,
    DropsIgnored,
    Explorer,
    Lit,
    PathResult,
    Pins,
    State,
    concrete_holds,
    conj,
    disj,
    expand,
    foreign_parts,
    host,
    is_kube,
    kube_only,
    literal_factor,
    member_of,
    path_probability,
)

Net = ipaddress.IPv4Network
Member = tuple[Cond, PathResult, object]  # a path's condition (statistic choices eliminated), the path, a tag
Group = tuple[z3.BoolRef, list[Member]]  # a shared head and the per-path disjuncts under it
# What a rule's probability may be off 1/k by: kube-proxy writes %0.10f (half a unit in the 10th decimal), the
# kernel keeps round(p * 2^31) / 2^31 (xt_statistic) and iptables-save prints that with 11 decimals (libxt_statistic
# "%.11f"): at most 2^-32 + 5e-12 from 1/k. Accepted per endpoint times the number of endpoints.
ROUNDING = Fraction(1, 2**31)


@attrs.frozen
class Frontend:
    kind: str  # "cluster IP", "external IP", "load-balancer IP", "NodePort"
    key: PortKey
    svc: Service
    port: ServicePort
    dst: str | None  # None: any local address (NodePort)
    dport: int

    def describe(self) -> str:
        where = self.dst if self.dst is not None else "<node address>"
        return f"{self.key} {self.kind} {where}:{self.dport}/{self.key.protocol}"


@attrs.frozen
class Expect:
    guard: z3.BoolRef
    label: str
    kind: str  # "dnat", "drop", "reject" or "accept" (delivered unrewritten)
    targets: tuple[ResolvedEndpoint, ...] = ()
    masq: Callable[[ResolvedEndpoint], z3.BoolRef] | None = None

    def describe(self) -> str:
        if self.kind == "accept":
            return "not rewritten, ACCEPT"
        if self.kind != "dnat":
            return self.kind.upper()
        return "DNAT to one of " + ", ".join(str(t) for t in self.targets)


@attrs.frozen
class Violation:
    prop: str
    frontend: str
    message: str
    # The concrete packet, or a function that describes it from the model: describing takes a few milliseconds
    # (z3 evaluations), and of the frontends that other components' rules break alike only two are printed.
    _packet: str | Callable[[], str] = attrs.field(eq=False)
    path: tuple[str, ...]
    expected: str
    foreign: tuple[str, ...] = ()  # the rules (and DROP policies) of other components that decided the outcome

    @property
    def packet(self) -> str:
        value = self._packet
        if not isinstance(value, str):
            value = value()
            object.__setattr__(self, "_packet", value)
        return value

    def render(self, heading: str = "VIOLATED") -> str:
        lines = [f"{heading} ({self.prop}): {self.frontend}: {self.message}", f"  packet:   {self.packet}"]
        lines.append(f"  expected: {self.expected}")
        lines.append("  rule path:")
        lines += [f"    {step}" for step in self.path] or ["    (no rule matched)"]
        if self.foreign:
            lines.append("  decided by rules that are not kube-proxy's:")
            lines += [f"    {step}" for step in self.foreign]
        return "\n".join(lines)


@attrs.frozen
class Report:
    violations: tuple[Violation, ...]
    services: int
    ports: int
    endpoints: int
    frontends: int
    paths: int
    max_deviation: Fraction
    interference: tuple[Violation, ...] = ()  # promises broken by rules of other components
    warnings: tuple[str, ...] = ()
    opaque: tuple[str, ...] = ()  # conditions the proof took either way (interfaces, unmodelled matches)
    foreign: int = 0  # rules and DROP policies of other components in the dump
    strict: bool = False
    interrupted: int = 0  # the signal that stopped verification (the report is partial), or 0
    checked: int = 0  # frontends checked

    @property
    def ok(self) -> bool:
        return not self.violations and not (self.strict and self.interference)


def local_networks(opts: ProxierOptions) -> tuple[Net, ...]:
    return (*(Net(f"{ip}/32") for ip in (*opts.node_ips, *opts.local_addresses)), Net("127.0.0.0/8"))


def frontends_of(key: PortKey, svc: Service, port: ServicePort, opts: ProxierOptions | None = None) -> list[Frontend]:
    """The addresses and ports a Service port answers on. NodePorts: on every local address (iptables mode's
    default), or on each of `opts.nodeport_addresses` (nftables mode answers on the node's primary IP)."""
    out = [Frontend("cluster IP", key, svc, port, str(svc.cluster_ip), port.port)]
    out += [Frontend("external IP", key, svc, port, ip, port.port) for ip in ipv4s(svc.external_ips)]
    out += [Frontend("load-balancer IP", key, svc, port, ip, port.port) for ip in ipv4s(svc.load_balancer_ips)]
    if port.node_port:
        if opts is not None and opts.nodeport_addresses:
            out += [Frontend("NodePort", key, svc, port, ip, port.node_port) for ip in opts.nodeport_addresses]
        else:
            out.append(Frontend("NodePort", key, svc, port, None, port.node_port))
    return out


class Verifier:
    def __init__(self, cluster: Cluster, opts: ProxierOptions, dump: Dump, base: Verifier | None = None) -> None:
        self.cluster = cluster
        self.opts = opts
        self.hairpin_local_only = dump.hairpin_local_only
        # With `base` (the pass over kube-proxy's rules alone), walks of kube-proxy's chains are shared with it.
        self.explorer: Explorer = Explorer(dump, local_networks(opts), opts.routes,
                                           None if base is None else base.explorer)
        self.pkt = self.explorer.pkt
        self.solver = z3.Solver()
        self.violations: list[Violation] = []
        self.max_deviation = Fraction(0)
        self.paths = 0
        cidr = opts.cluster_cidr
        self.cidr = Net(cidr, strict=False) if cidr else None
        t = self.t = self.pkt.terms
        self.src_local = self.explorer.local_expr(self.pkt.src)
        iface = opts.local_iface
        if iface is not None:
            # Interface detection: a pod's packet arrives on its interface; a host process's on none.
            self.explorer.ifaces["iif"].add(iface)
            self.pod = t.and_([self.pkt.iface("iif", iface), t.not_(self.src_local)])
            self.cidr = None
        else:
            self.pod = self.pkt.in_net(self.pkt.src, self.cidr) if self.cidr else t.false
        detector = iface is not None or self.cidr is not None
        self.src_local = self.explorer.local_expr(self.pkt.src)
        # Masquerade conditions of upstream's KUBE-SVC / KUBE-EXT / KUBE-SEP rules, per endpoint where hairpin counts.
        self.svc_masq = t.or_([t.true if opts.masquerade_all else t.false, t.not_(self.pod) if detector else t.false])
        self.short = t.or_([self.pod, self.src_local])
        self.host_masq = t.and_([t.not_(self.pod), self.src_local])
        self._masq: dict[tuple[str, str], z3.BoolRef] = {}
        self._senders: dict[tuple[int, str, bool], tuple[int, int, frozenset[str]]] = {}
        self._bare: dict[int, bool] = {}
        self._axiom_sizes: tuple[int, ...] = (0, 0)
        self._axioms = t.true
        self._defined = 0  # how many of the explorer's local_defs the solver holds

    # -- expected behaviour ----------------------------------------------------------------------------------------
    def hairpin(self, ep: ResolvedEndpoint) -> z3.BoolRef:
        """The endpoint sends to its own service and reaches itself: KUBE-SEP (nftables before v1.36: its endpoint
        chain) marks that for masquerade. nftables from v1.36 masquerades it through the hairpin-connections set,
        which holds this node's endpoints only: a remote endpoint's own packet is its node's business, not
        masqueraded here (unless another rule marks it)."""
        if self.hairpin_local_only and not ep.is_local:
            return self.t.false
        return self._masq_term("hairpin", ep, lambda: self.t.equals(self.pkt.src, int(ipaddress.ip_address(ep.ip))))

    def _masq_term(self, kind: str, ep: ResolvedEndpoint, build: Callable[[], z3.BoolRef]) -> z3.BoolRef:
        key = (kind, ep.ip)
        found = self._masq.get(key)
        if found is None:
            found = self._masq[key] = build()
        return found

    def expectations(self, fe: Frontend, cluster_eps: tuple[ResolvedEndpoint, ...],
                     local_eps: tuple[ResolvedEndpoint, ...], has_any: bool) -> list[Expect]:
        svc, src, t = fe.svc, self.pkt.src, self.t
        if self.opts.mode == "ipvs":
            return self.ipvs_expectations(fe, cluster_eps, local_eps)
        if not has_any:
            if fe.kind in ("external IP", "load-balancer IP") and self.opts.mode != "nftables":
                # Only FORWARD and INPUT consult KUBE-EXTERNAL-SERVICES: this host's own packets to a non-local
                # external address leave the node untouched, towards the real address.
                inbound = t.or_([t.not_(self.src_local), self.explorer.local_expr(self.pkt.dst)])
                return [Expect(inbound, "a sender reaching it through this node (no usable endpoints)", "reject"),
                        Expect(t.not_(inbound), "this host, address not local (no usable endpoints)", "accept")]
            return [Expect(t.true, "any sender (no usable endpoints)", "reject")]

        if fe.kind == "cluster IP":
            if svc.internal_policy_local and not local_eps:
                return [Expect(t.true, "any sender (internalTrafficPolicy Local, no local endpoints)", "drop")]
            targets = local_eps if svc.internal_policy_local else cluster_eps
            return [Expect(t.true, "any sender", "dnat", targets, lambda ep: self._masq_term(
                "cluster IP", ep, lambda: t.or_([self.svc_masq, self.hairpin(ep)])))]
        out: list[Expect] = []
        base: z3.BoolRef = t.true
        ranges = [Net(r) for r in svc.load_balancer_source_ranges if ipaddress.ip_network(r).version == 4]
        if fe.kind == "load-balancer IP" and ranges:
            allowed = [self.pkt.in_net(src, r) for r in ranges]
            node_ip = ipaddress.ip_address(self.opts.node_ips[0]) if self.opts.node_ips else None
            if node_ip is not None and any(node_ip in r for r in ranges):
                allowed += [t.equals(src, int(ipaddress.ip_address(ip))) for ip in ipv4s(svc.load_balancer_ips)]
            base = t.or_(allowed)
            out.append(Expect(t.not_(base), "a sender outside loadBalancerSourceRanges", "drop"))
        if not svc.external_policy_local:
            out.append(Expect(base, "any sender", "dnat", cluster_eps, lambda ep: t.true))
            return out
        out.append(Expect(t.and_([base, self.short]), "a pod or this host (externalTrafficPolicy Local short-circuit)",
                          "dnat", cluster_eps, lambda ep: self._masq_term(
                              "short-circuit", ep, lambda: t.or_([self.host_masq, self.hairpin(ep)]))))
        if local_eps:
            out.append(Expect(t.and_([base, t.not_(self.short)]), "an outside client (externalTrafficPolicy Local)",
                              "dnat", local_eps, self.hairpin))
        else:
            out.append(Expect(t.and_([base, t.not_(self.short)]),
                              "an outside client (externalTrafficPolicy Local, no local endpoints)", "drop"))
        return out

    def ipvs_expectations(self, fe: Frontend, cluster_eps: tuple[ResolvedEndpoint, ...],
                          local_eps: tuple[ResolvedEndpoint, ...]) -> list[Expect]:
        """IPVS mode, as upstream pkg/proxy/ipvs/proxier.go writes it: IPVS schedules the packet to the real
        servers syncEndpoint chose (Local policy: the local endpoints, else the cluster-wide ones; no short-circuit
        for pods or the host); writeIptablesRules marks for masquerade off-cluster traffic to a cluster IP
        (KUBE-CLUSTER-IP; without a local-traffic detector, traffic whose source and port are a cluster IP's),
        all traffic to external IPs, load-balancer IPs and NodePorts under Cluster policy (KUBE-EXTERNAL-IP,
        KUBE-LOAD-BALANCER, KUBE-NODE-PORT-*), none under Local policy (the -LOCAL sets RETURN), and
        masquerades a local endpoint reaching itself (KUBE-LOOP-BACK); KUBE-SOURCE-RANGES-FIREWALL drops what
        loadBalancerSourceRanges do not admit, for packets arriving through INPUT; this host's own packets to a
        load-balancer IP with source ranges are admitted when a range holds the node's IP, else dropped by
        KUBE-IPVS-OUT-FILTER when their source is the load-balancer IP. Frontends without real servers are left
        to the IPVS table check (ipvs.verify_ipvs). KUBE-SERVICES returns at once
        for a loopback source, so such a packet is marked by none of these."""
        svc, src, t = fe.svc, self.pkt.src, self.t
        not_loopback = t.not_(self.pkt.in_net(src, Net("127.0.0.0/8")))

        def hairpin(ep: ResolvedEndpoint) -> z3.BoolRef:
            return self._masq_term("loop-back", ep, lambda: t.equals(src, int(ipaddress.ip_address(ep.ip)))
                                   if ep.is_local else t.false)

        detector = self.opts.local_iface is not None or self.cidr is not None
        by_source = self.ipvs_marked_by_source()
        if fe.kind == "cluster IP":
            targets = (local_eps or cluster_eps) if svc.internal_policy_local else cluster_eps
            if not targets:
                return []
            if self.opts.masquerade_all:
                marked: z3.BoolRef = not_loopback
            elif detector:
                marked = t.and_([not_loopback, t.not_(self.pod)])
            else:
                marked = by_source
            return [Expect(t.true, "any sender", "dnat", targets, lambda ep: t.or_([marked, hairpin(ep)]))]
        targets = (local_eps or cluster_eps) if svc.external_policy_local else cluster_eps
        if not targets:
            return []

        def masq(ep: ResolvedEndpoint) -> z3.BoolRef:
            return t.or_([hairpin(ep), by_source if svc.external_policy_local else not_loopback])

        ranges = [Net(r) for r in svc.load_balancer_source_ranges if ipaddress.ip_network(r).version == 4]
        if fe.kind != "load-balancer IP" or not ranges:
            return [Expect(t.true, "any sender", "dnat", targets, masq)]
        allowed = [self.pkt.in_net(src, r) for r in ranges]
        node_ip = ipaddress.ip_address(self.opts.node_ips[0]) if self.opts.node_ips else None
        from_node = node_ip is not None and any(node_ip in r for r in ranges)
        if from_node:
            allowed += [t.equals(src, int(ipaddress.ip_address(ip))) for ip in ipv4s(svc.load_balancer_ips)]
        inbound = t.not_(self.src_local)
        out = [Expect(t.and_([inbound, t.not_(t.or_(allowed))]), "a sender outside loadBalancerSourceRanges", "drop"),
               Expect(t.and_([inbound, t.or_(allowed)]), "a sender in loadBalancerSourceRanges", "dnat", targets,
                      masq)]
        # This host's own packets: IPVS schedules them at LOCAL_OUT and they never pass INPUT or FORWARD, where
        # KUBE-SOURCE-RANGES-FIREWALL is. Upstream admits them when a source range holds the node's IP (the
        # KUBE-LOAD-BALANCER-SOURCE-IP member lbIP,port,lbIP), and otherwise drops in KUBE-IPVS-OUT-FILTER what
        # IPVS scheduled for the load-balancer IP from that same address (`-s LBIP -m ipvs --vaddr LBIP`; the
        # kernel's source for a local destination; lbNoNodeAccessIPPortProtocolEntries, kubernetes#119656). A
        # process that binds another local address is not stopped (unlike iptables mode, whose KUBE-FW drops
        # every source outside the ranges).
        host_sender = self.src_local
        if from_node:
            out.append(Expect(host_sender, "this host (its address in loadBalancerSourceRanges)", "dnat", targets,
                              masq))
        else:
            own = t.equals(src, int(ipaddress.ip_address(fe.dst))) if fe.dst else t.false
            out.append(Expect(t.and_([host_sender, own]), "this host from the load-balancer IP (its address outside "
                              "loadBalancerSourceRanges)", "drop"))
            out.append(Expect(t.and_([host_sender, t.not_(own)]), "this host from another of its addresses "
                              "(upstream's KUBE-IPVS-OUT-FILTER matches the load-balancer IP source only)", "dnat",
                              targets, masq))
        return out

    def ipvs_marked_by_source(self) -> z3.BoolRef:
        """IPVS mode without a local-traffic detector (and without --masquerade-all) marks for masquerade what
        `-m set --match-set KUBE-CLUSTER-IP src,dst` matches: a (non-loopback) source that is a cluster IP, to
        that cluster IP's port and protocol, whatever the destination address ("masquerade all OUTPUT traffic
        coming from a service ip": a host process reaching a VIP from a VIP source)."""
        t, p = self.t, self.pkt
        if self.opts.masquerade_all or self.opts.local_iface is not None or self.cidr is not None:
            return t.false
        members = {(str(svc.cluster_ip), port.port, port.protocol.lower()) for _, svc, port
                   in service_ports(self.cluster) if svc.cluster_ip is not None}
        return t.and_([t.not_(p.in_net(p.src, Net("127.0.0.0/8"))), t.or_([
            t.and_([t.equals(p.src, int(ipaddress.ip_address(ip))), t.equals(p.dport, port),
                    t.equals(p.proto, PROTOCOL_NUMBERS[proto])]) for ip, port, proto in sorted(members)])])

    def frontend_expr(self, fe: Frontend) -> z3.BoolRef:
        p, t = self.pkt, self.t
        if fe.dst is not None:
            dst = t.equals(p.dst, int(ipaddress.ip_address(fe.dst)))
        else:
            # Loopback NodePorts serve this host only (route_localnet; kubelet's KUBE-FIREWALL drops the rest).
            loopback = p.in_net(p.dst, Net("127.0.0.0/8"))
            allowed = self.src_local if self.opts.localhost_nodeports else t.false
            dst = t.and_([self.explorer.local_expr(p.dst), t.or_([t.not_(loopback), allowed])])
        return t.and_([dst, t.equals(p.dport, fe.dport), t.equals(p.proto, PROTOCOL_NUMBERS[fe.key.protocol.lower()])])

    # -- checking --------------------------------------------------------------------------------------------------
    def _solve(self, exprs: list[z3.BoolRef]) -> z3.ModelRef | None:
        defs = self.explorer.local_defs
        while self._defined < len(defs):  # at the base level: taken in once, kept across queries
            self.solver.add(defs[self._defined])
            self._defined += 1
        self.solver.push()
        try:
            sizes = tuple(len(v) for v in self.explorer.ifaces.values())
            if sizes != self._axiom_sizes:
                self._axiom_sizes, self._axioms = sizes, self.explorer.iface_axioms()
            self.solver.add(conj([*exprs, self._axioms]))
            return self.solver.model() if self.solver.check() == z3.sat else None
        finally:
            self.solver.pop()

    def _first_model(self, base: z3.BoolRef | None,
                     groups: list[Group]) -> tuple[z3.ModelRef, PathResult, object] | None:
        """A model of base ∧ ⋁(head ∧ ⋁ member), the path and tag of a member it satisfies; None if unsatisfiable.

        One solver call per question: the shared parts (the frontend, an expectation's guard) are factored out
        of the per-path disjuncts, and paths whose conditions are the same term are asked once. The model
        returned satisfies the witness path's condition with its statistic choices eliminated; the choices that
        go with it are the path's own (taken: yes, refused: no). A merged path is expanded to the one the
        model's packet takes.
        """
        if not groups:
            return None
        disjuncts = [conj([head, _paths_disjunction([cond for cond, _, _ in members])]) for head, members in groups]
        model = self._solve([disj(disjuncts)] if base is None else [base, disj(disjuncts)])
        if model is None:
            return None

        def holds(expr: z3.BoolRef | None) -> bool:
            return expr is None or z3.is_true(model.eval(expr, model_completion=True))

        for head, members in groups:
            if not holds(head):
                continue
            for (hook, body), path, tag in members:
                if holds(hook) and holds(body):
                    # The path's statistic choices are free in `body` (Lit.free): a rule taken chose yes, a rule
                    # refused no. describe_packet reads them so; each choice is a Boolean of its own, so the model
                    # with them satisfies the path's full condition (tests/proxy/test_symbolic.py proves the
                    # elimination exact).
                    return model, self._taken(model, path), tag
        raise AssertionError("a model of the disjunction satisfies none of its disjuncts")

    def _taken(self, model: z3.ModelRef, result: PathResult) -> PathResult:
        """Of the paths a merged path stands for (symbolic.expand), the one the model's packet takes."""
        if not result.alternatives:
            return result
        merged = result.state.lits[-1] if result.state.lits else None
        if merged is None or merged.alternatives is None:  # one of them holds unconditionally
            return next(alt for alt, (lits, *_) in zip(expand(result), result.alternatives, strict=True) if not lits)
        for alt, lits in zip(expand(result), merged.alternatives, strict=True):
            if all(z3.is_true(model.eval(lit.expr, model_completion=True)) for lit in lits):
                return alt
        raise AssertionError("a model of a merged path satisfies none of the paths it stands for")

    def describe_packet(self, model: z3.ModelRef, result: PathResult) -> str:
        def val(term: z3.ExprRef) -> int:
            return model.eval(term, model_completion=True).as_long()  # type: ignore[no-any-return]

        src = ipaddress.ip_address(val(self.pkt.src))
        dst = ipaddress.ip_address(val(self.pkt.dst))
        proto = {v: k for k, v in PROTOCOL_NUMBERS.items()}.get(val(self.pkt.proto), str(val(self.pkt.proto)))
        if result.hook == OUTPUT:
            origin = "a process on this node (nat OUTPUT)"
        elif z3.is_true(model.eval(self.pod, model_completion=True)):
            origin = "a pod (nat PREROUTING)"
        else:
            origin = "another node or an outside client (nat PREROUTING)"
        extra = []
        for lit in result.state.lits:
            if lit.match.probability is not None:
                taken = lit.positive  # see _first_model: the choice that goes with the path
                extra.append(f"{'took' if taken else 'skipped'} --probability {lit.match.probability} "
                             f"({lit.rule.where()})")
            if lit.match.recent is not None:
                known = z3.is_true(model.eval(self.pkt.recent(lit.match.recent.name), model_completion=True))
                extra.append(f"recent list {lit.match.recent.name} {'holds' if known else 'lacks'} the source")
            for flag, iface in (("-i", lit.match.iif), ("-o", lit.match.oif)):
                if iface is not None:
                    on = z3.is_true(model.eval(self.pkt.iface("iif" if flag == "-i" else "oif", iface.name),
                                               model_completion=True))
                    extra.append(f"{'' if on else '! '}{flag} {shorten(iface.name)} ({lit.rule.where()})")
            for op in lit.match.opaque:
                on = z3.is_true(model.eval(self.pkt.opaque(op.key), model_completion=True))
                extra.append(f"opaque match {'holds' if on else 'fails'}: {shorten(op.key)} ({lit.rule.where()})")
        outcome = (f"DNAT to {result.state.dnat[0]}:{result.state.dnat[1]}" if result.state.dnat
                   else "not rewritten") + f", {result.verdict.upper()}" + (
            ", masqueraded" if result.masquerade else ", not masqueraded")
        text = f"{proto} {src} -> {dst}:{val(self.pkt.dport)} from {origin}; outcome: {outcome}"
        return text + ("; " + "; ".join(extra) if extra else "")

    def rule_path(self, result: PathResult, model: z3.ModelRef | None = None) -> tuple[str, ...]:
        """The rules the path takes; with the counterexample's model, each set match names the member the packet
        is (or that it is in none of the set's)."""
        notes = self._set_notes(result, model)
        return tuple(f"{r.table} {r.chain} {r.where()}: {shorten(r.text, 200)}{notes.get(k, '')}"
                     for k, r in enumerate(result.state.path))

    def _set_notes(self, result: PathResult, model: z3.ModelRef | None) -> dict[int, str]:
        path = result.state.path
        if model is None or not any(r.match.sets for r in path):
            return {}

        def val(term: z3.ExprRef) -> int:
            return model.eval(term, model_completion=True).as_long()  # type: ignore[no-any-return]

        p = self.pkt
        names = {v: k for k, v in PROTOCOL_NUMBERS.items()}
        values: dict[str, int | str] = {"src": val(p.src), "dst": val(p.dst), "sport": val(p.sport),
                                        "dport": val(p.dport), "proto": names.get(val(p.proto), str(val(p.proto)))}
        atoms = frozenset(name for name, term in self._atoms() if z3.is_true(model.eval(term, model_completion=True)))
        notes: dict[int, str] = {}
        for k, rule in enumerate(path):
            for sm in rule.match.sets:
                found = member_of(sm, values, atoms)
                if sm.negated:
                    notes[k] = notes.get(k, "") + f" [not in {sm.name}]"
                elif found is not None:
                    notes[k] = notes.get(k, "") + f" [{sm.labels[found]}]"
            target = rule.target
            if target is not None and target.name in ("DNAT", "REDIRECT") and result.state.dnat is not None:
                values["dst"] = int(ipaddress.ip_address(result.state.dnat[0]))  # what later rules see
                values["dport"] = result.state.dnat[1]
        return notes

    def foreign_on(self, result: PathResult, model: z3.ModelRef | None = None) -> tuple[str, ...]:
        """The rules of other components on the path, and the DROP policy that ended it, if any."""
        notes = self._set_notes(result, model)
        foreign = [(k, r) for k, r in enumerate(result.state.path) if not is_kube(r)]
        deciding = [(k, r) for k, r in foreign if r.target is not None
                    and r.target.kind in ("terminal", "divert", "effect") and r.target.name != "RETURN"]
        out = [f"{r.table} {r.chain} {r.where()}: {shorten(r.text, 200)}{notes.get(k, '')}"
               for k, r in deciding or foreign]
        if result.policy is not None:
            out.append(f"{result.policy} policy DROP")
        return tuple(out)

    def report(self, prop: str, fe: str, message: str, model: z3.ModelRef, result: PathResult, expected: str) -> None:
        self.violations.append(Violation(prop, fe, message, functools.partial(self.describe_packet, model, result),
                                         self.rule_path(result, model), expected, self.foreign_on(result, model)))

    def check_frontend(self, fe: Frontend, cat_cluster: tuple[ResolvedEndpoint, ...],
                       cat_local: tuple[ResolvedEndpoint, ...], has_any: bool) -> None:
        ex = self.explorer
        proto = fe.key.protocol.lower()
        if fe.dst is not None:
            pins = Pins(dst=host(fe.dst), dport=fe.dport, proto=proto)
        else:
            pins = Pins(dst_local=True, dport=fe.dport, proto=proto)
        start = State(pins=pins)
        results = ex.paths(PREROUTING, start) + ex.paths(OUTPUT, start)
        ex.forget()
        self.paths += len(results)
        fexpr = self.frontend_expr(fe)
        expects = self.expectations(fe, cat_cluster, cat_local, has_any)
        routing: list[Group] = []
        masq: list[Group] = []
        conds = ex.path_conds(results, free=True)
        targets = [_target(r) for r in results]
        for e in expects:
            wrong: list[Member] = []
            by_outcome: dict[tuple[ResolvedEndpoint, bool, bool], list[Member]] = {}
            endpoints = {str(t): t for t in e.targets}
            for r, cond, target in zip(results, conds, targets, strict=True):
                if e.kind == "dnat":
                    chosen = endpoints.get(target) if target is not None else None
                    if chosen is None or r.verdict != "accept":
                        wrong.append((cond, r, e))
                    else:
                        # Delivered from PREROUTING to this host, a packet passes no POSTROUTING: nothing can
                        # masquerade it there (a locally generated one passes POSTROUTING before it loops back).
                        inbound = r.local and r.hook == PREROUTING
                        by_outcome.setdefault((chosen, r.masquerade, inbound), []).append((cond, r, e))
                elif r.verdict != e.kind or (target is not None and e.kind != "drop"):
                    # A dropped packet reaches nothing, DNATed or not (IPVS schedules this host's packets before
                    # filter OUTPUT drops them).
                    wrong.append((cond, r, e))
            if wrong:
                routing.append((e.guard, wrong))
            for (chosen, masqueraded, inbound), members in by_outcome.items():
                want = e.masq(chosen) if e.masq and not inbound else self.t.false
                if (z3.is_true(want) and masqueraded) or (z3.is_false(want) and not masqueraded):
                    continue  # decided without the paths: no packet of these paths can mismatch
                cond = conj([e.guard, self.t.not_(want) if masqueraded else want])
                masq.append((cond, members))
        found = self._first_model(fexpr, routing)
        if found is not None:
            model, r, tag = found
            e = cast(Expect, tag)
            self.report("1 routing", fe.describe(), f"for {e.label} the packet is not handled as upstream does",
                        model, r, e.describe())
            return
        found = self._first_model(fexpr, masq)
        if found is not None:
            model, r, tag = found
            e = cast(Expect, tag)
            self.report("5 masquerade", fe.describe(),
                        "masquerade " + ("applied where upstream does not mark" if r.masquerade
                                         else "missing where upstream marks"), model, r, e.describe())
            return
        for e in expects:
            if e.kind == "dnat" and self.opts.mode != "ipvs":  # IPVS: the table check proves balance, affinity
                self.check_balance(fe, e, results, conds, fexpr)
                if fe.svc.session_affinity == "ClientIP":
                    self.check_affinity(fe, e, results, conds, fexpr)

    def check_balance(self, fe: Frontend, e: Expect, results: list[PathResult], exprs: list[Cond],
                      fexpr: z3.BoolRef) -> None:
        """Property 3 for one representative sender of the class (a fresh client: no recent lists)."""
        for hook in (PREROUTING, OUTPUT):
            sender = self.representative(fe, e, hook, fexpr)
            if sender is None:
                continue
            src, dst, true = sender
            evaluate = functools.partial(_holds, src=src, dst=dst, dport=fe.dport, proto=fe.key.protocol.lower(),
                                         atoms=true,
                                         local_nets=self.explorer.local_nets)
            factors: dict[int, tuple[int, int]] = {}  # by id: paths share their literals (the explorer keeps them)

            def factor(lit: Lit, evaluate: Callable[[Match], bool] = evaluate,
                       factors: dict[int, tuple[int, int]] = factors) -> tuple[int, int]:
                found = factors.get(id(lit))
                if found is None:
                    if lit.alternatives is not None:  # merged paths: one of them holds (no statistic among them)
                        holds = any(all(evaluate(x.match) == x.positive for x in alt) for alt in lit.alternatives)
                    else:
                        holds = evaluate(lit.match)
                    found = factors[id(lit)] = literal_factor(lit, holds)
                return found

            dist: dict[str, Fraction] = {}
            for r in results:
                if r.hook != hook or r.state.dnat is None or r.verdict != "accept":
                    continue
                prob = path_probability(r, factor)
                if prob:
                    key = f"{r.state.dnat[0]}:{r.state.dnat[1]}"
                    dist[key] = dist.get(key, Fraction(0)) + prob
            n = len(e.targets)
            deviation = max(abs(dist.get(str(t), Fraction(0)) - Fraction(1, n)) for t in e.targets)
            self.max_deviation = max(self.max_deviation, deviation)
            if deviation > ROUNDING * n or set(dist) - {str(t) for t in e.targets}:
                shares = ", ".join(f"{k}: {float(v):.10f}" for k, v in sorted(dist.items())) or "none"
                self.violations.append(Violation(
                    "3 balance", fe.describe(),
                    f"endpoint shares for {e.label} deviate from 1/{n} by {float(deviation):.3g}",
                    f"a fresh client {ipaddress.ip_address(src)} ({hook}); shares {shares}",
                    (), f"each of {n} endpoints with probability 1/{n}"))
                return

    def _atoms(self) -> list[tuple[str, z3.BoolRef]]:
        """The interface and opaque Booleans met so far, by name."""
        ex, p = self.explorer, self.pkt
        out = [(f"{d}:{n}", p.iface(d, n)) for d, names in ex.ifaces.items() for n in sorted(names)]
        return out + [(f"opaque:{k}", p.opaque(k)) for k in sorted(ex.opaque)]

    def representative(self, fe: Frontend, e: Expect, hook: str,
                       fexpr: z3.BoolRef) -> tuple[int, int, frozenset[str]] | None:
        """Source and destination address of one packet of the sender class (guard, hook, frontend), if any, and
        the interface and opaque conditions true of it.

        The sender found for an earlier frontend of the same guard and hook is taken again when it belongs to
        this class too (checked by evaluating the class condition on it), which spares most solver calls.
        """
        hook_expr = self.src_local if hook == OUTPUT else self.t.not_(self.src_local)
        formula = conj([e.guard, hook_expr, fexpr])
        key = (e.guard.get_id(), hook, fe.dst is None)
        known = self._senders.get(key)
        atoms = self._atoms()
        if known is not None:
            src, dst = known[0], known[1] if fe.dst is None else int(ipaddress.ip_address(fe.dst))
            p, t = self.pkt, self.t
            values = [(p.src, t.num(src, 32)), (p.dst, t.num(dst, 32)), (p.dport, t.num(fe.dport, 16)),
                      (p.proto, t.num(PROTOCOL_NUMBERS[fe.key.protocol.lower()], 8))]
            values += [(term, t.true if name in known[2] else t.false) for name, term in atoms]
            values += self.explorer.local_values({"src": src, "dst": dst})
            if z3.is_true(z3.simplify(z3.substitute(formula, *values))):
                return src, dst, known[2]
        model = self._solve([formula])
        if model is None:
            return None
        true = frozenset(name for name, term in atoms if z3.is_true(model.eval(term, model_completion=True)))
        sender = (model.eval(self.pkt.src, model_completion=True).as_long(),
                  model.eval(self.pkt.dst, model_completion=True).as_long(), true)
        self._senders[key] = sender
        return sender

    def check_affinity(self, fe: Frontend, e: Expect, results: list[PathResult], exprs: list[Cond],
                       fexpr: z3.BoolRef) -> None:
        """Property 4: the list set on the way to t sends a returning client (within the timeout) back to t."""
        lists = {name for r in results for name in r.state.sets}
        lists |= {lit.match.recent.name for r in results for lit in r.state.lits if lit.match.recent is not None}
        for r in results:
            for lit in r.state.lits:
                rec = lit.match.recent
                if rec is not None and rec.mode != "set" and rec.seconds != fe.svc.sticky_seconds:
                    self.violations.append(Violation(
                        "4 affinity", fe.describe(), f"recent --seconds {rec.seconds} differs from the timeout",
                        f"a returning client {fe.svc.sticky_seconds} s after its first connection",
                        (f"{lit.rule.table} {lit.rule.where()}: {lit.rule.text}",),
                        f"--seconds {fe.svc.sticky_seconds} (sessionAffinityConfig.clientIP.timeoutSeconds)"))
                    return
        targets = [_target(r) for r in results]
        needs = [self._recent_needs(r) for r in results]
        for t in e.targets:
            endpoint = str(t)
            reaching = [r for r, target in zip(results, targets, strict=True) if target == endpoint]
            names = sorted({n for r in reaching for n in r.state.sets})
            if not names:
                self.violations.append(Violation(
                    "4 affinity", fe.describe(), f"no path to {t} records the client (-m recent --set)",
                    "any client", self.rule_path(reaching[0]) if reaching else (),
                    f"the endpoint chain of {t} sets a recent list"))
                return
            others = [self.t.not_(self.pkt.recent(n)) for n in lists - {names[0]}]
            assume = self.t.and_([self.pkt.recent(names[0]), *others])
            bad: list[Member] = []
            for r, cond, target, (present, absent) in zip(results, exprs, targets, needs, strict=True):
                # A path whose list checks need another state of the lists than "in names[0] only" is not taken.
                if (target != endpoint or r.verdict != "accept") and not (present - {names[0]} or names[0] in absent):
                    bad.append((cond, r, None))
            found = self._first_model(conj([fexpr, e.guard, assume]), [(self.t.true, bad)] if bad else [])
            if found is not None:
                model, r, _ = found
                self.report("4 affinity", fe.describe(),
                            f"a client that reached {t} before (recent list {names[0]}) is sent elsewhere",
                            model, r, f"DNAT to {t}")
                return

    def _recent_needs(self, r: PathResult) -> tuple[frozenset[str], frozenset[str]]:
        """The recent lists the source must be in, and must not be in, for the path's list literals to hold.

        A literal asserting a list check needs its outcome; refuting a check that is the rule's whole residual
        match needs the opposite outcome (refuting a check with other atoms needs nothing of the list by itself).
        """
        present: set[str] = set()
        absent: set[str] = set()
        for lit in r.state.lits:
            rec = lit.match.recent
            if rec is None:
                continue
            if lit.positive:
                (absent if rec.negated else present).add(rec.name)
            else:
                bare = self._bare.get(id(lit.match))  # literals, and so their matches, live as long as the explorer
                if bare is None:
                    bare = self._bare[id(lit.match)] = lit.match == Match(recent=rec)
                if bare:
                    (present if rec.negated else absent).add(rec.name)
        return frozenset(present), frozenset(absent)

    def check_isolation(self, fronts: list[Frontend]) -> None:
        """Property 2: packets to anything but a frontend are neither rewritten nor marked for masquerade."""
        exact = {(Net(f"{f.dst}/32"), f.dport, f.key.protocol.lower()) for f in fronts if f.dst is not None}
        nodeports = {(f.dport, f.key.protocol.lower()) for f in fronts if f.dst is None}
        by_port: dict[int, list[Frontend]] = {}
        for f in fronts:
            by_port.setdefault(f.dport, []).append(f)

        def prune(p: Pins) -> bool:
            if p.dport is None or p.proto is None:
                return False
            if p.dst is not None and (p.dst, p.dport, p.proto) in exact:
                return True
            local = p.dst_local or (p.dst is not None and self.explorer.is_local(p.dst))
            return bool(local) and (p.dport, p.proto) in nodeports

        ex = self.explorer
        # IPVS mode: a packet rejected or dropped before any DNAT is none of isolation's business (below), so such
        # paths are not built at all.
        pruning: Callable[[Pins], bool] = DropsIgnored(prune) if self.opts.mode == "ipvs" else prune
        results = ex.paths(PREROUTING, State(), pruning) + ex.paths(OUTPUT, State(), pruning)
        self.paths += len(results)
        # Grouped by destination port and, where the path pins it to one address, destination: a frontend at
        # another address cannot hold for such a packet, so it is left out of the group's `outside` (without this
        # the query grows with the square of the frontends sharing a port: IPVS mode's expanded sets pin every
        # cluster IP).
        candidates: dict[tuple[int | None, Net | None], list[Member]] = {}
        for r in results:
            if r.state.dnat is None and not r.masquerade:
                continue
            if self.opts.mode == "ipvs" and r.state.dnat is None and r.verdict in ("drop", "reject"):
                # IPVS mode marks every local destination's NodePort (KUBE-NODE-PORT on --dst-type LOCAL, which
                # holds the kube-ipvs0 addresses) and KUBE-IPVS-FILTER then rejects it: nothing leaves the node.
                continue
            if prune(r.state.pins):
                continue  # its destination is a frontend's (the pins were completed after the walk's last prune)
            pinned = r.state.pins.dst if r.state.pins.dst is not None and r.state.pins.dst.prefixlen == 32 else None
            if (self.opts.mode == "ipvs" and pinned is not None and r.state.dnat is None
                    and any(rule.match.src is not None and not rule.match.src.negated
                            and rule.match.src.network == pinned for rule in r.state.path)):
                continue  # source and destination are one address (KUBE-LOOP-BACK): excluded by `outside` below
            candidates.setdefault((r.state.pins.dport, pinned), []).append((ex.path_conds([r], free=True)[0], r, None))
        merged: dict[tuple[int | None, tuple[int, ...]], tuple[list[Frontend], list[Member]]] = {}
        for (dport, pinned), members in candidates.items():
            near = by_port.get(dport, []) if dport is not None else fronts
            if pinned is not None:
                near = [f for f in near if f.dst is None or Net(f"{f.dst}/32") == pinned]
            merged.setdefault((dport, tuple(id(f) for f in near)), (near, []))[1].extend(members)
        groups: list[Group] = []
        for near, members in merged.values():
            outside = self.t.and_([self.t.not_(self.frontend_expr(f)) for f in near])
            if self.opts.mode == "ipvs":
                # KUBE-LOOP-BACK masquerades what a local endpoint sends to its own address and port wherever
                # that comes from; such a packet never crosses the node (it stays in the pod's namespace).
                outside = self.t.and_([outside, self.t.not_(self.t.eq(self.pkt.src, self.pkt.dst)),
                                       self.t.not_(self.ipvs_marked_by_source())])
            groups.append((outside, members))
        found = self._first_model(None, groups)
        if found is not None:
            model, r, _ = found
            what = "rewritten" if r.state.dnat else "masqueraded"
            self.report("2 isolation", "a destination that is no Service frontend", f"the packet is {what}",
                        model, r, "not rewritten, not masqueraded")


def _paths_disjunction(conds: list[Cond]) -> z3.BoolRef:
    """⋁ (sender ∧ literals) over the paths, as ⋁ over senders of (sender ∧ ⋁ literals): each shared term once."""
    senders: dict[int, z3.BoolRef] = {}
    bodies: dict[int, dict[int, z3.BoolRef] | None] = {}  # None: some path of this sender has no literal (true)
    for hook, body in conds:
        senders[id(hook)] = hook
        known = bodies.setdefault(id(hook), {})
        if known is None:
            continue
        if body is None:
            bodies[id(hook)] = None
        else:
            known[id(body)] = body
    return disj([senders[k] if b is None else conj([senders[k], disj(list(b.values()))]) for k, b in bodies.items()])


def _target(r: PathResult) -> str | None:
    return f"{r.state.dnat[0]}:{r.state.dnat[1]}" if r.state.dnat else None




def _holds(m: Match, *, src: int, dst: int, dport: int, proto: str, local_nets: tuple[Net, ...],
           atoms: frozenset[str]) -> bool:
    return concrete_holds(m, src, dst, dport, proto, local_nets, frozenset(), atoms)


@contextlib.contextmanager
def _cycle_collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector, as it was before afterwards.

    The explorer's memo keeps hundreds of thousands of acyclic objects (states, literals, z3 references) alive,
    and every full collection walks them all again: a sixth of the run time at 1,000 services. Reference
    counting frees everything the verifier drops; any cycle left is collected once collection resumes.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM while verifying: `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def verify(cluster: Cluster, opts: ProxierOptions, dump: Dump, strict: bool = False,
           progress: Callable[[int, int], None] | None = None, stop: Callable[[], int] | None = None) -> Report:
    """Check the five properties of kube-proxy's promises on this node.

    The promises are checked on kube-proxy's own rules (chains KUBE-*, the jumps to them, synthesized jumps):
    the report's violations are kube-proxy's. Where the dump holds rules of other components (CNIs, Docker,
    firewalls), the whole ruleset is checked again; what fails only there is reported as interference, naming
    the rules that decided it (a DROP before KUBE-SERVICES, a DNAT shadowing a ClusterIP, a CNI's own
    masquerade). With `strict`, interference fails the verdict too. `progress(done, total)` is called per
    frontend. An Interrupted raised meanwhile (by a signal handler), or a signal number returned by `stop` (asked
    after every frontend: a handler's exception can be swallowed where Python ignores exceptions, in a finalizer
    say), ends verification with a partial report.
    """
    with _cycle_collection_paused():
        explorers: list[Explorer] = []
        try:
            return _verify(cluster, opts, dump, strict, progress, stop, explorers)
        finally:
            for explorer in explorers:
                explorer.release()


def warnings_of(cluster: Cluster, opts: ProxierOptions) -> list[str]:
    """Manifests that say less than they seem to: Services whose ports match no EndpointSlice port, slices of
    no Service."""
    out: list[str] = []
    eps_map = endpoints_map(cluster, opts.node_name)
    slices: dict[tuple[str, str], list[str]] = {}
    for sl in cluster.slices:
        slices.setdefault((sl.namespace, sl.service_name), []).extend(
            f"{p.name or '(unnamed)'}/{p.protocol}" for p in sl.ports)
    services = {(svc.namespace, svc.name) for svc in cluster.services}
    for key, svc, port in service_ports(cluster):
        if key in eps_map:
            continue
        named = slices.get((svc.namespace, svc.name))
        if named is None:
            out.append(f"warning: {key} ({key.protocol}): no EndpointSlice is labelled "
                       f"kubernetes.io/service-name={svc.name} in namespace {svc.namespace}: no endpoints")
        else:
            out.append(f"warning: {key} ({key.protocol}): its EndpointSlices' ports "
                       f"({', '.join(sorted(set(named))) or 'none'}) match no port named "
                       f"{port.name or '(unnamed)'!r} of protocol {key.protocol}: no endpoints")
    for ns, name in sorted(set(slices) - services):
        out.append(f"warning: EndpointSlices of {ns}/{name} name a Service the manifests do not hold")
    return out


def _verify(cluster: Cluster, opts: ProxierOptions, dump: Dump, strict: bool,
            progress: Callable[[int, int], None] | None, stop: Callable[[], int] | None,
            explorers: list[Explorer]) -> Report:
    foreign = foreign_parts(dump)
    ports = service_ports(cluster)
    fronts_total = sum(len(frontends_of(key, svc, port, opts)) for key, svc, port in ports) * (2 if foreign else 1)
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], fronts_total)
        signum = stop() if stop is not None else 0
        if signum:
            raise Interrupted(signum)

    v: Verifier | None = None
    interrupted = 0
    fronts: list[Frontend] = []
    endpoints: set[str] = set()
    services: set[str] = set()
    interference: list[Violation] = []
    paths = 0
    opaque: dict[str, int] = {}
    try:
        v = Verifier(cluster, opts, kube_only(dump) if foreign else dump)
        v.explorer.keep_kube_walks = bool(foreign)  # the second pass shares them
        explorers.append(v.explorer)
        fronts, endpoints, services = _check_all(v, cluster, opts, tick)
        v.check_isolation(fronts)
        paths = v.paths
        if foreign:
            whole = Verifier(cluster, opts, dump, base=v)
            explorers.append(whole.explorer)
            known = {(x.prop, x.frontend) for x in v.violations}
            try:
                _check_all(whole, cluster, opts, tick)
            finally:
                paths += whole.paths
                for x in whole.violations:
                    if (x.prop, x.frontend) in known:
                        continue
                    if x.foreign or not x.path:
                        interference.append(x)
                    else:
                        v.violations.append(x)
                opaque = whole.explorer.opaque
        else:
            opaque = v.explorer.opaque
    except (Interrupted, ctypes.ArgumentError) as exc:
        # A signal whose handler raises while z3 converts a ctypes call's arguments arrives wrapped in
        # ctypes.ArgumentError: it is the same interrupt when ``stop`` reports a signal.
        interrupted = exc.signum if isinstance(exc, Interrupted) else (stop() if stop is not None else 0)
        if not interrupted:
            raise
        if v is not None:
            paths = paths or v.paths
            opaque = v.explorer.opaque
    if v is None:
        return Report((), 0, len(ports), 0, 0, 0, Fraction(0), (), (), (), len(foreign), strict, interrupted, 0)
    ifaces = sorted({f"-i {n}" for n in v.explorer.ifaces["iif"]} | {f"-o {n}" for n in v.explorer.ifaces["oif"]})
    return Report(tuple(v.violations), len(services), len(ports), len(endpoints), len(fronts), paths,
                  v.max_deviation, tuple(interference), tuple(warnings_of(cluster, opts)),
                  tuple([*ifaces, *sorted(opaque)]), len(foreign), strict, interrupted, done[0])


def _check_all(v: Verifier, cluster: Cluster, opts: ProxierOptions,
               tick: Callable[[], None]) -> tuple[list[Frontend], set[str], set[str]]:
    eps_map = endpoints_map(cluster, opts.node_name)
    fronts: list[Frontend] = []
    endpoints: set[str] = set()
    services: set[str] = set()
    for key, svc, port in service_ports(cluster):
        services.add(svc.key)
        cat = categorize(eps_map.get(key, []), svc, port)
        endpoints |= {f"{key}->{ep}" for ep in (*cat.cluster, *cat.local)}
        for fe in frontends_of(key, svc, port, opts):
            fronts.append(fe)
            v.check_frontend(fe, cat.cluster, cat.local, cat.has_any)
            tick()
    return fronts, endpoints, services
