"""`iptables-save` text to rules with structured matches and targets.

Supports what kube-proxy and kubelet write (upstream pkg/util/iptables/testing/parse.go parses the same
subset): tables, chains with policies, `-A` rules, `!` negations, -s/-d/-p, the tcp/udp/sctp, comment, mark,
conntrack/state, addrtype, statistic (random), recent and nfacct matches, and the targets ACCEPT, DROP,
REJECT, RETURN, MARK, DNAT, SNAT, MASQUERADE and user chains. Anything else is an InputError naming the line.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
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
TERMINAL_TARGETS = ("ACCEPT", "DROP", "REJECT", "RETURN", "DNAT", "SNAT", "MASQUERADE")
MODULES = ("tcp", "udp", "sctp", "comment", "mark", "conntrack", "state", "addrtype", "statistic", "recent", "nfacct")


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

    @property
    def probability_value(self) -> Fraction | None:
        return None if self.probability is None else Fraction(self.probability)


@attrs.frozen
class Target:
    """-j NAME and its options. `chain` is True for a jump to a user chain."""

    name: str
    chain: bool = False
    to: str | None = None  # DNAT --to-destination / SNAT --to-source
    mark_op: tuple[str, int, int] | None = None  # ("or"|"xor"|"set", value, mask)
    options: tuple[str, ...] = ()


@attrs.frozen
class Rule:
    table: str
    chain: str
    index: int
    line: int  # 0 for synthesized rules
    text: str
    match: Match
    target: Target | None

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

    def chain(self, table: str, name: str) -> Chain | None:
        return self.tables.get(table, {}).get(name)


def _addr(value: str, negated: bool, fail: object) -> Addr:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise fail(f"bad address {value!r}") from None  # type: ignore[operator]
    if not isinstance(net, ipaddress.IPv4Network):
        raise fail(f"IPv6 address {value!r} in an IPv4 dump")  # type: ignore[operator]
    return Addr(net, negated)


def _ports(value: str, negated: bool, fail: object) -> Ports:
    m = re.fullmatch(r"(\d+)(?::(\d+))?", value)
    if not m:
        raise fail(f"bad port {value!r}")  # type: ignore[operator]
    lo = int(m.group(1))
    hi = int(m.group(2)) if m.group(2) else lo
    return Ports(lo, hi, negated)


def _int(value: str) -> int:
    return int(value, 0)


def parse_rule(table: str, index: int, line_no: int, text: str, source: str) -> Rule:
    """Parse one `-A CHAIN ...` line."""

    def fail(problem: str) -> InputError:
        return InputError(f"{source}: line {line_no}: {problem}: {text}")

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise fail(f"unbalanced quoting ({exc})") from None
    if len(words) < 2 or words[0] != "-A":
        raise fail("expected '-A CHAIN ...'")
    chain = words[1]
    fields: dict[str, object] = {}
    target: Target | None = None
    modules: set[str] = set()
    negate = False
    i = 2

    def value() -> str:
        nonlocal i
        if i >= len(words):
            raise fail(f"option {words[i - 1]} needs a value")
        i += 1
        return words[i - 1]

    def put(key: str, val: object) -> None:
        if key in fields:
            raise fail(f"two {key} matches in one rule")
        fields[key] = val

    while i < len(words):
        word = words[i]
        i += 1
        if word == "!":
            negate = True
            continue
        neg, negate = negate, False
        if word in ("-s", "--source", "--src"):
            put("src", _addr(value(), neg, fail))
        elif word in ("-d", "--destination", "--dst"):
            put("dst", _addr(value(), neg, fail))
        elif word in ("-p", "--protocol"):
            proto = value().lower()
            if proto not in PROTOCOL_NUMBERS:
                raise fail(f"unsupported protocol {proto!r}")
            put("proto", Flag(proto, neg))
        elif word in ("-m", "--match"):
            module = value()
            if module not in MODULES:
                raise fail(f"unsupported match '-m {module}'")
            modules.add(module)
        elif word in ("--dport", "--destination-port", "--sport", "--source-port"):
            if not modules & {"tcp", "udp", "sctp"}:
                raise fail(f"{word} without -m tcp/udp/sctp")
            put("dport" if "d" in word.lstrip("-")[0] else "sport", _ports(value(), neg, fail))
        elif word in ("--src-type", "--dst-type"):
            if "addrtype" not in modules:
                raise fail(f"{word} without -m addrtype")
            kind = value()
            if kind != "LOCAL":
                raise fail(f"unsupported address type {kind!r} (only LOCAL is modelled)")
            put("src_type" if word == "--src-type" else "dst_type", Flag(kind, neg))
        elif word == "--mark" and "mark" in modules:
            raw = value()
            val, _, mask = raw.partition("/")
            put("mark", MarkMatch(_int(val), _int(mask) if mask else 0xFFFFFFFF, neg))
        elif word in ("--ctstate", "--state"):
            put("ctstate", CtState(frozenset(value().split(",")), neg))
        elif word == "--mode":
            mode = value()
            if mode != "random":
                raise fail(f"unsupported statistic mode {mode!r}")
        elif word == "--probability":
            raw = value()
            try:
                Fraction(raw)
            except ValueError:
                raise fail(f"bad probability {raw!r}") from None
            put("probability", raw)
        elif word == "--name" and "recent" in modules:
            fields["recent_name"] = value()
            fields["recent_neg"] = neg
        elif word in ("--set", "--rcheck", "--update"):
            fields["recent_mode"] = word[2:]
            fields["recent_neg"] = neg or bool(fields.get("recent_neg"))
        elif word == "--seconds":
            fields["recent_seconds"] = int(value())
        elif word == "--reap":
            fields["recent_reap"] = True
        elif word == "--rsource":
            pass
        elif word == "--comment":
            fields["comment"] = value()
        elif word == "--nfacct-name":
            fields["nfacct"] = value()
        elif word in ("-j", "--jump"):
            name = value()
            target = Target(name, chain=name not in TERMINAL_TARGETS and name != "MARK")
        elif word in ("--to-destination", "--to-source") and target is not None:
            target = attrs.evolve(target, to=value())
        elif word in ("--or-mark", "--xor-mark", "--set-xmark", "--set-mark", "--and-mark") and target is not None:
            raw = value()
            val, _, mask = raw.partition("/")
            op = {"--or-mark": "or", "--xor-mark": "xor", "--and-mark": "and"}.get(word, "set")
            target = attrs.evolve(target, mark_op=(op, _int(val), _int(mask) if mask else 0xFFFFFFFF))
        elif word in ("--random-fully", "--random", "--persistent") and target is not None:
            target = attrs.evolve(target, options=(*target.options, word))
        elif word in ("--reject-with", "--to-ports") and target is not None:
            target = attrs.evolve(target, options=(*target.options, word, value()))
        elif word in ("-g", "--goto"):
            raise fail("unsupported '-g' (goto)")
        else:
            raise fail(f"unsupported option {word!r}")
    if "recent_name" in fields or "recent_mode" in fields:
        if "recent_mode" not in fields:
            raise fail("-m recent without --set, --rcheck or --update")
        fields["recent"] = Recent(
            name=str(fields.pop("recent_name", "DEFAULT")),
            mode=str(fields.pop("recent_mode")),
            seconds=fields.pop("recent_seconds", None),  # type: ignore[arg-type]
            reap=bool(fields.pop("recent_reap", False)),
            negated=bool(fields.pop("recent_neg", False)),
        )
    fields.pop("recent_neg", None)
    if target is not None and target.name == "DNAT" and not target.to:
        raise fail("DNAT without --to-destination")
    if target is not None and target.name == "MARK" and target.mark_op is None:
        raise fail("MARK without a mark operation")
    return Rule(table, chain, index, line_no, text, Match(**fields), target)  # type: ignore[arg-type]


def parse_dump(text: str, source: str = "<rules>") -> Dump:
    """Parse `iptables-save` (or iptables-restore input) text."""
    tables: dict[str, dict[str, tuple[str | None, list[Rule]]]] = {}
    table: str | None = None
    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and "]" in line:  # iptables-save -c counters
            line = line[line.index("]") + 1:].strip()
        if line.startswith("*"):
            if table is not None:
                raise InputError(f"{source}: line {line_no}: table *{line[1:]} starts before COMMIT of *{table}")
            table = line[1:]
            tables.setdefault(table, {})
        elif line == "COMMIT":
            if table is None:
                raise InputError(f"{source}: line {line_no}: COMMIT outside a table")
            table = None
        elif table is None:
            raise InputError(f"{source}: line {line_no}: rule outside a table: {line}")
        elif line.startswith(":"):
            parts = line[1:].split()
            if not parts:
                raise InputError(f"{source}: line {line_no}: empty chain declaration")
            policy = parts[1] if len(parts) > 1 and parts[1] != "-" else None
            tables[table].setdefault(parts[0], (policy, []))
        elif line.startswith("-A "):
            chain = line.split()[1]
            if chain not in tables[table]:
                raise InputError(f"{source}: line {line_no}: chain {chain} used before its ':' declaration")
            rules = tables[table][chain][1]
            rules.append(parse_rule(table, len(rules), line_no, line, source))
        elif line.startswith("-X ") or line.startswith("-F "):
            continue  # restore-input housekeeping: deleting stale chains does not change the ruleset
        else:
            raise InputError(f"{source}: line {line_no}: unsupported line: {line}")
    if table is not None:
        raise InputError(f"{source}: table *{table} has no COMMIT")
    return Dump({t: {c: Chain(c, pol, tuple(rs)) for c, (pol, rs) in chains.items()} for t, chains in tables.items()})
