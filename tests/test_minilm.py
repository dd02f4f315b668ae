"""The numpy MiniLM that embeds questions against sentence-transformers, the reference: same
vectors, same retrieval, and answering a question never imports torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rag.minilm import NumpyMiniLM, _erf
from rag.embed import embedder_path


@pytest.mark.parametrize("x", [-4.0, -1.3, -0.2, 0.0, 0.05, 0.7, 2.5, 6.0])
def test_erf_matches_math(x):
    import math

    assert abs(float(_erf(np.array([x]))[0]) - math.erf(x)) < 2e-7


def test_vectors_agree_with_sentence_transformers(assistant, embedder, bundled_questions):
    texts = [s.text for s in assistant.store.sentences] + [q["question"] for q in bundled_questions] + [
        "José and Vardø, 1066?", "x", "a " * 400]  # accents, one token, past the 256-token limit
    ours = NumpyMiniLM(embedder_path()).encode(texts)
    reference = embedder.encode(texts)
    cosines = (ours * reference).sum(1)
    assert cosines.min() >= 0.999, cosines.min()


def test_retrieval_is_identical_on_the_eval_set(assistant, embedder, bundled_questions):
    retriever = assistant.retriever
    for q in bundled_questions:
        ours = retriever.store.sentence_index.search(embedder.encode_one(q["question"]), 10)
        reference = retriever.store.sentence_index.search(embedder.encode([q["question"]])[0], 10)
        assert [i for i, _ in ours] == [i for i, _ in reference], q["question"]


def test_answering_does_not_import_torch(settings, assistant):
    assistant.retriever  # the session index exists
    code = ("import sys\nfrom typer.testing import CliRunner\nfrom rag.cli import app\n"
            f"r = CliRunner().invoke(app, ['ask', '--index-dir', {str(settings.index_dir)!r}, 'Who signed the treaty?'])\n"
            "assert r.exit_code == 0, r.output\nprint('torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False False"
