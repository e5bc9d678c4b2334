"""Every kind of trace file kubespec writes, read with itf-py (the ITF library of the Quint/Apalache ecosystem,
PyPI's ``itf-py``), its states and types checked as ITF (Apalache ADR-015) defines them: integers as numbers or
``#bigint`` (itf-py gives Python ints), ``#set`` (frozenset), ``#map`` (a mapping), ``#tup`` (tuple), records
(named tuples with the record's fields), lists; the loop index of a lasso; no states for a `sometimes` property
that nothing satisfies (issue 18).

A known limit of itf-py, not of the files: it builds a ``namedtuple`` named after a variant's tag, so Quint's
``{"tag": "None", ...}`` (how kubespec, like Quint, writes Python's None, since JSON null is no ITF value) raises
``ValueError`` (``None`` is a Python keyword). The Kubernetes model's states hold None (a Node's owner), so for its
traces the variables without None are read by itf-py and compared, and reading the whole file is a strict xfail
that will say when itf-py reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import immutables
import pytest
from click.testing import CliRunner

from checker import Model, always, eventually, sometimes, weak
from checker.cli import main
from checker.itf import encode, trace_document

itf_py = pytest.importorskip("itf_py", reason="itf-py is not installed (pip install -e '.[dev]')")

BIG = 2**60


@attrs.frozen
class Counter:
    """A state with every ITF type: a big integer, a set, a map, a tuple, a nested record."""

    n: int
    seen: frozenset[str]
    names: immutables.Map[str, tuple[int, str]]
    where: tuple[str, ...]


class Typed(Model):
    """n counts up from 2**60 to 2**60 + 3 and stops there (a deadlock); the properties pick the trace's kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        top = BIG + 3
        self.properties = {
            "always": [always("Small", lambda s: s.n < BIG + 2)],
            "eventually": [eventually("Never", lambda s: s.n < 0)],
            "sometimes": [sometimes("Negative", lambda s: s.n < 0)],
            "deadlock": [always("True", lambda s: True)],
        }[kind]
        self.fairness = [weak("Loop", lambda a: a == "loop")] if kind == "eventually" else []
        self.top = top

    def init_states(self) -> list[Counter]:
        return [Counter(BIG, frozenset(), immutables.Map(), ())]

    def successors(self, s: Counter) -> list[tuple[str, Counter]]:
        if s.n >= self.top:
            return [("loop", Counter(BIG, frozenset(), immutables.Map(), ()))] if self.kind == "eventually" else []
        k = s.n - BIG
        return [(f"inc{k}", Counter(s.n + 1, s.seen | {f"s{k}"}, s.names.set(f"k{k}", (k, "x")), (*s.where, "a")))]


def _document(kind: str) -> dict[str, Any]:
    from checker import check

    model = Typed(kind)
    result = check(model, deadlock=kind == "deadlock")
    assert result.violation is not None
    # Through JSON text, as a file holds it.
    text = json.dumps(trace_document(result, model, None, {}))
    document: dict[str, Any] = json.loads(text)
    return document


def _expected(state: Counter) -> dict[str, Any]:
    return {"n": state.n, "seen": state.seen, "names": dict(state.names), "where": state.where}


@pytest.mark.parametrize("kind", ["always", "deadlock", "eventually", "sometimes"])
def test_itf_py_reads_every_kind_of_trace(kind: str) -> None:
    document = _document(kind)
    trace = itf_py.trace_from_json(document)
    assert trace.meta["format"] == "kubespec-trace" and trace.meta["kind"] == kind
    if kind == "sometimes":
        assert trace.states == [] and trace.vars == []  # no state satisfies it: no trace
        return
    assert trace.vars == ["n", "seen", "names", "where"]
    assert len(trace.states) == len(document["states"])
    for index, state in enumerate(trace.states):
        values = state.values
        k = values["n"] - BIG
        assert isinstance(values["n"], int) and values["n"] >= BIG  # beyond 2**53: a #bigint, read as int
        assert document["states"][index]["n"] == {"#bigint": str(values["n"])}
        assert isinstance(values["seen"], frozenset) and values["seen"] == frozenset(f"s{i}" for i in range(k))
        assert dict(values["names"]) == {f"k{i}": (i, "x") for i in range(k)}
        assert all(isinstance(v, tuple) for v in values["names"].values())
        assert values["where"] == ("a",) * k
        assert state.meta["index"] == index
    if kind == "eventually":
        assert trace.loop == document["loop"] and 0 <= trace.loop < len(trace.states)
    else:
        assert trace.loop is None


def test_small_integers_records_and_lists_as_itf_defines_them() -> None:
    @attrs.frozen
    class Rec:
        a: int
        b: tuple[Any, ...]

    value = itf_py.value_from_json(json.loads(json.dumps(encode(Rec(2**53 - 1, (1, [2, 3], frozenset({4})))))))
    assert value.a == 2**53 - 1 and value._fields == ("a", "b")
    assert value.b == (1, [2, 3], frozenset({4}))
    assert itf_py.value_from_json(encode(-(2**53))) == -(2**53)  # beyond the JSON-safe range: #bigint


@pytest.fixture(scope="module")
def scenario_trace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("itf") / "t.itf.json"
    result = CliRunner().invoke(main, ["check", "replicaset-one-node", "--variant", "no-expectations", "--trace",
                                       str(path)])
    assert result.exit_code == 1, result.output
    document: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return document


def _has_none(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get("tag") == "None":
            return True
        return any(_has_none(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_none(v) for v in value)
    return False


def test_a_scenario_trace_read_by_itf_py(scenario_trace: dict[str, Any]) -> None:
    from spec.model import ClusterModel
    from spec.scenario import builtin

    state0 = next(iter(ClusterModel(builtin("replicaset-one-node").config).init_states()))
    raw = scenario_trace["states"][0]
    readable = [name for name in scenario_trace["vars"] if not _has_none(raw[name])]
    assert "pending_commands" in readable and "budget" in readable
    for index, state in enumerate(scenario_trace["states"]):
        for name in readable:
            if _has_none(state[name]):
                continue
            value = itf_py.value_from_json(state[name])
            if name == "pending_commands":
                assert isinstance(value, frozenset)
            if name == "budget":
                assert value._fields == tuple(f.name for f in attrs.fields(type(state0.budget)))
                assert all(isinstance(getattr(value, f), int) for f in value._fields)
        assert state["#meta"]["index"] == index
    # The etcd record: its objects are a #map from keys to records, its history a #tup, the revision an int.
    etcd = raw["etcd"]
    assert set(etcd) == {f.name for f in attrs.fields(type(state0.etcd))}
    keys = [key for key, _ in etcd["objects"]["#map"]]
    assert keys == sorted(keys) and "replicasets/default/web" in keys
    assert isinstance(etcd["revision"], int) and "#tup" in etcd["history"]


@pytest.mark.xfail(strict=True, raises=ValueError, reason="itf-py names a namedtuple after a variant's tag, and "
                   "'None' (Quint's Option, kubespec's None) is a Python keyword")
def test_itf_py_reads_a_whole_scenario_trace(scenario_trace: dict[str, Any]) -> None:
    itf_py.trace_from_json(scenario_trace)


def test_files_written_by_the_command_line_are_itf(tmp_path: Path) -> None:
    """`kubespec check --trace` on a Python model: a lasso with a loop index, read whole by itf-py."""
    model = tmp_path / "typed.py"
    model.write_text(Path(__file__).read_text("utf-8").split("def _document")[0].replace(
        'itf_py = pytest.importorskip("itf_py", reason="itf-py is not installed (pip install -e \'.[dev]\')")', "")
        + "\ndef lasso():\n    return Typed('eventually')\n")
    path = tmp_path / "l.itf.json"
    result = CliRunner().invoke(main, ["check", "--model", f"{model}:lasso", "--trace", str(path)])
    assert result.exit_code == 1, result.output
    trace = itf_py.trace_from_json(json.loads(path.read_text("utf-8")))
    assert trace.loop is not None and trace.states[trace.loop].values["n"] == BIG
