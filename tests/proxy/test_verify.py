"""z3 verification: generated rules verify; every mutation is caught with a counterexample."""

import re
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec.proxy.cli import proxy
from spec.proxy.iptables import render, sync_proxy_rules
from spec.proxy.manifests import load_cluster, parse_cluster
from spec.proxy.model import ProxierOptions
from spec.proxy.parse import parse_dump
from spec.proxy.verify import verify
from tests.proxy.conftest import FIXTURES, UPSTREAM_TEST_OPTIONS

SHOP = Path(__file__).parents[2] / "spec" / "proxy" / "examples" / "shop.yaml"
SHOP_OPTS = ProxierOptions(node_name="node-a", node_ips=("192.168.1.10",), cluster_cidr="10.244.0.0/16")


def _rules(cluster, opts):
    return render(sync_proxy_rules(cluster, opts))


def _delete(pattern):
    return lambda text: re.sub(pattern, "", text, count=1, flags=re.M)


def _sub(old, new):
    return lambda text: text.replace(old, new, 1)


def test_generated_rules_verify(overall):
    report = verify(overall, UPSTREAM_TEST_OPTIONS, parse_dump(_rules(overall, UPSTREAM_TEST_OPTIONS)))
    assert report.ok, [v.render() for v in report.violations]
    assert (report.services, report.ports, report.frontends, report.endpoints) == (6, 6, 13, 6)


OVERALL_MUTATIONS = {
    "remove endpoint jump": (_delete(r'^-A KUBE-SVC-XPGD46QRK7WJZT7O .*-> 10\.180\.0\.1:80.*\n'), "1 routing"),
    "remove cluster IP rule": (_delete(r'^-A KUBE-SERVICES .*"ns4/svc4:p80 cluster IP".*\n'), "1 routing"),
    "change DNAT port": (_sub("--to-destination 10.180.0.4:80", "--to-destination 10.180.0.4:8080"), "1 routing"),
    "wrong probability": (_sub("--probability 0.5000000000", "--probability 0.5001000000"), "3 balance"),
    "swapped chain jumps": (_sub("--dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O", "--dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK"),
                            "1 routing"),
    "remove masquerade mark": (_delete(r'^-A KUBE-SVC-XPGD46QRK7WJZT7O .*KUBE-MARK-MASQ\n'), "5 masquerade"),
    "remove REJECT": (_delete(r'^-A KUBE-SERVICES .*has no endpoints.*\n'), "1 routing"),
    "remove nodeports tail": (_delete(r'^-A KUBE-SERVICES .*must be the last rule.*\n'), "1 routing"),
    "widen source range": (_sub("-s 203.0.113.0/25 -j KUBE-EXT", "-s 203.0.113.0/24 -j KUBE-EXT"), "1 routing"),
    "remove local DROP": (_delete(r'^-A KUBE-EXTERNAL-SERVICES .*1\.2\.3\.4.*DROP\n'), "1 routing"),
    "remove external masquerade": (_delete(r'^-A KUBE-EXT-4SW47YFZTEDKD3PK .*KUBE-MARK-MASQ\n'), "5 masquerade"),
    "rewrite another destination": (_sub('-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP"',
                                          "-A KUBE-SERVICES -m tcp -p tcp -d 172.30.0.99 --dport 80 -j "
                                          'KUBE-SVC-XPGD46QRK7WJZT7O\n-A KUBE-SERVICES -m comment --comment '
                                          '"ns1/svc1:p80 cluster IP"'), "2 isolation"),
}


@pytest.mark.parametrize("name", sorted(OVERALL_MUTATIONS))
def test_mutation_is_caught(overall, name):
    mutate, prop = OVERALL_MUTATIONS[name]
    text = _rules(overall, UPSTREAM_TEST_OPTIONS)
    mutated = mutate(text)
    assert mutated != text
    report = verify(overall, UPSTREAM_TEST_OPTIONS, parse_dump(mutated))
    assert not report.ok
    first = report.violations[0]
    assert first.prop == prop, first.render()
    assert " -> " in first.packet or "client" in first.packet


SHOP_MUTATIONS = {
    "remove affinity check": (_delete(r"^-A KUBE-SVC-\S+ .*-> 10\.244\.2\.7:8080.*--rcheck.*\n"), "4 affinity"),
    "shorter affinity timeout": (_sub("--seconds 600", "--seconds 60"), "4 affinity"),
    "no recent --set": (lambda t: re.sub(r" -m recent --name \S+ --set", "", t, count=1), "4 affinity"),
}


@pytest.mark.parametrize("name", sorted(SHOP_MUTATIONS))
def test_affinity_mutations(name):
    cluster = load_cluster([str(SHOP)])
    mutate, prop = SHOP_MUTATIONS[name]
    text = _rules(cluster, SHOP_OPTS)
    assert mutate(text) != text
    report = verify(cluster, SHOP_OPTS, parse_dump(mutate(text)))
    assert [v.prop for v in report.violations][:1] == [prop]


def test_endpoint_left_behind_after_pod_is_gone():
    """Rules still DNAT to 10.244.2.8 although its pod (and EndpointSlice entry) is gone."""
    cluster = load_cluster([str(SHOP)])
    stale_rules = _rules(cluster, SHOP_OPTS)
    text = SHOP.read_text().replace("  - {addresses: [10.244.2.8], nodeName: node-b, conditions: {ready: true}}\n", "")
    current = parse_cluster(text, "shop.yaml")
    assert verify(current, SHOP_OPTS, parse_dump(_rules(current, SHOP_OPTS))).ok
    report = verify(current, SHOP_OPTS, parse_dump(stale_rules))
    assert not report.ok and report.violations[0].prop == "1 routing"
    assert "10.244.2.8:8080" in report.violations[0].packet


SERVICE = st.fixed_dictionaries({
    "type": st.sampled_from(["ClusterIP", "NodePort", "LoadBalancer"]),
    "etp": st.sampled_from(["Cluster", "Local"]),
    "itp": st.sampled_from(["Cluster", "Local"]),
    "affinity": st.booleans(),
    "ranges": st.booleans(),
    "endpoints": st.lists(st.tuples(st.sampled_from(["node-a", "node-b"]), st.sampled_from(["ready", "terminating",
                                                                                            "gone"])), max_size=4),
})


def _manifest(i: int, s: dict) -> str:
    node_port = "" if s["type"] == "ClusterIP" else f", nodePort: {30000 + i}"
    spec = [f"type: {s['type']}", f"clusterIP: 172.30.0.{i + 1}", f"externalTrafficPolicy: {s['etp']}",
            f"internalTrafficPolicy: {s['itp']}", f"ports: [{{name: p, port: 80{node_port}}}]"]
    if s["affinity"]:
        spec.append("sessionAffinity: ClientIP")
    if s["type"] == "LoadBalancer" and s["ranges"]:
        spec.append("loadBalancerSourceRanges: [203.0.113.0/25]")
    status = f"status: {{loadBalancer: {{ingress: [{{ip: 5.6.7.{i + 1}}}]}}}}" if s["type"] == "LoadBalancer" else ""
    cond = {"ready": "{ready: true}", "terminating": "{ready: false, serving: true, terminating: true}",
            "gone": "{ready: false, serving: false, terminating: true}"}
    eps = "".join(f"\n  - {{addresses: [10.1.{i}.{j + 1}], nodeName: {n}, conditions: {cond[c]}}}"
                  for j, (n, c) in enumerate(s["endpoints"])) or " []"
    return (f"kind: Service\nmetadata: {{namespace: ns, name: s{i}}}\nspec:\n  " + "\n  ".join(spec) + f"\n{status}\n"
            f"---\nkind: EndpointSlice\nmetadata: {{namespace: ns, name: s{i}-1, labels: "
            f"{{kubernetes.io/service-name: s{i}}}}}\nendpoints:{eps}\n"
            "ports: [{name: p, port: 8080}]\n")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SERVICE, min_size=1, max_size=3), st.sampled_from([None, "10.0.0.0/8"]), st.booleans())
def test_generated_rules_always_verify(services, cidr, masquerade_all):
    text = "\n---\n".join(_manifest(i, s) for i, s in enumerate(services))
    cluster = parse_cluster(text, "gen.yaml")
    opts = ProxierOptions(node_name="node-a", node_ips=("192.168.0.2",), cluster_cidr=cidr,
                          masquerade_all=masquerade_all)
    report = verify(cluster, opts, parse_dump(_rules(cluster, opts)))
    assert report.ok, "\n".join(v.render() for v in report.violations) + "\n" + text


def test_cli_exit_codes(tmp_path):
    runner = CliRunner()
    base = ["-f", str(FIXTURES / "overall.yaml"), "--node", "test-node", "--node-ip", "192.168.0.2",
            "--cluster-cidr", "10.0.0.0/8"]
    ok = runner.invoke(proxy, ["verify", *base])
    assert ok.exit_code == 0 and "\nverified: 6 services, 6 service ports" in ok.output
    assert ok.output.startswith("warning: ns6/svc6:p80 (TCP): no EndpointSlice is labelled")
    rules = runner.invoke(proxy, ["rules", *base, "--masquerade-mark", "0x4000", "--no-random-fully"])
    assert rules.exit_code == 0 and rules.output == (FIXTURES / "overall.expected").read_text()
    bad = tmp_path / "dump.txt"
    bad.write_text(rules.output.replace("--probability 0.5000000000", "--probability 0.9000000000"))
    failed = runner.invoke(proxy, ["verify", *base, "--iptables-save", str(bad)])
    assert failed.exit_code == 1 and "VIOLATED (3 balance)" in failed.output
    bad.write_text("*nat\n:X - [0:0]\n-A X -m mark --mark 0x1ffffffffff -j ACCEPT\nCOMMIT\n")
    broken = runner.invoke(proxy, ["verify", *base, "--iptables-save", str(bad)])
    assert broken.exit_code == 2 and broken.output == f"error: bad mark '0x1ffffffffff' ({bad}:3)\n"
    old = runner.invoke(proxy, ["rules", *base, "--masquerade-mark", "0x4000", "--no-random-fully",
                                "--kube-proxy-version", "1.30"])
    assert old.exit_code == 0 and old.output == _v130((FIXTURES / "overall.expected").read_text())
    ipvs = runner.invoke(proxy, ["rules", *base, "--mode", "ipvs", "--ipvs-scheduler", "lc"])
    assert ipvs.exit_code == 0 and "TCP  5.6.7.8:80 lc persistent 10800" in ipvs.output


def _v130(text: str) -> str:
    """Upstream TestOverallIPTablesRules before v1.31: no nfacct counter on the invalid-conntrack DROP (PR #122812)
    and no separate localhost NodePort rule (PR #125015)."""
    text = text.replace(" -m nfacct --nfacct-name ct_state_invalid_dropped_pkts", "")
    return "".join(line for line in text.splitlines(keepends=True) if "localhost_nps_accepted_pkts" not in line)


def test_release_texts_verify():
    cluster = load_cluster([str(FIXTURES / "overall.yaml")])
    for version in ((1, 28), (1, 29), (1, 30), (1, 31), (1, 32), (1, 33)):
        opts = attrs.evolve(UPSTREAM_TEST_OPTIONS, version=version)
        text = _rules(cluster, opts)
        assert (text == _v130(_rules(cluster, UPSTREAM_TEST_OPTIONS))) == (version < (1, 31))
        assert verify(cluster, opts, parse_dump(text)).ok
