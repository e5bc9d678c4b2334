"""The StatefulSet controller does what pkg/controller/statefulset/stateful_set_control.go does, on hand-built
clusters: ordered creation and deletion (OrderedReady), all at once (Parallel), no replacement while the old pod
object exists (409 AlreadyExists from a stale cache), adoption, status; and the scenario documents."""

from __future__ import annotations

import attrs
import pytest

from checker.errors import InputError
from spec import informer
from spec.apiserver import Session, store
from spec.controllers import statefulset
from spec.scenario import parse
from spec.scheduling.types import LabelSelector, PodInfo, pairs
from spec.state import (
    POD_INDEX_LABEL,
    STATEFULSET_POD_NAME_LABEL,
    WORKLOAD_RESOURCES,
    Container,
    Etcd,
    Ghost,
    Meta,
    Object,
    Pod,
    PodStatus,
    PodTemplate,
    StatefulSet,
    Workloads,
)
from spec.workload_properties import at_most_one_pod_per_identity
from tests.spec.statefulset_scenarios import statefulset_scenario


def _sts(replicas: int, policy: str = "OrderedReady") -> StatefulSet:
    labels = pairs({"app": "db"})
    template = PodTemplate(labels, (Container("db", "postgres:16"),), PodInfo(name="", labels=labels))
    return StatefulSet(Meta(name="db"), replicas, LabelSelector(labels), template, "db", policy)


def _workloads(etcd: Etcd, at: int | None = None) -> Workloads:
    rv = etcd.revision if at is None else at
    infs = tuple(informer.relist(None, etcd, ("kcm", r), rv)[0] for r in WORKLOAD_RESOURCES)
    return Workloads(infs)


def _sync(etcd: Etcd, at: int | None = None) -> tuple[Etcd, bool, list[str]]:
    session = Session(etcd, Ghost())
    rv = etcd.revision if at is None else at
    pods = informer.relist(None, etcd, ("kcm", "pods"), rv)[0].cache.values()
    _, failed = statefulset.sync(_workloads(etcd, at), pods, session, "statefulsets/default/db")
    return session.etcd, failed, session.events


def _pods(etcd: Etcd) -> dict[str, Pod]:
    return {o.meta.name: o for o in etcd.objects.values() if isinstance(o, Pod)}


def _ready(etcd: Etcd, name: str) -> Etcd:
    pod = _pods(etcd)[name]
    session = Session(etcd, Ghost())
    session.patch(f"pods/default/{name}", attrs.evolve(pod, status=PodStatus("Running", True, "Scheduled")))
    return session.etcd


def test_ordered_ready_creates_one_pod_at_a_time_and_waits_for_running_and_ready() -> None:
    etcd = store([_sts(3)])
    etcd, failed, events = _sync(etcd)
    assert not failed and list(_pods(etcd)) == ["db-0"]
    assert events[0] == ("Normal SuccessfulCreate statefulsets/default/db: create Pod db-0 in StatefulSet db "
                         "successful")
    pod = _pods(etcd)["db-0"]
    assert dict(pod.meta.labels) == {"app": "db", STATEFULSET_POD_NAME_LABEL: "db-0", POD_INDEX_LABEL: "0"}
    assert pod.meta.owner is not None and pod.meta.owner.kind == "StatefulSet"
    etcd, _, _ = _sync(etcd)  # db-0 is Pending: nothing more
    assert list(_pods(etcd)) == ["db-0"]
    etcd = _ready(etcd, "db-0")
    etcd, _, _ = _sync(etcd)
    assert sorted(_pods(etcd)) == ["db-0", "db-1"]


def test_parallel_creates_every_replica_in_one_sync() -> None:
    etcd, _, _ = _sync(store([_sts(3, "Parallel")]))
    assert sorted(_pods(etcd)) == ["db-0", "db-1", "db-2"]


def test_scale_down_deletes_the_highest_ordinal_first_one_at_a_time() -> None:
    etcd = store([_sts(3, "Parallel")])
    etcd, _, _ = _sync(etcd)
    for name in ("db-0", "db-1", "db-2"):
        etcd = _ready(etcd, name)
    sts = etcd.objects["statefulsets/default/db"]
    session = Session(etcd, Ghost())
    session.patch("statefulsets/default/db", attrs.evolve(sts, replicas=1, pod_management_policy="OrderedReady"))
    etcd, _, events = _sync(session.etcd)
    deleting = sorted(n for n, p in _pods(etcd).items() if p.meta.deleting)
    assert deleting == [] or deleting == ["db-2"]  # db-2 is unbound: deleted at once (CheckGracefulDelete)
    assert "db-2" not in _pods(etcd) or _pods(etcd)["db-2"].meta.deleting
    assert "db-1" in _pods(etcd) and not _pods(etcd)["db-1"].meta.deleting
    assert any("delete Pod db-2" in e for e in events)
    etcd, _, events = _sync(etcd)
    assert any("delete Pod db-1" in e for e in events)


def test_a_terminating_replica_blocks_ordered_progress_and_is_not_replaced() -> None:
    etcd = store([_sts(2)])
    etcd, _, _ = _sync(etcd)
    etcd = _ready(etcd, "db-0")
    pod = _pods(etcd)["db-0"]
    session = Session(etcd, Ghost())
    session.patch("pods/default/db-0", attrs.evolve(pod, info=attrs.evolve(pod.info, node_name="node-a")))
    session.delete("pods/default/db-0")  # graceful: deletionTimestamp only
    etcd, failed, events = _sync(session.etcd)
    assert not failed and events == [] and _pods(etcd)["db-0"].meta.deleting and "db-1" not in _pods(etcd)


def test_a_stale_cache_that_misses_the_old_pod_gets_409_already_exists_and_fails_the_sync() -> None:
    etcd = store([_sts(1)])
    before = etcd.revision
    etcd, _, _ = _sync(etcd)
    etcd, failed, events = _sync(etcd, at=before)  # the informer has not seen db-0's creation
    assert failed and len(_pods(etcd)) == 1
    assert events[0].startswith("Warning FailedCreate statefulsets/default/db: create Pod db-0 in StatefulSet db "
                                "failed error:") and "already exists" in events[0]


def test_a_failed_pod_is_deleted_and_recreated_once_gone() -> None:
    etcd = store([_sts(1)])
    etcd, _, _ = _sync(etcd)
    pod = _pods(etcd)["db-0"]
    session = Session(etcd, Ghost())
    session.patch("pods/default/db-0", attrs.evolve(pod, status=PodStatus("Failed", False)))
    etcd, _, events = _sync(session.etcd)
    assert "db-0" not in _pods(etcd) and any("delete Pod db-0" in e for e in events)
    etcd, _, events = _sync(etcd)
    assert "db-0" in _pods(etcd) and any("create Pod db-0" in e for e in events)


def test_orphans_with_a_member_name_are_adopted_others_are_not() -> None:
    labels = pairs({"app": "db"})
    orphans: list[Object] = [Pod(Meta(name=n, labels=labels), (Container("db", "postgres:16"),), PodInfo(name=n))
                             for n in ("db-0", "other")]
    etcd = store([_sts(1), *orphans])
    etcd, _, _ = _sync(etcd)
    pods = _pods(etcd)
    assert pods["db-0"].meta.owner is not None and pods["other"].meta.owner is None


def test_status_counts_created_and_ready_pods() -> None:
    etcd = store([_sts(2, "Parallel")])
    etcd, _, _ = _sync(etcd)
    etcd = _ready(etcd, "db-0")
    etcd, _, _ = _sync(etcd)
    st = etcd.objects["statefulsets/default/db"].status  # type: ignore[union-attr]
    assert (st.replicas, st.ready_replicas, st.observed_generation) == (2, 1, 1)


def test_at_most_one_counts_running_containers_per_identity() -> None:
    from spec.cluster import initial_state
    from spec.state import RuntimeContainer

    scenario = parse(SCENARIO, "sts.yaml")
    state = initial_state(scenario.config)
    assert at_most_one_pod_per_identity(state)
    a, b = state.kubelets
    twice = state.with_kubelet(attrs.evolve(a, runtime=frozenset({RuntimeContainer("pods/default/db-0", 7, "db",
                                                                                   "postgres:16")})))
    assert at_most_one_pod_per_identity(twice)
    twice = twice.with_kubelet(attrs.evolve(b, runtime=frozenset({RuntimeContainer("pods/default/db-0", 9, "db",
                                                                                   "postgres:16")})))
    assert not at_most_one_pod_per_identity(twice)


SCENARIO = statefulset_scenario(nodes=("node-a", "node-b"), pdb=True)


def test_scenario_documents_parse() -> None:
    objects = parse(SCENARIO, "sts.yaml").config.objects
    sts = next(o for o in objects if isinstance(o, StatefulSet))
    assert (sts.replicas, sts.service_name, sts.pod_management_policy) == (2, "db", "OrderedReady")


@pytest.mark.parametrize(("edit", "message"), [
    (("spec:\n  replicas: 2", "spec:\n  replicas: 2\n  replica: 3"), 'document 4 (StatefulSet db): unknown field'),
    (("serviceName: db", "serviceName: db\n  podManagementPolicy: Random"), "spec.podManagementPolicy"),
    (("serviceName: db", "serviceName: db\n  volumeClaimTemplates: [{metadata: {name: d}}]"),
     "accessModes: Required value: at least 1 access mode is required"),
    (("minAvailable: 1", "minAvailable: 1\n  maxUnavailable: 1"),
     "minAvailable and maxUnavailable cannot be both set"),
    (("minAvailable: 1", "minAvailable: lots"), "spec.minAvailable: expected an integer or a percentage"),
    (("minAvailable: 1", "minAvailable: 1\n  minAvailible: 2"), 'document 5 (PodDisruptionBudget db): unknown'),
])
def test_a_wrong_field_names_the_document_and_the_field(edit: tuple[str, str], message: str) -> None:
    text = SCENARIO.replace(*edit)
    assert text != SCENARIO
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(text, "sts.yaml")
