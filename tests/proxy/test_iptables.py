"""Rule generation compared with upstream's expected iptables-restore data."""

from spec.proxy.endpoints import PortKey
from spec.proxy.iptables import endpoint_chain, probability, render, service_chain, sync_proxy_rules
from spec.proxy.manifests import parse_cluster
from spec.proxy.model import ProxierOptions
from tests.proxy.conftest import FIXTURES, UPSTREAM_TEST_OPTIONS


def test_overall_iptables_rules_byte_for_byte(overall):
    """Upstream: pkg/proxy/iptables/proxier_test.go TestOverallIPTablesRules."""
    expected = (FIXTURES / "overall.expected").read_text()
    assert render(sync_proxy_rules(overall, UPSTREAM_TEST_OPTIONS)) == expected


def test_chain_name_hashes_match_upstream():
    # Hashes that appear in upstream's expected outputs.
    assert service_chain("KUBE-SVC-", PortKey("ns1", "svc1", "p80", "TCP")) == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert service_chain("KUBE-SVC-", PortKey("ns1", "svc1", "", "TCP")) == "KUBE-SVC-AQI2S6QIMU7PVVRP"
    assert service_chain("KUBE-FW-", PortKey("ns5", "svc5", "p80", "TCP")) == "KUBE-FW-NUKIZ6OKUXPJNT4C"
    assert endpoint_chain(PortKey("ns1", "svc1", "p80", "TCP"), "10.180.0.1:80") == "KUBE-SEP-SXIVWICOYRO3J4NJ"


def test_probability_formatting():
    assert [probability(n) for n in (1, 2, 3, 7)] == ["1.0000000000", "0.5000000000", "0.3333333333", "0.1428571429"]


def _cluster(n_endpoints: int, ready: str = "true", node: str = "node-b") -> str:
    eps = "\n".join(
        f"  - {{addresses: [10.1.0.{i + 1}], nodeName: {node}, conditions: {{ready: {ready}, serving: true, "
        f"terminating: {'false' if ready == 'true' else 'true'}}}}}" for i in range(n_endpoints))
    return f"""
apiVersion: v1
kind: Service
metadata: {{namespace: ns, name: svc}}
spec:
  clusterIP: 172.30.1.1
  ports: [{{name: p, port: 80}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{namespace: ns, name: svc-1, labels: {{kubernetes.io/service-name: svc}}}}
addressType: IPv4
endpoints:
{eps}
ports: [{{name: p, port: 8080}}]
"""


def test_probability_chain_and_sorted_endpoints():
    text = render(sync_proxy_rules(parse_cluster(_cluster(3), "t.yaml"), UPSTREAM_TEST_OPTIONS))
    probs = [line.split("--probability ")[1].split()[0] for line in text.splitlines() if "--probability" in line]
    assert probs == ["0.3333333333", "0.5000000000"]
    order = [line.split("-> ")[1].split('"')[0] for line in text.splitlines()
             if line.startswith("-A KUBE-SVC-") and "-> " in line]
    assert order == ["10.1.0.1:8080", "10.1.0.2:8080", "10.1.0.3:8080"]


def test_serving_terminating_fallback():
    """Upstream TestEndpointSliceWithTerminatingEndpointsTrafficPolicyCluster: no ready endpoint, use
    serving+terminating ones rather than REJECT."""
    text = render(sync_proxy_rules(parse_cluster(_cluster(2, ready="false"), "t.yaml"), UPSTREAM_TEST_OPTIONS))
    assert "has no endpoints" not in text
    assert text.count("-j DNAT") == 2


def test_no_endpoints_rejects():
    text = render(sync_proxy_rules(parse_cluster(_cluster(0), "t.yaml"), UPSTREAM_TEST_OPTIONS))
    assert '-A KUBE-SERVICES -m comment --comment "ns/svc:p has no endpoints" -m tcp -p tcp -d 172.30.1.1 ' \
           "--dport 80 -j REJECT" in text
    assert "KUBE-SVC-" not in text


def test_large_cluster_mode_drops_endpoint_comments():
    text = render(sync_proxy_rules(parse_cluster(_cluster(200), "t.yaml"), UPSTREAM_TEST_OPTIONS))
    assert "-> 10.1.0.1:8080" in text
    many = "\n---\n".join(
        _cluster(200).replace("svc", f"svc{i}").replace("172.30.1.1", f"172.30.1.{i + 1}") for i in range(6))
    text = render(sync_proxy_rules(parse_cluster(many, "t.yaml"), UPSTREAM_TEST_OPTIONS))
    sep_rules = [line for line in text.splitlines() if line.startswith("-A KUBE-SEP-")]
    assert sep_rules and all("--comment" not in line for line in sep_rules)


def test_default_mark_is_go_formatted():
    opts = ProxierOptions(node_name="n")
    assert opts.mark == "0x00004000"
    assert ProxierOptions(node_name="n", masquerade_bit=0).mark == "0x00000001"
