"""The Two-Phase Commit protocol: a transaction manager (TM) coordinating resource managers (RMs).

Upstream: tlaplus/Examples specifications/transaction_commit/TwoPhase.tla with TwoPhase.cfg
(RM = {r1, r2, r3}, INVARIANT TPTypeOK, deadlock checked). TLC (manifest.json): 288 distinct states,
1146 states generated, depth 11. The module's closing comment: 50816 reachable states for six RMs.
TCConsistent of TCommit.tla is checked as well, since TwoPhase implements TCommit.

Written for speed (the benchmarks run it with 7 and 8 RMs): RMs are indices, messages are tuples, and every
successor is built directly rather than with attrs.evolve.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from checker import Model, always
from checker.examples.labels import Label, call

COMMIT: tuple[str, ...] = ("Commit",)
ABORT: tuple[str, ...] = ("Abort",)


@attrs.frozen(cache_hash=True)
class TPState:
    rm_state: tuple[str, ...]  # rmState[rm], in the order of the model's `rms`
    tm_state: str  # "init" | "committed" | "aborted"
    tm_prepared: frozenset[str]  # the RMs from which the TM has received "Prepared"
    msgs: frozenset[tuple[str, ...]]  # ("Prepared", rm), ("Commit",), ("Abort",): every message ever sent


class TwoPhase(Model):
    """TPInit /\\ [][TPNext]_<<rmState, tmState, tmPrepared, msgs>>, for RM = {r1, ..., rn}."""

    def __init__(self, n: int = 3) -> None:
        self.rms = tuple(f"r{i}" for i in range(1, n + 1))
        self._all = frozenset(self.rms)
        self._prepared_msg = tuple(("Prepared", rm) for rm in self.rms)
        self._labels = tuple(
            {
                name: (name, rm)
                for name in ("TMRcvPrepared", "RMPrepare", "RMChooseToAbort", "RMRcvCommitMsg", "RMRcvAbortMsg")
            }
            for rm in self.rms
        )
        messages = frozenset(self._prepared_msg) | {COMMIT, ABORT}
        self.properties = (
            always(
                "TPTypeOK",
                lambda s: (
                    set(s.rm_state) <= {"working", "prepared", "committed", "aborted"}
                    and s.tm_state in ("init", "committed", "aborted")
                    and s.tm_prepared <= self._all
                    and s.msgs <= messages
                ),
            ),
            always("TCConsistent", lambda s: not ("aborted" in s.rm_state and "committed" in s.rm_state)),
        )
        self.fairness = ()

    def init_states(self) -> Iterator[TPState]:
        yield TPState(("working",) * len(self.rms), "init", frozenset(), frozenset())

    def successors(self, state: TPState) -> Iterator[tuple[Label, TPState]]:
        rs, tm, prepared, msgs = state.rm_state, state.tm_state, state.tm_prepared, state.msgs
        if tm == "init":
            if prepared == self._all:
                yield ("TMCommit",), TPState(rs, "committed", prepared, msgs | {COMMIT})
            yield ("TMAbort",), TPState(rs, "aborted", prepared, msgs | {ABORT})
        commit_sent = COMMIT in msgs
        abort_sent = ABORT in msgs
        for i, rm in enumerate(self.rms):
            label = self._labels[i]
            if tm == "init" and self._prepared_msg[i] in msgs:
                yield label["TMRcvPrepared"], TPState(rs, tm, prepared | {rm}, msgs)
            if rs[i] == "working":
                before, after = rs[:i], rs[i + 1 :]
                yield (
                    label["RMPrepare"],
                    TPState(before + ("prepared",) + after, tm, prepared, msgs | {self._prepared_msg[i]}),
                )
                yield label["RMChooseToAbort"], TPState(before + ("aborted",) + after, tm, prepared, msgs)
            if commit_sent:
                yield label["RMRcvCommitMsg"], TPState(rs[:i] + ("committed",) + rs[i + 1 :], tm, prepared, msgs)
            if abort_sent:
                yield label["RMRcvAbortMsg"], TPState(rs[:i] + ("aborted",) + rs[i + 1 :], tm, prepared, msgs)

    def describe(self, action: Label) -> str:
        return call(action)
