"""Time to place pods on nodes in both modes: 100 pods x 20 nodes and 500 pods x 100 nodes.

Workload: Deployments of 10 replicas each over nodes in 4 zones; a third spread over zones (maxSkew 1,
DoNotSchedule), a third with required anti-affinity on the hostname, a third with required affinity to the
previous group's zone, and every group with cpu/memory requests that fill ``--fill`` (default 70%) of the cluster's
cpu. ``--mixed``: groups request 0.5x, 1x or 1.5x that cpu and 1-3 GiB (a harder packing).
Figures are CPU seconds of this process (time.process_time; the machine is shared). "optimal" is
``spec.scheduling.smt.solve`` alone; the command ``kubespec schedule --mode optimal`` also runs kube-scheduler mode
(for its "kube-scheduler leaves ... pending" notes), so it takes about the sum of the two.
Run: python -m benchmarks.bench_schedule [--sizes 100x20,500x100] [--timeout 60] [--objective pack|balance]
     [--fill 0.7] [--mixed]
Exit status 1 when a placement is not proved optimal.
"""

from __future__ import annotations

import argparse
import sys
import time

import attrs

from spec.scheduling.kube_scheduler import schedule
from spec.scheduling.smt import solve
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import (
    Affinity,
    LabelSelector,
    NodeInfo,
    PodAffinityTerm,
    PodInfo,
    Resources,
    TopologySpreadConstraint,
    pairs,
)

ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"


def cluster(n_pods: int, n_nodes: int, fill: float = 0.7) -> tuple[tuple[PodInfo, ...], Snapshot]:
    nodes = tuple(
        NodeInfo(
            f"node-{i:03d}",
            pairs({HOST: f"node-{i:03d}", ZONE: f"zone-{i % 4}"}),
            allocatable=Resources(8000, 32 << 30, 0, 110),
        )
        for i in range(n_nodes)
    )
    total_cpu = 8000 * n_nodes
    cpu = int(total_cpu * fill) // n_pods // 50 * 50
    pods = []
    for i in range(n_pods):
        group = i // 10
        app = f"app-{group}"
        sel = LabelSelector(pairs({"app": app}))
        kind = group % 3
        affinity = Affinity()
        spread: tuple[TopologySpreadConstraint, ...] = ()
        if kind == 0:
            spread = (TopologySpreadConstraint(1, ZONE, "DoNotSchedule", sel),)
        elif kind == 1:
            affinity = Affinity(anti_required=(PodAffinityTerm(HOST, sel, ("default",)),))
        else:
            previous = LabelSelector(pairs({"app": f"app-{group - 1}"}))
            affinity = Affinity(pod_required=(PodAffinityTerm(ZONE, previous, ("default",)),))
        pods.append(
            PodInfo(
                f"{app}-{i % 10}",
                "default",
                pairs({"app": app}),
                Resources(cpu, 1 << 30),
                cpu,
                1 << 30,
                affinity=affinity,
                topology_spread_constraints=spread,
                order=i,
                spread_selector=sel,
            )
        )
    return tuple(pods), Snapshot(nodes)


def mixed(pods: tuple[PodInfo, ...]) -> tuple[PodInfo, ...]:
    """Group g requests (1 + g % 3) / 2 times the cpu and 1 + g % 3 GiB."""
    out = []
    for p in pods:
        k = 1 + int(p.name.split("-")[1]) % 3
        requests = Resources(p.requests.milli_cpu * k // 2 // 50 * 50, k << 30)
        out.append(attrs.evolve(p, requests=requests, non_zero_cpu=requests.milli_cpu, non_zero_memory=k << 30))
    return tuple(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100x20,500x100")
    parser.add_argument("--timeout", type=float, default=60.0, help="optimal mode's time limit (wall seconds)")
    parser.add_argument("--objective", choices=["pack", "balance"], default="pack")
    parser.add_argument("--fill", type=float, default=0.7)
    parser.add_argument("--mixed", action="store_true")
    args = parser.parse_args()
    all_proved = True
    for size in args.sizes.split(","):
        n_pods, n_nodes = (int(v) for v in size.split("x"))
        pending, snapshot = cluster(n_pods, n_nodes, args.fill)
        if args.mixed:
            pending = mixed(pending)
        start = time.process_time()
        outcome = schedule(pending, snapshot)
        kube_s = time.process_time() - start
        kube_placed = sum(1 for p in outcome.placements if p.node)
        kube_nodes = len({p.node for p in outcome.placements if p.node})
        start = time.process_time()
        result = solve(pending, snapshot, args.objective, int(args.timeout * 1000))
        opt_s = time.process_time() - start
        if result.proved_optimal:
            verdict = "proved optimal"
        else:
            verdict = "not proved optimal: " + "; ".join(g.text() for g in result.gaps)
        all_proved = all_proved and result.proved_optimal
        print(
            f"{n_pods} pods x {n_nodes} nodes: kube-scheduler {kube_s:.2f} s CPU ({kube_placed} placed, "
            f"{kube_nodes} nodes); optimal ({args.objective}) {opt_s:.2f} s CPU ({len(result.assignment)} placed, "
            f"{result.nodes_used} nodes, {verdict})",
            flush=True,
        )
    sys.exit(0 if all_proved else 1)


if __name__ == "__main__":
    main()
