"""The CronJob controller (v2): each CronJob's Jobs, one per schedule time, created on time by requeueing the CronJob
to its next schedule time.

Upstream: pkg/controller/cronjob/cronjob_controllerv2.go (the CronJob and Job informers' handlers addJob/updateJob/
deleteJob/updateCronJob, sync, syncCronJob, cleanupFinishedJobs/removeOldestJobs, deleteJob, formatSchedule),
pkg/controller/cronjob/utils.go (mostRecentScheduleTime, nextScheduleTimeDuration with nextScheduleDelta 100 ms,
nextScheduleTime with the too-many-missed warning at more than 100 missed schedules, getJobFromTemplate2,
getTimeHashInMinutes, byJobStartTime, inActiveList/inActiveListByName/deleteFromActiveList), pkg/apis/batch/
validation/validation.go (validateScheduleFormat, validateTimeZone, validateConcurrencyPolicy), github.com/robfig/
cron/v3 parser.go (ParseStandard: the 5-field spec, names, ranges, steps, the @yearly..@hourly descriptors and
@every, with its error messages) and spec.go / constantdelay.go (Next), pkg/apis/batch/v1/defaults.go
(SetDefaults_CronJob: Allow, not suspended, history limits 3 and 1).
Docs: https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/.

Modelled: the controller's sync of one queued CronJob (actor "cronjob-controller", weakly fair) from its CronJob
informer (scope ("kcm", "cronjobs")) and the shared Job informer (the Job controller's, ``spec.controllers.job``,
whose deliveries run this controller's Job handlers: ``on_jobs``), with its fresh GETs (the CronJob when an
unfinished Job is not in the cached status.active, a Job of status.active the lister does not have), the history
cleanup (finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit deleted, oldest first), the
schedule arithmetic of utils.go, startingDeadlineSeconds, concurrencyPolicy Allow / Forbid / Replace (Replace
deletes the active Jobs in background), suspend, the Job named NAME-<scheduled time in minutes> (a second
creation is AlreadyExists, then adopted into status.active if it is the CronJob's), status.active /
lastScheduleTime / lastSuccessfulTime written with one UpdateStatus (a Conflict requeues with backoff), the
requeue AddAfter to the next schedule time + 100 ms, the spec.timeZone (the schedule is evaluated in it; the
Jobs' cronjob-scheduled-timestamp annotation is written in it), the events. Schedules are validated with
upstream's messages (a robfig/cron ParseStandard grammar check here, then the validation's TZ/CRON_TZ refusal)
and evaluated with the ``cronsim`` library (the 5 fields translated to explicit value lists, the day-of-month /
day-of-week "star" rule kept as robfig/cron has it); @every is robfig's ConstantDelaySchedule.
Time: the slot holds the wall clock (``CronJobController.now``, ms since the Unix epoch, from the scenario's
start: the CronJobs' creationTimestamp or lastScheduleTime) and the schedule times still to come within the
scenario's bound (``bounds.scheduleTimes``, default 2, per CronJob): the clock stops at each (a timer, whether or
not the controller requeued itself for it), then at the controller's requeue 100 ms later. Time beyond the last
explored schedule time (+ 100 ms) is not modelled: ``now`` stops there and requeues past it are not kept.
Timing assumption (as the clock's for informers, ``spec.clock``): a queued CronJob is synced before time moves on
(``urgent``): a sync takes less than the time between two deadlines (100 ms, and 1 s between schedule times), so
a schedule time is missed only by the controller's own logic (suspend, Forbid, startingDeadlineSeconds, a wrong
requeue), never because it was slow. A controller-manager crash loses the queue and the CronJob informer (relisted,
every CronJob enqueued), as the other controllers' crashes do; the clock and the history variables are not the
controller's and stay.
Under kube-controller-manager's leader election (``spec.leaderelection``; cmd/kube-controller-manager/app/
controllermanager.go starts every controller in OnStartedLeading, with informers created then, and exits the
process in OnStoppedLeading) the controller is handed over as the other hosted controllers are
(``spec.controllers.manager.Hosted``): it syncs only in the acting replica (``running``); while no replica acts
nothing of it is kept (``stopped``: no informer, an empty queue, so no AddAfter requeue survives the process), and
the next leader's starts afresh (``restart``: its CronJob informer lists, every CronJob is enqueued, and its first
sync of each creates the Job of the most recent schedule time missed meanwhile, if startingDeadlineSeconds allows:
utils.go mostRecentScheduleTime). A paused leader's stands frozen (its requeue timers stand still with it) and runs
on if it resumes before another replica acts; a stale leader's CronJob controller takes no step (its overlap is
modelled for the ReplicaSet and Deployment controllers only). The wall clock, the schedule times and the history
variables are not the process's: time and the schedule go on while no replica leads (a schedule time reached
then is owed its Job as before).
Abstracted: a Job's startTime / completionTime are not in the model (``spec.state.Job``): byJobStartTime orders by
the scheduled-timestamp annotation, then creation (uid), then name, and lastSuccessfulTime is the scheduled time of
the newest succeeded Job; DST transitions follow cronsim (Debian cron's rules), which may differ from robfig's by
an hour on the days clocks change.
Omitted: the metrics, kubectl create job --from=cronjob, changing a CronJob's spec after the start (no kubectl
command edits one), a CronJob deleted (no kubectl command deletes one), status.active read from a bundle (a
CronJob starts with none; its Jobs in the bundle are then "UnexpectedJob"s).
Properties: ``spec.cronjob_properties`` (CronJobForbidAtMostOneActive, CronJobOneJobPerScheduleTime,
CronJobHistoryLimitsKept, CronJobScheduleTimesGetJobs; the finding CronJobJobNeverRecreated). Variant
``cronjob-active-from-lister`` (the v2 controller as merged by kubernetes#93370: status.active pruned from the Job
lister alone).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import attrs
import cronsim
import immutables

from spec import actions as A
from spec import informer
from spec.apiserver import NAMESPACE_TERMINATING, Session
from spec.component import Base, Delta, Host, Process, Step
from spec.controllers.manager import _elapse_queue, _finish, running
from spec.state import (
    CRONJOB_SCHEDULED_TIMESTAMP,
    CRONJOB_SCOPE,
    ClusterState,
    CronJob,
    CronJobController,
    CronJobStatus,
    Etcd,
    Ghost,
    Informer,
    Job,
    Key,
    Meta,
    Object,
    OwnerRef,
    WorkQueue,
    key_of,
)
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config

ACTOR = "cronjob-controller"
INFORMER_ACTOR = "kcm-cronjob-informer"
NEXT_SCHEDULE_DELTA_MS = 100
"""nextScheduleDelta: the requeue comes 100 ms after the schedule time (NTP skew)."""
TOO_MANY_MISSED = 100
DEFAULT_SCHEDULE_TIMES = 2
"""Schedule times explored per CronJob when the scenario's ``bounds.scheduleTimes`` is not given."""
DEFAULT_START_MS = 1_704_067_200_000
"""2024-01-01T00:00:00Z: a CronJob's creationTimestamp when the scenario gives none."""
VARIANT_ACTIVE_FROM_LISTER = "cronjob-active-from-lister"
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")


# --- schedules: robfig/cron's ParseStandard (validation, messages) and cronsim (the times) ----------------------


class ScheduleError(ValueError):
    """A schedule ParseStandard refuses, with robfig/cron's message."""


_BOUNDS = {
    "minute": (0, 59, None),
    "hour": (0, 23, None),
    "dom": (1, 31, None),
    "month": (1, 12, {n: i + 1 for i, n in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}),
    "dow": (0, 6, {n: i for i, n in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}),
}
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
"""parseDescriptor's SpecSchedules, as the equivalent 5-field specs (their day-of-week / day-of-month 'all' carry
the star bit, as ``*`` does)."""
_INT = re.compile(r"^[+-]?[0-9]+$")
_DURATION_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zµμ]*)")


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _must_parse_int(expr: str) -> int:
    """mustParseInt (strconv.Atoi, then no negative numbers)."""
    if not _INT.match(expr):
        raise ScheduleError(f"failed to parse int from {expr}: strconv.Atoi: parsing {_go_quote(expr)}: invalid syntax")
    num = int(expr)
    if abs(num) >= 2**63:
        raise ScheduleError(f"failed to parse int from {expr}: strconv.Atoi: parsing {_go_quote(expr)}: value out "
                            "of range")
    if num < 0:
        raise ScheduleError(f"negative number ({num}) not allowed: {expr}")
    return num


def _int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None and expr.lower() in names:
        return names[expr.lower()]
    return _must_parse_int(expr)


def _get_range(expr: str, field: str) -> tuple[frozenset[int], bool]:
    """getRange: the values of one range expression, and whether it carries the star bit."""
    lo, hi, names = _BOUNDS[field]
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = lo, hi, True
    else:
        start = _int_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], names)
        else:
            raise ScheduleError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _must_parse_int(range_and_step[1])
        if single:  # "N/step" means "N-max/step"
            end = hi
        if step > 1:
            star = False
    else:
        raise ScheduleError(f"too many slashes: {expr}")
    if start < lo:
        raise ScheduleError(f"beginning of range ({start}) below minimum ({lo}): {expr}")
    if end > hi:
        raise ScheduleError(f"end of range ({end}) above maximum ({hi}): {expr}")
    if start > end:
        raise ScheduleError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise ScheduleError(f"step of range should be a positive number: {expr}")
    return frozenset(range(start, end + 1, step)), star


def _get_field(text: str, field: str) -> tuple[frozenset[int], bool]:
    """getField: a comma-separated list of ranges (empty items dropped, as strings.FieldsFunc does)."""
    values: set[int] = set()
    star = False
    for expr in (r for r in text.split(",") if r):
        v, s = _get_range(expr, field)
        values |= v
        star = star or s
    return frozenset(values), star


def _parse_duration_ms(text: str, descriptor: str) -> int:
    """time.ParseDuration (decimal numbers with units ns..h, an optional sign), in ms."""
    orig = text
    error = ScheduleError(f"failed to parse duration {descriptor}: time: invalid duration {_go_quote(orig)}")
    sign = 1
    if text[:1] in "+-" and text:
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    if text == "0":
        return 0
    if not text:
        raise error
    total = 0.0
    while text:
        m = _DURATION.match(text)
        assert m is not None
        number, unit = m.group(1), m.group(2)
        if number in ("", "."):
            raise error
        if not unit:
            raise ScheduleError(f"failed to parse duration {descriptor}: time: missing unit in duration "
                                f"{_go_quote(orig)}")
        if unit not in _DURATION_UNITS:
            raise ScheduleError(f"failed to parse duration {descriptor}: time: unknown unit {_go_quote(unit)} in "
                                f"duration {_go_quote(orig)}")
        total += float(number) * _DURATION_UNITS[unit]
        text = text[m.end():]
    return int(sign * total)


@attrs.frozen
class Schedule:
    """A parsed schedule: the cronsim expression of the 5 fields (None: @every), or @every's delay in ms; the time
    zone (None: UTC, the controller manager's local zone in the model)."""

    expr: str | None
    every_ms: int = 0
    zone: str | None = None


def _load_location(name: str) -> zoneinfo.ZoneInfo | None:
    """time.LoadLocation: "" and "UTC" are UTC (None here); an unknown name is an error."""
    if name in ("", "UTC"):
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"unknown time zone {name}") from None


@functools.lru_cache(maxsize=256)
def parse_standard(spec: str, zone: str | None = None) -> Schedule:
    """cron.ParseStandard(spec) (``zone``: formatSchedule's "TZ=<spec.timeZone>" prefix), robfig/cron's messages."""
    if not spec:
        raise ScheduleError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        i = spec.find(" ")
        eq = spec.index("=")
        name = spec[eq + 1:i] if i >= 0 else spec[eq + 1:]
        try:
            _load_location(name)
        except ScheduleError as err:
            raise ScheduleError(f"provided bad location {name}: {err}") from None
        zone = name or None
        spec = spec[i:].strip() if i >= 0 else ""
    if zone is not None:
        _load_location(zone)
    if spec.startswith("@"):
        if spec.startswith("@every "):
            delay = _parse_duration_ms(spec[len("@every "):], spec)
            delay = max(delay, 1000)  # Every: at least one second, rounded down to whole seconds
            return Schedule(None, delay - delay % 1000, zone)
        if spec not in _DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    parts = []
    for text, name in zip(fields, ("minute", "hour", "dom", "month", "dow"), strict=True):
        values, star = _get_field(text, name)
        if not values:
            return Schedule("", 0, zone)  # an empty field ("," alone) matches nothing: Next never finds a time
        parts.append("*" if star else ",".join(str(v) for v in sorted(values)))
    return Schedule(" ".join(parts), 0, zone)


@functools.lru_cache(maxsize=1 << 14)
def next_after(schedule: Schedule, t: int) -> int | None:
    """Schedule.Next(t) in ms: the first schedule time after ``t`` (robfig: from the next whole second on), None
    when there is none within cronsim's (robfig's: 5 years) search."""
    if schedule.expr is None:  # ConstantDelaySchedule.Next: t + delay - t's fraction of a second
        return t + schedule.every_ms - t % 1000
    if not schedule.expr:
        return None
    tz = _load_location(schedule.zone) if schedule.zone else None
    start = datetime.fromtimestamp(t / 1000, tz if tz is not None else UTC)
    try:
        found = next(cronsim.CronSim(schedule.expr, start))
    except (StopIteration, cronsim.CronSimError):
        return None
    ms = int(found.timestamp() * 1000)
    if ms - t > 5 * 366 * 86_400_000:
        return None
    return ms


def validate_schedule(cj: CronJob) -> list[str]:
    """validateCronJobSpec's schedule, timeZone, startingDeadlineSeconds, concurrencyPolicy and history limits,
    each error as field.Error prints it."""
    errors = []
    if not cj.schedule:
        errors.append("spec.schedule: Required value")
    else:
        try:
            parse_standard(cj.schedule)
        except ScheduleError as err:
            errors.append(f"spec.schedule: Invalid value: {_go_quote(cj.schedule)}: {err}")
        if "TZ" in cj.schedule:  # on create: allowTZInSchedule is false
            errors.append(f"spec.schedule: Invalid value: {_go_quote(cj.schedule)}: cannot use TZ or CRON_TZ in "
                          "schedule, use timeZone field instead")
    if cj.starting_deadline_seconds is not None and cj.starting_deadline_seconds < 0:
        errors.append(f"spec.startingDeadlineSeconds: Invalid value: {cj.starting_deadline_seconds}: must be greater "
                      "than or equal to 0")
    tz = cj.time_zone
    if tz is not None:
        if not tz:
            errors.append('spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string')
        elif any(part in (".", "..") or part.startswith("-") or not re.match(r"^[A-Za-z\.\-_0-9+]{1,14}$", part)
                 for part in tz.split("/")):
            errors.append(f"spec.timeZone: Invalid value: {_go_quote(tz)}: unknown time zone {tz}")
        else:
            if tz.lower() == "local":
                errors.append(f"spec.timeZone: Invalid value: {_go_quote(tz)}: timeZone must be an explicit time "
                              "zone as defined in https://www.iana.org/time-zones")
            try:
                _load_location(tz)
            except ScheduleError as err:
                errors.append(f"spec.timeZone: Invalid value: {_go_quote(tz)}: {err}")
    if cj.concurrency_policy not in CONCURRENCY_POLICIES:
        errors.append(f"spec.concurrencyPolicy: Unsupported value: {_go_quote(cj.concurrency_policy)}: supported "
                      'values: "Allow", "Forbid", "Replace"')
    for name, value in (("successfulJobsHistoryLimit", cj.successful_jobs_history_limit),
                        ("failedJobsHistoryLimit", cj.failed_jobs_history_limit)):
        if value is not None and value < 0:
            errors.append(f"spec.{name}: Invalid value: {value}: must be greater than or equal to 0")
    if len(cj.meta.name) > 52:
        errors.append(f"metadata.name: Invalid value: {_go_quote(cj.meta.name)}: must be no more than 52 characters")
    return errors


def validate_cronjob(cj: CronJob) -> str | None:
    """The API server's validation of a CronJob (ValidateCronJobCreate): None, one error, or upstream's aggregate
    "[e1, e2]"."""
    errors = validate_schedule(cj)
    if not errors:
        return None
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def schedule_of(cj: CronJob) -> Schedule:
    """formatSchedule + ParseStandard: the schedule in spec.timeZone."""
    return parse_standard(cj.schedule, cj.time_zone)


def schedule_times(cj: CronJob, count: int) -> tuple[int, ...]:
    """The first ``count`` schedule times after the CronJob's start (lastScheduleTime, else creationTimestamp)."""
    sched = schedule_of(cj)
    t = cj.status.last_schedule_time if cj.status.last_schedule_time is not None else cj.creation_ms
    out = []
    for _ in range(count):
        nxt = next_after(sched, t)
        if nxt is None:
            break
        out.append(nxt)
        t = nxt
    return tuple(out)


def rfc3339(ms: int, zone: str | None) -> str:
    """time.Time.Format(time.RFC3339) in ``zone`` (whole seconds; "Z" for a zero offset)."""
    tz = _load_location(zone) if zone else None
    dt = datetime.fromtimestamp(ms // 1000, tz if tz is not None else UTC)
    text = dt.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --- utils.go -----------------------------------------------------------------------------------------------


NONE_MISSED, FEW_MISSED, MANY_MISSED = 0, 1, 2


class _Invalid(Exception):
    """mostRecentScheduleTime's error: two schedule times less than a second apart (a spec that never fires)."""


def most_recent_schedule_time(cj: CronJob, now: int, sched: Schedule, include_deadline: bool
                              ) -> tuple[int, int | None, int]:
    """mostRecentScheduleTime: (earliestTime, the most recent schedule time <= now or None, missed). Raises
    ``_Invalid`` where upstream returns its error."""
    earliest = cj.creation_ms
    missed = NONE_MISSED
    if cj.status.last_schedule_time is not None:
        earliest = cj.status.last_schedule_time
    if include_deadline and cj.starting_deadline_seconds is not None:
        deadline = now - cj.starting_deadline_seconds * 1000
        if deadline > earliest:
            earliest = deadline
    t1 = next_after(sched, earliest)
    t2 = next_after(sched, t1) if t1 is not None else None
    if t1 is not None and now < t1:
        return earliest, None, missed
    if t1 is not None and t2 is not None and now < t2:
        return earliest, t1, missed
    if t1 is None or t2 is None or round((t2 - t1) / 1000) < 1:
        raise _Invalid("time difference between two schedules is less than 1 second")
    between = round((t2 - t1) / 1000)
    elapsed = (now - t1) // 1000
    number = elapsed // between + 1
    most_recent: int | None = None
    t: int | None = next_after(sched, t1 + (number - 2) * between * 1000)
    while t is not None and t <= now:
        most_recent = t
        t = next_after(sched, t)
    if number > TOO_MANY_MISSED:
        missed = MANY_MISSED
    elif number > 0:
        missed = FEW_MISSED
    return earliest, most_recent, missed


def next_schedule_time_duration(cj: CronJob, now: int, sched: Schedule) -> int | None:
    """nextScheduleTimeDuration: ms until the next schedule time after the last one (+ nextScheduleDelta); None
    where the schedule has no next time (robfig returns the zero time: a requeue in the past, at once, here none)."""
    try:
        earliest, recent, missed = most_recent_schedule_time(cj, now, sched, False)
        base = recent if recent is not None else (earliest if missed == NONE_MISSED else now)
    except _Invalid:
        base = now
    nxt = next_after(sched, base)
    return None if nxt is None else nxt + NEXT_SCHEDULE_DELTA_MS - now


def next_schedule_time(cj: CronJob, now: int, sched: Schedule, session: Session, key: Key) -> int | None:
    """nextScheduleTime: the schedule time to start a Job for, or None (raises ``_Invalid``)."""
    _, recent, missed = most_recent_schedule_time(cj, now, sched, True)
    if recent is None or recent > now:
        return None
    if missed == MANY_MISSED:
        session.event(key, "Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
                      ".spec.startingDeadlineSeconds or check clock skew")
    return recent


def job_name(cj: CronJob, scheduled: int) -> str:
    """getJobName: NAME-<scheduled time in minutes since the epoch>."""
    return f"{cj.meta.name}-{scheduled // 60_000}"


def job_from_template(cj: CronJob, scheduled: int) -> Job:
    """getJobFromTemplate2: the template's labels and annotations, the scheduled-timestamp annotation, the
    controller reference."""
    annotations = tuple(sorted({**dict(cj.job_annotations),
                                CRONJOB_SCHEDULED_TIMESTAMP: rfc3339(scheduled, cj.time_zone)}.items()))
    meta = Meta(name=job_name(cj, scheduled), namespace=cj.meta.namespace, labels=cj.job_labels,
                annotations=annotations, owner=OwnerRef("CronJob", cj.meta.name, cj.meta.uid))
    return Job(meta=meta, template=cj.template, parallelism=cj.parallelism, completions=cj.completions,
               backoff_limit=cj.backoff_limit, restart_policy=cj.restart_policy,
               ttl_seconds_after_finished=cj.ttl_seconds_after_finished)


def scheduled_of(job: Job) -> int | None:
    """The Job's scheduled time (ms) from its cronjob-scheduled-timestamp annotation."""
    text = job.meta.annotation(CRONJOB_SCHEDULED_TIMESTAMP)
    if text is None:
        return None
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def finished(job: Job) -> bool:
    return job.status.condition in ("Complete", "Failed")


def _start_order(job: Job) -> tuple[int, int, str]:
    """byJobStartTime, with the scheduled time standing for status.startTime (module docstring)."""
    s = scheduled_of(job)
    return (s if s is not None else 2**62, job.meta.uid, job.meta.name)


# --- sync ---------------------------------------------------------------------------------------------------


@attrs.frozen
class Variants:
    active_from_lister: bool = False
    """kubernetes#93370 as merged: a Job of status.active that the Job lister does not have is dropped without the
    GET from the API server (today's syncCronJob GETs it: "to avoid a slow watch not able to update the job lister
    on time")."""


@attrs.frozen
class SyncResult:
    requeue: int | None
    failed: bool
    created: tuple[int, ...] = ()


def _jobs_of(jobs: immutables.Map[Key, Object], cj: CronJob) -> list[Job]:
    """getJobsToBeReconciled: every cached Job of the namespace whose controller reference names the CronJob."""
    return sorted((j for j in jobs.values() if isinstance(j, Job) and j.meta.namespace == cj.meta.namespace
                   and j.meta.owner is not None and j.meta.owner.kind == "CronJob"
                   and j.meta.owner.name == cj.meta.name), key=lambda j: j.meta.name)


def _without(status: CronJobStatus, uid: int) -> CronJobStatus:
    return attrs.evolve(status, active=tuple(a for a in status.active if a[1] != uid))


def _delete_job(session: Session, key: Key, cj_name: str, job: Job, status: CronJobStatus
                ) -> tuple[bool, CronJobStatus]:
    """deleteJob: the Job deleted in background, then out of status.active."""
    jkey = key_of("jobs", job.meta.namespace, job.meta.name)
    response = session.delete(jkey, propagation="Background")
    if not response.ok:
        session.event(key, "Warning", "FailedDelete", f"Deleted job: {response.message}")
        return False, status
    session.event(key, "Normal", "SuccessfulDelete", f"Deleted job {job.meta.name}")
    return True, _without(status, job.meta.uid)


def cleanup_finished_jobs(session: Session, key: Key, cj: CronJob, jobs: list[Job], status: CronJobStatus
                          ) -> tuple[bool, CronJobStatus]:
    """cleanupFinishedJobs / removeOldestJobs: finished Jobs beyond each history limit, oldest first."""
    if cj.failed_jobs_history_limit is None and cj.successful_jobs_history_limit is None:
        return False, status
    update = False
    for condition, limit in (("Complete", cj.successful_jobs_history_limit),
                             ("Failed", cj.failed_jobs_history_limit)):
        if limit is None:
            continue
        matching = sorted((j for j in jobs if j.status.condition == condition), key=_start_order)
        for j in matching[:max(0, len(matching) - limit)]:
            deleted, status = _delete_job(session, key, cj.meta.name, j, status)
            update = update or deleted
    return update, status


def sync_cronjob(session: Session, key: Key, cj: CronJob, jobs: list[Job], status: CronJobStatus, now: int,
                 variants: Variants) -> tuple[int | None, bool, CronJobStatus, bool, tuple[int, ...]]:
    """syncCronJob: (requeueAfter, updateStatus, status', error, the schedule times a Job was created for)."""
    update = False
    children = {j.meta.uid for j in jobs}
    for j in jobs:
        found = any(uid == j.meta.uid for _, uid in status.active)
        if not found and not finished(j):
            fresh = session.get(key)  # GetCronJob: the lister may be older than the status we wrote
            if not isinstance(fresh, CronJob):
                return None, update, status, True, ()
            if any(uid == j.meta.uid for _, uid in fresh.status.active):
                cj, status = fresh, fresh.status
                continue
            session.event(key, "Warning", "UnexpectedJob",
                          f"Saw a job that the controller did not create or forgot: {j.meta.name}")
        elif finished(j):
            if found:
                status = _without(status, j.meta.uid)
                session.event(key, "Normal", "SawCompletedJob",
                              f"Saw completed job: {j.meta.name}, condition: {j.status.condition}")
                update = True
            if j.status.condition == "Complete":
                done = scheduled_of(j)
                if done is not None and (status.last_successful_time is None or done > status.last_successful_time):
                    status = attrs.evolve(status, last_successful_time=done)
                    update = True
    for name, uid in status.active:  # a Job gone stays active for ever otherwise (kubernetes#37957, fixed by #39204)
        if uid in children:
            continue
        if variants.active_from_lister or session.get(key_of("jobs", cj.meta.namespace, name)) is None:
            # GetJob: not only the lister's word (the variant trusts the lister)
            session.event(key, "Normal", "MissingJob", f"Active job went missing: {name}")
            status = _without(status, uid)
            update = True
    if cj.meta.deleting:
        return None, update, status, False, ()
    if cj.suspend:
        return None, update, status, False, ()
    try:
        sched = schedule_of(cj)
    except ScheduleError as err:
        session.event(key, "Warning", "UnparseableSchedule", f"unparseable schedule: {_go_quote(cj.schedule)} : {err}")
        return None, update, status, False, ()
    current = attrs.evolve(cj, status=status)
    try:
        scheduled = next_schedule_time(current, now, sched, session, key)
    except _Invalid as err:
        session.event(key, "Warning", "InvalidSchedule", f"invalid schedule: {cj.schedule} : {err}")
        return None, update, status, False, ()
    requeue = next_schedule_time_duration(current, now, sched)
    if scheduled is None:
        return requeue, update, status, False, ()
    if cj.starting_deadline_seconds is not None and scheduled + cj.starting_deadline_seconds * 1000 < now:
        session.event(key, "Warning", "MissSchedule",
                      f"Missed scheduled time to start a job: {rfc3339(scheduled, None)}")
        return requeue, update, status, False, ()
    name = job_name(cj, scheduled)
    if any(n == name for n, _ in status.active) or status.last_schedule_time == scheduled:
        return requeue, update, status, False, ()
    if cj.concurrency_policy == "Forbid" and status.active:
        session.event(key, "Normal", "JobAlreadyActive",
                      "Not starting job because prior execution is running and concurrency policy is Forbid")
        return requeue, update, status, False, ()
    if cj.concurrency_policy == "Replace":
        for active_name, _ in status.active:
            job = session.get(key_of("jobs", cj.meta.namespace, active_name))
            if not isinstance(job, Job):
                session.event(key, "Warning", "FailedGet", f'Get job: jobs.batch "{active_name}" not found')
                return None, update, status, True, ()
            deleted, status = _delete_job(session, key, cj.meta.name, job, status)
            if not deleted:
                return None, update, status, True, ()
            update = True
    request = job_from_template(cj, scheduled)
    response = session.create(request)
    created: tuple[int, ...] = ()
    if response.cause == NAMESPACE_TERMINATING:
        return None, update, status, True, ()
    if response.reason == "AlreadyExists":
        existing = session.get(key_of("jobs", cj.meta.namespace, name))
        if not isinstance(existing, Job):
            return None, update, status, True, ()
        if existing.meta.owner is None or existing.meta.owner.uid != cj.meta.uid:
            return None, update, status, False, ()  # another actor's Job: assume it updates the status
        if any(uid == existing.meta.uid for _, uid in status.active):
            return None, update, status, False, ()
        ref = existing
    elif not response.ok:
        session.event(key, "Warning", "FailedCreate", f"Error creating job: {response.message}")
        return None, update, status, True, ()
    else:
        assert isinstance(response.obj, Job)
        ref = response.obj
        created = (scheduled,)
        session.event(key, "Normal", "SuccessfulCreate", f"Created job {name}")
    status = attrs.evolve(status, active=(*status.active, (ref.meta.name, ref.meta.uid)),
                          last_schedule_time=scheduled)
    return requeue, True, status, False, created


def sync(ctl: CronJobController, jobs: immutables.Map[Key, Object], session: Session, key: Key,
         variants: Variants) -> SyncResult:
    """sync: the lister's CronJob, its Jobs, cleanup, syncCronJob, one UpdateStatus (a Conflict is an error)."""
    cj = ctl.informer.cache.get(key)
    if not isinstance(cj, CronJob):
        return SyncResult(None, False)
    children = _jobs_of(jobs, cj)
    updated_cleanup, status = cleanup_finished_jobs(session, key, cj, children, cj.status)
    requeue, updated_sync, status, error, created = sync_cronjob(session, key, cj, children, status, ctl.now,
                                                                 variants)
    if updated_cleanup or updated_sync:
        response = session.update(attrs.evolve(cj, status=status), status=True)
        if not response.ok:
            return SyncResult(None, True, created)
    if requeue is not None:
        return SyncResult(requeue, False, created)
    return SyncResult(None, error, created)


# --- the controller as a component ----------------------------------------------------------------------------


def has_cronjobs(config: Config) -> bool:
    """The slot exists: the scenario has a CronJob."""
    return any(isinstance(o, CronJob) for o in config.objects)


def shared_jobs(state: ClusterState) -> immutables.Map[Key, Object]:
    """The shared Job informer's cache (the Job controller's, ``spec.controllers.job``)."""
    assert state.jobs is not None
    return state.jobs.informer.cache


def _enqueue_after(ctl: CronJobController, key: Key, ms: int) -> CronJobController:
    """AddAfter (a key already waiting keeps the earlier deadline); a requeue past the explored time is not kept."""
    if ms <= 0:
        return attrs.evolve(ctl, queue=ctl.queue.add(key))
    if ctl.now + ms > ctl.end:
        return ctl
    pending = dict(ctl.queue.waiting)
    pending[key] = min(pending.get(key, ms), ms)
    return attrs.evolve(ctl, queue=attrs.evolve(ctl.queue, waiting=tuple(sorted(pending.items()))))


def _resolve(ctl: CronJobController, job: Job) -> Key | None:
    """resolveControllerRef: the cached CronJob of the Job's controller reference, with its uid."""
    owner = job.meta.owner
    if owner is None or owner.kind != "CronJob":
        return None
    key = key_of("cronjobs", job.meta.namespace, owner.name)
    cj = ctl.informer.cache.get(key)
    return key if isinstance(cj, CronJob) and cj.meta.uid == owner.uid else None


def on_cronjob(ctl: CronJobController, key: Key, old: CronJob | None, new: CronJob | None) -> CronJobController:
    """The CronJob informer's handlers: add and delete enqueue; updateCronJob requeues for the next schedule time
    when the schedule or time zone changed, else at once."""
    if old is not None and new is not None and (old.schedule != new.schedule or old.time_zone != new.time_zone):
        try:
            sched = schedule_of(new)
        except ScheduleError:
            return ctl
        ms = next_schedule_time_duration(new, ctl.now, sched)
        return ctl if ms is None else _enqueue_after(ctl, key, ms)
    return attrs.evolve(ctl, queue=ctl.queue.add(key))


def on_job(ctl: CronJobController, old: Job | None, new: Job | None) -> CronJobController:
    """addJob / updateJob / deleteJob on the shared Job informer: the controlling CronJob is enqueued (an update
    with an unchanged resourceVersion, a resync, is ignored)."""
    keys: list[Key] = []
    if new is not None and old is not None:
        if new.meta.resource_version == old.meta.resource_version or _same_for_sync(old, new):
            return ctl
        if old.meta.owner != new.meta.owner and (k := _resolve(ctl, old)) is not None:
            keys.append(k)
    job = new if new is not None else old
    assert job is not None
    if (k := _resolve(ctl, job)) is not None:
        keys.append(k)
    queue = ctl.queue
    for k in keys:
        queue = queue.add(k)
    return ctl if queue is ctl.queue else attrs.evolve(ctl, queue=queue)


def _same_for_sync(old: Job, new: Job) -> bool:
    """An update that changes nothing a sync reads of a Job (its finished condition, its deletion, its controller
    reference): not enqueued (the module docstring's abstraction; upstream enqueues, and the sync does nothing)."""
    return (old.status.condition == new.status.condition and old.meta.deleting == new.meta.deleting
            and old.meta.owner == new.meta.owner)


def handle(ctl: CronJobController, deltas: Iterable[Delta]) -> CronJobController:
    for key, old, new in deltas:
        obj = new if new is not None else old
        if isinstance(obj, CronJob):
            ctl = on_cronjob(ctl, key, old if isinstance(old, CronJob) else None,
                             new if isinstance(new, CronJob) else None)
        elif isinstance(obj, Job):
            ctl = on_job(ctl, old if isinstance(old, Job) else None, new if isinstance(new, Job) else None)
    return ctl


def on_jobs(state: ClusterState, deltas: Iterable[Delta]) -> ClusterState:
    """The CronJob controller's Job handlers, on changes the shared Job informer just delivered (called by the Job
    controller's ``handle``)."""
    ctl = state.cronjobs
    if ctl is None:
        return state
    new = handle(ctl, deltas)
    return state if new is ctl else state._with(cronjobs=new)


def restarted(etcd: Etcd, old: CronJobController | None, revision: int, jobs: immutables.Map[Key, Object]
              ) -> CronJobController:
    """A (re)started controller manager's CronJob controller: its CronJob informer listed at ``revision``, an empty
    queue, every listed CronJob enqueued (and the shared Job informer's Jobs handled); the clock and the history
    variables kept."""
    assert old is not None
    fresh = Informer(rv=0, cache=immutables.Map(), high_water=old.informer.high_water)
    inf, deltas = informer.relist(fresh, etcd, CRONJOB_SCOPE, revision)
    ctl = attrs.evolve(old, informer=inf, queue=WorkQueue())
    return handle(ctl, (*deltas, *((k, None, j) for k, j in sorted(jobs.items()))))


def initial(state: ClusterState, config: Config) -> CronJobController:
    """The slot at the start: the clock at the latest CronJob start, each CronJob's schedule times within the
    bound as deadlines (the end of explored time 100 ms after the last)."""
    cronjobs = [o for o in config.objects if isinstance(o, CronJob)]
    now = max(c.status.last_schedule_time if c.status.last_schedule_time is not None else c.creation_ms
              for c in cronjobs)
    deadlines = sorted((key_of("cronjobs", c.meta.namespace, c.meta.name), t)
                       for c in cronjobs for t in schedule_times(c, config.schedule_times) if t > now)
    end = max((t for _, t in deadlines), default=now) + NEXT_SCHEDULE_DELTA_MS
    empty = CronJobController(Informer(rv=0, cache=immutables.Map()), now=now, end=end, deadlines=tuple(deadlines))
    return restarted(state.etcd, empty, state.etcd.revision, shared_jobs(state))


@functools.lru_cache(maxsize=1 << 14)
def _reconcile(ctl: CronJobController, jobs: immutables.Map[Key, Object], etcd: Etcd, ghost: Ghost, key: Key,
               variants: Variants) -> tuple[CronJobController, bool, Etcd, Ghost, tuple[str, ...]]:
    """Pop ``key``, sync it, then Forget + AddAfter, or AddRateLimited on an error: a pure function, memoised."""
    q = ctl.queue
    ctl = attrs.evolve(ctl, queue=WorkQueue(tuple(k for k in q.queue if k != key), q.waiting, q.failures))
    session = Session(etcd, ghost)
    result = sync(ctl, jobs, session, key, variants)
    queue = _finish(ctl.queue, key, result.failed, None)
    # the per-key failure count is not kept: every retry waits the rate limiter's base delay (module docstring)
    ctl = attrs.evolve(ctl, queue=attrs.evolve(queue, failures=()))
    if result.requeue is not None and not result.failed:
        ctl = _enqueue_after(ctl, key, result.requeue)
    for t in result.created:
        pair = (key, t)
        if pair in ctl.created:
            ctl = attrs.evolve(ctl, duplicates=ctl.duplicates | {pair})
        else:
            ctl = attrs.evolve(ctl, created=ctl.created | {pair})
    return ctl, result.failed, session.etcd, session.ghost, tuple(session.events)


def variants_of(config: Config) -> Variants:
    return Variants(active_from_lister=VARIANT_ACTIVE_FROM_LISTER in config.variants)


def _unfinished_jobs(etcd: Etcd, cj: CronJob) -> list[Job]:
    """The CronJob's Jobs in etcd that have not finished and are not being deleted."""
    return [j for j in etcd.of("jobs") if isinstance(j, Job) and j.meta.owner is not None
            and j.meta.owner.uid == cj.meta.uid and not finished(j) and not j.meta.deleting]


def elapse(ctl: CronJobController, etcd: Etcd, dt: int, run: bool = True) -> tuple[CronJobController, bool]:
    """``dt`` ms pass: the clock moves (up to the end of explored time), the requeues come due (only while the
    controller runs, ``run``: under leader election a frozen one's timers stand still, a stopped one has none), and
    each schedule time reached is noted as owed a Job if the CronJob is not suspended and (under Forbid) has no
    unfinished Job."""
    now = min(ctl.now + dt, ctl.end)
    queue = _elapse_queue(ctl.queue, dt) if run else ctl.queue
    owed = set(ctl.owed)
    left = []
    fired = False
    for key, t in ctl.deadlines:
        if t > now:
            left.append((key, t))
            continue
        fired = True
        cj = etcd.objects.get(key)
        if isinstance(cj, CronJob) and not cj.suspend and not cj.meta.deleting and not (
                cj.concurrency_policy == "Forbid" and _unfinished_jobs(etcd, cj)):
            owed.add((key, t))
    return attrs.evolve(ctl, now=now, queue=queue, deadlines=tuple(left), owed=frozenset(owed)), fired


def timers(ctl: CronJobController, run: bool = True) -> list[int]:
    """The schedule times to come (the wall clock's: always) and, while the controller runs (``run``), its
    requeues."""
    return [t - ctl.now for _, t in ctl.deadlines] + ([ms for _, ms in ctl.queue.waiting] if run else [])


class CronJobComponent(Base):
    """The CronJob controller (module docstring): slot ``ClusterState.cronjobs`` (None without a CronJob); steps
    ``Reconcile`` (one queued CronJob's sync, actor "cronjob-controller"); its CronJob informer's deliveries come
    through ``spec.reflector`` (actor "kcm-cronjob-informer"), its Jobs from the shared Job informer, all weakly
    fair. Timers: the schedule times within the bound, the AddAfter requeues and the per-key backoffs; a queued
    CronJob is urgent (time waits for its sync). What a controller-manager restart loses: the informer (relisted)
    and the queue with its timers (``restart``). Under leader election it runs only in the acting replica
    (``running``), its requeues with it; ``stopped`` while none acts."""

    name = ACTOR
    slot = "cronjobs"
    host = Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        return (INFORMER_ACTOR, ACTOR) if has_cronjobs(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        if not has_cronjobs(config):
            return state
        return state._with(cronjobs=initial(state, config))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        """After the Job controller's restart (which relisted the shared Job informer): the informer relisted at
        ``revision``, the queue and its timers lost."""
        ctl = state.cronjobs
        if ctl is None:
            return state
        return state._with(cronjobs=restarted(state.etcd, ctl, revision, shared_jobs(state)))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        ctl = state.cronjobs
        if ctl is None or not running(state):
            return
        jobs = shared_jobs(state)
        variants = variants_of(config)
        for key in ctl.queue.queue:
            new, failed, etcd, ghost, events = _reconcile(ctl, jobs, state.etcd, state.ghost, key, variants)
            yield A.Reconcile(ACTOR, key, failed, events), settle(
                state._with(etcd=etcd, ghost=ghost, cronjobs=new), config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {ACTOR} if self.busy(state, config) else set()

    def busy(self, state: ClusterState, config: Config) -> bool:
        return state.cronjobs is not None and bool(state.cronjobs.queue.queue) and running(state)

    def urgent(self, state: ClusterState, config: Config) -> bool:
        """A queued CronJob is synced before time moves on (the module docstring's timing assumption)."""
        return self.busy(state, config)

    def timers(self, state: ClusterState) -> list[int]:
        return [] if state.cronjobs is None else timers(state.cronjobs, running(state))

    def elapse(self, state: ClusterState, dt: int) -> tuple[ClusterState, tuple[str, ...]]:
        ctl = state.cronjobs
        if ctl is None:
            return state, ()
        run = running(state)
        due = dt in timers(ctl, run)
        new, fired = elapse(ctl, state.etcd, dt, run)
        names = ("schedule time",) if fired else ("cronjob requeue",) if due else ()
        return state._with(cronjobs=new), names

    def resync(self, state: ClusterState) -> ClusterState:
        """The CronJob informer's periodic resync: updateCronJob with the schedule unchanged enqueues each one (the
        Job informer's resync is ignored by updateJob: same resourceVersion). A schedule time still owed its Job
        then is ``missed``: a resync period is 12 h and more (whether or not a replica runs the controller)."""
        ctl = state.cronjobs
        if ctl is None:
            return state
        queue = ctl.queue
        if running(state):
            for k, o in sorted(ctl.informer.cache.items()):
                if isinstance(o, CronJob):
                    queue = queue.add(k)
        from spec.cronjob_properties import pending

        missed = ctl.missed | frozenset(pending(state))  # a resync period (12 h and more) has passed: too late
        if queue is ctl.queue and missed == ctl.missed:
            return state
        return state._with(cronjobs=attrs.evolve(ctl, queue=queue, missed=missed))

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): nothing of the
        controller (no informer, an empty queue: its AddAfter requeues are gone); the wall clock, the schedule
        times and the history variables are not the process's and stay."""
        ctl = state.cronjobs
        if ctl is None:
            return state
        return state._with(cronjobs=attrs.evolve(ctl, informer=informer.fresh(None), queue=WorkQueue()))

    def watcher(self, state: ClusterState, index: int) -> str:
        return INFORMER_ACTOR

    def handle(self, state: ClusterState, index: int, deltas: Iterable[Delta]) -> ClusterState:
        ctl = state.cronjobs
        assert ctl is not None
        new = handle(ctl, deltas)
        return state if new is ctl else state._with(cronjobs=new)

    def __repr__(self) -> str:
        return f"<component {self.name}>"


CRONJOBS = CronJobComponent()

__all__ = ["CRONJOBS", "ScheduleError", "job_name", "next_after", "parse_standard", "schedule_times",
           "validate_cronjob"]
