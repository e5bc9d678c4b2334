"""Test-wide settings and fixtures: Hypothesis without wall-clock health checks, since CI machines are shared and noisy.

Speed is measured by benchmarks/, never by tests; a test fails on what it computes, not on how long it took.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from checker.cli import main

settings.register_profile(
    "kubespec",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# CI (.ci/run) checks a fixed, reproducible set of examples: a run there says the same thing every time, and an
# example that fails is one anyone can rerun. Runs elsewhere draw new examples (and keep failures in .hypothesis/).
settings.register_profile("ci", parent=settings.get_profile("kubespec"), derandomize=True, database=None)
settings.load_profile(os.environ.get("KUBESPEC_HYPOTHESIS_PROFILE", "kubespec"))

TOY = Path(__file__).with_name("traces") / "toy_cluster.py"


def _counterexample(tmp_path_factory: pytest.TempPathFactory, name: str, model: str) -> Path:
    path = tmp_path_factory.mktemp("traces") / f"{name}.itf.json"
    result = CliRunner().invoke(main, ["check", "--model", f"{TOY}:{model}", "--no-deadlock", "--trace", str(path)])
    assert result.exit_code == 1, result.output
    return path


@pytest.fixture(scope="session")
def toy_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A safety counterexample of the toy cluster (tests/traces/toy_cluster.py), as a trace file."""
    return _counterexample(tmp_path_factory, "toy", "ToyCluster")


@pytest.fixture(scope="session")
def lasso_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A liveness counterexample (a lasso) of the toy cluster, as a trace file."""
    return _counterexample(tmp_path_factory, "lasso", "fixed")
