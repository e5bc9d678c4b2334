"""ReplicationControllers (spec/controllers/replication.py): the v1 parser with the API server's defaults and
validation, the replication manager (the ReplicaSet controller's code over its own slot), kubectl, the garbage
collector, and the properties that cover them."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from checker import check
from checker.cli import main
from checker.errors import InputError
from spec import cluster, kubectl
from spec.apiserver import Session, validate
from spec.cluster import initial_state
from spec.controllers import replicaset, replication
from spec.model import ClusterModel
from spec.reduction import ALL, NONE
from spec.scenario import NOT_MODELLED, builtin, load, parse, with_overrides
from spec.scheduling.types import LabelSelector, pairs
from spec.state import OwnerRef, Pod, ReplicaSet, ReplicationController, with_meta

FIXTURES = Path(__file__).parent / "fixtures"
SCENARIO = "replicationcontroller-three-two-running"
NODE = """apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
"""
RC = """---
apiVersion: %s
kind: ReplicationController
metadata: {name: web%s}
spec:
%s  template:
    metadata: {labels: {app: web%s}}
    spec:
%s      containers:
      - name: web
        image: nginx:1.25
"""


def _rc(spec: str = "", *, api: str = "v1", meta: str = "", labels: str = "", pod: str = "") -> ReplicationController:
    scenario = parse(NODE + RC % (api, meta, spec, labels, pod), "rc.yaml")
    return next(o for o in scenario.config.objects if isinstance(o, ReplicationController))


# --- the parser: upstream's defaults and validation ------------------------------------------------------------


def test_a_replication_controller_is_no_longer_refused() -> None:
    assert "ReplicationController" not in NOT_MODELLED


def test_defaults_replicas_one_and_the_selector_and_labels_from_the_template() -> None:
    """pkg/apis/core/v1/defaults.go SetDefaults_ReplicationController."""
    rc = _rc()
    assert rc.replicas == 1
    assert rc.selector == LabelSelector(pairs({"app": "web"}))
    assert rc.meta.labels == pairs({"app": "web"})


def test_a_given_selector_is_a_plain_map_matched_by_equality() -> None:
    rc = _rc("  replicas: 0\n  selector: {app: web}\n", labels=", tier: front")
    assert rc.replicas == 0
    assert rc.selector == LabelSelector(pairs({"app": "web"}))
    assert rc.selector.matches({"app": "web", "tier": "front"}) and not rc.selector.matches({"app": "db"})


@pytest.mark.parametrize(("spec", "kw", "message"), [
    ("  selector: {app: db}\n", {}, r"document 2 \(ReplicationController web\): ReplicationController \"web\" is "
     r"invalid: spec.template.metadata.labels: Invalid value: map\[string\]string\{\"app\":\"web\"\}: `selector` "
     r"does not match template `labels`"),
    ("  replicas: -1\n", {}, r"spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    ("  minReadySeconds: -5\n", {}, r"spec.minReadySeconds: Invalid value: -5: must be greater than or equal to 0"),
    ("", {"pod": "      restartPolicy: Never\n"}, r'spec.template.spec.restartPolicy: Unsupported value: "Never": '
     r'supported values: "Always"'),
    ("", {"pod": "      activeDeadlineSeconds: 30\n"}, r"spec.template.spec.activeDeadlineSeconds: Forbidden: "
     r"activeDeadlineSeconds in ReplicationController is not Supported"),
    ("  selector: {matchLabels: {app: web}}\n", {}, r"spec.selector.matchLabels: expected a string"),
    ("  replicas: 3\n  replica: 2\n", {}, r"unknown field"),
    ("", {"api": "apps/v1"}, r"apiVersion: expected v1, got 'apps/v1'"),
])
def test_invalid_documents_are_refused_with_upstreams_message(spec: str, kw: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _rc(spec, **kw)


def test_an_empty_selector_with_no_template_labels_is_required() -> None:
    """ValidateNonEmptySelector: after defaulting, the selector is empty only when the template has no labels."""
    text = NODE + RC.replace("    metadata: {labels: {app: web%s}}\n", "%s") % ("v1", "", "", "", "")
    with pytest.raises(InputError, match=r"ReplicationController \"web\" is invalid: spec.selector: Required value"):
        parse(text, "rc.yaml")


def test_the_template_is_required() -> None:
    with pytest.raises(InputError, match=r"spec.template: Required value"):
        parse(NODE + "---\napiVersion: v1\nkind: ReplicationController\nmetadata: {name: web}\nspec: {replicas: 1}\n",
              "rc.yaml")


def test_the_api_server_validates_writes_too() -> None:
    rc = _rc()
    assert validate(attrs.evolve(rc, replicas=-2)) == ('ReplicationController "web" is invalid: spec.replicas: '
                                                       'Invalid value: -2: must be greater than or equal to 0')
    assert validate(attrs.evolve(rc, selector=LabelSelector(pairs({"app": "x"})))) is not None
    assert validate(rc) is None


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(NODE + RC % ("v1", "", "  selector: {app: db}\n", "", ""))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "bad.yaml: document 2 (ReplicationController web)" in result.output
    assert "`selector` does not match template `labels`" in result.output


def test_under_leader_election_the_replication_manager_is_handed_over() -> None:
    """Hosted by kube-controller-manager (spec.controllers.manager.Hosted): while no replica acts it has no step
    and nothing of it is kept (``stopped``); a replica that starts acting starts it afresh (``restart``)."""
    config = load(FIXTURES / "ha-rc.yaml").config
    state = initial_state(config)
    assert state.leader is not None and state.rcs is not None
    idle = state._with(leader=attrs.evolve(state.leader, active=-1, frozen=-1))
    idle = replication.REPLICATION_MANAGER.stopped(idle)
    assert idle.rcs is not None and not idle.rcs.queue.queue and not idle.rcs.informer.cache
    assert not list(replication.REPLICATION_MANAGER.steps(idle, config))
    assert None in idle.informers()[-1:]  # its slot is absent while stopped


@pytest.mark.slow
def test_under_leader_election_with_a_pause_every_property_holds() -> None:
    """tests/spec/fixtures/ha-rc.yaml: 31,039 states (renumbering only; leader election turns the others off)."""
    result = check(ClusterModel(load(FIXTURES / "ha-rc.yaml").config))
    assert result.status == "ok", result.verdict()
    status = {p.name: p.status for p in result.properties}
    assert status["EventualReplicaConvergence"] == "holds" and status["AtMostOneActingLeader"] == "holds"


# --- the controller: the ReplicaSet controller's code, its own kind, queue and expectations ---------------------


def test_the_replication_manager_has_its_own_slot_and_creates_pods_it_controls() -> None:
    state = initial_state(builtin(SCENARIO).config)
    ctl = state.rcs
    assert ctl is not None and ctl.queue.queue == ("replicationcontrollers/default/web",)
    assert state.kcm.rs_queue.queue == () and not state.kcm.expectations  # not the ReplicaSet controller's
    session = Session(state.etcd, state.ghost)
    new, failed = replication.reconcile(ctl, replication.shared_pods(state), session,
                                        "replicationcontrollers/default/web")
    assert not failed
    pods = [p for p in session.etcd.of("pods") if isinstance(p, Pod)]
    rc = session.etcd.get("replicationcontrollers/default/web")
    assert isinstance(rc, ReplicationController)
    # two orphans adopted (ClaimPods) and one pod created, every one controlled by the ReplicationController
    assert sorted(p.meta.name for p in pods) == ["web-1", "web-2", "web-bbbbb"]
    assert {p.meta.owner for p in pods} == {OwnerRef("ReplicationController", "web", rc.meta.uid)}
    assert new.expectations["replicationcontrollers/default/web"].add == 1  # its own expectations
    # calculateStatus counts the pods it claimed before manageReplicas: the new one is seen on a later sync
    assert rc.status.replicas == 2 and rc.status.observed_generation == 1
    assert any("SuccessfulCreate" in e for e in session.events)


def test_a_replicaset_ignores_pods_controlled_by_a_replication_controller() -> None:
    """The handlers and ClaimPods look at the controller's kind (controllerKind): a ReplicaSet selecting the same
    labels neither counts nor adopts them, and the replication manager ignores the ReplicaSet's."""
    rc = _rc()
    pod = with_meta(replicaset.new_pod(rc), name="web-x", uid=9)
    assert pod.meta.owner is not None and pod.meta.owner.kind == "ReplicationController"
    assert replicaset.owner_key_of_pod(pod, "ReplicaSet") is None  # type: ignore[arg-type]
    assert replicaset.owner_key_of_pod(pod, "ReplicationController") == "replicationcontrollers/default/web"  # type: ignore[arg-type]
    rs = ReplicaSet(rc.meta, 1, rc.selector, rc.template)
    assert replicaset.new_pod(rs).meta.owner == OwnerRef("ReplicaSet", "web", 0)


# --- kubectl ---------------------------------------------------------------------------------------------------


def test_kubectl_scales_and_deletes_replication_controllers() -> None:
    assert {"scale replicationcontrollers", "delete replicationcontrollers",
            "delete replicationcontrollers --cascade=orphan"} <= set(kubectl.FORMS)
    state = initial_state(builtin(SCENARIO).config)
    session = Session(state.etcd, state.ghost)
    out = kubectl.run(kubectl.parse("kubectl scale rc/web --replicas=5", "t"), session)
    assert out == "replicationcontroller/web scaled"
    rc = session.etcd.get("replicationcontrollers/default/web")
    assert isinstance(rc, ReplicationController) and rc.replicas == 5 and rc.meta.generation == 2
    out = kubectl.run(kubectl.parse("kubectl delete replicationcontroller web --cascade=orphan", "t"), session)
    assert out == 'replicationcontroller "web" deleted'
    assert kubectl.run(kubectl.parse("kubectl scale rc/nope --replicas=1", "t"), session) == \
        'Error from server (NotFound): replicationcontrollers "nope" not found'
    delete = kubectl.parse("kubectl delete rc/web", "t")
    assert (delete.verb, delete.resource, delete.name, delete.cascade) == ("delete", "replicationcontrollers", "web",
                                                                         "background")
    with pytest.raises(InputError, match="usage: kubectl delete replicationcontroller NAME"):
        kubectl.parse("kubectl delete rc -l app=web", "t")


# --- model checking: the properties cover ReplicationControllers ---------------------------------------------


def test_the_builtin_scenario_converges_and_its_convergence_is_not_vacuous() -> None:
    result = check(ClusterModel(builtin(SCENARIO).config))
    assert result.status == "ok", result.verdict()
    status = {p.name: p.status for p in result.properties}
    for name in ("EventualReplicaConvergence", "RolloutEventuallyCompletes", "ReplicaSetsConvergeOnHealthyNodes",
                 "ReplicaSetNeverOvershoots"):
        assert status[name] == "holds", (name, status[name])


def test_without_expectations_the_replication_manager_overshoots() -> None:
    """The mutation: kubernetes#7561's controller (no expectations) run over ReplicationControllers."""
    config = with_overrides(builtin(SCENARIO), variants=("no-expectations",)).config
    for reductions in (ALL, NONE):
        result = check(ClusterModel(config, reductions), max_states=200_000)
        assert result.status == "violation" and result.violation is not None
        assert result.violation.property == "ReplicaSetNeverOvershoots"
        last = result.violation.trace[-1].action
        assert last.actor == "replication-controller"


def test_without_the_replication_manager_convergence_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The properties see ReplicationControllers: with the controller taken out of the composition, a
    ReplicationController of 3 with 2 pods never converges (the property would be vacuous if it ignored them)."""
    components = tuple(c for c in cluster.COMPONENTS if c is not replication.REPLICATION_MANAGER)
    monkeypatch.setattr(cluster, "COMPONENTS", components)
    config = attrs.evolve(builtin(SCENARIO).config, properties=("EventualReplicaConvergence",))
    result = check(ClusterModel(config))
    assert result.status == "violation", result.verdict()
    assert result.violation is not None and result.violation.property == "EventualReplicaConvergence"


def test_a_controller_manager_crash_loses_the_replication_managers_memory() -> None:
    """The replication manager is hosted by kube-controller-manager: a crash restarts it (a fresh queue and
    expectations, its informer relisted after the shared pod informer, every ReplicationController queued), and
    the scaled ReplicationController still converges."""
    from spec import actions as A

    scenario = load(FIXTURES / "rc-scale-crash.yaml")
    model = ClusterModel(scenario.config, NONE)
    state = next(iter(model.init_states()))
    crashed = [t for a, t in model.successors(state)
               if isinstance(a, A.Fault) and a.target == "kube-controller-manager"]
    assert len(crashed) == 1
    ctl = crashed[0].rcs
    assert ctl is not None and ctl.queue.queue == ("replicationcontrollers/default/web",) and not ctl.expectations
    assert ctl.informer.rv == crashed[0].etcd.revision and "replicationcontrollers/default/web" in ctl.informer.cache
    result = check(ClusterModel(scenario.config))
    assert result.status == "ok", result.verdict()
    assert {p.name: p.status for p in result.properties}["EventualReplicaConvergence"] == "holds"


def test_deleting_a_replication_controller_deletes_its_pods() -> None:
    """kubectl delete rc (background): the garbage collector deletes the pods whose ownerReference names it."""
    result = check(ClusterModel(load(FIXTURES / "rc-delete.yaml").config))
    assert result.status == "ok", result.verdict()
    assert {p.name: p.status for p in result.properties}["NoOrphanedDependents"] == "holds"


def test_an_orphaned_pod_is_not_adopted_back_unless_the_guard_is_gone() -> None:
    """kubectl delete rc --cascade=orphan holds OrphansStayOrphaned; the gc-readoption variant (no adoption guard:
    kubernetes#42639) breaks it for a ReplicationController as for a ReplicaSet."""
    scenario = load(FIXTURES / "rc-orphan.yaml")
    result = check(ClusterModel(scenario.config))
    assert result.status == "ok", result.verdict()
    assert {p.name: p.status for p in result.properties}["OrphansStayOrphaned"] == "holds"
    broken = check(ClusterModel(with_overrides(scenario, variants=("gc-readoption",)).config))
    assert broken.violation is not None and broken.violation.property == "OrphansStayOrphaned"


def test_kubectl_get_rc_and_the_trace_tools_name_the_replication_manager() -> None:
    from spec.display import display, tables, view_replicasets

    state = initial_state(builtin(SCENARIO).config)
    titles = {t["title"]: t for t in tables(state)}
    assert titles["replicationcontrollers"]["columns"] == ["NAME", "DESIRED", "CURRENT", "READY", "IMAGES"]
    assert titles["replicationcontrollers"]["rows"] == [["web", 3, 0, 0, "nginx:1.25"]]
    assert display(state)["replication-controller"]["queue"] == ["replicationcontrollers/default/web"]
    assert view_replicasets(state) == "rc web 0/3 ready"
