"""`ipset save` contents decide `-m set` matches: a set that holds an endpoint breaks that Service only, a set that
holds none breaks nothing; without the sets the match is opaque (either way)."""

import pytest
from click.testing import CliRunner

from checker.errors import InputError
from spec.proxy.cli import proxy
from spec.proxy.ipset import parse_ipset_save, resolve_sets
from spec.proxy.manifests import load_cluster
from spec.proxy.model import ProxierOptions
from spec.proxy.parse import parse_dump
from spec.proxy.verify import verify
from tests.proxy.conftest import FIXTURES

NODE = FIXTURES / "kubeadm-flannel.yaml"
SAVE = FIXTURES / "kubeadm-flannel.save"
OPTS = ProxierOptions(node_name="worker-1", node_ips=("192.168.56.11",), cluster_cidr="10.244.0.0/16")
SETS = """create BLOCKED hash:ip family inet hashsize 1024 maxelem 65536 comment
add BLOCKED 10.244.2.9 comment "web pod on worker-2"
create NOTHING hash:net family inet hashsize 1024 maxelem 65536 timeout 300
add NOTHING 203.0.113.0/24 timeout 299 packets 12 bytes 720
create ALLOWED hash:ip,port family inet hashsize 1024 maxelem 65536
add ALLOWED 10.244.0.2,udp:53
add ALLOWED 10.244.0.3,udp:53
add ALLOWED 10.244.0.2,tcp:53
add ALLOWED 10.244.0.3,tcp:53
add ALLOWED 10.244.0.2,tcp:9153
add ALLOWED 10.244.0.3,tcp:9153
add ALLOWED 10.244.1.5,tcp:8080
add ALLOWED 10.244.2.9,tcp:8080
add ALLOWED 192.168.56.10,tcp:6443
add ALLOWED 192.168.56.11,tcp:9100
add ALLOWED 192.168.56.12,tcp:9100
create PORTS bitmap:port range 0-65535
add PORTS 8080
create EITHER list:set size 8
add EITHER NOTHING
add EITHER BLOCKED
create V6 hash:ip family inet6
add V6 fd00::1
"""


def _base() -> str:
    """The node without libvirt's rules (they REJECT what leaves through virbr0, whose routes a dump lacks)."""
    return "\n".join(line for line in SAVE.read_text().splitlines()
                     if "LIBVIRT_FW" not in line and "LIBVIRT_INP" not in line) + "\n"


def _with_forward_rule(rule: str) -> str:
    text = _base()
    anchor = "-A FORWARD -j DOCKER-USER"
    assert anchor in text
    return text.replace(anchor, f"-A FORWARD {rule}\n{anchor}", 1)


def _verify(text: str, sets: str | None = SETS):
    dump = parse_dump(text, "node.save")
    left: list[str] = []
    if sets is not None:
        dump, left = resolve_sets(dump, parse_ipset_save(sets, "sets.txt"))
    return verify(load_cluster([str(NODE)]), OPTS, dump), left


def _broken(report) -> set[str]:
    return {v.frontend.split(" ")[0] for v in report.interference if v.prop == "1 routing"}


def test_a_set_holding_an_endpoint_breaks_its_service_only():
    report, left = _verify(_with_forward_rule("-m set --match-set BLOCKED dst -j DROP"))
    assert not left and "-m set --match-set BLOCKED dst" not in report.opaque
    assert _broken(report) == {"shop/web:http"}
    v = next(v for v in report.interference if v.frontend.startswith("shop/web:http"))
    assert "10.244.2.9" in v.packet and any("BLOCKED member 10.244.2.9" in step for step in v.foreign)


def test_without_the_sets_the_match_is_opaque():
    report, _ = _verify(_with_forward_rule("-m set --match-set BLOCKED dst -j DROP"), sets=None)
    assert "-m set --match-set BLOCKED dst" in report.opaque
    assert {"shop/web:http", "kube-system/kube-dns:dns"} <= _broken(report)  # either way: every forwarded one


def test_a_set_holding_no_endpoint_breaks_nothing():
    report, _ = _verify(_with_forward_rule("-m set --match-set NOTHING dst -j DROP"))
    assert not _broken(report)


def test_negated_set_and_port_dimensions():
    """`! --match-set ALLOWED dst,dst`: everything but the listed endpoint address and port is dropped."""
    report, _ = _verify(_with_forward_rule("-m set ! --match-set ALLOWED dst,dst -j DROP"))
    assert not _broken(report)
    fewer = SETS.replace("add ALLOWED 10.244.1.5,tcp:8080\n", "")
    report, _ = _verify(_with_forward_rule("-m set ! --match-set ALLOWED dst,dst -j DROP"), fewer)
    assert _broken(report) == {"shop/web:http"}
    # The protocol of a member counts: udp:8080 lets no TCP packet through.
    udp = SETS.replace("add ALLOWED 10.244.1.5,tcp:8080", "add ALLOWED 10.244.1.5,udp:8080")
    report, _ = _verify(_with_forward_rule("-m set ! --match-set ALLOWED dst,dst -j DROP"), udp)
    assert _broken(report) == {"shop/web:http"}


def test_bitmap_port_and_list_set():
    report, _ = _verify(_with_forward_rule("-p tcp -m set --match-set PORTS dst -j DROP"))
    assert _broken(report) == {"shop/web:http"}  # its endpoints listen on 8080
    report, _ = _verify(_with_forward_rule("-m set --match-set EITHER dst -j DROP"))
    assert _broken(report) == {"shop/web:http"}


def test_sets_not_modelled_stay_opaque_and_are_named():
    _, left = _verify(_with_forward_rule("-m set --match-set MISSING dst -j DROP"))
    assert left == ["-m set --match-set MISSING dst (not in the ipset file)"]
    nomatch = SETS + "add NOTHING 203.0.113.7 nomatch\n"
    report, left = _verify(_with_forward_rule("-m set --match-set NOTHING dst -j DROP"), nomatch)
    assert left == ["-m set --match-set NOTHING dst (has nomatch members)"]
    assert "-m set --match-set NOTHING dst" in report.opaque


@pytest.mark.parametrize(("text", "fragment"), [
    ("add X 1.2.3.4\n", "not created before it (s:1)"),
    ("create X hash:ip\nadd X 1.2.3.999\n", "bad address '1.2.3.999' (s:2)"),
    ("create X hash:ip,port\nadd X 1.2.3.4,tcp:70000\n", "bad port 'tcp:70000' (s:2)"),
    ("create X hash:ip,port\nadd X 1.2.3.4\n", "does not fit type hash:ip,port (s:2)"),
    ("create X hash:ip\ncreate X hash:ip\n", "created twice (s:2)"),
    ("bogus X\n", "unknown command 'bogus' (s:1)"),
])
def test_bad_ipset_files_name_the_line(text, fragment):
    with pytest.raises(InputError) as err:
        parse_ipset_save(text, "s")
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_cli(tmp_path):
    dump = tmp_path / "node.save"
    dump.write_text(_with_forward_rule("-m set --match-set BLOCKED dst -j DROP"))
    sets = tmp_path / "sets.txt"
    sets.write_text(SETS)
    runner = CliRunner()
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--cluster-cidr", "10.244.0.0/16", "--iptables-save",
                                str(dump), "--ipset", str(sets), "--strict"])
    assert out.exit_code == 1 and "shop/web:http" in out.output and "BLOCKED member 10.244.2.9" in out.output
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--ipset", str(sets)])
    assert out.exit_code == 2 and "give --iptables-save" in out.output
    sets.write_text("create X hash:ip\nadd X nonsense\n")
    out = runner.invoke(proxy, ["verify", "-f", str(NODE), "--iptables-save", str(dump), "--ipset", str(sets)])
    assert out.exit_code == 2 and out.output.count("\n") == 1 and "(" in out.output
