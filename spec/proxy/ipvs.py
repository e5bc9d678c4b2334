"""The IPVS mode's view: virtual servers (one per Service address, port and protocol) and their real servers.

Upstream: pkg/proxy/ipvs/proxier.go (syncService: ClusterIP, external IPs, load-balancer ingress IPs and
NodePorts on each node address become virtual servers with the --ipvs-scheduler; ClientIP affinity makes them
persistent with the affinity timeout; syncEndpoint: real servers are the endpoints CategorizeEndpoints selects,
Local policy selecting the node-local ones, in masquerade forwarding mode with weight 1).
The iptables/ipset rules IPVS mode also installs (masquerade, firewall) are not modelled.
"""

from __future__ import annotations

import attrs

from spec.proxy.endpoints import categorize, endpoints_map, ipv4s, service_ports
from spec.proxy.model import Cluster, ProxierOptions


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
        internal = cat.local if svc.internal_policy_local else cat.cluster
        external = cat.local if svc.external_policy_local else cat.cluster

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
