"""Vector search behind one small interface, so retrieval, grounding and index updates never
touch an engine directly: FAISS in a directory (the default) or pgvector in PostgreSQL."""

from __future__ import annotations

from typing import Protocol

import numpy as np


class VectorIndex(Protocol):
    """Vectors addressed by position (the order of the store's sentences or chunks)."""

    count: int

    def search(self, query: np.ndarray, n: int, restrict: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Up to n (position, inner product), best first; `restrict` limits it to those positions."""
        ...

    def vector(self, position: int) -> np.ndarray: ...

    def all(self) -> np.ndarray:
        """Every vector in position order (an update keeps unchanged documents' vectors)."""
        ...


class FaissVectors:
    def __init__(self, index):
        self.index = index

    @property
    def count(self) -> int:
        return self.index.ntotal

    @property
    def kind(self) -> str:
        return type(self.index).__name__

    def search(self, query: np.ndarray, n: int, restrict: np.ndarray | None = None) -> list[tuple[int, float]]:
        if n <= 0 or self.count == 0:
            return []
        if restrict is None:
            scores, idx = self.index.search(query[None, :].astype(np.float32), min(n, self.count))
        else:
            import faiss

            # Flat and HNSW indexes both take an ID selector.
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(restrict))
            scores, idx = self.index.search(query[None, :].astype(np.float32), max(1, min(n, len(restrict))),
                                            params=params)
        return [(int(i), float(s)) for i, s in zip(idx[0], scores[0]) if i >= 0]

    def vector(self, position: int) -> np.ndarray:
        return self.index.reconstruct(int(position))

    def all(self) -> np.ndarray:
        return self.index.reconstruct_n(0, self.count)
