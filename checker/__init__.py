"""A generic explicit-state model checker (it knows nothing about Kubernetes).

    from checker import Model, always, sometimes, eventually, leads_to, weak, strong, check
    from checker import eventually_always, leads_to_always   # <>[]P and P ~> []Q
"""

from checker.check import check
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
    sometimes,
    strong,
    weak,
)
from checker.result import ActionCoverage, Bounds, Result, Stats, Step, Violation

__all__ = [
    "ActionCoverage", "Bounds", "Fairness", "InputError", "Model", "ModelError", "Property", "Result", "Stats",
    "Step", "Violation", "always", "check", "eventually", "eventually_always", "leads_to", "leads_to_always",
    "sometimes", "strong", "weak",
]
