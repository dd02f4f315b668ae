"""Vector search at scale, FAISS against PostgreSQL + pgvector: build time, recall@10 against
exact search and p50 per query, at sizes where embedding real text would take hours here.

The vectors are made, not embedded: MiniLM vectors of real sentences (the article and
generated ones) with Gaussian noise added and renormalised, so they cluster the way sentence
embeddings do; uniform random vectors would be a harder, unrealistic case for HNSW.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from ..stores.pgstore import EF_SEARCH, Postgres


def make_vectors(seeds: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.35) -> np.ndarray:
    out = np.empty((n, seeds.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = seeds[rng.integers(0, len(seeds), m)] + rng.normal(0, noise / np.sqrt(seeds.shape[1]),
                                                                  (m, seeds.shape[1])).astype(np.float32)
        out[start:start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def _recall(found: list[list[int]], exact: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(e.tolist())) / len(e) for f, e in zip(found, exact)]))


def _searches(index, queries: np.ndarray, exact: np.ndarray) -> dict:
    times, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, idx = index.search(q[None, :], 10)
        times.append(time.perf_counter() - t0)
        found.append(idx[0].tolist())
    return {"p50_ms": 1000 * statistics.median(times), "recall_at_10": _recall(found, exact)}


def _faiss(vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray, sweep: bool = False) -> dict:
    """FAISS HNSW as rag/stores/store.py builds it; with `sweep`, recall and p50 at other efSearch
    values too (what the store's choice of efSearch rests on)."""
    from ..stores.store import _faiss_bytes, _vector_index

    t0 = time.perf_counter()
    index = _vector_index(vectors, approximate=True)
    out = {"build_s": time.perf_counter() - t0, "ef_search": index.hnsw.efSearch,
           "size_mb": len(_faiss_bytes(index)) / 2**20, **_searches(index, queries, exact)}
    if sweep:
        for ef in (64, 128, 256, 512):
            index.hnsw.efSearch = ef
            out[f"ef_{ef}"] = _searches(index, queries, exact)
    return out


def _faiss_ivf(vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray) -> dict:
    """The alternative measured against HNSW: IVF-Flat (k-means lists, exact within them) and
    IVF-PQ (48-byte codes, re-ranked exactly), recall and p50 per nprobe."""
    import faiss

    from ..stores.store import _faiss_bytes

    out = {}
    dim = vectors.shape[1]
    nlist = int(4 * np.sqrt(len(vectors)))
    sample = vectors[np.random.default_rng(1).choice(len(vectors), min(len(vectors), 50 * nlist), replace=False)]
    for name, make in (("ivf_flat", lambda q: faiss.IndexIVFFlat(q, dim, nlist, faiss.METRIC_INNER_PRODUCT)),
                       ("ivf_pq", lambda q: faiss.IndexIVFPQ(q, dim, nlist, 48, 8, faiss.METRIC_INNER_PRODUCT))):
        t0 = time.perf_counter()
        quantizer = faiss.IndexFlatIP(dim)
        index = make(quantizer)
        searched = index
        if name == "ivf_pq":  # codes find candidates, the full vectors re-rank 4 x 10 of them
            searched = faiss.IndexRefineFlat(index)
            searched.k_factor = 4
        searched.train(sample)
        searched.add(vectors)
        row = {"build_s": time.perf_counter() - t0, "nlist": nlist,
               "size_mb": len(_faiss_bytes(index)) / 2**20}
        for nprobe in (8, 32, 64):
            index.nprobe = nprobe
            row[f"nprobe_{nprobe}"] = _searches(searched, queries, exact)
        out[name] = row
    return out


def _postgres(url: str, vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray) -> dict:
    where = Postgres(url)
    dim = vectors.shape[1]
    with where.db() as conn:
        conn.execute("DROP TABLE IF EXISTS rag_bench_vectors")
        conn.execute(f"CREATE TABLE rag_bench_vectors (id int PRIMARY KEY, embedding vector({dim}) NOT NULL)")
        t0 = time.perf_counter()
        with conn.cursor().copy("COPY rag_bench_vectors (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "vector"])
            for i, v in enumerate(vectors):
                copy.write_row((i, v))
        conn.execute("SET maintenance_work_mem = '4GB'")  # the graph of 1M vectors in memory, not spilled
        conn.execute("CREATE INDEX ON rag_bench_vectors USING hnsw (embedding vector_ip_ops)")
        build = time.perf_counter() - t0
        conn.execute("ANALYZE rag_bench_vectors")
        times, found = [], []
        for q in queries:
            t0 = time.perf_counter()
            rows = conn.execute("SELECT id FROM rag_bench_vectors ORDER BY embedding <#> %s LIMIT 10", (q,)).fetchall()
            times.append(time.perf_counter() - t0)
            found.append([r[0] for r in rows])
        size = conn.execute("SELECT pg_total_relation_size('rag_bench_vectors')").fetchone()[0]
        conn.execute("DROP TABLE rag_bench_vectors")
    return {"build_s": build, "p50_ms": 1000 * statistics.median(times), "recall_at_10": _recall(found, exact),
            "size_mb": size / 2**20, "ef_search": EF_SEARCH}


def run(embedder, seeds_text: list[str], sizes: list[int], store_url: str | None, log=print,
        queries: int = 100, compare: bool = False) -> dict:
    """`compare`: also sweep HNSW's efSearch and measure IVF-Flat / IVF-PQ (minutes at 1M)."""
    import faiss

    rng = np.random.default_rng(0)
    seeds = embedder.encode(seeds_text).astype(np.float32)
    out: dict = {}
    for n in sizes:
        log(f"vector search at {n} vectors: FAISS HNSW{' and pgvector HNSW' if store_url else ''}")
        vectors = make_vectors(seeds, n, rng)
        picks = make_vectors(seeds, queries, rng)
        exact_index = faiss.IndexFlatIP(vectors.shape[1])
        exact_index.add(vectors)
        _, exact = exact_index.search(picks, 10)
        row = {"faiss_hnsw": _faiss(vectors, picks, exact, sweep=compare)}
        if compare:
            row.update(_faiss_ivf(vectors, picks, exact))
        if store_url:
            row["pgvector_hnsw"] = _postgres(store_url, vectors, picks, exact)
        out[f"n_{n}"] = row
    return out
