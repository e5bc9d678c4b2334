"""Checkpoints of a running search, and resuming from one (TLC's `-checkpoint` and `-recover`).

A checkpoint is taken between two expansions, so it is consistent: every state it holds either has all its
successors in the graph or waits in the frontier. It holds everything the rest of the search and the verdict
need: the graph (states or fingerprints, parent links, depths, which states are expanded, and, when the model has
liveness properties, every edge with its fairness mask and the fairness classes enabled per state: liveness is
decided on the whole graph at the end, so the graph is the checkpoint), the frontier in order, the counters
(generated, per-action coverage, depth, witnesses found), per-state liveness labels, and the time spent. Resuming
rebuilds the tables from the stored keys and continues the same loop: the same final counts, verdict and trace as
a search that was never stopped (`tests/test_checker_engine.py`).

It is one pickle file, `DIR/checkpoint.pickle`, written to a temporary name, flushed to disk and renamed over the
previous one, so a kill at any moment (even kill -9) leaves the last complete checkpoint; `DIR/checkpoint.json`
says what it holds, for people. The states, actions and their classes must be importable by name (they are
pickled), as they are for the models of `checker/examples`, a `--model FILE.py:NAME` (loaded under a fixed module
name) and the Kubernetes model. What a checkpoint omits: the model itself (resuming loads it again, from `meta`)
and the fingerprint memo (rebuilt as the search goes).
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from collections.abc import Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from checker.errors import InputError
from checker.graph import StateGraph
from checker.storage import DISK

VERSION = 1
FILE = "checkpoint.pickle"


@attrs.define
class Snapshot:
    """What a checkpoint holds (see the module's docstring)."""

    options: dict[str, Any]
    meta: dict[str, Any]
    graph: StateGraph
    frontier: list[tuple[int, Any]]
    generated: int
    max_depth: int
    generated_by: dict[Hashable, int]
    distinct_by: dict[Hashable, int]
    witnessed: set[str]
    goal_bits: list[bytearray]
    premise_bits: list[bytearray]
    elapsed: float


@attrs.define
class Checkpointing:
    """Where and how often to write checkpoints; `meta` says how to load the model again (the command line's
    target and options)."""

    directory: str
    every: float = 300.0
    meta: dict[str, Any] = attrs.field(factory=dict)
    written: int = 0
    last: float = attrs.field(factory=time.perf_counter)


def _graph_state(g: StateGraph) -> dict[str, Any]:
    classes = [cls for cls, _ in sorted(g.tables.items(), key=lambda item: item[1][2])] if g.fingerprints is None \
        else []
    return {"storage": g.storage, "with_edges": g.with_edges, "keys": g.keys, "kinds": g.kinds, "classes": classes,
            "parent": g.parent, "depth": g.depth, "expanded": g.expanded, "edge_lo": g.edge_lo, "edge_hi": g.edge_hi,
            "edge_to": g.edge_to, "edge_mask": g.edge_mask, "enabled": g.enabled}


def _graph_from(d: Mapping[str, Any]) -> StateGraph:
    g = StateGraph(d["with_edges"], d["storage"])
    for name in ("kinds", "parent", "depth", "expanded", "edge_lo", "edge_hi", "edge_to", "edge_mask", "enabled"):
        setattr(g, name, d[name])
    g.keys = d["keys"]
    if g.fingerprints is not None:
        if g.fp_set is not None:
            g.fp_set.update(g.keys)
        else:
            g.fp_table.update(zip(g.keys, range(len(g.keys)), strict=True))
        return g
    tables = [g.table(cls)[0] for cls in d["classes"]]
    kinds = g.kinds
    for i, key in enumerate(g.keys):
        tables[kinds[i]][key] = i
    return g


def save(checkpointing: Checkpointing, snapshot: Snapshot) -> Path:
    """Write a checkpoint atomically; returns its path."""
    directory = Path(checkpointing.directory)
    directory.mkdir(parents=True, exist_ok=True)
    body = {
        "version": VERSION, "options": snapshot.options, "meta": snapshot.meta, "graph": _graph_state(snapshot.graph),
        "frontier": snapshot.frontier, "generated": snapshot.generated, "max_depth": snapshot.max_depth,
        "generated_by": snapshot.generated_by, "distinct_by": snapshot.distinct_by, "witnessed": snapshot.witnessed,
        "goal_bits": snapshot.goal_bits, "premise_bits": snapshot.premise_bits, "elapsed": snapshot.elapsed,
    }
    path = directory / FILE
    tmp = directory / (FILE + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump(body, f, protocol=pickle.HIGHEST_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    about = {"distinct_states": len(snapshot.graph), "generated": snapshot.generated, "queue": len(snapshot.frontier),
             "seconds": round(snapshot.elapsed, 3), "options": snapshot.options, "meta": snapshot.meta,
             "bytes": path.stat().st_size, "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (directory / "checkpoint.json").write_text(json.dumps(about, indent=2, default=str) + "\n")
    checkpointing.written += 1
    checkpointing.last = time.perf_counter()
    DISK["checkpoint"] = path.stat().st_size
    return path


def read_meta(directory: str) -> dict[str, Any]:
    """The `meta` of the checkpoint in `directory` (how to load its model), without reading the graph."""
    about = Path(directory) / "checkpoint.json"
    if not (Path(directory) / FILE).is_file() or not about.is_file():
        raise InputError(f"{directory}: no checkpoint here ({FILE} and checkpoint.json are written by --checkpoint)")
    try:
        meta = json.loads(about.read_text())["meta"]
    except (ValueError, KeyError, OSError) as exc:
        raise InputError(f"{about}: not a checkpoint description ({exc})") from exc
    if not isinstance(meta, dict):
        raise InputError(f"{about}: not a checkpoint description (meta is not an object)")
    return meta


_SAFE_BUILTINS = frozenset({"set", "frozenset", "tuple", "list", "dict", "int", "float", "str", "bytes", "bytearray",
                            "complex", "bool", "slice", "range"})
_SAFE_CALLABLES = {("array", "_array_reconstructor"), ("array", "array"), ("copyreg", "_reconstructor"),
                   ("collections", "OrderedDict"), ("collections", "deque"), ("collections", "Counter"),
                   ("collections", "defaultdict")}


class _Unpickler(pickle.Unpickler):
    """Reads only what a checkpoint holds: containers, arrays, and classes (never functions) from the packages of
    the model, the checker and `immutables`, already imported. A data file must never run code: a crafted file
    cannot name `os.system` or any other callable here."""

    def __init__(self, file: Any, packages: frozenset[str]) -> None:
        super().__init__(file)
        self.packages = packages | {"checker", "immutables", "enum"}

    def find_class(self, module: str, name: str) -> Any:
        if module == "builtins" and name in _SAFE_BUILTINS or (module, name) in _SAFE_CALLABLES:
            return super().find_class(module, name)
        top = module.split(".")[0]
        found = sys.modules.get(module)
        if top in self.packages and found is not None:
            obj: Any = found
            for part in name.split("."):
                obj = getattr(obj, part, None)
            if isinstance(obj, type):
                return obj
        raise pickle.UnpicklingError(f"a checkpoint may not name {module}.{name}")


def load(directory: str, packages: Iterable[str] = ()) -> Snapshot:
    """Read the checkpoint in `directory`. Its states' classes must come from `packages` (the model's top-level
    packages) and be imported already: load the model first."""
    path = Path(directory) / FILE
    try:
        with open(path, "rb") as f:
            body = _Unpickler(f, frozenset(packages)).load()
    except FileNotFoundError as exc:
        raise InputError(f"{directory}: no checkpoint here ({FILE} is written by --checkpoint)") from exc
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as exc:
        raise InputError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(body, dict) or body.get("version") != VERSION:
        raise InputError(f"{path}: not a checkpoint of this version of the checker")
    return Snapshot(body["options"], body["meta"], _graph_from(body["graph"]), body["frontier"], body["generated"],
                    body["max_depth"], body["generated_by"], body["distinct_by"], body["witnessed"],
                    body["goal_bits"], body["premise_bits"], body["elapsed"])


__all__ = ["Checkpointing", "Snapshot", "save", "load", "read_meta"]
