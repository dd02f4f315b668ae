"""all-MiniLM-L6-v2 run by onnxruntime, for documents: the numpy encoder's graph, its weights and
its tokenizer, executed by ORT's kernels instead of numpy's. numpy spends a third of a layer on
elementwise passes (GELU alone was 18 %, each pass a trip through memory); ORT fuses bias+GELU
into one pass and the attention's transposed product into its GEMM, and runs its own GEMMs:
~1.4x the numpy encoder's sentences/s on two cores here (models.md).

The graph is written here, op for op the forward pass of rag/embedding/minilm.py, from that encoder's
already laid-out weights, and handed to ORT as bytes: no export step, no torch, no file to
cache or keep in step with the weights. Standard ONNX ops (opset 17) only, so ORT's own graph
optimiser finds the fusions. Questions stay on the numpy encoder, which is ready sooner.
"""

from __future__ import annotations

import itertools
from typing import Callable

import numpy as np

from .minilm import NumpyMiniLM, pool

OPSET = 17
IR_VERSION = 8  # the oldest IR that carries opset 17: older onnxruntime builds refuse newer ones


def build_graph(model: NumpyMiniLM) -> bytes:
    """A serialised ONNX model: (input_ids int64 [b, n], attention_mask float [b, n]) ->
    hidden states float [b, n, dim]. Pooling stays in numpy (rag.embedding.minilm.pool), shared."""
    from onnx import TensorProto, helper

    nodes, weights = [], []
    counter = itertools.count()

    def const(value) -> str:
        name = f"c{next(counter)}"
        array = np.asarray(value)  # astype copies into C order; ascontiguousarray would make a scalar 1-d
        array = array.astype(np.float32) if array.dtype.kind == "f" else array.astype(np.int64)
        weights.append((name, array))
        return name

    def op(kind: str, *inputs: str, **attrs) -> str:
        out = f"t{next(counter)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], **attrs))
        return out

    def linear(x: str, weight: np.ndarray, bias: np.ndarray) -> str:
        return op("Add", op("MatMul", x, const(weight)), const(bias))

    w, d, heads = model.w, model.dim, model.heads
    # Token type 0 for every token (as in minilm.py), folded into the position table: one add.
    positions = w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]
    n = op("Shape", "input_ids", start=1, end=2)
    x = op("Add", op("Gather", const(w["embeddings.word_embeddings.weight"]), "input_ids"),
           op("Slice", const(positions), const([0]), n, const([0])))
    x = op("LayerNormalization", x, const(w["embeddings.LayerNorm.weight"]), const(w["embeddings.LayerNorm.bias"]),
           axis=-1, epsilon=model.eps)
    # Padding gets no attention: (1 - mask) * -1e9 on every head's scores.
    blocked = op("Mul", op("Sub", const(np.float32(1.0)), op("Unsqueeze", "attention_mask", const([1, 2]))),
                 const(np.float32(-1e9)))
    scale = const(np.float32(1.0 / np.sqrt(d // heads)))
    for layer in model._layers:
        qkv = op("Transpose", op("Reshape", linear(x, layer["qkv"], layer["qkv_b"]), const([0, 0, 3, heads, d // heads])),
                 perm=[2, 0, 3, 1, 4])
        q, k, v = (op("Gather", qkv, const(np.int64(i)), axis=0) for i in range(3))
        scores = op("Add", op("Mul", op("MatMul", q, op("Transpose", k, perm=[0, 1, 3, 2])), scale), blocked)
        context = op("Reshape", op("Transpose", op("MatMul", op("Softmax", scores, axis=-1), v), perm=[0, 2, 1, 3]),
                     const([0, 0, d]))
        x = op("LayerNormalization", op("Add", linear(context, layer["out"], layer["out_b"]), x),
               const(layer["ln1_w"]), const(layer["ln1_b"]), axis=-1, epsilon=model.eps)
        inner = linear(x, layer["up"], layer["up_b"])
        # GELU, exact erf form, in the shape ORT's optimiser fuses with the bias above.
        gelu = op("Mul", op("Mul", inner, op("Add", op("Erf", op("Div", inner, const(np.float32(np.sqrt(2.0))))),
                                              const(np.float32(1.0)))), const(np.float32(0.5)))
        x = op("LayerNormalization", op("Add", linear(gelu, layer["down"], layer["down_b"]), x),
               const(layer["ln2_w"]), const(layer["ln2_b"]), axis=-1, epsilon=model.eps)
    nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(
        nodes, "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.FLOAT, ["batch", "tokens"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", d])])
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    # Weights written straight into the model's own message: through make_graph/make_model each
    # of the 90 MB would be copied three more times (0.45 s of a 1 s build).
    for name, array in weights:
        tensor = onnx_model.graph.initializer.add()
        tensor.name = name
        tensor.data_type = TensorProto.FLOAT if array.dtype == np.float32 else TensorProto.INT64
        tensor.dims.extend(array.shape)
        tensor.raw_data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return onnx_model.SerializeToString()


class OnnxMiniLM:
    """Documents through onnxruntime, batched and threaded exactly as the numpy encoder does it
    (NumpyMiniLM.encode with this forward pass): one single-threaded ORT session run per batch,
    `workers` batches at a time, so the two runtimes differ only in who does the arithmetic.
    Batches of ~1024 tokens: 150 sentences/s here against 130 at 2048 and 100 at 4096 (numpy's
    own best, 512, gave it 110)."""

    def __init__(self, base: NumpyMiniLM):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # the parallelism is NumpyMiniLM.encode's worker threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # errors only: its warnings are about graph rewrites
        self.base = base
        self.session = ort.InferenceSession(build_graph(base), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], *, batch_tokens: int = 1024, workers: int = 1,
               progress: Callable[[int], None] | None = None) -> np.ndarray:
        return self.base.encode(texts, batch_tokens=batch_tokens, workers=workers, progress=progress,
                                forward=self._forward)

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return pool(hidden, mask)
