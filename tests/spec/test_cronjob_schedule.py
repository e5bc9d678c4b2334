"""The CronJob schedules (spec/controllers/cronjob.py): robfig/cron's ParseStandard grammar and messages as the API
server's validation words them, the times cronsim computes for them (robfig's day-of-month / day-of-week rule,
descriptors, @every, timeZone), and utils.go's schedule arithmetic (mostRecentScheduleTime, the requeue)."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest

from checker.errors import InputError
from spec.controllers import cronjob as cj
from spec.scenario import parse
from spec.state import CronJob, CronJobStatus, Meta


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def iso(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def nexts(schedule: str, start: str, n: int = 3, zone: str | None = None) -> list[str | None]:
    sched = cj.parse_standard(schedule, zone)
    out, t = [], ms(start)
    for _ in range(n):
        nxt = cj.next_after(sched, t)
        out.append(iso(nxt))
        if nxt is None:
            break
        t = nxt
    return out


@pytest.mark.parametrize(("schedule", "message"), [
    ("61 * * * *", "end of range (61) above maximum (59): 61"),
    ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
    ("* * * * * *", "expected exactly 5 fields, found 6: [* * * * * *]"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("* * * * 7", "end of range (7) above maximum (6): 7"),
    ("5-2 * * * *", "beginning of range (5) beyond end of range (2): 5-2"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
    ("*/2/3 * * * *", "too many slashes: */2/3"),
    ("x * * * *", 'failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax'),
    ("@fortnightly", "unrecognized descriptor: @fortnightly"),
    ("@every 1x", 'failed to parse duration @every 1x: time: unknown unit "x" in duration "1x"'),
    ("@every", "unrecognized descriptor: @every"),
    ("", "empty spec string"),
    ("* * * JANUARY *", 'failed to parse int from JANUARY: strconv.Atoi: parsing "JANUARY": invalid syntax'),
])
def test_a_bad_schedule_gets_robfig_crons_message(schedule: str, message: str) -> None:
    with pytest.raises(cj.ScheduleError) as err:
        cj.parse_standard(schedule)
    assert str(err.value) == message


@pytest.mark.parametrize("schedule", ["* * * * *", "*/5 * * * ?", "0 0 1 JAN *", "0 9 * * mon-fri", "@hourly",
                                      "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
                                      "@every 1h30m", "0,30 */2 1-15 * SUN", "5/15 * * * *"])
def test_upstream_accepts_these(schedule: str) -> None:
    cj.parse_standard(schedule)


def test_the_times_of_a_schedule() -> None:
    assert nexts("* * * * *", "2024-01-01 00:00:00") == ["2024-01-01 00:01:00", "2024-01-01 00:02:00",
                                                          "2024-01-01 00:03:00"]
    assert nexts("*/15 * * * *", "2024-01-01 00:00:30") == ["2024-01-01 00:15:00", "2024-01-01 00:30:00",
                                                             "2024-01-01 00:45:00"]
    assert nexts("5/20 * * * *", "2024-01-01 00:00:00") == ["2024-01-01 00:05:00", "2024-01-01 00:25:00",
                                                             "2024-01-01 00:45:00"]
    assert nexts("@hourly", "2024-01-01 00:00:00", 2) == ["2024-01-01 01:00:00", "2024-01-01 02:00:00"]
    assert nexts("@weekly", "2024-01-01 00:00:00", 1) == ["2024-01-07 00:00:00"]  # a Sunday
    assert nexts("@every 90s", "2024-01-01 00:00:00.250", 2) == ["2024-01-01 00:01:30", "2024-01-01 00:03:00"]
    # robfig: day-of-month and day-of-week both restricted -> either matches; one is * -> both must
    assert nexts("0 0 13 * 5", "2024-01-01 00:00:00", 3) == ["2024-01-05 00:00:00", "2024-01-12 00:00:00",
                                                              "2024-01-13 00:00:00"]
    assert nexts("0 0 13 * *", "2024-01-01 00:00:00", 1) == ["2024-01-13 00:00:00"]
    assert nexts("0 0 31 2 *", "2024-01-01 00:00:00", 1) == [None]  # never: parsed, but no time


def test_the_time_zone_moves_the_schedule() -> None:
    assert nexts("0 3 * * *", "2024-07-01 00:00:00", 1, "Europe/Paris") == ["2024-07-01 01:00:00"]
    assert nexts("0 3 * * *", "2024-01-01 00:00:00", 1, "Europe/Paris") == ["2024-01-01 02:00:00"]
    assert cj.rfc3339(ms("2024-07-01 01:00:00"), "Europe/Paris") == "2024-07-01T03:00:00+02:00"
    assert cj.rfc3339(ms("2024-07-01 01:00:00"), None) == "2024-07-01T01:00:00Z"


def _cronjob(schedule: str, created: str, last: str | None = None, deadline: int | None = None) -> CronJob:
    base = next(o for o in parse(DOC.replace("SCHEDULE", "* * * * *").replace("EXTRA", ""), "c.yaml").config.objects
                if isinstance(o, CronJob))
    return attrs.evolve(base, meta=Meta(name="c", uid=1), schedule=schedule, creation_ms=ms(created),
                        starting_deadline_seconds=deadline,
                        status=CronJobStatus(last_schedule_time=None if last is None else ms(last)))


def test_most_recent_schedule_time_and_the_requeue() -> None:
    c = _cronjob("* * * * *", "2024-01-01 00:00:00")
    sched = cj.schedule_of(c)
    assert cj.most_recent_schedule_time(c, ms("2024-01-01 00:00:30"), sched, True)[1] is None
    assert iso(cj.most_recent_schedule_time(c, ms("2024-01-01 00:01:00.100"), sched, True)[1]) == "2024-01-01 00:01:00"
    # several missed: the most recent only
    _, recent, missed = cj.most_recent_schedule_time(c, ms("2024-01-01 00:05:10"), sched, True)
    assert iso(recent) == "2024-01-01 00:05:00" and missed == cj.FEW_MISSED
    # more than 100 missed: the warning's case
    assert cj.most_recent_schedule_time(c, ms("2024-01-01 03:00:10"), sched, True)[2] == cj.MANY_MISSED
    # the requeue: the next schedule time + 100 ms
    assert cj.next_schedule_time_duration(c, ms("2024-01-01 00:00:00"), sched) == 60_100
    # startingDeadlineSeconds bounds how far back a missed time is started
    late = _cronjob("* * * * *", "2024-01-01 00:00:00", deadline=10)
    assert cj.most_recent_schedule_time(late, ms("2024-01-01 00:05:30"), sched, True)[1] is None


def test_the_job_name_is_the_scheduled_time_in_minutes() -> None:
    c = _cronjob("* * * * *", "2024-01-01 00:00:00")
    assert cj.job_name(c, ms("2024-01-01 00:01:00")) == "c-28401121"
    job = cj.job_from_template(c, ms("2024-01-01 00:01:00"))
    assert job.meta.owner is not None and job.meta.owner.kind == "CronJob"
    assert cj.scheduled_of(job) == ms("2024-01-01 00:01:00")


DOC = """
apiVersion: v1
kind: Node
metadata: {name: node-a}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "SCHEDULE"
  EXTRA
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox}]
"""


@pytest.mark.parametrize(("schedule", "extra", "message"), [
    ("61 * * * *", "", 'spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61'),
    ("CRON_TZ=UTC * * * * *", "", 'spec.schedule: Invalid value: "CRON_TZ=UTC * * * * *": cannot use TZ or CRON_TZ '
                                  "in schedule, use timeZone field instead"),
    ("TZ=Nowhere/Town * * * * *", "", '[spec.schedule: Invalid value: "TZ=Nowhere/Town * * * * *": provided bad '
                                      "location Nowhere/Town: unknown time zone Nowhere/Town, spec.schedule"),
    ("* * * * *", "timeZone: Europe/Pariss", 'spec.timeZone: Invalid value: "Europe/Pariss": unknown time zone '
                                            "Europe/Pariss"),
    ("* * * * *", "concurrencyPolicy: Sometimes", 'spec.concurrencyPolicy: Unsupported value: "Sometimes"'),
])
def test_the_api_server_refuses_a_bad_cronjob_with_upstreams_words(schedule: str, extra: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse(DOC.replace("SCHEDULE", schedule).replace("EXTRA", extra), "bad.yaml")
    assert 'CronJob.batch "backup" is invalid: ' in str(err.value)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_negative_history_limit_is_refused() -> None:
    with pytest.raises(InputError, match="spec.successfulJobsHistoryLimit: expected a non-negative integer, got -1"):
        parse(DOC.replace("SCHEDULE", "* * * * *").replace("EXTRA", "successfulJobsHistoryLimit: -1"), "bad.yaml")


def test_a_good_cronjob_is_read() -> None:
    s = parse(DOC.replace("SCHEDULE", "@daily").replace("EXTRA", "timeZone: Europe/Paris"), "good.yaml")
    c = next(o for o in s.config.objects if isinstance(o, CronJob))
    assert (c.schedule, c.time_zone, c.concurrency_policy, c.successful_jobs_history_limit,
            c.failed_jobs_history_limit, c.suspend) == ("@daily", "Europe/Paris", "Allow", 3, 1, False)
    assert c.creation_ms == cj.DEFAULT_START_MS
    assert s.config.schedule_times == 2
