"""The Services components composed into the cluster: the node IPAM controller's podCIDRs, the EndpointSlice
controller, kube-proxy on every node and CoreDNS, in the ``spec.state.Network`` slot of ``ClusterState``.

Each is a ``spec.component`` Component and Watcher (``ENDPOINTSLICES``, which also fills the slot at ``init``,
``KUBE_PROXY``, ``COREDNS``: one line each in ``spec.cluster.COMPONENTS``; none has timers). They
are active only in scenarios with Services (a Service document or a ``kubectl expose`` command,
``enabled_for``): elsewhere the slot stays empty, no step is added and pods carry no address, so the other
scenarios' state counts do not move. Under kube-controller-manager's leader election (``spec.leaderelection``) the
EndpointSlice controller runs only in the acting replica (``spec.controllers.manager.running``), starts afresh in a
replica that starts acting (``restart``: relisted, every Service queued) and is ``stopped`` while none acts; the
API server's allocations (``ip-repair-race``) are not the controller manager's and go on.

The modules: ``spec.services`` (the API server's allocation, conversions), ``spec.nodeipam`` (podCIDRs, pod
addresses), ``spec.controllers.endpointslice_controller``, ``spec.kubeproxy``, ``spec.dns``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import attrs

from spec import actions as A
from spec import dns as dns_
from spec import informer, kubeproxy, nodeipam
from spec.apiserver import Session
from spec.component import Base, Host, Process
from spec.controllers import endpointslice_controller as esc
from spec.controllers import manager
from spec.state import (
    DNS_SCOPE,
    EPS_RESOURCES,
    KCM_RESOURCES,
    ClusterState,
    Etcd,
    Informer,
    Key,
    KubeProxy,
    Network,
    Node,
    Object,
    Service,
)

if TYPE_CHECKING:
    from spec.config import Config

EXPOSE = "expose"
POD_INFORMER = KCM_RESOURCES.index("pods")


def enabled_for(config: Config) -> bool:
    """Whether the scenario has Services: a Service document or a ``kubectl expose`` command."""
    return any(isinstance(o, Service) for o in config.objects) or any(
        c.verb in (EXPOSE, "create-service") for c in config.commands)


def nodes_of(config: Config) -> tuple[str, ...]:
    return tuple(sorted(o.meta.name for o in config.objects if isinstance(o, Node)))


def tracker_on(config: Config) -> bool:
    return "no-slice-tracker" not in config.variants






def init(etcd: Etcd, config: Config) -> Network:
    """The slot once every component has started: podCIDRs allocated, the EndpointSlice controller's informers
    listed (every Service queued), every kube-proxy listed and synced, CoreDNS listed."""
    if not enabled_for(config):
        return Network()
    nodes = nodes_of(config)
    proxies = []
    for node in nodes:
        inf, _ = informer.relist(None, etcd, ("proxy", node), etcd.revision)
        p = KubeProxy(node, inf, known=inf.cache if "proxy-missed-update" in config.variants else None)
        proxies.append(kubeproxy.sync(p, nodes))
    dns_inf, _ = informer.relist(None, etcd, DNS_SCOPE, etcd.revision)
    return Network(pod_cidrs=nodeipam.allocate_node_cidrs(list(nodes)), eps=esc.start(etcd),
                   proxies=tuple(proxies), dns=dns_inf)


def handle(net: Network, who: str, index: int, deltas: tuple[tuple[Key, Object | None, Object | None], ...]
           ) -> Network:
    """The handlers of a delivery or relist to one of the slot's informers (already stored in ``net``)."""
    if who == "eps":
        assert net.eps is not None
        c = net.eps
        for key, old, new in deltas:
            c = esc.handle(c, index, key, old, new)
        return attrs.evolve(net, eps=c)
    if who == "proxy":
        p = net.proxies[index]
        if p.known is None:
            return net
        known = p.known
        for key, _, new in deltas:
            known = known.delete(key) if new is None and key in known else (
                known.set(key, new) if new is not None else known)
        ps = list(net.proxies)
        ps[index] = attrs.evolve(p, known=known)
        return attrs.evolve(net, proxies=tuple(ps))
    return net


def handle_kcm_pods(net: Network, deltas: tuple[tuple[Key, Object | None, Object | None], ...]) -> Network:
    """The EndpointSlice controller's pod handlers on a delivery or relist of the controller manager's pod
    informer."""
    if net.eps is None:
        return net
    c = net.eps
    for _, old, new in deltas:
        c = esc.handle_pod(c, old, new)
    return net if c is net.eps else attrs.evolve(net, eps=c)


def pod_cidr(net: Network, node: str) -> str:
    for n, cidr in net.pod_cidrs:
        if n == node:
            return cidr
    return ""




# --- the ip-repair-race variant (kubernetes#37488) -------------------------------------------------------------

WRITER = "kube-apiserver"
REPAIR = "kube-apiserver/repair"


def _in_flight(net: Network) -> frozenset[str]:
    return frozenset(ip for _, ip, released in net.allocating if not released)


def expose_split(state: ClusterState, config: Config, index: int, command: object
                 ) -> Iterator[tuple[A.Action, ClusterState]]:
    """``kubectl expose`` before kubernetes#37488's fix: the API server allocates the ClusterIP in the allocator's
    bitmap (pkg/registry/core/service/ipallocator, written to etcd at /registry/ranges/serviceips) and writes the
    Service later; meanwhile the address is in the bitmap but in no Service."""
    from spec import kubectl
    from spec.services import cluster_ips, lowest_free_ip

    session = Session(state.etcd, state.ghost)
    assert isinstance(command, kubectl.Command)
    svc = kubectl.service_for(command, session) if command.verb == EXPOSE else kubectl.service_of_create(command)
    pending = state.pending_commands - {index}
    if isinstance(svc, str):
        yield A.Kubectl("kubectl", command.line, svc), _settled(state._with(pending_commands=pending), config)
        return
    held = cluster_ips(state.etcd.objects.values()) | _in_flight(state.net)
    ip = lowest_free_ip(held)
    net = attrs.evolve(state.net, allocating=(*state.net.allocating, (f"services/{svc.meta.namespace}/"
                                                                       f"{svc.meta.name}", ip, False)))
    svc = attrs.evolve(svc, cluster_ip=ip)
    yield A.Kubectl("kubectl", command.line, f"(the API server allocated {ip}; the Service's write follows)"), \
        state._with(pending_commands=pending, net=attrs.evolve(net, writes=(*net.writes, svc)))


def race_steps(state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
    """The API server's write of a Service whose address it allocated, and the repair loop (ipallocator/
    controller/repair.go runOnce before #39206): an address the bitmap holds that no Service has is a leak,
    released at once."""
    from spec.apiserver import create
    from spec.services import cluster_ips

    net = state.net
    for svc in net.writes:
        key = f"services/{svc.meta.namespace}/{svc.meta.name}"
        etcd, response, _ = create(state.etcd, svc, preallocated=True)
        rest = tuple(w for w in net.writes if w is not svc)
        allocating = tuple(a for a in net.allocating if a[0] != key)
        out = f"Service {key} written with clusterIP {svc.cluster_ip}" if response.ok else response.message
        yield A.Reconcile(WRITER, key, not response.ok, (out,)), _settled(
            state._with(etcd=etcd, net=attrs.evolve(net, writes=rest, allocating=allocating)), config)
    held = cluster_ips(state.etcd.objects.values())
    leaks = [a for a in net.allocating if not a[2] and a[1] not in held]
    if leaks:
        allocating = tuple((k, ip, True) if (k, ip, r) in leaks else (k, ip, r) for k, ip, r in net.allocating)
        yield A.Reconcile(REPAIR, "serviceips", False, tuple(
            f"the cluster IP {ip} appears to have leaked: cleaning up" for _, ip, _ in leaks)), \
            state._with(net=attrs.evolve(net, allocating=allocating))


def _settled(state: ClusterState, config: Config) -> ClusterState:
    from spec.watchcache import settle

    return settle(state, config)




def _held(state: ClusterState) -> frozenset[str]:
    from spec.services import cluster_ips

    return cluster_ips(state.etcd.objects.values())






def kcm_restarted(net: Network, etcd: Etcd, rv: int) -> Network:
    """The EndpointSlice controller restarts with kube-controller-manager: informers relisted at ``rv``, every
    Service queued, the tracker empty (the ghost high-water marks carry over)."""
    if net.eps is None:
        return net
    infs = []
    for old, resource in zip(net.eps.informers, EPS_RESOURCES, strict=True):
        fresh = Informer(rv=0, cache=old.cache.__class__(), high_water=old.high_water)
        infs.append(informer.relist(fresh, etcd, ("eps", resource), rv)[0])
    services = tuple(sorted(k for k in infs[0].cache))
    return attrs.evolve(net, eps=attrs.evolve(net.eps, informers=tuple(infs), queue=services, tracker=()))




# --- the components (spec.component's protocol), composed in spec.cluster.COMPONENTS ---------------------------


class EndpointSliceComponent(Base):
    """The EndpointSlice controller, and the slot's owner: ``init`` fills all of ``ClusterState.net`` (podCIDRs,
    the controller, the kube-proxies, CoreDNS); its steps are the controller's syncs and, under the
    ``ip-repair-race`` variant, the API server's Service writes and repair loop. It runs in the controller
    manager: a restart relists its informers, queues every Service and empties its tracker (``kcm_restarted``)."""

    name = esc.ACTOR
    slot = "eps"
    host = Host.CONTROLLER_MANAGER

    def actors(self, config: Config) -> tuple[str, ...]:
        if not enabled_for(config):
            return ()
        race = (WRITER, REPAIR) if "ip-repair-race" in config.variants else ()
        return (esc.ACTOR, *race)

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        if not enabled_for(config):
            return ()
        return (esc.ACTOR, *((WRITER,) if "ip-repair-race" in config.variants else ()))

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        return state._with(net=init(state.etcd, config))

    def steps(self, state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
        net = state.net
        if net.eps is not None and manager.running(state):
            for key in esc.ready_keys(net.eps, tracker_on(config)):
                c, etcd, events, failed = esc.reconcile_memo(net.eps, state.kcm.informers[POD_INFORMER].cache,
                                                             state.etcd, state.ghost, key)
                yield A.Reconcile(esc.ACTOR, key, failed, events), _settled(
                    state._with(etcd=etcd, net=attrs.evolve(net, eps=c)), config)
        if net.writes or net.allocating:
            yield from race_steps(state, config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        out: set[str] = set()
        net = state.net
        if net.eps is not None and manager.running(state) and next(esc.ready_keys(net.eps, tracker_on(config)),
                                                                   None) is not None:
            out.add(esc.ACTOR)
        if net.writes:
            out.add(WRITER)
        if any(not r and ip not in _held(state) for _, ip, r in net.allocating):
            out.add(REPAIR)
        return out

    def busy(self, state: ClusterState, config: Config) -> bool:
        return bool(self.enabled(state, config))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        return state._with(net=kcm_restarted(state.net, state.etcd, revision))

    def stopped(self, state: ClusterState) -> ClusterState:
        """While no kube-controller-manager replica acts (``spec.controllers.manager.Hosted``): the EndpointSlice
        controller's informers empty, its queue and tracker empty (the API server's allocations are not its)."""
        net = state.net
        if net.eps is None:
            return state
        return state._with(net=attrs.evolve(net, eps=attrs.evolve(
            net.eps, informers=tuple(informer.fresh(None) for _ in net.eps.informers), queue=(), tracker=())))

    def watcher(self, state: ClusterState, index: int) -> str:
        return esc.ACTOR

    def handle(self, state: ClusterState, index: int, deltas: Iterable[tuple[Key, Object | None, Object | None]]
               ) -> ClusterState:
        return state._with(net=handle(state.net, "eps", index, tuple(deltas)))


class KubeProxyComponent(Base):
    """kube-proxy on every node (``spec.kubeproxy``): rules syncs, and under ``proxy-missed-update`` deliveries
    whose handler panics. Each runs as the node's kube-proxy process; its restart (``restart``, the fault
    ``kubeProxyRestarts``) keeps the rules and relists (``spec.kubeproxy.restarted``)."""

    name = "kube-proxy"
    slot = "proxy"
    host = Host.KUBE_PROXY

    def actors(self, config: Config) -> tuple[str, ...]:
        return tuple(kubeproxy.actor(n) for n in nodes_of(config)) if enabled_for(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def steps(self, state: ClusterState, config: Config) -> Iterator[tuple[A.Action, ClusterState]]:
        net = state.net
        nodes = nodes_of(config)
        for i, p in enumerate(net.proxies):
            if kubeproxy.needs_sync(p, nodes):
                ps = list(net.proxies)
                ps[i] = kubeproxy.sync(p, nodes)
                yield A.Reconcile(kubeproxy.actor(p.node), "iptables-restore (syncProxyRules)"), state._with(
                    net=attrs.evolve(net, proxies=tuple(ps)))
            if p.known is not None and not p.informer.expired \
                    and (i_ev := informer.next_event(p.informer, state.etcd)) is not None:
                event = state.etcd.history[i_ev]
                inf, key, _, _ = informer.deliver(p.informer, state.etcd, ("proxy", p.node))
                ps = list(net.proxies)
                ps[i] = attrs.evolve(p, informer=inf)  # the handler panicked: ``known`` keeps the old object
                yield A.Deliver(kubeproxy.actor(p.node), f"{event.type} (handler panicked, update lost)", key,
                                event.rv), _settled(state._with(net=attrs.evolve(net, proxies=tuple(ps))), config)

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        nodes = nodes_of(config)
        return {kubeproxy.actor(p.node) for p in state.net.proxies if kubeproxy.needs_sync(p, nodes) or (
            p.known is not None and not p.informer.expired
            and informer.next_event(p.informer, state.etcd) is not None)}

    def busy(self, state: ClusterState, config: Config) -> bool:
        return bool(self.enabled(state, config))

    def restart(self, state: ClusterState, config: Config, process: Process, revision: int) -> ClusterState:
        net = state.net
        proxies = tuple(kubeproxy.restarted(p, state.etcd, revision) if p.node == process.node else p
                        for p in net.proxies)
        return state._with(net=attrs.evolve(net, proxies=proxies))

    def watcher(self, state: ClusterState, index: int) -> str:
        return kubeproxy.actor(state.net.proxies[index].node)

    def handle(self, state: ClusterState, index: int, deltas: Iterable[tuple[Key, Object | None, Object | None]]
               ) -> ClusterState:
        return state._with(net=handle(state.net, "proxy", index, tuple(deltas)))


class CoreDNSComponent(Base):
    """CoreDNS (``spec.dns``): its informer's deliveries only (it answers from its cache). No fault restarts it
    (a restart would relist into the same cache: nothing lost)."""

    name = dns_.ACTOR
    slot = "dns"
    host = Host.COREDNS

    def actors(self, config: Config) -> tuple[str, ...]:
        return (dns_.ACTOR,) if enabled_for(config) else ()

    def fair_actors(self, config: Config) -> tuple[str, ...]:
        return self.actors(config)

    def watcher(self, state: ClusterState, index: int) -> str:
        return dns_.ACTOR

    def handle(self, state: ClusterState, index: int, deltas: Iterable[tuple[Key, Object | None, Object | None]]
               ) -> ClusterState:
        return state


ENDPOINTSLICES = EndpointSliceComponent()
KUBE_PROXY = KubeProxyComponent()
COREDNS = CoreDNSComponent()
