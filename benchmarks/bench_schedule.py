"""Time to place pods on nodes in both modes: 100 pods x 20 nodes and 500 pods x 100 nodes.

Workload: Deployments of 10 replicas each over nodes in 4 zones; a third spread over zones (maxSkew 1,
DoNotSchedule), a third with required anti-affinity on the hostname, a third with required affinity to the
previous group's zone, and every group with cpu/memory requests that fill about 70% of the cluster.
Run: python -m benchmarks.bench_schedule [--sizes 100x20,500x100] [--timeout 60]
"""

from __future__ import annotations

import argparse
import time

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


def cluster(n_pods: int, n_nodes: int) -> tuple[tuple[PodInfo, ...], Snapshot]:
    nodes = tuple(
        NodeInfo(f"node-{i:03d}", pairs({HOST: f"node-{i:03d}", ZONE: f"zone-{i % 4}"}),
                 allocatable=Resources(8000, 32 << 30, 0, 110))
        for i in range(n_nodes)
    )
    total_cpu = 8000 * n_nodes
    cpu = (total_cpu * 7 // 10) // n_pods // 50 * 50
    pods = []
    for i in range(n_pods):
        group = i // 10
        app = f"app-{group}"
        sel = LabelSelector(pairs({"app": app}))
        kind = group % 3
        affinity, spread = Affinity(), ()
        if kind == 0:
            spread = (TopologySpreadConstraint(1, ZONE, "DoNotSchedule", sel),)
        elif kind == 1:
            affinity = Affinity(anti_required=(PodAffinityTerm(HOST, sel, ("default",)),))
        else:
            previous = LabelSelector(pairs({"app": f"app-{group - 1}"}))
            affinity = Affinity(pod_required=(PodAffinityTerm(ZONE, previous, ("default",)),))
        pods.append(PodInfo(f"{app}-{i % 10}", "default", pairs({"app": app}), Resources(cpu, 1 << 30), cpu, 1 << 30,
                            affinity=affinity, topology_spread_constraints=spread, order=i,
                            spread_selector=sel))
    return tuple(pods), Snapshot(nodes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100x20,500x100")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    for size in args.sizes.split(","):
        n_pods, n_nodes = (int(v) for v in size.split("x"))
        pending, snapshot = cluster(n_pods, n_nodes)
        start = time.perf_counter()
        outcome = schedule(pending, snapshot)
        kube_s = time.perf_counter() - start
        kube_placed = sum(1 for p in outcome.placements if p.node)
        start = time.perf_counter()
        result = solve(pending, snapshot, "pack", int(args.timeout * 1000))
        opt_s = time.perf_counter() - start
        print(f"{n_pods} pods x {n_nodes} nodes: kube-scheduler {kube_s:.2f} s ({kube_placed} placed); "
              f"optimal {opt_s:.2f} s ({len(result.assignment)} placed, {result.nodes_used} nodes, "
              f"{'proved optimal' if result.proved_optimal else 'timeout: best found'})", flush=True)


if __name__ == "__main__":
    main()
