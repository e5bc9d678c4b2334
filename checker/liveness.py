"""Liveness under weak and strong fairness: fair lassos that violate `<>P`, `P ~> Q`, `<>[]Q` and `P ~> []Q`.

The method is TLC's and SPIN's. For `<>P` and `P ~> Q` (persistence of a bad region): restrict the explored
graph to the states where the goal does not hold and that are reachable from a trigger (an initial state for
`<>P`, a `P /\\ ~Q` state for `P ~> Q`) through such states; split it into strongly connected components (every
state may also stutter, so a single state is a candidate cycle); a component is fair when, for every fairness
class, the cycle through all its states and edges satisfies it. Strong fairness that fails only because a class
is enabled somewhere in the component is refined by removing the states that enable it and recursing
(Lichtenstein & Pnueli; Emerson & Lei).

For `<>[]Q` and `P ~> []Q` (recurrence, a Büchi condition): `<>[]Q` fails exactly when some fair behaviour is in
a `~Q` state infinitely often. Its end cycle may pass through `Q` states too, so the graph is restricted only to
what a trigger (an initial state, or any `P` state) reaches, and a fair (refined) component qualifies only if it
holds a `~Q` state; the printed loop starts at such a state. A refinement keeps exactly the fair cycles of the
component, so one that keeps no `~Q` state rules the component out.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Container, Iterable, Sequence

import attrs

from checker.graph import StateGraph


@attrs.frozen
class Lasso:
    """A fair lasso as state indices: `prefix` ends in the loop's first state; `loop` returns to it."""

    prefix: tuple[int, ...]
    loop: tuple[int, ...]
    #: For each step of the loop (loop[k] -> loop[k+1]), the fairness classes it was chosen to take (0: any).
    takes: tuple[int, ...] = ()


def components(nodes: Iterable[int], successors: Callable[[int], Sequence[int]], inside: Container[int]
               ) -> list[list[int]]:
    """Tarjan's algorithm, iterative: the strongly connected components of the subgraph induced by ``inside`` of
    the graph whose edges from ``v`` go to ``successors(v)``, searched from ``nodes`` in order; each component is
    listed once complete (so in reverse topological order). ``kubespec graph --view`` uses it too
    (``diagrams.quotient.fair_states``)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    result: list[list[int]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work = [(root, successors(root), 0)]
        while work:
            v, edges, e = work[-1]
            end = len(edges)
            descended = False
            while e < end:
                w = edges[e]
                e += 1
                if w not in inside:
                    continue
                if w not in index:
                    work[-1] = (v, edges, e)
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, successors(w), 0))
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


def strongly_connected(nodes: Iterable[int], g: StateGraph, inside: set[int]) -> list[list[int]]:
    """The strongly connected components of the subgraph of `g` induced by `inside` (``components``)."""
    lo, hi, to = g.edge_lo, g.edge_hi, g.edge_to
    return components(nodes, lambda v: to[lo[v]:hi[v]], inside)


def graph_components(nodes: Iterable[int], g: StateGraph, inside: bytearray) -> list[list[int]]:
    """``strongly_connected`` for a subgraph marked by a byte per state (``inside[v]``): the same components in the
    same order, with the search's bookkeeping in flat lists indexed by state (a search over most of a graph of
    many states)."""
    lo, hi, to = g.edge_lo, g.edge_hi, g.edge_to
    size = len(g)
    index = [-1] * size
    low = [0] * size
    on_stack = bytearray(size)
    stack: list[int] = []
    result: list[list[int]] = []
    counter = 0
    for root in nodes:
        if index[root] >= 0:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = 1
        work = [(root, lo[root], hi[root])]
        while work:
            v, e, end = work[-1]
            descended = False
            while e < end:
                w = to[e]
                e += 1
                if not inside[w]:
                    continue
                if index[w] < 0:
                    work[-1] = (v, e, end)
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = 1
                    work.append((w, lo[w], hi[w]))
                    descended = True
                    break
                if on_stack[w] and index[w] < low[v]:
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
                    on_stack[w] = 0
                    component.append(w)
                    if w == v:
                        break
                result.append(component)
    return result


def _taken(component: Sequence[int], g: StateGraph, inside: set[int]) -> int:
    lo, hi, to, mask = g.edge_lo, g.edge_hi, g.edge_to, g.edge_mask
    taken = 0
    for v in component:
        for e in range(lo[v], hi[v]):
            if to[e] in inside:
                taken |= mask[e]
    return taken


def _fair_component(component: list[int], g: StateGraph, weak: int, strong: int,
                    accept: bytearray | None) -> list[int] | None:
    """A fair sub-component of a strongly connected component (one holding an `accept` state, when given), or
    None.

    A state's enabled classes are read from ``g.enabled`` while they decide (classes only add unfairness): the
    model is asked for the classes a reduction hid (``StateGraph.enabled_at``) only where the classes shown leave
    the verdict open."""
    if accept is not None and not any(accept[v] for v in component):
        return None  # sub-components are subsets: none of them holds an accepting state either
    enabled = g.enabled
    fair = weak | strong
    if len(component) == 1 and component[0] not in g.edge_to[g.edge_lo[component[0]]:g.edge_hi[component[0]]]:
        # A single state: the only cycle is stuttering, fair iff no fairness class is enabled there.
        v = component[0]
        return None if enabled[v] & fair or g.enabled_at(v) & fair else component
    inside = set(component)
    taken = _taken(component, g, inside)
    if strong & ~taken and not all(g.complete(v) for v in component):
        for v in component:  # a strong class untaken: where it is enabled decides, everywhere
            g.enabled_at(v)
    somewhere = 0
    for v in component:
        somewhere |= enabled[v]
    unmet_strong = strong & somewhere & ~taken
    if unmet_strong:
        k = unmet_strong & -unmet_strong
        rest = [v for v in component if not enabled[v] & k]
        if not rest:
            return None
        for sub in strongly_connected(rest, g, set(rest)):
            found = _fair_component(sub, g, weak, strong, accept)
            if found is not None:
                return found
        return None
    # Weak fairness: unfair if a class the cycle never takes is enabled in every state. The states whose shown
    # classes already lack every candidate are read first; a state still unasked is asked only if it would
    # rule out a candidate that no other state has ruled out.
    candidates = weak & ~taken
    later = []
    for v in component:
        if not candidates:
            break
        if g.complete(v):
            candidates &= enabled[v]
        else:
            later.append(v)
    for v in later:
        if not candidates:
            break
        if candidates & ~enabled[v]:
            candidates &= g.enabled_at(v)
    if candidates:
        return None
    return component


def find_fair_lasso(g: StateGraph, bad: bytearray, triggers: Sequence[int], weak: int, strong: int,
                    cycles: FairCycles | None = None) -> Lasso | None:
    """A lasso that reaches a trigger, then stays in `bad` states forever, fairly; None if there is none.

    Only expanded states are considered, so a lasso found in a partial graph is a genuine counterexample.
    ``cycles``: the graph's fair components, when another property already found them (``FairCycles``): under weak
    fairness a fair cycle through `bad` states lies in one of them, so none holding a `bad` state rules the lasso
    out without a search (a violation's lasso is searched as without `cycles`: the same lasso).
    """
    if cycles is not None and cycles.meets(bad) is False:
        return None
    return _search(g, bad, [t for t in triggers if bad[t]], weak, strong, None)


def find_fair_recurrence(g: StateGraph, triggers: Sequence[int], recur: bytearray, weak: int,
                         strong: int, cycles: FairCycles | None = None) -> Lasso | None:
    """A lasso that reaches a trigger, then fairly visits `recur` states infinitely often; None if there is none.

    The loop starts at a `recur` state. Only expanded states are considered, as in `find_fair_lasso`. ``cycles``:
    the graph's fair components, found once for every recurrence property of one graph (``FairCycles``).
    """
    if not any(recur) or cycles is not None and cycles.meets(recur) is False:
        return None
    everything = _ALL * len(g)
    region = _reached(g, everything, triggers)
    if cycles is not None and cycles.worth(region):
        # What a trigger reaches is closed under the expanded states' edges, so its strongly connected components
        # are the whole graph's that it meets: the property holds unless a fair one with a `recur` state is
        # reached. A violation's lasso is then searched as without `cycles` (the same lasso).
        fair = cycles.components()
        if fair is not None and not any(region[c[0]] and any(recur[v] for v in c) for c in fair):
            return None
    return _search(g, everything, triggers, weak, strong, recur, region)


_ALL = bytearray(b"\x01")


class FairCycles:
    """The fair strongly connected components of a graph's expanded states, found on first use and shared by the
    recurrence properties (``<>[]Q``, ``P ~> []Q``) checked on one graph: each then only asks which of them its
    triggers reach and which hold a state where its goal fails. Under weak fairness alone, a component is fair as
    a whole or not at all; strong fairness refines a component by what each property's search keeps, so with a
    strong class ``components`` is None and every property searches its own region.

    Once found they also rule out, without a search, the properties whose bad states no fair component holds
    (``meets``): under weak fairness every fair cycle of a subgraph lies in a fair component of the whole graph
    (a component is unfair when some class is enabled in all its states and none of its edges takes it; that
    class is then enabled all along any cycle inside it, which takes none of its edges either)."""

    def __init__(self, g: StateGraph, weak: int, strong: int) -> None:
        self.g, self.weak, self.strong = g, weak, strong
        self._fair: list[list[int]] | None = None
        self._fair_states: list[int] | None = None

    def meets(self, marked: bytearray) -> bool | None:
        """Whether a fair component holds a ``marked`` state; None when the components are not found yet (they
        are found only when a property's region makes them worth it: ``worth``) or under strong fairness."""
        if self._fair is None or self.strong:
            return None
        if self._fair_states is None:
            self._fair_states = [v for c in self._fair for v in c]
        return any(marked[v] for v in self._fair_states)

    def worth(self, region: bytearray) -> bool:
        """Whether to answer from the whole graph's components for a property whose triggers reach ``region``:
        once they are found, or when the region holds half the graph's states (a small region is searched on its
        own, as the search of the whole graph would cost more than the region's)."""
        return not self.strong and (self._fair is not None or 2 * region.count(1) >= len(self.g))

    def components(self) -> list[list[int]] | None:
        if self.strong:
            return None
        if self._fair is None:
            g = self.g
            nodes = [v for v in range(len(g)) if g.expanded[v]]
            enabled, weak = g.enabled, self.weak
            fair = []
            for c in graph_components(nodes, g, g.expanded):
                if len(c) == 1 and enabled[c[0]] & weak:
                    # A lone state (most components; the graph stores no self-loop) with a fair class shown
                    # enabled: stuttering there is unfair, whatever a reduction hid (`_fair_component`'s answer).
                    continue
                found = _fair_component(c, g, weak, 0, None)
                if found is not None:
                    fair.append(found)
            self._fair = fair
        return self._fair


def _reached(g: StateGraph, stay: bytearray, triggers: Sequence[int]) -> bytearray:
    """The expanded `stay` states reachable from a trigger through expanded `stay` states (one byte per state)."""
    lo, hi, to, expanded = g.edge_lo, g.edge_hi, g.edge_to, g.expanded
    region = bytearray(len(g))
    queue: list[int] = []
    for t in triggers:
        if stay[t] and expanded[t] and not region[t]:
            region[t] = 1
            queue.append(t)
    for v in queue:  # grows as it is read: a breadth-first search
        for w in to[lo[v]:hi[v]]:
            if stay[w] and expanded[w] and not region[w]:
                region[w] = 1
                queue.append(w)
    return region


def _search(g: StateGraph, stay: bytearray, triggers: Sequence[int], weak: int, strong: int,
            accept: bytearray | None, region: bytearray | None = None) -> Lasso | None:
    """A fair lasso from a trigger through `stay` states whose loop (in `stay`) visits `accept` if given
    (``region``: what the triggers reach through `stay` states, when already found)."""
    if region is None:
        region = _reached(g, stay, triggers)
    nodes = [v for v in range(len(g)) if region[v]]
    if accept is not None and not any(accept[v] for v in nodes):
        return None
    for component in graph_components(nodes, g, region):
        fair = _fair_component(component, g, weak, strong, accept)
        if fair is not None:
            return _lasso(g, region, fair, triggers, weak, strong, accept)
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
           strong: int, accept: bytearray | None) -> Lasso:
    size = len(g)
    in_fair = bytearray(size)
    for v in fair:
        in_fair[v] = 1
    # The prefix ends at the nearest state of the component. For a recurrence the loop must also pass through an
    # accepting state: the lasso entering the component at its nearest accepting state (the loop then starts
    # where the goal fails) is compared with the one entering at its nearest state and making a detour; the
    # shorter is kept, the first on a tie.
    heads = []
    if accept is not None:
        heads.append(_shortest_from_triggers(g, region, bytearray(map(operator.and_, in_fair, accept)), triggers))
    heads.append(_shortest_from_triggers(g, region, in_fair, triggers))
    best: Lasso | None = None
    for head in heads:
        prefix = g.path_to(head[0])[:-1] + head
        loop, takes = _loop(g, fair, in_fair, prefix[-1], weak, strong, accept)
        if best is None or len(prefix) + len(loop) < len(best.prefix) + len(best.loop):
            best = Lasso(tuple(prefix), tuple(loop), takes)
    assert best is not None
    return best


def _loop(g: StateGraph, fair: list[int], in_fair: bytearray, entry: int, weak: int, strong: int,
          accept: bytearray | None) -> tuple[list[int], tuple[int, ...]]:
    """A fair loop from `entry` through the fair component, and the fairness class each of its steps takes.

    The loop starts at the entry, goes to the nearest accepting state if it must visit one and the entry is not
    one, takes one step of every fairness class that has a step inside the component (a weak class is already met
    once the loop passes a state where it is disabled), visits a disabled state for each weak class that has none,
    and returns to the entry. A strong class with no step inside the component is disabled in all of it (the
    refinement removed the states enabling it). A loop of one state stutters there: every class is disabled.
    """
    size = len(g)
    for v in fair:
        g.enabled_at(v)  # every class enabled in the component, those a reduction hid included
    enabled = g.enabled
    loop = [entry]
    if accept is not None and not accept[entry]:
        loop += _bfs(g, [entry], accept, in_fair)[1:]
    takes: dict[int, int] = {}
    bit = 1
    while bit <= weak | strong:
        if (weak | strong) & bit:
            met_weakly = bool(weak & bit) and any(not enabled[v] & bit for v in loop)
            done = next((k for k in range(len(loop) - 1) if k not in takes and _steps(g, loop[k], loop[k + 1]) & bit),
                        None)
            edge = next(((v, w) for v in fair for w, m in g.successors(v) if in_fair[w] and m & bit), None)
            if done is not None and not met_weakly:
                takes[done] = bit  # the loop so far already takes a step of the class
            elif edge is not None and not met_weakly:
                loop += _bfs(g, [loop[-1]], _only(size, edge[0]), in_fair)[1:]
                takes[len(loop) - 1] = bit
                loop.append(edge[1])
            elif edge is None and weak & bit and not met_weakly:
                target = next(v for v in fair if not enabled[v] & bit)
                loop += _bfs(g, [loop[-1]], _only(size, target), in_fair)[1:]
        bit <<= 1
    if len(loop) > 1:
        loop += _bfs(g, [loop[-1]], _only(size, entry), in_fair)[1:]
    return loop, tuple(takes.get(k, 0) for k in range(len(loop) - 1))


def _steps(g: StateGraph, v: int, w: int) -> int:
    """The fairness classes of the steps from `v` to `w` (a step is an A step if any A action relates them)."""
    mask = 0
    for u, m in g.successors(v):
        if u == w:
            mask |= m
    return mask


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


_NOT = bytes([1, 0]) + bytes(254)


def violation_lasso(g: StateGraph, kind: str, goal: bytearray, premise: bytearray, roots: Sequence[int], weak: int,
                    strong: int, cycles: FairCycles | None = None) -> Lasso | None:
    """A fair lasso violating a liveness property of `kind` whose goal and premise hold in the states marked in
    `goal` and `premise` (one byte per state), from the initial states `roots`; None if the property holds on the
    explored graph (on a complete graph: everywhere).

    - `eventually` (`<>Q`): from an initial state, `~Q` forever.
    - `leads_to` (`P ~> Q`): from a `P /\\ ~Q` state, `~Q` forever.
    - `eventually_always` (`<>[]Q`): from an initial state, `~Q` infinitely often.
    - `leads_to_always` (`P ~> []Q`): from a `P` state, `~Q` infinitely often.

    ``cycles``: the graph's fair components, shared by the recurrence properties of one graph (``FairCycles``).
    """
    bad = goal.translate(_NOT)
    if kind == "eventually":
        return find_fair_lasso(g, bad, roots, weak, strong, cycles)
    if kind == "leads_to":
        return find_fair_lasso(g, bad, [i for i, p in enumerate(premise) if p and bad[i]], weak, strong, cycles)
    if kind == "eventually_always":
        return find_fair_recurrence(g, roots, bad, weak, strong, cycles)
    if kind == "leads_to_always":
        return find_fair_recurrence(g, [i for i, p in enumerate(premise) if p], bad, weak, strong, cycles)
    raise ValueError(f"not a liveness kind: {kind!r}")
