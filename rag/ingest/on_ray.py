"""Indexing on a Ray cluster (`rag index --ray ADDRESS`): files are read and split in Ray tasks,
sentences and chunks embedded by a pool of embedder actors, and the index written by this
process exactly as a one-process build writes it (same ids, same incremental behaviour).

Embedding is ~95 % of a build, so it is what the cluster spreads: each actor loads the model once
and embeds batches of BATCH texts; batches go to whichever actor is free, so a slow or restarted
one holds back only its own. An actor whose process dies is restarted by Ray and its batch run
again (`max_restarts`, `max_task_retries`); every batch's vectors land at the batch's own rows,
so none is lost or counted twice. Nothing is written until every vector is in, and the index is
then replaced atomically: a driver killed mid-build leaves the previous index as it was.
"""

from __future__ import annotations

import json
import os
from typing import Callable

import numpy as np

from ..errors import IndexError_

# Texts per actor call: big enough that onnxruntime's kernels (and the call's overhead) pay
# back, small enough that the progress bar moves and a lost batch costs seconds.
BATCH = 256


def _ray():
    try:
        import ray
    except ImportError:
        raise IndexError_("--ray needs Ray: pip install 'rag[ray]' (or `pip install ray==2.60.0`)") from None
    return ray


class EmbedWorker:
    """One Ray actor: the document embedder, loaded once, on the CPUs Ray gave it."""

    def __init__(self, runtime: str, threads: int):
        from ..embedding.embed import Embedder

        self.embedder = Embedder(runtime=runtime, workers=threads)
        # Batches are small; onnxruntime's one-off set-up is paid once per actor, not per batch.
        self.embedder.min_onnx_texts = 0

    def pid(self) -> int:
        return os.getpid()

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode(texts)


class RayIngest:
    """Connects to (or starts) a Ray cluster and offers the indexer its two hooks: `map` for
    reading and splitting files, and `embedder` (a pool of EmbedWorker actors)."""

    def __init__(self, address: str | None, workers: int | None = None, cpus_per_worker: float = 1.0,
                 runtime: str = "onnxruntime", runtime_env: str | None = None, batch: int = BATCH):
        ray = _ray()
        self.ray = ray
        options = {"logging_level": "ERROR", "log_to_driver": False}
        if runtime_env:
            try:
                options["runtime_env"] = json.loads(runtime_env)
            except ValueError as exc:
                raise IndexError_(f"--ray-runtime-env is not JSON: {exc}") from None
        if not ray.is_initialized():
            if address in (None, "", "local"):
                ray.init(include_dashboard=False, **options)
            elif address == "auto":
                try:  # a cluster already running on this machine, else one of our own for this run
                    ray.init(address="auto", **options)
                except ConnectionError:
                    ray.init(include_dashboard=False, **options)
            else:
                ray.init(address=address, **options)
        available = ray.cluster_resources().get("CPU", 0)
        workers = workers or max(1, int(available // cpus_per_worker))
        if workers * cpus_per_worker > available:
            raise IndexError_(f"{workers} workers of {cpus_per_worker:g} CPU need {workers * cpus_per_worker:g} CPUs; "
                              f"the cluster has {available:g}")
        self.workers, self.cpus_per_worker, self.runtime, self.batch = workers, cpus_per_worker, runtime, batch
        self._actors: list = []
        self._prepare = ray.remote(max_retries=3)(_call)

    def map(self, fn: Callable, items: list) -> list:
        """fn(item) for each item, as Ray tasks; results in order."""
        return self.ray.get([self._prepare.remote(fn, item) for item in items])

    def embedder(self, local) -> "PoolEmbedder":
        """The actor pool behind the interface the indexer embeds with; named as `local` (the
        same model), so a manifest records the same embedder either way."""
        return PoolEmbedder(self, local)

    @property
    def actors(self) -> list:
        """The embedder actors, started on first use: reading tasks run first and need the CPUs
        the actors would otherwise hold."""
        if not self._actors:
            actor = self.ray.remote(num_cpus=self.cpus_per_worker, max_restarts=-1, max_task_retries=-1)(EmbedWorker)
            threads = max(1, int(self.cpus_per_worker))
            self._actors = [actor.remote(self.runtime, threads) for _ in range(self.workers)]
        return self._actors

    def worker_pids(self) -> list[int]:
        return self.ray.get([a.pid.remote() for a in self.actors])

    def close(self) -> None:
        for a in self._actors:
            self.ray.kill(a)
        self._actors = []


def _call(fn: Callable, item):
    return fn(item)


class PoolEmbedder:
    def __init__(self, ingest: RayIngest, local):
        self.ingest, self.name, self.dim = ingest, local.name, local.dim

    def encode(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for `texts`, in order; batches run on whichever actor is free."""
        ray, actors = self.ingest.ray, self.ingest.actors
        # Similar lengths in a batch pad alike (as the one-process embedder orders them).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        size = self.ingest.batch
        batches = [order[i: i + size] for i in range(0, len(order), size)]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        pending: dict = {}  # object ref -> (batch number, actor)
        queue = list(range(len(batches)))
        idle = list(actors) * 2  # two calls in flight per actor: one runs while the next is sent
        while queue or pending:
            while queue and idle:
                b, actor = queue.pop(0), idle.pop(0)
                pending[actor.encode.remote([texts[i] for i in batches[b]])] = (b, actor)
            done, _ = ray.wait(list(pending), num_returns=1)
            b, actor = pending.pop(done[0])
            out[batches[b]] = ray.get(done[0])
            idle.append(actor)
            if progress:
                progress(len(batches[b]))
        return out
