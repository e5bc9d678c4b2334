"""Services in the model (issue 13): allocation by the API server, node IPAM and pod addresses, the EndpointSlice
controller, kube-proxy's rules and routes, CoreDNS, kubectl expose, the scenario fields and the properties."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from checker import always, check
from checker.errors import InputError
from spec import actions as A
from spec import dns, kubeproxy, nodeipam
from spec.apiserver import Session, store
from spec.cluster import initial_state, next_steps
from spec.endpointslice import CONTROLLER_NAME
from spec.kubectl import parse as parse_command
from spec.kubectl import run as run_command
from spec.model import ClusterModel
from spec.reduction import NONE
from spec.scenario import builtin, load, parse
from spec.service_properties import (
    dns_resolves,
    no_traffic_to_another_pods_ip,
    pod_ip_within_node_cidr,
    routes_match_ready_endpoints,
    unique_cluster_ips,
    unique_pod_ips,
)
from spec.services import cluster_ip_candidates, lowest_free_ip
from spec.state import EndpointSlice, Meta, Pod, Service, ServicePort

SERVICE = """
apiVersion: v1
kind: Service
metadata: {name: NAME, namespace: default}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""


def _svc(name: str, ip: str = "", type_: str = "ClusterIP", node_port: int = 0) -> Service:
    return Service(Meta(name), (("app", "web"),), (ServicePort("", 80, 8080, "TCP", node_port),), type_, ip)


def test_cluster_ip_is_the_lowest_free_address_of_the_dynamic_band() -> None:
    # 10.96.0.0/12: the static band is min(max(16, 2**20/16), 256) = 256 addresses, 10.96.0.1-10.96.1.0
    etcd = store([_svc("a"), _svc("b"), _svc("c", "10.96.0.10")])
    ips = {o.meta.name: o.cluster_ip for o in etcd.objects.values() if isinstance(o, Service)}
    assert ips == {"a": "10.96.1.1", "b": "10.96.1.2", "c": "10.96.0.10"}
    assert lowest_free_ip(frozenset({"10.96.1.1"})) == "10.96.1.2"


def test_a_requested_cluster_ip_that_is_taken_or_outside_the_range_is_refused() -> None:
    etcd = store([_svc("a", "10.96.0.10")])
    session = Session(etcd, attrs.evolve(initial_state(builtin("service-one-node").config).ghost))
    response = session.create(_svc("b", "10.96.0.10"))
    assert response.code == 422
    assert response.message == ('Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.10"}: '
                                "failed to allocate IP 10.96.0.10: provided IP is already allocated")
    response = session.create(_svc("c", "192.168.0.1"))
    assert "is not in the valid range. The range of valid IPs is 10.96.0.0/12" in response.message


def test_deleting_a_service_releases_its_address_and_headless_ones_get_none() -> None:
    etcd = store([_svc("a"), _svc("h", "None")])
    assert {o.cluster_ip for o in etcd.objects.values() if isinstance(o, Service)} == {"10.96.1.1", "None"}
    session = Session(etcd, initial_state(builtin("service-one-node").config).ghost)
    assert session.delete("services/default/a").ok
    assert session.create(_svc("b")).obj.cluster_ip == "10.96.1.1"  # type: ignore[union-attr]


def test_node_ports_come_from_the_dynamic_band_and_a_requested_one_is_honoured_once() -> None:
    etcd = store([_svc("a", type_="NodePort"), _svc("b", type_="NodePort", node_port=30001)])
    ports = {o.meta.name: o.ports[0].node_port for o in etcd.objects.values() if isinstance(o, Service)}
    assert ports == {"a": 30086, "b": 30001}  # static band: min(max(16, 2768/32), 128) = 86 ports
    session = Session(etcd, initial_state(builtin("service-one-node").config).ghost)
    response = session.create(_svc("c", type_="NodePort", node_port=30001))
    assert "provided port is already allocated" in response.message


def test_candidates_keep_named_addresses_apart() -> None:
    assert cluster_ip_candidates(frozenset(), frozenset()) == ("10.96.1.1",)
    assert cluster_ip_candidates(frozenset(), frozenset({"10.96.1.9"})) == ("10.96.1.1", "10.96.1.9")


def test_node_cidrs_and_host_local_addresses() -> None:
    assert nodeipam.allocate_node_cidrs(["b", "a"]) == (("a", "10.244.0.0/24"), ("b", "10.244.1.0/24"))
    assert nodeipam.host_local_ip("10.244.1.0/24", frozenset()) == "10.244.1.2"  # .1 is the gateway
    assert nodeipam.host_local_ip("10.244.1.0/24", frozenset({"10.244.1.2"})) == "10.244.1.3"
    assert nodeipam.host_local_ip("10.244.1.0/30", frozenset({"10.244.1.2"})) is None
    with pytest.raises(ValueError, match="no remaining CIDRs"):
        nodeipam.allocate_node_cidrs(["a", "b"], "10.244.0.0/24")


def _converged(name: str):  # type: ignore[no-untyped-def]
    """Follow the first step (user commands last) until nothing but the clock is left."""
    s = builtin(name)
    state = initial_state(s.config)
    for _ in range(300):
        steps = [x for x in next_steps(state, s.config) if not isinstance(x[0], A.Tick | A.Kubectl)]
        if not steps:
            break
        state = steps[0][1]
    return s, state


def test_the_cluster_converges_to_slices_rules_and_records_for_the_ready_pod() -> None:
    _, state = _converged("service-one-node")
    pods = [o for o in state.etcd.objects.values() if isinstance(o, Pod)]
    slices = [o for o in state.etcd.objects.values() if isinstance(o, EndpointSlice)]
    assert [p.status.pod_ip for p in pods] == ["10.244.0.2"]
    assert len(slices) == 1 and [(e.address, e.ready, e.node_name) for e in slices[0].endpoints] == [
        ("10.244.0.2", True, "node-a")]
    assert dict(slices[0].meta.labels)["endpointslice.kubernetes.io/managed-by"] == CONTROLLER_NAME
    proxy = state.net.proxies[0]
    assert dict(kubeproxy.node_routes(proxy, ("node-a",))) == {("10.96.1.1", 80, "TCP"): frozenset({
        "10.244.0.2:8080"})}
    assert dns.lookup(state.net.dns.cache, "web.default.svc.cluster.local") == frozenset({"10.96.1.1"})
    assert dns.lookup(state.net.dns.cache, "nope.default.svc.cluster.local") == frozenset()
    for prop in (routes_match_ready_endpoints, no_traffic_to_another_pods_ip, dns_resolves, unique_pod_ips,
                 pod_ip_within_node_cidr, unique_cluster_ips):
        assert prop(state), prop.__name__


def test_rules_lag_until_kube_proxy_syncs() -> None:
    s = builtin("service-one-node")
    state = initial_state(s.config)
    assert dict(kubeproxy.node_routes(state.net.proxies[0], ("node-a",))) == {
        ("10.96.1.1", 80, "TCP"): frozenset({"reject"})}  # no endpoints yet: REJECT
    assert not routes_match_ready_endpoints(state) or not any(
        isinstance(o, Pod) and o.status.ready for o in state.etcd.objects.values())


def test_service_one_node_is_exhaustive_and_every_property_holds() -> None:
    result = check(ClusterModel(builtin("service-one-node").config))
    assert result.status == "ok", result.verdict()
    statuses = {p.name: p.status for p in result.properties}
    assert "violated" not in statuses.values(), statuses
    for name in ("UniqueClusterIPs", "UniqueNodePorts", "UniquePodIPs", "PodIPWithinNodeCIDR",
                 "NoDuplicateEndpointSlices", "ServiceRoutesEventuallyMatchReadyEndpoints",
                 "DNSEventuallyResolvesToClusterIP", "EventualReplicaConvergence"):
        assert statuses[name] == "holds", (name, statuses[name])


def test_scenarios_without_services_have_an_empty_network_slot() -> None:
    state = initial_state(builtin("web-two-nodes").config)
    assert state.net.eps is None and not state.net.proxies and state.net.dns is None


def test_expose_parses_and_creates_the_service() -> None:
    c = parse_command("kubectl expose deployment/web --port=80 --target-port=8080 --type=NodePort", "x")
    assert (c.port, c.target_port, c.service, c.service_type) == (80, 8080, "web", "NodePort")
    with pytest.raises(InputError, match="--port: required"):
        parse_command("kubectl expose deployment/web", "x")
    with pytest.raises(InputError, match="--port: expected a port number"):
        parse_command("kubectl expose deployment/web --port=0", "x")
    state = initial_state(builtin("web-two-nodes").config)  # has Deployment web
    session = Session(state.etcd, state.ghost)
    assert run_command(c, session) == "service/web exposed"
    svc = session.get("services/default/web")
    assert isinstance(svc, Service) and svc.selector == (("app", "web"),) and svc.ports[0].node_port == 30086
    assert run_command(c, session) == 'Error from server (AlreadyExists): services "web" already exists'


def test_create_service_parses_and_creates_the_service() -> None:
    c = parse_command("kubectl create service clusterip admin --tcp=8080:9090", "x")
    state = initial_state(builtin("web-two-nodes").config)
    session = Session(state.etcd, state.ghost)
    assert run_command(c, session) == "service/admin created"
    svc = session.get("services/default/admin")
    assert isinstance(svc, Service) and svc.selector == (("app", "admin"),)
    assert svc.ports == (ServicePort("8080-9090", 8080, 9090),) and svc.cluster_ip == "10.96.1.1"
    headless = parse_command("kubectl create service clusterip h --tcp=80 --clusterip=None", "x")
    assert run_command(headless, session) == "service/h created"
    assert session.get("services/default/h").cluster_ip == "None"  # type: ignore[union-attr]
    with pytest.raises(InputError, match="--tcp: exactly one"):
        parse_command("kubectl create service clusterip a --tcp=80:81,82:83", "x")


VARIANTS = {
    "no-slice-tracker": ("service-one-node", "NoDuplicateEndpointSlices"),
    "ip-repair-race": ("service-create", "UniqueClusterIPs"),
    "proxy-missed-update": ("service-one-node", "ServiceRoutesEventuallyMatchReadyEndpoints"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_services_variant_is_refuted_and_today_passes(variant: str) -> None:
    from spec.scenario import with_overrides

    name, prop = VARIANTS[variant]
    config = attrs.evolve(builtin(name).config, properties=(prop,))
    assert check(ClusterModel(config)).status == "ok"
    bad = with_overrides(attrs.evolve(builtin(name), config=config), (variant,)).config
    result = check(ClusterModel(bad))
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == prop


def test_a_variant_without_its_mechanism_is_an_error() -> None:
    from spec.scenario import with_overrides

    with pytest.raises(InputError, match="ip-repair-race needs two Services"):
        with_overrides(builtin("service-one-node"), ("ip-repair-race",))
    with pytest.raises(InputError, match="no-slice-tracker needs a Service"):
        with_overrides(builtin("web-two-nodes"), ("no-slice-tracker",))


@pytest.mark.parametrize(("edit", "message"), [
    ("  - port: 80\n    targetPort: HTTP", "spec.ports[0].targetPort: Invalid value: \"HTTP\": must contain only "
     "alpha-numeric characters (a-z, 0-9), and hyphens (-), must contain at least one letter (a-z)"),
    ("  - port: 80\n    targetPort: '8080'", "spec.ports[0].targetPort: Invalid value: \"8080\": must contain at "
     "least one letter (a-z)"),
    ("  - port: 80\n    portz: 1", "portz"),
    ("  - port: 80\n  sessionAffinity: Sticky", 'spec.sessionAffinity: Unsupported value: "Sticky"'),
    ("  - port: 80\n  clusterIP: 10.96.0.500", "spec.clusterIP: Invalid value"),
])
def test_bad_service_documents_are_one_error_naming_the_field(edit: str, message: str) -> None:
    import re

    doc = open_builtin("service-one-node").replace("  - port: 80\n    targetPort: 8080", edit)
    with pytest.raises(InputError, match=re.escape(message)):
        parse(doc, "s.yaml")


def test_a_requested_address_taken_twice_in_a_scenario_is_an_error() -> None:
    doc = open_builtin("service-one-node")
    extra = SERVICE.replace("NAME", "web2") + "  clusterIP: 10.96.0.10\n"
    doc = doc.replace("    targetPort: 8080\n", "    targetPort: 8080\n  clusterIP: 10.96.0.10\n", 1)
    with pytest.raises(InputError, match="provided IP is already allocated"):
        parse(doc + "---" + extra, "s.yaml")


def open_builtin(name: str) -> str:
    from importlib import resources

    return resources.files("spec.scenarios").joinpath(name + ".yaml").read_text()


def test_service_web_starts_where_traffic_flows_with_the_deletion_still_to_come() -> None:
    """``spec.start: converged``: three pods Running and Ready with distinct addresses of their nodes' CIDRs, the
    slice lists them, every kube-proxy sends web's ClusterIP to exactly them, and ``kubectl delete pod`` is
    pending."""
    s = builtin("service-web")
    state = initial_state(s.config)
    pods = [o for o in state.etcd.objects.values() if isinstance(o, Pod)]
    assert len(pods) == 3 and all(p.status.ready and p.status.phase == "Running" for p in pods)
    ips = {p.status.pod_ip for p in pods}
    assert len(ips) == 3
    nodes = tuple(sorted(p.node for p in state.net.proxies))
    assert nodes == ("node-a", "node-b") and {p.node_name for p in pods} == set(nodes)
    for p in state.net.proxies:
        assert dict(kubeproxy.node_routes(p, nodes)) == {
            ("10.96.1.1", 80, "TCP"): frozenset(f"{ip}:8080" for ip in ips)}
    assert state.pending_commands == frozenset({0}) and state.budget == s.config.budget
    assert dns.lookup(state.net.dns.cache, "web.default.svc.cluster.local") == frozenset({"10.96.1.1"})


def test_a_converged_start_is_a_reachable_state_of_the_cold_start() -> None:
    """The converged initial state of service-one-node is among the states the cold scenario reaches."""
    cold = builtin("service-one-node").config
    warm = attrs.evolve(cold, start="converged")
    model = ClusterModel(cold)
    target = model.canonical(initial_state(warm))
    seen: set[object] = set()
    model.properties = (always("Record", lambda st: seen.add(model.canonical(st)) or True),)
    assert check(model, deadlock=False).status == "ok"
    assert target in seen
    assert target != model.canonical(initial_state(cold))


def test_a_bad_start_is_one_error() -> None:
    doc = open_builtin("service-one-node").replace("consistency: strong", "consistency: strong\n  start: warm")
    with pytest.raises(InputError, match="spec.start: expected cold or converged, got 'warm'"):
        parse(doc, "s.yaml")


def _with_budget(name: str, variants: frozenset[str] = frozenset(), **budget: int):  # type: ignore[no-untyped-def]
    config = builtin(name).config
    return attrs.evolve(config, budget=attrs.evolve(config.budget, **budget), variants=variants)


def test_a_kube_proxy_restart_keeps_the_rules_and_relists() -> None:
    """iptables mode flushes nothing on start-up: the rules stay; the informer lists afresh at etcd's revision."""
    config = _with_budget("service-web", kube_proxy_restarts=1)
    state = initial_state(config)
    faults = [(a, t) for a, t in next_steps(state, config) if isinstance(a, A.Fault)]
    assert sorted(a.target for a, _ in faults) == ["kube-proxy/node-a", "kube-proxy/node-b"]
    for _, after in faults:
        assert after.budget.kube_proxy_restarts == 0
        for before_p, after_p in zip(state.net.proxies, after.net.proxies, strict=True):
            assert after_p.rules == before_p.rules
            assert after_p.informer.cache == before_p.informer.cache
            assert after_p.informer.rv == state.etcd.revision
        assert not any(kubeproxy.needs_sync(p, ("node-a", "node-b")) for p in after.net.proxies)


def test_a_kube_proxy_restart_heals_the_update_a_panicking_handler_lost() -> None:
    """Under proxy-missed-update the proxier's own maps miss a change; the restarted proxier starts from a full
    list, so it knows the change again and its next sync writes it."""
    config = _with_budget("service-one-node", frozenset({"proxy-missed-update"}), kube_proxy_restarts=1)
    state = initial_state(config)
    lost = None
    for _ in range(300):
        steps = [(a, t) for a, t in next_steps(state, config) if not isinstance(a, A.Tick | A.Fault)]
        panicked = [(a, t) for a, t in steps if isinstance(a, A.Deliver) and "panicked" in a.type]
        if panicked:
            lost = panicked[0][1]
            break
        if not steps:
            break
        state = steps[0][1]
    assert lost is not None
    p = lost.net.proxies[0]
    assert p.known != p.informer.cache
    restarts = [t for a, t in next_steps(lost, config) if isinstance(a, A.Fault)]
    assert len(restarts) == 1
    healed = restarts[0].net.proxies[0]
    assert healed.known == healed.informer.cache and healed.rules == p.rules
    assert kubeproxy.rules_for(healed, ("node-a",)) == kubeproxy.rules_for(
        attrs.evolve(healed, known=None), ("node-a",))


def test_service_one_node_with_a_kube_proxy_restart_holds() -> None:
    config = _with_budget("service-one-node", kube_proxy_restarts=1)
    result = check(ClusterModel(config))
    assert result.status == "ok", result.verdict()
    plain = check(ClusterModel(builtin("service-one-node").config))
    assert result.stats.distinct_states > plain.stats.distinct_states


FINDING = Path(__file__).parents[2] / "docs" / "findings" / "pod-ip-reuse.yaml"
FINDING_TRACE = FINDING.with_name("pod-ip-reuse.trace.txt")


def test_the_pod_ip_reuse_finding_is_refuted_and_its_saved_trace_is_the_models() -> None:
    """With the reductions, breadth-first: a violation of NoTrafficToAnotherPodsIP within 14 steps, whose last
    step starts the batch pod at the address web's kube-proxy rules still send to; the saved trace's steps
    replay on the model."""
    scenario = load(FINDING)
    model = ClusterModel(scenario.config)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "NoTrafficToAnotherPodsIP"
    steps = list(result.violation.trace)[1:]
    assert len(steps) <= 14
    assert "starts pods/default/batch-bbbbb" in model.describe(steps[-1].action)
    saved = [line.split(". ", 1)[1] for line in FINDING_TRACE.read_text().splitlines()
             if re.match(r"^ *\d+\. ", line)]
    assert len(saved) == 11
    state = next(iter(model.init_states()))
    for line in saved:
        matches = [t for a, t in next_steps(state, scenario.config) if model.describe(a) == line]
        assert matches, line
        state = matches[0]
    assert not no_traffic_to_another_pods_ip(state)


@pytest.mark.slow
def test_the_pod_ip_reuse_trace_is_the_shortest() -> None:
    """Breadth-first over the plain Next relation: no counterexample shorter than 11 steps."""
    result = check(ClusterModel(load(FINDING).config, NONE))
    assert result.status == "violation" and result.violation is not None
    assert len(list(result.violation.trace)) == 12
