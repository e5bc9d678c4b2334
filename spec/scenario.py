"""Scenarios: a YAML file of Kubernetes documents (Node, Deployment, ReplicaSet, ReplicationController, Pod,
StatefulSet, PodDisruptionBudget, Job, DaemonSet, CronJob) plus one ``kind: Scenario``
document (apiVersion kubespec.dev/v1) with fault budgets, read consistency, variants, properties, kubectl commands
and bounds. Every problem is an ``InputError`` naming the file, the document and the field.

Pod specs (requests, tolerations, affinity, host ports) are parsed by ``spec.scheduling.manifests``, the same
parser the scheduler tools use.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import attrs

from checker.errors import InputError
from checker.files import read_text
from checker.text import printable
from spec import kubectl
from spec import volume_manifests as volumes
from spec.apiserver import validate
from spec.config import Config
from spec.controllers.podgc import TERMINATED_POD_GC_THRESHOLD
from spec.properties import PROPERTIES
from spec.reduction import ALL, Reductions
from spec.scheduling.manifests import parse_label_selector, parse_node, parse_pod_spec
from spec.scheduling.types import HOSTNAME_LABEL, LabelSelector, pairs
from spec.state import (
    FINALIZER_KUBERNETES,
    Budget,
    Container,
    CronJob,
    CronJobStatus,
    DaemonSet,
    Deployment,
    Job,
    Meta,
    NamedPort,
    Namespace,
    Node,
    Object,
    Pod,
    PodDisruptionBudget,
    PodTemplate,
    ReplicaSet,
    ReplicationController,
    Service,
    ServicePort,
    StatefulSet,
    object_key,
)
from spec.strict import validate_object
from spec.variants import VARIANTS
from spec.warmup import START
from spec.yamldocs import yaml_documents

FAULTS = {
    "controllerManagerCrashes": "controller_manager_crashes",
    "schedulerCrashes": "scheduler_crashes",
    "kubeletRestarts": "kubelet_restarts",
    "apiServerRestarts": "api_server_restarts",
    "containerCrashes": "container_crashes",
    "nodeCrashes": "node_crashes",
    "nodeFailures": "node_failures",
    "nodePartitions": "node_partitions",
    "kubeProxyRestarts": "kube_proxy_restarts",
    "runtimeFailures": "runtime_failures",
    "apiServerPartitions": "api_server_partitions",
}
SCENARIO_FIELDS = ("faults", "consistency", "variants", "properties", "userActions", "bounds", "watchCacheSize",
                   "symmetry", "description", "podGC", "start",
                   "leaderElection", "apiServers")
SCENARIO_FIELDS = (*SCENARIO_FIELDS, "load")  # type: ignore[assignment]  # the HPAs' metrics (podautoscaler)
DEFAULT_SCENARIO = "web-two-nodes"
MAX_API_SERVERS = 5
"""The most kube-apiserver replicas a scenario takes (``spec.apiServers``): each adds a cache position per state."""
INT32_MAX = 2**31 - 1
"""Kubernetes' replica counts are int32 (apps/v1 DeploymentSpec.Replicas, ReplicaSetSpec.Replicas)."""
MAX_REPLICAS = 243
"""The most replicas the model takes: a third of its name space, the 27**2 = 729 names that generateName draws per
owner in spec/apiserver.py (room for a 100% surge and pods being deleted). Far beyond what exploration can finish."""


@attrs.frozen
class Scenario:
    name: str
    description: str
    config: Config
    max_states: int | None
    max_depth: int | None
    source: str
    reductions: Reductions = ALL
    """The scenario's ``symmetry: false`` turns node symmetry off; ``--no-reduction`` turns every reduction off."""
    ignored: tuple[str, ...] = ()
    """The documents read (and validated) but not modelled, as "KIND NAME": kinds no modelled component acts on
    (``IGNORED_KINDS``) and custom resources."""


IGNORED_KINDS = frozenset({
    "ServiceAccount", "ConfigMap", "Secret", "Ingress", "IngressClass", "NetworkPolicy", "Role", "ClusterRole",
    "RoleBinding", "ClusterRoleBinding", "ControllerRevision", "Event", "PodTemplate", "CustomResourceDefinition",
})
"""Built-in kinds an application bundle often holds that no modelled component acts on: a scenario reads them
(validated strictly, as everything else), ignores them and says so. The ServiceAccount and token controllers and
admission are abstracted away (pods start whatever their serviceAccountName); ConfigMaps and Secrets matter to
containers, not to the control plane the model checks; RBAC, Ingress and NetworkPolicy are enforced outside it.
PersistentVolumeClaims, PersistentVolumes and StorageClasses are modelled (``spec.controllers.persistentvolume``)."""

NOT_MODELLED = {
    "LimitRange": "its admission would change the pods' requests",
    "ResourceQuota": "its admission could refuse pods",
    "PriorityClass": "the scheduler's preemption is modelled in `kubespec schedule`, not in the model checker",
    "RuntimeClass": "its admission would change the pods' overhead, nodeSelector and tolerations",
    "EndpointSlice": "the EndpointSlice controller writes the slices of Services with a selector; a Service "
                     "without one is not modelled",
    "Endpoints": "the EndpointSlice controller writes the slices of Services with a selector",
}
"""Built-in kinds that would change the behaviour the model checks if they were ignored: refused, saying why."""


def _keys(doc: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in doc:
        if key not in allowed:
            raise InputError(f"{where}: unknown field {key!r} (known: {', '.join(allowed)})")


def _map(doc: dict[str, Any], key: str, where: str, required: bool = False) -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        if required:
            raise InputError(f"{where}.{key}: required")
        return {}
    if not isinstance(value, dict):
        raise InputError(f"{where}.{key}: expected a mapping, got {value!r}")
    return value


def _int(doc: dict[str, Any], key: str, where: str, default: int) -> int:
    value = doc.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"{where}.{key}: expected a non-negative integer, got {value!r}")
    return value


def check_replicas(replicas: int, where: str) -> None:
    """A replica count within Kubernetes' int32 and within what the model can name (MAX_REPLICAS)."""
    if replicas > INT32_MAX:
        raise InputError(f"{where}: {replicas} does not fit in int32 (Kubernetes: at most {INT32_MAX})")
    if replicas > MAX_REPLICAS:
        raise InputError(
            f"{where}: {replicas} replicas is beyond the model's limit of {MAX_REPLICAS} (a third of the 729 pod "
            "names generateName draws per owner in spec/apiserver.py)"
        )


def _int_or_percent(value: Any, where: str) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.endswith("%") and value[:-1].isdigit():
        return value
    raise InputError(f"{where}: expected an integer or a percentage like '25%', got {value!r}")


def _meta(doc: dict[str, Any], where: str) -> Meta:
    metadata = _map(doc, "metadata", where, required=True)
    _keys(metadata, ("name", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation",
                     "creationTimestamp"), f"{where}: metadata")
    name = metadata.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: metadata.name: required")
    namespace = metadata.get("namespace") or "default"
    labels = _string_pairs(metadata, "labels", f"{where}: metadata")
    annotations = _string_pairs(metadata, "annotations", f"{where}: metadata")
    return Meta(name=name, namespace=str(namespace), labels=labels, annotations=annotations)


def _string_pairs(doc: dict[str, Any], key: str, where: str) -> tuple[tuple[str, str], ...]:
    raw = _map(doc, key, where)
    for k, v in raw.items():
        if not isinstance(v, str | int | float) or isinstance(v, bool):
            raise InputError(f"{where}.{key}.{k}: expected a string, got {v!r}")
    return pairs({str(k): str(v) for k, v in raw.items()})


def _containers(spec: dict[str, Any], where: str) -> tuple[Container, ...]:
    raw = spec.get("containers")
    if not isinstance(raw, list) or not raw:
        raise InputError(f"{where}.containers: a pod needs at least one container")
    out = []
    for i, c in enumerate(raw):
        if not isinstance(c, dict):
            raise InputError(f"{where}.containers[{i}]: expected a mapping, got {c!r}")
        name, image = c.get("name"), c.get("image")
        if not isinstance(name, str) or not name:
            raise InputError(f"{where}.containers[{i}].name: required")
        if not isinstance(image, str) or not image:
            raise InputError(f"{where}.containers[{i}].image: required")
        out.append(Container(name, image, _named_ports(c, f"{where}.containers[{i}]")))
    return tuple(out)


def _named_ports(container: dict[str, Any], where: str) -> tuple[NamedPort, ...]:
    """The container's named ports, as a Service's named targetPort finds them (FindPort, pkg/api/v1/pod/util.go;
    pkg/apis/core/validation validateContainerPorts: names unique, an IANA_SVC_NAME)."""
    raw = container.get("ports") or []
    if not isinstance(raw, list):
        raise InputError(f"{where}.ports: expected a list, got {printable(raw)}")
    out: list[NamedPort] = []
    for j, p in enumerate(raw):
        pw = f"{where}.ports[{j}]"
        if not isinstance(p, dict):
            raise InputError(f"{pw}: expected a mapping, got {printable(p)}")
        number = p.get("containerPort")
        if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
            raise InputError(f"{pw}.containerPort: Invalid value: {printable(number)}: must be between 1 and 65535, "
                             "inclusive")
        name = p.get("name")
        if name is None or name == "":
            continue
        problem = _iana_svc_name(name)
        if problem:
            raise InputError(f'{pw}.name: Invalid value: "{printable(name)}": {problem}')
        if any(q.name == name for q in out):
            raise InputError(f'{pw}.name: Duplicate value: "{name}"')
        protocol = p.get("protocol", "TCP")
        if protocol not in ("TCP", "UDP", "SCTP"):
            raise InputError(f"{pw}.protocol: Unsupported value: {printable(protocol)}: supported values: "
                             '"SCTP", "TCP", "UDP"')
        out.append(NamedPort(name, number, protocol))
    return tuple(out)


def _iana_svc_name(name: object) -> str:
    """IsValidPortName (staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go): why ``name`` is not
    an IANA_SVC_NAME (its reasons joined as upstream lists them), or ""."""
    if not isinstance(name, str):
        return "must be a string"
    errs = []
    if len(name) > 15:
        errs.append("must be no more than 15 bytes")
    if not name or not all(ch in "abcdefghijklmnopqrstuvwxyz0123456789-" for ch in name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not any("a" <= ch <= "z" for ch in name):
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return ", ".join(errs)


def _template(spec: dict[str, Any], namespace: str, where: str) -> PodTemplate:
    raw = _map(spec, "template", f"{where}: spec", required=True)
    _keys(raw, ("metadata", "spec"), f"{where}: spec.template")
    metadata = _map(raw, "metadata", f"{where}: spec.template")
    labels = _string_pairs(metadata, "labels", f"{where}: spec.template.metadata")
    pod_spec = _map(raw, "spec", f"{where}: spec.template", required=True)
    info = parse_pod_spec(
        {"name": "template", "namespace": namespace, "labels": dict(labels)}, pod_spec, f"{where}: spec.template"
    )
    containers = _containers(pod_spec, f"{where}: spec.template.spec")
    claims = volumes.pod_claims(pod_spec, f"{where}: spec.template.spec")
    return PodTemplate(labels=labels, containers=containers, info=attrs.evolve(info, name="", order=0, claims=claims))


def _selector(spec: dict[str, Any], where: str) -> LabelSelector:
    selector = parse_label_selector(spec.get("selector"), f"{where}: spec.selector")
    if selector is None:
        raise InputError(f"{where}: spec.selector: required")
    return selector


def _seconds(spec: dict[str, Any], key: str, where: str, default: int) -> int:
    """An int32 count of seconds of a workload's spec (minReadySeconds, progressDeadlineSeconds): apps/validation's
    ValidateNonnegativeField message for a negative one."""
    value = spec.get(key, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{where}: spec.{key}: expected an integer, got {value!r}")
    if value < 0:
        raise InputError(f"{where}: spec.{key}: Invalid value: {value}: must be greater than or equal to 0")
    if value > INT32_MAX:
        raise InputError(f"{where}: spec.{key}: {value} does not fit in int32 (Kubernetes: at most {INT32_MAX})")
    return value


def _workload(doc: dict[str, Any], kind: str, where: str) -> Object:
    meta = _meta(doc, where)
    spec = _map(doc, "spec", where, required=True)
    allowed: tuple[str, ...] = ("replicas", "selector", "template", "minReadySeconds")
    if kind == "Deployment":
        allowed += ("strategy", "revisionHistoryLimit", "paused", "progressDeadlineSeconds")
    _keys(spec, allowed, f"{where}: spec")
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise InputError(f"{where}: spec.replicas: expected an integer, got {replicas!r}")
    check_replicas(replicas, f"{where}: spec.replicas")
    template = _template(spec, meta.namespace, where)
    selector = _selector(spec, where)
    min_ready = _seconds(spec, "minReadySeconds", where, 0)
    if kind == "ReplicaSet":
        return ReplicaSet(meta=meta, replicas=replicas, selector=selector, template=template,
                          min_ready_seconds=min_ready)
    strategy = _map(spec, "strategy", f"{where}: spec")
    _keys(strategy, ("type", "rollingUpdate"), f"{where}: spec.strategy")
    kind_of_strategy = strategy.get("type", "RollingUpdate")
    if kind_of_strategy not in ("RollingUpdate", "Recreate"):
        raise InputError(f"{where}: spec.strategy.type: Unsupported value: {kind_of_strategy!r}: supported values: "
                         f"\"Recreate\", \"RollingUpdate\"")
    if kind_of_strategy == "Recreate" and "rollingUpdate" in strategy:
        # apps/validation ValidateDeploymentStrategy
        raise InputError(f"{where}: spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy "
                         f"`type` is 'Recreate'")
    rolling = _map(strategy, "rollingUpdate", f"{where}: spec.strategy")
    _keys(rolling, ("maxSurge", "maxUnavailable"), f"{where}: spec.strategy.rollingUpdate")
    paused = spec.get("paused", False)
    if not isinstance(paused, bool):
        raise InputError(f"{where}: spec.paused: expected a boolean, got {paused!r}")
    # apps/validation ValidateDeploymentSpec: progressDeadlineSeconds (600 when omitted) > minReadySeconds
    deadline = _seconds(spec, "progressDeadlineSeconds", where, 600)
    if deadline <= min_ready:
        raise InputError(f"{where}: spec.progressDeadlineSeconds: Invalid value: {deadline}: must be greater than "
                         "minReadySeconds")
    return Deployment(
        meta=meta,
        replicas=replicas,
        selector=selector,
        template=template,
        max_surge=_int_or_percent(rolling.get("maxSurge", "25%"), f"{where}: spec.strategy.rollingUpdate.maxSurge"),
        max_unavailable=_int_or_percent(
            rolling.get("maxUnavailable", "25%"), f"{where}: spec.strategy.rollingUpdate.maxUnavailable"
        ),
        revision_history_limit=_int(spec, "revisionHistoryLimit", f"{where}: spec", 10),
        min_ready_seconds=min_ready,
        paused=paused,
        strategy=kind_of_strategy,
    )


def _replication_controller(doc: dict[str, Any], where: str) -> ReplicationController:
    """A v1 ReplicationController, defaulted as the API server defaults it (pkg/apis/core/v1/defaults.go
    SetDefaults_ReplicationController: spec.replicas 1; an empty spec.selector and empty metadata.labels take the
    template's labels). spec.selector is a plain map of labels (equality-based). What the API server validates
    besides (pkg/apis/core/validation ValidateReplicationControllerSpec: minReadySeconds, a non-empty selector,
    replicas, the template's labels matching the selector) is ``spec.apiserver.validate``'s; the template's
    restartPolicy must be Always and activeDeadlineSeconds is forbidden (ValidatePodTemplateSpecForRC)."""
    meta = _meta(doc, where)
    spec = _map(doc, "spec", where, required=True)
    _keys(spec, ("replicas", "selector", "template", "minReadySeconds"), f"{where}: spec")
    if spec.get("template") is None:
        raise InputError(f"{where}: spec.template: Required value")
    replicas = spec.get("replicas", 1)
    if replicas is None:
        replicas = 1
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise InputError(f"{where}: spec.replicas: expected an integer, got {printable(replicas)}")
    check_replicas(replicas, f"{where}: spec.replicas")
    template = _template(spec, meta.namespace, where)
    pod_spec = _map(_map(spec, "template", f"{where}: spec"), "spec", f"{where}: spec.template")
    policy = pod_spec.get("restartPolicy", "Always")
    if policy != "Always":
        raise InputError(f'{where}: spec.template.spec.restartPolicy: Unsupported value: "{printable(policy)}": '
                         'supported values: "Always"')
    if pod_spec.get("activeDeadlineSeconds") is not None:
        raise InputError(f"{where}: spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in "
                         "ReplicationController is not Supported")
    selector = _string_pairs(spec, "selector", f"{where}: spec") or template.labels
    if not meta.labels and template.labels:
        meta = attrs.evolve(meta, labels=template.labels)
    return ReplicationController(meta=meta, replicas=replicas, selector=LabelSelector(selector), template=template,
                                 min_ready_seconds=_seconds(spec, "minReadySeconds", where, 0))


def _job(doc: dict[str, Any], where: str) -> Job:
    """A batch/v1 Job (completionMode NonIndexed): parallelism, completions, backoffLimit, ttlSecondsAfterFinished
    and its template, whose
    restartPolicy must be Never or OnFailure (pkg/apis/batch/validation). The API server's generated selector
    (controller-uid) is the job-name label in the model: a selector in the file is refused, as without
    manualSelector upstream refuses it."""
    meta = _meta(doc, where)
    spec = _map(doc, "spec", where, required=True)
    _keys(spec, ("parallelism", "completions", "backoffLimit", "template", "ttlSecondsAfterFinished"),
          f"{where}: spec")
    template = _template(spec, meta.namespace, where)
    pod_spec = _map(_map(spec, "template", f"{where}: spec"), "spec", f"{where}: spec.template")
    policy = pod_spec.get("restartPolicy", "Always")
    if policy not in ("Never", "OnFailure"):
        raise InputError(f"{where}: spec.template.spec.restartPolicy: Unsupported value: {policy!r}: supported "
                         "values: \"OnFailure\", \"Never\"")
    parallelism = _int(spec, "parallelism", f"{where}: spec", 1)
    raw_completions = spec.get("completions", 1 if "parallelism" not in spec else None)
    completions = None if raw_completions is None else _int(spec, "completions", f"{where}: spec", 1)
    for value, field in ((parallelism, "parallelism"), (completions or 0, "completions")):
        check_replicas(value, f"{where}: spec.{field}")
    ttl = spec.get("ttlSecondsAfterFinished")
    if ttl is not None:
        if not isinstance(ttl, int) or isinstance(ttl, bool):
            raise InputError(f"{where}: spec.ttlSecondsAfterFinished: expected an integer, got {printable(ttl)}")
        if ttl < 0:  # pkg/apis/batch/validation ValidateJobSpec: ValidateNonnegativeField
            raise InputError(f"{where}: spec.ttlSecondsAfterFinished: Invalid value: {ttl}: must be greater than or "
                             "equal to 0")
    return Job(meta=meta, template=template, parallelism=parallelism, completions=completions,
               backoff_limit=_int(spec, "backoffLimit", f"{where}: spec", 6), restart_policy=policy,
               ttl_seconds_after_finished=ttl)


def _timestamp(value: Any, where: str) -> int:
    """An RFC 3339 time (metav1.Time; YAML may have read it as a datetime already), in ms since the Unix epoch."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{where}: expected an RFC 3339 time, got {printable(value)}") from None
        if when.tzinfo is None:
            raise InputError(f"{where}: expected an RFC 3339 time with its offset, got {printable(value)}")
    else:
        raise InputError(f"{where}: expected an RFC 3339 time, got {printable(value)}")
    return int(when.timestamp() * 1000)


def _cronjob(doc: dict[str, Any], where: str) -> CronJob:
    """A batch/v1 CronJob (``spec.controllers.cronjob`` says what of it is modelled): schedule, timeZone,
    concurrencyPolicy, suspend, startingDeadlineSeconds, the history limits (defaults 3 and 1) and the jobTemplate
    (read as a Job: its fields, its labels and annotations); metadata.creationTimestamp and status.lastScheduleTime
    / lastSuccessfulTime (status.active is not read: the model's CronJob starts with none). The schedule and time
    zone are validated by the API server (``validate_cronjob``, upstream's messages)."""
    from spec.controllers.cronjob import DEFAULT_START_MS

    meta = _meta(doc, where)
    spec = _map(doc, "spec", where, required=True)
    _keys(spec, ("schedule", "timeZone", "concurrencyPolicy", "suspend", "startingDeadlineSeconds",
                 "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "jobTemplate"), f"{where}: spec")
    schedule = spec.get("schedule", "")
    if not isinstance(schedule, str):
        raise InputError(f"{where}: spec.schedule: expected a string, got {printable(schedule)}")
    zone = spec.get("timeZone")
    if zone is not None and not isinstance(zone, str):
        raise InputError(f"{where}: spec.timeZone: expected a string, got {printable(zone)}")
    policy = spec.get("concurrencyPolicy", "Allow")
    if not isinstance(policy, str):
        raise InputError(f"{where}: spec.concurrencyPolicy: expected a string, got {printable(policy)}")
    suspend = spec.get("suspend", False)
    if not isinstance(suspend, bool):
        raise InputError(f"{where}: spec.suspend: expected true or false, got {printable(suspend)}")
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        deadline = _int(spec, "startingDeadlineSeconds", f"{where}: spec", 0)
    limits = {f: _int(spec, f, f"{where}: spec", d) for f, d in (("successfulJobsHistoryLimit", 3),
                                                                   ("failedJobsHistoryLimit", 1))}
    template = _map(spec, "jobTemplate", f"{where}: spec", required=True)
    _keys(template, ("metadata", "spec"), f"{where}: spec.jobTemplate")
    tmeta = _map(template, "metadata", f"{where}: spec.jobTemplate")
    _keys(tmeta, ("labels", "annotations"), f"{where}: spec.jobTemplate.metadata")
    job = _job({"metadata": {"name": meta.name, "namespace": meta.namespace, **tmeta},
                "spec": _map(template, "spec", f"{where}: spec.jobTemplate", required=True)},
               f"{where}: spec.jobTemplate")
    metadata = _map(doc, "metadata", where)
    created = metadata.get("creationTimestamp")
    creation_ms = DEFAULT_START_MS if created is None else _timestamp(created, f"{where}: metadata.creationTimestamp")
    status = _map(doc, "status", where)
    times = {f: None if status.get(f) is None else _timestamp(status[f], f"{where}: status.{f}")
             for f in ("lastScheduleTime", "lastSuccessfulTime")}
    return CronJob(meta=meta, schedule=schedule, template=job.template, creation_ms=creation_ms, time_zone=zone,
                   concurrency_policy=policy, suspend=suspend, starting_deadline_seconds=deadline,
                   successful_jobs_history_limit=limits["successfulJobsHistoryLimit"],
                   failed_jobs_history_limit=limits["failedJobsHistoryLimit"], parallelism=job.parallelism,
                   completions=job.completions, backoff_limit=job.backoff_limit, restart_policy=job.restart_policy,
                   ttl_seconds_after_finished=job.ttl_seconds_after_finished, job_labels=job.meta.labels,
                   job_annotations=job.meta.annotations,
                   status=CronJobStatus(last_schedule_time=times["lastScheduleTime"],
                                        last_successful_time=times["lastSuccessfulTime"]))


def _namespace(doc: dict[str, Any], where: str) -> Namespace:
    """A v1 Namespace: its name, spec.finalizers (``kubernetes``, the default, or none) and status.phase (Active: a
    scenario starts with no namespace being deleted)."""
    meta = attrs.evolve(_meta(doc, where), namespace="")
    if _map(doc, "metadata", where).get("namespace"):
        raise InputError(f"{where}: metadata.namespace: a Namespace is cluster-scoped")
    spec = _map(doc, "spec", where)
    _keys(spec, ("finalizers",), f"{where}: spec")
    finalizers = spec.get("finalizers", [FINALIZER_KUBERNETES])
    if not isinstance(finalizers, list) or any(f != FINALIZER_KUBERNETES for f in finalizers):
        raise InputError(f"{where}: spec.finalizers: only {FINALIZER_KUBERNETES!r} is modelled, got {finalizers!r}")
    status = _map(doc, "status", where)
    _keys(status, ("phase",), f"{where}: status")
    if status.get("phase", "Active") != "Active":
        raise InputError(f"{where}: status.phase: expected Active, got {status.get('phase')!r}")
    return Namespace(meta, tuple(dict.fromkeys(finalizers)))


SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""The namespaces the API server creates at start (metav1.NamespaceDefault, NamespaceSystem, NamespacePublic and
corev1.NamespaceNodeLease)."""


def _namespaces_first(objects: list[Object], seen: dict[str, str]) -> list[Object]:
    """Where a scenario declares Namespaces, namespaces are API objects: ``default``, ``kube-system``,
    ``kube-public`` and ``kube-node-lease`` are added if not declared (the API server creates them at start:
    pkg/controlplane/controller/systemnamespaces; leader election's Leases live in kube-system), the Namespaces
    are created first, and every namespaced object's namespace must be declared (the API server's
    NamespaceLifecycle admission answers 404 NotFound otherwise). Without a Namespace document, namespaces stay
    implicit (``spec.apiserver.explicit_namespaces``)."""
    namespaces = [o for o in objects if isinstance(o, Namespace)]
    if not namespaces:
        return objects
    declared = {n.meta.name for n in namespaces}
    namespaces[:0] = [Namespace(Meta(name=name, namespace="")) for name in SYSTEM_NAMESPACES if name not in declared]
    names = {n.meta.name for n in namespaces}
    for o in objects:
        if o.meta.namespace and o.meta.namespace not in names:  # cluster-scoped kinds have none
            where = seen[object_key(o)]
            raise InputError(f'{where}: metadata.namespace: namespaces "{o.meta.namespace}" not found (declare a '
                             "Namespace document for it)")
    return [*namespaces, *(o for o in objects if not isinstance(o, Namespace))]


def _statefulset(doc: dict[str, Any], where: str) -> StatefulSet:
    """An apps/v1 StatefulSet (``spec.controllers.statefulset`` says what of it is modelled)."""
    meta = _meta(doc, where)
    spec = _map(doc, "spec", where, required=True)
    _keys(spec, ("replicas", "selector", "template", "serviceName", "podManagementPolicy", "minReadySeconds",
                 "updateStrategy", "revisionHistoryLimit", "persistentVolumeClaimRetentionPolicy", "ordinals",
                 "volumeClaimTemplates"), f"{where}: spec")
    templates = volumes.claim_templates(spec, meta.namespace, where)
    ordinals = _map(spec, "ordinals", f"{where}: spec")
    if ordinals.get("start", 0) != 0:
        raise InputError(f"{where}: spec.ordinals.start: only 0 is modelled, got {ordinals.get('start')!r}")
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise InputError(f"{where}: spec.replicas: expected an integer, got {replicas!r}")
    check_replicas(replicas, f"{where}: spec.replicas")
    min_ready = _int(spec, "minReadySeconds", f"{where}: spec", 0)
    if min_ready:
        raise InputError(f"{where}: spec.minReadySeconds: only 0 is modelled, got {min_ready}")
    policy = spec.get("podManagementPolicy", "OrderedReady")
    if policy not in ("OrderedReady", "Parallel"):
        raise InputError(f"{where}: spec.podManagementPolicy: expected OrderedReady or Parallel, got {policy!r}")
    service = spec.get("serviceName") or ""
    if not isinstance(service, str):
        raise InputError(f"{where}: spec.serviceName: expected a string, got {service!r}")
    return StatefulSet(meta=meta, replicas=replicas, selector=_selector(spec, where),
                       template=_template(spec, meta.namespace, where), service_name=service,
                       pod_management_policy=policy, volume_claim_templates=templates)


def _daemonset(doc: dict[str, Any], where: str) -> DaemonSet:
    """An apps/v1 DaemonSet (``spec.controllers.daemonset`` says what of it is modelled): selector, template,
    updateStrategy (RollingUpdate with maxUnavailable, default 1, and maxSurge, default 0, as SetDefaults_DaemonSet;
    or OnDelete), revisionHistoryLimit; minReadySeconds must be 0. Validation (the selector, the strategy's
    values) is the API server's (``validate_daemonset``, with upstream's messages)."""
    meta = _meta(doc, where)
    spec = _map(doc, "spec", where, required=True)
    _keys(spec, ("selector", "template", "minReadySeconds", "updateStrategy", "revisionHistoryLimit"),
          f"{where}: spec")
    min_ready = _int(spec, "minReadySeconds", f"{where}: spec", 0)
    if min_ready:
        raise InputError(f"{where}: spec.minReadySeconds: only 0 is modelled, got {min_ready}")
    strategy = _map(spec, "updateStrategy", f"{where}: spec")
    _keys(strategy, ("type", "rollingUpdate"), f"{where}: spec.updateStrategy")
    kind = strategy.get("type", "RollingUpdate")
    if kind not in ("RollingUpdate", "OnDelete"):
        raise InputError(f"{where}: spec.updateStrategy.type: Unsupported value: {kind!r}: supported values: "
                         "\"OnDelete\", \"RollingUpdate\"")
    rolling = _map(strategy, "rollingUpdate", f"{where}: spec.updateStrategy")
    _keys(rolling, ("maxUnavailable", "maxSurge"), f"{where}: spec.updateStrategy.rollingUpdate")
    values = {field: _int_or_percent(rolling.get(field, default), f"{where}: spec.updateStrategy.rollingUpdate."
                                     f"{field}") for field, default in (("maxUnavailable", 1), ("maxSurge", 0))}
    template = _template(spec, meta.namespace, where)
    pod_spec = _map(_map(spec, "template", f"{where}: spec"), "spec", f"{where}: spec.template")
    policy = pod_spec.get("restartPolicy", "Always")
    if policy != "Always":  # ValidateDaemonSetSpec
        raise InputError(f"{where}: spec.template.spec.restartPolicy: Unsupported value: {policy!r}: supported "
                         "values: \"Always\"")
    return DaemonSet(meta=meta, selector=_selector(spec, where), template=template, update_strategy=kind,
                     max_unavailable=values["maxUnavailable"], max_surge=values["maxSurge"],
                     revision_history_limit=_int(spec, "revisionHistoryLimit", f"{where}: spec", 10),
                     host_network=pod_spec.get("hostNetwork") is True)


def _pdb(doc: dict[str, Any], where: str) -> PodDisruptionBudget:
    """A policy/v1 PodDisruptionBudget: selector, and minAvailable or maxUnavailable (an integer or "N%")."""
    meta = _meta(doc, where)
    spec = _map(doc, "spec", where, required=True)
    _keys(spec, ("selector", "minAvailable", "maxUnavailable", "unhealthyPodEvictionPolicy"), f"{where}: spec")
    policy = spec.get("unhealthyPodEvictionPolicy", "IfHealthyBudget")
    if policy != "IfHealthyBudget":
        raise InputError(f"{where}: spec.unhealthyPodEvictionPolicy: only IfHealthyBudget (the default) is "
                         f"modelled, got {policy!r}")
    selector = parse_label_selector(spec.get("selector"), f"{where}: spec.selector") or LabelSelector()
    values: dict[str, int | str | None] = {}
    for field in ("minAvailable", "maxUnavailable"):
        raw = spec.get(field)
        values[field] = None if raw is None else _int_or_percent(raw, f"{where}: spec.{field}")
    return PodDisruptionBudget(meta=meta, selector=selector, min_available=values["minAvailable"],
                               max_unavailable=values["maxUnavailable"])


def _pod(doc: dict[str, Any], where: str) -> Pod:
    meta = _meta(doc, where)
    spec = _map(doc, "spec", where, required=True)
    info = parse_pod_spec({"name": meta.name, "namespace": meta.namespace, "labels": dict(meta.labels)}, spec, where)
    info = attrs.evolve(info, claims=volumes.pod_claims(spec, f"{where}: spec"))
    scheduler_name = spec.get("schedulerName") or "default-scheduler"
    return Pod(meta=meta, containers=_containers(spec, f"{where}: spec"), info=info, scheduler_name=scheduler_name)


def _node(doc: dict[str, Any], where: str) -> Node:
    meta = _meta(doc, where)
    info = parse_node(doc, where)
    labels = dict(info.labels)
    labels.setdefault(HOSTNAME_LABEL, meta.name)  # the kubelet registers it
    info = attrs.evolve(info, labels=pairs(labels))
    return Node(meta=attrs.evolve(meta, labels=info.labels, namespace=""), info=info)


_SERVICE_SPEC = ("selector", "ports", "type", "clusterIP", "clusterIPs", "publishNotReadyAddresses",
                 "ipFamilyPolicy", "ipFamilies", "sessionAffinity", "sessionAffinityConfig", "internalTrafficPolicy",
                 "externalTrafficPolicy", "healthCheckNodePort")
"""The Service fields a scenario may set (the others are not modelled: an error naming the field)."""


def _service(doc: dict[str, Any], where: str) -> Service:
    """A v1 Service (spec.services): selector, ports with numeric or named targetPorts, type ClusterIP, NodePort or
    LoadBalancer, a requested or "None" clusterIP; IPv4 single-stack defaults only."""
    meta = _meta(doc, where)
    spec = _map(doc, "spec", where)
    _keys(spec, _SERVICE_SPEC, f"{where}: spec")
    defaults = {"ipFamilyPolicy": "SingleStack"}
    for field, value in defaults.items():
        if field in spec and spec[field] != value:
            raise InputError(f"{where}: spec.{field}: only {value} is modelled, got {spec[field]!r}")
    if spec.get("ipFamilies") not in (None, ["IPv4"]):
        raise InputError(f"{where}: spec.ipFamilies: only [IPv4] is modelled, got {spec['ipFamilies']!r}")
    selector = _string_pairs(spec, "selector", f"{where}: spec") if spec.get("selector") is not None else None
    cluster_ip = spec.get("clusterIP")
    ips = spec.get("clusterIPs")
    if ips is not None:
        if not isinstance(ips, list) or len(ips) != 1 or not isinstance(ips[0], str):
            raise InputError(f"{where}: spec.clusterIPs: only one IPv4 address (single-stack) is modelled, got {ips!r}")
        if cluster_ip not in (None, "", ips[0]):
            raise InputError(f"{where}: spec.clusterIPs[0]: Invalid value: {ips[0]!r}: must match `clusterIP` when "
                             "`clusterIPs` is specified")
        cluster_ip = ips[0]
    cluster_ip = "" if cluster_ip is None else cluster_ip
    if not isinstance(cluster_ip, str):
        raise InputError(f"{where}: spec.clusterIP: expected a string, got {cluster_ip!r}")
    if cluster_ip not in ("", "None"):
        import ipaddress

        try:
            if ipaddress.ip_address(cluster_ip).version != 4:
                raise ValueError
        except ValueError:
            raise InputError(f"{where}: spec.clusterIP: Invalid value: {cluster_ip!r}: must be a valid IPv4 address "
                             "or None") from None
    raw_ports = spec.get("ports") or []
    if not isinstance(raw_ports, list):
        raise InputError(f"{where}: spec.ports: expected a list, got {raw_ports!r}")
    ports = []
    for i, p in enumerate(raw_ports):
        pw = f"{where}: spec.ports[{i}]"
        if not isinstance(p, dict):
            raise InputError(f"{pw}: expected a mapping, got {p!r}")
        _keys(p, ("name", "port", "targetPort", "protocol", "nodePort", "appProtocol"), pw)
        port = p.get("port")
        if not isinstance(port, int) or isinstance(port, bool):
            raise InputError(f"{pw}.port: required (an integer)")
        target = p.get("targetPort", port)
        if isinstance(target, str):
            problem = _iana_svc_name(target)
            if problem:
                raise InputError(f'{pw}.targetPort: Invalid value: "{printable(target)}": {problem}')
        elif not isinstance(target, int) or isinstance(target, bool):
            raise InputError(f"{pw}.targetPort: expected an integer or a port name, got {printable(target)}")
        protocol = p.get("protocol", "TCP")
        if protocol != "TCP":
            raise InputError(f"{pw}.protocol: only TCP is modelled, got {protocol!r}")
        node_port = p.get("nodePort", 0) or 0
        if not isinstance(node_port, int) or isinstance(node_port, bool):
            raise InputError(f"{pw}.nodePort: expected an integer, got {node_port!r}")
        ports.append(ServicePort(str(p.get("name") or ""), port, target, "TCP", node_port))
    publish = spec.get("publishNotReadyAddresses", False)
    if not isinstance(publish, bool):
        raise InputError(f"{where}: spec.publishNotReadyAddresses: expected true or false, got {publish!r}")
    internal = spec.get("internalTrafficPolicy", "Cluster")
    if internal not in ("Cluster", "Local"):
        raise InputError(f'{where}: spec.internalTrafficPolicy: Unsupported value: "{printable(internal)}": '
                         'supported values: "Cluster", "Local"')
    affinity, sticky = _session_affinity(spec, where)
    external = spec.get("externalTrafficPolicy", "Cluster")
    if external not in ("Cluster", "Local"):
        raise InputError(f'{where}: spec.externalTrafficPolicy: Unsupported value: "{printable(external)}": '
                         'supported values: "Cluster", "Local"')
    health = spec.get("healthCheckNodePort", 0) or 0
    if not isinstance(health, int) or isinstance(health, bool):
        raise InputError(f"{where}: spec.healthCheckNodePort: expected an integer, got {printable(health)}")
    return Service(meta, selector, tuple(ports), str(spec.get("type", "ClusterIP")), cluster_ip, publish,
                   external, health, internal, affinity, sticky)


def _session_affinity(spec: dict[str, Any], where: str) -> tuple[str, int]:
    """spec.sessionAffinity and sessionAffinityConfig.clientIP.timeoutSeconds (pkg/apis/core/validation
    validateClientIPAffinityConfig; default v1.DefaultClientIPServiceAffinitySeconds, 10800)."""
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in ("None", "ClientIP"):
        raise InputError(f'{where}: spec.sessionAffinity: Unsupported value: "{printable(affinity)}": supported '
                         'values: "ClientIP", "None"')
    config = _map(spec, "sessionAffinityConfig", f"{where}: spec")
    if affinity == "None":
        if config:
            raise InputError(f"{where}: spec.sessionAffinityConfig: Invalid value: {printable(config)}: must not be "
                             "set when `sessionAffinity` is None")
        return "None", 10800
    _keys(config, ("clientIP",), f"{where}: spec.sessionAffinityConfig")
    client = _map(config, "clientIP", f"{where}: spec.sessionAffinityConfig")
    _keys(client, ("timeoutSeconds",), f"{where}: spec.sessionAffinityConfig.clientIP")
    timeout = client.get("timeoutSeconds", 10800)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not 0 < timeout <= 86400:
        raise InputError(f"{where}: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: "
                         f"{printable(timeout)}: must be greater than 0 and less than 86400")
    return "ClientIP", timeout


_KINDS: dict[str, tuple[str, Callable[[dict[str, Any], str], Object]]] = {
    "Node": ("v1", _node),
    "Pod": ("v1", _pod),
    "Deployment": ("apps/v1", lambda doc, where: _workload(doc, "Deployment", where)),
    "ReplicaSet": ("apps/v1", lambda doc, where: _workload(doc, "ReplicaSet", where)),
    "ReplicationController": ("v1", _replication_controller),
    "Service": ("v1", _service),
    "StatefulSet": ("apps/v1", _statefulset),
    "PodDisruptionBudget": ("policy/v1", _pdb),
    "Job": ("batch/v1", _job),
    "CronJob": ("batch/v1", lambda doc, where: _cronjob(doc, where)),
    "DaemonSet": ("apps/v1", lambda doc, where: _daemonset(doc, where)),
    "Namespace": ("v1", _namespace),
    "PersistentVolumeClaim": ("v1", lambda doc, where: volumes.parse_claim(doc, where)),
    "PersistentVolume": ("v1", lambda doc, where: volumes.parse_volume(doc, where)),
    "StorageClass": ("storage.k8s.io/v1", lambda doc, where: volumes.parse_class(doc, where)),
}
"""The object kinds a scenario holds: each kind's apiVersion and the function that reads its document."""


def _hpa(doc: dict[str, Any], where: str) -> Object:
    """A HorizontalPodAutoscaler (autoscaling/v2, or v1 converted): ``spec.controllers.podautoscaler``."""
    from spec.controllers.podautoscaler import Invalid, parse_hpa

    try:
        return parse_hpa(doc, where, _meta(doc, where))
    except Invalid as err:
        raise InputError(f"{where}: {printable(str(err))}") from None


_KINDS["HorizontalPodAutoscaler"] = ("autoscaling/v2", _hpa)


def _scenario_spec(doc: dict[str, Any], where: str) -> dict[str, Any]:
    _keys(doc, ("apiVersion", "kind", "metadata", "spec"), where)
    if doc.get("apiVersion") != "kubespec.dev/v1":
        raise InputError(f"{where}: apiVersion: expected kubespec.dev/v1, got {doc.get('apiVersion')!r}")
    spec = _map(doc, "spec", where)
    _keys(spec, SCENARIO_FIELDS, f"{where}: spec")
    return spec


def _check_header(doc: dict[str, Any], where: str) -> None:
    """apiVersion, kind and metadata.name are strings (they name the document in every later message)."""
    for field in ("apiVersion", "kind"):
        if doc.get(field) is not None and not isinstance(doc[field], str):
            raise InputError(f"{where}: {field}: expected a string, got {type(doc[field]).__name__}")
    metadata = doc.get("metadata")
    if isinstance(metadata, dict) and metadata.get("name") is not None and not isinstance(metadata["name"], str):
        raise InputError(f"{where}: metadata.name: expected a string, got {type(metadata['name']).__name__}")


def _flattened(docs: list[Any], source: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The YAML documents as ("document I", object), a ``kind: List`` (what ``kubectl get -o yaml`` prints)
    replaced by its items ("document I, item J"); empty documents skipped."""
    for i, doc in enumerate(docs, 1):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InputError(f"{source}: document {i}: expected a mapping, got {type(doc).__name__}")
        if doc.get("kind") == "List" and doc.get("apiVersion") == "v1":
            validate_object(doc, f"{source}: document {i} (List)")
            items = doc.get("items") or []
            if not isinstance(items, list):
                raise InputError(f"{source}: document {i} (List): items: expected a list, got {type(items).__name__}")
            for j, item in enumerate(items, 1):
                if not isinstance(item, dict):
                    raise InputError(f"{source}: document {i}, item {j}: expected a mapping, got "
                                     f"{type(item).__name__}")
                yield f"document {i}, item {j}", item
        else:
            yield f"document {i}", doc


def parse(text: str, source: str) -> Scenario:
    """A scenario from YAML text; ``source`` names it in errors."""
    docs = yaml_documents(text, source)
    objects: list[Object] = []
    scenario_doc: dict[str, Any] | None = None
    name = Path(source).stem
    seen: dict[str, str] = {}
    ignored: list[str] = []
    for position, doc in _flattened(docs, source):
        _check_header(doc, f"{source}: {position}")
        kind = doc.get("kind")
        label = doc.get("metadata", {}).get("name") if isinstance(doc.get("metadata"), dict) else None
        where = printable(f"{source}: {position} ({kind} {label})" if label else f"{source}: {position} ({kind})")
        if kind == "Scenario":
            if scenario_doc is not None:
                raise InputError(f"{where}: a second Scenario document")
            scenario_doc = _scenario_spec(doc, where)
            scenario_doc["__where"] = where
            if label:
                name = label
            continue
        api = doc.get("apiVersion")
        if kind not in _KINDS:
            if isinstance(kind, str) and kind in NOT_MODELLED:
                raise InputError(f"{where}: kind: {kind} is not modelled: {NOT_MODELLED[kind]}")
            builtin_kind = validate_object(doc, where)  # a typo in a built-in group is an error here
            if builtin_kind and kind not in IGNORED_KINDS:
                raise InputError(f"{where}: kind: unknown kind {kind!r} (known: {', '.join(_KINDS)}, Scenario; "
                                 f"read and ignored: {', '.join(sorted(IGNORED_KINDS))})")
            ignored.append(printable(f"{kind} {label}" if label else str(kind)))
            continue
        if kind == "HorizontalPodAutoscaler" and api == "autoscaling/v1":  # converted to v2 (spec.controllers.
            api = "autoscaling/v2"                                          # podautoscaler.parse_hpa)
        api_version, read = _KINDS[kind]
        if api != api_version:
            raise InputError(f"{where}: apiVersion: expected {api_version}, got {api!r}")
        _keys(doc, volumes.TOP_LEVEL if kind == "StorageClass" else ("apiVersion", "kind", "metadata", "spec",
                                                                     "status"), where)
        validate_object(doc, where)  # every field known and of its shape (kubectl apply --validate=strict)
        obj = read(doc, where)
        error = validate(obj)
        if error:
            raise InputError(f"{where}: {printable(error)}")
        key = object_key(obj)
        if key in seen:
            raise InputError(f"{where}: metadata.name: duplicate {key} (first in {seen[key]})")
        seen[key] = where
        objects.append(obj)
    if not any(isinstance(o, Node) for o in objects):
        raise InputError(f"{source}: no Node document: a scenario needs at least one node")
    objects = _namespaces_first(objects, seen)
    objects = volumes.default_classes(objects, source)  # the DefaultStorageClass admission plugin
    if any(isinstance(o, Service) for o in objects):  # the API server's allocation (requested clusterIPs)
        from spec.apiserver import store

        try:
            store(objects)
        except ValueError as err:
            raise InputError(f"{source}: {printable(str(err))}") from None
    spec = scenario_doc or {}
    where = spec.pop("__where", f"{source}: Scenario")
    return attrs.evolve(_build(spec, objects, name, source, where), ignored=tuple(ignored))


def _build(spec: dict[str, Any], objects: list[Object], name: str, source: str, where: str) -> Scenario:
    faults = _map(spec, "faults", f"{where}: spec")
    _keys(faults, tuple(FAULTS), f"{where}: spec.faults")
    budget = Budget(**{FAULTS[k]: _int(faults, k, f"{where}: spec.faults", 0) for k in FAULTS})
    consistency = spec.get("consistency", "strong")
    if consistency not in ("strong", "stale"):
        raise InputError(f"{where}: spec.consistency: expected strong or stale, got {consistency!r}")
    variants = spec.get("variants") or []
    if not isinstance(variants, list):
        raise InputError(f"{where}: spec.variants: expected a list, got {variants!r}")
    for v in variants:
        if not isinstance(v, str) or v not in VARIANTS:
            raise InputError(f"{where}: spec.variants: unknown variant {v!r} (known: {', '.join(VARIANTS)})")
    props = spec.get("properties") or []
    if not isinstance(props, list):
        raise InputError(f"{where}: spec.properties: expected a list, got {props!r}")
    for p in props:
        if not isinstance(p, str) or p not in PROPERTIES:
            raise InputError(f"{where}: spec.properties: unknown property {p!r} (known: {', '.join(PROPERTIES)})")
    actions = spec.get("userActions") or []
    if not isinstance(actions, list):
        raise InputError(f"{where}: spec.userActions: expected a list, got {actions!r}")
    commands = tuple(kubectl.parse(str(a), f"{where}: spec.userActions[{i}]") for i, a in enumerate(actions))
    for i, command in enumerate(commands):
        if command.verb == "scale":
            check_replicas(command.replicas, f"{where}: spec.userActions[{i}]: --replicas")
    bounds = _map(spec, "bounds", f"{where}: spec")
    _keys(bounds, ("maxStates", "maxDepth", "scheduleTimes"), f"{where}: spec.bounds")
    schedule_times = _int(bounds, "scheduleTimes", f"{where}: spec.bounds", 2)  # CronJobs (spec.controllers.cronjob)
    if not 1 <= schedule_times <= 10:
        raise InputError(f"{where}: spec.bounds.scheduleTimes: expected 1 to 10 schedule times, got {schedule_times}")
    max_states = _int(bounds, "maxStates", f"{where}: spec.bounds", 0) or None
    max_depth = _int(bounds, "maxDepth", f"{where}: spec.bounds", 0) or None
    pod_gc = _map(spec, "podGC", f"{where}: spec")
    _keys(pod_gc, ("terminatedPodThreshold",), f"{where}: spec.podGC")
    threshold = _int(pod_gc, "terminatedPodThreshold", f"{where}: spec.podGC", TERMINATED_POD_GC_THRESHOLD)
    symmetry = spec.get("symmetry", True)
    if not isinstance(symmetry, bool):
        raise InputError(f"{where}: spec.symmetry: expected true or false, got {symmetry!r}")
    start = spec.get("start", "cold")
    if start not in START:
        raise InputError(f"{where}: spec.start: expected cold or converged, got {start!r}")
    leader_election = None
    if spec.get("leaderElection") is not None:  # kube-controller-manager's replicas (spec.leaderelection)
        from spec.leaderelection import parse_config

        leader_election, budget = parse_config(spec["leaderElection"], f"{where}: spec.leaderElection", budget)
    hpa_load = None
    if spec.get("load") is not None:  # the metrics server's load (spec.controllers.podautoscaler)
        from spec.controllers.podautoscaler import parse_load

        hpa_load = parse_load(spec["load"], objects, f"{where}: spec.load")
    api_servers = _int(spec, "apiServers", f"{where}: spec", 1)
    if not 1 <= api_servers <= MAX_API_SERVERS:
        raise InputError(f"{where}: spec.apiServers: expected 1 to {MAX_API_SERVERS} API servers, got {api_servers}")
    if api_servers > 1 and consistency != "strong":
        raise InputError(f"{where}: spec.apiServers: several API servers model the caches' lag themselves (each "
                         f"one's watch cache); use consistency: strong, not {consistency}")
    config = Config(
        objects=tuple(objects),
        commands=commands,
        budget=budget,
        consistency=consistency,
        variants=frozenset(variants),
        properties=tuple(props),
        watch_cache_size=_int(spec, "watchCacheSize", f"{where}: spec", 100) or 1,
        terminated_pod_gc_threshold=threshold,
        start=start,
        leader_election=leader_election,
        api_servers=api_servers,
        schedule_times=schedule_times,
        load=hpa_load,
    )
    if start == "converged":
        from spec.cluster import initial_state
        from spec.warmup import NoConvergence

        try:
            initial_state(config)
        except NoConvergence as err:
            raise InputError(f"{where}: spec.start: converged: {err}") from None
    return Scenario(name, str(spec.get("description", "")), config, max_states, max_depth, source,
                    ALL if symmetry else attrs.evolve(ALL, symmetry=False))


def load(path: str | Path) -> Scenario:
    return parse(read_text(path, "scenario file"), str(path))


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("spec.scenarios").iterdir() if p.name.endswith(".yaml"))


def builtin(name: str) -> Scenario:
    if name not in builtin_names():
        raise InputError(f"unknown scenario {name!r} (built-in: {', '.join(builtin_names())})")
    text = resources.files("spec.scenarios").joinpath(name + ".yaml").read_text()
    return parse(text, name + ".yaml")


def with_overrides(s: Scenario, variants: tuple[str, ...] = (), crashes: int | None = None) -> Scenario:
    """``--variant`` (added to the file's) and ``--crashes N`` (the controller-manager crash budget)."""
    for v in variants:
        if v not in VARIANTS:
            raise InputError(f"--variant: unknown variant {v!r} (known: {', '.join(VARIANTS)})")
    config = s.config
    if variants:
        config = attrs.evolve(config, variants=config.variants | frozenset(variants))
    if crashes is not None:
        if crashes < 0:
            raise InputError(f"--crashes: expected a non-negative integer, got {crashes}")
        config = attrs.evolve(config, budget=attrs.evolve(config.budget, controller_manager_crashes=crashes))
    for v in sorted(config.variants):  # a variant whose mechanism the scenario lacks would change nothing
        needs = VARIANTS[v].needs(config)
        if needs is not None:
            where = "--variant" if v in variants and v not in s.config.variants else f"{s.source}: spec.variants"
            raise InputError(f"{where}: {v} needs {needs}")
    return attrs.evolve(s, config=config)
