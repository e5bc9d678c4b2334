"""The kube-proxy view of Services, EndpointSlices and the node, as frozen values.

Upstream: pkg/proxy/serviceport.go (BaseServicePortInfo), pkg/proxy/endpoint.go (BaseEndpointInfo),
pkg/api/v1/service/util.go (ExternallyAccessible, ExternalPolicyLocal, InternalPolicyLocal, NeedsHealthCheck),
pkg/proxy/iptables/proxier.go (NewProxier options).
"""

from __future__ import annotations

import attrs

DEFAULT_STICKY_SECONDS = 10800  # v1.DefaultClientIPServiceAffinitySeconds
# kube-proxy releases whose iptables rules `proxy rules` writes. Their expected texts in upstream
# pkg/proxy/iptables/proxier_test.go differ only in the nfacct counters: v1.31 added
# `-m nfacct --nfacct-name ct_state_invalid_dropped_pkts` to the invalid-conntrack DROP (PR #122812) and the
# localhost NodePort rule counted by nfacct (PR #125015); 1.28-1.30 have neither.
SUPPORTED_VERSIONS = ((1, 28), (1, 29), (1, 30), (1, 31), (1, 32), (1, 33), (1, 34), (1, 35), (1, 36))
NEWEST_VERSION = SUPPORTED_VERSIONS[-1]


@attrs.frozen
class ServicePort:
    """One entry of spec.ports."""

    name: str
    port: int
    protocol: str = "TCP"
    node_port: int = 0
    target_port: int | str | None = None


@attrs.frozen
class Service:
    """The fields of a v1.Service that kube-proxy reads."""

    namespace: str
    name: str
    type: str = "ClusterIP"
    cluster_ip: str | None = None
    ports: tuple[ServicePort, ...] = ()
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()  # status.loadBalancer.ingress[].ip in VIP mode
    load_balancer_source_ranges: tuple[str, ...] = ()  # canonical CIDRs
    session_affinity: str = "None"
    sticky_seconds: int = DEFAULT_STICKY_SECONDS
    external_traffic_policy: str = "Cluster"
    internal_traffic_policy: str = "Cluster"
    health_check_node_port: int = 0

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ip_set(self) -> bool:
        """Upstream ShouldSkipService: headless, IP-less and ExternalName Services are not proxied."""
        return self.type != "ExternalName" and self.cluster_ip not in (None, "", "None")

    @property
    def externally_accessible_type(self) -> bool:
        """apiservice.ExternallyAccessible."""
        return self.type in ("LoadBalancer", "NodePort") or (self.type == "ClusterIP" and bool(self.external_ips))

    @property
    def external_policy_local(self) -> bool:
        """apiservice.ExternalPolicyLocal."""
        return self.externally_accessible_type and self.external_traffic_policy == "Local"

    @property
    def internal_policy_local(self) -> bool:
        return self.internal_traffic_policy == "Local"

    @property
    def needs_health_check(self) -> bool:
        """apiservice.NeedsHealthCheck."""
        return self.type == "LoadBalancer" and self.external_policy_local


@attrs.frozen
class Endpoint:
    """One entry of EndpointSlice.endpoints, conditions resolved as endpointslicecache.go does."""

    addresses: tuple[str, ...]
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    node_name: str | None = None


@attrs.frozen
class EndpointPort:
    name: str
    port: int | None
    protocol: str = "TCP"


@attrs.frozen
class EndpointSlice:
    namespace: str
    name: str
    service_name: str
    address_type: str = "IPv4"
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()


@attrs.frozen
class Node:
    name: str
    addresses: tuple[str, ...] = ()  # InternalIP / ExternalIP addresses, in order
    pod_cidrs: tuple[str, ...] = ()  # spec.podCIDRs (or spec.podCIDR)


@attrs.frozen
class Cluster:
    """Everything read from the manifests."""

    services: tuple[Service, ...] = ()
    slices: tuple[EndpointSlice, ...] = ()
    nodes: tuple[Node, ...] = ()


@attrs.frozen
class ProxierOptions:
    """kube-proxy's settings that shape the rules, with upstream's defaults.

    `masquerade_mark` overrides the mark string derived from `masquerade_bit` (upstream's test proxier sets
    the literal "0x4000"; NewProxier formats `1 << bit` with Go's "%#08x", e.g. "0x00004000").
    """

    node_name: str
    node_ips: tuple[str, ...] = ()
    cluster_cidr: str | None = None
    masquerade_bit: int = 14
    masquerade_mark: str | None = None
    masquerade_all: bool = False
    localhost_nodeports: bool = True
    nfacct: bool = True
    random_fully: bool = True
    conntrack_tcp_be_liberal: bool = False
    ipvs_scheduler: str = "rr"
    version: tuple[int, int] = NEWEST_VERSION
    # --detect-local-mode (pkg/proxy/util/localdetector.go): ClusterCIDR and NodeCIDR match the source address
    # (`cluster_cidr` holds the CIDR); BridgeInterface and InterfaceNamePrefix the input interface (`local_interface`
    # is the bridge's name or the prefix, e.g. AKS's "azv").
    detect_local: str = "ClusterCIDR"
    local_interface: str | None = None
    mode: str = "iptables"  # "iptables", "ipvs" or "nftables"
    service_cidrs: tuple[str, ...] = ()  # --service-cluster-ip-range, for nftables mode's cluster-ips-check
    nodeport_addresses: tuple[str, ...] = ()  # NodePorts answer on these only; () = every local address
    routes: tuple[tuple[str, str], ...] = ()  # the node's unicast routes (CIDR, device), for verification
    # Addresses local to the node besides node_ips and 127.0.0.0/8: in IPVS mode the Service addresses kube-proxy
    # binds to kube-ipvs0 (the KUBE-IPVS-IPS set), so packets to them are delivered to this host, where IPVS is.
    local_addresses: tuple[str, ...] = ()

    def local_match(self, local: bool) -> list[str] | None:
        """localDetector.IfLocal / IfNotLocal: the match of traffic from (or not from) a local pod; None: off."""
        neg = [] if local else ["!"]
        if self.detect_local in ("ClusterCIDR", "NodeCIDR"):
            return [*neg, "-s", self.cluster_cidr] if self.cluster_cidr else None
        if self.local_interface is None:
            return None
        name = self.local_interface + ("+" if self.detect_local == "InterfaceNamePrefix" else "")
        return [*neg, "-i", name]

    @property
    def local_iface(self) -> str | None:
        """The input interface pattern that tells pod traffic, in the interface modes."""
        if self.detect_local in ("ClusterCIDR", "NodeCIDR") or self.local_interface is None:
            return None
        return self.local_interface + ("+" if self.detect_local == "InterfaceNamePrefix" else "")

    @property
    def nfacct_counters(self) -> bool:
        """Whether the rules count with nfacct: counters available and kube-proxy 1.31 or later."""
        return self.nfacct and self.version >= (1, 31)

    @property
    def mark(self) -> str:
        return self.masquerade_mark or f"0x{1 << self.masquerade_bit:08x}"

    @property
    def mark_value(self) -> int:
        return int(self.mark, 16)


@attrs.frozen
class ResolvedEndpoint:
    """proxy.BaseEndpointInfo: one ip:port of one service port, with its conditions."""

    ip: str
    port: int
    is_local: bool
    ready: bool
    serving: bool
    terminating: bool

    def __str__(self) -> str:
        return f"{self.ip}:{self.port}"
