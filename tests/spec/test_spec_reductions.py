"""The state-space reductions are sound: with and without them, the same visible states are reachable and the
same verdicts come out; and the canonical history is a function of what the informers can tell apart."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import attrs
import immutables
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import always, check
from spec.config import Config
from spec.faults import symmetric_nodes
from spec.informer import cache_at
from spec.model import ClusterModel
from spec.reduction import ALL, Reductions
from spec.reduction.canonical import rename_nodes
from spec.reduction.writeorder import canonical_history
from spec.scenario import builtin, load, parse, with_overrides
from spec.state import ClusterState, DaemonSet, Informer, Node, ReplicaSet
from spec.testing import cluster_states, scenarios

OFF = Reductions(symmetry=False, commute_writes=False, ample_sets=False, eager_noop=False)
"""Every reduction off but renumbering."""
NO_SYMMETRY = Reductions(symmetry=False)


def visible(state: ClusterState) -> Any:
    """What the properties may read: etcd's objects (resourceVersions aside), what runs, the ghost variables,
    and what the scenario has left (faults, commands)."""
    objects = frozenset(
        (key, attrs.evolve(o, meta=attrs.evolve(o.meta, resource_version=0))) for key, o in state.etcd.objects.items()
    )
    return objects, tuple(k.runtime for k in state.kubelets), state.ghost, state.budget, state.pending_commands


def reachable(config: Config, reductions: Reductions = ALL) -> tuple[int, set[Any]]:
    seen: set[Any] = set()
    model = ClusterModel(attrs.evolve(config, properties=()), attrs.evolve(reductions, symmetry=False))
    model.properties = (always("Record", lambda s: seen.add(visible(s)) or True),)
    result = check(model, deadlock=False)
    assert result.status == "ok"
    return result.stats.distinct_states, seen


@pytest.mark.parametrize("name", ["pod-two-nodes", "stale-replicaset", "cordoned-node"])
def test_the_reductions_keep_every_visible_state(name: str) -> None:
    config = builtin(name).config
    reduced, with_reductions = reachable(config)
    full, without = reachable(config, OFF)
    assert reduced < full
    assert with_reductions == without


@pytest.mark.slow
def test_the_reductions_keep_every_visible_state_of_a_replicaset_of_two() -> None:
    config = builtin("replicaset-one-node").config
    reduced, with_reductions = reachable(config)
    full, without = reachable(config, OFF)
    assert reduced * 5 < full
    assert with_reductions == without


EVERY_FAULT = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: every-fault}
spec:
  faults: {schedulerCrashes: 1, kubeletRestarts: 1, apiServerRestarts: 1, containerCrashes: 1, nodeCrashes: 1}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25", resources: {requests: {cpu: 500m, memory: 256Mi}}}]
"""


@pytest.mark.slow
def test_the_reductions_keep_every_visible_state_under_every_kind_of_fault() -> None:
    """API server restarts (broken watches, relists), node crashes, kubelet restarts, container crashes, a
    scheduler crash (when written: 37,320 states with the reductions, 145,212 without, the same 392 visible)."""
    config = parse(EVERY_FAULT, "every-fault").config
    reduced, with_reductions = reachable(config)
    full, without = reachable(config, OFF)
    assert reduced * 3 < full
    assert with_reductions == without


def _node_failure(replicas: int) -> Config:
    config = builtin("node-failure").config
    objects = tuple(attrs.evolve(o, replicas=replicas) if isinstance(o, ReplicaSet) else o for o in config.objects)
    return attrs.evolve(config, objects=objects)


def test_the_reductions_keep_every_visible_state_when_a_node_fails() -> None:
    """Node failures are postponed past ample sets (``partial_order.ample``) and the failed node's kubelet no longer
    turns the reduction off: the same visible states as without any reduction (a ReplicaSet of 1 on 2 nodes, one
    node failing for good: with the failure in the ample set, or a failed node's kubelet chosen, states are lost)."""
    config = _node_failure(1)
    reduced, with_reductions = reachable(config)
    full, without = reachable(config, OFF)
    assert reduced * 4 < full
    assert with_reductions == without


def test_node_symmetry_keeps_every_visible_state_up_to_renaming_when_a_node_fails() -> None:
    """Node symmetry where nodes can fail (``spec.faults.symmetric_nodes``): the visible states of the symmetric
    search, each renamed by every permutation of the nodes, are exactly those of the search without it."""
    config = attrs.evolve(_node_failure(1), properties=())
    assert symmetric_nodes(config) == (("node-a", "node-b"),)
    states: list[ClusterState] = []
    model = ClusterModel(config, ALL)
    model.properties = (always("Record", lambda s: states.append(s) or True),)
    assert check(model, deadlock=False).status == "ok"
    swap = {"node-a": "node-b", "node-b": "node-a"}
    seen = {_nodes_anonymous(visible(s)) for s in states}
    renamed = seen | {_nodes_anonymous(visible(rename_nodes(s, swap))) for s in states}
    _, without = reachable(config, OFF)
    assert len(seen) < len(without) and renamed == {_nodes_anonymous(v) for v in without}


def _nodes_anonymous(seen: Any) -> Any:
    """``visible``'s value with the Node objects' uids left out (renaming nodes swaps the objects' names, not
    their uids, which nothing reads)."""
    objects, *rest = seen
    return (frozenset((k, attrs.evolve(o, meta=attrs.evolve(o.meta, uid=0)) if isinstance(o, Node) else o)
                      for k, o in objects), *rest)


@pytest.mark.parametrize(("name", "variant", "prop"), [
    ("replicaset-one-node", "no-expectations", "ReplicaSetNeverOvershoots"),
    ("cordoned-node", "no-requeue", "EventualReplicaConvergence"),
    ("pod-two-nodes", "unguarded-bind", "NoDoubleScheduling"),
])
def test_the_reductions_keep_every_verdict(name: str, variant: str, prop: str) -> None:
    config = with_overrides(builtin(name), variants=(variant,)).config
    for reductions in (ALL, OFF):
        result = check(ClusterModel(config, reductions))
        assert result.status == "violation"
        assert result.violation is not None and result.violation.property == prop


def stands_for_its_states(model: ClusterModel, depth: int) -> int:
    """Breadth-first to ``depth``: from every reachable state and from its representative, the same
    representatives follow, and a representative is its own (the representative stands for every state it
    replaces, which is also what rebuilding traces needs). The number of representatives seen."""
    reorders = model.reduce.commute_writes and model.reduce.renumber and model.config.consistency == "strong" \
        and model.config.leader_election is None and model.config.api_servers == 1  # spec.model.applicable
    frontier = list(model.init_states())
    seen = {model.canonical(s) for s in frontier}
    for _ in range(depth):
        following = []
        for s in frontier:
            rep = model.canonical(s)
            assert model.canonical(rep) == rep and (not reorders or canonical_history(rep) == rep)
            real = {model.canonical(t) for _, t in model.successors(s)}
            assert real == {model.canonical(t) for _, t in model.successors(rep)}
            for _, t in model.successors(s):
                c = model.canonical(t)
                if c not in seen:
                    seen.add(c)
                    following.append(t)
        frontier = following
    return len(seen)


def test_the_canonical_history_is_the_same_for_every_order_of_independent_writes() -> None:
    model = ClusterModel(builtin("cordoned-node").config, NO_SYMMETRY)
    assert stands_for_its_states(model, 14) > 500


def cached_copies_agree(state: ClusterState) -> bool:
    """A cached object with etcd's resourceVersion is etcd's object: every reduction renames consistently."""
    for _, _, _, inf in state.informer_slots():
        if inf is None:
            continue
        for key, cached in inf.cache.items():
            current = state.etcd.objects.get(key)
            if current is not None and cached.meta.resource_version == current.meta.resource_version != 0 \
                    and cached != current:
                return False
    return True


def test_every_representative_is_consistent_across_renamings() -> None:
    """Node symmetry once renamed etcd, the scheduler and the kubelets but not the controller manager's caches:
    a representative's cached pod named the other node than etcd's, at the same resourceVersion."""
    model = ClusterModel(builtin("web-two-nodes").config)
    model.properties = (always("CachedCopiesAgree", cached_copies_agree),)
    result = check(model, max_states=4000)
    assert result.status == "bounded"


def caches_follow_from_etcd(state: ClusterState) -> bool:
    """Every watching informer's cache is its view of etcd as of its position: why ``spec.state.Informer`` may
    leave caches out of comparisons."""
    return all(inf is None or inf.expired or inf.cache == cache_at(state.etcd, scope, inf.rv)
               for _, _, scope, inf in state.informer_slots())


def caches_follow_in_every_step(config: Config, max_states: int) -> int:
    """Breadth-first over the representatives: every state a step makes has caches that follow from etcd (the
    representatives' are recomputed, so the steps are what this tests). The number of representatives seen."""
    model = ClusterModel(config)
    frontier = [model.canonical(s) for s in model.init_states()]
    seen = set(frontier)
    while frontier and len(seen) < max_states:
        s = frontier.pop(0)
        for action, t in model.successors(s):
            assert caches_follow_from_etcd(t), f"after {action}"
            c = model.canonical(t)
            if c not in seen:
                seen.add(c)
                frontier.append(c)
    return len(seen)


@pytest.mark.parametrize("consistency", ["strong", "stale"])
def test_every_step_leaves_caches_that_follow_from_etcd(consistency: str) -> None:
    config = attrs.evolve(parse(EVERY_FAULT, "every-fault").config, consistency=consistency)
    assert caches_follow_in_every_step(config, 3000) >= 3000
    recreated = load(Path(__file__).parent / "fixtures" / "recreated.yaml").config  # a pod deleted and replaced
    assert caches_follow_in_every_step(attrs.evolve(recreated, consistency=consistency), 3000) > 100


@pytest.mark.slow
@pytest.mark.parametrize("name", ["web-two-nodes", "stale-replicaset"])
def test_every_step_leaves_caches_that_follow_from_etcd_in_every_state(name: str) -> None:
    config = builtin(name).config
    cut = caches_follow_in_every_step(config, 1_000_000)
    assert cut < 1_000_000
    if config.consistency == "stale":  # stale-relist needs it (with strong lists it is an error: spec/variants.py)
        config = with_overrides(builtin(name), variants=("stale-relist",)).config
    cut = caches_follow_in_every_step(config, 30_000)
    assert cut > 0


def test_informers_compare_their_caches() -> None:
    """Plain attrs equality: no reduction hides in the meaning's equality (caches once counted only when expired)."""
    node = builtin("pod-two-nodes").config.objects[0]
    a = immutables.Map({"nodes/node-a": node})
    b = immutables.Map[str, Any]()
    assert Informer(3, a, False, 3) != Informer(3, b, False, 3)
    assert Informer(3, a, True, 3) != Informer(3, b, True, 3)
    assert Informer(3, a, False, 3) == Informer(3, immutables.Map({"nodes/node-a": node}), False, 3)
    assert Informer(3, a, False, 3) != Informer(4, a, False, 4)


def _renamings(groups: tuple[tuple[str, ...], ...]) -> list[dict[str, str]]:
    """Every renaming of the nodes within each group of interchangeable ones (the identity left out). Written
    apart from ``spec.reduction.canonical._permutations`` on purpose: a renaming that one missed would go unseen if
    the test drew its renamings from it."""
    out: list[dict[str, str]] = []
    for combo in itertools.product(*(itertools.permutations(g) for g in groups)):
        perm = {a: b for g, p in zip(groups, combo, strict=True) for a, b in zip(g, p, strict=True) if a != b}
        if perm:
            out.append(perm)
    return out


@settings(max_examples=300)
@given(data=st.data())
def test_representatives_of_random_reachable_states(data: st.DataObject) -> None:
    """Any state a walk reaches, in any generated scenario: its representative is its own representative, keeps
    cached copies consistent with etcd, and has the same representatives as successors."""
    scenario = data.draw(scenarios())
    state = data.draw(cluster_states(max_steps=30, scenario=scenario))
    model = ClusterModel(scenario.config)
    rep = model.canonical(state)
    assert model.canonical(rep) == rep
    assert cached_copies_agree(rep)
    assert caches_follow_from_etcd(state) and caches_follow_from_etcd(rep)
    # One representative per orbit: every renaming of interchangeable nodes has the same one (a node's field that
    # the orbit order overlooks makes two renamings tie and keeps two representatives of one orbit apart).
    for perm in _renamings(symmetric_nodes(scenario.config) if model.reduce.symmetry else ()):
        assert model.canonical(rename_nodes(state, perm)) == rep, f"renaming {perm} gives another representative"
    if any(isinstance(o, DaemonSet) for o in scenario.config.objects):
        # A DaemonSet creates its pods in the order of the nodes, each with the first free generated name and the
        # next uid, so the same creation from a state and from its representative gives the pods the other names
        # and uids: the successors agree only up to renaming those pods (upstream's names are random: any naming
        # is a behaviour of Kubernetes). Node symmetry does not rename pods, so it keeps both namings apart
        # (reduction lost, not a verdict: tests/spec/test_spec_differential.py checks the DaemonSet built-ins with
        # and without reductions; docs/spec.md, "Node symmetry").
        return
    assert {model.canonical(t) for _, t in model.successors(state)} == \
        {model.canonical(t) for _, t in model.successors(rep)}


def test_representatives_after_a_delete_that_everyone_has_seen() -> None:
    """etcd's revision in canonical form is one past everything: it once stayed the revision of a forgotten
    delete in one order of the writes and not in another, and a liveness trace could not be rebuilt."""
    recreated = Path(__file__).parent / "fixtures" / "recreated.yaml"
    assert stands_for_its_states(ClusterModel(load(recreated).config, NO_SYMMETRY), 12) > 100


PAUSED_LEADER = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: paused-leader}
spec:
  consistency: stale
  faults: {apiServerRestarts: 1}
  leaderElection: {replicas: 1, leaseDuration: 15s, renewDeadline: 10s, retryPeriod: 2s, pauses: 1,
                   components: [kube-controller-manager]}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25", resources: {requests: {cpu: 500m, memory: 256Mi}}}]
"""


@pytest.mark.parametrize("consistency", ["stale", "strong"])
def test_a_pause_parks_what_the_representative_parks(consistency: str) -> None:
    """A controller-manager replica pauses while its pod informer is expired below the compaction point (the
    ReplicaSet creates its pod, and an API server restart compacts the history past the informer, which had not
    delivered it): the pause parks the informer's position as its high-water mark (``leaderelection.park``). The
    representative had moved the expired informer to the compaction point (``canonical._expired_at_compaction``),
    so the pause from it parked another mark, and renumbering kept the two apart: the successors of a state and of
    its representative had different representatives (found by ``test_representatives_of_random_reachable_states``
    with more examples; ``canonical._parked_at_compaction`` moves a parked mark there too). Breadth-first, every
    successor of every state compared with its representative's, pauses included."""
    config = attrs.evolve(parse(PAUSED_LEADER, "paused-leader").config, consistency=consistency)
    assert stands_for_its_states(ClusterModel(config), 6) > 300


BINDING_AFTER_A_RESTART = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: binding-after-a-restart}
spec:
  faults: {apiServerRestarts: 1}
  userActions: ["kubectl delete pod solo"]
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: standard}
provisioner: csi.example.com
reclaimPolicy: Delete
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  storageClassName: standard
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: solo, labels: {app: solo}}
spec:
  containers: [{name: solo, image: "solo:1", resources: {requests: {cpu: 100m, memory: 64Mi}}}]
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-a}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: standard
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /data}
"""


def test_a_relist_does_not_order_what_it_listed() -> None:
    """Consistency strong, one API server restart: the user deletes the pod, the restart expires the scheduler
    (which had not delivered the delete) while the PersistentVolume controller's informers, one per resource,
    re-watch; the controller then binds the claim (two volume writes, then two claim writes), and no informer
    watches both resources, so the representative puts the claim's writes first. Then the scheduler relists: it
    watches volumes and claims both, and the write order kept the order of every two events that some informer
    watches both of, even where it had delivered both, by a list, in no order at all: from the state and from
    its representative the relist led to two histories, each its own representative (found by
    ``test_representatives_of_random_reachable_states`` with more examples). An informer can tell apart only the
    order of what it has yet to deliver (``writeorder._order``)."""
    config = parse(BINDING_AFTER_A_RESTART, "binding-after-a-restart").config
    assert stands_for_its_states(ClusterModel(config, NO_SYMMETRY), 6) > 1000


DELETED_DAEMONSET = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: deleted-daemonset}
spec:
  userActions: ["kubectl delete daemonset agent"]
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: v1
kind: Node
metadata: {name: node-b}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: agent, image: "agent:1", resources: {requests: {cpu: 100m, memory: 64Mi}}}]
"""


@pytest.mark.parametrize("consistency", ["strong", "stale"])
def test_deleted_daemon_pods_order_the_renamings(consistency: str) -> None:
    """Two identical nodes, a DaemonSet deleted before its pods are bound: the garbage collector deletes the pods,
    which live on only in the history's events, pinned to their nodes by node affinity. The orbit order read only
    the bound node of the history's pods, so the two renamings tied, the first won, and a state and its renaming
    had two representatives (found by ``test_representatives_of_random_reachable_states`` on a random run: three
    nodes, a DaemonSet deleted, consistency stale). Breadth-first over the representatives: each is also the
    representative of its renaming."""
    config = attrs.evolve(parse(DELETED_DAEMONSET, "deleted-daemonset").config, consistency=consistency)
    model = ClusterModel(config)
    swap = {"node-a": "node-b", "node-b": "node-a"}
    assert symmetric_nodes(config) == (("node-a", "node-b"),)
    frontier = [model.canonical(s) for s in model.init_states()]
    seen = set(frontier)
    for _ in range(10):
        following = []
        for s in frontier:
            assert model.canonical(rename_nodes(s, swap)) == s
            for _, t in model.successors(s):
                c = model.canonical(t)
                if c not in seen:
                    seen.add(c)
                    following.append(c)
        frontier = following
    assert len(seen) > 1000
