"""Errors that the command line turns into one line and an exit code, never a traceback."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: a malformed file, an unknown name or field, an impossible bound. Exit code 2.

    The message is one line that names the problem and where it is.
    """


class ModelError(Exception):
    """The model under check misbehaved: it raised, or a predicate returned something other than a bool.

    Exit code 2: the verdict would be meaningless. The message names the model function and the cause.
    """
