"""minReadySeconds and spec.paused for ReplicaSets and Deployments (spec/controllers/replicaset.py, deployment.py,
spec/kubectl.py): the scenario parser's checks, availability (upstream pkg/api/v1/pod/util.go IsPodAvailable) with
the ReplicaSet controller's requeues (replica_set.go updatePod, syncReplicaSet), pausing (deployment_controller.go
syncDeployment, checkPausedConditions), `kubectl rollout pause|resume`, RolloutEventuallyCompletes' premise for a
paused Deployment, AvailabilityNeverWaitsForResync and the variant no-minready-requeue (kubernetes#41641)."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import immutables
import pytest
from click.testing import CliRunner

from checker import check, sometimes
from checker.cli import main
from checker.errors import InputError
from spec import actions as A
from spec import kubectl
from spec.apiserver import Session, store
from spec.cluster import busy, initial_state, next_steps
from spec.config import Config
from spec.controllers import deployment, replicaset
from spec.model import ClusterModel
from spec.properties import PROPERTIES, replicas_converged, rollouts_complete
from spec.reflector import caught_up
from spec.scenario import builtin, parse
from spec.state import (
    Budget,
    ClusterState,
    ControllerManager,
    Deployment,
    Etcd,
    Ghost,
    Informer,
    Meta,
    Object,
    OwnerRef,
    Pod,
    PodStatus,
    Readiness,
    ReplicaSet,
    WorkQueue,
    object_key,
)

RS_KEY = "replicasets/default/web"


def _scenario(min_ready: str = "", paused: str = "", kind: str = "Deployment", extra: str = "") -> str:
    return f"""apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {{name: t}}
spec: {{}}
---
apiVersion: v1
kind: Node
metadata: {{name: node-a}}
status: {{allocatable: {{cpu: "2", memory: 2Gi, pods: "110"}}}}
---
apiVersion: apps/v1
kind: {kind}
metadata: {{name: web}}
spec:
  replicas: 1{min_ready}{paused}{extra}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - {{name: web, image: "nginx:1.25"}}
"""


def _workload(text: str) -> Deployment | ReplicaSet:
    return next(o for o in parse(text, "t.yaml").config.objects if isinstance(o, Deployment | ReplicaSet))


# --- the scenario parser -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_min_ready_seconds_is_read(kind: str) -> None:
    assert _workload(_scenario("\n  minReadySeconds: 10", kind=kind)).min_ready_seconds == 10
    assert _workload(_scenario(kind=kind)).min_ready_seconds == 0


@pytest.mark.parametrize(("value", "message"), [
    ("-1", r"t.yaml: document 3 \(Deployment web\): spec.minReadySeconds: Invalid value: -1: must be greater than "
           r"or equal to 0"),
    ("ten", r"spec.minReadySeconds: expected an integer, got 'ten'"),
    ("true", r"spec.minReadySeconds: expected an integer, got True"),
    ("2147483648", r"spec.minReadySeconds: 2147483648 does not fit in int32"),
])
def test_bad_min_ready_seconds_are_refused_as_the_api_server_does(value: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse(_scenario(f"\n  minReadySeconds: {value}"), "t.yaml")


def test_the_progress_deadline_must_exceed_min_ready_seconds() -> None:
    """apps/validation ValidateDeploymentSpec; progressDeadlineSeconds defaults to 600 in apps/v1."""
    with pytest.raises(InputError, match=r"spec.progressDeadlineSeconds: Invalid value: 600: must be greater than "
                                         r"minReadySeconds"):
        parse(_scenario("\n  minReadySeconds: 600"), "t.yaml")
    with pytest.raises(InputError, match=r"spec.progressDeadlineSeconds: Invalid value: 30: must be"):
        parse(_scenario("\n  minReadySeconds: 30", extra="\n  progressDeadlineSeconds: 30"), "t.yaml")
    assert _workload(_scenario("\n  minReadySeconds: 600", extra="\n  progressDeadlineSeconds: 601")
                     ).min_ready_seconds == 600
    with pytest.raises(InputError, match=r"spec.progressDeadlineSeconds: Invalid value: -5: must be greater than "
                                         r"or equal to 0"):
        parse(_scenario(extra="\n  progressDeadlineSeconds: -5"), "t.yaml")


def test_paused_is_read_and_must_be_a_boolean() -> None:
    d = _workload(_scenario(paused="\n  paused: true"))
    assert isinstance(d, Deployment) and d.paused
    assert not _workload(_scenario(paused="\n  paused: false")).paused  # type: ignore[union-attr]
    with pytest.raises(InputError, match=r"spec.paused: expected a boolean, got 'yes please'"):
        parse(_scenario(paused="\n  paused: yes please"), "t.yaml")
    with pytest.raises(InputError, match=r"unknown field \"paused\"|spec.paused"):
        parse(_scenario(paused="\n  paused: true", kind="ReplicaSet"), "t.yaml")


def test_a_bad_value_is_one_line_and_exit_2(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "bad.yaml"
    path.write_text(_scenario("\n  minReadySeconds: -3"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"error: {path}: document 3 (Deployment web): spec.minReadySeconds: Invalid value: -3: must be "
                     "greater than or equal to 0"], result.output


# --- kubectl rollout pause / resume ------------------------------------------------------------------------


def test_rollout_pause_and_resume_are_parsed_as_kubectl_names_them() -> None:
    c = kubectl.parse("kubectl rollout pause deployment/web", "u")
    assert (c.verb, c.resource, c.name) == ("rollout-pause", "deployments", "web")
    c = kubectl.parse("kubectl rollout resume deploy web -n shop", "u")
    assert (c.verb, c.name, c.namespace) == ("rollout-resume", "web", "shop")
    for bad in ("kubectl rollout pause", "kubectl rollout pause replicaset/web",
                "kubectl rollout resume deployment/web x", "kubectl rollout pause deployment/web --to-revision=2"):
        with pytest.raises(InputError, match=r"^u: "):
            kubectl.parse(bad, "u")


def _session(*objects: Object) -> Session:
    return Session(store(list(objects)), Ghost())


def _deployment(**changes: object) -> Deployment:
    d = _workload(_scenario())
    assert isinstance(d, Deployment)
    return attrs.evolve(d, **changes)


def test_pause_and_resume_patch_spec_paused_and_refuse_a_no_op() -> None:
    session = _session(_deployment())
    run = lambda line: kubectl.run(kubectl.parse(line, "u"), session)  # noqa: E731
    assert run("kubectl rollout resume deployment/web") == 'error: deployments.apps "web" is not paused'
    assert run("kubectl rollout pause deployment/web") == "deployment.apps/web paused"
    stored = session.etcd.objects["deployments/default/web"]
    assert isinstance(stored, Deployment) and stored.paused and stored.meta.generation == 2
    assert run("kubectl rollout pause deployment/web") == 'error: deployments.apps "web" is already paused'
    assert run("kubectl rollout undo deployment/web").startswith("error: you cannot rollback a paused deployment")
    assert run("kubectl rollout resume deployment/web") == "deployment.apps/web resumed"
    stored = session.etcd.objects["deployments/default/web"]
    assert isinstance(stored, Deployment) and not stored.paused
    assert run("kubectl rollout pause deployment/nope") == 'Error from server (NotFound): deployments.apps "nope" ' \
                                                          "not found"


# --- availability and the ReplicaSet controller's requeues -------------------------------------------------


def _pod(ready: bool = True, restarts: int = 0, uid: int = 2) -> Pod:
    """A pod of ``_rs()`` (stored first: uid 1; ``store`` numbers uids in order)."""
    rs = _rs()
    return Pod(meta=Meta(name=f"web-{uid}", uid=uid, labels=rs.template.labels, owner=OwnerRef("ReplicaSet", "web", 1)),
               containers=rs.template.containers, info=rs.template.info,
               status=PodStatus(phase="Running", ready=ready, restarts=restarts))


def _versioned(pod: Pod, rv: int) -> Pod:
    return attrs.evolve(pod, meta=attrs.evolve(pod.meta, resource_version=rv))


def _rs(min_ready: int = 10, replicas: int = 1) -> ReplicaSet:
    rs = _workload(_scenario(kind="ReplicaSet"))
    assert isinstance(rs, ReplicaSet)
    return attrs.evolve(rs, meta=attrs.evolve(rs.meta, uid=1), replicas=replicas, min_ready_seconds=min_ready)


def _ages(*entries: tuple[int, int, int], margin: int = 1_000, requeues: bool = True) -> Readiness:
    return Readiness(cap=10_001, margin_ms=margin, requeues=requeues,
                     ages=immutables.Map({uid: (restarts, ms) for uid, restarts, ms in entries}))


def test_a_pod_is_available_only_after_min_ready_seconds_strictly() -> None:
    pod = _pod()
    assert replicaset.available(pod, 0, None)
    assert not replicaset.available(pod, 10, _ages((2, 0, 10_000)))  # Before is strict: not at the very instant
    assert replicaset.available(pod, 10, _ages((2, 0, 10_001)))
    assert not replicaset.available(pod, 10, _ages((2, 1, 10_001)))  # another Ready transition (after a restart)
    assert not replicaset.available(pod, 10, _ages())                 # turned Ready since the last Tick
    assert not replicaset.available(_pod(ready=False), 0, None)


def test_each_tick_ages_the_ready_pods_and_forgets_the_others() -> None:
    r = _ages((7, 0, 4_000), (8, 0, 9_000))
    objects = immutables.Map({"pods/default/a": _pod(uid=7), "pods/default/b": _pod(uid=9),
                              "pods/default/c": _pod(ready=False, uid=8)})
    aged = replicaset.aged(r, objects, 5_000)
    assert dict(aged.ages) == {7: (0, 9_000), 9: (0, 5_000)}
    assert dict(replicaset.aged(aged, objects, 5_000).ages) == {7: (0, 10_001), 9: (0, 10_000)}  # saturated at cap
    restarted = immutables.Map({"pods/default/a": _pod(uid=7, restarts=1)})
    assert dict(replicaset.aged(aged, restarted, 1_000).ages) == {7: (1, 1_000)}


def _kcm(session: Session) -> ControllerManager:
    by: dict[str, dict[str, Object]] = {"deployments": {}, "replicasets": {}, "pods": {}}
    for key, obj in session.etcd.objects.items():
        by[key.split("/", 1)[0]][key] = obj
    rv = session.etcd.revision
    return ControllerManager(informers=tuple(Informer(rv, immutables.Map(by[r]))
                                             for r in ("deployments", "replicasets", "pods")))


def _synced(readiness: Readiness | None, rs: ReplicaSet | None = None, *pods: Pod
            ) -> tuple[ControllerManager, ReplicaSet]:
    session = _session(rs or _rs(), *(pods or (_pod(),)))
    kcm, failed = replicaset.sync(_kcm(session), session, RS_KEY, readiness=readiness)
    assert not failed
    stored = session.etcd.objects[RS_KEY]
    assert isinstance(stored, ReplicaSet)
    return kcm, stored


def test_sync_counts_available_pods_and_requeues_while_some_ready_pod_is_not() -> None:
    """syncReplicaSet: "Resync the ReplicaSet after MinReadySeconds as a last line of defense"."""
    kcm, rs = _synced(_ages((2, 0, 3_000)))
    assert (rs.status.ready_replicas, rs.status.available_replicas) == (1, 0)
    assert dict(kcm.rs_queue.waiting) == {RS_KEY: 10_000}
    kcm, rs = _synced(_ages((2, 0, 10_001)))
    assert rs.status.available_replicas == 1 and not kcm.rs_queue.waiting
    # not every pod ready: no requeue from syncReplicaSet (kubernetes#108266's gap), the pods' own requeues count
    kcm, rs = _synced(_ages((2, 0, 3_000)), _rs(replicas=2), _pod(), _pod(ready=False, uid=3))
    assert rs.status.available_replicas == 0 and not kcm.rs_queue.waiting
    # without minReadySeconds nothing is requeued and ready is available
    kcm, rs = _synced(None, _rs(min_ready=0))
    assert rs.status.available_replicas == 1 and not kcm.rs_queue.waiting


def test_the_variant_does_not_requeue_from_sync() -> None:
    kcm, rs = _synced(_ages((2, 0, 3_000), margin=0, requeues=False))
    assert rs.status.available_replicas == 0 and not kcm.rs_queue.waiting


def test_a_pod_turning_ready_requeues_its_replicaset_after_min_ready_seconds_and_a_second() -> None:
    rs = _rs()
    session = _session(rs, _pod(ready=False))
    kcm = _kcm(session)
    before, after = _pod(ready=False), _versioned(_pod(), 2)  # an update: another resourceVersion
    turned = replicaset.on_pod(kcm, "pods/default/web-2", before, after, _ages())
    assert turned.rs_queue.queue == (RS_KEY,) and dict(turned.rs_queue.waiting) == {RS_KEY: 11_000}
    assert dict(replicaset.on_pod(kcm, "pods/default/web-2", before, after, _ages(margin=0)).rs_queue.waiting) == {
        RS_KEY: 10_000}
    # an earlier deadline is kept (the delaying queue's insert), a later one dropped
    early = attrs.evolve(kcm, rs_queue=WorkQueue(waiting=((RS_KEY, 4_000),)))
    assert dict(replicaset.on_pod(early, "pods/default/web-2", before, after, _ages()).rs_queue.waiting) == {
        RS_KEY: 4_000}
    # no requeue when the pod was ready already, or without minReadySeconds
    assert not replicaset.on_pod(kcm, "pods/default/web-2", after, _versioned(after, 3), _ages()).rs_queue.waiting
    session = _session(_rs(min_ready=0), _pod(ready=False))
    assert not replicaset.on_pod(_kcm(session), "pods/default/web-2", before, after, None).rs_queue.waiting


# --- the Deployment controller: minReadySeconds on its ReplicaSets, pausing ---------------------------------


def _dsync(session: Session) -> None:
    _, failed = deployment.sync(_kcm(session), session, "deployments/default/web")
    assert not failed


def _replicasets(session: Session) -> list[ReplicaSet]:
    return sorted((o for o in session.etcd.objects.values() if isinstance(o, ReplicaSet)), key=lambda r: r.meta.uid)


def test_the_new_replicaset_takes_the_deployments_min_ready_seconds() -> None:
    session = _session(_deployment(min_ready_seconds=10))
    _dsync(session)
    (rs,) = _replicasets(session)
    assert rs.min_ready_seconds == 10
    stale = attrs.evolve(rs, min_ready_seconds=3)
    session.update(stale)
    _dsync(session)
    assert _replicasets(session)[0].min_ready_seconds == 10  # getNewReplicaSet: minReadySecondsNeedsUpdate


def _patch(session: Session, **changes: object) -> None:
    d = session.etcd.objects["deployments/default/web"]
    assert isinstance(d, Deployment)
    assert session.patch("deployments/default/web", attrs.evolve(d, **changes)).ok


def test_a_paused_deployment_scales_but_does_not_roll_out_until_resumed() -> None:
    session = _session(_deployment())
    _dsync(session)
    (old,) = _replicasets(session)
    _patch(session, paused=True)
    _, failed = deployment.sync(_kcm(session), session, "deployments/default/web")
    assert failed  # checkPausedConditions wrote the status: the sync's own status write, on the copy read, conflicts
    _dsync(session)
    d = session.etcd.objects["deployments/default/web"]
    assert isinstance(d, Deployment)
    assert ("Progressing", "Unknown", "DeploymentPaused") in {(c.type, c.status, c.reason) for c in d.status.conditions}
    _patch(session, template=d.template.with_image("web", "nginx:1.26"), replicas=3)
    for _ in range(3):  # a conflict (the paused condition's write) is retried
        deployment.sync(_kcm(session), session, "deployments/default/web")
    (only,) = _replicasets(session)
    assert only.meta.uid == old.meta.uid and only.replicas == 3  # scaled, not rolled
    _patch(session, paused=False)
    for _ in range(3):
        deployment.sync(_kcm(session), session, "deployments/default/web")
    rss = _replicasets(session)
    assert len(rss) == 2 and rss[1].template.containers[0].image == "nginx:1.26" and rss[1].replicas > 0
    d = session.etcd.objects["deployments/default/web"]
    assert isinstance(d, Deployment)
    assert "DeploymentPaused" not in {c.reason for c in d.status.conditions}


# --- the properties ----------------------------------------------------------------------------------------


def _state(*objects: Object) -> ClusterState:
    """A state whose etcd holds exactly ``objects`` as they are (uids, generations and statuses kept)."""
    etcd = Etcd(revision=10, objects=immutables.Map({object_key(o): o for o in objects}))
    return ClusterState(etcd, ControllerManager((Informer(0, immutables.Map()),) * 3), (), (), frozenset(), Budget())


def test_a_paused_deployment_is_complete_when_its_replicasets_are() -> None:
    """RolloutEventuallyCompletes' goal: a paused Deployment with a changed template is complete once its status has
    observed its generation and its ReplicaSets' statuses caught up; not paused, the same state is incomplete."""
    session = _session(_deployment())
    _dsync(session)
    (rs,) = _replicasets(session)
    session.update(attrs.evolve(rs, status=attrs.evolve(rs.status, replicas=1, ready_replicas=1,
                                                         available_replicas=1, observed_generation=1)),
                   status=True)
    d = session.etcd.objects["deployments/default/web"]
    assert isinstance(d, Deployment)
    _patch(session, paused=True, template=d.template.with_image("web", "nginx:1.26"))
    d = session.etcd.objects["deployments/default/web"]
    assert isinstance(d, Deployment)
    observed = attrs.evolve(d, status=attrs.evolve(d.status, observed_generation=d.meta.generation))
    objects = [o for o in session.etcd.objects.values() if not isinstance(o, Deployment)]
    assert rollouts_complete(_state(*objects, observed))
    assert not rollouts_complete(_state(*objects, d))                          # the pause not yet observed
    assert not rollouts_complete(_state(*objects, attrs.evolve(observed, paused=False)))
    lagging = attrs.evolve(rs, status=attrs.evolve(rs.status, available_replicas=0))
    assert not rollouts_complete(_state(*[o for o in objects if not isinstance(o, ReplicaSet)], lagging, observed))


def _until(state: ClusterState, config: Config, done: Callable[[ClusterState], bool], command: str = ""
           ) -> ClusterState:
    """Take the first step (kubectl ``command`` when given, else no user command and no fault) until ``done``."""
    for _ in range(400):
        if done(state):
            return state
        for action, after in next_steps(state, config):
            if command and isinstance(action, A.Kubectl) and action.line == command:
                return after
            if not command and A.kind(action) not in ("kubectl", "fault") and after != state:
                state = after
                break
        else:
            raise AssertionError("no step left")
    raise AssertionError("not reached")


def _quiet(config: Config) -> Callable[[ClusterState], bool]:
    return lambda s: caught_up(s) and not busy(s, config) and not s.kcm.rs_queue.waiting


def test_pause_set_image_scale_resume_rolls_out_once_resumed() -> None:
    scenario = builtin("rollout-paused")
    config = scenario.config
    state = initial_state(config)
    for line in ("kubectl rollout pause deployment/web", "kubectl set image deployment/web web=nginx:1.26",
                 "kubectl scale deployment/web --replicas=2"):
        state = _until(_until(state, config, lambda s: False, line), config, _quiet(config))
    rss = [o for o in state.etcd.objects.values() if isinstance(o, ReplicaSet)]
    assert len(rss) == 1 and rss[0].replicas == 2 and rss[0].template.containers[0].image == "nginx:1.25"
    assert rollouts_complete(state) and replicas_converged(state)  # complete for a paused Deployment
    state = _until(_until(state, config, lambda s: False, "kubectl rollout resume deployment/web"), config,
                   lambda s: rollouts_complete(s) and _quiet(config)(s))
    images = {p.containers[0].image for p in state.etcd.objects.values() if isinstance(p, Pod)}
    assert images == {"nginx:1.26"} and replicas_converged(state)


def test_the_rollout_waits_for_available_pods_not_ready_ones() -> None:
    """In rollout-min-ready (maxUnavailable 0), the old pod is deleted only once the new one has been Ready for more
    than minReadySeconds: 11 s after it turned Ready (updatePod's requeue)."""
    from spec.clock import duration

    config = builtin("rollout-min-ready").config
    state = _until(initial_state(config), config, lambda s: False, "kubectl set image deployment/web web=nginx:1.26")
    elapsed = 0
    seen_ready_new = None
    for _ in range(400):
        pods = [p for p in state.etcd.objects.values() if isinstance(p, Pod)]
        new = [p for p in pods if p.containers[0].image == "nginx:1.26"]
        if new and new[0].status.ready and seen_ready_new is None:
            seen_ready_new = elapsed
        if all(p.containers[0].image == "nginx:1.26" for p in pods) and len(pods) == 1:
            break
        old_deleting = any(p.meta.deleting for p in pods if p.containers[0].image == "nginx:1.25")
        assert not old_deleting or (seen_ready_new is not None and elapsed - seen_ready_new > 10_000)
        action, state = next((a, t) for a, t in next_steps(state, config) if A.kind(a) not in ("kubectl", "fault")
                             and t != state)
        ms = duration(action)
        elapsed += ms if isinstance(ms, int) else 0
    else:
        raise AssertionError("the rollout did not finish")
    assert seen_ready_new is not None


# --- model checks ------------------------------------------------------------------------------------------


def test_the_variant_is_refuted_with_a_short_readable_trace() -> None:
    scenario = builtin("rollout-min-ready")
    config = attrs.evolve(scenario.config, variants=frozenset({"no-minready-requeue"}))
    result = check(ClusterModel(config, scenario.reductions))
    assert result.violation is not None and result.violation.property == "AvailabilityNeverWaitsForResync"
    last = result.violation.trace[-1]
    assert isinstance(last.action, A.Tick) and last.action.ms == 0  # the resync period
    explain = PROPERTIES["AvailabilityNeverWaitsForResync"].explain
    assert explain is not None and "0 available of replicas 1, minReadySeconds 10" in explain(last.state)


def test_the_variant_needs_min_ready_seconds() -> None:
    result = CliRunner().invoke(main, ["check", "web-two-nodes", "--variant", "no-minready-requeue"])
    assert result.exit_code == 2 and "minReadySeconds" in result.output


@pytest.mark.slow
def test_rollout_min_ready_holds_exhaustively() -> None:
    """92,728 states (about 3 CPU-minutes)."""
    scenario = builtin("rollout-min-ready")
    model = ClusterModel(scenario.config, scenario.reductions)
    model.properties = (*model.properties, sometimes(
        "NewPodReadyNotAvailable", lambda s: any(isinstance(r, ReplicaSet) and r.status.ready_replicas
                                                 > r.status.available_replicas for r in s.etcd.objects.values())))
    result = check(model)
    assert result.status == "ok" and result.complete, result.verdict()
    assert {p.name: p.status for p in result.properties}["NewPodReadyNotAvailable"] == "holds"


def test_the_variants_trace_says_why_the_pod_is_not_available() -> None:
    result = CliRunner().invoke(main, ["check", "rollout-min-ready", "--variant", "no-minready-requeue"])
    assert result.exit_code == 1, result.output
    assert "Ready for 10000 ms: not yet available (minReadySeconds 10: more than 10000 ms)" in result.output
    assert "AvailabilityNeverWaitsForResync" in result.output and "1 resync period" in result.output


@pytest.mark.slow
def test_a_paused_deployment_that_is_scaled_holds_exhaustively() -> None:
    """rollout-paused-scale: pause and scale in any order; the paused Deployment's scale is carried out and observed
    (10,492 states)."""
    scenario = builtin("rollout-paused-scale")
    model = ClusterModel(scenario.config, scenario.reductions)
    model.properties = (*model.properties, sometimes(
        "ScaledWhilePaused", lambda s: any(isinstance(d, Deployment) and d.paused and d.replicas == 2
                                           and d.status.observed_generation == d.meta.generation
                                           and d.status.replicas == 2 for d in s.etcd.objects.values())))
    result = check(model)
    assert result.status == "ok" and result.complete, result.verdict()
    statuses = {p.name: p.status for p in result.properties}
    assert statuses["ScaledWhilePaused"] == "holds" and statuses["RolloutEventuallyCompletes"] == "holds"


def test_ignoring_a_paused_deployment_is_refuted_by_its_premise() -> None:
    """The variant paused-no-scale (kubernetes#20853): RolloutEventuallyCompletes' premise for a paused Deployment
    (its status has not observed its generation) is reached and never left."""
    scenario = builtin("rollout-paused-scale")
    config = attrs.evolve(scenario.config, variants=frozenset({"paused-no-scale"}))
    result = check(ClusterModel(config, scenario.reductions))
    assert result.violation is not None and result.violation.property == "RolloutEventuallyCompletes"
    explain = PROPERTIES["RolloutEventuallyCompletes"].explain
    assert explain is not None
    assert "(paused)'s status has observedGeneration" in explain(result.violation.trace[-1].state)
