"""Checker throughput and memory: distinct states/s (whole process), bytes per state, peak RSS.

Each model is checked in a fresh process (`python -m benchmarks.bench_checker MODULE:NAME ARG`), so start-up
is included as in TLC's figures, and peak RSS is that process's own. Targets (issue 2, one worker, this
2-core machine): TwoPhase with 7 RMs (296,448 states) at >= 50,000 distinct states/s; with 8 RMs (1,745,408
states) in < 40 s and < 1 GiB peak RSS. The baseline row is a plain Python BFS over a set with the same model.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from typing import Any

#: checker: exact storage; fingerprint: fingerprint storage; workersN: N worker processes, the default protocol
#: (`checker.hashed`, Python's hash of each state); shardedN: N workers owning shards stored exactly
#: (`checker.sharded`, `--storage exact`); plain: the plain BFS.
MODES = ["checker", "fingerprint", "plain"]
CASES = [
    ("checker.examples.twophase:TwoPhase", 5),
    ("checker.examples.twophase:TwoPhase", 7),
    ("checker.examples.twophase:TwoPhase", 8),
    ("checker.examples.ewd840:EWD840", 4),
]


def _load(ref: str, arg: int) -> Any:
    import importlib

    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)(arg)


def _child(ref: str, arg: int, mode: str) -> None:
    started = time.perf_counter()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    model = _load(ref, arg)
    if mode in ("checker", "fingerprint") or mode.startswith(("workers", "sharded")):
        from checker import check

        if mode.startswith("workers"):
            result = check(model, deadlock=False, workers=int(mode.removeprefix("workers")))
        elif mode.startswith("sharded"):
            result = check(model, deadlock=False, workers=int(mode.removeprefix("sharded")), storage="exact")
        else:
            result = check(model, deadlock=False, storage="exact" if mode == "checker" else mode)
        distinct, generated = result.stats.distinct_states, result.stats.generated
    else:
        seen = set(model.init_states())
        frontier = list(seen)
        generated = len(frontier)
        while frontier:
            nxt = []
            for s in frontier:
                for _, t in model.successors(s):
                    generated += 1
                    if t not in seen:
                        seen.add(t)
                        nxt.append(t)
            frontier = nxt
        distinct = len(seen)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # Worker processes (reaped by now): the largest one's peak, as farm-bench reports the largest process.
    workers_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    print(json.dumps({"distinct": distinct, "generated": generated, "seconds": seconds, "peak_rss": peak,
                      "base_rss": base_rss, "workers_peak_rss": workers_peak}))


def measure(ref: str, arg: int, mode: str) -> dict[str, float]:
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_checker", "--child", ref, str(arg), mode],
                         capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    figures["process_seconds"] = time.perf_counter() - started
    return figures


def main() -> None:
    cases = CASES
    if len(sys.argv) > 2 and sys.argv[1] == "--modes":
        MODES[:] = sys.argv[2].split(",")
        del sys.argv[1:3]
    if len(sys.argv) > 2 and sys.argv[1] == "--only":
        cases = [c for c in CASES if f"{c[0]}({c[1]})".endswith(sys.argv[2])]
    print(f"{'model':<38} {'mode':<8} {'distinct':>10} {'generated':>11} {'process s':>9} {'states/s':>9} "
          f"{'B/state':>8} {'peak RSS':>9}")
    for ref, arg in cases:
        for mode in MODES:
            f = measure(ref, arg, mode)
            rate = f["distinct"] / f["process_seconds"]
            per_state = (f["peak_rss"] - f["base_rss"]) / max(f["distinct"], 1)
            name = f"{ref.split('.')[-1]}({arg})"
            peak = max(f["peak_rss"], f.get("workers_peak_rss", 0))  # the largest process
            print(f"{name:<38} {mode:<8} {f['distinct']:>10,} {f['generated']:>11,} {f['process_seconds']:>9.2f} "
                  f"{rate:>9,.0f} {per_state:>8,.0f} {peak / 2**20:>7,.0f}Mi", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        _child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
