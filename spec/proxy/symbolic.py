"""Symbolic packets through parsed iptables rules: every path, its condition (z3) and its outcome.

A path is one way a NEW packet can traverse the netfilter hooks, table by table in the kernel's order
(netfilter.org "Netfilter hooks" and the iptables(8) tables; net/ipv4/ip_input.c, ip_forward.c, ip_output.c):
- from a pod, another node or outside (PREROUTING): raw, mangle, nat PREROUTING, the routing decision, then
  for a local destination mangle, filter, security, nat INPUT (no POSTROUTING: a locally delivered packet never
  reaches it); else mangle, filter, security FORWARD, mangle, nat POSTROUTING;
- from a process on this host (OUTPUT): raw, mangle, nat OUTPUT, filter, security OUTPUT, mangle, nat
  POSTROUTING; a packet to a local address then comes back through loopback: raw, mangle PREROUTING, mangle,
  filter, security INPUT (the nat table is consulted once per connection, so not again).
Each hook's stages are ordered by priority (HOOK_TABLES: raw -300, mangle -150, nat -100 / 100, filter 0,
security 50); the base chains of other nftables tables (Dump.stages) are stages of their own among them, and in
IPVS mode the IPVS table is one at LOCAL_IN (after security INPUT) and LOCAL_OUT (after nat OUTPUT), a packet it
schedules from LOCAL_IN leaving through LOCAL_OUT and POSTROUTING (see IPVS_IN). An `accept` ends one stage;
`drop` ends the path. An untracked packet (raw NOTRACK / CT --notrack) skips the nat stages. Matches on the
destination are decided concretely where the path pins the destination (always after DNAT); the rest (source
address and type, statistic and recent matches, interfaces, unpinned destination, port, protocol, and the opaque
matches of parse.py) stays symbolic as z3 terms over one packet. An ipset match with the set's contents
(parse.SetMatch) is one condition: decided by looking the pinned fields up in the set where the path pins them, else
one literal, a disjunction over the members the pinned fields leave (asserting it pins what they all share); a
solver query never enumerates a set member by member as paths. Interfaces are symbolic: one Boolean per name or `+`
prefix and direction, tied by axioms (one interface at a time; a name matches the prefixes it starts with).
A locally generated packet has no input interface before it loops back through `lo`; a packet in PREROUTING
or INPUT has no output interface.
Builtin chains absent from a dump are synthesized with the jumps kube-proxy and kubelet install (upstream
pkg/proxy/iptables/proxier.go iptablesJumpChains and iptablesKubeletJumpChains, each prepended in turn).
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import NamedTuple, cast

import attrs
import z3

from checker.errors import InputError
from spec.proxy.parse import Chain, Dump, Match, Rule, SetConstraint, SetMatch, parse_rule, proto_number
from spec.proxy.terms import Terms

Net = ipaddress.IPv4Network


@functools.lru_cache(maxsize=65536)
def host(ip: str) -> Net:
    return Net(f"{ip}/32")
PREROUTING, OUTPUT = "PREROUTING", "OUTPUT"
LOCAL_INLINE = 16  # up to this many local networks, "a local address" is their disjunction in each term

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
_LOCAL_DST_RULE = parse_rule("routing", "-A ROUTING -m addrtype --dst-type LOCAL", frozenset(), source="<routing>")
_MERGED_RULE = parse_rule("routing", "-A AFTER-ROUTING", frozenset(), source="<merged paths>")
# The builtin chains a NEW packet traverses, with what is known of its interfaces there (None: symbolic, "": none).
Stage = tuple[str, str, "str | None", "str | None"]
PRE_STAGES: dict[str, tuple[Stage, ...]] = {
    "PREROUTING": (("raw", "PREROUTING", None, ""), ("mangle", "PREROUTING", None, ""),
                   ("nat", "PREROUTING", None, "")),
    "OUTPUT": (("raw", "OUTPUT", "", None), ("mangle", "OUTPUT", "", None), ("nat", "OUTPUT", "", None)),
}


# IPVS mode (a dump with the pseudo-table "ipvs" that ipvs.stage_chains writes): IPVS takes a packet for a virtual
# service at NF_INET_LOCAL_IN, priority NF_IP_PRI_NAT_SRC - 2 (after filter and security INPUT, before nat INPUT),
# and at NF_INET_LOCAL_OUT, priority NF_IP_PRI_NAT_DST + 1 (right after nat OUTPUT); net/netfilter/ipvs/
# ip_vs_core.c ip_vs_ops4. A packet it schedules from LOCAL_IN is sent on by ip_vs_nat_xmit through LOCAL_OUT
# (raw, mangle, filter, security OUTPUT; the nat table has already bound the connection) and POSTROUTING.
IPVS_IN: Stage = ("ipvs", "INPUT", None, "")
IPVS_IN_PRIORITY = 98
IPVS_OUT: Stage = ("ipvs", "OUTPUT", "", None)
IPVS_XMIT: tuple[Stage, ...] = (("raw", "OUTPUT", "", None), ("mangle", "OUTPUT", "", None),
                                ("filter", "OUTPUT", "", None), ("security", "OUTPUT", "", None),
                                ("mangle", "POSTROUTING", "", None), ("nat", "POSTROUTING", "", None))


# The iptables tables at each hook with their priorities (include/uapi/linux/netfilter_ipv4.h nf_ip_hook_priorities:
# RAW -300, MANGLE -150, NAT_DST -100, FILTER 0, SECURITY 50, NAT_SRC 100) and whether they are nat tables.
HOOK_TABLES: dict[str, tuple[tuple[int, str, bool], ...]] = {
    "PREROUTING": ((-300, "raw", False), (-150, "mangle", False), (-100, "nat", True)),
    "INPUT": ((-150, "mangle", False), (0, "filter", False), (50, "security", False), (100, "nat", True)),
    "FORWARD": ((-150, "mangle", False), (0, "filter", False), (50, "security", False)),
    "OUTPUT": ((-300, "raw", False), (-150, "mangle", False), (-100, "nat", True), (0, "filter", False),
               (50, "security", False)),
    "POSTROUTING": ((-150, "mangle", False), (100, "nat", True)),
}
# A locally generated packet is routed again after nat OUTPUT (and IPVS, at NF_IP_PRI_NAT_DST + 1): the stages up
# to this priority come before the model's routing decision.
OUTPUT_REROUTE = -99


def post_stages(hook: str, local: bool) -> tuple[Stage, ...]:
    """The builtin chains after the routing decision (see the module docstring)."""
    if hook == "PREROUTING":
        if local:
            return (("mangle", "INPUT", None, ""), ("filter", "INPUT", None, ""), ("security", "INPUT", None, ""),
                    ("nat", "INPUT", None, ""))
        return (("mangle", "FORWARD", None, None), ("filter", "FORWARD", None, None),
                ("security", "FORWARD", None, None), ("mangle", "POSTROUTING", None, None),
                ("nat", "POSTROUTING", None, None))
    oif = "lo" if local else None
    out: tuple[Stage, ...] = (("filter", "OUTPUT", "", oif), ("security", "OUTPUT", "", oif),
                              ("mangle", "POSTROUTING", "", oif), ("nat", "POSTROUTING", "", oif))
    if local:
        out += (("raw", "PREROUTING", "lo", ""), ("mangle", "PREROUTING", "lo", ""), ("mangle", "INPUT", "lo", ""),
                ("filter", "INPUT", "lo", ""), ("security", "INPUT", "lo", ""))
    return out


def iface_matches(pattern: str, name: str) -> bool:
    """iptables' interface match: a trailing `+` matches every name starting with the rest."""
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1]) and (bool(name) or pattern == "+")
    return pattern == name


def is_kube(rule: Rule) -> bool:
    """Whether the rule is kube-proxy's (or kubelet's): in a KUBE- chain, a jump to one, or synthesized."""
    target = rule.target
    if rule.owner:
        return rule.owner == "kube-proxy"
    return (rule.line == 0 or rule.chain.startswith("KUBE-")
            or (target is not None and target.chain and target.name.startswith("KUBE-")))


def kube_only(dump: Dump) -> Dump:
    """The dump with every rule of other components left out (their chains emptied, builtin policies ACCEPT)."""
    tables: dict[str, dict[str, Chain]] = {}
    for table, chains in dump.tables.items():
        new: dict[str, Chain] = {}
        for name, chain in chains.items():
            if name.startswith("KUBE-"):
                new[name] = chain
                continue
            kept = [r for r in chain.rules if is_kube(r)]
            rules = tuple(r if r.index == i else attrs.evolve(r, index=i) for i, r in enumerate(kept))
            new[name] = Chain(name, "ACCEPT" if chain.policy is not None else None, rules)
        tables[table] = new
    return attrs.evolve(dump, tables=tables)


def foreign_parts(dump: Dump) -> list[str]:
    """What of the dump is not kube-proxy's: rules (as `table chain line N`) and DROP policies."""
    out: list[str] = []
    for table, chains in dump.tables.items():
        for name, chain in chains.items():
            if chain.policy == "DROP":
                out.append(f"{table} {name} policy DROP")
            out += [f"{table} {name} line {r.line}" for r in chain.rules if not is_kube(r)]
    return out


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
                rules.append(parse_rule(table, f"-A {chain} {text}", frozenset(chains), index=len(rules)))
        chains[chain] = Chain(chain, "ACCEPT", tuple(rules))
    return attrs.evolve(dump, tables=tables)


class Pins(NamedTuple):
    """What the path so far fixes about the original destination. A tuple: compared and hashed millions of
    times, which attrs classes do in Python."""

    dst: Net | None = None
    dst_local: bool | None = None
    dport: int | None = None
    proto: str | None = None
    iif: str | None = None  # None: symbolic; "": none (a locally generated packet); a name
    oif: str | None = None
    untracked: bool = False  # NOTRACK: the nat table is skipped
    snat: int = 0  # 1 + the index in Explorer.snat_rules of the rule that masqueraded the packet; 0: none
    ipvs: bool = False  # IPVS scheduled the packet (to the DNAT); dst, dport and proto are its virtual service's


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
    # A merged literal (Explorer._merge): the literals after the routing decision of each path it stands for,
    # one of which holds exactly when it does. None for a rule's literal.
    alternatives: tuple[tuple[Lit, ...], ...] | None = None


class DropsIgnored:
    """A prune predicate (paths(), run_chain()) whose caller also has no use for paths that a DROP or REJECT rule
    ends before any DNAT: they are not built (IPVS mode's isolation check, where KUBE-IPVS-FILTER rejects every
    kube-ipvs0 address on every port that is no virtual service's: as many paths as addresses times ports)."""

    def __init__(self, prune: Callable[[Pins], bool]) -> None:
        self.prune = prune

    def __call__(self, pins: Pins) -> bool:
        return self.prune(pins)


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
    ifaces: bool = True  # some rule matches an input or output interface
    ipvs: bool = False  # some rule has an `-m ipvs` match (it reads the virtual service, kept in the pins)

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
    verdict: str  # "accept" (delivered), "drop", "reject", or a diverting target's name in lower case
    masquerade: bool
    local: bool = False  # delivered to this host (through INPUT)
    policy: str | None = None  # "table CHAIN" whose DROP policy decided the verdict
    # Paths merged into this one (Explorer._merge): each one's literals and rules after the routing decision, the
    # SNAT rule that masqueraded it (Pins.snat) and its DROP policy. The state then ends with their merged literal
    # (unless one of them has none) and its path before them.
    alternatives: tuple[tuple[tuple[Lit, ...], tuple[Rule, ...], int, str | None], ...] = ()


def expand(result: PathResult) -> list[PathResult]:
    """The paths a merged path stands for (itself if it is none): their conditions' disjunction is its own."""
    if not result.alternatives:
        return [result]
    s = result.state
    lits = s.lits[:-1] if s.lits and s.lits[-1].alternatives is not None else s.lits
    return [PathResult(result.hook, State(lits + alt, s.pins if s.pins.snat == snat else
                                          s.pins._replace(snat=snat), s.mark, s.dnat, s.path + rules, s.sets),
                       result.verdict, result.masquerade, result.local, policy)
            for alt, rules, snat, policy in result.alternatives]


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

    def iface(self, direction: str, pattern: str) -> z3.BoolRef:
        """The packet's input ("iif") or output ("oif") interface matches `pattern` (a name or a `+` prefix)."""
        return self.terms.bool_const(f"{direction}:{pattern}")

    def opaque(self, key: str) -> z3.BoolRef:
        return self.terms.bool_const(f"opaque:{key}")


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

    def __init__(self, dump: Dump, local_nets: tuple[Net, ...], routes: tuple[tuple[str, str], ...] = (),
                 base: Explorer | None = None) -> None:
        self.dump = with_builtin_jumps(dump)
        self.local_nets = local_nets
        # is_local in constant time for single addresses: IPVS mode makes every Service address local.
        self._local_hosts = frozenset(n for n in local_nets if n.prefixlen == 32)
        self._local_wide = tuple(n for n in local_nets if n.prefixlen < 32)
        # With the node's routes, a packet leaves through the device of the longest matching route, and comes in
        # through a device whose routes cover its source (reverse-path filtering).
        self.routes = sorted(((Net(c), dev) for c, dev in routes), key=lambda r: -r[0].prefixlen)
        self._route_cache: dict[str, str | None] = {}
        self.pkt = Packet()
        self._index: dict[tuple[str, str, str, object], list[int]] = {}
        self._chain_indexes: dict[tuple[str, str, str], tuple[dict[object, list[int]], list[int]]] = {}
        self._lits: dict[tuple[int, bool, tuple[object, ...]], Lit] = {}
        self._set_fields: dict[int, frozenset[str]] = {}
        self._set_residuals: dict[tuple[object, ...], SetMatch | bool] = {}
        self._set_exprs: dict[int, tuple[SetMatch, z3.BoolRef]] = {}
        self._locals: dict[str, z3.BoolRef] = {}
        self.local_defs: list[z3.BoolRef] = []  # definitions of local_expr's Booleans (see there)
        self.local_consts: list[tuple[str, z3.BoolRef]] = []
        self._hooks: dict[str, z3.BoolRef] = {}
        self._local_cache: dict[Net, bool | None] = {}
        # Walks keyed by what the chain can read of the entry state. Shared walks hold the entry DNAT they were
        # computed with; walks keyed by a frontend's pins are dropped by forget().
        self._walks: dict[tuple[object, ...], tuple[tuple[str, int] | None, Pins, list[tuple[State, str]]]] = {}
        self._pinned_walks: dict[tuple[object, ...], list[tuple[State, str]]] = {}
        self._reads: dict[tuple[str, str], Reads] = {}
        self._views: dict[tuple[str, str, tuple[str, int]], tuple[object, ...]] = {}
        self._tail_views: dict[tuple[str, tuple[str, int]], tuple[bool, tuple[object, ...], str | None]] = {}
        self._tails: dict[tuple[object, ...], tuple[tuple[str, int] | None, Pins, list[PathResult]]] = {}
        # A DNAT without a port takes the pinned port; only then may a walk after DNAT depend on more pins.
        self._dnat_reads_pins = any(
            r.target is not None and ((r.target.name == "DNAT" and ":" not in str(r.target.to))
                                      or (r.target.name == "REDIRECT" and not r.target.to))
            for chains in self.dump.tables.values() for c in chains.values() for r in c.rules)
        self.snat_rules: list[Rule] = []
        self._snat_index: dict[int, int] = {}
        self.ipvs = "ipvs" in self.dump.tables
        # Each hook's stages in priority order: the iptables tables and other nftables tables' base chains
        # (Dump.stages; at equal priority the iptables table first).
        self._plan: dict[str, list[tuple[int, str, str, bool]]] = {
            hook: sorted([(p, t, hook, nat) for p, t, nat in tables] + list(self.dump.stages.get(hook, ())),
                         key=lambda s: s[0]) for hook, tables in HOOK_TABLES.items()}
        self._nat_tables = {t for plan in self._plan.values() for _, t, _, nat in plan if nat}
        self._pre = {
            PREROUTING: tuple((t, c, None, "") for _, t, c, _ in self._plan["PREROUTING"]),
            OUTPUT: tuple((t, c, "", None) for p, t, c, _ in self._plan["OUTPUT"] if p <= OUTPUT_REROUTE)
            + ((IPVS_OUT,) if self.ipvs else ()),
        }
        self._posts: dict[tuple[str, bool], tuple[Stage, ...]] = {}
        self.ifaces: dict[str, set[str]] = {"iif": set(), "oif": set()}
        self.opaque: dict[str, int] = {}  # opaque conditions met on some path, and how many rules have them
        self.steps = 0  # rules walked, against a runaway fan-out of chains
        self.max_steps = 20_000_000
        # Walks of kube-proxy's own chains (a KUBE- chain whose jumps reach only KUBE- chains) are the same in
        # another explorer of the same rules among more (verify's second pass over the whole ruleset): with
        # `base`, both share them, with the packet, literals and the interface and opaque conditions met. Such
        # walks keyed by a frontend's pins are kept after forget() for the second pass.
        self._pure: dict[tuple[str, str], bool] = {}
        self._kube_walks: dict[tuple[object, ...], list[tuple[State, str]]] = {}
        self._kube_shared: dict[tuple[object, ...], tuple[tuple[str, int] | None, Pins, list[tuple[State, str]]]] = {}
        self.base: Explorer | None = None
        self.keep_kube_walks = False
        if base is not None and base.local_nets == local_nets and base.routes == self.routes and (
                base._dnat_reads_pins == self._dnat_reads_pins):
            self.base = base
            self.pkt, self._lits, self.ifaces, self.opaque = base.pkt, base._lits, base.ifaces, base.opaque
            self._set_residuals, self._set_exprs = base._set_residuals, base._set_exprs
            self._locals, self.local_defs, self.local_consts = base._locals, base.local_defs, base.local_consts
            self._kube_walks, self._kube_shared = base._kube_walks, base._kube_shared

    # -- concrete evaluation -------------------------------------------------------------------------------------
    def is_local(self, net: Net) -> bool | None:
        try:
            return self._local_cache[net]
        except KeyError:
            pass
        verdict: bool | None = None
        if net.prefixlen == 32:
            verdict = net in self._local_hosts or any(net.subnet_of(n) for n in self._local_wide)
        elif any(net.subnet_of(n) for n in self._local_wide):
            verdict = True
        elif not any(net.overlaps(n) for n in self._local_wide) and not any(h.subnet_of(net)
                                                                            for h in self._local_hosts):
            verdict = False
        self._local_cache[net] = verdict
        return verdict

    def residual(self, m: Match, st: State) -> Match | bool:
        """Decide what the state decides; return True, False or the still-symbolic part of the match."""
        if m.mark is not None and ((st.mark & m.mark.mask) == m.mark.value) == m.mark.negated:
            return False
        pins = st.pins
        if m.ctstate is not None:
            if pins.untracked:
                present = {"UNTRACKED"}
            else:
                present = {"NEW", "DNAT", "SNAT"} if st.dnat and pins.snat else (
                    {"NEW", "DNAT"} if st.dnat else ({"NEW", "SNAT"} if pins.snat else {"NEW"}))
            if bool(m.ctstate.states & present) == m.ctstate.negated:
                return False
        rest: dict[str, object] = {}
        for field, iface, known in (("iif", m.iif, pins.iif), ("oif", m.oif, pins.oif)):
            if iface is None:
                continue
            if known is None:
                rest[field] = iface
            elif iface_matches(iface.name, known) == iface.negated:
                return False
        if m.opaque:
            kept = m.opaque
            if self.ipvs:
                kept = ()
                for op in m.opaque:
                    decided = _ipvs_option(op.key, pins) if op.key.startswith("-m ipvs ") else None
                    if decided is None:
                        kept += (op,)
                    elif decided == op.negated:
                        return False
            if kept:
                rest["opaque"] = kept
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
            net = dst if dst is not None else pins.dst
            if net is not None:
                if net.subnet_of(m.dst.network):
                    verdict = True
                elif not net.overlaps(m.dst.network):
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
        port = st.dnat[1] if st.dnat is not None else pins.dport
        if m.dport is not None:
            if port is None:
                rest["dport"] = m.dport
            elif (m.dport.lo <= port <= m.dport.hi) == m.dport.negated:
                return False
        if m.sets:
            kept_sets: tuple[SetMatch, ...] = ()
            for sm in m.sets:
                left = self.set_residual(sm, dst if dst is not None else pins.dst, port, pins.proto, pins.iif,
                                         pins.oif)
                if left is False:
                    return False
                if not isinstance(left, bool):
                    kept_sets += (left,)
            if kept_sets:
                rest["sets"] = kept_sets
        return Match(**rest) if rest else True  # type: ignore[arg-type]

    def set_residual(self, sm: SetMatch, dst: Net | None, dport: int | None, proto: str | None, iif: str | None,
                     oif: str | None) -> SetMatch | bool:
        """What the known fields decide of a set match: True, False, or the match over the members they leave
        possible, without the constraints they decide (one object per set and known values: literals are keyed by
        it). A pinned destination looks its members up (SetMatch.lookup) rather than scanning them."""
        fields = self._set_fields.get(id(sm))
        if fields is None:
            fields = self._set_fields[id(sm)] = frozenset(f for member in sm.members for f, _ in member)
        known = {f: v for f, v in (("dst", dst), ("dport", dport), ("proto", proto), ("iif", iif), ("oif", oif))
                 if v is not None and f in fields}
        key = (id(sm), *sorted(known.items()))
        found = self._set_residuals.get(key)
        if found is None:
            found = self._set_residuals[key] = _resolve_set(sm, known)
        return found

    def lit(self, rule: Rule, res: Match, positive: bool) -> Lit:
        """The literal asserting (or refuting) `res`, a residual() of `rule`'s match; one object per form."""
        # residual() keeps some of the rule's own match fields unchanged: which ones identifies `res` (cheaper
        # to hash than the Match with its networks).
        kept: tuple[object, ...] = (
            res.src is not None, res.dst is not None, res.proto is not None, res.dport is not None,
            res.sport is not None, res.src_type is not None, res.dst_type is not None, res.recent is not None,
            res.probability is not None, res.iif is not None, res.oif is not None)
        if res.sets:  # the sets' residuals too: the members the known fields left (one object each)
            kept += tuple(id(sm) for sm in res.sets)
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
            if (res.dst is not None and not res.dst.negated and res.dst.network != pins.dst
                    and (pins.dst is None or res.dst.network.subnet_of(pins.dst))):
                pins = pins._replace(dst=res.dst.network)
            if res.dst_type is not None and pins.dst_local is not (not res.dst_type.negated):
                pins = pins._replace(dst_local=not res.dst_type.negated)
            if (res.dport is not None and not res.dport.negated and res.dport.lo == res.dport.hi
                    and pins.dport != res.dport.lo):
                pins = pins._replace(dport=res.dport.lo)
        if res.proto is not None and not res.proto.negated and pins.proto != res.proto.value:
            pins = pins._replace(proto=res.proto.value)
        for sm in res.sets:
            if not sm.negated:
                pins = _pin_members(pins, sm, st.dnat is None)
        return State((*st.lits, self.lit(rule, res, True)), pins, st.mark, st.dnat, st.path, st.sets)

    def refute(self, st: State, rule: Rule, res: Match) -> State:
        pins = st.pins
        if st.dnat is None and res.dst_type is not None and res == Match(dst_type=res.dst_type):
            pins = pins._replace(dst_local=res.dst_type.negated)
        if len(res.sets) == 1 and res.sets[0].negated and res == Match(sets=res.sets):
            pins = _pin_members(pins, res.sets[0], st.dnat is None)  # not outside the set: one of its members
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

    def is_pure(self, table: str, name: str) -> bool:
        """Whether chain `name` and every chain it reaches are KUBE- chains, the same as in the base explorer's
        dump (kube-proxy's chains are kept whole when other components' rules are left out)."""
        found = self._pure.get((table, name))
        if found is None:
            found = True
            seen, todo = {name}, [name]
            while todo and found:
                current = todo.pop()
                chain = self.dump.chain(table, current)
                if not current.startswith("KUBE-") or chain is None or (
                        self.base is not None and self.base.dump.chain(table, current) is not chain):
                    found = False
                    break
                for rule in chain.rules:
                    if rule.target is not None and rule.target.chain and rule.target.name not in seen:
                        seen.add(rule.target.name)
                        todo.append(rule.target.name)
            self._pure[(table, name)] = found
        return found

    def release(self) -> None:
        """Drop every memo. A walk memo keyed by a pruning closure holds the verifier that made it, and through
        it all the explorer's states: a cycle that only a full collection frees, walking every object again."""
        for memo in (self._pinned_walks, self._kube_walks, self._kube_shared, self._walks, self._tails,
                     self._lits, self._views, self._tail_views, self._set_residuals, self._set_exprs,
                     self._set_fields):
            memo.clear()

    def forget(self) -> None:
        """Drop the walks keyed by pins: they belong to one frontend and are not shared (those of kube-proxy's own
        chains are kept when `keep_kube_walks` says a second explorer will share them)."""
        self._pinned_walks.clear()
        if not self.keep_kube_walks:
            self._kube_walks.clear()

    def reads(self, table: str, name: str) -> Reads:
        """What chain `name` and the chains it jumps to read of the destination (jump loops stop the closure)."""
        found = self._reads.get((table, name))
        if found is not None:
            return found
        hosts: set[Net] = set()
        nets: list[Net] = []
        dst_type = False
        ifaces = False
        ipvs = False
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
                ifaces = ifaces or m.iif is not None or m.oif is not None
                for sm in m.sets:
                    for member in sm.members:
                        for f, v in member:
                            if f == "dst":
                                assert isinstance(v, Net)
                                if v.prefixlen == 32:
                                    hosts.add(v)
                                elif v not in nets:
                                    nets.append(v)
                            elif f == "dport":
                                assert isinstance(v, int)
                                ports.add((v, v))
                            elif f in ("iif", "oif"):
                                ifaces = True
                ipvs = ipvs or any(op.key.startswith("-m ipvs ") for op in m.opaque)
                if m.dport is not None:
                    ports.add((m.dport.lo, m.dport.hi))
                if rule.target is not None and rule.target.chain and rule.target.name not in seen:
                    seen.add(rule.target.name)
                    todo.append(rule.target.name)
        found = self._reads[(table, name)] = Reads(
            frozenset(hosts), tuple(nets), dst_type, frozenset(lo for lo, hi in ports if lo == hi),
            tuple(sorted((lo, hi) for lo, hi in ports if lo != hi)), ifaces, ipvs)
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
        protocol and DNAT substituted: the walk can change no pin but the protocol and the conntrack state
        there, and the DNAT only by a DNAT rule of its own (a new tuple, told apart from the entry's by identity).
        """
        pins = st.pins
        pure = prune is None and self.is_pure(table, name)  # its walks are shared with the base explorer
        shared = prune is None and not self._dnat_reads_pins and not (self.ipvs and self.reads(table, name).ipvs) and (
            st.dnat is not None or not self.reads(table, name).destination)
        if not shared:
            key: tuple[object, ...] = (table, name, st.mark, st.dnat, pins, prune)
            pinned = self._kube_walks if pure else self._pinned_walks
            walk = pinned.get(key)
            if walk is None:
                walk = pinned[key] = self._walk(table, name, State((), pins, st.mark, st.dnat), prune, depth)
            if not st.lits and not st.path and not st.sets:
                return walk
            return [(State(st.lits + sub.lits, sub.pins, sub.mark, sub.dnat, st.path + sub.path, st.sets + sub.sets),
                     kind) for sub, kind in walk]
        view = None if st.dnat is None else self._view(table, name, st.dnat)
        # The walk's states take the caller's interfaces (_carry): a chain that matches none is walked once for all.
        ifaces = (pins.iif, pins.oif) if self.reads(table, name).ifaces else None
        key = (table, name, st.mark, st.dnat is None, view, pins.proto, ifaces, pins.untracked, bool(pins.snat))
        walks = self._kube_shared if pure else self._walks
        entry = walks.get(key)
        if entry is None:
            entry = walks[key] = (st.dnat, pins, self._walk(table, name, State((), pins, st.mark, st.dnat),
                                                                  None, depth))
        entry_dnat, entry_pins, walk = entry
        out = []
        for sub, kind in walk:
            dnat = st.dnat if sub.dnat is entry_dnat else sub.dnat
            out.append((State(st.lits + sub.lits, _carry(entry_pins, sub.pins, pins), sub.mark, dnat,
                              st.path + sub.path, st.sets + sub.sets), kind))
        return out

    def _walk(self, table: str, name: str, st: State, prune: Callable[[Pins], bool] | None,
              depth: int) -> list[tuple[State, str]]:
        chain = self.dump.chain(table, name)
        if chain is None:
            raise InputError(f"rules: a rule jumps to chain {name}, which table {table} does not declare")
        out: list[tuple[State, str]] = []
        stack: list[tuple[int, State]] = [(0, st)]
        rules = chain.rules
        while stack:
            i, st = stack.pop()
            cands = self._candidates(table, chain, st)
            while True:
                self.steps += 1
                if self.steps > self.max_steps:
                    raise InputError(f"the rules fan out into more than {self.max_steps:,} rule steps while "
                                     f"walking chain {name} of table {table}: too many paths to verify")
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
                kind = target.kind
                if kind == "chain":
                    for sub, how in self.run_chain(table, target.name, st, prune, depth + 1):
                        if how != "return":
                            out.append((sub, how))
                        elif target.goto:  # -g: a RETURN there returns from this chain
                            out.append((sub, "return"))
                        else:
                            stack.append((i + 1, sub))
                    break
                if kind == "passive":
                    i += 1
                    continue
                if kind == "effect":
                    st = self._effect(rule, st)
                    i += 1
                    continue
                if target.name == "DNAT":
                    ip, _, port = str(target.to).partition(":")
                    port = port.split("-")[0]
                    dnat_port = int(port) if port else (st.pins.dport or 0)
                    pins = st.pins._replace(ipvs=True) if table == "ipvs" else st.pins
                    out.append((State(st.lits, pins, st.mark, (ip.split("-")[0], dnat_port), st.path, st.sets),
                                "dnat"))
                    break
                if target.name == "REDIRECT":
                    port = str(target.to or "").split("-")[0]
                    addr = "127.0.0.1" if st.pins.iif == "" else str(self.local_nets[0].network_address)
                    dnat_port = int(port) if port else (st.pins.dport or 0)
                    out.append((State(st.lits, st.pins, st.mark, (addr, dnat_port), st.path, st.sets), "dnat"))
                    break
                if isinstance(prune, DropsIgnored) and st.dnat is None and target.name in ("DROP", "REJECT"):
                    break  # a packet dropped before any DNAT: the caller has no use for the path
                out.append((st, target.name.lower()))
                break
        return out

    @staticmethod
    def _effect(rule: Rule, st: State) -> State:
        """The state after a MARK, CONNMARK, NOTRACK or CT rule (the packet goes on)."""
        target = rule.target
        assert target is not None
        if target.name == "MARK":
            assert target.mark_op is not None
            return State(st.lits, st.pins, _mark_after(st.mark, target.mark_op), st.dnat, st.path, st.sets)
        if target.name == "CONNMARK":
            if "--restore-mark" in target.options:
                # A new connection's mark is 0 unless a rule on this path set it (not tracked: taken as 0).
                nfmask = _option_mask(target.options, ("--nfmask", "--mask"))
                return State(st.lits, st.pins, st.mark & ~nfmask & 0xFFFFFFFF, st.dnat, st.path, st.sets)
            return st
        if target.name == "NOTRACK" or "--notrack" in target.options:
            return State(st.lits, st.pins._replace(untracked=True), st.mark, st.dnat, st.path, st.sets)
        return st

    def _no_effect(self, table: str, rule: Rule, st: State, assumed: State, refuted: State, depth: int) -> bool:
        """Whether taking the rule and passing it lead on in the same state (mark, DNAT, pins, recent lists).

        Then the packets going on are those of `st` whichever way the rule's symbolic match goes, so the walk need
        not branch: as for a rule that marks for masquerade a packet already marked, or a LOG rule. Such a rule
        adds no literal and is left out of the path (it changes nothing the packet's fate depends on).
        """
        if rule.match.recent is not None and rule.match.recent.mode == "set":
            return False
        if assumed.pins != st.pins or refuted.pins != st.pins:
            return False
        target = rule.target
        if target is None or target.kind == "passive":
            return True
        if target.kind == "effect":
            after = self._effect(rule, st)
            return after.mark == st.mark and after.pins == st.pins
        if target.kind != "chain":
            return False
        walk = self.run_chain(table, target.name, State((), st.pins, st.mark, st.dnat), None, depth + 1)
        if len(walk) != 1:
            return False
        sub, kind = walk[0]
        return (kind == "return" and not sub.lits and not sub.sets and sub.mark == st.mark and sub.dnat == st.dnat
                and sub.pins == st.pins)

    def _stages(self, stages: tuple[Stage, ...], st: State,
                prune: Callable[[Pins], bool] | None = None) -> list[tuple[State, str]]:
        """Run builtin chains in sequence. Outcomes: "accept" (through them all), "dnat" (only from a nat stage
        whose chain DNATs; the caller goes on), or a verdict: "drop", "reject", "policy:TABLE CHAIN" (the
        chain's DROP policy), a diverting target. A masquerade or SNAT is recorded in the pins and goes on."""
        results: list[tuple[State, str]] = []
        pending = [(0, st)]
        while pending:
            k, st = pending.pop()
            if k == len(stages):
                results.append((st, "accept"))
                continue
            table, name, iif, oif = stages[k]
            oif = self._routed_oif(st, oif)
            chain = self.dump.chain(table, name)
            if chain is None or (table in self._nat_tables and st.pins.untracked):
                pending.append((k + 1, st))
                continue
            pins = st.pins
            entry = st if (pins.iif, pins.oif) == (iif, oif) else State(
                st.lits, pins._replace(iif=iif, oif=oif), st.mark, st.dnat, st.path, st.sets)
            for sub, kind in self.run_chain(table, name, entry, prune):
                if (sub.pins.iif, sub.pins.oif) != (pins.iif, pins.oif):
                    sub = State(sub.lits, sub.pins._replace(iif=pins.iif, oif=pins.oif), sub.mark, sub.dnat,
                                sub.path, sub.sets)
                if kind == "return":
                    kind = "accept" if chain.policy != "DROP" else f"policy:{table} {name}"
                if kind in ("accept", "dnat"):
                    pending.append((k + 1, sub))
                elif kind in ("masquerade", "snat"):
                    rule = sub.path[-1]
                    index = self._snat_index.get(id(rule))
                    if index is None:
                        index = self._snat_index[id(rule)] = len(self.snat_rules)
                        self.snat_rules.append(rule)
                    sub = State(sub.lits, sub.pins._replace(snat=index + 1), sub.mark, sub.dnat, sub.path,
                                sub.sets)
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

        What follows DNAT (routing, the later builtin chains) is computed once per class of DNAT destinations
        those chains cannot tell apart, as run_chain does for one chain.
        """
        out: list[PathResult] = []
        for st, kind in self._stages(self._pre[hook], start, prune):
            if kind != "accept":
                out.append(_result(hook, st, kind, False))
                continue
            if st.dnat is None or self._dnat_reads_pins or st.pins.ipvs:
                out += self._tail(hook, st, prune)
                continue
            where = self._tail_views.get((hook, st.dnat))
            if where is None:
                local = bool(self.is_local(host(st.dnat[0])))
                where = self._tail_views[(hook, st.dnat)] = (local, tuple(
                    self._view(table, name, st.dnat) for table, name, _, _ in self._post_read(hook, local)),
                    self.route_dev(st.dnat[0]))
            pins = st.pins
            key = (hook, st.mark, pins.proto, pins.untracked, pins.snat, where, prune)
            entry = self._tails.get(key)
            if entry is None:
                entry = self._tails[key] = (st.dnat, pins, self._tail(hook, State((), pins, st.mark, st.dnat),
                                                                      prune))
            entry_dnat, entry_pins, tail = entry
            for r in tail:
                sub = r.state
                dnat = st.dnat if sub.dnat is entry_dnat else sub.dnat
                out.append(PathResult(hook, State(st.lits + sub.lits, _carry(entry_pins, sub.pins, pins), sub.mark,
                                                  dnat, st.path + sub.path, st.sets + sub.sets),
                                      r.verdict, r.masquerade, r.local, r.policy, r.alternatives))
        return out

    def post_stages(self, hook: str, local: bool) -> tuple[Stage, ...]:
        """The stages after the routing decision (see the module docstring), with other nftables tables' base
        chains where their priorities put them; the nat ones are not run again when the packet loops back."""
        found = self._posts.get((hook, local))
        if found is not None:
            return found
        plan = self._plan
        out: tuple[Stage, ...]
        if hook == PREROUTING:
            if local:
                out = tuple((t, c, None, "") for _, t, c, _ in plan["INPUT"])
            else:
                out = tuple((t, c, None, None) for _, t, c, _ in (*plan["FORWARD"], *plan["POSTROUTING"]))
        else:
            oif = "lo" if local else None
            out = tuple((t, c, "", oif) for p, t, c, _ in plan["OUTPUT"] if p > OUTPUT_REROUTE)
            out += tuple((t, c, "", oif) for _, t, c, _ in plan["POSTROUTING"])
            if local:
                out += tuple((t, c, "lo", "") for _, t, c, nat in (*plan["PREROUTING"], *plan["INPUT"]) if not nat)
        self._posts[(hook, local)] = out
        return out

    def _post_read(self, hook: str, local: bool) -> tuple[Stage, ...]:
        """The builtin chains after the routing decision whose walks a DNAT destination may change."""
        stages = self.post_stages(hook, local)
        if self.ipvs and local and hook == PREROUTING:
            return (*stages, IPVS_IN, *IPVS_XMIT)
        return stages

    def _tail(self, hook: str, st: State, prune: Callable[[Pins], bool] | None = None) -> list[PathResult]:
        """The paths from the routing decision on (`prune`, as in paths(), also after it: IPVS mode pins the
        destination there, in the IPVS table's rules)."""
        out: list[PathResult] = []
        for st2, local in self._local_dst(st):
            stages = self.post_stages(hook, local)
            if not (self.ipvs and local and hook == PREROUTING):
                out += [_result(hook, st3, verdict, local) for st3, verdict in self._stages(stages, st2, prune)]
                continue
            # IPVS between security INPUT and nat INPUT: a scheduled packet leaves through LOCAL_OUT and
            # POSTROUTING; any other is delivered here.
            before = sum(1 for p, _, _, _ in self._plan["INPUT"] if p < IPVS_IN_PRIORITY)
            for st3, verdict in self._stages((*stages[:before], IPVS_IN), st2, prune):
                if verdict != "accept":
                    out.append(_result(hook, st3, verdict, True))
                elif st3.dnat != st2.dnat:
                    out += [_result(hook, st4, v4, False) for st4, v4 in self._stages(IPVS_XMIT, st3, prune)]
                else:
                    out += [_result(hook, st4, v4, True) for st4, v4 in self._stages(stages[before:], st3, prune)]
        return self._merge(out, st)

    def _merge(self, results: list[PathResult], start: State) -> list[PathResult]:
        """Paths from `start` with the same outcome, merged into one whose condition is the disjunction of theirs.

        Other components' rules after the routing decision (Docker's, libvirt's interface matches in FORWARD,
        a masquerade agent's in POSTROUTING) branch every path into many with the same outcome; verification
        asks the same questions of all of them, so it asks them once of the merged path, and expands only a
        counterexample (expand()) to the path that the packet found takes. Paths are merged when they end alike
        (verdict, whether masqueraded, local delivery, DNAT, mark, other pins, recent lists; not which rule
        masqueraded or which DROP policy dropped it: the expanded counterexample names those) and none has a
        statistic or recent match after `start` (balance and affinity read those literal by literal).
        """
        if len(results) < 2:
            return results
        n_lits, n_path = len(start.lits), len(start.path)
        groups: dict[tuple[object, ...], list[PathResult]] = {}
        for r in results:
            s = r.state
            pins = s.pins if not s.pins.snat else s.pins._replace(snat=1)
            key = (r.verdict, r.masquerade, r.local, s.dnat is start.dnat, s.dnat, s.mark, pins, s.sets)
            groups.setdefault(key, []).append(r)
        if len(groups) == len(results):
            return results
        out: list[PathResult] = []
        for members in groups.values():
            suffixes = [r.state.lits[n_lits:] for r in members]
            if len(members) == 1 or any(lit.match.probability is not None or lit.match.recent is not None
                                        or lit.alternatives is not None for suffix in suffixes for lit in suffix):
                out += members
                continue
            first = members[0]
            s = first.state
            alternatives = tuple((suffix, r.state.path[n_path:], r.state.pins.snat, r.policy)
                                 for suffix, r in zip(suffixes, members, strict=True))
            lits = start.lits
            if all(suffixes):
                expr = disj([conj([lit.expr for lit in suffix]) for suffix in suffixes])
                merged = Lit(_MERGED_RULE, Match(), True, expr, expr, expr.as_ast(), expr, expr.as_ast(),
                             tuple(suffixes))
                lits = (*lits, merged)
            out.append(PathResult(first.hook, State(lits, s.pins, s.mark, s.dnat, start.path, s.sets), first.verdict,
                                  first.masquerade, first.local,
                                  first.policy if all(r.policy == first.policy for r in members) else None,
                                  alternatives))
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
            atoms.append(neg(t.equals(p.proto, proto_number(m.proto.value)), m.proto.negated))
        for field, iface in (("iif", m.iif), ("oif", m.oif)):
            if iface is not None:
                self.ifaces[field].add(iface.name)
                atoms.append(neg(p.iface(field, iface.name), iface.negated))
        for op in m.opaque:
            self.opaque[op.key] = self.opaque.get(op.key, 0) + 1
            atoms.append(neg(p.opaque(op.key), op.negated))
        if m.recent is not None:
            atoms.append(neg(p.recent(m.recent.name), m.recent.negated))
        for sm in m.sets:
            atoms.append(neg(self.set_expr(sm), sm.negated))
        if m.probability is not None:
            atoms.append(p.random(rule))
        return t.and_(atoms)

    def set_expr(self, sm: SetMatch) -> z3.BoolRef:
        """The packet's fields are those of one of the set's members: a disjunction, factored for the solver:
        members alike but for their addresses share one disjunction of addresses, and members whose source and
        destination are one and the same address (KUBE-LOOP-BACK's hairpin members) say so as `src = dst`."""
        found = self._set_exprs.get(id(sm))
        if found is not None:
            return found[1]
        p, t = self.pkt, self.pkt.terms
        fields = {"src": p.src, "dst": p.dst, "sport": p.sport, "dport": p.dport}
        groups: dict[tuple[SetConstraint, ...], list[tuple[Net | None, Net | None]]] = {}
        for member in sm.members:
            at = {f: k for k, (f, _) in reversed(list(enumerate(member))) if f in ("src", "dst")}  # the first of each
            dst = cast(Net, member[at["dst"]][1]) if "dst" in at else None
            src = cast(Net, member[at["src"]][1]) if "src" in at else None
            others = tuple(c for k, c in enumerate(member) if k not in at.values())
            groups.setdefault(others, []).append((dst, src))
        disjuncts = []
        for others, pairs in groups.items():
            atoms = []
            for f, v in others:
                if f == "proto":
                    atoms.append(t.equals(p.proto, proto_number(cast(str, v))))
                elif f in ("src", "dst"):
                    atoms.append(p.in_net(fields[f], cast(Net, v)))
                elif f in ("sport", "dport"):
                    atoms.append(t.equals(fields[f], cast(int, v)))
                else:
                    self.ifaces[f].add(cast(str, v))
                    atoms.append(p.iface(f, cast(str, v)))
            if all(d is not None and d == s and d.prefixlen == 32 for d, s in pairs):
                atoms += [t.eq(p.src, p.dst), t.or_([p.in_net(p.dst, cast(Net, d)) for d, _ in pairs])]
            elif all(s is None for _, s in pairs) or all(d is None for d, _ in pairs):
                atoms.append(t.or_([p.in_net(p.dst, d) if d is not None else p.in_net(p.src, cast(Net, s))
                                    for d, s in pairs if d is not None or s is not None] or [t.true]))
            else:
                atoms.append(t.or_([t.and_([p.in_net(p.dst, d) for d in (d,) if d is not None]
                                           + [p.in_net(p.src, s) for s in (s,) if s is not None])
                                    for d, s in pairs]))
            disjuncts.append(t.and_(atoms))
        expr = t.or_(disjuncts)
        self._set_exprs[id(sm)] = (sm, expr)
        return expr

    def route_dev(self, addr: str) -> str | None:
        """The output device of the longest route to `addr` (None: no routes given, or none matches)."""
        found = self._route_cache.get(addr, "?")
        if found == "?":
            a = host(addr)
            found = next((dev for net, dev in self.routes if a.subnet_of(net)), None)
            self._route_cache[addr] = found
        return found

    def _routed_oif(self, st: State, oif: str | None) -> str | None:
        if oif is not None or not self.routes:
            return oif
        if st.dnat is not None:
            return self.route_dev(st.dnat[0])
        dst = st.pins.dst
        if dst is not None and dst.prefixlen == 32:
            return self.route_dev(str(dst.network_address))
        return None

    def iface_axioms(self) -> z3.BoolRef:
        """What holds of the interface Booleans met so far: a packet has one input and one output interface; a
        name matches exactly the `+` prefixes it starts with; a longer prefix implies the shorter ones."""
        t, facts = self.pkt.terms, []
        for direction, patterns in self.ifaces.items():
            names = sorted(n for n in patterns if not n.endswith("+"))
            prefixes = sorted(n for n in patterns if n.endswith("+"))
            atom = functools.partial(self.pkt.iface, direction)
            for i, a in enumerate(names):
                facts += [t.not_(t.and_([atom(a), atom(b)])) for b in names[i + 1:]]
                facts += [t.implies(atom(a), atom(p) if iface_matches(p, a) else t.not_(atom(p))) for p in prefixes]
            for p in prefixes:
                facts += [t.implies(atom(p), atom(q)) for q in prefixes if q != p and p.startswith(q[:-1])]
        default = next((dev for net, dev in self.routes if net.prefixlen == 0), None)
        for pattern in sorted(self.ifaces["iif"]):
            covered = [net for net, dev in self.routes if iface_matches(pattern, dev)]
            if covered and not iface_matches(pattern, default or ""):
                facts.append(t.implies(self.pkt.iface("iif", pattern),
                                       t.or_([self.pkt.in_net(self.pkt.src, net) for net in covered])))
        return t.and_(facts)

    def local_expr(self, var: z3.BitVecRef) -> z3.BoolRef:
        """`var` is a local address. With many local addresses (IPVS mode binds every Service address to
        kube-ipvs0) a Boolean of its own, defined once in `local_defs` (a solver holds them at its base level
        instead of taking the disjunction in again for every query); else the disjunction itself."""
        key = str(var)
        cached = self._locals.get(key)
        if cached is None:
            t = self.pkt.terms
            disjunction = t.or_([self.pkt.in_net(var, n) for n in self.local_nets])
            if len(self.local_nets) <= LOCAL_INLINE:
                cached = disjunction
            else:
                cached = t.bool_const(f"local:{key}")
                self.local_defs.append(t.eq(cached, disjunction))
                self.local_consts.append((key, cached))
            self._locals[key] = cached
        return cached

    def local_values(self, values: dict[str, int]) -> list[tuple[z3.BoolRef, z3.BoolRef]]:
        """The local_expr Booleans of the addresses in `values` (by name: "src", "dst"), evaluated: what to
        substitute along with the addresses."""
        t = self.pkt.terms
        return [(const, t.true if self.is_local(host(str(ipaddress.ip_address(values[key])))) else t.false)
                for key, const in self.local_consts if key in values]

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


def _result(hook: str, st: State, kind: str, local: bool) -> PathResult:
    if kind.startswith("policy:"):
        return PathResult(hook, st, "drop", False, local, kind[len("policy:"):])
    return PathResult(hook, st, kind, bool(st.pins.snat), local)


def _ipvs_option(key: str, pins: Pins) -> bool | None:
    """An `-m ipvs` option (xt_ipvs: --ipvs, --vaddr, --vport, --vproto) on a path of IPVS mode: decided by
    whether IPVS scheduled the packet and by its virtual service (the pinned original destination); None when
    the pins do not decide it (the match stays opaque)."""
    words = key.split()[2:]
    if not words or words[0] not in ("--ipvs", "--vaddr", "--vport", "--vproto"):
        return None
    if not pins.ipvs or words[0] == "--ipvs":
        return pins.ipvs
    if len(words) != 2:
        return None
    option, value = words
    if option == "--vaddr":
        if pins.dst is None or pins.dst.prefixlen != 32:
            return None
        try:
            return pins.dst.subnet_of(Net(value, strict=False))
        except ValueError:
            return None
    if option == "--vport":
        if pins.dport is None or not value.isdigit():
            return None
        return pins.dport == int(value)
    if pins.proto is None:
        return None
    return value.lower() == pins.proto or (value.isdigit() and int(value) == proto_number(pins.proto))


def _carry(entry: Pins, after: Pins, caller: Pins) -> Pins:
    """The caller's pins with what a shared walk changed of `entry` (protocol, conntrack state, masquerade)."""
    if after == entry:
        return caller
    return caller._replace(proto=after.proto, untracked=after.untracked, snat=after.snat, ipvs=after.ipvs)


def _mark_after(mark: int, op: tuple[str, int, int]) -> int:
    """MARK / CONNMARK --set-xmark, --set-mark, --or-mark, --and-mark, --xor-mark on a packet mark."""
    kind, value, mask = op
    if kind == "or":
        out = mark | value
    elif kind == "xor":
        out = mark ^ value
    elif kind == "and":
        out = mark & value
    elif kind == "setor":
        out = (mark & ~mask) | value
    else:
        out = (mark & ~mask) ^ value
    return out & 0xFFFFFFFF


def _option_mask(options: tuple[str, ...], names: tuple[str, ...]) -> int:
    for i, word in enumerate(options[:-1]):
        if word in names:
            try:
                return int(options[i + 1], 0) & 0xFFFFFFFF
            except ValueError:
                return 0xFFFFFFFF
    return 0xFFFFFFFF


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
                   recent: frozenset[str], atoms: frozenset[str] = frozenset()) -> bool:
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
    # `atoms`: the interface ("iif:NAME", "oif:NAME") and opaque ("opaque:KEY") conditions true of the packet.
    for direction, iface in (("iif", m.iif), ("oif", m.oif)):
        if iface is not None:
            checks.append(iface.negated != (f"{direction}:{iface.name}" in atoms))
    checks += [op.negated != (f"opaque:{op.key}" in atoms) for op in m.opaque]
    for sm in m.sets:
        values: dict[str, int | str] = {"src": src, "dst": dst, "dport": dport, "proto": proto}
        checks.append(sm.negated != (member_of(sm, values, atoms) is not None))
    return all(checks)


def member_of(sm: SetMatch, values: dict[str, int | str], atoms: frozenset[str]) -> int | None:
    """The index of the first member of the set whose constraints a concrete packet meets (`values`: its src, dst
    (addresses as integers), dport, sport, proto; `atoms` as in concrete_holds: "iif:NAME" for its interfaces);
    None when it meets none. A field absent from `values` is taken as met (as concrete_holds takes `sport`)."""
    for i, member in enumerate(sm.members):
        for f, v in member:
            if f in ("iif", "oif"):
                if f"{f}:{v}" not in atoms:
                    break
                continue
            known = values.get(f)
            if known is None:
                continue
            if isinstance(v, Net):
                if (cast(int, known) & int(v.netmask)) != int(v.network_address):
                    break
            elif known != v:
                break
        else:
            return i
    return None


def _resolve_set(sm: SetMatch, known: Mapping[str, object]) -> SetMatch | bool:
    """set_residual's work: the members the known fields leave possible (see there)."""
    dst = known.get("dst")
    if isinstance(dst, Net) and dst.prefixlen == 32:
        candidates: Iterable[int] = sm.lookup("dst", dst)
    elif "dport" in known:
        candidates = sm.lookup("dport", known["dport"])
    else:
        candidates = range(len(sm.members))
    members: list[tuple[SetConstraint, ...]] = []
    labels: list[str] = []
    narrowed = False
    for i in candidates:
        member = sm.members[i]
        rest: list[SetConstraint] = []
        for constraint in member:
            value = known.get(constraint[0])
            decided = None if value is None else _decide(constraint, value)
            if decided is None:
                rest.append(constraint)
            elif not decided:
                break
        else:
            if not rest:
                return not sm.negated  # the packet is this member
            narrowed = narrowed or len(rest) < len(member)
            members.append(tuple(rest))
            labels.append(sm.labels[i])
    if not members:
        return sm.negated
    if not narrowed and len(members) == len(sm.members):
        return sm
    return SetMatch(sm.name, sm.flags, sm.negated, tuple(members), tuple(labels))


def _decide(constraint: SetConstraint, value: object) -> bool | None:
    """Whether a known field value meets a member's constraint (None: a pinned network that only overlaps)."""
    field, want = constraint
    if isinstance(want, Net):
        assert isinstance(value, Net)
        if value.subnet_of(want):
            return True
        return None if value.overlaps(want) else False
    if field in ("iif", "oif"):
        return iface_matches(cast(str, want), cast(str, value))
    return value == want


def _pin_members(pins: Pins, sm: SetMatch, before_dnat: bool) -> Pins:
    """The pins after asserting that the packet is one of the set's members: the fields they all agree on."""
    common = sm.common()
    if not common:
        return pins
    proto = common.get("proto")
    if isinstance(proto, str) and pins.proto != proto:
        pins = pins._replace(proto=proto)
    if before_dnat:
        dst = common.get("dst")
        if isinstance(dst, Net) and dst != pins.dst and (pins.dst is None or dst.subnet_of(pins.dst)):
            pins = pins._replace(dst=dst)
        dport = common.get("dport")
        if isinstance(dport, int) and pins.dport != dport:
            pins = pins._replace(dport=dport)
    return pins

