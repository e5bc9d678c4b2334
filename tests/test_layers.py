"""The layers' import rules (docs/spec.md, "Layout"): the checker knows nothing above it, the meaning never
imports the reductions, and no module-level import cycle exists among the project's packages."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("checker", "spec", "traces", "diagrams")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """Modules of the project that ``path`` imports (with ``top_level_only``, only those imported when the module
    is loaded: not inside functions, not under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = True
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                inner = True
            if not (top_level_only and nested):
                if isinstance(child, ast.Import):
                    out.update(a.name for a in child.names)
                elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                    out.add(child.module)
                    out.update(f"{child.module}.{a.name}" for a in child.names)
            visit(child, inner)

    visit(tree, False)
    modules = {_module(p) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    return {m for m in out if m in modules}


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_the_checker_imports_nothing_above_it() -> None:
    for path in _files("checker"):
        above = {m for m in _imports(path, top_level_only=False) if not m.startswith("checker")}
        assert not above, f"{path.relative_to(ROOT)} imports {sorted(above)}"


MC = {"spec.model", "spec.cli", "spec.scenario", "spec.testing"}
"""The modules that compose the meaning with the reductions (TLA+'s MC modules) or read the scenario's switches."""


def test_the_meaning_never_imports_the_reductions() -> None:
    for path in _files("spec"):
        module = _module(path)
        if module.startswith("spec.reduction") or module in MC:
            continue
        reductions = {m for m in _imports(path, top_level_only=False) if m.startswith("spec.reduction")}
        assert not reductions, f"{module} imports {sorted(reductions)}"


def test_no_module_level_import_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in _files(package):
            module = _module(path)
            deps = set()
            for m in _imports(path, top_level_only=True):
                # ``from spec import faults`` names the module spec.faults; ``from spec.state import X`` the module.
                deps.add(m)
            graph[module] = {d for d in deps if d != module}
    modules = set(graph)
    graph = {m: {d for d in ds if d in modules and not m.startswith(d + ".")} for m, ds in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)


def test_traces_never_import_diagrams_nor_the_model() -> None:
    """``diagrams`` draws what ``traces`` reads, never the reverse; neither imports the Kubernetes model (``spec``),
    which reaches them only through the model's hooks (display, why, explain, tables, views)."""
    for package, forbidden in (("traces", ("diagrams", "spec")), ("diagrams", ("spec",))):
        for path in _files(package):
            above = {m for m in _imports(path, top_level_only=False) if m.split(".")[0] in forbidden}
            assert not above, f"{path.relative_to(ROOT)} imports {sorted(above)}"
