"""Writing a Graphviz graph to a file: its .dot source, or a picture rendered by Graphviz's ``dot``.

Bounds, stated in the errors: a picture (svg, png, pdf) is laid out from at most ``MAX_PICTURE_STATES`` states
(Graphviz's layout grows faster than the graph: 1,000 states of TwoPhase took 7 s and 2,000 took 60 s and 1.1 GB
on the 2-core development machine); the .dot source may be larger. Every string in the graph is cut to
``MAX_STRING`` characters before Graphviz sees it (labels of a few kilobytes already make ``dot`` slow, and its
HTML-like labels must be short). Files are written atomically (checker.files.atomic_write).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import graphviz  # type: ignore[import-untyped]

from checker.errors import InputError
from checker.files import atomic_write
from checker.text import printable

SOURCE_SUFFIXES = (".dot", ".gv")
PICTURE_SUFFIXES = (".svg", ".png", ".pdf")
MAX_PICTURE_STATES = 1_000
"""The most states given to Graphviz's layout for a picture (write .dot for more)."""
MAX_STRING = 4_000
"""The longest string (label, tooltip) put into a graph."""


def clip(text: str, limit: int = MAX_STRING) -> str:
    """``text`` cut to ``limit`` characters, saying so."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dot_text(text: str) -> str:
    """Text for a plain (not HTML-like) Graphviz string: backslashes doubled, so that text from a file cannot form
    an escape (``\\N``, ``\\l``) or end the string (a trailing backslash is a syntax error for dot)."""
    return text.replace("\\", "\\\\")


def _suffix(path: str | os.PathLike[str]) -> str:
    return Path(path).suffix.lower()


def check_format(path: str | os.PathLike[str]) -> None:
    """Refuse an output whose suffix names no format we write, before any work."""
    if _suffix(path) not in SOURCE_SUFFIXES + PICTURE_SUFFIXES:
        known = ", ".join(SOURCE_SUFFIXES + PICTURE_SUFFIXES)
        raise InputError(f"{os.fspath(path)}: unknown picture format {_suffix(path) or '(none)'!r}; use one of {known}")


def check_picture_size(path: str | os.PathLike[str], states: int, what: str) -> None:
    """Refuse, before any work, a picture of more states than Graphviz can lay out in reasonable time and memory."""
    check_format(path)
    if _suffix(path) in PICTURE_SUFFIXES and states > MAX_PICTURE_STATES:
        raise InputError(
            f"{what}: {states:,} states is more than a picture lays out (at most {MAX_PICTURE_STATES:,}: Graphviz "
            f"needs minutes and gigabytes beyond that); write -o FILE.dot for the source"
        )


def render_bytes(graph: graphviz.Digraph, fmt: str) -> bytes:
    """The picture in ``fmt`` (svg, png, pdf), rendered by Graphviz's ``dot`` program with the graph's layout
    engine. An interrupt (Ctrl-C, SIGTERM: KeyboardInterrupt) kills ``dot`` before it propagates."""
    command = ["dot", f"-K{graph.engine}", f"-T{fmt}"]
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise InputError(
            "Graphviz's dot is not installed (Debian/Ubuntu: apt-get install graphviz); write -o FILE.dot instead"
        ) from None
    try:
        picture, errors = process.communicate(graph.source.encode("utf-8"))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        message = errors.decode(errors="replace").strip().splitlines()
        reason = message[0] if message else f"exit status {process.returncode}"
        raise InputError(f"Graphviz's dot failed: {printable(reason)}")
    return picture


def svg_text(graph: graphviz.Digraph) -> str:
    """The picture as SVG text, for embedding in HTML."""
    return render_bytes(graph, "svg").decode("utf-8", errors="replace")


def write(graph: graphviz.Digraph, path: str | os.PathLike[str]) -> Path:
    """Write ``graph`` to ``path``, in the format its suffix names (.dot/.gv source, .svg/.png/.pdf picture)."""
    check_format(path)
    suffix = _suffix(path)
    data = graph.source.encode("utf-8") if suffix in SOURCE_SUFFIXES else render_bytes(graph, suffix[1:])
    return atomic_write(path, data, what="picture")
