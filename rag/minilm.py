"""all-MiniLM-L6-v2 in plain numpy, for questions: the same packaged weights (safetensors) and
tokenizer (`tokenizers`), without importing torch, which costs ~5 s of a cold `rag ask` to embed
a dozen tokens. sentence-transformers stays the reference and embeds documents;
tests/test_minilm.py holds the two to cosine >= 0.999 and identical retrieval on the eval set.

BERT: embeddings + LayerNorm, 6 x (self-attention, LayerNorm, GELU feed-forward, LayerNorm),
then mean pooling over real tokens and L2 normalisation (the model's 1_Pooling config).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length (tokenizer.json itself says 128)


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and BERT's GELU is the
    # exact erf form, not the tanh approximation.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class NumpyMiniLM:
    def __init__(self, path: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("not a BERT model this encoder implements")
        self.w = load_file(str(path / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def _p(self, name: str) -> np.ndarray:
        return self.w[name]

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one per text (batched, padded to the longest)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        n = max((len(e.ids) for e in encodings), default=0)
        ids = np.zeros((len(texts), n), dtype=np.int64)
        mask = np.zeros((len(texts), n), dtype=np.float32)
        for i, e in enumerate(encodings):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = 1.0
        return self._forward(ids, mask)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        p = self._p
        b, n = ids.shape
        x = p("embeddings.word_embeddings.weight")[ids] + p("embeddings.position_embeddings.weight")[:n][None]
        x = x + p("embeddings.token_type_embeddings.weight")[0]
        x = _layer_norm(x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"), self.eps)
        d = x.shape[-1]
        h = d // self.heads
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)  # padding gets no attention
        for layer in range(self.layers):
            pre = f"encoder.layer.{layer}."

            def dense(t, name):
                return t @ p(pre + name + ".weight").T + p(pre + name + ".bias")

            def split(t):
                return t.reshape(b, n, self.heads, h).transpose(0, 2, 1, 3)

            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(h) + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
            x = _layer_norm(dense(context, "attention.output.dense") + x,
                            p(pre + "attention.output.LayerNorm.weight"), p(pre + "attention.output.LayerNorm.bias"),
                            self.eps)
            inner = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(dense(inner, "output.dense") + x, p(pre + "output.LayerNorm.weight"),
                            p(pre + "output.LayerNorm.bias"), self.eps)
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
