"""`rag bench --sizes`: index builds and retrieval on synthetic corpora of N sentences."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Callable

from ..pipeline import Assistant
from .bench import stats

Log = Callable[[str], None]


def synthetic_corpus(n: int, article: list[str], path: Path, seed: int = 0) -> None:
    """n sentences in paragraphs of six: a third are article sentences extended by a generated
    clause (near duplicates, as news corpora have; exact copies would make HNSW's graph
    degenerate in a way real text does not), the rest generated filler."""
    rng = random.Random(seed)
    words = sorted({w for s in article for w in s.split() if w.isalpha() and len(w) > 3})
    lines = []
    for i in range(n):
        body = " ".join(rng.choice(words).lower() for _ in range(rng.randint(8, 20)))
        if i % 3 == 0:
            lines.append(f"{rng.choice(article).rstrip('.')}, report {i} adds that {body}.")
        else:
            lines.append(f"Report {i} notes that {body}.")
    paragraphs = [" ".join(lines[i: i + 6]) for i in range(0, n, 6)]
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")


def scale(assistant: Assistant, sizes: list[int], questions: list[str], log: Log, progress=None) -> dict:
    import faiss
    import numpy as np

    from ..ingest.indexer import build_index, open_index
    from ..retrieval.retrieve import Retriever

    article = [x.text for x in assistant.store.sentences]
    out = {}
    rng = random.Random(1)
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "synthetic.txt"
            synthetic_corpus(n, article, corpus)
            settings = assistant.settings.with_(index_dir=Path(tmp) / "index")
            log(f"scale: indexing {n} sentences")
            t0 = time.perf_counter()
            manifest = build_index(settings, assistant.embedder, [corpus], progress)
            build_s = time.perf_counter() - t0
            store = open_index(settings, assistant.embedder)
            retriever = Retriever(store, assistant.embedder, settings)
            times = []
            for q in questions:
                t0 = time.perf_counter()
                retriever.search(q)
                times.append(time.perf_counter() - t0)
            row = {"sentences": manifest["counts"]["sentences"], "build_s": build_s,
                   "sentences_per_s": manifest["counts"]["sentences"] / build_s, "retrieval_s": stats(times),
                   "index": store.sentence_index.kind}
            index = store.sentence_index.index
            if isinstance(index, faiss.IndexHNSWFlat):  # approximate: how much does it miss?
                vectors = index.reconstruct_n(0, index.ntotal)
                exact = faiss.IndexFlatIP(vectors.shape[1])
                exact.add(vectors)
                picks = rng.sample(range(len(vectors)), min(100, len(vectors)))
                queries = np.vstack([assistant.embedder.encode(questions), vectors[picks]]).astype("float32")
                want_scores, _ = exact.search(queries, 10)
                got_scores, _ = index.search(queries, 10)
                # Tie-aware: a result counts when it scores at least the exact 10th best, so
                # duplicate sentences (the synthetic corpus repeats the article) are not misses.
                hits = [(g >= w[-1] - 1e-5).sum() / 10 for w, g in zip(want_scores, got_scores)]
                row["recall_at_10_vs_exact"] = float(np.mean(hits))
            out[str(n)] = row
    return out
