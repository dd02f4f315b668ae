"""The onnxruntime MiniLM that embeds large batches of documents: the same vectors as the numpy
encoder (and the reference: tests/embedding/test_minilm.py), the same retrieval, and chosen by batch size."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embedding import embed
from rag.embedding.embed import Embedder, embedder_path
from rag.embedding.minilm import NumpyMiniLM
from rag.embedding.onnx_minilm import OnnxMiniLM


@pytest.fixture(scope="module")
def numpy_model():
    return NumpyMiniLM(embedder_path())


@pytest.fixture(scope="module")
def onnx_model(numpy_model):
    return OnnxMiniLM(numpy_model)


def test_vectors_agree_with_numpy(onnx_model, numpy_model, embedding_texts):
    # Against the reference, threaded, with progress: tests/embedding/test_minilm.py, for both runtimes.
    assert np.abs(onnx_model.encode(embedding_texts) - numpy_model.encode(embedding_texts)).max() < 1e-5


def test_an_index_it_builds_retrieves_what_numpys_does(onnx_model, numpy_model, assistant, bundled_questions):
    sentences = [s.text for s in assistant.store.sentences]
    by_onnx, by_numpy = onnx_model.encode(sentences), numpy_model.encode(sentences)
    for q in bundled_questions:
        question = numpy_model.encode([q["question"]])[0]
        top = [list(np.argsort(-(vectors @ question), kind="stable")[:10]) for vectors in (by_onnx, by_numpy)]
        assert top[0] == top[1], q["question"]


@pytest.mark.parametrize("runtime, texts, uses_onnx", [
    ("onnxruntime", 3, False),  # below the batch size where its set-up pays back
    ("onnxruntime", 4, True),
    ("numpy", 4, False),
])
def test_the_runtime_is_chosen_by_batch_size(monkeypatch, runtime, texts, uses_onnx):
    monkeypatch.setattr(embed, "ONNX_MIN_TEXTS", 4)
    embedder = Embedder(runtime=runtime)
    made = []
    monkeypatch.setattr(Embedder, "_onnx_model", lambda self: made.append(1) or OnnxStub())
    vectors = embedder.encode(["The treaty was signed in June."] * texts)
    assert vectors.shape == (texts, embedder.dim)
    assert bool(made) == uses_onnx


class OnnxStub:
    """Stands in for the ORT session where only the choice of runtime is under test."""

    def encode(self, texts, **_):
        return np.ones((len(texts), embed.EMBEDDER_DIM), np.float32)


def test_a_missing_onnxruntime_is_a_one_line_error(monkeypatch):
    import sys

    from rag.errors import ModelError

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now fails
    monkeypatch.setattr(embed, "ONNX_MIN_TEXTS", 1)
    with pytest.raises(ModelError, match="onnxruntime is missing: run `make install`, or set RAG_EMBED_RUNTIME=numpy"):
        Embedder(runtime="onnxruntime").encode(["The treaty was signed in June."])
