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
from typing import cast

import attrs
import z3

from checker.errors import InputError
from spec.proxy.parse import PROTOCOL_NUMBERS, Chain, Dump, Match, Rule, parse_rule
from spec.proxy.terms import Terms

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
        rules: list[Rule] = []
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


NO_PINS = Pins()


@attrs.frozen(eq=False)
class Lit:
    """A path-condition literal: the symbolic rest of `rule`'s match, asserted or refuted, and its z3 term.

    `free` is the literal with its `statistic` choice existentially eliminated (None: true). A rule's random
    choice is its own z3 Boolean, so where a path meets the rule once, the path is feasible for a packet exactly
    when the conjunction of the `free` forms is: a chosen `r ∧ X` leaves X, a refused `¬(r ∧ X)` leaves nothing.
    """

    rule: Rule
    match: Match
    positive: bool
    body: z3.BoolRef  # the match, whichever way
    expr: z3.BoolRef
    ast: object  # expr.as_ast(), kept for building conjunctions without Python-side coercion
    free: z3.BoolRef | None
    free_ast: object


class State:
    """A path prefix: its literals, pins, packet mark, DNAT (ip, port), rules taken and recent lists set.

    A plain slotted class rather than attrs: millions are built, and attrs.evolve dominated the cost.
    Treated as immutable.
    """

    __slots__ = ("lits", "pins", "mark", "dnat", "path", "sets")

    def __init__(self, lits: tuple[Lit, ...] = (), pins: Pins = NO_PINS, mark: int = 0,
                 dnat: tuple[str, int] | None = None, path: tuple[Rule, ...] = (), sets: tuple[str, ...] = ()) -> None:
        self.lits = lits
        self.pins = pins
        self.mark = mark
        self.dnat = dnat
        self.path = path
        self.sets = sets


@attrs.frozen
class Reads:
    """What the rules of a chain, and of the chains it jumps to, can read of the destination."""

    hosts: frozenset[Net]  # positive /32 destination matches (the candidate index skips those of other hosts)
    nets: tuple[Net, ...]  # every other destination match
    dst_type: bool
    ports: frozenset[int]  # destination ports matched singly
    ranges: tuple[tuple[int, int], ...]  # destination port ranges

    @property
    def destination(self) -> bool:
        return bool(self.hosts or self.nets or self.dst_type or self.ports or self.ranges)

    def view(self, dnat: tuple[str, int], is_local: Callable[[Net], bool | None]) -> tuple[object, ...]:
        """The class of DNAT destinations this chain cannot tell apart: a walk is the same for all of them."""
        addr = host(dnat[0])
        port = dnat[1]
        return (addr if addr in self.hosts else None,
                tuple(i for i, n in enumerate(self.nets) if addr.subnet_of(n)),
                is_local(addr) if self.dst_type else None,
                port if port in self.ports or any(lo <= port <= hi for lo, hi in self.ranges) else None)


Cond = tuple[z3.BoolRef, z3.BoolRef | None]  # a path's sender term and the conjunction of its literals (None: true)


@attrs.frozen
class PathResult:
    hook: str
    state: State
    verdict: str  # "accept", "drop" or "reject"
    masquerade: bool


def conj(exprs: list[z3.BoolRef]) -> z3.BoolRef:
    """z3.And of a non-empty list, without z3's Python-side coercion (see terms.py)."""
    if len(exprs) == 1:
        return exprs[0]
    ctx = exprs[0].ctx
    arr = (z3.Ast * len(exprs))(*[e.as_ast() for e in exprs])
    return z3.BoolRef(z3.Z3_mk_and(ctx.ref(), len(exprs), arr), ctx)


def disj(exprs: list[z3.BoolRef]) -> z3.BoolRef:
    """z3.Or of a non-empty list, as conj."""
    if len(exprs) == 1:
        return exprs[0]
    ctx = exprs[0].ctx
    arr = (z3.Ast * len(exprs))(*[e.as_ast() for e in exprs])
    return z3.BoolRef(z3.Z3_mk_or(ctx.ref(), len(exprs), arr), ctx)


class Packet:
    """The symbolic packet: z3 terms for its header fields and for the random and recent matches."""

    def __init__(self) -> None:
        self.terms = Terms()
        self.src = z3.BitVec("src", 32)
        self.dst = z3.BitVec("dst", 32)
        self.dport = z3.BitVec("dport", 16)
        self.sport = z3.BitVec("sport", 16)
        self.proto = z3.BitVec("proto", 8)

    def in_net(self, var: z3.BitVecRef, net: Net) -> z3.BoolRef:
        return self.terms.in_net(var, net)

    def random(self, rule: Rule) -> z3.BoolRef:
        return self.terms.bool_const(f"statistic:{rule.table}/{rule.chain}#{rule.index}")

    def recent(self, name: str) -> z3.BoolRef:
        return self.terms.bool_const(f"recent:{name}")


class Explorer:
    """Enumerates the paths of symbolic packets through one dump.

    A chain walk depends only on what the chain, and the chains it jumps to, read of the entry state: the mark,
    the DNAT, the pins (literals, rule path and recent lists are only appended to). So each walk is computed
    once per class of entry states the chain cannot tell apart, and its outcomes, as deltas, are replayed for
    every path prefix that enters the chain in that class:
    - before DNAT, chains that match on no destination (KUBE-SEP-, KUBE-MARK-MASQ) are walked once for every
      frontend; the others (KUBE-SERVICES, KUBE-SVC-, ...) once per frontend, for both kinds of sender;
    - after DNAT the DNAT address and port decide the destination matches: chains are walked once per class of
      destinations they treat alike (Reads.view), and so is everything after nat PREROUTING / OUTPUT (paths()).
    A rule whose two branches lead on in the same state is not branched on (_no_effect).
    """

    def __init__(self, dump: Dump, local_nets: tuple[Net, ...]) -> None:
        self.dump = with_builtin_jumps(dump)
        self.local_nets = local_nets
        self.pkt = Packet()
        self._index: dict[tuple[str, str, str, object], list[int]] = {}
        self._chain_indexes: dict[tuple[str, str, str], tuple[dict[object, list[int]], list[int]]] = {}
        self._lits: dict[tuple[int, bool, tuple[bool, ...]], Lit] = {}
        self._locals: dict[str, z3.BoolRef] = {}
        self._hooks: dict[str, z3.BoolRef] = {}
        self._local_cache: dict[Net, bool | None] = {}
        # Walks keyed by what the chain can read of the entry state. Shared walks hold the entry DNAT they were
        # computed with; walks keyed by a frontend's pins are dropped by forget().
        self._walks: dict[tuple[object, ...], tuple[tuple[str, int] | None, list[tuple[State, str]]]] = {}
        self._pinned_walks: dict[tuple[object, ...], list[tuple[State, str]]] = {}
        self._reads: dict[tuple[str, str], Reads] = {}
        self._views: dict[tuple[str, str, tuple[str, int]], tuple[object, ...]] = {}
        self._tails: dict[tuple[object, ...], tuple[tuple[str, int] | None, list[PathResult]]] = {}
        # A DNAT without a port takes the pinned port; only then may a walk after DNAT depend on more pins.
        self._dnat_reads_pins = any(
            r.target is not None and r.target.name == "DNAT" and ":" not in str(r.target.to)
            for chains in self.dump.tables.values() for c in chains.values() for r in c.rules)

    # -- concrete evaluation -------------------------------------------------------------------------------------
    def is_local(self, net: Net) -> bool | None:
        try:
            return self._local_cache[net]
        except KeyError:
            pass
        verdict: bool | None = None
        if any(net.subnet_of(n) for n in self.local_nets):
            verdict = True
        elif not any(net.overlaps(n) for n in self.local_nets):
            verdict = False
        self._local_cache[net] = verdict
        return verdict

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
        if m.src is not None:
            rest["src"] = m.src
        if m.src_type is not None:
            rest["src_type"] = m.src_type
        if m.sport is not None:
            rest["sport"] = m.sport
        pins = st.pins
        if m.proto is not None:
            if pins.proto is None:
                rest["proto"] = m.proto
            elif (pins.proto == m.proto.value) == m.proto.negated:
                return False
        dst: Net | None = None
        if st.dnat is not None:
            dst = host(st.dnat[0])
        elif pins.dst is not None and pins.dst.prefixlen == 32:
            dst = pins.dst
        if m.dst is not None:
            verdict = None
            known = dst if dst is not None else pins.dst
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
            local = self.is_local(dst) if dst is not None else pins.dst_local
            if local is None and pins.dst is not None:
                local = self.is_local(pins.dst)
            if local is None:
                rest["dst_type"] = m.dst_type
            elif local == m.dst_type.negated:
                return False
        if m.dport is not None:
            port = st.dnat[1] if st.dnat is not None else pins.dport
            if port is None:
                rest["dport"] = m.dport
            elif (m.dport.lo <= port <= m.dport.hi) == m.dport.negated:
                return False
        return Match(**rest) if rest else True  # type: ignore[arg-type]

    def lit(self, rule: Rule, res: Match, positive: bool) -> Lit:
        """The literal asserting (or refuting) `res`, a residual() of `rule`'s match; one object per form."""
        # residual() keeps some of the rule's own match fields unchanged: which ones identifies `res` (cheaper
        # to hash than the Match with its networks).
        kept = (res.src is not None, res.dst is not None, res.proto is not None, res.dport is not None,
                res.sport is not None, res.src_type is not None, res.dst_type is not None, res.recent is not None,
                res.probability is not None)
        key = (id(rule), positive, kept)
        found = self._lits.get(key)
        if found is None:
            other = self._lits.get((id(rule), not positive, kept))  # the same rule's other form: same body
            body = self.match_expr(res, rule, None) if other is None else other.body
            expr = body if positive else self.pkt.terms.not_(body)
            free: z3.BoolRef | None = expr
            if res.probability is not None:
                rest = attrs.evolve(res, probability=None)
                free = self.match_expr(rest, rule, None) if positive and rest != Match() else None
            found = self._lits[key] = Lit(rule, res, positive, body, expr, expr.as_ast(), free,
                                          None if free is None else free.as_ast())
        return found

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
        return State((*st.lits, self.lit(rule, res, True)), pins, st.mark, st.dnat, st.path, st.sets)

    def refute(self, st: State, rule: Rule, res: Match) -> State:
        pins = st.pins
        if st.dnat is None and res.dst_type is not None and res == Match(dst_type=res.dst_type):
            pins = attrs.evolve(pins, dst_local=res.dst_type.negated)
        return State((*st.lits, self.lit(rule, res, False)), pins, st.mark, st.dnat, st.path, st.sets)

    # -- chain walking ---------------------------------------------------------------------------------------------
    def _candidates(self, table: str, chain: Chain, st: State) -> list[int] | None:
        """Indices of rules that might match: rules pinned to another destination host or port are skipped."""
        dst: Net | None = host(st.dnat[0]) if st.dnat else st.pins.dst
        if dst is not None and dst.prefixlen == 32:
            kind, value = "dst", cast(object, dst)
        elif st.dnat is None and st.pins.dport is not None:
            kind, value = "dport", st.pins.dport
        else:
            return None
        cache_key = (table, chain.name, kind, value)
        found = self._index.get(cache_key)
        if found is None:
            index = self._chain_index(table, chain, kind)
            found = self._index[cache_key] = sorted((*index[0].get(value, ()), *index[1]))
        return found

    def _chain_index(self, table: str, chain: Chain, kind: str) -> tuple[dict[object, list[int]], list[int]]:
        """Rules by the destination host (or single port) they are pinned to, and the rules pinned to none."""
        key = (table, chain.name, kind)
        found = self._chain_indexes.get(key)
        if found is None:
            pinned: dict[object, list[int]] = {}
            rest: list[int] = []
            for rule in chain.rules:
                m = rule.match
                if kind == "dst" and m.dst is not None and not m.dst.negated and m.dst.network.prefixlen == 32:
                    pinned.setdefault(m.dst.network, []).append(rule.index)
                elif kind == "dport" and m.dport is not None and not m.dport.negated and m.dport.lo == m.dport.hi:
                    pinned.setdefault(m.dport.lo, []).append(rule.index)
                else:
                    rest.append(rule.index)  # port ranges too: residual() decides them
            found = self._chain_indexes[key] = (pinned, rest)
        return found

    def forget(self) -> None:
        """Drop the walks keyed by pins: they belong to one frontend and are not shared."""
        self._pinned_walks.clear()

    def reads(self, table: str, name: str) -> Reads:
        """What chain `name` and the chains it jumps to read of the destination (jump loops stop the closure)."""
        found = self._reads.get((table, name))
        if found is not None:
            return found
        hosts: set[Net] = set()
        nets: list[Net] = []
        dst_type = False
        ports: set[tuple[int, int]] = set()
        seen = {name}
        todo = [name]
        while todo:
            chain = self.dump.chain(table, todo.pop())
            for rule in chain.rules if chain is not None else ():
                m = rule.match
                if m.dst is not None:
                    if not m.dst.negated and m.dst.network.prefixlen == 32:
                        hosts.add(m.dst.network)
                    elif m.dst.network not in nets:
                        nets.append(m.dst.network)
                dst_type = dst_type or m.dst_type is not None
                if m.dport is not None:
                    ports.add((m.dport.lo, m.dport.hi))
                if rule.target is not None and rule.target.chain and rule.target.name not in seen:
                    seen.add(rule.target.name)
                    todo.append(rule.target.name)
        found = self._reads[(table, name)] = Reads(
            frozenset(hosts), tuple(nets), dst_type, frozenset(lo for lo, hi in ports if lo == hi),
            tuple(sorted((lo, hi) for lo, hi in ports if lo != hi)))
        return found

    def _view(self, table: str, name: str, dnat: tuple[str, int]) -> tuple[object, ...]:
        key = (table, name, dnat)
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = self.reads(table, name).view(dnat, self.is_local)
        return view

    def run_chain(self, table: str, name: str, st: State, prune: Callable[[Pins], bool] | None = None,
                  depth: int = 0) -> list[tuple[State, str]]:
        """Every way through chain `name` from `st`: the extended states and how each left the chain.

        A walk reads the pins only through destination matches, and after DNAT not at all (the DNAT address and
        port decide them; a DNAT without a port would read the pinned port). Where it cannot read them it is
        computed once for the class of entry states it cannot tell apart and replayed with the caller's pins,
        protocol and DNAT substituted: the walk can change no pin but the protocol there, and the DNAT only by
        a DNAT rule of its own (a new tuple, told apart from the entry's by identity).
        """
        shared = prune is None and not self._dnat_reads_pins and (
            st.dnat is not None or not self.reads(table, name).destination)
        if not shared:
            key: tuple[object, ...] = (table, name, st.mark, st.dnat, st.pins, prune)
            walk = self._pinned_walks.get(key)
            if walk is None:
                walk = self._pinned_walks[key] = self._walk(table, name, State((), st.pins, st.mark, st.dnat),
                                                            prune, depth)
            if not st.lits and not st.path and not st.sets:
                return walk
            return [(State(st.lits + sub.lits, sub.pins, sub.mark, sub.dnat, st.path + sub.path, st.sets + sub.sets),
                     kind) for sub, kind in walk]
        view = None if st.dnat is None else self._view(table, name, st.dnat)
        key = (table, name, st.mark, st.dnat is None, view, st.pins.proto)
        entry = self._walks.get(key)
        if entry is None:
            entry = self._walks[key] = (st.dnat, self._walk(table, name, State((), st.pins, st.mark, st.dnat),
                                                            None, depth))
        entry_dnat, walk = entry
        out = []
        for sub, kind in walk:
            pins = st.pins if sub.pins.proto == st.pins.proto else attrs.evolve(st.pins, proto=sub.pins.proto)
            dnat = st.dnat if sub.dnat is entry_dnat else sub.dnat
            out.append((State(st.lits + sub.lits, pins, sub.mark, dnat, st.path + sub.path, st.sets + sub.sets),
                        kind))
        return out

    def _walk(self, table: str, name: str, st: State, prune: Callable[[Pins], bool] | None,
              depth: int) -> list[tuple[State, str]]:
        chain = self.dump.chain(table, name)
        if chain is None:
            raise InputError(f"rules: a rule jumps to chain {name}, which table {table} does not declare")
        if depth > 50:
            raise InputError(f"rules: chain {name} in table {table} is part of a jump loop")
        out: list[tuple[State, str]] = []
        stack: list[tuple[int, State]] = [(0, st)]
        rules = chain.rules
        while stack:
            i, st = stack.pop()
            cands = self._candidates(table, chain, st)
            while True:
                if cands is not None:
                    pos = bisect.bisect_left(cands, i)
                    i = cands[pos] if pos < len(cands) else len(rules)
                if i >= len(rules):
                    out.append((st, "return"))
                    break
                rule = rules[i]
                res = self.residual(rule.match, st)
                if res is False:
                    i += 1
                    continue
                if res is not True:
                    assumed, refuted = self.assume(st, rule, res), self.refute(st, rule, res)
                    if prune is None and self._no_effect(table, rule, st, assumed, refuted, depth):
                        i += 1
                        continue
                    stack.append((i + 1, refuted))
                    before = st.pins
                    st = assumed
                    if prune is not None and st.pins != before and prune(st.pins):
                        break
                    cands = self._candidates(table, chain, st)
                recent = rule.match.recent
                sets = (*st.sets, recent.name) if recent is not None and recent.mode == "set" else st.sets
                st = State(st.lits, st.pins, st.mark, st.dnat, (*st.path, rule), sets)
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
                    st = State(st.lits, st.pins, mark & 0xFFFFFFFF, st.dnat, st.path, st.sets)
                    i += 1
                    continue
                if target.name == "DNAT":
                    ip, _, port = str(target.to).partition(":")
                    dnat_port = int(port) if port else (st.pins.dport or 0)
                    out.append((State(st.lits, st.pins, st.mark, (ip, dnat_port), st.path, st.sets), "dnat"))
                    break
                out.append((st, target.name.lower()))
                break
        return out

    def _no_effect(self, table: str, rule: Rule, st: State, assumed: State, refuted: State, depth: int) -> bool:
        """Whether taking the rule and passing it lead on in the same state (mark, DNAT, pins, recent lists).

        Then the packets going on are those of `st` whichever way the rule's symbolic match goes, so the walk need
        not branch: as for a rule that marks for masquerade a packet already marked. Such a rule adds no literal
        and is left out of the path (it changes nothing the packet's fate depends on).
        """
        if rule.match.recent is not None and rule.match.recent.mode == "set":
            return False
        if assumed.pins != st.pins or refuted.pins != st.pins:
            return False
        target = rule.target
        if target is None:
            return True
        if target.name == "MARK":
            op, value, mask = target.mark_op  # type: ignore[misc]
            mark = {"or": st.mark | value, "xor": st.mark ^ value, "and": st.mark & value}.get(
                op, (st.mark & ~mask) ^ value)
            return mark & 0xFFFFFFFF == st.mark
        if not target.chain:
            return False
        walk = self.run_chain(table, target.name, State((), st.pins, st.mark, st.dnat), None, depth + 1)
        if len(walk) != 1:
            return False
        sub, kind = walk[0]
        return (kind == "return" and not sub.lits and not sub.sets and sub.mark == st.mark and sub.dnat == st.dnat
                and sub.pins == st.pins)

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
        """All paths of a NEW packet entering at `hook` (PREROUTING or OUTPUT).

        What follows DNAT (routing, filter chains, nat POSTROUTING) is computed once per class of DNAT
        destinations those chains cannot tell apart, as run_chain does for one chain.
        """
        out: list[PathResult] = []
        for st, kind in self.run_chain("nat", hook, start, prune):
            if kind in ("drop", "reject"):
                out.append(PathResult(hook, st, kind, False))
                continue
            if st.dnat is None or self._dnat_reads_pins:
                out += self._tail(hook, st)
                continue
            local = bool(self.is_local(host(st.dnat[0])))
            chains = [("filter", "INPUT" if local else "FORWARD")] if hook == PREROUTING else (
                [("filter", "OUTPUT"), ("filter", "INPUT")] if local else [("filter", "OUTPUT")])
            views = tuple(self._view(table, name, st.dnat) for table, name in (*chains, ("nat", "POSTROUTING")))
            key = (hook, st.mark, st.pins.proto, local, views)
            entry = self._tails.get(key)
            if entry is None:
                entry = self._tails[key] = (st.dnat, self._tail(hook, State((), st.pins, st.mark, st.dnat)))
            entry_dnat, tail = entry
            for r in tail:
                sub = r.state
                pins = st.pins if sub.pins.proto == st.pins.proto else attrs.evolve(st.pins, proto=sub.pins.proto)
                dnat = st.dnat if sub.dnat is entry_dnat else sub.dnat
                out.append(PathResult(hook, State(st.lits + sub.lits, pins, sub.mark, dnat, st.path + sub.path,
                                                  st.sets + sub.sets), r.verdict, r.masquerade))
        return out

    def _tail(self, hook: str, st: State) -> list[PathResult]:
        """The paths from the end of nat `hook` on."""
        out: list[PathResult] = []
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
        p, t = self.pkt, self.pkt.terms
        atoms: list[z3.BoolRef] = []

        def neg(expr: z3.BoolRef, negated: bool) -> z3.BoolRef:
            return t.not_(expr) if negated else expr

        if m.src is not None:
            atoms.append(neg(p.in_net(p.src, m.src.network), m.src.negated))
        if m.src_type is not None:
            atoms.append(neg(self.local_expr(p.src), m.src_type.negated))
        if m.dst is not None:
            atoms.append(neg(p.in_net(p.dst, m.dst.network), m.dst.negated))
        if m.dst_type is not None:
            atoms.append(neg(self.local_expr(p.dst), m.dst_type.negated))
        if m.dport is not None:
            atoms.append(neg(t.between(p.dport, m.dport.lo, m.dport.hi), m.dport.negated))
        if m.sport is not None:
            atoms.append(neg(t.between(p.sport, m.sport.lo, m.sport.hi), m.sport.negated))
        if m.proto is not None:
            atoms.append(neg(t.equals(p.proto, PROTOCOL_NUMBERS[m.proto.value]), m.proto.negated))
        if m.recent is not None:
            atoms.append(neg(p.recent(m.recent.name), m.recent.negated))
        if m.probability is not None:
            atoms.append(p.random(rule))
        return t.and_(atoms)

    def local_expr(self, var: z3.BitVecRef) -> z3.BoolRef:
        key = str(var)
        cached = self._locals.get(key)
        if cached is None:
            cached = self._locals[key] = self.pkt.terms.or_([self.pkt.in_net(var, n) for n in self.local_nets])
        return cached

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

    def path_expr(self, result: PathResult, free: bool = False) -> z3.BoolRef:
        """The path's condition; with `free`, its statistic choices eliminated (see Lit): the same packets."""
        body = self._lits_expr(result.state.lits, free)
        hook = self.hook_expr(result.hook)
        return hook if body is None else conj([hook, body])

    def path_conds(self, results: list[PathResult], free: bool = False) -> list[Cond]:
        """Each path's condition as (sender term, conjunction of its literals or None for true), the latter with
        its statistic choices eliminated if `free`. Paths with the same literals (the same way through the rules
        for both kinds of sender) share one term, so callers can group paths by the identity of their terms."""
        bodies: dict[int, tuple[tuple[Lit, ...], z3.BoolRef | None]] = {}  # the tuple keeps its id valid
        out = []
        for r in results:
            lits = r.state.lits
            found = bodies.get(id(lits))
            if found is None:
                found = bodies[id(lits)] = (lits, self._lits_expr(lits, free))
            out.append((self.hook_expr(r.hook), found[1]))
        return out

    def _lits_expr(self, lits: tuple[Lit, ...], free: bool) -> z3.BoolRef | None:
        asts = []
        if free:
            chosen: set[int] = set()
            for lit in lits:
                if lit.match.probability is not None:
                    if id(lit.rule) in chosen:  # a rule met twice: its choices are tied, keep them
                        return self._lits_expr(lits, False)
                    chosen.add(id(lit.rule))
                if lit.free_ast is not None:
                    asts.append(lit.free_ast)
        else:
            asts = [lit.ast for lit in lits]
        if not asts:
            return None
        ctx = self.pkt.terms.ctx
        if len(asts) == 1:
            return z3.BoolRef(asts[0], ctx)
        arr = (z3.Ast * len(asts))(*asts)
        return z3.BoolRef(z3.Z3_mk_and(ctx.ref(), len(asts), arr), ctx)


@functools.lru_cache(maxsize=4096)
def exact_probability(text: str) -> Fraction:
    """`--probability` text as an exact rational (the `%0.10f` decimal as written)."""
    return Fraction(text)


def literal_factor(lit: Lit, others: bool) -> tuple[int, int]:
    """What the literal contributes to its path's probability, as (numerator, denominator), for a packet on which
    the literal's other atoms evaluate to `others`; (0, 1) when the literal cannot hold for it."""
    m = lit.match
    if m.probability is None:
        return (1, 1) if others == lit.positive else (0, 1)
    p = exact_probability(m.probability)
    if lit.positive:  # the rule was taken: its other atoms hold and the random choice said yes
        return (p.numerator, p.denominator) if others else (0, 1)
    # refused: its other atoms fail (whatever the choice), or they hold and the random choice said no
    return (p.denominator - p.numerator, p.denominator) if others else (1, 1)


def path_probability(result: PathResult, factor: Callable[[Lit], tuple[int, int]]) -> Fraction:
    """Probability of the path's statistic choices, from each literal's factor (see literal_factor)."""
    num = den = 1  # exact, in integers: one Fraction at the end instead of one per literal
    for lit in result.state.lits:
        a, b = factor(lit)
        if not a:
            return Fraction(0)
        num *= a
        den *= b
    return Fraction(num, den)


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

