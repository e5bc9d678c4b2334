"""A trace as a sequence diagram: one lane per component, one row per step, the violating step highlighted.

Lanes come from the steps' actors (the user's kubectl, the API server and etcd, each controller, the scheduler,
each kubelet, in that order; unknown actors after the controllers, in order of appearance). Each step is drawn as:

- a *request* (solid arrow actor -> API server) when it changes API objects (view addresses ``kind/ns/name``);
- a *watch event* (dashed arrow API server -> actor) when the action delivers what the API server sent
  (its name says watch, event, deliver, notify, list or sync) and changes no API object;
- a *local step* (a box on the actor's lane) otherwise, e.g. a crash, a clock tick, or any step of a model
  without an API server.

The layout is computed here and pinned (``layout=neato`` with fixed positions), so the .dot file renders the same
with ``dot -Tsvg`` and the rows line up exactly; Graphviz's rank-based layout cannot keep a sequence diagram's rows.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Literal

import attrs
import graphviz  # type: ignore[import-untyped]

from checker.errors import InputError
from checker.text import printable
from diagrams.output import clip, dot_text
from traces.diff import Change, diff_states, headline
from traces.document import Trace, TraceStep
from traces.values import is_variant, marker

MessageKind = Literal["request", "watch", "local"]

API_LANE = "apiserver / etcd"
SYSTEM_LANE = "system"
ROW = 0.75  # inches between steps
LINE = 0.17  # inches per extra line of a wrapped description
WRAP = 72  # characters per line of a description
LANE = 2.7  # inches between lanes
MARGIN = 1.3  # left margin, for step numbers and a lasso's back arrow
FONT = "Helvetica"

# The built-in resources' plural names, as in `kubectl api-resources` (core, apps, batch, coordination, policy,
# discovery, networking, scheduling, storage, rbac).
API_RESOURCES = frozenset(
    [
        "bindings",
        "componentstatuses",
        "configmaps",
        "endpoints",
        "events",
        "limitranges",
        "namespaces",
        "nodes",
        "persistentvolumeclaims",
        "persistentvolumes",
        "pods",
        "podtemplates",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "serviceaccounts",
        "services",
        "controllerrevisions",
        "daemonsets",
        "deployments",
        "replicasets",
        "statefulsets",
        "cronjobs",
        "jobs",
        "leases",
        "poddisruptionbudgets",
        "endpointslices",
        "ingresses",
        "ingressclasses",
        "networkpolicies",
        "priorityclasses",
        "storageclasses",
        "volumeattachments",
        "csidrivers",
        "csinodes",
        "runtimeclasses",
        "clusterroles",
        "clusterrolebindings",
        "roles",
        "rolebindings",
        "horizontalpodautoscalers",
    ]
)

WATCH_KINDS = frozenset(("delivery", "watch", "relist", "list", "event"))
"""Step kinds (``#meta.kind``, declared by the model) drawn as the API server's watch delivering to the actor."""
_API_ACTOR = re.compile(r"api-?server|etcd", re.IGNORECASE)
_WATCH_ACTION = re.compile(r"watch|event|deliver|notify|list|sync|inform", re.IGNORECASE)
_LANE_RANKS: Sequence[tuple[re.Pattern[str], int]] = (
    (re.compile(r"kubectl|user|client", re.IGNORECASE), 0),
    (_API_ACTOR, 1),
    (re.compile(r"controller|manager", re.IGNORECASE), 2),
    (re.compile(r"scheduler", re.IGNORECASE), 4),
    (re.compile(r"kubelet|node", re.IGNORECASE), 5),
)
_OTHER_RANK = 3
_DETAIL_CHARS = 64
MAX_STEPS = 2_000
"""The most states a sequence diagram draws (Graphviz lays out 2,000 pinned rows in a few seconds)."""
MAX_LANES = 64
"""The most lanes (distinct actors) a sequence diagram draws."""
_LANE_CHARS = 60
_LABEL_CHARS = 600


def safe_text(text: object, limit: int) -> str:
    """Text from a trace as a picture may show it: cut to ``limit`` characters, control characters escaped."""
    return clip(printable(text), limit)


@attrs.frozen
class Message:
    """What one step draws: an arrow from ``source`` to ``target`` lane, or a box on ``source`` (local)."""

    step: int
    kind: MessageKind
    source: str
    target: str
    label: str
    changes: tuple[Change, ...]
    x0: float = 0.0
    x1: float = 0.0


def _action_name(action: object) -> str:
    if is_variant(action):
        return str(action["tag"])  # type: ignore[index]
    if marker(action) == "#tup" and action["#tup"]:  # type: ignore[index]
        return str(action["#tup"][0])  # type: ignore[index]
    return str(action)


def is_api_object(address: str) -> bool:
    """Whether a view address names an API object (``pods/default/web-1``, ``nodes/node-a``, ``foos.example.com/x``)
    rather than a component's local state (``scheduler``, ``kubelet/node-a``)."""
    resource, _, rest = address.partition("/")
    return bool(rest) and (resource in API_RESOURCES or "." in resource)


def lane_rank(lane: str) -> int:
    """Where a lane goes from left to right: kubectl, API server, controllers, others, scheduler, kubelets."""
    for pattern, rank in _LANE_RANKS:
        if pattern.search(lane):
            return rank
    return _OTHER_RANK


def timed_description(before: TraceStep, step: TraceStep) -> str:
    """The step's description, after ``[340 s]`` when model time moved at it (the model's clock: ``#meta.elapsed``),
    so that a diagram reads as a timeline without a time on every row."""
    if step.elapsed is not None and before.elapsed is not None and step.elapsed != before.elapsed:
        return f"[{step.elapsed}] {step.description}"
    return step.description


def classify(trace: Trace, step: TraceStep) -> Message:
    """The message that ``step`` (not the initial state) draws."""
    before = trace.steps[step.index - 1]
    actor = safe_text(step.actor, _LANE_CHARS) if step.actor else SYSTEM_LANE
    api = next((s.actor for s in trace.steps if s.actor and _API_ACTOR.search(s.actor)), API_LANE)
    api = safe_text(api, _LANE_CHARS)
    label = safe_text(timed_description(before, step), _LABEL_CHARS)
    changes = tuple(diff_states(before.shown, step.shown))
    has_views = step.view is not None and before.view is not None
    writes_api = has_views and any(is_api_object(change.address) for change in changes)
    if step.kind is not None:
        # The model says what the step is (#meta.kind): a delivery from the API server's watch, or a step of the
        # actor's own, which is a request when it changed API objects.
        if actor != api and step.kind in WATCH_KINDS:
            return Message(step.index, "watch", api, actor, label, changes)
        if actor != api and writes_api:
            return Message(step.index, "request", actor, api, label, changes)
        return Message(step.index, "local", actor, actor, label, changes)
    # A trace without kinds (another tool's, or an older file): guessed from the action's name.
    if actor != api and writes_api:
        return Message(step.index, "request", actor, api, label, changes)
    if actor != api and has_views and _WATCH_ACTION.search(_action_name(step.action)):
        return Message(step.index, "watch", api, actor, label, changes)
    return Message(step.index, "local", actor, actor, label, changes)


def lanes(messages: Sequence[Message]) -> list[str]:
    """The lanes, left to right."""
    seen: dict[str, int] = {}
    for message in messages:
        for lane in (message.source, message.target):
            seen.setdefault(lane, len(seen))
    return sorted(seen, key=lambda lane: (lane_rank(lane), seen[lane]))


def _pos(x: float, y: float) -> str:
    return f"{x:.3f},{y:.3f}!"


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "lane"


def _text_width(text: str, points: float = 10) -> float:
    """Roughly how wide ``text`` renders, in inches (Helvetica averages about half an em per character)."""
    return len(text) * points * 0.55 / 72


def wrap(text: str, width: int = WRAP) -> list[str]:
    """A description in lines of at most ``width`` characters: events (after " — ") start a new line; a word
    longer than a line is cut, so that no line is wider than ``width``."""
    lines: list[str] = []
    for part in text.split(" — "):
        lines.extend(_wrap_part(part, width) or [""])
    return lines


def _wrap_part(text: str, width: int) -> list[str]:
    """Greedy wrapping that breaks between words, else after a ``/`` of a long path (``replicasets/default/``),
    and cuts a word only when a piece is longer than a line."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        pieces = [word] if len(word) <= width else [p for p in re.split(r"(?<=/)", word) if p]
        for k, piece in enumerate(pieces):
            glue = "" if k > 0 or not line else " "
            if len(line) + len(glue) + len(piece) <= width:
                line += glue + piece
                continue
            if line:
                lines.append(line)
            while len(piece) > width:
                lines.append(piece[:width])
                piece = piece[width:]
            line = piece
    if line:
        lines.append(line)
    return lines


def room(message: Message) -> int:
    """How many characters a line of ``message``'s label may have so that it never overlaps a neighbouring
    lane's label: an arrow's span (at least one lane gap), a box's lane gap, less a margin."""
    inches = LANE if message.kind == "local" else max(LANE, abs(message.x1 - message.x0))
    return max(16, int((inches - 0.3) * 72 / (10 * 0.55)))


def _detail_chars(message: Message) -> int:
    """The main change below a label (8 points, with "(+N more)" after it) fits the label's room too."""
    return max(16, min(_DETAIL_CHARS, int(room(message) * 10 / 8) - 12))


def label_lines(message: Message) -> list[str]:
    return wrap(message.label, room(message))


def _html_label(lines: Sequence[str], detail: str, colour: str, bold: bool) -> str:
    body = "<BR/>".join(html.escape(line) for line in lines)
    if bold:
        body = f"<B>{body}</B>"
    text = f'<FONT COLOR="{colour}">{body}</FONT>'
    if detail:
        text += f'<BR/><FONT POINT-SIZE="8" COLOR="#6b7785">{html.escape(detail)}</FONT>'
    return f"<{text}>"


def _tooltip(changes: Sequence[Change]) -> str:
    lines = [safe_text(change, 200) for change in changes[:20]]
    shown = lines + ([f"... {len(changes) - 20} more"] if len(changes) > 20 else [])
    return dot_text("\n".join(shown)) or "(no change)"


def _label_x(x0: float, x1: float, lines: Sequence[str], bold: bool) -> float:
    """Centred over the arrow, but shifted right rather than run into the step numbers on the left."""
    width = _text_width(max(lines, key=len)) * (1.12 if bold else 1.0)
    return max((x0 + x1) / 2, 0.5 + width / 2)


@attrs.frozen
class _Row:
    """Where a step is drawn: ``y`` of its arrow (or box centre), and the band around it."""

    y: float
    top: float
    bottom: float


def _rows(first: int, messages: Sequence[Message]) -> dict[int, _Row]:
    """Rows grow with their labels' lines, so that long descriptions never overlap the next step; ``first`` is the
    step whose state the page starts from (the initial state, or the last step of the page before)."""
    rows = {first: _Row(0.0, ROW / 2, -ROW / 2)}
    bottom = -ROW / 2
    for message in messages:
        extra = (len(label_lines(message)) - 1) * LINE
        top = bottom
        # A box grows both ways from its centre; an arrow's description grows upwards from the arrow.
        above, below = (extra / 2, extra / 2) if message.kind == "local" else (extra, 0.0)
        y = top - ROW / 2 - above
        rows[message.step] = _Row(y, top, y - ROW / 2 - below)
        bottom = y - ROW / 2 - below
    return rows


PAGE_STEPS = 60
"""Steps per page of a long trace's sequence diagram (each page a picture with every lane)."""


def page_ranges(trace: Trace, per_page: int = PAGE_STEPS) -> list[tuple[int, int]]:
    """The steps each page draws, ``[(start, stop), ...]`` (step 0, the initial state, heads the first page)."""
    last = len(trace.steps)
    if last <= 1:
        return [(1, 1)]
    return [(start, min(start + per_page, last)) for start in range(1, last, per_page)]


def sequence_pages(trace: Trace, title: str | None = None, per_page: int = PAGE_STEPS) -> list[graphviz.Digraph]:
    """The sequence diagram of a trace, one picture per ``per_page`` steps (the same lanes on every page)."""
    ranges = page_ranges(trace, per_page)
    return [sequence_diagram(trace, title, start, stop, page=(i + 1, len(ranges)) if len(ranges) > 1 else None)
            for i, (start, stop) in enumerate(ranges)]


def trace_lanes(trace: Trace, messages: Sequence[Message]) -> list[str]:
    """The lanes: the model's own (``#meta.lanes``, every component, also one that acts only at the end) followed
    by any other actor of the trace; else the actors of the steps, in :func:`lanes`' order."""
    found = lanes(messages)
    if not trace.lanes:
        return found
    declared = list(dict.fromkeys(safe_text(lane, _LANE_CHARS) for lane in trace.lanes))
    # The user's kubectl first and the API server next, as sequence diagrams draw them; then the model's order.
    users = [lane for lane in declared if lane_rank(lane) == 0]
    api = [lane for lane in found if lane not in declared and _API_ACTOR.search(lane)] or [
        lane for lane in found if lane == API_LANE]
    rest = [lane for lane in declared if lane not in users]
    others = [lane for lane in found if lane not in declared and lane not in api]
    return users + api + rest + others


def sequence_diagram(trace: Trace, title: str | None = None, start: int = 1, stop: int | None = None,
                     page: tuple[int, int] | None = None) -> graphviz.Digraph:
    """The sequence diagram of ``trace``'s steps ``start..stop-1`` (default: all; see the module docstring for what
    is drawn how); ``page`` = (n, of) numbers a page of a long trace in its title."""
    if len(trace.steps) > MAX_STEPS:
        raise InputError(f"the trace has {len(trace.steps):,} states; a sequence diagram draws at most {MAX_STEPS:,}")
    stop = len(trace.steps) if stop is None else stop
    every = [classify(trace, step) for step in trace.steps[1:]]
    lane_names = trace_lanes(trace, every) or [SYSTEM_LANE]
    if len(lane_names) > MAX_LANES:
        raise InputError(
            f"the trace has {len(lane_names):,} actors; a sequence diagram draws at most {MAX_LANES} lanes"
        )
    lane_ids: dict[str, str] = {}
    for lane in lane_names:  # distinct lanes may share an id's characters ("a b", "a-b"): number the later ones
        base = _id(lane)[:40]
        lane_ids[lane] = base if base not in lane_ids.values() else f"{base}-{len(lane_ids)}"
    x_of = {lane: MARGIN + i * LANE for i, lane in enumerate(lane_names)}
    messages = [attrs.evolve(m, x0=x_of[m.source], x1=x_of[m.target]) for m in every[start - 1:stop - 1]]
    first = start - 1
    rows = _rows(first, messages)
    bottom = min(row.bottom for row in rows.values()) - 1.2 * ROW
    right = MARGIN + (len(lane_names) - 1) * LANE
    violating = {i for i in trace.violating_steps if first <= i < stop}
    last_page = stop == len(trace.steps)

    heading = safe_text(title or trace.description or "trace", 300)
    if page is not None:
        heading += f" — page {page[0]} of {page[1]}: steps {start}..{stop - 1}"
    graph = graphviz.Digraph("sequence")
    graph.attr(
        layout="neato",
        outputorder="edgesfirst",
        splines="line",
        label=dot_text(heading),
        labelloc="t",
        fontname=FONT,
        fontsize="14",
        bgcolor="white",
        pad="0.3",
    )
    graph.attr("node", fontname=FONT, fontsize="10", margin="0.04,0.02")
    graph.attr("edge", fontname=FONT, fontsize="10")

    # Translucent bands, so that the lifelines and arrows (drawn first: outputorder=edgesfirst) show through.
    band_right = max(
        [right + LANE * 0.75]
        + [m.x0 + _text_width(max(label_lines(m), key=len)) / 2 + 0.25 for m in messages if m.kind == "local"]
    )
    for index in sorted(violating):
        colour = "#f39c1233" if trace.loop is not None else "#e74c3c2e"
        row = rows[index]
        graph.node(
            f"band-{index}",
            label="",
            shape="box",
            style="filled",
            color=colour,
            fillcolor=colour,
            width=f"{band_right:.3f}",
            height=f"{row.top - row.bottom:.3f}",
            pos=_pos(band_right / 2, (row.top + row.bottom) / 2),
            id=f"band-{index}",
            **{"class": "violation band"},
        )

    for lane in lane_names:
        lane_id = lane_ids[lane]
        graph.node(
            f"lane-{lane_id}",
            label=dot_text(lane),
            shape="box",
            style="rounded,filled",
            fillcolor="#e8eef8",
            color="#4a6fa5",
            fontsize="11",
            pos=_pos(x_of[lane], 0.55 * ROW + 0.2),
            id=f"lane-{lane_id}",
            **{"class": "lane"},
        )
        graph.node(f"end-{lane_id}", label="", shape="point", width="0.01", style="invis", pos=_pos(x_of[lane], bottom))
        graph.edge(f"lane-{lane_id}", f"end-{lane_id}", arrowhead="none", style="dashed", color="#9aa5b1")

    for index, row in rows.items():
        bad = index in violating and trace.loop is None
        graph.node(
            f"num-{index}",
            label=str(index),
            shape="plaintext",
            fontcolor="#c0392b" if bad else "#555555",
            fontsize="11",
            pos=_pos(0.25, row.y),
        )
    graph.node(
        "initial",
        label="initial state" if first == 0 else f"continued from page {page[0] - 1 if page else 1}",
        shape="plaintext",
        fontcolor="#555555",
        pos=_pos(MARGIN + 0.15 * LANE, 0.0),
    )

    for message in messages:
        _draw_message(graph, message, x_of, rows[message.step].y, message.step in violating, trace.loop is None)
    if last_page:
        _draw_ending(graph, trace, rows, messages[-1].x0 if messages else MARGIN, right)
    elif page is not None:
        graph.node("continued", label=f"continued on page {page[0] + 1}", shape="plaintext", fontcolor="#555555",
                   pos=_pos(MARGIN + 0.15 * LANE, bottom + 0.3))
    return graph


def _draw_message(
    graph: graphviz.Digraph, message: Message, x_of: dict[str, float], y: float, banded: bool, safety: bool
) -> None:
    """One step: a box on the actor's lane, or an arrow with its description above and its main change below."""
    bad = banded and safety
    # Labels hide the lifelines they cross, except on a band, whose colour must show.
    label_fill = "#ffffff00" if banded else "white"
    colour = "#c0392b" if bad else "#1f3b5c"
    classes = f"step {message.kind}" + (" violation" if bad else "")
    lines = label_lines(message)
    if bad:
        lines[-1] += "   ✗"
    tooltip = _tooltip(message.changes)
    if message.kind == "local":
        graph.node(
            f"step-{message.step}",
            label=_html_label(
                lines,
                safe_text(
                    headline(message.changes, _detail_chars(message),
                             lambda change: change.address == message.source),
                    2 * _DETAIL_CHARS,
                ),
                colour,
                bad,
            ),
            shape="box",
            style="filled",
            fillcolor="#fbe3e3" if bad else "#f6f6f6",
            color=colour,
            penwidth="2" if bad else "1",
            pos=_pos(x_of[message.source], y),
            tooltip=tooltip,
            href=f"#step-{message.step}",
            id=f"step-{message.step}",
            **{"class": classes},
        )
        return
    x0, x1 = x_of[message.source], x_of[message.target]
    graph.node(f"from-{message.step}", label="", shape="point", width="0.01", style="invis", pos=_pos(x0, y))
    graph.node(f"to-{message.step}", label="", shape="point", width="0.01", style="invis", pos=_pos(x1, y))
    graph.edge(
        f"from-{message.step}",
        f"to-{message.step}",
        color=colour,
        penwidth="2.2" if bad else "1.2",
        style="dashed" if message.kind == "watch" else "solid",
        arrowsize="0.8",
        tooltip=tooltip,
        href=f"#step-{message.step}",
        id=f"step-{message.step}",
        **{"class": classes},
    )
    graph.node(
        f"label-{message.step}",
        label=_html_label(lines, "", colour, bad),
        shape="plaintext",
        style="filled",
        fillcolor=label_fill,
        width="0",
        height="0",
        margin="0.03,0.01",
        pos=_pos(_label_x(x0, x1, lines, bad), y + 0.14 + (len(lines) - 1) * LINE / 2),
        tooltip=tooltip,
    )
    if message.kind == "request":
        detail = headline(message.changes, _detail_chars(message), lambda change: is_api_object(change.address))
    else:
        detail = headline(message.changes, _detail_chars(message), lambda change: change.address == message.target)
    detail = safe_text(detail, 2 * _DETAIL_CHARS)
    if detail:
        graph.node(
            f"detail-{message.step}",
            label=dot_text(detail),
            shape="plaintext",
            style="filled",
            fillcolor=label_fill,
            width="0",
            height="0",
            margin="0.03,0.01",
            fontsize="8",
            fontcolor="#6b7785",
            pos=_pos((x0 + x1) / 2, y - 0.13),
            tooltip=tooltip,
        )


def _draw_ending(graph: graphviz.Digraph, trace: Trace, rows: dict[int, _Row], last_x: float, right: float) -> None:
    """The verdict below the violating step: the broken invariant, the deadlock, or the lasso's loop."""
    if not trace.steps:
        return
    last = len(trace.steps) - 1
    below = rows[last].bottom - 0.35 * ROW
    name = dot_text(safe_text(trace.property_name, 200))
    if trace.loop is None:
        if trace.kind == "sometimes":
            return
        text = "deadlock: no action is enabled" if trace.kind == "deadlock" else f"✗ violates {name}"
        graph.node(
            "verdict",
            label=text,
            shape="note",
            style="filled",
            fillcolor="#fde2e2",
            color="#c0392b",
            fontcolor="#c0392b",
            pos=_pos(last_x, below),
            id="verdict",
            **{"class": "verdict violation"},
        )
        return
    loop_x = 0.62
    top = rows[trace.loop].y if trace.loop in rows else rows[min(rows)].top  # a loop from an earlier page
    graph.node("loop-top", label="", shape="point", width="0.01", style="invis", pos=_pos(loop_x, top))
    graph.node("loop-bottom", label="", shape="point", width="0.01", style="invis", pos=_pos(loop_x, rows[last].y))
    if trace.loop_closes:
        graph.edge(
            "loop-bottom",
            "loop-top",
            color="#d35400",
            penwidth="2",
            id="loop",
            tooltip=f"the state after step {last} equals step {trace.loop}'s: the steps repeat forever",
            **{"class": "loop violation"},
        )
        text = f"↺ loop: steps {trace.loop + 1}..{last} repeat forever\\n{_goal(trace, name)}"
    else:
        text = f"↺ stutters forever in step {last}\\n{_goal(trace, name)}"
    graph.node(
        "verdict",
        label=text,
        shape="note",
        style="filled",
        fillcolor="#fff0d6",
        color="#d35400",
        fontcolor="#a04000",
        pos=_pos((MARGIN + right) / 2, below),
        id="verdict",
        **{"class": "verdict violation"},
    )


def _goal(trace: Trace, name: str) -> str:
    """The lasso's verdict in a few words (``Trace.lasso_verdict`` at diagram size)."""
    if trace.kind in ("eventually_always", "leads_to_always"):
        return f"{name} keeps failing"
    return f"{name} never holds"
