"""IPVS mode: a node's `ipvsadm -Sn` verified against the manifests; every mutation is caught, naming the line."""

import pytest
from click.testing import CliRunner

from checker.errors import InputError
from spec.proxy import ipvs
from spec.proxy.cli import proxy
from spec.proxy.manifests import load_cluster
from spec.proxy.model import ProxierOptions
from tests.proxy.conftest import FIXTURES

NODE = FIXTURES / "kubeadm-flannel.yaml"
OPTS = ProxierOptions(node_name="worker-1", node_ips=("192.168.56.11",), cluster_cidr="10.244.0.0/16")


def _saved() -> str:
    return ipvs.render_saved(ipvs.virtual_servers(load_cluster([str(NODE)]), OPTS))


def _check(text: str) -> list[str]:
    return ipvs.verify_ipvs(load_cluster([str(NODE)]), OPTS, ipvs.parse_ipvsadm(text, "ipvs.txt"), "ipvs.txt")


def test_generated_table_verifies():
    assert _check(_saved()) == []


MUTATIONS = {
    "endpoint missing": (lambda t: t.replace("-a -u 10.96.0.10:53 -r 10.244.0.3:53 -m -w 1\n", ""),
                         "VIOLATED (1 routing): kube-system/kube-dns:dns UDP 10.96.0.10:53: real servers differ "
                         "from the usable endpoints (ipvs.txt:3); missing: 10.244.0.3:53"),
    "weight 0 drains": (lambda t: t.replace("-r 10.244.0.3:53 -m -w 1", "-r 10.244.0.3:53 -m -w 0", 1), "missing"),
    "stale endpoint": (lambda t: t + "-a -t 10.96.0.1:443 -r 192.168.56.99:6443 -m -w 1\n", "not endpoints"),
    "gatewaying": (lambda t: t.replace("-r 192.168.56.10:6443 -m", "-r 192.168.56.10:6443 -g"), "masquerade mode"),
    "hashing scheduler": (lambda t: t.replace("-A -t 10.96.0.1:443 -s rr", "-A -t 10.96.0.1:443 -s sh"),
                          "VIOLATED (3 balance)"),
    "unequal weights": (lambda t: t.replace("-r 10.244.0.3:53 -m -w 1", "-r 10.244.0.3:53 -m -w 3", 1),
                        "VIOLATED (3 balance)"),
    "persistence lost": (lambda t: t.replace(" -p 600", "", 1), "VIOLATED (4 affinity)"),
    "persistence added": (lambda t: t.replace("-A -t 10.96.0.1:443 -s rr", "-A -t 10.96.0.1:443 -s rr -p"),
                          "persistence 300 where sessionAffinity asks none"),
    "service missing": (lambda t: "\n".join(x for x in t.splitlines() if "10.108.2.20" not in x) + "\n",
                        "no virtual service"),
    "foreign service": (lambda t: t + "-A -t 10.9.9.9:80 -s rr\n", "VIOLATED (2 isolation)"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutation_is_caught(name):
    mutate, fragment = MUTATIONS[name]
    text = _saved()
    assert mutate(text) != text
    problems = _check(mutate(text))
    assert problems and fragment in problems[0], problems


@pytest.mark.parametrize(("text", "fragment"), [
    ("-A -t 10.0.0.1:99999 -s rr\n", "port 99999 out of range (0-65535) (ipvs.txt:1)"),
    ("-A -t 10.0.0.999:80 -s rr\n", "bad address '10.0.0.999' (ipvs.txt:1)"),
    ("-A -t 10.0.0.1:80 -s rr\n-A -t 10.0.0.1:80 -s rr\n", "given twice (ipvs.txt:2)"),
    ("-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w 1\n", "a service not added before it (ipvs.txt:1)"),
    ("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.1.1.1:80 -m -w x\n", "bad weight 'x' (ipvs.txt:2)"),
    ("-X foo\n", "unknown command '-X' (expected -A or -a) (ipvs.txt:1)"),
    ("-A -s rr\n", "exactly one of -t, -u"),
    ("-A -t [fe80::1]:80 -s rr\n", "bad service address"),
])
def test_bad_ipvsadm_names_the_line(text, fragment):
    with pytest.raises(InputError) as err:
        ipvs.parse_ipvsadm(text, "ipvs.txt")
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_cli(tmp_path):
    runner = CliRunner()
    table = tmp_path / "ipvs.txt"
    table.write_text(_saved())
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--ipvsadm", str(table)])
    assert out.exit_code == 0 and "\nverified: 8 virtual services, 14 real servers" in out.output, out.output
    table.write_text(_saved().replace(" -p 600", " -p 60"))
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--ipvsadm", str(table)])
    assert out.exit_code == 1 and "persistence 60 where sessionAffinity asks 600" in out.output
    saved = runner.invoke(proxy, ["rules", "-f", str(NODE), "--node", "worker-1", "--mode", "ipvs",
                                  "--ipvs-format", "save"])
    assert saved.exit_code == 0 and saved.output == _saved()


SHOP = FIXTURES.parents[2] / "spec" / "proxy" / "examples" / "shop.yaml"
SHOP_OPTS = ProxierOptions(node_name="node-a", node_ips=("192.168.1.10",), cluster_cidr="10.244.0.0/16")


def _sets_check(text: str) -> list[str]:
    from spec.proxy.ipset import parse_ipset_save

    return ipvs.verify_ipsets(load_cluster([str(SHOP)]), SHOP_OPTS, parse_ipset_save(text, "sets.txt"), "sets.txt")


def _sets() -> str:
    return ipvs.render_ipsets(load_cluster([str(SHOP)]), SHOP_OPTS)


def test_generated_ipsets_verify_and_spelling_does_not_matter():
    text = _sets()
    assert "add KUBE-LOAD-BALANCER-SOURCE-CIDR 198.51.100.7,tcp:443,203.0.113.0/24" in text
    assert "add KUBE-LOOP-BACK 10.244.1.5,tcp:8080,10.244.1.5" in text
    assert _sets_check(text) == []
    # ipset prints a /32 net as an address and a port without protocol means tcp; counters and timeouts are options.
    respelled = (text.replace("add KUBE-CLUSTER-IP 10.96.0.20,tcp:80", "add KUBE-CLUSTER-IP 10.96.0.20/32,80 "
                              "timeout 0 packets 3 bytes 180"))
    assert _sets_check(respelled) == []


SET_MUTATIONS = {
    "cluster IP not masqueraded": (lambda t: t.replace("add KUBE-CLUSTER-IP 10.96.0.20,tcp:80\n", ""),
                                   "VIOLATED (5 masquerade): set KUBE-CLUSTER-IP lacks 10.96.0.20,tcp:80"),
    "hairpin not masqueraded": (lambda t: t.replace("add KUBE-LOOP-BACK 10.244.1.5,tcp:8080,10.244.1.5\n", ""),
                                "hairpin"),
    "Cluster-policy NodePort kept local": (lambda t: t + "add KUBE-NODE-PORT-LOCAL-TCP 30080\n",
                                           "KUBE-NODE-PORT-LOCAL-TCP holds 30080"),
    "source range widened": (lambda t: t.replace("203.0.113.0/24", "0.0.0.0/0"), "VIOLATED (1 routing)"),
    "firewall set emptied": (lambda t: t.replace("add KUBE-LOAD-BALANCER-FW 198.51.100.7,tcp:443\n", ""),
                             "loadBalancerSourceRanges"),
    "set missing": (lambda t: "\n".join(x for x in t.splitlines() if "KUBE-LOOP-BACK" not in x) + "\n",
                    "set KUBE-LOOP-BACK is not in sets.txt"),
    "wrong type": (lambda t: t.replace("create KUBE-CLUSTER-IP hash:ip,port", "create KUBE-CLUSTER-IP hash:net,port"),
                   "is hash:net,port, not hash:ip,port"),
}


@pytest.mark.parametrize("name", sorted(SET_MUTATIONS))
def test_ipset_mutation_is_caught(name):
    mutate, fragment = SET_MUTATIONS[name]
    text = _sets()
    mutated = mutate(text)
    assert mutated != text
    problems = _sets_check(mutated)
    assert problems and any(fragment in p for p in problems), problems
    assert all("(sets.txt" in p or "is not in sets.txt" in p for p in problems)


def test_cli_ipvs_with_ipsets(tmp_path):
    runner = CliRunner()
    base = ["-f", str(SHOP), "--node", "node-a", "--node-ip", "192.168.1.10", "--cluster-cidr", "10.244.0.0/16"]
    table, sets = tmp_path / "ipvs.txt", tmp_path / "sets.txt"
    table.write_text(runner.invoke(proxy, ["rules", *base, "--mode", "ipvs", "--ipvs-format", "save"]).output)
    sets.write_text(runner.invoke(proxy, ["rules", *base, "--mode", "ipvs", "--ipvs-format", "ipset"]).output)
    out = runner.invoke(proxy, ["verify", *base, "--ipvsadm", str(table), "--ipset", str(sets)])
    assert out.exit_code == 0, out.output
    assert "ipsets: masquerade, source ranges" in out.output and "not verified in IPVS mode" in out.output
    out = runner.invoke(proxy, ["verify", *base, "--ipvsadm", str(table)])
    assert out.exit_code == 0 and "note: not verified: masquerade and loadBalancerSourceRanges" in out.output
    sets.write_text(sets.read_text().replace("add KUBE-CLUSTER-IP 10.96.0.30,tcp:443\n", ""))
    out = runner.invoke(proxy, ["verify", *base, "--ipvsadm", str(table), "--ipset", str(sets)])
    assert out.exit_code == 1 and "KUBE-CLUSTER-IP lacks 10.96.0.30,tcp:443" in out.output
