"""Faults, each spending the scenario's budget, so that faults eventually stop (Anvil's ESR assumption).

A crash of a process (``CRASHES``: kube-controller-manager, a scheduler, a kubelet, kube-apiserver, kube-proxy)
restarts every component hosted by that process (``spec.component.restart``); what each loses is its component's
``restart`` (``spec.component.Restarts``), summarised here:

- controller-manager crash: queues, expectations and cache are lost; the restarted process relists and handles
  every object as an add (upstream: the informers' initial list; expectations start empty).
- scheduler crash: queue and assumed pods are lost; the restarted scheduler queues every unbound pod.
- kubelet restart: the kubelet relists; the container runtime keeps running its containers, which the kubelet
  adopts (pkg/kubelet/kuberuntime lists them by their pod-uid labels).
- API server restart: every watch breaks and the new watch cache starts at etcd's revision, so informers that were
  behind get 410 Gone and relist (staging/src/k8s.io/apiserver/pkg/storage/cacher).
- kube-proxy restart (``kubeProxyRestarts``): its iptables rules stay in the kernel; it relists and its first
  sync starts from that list (``spec.kubeproxy.restarted``).
- container crash: one running container exits; the kubelet restarts it (restartPolicy Always).
- node crash: the node runs nothing; it boots again later (a weakly fair step) and its kubelet relists. It is taken
  to boot within node-monitor-grace-period (40 s), so the node lifecycle controller never sees it stop.
- node failure: the node runs nothing and never boots again; its kubelet stops renewing the node's Lease, so the
  node lifecycle controller's grace timer starts (``spec.controllers.nodelifecycle``).

- container runtime failure (``runtimeFailures``): the node's container runtime goes down for good (containerd or
  CRI-O stops answering). The kubelet keeps running, watching and renewing its Lease (so the node lifecycle
  controller's grace timer does not start), but its Ready condition turns False ("container runtime is down":
  ``spec.kubelet.ready_condition``), which it reports before time advances; it syncs no pod (syncLoop skips pod
  synchronization while the runtime is down), so nothing starts, restarts or stops on the node. The containers
  already running keep running (each under its shim, outside the runtime daemon). The node lifecycle controller
  then taints the node ``node.kubernetes.io/not-ready`` (NoSchedule, NoExecute) and 300 s later
  (DefaultTolerationSeconds) the taint eviction controller deletes its pods; they stay Terminating (no kubelet can
  stop them), which their ReplicaSet does not count, so it replaces them elsewhere. Abstracted: the runtime
  never comes back (a runtime that recovers is, to the control plane, a shorter not-ready spell).
- network partition (``nodePartitions``): the node can no longer reach the API server. Its containers keep running
  (the runtime is untouched) and its kubelet takes no step: no watch event reaches it, no status or Lease write
  leaves it, so the node lifecycle controller's grace timer starts as for a failure. Its informer is dropped while
  cut off (``Kubelet.partitioned``; nothing the kubelet would do depends on it before it relists). Abstracted: the
  real kubelet keeps restarting crashed containers from its cached pods during a partition; here a container that
  crashes while its node is cut off stays down until the partition heals. A partitioned node does not crash,
  fail or restart its kubelet in the same behaviour (those relist, which needs the API server).
- a partition heals (``Heal``, actor "network/<node>"): the kubelet renews its Lease (the controller's grace timer
  stops), relists (its watch broke; the re-established watch is taken to be answered 410 Gone, so it lists) and
  reports its node Ready (``spec.kubelet``: before time advances, within nodeStatusUpdateFrequency 10 s); the node
  lifecycle controller then removes the taints. Healing is weakly fair: every partition eventually heals. That is
  the fault's meaning (issue 12: "the partition heals later"), and upstream's design assumes it: master disruption
  mode exists because a control plane that hears from no node expects connectivity to come back
  (kubernetes#28832), and the taint eviction controller's 300 s exist so that short partitions evict nothing. A
  partition that never heals is, to the control plane, a node that failed for good: ``nodeFailures``. When it heals
  is left open: before the grace period ends, between the taint and the eviction, or after the eviction.

A crash and its restart are one step: a crashed process takes no steps, so a behaviour where it is down for a while
is the same as one where it is merely slow and then crashes and restarts at once.

Ties (``deadline_first``): a fault or a heal does not happen at the very instant a taint-based deletion falls due
before that deletion is made (the taint eviction controller's timed worker deletes within milliseconds of its
deadline; a fault in between is a tie of probability zero, which logical time would otherwise turn into a whole
interleaving).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import attrs

from spec import actions as A
from spec import informer
from spec.component import Base, Component, Forgets, Host, Process, Step, forgetting, restart
from spec.controllers import nodelifecycle
from spec.kubelet import nodes
from spec.state import Budget, ClusterState, Kubelet, Node, Pod
from spec.watchcache import settle

if TYPE_CHECKING:
    from spec.config import Config


def _spend(state: ClusterState, budget: str) -> ClusterState:
    """``state`` with one fault of the ``Budget`` field ``budget`` spent."""
    return state._with(budget=_spent(state.budget, budget))


@functools.lru_cache(maxsize=1 << 10)
def _spent(b: Budget, budget: str) -> Budget:
    """``b`` with one of ``budget`` spent (memoised: a scenario has a few budgets, and every state tries its
    faults)."""
    return attrs.evolve(b, **{budget: getattr(b, budget) - 1})


@attrs.frozen
class Crash:
    """A crash and restart of a process, from one of the scenario's budgets: every component whose ``host`` is
    the process's restarts with it (``spec.component.restart``), so a component declares what a restart loses
    where it is defined, and a new process needs only a line in ``CRASHES`` (and its budget)."""

    budget: str
    """The ``Budget`` field it spends (the scenario's ``spec.faults`` key: ``spec.scenario.FAULTS``)."""
    host: str
    """The process kind (``spec.component.Host``)."""
    label: str
    """The ``Fault.kind`` of its step ("crash and restart", "restart")."""
    processes: Callable[[ClusterState], Iterable[Process]]
    """The processes of that kind that can crash in a state (a kubelet only on a node that is up and connected)."""
    lists: bool = True
    """Its components list on restart: one step per revision the first list may be served at
    (``spec.informer.relist_revisions``: only etcd's with consistent lists). False: one step (the API server)."""


def _controller_manager(state: ClusterState) -> tuple[Process, ...]:
    if state.leader is not None:  # replicas under leader election: a replica's crash is spec.leaderelection's
        return ()
    return (Process(Host.CONTROLLER_MANAGER, Host.CONTROLLER_MANAGER),)


def _schedulers(state: ClusterState) -> tuple[Process, ...]:
    return tuple(Process(Host.SCHEDULER, s.name) for s in state.schedulers)


def _kubelets(state: ClusterState) -> tuple[Process, ...]:
    return tuple(Process.on(Host.KUBELET, k.node) for k in state.kubelets if k.up and not k.partitioned)


def _kube_proxies(state: ClusterState) -> tuple[Process, ...]:
    """kube-proxy on each node whose kubelet is up and reaches the API server (``spec.network``)."""
    up = {k.node for k in state.kubelets if k.up and not k.partitioned}
    return tuple(Process.on(Host.KUBE_PROXY, p.node) for p in state.net.proxies if p.node in up)


def _apiserver(state: ClusterState) -> tuple[Process, ...]:
    """kube-apiserver, or each of several (``spec.kube_apiserver.processes``)."""
    from spec.kube_apiserver import processes

    return processes(state)


CRASHES: tuple[Crash, ...] = (
    Crash("controller_manager_crashes", Host.CONTROLLER_MANAGER, "crash and restart", _controller_manager),
    Crash("scheduler_crashes", Host.SCHEDULER, "crash and restart", _schedulers),
    Crash("kubelet_restarts", Host.KUBELET, "restart", _kubelets),
    Crash("api_server_restarts", Host.APISERVER, "restart", _apiserver, lists=False),
    Crash("kube_proxy_restarts", Host.KUBE_PROXY, "restart", _kube_proxies),
)
"""The process crashes a scenario's budget can hold, in the order of their steps."""


def _composition() -> tuple[Component, ...]:
    """The components a restart reaches: the composition (``spec.cluster.COMPONENTS``, which lists this module,
    hence read when a fault happens rather than imported with it, like ``spec.clock.Clock``'s)."""
    return _cluster().COMPONENTS  # type: ignore[no-any-return]


@functools.cache
def _cluster() -> Any:
    """The module ``spec.cluster``, imported once (its ``COMPONENTS`` is read at each fault: a test may replace it)."""
    import spec.cluster

    return spec.cluster


def fault_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    b = state.budget
    etcd = state.etcd
    restart_revisions: list[int] | None = None
    for crash in CRASHES:
        if not getattr(b, crash.budget):
            continue
        components = _composition()
        forgets = forgetting(components, crash.host)
        if crash.lists and restart_revisions is None:
            restart_revisions = informer.relist_revisions(config, etcd.revision, 0, etcd, True)
        for process in crash.processes(state):
            for rv in restart_revisions if restart_revisions is not None and crash.lists else (0,):
                revision = rv if crash.lists else etcd.revision
                if forgets is not None:
                    yield _crash_step(_CrashKey(state, config, components, crash, process, rv, revision, forgets))
                else:
                    yield _crashed(state, config, components, crash, process, rv, revision)
    if b.container_crashes:
        for k in state.kubelets:
            for c in sorted(k.runtime, key=lambda c: (c.pod, c.name)):
                if c.managed and c.running:
                    crashed = attrs.evolve(k, runtime=(k.runtime - {c}) | {attrs.evolve(c, running=False)})
                    new = _spend(state, "container_crashes")
                    yield A.Fault("fault", "container crash", f"{c.pod} ({c.name}) on {k.node}"), new.with_kubelet(
                        crashed)
    if b.node_crashes:
        for k in state.kubelets:
            if k.up and not k.partitioned:
                new = _spend(state, "node_crashes")
                down = attrs.evolve(k, up=False, informer=None, runtime=frozenset())
                yield A.Fault("fault", "crash", f"nodes/{k.node}"), settle(new.with_kubelet(down), config)
    if b.node_failures:
        for k in state.kubelets:
            if not k.failed and not k.partitioned:
                new = _spend(state, "node_failures")
                down = attrs.evolve(k, up=False, failed=True, informer=None, runtime=frozenset())
                new = attrs.evolve(new.with_kubelet(down),
                                   lifecycle=nodelifecycle.heartbeats_stopped(state.lifecycle, k.node))
                yield A.Fault("fault", FAILURE, f"nodes/{k.node}"), settle(new, config)
    if b.node_partitions:
        for k in state.kubelets:
            if k.up and not k.partitioned:
                new = _spend(state, "node_partitions")
                cut = attrs.evolve(k, partitioned=True, informer=None)
                new = attrs.evolve(new.with_kubelet(cut),
                                   lifecycle=nodelifecycle.heartbeats_stopped(state.lifecycle, k.node))
                yield A.Fault("fault", "network partition (cut off from the API server; its containers keep running)",
                              f"nodes/{k.node}"), settle(new, config)
    if b.runtime_failures:
        for k in state.kubelets:
            if _runtime_can_fail(k):
                new = _spend(state, "runtime_failures")
                yield A.Fault("fault", RUNTIME_FAILURE, f"nodes/{k.node}"), settle(
                    new.with_kubelet(attrs.evolve(k, runtime_down=True)), config)
    for k in state.kubelets:
        if not k.up and not k.failed:
            inf, _ = informer.relist(None, etcd, ("kubelet", k.node), etcd.revision)
            yield A.Recover(f"node/{k.node}", k.node), settle(
                state.with_kubelet(attrs.evolve(k, up=True, informer=inf)), config)
    for k in state.kubelets:
        if k.partitioned:
            inf, _ = informer.relist(None, etcd, ("kubelet", k.node), etcd.revision)
            healed = attrs.evolve(state.with_kubelet(attrs.evolve(k, partitioned=False, informer=inf)),
                                  lifecycle=nodelifecycle.heartbeats_resumed(state.lifecycle, k.node))
            yield A.Heal(heal_actor(k.node), k.node), settle(healed, config)


def _crashed(state: ClusterState, config: Config, components: tuple[Component, ...], crash: Crash, process: Process,
             rv: int, revision: int) -> Step:
    """The step of ``crash`` of ``process`` in ``state``: its components restart (their lists served at
    ``revision``; ``rv`` labels the step), one fault of the budget spent, settled."""
    new = restart(components, _spend(state, crash.budget), config, process, revision)
    return A.Fault("fault", crash.label, process.name, rv), settle(new, config)


_FIELDS = tuple(f.name for f in attrs.fields(ClusterState))
_fields_of = operator.attrgetter(*_FIELDS)
_FIELD_INDEX = {name: i for i, name in enumerate(_FIELDS)}


class _CrashKey:
    """What a crash's step (``_crashed``) is a function of, for ``_crash_step``: the state's fields, with the slot
    of the first component the process hosts replaced by what its restart keeps of it (``spec.component.Forgets``),
    the crash, the process, the revisions and the scenario. The state itself rides along to build the step on a
    miss (and is dropped then); it takes no part in the key's hash or equality."""

    __slots__ = ("_hash", "components", "config", "crash", "key", "process", "revision", "rv", "state")

    def __init__(self, state: ClusterState, config: Config, components: tuple[Component, ...], crash: Crash,
                 process: Process, rv: int, revision: int, forgets: Forgets) -> None:
        fields = list(_fields_of(state))
        i = _FIELD_INDEX[forgets.forgets]
        fields[i] = forgets.kept(fields[i], revision)
        self.key = (crash.budget, process, rv, revision, tuple(fields))
        self._hash = hash(self.key)
        self.state: ClusterState | None = state
        self.config, self.components, self.crash, self.process, self.rv, self.revision = (
            config, components, crash, process, rv, revision)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, _CrashKey) and self._hash == other._hash and self.key == other.key
                and self.components is other.components and (self.config is other.config
                                                             or self.config == other.config))


@functools.lru_cache(maxsize=1 << 14)
def _crash_step(key: _CrashKey) -> Step:
    """``_crashed`` memoised on ``_CrashKey``: a crash is tried from every state, and states that differ only in
    what it loses give one step (web-two-nodes: 23,260 controller-manager crashes from 4,966 keys), which is then
    one object (the model's memo of a fault's representative finds it by identity).

    Why it is exact: the step is ``settle(restart(spent))``, and ``settle`` reads only the restarted state. The
    process's components restart in the composition's order (``spec.component.restart``), the first of them
    being the one that declares ``Forgets``: it reads its slot's old value only through ``kept`` (in the key),
    and every later one reads that slot as the first left it, so a state's other fields (in the key whole), the
    crash, the process, the revisions and the scenario decide the rest. tests/spec/test_spec_faults.py compares
    it with ``_crashed`` on the reachable states of the built-in scenarios with crashes."""
    state = key.state
    assert state is not None
    key.state = None  # the key stays in the memo; the state need not
    return _crashed(state, key.config, key.components, key.crash, key.process, key.rv, key.revision)


FAULT_ACTOR = "fault"
FAILURE = "failure (down for good)"
"""The kind of a node failure's ``Fault`` step."""
RUNTIME_FAILURE = "container runtime down (for good; its containers keep running)"
"""The kind of a runtime failure's ``Fault`` step (``runtimeFailures``)."""


def _runtime_can_fail(k: Kubelet) -> bool:
    """A runtime fails on a node that is up, reaches the API server and whose runtime still runs."""
    return k.up and not k.failed and not k.partitioned and not k.runtime_down


def recovery_actor(node: str) -> str:
    return f"node/{node}"


def heal_actor(node: str) -> str:
    """The actor of a partition's healing: the network path between the node and the API server."""
    return f"network/{node}"


class FaultsComponent(Base):
    """The faults: slot ``ClusterState.budget`` (what is left of the scenario's budgets); steps ``Fault`` (actor
    "fault", not fair: a fault may never happen) and a crashed node's ``Recover`` (actor "node/<name>", weakly
    fair: a crashed node boots again). A crash of a process restarts the components it hosts (``CRASHES``); what
    each loses is its own ``restart``."""

    name = "faults"

    def actors(self, config: Config) -> tuple[str, ...]:
        return (FAULT_ACTOR, *self.fair_actors(config))

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        heals = tuple(heal_actor(n) for n in nodes(config)) if config.budget.node_partitions else ()
        return tuple(recovery_actor(n) for n in nodes(config)) + heals

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        return state._with(budget=config.budget)

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        if nodelifecycle.due_pods(state.lifecycle):
            return iter(())  # ties: a due deletion first (``deadline_first``)
        return fault_steps(state, config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        if nodelifecycle.due_pods(state.lifecycle):
            return set()
        out = {recovery_actor(k.node) for k in state.kubelets if not k.up and not k.failed}
        out |= {heal_actor(k.node) for k in state.kubelets if k.partitioned}
        b = state.budget
        ks = state.kubelets
        if (any(getattr(b, c.budget) and any(True for _ in c.processes(state)) for c in CRASHES)
                or (b.node_crashes and any(k.up and not k.partitioned for k in ks))
                or (b.node_failures and any(not k.failed and not k.partitioned for k in ks))
                or (b.node_partitions and any(k.up and not k.partitioned for k in ks))
                or (b.runtime_failures and any(_runtime_can_fail(k) for k in ks))
                or (b.container_crashes and any(c.managed and c.running for k in ks for c in k.runtime))):
            out.add(FAULT_ACTOR)
        return out


FAULTS = FaultsComponent()


def symmetric_nodes(config: Any) -> tuple[tuple[str, ...], ...]:
    """Groups of interchangeable nodes: equal manifests but for the name (and hostname label), named by no pod,
    no command and no affinity, so that renaming them maps behaviours to behaviours."""
    from spec.network import enabled_for
    from spec.scheduling.types import HOSTNAME_LABEL

    if enabled_for(config):
        # Each node has its own podCIDR, and its pods' addresses come from it (spec.nodeipam): renaming nodes
        # would have to permute the CIDRs and every address with them. Off, correctness over speed.
        return ()
    from spec.controllers.persistentvolume import has_volumes

    if has_volumes(config):
        # The scheduler writes node names into claims (volume.kubernetes.io/selected-node) and the provisioner into
        # volumes' nodeAffinity, which the renaming does not rewrite. Off, correctness over speed.
        return ()
    if config.budget.node_partitions:
        # Off where nodes can be cut off, correctness over speed: not argued for partitions (a cut-off kubelet
        # keeps its runtime but drops its informer, its healing relists), and not needed by their scenarios.
        return ()
    # Where nodes can fail for good (nodeFailures) it is on: the node lifecycle controller's grace timers
    # (NodeLifecycle.grace), the kubelets (Kubelet.failed) and the nodes' conditions and taints all declare their
    # node names (spec.idfields), so spec.reduction.canonical renames them with the nodes; a failed node has no
    # fair actor of its own (it never recovers). tests/spec/test_spec_reductions.py compares the visible states
    # of node-failure, renamed, with and without it.
    nodes = [o for o in config.objects if isinstance(o, Node)]
    mentioned = set()
    for c in config.commands:
        mentioned.add(c.name)
    text = repr([o for o in config.objects if not isinstance(o, Node)])
    groups: dict[Any, list[str]] = {}
    for n in nodes:
        name = n.meta.name
        if name in mentioned or repr(name) in text or any(isinstance(o, Pod) and o.node_name == name
                                                          for o in config.objects):
            continue
        labels = tuple((k, v) for k, v in n.info.labels if k != HOSTNAME_LABEL)
        shape = (labels, n.info.taints, n.info.allocatable, n.info.unschedulable, n.info.images)
        groups.setdefault(shape, []).append(name)
    return tuple(tuple(sorted(g)) for g in groups.values() if len(g) > 1)
