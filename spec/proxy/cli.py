"""`kubespec proxy rules` and `kubespec proxy verify`.

Options mirror kube-proxy's flags and defaults (upstream cmd/kube-proxy/app/options.go): --cluster-cidr,
--masquerade-bit 14, --masquerade-all, --iptables-localhost-nodeports (on), --ipvs-scheduler rr. The
environment-dependent switches (nfacct counters, --random-fully support) default to what a modern node has.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from checker.cli import reports_input_errors
from checker.errors import InputError
from spec.proxy import ipvs
from spec.proxy.iptables import render, sync_proxy_rules
from spec.proxy.manifests import load_cluster
from spec.proxy.model import Cluster, ProxierOptions
from spec.proxy.parse import parse_dump
from spec.proxy.verify import verify


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
    if mark is not None:
        try:
            int(mark, 16)
        except ValueError:
            raise InputError(f"--masquerade-mark: {mark!r} is not a hexadecimal mark") from None
    return ProxierOptions(
        node_name=node, node_ips=node_ips, cluster_cidr=cidr, masquerade_bit=kw["masquerade_bit"],
        masquerade_mark=mark, masquerade_all=kw["masquerade_all"], localhost_nodeports=kw["localhost_nodeports"],
        nfacct=kw["nfacct"], random_fully=kw["random_fully"], conntrack_tcp_be_liberal=kw["conntrack_tcp_be_liberal"],
        ipvs_scheduler=scheduler,
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
@click.option("--iptables-save", "dump_file", default=None, type=click.Path(dir_okay=False),
              help="Verify this dump instead of the generated rules.")
@reports_input_errors
def verify_command(files: tuple[str, ...], node: str | None, dump_file: str | None, **kw: Any) -> None:
    """Prove the rules route every Service packet as upstream kube-proxy semantics require."""
    cluster = load_cluster(files)
    opts = _proxier_options(cluster, node, kw)
    if dump_file is not None:
        try:
            text = Path(dump_file).read_text()
        except OSError as exc:
            raise InputError(f"{dump_file}: cannot read: {exc.strerror}") from None
        dump = parse_dump(text, dump_file)
    else:
        dump = parse_dump(render(sync_proxy_rules(cluster, opts)), "<generated rules>")
    report = verify(cluster, opts, dump)
    for violation in report.violations:
        click.echo(violation.render())
    summary = (f"{report.services} services, {report.ports} service ports, {report.frontends} frontends, "
               f"{report.endpoints} endpoints, {report.paths} symbolic paths; "
               f"max probability deviation from 1/n: {float(report.max_deviation):.3g}")
    if report.ok:
        click.echo(f"verified: {summary}")
        return
    click.echo(f"FAILED: {len(report.violations)} violation(s); {summary}")
    sys.exit(1)
