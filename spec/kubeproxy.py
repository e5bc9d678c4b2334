"""kube-proxy on each node as a component: its informer on Services and EndpointSlices, a sync step that writes
the node's iptables rules from what its caches hold, and where a packet to a Service goes given the rules the
node has now.

Models (upstream):

- cmd/kube-proxy/app/server.go and pkg/proxy/config/config.go: the Service and EndpointSlice handlers feed the
  proxier's change trackers (pkg/proxy/servicechangetracker.go, endpointschangetracker.go); pkg/proxy/iptables/
  proxier.go syncProxyRules (run by the BoundedFrequencyRunner after changes) writes the whole ruleset from the
  trackers' maps with iptables-restore. Its rules are ``spec.proxy.iptables.sync_proxy_rules`` of the Services
  and slices the informer holds (converted by ``spec.services``), so they lag behind etcd twice: the informer's
  delivery, then the sync. A sync is a step, enabled whenever the rules its caches give differ from the
  installed ones; the rules are computed once per distinct input (memoised).
- Where traffic goes: for each Service port with a ClusterIP, the packet a pod on the node sends to
  ClusterIP:port is followed through the node's nat and filter tables with ``spec.proxy.symbolic.Explorer``
  (the same evaluator ``kubespec proxy verify`` proves with), each path checked feasible with z3: the set of
  endpoints "ip:port" it may be DNATed to, or "reject" / "drop". Computed once per distinct rule set.
- The ``proxy-missed-update`` variant (kubernetes#28674): a handler panics on an update, the panic is caught
  (runtime.HandleCrash) and the proxier never sees that change; with no resync from the API server its rules
  stay wrong until another change to the same object. Modelled by the proxier keeping its own copy of what the
  handlers gave it (``KubeProxy.known``), which a delivery may fail to update.

Abstracts: one informer for both resources (upstream has two watches; the order between a Service's events and
its slices' events is kept here, which loses only behaviours where kube-proxy sees a slice before its Service,
that it ignores until the Service arrives anyway). The node's addresses (``node_ip``) are not in the model's
Node objects: node i has 172.18.0.(i+2), as kind's nodes do; only NodePort frontends use them. minSyncPeriod
(1 s) and the periodic full resync (--iptables-sync-period 30 s) are abstracted by the sync step being enabled
whenever the rules are out of date (a periodic sync that finds nothing to change is a stutter).
- A restart (``restarted``; the fault ``spec.faults`` ``kubeProxyRestarts``, one step per restart): the rules
  stay, the informer relists and the proxier's maps start from that list. It matters under consistency "stale"
  (the first list may come from a cache that is behind, kubernetes#59848: the rules may go back to an older
  Service or endpoint set) and under ``proxy-missed-update`` (the restart heals the lost update).
Omits: IPVS and nftables modes (nftables mode flushes its table on start-up; not modelled), conntrack cleanup,
healthz.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import immutables
import z3

from spec import informer
from spec.nodeipam import CLUSTER_CIDR
from spec.proxy.iptables import render, sync_proxy_rules
from spec.proxy.model import Cluster, ProxierOptions
from spec.proxy.parse import parse_dump
from spec.proxy.symbolic import OUTPUT, PREROUTING, Explorer, Net, Pins, State
from spec.proxy.verify import local_networks
from spec.services import proxy_service, proxy_slice
from spec.state import EndpointSlice, Etcd, Informer, Key, KubeProxy, Object, Service

ACTOR_PREFIX = "kube-proxy/"


def actor(node: str) -> str:
    return ACTOR_PREFIX + node


def node_ip(nodes: tuple[str, ...], node: str) -> str:
    """The node's InternalIP (see the module docstring)."""
    return f"172.18.0.{sorted(nodes).index(node) + 2}"


def view(p: KubeProxy) -> immutables.Map[Key, Object]:
    """What the proxier works from: its informer's cache, or under ``proxy-missed-update`` its own copy."""
    return p.known if p.known is not None else p.informer.cache


def proxy_input(objects: Iterable[Object]) -> tuple[frozenset[Service], frozenset[EndpointSlice]]:
    services = frozenset(o for o in objects if isinstance(o, Service))
    slices = frozenset(o for o in objects if isinstance(o, EndpointSlice))
    return services, slices


@functools.lru_cache(maxsize=4096)
def _rules(services: frozenset[Service], slices: frozenset[EndpointSlice], node: str, ip: str) -> tuple[str, ...]:
    cluster = Cluster(
        services=tuple(sorted((proxy_service(s) for s in services), key=lambda s: (s.namespace, s.name))),
        slices=tuple(sorted((proxy_slice(s) for s in slices), key=lambda s: (s.namespace, s.name))))
    opts = ProxierOptions(node_name=node, node_ips=(ip,), cluster_cidr=CLUSTER_CIDR)
    text = render(sync_proxy_rules(cluster, opts))
    return _interned(tuple(text.splitlines()))


@functools.lru_cache(maxsize=4096)
def _interned(lines: tuple[str, ...]) -> tuple[str, ...]:
    return lines


def rules_for(p: KubeProxy, nodes: tuple[str, ...]) -> tuple[str, ...]:
    """The ruleset a sync would write now (syncProxyRules over the proxier's view)."""
    services, slices = proxy_input(view(p).values())
    return _rules(services, slices, p.node, node_ip(nodes, p.node))


def needs_sync(p: KubeProxy, nodes: tuple[str, ...]) -> bool:
    return p.rules != rules_for(p, nodes)


def sync(p: KubeProxy, nodes: tuple[str, ...]) -> KubeProxy:
    return KubeProxy(p.node, p.informer, rules_for(p, nodes), True, p.known)


def restarted(p: KubeProxy, etcd: Etcd, revision: int) -> KubeProxy:
    """kube-proxy after a restart (cmd/kube-proxy/app/server.go: a new ProxyServer, new informers, a new
    Proxier): the installed rules stay in the kernel (in iptables mode nothing flushes them: CleanupLeftovers runs
    only for the other modes and for --cleanup), the informer lists afresh at ``revision`` (the ghost high-water
    mark carries over), and the new proxier's change trackers start from that list, so what a panicking handler
    lost (``known``) is known again. Its first sync waits for both informers' initial lists (proxier.go
    syncProxyRules: ``isInitialized``), which here is the relist itself; it is a full sync (``needFullSync``), the
    model's only kind, and happens when the rules the list gives differ from the installed ones."""
    fresh = Informer(rv=0, cache=immutables.Map(), high_water=p.informer.high_water)
    inf, _ = informer.relist(fresh, etcd, ("proxy", p.node), revision)
    return KubeProxy(p.node, inf, p.rules, False, None if p.known is None else inf.cache)


Frontend = tuple[str, int, str]
"""(ClusterIP, port, protocol)."""


@functools.lru_cache(maxsize=4096)
def routes(rules: tuple[str, ...], node: str, ip: str) -> immutables.Map[Frontend, frozenset[str]]:
    """Where a pod's packet to each ClusterIP frontend the rules know goes: the endpoints ("ip:port") it may be
    DNATed to and accepted, and "reject" or "drop" for paths that end so (a frontend the rules do not name is
    absent: the packet is routed to the ClusterIP itself, which nothing answers)."""
    if not rules:
        return immutables.Map()
    dump = parse_dump("\n".join(rules) + "\n", f"kube-proxy/{node}")
    opts = ProxierOptions(node_name=node, node_ips=(ip,), cluster_cidr=CLUSTER_CIDR)
    explorer = Explorer(dump, local_networks(opts))
    solver = z3.Solver()
    pod_src = explorer.pkt.in_net(explorer.pkt.src, Net(CLUSTER_CIDR))
    out: dict[Frontend, frozenset[str]] = {}
    for frontend in _frontends(rules):
        dst, port, proto = frontend
        start = State(pins=Pins(dst=Net(f"{dst}/32"), dport=port, proto=proto.lower()))
        found: set[str] = set()
        for r in explorer.paths(PREROUTING, start) + explorer.paths(OUTPUT, start):
            if r.hook != PREROUTING:
                continue  # a pod's packet enters through PREROUTING
            solver.push()
            solver.add(explorer.path_expr(r), pod_src)
            feasible = solver.check() == z3.sat
            solver.pop()
            if not feasible:
                continue
            if r.state.dnat is not None and r.verdict == "accept":
                found.add(f"{r.state.dnat[0]}:{r.state.dnat[1]}")
            elif r.verdict in ("reject", "drop"):
                found.add(r.verdict)
        explorer.forget()
        out[frontend] = frozenset(found)
    return immutables.Map(out)


def _frontends(rules: tuple[str, ...]) -> list[Frontend]:
    """The ClusterIP frontends named by the KUBE-SERVICES rules ("-d IP/32 -p PROTO ... --dport PORT")."""
    out = []
    for line in rules:
        if not line.startswith("-A KUBE-SERVICES ") or " -d " not in line or "--dport" not in line:
            continue
        words = line.split()
        dst = words[words.index("-d") + 1].split("/")[0]
        proto = words[words.index("-p") + 1].upper()
        port = int(words[words.index("--dport") + 1])
        if (dst, port, proto) not in out:
            out.append((dst, port, proto))
    return out


def node_routes(p: KubeProxy, nodes: tuple[str, ...]) -> immutables.Map[Frontend, frozenset[str]]:
    """``routes`` of the rules the node has now."""
    return routes(p.rules, p.node, node_ip(nodes, p.node))
