"""Convergence and rollout properties cover every ReplicaSet, owned by a Deployment or not; convergence is Anvil's
ESR (p ~> []q); a premise that is never reached gives `vacuous`, never `holds`; the variants' preconditions."""

from __future__ import annotations

import attrs
import pytest

from checker import check
from checker.errors import InputError
from spec.apiserver import create, store, update
from spec.cluster import initial_state
from spec.controllers.manager import restart
from spec.controllers.replicaset import new_pod
from spec.model import ClusterModel
from spec.properties import PROPERTIES, replicas_converged, rollouts_complete
from spec.scenario import builtin, parse, with_overrides
from spec.state import ClusterState, Pod, PodStatus, ReplicaSet, ReplicaSetStatus, RuntimeContainer, with_meta

CONVERGENCE = ("EventualReplicaConvergence", "RolloutEventuallyCompletes")


def _replicaset_of_five_with_three_running() -> ClusterState:
    """The seed's example: a ReplicaSet of 5 whose 3 pods run, ready, on node-a."""
    config = builtin("replicaset-one-node").config
    etcd = store([attrs.evolve(o, replicas=5) if isinstance(o, ReplicaSet) else o for o in config.objects])
    rs = etcd.objects["replicasets/default/web"]
    assert isinstance(rs, ReplicaSet)
    running = set()
    for i in range(3):
        named = with_meta(new_pod(rs), name=f"web-{i}")
        assert isinstance(named, Pod)
        pod = attrs.evolve(named, info=attrs.evolve(named.info, node_name="node-a"),
                           status=PodStatus(phase="Running", ready=True, scheduled_reason="Scheduled"))
        etcd, response, _ = create(etcd, pod)
        assert response.ok and response.obj is not None
        running.add(RuntimeContainer(f"pods/default/web-{i}", response.obj.meta.uid, "web", "nginx:1.25"))
    state = initial_state(config)
    kubelets = tuple(attrs.evolve(k, runtime=frozenset(running)) for k in state.kubelets)
    return attrs.evolve(state, etcd=etcd, kcm=restart(etcd, None, etcd.revision), kubelets=kubelets)


def test_a_replicaset_of_five_with_three_running_is_not_converged() -> None:
    state = _replicaset_of_five_with_three_running()
    assert not replicas_converged(state) and not rollouts_complete(state)
    prop = PROPERTIES["EventualReplicaConvergence"]
    assert prop.q is not None and prop.p(state) and not prop.q(state)
    # Scaled to 3 in etcd, with its status caught up, it is.
    rs = state.etcd.objects["replicasets/default/web"]
    assert isinstance(rs, ReplicaSet)
    three = attrs.evolve(rs, replicas=3, status=ReplicaSetStatus(3, 3, 3, 3, observed_generation=2))
    etcd, response = update(state.etcd, three)
    assert response.ok
    scaled = etcd.objects["replicasets/default/web"]
    assert isinstance(scaled, ReplicaSet)
    etcd, response = update(etcd, attrs.evolve(scaled, status=three.status), status=True)
    assert response.ok
    done = attrs.evolve(state, etcd=etcd)
    assert replicas_converged(done) and rollouts_complete(done)


@pytest.mark.parametrize("name", ["replicaset-one-node", "stale-replicaset"])
def test_replicaset_scenarios_check_convergence_and_it_holds(name: str) -> None:
    """Before, a scenario with only a ReplicaSet never reached these properties' premises."""
    config = attrs.evolve(builtin(name).config, properties=CONVERGENCE)
    result = check(ClusterModel(config))
    assert result.status == "ok"
    statuses = {p.name: p.status for p in result.properties}
    assert {name: statuses[name] for name in CONVERGENCE} == dict.fromkeys(CONVERGENCE, "holds")


def test_convergence_is_esr_and_fails_when_a_replicaset_is_never_served() -> None:
    """no-requeue drops the pod that once failed to schedule: the ReplicaSet never converges (a lasso)."""
    s = with_overrides(builtin("cordoned-node"), ("no-requeue",))
    assert PROPERTIES["EventualReplicaConvergence"].kind == "leads_to_always"
    result = check(ClusterModel(attrs.evolve(s.config, properties=("EventualReplicaConvergence",))))
    assert result.status == "violation" and result.violation is not None
    assert result.violation.kind == "leads_to_always" and result.violation.loop_start is not None


ZERO = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: zero}
spec: {properties: [EventualReplicaConvergence, RolloutEventuallyCompletes]}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 0
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.25"}]
"""


def test_a_deployment_of_zero_replicas_makes_convergence_vacuous() -> None:
    """Converged from the start: the premise ("not converged") is never reached, so the verdict is `vacuous`."""
    result = check(ClusterModel(parse(ZERO, "zero.yaml").config))
    statuses = {p.name: p.status for p in result.properties}
    assert statuses["EventualReplicaConvergence"] == "vacuous"
    assert result.status == "ok" and "vacuous" in result.verdict()


# --- variants whose mechanism the scenario lacks ---------------------------------------------------------


@pytest.mark.parametrize(("scenario", "variant", "needs"), [
    ("web-two-nodes", "stale-relist", "spec.consistency: stale"),
    ("replicaset-one-node", "unguarded-bind", "two nodes"),
    ("pod-two-nodes", "no-expectations", "a ReplicaSet, a ReplicationController or a Deployment"),
])
def test_a_variant_the_scenario_cannot_exercise_is_an_error(scenario: str, variant: str, needs: str) -> None:
    with pytest.raises(InputError) as err:
        with_overrides(builtin(scenario), (variant,))
    assert str(err.value).startswith(f"--variant: {variant} needs {needs}")


def test_stale_relist_needs_a_restart_too() -> None:
    s = builtin("stale-replicaset")
    with pytest.raises(InputError, match="stale-relist needs a restart that relists"):
        with_overrides(s, ("stale-relist",), crashes=0)


def test_a_scenario_file_naming_such_a_variant_is_an_error_naming_the_file() -> None:
    yaml = ZERO.replace("spec: {properties: [EventualReplicaConvergence, RolloutEventuallyCompletes]}",
                        "spec: {variants: [stale-relist]}")
    with pytest.raises(InputError, match=r"^zero.yaml: spec.variants: stale-relist needs spec.consistency: stale"):
        with_overrides(parse(yaml, "zero.yaml"))


@pytest.mark.parametrize(("scenario", "variant"), [
    ("replicaset-one-node", "no-expectations"), ("web-two-nodes", "no-expectations"),
    ("cordoned-node", "no-requeue"), ("pod-two-nodes", "unguarded-bind"), ("stale-replicaset", "stale-relist"),
])
def test_the_documented_variant_scenarios_are_accepted(scenario: str, variant: str) -> None:
    assert variant in with_overrides(builtin(scenario), (variant,)).config.variants
