"""`kubespec check` prints a counterexample with the renderer registered under the entry point `kubespec.printers`
(`traces.render.print_counterexample`), which the checker's command line loads by name, never by import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

import checker.cli
import traces.render
from checker.cli import main

ARGS = ["check", "pod-two-nodes", "--variant", "unguarded-bind"]


def test_check_prints_the_counterexample_through_the_registered_printer(monkeypatch: pytest.MonkeyPatch) -> None:
    documents: list[Mapping[str, Any]] = []
    real = traces.render.print_counterexample

    def spy(console: Console, document: Mapping[str, Any]) -> None:
        documents.append(document)
        real(console, document)

    monkeypatch.setattr(traces.render, "print_counterexample", spy)
    result = CliRunner().invoke(main, ARGS)
    assert result.exit_code == 1, result.output
    assert len(documents) == 1 and len(documents[0]["states"]) == 7  # the 6 steps' ITF document
    # the traces' view: only what changed, and why the actor did it
    assert '~ pods/default/web .nodeName: "" -> "node-a"' in result.output and "↳ POST" in result.output


def test_without_a_registered_printer_the_checker_prints_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    real = checker.cli.entry_points

    def without_printers(**kw: Any) -> Any:
        return [] if kw.get("group") == "kubespec.printers" else real(**kw)

    monkeypatch.setattr(checker.cli, "entry_points", without_printers)
    result = CliRunner().invoke(main, ARGS)
    assert result.exit_code == 1, result.output
    assert "NoDoubleScheduling is violated" in result.output and "↳ POST" not in result.output
