"""The EndpointSlice controller as a pure function: the slices it writes for Services, Pods and Nodes.

Models (upstream file for each):

- which Services get slices: pkg/controller/endpointslice/endpointslice_controller.go (syncService): none for
  ExternalName Services, none for Services without a selector (their slices are written by hand); the pods are
  those of the Service's namespace whose labels include the selector;
- which pods are endpoints: staging/src/k8s.io/endpointslice/util/controller_utils.go (ShouldPodBeInEndpoints with
  includeTerminating=true: not Succeeded/Failed, has an IP; terminating pods stay);
- one endpoint per pod: staging/src/k8s.io/endpointslice/utils.go (podToEndpoint: serving = PodReady,
  terminating = deletionTimestamp set, ready = publishNotReadyAddresses || (serving && !terminating); addresses
  from status.podIPs of the slice's family; nodeName; zone from the Node's topology.kubernetes.io/zone label;
  targetRef; hostname when the pod's subdomain is the Service's name, ShouldSetHostname);
- ports: getEndpointPorts and FindPort (a numeric targetPort is used as is; a named one is looked up among the
  pod's containers' ports, then its restartable init containers' (sidecars'), by name and protocol; a port not
  found is left out of that pod's port list); a headless Service without ports gets slices without ports;
- slices: staging/src/k8s.io/endpointslice/reconciler.go (Reconcile, reconcileByAddressType,
  reconcileByPortMapping): one group of slices per address type (getAddressTypesForService: spec.ipFamilies,
  else the family of spec.clusterIP, else both) and per distinct port list; at most maxEndpointsPerSlice (100,
  kube-controller-manager's --max-endpoints-per-slice default) endpoints in a slice; a pod whose Node is not
  known is skipped unless publishNotReadyAddresses; when no slice would exist for an address type, one
  placeholder slice without endpoints and without ports;
- metadata: newEndpointSlice and setEndpointSliceLabels (the Service's labels except the reserved ones,
  kubernetes.io/service-name, endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io,
  service.kubernetes.io/headless: "" when the Service has no ClusterIP), generateName "<service>-" (or the
  Service's name when that is not a valid name), a controller ownerReference to the Service.

Abstracts: the controller's result from nothing (a first sync): the slices it creates, not the updates it would
make to slices that already exist (the existing-slice reuse of reconcileByPortMapping steps 1-2 and finalize's
create-to-update conversion need the model's state and are for a later session). Upstream fills slices by
EndpointSet.PopAny, a Go map's random order; here endpoints are taken in the order of the pods' namespace/name, so
which pod lands in which slice (beyond 100 endpoints) is one of upstream's possible outcomes, always the same one.
The API server names a slice generateName plus five random characters; here the five characters are a hash of
the Service, address type, port list and slice number (same alphabet, k8s.io/apiserver names.go), so output is
reproducible.

Omits: topology hints and trafficDistribution (hints are never written), the
endpoints.kubernetes.io/last-change-trigger-time annotation (a time), the EndpointSliceTracker and informer lag
(need the model), a Service being deleted (no slices are created for it: finalize), the Endpoints (v1) controller
and the EndpointSlice mirroring controller.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from spec.proxy import model as proxy_model

MAX_ENDPOINTS_PER_SLICE = 100
"""kube-controller-manager --max-endpoints-per-slice default (pkg/controller/endpointslice/config/v1alpha1)."""
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
"""The managed-by label value (pkg/controller/endpointslice/endpointslice_controller.go ControllerName)."""
LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
LABEL_ZONE = "topology.kubernetes.io/zone"
RESERVED_LABELS = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS)
IPV4, IPV6 = "IPv4", "IPv6"
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apiserver/pkg/storage/names: utilrand.String's alphabet
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")

Labels = tuple[tuple[str, str], ...]
"""A label map as sorted (key, value) pairs, hashable."""


def labels_of(mapping: Mapping[str, str] | None) -> Labels:
    return tuple(sorted((mapping or {}).items()))


@attrs.frozen
class ServicePort:
    """One entry of a v1.Service's spec.ports (targetPort defaulted to port by the API server when unset)."""

    name: str
    port: int
    protocol: str = "TCP"
    target_port: int | str | None = None
    app_protocol: str | None = None


@attrs.frozen
class Service:
    """The fields of a v1.Service the EndpointSlice controller reads. ``selector`` None: no selector."""

    namespace: str
    name: str
    selector: Labels | None
    ports: tuple[ServicePort, ...] = ()
    type: str = "ClusterIP"
    cluster_ip: str | None = None  # "None": headless; None: to be allocated by the API server (a manifest)
    ip_families: tuple[str, ...] = ()
    publish_not_ready_addresses: bool = False
    labels: Labels = ()
    uid: str | None = None
    deleting: bool = False  # metadata.deletionTimestamp set

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def ip_set(self) -> bool:
        """isServiceIPSet once the API server has allocated: a ClusterIP other than "None" (an ExternalName
        Service gets none)."""
        return self.cluster_ip != "None" and self.type != "ExternalName"


@attrs.frozen
class ContainerPort:
    name: str | None
    container_port: int
    protocol: str = "TCP"


@attrs.frozen
class Pod:
    """The fields of a v1.Pod the controller reads, as `kubectl get pods -o yaml` shows them."""

    namespace: str
    name: str
    labels: Labels = ()
    node_name: str = ""
    phase: str = "Running"
    ready: bool = False  # status.conditions[type=Ready].status == "True" (podutil.IsPodReady)
    deleting: bool = False  # metadata.deletionTimestamp set
    pod_ips: tuple[str, ...] = ()  # status.podIPs
    container_ports: tuple[ContainerPort, ...] = ()  # spec.containers[*].ports, in order
    sidecar_ports: tuple[ContainerPort, ...] = ()  # spec.initContainers[restartPolicy=Always][*].ports
    uid: str | None = None
    hostname: str = ""
    subdomain: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@attrs.frozen
class Node:
    name: str
    zone: str | None = None  # the topology.kubernetes.io/zone label


@attrs.frozen
class TargetRef:
    kind: str
    namespace: str
    name: str
    uid: str | None = None


@attrs.frozen
class Endpoint:
    """discovery.k8s.io/v1 Endpoint as podToEndpoint builds it."""

    addresses: tuple[str, ...]
    ready: bool
    serving: bool
    terminating: bool
    node_name: str | None = None
    zone: str | None = None
    hostname: str | None = None
    target_ref: TargetRef | None = None


@attrs.frozen
class EndpointPort:
    name: str
    port: int
    protocol: str = "TCP"
    app_protocol: str | None = None


@attrs.frozen
class EndpointSlice:
    """A discovery.k8s.io/v1 EndpointSlice the controller creates."""

    namespace: str
    name: str
    generate_name: str
    service_name: str
    service_uid: str | None
    address_type: str
    labels: Labels
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[EndpointPort, ...] = ()

    def to_proxy(self) -> proxy_model.EndpointSlice:
        """The same slice as spec.proxy's model reads it (kube-proxy's view: conditions, nodeName, ports)."""
        return proxy_model.EndpointSlice(
            namespace=self.namespace,
            name=self.name,
            service_name=self.service_name,
            address_type=self.address_type,
            endpoints=tuple(
                proxy_model.Endpoint(e.addresses, e.ready, e.serving, e.terminating, e.node_name)
                for e in self.endpoints
            ),
            ports=tuple(proxy_model.EndpointPort(p.name, p.port, p.protocol) for p in self.ports),
        )

    def manifest(self) -> dict[str, object]:
        """The object as `kubectl get endpointslice -o yaml|json` shows it (empty lists are null, as the API
        server's protobuf round trip leaves them)."""
        owner: dict[str, object] = {"apiVersion": "v1", "kind": "Service", "name": self.service_name,
                                    "controller": True, "blockOwnerDeletion": True}
        if self.service_uid:
            owner["uid"] = self.service_uid
        return {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": self.name,
                "generateName": self.generate_name,
                "namespace": self.namespace,
                "labels": dict(self.labels),
                "ownerReferences": [owner],
            },
            "addressType": self.address_type,
            "endpoints": [_endpoint_manifest(e) for e in self.endpoints] or None,
            "ports": [_port_manifest(p) for p in self.ports] or None,
        }


def _endpoint_manifest(e: Endpoint) -> dict[str, object]:
    out: dict[str, object] = {
        "addresses": list(e.addresses),
        "conditions": {"ready": e.ready, "serving": e.serving, "terminating": e.terminating},
    }
    if e.node_name is not None:
        out["nodeName"] = e.node_name
    if e.zone is not None:
        out["zone"] = e.zone
    if e.hostname is not None:
        out["hostname"] = e.hostname
    if e.target_ref is not None:
        ref: dict[str, object] = {"kind": e.target_ref.kind, "namespace": e.target_ref.namespace,
                                  "name": e.target_ref.name}
        if e.target_ref.uid:
            ref["uid"] = e.target_ref.uid
        out["targetRef"] = ref
    return out


def _port_manifest(p: EndpointPort) -> dict[str, object]:
    out: dict[str, object] = {"name": p.name, "port": p.port, "protocol": p.protocol}
    if p.app_protocol is not None:
        out["appProtocol"] = p.app_protocol
    return out


def ip_family(ip: str) -> str:
    """utilnet.IsIPv6: IPv6 or IPv4 (an IPv4-mapped IPv6 address counts as IPv4, as Go's net.IP.To4 does)."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return IPV4
    return IPV6 if addr.version == 6 else IPV4


def canonical_ip(ip: str) -> str:
    """utilnet.ParseIPSloppy then String(): the canonical text (an IPv4-mapped address prints as IPv4)."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def address_types(service: Service) -> tuple[str, ...]:
    """getAddressTypesForService, in spec.ipFamilies order (IPv4 before IPv6 when derived)."""
    families = tuple(dict.fromkeys(f for f in service.ip_families if f in (IPV4, IPV6)))
    if families:
        return families
    if service.cluster_ip not in (None, "", "None"):
        assert service.cluster_ip is not None
        return (ip_family(service.cluster_ip),)
    return (IPV4, IPV6)


def selects(service: Service, pod: Pod) -> bool:
    """The pod lister's match: same namespace, and every selector label present with its value."""
    if service.selector is None or pod.namespace != service.namespace:
        return False
    labels = dict(pod.labels)
    return all(labels.get(k) == v for k, v in service.selector)


def should_pod_be_in_endpoints(pod: Pod) -> bool:
    """ShouldPodBeInEndpoints(pod, includeTerminating=true)."""
    return pod.phase not in ("Succeeded", "Failed") and bool(pod.pod_ips)


def find_port(pod: Pod, port: ServicePort) -> int | None:
    """FindPort: the container port a Service port's targetPort names in this pod (None: not found)."""
    target = port.port if port.target_port is None else port.target_port
    if isinstance(target, int):
        return target
    for cp in (*pod.container_ports, *pod.sidecar_ports):
        if cp.name == target and cp.protocol == port.protocol:
            return cp.container_port
    return None


def endpoint_ports(service: Service, pod: Pod) -> tuple[EndpointPort, ...]:
    """getEndpointPorts: the Service's ports resolved for this pod, unresolvable ones left out."""
    out = []
    for sp in service.ports:
        number = find_port(pod, sp)
        if number is not None:
            out.append(EndpointPort(sp.name, number, sp.protocol, sp.app_protocol))
    return tuple(out)


def pod_to_endpoint(pod: Pod, node: Node | None, service: Service, address_type: str) -> Endpoint:
    """podToEndpoint."""
    serving = pod.ready
    terminating = pod.deleting
    ready = service.publish_not_ready_addresses or (serving and not terminating)
    addresses = tuple(canonical_ip(ip) for ip in pod.pod_ips if ip_family(ip) == address_type)
    hostname = pod.hostname if (pod.hostname and pod.subdomain == service.name
                                and pod.namespace == service.namespace) else None
    return Endpoint(
        addresses=addresses,
        ready=ready,
        serving=serving,
        terminating=terminating,
        node_name=pod.node_name or None,
        zone=node.zone if node is not None and node.zone else None,
        hostname=hostname,
        target_ref=TargetRef("Pod", pod.namespace, pod.name, pod.uid),
    )


def slice_labels(service: Service) -> Labels:
    """setEndpointSliceLabels for a new slice."""
    labels = {k: v for k, v in service.labels if k not in RESERVED_LABELS}
    if not service.ip_set:
        labels[LABEL_HEADLESS] = ""
    labels[LABEL_SERVICE_NAME] = service.name
    labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
    return labels_of(labels)


def generate_name(service_name: str) -> str:
    """getEndpointSlicePrefix: "<name>-", or the name alone when that prefix is not a valid DNS subdomain."""
    prefix = f"{service_name}-"
    masked = service_name + "a"  # NameIsDNSSubdomain(prefix, true) validates the prefix with its dash masked
    if len(masked) > 253 or not _DNS_SUBDOMAIN.fullmatch(masked):
        return service_name
    return prefix


def _name_suffix(*parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return "".join(_NAME_ALPHABET[b % len(_NAME_ALPHABET)] for b in digest[:5])


def reconcile(service: Service, pods: Iterable[Pod], nodes: Sequence[Node] | None = None,
              max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> list[EndpointSlice]:
    """The slices the controller creates for one Service from nothing (syncService + Reconcile).

    ``pods``: any pods (those the Service does not select are ignored). ``nodes``: the Node informer's contents;
    None means "every pod's Node exists" (a caller that has no Nodes to give).
    """
    if service.type == "ExternalName" or service.selector is None or service.deleting:
        return []
    if max_endpoints_per_slice < 1:
        raise ValueError("max_endpoints_per_slice must be at least 1")
    selected = sorted((p for p in pods if selects(service, p)), key=lambda p: (p.namespace, p.name))
    by_name = None if nodes is None else {n.name: n for n in nodes}
    out: list[EndpointSlice] = []
    for address_type in address_types(service):
        groups: dict[tuple[EndpointPort, ...], list[Endpoint]] = {}
        for pod in selected:
            if not should_pod_be_in_endpoints(pod):
                continue
            ports = endpoint_ports(service, pod)  # () for a Service without ports (headless ones may have none)
            group = groups.setdefault(ports, [])
            node = None
            if by_name is not None:
                node = by_name.get(pod.node_name)
                if node is None and not service.publish_not_ready_addresses:
                    continue  # "skipping Pod for Service, Node not found"
            endpoint = pod_to_endpoint(pod, node, service, address_type)
            if endpoint.addresses:
                group.append(endpoint)
        created: list[EndpointSlice] = []
        for ports, endpoints in groups.items():
            port_text = ",".join(f"{p.name}/{p.port}/{p.protocol}" for p in ports)
            for start in range(0, len(endpoints), max_endpoints_per_slice):
                chunk = tuple(endpoints[start:start + max_endpoints_per_slice])
                created.append(_new_slice(service, address_type, ports, chunk, f"{port_text}#{start}"))
        if not created:  # the placeholder: no ports, no endpoints
            created.append(_new_slice(service, address_type, (), (), "placeholder"))
        out.extend(created)
    return out


def _new_slice(service: Service, address_type: str, ports: tuple[EndpointPort, ...],
               endpoints: tuple[Endpoint, ...], discriminator: str) -> EndpointSlice:
    prefix = generate_name(service.name)
    name = prefix + _name_suffix(service.namespace, service.name, address_type, discriminator)
    return EndpointSlice(
        namespace=service.namespace,
        name=name,
        generate_name=prefix,
        service_name=service.name,
        service_uid=service.uid,
        address_type=address_type,
        labels=slice_labels(service),
        endpoints=endpoints,
        ports=ports,
    )


def endpoint_slices(services: Iterable[Service], pods: Iterable[Pod], nodes: Sequence[Node] | None = None,
                    max_endpoints_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> list[EndpointSlice]:
    """Every slice the controller creates for these Services, Services in namespace/name order.

    From manifests (as `kubectl get -o yaml` exports them), with spec/proxy's model of the result::

        inputs = spec.endpoints_cli.parse_inputs(text, path)   # Services, Pods, Nodes; InputError on bad input
        slices = endpoint_slices(inputs.services, inputs.pods, inputs.nodes or None)
        proxy_slices = tuple(s.to_proxy() for s in slices)     # spec.proxy.model.EndpointSlice
    """
    pod_list = list(pods)
    out: list[EndpointSlice] = []
    for service in sorted(services, key=lambda s: (s.namespace, s.name)):
        out.extend(reconcile(service, pod_list, nodes, max_endpoints_per_slice))
    return out


def diagnose(services: Iterable[Service], pods: Iterable[Pod], nodes: Sequence[Node] | None = None) -> list[str]:
    """What a user should be told about these inputs: Services the controller skips, selectors that match no
    pod, ports no selected pod has, pods left out. One line each, Services in namespace/name order."""
    pod_list = sorted(pods, key=lambda p: (p.namespace, p.name))
    node_names = None if nodes is None else {n.name for n in nodes}
    out: list[str] = []
    for svc in sorted(services, key=lambda s: (s.namespace, s.name)):
        where = f"Service {svc.key}"
        if svc.type == "ExternalName":
            out.append(f"{where}: type ExternalName: the controller writes no EndpointSlices for it")
            continue
        if svc.selector is None:
            out.append(f"{where}: no selector: the controller writes no EndpointSlices for it "
                       "(they are written by hand)")
            continue
        if svc.deleting:
            out.append(f"{where}: being deleted: the controller creates no EndpointSlices for it")
            continue
        selector = ",".join(f"{k}={v}" for k, v in svc.selector)
        selected = [p for p in pod_list if selects(svc, p)]
        if not selected:
            out.append(f"{where}: selector {selector} matches no pod in namespace {svc.namespace}: "
                       "its EndpointSlice has no endpoints")
            continue
        candidates = [p for p in selected if should_pod_be_in_endpoints(p)]
        for pod in selected:
            if pod.phase in ("Succeeded", "Failed"):
                out.append(f"{where}: pod {pod.name} is {pod.phase}: not an endpoint")
            elif not pod.pod_ips:
                out.append(f"{where}: pod {pod.name} has no IP (status.podIPs): not an endpoint")
            elif node_names is not None and pod.node_name not in node_names and not svc.publish_not_ready_addresses:
                shown = pod.node_name or "(none)"
                out.append(f"{where}: pod {pod.name}: its Node {shown} is not among the Nodes given: left out, "
                           "as the controller skips a pod whose Node is not found")
        families = set(address_types(svc))
        for pod in candidates:
            if not any(ip_family(ip) in families for ip in pod.pod_ips):
                out.append(f"{where}: pod {pod.name} has no {' or '.join(sorted(families))} address: not an endpoint")
        for sp in svc.ports:
            label = f"port {sp.name or sp.port}/{sp.protocol}"
            target = sp.port if sp.target_port is None else sp.target_port
            if isinstance(target, str):
                missing = [p.name for p in candidates if find_port(p, sp) is None]
                if missing and len(missing) == len(candidates):
                    out.append(f"{where}: {label}: targetPort {target!r} names no {sp.protocol} container port of "
                               "any selected pod: the slices leave this port out")
                elif missing:
                    out.append(f"{where}: {label}: targetPort {target!r} names no {sp.protocol} container port of "
                               f"pods {', '.join(missing)}: their endpoints are in a slice without this port")
            elif candidates and not any(
                cp.container_port == target and cp.protocol == sp.protocol
                for p in candidates for cp in (*p.container_ports, *p.sidecar_ports)
            ):
                out.append(f"{where}: {label}: targetPort {target} is not a declared {sp.protocol} containerPort of "
                           "any selected pod (the slices still send traffic there)")
    return out
