"""What changed between two states of a trace, addressed as kubectl would: ``pods/default/web-x .spec.nodeName``.

The address is a key of the model's view (``pods/default/web-1``, ``nodes/node-a``, ``scheduler``) when the trace
has views, else an ITF variable; the path inside it uses kubectl's JSONPath style (``.metadata.labels.app``,
``.spec.containers[0].image``, ``["app.kubernetes.io/name"]`` for keys that are not plain names). Works on plain JSON
views and on ITF-encoded values (records, ``#map``, ``#set``, ``#tup``, variants) alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import attrs

from checker.text import printable
from traces.values import format_value, is_variant, marker

JSON = Any
Kind = Literal["added", "removed", "changed"]

_BOOKKEEPING = re.compile(r"\.(resourceVersion|generation|managedFields)\b")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


@attrs.frozen
class Change:
    """One difference. ``element`` marks a set member added or removed (``path`` is then the set's path)."""

    address: str
    path: str
    kind: Kind
    before: JSON = None
    after: JSON = None
    element: bool = False

    def __str__(self) -> str:
        where = printable(f"{self.address} {self.path}".rstrip())
        if self.element:
            if self.kind == "added":
                return f"+ {where} += {format_value(self.after)}"
            return f"- {where} -= {format_value(self.before)}"
        if self.kind == "added":
            return f"+ {where}: {format_value(self.after)}"
        if self.kind == "removed":
            return f"- {where} (was {format_value(self.before)})"
        return f"~ {where}: {format_value(self.before)} -> {format_value(self.after)}"


def _key_segment(key: JSON) -> str:
    if isinstance(key, str) and _NAME.fullmatch(key):
        return f".{key}"
    if isinstance(key, str):
        return f"[{printable(json.dumps(key, ensure_ascii=False))}]"
    return f"[{format_value(key)}]"


def _is_record(value: JSON) -> bool:
    return isinstance(value, dict) and marker(value) is None and not is_variant(value)


def _text(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _diff_keyed(
    address: str, path: str, before: list[tuple[JSON, JSON]], after: list[tuple[JSON, JSON]]
) -> Iterator[Change]:
    old = {_text(key): (key, value) for key, value in before}
    new = {_text(key): (key, value) for key, value in after}
    for text, (key, value) in new.items():
        if text not in old:
            yield Change(address, path + _key_segment(key), "added", after=value)
        else:
            yield from diff_values(address, path + _key_segment(key), old[text][1], value)
    for text, (key, value) in old.items():
        if text not in new:
            yield Change(address, path + _key_segment(key), "removed", before=value)


def _diff_sequence(address: str, path: str, before: list[JSON], after: list[JSON]) -> Iterator[Change]:
    for index in range(min(len(before), len(after))):
        yield from diff_values(address, f"{path}[{index}]", before[index], after[index])
    for index in range(len(before), len(after)):
        yield Change(address, f"{path}[{index}]", "added", after=after[index])
    for index in range(len(after), len(before)):
        yield Change(address, f"{path}[{index}]", "removed", before=before[index])


def diff_values(address: str, path: str, before: JSON, after: JSON) -> Iterator[Change]:
    """The changes from ``before`` to ``after``, both at ``address`` and ``path``."""
    if before == after:
        return
    if _is_record(before) and _is_record(after):
        yield from _diff_keyed(address, path, list(before.items()), list(after.items()))
    elif marker(before) == marker(after) == "#map":
        yield from _diff_keyed(address, path, [tuple(p) for p in before["#map"]], [tuple(p) for p in after["#map"]])
    elif marker(before) == marker(after) == "#set":
        old = {_text(item): item for item in before["#set"]}
        new = {_text(item): item for item in after["#set"]}
        for text, item in new.items():
            if text not in old:
                yield Change(address, path, "added", after=item, element=True)
        for text, item in old.items():
            if text not in new:
                yield Change(address, path, "removed", before=item, element=True)
    elif marker(before) == marker(after) == "#tup":
        yield from _diff_sequence(address, path, before["#tup"], after["#tup"])
    elif isinstance(before, list) and isinstance(after, list):
        yield from _diff_sequence(address, path, before, after)
    elif is_variant(before) and is_variant(after) and before["tag"] == after["tag"]:
        yield from diff_values(address, path, before["value"], after["value"])
    else:
        yield Change(address, path, "changed", before=before, after=after)


def diff_states(before: Mapping[str, JSON], after: Mapping[str, JSON]) -> list[Change]:
    """The changes between two shown states (views or raw ITF variables), objects in the order of ``after``."""
    changes: list[Change] = []
    for address, value in after.items():
        if address not in before:
            changes.append(Change(address, "", "added", after=value))
        else:
            changes.extend(diff_values(address, "", before[address], value))
    for address, value in before.items():
        if address not in after:
            changes.append(Change(address, "", "removed", before=value))
    return changes


def changed_addresses(before: Mapping[str, JSON], after: Mapping[str, JSON]) -> list[str]:
    """The addresses of the objects that differ, in the order of :func:`diff_states`."""
    seen: dict[str, None] = {}
    for change in diff_states(before, after):
        seen.setdefault(change.address, None)
    return list(seen)


def _is_counter(change: Change) -> bool:
    return change.kind == "changed" and isinstance(change.before, int) and isinstance(change.after, int)


def headline(changes: Sequence[Change], limit: int = 64, prefer: Callable[[Change], bool] | None = None) -> str:
    """The change worth one line in a picture, shortened to ``limit`` characters, with how many more there are.

    Bookkeeping (resourceVersion, generation) is skipped; then changes that ``prefer`` picks come first, and
    changes of something else than a number (a counter such as a revision) before counters.
    """
    relevant = [c for c in changes if not _BOOKKEEPING.search(c.path)] or list(changes)
    if not relevant:
        return ""
    first = min(relevant, key=lambda c: (prefer is not None and not prefer(c), _is_counter(c)))
    if not first.path and not first.element and first.kind != "changed":
        text = f"{'creates' if first.kind == 'added' else 'deletes'} {first.address}"
    else:
        text = str(first)[2:]
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text + (f"  (+{len(relevant) - 1} more)" if len(relevant) > 1 else "")
