"""Resolving what `kubespec check` is asked to check into a model.

A target is either a Python model (`--model FILE.py:NAME` or `module:NAME`, where NAME is a Model subclass made
with no arguments, a zero-argument factory or an instance) or something a registered loader understands (the
Kubernetes spec registers one for scenario files). Loaders are found through the `kubespec.loaders` entry points,
so this generic package never imports the layers above it. A model's identity (JSON) is enough to rebuild it,
which is how trace files are replayed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Protocol

import attrs
import click

from checker.errors import InputError, ModelError
from checker.model import Model


@attrs.frozen
class Loaded:
    """A model ready to check, with what is needed to rebuild it and the options it asks for."""

    model: Model
    identity: Mapping[str, Any]
    options: Mapping[str, Any] = attrs.field(factory=dict)
    summary: str = ""


class TargetLoader(Protocol):
    """A source of models for `kubespec check TARGET`."""

    params: Sequence[Any]  # click.Parameter objects: extra options of `kubespec check`

    def accepts(self, target: str | None) -> bool: ...

    def load(self, target: str | None, params: Mapping[str, Any]) -> Loaded: ...


def loaders() -> dict[str, TargetLoader]:
    """The registered loaders, by entry point name, in name order."""
    found: dict[str, TargetLoader] = {}
    for ep in sorted(entry_points(group="kubespec.loaders"), key=lambda e: e.name):
        try:
            found[ep.name] = ep.load()
        except ImportError:
            continue  # a layer that is not installed (or not written yet) contributes nothing
    return found


def load_object(ref: str, option: str = "--model", module_prefix: str = "_kubespec_model_") -> tuple[Any, str]:
    """The object NAME of `FILE.py:NAME` (the file imported as a module named ``module_prefix`` + its stem) or
    `module:NAME`, and the reference as an identity records it (a file relative to the working directory). Every
    error is an `InputError` (or a `ModelError` for a module calling sys.exit) naming ``option`` and ``ref``:
    `--model` here, `kubespec graph --view` for a view (``diagrams.quotient.load_view``)."""
    if ":" not in ref:
        raise InputError(f"{option} {ref!r}: expected FILE.py:NAME or module:NAME")
    where, name = ref.rsplit(":", 1)
    if where.endswith(".py"):
        path = Path(where)
        if not path.is_file():
            raise InputError(f"{option} {ref!r}: no file {where}")
        spec = importlib.util.spec_from_file_location(f"{module_prefix}{path.stem}", path)
        if spec is None or spec.loader is None:
            raise InputError(f"{option} {ref!r}: cannot import {where}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
        except SystemExit as exc:
            raise ModelError(f"{option} {ref!r}: importing {where} called sys.exit({exc.code!r})") from None
        except Exception as exc:
            raise InputError(f"{option} {ref!r}: importing {where} raised {type(exc).__name__}: {exc}") from exc
        identity_target = relative_path(path) + ":" + name
    else:
        try:
            module = importlib.import_module(where)
        except SystemExit as exc:
            raise ModelError(f"{option} {ref!r}: importing {where} called sys.exit({exc.code!r})") from None
        except ImportError as exc:
            raise InputError(f"{option} {ref!r}: no module {where} ({exc})") from exc
        identity_target = ref
    if not hasattr(module, name):
        raise InputError(f"{option} {ref!r}: {where} has no {name}")
    return getattr(module, name), identity_target


def load_python(ref: str) -> Loaded:
    """Load `FILE.py:NAME` or `module:NAME`."""
    found, identity_target = load_object(ref)
    model = _instantiate(found, ref)
    return Loaded(model, {"loader": "python", "target": identity_target}, {}, f"model {ref}")


def _instantiate(obj: Any, ref: str) -> Model:
    try:
        made = obj() if isinstance(obj, type) or callable(obj) and not hasattr(obj, "successors") else obj
    except SystemExit as exc:
        raise ModelError(f"--model {ref!r}: making the model called sys.exit({exc.code!r})") from None
    except Exception as exc:
        raise InputError(f"--model {ref!r}: making the model raised {type(exc).__name__}: {exc}") from exc
    for attr in ("init_states", "successors"):
        if not callable(getattr(made, attr, None)):
            raise InputError(f"--model {ref!r}: {type(made).__name__} is not a model (it has no {attr}())")
    return made  # type: ignore[no-any-return]


def load_target(target: str | None, model_ref: str | None, params: Mapping[str, Any],
                default: Callable[[], Loaded] | None = None) -> Loaded:
    """Resolve a check target: a Python model, a loader's target, or (with neither) the default model."""
    if model_ref is not None:
        if target is not None:
            raise InputError("give either a TARGET or --model, not both")
        return load_python(model_ref)
    for loader in loaders().values():
        if loader.accepts(target):
            return loader.load(target, params)
    if target is None and default is not None:
        return default()
    if target is not None and ":" in target:
        return load_python(target)
    raise InputError(f"unknown check target {target!r}: not a scenario file, a built-in scenario, or FILE.py:NAME")


def relative_path(path: str | os.PathLike[str]) -> str:
    """``path`` as recorded in a model's identity: relative to the working directory (a trace file names no
    absolute local path), or absolute only when it is on another drive."""
    try:
        return os.path.relpath(path)
    except ValueError:
        return os.fspath(path)


def _identity_params(loader: TargetLoader, raw: Any) -> dict[str, Any]:
    """A recorded identity's loader options, converted by the loader's own option types as the command line would."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError("#meta.source.params: expected an object")
    by_name = {param.name: param for param in loader.params}
    ctx = click.Context(click.Command("kubespec"))
    params: dict[str, Any] = {}
    for name, value in raw.items():
        param = by_name.get(name)
        if param is None:
            raise InputError(f"#meta.source.params.{name}: not an option of this loader")
        if value is None or value == []:
            params[name] = value
            continue
        try:
            params[name] = param.type_cast_value(ctx, value)
        except (click.BadParameter, TypeError, ValueError) as error:
            raise InputError(f"#meta.source.params.{name}: {error}") from None
    return params


def load_identity(identity: Mapping[str, Any], model_ref: str | None = None) -> Loaded:
    """Rebuild a model from the identity recorded with it (in a trace file, say).

    A recorded identity is data: it may name a registered loader's target (a scenario), never Python code. A Python
    model is loaded only from ``model_ref``, which the user gives on the command line (``--model``).
    """
    if model_ref is not None:
        return load_python(model_ref)
    kind = identity.get("loader")
    if kind == "python":
        target = identity.get("target")
        made_by = f" (the trace says it was made by {target!r})" if isinstance(target, str) else ""
        raise InputError(
            "#meta.source: the trace names a Python model; a trace file never runs code: give the model on the "
            f"command line with --model FILE.py:NAME{made_by}"
        )
    found = loaders()
    if not isinstance(kind, str) or kind not in found:
        raise InputError(f"#meta.source.loader: unknown loader {kind!r} (known: {', '.join(found) or 'none'})")
    loader = found[kind]
    target = identity.get("target")
    if target is not None and not isinstance(target, str):
        raise InputError("#meta.source.target: expected a string")
    if not loader.accepts(target):
        raise InputError(f"#meta.source.target: {target!r} is not a target of the {kind} loader")
    params = _identity_params(loader, identity.get("params"))
    try:
        return loader.load(target, params)
    except InputError as error:
        raise InputError(_recorded_field(loader, str(error))) from None


def _recorded_field(loader: TargetLoader, message: str) -> str:
    """A loader's message about its command-line options (``--variant: ...``) reworded to name the recorded field
    (``#meta.source.params.variant: ...``): the user gave no such option, the trace file did."""
    for param in loader.params:
        for option in getattr(param, "opts", ()):
            if message.startswith(f"{option}:"):
                return f"#meta.source.params.{param.name}:{message[len(option) + 1 :]}"
    return f"#meta.source.target: {message}"
