"""``kubespec schedule``: place the pending pods of Kubernetes manifests, as kube-scheduler would or optimally.

Exit codes: 0 every pod placed, 1 some pod not placed (each one explained), 2 bad input.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import attrs
import click

from checker.cli import reports_input_errors
from checker.errors import InputError
from spec.scheduling.kube_scheduler import Outcome
from spec.scheduling.kube_scheduler import schedule as kube_schedule
from spec.scheduling.manifests import Cluster, load_manifests, parse_manifests
from spec.scheduling.smt import OptimalResult, solve

UPSTREAM_VERSION = "v1.34"


def _load(files: tuple[str, ...]) -> Cluster:
    clusters = []
    for f in files:
        clusters.append(parse_manifests(sys.stdin.read(), "<stdin>") if f == "-" else load_manifests(f))
    if len(clusters) == 1:
        return clusters[0]
    nodes = tuple(n for c in clusters for n in c.nodes)
    pods = tuple(p for c in clusters for p in c.pods)
    namespaces = tuple(ns for c in clusters for ns in c.namespaces)
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise InputError("the same Node is defined in two files")
    # creation order across files: file order, then document order
    pods = tuple(attrs.evolve(p, order=i) for i, p in enumerate(pods))
    return Cluster(nodes, pods, namespaces)


def _kube_report(cluster: Cluster, outcome: Outcome) -> dict[str, Any]:
    pods = [
        {"pod": p.pod, "node": p.node, "reason": p.reason or None, "preempted": list(p.preempted)}
        for p in outcome.placements
    ]
    placed = sum(1 for p in outcome.placements if p.node)
    used = {p.node_name for p in outcome.snapshot.pods} & {n.name for n in cluster.nodes}
    return {
        "mode": "kube-scheduler",
        "objective": None,
        "upstream": UPSTREAM_VERSION,
        "tie_break": "smallest node name among the best scores",
        "pods": pods,
        "totals": {
            "pending": len(outcome.placements),
            "placed": placed,
            "unplaced": len(outcome.placements) - placed,
            "nodes": len(cluster.nodes),
            "nodes_used": len(used),
        },
    }


def _optimal_report(cluster: Cluster, result: OptimalResult, kube: Outcome) -> dict[str, Any]:
    reasons = {e.pod: e.text() for e in result.unplaced}
    kube_pending = {p.pod: p.reason for p in kube.placements if p.node is None}
    pods = []
    missed = []
    for pod in sorted(cluster.pending, key=lambda p: (-p.priority, p.order)):
        node = result.assignment.get(pod.key)
        pods.append({"pod": pod.key, "node": node, "reason": reasons.get(pod.key)})
        if node is not None and pod.key in kube_pending:
            missed.append({"pod": pod.key, "node": node, "kube_scheduler": kube_pending[pod.key]})
    placed = len(result.assignment)
    return {
        "mode": "optimal",
        "objective": result.objective,
        "upstream": UPSTREAM_VERSION,
        "proved_optimal": result.proved_optimal,
        "gaps": [g.text() for g in result.gaps],
        "seconds": round(result.seconds, 3),
        "pods": pods,
        "totals": {
            "pending": len(pods),
            "placed": placed,
            "unplaced": len(pods) - placed,
            "nodes": len(cluster.nodes),
            "nodes_used": result.nodes_used,
            "kube_scheduler_placed": sum(1 for p in kube.placements if p.node),
        },
        "kube_scheduler_missed": missed,
    }


def _print_text(report: dict[str, Any]) -> None:
    if report["mode"] == "optimal":
        proof = "proved optimal" if report["proved_optimal"] else "best found before the timeout"
        click.echo(f"mode: optimal (objective {report['objective']}; z3 {proof} in {report['seconds']}s)")
        for gap in report["gaps"]:
            click.echo(f"  not proved: {gap}")
    else:
        click.echo(
            f"mode: kube-scheduler (Kubernetes {report['upstream']} default plugins; ties: {report['tie_break']})"
        )
    width = max((len(p["pod"]) for p in report["pods"]), default=0)
    for p in report["pods"]:
        if p["node"]:
            extra = f"  (preempted {', '.join(p['preempted'])})" if p.get("preempted") else ""
            click.echo(f"  {p['pod']:<{width}}  -> {p['node']}{extra}")
        else:
            click.echo(f"  {p['pod']:<{width}}  not placed: {p['reason']}")
    for m in report.get("kube_scheduler_missed", []):
        click.echo(
            f"note: kube-scheduler leaves {m['pod']} pending ({m['kube_scheduler']}); "
            f"a valid placement puts it on {m['node']}"
        )
    t = report["totals"]
    click.echo(f"placed {t['placed']}/{t['pending']} pending pods; {t['nodes_used']}/{t['nodes']} nodes in use")


@click.command("schedule")
@click.option(
    "-f",
    "--filename",
    "files",
    multiple=True,
    required=True,
    metavar="FILE",
    help="Kubernetes YAML manifests (Nodes, Pods, Deployments, ...); '-' reads stdin. Repeatable.",
)
@click.option(
    "--mode",
    type=click.Choice(["kube-scheduler", "optimal"]),
    default="kube-scheduler",
    show_default=True,
    help="kube-scheduler: pod by pod as upstream; optimal: all pods at once with z3.",
)
@click.option(
    "--objective",
    type=click.Choice(["pack", "balance"]),
    default="pack",
    show_default=True,
    help="optimal mode, after most pods placed (by priority): fewest nodes, or lowest peak utilization.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="optimal mode: z3 time limit in seconds.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@reports_input_errors
def schedule(files: tuple[str, ...], mode: str, objective: str, timeout: float, as_json: bool) -> None:
    """Place the pending pods of MANIFESTS on their nodes; explain every pod that cannot be placed."""
    cluster = _load(files)
    snapshot = cluster.snapshot()
    kube = kube_schedule(cluster.pending, snapshot)
    if mode == "kube-scheduler":
        report = _kube_report(cluster, kube)
    else:
        result = solve(cluster.pending, snapshot, objective, int(timeout * 1000))  # type: ignore[arg-type]
        report = _optimal_report(cluster, result, kube)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_text(report)
    sys.exit(0 if report["totals"]["unplaced"] == 0 else 1)
