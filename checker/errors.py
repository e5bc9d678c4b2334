"""Errors that the command line turns into one line and an exit code, never a traceback."""

from __future__ import annotations

from checker.text import printable


class InputError(Exception):
    """Bad input: a malformed file, an unknown name or field, an impossible bound. Exit code 2.

    The message is one line that names the problem and where it is. What it quotes from the input (a field name,
    a value) may hold a newline or a control character: the message is made printable here, once for every raiser,
    so no quoted input can break the line or forge another (``checker.text``).
    """

    def __init__(self, message: object = "", *rest: object) -> None:
        super().__init__(printable(message), *rest)


class ModelError(Exception):
    """The model under check misbehaved: it raised, or a predicate returned something other than a bool.

    Exit code 2: the verdict would be meaningless. The message names the model function and the cause.
    """
