"""The CronJob controller (spec/controllers/cronjob.py) in the model: the built-in scenarios hold with every CronJob
property non-vacuous, a broken controller is caught, the variant cronjob-active-from-lister (kubernetes#93370) is
refuted with a readable trace, and the finding (a Job recreated for its schedule time) is found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checker import always, check
from spec.controllers import cronjob
from spec.model import ClusterModel
from spec.scenario import builtin, load, with_overrides
from spec.state import ClusterState, CronJob, Job

ROOT = Path(__file__).resolve().parents[2]
PROPS = ("CronJobForbidAtMostOneActive", "CronJobOneJobPerScheduleTime", "CronJobHistoryLimitsKept",
         "CronJobScheduleTimesGetJobs")


@pytest.fixture(autouse=True)
def _fresh_memo() -> Iterator[None]:
    """The controller's step is memoised: a monkeypatched controller must not reuse (or leave) memoised steps."""
    cronjob._reconcile.cache_clear()
    yield
    cronjob._reconcile.cache_clear()


def _statuses(name: str) -> tuple[str, dict[str, str]]:
    scenario = builtin(name)
    result = check(ClusterModel(scenario.config, scenario.reductions))
    return result.verdict(), {p.name: p.status for p in result.properties}


def _jobs(s: ClusterState) -> list[Job]:
    return [j for j in s.etcd.objects.values() if isinstance(j, Job)]


def _reachable(name: str, pred: object) -> bool:
    """Some reachable state of the built-in scenario satisfies ``pred`` (a witness: its negation is violated)."""
    scenario = builtin(name)
    model = ClusterModel(scenario.config, scenario.reductions)
    model.properties = (always("Never", lambda s: not pred(s)),)  # type: ignore[operator]
    return check(model).status == "violation"


def test_forbid_holds_and_skips_a_schedule_time_while_its_job_runs() -> None:
    verdict, statuses = _statuses("cronjob-forbid")
    assert all(statuses[p] == "holds" for p in ("CronJobForbidAtMostOneActive", "CronJobOneJobPerScheduleTime",
                                                "CronJobScheduleTimesGetJobs")), verdict
    # the second schedule time reached while the first Job runs: skipped (one Job only, the clock past t2)
    assert _reachable("cronjob-forbid", lambda s: s.cronjobs is not None and not s.cronjobs.deadlines
                      and len(s.cronjobs.created) == 1 and s.cronjobs.now == s.cronjobs.end)
    # and the second Job is created when the first finished in time
    assert _reachable("cronjob-forbid", lambda s: s.cronjobs is not None and len(s.cronjobs.created) == 2)


def test_a_crash_loses_the_requeue_and_the_job_is_still_created_once() -> None:
    verdict, statuses = _statuses("cronjob-crash")
    assert statuses["CronJobScheduleTimesGetJobs"] == "holds", verdict
    assert statuses["CronJobOneJobPerScheduleTime"] == "holds", verdict
    # a crash before the schedule time, after the requeue was set (its timer lost, the relist enqueues the CronJob)
    assert _reachable("cronjob-crash", lambda s: s.budget.controller_manager_crashes == 0
                      and s.cronjobs is not None and not s.cronjobs.created and s.cronjobs.deadlines
                      and s.cronjobs.queue.queue)


def test_a_controller_that_does_not_requeue_for_the_schedule_time_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the AddAfter to the next schedule time the Job comes only with the informers' resync (12 h and more
    later): CronJobScheduleTimesGetJobs fails."""
    monkeypatch.setattr(cronjob, "next_schedule_time_duration", lambda cj, now, sched: None)
    scenario = builtin("cronjob-crash")
    result = check(ClusterModel(scenario.config, scenario.reductions))
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "CronJobScheduleTimesGetJobs", result.verdict()


def test_a_controller_that_ignores_forbid_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = cronjob.sync_cronjob

    def allow(session, key, cj, jobs, status, now, variants):  # type: ignore[no-untyped-def]
        import attrs

        return real(session, key, attrs.evolve(cj, concurrency_policy="Allow"), jobs, status, now, variants)

    monkeypatch.setattr(cronjob, "sync_cronjob", allow)
    scenario = builtin("cronjob-forbid")
    result = check(ClusterModel(scenario.config, scenario.reductions))
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "CronJobForbidAtMostOneActive", result.verdict()


def test_a_job_with_a_generated_name_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The name is the lock: a controller creating its Jobs with generateName (as v1's predecessor ScheduledJob
    once proposed) creates a second Job for one schedule time when a sync reads a CronJob its informer has not
    updated yet and the first Job has already finished (no fresh GET then)."""
    import attrs

    real = cronjob.job_from_template

    def generated(cj: CronJob, scheduled: int) -> Job:
        job = real(cj, scheduled)
        return attrs.evolve(job, meta=attrs.evolve(job.meta, name="", generate_name=cj.meta.name + "-"))

    monkeypatch.setattr(cronjob, "job_from_template", generated)
    scenario = builtin("cronjob-crash")
    model = ClusterModel(attrs.evolve(scenario.config, properties=("CronJobOneJobPerScheduleTime",)),
                         scenario.reductions)
    result = check(model)
    assert result.status == "violation", result.verdict()


def test_the_history_limit_is_kept() -> None:
    verdict, statuses = _statuses("cronjob-forbid")
    assert statuses["CronJobHistoryLimitsKept"] == "holds", verdict  # not vacuous: two Jobs succeed, limit 1


@pytest.mark.slow
def test_replace_deletes_the_running_job() -> None:
    verdict, statuses = _statuses("cronjob-replace")
    assert statuses["CronJobScheduleTimesGetJobs"] == "holds", verdict
    assert _reachable("cronjob-replace", lambda s: len(s.cronjobs.created) == 2 and any(  # type: ignore[union-attr]
        j.meta.deleting and not cronjob.finished(j) for j in _jobs(s)))


def test_the_finding_a_job_recreated_for_its_schedule_time() -> None:
    scenario = load(ROOT / "docs" / "findings" / "cronjob-job-recreated.yaml")
    model = ClusterModel(scenario.config, scenario.reductions)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "CronJobJobNeverRecreated"
    lines = [model.describe(step.action) for step in result.violation.trace[1:]]
    assert len(lines) == 8
    assert "kubectl delete job backup-28401121" in " ".join(lines)
    assert lines[-1].startswith("cronjob-controller reconciles") and "Created job backup-28401121" in lines[-1]
    text = (ROOT / "docs" / "findings" / "cronjob-job-recreated.trace.txt").read_text()
    assert "violates CronJobJobNeverRecreated" in text


def test_the_variant_active_from_lister_is_refuted_with_a_readable_trace() -> None:
    """kubernetes#93370's v2 controller drops the Job it has just created from status.active (its Job informer has
    not shown it yet); under Forbid the next schedule time starts a second Job beside it. Today's controller holds
    on the same scenario (test_forbid_holds_...)."""
    scenario = with_overrides(builtin("cronjob-forbid"), ("cronjob-active-from-lister",))
    model = ClusterModel(scenario.config, scenario.reductions)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "CronJobForbidAtMostOneActive", result.verdict()
    lines = [model.describe(step.action) for step in result.violation.trace[1:]]
    assert len(lines) == 12, lines
    assert any("MissingJob" in line for line in lines)
    assert "Created job backup-28401122" in lines[-1]


@pytest.mark.parametrize("name", ["cronjob-crash", "cronjob-forbid"])
def test_enabled_is_exactly_the_steps_of_each_component(name: str) -> None:
    """``enabled`` (the guards) against the non-stuttering steps, on reachable states of the unreduced model (the
    differential test's check, tests/spec/test_spec_differential.py)."""
    from tests.spec.test_spec_differential import enabled_actors_agree

    assert enabled_actors_agree(builtin(name).config, 1500) > 100
