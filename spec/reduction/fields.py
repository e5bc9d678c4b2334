"""Where a state holds node names: the fields node symmetry must rename, declared once, and a generic walk that
finds every string in a state so that a test can tell when a new field is missing here.

Node symmetry (``canonical.rename_nodes``) is sound only if it renames every node name the state holds; a field
added to a component that holds one and is not renamed would make two different states one, silently. The test
tests/spec/test_spec_reduction_fields.py walks reachable states of generated scenarios (every fault kind, every
kubectl command, 1-3 nodes) and of every built-in scenario, and fails, naming the class and the field, when a node
name sits anywhere but in a field declared here; it also checks that renaming permutes every occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import immutables

NODE_NAME_FIELDS: frozenset[tuple[str, str]] = frozenset({
    # (class name, field name): the field's value holds node names, whole or in a key like "nodes/NAME"
    ("Etcd", "objects"),            # keys "nodes/NAME"
    ("WatchEvent", "key"),          # "nodes/NAME"
    ("Informer", "cache"),          # keys "nodes/NAME" (the scheduler's informer watches nodes)
    ("Meta", "name"),               # a Node's name
    ("Meta", "labels"),             # kubernetes.io/hostname
    ("NodeInfo", "name"),
    ("NodeInfo", "labels"),         # kubernetes.io/hostname
    ("PodInfo", "node_name"),       # spec.nodeName
    ("Scheduler", "assumed"),       # pod -> (uid, node)
    ("Scheduler", "binding"),       # (pod, uid, node)
    ("Kubelet", "node"),
    ("NodeLifecycle", "grace"),     # (node, ms): the node lifecycle controller's grace timers
    ("PodGC", "quarantine"),        # (node, ms): the pod garbage collector's quarantine of missing nodes
    ("Drain", "node"),              # the node a `kubectl drain` under way drains
    ("Network", "pod_cidrs"),       # (node, podCIDR): the node IPAM controller's allocations
    ("KubeProxy", "node"),
    ("KubeProxy", "known"),         # under proxy-missed-update: slices, whose endpoints name nodes
    ("SliceEndpoint", "node_name"),  # an EndpointSlice endpoint's nodeName
})
"""Every field that may hold a node name, by class and field name."""


def strings(obj: Any, owner: tuple[str, str] = ("", "")) -> Iterator[tuple[tuple[str, str], str]]:
    """Every string reachable from ``obj``, with the (class, field) of the nearest attrs instance that holds it
    (through tuples, frozensets, lists, dicts and ``immutables.Map`` keys and values). An object reached twice
    (shared by two parts of the state) is walked twice: counts do not depend on sharing."""
    stack: list[tuple[tuple[str, str], Any]] = [(owner, obj)]
    while stack:
        where, o = stack.pop()
        if isinstance(o, str):
            yield where, o
            continue
        if o is None or isinstance(o, bool | int | float):
            continue
        if attrs.has(type(o)):
            name = type(o).__name__
            for a in attrs.fields(type(o)):
                stack.append(((name, a.name), getattr(o, a.name)))
        elif isinstance(o, immutables.Map | dict):
            for k, v in o.items():
                stack.append((where, k))
                stack.append((where, v))
        elif isinstance(o, tuple | list | frozenset | set):
            stack.extend((where, x) for x in o)
