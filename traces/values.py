"""Short human renderings of trace values: ITF-encoded values (checker/itf.py) and plain JSON views alike.

Sets print as ``{a, b}``, maps and records as ``{key: value}``, tuples as ``(a, b)``, strings JSON-quoted, and
ITF's ``None`` variant and JSON null as ``null``, so that a diff line reads like kubectl's output.
"""

from __future__ import annotations

import json
import re
from typing import Any

from checker.text import printable

JSON = Any

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def is_variant(value: JSON) -> bool:
    """True for a Quint/ITF variant ``{"tag": ..., "value": ...}``."""
    return isinstance(value, dict) and set(value) == {"tag", "value"} and isinstance(value["tag"], str)


def marker(value: JSON) -> str | None:
    """The ITF marker of a well-formed ITF composite (``#tup``, ``#set``, ``#map``, ``#bigint``,
    ``#unserializable``), else None: a malformed one (``{"#map": 5}``) is read as an ordinary record."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    key, content = next(iter(value.items()))
    if key in ("#tup", "#set"):
        return key if isinstance(content, list) else None
    if key == "#map":
        pairs = isinstance(content, list) and all(isinstance(p, list) and len(p) == 2 for p in content)
        return key if pairs else None
    if key in ("#bigint", "#unserializable"):
        return key if isinstance(content, str) else None
    return None


def _is_unit(value: JSON) -> bool:
    return value in ({}, {"#tup": []}, [])


def format_key(key: JSON) -> str:
    """A map key or record field: bare when it is a simple name, else rendered as a value."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return key
    return format_value(key)


def format_value(value: JSON) -> str:
    """One line for any trace value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return printable(json.dumps(value, ensure_ascii=False))
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        kind = marker(value)
        if kind in ("#bigint", "#unserializable"):
            return printable(value[kind])
        if kind == "#tup":
            items = value["#tup"]
            return "(" + ", ".join(format_value(item) for item in items) + ("," if len(items) == 1 else "") + ")"
        if kind == "#set":
            return "{" + ", ".join(format_value(item) for item in value["#set"]) + "}"
        if kind == "#map":
            return "{" + ", ".join(f"{format_key(k)}: {format_value(v)}" for k, v in value["#map"]) + "}"
        if is_variant(value):
            if value["tag"] == "None" and _is_unit(value["value"]):
                return "null"
            tag = printable(value["tag"])
            return tag if _is_unit(value["value"]) else f"{tag}({format_value(value['value'])})"
        return "{" + ", ".join(f"{format_key(k)}: {format_value(v)}" for k, v in value.items()) + "}"
    return printable(value)


def _children(value: JSON) -> list[tuple[str, JSON]] | None:
    """The labelled parts of a composite value, for multi-line rendering; None for a leaf."""
    if isinstance(value, list):
        return [(f"[{i}]", item) for i, item in enumerate(value)]
    if isinstance(value, dict):
        kind = marker(value)
        if kind == "#tup":
            return [(f"[{i}]", item) for i, item in enumerate(value["#tup"])]
        if kind == "#set":
            return [("-", item) for item in value["#set"]]
        if kind == "#map":
            return [(format_key(k), v) for k, v in value["#map"]]
        if kind is not None or is_variant(value):
            return None
        return [(format_key(k), v) for k, v in value.items()]
    return None


def pretty_lines(value: JSON, width: int = 100, indent: int = 0) -> list[str]:
    """A YAML-like multi-line rendering: composites that do not fit in ``width`` are broken up, one part a line."""
    flat = format_value(value)
    children = _children(value)
    if children is None or len(flat) + indent <= width or not children:
        return [" " * indent + flat]
    lines: list[str] = []
    for label, child in children:
        child_flat = format_value(child)
        prefix = " " * indent + ("- " if label == "-" else f"{label}: ")
        if _children(child) is None or len(prefix) + len(child_flat) <= width:
            lines.append(prefix + child_flat)
        else:
            lines.append(prefix.rstrip())
            lines.extend(pretty_lines(child, width, indent + 2))
    return lines
