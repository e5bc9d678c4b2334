"""What a trace shows by default (``trace show`` without ``--full``): what the actor did and what changed in the
API objects and in the actor, without bookkeeping.

Bookkeeping is a field of a view that counts rather than says: an object's ``resourceVersion``, an informer's
``rv`` (``informer rv``, ``pods rv``: a key named ``rv`` or ending in `` rv``), a store's ``revision``,
``compacted`` and ``history`` counters, ``high_water``. Such a change is shown only when it is the actor's own
(the informer that received the event). A step whose changes are all bookkeeping prints ``(nothing visible
changed)``; ``--full`` prints every change and the whole state. Whole top-level variables of a trace without a
view (``revision`` of a toy model) are never bookkeeping: the rule reads paths inside a view's objects only.

An API object, for the initial state's tables, is an address whose value has a ``resourceVersion`` (at the top or
under ``metadata``), as the views kubespec writes have.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from traces.diff import Change

_BOOKKEEPING = re.compile(
    r'(^|\.|\[")(resourceVersion|revision|compacted|history|high_water|managedFields|rv|[^".\[\]]* rv)("\])?($|[.\[])'
)


def is_bookkeeping(change: Change) -> bool:
    """Whether the change's path (inside an object) names a counter that says nothing by itself."""
    return bool(change.path) and bool(_BOOKKEEPING.search(change.path))


def _owner(address: str, actor: str | None) -> bool:
    if actor is None:
        return False
    return address == actor or address.endswith("/" + actor) or actor.endswith("/" + address)


def quiet_changes(changes: Sequence[Change], actor: str | None) -> list[Change]:
    """The changes worth reading: all but bookkeeping, and the actor's own bookkeeping; an object created whole is
    shown without its bookkeeping fields (and its uid)."""
    out = []
    for c in changes:
        if is_bookkeeping(c) and not _owner(c.address, actor):
            continue
        if c.kind == "added" and not c.path and isinstance(c.after, Mapping) and is_api_object(c.after):
            c = Change(c.address, c.path, c.kind, c.before, _without_bookkeeping(c.after), c.element)
        out.append(c)
    return out


def _without_bookkeeping(value: Any) -> Any:
    if isinstance(value, Mapping) and not any(str(k).startswith("#") for k in value):
        return {k: _without_bookkeeping(v) for k, v in value.items()
                if k != "uid" and not _BOOKKEEPING.search(f".{k}")}
    return value


def is_api_object(value: Any) -> bool:
    """Whether a view's value is an API object (it carries a resourceVersion)."""
    if not isinstance(value, Mapping):
        return False
    meta = value.get("metadata")
    return "resourceVersion" in value or (isinstance(meta, Mapping) and "resourceVersion" in meta)


def _empty(value: Any) -> bool:
    return value is None or value is False or value == 0 or (isinstance(value, list | dict) and not value)


def essentials(value: Any) -> Any:
    """A component's state without bookkeeping fields and without empty, false or zero values (None: nothing
    left)."""
    if isinstance(value, Mapping) and not any(str(k).startswith("#") for k in value):
        out = {}
        for key, item in value.items():
            if _BOOKKEEPING.search(f".{key}") or _BOOKKEEPING.search(f'["{key}"]'):
                continue
            kept = essentials(item)
            if kept is not None:
                out[key] = kept
        return out or None
    return None if _empty(value) else value
