"""The checker as an engine: signals, storage modes, checkpoints, workers (issue 14)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

BIG = "from checker.examples.twophase import TwoPhase\n\ndef big():\n    return TwoPhase(10)\n"
KUBESPEC = str(Path(sys.executable).parent / "kubespec")


def _started(args: list[str], tmp_path: Path) -> subprocess.Popen[str]:
    model = tmp_path / "big.py"
    model.write_text(BIG)
    return subprocess.Popen([KUBESPEC, "check", "--model", f"{model}:big", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_sigterm_prints_the_partial_result_as_json_and_exits_143(tmp_path: Path) -> None:
    """SIGTERM (what `timeout` sends) behaves as Ctrl-C: the partial result, status "interrupted", exit 143."""
    directory = tmp_path / "ck"
    proc = _started(["--json", "--checkpoint", str(directory), "--checkpoint-every", "0.01"], tmp_path)
    deadline = time.monotonic() + 120
    while not (directory / "checkpoint.json").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # past start-up, however slow the machine: the search has written a checkpoint
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    doc = json.loads(out)
    assert doc["status"] == "interrupted" and doc["stats"]["distinct_states"] > 0, doc
    assert "Traceback" not in err


def test_sigterm_in_text_mode(tmp_path: Path) -> None:
    proc = _started([], tmp_path)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("Checking model")
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "interrupted: no violation in" in out and "Traceback" not in err


# --- Storage: exact and fingerprint ------------------------------------------------------------------------------

import contextlib  # noqa: E402
import enum  # noqa: E402
import os  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from typing import Any  # noqa: E402

import attrs  # noqa: E402
import immutables  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from checker import Model, always, check, eventually, leads_to, sometimes, strong, weak  # noqa: E402
from checker.examples.diehard import DieHard  # noqa: E402
from checker.examples.ewd840 import EWD840  # noqa: E402
from checker.examples.peterson import Peterson  # noqa: E402
from checker.examples.semaphore import Semaphore  # noqa: E402
from checker.examples.tcommit import TCommit  # noqa: E402
from checker.examples.twophase import TwoPhase  # noqa: E402
from checker.fingerprint import Fingerprinter, collision_observed, collision_optimistic  # noqa: E402
from checker.result import Result  # noqa: E402


def _same(a: Result, b: Result) -> None:
    """Two results agree on everything but time and storage: status, counts, coverage, the trace step by step."""
    assert (a.status, a.stats.distinct_states, a.stats.generated, a.stats.depth, a.stats.queue, a.cut) == (
        b.status, b.stats.distinct_states, b.stats.generated, b.stats.depth, b.stats.queue, b.cut)
    assert a.stats.coverage == b.stats.coverage
    va, vb = a.violation, b.violation
    assert (va is None) == (vb is None)
    if va is not None and vb is not None:
        assert (va.property, va.kind, va.loop_start, va.trace) == (vb.property, vb.kind, vb.loop_start, vb.trace)


CLASSIC = [
    (TwoPhase, (4,), {}), (TCommit, (), {}), (DieHard, (), {}), (Peterson, (), {}), (EWD840, (3,), {}),
    (Semaphore, (2, "weak"), {}), (Semaphore, (2, "strong"), {}), (TwoPhase, (4,), {"strategy": "dfs"}),
    (TwoPhase, (4,), {"max_states": 300}), (TwoPhase, (4,), {"max_depth": 5}), (Peterson, (), {"deadlock": False}),
    (TwoPhase, (3,), {"max_states": 100}),  # a cut in the middle of an expansion that found new states
]


@pytest.mark.parametrize(("factory", "args", "options"), CLASSIC)
def test_fingerprint_storage_gives_the_counts_verdict_and_trace_of_exact_storage(
        factory: Any, args: tuple[Any, ...], options: dict[str, Any]) -> None:
    exact = check(factory(*args), storage="exact", **options)
    fingerprinted = check(factory(*args), storage="fingerprint", **options)
    _same(exact, fingerprinted)
    assert fingerprinted.bounds.storage == "fingerprint" and fingerprinted.bounds.collision is not None
    assert "fingerprint storage (probability of a fingerprint collision:" in fingerprinted.verdict()
    assert exact.bounds.collision is None and "fingerprint" not in exact.verdict()


LABELS = ("a", "b", "c")


class RandomGraph(Model):
    """A labelled graph given as edges; states are small attrs records, so fingerprints see real structure."""

    @attrs.frozen
    class Node:
        n: int
        tag: frozenset[str]

    def __init__(self, edges: frozenset[tuple[int, str, int]], init: frozenset[int], goal: frozenset[int],
                 premise: frozenset[int], bad: frozenset[int], fairness: dict[str, str],
                 allowed: frozenset[int] | None = None) -> None:
        self.edges, self.init, self.allowed = edges, init, allowed
        self.properties = [
            always("NotBad", lambda s: s.n not in bad),
            eventually("Ev", lambda s: s.n in goal),
            leads_to("LT", lambda s: s.n in premise, lambda s: s.n in goal),
        ]
        kinds = {"weak": weak, "strong": strong}
        self.fairness = [kinds[k](f"F{label}", lambda a, label=label: a == label) for label, k in fairness.items()]

    def node(self, n: int) -> Any:
        return RandomGraph.Node(n, frozenset({f"x{n % 3}", "y"}))

    def constraint(self, s: Any) -> bool:
        return self.allowed is None or s.n in self.allowed

    def init_states(self) -> Iterator[Any]:
        return iter([self.node(n) for n in sorted(self.init)])

    def successors(self, s: Any) -> Iterator[tuple[str, Any]]:
        return iter([(label, self.node(v)) for (u, label, v) in sorted(self.edges) if u == s.n])


@st.composite
def random_graphs(draw: st.DrawFn) -> RandomGraph:
    n = draw(st.integers(1, 7))
    node = st.integers(0, n - 1)
    nodes = st.frozensets(node)
    edges = draw(st.frozensets(st.tuples(node, st.sampled_from(LABELS), node), max_size=14))
    fairness = draw(st.dictionaries(st.sampled_from(LABELS), st.sampled_from(["weak", "strong"])))
    allowed = draw(st.none() | nodes)
    return RandomGraph(edges, draw(st.frozensets(node, min_size=1, max_size=3)), draw(nodes), draw(nodes),
                       draw(nodes), fairness, allowed)


@settings(max_examples=150)
@given(random_graphs(), st.sampled_from(["bfs", "dfs"]), st.booleans())
def test_fingerprint_storage_agrees_with_exact_storage_on_random_graphs(
        model: RandomGraph, strategy: str, deadlock: bool) -> None:
    """Invariants, deadlock, liveness under fairness, both orders: the same result whatever the storage."""
    _same(check(model, strategy=strategy, deadlock=deadlock),
          check(model, strategy=strategy, deadlock=deadlock, storage="fingerprint"))


class Colour(enum.Enum):
    RED = 1
    BLUE = 2


@attrs.frozen
class Rec:
    a: Any
    b: Any = None


def test_fingerprints_follow_structure_not_construction() -> None:
    fp = Fingerprinter()
    # Equal values built differently, or by a second fingerprinter: one fingerprint.
    assert fp(frozenset(["b", "a", "c"])) == fp(frozenset(["c", "a", "b"])) == Fingerprinter()(frozenset("abc"))
    assert fp(immutables.Map({"x": 1, "y": (2,)})) == fp(immutables.Map({"y": (2,), "x": 1}))
    assert fp(Rec(frozenset({1, 2}), Colour.RED)) == Fingerprinter()(Rec(frozenset({2, 1}), Colour.RED))
    # Values that differ in shape, order, type or class: different fingerprints.
    distinct = [("a", "b"), ("b", "a"), frozenset({"a", "b"}), ("ab",), "ab", Rec("a", "b"), Rec("b", "a"),
                Rec(("a", "b")), immutables.Map({"a": "b"}), immutables.Map({"b": "a"}), (), frozenset(), None,
                Colour.RED, Colour.BLUE, 1, 2, -1, 2**70, 1.5, (1, (2, 3)), ((1, 2), 3), b"ab",
                frozenset({frozenset({1}), frozenset({2})}), frozenset({frozenset({1, 2})})]
    fps = [fp(v) for v in distinct]
    assert len(set(fps)) == len(distinct)
    assert all(0 <= f < 2**64 for f in fps)
    # Python's equal numbers are one key in exact storage, and one fingerprint here (memo order cannot matter).
    assert fp((1,)) == fp((True,)) == fp((1.0,))
    with pytest.raises(TypeError, match="cannot fingerprint"):
        fp(object())


SEEDED = """
import attrs
from checker.fingerprint import Fingerprinter
from checker.examples.twophase import TwoPhase
m = TwoPhase(3)
s = next(iter(m.init_states()))
states = [s] + [t for _, t in m.successors(s)]
states += [t for x in list(states) for _, t in m.successors(x)]
print([Fingerprinter()(t) for t in states])
"""


def test_fingerprints_do_not_depend_on_the_hash_seed() -> None:
    """Checkpoints and worker processes compare fingerprints made in different processes."""
    outputs = set()
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outputs.add(subprocess.run([sys.executable, "-c", SEEDED], capture_output=True, text=True, env=env,
                                   check=True, cwd="/").stdout)
    assert len(outputs) == 1


def test_collision_estimates_are_tlcs() -> None:
    assert collision_optimistic(1000, 3000) == 1000 * 2000 / 2**64
    assert collision_optimistic(5, 5) == 0.0
    assert collision_observed([10, 50, 14, 2**63]) == 1 / 4
    assert collision_observed([7]) == 0.0


def test_storage_on_the_command_line(tmp_path: Path) -> None:
    r = subprocess.run([KUBESPEC, "check", "--model", "checker.examples.twophase:TwoPhase", "--storage",
                        "fingerprint", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["stats"]["distinct_states"] == 288 and doc["bounds"]["storage"] == "fingerprint"
    assert 0 < doc["bounds"]["collision"]["calculated"] < 1e-10
    r = subprocess.run([KUBESPEC, "check", "--storage", "disk"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error:")


# --- Checkpoints and resume ---------------------------------------------------------------------------------------

import checker.search  # noqa: E402


class Deep(Model):
    """A grid walk with an invariant that fails far from the start, and liveness that needs the whole graph."""

    def __init__(self, n: int = 60, bad: tuple[int, int] | None = (50, 45)) -> None:
        self.n = n
        self.properties = [always("NotThere", lambda s: s != bad)] if bad else []
        self.properties += [eventually("Corner", lambda s: s == (n - 1, n - 1))]
        self.fairness = [weak("move", lambda a: True)]

    def init_states(self) -> Iterator[tuple[int, int]]:
        return iter([(0, 0)])

    def successors(self, s: tuple[int, int]) -> Iterator[tuple[str, tuple[int, int]]]:
        x, y = s
        if x + 1 < self.n:
            yield "right", (x + 1, y)
        if y + 1 < self.n:
            yield "up", (x, y + 1)
        if x + 1 == self.n and y + 1 == self.n:
            yield "stay", s


def _stop_after(calls: int) -> Any:
    count = [0]

    def stop() -> bool:
        count[0] += 1
        return count[0] > calls

    return stop


@pytest.mark.parametrize("storage", ["exact", "fingerprint"])
@pytest.mark.parametrize(("strategy", "bad"), [("bfs", (50, 45)), ("dfs", (50, 45)), ("bfs", None)])
def test_resume_gives_the_result_of_a_search_never_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             storage: str, strategy: str, bad: Any) -> None:
    monkeypatch.setattr(checker.search, "PROGRESS_EVERY", 64)
    fresh = check(Deep(bad=bad), strategy=strategy, storage=storage)
    directory = str(tmp_path / "ck")
    stopped = check(Deep(bad=bad), strategy=strategy, storage=storage, checkpoint=directory, stop=_stop_after(5))
    assert stopped.status == "interrupted" and 0 < stopped.stats.distinct_states < fresh.stats.distinct_states
    # Stopped twice more on the way: each resume goes on from the checkpoint the previous run left.
    again = check(Deep(bad=bad), resume=directory, checkpoint=directory, stop=_stop_after(7))
    if again.status == "interrupted":
        assert again.stats.distinct_states > stopped.stats.distinct_states
        resumed = check(Deep(bad=bad), resume=directory)
    else:
        resumed = again  # depth-first finds the violation before the second stop
    _same(fresh, resumed)
    assert resumed.bounds == fresh.bounds
    assert fresh.status == ("violation" if bad else "ok")


def test_periodic_checkpoints_are_written_and_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checker.search, "PROGRESS_EVERY", 64)
    directory = tmp_path / "ck"
    result = check(Deep(bad=None), checkpoint=str(directory), checkpoint_every=1e-9, checkpoint_meta={"who": "me"})
    about = json.loads((directory / "checkpoint.json").read_text())
    assert about["meta"] == {"who": "me"} and 0 < about["distinct_states"] <= result.stats.distinct_states
    assert about["options"]["storage"] == "exact"


def test_a_checkpoint_names_no_callable(tmp_path: Path) -> None:
    """A checkpoint is data: one that names a function (here os.system) is refused, not run."""
    import pickle

    from checker.checkpoint import load
    from checker.errors import InputError

    (tmp_path / "checkpoint.pickle").write_bytes(pickle.dumps({"version": 1, "x": os.system}))
    with pytest.raises(InputError, match="may not name"):
        load(str(tmp_path))
    with pytest.raises(InputError, match="no checkpoint here"):
        load(str(tmp_path / "missing"))


def test_sigterm_writes_a_checkpoint_and_resume_finishes_with_the_same_counts(tmp_path: Path) -> None:
    model = tmp_path / "mid.py"
    model.write_text("from checker.examples.twophase import TwoPhase\n\ndef mid():\n    return TwoPhase(6)\n")
    directory = tmp_path / "ck"
    proc = subprocess.Popen([KUBESPEC, "check", "--model", f"{model}:mid", "--checkpoint", str(directory),
                             "--checkpoint-every", "0.05", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (directory / "checkpoint.json").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the search finished before it could be stopped (a very fast machine)")
    assert proc.returncode == 143, err
    stopped = json.loads(out)
    assert stopped["status"] == "interrupted"
    about = json.loads((directory / "checkpoint.json").read_text())
    assert about["distinct_states"] == stopped["stats"]["distinct_states"]  # the checkpoint taken on SIGTERM
    r = subprocess.run([KUBESPEC, "check", "--resume", str(directory), "--json"], capture_output=True, text=True)
    assert r.returncode == 2 and "give it again with --model" in r.stderr  # a checkpoint never names code to run
    r = subprocess.run([KUBESPEC, "check", "--resume", str(directory), "--model", f"{model}:mid", "--json"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["status"], doc["stats"]["distinct_states"], doc["stats"]["generated"], doc["stats"]["depth"]) == (
        "ok", 50_816, 402_306, 20)
    r = subprocess.run([KUBESPEC, "check", "--resume", str(tmp_path / "nowhere")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


# --- Worker processes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("factory", "args", "options"), [c for c in CLASSIC if c[2].get("strategy") != "dfs"])
def test_workers_give_the_result_of_one_worker(factory: Any, args: tuple[Any, ...], options: dict[str, Any]) -> None:
    one = check(factory(*args), storage="fingerprint", **options)
    two = check(factory(*args), workers=2, **options)
    _same(one, two)
    # Safety alone: by default the workers store Python's hash of each state; with liveness, fingerprints.
    storage = "fingerprint" if any(p.is_liveness for p in factory(*args).properties) else "hash"
    assert two.bounds.workers == 2 and two.bounds.storage == storage and "2 worker processes" in two.verdict()
    if storage == "hash":
        assert two.bounds.collision is not None and two.bounds.collision[1] is None
        assert "fingerprint storage by Python's hash" in two.verdict()
        exact = check(factory(*args), workers=2, storage="exact", **options)  # the sharded protocol, on demand
        _same(one, exact)
        assert exact.bounds.storage == "exact" and exact.bounds.collision is None


@pytest.mark.parametrize(("factory", "args", "options"), [c for c in CLASSIC if c[2].get("strategy") != "dfs"])
def test_sharded_workers_replaying_every_level_give_the_result_of_one_worker(
        factory: Any, args: tuple[Any, ...], options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The coordinator's sequential replay of a level (used when a violation, deadlock or bound may stop the
    search there) stores what the bulk path stores: forced on every level, the result is still one worker's."""
    import checker.sharded

    monkeypatch.setattr(checker.sharded, "ALWAYS_REPLAY", True)
    _same(check(factory(*args), **options), check(factory(*args), workers=3, storage="exact", **options))


class SafetyGraph(RandomGraph):
    """A random graph with safety properties only (an invariant and a witness): the sharded workers' case."""

    def __init__(self, graph: RandomGraph, bad: frozenset[int], witness: frozenset[int]) -> None:
        super().__init__(graph.edges, graph.init, frozenset(), frozenset(), bad, {}, graph.allowed)
        self.properties = [always("NotBad", lambda s: s.n not in bad),
                           sometimes("Seen", lambda s: s.n in witness)]


@settings(max_examples=40)
@given(random_graphs(), st.frozensets(st.integers(0, 6)), st.frozensets(st.integers(0, 6)), st.booleans(),
       st.sampled_from([None, 1, 3]), st.sampled_from([None, 1, 2]), st.sampled_from([2, 3]), st.booleans())
def test_sharded_workers_agree_with_one_worker_on_random_graphs(
        graph: RandomGraph, bad: frozenset[int], witness: frozenset[int], deadlock: bool, max_states: int | None,
        max_depth: int | None, workers: int, replay: bool) -> None:
    """Invariants (also beyond the constraint), witnesses, deadlock, state and depth bounds, in bulk or replayed."""
    import checker.sharded

    model = SafetyGraph(graph, bad, witness)
    options: dict[str, Any] = {"deadlock": deadlock, "max_states": max_states, "max_depth": max_depth}
    saved = checker.sharded.ALWAYS_REPLAY
    checker.sharded.ALWAYS_REPLAY = replay
    try:
        two = check(model, workers=workers, storage="exact", **options)
    finally:
        checker.sharded.ALWAYS_REPLAY = saved
    assert two.bounds.storage == "exact"
    _same(check(model, **options), two)
    assert two.properties == check(model, **options).properties


@settings(max_examples=40)
@given(random_graphs(), st.booleans(), st.sampled_from([None, 3]), st.sampled_from([None, 2]),
       st.sampled_from([2, 3]))
def test_workers_agree_with_one_worker_on_random_graphs(model: RandomGraph, deadlock: bool, max_states: int | None,
                                                         max_depth: int | None, workers: int) -> None:
    """Invariants (also beyond the constraint), deadlock, liveness, bounds: the same result with N workers."""
    options: dict[str, Any] = {"deadlock": deadlock, "max_states": max_states, "max_depth": max_depth}
    _same(check(model, storage="fingerprint", **options), check(model, workers=workers, **options))


@pytest.mark.parametrize(("factory", "args", "options"), [c for c in CLASSIC if c[2].get("strategy") != "dfs"])
def test_hashed_workers_replaying_every_level_give_the_result_of_one_worker(
        factory: Any, args: tuple[Any, ...], options: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The hash workers' coordinator walks a level in the sequential order when a violation, deadlock or bound may
    stop the search there; forced on every level, it stores what the bulk path stores."""
    import checker.hashed

    monkeypatch.setattr(checker.hashed, "ALWAYS_REPLAY", True)
    _same(check(factory(*args), **options), check(factory(*args), workers=3, **options))


@settings(max_examples=40)
@given(random_graphs(), st.frozensets(st.integers(0, 6)), st.frozensets(st.integers(0, 6)), st.booleans(),
       st.sampled_from([None, 1, 3]), st.sampled_from([None, 1, 2]), st.sampled_from([2, 3]), st.booleans())
def test_hashed_workers_agree_with_one_worker_on_random_graphs(
        graph: RandomGraph, bad: frozenset[int], witness: frozenset[int], deadlock: bool, max_states: int | None,
        max_depth: int | None, workers: int, replay: bool) -> None:
    """Invariants (also beyond the constraint), witnesses, deadlock, state and depth bounds, in bulk or walked."""
    import checker.hashed

    model = SafetyGraph(graph, bad, witness)
    options: dict[str, Any] = {"deadlock": deadlock, "max_states": max_states, "max_depth": max_depth}
    saved = checker.hashed.ALWAYS_REPLAY
    checker.hashed.ALWAYS_REPLAY = replay
    try:
        two = check(model, workers=workers, **options)
    finally:
        checker.hashed.ALWAYS_REPLAY = saved
    assert two.bounds.storage == "hash"
    one = check(model, **options)
    _same(one, two)
    assert two.properties == one.properties


class Diamond(Model):
    """0 -> 1 .. width, each of them -> 100 (which is bad) and -> its own 200 + i: at level 2 every worker holds
    some of 1 .. width, and all of them find 100 in one level (a tie)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.properties = [always("NotHundred", lambda s: s != 100)]

    def init_states(self) -> Iterator[int]:
        yield 0

    def successors(self, s: int) -> Iterator[tuple[str, int]]:
        if s == 0:
            yield from ((f"to{i}", i) for i in range(1, self.width + 1))
        elif s <= self.width:
            yield from ((f"own{s}", 200 + s), ("meet", 100))


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_hashed_workers_give_a_tie_to_the_lowest_worker(workers: int) -> None:
    """A state found by several workers in one level is the lowest worker's (its run comes first in index order):
    the trace and the counts are those of one worker (through state 1, the first expanded); the highest worker
    winning would print a trace through another state."""
    one = check(Diamond(6))
    assert one.violation is not None and [s.state for s in one.violation.trace] == [0, 1, 100]
    two = check(Diamond(6), workers=workers)
    assert two.bounds.storage == "hash"
    _same(one, two)
    fine = check(Diamond(6), deadlock=False, workers=workers)
    fine_one = check(Diamond(6), deadlock=False)
    assert fine.stats.distinct_states == fine_one.stats.distinct_states


def test_hashed_workers_tell_classes_apart() -> None:
    """Two classes with equal field tuples are two states (each class's hash is salted), as in exact storage."""

    @attrs.frozen
    class A:
        n: int

    @attrs.frozen
    class B:
        n: int

    class Mixed(Model):
        properties = ()

        def init_states(self) -> Iterator[Any]:
            yield A(0)

        def successors(self, s: Any) -> Iterator[tuple[str, Any]]:
            if s.n < 30:
                yield "a", A(s.n + 1)
                yield "b", B(s.n + 1)

    one, two = check(Mixed(), deadlock=False), check(Mixed(), deadlock=False, workers=2)
    _same(one, two)
    assert one.stats.distinct_states == 61


def test_workers_answer_a_negated_premise_from_its_goal_with_the_result_of_one_worker() -> None:
    """A premise declared as its goal's negation (`checker.negation`) is answered from the goal by the workers too:
    the same verdicts, vacuity and lasso as one worker, and as the same property written with plain functions
    (without fairness the dial may stop before 0: a lasso)."""
    from checker import leads_to_always, negation

    class Dial(Model):
        def __init__(self, declared: bool, fair: bool) -> None:
            def zero(x: int) -> bool:
                return x == 0

            def nine(x: int) -> bool:
                return x == 9

            self.properties = [
                leads_to_always("NotZeroThenZero", negation(zero) if declared else (lambda x: x != 0), zero),
                leads_to("NineThenNot", nine, negation(nine) if declared else (lambda x: x != 9)),
            ]
            self.fairness = [weak("turn", lambda a: a == "turn")] if fair else []

        def init_states(self) -> Iterator[int]:
            yield 1

        def successors(self, x: int) -> Iterator[tuple[str, int]]:
            yield ("rest", 0) if x == 0 else ("turn", (x + 1) % 3)  # 1 -> 2 -> 0, where it rests

    for fair in (True, False):
        plain = check(Dial(False, fair))
        for result in (check(Dial(True, fair)), check(Dial(True, fair), workers=2)):
            _same(plain, result)
            assert result.properties == plain.properties
        assert plain.status_of("NineThenNot") == "vacuous"
        assert plain.status_of("NotZeroThenZero") == ("holds" if fair else "violated")


def test_hash_storage_is_refused_where_a_hash_does_not_travel() -> None:
    from checker.errors import InputError

    for options in ({"workers": 1}, {"workers": 2, "checkpoint": "/nonexistent"}):
        with pytest.raises(InputError, match="forked worker processes"):
            check(TwoPhase(3), storage="hash", **options)


def test_hashed_workers_on_a_kubernetes_scenario() -> None:
    """Issue 14: the Kubernetes model's safety properties with 2 workers storing hashes: the counts, the verdict and
    the trace of one worker, with and without a historical bug (`no-expectations`)."""
    from spec.model import ClusterModel
    from spec.scenario import builtin, with_overrides

    scenario = builtin("replicaset-one-node")
    safety = tuple(p.name for p in ClusterModel(scenario.config).properties if not p.is_liveness)
    fine = attrs.evolve(scenario.config, properties=safety)
    buggy = attrs.evolve(with_overrides(scenario, variants=("no-expectations",)).config, properties=safety)
    for config in (fine, buggy):
        one, two = check(ClusterModel(config)), check(ClusterModel(config), workers=2)
        assert two.bounds.storage == "hash"
        _same(one, two)
    assert one.violation is not None and one.violation.property == "ReplicaSetNeverOvershoots"


class LiveTwoPhase(TwoPhase):
    """TwoPhase with a liveness property, so that its workers keep the merged graph (`checker.parallel`)."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.properties = (*self.properties, eventually("Decided", lambda s: s.tm_state != "init"))


def test_workers_rebalance_and_agree_on_a_wide_space(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three workers keeping the merged graph on TwoPhase(5): many ties between runs, so the runs are rebalanced."""
    import checker.parallel

    calls: list[int] = []
    original = checker.parallel._rebalance

    def counting(pool: Any, indices: list[list[int]]) -> None:
        before = [len(run) for run in indices]
        original(pool, indices)
        calls.append(int(before != [len(run) for run in indices]))

    monkeypatch.setattr(checker.parallel, "_rebalance", counting)
    _same(check(LiveTwoPhase(5), storage="fingerprint"), check(LiveTwoPhase(5), workers=3))
    assert sum(calls) > 0


def test_workers_refuse_what_they_cannot_do(tmp_path: Path) -> None:
    from checker.errors import InputError

    with pytest.raises(InputError, match="breadth-first"):
        check(TwoPhase(3), workers=2, strategy="dfs")
    r = subprocess.run([KUBESPEC, "check", "--model", "checker.examples.twophase:TwoPhase", "--workers", "auto",
                        "--json"], capture_output=True, text=True)
    assert r.returncode == 0 and json.loads(r.stdout)["stats"]["distinct_states"] == 288, r.stderr
    r = subprocess.run([KUBESPEC, "check", "--workers", "two"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: --workers")


def test_workers_cut_among_the_initial_states() -> None:
    """max states reached among the initial states: the ones stored wait in the queue, with workers too."""
    graph = RandomGraph(frozenset({(0, "a", 1)}), frozenset({0, 1, 2}), frozenset(), frozenset(), frozenset(), {})
    for model in (graph, SafetyGraph(graph, frozenset(), frozenset())):  # the merged graph's protocol, sharded
        one, two = check(model, max_states=2), check(model, max_states=2, workers=2)
        _same(one, two)
        assert one.stats.queue == 2


def test_the_live_line_counts_the_workers_memory_and_the_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """Issue 14: the live line shows the memory of every process of the search and the disk it uses."""
    import re

    from checker.report import live_line
    from checker.storage import resident_bytes

    lines: list[str] = []
    own: list[int] = []

    def progress(*args: Any) -> None:
        lines.append(live_line(*args))
        own.append(resident_bytes())

    check(TwoPhase(5), workers=2, progress=progress)
    shown = [int(m.group(1).replace(",", "")) for m in (re.search(r"memory ([\d,]+) MiB", line) for line in lines)
             if m is not None]
    assert shown and len(shown) == len(own)
    # Each forked worker is resident at least as much as the coordinator was when it forked them.
    assert all(mib * 2**20 >= 2 * o for mib, o in zip(shown, own, strict=True))
    monkeypatch.setattr(checker.search, "PROGRESS_EVERY", 64)
    check(TwoPhase(4), checkpoint=str(tmp_path / "ck"), checkpoint_every=1e-9)
    size = (tmp_path / "ck" / "checkpoint.pickle").stat().st_size
    assert f"disk {size / 2**20:,.0f} MiB" in live_line(1, 1, 1, 0, 1.0)


def test_sigterm_stops_workers_with_the_partial_result(tmp_path: Path) -> None:
    """SIGTERM is Ctrl-C with --workers too: the result at the last complete level, "interrupted", exit 143."""
    model = tmp_path / "big.py"
    model.write_text("from checker.examples.twophase import TwoPhase\n\ndef big():\n    return TwoPhase(9)\n")
    proc = subprocess.Popen([KUBESPEC, "check", "--model", f"{model}:big", "--workers", "2", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    from checker.storage import children

    deadline = time.monotonic() + 120
    while not children(proc.pid) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # until the workers are forked: the search is under way
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    doc = json.loads(out)
    assert doc["status"] == "interrupted" and 0 < doc["stats"]["distinct_states"] < 10_000_000
    assert doc["stats"]["queue"] > 0 and "Traceback" not in err


class HiddenStep(Model):
    """Two states in a cycle; the step "b" (weakly fair) is left out by a reduction and declared by hidden_fairness."""

    def __init__(self, declare: bool) -> None:
        self.declare = declare
        self.properties = [eventually("Goal", lambda s: s == 2)]
        self.fairness = [weak("Fb", lambda a: a == "b")]

    def init_states(self) -> Iterator[int]:
        return iter([0])

    def successors(self, s: int) -> Iterator[tuple[str, int]]:
        return iter([("x", 1 - s)])

    def hidden_fairness(self, state: Any) -> Iterator[str]:
        return iter(["Fb"] if self.declare else [])


def test_workers_count_hidden_fairness_on_the_merged_graph() -> None:
    """The cycle is unfair when "b" is enabled all along it (declared hidden): no counterexample, with one worker
    or two; undeclared, the cycle is a fair lasso."""
    for declare, status in ((True, "ok"), (False, "violation")):
        one, two = check(HiddenStep(declare)), check(HiddenStep(declare), workers=2)
        assert one.status == status
        _same(one, two)


def test_a_model_error_in_a_worker_is_one_line() -> None:
    from checker.errors import ModelError

    class Broken(Model):
        def init_states(self) -> Iterator[int]:
            return iter([0])

        def successors(self, s: int) -> Iterator[tuple[str, int]]:
            if s == 3:
                raise RuntimeError("boom")
            yield "inc", s + 1

    with pytest.raises(ModelError, match="boom"):
        check(Broken(), workers=2)




@attrs.frozen
class Holder:
    inf: Any
    note: str = attrs.field(default="", eq=False)


def test_fingerprints_are_structural_under_a_class_with_its_own_equality() -> None:
    """A memo by value must not hand one value the fingerprint of another that is only equal by a class's rule."""
    fp = Fingerprinter()
    a = (Holder(_Rec(1, frozenset({"a"}))), "x")
    b = (Holder(_Rec(1, frozenset({"b"}))), "x")
    assert a == b  # by the class's rule
    assert fp(a) != fp(b)
    assert fp(a) == Fingerprinter()(a) and fp(b) == Fingerprinter()(b)
    # A field with eq=False is no part of an attrs value: equal values, one fingerprint.
    assert fp(Holder(1, "one")) == fp(Holder(1, "two"))


@attrs.frozen(eq=False)
class _Rec:
    rv: int
    cache: frozenset[str]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rec) and other.rv == self.rv

    def __hash__(self) -> int:
        return hash(self.rv)


# --- Bitstate hashing and the memory bound ------------------------------------------------------------------------


def test_bitstate_never_says_holds_and_estimates_its_coverage() -> None:
    roomy = check(TwoPhase(5), bitstate=1)
    assert roomy.status == "bounded" and roomy.cut is not None and "estimated coverage" in roomy.cut
    assert roomy.stats.distinct_states == 8832  # a roomy bit array loses nothing here
    assert all(p.status != "holds" for p in roomy.properties)
    # A violation is still a violation, with its shortest trace rebuilt by re-execution.
    found = check(DieHard(), bitstate=1)
    assert found.status == "violation" and len(found.violation.trace) == 7  # type: ignore[union-attr]
    # Liveness needs the graph: not checked, and said so.
    live = check(Semaphore(2, "weak"), bitstate=1)
    assert live.status == "bounded" and any("bitstate" in w for w in live.warnings)


def test_a_crowded_bit_array_misses_states_and_says_so() -> None:
    from checker.search import explore
    from checker.storage import BitState

    out = explore(TwoPhase(5), strategy="bfs", max_states=None, max_depth=None, deadlock=False, with_edges=False,
                  storage="bitstate", bitstate_bytes=512)
    bits = out.graph.fp_set
    assert isinstance(bits, BitState)
    assert len(out.graph) < 8832 and bits.coverage() < 0.999
    assert bits.expected_omissions > 0


def test_max_memory_stops_cleanly_with_a_partial_result() -> None:
    from checker.storage import resident_bytes

    now = resident_bytes() // 2**20  # already in use: the first look stops the search (freed memory is reused)
    result = check(TwoPhase(6), max_memory=max(1, now - 1))
    assert result.status == "bounded" and result.cut is not None and result.cut.startswith("max memory")
    assert 0 < result.stats.distinct_states < 50_816
    with pytest.raises(Exception, match="at least 1"):
        check(TwoPhase(3), bitstate=0)


# --- Ray ----------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_ray_backend_gives_the_result_of_one_worker_on_a_local_cluster(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Actors on a Ray cluster started on this machine: the same counts, verdicts and traces as one worker."""
    ray = pytest.importorskip("ray")
    import checker.sharded

    try:
        for factory, args in ((TwoPhase, (4,)), (DieHard, ()), (Semaphore, (2, "weak"))):
            on_ray = check(factory(*args), workers=2, ray="auto")
            _same(check(factory(*args), storage="fingerprint"), on_ray)
            # Safety alone: the actors own shards (by stable fingerprint), stored exactly; with liveness, the
            # coordinator keeps the merged graph.
            liveness = any(p.is_liveness for p in factory(*args).properties)
            assert on_ray.bounds.storage == ("fingerprint" if liveness else "exact")
        # The sharded coordinator's replay (a violation, a deadlock, a bound stop a level there), on every level.
        monkeypatch.setattr(checker.sharded, "ALWAYS_REPLAY", True)
        for factory, args, options in ((TwoPhase, (3,), {"max_states": 100}), (DieHard, (), {}),
                                       (TwoPhase, (3,), {"max_depth": 5})):
            _same(check(factory(*args), **options), check(factory(*args), workers=3, ray="auto", **options))
        monkeypatch.undo()
        # Checkpoints: actors stopped between two levels, resumed by three actors.
        stopped = check(TwoPhase(5), workers=2, ray="auto", checkpoint=str(tmp_path / "ck"), stop=_stop_after(6))
        assert stopped.status == "interrupted" and 0 < stopped.stats.distinct_states < 8832
        _same(check(TwoPhase(5)), check(TwoPhase(5), workers=3, ray="auto", resume=str(tmp_path / "ck")))
        # A model loaded from a file travels by value (the actors cannot import it by name).
        model = tmp_path / "mid.py"
        model.write_text("from checker.examples.twophase import TwoPhase\n\ndef mid():\n    return TwoPhase(5)\n")
        r = subprocess.run([KUBESPEC, "check", "--model", f"{model}:mid", "--workers", "2", "--ray", "auto",
                            "--json"], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["stats"]["distinct_states"] == 8832
    finally:
        ray.shutdown()


def _alive_in_group(pgid: int) -> list[str]:
    """The processes of group `pgid` that are still running (zombies, waiting to be reaped, are not), by name."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            line = stat.read_text()
        except OSError:
            continue
        fields = line[line.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            alive.append(line[line.find("(") + 1:line.rfind(")")])
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table in /proc")
def test_ray_auto_leaves_no_process_of_the_cluster_it_started(tmp_path: Path) -> None:
    """`--ray auto` with no cluster on the machine starts a local one; at exit the command stops it: nothing of it
    (GCS server, raylet, dashboard and runtime-env agents) is left running in the command's process group. The
    command ends with os._exit, which skips Ray's own atexit handler: the agents used to outlive it."""
    pytest.importorskip("ray")
    from ray._private.services import find_gcs_addresses

    if find_gcs_addresses():
        pytest.skip("a Ray cluster runs on this machine: --ray auto would join it, not start one")
    proc = _group(["--workers", "2", "--ray", "auto", "--json"], tmp_path, 4)
    try:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert json.loads(out)["stats"]["distinct_states"] == 1568
        deadline = time.monotonic() + 20  # what was told to stop may take a moment to exit
        while _alive_in_group(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _alive_in_group(proc.pid) == []
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # this test's own group: what a failure left


# --- Robustness: hang-up, kill -9 ---------------------------------------------------------------------------------


def _group(args: list[str], tmp_path: Path, n: int = 10) -> subprocess.Popen[str]:
    """`kubespec check` of TwoPhase(n) in a process group of its own (as a terminal's job is)."""
    model = tmp_path / "big.py"
    model.write_text(f"from checker.examples.twophase import TwoPhase\n\ndef big():\n    return TwoPhase({n})\n")
    return subprocess.Popen([KUBESPEC, "check", "--model", f"{model}:big", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _exchange_of(pid: int) -> list[Path]:
    from checker.sharded import PREFIX, exchange_root

    return sorted(Path(exchange_root()).glob(f"{PREFIX}{pid}-*"))


def _until(condition: Any, proc: subprocess.Popen[str], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert condition(), proc.poll()


def test_sighup_to_the_group_stops_workers_with_the_partial_result(tmp_path: Path) -> None:
    """A hang-up (the terminal closed: SIGHUP to the whole process group, workers included) is Ctrl-C: the
    partial result, status "interrupted", exit 129, and the exchange directory removed."""
    proc = _group(["--workers", "2", "--storage", "exact", "--json"], tmp_path, 9)
    _until(lambda: bool(_exchange_of(proc.pid)), proc)
    time.sleep(1)
    os.killpg(proc.pid, signal.SIGHUP)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 129, err
    doc = json.loads(out)
    assert doc["status"] == "interrupted" and 0 < doc["stats"]["distinct_states"] < 10_000_000, doc
    assert "Traceback" not in err and not _exchange_of(proc.pid)


def test_sighup_stops_one_worker_with_the_partial_result(tmp_path: Path) -> None:
    proc = _group([], tmp_path)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("Checking model")
    time.sleep(1.5)
    os.killpg(proc.pid, signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 129, err
    assert "interrupted: no violation in" in out and "Traceback" not in err


def test_a_run_killed_with_sigkill_leaves_nothing_once_another_starts(tmp_path: Path) -> None:
    """kill -9 of a `--workers 2` run's whole group leaves its exchange directory behind (nothing runs to remove
    it); the next run with workers sweeps it (its coordinator is gone), and leaves a live run's alone."""
    proc = _group(["--workers", "2", "--storage", "exact"], tmp_path)
    _until(lambda: bool(_exchange_of(proc.pid)), proc)
    time.sleep(0.5)
    left = _exchange_of(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert all(p.is_dir() for p in left)  # the dead run's
    live = _group(["--workers", "2", "--storage", "exact"], tmp_path)
    try:
        _until(lambda: bool(_exchange_of(live.pid)), live)
        assert check(TwoPhase(3), workers=2, storage="exact").stats.distinct_states == 288
        assert not any(p.exists() for p in left)
        assert _exchange_of(live.pid)  # a live run's directory is its own
    finally:
        os.killpg(live.pid, signal.SIGKILL)
        live.communicate(timeout=60)
    from checker.sharded import exchange_root, sweep

    mine = _exchange_of(live.pid)
    assert mine and set(mine) <= {Path(p) for p in sweep(exchange_root())} and not _exchange_of(live.pid)


def test_workers_of_a_coordinator_killed_with_sigkill_exit_and_clean_up(tmp_path: Path) -> None:
    """kill -9 of the coordinator alone: its workers read the end of their pipes, exit and remove the exchange
    directory."""
    from checker.storage import children

    proc = _group(["--workers", "2", "--storage", "exact"], tmp_path)
    _until(lambda: bool(_exchange_of(proc.pid)), proc)
    time.sleep(0.5)
    workers = children(proc.pid)
    assert len(workers) == 2
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 120  # a worker in the middle of a level finishes it first
    while (_exchange_of(proc.pid) or any(_alive(w) for w in workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _exchange_of(proc.pid) and not any(_alive(w) for w in workers)


def test_hash_workers_of_a_coordinator_killed_with_sigkill_exit(tmp_path: Path) -> None:
    """kill -9 of the coordinator of the default protocol's workers (which keep no exchange directory): they read
    the end of their pipes and exit."""
    from checker.storage import children

    proc = _group(["--workers", "2"], tmp_path)
    _until(lambda: len(children(proc.pid)) == 2, proc)
    time.sleep(1)
    workers = children(proc.pid)
    proc.kill()
    proc.communicate(timeout=60)
    deadline = time.monotonic() + 120  # a worker in the middle of a level finishes it first
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers) and not _exchange_of(proc.pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# --- Checkpoints with workers -------------------------------------------------------------------------------------


class SafeDeep(Deep):
    """Deep with its invariant only: the sharded workers' case."""

    def __init__(self, bad: tuple[int, int] | None) -> None:
        super().__init__(bad=bad)
        self.properties = self.properties[:-1]


@pytest.mark.parametrize("bad", [(50, 45), None])
def test_workers_checkpoint_between_levels_and_resume_with_any_number_of_workers(tmp_path: Path,
                                                                                 bad: Any) -> None:
    """Sharded workers write a checkpoint when stopped (between two levels); it is resumed by 3 workers (other
    owners), stopped again, and finished by one worker: the result of a search never stopped."""
    fresh = check(SafeDeep(bad))
    directory = str(tmp_path / "ck")
    stopped = check(SafeDeep(bad), workers=2, checkpoint=directory, stop=_stop_after(30))
    assert stopped.status == "interrupted" and 0 < stopped.stats.distinct_states < fresh.stats.distinct_states
    about = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert (about["distinct_states"], about["queue"]) == (stopped.stats.distinct_states, stopped.stats.queue)
    again = check(SafeDeep(bad), workers=3, resume=directory, checkpoint=directory, stop=_stop_after(20))
    assert again.status == "interrupted" and again.stats.distinct_states > stopped.stats.distinct_states
    _same(fresh, check(SafeDeep(bad), resume=directory))  # one worker finishes
    _same(fresh, check(SafeDeep(bad), workers=2, resume=directory))  # or two


def test_workers_write_periodic_checkpoints_that_one_worker_resumes(tmp_path: Path) -> None:
    directory = tmp_path / "ck"
    fresh = check(TwoPhase(4), workers=2, checkpoint=str(directory), checkpoint_every=1e-9)
    about = json.loads((directory / "checkpoint.json").read_text())
    assert about["options"]["storage"] == "exact" and 0 < about["distinct_states"] <= fresh.stats.distinct_states
    _same(fresh, check(TwoPhase(4), resume=str(directory)))


@pytest.mark.parametrize("bad", [(50, 45), None])
def test_workers_with_liveness_checkpoint_between_levels_and_resume_with_any_number_of_workers(
        tmp_path: Path, bad: Any) -> None:
    """With liveness properties (the coordinator keeps the merged graph: `checker.parallel`), workers write a
    checkpoint when stopped between two levels, in one worker's format with fingerprint storage; 3 workers resume it
    and are stopped again; one worker or two finish: the result of a search never stopped, liveness included."""
    fresh = check(Deep(bad=bad), storage="fingerprint")
    directory = str(tmp_path / "ck")
    stopped = check(Deep(bad=bad), workers=2, checkpoint=directory, stop=_stop_after(30))
    assert stopped.status == "interrupted" and 0 < stopped.stats.distinct_states < fresh.stats.distinct_states
    about = json.loads((tmp_path / "ck" / "checkpoint.json").read_text())
    assert (about["distinct_states"], about["queue"]) == (stopped.stats.distinct_states, stopped.stats.queue)
    assert about["options"]["storage"] == "fingerprint"
    again = check(Deep(bad=bad), workers=3, resume=directory, checkpoint=directory, stop=_stop_after(20))
    assert again.status == "interrupted" and again.stats.distinct_states > stopped.stats.distinct_states
    _same(fresh, check(Deep(bad=bad), resume=directory))  # one worker finishes
    _same(fresh, check(Deep(bad=bad), workers=2, resume=directory))  # or two


@pytest.mark.parametrize("model", [Semaphore(2, "weak"), Semaphore(2, "strong"), EWD840(3)])
def test_workers_with_liveness_write_periodic_checkpoints_that_one_worker_resumes(tmp_path: Path,
                                                                                  model: Model) -> None:
    directory = tmp_path / "ck"
    fresh = check(model, workers=2, checkpoint=str(directory), checkpoint_every=1e-9)
    _same(check(model, storage="fingerprint"), fresh)
    about = json.loads((directory / "checkpoint.json").read_text())
    assert about["options"]["storage"] == "fingerprint" and 0 < about["distinct_states"] <= fresh.stats.distinct_states
    _same(fresh, check(model, resume=str(directory)))
    _same(fresh, check(model, workers=3, resume=str(directory)))


def test_workers_with_liveness_refuse_a_checkpoint_of_exact_storage(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from checker.errors import InputError

    monkeypatch.setattr(checker.search, "PROGRESS_EVERY", 64)
    directory = str(tmp_path / "ck")
    check(Deep(bad=None), checkpoint=directory, stop=_stop_after(5))
    with pytest.raises(InputError, match="stores states exactly: resume it with one worker"):
        check(Deep(bad=None), workers=2, resume=directory)


def test_workers_refuse_a_checkpoint_taken_in_the_middle_of_a_level(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from checker.errors import InputError

    monkeypatch.setattr(checker.search, "PROGRESS_EVERY", 64)
    directory = str(tmp_path / "ck")
    check(SafeDeep(None), checkpoint=directory, stop=_stop_after(5))
    with pytest.raises(InputError, match="middle of a breadth-first level: resume it with one worker"):
        check(SafeDeep(None), workers=2, resume=directory)
    fp = str(tmp_path / "fp")
    check(SafeDeep(None), storage="fingerprint", checkpoint=fp, stop=_stop_after(5))
    with pytest.raises(InputError, match="fingerprint storage"):
        check(SafeDeep(None), workers=2, resume=fp)
