"""CoreDNS's kubernetes plugin as a component: its own informer on Services and EndpointSlices, and the A records
it answers from that cache.

Models (upstream coredns/coredns plugin/kubernetes: controller.go (dnsControl: informers on Services and
EndpointSlices, a cache of each), kubernetes.go Records / findServices): ``NAME.NAMESPACE.svc.cluster.local``
answers the Service's ClusterIP; for a headless Service, the addresses of the ready endpoints of its slices
(``endpoint.Conditions.Ready``, unless the Service publishes not-ready addresses); a name no cached Service has
is NXDOMAIN (the empty set here). CoreDNS answers from its cache, so its answers lag etcd by its informer's
deliveries; there is no sync step of its own.
Abstracts: one informer for both resources (see ``spec.kubeproxy``); the cluster domain is ``cluster.local``.
Omits: SRV and PTR records, pod records, ExternalName CNAMEs, caching of answers (the cache plugin's TTL), the
ready plugin, several CoreDNS replicas (each would be one more informer with its own lag).
"""

from __future__ import annotations

from collections.abc import Mapping

from spec import endpointslice as eps
from spec.services import CLUSTER_DOMAIN
from spec.state import EndpointSlice, Key, Object, Service

ACTOR = "coredns"


def name_of(svc: Service) -> str:
    return f"{svc.meta.name}.{svc.meta.namespace}.svc.{CLUSTER_DOMAIN}"


def lookup(cache: Mapping[Key, Object], name: str) -> frozenset[str]:
    """The A records for ``name`` (``NAME.NAMESPACE.svc.cluster.local``) from a cache of Services and slices."""
    parts = name.split(".")
    if len(parts) < 3 or parts[2] != "svc":
        return frozenset()
    svc = cache.get(f"services/{parts[1]}/{parts[0]}")
    if not isinstance(svc, Service):
        return frozenset()
    return records(cache, svc)


def records(cache: Mapping[Key, Object], svc: Service) -> frozenset[str]:
    if not svc.headless:
        return frozenset((svc.cluster_ip,)) if svc.cluster_ip else frozenset()
    out: set[str] = set()
    for o in cache.values():
        if isinstance(o, EndpointSlice) and o.meta.namespace == svc.meta.namespace \
                and o.meta.label(eps.LABEL_SERVICE_NAME) == svc.meta.name:
            out.update(e.address for e in o.endpoints if e.ready or svc.publish_not_ready_addresses)
    return frozenset(out)
