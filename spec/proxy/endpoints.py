"""Which endpoints each service port uses on this node.

Upstream: pkg/proxy/endpointslicecache.go (endpointInfoByServicePort, addEndpoints: endpoints keyed by
service, port name and protocol, sorted by "ip:port"), pkg/proxy/topology.go (CategorizeEndpoints: Ready
endpoints, falling back to Serving-and-Terminating ones independently for Cluster and Local policy).
Topology hints are not modelled (topology mode is always "").
"""

from __future__ import annotations

import ipaddress

import attrs

from spec.proxy.model import Cluster, ResolvedEndpoint, Service, ServicePort


@attrs.frozen
class PortKey:
    """proxy.ServicePortName: namespace/name, port name and protocol."""

    namespace: str
    name: str
    port: str
    protocol: str

    def __str__(self) -> str:
        base = f"{self.namespace}/{self.name}"
        return f"{base}:{self.port}" if self.port else base


@attrs.frozen
class Categorized:
    cluster: tuple[ResolvedEndpoint, ...]
    local: tuple[ResolvedEndpoint, ...]
    reachable: tuple[ResolvedEndpoint, ...]
    has_any: bool


def is_ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


def service_ports(cluster: Cluster) -> list[tuple[PortKey, Service, ServicePort]]:
    """The IPv4 service ports kube-proxy programs, in a deterministic order (by ServicePortName)."""
    out = []
    for svc in cluster.services:
        if not svc.ip_set or not is_ipv4(str(svc.cluster_ip)):
            continue
        for port in svc.ports:
            out.append((PortKey(svc.namespace, svc.name, port.name, port.protocol), svc, port))
    out.sort(key=lambda item: (str(item[0]), item[0].protocol))
    return out


def endpoints_map(cluster: Cluster, node_name: str) -> dict[PortKey, list[ResolvedEndpoint]]:
    """EndpointSliceCache.getEndpointsMap for every service, IPv4 slices only."""
    by_port: dict[PortKey, dict[str, ResolvedEndpoint]] = {}
    for eps in sorted(cluster.slices, key=lambda s: (s.namespace, s.name)):
        if eps.address_type != "IPv4":
            continue
        for port in eps.ports:
            if port.port is None or port.port == 0:
                continue
            key = PortKey(eps.namespace, eps.service_name, port.name, port.protocol)
            endpoint_set = by_port.setdefault(key, {})
            for ep in eps.endpoints:
                if not ep.addresses:
                    continue
                info = ResolvedEndpoint(
                    ip=str(ipaddress.ip_address(ep.addresses[0])),
                    port=port.port,
                    is_local=bool(node_name) and ep.node_name == node_name,
                    ready=ep.ready,
                    serving=ep.serving,
                    terminating=ep.terminating,
                )
                if str(info) not in endpoint_set or not ep.terminating:
                    endpoint_set[str(info)] = info
    return {key: sorted(s.values(), key=str) for key, s in by_port.items() if s}


def port_externally_accessible(svc: Service, port: ServicePort) -> bool:
    """BaseServicePortInfo.ExternallyAccessible: a NodePort, a load-balancer VIP or an external IP."""
    return port.node_port != 0 or bool(ipv4s(svc.load_balancer_ips)) or bool(ipv4s(svc.external_ips))


def ipv4s(ips: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(ip for ip in ips if is_ipv4(ip))


def uses_cluster_endpoints(svc: Service, port: ServicePort) -> bool:
    return not svc.internal_policy_local or port_externally_accessible(svc, port)


def uses_local_endpoints(svc: Service, port: ServicePort) -> bool:
    return svc.internal_policy_local or (svc.external_policy_local and port_externally_accessible(svc, port))


def categorize(endpoints: list[ResolvedEndpoint], svc: Service, port: ServicePort) -> Categorized:
    """proxy.CategorizeEndpoints without topology hints."""
    cluster: list[ResolvedEndpoint] = []
    has_any = False
    if uses_cluster_endpoints(svc, port):
        cluster = [ep for ep in endpoints if ep.ready]
        if not cluster:
            cluster = [ep for ep in endpoints if ep.serving and ep.terminating]
        has_any = bool(cluster)
    if not uses_local_endpoints(svc, port):
        return Categorized(tuple(cluster), (), tuple(cluster), has_any)
    local_ready = local_st = False
    for ep in endpoints:
        if ep.ready:
            has_any = True
            local_ready = local_ready or ep.is_local
        elif ep.serving and ep.terminating:
            has_any = True
            local_st = local_st or ep.is_local
    local: list[ResolvedEndpoint] = []
    use_terminating = False
    if local_ready:
        local = [ep for ep in endpoints if ep.is_local and ep.ready]
    elif local_st:
        use_terminating = True
        local = [ep for ep in endpoints if ep.is_local and ep.serving and ep.terminating]
    if not uses_cluster_endpoints(svc, port):
        return Categorized((), tuple(local), tuple(local), has_any)
    if not use_terminating:
        return Categorized(tuple(cluster), tuple(local), tuple(cluster), has_any)
    merged = {str(ep): ep for ep in cluster} | {str(ep): ep for ep in local}
    return Categorized(tuple(cluster), tuple(local), tuple(sorted(merged.values(), key=str)), has_any)
