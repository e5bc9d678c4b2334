"""Reading multi-document Kubernetes YAML, with one-line errors that say where the text is malformed."""

from __future__ import annotations

from typing import Any

import yaml

from checker.errors import InputError


def yaml_documents(text: str, source: str) -> list[Any]:
    """Every document of `text` in order (empty documents as None, so numbering matches the file)."""
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputError(f"{source}:{at} malformed YAML: {problem}") from None
