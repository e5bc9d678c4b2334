"""spec/testing.py's strategies reach every fault kind, every form of kubectl command and 1 to 3 nodes, and what
they draw parses (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis.errors import NoSuchExample

from checker.errors import InputError
from spec.kubectl import FORMS, form
from spec.kubectl import parse as parse_command
from spec.leaderelection import FIELDS as LEADER_ELECTION_FIELDS
from spec.scenario import _KINDS, FAULTS, parse
from spec.testing import FAULT_KINDS, KUBECTL_FORMS, cluster_states, scenario_documents

SEARCH = settings(max_examples=4000, database=None, derandomize=True, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))  # found is enough: no shrinking


def _form(line: str) -> str:
    return form(parse_command(line, "test"))


def _spec(docs: list[dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = docs[0]["spec"]
    return spec


def test_every_fault_kind_is_drawn() -> None:
    assert set(FAULT_KINDS) == set(FAULTS)
    for kind in FAULT_KINDS:
        docs = find(scenario_documents(), lambda d, k=kind: _spec(d)["faults"][k] > 0, settings=SEARCH)  # type: ignore[misc]
        assert _spec(docs)["faults"][kind] > 0


@pytest.mark.parametrize("form", KUBECTL_FORMS)
def test_every_kubectl_command_is_drawn(form: str) -> None:
    try:
        docs = find(scenario_documents(), lambda d: any(_form(c) == form for c in _spec(d)["userActions"]),
                    settings=SEARCH)
    except NoSuchExample:
        pytest.fail(f"no generated scenario runs `kubectl {form}`: add it to spec/testing.py's kubectl_commands()")
    line = next(c for c in _spec(docs)["userActions"] if _form(c) == form)
    parse_command(line, "test")  # the model's own parser takes it


def test_the_forms_drawn_are_the_forms_the_parser_runs() -> None:
    """``KUBECTL_FORMS`` is the parser's own table: a form added to ``spec.kubectl.parse`` (and to ``FORMS``, or
    the parser refuses it) must be drawn by ``kubectl_commands`` (the test above)."""
    assert KUBECTL_FORMS == FORMS
    with pytest.raises(InputError, match="unsupported command"):
        parse_command("kubectl annotate pod web a=b", "test")


@pytest.mark.parametrize("kind", sorted(_KINDS))
def test_every_modelled_kind_is_drawn(kind: str) -> None:
    """Every kind a scenario models (``spec.scenario``'s table) appears in some drawn scenario: a kind added to the
    parser needs a generator in spec/testing.py's ``manifests`` (else the differential and hypothesis tests never
    see it)."""
    try:
        docs = find(scenario_documents(), lambda d: any(x["kind"] == kind for x in d), settings=SEARCH)
    except NoSuchExample:
        pytest.fail(f"no generated scenario holds a {kind}: add a generator for it to spec/testing.py's manifests()")
    parse(yaml.safe_dump_all(docs), "generated.yaml")


@pytest.mark.parametrize("nodes", [1, 2, 3])
def test_one_to_three_nodes(nodes: int) -> None:
    docs = find(scenario_documents(), lambda d: sum(x["kind"] == "Node" for x in d) == nodes, settings=SEARCH)
    assert sum(x["kind"] == "Node" for x in docs) == nodes


@settings(max_examples=25, deadline=None)
@given(scenario_documents())
def test_what_is_drawn_parses(docs: list[dict[str, Any]]) -> None:
    scenario = parse(yaml.safe_dump_all(docs), "generated.yaml")
    assert len(scenario.config.commands) == len(_spec(docs)["userActions"])


@settings(max_examples=10, deadline=None)
@given(cluster_states(max_steps=15))
def test_cluster_states_are_states(state: Any) -> None:
    assert state.etcd.revision >= 1


def test_leader_election_is_drawn_with_every_field_and_component() -> None:
    """Scenarios under leader election (``spec.leaderElection``) are drawn, with every field of it, for each
    component elected alone and both together, one and two replicas, so the differential and representative tests
    see the replicas' Leases, pauses and failed renewals."""
    for wanted in (["kube-controller-manager"], ["kube-scheduler"], ["kube-controller-manager", "kube-scheduler"]):
        for replicas in (1, 2):
            docs = find(scenario_documents(),
                        lambda d, w=wanted, r=replicas: (_spec(d).get("leaderElection") or {}).get("components") == w
                        and _spec(d)["leaderElection"]["replicas"] == r, settings=SEARCH)  # type: ignore[misc]
            assert set(_spec(docs)["leaderElection"]) == set(LEADER_ELECTION_FIELDS)
            config = parse(yaml.safe_dump_all(docs), "generated.yaml").config
            assert config.leader_election is not None and list(config.leader_election.components) == wanted
    for field in ("pauses", "renewFailures"):
        find(scenario_documents(), lambda d, f=field: (_spec(d).get("leaderElection") or {}).get(f, 0) > 0,
             settings=SEARCH)  # type: ignore[misc]
