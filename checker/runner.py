"""`check(model, **options) -> Result`: the one entry point that runs a search and states its verdict (exported
as ``checker.check``; the module is named apart from the function so that importing it never hides the function
behind the package attribute the import system sets for a submodule)."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Hashable, Iterator, Mapping
from typing import Any

import attrs

from checker.checkpoint import Checkpointing, Snapshot
from checker.checkpoint import load as load_checkpoint
from checker.errors import InputError
from checker.fingerprint import collision_observed, collision_optimistic
from checker.graph import STORAGES
from checker.hashed import explore_hashed
from checker.liveness import FairCycles, violation_lasso
from checker.model import Model, Property, overrides
from checker.parallel import explore_parallel
from checker.paths import trace_of
from checker.result import (
    ActionCoverage,
    Bounds,
    Result,
    Stats,
    Status,
    Step,
    Violation,
    exhaustive_statuses,
    simulation_statuses,
)
from checker.search import Outcome, ProgressFn, explore, fairness_masks
from checker.sharded import explore_sharded
from checker.simulation import simulate
from checker.visitor import Visitor

STRATEGIES = ("bfs", "dfs")


def action_name(action: Hashable) -> str:
    """The class of an action, for coverage: a string itself, a tuple's leading string, else the type's name."""
    if isinstance(action, str):
        return action
    if isinstance(action, tuple) and action and isinstance(action[0], str):
        return action[0]
    name = getattr(action, "name", None)
    if isinstance(name, str) and not hasattr(type(action), "__attrs_attrs__"):
        return name
    return type(action).__name__


def coverage(generated_by: Mapping[Hashable, int], distinct_by: Mapping[Hashable, int]) -> dict[str, ActionCoverage]:
    gen: dict[str, int] = {}
    dist: dict[str, int] = {}
    for a, n in generated_by.items():
        k = action_name(a)
        gen[k] = gen.get(k, 0) + n
    for a, n in distinct_by.items():
        k = action_name(a)
        dist[k] = dist.get(k, 0) + n
    return {k: ActionCoverage(gen[k], dist.get(k, 0)) for k in sorted(gen)}


def validate(model: Model) -> None:
    """Reject a model whose shape is wrong before searching."""
    for attr in ("init_states", "successors"):
        if not callable(getattr(model, attr, None)):
            raise InputError(f"the model has no {attr}() method")
    names: set[str] = set()
    for p in model.properties:
        if not isinstance(p, Property):
            raise InputError(f"model.properties holds {p!r}, not one made by always/sometimes/eventually/leads_to")
        if p.name in names or p.name == "deadlock":
            raise InputError(f"property name {p.name!r} is used twice (or is the reserved name 'deadlock')")
        names.add(p.name)
    if len(model.fairness) > 62:
        raise InputError("at most 62 fairness conditions are supported")


def check(model: Model, *, strategy: str = "bfs", max_states: int | None = None, max_depth: int | None = None,
          deadlock: bool = True, simulate: int | None = None, depth: int = 100, seed: int = 0,
          progress: ProgressFn | None = None, stop: Callable[[], bool] | None = None,
          storage: str | None = None, checkpoint: str | None = None, checkpoint_every: float = 300.0,
          checkpoint_meta: Mapping[str, Any] | None = None, resume: str | None = None, workers: int = 1,
          bitstate: int | None = None, max_memory: int | None = None, ray: str | None = None,
          visitor: Visitor | None = None) -> Result:
    """Check every property of `model`; see `Result` for the verdicts.

    `storage` is "exact" (the default with one worker) or "fingerprint" (`checker.graph`); `bitstate=MBYTES` is
    SPIN's bitstate hashing in a bit array of that many MiB (never exhaustive: the verdict says "bounded" and
    estimates the coverage); `workers=N` searches breadth-first in N processes with the same result: with safety
    properties alone, by default each stores Python's hash of every state ("hash" storage, `checker.hashed`), or
    with ``storage="exact"``, a checkpoint or a resume, each stores its shard of the states exactly
    (`checker.sharded`); with liveness properties the coordinator keeps the merged graph (`checker.parallel`,
    fingerprint storage); with `ray="auto"` or an address they are Ray actors (`checker.ray_backend`, the
    sharded protocol or the merged graph's).
    `checkpoint=DIR` writes a checkpoint there every `checkpoint_every` seconds and when SIGINT or SIGTERM stops
    the search (`checkpoint_meta`, JSON-able, says how to load the model again); `resume=DIR` continues the
    search of a checkpoint, with its options (the model must be the same). `max_states`, `max_depth` and
    `max_memory` (MiB in use by the search's processes) bound an exhaustive search (a search cut short says
    "bounded", never "ok"); `max_depth` counts states on a path, initial state included. `simulate=N` runs N
    random walks of at most `depth` states from `seed` instead of exhausting the space. `stop` is asked now and
    then whether to stop as if interrupted (the command line answers yes once Ctrl-C was pressed). `visitor` is
    told each state, edge and expansion of the search as it happens (`checker.visitor`; one worker, exact storage,
    no simulation, no resume).
    """
    validate(model)
    if visitor is not None and (workers != 1 or ray is not None or storage not in (None, "exact")
                                or bitstate is not None or simulate is not None or resume is not None):
        raise InputError("a visitor needs the exhaustive search of one worker with exact storage (no --workers, "
                         "--storage fingerprint, --bitstate, --simulate or --resume)")
    if strategy not in STRATEGIES:
        raise InputError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    for label, value in (("max states", max_states), ("max depth", max_depth), ("simulation runs", simulate)):
        if value is not None and value < 1:
            raise InputError(f"{label} must be at least 1, got {value}")
    wanted = storage
    storage = storage or "exact"
    if bitstate is not None:
        if bitstate < 1 or workers > 1 or checkpoint is not None or resume is not None:
            raise InputError("bitstate hashing takes a size of at least 1 MiB, one worker and no checkpoints")
        storage = "bitstate"
    elif storage == "bitstate":
        raise InputError("bitstate storage needs its size: bitstate=MBYTES")
    if storage == "hash":
        if workers < 2 or ray is not None or checkpoint is not None or resume is not None or simulate is not None:
            raise InputError("hash storage is for forked worker processes (workers >= 2, no Ray, no checkpoint)")
    elif storage not in STORAGES:
        raise InputError(f"unknown storage {storage!r}: choose one of {', '.join(STORAGES)}")
    snapshot = None
    if resume is not None:
        if simulate is not None:
            raise InputError("a simulation cannot be resumed: only exhaustive searches write checkpoints")
        snapshot = load_checkpoint(resume, {type(model).__module__.split(".")[0]})
        strategy, max_states, max_depth = (snapshot.options[k] for k in ("strategy", "max_states", "max_depth"))
        deadlock, storage = snapshot.options["deadlock"], snapshot.options["storage"]
        if snapshot.graph.with_edges != any(p.is_liveness for p in model.properties):
            raise InputError(f"{resume}: the checkpoint was written for a model with other properties")
    if workers < 1:
        raise InputError(f"workers must be at least 1, got {workers}")
    if workers > 1 and simulate is None or ray is not None:
        if strategy != "bfs":
            raise InputError("worker processes search breadth-first only (depth-first order is sequential)")
        # Safety alone: each worker (process or Ray actor) stores its shard of the states exactly
        # (checker.sharded). With liveness the coordinator keeps the merged graph by fingerprints (checker.parallel).
        sharded = not any(p.is_liveness for p in model.properties)
        if not sharded:
            storage = "fingerprint"
        elif wanted == "exact" or ray is not None or checkpoint is not None or resume is not None:
            storage = "exact"  # a hash is the same only in processes forked from this one, and only until it exits
        else:
            storage = "hash"
    if checkpoint_every <= 0:
        raise InputError(f"the checkpoint interval must be positive, got {checkpoint_every}")
    if max_memory is not None and max_memory < 1:
        raise InputError(f"max memory must be at least 1 MiB, got {max_memory}")
    if simulate is not None and depth < 1:
        raise InputError(f"simulation depth must be at least 1, got {depth}")
    liveness = [p for p in model.properties if p.is_liveness]
    reductions = tuple(model.reductions())
    symmetry = overrides(model, "canonical") and bool(reductions)
    constrained = overrides(model, "constraint")
    warnings = []
    if symmetry and any(not model.symmetric(p) for p in liveness):
        warnings.append("symmetry reduction with liveness properties is sound only if the properties and fairness "
                        "are symmetric too; otherwise it can hide or invent violations (as in TLC)")
    if liveness and constrained:
        warnings.append("a state constraint with liveness properties cuts behaviours short (as in TLC)")
    with _rarer_collections():
        if simulate is not None:
            return _simulate(model, simulate, depth, seed, deadlock, progress, warnings)
        bounds = Bounds(strategy, max_states, max_depth, deadlock, constrained, symmetry, storage=storage,
                        reductions=reductions, workers=workers)
        if storage == "bitstate" and liveness:
            warnings.append("liveness needs the state graph, which bitstate hashing does not keep: not checked")
        every = None if checkpoint is None else Checkpointing(checkpoint, checkpoint_every, dict(checkpoint_meta or {}))
        if every is not None and snapshot is not None and not checkpoint_meta:
            every.meta = snapshot.meta
        return _exhaust(model, strategy, max_states, max_depth, deadlock, progress, stop, liveness, bounds,
                        tuple(warnings), every, snapshot, (bitstate or 0) * 2**20, max_memory, ray, visitor)


@contextlib.contextmanager
def _rarer_collections() -> Iterator[None]:
    """A search allocates many small objects that live as long as it does (states, a model's memo tables); at
    the default threshold (700 allocations) the cyclic garbage collector walks the young ones thousands of times,
    which took a seventh of the time of a 44,000-state check. Raised while checking, as mypy does for its builds
    (reference counting still frees everything that is not in a cycle); restored after."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], 100_000), old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def _exhaust(model: Model, strategy: str, max_states: int | None, max_depth: int | None, deadlock: bool,
             progress: ProgressFn | None, stop: Callable[[], bool] | None, liveness: list[Property], bounds: Bounds,
             warnings: tuple[str, ...], checkpoint: Checkpointing | None = None, resume: Snapshot | None = None,
             bitstate_bytes: int = 0, max_memory: int | None = None, ray: str | None = None,
             visitor: Visitor | None = None) -> Result:
    started = time.perf_counter() - (resume.elapsed if resume is not None else 0.0)
    if bounds.storage == "hash":
        out = explore_hashed(model, workers=bounds.workers, max_states=max_states, max_depth=max_depth,
                             deadlock=deadlock, progress=progress, stop=stop, max_memory=max_memory)
    elif (bounds.workers > 1 or ray is not None) and not liveness:
        shards = None
        if ray is not None:
            from checker.ray_backend import shard_factory

            shards = shard_factory(ray)
        out = explore_sharded(model, workers=bounds.workers, max_states=max_states, max_depth=max_depth,
                              deadlock=deadlock, progress=progress, stop=stop, max_memory=max_memory,
                              pool_factory=shards, stable=ray is not None, checkpoint=checkpoint, resume=resume)
    elif bounds.workers > 1 or ray is not None:
        factory = None
        if ray is not None:
            from checker.ray_backend import pool_factory

            factory = pool_factory(ray)
        out = explore_parallel(model, workers=bounds.workers, max_states=max_states, max_depth=max_depth,
                               deadlock=deadlock, with_edges=bool(liveness), progress=progress, stop=stop,
                               max_memory=max_memory, pool_factory=factory, checkpoint=checkpoint, resume=resume)
    else:
        if bounds.storage == "bitstate":
            liveness = []  # no graph: not checked (a warning says so)
        out = explore(model, strategy=strategy, max_states=max_states, max_depth=max_depth, deadlock=deadlock,
                      with_edges=bool(liveness), progress=progress, stop=stop, storage=bounds.storage,
                      checkpoint=checkpoint, resume=resume, bitstate_bytes=bitstate_bytes, max_memory=max_memory,
                      visitor=visitor)
    if bounds.storage == "bitstate" and out.cut is None and not out.interrupted and out.failure is None:
        out.cut = out.graph.fp_set.describe()  # never "ok": some states may have been taken for known ones
    if bounds.storage == "hash":
        # Only TLC's calculated estimate: the least distance between two hashes says nothing when Python's hash of
        # a small int is the int itself (checker.hashed).
        bounds = attrs.evolve(bounds, collision=(collision_optimistic(len(out.graph), out.generated), None))
    elif bounds.storage == "fingerprint":
        bounds = attrs.evolve(bounds, collision=(collision_optimistic(len(out.graph), out.generated),
                                                 collision_observed(out.graph.stored_fingerprints())))
    violation = None
    if out.failure is not None:
        name, kind, i = out.failure
        trace = trace_of(model, out.graph, out.graph.path_to(i), beyond=out.beyond)
        violation = Violation(name, kind, trace)  # type: ignore[arg-type]
    complete = out.cut is None and not out.interrupted
    if violation is None and complete:
        for p in model.properties:
            if p.kind == "sometimes" and p.name not in out.witnessed:
                violation = Violation(p.name, "sometimes", ())
                break
    refuted: dict[str, bool] = {}
    if out.failure is None and not out.interrupted:
        # Every liveness property is evaluated (for its own verdict); the first violated one gives the trace.
        found, refuted = _liveness(model, out, liveness, trace=violation is None)
        violation = violation or found
    properties = exhaustive_statuses(
        model.properties, deadlock=deadlock, failure=out.failure[:2] if out.failure else None, cut=out.cut,
        interrupted=out.interrupted, witnessed=out.witnessed, refuted=refuted,
        premise_reached={p.name: 1 in out.premise_bits[k] for k, p in enumerate(liveness)})
    stats = _stats(out, started)
    status: Status
    if violation is not None:
        status = "violation"
    elif out.interrupted:
        status = "interrupted"
    else:
        status = "ok" if complete else "bounded"
    return Result(status, stats, bounds, violation, out.cut, (), warnings, properties)


def _stats(out: Outcome, started: float) -> Stats:
    return Stats(len(out.graph), out.generated, out.max_depth, time.perf_counter() - started,
                 coverage(out.generated_by, out.distinct_by), out.queue)


def _liveness(model: Model, out: Outcome, liveness: list[Property],
              trace: bool) -> tuple[Violation | None, dict[str, bool]]:
    """Each liveness property's verdict on the explored graph (True: violated), and the counterexample of the
    first violated one when `trace` is asked for."""
    g = out.graph
    weak, strong, mask_of = fairness_masks(model)
    roots = [i for i in range(len(g)) if g.parent[i] == -1]
    violation = None
    refuted = {}
    cycles = FairCycles(g, weak, strong)  # the fair components, found once for all the recurrence properties
    for k, p in enumerate(liveness):
        lasso = violation_lasso(g, p.kind, out.goal_bits[k], out.premise_bits[k], roots, weak, strong, cycles)
        refuted[p.name] = lasso is not None
        if lasso is not None and trace and violation is None:
            path = list(lasso.prefix) + list(lasso.loop[1:])
            prefer = [0] * (len(lasso.prefix) - 1) + list(lasso.takes)
            steps = trace_of(model, g, path, prefer, mask_of)
            violation = Violation(p.name, p.kind, steps, len(lasso.prefix) - 1)
    return violation, refuted


def _simulate(model: Model, runs: int, depth: int, seed: int, deadlock: bool, progress: ProgressFn | None,
              warnings: list[str]) -> Result:
    started = time.perf_counter()
    out = simulate(model, runs=runs, depth=depth, seed=seed, deadlock=deadlock, progress=progress)
    bounds = Bounds("simulation", deadlock=deadlock, constraint=overrides(model, "constraint"),
                    symmetry=overrides(model, "canonical"), simulate=runs, sim_depth=depth, seed=seed,
                    reductions=tuple(model.reductions()))
    stats = Stats(out.distinct, out.generated, out.max_depth, time.perf_counter() - started,
                  coverage(out.generated_by, {}), 0)
    unchecked = tuple(f"{p.name} ({p.kind}: needs an exhaustive search)" for p in model.properties
                      if p.is_liveness or p.kind == "sometimes" and p.name not in out.witnessed)
    properties = simulation_statuses(model.properties, deadlock=deadlock, witnessed=out.witnessed,
                                     failure=(out.failure[0], out.failure[1]) if out.failure else None)
    if out.failure is not None:
        v = Violation(out.failure[0], out.failure[1], out.trace)  # type: ignore[arg-type]
        return Result("violation", stats, bounds, v, None, unchecked, tuple(warnings), properties)
    status = "interrupted" if out.interrupted else "bounded"
    cut = f"{out.runs} random runs of at most {depth} states"
    return Result(status, stats, bounds, None, cut, unchecked, tuple(warnings),  # type: ignore[arg-type]
                  properties)


__all__ = ["check", "action_name", "Step"]
