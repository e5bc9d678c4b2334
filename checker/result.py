"""What a check returns: the verdict, the statistics, and a counterexample trace."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Any, Literal

import attrs

from checker.model import Property

Status = Literal["ok", "violation", "bounded", "interrupted"]
#: A property's own verdict; see `PropertyStatus`.
Verdict = Literal["holds", "violated", "vacuous", "unchecked"]
ViolationKind = Literal["always", "sometimes", "eventually", "leads_to", "eventually_always", "leads_to_always",
                        "deadlock"]


@attrs.frozen
class Step:
    """One state of a trace and the action that led to it (None for the initial state)."""

    action: Hashable | None
    state: Any


@attrs.frozen
class Violation:
    """A violated property and its counterexample.

    For liveness the trace is a lasso: `trace[loop_start:]` is the loop (for `eventually_always` and
    `leads_to_always` the loop starts in a state where the goal is false, and may pass through states where it
    holds: the goal keeps failing forever). When `loop_start < len(trace) - 1`,
    the last step's state equals `trace[loop_start].state` (the loop closes; under symmetry it is equivalent);
    when `loop_start == len(trace) - 1`, the behaviour stutters in the last state forever.
    A `sometimes` property that no state satisfies has an empty trace.
    """

    property: str
    kind: ViolationKind
    trace: tuple[Step, ...]
    loop_start: int | None = None


@attrs.frozen
class PropertyStatus:
    """One property's verdict (deadlock freedom, when checked, is listed as a property named "deadlock").

    - `holds`: proved on the whole reachable space (for `sometimes`: a witness was found, which any search
      proves);
    - `violated`: a counterexample exists (for liveness, a fair lasso made of fully expanded states, which a
      bounded search may find too);
    - `vacuous`: a `leads_to` / `leads_to_always` whose premise no reachable state satisfies, after an exhaustive
      search: the formula is true, but it promises nothing;
    - `unchecked`: no verdict, and `reason` says why (the search stopped at an earlier violation, was bounded or
      interrupted, or simulated).
    """

    name: str
    kind: str
    status: Verdict
    reason: str | None = None

    def describe(self) -> str:
        """"Name: status (reason)", as the report prints it."""
        return f"{self.name}: {self.status}" + (f" ({self.reason})" if self.reason else "")


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
    #: "exact" or "fingerprint" (`checker.graph`), or "hash" (forked workers storing Python's hash of each state,
    #: `checker.hashed`); with fingerprints, TLC's two estimates of the probability that two distinct states shared
    #: one (calculated (optimistic), based on the actual fingerprints: None for "hash", not estimated).
    storage: str = "exact"
    collision: tuple[float, float | None] | None = None
    #: Worker processes of the search (`checker.parallel`).
    workers: int = 1
    #: The reductions the model applied (``Model.reductions``), stated in the verdict.
    reductions: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.simulate is not None:
            parts = [f"simulation: {self.simulate} runs of depth ≤ {self.sim_depth}, seed {self.seed}"]
        else:
            parts = [f"{self.strategy.upper()}"]
            parts.append(f"max states {self.max_states:,}" if self.max_states else "no state bound")
            parts.append(f"max depth {self.max_depth}" if self.max_depth else "no depth bound")
        if self.constraint:
            parts.append("state constraint")
        if self.reductions:
            parts.append("reductions: " + ", ".join(self.reductions))
        elif self.symmetry:
            parts.append("symmetry reduction")
        if not self.deadlock:
            parts.append("deadlock not checked")
        if self.workers > 1:
            parts.append(f"{self.workers} worker processes")
        if self.storage != "exact":
            parts.append(self.storage_note())
        return ", ".join(parts)

    def storage_note(self) -> str:
        if self.collision is None:
            return f"{self.storage} storage"
        calculated, observed = self.collision
        if observed is None:
            return (f"fingerprint storage by Python's hash (probability of a fingerprint collision: {calculated:.1E} "
                    f"calculated, assuming uniform hashes, which Python's hash of ints is not: docs/checker.md)")
        return (f"{self.storage} storage (probability of a fingerprint collision: {calculated:.1E} calculated, "
                f"{observed:.1E} observed)")


@attrs.frozen
class Result:
    """The verdict of `check`.

    `status` is "ok" when every property holds on the whole reachable space, "violation" when one failed,
    "bounded" when a bound (max states, max depth, simulation) cut the search short with no violation found,
    and "interrupted" when the user stopped it. `ok` is True when no violation was found. `properties` holds
    each property's own verdict (`PropertyStatus`); "ok" with a `vacuous` property still means nothing is
    violated, and `verdict()` then names the vacuous ones instead of saying "all properties hold".
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
    #: Every property's own verdict, in the model's order (deadlock first, when checked).
    properties: tuple[PropertyStatus, ...] = ()

    @property
    def ok(self) -> bool:
        return self.violation is None

    def status_of(self, name: str) -> Verdict:
        """The verdict of the property called `name` ("deadlock" for deadlock freedom); KeyError if none is."""
        for p in self.properties:
            if p.name == name:
                return p.status
        raise KeyError(f"no property {name!r} in this result")

    @property
    def vacuous(self) -> tuple[str, ...]:
        """The properties that hold only because their premise is never reached."""
        return tuple(p.name for p in self.properties if p.status == "vacuous")

    def counts(self) -> dict[str, int]:
        """How many properties have each verdict (every verdict listed, zeros included)."""
        counts = dict.fromkeys(("holds", "violated", "vacuous", "unchecked"), 0)
        for p in self.properties:
            counts[p.status] += 1
        return counts

    @property
    def complete(self) -> bool:
        return self.status == "ok"

    def verdict(self) -> str:
        """One line that states the verdict and its bounds."""
        s = self.stats
        size = f"{s.distinct_states:,} distinct states, {s.generated:,} generated, depth {s.depth}"
        if self.violation is not None:
            v = self.violation
            others = [p.name for p in self.properties if p.status == "violated" and p.name != v.property]
            also = f" (also violated: {', '.join(others)})" if others else ""
            return f"violation of {v.property} ({v.kind}){also} after {size}; {self.bounds.describe()}"
        if self.status == "ok" and self.vacuous:
            # Never "all properties hold": a vacuous property is true and promises nothing.
            n = self.counts()
            vacuous = "; ".join(p.describe() for p in self.properties if p.status == "vacuous")
            return (f"no property violated: {n['holds']} hold, {n['vacuous']} vacuous; {vacuous}; {size}; "
                    f"exhaustive ({self.bounds.describe()})")
        if self.status == "ok":
            return f"all properties hold: {size}; exhaustive ({self.bounds.describe()})"
        if self.status == "interrupted":
            return f"interrupted: no violation in {size} explored so far; {self.bounds.describe()}"
        return f"no violation within bounds ({self.cut}): {size}; {self.bounds.describe()}"


def exhaustive_statuses(properties: Sequence[Property], *, deadlock: bool, failure: tuple[str, str] | None,
                        cut: str | None, interrupted: bool, witnessed: Collection[str],
                        refuted: Mapping[str, bool], premise_reached: Mapping[str, bool]) -> tuple[PropertyStatus, ...]:
    """Every property's verdict after an exhaustive search (BFS or DFS), by these rules:

    `failure` is the (name, kind) of the safety violation or deadlock that stopped the search, `cut` why a bound
    stopped it, `refuted` the liveness properties evaluated on the explored graph (True: a fair lasso violates
    it), `premise_reached` whether a leads-to's premise held in some explored state. The search is complete when
    nothing stopped it; only then do invariants, deadlock freedom and liveness hold, and does a leads-to whose
    premise was never reached become vacuous. A property that a stopped search did not decide is unchecked.
    """
    complete = failure is None and cut is None and not interrupted
    if failure is not None:
        why = f"not decided: the search stopped at the violation of {failure[0]}"
    elif interrupted:
        why = "not decided: the search was interrupted"
    elif cut is not None:
        why = f"not decided: bounded search ({cut})"
    else:
        why = ""
    out = []
    if deadlock:
        out.append(_safety("deadlock", "deadlock", failure, complete, why))
    for p in properties:
        if p.kind == "always":
            out.append(_safety(p.name, p.kind, failure, complete, why))
        elif p.kind == "sometimes":
            if p.name in witnessed:
                out.append(PropertyStatus(p.name, p.kind, "holds"))
            elif complete:
                out.append(PropertyStatus(p.name, p.kind, "violated", "no reachable state satisfies it"))
            else:
                out.append(PropertyStatus(p.name, p.kind, "unchecked", why))
        elif refuted.get(p.name):
            out.append(PropertyStatus(p.name, p.kind, "violated"))
        elif not complete or p.name not in refuted:
            out.append(PropertyStatus(p.name, p.kind, "unchecked", why or "not evaluated"))
        elif p.has_premise and not premise_reached.get(p.name, False):
            out.append(PropertyStatus(p.name, p.kind, "vacuous", "premise never reached"))
        else:
            out.append(PropertyStatus(p.name, p.kind, "holds"))
    return tuple(out)


def simulation_statuses(properties: Sequence[Property], *, deadlock: bool, failure: tuple[str, str] | None,
                        witnessed: Collection[str]) -> tuple[PropertyStatus, ...]:
    """Every property's verdict after random simulation: a violation found, or a `sometimes` witness, decides;
    nothing else is decided (the walks cover part of the space, and liveness needs all of it)."""
    why = "not decided: simulation covers only part of the space"
    out = []
    for name, kind in ([("deadlock", "deadlock")] if deadlock else []) + [(p.name, p.kind) for p in properties]:
        if failure is not None and failure[0] == name:
            out.append(PropertyStatus(name, kind, "violated"))
        elif kind == "sometimes" and name in witnessed:
            out.append(PropertyStatus(name, kind, "holds"))
        else:
            out.append(PropertyStatus(name, kind, "unchecked", why))
    return tuple(out)


def _safety(name: str, kind: str, failure: tuple[str, str] | None, complete: bool, why: str) -> PropertyStatus:
    if failure is not None and failure[0] == name:
        return PropertyStatus(name, kind, "violated")
    return PropertyStatus(name, kind, "holds") if complete else PropertyStatus(name, kind, "unchecked", why)
