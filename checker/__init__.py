"""A generic explicit-state model checker (it knows nothing about Kubernetes).

    from checker import Model, always, sometimes, eventually, leads_to, weak, strong, check
    from checker import eventually_always, leads_to_always   # <>[]P and P ~> []Q
    from checker import negation                             # ~P, known as the negation of P
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy treats the name as true)
if TYPE_CHECKING:
    from typing import Any

    from checker.errors import InputError, ModelError
    from checker.model import (
        Fairness,
        Model,
        Property,
        always,
        eventually,
        eventually_always,
        leads_to,
        leads_to_always,
        negation,
        sometimes,
        strong,
        weak,
    )
    from checker.result import ActionCoverage, Bounds, Result, Stats, Step, Violation
    from checker.runner import check

_HOME = {
    "check": "checker.runner",
    **dict.fromkeys(("InputError", "ModelError"), "checker.errors"),
    **dict.fromkeys(("Fairness", "Model", "Property", "always", "eventually", "eventually_always", "leads_to",
                     "leads_to_always", "negation", "sometimes", "strong", "weak"), "checker.model"),
    **dict.fromkeys(("ActionCoverage", "Bounds", "Result", "Stats", "Step", "Violation"), "checker.result"),
}


def __getattr__(name: str) -> Any:
    """The public names are imported on first use (PEP 562): importing ``checker.entry``, the `kubespec`
    program's first module, must not load the engine before it can answer a signal."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'checker' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


__all__ = [
    "ActionCoverage", "Bounds", "Fairness", "InputError", "Model", "ModelError", "Property", "Result", "Stats",
    "Step", "Violation", "always", "check", "eventually", "eventually_always", "leads_to", "leads_to_always",
    "negation", "sometimes", "strong", "weak",
]
