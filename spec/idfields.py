"""Which fields of the state hold uids, revisions or node names: each such field says so once, in its attrs
metadata (``attrs.field(metadata=holds(...))``), and the reduction layer rewrites them generically
(``spec.reduction.fields``).

The model compares uids and resourceVersions only for equality and order, and treats interchangeable nodes
alike, so the reduction layer renumbers the ones and renames the others (``spec.reduction.canonical``). That is
sound only if every field holding one is rewritten: a field added to a component or an object kind and left out
would merge different states silently. Declaring the field where it is defined, rather than in a list kept
elsewhere, keeps the declaration next to the code that fills it; tests/spec/test_spec_reduction_fields.py walks
reachable states and fails, naming the class and the field, when a uid, a revision or a node name sits in a field
that is not declared.

A field's *shape* says where in its value the ids are:

- a kind, for a plain value: ``UID`` (a uid; a Node's is numbered by its name), ``REVISION`` (a revision the
  watch protocol orders: etcd's, a compaction point, an event's, an informer's position or high-water mark),
  ``VERSION`` (an object's resourceVersion), ``NEXT_UID`` (the uid counter), ``NODE`` (a node name), ``KEY``
  (an object key, ``nodes/NAME`` for a node), ``NAME`` (an object's name: a node name when the object is a
  Node), ``LABELS`` (label pairs: the ``kubernetes.io/hostname`` label's value is a node name);
- ``("tuple", s1, s2, ...)``: a tuple of fixed length, each element of its shape;
- ``("seq", s)``: a tuple, list or frozenset of elements of shape ``s``;
- ``("set", s)``: a tuple kept sorted (a set, for the model), of elements of shape ``s``: sorted again once
  rewritten;
- ``("by", field, s)``: a tuple of attrs instances (shape ``s``) kept sorted by their ``field``: sorted again
  once rewritten (the kubelets by node);
- ``("map", k, v)``: an ``immutables.Map`` (or dict) with keys of shape ``k`` and values of shape ``v``;
- ``OBJ``: attrs instances (or None), described by their own classes' declarations;
- ``None``: nothing.

A container may be None (an optional field). Fields that hold attrs instances (``Pod.meta``, ``Etcd.objects``'
values) need no declaration: the reduction
layer follows the field's type to the classes that declare something.

Upstream: what a uid is (metadata.uid, a UUID compared for equality; ownerReferences[].uid), what a
resourceVersion is (an opaque string that clients compare only for equality, which the watch cache orders:
staging/src/k8s.io/apiserver/pkg/storage/cacher/watch_cache.go), and spec.nodeName / the kubernetes.io/hostname
label (staging/src/k8s.io/api/core/v1/well_known_labels.go).
"""

from __future__ import annotations

from typing import Any

METADATA_KEY = "kubespec"
"""The attrs metadata key under which a field's shape is declared."""

UID = "uid"
REVISION = "revision"
VERSION = "version"
NEXT_UID = "next-uid"
NODE = "node"
KEY = "key"
NAME = "name"
LABELS = "labels"
OBJ = "obj"
"""Not a kind: where a declared shape holds attrs instances, which their own classes' declarations describe."""
KINDS = frozenset({UID, REVISION, VERSION, NEXT_UID, NODE, KEY, NAME, LABELS})

Shape = Any
"""A kind, ``("tuple", ...)``, ``("seq", s)``, ``("map", k, v)`` or None (see the module's docstring)."""


def holds(shape: Shape) -> dict[str, Shape]:
    """The attrs metadata declaring that a field holds uids, revisions or node names, where ``shape`` says (see
    the module's docstring). Example: ``uid: int = attrs.field(default=0, metadata=holds(UID))``."""
    return {METADATA_KEY: shape}
