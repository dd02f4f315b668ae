"""`rag bench`'s embedding section: the CPU's compute bound for MiniLM and how close each
embedding runtime gets to it, on the same texts in the same run.

The bound: every token costs 2 x 10.6M multiply-adds in MiniLM-L6's six layers (attention
scores add ~2 x n x 384 per layer, under 2 % at sentence length, left out), so tokens/s can be
at most (the matrix-product rate this CPU reaches) / 21.2 MFLOP. The rate is measured here, in
fp32 with numpy's BLAS at the model's own shapes, on one thread times the cores and on all
threads at once, and the better of the two is the bound. bf16 and int8 products are measured
through torch where it is installed: a CPU without AVX-512 BF16/VNNI runs them far below fp32,
and then they cannot raise the bound.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np

from .embed import Embedder

Log = Callable[[str], None]
FLOPS_PER_TOKEN = 2 * (6 * (4 * 384 * 384 + 2 * 384 * 1536))  # 21.2M: QKV, output, feed-forward


def _rate(a: np.ndarray, b: np.ndarray, repeat: int = 5) -> float:
    a @ b
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * a.shape[0] * a.shape[1] * b.shape[1] / statistics.median(times) / 1e9


def gemm_rates(threads: int) -> dict:
    """GFLOP/s of (2048 x 384) products with 384 x 1536 and 1536 x 384 weights (the feed-forward
    pair, two thirds of the FLOPs), fp32 on one and on `threads` BLAS threads."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    x = rng.standard_normal((2048, 384), dtype=np.float32)
    up = rng.standard_normal((384, 1536), dtype=np.float32)
    down = rng.standard_normal((1536, 384), dtype=np.float32)
    inner = x @ up
    out = {}
    for n in sorted({1, threads}):
        with threadpool_limits(n, user_api="blas"):
            out[f"fp32_{n}_thread_gflops"] = statistics.mean([_rate(x, up), _rate(inner, down)])
    out.update(_torch_rates(x, up))
    return out


def _torch_rates(x: np.ndarray, w: np.ndarray) -> dict:
    try:
        import torch
    except ImportError:
        return {}
    out = {}
    a, b = torch.from_numpy(x), torch.from_numpy(w)
    for name, fn in (("bf16", lambda: a.bfloat16() @ b.bfloat16()),
                     ("int8", lambda: torch._int_mm(a.to(torch.int8), b.to(torch.int8)))):
        try:
            fn()
            t0 = time.perf_counter()
            fn()
            out[f"torch_{name}_gflops"] = 2 * x.shape[0] * x.shape[1] * w.shape[1] / (time.perf_counter() - t0) / 1e9
        except (RuntimeError, AttributeError):  # no kernel for this dtype on this CPU/build
            pass
    return out


def run(texts: list[str], threads: int, log: Log = print) -> dict:
    """Sentences/s and GFLOP/s of each runtime on `texts`, against the measured bound."""
    rates = gemm_rates(threads)
    bound = max(rates[f"fp32_{threads}_thread_gflops"], rates["fp32_1_thread_gflops"] * threads)
    tokens = sum(Embedder().token_counts(texts))
    result: dict = {"texts": len(texts), "tokens_per_text": tokens / len(texts), "gemm": rates,
                    "bound_gflops": bound, "bound_texts_per_s": bound * 1e9 / FLOPS_PER_TOKEN / (tokens / len(texts))}
    for runtime in ("numpy", "sentence-transformers"):
        log(f"embedding {len(texts)} texts with {runtime}")
        embedder = Embedder(runtime=runtime, workers=threads).load_documents()
        embedder.encode(texts[:64])  # first-call set-up is not throughput
        t0 = time.perf_counter()
        embedder.encode(texts)
        seconds = time.perf_counter() - t0
        gflops = tokens * FLOPS_PER_TOKEN / seconds / 1e9
        result[runtime] = {"texts_per_s": len(texts) / seconds, "gflops": gflops, "ratio_to_bound": gflops / bound}
    return result
