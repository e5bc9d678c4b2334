"""The user's kubectl command lines: parsed from the scenario, each run at most once, at any point.

Upstream: staging/src/k8s.io/kubectl/pkg/cmd/scale (the scale subresource, no precondition unless
--current-replicas), cmd/set/set_image.go (a patch of the template), cmd/rollout/rollout_undo.go with
polymorphichelpers/rollback.go (client-side: the template of the ReplicaSet of the previous revision, minus its
pod-template-hash label, is patched into the Deployment; "no rollout history found" / "skipped rollback"),
cmd/delete (graceful deletion; --cascade sets the propagation policy, background by default),
cmd/rollout/rollout_pause.go and rollout_resume.go (a patch of spec.paused; ``kubectl rollout undo`` refuses a paused
Deployment), cmd/drain/cordon (spec.unschedulable), cmd/drain and pkg/drain (``kubectl drain``: cordon, then evict
each pod of the node through the eviction API, retrying on 429: ``start_drain``, ``drain_step``; the drain stays
under way between steps, in ``spec.state.Workloads``).

Each command reads the latest objects (kubectl talks to the API server, not to an informer) and writes through
the API server; a rejected command leaves the cluster unchanged and its error is the step's event.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs

from checker.errors import InputError
from spec import actions as A
from spec.apiserver import NAMESPACE_TERMINATING, Session
from spec.component import Base, Step, commit, session
from spec.controllers.deployment import owned, revision
from spec.eviction import evict
from spec.scheduling.types import Taint, pairs
from spec.state import (
    POD_TEMPLATE_HASH,
    ClusterState,
    DaemonSet,
    Deployment,
    Drain,
    Key,
    Meta,
    Node,
    Pod,
    ReplicaSet,
    ReplicationController,
    Service,
    ServicePort,
    StatefulSet,
    key_of,
    pod_key,
    qualified_resource,
)

if TYPE_CHECKING:
    from spec.config import Config

_RESOURCES = {
    "deployment": "deployments", "deployments": "deployments", "deploy": "deployments",
    "replicaset": "replicasets", "replicasets": "replicasets", "rs": "replicasets",
    "replicationcontroller": "replicationcontrollers", "replicationcontrollers": "replicationcontrollers",
    "rc": "replicationcontrollers",
    "pod": "pods", "pods": "pods", "po": "pods", "node": "nodes", "nodes": "nodes", "no": "nodes",
    "job": "jobs", "jobs": "jobs",
    "namespace": "namespaces", "namespaces": "namespaces", "ns": "namespaces",
    "statefulset": "statefulsets", "statefulsets": "statefulsets", "sts": "statefulsets",
    "daemonset": "daemonsets", "daemonsets": "daemonsets", "ds": "daemonsets",
    "persistentvolumeclaim": "persistentvolumeclaims", "persistentvolumeclaims": "persistentvolumeclaims",
    "pvc": "persistentvolumeclaims",
}


@attrs.frozen
class Command:
    """A parsed command line: verb, resource, name (or label selector) and arguments."""

    line: str
    verb: str
    resource: str
    name: str
    namespace: str = "default"
    replicas: int = 0
    container: str = ""
    image: str = ""
    to_revision: int = 0
    selector: tuple[tuple[str, str], ...] = ()
    force: bool = False
    """``kubectl delete pod NAME --grace-period=0 --force``: deleted at once, not waiting for the kubelet
    (``parse_force_delete``); ``kubectl drain --force``: pods that declare no controller are evicted too."""
    cascade: str = ""
    """``kubectl delete --cascade``: "background" (the default), "foreground" or "orphan"; "" for other verbs."""
    port: int = 0
    """kubectl expose --port; --target-port in ``target_port``, --name in ``service``, --type in ``service_type``
    (kubectl create service: --tcp's PORT:TARGET, NAME, the type; --clusterip in ``container``)."""
    target_port: int = 0
    service: str = ""
    service_type: str = "ClusterIP"
    taint: tuple[str, ...] = ()
    """``kubectl taint nodes NODE KEY[=VALUE]:EFFECT[-]``: (key, value, effect); verb "taint" or "untaint" (the
    trailing ``-``; effect "" removes every effect of the key)."""


CASCADE = {"background": "background", "foreground": "foreground", "orphan": "orphan",
           "true": "background", "false": "orphan"}
"""kubectl delete --cascade (staging/src/k8s.io/kubectl/pkg/cmd/delete/delete_flags.go: the deprecated true and
false mean background and orphan)."""
DELETABLE_OWNERS = ("deployments", "replicasets", "jobs", "daemonsets", "persistentvolumeclaims",
                    "replicationcontrollers")
"""The owners ``kubectl delete NAME --cascade`` takes in the model (issue 19 adds more as they are modelled)."""
_POLICY = {"background": "Background", "foreground": "Foreground", "orphan": "Orphan"}
_GROUP = {"deployments": "deployment.apps", "replicasets": "replicaset.apps", "jobs": "job.batch",
          "daemonsets": "daemonset.apps", "persistentvolumeclaims": "persistentvolumeclaim",
          "replicationcontrollers": "replicationcontroller"}


def _target(words: list[str], where: str) -> tuple[str, str, list[str]]:
    if not words:
        raise InputError(f"{where}: missing resource")
    first = words[0]
    if "/" in first:
        kind, name = first.split("/", 1)
        rest = words[1:]
    else:
        kind, name, rest = first, (words[1] if len(words) > 1 and not words[1].startswith("-") else ""), words[1:]
        if name:
            rest = words[2:]
    if kind not in _RESOURCES:
        raise InputError(f"{where}: unknown resource type {kind!r}")
    return _RESOURCES[kind], name, rest


FORMS = (
    "cordon", "uncordon", "drain", "drain --force", "taint", "untaint",
    "scale deployments", "scale replicasets", "scale statefulsets", "scale replicationcontrollers",
    "set image deployments", "set image daemonsets",
    "rollout pause", "rollout resume", "rollout undo", "rollout undo --to-revision",
    "delete pods", "delete pods -l", "delete pods --force", "delete nodes", "delete namespaces",
    *(f"delete {owner}{flag}" for owner in DELETABLE_OWNERS
      for flag in ("", " --cascade=foreground", " --cascade=orphan")),
    "expose deployments", "create service",
)
"""Every form of command the model runs (``form``): ``parse`` refuses a command of any other form, so a form
added to the parser is listed here, and spec/testing.py's ``kubectl_commands`` must draw each of them
(tests/spec/test_testing_strategies.py checks both)."""


def form(c: Command) -> str:
    """The form of a parsed command: its verb, its resource and the flags that change what the model does."""
    if c.verb in ("cordon", "uncordon", "taint", "untaint"):
        return c.verb
    if c.verb == "drain":
        return "drain --force" if c.force else "drain"
    if c.verb == "rollout-undo":
        return "rollout undo --to-revision" if c.to_revision else "rollout undo"
    if c.verb.startswith("rollout-"):
        return "rollout " + c.verb.removeprefix("rollout-")
    if c.verb == "set-image":
        return f"set image {c.resource}"
    if c.verb == "create-service":
        return "create service"
    if c.verb == "delete" and c.resource == "pods":
        return "delete pods --force" if c.force else "delete pods -l" if c.selector else "delete pods"
    if c.verb == "delete" and c.cascade not in ("", "background"):
        return f"delete {c.resource} --cascade={c.cascade}"
    return f"{c.verb} {c.resource}"


def parse(line: str, where: str) -> Command:
    """One command line; an InputError names ``where`` and the problem."""
    command = _parse(line, where)
    if form(command) not in FORMS:
        raise InputError(f"{where}: unsupported command {line!r} ({', '.join(FORMS)})")
    return command


def _parse(line: str, where: str) -> Command:
    try:
        words = shlex.split(line)
    except ValueError as err:
        raise InputError(f"{where}: {err}") from None
    if not words or words[0] != "kubectl":
        raise InputError(f"{where}: {line!r} is not a kubectl command")
    words = words[1:]
    if words and words[0] == "drain":
        return parse_drain(line, words, where)
    namespace = "default"
    flags: dict[str, str] = {}
    plain: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("-n", "--namespace", "-l", "--selector") and i + 1 < len(words):
            flags[w.lstrip("-")[0]] = words[i + 1]
            i += 2
            continue
        if w.startswith("--") and "=" in w:
            k, v = w[2:].split("=", 1)
            flags[k] = v
        elif w == "--force":
            flags["force"] = "true"
        elif w.startswith("-"):
            raise InputError(f"{where}: unknown flag {w!r}")
        else:
            plain.append(w)
        i += 1
    namespace = flags.pop("n", namespace)
    if not plain:
        raise InputError(f"{where}: missing command")
    verb = plain[0]
    if verb == "taint":
        return parse_taint(line, plain, flags, where)
    if verb in ("cordon", "uncordon"):
        if len(plain) != 2:
            raise InputError(f"{where}: usage: kubectl {verb} NODE")
        return Command(line, verb, "nodes", plain[1])
    if verb == "scale":
        resource, name, rest = _target(plain[1:], where)
        if resource not in ("deployments", "replicasets", "statefulsets", "replicationcontrollers") or not name \
                or rest:
            raise InputError(f"{where}: usage: kubectl scale deployment/NAME --replicas=N")
        raw = flags.pop("replicas", None)
        if raw is None or not raw.lstrip("-").isdigit():
            raise InputError(f"{where}: --replicas: expected an integer, got {raw!r}")
        _no_more(flags, where)
        return Command(line, verb, resource, name, namespace, replicas=int(raw))
    if verb == "set" and len(plain) >= 2 and plain[1] == "image":
        resource, name, rest = _target(plain[2:], where)
        if resource not in ("deployments", "daemonsets") or not name or len(rest) != 1 or "=" not in rest[0]:
            raise InputError(f"{where}: usage: kubectl set image deployment/NAME|daemonset/NAME CONTAINER=IMAGE")
        container, image = rest[0].split("=", 1)
        _no_more(flags, where)
        return Command(line, "set-image", resource, name, namespace, container=container, image=image)
    if verb == "rollout" and len(plain) >= 2 and plain[1] in ("pause", "resume"):
        resource, name, rest = _target(plain[2:], where)
        if resource != "deployments" or not name or rest:
            raise InputError(f"{where}: usage: kubectl rollout {plain[1]} deployment/NAME")
        _no_more(flags, where)
        return Command(line, "rollout-" + plain[1], resource, name, namespace)
    if verb == "rollout" and len(plain) >= 2 and plain[1] == "undo":
        resource, name, rest = _target(plain[2:], where)
        if resource != "deployments" or not name or rest:
            raise InputError(f"{where}: usage: kubectl rollout undo deployment/NAME [--to-revision=N]")
        raw = flags.pop("to-revision", "0")
        if not raw.isdigit():
            raise InputError(f"{where}: --to-revision: expected an integer, got {raw!r}")
        _no_more(flags, where)
        return Command(line, "rollout-undo", resource, name, namespace, to_revision=int(raw))
    if verb == "delete":
        resource, name, rest = _target(plain[1:], where)
        if resource == "nodes":
            return parse_delete_node(line, name, rest, flags, where)
        if resource == "namespaces":
            return parse_delete_namespace(line, name, rest, flags, where)
        force = parse_force_delete(flags, where)
        selector = flags.pop("l", "")
        raw_cascade = flags.pop("cascade", "background")
        if raw_cascade not in CASCADE:
            raise InputError(f"{where}: --cascade: expected background, foreground or orphan, got {raw_cascade!r}")
        cascade = CASCADE[raw_cascade]
        if resource in DELETABLE_OWNERS:
            if not name or rest or selector:
                raise InputError(f"{where}: usage: kubectl delete {resource[:-1]} NAME "
                                 "[--cascade=background|foreground|orphan]")
            _no_more(flags, where)
            return Command(line, verb, resource, name, namespace, cascade=cascade)
        if resource != "pods" or rest or bool(name) == bool(selector):
            raise InputError(f"{where}: usage: kubectl delete pod NAME [--grace-period=0 --force] | "
                             "kubectl delete pod -l KEY=VALUE | kubectl delete node NODE")
        labels = []
        for part in filter(None, selector.split(",")):
            if "=" not in part:
                raise InputError(f"{where}: -l: expected KEY=VALUE, got {part!r}")
            k, v = part.split("=", 1)
            labels.append((k, v))
        _no_more(flags, where)
        return Command(line, verb, resource, name, namespace, selector=pairs(labels), cascade=cascade, force=force)
    if verb == "expose":
        resource, name, rest = _target(plain[1:], where)
        if resource != "deployments" or not name or rest:
            raise InputError(f"{where}: usage: kubectl expose deployment/NAME --port=PORT [--target-port=PORT] "
                             "[--name=NAME] [--type=ClusterIP|NodePort]")
        ports = {}
        for flag in ("port", "target-port"):
            raw = flags.pop(flag, None)
            if raw is None:
                continue
            if not raw.isdigit() or not 1 <= int(raw) <= 65535:
                raise InputError(f"{where}: --{flag}: expected a port number (1-65535), got {raw!r}")
            ports[flag] = int(raw)
        if "port" not in ports:  # the model's Deployments declare no container ports to infer it from
            raise InputError(f"{where}: --port: required (couldn't find port via --port flag or introspection)")
        service_type = flags.pop("type", "ClusterIP")
        if service_type not in ("ClusterIP", "NodePort", "LoadBalancer"):
            raise InputError(f"{where}: --type: expected ClusterIP, NodePort or LoadBalancer, got {service_type!r}")
        service = flags.pop("name", name)
        _no_more(flags, where)
        return Command(line, verb, resource, name, namespace, port=ports["port"],
                       target_port=ports.get("target-port", ports["port"]), service=service,
                       service_type=service_type)
    if verb == "create" and len(plain) >= 3 and plain[1] == "service":
        kinds = {"clusterip": "ClusterIP", "nodeport": "NodePort", "loadbalancer": "LoadBalancer"}
        if plain[2] not in kinds or len(plain) != 4:
            raise InputError(f"{where}: usage: kubectl create service clusterip|nodeport|loadbalancer NAME "
                             "--tcp=PORT:TARGET[,...] [--clusterip=None]")
        tcp = flags.pop("tcp", "")
        pairs_ = []
        for part in filter(None, tcp.split(",")):
            port, _, target = part.partition(":")
            target = target or port
            if not (port.isdigit() and target.isdigit() and 1 <= int(port) <= 65535 and 1 <= int(target) <= 65535):
                raise InputError(f"{where}: --tcp: expected PORT:TARGET port numbers, got {part!r}")
            pairs_.append((int(port), int(target)))
        if len(pairs_) != 1:
            raise InputError(f"{where}: --tcp: exactly one PORT:TARGET is modelled, got {tcp!r}")
        cluster_ip = flags.pop("clusterip", "")
        if cluster_ip not in ("", "None"):
            raise InputError(f"{where}: --clusterip: only None (headless) is modelled, got {cluster_ip!r}")
        _no_more(flags, where)
        return Command(line, "create-service", "services", plain[3], namespace, port=pairs_[0][0],
                       target_port=pairs_[0][1], service=plain[3], service_type=kinds[plain[2]],
                       container=cluster_ip)
    raise InputError(f"{where}: unsupported command {line!r} (scale, set image, rollout undo, rollout pause, "
                     "rollout resume, delete pod, "
                     "delete node, delete namespace, delete deployment, delete replicaset, delete job, "
                     "delete daemonset, delete pvc, cordon, uncordon, drain, expose, create service, taint)")


TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def parse_taint(line: str, plain: list[str], flags: dict[str, str], where: str) -> Command:
    """``kubectl taint nodes NODE KEY[=VALUE]:EFFECT`` (add) or ``KEY[=VALUE][:EFFECT]-`` (remove): one node, one
    taint (staging/src/k8s.io/kubectl/pkg/cmd/taint/taint.go, parseTaints)."""
    usage = f"{where}: usage: kubectl taint nodes NODE KEY[=VALUE]:EFFECT | kubectl taint nodes NODE KEY[:EFFECT]-"
    if len(plain) != 4 or plain[1] not in ("node", "nodes", "no"):
        raise InputError(usage)
    spec = plain[3]
    remove = spec.endswith("-")
    if remove:
        spec = spec[:-1]
    rest, _, effect = spec.partition(":")
    key, _, value = rest.partition("=")
    if not key or (not remove and not effect):
        raise InputError(usage)
    if effect and effect not in TAINT_EFFECTS:
        raise InputError(f"{where}: invalid taint effect: {effect}, unsupported taint effect")
    _no_more(flags, where)
    return Command(line, "untaint" if remove else "taint", "nodes", plain[2], taint=(key, value, effect))


def run_taint(c: Command, session: Session) -> str:
    """Add the taint (refused when the node has the key with that effect: no --overwrite), or remove the key's
    taints (with that effect, if given); a patch of spec.taints."""
    key = key_of("nodes", "", c.name)
    node = session.get(key)
    if not isinstance(node, Node):
        return f'Error from server (NotFound): nodes "{c.name}" not found'
    t_key, t_value, t_effect = c.taint
    taints = node.info.taints
    if c.verb == "taint":
        if any(t.key == t_key and t.effect == t_effect for t in taints):
            return f"error: node {c.name} already has {t_key} taint(s) with same effect(s) and --overwrite is false"
        new = (*taints, Taint(t_key, t_value, t_effect))  # type: ignore[arg-type]
    else:
        new = tuple(t for t in taints if not (t.key == t_key and (not t_effect or t.effect == t_effect)))
        if len(new) == len(taints):
            shown = f"{t_key}:{t_effect}" if t_effect else t_key
            return f'error: taint "{shown}" not found'
    session.patch(key, attrs.evolve(node, info=attrs.evolve(node.info, taints=new)))
    return f"node/{c.name} {c.verb}ed"


def _no_more(flags: dict[str, str], where: str) -> None:
    if flags:
        raise InputError(f"{where}: unknown flag --{next(iter(flags))}")


def run(command: Command, session: Session) -> str:
    """Run ``command`` against the API server; returns kubectl's output line."""
    c = command
    if c.verb == "drain":
        return start_drain(c, -1, session)[0]
    key = key_of(c.resource, c.namespace, c.name)
    if c.verb in ("taint", "untaint"):
        return run_taint(c, session)
    if c.verb in ("cordon", "uncordon"):
        node = session.get(key)
        if not isinstance(node, Node):
            return f'Error from server (NotFound): nodes "{c.name}" not found'
        wanted = c.verb == "cordon"
        if node.info.unschedulable == wanted:
            return f"node/{c.name} already {c.verb}ed"
        session.patch(key, attrs.evolve(node, info=attrs.evolve(node.info, unschedulable=wanted)))
        return f"node/{c.name} {c.verb}ed"
    if c.verb == "delete" and c.resource == "nodes":
        return run_delete_node(c, session)
    if c.verb == "delete" and c.resource == "namespaces":
        return run_delete_namespace(c, session)
    if c.verb == "delete" and c.resource in DELETABLE_OWNERS:
        # kubectl delete sets DeleteOptions.PropagationPolicy from --cascade (delete.go: deleteResource)
        group = _GROUP[c.resource]
        response = session.delete(key, propagation=_POLICY[c.cascade or "background"])
        if response.ok:
            return f'{group} "{c.name}" deleted'
        return f'Error from server (NotFound): {qualified_resource(c.resource)} "{c.name}" not found'
    if c.verb == "delete":
        if c.name:
            keys = [key]
        else:
            keys = sorted(
                k for k, o in session.etcd.objects.items()
                if isinstance(o, Pod) and o.meta.namespace == c.namespace and not o.meta.deleting
                and all(dict(o.meta.labels).get(a) == b for a, b in c.selector)
            )
        out = []
        if c.force and keys:
            out.append(FORCE_WARNING)
        for k in keys:
            response = session.delete(k, grace=not c.force, propagation=_POLICY[c.cascade or "background"])
            name = k.rsplit("/", 1)[1]
            out.append(f'pod "{name}" {"force " if c.force else ""}deleted' if response.ok else
                       f'Error from server (NotFound): pods "{name}" not found')
        return "; ".join(out) or "No resources found"
    if c.verb == "expose":
        return _expose(c, session)
    if c.verb == "create-service":
        return _create_service(c, session)
    obj = session.get(key)
    if c.verb == "set-image" and isinstance(obj, DaemonSet):
        if all(ct.name != c.container for ct in obj.template.containers):
            return f'error: unable to find container named "{c.container}"'
        response = session.patch(key, attrs.evolve(obj, template=obj.template.with_image(c.container, c.image)))
        return f"daemonset.apps/{c.name} image updated" if response.ok else f"error: {response.message}"
    if not isinstance(obj, Deployment | ReplicaSet | StatefulSet | ReplicationController):
        return f'Error from server (NotFound): {qualified_resource(c.resource)} "{c.name}" not found'
    if c.verb == "scale":  # the scale subresource (kubectl prints the resource with its group: none for the core's)
        response = session.patch(key, attrs.evolve(obj, replicas=c.replicas))
        group = "" if isinstance(obj, ReplicationController) else ".apps"
        return f"{c.resource[:-1]}{group}/{c.name} scaled" if response.ok else f"error: {response.message}"
    if not isinstance(obj, Deployment):
        return f'Error from server (NotFound): deployments.apps "{c.name}" not found'
    if c.verb in ("rollout-pause", "rollout-resume"):
        return _pause_or_resume(c, obj, session)
    if c.verb == "set-image":
        if all(ct.name != c.container for ct in obj.template.containers):
            return f'error: unable to find container named "{c.container}"'
        response = session.patch(key, attrs.evolve(obj, template=obj.template.with_image(c.container, c.image)))
        return f"deployment.apps/{c.name} image updated" if response.ok else f"error: {response.message}"
    # rollout undo
    if obj.paused:  # polymorphichelpers/rollback.go DeploymentRollbacker.Rollback
        return "error: you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and " \
            "try again"
    history = sorted(owned(obj, session.etcd.objects.values()), key=revision)
    if c.to_revision:
        target = next((rs for rs in history if revision(rs) == c.to_revision), None)
        if target is None:
            return f"error: unable to find specified revision {c.to_revision} in history"
    else:
        if len(history) < 2:
            return "error: no rollout history found for deployment " + repr(c.name)
        target = history[-2]
    labels = tuple((k, v) for k, v in target.template.labels if k != POD_TEMPLATE_HASH)
    template = target.template.with_labels(labels)
    if template == obj.template:
        return f"deployment.apps/{c.name} skipped rollback (current template already matches revision " \
            f"{revision(target)})"
    session.patch(key, attrs.evolve(obj, template=template))
    return f"deployment.apps/{c.name} rolled back"


def _pause_or_resume(c: Command, obj: Deployment, session: Session) -> str:
    """``kubectl rollout pause|resume deployment/NAME`` (cmd/rollout/rollout_pause.go, rollout_resume.go;
    polymorphichelpers/objectpauser.go, objectresumer.go): a patch of spec.paused; refused when it already has
    the value ("is already paused", "is not paused")."""
    pause = c.verb == "rollout-pause"
    if obj.paused == pause:
        return f'error: deployments.apps "{c.name}" {"is already paused" if pause else "is not paused"}'
    response = session.patch(key_of(c.resource, c.namespace, c.name), attrs.evolve(obj, paused=pause))
    if not response.ok:
        return f"failed to patch: {response.message}"
    return f"deployment.apps/{c.name} {'paused' if pause else 'resumed'}"


# --- kubectl delete node, and kubectl delete pod --grace-period=0 --force (issue 12, the node lifecycle) --------

FORCE_WARNING = ("Warning: Immediate deletion does not wait for confirmation that the running resource has been "
                 "terminated. The resource may continue to run on the cluster indefinitely.")
"""What kubectl prints on a forced deletion (staging/src/k8s.io/kubectl/pkg/cmd/delete/delete.go)."""


def parse_force_delete(flags: dict[str, str], where: str) -> bool:
    """--grace-period and --force as kubectl delete's Complete reads them: --grace-period=0 without --force becomes
    1 (graceful: "to preserve backwards compatibility, but prevent accidental data loss"); --force without a grace
    period means 0. Immediate deletion (the pod object gone at once, whatever its kubelet still runs) is --force with
    a grace period of 0 or none. A positive grace period is graceful (the model has no grace duration: the kubelet
    stops the containers, then deletes the pod)."""
    raw = flags.pop("grace-period", None)
    force = flags.pop("force", "") == "true"
    if raw is not None and not raw.lstrip("-").isdigit():
        raise InputError(f"{where}: --grace-period: expected an integer, got {raw!r}")
    grace = -1 if raw is None else int(raw)
    if force and grace > 0:
        return False
    return force


def parse_delete_node(line: str, name: str, rest: list[str], flags: dict[str, str], where: str) -> Command:
    """``kubectl delete node NODE``."""
    if not name or rest or flags.get("l"):
        raise InputError(f"{where}: usage: kubectl delete node NODE")
    _no_more(flags, where)
    return Command(line, "delete", "nodes", name, "")


def run_delete_node(c: Command, session: Session) -> str:
    """DELETE the Node object (nodes have no finalizers here: it is gone at once). Its pods stay bound to it until
    the pod garbage collector deletes them as orphans (``spec.controllers.podgc``); its kubelet, if it still runs,
    keeps running them until then."""
    key = key_of("nodes", "", c.name)
    response = session.delete(key)
    return f'node "{c.name}" deleted' if response.ok else f'Error from server (NotFound): nodes "{c.name}" not found'


def parse_delete_namespace(line: str, name: str, rest: list[str], flags: dict[str, str], where: str) -> Command:
    """``kubectl delete namespace NAME``."""
    if not name or rest or flags.get("l"):
        raise InputError(f"{where}: usage: kubectl delete namespace NAME")
    flags.pop("cascade", None)  # a namespace's content is the namespace controller's, whatever the policy
    _no_more(flags, where)
    return Command(line, "delete", "namespaces", name, "")


def run_delete_namespace(c: Command, session: Session) -> str:
    """DELETE the Namespace: it becomes Terminating (``spec.apiserver``; the namespace controller deletes its
    content, then it goes), or the admission plugin refuses (an immortal namespace)."""
    response = session.delete(key_of("namespaces", "", c.name))
    if response.ok:
        return f'namespace "{c.name}" deleted'
    if response.code == 403:
        return f"Error from server (Forbidden): {response.message}"
    return f'Error from server (NotFound): namespaces "{c.name}" not found'


def service_for(c: Command, session: Session) -> Service | str:
    """The Service ``kubectl expose`` sends (staging/src/k8s.io/kubectl/pkg/cmd/expose/expose.go): its selector
    is the Deployment's matchLabels (polymorphichelpers.MapBasedSelectorForObject), one unnamed port --port to
    --target-port (default --port), type --type; or kubectl's error line."""
    obj = session.get(key_of(c.resource, c.namespace, c.name))
    if not isinstance(obj, Deployment):
        return f'Error from server (NotFound): deployments.apps "{c.name}" not found'
    if obj.selector.match_expressions:
        return "error: couldn't retrieve selectors via --selector flag or introspection: couldn't convert " \
            "expressions to map-based selector format"
    return Service(Meta(c.service, c.namespace, labels=obj.meta.labels), tuple(obj.selector.match_labels),
                   (ServicePort("", c.port, c.target_port),), c.service_type)


def service_of_create(c: Command) -> Service:
    """The Service ``kubectl create service TYPE NAME --tcp=PORT:TARGET`` sends (staging/src/k8s.io/kubectl/pkg/
    cmd/create/create_service.go: label and selector app=NAME, the port named "PORT-TARGET", clusterIP from
    --clusterip)."""
    labels = (("app", c.service),)
    return Service(Meta(c.service, c.namespace, labels=labels), labels,
                   (ServicePort(f"{c.port}-{c.target_port}", c.port, c.target_port),), c.service_type, c.container)


def _created(c: Command, session: Session, svc: Service, verb: str) -> str:
    response = session.create(svc)
    if response.ok:
        return f"service/{c.service} {verb}"
    if response.reason == "AlreadyExists":
        return f'Error from server (AlreadyExists): services "{c.service}" already exists'
    return f"The {response.message}"


def _create_service(c: Command, session: Session) -> str:
    return _created(c, session, service_of_create(c), "created")


def _expose(c: Command, session: Session) -> str:
    """kubectl expose deployment/NAME: ``service_for``, created through the API server, which allocates."""
    svc = service_for(c, session)
    if isinstance(svc, str):
        return svc
    return _created(c, session, svc, "exposed")


# --- kubectl drain (staging/src/k8s.io/kubectl/pkg/drain, cmd/drain) ------------------------------------------

DRAIN_FLAGS = ("--ignore-daemonsets", "--delete-emptydir-data", "--force")
"""The flags ``kubectl drain`` takes here. No DaemonSet and no emptyDir volume is modelled, so the first two change
nothing (they are accepted because real drains pass them); ``--force`` lets pods without a controller go too."""


def parse_drain(line: str, words: list[str], where: str) -> Command:
    """``kubectl drain NODE [--ignore-daemonsets] [--delete-emptydir-data] [--force]`` (words after ``kubectl``)."""
    plain = [w for w in words[1:] if not w.startswith("-")]
    flags = [w for w in words[1:] if w.startswith("-")]
    for f in flags:
        if f not in DRAIN_FLAGS:
            raise InputError(f"{where}: unknown flag {f!r} (kubectl drain takes {', '.join(DRAIN_FLAGS)})")
    if len(plain) != 1:
        raise InputError(f"{where}: usage: kubectl drain NODE [--ignore-daemonsets] [--delete-emptydir-data] "
                         "[--force]")
    return Command(line, "drain", "nodes", plain[0], force="--force" in flags)


def start_drain(command: Command, index: int, session: Session) -> tuple[str, Drain | None]:
    """RunNodeDrain's first half: cordon the node (RunCordonOrUncordon), then GetPodsForDeletion: the pods bound to
    it and not yet being deleted. A pod that declares no controller stops the drain (the node stays cordoned)
    unless ``--force``. Returns kubectl's output and the drain under way (None: finished or failed)."""
    name = command.name
    key = key_of("nodes", "", name)
    node = session.get(key)
    if not isinstance(node, Node):
        return f'Error from server (NotFound): nodes "{name}" not found', None
    out = []
    if node.info.unschedulable:
        out.append(f"node/{name} already cordoned")
    else:
        session.patch(key, attrs.evolve(node, info=attrs.evolve(node.info, unschedulable=True)))
        out.append(f"node/{name} cordoned")
    pods = sorted((p for p in session.etcd.objects.values()
                   if isinstance(p, Pod) and p.node_name == name and not p.meta.deleting),
                  key=lambda p: (p.meta.namespace, p.meta.name))
    unmanaged = [p for p in pods if p.meta.owner is None]
    if unmanaged and not command.force:
        listed = ", ".join(f"{p.meta.namespace}/{p.meta.name}" for p in unmanaged)
        out.append(f'error: unable to drain node "{name}" due to error: cannot delete Pods that declare no '
                   f"controller (use --force to override): {listed}")
        return "; ".join(out), None
    if not pods:
        out.append(f"node/{name} drained")
        return "; ".join(out), None
    out.append("evicting " + ", ".join(f"pod {p.meta.namespace}/{p.meta.name}" for p in pods))
    return "; ".join(out), Drain(index, name, tuple((pod_key(p.meta.namespace, p.meta.name), p.meta.uid)
                                                    for p in pods))


def drain_step(drain: Drain, key: Key, session: Session, variants: frozenset[str] = frozenset()
               ) -> tuple[str, Drain | None]:
    """One eviction of evictPods: 201 or 404 and the pod is done; 429 TooManyRequests and it is retried (the
    goroutine sleeps 5 s and evicts again: the drain is unchanged); a 403 with cause NamespaceTerminating (the
    pod's namespace is being deleted) is retried until the pod has a deletionTimestamp, and then ignored, the pod
    done (kubernetes#93947; drain.go evictPods, apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause));
    any other error ends the drain. The drain is done when every pod is (``node/NAME drained``; waitForDelete is
    left out: it writes nothing)."""
    uid = dict(drain.pods)[key]
    name = key.rsplit("/", 1)[1]
    namespace = key.split("/")[1]
    current = session.get(key)
    if not isinstance(current, Pod) or current.meta.uid != uid:
        response_text = f"pod/{name} evicted"  # already gone: NotFound counts as done
    else:
        response = evict(session, key, variants)
        if response.code == 429:
            return (f'error when evicting pods/"{name}" -n "{namespace}" (will retry after 5s): '
                    f"{response.message}"), drain
        if response.cause == NAMESPACE_TERMINATING and not current.meta.deleting:
            # kubernetes#93947 (drain.go evictPods): in a Terminating namespace, retried until the pod is deleted
            return (f'error when evicting pod "{name}" from terminating namespace "{namespace}" (will retry after '
                    f"5s): {response.message}"), drain
        if response.cause == NAMESPACE_TERMINATING:
            pass  # the pod is being deleted: the error is ignored and the drain waits for its deletion (done here)
        elif not response.ok and response.code != 404:
            return (f'error: unable to drain node "{drain.node}" due to error: error when evicting pods/"{name}" '
                    f'-n "{namespace}": {response.message}'), None
        response_text = f"pod/{name} evicted"
    rest = tuple(p for p in drain.pods if p[0] != key)
    if not rest:
        return f"{response_text}; node/{drain.node} drained", None
    return response_text, Drain(drain.command, drain.node, rest)


# --- the component (spec.component) ----------------------------------------------------------------------------


class KubectlComponent(Base):
    """The user: slot ``ClusterState.pending_commands`` (the scenario's commands not yet run); steps ``Kubectl``,
    each command once, at any point, actor "kubectl", not fair (the user may never type it). Nothing to lose."""

    name = "kubectl"

    def actors(self, config: Config) -> tuple[str, ...]:
        return ("kubectl",)

    def init(self, state: ClusterState, config: Config) -> ClusterState:
        return state._with(pending_commands=frozenset(range(len(config.commands))))

    def steps(self, state: ClusterState, config: Config) -> Iterator[Step]:
        for index in sorted(state.pending_commands):
            command = config.commands[index]
            if command.verb == "drain":
                continue  # a drain is a process of several steps: spec.controllers.workloads runs it
            if command.verb in ("expose", "create-service") and "ip-repair-race" in config.variants:
                from spec import network

                yield from network.expose_split(state, config, index, command)
                continue
            sess = session(state, config)
            output = run(command, sess)
            yield A.Kubectl("kubectl", command.line, output), commit(
                state, sess, config, pending_commands=state.pending_commands - {index})

    def enabled(self, state: ClusterState, config: Config) -> set[str]:
        return {"kubectl"} if any(config.commands[i].verb != "drain" for i in state.pending_commands) else set()


KUBECTL = KubectlComponent()
