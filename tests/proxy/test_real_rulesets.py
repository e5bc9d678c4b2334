"""Real rulesets of other components, as their authors posted or recorded them (tests/proxy/fixtures/real/, each
file naming its origin): every one is read, its unmodelled matches named as opaque conditions in the verdict, and
a posting that cannot be read whole is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from spec.proxy.cli import proxy
from spec.proxy.nftables import parse_ruleset, to_dump
from spec.proxy.parse import parse_dump
from tests.proxy.conftest import FIXTURES

REAL = FIXTURES / "real"
# kube-proxy's nftables table of worker-1 (kubeadm-flannel.yaml) with iptables-nft's Docker filter table.
NODE = FIXTURES / "kubeadm-flannel.nft"
NFT = {
    "moby-nftabler.nft": ["-o br-dummy"],
    "temach-flannel-ipv4.nft": [],
    "nixos-81172-nat.nft": ["xt match addrtype", "xt match mark", "xt target MARK (not modelled)"],
    "strongswan-36-nat.nft": ["xt match policy"],
}


def _verify(ruleset: Path, tmp_path: Path) -> Result:
    combined = tmp_path / "node.nft"
    combined.write_text(NODE.read_text() + ruleset.read_text())
    return CliRunner().invoke(proxy, ["verify", "-f", str(FIXTURES / "kubeadm-flannel.yaml"), "--nft-ruleset",
                                      str(combined), "--cluster-cidr", "10.244.0.0/16"])


@pytest.mark.parametrize("name", sorted(NFT))
def test_real_nft_ruleset_is_read_beside_kube_proxys(name: str, tmp_path: Path) -> None:
    """Beside kube-proxy's table each verifies (exit 0: what breaks a promise is another component's), and the
    matches it cannot model are listed."""
    out = _verify(REAL / name, tmp_path)
    assert out.exit_code == 0 and out.exception is None, out.output[-3000:]
    assert "verified:" in out.output
    listed = next((line for line in out.output.splitlines() if line.startswith("opaque conditions")), "")
    assert all(item in listed for item in NFT[name]), listed


def test_iptables_nft_compat_targets_are_read_as_what_they_do() -> None:
    """nft before 1.0 prints an untranslatable iptables-nft target as `# xt_MASQUERADE` mid-rule, nft 1.x as
    `xt target "MASQUERADE"`: both masquerade; `# xt_tcp`-style matches are opaque conditions, not comments."""
    nixos = parse_ruleset((REAL / "nixos-81172-nat.nft").read_text(), "nixos")
    dump, _ = to_dump(parse_ruleset(NODE.read_text(), "node") + nixos, "x")
    post = dump.tables["ip nat"]["POSTROUTING"].rules
    assert post[0].target is not None and post[0].target.name == "MASQUERADE"
    assert post[0].match.oif is not None and post[0].match.oif.negated and post[0].match.src is not None
    pre = dump.tables["ip nat"]["PREROUTING"].rules
    assert [o.key for o in pre[1].match.opaque] == ["xt match addrtype"] and pre[1].target is not None
    swan, _ = to_dump(parse_ruleset(NODE.read_text(), "node") + parse_ruleset(
        (REAL / "strongswan-36-nat.nft").read_text(), "swan"), "x")
    rules = swan.tables["ip nat"]["POSTROUTING"].rules
    assert rules[0].target is not None and rules[0].target.name == "ACCEPT"
    assert [o.key for o in rules[0].match.opaque] == ["xt match policy"]
    assert rules[1].target is not None and rules[1].target.name == "MASQUERADE"


def test_interface_verdict_maps_are_one_rule_per_bridge() -> None:
    """Docker's nftables driver dispatches per bridge with `oifname vmap @filter-forward-in-jumps`."""
    dump, _ = to_dump(parse_ruleset(NODE.read_text(), "node") + parse_ruleset(
        (REAL / "moby-nftabler.nft").read_text(), "moby"), "x")
    rules = dump.tables["ip docker-bridges"]["filter-FORWARD"].rules
    assert [(r.match.oif and r.match.oif.name, r.match.iif and r.match.iif.name, r.target and r.target.name)
            for r in rules] == [("br-dummy", None, "filter-forward-in__br-dummy"),
                                (None, "br-dummy", "filter-forward-out__br-dummy")]


def test_a_posting_cut_short_is_one_line_exit_2() -> None:
    out = CliRunner().invoke(proxy, ["verify", "-f", str(FIXTURES / "kubeadm-flannel.yaml"), "--nft-ruleset",
                                     str(REAL / "temach-kube-proxy-truncated.nft")])
    assert out.exit_code == 2 and "Traceback" not in out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "temach-kube-proxy-truncated.nft:" in lines[0]


def test_real_iptables_save_excerpt_is_read() -> None:
    dump = parse_dump((REAL / "moby-49518-filter.save").read_text(), "moby.save")
    forward = dump.tables["filter"]["FORWARD"]
    assert forward.policy == "DROP" and len(forward.rules) == 19
    assert forward.rules[4].match.iif is not None and forward.rules[4].match.oif is not None
    assert forward.rules[4].match.oif.negated
