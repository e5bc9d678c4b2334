"""Symbolic packets through parsed iptables rules: every path, its condition (z3) and its outcome.

A path is one way a NEW packet can traverse the netfilter hooks kube-proxy uses: nat PREROUTING (packets from
pods, other nodes or outside) or nat OUTPUT (processes on this host), then filter FORWARD or INPUT (INPUT after
OUTPUT for local destinations), then nat POSTROUTING. Matches on the destination are decided concretely where
the path already pins the destination (always after DNAT); the rest (source address and type, statistic and
recent matches, unpinned destination, port, protocol) stays symbolic as z3 terms over one packet.
Builtin chains absent from a dump are synthesized with the jumps kube-proxy and kubelet install (upstream
pkg/proxy/iptables/proxier.go iptablesJumpChains and iptablesKubeletJumpChains, each prepended in turn).
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from collections.abc import Callable
from fractions import Fraction

import attrs
import z3

from checker.errors import InputError
from spec.proxy.parse import PROTOCOL_NUMBERS, Chain, Dump, Match, Rule, parse_rule

Net = ipaddress.IPv4Network


@functools.lru_cache(maxsize=65536)
def host(ip: str) -> Net:
    return Net(f"{ip}/32")
PREROUTING, OUTPUT = "PREROUTING", "OUTPUT"

# Builtin jumps in the order they end up after each EnsureRule(Prepend, ...) (last prepended first).
_SYNTHETIC = {
    ("nat", "PREROUTING"): ['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
    ("nat", "OUTPUT"): ['-m comment --comment "kubernetes service portals" -j KUBE-SERVICES'],
    ("nat", "POSTROUTING"): ['-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING'],
    ("filter", "INPUT"): [
        "-j KUBE-FIREWALL",
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" '
        "-j KUBE-EXTERNAL-SERVICES",
    ],
    ("filter", "FORWARD"): [
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" '
        "-j KUBE-EXTERNAL-SERVICES",
    ],
    ("filter", "OUTPUT"): [
        "-j KUBE-FIREWALL",
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    ],
}
_LOCAL_DST_RULE = parse_rule("routing", 0, 0, "-A ROUTING -m addrtype --dst-type LOCAL", "<routing>")


def with_builtin_jumps(dump: Dump) -> Dump:
    """Add the builtin chains kube-proxy links its chains from, when the dump does not declare them."""
    tables = {t: dict(chains) for t, chains in dump.tables.items()}
    for (table, chain), lines in _SYNTHETIC.items():
        chains = tables.setdefault(table, {})
        if chain in chains:
            continue
        rules = []
        for text in lines:
            target = text.rsplit("-j ", 1)[1]
            if target in chains:
                rules.append(parse_rule(table, len(rules), 0, f"-A {chain} {text}", "<synthesized>"))
        chains[chain] = Chain(chain, "ACCEPT", tuple(rules))
    return Dump(tables)


@attrs.frozen
class Pins:
    """What the path so far fixes about the original destination."""

    dst: Net | None = None
    dst_local: bool | None = None
    dport: int | None = None
    proto: str | None = None


@attrs.frozen
class Lit:
    """A path-condition literal: the symbolic rest of `rule`'s match, asserted or refuted."""

    rule: Rule
    match: Match
    positive: bool


@attrs.frozen
class State:
    lits: tuple[Lit, ...] = ()
    pins: Pins = Pins()
    mark: int = 0
    dnat: tuple[str, int] | None = None
    path: tuple[Rule, ...] = ()
    sets: tuple[str, ...] = ()


@attrs.frozen
class PathResult:
    hook: str
    state: State
    verdict: str  # "accept", "drop" or "reject"
    masquerade: bool


def conj(exprs: list[z3.BoolRef]) -> z3.BoolRef:
    """z3.And without the Python-side coercion (it dominates the cost for long path conditions)."""
    if len(exprs) == 1:
        return exprs[0]
    ctx = exprs[0].ctx
    arr = (z3.Ast * len(exprs))(*[e.as_ast() for e in exprs])
    return z3.BoolRef(z3.Z3_mk_and(ctx.ref(), len(exprs), arr), ctx)


def disj(exprs: list[z3.BoolRef]) -> z3.BoolRef:
    if len(exprs) == 1:
        return exprs[0]
    ctx = exprs[0].ctx
    arr = (z3.Ast * len(exprs))(*[e.as_ast() for e in exprs])
    return z3.BoolRef(z3.Z3_mk_or(ctx.ref(), len(exprs), arr), ctx)


class Packet:
    """The symbolic packet: z3 terms for its header fields and for the random and recent matches."""

    def __init__(self) -> None:
        self.src = z3.BitVec("src", 32)
        self.dst = z3.BitVec("dst", 32)
        self.dport = z3.BitVec("dport", 16)
        self.sport = z3.BitVec("sport", 16)
        self.proto = z3.BitVec("proto", 8)

    @staticmethod
    def in_net(var: z3.BitVecRef, net: Net) -> z3.BoolRef:
        mask = int(net.netmask)
        return (var & mask) == int(net.network_address)

    @staticmethod
    def random(rule: Rule) -> z3.BoolRef:
        return z3.Bool(f"statistic:{rule.table}/{rule.chain}#{rule.index}")

    @staticmethod
    def recent(name: str) -> z3.BoolRef:
        return z3.Bool(f"recent:{name}")


class Explorer:
    """Enumerates the paths of symbolic packets through one dump."""

    def __init__(self, dump: Dump, local_nets: tuple[Net, ...]) -> None:
        self.dump = with_builtin_jumps(dump)
        self.local_nets = local_nets
        self.pkt = Packet()
        self._index: dict[tuple[str, str, str, object], list[int]] = {}
        self._exprs: dict[tuple[Match, bool, str, str, int], z3.BoolRef] = {}
        self._locals: dict[str, z3.BoolRef] = {}
        self._hooks: dict[str, z3.BoolRef] = {}

    # -- concrete evaluation -------------------------------------------------------------------------------------
    def is_local(self, net: Net) -> bool | None:
        if any(net.subnet_of(n) for n in self.local_nets):
            return True
        if not any(net.overlaps(n) for n in self.local_nets):
            return False
        return None

    def residual(self, m: Match, st: State) -> Match | bool:
        """Decide what the state decides; return True, False or the still-symbolic part of the match."""
        if m.mark is not None and ((st.mark & m.mark.mask) == m.mark.value) == m.mark.negated:
            return False
        if m.ctstate is not None:
            present = {"NEW", "DNAT"} if st.dnat else {"NEW"}
            if bool(m.ctstate.states & present) == m.ctstate.negated:
                return False
        rest: dict[str, object] = {}
        if m.recent is not None and m.recent.mode != "set":
            rest["recent"] = m.recent
        if m.probability is not None:
            rest["probability"] = m.probability
        for key in ("src", "src_type", "sport"):
            if getattr(m, key) is not None:
                rest[key] = getattr(m, key)
        if m.proto is not None:
            if st.pins.proto is None:
                rest["proto"] = m.proto
            elif (st.pins.proto == m.proto.value) == m.proto.negated:
                return False
        dst: Net | None = None
        if st.dnat is not None:
            dst = host(st.dnat[0])
        elif st.pins.dst is not None and st.pins.dst.prefixlen == 32:
            dst = st.pins.dst
        if m.dst is not None:
            verdict = None
            known = dst if dst is not None else st.pins.dst
            if known is not None:
                if known.subnet_of(m.dst.network):
                    verdict = True
                elif not known.overlaps(m.dst.network):
                    verdict = False
            if verdict is None:
                rest["dst"] = m.dst
            elif verdict == m.dst.negated:
                return False
        if m.dst_type is not None:
            local = self.is_local(dst) if dst is not None else st.pins.dst_local
            if local is None and st.pins.dst is not None:
                local = self.is_local(st.pins.dst)
            if local is None:
                rest["dst_type"] = m.dst_type
            elif local == m.dst_type.negated:
                return False
        if m.dport is not None:
            port = st.dnat[1] if st.dnat is not None else st.pins.dport
            if port is None:
                rest["dport"] = m.dport
            elif (m.dport.lo <= port <= m.dport.hi) == m.dport.negated:
                return False
        return Match(**rest) if rest else True  # type: ignore[arg-type]

    def assume(self, st: State, rule: Rule, res: Match) -> State:
        pins = st.pins
        if st.dnat is None:
            if (res.dst is not None and not res.dst.negated
                    and (pins.dst is None or res.dst.network.subnet_of(pins.dst))):
                pins = attrs.evolve(pins, dst=res.dst.network)
            if res.dst_type is not None:
                pins = attrs.evolve(pins, dst_local=not res.dst_type.negated)
            if res.dport is not None and not res.dport.negated and res.dport.lo == res.dport.hi:
                pins = attrs.evolve(pins, dport=res.dport.lo)
        if res.proto is not None and not res.proto.negated:
            pins = attrs.evolve(pins, proto=res.proto.value)
        return attrs.evolve(st, lits=(*st.lits, Lit(rule, res, True)), pins=pins)

    def refute(self, st: State, rule: Rule, res: Match) -> State:
        pins = st.pins
        if st.dnat is None and res == Match(dst_type=res.dst_type) and res.dst_type is not None:
            pins = attrs.evolve(pins, dst_local=res.dst_type.negated)
        return attrs.evolve(st, lits=(*st.lits, Lit(rule, res, False)), pins=pins)

    # -- chain walking ---------------------------------------------------------------------------------------------
    def _candidates(self, table: str, chain: Chain, st: State) -> list[int] | None:
        """Indices of rules that might match: rules pinned to another destination host or port are skipped."""
        dst: Net | None = host(st.dnat[0]) if st.dnat else st.pins.dst
        if dst is not None and dst.prefixlen == 32:
            key: tuple[str, object] = ("dst", dst)
        elif st.dnat is None and st.pins.dport is not None:
            key = ("dport", st.pins.dport)
        else:
            return None
        cache_key = (table, chain.name, key[0], key[1])
        found = self._index.get(cache_key)
        if found is None:
            found = []
            for rule in chain.rules:
                m = rule.match
                if key[0] == "dst":
                    specific = m.dst is not None and not m.dst.negated and m.dst.network.prefixlen == 32
                    if specific and m.dst.network != key[1]:  # type: ignore[union-attr]
                        continue
                else:
                    specific = m.dport is not None and not m.dport.negated
                    if specific and not m.dport.lo <= key[1] <= m.dport.hi:  # type: ignore[union-attr,operator]
                        continue
                found.append(rule.index)
            self._index[cache_key] = found
        return found

    def run_chain(self, table: str, name: str, st: State, prune: Callable[[Pins], bool] | None = None,
                  depth: int = 0) -> list[tuple[State, str]]:
        chain = self.dump.chain(table, name)
        if chain is None:
            raise InputError(f"rules: a rule jumps to chain {name}, which table {table} does not declare")
        if depth > 50:
            raise InputError(f"rules: chain {name} in table {table} is part of a jump loop")
        out: list[tuple[State, str]] = []
        stack: list[tuple[int, State]] = [(0, st)]
        while stack:
            i, st = stack.pop()
            cands = self._candidates(table, chain, st)
            while True:
                if cands is not None:
                    pos = bisect.bisect_left(cands, i)
                    i = cands[pos] if pos < len(cands) else len(chain.rules)
                if i >= len(chain.rules):
                    out.append((st, "return"))
                    break
                rule = chain.rules[i]
                res = self.residual(rule.match, st)
                if res is False:
                    i += 1
                    continue
                if res is not True:
                    stack.append((i + 1, self.refute(st, rule, res)))
                    before = st.pins
                    st = self.assume(st, rule, res)
                    if prune is not None and st.pins != before and prune(st.pins):
                        break
                    cands = self._candidates(table, chain, st)
                recent = rule.match.recent
                sets = (*st.sets, recent.name) if recent is not None and recent.mode == "set" else st.sets
                st = attrs.evolve(st, path=(*st.path, rule), sets=sets)
                target = rule.target
                if target is None:
                    i += 1
                    continue
                if target.chain:
                    for sub, kind in self.run_chain(table, target.name, st, prune, depth + 1):
                        if kind == "return":
                            stack.append((i + 1, sub))
                        else:
                            out.append((sub, kind))
                    break
                if target.name == "MARK":
                    op, value, mask = target.mark_op  # type: ignore[misc]
                    mark = {"or": st.mark | value, "xor": st.mark ^ value, "and": st.mark & value}.get(
                        op, (st.mark & ~mask) ^ value)
                    st = attrs.evolve(st, mark=mark & 0xFFFFFFFF)
                    i += 1
                    continue
                if target.name == "DNAT":
                    ip, _, port = str(target.to).partition(":")
                    dnat_port = int(port) if port else (st.pins.dport or 0)
                    out.append((attrs.evolve(st, dnat=(ip, dnat_port)), "dnat"))
                    break
                out.append((st, target.name.lower()))
                break
        return out

    def _filter(self, chains: list[str], st: State) -> list[tuple[State, str]]:
        """Run filter builtin chains in sequence; the first DROP or REJECT decides."""
        results: list[tuple[State, str]] = []
        pending = [(0, st)]
        while pending:
            k, st = pending.pop()
            if k == len(chains):
                results.append((st, "accept"))
                continue
            chain = self.dump.chain("filter", chains[k])
            for sub, kind in self.run_chain("filter", chains[k], st):
                if kind in ("accept", "return"):
                    policy = chain.policy if chain is not None and kind == "return" else "ACCEPT"
                    if policy == "DROP":
                        results.append((sub, "drop"))
                    else:
                        pending.append((k + 1, sub))
                else:
                    results.append((sub, kind))
        return results

    def _local_dst(self, st: State) -> list[tuple[State, bool]]:
        if st.dnat is not None:
            return [(st, bool(self.is_local(host(st.dnat[0]))))]
        known = st.pins.dst_local
        if known is None and st.pins.dst is not None:
            known = self.is_local(st.pins.dst)
        if known is not None:
            return [(st, known)]
        res = _LOCAL_DST_RULE.match
        return [(self.assume(st, _LOCAL_DST_RULE, res), True), (self.refute(st, _LOCAL_DST_RULE, res), False)]

    def paths(self, hook: str, start: State, prune: Callable[[Pins], bool] | None = None) -> list[PathResult]:
        """All paths of a NEW packet entering at `hook` (PREROUTING or OUTPUT)."""
        out: list[PathResult] = []
        for st, kind in self.run_chain("nat", hook, start, prune):
            if kind in ("drop", "reject"):
                out.append(PathResult(hook, st, kind, False))
                continue
            for st2, local in self._local_dst(st):
                if hook == PREROUTING:
                    chains = ["INPUT" if local else "FORWARD"]
                else:
                    chains = ["OUTPUT", "INPUT"] if local else ["OUTPUT"]
                for st3, verdict in self._filter(chains, st2):
                    if verdict != "accept":
                        out.append(PathResult(hook, st3, verdict, False))
                        continue
                    for st4, post in self.run_chain("nat", "POSTROUTING", st3):
                        out.append(PathResult(hook, st4, "accept", post in ("masquerade", "snat")))
        return out

    # -- z3 --------------------------------------------------------------------------------------------------------
    def match_expr(self, m: Match, rule: Rule, dnat: tuple[str, int] | None) -> z3.BoolRef:
        p = self.pkt
        atoms: list[z3.BoolRef] = []

        def neg(expr: z3.BoolRef, negated: bool) -> z3.BoolRef:
            return z3.Not(expr) if negated else expr

        if m.src is not None:
            atoms.append(neg(p.in_net(p.src, m.src.network), m.src.negated))
        if m.src_type is not None:
            atoms.append(neg(self.local_expr(p.src), m.src_type.negated))
        if m.dst is not None:
            atoms.append(neg(p.in_net(p.dst, m.dst.network), m.dst.negated))
        if m.dst_type is not None:
            atoms.append(neg(self.local_expr(p.dst), m.dst_type.negated))
        if m.dport is not None:
            inside = z3.And(z3.UGE(p.dport, m.dport.lo), z3.ULE(p.dport, m.dport.hi))
            atoms.append(neg(inside, m.dport.negated))
        if m.sport is not None:
            inside = z3.And(z3.UGE(p.sport, m.sport.lo), z3.ULE(p.sport, m.sport.hi))
            atoms.append(neg(inside, m.sport.negated))
        if m.proto is not None:
            atoms.append(neg(p.proto == PROTOCOL_NUMBERS[m.proto.value], m.proto.negated))
        if m.recent is not None:
            atoms.append(neg(p.recent(m.recent.name), m.recent.negated))
        if m.probability is not None:
            atoms.append(p.random(rule))
        return z3.And(*atoms) if len(atoms) != 1 else atoms[0]

    def local_expr(self, var: z3.BitVecRef) -> z3.BoolRef:
        key = str(var)
        cached = self._locals.get(key)
        if cached is None:
            cached = self._locals[key] = z3.Or(*[self.pkt.in_net(var, n) for n in self.local_nets])
        return cached

    def lit_expr(self, lit: Lit) -> z3.BoolRef:
        key = (lit.match, lit.positive, lit.rule.table, lit.rule.chain, lit.rule.index)
        expr = self._exprs.get(key)
        if expr is None:
            body = self.match_expr(lit.match, lit.rule, None)
            expr = body if lit.positive else z3.Not(body)
            self._exprs[key] = expr
        return expr

    def hook_expr(self, hook: str) -> z3.BoolRef:
        cached = self._hooks.get(hook)
        if cached is None:
            pkt, local = self.pkt, self.local_expr(self.pkt.src)
            if hook == OUTPUT:
                # A host process talking to a loopback address has a loopback source.
                loopback = Net("127.0.0.0/8")
                cached = z3.And(local, z3.Implies(pkt.in_net(pkt.dst, loopback), pkt.in_net(pkt.src, loopback)))
            else:
                cached = z3.Not(local)
            self._hooks[hook] = cached
        return cached

    def path_expr(self, result: PathResult) -> z3.BoolRef:
        return conj([self.hook_expr(result.hook), *[self.lit_expr(lit) for lit in result.state.lits]])


def path_probability(result: PathResult, holds: Callable[[Match], bool]) -> Fraction:
    """Probability of the path's statistic choices for a packet whose other matches `holds` decides."""
    prob = Fraction(1)
    for lit in result.state.lits:
        m = lit.match
        p = m.probability_value
        others = holds(m)  # `holds` ignores the statistic match
        if p is None:
            if others != lit.positive:
                return Fraction(0)
        elif lit.positive:
            if not others:
                return Fraction(0)
            prob *= p
        elif others:
            prob *= 1 - p
    return prob


def concrete_holds(m: Match, src: int, dst: int, dport: int, proto: str, local_nets: tuple[Net, ...],
                   recent: frozenset[str]) -> bool:
    """Evaluate the non-random atoms of a residual match on a concrete packet."""
    def in_net(addr: int, net: Net) -> bool:
        return (addr & int(net.netmask)) == int(net.network_address)

    def local(addr: int) -> bool:
        return any(in_net(addr, n) for n in local_nets)

    checks = []
    if m.src is not None:
        checks.append(in_net(src, m.src.network) != m.src.negated)
    if m.src_type is not None:
        checks.append(local(src) != m.src_type.negated)
    if m.dst is not None:
        checks.append(in_net(dst, m.dst.network) != m.dst.negated)
    if m.dst_type is not None:
        checks.append(local(dst) != m.dst_type.negated)
    if m.dport is not None:
        checks.append((m.dport.lo <= dport <= m.dport.hi) != m.dport.negated)
    if m.proto is not None:
        checks.append((m.proto.value == proto) != m.proto.negated)
    if m.recent is not None:
        checks.append((m.recent.name in recent) != m.recent.negated)
    return all(checks)

