"""The reduction layer: how the checker explores the Kubernetes model faster without changing any verdict.

As TLA+ keeps SYMMETRY, VIEW and state constraints in an MC module apart from the specification, this package
imports the meaning (``spec.cluster`` and the components) and is never imported by it. Each reduction is a
switch of ``Reductions``, states its soundness argument in its docstring, and is cross-checked against the plain
model by tests/spec/test_spec_differential.py (every property's verdict and the set of visible states, with and
without):

| reduction | module | what it merges or prunes |
| --- | --- | --- |
| node symmetry | ``canonical`` | states equal up to a renaming of interchangeable nodes |
| renumbering | ``canonical`` | states equal up to the numbering of revisions and uids |
| commuting writes | ``writeorder`` | orders of writes that no watcher can tell apart |
| ample sets | ``partial_order`` | interleavings of an idle component's watch deliveries |
| eager no-ops | ``partial_order`` | interleavings of a reconcile that changes nothing but its queue |

``spec.model.ClusterModel`` composes them with ``spec.cluster.Cluster``.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Reductions:
    """Which reductions are on (all by default; ``NONE`` is the plain Next relation)."""

    symmetry: bool = True
    """Interchangeable nodes (``spec.faults.symmetric_nodes``) are renamed to a canonical order."""
    renumber: bool = True
    """Canonical revisions and uids (``canonical``)."""
    commute_writes: bool = True
    """Canonical order of writes no watcher can tell apart (``writeorder``; consistency "strong" and renumbering
    only)."""
    ample_sets: bool = True
    """An idle component's watch deliveries are explored in one order (``partial_order.ample``)."""
    eager_noop: bool = True
    """A reconcile that would change nothing but its queue is taken at once (``partial_order.eager_noop``);
    only with ``ample_sets``."""

    def names(self, symmetric: bool, consistency: str) -> tuple[str, ...]:
        """The names of the reductions on, for the verdict (node symmetry only where some nodes are
        interchangeable: ``symmetric``)."""
        out = []
        if self.symmetry and symmetric:
            out.append("node symmetry")
        if self.renumber:
            out.append("renumbering")
        if self.commute_writes and self.renumber and consistency == "strong":
            out.append("commuting writes")
        if self.ample_sets:
            out.append("ample sets")
            if self.eager_noop:
                out.append("eager no-ops")
        return tuple(out)


ALL = Reductions()
NONE = Reductions(symmetry=False, renumber=False, commute_writes=False, ample_sets=False, eager_noop=False)
