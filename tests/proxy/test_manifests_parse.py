"""Bad manifests and bad dumps: one line naming where."""

import pytest

from checker.errors import InputError
from spec.proxy.manifests import parse_cluster
from spec.proxy.parse import decode, parse_dump
from tests.proxy.conftest import FIXTURES


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("kind: Service\nmetadata: {name: a}\nspec: {clusterIP: 1.2.3.x}\n",
         "t.yaml: document 1 (Service default/a): spec.clusterIP: '1.2.3.x' is not an IP address"),
        ("kind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 99999}]}\n", "spec.ports[0].port"),
        ("kind: Service\nmetadata: {name: a}\nspec: {type: Weird}\n", "spec.type: 'Weird' is not one of"),
        ("---\nkind: EndpointSlice\nmetadata: {name: e}\n", "metadata.labels[kubernetes.io/service-name]"),
        ("kind: [unclosed\n", "malformed YAML"),
        ("- just\n- a list\n", "expected a Kubernetes object"),
    ],
)
def test_bad_manifests(text, fragment):
    with pytest.raises(InputError) as err:
        parse_cluster(text, "t.yaml")
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_defaults():
    cluster = parse_cluster(
        "kind: Service\nmetadata: {name: a, namespace: n}\nspec:\n  clusterIP: 10.0.0.1\n"
        "  sessionAffinity: ClientIP\n  ports: [{port: 80}]\n"
        "  loadBalancerSourceRanges: [' 10.1.2.3/8']\n", "t.yaml")
    svc = cluster.services[0]
    assert svc.sticky_seconds == 10800 and svc.ports[0].protocol == "TCP"
    assert svc.load_balancer_source_ranges == ("10.0.0.0/8",)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("-A X -m statistic --mode fancy -j ACCEPT", "bad statistic mode 'fancy' (dump.txt:3)"),
        ("-A X -j DNAT", "DNAT: you must specify --to-destination (dump.txt:3)"),
        ("-A Y -j ACCEPT", "chain 'Y' does not exist"),
        ("-A X -m addrtype --dst-type NOWHERE -j ACCEPT", "bad address type 'NOWHERE'"),
        ("-A X ! ! -s 1.2.3.4 -j ACCEPT", "multiple consecutive ! not allowed (dump.txt:3)"),
        ("-A X -s 1.2.3.4 !", "! at the end of the rule negates nothing (dump.txt:3)"),
        ("-A X -m conntrack --ctstate BANANA -j ACCEPT", "bad ctstate 'BANANA' (dump.txt:3)"),
        ("-A X -m state --state DNAT -j ACCEPT", "bad ctstate 'DNAT'"),
        ("-A X -p tcp -m tcp --dport 99999 -j ACCEPT", "port 99999 out of range (0-65535) (dump.txt:3)"),
        ("-A X -p tcp --dport 80:70 -j ACCEPT", "port range 80:70 is empty"),
        ("-A X -m mark --mark 0x1ffffffffff -j ACCEPT", "bad mark '0x1ffffffffff' (dump.txt:3)"),
        ("-A X -m mark --mark 4294967296 -j ACCEPT", "out of range"),
        ("-A X -m mark --mark 1" + "0" * 5000 + " -j ACCEPT", "bad mark"),
        ("-A X -m statistic --mode random --probability 1.5 -j ACCEPT", "probability 1.5 is not between 0 and 1"),
        ("-A X -m statistic --mode random --probability -0.5 -j ACCEPT", "bad probability '-0.5'"),
        ("-A X -m statistic --mode random --probability 1e-999999999 -j ACCEPT", "bad probability"),
        ("-A X -j MARK --set-xmark 0x1ffffffffff/0xffffffff", "bad mark '0x1ffffffffff'"),
        ("-A X -j NOWHERE", "couldn't load target 'NOWHERE': no such chain in table nat (dump.txt:3)"),
        ("-A X -j X", "jump loop in table nat: X -> X (dump.txt:3)"),
        ('-A X -m comment --comment "' + "c" * 300 + '" -j ACCEPT', "COMMENT must be shorter than 256"),
        ('-A X -m comment --comment "open -j ACCEPT', "unterminated quote (dump.txt:3)"),
        ("-A X -s 1.2.3.999 -j ACCEPT", "bad address '1.2.3.999'"),
        ("-A X -s fe80::1 -j ACCEPT", "IPv6 address"),
        ("-A X -p bogus -j ACCEPT", "unknown protocol 'bogus'"),
        ("-A X --dport 80 -j ACCEPT", "unknown option '--dport' (no loaded match takes it)"),
        ("-A X -j ACCEPT extra", "bad argument 'extra'"),
        ("-A X -j ACCEPT -j DROP", "multiple -j/-g flags not allowed"),
        ("-A X -j DNAT --to-destination 10.0.0.1:70000", "port 70000 out of range"),
        ("-A X -i " + "e" * 20 + " -j ACCEPT", "bad interface name"),
        (":INPUT MAYBE [0:0]", "can't set policy 'MAYBE' on built-in chain INPUT (ACCEPT or DROP) (dump.txt:3)"),
        (":X - [0:0]", "chain 'X' declared twice (dump.txt:3)"),
        ("*nat", "table *nat starts before COMMIT of *nat (dump.txt:3)"),
        ("-Q X", "unknown command '-Q' (dump.txt:3)"),
        ("[1:2 -A X -j ACCEPT", "bad counters"),
    ],
)
def test_bad_dump_names_the_line(line, fragment):
    with pytest.raises(InputError) as err:
        parse_dump(f"*nat\n:X - [0:0]\n{line}\nCOMMIT\n", "dump.txt")
    assert fragment in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


def test_table_given_twice_and_loops_only_when_real():
    with pytest.raises(InputError, match=r"table nat given twice \(first at line 1\) \(d:3\)"):
        parse_dump("*nat\nCOMMIT\n*nat\nCOMMIT\n", "d")
    # An acyclic chain 200 deep is no loop; a loop through three chains is, named in order.
    chain = "".join(f":C{i} - [0:0]\n" for i in range(201)) + "".join(
        f"-A C{i} -s 10.0.0.{i % 250}/32 -j C{i + 1}\n" for i in range(200))
    dump = parse_dump(f"*filter\n{chain}COMMIT\n", "d")
    assert len(dump.tables["filter"]) == 201
    with pytest.raises(InputError, match=r"jump loop in table filter: A -> B -> C -> A \(d:6\)"):
        parse_dump("*filter\n:A - [0:0]\n:B - [0:0]\n:C - [0:0]\n-A A -j B\n-A C -j A\n-A B -j C\nCOMMIT\n",
                   "d")


def test_non_utf8_and_binary_dumps():
    with pytest.raises(InputError, match=r"not UTF-8 text: byte 0xff \(d:2\)"):
        decode(b"*nat\n-A X \xff\nCOMMIT\n", "d")
    with pytest.raises(InputError, match="UTF-16"):
        decode("*nat\n".encode("utf-16"), "d")
    with pytest.raises(InputError, match="binary"):
        decode(b"\x00\x01\x02", "d")


def test_iptables_s_listing():
    dump = parse_dump("-P PREROUTING ACCEPT\n-N KUBE-SERVICES\n-A PREROUTING -j KUBE-SERVICES\n"
                      "-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -j ACCEPT\n", "s.txt", table="nat")
    assert dump.chain("nat", "PREROUTING").rules[0].target.chain
    with pytest.raises(InputError, match="line outside a table"):
        parse_dump("-A PREROUTING -j ACCEPT\n", "s.txt")


def test_foreign_rules_parse():
    """Rules of CNIs, Docker, libvirt and the AKS local-traffic detector, as iptables-save prints them."""
    dump = parse_dump((FIXTURES / "kubeadm-flannel.save").read_text(), "node.save")
    mangle = dump.chain("mangle", "POSTROUTING").rules[0]
    assert mangle.target.name == "CHECKSUM" and mangle.match.oif.name == "virbr0"
    rule = parse_dump("*filter\n:X - [0:0]\n-A X -m physdev --physdev-is-bridged ! -i azv+ -p udp -m multiport "
                      "--dports 53,5353 -m set --match-set cilium_node_set_v4 dst -m owner --uid-owner 0 -m limit "
                      "--limit 5/min -m recent --set --name KUBE-SEP-X --mask 255.255.255.255 --rsource "
                      "-j LOG --log-prefix \"-- drop: \"\nCOMMIT\n", "x").chain("filter", "X").rules[0]
    assert rule.match.iif.negated and rule.match.iif.wildcard and rule.match.recent.mode == "set"
    assert [o.key for o in rule.match.opaque] == [
        "-m physdev --physdev-is-bridged", "-m multiport --dports 53,5353", "-m set --match-set cilium_node_set_v4 dst",
        "-m owner --uid-owner 0", "-m limit --limit 5/min"]
    assert rule.target.options == ("--log-prefix", "-- drop: ")


def test_long_comments_are_linear():
    """A 5 MB line (what the shlex parser took minutes on) is read and refused at once."""
    line = '-A X -m comment --comment "' + "x" * 5_000_000 + '" -j ACCEPT'
    with pytest.raises(InputError, match="COMMENT must be shorter than 256"):
        parse_dump(f"*nat\n:X - [0:0]\n{line}\nCOMMIT\n", "big")


def test_parse_real_save_syntax():
    dump = parse_dump(
        "# Generated by iptables-save\n*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n"
        "[3:180] -A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES\n"
        "-A KUBE-SERVICES ! -s 10.0.0.0/8 -d 10.96.0.1/32 -p tcp -m tcp --dport 443 -m recent --name A --rcheck "
        "--seconds 10 --reap -m statistic --mode random --probability 0.25 -j MARK --set-xmark 0x4000/0x4000\n"
        "COMMIT\n", "save.txt")
    rule = dump.chain("nat", "KUBE-SERVICES").rules[0]
    assert rule.match.src.negated and rule.match.dport.lo == 443 and rule.match.recent.seconds == 10
    assert rule.target.mark_op == ("set", 0x4000, 0x4000)
    assert dump.chain("nat", "PREROUTING").policy == "ACCEPT"
