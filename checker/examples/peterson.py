"""Peterson's mutual-exclusion algorithm for two processes (the PlusCal translation).

Upstream: tlaplus/Examples specifications/locks_auxiliary_vars/Peterson.tla with Peterson.cfg
(INVARIANTS TypeOK Inv). TLC (manifest.json): 42 distinct states, 77 states generated, depth 11.
Inv includes mutual exclusion; MutualExclusion is also stated on its own. The upstream spec has no fairness
(the refinement LSpec it checks is a safety property); `fair=True` adds WF_vars(proc(self)) for each process,
under which StarvationFree holds (a process waiting at a3 reaches the critical section).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar

import attrs

from checker import Model, always, leads_to, weak
from checker.examples.labels import Label

PROCS = (1, 2)
LABELS = ("a0", "a1", "a2", "a3", "cs", "a4")
T = TypeVar("T")
NEXT_PC = {"a0": "a1", "a1": "a2", "a2": "a3", "a3": "cs", "cs": "a4", "a4": "a0"}


def other(p: int) -> int:
    return 2 if p == 1 else 1


@attrs.frozen
class PState:
    pc: tuple[str, str]  # pc[1], pc[2]
    c: tuple[bool, bool]  # c[1], c[2]: process p wants to enter
    turn: int


def at(p: int, label: str) -> Callable[[PState], bool]:
    """The state predicate pc[p] = label."""
    return lambda s: s.pc[p - 1] == label


def of_process(p: int) -> Callable[[Label], bool]:
    """Selects the actions of process p: proc(p) in WF_vars(proc(p))."""
    return lambda a: a[1] == str(p)


def lockcs(s: PState, p: int) -> bool:
    return s.pc[p - 1] in ("cs", "a4")


def inv(s: PState) -> bool:
    """Inv of Peterson.tla: the course's inductive invariant plus mutual exclusion."""
    return (
        all(s.c[p - 1] == (s.pc[p - 1] in ("a2", "a3", "cs", "a4")) for p in PROCS)
        and all(not lockcs(s, p) or s.turn == p or s.pc[other(p) - 1] in ("a0", "a1", "a2") for p in PROCS)
        and not (lockcs(s, 1) and lockcs(s, 2))
    )


class Peterson(Model):
    """Init /\\ [][Next]_vars, Next == \\E self \\in 1..2 : proc(self)."""

    def __init__(self, fair: bool = False) -> None:
        self.properties = (
            always(
                "TypeOK",
                lambda s: all(isinstance(b, bool) for b in s.c) and s.turn in PROCS and set(s.pc) <= set(LABELS),
            ),
            always("Inv", inv),
            always("MutualExclusion", lambda s: not (s.pc[0] == "cs" and s.pc[1] == "cs")),
        )
        if fair:
            self.properties += tuple(leads_to(f"StarvationFree({p})", at(p, "a3"), at(p, "cs")) for p in PROCS)
        self.fairness = tuple(weak(f"proc({p})", of_process(p)) for p in PROCS) if fair else ()

    def init_states(self) -> Iterator[PState]:
        yield PState(pc=("a0", "a0"), c=(False, False), turn=1)

    def successors(self, state: PState) -> Iterator[tuple[Label, PState]]:
        for p in PROCS:
            i = p - 1
            at = state.pc[i]
            pc = _set(state.pc, i, NEXT_PC[at])
            if at == "a1":
                yield ("a1", str(p)), PState(pc, _set(state.c, i, True), state.turn)
            elif at == "a2":
                yield ("a2", str(p)), PState(pc, state.c, other(p))
            elif at == "a3":
                if not state.c[other(p) - 1] or state.turn == p:
                    yield ("a3", str(p)), PState(pc, state.c, state.turn)
            elif at == "a4":
                yield ("a4", str(p)), PState(pc, _set(state.c, i, False), state.turn)
            else:  # a0 and cs are skip
                yield (at, str(p)), PState(pc, state.c, state.turn)

    def describe(self, action: Label) -> str:
        return f"{action[0]}({action[1]})"

    def actor(self, action: Label) -> str:
        return f"proc {action[1]}"


def _set(t: tuple[T, T], i: int, v: T) -> tuple[T, T]:
    return (v, t[1]) if i == 0 else (t[0], v)
