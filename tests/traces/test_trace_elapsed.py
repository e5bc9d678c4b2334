"""Traces read as upstream's timeline: each state carries the model time elapsed since the initial state
(``#meta.elapsed``, the Ticks' durations summed by checker/itf.py from the model's ``duration`` hook), and the text
and HTML printers show it at every step (docs/traces.md, "Elapsed time")."""

from __future__ import annotations

import io
import json
from functools import cache
from typing import Any

import pytest
from rich.console import Console

from checker import check
from checker.itf import Elapsed as Written
from checker.itf import trace_document, validate
from checker.model import always
from spec import actions as A
from spec.clock import RESYNC_PERIOD, duration
from spec.model import ClusterModel
from spec.scenario import builtin
from spec.state import ClusterState, Pod
from traces.document import Elapsed, from_document
from traces.html import trace_html
from traces.render import print_counterexample, render_trace


def _nothing_evicted(state: ClusterState) -> bool:
    return not any(isinstance(p, Pod) and p.meta.deleting for p in state.etcd.of("pods"))


@cache
def node_failure_document() -> dict[str, Any]:
    """The shortest way, on the built-in node-failure scenario, to a pod being deleted: a node fails for good, 40 s
    later (node-monitor-grace-period) it is Ready=Unknown and tainted unreachable, 300 s after that
    (DefaultTolerationSeconds) the taint eviction controller deletes its pod."""
    model = ClusterModel(builtin("node-failure").config)
    model.properties = (always("NothingEvicted", _nothing_evicted),)
    result = check(model)
    assert result.status == "violation"
    document: dict[str, Any] = json.loads(json.dumps(trace_document(result, model, None, {})))
    return document


def _text(document: dict[str, Any]) -> str:
    out = io.StringIO()
    print_counterexample(Console(file=out, width=400, color_system=None), document)
    return out.getvalue()


def _heading(text: str, needle: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("Step ") and needle in line]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


def test_a_node_failure_trace_reads_as_upstreams_timeline() -> None:
    document = node_failure_document()
    validate(document)
    states = document["states"]
    elapsed = [s["#meta"]["elapsed"]["ms"] for s in states]
    assert elapsed == sorted(elapsed) and elapsed[0] == 0
    descriptions = [s["#meta"]["description"] for s in states]
    failure = next(i for i, d in enumerate(descriptions) if "failure (down for good)" in d)
    unknown = next(i for i, d in enumerate(descriptions) if "Ready=Unknown" in d)
    evicted = next(i for i, d in enumerate(descriptions) if "TaintManagerEviction" in d)
    assert failure < unknown < evicted == len(states) - 1
    assert elapsed[failure] == 0
    assert elapsed[unknown] == 40_000 and "unreachable:NoExecute" in descriptions[unknown]
    assert elapsed[evicted] == 340_000
    # time moves only at the clock's Ticks, by the Tick's ms
    for i in range(1, len(states)):
        action = states[i]["#meta"]["action"]
        moved = elapsed[i] - elapsed[i - 1]
        assert (moved > 0) == (states[i]["#meta"]["actor"] == "clock"), (i, action)
    text = _text(document)
    assert _heading(text, "Ready=Unknown").startswith(f"Step {unknown}  [40 s]  node-lifecycle-controller")
    assert _heading(text, "TaintManagerEviction").startswith(f"Step {evicted}  [340 s]  taint-eviction-controller")
    assert _heading(text, "failure (down for good)").startswith(f"Step {failure}  [0 s]  fault")
    assert "Step 0  [0 s]  initial state" in text


def test_trace_show_and_the_html_page_show_it() -> None:
    trace = from_document(node_failure_document())
    out = io.StringIO()
    render_trace(Console(file=out, width=400, color_system=None), trace, step=len(trace.steps) - 1)
    assert f"Step {len(trace.steps) - 1}  [340 s]" in out.getvalue()
    page = trace_html(trace, None)
    assert '<span class="elapsed">[340 s]</span>' in page and '<span class="elapsed">[40 s]</span>' in page


def test_a_model_without_a_clock_has_no_time_column() -> None:
    document = dict(node_failure_document())
    document["states"] = [{**s, "#meta": {k: v for k, v in s["#meta"].items() if k != "elapsed"}}
                          for s in document["states"]]
    assert "[0 s]" not in _text(document) and "[340 s]" not in _text(document)


def test_the_clock_says_how_long_each_step_takes() -> None:
    assert duration(A.Tick("clock", 40_000, ("node-monitor-grace-period",))) == 40_000
    assert duration(A.Tick("clock", 0, ("resync",))) == RESYNC_PERIOD  # the rest of a resync period: unmeasured
    assert duration(A.Fault("fault", "crash", "nodes/node-a")) is None


@pytest.mark.parametrize(("steps", "expected"), [
    ([], "0 s"),
    ([40_000, None, 300_000], "340 s"),
    ([5, 1_000], "1.005 s"),
    ([3_600_000], "3,600 s"),
    ([40_000, RESYNC_PERIOD, 1_000], "41 s + 1 resync period"),
    ([RESYNC_PERIOD, RESYNC_PERIOD], "0 s + 2 resync periods"),
])
def test_elapsed_sums_and_reads(steps: list[Any], expected: str) -> None:
    written = Written()
    for d in steps:
        written = written.after(d)
    meta = json.loads(json.dumps(written.json()))
    state = {"#meta": {"elapsed": meta}}
    parsed = from_document({"vars": [], "states": [state]}).steps[0].elapsed
    assert parsed is not None and str(parsed) == expected


@pytest.mark.parametrize("bad", [None, 5, "40 s", {"ms": -1}, {"ms": True}, {"ms": 1.5}, {"ms": 10**20},
                                 {"ms": 1, "plus": []}, {}])
def test_a_hand_edited_elapsed_is_ignored(bad: Any) -> None:
    parsed = from_document({"vars": [], "states": [{"#meta": {"elapsed": bad}}]}).steps[0].elapsed
    assert parsed is None


def test_odd_periods_are_dropped_not_printed_wrong() -> None:
    parsed = from_document({"vars": [], "states": [{"#meta": {"elapsed": {"ms": 0, "plus": {"x": 0, "y": "2"}}}}]})
    assert parsed.steps[0].elapsed == Elapsed(0, ())


def test_the_sequence_diagram_marks_the_steps_at_which_time_moves() -> None:
    from diagrams.sequence import classify

    trace = from_document(node_failure_document())
    labels = {step.index: classify(trace, step).label for step in trace.steps[1:]}
    timed = {i: label for i, label in labels.items() if label.startswith("[")}
    assert [label.split("]")[0] + "]" for label in timed.values()] == ["[40 s]", "[340 s]"]
    assert all(trace.steps[i].actor == "clock" for i in timed)
    assert not any(label.startswith("[") for label in (classify(trace, s).label for s in trace.steps[1:]
                                                         if s.actor != "clock"))
