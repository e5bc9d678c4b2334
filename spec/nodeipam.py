"""Pod addresses: the node IPAM controller's podCIDR per node, and the address CNI gives a pod's sandbox.

Models (upstream):

- pkg/controller/nodeipam/ipam/range_allocator.go with ipam/cidrset/cidr_set.go: kube-controller-manager's node
  IPAM controller (--allocate-node-cidrs, --cluster-cidr, --node-cidr-mask-size 24 for IPv4) gives every Node a
  podCIDR, the next free /24 of the cluster CIDR (CidrSet.AllocateNext scans from the last allocated index), and
  releases it when the Node is deleted. The nodes of a scenario exist before the control plane starts, and the
  controller allocates in the order its informer lists them (by name), so node i gets the i-th /24.
- The kubelet creates the pod sandbox and the CNI plugin (containernetworking/plugins plugins/ipam/host-local,
  backend/allocator/allocator.go with the node's podCIDR as its range) gives it an address; the kubelet reports
  it as status.podIP. A stopped sandbox releases its address (CNI DEL), which may then be given to another pod.

Abstracts: host-local's choice. It scans from the address after the last one it reserved (``lastReservedIP``),
wrapping around the range, so an address is reused only after the scan wraps; here the lowest free address
(after the gateway, .1) is taken, which reaches reuse soonest: every reuse this model explores happens upstream
once a node's range wraps (a /24 holds 253 pods; kubelet's --max-pods default is 110, and churn wraps it). The
cluster CIDR is a constant (``CLUSTER_CIDR``, flannel's and kubeadm guides' 10.244.0.0/16). Node IPAM runs only
in scenarios with Services: elsewhere no component reads an address, and pods carry none.
Omits: dual-stack, node deletion (no step deletes a Node), the cloud allocator, CNI plugins other than
host-local, hostNetwork pods.
"""

from __future__ import annotations

import functools
import ipaddress

CLUSTER_CIDR = "10.244.0.0/16"
"""kube-controller-manager --cluster-cidr."""
NODE_CIDR_MASK = 24
"""kube-controller-manager --node-cidr-mask-size (IPv4 default)."""


def allocate_node_cidrs(nodes: list[str], cluster_cidr: str = CLUSTER_CIDR,
                        mask: int = NODE_CIDR_MASK) -> tuple[tuple[str, str], ...]:
    """cidrset.AllocateNext for each node in the order the controller sees them: (node, podCIDR), sorted.
    ValueError when the cluster CIDR has fewer subnets than nodes ("CIDR allocation failed; there are no
    remaining CIDRs left to allocate in the accepted range")."""
    net = ipaddress.ip_network(cluster_cidr)
    subnets = net.subnets(new_prefix=mask)
    out = []
    for node in sorted(nodes):
        try:
            out.append((node, str(next(subnets))))
        except StopIteration:
            raise ValueError("CIDR allocation failed; there are no remaining CIDRs left to allocate in the "
                             "accepted range") from None
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def host_local_ip(pod_cidr: str, used: frozenset[str]) -> str | None:
    """The address host-local gives a new sandbox in ``pod_cidr`` when ``used`` are taken: the lowest free one
    after the gateway (the network address, the gateway .1 and the broadcast address are never given); None
    when the range is exhausted ("no IP addresses available in range set")."""
    net = ipaddress.ip_network(pod_cidr)
    for host in net.hosts():
        if int(host) == int(net.network_address) + 1:
            continue  # the gateway (the bridge's address)
        ip = str(host)
        if ip not in used:
            return ip
    return None


def within(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)
