"""Sequence diagrams: labels wrap to the room they have and never overlap, long traces are split into pages
with every lane, and the lanes and step kinds come from the model when the trace says them (issue 18)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from checker.cli import main
from diagrams.output import svg_text
from diagrams.sequence import LANE, classify, label_lines, room, sequence_diagram, sequence_pages
from traces.document import from_document, load

SVG = "{http://www.w3.org/2000/svg}"

COUNT = '''
from checker import Model, always

class Count(Model):
    def __init__(self):
        self.properties = [always("Below70", lambda s: s < 70)]
    def init_states(self):
        return [0]
    def successors(self, s):
        yield ("tick", s + 1)
    def actor(self, action):
        return "counter"
'''


def _boxes(svg: str) -> list[tuple[str, float, float, float, float]]:
    """(title, left, right, top, bottom) of every text line, from Graphviz's SVG (Helvetica: ~0.55 em a char)."""
    root = ET.fromstring(svg)
    out = []
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if title is None or not (title.text or "").startswith(("label-", "step-", "detail-")):
            continue
        for text in g.iter(f"{SVG}text"):
            content = "".join(text.itertext())
            size = float(text.get("font-size", "10"))
            width = len(content) * size * 0.55
            x, y = float(text.get("x", "0")), float(text.get("y", "0"))
            left = x - width / 2 if text.get("text-anchor") == "middle" else x
            out.append((title.text or "", left, left + width, y - size, y))
    return out


def _ids(path: Path) -> set[str]:
    return {g.get("id", "") for g in ET.parse(path).getroot().iter(f"{SVG}g")}


def test_labels_never_overlap(tmp_path: Path) -> None:
    path = tmp_path / "t.itf.json"
    result = CliRunner().invoke(main, ["check", "cordoned-node", "--variant", "no-requeue", "--trace", str(path)])
    assert result.exit_code == 1, result.output
    trace = load(path)
    boxes = _boxes(svg_text(sequence_diagram(trace)))
    assert len(boxes) > 40
    for i, (a, l1, r1, t1, b1) in enumerate(boxes):
        for b, l2, r2, t2, b2 in boxes[i + 1:]:
            if a.split("-")[1] == b.split("-")[1]:
                continue  # the same step's label and its detail line
            assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1, (a, b)
    # Every label line fits the room of its arrow or lane.
    for step in trace.steps[1:]:
        message = classify(trace, step)
        assert all(len(line) <= room(message) for line in label_lines(message))


def test_room_follows_the_arrow() -> None:
    from diagrams.sequence import Message

    box = Message(1, "local", "a", "a", "x " * 200, ())
    arrow = Message(1, "request", "a", "b", "x " * 200, (), x0=0.0, x1=3 * LANE)
    assert room(arrow) > 2.5 * room(box)
    assert max(len(line) for line in label_lines(box)) <= room(box)


def test_long_traces_are_split_into_pages(tmp_path: Path) -> None:
    model = tmp_path / "count.py"
    model.write_text(COUNT)
    path = tmp_path / "count.itf.json"
    assert CliRunner().invoke(main, ["check", "--model", f"{model}:Count", "--trace", str(path)]).exit_code == 1
    out = tmp_path / "count.svg"
    result = CliRunner().invoke(main, ["trace", "dot", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 2 pages of at most 60 steps (71 states)" in result.output
    first, second = (_ids(p) for p in (out, tmp_path / "count-2.svg"))
    assert "step-60" in first and "step-61" not in first and "verdict" not in first
    assert {"step-61", "step-70", "verdict", "lane-counter"} <= second and "lane-counter" in first
    assert "continued on page 2" in out.read_text() and "page 2 of 2" in (tmp_path / "count-2.svg").read_text()


def test_pages_keep_every_lane(toy_trace: Path) -> None:
    trace = load(toy_trace)
    pages = sequence_pages(trace, per_page=3)
    assert len(pages) == 3
    for page in pages:
        assert page.source.count('class=lane') == 5


def test_lanes_and_kinds_come_from_the_trace(toy_trace: Path) -> None:
    document = json.loads(toy_trace.read_text())
    document["#meta"]["lanes"] = ["kubectl", "scheduler", "kubelet-node-a", "kubelet-node-b", "controller-x"]
    for state in document["states"][1:]:
        state["#meta"]["kind"] = "delivery" if "receives" in state["#meta"]["description"] else "other"
    trace = from_document(document)
    source = sequence_diagram(trace).source
    # A component that never acts still has its lane; the model's kinds decide what is a watch delivery.
    assert "lane-controller-x" in source
    kinds = [classify(trace, step).kind for step in trace.steps[1:]]
    assert kinds.count("watch") == sum(1 for s in trace.steps[1:] if "receives" in s.description)
