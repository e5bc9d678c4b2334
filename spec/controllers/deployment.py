"""The Deployment controller: one ReplicaSet per pod template, rolling updates, scaling, status and conditions.

Upstream: pkg/controller/deployment/deployment_controller.go (handlers, syncDeployment), sync.go
(getAllReplicaSetsAndSyncRevision, getNewReplicaSet, scale, isScalingEvent, calculateStatus, syncDeploymentStatus),
rolling.go (rolloutRolling, reconcileNewReplicaSet, reconcileOldReplicaSets, cleanupUnhealthyReplicas,
scaleDownOldReplicaSetsForRollingUpdate), progress.go (syncRolloutStatus: the Progressing condition),
pkg/controller/deployment/util/deployment_util.go (ResolveFenceposts, NewRSNewReplicas, DeploymentComplete,
DeploymentProgressing, SetReplicasAnnotations, EqualIgnoreHash, getProportion), pkg/controller/controller_utils.go
(ComputeHash).

Modelled: the new ReplicaSet is named ``<deployment>-<pod-template-hash>`` and carries the revision, desired-replicas
and max-replicas annotations; a rollout surges the new ReplicaSet within maxSurge and scales old ones down within
maxUnavailable; a scaling event scales proportionally; a rollback (``kubectl rollout undo``) is a template change
that makes an old ReplicaSet the new one again, with a new revision. Every write goes through the API server with
the cached resourceVersion: a stale cache gives a Conflict, and the key is requeued with backoff.
Abstracted: the condition timestamps (time is relative), so a condition is rewritten only when its status or
reason changes.
The Recreate strategy (recreate.go rolloutRecreate, scaleDownOldReplicaSetsForRecreate, oldPodsRunning,
scaleUpNewReplicaSetForRecreate; deployment_controller.go deletePod, getPodMapForDeployment): the old ReplicaSets
are scaled to 0, and the new one is created (at full size: NewRSNewReplicas) only once no old ReplicaSet reports
replicas in its status and the pod cache holds no pod of an old ReplicaSet that is not terminal (Succeeded or
Failed; a Terminating pod counts); a Recreate Deployment is enqueued when a pod of it is deleted and none of its
pods that count is left. MaxSurge and MaxUnavailable are 0 for Recreate, and a scaling event scales only the one
active (or the newest) ReplicaSet, never proportionally.
Abstracted: deletePod lists the Deployment's ReplicaSets from the API server (RsListFromClient); the model reads
the controller manager's ReplicaSet cache.
Pausing (spec.paused; deployment_controller.go syncDeployment, checkPausedConditions; sync.go sync): a paused
Deployment is only scaled (``sync_scale``: the scale of sync(), proportional across its ReplicaSets), never rolled:
a template changed while it is paused gets no new ReplicaSet until ``kubectl rollout resume``; the Progressing
condition is Unknown with reason DeploymentPaused while paused and DeploymentResumed once resumed.
minReadySeconds: copied to the new ReplicaSet (created with it, and updated with the revision when it differs:
getNewReplicaSet's minReadySecondsNeedsUpdate); every count of available pods is the ReplicaSets'
status.availableReplicas, which the ReplicaSet controller keeps (pods Ready for more than minReadySeconds).
Omitted: progressDeadlineSeconds (no ProgressDeadlineExceeded; a paused Deployment is never reported stalled
anyway), revisionHistoryLimit cleanup (no scenario has more than 10 revisions), adoption of orphaned ReplicaSets,
the deployment's own revision annotation.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

import attrs

from spec.apiserver import NAMESPACE_TERMINATING, Session
from spec.scheduling.types import LabelSelector, pairs
from spec.state import (
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    POD_TEMPLATE_HASH,
    REVISION_ANNOTATION,
    Condition,
    ControllerManager,
    Deployment,
    DeploymentStatus,
    Key,
    Meta,
    OwnerRef,
    Pod,
    PodTemplate,
    ReplicaSet,
    object_key,
)

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


class _Failed(Exception):
    """A write failed: the reconcile stops and its key is requeued with backoff (handleErr)."""


class _NamespaceTerminating(_Failed):
    """The create was refused because the namespace is being terminated: the reconcile stops, and handleErr
    Forgets the key ("err == nil || errors.HasStatusCause(err, v1.NamespaceTerminatingCause)": no requeue)."""


def _scaled(value: int | str, total: int, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    percent = int(value.rstrip("%"))
    exact = percent * total
    return -(-exact // 100) if round_up else exact // 100


def resolve_fenceposts(
    max_surge: int | str, max_unavailable: int | str, desired: int, *, raw: bool = False
) -> tuple[int, int]:
    """Upstream: ResolveFenceposts: surge rounds up, unavailable down; both 0 means unavailable 1."""
    surge = _scaled(max_surge, desired, True)
    unavailable = _scaled(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0 and not raw:
        unavailable = 1
    return surge, unavailable


PAUSED_REASON = "DeploymentPaused"
"""deploymentutil.PausedDeployReason: the Progressing condition's reason while the Deployment is paused."""
RESUMED_REASON = "DeploymentResumed"
"""deploymentutil.ResumedDeployReason: the Progressing condition's reason once it is resumed."""
RECREATE = "Recreate"
ROLLING_UPDATE = "RollingUpdate"


def max_surge(d: Deployment) -> int:
    """Upstream: MaxSurge: 0 unless the strategy is RollingUpdate."""
    if d.strategy != ROLLING_UPDATE:
        return 0
    return resolve_fenceposts(d.max_surge, d.max_unavailable, d.replicas)[0]


def max_unavailable(d: Deployment) -> int:
    """Upstream: MaxUnavailable: 0 unless the strategy is RollingUpdate; never more than the replicas."""
    if d.strategy != ROLLING_UPDATE:
        return 0
    return min(resolve_fenceposts(d.max_surge, d.max_unavailable, d.replicas)[1], d.replicas)


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def template_hash(template: PodTemplate, collision_count: int = 0) -> str:
    """Upstream: controller.ComputeHash: FNV-32a of the template (and collisionCount), SafeEncodeString'd.

    Upstream hashes the Go object dump; this hashes the model's own stable encoding, so the hashes differ from a
    real cluster's but behave alike (equal templates, equal hashes)."""
    text = repr(_without_hash(template)) + (str(collision_count) if collision_count else "")
    return "".join(_ALPHABET[ord(ch) % len(_ALPHABET)] for ch in str(_fnv32a(text.encode())))


@functools.lru_cache(maxsize=4096)
def _without_hash(template: PodTemplate) -> PodTemplate:
    """The template without its pod-template-hash label (memoised: equal templates give one object, so that
    ``equal_ignore_hash`` compares by identity)."""
    return template.with_labels(tuple((k, v) for k, v in template.labels if k != POD_TEMPLATE_HASH))


def equal_ignore_hash(a: PodTemplate, b: PodTemplate) -> bool:
    """Upstream: EqualIgnoreHash."""
    return _without_hash(a) == _without_hash(b)


def revision(rs: ReplicaSet) -> int:
    value = rs.meta.annotation(REVISION_ANNOTATION)
    return int(value) if value and value.isdigit() else 0


def _annotations(rs: ReplicaSet, **values: str) -> tuple[tuple[str, str], ...]:
    merged = dict(rs.meta.annotations)
    merged.update({k: v for k, v in values.items()})
    return pairs(merged)


def owned(d: Deployment, cache: Iterable[object]) -> list[ReplicaSet]:
    """The ReplicaSets whose controller is ``d``, oldest first (ReplicaSetsByCreationTimestamp)."""
    rss = [
        o for o in cache
        if isinstance(o, ReplicaSet) and o.meta.owner is not None and o.meta.owner.uid == d.meta.uid
    ]
    return sorted(rss, key=lambda rs: rs.meta.uid)


def on_deployment(kcm: ControllerManager, key: Key, new: Deployment | None) -> ControllerManager:
    """addDeployment / updateDeployment / deleteDeployment: enqueue."""
    return kcm.with_deploy_queue(kcm.deploy_queue.add(key))


def on_replicaset(kcm: ControllerManager, rs: ReplicaSet) -> ControllerManager:
    """addReplicaSet / updateReplicaSet / deleteReplicaSet: enqueue the owning Deployment."""
    owner = rs.meta.owner
    if owner is None or owner.kind != "Deployment":
        return kcm
    dkey = f"deployments/{rs.meta.namespace}/{owner.name}"
    if kcm.get(dkey) is None:
        return kcm
    return kcm.with_deploy_queue(kcm.deploy_queue.add(dkey))


def pod_map(d: Deployment, pods: Iterable[Pod]) -> list[Pod]:
    """getPodMapForDeployment, flattened: the pods of ``d``'s namespace its selector matches whose controller is
    one of its ReplicaSets (every pod, inactive ones included: "Recreate Deployments need to verify that no Pods
    from older versions are running")."""
    return [
        p for p in pods
        if p.meta.namespace == d.meta.namespace and p.meta.owner is not None and p.meta.owner.kind == "ReplicaSet"
        and d.selector.matches(dict(p.meta.labels))
    ]


def _any_running(d: Deployment, pods: Iterable[Pod], rs_uids: set[int]) -> bool:
    """Some pod of ``d``'s ReplicaSets ``rs_uids`` (getPodMapForDeployment) is running as oldPodsRunning counts it:
    not in a terminal phase, Succeeded or Failed (PR #60301); a Terminating pod counts."""
    return any(p.meta.owner is not None and p.meta.owner.uid in rs_uids
               and p.status.phase not in ("Succeeded", "Failed") for p in pod_map(d, pods))


def on_pod_deleted(kcm: ControllerManager, pod: Pod) -> ControllerManager:
    """deletePod: a Recreate Deployment is synced when its last pod that counts is gone (getDeploymentForPod:
    the pod's ReplicaSet, the ReplicaSet's Deployment)."""
    owner = pod.meta.owner
    if owner is None or owner.kind != "ReplicaSet":
        return kcm
    rs = kcm.get(f"replicasets/{pod.meta.namespace}/{owner.name}")
    if not isinstance(rs, ReplicaSet) or rs.meta.uid != owner.uid or rs.meta.owner is None \
            or rs.meta.owner.kind != "Deployment":
        return kcm
    dkey = f"deployments/{pod.meta.namespace}/{rs.meta.owner.name}"
    d = kcm.get(dkey)
    if not isinstance(d, Deployment) or d.meta.uid != rs.meta.owner.uid or d.strategy != RECREATE:
        return kcm
    uids = {r.meta.uid for r in owned(d, kcm.objects("replicasets"))}
    if _any_running(d, (p for p in kcm.objects("pods") if isinstance(p, Pod)), uids):
        return kcm
    return kcm.with_deploy_queue(kcm.deploy_queue.add(dkey))


# --- the reconcile -----------------------------------------------------------------------------------------


class _Reconcile:
    """One syncDeployment: the cached view, mutated locally as the writes succeed."""

    def __init__(self, d: Deployment, rss: list[ReplicaSet], session: Session) -> None:
        self.d = d
        self.rss = rss
        self.session = session
        self.key = object_key(d)

    def _replace(self, rs: ReplicaSet) -> None:
        self.rss = [rs if r.meta.uid == rs.meta.uid else r for r in self.rss]

    def write_rs(self, rs: ReplicaSet) -> ReplicaSet:
        response = self.session.update(rs)
        if not response.ok:
            self.session.event(self.key, "Warning", "FailedUpdate", response.message)
            raise _Failed(response.message)
        assert isinstance(response.obj, ReplicaSet)
        self._replace(response.obj)
        return response.obj

    def new_and_old(self, create: bool) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
        """getAllReplicaSetsAndSyncRevision."""
        d = self.d
        new = next((rs for rs in self.rss if equal_ignore_hash(rs.template, d.template)), None)
        old = [rs for rs in self.rss if rs is not new]
        new_revision = str(max((revision(rs) for rs in old), default=0) + 1)
        if new is not None:
            # SetNewReplicaSetAnnotations (the revision, when behind) and minReadySecondsNeedsUpdate: one update
            stale_revision = revision(new) < int(new_revision)
            if stale_revision or new.min_ready_seconds != d.min_ready_seconds:
                meta = attrs.evolve(new.meta, annotations=_annotations(new, **{REVISION_ANNOTATION: new_revision})) \
                    if stale_revision else new.meta
                new = self.write_rs(attrs.evolve(new, meta=meta, min_ready_seconds=d.min_ready_seconds))
            return new, old
        if not create:
            return None, old
        h = template_hash(d.template, d.status.collision_count)
        labels = pairs({**dict(d.template.labels), POD_TEMPLATE_HASH: h})
        selector = LabelSelector(
            pairs({**dict(d.selector.match_labels), POD_TEMPLATE_HASH: h}), d.selector.match_expressions
        )
        surge = max_surge(d)
        rs = ReplicaSet(
            meta=Meta(
                name=f"{d.meta.name}-{h}",
                namespace=d.meta.namespace,
                labels=labels,
                annotations=pairs({
                    REVISION_ANNOTATION: new_revision,
                    DESIRED_REPLICAS_ANNOTATION: str(d.replicas),
                    MAX_REPLICAS_ANNOTATION: str(d.replicas + surge),
                }),
                owner=OwnerRef("Deployment", d.meta.name, d.meta.uid),
            ),
            replicas=0,
            selector=selector,
            template=d.template.with_labels(labels),
            min_ready_seconds=d.min_ready_seconds,
        )
        rs = attrs.evolve(rs, replicas=self.new_rs_replicas(rs, old))
        response = self.session.create(rs)
        if response.cause == NAMESPACE_TERMINATING:
            raise _NamespaceTerminating(response.message)
        if not response.ok:
            raise _Failed(response.message)
        assert isinstance(response.obj, ReplicaSet)
        self.session.event(
            self.key, "Normal", "ScalingReplicaSet", f"Scaled up replica set {rs.meta.name} from 0 to {rs.replicas}"
        )
        self.rss.append(response.obj)
        return response.obj, old

    def new_rs_replicas(self, new: ReplicaSet, old: list[ReplicaSet]) -> int:
        """NewRSNewReplicas: for Recreate the Deployment's replicas, for RollingUpdate within maxSurge."""
        d = self.d
        if d.strategy == RECREATE:
            return d.replicas
        current = sum(rs.replicas for rs in old) + new.replicas
        max_total = d.replicas + max_surge(d)
        if current >= max_total:
            return new.replicas
        return new.replicas + min(max_total - current, max(d.replicas - new.replicas, 0))

    def scale(self, rs: ReplicaSet, count: int) -> bool:
        """scaleReplicaSetAndRecordEvent: nothing when the size is already ``count`` (the replicas annotations
        are then left as they are), else scaleReplicaSet."""
        if rs.replicas == count:
            return False
        return self.scale_rs(rs, count)

    def scale_rs(self, rs: ReplicaSet, count: int) -> bool:
        """scaleReplicaSet: the size and the replicas annotations in one update, when either is stale; True when
        the size changed."""
        d = self.d
        wanted = {DESIRED_REPLICAS_ANNOTATION: str(d.replicas), MAX_REPLICAS_ANNOTATION: str(d.replicas + max_surge(d))}
        annotations = _annotations(rs, **wanted)
        if rs.replicas == count and annotations == rs.meta.annotations:
            return False
        updated = attrs.evolve(rs, replicas=count, meta=attrs.evolve(rs.meta, annotations=annotations))
        self.write_rs(updated)
        if rs.replicas != count:
            verb = "up" if count > rs.replicas else "down"
            self.session.event(
                self.key, "Normal", "ScalingReplicaSet",
                f"Scaled {verb} replica set {rs.meta.name} from {rs.replicas} to {count}",
            )
        return rs.replicas != count

    def current(self, rs: ReplicaSet) -> ReplicaSet:
        return next(r for r in self.rss if r.meta.uid == rs.meta.uid)

    # rolling.go
    def rollout_rolling(self) -> None:
        new, old = self.new_and_old(create=True)
        assert new is not None
        if self.reconcile_new(new):
            self.sync_rollout_status(new)
            return
        new = self.current(new)
        if self.reconcile_old([self.current(rs) for rs in old if self.current(rs).replicas > 0], new):
            self.sync_rollout_status(self.current(new))
            return
        self.sync_rollout_status(self.current(new))

    def reconcile_new(self, new: ReplicaSet) -> bool:
        d = self.d
        if new.replicas == d.replicas:
            return False
        if new.replicas > d.replicas:
            return self.scale(new, d.replicas)
        old = [rs for rs in self.rss if rs.meta.uid != new.meta.uid]
        return self.scale(new, self.new_rs_replicas(new, old))

    def reconcile_old(self, old: list[ReplicaSet], new: ReplicaSet) -> bool:
        d = self.d
        if sum(rs.replicas for rs in old) == 0:
            return False
        all_pods = sum(rs.replicas for rs in self.rss)
        min_available = d.replicas - max_unavailable(d)
        new_unavailable = new.replicas - new.status.available_replicas
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        # cleanupUnhealthyReplicas
        cleaned = 0
        for rs in sorted(old, key=lambda r: r.meta.uid):
            if cleaned >= max_scaled_down:
                break
            rs = self.current(rs)
            if rs.replicas == 0 or rs.status.available_replicas == rs.replicas:
                continue
            count = min(max_scaled_down - cleaned, rs.replicas - rs.status.available_replicas)
            self.scale(rs, rs.replicas - count)
            cleaned += count
        # scaleDownOldReplicaSetsForRollingUpdate(allRSs = append(oldRSs, newRS)): the available pods of the
        # active old ReplicaSets (FilterActiveReplicaSets, before the clean-up) and of the new one. An old
        # ReplicaSet already at 0 does not count, whatever its status still says.
        available = sum(self.current(rs).status.available_replicas for rs in [*old, new])
        scaled = 0
        if available > min_available:
            total = available - min_available
            for rs in sorted(old, key=lambda r: r.meta.uid):
                if scaled >= total:
                    break
                rs = self.current(rs)
                if rs.replicas == 0:
                    continue
                count = min(rs.replicas, total - scaled)
                self.scale(rs, rs.replicas - count)
                scaled += count
        return cleaned + scaled > 0

    # recreate.go
    def rollout_recreate(self, pods: list[Pod], waits_for_pods: bool = True) -> None:
        """rolloutRecreate: scale the old ReplicaSets down; once no old pod runs, create and scale up the new one.
        Without ``waits_for_pods`` (before kubernetes#43963: waitForInactiveReplicaSets) it waits only until every
        old ReplicaSet has observed its scale-down and reports no replicas in its status, which leaves out the
        pods still Terminating."""
        new, old = self.new_and_old(create=False)
        scaled_down = False
        for rs in old:  # scaleDownOldReplicaSetsForRecreate(FilterActiveReplicaSets(oldRSs))
            rs = self.current(rs)
            if rs.replicas > 0 and self.scale(rs, 0):
                scaled_down = True
        waiting = self.old_pods_running(new, pods) if waits_for_pods else self.old_replicasets_active(new)
        if scaled_down or waiting:
            self.sync_status(new and self.current(new), progress=True)
            return
        if new is None:
            new, old = self.new_and_old(create=True)
            assert new is not None
        self.scale(self.current(new), self.d.replicas)  # scaleUpNewReplicaSetForRecreate
        self.sync_status(self.current(new), progress=True)

    def old_pods_running(self, new: ReplicaSet | None, pods: list[Pod]) -> bool:
        """oldPodsRunning: an old ReplicaSet reports replicas in its status, or the pod cache holds a pod of an old
        ReplicaSet (getPodMapForDeployment) that is not in a terminal phase."""
        old = [self.current(rs) for rs in self.rss if new is None or rs.meta.uid != new.meta.uid]
        if sum(rs.status.replicas for rs in old) > 0:
            return True
        return _any_running(self.d, pods, {rs.meta.uid for rs in old})

    def old_replicasets_active(self, new: ReplicaSet | None) -> bool:
        """waitForInactiveReplicaSets (before kubernetes#43963): an old ReplicaSet has not observed its generation
        or has spec or status replicas."""
        return any(rs.status.observed_generation < rs.meta.generation or rs.replicas or rs.status.replicas
                   for rs in map(self.current, self.rss) if new is None or rs.meta.uid != new.meta.uid)

    # sync.go
    def is_scaling_event(self) -> bool:
        """isScalingEvent: an active ReplicaSet (FilterActiveReplicaSets: spec.replicas > 0, the new one
        included only then) whose desired-replicas annotation differs from the Deployment's spec.replicas."""
        for rs in self.rss:
            if rs.replicas == 0:
                continue
            desired = rs.meta.annotation(DESIRED_REPLICAS_ANNOTATION)
            if desired is not None and desired.isdigit() and int(desired) != self.d.replicas:
                return True
        return False

    def sync_scale(self) -> None:
        new, old = self.new_and_old(create=False)
        self.proportional_scale(new, old)
        self.sync_status(new and self.current(new), progress=False)

    def proportional_scale(self, new: ReplicaSet | None, old: list[ReplicaSet]) -> None:
        """DeploymentController.scale."""
        d = self.d
        active = [rs for rs in ([new] if new else []) + old if rs.replicas > 0]
        if len(active) <= 1:
            # FindActiveOrLatest: the one active ReplicaSet, else the new one, else the newest old one (by
            # creation: ReplicaSetsByCreationTimestamp reversed); scale returns early when it has the size.
            target = active[0] if active else (new or (max(old, key=lambda r: r.meta.uid) if old else None))
            if target is not None:
                self.scale(target, d.replicas)
            return
        if (
            new is not None and new.replicas == d.replicas and new.status.available_replicas == d.replicas
            and new.meta.annotation(DESIRED_REPLICAS_ANNOTATION) == str(d.replicas)
        ):
            for rs in old:
                self.scale(self.current(rs), 0)
            return
        if d.strategy != ROLLING_UPDATE:  # proportional scaling is for rolling deployments only
            return
        allowed = d.replicas + max_surge(d) if d.replicas > 0 else 0
        to_add = allowed - sum(rs.replicas for rs in active)
        ordered = (
            sorted(active, key=lambda r: (-r.replicas, -r.meta.uid)) if to_add > 0
            else sorted(active, key=lambda r: (r.replicas, r.meta.uid))
        )
        added = 0
        sizes: dict[int, int] = {}
        for rs in ordered:
            proportion = self.proportion(rs, to_add, added)
            sizes[rs.meta.uid] = rs.replicas + proportion
            added += proportion
        if to_add - added != 0 and ordered:  # leftover to the first (largest) ReplicaSet
            first = ordered[0].meta.uid
            sizes[first] = max(sizes[first] + to_add - added, 0)
        for rs in ordered:  # scaleReplicaSet itself: the annotations are brought up to date even at equal size
            self.scale_rs(self.current(rs), sizes[rs.meta.uid])

    def proportion(self, rs: ReplicaSet, to_add: int, added: int) -> int:
        """getProportion / getReplicaSetFraction."""
        d = self.d
        if rs.replicas == 0 or to_add == 0 or to_add == added:
            return 0
        if d.replicas == 0:
            fraction = -rs.replicas
        else:
            annotated = rs.meta.annotation(MAX_REPLICAS_ANNOTATION)
            base = int(annotated) if annotated and annotated.isdigit() and int(annotated) > 0 else d.status.replicas
            size = rs.replicas * (d.replicas + max_surge(d)) / max(base, 1)
            fraction = int(math.floor(size + 0.5)) - rs.replicas
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def check_paused_conditions(self) -> None:
        """deployment_controller.go checkPausedConditions: a paused Deployment gets Progressing=Unknown
        (DeploymentPaused, "Deployment is paused"), a resumed one Progressing=Unknown (DeploymentResumed), so that
        no lack of progress is reported for the time it was paused (apps/v1 always has a progressDeadlineSeconds,
        600 s by default). The status is written with the Deployment as read: upstream goes on with that copy,
        whose resourceVersion is now stale, so a later status write of the same sync gets a Conflict (and the key
        is requeued)."""
        d = self.d
        cond = next((c for c in d.status.conditions if c.type == "Progressing"), None)
        if cond is not None and cond.reason == "ProgressDeadlineExceeded":
            return
        paused_cond = cond is not None and cond.reason == PAUSED_REASON
        if d.paused and not paused_cond:
            wanted = Condition("Progressing", "Unknown", PAUSED_REASON)
        elif not d.paused and paused_cond:
            wanted = Condition("Progressing", "Unknown", RESUMED_REASON)
        else:
            return
        conditions = {c.type: c for c in d.status.conditions}
        conditions["Progressing"] = wanted
        status = attrs.evolve(d.status, conditions=tuple(conditions[t] for t in sorted(conditions)))
        response = self.session.update(attrs.evolve(d, status=status), status=True)
        if not response.ok:
            raise _Failed(response.message)
        self.d = attrs.evolve(d, status=status)

    def calculate_status(self, new: ReplicaSet | None) -> DeploymentStatus:
        """sync.go calculateStatus, with the Available condition."""
        d = self.d
        available = sum(rs.status.available_replicas for rs in self.rss)
        total = sum(rs.replicas for rs in self.rss)
        conditions = {c.type: c for c in d.status.conditions}
        if available >= d.replicas - max_unavailable(d):
            conditions["Available"] = Condition("Available", "True", "MinimumReplicasAvailable")
        else:
            conditions["Available"] = Condition("Available", "False", "MinimumReplicasUnavailable")
        return DeploymentStatus(
            observed_generation=d.meta.generation,
            replicas=sum(rs.status.replicas for rs in self.rss),
            updated_replicas=new.status.replicas if new is not None else 0,
            ready_replicas=sum(rs.status.ready_replicas for rs in self.rss),
            available_replicas=available,
            unavailable_replicas=max(total - available, 0),
            conditions=tuple(conditions[t] for t in sorted(conditions)),
            collision_count=d.status.collision_count,
        )

    def sync_rollout_status(self, new: ReplicaSet) -> None:
        self.sync_status(new, progress=True)

    def sync_status(self, new: ReplicaSet | None, *, progress: bool) -> None:
        """syncRolloutStatus (progress.go, with the Progressing condition) or syncDeploymentStatus."""
        d = self.d
        status = self.calculate_status(new)
        if progress and new is not None:
            conditions = {c.type: c for c in status.conditions}
            if deployment_complete(d, status):
                conditions["Progressing"] = Condition("Progressing", "True", "NewReplicaSetAvailable")
            elif _progressing(d, status):
                conditions["Progressing"] = Condition("Progressing", "True", "ReplicaSetUpdated")
            status = attrs.evolve(status, conditions=tuple(conditions[t] for t in sorted(conditions)))
        if status == d.status:
            return
        response = self.session.update(attrs.evolve(d, status=status), status=True)
        if not response.ok:
            raise _Failed(response.message)


def deployment_complete(d: Deployment, status: DeploymentStatus) -> bool:
    """Upstream: deploymentutil.DeploymentComplete."""
    return (
        status.updated_replicas == d.replicas
        and status.replicas == d.replicas
        and status.available_replicas == d.replicas
        and status.observed_generation >= d.meta.generation
    )


def _progressing(d: Deployment, new: DeploymentStatus) -> bool:
    old = d.status
    return (
        new.updated_replicas > old.updated_replicas
        or new.ready_replicas > old.ready_replicas
        or new.available_replicas > old.available_replicas
        or (new.replicas - new.updated_replicas) < (old.replicas - old.updated_replicas)
    )


def sync(kcm: ControllerManager, session: Session, key: Key, *, waits_for_pods: bool = True,
         paused_scales: bool = True) -> tuple[ControllerManager, bool]:
    """syncDeployment(key): (kcm', failed). ``waits_for_pods=False`` is the variant recreate-no-pod-wait
    (kubernetes#27362): a Recreate rollout waits for its old ReplicaSets' replicas only, not for their pods.
    ``paused_scales=False`` is the variant paused-no-scale (kubernetes#20853, #18901; fixed by #20273): a paused
    Deployment is ignored altogether ("Ignoring paused deployment"), so it is neither scaled nor its status
    updated until it is resumed."""
    d = kcm.get(key)
    if not isinstance(d, Deployment):
        return kcm, False
    reconcile = _Reconcile(d, owned(d, kcm.objects("replicasets")), session)
    try:
        if d.meta.deleting:
            reconcile.sync_status(reconcile.new_and_old(create=False)[0], progress=False)
            return kcm, False
        if d.paused and not paused_scales:
            return kcm, False
        reconcile.check_paused_conditions()
        if d.paused or reconcile.is_scaling_event():
            # sync(): scale only; a paused Deployment's changed template gets no ReplicaSet until it is resumed
            reconcile.sync_scale()
        elif d.strategy == RECREATE:
            reconcile.rollout_recreate([p for p in kcm.objects("pods") if isinstance(p, Pod)], waits_for_pods)
        else:
            reconcile.rollout_rolling()
    except _NamespaceTerminating:
        return kcm, False
    except _Failed:
        return kcm, True
    return kcm, False
