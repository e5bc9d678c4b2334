"""``kubespec explore TARGET``: walk a model's state space by hand in a browser, as Stateright's Explorer does.

The page shows the current state (the model's kubectl-like ``tables`` when it has them, then its view or raw
state), the steps enabled there (each a button leading to its successor, with the step's actor and one line),
the path walked so far (any earlier state of it one click away), and, with ``--trace FILE``, the trace's states to
jump to. States that violate an invariant are marked with the property's name and its own explanation.

Two ways to serve it:

- one self-contained HTML file (``-o OUT.html``): the states come from the checker's own breadth-first search
  (``checker.check`` with a visitor, as ``kubespec graph`` does), at most ``--max-states`` of them, embedded as JSON;
  a step that leads beyond them says so (its button is disabled). No network, no external script.
- ``--serve``: a small HTTP server on localhost (``127.0.0.1``, ``--port``) computes each state's successors when
  the page asks for them (``GET /state/N`` as JSON), so nothing is cut; Ctrl-C or SIGTERM stops it.

Upstream inspiration: stateright/src/checker/explorer.rs (its routes ``/.status`` and ``/.states/...``) and its UI.
"""

from __future__ import annotations

import html
import http.server
import json
import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from checker.cli import loader_options
from checker.errors import InputError
from checker.itf import encode_state, plain, read_trace
from checker.loading import load_target
from checker.text import printable
from diagrams.output import MAX_STRING
from diagrams.progress import Progress
from diagrams.stategraph import explore as explore_graph
from traces.cli import guarded
from traces.quiet import essentials, is_api_object
from traces.replay import follow

DEFAULT_MAX_STATES = 1_000
MAX_STATES = 20_000


def _call(model: Any, name: str, *args: Any) -> Any:
    method = getattr(model, name, None)
    return None if method is None else method(*args)


def state_json(model: Any, state: Any) -> dict[str, Any]:
    """What the page shows of a state: tables, the rest of the view (components), the whole view, violations."""
    view = _call(model, "display", state)
    shown = plain(view) if view is not None else encode_state(state)
    tables = plain(_call(model, "tables", state) or [])
    components = {a: essentials(v) for a, v in shown.items() if not is_api_object(v)} if tables else shown
    violations = []
    for p in getattr(model, "properties", ()):
        if p.kind == "always" and not p.pred(state):
            explanation = _call(model, "explain", p.name, state)
            violations.append({"name": p.name, "explanation": explanation})
    return {"tables": tables, "components": {a: v for a, v in components.items() if v is not None},
            "view": shown, "violations": violations}


def _describe(model: Any, action: Any) -> str:
    text = getattr(model, "describe", str)(action)
    return printable(" ".join(str(text).split()))[:MAX_STRING]


def _actor(model: Any, action: Any) -> str | None:
    actor = getattr(model, "actor", lambda a: getattr(a, "actor", None))(action)
    return printable(actor) if isinstance(actor, str) else None


def step_json(model: Any, action: Any, target: int | None) -> dict[str, Any]:
    return {"label": _describe(model, action), "actor": _actor(model, action), "to": target}


def page_data(model: Any, title: str, max_states: int, trace_states: Sequence[Any] = (),
              trace_name: str | None = None, on_state: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Every state the page embeds (the checker's search from the initial states and the trace's states)."""
    canonical = getattr(model, "canonical", lambda s: s)
    path = [canonical(s) for s in trace_states]
    seeds: list[Hashable] = []
    for s in [*(canonical(s) for s in model.init_states()), *path]:
        if s not in seeds:
            seeds.append(s)
    if len(seeds) > max_states:
        raise InputError(f"the trace has {len(seeds):,} distinct states, more than --max-states {max_states:,}")
    graph = explore_graph(model, max_states=max_states, seeds=seeds, on_state=on_state)
    index = {s: i for i, s in enumerate(graph.states)}
    out_edges: list[list[dict[str, Any]]] = [[] for _ in graph.states]
    for source, action, target in graph.edges:
        out_edges[source].append(step_json(model, action, target))
    for source, count in graph.cut:
        out_edges[source].append({"label": f"{count} more step(s) lead beyond the page's {len(graph.states):,} "
                                  "states (kubespec explore --serve walks them all)", "actor": None, "to": None})
    states = []
    for i, state in enumerate(graph.states):
        entry = state_json(model, state)
        entry.update(id=i, initial=i in graph.initial, steps=out_edges[i])
        states.append(entry)
    traces = {trace_name or "trace": [index[s] for s in path]} if path else {}
    note = None
    if graph.cut:
        note = (f"the page holds the first {len(graph.states):,} states of the checker's breadth-first search; "
                f"{graph.cut_edges:,} step(s) from {len(graph.cut):,} of them lead beyond (their buttons are "
                "disabled; kubespec explore --serve walks them all)")
    return {"title": title, "states": states, "initial": sorted(graph.initial), "traces": traces,
            "note": note, "live": False}


_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em; color: #1f2933; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin: 0.8em 0 0.3em; }
#layout { display: flex; gap: 2em; align-items: flex-start; }
#left { flex: 3; min-width: 0; } #right { flex: 2; min-width: 18em; }
table.kubectl { border-collapse: collapse; margin: 0.2em 0 0.6em; font-size: 0.9em; }
table.kubectl caption { text-align: left; font-weight: bold; }
table.kubectl th, table.kubectl td { padding: 0.1em 0.9em 0.1em 0; text-align: left; font-family: monospace; }
table.kubectl th { color: #52606d; }
pre { font-size: 0.85em; background: #f5f7fa; padding: 0.5em; white-space: pre-wrap; }
button.step { display: block; width: 100%; text-align: left; margin: 0.2em 0; padding: 0.35em 0.5em;
              border: 1px solid #9fb3c8; background: #fff; border-radius: 4px; cursor: pointer; font-size: 0.9em; }
button.step:hover { background: #e6f0fa; } button.step:disabled { color: #9aa5b1; cursor: default; }
.actor { color: #0b7285; font-weight: bold; margin-right: 0.4em; }
.violation { color: #c0392b; font-weight: bold; }
#path li, #traces li { margin: 0.15em 0; } a { color: #1c5d99; cursor: pointer; }
.note { color: #7b8794; font-size: 0.9em; }
"""

_SCRIPT = r"""
const data = JSON.parse(document.getElementById('explorer-data').textContent);
const cache = new Map((data.states || []).map(s => [s.id, s]));
let path = [];   // [{id, label}] : the states walked, and the step that led to each
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}
async function get(id) {
  if (cache.has(id)) return cache.get(id);
  const response = await fetch('/state/' + id);
  const state = await response.json();
  cache.set(id, state);
  return state;
}
function tables(state) {
  const box = el('div', {id: 'tables'});
  for (const t of state.tables || []) {
    const table = el('table', {class: 'kubectl'}, el('caption', {}, t.title));
    table.append(el('tr', {}, ...t.columns.map(c => el('th', {}, c))));
    for (const row of t.rows) table.append(el('tr', {}, ...row.map(c => el('td', {}, c === null ? '' : c))));
    box.append(table);
  }
  return box;
}
async function show(id, label, keep) {
  const state = await get(id);
  if (keep !== undefined) path = path.slice(0, keep + 1);
  else path.push({id: id, label: label});
  const cur = document.getElementById('current');
  cur.replaceChildren();
  cur.append(el('h2', {id: 'state-title'}, 'State ' + id + (state.initial ? ' (initial)' : '')));
  for (const v of state.violations || [])
    cur.append(el('p', {class: 'violation'}, '✗ violates ' + v.name + (v.explanation ? ': ' + v.explanation : '')));
  cur.append(tables(state));
  cur.append(el('pre', {id: 'components'}, Object.entries(state.components || {})
    .map(([k, v]) => k + ': ' + JSON.stringify(v)).join('\n')));
  const whole = el('pre', {}, JSON.stringify(state.view, null, 1));
  const details = el('details', {}, el('summary', {}, 'whole state'), whole);
  cur.append(details);
  const steps = document.getElementById('steps');
  steps.replaceChildren();
  if (!(state.steps || []).length) steps.append(el('p', {class: 'note'}, 'no step is enabled (a deadlock)'));
  (state.steps || []).forEach((s, i) => {
    const b = el('button', {class: 'step', 'data-to': s.to === null ? '' : s.to, id: 'step-' + i});
    if (s.actor) b.append(el('span', {class: 'actor'}, s.actor));
    b.append(s.label);
    if (s.to === null) b.disabled = true;
    else b.addEventListener('click', () => show(s.to, (s.actor ? s.actor + ': ' : '') + s.label));
    steps.append(b);
  });
  const list = document.getElementById('path');
  list.replaceChildren();
  path.forEach((p, i) => {
    const a = el('a', {'data-index': i}, (i === 0 ? 'start' : p.label) + ' → state ' + p.id);
    a.addEventListener('click', () => show(p.id, p.label, i));
    list.append(el('li', {}, a));
  });
}
function traces() {
  const box = document.getElementById('traces');
  for (const [name, ids] of Object.entries(data.traces || {})) {
    box.append(el('h2', {}, 'Trace ' + name));
    const list = el('ol', {start: 0});
    ids.forEach((id, i) => {
      const a = el('a', {class: 'jump', 'data-step': i}, 'step ' + i + ' → state ' + id);
      a.addEventListener('click', () => {
        // The path becomes the trace's own steps up to this one.
        path = ids.slice(0, i).map((sid, k) => ({id: sid, label: k === 0 ? 'start' : 'trace ' + name + ' step ' + k}));
        show(id, 'trace ' + name + ' step ' + i);
      });
      list.append(el('li', {}, a));
    });
    box.append(list);
  }
}
traces();
show((data.initial || [0])[0], 'initial state');
"""


def page_html(data: Mapping[str, Any]) -> str:
    """One self-contained page (inline style and script, the states as JSON)."""
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    note = f'<p class="note">{html.escape(data["note"])}</p>' if data.get("note") else ""
    count = "" if data.get("live") else f" · {len(data.get('states', [])):,} states"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>kubespec explore: {html.escape(data['title'])}</title><style>{_STYLE}</style></head><body>"
        f"<h1>kubespec explore: {html.escape(data['title'])}</h1>"
        f'<p class="note">Click a step to follow it; click an earlier state of the path to go back{count}.</p>{note}'
        '<div id="layout"><div id="left"><div id="current"></div></div><div id="right">'
        '<h2>Enabled steps</h2><div id="steps"></div><h2>Path</h2><ol id="path" start="0"></ol>'
        '<div id="traces"></div></div></div>'
        f'<script type="application/json" id="explorer-data">{payload}</script>'
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


class LiveStates:
    """The server's states: each gets an id when first seen; its successors are computed when first asked."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.canonical = getattr(model, "canonical", lambda s: s)
        self.states: list[Any] = []
        self.ids: dict[Any, int] = {}
        self.lock = threading.Lock()

    def id_of(self, state: Any) -> int:
        state = self.canonical(state)
        found = self.ids.get(state)
        if found is None:
            found = self.ids[state] = len(self.states)
            self.states.append(state)
        return found

    def answer(self, id_: int) -> dict[str, Any] | None:
        with self.lock:
            if not 0 <= id_ < len(self.states):
                return None
            state = self.states[id_]
            constraint = getattr(self.model, "constraint", lambda s: True)
            steps = [step_json(self.model, action, self.id_of(target))
                     for action, target in self.model.successors(state) if constraint(self.canonical(target))]
            entry = state_json(self.model, state)
            entry.update(id=id_, initial=id_ in self.initial, steps=steps)
            return entry

    def start(self, trace_states: Sequence[Any]) -> tuple[list[int], list[int]]:
        initial = [self.id_of(s) for s in self.model.init_states()]
        self.initial = set(initial)
        return initial, [self.id_of(s) for s in trace_states]


def serve(model: Any, title: str, port: int, trace_states: Sequence[Any], trace_name: str | None,
          ready: Callable[[str], None]) -> None:
    """Serve the explorer on 127.0.0.1:``port`` until interrupted."""
    live = LiveStates(model)
    initial, path = live.start(trace_states)
    data = {"title": title, "states": [], "initial": initial, "traces": {trace_name or "trace": path} if path else {},
            "note": None, "live": True}
    page = page_html(data).encode("utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            if self.path in ("/", "/index.html"):
                self._send(200, "text/html; charset=utf-8", page)
                return
            if self.path.startswith("/state/") and self.path[7:].isdigit():
                entry = live.answer(int(self.path[7:]))
                if entry is not None:
                    self._send(200, "application/json", json.dumps(entry, ensure_ascii=False).encode("utf-8"))
                    return
            self._send(404, "text/plain", b"not found")

        def _send(self, code: int, kind: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the standard library's name)
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    try:
        ready(f"http://127.0.0.1:{server.server_address[1]}/")
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


@click.command(name="explore")
@click.argument("target", required=False)
@click.option("--model", "model_ref", metavar="FILE.py:NAME", help="Explore a Python model (or module:NAME).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="OUT.html", help="Write one self-contained page (default: explore.html).")
@click.option("--max-states", type=click.IntRange(min=1, max=MAX_STATES), default=DEFAULT_MAX_STATES,
              show_default=True, help="The states the page embeds (the checker's breadth-first search).")
@click.option("--trace", "trace_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="A trace of this model whose states the page lists, to jump to any of them.")
@click.option("--serve", is_flag=True, help="Serve the page on localhost instead, computing states on demand.")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8080, show_default=True,
              help="With --serve: the port on 127.0.0.1 (0: any free port).")
@loader_options
@guarded
def explore(target: str | None, model_ref: str | None, output: Path | None, max_states: int,
            trace_file: Path | None, serve_: bool = False, port: int = 8080, **extra: Any) -> None:
    """Walk the state space of TARGET by hand in a browser (as Stateright's Explorer): the current state as
    kubectl-like tables, the enabled steps to follow, the path so far, and a trace's states to jump to."""
    serve_ = bool(extra.pop("serve", serve_))
    if target is None and model_ref is None:
        raise click.UsageError("give a TARGET (scenario or FILE.py:NAME) or --model")
    loaded = load_target(target, model_ref, extra)
    model = loaded.model
    title = loaded.summary or "model"
    trace_states: list[Any] = []
    if trace_file is not None:
        trace_states, _ = follow(model, read_trace(trace_file))
    name = None if trace_file is None else trace_file.name
    if serve_:
        if output is not None:
            raise click.UsageError("--serve serves the page: give no -o")
        serve(model, title, port, trace_states, name,
              lambda url: click.echo(f"serving {printable(title)} on {url} (Ctrl-C stops)"))
        return
    from checker.files import atomic_write

    out = output or Path("explore.html")
    with Progress("exploring") as progress:
        data = page_data(model, title, max_states, trace_states, name, on_state=progress.tick)
        progress.phase(f"writing {out.name}")
        atomic_write(out, page_html(data).encode("utf-8"), what="explorer page")
    click.echo(f"wrote {printable(out)}: {len(data['states']):,} states" + (
        f" (note: {printable(data['note'])})" if data.get("note") else ""))
