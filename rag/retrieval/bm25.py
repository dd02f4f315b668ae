"""Keyword scores over an index's sentences: BM25, Lucene's variant, as bm25s computes it.

bm25s imports scipy.sparse, tqdm and asyncio: ~0.45 s of a cold `rag ask` (a fifth of it) for
what is, over one index's sentences, a dictionary of postings and a few sums. This is its
scoring (k1 1.5, b 0.75, idf log(1 + (N - df + 0.5) / (df + 0.5)), scikit-learn's token pattern,
stop words dropped, then stemmed) in the same float32 arithmetic, so scores are bm25s' own to the
bit: tests/retrieval/test_bm25.py keeps bm25s as the reference.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from types import ModuleType

import numpy as np

from ..text import stemmer

TOKEN = re.compile(r"(?u)\b\w\w+\b")
K1, B = 1.5, 0.75


class BM25Index:
    def __init__(self, texts: list[str], lang: ModuleType):
        self._stopwords = lang.BM25_STOPWORDS
        self._stemmer = stemmer(lang.STEMMER)
        docs = [self.terms(t) for t in texts]
        self._n = len(docs)
        lengths = np.array([len(d) for d in docs])
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, doc in enumerate(docs):
            for term, tf in Counter(doc).items():
                rows, tfs = postings.setdefault(term, ([], []))
                rows.append(i)
                tfs.append(tf)
        # Each (term, sentence) score is computed once, here; a query only adds them up.
        self._scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if not postings:
            return
        norm = K1 * (1 - B + B * lengths / lengths.mean())  # float64, as bm25s has it
        for term, (rows, tfs) in postings.items():
            df = len(rows)
            idf = np.float32(math.log(1 + (self._n - df + 0.5) / (df + 0.5)))
            tf = np.array(tfs, dtype=np.float32)
            at = np.array(rows, dtype=np.int64)
            self._scores[term] = (at, (idf * (tf / (tf + norm[at]))).astype(np.float32))

    def terms(self, text: str) -> list[str]:
        """The words BM25 counts: lower-cased, two characters or more, stop words out, stemmed."""
        words = [w for w in TOKEN.findall(text.lower()) if w not in self._stopwords]
        return self._stemmer.stemWords(words) if words else []

    def scores(self, query: str) -> np.ndarray:
        """One score per sentence, in index order; a word the query repeats counts each time."""
        out = np.zeros(self._n, dtype=np.float32)
        for term in self.terms(query):
            if term in self._scores:
                rows, values = self._scores[term]
                out[rows] += values
        return out
