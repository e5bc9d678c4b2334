"""docs/spec.md: the "Add your own invariant" example runs as written, and the scenario example parses."""

from __future__ import annotations

import re
from pathlib import Path

from spec.scenario import parse

DOC = Path(__file__).resolve().parents[2] / "docs" / "spec.md"


def _block(heading: str, language: str) -> str:
    text = DOC.read_text()
    section = text[text.index(heading):]
    match = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no {language} block after {heading!r}"
    return match.group(1)


def test_add_your_own_invariant_example_runs() -> None:
    namespace: dict[str, object] = {}
    exec(compile(_block("## Add your own invariant", "python"), str(DOC), "exec"), namespace)  # noqa: S102
    result = namespace["result"]
    assert getattr(result, "status") == "ok"  # noqa: B009
    broken = namespace["broken"]
    assert getattr(broken, "status") == "violation"  # noqa: B009


def test_the_documented_scenario_parses() -> None:
    scenario = parse(_block("## Scenario format", "yaml"), "docs/spec.md")
    assert scenario.name == "web-two-nodes" and scenario.config.budget.controller_manager_crashes == 1
