"""The IPVS mode's view: virtual servers (one per Service address, port and protocol) and their real servers.

Upstream: pkg/proxy/ipvs/proxier.go (syncService: ClusterIP, external IPs, load-balancer ingress IPs and
NodePorts on each node address become virtual servers with the --ipvs-scheduler; ClientIP affinity makes them
persistent with the affinity timeout; syncEndpoint: real servers are the endpoints CategorizeEndpoints selects,
Local policy selecting the node-local ones, or the cluster-wide ones when the node has none, in masquerade
forwarding mode with weight 1).
The ipsets IPVS mode keeps (pkg/proxy/ipvs/ipset.go ipsetInfo; filled by syncProxyRules) are checked member
for member against what syncProxyRules puts there (`expected_sets`): they decide, through iptables rules of a
fixed shape (writeIptablesRules), which packets are marked for masquerade (KUBE-CLUSTER-IP, KUBE-EXTERNAL-IP,
KUBE-LOAD-BALANCER, KUBE-NODE-PORT-*), which keep their source under Local policy (the -LOCAL sets), which
hairpin packets are masqueraded (KUBE-LOOP-BACK) and which sources loadBalancerSourceRanges admit
(KUBE-LOAD-BALANCER-FW, -SOURCE-CIDR, -SOURCE-IP). Not modelled: those iptables rules themselves and the path of a
packet through IPVS (LOCAL_IN / LOCAL_OUT, then POSTROUTING): with the sets right, the promises hold only if the
rules are kube-proxy's, which is not checked.
"""

from __future__ import annotations

import ipaddress

import attrs

from spec.proxy.endpoints import categorize, endpoints_map, ipv4s, is_ipv4, service_ports
from spec.proxy.ipset import IpSet, canonical
from spec.proxy.model import Cluster, ProxierOptions
from spec.proxy.parse import Chain, Dump, parse_rule


@attrs.frozen
class RealServer:
    address: str
    port: int
    weight: int = 1


@attrs.frozen
class VirtualServer:
    protocol: str
    address: str
    port: int
    scheduler: str
    persistent: int | None  # seconds, for ClientIP affinity
    service: str  # ns/name:port
    real_servers: tuple[RealServer, ...]


def virtual_servers(cluster: Cluster, opts: ProxierOptions) -> list[VirtualServer]:
    eps_map = endpoints_map(cluster, opts.node_name)
    out: list[VirtualServer] = []
    for key, svc, port in service_ports(cluster):
        cat = categorize(eps_map.get(key, []), svc, port)
        persistent = svc.sticky_seconds if svc.session_affinity == "ClientIP" else None
        # syncEndpoint(onlyNodeLocalEndpoints): the local endpoints, or the cluster ones when there are none
        # (PR #97081: pods may still reach the Service; an outside client's reply is lost).
        internal = (cat.local or cat.cluster) if svc.internal_policy_local else cat.cluster
        external = (cat.local or cat.cluster) if svc.external_policy_local else cat.cluster

        addresses = [(str(svc.cluster_ip), port.port, internal)]
        addresses += [(ip, port.port, external) for ip in ipv4s(svc.external_ips)]
        addresses += [(ip, port.port, external) for ip in ipv4s(svc.load_balancer_ips)]
        if port.node_port:
            addresses += [(ip, port.node_port, external) for ip in opts.node_ips]
        for address, vport, eps in addresses:
            reals = tuple(RealServer(ep.ip, ep.port) for ep in eps)
            out.append(VirtualServer(key.protocol, address, vport, opts.ipvs_scheduler, persistent, str(key), reals))
    return out


def render(servers: list[VirtualServer]) -> str:
    """`ipvsadm -Ln`-like text."""
    lines = ["Prot LocalAddress:Port Scheduler Flags", "  -> RemoteAddress:Port           Forward Weight"]
    for v in servers:
        flags = f" persistent {v.persistent}" if v.persistent else ""
        lines.append(f"{v.protocol:<4} {v.address}:{v.port} {v.scheduler}{flags}  # {v.service}")
        for r in v.real_servers:
            lines.append(f"  -> {f'{r.address}:{r.port}':<28} Masq    {r.weight}")
    return "\n".join(lines) + "\n"


# -- verification of a node's IPVS table (`ipvsadm -Sn`) -----------------------------------------------------------
_PROTO_FLAGS = {"-t": "TCP", "--tcp-service": "TCP", "-u": "UDP", "--udp-service": "UDP", "--sctp-service": "SCTP"}
_FORWARDING = {"-m": "masq", "--masquerading": "masq", "-g": "route", "--gatewaying": "route", "-i": "tunnel",
               "--ipip": "tunnel"}


@attrs.frozen
class SavedServer:
    """One `-A` line of `ipvsadm -Sn` and its `-a` lines: what the kernel holds."""

    protocol: str
    address: str
    port: int
    scheduler: str
    persistent: int | None
    line: int
    reals: tuple[tuple[str, int, int, str, int], ...]  # (address, port, weight, forwarding, line)


def parse_ipvsadm(text: str, source: str) -> list[SavedServer]:
    """`ipvsadm -Sn` (or `ipvsadm-save -n`) output: -A virtual services, -a real servers. Firewall-mark services
    (-f) are no Service frontend; they are kept out, as kube-proxy makes none."""
    import ipaddress
    import re

    from checker.errors import InputError

    servers: dict[tuple[str, str, int], dict[str, object]] = {}
    order: list[tuple[str, str, int]] = []

    def fail(line_no: int, problem: str) -> InputError:
        return InputError(f"{problem} ({source}:{line_no})")

    def endpoint(value: str, line_no: int) -> tuple[str, int]:
        m = re.fullmatch(r"(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})", value)
        if not m:
            raise fail(line_no, f"bad service address {value[:60]!r} (expected IPv4:port, as -n prints)")
        try:
            ipaddress.IPv4Address(m.group(1))
        except ValueError:
            raise fail(line_no, f"bad address {m.group(1)!r}") from None
        port = int(m.group(2))
        if port > 65535:
            raise fail(line_no, f"port {port} out of range (0-65535)")
        return m.group(1), port

    for line_no, raw in enumerate(text.splitlines(), start=1):
        words = raw.split()
        if not words or words[0].startswith("#"):
            continue
        op = words[0]
        if op not in ("-A", "--add-service", "-a", "--add-server"):
            raise fail(line_no, f"unknown command {op[:40]!r} (expected -A or -a)")
        opts: dict[str, str] = {}
        flags: set[str] = set()
        i = 1
        while i < len(words):
            word = words[i]
            if word in _FORWARDING or word in ("-p", "--persistent") and (
                    i + 1 >= len(words) or words[i + 1].startswith("-")):
                flags.add(word)
                i += 1
                continue
            if not word.startswith("-") or i + 1 >= len(words):
                raise fail(line_no, f"bad argument {word[:40]!r}")
            opts[word] = words[i + 1]
            i += 2
        kinds = [k for k in opts if k in _PROTO_FLAGS or k in ("-f", "--fwmark-service")]
        if len(kinds) != 1:
            raise fail(line_no, "exactly one of -t, -u, --sctp-service or -f is needed")
        if kinds[0] in ("-f", "--fwmark-service"):
            continue
        protocol = _PROTO_FLAGS[kinds[0]]
        address, port = endpoint(opts[kinds[0]], line_no)
        key = (protocol, address, port)
        if op in ("-A", "--add-service"):
            if key in servers:
                raise fail(line_no, f"service {protocol} {address}:{port} given twice")
            timeout: int | None = None
            if "-p" in flags or "--persistent" in flags:
                timeout = 300  # ipvsadm's default persistence timeout
            raw_timeout = opts.get("-p", opts.get("--persistent"))
            if raw_timeout is not None:
                if not raw_timeout.isdigit() or len(raw_timeout) > 9:
                    raise fail(line_no, f"bad persistence timeout {raw_timeout[:20]!r}")
                timeout = int(raw_timeout)
            servers[key] = {"scheduler": opts.get("-s", opts.get("--scheduler", "wlc")), "persistent": timeout,
                            "line": line_no, "reals": []}
            order.append(key)
        else:
            if key not in servers:
                raise fail(line_no, f"real server for {protocol} {address}:{port}, a service not added before it")
            real = opts.get("-r", opts.get("--real-server"))
            if real is None:
                raise fail(line_no, "-a needs -r ADDRESS:PORT")
            raddr, rport = endpoint(real, line_no)
            weight_text = opts.get("-w", opts.get("--weight", "1"))
            if not weight_text.isdigit() or int(weight_text) > 65535:
                raise fail(line_no, f"bad weight {weight_text[:20]!r}")
            forwarding = next((_FORWARDING[f] for f in flags if f in _FORWARDING), "route")
            reals = servers[key]["reals"]
            assert isinstance(reals, list)
            reals.append((raddr, rport, int(weight_text), forwarding, line_no))
    out = []
    for key in order:
        entry = servers[key]
        reals = entry["reals"]
        assert isinstance(reals, list)
        out.append(SavedServer(key[0], key[1], key[2], str(entry["scheduler"]),
                               entry["persistent"] if isinstance(entry["persistent"], int) else None,
                               int(str(entry["line"])), tuple(reals)))
    return out


# Schedulers that, with equal weights, spread new connections evenly over the real servers in the long run;
# the hashing ones (sh, dh, mh) send each client (or destination) always to the same one.
_EVEN_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sed", "nq", "fo", "ovf")


def verify_ipvs(cluster: Cluster, opts: ProxierOptions, saved: list[SavedServer], source: str) -> list[str]:
    """The promises on an IPVS table: per frontend a virtual service whose real servers are exactly the usable
    endpoints upstream's syncEndpoint selects (in masquerade mode: the packet is DNATed), with equal positive
    weights (balance), persistence equal to the affinity timeout (affinity), and no virtual service for anything
    that is no frontend (isolation). Returns the violations, one line each, naming the ipvsadm line."""
    expected = {(v.protocol, v.address, v.port): v for v in virtual_servers(cluster, opts)}
    found = {(s.protocol, s.address, s.port): s for s in saved}
    out: list[str] = []
    for key, want in expected.items():
        name = f"{want.service} {key[0]} {key[1]}:{key[2]}"
        have = found.get(key)
        if have is None:
            out.append(f"VIOLATED (1 routing): {name}: no virtual service (kube-proxy syncService adds one)")
            continue
        at = f"({source}:{have.line})"
        live = {(a, p) for a, p, w, _, _ in have.reals if w > 0}
        wanted = {(r.address, r.port) for r in want.real_servers}
        if live != wanted:
            extra = sorted(f"{a}:{p}" for a, p in live - wanted)
            missing = sorted(f"{a}:{p}" for a, p in wanted - live)
            out.append(f"VIOLATED (1 routing): {name}: real servers differ from the usable endpoints {at}"
                       + (f"; not endpoints: {', '.join(extra)}" if extra else "")
                       + (f"; missing: {', '.join(missing)}" if missing else ""))
            continue
        routed = [f"{a}:{p}" for a, p, w, fwd, _ in have.reals if w > 0 and fwd != "masq"]
        if routed:
            out.append(f"VIOLATED (1 routing): {name}: real servers {', '.join(routed)} are not in masquerade "
                       f"mode (-m): the packet would reach them with the service address as destination {at}")
            continue
        weights = {w for _, _, w, _, _ in have.reals if w > 0}
        if len(weights) > 1 or (live and have.scheduler not in _EVEN_SCHEDULERS):
            out.append(f"VIOLATED (3 balance): {name}: scheduler {have.scheduler} with weights "
                       f"{sorted(weights)} does not give each of {len(live)} endpoints 1/{len(live)} {at}")
            continue
        if have.persistent != want.persistent:
            out.append(f"VIOLATED (4 affinity): {name}: persistence {have.persistent or 'off'} where "
                       f"sessionAffinity asks {want.persistent or 'none'} {at}")
    for key, have in found.items():
        if key not in expected:
            out.append(f"VIOLATED (2 isolation): {key[0]} {key[1]}:{key[2]}: a virtual service for no Service "
                       f"frontend ({source}:{have.line})")
    return out


_KEEPS_SOURCE = "keeps its source (externalTrafficPolicy Local)"


def _masquerade_twins(name: str, local: str, kind: str, traffic: str) -> dict[str, tuple[str, str, str]]:
    """A set whose members are masqueraded and its -LOCAL twin, whose members keep their source (upstream
    marks traffic for masquerade unless the -LOCAL set matches first)."""
    return {name: (kind, "5 masquerade", f"{traffic} is masqueraded"),
            local: (kind, "5 masquerade", f"{traffic} {_KEEPS_SOURCE}")}


# The IPv4 sets of pkg/proxy/ipvs/ipset.go: name -> (type, the promise its members decide, what a member means).
IPVS_SETS: dict[str, tuple[str, str, str]] = {
    "KUBE-LOOP-BACK": ("hash:ip,port,ip", "5 masquerade",
                       "a local endpoint reaching itself through the Service is masqueraded (hairpin)"),
    "KUBE-CLUSTER-IP": ("hash:ip,port", "5 masquerade", "off-cluster traffic to the cluster IP is masqueraded"),
    **_masquerade_twins("KUBE-EXTERNAL-IP", "KUBE-EXTERNAL-IP-LOCAL", "hash:ip,port", "traffic to the external IP"),
    **_masquerade_twins("KUBE-LOAD-BALANCER", "KUBE-LOAD-BALANCER-LOCAL", "hash:ip,port",
                        "traffic to the load-balancer IP"),
    "KUBE-LOAD-BALANCER-FW": ("hash:ip,port", "1 routing",
                              "traffic to the load-balancer IP is filtered by loadBalancerSourceRanges"),
    "KUBE-LOAD-BALANCER-SOURCE-CIDR": ("hash:ip,port,net", "1 routing",
                                       "sources in loadBalancerSourceRanges reach the load-balancer IP"),
    "KUBE-LOAD-BALANCER-SOURCE-IP": ("hash:ip,port,ip", "1 routing",
                                     "this node reaches the load-balancer IP (a source range holds its address)"),
    **{name: entry for proto, kind in (("TCP", "bitmap:port"), ("UDP", "bitmap:port"), ("SCTP-HASH", "hash:ip,port"))
       for name, entry in _masquerade_twins(f"KUBE-NODE-PORT-{proto}", f"KUBE-NODE-PORT-LOCAL-{proto}", kind,
                                            "NodePort traffic").items()},
    "KUBE-HEALTH-CHECK-NODE-PORT": ("bitmap:port", "health check", "the health check node port is accepted"),
    "KUBE-IPVS-IPS": ("hash:ip", "2 isolation",
                      "the address is on kube-ipvs0 (KUBE-IPVS-FILTER rejects what is no Service there)"),
}


def expected_sets(cluster: Cluster, opts: ProxierOptions) -> dict[str, dict[tuple[str, ...], str]]:
    """What syncProxyRules puts in each set: member (as ipset prints it) -> the Service port it is for."""
    out: dict[str, dict[tuple[str, ...], str]] = {name: {} for name in IPVS_SETS}

    def add(name: str, member: tuple[str, ...], why: str) -> None:
        out[name].setdefault(canonical(IPVS_SETS[name][0], member), why)

    eps_map = endpoints_map(cluster, opts.node_name)
    for key, svc, port in service_ports(cluster):
        proto = key.protocol.lower()
        name = str(key)
        for ep in eps_map.get(key, []):
            if ep.is_local:
                add("KUBE-LOOP-BACK", (ep.ip, f"{proto}:{ep.port}", ep.ip), f"{name} endpoint {ep.ip}:{ep.port}")
        add("KUBE-CLUSTER-IP", (str(svc.cluster_ip), f"{proto}:{port.port}"), f"{name} cluster IP")
        add("KUBE-IPVS-IPS", (str(svc.cluster_ip),), f"{name} cluster IP")
        for ip in ipv4s(svc.external_ips):
            add("KUBE-EXTERNAL-IP-LOCAL" if svc.external_policy_local else "KUBE-EXTERNAL-IP",
                (ip, f"{proto}:{port.port}"), f"{name} external IP")
            if ip not in opts.node_ips:
                add("KUBE-IPVS-IPS", (ip,), f"{name} external IP")
        for ip in ipv4s(svc.load_balancer_ips):
            member = (ip, f"{proto}:{port.port}")
            add("KUBE-LOAD-BALANCER", member, f"{name} load-balancer IP")
            if svc.external_policy_local:
                add("KUBE-LOAD-BALANCER-LOCAL", member, f"{name} load-balancer IP")
            ranges = [r for r in svc.load_balancer_source_ranges if is_ipv4(r.split("/")[0])]
            if ranges:
                add("KUBE-LOAD-BALANCER-FW", member, f"{name} load-balancer IP")
                for cidr in ranges:
                    add("KUBE-LOAD-BALANCER-SOURCE-CIDR", (*member, cidr), f"{name} source range {cidr}")
                node_ip = opts.node_ips[0] if opts.node_ips else None
                if node_ip is not None and any(
                        ipaddress.ip_address(node_ip) in ipaddress.ip_network(c, strict=False) for c in ranges):
                    add("KUBE-LOAD-BALANCER-SOURCE-IP", (*member, ip), f"{name} load-balancer IP from this node")
            if ip not in opts.node_ips:
                add("KUBE-IPVS-IPS", (ip,), f"{name} load-balancer IP")
        if port.node_port and opts.node_ips:
            local = "-LOCAL" if svc.external_policy_local else ""
            if proto == "sctp":
                for ip in opts.node_ips:
                    add("KUBE-NODE-PORT-SCTP-HASH", (ip, f"sctp:{port.node_port}"), f"{name} NodePort")
                    if local:
                        add("KUBE-NODE-PORT-LOCAL-SCTP-HASH", (ip, f"sctp:{port.node_port}"), f"{name} NodePort")
            else:
                add(f"KUBE-NODE-PORT-{proto.upper()}", (str(port.node_port),), f"{name} NodePort")
                if local:
                    add(f"KUBE-NODE-PORT-LOCAL-{proto.upper()}", (str(port.node_port),), f"{name} NodePort")
        if svc.needs_health_check and svc.health_check_node_port:
            add("KUBE-HEALTH-CHECK-NODE-PORT", (str(svc.health_check_node_port),), f"{svc.key} health check")
    return out


def verify_ipsets(cluster: Cluster, opts: ProxierOptions, sets: dict[str, IpSet], source: str) -> list[str]:
    """The sets of IPVS mode against what syncProxyRules puts there, member for member: a missing member loses
    the promise it stands for, an extra one extends it to what upstream does not (both name the set and line)."""
    out: list[str] = []
    for name, want in expected_sets(cluster, opts).items():
        kind, prop, meaning = IPVS_SETS[name]
        have = sets.get(name)
        if have is None:
            if want:
                first = next(iter(want.values()))
                out.append(f"VIOLATED ({prop}): set {name} is not in {source}; it should hold {len(want)} "
                           f"member(s), e.g. for {first}: {meaning}")
            continue
        if have.kind != kind:
            out.append(f"VIOLATED ({prop}): set {name} is {have.kind}, not {kind} ({source}:{have.line})")
            continue
        found = {canonical(kind, m): line for m, line in zip(have.members, have.member_lines, strict=True)}
        for member, why in want.items():
            if member not in found:
                out.append(f"VIOLATED ({prop}): set {name} lacks {','.join(member)} ({why}): so it is not true "
                           f"that {meaning} ({source}:{have.line})")
        for member, line in found.items():
            if member not in want:
                out.append(f"VIOLATED ({prop}): set {name} holds {','.join(member)}, which no Service port puts "
                           f"there: {meaning} where upstream says otherwise ({source}:{line})")
    return out


def render_ipsets(cluster: Cluster, opts: ProxierOptions) -> str:
    """The sets as `ipset save` prints them (members sorted; options as kube-proxy creates the sets)."""
    lines = []
    for name, members in expected_sets(cluster, opts).items():
        kind = IPVS_SETS[name][0]
        options = "range 0-65535" if kind == "bitmap:port" else "family inet hashsize 1024 maxelem 65536"
        lines.append(f"create {name} {kind} {options}")
        lines += [f"add {name} {','.join(m)}" for m in sorted(members)]
    return "\n".join(lines) + "\n"


def render_saved(servers: list[VirtualServer]) -> str:
    """The virtual servers as `ipvsadm -Sn` prints them."""
    flag = {"TCP": "-t", "UDP": "-u", "SCTP": "--sctp-service"}
    lines = []
    for v in servers:
        persist = f" -p {v.persistent}" if v.persistent else ""
        lines.append(f"-A {flag[v.protocol]} {v.address}:{v.port} -s {v.scheduler}{persist}")
        lines += [f"-a {flag[v.protocol]} {v.address}:{v.port} -r {r.address}:{r.port} -m -w {r.weight}"
                  for r in v.real_servers]
    return "\n".join(lines) + "\n"


# -- the iptables rules of IPVS mode --------------------------------------------------------------------------------
# Upstream pkg/proxy/ipvs/proxier.go writeIptablesRules, createAndLinkKubeChain (iptablesJumpChain,
# iptablesChains) and ipsetWithIptablesChain; set comments from pkg/proxy/ipvs/ipset.go. Read at
# aroradaman/kubernetes 5faacea7edd71c2e75fa96fc310b4b560816acd3 (a v1.31-era fork of kubernetes/kubernetes).
SET_COMMENTS = {
    "KUBE-LOOP-BACK": "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
    "KUBE-CLUSTER-IP": "Kubernetes service cluster ip + port for masquerade purpose",
    "KUBE-EXTERNAL-IP": "Kubernetes service external ip + port for masquerade and filter purpose",
    "KUBE-EXTERNAL-IP-LOCAL": "Kubernetes service external ip + port with externalTrafficPolicy=local",
    "KUBE-LOAD-BALANCER": "Kubernetes service lb portal",
    "KUBE-LOAD-BALANCER-LOCAL": "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
    "KUBE-LOAD-BALANCER-FW": "Kubernetes service load balancer ip + port for load balancer with sourceRange",
    "KUBE-LOAD-BALANCER-SOURCE-IP": "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
    "KUBE-LOAD-BALANCER-SOURCE-CIDR":
        "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
    "KUBE-NODE-PORT-TCP": "Kubernetes nodeport TCP port for masquerade purpose",
    "KUBE-NODE-PORT-LOCAL-TCP": "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
    "KUBE-NODE-PORT-UDP": "Kubernetes nodeport UDP port for masquerade purpose",
    "KUBE-NODE-PORT-LOCAL-UDP": "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
    "KUBE-NODE-PORT-SCTP-HASH": "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
    "KUBE-NODE-PORT-LOCAL-SCTP-HASH":
        "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
    "KUBE-HEALTH-CHECK-NODE-PORT": "Kubernetes health check node port",
    "KUBE-IPVS-IPS": "Addresses on the ipvs interface",
}
# ipsetWithIptablesChain: (set, table, from chain, to, match type, protocol match).
_SET_JUMPS = (
    ("KUBE-LOOP-BACK", "nat", "KUBE-POSTROUTING", "MASQUERADE", "dst,dst,src", ""),
    ("KUBE-LOAD-BALANCER", "nat", "KUBE-SERVICES", "KUBE-LOAD-BALANCER", "dst,dst", ""),
    ("KUBE-LOAD-BALANCER-LOCAL", "nat", "KUBE-LOAD-BALANCER", "RETURN", "dst,dst", ""),
    ("KUBE-NODE-PORT-LOCAL-TCP", "nat", "KUBE-NODE-PORT", "RETURN", "dst", "tcp"),
    ("KUBE-NODE-PORT-TCP", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst", "tcp"),
    ("KUBE-NODE-PORT-LOCAL-UDP", "nat", "KUBE-NODE-PORT", "RETURN", "dst", "udp"),
    ("KUBE-NODE-PORT-UDP", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst", "udp"),
    ("KUBE-NODE-PORT-LOCAL-SCTP-HASH", "nat", "KUBE-NODE-PORT", "RETURN", "dst,dst", "sctp"),
    ("KUBE-NODE-PORT-SCTP-HASH", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst,dst", "sctp"),
    ("KUBE-LOAD-BALANCER-FW", "filter", "KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL", "dst,dst", ""),
    ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "filter", "KUBE-SOURCE-RANGES-FIREWALL", "RETURN", "dst,dst,src", ""),
    ("KUBE-LOAD-BALANCER-SOURCE-IP", "filter", "KUBE-SOURCE-RANGES-FIREWALL", "RETURN", "dst,dst,src", ""),
)
# iptablesChains, and iptablesJumpChain's jumps from the builtin chains (each EnsureRule(Prepend), so the last
# listed for a chain comes first).
_CHAINS = {"nat": ("KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-NODE-PORT", "KUBE-LOAD-BALANCER", "KUBE-MARK-MASQ"),
           "filter": ("KUBE-FORWARD", "KUBE-NODE-PORT", "KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL",
                      "KUBE-IPVS-FILTER", "KUBE-IPVS-OUT-FILTER")}
_JUMPS = (
    ("nat", "OUTPUT", "KUBE-SERVICES", "kubernetes service portals"),
    ("nat", "PREROUTING", "KUBE-SERVICES", "kubernetes service portals"),
    ("nat", "POSTROUTING", "KUBE-POSTROUTING", "kubernetes postrouting rules"),
    ("filter", "FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules"),
    ("filter", "INPUT", "KUBE-NODE-PORT", "kubernetes health check rules"),
    ("filter", "INPUT", "KUBE-PROXY-FIREWALL", "kube-proxy firewall rules"),
    ("filter", "FORWARD", "KUBE-PROXY-FIREWALL", "kube-proxy firewall rules"),
    ("filter", "INPUT", "KUBE-IPVS-FILTER", "kubernetes ipvs access filter"),
    ("filter", "OUTPUT", "KUBE-IPVS-OUT-FILTER", "kubernetes ipvs access filter"),
)
_BUILTIN = {"nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"), "filter": ("INPUT", "FORWARD", "OUTPUT")}


def render_iptables(cluster: Cluster, opts: ProxierOptions) -> str:
    """The iptables rules IPVS mode writes (nat and filter, with the jumps from the builtin chains), as
    `iptables-save` prints them. Rules on a set are written only when the set has members, as upstream does."""
    sets = expected_sets(cluster, opts)
    mark = opts.mark
    nat: list[str] = []
    filt: list[str] = []
    rules = {"nat": nat, "filter": filt}

    def comment(name: str) -> str:
        return f'-m comment --comment "{SET_COMMENTS[name]}"'

    nat.append("-A KUBE-SERVICES -s 127.0.0.0/8 -j RETURN")
    for name, table, chain, to, match, proto in _SET_JUMPS:
        if sets[name]:
            rules[table].append(" ".join(
                ["-A", chain, *(["-p", proto] if proto else []), comment(name), "-m set --match-set", name, match,
                 "-j", to]))
    if sets["KUBE-CLUSTER-IP"]:
        head = f"-A KUBE-SERVICES {comment('KUBE-CLUSTER-IP')} -m set --match-set KUBE-CLUSTER-IP"
        not_local = opts.local_match(False)
        if opts.masquerade_all:
            nat.append(f"{head} dst,dst -j KUBE-MARK-MASQ")
        elif not_local is not None:
            nat.append(f"{head} dst,dst {' '.join(not_local)} -j KUBE-MARK-MASQ")
        else:
            nat.append(f"{head} src,dst -j KUBE-MARK-MASQ")
    for name, masquerade in (("KUBE-EXTERNAL-IP", True), ("KUBE-EXTERNAL-IP-LOCAL", False)):
        if sets[name]:
            head = f"-A KUBE-SERVICES {comment(name)} -m set --match-set {name} dst,dst"
            if masquerade:
                nat.append(f"{head} -j KUBE-MARK-MASQ")
            nat.append(f"{head} -m physdev ! --physdev-is-in -m addrtype ! --src-type LOCAL -j ACCEPT")
            nat.append(f"{head} -m addrtype --dst-type LOCAL -j ACCEPT")
    nat.append("-A KUBE-SERVICES -m addrtype --dst-type LOCAL -j KUBE-NODE-PORT")
    nat.append("-A KUBE-LOAD-BALANCER -j KUBE-MARK-MASQ")
    filt.append("-A KUBE-SOURCE-RANGES-FIREWALL -j DROP")
    for ip, port, proto in _no_node_access(cluster, opts):
        filt.append(f"-A KUBE-IPVS-OUT-FILTER -s {ip} -m ipvs --vaddr {ip} --vproto {proto} --vport {port} -j DROP")
    for name in ("KUBE-CLUSTER-IP", "KUBE-LOAD-BALANCER"):  # acceptIPVSTraffic
        if sets[name]:
            nat.append(f"-A KUBE-SERVICES -m set --match-set {name} dst,dst -j ACCEPT")
    filt.append('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" '
                f"-m mark --mark {mark}/{mark} -j ACCEPT")
    filt.append('-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" '
                "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
    filt.append(f"-A KUBE-NODE-PORT {comment('KUBE-HEALTH-CHECK-NODE-PORT')} "
                "-m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT")
    for name, match in (("KUBE-LOAD-BALANCER", "dst,dst"), ("KUBE-CLUSTER-IP", "dst,dst"),
                        ("KUBE-EXTERNAL-IP", "dst,dst"), ("KUBE-EXTERNAL-IP-LOCAL", "dst,dst"),
                        ("KUBE-HEALTH-CHECK-NODE-PORT", "dst")):
        filt.append(f"-A KUBE-IPVS-FILTER -m set --match-set {name} {match} -j RETURN")
    filt.append("-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT")
    nat.append(f"-A KUBE-POSTROUTING -m mark ! --mark {mark}/{mark} -j RETURN")
    nat.append(f"-A KUBE-POSTROUTING -j MARK --xor-mark {mark}")
    nat.append('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE'
               + (" --random-fully" if opts.random_fully else ""))
    nat.append(f"-A KUBE-MARK-MASQ -j MARK --or-mark {mark}")

    out: list[str] = []
    for table in ("filter", "nat"):
        jumps = [(chain, f'-A {chain} -m comment --comment "{text}" -j {to}')
                 for t, chain, to, text in reversed(_JUMPS) if t == table]
        out.append(f"*{table}")
        out += [f":{c} ACCEPT [0:0]" for c in _BUILTIN[table]]
        out += [f":{c} - [0:0]" for c in _CHAINS[table]]
        out += [line for c in _BUILTIN[table] for chain, line in jumps if chain == c]
        out += rules[table]
        out.append("COMMIT")
    return "\n".join(out) + "\n"


def _no_node_access(cluster: Cluster, opts: ProxierOptions) -> list[tuple[str, int, str]]:
    """lbNoNodeAccessIPPortProtocolEntries: load-balancer IP, port and protocol of a Service whose
    loadBalancerSourceRanges do not hold the node's IP (issue 119656: the node may not reach it either)."""
    out: list[tuple[str, int, str]] = []
    node_ip = ipaddress.ip_address(opts.node_ips[0]) if opts.node_ips else None
    for key, svc, port in service_ports(cluster):
        ranges = [ipaddress.ip_network(r, strict=False) for r in svc.load_balancer_source_ranges
                  if is_ipv4(r.split("/")[0])]
        if not ranges or (node_ip is not None and any(node_ip in r for r in ranges)):
            continue
        out += [(ip, port.port, key.protocol.lower()) for ip in ipv4s(svc.load_balancer_ips)]
    return out


def stage_chains(saved: list[SavedServer]) -> dict[str, tuple[str, ...]]:
    """The IPVS table as rules the symbolic walk runs at IPVS's hooks (table "ipvs", chains INPUT and OUTPUT,
    one sub-chain per virtual service): a packet to a virtual service's address, protocol and port is DNATed
    to one of its live real servers in masquerade mode, each chosen with probability 1/n (the statistic chain
    of iptables mode; the scheduler and persistence are checked on the table itself, by verify_ipvs)."""
    head: list[str] = []
    chains: dict[str, tuple[str, ...]] = {}
    for k, s in enumerate(saved):
        reals = [(a, p) for a, p, w, fwd, _ in s.reals if w > 0 and fwd == "masq"]
        if not reals:
            continue
        proto = s.protocol.lower()
        name = f"IPVS-{k}"
        head.append(f"-d {s.address}/32 -p {proto} -m {proto} --dport {s.port} -j {name}")
        n = len(reals)
        chains[name] = tuple(
            (f"-m statistic --mode random --probability {1.0 / (n - i):0.10f} " if i < n - 1 else "")
            + f"-j DNAT --to-destination {a}:{p}" for i, (a, p) in enumerate(reals))
    return {"INPUT": tuple(head), "OUTPUT": tuple(head), **chains}


def with_ipvs_stage(dump: Dump, saved: list[SavedServer]) -> Dump:
    """The dump with the IPVS table as the pseudo-table "ipvs" (see stage_chains) for symbolic.Explorer."""
    texts = stage_chains(saved)
    names = frozenset(texts)
    chains = {name: Chain(name, "ACCEPT" if name in ("INPUT", "OUTPUT") else None, tuple(
        parse_rule("ipvs", f"-A {name} {text}", names, index=i, source="<ipvs table>")
        for i, text in enumerate(lines))) for name, lines in texts.items()}
    return attrs.evolve(dump, tables={**dump.tables, "ipvs": chains})


def verification_options(opts: ProxierOptions, saved: list[SavedServer]) -> ProxierOptions:
    """The options the symbolic check of IPVS mode's iptables rules runs with: the virtual services' addresses
    other than the node's are local (bound to kube-ipvs0), and NodePorts answer on the node's addresses (the
    virtual services syncProxyRules makes for them)."""
    bound = tuple(sorted({s.address for s in saved} - set(opts.node_ips)))
    return attrs.evolve(opts, mode="ipvs", local_addresses=bound, nodeport_addresses=opts.node_ips)
