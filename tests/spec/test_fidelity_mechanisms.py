"""Mechanisms that no built-in scenario used to reach: the controllers' per-key backoff timer, and the
ReplicaFailure condition (reachable only through a rejected pod creation, which no scenario can cause: see
docs/spec.md, "Findings")."""

from __future__ import annotations

from collections import deque

import attrs

from spec import actions as A
from spec.apiserver import Session, store
from spec.controllers import replicaset
from spec.controllers.manager import reconcile, restart
from spec.model import ClusterModel
from spec.scenario import builtin
from spec.state import ClusterState, Container, Ghost, ReplicaSet


def _backoff_firing(name: str, limit: int) -> tuple[ClusterState, A.Tick, ClusterState, str] | None:
    """A Tick (BFS over the scenario) at which a key's backoff ends while the key is not queued: the delaying
    queue adds it again. (state, tick, next state, key)."""
    model = ClusterModel(attrs.evolve(builtin(name).config, properties=()))
    init = model.canonical(next(iter(model.init_states())))
    seen = {init}
    frontier = deque([init])
    while frontier and len(seen) < limit:
        state = frontier.popleft()
        for action, nxt in model.successors(state):
            if isinstance(action, A.Tick) and action.ms:
                for queue, after in ((state.kcm.deploy_queue, nxt.kcm.deploy_queue),
                                     (state.kcm.rs_queue, nxt.kcm.rs_queue)):
                    for key, ms in queue.waiting:
                        if ms == action.ms and key not in queue.queue and key in after.queue:
                            return state, action, nxt, key
            rep = model.canonical(nxt)
            if rep not in seen:
                seen.add(rep)
                frontier.append(rep)
    return None


def test_the_per_key_backoff_timer_fires() -> None:
    """cordoned-node: the Deployment controller's status write conflicts (its cache is behind its own write), its
    key waits out 5 ms (AddRateLimited); the watch event queues the key again and it is reconciled, but the
    delaying queue's entry stays, and once the informers have caught up time passes and the backoff adds the
    key again (client-go util/workqueue delaying_queue.go)."""
    found = _backoff_firing("cordoned-node", 5_000)
    assert found is not None
    state, tick, nxt, key = found
    assert tick.ms == 5 and "controller backoff/expectations" in tick.fired
    assert key == "deployments/default/web"
    assert all(k != key for k, _ in nxt.kcm.deploy_queue.waiting)


def test_a_rejected_pod_creation_sets_replica_failure_and_a_success_clears_it() -> None:
    """calculateStatus (replica_set_utils.go): a manageReplicas error from a create gives the ReplicaFailure
    condition (reason FailedCreate, here its message), and the key is requeued with backoff; the next
    successful sync removes it. Upstream's API server rejects such creates through admission (ResourceQuota,
    LimitRanger, PodSecurity) or a terminating namespace, none of which the model has, so no scenario reaches
    this: here the ReplicaSet's template is made invalid as a pod (an empty image) behind the API server's back."""
    config = builtin("replicaset-one-node").config
    rs = next(o for o in config.objects if isinstance(o, ReplicaSet))
    broken = attrs.evolve(rs, template=attrs.evolve(rs.template, containers=(Container("web", ""),)))
    etcd = store([o if o is not rs else broken for o in config.objects])
    kcm = restart(etcd, None, etcd.revision)
    session = Session(etcd, Ghost())
    kcm, failed = reconcile(kcm, session, "replicaset", "replicasets/default/web")
    assert failed
    stored = session.etcd.objects["replicasets/default/web"]
    assert isinstance(stored, ReplicaSet)
    assert "spec.containers[0].image: Required value" in stored.status.replica_failure
    assert any("FailedCreate" in e for e in session.events)
    assert kcm.rs_queue.waiting == (("replicasets/default/web", 5),)  # AddRateLimited
    # The template is fixed (say, by the user): the next sync creates the pods and clears the condition.
    fixed = attrs.evolve(stored, template=rs.template)
    etcd = session.etcd
    etcd = attrs.evolve(etcd, objects=etcd.objects.set("replicasets/default/web", fixed))
    kcm = restart(etcd, None, etcd.revision)
    session = Session(etcd, session.ghost)
    kcm, failed = replicaset.sync(kcm, session, "replicasets/default/web")
    cleared = session.etcd.objects["replicasets/default/web"]
    assert not failed and isinstance(cleared, ReplicaSet) and cleared.status.replica_failure == ""
