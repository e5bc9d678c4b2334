"""kube-proxy: the rules its iptables and IPVS modes install, and a z3 proof that they route correctly.

Upstream: pkg/proxy (iptables/proxier.go, ipvs/proxier.go, topology.go, endpointslicecache.go, serviceport.go).
"""
