"""Documents embedded by a server (`rag index --embed-url`): any OpenAI-compatible
`/v1/embeddings` endpoint, such as llama.cpp's server with the packaged MiniLM as GGUF
(`rag embed-server`), so one GPU box can embed for a whole team.

Questions are still embedded here, by the local MiniLM, so the server must embed like it: before
the first batch, a few probe sentences are embedded both ways and the server is refused unless
every pair has cosine >= MIN_AGREEMENT (llama.cpp's server with the F32 GGUF: 0.999999). Texts
are cut where the local encoder cuts them (its 256th word piece), so a long chunk embeds alike
and never exceeds the server's batch. Several requests are in flight at once (the server's
slots embed them in parallel); a busy or restarting server is retried.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from ..errors import BackendUnavailable, ModelError
from ..http_json import json_reply
from ..urls import safe_url
from .embed import Embedder

MIN_AGREEMENT = 0.99
PROBES = (
    "The committee approved the budget for the new library in March.",
    "How many people live in the capital?",
    "Photosynthesis turns light, water and carbon dioxide into sugar.",
)
TRIES = 4  # a request that fails this many times ends the build (the index is left as it was)


class ServedEmbedder:
    """The indexer's embedder interface (`name`, `dim`, `encode`) over HTTP; a context manager
    that closes its connections."""

    def __init__(self, url: str, local: Embedder, *, api_key: str | None = None, model: str | None = None,
                 batch: int = 64, parallel: int = 4, timeout: float = 120.0, connect_timeout: float = 5.0,
                 transport=None):
        import httpx

        self.url = url.rstrip("/")
        if not self.url.endswith("/v1"):
            self.url += "/v1"
        self.shown_url = safe_url(self.url)
        self.local, self.name, self.dim = local, local.name, local.dim
        self.model = model or local.name
        self.batch, self.parallel = batch, parallel
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=connect_timeout),
                                 transport=transport)  # an httpx transport: tests script the server
        self.agreement: float | None = None  # the probes' lowest cosine, once checked

    def __enter__(self) -> "ServedEmbedder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections: a long-lived Assistant that indexes again and again opens one
        client per build."""
        self.http.close()

    def encode(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Vectors for `texts`, in order, normalised."""
        self.check()
        texts = self.local.load().truncated(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch)
        with ThreadPoolExecutor(self.parallel) as pool:
            for start, vectors in zip(starts, pool.map(lambda s: self._embed(texts[s: s + self.batch]), starts)):
                out[start: start + len(vectors)] = vectors
                if progress:
                    progress(len(vectors))
        return out

    def check(self) -> float:
        """Refuse a server whose vectors are not the local model's (the questions' space)."""
        if self.agreement is None:
            served = self._embed(list(PROBES))
            local = self.local.load().encode(list(PROBES))
            agreement = float(np.min(np.sum(served * local, axis=1)))
            if agreement < MIN_AGREEMENT:
                raise ModelError(
                    f"the embedding server at {self.shown_url} does not embed like {self.name} (cosine "
                    f"{agreement:.3f} on probe sentences, {MIN_AGREEMENT} needed): questions are embedded "
                    f"here with {self.name}, so serve that model (`rag embed-server`)")
            self.agreement = agreement
        return self.agreement

    def _embed(self, texts: list[str]) -> np.ndarray:
        for attempt in range(TRIES):
            try:
                return self._post(texts)
            except BackendUnavailable:
                if attempt == TRIES - 1:
                    raise
                time.sleep(0.5 * 2 ** attempt)
        raise AssertionError("unreachable")

    def _post(self, texts: list[str]) -> np.ndarray:
        import httpx

        try:
            response = self.http.post(self.url + "/embeddings", json={"input": texts, "model": self.model})
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"the embedding server at {self.shown_url} is not answering "
                                     f"({type(exc).__name__}); start it or check --embed-url") from None
        data = json_reply(response, f"the embedding server at {self.shown_url}", "--embed-api-key / RAG_EMBED_API_KEY")
        return self._vectors(data, len(texts))

    def _vectors(self, data: dict, count: int) -> np.ndarray:
        rows = data.get("data")
        try:
            rows = sorted(rows, key=lambda row: row["index"])
            vectors = np.array([row["embedding"] for row in rows], dtype=np.float32)
        except (TypeError, KeyError, ValueError):
            raise ModelError(f"the embedding server at {self.shown_url} sent no OpenAI embeddings list") from None
        if vectors.shape != (count, self.dim) or not np.isfinite(vectors).all():
            raise ModelError(f"the embedding server at {self.shown_url} sent {vectors.shape[0]} vectors of "
                             f"{vectors.shape[1] if vectors.ndim == 2 else '?'} numbers for {count} texts; "
                             f"{self.name} makes {self.dim}")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)
