"""spec/endpointslice.py: the slices the EndpointSlice controller writes, against upstream's rules.

Cases follow staging/src/k8s.io/endpointslice/reconciler_test.go and utils_test.go (TestPodToEndpoint's
ready/serving/terminating table, TestReconcile1Pod's address types, TestReconcileManyPods' 250 pods in 3 slices,
TestReconcileEndpointSlicesSomePreexisting's named-port groups, the placeholder slice of TestReconcileEmpty).
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spec.endpointslice import (
    CONTROLLER_NAME,
    LABEL_HEADLESS,
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    ContainerPort,
    Node,
    Pod,
    Service,
    ServicePort,
    diagnose,
    endpoint_slices,
    generate_name,
    ip_family,
    labels_of,
    reconcile,
)
from spec.proxy.endpoints import endpoints_map
from spec.proxy.model import Cluster
from spec.proxy.model import Service as ProxyService
from spec.proxy.model import ServicePort as ProxyServicePort

WEB = labels_of({"app": "web"})


def svc(**kw: object) -> Service:
    base: dict[str, object] = {"namespace": "default", "name": "web", "selector": WEB, "cluster_ip": "10.96.0.10",
                               "ip_families": ("IPv4",), "ports": (ServicePort("http", 80, "TCP", 8080),)}
    base.update(kw)
    return Service(**base)  # type: ignore[arg-type]


def pod(name: str, ip: str | tuple[str, ...] = "10.244.0.1", **kw: object) -> Pod:
    base: dict[str, object] = {"namespace": "default", "name": name, "labels": WEB, "node_name": "n1",
                               "ready": True, "pod_ips": (ip,) if isinstance(ip, str) else ip,
                               "container_ports": (ContainerPort("http", 8080),)}
    base.update(kw)
    return Pod(**base)  # type: ignore[arg-type]


def test_one_ready_pod() -> None:
    (s,) = reconcile(svc(uid="u1"), [pod("a", uid="p1")], [Node("n1", "z1")])
    assert s.address_type == "IPv4" and s.generate_name == "web-" and s.name.startswith("web-")
    assert len(s.name) == len("web-") + 5
    assert dict(s.labels) == {LABEL_SERVICE_NAME: "web", LABEL_MANAGED_BY: CONTROLLER_NAME}
    (e,) = s.endpoints
    assert (e.addresses, e.ready, e.serving, e.terminating, e.node_name, e.zone) == (
        ("10.244.0.1",), True, True, False, "n1", "z1")
    assert e.target_ref is not None and (e.target_ref.name, e.target_ref.uid) == ("a", "p1")
    assert [(p.name, p.port, p.protocol) for p in s.ports] == [("http", 8080, "TCP")]
    m = s.manifest()
    assert m["metadata"]["ownerReferences"] == [  # type: ignore[index]
        {"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "u1", "controller": True,
         "blockOwnerDeletion": True}]


@pytest.mark.parametrize(
    ("ready", "deleting", "pnra", "want"),
    [  # TestPodToEndpoint: (ready, serving, terminating)
        (True, False, False, (True, True, False)),
        (False, False, False, (False, False, False)),
        (True, True, False, (False, True, True)),
        (False, True, False, (False, False, True)),
        (False, False, True, (True, False, False)),
        (True, True, True, (True, True, True)),
    ],
)
def test_conditions(ready: bool, deleting: bool, pnra: bool, want: tuple[bool, bool, bool]) -> None:
    (s,) = reconcile(svc(publish_not_ready_addresses=pnra), [pod("a", ready=ready, deleting=deleting)])
    (e,) = s.endpoints
    assert (e.ready, e.serving, e.terminating) == want


def test_terminal_and_ip_less_pods_are_not_endpoints() -> None:
    pods = [pod("done", phase="Succeeded"), pod("failed", phase="Failed"), pod("new", ip=(), phase="Pending")]
    (s,) = reconcile(svc(), pods)
    assert s.endpoints == () and s.ports == ()  # the placeholder


def test_many_pods_split_at_100() -> None:
    """TestReconcileManyPods: 250 pods make 3 slices, none over 100."""
    pods = [pod(f"p{i:03d}", f"10.1.{i // 200}.{i % 200 + 1}") for i in range(250)]
    slices = reconcile(svc(), pods)
    assert sorted(len(s.endpoints) for s in slices) == [50, 100, 100]
    assert len({s.name for s in slices}) == 3
    assert len(reconcile(svc(), pods, max_endpoints_per_slice=250)) == 1


def test_named_port_groups() -> None:
    """Pods whose named targetPort resolves differently go into different slices; unresolved ports are left out."""
    service = svc(ports=(ServicePort("http", 80, "TCP", "web"),))
    pods = [pod("a", "10.0.0.1", container_ports=(ContainerPort("web", 8080),)),
            pod("b", "10.0.0.2", container_ports=(ContainerPort("web", 9090),)),
            pod("c", "10.0.0.3", container_ports=(ContainerPort("web", 8080, "UDP"),)),
            pod("d", "10.0.0.4", container_ports=(), sidecar_ports=(ContainerPort("web", 8080),))]
    by_ports = {tuple(p.port for p in s.ports): sorted(e.addresses[0] for e in s.endpoints)
                for s in reconcile(service, pods)}
    assert by_ports == {(8080,): ["10.0.0.1", "10.0.0.4"], (9090,): ["10.0.0.2"], (): ["10.0.0.3"]}
    lines = diagnose([service], pods)
    assert any("names no TCP container port of pods c" in line for line in lines)


def test_dual_stack_and_families() -> None:
    pods = [pod("a", ("10.0.0.1", "fd00::1")), pod("b", ("10.0.0.2",))]
    slices = reconcile(svc(ip_families=("IPv4", "IPv6")), pods)
    got = {s.address_type: sorted(a for e in s.endpoints for a in e.addresses) for s in slices}
    assert got == {"IPv4": ["10.0.0.1", "10.0.0.2"], "IPv6": ["fd00::1"]}
    # getAddressTypesForService without ipFamilies: the ClusterIP's family, or both for a headless Service.
    assert {s.address_type for s in reconcile(svc(ip_families=(), cluster_ip="fd00::a"), pods)} == {"IPv6"}
    assert [s.address_type for s in reconcile(svc(ip_families=(), cluster_ip="None"), pods)] == ["IPv4", "IPv6"]


def test_headless_without_ports() -> None:
    (s,) = reconcile(svc(cluster_ip="None", ports=()), [pod("a")])
    assert dict(s.labels)[LABEL_HEADLESS] == "" and s.ports == () and len(s.endpoints) == 1
    assert s.manifest()["ports"] is None


def test_hostname_when_subdomain_is_the_service() -> None:
    (s,) = reconcile(svc(), [pod("a", hostname="a-0", subdomain="web"), pod("b", "10.0.0.2", hostname="b-0")])
    assert [e.hostname for e in s.endpoints] == ["a-0", None]


def test_skipped_services() -> None:
    assert reconcile(svc(selector=None), [pod("a")]) == []
    assert reconcile(svc(type="ExternalName"), [pod("a")]) == []
    assert reconcile(svc(deleting=True), [pod("a")]) == []
    assert reconcile(svc(namespace="other"), [pod("a")])[0].endpoints == ()  # selects only its namespace


def test_node_not_found() -> None:
    """A pod whose Node is not known is skipped, unless publishNotReadyAddresses."""
    nodes = [Node("n1")]
    pods = [pod("a"), pod("b", "10.0.0.2", node_name="gone")]
    assert [e.target_ref.name for e in reconcile(svc(), pods, nodes)[0].endpoints] == ["a"]  # type: ignore[union-attr]
    assert len(reconcile(svc(publish_not_ready_addresses=True), pods, nodes)[0].endpoints) == 2
    assert len(reconcile(svc(), pods, None)[0].endpoints) == 2  # no Nodes given: all taken to exist
    assert any("Node gone is not among the Nodes given" in line for line in diagnose([svc()], pods, nodes))


def test_service_labels_copied_except_reserved() -> None:
    service = svc(labels=labels_of({"team": "a", LABEL_SERVICE_NAME: "spoof", LABEL_MANAGED_BY: "me"}))
    (s,) = reconcile(service, [pod("a")])
    assert dict(s.labels) == {"team": "a", LABEL_SERVICE_NAME: "web", LABEL_MANAGED_BY: CONTROLLER_NAME}


def test_generate_name() -> None:
    assert generate_name("web") == "web-"
    assert generate_name("x" * 253) == "x" * 253  # the dashed prefix would not be a valid name


def test_diagnose_no_pod_and_no_selector() -> None:
    lines = diagnose([svc(name="db", selector=labels_of({"app": "db"})), svc(name="ext", selector=None)], [pod("a")])
    assert any("selector app=db matches no pod" in line for line in lines)
    assert any("ext: no selector" in line for line in lines)


def test_proxy_reads_the_slices() -> None:
    """The slices, converted with to_proxy(), are what spec/proxy's EndpointSliceCache reads."""
    pods = [pod("a", "10.0.0.1"), pod("b", "10.0.0.2", ready=False), pod("c", "10.0.0.3", node_name="n2")]
    slices = endpoint_slices([svc()], pods)
    cluster = Cluster(services=(ProxyService("default", "web", cluster_ip="10.96.0.10",
                                             ports=(ProxyServicePort("http", 80, "TCP"),)),),
                      slices=tuple(s.to_proxy() for s in slices))
    (eps,) = endpoints_map(cluster, "n1").values()
    assert [(str(e), e.ready, e.is_local) for e in eps] == [
        ("10.0.0.1:8080", True, True), ("10.0.0.2:8080", False, True), ("10.0.0.3:8080", True, False)]


_ips = st.builds(lambda a, b: f"10.{a}.{b}.1", st.integers(0, 3), st.integers(0, 255))
_ip6 = st.builds(lambda a: f"fd00::{a:x}", st.integers(1, 5000))


@st.composite
def _pods(draw: st.DrawFn) -> list[Pod]:
    n = draw(st.integers(0, 260))
    v4 = draw(st.lists(_ips, min_size=n, max_size=n, unique=True))
    v6 = draw(st.lists(_ip6, min_size=n, max_size=n, unique=True))
    out = []
    for i in range(n):
        ips = draw(st.sampled_from([(v4[i],), (v4[i], v6[i]), (v6[i],), ()]))
        out.append(Pod(
            namespace=draw(st.sampled_from(["default", "default", "other"])),
            name=f"p{i}",
            labels=labels_of({"app": draw(st.sampled_from(["web", "web", "db"]))}),
            node_name=draw(st.sampled_from(["n1", "n2", "gone"])),
            phase=draw(st.sampled_from(["Running", "Running", "Pending", "Succeeded", "Failed"])),
            ready=draw(st.booleans()),
            deleting=draw(st.booleans()),
            pod_ips=ips,
            container_ports=draw(st.sampled_from([(ContainerPort("http", 8080),), (ContainerPort("http", 81),), ()])),
        ))
    return out


@settings(max_examples=40, deadline=None)
@given(pods=_pods(), families=st.sampled_from([("IPv4",), ("IPv6",), ("IPv4", "IPv6")]), pnra=st.booleans(),
       max_per_slice=st.sampled_from([1, 7, 100]), named=st.booleans())
def test_every_eligible_pod_exactly_once(pods: list[Pod], families: tuple[str, ...], pnra: bool,
                                         max_per_slice: int, named: bool) -> None:
    """Per address family, every selected, non-terminal pod with an address of that family (and a known Node,
    unless publishNotReadyAddresses) appears exactly once across the Service's slices; in particular every ready
    one does. No slice exceeds the maximum; every address is of the slice's family; ready implies serving and
    not terminating unless publishNotReadyAddresses."""
    service = svc(ip_families=families, publish_not_ready_addresses=pnra,
                  ports=(ServicePort("http", 80, "TCP", "http" if named else 8080),))
    nodes = [Node("n1"), Node("n2")]
    slices = endpoint_slices([service], pods, nodes, max_endpoints_per_slice=max_per_slice)
    assert [s.address_type for s in slices if not s.endpoints] == [
        f for f in families if not any(s.address_type == f and s.endpoints for s in slices)]
    for family in families:
        seen = [e.target_ref.name for s in slices if s.address_type == family  # type: ignore[union-attr]
                for e in s.endpoints]
        want = sorted(
            p.name for p in pods
            if p.namespace == "default" and dict(p.labels)["app"] == "web" and p.phase not in ("Succeeded", "Failed")
            and any(ip_family(ip) == family for ip in p.pod_ips) and (pnra or p.node_name != "gone")
        )
        assert sorted(seen) == want
        addresses = [a for s in slices if s.address_type == family for e in s.endpoints for a in e.addresses]
        want_ips = [ip for p in pods if p.name in want for ip in p.pod_ips if ip_family(ip) == family]
        assert sorted(addresses) == sorted(want_ips) and len(set(addresses)) == len(addresses)
    for s in slices:
        assert len(s.endpoints) <= max_per_slice
        assert dict(s.labels)[LABEL_SERVICE_NAME] == "web"
        for e in s.endpoints:
            assert e.addresses and all(ip_family(a) == s.address_type for a in e.addresses)
            assert all(str(ipaddress.ip_address(a)) == a for a in e.addresses)
            if not pnra:
                assert e.ready == (e.serving and not e.terminating)
        if named:  # a named port resolves to the pod's own number, or is left out
            assert len(s.ports) <= 1 and all(p.port in (8080, 81) for p in s.ports)
        else:
            assert [p.port for p in s.ports] == ([8080] if s.endpoints else [])
    assert len({s.name for s in slices}) == len(slices)
