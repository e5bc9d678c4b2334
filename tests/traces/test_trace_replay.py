"""`kubespec trace replay`: every step re-executed with the model's own step function; tampering is caught."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from checker import Model, check, eventually, strong, weak
from checker.cli import main
from checker.itf import trace_document, write_trace
from traces.replay import replay

TOY = Path(__file__).with_name("toy_cluster.py")
TOY_MODEL = ("--model", f"{TOY}:ToyCluster")
LASSO_MODEL = ("--model", f"{TOY}:fixed")


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def tampered(source: Path, tmp_path: Path, edit: Any) -> Path:
    document = json.loads(source.read_text())
    edit(document)
    path = tmp_path / "tampered.itf.json"
    path.write_text(json.dumps(document))
    return path


def test_a_true_trace_replays(toy_trace: Path) -> None:
    result = run("trace", "replay", str(toy_trace), *TOY_MODEL)
    assert result.exit_code == 0, result.output
    assert "step 5: scheduler binds default/web-1 to node-b" in result.output
    assert "the violation recurs: invariant AtMostOneNode is false in step 8" in result.output


def test_a_lasso_replays_with_its_loop(lasso_trace: Path) -> None:
    result = run("trace", "replay", str(lasso_trace), *LASSO_MODEL)
    assert result.exit_code == 0, result.output
    assert "the goal of PodRunning never holds on this fair lasso" in result.output


def set_state(index: int, key: str, value: Any) -> Any:
    def edit(document: dict) -> None:
        document["states"][index][key] = value

    return edit


def set_meta(index: int, key: str, value: Any) -> Any:
    def edit(document: dict) -> None:
        document["states"][index]["#meta"][key] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "step", "message"),
    [
        (set_state(0, "revision", 7), 0, "step 0: the state is not one of the model's 1 initial state(s)"),
        (
            set_state(3, "revision", 99),
            3,
            "step 3: the action 'scheduler binds default/web-1 to node-a' leads to another state",
        ),
        (
            set_meta(5, "action", {"tag": "Bind", "value": {"actor": "scheduler", "pod": "web-1", "node": "node-c"}}),
            5,
            "step 5: the model cannot take the recorded action",
        ),
        (set_meta(4, "actor", "kubelet-node-z"), 4, "step 4: the recorded actor 'kubelet-node-z'"),
        (set_meta(2, "description", "nothing to see"), 2, "step 2: the recorded description"),
        (set_meta(6, "view", {}), 6, "step 6: the recorded view is not the model's view"),
        (lambda d: d["states"].pop(), 7, "step 7: invariant AtMostOneNode holds here"),
        (lambda d: d["#meta"].update(property="NoSuchProperty"), None, "the model has no property named"),
    ],
)
def test_a_tampered_file_is_reported_at_its_first_wrong_step(
    toy_trace: Path, tmp_path: Path, edit: Any, step: int | None, message: str
) -> None:
    path = tampered(toy_trace, tmp_path, edit)
    result = run("trace", "replay", str(path), *TOY_MODEL)
    assert result.exit_code == 1, result.output
    assert message in result.output
    where = f"replay FAILED at step {step}" if step is not None else "replay FAILED:"
    assert where in result.output


def test_a_lasso_with_a_wrong_loop_fails(lasso_trace: Path, tmp_path: Path) -> None:
    document = json.loads(lasso_trace.read_text())
    document["loop"] = 0
    path = tmp_path / "wrong-loop.itf.json"
    path.write_text(json.dumps(document))
    result = run("trace", "replay", str(path), *LASSO_MODEL)
    assert result.exit_code == 1
    assert "the loop does not close" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all", "not a trace file: invalid JSON"),
        ('{"vars": [], "states": [{}]}', "#meta.source: the trace does not say which model made it"),
        ('{"#meta": {"source": {"loader": "nope"}}, "vars": [], "states": [{}]}', "unknown loader 'nope'"),
        ('{"#meta": {"source": {"loader": "scenario", "target": 3}}, "vars": [], "states": [{}]}', "expected a string"),
        (
            '{"#meta": {"source": {"loader": "scenario", "target": "web-two-nodes", "params": {"crashes": "x"}}}, '
            '"vars": [], "states": [{}]}',
            "#meta.source.params.crashes: 'x' is not a valid integer",
        ),
    ],
)
def test_not_a_trace_is_bad_input(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(content)
    result = run("trace", "replay", str(path))
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


class Spinner(Model):
    """0 -> 1 -> 2 -> 1 ...; Finish (2 -> 3) is enabled in 2 only. Go and Back are weakly fair, so the only fair
    way to miss 3 is the loop 1 -> 2 -> 1, which strong fairness of Finish forbids."""

    def __init__(self, strong_finish: bool = False) -> None:
        self.properties = (eventually("Finishes", lambda s: s == 3),)
        self.fairness = (weak("moves", lambda a: a in ("Go", "Back")),)
        if strong_finish:
            self.fairness += (strong("finish", lambda a: a == "Finish"),)

    def init_states(self) -> list[int]:
        return [0]

    def successors(self, state: int) -> list[tuple[str, int]]:
        moves = {0: [("Go", 1)], 1: [("Go", 2)], 2: [("Back", 1), ("Finish", 3)], 3: [("Stay", 3)]}
        return moves[state]


def test_a_closing_lasso_replays_and_an_unfair_one_is_rejected() -> None:
    model = Spinner()
    result = check(model)
    assert result.violation is not None and result.violation.kind == "eventually"
    document = trace_document(result, model, None, {})
    assert [s["state"] for s in document["states"]][document["loop"] :] in ([1, 2, 1], [2, 1, 2])
    report = replay(model, document)
    assert report.ok, report.lines
    assert "loop from step" in report.lines[-1]
    unfair = replay(Spinner(strong_finish=True), document)
    assert not unfair.ok
    assert "not a fair behaviour" in unfair.lines[0] and "strong fairness finish" in unfair.lines[1]
    # Stopping in state 2 forever: Back is enabled there all the time, so WF(moves) forbids it.
    stutter = copy.deepcopy(document)
    first_two = next(i for i, s in enumerate(stutter["states"]) if s["state"] == 2)
    stutter["states"] = stutter["states"][: first_two + 1]
    stutter["loop"] = first_two
    stuck = replay(model, stutter)
    assert not stuck.ok and "weak fairness moves" in stuck.lines[1]


def test_written_files_replay_with_the_model_given_on_the_command_line(tmp_path: Path) -> None:
    model = Spinner()
    document = trace_document(check(model), model, {"loader": "python", "target": f"{__file__}:spinner"}, {})
    path = tmp_path / "spinner.itf.json"
    write_trace(path, document)
    refused = run("trace", "replay", str(path))
    hint = f"with --model FILE.py:NAME (the trace says it was made by '{__file__}:spinner')"
    assert refused.exit_code == 2 and hint in refused.output
    result = run("trace", "replay", str(path), "--model", f"{__file__}:spinner")
    assert result.exit_code == 0, result.output


def spinner() -> Spinner:
    return Spinner()


def test_a_deadlock_replays_and_a_state_with_successors_is_no_deadlock(tmp_path: Path) -> None:
    path = tmp_path / "deadlock.itf.json"
    assert run("check", "--model", f"{TOY}:ToyCluster", "--trace", str(path)).exit_code == 1
    document = json.loads(path.read_text())
    assert document["#meta"]["kind"] == "deadlock"
    result = run("trace", "replay", str(path), *TOY_MODEL)
    assert result.exit_code == 0, result.output
    assert "no action is enabled in step" in result.output
    document["states"].pop()
    path.write_text(json.dumps(document))
    result = run("trace", "replay", str(path), *TOY_MODEL)
    assert result.exit_code == 1 and "the model has successors here, so it is no deadlock" in result.output


class Flicker(Model):
    """0 <-> 1 forever under weak fairness: `<>[](s == 0)` and `s == 1 ~> [](s == 0)` fail (the goal keeps
    failing in the loop), though `<>(s == 0)` holds."""

    def __init__(self, kind: str) -> None:
        from checker import eventually_always, leads_to_always

        if kind == "eventually_always":
            self.properties = (eventually_always("SettlesAtZero", lambda s: s == 0),)
        else:
            self.properties = (leads_to_always("OneLeadsToZeroForGood", lambda s: s == 1, lambda s: s == 0),)
        self.fairness = (weak("flip", lambda a: a == "Flip"),)

    def init_states(self) -> list[int]:
        return [0]

    def successors(self, state: int) -> list[tuple[str, int]]:
        return [("Flip", 1 - state)]


@pytest.mark.parametrize("kind", ["eventually_always", "leads_to_always"])
def test_an_always_lasso_replays_and_says_the_goal_keeps_failing(kind: str) -> None:
    from traces.document import from_document

    model = Flicker(kind)
    result = check(model)
    assert result.violation is not None and result.violation.kind == kind
    document = trace_document(result, model, None, {})
    report = replay(model, document)
    assert report.ok, report.lines
    assert "again and again" in report.lines[-1]
    assert "never holds for good" in from_document(document).lasso_verdict
    # A loop in which the goal always holds is no counterexample.
    settled = copy.deepcopy(document)
    zero = next(i for i, s in enumerate(settled["states"]) if s["state"] == 0)
    settled["states"] = settled["states"][: zero + 1]
    settled["loop"] = zero
    assert not replay(model, settled).ok
