"""The quotient of an explored state graph by a view (TLA+'s VIEW): one node per class of states that the view
maps to the same text, edges between classes grouped by step kind with counts.

The graph comes from the checker's own search (``checker.check`` with a ``checker.visitor`` visitor), never from a
second search: each state is mapped to its class as the search stores it, each edge counted as the search follows
it. Marked in the picture: initial classes (double border), classes holding a state that violates an invariant
(red, with the invariants' names), classes holding a deadlock (orange), and fair cycles: the classes and edges of
every strongly connected component of the *concrete* graph in which a behaviour can cycle forever under the
model's fairness (weak: no class enabled in all of its states without one of its steps inside; strong: refined
as Emerson-Lei do, by dropping the states where an untaken strong class is enabled), bold orange. A step from a
class to itself is not drawn as a loop: the class says how many of its steps stay inside, by kind.

A view is a function ``state -> str`` (its lines are the class's label): one of the model's ``views()`` by name, or
a function of the user's, ``module:function`` or ``FILE.py:function`` (given on the command line, never read
from a file). What it abstracts: everything the view leaves out; a class's edges are the union of its states'.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

import attrs
import graphviz  # type: ignore[import-untyped]

from checker.errors import InputError, ModelError
from checker.liveness import components
from checker.loading import load_object
from checker.model import Model
from checker.search import fairness_masks
from checker.text import printable
from checker.visitor import Visitor
from diagrams.output import clip, dot_text

FONT = "Helvetica"
MAX_CLASSES = 2_000
"""The most classes drawn: beyond it the view is too fine for a picture (the error says so)."""
_LABEL_CHARS = 80


View = Callable[[Any], str]


def step_kind(action: Any) -> str:
    """An action's kind, for grouping edges: its ``step_kind`` attribute when it has one (the model declares it),
    else
    the action's class name for a value class, the kind of a tuple's first item, else its text up to the first
    space or parenthesis."""
    kind = getattr(action, "step_kind", None)
    if isinstance(kind, str) and kind:
        return kind
    if attrs.has(type(action)):
        return type(action).__name__
    if isinstance(action, tuple) and action:
        return step_kind(action[0])
    text = str(action)
    for stop in (" ", "("):
        text = text.split(stop, 1)[0]
    return text or "step"


@attrs.frozen
class Quotient:
    """The quotient graph: classes (by index) with their label, size and marks, and grouped edges."""

    labels: tuple[str, ...]
    sizes: tuple[int, ...]
    initial: frozenset[int]
    violating: Mapping[int, tuple[str, ...]]
    deadlocks: frozenset[int]
    inner: tuple[Mapping[str, int], ...]
    """Per class: its steps that stay inside it, by kind."""
    edges: Mapping[tuple[int, int], Mapping[str, int]]
    """(from class, to class) -> steps by kind."""
    fair: frozenset[int]
    fair_edges: frozenset[tuple[int, int]]
    states: int
    steps: int
    cut: str | None
    view_name: str


class _Search(Model):
    """The model as the search sees it, without properties: a graph is explored whole, never stopped at the first
    violation (the visitor evaluates the invariants itself, to mark the classes)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.properties = ()
        self.fairness = ()

    def init_states(self) -> Iterable[Hashable]:
        return self.model.init_states()  # type: ignore[no-any-return]

    def successors(self, state: Any) -> Iterable[tuple[Hashable, Any]]:
        return self.model.successors(state)  # type: ignore[no-any-return]

    def constraint(self, state: Any) -> bool:
        return bool(getattr(self.model, "constraint", lambda s: True)(state))

    def canonical(self, state: Any) -> Any:
        return getattr(self.model, "canonical", lambda s: s)(state)

    def reductions(self) -> tuple[str, ...]:
        return tuple(getattr(self.model, "reductions", lambda: ())())


class _Collector(Visitor):
    """Maps each stored state to its class, evaluates the invariants, and keeps the concrete edges compactly
    (for the fair cycles) and the grouped ones (for the picture)."""

    def __init__(self, model: Any, view: View) -> None:
        self.model = model
        self.view = view
        self.classes: dict[str, int] = {}
        self.class_of: list[int] = []
        self.states: list[Any] = []
        self.sizes: list[int] = []
        self.initial: set[int] = set()
        self.violating: dict[int, set[str]] = {}
        self.deadlocks: set[int] = set()
        self.kinds: dict[str, int] = {}
        self.succ: list[list[tuple[int, int]]] = []  # per state: (target, fairness mask)
        self.enabled: list[int] = []
        self.grouped: dict[tuple[int, int, str], int] = {}
        self.steps = 0
        self.invariants = [p for p in getattr(model, "properties", ()) if p.kind == "always"]
        self.fairness = list(getattr(model, "fairness", ()))
        self.bit = {f.name: 1 << k for k, f in enumerate(self.fairness)}
        self._mask = fairness_masks(model)[2]  # action -> the fairness classes selecting it, as the search has them
        self.hidden = getattr(model, "hidden_fairness", None)

    def state(self, index: int, state: Any, parent: int | None, depth: int) -> None:
        try:
            label = self.view(state)
        except Exception as exc:
            raise ModelError(f"the view raised {type(exc).__name__}: {exc}") from exc
        if not isinstance(label, str):
            raise ModelError(f"the view returned {type(label).__name__}, not a str")
        c = self.classes.get(label)
        if c is None:
            if len(self.classes) >= MAX_CLASSES:
                raise InputError(f"the view makes more than {MAX_CLASSES:,} classes: too many to draw; choose a "
                                 "coarser view")
            c = self.classes[label] = len(self.classes)
            self.sizes.append(0)
        self.sizes[c] += 1
        self.class_of.append(c)
        self.states.append(state)
        self.succ.append([])
        self.enabled.append(0)
        if parent is None:
            self.initial.add(c)
        for p in self.invariants:
            if not p.pred(state):
                self.violating.setdefault(c, set()).add(p.name)

    def edge(self, source: int, action: Any, target: int) -> None:
        self.steps += 1
        kind = step_kind(action)
        key = (self.class_of[source], self.class_of[target], kind)
        self.grouped[key] = self.grouped.get(key, 0) + 1
        if target != source:
            m = self._mask(action)
            self.succ[source].append((target, m))
            self.enabled[source] |= m

    def expanded(self, index: int, generated: int) -> None:
        if generated == 0:
            self.deadlocks.add(self.class_of[index])
        if self.hidden is not None:
            # Asked right after the search expanded this state: a reduced model answers from its last step.
            for name in self.hidden(self.states[index]):
                self.enabled[index] |= self.bit.get(name, 0)


def fair_states(succ: list[list[tuple[int, int]]], enabled: list[int], weak: int, strong: int) -> set[int]:
    """The states that lie on a fair cycle (Emerson-Lei on the SCCs): a component with an internal edge is fair
    when every weak class enabled in all of its states, and every strong class enabled in any of them, is taken by
    one of its internal edges; a component failing only a strong class is searched again without the states
    where that class is enabled."""
    result: set[int] = set()
    pending = [set(range(len(succ)))]
    while pending:
        inside = pending.pop()
        for component in components(sorted(inside), lambda v: [w for w, _ in succ[v]], inside):
            members = set(component)
            taken = 0
            internal = False
            for v in component:
                for w, m in succ[v]:
                    if w in members:
                        internal = True
                        taken |= m
            if not internal:
                continue
            everywhere = ~0
            anywhere = 0
            for v in component:
                everywhere &= enabled[v]
                anywhere |= enabled[v]
            if everywhere & weak & ~taken:
                continue
            untaken_strong = anywhere & strong & ~taken
            if not untaken_strong:
                result |= members
                continue
            rest = {v for v in component if not enabled[v] & untaken_strong}
            if rest:
                pending.append(rest)
    return result


def quotient(model: Any, view: View, view_name: str, *, max_states: int | None = None,
             progress: Callable[[int, int, int, int, float], None] | None = None,
             stop: Callable[[], bool] | None = None) -> Quotient:
    """Explore ``model`` with the checker (a visitor maps each state to its view's class) and build the quotient."""
    from checker.runner import check

    collector = _Collector(model, view)
    result = check(_Search(model), max_states=max_states, deadlock=False, visitor=collector, progress=progress,
                   stop=stop)
    if result.status == "interrupted":
        raise KeyboardInterrupt  # the command's signal handler (traces.interrupts) says which signal it was
    cut = result.cut
    weak = strong = 0
    for k, f in enumerate(collector.fairness):
        if f.kind == "weak":
            weak |= 1 << k
        else:
            strong |= 1 << k
    fair = fair_states(collector.succ, collector.enabled, weak, strong) if collector.fairness else set()
    class_of = collector.class_of
    fair_edges = {(class_of[v], class_of[w]) for v in fair for w, _ in collector.succ[v] if w in fair}
    labels = sorted(collector.classes, key=collector.classes.__getitem__)
    inner: list[dict[str, int]] = [{} for _ in labels]
    edges: dict[tuple[int, int], dict[str, int]] = {}
    for (a, b, kind), count in sorted(collector.grouped.items()):
        target = inner[a] if a == b else edges.setdefault((a, b), {})
        target[kind] = target.get(kind, 0) + count
    return Quotient(
        labels=tuple(labels),
        sizes=tuple(collector.sizes),
        initial=frozenset(collector.initial),
        violating={c: tuple(sorted(names)) for c, names in collector.violating.items()},
        deadlocks=frozenset(collector.deadlocks),
        inner=tuple(inner),
        edges=edges,
        fair=frozenset(class_of[v] for v in fair),
        fair_edges=frozenset(fair_edges),
        states=len(class_of),
        steps=collector.steps,
        cut=cut,
        view_name=view_name,
    )


def _kinds(counts: Mapping[str, int], limit: int = 4) -> list[str]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    lines = [f"{printable(kind)} ×{count:,}" for kind, count in ranked[:limit]]
    if len(ranked) > limit:
        lines.append(f"+{sum(c for _, c in ranked[limit:]):,} more")
    return lines


def _label(lines: Iterable[str]) -> str:
    return "\\l".join(dot_text(clip(line, _LABEL_CHARS)) for line in lines) + "\\l"


def quotient_picture(q: Quotient, title: str) -> graphviz.Digraph:
    """The quotient as a Graphviz digraph (laid out top to bottom by dot)."""
    g = graphviz.Digraph("quotient")
    caption = [f"{title}", f"view {q.view_name}: {len(q.labels):,} classes of {q.states:,} states, {q.steps:,} steps"]
    if q.cut:
        caption.append(f"cut: {q.cut} (the graph is partial)")
    if q.fair:
        caption.append("bold orange: fair cycles (a fair behaviour can loop there forever)")
    # A picture is laid out at its natural size up to 40 inches (2,880 pt) each way, and scaled down beyond.
    g.attr(label=_label(caption), labelloc="t", labeljust="l", fontname=FONT, fontsize="14", rankdir="TB",
           nodesep="0.25", ranksep="0.45", size="40,40", dpi="72")
    g.attr("node", shape="box", style="rounded,filled", fillcolor="#f5f7fa", fontname=FONT, fontsize="11")
    g.attr("edge", fontname=FONT, fontsize="9", color="#52606d")
    for c, label in enumerate(q.labels):
        lines = [*label.splitlines(), f"{q.sizes[c]:,} state(s)"]
        if q.inner[c]:
            lines.append(f"↻ {sum(q.inner[c].values()):,} steps inside")
        tooltip = "; ".join(_kinds(q.inner[c], 20))
        attrs_: dict[str, str] = {"id": f"class-{c}", "class": "class",
                                  "tooltip": dot_text(clip(f"steps inside: {tooltip}" if tooltip else label, 1000))}
        if c in q.violating:
            lines.append("✗ " + ", ".join(q.violating[c]))
            attrs_.update(fillcolor="#fdecea", color="#c0392b")
        elif c in q.deadlocks:
            lines.append("deadlock")
            attrs_.update(fillcolor="#fff4e5", color="#d35400")
        if c in q.initial:
            attrs_["peripheries"] = "2"
        if c in q.fair:
            attrs_.update(penwidth="3", color=attrs_.get("color", "#d35400"))
        g.node(f"c{c}", _label(lines), **attrs_)
    for (a, b), counts in sorted(q.edges.items()):
        extra = {"color": "#d35400", "penwidth": "2"} if (a, b) in q.fair_edges else {}
        g.edge(f"c{a}", f"c{b}", _label(_kinds(counts, 2)), id=f"edge-{a}-{b}",
               tooltip=dot_text("; ".join(_kinds(counts, 20))), **extra)
    return g


def load_view(model: Any, name: str) -> tuple[View, str]:
    """The view named ``name``: one of the model's ``views()``, or ``module:function`` / ``FILE.py:function``."""
    views: Mapping[str, View] = getattr(model, "views", lambda: {})()
    if name in views:
        return views[name], name
    if ":" not in name:
        known = ", ".join(views) or "none (give module:function or FILE.py:function)"
        raise InputError(f"--view {name!r}: no such view; the model's views: {known}")
    function, _ = load_object(name, "--view", "_kubespec_view_")
    if not callable(function):
        raise InputError(f"--view {name!r}: {name.rsplit(':', 1)[1]} is not a function")
    return function, name
