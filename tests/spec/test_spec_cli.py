"""`kubespec list` and `kubespec check` with scenarios: exit codes 0, 1, 2, traces and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from checker.cli import main


def test_list_shows_scenarios_properties_and_variants() -> None:
    result = CliRunner().invoke(main, ["list"])
    assert result.exit_code == 0
    for word in ("web-two-nodes (default)", "NoDoubleScheduling", "EventualReplicaConvergence", "no-expectations",
                 "kubernetes#7561", "stale-relist"):
        assert word in result.output


def test_check_a_builtin_scenario_that_holds() -> None:
    result = CliRunner().invoke(main, ["check", "pod-two-nodes"])
    assert result.exit_code == 0, result.output
    assert "scenario pod-two-nodes: 2 nodes" in result.output


def test_check_with_a_variant_finds_a_violation_and_writes_a_trace(tmp_path: Path) -> None:
    trace = tmp_path / "trace.json"
    result = CliRunner().invoke(main, ["check", "pod-two-nodes", "--variant", "unguarded-bind", "--trace",
                                       str(trace)])
    assert result.exit_code == 1, result.output
    assert "NoDoubleScheduling" in result.output and trace.is_file()


def test_check_json_output() -> None:
    result = CliRunner().invoke(main, ["check", "pod-two-nodes", "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert "pod-two-nodes" in doc["summary"]


def test_check_a_scenario_file(tmp_path: Path) -> None:
    from importlib import resources

    text = resources.files("spec.scenarios").joinpath("pod-two-nodes.yaml").read_text()
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    assert CliRunner().invoke(main, ["check", str(path)]).exit_code == 0


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {allocatable: {cpu: 1x}}\n")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert "bad.yaml: document 1 (Node n)" in result.output and "cpu" in result.output
    unknown = CliRunner().invoke(main, ["check", "pod-two-nodes", "--variant", "nope"])
    assert unknown.exit_code == 2 and "unknown variant 'nope'" in unknown.output
