"""Text rendering of a trace: per step its number, actor and one line, why (what the actor read, from where, and
what its requests answered), then only what changed (quietly by default: traces.quiet; ``full`` for everything).
At the violating step the property's own explanation; after a lasso, the goal and the fairness classes.

Coloured with rich when the console is a terminal, plain text otherwise (pipes, files, tests). Values never go
through rich markup, so a key like ``[0]`` prints as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.text import Text

from checker.text import printable
from traces.diff import Change, diff_states
from traces.document import Trace, TraceStep, from_document
from traces.quiet import essentials, is_api_object, quiet_changes
from traces.values import format_value, pretty_lines

_CHANGE_STYLES = {"added": "green", "removed": "red", "changed": "yellow"}


def describe_source(source: Mapping[str, Any] | None) -> str:
    """One line naming the model a trace came from, e.g. ``python examples/diehard.py:DieHard``."""
    if not source:
        return "unknown model (the trace cannot be replayed)"
    loader = source.get("loader", "?")
    rest = " ".join(f"{key}={format_value(value)}" for key, value in source.items() if key not in ("loader", "target"))
    target = source.get("target")
    parts = (str(loader), str(target) if target is not None else "", rest)
    return printable(" ".join(part for part in parts if part))


def header(trace: Trace) -> list[Text]:
    """The lines above the steps: what is violated, by which model, found how."""
    lines = [Text(printable(trace.description or "ITF trace"), style="bold")]
    facts = []
    if trace.property_name is not None:
        facts.append(f"property {printable(trace.property_name)} ({printable(trace.kind)})")
    if trace.is_kubespec:
        facts.append(f"model: {describe_source(trace.source)}")
    facts.append(f"{max(len(trace.steps) - 1, 0)} step(s)")
    if trace.stats:
        distinct = trace.stats.get("distinct_states")
        seconds = trace.stats.get("seconds")
        if isinstance(distinct, int):
            facts.append(f"{distinct:,} distinct states explored")
        if isinstance(seconds, int | float):
            facts.append(f"{seconds:.2f} s")
    if trace.options:
        facts.append("options: " + ", ".join(f"{printable(k)}={format_value(v)}" for k, v in trace.options.items()))
    lines.append(Text("  " + " · ".join(facts), style="dim"))
    return lines


def step_heading(trace: Trace, step: TraceStep) -> Text:
    """``Step 3  [40 s]  scheduler  scheduler binds default/web-x to node-a``, with a mark on violating steps; the
    bracket is the model time elapsed since the initial state (when the model has a clock: ``#meta.elapsed``)."""
    text = Text()
    text.append(f"Step {step.index}", style="bold")
    if step.elapsed is not None:
        text.append("  ")
        text.append(f"[{printable(str(step.elapsed))}]", style="magenta")
    if step.actor:
        text.append("  ")
        text.append(printable(step.actor), style="cyan")
    text.append("  ")
    text.append(printable(step.description))
    if step.index in trace.violating_steps and trace.loop is None:
        name = printable(trace.property_name)
        label = "deadlock: no action is enabled" if trace.kind == "deadlock" else f"violates {name}"
        text.append(f"   ✗ {label}", style="bold red")
    return text


def change_line(change: Change) -> Text:
    return Text("  " + str(change), style=_CHANGE_STYLES[change.kind])


def state_lines(shown: Mapping[str, Any], width: int = 110) -> list[Text]:
    """A whole state: one block per object (or variable)."""
    lines = []
    for raw_address, value in shown.items():
        address = printable(raw_address)
        body = pretty_lines(value, width=width - 4, indent=4)
        if len(body) == 1 and len(address) + len(body[0]) < width:
            lines.append(Text(f"  {address}: {body[0].strip()}"))
        else:
            lines.append(Text(f"  {address}:"))
            lines.extend(Text(line) for line in body)
    return lines


def table_lines(tables: Any) -> list[Text]:
    """kubectl-like tables: a title line, then columns padded to their widest cell."""
    lines = []
    for table in tables:
        columns = [printable(str(c)) for c in table.get("columns", [])]
        rows = [[printable(format_value(cell) if not isinstance(cell, str) else cell) for cell in row]
                for row in table.get("rows", [])]
        widths = [max([len(columns[i])] + [len(r[i]) for r in rows if i < len(r)]) for i in range(len(columns))]
        lines.append(Text(f"  {printable(str(table.get('title', '')))}", style="bold"))
        lines.append(Text("    " + "   ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
                          style="dim"))
        for row in rows:
            lines.append(Text("    " + "   ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()))
    return lines


def initial_lines(step: TraceStep) -> list[Text]:
    """The initial state, quietly: the API objects as kubectl tabulates them, then each component's non-empty
    fields (the whole state when the trace has no tables)."""
    if not step.tables:
        return state_lines(step.shown)
    lines = table_lines(step.tables)
    rest = {address: kept for address, value in step.shown.items()
            if not is_api_object(value) and (kept := essentials(value)) is not None}
    if rest:
        lines.append(Text("  components (what is not empty):", style="bold"))
        lines.extend(state_lines(rest))
    return lines


def why_lines(step: TraceStep) -> list[Text]:
    return [Text(f"  ↳ {printable(line)}", style="blue") for line in step.why]


def explanation_lines(trace: Trace, step: TraceStep) -> list[Text]:
    if step.explanation is None or step.index not in trace.violating_steps:
        return []
    if trace.loop is not None and step.index != trace.loop:
        return []  # a lasso's explanation is printed once, at the loop's first state
    return [Text(f"  ✗ {printable(trace.property_name)}: {printable(step.explanation)}", style="bold red")]


def step_lines(trace: Trace, index: int, full: bool = False) -> list[Text]:
    """The lines of one step: heading, why, then the changes (quietly unless ``full``); step 0 is the state."""
    step = trace.steps[index]
    lines = [step_heading(trace, step)]
    if index == 0:
        lines.extend(state_lines(step.shown) if full else initial_lines(step))
        lines.extend(explanation_lines(trace, step))
        return lines
    lines.extend(why_lines(step))
    changes = diff_states(trace.steps[index - 1].shown, step.shown)
    shown = changes if full else quiet_changes(changes, step.actor)
    lines.extend(change_line(change) for change in shown)
    if not changes:
        lines.append(Text("  (no change)", style="dim"))
    elif not shown:
        lines.append(Text("  (nothing visible changed; --full shows the bookkeeping)", style="dim"))
    lines.extend(explanation_lines(trace, step))
    if full:
        lines.append(Text("  state:", style="dim"))
        lines.extend(state_lines(step.shown))
    return lines


def lasso_lines(trace: Trace) -> list[Text]:
    """After a lasso: the goal that never holds, and each fairness class's part in the loop."""
    lasso = trace.lasso
    if not lasso:
        return []
    lines = []
    seen: dict[str, None] = {}
    for index in trace.violating_steps:
        if trace.steps[index].explanation:
            seen.setdefault(trace.steps[index].explanation or "", None)
    for text in seen:
        lines.append(Text(f"  on the loop: {printable(text)}", "red"))
    classes = lasso.get("fairness") or []
    if classes:
        lines.append(Text("  fair step classes on the loop (why none makes progress):", "bold"))
    for c in classes:
        name, status, detail = (printable(c.get(key)) for key in ("name", "status", "detail"))
        lines.append(Text(f"    {name} ({status}): {detail}"))
    return lines


def loop_lines(trace: Trace, index: int) -> list[Text]:
    """The lasso marks around step ``index``: where the loop starts, and how it ends."""
    if trace.loop is None:
        return []
    last = len(trace.steps) - 1
    lines = []
    if index == trace.loop and trace.loop_closes:
        lines.append(Text(f"── loop: from here on, steps {trace.loop + 1}..{last} repeat forever ──", "bold red"))
    if index == last:
        if trace.loop_closes:
            lines.append(Text(f"↺ back to step {trace.loop}: the state equals step {trace.loop}'s", "bold red"))
        else:
            lines.append(
                Text(f"↺ the behaviour stutters in step {last} forever: no fairness forces another step", "bold red")
            )
        lines.append(Text(f"  {printable(trace.lasso_verdict)}", "red"))
        lines.extend(lasso_lines(trace))
    return lines


def print_counterexample(console: Console, document: Mapping[str, Any]) -> None:
    """`kubespec check`'s counterexample printer (entry point ``kubespec.printers`` ``counterexample``, which
    ``checker.cli`` loads by name): each step of the ITF ``document`` as ``kubespec trace show`` prints it, only
    what changed."""
    trace = from_document(document)
    for index in range(len(trace.steps)):
        for line in step_lines(trace, index):
            console.print(line)


def render_trace(console: Console, trace: Trace, full: bool = False, step: int | None = None) -> None:
    """Print ``trace`` (or one ``step`` of it) to ``console``."""
    lines = header(trace)
    lines.append(Text(""))
    if not trace.steps:
        lines.append(Text("(no states: no reachable state satisfies the property, so there is no trace)", "dim"))
    indices = range(len(trace.steps)) if step is None else [step]
    for index in indices:
        lines.extend(step_lines(trace, index, full=full))
        lines.extend(loop_lines(trace, index))
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False)
