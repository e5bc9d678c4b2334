"""Short human renderings of trace values: ITF-encoded values (checker/itf.py) and plain JSON views alike.

Sets print as ``{a, b}``, maps and records as ``{key: value}``, tuples as ``(a, b)``, strings JSON-quoted, and
ITF's ``None`` variant and JSON null as ``null``, so that a diff line reads like kubectl's output.
"""

from __future__ import annotations

import json
import re
from typing import Any

JSON = Any

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")


def is_variant(value: JSON) -> bool:
    """True for a Quint/ITF variant ``{"tag": ..., "value": ...}``."""
    return isinstance(value, dict) and set(value) == {"tag", "value"} and isinstance(value["tag"], str)


def _is_unit(value: JSON) -> bool:
    return value in ({}, {"#tup": []}, [])


def format_key(key: JSON) -> str:
    """A map key or record field: bare when it is a simple name, else rendered as a value."""
    if isinstance(key, str) and _PLAIN_KEY.match(key):
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
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if "#bigint" in value:
            return str(value["#bigint"])
        if "#tup" in value:
            items = value["#tup"]
            return "(" + ", ".join(format_value(item) for item in items) + ("," if len(items) == 1 else "") + ")"
        if "#set" in value:
            return "{" + ", ".join(format_value(item) for item in value["#set"]) + "}"
        if "#map" in value:
            return "{" + ", ".join(f"{format_key(k)}: {format_value(v)}" for k, v in value["#map"]) + "}"
        if "#unserializable" in value:
            return str(value["#unserializable"])
        if is_variant(value):
            if value["tag"] == "None" and _is_unit(value["value"]):
                return "null"
            return value["tag"] if _is_unit(value["value"]) else f"{value['tag']}({format_value(value['value'])})"
        return "{" + ", ".join(f"{format_key(k)}: {format_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def _children(value: JSON) -> list[tuple[str, JSON]] | None:
    """The labelled parts of a composite value, for multi-line rendering; None for a leaf."""
    if isinstance(value, list):
        return [(f"[{i}]", item) for i, item in enumerate(value)]
    if isinstance(value, dict):
        if "#tup" in value:
            return [(f"[{i}]", item) for i, item in enumerate(value["#tup"])]
        if "#set" in value:
            return [("-", item) for item in value["#set"]]
        if "#map" in value:
            return [(format_key(k), v) for k, v in value["#map"]]
        if any(marker in value for marker in ("#bigint", "#unserializable")) or is_variant(value):
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
