"""KV states of prompt prefixes, kept on disk between processes.

Two prefixes recur from process to process. Every answer prompt starts with the same few-shot
examples: evaluating them costs ~1.5 s of a cold `rag ask` here (256 tokens at ~165 tok/s on
two cores). And reranking scores each candidate sentence after its own prompt head
("Passage: <sentence> ..."): ~0.25 s per sentence the first time, which a cold process pays
for every candidate. Both give the same KV values every time, so the first process saves them
and later ones read them back in milliseconds.

A file's name is a hash of everything its state depends on: the model file (path, size,
modification time), whether its weights were repacked, llama-cpp-python's version, a caller's
context tag and the prefix's tokens.
A missing, stale or unreadable file is only a miss: the prefix is evaluated as before.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from pathlib import Path


def state_path(directory: Path, llm, context: object, tokens: list[int]) -> Path:
    """Where the state of `tokens` under the llama_cpp.Llama `llm` is kept; `context` names what
    else shapes it (the context size, the reranker's layout)."""
    import llama_cpp

    model = Path(llm.model_path)
    stat = model.stat()
    # Repacked weights go through other kernels: the same prefix, other rounding.
    repacked = bool(llm.model_params.use_extra_bufts)
    key = hashlib.sha256()
    key.update(f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{llama_cpp.__version__}|{repacked}|{context}|"
               .encode())
    key.update(",".join(map(str, tokens)).encode())
    return directory / f"{key.hexdigest()[:32]}.kv"


def read(ctx, path: Path, seq: int, tokens: list[int]) -> bool:
    """Load the saved state into sequence `seq` of the llama.cpp context `ctx` (a raw
    llama_context pointer); True only when it holds exactly `tokens`. On a miss `seq` is empty."""
    import llama_cpp

    if not path.is_file():
        return False
    read_ids = (llama_cpp.llama_token * len(tokens))()
    count = ctypes.c_size_t(0)
    size = llama_cpp.llama_state_seq_load_file(ctx, str(path).encode(), seq, read_ids, len(tokens),
                                               ctypes.byref(count))
    if not size or count.value != len(tokens) or list(read_ids) != tokens:
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(ctx), seq, -1, -1)
        return False
    return True


def write(ctx, path: Path, seq: int, tokens: list[int]) -> None:
    """Save sequence `seq` (which must hold exactly `tokens`) via a temporary file, so a reader
    never sees half of one. Failing to write only costs the next process its shortcut."""
    import llama_cpp

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".kv")
        os.close(fd)
        ids = (llama_cpp.llama_token * len(tokens))(*tokens)
        if llama_cpp.llama_state_seq_save_file(ctx, tmp.encode(), seq, ids, len(tokens)):
            os.replace(tmp, path)
        else:
            os.unlink(tmp)
    except OSError:
        pass


def prune(directory: Path, limit_bytes: int) -> None:
    """Delete the least recently written states until the folder holds at most `limit_bytes`."""
    try:
        files = [(f.stat().st_mtime, f.stat().st_size, f) for f in directory.glob("*.kv")]
    except OSError:
        return
    total = sum(size for _, size, _ in files)
    for _, size, f in sorted(files, key=lambda t: t[0]):
        if total <= limit_bytes:
            return
        try:
            f.unlink()
            total -= size
        except OSError:
            pass


def restore(llm, path: Path, tokens: list[int]) -> bool:
    """Load a saved few-shot prefix into sequence 0 of a llama_cpp.Llama `llm`."""
    llm.reset()
    llm._ctx.kv_cache_clear()
    if not read(llm._ctx.ctx, path, 0, tokens):
        return False
    # llama-cpp-python reuses the longest cached token prefix of the next prompt: tell it what
    # the context now holds, and that no logits are live (the next decode makes them).
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)
    llm._requires_eval = True
    return True


def save(llm, path: Path, tokens: list[int]) -> None:
    """Write sequence 0 of `llm`, which must hold exactly the prefix `tokens`."""
    write(llm._ctx.ctx, path, 0, tokens)
