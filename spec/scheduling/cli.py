"""``kubespec schedule``: place the pending pods of Kubernetes manifests, as kube-scheduler would or optimally.

Exit codes: 0 every pod placed (gated and terminating pods aside), 1 some pod not placed (each one explained),
2 bad input, 130 / 143 interrupted by SIGINT / SIGTERM (the partial result is printed).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click
import z3
from rich.console import Console

from checker.cli import reports_input_errors
from checker.errors import InputError
from spec.scheduling.kube_scheduler import Outcome
from spec.scheduling.kube_scheduler import schedule as kube_schedule
from spec.scheduling.manifests import Cluster, build_cluster, read_documents, read_file
from spec.scheduling.smt import OptimalResult, Stop, solve
from spec.scheduling.storage import claim_choices

UPSTREAM_VERSION = "v1.34"


def _load(files: tuple[str, ...]) -> Cluster:
    """Every object of every file, built into one cluster (a DaemonSet in one file runs on the Nodes of another;
    a pod may name a PriorityClass defined elsewhere). Creation order: file order, then document order."""
    docs = []
    for f in files:
        docs.extend(read_documents(sys.stdin.read(), "<stdin>") if f == "-" else read_file(f))
    return build_cluster(docs)


def _waiting(cluster: Cluster) -> list[dict[str, Any]]:
    """Unbound pods the scheduler does not take: gated ones (upstream: SchedulingGated) and terminating ones."""
    out = []
    for p in cluster.waiting:
        if p.scheduling_gates:
            reason = f"SchedulingGated: scheduling is blocked by gates {', '.join(p.scheduling_gates)}"
        else:
            reason = "being deleted (metadata.deletionTimestamp): not scheduled"
        out.append({"pod": p.key, "node": None, "reason": reason, "waiting": True})
    return out


def _kube_report(cluster: Cluster, outcome: Outcome) -> dict[str, Any]:
    pods = [
        {"pod": p.pod, "node": p.node, "reason": p.reason or None, "preempted": list(p.preempted)}
        for p in outcome.placements
    ]
    pending = {p.key for p in cluster.pending}
    ours = [p for p in outcome.placements if p.pod in pending]
    placed = sum(1 for p in ours if p.node)
    used = {p.node_name for p in outcome.snapshot.pods} & {n.name for n in cluster.nodes}
    waiting = _waiting(cluster)
    return {
        "mode": "kube-scheduler",
        "objective": None,
        "upstream": UPSTREAM_VERSION,
        "tie_break": "smallest node name among the best scores",
        "pods": pods + waiting,
        "totals": {
            "pending": len(ours),
            "placed": placed,
            "unplaced": len(ours) - placed,
            "waiting": len(waiting),
            "nodes": len(cluster.nodes),
            "nodes_used": len(used),
            "preempted": len(outcome.placements) - len(ours),
        },
        "notes": list(cluster.notes),
        "warnings": list(cluster.warnings),
        **({"volumes": _volumes_reserved(cluster, outcome)} if cluster.storage is not None else {}),
    }


def _volumes_reserved(cluster: Cluster, outcome: Outcome) -> list[dict[str, Any]]:
    """What the run's Reserves decided for claims (upstream's AssumePodVolumes, then PreBind's API updates): each
    static volume bound to a claim, each claim handed to its provisioner with a selected node."""
    before, after = cluster.storage, outcome.storage
    if before is None or after is None:
        return []
    out: list[dict[str, Any]] = []
    for name, volume in sorted(after.volumes.items()):
        ref = volume.claim_ref
        if ref is not None and before.volumes[name].claim_ref != ref:
            out.append({"claim": f"{ref.namespace}/{ref.name}", "volume": name, "provisioned_on": None})
    for key, claim in sorted(after.claims.items()):
        if claim.selected_node and before.claims[key].selected_node != claim.selected_node:
            out.append({"claim": f"{claim.meta.namespace}/{claim.meta.name}", "volume": None,
                        "provisioned_on": claim.selected_node})
    return out


def _optimal_report(cluster: Cluster, result: OptimalResult, kube: Outcome) -> dict[str, Any]:
    reasons = {e.pod: e.text() for e in result.unplaced}
    kube_pending = {p.pod: p.reason for p in kube.placements if p.node is None}
    pods = []
    missed = []
    preempted = _attribute_victims(cluster, result)
    victims: list[dict[str, Any]] = []
    for pod in sorted(cluster.pending, key=lambda p: (-p.priority, p.order)):
        node = result.assignment.get(pod.key)
        evicted = preempted.get(pod.key, [])
        pods.append({"pod": pod.key, "node": node, "reason": reasons.get(pod.key), "preempted": evicted})
        victims.extend(
            {"pod": v, "node": None, "reason": f"preempted by {pod.key} on node {node}", "preempted": []}
            for v in evicted
        )
        if node is not None and pod.key in kube_pending:
            missed.append({"pod": pod.key, "node": node, "kube_scheduler": kube_pending[pod.key]})
    placed = len(result.assignment)
    waiting = _waiting(cluster)
    return {
        "mode": "optimal",
        "objective": result.objective,
        "upstream": UPSTREAM_VERSION,
        "proved_optimal": result.proved_optimal,
        "gaps": [g.text() for g in result.gaps],
        "interrupted": result.interrupted,
        "reproducible": result.reproducible,
        "seconds": round(result.seconds, 3),
        "pods": pods + victims + waiting,
        "totals": {
            "pending": len(pods),
            "placed": placed,
            "unplaced": len(pods) - placed,
            "waiting": len(waiting),
            "nodes": len(cluster.nodes),
            "nodes_used": result.nodes_used,
            "preempted": len(result.victims),
            "kube_scheduler_placed": sum(1 for p in kube.placements if p.node),
        },
        "kube_scheduler_missed": missed,
        "notes": list(cluster.notes),
        "warnings": list(cluster.warnings),
    }


def _attribute_victims(cluster: Cluster, result: OptimalResult) -> dict[str, list[str]]:
    """Preemptor pod key -> the victims it evicted: each victim goes to the first pod, in queue order, placed on
    its node with a higher priority and preemptionPolicy PreemptLowerPriority."""
    priority = {p.key: p.priority for p in cluster.pods}
    out: dict[str, list[str]] = {}
    order = sorted(cluster.pending, key=lambda p: (-p.priority, p.order))
    for victim, node in sorted(result.victims.items()):
        for pod in order:
            if (
                result.assignment.get(pod.key) == node
                and pod.priority > priority[victim]
                and pod.preemption_policy != "Never"
            ):
                out.setdefault(pod.key, []).append(victim)
                break
    return out


def _print_text(report: dict[str, Any]) -> None:
    if report["mode"] == "optimal":
        if report["proved_optimal"]:
            proof = "proved optimal"
        elif report["interrupted"]:
            proof = "interrupted: best found so far, not proved optimal,"
        else:
            proof = "best found within the limit, not proved optimal,"
        click.echo(f"mode: optimal (objective {report['objective']}; z3 {proof} in {report['seconds']}s)")
        for gap in report["gaps"]:
            click.echo(f"  not proved: {gap}")
        if not report["reproducible"]:
            click.echo(
                "  note: the wall-clock limit or an interrupt ended the search, so this placement is one of several "
                "it may find: another run may differ"
            )
    else:
        click.echo(
            f"mode: kube-scheduler (Kubernetes {report['upstream']} default plugins; ties: {report['tie_break']})"
        )
    width = max((len(p["pod"]) for p in report["pods"]), default=0)
    for p in report["pods"]:
        if p["node"]:
            extra = f"  (preempted {', '.join(p['preempted'])})" if p.get("preempted") else ""
            click.echo(f"  {p['pod']:<{width}}  -> {p['node']}{extra}")
        elif (p["reason"] or "").startswith("preempted by "):
            click.echo(f"  {p['pod']:<{width}}  evicted: {p['reason']}")
        else:
            click.echo(f"  {p['pod']:<{width}}  not placed: {p['reason']}")
    for v in report.get("volumes", []):
        target = f"volume {v['volume']}" if v["volume"] else f"provisioned on {v['provisioned_on']}"
        click.echo(f"  claim {v['claim']} -> {target}")
    for m in report.get("kube_scheduler_missed", []):
        click.echo(
            f"note: kube-scheduler leaves {m['pod']} pending ({m['kube_scheduler']}); "
            f"a valid placement puts it on {m['node']}"
        )
    t = report["totals"]
    waiting = f"; {t['waiting']} gated or terminating, left pending" if t["waiting"] else ""
    waiting += f"; {t['preempted']} running pods preempted" if t.get("preempted") else ""
    click.echo(
        f"placed {t['placed']}/{t['pending']} pending pods{waiting}; {t['nodes_used']}/{t['nodes']} nodes in use"
    )


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
@click.option(
    "--no-preemption",
    is_flag=True,
    help="Never evict running pods (kube-scheduler mode: no PostFilter; optimal mode: no victims).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@reports_input_errors
def schedule(
    files: tuple[str, ...], mode: str, objective: str, timeout: float, no_preemption: bool, as_json: bool
) -> None:
    """Place the pending pods of MANIFESTS on their nodes; explain every pod that cannot be placed.

    Ctrl-C (or SIGTERM) stops the search and prints the best placement found so far (exit 130, or 143).
    """
    cluster = _load(files)
    if mode == "optimal" and cluster.storage is not None:  # refused before anything is printed
        annotated = [cluster.storage.annotate(p, cluster.nodes) for p in cluster.pending]
        refused = claim_choices(cluster.storage, annotated, cluster.nodes)[1]
        if refused:
            raise InputError(f"--mode optimal: {refused}; use --mode kube-scheduler")
    for note in cluster.notes:
        click.echo(f"note: {note}", err=True)
    for warning in cluster.warnings:
        click.echo(f"warning: {warning}", err=True)
    snapshot = cluster.snapshot()
    stop = Stop()
    with interrupts(stop) as received:
        kube = kube_schedule(
            cluster.pending,
            snapshot,
            cluster.budgets,
            preemption=not no_preemption,
            stop=stop.is_set,
            storage=cluster.storage,
        )
        if mode == "kube-scheduler":
            report = _kube_report(cluster, kube)
        else:
            console = Console(stderr=True)
            status = (
                console.status(f"z3: placing {len(cluster.pending)} pods (at most {timeout:g} s; Ctrl-C stops)")
                if console.is_terminal
                else contextlib.nullcontext()
            )
            with status:
                result = solve(
                    cluster.pending,
                    snapshot,
                    objective,  # type: ignore[arg-type]
                    int(timeout * 1000),
                    budgets=cluster.budgets,
                    preemption=not no_preemption,
                    stop=stop,
                    storage=cluster.storage,
                )
            report = _optimal_report(cluster, result, kube)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _print_text(report)
    if received:
        click.echo(f"interrupted by {signal.Signals(received[0]).name}: the result above is partial", err=True)
        sys.exit(128 + received[0])
    sys.exit(0 if report["totals"]["unplaced"] == 0 else 1)


@contextlib.contextmanager
def interrupts(stop: Stop) -> Iterator[list[int]]:
    """While inside, SIGINT and SIGTERM call ``stop.interrupt()`` (at once, also during a z3 query: a watcher
    thread reads the signal from the wakeup fd and cancels z3) and are recorded in the yielded list.

    z3's own Ctrl-C handler is turned off: it swallowed the signal and reported "canceled", which the search
    took for a timeout. Outside the main thread nothing is installed."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    z3.set_param("ctrl_c", False)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def handler(signum: int, frame: object) -> None:
        received.append(signum)
        stop.interrupt()

    def watch() -> None:
        while True:
            try:
                data = os.read(read_fd, 16)
            except OSError:
                return
            if not data:
                return
            stop.interrupt()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    old_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield received
    finally:
        signal.set_wakeup_fd(old_fd)
        for sig, old in previous.items():
            signal.signal(sig, old)
        os.close(write_fd)
        watcher.join(timeout=1)
        os.close(read_fd)
