"""Breadth-first search in forked worker processes that store each state as Python's own hash of it (`--workers N`,
safety properties, no checkpoint).

Forked processes share the interpreter's hash seed and every object that existed before the fork, so Python's
``hash`` of a state's key (what exact storage keeps, `checker.graph`: an attrs state's field tuple) is the same
64-bit number in every worker and in the coordinator: a fingerprint that costs nothing beyond the hash that exact
storage computes anyway (a stable fingerprint, `checker.fingerprint`, is Python code per successor: 1.4 to 2 times
the search's time on TwoPhase). So the workers exchange only 8-byte fingerprints, never states or keys:

1. *expand*: the level's frontier is split into contiguous runs in index order, one per worker (as in
   `checker.parallel`); each worker expands its run and keeps every successor whose fingerprint it does not know
   (its set holds every fingerprint stored by any worker, and those it met earlier in this level) as a candidate:
   the state, its action, its parent and rank, in the order found; it sends its candidates' fingerprints (the bytes
   of an int64 array) to the coordinator;
2. *resolve*: each worker receives the others' candidate fingerprints. A fingerprint found by several workers in
   one level goes to the lowest worker: its run comes first in index order, and each run is expanded in order, so
   that worker's occurrence is the one the sequential search meets first. A worker's winners (its candidates that
   no lower worker found) are the next level's states it holds, in the order found, which is their order in the
   sequential search; it checks the invariants and witnesses on them, adds every worker's candidates to its set (they
   are this level's new states), and tells the coordinator their fingerprints, parents and ranks.
3. The coordinator numbers the new states worker by worker (worker 0's first: the one-worker order, so indices,
   parent links, depths and coverage are one worker's), and takes the level in bulk, or walks it in the sequential
   order when something may stop the search there (a violation, a deadlock, a bound), stopping where one worker
   would. New states stay with the worker that found them; when the runs drift apart (the ties go to the lower
   worker) the coordinator moves the surplus between neighbours, as keys (pickled bytes passed on unopened).

A trace is rebuilt by re-execution along the stored fingerprints (`checker.paths`), in the coordinator, which
computes the same hash. The storage is fingerprints (``bounds.storage`` "hash"): two distinct states with one
hash would be taken for one. Python's hash is not a uniform fingerprint of every value: strings are hashed by
SipHash with the process's random key, but an int is its own hash modulo 2**61 - 1 (and -1 hashes as -2), and
tuples and frozensets combine their members' hashes, so values made of such ints can collide by construction
(``(-1,)`` and ``(-2,)`` have one hash). The verdict states TLC's "calculated" estimate, which assumes uniform
fingerprints; the "observed" one (the least distance between two fingerprints) is not computed, since the hash of
small ints is the int itself. docs/checker.md says when to prefer `--storage exact`.

What it omits: liveness (`checker.parallel` keeps the merged graph), depth-first order, checkpoints and resuming
(a hash is only stable within the processes forked from one interpreter: with a checkpoint the sharded protocol,
`checker.sharded`, stores states exactly), and other machines (Ray actors do not share the seed).
"""

from __future__ import annotations

import gc
import pickle
import time
from array import array
from collections.abc import Callable, Hashable
from multiprocessing.connection import Connection
from typing import Any

from checker.errors import ModelError
from checker.fingerprint import field_key
from checker.graph import NO_PARENT, StateGraph
from checker.model import Model, overrides
from checker.parallel import Processes, serve
from checker.search import Outcome, ProgressFn, _defer_signals, _deliver, count_actions, first, holds
from checker.storage import resident_bytes

#: Runs are rebalanced when the largest is this much above the mean: moving a state costs its owner a pickled key
#: and its new owner a state rebuilt from it (about 2.5 microseconds on TwoPhase, against about 9 to expand it), so
#: the runs are kept close to even.
IMBALANCE = 1.02

#: Tests set this to walk every level in the sequential order (the slow path) instead of taking it in bulk.
ALWAYS_REPLAY = False


class HashFingerprint:
    """A state's fingerprint in forked workers: Python's hash of its key (`checker.graph`), XORed with a salt per
    class (0 for the class of the first initial state, else the hash of the class's module and qualified name), so
    that states of two classes with equal field tuples differ. Only comparable between processes forked from one
    interpreter (strings are hashed with its random key)."""

    def __init__(self, first: type | None) -> None:
        self.first = first
        self.classes: dict[type, tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None, int]] = {}

    def describe(self, cls: type) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None, int]:
        """(key of a state, state from a key, salt) for the states of class `cls`."""
        found = self.classes.get(cls)
        if found is None:
            fk = field_key(cls)
            salt = 0 if cls is self.first else hash(("kubespec.hash", cls.__module__, cls.__qualname__))
            found = self.classes[cls] = (None, None, salt) if fk is None else (fk[0], fk[1], salt)
        return found

    def __call__(self, state: Any) -> int:
        key_of, _, salt = self.describe(type(state))
        return hash(state if key_of is None else key_of(state)) ^ salt


class _Worker:
    """One worker: every fingerprint stored, its run of the frontier, and the level under way."""

    def __init__(self, model: Model, me: int, workers: int, fingerprint: HashFingerprint) -> None:
        self.model, self.me, self.n, self.fp = model, me, workers, fingerprint
        self.known: set[int] = set()
        self.run: list[Any] = []  # this level's states, in index order from `start`
        self.start = 0
        self.previous: list[Any] = []  # the run expanded last (for coverage recounted on a stop)
        self.candidates: tuple[array[int], list[Any], list[Hashable], array[int], array[int]] | None = None
        self.won_actions: list[Hashable] = []
        self.invariants = [(p.name, p.pred) for p in model.properties if p.kind == "always"]
        self.witnesses = [p for p in model.properties if p.kind == "sometimes"]
        self.canonical = model.canonical if overrides(model, "canonical") else None
        self.constraint = model.constraint if overrides(model, "constraint") else None

    def seed(self, run: list[Any], fps: bytes) -> None:
        """The initial states it holds, and the fingerprints of all the initial states stored."""
        known = array("q")
        known.frombytes(fps)
        self.known.update(known)
        self.run = run

    def expand(self, start: int, bound: bool) -> dict[str, Any]:
        """Expand the run (its first state has index `start`); keep the successors not known as candidates. At the
        depth bound (`bound`) the first state with a successor outside the state constraint is reported as
        `outside`, and the expansion stops at the first state with a candidate (the one-worker search is cut
        there)."""
        model, known, describe = self.model, self.known, self.fp.describe
        canonical, constraint, invariants = self.canonical, self.constraint, self.invariants
        general = canonical is not None or constraint is not None
        fps, states, actions, parents, ranks = array("q"), [], [], array("i"), array("i")
        n_succ = array("q")
        counts: dict[Hashable, int] = {}
        beyond: tuple[int, int, str, Any] | None = None
        outside: int | None = None
        last_cls: type | None = None
        key_of: Any = None
        salt = 0
        self.start = start
        for pos, s in enumerate(self.run):
            succ = list(model.successors(s))
            n_succ.append(len(succ))
            count_actions(counts, map(first, succ))
            before = len(fps)
            for sp, (a, u) in enumerate(succ):
                if general:
                    if canonical is not None:
                        u = canonical(u)
                    if constraint is not None and not holds("constraint", constraint, u):
                        if bound:
                            outside = pos
                            break
                        for name, pred in invariants:
                            if not holds(name, pred, u):
                                beyond = (pos, sp, name, u)
                                break
                        if beyond is not None:
                            break
                        continue
                if type(u) is not last_cls:
                    last_cls = type(u)
                    key_of, _, salt = describe(last_cls)
                h = hash(u if key_of is None else key_of(u))
                if salt:
                    h ^= salt
                if h in known:
                    continue
                known.add(h)
                fps.append(h)
                states.append(u)
                actions.append(a)
                parents.append(pos)
                ranks.append(sp)
            if beyond is not None or outside is not None or bound and len(fps) > before:
                break
        self.candidates = (fps, states, actions, parents, ranks)
        self.previous = self.run
        return {"fps": fps.tobytes(), "n_succ": n_succ.tobytes(), "beyond": beyond, "outside": outside,
                "generated_by": counts}

    def resolve(self, others: list[bytes | None]) -> dict[str, Any]:
        """Decide this worker's winners among its candidates (those no lower worker found), learn every worker's
        candidates, check the properties on the winners; they form its next run."""
        assert self.candidates is not None
        fps, states, actions, parents, ranks = self.candidates
        self.candidates = None
        lower: set[int] = set()
        known = self.known
        for k, data in enumerate(others):
            if data is None:
                continue
            theirs = array("q")
            theirs.frombytes(data)
            if k < self.me:
                lower.update(theirs)
            known.update(theirs)
        start = self.start
        if lower:
            won = [i for i, h in enumerate(fps) if h not in lower]
            run = [states[i] for i in won]
            won_actions = [actions[i] for i in won]
            fps = array("q", [fps[i] for i in won])
            parents = array("i", [parents[i] for i in won])
            ranks = array("i", [ranks[i] for i in won])
        else:  # the lowest worker (or nothing found below it): every candidate wins
            run, won_actions = states, actions
        failing: list[tuple[int, str]] = []
        wit: list[tuple[int, int]] = []
        invariants, witnesses = self.invariants, self.witnesses
        if invariants or witnesses:
            for j, s in enumerate(run):
                failed = None
                for name, pred in invariants:
                    if not holds(name, pred, s):
                        failed = name  # the last that fails, as the sequential search reports
                if failed is not None:
                    failing.append((j, failed))
                if witnesses:
                    bits = sum(1 << k for k, p in enumerate(witnesses) if holds(p.name, p.pred, s))
                    if bits:
                        wit.append((j, bits))
        distinct: dict[Hashable, int] = {}
        for a in won_actions:
            distinct[a] = distinct.get(a, 0) + 1
        self.run, self.won_actions = run, won_actions
        gc.freeze()  # what is stored lives until the end: keep the cyclic collector from rescanning it
        return {"fps": fps.tobytes(), "parents": array("i", [start + p for p in parents]).tobytes(),
                "ranks": ranks.tobytes(),
                "failing": failing, "wit": wit, "distinct_by": distinct}

    def coverage(self, upto: int, inclusive: bool) -> dict[Hashable, int]:
        """Actions generated by the last level's expansions up to run position `upto` (re-executed: only on a
        stop)."""
        counts: dict[Hashable, int] = {}
        for s in self.previous[:upto + 1 if inclusive else upto]:
            count_actions(counts, map(first, self.model.successors(s)))
        return counts

    def distinct(self, upto: int) -> dict[Hashable, int]:
        """Actions of the first `upto` winners of the last level."""
        counts: dict[Hashable, int] = {}
        for a in self.won_actions[:upto]:
            counts[a] = counts.get(a, 0) + 1
        return counts

    def take(self, count: int, back: bool) -> bytes:
        """Remove `count` states from the back (or the front) of the run and return them as pickled keys."""
        if back:
            moved, self.run = self.run[len(self.run) - count:], self.run[:len(self.run) - count]
        else:
            moved, self.run = self.run[:count], self.run[count:]
        classes: list[type] = []
        number: dict[type, int] = {}
        kinds = bytearray()
        keys = []
        for s in moved:
            cls = type(s)
            k = number.get(cls)
            if k is None:
                k = number[cls] = len(classes)
                classes.append(cls)
            kinds.append(k)
            key_of = self.fp.describe(cls)[0]
            keys.append(s if key_of is None else key_of(s))
        try:
            return pickle.dumps((classes, bytes(kinds), keys), protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ModelError(f"worker processes move states between them pickled, and one cannot be: {exc}") from exc

    def put(self, data: bytes, front: bool) -> None:
        """Add states taken from a neighbour at the front (or the back) of the run."""
        classes, kinds, keys = pickle.loads(data)
        builders = [self.fp.describe(cls)[1] for cls in classes]
        moved = [key if builders[k] is None else builders[k](key) for k, key in zip(kinds, keys, strict=True)]
        self.run = moved + self.run if front else self.run + moved


def _handle(worker: _Worker, request: str, args: list[Any]) -> Any:
    if request == "expand":
        return worker.expand(*args)
    if request == "resolve":
        return worker.resolve(args[0])
    if request == "coverage":
        return worker.coverage(*args)
    if request == "distinct":
        return worker.distinct(args[0])
    if request == "take":
        return worker.take(*args)
    if request == "put":
        return worker.put(*args)
    if request == "resident":
        return resident_bytes()
    raise ValueError(f"unknown request {request!r}")


def _serve(conn: Connection, model: Model, me: int, workers: int, fingerprint: HashFingerprint, run: list[Any],
           fps: bytes) -> None:
    worker = _Worker(model, me, workers, fingerprint)
    worker.seed(run, fps)
    serve(conn, _handle, worker)


class HashPool(Processes):
    """The worker processes, forked from this one (so they share its hash seed), each given its run of the initial
    states and their fingerprints through the fork (nothing pickled)."""

    def __init__(self, model: Model, workers: int, fingerprint: HashFingerprint, runs: list[list[Any]],
                 fps: bytes) -> None:
        super().__init__(workers, _serve, lambda k: (model, k, workers, fingerprint, runs[k], fps))


def explore_hashed(model: Model, *, workers: int, max_states: int | None, max_depth: int | None, deadlock: bool,
                   progress: ProgressFn | None = None, stop: Callable[[], bool] | None = None,
                   max_memory: int | None = None) -> Outcome:
    """Breadth-first search in `workers` forked processes storing Python's hash of each state; the Outcome of
    `search.explore` (the graph holds the fingerprints by index, parent links and depths: `HashFingerprint`
    recomputes them for a trace)."""
    if any(p.is_liveness for p in model.properties):
        raise ValueError("liveness needs the merged graph's edges: use checker.parallel")
    g = StateGraph(False, "fingerprint")
    out = Outcome(g)
    invariants = [(p.name, p.pred) for p in model.properties if p.kind == "always"]
    witnesses = [p for p in model.properties if p.kind == "sometimes"]
    canonical = model.canonical if overrides(model, "canonical") else None
    constraint = model.constraint if overrides(model, "constraint") else None
    g.keys = keys = array("q")  # Python's hashes are signed
    parent, depth, expanded, kinds = g.parent, g.depth, g.expanded, g.kinds
    limit = max_states if max_states is not None else float("inf")
    started = time.perf_counter()

    # Initial states, in the coordinator (as the sequential search takes them).
    level: list[Any] = []
    fingerprint: HashFingerprint | None = None
    seen: set[int] = set()
    try:
        for s in model.init_states():
            out.generated += 1
            if canonical is not None:
                s = canonical(s)
            if constraint is not None and not holds("constraint", constraint, s):
                continue
            if fingerprint is None:
                fingerprint = HashFingerprint(type(s))
            f = fingerprint(s)
            if f in seen:
                continue
            if len(keys) >= limit:
                out.cut = f"max states {max_states:,} reached"
                break
            seen.add(f)
            n = len(keys)
            keys.append(f)
            kinds.append(0)
            parent.append(NO_PARENT)
            depth.append(1)
            expanded.append(0)
            out.max_depth = 1
            for name, pred in invariants:
                if not holds(name, pred, s):
                    out.failure = (name, "always", n)
            for p in witnesses:
                if holds(p.name, p.pred, s):
                    out.witnessed.add(p.name)
            level.append(s)
            if out.failure:
                break
    except ModelError:
        raise
    except (Exception, SystemExit) as exc:
        raise ModelError(f"the model raised {type(exc).__name__}: {exc} in init_states") from exc
    g.fingerprints = fingerprint or HashFingerprint(None)  # type: ignore[assignment]
    if out.failure is not None:
        return out
    if out.cut is not None or not level:
        out.queue = len(level)  # cut among the initial states: those stored wait, as with one worker
        return out

    assert fingerprint is not None
    size = -(-len(level) // workers)
    runs = [level[k * size:(k + 1) * size] for k in range(workers)]
    pool = HashPool(model, workers, fingerprint, runs, keys.tobytes())
    sizes = [len(run) for run in runs]
    del level, runs
    return _levels(pool, g, out, sizes, 0, 1, workers=workers, limit=limit, max_states=max_states,
                   max_depth=max_depth, deadlock=deadlock, progress=progress, stop=stop, max_memory=max_memory,
                   witnesses=witnesses, started=started)


def _levels(pool: HashPool, g: StateGraph, out: Outcome, sizes: list[int], lo: int, d: int, *, workers: int,
            limit: float, max_states: int | None, max_depth: int | None, deadlock: bool,
            progress: ProgressFn | None, stop: Callable[[], bool] | None, max_memory: int | None,
            witnesses: list[Any], started: float) -> Outcome:
    """The search, level by level: this level is indices lo.. (worker k's run after those of workers < k), at
    depth d."""
    keys = g.keys
    pending: list[int] = []
    restore = _defer_signals(pending)
    try:
        while sum(sizes):
            if pending:
                _deliver(pending)  # the program's own handler (the command line's raises KeyboardInterrupt)
            if stop is not None and stop():
                raise KeyboardInterrupt
            if max_memory is not None and pool.resident() >= max_memory * 2**20:
                out.cut = f"max memory {max_memory:,} MiB reached (all processes)"
                out.queue = sum(sizes)
                return out
            bound = max_depth is not None and d >= max_depth
            starts = [lo + sum(sizes[:k]) for k in range(workers)]
            for k in range(workers):
                pool.send(k, "expand", starts[k], bound)
            expansions = pool.answers()
            for k in range(workers):
                pool.send(k, "resolve", [None if j == k else e["fps"] for j, e in enumerate(expansions)])
            resolved = pool.answers()
            won = [len(r["fps"]) // 8 for r in resolved]
            total = sum(won)
            trouble = (ALWAYS_REPLAY or any(e["beyond"] is not None for e in expansions)
                       or any(r["failing"] for r in resolved) or len(keys) + total > limit
                       or bound and (total > 0 or any(e["outside"] is not None for e in expansions))
                       or deadlock and any(0 in array("q", e["n_succ"]) for e in expansions))
            if trouble:
                if _replay(pool, g, out, expansions, resolved, sizes, starts, lo, d, limit, max_states, max_depth,
                           deadlock, bound, witnesses):
                    return out
            else:
                _bulk(g, out, expansions, resolved, lo, d, witnesses)
            lo += sum(sizes)
            sizes = won
            d += 1
            _rebalance(pool, sizes)
            if progress is not None:
                progress(len(keys), out.generated, out.max_depth, sum(sizes), time.perf_counter() - started)
        return out
    except KeyboardInterrupt:
        out.interrupted = True
        out.queue = sum(sizes)
        return out
    finally:
        restore()
        pool.close()


def _bulk(g: StateGraph, out: Outcome, expansions: list[dict[str, Any]], resolved: list[dict[str, Any]], lo: int,
          d: int, witnesses: list[Any]) -> None:
    """Store a level that nothing stops: each worker's winners in turn, their counts in bulk."""
    hi = len(g.keys)
    for r in resolved:
        g.keys.frombytes(r["fps"])
        g.parent.frombytes(r["parents"])
    n = len(g.keys) - hi
    g.kinds.extend(bytes(n))
    g.depth.extend(array("i", [d + 1]) * n)
    g.expanded[lo:hi] = b"\x01" * (hi - lo)
    g.expanded.extend(bytes(n))
    for e in expansions:
        out.generated += sum(array("q", e["n_succ"]))
        for a, c in e["generated_by"].items():
            out.generated_by[a] = out.generated_by.get(a, 0) + c
    bits = 0
    for r in resolved:
        for a, c in r["distinct_by"].items():
            out.distinct_by[a] = out.distinct_by.get(a, 0) + c
        for _, w in r["wit"]:
            bits |= w
    for k, p in enumerate(witnesses):
        if bits >> k & 1:
            out.witnessed.add(p.name)
    if n:
        out.max_depth = max(out.max_depth, d + 1)


def _replay(pool: HashPool, g: StateGraph, out: Outcome, expansions: list[dict[str, Any]],
            resolved: list[dict[str, Any]], sizes: list[int], starts: list[int], lo: int, d: int, limit: float,
            max_states: int | None, max_depth: int | None, deadlock: bool, bound: bool,
            witnesses: list[Any]) -> bool:
    """Walk a level in the sequential order (worker 0's run, then worker 1's, ...), as the one-worker search does,
    storing its new states; True if a violation, a deadlock or a bound stopped it there (the counts are then those
    of one worker at that point)."""
    keys, parent, depth, expanded, kinds = g.keys, g.parent, g.depth, g.expanded, g.kinds
    hi = lo + sum(sizes)
    workers = len(sizes)
    stored = [0] * workers
    stop: tuple[int, int, bool] | None = None  # (worker, run position, whether its expansion is counted)
    for k in range(workers):
        e, r = expansions[k], resolved[k]
        n_succ, fps, parents, ranks = array("q"), array("q"), array("i"), array("i")
        n_succ.frombytes(e["n_succ"])
        fps.frombytes(r["fps"])
        parents.frombytes(r["parents"])
        ranks.frombytes(r["ranks"])
        failing, wit = dict(r["failing"]), dict(r["wit"])
        beyond, outside = e["beyond"], e["outside"]
        j = 0
        for pos in range(len(n_succ)):
            i = starts[k] + pos
            if bound and (j < len(parents) and parents[j] == i or outside == pos):
                out.cut = f"max depth {max_depth} reached"  # a successor not yet found, at the bound
                stop = (k, pos, False)
                break
            expanded[i] = 1
            ns = n_succ[pos]
            cut = False
            before = sum(stored)  # new states queued before this expansion (a cut drops those it found)
            while j < len(parents) and parents[j] == i:
                if beyond is not None and beyond[0] == pos and ranks[j] > beyond[1]:
                    break
                if len(keys) >= limit:
                    out.cut = f"max states {max_states:,} reached"
                    expanded[i] = 0  # incomplete: liveness must not treat it as expanded
                    out.queue = hi - i - 1 + before
                    cut = True
                    break
                n = len(keys)
                keys.append(fps[j])
                kinds.append(0)
                parent.append(i)
                depth.append(d + 1)
                expanded.append(0)
                stored[k] += 1
                out.max_depth = max(out.max_depth, d + 1)
                bits = wit.get(j, 0)
                for b, p in enumerate(witnesses):
                    if bits >> b & 1:
                        out.witnessed.add(p.name)
                j += 1
                if j - 1 in failing:
                    out.failure = (failing[j - 1], "always", n)
                    break
            out.generated += ns
            if cut or out.failure is not None:
                stop = (k, pos, True)
                break
            if beyond is not None and beyond[0] == pos:
                out.failure, out.beyond = (beyond[2], "always", i), beyond[3]
                stop = (k, pos, True)
                break
            if ns == 0 and deadlock:
                out.failure = ("deadlock", "deadlock", i)
                stop = (k, pos, True)
                break
        if stop is not None:
            break
    last = workers - 1 if stop is None else stop[0]
    for k in range(last + 1):
        if stop is not None and k == last:
            part = pool.ask(k, "coverage", stop[1], stop[2])
            distinct = pool.ask(k, "distinct", stored[k])
        else:
            part, distinct = expansions[k]["generated_by"], resolved[k]["distinct_by"]
        for a, c in part.items():
            out.generated_by[a] = out.generated_by.get(a, 0) + c
        for a, c in distinct.items():
            out.distinct_by[a] = out.distinct_by.get(a, 0) + c
    return stop is not None


def _rebalance(pool: HashPool, sizes: list[int]) -> None:
    """Keep the runs even: move states between neighbours when the largest run is well above the mean (the ties of
    a level go to the lower worker, so the runs drift towards worker 0). The runs stay contiguous in index order."""
    n = len(sizes)
    total = sum(sizes)
    if n < 2 or total < 2 * n or max(sizes) <= IMBALANCE * total / n:
        return
    target = [total // n + (1 if k < total % n else 0) for k in range(n)]
    for k in range(n - 1):
        # After this step runs 0..k hold exactly target[0..k]; the surplus or deficit moves across boundary k|k+1.
        have, want = sizes[k], target[k]
        if have > want:
            pool.ask(k + 1, "put", pool.ask(k, "take", have - want, True), True)
            sizes[k + 1] += have - want
            sizes[k] = want
        elif have < want:
            need = want - have  # taken from the front of the following runs (across several if they are short)
            j = k + 1
            while need and j < n:
                take = min(need, sizes[j])
                if take:
                    pool.ask(k, "put", pool.ask(j, "take", take, False), False)
                    sizes[j] -= take
                    sizes[k] += take
                    need -= take
                j += 1


__all__ = ["explore_hashed", "HashFingerprint"]
