import re
root='/work/wt/shape/'
def edit(p, pairs):
    s=open(root+p).read()
    for a,b in pairs:
        assert a in s, (p, a)
        s=s.replace(a,b)
    open(root+p,'w').write(s)

edit('benchmarks/hostile.py', [
 ('from collections.abc import Callable\n', 'from collections.abc import Callable\n'),
 ('from pathlib import Path\n\nimport attrs', 'from pathlib import Path\nfrom typing import Any\n\nimport attrs'),
 ('''def scenario_with(old: str, new: str) -> Callable[[Path], None]:
    return lambda d: (d / "s.yaml").write_text(SCENARIO.replace(old, new, 1))''','''def scenario_with(old: str, new: str) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        (d / "s.yaml").write_text(SCENARIO.replace(old, new, 1))

    return make'''),
])
s=open(root+'benchmarks/hostile.py').read()
s=re.sub(r'Callable\[\[dict\], None\]', 'Callable[[dict[str, Any]], None]', s)
s=s.replace('def edit(document: dict) -> None:', 'def edit(document: dict[str, Any]) -> None:')
s=s.replace('def forge(document: dict) -> None:', 'def forge(document: dict[str, Any]) -> None:')
open(root+'benchmarks/hostile.py','w').write(s)
edit('benchmarks/bench_checker.py', [
 ('import time\n', 'import time\nfrom typing import Any\n'),
 ('def _load(ref: str, arg: int):', 'def _load(ref: str, arg: int) -> Any:'),
 ('    figures = json.loads(out.stdout.strip().splitlines()[-1])', '    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])'),
])
edit('checker/cli.py', [
 ('''    This module is the command line's composition root, so it may use the trace renderer of the `traces`
    package when it is installed; the checker library itself never does.
    """
    try:
        from traces.document import from_document
        from traces.render import step_lines
    except ImportError:
        return None''','''    The renderer is the one registered under the entry points `kubespec.traces` (`document`, `step_lines`: the
    `traces` package registers its own), loaded by name as the subcommands are, so the checker imports nothing
    above it; without one, counterexamples are printed by the checker's own report.
    """
    renderers = {ep.name: ep for ep in entry_points(group="kubespec.traces")}
    try:
        from_document = renderers["document"].load()
        step_lines = renderers["step_lines"].load()
    except (KeyError, ImportError):
        return None'''),
])
edit('pyproject.toml', [
 ('''[project.entry-points."kubespec.loaders"]''','''# The trace renderer the checker's command line prints counterexamples with (checker.cli._trace_printer).
[project.entry-points."kubespec.traces"]
document = "traces.document:from_document"
step_lines = "traces.render:step_lines"

[project.entry-points."kubespec.loaders"]'''),
 ('packages = ["checker", "spec", "traces", "diagrams"]','packages = ["checker", "spec", "traces", "diagrams", "benchmarks"]'),
])
edit('tests/test_layers.py', [
 ('''    for path in _files("checker"):
        if path.name == "cli.py":
            continue  # the command line is the composition root (docs/checker.md): it may render traces
        above''','''    for path in _files("checker"):
        above'''),
])
