"""checker/itf.py: the ITF encoding, trace documents, and reading/validating trace files."""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import attrs
import immutables
import pytest
from hypothesis import given
from hypothesis import strategies as st
from toy_cluster import ToyCluster

from checker import check
from checker.errors import InputError
from checker.examples.diehard import DieHard
from checker.itf import FORMAT, FORMAT_VERSION, encode, encode_action, read_trace, trace_document, write_trace

ROOT = Path(__file__).resolve().parents[2]


class Colour(enum.Enum):
    RED = 1
    GREEN = 2


@attrs.frozen
class Inner:
    name: str
    tags: frozenset[str]


@attrs.frozen
class Outer:
    inner: Inner
    pair: tuple[int, str]
    items: list[int]
    table: immutables.Map
    colour: Colour
    maybe: int | None


def is_itf_value(value: Any) -> bool:
    """The ITF expression grammar of ADR-015 (plus Quint's variants and #unserializable)."""
    if isinstance(value, bool | str):
        return True
    if isinstance(value, int):
        return -(2**53) + 1 <= value <= 2**53 - 1
    if isinstance(value, list):
        return all(is_itf_value(item) for item in value)
    if not isinstance(value, dict):
        return False
    if set(value) == {"#bigint"}:
        return isinstance(value["#bigint"], str) and value["#bigint"].lstrip("-").isdigit()
    if set(value) in ({"#tup"}, {"#set"}):
        return all(is_itf_value(item) for item in next(iter(value.values())))
    if set(value) == {"#map"}:
        return all(len(pair) == 2 and is_itf_value(pair[0]) and is_itf_value(pair[1]) for pair in value["#map"])
    if set(value) == {"#unserializable"}:
        return isinstance(value["#unserializable"], str)
    return all(not key.startswith("#") and is_itf_value(item) for key, item in value.items())


def test_encode_covers_every_python_shape() -> None:
    value = Outer(
        inner=Inner("web", frozenset({"b", "a"})),
        pair=(1, "x"),
        items=[3, 1],
        table=immutables.Map({"z": 1, "a": 2}),
        colour=Colour.GREEN,
        maybe=None,
    )
    assert encode(value) == {
        "inner": {"name": "web", "tags": {"#set": ["a", "b"]}},
        "pair": {"#tup": [1, "x"]},
        "items": [3, 1],
        "table": {"#map": [["a", 2], ["z", 1]]},
        "colour": "GREEN",
        "maybe": {"tag": "None", "value": {"#tup": []}},
    }
    assert encode(2**60) == {"#bigint": str(2**60)}
    assert encode(-(2**53)) == {"#bigint": str(-(2**53))}
    assert encode(2**53 - 1) == 2**53 - 1
    assert encode(True) is True
    assert encode({1: "a"}) == {"#map": [[1, "a"]]}
    assert encode(1.5) == {"#unserializable": "1.5"}
    assert is_itf_value(encode(value))


def test_actions_are_tagged_with_their_class() -> None:
    @attrs.frozen
    class Bind:
        actor: str
        node: str

    @attrs.frozen
    class Unbind:
        actor: str
        node: str

    assert encode_action(Bind("scheduler", "a")) == {"tag": "Bind", "value": {"actor": "scheduler", "node": "a"}}
    assert encode_action(Bind("s", "a")) != encode_action(Unbind("s", "a"))
    assert encode_action(("a1", "2")) == {"#tup": ["a1", "2"]}
    assert encode_action(None) is None


json_keys = st.text(min_size=1, max_size=4)
leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=5)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4).map(tuple)
        | st.frozensets(st.integers() | st.text(max_size=4), max_size=4)
        | st.dictionaries(json_keys, inner, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_encoding_is_valid_itf_and_json(value: Any) -> None:
    encoded = encode(value)
    assert is_itf_value(encoded)
    assert json.loads(json.dumps(encoded)) == encoded


@given(st.lists(st.text(max_size=6) | st.integers(), max_size=8))
def test_sets_and_maps_encode_independently_of_insertion_order(items: list[Any]) -> None:
    assert encode(frozenset(items)) == encode(frozenset(reversed(items)))
    forward = {item: 1 for item in items}
    backward = {item: 1 for item in reversed(items)}
    assert encode(forward) == encode(backward)
    assert encode(immutables.Map(forward)) == encode(backward)


def test_encoding_does_not_depend_on_the_hash_seed() -> None:
    program = (
        "import json; from checker.itf import encode; "
        "print(json.dumps(encode({'s': frozenset(f'pod-{i}' for i in range(30)), "
        "'m': {f'k{i}': i for i in range(9)}})))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", program],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
        for seed in ("0", "1", "4242")
    }
    assert len(outputs) == 1


def diehard_document() -> dict:
    model = DieHard()
    result = check(model)
    return trace_document(result, model, {"loader": "python", "target": "checker.examples.diehard:DieHard"}, {})


def test_safety_trace_document() -> None:
    document = diehard_document()
    meta = document["#meta"]
    assert meta["format"] == FORMAT and meta["format-version"] == FORMAT_VERSION
    assert meta["property"] == "NotSolved" and meta["kind"] == "always"
    assert meta["source"] == {"loader": "python", "target": "checker.examples.diehard:DieHard"}
    assert meta["stats"]["distinct_states"] > 0
    assert "\n" not in meta["description"]
    assert document["vars"] == ["big", "small"]
    assert "loop" not in document
    states = document["states"]
    assert len(states) == 7  # the puzzle's shortest solution: 6 steps
    assert states[0]["#meta"]["action"] is None and states[0]["#meta"]["description"] == "initial state"
    assert [s["#meta"]["index"] for s in states] == list(range(7))
    assert states[-1]["big"] == 4
    assert all(is_itf_value({k: v for k, v in s.items() if k != "#meta"}) for s in states)


def test_liveness_trace_document_has_the_loop_and_views() -> None:
    model = ToyCluster(fixed=True)
    result = check(model, deadlock=False)
    assert result.violation is not None and result.violation.property == "PodRunning"
    document = trace_document(result, model, None, {"deadlock": False})
    assert document["loop"] == result.violation.loop_start
    assert document["#meta"]["source"] is None
    last = document["states"][-1]["#meta"]
    assert last["actor"].startswith("kubelet") or last["actor"] == "scheduler"
    assert "pods/default/web-1" in last["view"]
    assert document["states"][1]["#meta"]["action"] == {
        "tag": "CreatePod",
        "value": {"actor": "kubectl", "name": "web-1"},
    }


def test_write_and_read_round_trip(tmp_path: Path) -> None:
    document = diehard_document()
    path = tmp_path / "sub" / "t.itf.json"
    write_trace(path, document)
    assert read_trace(path) == document
    assert not [p for p in path.parent.iterdir() if p.name != path.name]  # no temporary file left behind


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "invalid JSON at line 1"),
        ("[1, 2]", "the top level is not a JSON object"),
        ('{"states": []}', "'vars' is missing"),
        ('{"vars": ["x"], "states": []}', "'states' is empty"),
        ('{"vars": ["x"], "states": [{"y": 1}]}', "states[0] lacks variable(s) x"),
        ('{"vars": ["x"], "states": [{"x": 1}], "loop": 3}', "'loop' must be a state index below 1"),
        ('{"#meta": {"format": "kubespec-trace", "format-version": 99}, "vars": [], "states": [{}]}', "upgrade"),
    ],
)
def test_bad_files_are_one_line_input_errors(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError) as raised:
        read_trace(path)
    message = str(raised.value)
    assert problem in message and str(path) in message and "\n" not in message


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the trace file"):
        read_trace(tmp_path / "absent.json")


def test_plain_itf_traces_from_other_tools_are_read() -> None:
    fixture = {
        "#meta": {"format": "ITF", "source": "SumTypes.qnt"},
        "vars": ["value"],
        "states": [
            {"#meta": {"index": 0}, "value": {"tag": "None", "value": {}}},
            {"#meta": {"index": 1}, "value": {"tag": "Some", "value": {"#bigint": "40"}}},
        ],
    }
    from checker.itf import validate

    assert validate(fixture) is fixture
