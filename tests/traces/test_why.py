"""Issue 18: every step says why (what its actor read, from where, and what its requests answered), the violating
step carries the property's own explanation, a lasso names its goal and its fair step classes, and `trace show`
is quiet by default (no bookkeeping, the initial state as kubectl tables) with `--full` for everything."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.cli import main
from spec import actions as A
from spec.display import why
from spec.model import ClusterModel
from spec.properties import PROPERTIES
from spec.scenario import builtin


def _check(tmp_path: Path, *args: str) -> tuple[Path, dict]:  # type: ignore[type-arg]
    path = tmp_path / "t.itf.json"
    result = CliRunner().invoke(main, ["check", *args, "--trace", str(path)])
    assert result.exit_code == 1, result.output
    return path, json.loads(path.read_text("utf-8"))


@pytest.fixture(scope="module")
def overshoot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:  # type: ignore[type-arg]
    """kubernetes#7561: without expectations the ReplicaSet controller creates from a pod cache that lags."""
    return _check(tmp_path_factory.mktemp("why"), "replicaset-one-node", "--variant", "no-expectations")


def test_each_step_says_what_its_actor_read_and_where_it_differs_from_etcd(overshoot: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    _, doc = overshoot
    last = doc["states"][-1]["#meta"]
    # The stale read behind the violation: the pod informer is behind etcd, which already has the two pods.
    assert any(line.startswith("replicaset-controller read 0 active pod(s) of replicasets/default/web from its pod "
                               "informer (at rv ") and line.endswith("; etcd has 2: web-bbbbb, web-cbbbb")
               for line in last["why"]), last["why"]
    read = "replicaset-controller read replicasets/default/web replicas: 2"
    assert any(line.startswith(read) for line in last["why"])
    assert [line for line in last["why"] if line.startswith("POST pods/default → 201 Created pods/default/")]
    # The property's own explanation, at the violating step only.
    assert "etcd now has 4 active pod(s), replicas 2" in last["explanation"]
    assert all("explanation" not in s["#meta"] for s in doc["states"][:-1])
    # A watch delivery says what it brought and how far behind etcd it is.
    delivery = doc["states"][2]["#meta"]
    assert delivery["why"][0].startswith("default-scheduler's watch (at rv ")
    assert "brings ADDED pods/default/web-bbbbb" in delivery["why"][0]


def test_show_is_quiet_by_default_and_full_on_request(overshoot: tuple[Path, dict]) -> None:  # type: ignore[type-arg]
    path, _ = overshoot
    quiet = CliRunner().invoke(main, ["trace", "show", str(path)]).output
    full = CliRunner().invoke(main, ["trace", "show", str(path), "--full"]).output
    # Initial state as kubectl tabulates it.
    assert "  replicasets\n    NAME   DESIRED   CURRENT   READY   IMAGES\n    web    2         0         0" in quiet
    assert "faults left" not in quiet and "faults left" in full
    # No etcd counters, no resourceVersion of created objects, no rv bumps of components that received nothing.
    for noise in ("etcd .history", "etcd .revision", "resourceVersion", 'kubelet/node-a ["informer rv"]',
                  '.informers["deployments rv"]'):
        assert noise not in quiet, noise
        assert noise in full, noise
    # The actor's own informer moving is what a delivery did: shown.
    assert '~ default-scheduler ["informer rv"]: 2 -> 3' in quiet
    assert "  ↳ replicaset-controller read 0 active pod(s)" in quiet
    assert "  ✗ ReplicaSetNeverOvershoots: the ReplicaSet controller created a pod" in quiet


def test_html_page_has_why_tables_and_explanation(overshoot: tuple[Path, dict], tmp_path: Path) -> None:  # type: ignore[type-arg]
    path, _ = overshoot
    out = tmp_path / "t.html"
    assert CliRunner().invoke(main, ["trace", "show", str(path), "--html", str(out)]).exit_code == 0
    page = out.read_text("utf-8")
    assert '<table class="kubectl"><caption>replicasets</caption>' in page
    assert "etcd has 2: web-bbbbb, web-cbbbb" in page
    assert 'class="explanation">✗ ReplicaSetNeverOvershoots: ' in page


def test_a_lasso_names_its_goal_and_its_fair_classes(tmp_path: Path) -> None:
    """kubernetes#72122 (no-requeue): the pod is never retried; the scheduler's class is disabled on the loop."""
    path, doc = _check(tmp_path, "cordoned-node", "--variant", "no-requeue")
    lasso = doc["#meta"]["lasso"]
    classes = {c["name"]: c for c in lasso["fairness"]}
    assert classes["WF(default-scheduler)"]["status"] == "disabled"
    taken = [c for c in classes.values() if c["status"] == "taken"]
    assert taken and all(c["taken_at"] for c in taken)
    assert all(c["status"] != "unfair" for c in classes.values())  # the checker's lasso is fair
    loop = doc["loop"]
    assert "Deployment default/web has 0 ready, running pod(s)" in doc["states"][loop]["#meta"]["explanation"]
    out = CliRunner().invoke(main, ["trace", "show", str(path)]).output
    assert "fair step classes on the loop (why none makes progress):" in out
    assert "WF(default-scheduler) (disabled): never enabled on the loop" in out
    assert "on the loop: Deployment default/web has 0 ready, running pod(s)" in out


def test_every_failed_request_has_its_reason() -> None:
    """Over the first states of a scenario with conflicts: every failed reconcile or bind names the answer (409
    Conflict: ...) of the request that failed, and why() answers for every step."""
    config = builtin("scale-down-during-creation").config
    model = ClusterModel(config)
    seen = set()
    queue = deque(model.init_states())
    failed = expanded = 0
    while queue and expanded < 300:
        state = queue.popleft()
        expanded += 1
        for action, target in model.successors(state):
            lines = why(state, action, target, config)
            assert all(isinstance(line, str) and line for line in lines)
            if (isinstance(action, A.Reconcile) and action.failed) or (isinstance(action, A.Bind) and not action.ok):
                failed += 1
                assert any("→ 409 " in line or "→ 404 " in line or "→ 422 " in line for line in lines), (action, lines)
            if isinstance(action, A.Reconcile | A.Deliver | A.Schedule | A.SyncPod | A.Kubectl):
                assert lines, action
            canonical = model.canonical(target)
            if canonical not in seen:
                seen.add(canonical)
                queue.append(canonical)
    assert failed > 0


def test_every_built_in_property_explains_itself() -> None:
    assert all(spec.explain is not None for spec in PROPERTIES.values())
    state = next(iter(ClusterModel(builtin("web-two-nodes").config).init_states()))
    # In the initial state nothing has converged: the liveness explanations say what is missing.
    assert "Deployment default/web has 0 ready, running pod(s) of its current template, replicas 2" in (
        PROPERTIES["EventualReplicaConvergence"].explain(state))  # type: ignore[misc]
    assert PROPERTIES["NoOvercommit"].explain(state) == "every node's pods fit its allocatable"  # type: ignore[misc]


def test_a_stale_replicaset_read_is_named_with_what_etcd_has() -> None:
    """The issue's example: the ReplicaSet controller reads replicas: 2 from its lagging informer while etcd has 1
    (the user scaled the Deployment down): found by walking the scale-down scenario."""
    config = builtin("scale-down-during-creation").config
    model = ClusterModel(config)
    seen = set()
    queue = deque(model.init_states())
    found = None
    while queue and found is None:
        state = queue.popleft()
        for action, target in model.successors(state):
            for line in why(state, action, target, config):
                if "from its ReplicaSet informer" in line and "; etcd has replicas: 1" in line:
                    found = line
            canonical = model.canonical(target)
            if canonical not in seen:
                seen.add(canonical)
                queue.append(canonical)
    assert found is not None
    assert found.startswith("replicaset-controller read replicasets/default/web-")
    assert "replicas: 2, image: nginx:1.25 from its ReplicaSet informer (at rv " in found
    assert "rv -" not in found  # a version the renumbering moved away is not printed


def test_json_output_says_why_too() -> None:
    result = CliRunner().invoke(main, ["check", "replicaset-one-node", "--variant", "no-expectations", "--json"])
    assert result.exit_code == 1, result.output
    steps = json.loads(result.output)["trace"]
    assert steps[0]["why"] == []
    assert any(line.endswith("; etcd has 2: web-bbbbb, web-cbbbb") for line in steps[-1]["why"])
