"""The command line of the Kubernetes spec: the scenario loader of ``kubespec check`` and ``kubespec list``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import click

from checker.errors import InputError
from checker.loading import Loaded, relative_path
from spec.config import Config
from spec.faults import symmetric_nodes
from spec.model import ClusterModel, applicable
from spec.properties import PROPERTIES
from spec.reduction import NONE
from spec.scenario import DEFAULT_SCENARIO, Scenario, builtin, builtin_names, load, with_overrides
from spec.state import Deployment, Node, Pod, ReplicaSet, ReplicationController
from spec.variants import VARIANTS


def summary(s: Scenario) -> str:
    """One line: what is checked and within which bounds."""
    c = s.config
    kinds: dict[type, int] = {Node: 0, Deployment: 0, ReplicaSet: 0, Pod: 0}
    for o in c.objects:
        kinds[type(o)] = kinds.get(type(o), 0) + 1
    replicas = sum(o.replicas for o in c.objects if isinstance(o, Deployment | ReplicaSet | ReplicationController))
    faults = ", ".join(f"{a.name.replace('_', ' ')} {getattr(c.budget, a.name)}"
                       for a in c.budget.__attrs_attrs__ if getattr(c.budget, a.name)) or "no faults"
    counted = [_count(kinds[Node], "node"), _count(kinds[Deployment], "deployment"),
               _count(kinds[ReplicaSet], "replicaset"), _count(kinds[Pod], "pod") + f" ({_count(replicas, 'replica')})"]
    counted += [_count(n, kind.__name__.lower()) for kind, n in kinds.items()
                if kind not in (Node, Deployment, ReplicaSet, Pod)]
    parts = [
        f"scenario {s.name}: " + ", ".join(counted),
        faults,
        f"consistency {c.consistency}",
        *([f"{c.api_servers} API servers (spec/kube_apiserver.py)"] if c.api_servers > 1 else []),
        *(["started converged (spec/warmup.py)"] if c.start == "converged" else []),
        "variants " + ", ".join(sorted(c.variants)) if c.variants else "today's Kubernetes (no variant)",
        _count(len(c.commands), "kubectl command"),
        *([f"read and not modelled: {', '.join(s.ignored)}"] if s.ignored else []),
        f"properties: {', '.join(c.properties) if c.properties else 'all ' + str(_defaults(c))}",
    ]
    bounds = []
    if s.max_states:
        bounds.append(f"max {s.max_states:,} states")
    if s.max_depth:
        bounds.append(f"max depth {s.max_depth}")
    if c.leader_election is not None:  # AtMostOneActingLeader holds within this budget only (spec.leaderelection)
        from spec.leaderelection import describe_bounds

        bounds.append(describe_bounds(c.leader_election))
    if any(type(o).__name__ == "CronJob" for o in c.objects):  # time ends after them (spec.controllers.cronjob)
        bounds.append(f"{c.schedule_times} schedule time{'s' if c.schedule_times != 1 else ''} per CronJob")
    if c.load is not None:  # the load actor is not fair: its changes are bounded (spec.controllers.podautoscaler)
        bounds.append(f"at most {_count(c.load.max_switches, 'load change')} (spec.load)")
    if bounds:  # what the scenario asks for; the verdict states the bounds the search ran with (options may differ)
        parts.append("scenario bounds: " + ", ".join(bounds))
    on = applicable(s.reductions, c).names(bool(symmetric_nodes(c)), c.consistency)
    parts.append("reductions: " + (", ".join(on) if on else "none (the plain Next relation)"))
    return "; ".join(parts)


def _count(n: int, noun: str) -> str:
    """``1 node``, ``2 nodes``, ``0 nodes``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _defaults(config: Config | None = None) -> int:
    """How many properties a scenario that names none checks (the findings are checked only when named)."""
    return sum(1 for p in PROPERTIES.values()
               if not p.finding and (config is None or p.applies is None or p.applies(config)))


class ScenarioLoader:
    """``kubespec check [SCENARIO.yaml | NAME]``: scenario files and built-in scenarios."""

    params: Sequence[click.Parameter] = (
        click.Option(["--variant", "variant"], multiple=True, metavar="NAME",
                     help="Restore a historical bug (repeatable): " + ", ".join(VARIANTS) + "."),
        click.Option(["--crashes", "crashes"], type=int, default=None, metavar="N",
                     help="Budget of kube-controller-manager crashes (overrides the scenario)."),
        click.Option(["--no-reduction", "no_reduction"], is_flag=True, default=False,
                     help="Explore the plain Next relation: every reduction off (node symmetry, renumbering, "
                          "commuting writes, ample sets, eager no-ops)."),
    )

    def accepts(self, target: str | None) -> bool:
        if target is None:
            return True
        return target.endswith((".yaml", ".yml")) or target in builtin_names()

    def load(self, target: str | None, params: Mapping[str, Any]) -> Loaded:
        name = target or DEFAULT_SCENARIO
        if name.endswith((".yaml", ".yml")):
            if not Path(name).exists():
                raise InputError(f"{name}: no such scenario file")
            scenario = load(name)
        else:
            scenario = builtin(name)
        variants = tuple(params.get("variant") or ())
        crashes = params.get("crashes")
        scenario = with_overrides(scenario, variants, crashes)
        no_reduction = bool(params.get("no_reduction"))
        if no_reduction:
            scenario = attrs.evolve(scenario, reductions=NONE)
        options: dict[str, Any] = {}
        if scenario.max_states:
            options["max_states"] = scenario.max_states
        if scenario.max_depth:
            options["max_depth"] = scenario.max_depth
        identity = {
            "loader": "scenario",
            "target": relative_path(name) if name.endswith((".yaml", ".yml")) else name,
            "params": {"variant": list(variants), "crashes": crashes, "no_reduction": no_reduction},
        }
        return Loaded(model=ClusterModel(scenario.config, scenario.reductions), identity=identity, options=options,
                      summary=summary(scenario))


scenario_loader = ScenarioLoader()


@click.command("list")
@click.option("--json", "as_json", is_flag=True, default=False,
              help="One JSON object: scenarios (name, description), properties (name, kind, promise) and variants "
                   "(name, issue, the built-in scenario that refutes it).")
def list_command(as_json: bool) -> None:
    """List the built-in scenarios, the properties and the variants (historical bugs)."""
    if as_json:
        click.echo(json.dumps(listing(), indent=2))
        return
    click.echo("Scenarios (kubespec check NAME):")
    for name in builtin_names():
        s = builtin(name)
        default = " (default)" if name == DEFAULT_SCENARIO else ""
        click.echo(f"  {name}{default}: {s.description}")
    click.echo("Properties:")
    for p in PROPERTIES.values():
        kind = "invariant" if p.kind == "always" else "liveness"
        if p.finding:
            kind += "; a finding: upstream breaks it, checked only when a scenario names it"
        click.echo(f"  {p.name} ({kind}): {' '.join(p.doc.split())}")
    click.echo("Variants (kubespec check --variant NAME):")
    for v in VARIANTS.values():
        refuted = f"; refuted on {v.refuted_on}" if v.refuted_on else ""
        click.echo(f"  {v.name} ({v.issue}{refuted}): {v.summary}")


def listing() -> dict[str, Any]:
    """What ``kubespec list --json`` prints: every built-in scenario, property and variant, for tools and tests.
    A property's ``kind`` is the checker's operator ("always", "eventually_always", "leads_to",
    "leads_to_always"), ``class`` says invariant or liveness; a variant's ``refuted_on`` names the built-in scenario
    on which ``kubespec check SCENARIO --variant NAME`` finds the violation (and which holds without it)."""
    scenarios = []
    for name in builtin_names():
        s = builtin(name)
        scenarios.append({"name": name, "description": s.description, "default": name == DEFAULT_SCENARIO})
    properties = [{"name": p.name, "kind": p.kind, "class": "invariant" if p.kind == "always" else "liveness",
                   "promise": " ".join(p.doc.split()), "upstream": p.upstream, "finding": p.finding}
                  for p in PROPERTIES.values()]
    variants = [{"name": v.name, "issue": v.issue, "summary": v.summary, "refuted_on": v.refuted_on or None}
                for v in VARIANTS.values()]
    return {"scenarios": scenarios, "properties": properties, "variants": variants}
