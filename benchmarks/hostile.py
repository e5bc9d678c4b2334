"""A corpus of hostile inputs run through the kubespec command line, tabulated: class, input, exit code, seconds and
the first line printed (issue 17). ``python -m benchmarks.hostile [--only WORD]``.

Every input is generated here (in a temporary directory), nothing is stored: scenario YAML, trace files, special
files and output paths. Each run has a time limit (``--timeout``, 30 s): a run beyond it is reported as TIMEOUT, so a
hang shows in the table. The expected exit code is in the table too; a row whose code differs is marked ``!!``.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

_SCRIPT = Path(sys.executable).with_name("kubespec")
PROGRAM = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from checker.cli import run; run()"]
SCENARIO = resources.files("spec.scenarios").joinpath("web-two-nodes.yaml").read_text()

TOY = '''
import sys
from checker import Model, always

class Counter(Model):
    """0 -> 1 -> ... ; Small fails at N."""
    def __init__(self, n=3):
        self.n = n
        self.properties = [always("Small", lambda s: s < self.n)]
    def init_states(self):
        return [0]
    def successors(self, s):
        yield ("tick", s + 1)
    def actor(self, action):
        return "clock"
    def describe(self, action):
        return "the clock ticks"

def long():
    return Counter(20_000)

class Exits(Counter):
    def successors(self, s):
        sys.exit(0)

def exits_when_made():
    sys.exit(3)

def big():
    from checker.examples.twophase import TwoPhase
    return TwoPhase(5)

class Slow(Counter):
    def __init__(self):
        super().__init__(10**9)
    def successors(self, s):
        import time
        time.sleep(0.01)
        yield ("inc", s + 1)
        yield ("dbl", 2 * s + 1)
'''


@attrs.frozen
class Case:
    group: str
    name: str
    args: tuple[str, ...]
    expected: int
    setup: Callable[[Path], None] = lambda _: None
    signal_after: tuple[int, float] | None = None  # (signal, seconds)
    check: Callable[[Path, str], str] | None = None  # an extra finding (or "")


def scenario_with(old: str, new: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / "s.yaml").write_text(SCENARIO.replace(old, new, 1))

    return make


def write(name: str, data: str | bytes) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())

    return make


def both(*steps: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        for step in steps:
            step(d)

    return make


def toy(d: Path) -> None:
    (d / "toy.py").write_text(TOY)


def toy_trace(
    d: Path, name: str = "t.json", edit: Callable[[dict[str, Any]], None] | None = None, model: str = "Counter"
) -> None:
    toy(d)
    subprocess.run([*PROGRAM, "check", "--model", f"toy.py:{model}", "--trace", name], cwd=d, capture_output=True)
    if edit is not None:
        document = json.loads((d / name).read_text())
        edit(document)
        (d / name).write_text(json.dumps(document))


def traced(edit: Callable[[dict[str, Any]], None] | None = None, model: str = "Counter") -> Callable[[Path], None]:
    return lambda d: toy_trace(d, edit=edit, model=model)


def set_source(source: object) -> Callable[[dict[str, Any]], None]:
    def edit(document: dict[str, Any]) -> None:
        document["#meta"]["source"] = source

    return edit


def forge(document: dict[str, Any]) -> None:
    document["states"][1]["#meta"]["description"] = "ok\n✔ all properties hold\x1b]0;owned\x07\x1b[2J"
    document["states"][1]["#meta"]["actor"] = "\u202eevil"


def no_marker(d: Path, _: str) -> str:
    return "BAD: code ran" if (d / "ran").exists() else "no code ran"


def verdict_first(_: Path, output: str) -> str:
    return "verdict printed" if "violation of Small" in output else "BAD: no verdict"


def no_escape(_: Path, output: str) -> str:
    return "BAD: control characters printed" if "\x1b" in output or "\u202e" in output else "escaped"


def alias_bomb(d: Path) -> None:
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"] + [
        f"{b}: &{b} [*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    (d / "s.yaml").write_text(SCENARIO + "---\n" + "\n".join(lines) + "\n")


def fifo(name: str) -> Callable[[Path], None]:
    return lambda d: os.mkfifo(d / name)


def sparse(name: str, size: int) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        with open(d / name, "wb") as out:
            out.truncate(size)

    return make


def planted_symlink(d: Path) -> None:
    toy(d)
    (d / "victim").write_text("precious\n")
    os.symlink(d / "victim", d / "t.json")


def victim_intact(d: Path, _: str) -> str:
    return "victim intact" if (d / "victim").read_text() == "precious\n" else "BAD: victim overwritten"


EVIL = "open('ran', 'w').write('x')\nModel = None\n"

CASES = [
    # Runaway input
    Case("runaway", "YAML alias bomb (470 bytes) in a scenario", ("check", "s.yaml"), 2, alias_bomb),
    Case("runaway", "replicas: 2147483648", ("check", "s.yaml"), 2,
         scenario_with("replicas: 2", "replicas: 2147483648")),
    Case("runaway", "replicas: 5000 (past the 729-name space)", ("check", "s.yaml"), 2,
         scenario_with("replicas: 2", "replicas: 5000")),
    Case("runaway", "kubectl scale --replicas=2147483648", ("check", "s.yaml"), 2,
         scenario_with("userActions: []", 'userActions: ["kubectl scale deployment/web --replicas=2147483648"]')),
    Case("runaway", 'memory: "1e999999999"', ("check", "s.yaml"), 2,
         scenario_with("memory: 4Gi", 'memory: "1e999999999"')),
    Case("runaway", "a 65 MiB scenario (sparse)", ("check", "s.yaml"), 2, sparse("s.yaml", 65 * 2**20)),
    Case("runaway", "a 65 MiB trace (sparse)", ("trace", "show", "t.json"), 2, sparse("t.json", 65 * 2**20)),
    Case("runaway", "graph --max-states 100000 -o g.svg", ("graph", "--model", "toy.py:Slow", "--max-states", "100000",
         "-o", "g.svg"), 2, toy),
    Case("runaway", "graph --max-states 5000 -o g.svg", ("graph", "--model", "toy.py:Slow", "--max-states", "5000",
         "-o", "g.svg"), 2, toy),
    Case("runaway", "trace dot of a 20,001-state trace", ("trace", "dot", "t.json", "-o", "t.svg"), 2,
         traced(model="long")),
    Case("runaway", "trace show of a 20,001-state trace", ("trace", "show", "t.json"), 0, traced(model="long")),
    # Tracebacks -> one error line
    Case("traceback", "scenario in UTF-16 with a BOM (kubectl reads it)", ("check", "s.yaml", "--max-states", "10"), 0,
         write("s.yaml", codecs.BOM_UTF16_LE + SCENARIO.encode("utf-16-le"))),
    Case("traceback", "scenario in UTF-16 without a BOM", ("check", "s.yaml"), 2,
         write("s.yaml", SCENARIO.encode("utf-16-le"))),
    Case("traceback", "binary scenario", ("check", "s.yaml"), 2, write("s.yaml", bytes(range(256)) * 4)),
    Case("traceback", "scenario nested 5,000 deep", ("check", "s.yaml"), 2, write("s.yaml", "a: " + "[" * 5000)),
    Case("traceback", "scenario nested 150 deep (block style)", ("check", "s.yaml"), 2,
         write("s.yaml", "a:\n" + "".join("  " * i + "- \n" for i in range(1, 150)))),
    Case("traceback", "5,000-digit integer in a scenario", ("check", "s.yaml"), 2,
         scenario_with("replicas: 2", "replicas: " + "9" * 5000)),
    Case("traceback", "duplicate key in a scenario", ("check", "s.yaml"), 2,
         scenario_with("replicas: 2", "replicas: 2\n  replicas: 3")),
    Case("traceback", "unhashable key (a list as a key)", ("check", "s.yaml"), 2, write("s.yaml", "? [a, b]\n: c\n")),
    Case("traceback", "kind: [] (unhashable where a name is expected)", ("check", "s.yaml"), 2,
         scenario_with("kind: Node", "kind: []")),
    Case("traceback", "variants: [[x]]", ("check", "s.yaml"), 2, scenario_with("variants: []", "variants: [[x]]")),
    Case("traceback", "scenario is /dev/zero", ("check", "/dev/zero.yaml"), 2),
    Case("traceback", "scenario z.yaml is a symlink to /dev/zero", ("check", "z.yaml"), 2,
         lambda d: os.symlink("/dev/zero", d / "z.yaml")),
    Case("traceback", "scenario is a FIFO", ("check", "f.yaml"), 2, fifo("f.yaml")),
    Case("traceback", "trace is /dev/zero", ("trace", "show", "/dev/zero"), 2),
    Case("traceback", "trace is a FIFO", ("trace", "show", "f.json"), 2, fifo("f.json")),
    Case("traceback", "trace is a directory", ("trace", "show", "."), 2),
    Case("traceback", "trace is binary", ("trace", "show", "t.json"), 2, write("t.json", b"\xff\xfe\x00{")),
    Case("traceback", "trace nested 100,000 deep", ("trace", "show", "t.json"), 2, write("t.json", "[" * 100_000)),
    Case("traceback", "trace with a 5,000-digit integer", ("trace", "show", "t.json"), 2,
         write("t.json", '{"vars": ["x"], "states": [{"x": ' + "9" * 5000 + "}]}")),
    Case("traceback", "trace with NaN", ("trace", "show", "t.json"), 2,
         write("t.json", '{"vars": ["x"], "states": [{"x": NaN}]}')),
    Case("traceback", "trace with #map: 5 and #tup: 1", ("trace", "show", "t.json"), 0,
         write("t.json", '{"vars": ["x"], "states": [{"x": {"#map": 5}}, {"x": {"#tup": 1}}]}')),
    Case("traceback", "trace whose view is true", ("trace", "show", "t.json"), 2,
         traced(lambda d: d["states"][1]["#meta"].update(view=True))),
    Case("traceback", "unwritable --trace (verdict first)", ("check", "--model", "toy.py:Counter", "--trace",
         "toy.py/t.json"), 2, toy, check=verdict_first),
    Case("traceback", "unwritable -o", ("trace", "dot", "t.json", "-o", "t.json/x.svg"), 2, traced()),
    Case("traceback", "unwritable --html", ("trace", "show", "t.json", "--html", "/proc/none/x.html"), 2, traced()),
    Case("traceback", "-o is a directory", ("trace", "dot", "t.json", "-o", "d.svg"), 2,
         both(traced(), lambda d: (d / "d.svg").mkdir())),
    # Wrong exit codes
    Case("exit code", "--model calls sys.exit in successors", ("check", "--model", "toy.py:Exits"), 2, toy),
    Case("exit code", "--model calls sys.exit when made", ("check", "--model", "toy.py:exits_when_made"), 2, toy),
    Case("exit code", "--model calls sys.exit on import", ("check", "--model", "exit.py:X"), 2,
         write("exit.py", "import sys\nsys.exit(0)\n")),
    Case("exit code", "trace strings beyond Graphviz's limits (100 kB, backslashes)",
         ("trace", "dot", "t.json", "-o", "t.svg"), 0,
         traced(lambda d: d["states"][1]["#meta"].update(description="x" * 100_000 + "\\", actor="a\\"))),
    # Messages name the place
    Case("place", "replay: trace params crashes: 'x'", ("trace", "replay", "t.json"), 2,
         write("t.json", json.dumps({"#meta": {"source": {"loader": "scenario", "target": "web-two-nodes",
                                                          "params": {"crashes": "x"}}}, "vars": [], "states": [{}]}))),
    Case("place", "replay: unknown loader", ("trace", "replay", "t.json"), 2,
         traced(set_source({"loader": "\x1b[31mnope"}))),
    Case("place", "YAML tab indentation", ("check", "s.yaml"), 2, scenario_with("  replicas: 2", "\treplicas: 2")),
    # Interrupts
    Case("interrupt", "graph, SIGINT while exploring", ("graph", "--model", "toy.py:Slow", "--max-states", "20000",
         "-o", "g.dot"), 130, toy, (signal.SIGINT, 1.5)),
    Case("interrupt", "graph, SIGTERM while exploring", ("graph", "--model", "toy.py:Slow", "--max-states", "20000",
         "-o", "g.dot"), 143, toy, (signal.SIGTERM, 1.5)),
    Case("interrupt", "graph, SIGINT while Graphviz lays out", ("graph", "--model", "toy.py:big", "--max-states",
         "1000", "-o", "g.svg"), 130, toy, (signal.SIGINT, 2.5)),
    Case("interrupt", "check, SIGTERM while searching", ("check", "--model", "toy.py:Slow"), 143, toy,
         (signal.SIGTERM, 1.5)),
    # Security
    Case("security", "replay: #meta.source names os:abort", ("trace", "replay", "t.json"), 2,
         traced(set_source({"loader": "python", "target": "os:abort"}))),
    Case("security", "replay: #meta.source names a relative evil.py", ("trace", "replay", "t.json"), 2,
         both(write("evil.py", EVIL), traced(set_source({"loader": "python", "target": "evil.py:Model"}))),
         check=no_marker),
    Case("security", "graph --around-trace: #meta.source names evil.py", ("graph", "--around-trace", "t.json", "-o",
         "g.dot"), 2, both(write("evil.py", EVIL), traced(set_source({"loader": "python", "target": "evil.py:Model"}))),
         check=no_marker),
    Case("security", "replay with --model given by the user", ("trace", "replay", "t.json", "--model",
         "toy.py:Counter"), 0, traced()),
    Case("security", "trace forges a verdict line and retitles the terminal", ("trace", "show", "t.json"), 0,
         traced(forge), check=no_escape),
    Case("security", "symlink planted at the --trace target", ("check", "--model", "toy.py:Counter", "--trace",
         "t.json"), 1, planted_symlink, check=victim_intact),
    Case("security", "trace stores a relative target", ("trace", "show", "t.json"), 0, traced(),
         check=lambda d, _: "BAD: absolute path" if str(d) in (d / "t.json").read_text() else "relative target"),
]


def run(case: Case, timeout: float) -> tuple[str, float, str, str]:
    with tempfile.TemporaryDirectory(prefix="hostile-") as name:
        d = Path(name)
        case.setup(d)
        started = time.monotonic()
        process = subprocess.Popen([*PROGRAM, *case.args], cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL)
        stopped_at = None
        try:
            if case.signal_after is not None:
                signum, after = case.signal_after
                time.sleep(after)
                stopped_at = time.monotonic()
                process.send_signal(signum)
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            return "TIMEOUT", time.monotonic() - started, "", ""
        seconds = time.monotonic() - (stopped_at if stopped_at is not None else started)
        text = out.decode("utf-8", "replace") + err.decode("utf-8", "replace")
        lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.startswith("error:")]
        lines = lines or [line for line in text.splitlines() if line.strip()]
        first = lines[0] if lines else ""
        finding = case.check(d, text) if case.check is not None else ""
        if "Traceback" in text:
            finding = "BAD: traceback " + finding
        return str(process.returncode), seconds, first, finding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run the cases whose group or name contains this")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    print(f"{'class':<10} {'exit':>7} {'want':>4} {'s':>6}  input / first line")
    bad = 0
    for case in CASES:
        if args.only and args.only not in case.group and args.only not in case.name:
            continue
        code, seconds, first, finding = run(case, args.timeout)
        mark = "  " if code == str(case.expected) and "BAD" not in finding else "!!"
        bad += mark == "!!"
        shown = first.encode("unicode_escape").decode("ascii") if not first.isprintable() else first
        extra = f" [{finding}]" if finding else ""
        when = "after the signal" if case.signal_after else ""
        print(f"{case.group:<10} {code:>7} {case.expected:>4} {seconds:>6.2f}{mark}{case.name}{extra} {when}")
        print(f"{'':<32}{shown[:150]}")
    print(f"{bad} unexpected outcome(s)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
