"""Issue 17: a model calling sys.exit is a model error (exit 2, never a verdict); unwritable output paths print the
verdict first; planted symlinks are replaced, not written through; the corpus of benchmarks/hostile.py (slow)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.cli import main
from checker.errors import InputError
from checker.files import atomic_write

EXITS = """
import sys
from checker import Model, always

class Exits(Model):
    def __init__(self):
        self.properties = [always("Fine", lambda s: True)]
    def init_states(self):
        return [0]
    def successors(self, s):
        sys.exit(0)

class ExitsInProperty(Exits):
    def __init__(self):
        self.properties = [always("Fine", lambda s: sys.exit(0))]
    def successors(self, s):
        return [("stay", s)]

def exits_when_made():
    sys.exit(0)
"""

COUNTER = """
from checker import Model, always

class Counter(Model):
    def __init__(self):
        self.properties = [always("Small", lambda s: s < 2)]
    def init_states(self):
        return [0]
    def successors(self, s):
        return [("tick", s + 1)]
"""


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("Exits", (), "the model raised SystemExit: 0 while expanding state #0"),
        ("Exits", ("--simulate", "2"), "the model raised SystemExit: 0 during simulation run"),
        ("ExitsInProperty", (), "property 'Fine' raised SystemExit: 0"),
        ("exits_when_made", (), "making the model called sys.exit(0)"),
    ],
)
def test_a_model_calling_sys_exit_is_a_model_error(tmp_path: Path, name: str, args: tuple[str, ...], message: str):
    (tmp_path / "exits.py").write_text(EXITS)
    result = CliRunner().invoke(main, ["check", "--model", f"{tmp_path / 'exits.py'}:{name}", *args])
    assert result.exit_code == 2 and message in result.output, result.output


def test_sys_exit_on_import_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "bye.py").write_text("import sys\nsys.exit(0)\n")
    result = CliRunner().invoke(main, ["check", "--model", f"{tmp_path / 'bye.py'}:X"])
    assert result.exit_code == 2 and "importing" in result.output and "called sys.exit(0)" in result.output


def test_an_unwritable_trace_path_prints_the_verdict_first(tmp_path: Path) -> None:
    (tmp_path / "counter.py").write_text(COUNTER)
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = CliRunner().invoke(
        main, ["check", "--model", f"{tmp_path / 'counter.py'}:Counter", "--trace", str(blocker / "t.json")]
    )
    assert result.exit_code == 2
    verdict = result.output.index("violation of Small")
    error = result.output.index(f"error: {blocker / 't.json'}: cannot write the trace file: {blocker} is not a dir")
    assert verdict < error


def test_atomic_writes_replace_a_planted_symlink_and_leave_no_temporary(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    target = tmp_path / "out.json"
    os.symlink(victim, target)
    atomic_write(target, b"new")
    assert victim.read_text() == "precious" and not target.is_symlink() and target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "victim"]
    with pytest.raises(InputError, match="is a directory"):
        atomic_write(tmp_path, b"x")


@pytest.mark.slow
def test_the_hostile_corpus_has_no_unexpected_outcome() -> None:
    import subprocess

    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-m", "benchmarks.hostile"], cwd=root, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("quoted", ["metadata.\n", "x\r\ny", "\x1b]0;owned\x07", "a\u2028b", "rtl\u202eltr"])
def test_an_input_error_quoting_any_text_is_one_printable_line(quoted: str) -> None:
    """Whatever a raiser quotes from the input, the message stays one printable line (found by hypothesis: an
    unknown field named "metadata.\\n" printed a line break)."""
    from spec.strict import validate_value

    with pytest.raises(InputError) as caught:
        validate_value({quoted: 1}, "V1ObjectMeta", "s.yaml: document 1")
    message = str(caught.value)
    assert message.isprintable() and "unknown field" in message and message.startswith("s.yaml: document 1")
    assert str(InputError(f"bad {quoted!s}")).isprintable()
