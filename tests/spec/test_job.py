"""The Job controller (spec/controllers/job.py), the kubelet letting a Job's pods complete, and the Job scenario."""

from __future__ import annotations

from importlib import resources
from typing import Any

import attrs
import pytest

from checker import check, sometimes
from checker.errors import InputError
from spec import kubelet
from spec.apiserver import Session, store
from spec.controllers import job as jobctl
from spec.ha_properties import job_active_within_parallelism, job_never_exceeds_completions
from spec.model import ClusterModel
from spec.scenario import builtin, parse
from spec.state import JOB_NAME_LABEL, JOB_TRACKING_FINALIZER, Ghost, Job, Kubelet, Pod, PodStatus, with_meta


def _text() -> str:
    return resources.files("spec.scenarios").joinpath("job-completions.yaml").read_text()


def _two_by_two() -> list[Any]:
    """The scenario's objects with a Job of 2 completions, parallelism 2."""
    text = _text().replace("  completions: 1\n", "  completions: 2\n").replace("  parallelism: 1\n",
                                                                               "  parallelism: 2\n")
    return list(parse(text, "t.yaml").config.objects)


def _job(etcd: Any) -> Job:
    job = etcd.objects["jobs/default/pi"]
    assert isinstance(job, Job)
    return job


def test_the_scenario_parses_a_job() -> None:
    job = next(o for o in builtin("job-completions").config.objects if isinstance(o, Job))
    assert (job.completions, job.parallelism, job.backoff_limit, job.restart_policy) == (1, 1, 1, "Never")
    with pytest.raises(InputError, match="restartPolicy: Unsupported value: 'Always'"):
        parse(_text().replace("restartPolicy: Never", "restartPolicy: Always"), "t.yaml")
    with pytest.raises(InputError, match="unknown field 'selector'"):
        parse(_text().replace("  backoffLimit: 1", "  backoffLimit: 1\n  selector: {matchLabels: {a: b}}"), "t.yaml")
    # parallelism without completions: a work queue (completions unset)
    text = _text().replace("  completions: 1\n", "")
    job = next(o for o in parse(text, "t.yaml").config.objects if isinstance(o, Job))
    assert job.completions is None


def test_sync_creates_pods_with_the_tracking_finalizer() -> None:
    etcd = store(_two_by_two())
    job = _job(etcd)
    session = Session(etcd, Ghost())
    result = jobctl.sync(session, job, [], None, frozenset())
    pods = [p for p in session.etcd.objects.values() if isinstance(p, Pod)]
    assert len(pods) == 2 and result.expectation is not None and result.expectation.add == 2
    for p in pods:
        assert p.meta.finalizers == (JOB_TRACKING_FINALIZER,) and p.restart_policy == "Never"
        assert p.meta.owner is not None and p.meta.owner.uid == job.meta.uid
        assert p.meta.label(JOB_NAME_LABEL) == "pi"


def _finished(phase: str) -> tuple[Any, list[Pod]]:
    """The Job of 2 after its first sync created its pods and every pod reached ``phase``: etcd and the pods (by
    uid), as the controller's pod cache would hold them."""
    etcd = store(_two_by_two())
    session = Session(etcd, Ghost())
    jobctl.sync(session, _job(etcd), [], None, frozenset())
    session = Session(session.etcd, Ghost())
    for key, p in sorted(session.etcd.objects.items()):
        if isinstance(p, Pod):
            session.patch(key, attrs.evolve(p, status=PodStatus(phase=phase)))
    pods = sorted((p for p in session.etcd.objects.values() if isinstance(p, Pod)), key=lambda p: p.meta.uid)
    return session.etcd, pods


def test_tracking_counts_each_pod_once_and_completes() -> None:
    etcd, pods = _finished("Succeeded")
    session = Session(etcd, Ghost())
    result = jobctl.sync(session, _job(etcd), pods, None, frozenset())
    job = _job(session.etcd)
    assert job.status.succeeded == 2 and job.status.condition == "Complete"
    assert not job.status.uncounted_succeeded
    assert all(not p.meta.finalizers for p in session.etcd.objects.values() if isinstance(p, Pod))
    assert len(result.removals) == 2  # the removals it expects to observe
    # a second sync from the same (stale) pod cache and the expectations: nothing counted twice
    again = Session(session.etcd, Ghost())
    jobctl.sync(again, job, pods, None, result.removals)
    assert _job(again.etcd).status.succeeded == 2


def test_without_finalizer_expectations_a_stale_cache_counts_twice() -> None:
    """kubernetes#105200: the Job's status says counted, the pod cache still shows the finalizer."""
    etcd, pods = _finished("Succeeded")
    session = Session(etcd, Ghost())
    jobctl.sync(session, _job(etcd), pods, None, frozenset())
    counted = _job(session.etcd)
    running = attrs.evolve(counted, status=attrs.evolve(counted.status, condition=""))  # not finished yet
    again = Session(session.etcd, Ghost())
    jobctl.sync(again, running, pods, None, frozenset(), finalizer_expectations=False)
    assert _job(again.etcd).status.succeeded == 4


def test_backoff_limit_fails_the_job() -> None:
    etcd, pods = _finished("Failed")
    session = Session(etcd, Ghost())
    jobctl.sync(session, _job(etcd), pods, None, frozenset())
    job = _job(session.etcd)
    assert (job.status.failed, job.status.condition, job.status.reason) == (2, "Failed", "BackoffLimitExceeded")


def test_the_kubelet_runs_a_job_pod_to_completion() -> None:
    etcd = store(_two_by_two())
    session = Session(etcd, Ghost())
    jobctl.sync(session, _job(etcd), [], None, frozenset())
    key, pod = next((k, p) for k, p in session.etcd.objects.items() if isinstance(p, Pod))
    bound = with_meta(attrs.evolve(pod, info=attrs.evolve(pod.info, node_name="node-a")), resource_version=0)
    from spec.informer import relist

    s2 = Session(session.etcd, Ghost())
    s2.patch(key, bound)
    inf, _ = relist(None, s2.etcd, ("kubelet", "node-a"), s2.etcd.revision)
    k = Kubelet("node-a", True, inf)
    assert list(kubelet.work(k)) == [("start", key)]
    k = kubelet.sync(k, s2, "start", key)
    assert ("complete", key) in list(kubelet.work(k))
    k = kubelet.sync(k, s2, "complete", key)
    current = s2.etcd.objects[key]
    assert isinstance(current, Pod) and current.status.phase == "Succeeded"
    assert [w for w in kubelet.work(k) if w[1] == key] == []  # not started again, not restarted


def test_job_completions_holds() -> None:
    model = ClusterModel(builtin("job-completions").config)
    result = check(model)
    assert result.status == "ok", result.verdict()
    verdict = {p.name: p.status for p in result.properties}
    assert verdict["JobEventuallyFinishes"] == verdict["JobNeverExceedsCompletions"] == "holds"
    assert verdict["JobActivePodsWithinParallelism"] == "holds"


def test_the_stale_sync_variant_creates_a_second_pod() -> None:
    """kubernetes#130103: without reading its own writes, the controller syncs from a Job informer that lacks the
    status it wrote (succeeded 1) while its pod informer shows the pod without its finalizer: it counts nothing
    and creates another pod."""
    from spec.scenario import with_overrides

    model = ClusterModel(with_overrides(builtin("job-completions"), variants=("job-stale-sync",)).config)
    result = check(model)
    assert result.status == "violation" and result.violation is not None
    assert result.violation.property == "JobNeverExceedsCompletions"
    lines = [model.describe(step.action) for step in result.violation.trace[1:]]
    assert sum("Created pod" in line for line in lines) == 2 and any("Job completed" in line for line in lines)


def test_job_properties_are_not_vacuous() -> None:
    """Both outcomes are reachable: a Job that completes, and one whose pod failed and was replaced."""
    config = attrs.evolve(builtin("job-completions").config, properties=())
    model = ClusterModel(config)
    model.properties = (
        sometimes("Completed", lambda s: any(isinstance(j, Job) and j.status.condition == "Complete"
                                             for j in s.etcd.objects.values())),
        sometimes("AFailureReplaced", lambda s: any(isinstance(j, Job) and j.status.failed == 1
                                                    and j.status.condition == "Complete"
                                                    for j in s.etcd.objects.values())),
    )
    result = check(model, deadlock=False)
    assert {p.name: p.status for p in result.properties} == {"Completed": "holds", "AFailureReplaced": "holds"}
    assert job_never_exceeds_completions(next(iter(model.init_states())))
    assert job_active_within_parallelism(next(iter(model.init_states())))
