"""IPVS mode's iptables rules (pkg/proxy/ipvs/proxier.go writeIptablesRules) proved with the IPVS table as a stage
of the netfilter paths: masquerade, loadBalancerSourceRanges, isolation, and other components' rules."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec.proxy import ipvs
from spec.proxy.cli import proxy
from spec.proxy.ipset import parse_ipset_save, resolve_sets
from spec.proxy.manifests import load_cluster, parse_cluster
from spec.proxy.model import Cluster, ProxierOptions
from spec.proxy.parse import parse_dump
from spec.proxy.symbolic import Pins, _ipvs_option, host
from spec.proxy.verify import Report, verify
from tests.proxy.conftest import FIXTURES, UPSTREAM_TEST_OPTIONS
from tests.proxy.test_verify import SERVICE, _manifest

OPTS = attrs.evolve(UPSTREAM_TEST_OPTIONS, mode="ipvs")
EXAMPLES = Path(__file__).parents[2] / "spec" / "proxy" / "examples"


def _texts(cluster: Cluster, opts: ProxierOptions = OPTS) -> tuple[str, str, str]:
    return (ipvs.render_iptables(cluster, opts), ipvs.render_ipsets(cluster, opts),
            ipvs.render_saved(ipvs.virtual_servers(cluster, opts)))


def _verify(cluster: Cluster, rules: str, sets: str, table: str, strict: bool = False,
            opts: ProxierOptions = OPTS) -> Report:
    saved = ipvs.parse_ipvsadm(table, "table")
    dump, left = resolve_sets(parse_dump(rules, "rules"), parse_ipset_save(sets, "sets"))
    assert not left
    return verify(cluster, ipvs.verification_options(opts, saved), ipvs.with_ipvs_stage(dump, saved), strict=strict)


@pytest.mark.parametrize("manifest", [FIXTURES / "overall.yaml", EXAMPLES / "shop.yaml", EXAMPLES / "local-only.yaml"],
                         ids=lambda p: p.name)
def test_generated_ipvs_mode_verifies(manifest: Path) -> None:
    cluster = load_cluster([str(manifest)])
    report = _verify(cluster, *_texts(cluster))
    assert report.ok, "\n".join(v.render() for v in report.violations)
    assert report.frontends > 0 and report.paths > 0


def test_generated_without_a_local_detector_verifies() -> None:
    """No cluster CIDR: KUBE-CLUSTER-IP is matched `src,dst` (a source that is a cluster IP of that port)."""
    cluster = load_cluster([str(FIXTURES / "overall.yaml")])
    opts = attrs.evolve(OPTS, cluster_cidr=None)
    assert "KUBE-CLUSTER-IP src,dst -j KUBE-MARK-MASQ" in ipvs.render_iptables(cluster, opts)
    assert _verify(cluster, *_texts(cluster, opts), opts=opts).ok


def _mutated(rules: str, sets: str, table: str, mutation: str) -> tuple[str, str, str]:
    if mutation == "no cluster IP masquerade":
        rules = re.sub(r"^-A KUBE-SERVICES .*KUBE-CLUSTER-IP dst,dst ! -s .*\n", "", rules, flags=re.M)
    elif mutation == "no source-range DROP":
        rules = rules.replace("-A KUBE-SOURCE-RANGES-FIREWALL -j DROP\n", "")
    elif mutation == "Local load balancer masqueraded":
        rules = re.sub(r"^-A KUBE-LOAD-BALANCER .*KUBE-LOAD-BALANCER-LOCAL.*\n", "", rules, flags=re.M)
    elif mutation == "no hairpin member":
        sets = re.sub(r"^add KUBE-LOOP-BACK .*\n", "", sets, flags=re.M)
    elif mutation == "Local NodePort marked":
        sets = re.sub(r"^add KUBE-NODE-PORT-LOCAL-TCP .*\n", "", sets, flags=re.M)
    elif mutation == "masquerade rule gone":
        rules = rules.replace('-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
                              "-j MASQUERADE\n", "")
    elif mutation == "foreign address marked":
        rules = rules.replace("-A KUBE-MARK-MASQ -j MARK", "-A KUBE-SERVICES -d 198.51.100.7 -j KUBE-MARK-MASQ\n"
                              "-A KUBE-MARK-MASQ -j MARK")
    return rules, sets, table


@pytest.mark.parametrize("mutation,prop", [
    ("no cluster IP masquerade", "5 masquerade"),
    ("no source-range DROP", "1 routing"),
    ("Local load balancer masqueraded", "5 masquerade"),
    ("no hairpin member", "5 masquerade"),
    ("Local NodePort marked", "5 masquerade"),
    ("masquerade rule gone", "5 masquerade"),
    ("foreign address marked", "2 isolation"),
])
def test_mutation_is_caught(mutation: str, prop: str) -> None:
    cluster = load_cluster([str(FIXTURES / "overall.yaml")])
    texts = _texts(cluster)
    mutated = _mutated(*texts, mutation)
    assert mutated != texts
    report = _verify(cluster, *mutated)
    assert not report.ok
    assert {v.prop for v in report.violations} == {prop}


def test_other_components_drop_is_not_kube_proxys() -> None:
    """A firewall's DROP in filter INPUT before kube-proxy's jumps breaks the load balancer for its sources: named
    as another component's (exit 0), a failure with --strict."""
    cluster = load_cluster([str(FIXTURES / "overall.yaml")])
    rules, sets, table = _texts(cluster)
    rules = rules.replace("-A INPUT -m comment", "-A INPUT -s 203.0.113.0/26 -j DROP\n-A INPUT -m comment", 1)
    report = _verify(cluster, rules, sets, table)
    assert report.ok and report.interference and report.foreign == 1
    assert any("filter INPUT line" in step for x in report.interference for step in x.foreign)
    assert not _verify(cluster, rules, sets, table, strict=True).ok


def test_ipvs_match_is_decided_by_the_virtual_service() -> None:
    scheduled = Pins(dst=host("5.6.7.8"), dport=80, proto="tcp", ipvs=True)
    assert _ipvs_option("-m ipvs --vaddr 5.6.7.8", scheduled) is True
    assert _ipvs_option("-m ipvs --vaddr 5.6.7.0/24", scheduled) is True
    assert _ipvs_option("-m ipvs --vaddr 1.2.3.4", scheduled) is False
    assert _ipvs_option("-m ipvs --vport 80", scheduled) is True
    assert _ipvs_option("-m ipvs --vport 81", scheduled) is False
    assert _ipvs_option("-m ipvs --vproto tcp", scheduled) is True
    assert _ipvs_option("-m ipvs --vproto 6", scheduled) is True
    assert _ipvs_option("-m ipvs --vproto udp", scheduled) is False
    assert _ipvs_option("-m ipvs --ipvs", scheduled) is True
    assert _ipvs_option("-m ipvs --vaddr 5.6.7.8", scheduled._replace(ipvs=False)) is False
    assert _ipvs_option("-m ipvs --vaddr 5.6.7.8", Pins(ipvs=True)) is None
    assert _ipvs_option("-m ipvs --vdir ORIGINAL", scheduled) is None


def test_local_policy_without_local_endpoints_falls_back_to_cluster_endpoints() -> None:
    """syncEndpoint (PR #97081): Local policy and no local endpoint: the cluster-wide ones, not none."""
    cluster = load_cluster([str(FIXTURES / "overall.yaml")])
    servers = {(v.address, v.port): v for v in ipvs.virtual_servers(cluster, OPTS)}
    assert [r.address for r in servers[("1.2.3.4", 80)].real_servers] == ["10.180.0.2"]


def _cli(*args: str) -> Result:
    return CliRunner().invoke(proxy, list(args))


def test_cli_verifies_the_iptables_half(tmp_path: Path) -> None:
    manifest = str(FIXTURES / "overall.yaml")
    base = ["-f", manifest, "--node", "test-node", "--node-ip", "192.168.0.2", "--cluster-cidr", "10.0.0.0/8",
            "--masquerade-mark", "0x4000", "--no-random-fully"]
    files = {}
    for fmt, name in (("save", "table.ipvs"), ("ipset", "sets.txt"), ("iptables", "rules.save")):
        out = _cli("rules", *base, "--mode", "ipvs", "--ipvs-format", fmt)
        assert out.exit_code == 0, out.output
        files[fmt] = tmp_path / name
        files[fmt].write_text(out.output)
    args = ["verify", *base, "--ipvsadm", str(files["save"]), "--ipset", str(files["ipset"]),
            "--iptables-save", str(files["iptables"])]
    ok = _cli(*args)
    assert ok.exit_code == 0, ok.output
    assert "iptables rules of IPVS mode" in ok.output and "verified: 6 services" in ok.output
    text = files["iptables"].read_text()
    files["iptables"].write_text(text.replace("-A KUBE-SOURCE-RANGES-FIREWALL -j DROP\n", ""))
    bad = _cli(*args)
    assert bad.exit_code == 1 and "VIOLATED (1 routing)" in bad.output
    no_sets = _cli("verify", *base, "--ipvsadm", str(files["save"]), "--iptables-save", str(files["iptables"]))
    assert no_sets.exit_code == 0 and "give --ipset" in no_sets.output


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SERVICE, min_size=1, max_size=3), st.sampled_from([None, "10.0.0.0/8"]), st.booleans())
def test_generated_ipvs_mode_always_verifies(services: list[dict[str, object]], cidr: str | None,
                                             masquerade_all: bool) -> None:
    """IPVS mode's rules, sets and table as upstream writes them verify for random Services (types, traffic
    policies, affinity, source ranges, ready / terminating / gone endpoints on two nodes)."""
    cluster = parse_cluster("\n---\n".join(_manifest(i, s) for i, s in enumerate(services)), "gen.yaml")
    opts = ProxierOptions(node_name="node-a", node_ips=("192.168.0.2",), cluster_cidr=cidr,
                          masquerade_all=masquerade_all, mode="ipvs")
    report = _verify(cluster, *_texts(cluster, opts), opts=opts)
    assert report.ok, "\n".join(v.render() for v in report.violations)


OUT_FILTER = "-A KUBE-IPVS-OUT-FILTER -s 5.6.7.8 -m ipvs --vaddr 5.6.7.8 --vproto tcp --vport 80 -j DROP\n"
LB = "ns5/svc5:p80 load-balancer IP 5.6.7.8:80/TCP"


def test_host_packets_to_a_load_balancer_ip_outside_its_source_ranges() -> None:
    """svc5's loadBalancerSourceRanges (203.0.113.0/25) do not hold the node's IP: IPVS schedules this host's own
    packets at LOCAL_OUT (they pass no INPUT, so no KUBE-SOURCE-RANGES-FIREWALL), and KUBE-IPVS-OUT-FILTER drops
    those from the load-balancer IP itself. Without that rule, or with it on another source, the host's packet
    from 5.6.7.8 reaches the endpoint: a routing violation naming it."""
    cluster = load_cluster([str(FIXTURES / "overall.yaml")])
    rules, sets, table = _texts(cluster)
    assert OUT_FILTER in rules and _verify(cluster, rules, sets, table).ok
    # Removed: the host's packet from 5.6.7.8 gets through. Moved to the node's IP: that one gets through and the
    # host's packet from 192.168.0.2 is dropped; the first found of the two is reported.
    for mutated, allowed in ((rules.replace(OUT_FILTER, ""), {"5.6.7.8"}),
                             (rules.replace(OUT_FILTER, OUT_FILTER.replace("-s 5.6.7.8", "-s 192.168.0.2")),
                              {"5.6.7.8", "192.168.0.2"})):
        report = _verify(cluster, mutated, sets, table)
        assert [(v.prop, v.frontend) for v in report.violations][:1] == [("1 routing", LB)]
        text = report.violations[0].render()
        src = re.search(r"packet:\s+tcp (\S+) -> 5\.6\.7\.8:80 from a process on this node", text)
        assert src and src.group(1) in allowed, text
        label = "the load-balancer IP" if src.group(1) == "5.6.7.8" else "another of its addresses"
        assert f"this host from {label}" in text, text


def test_host_packets_to_a_load_balancer_ip_whose_source_ranges_hold_the_node() -> None:
    """A source range holding the node's IP: upstream adds the KUBE-LOAD-BALANCER-SOURCE-IP member (lbIP,port,lbIP)
    and no KUBE-IPVS-OUT-FILTER rule, so this host reaches the load-balancer IP; a drop there is caught."""
    text = (FIXTURES / "overall.yaml").read_text().replace('" 203.0.113.0/25"', '" 203.0.113.0/25", 192.168.0.0/24')
    cluster = parse_cluster(text, "overall-node-in-range.yaml")
    rules, sets, table = _texts(cluster)
    assert "KUBE-IPVS-OUT-FILTER -s" not in rules and "add KUBE-LOAD-BALANCER-SOURCE-IP 5.6.7.8,tcp:80,5.6.7.8" in sets
    assert _verify(cluster, rules, sets, table).ok
    dropped = rules.replace("-A KUBE-FORWARD -m comment", OUT_FILTER + "-A KUBE-FORWARD -m comment", 1)
    report = _verify(cluster, dropped, sets, table)
    assert [(v.prop, v.frontend) for v in report.violations][:1] == [("1 routing", LB)]
    assert "this host (its address in loadBalancerSourceRanges)" in report.violations[0].render()
