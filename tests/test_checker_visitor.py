"""checker.visitor: the search tells a visitor each state, edge and expansion, with the search's own indices and
counts (Stateright's CheckerVisitor); the graph tools use it instead of a second search (issue 18)."""

from __future__ import annotations

import pytest

from checker import InputError, Model, always, check
from checker.examples.diehard import DieHard
from checker.examples.twophase import TwoPhase
from checker.visitor import GraphRecorder


class _NoProps(Model):
    def __init__(self, inner: Model) -> None:
        self.inner = inner
        self.properties = ()

    def init_states(self):  # type: ignore[no-untyped-def]
        return self.inner.init_states()

    def successors(self, s):  # type: ignore[no-untyped-def]
        return self.inner.successors(s)


def test_the_visitor_sees_the_search_graph() -> None:
    recorder = GraphRecorder()
    result = check(_NoProps(TwoPhase(3)), visitor=recorder, deadlock=False)
    assert result.status == "ok"
    assert len(recorder.states) == result.stats.distinct_states == 288  # TLC's count for TwoPhase(3)
    assert len(set(recorder.states)) == len(recorder.states)
    # Every successor generated is an edge (no constraint), every state expanded once, parents precede children.
    assert len(recorder.edges) == result.stats.generated - 1
    assert sorted(recorder.generated) == list(range(len(recorder.states)))
    assert sum(recorder.generated.values()) == len(recorder.edges)
    assert all(p is None or p < i for i, p in enumerate(recorder.parent))
    assert max(recorder.depth) == result.stats.depth
    model = TwoPhase(3)
    for source, action, target in recorder.edges[:500]:
        assert (action, recorder.states[target]) in list(model.successors(recorder.states[source]))


def test_a_violation_stops_the_visit_where_the_search_stops() -> None:
    recorder = GraphRecorder()
    result = check(DieHard(), visitor=recorder)
    assert result.status == "violation"
    assert len(recorder.states) == result.stats.distinct_states
    assert recorder.states[-1].big == 4  # the violating state is the last one visited


def test_a_visitor_needs_one_exact_worker() -> None:
    model = _NoProps(DieHard())
    for options in ({"storage": "fingerprint"}, {"workers": 2}, {"simulate": 3}):
        with pytest.raises(InputError, match="a visitor needs"):
            check(model, visitor=GraphRecorder(), **options)  # type: ignore[arg-type]


def test_the_search_is_the_same_with_and_without_a_visitor() -> None:
    model = DieHard()
    model.properties = [always("Small", lambda s: s.big < 5)]  # type: ignore[misc]
    plain = check(model)
    visited = check(model, visitor=GraphRecorder())
    assert (plain.stats.distinct_states, plain.stats.generated) == (visited.stats.distinct_states,
                                                                      visited.stats.generated)
    assert [s.state for s in plain.violation.trace] == [s.state for s in visited.violation.trace]  # type: ignore[union-attr]
