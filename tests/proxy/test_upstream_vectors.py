"""`proxy rules` per release compared with upstream's own expected iptables-restore data.

The vectors, their inputs and where each was read (repository, commit, file, test, and the markers that date
it) are listed in tests/proxy/fixtures/upstream/vectors.yaml. Our output is normalised with a port of
upstream's sortIPTablesRules (spec.proxy.iptables.sort_iptables_rules), as upstream's assertIPTablesRulesEqual
normalises the proxier's output, and compared line for line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from spec.proxy.iptables import render, sort_iptables_rules, sync_proxy_rules
from spec.proxy.manifests import load_cluster
from spec.proxy.nftables import sync_nftables
from tests.proxy.conftest import UPSTREAM_TEST_OPTIONS

UPSTREAM = Path(__file__).parent / "fixtures" / "upstream"
VECTORS: list[dict[str, Any]] = yaml.safe_load((UPSTREAM / "vectors.yaml").read_text())


def _nft_sorted(text: str) -> list[str]:
    """assertNFTablesTransactionEqual's normalisation (pkg/proxy/nftables/helpers_test.go): comments and blank
    lines dropped, the lines sorted."""
    return sorted(line for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _generate(vector: dict[str, Any]) -> list[str]:
    major, minor = (int(part) for part in vector["version"].split("."))
    opts = attrs.evolve(UPSTREAM_TEST_OPTIONS, version=(major, minor))
    cluster = load_cluster([str(UPSTREAM / vector["inputs"])])
    if vector.get("mode") == "nftables":
        opts = attrs.evolve(opts, mode="nftables", service_cidrs=("172.30.0.0/16",), localhost_nodeports=False,
                            nodeport_addresses=("192.168.0.2",))
        return _nft_sorted(sync_nftables(cluster, opts))
    return sort_iptables_rules(render(sync_proxy_rules(cluster, opts))).splitlines()


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_release_rules_equal_upstream_vector(vector: dict[str, Any]) -> None:
    assert vector["sources"] and all(len(s["commit"]) == 40 for s in vector["sources"])
    expected = (UPSTREAM / vector["expected"]).read_text()
    want = _nft_sorted(expected) if vector.get("mode") == "nftables" else expected.splitlines()
    assert _generate(vector) == want


def test_every_supported_release_before_the_newest_has_a_vector() -> None:
    assert {v["version"] for v in VECTORS if v.get("mode") is None} >= {"1.28", "1.29", "1.30", "1.31"}
    assert {v["version"] for v in VECTORS if v.get("mode") == "nftables"} == {"1.31", "1.34", "1.36"}


@pytest.mark.parametrize("version", [(1, 31), (1, 32), (1, 33), (1, 34), (1, 35), (1, 36)])
def test_each_release_writes_the_nftables_format_of_its_era(version: tuple[int, int]) -> None:
    """--kube-proxy-version picks the vector of the newest format at or before it."""
    era = max(v for v in ((1, 31), (1, 34), (1, 36)) if v <= version)
    vector = next(v for v in VECTORS if v.get("mode") == "nftables" and v["version"] == f"{era[0]}.{era[1]}")
    assert _generate({**vector, "version": f"{version[0]}.{version[1]}"}) == _nft_sorted(
        (UPSTREAM / vector["expected"]).read_text())


def test_nftables_formats_differ_where_upstream_changed_them() -> None:
    texts = {v["version"]: set(_nft_sorted((UPSTREAM / v["expected"]).read_text()))
             for v in VECTORS if v.get("mode") == "nftables"}
    assert any("filter-output-post-dnat" in line for line in texts["1.31"] - texts["1.34"])
    assert any("mark-for-masquerade" in line for line in texts["1.34"] - texts["1.36"])
    assert any("hairpin-connections" in line for line in texts["1.36"] - texts["1.34"])


def test_release_formats_differ_where_upstream_changed_them() -> None:
    """The vectors are not all one text: the 1.30 and 1.31 ones differ exactly in the nfacct rules."""
    by_name = {v["name"]: (UPSTREAM / v["expected"]).read_text().splitlines() for v in VECTORS}
    only_31 = set(by_name["overall-1.31"]) - set(by_name["overall-1.30"])
    only_30 = set(by_name["overall-1.30"]) - set(by_name["overall-1.31"])
    assert only_31 and all("nfacct" in line for line in only_31)
    assert only_30 == {"-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"}


def test_sort_iptables_rules_orders_as_upstream() -> None:
    """Cases of upstream's TestSortIPTablesRules ("unexpected junk lines are preserved")."""
    text = "\n".join([
        "*filter", "COMMIT", "*nat", ":KUBE-SERVICES - [0:0]", ":KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]",
        ":KUBE-AAAAA - [0:0]", ":KUBE-ZZZZZ - [0:0]", ":WHY-IS-THIS-CHAIN-HERE - [0:0]",
        '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" svc2 line 1',
        "-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination "
        "10.180.0.2:80",
        '-A KUBE-ZZZZZ -m comment --comment "mystery chain number 1"',
        "-A KUBE-SERVICES -m comment --comment ns2/svc2 svc2 line 2",
        "-A WHY-IS-THIS-CHAIN-HERE -j ACCEPT",
        '-A KUBE-SERVICES -m comment --comment "ns2/svc2 blah" svc2 line 3',
        '-A KUBE-AAAAA -m comment --comment "mystery chain number 2"', "COMMIT", ""])
    assert sort_iptables_rules(text).splitlines() == [
        "*filter", "COMMIT", "*nat", ":KUBE-SERVICES - [0:0]", ":KUBE-AAAAA - [0:0]",
        ":KUBE-SEP-RS4RBKLTHTF2IUXJ - [0:0]", ":KUBE-ZZZZZ - [0:0]", ":WHY-IS-THIS-CHAIN-HERE - [0:0]",
        '-A KUBE-SERVICES -m comment --comment "ns2/svc2:p80 cluster IP" svc2 line 1',
        "-A KUBE-SERVICES -m comment --comment ns2/svc2 svc2 line 2",
        '-A KUBE-SERVICES -m comment --comment "ns2/svc2 blah" svc2 line 3',
        '-A KUBE-AAAAA -m comment --comment "mystery chain number 2"',
        "-A KUBE-SEP-RS4RBKLTHTF2IUXJ -m comment --comment ns2/svc2:p80 -m tcp -p tcp -j DNAT --to-destination "
        "10.180.0.2:80",
        '-A KUBE-ZZZZZ -m comment --comment "mystery chain number 1"',
        "-A WHY-IS-THIS-CHAIN-HERE -j ACCEPT", "COMMIT"]
    with pytest.raises(ValueError, match="undeclared chain"):
        sort_iptables_rules("*nat\n-A KUBE-X -j ACCEPT\nCOMMIT\n")


IPVS_VECTORS: list[dict[str, Any]] = yaml.safe_load((UPSTREAM / "ipvs-vectors.yaml").read_text())


@pytest.mark.parametrize("vector", IPVS_VECTORS, ids=[v["name"] for v in IPVS_VECTORS])
def test_ipvs_mode_rules_equal_upstream_vector(vector: dict[str, Any]) -> None:
    """IPVS mode as upstream's checkIptables / checkIPSet / checkIPVS check it: each listed chain's rules, in order
    (jump target, matched set, source address), the listed sets' members, and the listed virtual servers'
    real servers."""
    from spec.proxy import ipvs
    from spec.proxy.manifests import parse_cluster
    from spec.proxy.parse import parse_dump

    cluster = parse_cluster(vector["manifests"], vector["name"])
    opts = attrs.evolve(UPSTREAM_TEST_OPTIONS, mode="ipvs", cluster_cidr=None)
    dump = parse_dump(ipvs.render_iptables(cluster, opts), "rules")
    for chain, want in vector["chains"].items():
        table = "filter" if chain in ("KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL") else "nat"
        found = dump.chain(table, chain)
        assert found is not None, chain
        have = []
        for rule in found.rules:
            sets = [o.key.split()[3] for o in rule.match.opaque if o.key.startswith("-m set --match-set")]
            entry = {"jump": rule.target.name if rule.target else None}
            if sets:
                entry["set"] = sets[0]
            if rule.match.src is not None:
                entry["source"] = str(rule.match.src.network)
            have.append(entry)
        assert have == want, chain
    sets = ipvs.expected_sets(cluster, opts)
    for name, members in vector.get("sets", {}).items():
        assert sorted(",".join(m) for m in sets[name]) == sorted(members), name
    servers = {f"{v.address}:{v.port}": v for v in ipvs.virtual_servers(cluster, opts)}
    for address, reals in vector.get("real_servers", {}).items():
        assert [f"{r.address}:{r.port}" for r in servers[address].real_servers] == reals
