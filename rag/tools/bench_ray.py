"""`rag bench --ray-workers 1,2`: index builds on Ray against one process, in one run.

A made-up corpus of N sentences (rag/tools/bench_scale.py's, with the bundled article in it) is
indexed by one process, then on a local Ray cluster with each number of embedder actors, then
on a two-node cluster (two raylets on this machine, one CPU each: what a second machine adds,
less the network). Each build reports sentences/s end to end (read, split, embed, write) and its
efficiency: rate per worker / the rate of one process on as many cores as one worker has (the
whole machine's one-process rate is reported beside it). The Ray index is then checked against the
one-process one: same ids, vectors (lowest cosine) and the citations of five answers.
"""

from __future__ import annotations

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
        two_node: bool = True) -> dict:
    import ray

    embedder = assistant.embedder
    out: dict = {"sentences": sentences, "local": [], "machine_cpus": None}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        corpus = root / "reports.txt"
        synthetic_corpus(sentences, [s.text for s in assistant.store.sentences], corpus)
        log(f"ray: one process, {sentences} sentences")
        one = Settings(index_dir=root / "one", embed_runtime=assistant.settings.embed_runtime)
        out["one_process"] = {"threads": embedder.workers, **_build(one, embedder, corpus, progress)}
        log("ray: one process on one core")
        single = type(embedder)(runtime=embedder.runtime, workers=1)
        out["one_process_one_core"] = _build(one.with_(index_dir=root / "one-core"), single, corpus, progress)
        base = out["one_process_one_core"]["sentences_per_s"]
        ray.init(num_cpus=max(workers), include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        try:
            out["machine_cpus"] = ray.cluster_resources().get("CPU")
            for n in workers:
                log(f"ray: local cluster, {n} worker(s)")
                row = _on_ray(None, n, one.with_(index_dir=root / f"ray{n}"), embedder, corpus, progress)
                out["local"].append({"workers": n, **row, "efficiency": row["sentences_per_s"] / n / base})
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
        log("ray: the Ray index against the one-process index")
        best = max(workers)
        out["same_as_one_process"] = _same(root / "one", root / f"ray{best}", questions, assistant.generator)
    return out
