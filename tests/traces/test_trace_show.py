"""`kubespec trace show`: steps, actors, one line each, only what changed; --full, --step, --html."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path

from click.testing import CliRunner, Result
from rich.console import Console

from checker.cli import main
from traces.document import load
from traces.render import render_trace


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_show_prints_each_step_and_only_what_changed(toy_trace: Path) -> None:
    result = run("trace", "show", str(toy_trace))
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.splitlines()[0] == "invariant AtMostOneNode is violated after 8 step(s)"
    assert "Step 5  scheduler  scheduler binds default/web-1 to node-b\n" in out
    assert '  ~ pods/default/web-1 .spec.nodeName: "node-a" -> "node-b"\n' in out
    assert '  + kubelet/node-a .seen[0]: "web-1"' in out
    assert (
        "Step 8  kubelet-node-b  kubelet-node-b starts the container of default/web-1   ✗ violates AtMostOneNode" in out
    )
    # Only the changes: step 5 does not repeat the unchanged kubelet state.
    step5 = out.split("Step 5")[1].split("Step 6")[0]
    assert "kubelet/node-a" not in step5 and "scheduler .cache" not in step5
    assert "\x1b[" not in out  # not a terminal: plain text


def test_show_one_step_in_full(toy_trace: Path) -> None:
    result = run("trace", "show", str(toy_trace), "--step", "5", "--full")
    assert result.exit_code == 0, result.output
    assert "Step 4" not in result.output and "Step 6" not in result.output
    assert "  state:" in result.output
    assert '  pods/default/web-1: {metadata: {resourceVersion: "4"}, spec: {nodeName: "node-b"}}' in result.output
    assert '  kubelet/node-a: {seen: ["web-1"], running: []}' in result.output


def test_step_out_of_range_is_a_usage_error(toy_trace: Path) -> None:
    result = run("trace", "show", str(toy_trace), "--step", "9")
    assert result.exit_code == 2
    assert "the trace has steps 0..8" in result.output


def test_show_marks_the_lasso(lasso_trace: Path) -> None:
    result = run("trace", "show", str(lasso_trace))
    assert result.exit_code == 0, result.output
    assert "eventually property PodRunning is violated" in result.output
    assert "stutters in step" in result.output and "PodRunning never holds on this behaviour" in result.output


def test_colours_on_a_terminal(toy_trace: Path) -> None:
    out = io.StringIO()
    render_trace(Console(file=out, force_terminal=True, color_system="standard"), load(toy_trace))
    text = out.getvalue()
    assert "\x1b[" in text
    assert "\x1b[33m" in text  # a changed field in yellow


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"hello": "world"}))
    result = run("trace", "show", str(path))
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: ") and len(result.output.strip().splitlines()) == 1


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_is_one_self_contained_page(toy_trace: Path, tmp_path: Path) -> None:
    out = tmp_path / "trace.html"
    result = run("trace", "show", str(toy_trace), "--html", str(out))
    assert result.exit_code == 0, result.output
    page = _Page()
    page.feed(out.read_text("utf-8"))
    page.close()
    tags = [tag for tag, _ in page.tags]
    assert "svg" in tags
    sections = [a for tag, a in page.tags if tag == "section"]
    assert [s["id"] for s in sections] == [f"step-{i}" for i in range(9)]
    assert sections[-1]["class"] == "step violation"
    lanes = [a for tag, a in page.tags if tag == "g" and "lane" in (a.get("class") or "").split()]
    assert len(lanes) == 5
    ids = [a["id"] for _, a in page.tags if a.get("id")]
    assert len(ids) == len(set(ids))  # the picture's ids do not collide with the step anchors
    text = "".join(page.text)
    assert 'pods/default/web-1 .spec.nodeName: "node-a" -> "node-b"' in text
    # No network: nothing is fetched (no scripts, stylesheets or images from elsewhere).
    assert not [a for tag, a in page.tags if tag in ("script", "link", "img", "iframe")]
    assert not [a for _, a in page.tags for key in ("src", "href") if (a.get(key) or "").startswith("http")]


def test_show_reads_a_quint_trace(tmp_path: Path) -> None:
    """A trace written by Quint (ITF with mbt::actionTaken, no kubespec metadata) is shown; replay needs a source."""
    quint = {
        "#meta": {"format": "ITF", "source": "bank.qnt", "status": "violation"},
        "vars": ["balances", "mbt::actionTaken"],
        "states": [
            {"#meta": {"index": 0}, "balances": {"#map": [["alice", {"#bigint": "10"}]]}, "mbt::actionTaken": "init"},
            {
                "#meta": {"index": 1},
                "balances": {"#map": [["alice", {"#bigint": "-5"}]]},
                "mbt::actionTaken": "withdraw",
            },
        ],
    }
    path = tmp_path / "bank.itf.json"
    path.write_text(json.dumps(quint))
    result = run("trace", "show", str(path))
    assert result.exit_code == 0, result.output
    assert "Step 1  withdraw\n" in result.output
    assert "mbt::" not in result.output and "violates" not in result.output
    assert result.output.startswith("ITF trace of bank.qnt")
    assert "~ balances .alice: 10 -> -5" in result.output
    replayed = run("trace", "replay", str(path))
    assert replayed.exit_code == 2 and "#meta.source: the trace does not say which model made it" in replayed.output
