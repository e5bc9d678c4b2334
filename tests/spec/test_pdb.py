"""PodDisruptionBudgets: the disruption controller's arithmetic (pkg/controller/disruption/disruption.go), the
eviction API (pkg/registry/core/pod/storage/eviction.go) and ``kubectl drain`` (staging/src/k8s.io/kubectl/pkg/
drain), on hand-built clusters."""

from __future__ import annotations

import attrs
import pytest

from checker.errors import InputError
from spec import informer, kubectl
from spec.apiserver import Session, store
from spec.controllers import disruption
from spec.eviction import evict
from spec.scheduling.types import LabelSelector, PodInfo, pairs
from spec.state import (
    WORKLOAD_RESOURCES,
    Container,
    Etcd,
    Ghost,
    Meta,
    Object,
    OwnerRef,
    Pod,
    PodDisruptionBudget,
    PodStatus,
    PodTemplate,
    ReplicaSet,
    Workloads,
)

LABELS = pairs({"app": "web"})


def _rs(replicas: int) -> ReplicaSet:
    template = PodTemplate(LABELS, (Container("web", "nginx"),), PodInfo(name="", labels=LABELS))
    return ReplicaSet(Meta(name="web"), replicas, LabelSelector(LABELS), template)


def _pod(name: str, ready: bool = True, owner_uid: int = 1, node: str = "node-a") -> Pod:
    owner = OwnerRef("ReplicaSet", "web", owner_uid) if owner_uid else None
    return Pod(Meta(name=name, labels=LABELS, owner=owner), (Container("web", "nginx"),),
               PodInfo(name=name, labels=LABELS, node_name=node),
               PodStatus("Running" if ready else "Pending", ready, "Scheduled"))


def _pdb(min_available: int | str | None = None, max_unavailable: int | str | None = None) -> PodDisruptionBudget:
    return PodDisruptionBudget(Meta(name="web"), LabelSelector(LABELS), min_available, max_unavailable)


def _cluster(replicas: int, pods: list[Pod], pdb: PodDisruptionBudget) -> Etcd:
    objects: list[Object] = [_rs(replicas), *pods, pdb]
    return store(objects)


def _sync(etcd: Etcd, variants: frozenset[str] = frozenset()) -> tuple[Etcd, bool]:
    w = Workloads(tuple(informer.relist(None, etcd, ("kcm", r), etcd.revision)[0] for r in WORKLOAD_RESOURCES))
    session = Session(etcd, Ghost())
    pods = informer.relist(None, etcd, ("kcm", "pods"), etcd.revision)[0].cache.values()
    _, failed = disruption.sync(w, pods, etcd, session, "poddisruptionbudgets/default/web",
                                variants)
    return session.etcd, failed


def _status(etcd: Etcd) -> tuple[int, int, int, int]:
    pdb = etcd.objects["poddisruptionbudgets/default/web"]
    assert isinstance(pdb, PodDisruptionBudget)
    st = pdb.status
    return st.current_healthy, st.desired_healthy, st.expected_pods, st.disruptions_allowed


@pytest.mark.parametrize(("pdb", "replicas", "ready", "expected"), [
    (_pdb(min_available=2), 3, 3, (3, 2, 3, 1)),
    (_pdb(min_available=2), 3, 1, (1, 2, 3, 0)),
    (_pdb(min_available="50%"), 3, 3, (3, 2, 3, 1)),  # 1.5 rounds up to 2
    (_pdb(min_available="50%"), 4, 3, (3, 2, 4, 1)),  # the controller's scale, not the pods, is the base
    (_pdb(max_unavailable=1), 3, 3, (3, 2, 3, 1)),
    (_pdb(max_unavailable="34%"), 3, 3, (3, 1, 3, 2)),  # 1.02 rounds up to 2 unavailable
    (_pdb(max_unavailable="100%"), 3, 2, (2, 0, 3, 2)),
    (_pdb(min_available=0), 2, 2, (2, 0, 2, 2)),
])
def test_status_arithmetic(pdb: PodDisruptionBudget, replicas: int, ready: int,
                           expected: tuple[int, int, int, int]) -> None:
    pods = [_pod(f"web-{i}", ready=i < ready) for i in range(3 if replicas >= 3 else replicas)]
    etcd, failed = _sync(_cluster(replicas, pods, pdb))
    assert not failed and _status(etcd) == expected


def test_no_pods_means_no_disruption_allowed() -> None:
    etcd, _ = _sync(_cluster(0, [], _pdb(min_available=0)))
    assert _status(etcd)[3] == 0  # expectedCount 0: not safe yet


def test_a_pod_without_a_findable_controller_fails_safe() -> None:
    etcd, failed = _sync(_cluster(2, [_pod("web-0", owner_uid=99)], _pdb(max_unavailable=1)))
    assert failed and _status(etcd)[3] == 0


def test_eviction_decrements_records_and_deletes_then_429() -> None:
    etcd, _ = _sync(_cluster(2, [_pod("web-0"), _pod("web-1")], _pdb(min_available=1)))
    session = Session(etcd, Ghost())
    first = evict(session, "pods/default/web-0")
    assert first.code == 201 and session.etcd.objects["pods/default/web-0"].meta.deleting
    pdb = session.etcd.objects["poddisruptionbudgets/default/web"]
    assert isinstance(pdb, PodDisruptionBudget)
    assert pdb.status.disruptions_allowed == 0 and pdb.status.disrupted_pods == ("web-0",)
    second = evict(session, "pods/default/web-1")
    assert second.code == 429 and "needs 1 healthy pods and has 2 currently" in second.message
    assert not session.etcd.objects["pods/default/web-1"].meta.deleting and not session.ghost.pdb_violations


def test_eviction_before_the_controller_has_observed_the_budget_is_429() -> None:
    etcd = _cluster(2, [_pod("web-0"), _pod("web-1")], _pdb(min_available=1))  # status: observedGeneration 0
    response = evict(Session(etcd, Ghost()), "pods/default/web-0")
    assert response.code == 429 and "still being processed" in response.message


def test_unready_pods_and_pods_without_a_budget_go_at_once() -> None:
    etcd, _ = _sync(_cluster(3, [_pod("web-0"), _pod("web-1"), _pod("web-2", ready=False)], _pdb(min_available=1)))
    session = Session(etcd, Ghost())
    # Pending phase: canIgnorePDB
    assert evict(session, "pods/default/web-2").code == 201
    assert evict(session, "pods/default/nope").code == 404


def test_the_controller_does_not_count_a_granted_eviction_its_cache_shows_healthy() -> None:
    """DisruptedPods (kubernetes PR #36196): after web-0's eviction, a controller whose pod cache still shows web-0
    Ready keeps disruptionsAllowed at 0; without DisruptedPods it would grant a second eviction."""
    etcd, _ = _sync(_cluster(2, [_pod("web-0"), _pod("web-1")], _pdb(min_available=1)))
    before = etcd.revision
    session = Session(etcd, Ghost())
    evict(session, "pods/default/web-0")
    etcd = session.etcd
    for variants, allowed in ((frozenset(), 0), (frozenset({"no-disrupted-pods"}), 1)):
        e = etcd
        if variants:  # the variant's eviction records nothing
            s = Session(store([_rs(2), _pod("web-0"), _pod("web-1"), _pdb(min_available=1)]), Ghost())
            e, _ = _sync(s.etcd)
            s = Session(e, Ghost())
            evict(s, "pods/default/web-0", variants)
            e = s.etcd
            before = e.revision - 1
        # the controller's pod cache as of before the deletion; its budget cache current
        pdb_inf = informer.relist(None, e, ("kcm", "poddisruptionbudgets"), e.revision)[0]
        pods_inf = informer.relist(None, e, ("kcm", "pods"), before)[0]
        sts_inf = informer.relist(None, e, ("kcm", "statefulsets"), e.revision)[0]
        w = Workloads((sts_inf, pdb_inf))
        s = Session(e, Ghost())
        disruption.sync(w, pods_inf.cache.values(), e, s, "poddisruptionbudgets/default/web", variants)
        assert _status(s.etcd)[3] == allowed, variants


def test_pdb_status_retry_variant_overwrites_the_eviction_decrement() -> None:
    """kubernetes#82149: the controller's status write conflicts with the eviction's; the old retry wrote its stale
    status onto the latest budget."""
    etcd, _ = _sync(_cluster(2, [_pod("web-0"), _pod("web-1", ready=False)], _pdb(min_available=1)))
    stale = etcd.revision
    etcd = _make_ready(etcd, "web-1")
    for variants, allowed in ((frozenset(), 0), (frozenset({"pdb-status-retry"}), 1)):
        session = Session(etcd, Ghost())
        pdb_now = _status(etcd)
        assert pdb_now[3] == 0
        # the controller reads everything as of `stale` but the pods' readiness; the eviction had run meanwhile
        s2 = Session(etcd, Ghost())
        pdb = etcd.objects["poddisruptionbudgets/default/web"]
        s2.update(attrs.evolve(pdb, status=attrs.evolve(pdb.status, disruptions_allowed=0,  # type: ignore[union-attr]
                                                        current_healthy=2)), status=True)
        e = s2.etcd
        w = Workloads((informer.relist(None, e, ("kcm", "statefulsets"), e.revision)[0],
                       informer.relist(None, e, ("kcm", "poddisruptionbudgets"), stale)[0]))
        pods = informer.relist(None, e, ("kcm", "pods"), e.revision)[0].cache.values()
        session = Session(e, Ghost())
        _, failed = disruption.sync(w, pods, e, session, "poddisruptionbudgets/default/web",
                                    variants)
        assert failed == (not variants)
        assert _status(session.etcd)[3] == (0 if not variants else allowed)


def _make_ready(etcd: Etcd, name: str) -> Etcd:
    pod = etcd.objects[f"pods/default/{name}"]
    session = Session(etcd, Ghost())
    session.patch(f"pods/default/{name}", attrs.evolve(pod, status=PodStatus("Running", True, "Scheduled")))
    return session.etcd


def test_the_ghost_notes_an_eviction_below_the_budget() -> None:
    etcd, _ = _sync(_cluster(2, [_pod("web-0"), _pod("web-1")], _pdb(min_available=2)))
    pdb = etcd.objects["poddisruptionbudgets/default/web"]
    session = Session(etcd, Ghost())
    session.update(attrs.evolve(pdb, status=attrs.evolve(pdb.status, disruptions_allowed=1)),  # type: ignore[union-attr]
                   status=True)  # a stale status that allows one
    assert evict(session, "pods/default/web-0").code == 201
    assert session.ghost.pdb_violations == frozenset({"poddisruptionbudgets/default/web"})


def test_drain_parses_and_runs_cordon_then_evictions_retrying_429() -> None:
    command = kubectl.parse("kubectl drain node-a --ignore-daemonsets --delete-emptydir-data", "s")
    assert (command.verb, command.name, command.force) == ("drain", "node-a", False)
    with pytest.raises(InputError, match="unknown flag '--grace'"):
        kubectl.parse("kubectl drain node-a --grace", "s")
    with pytest.raises(InputError, match="usage: kubectl drain NODE"):
        kubectl.parse("kubectl drain", "s")
    from spec.scheduling.types import NodeInfo, Resources
    from spec.state import Node

    node = Node(Meta(name="node-a", namespace=""), NodeInfo(name="node-a", allocatable=Resources(2000, 1 << 32,
                                                                                                 pods=110)))
    etcd = store([node, _rs(2), _pod("web-0"), _pod("web-1"), _pdb(min_available=1)])
    etcd, _ = _sync(etcd)
    session = Session(etcd, Ghost())
    out, drain = kubectl.start_drain(command, 0, session)
    assert out.startswith("node/node-a cordoned") and drain is not None and len(drain.pods) == 2
    out, drain = kubectl.drain_step(drain, "pods/default/web-0", session)
    assert out == "pod/web-0 evicted" and drain is not None and len(drain.pods) == 1
    out, again = kubectl.drain_step(drain, "pods/default/web-1", session)
    assert again == drain and "will retry after 5s" in out and "disruption budget" in out


def test_drain_refuses_unmanaged_pods_without_force() -> None:
    etcd = store([_pod("bare", owner_uid=0)])
    session = Session(etcd, Ghost())
    from spec.scheduling.types import NodeInfo
    from spec.state import Node

    session.create(Node(Meta(name="node-a", namespace=""), NodeInfo(name="node-a")))
    out, drain = kubectl.start_drain(kubectl.parse("kubectl drain node-a", "s"), 0, session)
    assert drain is None and "cannot delete Pods that declare no controller" in out
    out, drain = kubectl.start_drain(kubectl.parse("kubectl drain node-a --force", "s"), 0, session)
    assert drain is not None and drain.pods == (("pods/default/bare", 1),)
