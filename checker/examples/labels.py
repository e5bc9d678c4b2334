"""Action labels shared by the classic models: a tuple (name, *parameters), printed like a TLA+ call."""

from __future__ import annotations

Label = tuple[str, ...]


def call(action: Label) -> str:
    """`("Prepare", "r1")` -> `"Prepare(r1)"`; a label without parameters prints as its bare name."""
    name, *args = action
    return f"{name}({', '.join(args)})" if args else name
