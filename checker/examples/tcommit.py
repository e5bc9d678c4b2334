"""Transaction Commit: the abstract protocol that two-phase commit implements.

Upstream: tlaplus/Examples specifications/transaction_commit/TCommit.tla with TCommit.cfg
(RM = {r1, r2, r3}, INVARIANTS TCTypeOK TCConsistent, CHECK_DEADLOCK FALSE).
TLC (manifest.json): 34 distinct states, 94 states generated, depth 7.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from checker import Model, always
from checker.examples.labels import Label, call

RM_STATES = frozenset({"working", "prepared", "committed", "aborted"})


@attrs.frozen
class TCState:
    rm_state: tuple[str, ...]  # rmState[rm], in the order of the model's `rms`


class TCommit(Model):
    """TCInit /\\ [][TCNext]_rmState, for RM = {r1, ..., rn}."""

    def __init__(self, n: int = 3) -> None:
        self.rms = tuple(f"r{i}" for i in range(1, n + 1))
        self.properties = (
            always("TCTypeOK", lambda s: all(r in RM_STATES for r in s.rm_state)),
            always("TCConsistent", lambda s: not ("aborted" in s.rm_state and "committed" in s.rm_state)),
        )
        self.fairness = ()

    def init_states(self) -> Iterator[TCState]:
        yield TCState(("working",) * len(self.rms))

    def successors(self, state: TCState) -> Iterator[tuple[Label, TCState]]:
        rs = state.rm_state
        can_commit = all(r in ("prepared", "committed") for r in rs)
        not_committed = "committed" not in rs
        for i, rm in enumerate(self.rms):
            if rs[i] == "working":
                yield ("Prepare", rm), TCState(rs[:i] + ("prepared",) + rs[i + 1 :])
            if rs[i] == "prepared" and can_commit:
                yield ("Decide", rm), TCState(rs[:i] + ("committed",) + rs[i + 1 :])
            if rs[i] in ("working", "prepared") and not_committed:
                yield ("Decide", rm), TCState(rs[:i] + ("aborted",) + rs[i + 1 :])

    def describe(self, action: Label) -> str:
        return call(action)
