"""The command line: exit codes, JSON output, trace files, and one-line errors on bad input."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.cli import main

MODELS = '''
from checker import Model, always, eventually


class Counter(Model):
    def __init__(self):
        self.properties = [always("below3", lambda x: x < 3)]

    def init_states(self):
        return [0]

    def successors(self, x):
        yield ("inc", min(x + 1, 5))


class Fine(Counter):
    def __init__(self):
        self.properties = [always("small", lambda x: x <= 5)]


def factory():
    return Fine()


instance = Fine()


class Lazy(Counter):
    def __init__(self):
        self.properties = [eventually("never", lambda x: x > 9)]


class NotBool(Counter):
    def __init__(self):
        self.properties = [always("p", lambda x: "yes")]


class Broken(Counter):
    def __init__(self):
        raise RuntimeError("cannot build")
'''


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def models(tmp_path: Path) -> str:
    path = tmp_path / "models.py"
    path.write_text(MODELS)
    return str(path)


def test_ok_exits_0_and_states_bounds(tmp_path):
    for name in ("Fine", "factory", "instance"):
        r = run("check", "--model", f"{models(tmp_path)}:{name}")
        assert r.exit_code == 0, r.output
        assert "all properties hold: 6 distinct states" in r.output and "exhaustive" in r.output


def test_violation_exits_1_prints_trace_and_json(tmp_path):
    ref = f"{models(tmp_path)}:Counter"
    r = run("check", "--model", ref)
    assert r.exit_code == 1 and "Invariant below3 is violated" in r.output and "Step 3" in r.output
    r = run("check", "--model", ref, "--json")
    assert r.exit_code == 1
    doc = json.loads(r.output)
    assert doc["status"] == "violation" and doc["property"] == "below3" and doc["loop_start"] is None
    assert set(doc["stats"]) >= {"distinct_states", "generated", "depth", "seconds"}
    assert [step["state"] for step in doc["trace"]] == [0, 1, 2, 3]
    assert doc["trace"][0]["action"] is None and doc["trace"][1]["action"] == "inc"


def test_liveness_violation_has_a_loop_start(tmp_path):
    r = run("check", "--model", f"{models(tmp_path)}:Lazy", "--json")
    doc = json.loads(r.output)
    assert r.exit_code == 1 and doc["kind"] == "eventually" and doc["loop_start"] == len(doc["trace"]) - 1


def test_bounded_json_status(tmp_path):
    r = run("check", "--model", f"{models(tmp_path)}:Fine", "--max-states", "3", "--json")
    doc = json.loads(r.output)
    assert r.exit_code == 0 and doc["status"] == "bounded" and doc["property"] is None
    assert doc["stats"]["distinct_states"] == 3 and "max states 3" in doc["cut"]


def test_trace_file_is_written(tmp_path):
    out = tmp_path / "cex.json"
    r = run("check", "--model", f"{models(tmp_path)}:Counter", "--trace", str(out))
    assert r.exit_code == 1 and out.exists()
    doc = json.loads(out.read_text())
    assert len(doc["states"]) == 4 and doc["#meta"]["property"] == "below3"


def test_simulation_options(tmp_path):
    r = run("check", "--model", f"{models(tmp_path)}:Fine", "--simulate", "5", "--depth", "4", "--seed", "3")
    assert r.exit_code == 0 and "5 random runs of at most 4 states" in r.output and "seed 3" in r.output


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    ref = models(tmp_path)
    cases = [
        ("check", "--model", f"{tmp_path}/missing.py:X"),
        ("check", "--model", f"{ref}:Nope"),
        ("check", "--model", "no_such_module_xyz:Model"),
        ("check", "--model", f"{ref}:NotBool"),
        ("check", "--model", f"{ref}:Broken"),
        ("check", "--model", "justaname"),
        ("check", "--model", f"{ref}:Fine", "--max-states", "0"),
        ("check", "--model", f"{ref}:Fine", "--strategy", "sideways"),
    ]
    usage = [("check", "--no-such-option"), ("check", "--max-states", "-3"), ("trace", "show")]
    for args in cases + usage:
        r = run(*args)
        assert r.exit_code == 2, (args, r.output)
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert lines and "Traceback" not in r.output, (args, r.output)
        assert lines[-1].startswith("error:"), (args, r.output)
        # A model's error follows the "Checking model" line; bad options get nothing but the error.
        assert len(lines) == 1 or args not in usage, (args, r.output)
    line = run("check", "--max-states", "0").output.strip()
    assert line.startswith("error: ") and line.endswith(
        " check: Invalid value for '--max-states': 0 is not in the range x>=1."), line


def test_ctrl_c_prints_what_was_found_so_far(tmp_path):
    """A real SIGINT to a long search: partial stats, the verdict says interrupted, exit 130."""
    model = tmp_path / "big.py"
    model.write_text("from checker.examples.twophase import TwoPhase\n\ndef big():\n    return TwoPhase(10)\n")
    exe = Path(sys.executable).parent / "kubespec"
    proc = subprocess.Popen([str(exe), "check", "--model", f"{model}:big"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("Checking model")
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: no violation in" in out and "distinct states" in out and "Traceback" not in err


def test_console_script_end_to_end(tmp_path):
    """The installed `kubespec` command, in a fresh process, with a different hash seed."""
    exe = Path(sys.executable).parent / "kubespec"
    r = subprocess.run([str(exe), "check", "--model", f"{models(tmp_path)}:Counter", "--json"],
                       capture_output=True, text=True, env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"})
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["stats"]["distinct_states"] == 4
    # The program exits without tearing objects down (checker.cli.run): codes and output must survive that.
    r = subprocess.run([str(exe), "check", str(tmp_path / "missing.yaml")], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (2, ""), r.stderr
    assert r.stderr.strip().splitlines() == [f"error: {tmp_path / 'missing.yaml'}: no such scenario file"]


WIDE = """
from checker import Model, always


class Wide(Model):
    \"\"\"A counter whose states carry 400 more numbers: its counterexample is some hundreds of kilobytes.\"\"\"

    def __init__(self):
        self.properties = [always("below300", lambda s: s[0] < 300)]

    def init_states(self):
        return [(0, *range(400))]

    def successors(self, s):
        yield ("inc", (s[0] + 1, *s[1:]))


class WideFine(Wide):
    def __init__(self):
        self.properties = [always("small", lambda s: s[0] <= 300)]

    def successors(self, s):
        yield ("inc", (min(s[0] + 1, 300), *s[1:]))
"""


def test_output_written_before_the_exit_without_teardown_is_complete(tmp_path: Path) -> None:
    """`kubespec` ends with ``os._exit`` (``checker.cli.run``: no teardown of the states): what it printed through a
    pipe (far more than a pipe holds) and the trace file it wrote are complete, and the codes are the verdict's."""
    exe = Path(sys.executable).parent / "kubespec"
    (tmp_path / "wide.py").write_text(WIDE)
    trace = tmp_path / "cex.json"
    r = subprocess.run([str(exe), "check", "--model", f"{tmp_path / 'wide.py'}:Wide", "--json", "--trace",
                        str(trace)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    assert len(r.stdout) > 500_000 and r.stdout.endswith("}\n")
    doc = json.loads(r.stdout)
    assert doc["status"] == "violation" and doc["property"] == "below300" and len(doc["trace"]) == 301
    assert doc["trace"][-1]["state"] == [300, *range(400)] and doc["trace_file"] == str(trace)
    saved = json.loads(trace.read_text())
    assert len(saved["states"]) == 301, list(saved)
    r = subprocess.run([str(exe), "check", "--model", f"{tmp_path / 'wide.py'}:Wide"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 1 and "Invariant below300 is violated" in r.stdout and "\nStep 300 " in r.stdout, r.stderr
    assert r.stdout.splitlines()[-2].startswith("✘ violation of below300 (always) after 301 distinct states")
    r = subprocess.run([str(exe), "check", "--model", f"{tmp_path / 'wide.py'}:WideFine", "--json"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["stats"]["distinct_states"] == 301


_SIGNAL_DURING_IMPORT = """
import os, signal, sys

class SignalOnImport:  # sends the signal to this process when the module named is about to be imported
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            os.kill(os.getpid(), {sig})
        return None

sys.meta_path.insert(0, SignalOnImport())
sys.argv = ["kubespec", "check", "--model", "checker.examples.twophase:TwoPhase"]
from checker.entry import run
run()
"""


def test_a_signal_while_starting_is_one_line_never_a_traceback():
    """Ctrl-C or SIGTERM while the command line loads (click, rich, the engine, the plugins: checker.entry), or
    while a command loads its model before any search started: one line and 130 / 143; never a
    KeyboardInterrupt traceback from inside an import, never click's "Aborted!" with exit 1. The signal is sent
    from inside the import of the module named, so the instant is exact, not a race with a timer."""
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        for module in ("click", "rich.console", "checker.runner", "checker.examples.twophase"):
            if (sig, module) == (signal.SIGTERM, "checker.examples.twophase"):
                continue  # after start-up SIGTERM has Python's default action (the process ends by it)
            r = subprocess.run([sys.executable, "-c", _SIGNAL_DURING_IMPORT.format(module=module, sig=int(sig))],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == code, (sig, module, r.returncode, r.stderr)
            assert r.stderr.strip().splitlines() == [
                "interrupted" if module == "checker.examples.twophase"
                else "interrupted while starting: nothing was computed"], (sig, module, r.stderr)
            assert r.stdout == "", (sig, module, r.stdout)


def test_errors_escape_what_they_quote():
    """``fail`` escapes control characters once for every command: a name from the input cannot recolour the
    terminal or forge a second line."""
    r = run("check", "--model", "a\x1b[31mb\nerror: forged")
    assert r.exit_code == 2
    assert "\x1b" not in r.output and r.output.count("\n") == 1, r.output
    assert "\\x1b[31mb\\nerror: forged" in r.output


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("extra", [[], ["--json"]])
def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path, extra: list[str]) -> None:
    """``kubespec check ... > /dev/full``: the verdict cannot be written; one line on stderr, exit 2, no traceback
    (it was a traceback and exit 1, the code of a violated property)."""
    root = Path(__file__).resolve().parent.parent
    program = "import sys; from checker.entry import run; sys.argv = sys.argv[1:]; run()"
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-c", program, "kubespec", "check", "--model",
                            f"{models(tmp_path)}:Counter", *extra], stdout=full, stderr=subprocess.PIPE, text=True,
                           cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == ["kubespec: cannot write the output: No space left on device"]
