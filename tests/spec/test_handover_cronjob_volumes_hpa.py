"""The CronJob, PersistentVolume, PVC protection and HPA controllers under kube-controller-manager's leader election
(spec.leaderelection, spec.controllers.manager ``running`` / ``Hosted``; upstream: cmd/kube-controller-manager/app/
controllermanager.go starts every controller in OnStartedLeading and exits in OnStoppedLeading): they act only in
the acting replica, nothing of them survives while no replica acts, a new leader's start afresh (the CronJob
informer listed and every CronJob queued; the PV controller's informers listed and every claim and volume queued;
the HPA controller with no recommendation and no scale event, its first sync 15 s on), a paused leader's stand
frozen and run on when it resumes. Each mechanism check fails without the handover (``naive``: every controller
runs whoever leads, and nobody restarts it), and the built-ins ha-cronjob, ha-pvc and ha-hpa hold; the HPA's scale
events lost on a failover are a finding (docs/findings/hpa-failover-scale-events.yaml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from checker import check
from spec import leaderelection as L
from spec.cluster import initial_state
from spec.component import Component
from spec.config import Config
from spec.controllers import cronjob, persistentvolume, podautoscaler, pvcprotection
from spec.model import ClusterModel
from spec.scenario import builtin, load, parse
from spec.state import ClusterState, PersistentVolumeClaim
from tests.spec.test_leaderelection import _step, _steps

ROOT = Path(__file__).parents[2]
FINDING = ROOT / "docs" / "findings" / "hpa-failover-scale-events.yaml"
CRASH = "faults: {controllerManagerCrashes: 1}\n  leaderElection: {replicas: 2}"
PAUSE = "leaderElection: {replicas: 2, pauses: 1}"


def _text(name: str) -> str:
    from importlib import resources

    return resources.files("spec.scenarios").joinpath(name + ".yaml").read_text()


def _config(name: str, election: str) -> Config:
    """The built-in ``name``'s objects (and its start, load, commands) under ``election`` instead of its own."""
    lines = [line for line in _text(name).splitlines()
             if not line.lstrip().startswith(("faults:", "leaderElection:"))]
    text = "\n".join(lines).replace("\nspec:\n", "\nspec:\n  " + election + "\n", 1)
    return parse(text, f"{name}.yaml").config


CASES = [  # (built-in, the component, its slot)
    ("ha-cronjob", cronjob.CRONJOBS, "cronjobs"),
    ("ha-pvc", persistentvolume.PERSISTENT_VOLUMES, "volumes"),
    ("ha-hpa", podautoscaler.PODAUTOSCALER, "hpa"),
]


@pytest.fixture
def naive(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The model without the handover: these controllers run whether or not a replica acts, and no replica starts
    or stops them (what the refusals guarded against)."""
    for module in (cronjob, persistentvolume, pvcprotection, podautoscaler):
        monkeypatch.setattr(module, "running", lambda state: True)
    monkeypatch.setattr(L, "_hosted", lambda: [])
    yield


# --- the refusals are lifted ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [name for name, _, _ in CASES])
def test_what_was_refused_under_kube_controller_manager_election_is_modelled(name: str) -> None:
    config = builtin(name).config
    assert config.leader_election is not None and "kube-controller-manager" in config.leader_election.components
    assert initial_state(config).leader is not None


# --- with no replica acting ------------------------------------------------------------------------------------


def _leaderless(name: str) -> tuple[Config, ClusterState]:
    """kcm-0, the leader, crashes at the start; kcm-1 has not taken over yet."""
    config = _config(name, CRASH)
    s = _step(initial_state(config), config, "crash and restart kcm-0")
    assert s.leader is not None and s.leader.active == -1 and s.leader.frozen == -1
    return config, s


def _busy_or_timing(component: Component, s: ClusterState, config: Config) -> bool:
    """The component has work, or a timer of its own running (a CronJob's schedule times are the wall clock's)."""
    timers = component.timers(s)
    if s.cronjobs is not None and component is cronjob.CRONJOBS:
        timers = [t for t in timers if t not in [d - s.cronjobs.now for _, d in s.cronjobs.deadlines]]
    return bool(component.enabled(s, config) or timers or component.busy(s, config))


@pytest.mark.parametrize(("name", "component", "slot"), CASES)
def test_with_no_leader_nothing_of_the_controller_is_kept_or_runs(name: str, component: Component,
                                                                  slot: str) -> None:
    config, s = _leaderless(name)
    assert not _busy_or_timing(component, s, config)
    layout = s.layout()
    for (who, _, _), inf in zip(layout.slots, s.informers(), strict=True):
        if who == slot:
            assert inf is None, who
    if slot == "cronjobs":
        assert s.cronjobs is not None and not s.cronjobs.queue.queue and not s.cronjobs.queue.waiting
        assert not s.cronjobs.informer.cache and s.cronjobs.deadlines  # the schedule is the wall clock's
    elif slot == "volumes":
        assert s.volumes is not None and not s.volumes.queue.queue
        assert not any(inf.cache for inf in s.volumes.informers)
    else:
        assert s.hpa is not None and not s.hpa.queue and not s.hpa.waiting
    assert not any(a.actor in component.actors(config) for a, _ in _raw_steps(s, config))


def _raw_steps(s: ClusterState, config: Config) -> list[tuple[object, ClusterState]]:
    from spec.cluster import next_steps

    return list(next_steps(s, config))


@pytest.mark.parametrize(("name", "component", "slot"), CASES)
def test_without_the_handover_it_runs_with_no_leader(naive: None, name: str, component: Component,
                                                     slot: str) -> None:
    """The same states without the handover: the controller has work or a timer running while no replica leads."""
    config, s = _leaderless(name)
    assert _busy_or_timing(component, s, config)


def test_the_pvc_protection_controller_acts_only_in_the_acting_replica() -> None:
    """The claim deleted while no replica leads keeps its finalizer until a replica acts; without the handover
    the finalizer goes at once."""
    config, s = _leaderless("ha-pvc")
    s = _step(s, config, "kubectl delete pvc data")
    claim = s.etcd.objects.get("persistentvolumeclaims/default/data")
    assert isinstance(claim, PersistentVolumeClaim) and claim.meta.deleting
    assert not pvcprotection.PVC_PROTECTION.enabled(s, config)
    assert not list(pvcprotection.PVC_PROTECTION.steps(s, config))
    taken = _until_acquired(s, config)
    assert pvcprotection.PVC_PROTECTION.enabled(taken, config)


def test_without_the_handover_the_pvc_protection_controller_acts_with_no_leader(naive: None) -> None:
    config, s = _leaderless("ha-pvc")
    s = _step(s, config, "kubectl delete pvc data")
    assert pvcprotection.PVC_PROTECTION.enabled(s, config)


# --- a new leader's start afresh ------------------------------------------------------------------------------------


def _until_acquired(state: ClusterState, config: Config) -> ClusterState:
    """Steps (no fault, no resume, no user command) until a replica acquires the Lease and its controllers run."""
    for _ in range(120):
        le = state.leader
        assert le is not None
        if le.active >= 0:
            return state
        state = next(t for line, t in _steps(state, config)
                     if not line.startswith(("fault", "kubectl")) and "resumes" not in line)
    raise AssertionError("no replica acquired")


def _until_step(state: ClusterState, config: Config, match: str) -> ClusterState:
    """Steps (no fault, no resume) until one matching ``match`` is enabled; then that step."""
    for _ in range(120):
        steps = _steps(state, config)
        for line, t in steps:
            if match in line:
                return t
        state = next(t for line, t in steps if not line.startswith("fault") and "resumes" not in line)
    raise AssertionError(f"no step {match!r}")


def test_a_new_leaders_cronjob_controller_lists_and_creates_the_missed_job() -> None:
    """kcm-0 crashes before the schedule time: no Job is created while no replica leads (the schedule time passes,
    owed); the new leader's CronJob controller starts with its informer listed and the CronJob queued, and creates
    the Job of the missed schedule time."""
    config, s = _leaderless("ha-cronjob")
    taken = _until_acquired(s, config)
    ctl = taken.cronjobs
    assert ctl is not None and taken.leader is not None and taken.leader.active >= 0  # either may acquire
    assert ctl.owed and not ctl.created  # the schedule time passed with no leader
    assert "cronjobs/default/backup" in ctl.queue.queue and "cronjobs/default/backup" in ctl.informer.cache
    synced = _step(taken, config, "cronjob-controller reconciles cronjobs/default/backup")
    assert synced.cronjobs is not None and synced.cronjobs.created == ctl.owed


def test_a_new_leaders_pv_controller_queues_every_claim() -> None:
    config, s = _leaderless("ha-pvc")
    taken = _until_acquired(s, config)
    assert taken.volumes is not None and "persistentvolumeclaims/default/data" in taken.volumes.queue.queue
    assert any("persistentvolumeclaims/default/data" in inf.cache for inf in taken.volumes.informers)


def test_a_new_leaders_hpa_controller_has_no_memory_and_syncs_after_15_s() -> None:
    config = _config("ha-hpa", CRASH)
    s = _until_step(initial_state(config), config, "horizontal-pod-autoscaler reconciles")
    assert s.hpa is not None and s.hpa.recommendations
    seen = s.hpa.seen
    s = _step(s, config, "crash and restart kcm-0")
    assert s.hpa is not None and not s.hpa.recommendations and not s.hpa.up_events and not s.hpa.waiting
    assert s.hpa.seen == seen  # the history variables are not the process's
    taken = _until_acquired(s, config)
    assert taken.hpa is not None and not taken.hpa.recommendations
    assert taken.hpa.waiting == (("horizontalpodautoscalers/default/web", podautoscaler.SYNC_PERIOD_MS),)


# --- a paused leader's stand frozen ---------------------------------------------------------------------------


def test_a_paused_leaders_controllers_stand_frozen_and_run_on_when_it_resumes() -> None:
    """The HPA controller after a sync (a recommendation, its 15 s timer running): the leader pauses; its
    controller takes no step and its timer stands still; resumed first, the controller runs on with its memory."""
    config = _config("ha-hpa", PAUSE)
    s = _until_step(initial_state(config), config, "horizontal-pod-autoscaler reconciles")
    paused = _step(s, config, "pause (its clock and steps stop) kcm-0")
    assert paused.leader is not None and paused.leader.frozen == 0 and paused.hpa == s.hpa
    assert not podautoscaler.PODAUTOSCALER.timers(paused) and not podautoscaler.PODAUTOSCALER.enabled(paused, config)
    resumed = _step(paused, config, "kcm-0 resumes")
    assert resumed.hpa == s.hpa and podautoscaler.PODAUTOSCALER.timers(resumed)


def test_a_stale_leaders_controllers_take_no_step() -> None:
    """kcm-0 pauses; kcm-1 takes over and its CronJob controller runs; kcm-0 resumes (a stale leader, still
    believing it leads): no CronJob, PV or HPA step is its own (only its ReplicaSet and Deployment controllers act
    stale, ``spec.leaderelection``), and the slots hold kcm-1's."""
    config = _config("ha-cronjob", PAUSE)
    s = _step(initial_state(config), config, "pause (its clock and steps stop) kcm-0")
    taken = _until_acquired(s, config)
    assert taken.leader is not None and taken.leader.active == 1
    stale = _step(taken, config, "kcm-0 resumes")
    le = stale.leader
    assert le is not None and le.active == 1 and le.replicas[0].leading and not le.replicas[0].paused
    assert stale.cronjobs == taken.cronjobs
    actors = {a.actor for a, _ in _raw_steps(stale, config)}  # type: ignore[attr-defined]
    assert {a for a in actors if a.startswith("kcm-0/")} <= set(L.stale_actors("kcm-0"))


@pytest.mark.parametrize("spec", [CRASH, PAUSE])
def test_each_components_enabled_is_its_steps_under_election(spec: str) -> None:
    from tests.spec.test_spec_differential import enabled_actors_agree

    assert enabled_actors_agree(_config("ha-pvc", spec), 1_500) > 100
    assert enabled_actors_agree(_config("ha-hpa", spec), 1_500) > 100
    assert enabled_actors_agree(_config("ha-cronjob", spec), 1_500) > 100


# --- the properties ----------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ha-pvc", "ha-hpa"])
def test_the_builtins_hold_exhaustively(name: str) -> None:
    result = check(ClusterModel(builtin(name).config))
    assert result.status == "ok", result.verdict()


@pytest.mark.slow
def test_ha_cronjob_holds_exhaustively() -> None:
    result = check(ClusterModel(builtin("ha-cronjob").config))
    assert result.status == "ok", result.verdict()
    statuses = {v.name: v.status for v in result.properties}
    assert statuses["CronJobScheduleTimesGetJobs"] == "holds"


def test_the_cronjob_failover_with_a_pause_holds_within_bounds() -> None:
    """ha-cronjob with a pause instead of a crash: the first 6,000 states (BFS)."""
    result = check(ClusterModel(_config("ha-cronjob", PAUSE)), max_states=6_000)
    assert result.status == "bounded", result.verdict()


def test_the_finding_a_failover_loses_the_hpas_scale_events() -> None:
    """docs/findings/hpa-failover-scale-events.yaml: 1 pod per 60 s; the HPA scales 1 -> 2, the leader crashes,
    the standby takes over and its HPA controller, with no scale event, scales 2 -> 3 within the minute. Without
    the crash it holds."""
    scenario = load(FINDING)
    model = ClusterModel(scenario.config, scenario.reductions)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "HPAScaleUpRate"
    lines = [model.describe(step.action) for step in result.violation.trace[1:] if step.action]
    assert any("crash and restart kcm-0" in line for line in lines)
    assert any(line.startswith("kcm-1 acquires") for line in lines)
    rescales = [i for i, line in enumerate(lines) if "SuccessfulRescale" in line]
    crash = next(i for i, line in enumerate(lines) if "crash and restart" in line)
    assert len(rescales) == 2 and rescales[0] < crash < rescales[1]
    explanation = model.explain("HPAScaleUpRate", result.violation.trace[-1].state) or ""
    assert "up from 2 to 3, above the 2 its scale-up policies allow (1 pods per 60 s" in explanation
    text = (ROOT / "docs" / "findings" / "hpa-failover-scale-events.trace.txt").read_text()
    assert "HPAScaleUpRate is violated" in text
    calm = attrs.evolve(scenario.config, budget=attrs.evolve(scenario.config.budget, controller_manager_crashes=0))
    assert check(ClusterModel(calm, scenario.reductions)).status == "ok"


@pytest.mark.slow
def test_the_scale_down_stabilization_holds_across_a_failover() -> None:
    """hpa-scale-up (100m that may drop to 40m) with one replica under leader election and its crash: the new
    controller's first recommendation is the current scale, so no scale-down comes early (122,548 states)."""
    scenario = load(ROOT / "tests" / "spec" / "fixtures" / "hpa-scale-down-failover.yaml")
    result = check(ClusterModel(scenario.config, scenario.reductions))
    assert result.status == "ok", result.verdict()
