"""The workers of `checker.sharded` and `checker.parallel` as Ray actors: the same searches on a Ray cluster
(`--ray auto|ADDRESS`).

Ray (an optional extra: `pip install 'kubespec[ray]'`) starts or joins the cluster and places the actors; this
module writes no cluster manager of its own. `--ray auto` joins the cluster this machine belongs to (`ray start`,
or RAY_ADDRESS) and starts a local one when there is none; `--ray ADDRESS` joins the cluster at ADDRESS.

With safety properties only, each actor owns a shard of the states (`RayShards`, `checker.sharded`): the one whose
index the state's stable fingerprint names (actors are not forked and do not share `hash`'s seed), stored
exactly; an actor's `expand` returns one Ray object per other actor with the states it found for it, and the
owner's `merge` takes them from the object store, actor to actor. With liveness properties each actor holds one
run of the frontier and the set of every known fingerprint (`RayPool`, `checker.parallel`): the coordinator keeps
the merged graph. Either way the actors answer the coordinator's requests as forked workers do, so the counts,
verdicts and traces are those of one worker.

The model travels to the actors pickled by cloudpickle (Ray's serialiser); a model loaded from a file
(`--model FILE.py:NAME`) is pickled by value, since the actors cannot import it by name. What it omits: with
liveness the fingerprint set is replicated in every actor, not sharded (each level's new fingerprints are
broadcast as 8 bytes each); failures of an actor or a node end the check with an error, as a dead worker process
does (no actor is restarted: its shard would be lost).
"""

from __future__ import annotations

import sys
from typing import Any

from checker.errors import InputError, ModelError
from checker.model import Model
from checker.parallel import Requests


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise InputError("--ray needs Ray: pip install 'kubespec[ray]'") from exc
    return ray


def connect(address: str) -> Any:
    """Join the Ray cluster at `address`, or with "auto" the machine's cluster (a new local one when none)."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    try:
        if address == "auto":
            try:
                ray.init(address="auto", log_to_driver=False, logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError):
                ray.init(log_to_driver=False, logging_level="ERROR", include_dashboard=False)
        else:
            ray.init(address=address, log_to_driver=False, logging_level="ERROR")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise InputError(f"--ray {address}: cannot join a Ray cluster ({exc})") from exc
    return ray


def shutdown() -> None:
    """Leave the Ray cluster if this process joined one, stopping the local cluster `connect` started (its GCS
    server, raylet, dashboard and runtime-env agents, actors). Ray registers this with `atexit`, but the command line
    ends with `os._exit` (`checker.cli.run`), which runs no `atexit` handler: without this call the agents outlived
    the command in its process group."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def _by_value(ray: Any, model: Model) -> None:
    """A model loaded from a file (`--model FILE.py:NAME`) travels to the actors by value: they cannot import it."""
    module = sys.modules.get(type(model).__module__)
    if module is not None and module.__name__.startswith("_kubespec_model_"):
        import cloudpickle

        cloudpickle.register_pickle_by_value(module)


def _rarer_collections() -> None:
    """An actor stores many small objects that live as long as it does: the cyclic collector's threshold is raised
    as in the checking process (`checker.runner`), which forked workers inherit and actors, started afresh, do not."""
    import gc

    gc.set_threshold(max(gc.get_threshold()[0], 100_000), *gc.get_threshold()[1:])


class RayPool(Requests):
    """N actors with the interface of `checker.parallel.Pool` (send, answer, ask, all, resident, close)."""

    def __init__(self, model: Model, workers: int, max_depth: int | None, with_edges: bool, address: str) -> None:
        ray = connect(address)
        self.ray = ray
        _by_value(ray, model)
        actor = ray.remote(_Actor)
        self.actors = [actor.remote(model, max_depth, with_edges) for _ in range(workers)]
        self.pending: list[Any] = [None] * workers

    def __len__(self) -> int:
        return len(self.actors)

    def send(self, k: int, *request: Any) -> None:
        self.pending[k] = self.actors[k].handle.remote(request[0], list(request[1:]))

    def answer(self, k: int) -> Any:
        ref, self.pending[k] = self.pending[k], None
        try:
            status, reply = self.ray.get(ref)
        except self.ray.exceptions.RayError as exc:
            raise ModelError(f"Ray actor {k} failed: {type(exc).__name__}: {exc}") from exc
        if status == "model-error":
            raise ModelError(reply)
        return reply

    def resident(self) -> int:
        from checker.storage import resident_bytes

        return resident_bytes() + sum(int(n) for n in self.all("resident"))

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []


class _Actor:
    """A worker of `checker.parallel`, as a Ray actor."""

    def __init__(self, model: Model, max_depth: int | None, with_edges: bool) -> None:
        from checker.parallel import _Worker

        _rarer_collections()
        self.worker = _Worker(model, max_depth, with_edges)

    def handle(self, request: str, args: list[Any]) -> tuple[str, Any]:
        from checker.parallel import answer

        return answer(self.worker, request, args)


def pool_factory(address: str) -> Any:
    """A `pool_factory` for `checker.parallel.explore_parallel` that places the workers on Ray."""

    def make(model: Model, workers: int, max_depth: int | None, with_edges: bool) -> RayPool:
        return RayPool(model, workers, max_depth, with_edges, address)

    return make


class RayShards(RayPool):
    """N actors owning shards of the states, with the interface of `checker.sharded.ShardPool`: the protocol of
    `--workers` for safety properties. A state's owner is chosen by its stable fingerprint (actors do not share
    `hash`'s seed); what an actor finds for another travels through Ray's object store, actor to actor (an
    ``expand`` returns one object per other actor, which that actor's ``merge`` takes as arguments), never through
    the coordinator."""

    def __init__(self, model: Model, workers: int, address: str) -> None:
        ray = connect(address)
        self.ray = ray
        _by_value(ray, model)
        actor = ray.remote(_ShardActor)
        self.actors = [actor.remote(model, k, workers) for k in range(workers)]
        self.pending = [None] * workers
        self.outgoing: list[list[Any]] = []

    def expand(self, bound: bool) -> list[dict[str, Any]]:
        n = len(self.actors)
        refs = [a.expand.options(num_returns=n + 1).remote(bound) for a in self.actors]
        self.outgoing = [r[1:] for r in refs]
        self.pending = [r[0] for r in refs]
        return self.answers()

    def merge(self) -> list[dict[str, Any]]:
        n, outgoing = len(self.actors), self.outgoing
        self.pending = [a.handle.remote("merge", [outgoing[j][k] for j in range(n) if j != k])
                        for k, a in enumerate(self.actors)]
        self.outgoing = []
        return self.answers()


class _ShardActor:
    """A worker of `checker.sharded`, as a Ray actor."""

    def __init__(self, model: Model, me: int, workers: int) -> None:
        from checker.sharded import _Shard

        _rarer_collections()
        self.shard = _Shard(model, me, workers, None, stable=True)

    def handle(self, request: str, args: list[Any]) -> tuple[str, Any]:
        from checker.parallel import reply
        from checker.sharded import _handle

        if request == "merge":  # the batches sent by the others, resolved by Ray from their references
            return reply(self.shard.merge, self.ray_get(args))
        return reply(_handle, self.shard, request, args)

    @staticmethod
    def ray_get(refs: list[Any]) -> list[Any]:
        import ray

        return [b for b in ray.get(refs) if b is not None] if refs else []

    def expand(self, bound: bool) -> tuple[Any, ...]:
        from checker.parallel import reply

        shard = self.shard
        answer = reply(shard.expand, bound)
        outgoing, shard.outgoing = shard.outgoing, [None] * shard.n
        return (answer, *outgoing)


def shard_factory(address: str) -> Any:
    """A `pool_factory` for `checker.sharded.explore_sharded` that places the workers on Ray."""

    def make(model: Model, workers: int) -> RayShards:
        return RayShards(model, workers, address)

    return make
