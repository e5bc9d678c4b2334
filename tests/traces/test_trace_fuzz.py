"""Hostile trace files (issue 17): any bytes, any JSON, any edit of a real trace is shown, drawn, replayed or
refused with one error line; nothing else is raised, and nothing printed carries a control character."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from toy_cluster import ToyCluster

from checker import check
from checker.cli import main
from checker.errors import InputError
from checker.itf import parse_trace, trace_document
from diagrams.sequence import sequence_diagram
from tests.edits import paths, replaced
from traces.document import from_document
from traces.html import trace_html
from traces.render import render_trace
from traces.replay import replay

MODEL = ToyCluster()
_RESULT = check(MODEL, deadlock=False)
REAL = trace_document(_RESULT, MODEL, {"loader": "python", "target": "toy_cluster.py:ToyCluster"}, {})
HOSTILE_TEXT = st.sampled_from(["\x1b]0;pwned\x07", "\x1b[2J", "\n✔ all properties hold", "\u202e", "\x9b31m", "\x00"])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6) | st.sampled_from(["#map", "#set", "#tup", "#bigint", "tag", "value"]), inner,
                      max_size=4),
    max_leaves=12,
)


PATHS = [p for p in paths(REAL) if p]


def _no_control_characters(text: str) -> None:
    bad = [c for c in text if c != "\n" and not c.isprintable()]
    assert not bad, f"unescaped {bad!r} in {text!r}"


def _everything(document: Any) -> None:
    """What the trace commands do with a document: validate, show, draw (the .dot source), page, replay."""
    try:
        valid = parse_trace(json.dumps(document), "fuzz.json")
        trace = from_document(valid)
        out = io.StringIO()
        render_trace(Console(file=out, width=120, highlight=False), trace)
        _no_control_characters(out.getvalue())
        if trace.steps:
            source = sequence_diagram(trace).source
            _no_control_characters(source.replace("\t", ""))
        trace_html(trace, None)
        report = replay(MODEL, valid)
        for line in report.lines:
            _no_control_characters(line)
    except InputError as error:
        _no_control_characters(str(error))


@settings(max_examples=150)
@given(st.sampled_from(PATHS), json_values)
def test_any_edit_of_a_real_trace_is_handled(path: tuple[Any, ...], value: Any) -> None:
    _everything(replaced(REAL, path, value))


@settings(max_examples=60)
@given(json_values)
def test_any_json_is_a_trace_or_refused(value: Any) -> None:
    _everything(value)


@settings(max_examples=60)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_are_read_or_refused_in_one_line(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "t.json"
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["trace", "show", str(path)])
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        assert result.output.startswith("error: ") and result.output.count("\n") == 1, result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5000 + "]" * 5000, "nested deeper than 100 levels"),
        ('{"vars": [], "states": [{"x": ' + "9" * 5000 + "}]}", "an integer of 5000 digits"),
        ('{"vars": [], "states": [{"x": NaN}]}', "NaN is not JSON"),
        ('{"vars": ["x"], "states": [{"x": 1}], "loop": 7}', "'loop' must be a state index below 1"),
    ],
)
def test_hostile_json_is_one_error_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_trace(text, "t.json")


def test_a_trace_cannot_forge_a_verdict_or_retitle_the_terminal(tmp_path: Path) -> None:
    document = replaced(REAL, ("states", 3, "#meta", "description"), "ok\n✔ all properties hold\x1b]0;owned\x07")
    document = replaced(document, ("#meta", "property"), "P\x1b[2J")
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(document))
    result = CliRunner().invoke(main, ["trace", "show", str(path)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\n✔" not in result.output
    assert "ok\\x0a✔ all properties hold\\x1b]0;owned\\x07" in result.output


@pytest.mark.parametrize(
    "source",
    [
        {"loader": "python", "target": "os:abort"},
        {"loader": "python", "target": "/tmp/evil.py:Model"},
        {"loader": "python", "target": "evil.py:Model"},
    ],
)
def test_a_trace_never_runs_the_code_it_names(tmp_path: Path, source: dict[str, str]) -> None:
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.py"
    evil.write_text(f"open({str(marker)!r}, 'w').write('x')\nModel = None\n")
    target = source["target"].replace("/tmp/evil.py", str(evil))
    document = replaced(REAL, ("#meta", "source"), {**source, "target": target})
    path = tmp_path / "evil.itf.json"
    path.write_text(json.dumps(document))
    for args in (["trace", "replay", str(path)], ["graph", "--around-trace", str(path), "-o", str(tmp_path / "g.dot")]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "a trace file never runs code: give the model on the command line with --model" in result.output
    assert not marker.exists()


def test_strings_beyond_graphviz_limits_are_drawn(tmp_path: Path) -> None:
    """Backslashes (which end or escape Graphviz strings), 100,000-character descriptions and control characters."""
    document = replaced(REAL, ("states", 2, "#meta", "description"), "ends with a backslash \\")
    document = replaced(document, ("states", 3, "#meta", "description"), "x" * 100_000)
    document = replaced(document, ("states", 3, "#meta", "actor"), "a\\\x1b[31m")
    document = replaced(document, ("#meta", "property"), "\\N \\G \\")
    path = tmp_path / "long.json"
    path.write_text(json.dumps(document))
    out = tmp_path / "long.svg"
    result = CliRunner().invoke(main, ["trace", "dot", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert "ends with a backslash \\" in svg and "\x1b" not in svg and len(svg) < 200_000


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"loader": "scenario", "target": "web-two-nodes", "params": {"variant": ["nope"]}},
         "t.json: #meta.source.params.variant: unknown variant 'nope'"),
        ({"loader": "scenario", "target": "web-two-nodes", "params": {"crashes": -4}},
         "t.json: #meta.source.params.crashes: expected a non-negative integer, got -4"),
        ({"loader": "scenario", "target": "missing.yaml"}, "t.json: #meta.source.target: missing.yaml: no such"),
        ({"loader": "scenario", "target": "web-two-nodes", "params": {"model": "os:abort"}},
         "t.json: #meta.source.params.model: not an option of this loader"),
    ],
)
def test_replay_errors_name_the_trace_files_field(tmp_path: Path, source: dict[str, Any], message: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"#meta": {"source": source}, "vars": [], "states": [{}]}))
    result = CliRunner().invoke(main, ["trace", "replay", str(path)])
    assert result.exit_code == 2 and f"{tmp_path / message}" in result.output, result.output
