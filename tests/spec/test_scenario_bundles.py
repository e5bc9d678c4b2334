"""Scenarios made of real application bundles and `kubectl get -o yaml` exports (spec/scenario.py): the kinds no
modelled component acts on are read, validated and named as ignored; the kinds whose absence would change what is
checked are refused, saying why; a ``kind: List`` is read item by item."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.errors import InputError
from spec.cli import summary
from spec.scenario import IGNORED_KINDS, NOT_MODELLED, load, parse
from spec.state import Deployment, Node

FIXTURES = Path(__file__).parent / "fixtures"
HEAD = """apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: bundle}
spec: {}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend}
spec:
  selector: {matchLabels: {app: frontend}}
  template:
    metadata: {labels: {app: frontend}}
    spec:
      serviceAccountName: frontend
      containers: [{name: server, image: frontend:v1, resources: {requests: {cpu: 100m}}}]
"""


def _with(extra: str) -> str:
    return HEAD + "---\n" + extra


def test_kinds_no_component_acts_on_are_read_and_named() -> None:
    text = _with("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: frontend}\n---\n"
                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n---\n"
                 "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: sm}\nspec: {x: 1}\n")
    scenario = parse(text, "b.yaml")
    assert scenario.ignored == ("ServiceAccount frontend", "ConfigMap cfg", "ServiceMonitor sm")
    assert [type(o) for o in scenario.config.objects] == [Node, Deployment]
    assert "read and not modelled: ServiceAccount frontend, ConfigMap cfg, ServiceMonitor sm" in summary(scenario)
    assert parse(HEAD, "b.yaml").ignored == () and "not modelled" not in summary(parse(HEAD, "b.yaml"))


def test_an_ignored_kind_is_still_validated_strictly() -> None:
    with pytest.raises(InputError, match=r"document 4 \(ConfigMap cfg\): unknown field \"bogus\""):
        parse(_with("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\nbogus: 1\n"), "b.yaml")
    with pytest.raises(InputError, match=r'kind: no matches for kind "Deploymnet" in version "apps/v1"'):
        parse(_with("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: typo}\n"), "b.yaml")


@pytest.mark.parametrize("kind", sorted(NOT_MODELLED))
def test_kinds_that_would_change_the_verdict_are_refused(kind: str) -> None:
    api = {"DaemonSet": "apps/v1", "CronJob": "batch/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
           "PriorityClass": "scheduling.k8s.io/v1", "RuntimeClass": "node.k8s.io/v1",
           "EndpointSlice": "discovery.k8s.io/v1"}.get(kind, "v1")
    with pytest.raises(InputError, match=rf"document 4 \({kind} x\): kind: {kind} is not modelled: "):
        parse(_with(f"apiVersion: {api}\nkind: {kind}\nmetadata: {{name: x}}\n"), "b.yaml")


def test_the_ignored_and_the_refused_kinds_are_built_in_and_apart() -> None:
    assert not IGNORED_KINDS & set(NOT_MODELLED)
    assert {"Deployment", "Service", "Pod", "Node"}.isdisjoint(IGNORED_KINDS | set(NOT_MODELLED))


def test_a_kubectl_get_list_is_read_item_by_item() -> None:
    """tests/spec/fixtures/kubectl-get-list.yaml: a Node and a Deployment as `kubectl get -o yaml` prints them
    (uids, resourceVersions, managed annotations, status)."""
    scenario = load(FIXTURES / "kubectl-get-list.yaml")
    kinds = [type(o).__name__ for o in scenario.config.objects]
    assert kinds == ["Node", "Deployment"]
    d = scenario.config.objects[1]
    assert isinstance(d, Deployment) and d.replicas == 2
    bad = (FIXTURES / "kubectl-get-list.yaml").read_text().replace("  - name: nginx", "  - nme: nginx")
    with pytest.raises(InputError, match=r"document 2, item 2 \(Deployment web\)"):
        parse(bad, "l.yaml")
    with pytest.raises(InputError, match=r"document 4, item 1: expected a mapping, got int"):
        parse(HEAD + "---\napiVersion: v1\nkind: List\nitems: [3]\n", "l.yaml")
