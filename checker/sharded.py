"""Breadth-first search in worker processes that each own a shard of the stored states (`--workers N` with
`--storage exact`, with a checkpoint, or on Ray; by default forked workers store hashes instead, `checker.hashed`).

The design of TLC's and Stateright's parallel checkers: a state belongs to the worker its hash names
(``hash(key) % N``, the key being what exact storage keeps, `checker.graph`), and that worker alone stores it
(exactly: no fingerprint collision), checks the invariants on it and expands it. The search goes level by level:

1. *expand*: each worker expands the states it owns at this level and sorts their successors by owner; those it
   owns itself are looked up at once, the others are written to a file per owner (their key, the action and the
   position of their first occurrence: the parent's index and the successor's rank), once in the whole search:
   the worker keeps the keys it sent in its own table, so that a successor costs one look-up whoever owns it;
2. *merge*: each worker reads what the others sent it, keeps the states it does not know, with their first
   occurrence, checks the properties on them, and tells the coordinator only their positions (and the rare
   failures);
3. *commit*: the coordinator orders the new states as the one-worker search would find them (by parent index, then
   successor rank, a sort of integers), gives each its index, and sends each worker the indices of its own.

So a state gets the index, parent and depth it gets with one worker, and a violation, a deadlock or a bound stops
the search at the state and after the number of generated states of one worker (the coordinator replays the
level in the sequential order when something stops it; otherwise it takes the level in bulk). The coordinator
keeps what a trace and the counts need: parent links and depths (4 bytes each), never states; a counterexample's
states are rebuilt by re-execution (`checker.paths`) along fingerprints that their owners compute for that path
only. Workers are forked, so they share the model and Python's hash of a key (strings are hashed with the seed of
the process they were forked from); keys and actions cross processes pickled, states never do (an owner rebuilds a
state from its key). On Ray (`checker.ray_backend`) the workers are actors that do not share the seed: there an
owner is named by the state's stable fingerprint (`stable`), and the batches travel through Ray's object store.

What it omits: liveness (the merged graph's edges would need a second exchange per level to name their targets:
a model with liveness properties uses `checker.parallel`, whose coordinator keeps every edge), depth-first order,
and a checkpoint or a stop in the middle of a level (both wait for the level under way to end; a checkpoint is
one worker's at the end of that level, so one worker can resume it too).
"""

from __future__ import annotations

import gc
import os
import pickle
import re
import shutil
import stat as stat_
import tempfile
import time
from array import array
from collections.abc import Callable, Hashable
from multiprocessing.connection import Connection
from typing import Any

from checker.checkpoint import Checkpointing, Snapshot, save
from checker.errors import InputError, ModelError
from checker.fingerprint import Fingerprinter, field_key
from checker.graph import NO_PARENT, StateGraph
from checker.model import Model, overrides
from checker.parallel import Processes, level_start, serve
from checker.search import Outcome, ProgressFn, _defer_signals, _deliver, count_actions, first, holds
from checker.storage import resident_bytes

#: A successor's position in the sequential order: its parent's index, then its rank among the parent's successors.
SHIFT = 32

#: What one worker sends another at a level, per class of states: the positions (an array of int64, as bytes), the
#: actions and the keys, in the order found.
Batch = tuple[bytes, list[Hashable], list[Any]]

#: In a worker's table of keys: a state of another worker's, already sent to it.
SENT = 1

#: Tests set this to replay every level in the sequential order (the slow path) instead of taking it in bulk.
ALWAYS_REPLAY = False


def _key_of(cls: type) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
    """How a state of class `cls` is stored (its field tuple, or itself) and rebuilt, as in `checker.graph`."""
    fk = field_key(cls)
    return (None, None) if fk is None else fk


class _Table:
    """A worker's storage of one class of states: the keys it owns, and this level's traffic."""

    __slots__ = ("cls", "kind", "known", "key_of", "build", "outbox")

    def __init__(self, cls: type, kind: int, workers: int) -> None:
        self.cls, self.kind = cls, kind
        self.key_of, self.build = _key_of(cls)
        #: The keys it owns: 0 for a stored state, its `_Shard.fresh` entry for one new at this level; and `SENT`
        #: for another worker's state already sent to its owner (at this level or before: once is enough, since the
        #: first sent is the earliest, and a state sent at an earlier level is stored by its owner by now). One
        #: table, so that a successor costs one lookup, as in the one-worker search, and only a successor met for
        #: the first time costs the hash that names its owner.
        self.known: dict[Any, Any] = {}
        self.outbox: list[list[tuple[int, Hashable, Any]]] = [[] for _ in range(workers)]

    def state(self, key: Any) -> Any:
        return key if self.build is None else self.build(key)


class _Shard:
    """One worker: the states it owns (keys by index), its frontier, and the level under way."""

    def __init__(self, model: Model, me: int, workers: int, directory: str | None, stable: bool = False) -> None:
        self.model, self.me, self.n, self.directory = model, me, workers, directory
        #: Owners by a stable fingerprint (`checker.fingerprint`), for processes that do not share `hash`'s seed
        #: (Ray actors); else by `hash` of the key, which forked processes share.
        self.stable = Fingerprinter() if stable else None
        #: This level's states for each other worker: {class: [(order, action, key), ...]}, or None.
        self.outgoing: list[dict[type, Batch] | None] = [None] * workers
        self.tables: dict[type, _Table] = {}
        self.order: list[_Table] = []  # tables by kind
        self.keys: list[Any] = []  # the keys it owns, in index order
        self.kinds = bytearray()
        self.gids = array("q")  # their indices (increasing)
        self.run: list[tuple[int, Any]] = []  # this level's frontier: (index, state), in index order
        #: This level's new states of its own, as [order, action, state or None (sent by another worker), key,
        #: table]: in the order found while expanding and merging (`fresh`), then in their order (`pending`).
        self.fresh: list[list[Any]] = []
        self.pending: list[list[Any]] = []
        self.level = 0
        #: Field values of the keys received, one object each: a key received (unpickled: new objects) shares them
        #: with the keys received before, as successive states share their unchanged parts in one process.
        self.values: dict[tuple[type, Any], Any] = {}
        self.invariants = [(p.name, p.pred) for p in model.properties if p.kind == "always"]
        self.witnesses = [p for p in model.properties if p.kind == "sometimes"]
        self.canonical = model.canonical if overrides(model, "canonical") else None
        self.constraint = model.constraint if overrides(model, "constraint") else None

    def table(self, cls: type) -> _Table:
        t = self.tables.get(cls)
        if t is None:
            t = self.tables[cls] = _Table(cls, len(self.order), self.n)
            self.order.append(t)
        return t

    def _own(self, gid: int, key: Any, t: _Table) -> None:
        t.known[key] = 0
        self.keys.append(key)
        self.kinds.append(t.kind)
        self.gids.append(gid)

    def dump(self) -> tuple[bytes, list[Any], bytes, list[type]]:
        """What it stores, for a checkpoint: indices, keys, kinds, and the classes by kind."""
        return self.gids.tobytes(), self.keys, bytes(self.kinds), [t.cls for t in self.order]

    def load(self, gids: bytes, keys: list[Any], kinds: bytes, classes: list[type], frontier: int) -> None:
        """The states it owns in a checkpoint resumed (indices increasing); those from index `frontier` on wait to
        be expanded."""
        tables = [self.table(cls) for cls in classes]
        ids = array("q")
        ids.frombytes(gids)
        for gid, key, k in zip(ids, keys, kinds, strict=True):
            self._own(gid, key, tables[k])
        self.run = [(gid, tables[k].state(key)) for gid, key, k in zip(ids, keys, kinds, strict=True)
                    if gid >= frontier]

    def seed(self, states: list[tuple[int, Any]]) -> None:
        """Initial states that this worker owns, with their indices."""
        for gid, s in states:
            t = self.table(type(s))
            self._own(gid, s if t.key_of is None else t.key_of(s), t)
        self.run = list(states)

    def _path(self, to: int) -> str:
        assert self.directory is not None
        return os.path.join(self.directory, f"{self.level}-{self.me}-{to}")

    def expand(self, bound: bool) -> dict[str, Any]:
        """Expand this level's frontier; keep own successors, send the others' to their owners. At the depth
        bound (`bound`), the first expansion with a successor outside the state constraint is reported as
        `outside` (the one-worker search stops there: that successor is not stored)."""
        model, n, me = self.model, self.n, self.me
        canonical, constraint, invariants = self.canonical, self.constraint, self.invariants
        general = canonical is not None or constraint is not None
        counts: dict[Hashable, int] = {}
        n_succ = array("q")
        beyond: tuple[int, int, str, Any] | None = None
        outside: int | None = None
        last_cls: type | None = None
        t: Any = None
        known: Any = None
        fresh = self.fresh
        key_of: Any = None
        outbox: Any = None
        stable = self.stable
        for gid, s in self.run:
            succ = list(model.successors(s))
            n_succ.append(len(succ))
            count_actions(counts, map(first, succ))
            base = gid << SHIFT
            for sp, (a, u) in enumerate(succ):
                if general:
                    if canonical is not None:
                        u = canonical(u)
                    if constraint is not None and not holds("constraint", constraint, u):
                        if bound:
                            outside = gid
                            break
                        for name, pred in invariants:
                            if not holds(name, pred, u):
                                beyond = (gid, sp, name, u)
                                break
                        if beyond is not None:
                            break
                        continue
                if type(u) is not last_cls:
                    last_cls = type(u)
                    t = self.table(last_cls)
                    known, key_of, outbox = t.known, t.key_of, t.outbox
                key = u if key_of is None else key_of(u)
                if known.get(key) is None:  # else: a state of its own, or another's already sent (nothing to do)
                    if n == 1 or (o := (hash(key) if stable is None else stable(u)) % n) == me:
                        # the first of this level is the earliest: nothing to compare
                        known[key] = e = [base | sp, a, u, key, t]
                        fresh.append(e)
                    else:
                        known[key] = SENT
                        outbox[o].append((base | sp, a, key))
            if beyond is not None or outside is not None:
                break
        self.outgoing = [None if o == me else {t.cls: _pack(t.outbox[o]) for t in self.order if t.outbox[o]}
                         for o in range(n)]
        for t in self.order:
            t.outbox = [[] for _ in range(n)]
        return {"n_succ": n_succ, "beyond": beyond, "outside": outside, "generated_by": counts}

    def post(self) -> None:
        """Write this level's states for each other worker to its file in the exchange directory."""
        assert self.directory is not None
        for o, batch in enumerate(self.outgoing):
            if batch is not None:
                with open(self._path(o), "wb") as f:
                    try:
                        pickle.dump(batch, f, protocol=pickle.HIGHEST_PROTOCOL)
                    except (pickle.PicklingError, AttributeError, TypeError) as exc:
                        raise ModelError(f"worker processes exchange states and actions pickled, and one cannot be: "
                                         f"{exc}") from exc
        self.outgoing = [None] * self.n

    def received(self) -> list[dict[type, Batch]]:
        """What the others wrote for this worker in the exchange directory (files removed once read)."""
        assert self.directory is not None
        batches = []
        for o in range(self.n):
            if o != self.me:
                path = os.path.join(self.directory, f"{self.level}-{o}-{self.me}")
                with open(path, "rb") as f:
                    batches.append(pickle.load(f))
                os.unlink(path)
        return batches

    def merge(self, batches: list[dict[type, Batch]]) -> dict[str, Any]:
        """Take in what the others sent; check the properties on this level's new states of its own."""
        values, fresh = self.values, self.fresh
        for batch in batches:
            for cls, entries in batch.items():
                t = self.table(cls)
                known = t.known
                share = t.key_of is not None
                orders = array("q")
                orders.frombytes(entries[0])
                for order, a, key in zip(orders, entries[1], entries[2], strict=True):
                    e = known.get(key)
                    if e is None:
                        if share:
                            key = tuple([values.setdefault((v.__class__, v), v) for v in key])
                        known[key] = e = [order, a, None, key, t]
                        fresh.append(e)
                    elif e.__class__ is list and order < e[0]:
                        e[0], e[1] = order, a
        pending, self.fresh = fresh, []
        pending.sort(key=first)
        orders = array("q")
        failing: list[tuple[int, str]] = []
        wit = array("q")
        distinct: dict[Hashable, int] = {}
        invariants, witnesses = self.invariants, self.witnesses
        for i, e in enumerate(pending):
            order, a, s = e[0], e[1], e[2]
            if s is None:
                s = e[2] = e[4].state(e[3])
            orders.append(order)
            distinct[a] = distinct.get(a, 0) + 1
            failed = None
            for name, pred in invariants:
                if not holds(name, pred, s):
                    failed = name  # the last that fails, as the sequential search reports
            if failed is not None:
                failing.append((i, failed))
            if witnesses:
                wit.append(sum(1 << k for k, p in enumerate(witnesses) if holds(p.name, p.pred, s)))
        self.pending = pending
        return {"orders": orders, "failing": failing, "wit": wit, "distinct_by": distinct}

    def commit(self, gids: bytes) -> None:
        """The indices of this level's new states of its own, in their order: they are stored and form the next
        frontier."""
        ids = array("q")
        ids.frombytes(gids)
        pending = self.pending
        if len(ids) != len(pending):
            raise ValueError(f"commit: {len(ids)} indices for {len(pending)} new states")
        for e in pending:
            e[4].known[e[3]] = 0
        self.keys.extend([e[3] for e in pending])
        self.kinds.extend([e[4].kind for e in pending])
        self.gids.extend(ids)
        self.run, self.pending = list(zip(ids, [e[2] for e in pending], strict=True)), []
        self.level += 1
        gc.freeze()  # stored keys live until the end: keep the cyclic collector from rescanning them

    def coverage(self, upto: int, inclusive: bool) -> dict[Hashable, int]:
        """Actions generated by the expansions of this level up to index `upto` (re-executed: only on a stop)."""
        counts: dict[Hashable, int] = {}
        for gid, s in self.run:
            if gid > upto or gid == upto and not inclusive:
                break
            count_actions(counts, map(first, self.model.successors(s)))
        return counts

    def distinct(self, upto: int) -> dict[Hashable, int]:
        """Actions of the first `upto` new states of this level (by their first occurrence)."""
        counts: dict[Hashable, int] = {}
        for e in self.pending[:upto]:
            counts[e[1]] = counts.get(e[1], 0) + 1
        return counts

    def fingerprints(self, wanted: list[tuple[int, int]]) -> list[int]:
        """Stable fingerprints of states (a counterexample's path), for re-execution: (0, index) for a stored
        state, (1, position) for one of this level's new states (in their order) not yet committed."""
        import bisect

        fp = Fingerprinter()
        out = []
        for where, n in wanted:
            if where:
                out.append(fp(self.pending[n][2]))
            else:
                i = bisect.bisect_left(self.gids, n)
                out.append(fp(self.order[self.kinds[i]].state(self.keys[i])))
        return out


def _pack(entries: list[tuple[int, Hashable, Any]]) -> Batch:
    """A batch for another worker as it crosses: the positions as the bytes of an array, the actions, the keys (a
    pickle of three flat sequences, no tuple per state: about a third cheaper to write and to read)."""
    orders, actions, keys = zip(*entries, strict=True)
    return array("q", orders).tobytes(), list(actions), list(keys)


def _handle(shard: _Shard, request: str, args: list[Any]) -> Any:
    if request == "seed":
        return shard.seed(args[0])
    if request == "expand":
        summary = shard.expand(args[0])
        shard.post()
        return summary
    if request == "merge":
        return shard.merge(shard.received())
    if request == "commit":
        return shard.commit(args[0])
    if request == "coverage":
        return shard.coverage(args[0], args[1])
    if request == "distinct":
        return shard.distinct(args[0])
    if request == "fingerprints":
        return shard.fingerprints(args[0])
    if request == "dump":
        return shard.dump()
    if request == "load":
        return shard.load(*args)
    if request == "resident":
        return resident_bytes()
    raise ValueError(f"unknown request {request!r}")


def _serve(conn: Connection, model: Model, me: int, workers: int, directory: str) -> None:
    """A worker process: answer the coordinator until told to stop or the pipe closes. A closed pipe means the
    coordinator died (killed): the worker removes the exchange directory, which the coordinator would have."""
    if not serve(conn, _handle, _Shard(model, me, workers, directory)):
        shutil.rmtree(directory, ignore_errors=True)


#: The exchange directories: ``kubespec-shards-<pid>-<start>-<random>``, named after the coordinator's process id
#: and start time (`_started`), so that a directory whose coordinator is gone is known for a leftover.
PREFIX = "kubespec-shards-"


def _started(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, /proc/PID/stat's 22nd field); None if it does not exist,
    0 if this system does not say (no /proc: the process id alone names the coordinator)."""
    line = b""
    if os.path.exists("/proc/self/stat"):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                line = f.read()
        except FileNotFoundError:
            return None
        except OSError:
            pass
    fields = line[line.rfind(b")") + 2:].split()
    if len(fields) > 19 and fields[19].isdigit():
        return int(fields[19])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return 0


def exchange_root() -> str:
    """Where the exchange directories are made: /dev/shm (memory) if it can be written, else the temporary
    directory."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def sweep(directory: str) -> list[str]:
    """Remove the exchange directories in `directory` left by coordinators that died without cleaning up (kill -9,
    the OOM killer, a power cut of a container): this user's, whose coordinator process (id and start time) no
    longer exists. A directory of a live coordinator, of another user, or not named so is left alone. Returns the
    paths removed."""
    removed: list[str] = []
    uid = os.getuid()
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = re.fullmatch(re.escape(PREFIX) + r"(\d+)-(\d+)-[^/]+", name)
        if m is None:
            continue
        path = os.path.join(directory, name)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not stat_.S_ISDIR(st.st_mode) or st.st_uid != uid:
            continue
        started = _started(int(m[1]))
        if started is None or int(m[2]) not in (0, started):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class ShardPool(Processes):
    """The worker processes, forked from this one, and the directory through which they exchange states."""

    def __init__(self, model: Model, workers: int) -> None:
        where = exchange_root()
        sweep(where)
        pid = os.getpid()
        self.directory = tempfile.mkdtemp(prefix=f"{PREFIX}{pid}-{_started(pid) or 0}-", dir=where)
        super().__init__(workers, _serve, lambda k: (model, k, workers, self.directory))

    def expand(self, bound: bool) -> list[dict[str, Any]]:
        """Every worker expands its part of the level and writes what it found for the others to their files."""
        return self.all("expand", bound)

    def merge(self) -> list[dict[str, Any]]:
        """Every worker reads what the others wrote for it and takes in the states new to it."""
        return self.all("merge")

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.directory, ignore_errors=True)


#: Makes the workers: ``factory(model, workers)`` -> a pool with ``send``/``answer``/``ask``/``all``, ``expand``,
#: ``merge``, ``resident`` and ``close`` (`ShardPool`; on Ray, `checker.ray_backend.RayShards`).
ShardPoolFactory = Callable[[Model, int], Any]


def explore_sharded(model: Model, *, workers: int, max_states: int | None, max_depth: int | None, deadlock: bool,
                    progress: ProgressFn | None = None, stop: Callable[[], bool] | None = None,
                    max_memory: int | None = None, pool_factory: ShardPoolFactory | None = None,
                    stable: bool = False, checkpoint: Checkpointing | None = None,
                    resume: Snapshot | None = None) -> Outcome:
    """Breadth-first search in `workers` processes owning shards of the states; the Outcome of `search.explore`
    (parent links and depths; the graph's fingerprints are filled in along a counterexample's path only). With
    `stable`, owners are chosen by a stable fingerprint instead of `hash` (workers that are not forked from this
    process: `pool_factory` makes them, and they must choose so too). With `checkpoint`, the search writes one
    between two levels every `checkpoint.every` seconds and when a signal stops it, in the format of one worker's
    breadth-first search at the end of a level (`checker.checkpoint`); `resume` continues from such a checkpoint
    (written by workers or by one worker at the end of a level)."""
    if any(p.is_liveness for p in model.properties):
        raise ValueError("liveness needs the merged graph's edges: use checker.parallel")
    g = StateGraph(False, "fingerprint")
    out = Outcome(g)
    fpr = Fingerprinter()
    invariants = [(p.name, p.pred) for p in model.properties if p.kind == "always"]
    witnesses = [p for p in model.properties if p.kind == "sometimes"]
    canonical = model.canonical if overrides(model, "canonical") else None
    constraint = model.constraint if overrides(model, "constraint") else None
    keys, parent, depth, expanded, kinds = g.keys, g.parent, g.depth, g.expanded, g.kinds
    owner = bytearray()  # which worker stores each state
    limit = max_states if max_states is not None else float("inf")
    started = time.perf_counter()
    options = {"strategy": "bfs", "max_states": max_states, "max_depth": max_depth, "deadlock": deadlock,
               "storage": "exact"}
    if resume is not None:
        return _resumed(model, resume, workers=workers, limit=limit, max_states=max_states, max_depth=max_depth,
                        deadlock=deadlock, progress=progress, stop=stop, max_memory=max_memory,
                        pool_factory=pool_factory, stable=stable, checkpoint=checkpoint, options=options)

    # Initial states, in the coordinator (as the sequential search takes them).
    seen_init: set[tuple[type, Any]] = set()
    level: list[tuple[int, Any]] = []
    try:
        for s in model.init_states():
            out.generated += 1
            if canonical is not None:
                s = canonical(s)
            if constraint is not None and not holds("constraint", constraint, s):
                continue
            key_of, _ = _key_of(type(s))
            key = s if key_of is None else key_of(s)
            if (type(s), key) in seen_init:
                continue
            if len(keys) >= limit:
                out.cut = f"max states {max_states:,} reached"
                break
            seen_init.add((type(s), key))
            n = len(keys)
            keys.append(0)
            kinds.append(0)
            parent.append(NO_PARENT)
            depth.append(1)
            expanded.append(0)
            owner.append((fpr(s) if stable else hash(key)) % workers)
            out.max_depth = 1
            for name, pred in invariants:
                if not holds(name, pred, s):
                    out.failure = (name, "always", n)
            for p in witnesses:
                if holds(p.name, p.pred, s):
                    out.witnessed.add(p.name)
            level.append((n, s))
            if out.failure:
                keys[n] = fpr(s)
                return out
    except ModelError:
        raise
    except (Exception, SystemExit) as exc:
        raise ModelError(f"the model raised {type(exc).__name__}: {exc} in init_states") from exc
    if out.cut is not None or not level:
        out.queue = len(level)  # cut among the initial states: those stored wait, as with one worker
        return out

    pool = (pool_factory or ShardPool)(model, workers)
    try:
        for k, batch in enumerate([[(i, s) for i, s in level if owner[i] == k] for k in range(workers)]):
            pool.send(k, "seed", batch)
        pool.answers()
    except BaseException:
        pool.close()
        raise
    del level
    return _levels(pool, g, out, owner, 0, len(keys), 1, workers=workers, limit=limit, max_states=max_states,
                   max_depth=max_depth, deadlock=deadlock, progress=progress, stop=stop, max_memory=max_memory,
                   witnesses=witnesses, checkpoint=checkpoint, options=options, started=started)


def _resumed(model: Model, resume: Snapshot, *, workers: int, limit: float, max_states: int | None,
             max_depth: int | None, deadlock: bool, progress: ProgressFn | None, stop: Callable[[], bool] | None,
             max_memory: int | None, pool_factory: ShardPoolFactory | None, stable: bool,
             checkpoint: Checkpointing | None, options: dict[str, Any]) -> Outcome:
    """Continue the breadth-first search of a checkpoint taken at the end of a level: each worker gets the stored
    states it owns, and the frontier is the last level."""
    stored = resume.graph
    if stored.fingerprints is not None:
        raise InputError("a checkpoint of fingerprint storage holds no states to share among workers: resume it "
                         "with one worker")
    n = len(stored)
    lo = level_start(resume)
    g = StateGraph(False, "fingerprint")
    out = Outcome(g)
    g.parent, g.depth, g.expanded = array("i", stored.parent), array("i", stored.depth), bytearray(stored.expanded)
    g.keys.frombytes(bytes(8 * n))
    g.kinds.extend(bytes(n))
    out.generated, out.max_depth, out.witnessed = resume.generated, resume.max_depth, set(resume.witnessed)
    out.generated_by, out.distinct_by = dict(resume.generated_by), dict(resume.distinct_by)
    started = time.perf_counter() - resume.elapsed
    classes = [cls for cls, _ in sorted(stored.tables.items(), key=lambda item: item[1][2])]
    fpr = Fingerprinter()
    owner = bytearray(n)
    parts: list[tuple[array[int], list[Any], bytearray]] = [(array("q"), [], bytearray()) for _ in range(workers)]
    for i in range(n):
        key, kind = stored.keys[i], stored.kinds[i]
        k = (fpr(stored.state(i)) if stable else hash(key)) % workers
        owner[i] = k
        ids, ks, kinds = parts[k]
        ids.append(i)
        ks.append(key)
        kinds.append(kind)
    pool = (pool_factory or ShardPool)(model, workers)
    try:
        for k, (ids, ks, kinds) in enumerate(parts):
            pool.send(k, "load", ids.tobytes(), ks, bytes(kinds), classes, lo)
        pool.answers()
    except BaseException:
        pool.close()
        raise
    del parts
    d = stored.depth[lo] if lo < n else out.max_depth
    return _levels(pool, g, out, owner, lo, n, d, workers=workers, limit=limit, max_states=max_states,
                   max_depth=max_depth, deadlock=deadlock, progress=progress, stop=stop, max_memory=max_memory,
                   witnesses=[p for p in model.properties if p.kind == "sometimes"], checkpoint=checkpoint,
                   options=options, started=started)


def _save(pool: Any, checkpoint: Checkpointing, g: StateGraph, out: Outcome, lo: int, hi: int,
          options: dict[str, Any], started: float) -> None:
    """Write a checkpoint between two levels, as one worker's breadth-first search writes it at the end of a level:
    the workers' states gathered in index order, the coordinator's parent links, depths and counters."""
    n = len(g.parent)
    keys: list[Any] = [None] * n
    kinds = bytearray(n)
    classes: list[type] = []
    number: dict[type, int] = {}
    for gids, ks, kd, own_classes in pool.all("dump"):
        renumber = []
        for cls in own_classes:
            if cls not in number:
                number[cls] = len(classes)
                classes.append(cls)
            renumber.append(number[cls])
        ids = array("q")
        ids.frombytes(gids)
        for i, key, kind in zip(ids, ks, kd, strict=True):
            keys[i] = key
            kinds[i] = renumber[kind]
    graph = StateGraph(False, "exact")
    for cls in classes:
        graph.table(cls)
    graph.keys, graph.kinds = keys, kinds
    graph.parent, graph.depth, graph.expanded = g.parent, g.depth, g.expanded
    frontier = [(i, graph.state(i)) for i in range(lo, hi)]
    save(checkpoint, Snapshot(options, checkpoint.meta, graph, frontier, out.generated, out.max_depth,
                              out.generated_by, out.distinct_by, out.witnessed, [], [],
                              time.perf_counter() - started))


def _levels(pool: Any, g: StateGraph, out: Outcome, owner: bytearray, lo: int, hi: int, d: int, *, workers: int,
            limit: float, max_states: int | None, max_depth: int | None, deadlock: bool,
            progress: ProgressFn | None, stop: Callable[[], bool] | None, max_memory: int | None,
            witnesses: list[Any], checkpoint: Checkpointing | None, options: dict[str, Any],
            started: float) -> Outcome:
    """The search, level by level: this level is indices lo..hi-1, at depth d; the workers hold its states."""
    keys = g.keys
    pending: list[int] = []
    restore = _defer_signals(pending)
    between = False  # at a level's end (workers and coordinator agree): a checkpoint may be taken
    try:
        while hi > lo:
            between = True
            if pending:
                _deliver(pending)  # the program's own handler (the command line's raises KeyboardInterrupt)
            if stop is not None and stop():
                raise KeyboardInterrupt
            if checkpoint is not None and time.perf_counter() - checkpoint.last >= checkpoint.every:
                _save(pool, checkpoint, g, out, lo, hi, options, started)
            between = False
            if max_memory is not None and pool.resident() >= max_memory * 2**20:
                out.cut = f"max memory {max_memory:,} MiB reached (all processes)"
                out.queue = hi - lo
                return out
            bound = max_depth is not None and d >= max_depth
            expansions = pool.expand(bound)
            merged = pool.merge()
            total = sum(len(m["orders"]) for m in merged)
            outside = any(e["outside"] is not None for e in expansions)
            trouble = (ALWAYS_REPLAY or any(e["beyond"] is not None for e in expansions)
                       or any(m["failing"] for m in merged) or len(keys) + total > limit
                       or bound and (total > 0 or outside) or deadlock and any(0 in e["n_succ"] for e in expansions))
            if trouble:
                placed: dict[int, int] = {}
                stopped = _replay(pool, g, out, owner, expansions, merged, lo, hi, d, workers, limit, max_states,
                                  max_depth, deadlock, bound, witnesses, placed)
                if stopped:
                    if out.failure is not None:
                        path = g.path_to(out.failure[2])
                        for k in range(workers):
                            mine = [i for i in path if owner[i] == k]
                            if mine:
                                wanted = [(1, placed[i]) if i >= hi else (0, i) for i in mine]
                                for i, f in zip(mine, pool.ask(k, "fingerprints", wanted), strict=True):
                                    keys[i] = f
                    return out
            else:
                _bulk(g, out, owner, expansions, merged, lo, hi, d, workers, witnesses)
            new_ids: list[array[int]] = [array("q") for _ in range(workers)]
            for i in range(hi, len(keys)):
                new_ids[owner[i]].append(i)
            for k in range(workers):
                pool.send(k, "commit", new_ids[k].tobytes())
            for k in range(workers):
                pool.answer(k)
            lo, hi, d = hi, len(keys), d + 1
            if progress is not None:
                progress(len(keys), out.generated, out.max_depth, hi - lo, time.perf_counter() - started)
        return out
    except KeyboardInterrupt:
        out.interrupted = True
        out.queue = hi - lo
        if between and checkpoint is not None:
            _save(pool, checkpoint, g, out, lo, hi, options, started)  # stopped between two levels: consistent
        return out
    finally:
        restore()
        pool.close()


def _bulk(g: StateGraph, out: Outcome, owner: bytearray, expansions: list[dict[str, Any]],
          merged: list[dict[str, Any]], lo: int, hi: int, d: int, workers: int, witnesses: list[Any]) -> None:
    """Store a level that nothing stops: its new states in the sequential order, their counts in bulk."""
    tagged: list[int] = []
    for k, m in enumerate(merged):
        tagged.extend([o * workers + k for o in m["orders"]])
    tagged.sort()
    n = len(tagged)
    shift = SHIFT
    g.parent.extend([(v // workers) >> shift for v in tagged])
    owner.extend([v % workers for v in tagged])
    g.keys.frombytes(bytes(8 * n))
    g.kinds.extend(bytes(n))
    g.depth.extend(array("i", [d + 1]) * n)
    g.expanded[lo:hi] = b"\x01" * (hi - lo)
    g.expanded.extend(bytes(n))
    for e in expansions:
        out.generated += sum(e["n_succ"])
        for a, c in e["generated_by"].items():
            out.generated_by[a] = out.generated_by.get(a, 0) + c
    for m in merged:
        for a, c in m["distinct_by"].items():
            out.distinct_by[a] = out.distinct_by.get(a, 0) + c
        bits = 0
        for w in m["wit"]:
            bits |= w
        for k, p in enumerate(witnesses):
            if bits >> k & 1:
                out.witnessed.add(p.name)
    if n:
        out.max_depth = max(out.max_depth, d + 1)


def _replay(pool: Any, g: StateGraph, out: Outcome, owner: bytearray, expansions: list[dict[str, Any]],
            merged: list[dict[str, Any]], lo: int, hi: int, d: int, workers: int, limit: float,
            max_states: int | None, max_depth: int | None, deadlock: bool, bound: bool,
            witnesses: list[Any], placed: dict[int, int]) -> bool:
    """Walk a level in the sequential order, as the one-worker search does, storing its new states; True if a
    violation, a deadlock or a bound stopped it there (the counts are then those of one worker at that point).
    `placed` gets each stored new state's position among its owner's new states."""
    shift = SHIFT
    cands = sorted((o, k, i) for k, m in enumerate(merged) for i, o in enumerate(m["orders"]))
    failing = [dict(m["failing"]) for m in merged]
    n_succ: dict[int, int] = {}
    ptr = [0] * workers
    for i in range(lo, hi):  # the workers expanded their runs in index order (one that stopped, partly)
        k = owner[i]
        if ptr[k] < len(expansions[k]["n_succ"]):
            n_succ[i] = expansions[k]["n_succ"][ptr[k]]
            ptr[k] += 1
    beyond = min((e["beyond"] for e in expansions if e["beyond"] is not None), key=lambda b: (b[0], b[1]),
                 default=None)
    outside = min((e["outside"] for e in expansions if e["outside"] is not None), default=None)
    stored = [0] * workers  # new states stored per owner, in its order
    c = 0
    keys, parent, depth, expanded, kinds = g.keys, g.parent, g.depth, g.expanded, g.kinds
    stop: tuple[int, bool] | None = None  # (index of the last expansion counted, whether it is counted)
    for i in range(lo, hi):
        if bound and (c < len(cands) and cands[c][0] >> shift == i or outside == i):
            out.cut = f"max depth {max_depth} reached"  # a successor not yet found, at the bound
            stop = (i, False)
            break
        expanded[i] = 1
        ns = n_succ[i]
        cut = False
        before = sum(stored)  # new states queued before this expansion (a cut drops those it found, as one worker)
        while c < len(cands) and cands[c][0] >> shift == i:
            order, k, j = cands[c]
            if beyond is not None and beyond[0] == i and order & ((1 << shift) - 1) > beyond[1]:
                break
            c += 1
            if len(keys) >= limit:
                out.cut = f"max states {max_states:,} reached"
                expanded[i] = 0  # incomplete: liveness must not treat it as expanded
                out.queue = hi - i - 1 + before
                cut = True
                break
            n = len(keys)
            keys.append(0)
            kinds.append(0)
            parent.append(i)
            depth.append(d + 1)
            expanded.append(0)
            owner.append(k)
            placed[n] = j
            stored[k] += 1
            out.max_depth = max(out.max_depth, d + 1)
            if witnesses:
                bits = merged[k]["wit"][j]
                for b, p in enumerate(witnesses):
                    if bits >> b & 1:
                        out.witnessed.add(p.name)
            if j in failing[k]:
                out.failure = (failing[k][j], "always", n)
                break
        if cut or out.failure is not None:
            out.generated += ns
            stop = (i, True)
            break
        out.generated += ns
        if beyond is not None and beyond[0] == i:
            out.failure, out.beyond = (beyond[2], "always", i), beyond[3]
            stop = (i, True)
            break
        if ns == 0 and deadlock:
            out.failure = ("deadlock", "deadlock", i)
            stop = (i, True)
            break
    if stop is None:
        for e in expansions:
            for a, n_ in e["generated_by"].items():
                out.generated_by[a] = out.generated_by.get(a, 0) + n_
        for k in range(workers):
            for a, n_ in pool.ask(k, "distinct", stored[k]).items():
                out.distinct_by[a] = out.distinct_by.get(a, 0) + n_
        return False
    upto, inclusive = stop
    for part in pool.all("coverage", upto, inclusive):
        for a, n_ in part.items():
            out.generated_by[a] = out.generated_by.get(a, 0) + n_
    for k in range(workers):
        for a, n_ in pool.ask(k, "distinct", stored[k]).items():
            out.distinct_by[a] = out.distinct_by.get(a, 0) + n_
    return True


__all__ = ["explore_sharded"]
