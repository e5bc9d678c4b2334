"""The state graph of a model as a picture: states with short labels, edges labelled with actions.

Initial states have a double border; states that violate an invariant are red, states without successors
(deadlocks) orange. A graph too big to draw is cut at ``max_states`` states in breadth-first order, and the cut is
never silent: every state with successors outside the picture gets a "+k more" stub, the picture's caption says how
many edges lead out, and :class:`StateGraph` carries the same note for the terminal. Around a trace, the picture is
the trace's states and their neighbourhood (``radius`` steps), with the trace's own path drawn bold.

The graph is the checker's own search (``checker.check`` with a visitor, ``checker.visitor``), on the model's own
``init_states``/``successors``/``constraint``/``canonical``; it never re-implements the model nor searches again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import graphviz  # type: ignore[import-untyped]

from checker.itf import encode_state, plain
from checker.text import printable
from diagrams.output import MAX_STRING, clip, dot_text
from traces.diff import diff_states, headline
from traces.values import format_value, pretty_lines

DEFAULT_MAX_STATES = 100
MAX_STATES = 20_000
"""The most states ``kubespec graph`` explores and draws (pictures: diagrams.output.MAX_PICTURE_STATES)."""
_LABEL_CHARS = 60
_EDGE_CHARS = 40
_TOOLTIP_CHARS = 3000
FONT = "Helvetica"


@attrs.frozen
class StateGraph:
    """An explored (possibly cut) part of a state graph."""

    states: tuple[Any, ...]
    initial: frozenset[int]
    edges: tuple[tuple[int, Any, int], ...]  # (from, action, to)
    cut: tuple[tuple[int, int], ...]  # (state, successors outside the picture)
    expanded: frozenset[int]
    parent: tuple[int | None, ...]
    discarded: int  # successors that the model's constraint discards
    note: str | None  # what was cut, for the caption and the terminal
    trace_path: tuple[int, ...] = ()
    violating: frozenset[int] = frozenset()

    @property
    def cut_edges(self) -> int:
        return sum(count for _, count in self.cut)


def _successors(model: Any, state: Any) -> list[tuple[Any, Any]]:
    canonical = getattr(model, "canonical", lambda s: s)
    return [(action, canonical(target)) for action, target in model.successors(state)]


class _Seeded:
    """The model as the checker explores it for a picture: no properties (the picture marks violations itself and
    the search must not stop at the first), its initial states or ``seeds``, and with ``radius`` no successors
    for states ``radius`` steps from the seeds (the rim, drawn dashed). Everything else is the model's own."""

    def __init__(self, model: Any, seeds: Sequence[Hashable] | None, radius: int | None) -> None:
        self.model = model
        self.properties = ()
        self.fairness = ()
        self.seeds = seeds
        self.radius = radius
        self.distance: dict[Any, int] = {}
        self.rim: set[Any] = set()
        self.discarded = 0
        self.canon = getattr(model, "canonical", lambda s: s)

    def init_states(self) -> Iterable[Hashable]:
        starts = list(self.seeds) if self.seeds is not None else list(self.model.init_states())
        for state in starts:
            self.distance.setdefault(self.canon(state), 0)
        return starts

    def successors(self, state: Any) -> Iterable[tuple[Hashable, Any]]:
        if self.radius is None:
            return self.model.successors(state)  # type: ignore[no-any-return]
        d = self.distance.get(state, 0)
        if d >= self.radius:
            self.rim.add(state)
            return []
        out = list(self.model.successors(state))
        for _, target in out:
            self.distance.setdefault(self.canon(target), d + 1)
        return out

    def constraint(self, state: Any) -> bool:
        kept = bool(getattr(self.model, "constraint", lambda s: True)(state))
        self.discarded += not kept
        return kept

    def canonical(self, state: Any) -> Any:
        return self.canon(state)


def explore(
    model: Any,
    max_states: int = DEFAULT_MAX_STATES,
    seeds: Sequence[Hashable] | None = None,
    radius: int | None = None,
    on_state: Callable[[int], None] | None = None,
) -> StateGraph:
    """The graph from the initial states (or from ``seeds``, up to ``radius`` steps away), explored by the checker's
    own breadth-first search (``checker.check`` with a ``checker.visitor.GraphRecorder``: no second search);
    ``on_state`` is told the number of states found now and then (a progress line). States the search stored but
    did not expand before ``max_states`` stopped it get their edges to drawn states, and a ``+k more`` stub for
    the others."""
    from checker.model import Model
    from checker.runner import check
    from checker.visitor import GraphRecorder

    seeded = _Seeded(model, seeds, radius)
    wrapper = type("_Picture", (Model,), {name: getattr(seeded, name) for name in (
        "init_states", "successors", "constraint", "canonical")})()
    wrapper.properties, wrapper.fairness = (), ()
    recorder = GraphRecorder()
    starts = len({seeded.canon(s) for s in seeds}) if seeds is not None else 0
    if starts > max_states:
        raise ValueError(f"{starts} starting states do not fit in max_states={max_states}")
    result = check(wrapper, max_states=max_states, deadlock=False, visitor=recorder,
                   progress=None if on_state is None else (lambda n, *_: on_state(n)))
    if result.status == "interrupted":
        raise KeyboardInterrupt  # the command's signal handler (traces.interrupts) says which signal it was
    states = recorder.states
    index = {state: i for i, state in enumerate(states)}
    canonical = seeded.canon
    constraint = getattr(model, "constraint", lambda s: True)
    edges = list(recorder.edges)
    expanded = {i for i in recorder.generated if states[i] not in seeded.rim}
    cut: list[tuple[int, int]] = []
    for i, state in enumerate(states):
        if i in recorder.generated or state in seeded.rim:
            continue
        # Stored, not expanded: the search stopped at max_states. Its edges to drawn states, a stub for the rest.
        expanded.add(i)
        drawn = {(a, t) for f, a, t in edges if f == i}
        outside = 0
        for action, target in model.successors(state):
            target = canonical(target)
            if not constraint(target):
                continue
            j = index.get(target)
            if j is None:
                outside += 1
            elif (action, j) not in drawn:
                edges.append((i, action, j))
        if outside:
            cut.append((i, outside))
    initial_states = {canonical(s) for s in model.init_states()}
    initial = frozenset(i for i, s in enumerate(states) if s in initial_states)
    unexpanded = len(states) - len(expanded)
    notes = []
    if cut:
        notes.append(
            f"cut at --max-states {max_states}: {sum(n for _, n in cut)} edge(s) from {len(cut)} state(s) lead to "
            "states not drawn (marked '+k more')"
        )
    if radius is not None and unexpanded:
        notes.append(f"{unexpanded} state(s) at distance {radius} from the trace are drawn without their successors")
    return StateGraph(
        states=tuple(states),
        initial=initial,
        edges=tuple(edges),
        cut=tuple(cut),
        expanded=frozenset(expanded),
        parent=tuple(recorder.parent),
        discarded=seeded.discarded,
        note="; ".join(notes) or None,
    )


def around_trace(
    model: Any,
    trace_states: Sequence[Any],
    max_states: int = DEFAULT_MAX_STATES,
    radius: int = 1,
    violating_end: bool = True,
    on_state: Callable[[int], None] | None = None,
) -> StateGraph:
    """The neighbourhood of a trace: its states and every state ``radius`` steps from them, its path marked, and
    its last state marked violating when ``violating_end`` (safety and deadlock; a lasso's loop is its path)."""
    canonical = getattr(model, "canonical", lambda s: s)
    path_states = [canonical(s) for s in trace_states]
    graph = explore(
        model, max_states=max(max_states, len(set(path_states))), seeds=path_states, radius=radius, on_state=on_state
    )
    position = {state: i for i, state in enumerate(graph.states)}
    parent = list(graph.parent)
    for before, after in zip(path_states, path_states[1:], strict=False):
        if parent[position[after]] is None and after != path_states[0]:
            parent[position[after]] = position[before]
    return attrs.evolve(
        graph,
        parent=tuple(parent),
        trace_path=tuple(position[s] for s in path_states),
        violating=frozenset({position[path_states[-1]]}) if path_states and violating_end else frozenset(),
    )


def _invariant_failures(model: Any, state: Any) -> list[str]:
    return [p.name for p in getattr(model, "properties", ()) if p.kind == "always" and not p.pred(state)]


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _shown(model: Any, state: Any) -> Mapping[str, Any]:
    display = getattr(model, "display", None)
    view = display(state) if display is not None else None
    return plain(view) if view is not None else encode_state(state)


def short_label(model: Any, graph: StateGraph, i: int) -> str:
    """A state's label: its whole value when short, else its number and how it differs from its parent."""
    encoded = encode_state(graph.states[i])
    flat = ", ".join(f"{name}={format_value(value)}" for name, value in encoded.items())
    if len(flat) <= _LABEL_CHARS:
        return flat
    origin = graph.parent[i]
    if origin is None:
        return f"#{i}"
    changes = diff_states(_shown(model, graph.states[origin]), _shown(model, graph.states[i]))
    return f"#{i}: from #{origin}\n{headline(changes, _LABEL_CHARS) or 'no change'}"


def _plain(text: str, limit: int = MAX_STRING) -> str:
    """A label or tooltip as Graphviz gets it: each line's control characters escaped, backslashes doubled, cut."""
    return dot_text(clip("\n".join(printable(line) for line in text.split("\n")), limit))


def _tooltip(state: Any) -> str:
    lines: list[str] = []
    for name, value in encode_state(state).items():
        lines.extend([f"{name}:", *pretty_lines(value, width=80, indent=2)])
    return _shorten("\n".join(lines), _TOOLTIP_CHARS)


def _edge_label(model: Any, action: Any) -> str:
    describe = getattr(model, "describe", str)
    return _shorten(" ".join(str(describe(action)).split()), _EDGE_CHARS)


def _merged_edges(model: Any, graph: StateGraph) -> dict[tuple[int, int], list[str]]:
    """Parallel edges as one, with all their actions."""
    merged: dict[tuple[int, int], list[str]] = {}
    for src, action, dst in graph.edges:
        label = _edge_label(model, action)
        labels = merged.setdefault((src, dst), [])
        if label not in labels:
            labels.append(label)
    return merged


def _join(labels: Sequence[str], limit: int, separator: str = "\n") -> str:
    shown = separator.join(labels[:limit])
    return shown + (f"{separator}+{len(labels) - limit} more" if len(labels) > limit else "")


def state_graph_picture(model: Any, graph: StateGraph, title: str) -> graphviz.Digraph:
    """The Graphviz picture of ``graph`` (see the module docstring)."""
    caption = [clip(title, 300), f"{len(graph.states)} state(s), {len(graph.edges)} edge(s)"]
    if graph.note:
        caption.append(graph.note)
    if graph.discarded:
        caption.append(f"{graph.discarded} successor(s) discarded by the model's state constraint")
    picture = graphviz.Digraph("stategraph")
    picture.attr(
        label=_plain("\n".join(caption)),
        labelloc="t",
        fontname=FONT,
        fontsize="13",
        rankdir="LR" if graph.trace_path else "TB",
        nodesep="0.3",
    )
    picture.attr("node", fontname=FONT, fontsize="9", shape="box", style="rounded,filled", fillcolor="#f4f6f8")
    picture.attr("edge", fontname=FONT, fontsize="8", color="#52606d", fontcolor="#3e4c59")
    on_path = set(graph.trace_path)
    path_edges = set(zip(graph.trace_path, graph.trace_path[1:], strict=False))
    merged = _merged_edges(model, graph)
    with_successors = {src for src, _, _ in graph.edges} | {src for src, _ in graph.cut}
    for i, state in enumerate(graph.states):
        failures = _invariant_failures(model, state)
        deadlock = i in graph.expanded and i not in with_successors
        label = short_label(model, graph, i)
        if (i, i) in merged:
            label += "\n↻ " + _join(merged[(i, i)], 2, ", ")
        attributes: dict[str, str] = {"id": f"state-{i}", "tooltip": _plain(_tooltip(state))}
        classes = ["state"]
        if i in graph.initial:
            attributes["peripheries"] = "2"
            classes.append("initial")
            label = "initial\n" + label
        if failures or i in graph.violating:
            attributes.update(fillcolor="#fde2e2", color="#c0392b", fontcolor="#922b21", penwidth="2")
            classes.append("violation")
            if failures:
                label += "\n✗ " + ", ".join(failures)
        elif deadlock:
            attributes.update(fillcolor="#fff0d6", color="#d35400", penwidth="2")
            classes.append("deadlock")
            label += "\n(no successor)"
        if i in on_path:
            attributes.setdefault("color", "#1c4e80")
            attributes.setdefault("penwidth", "2")
            classes.append("trace")
            steps = [str(k) for k, s in enumerate(graph.trace_path) if s == i]
            label = f"step {', '.join(steps)}\n{label}"
        if graph.trace_path and i not in graph.expanded:
            attributes["style"] = "rounded,filled,dashed"
        attributes["class"] = " ".join(classes)
        picture.node(f"s{i}", label=_plain(label), **attributes)
    for (src, dst), labels in _merged_edges(model, graph).items():
        if src == dst:
            continue  # stuttering steps are listed in the state's label
        attributes = {"label": _plain(_join(labels, 3))}
        if (src, dst) in path_edges:
            attributes.update(color="#1c4e80", penwidth="2.5", fontcolor="#1c4e80", **{"class": "trace"})
        picture.edge(f"s{src}", f"s{dst}", **attributes)
    for src, count in graph.cut:
        picture.node(
            f"cut{src}",
            label=f"+{count} more",
            shape="plaintext",
            style="",
            fontcolor="#7b8794",
            id=f"cut-{src}",
            **{"class": "cut"},
        )
        picture.edge(f"s{src}", f"cut{src}", style="dashed", color="#9aa5b1", arrowhead="empty")
    return picture
