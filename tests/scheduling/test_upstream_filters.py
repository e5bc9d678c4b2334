"""Upstream's table-driven Filter tests, restated as data.

Each table cites the upstream file and test function it restates (kubernetes/kubernetes,
pkg/scheduler/framework/plugins/...). Node and pod shapes follow the upstream cases; expected statuses are
upstream's (code and reason).
"""

from __future__ import annotations

import pytest

from spec.scheduling import filters as F
from spec.scheduling.filters import Code, prefilter, run_filters
from spec.scheduling.manifests import pod_requests
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.types import (
    Affinity,
    NodeInfo,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    Resources,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    pairs,
)
from tests.scheduling.helpers import expr, node, pod, selector, term

U, UU = Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE

# --- tainttoleration/taint_toleration_test.go TestTaintTolerationFilter --------------------------------------
TAINT_CASES = [
    (
        "A pod having no tolerations can't be scheduled onto a node with nonempty taints",
        (),
        (Taint("dedicated", "user1", "NoSchedule"),),
        False,
    ),
    (
        "A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
        (Toleration("dedicated", "Equal", "user1", "NoSchedule"),),
        (Taint("dedicated", "user1", "NoSchedule"),),
        True,
    ),
    (
        "A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule",
        (Toleration("dedicated", "Equal", "user2", "NoSchedule"),),
        (Taint("dedicated", "user1", "NoSchedule"),),
        False,
    ),
    (
        "A pod can be scheduled onto the node, with a toleration uses operator Exists that tolerates the taints "
        "on the node",
        (Toleration("foo", "Exists", "", "NoSchedule"),),
        (Taint("foo", "bar", "NoSchedule"),),
        True,
    ),
    (
        "A pod has multiple tolerations, node has multiple taints, all the taints are tolerated, pod can be scheduled",
        (Toleration("dedicated", "Equal", "user2", "NoSchedule"), Toleration("foo", "Exists", "", "NoSchedule")),
        (Taint("dedicated", "user2", "NoSchedule"), Taint("foo", "bar", "NoSchedule")),
        True,
    ),
    (
        "A pod has a toleration that keys and values match the taint on the node, but (non-empty) effect doesn't match",
        (Toleration("foo", "Equal", "bar", "PreferNoSchedule"),),
        (Taint("foo", "bar", "NoSchedule"),),
        False,
    ),
    (
        "The pod has a toleration that keys and values match the taint on the node, the effect of toleration is empty",
        (Toleration("foo", "Equal", "bar", ""),),
        (Taint("foo", "bar", "NoSchedule"),),
        True,
    ),
    (
        "The pod has a toleration that key and value don't match the taint, but the taint's effect is PreferNoSchedule",
        (Toleration("dedicated", "Equal", "user2", "NoSchedule"),),
        (Taint("dedicated", "user1", "PreferNoSchedule"),),
        True,
    ),
    (
        "The pod has no toleration, but the effect of taint on node is PreferNoSchedule",
        (),
        (Taint("dedicated", "user1", "PreferNoSchedule"),),
        True,
    ),
    (
        "An empty key with operator Exists tolerates every taint (toleration.go ToleratesTaint)",
        (Toleration("", "Exists", "", ""),),
        (Taint("a", "b", "NoExecute"), Taint("c", "", "NoSchedule")),
        True,
    ),
]


@pytest.mark.parametrize(("name", "tolerations", "taints", "fits"), TAINT_CASES, ids=[c[0][:60] for c in TAINT_CASES])
def test_taint_toleration_filter(name: str, tolerations: tuple, taints: tuple, fits: bool) -> None:
    n = NodeInfo("nodeA", taints=taints)
    status = F.taint_toleration(pod("pod0", tolerations=tolerations), n)
    if fits:
        assert status is None
    else:
        assert status == F.FilterFailure("TaintToleration", ("node(s) had untolerated taint(s)",), UU)


# --- nodeaffinity/node_affinity_test.go TestNodeAffinity --------------------------------------------------------
def _req(key: str, op: str, *values: str) -> NodeSelectorRequirement:
    return NodeSelectorRequirement(key, op, values)


def _aff(*terms: NodeSelectorTerm) -> Affinity:
    return Affinity(node_required=terms)


AFFINITY_CASES = [
    ("missing labels", {"foo": "bar"}, None, {}, False),
    ("same labels", {"foo": "bar"}, None, {"foo": "bar"}, True),
    ("node labels are superset", {"foo": "bar"}, None, {"foo": "bar", "baz": "blah"}, True),
    ("node labels are subset", {"foo": "bar", "baz": "blah"}, None, {"foo": "bar"}, False),
    (
        "Pod with matchExpressions using In operator that matches the existing node",
        {},
        _aff(NodeSelectorTerm((_req("foo", "In", "bar", "value2"),))),
        {"foo": "bar"},
        True,
    ),
    (
        "Pod with matchExpressions using Gt operator that matches the existing node",
        {},
        _aff(NodeSelectorTerm((_req("kernel-version", "Gt", "0204"),))),
        {"kernel-version": "0206"},
        True,
    ),
    (
        "Pod with matchExpressions using NotIn operator that matches the existing node",
        {},
        _aff(NodeSelectorTerm((_req("mem-type", "NotIn", "DDR", "DDR2"),))),
        {"mem-type": "DDR3"},
        True,
    ),
    (
        "Pod with matchExpressions using Exists operator that matches the existing node",
        {},
        _aff(NodeSelectorTerm((_req("GPU", "Exists"),))),
        {"GPU": "NVIDIA-GRID-K1"},
        True,
    ),
    (
        "Pod with affinity that don't match node's labels won't schedule onto the node",
        {},
        _aff(NodeSelectorTerm((_req("foo", "In", "value1", "value2"),))),
        {"foo": "bar"},
        False,
    ),
    (
        "Pod with empty MatchExpressions is not a valid value will match no objects and won't schedule onto the node",
        {},
        _aff(NodeSelectorTerm(())),
        {"foo": "bar"},
        False,
    ),
    ("Pod with no Affinity will schedule onto a node", {}, None, {"foo": "bar"}, True),
    (
        "Pod with multiple matchExpressions ANDed that matches the existing node",
        {},
        _aff(NodeSelectorTerm((_req("GPU", "Exists"), _req("GPU", "NotIn", "AMD", "INTER")))),
        {"GPU": "NVIDIA-GRID-K1"},
        True,
    ),
    (
        "Pod with multiple matchExpressions ANDed that doesn't match the existing node",
        {},
        _aff(NodeSelectorTerm((_req("GPU", "Exists"), _req("GPU", "In", "AMD", "INTER")))),
        {"GPU": "NVIDIA-GRID-K1"},
        False,
    ),
    (
        "Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels and will schedule onto "
        "the node",
        {},
        _aff(
            NodeSelectorTerm((_req("foo", "In", "bar", "value2"),)),
            NodeSelectorTerm((_req("diffkey", "In", "wrong", "value2"),)),
        ),
        {"foo": "bar"},
        True,
    ),
    (
        "Pod with an Affinity and a PodSpec.NodeSelector(the old thing that we are deprecating) both are satisfied",
        {"foo": "bar"},
        _aff(NodeSelectorTerm((_req("foo", "Exists"),))),
        {"foo": "bar"},
        True,
    ),
    (
        "Pod with an Affinity matches node's labels but the PodSpec.NodeSelector is not satisfied",
        {"foo": "bar"},
        _aff(NodeSelectorTerm((_req("foo", "Exists"),))),
        {"foo": "barrrrrr"},
        False,
    ),
    (
        "Pod with matchFields using In operator that matches the existing node",
        {},
        _aff(NodeSelectorTerm((), (_req("metadata.name", "In", "node1"),))),
        {},
        True,
    ),
    (
        "Pod with matchFields using In operator that does not match the existing node",
        {},
        _aff(NodeSelectorTerm((), (_req("metadata.name", "In", "node1"),))),
        {},
        "node2",
    ),
    (
        "Pod with two terms: matchFields does not match, but matchExpressions matches",
        {},
        _aff(
            NodeSelectorTerm((), (_req("metadata.name", "In", "node1"),)), NodeSelectorTerm((_req("foo", "In", "bar"),))
        ),
        {"foo": "bar"},
        "node2-fits",
    ),
]


@pytest.mark.parametrize(
    ("name", "selector_", "aff", "labels", "fits"), AFFINITY_CASES, ids=[c[0][:60] for c in AFFINITY_CASES]
)
def test_node_affinity_filter(name: str, selector_: dict, aff: Affinity | None, labels: dict, fits: object) -> None:
    node_name = "node2" if isinstance(fits, str) else "node1"
    p = pod("p", node_selector=pairs(selector_), affinity=aff or Affinity())
    status = F.node_affinity(p, NodeInfo(node_name, pairs(labels)))
    if fits is True or fits == "node2-fits":
        assert status is None
    else:
        assert status == F.FilterFailure("NodeAffinity", ("node(s) didn't match Pod's node affinity/selector",), UU)


# --- noderesources/fit_test.go TestEnoughRequests (makeResources(10, 20, 32, 5, 20, 5)) --------------------------
EXT = "example.com/aaa"
ALLOC = Resources(10, 20, 20, 32, ((EXT, 5),))


def _req_of(cpu: int, mem: int, inits: tuple[tuple[int, int], ...] = (), ext: int = 0) -> Resources:
    scalar = ((EXT, ext),) if ext else ()
    return pod_requests([Resources(cpu, mem, 0, 0, scalar)], [(Resources(c, m), False) for c, m in inits], Resources())


FIT_CASES = [
    ("no resources requested always fits", _req_of(0, 0), (10, 20), ()),
    ("too many resources fails", _req_of(1, 1), (10, 20), ("Insufficient cpu", "Insufficient memory")),
    ("too many resources fails due to init container cpu", _req_of(1, 1, ((3, 1),)), (8, 19), ("Insufficient cpu",)),
    (
        "too many resources fails due to highest init container cpu",
        _req_of(1, 1, ((3, 1), (2, 1))),
        (8, 19),
        ("Insufficient cpu",),
    ),
    (
        "too many resources fails due to init container memory",
        _req_of(1, 1, ((1, 3),)),
        (9, 19),
        ("Insufficient memory",),
    ),
    (
        "too many resources fails due to highest init container memory",
        _req_of(1, 1, ((1, 3), (1, 2))),
        (9, 19),
        ("Insufficient memory",),
    ),
    (
        "init container fits because it's the max, not sum, of containers and init containers",
        _req_of(1, 1, ((1, 1),)),
        (9, 19),
        (),
    ),
    (
        "multiple init containers fit because it's the max, not sum, of containers and init containers",
        _req_of(1, 1, ((1, 1), (1, 1))),
        (9, 19),
        (),
    ),
    ("both resources fit", _req_of(1, 1), (5, 5), ()),
    ("one resource memory fits", _req_of(2, 1), (9, 5), ("Insufficient cpu",)),
    ("one resource cpu fits", _req_of(1, 2), (5, 19), ("Insufficient memory",)),
    ("equal edge case", _req_of(5, 1), (5, 19), ()),
    ("equal edge case for init container", _req_of(4, 1, ((5, 1),)), (5, 19), ()),
    ("extended resource fits", _req_of(0, 0, ext=1), (0, 0), ()),
    ("extended resource capacity enforced", _req_of(0, 0, ext=10), (0, 0), (f"Insufficient {EXT}",)),
]


@pytest.mark.parametrize(("name", "requests", "used", "reasons"), FIT_CASES, ids=[c[0][:60] for c in FIT_CASES])
def test_node_resources_fit(name: str, requests: Resources, used: tuple[int, int], reasons: tuple[str, ...]) -> None:
    n = NodeInfo("machine1", allocatable=ALLOC)
    existing = pod("existing", cpu=used[0], memory=used[1], on="machine1")
    incoming = pod("incoming", requests=requests)
    status = F.node_resources_fit(incoming, n, Snapshot((n,), (existing,)))
    assert (status.reasons if status else ()) == reasons
    if status:
        assert status.plugin == "NodeResourcesFit"


def test_too_many_pods_even_without_requests() -> None:
    """fit_test.go TestNotEnoughRequests: 'even without specified resources, predicate fails when there's no space
    for additional pod'."""
    n = NodeInfo("machine1", allocatable=Resources(10, 20, 0, 1))
    status = F.node_resources_fit(pod("p"), n, Snapshot((n,), (pod("existing", on="machine1"),)))
    assert status == F.FilterFailure("NodeResourcesFit", ("Too many pods",), U)


def test_request_above_allocatable_is_unresolvable() -> None:
    """fit.go fitsRequest: Unresolvable when the request exceeds allocatable itself (preemption cannot help)."""
    n = NodeInfo("machine1", allocatable=ALLOC)
    status = F.node_resources_fit(pod("p", cpu=11), n, Snapshot((n,)))
    assert status is not None and status.code is UU


# --- podtopologyspread/filtering_test.go TestSingleConstraint ---------------------------------------------------
def _spread_nodes(b_has_zone: bool = True) -> tuple[NodeInfo, ...]:
    return (
        node("node-a", {"zone": "zone1", "node": "node-a"}),
        node("node-b", {"zone": "zone1", "node": "node-b"} if b_has_zone else {"node": "node-b"}),
        node("node-x", {"zone": "zone2", "node": "node-x"}),
        node("node-y", {"zone": "zone2", "node": "node-y"}),
    )


def _spread_pod(key: str, max_skew: int, min_domains: int | None = None):  # noqa: ANN202
    c = TopologySpreadConstraint(max_skew, key, "DoNotSchedule", expr("foo", "Exists"), min_domains)
    return pod("p", {"foo": ""}, topology_spread_constraints=(c,))


def _existing(spec: dict[str, int]) -> tuple:
    return tuple(pod(f"p-{n[-1]}{i}", {"foo": ""}, on=n) for n, k in spec.items() for i in range(k))


SPREAD_CASES = [
    ("no existing pods", "zone", 1, None, {}, True, {"node-a": None, "node-b": None, "node-x": None, "node-y": None}),
    (
        "pods spread across zones as 1/2 due to absence of label 'zone' on node-b",
        "zone",
        1,
        None,
        {"node-a": 1, "node-b": 1, "node-y": 2},
        False,
        {
            "node-a": None,
            "node-b": (UU, F.REASON_SPREAD_LABEL),
            "node-x": (U, F.REASON_SPREAD),
            "node-y": (U, F.REASON_SPREAD),
        },
    ),
    (
        "pods spread across nodes as 2/1/0/3, only node-x fits",
        "node",
        1,
        None,
        {"node-a": 2, "node-b": 1, "node-y": 3},
        True,
        {
            "node-a": (U, F.REASON_SPREAD),
            "node-b": (U, F.REASON_SPREAD),
            "node-x": None,
            "node-y": (U, F.REASON_SPREAD),
        },
    ),
    (
        "pods spread across nodes as 2/1/0/3, maxSkew is 2, node-b and node-x fit",
        "node",
        2,
        None,
        {"node-a": 2, "node-b": 1, "node-y": 3},
        True,
        {"node-a": (U, F.REASON_SPREAD), "node-b": None, "node-x": None, "node-y": (U, F.REASON_SPREAD)},
    ),
    (
        "pods spread across zones as 2/2 with minDomains 3: the global minimum is 0",
        "zone",
        2,
        3,
        {"node-a": 1, "node-b": 1, "node-x": 1, "node-y": 1},
        True,
        {n: (U, F.REASON_SPREAD) for n in ("node-a", "node-b", "node-x", "node-y")},
    ),
]


@pytest.mark.parametrize(
    ("name", "key", "skew", "min_domains", "existing", "b_zone", "want"),
    SPREAD_CASES,
    ids=[c[0][:60] for c in SPREAD_CASES],
)
def test_pod_topology_spread_filter(
    name: str, key: str, skew: int, min_domains: int | None, existing: dict, b_zone: bool, want: dict
) -> None:
    snap = Snapshot(_spread_nodes(b_zone), _existing(existing))
    p = _spread_pod(key, skew, min_domains)
    state = prefilter(p, snap)
    for n in snap.nodes:
        status = F.pod_topology_spread(p, n, state)
        assert (None if status is None else (status.code, status.reason)) == want[n.name], n.name


def test_spread_counts_only_the_same_namespace() -> None:
    """filtering_test.go: 'existing pods in a different namespace do not count' (countPodsMatchSelector)."""
    nodes = _spread_nodes()
    other_ns = tuple(pod(f"q{i}", {"foo": ""}, on="node-a", namespace="ns2") for i in range(3))
    p = _spread_pod("zone", 1)
    snap = Snapshot(nodes, other_ns)
    assert all(run_filters(p, n, snap) is None for n in nodes)


# --- interpodaffinity/filtering_test.go TestRequiredAffinitySingleNode ------------------------------------------
LABELS1 = {"region": "r1", "zone": "z11"}


def _ipa(incoming, existing=()):  # noqa: ANN001, ANN202
    n = NodeInfo("node1", pairs(LABELS1), allocatable=Resources(0, 0, 0, 110))
    snap = Snapshot((n,), tuple(existing))
    return run_filters(incoming, n, snap)


SECURITY = {"service": "securityscan"}


def test_no_required_affinity_fits_empty_node() -> None:
    """'A pod that has no required pod affinity scheduling rules can schedule onto a node with no existing pods'."""
    assert _ipa(pod("p")) is None


@pytest.mark.parametrize(
    ("name", "sel", "namespaces", "fits"),
    [
        (
            "satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In operator",
            expr("service", "In", "securityscan", "value2"),
            ("default",),
            True,
        ),
        (
            "satisfies the pod with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using not in "
            "operator",
            expr("service", "NotIn", "securityscan3", "value3"),
            ("default",),
            True,
        ),
        (
            "Does not satisfy the PodAffinity with labelSelector because of diff Namespace",
            expr("service", "In", "securityscan", "value2"),
            ("DiffNameSpace",),
            False,
        ),
        (
            "Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod",
            expr("service", "In", "antivirusscan", "value2"),
            ("default",),
            False,
        ),
    ],
)
def test_required_pod_affinity(name: str, sel, namespaces: tuple[str, ...], fits: bool) -> None:  # noqa: ANN001
    incoming = pod("p", affinity=Affinity(pod_required=(term("region", sel, namespaces),)))
    status = _ipa(incoming, [pod("e", SECURITY, on="node1")])
    if fits:
        assert status is None
    else:
        assert status == F.FilterFailure("InterPodAffinity", (F.REASON_POD_AFFINITY,), UU)


def test_pod_anti_affinity_of_the_incoming_pod() -> None:
    """'Doesn't satisfy the PodAntiAffinity because of matching labelSelector with the existing pod'."""
    incoming = pod("p", affinity=Affinity(anti_required=(term("zone", expr("service", "In", "securityscan")),)))
    status = _ipa(incoming, [pod("e", SECURITY, on="node1")])
    assert status == F.FilterFailure("InterPodAffinity", (F.REASON_POD_ANTI_AFFINITY,), U)


def test_existing_pods_anti_affinity_symmetry() -> None:
    """'satisfies the PodAntiAffinity with existing pod but doesn't satisfy PodAntiAffinity symmetry with incoming
    pod': the existing pod's anti-affinity selects the incoming pod."""
    existing = pod(
        "e", SECURITY, on="node1", affinity=Affinity(anti_required=(term("zone", selector(service="antivirusscan")),))
    )
    status = _ipa(pod("p", {"service": "antivirusscan"}), [existing])
    assert status == F.FilterFailure("InterPodAffinity", (F.REASON_EXISTING_ANTI_AFFINITY,), U)


def test_first_pod_of_a_self_affine_group() -> None:
    """'pod matches its own Label in PodAffinity and there are no matching pods': allowed (the first-pod rule)."""
    incoming = pod("p", SECURITY, affinity=Affinity(pod_required=(term("region", selector(**SECURITY)),)))
    assert _ipa(incoming) is None
    not_self = pod("p", {"service": "x"}, affinity=Affinity(pod_required=(term("region", selector(**SECURITY)),)))
    assert _ipa(not_self) == F.FilterFailure("InterPodAffinity", (F.REASON_POD_AFFINITY,), UU)


def test_missing_label_selector_matches_nothing() -> None:
    """A term without labelSelector selects no pod (LabelSelectorAsSelector(nil) is labels.Nothing())."""
    incoming = pod("p", affinity=Affinity(anti_required=(term("zone", None),)))
    assert _ipa(incoming, [pod("e", SECURITY, on="node1")]) is None
