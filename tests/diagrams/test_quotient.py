"""`kubespec graph --view`: the quotient of the checker's explored graph by a view (issue 18)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from click.testing import CliRunner

from checker.cli import main
from diagrams.quotient import fair_states, quotient, quotient_picture, step_kind
from spec.display import view_default, view_nodes, view_pods
from spec.model import ClusterModel
from spec.scenario import builtin

SVG = "{http://www.w3.org/2000/svg}"


def test_the_quotient_partitions_the_checkers_graph() -> None:
    model = ClusterModel(builtin("pod-two-nodes").config)
    q = quotient(model, view_default, "default")
    assert sum(q.sizes) == q.states == 19  # the checker's own count for pod-two-nodes
    assert len(set(q.labels)) == len(q.labels)
    assert len(q.initial) == 1
    steps = sum(sum(c.values()) for c in q.edges.values()) + sum(sum(c.values()) for c in q.inner)
    assert steps == q.steps
    # Grouped by kind: the scheduler's bind leads from the Pending class to a bound one.
    pending = next(c for c, label in enumerate(q.labels) if "pods: 1 Pending\n" in label + "\n")
    # (The kind is the action's declared step_kind, "bind", or its class name, Bind, for a model without kinds.)
    assert any(a == pending and {"Bind", "bind"} & set(kinds) for (a, _), kinds in q.edges.items())
    assert not q.violating and q.cut is None


def test_fair_cycles() -> None:
    # 0 -> 1 -> 0 with class bit 1 enabled in both and taken by 0 -> 1: fair. 2 <-> 3 with bit 2 enabled
    # everywhere and never taken: not fair under weak fairness; under strong fairness the same.
    succ = [[(1, 1)], [(0, 0)], [(3, 0)], [(2, 0)], []]
    enabled = [1, 1, 2, 2, 0]
    assert fair_states(succ, enabled, weak=3, strong=0) == {0, 1}
    assert fair_states(succ, enabled, weak=0, strong=3) == {0, 1}
    # Strong fairness refines: bit 2 enabled only in state 3; the cycle 2 -> 4 -> 2 avoids it.
    succ = [[], [], [(3, 0), (4, 0)], [(2, 0)], [(2, 0)]]
    enabled = [0, 0, 0, 2, 0]
    assert fair_states(succ, enabled, weak=0, strong=2) == {2, 4}
    assert fair_states(succ, enabled, weak=2, strong=0) == {2, 3, 4}


def test_graph_command_draws_the_default_view(tmp_path: Path) -> None:
    out = tmp_path / "g.svg"
    result = CliRunner().invoke(main, ["graph", "pod-two-nodes", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "classes of 19 states" in result.output and "(view default)" in result.output
    root = ET.parse(out).getroot()
    classes = [g for g in root.iter(f"{SVG}g") if (g.get("class") or "").split()[-1:] == ["class"]]
    assert len(classes) >= 4
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "state(s)" in text and ("Bind ×" in text or "bind ×" in text)
    width, height = (float(root.get(k, "0").removesuffix("pt")) for k in ("width", "height"))
    assert width < 3000 and height < 3000


def test_other_views_and_a_users_function(tmp_path: Path) -> None:
    (tmp_path / "myview.py").write_text("def bound(s):\n    return str(sorted(p.node_name for p in "
                                        "s.etcd.of('pods')))\n")
    for view in ("nodes", "pods", f"{tmp_path / 'myview.py'}:bound"):
        out = tmp_path / "v.svg"
        result = CliRunner().invoke(main, ["graph", "pod-two-nodes", "--view", view, "-o", str(out)])
        assert result.exit_code == 0, result.output
    bad = CliRunner().invoke(main, ["graph", "pod-two-nodes", "--view", "nope", "-o", str(tmp_path / "x.svg")])
    assert bad.exit_code == 2 and "the model's views: default, replicasets, nodes, pods" in bad.output


def test_views_and_kinds() -> None:
    state = next(iter(ClusterModel(builtin("cordoned-node").config).init_states()))
    assert view_nodes(state) == "node-a Ready,SchedulingDisabled"
    assert view_pods(state) == "pods: none"
    assert step_kind(("a1", "2")) == "a1"
    assert step_kind("FillBig") == "FillBig"


def test_violating_initial_and_fair_classes_are_marked() -> None:
    from checker.examples.diehard import DieHard

    q = quotient(DieHard(), lambda s: f"big={s.big}", "big")
    assert q.states == 16  # the whole graph: the search does not stop at the violation
    violating = [q.labels[c] for c in q.violating]
    assert violating == ["big=4"] and q.violating[q.labels.index("big=4")] == ("NotSolved",)
    assert [q.labels[c] for c in q.initial] == ["big=0"]
    assert not q.fair  # DieHard has no fairness: no cycle is marked fair
    source = quotient_picture(q, "t").source
    assert "✗ NotSolved" in source and "peripheries=2" in source


def test_a_users_view_is_loaded_as_a_model_is(tmp_path: Path) -> None:
    """`--view FILE.py:NAME` goes through the checker's loader (``checker.loading.load_object``): the same one-line
    errors as `--model`, a module that calls sys.exit included, and a name that is not a function."""
    (tmp_path / "views.py").write_text("LIMIT = 3\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.exit(4)\n")
    for view, message in ((f"{tmp_path / 'views.py'}:missing", "views.py has no missing"),
                          (f"{tmp_path / 'views.py'}:LIMIT", "LIMIT is not a function"),
                          (f"{tmp_path / 'exits.py'}:f", "called sys.exit(4)"),
                          (f"{tmp_path / 'none.py'}:f", "no file"),
                          ("no_such_module_here:f", "no module no_such_module_here")):
        result = CliRunner().invoke(main, ["graph", "pod-two-nodes", "--view", view, "-o", str(tmp_path / "x.svg")])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, view
        assert result.output.count("\n") == 1 and "--view" in result.output
