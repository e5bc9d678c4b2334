"""Time to generate and verify kube-proxy rules for 100 and 1,000 Services with 10 endpoints each, and to parse
a 5 MB node dump (kube-proxy's rules for 1,000 Services among 8,000 rules of other components with long comments).

Run: python -m benchmarks.bench_proxy [N ...]   (targets: 1,000 Services verified under 15 s, in each mode (iptables,
IPVS's table and its iptables half, nftables in the 1.34 and the newest format) and among other components' rules;
a 5 MB iptables-save dump and a 5 MB `nft list ruleset` read under 5 s)
Every third Service is a NodePort, every fifth has ClientIP affinity; endpoints spread over three nodes.
Verification is reported as wall-clock time and as this process's CPU time: on a shared machine the CPU time is
the steadier figure (wall time grows with the load of other processes).
"""

from __future__ import annotations

import sys
import time

from spec.proxy.iptables import render, sync_proxy_rules
from spec.proxy.manifests import parse_cluster
from spec.proxy.model import NEWEST_VERSION, ProxierOptions
from spec.proxy.parse import decode, parse_dump
from spec.proxy.verify import verify


def manifests(n: int, endpoints: int = 10) -> str:
    docs = []
    for i in range(n):
        kind = "NodePort" if i % 3 == 0 else "ClusterIP"
        node_port = f", nodePort: {30000 + i}" if kind == "NodePort" else ""
        affinity = "\n  sessionAffinity: ClientIP" if i % 5 == 0 else ""
        docs.append(f"kind: Service\nmetadata: {{namespace: bench, name: svc{i}}}\nspec:\n  type: {kind}\n"
                    f"  clusterIP: 172.20.{i // 250}.{i % 250 + 1}{affinity}\n"
                    f"  ports: [{{name: http, port: 80{node_port}}}]")
        eps = "".join(f"\n  - {{addresses: [10.{100 + i // 250}.{i % 250}.{j + 1}], nodeName: node-{j % 3}}}"
                      for j in range(endpoints))
        docs.append(f"kind: EndpointSlice\nmetadata: {{namespace: bench, name: svc{i}-a, labels: "
                    f"{{kubernetes.io/service-name: svc{i}}}}}\naddressType: IPv4\nendpoints:{eps}\n"
                    "ports: [{name: http, port: 8080}]")
    return "\n---\n".join(docs)


def run(n: int) -> float:
    """Generate, parse and verify n services; print the figures; return the verification's wall time."""
    opts = ProxierOptions(node_name="node-0", node_ips=("192.168.0.10",), cluster_cidr="10.0.0.0/8")
    t0 = time.perf_counter()
    cluster = parse_cluster(manifests(n), "bench.yaml")
    t1 = time.perf_counter()
    text = render(sync_proxy_rules(cluster, opts))
    t2 = time.perf_counter()
    dump = parse_dump(text, "bench-rules")
    t3, cpu = time.perf_counter(), time.process_time()
    report = verify(cluster, opts, dump)
    t4, cpu = time.perf_counter(), time.process_time() - cpu
    lines = text.count("\n")
    print(f"{n:>5} services x 10 endpoints: {lines} rule lines; load {t1 - t0:.2f} s, generate {t2 - t1:.2f} s, "
          f"parse {t3 - t2:.2f} s, verify {t4 - t3:.2f} s wall / {cpu:.2f} s CPU ({report.frontends} frontends, "
          f"{report.paths} paths, {'verified' if report.ok else 'FAILED'})", flush=True)
    if not report.ok:
        raise SystemExit(1)
    return t4 - t3


def run_ipvs(n: int) -> float:
    """IPVS mode: the table of n services as `ipvsadm -Sn` saves it, parsed and verified."""
    from spec.proxy import ipvs

    opts = ProxierOptions(node_name="node-0", node_ips=("192.168.0.10",), cluster_cidr="10.0.0.0/8")
    cluster = parse_cluster(manifests(n), "bench.yaml")
    text = ipvs.render_saved(ipvs.virtual_servers(cluster, opts))
    t0, cpu = time.perf_counter(), time.process_time()
    problems = ipvs.verify_ipvs(cluster, opts, ipvs.parse_ipvsadm(text, "ipvs.txt"), "ipvs.txt")
    t1, cpu = time.perf_counter(), time.process_time() - cpu
    print(f"{n:>5} services x 10 endpoints, IPVS: {text.count(chr(10))} ipvsadm lines; parse and verify "
          f"{t1 - t0:.2f} s wall / {cpu:.2f} s CPU ({'verified' if not problems else 'FAILED'})", flush=True)
    if problems:
        raise SystemExit(1)
    return t1 - t0


def run_ipvs_rules(n: int) -> float:
    """IPVS mode's iptables half: the rules, ipsets and table of n services, each set match one condition
    (ipset.resolve_sets), the table a stage of the paths, proved symbolically (what `verify --ipvsadm --ipset
    --iptables-save` does)."""
    from spec.proxy import ipvs
    from spec.proxy.ipset import parse_ipset_save, resolve_sets

    opts = ProxierOptions(node_name="node-0", node_ips=("192.168.0.10",), cluster_cidr="10.0.0.0/8", mode="ipvs")
    cluster = parse_cluster(manifests(n), "bench.yaml")
    rules, sets = ipvs.render_iptables(cluster, opts), ipvs.render_ipsets(cluster, opts)
    table = ipvs.render_saved(ipvs.virtual_servers(cluster, opts))
    t0 = time.perf_counter()
    saved = ipvs.parse_ipvsadm(table, "table")
    dump, _ = resolve_sets(parse_dump(rules, "rules"), parse_ipset_save(sets, "sets"))
    dump = ipvs.with_ipvs_stage(dump, saved)
    t1, cpu = time.perf_counter(), time.process_time()
    report = verify(cluster, ipvs.verification_options(opts, saved), dump)
    t2, cpu = time.perf_counter(), time.process_time() - cpu
    print(f"{n:>5} services x 10 endpoints, IPVS rules and sets: {sets.count(chr(10))} set lines; read "
          f"{t1 - t0:.2f} s, verify {t2 - t1:.2f} s wall / {cpu:.2f} s CPU ({report.frontends} frontends, "
          f"{report.paths} paths, {'verified' if report.ok else 'FAILED'})", flush=True)
    if not report.ok:
        raise SystemExit(1)
    return t2 - t1


def run_nft(n: int, version: tuple[int, int] = NEWEST_VERSION) -> float:
    """nftables mode: the ruleset of n services in the format of `version`, read as `nft -f` input, translated
    and verified."""
    from spec.proxy.nftables import parse_ruleset, sync_nftables, to_dump

    opts = ProxierOptions(node_name="node-0", node_ips=("192.168.0.10",), cluster_cidr="10.0.0.0/8", mode="nftables",
                          localhost_nodeports=False, nodeport_addresses=("192.168.0.10",), version=version)
    cluster = parse_cluster(manifests(n), "bench.yaml")
    text = sync_nftables(cluster, opts)
    t0 = time.perf_counter()
    dump, _ = to_dump(parse_ruleset(text, "nft.txt"), "nft.txt")
    t1, cpu = time.perf_counter(), time.process_time()
    report = verify(cluster, opts, dump)
    t2, cpu = time.perf_counter(), time.process_time() - cpu
    print(f"{n:>5} services x 10 endpoints, nftables {version[0]}.{version[1]}: {text.count(chr(10))} lines; read "
          f"{t1 - t0:.2f} s, verify {t2 - t1:.2f} s wall / {cpu:.2f} s CPU ({report.frontends} frontends, "
          f"{report.paths} paths, {'verified' if report.ok else 'FAILED'})", flush=True)
    if not report.ok:
        raise SystemExit(1)
    return t2 - t1


def nft_listing(n: int = 1000, foreign: int = 8000) -> str:
    """kube-proxy's nftables table for n Services (1.34 format, per-endpoint chains: the larger) and another
    component's table as `nft list ruleset` prints it, with `foreign` rules carrying 200-character comments,
    interface, set and port matches."""
    from spec.proxy.nftables import sync_nftables

    opts = ProxierOptions(node_name="node-0", node_ips=("192.168.0.10",), cluster_cidr="10.0.0.0/8", mode="nftables",
                          localhost_nodeports=False, nodeport_addresses=("192.168.0.10",), version=(1, 34))
    text = sync_nftables(parse_cluster(manifests(n), "bench.yaml"), opts)
    comment = "cali:" + "x" * 195
    chains = "".join(
        f"\tchain cali-fw-{c} {{\n" + "".join(
            f'\t\tip saddr 10.{i % 250}.{i // 250}.0/24 iifname "cali{i:x}*" ip saddr @cali40s-{i % 7} '
            f'tcp dport {{ {i % 60000}, {(i + 7) % 60000} }} counter packets {i} bytes {i * 60} meta mark set mark or '
            f'0x10000 comment "{comment}"\n' for i in range(c, foreign, 40)) + "\t}\n" for c in range(40))
    sets = "".join(f"\tset cali40s-{k} {{\n\t\ttype ipv4_addr\n\t}}\n" for k in range(7))
    return text + "table ip calico {\n" + sets + chains + "}\n"


def parse_big_nft() -> float:
    from spec.proxy.nftables import parse_ruleset, to_dump

    text = nft_listing()
    data = text.encode()
    t0, cpu = time.perf_counter(), time.process_time()
    dump, _ = to_dump(parse_ruleset(decode(data, "ruleset.nft"), "ruleset.nft"), "ruleset.nft")
    t1, cpu = time.perf_counter(), time.process_time() - cpu
    rules = sum(len(c.rules) for chains in dump.tables.values() for c in chains.values())
    print(f"nft ruleset of {len(data) / 1e6:.1f} MB ({rules} rules after translation): read {t1 - t0:.2f} s wall / "
          f"{cpu:.2f} s CPU", flush=True)
    return t1 - t0


def node_dump(n: int = 1000, foreign: int = 8000) -> str:
    """kube-proxy's rules for n Services as iptables-save prints them on a node, with `foreign` rules of other
    components (a Calico-like filter chain with 200-character comments, interface and set matches)."""
    opts = ProxierOptions(node_name="node-0", node_ips=("192.168.0.10",), cluster_cidr="10.0.0.0/8")
    text = render(sync_proxy_rules(parse_cluster(manifests(n), "bench.yaml"), opts))
    comment = "cali:" + "x" * 195
    rules = "".join(f'-A cali-fw-{i % 40} -s 10.{i % 250}.{i // 250}.0/24 -i cali{i:x}+ -m set --match-set '
                    f'cali40s:{i} src -p tcp -m multiport --dports {i % 60000},{(i + 7) % 60000} -m comment '
                    f'--comment "{comment}" -j MARK --set-xmark 0x10000/0x10000\n' for i in range(foreign))
    chains = "".join(f":cali-fw-{i} - [0:0]\n" for i in range(40))
    return text.replace("*filter\n", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                        + chains, 1).replace("COMMIT\n", rules + "COMMIT\n", 1)


def with_foreign_rules(text: str) -> str:
    """Generated rules with the builtin chains and other components' rules of tests/proxy/fixtures/
    kubeadm-flannel.save (Docker, flannel, libvirt, a masquerade agent: 47 rules and policies)."""
    from pathlib import Path

    fixture = (Path(__file__).parents[1] / "tests" / "proxy" / "fixtures" / "kubeadm-flannel.save").read_text()
    foreign: dict[str, list[str]] = {}
    table = ""
    for line in fixture.splitlines():
        if line.startswith("*"):
            table = line[1:]
        elif line.startswith((":", "-A ")) and not line.startswith((":KUBE-", "-A KUBE-")):
            foreign.setdefault(table, []).append(line)
    for name, lines in foreign.items():
        decls = [x for x in lines if x.startswith(":")]
        rules = [x for x in lines if x.startswith("-A")]
        if f"*{name}\n" not in text:
            text += f"*{name}\n" + "\n".join(decls + rules) + "\nCOMMIT\n"
            continue
        head, _, tail = text.partition(f"*{name}\n")
        body, _, rest = tail.partition("COMMIT\n")
        text = head + f"*{name}\n" + "\n".join(decls) + "\n" + body + "\n".join(rules) + "\nCOMMIT\n" + rest
    return text


def run_node(n: int) -> float:
    """n Services' rules among other components' rules: kube-proxy's promises proved on its own rules, then the
    whole ruleset checked for interference."""
    opts = ProxierOptions(node_name="node-0", node_ips=("192.168.0.10",), cluster_cidr="10.0.0.0/8")
    cluster = parse_cluster(manifests(n), "bench.yaml")
    text = with_foreign_rules(render(sync_proxy_rules(cluster, opts)))
    dump = parse_dump(text, "node.save")
    t0, cpu = time.perf_counter(), time.process_time()
    report = verify(cluster, opts, dump)
    t1, cpu = time.perf_counter(), time.process_time() - cpu
    print(f"{n:>5} services x 10 endpoints among {report.foreign} rules of other components: verify {t1 - t0:.2f} s "
          f"wall / {cpu:.2f} s CPU ({report.paths} paths, {len(report.violations)} violations, "
          f"{len(report.interference)} interfering)", flush=True)
    return t1 - t0


def parse_big() -> float:
    text = node_dump()
    data = text.encode()
    t0, cpu = time.perf_counter(), time.process_time()
    dump = parse_dump(decode(data, "node.save"), "node.save")
    t1, cpu = time.perf_counter(), time.process_time() - cpu
    rules = sum(len(c.rules) for chains in dump.tables.values() for c in chains.values())
    print(f"node dump of {len(data) / 1e6:.1f} MB ({rules} rules): parse {t1 - t0:.2f} s wall / {cpu:.2f} s CPU",
          flush=True)
    return t1 - t0


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [100, 1000]
    for n in sizes:
        run(n)
        run_ipvs(n)
        run_ipvs_rules(n)
        run_nft(n, (1, 34))
        run_nft(n)
    if not argv:
        parse_big()
        parse_big_nft()
        run_node(100)
        run_node(1000)


if __name__ == "__main__":
    main(sys.argv[1:])
