"""`rag bench`'s embedding section: the CPU's compute bound for MiniLM and how close each
embedding runtime gets to it, on the same texts in the same run.

The bound: every token costs 2 x 10.6M multiply-adds in MiniLM-L6's six layers (attention
scores add ~2 x n x 384 per layer, under 2 % at sentence length, left out), so tokens/s can be
at most (the matrix-product rate this CPU reaches) / 21.2 MFLOP. The rate is measured here, in
fp32 at the model's own shapes with numpy's BLAS and with onnxruntime's MatMul, each on one
thread times the cores and on all threads at once: the best of them is the bound (a runtime
cannot beat the fastest product this CPU was seen to run). bf16 products are measured through
torch where it is installed (a CPU without AVX-512 BF16 runs them far below fp32), int8 products
through onnxruntime's u8 x s8 kernels (the ones a quantised model would run; torch's int8 matmul
is no guide to them). Both are reported beside the fp32 bound, not folded into it: no runtime
here keeps the reference's vectors (cosine >= 0.999) in them.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import numpy as np

from ..embedding.embed import Embedder, embedder_path
from ..embedding.minilm import NumpyMiniLM

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
    for n in sorted({1, threads}):
        for kind in ("fp32", "int8"):
            rate = _ort_rate(kind, x.shape[0], *up.shape, n)
            if rate:
                out[f"ort_{kind}_{n}_thread_gflops"] = rate
    return out


def _ort_rate(kind: str, m: int, k: int, n: int, threads: int) -> float | None:
    """GFLOP/s (two ops per multiply-add) of onnxruntime's MatMul (fp32) or MatMulInteger (u8 x s8)."""
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return None
    a_type, b_type, y_type = ((TensorProto.FLOAT,) * 3 if kind == "fp32"
                              else (TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32))
    graph = helper.make_graph(
        [helper.make_node("MatMul" if kind == "fp32" else "MatMulInteger", ["a", "b"], ["y"])], kind,
        [helper.make_tensor_value_info("a", a_type, [m, k]), helper.make_tensor_value_info("b", b_type, [k, n])],
        [helper.make_tensor_value_info("y", y_type, [m, n])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = ({"a": rng.standard_normal((m, k), dtype=np.float32), "b": rng.standard_normal((k, n), dtype=np.float32)}
            if kind == "fp32" else
            {"a": rng.integers(0, 256, (m, k), dtype=np.uint8), "b": rng.integers(-128, 128, (k, n), dtype=np.int8)})
    session.run(None, feed)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - t0)
    return 2 * m * k * n / statistics.median(times) / 1e9


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


def run(texts: list[str], threads: int, log: Log = print, repeat: int = 3) -> dict:
    """Sentences/s and GFLOP/s of each runtime on `texts`, against the measured bound."""
    rates = gemm_rates(threads)
    bound = max(rates.get(f"{lib}fp32_{n}_thread_gflops", 0) * (threads if n == 1 else 1)
                for lib in ("", "ort_") for n in (1, threads))
    t0 = time.perf_counter()
    base = NumpyMiniLM(embedder_path())  # one load: numpy's encoder, the ORT graph's weights, the token counts
    loaded = time.perf_counter() - t0
    tokens = sum(base.token_counts(texts))
    result: dict = {"texts": len(texts), "tokens_per_text": tokens / len(texts), "gemm": rates,
                    "bound_gflops": bound, "bound_texts_per_s": bound * 1e9 / FLOPS_PER_TOKEN / (tokens / len(texts))}
    encoders, setup = {}, {}
    for runtime in ("numpy", "onnxruntime", "sentence-transformers"):
        t0 = time.perf_counter()
        encoders[runtime] = _encoder(runtime, threads, base)
        encoders[runtime](texts[:64])  # first-call set-up is not throughput
        setup[runtime] = time.perf_counter() - t0 + (loaded if runtime == "numpy" else 0.0)
    # Round robin, median of `repeat`: this VM's speed drifts by 20 % within minutes, and a drift
    # should not land on one runtime only.
    seconds: dict[str, list[float]] = {runtime: [] for runtime in encoders}
    for attempt in range(repeat):
        for runtime, encode in encoders.items():
            log(f"embedding {len(texts)} texts with {runtime} ({attempt + 1}/{repeat})")
            t0 = time.perf_counter()
            encode(texts)
            seconds[runtime].append(time.perf_counter() - t0)
    for runtime, times in seconds.items():
        median = statistics.median(times)
        gflops = tokens * FLOPS_PER_TOKEN / median / 1e9
        result[runtime] = {"texts_per_s": len(texts) / median, "gflops": gflops, "ratio_to_bound": gflops / bound,
                           "setup_s": setup[runtime]}
    return result


def _encoder(runtime: str, threads: int, base: NumpyMiniLM) -> Callable[[list[str]], np.ndarray]:
    """The runtime's own encode, whatever the batch size (the Embedder would keep a small
    batch on numpy when the runtime is onnxruntime)."""
    if runtime == "numpy":
        return lambda texts: base.encode(texts, workers=threads)
    if runtime == "onnxruntime":
        from ..embedding.onnx_minilm import OnnxMiniLM

        model = OnnxMiniLM(base)
        return lambda texts: model.encode(texts, workers=threads)
    return Embedder(runtime=runtime, workers=threads).load_documents().encode
