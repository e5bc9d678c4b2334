"""spec/yamldocs.py and the scenario reader against hostile input (issue 17): any text is documents or one error
line naming the file and line; aliases, nesting and integers are bounded; only regular files are read."""

from __future__ import annotations

import codecs
import os
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.cli import main
from checker.errors import InputError
from checker.files import read_text
from spec.scenario import MAX_REPLICAS, parse
from spec.yamldocs import MAX_DEPTH, yaml_documents
from tests.edits import paths, replaced

SCENARIO = resources.files("spec.scenarios").joinpath("web-two-nodes.yaml").read_text()
DOCUMENTS = list(yaml.safe_load_all(SCENARIO))
MANIFEST = """apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: default, labels: {app: web}}
spec:
  nodeName: node-a
  containers:
  - name: web
    image: nginx:1.25
    resources: {requests: {cpu: 500m, memory: 256Mi}}
    ports: [{containerPort: 80, hostPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
"""

PIECES = ["", ":", "- ", "&a ", "*a", "{", "[", "\t", "'", "!!binary", "<<: *a", "\n  ", "? ", "a: 1\na: 2\n"]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=10)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=15,
)


def _one_line_error(error: InputError, source: str) -> None:
    message = str(error)
    assert "\n" not in message and message.startswith(source), message


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_any_text_is_documents_or_one_error_line(text: str) -> None:
    try:
        yaml_documents(text, "any.yaml")
    except InputError as error:
        _one_line_error(error, "any.yaml")


@settings(max_examples=150)
@given(st.data())
def test_edits_of_a_manifest_are_documents_or_one_error_line(data: st.DataObject) -> None:
    """Characters of a real manifest deleted, replaced or inserted (the YAML every manifest reader gets)."""
    text = MANIFEST
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        piece = data.draw(st.sampled_from(PIECES))
        cut = data.draw(st.integers(0, 3))
        text = text[:at] + piece + text[at + cut :]
    try:
        yaml_documents(text, "m.yaml")
    except InputError as error:
        _one_line_error(error, "m.yaml")


@settings(max_examples=150)
@given(values)
def test_plain_data_reads_back_as_written(value: Any) -> None:
    assert yaml_documents(yaml.safe_dump(value), "v.yaml") == [value]


SCENARIO_PATHS = [p for p in paths(DOCUMENTS) if p]


@settings(max_examples=150)
@given(st.sampled_from(SCENARIO_PATHS), values | st.sampled_from([2147483648, 10**18, -1, "1e999999999", "∞"]))
def test_any_edit_of_a_scenario_is_a_scenario_or_one_error_line(path: tuple[Any, ...], value: Any) -> None:
    documents = replaced(DOCUMENTS, path, value)
    try:
        parse(yaml.safe_dump_all(documents), "edited.yaml")
    except InputError as error:
        _one_line_error(error, "edited.yaml")


BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{b}: &{b} [*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a},*{a}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nb: 2\na: 3\n", "t.yaml:3: duplicate key 'a' (first at line 1"),
        ("base: &b {x: 1}\nd:\n  <<: *b\n  x: 5\n  x: 6\n", "t.yaml:5: duplicate key 'x' (first at line 4"),
        (BOMB, "expands to more than 1,000,000 values once its aliases are followed"),
        ("[" * 2000 + "]" * 2000, "t.yaml"),
        ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 150)), f"nested deeper than {MAX_DEPTH} levels"),
        ("x: " + "9" * 5000, "t.yaml:1: the integer 99999999999999999999... has 5000 digits"),
        ("x: 9223372036854775808", "does not fit in 64 bits"),
        ("a: &a [*a]", "contains itself"),
        ("a: !!python/object/apply:os.system [echo]", "could not determine a constructor"),
        ("a: \x1b]0;title\x07", "t.yaml:1: malformed YAML: character #x001b"),
        ("a: !!set {x, y}", "t.yaml:1: a YAML set value, which JSON (and so a Kubernetes object) cannot hold"),
        ("a: !!binary /w==", "t.yaml:1: a !!binary value that is not UTF-8 text"),
    ],
)
def test_hostile_yaml_is_one_error_line(text: str, message: str) -> None:
    assert len(BOMB) < 500
    with pytest.raises(InputError) as caught:
        yaml_documents(text, "t.yaml")
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_merge_keys_and_timestamps_read_as_kubectl_does() -> None:
    text = "b: &b {x: 1, y: 2}\nd: {<<: *b, x: 5}\nt: 2020-01-01\nu: !!timestamp 2020-01-01\nv: !!binary aGk=\n"
    assert yaml_documents(text, "t.yaml") == [
        {"b": {"x": 1, "y": 2}, "d": {"x": 5, "y": 2}, "t": "2020-01-01", "u": "2020-01-01", "v": "hi"}
    ]


def test_files_utf16_binary_and_special(tmp_path: Path) -> None:
    utf16 = tmp_path / "utf16.yaml"
    utf16.write_bytes(codecs.BOM_UTF16_LE + "a: é\n".encode("utf-16-le"))
    assert read_text(utf16) == "a: é\n"
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"a: 1\nb: \xff\xfe\x00\n")
    with pytest.raises(InputError, match=r"binary.yaml:2: the file is not UTF-8 text \(byte 0xff at offset 8\)"):
        read_text(binary)
    with pytest.raises(InputError, match="a character device, not a regular file"):
        read_text("/dev/zero")
    with pytest.raises(InputError, match="a directory, not a regular file"):
        read_text(tmp_path)
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a FIFO"):
        read_text(fifo)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 2048)
    with pytest.raises(InputError, match="2,048 bytes, more than the limit of 1,024"):
        read_text(big, max_bytes=1024)


@pytest.mark.parametrize(
    ("replicas", "message"),
    [
        (2147483648, "spec.replicas: 2147483648 does not fit in int32"),
        (5000, f"spec.replicas: 5000 replicas is beyond the model's limit of {MAX_REPLICAS}"),
    ],
)
def test_replicas_beyond_the_limits_are_refused(tmp_path: Path, replicas: int, message: str) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(SCENARIO.replace("replicas: 2", f"replicas: {replicas}"))
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2 and message in result.output, result.output
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    result = CliRunner().invoke(main, ["check", str(fifo)])
    assert result.exit_code == 2 and "a FIFO (named pipe), not a regular file" in result.output, result.output
