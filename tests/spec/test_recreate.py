"""The Deployment controller's Recreate strategy (spec/controllers/deployment.py, upstream
pkg/controller/deployment/recreate.go), its property RecreateRevisionsNeverOverlap, the variant recreate-no-pod-wait
(kubernetes#27362) and the finding docs/findings/recreate-overlap.yaml."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import immutables
import pytest
from click.testing import CliRunner

from checker import check, sometimes
from checker.cli import main
from checker.errors import InputError
from spec.apiserver import Session, store
from spec.controllers import deployment, manager
from spec.model import ClusterModel
from spec.properties import PROPERTIES
from spec.scenario import builtin, load, parse
from spec.state import (
    ClusterState,
    ControllerManager,
    Deployment,
    Ghost,
    Informer,
    Meta,
    Object,
    OwnerRef,
    Pod,
    PodStatus,
    ReplicaSet,
    object_key,
)

ROOT = Path(__file__).parents[2]
FINDING = ROOT / "docs" / "findings" / "recreate-overlap.yaml"
FINDING_TRACE = FINDING.with_name("recreate-overlap.trace.txt")
OLD_HASH = "old"


def _text() -> str:
    return (ROOT / "spec" / "scenarios" / "recreate-rollout.yaml").read_text()


def _deployment(text: str) -> Deployment:
    return next(o for o in parse(text, "t.yaml").config.objects if isinstance(o, Deployment))


def test_the_strategy_is_read_and_validated_as_the_api_server_does() -> None:
    assert _deployment(_text()).strategy == "Recreate"
    assert _deployment(_text().replace("  strategy: {type: Recreate}\n", "")).strategy == "RollingUpdate"
    with pytest.raises(InputError, match=r"spec.strategy.rollingUpdate: Forbidden: may not be specified when "
                                         r"strategy `type` is 'Recreate'"):
        parse(_text().replace("{type: Recreate}", "{type: Recreate, rollingUpdate: {maxSurge: 1}}"), "t.yaml")
    with pytest.raises(InputError, match=r"spec.strategy.type: Unsupported value: 'BlueGreen'"):
        parse(_text().replace("{type: Recreate}", "{type: BlueGreen}"), "t.yaml")


def test_recreate_has_no_surge_and_no_unavailability() -> None:
    d = attrs.evolve(_deployment(_text()), replicas=4, max_surge=2, max_unavailable=1)
    assert (deployment.max_surge(d), deployment.max_unavailable(d)) == (0, 0)
    rolling = attrs.evolve(d, strategy="RollingUpdate")
    assert (deployment.max_surge(rolling), deployment.max_unavailable(rolling)) == (2, 1)


def _upgraded(old_pod: str | None, old_status_replicas: int = 0) -> tuple[Session, ControllerManager]:
    """A Recreate Deployment whose template changed after its old ReplicaSet was scaled to 0, with (unless
    ``old_pod`` is None) one pod of the old ReplicaSet in phase ``old_pod`` ("Terminating": Running, being
    deleted); and a controller manager whose caches show all of it."""
    d = _deployment(_text())
    old_labels = (("app", "db"), ("pod-template-hash", OLD_HASH))
    rs = ReplicaSet(meta=Meta(name="db-old", labels=old_labels, owner=OwnerRef("Deployment", "db", 1)),
                    replicas=0, selector=d.selector, template=d.template.with_labels(old_labels))
    objects: list[Object] = [d, rs]
    if old_pod is not None:
        objects.append(Pod(meta=Meta(name="db-old-x", labels=old_labels, owner=OwnerRef("ReplicaSet", "db-old", 2),
                                     deleting=old_pod == "Terminating"),
                           containers=d.template.containers, info=d.template.info,
                           status=PodStatus(phase="Running" if old_pod == "Terminating" else old_pod)))
    etcd = store(objects)
    session = Session(etcd, Ghost())
    stored = etcd.objects["replicasets/default/db-old"]
    assert isinstance(stored, ReplicaSet)
    session.patch("replicasets/default/db-old", attrs.evolve(stored, status=attrs.evolve(
        stored.status, replicas=old_status_replicas, observed_generation=stored.meta.generation)))
    current = session.etcd.objects["deployments/default/db"]
    assert isinstance(current, Deployment)
    session.patch("deployments/default/db", attrs.evolve(current, template=current.template.with_labels(
        (("app", "db"), ("tier", "v2")))))
    return session, _kcm(session)


def _kcm(session: Session) -> ControllerManager:
    by_resource: dict[str, dict[str, Object]] = {"deployments": {}, "replicasets": {}, "pods": {}}
    for key, obj in session.etcd.objects.items():
        by_resource[key.split("/", 1)[0]][key] = obj
    rv = session.etcd.revision
    return ControllerManager(informers=tuple(Informer(rv, immutables.Map(by_resource[r]))
                                             for r in ("deployments", "replicasets", "pods")))


def _new_replicasets(session: Session) -> list[ReplicaSet]:
    return [o for o in session.etcd.objects.values() if isinstance(o, ReplicaSet) and o.meta.name != "db-old"]


@pytest.mark.parametrize(("old_pod", "status_replicas", "creates"), [
    (None, 0, True),             # nothing of the old revision left: the new ReplicaSet is created at full size
    ("Terminating", 0, False),   # a Terminating pod still counts (oldPodsRunning)
    ("Running", 0, False),
    ("Succeeded", 0, True),      # a pod in a terminal phase does not (PR #60301)
    ("Failed", 0, True),
    (None, 1, False),            # the old ReplicaSet's status still reports a replica
])
def test_the_rollout_waits_for_the_old_revisions_pods(old_pod: str | None, status_replicas: int,
                                                      creates: bool) -> None:
    session, kcm = _upgraded(old_pod, status_replicas)
    _, failed = deployment.sync(kcm, session, "deployments/default/db")
    assert not failed
    new = _new_replicasets(session)
    assert bool(new) == creates
    if creates:
        assert new[0].replicas == 1 and new[0].meta.annotation("deployment.kubernetes.io/max-replicas") == "1"


def test_without_waiting_for_pods_a_terminating_pod_is_ignored() -> None:
    """The variant recreate-no-pod-wait (kubernetes#27362): only the ReplicaSets' replicas are waited for."""
    session, kcm = _upgraded("Terminating")
    deployment.sync(kcm, session, "deployments/default/db", waits_for_pods=False)
    assert _new_replicasets(session)


def test_the_last_old_pods_deletion_enqueues_the_deployment() -> None:
    """deletePod: a Recreate Deployment is synced when none of its pods that count is left."""
    session, kcm = _upgraded("Terminating")
    pod = session.etcd.objects["pods/default/db-old-x"]
    assert isinstance(pod, Pod)
    gone = attrs.evolve(kcm, informers=(*kcm.informers[:2], Informer(kcm.informers[2].rv, immutables.Map())))
    assert "deployments/default/db" in manager.handle(gone, object_key(pod), pod, None).deploy_queue.queue
    # a pod of a RollingUpdate Deployment, or one whose ReplicaSet still has pods, enqueues nothing
    assert "deployments/default/db" not in manager.handle(kcm, object_key(pod), pod, None).deploy_queue.queue
    d = gone.get("deployments/default/db")
    assert isinstance(d, Deployment)
    rolling = attrs.evolve(gone, informers=(
        Informer(gone.informers[0].rv, immutables.Map({"deployments/default/db": attrs.evolve(
            d, strategy="RollingUpdate")})), *gone.informers[1:]))
    assert "deployments/default/db" not in manager.handle(rolling, object_key(pod), pod, None).deploy_queue.queue


def _new_revision_runs(s: ClusterState) -> bool:
    return any(isinstance(p, Pod) and p.status.phase == "Running" and p.containers[0].image == "postgres:16.4"
               for p in s.etcd.objects.values())


def test_the_upgrade_completes_and_never_overlaps() -> None:
    """recreate-rollout: RecreateRevisionsNeverOverlap holds, and not vacuously: the new revision does run."""
    scenario = builtin("recreate-rollout")
    model = ClusterModel(scenario.config, scenario.reductions)
    model.properties = (*model.properties, sometimes("NewRevisionRuns", _new_revision_runs))
    result = check(model)
    assert result.status == "ok", result.verdict()
    assert {p.name: p.status for p in result.properties}["NewRevisionRuns"] == "holds"
    assert {p.name: p.status for p in result.properties}["RecreateRevisionsNeverOverlap"] == "holds"


def _steps(lines: list[str]) -> list[str]:
    """The step headers, each pod-template-hash named by its order of appearance."""
    names: dict[str, str] = {}

    def name(match: re.Match[str]) -> str:
        return "db-" + names.setdefault(match.group(1), f"<hash{len(names) + 1}>")

    return [re.sub(r"db-([a-z0-9]{6,})", name, line) for line in lines if line.startswith("Step ")]


def test_the_finding_a_pod_deleted_during_the_upgrade_overlaps_the_revisions() -> None:
    """docs/findings/recreate-overlap.yaml: upstream's documented promise for Recreate upgrades fails when a pod is
    deleted during the upgrade (17 steps in the reduced graph)."""
    assert PROPERTIES["RecreateRevisionsNeverOverlap"].finding
    assert load(FINDING).config.properties == ("RecreateRevisionsNeverOverlap",)
    result = CliRunner().invoke(main, ["check", str(FINDING)])
    assert result.exit_code == 1, result.output
    assert "a shortest counterexample of the reduced graph, 17 steps" in result.output
    assert "Deployment default/db (Recreate) has pods of more than one ReplicaSet" in result.output


@pytest.mark.slow
def test_the_findings_trace_is_the_shortest_of_the_plain_relation() -> None:
    """docs/findings/recreate-overlap.trace.txt is `kubespec check docs/findings/recreate-overlap.yaml
    --no-reduction`: 14 steps (162,875 states generated, about 10 CPU-seconds)."""
    result = CliRunner().invoke(main, ["check", str(FINDING), "--no-reduction"])
    assert result.exit_code == 1, result.output
    assert "a shortest counterexample, 14 steps" in result.output
    assert _steps(result.output.splitlines()) == _steps(FINDING_TRACE.read_text().splitlines())
