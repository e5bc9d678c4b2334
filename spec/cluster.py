"""The control plane as one transition system (the meaning, without any reduction): the initial state from a
scenario, Next as the union of every component's steps, the properties, fairness and the trace view.

Shape after Anvil (anvil-verifier/anvil, src/kubernetes_cluster/spec/cluster.rs) and TLA+'s Init / Next: one
``ClusterState``, one action type per kind of step, each step a whole reconcile or one watch event's delivery to
one component. Each component is an object of the ``spec.component.Component`` protocol in its own module, and
``COMPONENTS`` composes them: Init is their ``init`` in turn, Next the union of their ``steps``, ``enabled_actors``
the union of their ``enabled``, fairness weak fairness per actor of their ``fair_actors``; the clock's deadlines
and quiescence are the unions of their ``timers`` and ``busy`` (``spec.clock.Clock``). Adding a controller is one
module and one line in ``COMPONENTS`` (plus its slot in ``ClusterState``); it restarts with the process that
hosts it (its ``host``: a crash fault restarts every component of that process, ``spec.faults.CRASHES``).
docs/spec.md, "Layout", tabulates the components, their state, steps, fairness, host and what a restart loses.

Every write goes through ``spec.apiserver``; after each step the watch cache settles (``spec.watchcache``).
Fairness is weak fairness per actor (each controller, scheduler, kubelet, node's recovery, and the clock); the
user and faults are not fair. Nothing here imports the reductions (``spec.reduction``): ``Cluster`` is the plain
Next relation, which ``kubespec check --no-reduction`` explores, and ``spec.model.ClusterModel`` is this model
with the reductions on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import immutables

from checker import Model, Property, eventually_always, leads_to, leads_to_always, weak
from checker import always as always_
from spec import actions as A
from spec import faults, informer, kube_apiserver, kubectl, kubelet, leaderelection, network, reflector, scheduler
from spec.apiserver import store
from spec.clock import Clock
from spec.component import Component, commit, session
from spec.config import Config
from spec.controllers import (
    cronjob,
    daemonset,
    garbagecollector,
    manager,
    namespace,
    nodelifecycle,
    persistentvolume,
    podautoscaler,
    podgc,
    provisioner,
    pvcprotection,
    replicaset,
    replication,
    ttlafterfinished,
    workloads,
)
from spec.controllers import job as jobctl
from spec.properties import PROPERTIES
from spec.state import (
    RESOURCE,
    Budget,
    ClusterState,
    ControllerManager,
    Informer,
    Key,
)

__all__ = ["COMPONENTS", "Cluster", "Config", "commit", "enabled_actors", "enabled_among", "initial_state", "lanes",
           "next_steps", "reconcile_steps", "reporters"]

REFLECTORS = reflector.Reflectors(lambda: COMPONENTS)
CLOCK = Clock(lambda: COMPONENTS)

COMPONENTS: tuple[Component, ...] = (
    kube_apiserver.KUBE_APISERVER,      # no steps: what an API server restart loses (the watch cache, every watch)
    REFLECTORS,                         # every informer's deliveries and relists, handed to its owner
    manager.CONTROLLER_MANAGER,         # the ReplicaSet and Deployment controllers
    replicaset.AVAILABILITY,            # how long each pod has been Ready (minReadySeconds; no steps)
    replication.REPLICATION_MANAGER,    # ReplicationControllers: the ReplicaSet controller over its own slot
    scheduler.SCHEDULER,
    kubelet.KUBELET,
    nodelifecycle.NODE_LIFECYCLE,       # the node lifecycle and taint eviction controllers
    garbagecollector.GARBAGE_COLLECTOR,
    podgc.POD_GC,                       # the pod garbage collector
    workloads.WORKLOADS,                # the StatefulSet and disruption controllers, kubectl drain
    kubectl.KUBECTL,
    faults.FAULTS,
    network.ENDPOINTSLICES,             # Services: the EndpointSlice controller (and the API server's allocations)
    network.KUBE_PROXY,
    network.COREDNS,
    jobctl.JOBS,                        # the Job controller (issue 19)
    ttlafterfinished.TTL_AFTER_FINISHED,  # the TTL-after-finished controller (in the Job controller's slot)
    namespace.NAMESPACE_CONTROLLER,     # the namespace controller (issue 19)
    leaderelection.LEADER_ELECTION,     # kube-controller-manager's replicas under leader election (issue 19)
    leaderelection.SCHEDULER_ELECTION,  # kube-scheduler's replicas under leader election (issue 19)
    daemonset.DAEMONSETS,               # the DaemonSet controller
    cronjob.CRONJOBS,                   # the CronJob controller (after the Job controller: its Job informer)
    persistentvolume.PERSISTENT_VOLUMES,  # the PersistentVolume controller (binding, reclaiming)
    provisioner.PROVISIONER,            # the external provisioners of the scenario's StorageClasses
    pvcprotection.PVC_PROTECTION,       # the PVC protection controller (kubernetes.io/pvc-protection)
    podautoscaler.PODAUTOSCALER,        # the HPA controller
    podautoscaler.LOAD,                 # the metrics server's load (the HPA's environment)
    CLOCK,                              # last: a Tick waits for every other component
)
"""The composition, in the order of Next's disjuncts (the order successors are listed in, which decides which of
several shortest counterexamples is found) and of restarts (the components a crashed process hosts restart in
this order: ``spec.component.restart``). Add a component: one line here (before the clock), its module
(``spec.component``'s protocol) and its slot in ``ClusterState``."""

SCHEDULERS = scheduler.NAMES


def initial_state(config: Config) -> ClusterState:
    """Init: etcd holds the scenario's objects; every component has listed them and handled them (each
    component's ``init`` in turn); with ``config.start`` "converged", the start-up run until it settles
    (``spec.warmup``)."""
    etcd = store(list(config.objects))
    empty = Informer(rv=0, cache=immutables.Map())
    state = ClusterState(etcd, ControllerManager((empty, empty, empty)), (), (), frozenset(), Budget())
    for c in COMPONENTS:
        state = c.init(state, config)
    if config.start == "converged":
        from spec.warmup import converge

        state = converge(state, config)
    return state


def lanes(config: Config) -> tuple[str, ...]:
    """Every actor of the scenario's steps, in a stable order (the components' order, then each component's):
    the lanes of a sequence diagram."""
    return tuple(dict.fromkeys(a for c in COMPONENTS for a in c.actors(config)))


def fair_actors(config: Config) -> tuple[str, ...]:
    """The actors whose steps are weakly fair, from the components: each controller, the scheduler(s), every
    kubelet, every node's recovery, and the clock. Watch deliveries are fair through the actor that receives
    them. The user and the faults are not fair."""
    return tuple(dict.fromkeys(a for c in COMPONENTS for a in c.fair_actors(config)))


def fairness_name(actor: str) -> str:
    return f"WF({actor})"


def _selects(actor: str) -> Any:
    return lambda a: getattr(a, "actor", None) == actor


def checker_properties(config: Config) -> tuple[Property, ...]:
    """The properties the scenario names (by default all but the findings), as the checker's properties:
    ``PropertySpec.kind`` names the checker's operator, and the ``p ~> q`` kinds take the premise ``p``."""
    props = []
    for name in config.properties or tuple(n for n, p in PROPERTIES.items()
                                           if not p.finding and (p.applies is None or p.applies(config))):
        spec = PROPERTIES[name]
        if spec.kind in ("always", "eventually_always"):
            props.append((always_ if spec.kind == "always" else eventually_always)(name, spec.p))
        else:
            assert spec.q is not None
            props.append((leads_to if spec.kind == "leads_to" else leads_to_always)(name, spec.p, spec.q))
    return tuple(props)


class Cluster(Model):
    """The Kubernetes control plane of one scenario as a plain transition system (no reduction)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.properties = checker_properties(config)
        self.fairness = tuple(weak(fairness_name(a), _selects(a)) for a in fair_actors(config))

    def init_states(self) -> Iterable[ClusterState]:
        return [initial_state(self.config)]

    def successors(self, state: ClusterState) -> Iterator[tuple[A.Action, ClusterState]]:
        return next_steps(state, self.config)

    def reductions(self) -> tuple[str, ...]:
        return ()

    def describe(self, action: Any) -> str:
        return A.describe(action)

    def kind(self, action: Any) -> str:
        """The step kind (``spec.actions.KINDS``): delivery, reconcile, schedule, bind, sync, kubectl, fault,
        tick."""
        return A.kind(action)

    def duration(self, action: Any) -> int | str | None:
        """The model time a step takes (``spec.clock.duration``): ms for a Tick, the resync period by name, None for
        an untimed step; checker/itf.py sums them into each state's ``#meta.elapsed``."""
        from spec.clock import duration

        return duration(action)

    def lanes(self) -> tuple[str, ...]:
        """Every actor, in a stable order (``lanes``)."""
        return lanes(self.config)

    def why(self, before: ClusterState, action: Any, after: ClusterState) -> list[str]:
        """What the step's actor read, from where, and what its requests answered (``spec.display.why``)."""
        from spec.display import why

        return why(before, action, after, self.config)

    def explain(self, name: str, state: ClusterState) -> str | None:
        """The property's own explanation of what breaks it in ``state`` (``PropertySpec.explain``), or None."""
        spec = PROPERTIES.get(name)
        return None if spec is None or spec.explain is None else spec.explain(state)

    def views(self) -> Mapping[str, Any]:
        """The built-in views of a state graph's quotient, by name (``spec.display.VIEWS``; the first is the
        default of ``kubespec graph --view``)."""
        from spec.display import VIEWS

        return VIEWS

    def tables(self, state: ClusterState) -> list[dict[str, Any]]:
        """The API objects as ``kubectl get deploy,rs,pods,nodes -o wide`` tabulates them (``spec.display``)."""
        from spec.display import tables

        return tables(state)

    def display(self, state: ClusterState) -> Mapping[str, Any]:
        from spec.display import display

        return display(state)


def next_steps(state: ClusterState, config: Config, reconciles: list[tuple[A.Action, ClusterState, bool]] | None = None
               ) -> Iterator[tuple[A.Action, ClusterState]]:
    """Next: every enabled step of every component, in ``COMPONENTS`` order (TLA+'s disjunction of actions, each
    labelled by its action). ``reconciles``: ``reconcile_steps(state, config)`` when already computed."""
    for c in COMPONENTS:
        if reconciles is not None and c is manager.CONTROLLER_MANAGER:
            yield from ((a, t) for a, t, _ in reconciles)
        else:
            yield from c.steps(state, config)


def enabled_actors(state: ClusterState, config: Config) -> set[str]:
    """The actors with a non-stuttering step enabled in ``state`` in the full Next relation (``next_steps``),
    from the steps' guards alone (cheap: no step is taken): the union of the components' ``enabled``. A test
    checks it against ``next_steps`` on every reachable state of the built-in scenarios."""
    out: set[str] = set()
    for c in COMPONENTS:
        out |= c.enabled(state, config)
    return out


Reporters = tuple[tuple[Component, frozenset[str] | None], ...]
"""Per component, the actors its ``enabled`` may name (None: any)."""


def reporters(config: Config) -> Reporters:
    """Each component with the actors its ``enabled`` may name: its own ``actors`` (tests/spec/
    test_spec_differential.py checks every step's actor against them), except the reflectors', which name the
    actors of the informers' owners (None)."""
    return tuple((c, None if c is REFLECTORS else frozenset(c.actors(config))) for c in COMPONENTS)


def enabled_among(state: ClusterState, config: Config, wanted: frozenset[str], plan: Reporters) -> set[str]:
    """``enabled_actors(state, config) & wanted``, asking only the components that may name one of ``wanted``
    (``plan``: ``reporters(config)``) and stopping once every one of them is found."""
    out: set[str] = set()
    for c, own in plan:
        if own is not None and own.isdisjoint(wanted):
            continue
        found = c.enabled(state, config)
        if found:
            out |= found & wanted
            if len(out) == len(wanted):
                break
    return out


def timers(state: ClusterState) -> list[int]:
    """Every running timer's remaining ms, over the components (``spec.clock``)."""
    return CLOCK.pending(state)


def busy(state: ClusterState, config: Config) -> bool:
    """Whether some component has work (time then cannot jump to the resync period)."""
    return not CLOCK.quiescent(state, config)


# --- what other modules import from here (kept for them; each is now a component's) --------------------------

reconcile_steps = manager.reconcile_steps
gc_work = garbagecollector.gc_work
stale_reports = kubelet.stale_reports
_caught_up = reflector.caught_up
_session = session


def slot_steps(state: ClusterState, config: Config, who: str, index: int, scope: informer.Scope,
               inf: Informer | None) -> Iterator[tuple[A.Action, ClusterState]]:
    """The steps of one informer: relist after 410 Gone, or deliver its next event (``spec.reflector``)."""
    return REFLECTORS.slot_steps(state, config, who, index, scope, inf)


def handle(state: ClusterState, who: str, index: int, inf: Informer,
           deltas: Iterable[tuple[Key, Any, Any]]) -> ClusterState:
    """Store ``inf`` in its slot and run its owner's handlers on ``deltas``."""
    return REFLECTORS.handle(state, who, index, inf, deltas)


def actor_of(state: ClusterState, who: str, index: int) -> str:
    return REFLECTORS.actor_of(state, who, index)


def object_counts(state: ClusterState) -> dict[str, int]:
    """Objects per kind (for summaries)."""
    counts: dict[str, int] = {}
    for obj in state.etcd.objects.values():
        name = RESOURCE[type(obj)]
        counts[name] = counts.get(name, 0) + 1
    return counts

