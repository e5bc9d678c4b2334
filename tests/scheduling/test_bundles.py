"""Real application bundles: every kind read (skipped with a note, or warned about), strict fields as
``kubectl apply --validate=strict``, scheduling gates, terminating pods, workload expansion (Jobs, DaemonSets, dumps
with their pods), and the upstream details the issue named (Unicode digits, invalid label values in node affinity)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.errors import InputError
from spec.quantity import milli_value
from spec.scheduling.cli import schedule
from spec.scheduling.filters import prefilter, run_filters
from spec.scheduling.manifests import parse_manifests
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import NodeSelectorRequirement, NodeSelectorTerm, TopologySpreadConstraint
from spec.strict import validate_object
from tests.scheduling.helpers import affinity, node, pod, selector

FIXTURES = Path(__file__).parent / "fixtures"
NODES = """apiVersion: v1
kind: Node
metadata: {name: n1, labels: {kubernetes.io/hostname: n1, topology.kubernetes.io/zone: a}}
status: {allocatable: {cpu: "2", memory: 4Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: n2, labels: {kubernetes.io/hostname: n2, topology.kubernetes.io/zone: b}}
status: {allocatable: {cpu: "2", memory: 4Gi, pods: "110"}}
"""


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(schedule, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_microservices_demo_bundle_is_read_whole(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(NODES)
    code, out, err = _run("-f", str(nodes), "-f", str(FIXTURES / "microservices-demo.yaml"), "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["totals"]["placed"] == 12
    assert err.splitlines() == ["note: skipped 11 objects that do not affect placement (11 ServiceAccount)"]


def test_shop_bundle_notes_warnings_gates_and_workloads() -> None:
    code, out, err = _run("-f", str(FIXTURES / "shop-bundle.yaml"), "--json")
    report = json.loads(out)
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: skipped 6 objects that do not affect placement (1 ConfigMap, 1 HorizontalPodAutoscaler, 1 Ingress, "
        "1 NetworkPolicy, 1 Secret, 1 ServiceAccount)"
    ]
    warnings = [line for line in err.splitlines() if line.startswith("warning: ")]
    assert any("(PersistentVolumeClaim uploads): volume binding is not checked" in w for w in warnings)
    assert any("(StatefulSet cart-db): spec.volumeClaimTemplates (data)" in w for w in warnings)
    pods = {p["pod"]: p for p in report["pods"]}
    assert pods["default/reports"]["node"] is None
    assert pods["default/reports"]["reason"].startswith("SchedulingGated")
    # the DaemonSet runs on the two untainted nodes, each pod pinned to its own
    exporters = sorted(p["node"] for k, p in pods.items() if k.startswith("default/node-exporter-"))
    assert exporters == ["pool-a-1", "pool-b-1"]
    # the Job runs parallelism 2 pods; one GPU, so one waits
    assert sorted(str(p["node"]) for k, p in pods.items() if k.startswith("default/train-")) == ["None", "gpu-1"]
    assert report["totals"]["waiting"] == 1 and report["totals"]["unplaced"] == 1 and code == 1


@pytest.mark.parametrize("mode", ["kube-scheduler", "optimal"])
def test_gated_pod_stays_pending_in_both_modes(tmp_path: Path, mode: str) -> None:
    f = tmp_path / "gated.yaml"
    f.write_text(
        NODES + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: g}\nspec:\n  schedulingGates: [{name: wait}]\n"
        "  containers: [{name: c, image: x}]\n"
    )
    code, out, _ = _run("-f", str(f), "--mode", mode, "--json")
    report = json.loads(out)
    assert report["pods"] == [
        {
            "pod": "default/g",
            "node": None,
            "reason": "SchedulingGated: scheduling is blocked by gates wait",
            "waiting": True,
        }
    ]
    assert report["totals"]["placed"] == 0 and report["totals"]["waiting"] == 1 and code == 0


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  nodeSelecter: {disk: ssd}\n"
            "  containers: [{name: c, image: x}]",
            '(Pod p): unknown field "spec.nodeSelecter"',
        ),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
            "  - {name: c, image: x, resources: {request: {cpu: '3'}}}",
            '(Pod p): unknown field "spec.containers[0].resources.request"',
        ),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicaz: 3\n"
            "  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n"
            "    spec: {containers: [{name: c, image: x}]}",
            '(Deployment d): unknown field "spec.replicaz"',
        ),
        (
            "apiVersion: v1\nkind: Node\nmetadata: {name: n3}\nspec: {unschedulabel: true}",
            '(Node n3): unknown field "spec.unschedulabel"',
        ),
        (
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  portz: [{port: 80}]",
            '(Service s): unknown field "spec.portz"',
        ),
        (
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: s-1}\naddressType: IPv4\n"
            "endpoints: [{adresses: [10.0.0.1]}]",
            '(EndpointSlice s-1): unknown field "endpoints[0].adresses"',
        ),
        (
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: b}\nspec: {minAvailabel: 1}",
            '(PodDisruptionBudget b): unknown field "spec.minAvailabel"',
        ),
        (
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  template:\n    spec:\n"
            "      containers: [{name: c, image: x}]\n      tolerationz: []",
            '(Job j): unknown field "spec.template.spec.tolerationz"',
        ),
        (
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\nspec:\n  selector: {matchLabels: {a: b}}\n"
            "  template:\n    metadata: {labelz: {a: b}}\n    spec: {containers: [{name: c, image: x}]}",
            '(DaemonSet ds): unknown field "spec.template.metadata.labelz"',
        ),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndatta: {a: b}", '(ConfigMap c): unknown field "datta"'),
        (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  replicas: three",
            "(Deployment d): spec.replicas: expected an integer, got 'three'",
        ),
        (
            "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}",
            'no matches for kind "Deployment" in version "extensions/v1beta1"',
        ),
        ("apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: d}", 'no matches for kind "Deploymnet"'),
    ],
)
def test_unknown_fields_are_errors_naming_document_and_field(doc: str, field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_manifests(NODES + "---\n" + doc, "bundle.yaml")
    message = str(err.value)
    assert message.startswith("bundle.yaml: document 3 ")
    assert field in message and "\n" not in message


def test_strict_validation_of_list_items_and_custom_resources_warned() -> None:
    with pytest.raises(InputError, match=r'items\[0\] \(Pod p\): unknown field "spek"'):
        parse_manifests(
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}, spek: {}}", "l"
        )
    cluster = parse_manifests(
        NODES + "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\n"
        "metadata: {name: v}\nspec: {anything: [1]}",
        "b",
    )
    assert cluster.warnings == (
        "not read: 1 objects of kinds this tool does not know (1 VirtualService (networking.istio.io/v1))",
    )
    assert validate_object({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"x": 1}}, "w") is False


def test_unicode_digits_are_not_quantities() -> None:
    for text in ("١٢", "２", "1e３", "٣m"):
        with pytest.raises(InputError, match="is not a Kubernetes quantity"):
            milli_value(text, "cpu")
    assert milli_value("12") == 12000


def test_pod_topology_spread_skips_terminating_pods() -> None:
    """Upstream podtopologyspread/common.go countPodsMatchSelector skips pods with a deletionTimestamp."""
    nodes = (node("a", {"zone": "a"}), node("b", {"zone": "b"}))
    spread = (TopologySpreadConstraint(1, "zone", "DoNotSchedule", selector(app="web")),)
    bound = (pod("old", {"app": "web"}, on="a", terminating=True), pod("w2", {"app": "web"}, on="b"))
    incoming = pod("w3", {"app": "web"}, topology_spread_constraints=spread)
    snap = Snapshot.build(nodes, bound)
    # zone a counts 0 (the terminating pod is not counted), zone b 1: only a is within maxSkew 1... and b gives 2-0
    assert run_filters(incoming, nodes[0], snap, prefilter(incoming, snap)) is None
    assert run_filters(incoming, nodes[1], snap, prefilter(incoming, snap)) is not None
    alive = Snapshot.build(nodes, (pod("old", {"app": "web"}, on="a"), bound[1]))
    assert run_filters(incoming, nodes[1], alive, prefilter(incoming, alive)) is None


def test_terminating_pod_from_manifest() -> None:
    cluster = parse_manifests(
        NODES + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, deletionTimestamp: '2025-01-01T00:00:00Z'}\n"
        "spec: {nodeName: n1, containers: [{name: c, image: x}]}",
        "b",
    )
    assert cluster.pods[0].terminating


@pytest.mark.parametrize(
    ("operator", "values", "matches"),
    [
        ("In", ("ssd",), True),
        ("In", ("ssd", "not a label value!"), False),  # one invalid value: the term does not parse
        ("NotIn", ("-bad-",), False),
        ("NotIn", ("hdd",), True),
        ("Gt", ("3",), True),
        ("Gt", ("-1",), False),  # "-1" is an integer but no valid label value
        ("Gt", ("x",), False),
        ("In", ("a" * 64,), False),  # longer than 63
    ],
)
def test_node_affinity_values_that_are_not_label_values_match_nothing(
    operator: str, values: tuple[str, ...], matches: bool
) -> None:
    term = NodeSelectorTerm(
        (NodeSelectorRequirement("disk" if operator in ("In", "NotIn") else "gen", operator, values),)
    )
    labels = {"disk": "ssd", "gen": "5"}
    assert term.matches(labels, "n") is matches
    n = node("n", labels)
    p = pod("p", affinity=affinity(node_required=(term,)))
    snap = Snapshot.build((n,))
    assert (run_filters(p, n, snap) is None) is matches


def test_dump_with_replicaset_and_its_pods_creates_only_missing_replicas() -> None:
    text = (
        NODES
        + """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d8f
  namespace: shop
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: u1, controller: true}]
spec:
  replicas: 3
  selector: {matchLabels: {app: web, pod-template-hash: 5d8f}}
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d8f}}
    spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata:
  name: web-5d8f-aaaaa
  namespace: shop
  labels: {app: web, pod-template-hash: 5d8f}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-5d8f, uid: u2, controller: true}]
spec: {nodeName: n1, containers: [{name: c, image: x}]}
"""
    )
    cluster = parse_manifests(text, "dump.yaml")
    assert len(cluster.pods) == 3  # 1 running + 2 created by the ReplicaSet; the Deployment adds none
    assert len(cluster.pending) == 2
    running = next(p for p in cluster.pods if p.node_name)
    assert running.spread_selector is not None
    assert ("pod-template-hash", "5d8f") in running.spread_selector.match_labels


def test_duplicate_keys_are_errors_with_their_line(tmp_path: Path) -> None:
    f = tmp_path / "dup.yaml"
    f.write_text(
        NODES + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: x}]\n"
        "  nodeName: n1\n  nodeName: n2\n"
    )
    code, out, err = _run("-f", str(f))
    assert code == 2
    assert (out + err).startswith("error: ") and "dup.yaml:" in out + err and "nodeName" in out + err


def test_scenarios_reject_unknown_fields_in_pod_specs_too() -> None:
    """The scenario reader parses pod specs with spec.scheduling.manifests.parse_pod_spec, which validates them."""
    from spec.scenario import parse

    text = (Path(__file__).parents[2] / "spec" / "scenarios").glob("*.yaml")
    base = next(iter(sorted(text))).read_text()
    broken = base.replace("containers:", "nodeSelecter: {disk: ssd}\n      containers:", 1)
    assert broken != base
    with pytest.raises(InputError, match='unknown field "spec.template.spec.nodeSelecter"'):
        parse(broken, "scenario.yaml")
