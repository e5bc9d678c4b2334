"""`kubespec proxy rules|verify -f` with Pods (or workloads and --pod-ips) instead of EndpointSlices: the slices are
derived with `kubespec endpoints`' controller code, and a Service that reaches no pod is said so."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from spec.endpoints_cli import endpoints
from spec.proxy.cli import proxy

FIXTURES = Path(__file__).parent / "fixtures"
SHOP = str(FIXTURES / "shop-pods.yaml")
DEPLOYMENT = str(FIXTURES / "web-deployment.yaml")


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(proxy, list(args))
    return r.exit_code, r.stdout, r.stderr


def _without(path: str, out: Path, keep: object) -> str:
    doc = yaml.safe_load(Path(path).read_text())
    doc["items"] = [i for i in doc["items"] if keep(i)]  # type: ignore[operator]
    out.write_text(yaml.safe_dump(doc))
    return str(out)


def test_rules_from_pods_are_the_rules_from_the_slices_kubespec_endpoints_writes(tmp_path: Path) -> None:
    r = CliRunner().invoke(endpoints, ["-f", SHOP])
    assert r.exit_code == 0, r.stderr
    slices = tmp_path / "slices.yaml"
    slices.write_text(r.stdout)
    no_pods = _without(SHOP, tmp_path / "no-pods.yaml", lambda i: i["kind"] != "Pod")
    for node in ("kind-worker", "kind-worker2"):
        code, from_slices, _ = run("rules", "--node", node, "-f", no_pods, "-f", str(slices))
        assert code == 0
        code, from_pods, err = run("rules", "--node", node, "-f", SHOP)
        assert code == 0 and from_pods == from_slices
        assert "DNAT --to-destination 10.244.1.12:80" in from_pods  # the named targetPort "http" is port 80
        assert "DNAT --to-destination 10.244.2.9:80" in from_pods
        assert "10.244.1.15" not in from_pods and "10.244.2.4" not in from_pods  # terminating; another app
        assert "warning: Service shop/orphan: selector app=gone matches no pod" in err


def test_verify_from_pods_says_which_services_reach_no_pod() -> None:
    code, out, _ = run("verify", "-f", SHOP, "--node", "kind-worker", "--cluster-cidr", "10.244.0.0/16")
    assert code == 0, out
    lines = out.splitlines()
    assert lines[-1].startswith("verified: 3 services, 3 service ports, 3 frontends, 2 endpoints")
    assert "warning: Service shop/orphan: selector app=gone matches no pod in namespace shop: its EndpointSlice " \
        "has no endpoints" in lines
    assert any(line.startswith("warning: Service shop/metrics: port metrics/TCP: targetPort 'metrics' names no TCP "
                               "container port") for line in lines)
    assert "warning: Service shop/web: pod web-6d8f7b9c5-p5l8d has no IP (status.podIPs): not an endpoint" in lines
    # the verifier's own "no endpoints" lines about these ports are not repeated
    assert not any(line.startswith(("warning: shop/orphan:", "warning: shop/metrics:")) for line in lines)


def test_nothing_to_verify_is_exit_2_with_one_line(tmp_path: Path) -> None:
    orphan = _without(SHOP, tmp_path / "orphan.yaml",
                      lambda i: i["kind"] != "Service" or i["metadata"]["name"] == "orphan")
    code, out, err = run("verify", "-f", orphan, "--node", "kind-worker")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"error: nothing to verify: no Service port has an endpoint (Service shop/orphan: selector app=gone matches "
        f"no pod in namespace shop: its EndpointSlice has no endpoints) ({orphan})"]
    metrics = _without(SHOP, tmp_path / "metrics.yaml",
                       lambda i: i["kind"] != "Service" or i["metadata"]["name"] == "metrics")
    code, out, err = run("verify", "-f", metrics, "--node", "kind-worker")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "nothing to verify" in err


def test_a_deployment_with_its_pods_addresses() -> None:
    code, out, err = run("rules", "--node", "node-a", "-f", DEPLOYMENT,
                         "--pod-ips", "deployment/web=10.244.0.2@node-a,10.244.0.3@node-a")
    assert code == 0, err
    assert "DNAT --to-destination 10.244.0.2:8080" in out and "DNAT --to-destination 10.244.0.3:8080" in out
    code, out, _ = run("verify", "-f", DEPLOYMENT, "--pod-ips", "default/deployment/web=10.244.0.2@node-a")
    assert code == 0 and out.splitlines()[-1].startswith("verified: 1 services, 1 service ports, 1 frontends, "
                                                         "1 endpoints")
    code, out, err = run("verify", "-f", DEPLOYMENT)
    assert code == 2 and out == "" and "no --pod-ips deployment/web=IP,...: its pods are not known" in err


@pytest.mark.parametrize(("value", "message"), [
    ("deployment/webx=10.244.0.2", "error: --pod-ips: no deployment webx in the manifests"),
    ("deployment/web=10.244.0.299", "error: --pod-ips: '10.244.0.299' is not an IP address"),
    ("web=10.244.0.2", "error: --pod-ips: 'web=10.244.0.2' is not [NAMESPACE/]KIND/NAME=IP[@NODE]"),
    ("job/web=10.244.0.2", "error: --pod-ips: 'job' is not one of deployment, replicaset, statefulset, daemonset"),
])
def test_bad_pod_ips_are_one_line_exit_2(value: str, message: str) -> None:
    code, out, err = run("verify", "-f", DEPLOYMENT, "--pod-ips", value)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(message)


def test_slices_given_are_kept_and_pods_derive_only_the_others(tmp_path: Path) -> None:
    r = CliRunner().invoke(endpoints, ["-f", SHOP])
    slices = yaml.safe_load(r.stdout)
    web = [s for s in slices["items"] if s["metadata"]["labels"]["kubernetes.io/service-name"] == "web"]
    web[0]["endpoints"] = web[0]["endpoints"][:1]  # the slice given says one endpoint: it wins over the pods
    given = tmp_path / "web-slice.yaml"
    given.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": web}))
    code, out, _ = run("rules", "--node", "kind-worker", "-f", SHOP, "-f", str(given))
    assert code == 0
    assert out.count("-j DNAT --to-destination") == 1
