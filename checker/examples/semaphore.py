"""Mutual exclusion with a binary semaphore: the textbook case where weak fairness lets a process starve.

Each process loops ncs -> wait -> cs -> ncs; it may enter only while the semaphore is free. A waiting process's
Enter is enabled only intermittently (disabled whenever the other process holds the semaphore), so WF allows
the other process to overtake it forever, while SF forbids that. This is the reason PlusCal has `fair+`
processes (PlusCal manual, section "Fairness"; Lamport, Specifying Systems, section 8.5 defines WF and SF).
With two processes the reachable states are the 8 pairs of control points in which at most one is in cs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs

from checker import Model, always, leads_to, strong, weak
from checker.examples.labels import Label, call


@attrs.frozen
class SemState:
    pc: tuple[str, ...]  # "ncs" | "wait" | "cs", per process
    holder: int | None  # the process in cs, None when the semaphore is free


def at(p: int, label: str) -> Callable[[SemState], bool]:
    """The state predicate pc[p] = label."""
    return lambda s: s.pc[p] == label


def of_process(p: int) -> Callable[[Label], bool]:
    """Selects the actions of process p."""
    return lambda a: a[1] == str(p)


class Semaphore(Model):
    """Processes 0..n-1 with WF or SF per process (`fairness` = "weak" | "strong" | "none")."""

    def __init__(self, n: int = 2, fairness: str = "strong") -> None:
        self.n = n
        self.properties = (
            always("MutualExclusion", lambda s: s.pc.count("cs") <= 1),
            *(leads_to(f"NoStarvation({p})", at(p, "wait"), at(p, "cs")) for p in range(n)),
        )
        kinds = {"weak": weak, "strong": strong}
        self.fairness = (
            tuple(kinds[fairness](f"proc({p})", of_process(p)) for p in range(n)) if fairness != "none" else ()
        )

    def init_states(self) -> Iterator[SemState]:
        yield SemState(("ncs",) * self.n, None)

    def successors(self, state: SemState) -> Iterator[tuple[Label, SemState]]:
        for p, at in enumerate(state.pc):
            if at == "ncs":
                yield ("Request", str(p)), SemState(_set(state.pc, p, "wait"), state.holder)
            elif at == "wait" and state.holder is None:
                yield ("Enter", str(p)), SemState(_set(state.pc, p, "cs"), p)
            elif at == "cs":
                yield ("Exit", str(p)), SemState(_set(state.pc, p, "ncs"), None)

    def describe(self, action: Label) -> str:
        return call(action)


def _set(t: tuple[str, ...], i: int, v: str) -> tuple[str, ...]:
    return t[:i] + (v,) + t[i + 1 :]
