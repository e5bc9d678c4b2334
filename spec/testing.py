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

from spec.kubectl import FORMS, form
from spec.kubectl import parse as parse_command
from spec.leaderelection import COMPONENTS as LEADER_ELECTED
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


def _container(draw: Any, name: str) -> dict[str, Any]:
    return {"name": name, "image": f"{name}:1",
            "resources": {"requests": {"cpu": draw(CPU), "memory": draw(MEMORY)}}}


@st.composite
def service_manifests(draw: Any, app: str) -> dict[str, Any]:
    """A Service selecting the pods labelled ``app``: ClusterIP, NodePort or headless, a numeric targetPort."""
    kind = draw(st.sampled_from(["ClusterIP", "NodePort", "headless"]))
    spec: dict[str, Any] = {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}
    if kind == "headless":
        spec["clusterIP"] = "None"
    else:
        spec["type"] = kind
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{app}-svc", "namespace": "default"},
            "spec": spec}


@st.composite
def statefulset_manifests(draw: Any, name: str = "db", max_replicas: int = 2) -> dict[str, Any]:
    """A StatefulSet (OrderedReady or Parallel) of at most ``max_replicas``."""
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": draw(st.integers(0, max_replicas)), "serviceName": name,
                 "podManagementPolicy": draw(st.sampled_from(["OrderedReady", "Parallel"])),
                 "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [_container(draw, name)]}}},
    }


@st.composite
def job_manifests(draw: Any, name: str = "batch") -> dict[str, Any]:
    """A Job of one or two completions, parallelism 1, backoffLimit 0 or 1, maybe ttlSecondsAfterFinished."""
    spec: dict[str, Any] = {
        "completions": draw(st.integers(1, 2)), "parallelism": 1, "backoffLimit": draw(st.integers(0, 1)),
        "template": {"spec": {"restartPolicy": draw(st.sampled_from(["Never", "OnFailure"])),
                              "containers": [_container(draw, name)]}},
    }
    if draw(st.booleans()):
        spec["ttlSecondsAfterFinished"] = draw(st.sampled_from([0, 100]))
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


@st.composite
def daemonset_manifests(draw: Any, name: str = "agent") -> dict[str, Any]:
    """A DaemonSet (RollingUpdate with maxUnavailable 1 or maxSurge 1, or OnDelete)."""
    strategy = draw(st.sampled_from([{"type": "RollingUpdate"}, {"type": "OnDelete"},
                                     {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}]))
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": name}}, "updateStrategy": strategy,
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [_container(draw, name)]}}},
    }


@st.composite
def cronjob_manifests(draw: Any, name: str = "backup") -> dict[str, Any]:
    """A CronJob ("@every 1m" or every minute's cron form) with a concurrencyPolicy and a Job template of one pod
    (the scenario's ``bounds.scheduleTimes`` bounds its schedule times: 2 by default)."""
    return {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {"schedule": draw(st.sampled_from(["@every 1m", "*/1 * * * *"])),
                 "concurrencyPolicy": draw(st.sampled_from(["Allow", "Forbid", "Replace"])),
                 "jobTemplate": {"spec": {"backoffLimit": 0, "template": {"spec": {
                     "restartPolicy": "Never", "containers": [_container(draw, name)]}}}}},
    }


@st.composite
def pdb_manifests(draw: Any, app: str) -> dict[str, Any]:
    """A PodDisruptionBudget over the pods labelled ``app``: minAvailable or maxUnavailable, 1 or a percentage."""
    field = draw(st.sampled_from(["minAvailable", "maxUnavailable"]))
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": f"{app}-pdb", "namespace": "default"},
            "spec": {field: draw(st.sampled_from([1, "50%"])), "selector": {"matchLabels": {"app": app}}}}


@st.composite
def volume_manifests(draw: Any, node: str) -> list[dict[str, Any]]:
    """A StorageClass (an external provisioner, Immediate or WaitForFirstConsumer, reclaimPolicy Delete or Retain),
    a claim ``data`` of it, and maybe a static PersistentVolume of that class on ``node`` (a local volume)."""
    docs: list[dict[str, Any]] = [
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "standard"},
         "provisioner": "csi.example.com", "reclaimPolicy": draw(st.sampled_from(["Delete", "Retain"])),
         "volumeBindingMode": draw(st.sampled_from(["Immediate", "WaitForFirstConsumer"]))},
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": "default"},
         "spec": {"storageClassName": "standard", "accessModes": ["ReadWriteOnce"],
                  "resources": {"requests": {"storage": "1Gi"}}}},
    ]
    if draw(st.booleans()):
        docs.append({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "local-a"},
                     "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                              "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "standard",
                              "local": {"path": "/mnt/disks/ssd1"},
                              "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                                  {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}})
    return docs


@st.composite
def manifests(draw: Any, max_nodes: int = 3) -> list[dict[str, Any]]:
    """1 to ``max_nodes`` Nodes and small workloads of every kind a scenario models (``spec.scenario``'s kinds):
    at most one Deployment, ReplicaSet, ReplicationController, bare Pod, StatefulSet, Job, CronJob and DaemonSet,
    maybe a Service and a
    PodDisruptionBudget over one of them, maybe a Namespace holding the bare Pod, maybe a StorageClass, a claim
    (which the bare pod may mount) and a local PersistentVolume: small clusters that check in
    seconds (the rarer kinds are drawn rarely, so most draws stay small)."""
    docs = [draw(node_manifests(i)) for i in range(draw(st.integers(1, max_nodes)))]
    if draw(st.booleans()):
        docs.append(draw(deployment_manifests(draw(NAMES))))
    if draw(st.integers(0, 3)) == 0:
        docs.append(draw(replicaset_manifests("lone")))
    if draw(st.integers(0, 5)) == 0:
        docs.append(draw(replicationcontroller_manifests("legacy")))
    if draw(st.integers(0, 5)) == 0:
        docs.append(draw(statefulset_manifests()))
    if draw(st.integers(0, 5)) == 0:
        docs.append(draw(job_manifests()))
    if draw(st.integers(0, 5)) == 0:
        docs.append(draw(daemonset_manifests()))
    if draw(st.integers(0, 5)) == 0:
        docs.append(draw(cronjob_manifests()))
    if draw(st.booleans()) or len(docs) == len([d for d in docs if d["kind"] == "Node"]):
        pod = draw(pod_manifests())
        if draw(st.integers(0, 3)) == 0:  # in a declared Namespace (namespaces become API objects)
            docs.insert(0, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
            pod["metadata"]["namespace"] = "team"
        docs.append(pod)
    if draw(st.integers(0, 5)) == 0:
        docs += draw(volume_manifests(docs[0]["metadata"]["name"]))
        pod = next((d for d in docs if d["kind"] == "Pod" and "namespace" not in d["metadata"]), None)
        if pod is not None and draw(st.booleans()):  # the bare pod mounts the claim
            pod["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    apps = [d["spec"]["template"]["metadata"]["labels"]["app"] for d in docs
            if d["kind"] in ("Deployment", "ReplicaSet", "ReplicationController", "StatefulSet")
            and d["metadata"].get("namespace") == "default"]
    apps += [d["metadata"]["labels"]["app"] for d in docs if d["kind"] == "Pod" and "namespace" not in d["metadata"]]
    if apps and draw(st.integers(0, 4)) == 0:
        docs.append(draw(service_manifests(draw(st.sampled_from(apps)))))
    if apps and draw(st.integers(0, 5)) == 0:
        docs.append(draw(pdb_manifests(draw(st.sampled_from(apps)))))
    scalable = [d for d in docs if d["kind"] in ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController")]
    if scalable and draw(st.integers(0, 5)) == 0:  # the metrics' load stays the scenario's (``spec.load``)
        target = draw(st.sampled_from(scalable))
        docs.append({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                     "metadata": {"name": target["metadata"]["name"], "namespace": "default"},
                     "spec": {"scaleTargetRef": {"apiVersion": target["apiVersion"], "kind": target["kind"],
                                                 "name": target["metadata"]["name"]},
                              "minReplicas": 1, "maxReplicas": 2,
                              "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                                  "type": "Utilization", "averageUtilization": 50}}}]}})
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


@st.composite
def replicationcontroller_manifests(draw: Any, name: str = "legacy", max_replicas: int = 2) -> dict[str, Any]:
    """A v1 ReplicationController owned by nothing: its selector given or left to default to the template's
    labels, its replicas given or left to default to 1 (``spec.scenario``)."""
    spec: dict[str, Any] = {
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"containers": [{
                "name": name, "image": f"{name}:1",
                "resources": {"requests": {"cpu": draw(CPU), "memory": draw(MEMORY)}},
            }]},
        },
    }
    if draw(st.booleans()):
        spec["selector"] = {"app": name}
    replicas = draw(st.integers(-1, max_replicas))
    if replicas >= 0:
        spec["replicas"] = replicas
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


FAULT_KINDS = tuple(FAULTS)
"""Every fault kind a scenario's budget can hold (``spec.scenario.FAULTS``: a kind added there is drawn here)."""


KUBECTL_FORMS = FORMS
"""Every form of command ``spec.kubectl.parse`` accepts (``spec.kubectl.FORMS``), each of which ``kubectl_commands``
draws when the documents have what it acts on."""


@st.composite
def kubectl_commands(draw: Any, docs: list[dict[str, Any]]) -> list[str]:
    """Up to two commands of every form ``spec.kubectl`` runs, against the objects of ``docs``."""
    def named(kind: str) -> list[dict[str, Any]]:
        return [d for d in docs if d["kind"] == kind]

    choices: list[str] = []
    cascades = ("", " --cascade=foreground", " --cascade=orphan")
    for d in named("Deployment"):
        name = d["metadata"]["name"]
        choices += [f"kubectl scale deployment/{name} --replicas={draw(st.integers(0, 2))}",
                    f"kubectl set image deployment/{name} {name}={name}:2",
                    f"kubectl rollout undo deployment/{name}",
                    f"kubectl rollout undo deployment/{name} --to-revision=1",
                    f"kubectl rollout pause deployment/{name}", f"kubectl rollout resume deployment/{name}",
                    *(f"kubectl delete deployment {name}{cascade}" for cascade in cascades),
                    f"kubectl expose deployment/{name} --port=80 --target-port=8080 --name={name}-exposed"]
    for d in named("ReplicaSet"):
        name = d["metadata"]["name"]
        choices += [f"kubectl scale replicaset/{name} --replicas={draw(st.integers(0, 2))} -n default",
                    *(f"kubectl delete replicaset {name}{cascade}" for cascade in cascades)]
    for d in named("ReplicationController"):
        name = d["metadata"]["name"]
        choices += [f"kubectl scale rc/{name} --replicas={draw(st.integers(0, 2))}",
                    *(f"kubectl delete rc {name}{cascade}" for cascade in cascades)]
    for d in named("StatefulSet"):
        choices.append(f"kubectl scale statefulset/{d['metadata']['name']} --replicas={draw(st.integers(0, 2))}")
    for d in named("Job"):
        choices += [f"kubectl delete job {d['metadata']['name']}{cascade}" for cascade in cascades]
    for d in named("DaemonSet"):
        name = d["metadata"]["name"]
        choices += [f"kubectl set image daemonset/{name} {name}={name}:2",
                    *(f"kubectl delete daemonset {name}{cascade}" for cascade in cascades)]
    for d in named("Namespace"):
        choices.append(f"kubectl delete namespace {d['metadata']['name']}")
    for d in named("PersistentVolumeClaim"):
        choices += [f"kubectl delete pvc {d['metadata']['name']}{cascade}" for cascade in cascades]
    for d in named("Node"):
        name = d["metadata"]["name"]
        effect = draw(st.sampled_from(["NoSchedule", "NoExecute"]))
        choices += [f"kubectl cordon {name}", f"kubectl uncordon {name}", f"kubectl delete node {name}",
                    f"kubectl drain {name} --ignore-daemonsets", f"kubectl drain {name} --ignore-daemonsets --force",
                    f"kubectl taint nodes {name} dedicated=infra:{effect}",
                    f"kubectl taint nodes {name} dedicated:{effect}-"]
    for pod in named("Pod"):
        name, app = pod["metadata"]["name"], pod["metadata"]["labels"]["app"]
        ns = f" -n {pod['metadata']['namespace']}" if "namespace" in pod["metadata"] else ""
        choices += [f"kubectl delete pod {name}{ns}", f"kubectl delete pod -l app={app}{ns}",
                    f"kubectl delete pod {name}{ns} --grace-period=0 --force"]
    if any(d["kind"] in ("Deployment", "Pod") for d in docs):
        choices.append(f"kubectl create service {draw(st.sampled_from(['clusterip', 'nodeport']))} extra "
                       "--tcp=80:8080")
    by_form: dict[str, list[str]] = {}
    for line in choices:  # drawn form first, then one of its lines: every form as likely as any other
        by_form.setdefault(form(parse_command(line, "generated")), []).append(line)
    if not by_form:
        return []
    forms: list[str] = draw(st.lists(st.sampled_from(sorted(by_form)), max_size=2, unique=True))
    return [draw(st.sampled_from(by_form[f])) for f in forms]


@st.composite
def leader_elections(draw: Any) -> dict[str, Any]:
    """A scenario's ``spec.leaderElection`` (``spec.leaderelection.parse_config``): one or two replicas of the
    controller manager, the scheduler or both, upstream's default durations or short ones, a clock-skew budget, a
    pause and a failed renewal."""
    durations = draw(st.sampled_from([
        {"leaseDuration": "15s", "renewDeadline": "10s", "retryPeriod": "2s"},  # upstream's defaults
        {"leaseDuration": "4s", "renewDeadline": "3s", "retryPeriod": "1s"},
    ]))
    components = draw(st.lists(st.sampled_from(LEADER_ELECTED), min_size=1, unique=True))
    return {"replicas": draw(st.integers(1, 2)), **durations,
            "clockSkew": draw(st.sampled_from(["0s", "1s"])),
            "pauses": draw(st.integers(0, 1)), "renewFailures": draw(st.integers(0, 1)),
            "components": sorted(components, key=LEADER_ELECTED.index)}


@st.composite
def scenario_documents(draw: Any, max_nodes: int = 3, max_faults: int = 2) -> list[dict[str, Any]]:
    """A Scenario document plus ``manifests()``: small budgets of every fault kind (at most ``max_faults`` in
    all), kubectl commands of every kind, both read consistencies, sometimes two API servers or leader election
    (``leader_elections``)."""
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
    elif draw(st.integers(0, 3)) == 0:
        spec["leaderElection"] = draw(leader_elections())
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
