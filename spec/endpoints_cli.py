"""`kubespec endpoints -f MANIFESTS.yaml [--json]`: the EndpointSlices the controller writes (spec/endpointslice.py).

Reads Services, Pods and Nodes as `kubectl get ... -o yaml` exports them (a List, or one object per document);
every document is strictly validated (spec/strict.py) and read with spec/yamldocs.py. Other kinds are ignored.
Prints a v1 List of discovery.k8s.io/v1 EndpointSlices as `kubectl get endpointslices -o yaml|json` shows it
(keys sorted; JSON indented by 4, as kubectl prints). What the user should know (a selector matching no pod, a
named targetPort no pod has, a pod left out) goes to stderr as `warning:` lines, never silently. Bad input: one
`error:` line, exit 2.

API server defaulting applied to a Service read from a manifest (pkg/apis/core/v1/defaults.go and the Service
REST storage): protocol TCP, targetPort = port, type ClusterIP; spec.ipFamilies, when absent, are the families of
spec.clusterIPs/clusterIP, else the cluster's primary family (`--primary-ip-family`, IPv4 by default: a
single-stack cluster, which is what the API server assigns a Service it creates). An empty selector (`{}`) is no
selector: the API server's protobuf storage does not keep an empty map. A Pod's status.podIPs, when absent, is
[status.podIP] (the API server keeps them in step).
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
from collections import Counter
from collections.abc import Mapping
from typing import Any

import attrs
import click
import yaml

from checker.cli import reports_input_errors
from checker.errors import InputError
from checker.files import read_text
from spec.endpointslice import (
    IPV4,
    IPV6,
    ContainerPort,
    EndpointSlice,
    Node,
    Pod,
    Service,
    ServicePort,
    diagnose,
    endpoint_slices,
    ip_family,
    labels_of,
)
from spec.strict import validate_object
from spec.yamldocs import yaml_documents

PROTOCOLS = ("TCP", "UDP", "SCTP")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")


@attrs.frozen
class Inputs:
    services: tuple[Service, ...] = ()
    pods: tuple[Pod, ...] = ()
    nodes: tuple[Node, ...] = ()


class _Where:
    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, path: str, problem: str) -> InputError:
        return InputError(f"{self.where}: {path}: {problem}")


def _map(w: _Where, obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise w.fail(path, "expected a mapping")
    return value


def _list(w: _Where, obj: Mapping[str, Any], key: str, path: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise w.fail(path, "expected a list")
    return value


def _str(w: _Where, obj: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise w.fail(path, f"{str(value)[:40]!r} is not a string")
    return value


def _string_map(w: _Where, obj: Mapping[str, Any], key: str, path: str) -> dict[str, str]:
    raw = _map(w, obj, key, path)
    out = {}
    for k, v in raw.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise w.fail(f"{path}.{k}", "labels and selectors map strings to strings")
        out[k] = v
    return out


def _port(w: _Where, value: Any, path: str) -> int:
    if value is None:
        raise w.fail(path, "required")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        raise w.fail(path, f"{str(value)[:40]!r} is not a port number (1-65535)")
    return value


def _port_name(w: _Where, value: str, path: str) -> str:
    """validation.IsValidPortName (an IANA_SVC_NAME): what the API server accepts as a named port."""
    problem = None
    if len(value) > 15:
        problem = "must be no more than 15 characters"
    elif not re.fullmatch(r"[-a-z0-9]+", value):
        problem = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    elif not re.search(r"[a-z]", value):
        problem = "must contain at least one letter (a-z)"
    elif "--" in value:
        problem = "must not contain consecutive hyphens (--)"
    elif value.startswith("-") or value.endswith("-"):
        problem = "must not begin or end with a hyphen (-)"
    if problem:
        raise w.fail(path, f"{value[:40]!r} is not a valid port name: {problem} (the API server refuses it)")
    return value


def _protocol(w: _Where, value: Any, path: str) -> str:
    protocol = value or "TCP"
    if protocol not in PROTOCOLS:
        raise w.fail(path, f"{str(protocol)[:40]!r} is not one of {', '.join(PROTOCOLS)}")
    return str(protocol)


def _ip(w: _Where, value: Any, path: str) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise w.fail(path, f"{str(value)[:60]!r} is not an IP address") from None


def parse_service(w: _Where, obj: Mapping[str, Any], namespace: str, name: str, primary_family: str) -> Service:
    meta = _map(w, obj, "metadata", "metadata")
    spec = _map(w, obj, "spec", "spec")
    svc_type = spec.get("type") or "ClusterIP"
    if svc_type not in SERVICE_TYPES:
        raise w.fail("spec.type", f"{str(svc_type)[:40]!r} is not one of {', '.join(SERVICE_TYPES)}")
    cluster_ip = _str(w, spec, "clusterIP", "spec.clusterIP") or None
    if cluster_ip not in (None, "None"):
        cluster_ip = _ip(w, cluster_ip, "spec.clusterIP")
    raw_ips = _list(w, spec, "clusterIPs", "spec.clusterIPs")
    cluster_ips = [_ip(w, ip, f"spec.clusterIPs[{i}]") for i, ip in enumerate(raw_ips) if ip not in (None, "", "None")]
    families = []
    for i, fam in enumerate(_list(w, spec, "ipFamilies", "spec.ipFamilies")):
        if fam not in (IPV4, IPV6):
            raise w.fail(f"spec.ipFamilies[{i}]", f"{str(fam)[:40]!r} is not IPv4 or IPv6")
        families.append(fam)
    if not families:
        ips = list(cluster_ips)
        if not ips and cluster_ip not in (None, "None"):
            ips = [str(cluster_ip)]
        families = list(dict.fromkeys(ip_family(ip) for ip in ips)) or [primary_family]
    ports = []
    for i, raw in enumerate(_list(w, spec, "ports", "spec.ports")):
        path = f"spec.ports[{i}]"
        if not isinstance(raw, Mapping):
            raise w.fail(path, "expected a mapping")
        number = _port(w, raw.get("port"), f"{path}.port")
        target = raw.get("targetPort")
        if target is not None and (isinstance(target, bool) or not isinstance(target, (int, str))):
            raise w.fail(f"{path}.targetPort", f"{str(target)[:40]!r} is not a port number or name")
        if isinstance(target, int):
            target = _port(w, target, f"{path}.targetPort")
        if target == "":
            target = None
        if isinstance(target, str):
            target = _port_name(w, target, f"{path}.targetPort")
        app = raw.get("appProtocol")
        ports.append(ServicePort(
            name=_str(w, raw, "name", f"{path}.name"),
            port=number,
            protocol=_protocol(w, raw.get("protocol"), f"{path}.protocol"),
            target_port=number if target is None else target,
            app_protocol=None if app is None else str(app),
        ))
    selector = _string_map(w, spec, "selector", "spec.selector")
    pnra = spec.get("publishNotReadyAddresses")
    return Service(
        namespace=namespace,
        name=name,
        selector=labels_of(selector) if selector else None,
        ports=tuple(ports),
        type=str(svc_type),
        cluster_ip=cluster_ip,
        ip_families=tuple(families),
        publish_not_ready_addresses=pnra is True,
        labels=labels_of(_string_map(w, meta, "labels", "metadata.labels")),
        uid=_str(w, meta, "uid", "metadata.uid") or None,
        deleting=meta.get("deletionTimestamp") is not None,
    )


def _container_ports(w: _Where, containers: list[Any], path: str, sidecars: bool) -> list[ContainerPort]:
    out = []
    for i, c in enumerate(containers):
        cpath = f"{path}[{i}]"
        if not isinstance(c, Mapping):
            raise w.fail(cpath, "expected a mapping")
        if sidecars and c.get("restartPolicy") != "Always":
            continue
        for j, raw in enumerate(_list(w, c, "ports", f"{cpath}.ports")):
            ppath = f"{cpath}.ports[{j}]"
            if not isinstance(raw, Mapping):
                raise w.fail(ppath, "expected a mapping")
            name = _str(w, raw, "name", f"{ppath}.name")
            out.append(ContainerPort(
                name=_port_name(w, name, f"{ppath}.name") if name else None,
                container_port=_port(w, raw.get("containerPort"), f"{ppath}.containerPort"),
                protocol=_protocol(w, raw.get("protocol"), f"{ppath}.protocol"),
            ))
    return out


def parse_pod(w: _Where, obj: Mapping[str, Any], namespace: str, name: str) -> Pod:
    meta = _map(w, obj, "metadata", "metadata")
    spec = _map(w, obj, "spec", "spec")
    status = _map(w, obj, "status", "status")
    ips = []
    for i, raw in enumerate(_list(w, status, "podIPs", "status.podIPs")):
        if not isinstance(raw, Mapping) or not raw.get("ip"):
            raise w.fail(f"status.podIPs[{i}]", "expected {ip: ADDRESS}")
        ips.append(_ip(w, raw["ip"], f"status.podIPs[{i}].ip"))
    pod_ip = status.get("podIP")
    if not ips and pod_ip:
        ips = [_ip(w, pod_ip, "status.podIP")]
    elif pod_ip and _ip(w, pod_ip, "status.podIP") != ips[0]:
        raise w.fail("status.podIP", f"{pod_ip!r} is not status.podIPs[0] ({ips[0]}): the API server keeps them equal")
    ready = False
    for i, cond in enumerate(_list(w, status, "conditions", "status.conditions")):
        if not isinstance(cond, Mapping):
            raise w.fail(f"status.conditions[{i}]", "expected a mapping")
        if cond.get("type") == "Ready":
            ready = cond.get("status") == "True"
    return Pod(
        namespace=namespace,
        name=name,
        labels=labels_of(_string_map(w, meta, "labels", "metadata.labels")),
        node_name=_str(w, spec, "nodeName", "spec.nodeName"),
        phase=_str(w, status, "phase", "status.phase", "Pending") or "Pending",
        ready=ready,
        deleting=meta.get("deletionTimestamp") is not None,
        pod_ips=tuple(ips),
        container_ports=tuple(_container_ports(w, _list(w, spec, "containers", "spec.containers"),
                                               "spec.containers", False)),
        sidecar_ports=tuple(_container_ports(w, _list(w, spec, "initContainers", "spec.initContainers"),
                                             "spec.initContainers", True)),
        uid=_str(w, meta, "uid", "metadata.uid") or None,
        hostname=_str(w, spec, "hostname", "spec.hostname"),
        subdomain=_str(w, spec, "subdomain", "spec.subdomain"),
    )


def parse_node(w: _Where, obj: Mapping[str, Any], name: str) -> Node:
    labels = _string_map(w, _map(w, obj, "metadata", "metadata"), "labels", "metadata.labels")
    return Node(name, labels.get("topology.kubernetes.io/zone") or None)


def parse_inputs(text: str, source: str, primary_family: str = IPV4) -> Inputs:
    """Services, Pods and Nodes of a multi-document YAML text (Lists flattened); other kinds are ignored."""
    services: list[Service] = []
    pods: list[Pod] = []
    nodes: list[Node] = []
    objects: list[tuple[str, Mapping[str, Any]]] = []
    for index, doc in enumerate(yaml_documents(text, source), start=1):
        if doc is None:
            continue
        where = f"{source}: document {index}"
        if not isinstance(doc, Mapping):
            raise InputError(f"{where}: expected a Kubernetes object (a mapping), got {type(doc).__name__}")
        validate_object(doc, _described(where, doc))
        if doc.get("kind") == "List":
            for i, item in enumerate(doc.get("items") or []):
                at = f"{where}: items[{i}]"
                if not isinstance(item, Mapping):
                    raise InputError(f"{at}: expected a Kubernetes object (a mapping)")
                validate_object(item, _described(at, item))
                objects.append((at, item))
        else:
            objects.append((where, doc))
    seen: dict[tuple[str, str, str], str] = {}
    for where, obj in objects:
        kind = obj.get("kind")
        if kind not in ("Service", "Pod", "Node"):
            continue
        meta = obj.get("metadata") or {}
        name = meta.get("name") if isinstance(meta, Mapping) else None
        if not isinstance(name, str) or not name:
            raise InputError(f"{where} ({kind}): metadata.name: required")
        namespace = "" if kind == "Node" else str(meta.get("namespace") or "default")
        w = _Where(_described(where, obj))
        key = (str(kind), namespace, name)
        if key in seen:
            raise InputError(f"{w.where}: {kind} {namespace + '/' if namespace else ''}{name} is also {seen[key]}")
        seen[key] = where
        if kind == "Service":
            services.append(parse_service(w, obj, namespace, name, primary_family))
        elif kind == "Pod":
            pods.append(parse_pod(w, obj, namespace, name))
        else:
            nodes.append(parse_node(w, obj, name))
    return Inputs(tuple(services), tuple(pods), tuple(nodes))


def _described(where: str, doc: Mapping[str, Any]) -> str:
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return f"{where} ({doc.get('kind')} {name})" if isinstance(name, str) and name else f"{where} ({doc.get('kind')})"


class _KubectlDumper(yaml.SafeDumper):  # type: ignore[misc]
    """Quotes as kubectl's go-yaml does: double quotes for an empty string or one that would read as another type."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    implicit = dumper.resolve(yaml.ScalarNode, value, (True, False))
    style = '"' if value == "" or implicit != "tag:yaml.org,2002:str" else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_KubectlDumper.add_representer(str, _represent_str)


def to_yaml(doc: object) -> str:
    text: str = yaml.dump(doc, Dumper=_KubectlDumper, sort_keys=True, default_flow_style=False, allow_unicode=True)
    return text


def as_list(slices: list[EndpointSlice]) -> dict[str, object]:
    """A v1 List, as `kubectl get endpointslices -o yaml|json` prints one."""
    return {"apiVersion": "v1", "items": [s.manifest() for s in slices], "kind": "List",
            "metadata": {"resourceVersion": ""}}


@click.command("endpoints")
@click.option("-f", "--filename", "files", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="Manifests: Services, Pods, Nodes (repeatable; '-' reads stdin).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (kubectl get -o json) instead of YAML.")
@click.option("--primary-ip-family", type=click.Choice([IPV4, IPV6]), default=IPV4, show_default=True,
              help="The family the API server gives a Service without spec.ipFamilies or clusterIP.")
@reports_input_errors
def endpoints(files: tuple[str, ...], as_json: bool, primary_ip_family: str) -> None:
    """The EndpointSlices the EndpointSlice controller writes for the Services, Pods and Nodes given.

    Without any Node in the manifests, every pod's Node is taken to exist (upstream skips a pod whose Node is
    not found). Warnings (stderr) say what a selector or port does not match. Exit 0; 2 on bad input.
    """
    services: list[Service] = []
    pods: list[Pod] = []
    nodes: list[Node] = []
    for f in files:
        text = sys.stdin.read() if f == "-" else read_text(f, "manifest")
        got = parse_inputs(text, "<stdin>" if f == "-" else f, primary_ip_family)
        services += got.services
        pods += got.pods
        nodes += got.nodes
    for kind, keys in (("Service", [s.key for s in services]), ("Pod", [p.key for p in pods]),
                       ("Node", [n.name for n in nodes])):
        counts = Counter(keys)
        dup = next((k for k in keys if counts[k] > 1), None)
        if dup is not None:
            raise InputError(f"{kind} {dup} is defined twice (in {', '.join(files)})")
    given_nodes = nodes or None
    slices = endpoint_slices(services, pods, given_nodes)
    warnings = diagnose(services, pods, given_nodes)
    if not services:
        warnings.insert(0, "no Service in the manifests: no EndpointSlices")
    if given_nodes is None and pods:
        warnings.append("no Node in the manifests: every pod's Node is taken to exist")
    for line in warnings:
        click.echo(f"warning: {line}", err=True)
    doc = as_list(slices)
    if as_json:
        click.echo(json.dumps(doc, indent=4, sort_keys=True))
    else:
        click.echo(to_yaml(doc), nl=False)
