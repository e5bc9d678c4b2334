"""Public hypothesis strategies for property tests of your own: manifests, scenarios and reachable cluster states.

    from hypothesis import given
    from spec.testing import cluster_states

    @given(cluster_states())
    def test_no_pod_on_a_missing_node(state):
        nodes = {n.meta.name for n in state.etcd.of("nodes")}
        assert all(p.node_name in nodes | {""} for p in state.etcd.of("pods"))

``cluster_states`` walks the model from a generated scenario with hypothesis choosing each step, so every state it
yields is reachable and shrinks towards short walks.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

from spec.model import ClusterModel
from spec.scenario import FAULTS, Scenario, parse
from spec.state import ClusterState

NAMES = st.sampled_from(["web", "api", "db", "cache"])
CPU = st.sampled_from(["100m", "250m", "500m", "1"])
MEMORY = st.sampled_from(["64Mi", "128Mi", "256Mi", "1Gi"])


@st.composite
def node_manifests(draw: Any, index: int = 0) -> dict[str, Any]:
    """A Node document with allocatable cpu, memory and pods."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": f"node-{'abcdefgh'[index]}"},
        "spec": {"unschedulable": draw(st.booleans())} if draw(st.integers(0, 4)) == 0 else {},
        "status": {"allocatable": {"cpu": draw(st.sampled_from(["1", "2", "4"])),
                                   "memory": draw(st.sampled_from(["1Gi", "2Gi", "4Gi"])), "pods": "110"}},
    }


@st.composite
def deployment_manifests(draw: Any, name: str = "web", max_replicas: int = 2) -> dict[str, Any]:
    """A Deployment document (RollingUpdate, maxSurge/maxUnavailable as integers or percentages)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": draw(st.integers(0, max_replicas)),
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": draw(st.sampled_from([1, "25%", "50%"])),
                "maxUnavailable": draw(st.sampled_from([0, 1, "25%"])),
            }},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": name, "image": f"{name}:1",
                    "resources": {"requests": {"cpu": draw(CPU), "memory": draw(MEMORY)}},
                }]},
            },
        },
    }


@st.composite
def pod_manifests(draw: Any, name: str = "solo") -> dict[str, Any]:
    """A bare Pod document."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": name, "image": f"{name}:1",
                                 "resources": {"requests": {"cpu": draw(CPU), "memory": draw(MEMORY)}}}]},
    }


@st.composite
def manifests(draw: Any, max_nodes: int = 3) -> list[dict[str, Any]]:
    """1 to ``max_nodes`` Nodes, at most one Deployment, at most one ReplicaSet and at most one bare Pod: small
    clusters that check in seconds."""
    docs = [draw(node_manifests(i)) for i in range(draw(st.integers(1, max_nodes)))]
    if draw(st.booleans()):
        docs.append(draw(deployment_manifests(draw(NAMES))))
    if draw(st.integers(0, 3)) == 0:
        docs.append(draw(replicaset_manifests("lone")))
    if draw(st.booleans()) or len(docs) == 1:
        docs.append(draw(pod_manifests()))
    return docs


@st.composite
def replicaset_manifests(draw: Any, name: str = "lone", max_replicas: int = 2) -> dict[str, Any]:
    """A ReplicaSet document owned by nothing."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": draw(st.integers(0, max_replicas)),
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": name, "image": f"{name}:1",
                    "resources": {"requests": {"cpu": draw(CPU), "memory": draw(MEMORY)}},
                }]},
            },
        },
    }


FAULT_KINDS = tuple(FAULTS)
"""Every fault kind a scenario's budget can hold (``spec.scenario.FAULTS``: a kind added there is drawn here)."""

KUBECTL_FORMS = ("scale deployment", "scale replicaset", "set image", "rollout undo", "rollout undo --to-revision",
                 "delete pod", "delete pod -l", "delete pod --force", "delete node", "cordon", "uncordon")
"""Every form of command ``spec.kubectl.parse`` accepts, each of which ``kubectl_commands`` draws."""


@st.composite
def kubectl_commands(draw: Any, docs: list[dict[str, Any]]) -> list[str]:
    """Some of every kind of command ``spec.kubectl`` runs, against the objects of ``docs``."""
    deployments = [d["metadata"]["name"] for d in docs if d["kind"] == "Deployment"]
    replicasets = [d["metadata"]["name"] for d in docs if d["kind"] == "ReplicaSet"]
    nodes = [d["metadata"]["name"] for d in docs if d["kind"] == "Node"]
    pods = [d for d in docs if d["kind"] == "Pod"]
    choices: list[str] = []
    for name in deployments:
        choices += [f"kubectl scale deployment/{name} --replicas={draw(st.integers(0, 2))}",
                    f"kubectl set image deployment/{name} {name}={name}:2",
                    f"kubectl rollout undo deployment/{name}",
                    f"kubectl rollout undo deployment/{name} --to-revision=1"]
    for name in replicasets:
        choices.append(f"kubectl scale replicaset/{name} --replicas={draw(st.integers(0, 2))} -n default")
    for name in nodes:
        choices += [f"kubectl cordon {name}", f"kubectl uncordon {name}", f"kubectl delete node {name}"]
    for pod in pods:
        app = pod["metadata"]["labels"]["app"]
        choices += [f"kubectl delete pod {pod['metadata']['name']}", f"kubectl delete pod -l app={app}",
                    f"kubectl delete pod {pod['metadata']['name']} --grace-period=0 --force"]
    if not choices:
        return []
    commands: list[str] = draw(st.lists(st.sampled_from(choices), max_size=2, unique=True))
    return commands


@st.composite
def scenario_documents(draw: Any, max_nodes: int = 3, max_faults: int = 2) -> list[dict[str, Any]]:
    """A Scenario document plus ``manifests()``: small budgets of every fault kind (at most ``max_faults`` in
    all), kubectl commands of every kind, both read consistencies."""
    docs = draw(manifests(max_nodes))
    kinds = draw(st.lists(st.sampled_from(FAULT_KINDS), max_size=max_faults))
    faults = {k: kinds.count(k) for k in FAULT_KINDS}
    spec: dict[str, Any] = {
        "faults": faults,
        "consistency": draw(st.sampled_from(["strong", "stale"])),
        "userActions": draw(kubectl_commands(docs)),
    }
    if spec["consistency"] == "strong" and draw(st.integers(0, 3)) == 0:
        spec["apiServers"] = 2  # several API servers (spec.kube_apiserver): consistency strong only
    scenario = {"apiVersion": "kubespec.dev/v1", "kind": "Scenario", "metadata": {"name": "generated"}, "spec": spec}
    return [scenario, *docs]


def scenarios(max_nodes: int = 3, max_faults: int = 2) -> st.SearchStrategy[Scenario]:
    """Parsed scenarios (``scenario_documents`` through ``spec.scenario.parse``)."""
    return scenario_documents(max_nodes, max_faults).map(lambda docs: parse(yaml.safe_dump_all(docs), "generated.yaml"))


@st.composite
def cluster_states(draw: Any, max_steps: int = 40, scenario: Scenario | None = None) -> ClusterState:
    """A reachable state: a walk of at most ``max_steps`` steps from a generated (or the given) scenario."""
    s = scenario if scenario is not None else draw(scenarios())
    model = ClusterModel(s.config, s.reductions)
    state = next(iter(model.init_states()))
    for _ in range(draw(st.integers(0, max_steps))):
        successors = list(model.successors(state))
        if not successors:
            break
        _, state = successors[draw(st.integers(0, len(successors) - 1))]
    return state
