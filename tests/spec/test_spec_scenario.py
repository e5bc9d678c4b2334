"""Scenario files: the built-in ones load; every bad input is one InputError line naming document and field."""

from __future__ import annotations

import pytest

from checker.errors import InputError
from spec.scenario import builtin, builtin_names, parse
from spec.state import Deployment, Node

NODE = """
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "1", memory: 1Gi, pods: "10"}}
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx, resources: {requests: {cpu: CPU}}}]
"""


def test_builtin_scenarios_load() -> None:
    assert "web-two-nodes" in builtin_names()
    for name in builtin_names():
        s = builtin(name)
        assert s.name == name and any(isinstance(o, Node) for o in s.config.objects)


def test_the_default_scenario_is_two_replicas_on_two_nodes_with_one_crash() -> None:
    s = builtin("web-two-nodes")
    assert sum(isinstance(o, Node) for o in s.config.objects) == 2
    (d,) = [o for o in s.config.objects if isinstance(o, Deployment)]
    assert d.replicas == 2 and s.config.budget.controller_manager_crashes == 1


def _error(text: str) -> str:
    with pytest.raises(InputError) as info:
        parse(text, "bad.yaml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("bad.yaml")
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (NODE + "---\n" + DEPLOYMENT.replace("CPU", "1x"),
         "document 2 (Deployment web): spec.template: spec.containers[0].resources.requests.cpu"),
        (NODE + "---\nkind: Secrett\napiVersion: v1\nmetadata: {name: s}\n",
         'document 2 (Secrett s): kind: no matches for kind "Secrett" in version "v1"'),
        (NODE + "---\nkind: CronJob\napiVersion: batch/v1\nmetadata: {name: s}\n",
         "document 2 (CronJob s).spec: required"),  # modelled (spec/controllers/cronjob.py): its spec is needed
        (NODE + "---\n" + NODE, "document 2 (Node node-a): metadata.name: duplicate nodes/node-a"),
        (NODE + "---\n" + DEPLOYMENT.replace("CPU", "1").replace("replicas: 2", "replicas: two"),
         "spec.replicas: expected an integer"),
        (NODE + "---\n" + DEPLOYMENT.replace("CPU", "1").replace("  replicas: 2", "  replicas: 2\n  bogus: 1"),
         'unknown field "spec.bogus"'),
        (NODE + "---\napiVersion: kubespec.dev/v1\nkind: Scenario\nmetadata: {name: x}\nspec: {faults: {meteors: 1}}\n",
         "spec.faults: unknown field 'meteors'"),
        (NODE + "---\napiVersion: kubespec.dev/v1\nkind: Scenario\nmetadata: {name: x}\nspec: {variants: [old-bug]}\n",
         "unknown variant 'old-bug'"),
        (NODE + "---\napiVersion: kubespec.dev/v1\nkind: Scenario\nmetadata: {name: x}\n"
         "spec: {userActions: [\"kubectl explode pod\"]}\n", "spec.userActions[0]"),
        ("a: [1,\n", "malformed YAML"),
        (DEPLOYMENT.replace("CPU", "1"), "no Node document"),
        (NODE + "---\n" + DEPLOYMENT.replace("CPU", "1").replace("matchLabels: {app: web}", "matchLabels: {app: db}"),
         "`selector` does not match template `labels`"),
    ],
)
def test_bad_input_is_one_line_naming_the_document_and_field(text: str, expected: str) -> None:
    assert expected in _error(text)
