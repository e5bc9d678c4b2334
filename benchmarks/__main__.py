"""Run every benchmark: `python -m benchmarks` (or `make bench`); `python -m benchmarks bench_spec` runs one.

Each benchmark module runs in its own process (`python -m benchmarks.bench_NAME`) with its own default arguments,
so that each one's command line, peak memory and failures are its own: a failing benchmark is reported and the
others still run; the exit status is 1 when any failed. Ctrl-C stops the run (exit 130).
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import benchmarks


def main(argv: list[str]) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    wanted = argv or names
    unknown = [name for name in wanted if name not in names]
    if unknown:
        print(f"error: no benchmark {', '.join(unknown)} (known: {', '.join(names)})", file=sys.stderr)
        return 2
    failed = []
    for name in wanted:
        print(f"== {name}", flush=True)
        try:
            code = subprocess.run([sys.executable, "-m", f"benchmarks.{name}"], check=False).returncode
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        if code != 0:
            print(f"== {name} FAILED (exit {code})", flush=True)
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
