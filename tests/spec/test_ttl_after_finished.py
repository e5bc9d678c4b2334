"""The TTL-after-finished controller (spec/controllers/ttlafterfinished.py): a finished Job with
ttlSecondsAfterFinished is deleted in foreground once its TTL has run out since it finished, never before, also
across a controller-manager crash; and the parser's errors."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from checker import always, check
from checker.errors import InputError
from spec.controllers import ttlafterfinished
from spec.model import ClusterModel
from spec.scenario import builtin, parse
from spec.state import ClusterState, Job

NAME = "job-ttl-after-finished"


def _text() -> str:
    return resources.files("spec.scenarios").joinpath(NAME + ".yaml").read_text()


def _deleted_before_ttl(s: ClusterState) -> bool:
    """A Job being deleted (or gone) while its TTL still runs: what the controller must never do."""
    ctl = s.jobs
    for key, job in s.etcd.objects.items():
        if isinstance(job, Job) and job.meta.deleting and job.ttl_seconds_after_finished is not None:
            left = ctl.ttl_left.get(key, job.ttl_seconds_after_finished * 1000) if ctl is not None else 0
            if not ttlafterfinished.finished(job) or left > 0:
                return True
    return False


def _job_deleting(s: ClusterState) -> bool:
    return any(isinstance(j, Job) and j.meta.deleting for j in s.etcd.objects.values())


def test_the_job_is_deleted_after_its_ttl_and_never_before_also_across_a_crash() -> None:
    model = ClusterModel(builtin(NAME).config)
    model.properties = (*model.properties, always("NotDeletedBeforeTTL", lambda s: not _deleted_before_ttl(s)))
    result = check(model)
    statuses = {p.name: p.status for p in result.properties}
    assert result.status == "ok", result.verdict()
    assert statuses["FinishedJobsDeletedAfterTTL"] == "holds"
    assert statuses["NotDeletedBeforeTTL"] == "holds"
    assert statuses["JobEventuallyFinishes"] == "holds"
    # not vacuous: the foreground deletion is reached
    reach = ClusterModel(builtin(NAME).config)
    reach.properties = (always("NoJobDeleting", lambda s: not _job_deleting(s)),)
    witness = check(reach)
    assert witness.status == "violation"
    assert witness.violation is not None
    lines = [reach.describe(step.action) for step in witness.violation.trace[1:]]
    assert "ttl-after-finished-controller" in lines[-1], lines[-3:]


def test_a_controller_that_ignores_the_ttl_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The invariant above can fail: with timeLeft always 0 the Job is deleted as soon as it finishes."""
    monkeypatch.setattr(ttlafterfinished, "time_left", lambda ctl, key, job: 0)
    ttlafterfinished._process.cache_clear()
    model = ClusterModel(parse(_text().replace("controllerManagerCrashes: 1", "controllerManagerCrashes: 0"),
                               "t.yaml").config)
    model.properties = (always("NotDeletedBeforeTTL", lambda s: not _deleted_before_ttl(s)),)
    try:
        assert check(model).status == "violation"
    finally:
        ttlafterfinished._process.cache_clear()


def test_a_ttl_of_zero_deletes_the_job_once_it_finishes_and_no_ttl_keeps_it() -> None:
    zero = ClusterModel(parse(_text().replace("ttlSecondsAfterFinished: 100", "ttlSecondsAfterFinished: 0"),
                              "t.yaml").config)
    result = check(zero)
    assert {p.name: p.status for p in result.properties}["FinishedJobsDeletedAfterTTL"] == "holds"
    kept = parse(_text().replace("  ttlSecondsAfterFinished: 100\n", ""), "t.yaml").config
    model = ClusterModel(kept)
    assert "FinishedJobsDeletedAfterTTL" not in {p.name for p in model.properties}
    model.properties = (always("NoJobDeleting", lambda s: not _job_deleting(s)),)
    assert check(model).status == "ok"


@pytest.mark.parametrize(("value", "message"), [
    ("-1", "spec.ttlSecondsAfterFinished: Invalid value: -1: must be greater than or equal to 0"),
    ("soon", "spec.ttlSecondsAfterFinished: expected an integer, got 'soon'"),
])
def test_a_bad_ttl_is_one_error(value: str, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        parse(_text().replace("ttlSecondsAfterFinished: 100", f"ttlSecondsAfterFinished: {value}"), "t.yaml")
