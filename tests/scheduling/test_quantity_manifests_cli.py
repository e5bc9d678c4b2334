"""Quantities (apimachinery quantity_test.go shapes), manifest parsing errors, messages and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.errors import InputError
from spec.quantity import int_value, milli_value
from spec.scheduling.cli import schedule
from spec.scheduling.kube_scheduler import fit_error_message
from spec.scheduling.manifests import parse_manifests

EXAMPLES = Path(__file__).resolve().parents[2] / "spec" / "scheduling" / "examples"


@pytest.mark.parametrize(
    ("text", "milli"),
    [
        ("100m", 100),
        ("1", 1000),
        ("0.5", 500),
        ("1.5", 1500),
        ("1e3", 1_000_000),
        ("1k", 1_000_000),
        ("1n", 1),
        ("2u", 1),
        (".5", 500),
        ("5.", 5000),
        (3, 3000),
        ("+2", 2000),
        ("1E-3", 1),
    ],
)
def test_milli_value_rounds_up_like_upstream(text: object, milli: int) -> None:
    assert milli_value(text) == milli


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1Ki", 1024),
        ("1Mi", 1 << 20),
        ("1Gi", 1 << 30),
        ("500Mi", 500 << 20),
        ("1e3", 1000),
        ("1G", 10**9),
        ("1.5Gi", 3 << 29),
        ("0.1", 1),
        ("128974848", 128974848),
        ("129e6", 129000000),
        ("123Mi", 123 << 20),
    ],
)
def test_int_value(text: str, value: int) -> None:
    assert int_value(text) == value


@pytest.mark.parametrize("junk", ["1x", "", "Gi", "1 Gi", "1KI", "e3", "1e", "--1", "1.2.3", "abc", True, None])
def test_junk_is_an_input_error(junk: object) -> None:
    with pytest.raises(InputError, match="not a Kubernetes quantity"):
        milli_value(junk, "where")


def test_fit_error_format_sorted_histogram() -> None:
    """types_test.go TestFitError_Error shapes: counts per reason, sorted as strings, PostFilter message appended."""
    msg = fit_error_message(
        3, [("Insufficient cpu",), ("node(s) had untolerated taint(s)",)] * 1 + [("node(s) had untolerated taint(s)",)]
    )
    assert msg == "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s)."
    assert (
        fit_error_message(2, [], "pod affinity terms conflict")
        == "0/2 nodes are available: pod affinity terms conflict."
    )
    both = fit_error_message(2, [("Insufficient cpu", "Insufficient memory")] * 2, post_filter_message="preemption: x.")
    assert both == "0/2 nodes are available: 2 Insufficient cpu, 2 Insufficient memory. preemption: x."


POD = "apiVersion: v1\nkind: Pod\n"
NODE = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '1', memory: 1Gi}}\n"


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (
            POD + "metadata: {name: web-1}\nspec:\n  containers:\n  - {name: c, resources: {requests: {cpu: 1x}}}",
            "document 2 (Pod web-1): spec.containers[0].resources.requests.cpu: '1x' is not a Kubernetes quantity",
        ),
        (POD + "metadata: {name: p}\nspec: {containers: []}", "document 2 (Pod p): spec.containers"),
        (
            "apiVersion: v1\nkind: Gadget\nmetadata: {name: g}",
            'document 2 (Gadget g): kind: no matches for kind "Gadget"',
        ),
        ("kind: Pod\nmetadata: {name: g}", "document 2 (Pod g): apiVersion: required"),
        (
            POD + "metadata: {name: p}\nspec:\n  containers: [{name: c}]\n  tolerations: [{key: a, opertor: Exists}]",
            'unknown field "spec.tolerations[0].opertor"',
        ),
        (
            POD + "metadata: {name: p}\nspec:\n  containers: [{name: c}]\n  priorityClassName: gold",
            "no PriorityClass named 'gold'",
        ),
        (POD + "metadata: {name: p\nspec: [", "malformed YAML"),
    ],
)
def test_bad_manifests_are_one_line_input_errors(doc: str, fragment: str) -> None:
    with pytest.raises(InputError) as err:
        parse_manifests(NODE + "---\n" + doc, "bad.yaml")
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_workloads_expand_with_requests_as_upstream() -> None:
    text = (
        NODE
        + """---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      initContainers:
      - {name: init, resources: {requests: {cpu: "2"}}}
      - {name: sidecar, restartPolicy: Always, resources: {limits: {cpu: 500m, memory: 64Mi}}}
      containers:
      - {name: db, resources: {requests: {cpu: "1"}}}
      overhead: {cpu: 100m}
"""
    )
    cluster = parse_manifests(text, "ss.yaml")
    assert [p.name for p in cluster.pods] == ["db-0", "db-1"]
    pod = cluster.pods[0]
    # max(containers + sidecar = 1500m, init 2000m + earlier sidecars 0) + overhead 100m
    assert pod.requests.milli_cpu == 2100
    assert pod.requests.memory == 64 << 20
    assert ("statefulset.kubernetes.io/pod-name", "db-0") in pod.labels
    assert pod.spread_selector is not None


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(schedule, list(args))
    return result.exit_code, result.output


def test_cli_kube_scheduler_message_and_exit_1() -> None:
    code, out = _run("-f", str(EXAMPLES / "taints.yaml"))
    assert code == 1
    assert "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s)." in out


def test_cli_optimal_finds_what_kube_scheduler_misses() -> None:
    code, out = _run("-f", str(EXAMPLES / "fragmentation.yaml"), "--mode", "optimal", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["totals"] == {
        "pending": 3,
        "placed": 3,
        "unplaced": 0,
        "waiting": 0,
        "nodes": 2,
        "nodes_used": 2,
        "preempted": 0,
        "kube_scheduler_placed": 2,
    }
    assert [m["pod"] for m in report["kube_scheduler_missed"]] == ["default/batch-big"]
    code, _ = _run("-f", str(EXAMPLES / "fragmentation.yaml"))
    assert code == 1


def test_cli_explains_unplaceable_pods_with_the_core() -> None:
    code, out = _run("-f", str(EXAMPLES / "zones.yaml"), "--mode", "optimal", "--json")
    assert code == 1
    report = json.loads(out)
    reasons = [p["reason"] for p in report["pods"] if p["node"] is None]
    assert len(reasons) == 1
    assert "TaintToleration: node(s) had untolerated taint(s) on b2" in reasons[0]
    assert "required anti-affinity" in reasons[0]


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        NODE
        + "---\n"
        + POD
        + "metadata: {name: p}\nspec: {containers: [{name: c, resources: {requests: {memory: 1Gb}}}]}\n"
    )
    code, out = _run("-f", str(bad))
    assert code == 2
    assert out.strip().startswith("error: ") and "'1Gb' is not a Kubernetes quantity" in out
    code, out = _run("-f", str(tmp_path / "missing.yaml"))
    assert code == 2
