"""What a check returns: the verdict, the statistics, and a counterexample trace."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any, Literal

import attrs

Status = Literal["ok", "violation", "bounded", "interrupted"]
ViolationKind = Literal["always", "sometimes", "eventually", "leads_to", "deadlock"]


@attrs.frozen
class Step:
    """One state of a trace and the action that led to it (None for the initial state)."""

    action: Hashable | None
    state: Any


@attrs.frozen
class Violation:
    """A violated property and its counterexample.

    For liveness the trace is a lasso: `trace[loop_start:]` is the loop. When `loop_start < len(trace) - 1`,
    the last step's state equals `trace[loop_start].state` (the loop closes; under symmetry it is equivalent);
    when `loop_start == len(trace) - 1`, the behaviour stutters in the last state forever.
    A `sometimes` property that no state satisfies has an empty trace.
    """

    property: str
    kind: ViolationKind
    trace: tuple[Step, ...]
    loop_start: int | None = None


@attrs.frozen
class ActionCoverage:
    """How many successors an action class generated, and how many of them were new states."""

    generated: int
    distinct: int


@attrs.frozen
class Stats:
    """Search statistics, counted as TLC counts them.

    `generated` counts every state produced (initial states and successors, duplicates included);
    `depth` counts the states on the longest shortest path (TLC's "depth of the complete state graph search").
    """

    distinct_states: int
    generated: int
    depth: int
    seconds: float
    coverage: Mapping[str, ActionCoverage] = attrs.field(factory=dict)
    queue: int = 0

    @property
    def states_per_second(self) -> float:
        return self.distinct_states / self.seconds if self.seconds > 0 else 0.0


@attrs.frozen
class Bounds:
    """The bounds a search ran under, stated in every verdict."""

    strategy: str
    max_states: int | None = None
    max_depth: int | None = None
    deadlock: bool = True
    constraint: bool = False
    symmetry: bool = False
    simulate: int | None = None
    sim_depth: int | None = None
    seed: int | None = None
    #: "exact" or "fingerprint" (`checker.graph`); with fingerprints, TLC's two estimates of the probability that
    #: two distinct states shared one (calculated (optimistic), based on the actual fingerprints).
    storage: str = "exact"
    collision: tuple[float, float] | None = None

    def describe(self) -> str:
        if self.simulate is not None:
            parts = [f"simulation: {self.simulate} runs of depth ≤ {self.sim_depth}, seed {self.seed}"]
        else:
            parts = [f"{self.strategy.upper()}"]
            parts.append(f"max states {self.max_states:,}" if self.max_states else "no state bound")
            parts.append(f"max depth {self.max_depth}" if self.max_depth else "no depth bound")
        if self.constraint:
            parts.append("state constraint")
        if self.symmetry:
            parts.append("symmetry reduction")
        if not self.deadlock:
            parts.append("deadlock not checked")
        if self.storage != "exact":
            parts.append(self.storage_note())
        return ", ".join(parts)

    def storage_note(self) -> str:
        if self.collision is None:
            return f"{self.storage} storage"
        calculated, observed = self.collision
        return (f"{self.storage} storage (probability of a fingerprint collision: {calculated:.1E} calculated, "
                f"{observed:.1E} observed)")


@attrs.frozen
class Result:
    """The verdict of `check`.

    `status` is "ok" when every property holds on the whole reachable space, "violation" when one failed,
    "bounded" when a bound (max states, max depth, simulation) cut the search short with no violation found,
    and "interrupted" when the user stopped it. `ok` is True when no violation was found.
    """

    status: Status
    stats: Stats
    bounds: Bounds
    violation: Violation | None = None
    #: Why a search was cut short (for "bounded"), e.g. "max states 1,000 reached".
    cut: str | None = None
    #: Properties that this search could not check (e.g. liveness during simulation), with the reason.
    unchecked: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.violation is None

    @property
    def complete(self) -> bool:
        return self.status == "ok"

    def verdict(self) -> str:
        """One line that states the verdict and its bounds."""
        s = self.stats
        size = f"{s.distinct_states:,} distinct states, {s.generated:,} generated, depth {s.depth}"
        if self.violation is not None:
            v = self.violation
            return f"violation of {v.property} ({v.kind}) after {size}; {self.bounds.describe()}"
        if self.status == "ok":
            return f"all properties hold: {size}; exhaustive ({self.bounds.describe()})"
        if self.status == "interrupted":
            return f"interrupted: no violation in {size} explored so far; {self.bounds.describe()}"
        return f"no violation within bounds ({self.cut}): {size}; {self.bounds.describe()}"
