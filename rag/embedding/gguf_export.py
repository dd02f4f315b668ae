"""The packaged MiniLM as a GGUF file, so llama.cpp's server (or any GGUF engine) can embed
documents for `rag index --embed-url` with the same model that embeds questions here.

Written with the `gguf` library (llama.cpp's own writer and tensor-name table), from the
package's `model.safetensors` and `tokenizer.json`, the way llama.cpp's converter writes a BERT
model: WordPiece pieces in its "phantom space" form (a word start gets "▁", a "##" continuation
loses its marks), mean pooling, non-causal attention, every tensor in float32 (the file is
90 MB; vectors then differ from the local encoder's only by summation order).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

from ..errors import ModelError

GGUF_NAME = "all-MiniLM-L6-v2-f32.gguf"
# Not weights: the positions tensor is an index table, the pooler is for next-sentence tasks.
SKIPPED = ("embeddings.position_ids", "pooler.")


def _gguf():
    try:
        import gguf

        # It logs a warning for every special token it has no GGUF key for ([CLS] is written as BOS).
        logging.getLogger("gguf").setLevel(logging.ERROR)
    except ImportError:
        raise ModelError("writing the embedder as GGUF needs the gguf library: run `pip install 'rag[served]'`") from None
    return gguf


def _vocab(gguf, model_dir: Path) -> tuple[list[str], list[int]]:
    tokenizer = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    pieces = tokenizer["model"]["vocab"]
    special = {t["id"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    by_id = sorted(pieces.items(), key=lambda kv: kv[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ModelError(f"{model_dir / 'tokenizer.json'}: the vocabulary's ids are not 0..n-1")
    tokens, types = [], []
    for piece, i in by_id:
        if i in special:
            tokens.append(piece)
            types.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(piece[2:] if piece.startswith("##") else "\u2581" + piece)
            types.append(gguf.TokenType.NORMAL)
    return tokens, types


def write(model_dir: Path, out: Path) -> Path:
    """Write the BERT model in `model_dir` (config.json, model.safetensors, tokenizer.json) to
    `out`, through a temporary file: a reader never sees half a model."""
    gguf = _gguf()
    from safetensors.numpy import load_file

    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    layers = config["num_hidden_layers"]
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.BERT, layers)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".embedder-", suffix=".gguf")
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
        writer.add_name(model_dir.name)
        writer.add_context_length(config["max_position_embeddings"])
        writer.add_embedding_length(config["hidden_size"])
        writer.add_feed_forward_length(config["intermediate_size"])
        writer.add_block_count(layers)
        writer.add_head_count(config["num_attention_heads"])
        writer.add_layer_norm_eps(config["layer_norm_eps"])
        writer.add_causal_attention(False)
        writer.add_pooling_type(gguf.PoolingType.MEAN)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        tokens, types = _vocab(gguf, model_dir)
        writer.add_tokenizer_model("bert")
        writer.add_tokenizer_pre("default")
        writer.add_token_list(tokens)
        writer.add_token_types(types)
        writer.add_token_type_count(config.get("type_vocab_size", 1))
        gguf.SpecialVocab(model_dir, n_vocab=len(tokens)).add_to_gguf(writer)
        for name, tensor in load_file(str(model_dir / "model.safetensors")).items():
            if name.startswith(SKIPPED):
                continue
            mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
            if mapped is None:
                raise ModelError(f"{model_dir}: no GGUF name for tensor {name!r}: not a BERT model?")
            writer.add_tensor(mapped, tensor.astype("float32"))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out


def cached(model_dir: Path, directory: Path) -> Path:
    """The GGUF of `model_dir` under `directory`, written once (again when the weights change)."""
    stat = (model_dir / "model.safetensors").stat()
    out = directory / GGUF_NAME
    stamp = out.with_suffix(".source")
    key = f"{model_dir.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if out.is_file() and stamp.is_file() and stamp.read_text(encoding="utf-8") == key:
        return out
    write(model_dir, out)
    stamp.write_text(key, encoding="utf-8")
    return out
