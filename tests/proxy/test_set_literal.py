"""A `-m set` match is one condition on the set's members (ipset.resolve_sets, decided by lookup where the path pins
the packet's fields) instead of one rule per member (ipset.expand_sets, the reference semantics): both give the same
verdicts (the property and frontend of every violation, in order) on IPVS mode's rules, their
mutations, other components' set rules and a generated 100-Service set-up, and every counterexample of the set literal
takes a rule path the reference takes. The concrete packet is the solver's choice among all that break the promise,
and with it the sender class the message names (a frontend with a Local policy has several): the two forms'
formulas differ, and so may their choices."""

from __future__ import annotations

import re
from collections.abc import Callable
from ipaddress import IPv4Network as Net
from ipaddress import ip_address
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.bench_proxy import manifests
from spec.proxy import ipvs
from spec.proxy.endpoints import service_ports
from spec.proxy.ipset import IpSet, expand_sets, parse_ipset_save, resolve_sets
from spec.proxy.manifests import load_cluster, parse_cluster
from spec.proxy.model import Cluster, ProxierOptions
from spec.proxy.parse import Dump, parse_dump
from spec.proxy.symbolic import OUTPUT, PREROUTING, Explorer, Pins, State, expand, host, kube_only, member_of
from spec.proxy.verify import Report, Verifier, frontends_of, verify
from tests.proxy.conftest import FIXTURES
from tests.proxy.test_ipset import NODE, SETS, _with_forward_rule
from tests.proxy.test_ipset import OPTS as FLANNEL_OPTS
from tests.proxy.test_ipvs_iptables import EXAMPLES, OPTS, OUT_FILTER, _mutated, _texts
from tests.proxy.test_verify import SERVICE, _manifest

Resolver = Callable[[Dump, dict[str, IpSet]], tuple[Dump, list[str]]]
_NOTE = re.compile(r" \[(?:[^\[\]]* member [^\[\]]*|not in \S+)\]")


def _steps(steps: tuple[str, ...]) -> tuple[str, ...]:
    """Rule path steps without how each form shows a set. The reference turns `CHAIN ... ! --match-set S ... -j T`
    into a jump to CHAIN~setN, whose rules RETURN for each member and then apply the rest of the rule: the jump and
    the RETURNs are left out, the last rule stands as the rule itself. Member notes are left out of both."""
    out: list[str] = []
    for k, step in enumerate(steps):
        helper = re.match(r"(\S+ \S+)~set\d+ (.*)", step)
        if helper is not None:
            if "[not in " not in step:
                out.append(f"{helper.group(1)} {helper.group(2)}")
            continue
        following = steps[k + 1] if k + 1 < len(steps) else ""
        table_chain = " ".join(step.split(" ", 2)[:2])
        if following.startswith(table_chain + "~set"):
            continue  # the jump to the helper chain
        out.append(step)
    # The reference writes the member into the rule's text, which is cut at 200 characters with the rest: each
    # step is compared up to there.
    return tuple(_NOTE.sub("", step)[:150] for step in out)


def _reference_paths(cluster: Cluster, opts: ProxierOptions, dump: Dump, frontend: str) -> set[tuple[str, ...]]:
    """The rule paths the reference explorer finds for the frontend described as `frontend`."""
    verifier = Verifier(cluster, opts, dump)
    for key, svc, port in service_ports(cluster):
        for fe in frontends_of(key, svc, port, opts):
            if fe.describe() != frontend:
                continue
            proto = fe.key.protocol.lower()
            pins = Pins(dst=host(fe.dst), dport=fe.dport, proto=proto) if fe.dst is not None else Pins(
                dst_local=True, dport=fe.dport, proto=proto)
            ex = verifier.explorer
            results = ex.paths(PREROUTING, State(pins=pins)) + ex.paths(OUTPUT, State(pins=pins))
            return {_steps(verifier.rule_path(one)) for r in results for one in expand(r)}
    raise AssertionError(f"no frontend {frontend}")


def _compare(run: Callable[[Resolver], tuple[Report, list[str], Dump]], cluster: Cluster,
             opts: ProxierOptions) -> Report:
    """The verdicts of both forms equal; each counterexample of the set literal is a path of the reference, its
    set matches naming the member the packet is."""
    old, old_left, old_dump = run(expand_sets)
    new, new_left, _ = run(resolve_sets)
    assert new_left == old_left
    # Report.foreign counts the reference's one rule per member as rules of their own: not compared.
    assert (new.ok, new.services, new.ports, new.endpoints, new.frontends, new.opaque) == (
        old.ok, old.services, old.ports, old.endpoints, old.frontends, old.opaque)
    for mine, theirs, dump in ((new.violations, old.violations, kube_only(old_dump) if new.foreign else old_dump),
                               (new.interference, old.interference, old_dump)):
        assert [(v.prop, v.frontend) for v in mine] == [(v.prop, v.frontend) for v in theirs]
        for v in mine:
            for step in v.path:
                if " [" in step and "member " in step:
                    member = step.rsplit(" member ", 1)[1].rstrip("]").split(",")[0]
                    assert member.split(":")[-1] in v.packet or "/" in member or "," in step, (step, v.packet)
            if v.prop in ("1 routing", "5 masquerade"):
                assert _steps(v.path) in _reference_paths(cluster, opts, dump, v.frontend), v.render()
    return new


def _ipvs(cluster: Cluster, texts: tuple[str, str, str], opts: ProxierOptions = OPTS) -> Report:
    rules, sets, table = texts
    saved = ipvs.parse_ipvsadm(table, "table")
    checked = ipvs.verification_options(opts, saved)

    def run(resolver: Resolver) -> tuple[Report, list[str], Dump]:
        dump, left = resolver(parse_dump(rules, "rules"), parse_ipset_save(sets, "sets"))
        dump = ipvs.with_ipvs_stage(dump, saved)
        return verify(cluster, checked, dump), left, dump

    return _compare(run, cluster, checked)


@pytest.mark.parametrize("manifest", [FIXTURES / "overall.yaml", EXAMPLES / "shop.yaml", EXAMPLES / "local-only.yaml"],
                         ids=lambda p: p.name)
@pytest.mark.parametrize("variant", ["cidr", "no detector", "masquerade-all"])
def test_generated_ipvs_rules(manifest: Path, variant: str) -> None:
    cluster = load_cluster([str(manifest)])
    opts = {"cidr": OPTS, "no detector": attrs.evolve(OPTS, cluster_cidr=None),
            "masquerade-all": attrs.evolve(OPTS, masquerade_all=True)}[variant]
    assert _ipvs(cluster, _texts(cluster, opts), opts).ok


MUTATIONS = ["no cluster IP masquerade", "no source-range DROP", "Local load balancer masqueraded", "no hairpin member",
             "Local NodePort marked", "masquerade rule gone", "foreign address marked"]


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_ipvs_mutations(mutation: str) -> None:
    cluster = load_cluster([str(FIXTURES / "overall.yaml")])
    report = _ipvs(cluster, _mutated(*_texts(cluster), mutation))
    assert not report.ok


def test_ipvs_host_filter_and_other_components() -> None:
    cluster = load_cluster([str(FIXTURES / "overall.yaml")])
    rules, sets, table = _texts(cluster)
    assert not _ipvs(cluster, (rules.replace(OUT_FILTER, ""), sets, table)).ok
    moved = rules.replace(OUT_FILTER, OUT_FILTER.replace("-s 5.6.7.8", "-s 192.168.0.2"))
    assert not _ipvs(cluster, (moved, sets, table)).ok
    dropped = rules.replace("-A INPUT -m comment", "-A INPUT -s 203.0.113.0/26 -j DROP\n-A INPUT -m comment", 1)
    assert _ipvs(cluster, (dropped, sets, table)).interference


ALLOWED = "-m set ! --match-set ALLOWED dst,dst -j DROP"


@pytest.mark.parametrize(("rule", "sets"), [
    ("-m set --match-set BLOCKED dst -j DROP", SETS),
    ("-m set --match-set NOTHING dst -j DROP", SETS),
    (ALLOWED, SETS),
    (ALLOWED, SETS.replace("add ALLOWED 10.244.1.5,tcp:8080\n", "")),
    (ALLOWED, SETS.replace("add ALLOWED 10.244.1.5,tcp:8080", "add ALLOWED 10.244.1.5,udp:8080")),
    ("-p tcp -m set --match-set PORTS dst -j DROP", SETS),
    ("-m set --match-set EITHER dst -j DROP", SETS),
    ("-m set ! --match-set EITHER dst -j DROP", SETS),
    ("-m set --match-set ALLOWED dst -j DROP", SETS),  # fewer directions than dimensions: matches nothing
    ("-m set ! --match-set ALLOWED dst -j DROP", SETS),
    ("-m set --match-set ALLOWED src,src -j DROP", SETS),
    ("-m set --match-set MISSING dst -j DROP", SETS),
], ids=lambda x: x if len(x) < 60 else "sets")
def test_other_components_set_rules(rule: str, sets: str) -> None:
    text = _with_forward_rule(rule)

    cluster = load_cluster([str(NODE)])

    def run(resolver: Resolver) -> tuple[Report, list[str], Dump]:
        dump, left = resolver(parse_dump(text, "node.save"), parse_ipset_save(sets, "sets.txt"))
        return verify(cluster, FLANNEL_OPTS, dump), left, dump

    _compare(run, cluster, FLANNEL_OPTS)


@pytest.mark.parametrize("mutation", ["none", "no hairpin member",
                                      pytest.param("foreign address marked", marks=pytest.mark.slow),
                                      pytest.param("Local NodePort marked", marks=pytest.mark.slow)])
def test_generated_100_services(mutation: str) -> None:
    """The benchmark's set-up at 100 Services (every third a NodePort, every fifth with affinity, 10 endpoints
    each), as generated and mutated (12-13 s each at load average 16: two of them run with the slow tests)."""
    opts = ProxierOptions(node_name="node-0", node_ips=("192.168.0.10",), cluster_cidr="10.0.0.0/8", mode="ipvs")
    cluster = parse_cluster(manifests(100), "bench.yaml")
    texts = _texts(cluster, opts)
    if mutation == "no hairpin member":
        rules, sets, table = texts
        texts = (rules, re.sub(r"^add KUBE-LOOP-BACK 10\.100\.7\.1,.*\n", "", sets, flags=re.M), table)
    elif mutation == "Local NodePort marked":
        rules, sets, table = texts
        texts = (rules.replace("-A KUBE-SERVICES -m addrtype", "-A KUBE-SERVICES -d 172.20.0.8 -p tcp --dport 80 "
                               "-j KUBE-MARK-MASQ\n-A KUBE-SERVICES -m addrtype", 1), sets, table)
    elif mutation != "none":
        texts = _mutated(*texts, mutation)
    report = _ipvs(cluster, texts, opts)
    assert report.ok == (mutation == "none")


def _explorer_of(rules: str, sets: str, local: tuple[str, ...] = ("192.168.0.2",)) -> Explorer:
    dump, left = resolve_sets(parse_dump(rules, "rules"), parse_ipset_save(sets, "sets"))
    assert not left
    return Explorer(dump, tuple(Net(f"{a}/32") for a in local))


def _ips(n: int) -> str:
    return "".join(f"add IPS 10.96.{i // 250}.{i % 250 + 1}\n" for i in range(n))


FILTER = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
          "-A FORWARD -m set --match-set IPS dst -j REJECT\n"
          "-A FORWARD -p tcp -m set --match-set PORTS dst -j DROP\nCOMMIT\n")


@pytest.mark.parametrize("members", [3, 3000])
def test_a_set_match_is_one_step_whatever_its_size(members: int) -> None:
    """An unpinned packet meets each set rule once: two outcomes per rule (in the set or not), however many
    members; the reference had one rule, so one branch, per member."""
    sets = (f"create IPS hash:ip\n{_ips(members)}create PORTS bitmap:port range 0-65535\nadd PORTS 30000\n"
            "add PORTS 30001\n")
    ex = _explorer_of(FILTER, sets)
    results = ex.paths(PREROUTING, State())
    assert ex.steps < 40
    assert sorted(r.verdict for r in results) == ["accept", "accept", "drop", "reject"]  # local; forwarded
    reference, _ = expand_sets(parse_dump(FILTER, "rules"), parse_ipset_save(sets, "sets"))
    assert len(reference.tables["filter"]["FORWARD"].rules) == members + 2


def test_a_pinned_destination_decides_membership_by_lookup() -> None:
    sets = f"create IPS hash:ip\n{_ips(3000)}create PORTS bitmap:port range 0-65535\nadd PORTS 30000\n"
    ex = _explorer_of(FILTER, sets)
    inside = ex.paths(PREROUTING, State(pins=Pins(dst=host("10.96.11.250"), dport=80, proto="tcp")))
    assert [(r.verdict, r.state.lits) for r in inside] == [("reject", ())]
    outside = ex.paths(PREROUTING, State(pins=Pins(dst=host("10.97.0.1"), dport=30000, proto="tcp")))
    assert [(r.verdict, r.state.lits) for r in outside] == [("drop", ())]
    through = ex.paths(PREROUTING, State(pins=Pins(dst=host("10.97.0.1"), dport=30002, proto="tcp")))
    assert [(r.verdict, r.state.lits) for r in through] == [("accept", ())]


def test_membership_with_a_symbolic_source_keeps_the_pinned_members_only() -> None:
    """KUBE-LOOP-BACK (dst,dst,src) after DNAT: the destination is known, the source is not: the literal is the
    source of the one member left, and asserting it pins nothing more."""
    rules = ("*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -m set --match-set LB dst,dst,src -j MASQUERADE\n"
             "COMMIT\n")
    sets = "create LB hash:ip,port,ip\n" + "".join(f"add LB 10.1.0.{i},tcp:8080,10.1.0.{i}\n" for i in range(1, 200))
    ex = _explorer_of(rules, sets)
    results = ex.paths(PREROUTING, State(pins=Pins(dst=host("10.1.0.7"), dport=8080, proto="tcp")))
    taken = [r for r in results if r.masquerade]
    assert len(taken) == 1 and len(taken[0].state.lits) == 1
    (left,) = taken[0].state.lits[0].match.sets
    assert left.members == ((("src", Net("10.1.0.7/32")),),)
    assert left.labels == ("LB member 10.1.0.7,tcp:8080,10.1.0.7",)
    assert str(taken[0].state.lits[0].expr) == "src == 167837703"


def test_set_membership_semantics() -> None:
    """Networks hold their addresses, `!` negates, the protocol of a port member counts, an interface member reads
    the packet's interface, fewer directions than dimensions match nothing (ip_set_core.c ip_set_test)."""
    sets = ("create NETS hash:net\nadd NETS 10.0.0.0/8\ncreate PP hash:ip,port\nadd PP 10.2.0.1,udp:53\n"
            "create IF hash:net,iface\nadd IF 10.0.0.0/8,eth1\n")
    match = resolve_sets(parse_dump("*filter\n:INPUT ACCEPT [0:0]\n"
                                    "-A INPUT -m set --match-set NETS dst -m set ! --match-set PP dst,dst "
                                    "-m set --match-set IF src,src -m set --match-set PP dst -j DROP\nCOMMIT\n",
                                    "rules"), parse_ipset_save(sets, "sets"))[0].tables["filter"]["INPUT"].rules[0]
    nets, not_pp, iface, short = match.match.sets
    assert not_pp.negated and not short.members
    values: dict[str, int | str] = {"src": int(ip_address("10.3.0.1")), "dst": int(ip_address("10.2.0.1")),
                                    "dport": 53, "proto": "udp"}
    assert member_of(nets, values, frozenset()) == 0
    assert member_of(not_pp, values, frozenset()) == 0
    assert member_of(not_pp, {**values, "proto": "tcp"}, frozenset()) is None
    assert member_of(iface, values, frozenset({"iif:eth1"})) == 0
    assert member_of(iface, values, frozenset({"iif:eth0"})) is None
    assert member_of(short, values, frozenset()) is None
    ex = Explorer(Dump({}), (Net("192.168.0.2/32"),))
    assert ex.set_residual(nets, Net("10.5.0.0/16"), None, None, None, None) is True
    assert ex.set_residual(nets, Net("11.0.0.0/16"), None, None, None, None) is False
    assert ex.set_residual(nets, Net("0.0.0.0/0"), None, None, None, None) is nets
    assert ex.set_residual(iface, None, None, None, "", None) is False  # a host's own packet has no input interface


EXTRA = ["", "KUBE-CLUSTER-IP 172.30.0.99,tcp:80", "KUBE-LOOP-BACK 10.1.0.1,tcp:8080,10.1.0.2",
         "KUBE-NODE-PORT-TCP 30001", "KUBE-IPVS-IPS 172.30.0.1"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SERVICE, min_size=1, max_size=3), st.sampled_from([None, "10.0.0.0/8"]), st.booleans(),
       st.integers(min_value=-1, max_value=40), st.sampled_from(EXTRA))
def test_random_services_and_sets(services: list[dict[str, object]], cidr: str | None, masquerade_all: bool,
                                  dropped: int, extra: str) -> None:
    """Random Services (types, traffic policies, affinity, source ranges, ready / terminating / gone endpoints on
    two nodes), IPVS mode's rules and table, and their sets with one member left out and one added (a member of
    another Service, a hairpin pair of two endpoints, a NodePort, an address): the same verdicts both ways."""
    cluster = parse_cluster("\n---\n".join(_manifest(i, s) for i, s in enumerate(services)), "gen.yaml")
    opts = ProxierOptions(node_name="node-a", node_ips=("192.168.0.2",), cluster_cidr=cidr,
                          masquerade_all=masquerade_all, mode="ipvs")
    rules, sets, table = _texts(cluster, opts)
    lines = sets.splitlines(keepends=True)
    adds = [k for k, line in enumerate(lines) if line.startswith("add ")]
    if adds and dropped >= 0:
        del lines[adds[dropped % len(adds)]]
    name = extra.split(" ")[0]
    if extra and any(line.startswith(f"create {name} ") for line in lines):
        lines.append(f"add {extra}\n")
    _ipvs(cluster, (rules, "".join(lines), table), opts)
