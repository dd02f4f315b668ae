"""Hybrid retrieval: dense sentences + dense chunks + BM25, fused by reciprocal rank fusion.

Evidence is chosen at the sentence level: chunks only lend their score to the sentences
inside them, so the prompt holds the few best sentences, never whole chunks.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ..lang import language
from ..settings import Settings
from ..stores.store import Store
from ..types import Passage, Retrieval
from .bm25 import BM25Index


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    n = min(n, len(scores))
    idx = np.argpartition(-scores, n - 1)[:n]
    return idx[np.argsort(-scores[idx], kind="stable")]


class Retriever:
    def __init__(self, store: Store, embedder, settings: Settings):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.bm25 = BM25Index([s.text for s in store.sentences], language(settings.language))
        # sentence position -> chunk positions that contain it
        self._chunks_of: dict[int, list[int]] = {}
        for ci, chunk in enumerate(store.chunks):
            for sid in chunk.sentence_ids:
                self._chunks_of.setdefault(store.position[sid], []).append(ci)

    def search(self, question: str, k: int | None = None, documents: Sequence[str] | None = None) -> Retrieval:
        """The k best sentences for the question; `documents` (names) restricts the search to them."""
        s = self.settings
        k = k or s.k
        n = len(self.store.sentences)
        cand = min(max(s.candidates, k), n)
        sentence_ids, chunk_ids = self._restriction(documents)
        t0 = time.perf_counter()
        qv = self.embedder.encode_one(question).astype(np.float32)
        t1 = time.perf_counter()
        dense = dict(self.store.sentence_index.search(qv, cand, sentence_ids))
        found = self.store.chunk_index.search(qv, min(cand, len(self.store.chunks)), chunk_ids)
        chunk_rank = {c: r for r, (c, _) in enumerate(found)}
        t2 = time.perf_counter()
        bm = self.bm25.scores(question)
        if sentence_ids is not None:
            allowed = np.zeros(n, dtype=bool)
            allowed[sentence_ids] = True
            bm = np.where(allowed, bm, 0.0).astype(np.float32)
        bm_top = [int(i) for i in _top(bm, cand) if bm[i] > 0]
        t3 = time.perf_counter()

        fused: dict[int, float] = {}

        def add(pos: int, rank: int, weight: float):
            fused[pos] = fused.get(pos, 0.0) + weight / (s.rrf_k + rank + 1)

        for r, pos in enumerate(sorted(dense, key=lambda p: -dense[p])):
            add(pos, r, s.dense_weight)
        for r, pos in enumerate(bm_top):
            add(pos, r, s.bm25_weight)
        # A sentence inherits the rank of the best retrieved chunk that contains it.
        for pos in set(dense) | set(bm_top) | {p for c in chunk_rank for p in self._sentences_of(c)}:
            ranks = [chunk_rank[c] for c in self._chunks_of.get(pos, []) if c in chunk_rank]
            if ranks:
                add(pos, min(ranks), s.chunk_weight)

        order = sorted(fused, key=lambda p: -fused[p])
        dense_order = sorted(dense, key=lambda p: -dense[p])
        for p in order[:k]:  # sentences found only by BM25/chunks still need their cosine
            if p not in dense:
                dense[p] = float(self.store.sentence_index.vector(p) @ qv)
        sents = self.store.sentences
        passages = [
            Passage(sents[p].id, sents[p].text, sents[p].doc, fused[p], dense.get(p, 0.0), float(bm[p]))
            for p in order[:k]
        ]
        return Retrieval(
            passages=passages,
            dense_ids=[sents[p].id for p in dense_order],
            bm25_ids=[sents[p].id for p in bm_top],
            fused_ids=[sents[p].id for p in order],
            timings={"embed_s": t1 - t0, "dense_s": t2 - t1, "bm25_s": t3 - t2, "fuse_s": time.perf_counter() - t3},
        )

    def _restriction(self, documents: Sequence[str] | None) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Positions of the sentences and chunks of `documents` (None: everything)."""
        if not documents:
            return None, None
        wanted = set(documents)
        sentences = np.array([i for i, x in enumerate(self.store.sentences) if x.doc in wanted], dtype=np.int64)
        chunks = np.array([i for i, c in enumerate(self.store.chunks)
                           if self.store.by_id[c.sentence_ids[0]].doc in wanted], dtype=np.int64)
        return sentences, chunks

    def _sentences_of(self, chunk_pos: int) -> list[int]:
        return [self.store.position[sid] for sid in self.store.chunks[chunk_pos].sentence_ids]
