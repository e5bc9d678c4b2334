"""The controllers do what upstream's code does, on hand-built clusters where the model once differed.

Each test names the upstream function it follows (pkg/controller/deployment/rolling.go, sync.go,
pkg/controller/replicaset/replica_set.go, pkg/controller/controller_utils.go).
"""

from __future__ import annotations

import attrs
import immutables
import pytest

from spec.apiserver import Session, store
from spec.controllers import deployment, replicaset
from spec.controllers.manager import restart
from spec.scenario import builtin
from spec.scheduling.types import LabelSelector, pairs
from spec.state import (
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    POD_TEMPLATE_HASH,
    REVISION_ANNOTATION,
    ControllerManager,
    Deployment,
    Etcd,
    Expectation,
    Ghost,
    Key,
    Meta,
    Node,
    Object,
    OwnerRef,
    Pod,
    PodStatus,
    ReplicaSet,
    ReplicaSetStatus,
    ReplicationController,
    WorkQueue,
    object_key,
)


def _base() -> tuple[list[Node], Deployment]:
    objects = builtin("web-two-nodes").config.objects
    nodes = [o for o in objects if isinstance(o, Node)]
    d = next(o for o in objects if isinstance(o, Deployment))
    return nodes, d


def _rs(d: Deployment, d_uid: int, name: str, image: str, replicas: int, available: int,
        revision: int) -> ReplicaSet:
    """A ReplicaSet of ``d`` (whose uid will be ``d_uid``) for the template with ``image``."""
    template = d.template.with_image("web", image)
    labels = pairs({**dict(template.labels), POD_TEMPLATE_HASH: name})
    return ReplicaSet(
        meta=Meta(name=f"web-{name}", labels=labels, owner=OwnerRef("Deployment", "web", d_uid),
                  annotations=pairs({REVISION_ANNOTATION: str(revision),
                                     DESIRED_REPLICAS_ANNOTATION: str(d.replicas),
                                     MAX_REPLICAS_ANNOTATION: str(d.replicas + 1)})),
        replicas=replicas,
        selector=LabelSelector(pairs({**dict(d.selector.match_labels), POD_TEMPLATE_HASH: name})),
        template=template.with_labels(labels),
        status=ReplicaSetStatus(replicas=replicas, ready_replicas=available, available_replicas=available,
                                fully_labeled_replicas=replicas, observed_generation=1),
    )


def _pod(rs: ReplicaSet, rs_uid: int, name: str, node: str) -> Pod:
    """A running, ready pod of ``rs`` (whose uid will be ``rs_uid``) bound to ``node``."""
    t = rs.template
    return Pod(
        meta=Meta(name=name, labels=t.labels, owner=OwnerRef("ReplicaSet", rs.meta.name, rs_uid)),
        containers=t.containers,
        info=attrs.evolve(t.info, name=name, node_name=node),
        status=PodStatus(phase="Running", ready=True, scheduled_reason="Scheduled"),
    )


def _cluster(objects: list[Object]) -> tuple[Etcd, ControllerManager]:
    """etcd holding ``objects`` (uids 1.. in order) and a controller manager whose caches have listed it."""
    etcd = store(objects)
    return etcd, restart(etcd, None, etcd.revision)


def _uid(etcd: Etcd, key: str) -> int:
    return etcd.objects[key].meta.uid


# --- pkg/controller/deployment/rolling.go -------------------------------------------------------------------


def test_the_rolling_scale_down_counts_available_pods_of_active_replicasets_only() -> None:
    """scaleDownOldReplicaSetsForRollingUpdate sums status.availableReplicas over the active old ReplicaSets
    (reconcileOldReplicaSets gets controller.FilterActiveReplicaSets(oldRSs)) and the new one. An old ReplicaSet
    already scaled to 0 whose status still reports 2 available pods must not let the controller scale more old
    pods away: with 2 replicas and maxUnavailable 0, one old pod may go, not all three."""
    nodes, d = _base()
    d = attrs.evolve(d, replicas=2, max_surge=1, max_unavailable=0)
    d_uid = len(nodes) + 1
    gone = _rs(d, d_uid, "aaaaa", "nginx:1.23", replicas=0, available=2, revision=1)  # status not caught up
    old = _rs(d, d_uid, "bbbbb", "nginx:1.24", replicas=2, available=2, revision=2)
    new = _rs(d, d_uid, "ccccc", d.template.containers[0].image, replicas=1, available=1, revision=3)
    etcd, kcm = _cluster([*nodes, d, gone, old, new])
    session = Session(etcd, Ghost())
    kcm, failed = deployment.sync(kcm, session, "deployments/default/web")
    assert not failed
    after = session.etcd.objects["replicasets/default/web-bbbbb"]
    assert isinstance(after, ReplicaSet)
    # available over active old + new = 2 + 1 = 3, minAvailable 2: scale the old one down by 1 (counting the
    # ReplicaSet at 0 too, 5 - 2 = 3 would take all of it away and leave 1 available pod of 2).
    assert after.replicas == 1
    assert any("Scaled down replica set web-bbbbb from 2 to 1" in e for e in session.events)


def test_a_scaling_event_looks_at_active_replicasets_only() -> None:
    """isScalingEvent checks the desired-replicas annotation of controller.FilterActiveReplicaSets(allRSs): a new
    ReplicaSet still at 0 replicas with a stale annotation is no scaling event, so the rollout goes on (and
    scales it up: reconcileNewReplicaSet)."""
    nodes, d = _base()
    d = attrs.evolve(d, replicas=2, max_surge=1, max_unavailable=0)
    d_uid = len(nodes) + 1
    old = _rs(d, d_uid, "bbbbb", "nginx:1.24", replicas=2, available=2, revision=1)
    new = _rs(d, d_uid, "ccccc", d.template.containers[0].image, replicas=0, available=0, revision=2)
    new = attrs.evolve(new, meta=attrs.evolve(new.meta, annotations=pairs(
        {**dict(new.meta.annotations), DESIRED_REPLICAS_ANNOTATION: "5"})))
    etcd, kcm = _cluster([*nodes, d, old, new])
    d = etcd.objects["deployments/default/web"]  # type: ignore[assignment]
    reconcile = deployment._Reconcile(d, deployment.owned(d, kcm.objects("replicasets")), Session(etcd, Ghost()))
    assert len(reconcile.rss) == 2
    assert not reconcile.is_scaling_event()
    session = Session(etcd, Ghost())
    deployment.sync(kcm, session, "deployments/default/web")
    scaled = session.etcd.objects["replicasets/default/web-ccccc"]
    assert isinstance(scaled, ReplicaSet) and scaled.replicas == 1  # maxSurge 1 above the 2 old pods


def test_scaling_with_no_active_replicaset_picks_the_newest_by_creation_and_skips_equal_sizes() -> None:
    """DeploymentController.scale: FindActiveOrLatest returns, when no ReplicaSet is active and there is no new
    one, the newest old ReplicaSet by creation (not by revision: a rollback gives an older ReplicaSet a higher
    revision); a ReplicaSet that already has the size is left alone (scaleReplicaSetAndRecordEvent returns
    before scaleReplicaSet, whatever its annotations say). Upstream reaches this only for paused Deployments."""
    nodes, d = _base()
    d_uid = len(nodes) + 1
    older = _rs(d, d_uid, "aaaaa", "nginx:1.23", replicas=0, available=0, revision=5)
    newer = _rs(d, d_uid, "bbbbb", "nginx:1.24", replicas=0, available=0, revision=4)
    etcd, kcm = _cluster([*nodes, d, older, newer])
    d = etcd.objects["deployments/default/web"]  # type: ignore[assignment]
    rss = deployment.owned(d, kcm.objects("replicasets"))
    assert len(rss) == 2
    session = Session(etcd, Ghost())
    deployment._Reconcile(attrs.evolve(d, replicas=3), rss, session).proportional_scale(None, rss)
    assert session.etcd.objects["replicasets/default/web-bbbbb"].replicas == 3  # type: ignore[union-attr]
    assert session.etcd.objects["replicasets/default/web-aaaaa"].replicas == 0  # type: ignore[union-attr]
    stale = attrs.evolve(d, replicas=0)  # the size matches; the annotations (desired 2) do not
    session = Session(etcd, Ghost())
    deployment._Reconcile(stale, rss, session).proportional_scale(None, rss)
    assert session.writes == 0


# --- pkg/controller/replicaset/replica_set.go: getPodsToDelete -----------------------------------------------


def _scale_down_world(owned: bool) -> tuple[Etcd, ControllerManager, ReplicaSet]:
    """Two ReplicaSets of one Deployment (or, ``owned`` False, of none): the old one has two pods on node-a, the
    new one (scaled from 2 to 1) has one pod on node-a and a newer one on node-b."""
    nodes, d = _base()
    d_uid = len(nodes) + 1
    old = _rs(d, d_uid, "aaaaa", "nginx:1.24", replicas=2, available=2, revision=1)
    new = _rs(d, d_uid, "bbbbb", d.template.containers[0].image, replicas=1, available=2, revision=2)
    if not owned:
        old = attrs.evolve(old, meta=attrs.evolve(old.meta, owner=None))
        new = attrs.evolve(new, meta=attrs.evolve(new.meta, owner=None))
    old_uid, new_uid = d_uid + 1, d_uid + 2
    pods = [_pod(old, old_uid, "web-aaaaa-1", "node-a"), _pod(old, old_uid, "web-aaaaa-2", "node-a"),
            _pod(new, new_uid, "web-bbbbb-1", "node-a"), _pod(new, new_uid, "web-bbbbb-2", "node-b")]
    etcd, kcm = _cluster([*nodes, d, old, new, *pods])
    assert _uid(etcd, "replicasets/default/web-bbbbb") == new_uid
    return etcd, kcm, new


def test_deletion_prefers_the_pod_sharing_a_node_with_pods_of_sibling_replicasets() -> None:
    """getIndirectlyRelatedPods: the rank of a pod is the number of active pods, of every ReplicaSet with the
    same controller, on its node. web-bbbbb-1 shares node-a with the old ReplicaSet's two pods (rank 3), the
    newer web-bbbbb-2 is alone on node-b (rank 1): web-bbbbb-1 goes, although it is the older one."""
    etcd, kcm, _ = _scale_down_world(owned=True)
    session = Session(etcd, Ghost())
    replicaset.sync(kcm, session, "replicasets/default/web-bbbbb")
    deleted = [e for e in session.events if "SuccessfulDelete" in e]
    assert deleted == ["Normal SuccessfulDelete replicasets/default/web-bbbbb: Deleted pod: web-bbbbb-1"]


def test_a_replicaset_without_a_controller_ranks_every_pod_zero() -> None:
    """getReplicaSetsWithSameController returns nil for a ReplicaSet without a controller, so no pod is related
    and co-location decides nothing: the newest pod (web-bbbbb-2) goes."""
    etcd, kcm, _ = _scale_down_world(owned=False)
    session = Session(etcd, Ghost())
    replicaset.sync(kcm, session, "replicasets/default/web-bbbbb")
    deleted = [e for e in session.events if "SuccessfulDelete" in e]
    assert deleted == ["Normal SuccessfulDelete replicasets/default/web-bbbbb: Deleted pod: web-bbbbb-2"]


# --- pkg/controller/replicaset/replica_set.go: addPod, updatePod, deletePod ---------------------------------


def _handled(owners: list[Object], old: Pod | None, new: Pod | None, kind: str = "ReplicaSet") -> tuple[Key, ...]:
    """The keys the pod handlers of the controller of ``kind`` enqueue for one event of pod web-x, the lister's
    cache holding ``owners``."""
    cache = immutables.Map({object_key(o): o for o in owners if type(o).__name__ == kind})  # the kind's lister
    _, queue = replicaset.pod_event(kind, cache, immutables.Map(), WorkQueue(), "pods/default/web-x", old, new)
    return queue.queue


def _pod_of(owner: OwnerRef | None, rv: int = 1, phase: str = "Pending") -> Pod:
    """Pod web-x at resourceVersion ``rv`` with the Deployment's template labels and ``owner``."""
    _, d = _base()
    t = d.template
    return Pod(meta=Meta(name="web-x", labels=t.labels, owner=owner, resource_version=rv),
               containers=t.containers, info=attrs.evolve(t.info, name="web-x"), status=PodStatus(phase=phase))


def _matching_owners() -> list[Object]:
    """A ReplicaSet (uid 7) and a ReplicationController (uid 8) whose selectors match the Deployment's pods."""
    _, d = _base()
    rs = ReplicaSet(meta=Meta(name="web", uid=7), replicas=1, selector=d.selector, template=d.template)
    rc = ReplicationController(meta=Meta(name="web", uid=8), replicas=1, selector=d.selector, template=d.template)
    return [rs, rc]


@pytest.mark.parametrize("kind", ["ReplicaSet", "ReplicationController"])
def test_a_pod_with_a_controller_of_another_kind_wakes_no_matching_owner(kind: str) -> None:
    """resolveControllerRef returns nil for a controller reference of another kind ("Don't even try to look up by
    Name if it's the wrong Kind"), and addPod, updatePod and deletePod then return ("If it has a ControllerRef,
    that's all that matters"): only an orphan wakes the owners whose selectors match it (getPodReplicaSets).
    The model once enqueued every matching owner for a DaemonSet's or a Job's pod whose labels matched."""
    owners = _matching_owners()
    theirs = _pod_of(OwnerRef("DaemonSet", "agent", 9))
    running = _pod_of(OwnerRef("DaemonSet", "agent", 9), rv=2, phase="Running")
    assert _handled(owners, None, theirs, kind) == ()
    assert _handled(owners, theirs, running, kind) == ()
    assert _handled(owners, running, None, kind) == ()
    orphan = _pod_of(None)
    mine = "replicasets/default/web" if kind == "ReplicaSet" else "replicationcontrollers/default/web"
    assert _handled(owners, None, orphan, kind) == (mine,)          # addPod: an orphan, every matching owner
    assert _handled(owners, orphan, None, kind) == ()               # deletePod: "No controller should care"
    # updatePod of an orphan: only when its labels or its controller reference changed
    assert _handled(owners, orphan, _pod_of(None, rv=2, phase="Running"), kind) == ()
    owned = _pod_of(OwnerRef(kind, "web", 7 if kind == "ReplicaSet" else 8))
    assert _handled(owners, owned, _pod_of(None, rv=2), kind) == (mine,)  # released: the old controller, adopters
    assert _handled(owners, None, owned, kind) == (mine,)
    # "Periodic resync will send update events for all known pods": an update at the cached resourceVersion (a
    # relist's unchanged pod) wakes no one, an owned pod's controller included
    assert _handled(owners, owned, owned, kind) == ()
    assert _handled(owners, owned, _pod_of(owned.meta.owner, rv=2, phase="Running"), kind) == (mine,)


def test_a_controller_reference_resolves_only_to_the_owner_with_its_uid() -> None:
    """resolveControllerRef: "We can't look up by UID, so look up by Name and then verify UID": a pod of an
    earlier ReplicaSet of the same name concerns no one, and its creation is observed by no expectation."""
    owners = _matching_owners()
    stale = _pod_of(OwnerRef("ReplicaSet", "web", 6))
    cache = immutables.Map({object_key(o): o for o in owners})
    exps = immutables.Map({"replicasets/default/web": Expectation(add=1, deletes=frozenset(), timer=300_000)})
    after, queue = replicaset.pod_event("ReplicaSet", cache, exps, WorkQueue(), "pods/default/web-x", None, stale)
    assert after is exps and queue.queue == ()
    assert _handled(owners, None, _pod_of(OwnerRef("ReplicaSet", "web", 7))) == ("replicasets/default/web",)
