"""Speed and memory of the Kubernetes model: the default scenario, a larger one and service-web (issue 13).

    python -m benchmarks.bench_spec [--max-states N] [--scenario NAME ...] [--safety-only] [--compare]
                                    [--without REDUCTION ...]

Prints, per scenario: distinct states, generated states, depth, seconds, states/s, peak resident memory, and
whether the search was exhaustive ("ok") or cut by the bound ("bounded"). Plain script: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import resource
import time

import attrs

from checker import check
from spec.model import ClusterModel
from spec.scenario import builtin

SAFETY = ("NoDoubleScheduling", "NoOvercommit", "ReplicaSetNeverOvershoots", "ResourceVersionMonotonic")


LIFECYCLE = ("node-failure", "all-nodes-lost", "node-partition", "deleted-node")
"""The node lifecycle's built-in scenarios (issue 12), each exhaustive in under 2 minutes."""


WORKLOADS = ("drain-with-pdb",)
"""The StatefulSet / PodDisruptionBudget scenarios (issue 12), each exhaustive in under 2 minutes."""


REDUCTIONS = ("ample_sets", "commute_writes", "eager_noop", "symmetry", "renumber")
"""The ``spec.reduction.Reductions`` switches (docs/spec.md, "State space")."""


def run(name: str, max_states: int, safety_only: bool, off: tuple[str, ...] = ()) -> None:
    scenario = builtin(name)
    config = scenario.config
    reductions = attrs.evolve(scenario.reductions, **{r: False for r in off})
    if safety_only:
        config = attrs.evolve(config, properties=SAFETY)
    started = time.perf_counter()
    cpu = time.process_time()
    result = check(ClusterModel(config, reductions), max_states=max_states)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB; the process's peak so far
    st = result.stats
    rate = st.distinct_states / seconds if seconds else 0.0
    without = ("without " + ", ".join(off)) if off else "all reductions"
    print(
        f"{name:18} {'safety' if safety_only else 'all':6} {without:32} {result.status:9} "
        f"distinct={st.distinct_states:>9,} generated={st.generated:>10,} depth={st.depth:>3} "
        f"{seconds:8.1f} s ({cpu:6.1f} s CPU) {rate:8,.0f} states/s peak RSS={peak / 2**20:8.1f} MiB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-states", type=int, default=200_000)
    parser.add_argument("--scenario", action="append", default=None)
    parser.add_argument("--safety-only", action="store_true")
    parser.add_argument("--compare", action="store_true", help="also run without each reduction in turn")
    parser.add_argument("--without", action="append", default=[], choices=REDUCTIONS,
                        help="switch a reduction off (repeatable)")
    args = parser.parse_args()
    for name in args.scenario or ["web-two-nodes", "web-three-nodes", "service-web", *LIFECYCLE, *WORKLOADS]:
        run(name, args.max_states, args.safety_only, tuple(args.without))
        if args.compare:
            for r in REDUCTIONS:
                if r not in args.without:
                    run(name, args.max_states, args.safety_only, (*args.without, r))


if __name__ == "__main__":
    main()
