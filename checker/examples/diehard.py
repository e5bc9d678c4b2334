"""The Die Hard water-jug puzzle: measure exactly 4 gallons with a 5-gallon and a 3-gallon jug.

Upstream: tlaplus/Examples specifications/DieHard/DieHard.tla (DieHard.cfg: INVARIANTS TypeOK NotSolved).
The invariant NotSolved (big # 4) is violated: the counterexample is the puzzle's solution, 6 steps long
(Lamport's TLA+ video course, lecture 4). The reachable state space has 16 states: every pair in which at least
one jug is empty or full (TLC reports them when NotSolved is not checked).
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from checker import Model, always


@attrs.frozen
class Jugs:
    big: int  # gallons in the 5-gallon jug
    small: int  # gallons in the 3-gallon jug


class DieHard(Model):
    """Init /\\ [][Next]_<<big, small>>; the actions in the order of DieHard.tla's Next."""

    def __init__(self) -> None:
        self.properties = (
            always("TypeOK", lambda s: 0 <= s.small <= 3 and 0 <= s.big <= 5),
            always("NotSolved", lambda s: s.big != 4),
        )
        self.fairness = ()

    def init_states(self) -> Iterator[Jugs]:
        yield Jugs(big=0, small=0)

    def successors(self, state: Jugs) -> Iterator[tuple[str, Jugs]]:
        big, small = state.big, state.small
        yield "FillSmallJug", Jugs(big, 3)
        yield "FillBigJug", Jugs(5, small)
        yield "EmptySmallJug", Jugs(big, 0)
        yield "EmptyBigJug", Jugs(0, small)
        poured = min(big + small, 5) - big
        yield "SmallToBig", Jugs(big + poured, small - poured)
        poured = min(big + small, 3) - small
        yield "BigToSmall", Jugs(big - poured, small + poured)
