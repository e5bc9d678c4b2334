"""The shared, memoised path enumeration of symbolic.py against a plain one, and what its sharing must not hide.

The oracle below walks every chain afresh for every path prefix and branches on every symbolic match, as the
explorer did before walks were memoised and shared across frontends, senders and DNAT destinations, and before
it skipped branching on rules without effect. For every outcome (verdict, masquerade, DNAT, mark, pins, recent
lists) both must reach exactly the same packets and random choices: the disjunctions of their path conditions
are equivalent. Paths of one enumeration are pairwise disjoint (each branch splits a condition in two), so
equal disjunctions also give equal probabilities.
"""

import ipaddress
import re
from collections import defaultdict
from pathlib import Path

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spec.proxy.endpoints import service_ports
from spec.proxy.iptables import render, sync_proxy_rules
from spec.proxy.manifests import load_cluster, parse_cluster
from spec.proxy.model import Cluster, ProxierOptions
from spec.proxy.parse import Dump, parse_dump
from spec.proxy.symbolic import (
    OUTPUT,
    PRE_STAGES,
    PREROUTING,
    Explorer,
    PathResult,
    Pins,
    State,
    expand,
    kube_only,
    post_stages,
)
from spec.proxy.terms import Terms
from spec.proxy.verify import frontends_of, local_networks, verify
from tests.proxy.conftest import UPSTREAM_TEST_OPTIONS
from tests.proxy.test_verify import SERVICE, _manifest

SHOP = Path(__file__).parents[2] / "spec" / "proxy" / "examples" / "shop.yaml"
SHOP_OPTS = ProxierOptions(node_name="node-a", node_ips=("192.168.1.10",), cluster_cidr="10.244.0.0/16")


# -- the oracle: no memo, no candidate index, no sharing --------------------------------------------------------------
def _plain_chain(ex: Explorer, table: str, name: str, start: State) -> list[tuple[State, str]]:
    chain = ex.dump.chain(table, name)
    assert chain is not None
    out: list[tuple[State, str]] = []
    stack = [(0, start)]
    while stack:
        i, s = stack.pop()
        while True:
            if i >= len(chain.rules):
                out.append((s, "return"))
                break
            rule = chain.rules[i]
            res = ex.residual(rule.match, s)
            if res is False:
                i += 1
                continue
            if res is not True:
                stack.append((i + 1, ex.refute(s, rule, res)))
                s = ex.assume(s, rule, res)
            recent = rule.match.recent
            sets = (*s.sets, recent.name) if recent is not None and recent.mode == "set" else s.sets
            s = State(s.lits, s.pins, s.mark, s.dnat, (*s.path, rule), sets)
            target = rule.target
            if target is None or target.kind == "passive":
                i += 1
                continue
            if target.chain:
                for sub, kind in _plain_chain(ex, table, target.name, s):
                    if kind == "return" and not target.goto:
                        stack.append((i + 1, sub))
                    else:
                        out.append((sub, kind))
                break
            if target.kind == "effect":
                s = Explorer._effect(rule, s)
                i += 1
                continue
            if target.name == "DNAT":
                ip, _, port = str(target.to).partition(":")
                out.append((State(s.lits, s.pins, s.mark, (ip, int(port) if port else (s.pins.dport or 0)), s.path,
                                  s.sets), "dnat"))
                break
            out.append((s, target.name.lower()))
            break
    return out


def _plain_stages(ex: Explorer, stages, start: State) -> list[tuple[State, str, str | None]]:
    """(state, "accept" or a verdict, the chain whose DROP policy decided) after running `stages` in order."""
    out = []
    pending = [(0, start)]
    while pending:
        k, s = pending.pop()
        if k == len(stages):
            out.append((s, "accept", None))
            continue
        table, name, iif, oif = stages[k]
        chain = ex.dump.chain(table, name)
        if chain is None or (table == "nat" and s.pins.untracked):
            pending.append((k + 1, s))
            continue
        entry = State(s.lits, s.pins._replace(iif=iif, oif=oif), s.mark, s.dnat, s.path, s.sets)
        for sub, kind in _plain_chain(ex, table, name, entry):
            sub = State(sub.lits, sub.pins._replace(iif=s.pins.iif, oif=s.pins.oif), sub.mark, sub.dnat,
                        sub.path, sub.sets)
            if kind == "return" and chain.policy == "DROP":
                out.append((sub, "drop", f"{table} {name}"))
            elif kind in ("accept", "return", "dnat"):
                pending.append((k + 1, sub))
            elif kind in ("masquerade", "snat"):
                rule = sub.path[-1]
                index = next(i for i, r in enumerate(ex.snat_rules) if r is rule) if any(
                    r is rule for r in ex.snat_rules) else len(ex.snat_rules)
                if index == len(ex.snat_rules):
                    ex.snat_rules.append(rule)
                pending.append((k + 1, State(sub.lits, sub.pins._replace(snat=index + 1), sub.mark, sub.dnat,
                                             sub.path, sub.sets)))
            else:
                out.append((sub, kind, None))
    return out


def _plain_paths(ex: Explorer, hook: str, start: State) -> list[PathResult]:
    out = []
    for s, kind, policy in _plain_stages(ex, PRE_STAGES[hook], start):
        if kind != "accept":
            out.append(PathResult(hook, s, kind, False, False, policy))
            continue
        for s2, local in ex._local_dst(s):  # the routing decision itself is not memoised
            for s3, verdict, policy in _plain_stages(ex, post_stages(hook, local), s2):
                out.append(PathResult(hook, s3, verdict, bool(s3.pins.snat), local, policy))
    return out


def _outcome(r: PathResult) -> tuple[object, ...]:
    s = r.state
    return (r.verdict, r.masquerade, r.local, r.policy, s.dnat, s.mark, s.pins._replace(snat=0), s.sets)


def _starts(cluster: Cluster) -> list[State]:
    """The entry states the verifier explores: one per frontend (as check_frontend pins it), and unpinned."""
    starts = [State()]
    for key, svc, port in service_ports(cluster):
        for fe in frontends_of(key, svc, port):
            proto = fe.key.protocol.lower()
            pins = (Pins(dst=ipaddress.IPv4Network(f"{fe.dst}/32"), dport=fe.dport, proto=proto) if fe.dst is not None
                    else Pins(dst_local=True, dport=fe.dport, proto=proto))
            starts.append(State(pins=pins))
    return starts


def assert_same_paths(cluster: Cluster, opts: ProxierOptions, dump: Dump, shared: Explorer | None = None) -> None:
    if shared is None:
        shared = Explorer(dump, local_networks(opts))  # one explorer for all frontends: walks are shared across them
    solver = z3.Solver()
    for start in _starts(cluster):
        plain = Explorer(dump, local_networks(opts))
        for hook in (PREROUTING, OUTPUT):
            got: dict[tuple[object, ...], list[z3.BoolRef]] = defaultdict(list)
            want: dict[tuple[object, ...], list[z3.BoolRef]] = defaultdict(list)
            for merged in shared.paths(hook, start):
                alternatives = expand(merged)
                if len(alternatives) > 1:  # a merged path's condition is the disjunction of the paths it stands for
                    solver.push()
                    solver.add(shared.path_expr(merged) != z3.Or(*[shared.path_expr(r) for r in alternatives]))
                    assert solver.check() == z3.unsat
                    solver.pop()
                for r in alternatives:
                    got[_outcome(r)].append(shared.path_expr(r))
            for r in _plain_paths(plain, hook, start):
                want[_outcome(r)].append(plain.path_expr(r))
            for outcome in got.keys() | want.keys():
                solver.push()
                solver.add(z3.Or(*got[outcome], False) != z3.Or(*want[outcome], False))
                assert solver.check() == z3.unsat, (hook, start.pins, outcome, solver.model())
                solver.pop()
        shared.forget()


def _rules(cluster: Cluster, opts: ProxierOptions) -> str:
    return render(sync_proxy_rules(cluster, opts))


def _insert_forward(text: str, rule: str) -> str:
    """Put `rule` first in filter KUBE-FORWARD."""
    mutated = re.sub(r"^(-A KUBE-FORWARD )", f"-A KUBE-FORWARD {rule}\n\\1", text, count=1, flags=re.M)
    assert mutated != text
    return mutated


# Filter rules that read the DNAT destination (address, port range, negated network, mark): walks after DNAT are
# shared only between destinations such rules cannot tell apart.
FORWARD_RULES = {
    "drop one endpoint": ("-d 10.180.0.1/32 -j DROP", "ns1/svc1:p80"),
    "drop a port range": ("-p tcp -m tcp --dport 79:81 -j DROP", "ns1/svc1:p80"),
    "drop outside a network": ("! -d 10.180.0.0/30 -j DROP", "ns4/svc4:p80"),  # .4 and .5 lie outside
    "reject marked traffic to one endpoint": ("-m mark --mark 0x4000/0x4000 -d 10.180.0.2/32 -j REJECT",
                                              "ns2/svc2:p80"),
    "drop a port nobody uses": ("-p tcp -m tcp --dport 8000:9000 -j DROP", None),
    "drop an address nobody uses": ("-d 10.180.0.99/32 -j DROP", None),
}


def test_shared_walks_equal_plain_walks_overall(overall):
    text = _rules(overall, UPSTREAM_TEST_OPTIONS)
    assert_same_paths(overall, UPSTREAM_TEST_OPTIONS, parse_dump(text))
    for rule, _ in FORWARD_RULES.values():
        assert_same_paths(overall, UPSTREAM_TEST_OPTIONS, parse_dump(_insert_forward(text, rule)))
    # Rules before a DNAT that may or may not change the state: a recent list set without a target, a rule that
    # only counts, a MARK that is a no-op only for packets marked already.
    dnat = "-A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT"
    for extra in ("-s 10.0.0.0/9 -m recent --name TEST --set", "-s 10.0.0.0/9",
                  "-s 10.0.0.0/9 -j MARK --or-mark 0x4000", "-s 10.0.0.0/9 -j MARK --or-mark 0x8000"):
        assert dnat in text
        mutated = text.replace(dnat, f"-A KUBE-SEP-SXIVWICOYRO3J4NJ {extra}\n{dnat}")
        assert_same_paths(overall, UPSTREAM_TEST_OPTIONS, parse_dump(mutated))
    # A counting rule on a destination network: skipping it would lose what it pins for an unpinned packet.
    first = '-A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP"'
    assert first in text
    assert_same_paths(overall, UPSTREAM_TEST_OPTIONS,
                      parse_dump(text.replace(first, f"-A KUBE-SERVICES -d 10.0.0.0/8\n{first}", 1)))
    # Endpoints on different ports, a filter rule that reads only some of them.
    ports = text.replace("--to-destination 10.180.0.4:80", "--to-destination 10.180.0.4:8080")
    assert_same_paths(overall, UPSTREAM_TEST_OPTIONS,
                      parse_dump(_insert_forward(ports, "-p tcp -m tcp --dport 8000:9000 -j DROP")))


def test_shared_walks_equal_plain_walks_among_other_components():
    """kube-proxy's rules among Docker's, flannel's, libvirt's and a masquerade agent's: their interface matches
    after the routing decision branch every path, and the explorer merges the branches that end alike."""
    fixtures = Path(__file__).parent / "fixtures"
    cluster = load_cluster([str(fixtures / "kubeadm-flannel.yaml")])
    opts = ProxierOptions(node_name="worker-1", node_ips=("192.168.56.11",), cluster_cidr="10.244.0.0/16")
    dump = parse_dump((fixtures / "kubeadm-flannel.save").read_text())
    assert any(len(expand(r)) > 2 for r in Explorer(dump, local_networks(opts)).paths(PREROUTING, State()))
    assert_same_paths(cluster, opts, dump)
    # verify's second pass shares the walks of kube-proxy's chains with the first (kube-proxy's rules alone).
    base = Explorer(kube_only(dump), local_networks(opts))
    base.keep_kube_walks = True
    for start in _starts(cluster):
        base.paths(PREROUTING, start), base.paths(OUTPUT, start)
        base.forget()
    second = Explorer(dump, local_networks(opts), base=base)
    assert second.base is base and base._kube_walks
    assert_same_paths(cluster, opts, dump, second)


def test_shared_walks_equal_plain_walks_shop():
    cluster = load_cluster([str(SHOP)])
    assert_same_paths(cluster, SHOP_OPTS, parse_dump(_rules(cluster, SHOP_OPTS)))


def test_dnat_without_port_is_not_shared(overall):
    """A DNAT without a port keeps the packet's port: the endpoint chain of svc2 (cluster IP port 80, NodePort
    3001) must not be shared between its frontends."""
    text = _rules(overall, UPSTREAM_TEST_OPTIONS)
    text = text.replace("--to-destination 10.180.0.2:80", "--to-destination 10.180.0.2")
    assert_same_paths(overall, UPSTREAM_TEST_OPTIONS, parse_dump(text))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(SERVICE, min_size=1, max_size=3), st.sampled_from([None, "10.0.0.0/8"]), st.booleans())
def test_shared_walks_equal_plain_walks_generated(services, cidr, masquerade_all):
    cluster = parse_cluster("\n---\n".join(_manifest(i, s) for i, s in enumerate(services)), "gen.yaml")
    opts = ProxierOptions(node_name="node-a", node_ips=("192.168.0.2",), cluster_cidr=cidr,
                          masquerade_all=masquerade_all)
    assert_same_paths(cluster, opts, parse_dump(_rules(cluster, opts)))


@pytest.mark.parametrize("name", sorted(FORWARD_RULES))
def test_forward_rules_reading_the_destination(overall, name):
    """Verification sees a filter rule that treats one DNAT destination differently from the others."""
    rule, broken = FORWARD_RULES[name]
    report = verify(overall, UPSTREAM_TEST_OPTIONS,
                    parse_dump(_insert_forward(_rules(overall, UPSTREAM_TEST_OPTIONS), rule)))
    if broken is None:
        assert report.ok, [v.render() for v in report.violations]
    else:
        assert not report.ok
        assert report.violations[0].prop == "1 routing"
        assert any(v.frontend.startswith(broken) for v in report.violations), [v.frontend for v in report.violations]


@pytest.mark.parametrize("extra", ["", "-s 10.0.0.0/9 "])
def test_statistic_choices_eliminated_exactly(overall, extra):
    """free path condition ⇔ ∃ statistic choices. full path condition, for every path of every frontend;
    also where a statistic rule has another symbolic match."""
    text = _rules(overall, UPSTREAM_TEST_OPTIONS).replace("--probability 0.5000000000 ", f"--probability 0.5 {extra}")
    ex = Explorer(parse_dump(text), local_networks(UPSTREAM_TEST_OPTIONS))
    solver = z3.Solver()
    checked = 0
    for start in _starts(overall):
        for r in ex.paths(PREROUTING, start) + ex.paths(OUTPUT, start):
            choices = [ex.pkt.random(lit.rule) for lit in r.state.lits if lit.match.probability is not None]
            full = ex.path_expr(r)
            exact = z3.Exists(choices, full) if choices else full
            solver.push()
            solver.add(ex.path_expr(r, free=True) != exact)
            assert solver.check() == z3.unsat, r.state.path
            solver.pop()
            checked += bool(choices)
        ex.forget()
    assert checked > 20


@pytest.mark.parametrize("net", ["0.0.0.0/0", "10.0.0.0/8", "10.244.0.0/16", "192.168.1.128/25", "192.168.1.2/31",
                                 "192.168.1.10/32"])
def test_prefix_terms(net):
    """Terms.in_net (top bits) is the masked comparison of iptables' -s/-d, for every address."""
    terms = Terms()
    var = z3.BitVec("addr", 32)
    network = ipaddress.IPv4Network(net)
    masked = var & int(network.netmask) == int(network.network_address)
    solver = z3.Solver()
    solver.add(terms.in_net(var, network) != masked)
    assert solver.check() == z3.unsat
