"""`rag bench --ray-workers 1,2 [--embed-url URL]`: index builds on Ray (and on an embedding
server) against one process, in one run.

A made-up corpus of N sentences (rag/tools/bench_scale.py's, with the bundled article in it) is
indexed by one process, then on a local Ray cluster with each number of embedder actors, then
on a two-node cluster (two raylets on this machine, one CPU each: what a second machine adds,
less the network). Each build reports sentences/s end to end (read, split, embed, write) and its
efficiency: rate per worker / the rate of one process on as many cores as one worker has (the
whole machine's one-process rate is reported beside it). The Ray index is then checked against the
one-process one: same ids, vectors (lowest cosine) and the citations of five answers. One more
build on the most workers has one of them killed (SIGKILL) once its first batch is back, and is
checked the same way. With an embedding server's URL, a build that embeds there is timed and
checked too.
"""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..ingest.indexer import build_index
from ..pipeline import Assistant
from ..settings import BUNDLED_CORPUS, Settings
from ..stores.store import load, read_manifest
from .bench_scale import synthetic_corpus

Log = Callable[[str], None]


def _build(settings: Settings, embedder, corpus: Path, progress, cluster=None) -> dict:
    t0 = time.perf_counter()
    if cluster is None:
        build_index(settings, embedder, [corpus, BUNDLED_CORPUS], progress)
    else:
        build_index(settings, cluster.embedder(embedder), [corpus, BUNDLED_CORPUS], progress, mapper=cluster.map)
    seconds = time.perf_counter() - t0
    sentences = read_manifest(settings.index_dir)["counts"]["sentences"]
    return {"seconds": seconds, "sentences_per_s": sentences / seconds}


def _on_ray(address: str | None, workers: int, settings: Settings, embedder, corpus: Path, progress) -> dict:
    from ..ingest.on_ray import RayIngest

    cluster = RayIngest(address, workers)
    try:  # end to end, as `rag index --ray` runs: the actors start (and load the model) inside the clock
        return _build(settings, embedder, corpus, progress, cluster)
    finally:
        cluster.close()


def _killing_one(address: str | None, workers: int, settings: Settings, embedder, corpus: Path, progress) -> dict:
    """A build on `workers` actors, one of them SIGKILLed when the first batch is back."""
    from ..ingest.on_ray import RayIngest

    cluster = RayIngest(address, workers)
    killed: list[int] = []

    def kill_one(label, done, total):
        if not killed and done < total:
            killed.append(cluster.worker_pids()[0])
            os.kill(killed[0], signal.SIGKILL)
        if progress:
            progress(label, done, total)

    try:
        row = _build(settings, embedder, corpus, kill_one, cluster)
        restarted = killed[0] not in cluster.worker_pids() if killed else False
    finally:
        cluster.close()
    return {"workers": workers, **row, "killed_pid": killed[0] if killed else None, "restarted": restarted}


def _served(url: str, settings: Settings, embedder, corpus: Path, progress) -> dict:
    from ..embedding.served import ServedEmbedder

    with ServedEmbedder(url, embedder) as served:
        return {**_build(settings, served, corpus, progress), "probe_cosine": served.agreement}


def _same(one: Path, other: Path, questions: list[str], generator) -> dict:
    a, b = load(one, read_manifest(one)), load(other, read_manifest(other))
    same_ids = [s.id for s in a.sentences] == [s.id for s in b.sentences]
    cosine = float(np.sum(a.sentence_index.all() * b.sentence_index.all(), axis=1).min())
    readers = [Assistant(Settings(index_dir=d), generator=generator) for d in (one, other)]
    cited = []
    for q in questions:
        first, second = (r.ask(q) for r in readers)
        cited.append([c.id for c in first.citations] == [c.id for c in second.citations])
    return {"same_ids": same_ids, "sentences": len(a.sentences), "min_cosine": cosine,
            "same_citations": f"{sum(cited)}/{len(cited)}"}


def run(assistant: Assistant, sentences: int, workers: list[int], questions: list[str], log: Log, progress=None,
        two_node: bool = True, embed_url: str | None = None) -> dict:
    embedder = assistant.embedder
    out: dict = {"sentences": sentences, "local": [], "machine_cpus": None}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = root / "reports.txt"
        synthetic_corpus(sentences, [s.text for s in assistant.store.sentences], corpus)
        log(f"builds: one process, {sentences} sentences")
        one = Settings(index_dir=root / "one", embed_runtime=assistant.settings.embed_runtime)
        out["one_process"] = {"threads": embedder.workers, **_build(one, embedder, corpus, progress)}
        log("builds: one process on one core")
        single = type(embedder)(runtime=embedder.runtime, workers=1)
        out["one_process_one_core"] = _build(one.with_(index_dir=root / "one-core"), single, corpus, progress)
        if workers:
            _ray_rows(out, root, one, embedder, corpus, workers, log, progress, two_node)
            best = max(workers)
            log("ray: the Ray indexes against the one-process index")
            out["same_as_one_process"] = _same(root / "one", root / f"ray{best}", questions, assistant.generator)
            out["killed_worker"].update(_same(root / "one", root / "killed", questions, assistant.generator))
        if embed_url:
            log(f"builds: documents embedded by the server at {embed_url}")
            out["served"] = _served(embed_url, one.with_(index_dir=root / "served"), embedder, corpus, progress)
            out["served"].update(_same(root / "one", root / "served", questions, assistant.generator))
    return out


def _ray_rows(out: dict, root: Path, one: Settings, embedder, corpus: Path, workers: list[int], log: Log, progress,
              two_node: bool) -> None:
    import ray

    base = out["one_process_one_core"]["sentences_per_s"]
    ray.init(num_cpus=max(workers), include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        out["machine_cpus"] = ray.cluster_resources().get("CPU")
        for n in workers:
            log(f"ray: local cluster, {n} worker(s)")
            row = _on_ray(None, n, one.with_(index_dir=root / f"ray{n}"), embedder, corpus, progress)
            out["local"].append({"workers": n, **row, "efficiency": row["sentences_per_s"] / n / base})
        log(f"ray: {max(workers)} workers, one killed once its first batch is back")
        out["killed_worker"] = _killing_one(None, max(workers), one.with_(index_dir=root / "killed"), embedder,
                                            corpus, progress)
    finally:
        ray.shutdown()
    if two_node:
        from ray.cluster_utils import Cluster

        log("ray: two-node cluster (two raylets, one CPU each)")
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        cluster.add_node(num_cpus=1)
        try:
            ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
            row = _on_ray(cluster.address, 2, one.with_(index_dir=root / "two-node"), embedder, corpus, progress)
            out["two_node"] = {"workers": 2, **row, "efficiency": row["sentences_per_s"] / 2 / base}
        finally:
            ray.shutdown()
            cluster.shutdown()
