"""The checker as an engine: signals, storage modes, checkpoints, workers (issue 14)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

BIG = "from checker.examples.twophase import TwoPhase\n\ndef big():\n    return TwoPhase(10)\n"
KUBESPEC = str(Path(sys.executable).parent / "kubespec")


def _started(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    model = tmp_path / "big.py"
    model.write_text(BIG)
    return subprocess.Popen([KUBESPEC, "check", "--model", f"{model}:big", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigterm_prints_the_partial_result_as_json_and_exits_143(tmp_path: Path) -> None:
    """SIGTERM (what `timeout` sends) behaves as Ctrl-C: the partial result, status "interrupted", exit 143."""
    proc = _started(["--json"], tmp_path)
    time.sleep(4)  # past start-up: the handlers are installed once the model is loaded
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    doc = json.loads(out)
    assert doc["status"] == "interrupted" and doc["stats"]["distinct_states"] > 0, doc
    assert "Traceback" not in err


def test_sigterm_in_text_mode(tmp_path: Path) -> None:
    proc = _started([], tmp_path)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("Checking model")
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted: no violation in" in out and "Traceback" not in err
