"""Breadth-first search in worker processes (`--workers N`), with the results of one worker.

The search goes level by level. Each level's frontier is split into N contiguous runs, in the order in which the
sequential search would expand them, one per worker process. A worker holds its run's states (they never leave
it unless the runs are rebalanced), expands them, fingerprints the successors (`checker.fingerprint`: the same
fingerprints in every process), drops those already known (each worker keeps the set of every fingerprint found
so far, sent to it at the end of each level as 8 bytes each) or already met in its run, evaluates the properties
on the rest, and sends the coordinator only fingerprints, actions and property bits. The coordinator walks the
results in the sequential order (worker 0's run first, each run in order), so the first worker to report a new
state is the one the sequential search would have found it through: states get the same indices, parents and
depths, a violation is found at the same state, after the same number of generated states, and the trace (rebuilt
by re-execution from the parent links, `checker.paths`) is the same. Liveness is decided on the merged graph: a
worker sends every non-stuttering edge of its expansions as (fingerprint, fairness mask), and the coordinator
maps fingerprints to indices. New states stay with the worker that found them and form its next run; when the
runs drift apart (a tie goes to the earlier run), the coordinator moves states between neighbouring workers so
that the runs stay contiguous and even.

Workers are forked (`multiprocessing`'s fork context), so the model is not pickled; states only cross processes
when runs are rebalanced, and counterexample states never do. The coordinator stores fingerprints (the
fingerprint storage of `checker.graph`), so `--workers` implies `--storage fingerprint`.

A stop (a signal, `stop`) and a checkpoint wait for the level under way to end (a second signal does not wait):
the checkpoint is then the format of one worker's breadth-first search with fingerprint storage at the end of a
level (the coordinator's graph, edges and counters, and the next level's states gathered from the workers' runs),
so one worker or any number of workers resume it.

What it omits: depth-first search (its order is inherently sequential) and other machines (see the Ray backend in
docs/checker.md).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import signal
import time
from array import array
from collections.abc import Callable, Hashable
from multiprocessing.connection import Connection
from typing import Any

from checker.checkpoint import Checkpointing, Snapshot, save
from checker.entry import STOP_SIGNALS
from checker.errors import InputError, ModelError
from checker.fingerprint import Fingerprinter
from checker.graph import NO_PARENT, StateGraph
from checker.model import Model, overrides
from checker.search import Outcome, ProgressFn, _defer_signals, _deliver, count_actions, fairness_masks, first, holds
from checker.storage import resident_bytes

#: Runs are rebalanced when the largest is this much above the mean.
IMBALANCE = 1.15


class _Candidate:
    """A successor a worker met first in its run and did not know: sent to the coordinator."""

    __slots__ = ("pos", "sp", "fp", "action", "failing", "witnessed", "goals", "premises")

    def __init__(self, pos: int, sp: int, fp: int, action: Hashable, failing: str | None, witnessed: int,
                 goals: int, premises: int) -> None:
        self.pos, self.sp, self.fp, self.action = pos, sp, fp, action
        self.failing, self.witnessed, self.goals, self.premises = failing, witnessed, goals, premises

    def __reduce__(self) -> Any:
        return (_Candidate, (self.pos, self.sp, self.fp, self.action, self.failing, self.witnessed, self.goals,
                             self.premises))


def cpu_count() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# --- The worker ---------------------------------------------------------------------------------------------------


class _Worker:
    """One worker's side: its run of the frontier, the known fingerprints, and the level's coverage."""

    def __init__(self, model: Model, max_depth: int | None, with_edges: bool) -> None:
        self.model = model
        self.max_depth = max_depth
        self.with_edges = with_edges
        self.fp = Fingerprinter()
        self.known: set[int] = set()
        self.run: list[tuple[int, int, Any]] = []  # (index, depth, state), in order
        self.found: list[Any] = []  # this level's new states, by candidate number
        self.actions: list[list[Hashable]] = []  # per expansion of this level: the successors' actions
        self.invariants = [(p.name, p.pred) for p in model.properties if p.kind == "always"]
        self.witnesses = [p for p in model.properties if p.kind == "sometimes"]
        self.liveness = [p for p in model.properties if p.is_liveness]
        self.canonical = model.canonical if overrides(model, "canonical") else None
        self.constraint = model.constraint if overrides(model, "constraint") else None
        self.hidden = model.hidden_fairness if overrides(model, "hidden_fairness") else None
        self.class_bit = {f.name: 1 << k for k, f in enumerate(model.fairness)}
        _, _, self.mask_of = fairness_masks(model)

    def expand(self) -> dict[str, Any]:
        """Expand the run; see the module's docstring for what is sent back."""
        model, fpr, known = self.model, self.fp, self.known
        canonical, constraint, invariants = self.canonical, self.constraint, self.invariants
        with_edges, mask_of = self.with_edges, self.mask_of
        local: set[int] = set()
        n_succ = array("q")
        candidates: list[_Candidate] = []
        found: list[Any] = []
        actions: list[list[Hashable]] = []
        edges: list[list[tuple[int, int]]] = []
        enabled = array("q")
        beyond: tuple[int, int, str, Any] | None = None
        for pos, (_, d, s) in enumerate(self.run):
            # At the depth bound a state with a successor not yet found cuts the search (it is not expanded); one
            # whose successors were all found is expanded like any other, as in the sequential search. Every state
            # up to the bound is known by then (a level at the bound stores nothing new).
            if (self.max_depth is not None and d >= self.max_depth
                    and any(fpr(t if canonical is None else canonical(t)) not in known
                            for _, t in model.successors(s))):
                n_succ.append(-1)
                actions.append([])
                edges.append([])
                enabled.append(0)
                continue
            succ = list(model.successors(s))
            n_succ.append(len(succ))
            actions.append(list(map(first, succ)))
            fs = fpr(s) if with_edges else 0
            out_edges: list[tuple[int, int]] = []
            en = 0
            for sp, (a, t) in enumerate(succ):
                if canonical is not None:
                    t = canonical(t)
                if constraint is not None and not holds("constraint", constraint, t):
                    for name, pred in invariants:
                        if not holds(name, pred, t):
                            beyond = (pos, sp, name, t)
                            break
                    if beyond is not None:
                        break
                    if with_edges and t != s:
                        en |= mask_of(a)
                    continue
                f = fpr(t)
                if with_edges and f != fs:
                    m = mask_of(a)
                    en |= m
                    out_edges.append((f, m))
                if f in known or f in local:
                    continue
                local.add(f)
                failing = None
                for name, pred in invariants:
                    if not holds(name, pred, t):
                        failing = name  # the last that fails, as the sequential search reports
                wit = 0
                for k, p in enumerate(self.witnesses):
                    if holds(p.name, p.pred, t):
                        wit |= 1 << k
                goals = premises = 0
                for k, p in enumerate(self.liveness):
                    goal = holds(p.name, p.pred, t)
                    if goal:
                        goals |= 1 << k
                    if p.premise is not None and (not goal if p.negated_premise else holds(p.name, p.premise, t)):
                        premises |= 1 << k
                candidates.append(_Candidate(pos, sp, f, a, failing, wit, goals, premises))
                found.append(t)
            if beyond is not None:
                edges.append(out_edges)
                enabled.append(en)
                break
            if with_edges and self.hidden is not None:
                for name in self.hidden(s):
                    en |= self.class_bit[name]
            edges.append(out_edges)
            enabled.append(en)
        self.found, self.actions = found, actions
        return {"n_succ": n_succ, "candidates": candidates, "beyond": beyond,
                "edges": edges if with_edges else None, "enabled": enabled, "generated_by": self.coverage(len(actions))}

    def coverage(self, upto: int) -> dict[Hashable, int]:
        """Actions generated by this level's expansions 0..upto-1."""
        counts: dict[Hashable, int] = {}
        for acts in self.actions[:upto]:
            count_actions(counts, acts)
        return counts

    def commit(self, winners: list[tuple[int, int]], depth: int, new_fps: bytes) -> None:
        """The next run: the candidates that won (candidate number, index); every new fingerprint becomes known."""
        found = self.found
        self.run = [(index, depth, found[c]) for c, index in winners]
        self.found, self.actions = [], []
        fps = array("Q")
        fps.frombytes(new_fps)
        self.known.update(fps)
        gc.freeze()  # what is stored lives until the end: keep the cyclic collector from rescanning it


def handle(worker: _Worker, request: str, args: list[Any]) -> Any:
    """Carry out one of the coordinator's requests on a worker (a forked process's or a Ray actor's)."""
    if request == "known":
        fps = array("Q")
        fps.frombytes(args[0])
        worker.known.update(fps)
        return None
    if request == "run":
        worker.run = args[0]
        return None
    if request == "expand":
        return worker.expand()
    if request == "coverage":
        return worker.coverage(args[0])
    if request == "commit":
        worker.commit(*args)
        return None
    if request == "take_front":
        moved, worker.run = worker.run[:args[0]], worker.run[args[0]:]
        return moved
    if request == "take_back":
        cut = len(worker.run) - args[0]
        moved, worker.run = worker.run[cut:], worker.run[:cut]
        return moved
    if request == "put_front":
        worker.run = args[0] + worker.run
        return None
    if request == "put_back":
        worker.run = worker.run + args[0]
        return None
    if request == "states":
        return [(index, state) for index, _, state in worker.run]
    if request == "resident":
        return resident_bytes()
    raise ValueError(f"unknown request {request!r}")


def answer(worker: _Worker, request: str, args: list[Any]) -> tuple[str, Any]:
    """("ok", reply), or ("model-error", one line) when the model raised."""
    return reply(handle, worker, request, args)


def reply(handler: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    """A worker's answer to a request: ("ok", ``handler(*args)``), or ("model-error", one line) when it raised."""
    try:
        return "ok", handler(*args)
    except ModelError as exc:
        return "model-error", str(exc)
    except (Exception, SystemExit) as exc:  # the model raised (or called sys.exit): a model error
        return "model-error", f"the model raised {type(exc).__name__}: {exc} (in a worker)"


def serve(conn: Connection, handler: Callable[..., Any], worker: Any) -> bool:
    """A worker process's loop: answer each request with ``reply(handler, worker, request, args)`` until told to
    stop (True) or the pipe closes (False: the coordinator is gone, killed)."""
    while True:
        try:
            request, *args = conn.recv()
        except (EOFError, OSError):
            return False
        if request == "stop":
            return True
        try:
            conn.send(reply(handler, worker, request, args))
        except OSError:
            return False


def _serve(conn: Connection, model: Model, max_depth: int | None, with_edges: bool) -> None:
    """A worker process: answer the coordinator's requests until told to stop or the pipe closes."""
    serve(conn, handle, _Worker(model, max_depth, with_edges))


# --- The coordinator ----------------------------------------------------------------------------------------------


class Requests:
    """What the coordinator asks of a set of workers: ``send`` a request to worker k, then its ``answer``. The
    process pool below and the Ray actors (``checker.ray_backend``) provide those two; ``ask`` and ``all`` are
    built on them once."""

    def __len__(self) -> int:
        raise NotImplementedError

    def send(self, k: int, *request: Any) -> None:
        raise NotImplementedError

    def answer(self, k: int) -> Any:
        raise NotImplementedError

    def ask(self, k: int, *request: Any) -> Any:
        self.send(k, *request)
        return self.answer(k)

    def all(self, *request: Any) -> list[Any]:
        for k in range(len(self)):
            self.send(k, *request)
        return self.answers()

    def answers(self) -> list[Any]:
        """Every worker's answer, in order; the first model error is raised once all are read (so that no pipe
        is left with an answer unread)."""
        replies, error = [], None
        for k in range(len(self)):
            try:
                replies.append(self.answer(k))
            except ModelError as exc:
                error = error or exc
        if error is not None:
            raise error
        return replies


def _child(serve: Callable[..., None], conn: Connection, coordinators: list[Connection], *args: Any) -> None:
    """A forked worker's start: the coordinator alone answers the signals that stop a check (a terminal's Ctrl-C
    and hang-up, and `timeout`'s SIGTERM, reach the whole process group) and then stops its workers; the
    coordinator's ends of the pipes, inherited by the fork, are closed, so that a worker reads the end of its pipe
    as soon as the coordinator dies (even killed with SIGKILL) and exits."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    for c in coordinators:
        c.close()
    serve(conn, *args)


class Processes(Requests):
    """Worker processes forked from this one, each running ``serve(conn, *args(k))`` and answering requests through
    a pipe with ``("ok", reply)`` or ``("model-error", message)``. ``Pool`` below and ``checker.sharded``'s pool
    are both this, with their own worker loop."""

    def __init__(self, workers: int, serve: Callable[..., None], args: Callable[[int], tuple[Any, ...]]) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conns: list[Connection] = []
        self.procs: list[Any] = []
        for k in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_child, args=(serve, child, [parent, *self.conns], *args(k)), daemon=True)
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    def __len__(self) -> int:
        return len(self.conns)

    def send(self, k: int, *request: Any) -> None:
        self.conns[k].send(request)

    def answer(self, k: int) -> Any:
        try:
            status, reply = self.conns[k].recv()
        except EOFError as exc:
            raise ModelError(f"worker process {k} died (exit code {self.procs[k].exitcode})") from exc
        if status == "model-error":
            raise ModelError(reply)
        return reply

    def resident(self) -> int:
        """Resident memory of the coordinator and its workers."""
        return resident_bytes() + sum(resident_bytes(p.pid) for p in self.procs if p.pid is not None)

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(("stop",))
        for proc in self.procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.kill()  # it ignores SIGTERM
                proc.join(timeout=2)
        for conn in self.conns:
            conn.close()


class Pool(Processes):
    """The workers of this module's search (``_serve``)."""

    def __init__(self, model: Model, workers: int, max_depth: int | None, with_edges: bool) -> None:
        super().__init__(workers, _serve, lambda k: (model, max_depth, with_edges))


PoolFactory = Callable[[Model, int, "int | None", bool], Any]


def explore_parallel(model: Model, *, workers: int, max_states: int | None, max_depth: int | None, deadlock: bool,
                     with_edges: bool, progress: ProgressFn | None = None, stop: Callable[[], bool] | None = None,
                     max_memory: int | None = None, pool_factory: PoolFactory | None = None,
                     checkpoint: Checkpointing | None = None, resume: Snapshot | None = None) -> Outcome:
    """Breadth-first search in `workers` processes; the same Outcome as `search.explore` with fingerprint storage.
    With `checkpoint`, the search writes one between two levels every `checkpoint.every` seconds and when a signal
    stops it, in the format of one worker's breadth-first search with fingerprint storage at the end of a level
    (`checker.checkpoint`), so one worker or any number of workers resume it; `resume` continues from such a
    checkpoint (written by workers, or by one worker with fingerprint storage at the end of a level)."""
    if resume is not None:
        _resumable(resume)
    g = resume.graph if resume is not None else StateGraph(with_edges, "fingerprint")
    out = Outcome(g)
    fpr = g.fingerprints
    assert fpr is not None
    invariants = [(p.name, p.pred) for p in model.properties if p.kind == "always"]
    witnesses = [p for p in model.properties if p.kind == "sometimes"]
    liveness = [p for p in model.properties if p.is_liveness]
    canonical = model.canonical if overrides(model, "canonical") else None
    constraint = model.constraint if overrides(model, "constraint") else None
    out.goal_bits = [bytearray() for _ in liveness]
    out.premise_bits = [bytearray() for _ in liveness]
    if resume is not None:
        out.generated, out.max_depth, out.witnessed = resume.generated, resume.max_depth, set(resume.witnessed)
        out.generated_by, out.distinct_by = dict(resume.generated_by), dict(resume.distinct_by)
        out.goal_bits, out.premise_bits = resume.goal_bits, resume.premise_bits
    keys, parent, depth, expanded, kinds = g.keys, g.parent, g.depth, g.expanded, g.kinds
    limit = max_states if max_states is not None else float("inf")
    started = time.perf_counter() - (resume.elapsed if resume is not None else 0.0)
    options = {"strategy": "bfs", "max_states": max_states, "max_depth": max_depth, "deadlock": deadlock,
               "storage": "fingerprint"}

    def store(fp: int, from_index: int, d: int, failing: str | None, wit: int, goals: int, premises: int) -> int:
        n = len(keys)
        if g.fp_set is not None:
            g.fp_set.add(fp)
        else:
            g.fp_table[fp] = n
        keys.append(fp)
        kinds.append(0)
        parent.append(from_index)
        depth.append(d)
        expanded.append(0)
        if with_edges:
            g.edge_lo.append(0)
            g.edge_hi.append(0)
            g.enabled.append(0)
        if failing is not None:
            out.failure = (failing, "always", n)
        for k, p in enumerate(witnesses):
            if wit >> k & 1:
                out.witnessed.add(p.name)
        for k in range(len(liveness)):
            out.goal_bits[k].append(goals >> k & 1)
            out.premise_bits[k].append(premises >> k & 1)
        return n

    def known(fp: int) -> bool:
        return fp in (g.fp_set if g.fp_set is not None else g.fp_table)

    # Initial states, in the coordinator (as the sequential search takes them); or the checkpoint's last level.
    level: list[tuple[int, Any]] = [] if resume is None else list(resume.frontier)
    try:
        for s in model.init_states() if resume is None else ():
            out.generated += 1
            if canonical is not None:
                s = canonical(s)
            if constraint is not None and not holds("constraint", constraint, s):
                continue
            f = fpr(s)
            if known(f):
                continue
            if len(keys) >= limit:
                out.cut = f"max states {max_states:,} reached"
                break
            failing = None
            for name, pred in invariants:
                if not holds(name, pred, s):
                    failing = name
            wit = sum(1 << k for k, p in enumerate(witnesses) if holds(p.name, p.pred, s))
            goals = sum(1 << k for k, p in enumerate(liveness) if holds(p.name, p.pred, s))
            premises = sum(1 << k for k, p in enumerate(liveness) if p.premise is not None and (
                not goals >> k & 1 if p.negated_premise else holds(p.name, p.premise, s)))
            i = store(f, NO_PARENT, 1, failing, wit, goals, premises)
            out.max_depth = 1
            if out.failure:
                return out
            level.append((i, s))
    except ModelError:
        raise
    except (Exception, SystemExit) as exc:
        raise ModelError(f"the model raised {type(exc).__name__}: {exc} in init_states") from exc
    if out.cut is not None or not level:
        out.queue = len(level)  # cut among the initial states: those stored wait, as with one worker
        return out

    pool = (pool_factory or Pool)(model, workers, max_depth, with_edges)
    indices: list[list[int]] = []
    pending: list[int] = []
    restore = _defer_signals(pending)
    between = False  # at a level's end (workers and coordinator agree): a checkpoint may be taken
    try:
        pool.all("known", array("Q", keys).tobytes())
        level_depth = depth[level[0][0]]
        size = -(-len(level) // workers)
        runs = [level[k * size:(k + 1) * size] for k in range(workers)]
        for k, run in enumerate(runs):
            pool.ask(k, "run", [(i, level_depth, s) for i, s in run])
        indices = [[i for i, _ in run] for run in runs]  # each worker's run, as global indices
        del level, runs
        while any(indices):
            between = True
            if pending:
                _deliver(pending)  # the program's own handler (the command line's raises KeyboardInterrupt)
            if stop is not None and stop():
                raise KeyboardInterrupt
            if checkpoint is not None and time.perf_counter() - checkpoint.last >= checkpoint.every:
                _save(pool, checkpoint, g, out, options, started)
            between = False
            if max_memory is not None and pool.resident() >= max_memory * 2**20:
                out.cut = f"max memory {max_memory:,} MiB reached (all processes)"
                out.queue = sum(map(len, indices))
                return out
            results = pool.all("expand")
            stopped_at, winners = _merge(g, out, results, indices, store, known, limit, max_states, max_depth,
                                         deadlock, with_edges)
            if stopped_at is not None:
                k, upto = stopped_at
                for w in range(k + 1):
                    part = results[w]["generated_by"] if w < k else pool.ask(w, "coverage", upto)
                    for a, n in part.items():
                        out.generated_by[a] = out.generated_by.get(a, 0) + n
                if out.beyond is not None:
                    beyond = results[k]["beyond"]
                    out.beyond = None if beyond is None else beyond[3]
                return out
            for res in results:
                for a, n in res["generated_by"].items():
                    out.generated_by[a] = out.generated_by.get(a, 0) + n
            level_depth += 1
            new_fps = array("Q", (keys[i] for run in winners for _, i in run)).tobytes()
            for w, run in enumerate(winners):
                pool.send(w, "commit", run, level_depth, new_fps)
            for w in range(workers):
                pool.answer(w)
            indices = [[i for _, i in run] for run in winners]
            _rebalance(pool, indices)
            if progress is not None:
                progress(len(keys), out.generated, out.max_depth, sum(map(len, indices)),
                         time.perf_counter() - started)
        return out
    except KeyboardInterrupt:
        out.interrupted = True
        out.queue = sum(map(len, indices))
        if between and checkpoint is not None:
            _save(pool, checkpoint, g, out, options, started)  # stopped between two levels: consistent
        return out
    finally:
        restore()
        pool.close()


def level_start(resume: Snapshot) -> int:
    """The index of the first state of the checkpoint's frontier, which must be exactly the last breadth-first level
    (every earlier state expanded): what workers can resume; anything else is an InputError."""
    stored = resume.graph
    n = len(stored)
    lo = resume.frontier[0][0] if resume.frontier else n
    if ([i for i, _ in resume.frontier] != list(range(lo, n))
            or any(stored.depth[i] != stored.depth[lo] for i in range(lo, n))
            or any(not stored.expanded[i] for i in range(lo))):
        raise InputError("this checkpoint was taken in the middle of a breadth-first level: resume it with one "
                         "worker (workers resume a checkpoint taken between two levels, as they write them)")
    return lo


def _resumable(resume: Snapshot) -> None:
    """Workers continue a checkpoint of fingerprints taken at the end of a breadth-first level (as they write them);
    anything else is one worker's to resume."""
    stored = resume.graph
    if stored.fingerprints is None:
        raise InputError("with liveness properties, workers resume a checkpoint of fingerprint storage; this one "
                         "stores states exactly: resume it with one worker")
    level_start(resume)  # an InputError unless the frontier is exactly the last level


def _save(pool: Any, checkpoint: Checkpointing, g: StateGraph, out: Outcome, options: dict[str, Any],
          started: float) -> None:
    """Write a checkpoint between two levels, as one worker's breadth-first search with fingerprint storage writes
    it at the end of a level: the coordinator's graph and counters, and the next level's states gathered from the
    workers' runs (contiguous, in index order)."""
    frontier = [entry for part in pool.all("states") for entry in part]
    save(checkpoint, Snapshot(options, checkpoint.meta, g, frontier, out.generated, out.max_depth,
                              out.generated_by, out.distinct_by, out.witnessed, out.goal_bits, out.premise_bits,
                              time.perf_counter() - started))


def _merge(g: StateGraph, out: Outcome, results: list[dict[str, Any]], indices: list[list[int]],
           store: Callable[..., int], known: Callable[[int], bool], limit: float, max_states: int | None,
           max_depth: int | None, deadlock: bool, with_edges: bool
           ) -> tuple[tuple[int, int] | None, list[list[tuple[int, int]]]]:
    """Walk one level's results in the sequential order. Returns where the search stopped (a violation, a deadlock,
    a bound), as (worker, expansions of its run counted), or None; and per worker the candidates that won (candidate
    number, index), its next run."""
    depth, expanded = g.depth, g.expanded
    winners: list[list[tuple[int, int]]] = [[] for _ in results]
    for k, res in enumerate(results):
        cands = res["candidates"]
        ci = 0
        n_succ, beyond = res["n_succ"], res["beyond"]
        for pos, current in enumerate(indices[k]):
            if pos >= len(n_succ):  # the worker stopped at a violation beyond the constraint
                break
            d = depth[current]
            if n_succ[pos] < 0:  # at the depth bound with a successor not yet found: the search is cut here
                out.cut = f"max depth {max_depth} reached"
                return (k, pos + 1), winners
            expanded[current] = 1
            cut = False
            won_before = sum(map(len, winners))
            while ci < len(cands) and cands[ci].pos == pos:
                c = cands[ci]
                if beyond is not None and beyond[0] == pos and c.sp > beyond[1]:
                    break
                ci += 1
                if known(c.fp):
                    continue  # found first through an earlier run
                if len(g.keys) >= limit:
                    out.cut = f"max states {max_states:,} reached"
                    cut = True
                    break
                j = store(c.fp, current, d + 1, c.failing, c.witnessed, c.goals, c.premises)
                out.distinct_by[c.action] = out.distinct_by.get(c.action, 0) + 1
                if d >= out.max_depth:
                    out.max_depth = d + 1
                if out.failure:
                    out.generated += n_succ[pos]
                    return (k, pos + 1), winners
                winners[k].append((ci - 1, j))
            while ci < len(cands) and cands[ci].pos == pos:
                ci += 1
            out.generated += n_succ[pos]
            if beyond is not None and beyond[0] == pos:
                out.failure, out.beyond = (beyond[2], "always", current), True
                return (k, pos + 1), winners
            if cut:
                expanded[current] = 0  # incomplete: liveness must not treat it as expanded
                # Left waiting, as in the sequential search: the rest of this level and the states found before
                # this expansion (what this one found is not queued).
                out.queue = (len(indices[k]) - pos - 1 + sum(map(len, indices[k + 1:])) + won_before)
                return (k, pos + 1), winners
            if with_edges:
                # Every successor of this expansion is stored by now (it was known, or a candidate just walked).
                table = g.fp_table
                g.edge_lo[current] = len(g.edge_to)
                for f, m in res["edges"][pos]:
                    g.edge_to.append(table[f])
                    g.edge_mask.append(m)
                g.edge_hi[current] = len(g.edge_to)
                g.enabled[current] = res["enabled"][pos]
            if n_succ[pos] == 0 and deadlock:
                out.failure = ("deadlock", "deadlock", current)
                return (k, pos + 1), winners
    return None, winners


def _rebalance(pool: Any, indices: list[list[int]]) -> None:
    """Keep the runs contiguous and even: move states between neighbours when the largest run is well above the
    mean (ties in a level go to the earlier run, so runs drift towards worker 0)."""
    n = len(indices)
    total = sum(map(len, indices))
    if n < 2 or total < 2 * n or max(map(len, indices)) <= IMBALANCE * total / n:
        return
    target = [total // n + (1 if k < total % n else 0) for k in range(n)]
    for k in range(n - 1):
        # After this step runs 0..k hold exactly target[0..k]; the surplus or deficit moves across boundary k|k+1.
        have, want = len(indices[k]), target[k]
        if have > want:
            moved = pool.ask(k, "take_back", have - want)
            pool.ask(k + 1, "put_front", moved)
            indices[k + 1][:0] = indices[k][want:]
            del indices[k][want:]
        elif have < want:
            need = want - have  # taken from the front of the following runs (across several if they are short)
            j = k + 1
            while need and j < n:
                take = min(need, len(indices[j]))
                if take:
                    moved = pool.ask(j, "take_front", take)
                    pool.ask(k, "put_back", moved)
                    indices[k].extend(indices[j][:take])
                    del indices[j][:take]
                    need -= take
                j += 1


__all__ = ["explore_parallel", "cpu_count"]
