"""Kubernetes YAML (Service, EndpointSlice, Node) to the kube-proxy model.

Field semantics follow upstream: pkg/proxy/serviceport.go (newBaseServiceInfo: source ranges trimmed and
canonicalised, only VIP-mode load-balancer ingress IPs), pkg/proxy/endpointslicecache.go (ready/serving default
true, terminating default false, first address only), staging/src/k8s.io/api/core/v1/types.go (defaults).
Other kinds are ignored; bad values are an InputError naming the document and the field.

A user has Pods and Services, not EndpointSlices: ``load_manifests`` also reads Pods (as `kubectl get pods -o yaml`
exports them: status.podIP/podIPs, phase, conditions, deletionTimestamp, container ports for named targetPorts)
and workloads (Deployment, ReplicaSet, StatefulSet, DaemonSet) whose pods' addresses are given on the command line
(``--pod-ips``: each address a pod of the template, Running and Ready), and derives the slices of every Service
the manifests give no EndpointSlice for with the EndpointSlice controller's code that `kubespec endpoints` runs
(``spec.endpoints_cli`` parses, ``spec.endpointslice.endpoint_slices`` reconciles: staging/src/k8s.io/
endpointslice/reconciler.go, utils.go podToEndpoint). What a Service's selector or ports do not match is said
(``spec.endpointslice.diagnose``), one ``warning:`` line each.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Iterator, Mapping
from typing import Any

import attrs

from checker.errors import InputError
from spec import endpointslice as eps
from spec.proxy.model import (
    DEFAULT_STICKY_SECONDS,
    Cluster,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    Node,
    ProxierOptions,
    Service,
    ServicePort,
)
from spec.strict import validate_object
from spec.yamldocs import yaml_documents

PROTOCOLS = ("TCP", "UDP", "SCTP")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


class _Doc:
    """Where a value came from, for one-line error messages."""

    def __init__(self, source: str, index: int, kind: str, name: str) -> None:
        self.prefix = f"{source}: document {index} ({kind} {name})"

    def fail(self, path: str, problem: str) -> InputError:
        return InputError(f"{self.prefix}: {path}: {problem}")


def load_documents(text: str, source: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Yield (1-based document number, mapping) for each non-empty YAML document; lists are flattened."""
    docs = yaml_documents(text, source)
    for index, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        if not isinstance(doc, Mapping):
            raise InputError(f"{source}: document {index}: expected a Kubernetes object, got {type(doc).__name__}")
        if doc.get("kind") == "List":
            for item in doc.get("items") or []:
                if not isinstance(item, Mapping):
                    raise InputError(f"{source}: document {index}: items: expected objects")
                yield index, item
        else:
            yield index, doc


def _get(doc: _Doc, obj: Mapping[str, Any], path: str, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise doc.fail(f"{path}{key}", f"{value!r} is not a {expected}")
    return value


def _ip(doc: _Doc, path: str, value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise doc.fail(path, f"{value!r} is not an IP address") from None


def _port(doc: _Doc, path: str, value: Any, allow_zero: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not (0 if allow_zero else 1) <= value <= 65535:
        raise doc.fail(path, f"{value!r} is not a port number")
    return value


def _enum(doc: _Doc, path: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise doc.fail(path, f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def _mapping(doc: _Doc, obj: Mapping[str, Any], path: str, key: str) -> Mapping[str, Any]:
    return _get(doc, obj, path, key, Mapping, {})  # type: ignore[no-any-return]


def parse_service(doc: _Doc, obj: Mapping[str, Any], namespace: str, name: str) -> Service:
    spec = _mapping(doc, obj, "", "spec")
    status = _mapping(doc, obj, "", "status")
    svc_type = _enum(doc, "spec.type", spec.get("type") or "ClusterIP", SERVICE_TYPES)
    cluster_ip = spec.get("clusterIP")
    if cluster_ip not in (None, "", "None"):
        cluster_ip = _ip(doc, "spec.clusterIP", cluster_ip)
    ports = []
    for i, raw in enumerate(_get(doc, spec, "spec.", "ports", list, [])):
        path = f"spec.ports[{i}]"
        if not isinstance(raw, Mapping):
            raise doc.fail(path, "expected a mapping")
        target = raw.get("targetPort")
        if target is not None and not isinstance(target, (int, str)):
            raise doc.fail(f"{path}.targetPort", f"{target!r} is not a port number or name")
        ports.append(
            ServicePort(
                name=str(_get(doc, raw, f"{path}.", "name", str, "")),
                port=_port(doc, f"{path}.port", raw.get("port")),
                protocol=_enum(doc, f"{path}.protocol", raw.get("protocol") or "TCP", PROTOCOLS),
                node_port=_port(doc, f"{path}.nodePort", raw.get("nodePort") or 0, allow_zero=True),
                target_port=target,
            )
        )
    external_ips = tuple(
        _ip(doc, f"spec.externalIPs[{i}]", ip) for i, ip in enumerate(_get(doc, spec, "spec.", "externalIPs", list, []))
    )
    ranges = []
    for i, cidr in enumerate(_get(doc, spec, "spec.", "loadBalancerSourceRanges", list, [])):
        try:
            ranges.append(str(ipaddress.ip_network(str(cidr).strip(), strict=False)))
        except ValueError:
            raise doc.fail(f"spec.loadBalancerSourceRanges[{i}]", f"{cidr!r} is not a CIDR") from None
    lb_ips = []
    lb = _mapping(doc, status, "status.", "loadBalancer")
    for i, ing in enumerate(_get(doc, lb, "status.loadBalancer.", "ingress", list, [])):
        path = f"status.loadBalancer.ingress[{i}]"
        if not isinstance(ing, Mapping):
            raise doc.fail(path, "expected a mapping")
        if not ing.get("ip"):
            continue
        mode = _enum(doc, f"{path}.ipMode", ing.get("ipMode") or "VIP", ("VIP", "Proxy"))
        if mode == "VIP":  # proxyutil.IsVIPMode
            lb_ips.append(_ip(doc, f"{path}.ip", ing["ip"]))
    affinity = _enum(doc, "spec.sessionAffinity", spec.get("sessionAffinity") or "None", ("None", "ClientIP"))
    config = _mapping(doc, _mapping(doc, spec, "spec.", "sessionAffinityConfig"), "spec.sessionAffinityConfig.",
                      "clientIP")
    sticky = _get(doc, config, "spec.sessionAffinityConfig.clientIP.", "timeoutSeconds", int, DEFAULT_STICKY_SECONDS)
    if not 0 < sticky <= 86400:
        raise doc.fail("spec.sessionAffinityConfig.clientIP.timeoutSeconds", f"{sticky} is not in 1..86400")
    return Service(
        namespace=namespace,
        name=name,
        type=svc_type,
        cluster_ip=cluster_ip,
        ports=tuple(ports),
        external_ips=external_ips,
        load_balancer_ips=tuple(lb_ips),
        load_balancer_source_ranges=tuple(ranges),
        session_affinity=affinity,
        sticky_seconds=sticky,
        external_traffic_policy=_enum(doc, "spec.externalTrafficPolicy", spec.get("externalTrafficPolicy") or "Cluster",
                                      ("Cluster", "Local")),
        internal_traffic_policy=_enum(doc, "spec.internalTrafficPolicy", spec.get("internalTrafficPolicy") or "Cluster",
                                      ("Cluster", "Local")),
        health_check_node_port=_port(doc, "spec.healthCheckNodePort", spec.get("healthCheckNodePort") or 0, True),
    )


def parse_endpoint_slice(doc: _Doc, obj: Mapping[str, Any], namespace: str, name: str) -> EndpointSlice:
    labels = _mapping(doc, _mapping(doc, obj, "", "metadata"), "metadata.", "labels")
    service_name = labels.get(SERVICE_NAME_LABEL)
    if not service_name:
        raise doc.fail(f"metadata.labels[{SERVICE_NAME_LABEL}]", "missing: kube-proxy needs it to find the Service")
    address_type = _enum(doc, "addressType", obj.get("addressType") or "IPv4", ("IPv4", "IPv6", "FQDN"))
    endpoints = []
    for i, raw in enumerate(_get(doc, obj, "", "endpoints", list, [])):
        path = f"endpoints[{i}]"
        if not isinstance(raw, Mapping):
            raise doc.fail(path, "expected a mapping")
        addresses = _get(doc, raw, f"{path}.", "addresses", list, [])
        if address_type != "FQDN":
            addresses = [_ip(doc, f"{path}.addresses[{j}]", a) for j, a in enumerate(addresses)]
        cond = _mapping(doc, raw, f"{path}.", "conditions")
        endpoints.append(
            Endpoint(
                addresses=tuple(str(a) for a in addresses),
                ready=_get(doc, cond, f"{path}.conditions.", "ready", bool, True),
                serving=_get(doc, cond, f"{path}.conditions.", "serving", bool, True),
                terminating=_get(doc, cond, f"{path}.conditions.", "terminating", bool, False),
                node_name=_get(doc, raw, f"{path}.", "nodeName", str, None),
            )
        )
    ports = []
    for i, raw in enumerate(_get(doc, obj, "", "ports", list, [])):
        path = f"ports[{i}]"
        if not isinstance(raw, Mapping):
            raise doc.fail(path, "expected a mapping")
        port = raw.get("port")
        ports.append(
            EndpointPort(
                name=str(_get(doc, raw, f"{path}.", "name", str, "")),
                port=None if port is None else _port(doc, f"{path}.port", port, allow_zero=True),
                protocol=_enum(doc, f"{path}.protocol", raw.get("protocol") or "TCP", PROTOCOLS),
            )
        )
    return EndpointSlice(namespace, name, str(service_name), address_type, tuple(endpoints), tuple(ports))


def parse_node(doc: _Doc, obj: Mapping[str, Any], name: str) -> Node:
    status = _mapping(doc, obj, "", "status")
    addresses = []
    for i, raw in enumerate(_get(doc, status, "status.", "addresses", list, [])):
        if not isinstance(raw, Mapping):
            raise doc.fail(f"status.addresses[{i}]", "expected a mapping")
        if raw.get("type") in ("InternalIP", "ExternalIP"):
            addresses.append(_ip(doc, f"status.addresses[{i}].address", raw.get("address")))
    spec = _mapping(doc, obj, "", "spec")
    cidrs = list(_get(doc, spec, "spec.", "podCIDRs", list, []))
    if not cidrs and spec.get("podCIDR"):
        cidrs = [spec["podCIDR"]]
    pod_cidrs = []
    for i, cidr in enumerate(cidrs):
        try:
            pod_cidrs.append(str(ipaddress.ip_network(str(cidr), strict=False)))
        except ValueError:
            raise doc.fail(f"spec.podCIDRs[{i}]", f"{str(cidr)[:60]!r} is not a CIDR") from None
    return Node(name, tuple(addresses), tuple(pod_cidrs))


_API_VERSIONS = {"Service": "v1", "Node": "v1", "EndpointSlice": "discovery.k8s.io/v1"}


def parse_cluster(text: str, source: str) -> Cluster:
    """Parse multi-document YAML into a Cluster; raises InputError on bad input."""
    services: list[Service] = []
    slices: list[EndpointSlice] = []
    nodes: list[Node] = []
    for index, obj in load_documents(text, source):
        kind = obj.get("kind")
        if not isinstance(kind, str) or not kind:
            raise InputError(f"{source}: document {index}: kind: missing")
        meta = obj.get("metadata")
        if not isinstance(meta, Mapping) or not isinstance(meta.get("name"), str) or not meta["name"]:
            raise InputError(f"{source}: document {index} ({kind}): metadata.name: missing")
        name = meta["name"]
        namespace = str(meta.get("namespace") or "default")
        doc = _Doc(source, index, kind, name if kind == "Node" else f"{namespace}/{name}")
        if kind in _API_VERSIONS:
            # Every field known and of its shape, as kubectl apply --validate=strict (``portz``, ``adresses``);
            # a document without apiVersion (hand-written slices) is read as the kind's usual one.
            validate_object({"apiVersion": _API_VERSIONS[kind], **obj}, f"{source}: document {index} ({kind} {name})")
        if kind == "Service":
            services.append(parse_service(doc, obj, namespace, name))
        elif kind == "EndpointSlice":
            slices.append(parse_endpoint_slice(doc, obj, namespace, name))
        elif kind == "Node":
            nodes.append(parse_node(doc, obj, name))
    seen: set[str] = set()
    for svc in services:
        if svc.key in seen:
            raise InputError(f"{source}: Service {svc.key} is defined twice")
        seen.add(svc.key)
    return Cluster(tuple(services), tuple(slices), tuple(nodes))


MAX_INPUT_BYTES = 1 << 30


def read_bytes(path: str) -> bytes:
    """A regular file's bytes (a FIFO, a device or a directory is refused: it could block or never end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO would block an ordinary open until a writer comes
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror} ({path})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"cannot read: not a regular file ({path})")
        if info.st_size > MAX_INPUT_BYTES:
            raise InputError(f"cannot read: {info.st_size:,} bytes is over the limit of 1 GiB ({path})")
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return f.read()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror} ({path})") from None
    finally:
        if fd >= 0:
            os.close(fd)


def read_text(path: str) -> str:
    """A regular file as UTF-8 text; anything else is an InputError naming the file and line."""
    data = read_bytes(path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise InputError(f"not UTF-8 text: UTF-16 or binary data ({path}:1)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"not UTF-8 text: byte {data[exc.start]:#04x} ({path}:{line})") from None


def load_cluster(paths: tuple[str, ...] | list[str]) -> Cluster:
    """Read and merge several manifest files."""
    return load_manifests(paths)[0]


WORKLOADS = {"Deployment": "deployment", "ReplicaSet": "replicaset", "StatefulSet": "statefulset",
             "DaemonSet": "daemonset"}
"""The workload kinds whose pods ``--pod-ips`` names (by kubectl's resource name)."""


@attrs.frozen
class _Workload:
    namespace: str
    kind: str
    name: str
    template: Mapping[str, Any]
    where: str


def parse_pod_ips(values: tuple[str, ...] | list[str]) -> dict[tuple[str, str, str], list[tuple[str, str]]]:
    """``--pod-ips [NAMESPACE/]KIND/NAME=IP[@NODE][,IP[@NODE]...]`` -> {(namespace or "", kind, name): [(ip,
    node)]}; KIND as kubectl names it (deployment, replicaset, statefulset, daemonset)."""
    out: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for value in values:
        ref, eq, ips = value.partition("=")
        parts = ref.split("/")
        if not eq or not ips or len(parts) not in (2, 3) or not all(parts):
            raise InputError(f"--pod-ips: {value[:60]!r} is not [NAMESPACE/]KIND/NAME=IP[@NODE][,IP[@NODE]...]")
        namespace, kind, name = (parts if len(parts) == 3 else ["", *parts])
        if kind.lower() not in WORKLOADS.values():
            raise InputError(f"--pod-ips: {kind[:40]!r} is not one of {', '.join(WORKLOADS.values())}")
        pods = out.setdefault((namespace, kind.lower(), name), [])
        for item in ips.split(","):
            ip, _, node = item.strip().partition("@")
            try:
                pods.append((str(ipaddress.ip_address(ip)), node))
            except ValueError:
                raise InputError(f"--pod-ips: {ip[:60]!r} is not an IP address ({value[:60]})") from None
    return out


@attrs.frozen
class _RawService:
    where: Any
    obj: Mapping[str, Any]
    namespace: str
    name: str


def _parse_pods(text: str, source: str) -> tuple[list[_RawService], list[eps.Pod], list[eps.Node], list[_Workload]]:
    """The Services (read only when there are pods), Pods, Nodes and workloads of one file, read by
    ``spec.endpoints_cli`` as `kubespec endpoints` reads them."""
    from spec import endpoints_cli as ecli

    services: list[_RawService] = []
    pods: list[eps.Pod] = []
    nodes: list[eps.Node] = []
    workloads: list[_Workload] = []
    for index, obj in load_documents(text, source):
        kind = obj.get("kind")
        meta = obj.get("metadata")
        if kind not in ("Service", "Pod", "Node", *WORKLOADS) or not isinstance(meta, Mapping):
            continue
        name = str(meta.get("name"))
        namespace = "" if kind == "Node" else str(meta.get("namespace") or "default")
        where = f"{source}: document {index} ({kind} {namespace + '/' if namespace else ''}{name})"
        w = ecli._Where(where)
        if kind == "Service":
            services.append(_RawService(w, obj, namespace, name))
        elif kind == "Node":
            nodes.append(ecli.parse_node(w, obj, name))
        elif kind == "Pod":
            validate_object({"apiVersion": "v1", **obj}, where)
            pods.append(ecli.parse_pod(w, obj, namespace, name))
        else:
            validate_object({"apiVersion": "apps/v1", **obj}, where)
            template = ecli._map(w, ecli._map(w, obj, "spec", "spec"), "template", "spec.template")
            workloads.append(_Workload(namespace, WORKLOADS[str(kind)], name, template, where))
    return services, pods, nodes, workloads


def _workload_pods(workloads: list[_Workload], pod_ips: dict[tuple[str, str, str], list[tuple[str, str]]]
                   ) -> list[eps.Pod]:
    """A Running, Ready pod of each workload's template for each address ``--pod-ips`` gives it."""
    from spec import endpoints_cli as ecli

    out: list[eps.Pod] = []
    for (namespace, kind, name), ips in sorted(pod_ips.items()):
        found = [wl for wl in workloads if wl.kind == kind and wl.name == name
                 and (not namespace or wl.namespace == namespace)]
        if not found:
            raise InputError(f"--pod-ips: no {kind} {namespace + '/' if namespace else ''}{name} in the manifests")
        if len(found) > 1:
            raise InputError(f"--pod-ips: {kind} {name} is in namespaces {', '.join(wl.namespace for wl in found)}: "
                             f"say which (NAMESPACE/{kind}/{name}=...)")
        wl = found[0]
        w = ecli._Where(wl.where)
        labels = ecli._string_map(w, ecli._map(w, wl.template, "metadata", "spec.template.metadata"), "labels",
                                  "spec.template.metadata.labels")
        spec = ecli._map(w, wl.template, "spec", "spec.template.spec")
        ports = tuple(ecli._container_ports(w, ecli._list(w, spec, "containers", "spec.template.spec.containers"),
                                            "spec.template.spec.containers", False))
        sidecars = tuple(ecli._container_ports(w, ecli._list(w, spec, "initContainers",
                                                             "spec.template.spec.initContainers"),
                                               "spec.template.spec.initContainers", True))
        for i, (ip, node) in enumerate(ips):
            out.append(eps.Pod(namespace=wl.namespace, name=f"{wl.name}-{i}", labels=eps.labels_of(labels),
                               node_name=node, phase="Running", ready=True, pod_ips=(ip,), container_ports=ports,
                               sidecar_ports=sidecars))
    return out


def load_manifests(paths: tuple[str, ...] | list[str], pod_ips: tuple[str, ...] | list[str] = (),
                   primary_family: str = "IPv4") -> tuple[Cluster, list[str]]:
    """Read and merge several manifest files: the cluster kube-proxy reads, and ``warning:`` lines. The
    EndpointSlices of a Service that no slice in the manifests belongs to are derived from the Pods (and the
    workloads' ``--pod-ips``), when any are given, as the EndpointSlice controller writes them."""
    services: list[Service] = []
    slices: list[EndpointSlice] = []
    nodes: list[Node] = []
    raw_services: list[_RawService] = []
    e_pods: list[eps.Pod] = []
    e_nodes: list[eps.Node] = []
    workloads: list[_Workload] = []
    for path in paths:
        text = read_text(path)
        cluster = parse_cluster(text, path)
        services += cluster.services
        slices += cluster.slices
        nodes += cluster.nodes
        got = _parse_pods(text, path)
        raw_services += got[0]
        e_pods += got[1]
        e_nodes += got[2]
        workloads += got[3]
    wanted = parse_pod_ips(pod_ips)
    e_pods += _workload_pods(workloads, wanted)
    seen: set[str] = set()
    for pod in e_pods:
        if pod.key in seen:
            raise InputError(f"Pod {pod.key} is defined twice (in {', '.join(paths)})")
        seen.add(pod.key)
    warnings: list[str] = []
    if e_pods or workloads:
        from spec.endpoints_cli import parse_service

        e_services = [parse_service(r.where, r.obj, r.namespace, r.name, primary_family) for r in raw_services]
        with_slices = {(s.namespace, s.service_name) for s in slices}
        derive = [svc for svc in e_services if (svc.namespace, svc.name) not in with_slices]
        shown = {(wl.namespace, wl.kind, wl.name) for wl in workloads}
        for namespace, kind, name in sorted(shown):
            if not any(k == kind and n == name and ns in ("", namespace) for ns, k, n in wanted):
                warnings.append(f"warning: {kind} {namespace}/{name}: no --pod-ips {kind}/{name}=IP,...: its pods "
                                "are not known")
        given_nodes = e_nodes or None
        if given_nodes is not None and any(not node for ips in wanted.values() for _, node in ips):
            # A --pod-ips address without @NODE: its pod is on a Node the manifests may not hold; kept (the
            # controller would skip it only for want of the Node object), and local on no node.
            given_nodes = None
            warnings.append("warning: --pod-ips: an address without @NODE is an endpoint local to no node")
        slices += [s.to_proxy() for s in eps.endpoint_slices(derive, e_pods, given_nodes)]
        warnings += [f"warning: {line}" for line in eps.diagnose(derive, e_pods, given_nodes)]
    return Cluster(tuple(services), tuple(slices), tuple(nodes)), warnings


def nothing_to_verify(cluster: Cluster, warnings: list[str], paths: tuple[str, ...] | list[str]) -> str | None:
    """The one line to refuse with when no Service port of the manifests has an endpoint (rules that only
    REJECT prove nothing about where traffic goes), naming why (the first warning about it); None otherwise."""
    from spec.proxy.endpoints import endpoints_map, service_ports

    eps_map = endpoints_map(cluster, "")
    if any(key in eps_map for key, _, _ in service_ports(cluster)):
        return None
    why = next((w.removeprefix("warning: ") for w in warnings), None)
    if why is None:
        from spec.proxy.verify import warnings_of

        found = warnings_of(cluster, ProxierOptions(node_name=""))
        why = found[0].removeprefix("warning: ") if found else "no endpoints"
    return f"nothing to verify: no Service port has an endpoint ({why}) ({', '.join(paths)})"


def combine_warnings(derived: list[str], verifier: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The warnings of the derivation (``load_manifests``), then the verifier's, less those about a port of a
    Service the derivation already explained ("warning: NS/NAME:PORT (...)" after "warning: Service NS/NAME: ...")."""
    explained = {line.split(":", 2)[1].strip().removeprefix("Service ") for line in derived
                 if line.startswith("warning: Service ")}
    kept = [line for line in verifier
            if not (line.startswith("warning: ") and line[9:].split(":", 1)[0] in explained)]
    return (*derived, *kept)
