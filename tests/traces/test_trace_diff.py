"""traces/diff.py: what changed between two states, addressed as kubectl would."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from checker.itf import encode
from traces.diff import diff_states, headline
from traces.values import format_value


def lines(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [str(change) for change in diff_states(before, after)]


def test_view_changes_are_addressed_like_kubectl() -> None:
    before = {
        "pods/default/web-x": {"metadata": {"labels": {"app": "web"}}, "spec": {"nodeName": None}},
        "nodes/node-a": {"status": {"allocatable": {"cpu": "2"}}},
    }
    after = {
        "pods/default/web-x": {
            "metadata": {"labels": {"app": "web", "app.kubernetes.io/name": "web"}},
            "spec": {"nodeName": "node-a", "containers": [{"image": "nginx"}]},
        },
        "pods/default/web-y": {"spec": {}},
    }
    assert lines(before, after) == [
        '+ pods/default/web-x .metadata.labels["app.kubernetes.io/name"]: "web"',
        '~ pods/default/web-x .spec.nodeName: null -> "node-a"',
        '+ pods/default/web-x .spec.containers: [{image: "nginx"}]',
        "+ pods/default/web-y: {spec: {}}",
        '- nodes/node-a (was {status: {allocatable: {cpu: "2"}}})',
    ]


def test_list_elements_are_indexed() -> None:
    before = {"pods/default/a": {"spec": {"containers": [{"image": "a:1"}, {"image": "b:1"}]}}}
    after = {"pods/default/a": {"spec": {"containers": [{"image": "a:2"}]}}}
    assert lines(before, after) == [
        '~ pods/default/a .spec.containers[0].image: "a:1" -> "a:2"',
        '- pods/default/a .spec.containers[1] (was {image: "b:1"})',
    ]


def test_raw_itf_states_diff_sets_maps_and_tuples() -> None:
    before = {
        "running": encode(frozenset({("node-a", "web")})),
        "cache": encode({"default/web": None}),
        "clock": encode((1, 2)),
        "big": 0,
    }
    after = {
        "running": encode(frozenset({("node-b", "web")})),
        "cache": encode({"default/web": "node-a", "default/db": "node-b"}),
        "clock": encode((1, 3)),
        "big": {"#bigint": "9007199254740993"},
    }
    assert lines(before, after) == [
        '+ running += ("node-b", "web")',
        '- running -= ("node-a", "web")',
        '+ cache ["default/db"]: "node-b"',
        '~ cache ["default/web"]: null -> "node-a"',
        "~ clock [1]: 2 -> 3",
        "~ big: 0 -> 9007199254740993",
    ]


def test_headline_skips_bookkeeping() -> None:
    before = {"pods/default/a": {"metadata": {"resourceVersion": "3"}, "spec": {"nodeName": None}}}
    after = {"pods/default/a": {"metadata": {"resourceVersion": "4"}, "spec": {"nodeName": "node-a"}}}
    assert headline(diff_states(before, after)) == 'pods/default/a .spec.nodeName: null -> "node-a"'
    assert headline(diff_states({}, after)) == "creates pods/default/a"
    assert headline(diff_states(before, before)) == ""


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(min_size=1, max_size=3), inner, max_size=3),
    max_leaves=12,
)
views = st.dictionaries(st.sampled_from(["pods/default/a", "nodes/n", "scheduler"]), json_values, max_size=3)


@given(views, views)
def test_no_change_exactly_when_the_states_are_equal(before: dict[str, Any], after: dict[str, Any]) -> None:
    assert (diff_states(before, after) == []) == (before == after)
    assert diff_states(after, after) == []


@given(st.frozensets(st.integers(), max_size=6), st.frozensets(st.integers(), max_size=6))
def test_set_changes_are_the_symmetric_difference(before: frozenset[int], after: frozenset[int]) -> None:
    changes = diff_states({"s": encode(before)}, {"s": encode(after)})
    assert sorted(format_value(c.after) for c in changes if c.kind == "added") == sorted(map(str, after - before))
    assert sorted(format_value(c.before) for c in changes if c.kind == "removed") == sorted(map(str, before - after))


def test_values_print_compactly() -> None:
    assert format_value(encode((1, "a"))) == '(1, "a")'
    assert format_value(encode((1,))) == "(1,)"
    assert format_value(encode(frozenset({2, 1}))) == "{1, 2}"
    assert format_value(encode({"k": None})) == "{k: null}"
    assert format_value({"tag": "Some", "value": 3}) == "Some(3)"
    assert format_value({"#unserializable": "<fn>"}) == "<fn>"
