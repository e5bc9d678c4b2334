"""Services in the model: what the API server does when a Service is created (ClusterIP and NodePort allocation),
and the conversions between the model's objects and the EndpointSlice / kube-proxy functions of
``spec.endpointslice`` and ``spec.proxy``.

Models (upstream):

- pkg/registry/core/service/storage/alloc.go (txnAllocClusterIPs, allocNodePorts) with the allocators of
  ``spec.ipallocator`` (pkg/registry/core/service/ipallocator bitmap.go, portallocator allocator.go): on create, a
  Service without spec.clusterIP gets a free address of the service CIDR (the dynamic band first, the static
  band when the dynamic one is full); a requested clusterIP is honoured when free and in range, else the create is
  rejected with upstream's field error (``spec.clusterIPs: Invalid value: []string{"IP"}: failed to allocate IP
  IP: provided IP is already allocated``); "None" is a headless Service and gets nothing. A NodePort or
  LoadBalancer Service gets a NodePort (30000-32767) for every port without one, a requested one honoured or
  refused the same way. Addresses and ports are released when the Service is deleted.
- The allocation and the Service write are one step (the API server's transaction: alloc.go allocates, writes
  the Service, and releases on failure); the allocators' state is therefore a function of the Services in etcd
  (every address or port a Service holds is allocated, and nothing else), which is how it is derived here. The
  repair loop (ipallocator/controller/repair.go) finds nothing to repair in such a state. The ``ip-repair-race``
  variant separates the two steps, as upstream's storage did before kubernetes#37488 was fixed.

The nondeterministic choice, reduced: AllocateNext scans from a random offset, so any free address of the band
may be returned (``IPRange.dynamic_candidates``). The model returns the lowest one (upstream's choice for a random
start of 0). Sound because addresses are interchangeable: no component compares a ClusterIP or a NodePort with
anything but equality and band membership, so a permutation of the free dynamic-band addresses that fixes every
address a scenario names maps behaviours to behaviours. The only addresses a scenario names are requested
clusterIPs of its Service documents, which are allocated when etcd is first filled and stay allocated (no step
deletes a Service), so at every later allocation no free address is named, and the lowest free one represents
them all. (A command that deletes Services or requests an address would make named addresses free again; the
representative would then have to be the lowest unnamed free address plus each named free one:
``cluster_ip_candidates``.)

Abstracts: one service CIDR, IPv4 only (single-stack, ipFamilyPolicy SingleStack); kube-apiserver's flags are
constants here (``SERVICE_CIDR`` is kubeadm's default --service-cidr 10.96.0.0/12; NodePorts the default
--service-node-port-range). Omits: dual-stack, ExternalName and LoadBalancer status, externalIPs, the
IPAddress-object allocator (MultiCIDRServiceAllocator: the same bands and choices). Named targetPorts are resolved
per pod (``ready_endpoints``, and the EndpointSlice controller through ``eps_pod``'s container ports); a
LoadBalancer with externalTrafficPolicy Local gets its healthCheckNodePort (``allocate``); the traffic policies and
ClientIP session affinity are handed to kube-proxy's rules (``proxy_service``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import attrs

from spec import endpointslice as eps
from spec.ipallocator import AllocationError, IPRange, PortRange
from spec.proxy import model as proxy_model
from spec.state import EndpointSlice, Etcd, Object, Pod, Service, ServicePort

SERVICE_CIDR = "10.96.0.0/12"
"""kube-apiserver --service-cluster-ip-range (kubeadm's default --service-cidr)."""
CLUSTER_DOMAIN = "cluster.local"
"""kubelet --cluster-domain (CoreDNS's kubernetes plugin zone)."""


@functools.lru_cache(maxsize=1)
def _service_range() -> IPRange:
    return IPRange.new(SERVICE_CIDR)


@functools.lru_cache(maxsize=1)
def _port_range() -> PortRange:
    return PortRange.new()


def cluster_ips(objects: Iterable[Object]) -> frozenset[str]:
    """The addresses the ClusterIP allocator holds: every Service's clusterIP (headless ones hold none)."""
    return frozenset(o.cluster_ip for o in objects if isinstance(o, Service) and o.cluster_ip not in ("", "None"))


def node_ports(objects: Iterable[Object]) -> frozenset[int]:
    return frozenset(n for o in objects if isinstance(o, Service) for n in o.all_node_ports)


@functools.lru_cache(maxsize=1024)
def _ip_range(allocated: frozenset[str]) -> IPRange:
    r = _service_range()
    for ip in sorted(allocated):
        if r._offset(ip) is not None and not r.has(ip):  # outside the range: impossible for what it allocated
            r = r.allocate(ip)
    return r


@functools.lru_cache(maxsize=1024)
def lowest_free_ip(allocated: frozenset[str]) -> str:
    """AllocateNext with both random starts 0: the lowest free address of the dynamic band, else of the static
    band (``ErrFull`` when none)."""
    return _ip_range(allocated).allocate_next(0, 0)[1]


def cluster_ip_candidates(allocated: frozenset[str], named: frozenset[str]) -> tuple[str, ...]:
    """The representatives of AllocateNext's choice: the lowest free address that ``named`` does not hold, and
    every free one it holds, in the band AllocateNext would use (see the module docstring)."""
    r = _ip_range(allocated)
    band = r.dynamic_candidates()
    out: list[str] = []
    for ip in band:
        if ip in named or not any(ip2 not in named for ip2 in out):
            out.append(ip)
    return tuple(out)


def allocate(service: Service, etcd: Etcd) -> Service | str:
    """The Service as the API server stores it after allocation, or the error message of a refused create."""
    prefix = f'Service "{service.meta.name}" is invalid: '
    objects = list(etcd.objects.values())
    ip = service.cluster_ip
    if ip != "None":
        held = cluster_ips(objects)
        try:
            if ip:
                _ip_range(held).allocate(ip)
            else:
                ip = lowest_free_ip(held)
        except AllocationError as err:
            shown = ip or ""
            return prefix + f'spec.clusterIPs: Invalid value: []string{{"{shown}"}}: failed to allocate IP ' \
                f"{shown}: {err}"
    ports = service.ports
    if service.type in ("NodePort", "LoadBalancer"):
        taken = set(node_ports(objects))
        out = []
        for i, p in enumerate(ports):
            r = _port_range()
            for n in sorted(taken):
                r = r.allocate(n)
            try:
                if p.node_port:
                    r.allocate(p.node_port)
                    port = p.node_port
                else:
                    port = r.allocate_next(0, 0)[1]
            except AllocationError as err:
                return prefix + f"spec.ports[{i}].nodePort: Invalid value: {p.node_port}: {err}"
            taken.add(port)
            out.append(type(p)(p.name, p.port, p.target_port, p.protocol, port))
        ports = tuple(out)
    health = service.health_check_node_port
    if service.needs_health_check_node_port:
        # allocHealthCheckNodePort, after the ports' nodePorts in the same transaction (storage/alloc.go)
        r = _port_range()
        for n in sorted(taken):
            r = r.allocate(n)
        try:
            if health:
                r.allocate(health)
            else:
                health = r.allocate_next(0, 0)[1]
        except AllocationError as err:
            return prefix + f"spec.healthCheckNodePort: Invalid value: {health}: {err}"
    return attrs.evolve(service, ports=ports, cluster_ip=ip, health_check_node_port=health)


def validate_service(svc: Service) -> str | None:
    """pkg/apis/core/validation ValidateService, the parts the model's fields can get wrong."""
    prefix = f'Service "{svc.meta.name}" is invalid: '
    if svc.type not in ("ClusterIP", "NodePort", "LoadBalancer"):
        return prefix + f'spec.type: Unsupported value: "{svc.type}": supported values: "ClusterIP", ' \
            '"LoadBalancer", "NodePort"'
    if not svc.ports and not svc.headless:
        return prefix + "spec.ports: Required value"
    names = [p.name for p in svc.ports]
    if len(svc.ports) > 1 and any(not n for n in names):
        return prefix + "spec.ports[0].name: Required value"
    if len(set(names)) != len(names):
        return prefix + f'spec.ports: Duplicate value: "{names[0]}"'
    if svc.external_traffic_policy not in ("Cluster", "Local"):
        return prefix + f'spec.externalTrafficPolicy: Unsupported value: "{svc.external_traffic_policy}": ' \
            'supported values: "Cluster", "Local"'
    if svc.external_traffic_policy == "Local" and svc.type not in ("NodePort", "LoadBalancer"):
        return prefix + 'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for ' \
            "externally-accessible services"
    if svc.health_check_node_port and not svc.needs_health_check_node_port:
        return prefix + f"spec.healthCheckNodePort: Invalid value: {svc.health_check_node_port}: may only be set " \
            "when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"
    for i, p in enumerate(svc.ports):
        if not 1 <= p.port <= 65535:
            return prefix + f"spec.ports[{i}].port: Invalid value: {p.port}: must be between 1 and 65535, inclusive"
        if isinstance(p.target_port, int) and not 1 <= p.target_port <= 65535:
            return prefix + f"spec.ports[{i}].targetPort: Invalid value: {p.target_port}: must be between 1 and " \
                "65535, inclusive"
        if p.node_port and svc.type == "ClusterIP":
            return prefix + f"spec.ports[{i}].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"
    if svc.headless and svc.type != "ClusterIP":
        return prefix + f'spec.clusterIPs[0]: Invalid value: "None": may not be set to \'None\' for {svc.type} ' \
            "services"
    return None


# --- conversions to the pure functions of spec.endpointslice and spec.proxy ---------------------------------


@functools.lru_cache(maxsize=4096)
def eps_service(svc: Service) -> eps.Service:
    """The Service as ``spec.endpointslice`` reads it."""
    return eps.Service(
        namespace=svc.meta.namespace, name=svc.meta.name, selector=None if svc.selector is None else svc.selector,
        ports=tuple(eps.ServicePort(p.name, p.port, p.protocol, p.target_port) for p in svc.ports),
        type=svc.type, cluster_ip=svc.cluster_ip or None,
        ip_families=("IPv4",), publish_not_ready_addresses=svc.publish_not_ready_addresses,
        labels=tuple(sorted(svc.meta.labels)), uid=str(svc.meta.uid), deleting=svc.meta.deleting)


@functools.lru_cache(maxsize=1 << 14)
def eps_pod(pod: Pod) -> eps.Pod:
    """The pod as ``spec.endpointslice`` reads it (phase, Ready, deletionTimestamp, status.podIPs)."""
    ip = pod.status.pod_ip
    return eps.Pod(namespace=pod.meta.namespace, name=pod.meta.name, labels=tuple(sorted(pod.meta.labels)),
                   node_name=pod.node_name, phase=pod.status.phase, ready=pod.status.ready,
                   deleting=pod.meta.deleting, pod_ips=(ip,) if ip else (),
                   container_ports=tuple(eps.ContainerPort(p.name, p.container_port, p.protocol)
                                         for c in pod.containers for p in c.ports))


@functools.lru_cache(maxsize=4096)
def proxy_service(svc: Service) -> proxy_model.Service:
    """The Service as kube-proxy reads it (spec.proxy.model)."""
    return proxy_model.Service(
        namespace=svc.meta.namespace, name=svc.meta.name, type=svc.type,
        cluster_ip=svc.cluster_ip or None,
        ports=tuple(proxy_model.ServicePort(p.name, p.port, p.protocol, p.node_port, p.target_port)
                    for p in svc.ports),
        external_traffic_policy=svc.external_traffic_policy, health_check_node_port=svc.health_check_node_port,
        internal_traffic_policy=svc.internal_traffic_policy, session_affinity=svc.session_affinity,
        sticky_seconds=svc.sticky_seconds)


@functools.lru_cache(maxsize=1 << 14)
def proxy_slice(s: EndpointSlice) -> proxy_model.EndpointSlice:
    """The slice as kube-proxy reads it (spec.proxy.model)."""
    return proxy_model.EndpointSlice(
        namespace=s.meta.namespace, name=s.meta.name, service_name=s.meta.label(eps.LABEL_SERVICE_NAME) or "",
        address_type=s.address_type,
        endpoints=tuple(proxy_model.Endpoint((e.address,), e.ready, e.serving, e.terminating, e.node_name)
                        for e in s.endpoints),
        ports=tuple(proxy_model.EndpointPort(p.name, p.port, p.protocol) for p in s.ports))


def selects(svc: Service, pod: Pod) -> bool:
    """The Service's selector matches the pod (same namespace; a Service without selector selects nothing)."""
    if svc.selector is None or pod.meta.namespace != svc.meta.namespace:
        return False
    labels = dict(pod.meta.labels)
    return all(labels.get(k) == v for k, v in svc.selector)


def ready_endpoints(etcd_objects: Iterable[Object], svc: Service, port: ServicePort, node: str | None = None
                    ) -> frozenset[str]:
    """What the Service's ``port`` should reach now, as "IP:PORT": the ready, not terminating, running pods it
    selects (podToEndpoint's ready condition), from etcd, each at the port its targetPort resolves to in that pod
    (FindPort: a named targetPort that the pod does not declare leaves the pod out of that port's endpoints,
    getEndpointPorts in pkg/controller/endpointslice/utils.go). ``node``: only the pods bound to it."""
    wanted = eps.ServicePort(port.name, port.port, port.protocol, port.target_port)
    out = set()
    for o in etcd_objects:
        if isinstance(o, Pod) and selects(svc, o) and o.status.pod_ip and o.status.ready \
                and not o.meta.deleting and o.status.phase == "Running" and node in (None, o.node_name):
            number = eps.find_port(eps_pod(o), wanted)
            if number is not None:
                out.add(f"{o.status.pod_ip}:{number}")
    return frozenset(out)
