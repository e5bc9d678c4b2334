"""ipset contents (`ipset save`) and the iptables `-m set --match-set` matches they decide.

Without the sets, a `-m set` match is an opaque condition (parse.py). With `ipset save` output (the `create` and
`add` lines ipset(8) prints), resolve_sets makes each match on a known, modelled set one condition on what the set
holds (parse.SetMatch): the packet's fields, in the directions the flags give (ipset(8): `src`/`dst` per
dimension), are those of one of its members, or with `!` of none. symbolic.py decides it by a lookup where the path
pins those fields (a frontend's walk, anything after DNAT) and otherwise keeps it as one literal, a disjunction over
the members: upstream kube-proxy's IPVS mode keeps every Service address in sets such as KUBE-CLUSTER-IP
`hash:ip,port` and KUBE-LOOP-BACK `hash:ip,port,ip` (pkg/proxy/ipvs/ipset.go), so a rule on a set stands for
thousands of addresses; Calico keeps its policy addresses in sets too. A match with fewer directions than the set
has dimensions matches nothing (net/netfilter/ipset/ip_set_core.c ip_set_test).
expand_sets is the reference semantics, one rule per member, as this module did before resolve_sets:
- `-m set --match-set S dst,dst -j T` becomes one rule per member of S, each matching that member's address,
  port and protocol, in the set's order;
- `-m set ! --match-set S ... -j T` becomes a jump to a helper chain that RETURNs for every member and then
  applies the rest of the rule.
tests/proxy/test_set_literal.py checks that both give the same verdicts.
Modelled types: bitmap:port, hash:ip, hash:net, hash:ip,port, hash:net,port, hash:ip,port,ip, hash:ip,port,net,
hash:net,iface and list:set (the union of its members). Member options (timeout, counters, comment, skbinfo) do not
change membership and are ignored. Kept opaque (the match left as it was, and named): sets absent from the file,
other types, sets with `nomatch` members, other set options (`--return-nomatch`, counter conditions), physdev
members of hash:net,iface; expand_sets also keeps a negated set under `-g` and members whose constraints the
rule's own negated matches would have to be combined with.
"""

from __future__ import annotations

import ipaddress
import re

import attrs

from checker.errors import InputError
from spec.proxy.parse import (
    Addr,
    Chain,
    Dump,
    Flag,
    Iface,
    Match,
    Opaque,
    Ports,
    Rule,
    SetConstraint,
    SetMatch,
    Target,
    shorten,
)

Net = ipaddress.IPv4Network
_TYPES = {"bitmap:port": ("port",), "hash:ip": ("ip",), "hash:net": ("ip",), "hash:ip,port": ("ip", "port"),
          "hash:net,port": ("ip", "port"), "hash:ip,port,ip": ("ip", "port", "ip"),
          "hash:ip,port,net": ("ip", "port", "ip"), "hash:net,iface": ("ip", "iface"), "list:set": ("set",)}
_MEMBER_OPTIONS = {"timeout", "packets", "bytes", "comment", "skbmark", "skbprio", "skbqueue"}
_SET_KEY = re.compile(r"-m set --match-set (\S+) ((?:src|dst)(?:,(?:src|dst)){0,5})")


@attrs.frozen
class IpSet:
    name: str
    kind: str  # the set type, e.g. "hash:ip,port"
    members: tuple[tuple[str, ...], ...]  # each member's dimensions as written ("10.96.0.1", "tcp:443")
    nomatch: bool = False  # some member is an exception (`nomatch`): not modelled
    line: int = 0  # of its `create` line
    member_lines: tuple[int, ...] = ()  # of each member's `add` line


def parse_ipset_save(text: str, source: str) -> dict[str, IpSet]:
    """`ipset save` (or `ipset list -o save`) output: `create NAME TYPE [options]` and `add NAME MEMBER [options]`
    lines. IPv4 sets only; an `inet6` set is read and left out."""
    sets: dict[str, tuple[str, list[tuple[str, ...]], list[bool]]] = {}
    lines: dict[str, list[int]] = {}
    skipped: set[str] = set()
    for line_no, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        where = f"({source}:{line_no})"
        if words[0] == "create":
            if len(words) < 3:
                raise InputError(f"ipset: `create` needs a name and a type {where}")
            name, kind = words[1], words[2]
            if name in sets or name in skipped:
                raise InputError(f"ipset: set {shorten(name)} is created twice {where}")
            if "family" in words and words[words.index("family") + 1:words.index("family") + 2] == ["inet6"]:
                skipped.add(name)
                continue
            if not re.fullmatch(r"(?:hash|bitmap|list):[a-z,]+", kind):
                raise InputError(f"ipset: bad set type {shorten(kind)!r} {where}")
            sets[name] = (kind, [], [False])
            lines[name] = [line_no]
        elif words[0] == "add":
            if len(words) < 3:
                raise InputError(f"ipset: `add` needs a set and a member {where}")
            if words[1] in skipped:
                continue
            if words[1] not in sets:
                raise InputError(f"ipset: member of set {shorten(words[1])}, which is not created before it {where}")
            kind, members, nomatch = sets[words[1]]
            member = tuple(words[2].split(","))
            dims = _TYPES.get(kind)
            if dims is not None:
                if len(member) != len(dims) and dims != ("port",):
                    raise InputError(f"ipset: member {shorten(words[2])!r} does not fit type {kind} {where}")
                _check_member(member, dims, where)
            rest = words[3:]
            if "nomatch" in rest:
                nomatch[0] = True
            members.append(member)
            lines[words[1]].append(line_no)
        elif words[0] in ("flush", "destroy", "swap", "rename", "del", "-exist"):
            continue
        else:
            raise InputError(f"ipset: unknown command {shorten(words[0])!r} {where}")
    return {name: IpSet(name, kind, tuple(members), nomatch[0], lines[name][0], tuple(lines[name][1:]))
            for name, (kind, members, nomatch) in sets.items()}


def canonical(kind: str, member: tuple[str, ...]) -> tuple[str, ...]:
    """A member as ipset prints it, whatever the input's spelling: networks without a /32, ports as
    `proto:port` (tcp when unsaid) except in a bitmap:port set."""
    dims = _TYPES.get(kind, ())
    out = []
    for value, dim in zip(member, dims, strict=False):
        if dim == "ip":
            net = _net(value)
            out.append(str(net.network_address) if net.prefixlen == 32 else str(net))
        elif dim == "port":
            proto, port = _port(value)
            out.append(str(port) if kind == "bitmap:port" else f"{proto}:{port}")
        else:
            out.append(value)
    return tuple(out)


def _check_member(member: tuple[str, ...], dims: tuple[str, ...], where: str) -> None:
    for value, dim in zip(member, dims, strict=False):
        try:
            if dim == "ip":
                _net(value)
            elif dim == "port":
                _port(value)
        except ValueError:
            raise InputError(f"ipset: bad {'address' if dim == 'ip' else 'port'} {shorten(value)!r} {where}") from None


def _net(value: str) -> Net:
    if "-" in value:
        raise ValueError(value)  # ranges (a-b) are expanded by ipset itself on `add`; save prints networks
    return Net(value, strict=False)


def _port(value: str) -> tuple[str, int]:
    proto, _, port = value.rpartition(":")
    number = int(port)
    if not 0 <= number <= 65535 or (proto or "tcp") not in ("tcp", "udp", "sctp", "udplite", "icmp"):
        raise ValueError(value)
    return proto or "tcp", number


def _constraints(s: IpSet, member: tuple[str, ...], flags: list[str]) -> list[tuple[str, object]] | None:
    """The match fields one member sets, in the flags' directions; None where the member is not modelled."""
    dims = _TYPES[s.kind]
    out: list[tuple[str, object]] = []
    for i, dim in enumerate(dims):
        if i >= len(flags):
            break  # fewer flags than dimensions: the rest are not compared
        flag = flags[i]
        value = member[i] if i < len(member) else member[-1]
        if dim == "ip":
            out.append(("src" if flag == "src" else "dst", Addr(_net(value))))
        elif dim == "port":
            proto, port = _port(value)
            if s.kind != "bitmap:port":  # a bitmap holds port numbers only: the rule's -p says the protocol
                out.append(("proto", Flag(proto)))
            out.append(("sport" if flag == "src" else "dport", Ports(port, port)))
        elif dim == "iface":
            if value.startswith("physdev:"):
                return None
            out.append(("iif" if flag == "src" else "oif", Iface(value)))
    return out


def _combine(match: Match, constraints: list[tuple[str, object]]) -> Match | bool | None:
    """The rule's match with the member's constraints; False if they cannot hold together; None if the
    combination needs a negated match (not modelled: the rule stays opaque)."""
    fields: dict[str, object] = {}
    for name, value in constraints:
        old = fields.get(name, getattr(match, name))
        if old is None:
            fields[name] = value
            continue
        if getattr(old, "negated", False):
            return None
        if isinstance(value, Addr) and isinstance(old, Addr):
            if value.network.subnet_of(old.network):
                fields[name] = value
            elif not old.network.subnet_of(value.network):
                return False
        elif isinstance(value, Ports) and isinstance(old, Ports):
            if not old.lo <= value.lo <= old.hi:
                return False
            fields[name] = value
        elif old != value:
            return False
    return attrs.evolve(match, **fields)  # type: ignore[arg-type]


def resolve_sets(dump: Dump, sets: dict[str, IpSet]) -> tuple[Dump, list[str]]:
    """The dump with every `-m set` match on a known, modelled set made one condition on what the set holds
    (parse.SetMatch, decided by symbolic.py); and the set matches left opaque, with why."""
    left: list[str] = []
    made: dict[tuple[str, str, bool], SetMatch | str] = {}
    tables: dict[str, dict[str, Chain]] = {}
    for table, chains in dump.tables.items():
        out: dict[str, Chain] = {}
        for name, chain in chains.items():
            rules = list(chain.rules)
            for i, rule in enumerate(rules):
                match = rule.match
                if not any(op.key.startswith("-m set --match-set ") for op in match.opaque):
                    continue
                others = any(o.key.startswith("-m set --") and not _SET_KEY.fullmatch(o.key) for o in match.opaque)
                kept: list[Opaque] = []
                found: list[SetMatch] = []
                for op in match.opaque:
                    m = _SET_KEY.fullmatch(op.key)
                    if m is None:
                        kept.append(op)
                        continue
                    key = (m.group(1), m.group(2), op.negated)
                    made_one = made.get(key)
                    if made_one is None:
                        made_one = made[key] = _set_match(*key, sets)
                    if others:
                        made_one = "other set options"
                    if isinstance(made_one, str):
                        kept.append(op)
                        left.append(f"{op.key} ({made_one})")
                    else:
                        found.append(made_one)
                if found:
                    rules[i] = attrs.evolve(rule, match=attrs.evolve(match, opaque=tuple(kept),
                                                                     sets=(*match.sets, *found)))
            out[name] = chain if rules == list(chain.rules) else Chain(name, chain.policy, tuple(rules))
        tables[table] = out
    return attrs.evolve(dump, tables=tables), sorted(set(left))


def _set_match(name: str, flags: str, negated: bool, sets: dict[str, IpSet]) -> SetMatch | str:
    """The condition `-m set [!] --match-set NAME FLAGS` stands for, or why it is not modelled."""
    s = sets.get(name)
    if s is None:
        return "not in the ipset file"
    if s.kind not in _TYPES:
        return f"type {s.kind} not modelled"
    if s.nomatch:
        return "has nomatch members"
    try:
        members = _members(s, sets)
    except KeyError as exc:
        return f"list:set member {exc.args[0]} missing or cyclic"
    directions = flags.split(",")
    out: list[tuple[SetConstraint, ...]] = []
    labels: list[str] = []
    for inner, member in members:
        if len(directions) < len(_TYPES[inner.kind]):
            continue  # fewer directions than the set has dimensions: it matches nothing (ip_set_core.c ip_set_test)
        constraints = _member_constraints(inner, member, directions)
        if constraints is None:
            return "physdev members not modelled"
        out.append(constraints)
        labels.append(f"{inner.name} member {','.join(member)}")
    return SetMatch(name, flags, negated, tuple(out), tuple(labels))


def _member_constraints(s: IpSet, member: tuple[str, ...], flags: list[str]) -> tuple[SetConstraint, ...] | None:
    """What one member requires of the packet's fields, in the flags' directions; None where not modelled."""
    out: list[SetConstraint] = []
    for i, dim in enumerate(_TYPES[s.kind]):
        flag = flags[i]
        value = member[i] if i < len(member) else member[-1]
        if dim == "ip":
            out.append(("src" if flag == "src" else "dst", _net(value)))
        elif dim == "port":
            proto, port = _port(value)
            if s.kind != "bitmap:port":  # a bitmap holds port numbers only: the rule's -p says the protocol
                out.append(("proto", proto))
            out.append(("sport" if flag == "src" else "dport", port))
        elif dim == "iface":
            if value.startswith("physdev:"):
                return None
            out.append(("iif" if flag == "src" else "oif", value))
    return tuple(out)


def expand_sets(dump: Dump, sets: dict[str, IpSet]) -> tuple[Dump, list[str]]:
    """The dump with every `-m set` match on a known, modelled set replaced by what the set holds (see the module
    docstring); and the set matches left opaque, with why. The reference semantics of resolve_sets (whose one
    condition per match the verifier uses): tests/proxy/test_set_literal.py checks they give the same verdicts."""
    left: list[str] = []
    tables: dict[str, dict[str, Chain]] = {}
    for table, chains in dump.tables.items():
        out: dict[str, Chain] = {}
        for name, chain in chains.items():
            rules: list[Rule] = []
            for rule in chain.rules:
                rules += _expand(rule, sets, out, left)
            out[name] = Chain(name, chain.policy, tuple(
                r if r.index == i else attrs.evolve(r, index=i) for i, r in enumerate(rules)))
        # helper chains were added to `out` by _expand; their rules are numbered there
        tables[table] = out
    return attrs.evolve(dump, tables=tables), sorted(set(left))


def _members(s: IpSet, sets: dict[str, IpSet],
             seen: frozenset[str] = frozenset()) -> list[tuple[IpSet, tuple[str, ...]]]:
    if s.kind != "list:set":
        return [(s, m) for m in s.members]
    out: list[tuple[IpSet, tuple[str, ...]]] = []
    for (member,) in s.members:
        inner = sets.get(member)
        if inner is None or member in seen:
            raise KeyError(member)
        out += _members(inner, sets, seen | {s.name})
    return out


def _expand(rule: Rule, sets: dict[str, IpSet], chains: dict[str, Chain], left: list[str]) -> list[Rule]:
    match = rule.match
    for k, op in enumerate(match.opaque):
        m = _SET_KEY.fullmatch(op.key)
        if m is None:
            continue
        name, flags = m.group(1), m.group(2).split(",")
        s = sets.get(name)
        why = None
        if s is None:
            why = "not in the ipset file"
        elif s.kind not in _TYPES:
            why = f"type {s.kind} not modelled"
        elif s.nomatch:
            why = "has nomatch members"
        elif any(o.key.startswith("-m set --") and not _SET_KEY.fullmatch(o.key) for o in match.opaque):
            why = "other set options"
        elif op.negated and rule.target is not None and rule.target.goto:
            why = "negated with -g"
        if why is None:
            assert s is not None
            try:
                members = _members(s, sets)
            except KeyError as exc:
                why = f"list:set member {exc.args[0]} missing or cyclic"
            else:
                # fewer directions than a set's dimensions: it matches nothing (ip_set_core.c ip_set_test)
                members = [(inner, member) for inner, member in members if len(flags) >= len(_TYPES[inner.kind])]
                rest = attrs.evolve(match, opaque=match.opaque[:k] + match.opaque[k + 1:])
                expanded = (_negated(rule, rest, members, flags, chains, sets) if op.negated
                            else _positive(rule, rest, members, flags))
                if expanded is not None:
                    return [r for e in expanded for r in _expand(e, sets, chains, left)]
                why = "a member meets a negated match of the rule"
        left.append(f"{op.key} ({why})")
    return [rule]


def _positive(rule: Rule, rest: Match, members: list[tuple[IpSet, tuple[str, ...]]],
              flags: list[str]) -> list[Rule] | None:
    out: list[Rule] = []
    for s, member in members:
        constraints = _constraints(s, member, flags)
        combined = None if constraints is None else _combine(rest, constraints)
        if combined is None:
            return None
        if combined is not False:
            assert isinstance(combined, Match)
            out.append(attrs.evolve(rule, match=combined, text=f"{rule.text} [{s.name} member {','.join(member)}]"))
    return out


def _negated(rule: Rule, rest: Match, members: list[tuple[IpSet, tuple[str, ...]]], flags: list[str],
             chains: dict[str, Chain], sets: dict[str, IpSet]) -> list[Rule] | None:
    helper = f"{rule.chain}~set{len([c for c in chains if c.startswith(rule.chain + '~set')]) + 1}"
    body: list[Rule] = []
    for s, member in members:
        constraints = _constraints(s, member, flags)
        combined = None if constraints is None else _combine(Match(), constraints)
        if not isinstance(combined, Match):
            return None
        body.append(Rule(rule.table, helper, len(body), rule.line, f"{rule.text} [not in {s.name}: "
                         f"{','.join(member)} returns]", combined, Target("RETURN"), rule.source, rule.owner))
    body += _expand(attrs.evolve(rule, chain=helper, match=rest), sets, chains, [])
    chains[helper] = Chain(helper, None, tuple(attrs.evolve(r, index=i) for i, r in enumerate(body)))
    return [attrs.evolve(rule, match=Match(comment=rest.comment), target=Target(helper, chain=True))]


