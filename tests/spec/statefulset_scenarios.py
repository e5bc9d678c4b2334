"""The StatefulSet scenario documents the StatefulSet tests share (tests/spec/test_statefulset.py and
test_statefulset_model.py): nodes, one StatefulSet "db" of 2 (app: db, OrderedReady, service "db"), optionally a
PodDisruptionBudget of minAvailable 1 and a fault budget."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def node_document(name: str) -> str:
    return f"""apiVersion: v1
kind: Node
metadata: {{name: {name}}}
status: {{allocatable: {{cpu: "2", memory: 4Gi, pods: "110"}}}}
"""


STATEFULSET = """apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: "postgres:16"}]
"""

PDB = """apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db}
spec:
  minAvailable: 1
  selector: {matchLabels: {app: db}}
"""


def statefulset_scenario(nodes: Sequence[str] = ("node-a",), faults: Mapping[str, int] | None = None,
                         pdb: bool = False) -> str:
    """The scenario "sts": its document, one Node document per name, the StatefulSet, then the budget if ``pdb``
    (documents numbered in that order, as errors name them)."""
    spec = "spec: {}" if not faults else "spec:\n  faults: {" + ", ".join(f"{k}: {v}" for k, v in faults.items()) + "}"
    head = f"apiVersion: kubespec.dev/v1\nkind: Scenario\nmetadata: {{name: sts}}\n{spec}\n"
    return "---\n".join([head, *(node_document(n) for n in nodes), STATEFULSET, *((PDB,) if pdb else ())])
