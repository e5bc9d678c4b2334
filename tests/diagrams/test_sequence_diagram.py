"""`kubespec trace dot`: sequence diagrams rendered by Graphviz's dot and checked (lanes, highlighted step)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner, Result

from checker.cli import main
from diagrams.sequence import classify, is_api_object, lanes, sequence_diagram
from traces.document import load

TOY = Path(__file__).resolve().parents[1] / "traces" / "toy_cluster.py"
SVG = "{http://www.w3.org/2000/svg}"


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def groups(svg: Path) -> dict[str, ET.Element]:
    root = ET.parse(svg).getroot()
    return {g.get("id", ""): g for g in root.iter(f"{SVG}g")}


def classes(element: ET.Element) -> set[str]:
    return set((element.get("class") or "").split())


def lane_x(element: ET.Element) -> float:
    text = element.find(f"{SVG}text")
    assert text is not None
    return float(text.get("x", "nan"))


def test_steps_are_classified_as_requests_watch_events_or_local_steps(toy_trace: Path) -> None:
    trace = load(toy_trace)
    kinds = [(m.kind, m.source, m.target) for m in (classify(trace, step) for step in trace.steps[1:])]
    assert kinds == [
        ("request", "kubectl", "apiserver / etcd"),
        ("watch", "apiserver / etcd", "scheduler"),
        ("request", "scheduler", "apiserver / etcd"),
        ("watch", "apiserver / etcd", "kubelet-node-a"),
        ("request", "scheduler", "apiserver / etcd"),
        ("local", "kubelet-node-a", "kubelet-node-a"),
        ("watch", "apiserver / etcd", "kubelet-node-b"),
        ("local", "kubelet-node-b", "kubelet-node-b"),
    ]
    messages = [classify(trace, step) for step in trace.steps[1:]]
    assert lanes(messages) == ["kubectl", "apiserver / etcd", "scheduler", "kubelet-node-a", "kubelet-node-b"]


def test_api_objects_are_told_from_component_state() -> None:
    assert is_api_object("pods/default/web-1") and is_api_object("nodes/node-a")
    assert is_api_object("widgets.example.com/default/w")
    assert not is_api_object("scheduler") and not is_api_object("kubelet/node-a")


def test_dot_renders_an_svg_with_lanes_and_the_violating_step(toy_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "toy.svg"
    result = run("trace", "dot", str(toy_trace), "-o", str(out))
    assert result.exit_code == 0, result.output
    found = groups(out)
    lane_ids = ["lane-kubectl", "lane-apiserver-etcd", "lane-scheduler", "lane-kubelet-node-a", "lane-kubelet-node-b"]
    assert all("lane" in classes(found[i]) for i in lane_ids)
    xs = [lane_x(found[i]) for i in lane_ids]
    assert xs == sorted(xs)  # left to right: kubectl, API server, scheduler, kubelets
    assert {f"step-{i}" for i in range(1, 9)} <= set(found)
    assert "violation" in classes(found["step-8"]) and "local" in classes(found["step-8"])
    assert not any("violation" in classes(found[f"step-{i}"]) for i in range(1, 8))
    assert "request" in classes(found["step-5"]) and "watch" in classes(found["step-7"])
    assert "violation" in classes(found["band-8"])
    verdict = "".join(found["verdict"].itertext())
    assert "violates AtMostOneNode" in verdict
    # Watch events are dashed; requests solid.
    assert "stroke-dasharray" in next(found["step-7"].iter(f"{SVG}path")).attrib
    assert "stroke-dasharray" not in next(found["step-5"].iter(f"{SVG}path")).attrib


def test_lasso_is_marked(lasso_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "lasso.svg"
    assert run("trace", "dot", str(lasso_trace), "-o", str(out)).exit_code == 0
    found = groups(out)
    trace = load(lasso_trace)
    assert trace.loop is not None
    assert {f"band-{i}" for i in range(trace.loop, len(trace.steps))} <= set(found)
    assert "never holds" in "".join(found["verdict"].itertext())


def test_png_and_dot_outputs(toy_trace: Path, tmp_path: Path) -> None:
    png, source = tmp_path / "toy.png", tmp_path / "toy.dot"
    assert run("trace", "dot", str(toy_trace), "-o", str(png)).exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run("trace", "dot", str(toy_trace), "-o", str(source)).exit_code == 0
    text = source.read_text()
    assert text.startswith("digraph") and "layout=neato" in text


def test_unknown_format_is_bad_input(toy_trace: Path, tmp_path: Path) -> None:
    result = run("trace", "dot", str(toy_trace), "-o", str(tmp_path / "x.jpeg"))
    assert result.exit_code == 2 and "unknown picture format '.jpeg'" in result.output


def test_models_without_actors_get_one_lane_of_local_steps(tmp_path: Path) -> None:
    path = tmp_path / "diehard.itf.json"
    assert run("check", "--model", "checker.examples.diehard:DieHard", "--trace", str(path)).exit_code == 1
    graph = sequence_diagram(load(path))
    assert 'label="system"' in graph.source or "label=system" in graph.source
    assert graph.source.count('class="step local') == 6


def test_a_deadlock_is_the_verdict(tmp_path: Path) -> None:
    path, out = tmp_path / "deadlock.itf.json", tmp_path / "deadlock.svg"
    assert run("check", "--model", f"{TOY}:ToyCluster", "--trace", str(path)).exit_code == 1
    assert run("trace", "dot", str(path), "-o", str(out)).exit_code == 0
    found = groups(out)
    assert "deadlock: no action is enabled" in "".join(found["verdict"].itertext())
    last = len(load(path).steps) - 1
    assert "violation" in classes(found[f"step-{last}"]) and f"band-{last}" in found
