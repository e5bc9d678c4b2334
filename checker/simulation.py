"""Seeded random simulation, for state spaces too large to exhaust (TLC's -simulate, Stateright's simulation).

Each run starts at a random initial state and takes random enabled steps up to a depth; invariants and deadlock
are checked on every state visited. Liveness needs the whole graph and is not checked.
"""

from __future__ import annotations

import random
import time
from collections.abc import Hashable
from typing import Any

import attrs

from checker.errors import ModelError
from checker.model import Model, overrides
from checker.result import Step
from checker.search import ProgressFn, holds


@attrs.define
class SimulationOutcome:
    distinct: int = 0
    generated: int = 0
    max_depth: int = 0
    runs: int = 0
    failure: tuple[str, str] | None = None
    trace: tuple[Step, ...] = ()
    interrupted: bool = False
    generated_by: dict[Hashable, int] = attrs.field(factory=dict)
    witnessed: set[str] = attrs.field(factory=set)


def simulate(model: Model, *, runs: int, depth: int, seed: int, deadlock: bool,
             progress: ProgressFn | None = None) -> SimulationOutcome:
    rng = random.Random(seed)
    out = SimulationOutcome()
    invariants = [(p.name, p.pred) for p in model.properties if p.kind == "always"]
    witnesses = [p for p in model.properties if p.kind == "sometimes"]
    constraint = model.constraint if overrides(model, "constraint") else None
    seen: set[Any] = set()
    started = last = time.perf_counter()

    def visit(state: Any) -> str | None:
        if state not in seen:
            seen.add(state)
        for name, pred in invariants:
            if not holds(name, pred, state):
                return name
        for p in witnesses:
            if p.name not in out.witnessed and holds(p.name, p.pred, state):
                out.witnessed.add(p.name)
        return None

    try:
        inits = [s for s in model.init_states() if constraint is None or holds("constraint", constraint, s)]
        if not inits:
            return out
        for _ in range(runs):
            out.runs += 1
            state = rng.choice(inits)
            trace = [Step(None, state)]
            bad = visit(state)
            while bad is None and len(trace) < depth:
                succ = list(model.successors(state))
                out.generated += len(succ)
                for a, _ in succ:
                    out.generated_by[a] = out.generated_by.get(a, 0) + 1
                if not succ:
                    if deadlock:
                        out.failure, out.trace = ("deadlock", "deadlock"), tuple(trace)
                        return out
                    break
                if constraint is not None:
                    succ = [(a, t) for a, t in succ if holds("constraint", constraint, t)]
                    if not succ:
                        break
                action, state = succ[rng.randrange(len(succ))]
                trace.append(Step(action, state))
                bad = visit(state)
            out.max_depth = max(out.max_depth, len(trace))
            out.distinct = len(seen)
            if bad is not None:
                out.failure, out.trace = (bad, "always"), tuple(trace)
                return out
            if progress is not None and time.perf_counter() - last >= 0.25:
                last = time.perf_counter()
                progress(len(seen), out.generated, out.max_depth, runs - out.runs, last - started)
    except KeyboardInterrupt:
        out.interrupted = True
    except ModelError:
        raise
    except (Exception, SystemExit) as exc:  # a model calling sys.exit is a model error, not a verdict
        raise ModelError(f"the model raised {type(exc).__name__}: {exc} during simulation run {out.runs}") from exc
    out.distinct = len(seen)
    return out
