"""Liveness under weak and strong fairness: a reachable fair cycle in which the goal never holds.

The method is TLC's and SPIN's: restrict the explored graph to the states where the goal does not hold and that
are reachable from a trigger (an initial state for `<>P`, a `P /\\ ~Q` state for `P ~> Q`) through such states;
split it into strongly connected components (every state may also stutter, so a single state is a candidate
cycle); a component is fair when, for every fairness class, the cycle through all its states and edges
satisfies it. Strong fairness that fails only because a class is enabled somewhere in the component is refined
by removing the states that enable it and recursing (Lichtenstein & Pnueli; Emerson & Lei).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

import attrs

from checker.graph import StateGraph


@attrs.frozen
class Lasso:
    """A fair lasso as state indices: `prefix` ends in the loop's first state; `loop` returns to it."""

    prefix: tuple[int, ...]
    loop: tuple[int, ...]
    #: For each step of the loop (loop[k] -> loop[k+1]), the fairness classes it was chosen to take (0: any).
    takes: tuple[int, ...] = ()


def strongly_connected(nodes: Iterable[int], g: StateGraph, inside: set[int]) -> list[list[int]]:
    """Tarjan's algorithm, iterative, over the subgraph of `g` induced by `inside`."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    result: list[list[int]] = []
    counter = 0
    lo, hi, to = g.edge_lo, g.edge_hi, g.edge_to
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, lo[root])]
        while work:
            v, e = work[-1]
            end = hi[v]
            descended = False
            while e < end:
                w = to[e]
                e += 1
                if w not in inside:
                    continue
                if w not in index:
                    work[-1] = (v, e)
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, lo[w]))
                    descended = True
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                result.append(component)
    return result


def _taken(component: Sequence[int], g: StateGraph, inside: set[int]) -> int:
    taken = 0
    for v in component:
        for w, mask in g.successors(v):
            if w in inside:
                taken |= mask
    return taken


def _fair_component(component: list[int], g: StateGraph, weak: int, strong: int, size: int) -> list[int] | None:
    """A fair sub-component of a strongly connected component, or None."""
    enabled = g.enabled
    if len(component) == 1 and all(w != component[0] for w, _ in g.successors(component[0])):
        # A single state: the only cycle is stuttering, fair iff no fairness class is enabled there.
        return None if enabled[component[0]] & (weak | strong) else component
    inside = set(component)
    taken = _taken(component, g, inside)
    somewhere = 0
    everywhere = -1
    for v in component:
        somewhere |= enabled[v]
        everywhere &= enabled[v]
    unmet_strong = strong & somewhere & ~taken
    if unmet_strong:
        k = unmet_strong & -unmet_strong
        rest = [v for v in component if not enabled[v] & k]
        if not rest:
            return None
        for sub in strongly_connected(rest, g, set(rest)):
            found = _fair_component(sub, g, weak, strong, size)
            if found is not None:
                return found
        return None
    if weak & everywhere & ~taken:
        return None
    return component


def find_fair_lasso(g: StateGraph, bad: bytearray, triggers: Sequence[int], weak: int, strong: int) -> Lasso | None:
    """A lasso that reaches a trigger, then stays in `bad` states forever, fairly; None if there is none.

    Only expanded states are considered, so a lasso found in a partial graph is a genuine counterexample.
    """
    size = len(g)
    region = bytearray(size)
    queue: deque[int] = deque()
    for t in triggers:
        if bad[t] and g.expanded[t] and not region[t]:
            region[t] = 1
            queue.append(t)
    while queue:
        v = queue.popleft()
        for w, _ in g.successors(v):
            if bad[w] and g.expanded[w] and not region[w]:
                region[w] = 1
                queue.append(w)
    nodes = [v for v in range(size) if region[v]]
    for component in strongly_connected(nodes, g, set(nodes)):
        fair = _fair_component(component, g, weak, strong, size)
        if fair is not None:
            return _lasso(g, region, fair, triggers, weak, strong)
    return None


def _bfs(g: StateGraph, sources: Iterable[int], goal: bytearray, allowed: bytearray) -> list[int]:
    """A shortest path through `allowed` states from any source to a `goal` state."""
    parent: dict[int, int] = {}
    queue: deque[int] = deque()
    for s in sources:
        if s not in parent:
            parent[s] = -1
            queue.append(s)
    while queue:
        v = queue.popleft()
        if goal[v]:
            return _unwind(parent, v)
        for w, _ in g.successors(v):
            if allowed[w] and w not in parent:
                parent[w] = v
                queue.append(w)
    raise AssertionError("no path inside a component that is strongly connected")


def _lasso(g: StateGraph, region: bytearray, fair: list[int], triggers: Sequence[int], weak: int,
           strong: int) -> Lasso:
    size = len(g)
    in_fair = bytearray(size)
    for v in fair:
        in_fair[v] = 1
    head = _shortest_from_triggers(g, region, in_fair, triggers)
    prefix = g.path_to(head[0])[:-1] + head
    entry = prefix[-1]
    # The loop starts at the entry, takes one step of every fairness class that has a step inside the component
    # (a weak class is already met once the loop passes a state where it is disabled), visits a disabled state
    # for each weak class that has none, and returns to the entry. A strong class with no step inside the
    # component is disabled in all of it (the refinement removed the states enabling it).
    enabled = g.enabled
    loop = [entry]
    takes: dict[int, int] = {}
    bit = 1
    while bit <= weak | strong:
        if (weak | strong) & bit:
            met_weakly = bool(weak & bit) and any(not enabled[v] & bit for v in loop)
            edge = next(((v, w) for v in fair for w, m in g.successors(v) if in_fair[w] and m & bit), None)
            if edge is not None and not met_weakly:
                loop += _bfs(g, [loop[-1]], _only(size, edge[0]), in_fair)[1:]
                takes[len(loop) - 1] = bit
                loop.append(edge[1])
            elif edge is None and weak & bit and not met_weakly:
                target = next(v for v in fair if not enabled[v] & bit)
                loop += _bfs(g, [loop[-1]], _only(size, target), in_fair)[1:]
        bit <<= 1
    if len(loop) > 1:
        loop += _bfs(g, [loop[-1]], _only(size, entry), in_fair)[1:]
    return Lasso(tuple(prefix), tuple(loop), tuple(takes.get(k, 0) for k in range(len(loop) - 1)))


def _shortest_from_triggers(g: StateGraph, region: bytearray, goal: bytearray, triggers: Sequence[int]) -> list[int]:
    """The path trigger -> goal inside the region that minimises the trigger's depth plus the path's length."""
    by_depth = sorted({t for t in triggers if region[t]}, key=lambda t: (g.depth[t], t))
    parent: dict[int, int] = {}
    frontier: list[int] = []
    k = 0
    level = g.depth[by_depth[0]]
    while True:
        while k < len(by_depth) and g.depth[by_depth[k]] <= level:
            t = by_depth[k]
            k += 1
            if t not in parent:
                parent[t] = -1
                frontier.append(t)
        for v in frontier:
            if goal[v]:
                return _unwind(parent, v)
        nxt = []
        for v in frontier:
            for w, _ in g.successors(v):
                if region[w] and w not in parent:
                    parent[w] = v
                    nxt.append(w)
        if not nxt and k == len(by_depth):
            raise AssertionError("the fair component is not reachable from any trigger")
        frontier = nxt
        level += 1


def _unwind(parent: dict[int, int], v: int) -> list[int]:
    """The path of a breadth-first search from its source to `v`, following `parent` (-1 at a source)."""
    path = [v]
    while parent[path[-1]] != -1:
        path.append(parent[path[-1]])
    path.reverse()
    return path


def _only(size: int, v: int) -> bytearray:
    b = bytearray(size)
    b[v] = 1
    return b
