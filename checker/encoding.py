"""Plain JSON views of states and actions, and stable fingerprints of a canonical encoding.

Both are independent of PYTHONHASHSEED: sets and maps are ordered by the canonical encoding of their members,
so the same state gives the same JSON and the same fingerprint in every process.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs


def to_json(value: Any) -> Any:
    """A JSON-able view: attrs instances and mappings become objects, tuples lists, sets sorted lists."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if attrs.has(type(value)):
        return {f.name: to_json(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        items = [(to_json(k), to_json(v)) for k, v in value.items()]
        if all(isinstance(k, str) for k, _ in items):
            return dict(sorted(items, key=lambda kv: kv[0]))
        return [[k, v] for k, v in sorted(items, key=lambda kv: _sort_key(kv[0]))]
    if isinstance(value, (frozenset, set)):
        return sorted((to_json(v) for v in value), key=_sort_key)
    if isinstance(value, (tuple, list)):
        return [to_json(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return repr(value)


def _sort_key(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"))


def canonical_bytes(value: Any) -> bytes:
    """A canonical byte encoding that tells types apart (the tuple (1,) is not the frozenset {1})."""
    return _encode(value).encode()


def _encode(value: Any) -> str:
    if value is None or isinstance(value, (bool, int, float, str)):
        return json.dumps(value) if not isinstance(value, bool) else ("T" if value else "F")
    if isinstance(value, enum.Enum):
        return f"E{type(value).__qualname__}.{value.name}"
    if attrs.has(type(value)):
        body = ",".join(_encode(getattr(value, f.name)) for f in attrs.fields(type(value)))
        return f"R{type(value).__qualname__}({body})"
    if isinstance(value, Mapping):
        return "M{" + ",".join(sorted(f"{_encode(k)}:{_encode(v)}" for k, v in value.items())) + "}"
    if isinstance(value, (frozenset, set)):
        return "S{" + ",".join(sorted(_encode(v) for v in value)) + "}"
    if isinstance(value, (tuple, list)):
        return "L[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, bytes):
        return "B" + value.hex()
    raise TypeError(f"cannot encode a {type(value).__name__} canonically: use attrs classes, tuples, sets, maps")


def fingerprint(value: Any) -> str:
    """A stable 64-bit fingerprint (16 hex digits) of the canonical encoding."""
    return hashlib.blake2b(canonical_bytes(value), digest_size=8).hexdigest()
