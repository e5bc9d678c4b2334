"""Several API servers (spec.kube_apiserver, spec.watchcache, spec.reflector, spec.informer): each one's watch
cache lags on its own, clients fail over when theirs crashes and relist there, the relist is served no older than
the reflector's lastSyncResourceVersion (kubernetes#83520) or, in the failover-relist variant, from the past
(kubernetes#59848); the scenario's bad input."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest

from checker import check
from checker.errors import InputError
from spec import actions as A
from spec.cluster import initial_state, lanes, next_steps
from spec.config import Config
from spec.informer import snapshot
from spec.model import ClusterModel
from spec.properties import resource_version_monotonic
from spec.scenario import builtin, parse, with_overrides
from spec.state import ClusterState
from spec.watchcache import served, slot_servers

SCENARIO = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: apiservers}
spec:
  %s
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: web, image: "nginx:1.25", resources: {requests: {cpu: 500m, memory: 256Mi}}}
"""

POD = """
apiVersion: kubespec.dev/v1
kind: Scenario
metadata: {name: apiservers-pod}
spec:
  apiServers: 2
  faults: {apiServerRestarts: 1}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
  - {name: web, image: "nginx:1.25", resources: {requests: {cpu: 500m, memory: 256Mi}}}
"""


def _config(spec: str = "apiServers: 2\n  faults: {apiServerRestarts: 1}", variants: tuple[str, ...] = ()) -> Config:
    config = parse(SCENARIO % spec, "apiservers.yaml").config
    return attrs.evolve(config, variants=frozenset(variants))


def _steps(state: ClusterState, config: Config) -> list[tuple[str, ClusterState]]:
    return [(A.describe(a), t) for a, t in next_steps(state, config)]


def _step(state: ClusterState, config: Config, match: str) -> ClusterState:
    for line, t in _steps(state, config):
        if match in line:
            return t
    raise AssertionError(f"no step {match!r} among {[line for line, _ in _steps(state, config)]}")


def _until(state: ClusterState, config: Config, done: Callable[[ClusterState], bool],
           avoid: tuple[str, ...] = ("fault:",)) -> ClusterState:
    for _ in range(80):
        if done(state):
            return state
        state = next(t for line, t in _steps(state, config) if not any(x in line for x in avoid))
    raise AssertionError("not reached")


def _pod_informer(state: ClusterState) -> int:
    return state.kcm.informers[2].rv


def test_one_api_server_is_the_plain_model() -> None:
    """Without spec.apiServers there is no slot, no cache step and no other API server to crash into."""
    config = builtin("web-two-nodes").config
    assert config.api_servers == 1
    assert initial_state(config).apiservers is None
    assert not any(a.startswith("kube-apiserver") for a in lanes(config))
    one = _config("faults: {apiServerRestarts: 1}")
    faults = [line for line, _ in _steps(initial_state(one), one) if line.startswith("fault")]
    assert faults == ["fault: restart kube-apiserver"]


def test_the_load_balancer_spreads_the_clients_and_every_cache_starts_at_etcd() -> None:
    config = _config()
    state = initial_state(config)
    assert state.apiservers is not None
    assert state.apiservers.caches == (state.etcd.revision, state.etcd.revision)
    by_slot = dict(zip([(w, i) for w, i, _, _ in state.informer_slots()], slot_servers(state, state.apiservers),
                       strict=True))
    assert {by_slot[("kcm", i)] for i in range(3)} == {0}
    assert by_slot[("scheduler", 0)] == 1
    assert by_slot[("kubelet", 0)] == 0
    assert {"kube-apiserver-1", "kube-apiserver-2"} <= set(lanes(config))


def test_a_watch_brings_only_what_its_api_servers_cache_has() -> None:
    config = _config()
    state = _step(initial_state(config), config, "replicaset-controller reconciles")
    assert state.apiservers is not None and state.apiservers.caches[0] < state.etcd.revision
    lines = [line for line, _ in _steps(state, config)]
    assert not any(line.startswith("kube-controller-manager receives") for line in lines)
    assert "kube-apiserver-1's watch cache catches up with etcd" in " ".join(lines)
    caught = _step(state, config, "kube-apiserver-1's watch cache catches up")
    assert caught.apiservers is not None and caught.apiservers.caches[0] == caught.etcd.revision
    assert any(line.startswith("kube-controller-manager receives ADDED pods/") for line, _ in _steps(caught, config))
    # Time waits for the caches (spec.clock): no Tick while one is behind.
    assert not any(line.endswith("pass: nothing") or "resync" in line for line in lines)


def test_a_crash_moves_its_clients_to_the_next_api_server_and_they_relist_there() -> None:
    config = _config()
    state = initial_state(config)
    crashed = _step(state, config, "fault: restart kube-apiserver-1")
    servers = crashed.apiservers
    assert servers is not None and servers.caches[0] == crashed.etcd.revision
    assert dict(servers.clients) == {"kube-controller-manager": 1, "kubelet/node-a": 1}
    assert all(i.expired for i in crashed.kcm.informers)
    assert crashed.kubelets[0].informer is not None and crashed.kubelets[0].informer.expired
    assert crashed.schedulers[0].informer is not None and not crashed.schedulers[0].informer.expired
    assert slot_servers(crashed, servers) == [1] * len(crashed.informer_slots())
    assert crashed.budget.api_server_restarts == 0


def _behind_then_crashed(config: Config) -> ClusterState:
    """The ReplicaSet controller has seen its pod (through kube-apiserver-1), kube-apiserver-2's cache has not,
    and kube-apiserver-1 crashes."""
    state = _step(initial_state(config), config, "replicaset-controller reconciles")
    state = _step(state, config, "kube-apiserver-1's watch cache catches up")
    state = _until(state, config, lambda s: _pod_informer(s) == s.etcd.revision,
                   avoid=("fault:", "kube-apiserver-2", "scheduler", "kubelet", "reconciles"))
    assert state.apiservers is not None and state.apiservers.caches[1] < _pod_informer(state)
    return _step(state, config, "fault: restart kube-apiserver-1")


def test_today_a_relist_waits_for_a_cache_that_is_behind() -> None:
    """reflector.go relistResourceVersion: the relist asks for lastSyncResourceVersion, which the lagging cache
    serves only once it has caught up (kubernetes#83520)."""
    config = _config()
    crashed = _behind_then_crashed(config)
    lines = [line for line, _ in _steps(crashed, config)]
    assert not any(line.startswith("kube-controller-manager relists") for line in lines)
    caught = _step(crashed, config, "kube-apiserver-2's watch cache catches up")
    relisted = _step(caught, config, "kube-controller-manager relists")
    assert resource_version_monotonic(relisted)
    assert relisted.kcm.informers[2].rv == relisted.etcd.revision


def test_the_variant_relists_from_the_past() -> None:
    """failover-relist (kubernetes#59848): resourceVersion "0" is served by the lagging cache at once."""
    config = _config(variants=("failover-relist",))
    crashed = _behind_then_crashed(config)
    servers = crashed.apiservers
    assert servers is not None
    relisted = _step(crashed, config, f"kube-controller-manager relists at rv {servers.caches[1]}, stale")
    assert not resource_version_monotonic(relisted)
    while relisted.kcm.informers[2].expired:  # the deployments, replicasets and pods informers, in turn
        relisted = _step(relisted, config, "kube-controller-manager relists")
    assert relisted.kcm.informers[2].rv == servers.caches[1]
    assert not any(key.startswith("pods/") for key in relisted.kcm.informers[2].cache)  # its pod is gone


def test_served_is_etcd_as_of_the_caches_revision() -> None:
    config = _config()
    state = _step(initial_state(config), config, "replicaset-controller reconciles")
    etcd = state.etcd
    assert served(etcd, etcd.revision) is etcd
    old = served(etcd, etcd.revision - 2)
    assert old.revision == etcd.revision - 2
    assert old.objects == snapshot(etcd, etcd.revision - 2)
    assert not any(key.startswith("pods/") for key in old.objects)
    assert all(e.rv <= old.revision for e in old.history)


def test_a_pod_with_two_api_servers_holds_and_the_variant_is_refuted() -> None:
    config = parse(POD, "apiservers-pod.yaml").config
    result = check(ClusterModel(config))
    assert result.status == "ok", result.verdict()
    assert result.stats.distinct_states > 100
    bad = check(ClusterModel(attrs.evolve(config, variants=frozenset({"failover-relist"}))))
    assert bad.status == "violation" and bad.violation is not None
    assert bad.violation.property == "ResourceVersionMonotonic"


@pytest.mark.slow
def test_ha_apiservers_holds_and_the_variant_is_refuted_twice() -> None:
    """The built-in scenario (benchmarks/: its states and time): every property holds today; the variant breaks
    ResourceVersionMonotonic and, with that property left out, ReplicaSetNeverOvershoots."""
    scenario = builtin("ha-apiservers")
    assert check(ClusterModel(scenario.config)).status == "ok"
    config = with_overrides(scenario, variants=("failover-relist",)).config
    bad = check(ClusterModel(config))
    assert bad.violation is not None and bad.violation.property == "ResourceVersionMonotonic"
    overshoot = check(ClusterModel(attrs.evolve(config, properties=("ReplicaSetNeverOvershoots",))))
    assert overshoot.violation is not None and overshoot.violation.property == "ReplicaSetNeverOvershoots"


@pytest.mark.parametrize(("spec", "message"), [
    ("apiServers: 0", "spec.apiServers: expected 1 to 5 API servers, got 0"),
    ("apiServers: 6", "spec.apiServers: expected 1 to 5 API servers, got 6"),
    ("apiServers: two", "spec.apiServers: expected a non-negative integer, got 'two'"),
    ("apiServers: 2\n  consistency: stale", "spec.apiServers: several API servers model the caches' lag"),
])
def test_bad_api_servers_are_one_line_errors(spec: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse(SCENARIO % spec, "apiservers.yaml")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_variant_needs_two_api_servers_and_a_crash() -> None:
    for spec, needs in (("faults: {apiServerRestarts: 1}", "spec.apiServers of at least 2"),
                        ("apiServers: 2", "spec.faults.apiServerRestarts of at least 1")):
        scenario = parse(SCENARIO % spec, "apiservers.yaml")
        with pytest.raises(InputError, match=needs):
            with_overrides(scenario, variants=("failover-relist",))
