"""Writing a Graphviz graph to a file: its .dot source, or a picture rendered by Graphviz's ``dot``."""

from __future__ import annotations

import os
from pathlib import Path

import graphviz  # type: ignore[import-untyped]

from checker.errors import InputError

SOURCE_SUFFIXES = (".dot", ".gv")
PICTURE_SUFFIXES = (".svg", ".png", ".pdf")


def render_bytes(graph: graphviz.Digraph, fmt: str) -> bytes:
    """The picture in ``fmt`` (svg, png, pdf), rendered by the ``dot`` program."""
    try:
        picture: bytes = graph.pipe(format=fmt)
        return picture
    except graphviz.ExecutableNotFound:
        raise InputError(
            "Graphviz's dot is not installed (Debian/Ubuntu: apt-get install graphviz); write -o FILE.dot instead"
        ) from None
    except graphviz.CalledProcessError as error:
        message = (error.stderr or b"").decode(errors="replace").strip().splitlines()
        raise InputError(f"Graphviz's dot failed: {message[0] if message else error}") from None


def svg_text(graph: graphviz.Digraph) -> str:
    """The picture as SVG text, for embedding in HTML."""
    return render_bytes(graph, "svg").decode("utf-8")


def write(graph: graphviz.Digraph, path: str | os.PathLike[str]) -> Path:
    """Write ``graph`` to ``path``, in the format its suffix names (.dot/.gv source, .svg/.png/.pdf picture)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in SOURCE_SUFFIXES:
        data = graph.source.encode("utf-8")
    elif suffix in PICTURE_SUFFIXES:
        data = render_bytes(graph, suffix[1:])
    else:
        known = ", ".join(SOURCE_SUFFIXES + PICTURE_SUFFIXES)
        raise InputError(f"{os.fspath(path)}: unknown picture format {suffix or '(none)'!r}; use one of {known}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return target
