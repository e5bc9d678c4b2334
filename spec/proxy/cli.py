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

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from checker.cli import reports_input_errors
from checker.errors import InputError
from spec.proxy import ipvs
from spec.proxy.iptables import render, sync_proxy_rules
from spec.proxy.manifests import load_cluster, read_bytes
from spec.proxy.model import NEWEST_VERSION, SUPPORTED_VERSIONS, Cluster, ProxierOptions
from spec.proxy.parse import Chain, Dump, decode, parse_dump
from spec.proxy.verify import Interrupted, Report, verify

EXIT_SIGNAL: dict[int, int] = {int(signal.SIGINT): 130, int(signal.SIGTERM): 143}


def _options(func: Callable[..., Any]) -> Callable[..., Any]:
    opts = [
        click.option("-f", "--filename", "files", multiple=True, required=True, type=click.Path(dir_okay=False),
                     help="Manifests: Services, EndpointSlices, Nodes (repeatable)."),
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
        click.option("--kube-proxy-version", "version", default=".".join(map(str, NEWEST_VERSION)),
                     show_default=True, metavar="MAJOR.MINOR", help="The kube-proxy release whose rules to expect."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def _proxier_options(cluster: Cluster, node: str | None, kw: dict[str, Any], scheduler: str = "rr") -> ProxierOptions:
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
    return ProxierOptions(
        node_name=node, node_ips=node_ips, cluster_cidr=cidr, masquerade_bit=kw["masquerade_bit"],
        masquerade_mark=mark, masquerade_all=kw["masquerade_all"], localhost_nodeports=kw["localhost_nodeports"],
        nfacct=kw["nfacct"], random_fully=kw["random_fully"], conntrack_tcp_be_liberal=kw["conntrack_tcp_be_liberal"],
        ipvs_scheduler=scheduler, version=version,
    )


@click.group()
def proxy() -> None:
    """kube-proxy: the rules it installs, and a z3 proof that they are right."""


@proxy.command()
@_options
@click.option("--node", required=True, help="The node kube-proxy runs on (decides which endpoints are local).")
@click.option("--mode", type=click.Choice(["iptables", "ipvs"]), default="iptables", show_default=True)
@click.option("--ipvs-scheduler", default="rr", show_default=True,
              type=click.Choice(["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh"]))
@reports_input_errors
def rules(files: tuple[str, ...], node: str, mode: str, ipvs_scheduler: str, **kw: Any) -> None:
    """Print the rules kube-proxy installs on NODE (iptables-save text, or the IPVS virtual servers)."""
    cluster = load_cluster(files)
    opts = _proxier_options(cluster, node, kw, ipvs_scheduler)
    if mode == "ipvs":
        click.echo(ipvs.render(ipvs.virtual_servers(cluster, opts)), nl=False)
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
@reports_input_errors
def verify_command(files: tuple[str, ...], node: str | None, dump_files: tuple[str, ...],
                   listing_files: tuple[str, ...], strict: bool, **kw: Any) -> None:
    """Prove the rules route every Service packet as upstream kube-proxy semantics require."""
    with _signals() as stopped:
        try:
            cluster = load_cluster(files)
            opts = _proxier_options(cluster, node, kw)
            _something_to_verify(cluster, opts, files)
            if dump_files or listing_files:
                dump = _read_dumps(dump_files, listing_files)
            else:
                dump = parse_dump(render(sync_proxy_rules(cluster, opts)), "<generated rules>")
        except Interrupted as exc:
            click.echo("interrupted while reading the input: nothing verified", err=True)
            sys.exit(EXIT_SIGNAL.get(exc.signum, 130))
        report = _run(cluster, opts, dump, strict)
    del stopped
    _print(report)
    if report.interrupted:
        sys.exit(EXIT_SIGNAL.get(report.interrupted, 130))
    if not report.ok:
        sys.exit(1)


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


def _run(cluster: Cluster, opts: ProxierOptions, dump: Dump, strict: bool) -> Report:
    err = Console(stderr=True)
    if not err.is_terminal:
        return verify(cluster, opts, dump, strict=strict)
    columns = (TextColumn("verifying frontends"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("verify", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return verify(cluster, opts, dump, strict=strict, progress=progress)


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
    for violation in report.interference:
        click.echo(violation.render("VIOLATED" if report.strict else "NOT KUBE-PROXY'S"))
    for warning in report.warnings:
        click.echo(warning)
    if report.opaque:
        shown = ", ".join(report.opaque[:8]) + (f", ... ({len(report.opaque)} in all)" if len(report.opaque) > 8
                                                 else "")
        click.echo(f"opaque conditions, taken either way: {shown}")
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
