"""`kubespec endpoints -f`: output as kubectl shows EndpointSlices, warnings on stderr, bad input exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from spec.endpoints_cli import endpoints

FIXTURES = Path(__file__).parent / "fixtures"


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(endpoints, list(args), input=stdin)
    return r.exit_code, r.stdout, r.stderr


def test_fixture_yaml() -> None:
    code, out, err = run("-f", str(FIXTURES / "web.yaml"))
    assert code == 0, err
    doc = yaml.safe_load(out)
    assert doc["kind"] == "List" and doc["apiVersion"] == "v1"
    by_service = {s["metadata"]["labels"]["kubernetes.io/service-name"]: s for s in doc["items"]}
    assert sorted(by_service) == ["db", "web", "web-headless"]
    web = by_service["web"]
    assert web["apiVersion"] == "discovery.k8s.io/v1" and web["kind"] == "EndpointSlice"
    assert web["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"},
                            {"name": "metrics", "port": 9100, "protocol": "TCP"}]
    conds = {e["targetRef"]["name"]: (e["addresses"], e["conditions"], e["nodeName"], e["zone"])
             for e in web["endpoints"]}
    assert conds == {
        "web-7d4b9c-abcde": (["10.244.1.5"], {"ready": True, "serving": True, "terminating": False}, "node-1",
                             "zone-a"),
        "web-7d4b9c-fghij": (["10.244.2.7"], {"ready": False, "serving": False, "terminating": False}, "node-2",
                             "zone-b"),
        "web-7d4b9c-klmno": (["10.244.2.9"], {"ready": False, "serving": True, "terminating": True}, "node-2",
                             "zone-b"),
    }
    assert web["metadata"]["labels"]["tier"] == "front"
    assert web["metadata"]["ownerReferences"][0]["uid"] == "6f1b7c9e-0d3a-4f53-9b0e-3c1d2a4b5c6d"
    # db: no ClusterIP in the manifest, so the API server allocates one: not headless; no pod: a placeholder.
    db = by_service["db"]
    assert db["endpoints"] is None and db["ports"] is None
    assert "service.kubernetes.io/headless" not in db["metadata"]["labels"]
    assert by_service["web-headless"]["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    assert "warning: Service default/db: selector app=db matches no pod" in err
    assert "targetPort 9100 is not a declared TCP containerPort" in err
    assert "web-7d4b9c-pending has no IP" in err


def test_json_is_a_list_of_endpointslices() -> None:
    code, out, _ = run("-f", str(FIXTURES / "web.yaml"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["kind"] == "List" and all(
        i["apiVersion"] == "discovery.k8s.io/v1" and i["kind"] == "EndpointSlice" for i in doc["items"])
    assert out.startswith('{\n    "apiVersion"')  # kubectl indents by 4


def test_output_is_strictly_valid_endpointslices(tmp_path: Path) -> None:
    """What is printed reads back through the strict validator as discovery.k8s.io/v1 EndpointSlices."""
    from spec.strict import validate_object

    _, out, _ = run("-f", str(FIXTURES / "web.yaml"))
    for item in yaml.safe_load(out)["items"]:
        assert validate_object(item, "output")


def test_named_port_matching_no_pod(tmp_path: Path) -> None:
    f = tmp_path / "m.yaml"
    f.write_text("""
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  selector: {app: api}
  ports: [{name: grpc, port: 443, targetPort: grpc}]
---
apiVersion: v1
kind: Pod
metadata: {name: api-1, labels: {app: api}}
spec:
  nodeName: n1
  containers: [{name: c, image: x, ports: [{name: http, containerPort: 8080}]}]
status: {phase: Running, podIP: 10.1.0.4, conditions: [{type: Ready, status: "True"}]}
""")
    code, out, err = run("-f", str(f))
    assert code == 0
    (item,) = yaml.safe_load(out)["items"]
    assert item["ports"] is None and item["endpoints"][0]["addresses"] == ["10.1.0.4"]
    assert "targetPort 'grpc' names no TCP container port of any selected pod" in err
    assert "no Node in the manifests" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {nodeNmae: x}\n", 'unknown field "spec.nodeNmae"'),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nstatus: {podIP: 10.0.0.300}\n",
         "status.podIP: '10.0.0.300' is not an IP address"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 70000}]}\n",
         "spec.ports[0].port: '70000' is not a port number"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{name: x}]}\n",
         "spec.ports[0].port: required"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80, protocol: ICMP}]}\n",
         "spec.ports[0].protocol: 'ICMP' is not one of TCP, UDP, SCTP"),
        ("a: [1\n", "malformed YAML"),
        ("- 1\n- 2\n", "expected a Kubernetes object"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n"
         "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n",
         "Service default/a is also"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nstatus: {podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.2}]}\n",
         "is not status.podIPs[0]"),
        ("apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {ports: [{port: 80, targetPort: '8080'}]}\n",
         "targetPort: '8080' is not a valid port name: must contain at least one letter (a-z)"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, ports: [{name: Http, "
         "containerPort: 80}]}]}\n", "spec.containers[0].ports[0].name: 'Http' is not a valid port name"),
    ],
)
def test_bad_input_one_line_exit_2(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    code, out, err = run("-f", str(f))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    assert "Traceback" not in err


def test_missing_file_and_stdin(tmp_path: Path) -> None:
    code, _, err = run("-f", str(tmp_path / "nope.yaml"))
    assert code == 2 and err.startswith("error: ") and "nope.yaml" in err
    code, out, _ = run("-f", "-", stdin=(FIXTURES / "web.yaml").read_text())
    assert code == 0 and "EndpointSlice" in out


def test_registered_as_a_kubespec_command() -> None:
    exe = shutil.which("kubespec", path=str(Path(sys.executable).parent))
    assert exe is not None
    r = subprocess.run([exe, "endpoints", "-f", str(FIXTURES / "web.yaml"), "--json"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["items"]) == 3


def test_duplicates_across_files(tmp_path: Path) -> None:
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
    (tmp_path / "1.yaml").write_text(pod)
    (tmp_path / "2.yaml").write_text(pod)
    code, _, err = run("-f", str(tmp_path / "1.yaml"), "-f", str(tmp_path / "2.yaml"))
    assert code == 2 and "error: Pod default/a is defined twice" in err


def test_a_kubectl_export() -> None:
    """A List as `kubectl get pods,svc,nodes -o yaml` exports it (status, managedFields-free): one slice, the
    named targetPort resolved to the container's port, zone from the Node, quoting as kubectl prints it."""
    code, out, err = run("-f", str(FIXTURES / "kubectl-export.yaml"))
    assert code == 0 and err == ""
    (item,) = yaml.safe_load(out)["items"]
    assert item["metadata"]["namespace"] == "shop" and item["metadata"]["name"].startswith("web-")
    assert item["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]
    assert item["endpoints"] == [{
        "addresses": ["10.244.1.12"], "conditions": {"ready": True, "serving": True, "terminating": False},
        "nodeName": "kind-worker", "zone": "eu-west-1a",
        "targetRef": {"kind": "Pod", "name": "web-6d8f7b9c5-x2k4p", "namespace": "shop",
                      "uid": "8a7e2b2c-3c6d-4a53-a0b5-2b7c4b1b9f01"}}]
    assert '  resourceVersion: ""\n' in out
