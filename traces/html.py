"""A trace as one self-contained HTML page: the verdict, the picture, and each step with its changes.

No network is needed to open it: the style is inline, the picture is inline SVG, and there is no script. Whole
states are folded in ``<details>`` elements, so a long trace stays readable; a step in the picture links to its
section (``#step-N``), and hovering over it lists all of its changes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

from traces.diff import diff_states
from traces.document import Trace
from traces.quiet import essentials, is_api_object, quiet_changes
from traces.render import describe_source
from traces.values import format_value, pretty_lines

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 70em;
       padding: 0 1em; color: #1f2933; }
h1 { font-size: 1.4em; } .facts { color: #52606d; }
.picture { overflow-x: auto; border: 1px solid #d9e2ec; padding: 0.5em; margin: 1em 0; }
.step { border-left: 4px solid #9fb3c8; padding: 0.2em 0.8em; margin: 0.6em 0; }
.step.violation { border-left-color: #c0392b; background: #fdecea; }
.step.loop { border-left-color: #d35400; background: #fff4e5; }
.step h2 { font-size: 1em; margin: 0.3em 0; } .actor { color: #0b7285; margin: 0 0.6em; }
.elapsed { color: #862e9c; font-weight: normal; margin-left: 0.4em; }
.verdict { color: #c0392b; font-weight: bold; }
pre { margin: 0.2em 0; font-size: 0.9em; white-space: pre-wrap; }
.added { color: #2b8a3e; } .removed { color: #c92a2a; } .changed { color: #a86400; } .none { color: #7b8794; }
nav a { margin-right: 0.4em; }
.why { color: #1c5d99; margin: 0.2em 0; padding-left: 1.2em; font-size: 0.9em; }
.explanation { color: #c0392b; }
table.kubectl { border-collapse: collapse; margin: 0.3em 0 0.6em; font-size: 0.9em; }
table.kubectl caption { text-align: left; font-weight: bold; }
table.kubectl th, table.kubectl td { padding: 0.1em 0.8em 0.1em 0; text-align: left; font-family: monospace; }
table.kubectl th { color: #52606d; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _inline_svg(svg: str) -> str:
    """SVG (one picture, or several pages one after the other) as elements of the page: without XML prologs,
    DOCTYPEs and comments, ids prefixed so that they collide neither with the page's step anchors nor across
    pages (``svg-`` on the first picture, ``svg2-``, ``svg3-``... on the next)."""
    body = re.sub(r"<\?xml[^>]*\?>|<!DOCTYPE[^>]*>|<!--.*?-->", "", svg, flags=re.DOTALL).strip()
    pictures = [part for part in re.split(r"(?=<svg\b)", body) if part.strip()]
    return "\n".join(re.sub(r'\bid="', f'id="svg{"" if n == 1 else n}-', part)
                     for n, part in enumerate(pictures, start=1))


def _state_block(shown: Mapping[str, Any]) -> str:
    lines = []
    for address, value in shown.items():
        body = pretty_lines(value, width=100, indent=2)
        if len(body) == 1:
            lines.append(f"{address}: {body[0].strip()}")
        else:
            lines.append(f"{address}:")
            lines.extend(body)
    return "<pre>" + _e("\n".join(lines)) + "</pre>"


def tables_html(tables: Any) -> str:
    """kubectl-like tables (``#meta.tables``) as HTML tables."""
    out = []
    for table in tables:
        head = "".join(f"<th>{_e(c)}</th>" for c in table.get("columns", []))
        rows = "".join("<tr>" + "".join(f"<td>{_e(c if isinstance(c, str) else format_value(c))}</td>" for c in row)
                       + "</tr>" for row in table.get("rows", []))
        out.append(f'<table class="kubectl"><caption>{_e(table.get("title", ""))}</caption><tr>{head}</tr>{rows}'
                   "</table>")
    return "".join(out)


def _why_html(lines: Any) -> str:
    if not lines:
        return ""
    return '<ul class="why">' + "".join(f"<li>{_e(line)}</li>" for line in lines) + "</ul>"


def _lasso_html(trace: Trace) -> str:
    lasso = trace.lasso
    if not lasso or not lasso.get("fairness"):
        return ""
    items = "".join(f"<li><b>{_e(c.get('name'))}</b> ({_e(c.get('status'))}): {_e(c.get('detail'))}</li>"
                    for c in lasso["fairness"])
    return f"<p>Fair step classes on the loop (why none makes progress):</p><ul>{items}</ul>"


def _verdict_note(trace: Trace, index: int) -> str:
    last = len(trace.steps) - 1
    if trace.loop is None:
        if index not in trace.violating_steps:
            return ""
        text = "deadlock: no action is enabled" if trace.kind == "deadlock" else f"✗ violates {trace.property_name}"
        return f'<p class="verdict">{_e(text)}</p>'
    notes = []
    if index == trace.loop:
        notes.append(f"loop starts here: from step {trace.loop} the behaviour repeats forever")
    if index == last:
        if trace.loop_closes:
            notes.append(f"↺ back to step {trace.loop} (the state equals step {trace.loop}'s)")
        else:
            notes.append(f"↺ stutters in step {last} forever")
        notes.append(trace.lasso_verdict)
    text = "".join(f'<p class="verdict">{_e(note)}</p>' for note in notes)
    return text + (_lasso_html(trace) if index == last else "")


def trace_html(trace: Trace, svg: str | None, title: str = "kubespec trace", picture_note: str | None = None) -> str:
    """The page for ``trace``; ``svg`` is its sequence diagram (or None, with ``picture_note`` saying why)."""
    last = len(trace.steps) - 1
    facts = []
    if trace.property_name is not None:
        facts.append(f"property <b>{_e(trace.property_name)}</b> ({_e(trace.kind)})")
    if trace.is_kubespec:
        facts.append(f"model: <code>{_e(describe_source(trace.source))}</code>")
    facts.append(f"{max(last, 0)} step(s)")
    if trace.stats and isinstance(trace.stats.get("distinct_states"), int):
        facts.append(f"{trace.stats['distinct_states']:,} distinct states explored")
    if trace.options:
        facts.append("options: " + _e(", ".join(f"{k}={format_value(v)}" for k, v in trace.options.items())))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(trace.description or 'ITF trace')}</h1>",
        f'<p class="facts">{" · ".join(facts)}</p>',
        "<nav>" + "".join(f'<a href="#step-{s.index}">{s.index}</a>' for s in trace.steps) + "</nav>",
    ]
    if svg is not None:
        parts.append(f'<div class="picture">{_inline_svg(svg)}</div>')
    elif picture_note:
        parts.append(f'<p class="none">{_e(picture_note)}</p>')
    for step in trace.steps:
        classes = ["step"]
        if step.index in trace.violating_steps:
            classes.append("loop" if trace.loop is not None else "violation")
        parts.append(f'<section class="{" ".join(classes)}" id="step-{step.index}">')
        actor = f'<span class="actor">{_e(step.actor)}</span>' if step.actor else " "
        elapsed = "" if step.elapsed is None else f' <span class="elapsed">[{_e(step.elapsed)}]</span>'
        parts.append(f"<h2>Step {step.index}{elapsed}{actor}{_e(step.description)}</h2>")
        if step.index == 0:
            if step.tables:
                parts.append(tables_html(step.tables))
                rest = {a: kept for a, v in step.shown.items()
                        if not is_api_object(v) and (kept := essentials(v)) is not None}
                parts.append(_state_block(rest))
                parts.append(f"<details><summary>whole state</summary>{_state_block(step.shown)}</details>")
            else:
                parts.append(_state_block(step.shown))
        else:
            parts.append(_why_html(step.why))
            changes = diff_states(trace.steps[step.index - 1].shown, step.shown)
            shown = quiet_changes(changes, step.actor)
            lines = [f'<span class="{change.kind}">{_e(change)}</span>' for change in shown]
            empty = "(no change)" if not changes else "(nothing visible changed)"
            parts.append("<pre>" + ("\n".join(lines) or f'<span class="none">{empty}</span>') + "</pre>")
            if len(shown) < len(changes):
                every = "\n".join(f'<span class="{c.kind}">{_e(c)}</span>' for c in changes)
                parts.append(f"<details><summary>every change</summary><pre>{every}</pre></details>")
            parts.append(f"<details><summary>whole state</summary>{_state_block(step.shown)}</details>")
        if step.explanation and step.index in trace.violating_steps:
            parts.append(f'<p class="explanation">✗ {_e(trace.property_name)}: {_e(step.explanation)}</p>')
        parts.append(_verdict_note(trace, step.index))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(part for part in parts if part)
