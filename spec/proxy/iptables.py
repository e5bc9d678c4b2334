"""The rules kube-proxy's iptables mode writes with iptables-restore, as `iptables-save` text.

Upstream: pkg/proxy/iptables/proxier.go (syncProxyRules, writeServiceToEndpointRules, portProtoHash,
servicePortEndpointChainName, computeProbability). Output order: upstream's proxier walks a Go map, so its
order is random; `render` orders tables, chains and rules exactly as upstream's tests do before comparing
(proxier_test.go sortIPTablesRules), which makes the output comparable line for line with their expectations.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress

import attrs

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

LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000
LOCALHOST_NODEPORTS_COUNTER = "localhost_nps_accepted_pkts"
CT_INVALID_COUNTER = "ct_state_invalid_dropped_pkts"
NODEPORTS_LAST_COMMENT = '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"'


@attrs.frozen
class Table:
    name: str
    chains: tuple[str, ...]
    rules: tuple[tuple[str, str], ...]  # (chain, rule line starting with "-A chain")


@attrs.frozen
class Ruleset:
    """iptables-restore input: the filter and nat tables, in generation order."""

    tables: tuple[Table, ...]
    large_cluster_mode: bool


def port_proto_hash(name: str, protocol: str) -> str:
    digest = hashlib.sha256((name + protocol).encode()).digest()
    return base64.b32encode(digest).decode()[:16]


def service_chain(prefix: str, key: PortKey) -> str:
    """KUBE-SVC-, KUBE-SVL-, KUBE-EXT- or KUBE-FW- followed by portProtoHash."""
    return prefix + port_proto_hash(str(key), key.protocol.lower())


def endpoint_chain(key: PortKey, endpoint: str) -> str:
    digest = hashlib.sha256((str(key) + key.protocol.lower() + endpoint).encode()).digest()
    return "KUBE-SEP-" + base64.b32encode(digest).decode()[:16]


def probability(n: int) -> str:
    """computeProbability: fmt.Sprintf("%0.10f", 1.0/float64(n))."""
    return f"{1.0 / n:0.10f}"


class _Lines:
    def __init__(self) -> None:
        self.chains: list[str] = []
        self.rules: list[tuple[str, str]] = []

    def chain(self, name: str) -> None:
        self.chains.append(name)

    def rule(self, chain: str, *parts: str | list[str]) -> None:
        words = ["-A", chain]
        for part in parts:
            words.extend(part if isinstance(part, list) else [part])
        self.rules.append((chain, " ".join(words)))


def sync_proxy_rules(cluster: Cluster, opts: ProxierOptions) -> Ruleset:
    """syncProxyRules for a full sync of an IPv4 proxier."""
    mark = opts.mark
    filt, nat = _Lines(), _Lines()
    for name in ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS", "KUBE-PROXY-FIREWALL"):
        filt.chain(name)
    for name in ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"):
        nat.chain(name)
    nat.rule("KUBE-POSTROUTING", "-m", "mark", "!", "--mark", f"{mark}/{mark}", "-j", "RETURN")
    nat.rule("KUBE-POSTROUTING", "-j", "MARK", "--xor-mark", mark)
    masq = ["-m", "comment", "--comment", '"kubernetes service traffic requiring SNAT"', "-j", "MASQUERADE"]
    nat.rule("KUBE-POSTROUTING", masq + (["--random-fully"] if opts.random_fully else []))
    nat.rule("KUBE-MARK-MASQ", "-j", "MARK", "--or-mark", mark)
    if opts.localhost_nodeports:
        filt.chain("KUBE-FIREWALL")
        filt.rule("KUBE-FIREWALL", "-m", "comment", "--comment", '"block incoming localnet connections"',
                  "-d", "127.0.0.0/8", "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate",
                  "RELATED,ESTABLISHED,DNAT", "-j", "DROP")

    ports = service_ports(cluster)
    eps_map = endpoints_map(cluster, opts.node_name)
    total = sum(len(eps_map.get(key, [])) for key, _, _ in ports)
    large = total > LARGE_CLUSTER_ENDPOINTS_THRESHOLD

    def comment(text: str) -> list[str]:
        return [] if large else ["-m", "comment", "--comment", text]

    if_local, if_not_local = opts.local_match(True), opts.local_match(False)
    node_ip = ipaddress.ip_address(opts.node_ips[0]) if opts.node_ips else None

    for key, svc, port in ports:
        proto = key.protocol.lower()
        name = str(key)
        cat = categorize(eps_map.get(key, []), svc, port)
        svc_chain, svl_chain = service_chain("KUBE-SVC-", key), service_chain("KUBE-SVL-", key)
        ext_chain, fw_chain = service_chain("KUBE-EXT-", key), service_chain("KUBE-FW-", key)
        external_ips, lb_ips = ipv4s(svc.external_ips), ipv4s(svc.load_balancer_ips)
        source_ranges = [r for r in svc.load_balancer_source_ranges if ipaddress.ip_network(r).version == 4]
        uses_cluster_chain = bool(cat.cluster) and uses_cluster_endpoints(svc, port)
        uses_local_chain = bool(cat.local) and uses_local_endpoints(svc, port)
        internal_chain, has_internal = svc_chain, cat.has_any
        if svc.internal_policy_local:
            internal_chain = svl_chain
            has_internal = has_internal and bool(cat.local)
        external_policy_chain, has_external = svc_chain, cat.has_any
        if svc.external_policy_local:
            external_policy_chain = svl_chain
            has_external = has_external and bool(cat.local)
        uses_ext_chain = cat.has_any and port_externally_accessible(svc, port)
        uses_fw = cat.has_any and bool(lb_ips) and bool(source_ranges)
        lb_chain = fw_chain if uses_fw else ext_chain
        int_target = int_comment = ext_target = ext_comment = ""
        if not cat.has_any:
            int_target = ext_target = "REJECT"
            int_comment = ext_comment = f'"{name} has no endpoints"'
        else:
            if not has_internal:
                int_target, int_comment = "DROP", f'"{name} has no local endpoints"'
            if not has_external:
                ext_target, ext_comment = "DROP", f'"{name} has no local endpoints"'
        pmatch = ["-m", proto, "-p", proto]
        cip, sport = str(svc.cluster_ip), str(port.port)

        if has_internal:
            nat.rule("KUBE-SERVICES", "-m", "comment", "--comment", f'"{name} cluster IP"', pmatch, "-d", cip,
                     "--dport", sport, "-j", internal_chain)
        else:
            filt.rule("KUBE-SERVICES", "-m", "comment", "--comment", int_comment, pmatch, "-d", cip, "--dport", sport,
                      "-j", int_target)
        for ip in external_ips:
            if cat.has_any:
                nat.rule("KUBE-SERVICES", "-m", "comment", "--comment", f'"{name} external IP"', pmatch, "-d", ip,
                         "--dport", sport, "-j", ext_chain)
            if not has_external:
                filt.rule("KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", ext_comment, pmatch, "-d", ip,
                          "--dport", sport, "-j", ext_target)
        for ip in lb_ips:
            if cat.has_any:
                nat.rule("KUBE-SERVICES", "-m", "comment", "--comment", f'"{name} loadbalancer IP"', pmatch, "-d", ip,
                         "--dport", sport, "-j", lb_chain)
            if uses_fw:
                filt.rule("KUBE-PROXY-FIREWALL", "-m", "comment", "--comment",
                          f'"{name} traffic not accepted by {fw_chain}"', pmatch, "-d", ip, "--dport", sport,
                          "-j", "DROP")
        if not has_external:
            for ip in lb_ips:
                filt.rule("KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", ext_comment, pmatch, "-d", ip,
                          "--dport", sport, "-j", ext_target)
        if port.node_port:
            np = str(port.node_port)
            if cat.has_any:
                if opts.localhost_nodeports and opts.nfacct_counters:
                    nat.rule("KUBE-NODEPORTS", "-m", "comment", "--comment", name, pmatch, "-d", "127.0.0.0/8",
                             "--dport", np, "-m", "nfacct", "--nfacct-name", LOCALHOST_NODEPORTS_COUNTER,
                             "-j", ext_chain)
                nat.rule("KUBE-NODEPORTS", "-m", "comment", "--comment", name, pmatch, "--dport", np, "-j", ext_chain)
            if not has_external:
                filt.rule("KUBE-EXTERNAL-SERVICES", "-m", "comment", "--comment", ext_comment, "-m", "addrtype",
                          "--dst-type", "LOCAL", pmatch, "--dport", np, "-j", ext_target)
        if svc.needs_health_check and svc.health_check_node_port:
            filt.rule("KUBE-NODEPORTS", "-m", "comment", "--comment", f'"{name} health check node port"',
                      "-m", "tcp", "-p", "tcp", "--dport", str(svc.health_check_node_port), "-j", "ACCEPT")

        if has_internal:
            args = ["-m", "comment", "--comment", f'"{name} cluster IP"', *pmatch, "-d", cip, "--dport", sport]
            if opts.masquerade_all:
                nat.rule(internal_chain, args, "-j", "KUBE-MARK-MASQ")
            elif if_not_local:
                nat.rule(internal_chain, args, if_not_local, "-j", "KUBE-MARK-MASQ")

        if uses_ext_chain:
            nat.chain(ext_chain)
            if not svc.external_policy_local:
                nat.rule(ext_chain, "-m", "comment", "--comment",
                         f'"masquerade traffic for {name} external destinations"', "-j", "KUBE-MARK-MASQ")
            else:
                if if_local:
                    nat.rule(ext_chain, "-m", "comment", "--comment", f'"pod traffic for {name} external destinations"',
                             if_local, "-j", svc_chain)
                nat.rule(ext_chain, "-m", "comment", "--comment",
                         f'"masquerade LOCAL traffic for {name} external destinations"', "-m", "addrtype",
                         "--src-type", "LOCAL", "-j", "KUBE-MARK-MASQ")
                nat.rule(ext_chain, "-m", "comment", "--comment",
                         f'"route LOCAL traffic for {name} external destinations"', "-m", "addrtype",
                         "--src-type", "LOCAL", "-j", svc_chain)
            if has_external:
                nat.rule(ext_chain, "-j", external_policy_chain)

        if uses_fw:
            nat.chain(fw_chain)
            head = ["-m", "comment", "--comment", f'"{name} loadbalancer IP"']
            allow_from_node = False
            for cidr in source_ranges:
                nat.rule(fw_chain, head, "-s", cidr, "-j", ext_chain)
                if node_ip is not None and node_ip in ipaddress.ip_network(cidr):
                    allow_from_node = True
            if allow_from_node:
                for ip in lb_ips:
                    nat.rule(fw_chain, head, "-s", ip, "-j", ext_chain)
            nat.rule(fw_chain, "-m", "comment", "--comment",
                     f'"other traffic to {name} will be dropped by KUBE-PROXY-FIREWALL"')

        if uses_cluster_chain:
            nat.chain(svc_chain)
            _service_to_endpoints(nat, key, svc.session_affinity, svc.sticky_seconds, svc_chain, cat.cluster, comment)
        if uses_local_chain:
            nat.chain(svl_chain)
            _service_to_endpoints(nat, key, svc.session_affinity, svc.sticky_seconds, svl_chain, cat.local, comment)
        for ep in cat.reachable:
            chain = endpoint_chain(key, str(ep))
            nat.chain(chain)
            nat.rule(chain, comment(name), "-s", ep.ip, "-j", "KUBE-MARK-MASQ")
            recent = ["-m", "recent", "--name", chain, "--set"] if svc.session_affinity == "ClientIP" else []
            nat.rule(chain, comment(name), recent, "-m", proto, "-p", proto, "-j", "DNAT", "--to-destination", str(ep))

    destinations = ["-m", "addrtype", "--dst-type", "LOCAL"]
    if not opts.localhost_nodeports:
        destinations += ["!", "-d", "127.0.0.0/8"]
    nat.rule("KUBE-SERVICES", "-m", "comment", "--comment", NODEPORTS_LAST_COMMENT, destinations, "-j",
             "KUBE-NODEPORTS")
    if not opts.conntrack_tcp_be_liberal or opts.version < (1, 29):  # the flag came with 1.29
        invalid = ["-m", "conntrack", "--ctstate", "INVALID"]
        if opts.nfacct_counters:
            invalid += ["-m", "nfacct", "--nfacct-name", CT_INVALID_COUNTER]
        filt.rule("KUBE-FORWARD", invalid, "-j", "DROP")
    filt.rule("KUBE-FORWARD", "-m", "comment", "--comment", '"kubernetes forwarding rules"', "-m", "mark", "--mark",
              f"{mark}/{mark}", "-j", "ACCEPT")
    filt.rule("KUBE-FORWARD", "-m", "comment", "--comment", '"kubernetes forwarding conntrack rule"', "-m",
              "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
    return Ruleset(
        (Table("filter", tuple(filt.chains), tuple(filt.rules)), Table("nat", tuple(nat.chains), tuple(nat.rules))),
        large,
    )


def _service_to_endpoints(nat: _Lines, key: PortKey, affinity: str, sticky: int, chain: str,
                          endpoints: tuple[ResolvedEndpoint, ...], comment: object) -> None:
    """writeServiceToEndpointRules."""
    name = str(key)
    if affinity == "ClientIP":
        for ep in endpoints:
            sep = endpoint_chain(key, str(ep))
            nat.rule(chain, comment(f'"{name} -> {ep}"'), "-m", "recent", "--name", sep,  # type: ignore[operator]
                     "--rcheck", "--seconds", str(sticky), "--reap", "-j", sep)
    n = len(endpoints)
    for i, ep in enumerate(endpoints):
        stat = ["-m", "statistic", "--mode", "random", "--probability", probability(n - i)] if i < n - 1 else []
        nat.rule(chain, comment(f'"{name} -> {ep}"'), stat, "-j", endpoint_chain(key, str(ep)))  # type: ignore[operator]


def _service_name(rule: str) -> str | None:
    """orderByCommentServiceName: the comment up to its first space or colon."""
    marker = "--comment "
    at = rule.find(marker)
    if at < 0:
        return None
    text = rule[at + len(marker):]
    value = text[1:text.index('"', 1)] if text.startswith('"') else text.split(" ", 1)[0]
    for i, ch in enumerate(value):
        if ch in " :":
            return value[:i]
    return value


def _chain_order(name: str) -> tuple[int, str]:
    if name == "KUBE-NODEPORTS":
        return (0, "")
    if name == "KUBE-SERVICES":
        return (1, "")
    return (2 if name.startswith("KUBE-") else 3, name)


def _sort_by_service(rules: list[str], keep_last: bool) -> list[str]:
    """sort.SliceStable with orderByCommentServiceName (rules without comments keep their place)."""
    def key(rule: str) -> tuple[int, str]:
        if keep_last and "must be the last rule" in rule:
            return (1, "")
        return (0, _service_name(rule) or "")
    if all(_service_name(r) is not None or (keep_last and "must be the last rule" in r) for r in rules):
        return sorted(rules, key=key)
    return rules


def render(ruleset: Ruleset) -> str:
    """iptables-save text, ordered as upstream's sortIPTablesRules orders it."""
    out: list[str] = []
    for table in sorted(ruleset.tables, key=lambda t: t.name):
        chains = sorted(dict.fromkeys(table.chains), key=_chain_order)
        by_chain: dict[str, list[str]] = {c: [] for c in chains}
        for chain, rule in table.rules:
            by_chain[chain].append(rule)
        for chain in ("KUBE-NODEPORTS", "KUBE-SERVICES"):
            if chain in by_chain:
                by_chain[chain] = _sort_by_service(by_chain[chain], keep_last=table.name == "nat")
        out.append(f"*{table.name}")
        out += [f":{c} - [0:0]" for c in chains]
        for chain in chains:
            out += by_chain[chain]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def sort_iptables_rules(text: str) -> str:
    """Upstream's test normaliser (proxier_test.go sortIPTablesRules) for any iptables-restore text: tables by
    name; chain declarations KUBE-NODEPORTS, KUBE-SERVICES, then the other KUBE- chains by name, then the rest;
    rules grouped by chain in that order, each chain's rules in their own order except KUBE-NODEPORTS and
    KUBE-SERVICES, which are ordered by the service their comment names (nat's "must be the last rule" last).
    A line outside a table, or a rule of an undeclared chain, is a ValueError."""
    tables: list[Table] = []
    name: str | None = None
    chains: list[str] = []
    rules: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("*") and name is None:
            name, chains, rules = line[1:].strip(), [], []
        elif name is None:
            raise ValueError(f"line {number} is outside a table: {line[:80]!r}")
        elif line.strip() == "COMMIT":
            tables.append(Table(name, tuple(chains), tuple(rules)))
            name = None
        elif line.startswith(":"):
            chains.append(line[1:].split()[0])
        elif line.startswith("-A "):
            chain = line.split()[1]
            if chain not in chains:
                raise ValueError(f"line {number}: rule of undeclared chain {chain}")
            rules.append((chain, line))
        else:
            raise ValueError(f"line {number}: not a chain, rule or COMMIT: {line[:80]!r}")
    if name is not None:
        raise ValueError(f"table {name} has no COMMIT")
    return render(Ruleset(tuple(tables), False))
