"""`kubespec proxy rules` and `kubespec proxy verify`.

Options mirror kube-proxy's flags and defaults (upstream cmd/kube-proxy/app/options.go): --cluster-cidr,
--masquerade-bit 14, --masquerade-all, --iptables-localhost-nodeports (on), --ipvs-scheduler rr. The
environment-dependent switches (nfacct counters, --random-fully support) default to what a modern node has.
`verify` answers Ctrl-C (exit 130) and SIGTERM (exit 143) within a second with what it found so far.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import signal
import sys
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from checker.cli import reports_input_errors
from checker.errors import InputError
from spec.proxy import ipvs
from spec.proxy.iptables import render, sync_proxy_rules
from spec.proxy.manifests import combine_warnings, load_manifests, nothing_to_verify, read_bytes
from spec.proxy.model import NEWEST_VERSION, SUPPORTED_VERSIONS, Cluster, ProxierOptions
from spec.proxy.parse import Chain, Dump, decode, parse_dump, parse_routes
from spec.proxy.verify import Interrupted, Report, verify

EXIT_SIGNAL: dict[int, int] = {int(signal.SIGINT): 130, int(signal.SIGTERM): 143}


def _options(func: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("-f", "--filename", "files", multiple=True, required=True, type=click.Path(dir_okay=False),
                     help="Manifests: Services, EndpointSlices or Pods (or workloads with --pod-ips), Nodes "
                          "(repeatable)."),
        click.option("--pod-ips", "pod_ips", multiple=True, metavar="[NS/]KIND/NAME=IP[@NODE],...",
                     help="The addresses of a Deployment's (ReplicaSet's, ...) pods, instead of Pods (repeatable)."),
        click.option("--cluster-cidr", default=None, help="Pod CIDR for the local-traffic detector (none: off)."),
        click.option("--masquerade-bit", default=14, show_default=True, type=click.IntRange(0, 31)),
        click.option("--masquerade-mark", default=None, help="Literal mark string (upstream's test proxier: 0x4000)."),
        click.option("--masquerade-all", is_flag=True, help="SNAT all traffic sent to a ClusterIP."),
        click.option("--node-ip", "node_ips", multiple=True, help="Node address (repeatable; default: the Node's)."),
        click.option("--localhost-nodeports/--no-localhost-nodeports", default=True, show_default=True),
        click.option("--nfacct/--no-nfacct", default=True, show_default=True, help="nfacct counters available."),
        click.option("--random-fully/--no-random-fully", default=True, show_default=True,
                     help="iptables supports MASQUERADE --random-fully."),
        click.option("--conntrack-tcp-be-liberal", is_flag=True, help="nf_conntrack_tcp_be_liberal is set."),
        click.option("--detect-local-mode", default="ClusterCIDR", show_default=True,
                     type=click.Choice(["ClusterCIDR", "NodeCIDR", "BridgeInterface", "InterfaceNamePrefix"]),
                     help="How kube-proxy tells pod traffic (NodeCIDR: the Node's spec.podCIDRs)."),
        click.option("--pod-interface-name-prefix", default=None, help="For InterfaceNamePrefix (AKS: azv)."),
        click.option("--pod-bridge-interface", default=None, help="For BridgeInterface (e.g. cbr0)."),
        click.option("--service-cidr", "service_cidrs", multiple=True,
                     help="--service-cluster-ip-range (nftables mode drops traffic to unallocated ClusterIPs in it)."),
        click.option("--nodeport-addresses", "nodeport_addresses", multiple=True,
                     help="Node addresses NodePorts answer on (nftables mode default: the node's primary IP)."),
        click.option("--kube-proxy-version", "version", default=".".join(map(str, NEWEST_VERSION)),
                     show_default=True, metavar="MAJOR.MINOR", help="The kube-proxy release whose rules to expect."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def _proxier_options(cluster: Cluster, node: str | None, kw: dict[str, Any], scheduler: str = "rr",
                     proxy_mode: str = "iptables") -> ProxierOptions:
    if node is None:
        if len(cluster.nodes) != 1:
            raise InputError("--node: required unless the manifests hold exactly one Node")
        node = cluster.nodes[0].name
    node_ips = tuple(kw["node_ips"])
    for ip in node_ips:
        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise InputError(f"--node-ip: {ip!r} is not an IPv4 address") from None
    if not node_ips:
        node_obj = next((n for n in cluster.nodes if n.name == node), None)
        node_ips = tuple(ip for ip in (node_obj.addresses if node_obj else ()) if ipaddress.ip_address(ip).version == 4)
    cidr = kw["cluster_cidr"]
    if cidr is not None:
        try:
            cidr = str(ipaddress.IPv4Network(cidr, strict=False))
        except ValueError:
            raise InputError(f"--cluster-cidr: {cidr!r} is not an IPv4 CIDR") from None
    mark = kw["masquerade_mark"]
    if mark is not None and (not re.fullmatch(r"(0[xX])?[0-9a-fA-F]{1,8}", mark) or int(mark, 16) == 0):
        raise InputError(f"--masquerade-mark: {mark[:40]!r} is not a non-zero 32-bit hexadecimal mark")
    supported = ", ".join(f"{a}.{b}" for a, b in SUPPORTED_VERSIONS)
    found = re.fullmatch(r"v?(\d{1,3})\.(\d{1,3})(?:\.\d{1,4})?", kw["version"])
    version = (int(found.group(1)), int(found.group(2))) if found else None
    if version not in SUPPORTED_VERSIONS:
        raise InputError(f"--kube-proxy-version: {kw['version'][:40]!r} is not supported (supported: {supported})")
    assert version is not None
    mode = kw["detect_local_mode"]
    local_interface = None
    if mode == "NodeCIDR":
        node_obj = next((n for n in cluster.nodes if n.name == node), None)
        v4 = [c for c in (node_obj.pod_cidrs if node_obj else ()) if ipaddress.ip_network(c).version == 4]
        if not v4:
            raise InputError(f"--detect-local-mode NodeCIDR: Node {node[:60]!r} has no IPv4 spec.podCIDRs")
        cidr = v4[0]
    elif mode in ("BridgeInterface", "InterfaceNamePrefix"):
        option = "--pod-bridge-interface" if mode == "BridgeInterface" else "--pod-interface-name-prefix"
        local_interface = kw["pod_bridge_interface" if mode == "BridgeInterface" else "pod_interface_name_prefix"]
        if not local_interface or not re.fullmatch(r"[A-Za-z0-9_.:@-]{1,15}", local_interface):
            raise InputError(f"--detect-local-mode {mode} needs {option} (an interface name)")
    service_cidrs = []
    for value in kw["service_cidrs"]:
        try:
            service_cidrs.append(str(ipaddress.IPv4Network(value, strict=False)))
        except ValueError:
            raise InputError(f"--service-cidr: {value[:60]!r} is not an IPv4 CIDR") from None
    nodeport_addresses = []
    for value in kw["nodeport_addresses"]:
        try:
            nodeport_addresses.append(str(ipaddress.IPv4Address(value)))
        except ValueError:
            raise InputError(f"--nodeport-addresses: {value[:60]!r} is not an IPv4 address") from None
    if proxy_mode == "nftables" and not nodeport_addresses:
        nodeport_addresses = list(node_ips[:1])
    return ProxierOptions(
        mode=proxy_mode, service_cidrs=tuple(service_cidrs), nodeport_addresses=tuple(nodeport_addresses),
        localhost_nodeports=kw["localhost_nodeports"] and proxy_mode != "nftables",
        detect_local=mode, local_interface=local_interface,
        node_name=node, node_ips=node_ips, cluster_cidr=cidr, masquerade_bit=kw["masquerade_bit"],
        masquerade_mark=mark, masquerade_all=kw["masquerade_all"],
        nfacct=kw["nfacct"], random_fully=kw["random_fully"], conntrack_tcp_be_liberal=kw["conntrack_tcp_be_liberal"],
        ipvs_scheduler=scheduler, version=version,
    )


@click.group()
def proxy() -> None:
    """kube-proxy: the rules it installs, and a z3 proof that they are right."""


@proxy.command()
@_options
@click.option("--node", required=True, help="The node kube-proxy runs on (decides which endpoints are local).")
@click.option("--mode", type=click.Choice(["iptables", "ipvs", "nftables"]), default="iptables", show_default=True)
@click.option("--ipvs-scheduler", default="rr", show_default=True,
              type=click.Choice(["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh"]))
@click.option("--ipvs-format", type=click.Choice(["list", "save", "ipset", "iptables"]), default="list",
              show_default=True, help="IPVS mode: as `ipvsadm -Ln` lists it, as `ipvsadm -Sn` saves it, the ipsets "
                                      "as `ipset save`, or its iptables rules as `iptables-save`.")
@reports_input_errors
def rules(files: tuple[str, ...], node: str, mode: str, ipvs_scheduler: str, ipvs_format: str, **kw: Any) -> None:
    """Print the rules kube-proxy installs on NODE (iptables-save text, or the IPVS virtual servers)."""
    cluster, warnings = load_manifests(files, kw["pod_ips"])
    for line in warnings:
        click.echo(line, err=True)
    opts = _proxier_options(cluster, node, kw, ipvs_scheduler, mode)
    if mode == "nftables":
        from spec.proxy.nftables import sync_nftables

        click.echo(sync_nftables(cluster, opts), nl=False)
    elif mode == "ipvs":
        servers = ipvs.virtual_servers(cluster, opts)
        text = {"list": ipvs.render, "save": ipvs.render_saved}.get(ipvs_format)
        click.echo(text(servers) if text is not None else ipvs.render_ipsets(cluster, opts)
                   if ipvs_format == "ipset" else ipvs.render_iptables(cluster, opts), nl=False)
    else:
        click.echo(render(sync_proxy_rules(cluster, opts)), nl=False)


@proxy.command(name="verify")
@_options
@click.option("--node", default=None, help="The node (default: the only Node in the manifests).")
@click.option("--iptables-save", "dump_files", multiple=True, type=click.Path(dir_okay=False),
              help="Verify this dump (iptables-save output; repeatable, one table per file at most once).")
@click.option("--iptables-s", "listing_files", multiple=True, metavar="TABLE=FILE",
              help="Also read `iptables -t TABLE -S` output (repeatable).")
@click.option("--strict", is_flag=True, help="Rules of other components that break a promise fail the verdict.")
@click.option("--ip-route", "route_file", default=None, type=click.Path(dir_okay=False),
              help="The node's `ip -4 route` output: output interfaces follow the routes, input ones their sources.")
@click.option("--ipset", "ipset_file", default=None, type=click.Path(dir_okay=False),
              help="The node's `ipset save` output: `-m set` matches are decided by what the sets hold.")
@click.option("--ipvsadm", "ipvsadm_file", default=None, type=click.Path(dir_okay=False),
              help="IPVS mode: verify this `ipvsadm -Sn` output (the IPVS table) instead of iptables rules.")
@click.option("--ipvs-scheduler", default="rr", show_default=True)
@click.option("--nft-ruleset", "nft_file", default=None, type=click.Path(dir_okay=False),
              help="nftables mode: verify this `nft list ruleset` output (or an `nft -f` transaction).")
@reports_input_errors
def verify_command(files: tuple[str, ...], node: str | None, dump_files: tuple[str, ...],
                   listing_files: tuple[str, ...], strict: bool, ipvsadm_file: str | None, ipvs_scheduler: str,
                   nft_file: str | None, route_file: str | None, ipset_file: str | None, **kw: Any) -> None:
    """Prove the rules route every Service packet as upstream kube-proxy semantics require."""
    with _signals() as stopped:
        try:
            cluster, warnings = load_manifests(files, kw["pod_ips"])
            opts = _proxier_options(cluster, node, kw, ipvs_scheduler, "nftables" if nft_file else "iptables")
            if route_file is not None:
                opts = attrs.evolve(opts, routes=parse_routes(decode(read_bytes(route_file), route_file), route_file))
            _something_to_verify(cluster, opts, files)
            if (nothing := nothing_to_verify(cluster, warnings, files)) is not None:
                raise InputError(nothing)
            if ipset_file is not None and not (dump_files or listing_files or ipvsadm_file):
                raise InputError("--ipset: the sets decide `-m set` matches of iptables rules (give --iptables-save) "
                                 "or IPVS mode's masquerade (give --ipvsadm)")
            if ipvsadm_file is not None:
                for line in warnings:
                    click.echo(line)
                _verify_ipvs(cluster, opts, ipvsadm_file, dump_files, listing_files, ipset_file, strict,
                             lambda: stopped[-1] if stopped else 0)
            if nft_file is not None:
                from spec.proxy.nftables import parse_ruleset, to_dump

                if dump_files or listing_files:
                    raise InputError("--nft-ruleset: give either an nftables ruleset or iptables dumps")
                dump, others = to_dump(parse_ruleset(decode(read_bytes(nft_file), nft_file), nft_file), nft_file)
                if others:
                    click.echo(f"note: tables of other families are not considered (no IPv4 packet traverses "
                               f"them): {', '.join(others)}")
            elif dump_files or listing_files:
                dump = _read_dumps(dump_files, listing_files)
                if ipset_file is not None:
                    from spec.proxy.ipset import parse_ipset_save, resolve_sets

                    dump, left = resolve_sets(dump, parse_ipset_save(decode(read_bytes(ipset_file), ipset_file),
                                                                    ipset_file))
                    for match in left:
                        click.echo(f"note: left opaque: {match}")
            else:
                dump = parse_dump(render(sync_proxy_rules(cluster, opts)), "<generated rules>")
        except Interrupted as exc:
            click.echo("interrupted while reading the input: nothing verified", err=True)
            sys.exit(EXIT_SIGNAL.get(exc.signum, 130))
        try:
            report = _run(cluster, opts, dump, strict, lambda: stopped[-1] if stopped else 0)
        except Interrupted as exc:
            click.echo("interrupted before any result could be assembled", err=True)
            sys.exit(EXIT_SIGNAL.get(exc.signum, 130))
    report = attrs.evolve(report, warnings=combine_warnings(warnings, report.warnings))
    _print(report)
    if report.interrupted:
        sys.exit(EXIT_SIGNAL.get(report.interrupted, 130))
    if not report.ok:
        sys.exit(1)


def _verify_ipvs(cluster: Cluster, opts: ProxierOptions, path: str, dump_files: tuple[str, ...],
                 listing_files: tuple[str, ...], ipset_file: str | None, strict: bool,
                 stop: Callable[[], int]) -> None:
    """IPVS mode: the table (and the sets) compared with upstream's; with the node's iptables rules and sets
    as well, the iptables half proved symbolically with the IPVS table as a stage of the netfilter paths."""
    saved = ipvs.parse_ipvsadm(decode(read_bytes(path), path), path)
    problems = ipvs.verify_ipvs(cluster, opts, saved, path)
    sets = None
    if ipset_file is not None:
        from spec.proxy.ipset import parse_ipset_save

        sets = parse_ipset_save(decode(read_bytes(ipset_file), ipset_file), ipset_file)
        problems += ipvs.verify_ipsets(cluster, opts, sets, ipset_file)
    report: Report | None = None
    with_iptables = bool(dump_files or listing_files)
    if with_iptables and sets is not None:
        from spec.proxy.ipset import resolve_sets

        dump, left = resolve_sets(_read_dumps(dump_files, listing_files), sets)
        for match in left:
            click.echo(f"note: left opaque: {match}")
        try:
            report = _run(cluster, ipvs.verification_options(opts, saved), ipvs.with_ipvs_stage(dump, saved),
                          strict, stop)
        except Interrupted as exc:
            click.echo("interrupted before any result could be assembled", err=True)
            sys.exit(EXIT_SIGNAL.get(exc.signum, 130))
    from spec.proxy.verify import warnings_of

    for line in [*problems, *(warnings_of(cluster, opts) if report is None else ())]:
        click.echo(line)
    if ipset_file is None:
        click.echo("note: not verified: masquerade and loadBalancerSourceRanges in IPVS mode (their ipsets: give "
                   "--ipset with the node's `ipset save`)")
    if report is None:
        click.echo("note: not verified in IPVS mode: the iptables rules that read the ipsets"
                   + (" (give --ipset with the node's `ipset save` to prove them)" if with_iptables
                      else " (give the node's iptables-save and --ipset)"))
    reals = sum(len(s.reals) for s in saved)
    checked = "routing, isolation, balance, affinity" + (
        "; ipsets: masquerade, source ranges" if ipset_file is not None else "")
    summary = f"{len(saved)} virtual services, {reals} real servers (IPVS: {checked})"
    if report is not None:
        click.echo(f"IPVS table: {len(problems)} violation(s); {summary}")
        click.echo("iptables rules of IPVS mode, with the IPVS table as a stage of the netfilter paths:")
        _print(report)
        if report.interrupted:
            sys.exit(EXIT_SIGNAL.get(report.interrupted, 130))
        sys.exit(1 if problems or not report.ok else 0)
    if problems:
        click.echo(f"FAILED: {len(problems)} violation(s); {summary}")
        sys.exit(1)
    click.echo(f"verified: {summary}")
    sys.exit(0)


@contextlib.contextmanager
def _signals() -> Iterator[list[int]]:
    """Ctrl-C and SIGTERM raise Interrupted (verification then returns its partial report)."""
    caught: list[int] = []

    def handler(signum: int, frame: object) -> None:
        caught.append(signum)
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _run(cluster: Cluster, opts: ProxierOptions, dump: Dump, strict: bool, stop: Callable[[], int]) -> Report:
    err = Console(stderr=True)
    if not err.is_terminal:
        return verify(cluster, opts, dump, strict=strict, stop=stop)
    columns = (TextColumn("verifying frontends"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("verify", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return verify(cluster, opts, dump, strict=strict, progress=progress, stop=stop)


def _something_to_verify(cluster: Cluster, opts: ProxierOptions, files: tuple[str, ...]) -> None:
    from spec.proxy.endpoints import service_ports

    if not service_ports(cluster):
        raise InputError(f"nothing to verify: no IPv4 Service with a cluster IP in {', '.join(files)}")
    known = {n.name for n in cluster.nodes} | {ep.node_name for s in cluster.slices for ep in s.endpoints
                                               if ep.node_name}
    if opts.node_name not in known:
        raise InputError(f"--node {opts.node_name[:60]!r}: no Node object and no EndpointSlice endpoint names it")


def _read_dumps(dump_files: tuple[str, ...], listing_files: tuple[str, ...]) -> Dump:
    tables: dict[str, dict[str, Chain]] = {}
    sources: dict[str, str] = {}
    parts: list[tuple[str, Dump]] = []
    for path in dump_files:
        parts.append((path, parse_dump(decode(read_bytes(path), path), path)))
    for spec in listing_files:
        table, eq, path = spec.partition("=")
        if not eq or not path:
            raise InputError(f"--iptables-s: {spec[:60]!r} is not TABLE=FILE")
        parts.append((path, parse_dump(decode(read_bytes(path), path), path, table=table)))
    for path, dump in parts:
        for table, chains in dump.tables.items():
            if table in tables:
                raise InputError(f"table {table} given twice ({sources[table]} and {path})")
            tables[table], sources[table] = dict(chains), path
    if not tables:
        raise InputError(f"nothing to verify: no table in {', '.join([*dump_files, *listing_files])}")
    return Dump(tables)


def _print(report: Report) -> None:
    for violation in report.violations:
        click.echo(violation.render())
    heading = "VIOLATED" if report.strict else "NOT KUBE-PROXY'S"
    shown: dict[tuple[str, ...], list[str]] = {}  # the deciding rules -> the frontends they break
    for violation in report.interference:
        same = shown.setdefault(violation.foreign, [])
        if len(same) < 2:
            click.echo(violation.render(heading))
        same.append(f"{violation.frontend} ({violation.prop})")
    for rules, fronts in shown.items():
        if len(fronts) > 2:
            click.echo(f"{heading}: {len(fronts) - 2} more frontends decided by the same rules "
                       f"({(rules or ('(none named)',))[-1]}): {', '.join(fronts[2:8])}"
                       + (", ..." if len(fronts) > 8 else ""))
    for warning in report.warnings:
        click.echo(warning)
    if report.opaque:
        listed = ", ".join(report.opaque[:8]) + (f", ... ({len(report.opaque)} in all)" if len(report.opaque) > 8
                                                  else "")
        click.echo(f"opaque conditions, taken either way: {listed}")
    summary = (f"{report.services} services, {report.ports} service ports, {report.frontends} frontends, "
               f"{report.endpoints} endpoints, {report.paths} symbolic paths; "
               f"max probability deviation from 1/n: {float(report.max_deviation):.3g}")
    if report.foreign:
        summary += (f"; {report.foreign} rules or policies of other components"
                    + (f", {len(report.interference)} breaking a promise" if report.interference else ""))
    if report.interrupted:
        name = "SIGTERM" if report.interrupted == signal.SIGTERM else "Ctrl-C"
        click.echo(f"INTERRUPTED ({name}) after {report.checked} frontend checks: partial result; "
                   f"{len(report.violations)} violation(s) found so far")
        return
    if report.ok:
        click.echo(f"verified: {summary}")
        return
    count = len(report.violations) + (len(report.interference) if report.strict else 0)
    click.echo(f"FAILED: {count} violation(s); {summary}")
