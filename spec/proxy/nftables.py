"""kube-proxy's nftables mode: the ruleset it writes, and its reading for verification.

Generation follows upstream pkg/proxy/nftables/proxier.go (syncProxyRules, setupNFTables, writeServiceToEndpointRules)
as its tests expect it (pkg/proxy/nftables/proxier_test.go baseRules and TestOverallNFTablesRules): one table
`ip kube-proxy` with the sets cluster-ips and nodeport-ips, the verdict maps service-ips, service-nodeports,
firewall-ips, no-endpoint-services and no-endpoint-nodeports, base chains at the nat and filter hooks, and per
service port the chains service-, local-, external-, firewall- and endpoint- named `PREFIX-HASH-BASE` (HASH: the
first 8 characters of base32(sha256(BASE)); BASE `ns/name/proto/port`, for endpoints `...__ip/port`). Output is
an `nft -f` transaction, in the order upstream's test lists it (its comparison sorts lines anyway), in the format of
the release opts.version names: 1.31-1.33, 1.34-1.35 (PR #132456's pre-DNAT filter chains) or 1.36 and later (PRs
#135800 and #136499: inline marks, the hairpin-connections set, DNAT through a numgen map); each equals upstream's
TestOverallNFTablesRules of its era (tests/proxy/fixtures/upstream/vectors.yaml). Releases before 1.31 (alpha) are
not modelled.

Verification reads `nft list ruleset` output (or such a transaction) and translates kube-proxy's table into
iptables-like rules that symbolic.py walks, so that the same five properties are proved by the same code:
- each base chain becomes a user chain jumped to from the builtin chain of its hook, at the slot of its
  priority (filter-type chains before dstnat sit where mangle does: they run before nat PREROUTING / OUTPUT);
- a verdict map over a concatenation (`ip daddr . meta l4proto . th dport vmap @service-ips`) becomes one rule
  per element; a named or anonymous set becomes one rule per element (negated: a helper chain that returns on
  each element); `numgen random mod N vmap { 0 : goto A , ... }` becomes the statistic chain, rule i taken with
  probability exactly 1/(N-i); `ip saddr @affinity-X goto E` a recent check with the set's timeout and
  `update @affinity-X { ip saddr }` a recent set; `fib saddr/daddr type local` the LOCAL address type.
Other tables that IPv4 packets traverse (families ip and inet: iptables-nft's `ip nat` / `ip filter` of Docker
or a CNI, firewalld's `inet firewalld`, ...) are translated too, each base chain a stage of its own at its hook
and priority among kube-proxy's (nftables runs every base chain of a hook in priority order; an `accept` ends one
base chain only, a `drop` the packet): their rules are not kube-proxy's, so what they break is reported as
another component's (NOT KUBE-PROXY'S, or a failure with --strict), naming the table, chain and line. Their
matches outside the modelled ones are opaque conditions, their other statements passive (`_other`). Tables of
other families (ip6, arp, bridge, netdev) are named as not considered. In kube-proxy's own table, expressions
outside kube-proxy's vocabulary are an error naming the line.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
from collections.abc import Iterator
from fractions import Fraction

import attrs

from checker.errors import InputError
from spec.proxy.endpoints import (
    PortKey,
    categorize,
    endpoints_map,
    ipv4s,
    port_externally_accessible,
    service_ports,
    uses_cluster_endpoints,
    uses_local_endpoints,
)
from spec.proxy.model import Cluster, ProxierOptions, ResolvedEndpoint
from spec.proxy.parse import (
    CT_STATES,
    PROTOCOL_NUMBERS,
    Addr,
    Chain,
    CtState,
    Dump,
    Flag,
    Iface,
    MarkMatch,
    Match,
    Opaque,
    Ports,
    Recent,
    Rule,
    Target,
    shorten,
)

TABLE = "ip kube-proxy"


def hash_base(base: str) -> str:
    """hashAndTruncate's prefix: base32(sha256(base))[:8]."""
    return base64.b32encode(hashlib.sha256(base.encode()).digest()).decode()[:8]


def service_base(key: PortKey) -> str:
    return f"{key.namespace}/{key.name}/{key.protocol.lower()}/{key.port}"


def endpoint_base(key: PortKey, ep: ResolvedEndpoint) -> str:
    return f"{service_base(key)}__{ep.ip}/{ep.port}"


def chain_name(prefix: str, base: str) -> str:
    return f"{prefix}-{hash_base(base)}-{base}"


# The nftables formats of upstream's releases, as its TestOverallNFTablesRules expects them (vectors and their
# sources: tests/proxy/fixtures/upstream/vectors.yaml). Base rules by era; per-service rules in sync_nftables.
_BASE_HEAD = """add table ip kube-proxy { comment "rules for kube-proxy" ; }

add set ip kube-proxy cluster-ips { type ipv4_addr ; comment "Active ClusterIPs" ; }
add set ip kube-proxy nodeport-ips { type ipv4_addr ; comment "IPs that accept NodePort traffic" ; }
{hairpin_set}
add map ip kube-proxy firewall-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "destinations that are subject to LoadBalancerSourceRanges" ; }
add map ip kube-proxy no-endpoint-nodeports { type inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to service nodeports with no endpoints" ; }
add map ip kube-proxy no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict ; comment "vmap to drop or reject packets to services with no endpoints" ; }
add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; comment "ClusterIP, ExternalIP and LoadBalancer IP traffic" ; }
add map ip kube-proxy service-nodeports { type inet_proto . inet_service : verdict ; comment "NodePort traffic" ; }

add chain ip kube-proxy cluster-ips-check
"""  # noqa: E501

# v1.31-v1.33: filter base chains at dstnat - 10, cluster-ips-check after DNAT for output (before PR #132456).
_BASE_31 = """add chain ip kube-proxy filter-prerouting { type filter hook prerouting priority -110 ; }
add chain ip kube-proxy filter-forward { type filter hook forward priority -110 ; }
add chain ip kube-proxy filter-input { type filter hook input priority -110 ; }
add chain ip kube-proxy filter-output { type filter hook output priority -110 ; }
add chain ip kube-proxy filter-output-post-dnat { type filter hook output priority -90 ; }
add chain ip kube-proxy firewall-check
add chain ip kube-proxy mark-for-masquerade
add chain ip kube-proxy masquerading
{nat_chains}
add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
{service_cidrs}add rule ip kube-proxy filter-prerouting ct state new jump firewall-check
add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump firewall-check
add rule ip kube-proxy filter-output-post-dnat ct state new jump cluster-ips-check
add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
add rule ip kube-proxy mark-for-masquerade mark set mark or {mark}
add rule ip kube-proxy masquerading mark and {mark} == 0 return
add rule ip kube-proxy masquerading mark set mark xor {mark}
add rule ip kube-proxy masquerading masquerade fully-random
{tail}"""  # noqa: E501

# v1.34-v1.35: pre-DNAT filter chains for the firewall, the others at filter priority (PR #132456).
_BASE_34 = """add chain ip kube-proxy filter-prerouting-pre-dnat { type filter hook prerouting priority -110 ; }
add chain ip kube-proxy filter-output-pre-dnat { type filter hook output priority -110 ; }
add chain ip kube-proxy filter-forward { type filter hook forward priority 0 ; }
add chain ip kube-proxy filter-input { type filter hook input priority 0 ; }
add chain ip kube-proxy filter-output { type filter hook output priority 0 ; }
add chain ip kube-proxy firewall-check
{mark_chain}add chain ip kube-proxy masquerading
{nat_chains}
add rule ip kube-proxy cluster-ips-check ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"
{service_cidrs}add rule ip kube-proxy filter-prerouting-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-forward ct state new jump service-endpoints-check
add rule ip kube-proxy filter-forward ct state new jump cluster-ips-check
add rule ip kube-proxy filter-input ct state new jump nodeport-endpoints-check
add rule ip kube-proxy filter-input ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output ct state new jump service-endpoints-check
add rule ip kube-proxy filter-output-pre-dnat ct state new jump firewall-check
add rule ip kube-proxy filter-output ct state new jump cluster-ips-check
add rule ip kube-proxy firewall-check ip daddr . meta l4proto . th dport vmap @firewall-ips
{masquerading}{tail}"""  # noqa: E501

_MASQUERADING_34 = """add rule ip kube-proxy mark-for-masquerade mark set mark or {mark}
add rule ip kube-proxy masquerading mark and {mark} == 0 return
add rule ip kube-proxy masquerading mark set mark xor {mark}
add rule ip kube-proxy masquerading masquerade fully-random
"""

# v1.36 and later: no mark-for-masquerade chain (PR #135800), one masquerading rule and the hairpin-connections
# set (PR #136499).
_MASQUERADING_36 = """add rule ip kube-proxy masquerading mark and {mark} != 0 mark set mark xor {mark} masquerade fully-random
add rule ip kube-proxy masquerading ct status dnat ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections masquerade fully-random
"""  # noqa: E501

_NAT_CHAINS = """add chain ip kube-proxy nat-output { type nat hook output priority -100 ; }
add chain ip kube-proxy nat-postrouting { type nat hook postrouting priority 100 ; }
add chain ip kube-proxy nat-prerouting { type nat hook prerouting priority -100 ; }
add chain ip kube-proxy nodeport-endpoints-check
add chain ip kube-proxy reject-chain { comment "helper for @no-endpoint-services / @no-endpoint-nodeports" ; }
add chain ip kube-proxy services
add chain ip kube-proxy service-endpoints-check
"""

_TAIL = """add rule ip kube-proxy nat-output jump services
add rule ip kube-proxy nat-postrouting jump masquerading
add rule ip kube-proxy nat-prerouting jump services
add rule ip kube-proxy nodeport-endpoints-check ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports
add rule ip kube-proxy reject-chain reject
{services_masquerade}add rule ip kube-proxy services ip daddr . meta l4proto . th dport vmap @service-ips
add rule ip kube-proxy services ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports
{nodeport_ips}add rule ip kube-proxy service-endpoints-check ip daddr . meta l4proto . th dport vmap @no-endpoint-services
"""  # noqa: E501

# The releases whose nftables format differs: the first release of each format.
NFT_FORMATS = ((1, 31), (1, 34), (1, 36))


def nft_format(version: tuple[int, int]) -> tuple[int, int]:
    """The format kube-proxy `version` writes in nftables mode (its release era, NFT_FORMATS)."""
    if version < NFT_FORMATS[0]:
        raise InputError(f"--kube-proxy-version {version[0]}.{version[1]}: nftables mode's rules are modelled from "
                         f"{NFT_FORMATS[0][0]}.{NFT_FORMATS[0][1]} on (alpha in 1.29, its format then differed)")
    return max(f for f in NFT_FORMATS if f <= version)


def base_rules(opts: ProxierOptions) -> str:
    """setupNFTables' rules (upstream's baseRules of that release), for `opts`."""
    era = nft_format(opts.version)
    mark = opts.mark
    cidrs = "".join(f"add rule {TABLE} cluster-ips-check ip daddr {{ {c} }} drop comment "
                    '"Drop traffic to unallocated ClusterIPs"\n' for c in opts.service_cidrs)
    nodeport_ips = "".join(f"add element {TABLE} nodeport-ips {{ {ip} }}\n" for ip in nodeport_addresses(opts))
    services_masquerade = ""
    if era >= (1, 36):
        not_local = opts.local_match(False)
        if opts.masquerade_all:
            services_masquerade = (f"add rule {TABLE} services ip daddr @cluster-ips mark set mark or {mark} comment "
                                   '"masquerade all clusterIP traffic"\n')
        elif not_local:
            services_masquerade = (f"add rule {TABLE} services ip daddr @cluster-ips {_nft_local(not_local)} mark set "
                                   f'mark or {mark} comment "masquerade clusterIP traffic from outside cluster"\n')
    tail = _TAIL.replace("{services_masquerade}", services_masquerade).replace("{nodeport_ips}", nodeport_ips)
    head = _BASE_HEAD.replace("{hairpin_set}", (
        f"add set {TABLE} hairpin-connections {{ type ipv4_addr . ipv4_addr . inet_proto . inet_service ; "
        'comment "service hairpin connections" ; }\n') if era >= (1, 36) else "")
    if era == (1, 31):
        body = _BASE_31
    else:
        body = _BASE_34.replace("{mark_chain}", "" if era >= (1, 36) else f"add chain {TABLE} mark-for-masquerade\n")
        body = body.replace("{masquerading}", _MASQUERADING_36 if era >= (1, 36) else _MASQUERADING_34)
    body = body.replace("{nat_chains}", _NAT_CHAINS).replace("{service_cidrs}", cidrs).replace("{tail}", tail)
    return head + body.replace("{mark}", mark)


def sync_nftables(cluster: Cluster, opts: ProxierOptions) -> str:
    """The `nft -f` transaction of a full sync (IPv4), as upstream's TestOverallNFTablesRules of the release
    `opts.version` lists it (pkg/proxy/nftables/proxier.go syncProxyRules; writeServiceToEndpointDNATs and
    writeServiceToEndpointJumps from v1.36)."""
    era = nft_format(opts.version)
    mark = opts.mark
    # v1.36: marking is inlined (masqueradeRule) instead of a jump to mark-for-masquerade.
    mark_masq = f"mark set mark or {mark}" if era >= (1, 36) else "jump mark-for-masquerade"
    out = [base_rules(opts)]
    eps_map = endpoints_map(cluster, opts.node_name)
    if_local, if_not_local = opts.local_match(True), opts.local_match(False)
    node_ip = ipaddress.ip_address(opts.node_ips[0]) if opts.node_ips else None
    hairpins: set[str] = set()
    for key, svc, port in service_ports(cluster):
        lines: list[str] = [f"# {svc.name}"]
        proto = key.protocol.lower()
        base = service_base(key)
        cat = categorize(eps_map.get(key, []), svc, port)
        cluster_chain, local_chain = chain_name("service", base), chain_name("local", base)
        external_chain, firewall_chain = chain_name("external", base), chain_name("firewall", base)
        internal_chain, has_internal = cluster_chain, cat.has_any
        if svc.internal_policy_local:
            internal_chain, has_internal = local_chain, cat.has_any and bool(cat.local)
        external_policy_chain, has_external = cluster_chain, cat.has_any
        if svc.external_policy_local:
            external_policy_chain, has_external = local_chain, cat.has_any and bool(cat.local)
        uses_external = cat.has_any and port_externally_accessible(svc, port)
        ranges = [r for r in svc.load_balancer_source_ranges if ipaddress.ip_network(r).version == 4]
        lb_ips = ipv4s(svc.load_balancer_ips)
        uses_firewall = cat.has_any and bool(lb_ips) and bool(ranges)
        affinity = svc.session_affinity == "ClientIP"

        def rule(chain: str, text: str, lines: list[str] = lines) -> None:
            lines.append(f"add rule {TABLE} {chain} {text}")

        def endpoint_rules(chain: str, endpoints: tuple[ResolvedEndpoint, ...], key: PortKey = key,
                           affinity: bool = affinity, proto: str = proto) -> None:
            if era >= (1, 36) and not affinity:
                targets = " , ".join(f"{i} : {ep.ip} . {ep.port}" for i, ep in enumerate(endpoints))
                rule(chain, f"meta l4proto {proto} dnat ip addr . port to numgen random mod {len(endpoints)} map "
                            f"{{ {targets} }}")
                return
            if affinity:
                for ep in endpoints:
                    eb = endpoint_base(key, ep)
                    rule(chain, f"ip saddr @{chain_name('affinity', eb)} goto {chain_name('endpoint', eb)}")
            targets = " , ".join(f"{i} : goto {chain_name('endpoint', endpoint_base(key, ep))}"
                                 for i, ep in enumerate(endpoints))
            rule(chain, f"numgen random mod {len(endpoints)} vmap {{ {targets} }}")

        if affinity:
            for ep in cat.reachable:
                lines.append(f"add set {TABLE} {chain_name('affinity', endpoint_base(key, ep))} {{ type ipv4_addr ; "
                             f"flags dynamic,timeout ; timeout {svc.sticky_seconds}s ; }}")
        # Before v1.36 each service chain marks off-cluster traffic to its cluster IP (v1.31-v1.33 also naming the
        # port); from v1.36 one rule of `services` does it for every cluster IP (base_rules).
        dport = f"{proto} dport {port.port} " if era == (1, 31) else ""
        masq = f"ip daddr {svc.cluster_ip} {dport}" + (
            "jump mark-for-masquerade" if opts.masquerade_all else
            f"{_nft_local(if_not_local)} jump mark-for-masquerade" if if_not_local else "")
        for chain, eps, used in ((cluster_chain, cat.cluster, bool(cat.cluster) and uses_cluster_endpoints(svc, port)),
                                 (local_chain, cat.local, bool(cat.local) and uses_local_endpoints(svc, port))):
            if not used:
                continue
            lines.append(f"add chain {TABLE} {chain}")
            if (era < (1, 36) and chain == internal_chain and has_internal
                    and masq.endswith("mark-for-masquerade")):
                rule(chain, masq)
            endpoint_rules(chain, eps)
        if uses_external:
            lines.append(f"add chain {TABLE} {external_chain}")
            if not svc.external_policy_local:
                rule(external_chain, mark_masq + (' comment "masquerade"' if era >= (1, 36) else ""))
            else:
                if if_local:
                    rule(external_chain, f"{_nft_local(if_local)} goto {cluster_chain} comment "
                                         '"short-circuit pod traffic"')
                rule(external_chain, f'fib saddr type local {mark_masq} comment "masquerade local traffic"')
                rule(external_chain, f'fib saddr type local goto {cluster_chain} comment "short-circuit local traffic"')
            if has_external:
                rule(external_chain, f"goto {external_policy_chain}")
        if era < (1, 36) or affinity:
            for ep in cat.reachable:
                eb = endpoint_base(key, ep)
                chain = chain_name("endpoint", eb)
                lines.append(f"add chain {TABLE} {chain}")
                if era < (1, 36):
                    rule(chain, f"ip saddr {ep.ip} jump mark-for-masquerade")
                if affinity:
                    rule(chain, f"update @{chain_name('affinity', eb)} {{ ip saddr }}")
                rule(chain, f"meta l4proto {proto} dnat to {ep.ip}:{ep.port}")
        if uses_firewall:
            allowed = list(ranges)
            if node_ip is not None and any(node_ip in ipaddress.ip_network(r) for r in ranges):
                allowed += list(lb_ips)
            lines.append(f"add chain {TABLE} {firewall_chain}")
            rule(firewall_chain, f"ip saddr != {{ {' , '.join(allowed)} }} drop")
        lines.append(f"add element {TABLE} cluster-ips {{ {svc.cluster_ip} }}")
        sp = f"{proto} . {port.port}"
        if has_internal:
            lines.append(f"add element {TABLE} service-ips {{ {svc.cluster_ip} . {sp} : goto {internal_chain} }}")
        if uses_external:
            for ip in (*ipv4s(svc.external_ips), *lb_ips):
                lines.append(f"add element {TABLE} service-ips {{ {ip} . {sp} : goto {external_chain} }}")
            if port.node_port:
                lines.append(f"add element {TABLE} service-nodeports {{ {proto} . {port.node_port} : "
                             f"goto {external_chain} }}")
        if uses_firewall:
            for ip in lb_ips:
                lines.append(f"add element {TABLE} firewall-ips {{ {ip} . {sp} : goto {firewall_chain} }}")
        if era >= (1, 36):
            # Local endpoints reaching themselves through the service are masqueraded by the hairpin set
            # (ensureElem: one element per endpoint and protocol/port, however many services share it).
            for ep in cat.reachable:
                element = f"{ep.ip} . {ep.ip} . {proto} . {ep.port}"
                if ep.is_local and element not in hairpins:
                    hairpins.add(element)
                    lines.append(f"add element {TABLE} hairpin-connections {{ {element} }}")
        name = str(key)
        verdict = "drop" if cat.has_any else "goto reject-chain"
        if not has_internal:
            lines.append(f'add element {TABLE} no-endpoint-services {{ {svc.cluster_ip} . {sp} comment "{name}" : '
                         f"{verdict} }}")
        if not has_external:
            if port.node_port:
                lines.append(f'add element {TABLE} no-endpoint-nodeports {{ {proto} . {port.node_port} comment '
                             f'"{name}" : {verdict} }}')
            for ip in (*lb_ips, *ipv4s(svc.external_ips)):
                lines.append(f'add element {TABLE} no-endpoint-services {{ {ip} . {sp} comment "{name}" : '
                             f"{verdict} }}")
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def _nft_local(match: list[str]) -> str:
    """localDetector's nftables form: `ip saddr CIDR` / `ip saddr != CIDR` / `iifname NAME` / `iifname != NAME`."""
    negated = match[0] == "!"
    flag, value = match[-2], match[-1]
    op = "!= " if negated else ""
    if flag == "-s":
        return f"ip saddr {op}{value}"
    return f'iifname {op}"{value.replace("+", "*")}"'


def nodeport_addresses(opts: ProxierOptions) -> tuple[str, ...]:
    """The addresses NodePorts answer on in nftables mode: --nodeport-addresses, by default the node's primary
    IPs (upstream: "primary" is the nftables default)."""
    return opts.nodeport_addresses or opts.node_ips[:1]


# -- reading `nft list ruleset` (or a transaction) --------------------------------------------------------------
@attrs.frozen
class NftChain:
    name: str
    hook: str | None
    kind: str | None  # "filter" / "nat"
    priority: int
    policy: str
    rules: tuple[tuple[int, str], ...]  # (line, rule text)


@attrs.frozen
class NftTable:
    family: str
    name: str
    chains: dict[str, NftChain]
    sets: dict[str, list[tuple[int, str]]]  # set/map name -> elements (line, element text)
    timeouts: dict[str, int]


_PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}


def _priority(text: str, fail: _Fail) -> int:
    text = text.strip()
    m = re.fullmatch(r"(-?\d{1,6})|([a-z]+)(?:\s*([+-])\s*(\d{1,6}))?", text)
    if not m:
        raise fail(f"bad priority {shorten(text)!r}")
    if m.group(1):
        return int(m.group(1))
    if m.group(2) not in _PRIORITIES:
        raise fail(f"bad priority {shorten(text)!r}")
    delta = int(m.group(4) or 0) * (-1 if m.group(3) == "-" else 1)
    return _PRIORITIES[m.group(2)] + delta


class _Fail:
    def __init__(self, source: str, line: int) -> None:
        self.where = f"{source}:{line}"

    def __call__(self, problem: str) -> InputError:
        return InputError(f"{problem} ({self.where})")


def _split_elements(text: str) -> list[str]:
    """`a, b . c : goto x` elements of a set body, split on commas outside braces and quotes."""
    out: list[str] = []
    cur: list[str] = []
    depth, quoted = 0, False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if not quoted and ch in "{":
            depth += 1
        elif not quoted and ch == "}":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


_COMMENT = re.compile(r'"(?:[^"\\]|\\.)*"|#')
# Named objects nft lists in a table besides chains, sets and maps: none of them decides a packet's fate here.
_OTHER_BLOCKS = re.compile(r"(?:flowtable|counter|quota|limit|ct\s+(?:helper|timeout|expectation)|secmark|synproxy|"
                           r"tunnel)\s+\S+\s*\{")
# What `nft list` prints after a set element besides the element: its timeout, the time left, its counter and
# comment (`10.244.1.20 timeout 10m expires 9m58s312ms`, `... comment "ns6/svc6:p80" : goto reject-chain`).
_ELEMENT_EXTRAS = re.compile(r'\s+(?:timeout\s+\S+|expires\s+\S+|counter\s+packets\s+\d+\s+bytes\s+\d+|'
                             r'comment\s+"(?:[^"\\]|\\.)*")')


_XT_COMMENT = re.compile(r"\s*xt_\w+")


def _strip_comment(line: str) -> str:
    """The line without its `#` comment (nft -a prints `# handle N` after every object); quotes protect `#`.
    `# xt_NAME` is no comment: nft before 1.0 prints so an iptables-nft match or target it cannot translate
    (`counter packets 0 bytes 0 # xt_MASQUERADE`, `meta l4proto tcp # xt_tcp ... accept`), and the rule goes on
    after it; it is kept as the word `xt_NAME`."""
    out: list[str] = []
    start = 0
    for m in _COMMENT.finditer(line):
        if m.group() != "#":
            continue
        xt = _XT_COMMENT.match(line, m.end())
        if xt is None:
            out.append(line[start:m.start()])
            return "".join(out).rstrip()
        out.append(line[start:m.start()] + xt.group().strip())
        start = xt.end()
    out.append(line[start:])
    return "".join(out)


def parse_ruleset(text: str, source: str) -> list[NftTable]:
    """`nft list ruleset` output (also with `-a` handles, counters, live set elements, flowtables and other
    named objects, tables of other families and components) or an `nft -f` transaction of `add` commands.
    Only table ip kube-proxy is checked for kube-proxy's vocabulary; other tables are read and kept."""
    tables: dict[tuple[str, str], dict[str, object]] = {}

    def table(family: str, name: str) -> dict[str, object]:
        return tables.setdefault((family, name), {"chains": {}, "sets": {}, "timeouts": {}, "_key": (family, name)})

    def add_chain(t: dict[str, object], name: str, spec: str, line: int) -> None:
        fail = _Fail(source, line)
        ours = t.get("_key") == ("ip", "kube-proxy")
        chains = t["chains"]
        assert isinstance(chains, dict)
        hook = kind = None
        priority, policy = 0, "accept"
        m = re.search(r"type\s+(\w+)\s+hook\s+(\w+)\s+(?:device\s+\S+\s+)?priority\s+([^;]+);", spec)
        if m:
            kind, hook = m.group(1), m.group(2)
            if ours:
                priority = _priority(m.group(3), fail)
                if kind not in ("filter", "nat", "route"):
                    raise fail(f"chain type {shorten(kind)!r} is not one of filter, nat, route")
                if hook not in ("prerouting", "input", "forward", "output", "postrouting"):
                    raise fail(f"hook {shorten(hook)!r} is not an IPv4 hook")
            else:  # another component's chain: staged by to_dump where its family and hook see IPv4 packets
                try:
                    priority = _priority(m.group(3), fail)
                except InputError:
                    hook = None  # a priority name of another family (bridge, netdev): not an IPv4 stage
        p = re.search(r"policy\s+(\w+)\s*;", spec)
        if p:
            policy = p.group(1)
            if policy not in ("accept", "drop"):
                raise fail(f"bad chain policy {shorten(policy)!r}")
        old = chains.get(name)
        if old is not None and (hook is None or old.hook is not None):
            return  # `add chain` of an existing chain is no change
        chains[name] = NftChain(name, hook, kind, priority, policy, old.rules if old else ())

    def add_rule(t: dict[str, object], chain: str, rule: str, line: int) -> None:
        chains = t["chains"]
        assert isinstance(chains, dict)
        if chain not in chains:
            raise _Fail(source, line)(f"rule for chain {shorten(chain)!r}, which is not declared before it")
        old = chains[chain]
        chains[chain] = attrs.evolve(old, rules=(*old.rules, (line, rule)))

    def add_elements(t: dict[str, object], name: str, body: str, line: int) -> None:
        sets = t["sets"]
        assert isinstance(sets, dict)
        if name not in sets:
            raise _Fail(source, line)(f"elements for set {shorten(name)!r}, which is not declared before it")
        sets[name].extend((line, _ELEMENT_EXTRAS.sub("", e)) for e in _split_elements(body))

    def add_set(t: dict[str, object], name: str, spec: str, line: int) -> None:
        sets, timeouts = t["sets"], t["timeouts"]
        assert isinstance(sets, dict) and isinstance(timeouts, dict)
        sets.setdefault(name, [])
        m = re.search(r"timeout\s+((?:\d{1,9}[dhms])+)", spec)
        if m:
            timeouts[name] = sum(int(n) * {"d": 86400, "h": 3600, "m": 60, "s": 1}[u]
                                 for n, u in re.findall(r"(\d+)([dhms])", m.group(1)))

    lines = text.split("\n")
    current: dict[str, object] | None = None
    block: tuple[str, str] | None = None  # ("chain" | "set", name) in list format
    block_spec: list[str] = []
    elements: list[str] | None = None
    skipping = 0  # depth inside a named object other than a chain, set or map (a flowtable, a counter, ...)
    for line_no, raw in enumerate(lines, start=1):
        fail = _Fail(source, line_no)
        line = _strip_comment(raw.strip()) if "#" in raw else raw.strip()
        if not line:
            continue
        if skipping:
            skipping += line.count("{") - line.count("}")
            continue
        if "\x00" in line:
            raise fail("NUL byte in a line")
        if line.startswith("add ") or line.startswith("insert ") or line.startswith("create "):
            words = line.split(None, 4)
            if len(words) < 4:
                raise fail(f"incomplete command: {shorten(line)}")
            what = words[1]
            if what == "table":
                family, rest = words[2], line.split(None, 3)[3]
                table(family, rest.split()[0])
                continue
            if len(words) < 5 and what not in ("chain", "set", "map"):
                raise fail(f"incomplete command: {shorten(line)}")
            family, tname, name = words[2], words[3], words[4].split(None, 1)[0] if len(words) > 4 else ""
            rest = words[4][len(name):].strip() if len(words) > 4 else ""
            t = table(family, tname)
            if what == "chain":
                add_chain(t, name, rest, line_no)
            elif what == "rule":
                add_rule(t, name, rest, line_no)
            elif what in ("set", "map"):
                add_set(t, name, rest, line_no)
            elif what == "element":
                m = re.fullmatch(r"\{(.*)\}", rest)
                if not m:
                    raise fail(f"bad element list: {shorten(rest)}")
                add_elements(t, name, m.group(1), line_no)
            else:
                raise fail(f"unknown object {shorten(what)!r}")
            continue
        if line.startswith(("flush ", "delete ", "destroy ")):
            continue
        # `nft list ruleset` format
        m = re.fullmatch(r"table\s+(\w+)\s+(\S+)\s*\{", line)
        if m:
            if current is not None:
                raise fail("table inside a table")
            current = table(m.group(1), m.group(2))
            current["_key"] = (m.group(1), m.group(2))
            continue
        if current is None:
            raise fail(f"line outside a table: {shorten(line)}")
        if elements is not None:
            elements.append(line)
            if line.endswith("}"):
                assert block is not None
                body = " ".join(elements)
                body = body[body.index("{") + 1:body.rindex("}")]
                add_elements(current, block[1], body, line_no)
                elements = None
            continue
        if block is None and _OTHER_BLOCKS.fullmatch(line):
            skipping = 1
            continue
        m = re.fullmatch(r"(chain|set|map)\s+(\S+)\s*\{", line)
        if m:
            if block is not None:
                raise fail(f"{m.group(1)} inside {block[0]} {block[1]}")
            block, block_spec = (m.group(1), m.group(2)), []
            if m.group(1) == "chain":
                add_chain(current, m.group(2), "", line_no)
            else:
                add_set(current, m.group(2), "", line_no)
            continue
        if line == "}":
            if block is not None:
                if block[0] == "chain" and block_spec:
                    add_chain(current, block[1], " ".join(block_spec), line_no)
                elif block[0] != "chain":
                    add_set(current, block[1], " ".join(block_spec), line_no)
                block = None
            else:
                current = None
            continue
        if block is None:
            if line.startswith(("comment ", "flags ")):
                continue
            raise fail(f"unexpected line in a table: {shorten(line)}")
        if block[0] == "chain":
            if line.startswith("type ") or line.startswith("policy "):
                block_spec.append(line if line.endswith(";") else line + ";")
                if "type " in line:
                    _c = current["chains"]
                    assert isinstance(_c, dict)
                    add_chain(current, block[1], " ".join(block_spec), line_no)
                continue
            if line.startswith("comment "):
                continue
            add_rule(current, block[1], line, line_no)
        else:
            if line.startswith("elements = {"):
                elements = [line]
                if line.endswith("}"):
                    body = line[line.index("{") + 1:line.rindex("}")]
                    add_elements(current, block[1], body, line_no)
                    elements = None
                continue
            block_spec.append(line)
    if current is not None or block is not None:
        raise InputError(f"unterminated block at the end ({source}:{len(lines)})")
    out = []
    for (family, name), t in tables.items():
        chains, sets, timeouts = t["chains"], t["sets"], t["timeouts"]
        assert isinstance(chains, dict) and isinstance(sets, dict) and isinstance(timeouts, dict)
        out.append(NftTable(family, name, chains, sets, timeouts))
    return out


# -- translation to the iptables-like rules symbolic.py walks ---------------------------------------------------
_SLOTS = {("nat", "prerouting"): ("nat", "PREROUTING"), ("nat", "output"): ("nat", "OUTPUT"),
          ("nat", "postrouting"): ("nat", "POSTROUTING"), ("nat", "input"): ("nat", "INPUT")}


def _slot(chain: NftChain, fail: _Fail) -> tuple[str, str]:
    assert chain.hook is not None and chain.kind is not None
    hook = chain.hook.upper()
    if chain.kind == "nat":
        return _SLOTS[(chain.kind, chain.hook)]
    if chain.hook in ("prerouting", "output") and chain.priority < -100:
        return ("mangle" if chain.priority > -300 else "raw", hook)
    if chain.hook == "prerouting":
        raise fail(f"base chain {chain.name}: a filter chain at prerouting after dstnat is not modelled")
    # An output filter chain after dstnat (v1.31-v1.33's filter-output-post-dnat at -90) sees the DNATed packet,
    # as filter OUTPUT does.
    if chain.hook == "postrouting":
        return ("mangle", hook)
    return ("filter" if chain.priority < 50 else "security", hook)


class _Translator:
    def __init__(self, t: NftTable, source: str, owner: str = "kube-proxy") -> None:
        self.t = t
        self.source = source
        self.owner = owner  # "kube-proxy", or the table ("inet firewalld") of another component
        self.foreign = owner != "kube-proxy"
        self.chains: dict[str, list[Rule]] = {name: [] for name in t.chains}
        self.helpers = 0

    def fail(self, line: int, problem: str) -> InputError:
        return InputError(f"{problem} ({self.source}:{line})")

    def add(self, chain: str, line: int, text: str, match: Match, target: Target | None) -> None:
        rules = self.chains[chain]
        rules.append(Rule("nft", chain, len(rules), line, text, match, target, self.source, owner=self.owner))

    def target(self, words: list[str], line: int) -> Target | None:
        """A verdict (`jump X`, `goto X`, `drop`, ...) to a Target."""
        if not words:
            return None
        verb = words[0]
        if verb in ("jump", "goto"):
            if len(words) != 2 or words[1] not in self.chains:
                raise self.fail(line, f"{verb} to {shorten(' '.join(words[1:]))!r}: no such chain")
            return Target(words[1], chain=True, goto=verb == "goto")
        simple = {"accept": "ACCEPT", "drop": "DROP", "reject": "REJECT", "return": "RETURN"}
        if verb in simple and (len(words) == 1 or verb == "reject"):
            return Target(simple[verb])
        raise self.fail(line, f"unknown verdict {shorten(' '.join(words))!r}")

    def elements(self, name: str, line: int) -> list[tuple[int, str]]:
        if name not in self.t.sets:
            raise self.fail(line, f"set {shorten(name)!r} is not declared")
        return self.t.sets[name]

    def translate(self) -> dict[str, list[Rule]]:
        for chain in self.t.chains.values():
            for line, text in chain.rules:
                self.rule(chain.name, line, text)
        return self.chains

    def rule(self, chain: str, line: int, text: str) -> None:
        body = re.sub(r'\s+comment\s+"(?:[^"\\]|\\.)*"\s*$', "", text).strip()
        body = re.sub(r"\bcounter(\s+packets\s+\d+\s+bytes\s+\d+)?", "", body).strip()
        if self.foreign:
            self._other(chain, line, text, body)
            return
        for alt in self._alternatives(body, line):
            self._one(chain, line, text, alt)

    def _alternatives(self, body: str, line: int) -> Iterator[str]:
        """Expand named and anonymous sets in positive matches into one rule text each."""
        m = re.search(r"(ip [sd]addr)\s+(?!!=)(@[\w./:-]+|\{[^}]*\})\s+(?!goto|jump)", body + " ")
        vmap = re.search(r"\bvmap\s+(@\S+|\{.*\})", body)
        if m and not (vmap and m.start() > vmap.start()) and not m.group(2).startswith("@affinity"):
            ref = m.group(2)
            items = ([e for _, e in self.elements(ref[1:], line)] if ref.startswith("@")
                     else _split_elements(ref[1:-1]))
            for item in items:
                yield from self._alternatives(body[:m.start(2)] + item + body[m.end(2):], line)
            return
        yield body

    def _one(self, chain: str, line: int, text: str, body: str) -> None:
        fields: dict[str, object] = {}
        words = body.split()
        i = 0
        target: Target | None = None
        while i < len(words):
            w = words[i]
            rest = words[i:]
            if w == "ip" and len(rest) >= 3 and rest[1] in ("saddr", "daddr"):
                key = "src" if rest[1] == "saddr" else "dst"
                neg = rest[2] == "!="
                value = rest[3] if neg else rest[2]
                if value == "." or (len(rest) > 3 and rest[3] == "."):
                    if " ".join(rest[:11]) == "ip saddr . ip daddr . meta l4proto . th dport" and len(rest) > 11:
                        self._tuple_set(chain, line, text, rest[11:], fields)
                    else:
                        self._vmap(chain, line, text, words[i:], fields)
                    return
                if neg and value.startswith("{"):
                    end = next(k for k in range(i + 3, len(words)) if words[k].endswith("}"))
                    items = _split_elements(" ".join(words[i + 3:end + 1])[1:-1])
                    target = self.target(words[end + 1:], line)
                    self._negated_set(chain, line, text, key, items, fields, target)
                    return
                if value.startswith("@affinity"):
                    name = value[1:]
                    fields["recent"] = Recent(name, "rcheck", seconds=self.t.timeouts.get(name), negated=neg)
                    i += 4 if neg else 3
                    continue
                try:
                    net = ipaddress.IPv4Network(value, strict=False)
                except ValueError:
                    raise self.fail(line, f"bad address {shorten(value)!r}") from None
                fields[key] = Addr(net, neg)
                i += 4 if neg else 3
            elif w == "meta" and len(rest) >= 3 and rest[1] == "l4proto" and rest[2] == ".":
                self._vmap(chain, line, text, words[i:], fields)
                return
            elif w == "meta" and len(rest) >= 3 and rest[1] == "l4proto" and rest[2] != ".":
                fields["proto"] = Flag(rest[2])
                i += 3
            elif w in ("tcp", "udp", "sctp") and len(rest) >= 3 and rest[1] == "dport" and rest[2].isdigit():
                # v1.31-v1.33 name the service port in the cluster-IP masquerade rule (`tcp dport 80`).
                fields["proto"] = Flag(w)
                fields["dport"] = Ports(int(rest[2]), int(rest[2]))
                i += 3
            elif w == "th" and len(rest) >= 3 and rest[1] == "dport":
                fields["dport"] = Ports(int(rest[2]), int(rest[2]))
                i += 3
            elif w == "fib" and len(rest) >= 4 and rest[2] == "type":
                neg = rest[3] == "!="
                kind = rest[4] if neg else rest[3]
                if kind != "local":
                    raise self.fail(line, f"fib type {shorten(kind)!r} is not modelled")
                fields["src_type" if rest[1] == "saddr" else "dst_type"] = Flag("LOCAL", neg)
                i += 5 if neg else 4
            elif w == "ct" and len(rest) >= 3 and rest[1] == "status" and rest[2] in ("dnat", "snat"):
                fields["ctstate"] = CtState(frozenset({rest[2].upper()}))
                i += 3
            elif w == "ct" and len(rest) >= 3 and rest[1] == "state":
                neg = rest[2] == "!="
                states = (rest[3] if neg else rest[2]).upper().split(",")
                fields["ctstate"] = CtState(frozenset(states), neg)
                i += 4 if neg else 3
            elif w in ("mark", "meta") and "set" in rest[:3]:
                m = re.fullmatch(r"(?:meta )?mark set (?:meta )?mark (or|\||xor|\^) (0x[0-9a-fA-F]+|\d+)",
                                 " ".join(rest))
                if not m:
                    raise self.fail(line, f"mark expression not modelled: {shorten(' '.join(rest))}")
                op = "or" if m.group(1) in ("or", "|") else "xor"
                target = Target("MARK", mark_op=(op, int(m.group(2), 0), 0xFFFFFFFF))
                break
            elif w in ("mark", "meta") and ("and" in rest[:3] or "&" in rest[:3]):
                m = re.match(r"(?:meta )?mark (?:and|&) (0x[0-9a-fA-F]+|\d+) (==|!=) (0x[0-9a-fA-F]+|\d+)\s*(.*)",
                             " ".join(rest))
                if not m:
                    raise self.fail(line, f"mark expression not modelled: {shorten(' '.join(rest))}")
                mark_mask, mark_value = int(m.group(1), 0), int(m.group(3), 0)
                if mark_mask > 0xFFFFFFFF or mark_value > 0xFFFFFFFF:
                    raise self.fail(line, "a mark beyond 32 bits")
                fields["mark"] = MarkMatch(mark_value & mark_mask, mark_mask, m.group(2) == "!=")
                after = m.group(4).split()
                if len(after) > 2 and after[:2] in (["mark", "set"], ["meta", "mark"]):
                    # `... mark set mark xor M masquerade` (later releases' masquerading rule): the statements in
                    # a helper chain, run in order on the packets that match.
                    target = self._helper(chain, line, text, " ".join(after))
                else:
                    target = self.target(after, line)
                break
            elif w == "masquerade":
                target = Target("MASQUERADE", options=tuple(words[i + 1:]))
                break
            elif w == "dnat" and rest[1:6] == ["ip", "addr", ".", "port", "to"]:
                self._numgen_dnat(chain, line, text, " ".join(rest[6:]), fields)
                return
            elif w == "dnat" and len(rest) >= 3 and rest[1] == "to":
                target = Target("DNAT", to=rest[2])
                break
            elif w == "numgen":
                self._numgen(chain, line, text, body, fields)
                return
            elif w == "update" and len(rest) >= 2 and rest[1].startswith("@"):
                fields["recent"] = Recent(rest[1][1:], "set")
                break
            elif w in ("jump", "goto", "accept", "drop", "reject", "return"):
                target = self.target(rest, line)
                break
            else:
                raise self.fail(line, f"expression not modelled: {shorten(' '.join(rest))}")
        self.add(chain, line, text, Match(**fields), target)  # type: ignore[arg-type]

    def _other(self, chain: str, line: int, text: str, body: str) -> None:
        """A rule of another component's table. What kube-proxy's promises can depend on is modelled (addresses,
        interfaces, protocol and ports, fib local, conntrack state, marks; accept, drop, reject, return, jump,
        goto, masquerade, snat, dnat, redirect, mark set); every other match is an opaque condition (a proof holds
        whichever way it goes; its text names it) and other statements (log, counter, limit's companions) let
        the packet go on unchanged. A set a match names (`ip saddr @allowed`, `tcp dport { 22, 443 }`) is
        opaque too."""
        words = body.split()
        if self._iface_vmap(chain, line, text, body):
            return
        fields: dict[str, object] = {}
        opaque: list[Opaque] = []
        target: Target | None = None
        i = 0

        def until_verdict(j: int) -> int:
            while j < len(words) and not words[j].startswith("xt_") and words[j] != "xt" and (
                    words[j] not in _VERDICT_WORDS or (words[j] in ("snat", "dnat") and words[j + 1:j + 2] != ["to"])):
                j += 1
            return j

        while i < len(words):
            rest = words[i:]
            used = _other_match(rest, fields)
            if used:
                i += used
                continue
            w = rest[0]
            xt = _xt(rest)
            if xt is not None:
                kind, name, used = xt
                if kind == "target" and name in _XT_TARGETS:
                    target = Target(_XT_TARGETS[name])
                    break
                if not (kind == "match" and name == "comment") and name not in _XT_PASSIVE:
                    opaque.append(Opaque(f"xt {kind} {name}" + (" (not modelled)" if kind == "target" else "")))
                i += used
                continue
            if w in ("accept", "drop", "return", "reject"):
                target = Target(w.upper())
                break
            if w in ("jump", "goto") and len(rest) >= 2:
                target = self.target(rest[:2], line)
                break
            if w == "masquerade":
                target = Target("MASQUERADE", options=tuple(rest[1:]))
                break
            if w in ("snat", "dnat") and len(rest) >= 3 and rest[1] == "to":
                target = Target(w.upper(), to=rest[2])
                break
            if w == "redirect":
                port = rest[2].lstrip(":") if len(rest) >= 3 and rest[1] == "to" else None
                target = Target("REDIRECT", to=port or None)
                break
            if w in ("queue", "tproxy", "synproxy"):
                target = Target({"queue": "NFQUEUE", "tproxy": "TPROXY", "synproxy": "SYNPROXY"}[w])
                break
            if w == "notrack":
                target = Target("NOTRACK")
                break
            mark = _MARK_SET.match(" ".join(rest))
            if mark:
                op = {"or": "or", "|": "or", "xor": "xor", "^": "xor", None: "set"}[mark.group(1)]
                target = Target("MARK", mark_op=(op, int(mark.group(2), 0), 0xFFFFFFFF))
                break
            if w in ("log", "counter") or (len(rest) >= 3 and "set" in rest[1:3]):
                i = until_verdict(i + 1)  # a statement that changes nothing the proof reads
                continue
            j = until_verdict(i + 1)
            opaque.append(Opaque(" ".join(words[i:j])))
            i = j
        if opaque:
            fields["opaque"] = tuple(opaque)
        self.add(chain, line, text, Match(**fields), target)  # type: ignore[arg-type]

    def _iface_vmap(self, chain: str, line: int, text: str, body: str) -> bool:
        """`oifname vmap @jumps` / `iifname vmap { "br0" : jump X , ... }` (Docker's nftables bridge driver
        dispatches per bridge this way): one rule per element, its interface matched, its verdict taken. An element
        of another form leaves the whole rule to the generic reading (an opaque condition). False: not such a rule."""
        m = re.fullmatch(r"(iifname|oifname|iif|oif) vmap (@\S+|\{.*\})", body.strip())
        if not m:
            return False
        ref = m.group(2)
        if ref.startswith("@"):
            if ref[1:] not in self.t.sets:
                return False
            items = [e for _, e in self.t.sets[ref[1:]]]
        else:
            items = _split_elements(ref[1:-1])
        parsed: list[tuple[Iface, Target]] = []
        for item in items:
            found = re.fullmatch(r'\s*"?([\w.+*@:-]{1,15})"?\s*:\s*(accept|drop|return|(?:jump|goto) \S+)\s*', item)
            if not found or (found.group(2).split()[0] in ("jump", "goto")
                             and found.group(2).split()[1] not in self.chains):
                return False
            name = found.group(1)
            target = self.target(found.group(2).split(), line)
            assert target is not None
            parsed.append((Iface(name[:-1] + "+" if name.endswith("*") else name, False), target))
        key = "iif" if m.group(1).startswith("i") else "oif"
        for iface, target in parsed:
            self.add(chain, line, text, Match(**{key: iface}), target)  # type: ignore[arg-type]
        return True

    def _helper(self, chain: str, line: int, text: str, statements: str) -> Target:
        """A helper chain running `statements` (a mark set, then a verdict) in order: the rule jumps to it."""
        self.helpers += 1
        helper = f"{chain}~{self.helpers}"
        self.chains[helper] = []
        m = re.match(r"(?:meta )?mark set (?:meta )?mark (or|\||xor|\^) (0x[0-9a-fA-F]{1,8}|\d{1,10})\s*(.*)",
                     statements)
        if not m:
            raise self.fail(line, f"statements not modelled: {shorten(statements)}")
        op = "or" if m.group(1) in ("or", "|") else "xor"
        self.add(helper, line, text, Match(), Target("MARK", mark_op=(op, int(m.group(2), 0), 0xFFFFFFFF)))
        self._one(helper, line, text, m.group(3))
        return Target(helper, chain=True)

    def _tuple_set(self, chain: str, line: int, text: str, words: list[str], fields: dict[str, object]) -> None:
        """`ip saddr . ip daddr . meta l4proto . th dport @set VERDICT` (later releases' hairpin-connections):
        one rule per element."""
        if not words or not words[0].startswith("@"):
            raise self.fail(line, f"set match not modelled: {shorten(' '.join(words))}")
        rest = " ".join(words[1:])
        for eline, element in self.elements(words[0][1:], line):
            e = re.fullmatch(r"(\S+) \. (\S+) \. (\w+) \. (\d{1,5})", element.strip())
            if not e or int(e.group(4)) > 65535:
                raise self.fail(eline, f"bad element {shorten(element)!r}")
            try:
                src, dst = (ipaddress.IPv4Network(e.group(k)) for k in (1, 2))
            except ValueError:
                raise self.fail(eline, f"bad element {shorten(element)!r}") from None
            body = f"ip saddr {src.network_address} ip daddr {dst.network_address} meta l4proto {e.group(3)} " \
                   f"th dport {e.group(4)} {rest}"
            self._one(chain, eline, f"{text}  [{element.strip()}]", body)
            if fields:
                rule = self.chains[chain][-1]
                self.chains[chain][-1] = attrs.evolve(rule, match=attrs.evolve(rule.match, **fields))  # type: ignore[arg-type]

    def _numgen_dnat(self, chain: str, line: int, text: str, body: str, fields: dict[str, object]) -> None:
        """`dnat ip addr . port to numgen random mod N map { 0 : IP . PORT , ... }` (later releases' service
        chains): the statistic chain of DNATs, element k taken with probability exactly 1/(N-k)."""
        m = re.fullmatch(r"numgen random mod (\d{1,6}) map \{(.*)\}", body)
        if not m or not 0 < int(m.group(1)) <= 100_000:
            raise self.fail(line, f"dnat map not modelled: {shorten(body)}")
        n = int(m.group(1))
        choices: dict[int, str] = {}
        for item in _split_elements(m.group(2)):
            e = re.fullmatch(r"\s*(\d+)\s*:\s*(\S+) \. (\d{1,5})\s*", item)
            if not e or int(e.group(1)) >= n or int(e.group(3)) > 65535:
                raise self.fail(line, f"dnat map element {shorten(item)!r} not modelled")
            try:
                ipaddress.IPv4Address(e.group(2))
            except ValueError:
                raise self.fail(line, f"bad address {shorten(e.group(2))!r}") from None
            choices[int(e.group(1))] = f"{e.group(2)}:{e.group(3)}"
        if len(choices) != n:
            raise self.fail(line, f"numgen random mod {n} maps {len(choices)} values: the rest fall through")
        for k in range(n):
            p = Fraction(1, n - k)
            match = Match(**fields, probability=f"{p.numerator}/{p.denominator}") if k < n - 1 else Match(**fields)  # type: ignore[arg-type]
            self.add(chain, line, text, match, Target("DNAT", to=choices[k]))

    def _negated_set(self, chain: str, line: int, text: str, key: str, items: list[str],
                     fields: dict[str, object], target: Target | None) -> None:
        """`ip saddr != { a, b } VERDICT`: a helper chain returns on each element, then applies the verdict."""
        self.helpers += 1
        helper = f"{chain}~{self.helpers}"
        self.chains[helper] = []
        for item in items:
            try:
                addr = Addr(ipaddress.IPv4Network(item, strict=False))
            except ValueError:
                raise self.fail(line, f"bad address {shorten(item)!r}") from None
            self.add(helper, line, text, Match(src=addr) if key == "src" else Match(dst=addr), Target("RETURN"))
        self.add(helper, line, text, Match(), target)
        self.add(chain, line, text, Match(**fields), Target(helper, chain=True))  # type: ignore[arg-type]

    def _vmap(self, chain: str, line: int, text: str, words: list[str], fields: dict[str, object]) -> None:
        """`ip daddr . meta l4proto . th dport vmap @map`: one rule per element."""
        joined = " ".join(words)
        m = re.fullmatch(r"(ip daddr \. )?meta l4proto \. th dport vmap (@\S+)", joined)
        if not m:
            raise self.fail(line, f"verdict map not modelled: {shorten(joined)}")
        with_address = m.group(1) is not None
        for eline, element in self.elements(m.group(2)[1:], line):
            pattern = r'(\S+) \. (\w+) \. (\d+)' if with_address else r'()(\w+) \. (\d+)'
            e = re.fullmatch(pattern + r'(?: comment "[^"]*")? : (.+)', element.strip())
            if not e or int(e.group(3)) > 65535:
                raise self.fail(eline, f"bad element {shorten(element)!r}")
            extra: dict[str, object] = {"proto": Flag(e.group(2)), "dport": Ports(int(e.group(3)), int(e.group(3)))}
            if with_address:
                try:
                    extra["dst"] = Addr(ipaddress.IPv4Network(e.group(1)))
                except ValueError:
                    raise self.fail(eline, f"bad address {shorten(e.group(1))!r}") from None
            match = Match(**{**fields, **extra})  # type: ignore[arg-type]
            self.add(chain, eline, f"{text}  [{element.strip()}]", match, self.target(e.group(4).split(), eline))

    def _numgen(self, chain: str, line: int, text: str, body: str, fields: dict[str, object]) -> None:
        m = re.fullmatch(r"numgen random mod (\d+) vmap \{(.*)\}", body)
        if not m:
            raise self.fail(line, f"numgen expression not modelled: {shorten(body)}")
        if len(m.group(1)) > 6:
            raise self.fail(line, f"numgen random mod {shorten(m.group(1))}: not between 1 and 100000")
        n = int(m.group(1))
        choices: dict[int, Target | None] = {}
        if not 0 < n <= 100_000:
            raise self.fail(line, f"numgen random mod {n}: not between 1 and 100000")
        for item in _split_elements(m.group(2)):
            index, _, verdict = item.partition(":")
            if not index.strip().isdigit() or int(index) >= n:
                raise self.fail(line, f"numgen element {shorten(item)!r} outside 0..{n - 1}")
            choices[int(index)] = self.target(verdict.split(), line)
        if len(choices) != n:
            raise self.fail(line, f"numgen random mod {n} maps {len(choices)} values: the rest fall through")
        for k in range(n):
            p = Fraction(1, n - k)
            match = Match(**fields, probability=f"{p.numerator}/{p.denominator}") if k < n - 1 else Match(**fields)  # type: ignore[arg-type]
            self.add(chain, line, text, match, choices[k])


_MARK_SET = re.compile(r"(?:meta )?mark set (?:(?:meta )?mark (or|\||xor|\^) )?(0x[0-9a-fA-F]{1,8}|\d{1,10})(?: |$)")
_VERDICT_WORDS = frozenset({"accept", "drop", "reject", "return", "jump", "goto", "masquerade", "snat", "dnat",
                            "redirect", "queue", "notrack", "tproxy", "synproxy", "log", "counter"})
_IPV4_HOOKS = {"prerouting": "PREROUTING", "input": "INPUT", "forward": "FORWARD", "output": "OUTPUT",
               "postrouting": "POSTROUTING"}


# iptables-nft rules nft cannot translate (`xt target "MASQUERADE"`, or `# xt_MASQUERADE` before nft 1.0): the
# targets whose effect is modelled, and those that let the packet go on unchanged.
_XT_TARGETS = {"MASQUERADE": "MASQUERADE", "REJECT": "REJECT", "ACCEPT": "ACCEPT", "DROP": "DROP", "RETURN": "RETURN"}
_XT_PASSIVE = frozenset({"LOG", "NFLOG", "ULOG", "CHECKSUM", "TCPMSS", "AUDIT", "TRACE", "CLASSIFY", "DSCP", "TOS"})


def _xt(words: list[str]) -> tuple[str, str, int] | None:
    """An iptables-nft compat expression at the head of `words`: (match or target, its name, words used)."""
    w = words[0]
    if w.startswith("xt_") and len(w) > 3:
        name = w[3:]
        return ("target" if name[:1].isupper() else "match", name, 1)
    if w == "xt" and len(words) >= 3 and words[1] in ("match", "target"):
        return (words[1], words[2].strip('"'), 3)
    return None


def _other_match(words: list[str], fields: dict[str, object]) -> int:
    """A match of another component's rule that the proof models: the number of words it takes (0: none)."""
    neg = len(words) > 2 and words[2] == "!="
    value = words[3] if neg and len(words) > 3 else (words[2] if len(words) > 2 else "")
    size = 4 if neg else 3
    w = words[0]
    if w == "ip" and len(words) > 2 and words[1] in ("saddr", "daddr") and "/" not in value[:1]:
        try:
            fields["src" if words[1] == "saddr" else "dst"] = Addr(ipaddress.IPv4Network(value, strict=False), neg)
        except ValueError:
            return 0
        return size
    if w in ("iifname", "oifname", "iif", "oif") and len(words) > 1:
        neg = words[1] == "!="
        name = words[2] if neg and len(words) > 2 else words[1]
        if name.startswith("{") or name.startswith("@") or name in ("vmap", "map"):
            return 0
        name = name.strip('"')
        name = name[:-1] + "+" if name.endswith("*") else name
        fields["iif" if w.startswith("i") else "oif"] = Iface(name, neg)
        return 3 if neg else 2
    if w in ("tcp", "udp", "sctp") and len(words) > 2 and words[1] in ("dport", "sport"):
        m = re.fullmatch(r"(\d{1,5})(?:-(\d{1,5}))?", value)
        if not m or int(m.group(1)) > 65535 or int(m.group(2) or 0) > 65535:
            return 0
        fields["proto"] = Flag(w)
        fields["dport" if words[1] == "dport" else "sport"] = Ports(int(m.group(1)), int(m.group(2) or m.group(1)),
                                                                    neg)
        return size
    if (w, words[1] if len(words) > 1 else "") in (("ip", "protocol"), ("meta", "l4proto")) and len(words) > 2:
        if value not in PROTOCOL_NUMBERS:
            return 0
        fields["proto"] = Flag(value, neg)
        return size
    if w == "fib" and len(words) > 3 and words[1] in ("saddr", "daddr") and words[2] == "type":
        kind = words[4] if words[3] == "!=" and len(words) > 4 else words[3]
        if kind != "local":
            return 0
        fields["src_type" if words[1] == "saddr" else "dst_type"] = Flag("LOCAL", words[3] == "!=")
        return 5 if words[3] == "!=" else 4
    if w == "ct" and len(words) > 2 and words[1] == "state":
        text = " ".join(words[3:] if neg else words[2:])
        m = re.match(r"(\{[^}]*\}|[\w,]+)", text)
        if not m:
            return 0
        states = frozenset(x.strip().upper() for x in m.group(1).strip("{}").split(",") if x.strip())
        if not states or not states <= CT_STATES:
            return 0
        fields["ctstate"] = CtState(states, neg)
        return (3 if neg else 2) + len(m.group(1).split())
    if w in ("meta", "mark") and "set" not in words[1:3]:
        m = re.match(r"(?:meta )?mark (?:(!=|==) )?(0x[0-9a-fA-F]{1,8}|\d{1,10})(?: |$)", " ".join(words))
        if m:
            value_ = int(m.group(2), 0)
            fields["mark"] = MarkMatch(value_, 0xFFFFFFFF, m.group(1) == "!=")
            return len(m.group(0).split())
    return 0


def to_dump(tables: list[NftTable], source: str) -> tuple[Dump, list[str]]:
    """kube-proxy's table as iptables-like tables (see the module docstring), the base chains of the other
    tables that see IPv4 packets (families ip and inet) as stages of their own at their hooks and priorities
    (Dump.stages: nftables runs every base chain registered at a hook in priority order; `accept` ends one base
    chain, `drop` the packet; wiki.nftables.org "Netfilter hooks" and "Configuring chains"), and the tables not
    considered (other families)."""
    ours = [t for t in tables if t.family == "ip" and t.name == "kube-proxy"]
    considered = [t for t in tables if t.family in ("ip", "inet") and not (t.family == "ip" and t.name == "kube-proxy")]
    others = [f"{t.family} {t.name}" for t in tables if t not in ours and t not in considered]
    if not ours:
        raise InputError(f"no table ip kube-proxy in the ruleset ({source}:1)")
    t = ours[0]
    chains = _Translator(t, source).translate()
    out: dict[str, dict[str, Chain]] = {}
    slots: dict[tuple[str, str], str] = {}
    for chain in sorted(t.chains.values(), key=lambda c: c.priority):
        if chain.hook is None:
            continue
        line = chain.rules[0][0] if chain.rules else 1
        table, builtin = _slot(chain, _Fail(source, line))
        if (table, builtin) in slots:
            raise InputError(f"base chains {slots[(table, builtin)]} and {chain.name} share a hook and priority "
                             f"class: not modelled ({source}:{line})")
        slots[(table, builtin)] = chain.name
        jump = Rule(table, builtin, 0, 0, f"-A {builtin} -j {chain.name}", Match(), Target(chain.name, chain=True),
                    source, owner="kube-proxy")
        out.setdefault(table, {})[builtin] = Chain(builtin, "DROP" if chain.policy == "drop" else "ACCEPT", (jump,))
    for table in out:
        for name, rules in chains.items():
            out[table][name] = Chain(name, None, tuple(attrs.evolve(r, table=table) for r in rules))
    stages: dict[str, list[tuple[int, str, str, bool]]] = {}
    for other in considered:
        name = f"{other.family} {other.name}"
        translated = _Translator(other, source, owner=name).translate()
        out[name] = {c: Chain(c, ("DROP" if other.chains[c].policy == "drop" else "ACCEPT")
                              if other.chains[c].hook is not None else None,
                              tuple(attrs.evolve(r, table=name) for r in rules)) for c, rules in translated.items()}
        for chain in other.chains.values():
            hook = _IPV4_HOOKS.get(chain.hook or "")
            if hook is not None:
                stages.setdefault(hook, []).append((chain.priority, name, chain.name, chain.kind == "nat"))
    return Dump(out, {hook: tuple(s) for hook, s in stages.items()},
                hairpin_local_only="hairpin-connections" in t.sets), others
