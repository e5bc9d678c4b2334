"""Edits of nested JSON-like documents (dicts and lists) for the fuzz tests: every path into a document, and the
document with the value at one path replaced."""

from __future__ import annotations

import copy
from typing import Any


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indices) into ``value``, the empty one first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths(item, (*prefix, index)))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    """A deep copy of ``document`` with the value at ``path`` (not empty) replaced by ``value``."""
    edited = copy.deepcopy(document)
    target = edited
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return edited
