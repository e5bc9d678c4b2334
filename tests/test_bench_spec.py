"""The spec benchmark's own process: it exits without tearing its states down (as `kubespec` does), after printing
everything, with exit 0."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_spec_prints_every_line_and_exits_0_without_teardown(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "benchmarks.bench_spec", "--scenario", "web-two-nodes",
                        "--max-states", "50", "--window", "20"], capture_output=True, text=True, timeout=300,
                       cwd=ROOT)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("web-two-nodes") and "distinct=       50" in lines[0], r.stdout
    assert any(line.startswith("  states") for line in lines), r.stdout
    assert lines[-1].startswith("whole process: ") and lines[-1].endswith("without freeing the states)"), r.stdout
    bad = subprocess.run([sys.executable, "-m", "benchmarks.bench_spec", "--no-such-option"], capture_output=True,
                         text=True, timeout=120, cwd=ROOT)
    assert bad.returncode == 2 and "unrecognized arguments" in bad.stderr
