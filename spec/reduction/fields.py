"""Where a state holds uids, revisions and node names, read once from the fields' declarations
(``spec.idfields``), and generic rewriters and collectors compiled from them, one per class and purpose.

Renumbering (``canonical``: uids and revisions) and node symmetry (``canonical``: node names) are sound only if
they rewrite every field that holds one. Each such field declares its *shape* in its attrs metadata
(``spec.idfields.ids``); a field that holds attrs instances is followed through its type (``Etcd.objects`` holds
``Object``s, whose ``meta`` is a ``Meta``, which declares ``uid``), so an object kind or a component added with a
``Meta`` or a declared field is rewritten without a line here. ``rewriter(cls, purpose)`` compiles, once per class,
a function that visits only the fields that can hold what the purpose rewrites (the others are not even read),
and returns the object itself when nothing changed, so that unchanged parts stay shared and compare by identity.

tests/spec/test_spec_reduction_fields.py walks reachable states of generated scenarios (every fault kind, every
kubectl command, 1-3 nodes) and of every built-in scenario, and fails, naming the class and the field, when a node
name, a uid or a revision sits in a field that does not declare it; it also checks that renaming and renumbering
reach every occurrence.
"""

from __future__ import annotations

import functools
import operator
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import immutables

from spec.idfields import (
    KEY,
    KINDS,
    LABELS,
    METADATA_KEY,
    NAME,
    NEXT_UID,
    NODE,
    OBJ,
    REVISION,
    UID,
    VERSION,
    Shape,
)
from spec.scheduling.types import HOSTNAME_LABEL
from spec.state import RESOURCE, key_of

IDS = frozenset({UID, REVISION, VERSION, NEXT_UID})
"""What renumbering rewrites."""
NODES = frozenset({NODE, KEY, NAME, LABELS})
"""What node symmetry rewrites."""


# --- shapes --------------------------------------------------------------------------------------------------


def _type_shape(tp: Any) -> Shape:
    """The shape a field's type implies: where attrs instances sit in it (None: nowhere)."""
    if isinstance(tp, type) and attrs.has(tp):
        return OBJ
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        shapes_ = {_type_shape(a) for a in args if a is not type(None)} - {None}
        if len(shapes_) == 1 and OBJ not in shapes_:
            return shapes_.pop()  # an optional container (None is left as it is)
        return OBJ if shapes_ else None
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            inner = _type_shape(args[0])
            return None if inner is None else ("seq", inner)
        parts = tuple(_type_shape(a) for a in args)
        return None if all(p is None for p in parts) else ("tuple", *parts)
    if origin in (frozenset, set, list):
        inner = _type_shape(args[0]) if args else None
        return None if inner is None else ("seq", inner)
    if origin in (immutables.Map, dict):
        k, v = (_type_shape(a) for a in args) if len(args) == 2 else (None, None)
        return None if k is None and v is None else ("map", k, v)
    return None


@functools.cache
def shapes(cls: type) -> dict[str, Shape]:
    """Each field of ``cls`` that may hold a uid, a revision, a node name or an attrs instance, with its shape:
    declared (``spec.idfields``) or implied by the field's type."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Shape] = {}
    for a in attrs.fields(cls):
        shape = a.metadata[METADATA_KEY] if METADATA_KEY in a.metadata else _type_shape(hints.get(a.name))
        if shape is not None:
            out[a.name] = shape
    return out


def declared(cls: type) -> dict[str, Shape]:
    """The fields of ``cls`` that declare a shape (``spec.idfields.ids``)."""
    return {a.name: a.metadata[METADATA_KEY] for a in attrs.fields(cls) if METADATA_KEY in a.metadata}


def _kinds_of(shape: Shape) -> Iterator[str]:
    if isinstance(shape, str):
        yield shape
    elif isinstance(shape, tuple):
        for s in shape[2:] if shape[0] == "by" else shape[1:]:
            yield from _kinds_of(s)


@functools.cache
def _reaches(cls: type, kinds: frozenset[str], keep: frozenset[type] = frozenset()) -> bool:
    """Whether an instance of ``cls`` may hold, at any depth and outside instances of ``keep``, a value of one
    of ``kinds``."""
    return _reaches_from(cls, kinds, keep)


def _reaches_from(cls: type, kinds: frozenset[str], seen: frozenset[type]) -> bool:
    if cls in seen:
        return False
    seen = seen | {cls}
    hints = typing.get_type_hints(cls)
    for name, shape in shapes(cls).items():
        found = set(_kinds_of(shape))
        if found & kinds:
            return True
        if OBJ in found and any(_reaches_from(c, kinds, seen) for c in _classes(hints.get(name))):
            return True
    return False


def _classes(tp: Any) -> Iterator[type]:
    """The attrs classes a type mentions (through unions, tuples, sets and maps)."""
    if isinstance(tp, type) and attrs.has(tp):
        yield tp
    for a in typing.get_args(tp):
        if a is not Ellipsis:
            yield from _classes(a)


def object_key(o: Any) -> str | None:
    """The key of an API object (None for anything else): the context of a resourceVersion or a name found
    outside a keyed map."""
    meta = getattr(o, "meta", None)
    resource = RESOURCE.get(type(o))
    if meta is None or resource is None:
        return None
    return key_of(resource, meta.namespace, meta.name)


# --- rewriting -----------------------------------------------------------------------------------------------


@attrs.define
class Rewrite:
    """One rewrite of a state's ids or node names (every map old -> new, identities left out)."""

    uids: dict[int, int] = attrs.field(factory=dict)
    revisions: dict[int, int] = attrs.field(factory=dict)
    versions: dict[tuple[str, int], int] = attrs.field(factory=dict)
    """Object resourceVersions by (key, version), before ``revisions`` (settled versions)."""
    next_uid: int | None = None
    nodes: dict[str, str] = attrs.field(factory=dict)
    keep: frozenset[type] = frozenset()
    """Classes left as they are (parts the caller rewrites otherwise)."""
    memo: dict[int, tuple[Any, Any]] = attrs.field(factory=dict)
    """id(API object) -> (object, its rewrite), for objects shared within one state (etcd's and its history's):
    each is rewritten once, and stays shared."""


_Fn = Callable[[Any, Rewrite, "str | None"], Any]


def _version(v: int, rw: Rewrite, key: str | None) -> int:
    """What ``rw`` makes of the resourceVersion ``v`` of the object held under ``key`` (a settled version's
    number by (key, version), else the revision's)."""
    if rw.versions and key is not None:
        settled = rw.versions.get((key, v))
        if settled is not None:
            return settled
    return rw.revisions.get(v, v)


version_image = _version


def _renamed_key(k: str, rw: Rewrite, key: str | None) -> str:
    if k.startswith("nodes/"):
        n = k[6:]
        return "nodes/" + rw.nodes.get(n, n)
    return k


def _labels(v: tuple[tuple[str, str], ...], rw: Rewrite, key: str | None) -> tuple[tuple[str, str], ...]:
    if not any(k == HOSTNAME_LABEL and val in rw.nodes for k, val in v):
        return v
    return tuple((k, rw.nodes.get(val, val) if k == HOSTNAME_LABEL else val) for k, val in v)


_LEAVES = {
    UID: "rw.uids.get({v}, {v})",
    REVISION: "rw.revisions.get({v}, {v})",
    VERSION: "_version({v}, rw, {key})",
    NEXT_UID: "({v} if rw.next_uid is None else rw.next_uid)",
    NODE: "rw.nodes.get({v}, {v})",
    KEY: "_renamed_key({v}, rw, {key})",
    NAME: "(rw.nodes.get({v}, {v}) if {key} is not None and {key}.startswith('nodes/') else {v})",
    LABELS: "_labels({v}, rw, {key})",
}
"""Each kind's rewrite, as an expression of the value ``{v}`` and the holding object's key ``{key}``."""
_HELPERS = {"_version": _version, "_renamed_key": _renamed_key, "_labels": _labels}


def _dispatcher(purpose: frozenset[str], keep: frozenset[type]) -> _Fn:
    """Rewrite an attrs instance (or None) of a class known only at run time."""
    def obj(v: Any, rw: Rewrite, key: str | None) -> Any:
        if v is None:
            return None
        fn = rewriter(type(v), purpose, keep)
        return v if fn is None else fn(v, rw, key)
    return obj


def _leaf_fn(kind: str) -> _Fn:
    env: dict[str, Any] = dict(_HELPERS)
    exec(f"def leaf(v, rw, key):\n    return {_LEAVES[kind].format(v='v', key='key')}", env)  # noqa: S102
    fn: _Fn = env["leaf"]
    return fn


def _compile(shape: Shape, purpose: frozenset[str], types_: tuple[type, ...], keep: frozenset[type]) -> _Fn | None:
    """A function rewriting a value of ``shape`` (None: nothing in it to rewrite for ``purpose``). ``types_``:
    the attrs classes the value's type mentions, for OBJ parts."""
    if shape is None:
        return None
    if shape == OBJ:
        targets = [c for c in types_ if _reaches(c, purpose, keep)]
        if not targets:
            return None
        if len(targets) == 1 and len(types_) == 1:
            target = rewriter(targets[0], purpose, keep)
            if target is None:
                return None
            return lambda v, rw, key: v if v is None else target(v, rw, key)
        return _dispatcher(purpose, keep)
    if isinstance(shape, str):
        if shape not in KINDS:
            raise ValueError(f"unknown id kind {shape!r}")
        return _leaf_fn(shape) if shape in purpose else None
    tag = shape[0]
    if tag in ("seq", "set", "by"):
        inner = _compile(shape[2] if tag == "by" else shape[1], purpose, types_, keep)
        if inner is None:
            return None
        order = operator.attrgetter(shape[1]) if tag == "by" else None

        def seq(v: Any, rw: Rewrite, key: str | None) -> Any:
            if v is None:
                return None
            out = [inner(x, rw, key) for x in v]
            for a, b in zip(out, v, strict=True):
                if a is not b:
                    if tag == "seq":
                        return type(v)(out)
                    return tuple(sorted(out, key=order)) if order is not None else tuple(sorted(out))
            return v
        return seq
    if tag == "tuple":
        parts = [_compile(s, purpose, types_, keep) for s in shape[1:]]
        if all(p is None for p in parts):
            return None
        key_at = next((i for i, s in enumerate(shape[1:]) if s == KEY), None)

        def tup(v: tuple[Any, ...], rw: Rewrite, key: str | None) -> tuple[Any, ...]:
            if v is None:
                return None
            k = v[key_at] if key_at is not None else key
            out = tuple(x if p is None else p(x, rw, k) for p, x in zip(parts, v, strict=True))
            return v if all(a is b for a, b in zip(out, v, strict=True)) else out
        return tup
    if tag == "map":
        kf, vf = _compile(shape[1], purpose, types_, keep), _compile(shape[2], purpose, types_, keep)
        if kf is None and vf is None:
            return None
        keyed = shape[1] == KEY

        def mapping(v: Any, rw: Rewrite, key: str | None) -> Any:
            if v is None:
                return None
            changes = []
            for k, x in v.items():
                nk = k if kf is None else kf(k, rw, key)
                nx = x if vf is None else vf(x, rw, k if keyed else key)
                if nk is not k or nx is not x:
                    changes.append((k, nk, nx))
            if not changes:
                return v
            if all(k is nk for k, nk, _ in changes) and isinstance(v, immutables.Map):
                mut = v.mutate()
                for k, _, nx in changes:
                    mut[k] = nx
                return mut.finish()
            items = dict(v.items())
            for k, _, _ in changes:
                del items[k]
            for _, nk, nx in changes:
                items[nk] = nx
            return type(v)(items)
        return mapping
    raise ValueError(f"unknown shape {shape!r}")


_rewriters: dict[tuple[type, frozenset[str], frozenset[type], frozenset[str]], _Fn | None] = {}
_compiling_rw: set[tuple[type, frozenset[str], frozenset[type], frozenset[str]]] = set()


def rewriter(cls: type, purpose: frozenset[str], keep: frozenset[type] = frozenset(),
             skip: frozenset[str] = frozenset()) -> _Fn | None:
    """The rewriter ``f(o, rw, key)`` of ``cls`` instances for ``purpose`` (``IDS`` or ``NODES``), leaving
    instances of ``keep`` and the fields ``skip`` of ``cls`` itself as they are; None when a ``cls`` instance
    holds nothing to rewrite. Compiled once per
    class: it reads only the fields that may hold what ``purpose`` rewrites, builds the object positionally (as
    attrs writes its own ``__init__``), and returns the instance itself when nothing changes."""
    k = (cls, purpose, keep, skip)
    try:
        return _rewriters[k]
    except KeyError:
        pass
    if k in _compiling_rw:  # a class that holds itself: look it up when called
        return lambda v, rw, key: _rewriters[k](v, rw, key)  # type: ignore[misc]
    _compiling_rw.add(k)
    try:
        fn = _rewriters[k] = _rewriter(cls, purpose, keep, skip)
    finally:
        _compiling_rw.discard(k)
    return fn


def _rewriter(cls: type, purpose: frozenset[str], keep: frozenset[type], skip: frozenset[str]) -> _Fn | None:
    if cls in keep or not _reaches(cls, purpose, keep):
        return None
    hints = typing.get_type_hints(cls)
    names = [a.name for a in attrs.fields(cls)]
    positional = all(a.init and a.alias == a.name for a in attrs.fields(cls))
    env: dict[str, Any] = {"cls": cls, "evolve": attrs.evolve, "object_key": object_key, **_HELPERS}
    lines = ["def rewrite(o, rw, key):"]
    api_object = cls in RESOURCE
    if api_object:
        lines += ["    if key is None:", "        key = object_key(o)",
                  "    hit = rw.memo.get(id(o))", "    if hit is not None and hit[0] is o:", "        return hit[1]"]
    fields_ = shapes(cls)
    key_field = next((n for n, sh in fields_.items() if sh == KEY), None)
    if key_field is not None:
        lines.append(f"    key = o.{key_field}")
    new: dict[str, str] = {}
    for i, (name, shape) in enumerate(fields_.items()):
        if name in skip:
            continue
        types_ = tuple(_classes(hints.get(name)))
        if isinstance(shape, str) and shape != OBJ:
            if shape not in KINDS:
                raise ValueError(f"unknown id kind {shape!r} ({cls.__name__}.{name})")
            if shape not in purpose:
                continue
            expr = _LEAVES[shape].format(v=f"v{i}", key="key")
        else:
            fn = _compile(shape, purpose, types_, keep)
            if fn is None:
                continue
            env[f"f{i}"] = fn
            expr = f"f{i}(v{i}, rw, key)"
        lines += [f"    v{i} = o.{name}", f"    n{i} = {expr}"]
        new[name] = f"n{i}"
    if not new:
        return None
    same = " and ".join(f"{n} is o.{name}" for name, n in new.items())
    if positional:
        build = f"cls({', '.join(new.get(n, f'o.{n}') for n in names)})"
    else:
        build = f"evolve(o, {', '.join(f'{n}={v}' for n, v in new.items())})"
    lines += [f"    out = o if {same} else {build}"]
    if api_object:
        lines.append("    rw.memo[id(o)] = (o, out)  # holding o: its id stays its own while the memo lives")
    lines.append("    return out")
    env["__source__"] = "\n".join(lines)
    exec(env["__source__"], env)  # noqa: S102 - generated from the class's own field declarations
    compiled: _Fn = env["rewrite"]
    return compiled


def rewrite(o: Any, rw: Rewrite, purpose: frozenset[str]) -> Any:
    """``o`` (any attrs instance: a state, a component, an object) rewritten by ``rw`` for ``purpose``, leaving
    instances of ``rw.keep`` as they are."""
    fn = rewriter(type(o), purpose, rw.keep)
    return o if fn is None else fn(o, rw, None)


# --- collecting ----------------------------------------------------------------------------------------------


_Collect = Callable[[Any, "str | None", list[tuple[str, Any, "str | None"]]], None]
_collectors: dict[tuple[type, frozenset[str], frozenset[type], frozenset[str]], _Collect | None] = {}


def collector(cls: type, kinds: frozenset[str], keep: frozenset[type] = frozenset(),
              skip: frozenset[str] = frozenset()) -> _Collect | None:
    """A function ``f(o, key, out)`` appending (kind, value, key) to ``out`` for every value of ``kinds`` that
    the ``cls`` instance ``o`` holds (``key``: the key of the API object holding it, where known), not descending
    into instances of ``keep`` nor into the fields ``skip`` of ``cls`` itself; None when a ``cls`` instance holds
    none. Compiled once per class: the fields that
    cannot hold any are not read, and the loops over containers are written out."""
    key = (cls, kinds, keep, skip)
    try:
        return _collectors[key]
    except KeyError:
        fn = _collectors[key] = _collector(cls, kinds, keep, skip)
        return fn


def _dispatch(kinds: frozenset[str], keep: frozenset[type]) -> _Collect:
    """Collect from an attrs instance (or None) of a class known only at run time."""
    def collect(v: Any, key: str | None, out: list[tuple[str, Any, str | None]]) -> None:
        if v is not None:
            fn = collector(type(v), kinds, keep)
            if fn is not None:
                fn(v, key, out)
    return collect


_compiling: set[tuple[type, frozenset[str], frozenset[type]]] = set()


def _collector(cls: type, kinds: frozenset[str], keep: frozenset[type], skip: frozenset[str]) -> _Collect | None:
    if cls in keep or not _reaches(cls, kinds, keep):
        return None
    _compiling.add((cls, kinds, keep))
    try:
        return _compile_collector(cls, kinds, keep, skip)
    finally:
        _compiling.discard((cls, kinds, keep))


def _compile_collector(cls: type, kinds: frozenset[str], keep: frozenset[type],
                       skip: frozenset[str]) -> _Collect | None:
    hints = typing.get_type_hints(cls)
    env: dict[str, Any] = {"object_key": object_key, "dispatch": _dispatch(kinds, keep)}
    lines = ["def collect(o, key, out):"]
    if cls in RESOURCE:
        lines.append("    if key is None:")
        lines.append("        key = object_key(o)")
    fields_ = shapes(cls)
    key_field = next((n for n, sh in fields_.items() if sh == KEY), None)
    if key_field is not None:
        lines.append(f"    key = o.{key_field}")
    counter = iter(range(1 << 30))

    def emit(shape: Shape, expr: str, key_expr: str, indent: str, types_: tuple[type, ...]) -> list[str]:
        if shape is None:
            return []
        if shape == OBJ:
            targets = [c for c in types_ if _reaches(c, kinds, keep)]
            if not targets:
                return []
            if len(targets) == 1 and len(types_) == 1:
                name = f"c{next(counter)}"
                target = targets[0]
                # Compiled now, unless it is being compiled (a class that holds itself): then on first call.
                fn = (_Lazy(target, kinds, keep) if (target, kinds, keep) in _compiling
                      else collector(target, kinds, keep))
                if fn is None:
                    return []
                env[name] = fn
                return [f"{indent}if {expr} is not None:", f"{indent}    {name}({expr}, {key_expr}, out)"]
            return [f"{indent}dispatch({expr}, {key_expr}, out)"]
        if isinstance(shape, str):
            if shape not in KINDS:
                raise ValueError(f"unknown id kind {shape!r}")
            return [f"{indent}out.append(({shape!r}, {expr}, {key_expr}))"] if shape in kinds else []
        tag = shape[0]
        n = next(counter)
        if tag in ("seq", "set", "by"):
            body = emit(shape[2] if tag == "by" else shape[1], f"x{n}", key_expr, indent + "    ", types_)
            return [f"{indent}for x{n} in {expr} or ():", *body] if body else []
        if tag == "tuple":
            key_at = next((i for i, sh in enumerate(shape[1:]) if sh == KEY), None)
            k = f"t{n}[{key_at}]" if key_at is not None else key_expr
            body = [line for i, sh in enumerate(shape[1:]) for line in emit(sh, f"t{n}[{i}]", k, indent, types_)]
            if not body:
                return []
            return [f"{indent}t{n} = {expr}", f"{indent}if t{n} is not None:", *("    " + b for b in body)]
        if tag == "map":
            kb = emit(shape[1], f"k{n}", key_expr, indent + "    ", types_)
            vb = emit(shape[2], f"v{n}", f"k{n}" if shape[1] == KEY else key_expr, indent + "    ", types_)
            if not kb and not vb:
                return []
            if not kb and shape[1] != KEY:
                return [f"{indent}for v{n} in ({expr} or {{}}).values():", *vb]
            return [f"{indent}for k{n}, v{n} in ({expr} or {{}}).items():", *kb, *vb]
        raise ValueError(f"unknown shape {shape!r}")

    body = []
    for name, shape in fields_.items():
        if name in skip:
            continue
        body += emit(shape, f"o.{name}", "key", "    ", tuple(_classes(hints.get(name))))
    if not body:
        return None
    lines += body
    env["__source__"] = "\n".join(lines)
    exec(env["__source__"], env)  # noqa: S102 - generated from the class's own field declarations
    compiled: _Collect = env["collect"]
    return compiled


class _Lazy:
    """The collector of a class, looked up on first call (classes may refer to each other)."""

    __slots__ = ("fn", "args")

    def __init__(self, cls: type, kinds: frozenset[str], keep: frozenset[type]) -> None:
        self.args = (cls, kinds, keep, frozenset[str]())
        self.fn: _Collect | None = None

    def __call__(self, v: Any, key: str | None, out: list[tuple[str, Any, str | None]]) -> None:
        fn = self.fn
        if fn is None:
            fn = self.fn = collector(*self.args)
        if fn is not None:
            fn(v, key, out)


def collect(o: Any, kinds: frozenset[str], keep: frozenset[type] = frozenset()) -> list[tuple[str, Any, str | None]]:
    """Every (kind, value, key) of ``kinds`` that ``o`` holds (see ``collector``)."""
    fn = collector(type(o), kinds, keep)
    out: list[tuple[str, Any, str | None]] = []
    if fn is not None:
        fn(o, object_key(o), out)
    return out


# --- what the fields test walks ------------------------------------------------------------------------------


def strings(obj: Any, owner: tuple[str, str] = ("", "")) -> Iterator[tuple[tuple[str, str], Any]]:
    """Every string and int reachable from ``obj``, with the (class, field) of the nearest attrs instance that
    holds it (through tuples, frozensets, lists, dicts and ``immutables.Map`` keys and values). An object reached
    twice (shared by two parts of the state) is walked twice: counts do not depend on sharing."""
    stack: list[tuple[tuple[str, str], Any]] = [(owner, obj)]
    while stack:
        where, o = stack.pop()
        if isinstance(o, str):
            yield where, o
            continue
        if o is None or isinstance(o, bool | float):
            continue
        if isinstance(o, int):
            yield where, o
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


def declares(cls_name: str, field: str, kinds: frozenset[str]) -> bool:
    """Whether the field ``cls_name.field`` of a state class declares one of ``kinds`` (a name: the state
    classes' names are unique)."""
    cls = _by_name().get(cls_name)
    if cls is None:
        return False
    shape = declared(cls).get(field)
    return shape is not None and bool(set(_kinds_of(shape)) & kinds)


@functools.cache
def _by_name() -> dict[str, type]:
    """Every attrs class reachable from ``ClusterState``'s field types, by name."""
    from spec.state import ClusterState

    out: dict[str, type] = {}
    todo: list[type] = [ClusterState]
    while todo:
        cls = todo.pop()
        if cls.__name__ in out:
            continue
        out[cls.__name__] = cls
        hints = typing.get_type_hints(cls)
        for a in attrs.fields(cls):
            todo.extend(_classes(hints.get(a.name)))
    return out


__all__ = ["IDS", "NODES", "OBJ", "Rewrite", "collect", "collector", "declared", "declares", "rewrite",
           "rewriter", "shapes", "strings"]
