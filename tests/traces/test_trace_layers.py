"""`diagrams` imports `traces`, never the reverse; the checker imports neither (issue 17)."""

from __future__ import annotations

import subprocess
import sys


def test_traces_never_import_diagrams() -> None:
    code = (
        "import sys, pkgutil, importlib, traces\n"
        "for m in pkgutil.iter_modules(traces.__path__): importlib.import_module(f'traces.{m.name}')\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'diagrams'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
