"""Ctrl-C, SIGTERM and SIGHUP stop `kubespec graph` within a second, exploring or while Graphviz lays out: exit
130, 143 or 129, no output file, no `dot` left running (issue 17)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SLOW = """
import time
from checker import Model, always

class Slow(Model):
    def __init__(self):
        self.properties = [always("Small", lambda s: s < 10**9)]
    def init_states(self):
        return [0]
    def successors(self, s):
        open("exploring", "w").close()  # the test signals once the command runs (not while Python starts)
        time.sleep(0.01)
        yield ("inc", s + 1)
        yield ("dbl", s * 2 + 1)

def big():
    from checker.examples.twophase import TwoPhase
    return TwoPhase(5)

def label(s):
    return str(s % 3)
"""


def _children(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False).stdout.split()
    return [int(child) for child in found]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
@pytest.mark.parametrize("phase", ["exploring", "laying out", "quotient"])
def test_graph_answers_signals_within_a_second(tmp_path: Path, signum: int, code: int, phase: str) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    out = tmp_path / ("g.svg" if phase == "laying out" else "g.dot")
    target = "slow.py:big" if phase == "laying out" else "slow.py:Slow"
    command = [sys.executable, "-c", "from checker.cli import run; run()", "graph", "--model", target]
    if phase == "quotient":
        command += ["--view", "slow.py:label"]  # the checker's search with a visitor
        phase = "exploring"
    process = subprocess.Popen(
        [*command, "-o", str(out), "--max-states", "1000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while phase == "laying out" and not _children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # wait for Graphviz's dot to start
    while phase == "exploring" and not (tmp_path / "exploring").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    dots = _children(process.pid)
    assert process.poll() is None, process.communicate()
    os.kill(process.pid, signum)
    started = time.monotonic()
    # The command stops its work and says so within a second (the line on stderr); the interpreter's exit after it
    # may take longer on a loaded machine, and is only bounded loosely.
    assert process.stderr is not None
    first = process.stderr.readline()
    assert time.monotonic() - started < 1.0, first
    _, rest = process.communicate(timeout=10)
    err = first + rest
    assert process.returncode == code, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".g.*.tmp"))
    for dot in dots:
        assert not Path(f"/proc/{dot}").exists() or "Z" in Path(f"/proc/{dot}/stat").read_text().split()[2]
