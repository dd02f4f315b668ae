"""all-MiniLM-L6-v2 in plain numpy: the same packaged weights (safetensors) and tokenizer
(`tokenizers`), without importing torch, which costs ~5 s of a cold `rag ask` to embed a dozen
tokens and of every `rag index`. It embeds questions and small batches of documents (large ones
go through rag/embedding/onnx_minilm.py, the same pass in onnxruntime); sentence-transformers stays the
reference (and a runtime to choose, Settings.embed_runtime). tests/embedding/test_minilm.py holds the
two to cosine >= 0.999 and identical retrieval on the eval set.

BERT: embeddings + LayerNorm, 6 x (self-attention, LayerNorm, GELU feed-forward, LayerNorm),
then mean pooling over real tokens and L2 normalisation (the model's 1_Pooling config).
"""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Callable

import numpy as np

MAX_TOKENS = 256  # sentence_bert_config.json's max_seq_length (tokenizer.json itself says 128)


ROWS = 256  # elementwise work runs over blocks of rows that stay in cache
_THREADED = threading.Lock()


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf, and BERT's GELU is the
    # exact erf form, not the tanh approximation.
    a = np.abs(x)
    return np.sign(x) * _erf_abs(a, np.empty_like(a), np.empty_like(a))


def _erf_abs(a: np.ndarray, t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """erf(a) for a >= 0, in place in the buffers t and e (returns t)."""
    np.multiply(a, np.float32(0.3275911), out=t)
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    np.multiply(a, a, out=e)
    np.negative(e, out=e)
    np.exp(e, out=e)
    poly = np.multiply(t, np.float32(1.061405429))  # Horner, one buffer
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    poly *= e
    np.subtract(np.float32(1.0), poly, out=t)
    return t


def _gelu(x: np.ndarray) -> np.ndarray:
    """0.5 * x * (1 + erf(x / sqrt 2)) written as 0.5 * (x + |x| * erf(|x| / sqrt 2)).

    Block by block with reused buffers: on whole (tokens x 1536) arrays numpy's fresh
    temporaries made this 3x slower than every matrix product of the layer together."""
    out = np.empty_like(x)
    rows = min(ROWS, len(x))
    a, t, e = (np.empty((rows, x.shape[1]), np.float32) for _ in range(3))
    for i in range(0, len(x), rows):
        block = x[i: i + rows]
        n = len(block)
        np.abs(block, out=a[:n])
        a[:n] *= np.float32(0.7071067811865476)
        erf = _erf_abs(a[:n], t[:n], e[:n])
        a[:n] *= erf  # |x|/sqrt2 * erf; the sqrt 2 comes back below
        a[:n] *= np.float32(1.4142135623730951)
        np.add(block, a[:n], out=out[i: i + n])
    out *= np.float32(0.5)
    return out


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    x = x - x.mean(-1, keepdims=True)
    var = np.square(x).mean(-1, keepdims=True)
    x *= 1.0 / np.sqrt(var + np.float32(eps))
    x *= weight
    x += bias
    return x


def _batches(lengths: list[int], batch_tokens: int):
    """Positions grouped shortest first, each group padded to at most ~batch_tokens tokens."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end - start + 1) * lengths[order[end]] <= batch_tokens:
            end += 1
        yield order[start:end]
        start = end


def _prepare(w: dict[str, np.ndarray], pre: str) -> dict[str, np.ndarray]:
    """One layer's weights laid out for `tokens @ weight`: transposed, contiguous, and
    query/key/value fused into one product."""

    def t(name):
        return np.ascontiguousarray(w[pre + name + ".weight"].T)

    qkv = ("attention.self.query", "attention.self.key", "attention.self.value")
    return {
        "qkv": np.ascontiguousarray(np.concatenate([t(n) for n in qkv], axis=1)),
        "qkv_b": np.concatenate([w[pre + n + ".bias"] for n in qkv]),
        "out": t("attention.output.dense"), "out_b": w[pre + "attention.output.dense.bias"],
        "ln1_w": w[pre + "attention.output.LayerNorm.weight"], "ln1_b": w[pre + "attention.output.LayerNorm.bias"],
        "up": t("intermediate.dense"), "up_b": w[pre + "intermediate.dense.bias"],
        "down": t("output.dense"), "down_b": w[pre + "output.dense.bias"],
        "ln2_w": w[pre + "output.LayerNorm.weight"], "ln2_b": w[pre + "output.LayerNorm.bias"],
    }


LAYOUT = "minilm-layout-1"  # bump when _prepare lays weights out differently: older caches miss


def _laid_out(source: Path, layers: int) -> dict[str, np.ndarray]:
    """Every weight the encoder reads, by one flat name: `layer.I.NAME` for the prepared layers."""
    from safetensors.numpy import load_file

    weights = load_file(str(source))
    flat = {k: v for k, v in weights.items() if not k.startswith("encoder.layer.")}
    for i in range(layers):
        flat.update({f"layer.{i}.{k}": v for k, v in _prepare(weights, f"encoder.layer.{i}.").items()})
    return flat


class NumpyMiniLM:
    def __init__(self, path: Path, cache: Path | None = None):
        """`cache`: a folder where the laid-out weights are kept for later processes
        (rag/embedding/weights_cache.py); None reads and lays them out every time."""
        from tokenizers import Tokenizer

        from . import weights_cache

        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        self.heads = config["num_attention_heads"]
        self.layers = config["num_hidden_layers"]
        self.eps = config["layer_norm_eps"]
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("not a BERT model this encoder implements")
        source = path / "model.safetensors"
        # Laid out at load, not on the first question (80 ms), and kept on disk for the next process.
        flat = weights_cache.load(source, LAYOUT, cache, lambda: _laid_out(source, self.layers))
        self._layers = [{k[len(f"layer.{i}."):]: v for k, v in flat.items() if k.startswith(f"layer.{i}.")}
                        for i in range(self.layers)]
        self.w = {k: v for k, v in flat.items() if not k.startswith("layer.")}
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()
        self.dim = config["hidden_size"]

    def _p(self, name: str) -> np.ndarray:
        return self.w[name]

    def token_counts(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def truncated(self, texts: list[str]) -> list[str]:
        """Each text cut after the last word piece this encoder reads (MAX_TOKENS with [CLS] and
        [SEP]): what another engine of the same model must be given to embed it alike."""
        encodings = self.tokenizer.encode_batch(list(texts))
        return [text[: e.offsets[-2][1]] if e.overflowing else text for text, e in zip(texts, encodings)]

    def encode(self, texts: list[str], *, batch_tokens: int = 2048, workers: int = 1,
               progress: Callable[[int], None] | None = None,
               forward: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """L2-normalised float32 vectors, one per text, in the order given.

        Texts are embedded shortest first, in batches of about `batch_tokens` tokens (padding
        to similar lengths, matrices of a few MB). With `workers` > 1 the batches run in that
        many threads, each with a single-threaded BLAS: numpy releases the GIL in every
        product and elementwise step, and the elementwise half of the work (GELU, softmax,
        LayerNorm) runs on all cores too, not only the products (84 against 64 sentences/s
        on two cores here). `progress` gets the number of texts each finished batch held.
        `forward` (ids, mask -> pooled vectors) replaces this class's own pass: another runtime
        (rag/embedding/onnx_minilm.py) reuses the tokenizer, batching and threads."""
        forward = forward or self._forward
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        batches = list(_batches(lengths, batch_tokens))
        # Shortest-first batches in a mixed order: texts/s stays steady, so the progress bar's
        # time left holds instead of growing as the long ones come last.
        random.Random(0).shuffle(batches)

        def run(picks: list[int]) -> list[int]:
            n = max(lengths[i] for i in picks)
            ids = np.zeros((len(picks), n), dtype=np.int64)
            mask = np.zeros((len(picks), n), dtype=np.float32)
            for row, i in enumerate(picks):
                ids[row, : lengths[i]] = encodings[i].ids
                mask[row, : lengths[i]] = 1.0
            out[picks] = forward(ids, mask)
            return picks

        if workers <= 1 or len(batches) <= 1:
            for picks in batches:
                run(picks)
                if progress:
                    progress(len(picks))
            return out
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        # One threaded encode at a time: the BLAS limit is process-wide, and two overlapping
        # ones would restore each other's settings out of order (and share the cores anyway).
        with _THREADED, threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers, "rag-embed") as pool:
            for picks in pool.map(run, batches):
                if progress:
                    progress(len(picks))
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        p = self._p
        b, n = ids.shape
        x = p("embeddings.word_embeddings.weight")[ids.reshape(-1)]
        x += np.tile(p("embeddings.position_embeddings.weight")[:n], (b, 1))
        x += p("embeddings.token_type_embeddings.weight")[0]
        x = _layer_norm(x, p("embeddings.LayerNorm.weight"), p("embeddings.LayerNorm.bias"), self.eps)
        d = self.dim
        h = d // self.heads
        scale = np.float32(1.0 / np.sqrt(h))
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)  # padding gets no attention
        for layer in range(self.layers):
            w = self._layers[layer]
            qkv = x @ w["qkv"]
            qkv += w["qkv_b"]
            q, k, v = qkv.reshape(b, n, 3, self.heads, h).transpose(2, 0, 3, 1, 4)
            scores = q @ k.transpose(0, 1, 3, 2)
            scores *= scale
            scores += blocked
            scores -= scores.max(-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(b * n, d)
            attended = context @ w["out"]
            attended += w["out_b"]
            attended += x
            x = _layer_norm(attended, w["ln1_w"], w["ln1_b"], self.eps)
            inner = x @ w["up"]
            inner += w["up_b"]
            down = _gelu(inner) @ w["down"]
            down += w["down_b"]
            down += x
            x = _layer_norm(down, w["ln2_w"], w["ln2_b"], self.eps)
        return pool(x.reshape(b, n, d), mask)


def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over real tokens, L2-normalised (the model's 1_Pooling config): (b, n, d) -> (b, d)."""
    pooled = (hidden * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
