"""The README's Python examples run as written (each ```python block, in order, in one namespace per file)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("doc", ["README.md"])
def test_python_examples_run(doc):
    text = (ROOT / doc).read_text()
    blocks = BLOCK.findall(text)
    assert blocks, f"{doc} has no Python example"
    namespace: dict = {"__name__": f"readme_{doc}"}
    for code in blocks:
        exec(compile(code, doc, "exec"), namespace)
