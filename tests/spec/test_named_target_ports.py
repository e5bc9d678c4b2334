"""A Service's named targetPort (upstream FindPort, pkg/api/v1/pod/util.go): the EndpointSlice controller resolves it
in each pod among its containers' named ports, kube-proxy routes to the number, and a pod that declares no such
port is left out of that Service port's endpoints (getEndpointPorts, pkg/controller/endpointslice/utils.go)."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from checker import check
from checker.errors import InputError
from spec import actions as A
from spec import kubeproxy
from spec.cluster import initial_state, next_steps
from spec.model import ClusterModel
from spec.scenario import parse
from spec.service_properties import routes_match_ready_endpoints
from spec.state import ClusterState, EndpointSlice, Pod

BASE = resources.files("spec.scenarios").joinpath("service-one-node.yaml").read_text()
NAMED = BASE.replace("    targetPort: 8080", "    targetPort: http").replace(
    "        image: nginx:1.25\n",
    "        image: nginx:1.25\n        ports:\n        - {name: metrics, containerPort: 9090}\n"
    "        - {name: http, containerPort: 8080}\n")


def _converged(text: str) -> ClusterState:
    config = parse(text, "named.yaml").config
    state = initial_state(config)
    for _ in range(300):
        steps = [x for x in next_steps(state, config) if not isinstance(x[0], A.Tick | A.Kubectl)]
        if not steps:
            break
        state = steps[0][1]
    return state


def test_a_named_target_port_routes_to_the_containers_port_of_that_name() -> None:
    state = _converged(NAMED)
    (pod,) = [o for o in state.etcd.objects.values() if isinstance(o, Pod)]
    (eps,) = [o for o in state.etcd.objects.values() if isinstance(o, EndpointSlice)]
    assert [(p.name, p.port) for p in eps.ports] == [("", 8080)]
    assert dict(kubeproxy.node_routes(state.net.proxies[0], ("node-a",))) == {
        ("10.96.1.1", 80, "TCP"): frozenset({f"{pod.status.pod_ip}:8080"})}
    assert routes_match_ready_endpoints(state)


def test_a_pod_without_the_named_port_is_no_endpoint_of_it() -> None:
    state = _converged(NAMED.replace("name: http, containerPort", "name: web, containerPort"))
    assert [o for o in state.etcd.objects.values() if isinstance(o, Pod) and o.status.ready]
    assert dict(kubeproxy.node_routes(state.net.proxies[0], ("node-a",))) == {
        ("10.96.1.1", 80, "TCP"): frozenset({"reject"})}
    assert routes_match_ready_endpoints(state)  # the property resolves the name as the controller does


def test_the_named_port_scenario_is_exhaustive_and_its_routes_property_holds() -> None:
    result = check(ClusterModel(parse(NAMED, "named.yaml").config))
    statuses = {p.name: p.status for p in result.properties}
    assert result.status == "ok", result.verdict()
    assert statuses["ServiceRoutesEventuallyMatchReadyEndpoints"] == "holds"
    assert statuses["NoDuplicateEndpointSlices"] == "holds"


@pytest.mark.parametrize(("ports", "message"), [
    ("        - {name: http, containerPort: 8080}\n        - {name: http, containerPort: 8081}\n",
     "containers[0].ports[1].name: Duplicate value: \"http\""),
    ("        - {name: Http, containerPort: 8080}\n",
     "containers[0].ports[0].name: Invalid value: \"Http\": must contain only alpha-numeric"),
    ("        - {name: http-web-frontend, containerPort: 8080}\n",
     "containers[0].ports[0].name: Invalid value: \"http-web-frontend\": must be no more than 15 bytes"),
    ("        - {name: http, containerPort: 70000}\n",
     "containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535"),
])
def test_bad_container_ports_are_one_error_naming_the_field(ports: str, message: str) -> None:
    text = BASE.replace("        image: nginx:1.25\n", "        image: nginx:1.25\n        ports:\n" + ports)
    with pytest.raises(InputError, match=re.escape(message)):
        parse(text, "named.yaml")


LB_LOCAL = BASE.replace("  ports:\n  - port: 80\n    targetPort: 8080",
                        "  type: LoadBalancer\n  externalTrafficPolicy: Local\n  ports:\n  - port: 80\n"
                        "    targetPort: 8080")


def test_a_local_load_balancer_gets_a_health_check_node_port_after_its_node_ports() -> None:
    """allocHealthCheckNodePort (pkg/registry/core/service/storage/alloc.go): a LoadBalancer with
    externalTrafficPolicy Local holds a second port of the NodePort range; kube-proxy opens it
    (spec/proxy/iptables.py) and UniqueNodePorts counts it."""
    from spec.state import Service

    state = initial_state(parse(LB_LOCAL, "lb.yaml").config)
    (svc,) = [o for o in state.etcd.objects.values() if isinstance(o, Service)]
    (port,) = svc.ports
    assert svc.external_traffic_policy == "Local"
    assert 30000 <= port.node_port <= 32767 and 30000 <= svc.health_check_node_port <= 32767
    assert port.node_port != svc.health_check_node_port
    result = check(ClusterModel(parse(LB_LOCAL, "lb.yaml").config))
    statuses = {p.name: p.status for p in result.properties}
    assert result.status == "ok", result.verdict()
    assert statuses["UniqueNodePorts"] == "holds"
    assert statuses["ServiceRoutesEventuallyMatchReadyEndpoints"] == "holds"


@pytest.mark.parametrize(("edit", "message"), [
    ("  externalTrafficPolicy: Local\n", 'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for '
                                        "externally-accessible services"),
    ("  externalTrafficPolicy: Locale\n", 'spec.externalTrafficPolicy: Unsupported value: "Locale"'),
    ("  type: NodePort\n  healthCheckNodePort: 30100\n", "spec.healthCheckNodePort: Invalid value: 30100: may only "
                                                       "be set when `type` is 'LoadBalancer'"),
])
def test_bad_traffic_policies_are_one_error(edit: str, message: str) -> None:
    text = BASE.replace("  ports:\n  - port: 80\n    targetPort: 8080", edit + "  ports:\n  - port: 80\n"
                        "    targetPort: 8080")
    with pytest.raises(InputError, match=re.escape(message)):
        parse(text, "lb.yaml")


WEB = resources.files("spec.scenarios").joinpath("service-web.yaml").read_text()


def _web(extra: str) -> str:
    head, _, svc = WEB.rpartition("kind: Service\n")
    return head + "kind: Service\n" + svc.replace("spec:\n", "spec:\n" + extra, 1)


def test_internal_traffic_policy_local_sends_each_node_to_its_own_endpoints() -> None:
    """internalTrafficPolicy Local (KEP-2086; proxier.go: "has no local endpoints" -> DROP): each node's rules
    send the ClusterIP to that node's ready endpoints only, and the property checks exactly that."""
    config = parse(_web("  internalTrafficPolicy: Local\n"), "itp.yaml").config
    state = initial_state(config)
    nodes = tuple(sorted(p.node for p in state.net.proxies))
    pods = [o for o in state.etcd.objects.values() if isinstance(o, Pod)]
    for proxy in state.net.proxies:
        mine = frozenset(f"{p.status.pod_ip}:8080" for p in pods if p.node_name == proxy.node)
        assert dict(kubeproxy.node_routes(proxy, nodes)) == {("10.96.1.1", 80, "TCP"): mine}
    assert routes_match_ready_endpoints(state)
    result = check(ClusterModel(config))
    statuses = {p.name: p.status for p in result.properties}
    assert result.status == "ok", result.verdict()
    assert statuses["ServiceRoutesEventuallyMatchReadyEndpoints"] == "holds"


def test_client_ip_affinity_keeps_the_routes_and_is_in_the_rules() -> None:
    config = parse(_web("  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n"),
                   "aff.yaml").config
    state = initial_state(config)
    rules = "\n".join(state.net.proxies[0].rules)
    assert "--seconds 60 --reap" in rules and "-m recent" in rules
    assert routes_match_ready_endpoints(state)


@pytest.mark.parametrize(("extra", "message"), [
    ("  internalTrafficPolicy: Nearby\n", 'spec.internalTrafficPolicy: Unsupported value: "Nearby"'),
    ("  sessionAffinity: Cookie\n", 'spec.sessionAffinity: Unsupported value: "Cookie"'),
    ("  sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}\n",
     "spec.sessionAffinityConfig: Invalid value: {'clientIP': {'timeoutSeconds': 60}}: must not be set when "
     "`sessionAffinity` is None"),
    ("  sessionAffinity: ClientIP\n  sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}\n",
     "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than "
     "86400"),
])
def test_bad_affinity_and_policies_are_one_error(extra: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        parse(_web(extra), "bad.yaml")
