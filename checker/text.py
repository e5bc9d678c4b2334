"""Text from inputs made safe to print: control characters escaped.

Names, descriptions, comments and action labels come from files (traces, scenarios, manifests, dumps) that anyone
may have written. Printed raw, an escape sequence in them could move the cursor, retitle the terminal, or forge a
line such as a verdict; a bidirectional override could reorder what is shown. Every character that Python does not
call printable (C0 and C1 controls, DEL, format characters such as U+202E, line and paragraph separators, unassigned
code points) is shown as its Python escape (``\\x1b``, ``\\u202e``), so the text reads as one line.
"""

from __future__ import annotations


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: object) -> str:
    """``str(text)`` with every non-printable character (spaces kept) replaced by its escape."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(char if char.isprintable() else _escape(char) for char in value)
