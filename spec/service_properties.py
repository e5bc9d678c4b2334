"""The Services promises (issue 13), registered into ``spec.properties``'s table at its end (this module imports
nothing of it). Each is trivially true in a scenario without Services, and cheap there (one attribute test).

- UniqueClusterIPs (invariant): docs/concepts/services-networking/cluster-ip-allocation.md, the control plane
  assigns each Service a unique ClusterIP; pkg/registry/core/service/ipallocator (Allocate: ErrAllocated).
- UniqueNodePorts (invariant): portallocator's ErrAllocated; a NodePort belongs to one Service.
- UniquePodIPs (invariant): the Kubernetes network model, "every Pod in a cluster gets its own unique
  cluster-wide IP address"; among pods whose sandbox runs.
- PodIPWithinNodeCIDR (invariant): pkg/controller/nodeipam gives a node its podCIDR, and CNI host-local takes
  the pod's address from it.
- ServiceRoutesEventuallyMatchReadyEndpoints (<>[]): docs/reference/networking/virtual-ips.md, kube-proxy
  watches Services and EndpointSlices and sends a Service's traffic to its ready endpoints; once they stop
  changing, every node's rules send each ClusterIP port to exactly them (REJECT when none).
- NoTrafficToAnotherPodsIP (invariant, a finding): a packet to a Service is never DNATed to an address that now
  belongs to a pod the Service does not select (broken upstream: docs/spec.md, "Findings").
- NoDuplicateEndpointSlices (invariant): the EndpointSlice controller does not write a second slice for a
  Service and port list (kubernetes#92928, fixed by #99345's use of the EndpointSliceTracker).
- DNSEventuallyResolvesToClusterIP (<>[]): docs/concepts/services-networking/dns-pod-service.md,
  my-svc.my-namespace.svc.cluster-domain.example resolves to the ClusterIP (headless: the ready pods' addresses).

The liveness ones are ``eventually_always`` (<>[]q), which is ``~q ~> []q`` (Anvil's ESR shape): the scenario's
commands and faults are finitely many, so the cluster's Services and pods eventually stop changing.
"""

from __future__ import annotations

import functools

import immutables

from spec import dns, kubeproxy, nodeipam
from spec.services import ready_endpoints, selects
from spec.state import ClusterState, EndpointSlice, Key, Kubelet, Object, Pod, Service, ServicePort


def unique_cluster_ips(s: ClusterState) -> bool:
    if s.net.eps is None:
        return True
    seen: set[str] = set()
    for o in s.etcd.objects.values():
        if isinstance(o, Service) and o.cluster_ip not in ("", "None"):
            if o.cluster_ip in seen:
                return False
            seen.add(o.cluster_ip)
    return True


def unique_node_ports(s: ClusterState) -> bool:
    if s.net.eps is None:
        return True
    seen: set[int] = set()
    for o in s.etcd.objects.values():
        if isinstance(o, Service):
            for n in o.all_node_ports:
                if n in seen:
                    return False
                seen.add(n)
    return True


def _sandbox_running(kubelets: tuple[Kubelet, ...], pod: Pod) -> bool:
    for k in kubelets:
        if k.node == pod.node_name:
            return any(c.managed and c.uid == pod.meta.uid for c in k.runtime)
    return False


def unique_pod_ips(s: ClusterState) -> bool:
    """No two pods whose sandboxes exist (not terminated) report the same status.podIP."""
    if s.net.eps is None:
        return True
    seen: set[str] = set()
    for o in s.etcd.objects.values():
        if isinstance(o, Pod) and o.status.pod_ip and _sandbox_running(s.kubelets, o):
            if o.status.pod_ip in seen:
                return False
            seen.add(o.status.pod_ip)
    return True


def pod_ip_within_node_cidr(s: ClusterState) -> bool:
    if s.net.eps is None:
        return True
    cidrs = dict(s.net.pod_cidrs)
    return all(not o.status.pod_ip or (o.node_name in cidrs and nodeipam.within(o.status.pod_ip, cidrs[o.node_name]))
               for o in s.etcd.objects.values() if isinstance(o, Pod))


def _nodes(s: ClusterState) -> tuple[str, ...]:
    return tuple(sorted(p.node for p in s.net.proxies))


def routes_match_ready_endpoints(s: ClusterState) -> bool:
    """Every node's rules send each ClusterIP port of every Service to exactly the ready endpoints' addresses and
    target ports (REJECT when there are none)."""
    if s.net.eps is None:
        return True
    return _routes_match(s.etcd.objects, tuple(p.rules for p in s.net.proxies), _nodes(s))


@functools.lru_cache(maxsize=1 << 14)
def _routes_match(objects: immutables.Map[Key, Object], rules: tuple[tuple[str, ...], ...],
                  nodes: tuple[str, ...]) -> bool:
    for node, r in zip(nodes, rules, strict=True):
        table = kubeproxy.routes(r, node, kubeproxy.node_ip(nodes, node))
        for svc in objects.values():
            if not isinstance(svc, Service) or svc.cluster_ip in ("", "None") or svc.selector is None:
                continue
            for port in svc.ports:
                if table.get((svc.cluster_ip, port.port, port.protocol)) != wanted_route(objects, svc, port, node):
                    return False
    return True


def wanted_route(objects: immutables.Map[Key, Object], svc: Service, port: ServicePort, node: str
                 ) -> frozenset[str]:
    """Where a pod on ``node`` must be sent by the Service's ``port``: its ready endpoints ("IP:PORT"), only those
    on ``node`` under internalTrafficPolicy Local; "reject" when the Service has no ready endpoint, "drop" when it
    has some but none on ``node`` under Local (pkg/proxy/iptables/proxier.go syncProxyRules: "has no endpoints"
    -> REJECT, "has no local endpoints" -> DROP; pkg/proxy/topology.go CategorizeEndpoints)."""
    every = ready_endpoints(objects.values(), svc, port)
    if not every:
        return frozenset({"reject"})
    if svc.internal_traffic_policy != "Local":
        return every
    return ready_endpoints(objects.values(), svc, port, node) or frozenset({"drop"})


def no_traffic_to_another_pods_ip(s: ClusterState) -> bool:
    """No node's rules DNAT a packet for a Service to an address that a pod the Service does not select now holds
    (a pod in etcd reporting it, its sandbox running)."""
    if s.net.eps is None:
        return True
    return _no_foreign(s.etcd.objects, tuple(p.rules for p in s.net.proxies), _nodes(s), s.kubelets)


@functools.lru_cache(maxsize=1 << 14)
def _no_foreign(objects: immutables.Map[Key, Object], rules: tuple[tuple[str, ...], ...], nodes: tuple[str, ...],
                kubelets: tuple[Kubelet, ...]) -> bool:
    owners = {o.status.pod_ip: o for o in objects.values()
              if isinstance(o, Pod) and o.status.pod_ip and _sandbox_running(kubelets, o)}
    services = {svc.cluster_ip: svc for svc in objects.values()
                if isinstance(svc, Service) and svc.cluster_ip not in ("", "None")}
    for node, r in zip(nodes, rules, strict=True):
        for (ip, _, _), targets in kubeproxy.routes(r, node, kubeproxy.node_ip(nodes, node)).items():
            svc = services.get(ip)
            if svc is None:
                continue
            for t in targets:
                pod = owners.get(t.rsplit(":", 1)[0])
                if pod is not None and not selects(svc, pod):
                    return False
    return True


def dns_resolves(s: ClusterState) -> bool:
    """CoreDNS answers every Service's name with its ClusterIP (a headless one's with the ready endpoints of its
    slices in etcd)."""
    if s.net.dns is None:
        return True
    cache = s.net.dns.cache
    objects = s.etcd.objects
    for svc in objects.values():
        if isinstance(svc, Service):
            want = dns.records(objects, svc) if svc.headless else frozenset((svc.cluster_ip,))
            if dns.lookup(cache, dns.name_of(svc)) != want:
                return False
    return True


def no_duplicate_slices(s: ClusterState) -> bool:
    """No Service has two EndpointSlices managed by the controller for the same port list (the model's
    Services have far fewer than maxEndpointsPerSlice endpoints, so one slice per port list is what the
    reconciler writes): the duplicate slices of kubernetes#92928, which the EndpointSliceTracker's StaleSlices
    check exists to prevent (#99345: "avoid race conditions that would result in duplicate EndpointSlices")."""
    if s.net.eps is None:
        return True
    return _no_duplicates(s.etcd.objects)


@functools.lru_cache(maxsize=1 << 14)
def _no_duplicates(objects: immutables.Map[Key, Object]) -> bool:
    from spec.endpointslice import CONTROLLER_NAME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME

    seen: set[tuple[str, str, object]] = set()
    for o in objects.values():
        if isinstance(o, EndpointSlice) and o.meta.label(LABEL_MANAGED_BY) == CONTROLLER_NAME:
            k = (o.meta.namespace, o.meta.label(LABEL_SERVICE_NAME) or "", o.ports)
            if k in seen:
                return False
            seen.add(k)
    return True


# --- explanations (what a trace shows at the violating step) -------------------------------------------------


def _services(s: ClusterState) -> list[Service]:
    return sorted((o for o in s.etcd.objects.values() if isinstance(o, Service)), key=lambda o: o.meta.name)


def explain_cluster_ips(s: ClusterState) -> str:
    by_ip: dict[str, list[str]] = {}
    for svc in _services(s):
        if svc.cluster_ip not in ("", "None"):
            by_ip.setdefault(svc.cluster_ip, []).append(f"services/{svc.meta.namespace}/{svc.meta.name}")
    shared = [f"{ip} is the ClusterIP of {' and '.join(keys)}" for ip, keys in sorted(by_ip.items()) if len(keys) > 1]
    return "; ".join(shared) or "every Service has its own ClusterIP"


def explain_node_ports(s: ClusterState) -> str:
    by_port: dict[int, list[str]] = {}
    for svc in _services(s):
        for n in svc.all_node_ports:
            by_port.setdefault(n, []).append(f"services/{svc.meta.namespace}/{svc.meta.name}")
    shared = [f"NodePort {n} belongs to {' and '.join(keys)}" for n, keys in sorted(by_port.items()) if len(keys) > 1]
    return "; ".join(shared) or "every NodePort belongs to one Service"


def explain_pod_ips(s: ClusterState) -> str:
    by_ip: dict[str, list[str]] = {}
    for o in s.etcd.objects.values():
        if isinstance(o, Pod) and o.status.pod_ip and _sandbox_running(s.kubelets, o):
            by_ip.setdefault(o.status.pod_ip, []).append(f"pods/{o.meta.namespace}/{o.meta.name}")
    shared = [f"{ip} is the address of {' and '.join(sorted(keys))}" for ip, keys in sorted(by_ip.items())
              if len(keys) > 1]
    return "; ".join(shared) or "every running pod has its own address"


def explain_pod_cidr(s: ClusterState) -> str:
    cidrs = dict(s.net.pod_cidrs)
    bad = [f"pods/{o.meta.namespace}/{o.meta.name} has {o.status.pod_ip}, outside {o.node_name}'s podCIDR "
           f"{cidrs.get(o.node_name, '(none)')}" for o in s.etcd.objects.values()
           if isinstance(o, Pod) and o.status.pod_ip and (
               o.node_name not in cidrs or not nodeipam.within(o.status.pod_ip, cidrs[o.node_name]))]
    return "; ".join(bad) or "every pod address is within its node's podCIDR"


def explain_routes(s: ClusterState) -> str:
    nodes = _nodes(s)
    out = []
    for p in s.net.proxies:
        table = kubeproxy.routes(p.rules, p.node, kubeproxy.node_ip(nodes, p.node))
        for svc in _services(s):
            if svc.cluster_ip in ("", "None") or svc.selector is None:
                continue
            for port in svc.ports:
                want = wanted_route(s.etcd.objects, svc, port, p.node)
                got = table.get((svc.cluster_ip, port.port, port.protocol))
                if got != want:
                    out.append(f"{p.node}'s rules send {svc.cluster_ip}:{port.port} to "
                               f"{', '.join(sorted(got)) if got else 'nothing (no rule)'}; the ready endpoints are "
                               f"{', '.join(sorted(want))}")
    return "; ".join(out) or "every node's rules send each Service to its ready endpoints"


def explain_foreign(s: ClusterState) -> str:
    nodes = _nodes(s)
    owners = {o.status.pod_ip: o for o in s.etcd.objects.values()
              if isinstance(o, Pod) and o.status.pod_ip and _sandbox_running(s.kubelets, o)}
    services = {svc.cluster_ip: svc for svc in _services(s) if svc.cluster_ip not in ("", "None")}
    out = []
    for p in s.net.proxies:
        for (ip, port, _), targets in kubeproxy.routes(p.rules, p.node, kubeproxy.node_ip(nodes, p.node)).items():
            svc = services.get(ip)
            for t in sorted(targets):
                pod = owners.get(t.rsplit(":", 1)[0])
                if svc is not None and pod is not None and not selects(svc, pod):
                    out.append(f"{p.node}'s rules send {ip}:{port} (services/{svc.meta.namespace}/{svc.meta.name}) "
                               f"to {t}, now the address of pods/{pod.meta.namespace}/{pod.meta.name}, which the "
                               "Service does not select")
    return "; ".join(out) or "no Service's traffic goes to another pod's address"


def explain_duplicates(s: ClusterState) -> str:
    from spec.endpointslice import CONTROLLER_NAME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME

    groups: dict[tuple[str, str, object], list[str]] = {}
    for o in s.etcd.objects.values():
        if isinstance(o, EndpointSlice) and o.meta.label(LABEL_MANAGED_BY) == CONTROLLER_NAME:
            groups.setdefault((o.meta.namespace, o.meta.label(LABEL_SERVICE_NAME) or "", o.ports), []).append(
                o.meta.name)
    dup = [f"services/{ns}/{name} has slices {' and '.join(sorted(names))} for the same ports"
           for (ns, name, _), names in sorted(groups.items(), key=lambda kv: kv[0][:2]) if len(names) > 1]
    return "; ".join(dup) or "one slice per Service and port list"


def explain_dns(s: ClusterState) -> str:
    if s.net.dns is None:
        return "no CoreDNS"
    out = []
    for svc in _services(s):
        want = dns.records(s.etcd.objects, svc) if svc.headless else frozenset((svc.cluster_ip,))
        got = dns.lookup(s.net.dns.cache, dns.name_of(svc))
        if got != want:
            out.append(f"{dns.name_of(svc)} resolves to {', '.join(sorted(got)) or 'NXDOMAIN'}, not "
                       f"{', '.join(sorted(want))}")
    return "; ".join(out) or "every Service name resolves to its ClusterIP"
