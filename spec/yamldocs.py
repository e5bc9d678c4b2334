"""Reading Kubernetes YAML safely: every YAML file the project reads (scenarios, manifests) goes through here.

What is read is what ``kubectl`` reads (sigs.k8s.io/yaml over go-yaml, YAML 1.1 scalars) as plain data, and every
problem is one :class:`InputError` line naming the file and line (``web.yaml:7: ...``):

- only safe tags (PyYAML's safe loader over libyaml): no Python objects, never any code;
- the file: a regular file of at most ``checker.files.MAX_INPUT_BYTES``, UTF-8 or UTF-16 with a byte order mark
  (as kubectl's cli-runtime FileVisitor decodes; checker/files.py);
- duplicate keys in a mapping are an error, as ``kubectl apply --validate=strict`` reports them (go-yaml's
  ``key "x" already set in map``; sigs.k8s.io/yaml ``UnmarshalStrict``); keys merged in with ``<<`` may be overridden;
- aliases are bounded: a document may expand to at most ``MAX_NODES`` values once every alias is followed (go-yaml
  refuses "excessive aliasing" the same way), so an alias bomb of a few hundred bytes is refused, not expanded;
- nesting deeper than ``MAX_DEPTH`` levels is refused (go-yaml stops at 10,000; no Kubernetes object nests near
  100, and deeper values would overflow Python's recursion in later processing);
- integers outside 64 bits are refused (every Kubernetes integer field is int32 or int64; a 5,000-digit integer
  would otherwise fail Python's int-from-string limit);
- timestamps stay strings, as they do in Kubernetes (sigs.k8s.io/yaml converts YAML to JSON first), ``!!binary``
  is its decoded text (as go-yaml decodes it), and values that JSON cannot hold (``!!set``, ``!!omap``,
  ``!!pairs``, ``!!binary`` bytes that are no text) are refused.

Omitted: JSON-only readers (a JSON document is YAML and is read here too), and YAML 1.2's boolean rules.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from checker.errors import InputError
from checker.files import MAX_INPUT_BYTES, read_text
from checker.text import printable

MAX_NODES = 1_000_000
"""Values one document may expand to, every alias followed (go-yaml's alias bound is of the same order)."""
MAX_DEPTH = 100
"""The deepest nesting of mappings and sequences read."""
_INT64 = 2**63

_Base: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _location(source: str, mark: Any) -> str:
    return f"{source}:{mark.line + 1}" if mark is not None else source


class _Loader(_Base):  # type: ignore[misc]
    """The safe loader with Kubernetes' strictness (see the module docstring)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _Base.yaml_implicit_resolvers.items()
    }

    source = "<yaml>"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # merge keys (<<) first: they may be overridden
            seen: dict[Any, yaml.Node] = {}
            merged = getattr(node, "_kubespec_merged", 0)
            for position, (key_node, _) in enumerate(node.value):
                if position < merged:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    raise InputError(
                        f"{_location(self.source, key_node.start_mark)}: a mapping key that is not a name "
                        f"({printable(key_node.tag)})"
                    ) from None
                if first is not None:
                    raise InputError(
                        f"{_location(self.source, key_node.start_mark)}: duplicate key {printable(repr(key))} "
                        f"(first at line {first.start_mark.line + 1}; kubectl --validate=strict refuses it too)"
                    )
                seen[key] = key_node
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        explicit = sum(1 for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge")
        super().flatten_mapping(node)
        # PyYAML puts merged pairs first; remember how many, so that only the explicit keys are checked.
        node._kubespec_merged = len(node.value) - explicit

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(node.value).replace("_", "").lstrip("+-")
        if len(text) > 40:
            raise InputError(
                f"{_location(self.source, node.start_mark)}: the integer {printable(node.value[:20])}... has "
                f"{len(text)} digits; Kubernetes integers are at most 64 bits"
            )
        value: int = super().construct_yaml_int(node)
        if not -_INT64 <= value < _INT64:
            raise InputError(
                f"{_location(self.source, node.start_mark)}: the integer {value} does not fit in 64 bits "
                "(Kubernetes integers are int32 or int64)"
            )
        return value


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _not_json(loader: _Loader, node: yaml.Node) -> Any:
    kind = str(node.tag).rsplit(":", 1)[-1]
    raise InputError(
        f"{_location(loader.source, node.start_mark)}: a YAML {printable(kind)} value, which JSON (and so a "
        "Kubernetes object) cannot hold"
    )


def _timestamp_text(loader: _Loader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))


def _binary_text(loader: _Loader, node: yaml.Node) -> str:
    """go-yaml decodes ``!!binary`` into a string (of the decoded bytes); bytes that are no text are refused."""
    data = loader.construct_yaml_binary(node)
    try:
        return str(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(
            f"{_location(loader.source, node.start_mark)}: a !!binary value that is not UTF-8 text (a Kubernetes "
            "string cannot hold it; base64-encode it into a Secret's data instead)"
        ) from None


_Loader.add_constructor("tag:yaml.org,2002:binary", _binary_text)
for _tag in ("set", "omap", "pairs"):
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _not_json)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_text)


def _check_shape(node: yaml.Node, source: str) -> None:
    """Refuse a document that nests deeper than MAX_DEPTH or expands beyond MAX_NODES values (aliases followed).

    Iterative, and each node's expanded size and height are computed once, so an alias bomb is measured without
    expanding it, and nesting built from aliases of aliases counts as the nesting it makes.
    """
    shape: dict[int, tuple[int, int]] = {}  # id(node) -> (values once expanded, levels of nesting)
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    on_path: set[int] = set()
    while stack:
        current, done = stack.pop()
        key = id(current)
        if done:
            on_path.discard(key)
            children = [shape[id(child)] for child in _children(current)]
            size = 1 + sum(size for size, _ in children)
            height = 1 + max((height for _, height in children), default=0)
            if size > MAX_NODES:
                raise InputError(
                    f"{_location(source, current.start_mark)}: the document expands to more than {MAX_NODES:,} "
                    "values once its aliases are followed (an alias bomb?)"
                )
            if height > MAX_DEPTH:
                raise InputError(f"{_location(source, current.start_mark)}: nested deeper than {MAX_DEPTH} levels")
            shape[key] = (size, height)
            continue
        if key in shape:
            continue
        if key in on_path:
            raise InputError(f"{_location(source, current.start_mark)}: a value that contains itself (recursive alias)")
        on_path.add(key)
        stack.append((current, True))
        stack.extend((child, False) for child in _children(current) if id(child) not in shape)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _malformed(err: yaml.YAMLError, source: str, text: str) -> InputError:
    if isinstance(err, yaml.reader.ReaderError):
        line = text[: err.position].count("\n") + 1 if isinstance(err.position, int) else None
        return InputError(f"{source}:{line}: malformed YAML: character #x{err.character:04x}: {err.reason}")
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    context = getattr(err, "context", None)
    what = f"{context}: {problem}" if context and "found" in str(problem) else str(problem)
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else source
    return InputError(f"{where}: malformed YAML: {printable(what)}")


def yaml_documents(text: str, source: str) -> list[Any]:
    """Every document of ``text`` in order (empty documents as None, so numbering matches the file)."""
    loader = _Loader(text)
    loader.source = source
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                documents.append(None)
                continue
            _check_shape(node, source)
            documents.append(loader.construct_document(node))
    except yaml.YAMLError as err:
        raise _malformed(err, source, text) from None
    except RecursionError:
        raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()
    return documents


def read_yaml_file(path: str | os.PathLike[str], what: str = "file") -> list[Any]:
    """The documents of a YAML file (a regular file of at most MAX_INPUT_BYTES; see the module docstring)."""
    return yaml_documents(read_text(path, what, MAX_INPUT_BYTES), os.fspath(path))
