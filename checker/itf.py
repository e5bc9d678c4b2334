"""Trace files: counterexamples in the Informal Trace Format (ITF), with kubespec's metadata.

ITF is Apalache's JSON trace format (ADR-015, https://apalache-mc.org/docs/adr/015adr-trace.html), also read and
written by Quint: a document ``{"#meta", "vars", "states", "loop"}`` whose states map each variable to a value built
from strings, booleans, integers (``{"#bigint": "..."}`` beyond 2**53), lists, records, ``{"#tup": [...]}``,
``{"#set": [...]}`` and ``{"#map": [[k, v], ...]}``. kubespec adds, in ITF's free-form ``#meta`` objects, what is
needed to read a counterexample as a story and to replay it: the model's identity and options, the property, and per
state the action that led to it, its actor, a one-line description and the model's human view. The format is
documented in docs/traces.md; this module is generic (any model), which is why it lives in the checker.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from checker.encoding import fingerprint
from checker.errors import InputError
from checker.files import atomic_write, read_text
from checker.text import printable

FORMAT = "kubespec-trace"
FORMAT_VERSION = 1
FORMAT_DESCRIPTION = (
    "ITF (https://apalache-mc.org/docs/adr/015adr-trace.html) with kubespec metadata in #meta, see docs/traces.md"
)
STATE_VAR = "state"
"""The one ITF variable of a model whose states are not attrs records."""

_MAX_JSON_INT = 2**53 - 1

JSON = Any


def _sort_key(encoded: JSON) -> str:
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode(value: Any) -> JSON:
    """The ITF encoding of a Python value; deterministic (sets and maps are sorted by the JSON text of their parts).

    attrs instances become records (fields in declaration order), tuples ``{"#tup"}``, lists JSON lists,
    sets ``{"#set"}``, dicts and immutables.Map ``{"#map"}``, enums their name, integers beyond 2**53
    ``{"#bigint"}``. ``None`` becomes Quint's variant ``{"tag": "None", "value": {"#tup": []}}`` (JSON null is not
    an ITF value); anything else ``{"#unserializable": repr(value)}``, as Quint writes it.
    """
    if value is None:
        return {"tag": "None", "value": {"#tup": []}}
    if isinstance(value, bool | str):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, int):
        return value if -_MAX_JSON_INT <= value <= _MAX_JSON_INT else {"#bigint": str(value)}
    if attrs.has(type(value)):
        return {field.name: encode(getattr(value, field.name)) for field in attrs.fields(type(value))}
    if isinstance(value, tuple):
        return {"#tup": [encode(item) for item in value]}
    if isinstance(value, list):
        return [encode(item) for item in value]
    if isinstance(value, set | frozenset):
        return {"#set": sorted((encode(item) for item in value), key=_sort_key)}
    if isinstance(value, Mapping):
        pairs = [[encode(key), encode(item)] for key, item in value.items()]
        return {"#map": sorted(pairs, key=lambda pair: _sort_key(pair[0]))}
    return {"#unserializable": repr(value)}


def encode_action(action: Any) -> JSON:
    """An action's encoding: attrs actions as Quint variants ``{"tag": ClassName, "value": record}``.

    The tag keeps actions of different classes with equal fields apart (replay compares these encodings).
    """
    if action is not None and attrs.has(type(action)):
        return {"tag": type(action).__name__, "value": encode(action)}
    return None if action is None else encode(action)


def state_vars(state: Any) -> list[str]:
    """ITF's ``vars``: the fields of an attrs state, else the single variable ``state``."""
    if attrs.has(type(state)):
        return [field.name for field in attrs.fields(type(state))]
    return [STATE_VAR]


def encode_state(state: Any) -> dict[str, JSON]:
    """A state as ITF variables (see :func:`state_vars`), without its ``#meta``."""
    if attrs.has(type(state)):
        return {field.name: encode(getattr(state, field.name)) for field in attrs.fields(type(state))}
    return {STATE_VAR: encode(state)}


def plain(value: Any) -> JSON:
    """Plain JSON for metadata (options, stats, views): attrs and mappings as objects, sequences as lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if attrs.has(type(value)):
        return {field.name: plain(getattr(value, field.name)) for field in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((plain(item) for item in value), key=_sort_key)
    if isinstance(value, Sequence):
        return [plain(item) for item in value]
    return repr(value)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _call(model: Any, name: str, argument: Any, default: Any) -> Any:
    method = getattr(model, name, None)
    return default if method is None else method(argument)


def _describe_violation(property_name: str, kind: str, steps: int, loop: int | None) -> str:
    """One line for the document's ``#meta.description``."""
    if kind == "deadlock":
        return f"deadlock: no action is enabled after {steps} step(s)"
    if kind == "always":
        return f"invariant {property_name} is violated after {steps} step(s)"
    if kind == "sometimes":
        return f"{property_name}: no reachable state satisfies it"
    if loop is not None:
        return f"{kind} property {property_name} is violated: a fair behaviour that loops from step {loop} forever"
    return f"{kind} property {property_name} is violated"


def trace_document(
    result: Any, model: Any, identity: Mapping[str, Any] | None, options: Mapping[str, Any]
) -> dict[str, JSON]:
    """The ITF document of ``result``'s counterexample, with kubespec's metadata (see docs/traces.md).

    ``identity`` says how to rebuild the model (``{"loader": "python", "target": "file.py:Name"}`` or a scenario
    loader's identity); ``None`` makes a trace that can be shown but not replayed.
    """
    violation = result.violation
    if violation is None:
        raise ValueError("the result has no violation: there is no counterexample to write")
    # A `sometimes` property that no reachable state satisfies has no trace: the document then has no states.
    trace = tuple(violation.trace)
    variables = state_vars(trace[0].state) if trace else []
    states = []
    elapsed = Elapsed() if callable(getattr(model, "duration", None)) else None
    for index, step in enumerate(trace):
        action = step.action
        view = _call(model, "display", step.state, None)
        meta: dict[str, JSON] = {
            "index": index,
            "action": encode_action(action),
            "actor": None if action is None else _call(model, "actor", action, getattr(action, "actor", None)),
            "description": "initial state" if action is None else _one_line(_call(model, "describe", action, action)),
            "view": None if view is None else plain(view),
            "fingerprint": fingerprint(step.state),
        }
        meta.update(_explanations(model, trace, index, violation))
        if elapsed is not None:
            if action is not None:
                elapsed = elapsed.after(model.duration(action))
            meta["elapsed"] = elapsed.json()
        states.append({"#meta": meta, **encode_state(step.state)})
    loop = violation.loop_start
    document: dict[str, JSON] = {
        "#meta": {
            "format": FORMAT,
            "format-version": FORMAT_VERSION,
            "format-description": FORMAT_DESCRIPTION,
            "source": None if identity is None else plain(identity),
            "options": plain(options),
            "property": violation.property,
            "kind": violation.kind,
            "description": _describe_violation(violation.property, violation.kind, len(trace) - 1, loop),
            "status": getattr(result, "status", "violation"),
            "stats": plain(getattr(result, "stats", None)),
        },
        "vars": variables,
        "states": states,
    }
    lanes = getattr(model, "lanes", None)
    if callable(lanes):
        document["#meta"]["lanes"] = [str(lane) for lane in lanes()]  # the model's components, for diagrams
    if loop is not None:
        document["loop"] = loop
        document["#meta"]["lasso"] = lasso_meta(model, trace, loop, violation.property)
    return document


@attrs.frozen
class Elapsed:
    """Model time since the initial state (``#meta.elapsed``): the steps' ``model.duration(action)`` summed, an
    int being ms, a string an unmeasured period by name (counted in ``plus``), None no time."""

    ms: int = 0
    plus: tuple[tuple[str, int], ...] = ()

    def after(self, duration: Any) -> Elapsed:
        if isinstance(duration, int) and not isinstance(duration, bool) and duration >= 0:
            return Elapsed(self.ms + duration, self.plus)
        if isinstance(duration, str) and duration:
            counts = dict(self.plus)
            counts[duration] = counts.get(duration, 0) + 1
            return Elapsed(self.ms, tuple(counts.items()))
        return self

    def json(self) -> dict[str, JSON]:
        """``{"ms": 340000, "plus": {"resync period": 1}}`` (``plus`` only when some period is unmeasured)."""
        out: dict[str, JSON] = {"ms": self.ms}
        if self.plus:
            out["plus"] = dict(self.plus)
        return out


def _lines(value: Any) -> list[str]:
    return [_one_line(line) for line in value if str(line).strip()] if value else []


def _explanations(model: Any, trace: Sequence[Any], index: int, violation: Any) -> dict[str, JSON]:
    """The optional ``#meta`` fields a model's hooks give (docs/traces.md): ``why`` (``model.why(before, action,
    after)``: what the actor read and what its requests answered), ``tables`` (``model.tables(state)``: a
    kubectl-like tabulation) and, at the violating state or along a lasso's loop, ``explanation``
    (``model.explain(property, state)``: what breaks the property there)."""
    out: dict[str, JSON] = {}
    step = trace[index]
    why = getattr(model, "why", None)
    if why is not None and index > 0:
        out["why"] = _lines(why(trace[index - 1].state, step.action, step.state))
    kind = step_kind(model, step.action)
    if kind:
        out["kind"] = kind
    tables = getattr(model, "tables", None)
    if tables is not None:
        out["tables"] = plain(tables(step.state))
    explain = getattr(model, "explain", None)
    loop = violation.loop_start
    violating = index >= loop if loop is not None else (index == len(trace) - 1 and violation.kind != "deadlock")
    if explain is not None and violating and violation.kind != "sometimes":
        text = explain(violation.property, step.state)
        if text:
            out["explanation"] = _one_line(text)
    return out


def step_kind(model: Any, action: Any) -> str | None:
    """What kind of step ``action`` is, as the model declares it: ``model.step_kind(action)``, else the action's
    ``step_kind`` attribute (a class attribute of the Kubernetes model's actions: "delivery", "reconcile", ...);
    None when the model declares none."""
    if action is None:
        return None
    method = getattr(model, "step_kind", None)
    kind = method(action) if callable(method) else getattr(action, "step_kind", None)
    return kind if isinstance(kind, str) and kind else None


def lasso_meta(model: Any, trace: Sequence[Any], loop: int, property_name: str) -> dict[str, JSON]:
    """What a lasso shows, for people: the goal that never holds on the loop, and for each fairness class of the
    model whether it is enabled in the loop's states (``successors`` that change the state, or a class the
    model's reduction hid: ``hidden_fairness``) and which of the loop's steps take it, with the reason none of
    them makes the goal hold (taken but without effect on the goal, or not enabled all along the loop)."""
    last = len(trace) - 1
    states = list(range(loop, last)) if loop < last else [last]
    steps = list(range(loop + 1, last + 1)) if loop < last else []
    canonical = getattr(model, "canonical", lambda s: s)
    hidden = getattr(model, "hidden_fairness", lambda s: ())
    enabled_sets: dict[int, set[str]] = {}
    for i in states:
        state = trace[i].state
        names: set[str] = set(hidden(state))
        for action, target in model.successors(state):
            if canonical(target) == state:
                continue  # a stuttering step neither takes nor enables
            names.update(f.name for f in getattr(model, "fairness", ()) if f.selects(action))
        enabled_sets[i] = names
    classes = []
    for f in getattr(model, "fairness", ()):
        enabled = [i for i in states if f.name in enabled_sets[i]]
        taken = [i for i in steps if f.selects(trace[i].action) and trace[i].state != trace[i - 1].state]
        if taken:
            status = "taken"
            detail = (f"taken at step(s) {', '.join(map(str, taken))}, but its steps do not make "
                      f"{property_name}'s goal hold")
        elif not enabled:
            status = "disabled"
            detail = "never enabled on the loop: it has nothing to do there"
        elif len(enabled) < len(states) and f.kind == "weak":
            status = "intermittent"
            off = [i for i in states if i not in enabled]
            detail = (f"enabled at step(s) {', '.join(map(str, enabled))} but not at {', '.join(map(str, off))}: "
                      "weak fairness only forces a step that stays enabled")
        else:
            status = "unfair"
            detail = "enabled on the loop and never taken: this lasso is not fair for it"
        classes.append({"name": f.name, "kind": f.kind, "status": status, "enabled_at": enabled, "taken_at": taken,
                        "detail": detail})
    return {"goal": f"{property_name}'s goal never holds for good on the loop (states {states[0]}..{states[-1]})",
            "states": states, "fairness": classes}


def write_trace(path: str | os.PathLike[str], document: Mapping[str, Any]) -> None:
    """Write ``document`` as indented JSON, atomically (checker.files.atomic_write: a reader never sees half a file,
    and no symlink planted in the directory is followed); an unwritable path raises InputError (one line)."""
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"), what="trace file")


def _check(condition: bool, path: str | os.PathLike[str], problem: str) -> None:
    if not condition:
        raise InputError(f"{os.fspath(path)}: not a trace file: {problem}")


def validate(document: Any, path: str | os.PathLike[str] = "<trace>") -> dict[str, JSON]:
    """Check that ``document`` is an ITF trace (kubespec's or another tool's); raise InputError (one line) if not."""
    _check(isinstance(document, dict), path, "the top level is not a JSON object")
    meta = document.get("#meta", {})
    _check(isinstance(meta, dict), path, "#meta is not an object")
    if meta.get("format") == FORMAT:
        version = meta.get("format-version")
        _check(isinstance(version, int), path, "#meta.format-version is missing")
        if version > FORMAT_VERSION:
            raise InputError(
                f"{os.fspath(path)}: trace format version {version} is newer than this kubespec reads "
                f"({FORMAT_VERSION}); upgrade kubespec"
            )
    for field in ("property", "kind", "description"):
        _check(meta.get(field) is None or isinstance(meta[field], str), path, f"#meta.{field} is not a string")
    for field in ("options", "stats"):
        _check(meta.get(field) is None or isinstance(meta[field], dict), path, f"#meta.{field} is not an object")
    source = meta.get("source")
    _check(source is None or isinstance(source, dict | str), path, "#meta.source is not an object")
    variables = document.get("vars")
    _check(
        isinstance(variables, list) and all(isinstance(name, str) for name in variables),
        path,
        "'vars' is missing or not a list of names",
    )
    states = document.get("states")
    _check(isinstance(states, list), path, "'states' is missing or not a list")
    _check(len(states) > 0 or meta.get("kind") == "sometimes", path, "'states' is empty")
    for index, state in enumerate(states):
        _check(isinstance(state, dict), path, f"states[{index}] is not an object")
        missing = [name for name in variables if name not in state]
        _check(not missing, path, f"states[{index}] lacks variable(s) {printable(', '.join(missing))}")
        state_meta = state.get("#meta", {})
        _check(isinstance(state_meta, dict), path, f"states[{index}].#meta is not an object")
        for field in ("actor", "description"):
            value = state_meta.get(field)
            _check(value is None or isinstance(value, str), path, f"states[{index}].#meta.{field} is not a string")
        view = state_meta.get("view")
        _check(view is None or isinstance(view, dict), path, f"states[{index}].#meta.view is not an object")
    loop = document.get("loop")
    _check(
        loop is None or (isinstance(loop, int) and not isinstance(loop, bool) and 0 <= loop < len(states)),
        path,
        f"'loop' must be a state index below {len(states)}",
    )
    valid: dict[str, JSON] = document
    return valid


MAX_DEPTH = 100
"""The deepest nesting of JSON values read in a trace (kubespec writes about 12; a deeper file is refused)."""
_MAX_INT_DIGITS = 400


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits (at most {_MAX_INT_DIGITS} are read)")
    return int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth_at_most(value: Any, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` levels of lists and objects (iteratively: no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return False
        pending.extend((child, depth + 1) for child in children)
    return True


def parse_trace(text: str, path: str | os.PathLike[str] = "<trace>") -> dict[str, JSON]:
    """Parse and validate a trace's JSON text; anything else raises InputError (one line naming ``path``)."""
    try:
        document = json.loads(text, parse_int=_parse_int, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{os.fspath(path)}:{error.lineno}: not a trace file: invalid JSON at line {error.lineno}: {error.msg}"
        ) from None
    except ValueError as error:
        raise InputError(f"{os.fspath(path)}: not a trace file: {error}") from None
    except RecursionError:
        raise InputError(f"{os.fspath(path)}: not a trace file: values nested deeper than {MAX_DEPTH} levels") from None
    if not _depth_at_most(document, MAX_DEPTH):
        raise InputError(f"{os.fspath(path)}: not a trace file: values nested deeper than {MAX_DEPTH} levels")
    return validate(document, path)


def read_trace(path: str | os.PathLike[str]) -> dict[str, JSON]:
    """Read and validate a trace file; a missing, special, oversized, corrupt or non-trace file raises InputError
    (one line)."""
    return parse_trace(read_text(path, what="trace file"), path)
