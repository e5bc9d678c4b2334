"""Time to place pods on nodes in both modes: 100 pods x 20 nodes and 500 pods x 100 nodes.

Workload: Deployments of 10 replicas each over nodes in 4 zones; a third spread over zones (maxSkew 1,
DoNotSchedule), a third with required anti-affinity on the hostname, a third with required affinity to the
previous group's zone, and every group with cpu/memory requests that fill ``--fill`` (default 70%) of the cluster's
cpu. ``--mixed``: groups request 0.5x, 1x or 1.5x that cpu and 1-3 GiB (a harder packing).
Figures are CPU seconds of this process (time.process_time; the machine is shared). "optimal" is
``spec.scheduling.smt.solve`` alone; the command ``kubespec schedule --mode optimal`` also runs kube-scheduler mode
(for its "kube-scheduler leaves ... pending" notes), so it takes about the sum of the two.
``--realistic``: the seeded realistic generator (``realistic_manifests``: zones, racks, tainted dedicated and GPU
nodes, anti-affinity, zone and rack spreads, zone affinity between apps, priorities), read through the manifest
reader. Target (issue 16): 500 pods x 100 nodes in optimal mode within 10 s, proved optimal or with the bound
stated; kube-scheduler mode 5,000 pods x 1,000 nodes under 30 s:
     python -m benchmarks.bench_schedule --realistic --sizes 500x100 --timeout 10
     python -m benchmarks.bench_schedule --realistic --sizes 5000x1000 --kube-only
``--volumes``: every pod also has a claim of its own on a WaitForFirstConsumer class without provisioner, and
there is one local volume per pod, on the nodes round robin (VolumeBinding: ``spec.scheduling.storage``; in optimal
mode each pod is a group of its own).
Run: python -m benchmarks.bench_schedule [--sizes 100x20,500x100] [--timeout 60] [--objective pack|balance]
     [--fill 0.7] [--mixed] [--realistic] [--seed 1] [--kube-only] [--volumes]
Exit status 1 when a placement is not proved optimal.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from typing import Any

import attrs

from spec.scheduling.kube_scheduler import schedule
from spec.scheduling.manifests import build_cluster
from spec.scheduling.smt import placement_count, solve
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.storage import Storage, storage_of
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


RACK = "topology.example.com/rack"


def realistic_manifests(
    n_pods: int = 500, n_nodes: int = 100, seed: int = 1, fill: float = 0.7
) -> list[dict[str, Any]]:
    """A seeded, realistic mixed cluster as Kubernetes objects (Nodes, PriorityClasses, Deployments).

    Nodes in 5 zones and 10 racks (2 per zone): 5% GPU nodes (4 GPUs, tainted), 15% dedicated batch nodes
    (tainted ``dedicated=batch:NoSchedule``), 10% SSD nodes, the rest general purpose (16 or 32 CPUs). Apps
    (Deployments of 2-12 replicas): web (required per-host anti-affinity, zone spread maxSkew 1), ssd (nodeSelector,
    rack spread maxSkew 1), batch (tolerating the dedicated taint; half require the dedicated nodes), gpu (1-2
    GPUs), cache (required zone affinity to a web app), plain; a fifth of them at priority 1000. CPU requests are
    scaled so that the pods request ``fill`` of the cluster's CPU.
    """
    rng = random.Random(seed)
    docs: list[dict[str, Any]] = [
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}
    ]
    total_cpu = 0
    for i in range(n_nodes):
        name = f"node-{i:04d}"
        labels = {HOST: name, ZONE: f"zone-{i % 5}", RACK: f"rack-{i % 10}"}
        slot = i % 20
        cpu, memory, taints, extra = rng.choice((16, 16, 32)), rng.choice((64, 128)), [], {}
        if slot == 0:
            labels["node-type"] = "gpu"
            taints = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
            extra = {"nvidia.com/gpu": "4"}
            cpu, memory = 32, 256
        elif slot in (1, 2, 3):
            labels["dedicated"] = "batch"
            taints = [{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}]
        elif slot in (4, 5):
            labels["disk"] = "ssd"
        total_cpu += cpu * 1000
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": labels},
                "spec": {"taints": taints},
                "status": {"allocatable": {"cpu": str(cpu), "memory": f"{memory}Gi", "pods": "110", **extra}},
            }
        )
    apps: list[dict[str, Any]] = []
    webs: list[str] = []
    count = 0
    while count < n_pods:
        k = len(apps)
        kind = rng.choices(("web", "ssd", "batch", "gpu", "cache", "plain"), (35, 10, 20, 5, 15, 15))[0]
        if kind == "cache" and not webs:
            kind = "web"
        replicas = min(rng.randint(2, 12), n_pods - count)
        if kind == "gpu":
            replicas = min(replicas, 3)
        app = f"{kind}-{k}"
        sel = {"matchLabels": {"app": app}}
        spec: dict[str, Any] = {}
        cpu_m = rng.choice((100, 250, 500, 1000, 1000, 2000, 4000))
        memory_mi = rng.choice((256, 512, 1024, 2048, 4096, 8192))
        limits: dict[str, str] = {}
        if kind == "web":
            webs.append(app)
            spec["affinity"] = {
                "podAntiAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": HOST, "labelSelector": sel}]
                }
            }
            spec["topologySpreadConstraints"] = [
                {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": sel}
            ]
        elif kind == "ssd":
            spec["nodeSelector"] = {"disk": "ssd"}
            spec["topologySpreadConstraints"] = [
                {"maxSkew": 1, "topologyKey": RACK, "whenUnsatisfiable": "DoNotSchedule", "labelSelector": sel}
            ]
        elif kind == "batch":
            spec["tolerations"] = [{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]
            term = {"matchExpressions": [{"key": "dedicated", "operator": "In", "values": ["batch"]}]}
            if rng.random() < 0.5:
                spec["affinity"] = {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [term]}}
                }
            else:
                spec["affinity"] = {
                    "nodeAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 50, "preference": term}]
                    }
                }
        elif kind == "gpu":
            spec["tolerations"] = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
            limits = {"nvidia.com/gpu": str(rng.choice((1, 2)))}
        elif kind == "cache":
            target = rng.choice(webs)
            spec["affinity"] = {
                "podAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": [
                        {"topologyKey": ZONE, "labelSelector": {"matchLabels": {"app": target}}}
                    ]
                }
            }
        if rng.random() < 0.2:
            spec["priorityClassName"] = "high"
        resources: dict[str, Any] = {"requests": {"cpu": cpu_m, "memory": f"{memory_mi}Mi"}}
        if limits:
            resources["limits"] = limits
        spec["containers"] = [{"name": "main", "image": f"example.com/{kind}:1", "resources": resources}]
        apps.append(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": app, "labels": {"app": app}},
                "spec": {
                    "replicas": replicas,
                    "selector": sel,
                    "template": {"metadata": {"labels": {"app": app}}, "spec": spec},
                },
            }
        )
        count += replicas
    requested = sum(a["spec"]["replicas"] * _cpu_of(a) for a in apps)
    scale = fill * total_cpu / requested if requested else 1.0
    for a in apps:
        requests = a["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
        requests["cpu"] = f"{max(50, int(_cpu_of(a) * scale) // 50 * 50)}m"
    return docs + apps


def _cpu_of(app: dict[str, Any]) -> int:
    value = app["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"]
    return int(value[:-1]) if isinstance(value, str) else int(value)


def realistic(
    n_pods: int = 500, n_nodes: int = 100, seed: int = 1, fill: float = 0.7
) -> tuple[tuple[PodInfo, ...], Snapshot]:
    """``realistic_manifests`` read as ``kubespec schedule`` reads them: (pending pods, snapshot)."""
    docs = realistic_manifests(n_pods, n_nodes, seed, fill)
    cluster = build_cluster([(f"generated: document {i + 1}", d) for i, d in enumerate(docs)])
    return cluster.pending, cluster.snapshot()


def mixed(pods: tuple[PodInfo, ...]) -> tuple[PodInfo, ...]:
    """Group g requests (1 + g % 3) / 2 times the cpu and 1 + g % 3 GiB."""
    out = []
    for p in pods:
        k = 1 + int(p.name.split("-")[1]) % 3
        requests = Resources(p.requests.milli_cpu * k // 2 // 50 * 50, k << 30)
        out.append(attrs.evolve(p, requests=requests, non_zero_cpu=requests.milli_cpu, non_zero_memory=k << 30))
    return tuple(out)


def with_volumes(pending: tuple[PodInfo, ...], snapshot: Snapshot) -> tuple[tuple[PodInfo, ...], Storage]:
    """Each pod with a claim ``data-<pod>`` (5 Gi, class local: WaitForFirstConsumer, no provisioner) and one
    10 Gi local volume per pod, pinned by hostname to the nodes round robin."""
    from spec.state import Meta, PersistentVolume, PersistentVolumeClaim, PersistentVolumeStatus, StorageClass

    nodes = snapshot.nodes
    local = StorageClass(Meta("local", namespace=""), "kubernetes.io/no-provisioner",
                         volume_binding_mode="WaitForFirstConsumer")
    claims = [PersistentVolumeClaim(Meta(f"data-{p.name}", p.namespace, uid=i + 1), ("ReadWriteOnce",), 5 << 30,
                                    "local") for i, p in enumerate(pending)]
    volumes = [PersistentVolume(Meta(f"pv-{i:04d}", namespace=""), 10 << 30, ("ReadWriteOnce",), "local", "Retain",
                                None, None, PersistentVolumeStatus("Available"), (nodes[i % len(nodes)].name,))
               for i in range(len(pending))]
    pods = tuple(attrs.evolve(p, claims=(f"data-{p.name}",)) for p in pending)
    return pods, storage_of(claims, volumes, [local])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100x20,500x100")
    parser.add_argument("--timeout", type=float, default=60.0, help="optimal mode's time limit (wall seconds)")
    parser.add_argument("--objective", choices=["pack", "balance"], default="pack")
    parser.add_argument("--fill", type=float, default=0.7)
    parser.add_argument("--mixed", action="store_true")
    parser.add_argument("--realistic", action="store_true", help="the seeded realistic generator (realistic())")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kube-only", action="store_true", help="kube-scheduler mode only")
    parser.add_argument("--volumes", action="store_true", help="a claim per pod, a local volume per pod")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    all_proved = True
    for size in args.sizes.split(","):
        n_pods, n_nodes = (int(v) for v in size.split("x"))
        if args.realistic:
            pending, snapshot = realistic(n_pods, n_nodes, args.seed, args.fill)
        else:
            pending, snapshot = cluster(n_pods, n_nodes, args.fill)
        if args.mixed:
            pending = mixed(pending)
        storage = None
        if args.volumes:
            pending, storage = with_volumes(pending, snapshot)
        start, wall = time.process_time(), time.perf_counter()
        outcome = schedule(pending, snapshot, storage=storage)
        kube_s, kube_wall = time.process_time() - start, time.perf_counter() - wall
        kube_placed = sum(1 for p in outcome.placements if p.node)
        kube_nodes = len({p.node for p in outcome.placements if p.node})
        line = (
            f"{len(pending)} pods x {n_nodes} nodes: kube-scheduler {kube_s:.2f} s CPU, {kube_wall:.2f} s wall "
            f"({kube_placed} placed, {kube_nodes} nodes)"
        )
        if not args.kube_only:
            start, wall = time.process_time(), time.perf_counter()
            result = solve(pending, snapshot, args.objective, int(args.timeout * 1000), storage=storage)
            opt_s, opt_wall = time.process_time() - start, time.perf_counter() - wall
            if result.proved_optimal:
                verdict = "proved optimal"
            else:
                verdict = "not proved optimal: " + "; ".join(g.text() for g in result.gaps)
            all_proved = all_proved and result.proved_optimal
            line += (
                f"; optimal ({args.objective}) {opt_s:.2f} s CPU, {opt_wall:.2f} s wall ({len(result.assignment)} "
                f"placed {placement_count(result.assignment, pending)} by priority, {result.nodes_used} nodes, "
                f"{verdict}; {'reproducible' if result.reproducible else 'cut by the wall clock'}; z3 work "
                f"{result.work / 1e6:.1f} M, {result.work / max(opt_s, 1e-9) / 1e6:.2f} M per CPU s)"
            )
        print(line, flush=True)
    sys.exit(0 if all_proved else 1)


if __name__ == "__main__":
    main()
