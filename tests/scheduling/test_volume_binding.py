"""``kubespec schedule`` with PersistentVolumeClaims: VolumeBinding pod by pod (PreFilter, Filter, Reserve) on the
claims, volumes and classes of a bundle or dump, a StatefulSet's volumeClaimTemplates as its pods' claims, upstream's
FailedScheduling messages (volume_binding.go, binder.go), and hostile inputs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.errors import InputError
from spec.scheduling.cli import schedule
from spec.scheduling.filters import run_filters
from spec.scheduling.kube_scheduler import schedule as kube_schedule
from spec.scheduling.manifests import parse_manifests
from spec.scheduling.smt import solve
from spec.scheduling.snapshot import Snapshot
from spec.scheduling.storage import Storage, claim_choices, storage_of
from spec.scheduling.types import (
    HOSTNAME_LABEL,
    NodeInfo,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodInfo,
    Resources,
    pairs,
)
from spec.scheduling.volumebinding import REASON_BIND_CONFLICT, decide, find_matching_volume, verdict
from spec.state import (
    ANN_BIND_COMPLETED,
    ClaimRef,
    Meta,
    PersistentVolume,
    PersistentVolumeClaim,
    PersistentVolumeStatus,
    StorageClass,
)

NOT_HELPFUL = " preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."


def _node(name: str, extra: str = "") -> str:
    return (f"apiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}, "
            f"topology.kubernetes.io/zone: z-{name}}}}}\n{extra}"
            'status: {allocatable: {cpu: "4", memory: 8Gi, pods: "110"}}\n')


NODES = "---\n".join(_node(n) for n in ("n1", "n2", "n3"))
LOCAL = """apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
"""
FAST = """apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: fast}
provisioner: ebs.csi.aws.com
volumeBindingMode: WaitForFirstConsumer
"""
IMMEDIATE = """apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: standard, annotations: {storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: pd.csi.storage.gke.io
"""


def _pv(name: str, node: str, size: str = "10Gi", cls: str = "local", extra: str = "") -> str:
    return f"""apiVersion: v1
kind: PersistentVolume
metadata: {{name: {name}}}
spec:
  capacity: {{storage: {size}}}
  accessModes: [ReadWriteOnce]
  storageClassName: {cls}
  local: {{path: /mnt/disks/{name}}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {{key: kubernetes.io/hostname, operator: In, values: [{node}]}}
{extra}"""


def _claim(name: str, cls: str | None = "local", size: str = "5Gi", meta: str = "", spec: str = "",
           status: str = "") -> str:
    class_line = f"  storageClassName: {cls}\n" if cls is not None else ""
    return (f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {name}{meta}}}\nspec:\n"
            f"  accessModes: [ReadWriteOnce]\n{class_line}  resources: {{requests: {{storage: {size}}}}}\n{spec}"
            f"{status}")


def _pod(name: str, *claims: str, extra: str = "") -> str:
    volumes = "".join(f"  - {{name: v{i}, persistentVolumeClaim: {{claimName: {c}}}}}\n" for i, c in enumerate(claims))
    return (f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n"
            f"  containers: [{{name: c, image: x, resources: {{requests: {{cpu: 100m}}}}}}]\n{extra}"
            + (f"  volumes:\n{volumes}" if claims else ""))


def _statefulset(replicas: int, cls: str = "local") -> str:
    return f"""apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  replicas: {replicas}
  serviceName: db
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers: [{{name: c, image: x, resources: {{requests: {{cpu: 100m}}}}}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: {cls}
      resources: {{requests: {{storage: 5Gi}}}}
"""


def _run(tmp_path: Path, *docs: str, args: tuple[str, ...] = ()) -> tuple[int, dict[str, dict[str, object]], str]:
    f = tmp_path / "bundle.yaml"
    f.write_text("---\n".join(docs))
    result = CliRunner().invoke(schedule, ["-f", str(f), "--json", *args])
    if result.exit_code == 2:
        return 2, {}, result.stderr
    report = json.loads(result.stdout)
    return result.exit_code, {p["pod"]: p for p in report["pods"]}, result.stderr


def test_local_volume_statefulset_goes_to_the_volumes_nodes(tmp_path: Path) -> None:
    # without volumes, the ties would put db-0 on n1; the local volumes are on n3 and n2
    code, pods, err = _run(tmp_path, NODES, LOCAL, _pv("pv-x", "n3"), _pv("pv-y", "n2"), _statefulset(2))
    assert code == 0, err
    assert {k: p["node"] for k, p in pods.items()} == {"default/db-0": "n2", "default/db-1": "n3"}
    assert "storage capacity (CSIStorageCapacity)" in err


def test_statefulset_claims_are_named_as_the_controller_names_them_and_existing_ones_are_used() -> None:
    # data-db-0 exists, bound to pv-x on n3 (a dump); data-db-1 is created from the template
    bound = _claim("data-db-0", meta=", annotations: {pv.kubernetes.io/bind-completed: 'yes'}",
                   spec="  volumeName: pv-x\n", status="status: {phase: Bound}\n")
    volume = _pv("pv-x", "n3", extra="  claimRef: {name: data-db-0, namespace: default}\nstatus: {phase: Bound}\n")
    cluster = parse_manifests("---\n".join([NODES, LOCAL, volume, _pv("pv-y", "n1"), bound, _statefulset(2)]), "t")
    assert [p.claims for p in cluster.pods] == [("data-db-0",), ("data-db-1",)]
    assert cluster.storage is not None
    assert sorted(cluster.storage.claims) == ["persistentvolumeclaims/default/data-db-0",
                                              "persistentvolumeclaims/default/data-db-1"]
    outcome = kube_schedule(cluster.pending, cluster.snapshot(), storage=cluster.storage)
    assert {p.pod: p.node for p in outcome.placements} == {"default/db-0": "n3", "default/db-1": "n1"}


def test_unbound_immediate_claim_is_refused_with_upstreams_message(tmp_path: Path) -> None:
    code, pods, err = _run(tmp_path, NODES, IMMEDIATE, _claim("data", cls=None), _pod("web", "data"))
    assert code == 1
    assert pods["default/web"]["reason"] == (
        "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims." + NOT_HELPFUL
    )
    assert "PersistentVolumeClaim default/data: not bound and binds Immediate" in err


def test_prebound_claim_counts_as_immediate(tmp_path: Path) -> None:
    # GetPodVolumeClaims: spec.volumeName without the bind-completed annotation is "unbound immediate"
    code, pods, _ = _run(tmp_path, NODES, LOCAL, _pv("pv-x", "n2"), _claim("data", spec="  volumeName: pv-x\n"),
                         _pod("web", "data"))
    assert code == 1
    assert "pod has unbound immediate PersistentVolumeClaims" in str(pods["default/web"]["reason"])


def test_bound_volume_node_affinity_conflict(tmp_path: Path) -> None:
    bound = _claim("data", meta=", annotations: {pv.kubernetes.io/bind-completed: 'yes'}", spec="  volumeName: pv-x\n",
                   status="status: {phase: Bound}\n")
    volume = _pv("pv-x", "gone", extra="  claimRef: {name: data, namespace: default}\n")
    code, pods, _ = _run(tmp_path, NODES, LOCAL, volume, bound, _pod("web", "data"))
    assert code == 1
    assert pods["default/web"]["reason"] == (
        "0/3 nodes are available: 3 node(s) had volume node affinity conflict." + NOT_HELPFUL
    )
    # a cordoned node fails an earlier filter; the others the volume's node affinity
    cordoned = "---\n".join([_node("n1"), _node("n2", "spec: {unschedulable: true}\n"), _node("n3")])
    volume = _pv("pv-x", "n2", extra="  claimRef: {name: data, namespace: default}\n")
    code, pods, _ = _run(tmp_path, cordoned, LOCAL, volume, bound, _pod("web", "data"))
    assert pods["default/web"]["reason"] == (
        "0/3 nodes are available: 1 node(s) were unschedulable, 2 node(s) had volume node affinity conflict."
        + NOT_HELPFUL
    )


def test_wait_for_first_consumer_class_with_a_provisioner_places_freely(tmp_path: Path) -> None:
    code, pods, _ = _run(tmp_path, NODES, FAST, _statefulset(3, cls="fast"))
    assert code == 0
    assert sorted(str(p["node"]) for p in pods.values()) == ["n1", "n2", "n3"]  # spread as without claims
    cluster = parse_manifests("---\n".join([NODES, FAST, _statefulset(3, cls="fast")]), "t")
    outcome = kube_schedule(cluster.pending, cluster.snapshot(), storage=cluster.storage)
    assert outcome.storage is not None
    # Reserve: each provisioned claim has its pod's node as selected node
    placed = {p.pod.split("/")[1]: p.node for p in outcome.placements}
    assert {c.meta.name: c.selected_node for c in outcome.storage.claims.values()} == {
        f"data-{name}": node for name, node in placed.items()
    }


def test_a_static_volume_is_not_given_twice(tmp_path: Path) -> None:
    code, pods, _ = _run(tmp_path, NODES, LOCAL, _pv("pv-x", "n2"), _claim("a"), _claim("b"), _pod("p", "a"),
                         _pod("q", "b"))
    assert code == 1
    assert pods["default/p"]["node"] == "n2"
    assert pods["default/q"]["reason"] == (
        "0/3 nodes are available: 3 node(s) didn't find available persistent volumes to bind." + NOT_HELPFUL
    )


def test_a_shared_provisioned_claim_brings_its_second_pod_to_the_selected_node(tmp_path: Path) -> None:
    # the first pod's Reserve sets the claim's selected node: the second pod goes there (FindPodVolumes' fast path)
    anti = ("  affinity:\n    podAntiAffinity:\n      preferredDuringSchedulingIgnoredDuringExecution:\n"
            "      - weight: 100\n        podAffinityTerm:\n          topologyKey: kubernetes.io/hostname\n"
            "          labelSelector: {matchLabels: {app: s}}\n")
    p = _pod("p", "shared", extra=anti).replace("metadata: {name: p}", "metadata: {name: p, labels: {app: s}}")
    q = _pod("q", "shared", extra=anti).replace("metadata: {name: q}", "metadata: {name: q, labels: {app: s}}")
    code, pods, _ = _run(tmp_path, NODES, FAST, _claim("shared", cls="fast"), p, q)
    assert code == 0
    assert pods["default/p"]["node"] == pods["default/q"]["node"] == "n1"


def test_a_claim_naming_a_missing_class_binds_immediate(tmp_path: Path) -> None:
    code, pods, err = _run(tmp_path, NODES, LOCAL, _claim("data", cls="nope"), _pod("web", "data"))
    assert code == 1
    assert "pod has unbound immediate PersistentVolumeClaims" in str(pods["default/web"]["reason"])
    assert 'PersistentVolumeClaim default/data: StorageClass "nope" is not among the objects' in err


def test_a_bound_claim_whose_volume_is_missing(tmp_path: Path) -> None:
    annotated = ", annotations: {pv.kubernetes.io/bind-completed: 'yes'}"
    bound = _claim("data", meta=annotated, spec="  volumeName: gone\n", status="status: {phase: Bound}\n")
    code, pods, err = _run(tmp_path, NODES, LOCAL, bound, _pod("web", "data"))
    assert code == 1
    assert pods["default/web"]["reason"] == (
        "0/3 nodes are available: 3 node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)."
        + NOT_HELPFUL
    )
    assert 'bound to PersistentVolume "gone", which is not among the objects' in err
    lost = _claim("data", meta=annotated, spec="  volumeName: gone\n", status="status: {phase: Lost}\n")
    code, pods, _ = _run(tmp_path, NODES, LOCAL, lost, _pod("web", "data"))
    assert pods["default/web"]["reason"] == (
        '0/3 nodes are available: persistentvolumeclaim "data" bound to non-existent persistentvolume "gone".'
        + NOT_HELPFUL
    )


def test_a_missing_claim_and_a_claim_being_deleted(tmp_path: Path) -> None:
    code, pods, _ = _run(tmp_path, NODES, LOCAL, _pod("web", "nope"))
    assert pods["default/web"]["reason"] == (
        '0/3 nodes are available: persistentvolumeclaim "nope" not found.' + NOT_HELPFUL
    )
    deleting = _claim("data", meta=", deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: [kubernetes.io/pvc-"
                      "protection], uid: 0b1f, managedFields: []")
    code, pods, _ = _run(tmp_path, NODES, LOCAL, deleting, _pod("web", "data"))
    assert pods["default/web"]["reason"] == (
        '0/3 nodes are available: persistentvolumeclaim "data" is being deleted.' + NOT_HELPFUL
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_claim("data", size="0"), "(PersistentVolumeClaim data): spec.resources[storage]: Invalid value"),
        (_claim("data").replace("  accessModes: [ReadWriteOnce]\n", ""), "spec.accessModes: Required value"),
        (_claim("data") + "---\n" + _claim("data"), "PersistentVolumeClaim default/data is defined twice"),
        (_pv("pv-x", "n1").replace("  local: {path: /mnt/disks/pv-x}\n", ""), "must specify a volume type"),
        (LOCAL.replace("volumeBindingMode: WaitForFirstConsumer", "volumeBindingMode: Later"),
         'volumeBindingMode: Unsupported value: "Later"'),
        (_claim("data", spec="  volumeNam: x\n"), 'unknown field "spec.volumeNam"'),
        (_claim("data", status="status: {phase: Gone}\n"), "status.phase"),
    ],
)
def test_bad_storage_objects_are_one_line_and_exit_2(tmp_path: Path, doc: str, message: str) -> None:
    code, _, err = _run(tmp_path, NODES, LOCAL, doc)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: ") and message in err, err


def test_without_storage_classes_or_volumes_claims_are_warned_about_and_not_checked(tmp_path: Path) -> None:
    code, pods, err = _run(tmp_path, NODES, _claim("data", cls=None), _pod("web", "data"), _statefulset(1))
    assert code == 0 and pods["default/web"]["node"] and pods["default/db-0"]["node"]
    assert "(PersistentVolumeClaim data): volume binding is not checked" in err
    assert "(StatefulSet db): spec.volumeClaimTemplates (data): volume binding is not checked" in err
    assert "pod web: volumes v0: volume binding is not checked" not in err  # a Pod's warning names the Pod itself
    assert "(Pod web): volumes v0: volume binding is not checked" in err


def test_what_stays_unmodelled_is_warned_about(tmp_path: Path) -> None:
    selector = _claim("data", spec="  selector: {matchLabels: {disk: ssd}}\n")
    topologies = FAST.replace("volumeBindingMode", "allowedTopologies: [{matchLabelExpressions: [{key: "
                              "topology.kubernetes.io/zone, values: [z-n1]}]}]\nvolumeBindingMode")
    code, pods, err = _run(tmp_path, NODES, LOCAL, topologies, _pv("pv-x", "n2"), selector, _pod("web", "data"))
    assert code == 0 and pods["default/web"]["node"] == "n2"
    assert "spec.selector: label selectors on claims are not modelled" in err
    assert "(StorageClass fast): allowedTopologies: not modelled" in err


# --- the plugin's functions (spec.scheduling.volumebinding), as upstream's binder ---------------------------------


def _volume(name: str, node: str, size: int, claim: str = "", modes: tuple[str, ...] = ("ReadWriteOnce",)
            ) -> PersistentVolume:
    ref = ClaimRef("default", claim) if claim else None
    return PersistentVolume(Meta(name, namespace=""), size, modes, "local", "Retain", ref, None,
                            PersistentVolumeStatus("Available"), (node,))


def _pvc(name: str, size: int, modes: tuple[str, ...] = ("ReadWriteOnce",)) -> PersistentVolumeClaim:
    return PersistentVolumeClaim(Meta(name, uid=len(name)), modes, size, "local")


def test_prebound_volume_on_another_node_is_no_match_even_if_another_fits() -> None:
    node = NodeInfo("n1", pairs({"kubernetes.io/hostname": "n1"}))
    volumes = [_volume("a", "n2", 10, claim="data"), _volume("b", "n1", 10)]
    assert find_matching_volume(_pvc("data", 5), volumes, node, frozenset(), True) is None  # upstream: return nil
    assert find_matching_volume(_pvc("other", 5), volumes, node, frozenset(), True) == volumes[1]


def test_claims_are_matched_smallest_request_first() -> None:
    # byPVCSize: the 1-byte ReadWriteMany claim takes the small volume (the only one it fits) before the 4-byte
    # claim could; in the pod's order the 4-byte claim would take it (the smallest that fits) and leave none
    node = NodeInfo("n1", pairs({"kubernetes.io/hostname": "n1"}))
    volumes = [_volume("small", "n1", 5, modes=("ReadWriteMany", "ReadWriteOnce")), _volume("large", "n1", 10)]

    def get(key: str) -> None:
        return None

    reasons, static, _ = decide([_pvc("big", 4), _pvc("tiny", 1, ("ReadWriteMany",))], node, volumes, get)
    assert reasons == []
    assert sorted((c.meta.name, v.meta.name) for c, v in static) == [("big", "large"), ("tiny", "small")]
    reasons, _, _ = decide([_pvc("big", 8), _pvc("also", 9)], node, volumes, get)
    assert reasons == [REASON_BIND_CONFLICT]


# --- optimal mode ---------------------------------------------------------------------------------------------


def test_optimal_mode_gives_each_claim_a_volume_of_its_own(tmp_path: Path) -> None:
    # kube-scheduler puts p on n1 (ties: smallest name), taking the only volume q's larger claim fits; z3 puts p on n2
    docs = (NODES, LOCAL, _pv("pv-big", "n1", size="20Gi"), _pv("pv-small", "n2"), _claim("a"),
            _claim("b", size="20Gi"), _pod("p", "a"), _pod("q", "b"))
    code, pods, _ = _run(tmp_path, *docs)
    assert code == 1 and pods["default/p"]["node"] == "n1" and pods["default/q"]["node"] is None
    code, pods, _ = _run(tmp_path, *docs, args=("--mode", "optimal"))
    assert code == 0 and pods["default/p"]["node"] == "n2" and pods["default/q"]["node"] == "n1"


def test_optimal_mode_explains_a_claim_without_a_volume(tmp_path: Path) -> None:
    code, pods, _ = _run(tmp_path, NODES, LOCAL, _pv("pv-x", "n3"), _pv("pv-y", "n2"), _statefulset(3),
                         args=("--mode", "optimal"))
    assert code == 1
    assert sorted(str(p["node"]) for p in pods.values()) == ["None", "n2", "n3"]
    reason = next(str(p["reason"]) for p in pods.values() if p["node"] is None)
    assert "VolumeBinding: node(s) didn't find available persistent volumes to bind on n1" in reason
    assert "VolumeBinding: PersistentVolume pv-x binds one claim" in reason


def test_optimal_mode_restricts_pods_to_their_bound_volumes_nodes(tmp_path: Path) -> None:
    bound = _claim("data", meta=", annotations: {pv.kubernetes.io/bind-completed: 'yes'}", spec="  volumeName: pv-x\n",
                   status="status: {phase: Bound}\n")
    volume = _pv("pv-x", "n3", extra="  claimRef: {name: data, namespace: default}\n")
    code, pods, _ = _run(tmp_path, NODES, LOCAL, volume, bound, _pod("web", "data"), args=("--mode", "optimal"))
    assert code == 0 and pods["default/web"]["node"] == "n3"


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        ((_claim("shared"), _pod("p", "shared"), _pod("q", "shared")),
         "--mode optimal: claim default/shared is unbound and used by 2 pending pods"),
        ((_claim("a"), _claim("b"), _pod("p", "a", "b")),
         "--mode optimal: pod default/p has unbound claims default/a and default/b that may take the same volumes"),
    ],
)
def test_optimal_mode_refuses_what_it_does_not_encode_in_one_line(tmp_path: Path, docs: tuple[str, ...],
                                                                   message: str) -> None:
    code, _, err = _run(tmp_path, NODES, LOCAL, _pv("pv-x", "n2"), _pv("pv-y", "n3"), *docs, args=("--mode", "optimal"))
    assert code == 2 and err.startswith("error: " + message) and len(err.strip().splitlines()) == 1, err


@st.composite
def _volume_instances(draw: st.DrawFn) -> tuple[tuple[NodeInfo, ...], tuple[PodInfo, ...], Storage]:
    """2-3 nodes, up to 4 pods with up to 2 claims each (WaitForFirstConsumer: class local without provisioner,
    class fast with one; some claims already bound), up to 4 local volumes."""
    nodes = tuple(NodeInfo(f"n{i}", pairs({HOSTNAME_LABEL: f"n{i}"}), allocatable=Resources(4000, 8 << 30, 0, 110))
                  for i in range(draw(st.integers(2, 3))))
    volumes = []
    for j in range(draw(st.integers(0, 4))):
        host = draw(st.sampled_from([n.name for n in nodes]))
        terms = None
        if draw(st.booleans()):  # node affinity as terms (two nodes), not as the hostname shortcut
            other = draw(st.sampled_from([n.name for n in nodes]))
            terms = (NodeSelectorTerm((NodeSelectorRequirement(HOSTNAME_LABEL, "In", (host, other)),)),)
        volumes.append(PersistentVolume(Meta(f"v{j}", namespace=""), draw(st.sampled_from([5, 10])),
                                        ("ReadWriteOnce",), draw(st.sampled_from(["local", "local", "fast"])),
                                        "Retain", None, terms, PersistentVolumeStatus("Available"),
                                        None if terms else (host,)))
    claims = []
    pods = []
    for i in range(draw(st.integers(1, 4))):
        names = []
        for k in range(draw(st.integers(0, 2))):
            name = f"c{i}{k}"
            claim = PersistentVolumeClaim(Meta(name, uid=10 * i + k + 1), ("ReadWriteOnce",),
                                          draw(st.sampled_from([5, 10])), draw(st.sampled_from(["local", "fast"])))
            free = [v for v in volumes if v.claim_ref is None and v.storage_class == claim.storage_class]
            if free and draw(st.integers(0, 4)) == 0:  # already bound to a volume
                volume = free[0]
                volumes[volumes.index(volume)] = attrs.evolve(
                    volume, claim_ref=ClaimRef("default", name, claim.meta.uid), status=PersistentVolumeStatus("Bound"))
                claim = attrs.evolve(claim, volume_name=volume.meta.name,
                                     meta=attrs.evolve(claim.meta, annotations=((ANN_BIND_COMPLETED, "yes"),)))
            claims.append(claim)
            names.append(name)
        pods.append(PodInfo(f"p{i}", order=i, claims=tuple(names)))
    classes = (StorageClass(Meta("local", namespace=""), "kubernetes.io/no-provisioner",
                            volume_binding_mode="WaitForFirstConsumer"),
               StorageClass(Meta("fast", namespace=""), "ebs.csi.aws.com", volume_binding_mode="WaitForFirstConsumer"))
    return nodes, tuple(pods), storage_of(claims, volumes, classes)


def _admitted(order: Sequence[PodInfo], assignment: Mapping[str, str], snapshot: Snapshot, storage: Storage) -> bool:
    """kube-scheduler's plugin, pod after pod in ``order``: each passes every filter on its node, then Reserve."""
    for pod in order:
        node = snapshot.node_map[assignment[pod.key]]
        if run_filters(storage.annotate(pod, snapshot.nodes), node, snapshot) is not None:
            return False
        storage = storage.reserve(pod, node)
        snapshot = snapshot.assume(pod, node.name)
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_volume_instances())
def test_optimal_mode_equals_brute_force_over_scheduling_orders(instance: tuple[
        tuple[NodeInfo, ...], tuple[PodInfo, ...], Storage]) -> None:
    """The encoding is exact where it is not refused: z3's optimum equals the most pods some assignment places
    such that some order of kube-scheduler's cycles (VolumeBinding's Filter and Reserve) admits it."""
    nodes, pods, storage = instance
    snapshot = Snapshot(nodes)
    annotated = [storage.annotate(p, nodes) for p in pods]
    if claim_choices(storage, annotated, nodes)[1]:
        with pytest.raises(InputError):
            solve(pods, snapshot, storage=storage)
        return
    result = solve(pods, snapshot, storage=storage)
    assert result.proved_optimal
    assert any(_admitted(order, result.assignment, snapshot, storage)
               for order in itertools.permutations([p for p in pods if p.key in result.assignment]))
    best = 0
    for choice in itertools.product([None, *(n.name for n in nodes)], repeat=len(pods)):
        assignment = {p.key: n for p, n in zip(pods, choice, strict=True) if n is not None}
        if len(assignment) <= best:
            continue
        placed = [p for p in pods if p.key in assignment]
        if any(_admitted(order, assignment, snapshot, storage) for order in itertools.permutations(placed)):
            best = len(assignment)
    assert len(result.assignment) == best


def test_the_beta_storage_class_annotation_comes_before_storage_class_name(tmp_path: Path) -> None:
    # GetPersistentVolumeClaimClass: the annotation names class local (WaitForFirstConsumer, pv-x on n2)
    claim = _claim("data", cls="other", meta=", annotations: {volume.beta.kubernetes.io/storage-class: local}")
    code, pods, _ = _run(tmp_path, NODES, LOCAL, _pv("pv-x", "n2"), claim, _pod("web", "data"))
    assert code == 0 and pods["default/web"]["node"] == "n2"


@settings(max_examples=100, deadline=None)
@given(_volume_instances())
def test_annotate_node_by_node_equals_the_plugins_verdict_over_every_volume(instance: tuple[
        tuple[NodeInfo, ...], tuple[PodInfo, ...], Storage]) -> None:
    nodes, pods, storage = instance
    for pod in pods:
        whole = verdict(pod.claims, pod.namespace, nodes, storage.get, sorted(storage.volumes.values(),
                                                                              key=lambda v: v.meta.name))
        assert storage.annotate(pod, nodes).volume_binding == whole


EPHEMERAL_VOLUME = """  volumes:
  - name: scratch
    ephemeral:
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          storageClassName: local
          resources: {requests: {storage: 5Gi}}
"""


def test_a_generic_ephemeral_volume_gets_the_claim_its_controller_creates(tmp_path: Path) -> None:
    code, pods, _ = _run(tmp_path, NODES, LOCAL, _pv("pv-x", "n3"), _pod("web", extra=EPHEMERAL_VOLUME))
    assert code == 0 and pods["default/web"]["node"] == "n3"
    cluster = parse_manifests("---\n".join([NODES, LOCAL, _pv("pv-x", "n3"), _pod("web", extra=EPHEMERAL_VOLUME)]), "t")
    assert cluster.pods[0].claims == ("web-scratch",)


def test_an_ephemeral_volumes_claim_the_pod_does_not_control(tmp_path: Path) -> None:
    # ephemeral.VolumeIsForPod: a claim of that name owned by something else (or a pod not created yet)
    other = _claim("web-scratch", meta=", ownerReferences: [{apiVersion: v1, kind: Pod, name: web, uid: u-old, "
                   "controller: true}]")
    pod = _pod("web", extra=EPHEMERAL_VOLUME).replace("metadata: {name: web}", "metadata: {name: web, uid: u-new}")
    code, pods, _ = _run(tmp_path, NODES, LOCAL, _pv("pv-x", "n3"), other, pod)
    assert code == 1
    assert pods["default/web"]["reason"] == (
        "0/3 nodes are available: PVC default/web-scratch was not created for pod default/web (pod is not owner)."
        + NOT_HELPFUL
    )
    owned = other.replace("u-old", "u-new")
    code, pods, _ = _run(tmp_path, NODES, LOCAL, _pv("pv-x", "n3"), owned, pod)
    assert code == 0 and pods["default/web"]["node"] == "n3"


def test_the_volumes_example_in_both_modes() -> None:
    example = str(Path(__file__).resolve().parents[2] / "spec" / "scheduling" / "examples" / "volumes.yaml")
    for mode, placed in (("kube-scheduler", {"default/cache-0": "node-a", "default/db": None}),
                         ("optimal", {"default/cache-0": "node-b", "default/db": "node-a"})):
        result = CliRunner().invoke(schedule, ["-f", example, "--mode", mode, "--json"])
        report = json.loads(result.stdout)
        assert {p["pod"]: p["node"] for p in report["pods"]} == placed
        assert result.exit_code == (1 if mode == "kube-scheduler" else 0)
    assert report["kube_scheduler_missed"] == [{
        "pod": "default/db", "node": "node-a",
        "kube_scheduler": "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind. "
                          "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."}]


def test_the_report_lists_what_the_reserves_decided_for_claims(tmp_path: Path) -> None:
    f = tmp_path / "bundle.yaml"
    f.write_text("---\n".join([NODES, LOCAL, FAST, _pv("pv-x", "n2"), _claim("a"), _claim("b", cls="fast"),
                               _pod("p", "a"), _pod("q", "b")]))
    result = CliRunner().invoke(schedule, ["-f", str(f), "--json"])
    assert json.loads(result.stdout)["volumes"] == [
        {"claim": "default/a", "volume": "pv-x", "provisioned_on": None},
        {"claim": "default/b", "volume": None, "provisioned_on": "n1"},
    ]
    text = CliRunner().invoke(schedule, ["-f", str(f)]).stdout
    assert "  claim default/a -> volume pv-x\n  claim default/b -> provisioned on n1\n" in text
