"""`kubespec graph`: state graphs rendered by dot; initial and violating states marked; caps never silent."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from checker.cli import main
from checker.examples.diehard import DieHard
from diagrams.stategraph import around_trace, explore, state_graph_picture

TOY = Path(__file__).resolve().parents[1] / "traces" / "toy_cluster.py"
SVG = "{http://www.w3.org/2000/svg}"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def nodes(svg: Path) -> dict[str, ET.Element]:
    root = ET.parse(svg).getroot()
    return {g.get("id", ""): g for g in root.iter(f"{SVG}g") if "node" in (g.get("class") or "").split()}


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def label(element: ET.Element) -> str:
    return " ".join(t.text or "" for t in element.iter(f"{SVG}text"))


def caption(svg: Path) -> str:
    root = ET.parse(svg).getroot()
    graph = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "graph")
    return " ".join(t.text or "" for t in graph.findall(f"{SVG}text"))


def test_the_whole_die_hard_graph(tmp_path: Path) -> None:
    out = tmp_path / "diehard.svg"
    result = run("graph", "--model", "checker.examples.diehard:DieHard", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "16 states" in result.output and "note:" not in result.output  # TLC: 16 reachable states
    found = {k: v for k, v in nodes(out).items() if k.startswith("state-")}
    assert len(found) == 16
    assert [k for k, v in found.items() if "initial" in classes(v)] == ["state-0"]
    violating = [label(v) for v in found.values() if "violation" in classes(v)]
    assert len(violating) == 2 and all("big=4" in text and "NotSolved" in text for text in violating)
    assert "cut" not in caption(out)


def test_a_cap_is_stated_in_the_picture_and_on_the_terminal(tmp_path: Path) -> None:
    out = tmp_path / "capped.svg"
    result = run("graph", "--model", "checker.examples.diehard:DieHard", "-o", str(out), "--max-states", "5")
    assert result.exit_code == 0, result.output
    assert "note: cut at --max-states 5:" in result.output
    found = nodes(out)
    assert len([k for k in found if k.startswith("state-")]) == 5
    stubs = [v for v in found.values() if "cut" in classes(v)]
    assert stubs and all("more" in label(v) for v in stubs)
    assert "cut at --max-states 5" in caption(out)
    graph = explore(DieHard(), max_states=5)
    assert graph.cut_edges == sum(int(label(v).split()[0].lstrip("+")) for v in stubs)


def test_around_a_trace(tmp_path: Path) -> None:
    trace = tmp_path / "toy.itf.json"
    assert run("check", "--model", f"{TOY}:ToyCluster", "--no-deadlock", "--trace", str(trace)).exit_code == 1
    out = tmp_path / "around.svg"
    refused = run("graph", "--around-trace", str(trace), "-o", str(out))  # a trace never names code to run
    assert refused.exit_code == 2 and "give the model on the command line with --model" in refused.output
    result = run("graph", "--model", f"{TOY}:ToyCluster", "--around-trace", str(trace), "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "drawn without their successors" in result.output
    found = nodes(out)
    on_trace = [v for v in found.values() if "trace" in classes(v)]
    assert len(on_trace) == 9
    assert sum("violation" in classes(v) for v in on_trace) == 1
    root = ET.parse(out).getroot()
    trace_edges = [g for g in root.iter(f"{SVG}g") if {"edge", "trace"} <= classes(g)]
    assert len(trace_edges) == 8


def test_around_trace_keeps_every_trace_state_even_under_a_small_cap() -> None:
    from checker import check
    from checker.itf import trace_document
    from traces.replay import follow

    model = DieHard()
    states, _ = follow(model, trace_document(check(model), model, None, {}))
    graph = around_trace(model, states, max_states=3)
    assert len(graph.trace_path) == 7 and graph.note is not None
    assert "trace" in state_graph_picture(model, graph, "t").source


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["graph", "-o", "x.svg"], "give a TARGET"),
        (["graph", "--model", "nope.py:X", "-o", "x.svg"], "no file nope.py"),
    ],
)
def test_bad_usage(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output
