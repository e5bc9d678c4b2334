"""The DaemonSet controller (spec/controllers/daemonset.py), its scenario parser, properties and variant."""

from __future__ import annotations

import attrs
import pytest

from checker import check
from checker.errors import InputError
from spec import kubectl
from spec.apiserver import Session, store
from spec.cluster import initial_state
from spec.controllers import daemonset as dsc
from spec.daemonset_properties import at_most_one_daemon_pod_per_node
from spec.model import ClusterModel
from spec.scenario import NOT_MODELLED, builtin, parse, with_overrides
from spec.scheduling.types import FieldSelectorRequirement, Taint
from spec.state import CONTROLLER_REVISION_HASH, DaemonSet, Ghost, Node, Pod

NODES = """apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
%s
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
"""
DS = """---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {app: agent}}
%s  template:
    metadata: {labels: {app: agent}}
    spec:
%s      containers:
      - name: agent
        image: agent:1
"""


def _parse(node_b: str = "", spec: str = "", pod: str = "") -> DaemonSet:
    scenario = parse(NODES % node_b + DS % (spec, pod), "ds.yaml")
    ds = next(o for o in scenario.config.objects if isinstance(o, DaemonSet))
    return ds


def _nodes(node_b: str = "", spec: str = "", pod: str = "") -> tuple[DaemonSet, list[Node]]:
    scenario = parse(NODES % node_b + DS % (spec, pod), "ds.yaml")
    return (next(o for o in scenario.config.objects if isinstance(o, DaemonSet)),
            [o for o in scenario.config.objects if isinstance(o, Node)])


# --- the parser ----------------------------------------------------------------------------------------------


def test_a_daemonset_is_modelled_with_upstream_defaults() -> None:
    assert "DaemonSet" not in NOT_MODELLED
    ds = _parse()
    assert (ds.update_strategy, ds.max_unavailable, ds.max_surge, ds.revision_history_limit) == (
        "RollingUpdate", 1, 0, 10)
    assert not ds.host_network
    assert _parse(pod="      hostNetwork: true\n").host_network


@pytest.mark.parametrize(("spec", "message"), [
    ("  updateStrategy: {type: Recreate}\n",
     'spec.updateStrategy.type: Unsupported value: \'Recreate\': supported values: "OnDelete", "RollingUpdate"'),
    ("  updateStrategy: {rollingUpdate: {maxSurge: 1}}\n",
     "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when maxUnavailable is non-zero"),
    ("  updateStrategy: {rollingUpdate: {maxUnavailable: 0}}\n",
     "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"),
    ("  updateStrategy: {rollingUpdate: {maxUnavailable: 150%}}\n",
     'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%'),
    ("  minReadySeconds: 5\n", "spec.minReadySeconds: only 0 is modelled, got 5"),
    ("  replicas: 3\n", 'unknown field "spec.replicas"'),
])
def test_bad_daemonsets_are_refused_with_upstream_messages(spec: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        _parse(spec=spec)
    assert message in str(err.value)
    assert "document 3 (DaemonSet agent)" in str(err.value) and "\n" not in str(err.value)


def test_a_surge_needs_max_unavailable_zero_and_ondelete_is_read() -> None:
    ds = _parse(spec="  updateStrategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}\n")
    assert (ds.max_surge, ds.max_unavailable) == (1, 0) and dsc.allows_surge(ds)
    assert _parse(spec="  updateStrategy: {type: OnDelete}\n").update_strategy == "OnDelete"
    with pytest.raises(InputError, match="restartPolicy: Unsupported value: 'Never'"):
        _parse(pod="      restartPolicy: Never\n")


# --- NodeShouldRunDaemonPod ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("node_b", "pod", "expected"), [
    ("", "", (True, True)),
    ("spec: {taints: [{key: dedicated, effect: NoSchedule}]}", "", (False, True)),
    ("spec: {taints: [{key: dedicated, effect: NoExecute}]}", "", (False, False)),
    ("spec: {taints: [{key: node.kubernetes.io/not-ready, effect: NoExecute}]}", "", (True, True)),
    ("spec: {taints: [{key: node.kubernetes.io/unreachable, effect: NoExecute}]}", "", (True, True)),
    ("spec: {taints: [{key: node.kubernetes.io/memory-pressure, effect: NoSchedule}]}", "", (True, True)),
    ("spec: {taints: [{key: node.kubernetes.io/unschedulable, effect: NoSchedule}]}", "", (True, True)),
    ("spec: {taints: [{key: node.kubernetes.io/network-unavailable, effect: NoSchedule}]}", "", (False, True)),
    ("spec: {taints: [{key: node.kubernetes.io/network-unavailable, effect: NoSchedule}]}",
     "      hostNetwork: true\n", (True, True)),
    ("spec: {taints: [{key: dedicated, effect: NoExecute}]}",
     "      tolerations: [{key: dedicated, operator: Exists}]\n", (True, True)),
    ("spec: {unschedulable: true}", "", (True, True)),
    ("", "      nodeSelector: {disk: ssd}\n", (False, False)),
    ("metadata: {name: node-b, labels: {disk: ssd}}", "      nodeSelector: {disk: ssd}\n", (True, True)),
    ("", "      nodeName: node-a\n", (False, False)),
])
def test_node_should_run_daemon_pod(node_b: str, pod: str, expected: tuple[bool, bool]) -> None:
    if node_b.startswith("metadata"):
        text = (NODES % "").replace("metadata: {name: node-b}\n\n", node_b + "\n")
        scenario = parse(text + DS % ("", pod), "ds.yaml")
        ds = next(o for o in scenario.config.objects if isinstance(o, DaemonSet))
        nodes = [o for o in scenario.config.objects if isinstance(o, Node)]
    else:
        ds, nodes = _nodes(node_b, pod=pod)
    node = next(n for n in nodes if n.meta.name == "node-b")
    assert dsc.should_run(node, ds) == expected


def test_the_pod_is_pinned_by_match_fields_and_tolerates_the_node_problems() -> None:
    ds = _parse(pod="      affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
                    "{nodeSelectorTerms: [{matchExpressions: [{key: disk, operator: Exists}]}]}}}\n")
    pod = dsc.new_pod(ds, "node-b", dsc.current_hash(ds))
    (term,) = pod.info.affinity.node_required or ()
    assert term.match_expressions == ()  # ReplaceDaemonSetPodNodeNameNodeAffinity replaces every term
    assert term.match_fields == (FieldSelectorRequirement("metadata.name", "In", ("node-b",)),)
    assert dsc.target_node(pod) == "node-b" and not pod.node_name
    assert pod.meta.generate_name == "agent-" and pod.meta.owner is not None and pod.meta.owner.kind == "DaemonSet"
    assert pod.meta.label(CONTROLLER_REVISION_HASH) == dsc.current_hash(ds)
    keys = {(t.key, t.effect) for t in pod.info.tolerations}
    assert ("node.kubernetes.io/not-ready", "NoExecute") in keys
    assert ("node.kubernetes.io/network-unavailable", "NoSchedule") not in keys


# --- one sync ----------------------------------------------------------------------------------------------------


def _state(name: str):  # type: ignore[no-untyped-def]
    scenario = builtin(name)
    return scenario, initial_state(scenario.config)


def test_one_sync_creates_one_pod_per_node_and_sets_expectations() -> None:
    scenario, state = _state("daemonset-two-nodes")
    ctl = state.daemonsets
    assert ctl is not None and ctl.queue.queue == ("daemonsets/kube-system/fluentd",)
    session = Session(state.etcd, state.ghost)
    new, failed = dsc.sync(ctl, [], session, "daemonsets/kube-system/fluentd", dsc.Variants())
    assert not failed
    pods = [o for o in session.etcd.objects.values() if isinstance(o, Pod)]
    assert sorted(dsc.target_node(p) for p in pods) == ["node-a", "node-b"]
    assert new.expectations["daemonsets/kube-system/fluentd"].add == 2
    # unsatisfied expectations: the next sync writes the status and creates nothing
    again = Session(session.etcd, session.ghost)
    dsc.sync(new, [], again, "daemonsets/kube-system/fluentd", dsc.Variants())
    assert sum(isinstance(o, Pod) for o in again.etcd.objects.values()) == 2


def test_a_pending_pod_counts_for_its_target_node() -> None:
    """util.GetTargetNodeName (kubernetes#61387): a created, unbound pod is the node's daemon pod."""
    scenario, state = _state("daemonset-two-nodes")
    ctl = state.daemonsets
    assert ctl is not None
    key = "daemonsets/kube-system/fluentd"
    session = Session(state.etcd, state.ghost)
    dsc.sync(ctl, [], session, key, dsc.Variants())
    pods = [o for o in session.etcd.objects.values() if isinstance(o, Pod)]
    for variant, expected in ((dsc.Variants(), 2), (dsc.Variants(pending_by_node_name=True), 4)):
        again = Session(session.etcd, session.ghost)
        dsc.sync(ctl, pods, again, key, variant)  # ``ctl`` has no expectations: a sync as after observing them
        assert sum(isinstance(o, Pod) for o in again.etcd.objects.values()) == expected


def test_a_crash_loses_the_expectations() -> None:
    scenario, state = _state("daemonset-two-nodes")
    ctl = state.daemonsets
    assert ctl is not None
    key = "daemonsets/kube-system/fluentd"
    ctl = attrs.evolve(ctl, expectations=ctl.expectations.set(key, dsc.CountExpectation(1, 0, 1000)))
    state = state._with(daemonsets=ctl)
    from spec.component import Host, Process

    after = dsc.DAEMONSETS.restart(state, scenario.config, Process(Host.CONTROLLER_MANAGER, "kube-controller-manager"),
                                   state.etcd.revision)
    assert after.daemonsets is not None and not after.daemonsets.expectations
    assert after.daemonsets.queue.queue == (key,)


def test_the_slot_is_none_without_a_daemonset() -> None:
    scenario = builtin("web-two-nodes")
    assert initial_state(scenario.config).daemonsets is None
    assert dsc.DAEMONSETS.actors(scenario.config) == ()


# --- the model -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["daemonset-two-nodes", "daemonset-rolling-update", "daemonset-node-taint",
                                  "daemonset-node-joins", "daemonset-node-deleted"])
def test_the_daemonset_scenarios_hold(name: str) -> None:
    scenario = builtin(name)
    result = check(ClusterModel(scenario.config, scenario.reductions))
    assert result.status == "ok", result.verdict()
    verdicts = {v.name: v.status for v in result.properties}
    for prop in ("AtMostOneDaemonPodPerNode", "DaemonSetsConverge"):
        assert verdicts[prop] == "holds", result.verdict()


def test_the_variant_is_refuted_with_two_pods_for_one_node() -> None:
    scenario = with_overrides(builtin("daemonset-two-nodes"), ("daemonset-pending-by-nodename",))
    model = ClusterModel(scenario.config, scenario.reductions)
    result = check(model)
    assert result.violation is not None and result.violation.property == "AtMostOneDaemonPodPerNode"
    trace = result.violation.trace
    assert len(trace) <= 8
    explanation = model.explain("AtMostOneDaemonPodPerNode", trace[-1].state) or ""
    assert "has 2 pods for node" in explanation
    assert at_most_one_daemon_pod_per_node(trace[-2].state)


def test_the_variant_needs_a_daemonset() -> None:
    with pytest.raises(InputError, match="daemonset-pending-by-nodename needs a DaemonSet"):
        with_overrides(builtin("pod-two-nodes"), ("daemonset-pending-by-nodename",))


def test_the_rolling_update_replaces_every_pod_and_never_exceeds_max_unavailable() -> None:
    scenario = builtin("daemonset-rolling-update")
    model = ClusterModel(scenario.config, scenario.reductions)

    def updated(s) -> bool:  # type: ignore[no-untyped-def]
        pods = [p for p in s.etcd.objects.values() if isinstance(p, Pod)]
        return len(pods) == 2 and all(p.status.ready and p.containers[0].image.endswith("v1.8.2") for p in pods)

    from checker import always

    model.properties = (always("NotUpdated", lambda s: not updated(s)),)
    result = check(model)
    assert result.violation is not None  # the rollout completes on some behaviour
    final = result.violation.trace[-1].state
    ds = final.etcd.get("daemonsets/monitoring/node-exporter")
    assert isinstance(ds, DaemonSet)
    assert all(dsc.is_updated(p, dsc.current_hash(ds)) for p in final.etcd.objects.values() if isinstance(p, Pod))
    # at no step of it were both nodes without an available pod (maxUnavailable 1)
    for step in result.violation.trace:
        available = [p for p in step.state.etcd.objects.values()
                     if isinstance(p, Pod) and p.status.ready and not p.meta.deleting]
        assert available, "both nodes were without an available pod"


def test_the_max_unavailable_ghost_notes_a_deletion_below_the_bound() -> None:
    scenario, state = _state("daemonset-rolling-update")
    etcd = state.etcd
    key = "daemonsets/monitoring/node-exporter"
    assert dsc.note_unavailable(Ghost(), etcd, key) == Ghost()
    session = Session(etcd, Ghost())
    for p in [o for o in etcd.objects.values() if isinstance(o, Pod)]:
        session.delete(f"pods/{p.meta.namespace}/{p.meta.name}")
    assert dsc.note_unavailable(Ghost(), session.etcd, key).daemon_unavailable == {key}


# --- kubectl ---------------------------------------------------------------------------------------------------


def test_kubectl_taint_and_set_image_of_a_daemonset() -> None:
    scenario, state = _state("daemonset-node-joins")
    session = Session(state.etcd, state.ghost)
    untaint = kubectl.parse("kubectl taint nodes node-b dedicated=infra:NoSchedule-", "t")
    assert kubectl.run(untaint, session) == "node/node-b untainted"
    node = session.get("nodes/node-b")
    assert isinstance(node, Node) and node.info.taints == ()
    assert kubectl.run(untaint, session) == 'error: taint "dedicated:NoSchedule" not found'
    taint = kubectl.parse("kubectl taint nodes node-b dedicated=infra:NoExecute", "t")
    assert kubectl.run(taint, session) == "node/node-b tainted"
    node = session.get("nodes/node-b")
    assert isinstance(node, Node) and node.info.taints == (Taint("dedicated", "infra", "NoExecute"),)
    assert "already has dedicated taint(s)" in kubectl.run(taint, session)
    image = kubectl.parse("kubectl set image ds/cilium cilium-agent=cilium:v2 -n kube-system", "t")
    assert kubectl.run(image, session) == "daemonset.apps/cilium image updated"
    ds = session.get("daemonsets/kube-system/cilium")
    assert isinstance(ds, DaemonSet) and ds.template.containers[0].image == "cilium:v2" and ds.meta.generation == 2
    for bad in ("kubectl taint nodes node-b dedicated=infra", "kubectl taint nodes node-b k=v:Sometimes",
                "kubectl taint pods x k=v:NoSchedule"):
        with pytest.raises(InputError):
            kubectl.parse(bad, "t")


def test_the_daemonset_parses_in_kubespec_schedule_too() -> None:
    """``kubespec schedule`` expands DaemonSets itself (spec.scheduling.manifests): its pinned pods' matchFields
    are the node-name requirement the reduction layer renames."""
    from spec.scheduling.manifests import parse_manifests

    cluster = parse_manifests(NODES % "" + DS % ("", ""), "ds.yaml")
    pods = [p for p in cluster.pods]
    assert len(pods) == 2
    fields = {r.values for p in pods for t in p.affinity.node_required or () for r in t.match_fields}
    assert fields == {("node-a",), ("node-b",)}
    assert all(isinstance(r, FieldSelectorRequirement) for p in pods for t in p.affinity.node_required or ()
               for r in t.match_fields)


def test_the_store_takes_a_daemonset() -> None:
    ds = _parse()
    etcd = store([ds])
    stored = etcd.get("daemonsets/kube-system/agent")
    assert isinstance(stored, DaemonSet) and stored.meta.uid > 0


def _rolling(strategy: str):  # type: ignore[no-untyped-def]
    from importlib import resources

    text = resources.files("spec.scenarios").joinpath("daemonset-rolling-update.yaml").read_text()
    text = text.replace("updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}", strategy)
    text = text.replace("faults: {controllerManagerCrashes: 1}", "faults: {}")
    return parse(text, "rolling.yaml")


def test_a_surging_update_runs_the_new_pod_beside_the_old_one_and_never_leaves_a_node_without_one() -> None:
    """update.go's surge branch: maxUnavailable 0, maxSurge 1: a new pod is created next to each old one, and the old
    one is deleted once the new one is available; AtMostOneDaemonPodPerNode allows one of each revision."""
    scenario = _rolling("updateStrategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}")
    model = ClusterModel(scenario.config, scenario.reductions)
    result = check(model)
    assert result.status == "ok", result.verdict()

    from checker import always

    def two_on_a_node(s) -> bool:  # type: ignore[no-untyped-def]
        nodes = [p.node_name for p in s.etcd.objects.values() if isinstance(p, Pod) and not p.meta.deleting
                 and p.node_name]
        return len(nodes) != len(set(nodes))

    def a_node_without_an_available_pod(s) -> bool:  # type: ignore[no-untyped-def]
        ready = {p.node_name for p in s.etcd.objects.values() if isinstance(p, Pod) and p.status.ready}
        return len(ready) < 2

    model.properties = (always("NoSurge", lambda s: not two_on_a_node(s)),)
    result = check(model)
    assert result.violation is not None and result.violation.property == "NoSurge"
    model.properties = (always("NeverUnavailable", lambda s: not a_node_without_an_available_pod(s)),)
    result = check(model)
    assert result.status == "ok", result.verdict()


def test_on_delete_keeps_the_old_pods() -> None:
    scenario = _rolling("updateStrategy: {type: OnDelete}")
    result = check(ClusterModel(scenario.config, scenario.reductions))
    assert result.status == "ok", result.verdict()
    model = ClusterModel(scenario.config, scenario.reductions)

    from checker import always

    model.properties = (always("NoNewPod", lambda s: not any(
        isinstance(p, Pod) and p.containers[0].image.endswith("v1.8.2") for p in s.etcd.objects.values())),)
    assert check(model).status == "ok"


def test_deleting_the_daemonset_cascades_to_its_pods() -> None:
    """The garbage collector's graph has the DaemonSet informer's cache: ``kubectl delete daemonset`` (background)
    deletes its pods, and no dependent is left dangling."""
    from importlib import resources

    text = resources.files("spec.scenarios").joinpath("daemonset-node-joins.yaml").read_text()
    text = text.replace('userActions: ["kubectl taint nodes node-b dedicated=infra:NoSchedule-"]',
                        'userActions: ["kubectl delete daemonset cilium -n kube-system"]')
    scenario = parse(text, "delete.yaml")
    result = check(ClusterModel(scenario.config, scenario.reductions))
    assert result.status == "ok", result.verdict()
    verdicts = {v.name: v.status for v in result.properties}
    assert verdicts["NoOrphanedDependents"] == "holds"


def test_a_daemonset_under_controller_manager_leader_election_is_handed_over() -> None:
    """The DaemonSet controller runs in kube-controller-manager (spec.controllers.manager.Hosted): after the
    leader's crash nothing of it acts or waits until a replica leads again, whose DaemonSet controller starts
    afresh and creates the daemon pods (the exhaustive check with two replicas and a crash is beyond the suite's
    time: its first 3,000 states keep one daemon pod per node)."""
    from importlib import resources

    from spec import actions as A
    from spec.cluster import next_steps

    text = resources.files("spec.scenarios").joinpath("daemonset-two-nodes.yaml").read_text()
    assert "\nspec:\n" in text
    config = parse(text.replace("\nspec:\n", "\nspec:\n  leaderElection: {replicas: 2}\n", 1), "ds.yaml").config
    s = initial_state(config)
    s = next(t for a, t in next_steps(s, config) if A.describe(a) == "fault: crash and restart kcm-0")
    assert s.leader is not None and s.leader.active < 0 and s.daemonsets is not None
    assert not s.daemonsets.queue.queue and not s.daemonsets.expectations
    assert all(inf is None for inf in s.informers()[-len(s.daemonsets.informers):])
    assert not any(a.actor.startswith("daemonset") or a.actor == "kcm-daemonset-informers"
                   for a, _ in next_steps(s, config))
    for _ in range(40):  # the first steps that are not faults: a replica acquires, its controllers start
        if any(a.actor == "daemonset-controller" for a, _ in next_steps(s, config)):
            break
        s = next(t for a, t in next_steps(s, config) if "fault" not in A.describe(a))
    assert s.leader is not None and s.leader.active >= 0  # a replica leads again (the restarted one may)
    s = next(t for a, t in next_steps(s, config) if a.actor == "daemonset-controller")
    assert sum(1 for k in s.etcd.objects if k.startswith("pods/kube-system/fluentd-")) == 2
    result = check(ClusterModel(attrs.evolve(config, properties=("AtMostOneDaemonPodPerNode",))), max_states=3_000)
    assert result.status == "bounded", result.verdict()  # no violation in the first 3,000 states
