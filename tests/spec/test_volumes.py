"""Persistent volumes: parsing with upstream's messages, the PV controller, the provisioner, VolumeBinding, the
kubelet's wait, StatefulSet claim templates; the properties hold on the built-in scenarios and fail on broken
components."""

from __future__ import annotations

import attrs
import pytest
from click.testing import CliRunner

from checker import check
from checker.cli import main
from checker.errors import InputError
from spec import volume_properties as vp
from spec.cluster import initial_state
from spec.model import ClusterModel
from spec.scenario import builtin, parse, with_overrides
from spec.state import (
    ANN_BIND_COMPLETED,
    ClaimRef,
    PersistentVolume,
    PersistentVolumeClaim,
    PersistentVolumeStatus,
    StatefulSet,
    StorageClass,
)

NODE = """apiVersion: v1
kind: Node
metadata: {name: node-a}
status: {allocatable: {cpu: "2", memory: 2Gi, pods: "110"}}
"""
CLASS = """apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: csi.example.com
"""
CLAIM = """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
"""
POD = """apiVersion: v1
kind: Pod
metadata: {name: db}
spec:
  containers: [{name: db, image: postgres:16}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: data}}
  - {name: config, configMap: {name: db-config}}
"""
LOCAL_PV = """apiVersion: v1
kind: PersistentVolume
metadata: {name: local-a}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: local-storage
  local: {path: /mnt/disks/ssd1}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [node-a]}]
"""


def scenario(*docs: str, extra: str = "") -> str:
    head = "apiVersion: kubespec.dev/v1\nkind: Scenario\nmetadata: {name: volumes}\nspec: {" + extra + "}\n"
    return "---\n".join((head, NODE, *docs))


# --- parsing ---------------------------------------------------------------------------------------------------


def test_claims_volumes_and_classes_parse_with_the_default_class() -> None:
    objects = parse(scenario(CLASS, CLAIM, POD, LOCAL_PV), "v.yaml").config.objects
    cls = next(o for o in objects if isinstance(o, StorageClass))
    claim = next(o for o in objects if isinstance(o, PersistentVolumeClaim))
    volume = next(o for o in objects if isinstance(o, PersistentVolume))
    pod = next(o for o in objects if getattr(o, "info", None) is not None and o.meta.name == "db")
    assert (cls.provisioner, cls.reclaim_policy, cls.volume_binding_mode) == ("csi.example.com", "Delete",
                                                                             "Immediate")
    assert (claim.storage_class, claim.request, claim.access_modes) == ("standard", 1 << 30, ("ReadWriteOnce",))
    assert (volume.hostnames, volume.node_affinity, volume.status.phase) == (("node-a",), None, "Available")
    assert pod.info.claims == ("data",)  # type: ignore[union-attr]


def test_no_default_class_leaves_the_claim_without_class() -> None:
    objects = parse(scenario(CLAIM), "v.yaml").config.objects
    assert next(o for o in objects if isinstance(o, PersistentVolumeClaim)).storage_class == ""


@pytest.mark.parametrize(("doc", "edit", "message"), [
    (CLAIM, ("accessModes: [ReadWriteOnce]", "accessModes: []"),
     "spec.accessModes: Required value: at least 1 access mode is required"),
    (CLAIM, ("[ReadWriteOnce]", "[ReadWriteSometimes]"),
     'spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", '
     '"ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'),
    (CLAIM, ("{storage: 1Gi}", "{cpu: 1}"), "spec.resources[storage]: Required value"),
    (CLAIM, ("{storage: 1Gi}", "{storage: 0}"), 'spec.resources[storage]: Invalid value: "0": must be greater'),
    (CLAIM, ("resources:", "selector: {matchLabels: {a: b}}\n  resources:"), "spec.selector: not modelled"),
    (LOCAL_PV, ("  local: {path: /mnt/disks/ssd1}\n", ""), "spec: Required value: must specify a volume type"),
    (LOCAL_PV, ("  nodeAffinity:", "  nodeAffinityX:"), "unknown field"),
    (LOCAL_PV, ("storageClassName: local-storage", "storageClassName: local-storage\n  "
                "persistentVolumeReclaimPolicy: Recycle"), "Recycle is not modelled"),
    (LOCAL_PV, ("storageClassName: local-storage", "storageClassName: local-storage\n  "
                "persistentVolumeReclaimPolicy: Keep"), 'spec.persistentVolumeReclaimPolicy: Unsupported value: '
     '"Keep": supported values: "Delete", "Recycle", "Retain"'),
    (CLASS, ("provisioner: csi.example.com", "provisioner: csi.example.com\nvolumeBindingMode: Later"),
     'volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"'),
    (CLASS, ("provisioner: csi.example.com", "reclaimPolicy: Delete"), "provisioner: Required value"),
    (CLASS, ("storage.k8s.io/v1", "storage.k8s.io/v1beta1"), "storage.k8s.io/v1beta1"),
    (POD, ("claimName: data", "readOnly: true"), "spec.volumes[0].persistentVolumeClaim.claimName: Required value"),
    (POD, ("name: config,", "name: data,"), 'spec.volumes[1].name: Duplicate value: "data"'),
    (POD, ("{name: config, configMap: {name: db-config}}", "{name: scratch, ephemeral: {volumeClaimTemplate: {}}}"),
     "generic ephemeral volumes are not modelled"),
])
def test_bad_documents_are_refused_with_upstreams_message(doc: str, edit: tuple[str, str], message: str) -> None:
    bad = doc.replace(*edit)
    assert bad != doc
    with pytest.raises(InputError) as err:
        parse(scenario(bad), "v.yaml")
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_local_volume_without_node_affinity_is_refused() -> None:
    bad = LOCAL_PV[:LOCAL_PV.index("  nodeAffinity:")]
    with pytest.raises(InputError, match="spec.nodeAffinity: Required value: Local volume requires node affinity"):
        parse(scenario(bad), "v.yaml")


def test_a_statefulset_retention_policy_other_than_retain_is_refused() -> None:
    from importlib import resources

    text = resources.files("spec.scenarios").joinpath("statefulset-volumes.yaml").read_text()
    raw = text.replace("  serviceName: db", "  serviceName: db\n  persistentVolumeClaimRetentionPolicy: "
                                                        "{whenDeleted: Delete}")
    with pytest.raises(InputError, match="whenDeleted: only Retain"):
        parse(raw, "sts.yaml")


def test_the_command_line_answers_bad_input_in_one_line(tmp_path: object) -> None:
    path = f"{tmp_path}/bad.yaml"
    with open(path, "w") as f:
        f.write(scenario(CLAIM.replace("[ReadWriteOnce]", "[]")))
    result = CliRunner().invoke(main, ["check", path])
    assert result.exit_code == 2
    assert "spec.accessModes: Required value" in result.output and "Traceback" not in result.output


def test_statefulset_claim_templates_are_created_before_the_pod() -> None:
    sts = next(o for o in builtin("statefulset-volumes").config.objects if isinstance(o, StatefulSet))
    assert [c.meta.name for c in sts.volume_claim_templates] == ["data"]
    assert sts.volume_claim_templates[0].storage_class == "fast"  # the default class, by admission


# --- the model -------------------------------------------------------------------------------------------------


def verdict(result: object, name: str) -> str:
    """The verdict of the property ``name`` ("holds", "violated", "vacuous", "unchecked")."""
    return str(next(p.status for p in result.properties if p.name == name))  # type: ignore[attr-defined]


def _check(text: str, **kw: object) -> object:
    s = parse(text, "v.yaml")
    return check(ClusterModel(s.config, s.reductions), **kw)  # type: ignore[arg-type]


def test_a_claim_deleted_under_reclaim_policy_delete_loses_its_volume() -> None:
    """pvc-delete-reclaim holds, and once the claim is gone and nothing is left to do, its volume is gone too."""
    s = builtin("pvc-delete-reclaim")
    model = ClusterModel(s.config, s.reductions)
    result = check(model)
    assert result.status == "ok", result.verdict()
    from checker import leads_to

    model.properties = (leads_to(
        "VolumeDeletedAfterClaim",
        lambda st: "persistentvolumeclaims/default/data" not in st.etcd.objects and any(
            k.startswith("persistentvolumes/") for k in st.etcd.objects),
        lambda st: not any(k.startswith("persistentvolumes/") for k in st.etcd.objects)),)
    reclaimed = check(model)
    assert reclaimed.status == "ok", reclaimed.verdict()
    assert verdict(reclaimed, "VolumeDeletedAfterClaim") == "holds"  # not vacuous


POD_WITH_CLAIM = scenario(CLASS, CLAIM, POD)


def test_a_pod_with_a_provisioned_claim_runs_once_bound() -> None:
    result = _check(POD_WITH_CLAIM)
    assert result.status == "ok", result.verdict()  # type: ignore[attr-defined]
    assert verdict(result, "ClaimsEventuallyBound") == "holds"


PINNED = scenario(CLASS, CLAIM, POD.replace("  containers:", "  nodeName: node-a\n  containers:"))
"""The pod names its node: no scheduler waits for its claim, only the kubelet does."""


def test_a_pod_bound_by_hand_starts_only_once_its_claim_is_bound() -> None:
    result = _check(PINNED)
    assert result.status == "ok", result.verdict()  # type: ignore[attr-defined]


def test_a_kubelet_that_does_not_wait_for_the_claim_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    import spec.kubelet

    memos = (spec.kubelet._outcomes, spec.kubelet._has_work, spec.kubelet._has_effective_work)
    monkeypatch.setattr(spec.kubelet, "pod_volumes_ready", lambda pod, etcd: True)
    for memo in memos:
        memo.cache_clear()  # the kubelets' steps are memoised: none from the real check
    try:
        result = _check(PINNED)
    finally:
        for memo in memos:
            memo.cache_clear()  # nor from this one for the tests after it
    assert result.status == "violation" and result.violation.property == "PodRunsOnlyWithBoundClaims"  # type: ignore


def test_a_provisioner_that_never_provisions_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    import spec.controllers.provisioner as prov

    monkeypatch.setattr(prov, "to_provision", lambda etcd, name: iter(()))
    result = _check(scenario(CLASS, CLAIM))
    assert result.status == "violation" and result.violation.property == "ClaimsEventuallyBound"  # type: ignore


def test_a_scheduler_that_ignores_volume_node_affinity_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    import spec.scheduler
    import spec.scheduling.volumebinding as vb

    monkeypatch.setattr(vb, "node_affinity_matches", lambda volume, node: True)
    s = builtin("statefulset-local-volumes")
    spec.scheduler._outcomes.cache_clear()  # the schedulers' steps are memoised: none from the real check
    try:
        result = check(ClusterModel(s.config, s.reductions))
    finally:
        spec.scheduler._outcomes.cache_clear()  # nor from this one for the tests after it
    assert result.status == "violation" and result.violation.property == "PodsRunOnTheirVolumesNodes", \
        result.verdict()


def test_double_binding_is_seen() -> None:
    state = initial_state(parse(POD_WITH_CLAIM, "v.yaml").config)
    assert vp.no_double_binding(state)
    claim = state.etcd.objects["persistentvolumeclaims/default/data"]
    assert isinstance(claim, PersistentVolumeClaim)
    bound = attrs.evolve(claim, volume_name="pv-1", meta=attrs.evolve(
        claim.meta, annotations=((ANN_BIND_COMPLETED, "yes"),)))
    twin = attrs.evolve(bound, meta=attrs.evolve(bound.meta, name="data-2", uid=99))
    volume = PersistentVolume(attrs.evolve(claim.meta, name="pv-1", namespace=""), 1 << 30, ("ReadWriteOnce",),
                              claim_ref=ClaimRef("default", "data", claim.meta.uid),
                              status=PersistentVolumeStatus("Bound"))
    objects = state.etcd.objects.set("persistentvolumeclaims/default/data", bound).set(
        "persistentvolumeclaims/default/data-2", twin).set("persistentvolumes/pv-1", volume)
    broken = state._with(etcd=attrs.evolve(state.etcd, objects=objects))
    assert not vp.no_double_binding(broken)
    assert "claims data and data-2 are both bound to volume pv-1" in (vp.double_binding(broken) or "")


def test_the_stale_claim_variant_is_refuted_with_a_readable_trace() -> None:
    """kubernetes#66287: the scheduler binds local-a to data-db-0 before the PV controller's claim informer has the
    claim; without the live GET of #67062 the controller releases the volume."""
    s = with_overrides(builtin("statefulset-local-volumes"), ("pv-release-stale-claim",))
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "violation" and result.violation.property == "VolumeNotReleasedWhileClaimed"
    last = result.violation.trace[-1].state
    assert vp.released_while_claimed(last) == "volume local-a is Released while its claim data-db-0 exists" or \
        vp.released_while_claimed(last) == "volume local-b is Released while its claim data-db-0 exists"
    from spec import actions as A

    described = [A.describe(step.action) for step in result.violation.trace[1:]]
    assert any("VolumeBinding PreBind" in d for d in described)


@pytest.mark.slow
def test_static_local_volumes_hold() -> None:
    s = builtin("statefulset-local-volumes")
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    for name in ("NoDoubleVolumeBinding", "PodRunsOnlyWithBoundClaims", "ClaimsEventuallyBound",
                 "PodsRunOnTheirVolumesNodes", "VolumeNotReleasedWhileClaimed"):
        assert verdict(result, name) == "holds", name


@pytest.mark.slow
def test_a_statefulset_of_two_on_a_wait_for_first_consumer_class_holds() -> None:
    s = builtin("statefulset-volumes")
    result = check(ClusterModel(s.config, s.reductions))
    assert result.status == "ok", result.verdict()
    assert verdict(result, "ClaimsEventuallyBound") == "holds"


# --- the PVC protection controller, the components' enabled sets, the reductions ----------------------------------

IN_USE = scenario(CLASS, CLAIM, POD, extra='userActions: ["kubectl delete pvc data"]')
"""The user deletes the claim of a pod: kubernetes.io/pvc-protection keeps it while the pod exists."""


def test_a_claim_in_use_is_kept_until_no_pod_uses_it() -> None:
    result = _check(IN_USE)
    assert result.status == "ok", result.verdict()  # type: ignore[attr-defined]


def test_a_protection_controller_that_ignores_the_pod_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    import spec.controllers.pvcprotection as protection

    monkeypatch.setattr(protection, "in_use", lambda etcd, claim: False)
    result = _check(IN_USE)
    assert result.status == "violation" and result.violation.property == "PodRunsOnlyWithBoundClaims"  # type: ignore


@pytest.mark.parametrize("name", ["pvc-delete-reclaim", "statefulset-local-volumes", "statefulset-volumes"])
def test_each_components_enabled_set_is_its_steps_actors(name: str) -> None:
    from spec.cluster import COMPONENTS
    from spec.reduction import NONE

    config = builtin(name).config
    model = ClusterModel(config, NONE)
    frontier = list(model.init_states())
    seen = set(frontier)
    while frontier and len(seen) < 800:
        state = frontier.pop(0)
        for c in COMPONENTS:
            stepped = {a.actor for a, t in c.steps(state, config) if t != state}
            assert c.enabled(state, config) == stepped, (c.name, c.enabled(state, config), stepped)
        for _, t in model.successors(state):
            if t not in seen:
                seen.add(t)
                frontier.append(t)
    assert len(seen) >= 200


@pytest.mark.parametrize("text", [PINNED, IN_USE], ids=["pinned", "in-use"])
def test_the_reductions_keep_every_verdict(text: str) -> None:
    from spec.reduction import NONE

    s = parse(text, "v.yaml")
    reduced = check(ClusterModel(s.config, s.reductions))
    plain = check(ClusterModel(s.config, NONE))
    assert [(p.name, p.status) for p in reduced.properties] == [(p.name, p.status) for p in plain.properties]
