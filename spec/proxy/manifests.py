"""Kubernetes YAML (Service, EndpointSlice, Node) to the kube-proxy model.

Field semantics follow upstream: pkg/proxy/serviceport.go (newBaseServiceInfo: source ranges trimmed and
canonicalised, only VIP-mode load-balancer ingress IPs), pkg/proxy/endpointslicecache.go (ready/serving default
true, terminating default false, first address only), staging/src/k8s.io/api/core/v1/types.go (defaults).
Other kinds are ignored; bad values are an InputError naming the document and the field.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Iterator, Mapping
from typing import Any

from checker.errors import InputError
from spec.proxy.model import (
    DEFAULT_STICKY_SECONDS,
    Cluster,
    Endpoint,
    EndpointPort,
    EndpointSlice,
    Node,
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
    services: list[Service] = []
    slices: list[EndpointSlice] = []
    nodes: list[Node] = []
    for path in paths:
        cluster = parse_cluster(read_text(path), path)
        services += cluster.services
        slices += cluster.slices
        nodes += cluster.nodes
    return Cluster(tuple(services), tuple(slices), tuple(nodes))
