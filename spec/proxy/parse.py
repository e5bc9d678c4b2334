"""`iptables-save` / `iptables-save -c` / `iptables -S` text to rules with structured matches and targets.

Reads everything a real node's dump can hold, as iptables-restore reads it (iptables
iptables/iptables-restore.c and xshared.c add_param_to_argv for the quoting; upstream Kubernetes
pkg/util/iptables/testing/parse.go reads the subset kube-proxy writes):
- lines: `*table`, `:CHAIN POLICY [pkts:bytes]`, `-A`/`-I`/`-N`/`-P`/`-F`/`-X`, `COMMIT`, comments, the
  `[pkts:bytes]` prefix of `iptables-save -c` and `-c PKTS BYTES` of `iptables -S -v`;
- modelled matches: -s/-d/-p/-i/-o (interfaces with `+` wildcards), tcp/udp/sctp ports, mark, conntrack/state
  ctstate, addrtype LOCAL, statistic random, recent (--set/--rcheck/--update with --name/--seconds/--reap,
  --mask and --rsource as iptables-save prints them), comment and nfacct (they match everything);
- every other match (physdev, set, connmark, multiport, limit, owner, other address types, conntrack's other
  options, ...) is an *opaque* condition: one free Boolean per option text, so a proof holds whatever it is;
- targets: ACCEPT, DROP, REJECT, RETURN, DNAT, SNAT, MASQUERADE, REDIRECT, MARK, CONNMARK, user chains (-j and
  -g), and the targets that let the packet go on unchanged (LOG, NFLOG, CHECKSUM, TCPMSS, NOTRACK/CT, ...) or
  take it away from the rules (TPROXY, NFQUEUE, ...).
What iptables-restore rejects is an InputError `<problem> (<file>:<line>)`: a bad port, mark, probability,
address or policy, `! !`, a dangling `!`, an unknown conntrack state, a table given twice, a jump to a chain the
table does not declare, a jump loop. The parser is linear in the input (no shlex: a regex tokenizer).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from fractions import Fraction

import attrs

from checker.errors import InputError

BUILTIN_CHAINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
PROTOCOL_NUMBERS = {"tcp": 6, "udp": 17, "sctp": 132, "icmp": 1}
OTHER_PROTOCOLS = {"ipip": 4, "egp": 8, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58,
                   "udplite": 136, "mh": 135, "igmp": 2, "vrrp": 112, "ospf": 89, "pim": 103, "l2tp": 115}
# Targets that end the packet's walk through the table (or the chain, for RETURN).
TERMINAL_TARGETS = ("ACCEPT", "DROP", "REJECT", "RETURN", "DNAT", "SNAT", "MASQUERADE", "REDIRECT")
# Targets that take the packet out of the rules (to a socket, a queue, a proxy): the walk ends there, with this
# target as the outcome; the verifier reports what that means for a Service packet.
DIVERTING_TARGETS = ("TPROXY", "NFQUEUE", "QUEUE", "SYNPROXY", "NETMAP")
# Targets that let the packet go on and change nothing the rules or the verifier read.
PASSIVE_TARGETS = ("LOG", "NFLOG", "ULOG", "CHECKSUM", "TCPMSS", "TRACE", "DSCP", "TOS", "TTL", "HL", "CLASSIFY",
                   "SET", "AUDIT", "CONNSECMARK", "SECMARK", "IDLETIMER", "LED", "RATEEST", "ECN", "TEE",
                   "NFACCT", "CLUSTERIP")
EFFECT_TARGETS = ("MARK", "CONNMARK", "NOTRACK", "CT")
CT_STATES = frozenset({"INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED", "SNAT", "DNAT"})
MAX_COMMENT = 256  # xt_comment: XT_MAX_COMMENT_LEN
MAX_CHAIN_NAME = 28  # XT_EXTENSION_MAXNAMELEN - 1
# Options that take no value (the rest take one, or what follows up to the next option; see _take_values).
_FLAGS = frozenset({
    "--rsource", "--rdest", "--set", "--rcheck", "--update", "--remove", "--reap", "--rttl", "--random",
    "--random-fully", "--persistent", "--physdev-is-in", "--physdev-is-out", "--physdev-is-bridged", "--syn",
    "--log-tcp-sequence", "--log-tcp-options", "--log-ip-options", "--log-uid", "--log-macdecode",
    "--checksum-fill", "--save-mark", "--restore-mark", "--notrack", "--clamp-mss-to-pmtu", "--return-nomatch",
    "--update-counters", "--update-subcounters", "--limit-iface-in", "--limit-iface-out", "--transparent",
    "--nowildcard", "--restore", "--save", "--strict", "--loose", "--validmark", "--accept-local", "--invert",
    "--exist", "--exact", "--ecn-tcp-remove", "--fragres", "--fragfirst", "--fragmore", "--fraglast",
    "--match-set-flags", "--no-flags",
})
_TOKEN = re.compile(r'(?:[^\s"]+|"(?:[^"\\]|\\.)*")+|"')
_UNESCAPE = re.compile(r"\\(.)")
_PORT = re.compile(r"(\d{1,5})?(?::(\d{1,5})?)?")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]{1,8}|\d{1,10}")
_PROBABILITY = re.compile(r"(?:\d{1,3}(?:\.\d{0,30})?|\.\d{1,30})")
_COUNTERS = re.compile(r"\[\d{1,20}:\d{1,20}\]")
_NAME = re.compile(r"[A-Za-z0-9_.:+@-][^\s]*")
_NEGATIVE = re.compile(r"-\d+")


@attrs.frozen
class Addr:
    network: ipaddress.IPv4Network
    negated: bool = False


@attrs.frozen
class Ports:
    lo: int
    hi: int
    negated: bool = False


@attrs.frozen
class Flag:
    """A negatable string-valued match (protocol, address type)."""

    value: str
    negated: bool = False


@attrs.frozen
class Iface:
    """-i / -o NAME; a trailing `+` matches every interface whose name starts with the rest."""

    name: str
    negated: bool = False

    @property
    def wildcard(self) -> bool:
        return self.name.endswith("+")


@attrs.frozen
class MarkMatch:
    value: int
    mask: int
    negated: bool = False


@attrs.frozen
class CtState:
    states: frozenset[str]
    negated: bool = False


@attrs.frozen
class Recent:
    name: str
    mode: str  # "set", "rcheck" or "update"
    seconds: int | None = None
    reap: bool = False
    negated: bool = False


@attrs.frozen
class Opaque:
    """A match the rules' semantics here do not model: `key` (the option as written) holds or not."""

    key: str
    negated: bool = False


# A set member's constraint on one packet field: ("src" | "dst", network), ("proto", name), ("sport" | "dport",
# port), ("iif" | "oif", interface name).
SetConstraint = tuple[str, "ipaddress.IPv4Network | int | str"]


@attrs.frozen(eq=False)
class SetMatch:
    """`-m set [!] --match-set NAME FLAGS` with what the set holds (ipset.resolve_sets): the packet's fields, in
    the flags' directions, are (or with `!` are not) those of one of `members`, each a conjunction of constraints.
    One condition, however many members (symbolic.py decides it by lookup where the path pins the fields, else
    keeps it as one literal). Compared by identity: the same rule's match is one object."""

    name: str
    flags: str
    negated: bool
    members: tuple[tuple[SetConstraint, ...], ...]
    labels: tuple[str, ...]  # each member as `SET member a,b,c` (the set it is in: list:set members name theirs)
    _by: dict[str, tuple[dict[object, tuple[int, ...]], tuple[int, ...]]] = attrs.field(factory=dict, repr=False)
    _common: list[dict[str, object]] = attrs.field(factory=list, repr=False)

    @property
    def key(self) -> str:
        return f"-m set --match-set {self.name} {self.flags}"

    def lookup(self, field: str, value: object) -> tuple[int, ...]:
        """Indices of the members that may hold where `field` is `value` (a /32 network or a port): those
        constraining it to exactly that value, and those not constraining it to a single value."""
        found = self._by.get(field)
        if found is None:
            exact: dict[object, list[int]] = {}
            rest: list[int] = []
            for i, member in enumerate(self.members):
                single = [v for f, v in member if f == field and (
                    not isinstance(v, ipaddress.IPv4Network) or v.prefixlen == 32)]
                if single:
                    exact.setdefault(single[0], []).append(i)
                else:
                    rest.append(i)
            found = self._by[field] = ({k: tuple(v) for k, v in exact.items()}, tuple(rest))
        exact_index, rest_index = found
        hit = exact_index.get(value, ())
        return tuple(sorted((*hit, *rest_index))) if rest_index and hit else (hit or rest_index)

    def common(self) -> dict[str, object]:
        """The fields every member constrains to one and the same value (what asserting membership pins)."""
        if not self._common:
            first = dict(self.members[0]) if self.members else {}
            self._common.append({f: v for f, v in first.items()
                                 if all((f, v) in member for member in self.members[1:])})
        return self._common[0]


@attrs.frozen
class Match:
    src: Addr | None = None
    dst: Addr | None = None
    proto: Flag | None = None
    dport: Ports | None = None
    sport: Ports | None = None
    src_type: Flag | None = None
    dst_type: Flag | None = None
    mark: MarkMatch | None = None
    ctstate: CtState | None = None
    recent: Recent | None = None
    probability: str | None = None
    comment: str | None = None
    nfacct: str | None = None
    iif: Iface | None = None
    oif: Iface | None = None
    opaque: tuple[Opaque, ...] = ()
    sets: tuple[SetMatch, ...] = ()  # ipset matches with the sets' contents (ipset.resolve_sets)

    @property
    def probability_value(self) -> Fraction | None:
        return None if self.probability is None else Fraction(self.probability)


@attrs.frozen
class Target:
    """-j NAME (or -g NAME) and its options. `chain` is True for a jump to a user chain."""

    name: str
    chain: bool = False
    to: str | None = None  # DNAT --to-destination / SNAT --to-source / REDIRECT --to-ports
    mark_op: tuple[str, int, int] | None = None  # ("or"|"xor"|"and"|"set"|"setor", value, mask)
    options: tuple[str, ...] = ()
    goto: bool = False

    @property
    def kind(self) -> str:
        """"chain", "terminal", "divert", "passive" or "effect"."""
        if self.chain:
            return "chain"
        if self.name in TERMINAL_TARGETS:
            return "terminal"
        if self.name in DIVERTING_TARGETS:
            return "divert"
        if self.name in EFFECT_TARGETS:
            return "effect"
        return "passive"


@attrs.frozen
class Rule:
    table: str
    chain: str
    index: int
    line: int  # 0 for synthesized rules
    text: str
    match: Match
    target: Target | None
    source: str = ""
    owner: str = ""  # "kube-proxy" when known (nftables mode's table); "" decides by the chain's name

    def where(self) -> str:
        return f"line {self.line}" if self.line else "synthesized"


@attrs.frozen
class Chain:
    name: str
    policy: str | None  # builtin chains only
    rules: tuple[Rule, ...]


@attrs.frozen
class Dump:
    tables: Mapping[str, Mapping[str, Chain]]
    # Base chains of other nftables tables, per hook ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"):
    # (priority, table, chain, is a nat chain), each a stage of its own between the iptables tables' (symbolic.py).
    stages: Mapping[str, tuple[tuple[int, str, str, bool], ...]] = attrs.field(factory=dict)
    # nftables mode from v1.36 (PR #136499): hairpin traffic is masqueraded through the hairpin-connections set,
    # which holds this node's endpoints only; earlier releases (and iptables mode) mark every endpoint's own
    # traffic in its per-endpoint chain. Read off kube-proxy's table (the set's presence).
    hairpin_local_only: bool = False

    def chain(self, table: str, name: str) -> Chain | None:
        return self.tables.get(table, {}).get(name)


def shorten(text: str, limit: int = 80) -> str:
    """A line for a message: control characters escaped, long text cut."""
    text = text.encode("unicode_escape", "backslashreplace").decode("ascii") if not text.isprintable() else text
    return text if len(text) <= limit else text[:limit] + "..."


class _Fail:
    def __init__(self, source: str, line_no: int) -> None:
        self.where = f"{source}:{line_no}"

    def __call__(self, problem: str) -> InputError:
        return InputError(f"{problem} ({self.where})")


def tokenize(text: str, fail: _Fail) -> list[tuple[str, bool]]:
    """Split a rule as iptables-restore does: blanks separate words, double quotes group (backslash escapes
    inside them). Returns (word, quoted) pairs. Linear in the line's length."""
    out: list[tuple[str, bool]] = []
    for m in _TOKEN.finditer(text):
        word = m.group(0)
        if word == '"':
            raise fail("unterminated quote")
        if '"' in word:
            parts = re.split(r'("(?:[^"\\]|\\.)*")', word)
            word = "".join(_UNESCAPE.sub(r"\1", p[1:-1]) if p.startswith('"') else p for p in parts)
            out.append((word, True))
        else:
            out.append((word, False))
    return out


@functools.lru_cache(maxsize=65536)
def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _addr(value: str, negated: bool, fail: _Fail) -> Addr:
    if "," in value:
        raise fail(f"address lists ({shorten(value)}) are expanded by iptables into one rule per address; "
                   "iptables-save never prints them")
    net = _network(value) if len(value) < 64 else None
    if net is None:
        raise fail(f"bad address {shorten(value)!r}")
    if not isinstance(net, ipaddress.IPv4Network):
        raise fail(f"IPv6 address {shorten(value)!r} in an IPv4 dump")
    return Addr(net, negated)


def _ports(value: str, negated: bool, fail: _Fail) -> Ports:
    m = _PORT.fullmatch(value)
    if not m or not value:
        raise fail(f"invalid port/service {shorten(value)!r} specified")
    lo = int(m.group(1)) if m.group(1) else 0
    hi = (int(m.group(2)) if m.group(2) else 65535) if ":" in value else lo
    if lo > 65535 or hi > 65535:
        raise fail(f"port {lo if lo > 65535 else hi} out of range (0-65535)")
    if lo > hi:
        raise fail(f"port range {value} is empty")
    return Ports(lo, hi, negated)


def _number(value: str, what: str, fail: _Fail, limit: int = 0xFFFFFFFF) -> int:
    if not _NUMBER.fullmatch(value):
        raise fail(f"bad {what} {shorten(value)!r}")
    n = int(value, 16) if value[:2].lower() == "0x" else int(value)
    if n > limit:
        raise fail(f"{what} {shorten(value)} is out of range (at most {limit:#x})")
    return n


def _mark(value: str, fail: _Fail) -> tuple[int, int]:
    val, slash, mask = value.partition("/")
    return _number(val, "mark", fail), (_number(mask, "mark mask", fail) if slash else 0xFFFFFFFF)


def _probability(value: str, fail: _Fail) -> str:
    if not _PROBABILITY.fullmatch(value):
        raise fail(f"bad probability {shorten(value)!r}")
    if not 0 <= Fraction(value) <= 1:
        raise fail(f"probability {value} is not between 0 and 1")
    return value


class _RuleParser:
    """One `-A CHAIN ...` rule; the module a `--option` belongs to is the last `-m` (or the protocol's)."""

    def __init__(self, table: str, words: list[tuple[str, bool]], fail: _Fail,
                 chains: Mapping[str, object] | None = None) -> None:
        self.chains = chains if chains is not None else {}
        self.table = table
        self.words = words
        self.fail = fail
        self.i = 0
        self.fields: dict[str, object] = {}
        self.opaque: list[Opaque] = []
        self.modules: list[str] = []
        self.target: Target | None = None
        self.recent: dict[str, object] = {}
        self.statistic: dict[str, object] = {}
        self.nth: list[tuple[str, str, bool]] = []

    def value(self, option: str) -> str:
        if self.i >= len(self.words) or (self.words[self.i][0] == "!" and not self.words[self.i][1]):
            raise self.fail(f"option {option} requires an argument")
        word = self.words[self.i][0]
        self.i += 1
        return word

    def values(self, option: str) -> list[str]:
        """An option's values: the words up to the next option (quoted words are always values)."""
        out: list[str] = []
        while self.i < len(self.words):
            word, quoted = self.words[self.i]
            if not quoted and (word == "!" or (word.startswith("-") and not _NEGATIVE.fullmatch(word))):
                break
            out.append(word)
            self.i += 1
        return out

    def put(self, key: str, val: object) -> None:
        if key in self.fields:
            raise self.fail(f"multiple {key} matches are not allowed in one rule")
        self.fields[key] = val

    def opaque_option(self, module: str, option: str, negated: bool) -> None:
        vals = [] if option in _FLAGS else self.values(option)
        key = " ".join([f"-m {module}" if module else "", option, *vals]).strip()
        self.opaque.append(Opaque(key, negated))

    def parse(self) -> tuple[str, Match, Target | None]:
        words, fail = self.words, self.fail
        if len(words) < 2:
            raise fail("a rule needs a chain")
        chain = words[1][0]
        self.i = 2
        negate = False
        while self.i < len(words):
            word, quoted = words[self.i]
            self.i += 1
            if word == "!" and not quoted:
                if negate:
                    raise fail("multiple consecutive ! not allowed")
                negate = True
                continue
            neg, negate = negate, False
            if quoted or not word.startswith("-"):
                raise fail(f"bad argument {shorten(word)!r}")
            if self.target is not None and word.startswith("--"):
                self.target_option(word, neg)
            elif word in ("-s", "--source", "--src"):
                self.put("src", _addr(self.value(word), neg, fail))
            elif word in ("-d", "--destination", "--dst"):
                self.put("dst", _addr(self.value(word), neg, fail))
            elif word in ("-p", "--protocol"):
                proto = self.value(word).lower()
                if proto in ("all", "0"):
                    if neg:
                        raise fail("rule would never match protocol")
                    continue
                if proto.isdigit():
                    number = int(proto) if len(proto) <= 3 else 256
                    if number > 255:
                        raise fail(f"unknown protocol {shorten(proto)!r} specified")
                    proto = next((n for n, v in PROTOCOL_NUMBERS.items() if v == number), proto)
                elif proto not in PROTOCOL_NUMBERS and proto not in OTHER_PROTOCOLS:
                    raise fail(f"unknown protocol {shorten(proto)!r} specified")
                self.put("proto", Flag(proto, neg))
            elif word in ("-i", "--in-interface", "-o", "--out-interface"):
                name = self.value(word)
                if not name or len(name) > 15 or "/" in name or name in (".", ".."):
                    raise fail(f"bad interface name {shorten(name)!r}")
                self.put("iif" if word in ("-i", "--in-interface") else "oif", Iface(name, neg))
            elif word in ("-f", "--fragment"):
                self.opaque.append(Opaque("-f", neg))
            elif word in ("-m", "--match"):
                if neg:
                    raise fail("unexpected ! before -m")
                module = self.value(word)
                if not re.fullmatch(r"[A-Za-z0-9_]{1,28}", module):
                    raise fail(f"couldn't load match {shorten(module)!r}")
                self.modules.append(module)
            elif word in ("-j", "--jump", "-g", "--goto"):
                if neg:
                    raise fail(f"cannot have ! before {word}")
                if self.target is not None:
                    raise fail("multiple -j/-g flags not allowed")
                name = self.value(word)
                if not _NAME.fullmatch(name) or len(name) > MAX_CHAIN_NAME + 1:
                    raise fail(f"bad target name {shorten(name)!r}")
                self.target = Target(name, chain=name in self.chains, goto=word in ("-g", "--goto"))
            elif word in ("-c", "--set-counters"):
                for what in ("packet", "byte"):
                    count = self.value(word)
                    if not count.isdigit() or len(count) > 20:
                        raise fail(f"bad {what} counter {shorten(count)!r}")
            elif word.startswith("--"):
                self.match_option(word, neg)
            else:
                raise fail(f"unknown option {shorten(word)!r}")
        if negate:
            raise fail("! at the end of the rule negates nothing")
        return chain, self.finish(), self.target

    def module_of(self, option: str) -> str:
        """The loaded module that takes the option, as iptables gives it: the last loaded that knows it (a module
        modelled here knows its own options; any other is taken to know every option no other loaded knows)."""
        proto = self.fields.get("proto")
        implicit = [proto.value] if isinstance(proto, Flag) and proto.value in ("tcp", "udp", "sctp") else []
        loaded = [*implicit, *self.modules]
        for module in reversed(loaded):
            if option in _MODULE_OPTIONS.get(module, ()):
                return module
        claimed = any(option in _MODULE_OPTIONS.get(m, ()) for m in loaded)
        for module in reversed(self.modules):
            if module not in _MODULE_OPTIONS and not claimed:
                return module
        return ""

    def match_option(self, option: str, neg: bool) -> None:
        fail = self.fail
        module = self.module_of(option)
        if not module:
            raise fail(f"unknown option {shorten(option)!r} (no loaded match takes it)")
        if module in ("tcp", "udp", "sctp") and option in ("--dport", "--destination-port", "--sport",
                                                             "--source-port"):
            key = "dport" if option in ("--dport", "--destination-port") else "sport"
            self.put(key, _ports(self.value(option), neg, fail))
        elif module == "comment":
            text = self.value(option)
            if len(text.encode()) > MAX_COMMENT - 1:
                raise fail(f"comment is {len(text.encode())} bytes: COMMENT must be shorter than {MAX_COMMENT}")
            self.fields["comment"] = text
        elif module == "nfacct":
            self.fields["nfacct"] = self.value(option)
        elif module == "mark" and option == "--mark":
            value, mask = _mark(self.value(option), fail)
            self.put("mark", MarkMatch(value & mask, mask, neg))
        elif module in ("conntrack", "state") and option in ("--ctstate", "--state"):
            raw = self.value(option)
            states = frozenset(s.upper() for s in raw.split(","))
            allowed = CT_STATES if module == "conntrack" else CT_STATES - {"SNAT", "DNAT"}
            bad = sorted(states - allowed)
            if bad or not raw:
                raise fail(f"bad ctstate {shorten(bad[0] if bad else raw)!r}")
            self.put("ctstate", CtState(states, neg))
        elif module == "addrtype" and option in ("--src-type", "--dst-type"):
            kinds = self.value(option)
            for kind in kinds.split(","):
                if kind not in _ADDRTYPES:
                    raise fail(f"bad address type {shorten(kind)!r}")
            if kinds == "LOCAL":
                self.put("src_type" if option == "--src-type" else "dst_type", Flag(kinds, neg))
            else:
                self.opaque.append(Opaque(f"-m addrtype {option} {kinds}", neg))
        elif module == "statistic":
            if option == "--mode":
                mode = self.value(option)
                if mode not in ("random", "nth"):
                    raise fail(f"bad statistic mode {shorten(mode)!r}")
                self.statistic["mode"] = mode
            elif option == "--probability":
                self.statistic["probability"] = _probability(self.value(option), fail)
                self.statistic["negated"] = neg
            else:
                self.nth.append((option, self.value(option), neg))
        elif module == "recent":
            self.recent_option(option, neg)
        else:
            self.opaque_option(module, option, neg)

    def recent_option(self, option: str, neg: bool) -> None:
        fail, rec = self.fail, self.recent
        if option in ("--set", "--rcheck", "--update", "--remove"):
            if "mode" in rec:
                raise fail("recent: only one of --set, --rcheck, --update or --remove")
            rec["mode"] = option[2:]
            rec["negated"] = neg
        elif option == "--name":
            rec["name"] = self.value(option)
        elif option == "--seconds":
            rec["seconds"] = _number(self.value(option), "recent --seconds", fail)
        elif option == "--reap":
            rec["reap"] = True
        elif option == "--mask":
            mask = self.value(option)
            if mask != "255.255.255.255":
                rec["other"] = True
                self.opaque.append(Opaque(f"-m recent --mask {mask}", False))
        elif option == "--rsource":
            pass
        elif option in ("--rdest", "--hitcount", "--rttl"):
            rec["other"] = True
            vals = [] if option in _FLAGS else [self.value(option)]
            self.opaque.append(Opaque(" ".join(["-m recent", option, *vals]), neg))
        else:
            raise fail(f"unknown option {option!r} of -m recent")

    def target_option(self, option: str, neg: bool) -> None:
        fail, target = self.fail, self.target
        assert target is not None
        if neg:
            raise fail(f"cannot have ! before the target option {option}")
        name = target.name
        if name in ("DNAT", "SNAT") and option in ("--to-destination", "--to-source"):
            to = self.value(option)
            _check_nat_to(to, fail)
            self.target = attrs.evolve(target, to=to)
        elif name in ("MASQUERADE", "REDIRECT") and option == "--to-ports":
            to = self.value(option)
            _ports(to.replace("-", ":"), False, fail)
            self.target = attrs.evolve(target, to=to, options=(*target.options, option, to))
        elif name in ("MARK", "CONNMARK") and option in ("--or-mark", "--xor-mark", "--set-xmark", "--set-mark",
                                                         "--and-mark"):
            raw = self.value(option)
            if option in ("--or-mark", "--xor-mark", "--and-mark"):
                value, mask = _number(raw, "mark", fail), 0xFFFFFFFF
            else:
                value, mask = _mark(raw, fail)
            op = {"--or-mark": "or", "--xor-mark": "xor", "--and-mark": "and", "--set-mark": "setor"}.get(
                option, "set")
            if target.mark_op is not None:
                raise fail(f"{name}: only one mark operation")
            self.target = attrs.evolve(target, mark_op=(op, value, mask))
        else:
            vals = [] if option in _FLAGS else self.values(option)
            self.target = attrs.evolve(target, options=(*target.options, option, *vals))

    def finish(self) -> Match:
        fail, fields = self.fail, self.fields
        rec = self.recent
        if rec:
            if "mode" not in rec:
                raise fail("recent: one of --set, --rcheck, --update or --remove is required")
            if rec["mode"] == "remove":
                self.opaque.append(Opaque(f"-m recent --name {rec.get('name', 'DEFAULT')} --remove",
                                          bool(rec.get("negated"))))
            else:
                fields["recent"] = Recent(name=str(rec.get("name", "DEFAULT")), mode=str(rec["mode"]),
                                          seconds=rec.get("seconds"),  # type: ignore[arg-type]
                                          reap=bool(rec.get("reap")), negated=bool(rec.get("negated")))
        stat = self.statistic
        if stat:
            mode = stat.get("mode")
            if mode == "random":
                if "probability" not in stat:
                    raise fail("statistic --mode random needs --probability")
                if stat.get("negated"):
                    self.opaque.append(Opaque(f"-m statistic ! --probability {stat['probability']}", False))
                else:
                    fields["probability"] = stat["probability"]
            elif mode == "nth":
                for option, val, neg in self.nth:
                    self.opaque.append(Opaque(f"-m statistic --mode nth {option} {val}", neg))
            else:
                raise fail("statistic: --mode is required")
        if self.opaque:
            fields["opaque"] = tuple(self.opaque)
        target = self.target
        if target is not None and target.name == "DNAT" and not target.to:
            raise fail("DNAT: you must specify --to-destination")
        if target is not None and target.name == "SNAT" and not target.to:
            raise fail("SNAT: you must specify --to-source")
        if target is not None and target.name == "MARK" and target.mark_op is None:
            raise fail("MARK target: parameter required")
        return Match(**fields)  # type: ignore[arg-type]


def _check_nat_to(to: str, fail: _Fail) -> None:
    m = re.fullmatch(r"([0-9.]+)(?:-([0-9.]+))?(?::(\d+)(?:-(\d+))?)?", to)
    if not m:
        raise fail(f"bad IP address {shorten(to)!r}")
    for ip in (m.group(1), m.group(2)):
        if ip is not None:
            try:
                ipaddress.IPv4Address(ip)
            except ValueError:
                raise fail(f"bad IP address {shorten(ip)!r}") from None
    for port in (m.group(3), m.group(4)):
        if port is not None and int(port) > 65535:
            raise fail(f"port {port} out of range (0-65535)")


_ADDRTYPES = frozenset({"UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE",
                        "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"})
# The options of the modelled matches (and of tcp/udp/sctp); any option is taken by other modules.
_PORT_OPTIONS = ("--dport", "--destination-port", "--sport", "--source-port")
_MODULE_OPTIONS: dict[str, tuple[str, ...]] = {
    "tcp": (*_PORT_OPTIONS, "--tcp-flags", "--syn", "--tcp-option"),
    "udp": _PORT_OPTIONS,
    "sctp": (*_PORT_OPTIONS, "--chunk-types"),
    "comment": ("--comment",),
    "nfacct": ("--nfacct-name",),
    "mark": ("--mark",),
    "state": ("--state",),
    "addrtype": ("--src-type", "--dst-type", "--limit-iface-in", "--limit-iface-out"),
    "statistic": ("--mode", "--probability", "--every", "--packet"),
    "recent": ("--set", "--rcheck", "--update", "--remove", "--name", "--seconds", "--reap", "--hitcount",
               "--rttl", "--mask", "--rsource", "--rdest"),
    "conntrack": ("--ctstate", "--ctproto", "--ctorigsrc", "--ctorigdst", "--ctreplsrc", "--ctrepldst",
                  "--ctorigsrcport", "--ctorigdstport", "--ctreplsrcport", "--ctrepldstport", "--ctstatus",
                  "--ctexpire", "--ctdir"),
}


def _jump_loops(table: str, chains: dict[str, tuple[str | None, list[Rule]]], source: str) -> None:
    """A jump loop is an error (iptables-restore: "Too many levels of symbolic links"); deep chains are not."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in chains:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        path: list[str] = [root]
        while stack:
            name, pos = stack.pop()
            rules = chains[name][1]
            while pos < len(rules) and not (rules[pos].target is not None and rules[pos].target.chain):  # type: ignore[union-attr]
                pos += 1
            if pos >= len(rules):
                state[name] = 2
                path.pop()
                continue
            rule = rules[pos]
            stack.append((name, pos + 1))
            nxt = rule.target.name  # type: ignore[union-attr]
            if state.get(nxt) == 1:
                loop = [*path[path.index(nxt):], nxt]
                raise InputError(f"jump loop in table {table}: {' -> '.join(loop)} ({source}:{rule.line})")
            if nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, 0))


def decode(data: bytes, source: str) -> str:
    """Dump bytes as text: UTF-8 (iptables-save writes bytes as given, and names are ASCII), else an error."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise InputError(f"not an iptables-save dump: UTF-16 or binary data ({source}:1)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"not UTF-8 text: byte {data[exc.start]:#04x} ({source}:{line})") from None


def parse_dump(text: str, source: str = "<rules>", table: str | None = None) -> Dump:
    """Parse `iptables-save` (or iptables-restore input) text.

    `table` names the table of `iptables -S` output (`-P`/`-N`/`-A` lines without `*table` ... `COMMIT`).
    """
    tables: dict[str, dict[str, tuple[str | None, list[Rule]]]] = {}
    started: dict[str, int] = {}
    current: str | None = None
    default = table
    if default is not None and default not in BUILTIN_CHAINS:
        raise InputError(f"table {default!r} does not exist (one of {', '.join(BUILTIN_CHAINS)})")
    pending: list[tuple[Rule, int]] = []  # rules whose target is checked at COMMIT

    committed: set[str] = set()

    def commit(name: str, line_no: int) -> None:
        committed.add(name)
        chains = tables[name]
        for rule, rule_line in pending:
            target = rule.target
            assert target is not None
            if target.name in chains:
                chains_rule = attrs.evolve(target, chain=True)
                rules = chains[rule.chain][1]
                rules[rule.index] = attrs.evolve(rule, target=chains_rule)
            elif target.goto or target.name not in (*TERMINAL_TARGETS, *DIVERTING_TARGETS, *PASSIVE_TARGETS,
                                                    *EFFECT_TARGETS):
                raise InputError(f"couldn't load target {shorten(target.name)!r}: no such chain in table {name} "
                                 f"({source}:{rule_line})")
        pending.clear()
        _jump_loops(name, chains, source)

    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line_no, raw in enumerate(lines, start=1):
        fail = _Fail(source, line_no)
        line = raw.strip(" \t\r\f\v")
        if not line or line.startswith("#"):
            continue
        if "\x00" in line:
            raise fail("NUL byte in a line")
        if line.startswith("["):
            m = _COUNTERS.match(line)
            if not m:
                raise fail("bad counters (expected [packets:bytes])")
            line = line[m.end():].lstrip()
            if not line.startswith("-"):
                raise fail("counters must be followed by a rule")
        if line.startswith("*"):
            if current is not None:
                raise fail(f"table *{shorten(line[1:])} starts before COMMIT of *{current}")
            name = line[1:].strip()
            if name not in BUILTIN_CHAINS:
                raise fail(f"table {shorten(name)!r} does not exist")
            if name in started:
                raise fail(f"table {name} given twice (first at line {started[name]})")
            started[name] = line_no
            current = name
            tables[name] = {}
            continue
        if line == "COMMIT":
            if current is None:
                raise fail("COMMIT outside a table")
            commit(current, line_no)
            current = None
            continue
        in_table = current
        if in_table is None:
            if default is None or not line.startswith("-"):
                raise fail(f"line outside a table (no *table before it): {shorten(line)}")
            in_table = default
            if in_table not in tables:
                tables[in_table] = {}
                started[in_table] = line_no
        chains = tables[in_table]
        builtin = BUILTIN_CHAINS[in_table]
        if line.startswith(":"):
            parts = line[1:].split()
            if not parts:
                raise fail("empty chain declaration")
            name, policy = parts[0], parts[1] if len(parts) > 1 else "-"
            if len(parts) > 3 or (len(parts) == 3 and not _COUNTERS.fullmatch(parts[2])):
                raise fail(f"bad chain declaration: {shorten(line)}")
            _declare(chains, builtin, name, policy, fail)
            continue
        words = tokenize(line, fail)
        if not words:  # only characters Python splits on (say \x1f): no command, as iptables-restore says
            raise fail(f"bad line: {shorten(line)}")
        op = words[0][0]
        if op in ("-A", "--append", "-I", "--insert"):
            if len(words) < 2:
                raise fail(f"{op} needs a chain")
            chain_name = words[1][0]
            if chain_name not in chains:
                if chain_name in builtin:
                    chains[chain_name] = ("ACCEPT", [])
                else:
                    raise fail(f"chain {shorten(chain_name)!r} does not exist (no ':' declaration before it)")
            position: int | None = None
            if op in ("-I", "--insert"):
                position = 1
                if len(words) > 2 and words[2][0].isdigit():
                    position = int(words[2][0][:9])
                    words = [words[0], words[1], *words[3:]]
                if position < 1 or position > len(chains[chain_name][1]) + 1:
                    raise fail(f"index of insertion {position} too big")
            chain, match, target = _RuleParser(in_table, words, fail, chains).parse()
            rules = chains[chain][1]
            index = len(rules) if position is None else position - 1
            rule = Rule(in_table, chain, index, line_no, line, match, target, source)
            if position is None:
                rules.append(rule)
            else:
                rules.insert(index, rule)
                for k in range(index + 1, len(rules)):
                    rules[k] = attrs.evolve(rules[k], index=k)
                pending[:] = [(r if r.chain != chain or r.index < index else attrs.evolve(r, index=r.index + 1), ln)
                              for r, ln in pending]
            if target is not None and not target.chain:
                pending.append((rule, line_no))
        elif op in ("-N", "--new-chain"):
            if len(words) != 2:
                raise fail("-N takes one chain name")
            _declare(chains, builtin, words[1][0], "-", fail)
        elif op in ("-P", "--policy"):
            if len(words) != 3:
                raise fail("-P takes a chain and a policy")
            name, policy = words[1][0], words[2][0]
            if name not in builtin:
                raise fail(f"bad built-in chain name {shorten(name)!r} for table {in_table}")
            _check_policy(name, policy, fail)
            chains[name] = (policy, chains.get(name, (policy, []))[1])
        elif op in ("-F", "--flush", "-X", "--delete-chain", "-Z", "--zero"):
            if len(words) > 2:
                raise fail(f"{op} takes at most one chain")
            if op in ("-F", "--flush"):
                targets = [words[1][0]] if len(words) == 2 else list(chains)
                for name in targets:
                    if name not in chains:
                        raise fail(f"chain {shorten(name)!r} does not exist")
                    chains[name] = (chains[name][0], [])
                pending[:] = [(r, ln) for r, ln in pending if r.chain not in targets]
            # -X deletes stale chains of kube-proxy's restore input; a deleted chain is one no rule jumps to,
            # so keeping its declaration changes nothing.
        else:
            raise fail(f"unknown command {shorten(op)!r}")
    if current is not None:
        raise InputError(f"table *{current} has no COMMIT ({source}:{len(lines)})")
    if default is not None and default in tables and default not in committed:
        commit(default, len(lines))
    return Dump({t: {c: Chain(c, pol if c in BUILTIN_CHAINS[t] else None, tuple(rs))
                     for c, (pol, rs) in chains.items()} for t, chains in tables.items()})


def _check_policy(name: str, policy: str, fail: _Fail) -> None:
    if policy not in ("ACCEPT", "DROP"):
        raise fail(f"can't set policy {shorten(policy)!r} on built-in chain {name} (ACCEPT or DROP)")


def _declare(chains: dict[str, tuple[str | None, list[Rule]]], builtin: tuple[str, ...], name: str, policy: str,
             fail: _Fail) -> None:
    if name in builtin:
        _check_policy(name, policy, fail)
    else:
        if policy != "-":
            raise fail(f"chain {shorten(name)!r} is not a built-in chain of this table: its policy must be '-'")
        if len(name) > MAX_CHAIN_NAME:
            raise fail(f"chain name {shorten(name)!r} too long (must be under {MAX_CHAIN_NAME + 1} chars)")
        if name.startswith(("-", "!")) or name in TERMINAL_TARGETS or not _NAME.fullmatch(name):
            raise fail(f"invalid chain name {shorten(name)!r}")
    if name in chains:
        if name in builtin and not chains[name][1]:
            chains[name] = (policy, [])
            return
        raise fail(f"chain {shorten(name)!r} declared twice")
    chains[name] = (policy if name in builtin else None, [])


def proto_number(name: str) -> int:
    """The IP protocol number of a -p value as parsed (a name or a number)."""
    if name in PROTOCOL_NUMBERS:
        return PROTOCOL_NUMBERS[name]
    if name in OTHER_PROTOCOLS:
        return OTHER_PROTOCOLS[name]
    return int(name)


def parse_rule(table: str, text: str, chains: set[str] | frozenset[str], index: int = 0, line: int = 0,
               source: str = "<synthesized>") -> Rule:
    """One `-A CHAIN ...` rule on its own; `chains` are the user chains its target may name."""
    fail = _Fail(source, line)
    chain, match, target = _RuleParser(table, tokenize(text, fail), fail).parse()
    if target is not None and target.name in chains:
        target = attrs.evolve(target, chain=True)
    return Rule(table, chain, index, line, text, match, target, source)


_ROUTE_TYPES = ("unicast", "local", "broadcast", "multicast", "blackhole", "unreachable", "prohibit", "throw", "nat",
                "anycast")


def parse_routes(text: str, source: str) -> tuple[tuple[str, str], ...]:
    """`ip -4 route` output: the unicast routes as (CIDR, device). Other route types, and routes of other
    tables than main, are left out (local addresses come from the node's addresses)."""
    out: list[tuple[str, str]] = []
    for line_no, raw in enumerate(text.splitlines(), start=1):
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        kind = "unicast"
        if words[0] in _ROUTE_TYPES:
            kind, words = words[0], words[1:]
        if kind != "unicast" or not words:
            continue
        if "table" in words and words[words.index("table") + 1:words.index("table") + 2] not in (["main"], []):
            continue
        dest = "0.0.0.0/0" if words[0] == "default" else words[0]
        try:
            net = ipaddress.ip_network(dest, strict=False)
        except ValueError:
            raise InputError(f"bad route destination {shorten(dest)!r} ({source}:{line_no})") from None
        if not isinstance(net, ipaddress.IPv4Network):
            continue
        if "dev" not in words or words.index("dev") + 1 >= len(words):
            if "nexthop" in words:
                raise InputError(f"multipath routes are not modelled ({source}:{line_no})")
            raise InputError(f"route without a device ({source}:{line_no})")
        out.append((str(net), words[words.index("dev") + 1]))
    return tuple(out)
