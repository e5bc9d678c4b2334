"""The node lifecycle slice of issue 12: a node that fails for good is marked Ready=Unknown and tainted unreachable
after node-monitor-grace-period (40 s), its pods are evicted 300 s later (DefaultTolerationSeconds) and replaced on
the healthy node (spec/controllers/nodelifecycle.py, the ``node-failure`` scenario)."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from checker import always, check
from spec import actions as A
from spec.cluster import Cluster
from spec.controllers import nodelifecycle as nl
from spec.faults import symmetric_nodes
from spec.lifecycle_properties import replicasets_on_healthy_nodes
from spec.model import ClusterModel
from spec.properties import PROPERTIES
from spec.reduction import NONE
from spec.scenario import builtin, parse
from spec.scheduling.types import Taint, Toleration
from spec.state import ClusterState, Pod, ReplicaSet

PROPERTY = "ReplicaSetsConvergeOnHealthyNodes"


def _config(**budget: int):  # type: ignore[no-untyped-def]
    """node-failure with a ReplicaSet of 1 (the built-in has 2): small enough to explore without reductions."""
    config = builtin("node-failure").config
    objects = tuple(attrs.evolve(o, replicas=1) if isinstance(o, ReplicaSet) else o for o in config.objects)
    config = attrs.evolve(config, objects=objects)
    return attrs.evolve(config, budget=attrs.evolve(config.budget, **budget)) if budget else config


def test_node_failure_converges_on_the_healthy_node() -> None:
    result = check(ClusterModel(_config()))
    assert result.status == "ok", result.verdict()
    assert result.status_of(PROPERTY) == "holds"
    assert result.stats.distinct_states > 500


@pytest.mark.slow
def test_the_builtin_node_failure_a_replicaset_of_two_converges_exhaustively() -> None:
    """The built-in: a ReplicaSet of 2 on 2 nodes (38,965 states when written; 217,590 before failures were
    postponed past ample sets and node symmetry was on where nodes fail)."""
    s = builtin("node-failure")
    assert [o.replicas for o in s.config.objects if isinstance(o, ReplicaSet)] == [2]
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    assert result.status_of(PROPERTY) == "holds" and result.status_of("EventualReplicaConvergence") == "holds"
    assert result.stats.distinct_states > 10_000


def test_the_property_is_registered_and_checked_by_default() -> None:
    assert PROPERTIES[PROPERTY].kind == "leads_to_always"
    assert PROPERTY in {p.name for p in ClusterModel(_config()).properties}


@pytest.fixture(autouse=True)
def _fresh_work_memo() -> Iterator[None]:
    """The controllers' work is memoised (``nl._work_items``) and two tests patch what it calls: none of the real
    functions' answers is used by them, and none of the patched ones is kept for the tests after them."""
    nl._work_items.cache_clear()
    yield
    nl._work_items.cache_clear()


def _without_eviction(monkeypatch: pytest.MonkeyPatch) -> None:
    """The taint eviction controller schedules nothing (its processPodOnNode a no-op)."""
    monkeypatch.setattr(nl, "desired_evictions", lambda objects: {})


def test_without_taint_eviction_the_replicaset_never_converges(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mutation: the node is marked and tainted, but nothing deletes its pod, so the ReplicaSet keeps a pod
    that runs nowhere although node-a has room (the issue's "with recovery removed, convergence fails")."""
    _without_eviction(monkeypatch)
    config = attrs.evolve(_config(), properties=(PROPERTY,))
    result = check(ClusterModel(config))
    assert result.status == "violation", result.verdict()
    assert result.violation is not None and result.violation.property == PROPERTY
    assert any(isinstance(s.action, A.Fault) and s.action.kind.startswith("failure")
               for s in result.violation.trace)


def test_without_the_lifecycle_controllers_a_crash_that_never_recovers_breaks_convergence(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nl, "work", lambda lc, objects, *args: iter(()))
    config = attrs.evolve(_config(), properties=(PROPERTY,))
    assert check(ClusterModel(config, NONE)).status == "violation"


def _trace_to(pred) -> list[A.Action]:  # type: ignore[no-untyped-def]
    model = Cluster(attrs.evolve(_config(), properties=()))
    model.properties = (always("NotYet", lambda s: not pred(s)),)
    result = check(model, deadlock=False)
    assert result.violation is not None
    return [s.action for s in result.violation.trace[1:]]


def _evicted(s: ClusterState) -> bool:
    return any(isinstance(p, Pod) and p.meta.deleting for p in s.etcd.objects.values())


def test_the_timeline_reads_as_upstreams() -> None:
    """The shortest way to an eviction: the pod runs, its node fails, 40 s pass and the node is marked, the
    eviction is scheduled, 300 s pass and the pod is deleted; then the replacement runs on the other node."""
    actions = _trace_to(lambda s: _evicted(s) and replicasets_on_healthy_nodes(s))
    ticks = [a.ms for a in actions if isinstance(a, A.Tick)]
    assert ticks[:2] == [nl.NODE_MONITOR_GRACE_PERIOD_MS, nl.DEFAULT_TOLERATION_SECONDS_MS]
    text = [A.describe(a) for a in actions]
    i_fail = next(i for i, a in enumerate(actions) if isinstance(a, A.Fault))
    i_mark = next(i for i, t in enumerate(text) if "node-lifecycle-controller reconciles nodes/" in t)
    i_evict = next(i for i, t in enumerate(text) if "TaintManagerEviction" in t)
    assert i_fail < i_mark < i_evict
    assert "Ready=Unknown" in text[i_mark] and nl.TAINT_NODE_UNREACHABLE in text[i_mark]
    grace_tick = [a for a in actions[:i_mark] if isinstance(a, A.Tick)][-1]
    assert "node-monitor-grace-period (40 s) expires" in A.describe(grace_tick)


def test_a_failed_node_is_tainted_unreachable_and_never_recovers() -> None:
    model = Cluster(attrs.evolve(_config(), properties=()))
    seen = {"tainted": False, "recovered": False}

    def record(s: ClusterState) -> bool:
        for n in ("node-a", "node-b"):
            node = s.etcd.objects[f"nodes/{n}"]
            k = s.kubelet(n)
            if node.ready == "Unknown":  # type: ignore[union-attr]
                assert k.failed
                assert set(nl.UNREACHABLE_TAINTS) <= set(node.info.taints)  # type: ignore[union-attr]
                seen["tainted"] = True
            if k.failed and k.up:
                seen["recovered"] = True
        return True

    model.properties = (always("Record", record),)
    assert check(model, deadlock=False).status == "ok"
    assert seen == {"tainted": True, "recovered": False}


def test_node_crashes_still_recover_and_do_not_taint() -> None:
    config = attrs.evolve(_config(node_failures=0, node_crashes=1), properties=(PROPERTY,))
    tainted = []

    def record(s: ClusterState) -> bool:
        tainted.extend(n for n in s.etcd.objects.values() if getattr(n, "ready", "True") != "True")
        return True

    model = ClusterModel(config)
    model.properties = (*model.properties, always("Record", record))
    assert check(model).status == "ok"
    assert not tainted


def test_toleration_seconds_follow_default_toleration_seconds() -> None:
    unreachable = Taint(nl.TAINT_NODE_UNREACHABLE, "", "NoExecute")
    assert nl.toleration_seconds((), unreachable) == 300_000
    assert nl.toleration_seconds((), Taint(nl.TAINT_NODE_NOT_READY, "", "NoExecute")) == 300_000
    own = (Toleration(nl.TAINT_NODE_UNREACHABLE, "Exists", "", "NoExecute"),)
    assert nl.toleration_seconds(own, unreachable) is None
    assert nl.toleration_seconds((), Taint("example.com/dedicated", "x", "NoExecute")) == 0


def test_symmetry_is_on_where_nodes_fail_and_off_where_they_are_cut_off() -> None:
    """Node failures declare their node names (spec.faults.symmetric_nodes; tests/spec/test_spec_reductions.py
    compares the renamed visible states); partitions are not argued, so node symmetry stays off there."""
    assert symmetric_nodes(_config()) == (("node-a", "node-b"),)
    assert symmetric_nodes(_config(node_failures=0)) == (("node-a", "node-b"),)
    assert symmetric_nodes(_config(node_partitions=1)) == ()


def test_node_failures_is_a_fault_kind_and_a_wrong_one_is_named() -> None:
    text = "kind: Scenario\napiVersion: kubespec.dev/v1\nspec: {faults: {nodeFailures: 2}}\n---\n" \
           "apiVersion: v1\nkind: Node\nmetadata: {name: a}\n"
    assert parse(text, "s.yaml").config.budget.node_failures == 2
    from checker.errors import InputError

    with pytest.raises(InputError, match="nodeFailure"):
        parse(text.replace("nodeFailures", "nodeFailure"), "s.yaml")
