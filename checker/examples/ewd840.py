"""Dijkstra's termination detection on a ring of N nodes (EWD 840), by Stephan Merz.

Upstream: tlaplus/Examples specifications/ewd840/EWD840.tla with EWD840.cfg (N = 3, CHECK_DEADLOCK FALSE,
INVARIANTS TypeOK TerminationDetection Inv, PROPERTIES Liveness TDSpec). TLC (manifest.json): 302 distinct states,
2001 states generated, depth 10. Spec == Init /\\ [][Next]_vars /\\ WF_vars(System); Liveness
(terminated ~> terminationDetected) holds under that fairness and fails without it. TDSpec (a refinement) is
not transcribed.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product
from typing import TypeVar

import attrs

from checker import Model, always, leads_to, weak
from checker.examples.labels import Label, call

T = TypeVar("T")


@attrs.frozen
class EState:
    active: tuple[bool, ...]  # active[i] for node i in 0..N-1
    color: tuple[str, ...]  # "white" | "black"
    tpos: int  # the node holding the token
    tcolor: str  # the token's colour


def terminated(s: EState) -> bool:
    return not any(s.active)


def termination_detected(s: EState) -> bool:
    return s.tpos == 0 and s.tcolor == "white" and s.color[0] == "white" and not s.active[0]


def dijkstra_inv(s: EState) -> bool:
    """Inv: P0 \\/ P1 \\/ P2, Dijkstra's inductive invariant."""
    return (
        all(not s.active[i] for i in range(s.tpos + 1, len(s.active)))
        or "black" in s.color[: s.tpos + 1]
        or s.tcolor == "black"
    )


def _set(t: tuple[T, ...], i: int, v: T) -> tuple[T, ...]:
    return t[:i] + (v,) + t[i + 1 :]


class EWD840(Model):
    """Init /\\ [][Next]_vars, with WF_vars(System) when `fair` (the default, as in Spec)."""

    def __init__(self, n: int = 3, fair: bool = True) -> None:
        self.n = n
        self.properties = (
            always(
                "TypeOK",
                lambda s: (
                    len(s.active) == n
                    and set(s.color) <= {"white", "black"}
                    and 0 <= s.tpos < n
                    and s.tcolor in ("white", "black")
                ),
            ),
            always("TerminationDetection", lambda s: not termination_detected(s) or terminated(s)),
            always("Inv", dijkstra_inv),
            leads_to("Liveness", terminated, termination_detected),
        )
        self.fairness = (weak("System", lambda a: a[0] in ("InitiateProbe", "PassToken")),) if fair else ()

    def init_states(self) -> Iterator[EState]:
        nodes = range(self.n)
        for active, color, tpos in product(
            product((False, True), repeat=self.n), product(("white", "black"), repeat=self.n), nodes
        ):
            yield EState(active, color, tpos, "black")

    def successors(self, state: EState) -> Iterator[tuple[Label, EState]]:
        active, color, tpos, tcolor = state.active, state.color, state.tpos, state.tcolor
        # System
        if tpos == 0 and (tcolor == "black" or color[0] == "black"):
            yield ("InitiateProbe",), EState(active, _set(color, 0, "white"), self.n - 1, "white")
        if tpos != 0 and (not active[tpos] or color[tpos] == "black" or tcolor == "black"):
            new_tcolor = "black" if color[tpos] == "black" else tcolor
            yield ("PassToken", str(tpos)), EState(active, _set(color, tpos, "white"), tpos - 1, new_tcolor)
        # Environment
        for i in range(self.n):
            if active[i]:
                for j in range(self.n):
                    if j != i:
                        new_color = _set(color, i, "black") if j > i else color
                        yield ("SendMsg", str(i), str(j)), EState(_set(active, j, True), new_color, tpos, tcolor)
                yield ("Deactivate", str(i)), EState(_set(active, i, False), color, tpos, tcolor)

    def describe(self, action: Label) -> str:
        return call(action)
