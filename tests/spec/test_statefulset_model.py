"""StatefulSets in the model: ordered creation holds on every reachable state (OrderedReady), the set converges
(StatefulSetsConverge, ESR), and AtMostOnePodPerStatefulIdentity holds under a controller-manager crash (a
restarted controller with an empty cache gets 409 AlreadyExists, never a second db-0)."""

from __future__ import annotations

from checker import always, check
from spec.model import ClusterModel
from spec.scenario import parse
from spec.state import Pod
from tests.spec.statefulset_scenarios import statefulset_scenario

SCENARIO = statefulset_scenario(faults={"controllerManagerCrashes": 1})


def _ordered(state: object) -> bool:
    """db-1 exists only while db-0 exists (and was Running and Ready when db-1 was created: it is then never
    deleted here, so it is enough that db-0 exists and has been Running)."""
    pods = {p.meta.name: p for p in state.etcd.objects.values() if isinstance(p, Pod)}  # type: ignore[attr-defined]
    return "db-1" not in pods or ("db-0" in pods and pods["db-0"].status.phase == "Running")


def test_ordered_ready_creation_convergence_and_one_pod_per_identity() -> None:
    s = parse(SCENARIO, "sts.yaml")
    model = ClusterModel(s.config, s.reductions)
    model.properties = (*model.properties, always("OrderedCreation", _ordered))
    result = check(model)
    assert result.status == "ok", result.verdict()
    for name in ("AtMostOnePodPerStatefulIdentity", "StatefulSetsConverge", "OrderedCreation"):
        assert result.status_of(name) == "holds", name


def test_parallel_creates_both_before_either_is_ready() -> None:
    s = parse(SCENARIO.replace("serviceName: db", "serviceName: db\n  podManagementPolicy: Parallel"), "sts.yaml")
    model = ClusterModel(s.config, s.reductions)
    model.properties = (always("OrderedCreation", _ordered),)
    result = check(model)
    assert result.status == "violation"  # Parallel does create db-1 before db-0 runs
