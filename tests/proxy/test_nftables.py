"""nftables mode: rules as upstream's tests expect them; `nft list ruleset` verified with the same properties."""

import re

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.errors import InputError
from spec.proxy.cli import proxy
from spec.proxy.manifests import parse_cluster
from spec.proxy.model import ProxierOptions
from spec.proxy.nftables import nodeport_addresses, parse_ruleset, sync_nftables, to_dump
from spec.proxy.verify import verify
from tests.proxy.conftest import FIXTURES
from tests.proxy.test_verify import SERVICE, _manifest

NFT_OPTS = ProxierOptions(node_name="test-node", node_ips=("192.168.0.2",), cluster_cidr="10.0.0.0/8",
                          masquerade_mark="0x4000", service_cidrs=("172.30.0.0/16",), mode="nftables",
                          localhost_nodeports=False, nodeport_addresses=("192.168.0.2",), version=(1, 34))
NODE = FIXTURES / "kubeadm-flannel.yaml"
NODE_OPTS = ProxierOptions(node_name="worker-1", node_ips=("192.168.56.11",), cluster_cidr="10.244.0.0/16",
                           mode="nftables", localhost_nodeports=False, nodeport_addresses=("192.168.56.11",))


def _sorted(text: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _verify(cluster, opts, text):
    dump, _ = to_dump(parse_ruleset(text, "nft.txt"), "nft.txt")
    return verify(cluster, opts, dump)


def test_overall_nftables_rules_equal_upstream(overall):
    assert _sorted(sync_nftables(overall, NFT_OPTS)) == _sorted((FIXTURES / "overall-nftables.expected").read_text())


def test_chain_names_hash_as_upstream():
    text = (FIXTURES / "overall-nftables.expected").read_text()
    assert "service-ULMVA6XW-ns1/svc1/tcp/p80" in text and "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80" in text


def test_generated_rules_verify(overall):
    report = _verify(overall, NFT_OPTS, sync_nftables(overall, NFT_OPTS))
    assert report.ok, [v.render() for v in report.violations]
    assert (report.services, report.frontends) == (6, 13)


def test_list_ruleset_format_verifies():
    """`nft list ruleset` as nft prints it (named priorities, `meta mark ... | 0x00004000`, elements over several
    lines, timeouts in hours), with another table (iptables-nft's filter table of Docker, whose FORWARD chain has
    policy drop): kube-proxy's table verifies; what Docker's chain drops is named as not kube-proxy's (exit 0),
    and fails the verdict with --strict."""
    runner = CliRunner()
    args = ["verify", "-f", str(NODE), "--cluster-cidr", "10.244.0.0/16", "--nft-ruleset",
            str(FIXTURES / "kubeadm-flannel.nft")]
    out = runner.invoke(proxy, args)
    assert out.exit_code == 0, out.output
    assert "verified: 4 services" in out.output and "NOT KUBE-PROXY'S (1 routing)" in out.output
    assert "ip filter FORWARD policy DROP" in out.output and "ip filter DOCKER-USER line" in out.output
    strict = runner.invoke(proxy, [*args, "--strict"])
    assert strict.exit_code == 1 and "VIOLATED (1 routing)" in strict.output


_OTHER_TABLES = {
    # iptables-nft's nat table of Docker, its PREROUTING before kube-proxy's (dstnat - 5 < dstnat): a DNAT of a
    # ClusterIP there shadows the Service.
    "DNAT shadowing a ClusterIP": ("""table ip nat {
	chain PREROUTING {
		type nat hook prerouting priority dstnat - 5; policy accept;
		iifname "cni*" ip daddr 10.103.41.7 tcp dport 80 counter packets 0 bytes 0 dnat to 10.9.9.9:80
	}
}
""", "1 routing", "ip nat PREROUTING line 4"),
    # a firewall's inet table dropping new TCP connections from outside to the NodePort range before kube-proxy's
    # DNAT (priority raw + 10 at prerouting).
    "DROP before kube-proxy's DNAT": ("""table inet firewalld {
	chain filter_PREROUTING {
		type filter hook prerouting priority raw + 10; policy accept;
		ct state { established, related } accept
		ip saddr != 10.244.0.0/16 tcp dport 30000-32767 log prefix "np " drop
	}
}
""", "1 routing", "inet firewalld filter_PREROUTING line 5"),
    # a masquerade agent SNATting pod traffic that leaves the pod network: stated, not blamed.
    "masquerade agent": ("""table ip nat {
	chain POSTROUTING {
		type nat hook postrouting priority srcnat - 1; policy accept;
		ip saddr 10.244.0.0/16 ip daddr != 10.244.0.0/16 masquerade
	}
}
""", "5 masquerade", "ip nat POSTROUTING line 4"),
}


@pytest.mark.parametrize("name", sorted(_OTHER_TABLES))
def test_other_tables_breaking_a_promise_are_named(name):
    from spec.proxy.manifests import load_cluster

    table, prop, where = _OTHER_TABLES[name]
    text = (FIXTURES / "kubeadm-flannel.nft").read_text().split("table ip kube-proxy", 1)[1]
    report = _verify(load_cluster([str(NODE)]), NODE_OPTS, table + "table ip kube-proxy" + text)
    assert not report.violations, report.violations[0].render()
    broken = [x for x in report.interference if x.prop == prop]
    assert broken and any(where in step for x in broken for step in x.foreign), broken[0].render() if broken else ""


def test_accept_in_another_base_chain_does_not_skip_kube_proxys():
    """nftables: `accept` ends one base chain; kube-proxy's chains at the same hook still run (a DNAT-less accept
    at nat prerouting before kube-proxy's, and a filter chain accepting everything)."""
    from spec.proxy.manifests import load_cluster

    others = """table inet early {
	chain pre {
		type nat hook prerouting priority dstnat - 10; policy accept;
		accept
	}
	chain fwd {
		type filter hook forward priority filter - 10; policy accept;
		meta l4proto tcp accept
	}
}
"""
    text = (FIXTURES / "kubeadm-flannel.nft").read_text().split("table ip kube-proxy", 1)[1]
    report = _verify(load_cluster([str(NODE)]), NODE_OPTS, others + "table ip kube-proxy" + text)
    assert report.ok and not report.interference, [x.render() for x in report.interference][:1]


def test_other_tables_rules_read_tolerantly():
    dump, others = to_dump(parse_ruleset((FIXTURES / "kubeadm-flannel-handles.nft").read_text(), "h.nft"), "h.nft")
    assert others == ["ip6 kube-proxy"]
    assert dump.stages["INPUT"] == ((10, "inet firewalld", "filter_INPUT", False),)
    rules = dump.tables["inet firewalld"]["filter_INPUT"].rules
    assert rules[0].match.ctstate is not None and rules[0].match.ctstate.states == {"ESTABLISHED", "RELATED"}
    assert rules[2].match.iif is not None and rules[2].match.iif.name == "lo"
    assert [o.key for o in rules[3].match.opaque] == ["ip saddr @allowed-hosts tcp dport { 22, 443 }"]
    assert all(r.owner == "inet firewalld" for r in rules)
    docker = dump.tables["ip nat"]["DOCKER"].rules
    assert docker[1].match.iif is not None and docker[1].match.iif.negated
    assert docker[1].target is not None and docker[1].target.name == "DNAT" and docker[1].target.to == "172.17.0.2:80"


OVERALL_MUTATIONS = {
    "service element removed": (lambda t: t.replace(
        "add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto service-ULMVA6XW-ns1/svc1/tcp/p80 }\n",
        ""), "1 routing"),
    "dnat port changed": (lambda t: t.replace("dnat to 10.180.0.4:80", "dnat to 10.180.0.4:8080"), "1 routing"),
    "numgen to one endpoint": (lambda t: t.replace("1 : goto endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80",
                                                   "1 : goto endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80"),
                               "3 balance"),
    "masquerade mark removed": (lambda t: t.replace(
        "add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 ip daddr 172.30.0.41 ip saddr != 10.0.0.0/8 jump "
        "mark-for-masquerade\n", ""), "5 masquerade"),
    "affinity timeout": (lambda t: t.replace("timeout 10800s", "timeout 60s"), "4 affinity"),
    "source range widened": (lambda t: t.replace("ip saddr != { 203.0.113.0/25 } drop",
                                                 "ip saddr != { 203.0.113.0/24 } drop"), "1 routing"),
    "local-policy drop removed": (
        lambda t: re.sub(r"^add element ip kube-proxy no-endpoint-services \{ 1\.2\.3\.4 .*\n", "", t, flags=re.M),
        "1 routing"),
    "foreign destination rewritten": (lambda t: t + "add element ip kube-proxy service-ips { 172.30.0.99 . tcp . 80 : "
                                                    "goto service-ULMVA6XW-ns1/svc1/tcp/p80 }\n", "2 isolation"),
    "masquerading skipped": (lambda t: t.replace("add rule ip kube-proxy nat-postrouting jump masquerading\n", ""),
                             "5 masquerade"),
    # Hairpin (v1.34's per-endpoint chains mark an endpoint's own packets, local or not, as iptables mode does).
    "hairpin mark of a local endpoint removed": (lambda t: t.replace(
        "add rule ip kube-proxy endpoint-5RFCDDV7-ns4/svc4/tcp/p80__10.180.0.5/80 ip saddr 10.180.0.5 jump "
        "mark-for-masquerade\n", ""), "5 masquerade"),
    "hairpin mark of a remote endpoint removed": (lambda t: t.replace(
        "add rule ip kube-proxy endpoint-UNZV3OEC-ns4/svc4/tcp/p80__10.180.0.4/80 ip saddr 10.180.0.4 jump "
        "mark-for-masquerade\n", ""), "5 masquerade"),
}


@pytest.mark.parametrize("name", sorted(OVERALL_MUTATIONS))
def test_mutation_is_caught(overall, name):
    mutate, prop = OVERALL_MUTATIONS[name]
    text = sync_nftables(overall, NFT_OPTS)
    mutated = mutate(text)
    assert mutated != text
    report = _verify(overall, NFT_OPTS, mutated)
    assert not report.ok
    assert report.violations[0].prop == prop, report.violations[0].render()


@pytest.mark.parametrize(("text", "fragment"), [
    ("add table ip kube-proxy\nadd rule ip kube-proxy nowhere drop\n", "not declared before it (n:2)"),
    ("add table ip kube-proxy\nadd chain ip kube-proxy c\nadd rule ip kube-proxy c ip daddr 1.2.3.999 drop\n",
     "bad address '1.2.3.999' (n:3)"),
    ("add table ip kube-proxy\nadd chain ip kube-proxy c\nadd rule ip kube-proxy c tcp flags syn drop\n",
     "expression not modelled"),
    ("add table ip kube-proxy\nadd chain ip kube-proxy c\nadd rule ip kube-proxy c jump nowhere\n", "no such chain"),
    ("add table ip kube-proxy\nadd chain ip kube-proxy c { type filter hook input priority bogus ; }\n",
     "bad priority 'bogus'"),
    ("add table ip kube-proxy\nadd chain ip kube-proxy c\nadd rule ip kube-proxy c numgen random mod 2 vmap "
     "{ 0 : goto c }\n", "maps 1 values"),
    ("table ip kube-proxy {\n\tchain c {\n", "unterminated block"),
    ("add table ip other\n", "no table ip kube-proxy"),
])
def test_bad_rulesets_name_the_line(text, fragment):
    with pytest.raises(InputError) as err:
        to_dump(parse_ruleset(text, "n"), "n")
    assert fragment in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SERVICE, min_size=1, max_size=3), st.sampled_from([None, "10.0.0.0/8"]), st.booleans(),
       st.sampled_from([(1, 34), (1, 36)]))
def test_generated_rules_always_verify(services, cidr, masquerade_all, version):
    """The nftables formats from v1.34 on verify over random Services (v1.31-v1.33's drops this host's traffic to a
    Local-policy external address without local endpoints: test_v131_...)."""
    cluster = parse_cluster("\n---\n".join(_manifest(i, s) for i, s in enumerate(services)), "gen.yaml")
    opts = ProxierOptions(node_name="node-a", node_ips=("192.168.0.2",), cluster_cidr=cidr, mode="nftables",
                          masquerade_all=masquerade_all, localhost_nodeports=False, version=version)
    opts = attrs.evolve(opts, nodeport_addresses=nodeport_addresses(opts))
    report = _verify(cluster, opts, sync_nftables(cluster, opts))
    assert report.ok, "\n".join(v.render() for v in report.violations)


def test_cli_rules(overall):
    runner = CliRunner()
    out = runner.invoke(proxy, ["rules", "-f", str(FIXTURES / "overall.yaml"), "--node", "test-node", "--node-ip",
                                "192.168.0.2", "--cluster-cidr", "10.0.0.0/8", "--masquerade-mark", "0x4000",
                                "--service-cidr", "172.30.0.0/16", "--mode", "nftables", "--kube-proxy-version",
                                "1.34"])
    assert out.exit_code == 0 and _sorted(out.output) == _sorted(
        (FIXTURES / "overall-nftables.expected").read_text())


def test_cli_rules_default_to_the_newest_format():
    """Without --kube-proxy-version the newest release's format (v1.36: DNAT through a numgen map, hairpin set)."""
    out = CliRunner().invoke(proxy, [
        "rules", "-f", str(FIXTURES / "upstream" / "overall-later.yaml"), "--node", "test-node", "--node-ip",
        "192.168.0.2", "--cluster-cidr", "10.0.0.0/8", "--masquerade-mark", "0x4000", "--service-cidr",
        "172.30.0.0/16", "--mode", "nftables"])
    assert out.exit_code == 0 and _sorted(out.output) == _sorted(
        (FIXTURES / "upstream" / "nftables-overall-later.expected").read_text())


def test_nftables_mode_before_its_modelled_releases_is_one_line_exit_2():
    out = CliRunner().invoke(proxy, ["rules", "-f", str(FIXTURES / "overall.yaml"), "--node", "test-node",
                                     "--mode", "nftables", "--kube-proxy-version", "1.29"])
    assert out.exit_code == 2 and "modelled from 1.31" in out.output and "Traceback" not in out.output


HANDLES = FIXTURES / "kubeadm-flannel-handles.nft"
# Mutations of kube-proxy's table in `nft -a list ruleset` format (handles, counters, live elements around them).
LISTED_MUTATIONS = {
    "service element removed": (lambda t: t.replace(
        ",\n\t\t\t     10.103.41.7 . tcp . 80 : goto service-KHN6ECMT-shop/web/tcp/http }", " }"), "1 routing"),
    "dnat port changed": (lambda t: t.replace("dnat to 10.244.2.9:8080", "dnat to 10.244.2.9:8081"), "1 routing"),
    "numgen to one endpoint": (lambda t: t.replace(
        "1 : goto endpoint-OUWFV532-shop/node-exporter/tcp/metrics__192.168.56.12/9100",
        "1 : goto endpoint-AJTORIV6-shop/node-exporter/tcp/metrics__192.168.56.11/9100"), "3 balance"),
    "masquerade removed": (lambda t: re.sub(r"\t\tmasquerade fully-random # handle \d+\n", "", t), "5 masquerade"),
    "affinity timeout shortened": (lambda t: t.replace("timeout 10m\n", "timeout 1m\n", 1), "4 affinity"),
    "foreign address rewritten": (lambda t: t.replace(
        "10.103.41.7 . tcp . 80 : goto service-KHN6ECMT-shop/web/tcp/http }",
        "10.103.41.7 . tcp . 80 : goto service-KHN6ECMT-shop/web/tcp/http,\n\t\t\t     10.103.41.99 . tcp . 80 "
        ": goto service-KHN6ECMT-shop/web/tcp/http }"), "2 isolation"),
}


def test_listed_ruleset_with_handles_counters_and_other_tables():
    """`nft -a list ruleset`: `# handle N` after every object, counters on rules, an affinity set holding live
    clients (`timeout 10m expires 9m58s312ms`), a flowtable and an interval set in firewalld's inet table,
    iptables-nft's ip nat table of Docker (with `xt match`), and kube-proxy's ip6 table: read, kube-proxy's ip
    table verified, the other IPv4 tables checked for interference; the ip6 table named as not considered."""
    text = HANDLES.read_text()
    assert "# handle" in text and "expires" in text and "flowtable" in text
    tables = parse_ruleset(text, "h.nft")
    assert {(t.family, t.name) for t in tables} >= {("ip", "nat"), ("inet", "firewalld"), ("ip6", "kube-proxy")}
    runner = CliRunner()
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--cluster-cidr", "10.244.0.0/16", "--nft-ruleset",
                                str(HANDLES)])
    assert out.exit_code == 0, out.output
    assert "not considered (no IPv4 packet traverses them): ip6 kube-proxy" in out.output
    # Docker's iptables-nft FORWARD chain (policy drop) is another component's: named, not kube-proxy's fault.
    assert "NOT KUBE-PROXY'S (1 routing)" in out.output and "ip filter FORWARD policy DROP" in out.output
    assert "verified: 4 services" in out.output


@pytest.mark.parametrize("name", sorted(LISTED_MUTATIONS))
def test_listed_mutation_is_caught(name):
    from spec.proxy.manifests import load_cluster

    mutate, prop = LISTED_MUTATIONS[name]
    text = HANDLES.read_text()
    mutated = mutate(text)
    assert mutated != text
    report = _verify(load_cluster([str(NODE)]), NODE_OPTS, mutated)
    assert not report.ok
    assert report.violations[0].prop == prop, report.violations[0].render()


@pytest.mark.parametrize(("text", "fragment"), [
    ("table ip kube-proxy { # handle 3\n\tchain c { # handle 1\n\t\ttcp flags syn drop # handle 2\n\t}\n}\n",
     "expression not modelled"),
    ("table ip kube-proxy {\n\tflowtable f {\n\t\thook ingress priority 0\n}\n", "unterminated block"),
    ('table ip kube-proxy {\n\tchain c {\n\t\tip daddr 10.0.0.1 drop comment "# not a comment\n\t}\n}\n', "(n:3)"),
])
def test_bad_listed_rulesets_name_the_line(text, fragment):
    with pytest.raises(InputError) as err:
        to_dump(parse_ruleset(text, "n"), "n")
    assert fragment in str(err.value) and "\n" not in str(err.value)


LATER = FIXTURES / "upstream" / "nftables-overall-later.expected"
LATER_INPUTS = FIXTURES / "upstream" / "overall-later.yaml"
# Mutations of upstream's later nftables format (TestOverallNFTablesRules at jesseward/kubernetes 5ec89f4).
LATER_MUTATIONS = {
    "hairpin element removed": (lambda t: t.replace(
        "add element ip kube-proxy hairpin-connections { 10.180.0.5 . 10.180.0.5 . tcp . 80 }\n", ""),
        "5 masquerade"),
    "numgen DNAT port changed": (lambda t: t.replace("1 : 10.180.0.5 . 80 }", "1 : 10.180.0.5 . 81 }"), "1 routing"),
    "masquerade statement dropped": (lambda t: t.replace(
        "mark and 0x4000 != 0 mark set mark xor 0x4000 masquerade fully-random",
        "mark and 0x4000 != 0 mark set mark xor 0x4000 accept"), "5 masquerade"),
    "hairpin masquerade rule removed": (lambda t: t.replace(
        "add rule ip kube-proxy masquerading ct status dnat ip saddr . ip daddr . meta l4proto . th dport "
        "@hairpin-connections masquerade fully-random\n", ""), "5 masquerade"),
    "hairpin rule without ct status dnat": (lambda t: t.replace(
        "masquerading ct status dnat ip saddr . ip daddr", "masquerading ct status snat ip saddr . ip daddr"),
        "5 masquerade"),
    "remote endpoint added to the hairpin set": (lambda t: t + (
        "add element ip kube-proxy hairpin-connections { 10.180.0.4 . 10.180.0.4 . tcp . 80 }\n"), "5 masquerade"),
    "clusterIP masquerade inverted": (lambda t: t.replace(
        "ip daddr @cluster-ips ip saddr != 10.0.0.0/8 mark set", "ip daddr @cluster-ips ip saddr 10.0.0.0/8 mark set"),
        "5 masquerade"),
}


def test_later_upstream_nftables_format_verifies():
    """Upstream's later nftables rules (DNAT through a numgen map, hairpin-connections, the cluster-IP masquerade
    in `services`, one masquerading rule), as its TestOverallNFTablesRules expects them, verify."""
    from spec.proxy.manifests import load_cluster

    report = _verify(load_cluster([str(LATER_INPUTS)]), NFT_OPTS, LATER.read_text())
    assert report.ok, "\n".join(v.render() for v in report.violations)
    assert report.frontends == 13


@pytest.mark.parametrize("name", sorted(LATER_MUTATIONS))
def test_later_format_mutation_is_caught(name):
    from spec.proxy.manifests import load_cluster

    mutate, prop = LATER_MUTATIONS[name]
    text = LATER.read_text()
    assert mutate(text) != text
    report = _verify(load_cluster([str(LATER_INPUTS)]), NFT_OPTS, mutate(text))
    assert not report.ok and report.violations[0].prop == prop, report.violations[0].render()


def test_hairpin_is_judged_in_the_v136_format():
    """A pod reaching its own Service and landing on itself is masqueraded (hairpin-connections, v1.36): removing
    the rule names that packet; a remote endpoint's own packet is not masqueraded here, and adding it to the set
    is reported as masquerade upstream does not apply."""
    from spec.proxy.manifests import load_cluster

    cluster = load_cluster([str(LATER_INPUTS)])
    text = LATER.read_text()
    missing = _verify(cluster, NFT_OPTS, LATER_MUTATIONS["hairpin masquerade rule removed"][0](text))
    hairpins = [v for v in missing.violations if "missing where upstream marks" in v.message]
    assert hairpins and all(v.frontend.startswith(("ns1/svc1", "ns3/svc3", "ns4/svc4", "ns5/svc5")) for v in hairpins)
    rendered = hairpins[0].render()
    src = re.search(r"packet:\s+tcp (\S+) ->", rendered)
    assert src and src.group(1) in ("10.180.0.1", "10.180.0.3", "10.180.0.5"), rendered
    extra = _verify(cluster, NFT_OPTS, LATER_MUTATIONS["remote endpoint added to the hairpin set"][0](text))
    assert [v.frontend for v in extra.violations][:1] == ["ns4/svc4:p80 cluster IP 172.30.0.44:80/TCP"]
    assert "applied where upstream does not mark" in extra.violations[0].message
    assert "10.180.0.4 -> 172.30.0.44:80" in extra.violations[0].render()


V131 = FIXTURES / "upstream" / "nftables-overall-1.31.expected"


def test_v131_upstream_format_drops_host_traffic_to_local_policy_services_kubernetes_131765(overall):
    """v1.31-v1.33's format (filter chains at -110, filter-output-post-dnat at -90, the port in the cluster-IP
    masquerade rule) is verified as it is: its filter-output runs before DNAT, so this host's own connections to
    svc2's external and load-balancer IPs (externalTrafficPolicy Local, no local endpoint) hit the
    no-endpoint-services drop instead of the short-circuit to the cluster-wide endpoints (kubernetes#131765, fixed
    by PR #132456 in v1.34). Nothing else fails; a wrong port in the masquerade rule is caught besides."""
    opts = attrs.evolve(NFT_OPTS, version=(1, 31))
    text = V131.read_text()
    report = _verify(overall, opts, text)
    assert {(v.prop, v.frontend) for v in report.violations} == {
        ("1 routing", "ns2/svc2:p80 external IP 192.168.99.22:80/TCP"),
        ("1 routing", "ns2/svc2:p80 load-balancer IP 1.2.3.4:80/TCP")}
    assert all("from a process on this node" in v.render() and "DROP" in v.render() for v in report.violations)
    assert not _verify(overall, attrs.evolve(NFT_OPTS, version=(1, 34)), sync_nftables(
        overall, attrs.evolve(NFT_OPTS, version=(1, 34)))).violations
    mutated = text.replace("ip daddr 172.30.0.41 tcp dport 80 ip saddr != 10.0.0.0/8 jump mark-for-masquerade",
                           "ip daddr 172.30.0.41 tcp dport 81 ip saddr != 10.0.0.0/8 jump mark-for-masquerade")
    assert mutated != text
    bad = _verify(overall, opts, mutated)
    assert any(v.prop == "5 masquerade" and v.frontend.startswith("ns1/svc1") for v in bad.violations)
