"""Exhaustive search: breadth-first (shortest counterexamples) or depth-first, over states stored exactly or as
fingerprints (`checker.graph`).

The loop is the hot path of every check: it aliases everything it touches to locals and does per generated
successor only what it must (count the action, canonicalise, apply the constraint, one dict lookup).
"""

from __future__ import annotations

import contextlib
import gc
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterable
from operator import itemgetter
from typing import Any

import attrs

from checker.checkpoint import Checkpointing, Snapshot, save
from checker.entry import STOP_SIGNALS
from checker.errors import ModelError
from checker.graph import NO_PARENT, StateGraph
from checker.model import Model, overrides
from checker.storage import DiskQueue, resident_bytes
from checker.visitor import Visitor

ProgressFn = Callable[[int, int, int, int, float], None]
PROGRESS_EVERY = 2048
first = itemgetter(0)


def count_actions(counts: dict[Hashable, int], actions: Iterable[Hashable]) -> None:
    """counts[a] += 1 for each action (collections' C helper when present: this runs per generated state)."""
    for a in actions:
        counts[a] = counts.get(a, 0) + 1


with contextlib.suppress(ImportError):  # other Python implementations keep the pure-Python version
    from collections import _count_elements as count_actions  # type: ignore[attr-defined,no-redef]


@attrs.define
class Outcome:
    """What a search found: the graph, counts, and where it stopped."""

    graph: StateGraph
    generated: int = 0
    max_depth: int = 0
    #: (property, kind, state index) of the first safety violation or deadlock, if any.
    failure: tuple[str, str, int] | None = None
    #: A successor of the failure's state, outside the state constraint, that violates an invariant.
    beyond: Any = None
    cut: str | None = None
    interrupted: bool = False
    queue: int = 0
    generated_by: dict[Hashable, int] = attrs.field(factory=dict)
    distinct_by: dict[Hashable, int] = attrs.field(factory=dict)
    witnessed: set[str] = attrs.field(factory=set)
    #: Per liveness property (in the model's order), per state: does the goal hold, does the premise hold.
    goal_bits: list[bytearray] = attrs.field(factory=list)
    premise_bits: list[bytearray] = attrs.field(factory=list)


def holds(prop_name: str, pred: Callable[[Any], bool], state: Any) -> bool:
    """Evaluate a predicate, insisting on a bool and naming the property when it raises."""
    try:
        value = pred(state)
    except (Exception, SystemExit) as exc:
        raise ModelError(f"property {prop_name!r} raised {type(exc).__name__}: {exc}") from exc
    if value is True or value is False:
        return value
    raise ModelError(f"property {prop_name!r} returned {type(value).__name__} {value!r}, not a bool")


def fairness_masks(model: Model) -> tuple[int, int, Callable[[Hashable], int]]:
    """Bit masks of the weak and strong fairness classes, and a cached action -> mask function."""
    weak = strong = 0
    for k, f in enumerate(model.fairness):
        if f.kind == "weak":
            weak |= 1 << k
        else:
            strong |= 1 << k
    cache: dict[Hashable, int] = {}
    fairness = list(enumerate(model.fairness))

    def mask_of(action: Hashable) -> int:
        m = cache.get(action)
        if m is None:
            m = 0
            for k, f in fairness:
                if holds(f"fairness {f.name}", f.selects, action):
                    m |= 1 << k
            cache[action] = m
        return m

    return weak, strong, mask_of


def explore(model: Model, *, strategy: str, max_states: int | None, max_depth: int | None, deadlock: bool,
            with_edges: bool, progress: ProgressFn | None = None, stop: Callable[[], bool] | None = None,
            storage: str = "exact", checkpoint: Checkpointing | None = None, resume: Snapshot | None = None,
            bitstate_bytes: int = 0, max_memory: int | None = None, visitor: Visitor | None = None) -> Outcome:
    """Explore the reachable states, checking invariants and deadlock as states are found. ``stop`` is asked now
    and then whether to stop as if interrupted (a Ctrl-C that Python swallowed, say in a finalizer, still counts).
    ``storage`` is "exact" or "fingerprint" (`checker.graph`). With ``checkpoint``, a consistent checkpoint is
    written every ``checkpoint.every`` seconds and when SIGINT, SIGTERM or SIGHUP stops the search; ``resume`` continues
    from one (`checker.checkpoint`). A ``visitor`` (exact storage) is told each state stored, each edge followed
    and each expansion completed (`checker.visitor`)."""
    g = resume.graph if resume is not None else StateGraph(with_edges, storage, bitstate_bytes)
    out = Outcome(g)
    invariants = [(p.name, p.pred) for p in model.properties if p.kind == "always"]
    witnesses = [p for p in model.properties if p.kind == "sometimes"]
    liveness = [p for p in model.properties if p.is_liveness]
    canonical = model.canonical if overrides(model, "canonical") else None
    constraint = model.constraint if overrides(model, "constraint") else None
    _, _, mask_of = fairness_masks(model)
    hidden = model.hidden_fairness if overrides(model, "hidden_fairness") else None
    class_bit = {f.name: 1 << k for k, f in enumerate(model.fairness)}
    # The classes a reduction hid are asked by the liveness check, of the few states where they matter
    # (`StateGraph.unasked`), when the graph can rebuild a state (exact storage) and no checkpoint is written.
    ask_later = hidden is not None and with_edges and storage == "exact" and checkpoint is None and resume is None
    keys, kinds, parent, depth, expanded = g.keys, g.kinds, g.parent, g.depth, g.expanded
    edge_lo, edge_hi, edge_to, edge_mask, enabled = g.edge_lo, g.edge_hi, g.edge_to, g.edge_mask, g.enabled
    lifo = strategy == "dfs"
    general = canonical is not None or constraint is not None
    # The frontier holds (index, state): states are stored as keys, so the object is kept until expanded.
    # With fingerprint storage the frontier is the only place states live: breadth-first, it spills to disk.
    frontier: Any = DiskQueue() if storage != "exact" and not lifo else deque()
    started = time.perf_counter()
    last_report = started
    limit = max_states if max_states is not None else float("inf")
    check_new = bool(invariants or witnesses or liveness)
    visit_edge = None if visitor is None else visitor.edge
    out.goal_bits = [bytearray() for _ in liveness]
    out.premise_bits = [bytearray() for _ in liveness]
    if resume is not None:
        out.generated, out.max_depth, out.witnessed = resume.generated, resume.max_depth, resume.witnessed
        out.generated_by, out.distinct_by = resume.generated_by, resume.distinct_by
        out.goal_bits, out.premise_bits = resume.goal_bits, resume.premise_bits
        frontier.extend(resume.frontier)
        started -= resume.elapsed
    generated_by, distinct_by = out.generated_by, out.distinct_by
    goal_bits, premise_bits = out.goal_bits, out.premise_bits
    # A premise that is the goal's negation (or whose negation is the goal: `checker.model.Negation`) is not asked:
    # its answer is the goal's, negated.
    live = [(p.name, p.pred, _NEGATED if p.negated_premise else p.premise, goal_bits[k], premise_bits[k])
            for k, p in enumerate(liveness)]
    options = {"strategy": strategy, "max_states": max_states, "max_depth": max_depth, "deadlock": deadlock,
               "storage": storage}

    def snapshot() -> None:
        """Write a checkpoint (between two expansions: the graph and the frontier agree)."""
        assert checkpoint is not None
        save(checkpoint, Snapshot(options, checkpoint.meta, g, list(frontier), out.generated, out.max_depth,
                                  generated_by, distinct_by, out.witnessed, goal_bits, premise_bits,
                                  time.perf_counter() - started))

    def store(state: Any, key: Any, kind: int, from_index: int, d: int) -> int:
        """Append a state already entered in its table; check invariants and witnesses on it."""
        n = len(keys)
        keys.append(key)
        kinds.append(kind)
        parent.append(from_index)
        depth.append(d)
        expanded.append(0)
        if visitor is not None:
            visitor.state(n, state, None if from_index == NO_PARENT else from_index, d)
        if with_edges:
            edge_lo.append(0)
            edge_hi.append(0)
            enabled.append(0)
        if check_new:
            judge(state, n)
        return n

    def judge(state: Any, n: int) -> None:
        """Check the invariants and witnesses on a new state and record its liveness bits: `holds` inlined, as
        every property is asked of every new state (``name``: the property being asked, named if it raises)."""
        name = ""
        try:
            for name, pred in invariants:
                value = pred(state)
                if value is not True:
                    if value is not False:
                        raise _NotABool(value)
                    out.failure = (name, "always", n)
            for p in witnesses:
                name = p.name
                if name not in out.witnessed:
                    value = p.pred(state)
                    if value is True:
                        out.witnessed.add(name)
                    elif value is not False:
                        raise _NotABool(value)
            for name, pred, premise, goals, premises in live:  # noqa: B007 - named if it raises
                value = pred(state)
                if value is not True and value is not False:
                    raise _NotABool(value)
                goals.append(value)
                if premise is None:
                    premises.append(0)
                elif premise is _NEGATED:
                    premises.append(not value)
                else:
                    value = premise(state)
                    if value is not True and value is not False:
                        raise _NotABool(value)
                    premises.append(value)
        except _NotABool as answer:
            value = answer.args[0]
            raise ModelError(f"property {name!r} returned {type(value).__name__} {value!r}, not a bool") from None
        except (Exception, SystemExit) as exc:
            raise ModelError(f"property {name!r} raised {type(exc).__name__}: {exc}") from exc

    current = -1
    pending: list[int] = []  # SIGINT/SIGTERM/SIGHUP received, acted upon between two expansions
    between = False
    restore = _defer_signals(pending)
    try:
        for s in model.init_states() if resume is None else ():
            out.generated += 1  # TLC counts initial states among the states generated
            if canonical is not None:
                s = canonical(s)
            if constraint is not None and not _constraint(constraint, s):
                continue
            table, key_of, kind = g.table(type(s))
            key = s if key_of is None else key_of(s)
            if key in (table if g.fp_set is None else g.fp_set):
                continue
            if len(keys) >= limit:
                out.cut = f"max states {max_states:,} reached"
                break
            if g.fp_set is not None:
                g.fp_set.add(key)
            else:
                table[key] = len(keys)
            i = store(s, key, kind, NO_PARENT, 1)
            out.max_depth = 1
            if out.failure:
                return out
            frontier.append((i, s))
        pop = frontier.pop if lifo else frontier.popleft
        expansions = 0
        last_cls: type | None = None
        table, key_of, kind = {}, None, 0
        fp_set = g.fp_set
        fingerprint: Callable[[Any], int] = g.fingerprints or hash
        while frontier and out.cut is None:
            if pending:
                between = True
                _deliver(pending)  # the signal's own handler runs now: Ctrl-C raises KeyboardInterrupt here
                between = False
            current, s = pop()
            d = depth[current]
            # At the depth bound, the search is bounded if this state has a successor not yet found. Otherwise it is
            # expanded like any other (nothing new is stored): its deadlock, edges and enabled actions count, or a
            # dead end at the bound would pass for a complete search with no deadlock and no fair stutter.
            if (max_depth is not None and d >= max_depth
                    and any(not g.contains(_canon(canonical, t)) for _, t in model.successors(s))):
                out.cut = out.cut or f"max depth {max_depth} reached"
                frontier.clear()
                continue
            expanded[current] = 1
            if with_edges:
                edge_lo[current] = len(edge_to)
            succ = list(model.successors(s))
            n_succ = len(succ)
            count_actions(generated_by, map(first, succ))
            new: list[tuple[int, Any]] = []
            en = 0
            for a, t in succ:
                if general:
                    if canonical is not None:
                        t = canonical(t)
                    if constraint is not None and not _constraint(constraint, t):
                        # As TLC: a state outside the constraint is neither counted nor explored, but it is
                        # still a reachable state of the system, so the invariants must hold in it.
                        for name, pred in invariants:
                            if not holds(name, pred, t):
                                out.failure, out.beyond = (name, "always", current), t
                                out.generated += n_succ
                                return out
                        if with_edges and t != s:
                            en |= mask_of(a)
                        continue
                if fp_set is not None:
                    # Fingerprints without edges: a set, and no index to look up (a known state is just skipped).
                    key = fingerprint(t)
                    if key in fp_set:
                        continue
                    j = n = len(keys)
                    if n >= limit:
                        out.cut = f"max states {max_states:,} reached"
                        break
                    fp_set.add(key)
                else:
                    if type(t) is not last_cls:
                        last_cls = type(t)
                        table, key_of, kind = g.table(last_cls)
                    key = t if key_of is None else key_of(t)
                    n = len(keys)
                    j = table.setdefault(key, n)
                    if j == n and n >= limit:
                        del table[key]
                        out.cut = f"max states {max_states:,} reached"
                        break
                if j == n:
                    store(t, key, kind, current, d + 1)
                    if visit_edge is not None:
                        visit_edge(current, a, j)
                    distinct_by[a] = distinct_by.get(a, 0) + 1
                    if d >= out.max_depth:
                        out.max_depth = d + 1
                    if out.failure:
                        out.generated += n_succ
                        return out
                    new.append((j, t))
                elif visit_edge is not None:
                    visit_edge(current, a, j)
                if with_edges and j != current:
                    m = mask_of(a)
                    en |= m
                    edge_to.append(j)
                    edge_mask.append(m)
            out.generated += n_succ
            if out.cut is not None:
                # The bound stopped this expansion midway: its successors, edges and enabled actions are
                # incomplete, so liveness must not treat it as expanded (it could seem to stutter fairly).
                expanded[current] = 0
                break
            if with_edges:
                edge_hi[current] = len(edge_to)
                if hidden is not None and not ask_later:
                    # Classes a reduction left out of the successors are enabled all the same (Model.hidden_fairness).
                    for name in hidden(s):
                        en |= class_bit[name]
                enabled[current] = en
            if visitor is not None:
                visitor.expanded(current, n_succ)
            if lifo:
                new.reverse()
            frontier.extend(new)
            if n_succ == 0 and deadlock:
                out.failure = ("deadlock", "deadlock", current)
                return out
            expansions += 1
            if expansions % PROGRESS_EVERY == 0:
                # Stored states live until the end: keep the cyclic garbage collector from rescanning them.
                gc.freeze()
                if stop is not None and stop():
                    between = True  # this expansion is complete: what was found is consistent
                    raise KeyboardInterrupt
                if checkpoint is not None and time.perf_counter() - checkpoint.last >= checkpoint.every:
                    snapshot()
                if max_memory is not None and resident_bytes() >= max_memory * 2**20:
                    out.cut = f"max memory {max_memory:,} MiB reached"  # between expansions: a clean stop
                    break
                if progress is not None:
                    now = time.perf_counter()
                    if now - last_report >= 0.25:
                        last_report = now
                        progress(len(keys), out.generated, out.max_depth, len(frontier), now - started)
    except KeyboardInterrupt:
        out.interrupted = True
        if between:
            if checkpoint is not None:
                snapshot()  # stopped between two expansions: the graph and the frontier agree
        elif current >= 0:
            expanded[current] = 0  # its successors may be incomplete
    except ModelError:
        raise
    except (Exception, SystemExit) as exc:  # a model calling sys.exit is a model error, not a verdict
        where = f" while expanding state #{current} (depth {depth[current]})" if current >= 0 else " in init_states"
        raise ModelError(f"the model raised {type(exc).__name__}: {exc}{where}") from exc
    finally:
        restore()
        gc.unfreeze()
        left = len(frontier)
        if isinstance(frontier, DiskQueue):
            frontier.close()
        if ask_later and hidden is not None:
            g.unasked = bytearray(expanded)  # every expanded state: none was asked
            g.hidden_of = _asker(g, hidden, class_bit)
    out.queue = left
    return out


def _asker(g: StateGraph, hidden: Callable[[Any], Iterable[str]], class_bit: dict[str, int]) -> Callable[[int], int]:
    """The fairness classes (a mask) a reduction hid in the state of an index, asked of the model."""
    def hidden_of(i: int) -> int:
        mask = 0
        try:
            for name in hidden(g.state(i)):
                mask |= class_bit[name]
        except (Exception, SystemExit) as exc:
            raise ModelError(f"the model raised {type(exc).__name__}: {exc} in hidden_fairness of state #{i} "
                             f"(depth {g.depth[i]})") from exc
        return mask

    return hidden_of


def _NEGATED(state: Any) -> bool:
    """Stands for a premise answered by its goal's negation (never called)."""
    raise AssertionError("a negated premise is answered from its goal")


class _NotABool(Exception):
    """A property's answer that is not a bool (``judge`` names the property)."""


def _defer_signals(pending: list[int]) -> Callable[[], None]:
    """Until the returned function is called, SIGINT, SIGTERM and SIGHUP only append to `pending` (the search acts
    on them between two expansions, through `_deliver`, so that what it has found is consistent); a second signal
    runs the original handler at once. Signals whose handler is not a Python function are left alone."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        if pending:
            previous[signum](signum, frame)
        else:
            pending.append(signum)

    for sig in STOP_SIGNALS:
        prev = signal.getsignal(sig)
        if callable(prev):
            previous[sig] = prev
            signal.signal(sig, handler)
    _HANDLERS.append(previous)

    def restore() -> None:
        for sig, prev in previous.items():
            signal.signal(sig, prev)
        if _HANDLERS and _HANDLERS[-1] is previous:
            _HANDLERS.pop()

    return restore


#: The handlers that `_defer_signals` stands in for, innermost last.
_HANDLERS: list[dict[int, Any]] = []


def _deliver(pending: list[int]) -> None:
    """Run the original handler of the first signal received (the command line's raises KeyboardInterrupt)."""
    signum = pending[0]
    handlers = _HANDLERS[-1] if _HANDLERS else {}
    handler = handlers.get(signum)
    if handler is not None:
        handler(signum, None)
    pending.clear()  # the handler did not stop the search


def _constraint(constraint: Callable[[Any], bool], state: Any) -> bool:
    return holds("constraint", constraint, state)


def _canon(canonical: Callable[[Any], Any] | None, state: Any) -> Any:
    return state if canonical is None else canonical(state)
