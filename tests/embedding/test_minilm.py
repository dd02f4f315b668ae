"""The numpy MiniLM that embeds questions (and its onnxruntime twin for documents) against
sentence-transformers, the reference: same vectors, same retrieval, and answering a question
never imports torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rag.embedding.embed import Embedder, embedder_path
from rag.embedding.minilm import NumpyMiniLM, _batches, _erf, _gelu
from rag.embedding.onnx_minilm import OnnxMiniLM


@pytest.fixture(scope="module")
def reference():
    """sentence-transformers: the reference every numpy vector is held to."""
    return Embedder(runtime="sentence-transformers")


@pytest.mark.parametrize("x", [-4.0, -1.3, -0.2, 0.0, 0.05, 0.7, 2.5, 6.0])
def test_erf_matches_math(x):
    import math

    assert abs(float(_erf(np.array([x]))[0]) - math.erf(x)) < 2e-7


@pytest.mark.parametrize("x", [-9.0, -3.0, -0.5, 0.0, 0.3, 1.0, 4.0, 12.0])
def test_gelu_is_the_exact_erf_form(x):
    import math

    want = 0.5 * x * (1 + math.erf(x / math.sqrt(2)))
    assert abs(float(_gelu(np.array([[x]], np.float32))[0, 0]) - want) < 1e-5


@pytest.mark.parametrize("lengths, budget, want", [
    ([], 100, []),
    ([5], 1, [[0]]),  # one text longer than the budget still gets a batch
    ([3, 1, 2], 100, [[1, 2, 0]]),  # shortest first
    ([4, 4, 4, 4], 8, [[0, 1], [2, 3]]),  # a batch pads to its longest: 2 x 4 tokens
    ([1, 1, 9], 10, [[0, 1], [2]]),
])
def test_batches_sort_by_length_within_a_token_budget(lengths, budget, want):
    assert list(_batches(lengths, budget)) == want


@pytest.mark.parametrize("runtime", ["numpy", "onnxruntime"])
def test_vectors_agree_with_sentence_transformers(runtime, reference, embedding_texts):
    texts = embedding_texts
    model = NumpyMiniLM(embedder_path())
    if runtime == "onnxruntime":
        model = OnnxMiniLM(model)
    ours = model.encode(texts)
    cosines = (ours * reference.encode(texts)).sum(1)
    assert cosines.min() >= 0.999, cosines.min()
    # Documents go through several threads and small batches: the same vectors, in order.
    seen = []
    threaded = model.encode(texts, workers=3, batch_tokens=64, progress=seen.append)
    assert np.abs(threaded - ours).max() < 1e-5
    assert sum(seen) == len(texts) and len(seen) > 3


def test_weights_mapped_from_the_cache_embed_bit_for_bit(tmp_path, embedding_texts):
    """A later process maps the laid-out weights (rag/embedding/weights_cache.py) instead of reading and
    laying them out: the same vectors, exactly, and the ONNX graph built from them too."""
    fresh = NumpyMiniLM(embedder_path())
    NumpyMiniLM(embedder_path(), cache=tmp_path)  # writes the cache
    mapped = NumpyMiniLM(embedder_path(), cache=tmp_path)
    assert len(list(tmp_path.glob("*.bin"))) == 1
    assert not mapped._layers[0]["qkv"].flags.writeable  # really the mapped file
    assert np.array_equal(mapped.encode(embedding_texts), fresh.encode(embedding_texts))
    onnx = OnnxMiniLM(mapped).encode(embedding_texts[:8])
    assert np.abs(onnx - fresh.encode(embedding_texts[:8])).max() < 1e-5


def test_retrieval_is_identical_on_the_eval_set(assistant, embedder, reference, bundled_questions):
    retriever = assistant.retriever
    for q in bundled_questions:
        ours = retriever.store.sentence_index.search(embedder.encode_one(q["question"]), 10)
        theirs = retriever.store.sentence_index.search(reference.encode([q["question"]])[0], 10)
        assert [i for i, _ in ours] == [i for i, _ in theirs], q["question"]


def test_answering_does_not_import_torch(settings, assistant):
    """Nor bm25s and its scipy.sparse (rag/retrieval/bm25.py scores without them)."""
    assistant.retriever  # the session index exists
    heavy = ("torch", "sentence_transformers", "bm25s", "scipy")
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom rag.apps.cli import app\n"
            f"r = CliRunner().invoke(app, ['ask', '--index-dir', {str(settings.index_dir)!r}, 'Who signed the treaty?'])\n"
            f"assert r.exit_code == 0, r.output\nprint(sorted(set({heavy!r}) & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
