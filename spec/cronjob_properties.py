"""The CronJob controller's promises (``spec.controllers.cronjob``), as predicates over a state, each with its
upstream reference; registered in ``spec.properties`` (``_register_cronjobs``).

- CronJobForbidAtMostOneActive (always): a CronJob with concurrencyPolicy Forbid never has two unfinished Jobs
  (not being deleted). Upstream: batch/v1 ConcurrencyPolicy ForbidConcurrent ("forbids concurrent runs, skipping
  next run if previous hasn't finished yet"); cronjob_controllerv2.go syncCronJob (the Forbid check on
  status.active); https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#concurrency-policy.
- CronJobOneJobPerScheduleTime (always): a CronJob never has two Jobs for one schedule time at once (their
  cronjob-scheduled-timestamp annotation; the Job's name, NAME-<minutes>, is the lock). Upstream:
  cronjob_controllerv2.go syncCronJob ("we need to use the job name as a lock to prevent us from making the job
  twice"), utils.go getJobFromTemplate2 / getTimeHashInMinutes.
- CronJobJobNeverRecreated (always, a finding: checked only where a scenario names it): no Job is ever created a
  second time for one CronJob and one schedule time (the history variable ``CronJobController.duplicates``). The
  name lock holds only while the first Job exists: a Job deleted while the controller's CronJob informer has not
  shown the status that recorded it (lastScheduleTime) is created again (docs/spec.md, "Findings").
- CronJobHistoryLimitsKept (leads-to): finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit are
  eventually deleted. Upstream: cronjob_controllerv2.go cleanupFinishedJobs / removeOldestJobs; batch/v1
  CronJobSpec (successfulJobsHistoryLimit default 3, failedJobsHistoryLimit default 1); the docs' "Jobs history
  limits".
- CronJobScheduleTimesGetJobs (leads-to): every schedule time reached (within the scenario's bound) while the
  CronJob is not suspended and, under Forbid, has no unfinished Job, eventually gets its Job, unless its
  startingDeadlineSeconds has passed; a Job created only after a resync period (12 h and more: the resync
  enqueues every CronJob) is too late and counts as never (``CronJobController.missed``). Upstream:
  cronjob_controllerv2.go sync / syncCronJob with utils.go nextScheduleTime and nextScheduleTimeDuration (the
  requeue to the next schedule time); the docs' "Schedule syntax" and "Job creation" ("A CronJob creates a Job
  object approximately once per execution time of its schedule").
"""

from __future__ import annotations

from spec.state import ClusterState, CronJob, Job


def _finished(job: Job) -> bool:
    return job.status.condition in ("Complete", "Failed")


def _jobs_of(s: ClusterState, cj: CronJob) -> list[Job]:
    return [j for j in s.etcd.of("jobs") if isinstance(j, Job) and j.meta.owner is not None
            and j.meta.owner.kind == "CronJob" and j.meta.owner.uid == cj.meta.uid]


def _cronjobs(s: ClusterState) -> list[CronJob]:
    return [o for o in s.etcd.of("cronjobs") if isinstance(o, CronJob)]


def forbid_at_most_one_active(s: ClusterState) -> bool:
    return not _forbid_violations(s)


def _forbid_violations(s: ClusterState) -> list[str]:
    out = []
    for cj in _cronjobs(s):
        if cj.concurrency_policy != "Forbid":
            continue
        active = sorted(j.meta.name for j in _jobs_of(s, cj) if not _finished(j) and not j.meta.deleting)
        if len(active) > 1:
            out.append(f"CronJob {cj.meta.namespace}/{cj.meta.name} (Forbid) has {len(active)} unfinished Jobs: "
                       + ", ".join(active))
    return out


def explain_forbid(s: ClusterState) -> str:
    return "; ".join(_forbid_violations(s))


def _same_time(s: ClusterState) -> list[str]:
    from spec.controllers.cronjob import scheduled_of

    out = []
    for cj in _cronjobs(s):
        seen: dict[int, str] = {}
        for j in sorted(_jobs_of(s, cj), key=lambda j: j.meta.name):
            t = scheduled_of(j)
            if t is None:
                continue
            if t in seen:
                out.append(f"CronJob {cj.meta.namespace}/{cj.meta.name} has two Jobs for one schedule time: "
                           f"{seen[t]}, {j.meta.name}")
            seen[t] = j.meta.name
    return out


def one_job_per_schedule_time(s: ClusterState) -> bool:
    return s.cronjobs is None or not _same_time(s)


def explain_same_time(s: ClusterState) -> str:
    return "; ".join(_same_time(s))


def never_recreated(s: ClusterState) -> bool:
    return s.cronjobs is None or not s.cronjobs.duplicates


def explain_duplicates(s: ClusterState) -> str:
    from spec.controllers.cronjob import rfc3339

    assert s.cronjobs is not None
    return "; ".join(f"{key} got a second Job for its schedule time {rfc3339(t, None)}"
                     for key, t in sorted(s.cronjobs.duplicates))


def _over_limits(s: ClusterState) -> list[str]:
    out = []
    for cj in _cronjobs(s):
        jobs = [j for j in _jobs_of(s, cj) if not j.meta.deleting]
        for condition, limit, field in (("Complete", cj.successful_jobs_history_limit, "successfulJobsHistoryLimit"),
                                        ("Failed", cj.failed_jobs_history_limit, "failedJobsHistoryLimit")):
            kept = [j for j in jobs if j.status.condition == condition]
            if limit is not None and len(kept) > limit:
                out.append(f"CronJob {cj.meta.namespace}/{cj.meta.name} keeps {len(kept)} {condition} Jobs, "
                           f"{field} {limit}")
    return out


def over_history_limits(s: ClusterState) -> bool:
    return s.cronjobs is not None and bool(_over_limits(s))


def explain_limits(s: ClusterState) -> str:
    return "; ".join(_over_limits(s))


def pending(s: ClusterState) -> list[tuple[str, int]]:
    """The schedule times owed a Job that has not been created, whose startingDeadlineSeconds has not passed."""
    ctl = s.cronjobs
    if ctl is None or not ctl.owed:
        return []
    out = []
    for key, t in sorted(ctl.owed - ctl.created):
        cj = s.etcd.objects.get(key)
        if isinstance(cj, CronJob) and cj.starting_deadline_seconds is not None and \
                ctl.now > t + cj.starting_deadline_seconds * 1000:
            continue
        out.append((key, t))
    return out


def _pending(s: ClusterState) -> list[tuple[str, int]]:
    """``pending``, and the owed schedule times a resync period found without their Job (too late for ever)."""
    missed = () if s.cronjobs is None else tuple(sorted(s.cronjobs.missed))
    return sorted(set(pending(s)) | set(missed))


def schedule_time_pending(s: ClusterState) -> bool:
    return bool(_pending(s))


def explain_pending(s: ClusterState) -> str:
    from spec.controllers.cronjob import rfc3339

    return "; ".join(f"{key}: no Job for the schedule time {rfc3339(t, None)}" for key, t in _pending(s))
